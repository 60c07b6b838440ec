/* SPDX-License-Identifier: MIT */
/*
 * Differential test: the host Linux kernel is the oracle for the signal-frame
 * code in core/signal.c.
 *
 *   difftest [N] [SEED]      N mutated frames (default 10000), SEED (default 1)
 *
 * Part 1, frame bytes. For several register contents the host kernel writes
 * a signal frame (XRSTOR an image, raise SIGUSR1 with a raw syscall, the
 * handler copies uc_mcontext.fpregs), and fpu_signal_save() writes one from
 * the same registers. The two must be byte-identical wherever either side
 * defines the bytes (see compare_frames() for what is not compared and why).
 *
 * Part 2, sigreturn verdicts. Starting from a host-written frame, mutated
 * frames are handed to the host kernel (a forked child's SIGUSR1 handler
 * copies the frame over its own and returns; the kernel's rt_sigreturn
 * accepts it, or kills the child with SIGSEGV) and to fpu_signal_restore()
 * in this process; some are handed over misaligned (the child's handler
 * points uc_mcontext.fpregs at a moved copy). Verdicts must agree; for
 * accepted frames the resulting registers (saved with XSAVE straight after
 * the restore) must be equal once components reported in init state are
 * given their init values.
 *
 * Registers hold test state between an XRSTOR and the XSAVE that follows
 * it. Nothing in between may use SIMD (glibc's memcpy/memset use ZMM16-31
 * and VZEROUPPER): such sequences are inline asm or live in REGSAFE
 * functions (general-regs-only, not sanitizer-instrumented), and the
 * library they call is built -mgeneral-regs-only. The port functions the
 * library calls back are REGSAFE and copy with REP MOVSB.
 *
 * Last line: "P passed, F failed" (cases: the setup check, one per Part 1
 * state, one per targeted and per random frame). Exit 0 only if all agreed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "../sim/oracle/oracle.h"
#include "../sim/machine/machine.h"
#include "harness.h"
#include "fpuctx/api.h"
#include "fpuctx/extable.h"
#include "fpuctx/insn.h"
#include "fpuctx/sched.h"
#include "fpuctx/signal.h"

#define AVX512_MASK (FPU_XFEATURE_MASK(FPU_XFEATURE_OPMASK) | FPU_XFEATURE_MASK(FPU_XFEATURE_ZMM_HI256) | \
		     FPU_XFEATURE_MASK(FPU_XFEATURE_HI16_ZMM))

#define FRAME_MAX (64 * 1024)     /* frame / image buffers */

static unsigned passed, failed;

/* ------------------------------------------------------------------------
 * Little helpers
 * ---------------------------------------------------------------------- */


static uint64_t next_random(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static double now_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ------------------------------------------------------------------------
 * The library instance and its port
 * ---------------------------------------------------------------------- */

static struct fpu_system sys;
static struct fpu_cpu cpu;
static struct fpu_ctx ctx;
static struct fpu_state st, init_st;
static unsigned port_warns;

static REGSAFE void port_warn(void *p, int c, const char *what) { (void)p; (void)c; (void)what; port_warns++; }

static REGSAFE int port_copy_to_user(void *p, uintptr_t dst, const void *src, uint32_t len)
{
	(void)p;
	rep_movsb((void *)dst, src, len);
	return 0;
}

static REGSAFE int port_copy_from_user(void *p, void *dst, uintptr_t src, uint32_t len)
{
	(void)p;
	rep_movsb(dst, (const void *)src, len);
	return 0;
}

static REGSAFE struct fpu_cpu *port_current_cpu(void *p)
{
	(void)p;
	return &cpu;
}

static REGSAFE int port_fault_in(void *p, uintptr_t addr, uint32_t len, bool write)
{
	(void)p; (void)addr; (void)len; (void)write;
	return 0;
}

static const struct fpu_port_ops port_ops = {
	.lock = harness_port_lock,
	.unlock = harness_port_unlock,
	.context = harness_port_context,
	.trace = NULL,
	.warn = port_warn,
	.copy_to_user = port_copy_to_user,
	.copy_from_user = port_copy_from_user,
	.current_cpu = port_current_cpu,
	.fault_in = port_fault_in,
};

/* ------------------------------------------------------------------------
 * Images
 * ---------------------------------------------------------------------- */

static struct fpu_xstate_info pat_xs; /* the layouts the patterns use */
static struct oracle orc = { .xs = &pat_xs };
static uint64_t umask;            /* user features: the host frame's xfeatures */
static uint32_t usize;            /* the host frame's xstate_size */
static uint32_t flen;             /* frame bytes: usize + 4 (MAGIC2) */
static uint32_t isize;            /* standard-format XSAVE image size for umask */

static uint8_t clean_img[FRAME_MAX] __attribute__((aligned(64)));  /* init, sane FCW/MXCSR */
static uint8_t pre_img[FRAME_MAX] __attribute__((aligned(64)));    /* before each sigreturn */
static uint8_t ref_img[FRAME_MAX] __attribute__((aligned(64)));    /* pattern 1 as XSAVE reads it back */

/* ------------------------------------------------------------------------
 * Host frames: SIGUSR1 raised with a raw syscall while the registers hold
 * test state; the handler copies (capture) or replaces (overwrite) the frame.
 * ---------------------------------------------------------------------- */

enum { MODE_CAPTURE, MODE_OVERWRITE };
static volatile int sig_mode = MODE_CAPTURE;
static uint8_t host_frame[FRAME_MAX] __attribute__((aligned(64)));
static volatile uint32_t host_frame_len;
static volatile uintptr_t host_frame_addr;
static uint8_t mut[FRAME_MAX] __attribute__((aligned(64)));   /* the frame the child installs */
/* Where the frame is handed to sigreturn: its own place (0), or a copy at
 * this offset from a 64-byte boundary, the child's handler pointing
 * uc_mcontext.fpregs at it (Linux takes the pointer as it is). */
static uint32_t shift;
static uint8_t moved_frame[FRAME_MAX] __attribute__((aligned(64)));

/* Shared with the forked child: it XSAVEs here right after its sigreturn. */
struct shared {
	uint8_t img[FRAME_MAX];
	volatile uint32_t done;
	volatile uint32_t frame_xsize;  /* xstate_size of the frame the kernel wrote in the child */
	volatile uint64_t frame_xfeat;
};
static struct shared *shm;

static void on_usr1(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;
	uint8_t *fp = (uint8_t *)uc->uc_mcontext.fpregs;
	uint32_t magic1, ext, len;

	(void)sig;
	(void)si;
	if (!fp)
		return;
	if (sig_mode == MODE_OVERWRITE) {
		rep_movsb((void *)&shm->frame_xsize, fp + SW_XSIZE, 4);
		rep_movsb((void *)&shm->frame_xfeat, fp + SW_XFEAT, 8);
		if (shift) {
			fp = moved_frame + shift;
			uc->uc_mcontext.fpregs = (fpregset_t)(void *)fp;
		}
		rep_movsb(fp, mut, flen);
		return;
	}
	rep_movsb(&magic1, fp + SW_MAGIC1, 4);
	rep_movsb(&ext, fp + SW_EXTSIZE, 4);
	len = magic1 == FPU_FP_XSTATE_MAGIC1 ? ext : FPU_FXSAVE_SIZE;
	if (len > FRAME_MAX)
		len = FRAME_MAX;
	host_frame_addr = (uintptr_t)fp;
	rep_movsb(host_frame, fp, len);
	host_frame_len = len;
}

struct raise_args {
	const void *pre;   /*  0 */
	void *out;         /*  8: NULL: no XSAVE after the signal */
	uint64_t mask;     /* 16 */
	long pid, tid;     /* 24, 32 */
	const void *clean; /* 40 */
};

/* XRSTOR pre; tgkill(pid, tid, SIGUSR1) by raw syscall (the signal is
 * delivered, and the frame sigreturned, before the syscall returns); XSAVE
 * into out; XRSTOR clean. One asm block: no compiled code in between. */
static inline __attribute__((always_inline)) void raise_usr1(const struct raise_args *a)
{
	__asm__ volatile("mov 16(%%rbx), %%eax\n\t"
			 "mov 20(%%rbx), %%edx\n\t"
			 "mov 0(%%rbx), %%rcx\n\t"
			 "xrstor64 (%%rcx)\n\t"
			 "mov 24(%%rbx), %%rdi\n\t"
			 "mov 32(%%rbx), %%rsi\n\t"
			 "mov %[sig], %%edx\n\t"
			 "mov %[nr], %%eax\n\t"
			 "syscall\n\t"
			 "mov 16(%%rbx), %%eax\n\t"
			 "mov 20(%%rbx), %%edx\n\t"
			 "mov 8(%%rbx), %%rcx\n\t"
			 "test %%rcx, %%rcx\n\t"
			 "jz 1f\n\t"
			 "xsave64 (%%rcx)\n"
			 "1:\n\t"
			 "mov 40(%%rbx), %%rcx\n\t"
			 "xrstor64 (%%rcx)\n\t"
			 :
			 : "b"(a), [sig] "i"(SIGUSR1), [nr] "i"(SYS_tgkill)
			 : "rax", "rcx", "rdx", "rdi", "rsi", "r11", "memory", "cc");
}

/* Host frame of `img` into host_frame. */
static void host_capture(const uint8_t *img)
{
	struct raise_args a = { img, NULL, umask, getpid(), syscall(SYS_gettid), clean_img };

	sig_mode = MODE_CAPTURE;
	host_frame_len = 0;
	raise_usr1(&a);
}

/* The library's frame of `img` into buf. */
static REGSAFE int lib_save(const uint8_t *img, uint8_t *buf, uint64_t mask)
{
	int r;

	fpu_xrstor(img, mask);
	r = fpu_signal_save(&sys, &ctx, (uintptr_t)buf);
	fpu_xrstor(clean_img, mask);
	return r;
}

/* The library's sigreturn from frame, starting from pre; the registers after it into out. */
static REGSAFE enum fpu_sigreturn lib_restore(const uint8_t *pre, const uint8_t *frame,
					      uint8_t *out, uint64_t mask)
{
	enum fpu_sigreturn r;

	fpu_xrstor(pre, mask);
	r = fpu_signal_restore(&sys, &ctx, (uintptr_t)frame);
	fpu_xsave(out, mask);
	fpu_xrstor(clean_img, mask);
	return r;
}

static REGSAFE void load_and_save(const uint8_t *img, uint8_t *out, uint64_t mask)
{
	fpu_xrstor(img, mask);
	fpu_xsave(out, mask);
	fpu_xrstor(clean_img, mask);
}

/* ------------------------------------------------------------------------
 * Field names
 * ---------------------------------------------------------------------- */

static const char *field_name(uint32_t off, char *buf, size_t len)
{
	unsigned f;

	if (off < 2) return "FCW";
	if (off < 4) return "FSW";
	if (off == 4) return "FTW";
	if (off == 5) return "legacy reserved (byte 5)";
	if (off < 8) return "FOP";
	if (off < 16) return "FIP";
	if (off < 24) return "FDP";
	if (off < 28) return "MXCSR";
	if (off < 32) return "MXCSR_MASK";
	if (off < FPU_FXSAVE_XMM) {
		snprintf(buf, len, "ST%u%s", (off - FPU_FXSAVE_ST) / 16,
			 (off - FPU_FXSAVE_ST) % 16 >= 10 ? " (reserved bytes)" : "");
		return buf;
	}
	if (off < 416) {
		snprintf(buf, len, "XMM%u", (off - FPU_FXSAVE_XMM) / 16);
		return buf;
	}
	if (off < SW_MAGIC1) return "legacy reserved (416-463)";
	if (off < SW_EXTSIZE) return "sw_reserved.magic1";
	if (off < SW_XFEAT) return "sw_reserved.extended_size";
	if (off < SW_XSIZE) return "sw_reserved.xfeatures";
	if (off < SW_XSIZE + 4) return "sw_reserved.xstate_size";
	if (off < FPU_XSAVE_HDR_OFFSET) return "sw_reserved.padding";
	if (off < HDR_COMP) return "XSTATE_BV";
	if (off < HDR_COMP + 8) return "XCOMP_BV";
	if (off < FPU_XSAVE_EXT_OFFSET) {
		snprintf(buf, len, "header reserved word %u (bytes %u-%u)", (off - FPU_XSAVE_HDR_OFFSET) / 8,
			 (off - FPU_XSAVE_HDR_OFFSET) & ~7u, ((off - FPU_XSAVE_HDR_OFFSET) & ~7u) + 7);
		return buf;
	}
	for (f = 2; f < FPU_XFEATURE_MAX; f++)
		if ((sys.xs.xcr0 & FPU_XFEATURE_MASK(f)) && sys.xs.size[f] && off >= sys.xs.offset[f] &&
		    off < sys.xs.offset[f] + sys.xs.size[f]) {
			snprintf(buf, len, "%s+0x%x", fpu_xfeature_name(f), off - sys.xs.offset[f]);
			return buf;
		}
	if (usize && off >= usize && off < usize + 4)
		return "MAGIC2";
	return "gap between components";
}

static void hex(char *out, const uint8_t *p, uint32_t n)
{
	uint32_t i;

	for (i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", p[i]);
	out[2 * n] = 0;
}

/* Prints the differing byte ranges of a and b within [off, off+len);
 * returns the number of differing bytes. *shown limits the lines printed. */
static uint32_t diff_span(const char *what, const char *an, const uint8_t *a, const char *bn,
			  const uint8_t *b, uint32_t off, uint32_t len, unsigned *shown)
{
	uint32_t o = off, end = off + len, ndiff = 0;
	char name[96], ha[40], hb[40];

	while (o < end) {
		uint32_t s, e, n;

		if (a[o] == b[o]) {
			o++;
			continue;
		}
		s = o;
		while (o < end && a[o] != b[o])
			o++;
		e = o;
		ndiff += e - s;
		if (*shown >= 12)
			continue;
		(*shown)++;
		n = e - s > 16 ? 16 : e - s;
		hex(ha, a + s, n);
		hex(hb, b + s, n);
		printf("    %s: offset %u-%u (0x%x) %s: %s %s%s, %s %s%s\n", what, s, e - 1, s,
		       field_name(s, name, sizeof(name)), an, ha, e - s > 16 ? "..." : "", bn, hb,
		       e - s > 16 ? "..." : "");
	}
	return ndiff;
}

static void hexdump(const uint8_t *p, uint32_t off, uint32_t len)
{
	uint32_t i, j;

	for (i = off; i < off + len; i += 16) {
		printf("      %04x:", i);
		for (j = i; j < i + 16 && j < off + len; j++)
			printf("%s%02x", (j % 8) ? " " : "  ", p[j]);
		printf("\n");
	}
}

/* ------------------------------------------------------------------------
 * Part 1: frame bytes
 * ---------------------------------------------------------------------- */

static uint8_t lib_frame[FRAME_MAX] __attribute__((aligned(64)));
static uint8_t host_copy[FRAME_MAX] __attribute__((aligned(64)));
static uint8_t base_frame[FRAME_MAX] __attribute__((aligned(64)));  /* Part 2's starting frame */

#define JUNK 0xa7

/*
 * What is compared:
 *   bytes 0-415    the legacy area as XSAVE writes it (the reserved bytes 10-15
 *                  of each ST slot included: XSAVE writes them)
 *   bytes 464-511  sw_reserved: the 48 bytes of struct fpu_sw_bytes, exactly
 *   bytes 512-575  the XSAVE header: XCOMP_BV and reserved exactly; XSTATE_BV
 *                  bit for bit, except where the side with a bit set holds
 *                  the component's init value (a set bit means "maybe not
 *                  init"; Linux 6.13+ always sets PKRU's)
 *   each component whose XSTATE_BV bit is set in both frames (PKRU: the
 *   4 bytes of state, not the 4 of padding XSAVE never writes)
 *   MAGIC2 at xstate_size
 * What is not, and why:
 *   bytes 416-463, reserved in the legacy area: XSAVE does not write them and
 *   neither Linux nor fpuctx clears them, so the host frame holds stale stack
 *   bytes. Checked instead: fpuctx's frame still holds the junk fill there
 *   (nobody wrote them), which is exactly what Linux does.
 *   components whose XSTATE_BV bit is clear: XSAVE need not write a
 *   component in init state (and the AMX tiles are left out of the XSAVE mask
 *   entirely when not in use), so both frames hold whatever the memory held
 *   before: the host's stack garbage vs our junk byte. A reader must take
 *   them as init; sigreturn does.
 *   gaps between components (offsets of features XCR0 does not enable): never
 *   written by anyone.
 */
/* The bytes of extended component f that hold state: PKRU's second word is
 * padding that XSAVE never writes. */
static uint32_t state_bytes(unsigned f)
{
	return f == FPU_XFEATURE_PKRU ? 4 : sys.xs.size[f];
}

static bool component_is_init(const uint8_t *img, unsigned f)
{
	uint32_t i;

	for (i = 0; i < state_bytes(f); i++)
		if (img[sys.xs.offset[f] + i])
			return false;
	return true;
}

/* XSTATE_BV may differ where the side that set a bit holds the component's
 * init value: a set bit only says "maybe not init" (the SDM allows it, and
 * Linux 6.13+ always sets PKRU's bit in a signal frame). Returns the number
 * of bits that differ otherwise. */
static uint32_t diff_bv(const uint8_t *host, const uint8_t *lib, uint64_t hbv, uint64_t lbv)
{
	uint64_t d = hbv ^ lbv;
	uint32_t nd = 0;
	unsigned f;

	for (f = 0; f < 64; f++) {
		if (!(d & (1ull << f)))
			continue;
		if (f >= 2 && f < FPU_XFEATURE_MAX && (umask & FPU_XFEATURE_MASK(f)) &&
		    component_is_init((hbv & FPU_XFEATURE_MASK(f)) ? host : lib, f))
			continue;
		printf("    frame: XSTATE_BV bit %u (%s): host %u, fpuctx %u, and the set side is not init\n",
		       f, f < FPU_XFEATURE_MAX ? fpu_xfeature_name(f) : "?", (unsigned)(hbv >> f) & 1,
		       (unsigned)(lbv >> f) & 1);
		nd++;
	}
	return nd;
}

static bool compare_frames(const char *name, const uint8_t *host, const uint8_t *lib)
{
	uint64_t hbv = get64(host + HDR_BV), lbv = get64(lib + HDR_BV);
	unsigned shown = 0, f;
	uint32_t nd = 0, compared = 0;

	uint32_t i, written = 0;

	nd += diff_span("frame", "host", host, "fpuctx", lib, 0, 416, &shown);
	for (i = 416; i < FPU_FXSAVE_SW_RESERVED; i++)
		written += lib[i] != JUNK;
	if (written) {
		printf("    frame: fpuctx wrote %u of the reserved bytes 416-463, which Linux leaves alone\n", written);
		nd += written;
	}
	nd += diff_span("frame", "host", host, "fpuctx", lib, FPU_FXSAVE_SW_RESERVED, 48, &shown);
	nd += diff_bv(host, lib, hbv, lbv);
	nd += diff_span("frame", "host", host, "fpuctx", lib, HDR_COMP, FPU_XSAVE_HDR_SIZE - 8, &shown);
	compared = FPU_XSAVE_EXT_OFFSET;
	for (f = 2; f < FPU_XFEATURE_MAX; f++) {
		if (!(umask & FPU_XFEATURE_MASK(f)) || !(hbv & lbv & FPU_XFEATURE_MASK(f)))
			continue;
		nd += diff_span("frame", "host", host, "fpuctx", lib, sys.xs.offset[f], state_bytes(f),
				&shown);
		compared += state_bytes(f);
	}
	nd += diff_span("frame", "host", host, "fpuctx", lib, usize, 4, &shown);
	compared += 4;
	printf("  %-44s %s: %u bytes compared, XSTATE_BV host 0x%llx fpuctx 0x%llx\n", name,
	       nd ? "DIFFERS" : "same", compared, (unsigned long long)hbv, (unsigned long long)lbv);
	return nd == 0;
}

static void part1_case(const char *name, const uint8_t *img, bool keep_as_base)
{
	bool ok = true;
	int r;

	host_capture(img);
	if (host_frame_len != flen) {
		printf("  %-44s FAIL: host frame of %u bytes, expected %u\n", name, host_frame_len, flen);
		failed++;
		return;
	}
	if (host_frame_addr % 64) {
		printf("  %-44s FAIL: host frame FP area at %#lx is not 64-byte aligned\n", name,
		       (unsigned long)host_frame_addr);
		ok = false;
	}
	memcpy(host_copy, host_frame, flen);
	memset(lib_frame, JUNK, sizeof(lib_frame));
	ctx.flags &= ~FPU_CTX_NEED_LOAD; /* the registers are the task's */
	r = lib_save(img, lib_frame, umask);
	if (r) {
		printf("  %-44s FAIL: fpu_signal_save returned %d\n", name, r);
		ok = false;
	} else if (!compare_frames(name, host_copy, lib_frame)) {
		ok = false;
	}
	if (keep_as_base)
		memcpy(base_frame, host_copy, flen);
	if (ok)
		passed++;
	else
		failed++;
}

static void part1(void)
{
	static uint8_t img[FRAME_MAX] __attribute__((aligned(64)));

	printf("part 1: frame bytes, host kernel vs fpu_signal_save (host FP area at %#lx, %s)\n",
	       (unsigned long)host_frame_addr, host_frame_addr % 64 ? "NOT 64-byte aligned" : "64-byte aligned");
	pattern_build(&orc, img, 1, 1, umask);
	part1_case("pattern owner 1 (every component dirty)", img, true);
	pattern_build(&orc, img, 2, 2, umask);
	part1_case("pattern owner 2", img, false);
	pattern_build(&orc, img, 3, 3, umask);
	part1_case("pattern owner 3", img, false);
	pattern_build(&orc, img, OWNER_INIT, 0, umask);
	part1_case("init state", img, false);
	pattern_build(&orc, img, 5, 5, umask);
	put64(img + HDR_BV, get64(img + HDR_BV) & ~AMX_MASK);
	part1_case("pattern owner 5, AMX tiles in init state", img, false);
	pattern_build(&orc, img, 6, 6, FPU_XFEATURE_MASK_FPSSE);
	part1_case("pattern owner 6, only x87/SSE dirty", img, false);
	printf("  documented differences, not compared:\n"
	       "   - legacy reserved bytes 416-463: XSAVE does not write them, neither kernel clears them\n"
	       "     (host: stale stack bytes; fpuctx: checked to still hold the junk fill)\n"
	       "   - components whose XSTATE_BV bit is clear, and gaps between components: not written\n"
	       "     by either side (init components / AMX tiles not in use are left out of the save);\n"
	       "     sigreturn reads them as init\n");
}

/* ------------------------------------------------------------------------
 * Part 2: sigreturn verdicts
 * ---------------------------------------------------------------------- */

enum mkind {
	MK_MAGIC1, MK_MAGIC2, MK_XSTATE_SIZE, MK_EXT_SIZE, MK_SW_XFEAT, MK_XSTATE_BV,
	MK_XCOMP_BV, MK_HDR_RSVD, MK_MXCSR, MK_FCW, MK_FTW, MK_X87ENV, MK_ST, MK_XMM,
	MK_COMPONENT, MK_RSVD, MK_MISALIGN, MK__N, MK_TARGETED = MK__N
};

static const char *const mk_names[MK__N + 1] = {
	"magic1", "magic2", "xstate_size", "extended_size", "sw.xfeatures", "xstate_bv",
	"xcomp_bv", "hdr_reserved", "mxcsr", "fcw", "ftw", "x87_env", "st_regs", "xmm",
	"component", "legacy/sw reserved", "misaligned", "targeted",
};

enum hv { HOST_ACCEPTED, HOST_REJECTED, HOST_ERROR };
static const char *const hv_names[] = { "accepted", "rejected (SIGSEGV)", "error" };

struct kstat {
	unsigned frames, host_acc, host_rej, host_err, lib_ok, lib_fx, lib_rej, lib_refused, disagree;
};
static struct kstat kstats[MK__N + 1];

#define MAX_CLASSES 64
struct dclass {
	char key[320];
	unsigned count;
	long first;
	char desc[256];
	unsigned by_kind[MK__N + 1];  /* frames of this class that had each mutation kind */
	unsigned single[MK__N + 1];   /* ... and had only that kind */
};
static struct dclass classes[MAX_CLASSES];
static unsigned nclasses, dumps;

static void add_class(const char *key, long idx, const char *desc, unsigned kinds)
{
	struct dclass *c = NULL;
	unsigned i;

	for (i = 0; i < nclasses; i++)
		if (!strcmp(classes[i].key, key))
			c = &classes[i];
	if (!c) {
		if (nclasses == MAX_CLASSES)
			return;
		c = &classes[nclasses++];
		snprintf(c->key, sizeof(c->key), "%s", key);
		snprintf(c->desc, sizeof(c->desc), "%s", desc);
		c->first = idx;
	}
	c->count++;
	for (i = 0; i <= MK__N; i++)
		if (kinds & (1u << i)) {
			c->by_kind[i]++;
			if (kinds == (1u << i))
				c->single[i]++;
		}
}

/* Components reported in init state get their init values. MXCSR is always
 * kept: XRSTOR loads it whenever SSE or AVX is requested. */
static void normalize(uint8_t *img)
{
	uint64_t bv = get64(img + HDR_BV);
	unsigned f;

	if (!(bv & FPU_XFEATURE_MASK(FPU_XFEATURE_X87))) {
		memset(img, 0, FPU_FXSAVE_MXCSR);
		put16(img + FPU_FXSAVE_FCW, FPU_FCW_DEFAULT);
		memset(img + FPU_FXSAVE_ST, 0, FPU_FXSAVE_XMM - FPU_FXSAVE_ST);
	}
	if (!(bv & FPU_XFEATURE_MASK(FPU_XFEATURE_SSE)))
		memset(img + FPU_FXSAVE_XMM, 0, 256);
	for (f = 2; f < FPU_XFEATURE_MAX; f++)
		if ((umask & FPU_XFEATURE_MASK(f)) && !(bv & FPU_XFEATURE_MASK(f)))
			memset(img + sys.xs.offset[f], 0, sys.xs.size[f]);
}

/* Architectural bytes of two normalized images; prints differences and
 * returns the number of differing bytes. sig (if not NULL) gets the list of
 * registers that differ: x87 (FCW..FDP, ST0-7), MXCSR, xmm, then components. */
static uint32_t diff_images(const char *an, const uint8_t *a, const char *bn, const uint8_t *b,
			    char *sig, size_t sig_len)
{
	unsigned shown = 0, i, f;
	uint32_t nd = 0, r;

	if (sig)
		sig[0] = 0;
#define REGION(name, expr)                                                                  \
	do {                                                                                \
		r = (expr);                                                                 \
		nd += r;                                                                    \
		if (r && sig)                                                               \
			snprintf(sig + strlen(sig), sig_len - strlen(sig), "%s%s", sig[0] ? "," : "", name); \
	} while (0)
	r = diff_span("regs", an, a, bn, b, 0, 24, &shown);
	for (i = 0; i < 8; i++)
		r += diff_span("regs", an, a, bn, b, FPU_FXSAVE_ST + 16 * i, 10, &shown);
	REGION("x87", r);
	REGION("MXCSR", diff_span("regs", an, a, bn, b, FPU_FXSAVE_MXCSR, 4, &shown));
	REGION("xmm", diff_span("regs", an, a, bn, b, FPU_FXSAVE_XMM, 256, &shown));
	for (f = 2; f < FPU_XFEATURE_MAX; f++)
		if (umask & FPU_XFEATURE_MASK(f))
			REGION(fpu_xfeature_name(f), diff_span("regs", an, a, bn, b, sys.xs.offset[f],
							       state_bytes(f), &shown));
#undef REGION
	return nd;
}

/* Same, silently. */
static bool images_equal(const uint8_t *a, const uint8_t *b)
{
	unsigned i, f;

	if (memcmp(a, b, 28))
		return false;
	for (i = 0; i < 8; i++)
		if (memcmp(a + FPU_FXSAVE_ST + 16 * i, b + FPU_FXSAVE_ST + 16 * i, 10))
			return false;
	if (memcmp(a + FPU_FXSAVE_XMM, b + FPU_FXSAVE_XMM, 256))
		return false;
	for (f = 2; f < FPU_XFEATURE_MAX; f++)
		if ((umask & FPU_XFEATURE_MASK(f)) && memcmp(a + sys.xs.offset[f], b + sys.xs.offset[f], state_bytes(f)))
			return false;
	return true;
}

static uint8_t lib_buf[FRAME_MAX] __attribute__((aligned(64)));
static uint8_t lib_img[FRAME_MAX] __attribute__((aligned(64)));
static uint8_t host_img[FRAME_MAX] __attribute__((aligned(64)));

struct outcome {
	enum hv host;
	enum fpu_sigreturn lib;
	int status;
};

static void child_main(void)
{
	struct sigaction sa;
	struct raise_args a;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigaction(SIGSEGV, &sa, NULL); /* a rejected frame must kill, not hit on_fault */
	sig_mode = MODE_OVERWRITE;
	a.pre = pre_img;
	a.out = shm->img;
	a.mask = umask;
	a.pid = getpid();
	a.tid = syscall(SYS_gettid);
	a.clean = clean_img;
	raise_usr1(&a);
	shm->done = 1;
	_exit(0);
}

/* Both verdicts on mut[]; images into host_img / lib_img. */
static struct outcome run_frame(void)
{
	struct outcome o;
	pid_t pid, w;
	int status = 0;

	keep_key0_open(&sys.xs, umask & FPU_XFEATURE_MASK(FPU_XFEATURE_PKRU), mut, flen); /* both sides would die */

	shm->done = 0;
	shm->frame_xsize = 0;
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		perror("fork");
		exit(2);
	}
	if (pid == 0)
		child_main();
	memcpy(lib_buf + shift, mut, flen); /* flen <= FRAME_MAX - 64 (setup) */
	o.lib = lib_restore(pre_img, lib_buf + shift, lib_img, umask);
	do
		w = waitpid(pid, &status, 0);
	while (w < 0 && errno == EINTR);
	o.status = status;
	if (shm->frame_xsize != usize)
		o.host = HOST_ERROR; /* the child's frame was not the size the mutated one assumes */
	else if (w == pid && WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV)
		o.host = HOST_REJECTED;
	else if (w == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0 && shm->done)
		o.host = HOST_ACCEPTED;
	else
		o.host = HOST_ERROR;
	if (o.host == HOST_ACCEPTED)
		memcpy(host_img, shm->img, isize);
	return o;
}

/* Runs mut[] through both sides and judges. Returns true if they agree. */
static bool judge(long idx, const char *desc, unsigned kinds, bool verbose_dump, struct outcome *res)
{
	struct outcome o = run_frame();
	bool lacc = fpu_sigreturn_ok(o.lib), agree, state_ok = true;
	char sig[160] = "", key[320];
	unsigned i;

	for (i = 0; i <= MK__N; i++) {
		struct kstat *s = &kstats[i];

		if (!(kinds & (1u << i)))
			continue;
		s->frames++;
		if (o.host == HOST_ACCEPTED) s->host_acc++;
		else if (o.host == HOST_REJECTED) s->host_rej++;
		else s->host_err++;
		if (o.lib == FPU_SIGRETURN_OK) s->lib_ok++;
		else if (o.lib == FPU_SIGRETURN_OK_FX_ONLY) s->lib_fx++;
		else s->lib_rej++;
		if (o.lib == FPU_SIGRETURN_REFUSED) s->lib_refused++;
	}
	agree = o.host != HOST_ERROR && (o.host == HOST_ACCEPTED) == lacc &&
		o.lib != FPU_SIGRETURN_REFUSED;
	if (o.host == HOST_ACCEPTED)
		normalize(host_img);
	if (lacc)
		normalize(lib_img);
	if (agree && lacc)
		state_ok = images_equal(host_img, lib_img);
	if (res)
		*res = o;
	if (agree && state_ok)
		return true;

	for (i = 0; i <= MK__N; i++)
		if (kinds & (1u << i))
			kstats[i].disagree++;
	printf("DISAGREE frame %ld: %s\n", idx, desc);
	printf("    host: %s", hv_names[o.host]);
	if (o.host == HOST_ERROR)
		printf(" (wait status 0x%x, done %u, child frame xstate_size %u)", o.status, shm->done,
		       shm->frame_xsize);
	printf("; fpuctx: %s (%d)\n", fpu_sigreturn_str(o.lib), (int)o.lib);
	if (agree && !state_ok) {
		diff_images("host", host_img, "fpuctx", lib_img, sig, sizeof(sig));
		snprintf(key, sizeof(key), "both accept (fpuctx: %s), registers differ in: %s",
			 fpu_sigreturn_str(o.lib), sig);
	} else if (o.lib == FPU_SIGRETURN_REFUSED && o.host == HOST_REJECTED) {
		snprintf(key, sizeof(key), "both reject, but fpuctx's validate() passed it and the CPU refused it (REFUSED)");
	} else {
		snprintf(key, sizeof(key), "host %s, fpuctx %s", hv_names[o.host], fpu_sigreturn_str(o.lib));
	}
	add_class(key, idx, desc, kinds);
	if (verbose_dump || dumps < 8 || getenv("DIFFTEST_VERBOSE")) {
		dumps++;
		printf("    mutated frame, bytes 0-575 (legacy area, sw_reserved, XSAVE header):\n");
		hexdump(mut, 0, FPU_XSAVE_EXT_OFFSET);
		printf("    MAGIC2 slot at %u: %08x\n", usize, get32(mut + usize));
		if (shift)
			printf("    handed to sigreturn at +%u from a 64-byte boundary\n", shift);
	}
	return false;
}

/* ---- mutations ---- */

struct mctx {
	uint64_t rng;
	char *desc;
	size_t dlen;
	unsigned kinds;
};

static uint64_t rnd(struct mctx *m) { return next_random(&m->rng); }
static uint32_t rnd_below(struct mctx *m, uint32_t n) { return n ? (uint32_t)(rnd(m) % n) : 0; }

static void say(struct mctx *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(struct mctx *m, const char *fmt, ...)
{
	size_t used = strlen(m->desc);
	va_list ap;

	if (used && used + 2 < m->dlen) {
		strcat(m->desc, "; ");
		used += 2;
	}
	va_start(ap, fmt);
	vsnprintf(m->desc + used, m->dlen - used, fmt, ap);
	va_end(ap);
}

static void rand_bytes(struct mctx *m, uint8_t *f, uint32_t off, uint32_t len)
{
	uint32_t i;

	for (i = 0; i < len; i++)
		f[off + i] = (uint8_t)rnd(m);
}

/* A random bit position in [lo, hi) not enabled in XCR0. */
static unsigned bit_outside_xcr0(struct mctx *m, unsigned lo, unsigned hi)
{
	unsigned b, tries;

	for (tries = 0; tries < 256; tries++) {
		b = lo + rnd_below(m, hi - lo);
		if (!(sys.xs.xcr0 & (1ull << b)))
			return b;
	}
	return 62;
}

static void mutate_one(struct mctx *m, uint8_t *f, enum mkind kind)
{
	uint32_t v32, sub;
	uint64_t v64, xcr0 = sys.xs.xcr0;

	m->kinds |= 1u << kind;
	switch (kind) {
	case MK_MAGIC1:
		v32 = rnd_below(m, 2) ? (uint32_t)rnd(m) : get32(f + SW_MAGIC1) ^ (1u << rnd_below(m, 32));
		put32(f + SW_MAGIC1, v32);
		say(m, "magic1=0x%08x", v32);
		break;
	case MK_MAGIC2:
		v32 = (uint32_t)rnd(m);
		put32(f + usize, v32);
		say(m, "magic2=0x%08x", v32);
		break;
	case MK_XSTATE_SIZE:
		sub = rnd_below(m, 6);
		switch (sub) {
		case 0: v32 = (uint32_t)rnd(m); break;
		case 1: v32 = rnd_below(m, FPU_XSAVE_EXT_OFFSET); break;
		case 2: v32 = usize + 1 + rnd_below(m, 8192); break;
		case 3: v32 = FPU_XSAVE_EXT_OFFSET + rnd_below(m, usize - FPU_XSAVE_EXT_OFFSET + 1); break;
		case 4: {
			const uint32_t exact[] = { FPU_XSAVE_EXT_OFFSET - 1, FPU_XSAVE_EXT_OFFSET, usize - 1, usize,
						   usize + 1, usize - 64 };
			v32 = exact[rnd_below(m, 6)];
			break;
		}
		default: /* a consistent smaller frame: MAGIC2 moved to the new end */
			v32 = (FPU_XSAVE_EXT_OFFSET + rnd_below(m, usize - FPU_XSAVE_EXT_OFFSET + 1)) & ~3u;
			put32(f + v32, FPU_FP_XSTATE_MAGIC2);
			say(m, "MAGIC2 written at %u", v32);
			break;
		}
		put32(f + SW_XSIZE, v32);
		say(m, "xstate_size=%u", v32);
		break;
	case MK_EXT_SIZE:
		sub = rnd_below(m, 5);
		v32 = sub == 0 ? (uint32_t)rnd(m) : sub == 1 ? get32(f + SW_XSIZE) - 1 - rnd_below(m, 600)
		    : sub == 2 ? get32(f + SW_XSIZE) : sub == 3 ? usize + 4 : 0;
		put32(f + SW_EXTSIZE, v32);
		say(m, "extended_size=%u", v32);
		break;
	case MK_SW_XFEAT:
		sub = rnd_below(m, 6);
		v64 = sub == 0 ? rnd(m) : sub == 1 ? xcr0 & rnd(m) : sub == 2 ? xcr0 & ~(1ull << rnd_below(m, 19))
		    : sub == 3 ? FPU_XFEATURE_MASK_FPSSE : sub == 4 ? 0 : xcr0 | 1ull << bit_outside_xcr0(m, 0, 64);
		put64(f + SW_XFEAT, v64);
		say(m, "sw.xfeatures=0x%llx", (unsigned long long)v64);
		break;
	case MK_XSTATE_BV: {
		static const uint64_t groups[] = {
			FPU_XFEATURE_MASK(FPU_XFEATURE_AVX), AVX512_MASK, AMX_MASK,
			FPU_XFEATURE_MASK(FPU_XFEATURE_XTILEDATA), FPU_XFEATURE_MASK(FPU_XFEATURE_XTILECFG),
			FPU_XFEATURE_MASK(FPU_XFEATURE_AVX) | AVX512_MASK,
		};

		v64 = get64(f + HDR_BV);
		sub = rnd_below(m, 6);
		switch (sub) {
		case 0: v64 &= rnd(m); break;
		case 1: v64 = rnd(m); break;
		case 2: v64 &= ~(uint64_t)(1 + rnd_below(m, 3)); break;
		case 3: v64 &= ~groups[rnd_below(m, 6)]; break;
		case 4: v64 |= 1ull << bit_outside_xcr0(m, 0, 64); break;
		default: v64 = 0; break;
		}
		put64(f + HDR_BV, v64);
		say(m, "xstate_bv=0x%llx", (unsigned long long)v64);
		break;
	}
	case MK_XCOMP_BV: {
		uint64_t bv = get64(f + HDR_BV);

		sub = rnd_below(m, 10);
		switch (sub) {
		case 9: /* compacted, XSTATE_BV equal to XCOMP_BV, bit 63 included */
			v64 = FPU_XCOMP_BV_COMPACTED | (bv & xcr0) | (xcr0 & rnd(m));
			put64(f + HDR_BV, v64);
			say(m, "xstate_bv=0x%llx", (unsigned long long)v64);
			break;
		case 7: /* valid compacted, SSE not in XSTATE_BV: the CPU does not load MXCSR */
			bv &= xcr0 & ~FPU_XFEATURE_MASK(FPU_XFEATURE_SSE);
			put64(f + HDR_BV, bv);
			v64 = FPU_XCOMP_BV_COMPACTED | bv | (xcr0 & rnd(m));
			say(m, "xstate_bv=0x%llx", (unsigned long long)bv);
			break;
		case 8: v64 = FPU_XCOMP_BV_COMPACTED | xcr0; break;
		case 0: v64 = 0; break;
		case 1: v64 = rnd(m); break;
		case 2: v64 = FPU_XCOMP_BV_COMPACTED | bv | (xcr0 & rnd(m)); break;
		case 3: v64 = FPU_XCOMP_BV_COMPACTED | (bv & xcr0); break;
		case 4: /* two draws: sequenced, so the mutation does not depend on the compiler */
			v64 = FPU_XCOMP_BV_COMPACTED | bv | (xcr0 & rnd(m));
			v64 |= 1ull << bit_outside_xcr0(m, 0, 63);
			break;
		case 5: v64 = FPU_XCOMP_BV_COMPACTED; break;
		default: v64 = 1ull << rnd_below(m, 63); break;
		}
		put64(f + HDR_COMP, v64);
		say(m, "xcomp_bv=0x%llx", (unsigned long long)v64);
		break;
	}
	case MK_HDR_RSVD: {
		unsigned w = 2 + rnd_below(m, 6);

		v64 = rnd_below(m, 2) ? rnd(m) | 1 : 1ull << rnd_below(m, 64);
		put64(f + FPU_XSAVE_HDR_OFFSET + 8 * w, v64);
		say(m, "header word %u (bytes %u-%u)=0x%llx", w, 8 * w, 8 * w + 7, (unsigned long long)v64);
		break;
	}
	case MK_MXCSR:
		sub = rnd_below(m, 4);
		v32 = get32(f + FPU_FXSAVE_MXCSR);
		if (sub == 0) {
			uint32_t rsvd = ~sys.xs.mxcsr_mask, b;

			do
				b = rnd_below(m, 32);
			while (rsvd && !(rsvd & (1u << b)));
			v32 |= 1u << b;
		} else if (sub == 1) {
			v32 = (uint32_t)rnd(m) & sys.xs.mxcsr_mask;
		} else if (sub == 2) {
			v32 = (uint32_t)rnd(m);
			put32(f + FPU_FXSAVE_MXCSR_MASK, v32);
			say(m, "mxcsr_mask field=0x%08x", v32);
			break;
		} else {
			v32 = (uint32_t)rnd(m);
		}
		put32(f + FPU_FXSAVE_MXCSR, v32);
		say(m, "mxcsr=0x%08x", v32);
		break;
	case MK_FCW:
		v32 = (uint16_t)rnd(m);
		put16(f + FPU_FXSAVE_FCW, (uint16_t)v32);
		say(m, "fcw=0x%04x", v32);
		break;
	case MK_FTW:
		f[FPU_FXSAVE_FTW] = (uint8_t)rnd(m);
		if (rnd_below(m, 4) == 0)
			f[FPU_FXSAVE_FTW + 1] = (uint8_t)rnd(m);
		say(m, "ftw bytes=%02x %02x", f[FPU_FXSAVE_FTW], f[FPU_FXSAVE_FTW + 1]);
		break;
	case MK_X87ENV: {
		uint32_t o = 2 + rnd_below(m, 22), n = 1 + rnd_below(m, 24 - o);

		rand_bytes(m, f, o, n);
		say(m, "x87 env bytes %u-%u random", o, o + n - 1);
		break;
	}
	case MK_ST: {
		uint32_t o = FPU_FXSAVE_ST + rnd_below(m, 128), n = 1 + rnd_below(m, FPU_FXSAVE_XMM - o);

		if (n > 16) n = 16;
		rand_bytes(m, f, o, n);
		say(m, "ST bytes %u-%u random", o, o + n - 1);
		break;
	}
	case MK_XMM: {
		uint32_t o = FPU_FXSAVE_XMM + rnd_below(m, 256), n = 1 + rnd_below(m, 416 - o);

		if (n > 32) n = 32;
		rand_bytes(m, f, o, n);
		say(m, "XMM bytes %u-%u random", o, o + n - 1);
		break;
	}
	case MK_COMPONENT: {
		unsigned comps[FPU_XFEATURE_MAX], nc = 0, c;
		uint32_t o, n;

		for (c = 2; c < FPU_XFEATURE_MAX; c++)
			if (umask & FPU_XFEATURE_MASK(c))
				comps[nc++] = c;
		if (!nc)
			break;
		c = comps[rnd_below(m, nc)];
		o = sys.xs.offset[c] + rnd_below(m, sys.xs.size[c]);
		n = 1 + rnd_below(m, sys.xs.offset[c] + sys.xs.size[c] - o);
		if (n > 64) n = 64;
		rand_bytes(m, f, o, n);
		say(m, "%s bytes +%u..+%u random", fpu_xfeature_name(c), o - sys.xs.offset[c],
		    o - sys.xs.offset[c] + n - 1);
		break;
	}
	case MK_RSVD: {
		uint32_t o, n;

		if (rnd_below(m, 2)) {
			o = 416 + rnd_below(m, 48);
			n = 1 + rnd_below(m, 464 - o);
		} else {
			o = SW_XSIZE + 4 + rnd_below(m, 28);
			n = 1 + rnd_below(m, FPU_XSAVE_HDR_OFFSET - o);
		}
		rand_bytes(m, f, o, n);
		say(m, "reserved bytes %u-%u random", o, o + n - 1);
		break;
	}
	case MK_MISALIGN: /* 16-byte multiples half the time: FXRSTOR takes those */
		shift = rnd_below(m, 2) ? 16 * (1 + rnd_below(m, 3)) : 1 + rnd_below(m, 63);
		say(m, "frame at +%u from a 64-byte boundary", shift);
		break;
	default:
		break;
	}
}

/* ---- targeted cases ---- */

struct targeted {
	const char *name;
	void (*mutate)(uint8_t *f);
	int expect_lib;      /* -1: only agreement is checked */
	bool check_fx_state; /* legacy from the frame, the rest init */
	bool check_exact;    /* registers == the frame's pattern */
	uint32_t shift;      /* the frame handed over at this offset from a 64-byte boundary */
};

static void t_none(uint8_t *f) { (void)f; }
static void t_magic1(uint8_t *f) { put32(f + SW_MAGIC1, get32(f + SW_MAGIC1) ^ 1); }
static void t_xsize575(uint8_t *f) { put32(f + SW_XSIZE, 575); }
static void t_magic2(uint8_t *f) { put32(f + usize, FPU_FP_XSTATE_MAGIC2 ^ 0x100); }
static void t_xcomp1(uint8_t *f) { put64(f + HDR_COMP, 1); }
static void t_word2(uint8_t *f) { put64(f + FPU_XSAVE_HDR_OFFSET + 16, 1); }
static void t_word3(uint8_t *f) { put64(f + FPU_XSAVE_HDR_OFFSET + 24, 1); }
static void t_word7(uint8_t *f) { put64(f + FPU_XSAVE_HDR_OFFSET + 56, 1ull << 63); }
static void t_bv8(uint8_t *f) { put64(f + HDR_BV, get64(f + HDR_BV) | FPU_XFEATURE_MASK(FPU_XFEATURE_PT)); }
static void t_mxcsr16(uint8_t *f) { put32(f + FPU_FXSAVE_MXCSR, get32(f + FPU_FXSAVE_MXCSR) | 1u << 16); }
static void t_bv0(uint8_t *f) { put64(f + HDR_BV, 0); }
static void t_compact(uint8_t *f) { put64(f + HDR_COMP, FPU_XCOMP_BV_COMPACTED | get64(f + HDR_BV)); }
static void t_compact_noamx(uint8_t *f)
{
	uint64_t bv = get64(f + HDR_BV) & ~AMX_MASK;

	put64(f + HDR_BV, bv);
	put64(f + HDR_COMP, FPU_XCOMP_BV_COMPACTED | bv);
}
static void t_compact_empty(uint8_t *f) { put64(f + HDR_COMP, FPU_XCOMP_BV_COMPACTED); put64(f + HDR_BV, 0); }
static void t_compact_bv0_mxcsr(uint8_t *f)
{
	t_compact_empty(f);
	t_mxcsr16(f);
}
static void t_compact_avx_nosse_mxcsr(uint8_t *f)
{
	uint64_t bv = get64(f + HDR_BV) & ~(AMX_MASK | FPU_XFEATURE_MASK(FPU_XFEATURE_SSE));

	put64(f + HDR_BV, bv);
	put64(f + HDR_COMP, FPU_XCOMP_BV_COMPACTED | bv);
	t_mxcsr16(f);
}
static void t_compact_sse_mxcsr(uint8_t *f)
{
	t_compact_noamx(f);
	t_mxcsr16(f);
}
static void t_avx_only_xfeat_mxcsr(uint8_t *f)
{
	put64(f + SW_XFEAT, FPU_XFEATURE_MASK(FPU_XFEATURE_X87) | FPU_XFEATURE_MASK(FPU_XFEATURE_AVX));
	t_mxcsr16(f);
}
static void t_compact_rfbm_nosse_mxcsr(uint8_t *f)
{
	t_compact_sse_mxcsr(f);
	put64(f + SW_XFEAT, FPU_XFEATURE_MASK(FPU_XFEATURE_X87) | FPU_XFEATURE_MASK(FPU_XFEATURE_AVX));
}
static void t_compact_bv63(uint8_t *f)
{
	uint64_t bv = FPU_XCOMP_BV_COMPACTED | (get64(f + HDR_BV) & ~AMX_MASK);

	put64(f + HDR_BV, bv);
	put64(f + HDR_COMP, bv);
}
static void t_compact_word3(uint8_t *f)
{
	t_compact_noamx(f);
	t_word3(f);
}
static void t_moved_magic2(uint8_t *f)
{
	put32(f + SW_XSIZE, usize - 64);
	put32(f + usize - 64, FPU_FP_XSTATE_MAGIC2);
}
static void t_small_xsize(uint8_t *f) { put32(f + SW_XSIZE, 1024); }
static void t_big_xsize(uint8_t *f) { put32(f + SW_XSIZE, usize + 4); }
static void t_ext_small(uint8_t *f) { put32(f + SW_EXTSIZE, usize - 1); }
static void t_fpsse(uint8_t *f) { put64(f + SW_XFEAT, FPU_XFEATURE_MASK_FPSSE); }
static void t_x87_only_mxcsr(uint8_t *f)
{
	put64(f + SW_XFEAT, FPU_XFEATURE_MASK(FPU_XFEATURE_X87));
	t_mxcsr16(f);
}
static void t_magic1_mxcsr(uint8_t *f) { t_magic1(f); t_mxcsr16(f); }
static void t_bv_no_sse_mxcsr(uint8_t *f)
{
	put64(f + HDR_BV, get64(f + HDR_BV) & ~(uint64_t)(FPU_XFEATURE_MASK(FPU_XFEATURE_SSE) | FPU_XFEATURE_MASK(FPU_XFEATURE_AVX)));
	t_mxcsr16(f);
}
static void t_tilecfg_palette2(uint8_t *f) { f[sys.xs.offset[FPU_XFEATURE_XTILECFG]] = 2; }
static void t_tilecfg_rsvd(uint8_t *f) { f[sys.xs.offset[FPU_XFEATURE_XTILECFG] + 2] = 1; }
static void t_xfeat_outside(uint8_t *f) { put64(f + SW_XFEAT, get64(f + SW_XFEAT) | 1ull << 40); }

static const struct targeted targeted[] = {
	{ "unmodified frame", t_none, FPU_SIGRETURN_OK, false, true, 0 },
	{ "magic1 wrong", t_magic1, FPU_SIGRETURN_OK_FX_ONLY, true, false, 0 },
	{ "xstate_size 575", t_xsize575, -1, false, false, 0 },
	{ "magic2 wrong", t_magic2, -1, false, false, 0 },
	{ "XCOMP_BV=1", t_xcomp1, -1, false, false, 0 },
	{ "header word 2 (bytes 16-23) nonzero", t_word2, -1, false, false, 0 },
	{ "header word 3 (bytes 24-31) nonzero", t_word3, -1, false, false, 0 },
	{ "header word 7 (bytes 56-63) bit 63", t_word7, -1, false, false, 0 },
	{ "XSTATE_BV bit 8 (not in XCR0)", t_bv8, -1, false, false, 0 },
	{ "MXCSR bit 16 set", t_mxcsr16, -1, false, false, 0 },
	{ "XSTATE_BV=0", t_bv0, -1, false, false, 0 },
	{ "valid compacted header (xcomp_bv=bit63|XSTATE_BV)", t_compact, -1, false, false, 0 },
	{ "valid compacted header without AMX", t_compact_noamx, -1, false, false, 0 },
	{ "compacted, XCOMP_BV=bit63, XSTATE_BV=0", t_compact_empty, -1, false, false, 0 },
	{ "compacted, XSTATE_BV=0, MXCSR bit 16", t_compact_bv0_mxcsr, -1, false, false, 0 },
	{ "compacted, XSTATE_BV has AVX not SSE, MXCSR bit 16", t_compact_avx_nosse_mxcsr, -1, false, false, 0 },
	{ "compacted, XSTATE_BV has SSE, MXCSR bit 16", t_compact_sse_mxcsr, -1, false, false, 0 },
	{ "compacted, XSTATE_BV has SSE, sw.xfeatures x87|AVX, MXCSR bit 16", t_compact_rfbm_nosse_mxcsr, -1, false, false, 0 },
	{ "compacted without AMX, header word 3 nonzero", t_compact_word3, -1, false, false, 0 },
	{ "compacted, XSTATE_BV=XCOMP_BV (bit 63 set in both)", t_compact_bv63, -1, false, false, 0 },
	{ "xstate_size=user_size-64, MAGIC2 moved there", t_moved_magic2, -1, false, false, 0 },
	{ "xstate_size=1024, MAGIC2 left at user_size", t_small_xsize, -1, false, false, 0 },
	{ "xstate_size=user_size+4", t_big_xsize, -1, false, false, 0 },
	{ "extended_size < xstate_size", t_ext_small, -1, false, false, 0 },
	{ "sw.xfeatures=FP|SSE", t_fpsse, -1, false, false, 0 },
	{ "sw.xfeatures=x87 only, MXCSR bit 16", t_x87_only_mxcsr, -1, false, false, 0 },
	{ "sw.xfeatures bit 40 (not in XCR0)", t_xfeat_outside, -1, false, false, 0 },
	{ "sw.xfeatures=x87|AVX (no SSE), MXCSR bit 16", t_avx_only_xfeat_mxcsr, -1, false, false, 0 },
	{ "magic1 wrong and MXCSR bit 16", t_magic1_mxcsr, -1, false, false, 0 },
	{ "XSTATE_BV without SSE/AVX, MXCSR bit 16", t_bv_no_sse_mxcsr, -1, false, false, 0 },
	{ "TILECFG palette 2", t_tilecfg_palette2, -1, false, false, 0 },
	{ "TILECFG reserved byte 2 nonzero", t_tilecfg_rsvd, -1, false, false, 0 },
	/* XRSTOR needs 64-byte alignment, FXRSTOR (legacy-only frames) 16. */
	{ "frame at +8", t_none, FPU_SIGRETURN_MISALIGNED, false, false, 8 },
	{ "frame at +16", t_none, FPU_SIGRETURN_MISALIGNED, false, false, 16 },
	{ "frame at +32", t_none, FPU_SIGRETURN_MISALIGNED, false, false, 32 },
	{ "frame at +48", t_none, FPU_SIGRETURN_MISALIGNED, false, false, 48 },
	{ "frame at +64", t_none, FPU_SIGRETURN_OK, false, true, 64 },
	{ "magic1 wrong, frame at +8", t_magic1, FPU_SIGRETURN_MISALIGNED, false, false, 8 },
	{ "magic1 wrong, frame at +16", t_magic1, FPU_SIGRETURN_OK_FX_ONLY, true, false, 16 },
	{ "magic1 wrong, frame at +48", t_magic1, FPU_SIGRETURN_OK_FX_ONLY, true, false, 48 },
};

static void run_targeted(void)
{
	unsigned t;

	printf("part 2a: targeted frames (pre-state: pattern owner 4; frame: host frame of pattern owner 1)\n");
	for (t = 0; t < sizeof(targeted) / sizeof(targeted[0]); t++) {
		const struct targeted *c = &targeted[t];
		struct outcome o;
		bool ok;
		char desc[160];

		if ((c->mutate == t_tilecfg_palette2 || c->mutate == t_tilecfg_rsvd) &&
		    !(umask & FPU_XFEATURE_MASK(FPU_XFEATURE_XTILECFG))) {
			printf("  %-52s skipped: no AMX\n", c->name);
			continue;
		}
		memcpy(mut, base_frame, flen);
		c->mutate(mut);
		shift = c->shift;
		snprintf(desc, sizeof(desc), "targeted: %s", c->name);
		ok = judge(-1 - (long)t, desc, 1u << MK_TARGETED, true, &o);
		shift = 0;
		/* judge() left the images of the sides that accepted, normalized. */
		if (c->expect_lib >= 0 && (int)o.lib != c->expect_lib) {
			printf("    expected fpuctx %s, got %s\n",
			       fpu_sigreturn_str((enum fpu_sigreturn)c->expect_lib), fpu_sigreturn_str(o.lib));
			ok = false;
		}
		if (c->check_exact || c->check_fx_state) {
			static uint8_t exp_img[FRAME_MAX] __attribute__((aligned(64)));
			const char *what = c->check_exact ? "the frame's state"
				: "x87/SSE (MXCSR included) from the frame's legacy area, the rest init";

			memcpy(exp_img, ref_img, isize);
			if (c->check_fx_state)
				put64(exp_img + HDR_BV, FPU_XFEATURE_MASK_FPSSE);
			normalize(exp_img);
			if (o.host != HOST_ACCEPTED) {
				printf("    host: rejected, expected %s\n", what);
				ok = false;
			} else if (diff_images("expected", exp_img, "host", host_img, NULL, 0)) {
				printf("    host: registers are not %s\n", what);
				ok = false;
			}
			if (!fpu_sigreturn_ok(o.lib)) {
				printf("    fpuctx: rejected, expected %s\n", what);
				ok = false;
			} else if (diff_images("expected", exp_img, "fpuctx", lib_img, NULL, 0)) {
				printf("    fpuctx: registers are not %s\n", what);
				ok = false;
			}
		}
		printf("  %-52s %s (host %s, fpuctx %s)\n", c->name, ok ? "agree" : "FAIL", hv_names[o.host],
		       fpu_sigreturn_str(o.lib));
		if (ok)
			passed++;
		else
			failed++;
	}
}

static void run_random(unsigned long n, uint64_t seed)
{
	unsigned long i;
	char desc[512];

	printf("part 2b: %lu mutated frames, seed %llu\n", n, (unsigned long long)seed);
	for (i = 0; i < n; i++) {
		struct mctx m;
		unsigned j, nm;

		m.rng = seed * 0x9e3779b97f4a7c15ull ^ (i + 1) * 0xd1b54a32d192ed03ull;
		next_random(&m.rng);
		m.desc = desc;
		m.dlen = sizeof(desc);
		m.kinds = 0;
		desc[0] = 0;
		memcpy(mut, base_frame, flen);
		shift = 0;
		nm = 1 + rnd_below(&m, 3);
		for (j = 0; j < nm; j++)
			mutate_one(&m, mut, (enum mkind)rnd_below(&m, MK__N));
		if (judge((long)i, desc, m.kinds, false, NULL))
			passed++;
		else
			failed++;
		shift = 0;
	}
}

static void print_summary(void)
{
	unsigned i;

	printf("summary per mutation kind (a frame with several kinds counts under each):\n");
	printf("  %-20s %7s | host: %7s %7s %5s | fpuctx: %7s %7s %7s (%s) | %s\n", "kind", "frames",
	       "accept", "reject", "error", "ok", "fx_only", "reject", "refused", "disagree");
	for (i = 0; i <= MK__N; i++) {
		const struct kstat *s = &kstats[i];

		if (!s->frames)
			continue;
		printf("  %-20s %7u | host: %7u %7u %5u | fpuctx: %7u %7u %7u (%7u) | %u\n", mk_names[i],
		       s->frames, s->host_acc, s->host_rej, s->host_err, s->lib_ok, s->lib_fx, s->lib_rej,
		       s->lib_refused, s->disagree);
	}
	printf("  (the host's verdict is accepted or rejected: whether it took the legacy-only path\n"
	       "   is not observable from user space except through the registers)\n");
	if (!nclasses)
		return;
	printf("disagreement classes (%u):\n", nclasses);
	for (i = 0; i < nclasses; i++) {
		const struct dclass *c = &classes[i];
		unsigned j;

		printf("  %6u x %s\n         first: frame %ld: %s\n         kinds (frames with it / with only it):",
		       c->count, c->key, c->first, c->desc);
		for (j = 0; j <= MK__N; j++)
			if (c->by_kind[j])
				printf(" %s %u/%u", mk_names[j], c->by_kind[j], c->single[j]);
		printf("\n");
	}
}

/* ------------------------------------------------------------------------
 * Setup
 * ---------------------------------------------------------------------- */

static bool cpu_has_xsave(void)
{
	uint32_t r[4];

	fpu_cpuid(1, 0, r);
	return (r[2] & (1u << 26)) && (r[2] & (1u << 27));
}

/* Faults at the library's exception-table instructions (an XRSTOR the CPU
 * refuses) go to their fixups through the simulator's own handler, as a
 * kernel's #GP handler would send them; SIGUSR1 captures the host's frames. */
static void install_handlers(void)
{
	struct sigaction sa;

	machine_install_fault_handler();
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_usr1;
	sa.sa_flags = SA_SIGINFO; /* on the thread's stack: fpregs is the real frame */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
}

int main(int argc, char **argv)
{
	unsigned long n = argc > 1 ? strtoul(argv[1], NULL, 0) : 10000;
	uint64_t seed = argc > 2 ? strtoull(argv[2], NULL, 0) : 1;
	uint64_t xcr0, missing = 0, want;
	unsigned long long perm = 0;
	enum fpu_setup_error err;
	const struct fpu_policy *pol;
	double t0 = now_sec();
	bool setup_ok = true;
	void *area, *iarea;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!cpu_has_xsave()) {
		printf("skipped: this CPU has no XSAVE (asked for: XSAVE/XRSTOR enabled by the OS, "
		       "CPUID.1:ECX.XSAVE and OSXSAVE)\n0 passed, 0 failed, 1 skipped\n");
		return 0;
	}
	xcr0 = fpu_xgetbv(0);
	if (xcr0 & FPU_XFEATURE_MASK(FPU_XFEATURE_XTILEDATA))
		syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, FPU_XFEATURE_XTILEDATA);
	if (syscall(SYS_arch_prctl, ARCH_GET_XCOMP_PERM, &perm))
		perm = xcr0 & ~FPU_XFEATURE_MASK(FPU_XFEATURE_XTILEDATA);
	install_handlers();
	shm = mmap(NULL, sizeof(*shm), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (shm == MAP_FAILED) {
		perror("mmap");
		return 2;
	}

	/* Patterns for everything this process may use, to make the host use AMX
	 * (its fpstate grows) before its frame is measured. */
	if (fpu_xstate_enumerate(&pat_xs, xcr0 & perm, &missing) != FPU_SETUP_OK) {
		printf("fpu_xstate_enumerate failed (missing 0x%llx)\n", (unsigned long long)missing);
		return 2;
	}
	umask = pat_xs.features;
	orc.user_mask = umask;
	orc.std_size = fpu_xstate_size(&pat_xs, FPU_INSN_XSAVE, umask);
	if (orc.std_size + 64 > FRAME_MAX) {
		printf("XSAVE area of %u bytes is larger than this test's buffers\n", orc.std_size);
		return 2;
	}
	pattern_build(&orc, clean_img, OWNER_INIT, 0, umask);
	pattern_build(&orc, pre_img, 1, 1, umask);
	host_capture(pre_img); /* first use of AMX; the next frame is the real size */
	host_capture(pre_img);
	if (host_frame_len < FPU_XSAVE_EXT_OFFSET || get32(host_frame + SW_MAGIC1) != FPU_FP_XSTATE_MAGIC1) {
		printf("FAIL: the host kernel's signal frame has no extended state (magic1 0x%08x, %u bytes)\n",
		       get32(host_frame + SW_MAGIC1), host_frame_len);
		printf("0 passed, 1 failed\n");
		return 1;
	}
	umask = get64(host_frame + SW_XFEAT);
	usize = get32(host_frame + SW_XSIZE);
	flen = get32(host_frame + SW_EXTSIZE);
	printf("host frame: xfeatures 0x%llx, xstate_size %u, extended_size %u (XCR0 0x%llx, perm 0x%llx)\n",
	       (unsigned long long)umask, usize, flen, (unsigned long long)xcr0, perm);

	/* The library, configured to match the host's frames. */
	want = umask;
	{
		uint32_t r[4];

		fpu_cpuid(7, 0, r);
		if (!(r[2] & (1u << 4))) /* no OSPKE: no PKRU */
			want &= ~FPU_XFEATURE_MASK(FPU_XFEATURE_PKRU);
	}
	pol = fpu_policy_find("linux");
	if (!pol)
		pol = &fpu_policies[1];
	err = fpu_system_init(&sys, pol, want, FPU_INSN__COUNT, &port_ops, NULL, &missing);
	if (err != FPU_SETUP_OK) {
		printf("FAIL: fpu_system_init: %s (missing 0x%llx)\n0 passed, 1 failed\n",
		       fpu_setup_error_str(err), (unsigned long long)missing);
		return 1;
	}
	printf("fpuctx: user_features 0x%llx, user_size %u, sigframe %u bytes, save insn %s\n",
	       (unsigned long long)sys.user_features, sys.user_size, fpu_sigframe_size(&sys),
	       fpu_insn_name(sys.insn));
	if (sys.user_features != umask || sys.user_size != usize || fpu_sigframe_size(&sys) != flen) {
		printf("FAIL setup: fpuctx frames would not match the host's: user_features 0x%llx vs 0x%llx, "
		       "user_size %u vs %u, frame %u vs %u bytes\n",
		       (unsigned long long)sys.user_features, (unsigned long long)umask, sys.user_size, usize,
		       fpu_sigframe_size(&sys), flen);
		setup_ok = false;
	}
	if (flen != usize + FPU_FP_XSTATE_MAGIC2_SIZE || flen > FRAME_MAX - 64) {
		printf("FAIL setup: host extended_size %u is not xstate_size + 4 (or too large)\n", flen);
		setup_ok = false;
	}
	if (!setup_ok) {
		printf("0 passed, 1 failed\n");
		return 1;
	}
	passed++;
	area = aligned_alloc(64, (sys.state_size + 63) & ~63u);
	iarea = aligned_alloc(64, (sys.state_size + 63) & ~63u);
	if (!area || !iarea)
		return 2;
	if (!fpu_system_set_init_area(&sys, &init_st, iarea, sys.state_size) ||
	    !fpu_state_setup(&sys, &st, area, sys.state_size, 1)) {
		printf("FAIL: the library refused a state buffer\n0 passed, 1 failed\n");
		return 1;
	}
	cpu.sys = &sys;
	cpu.id = 0;
	fpu_ctx_init(&sys, &ctx, &st, 1, false);
	ctx.flags &= ~FPU_CTX_NEED_LOAD; /* the registers are the task's */

	/* Images in the library's user layout (umask). */
	pat_xs = sys.xs;
	orc.user_mask = umask;
	orc.std_size = isize = fpu_xstate_size(&sys.xs, FPU_INSN_XSAVE, umask);
	pattern_build(&orc, clean_img, OWNER_INIT, 0, umask);

	part1();

	/* Part 2: from the host frame of pattern 1, pre-state pattern 4. */
	{
		static uint8_t img[FRAME_MAX] __attribute__((aligned(64)));

		pattern_build(&orc, img, 1, 1, umask);
		memset(ref_img, 0, sizeof(ref_img));
		load_and_save(img, ref_img, umask);
		pattern_build(&orc, pre_img, 4, 4, umask);
	}
	if (get32(base_frame + SW_MAGIC1) != FPU_FP_XSTATE_MAGIC1) {
		printf("FAIL: no base frame\n%u passed, %u failed\n", passed, failed + 1);
		return 1;
	}
	run_targeted();
	run_random(n, seed);
	print_summary();
	if (port_warns)
		printf("fpuctx warnings (REFUSED restores): %u\n", port_warns);
	printf("time: %.2f s\n", now_sec() - t0);
	printf("%u passed, %u failed\n", passed, failed);
	return failed ? 1 : 0;
}
