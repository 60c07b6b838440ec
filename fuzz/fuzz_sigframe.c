/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: fpu_signal_restore() (core/signal.c) on arbitrary signal
 * frame FP areas, on the real registers of this CPU.
 *
 * Input: byte 0 selects the variant, the rest is the frame (truncated to,
 * or zero-padded up to, fpu_sigframe_size() bytes):
 *   bits 0-1  0: XOR over a frame fpu_signal_save() wrote from a pattern
 *             1: the same frame with a valid compacted header
 *                (XCOMP_BV = bit 63 | XSTATE_BV)
 *             2: XOR over a frame of the init state (XSTATE_BV = x87|SSE)
 *             3: the raw bytes are the frame
 *   bit 2     the task's registers are live (CPU owner = its buffer) rather
 *             than NEED_LOAD
 *   bit 3     registers before the sigreturn hold the init state instead of
 *             a pattern (so leftovers of the pattern are visible otherwise)
 *   bits 4-5  where the frame lives:
 *             0: a heap block of exactly fpu_sigframe_size() bytes (ASan
 *                sees any read past it by the library)
 *             1: mmap'd pages, those from page K on evicted: the port's
 *                copies read them (as a kernel's would, resolving the fault)
 *                but XRSTOR takes a #PF, fault_in() brings them back and the
 *                library retries
 *             2: the same pages unmapped: copies touching them fail,
 *                fault_in() fails, the sigreturn must fail cleanly (FAULT)
 *             3: the frame ends less than 64 bytes before an inaccessible
 *                page: XRSTOR must not read past the frame
 *   bits 6-7  placements 1 and 2: K (modulo the frame's page count);
 *             placements 0 and 3: the frame's offset from a 64-byte
 *             boundary, 0, 8, 16, 32 (placement 0) or 0, 16, 48, 24
 *             (placement 3), as a handler that moved uc_mcontext.fpregs
 *             would hand it over: XRSTOR needs 64-byte alignment, FXRSTOR
 *             (legacy-only frames) 16
 * An input of one zero byte is the unmodified saved frame.
 *
 * Invariants (abort() with a message when one breaks):
 *   a. never FPU_SIGRETURN_REFUSED and no port warn(): validation accepted
 *      only what XRSTOR/FXRSTOR also accept (a #GP is turned into REFUSED by
 *      the exception-table fixup installed here, so it is reported, not a
 *      crash);
 *   b. after a failed sigreturn the registers are in the reset state: FCW
 *      0x37f, MXCSR 0x1f80 (read with FNSTCW/STMXCSR), every component XSAVE
 *      reports in use holds its init value (zeros; x87/SSE fields zero), PKRU
 *      its default; the context is live (no NEED_LOAD);
 *   c. after a successful sigreturn NEED_LOAD is clear;
 *   d. either way the CPU owner is dropped (the registers are nobody's image);
 *   e. after a successful sigreturn, components the frame did not provide
 *      (not requested, or requested with their XSTATE_BV bit clear) are in
 *      init state; for a standard-format frame the provided ones (AMX aside)
 *      hold the frame's bytes; after a legacy-only sigreturn FCW and XMM
 *      are the frame's, and MXCSR too unless the CPU lacks XSAVES and AVX is
 *      a user feature (then the standard init image loads 0x1f80, as under
 *      Linux); otherwise MXCSR is the frame's or 0x1f80, never a leftover;
 *   f. fpu_signal_restore() never writes the user frame;
 *   g. FPU_SIGRETURN_FAULT only when part of the frame cannot be read
 *      (placement 2): with evicted pages the retry after fault_in()
 *      succeeds, and a frame that is all there is never reported unreadable;
 *   h. FPU_SIGRETURN_MISALIGNED never for a 64-byte aligned frame, and
 *      always for one that is not even 16-byte aligned (no instruction
 *      could restore it); in between, a refusal by the CPU is caught by a.
 *
 * Registers hold test state between the XRSTOR of the pre-state and the
 * XSAVE after the sigreturn. Nothing in between may use SIMD (glibc's
 * memcpy/memset use ZMM16-31): that code is REGSAFE below (general-regs-only,
 * no sanitizer or coverage instrumentation), the library is built
 * -mgeneral-regs-only, and its sanitizer/coverage callbacks (integer only)
 * do not touch vector registers. The port's copy functions do use memcpy
 * (under ASan: bounds-checked against the frame allocation), but the library
 * calls them only before its XRSTOR; fault_in() (called between a faulting
 * XRSTOR and its retry, when nothing in the registers counts) is REGSAFE.
 *
 * FPUCTX_FUZZ_SEED_DIR=DIR: LLVMFuzzerInitialize writes machine-specific
 * seeds (full-size raw frames) into DIR and exits (fuzz/run.sh uses it).
 * FPUCTX_FUZZ_VERBOSE=1: one line per input (variant, placement, result).
 * FPUCTX_FUZZ_BUGS=NAME[,NAME...]: turns on the library's injectable bugs
 * (`fpuctx bugs`), to show that the invariants catch them: sigreturn-no-reset
 * breaks b, sigreturn-keeps-owner d, sigreturn-unvalidated c.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include "../sim/oracle/oracle.h"
#include "../sim/machine/machine.h"
#include "../tests/harness.h"
#include "fpuctx/api.h"
#include "fpuctx/extable.h"
#include "fpuctx/insn.h"
#include "fpuctx/sched.h"
#include "fpuctx/signal.h"
#include "fpuctx/testing.h"

enum { V_SAVED, V_COMPACTED, V_INIT, V_RAW, NBASE = 3 };

int LLVMFuzzerInitialize(int *argc, char ***argv);
const char *__asan_default_options(void);

/* Fake stacks would put ASan runtime calls (not general-regs-only) into the
 * library's function prologues, after its XRSTOR. */
const char *__asan_default_options(void)
{
	return "detect_stack_use_after_return=0";
}
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ------------------------------------------------------------------------
 * The library instance and its port
 * ---------------------------------------------------------------------- */

static struct fpu_system sys;
static struct fpu_cpu cpu;
static struct fpu_ctx ctx;
static struct fpu_state st, init_st;
static struct fpu_xstate_info pat_xs; /* the layouts the patterns use */
static struct oracle orc = { .xs = &pat_xs };
static volatile unsigned port_warns;
static const char *volatile port_warn_what;
static bool usable;                   /* false: no XSAVE, every input is a no-op */
static bool verbose;


static REGSAFE void port_warn(void *p, int c, const char *what)
{
	(void)p;
	(void)c;
	port_warns++;
	port_warn_what = what;
}

/* Frame placement (bits 4-5 of the selector) and the "user memory" of
 * placements 1-3: a memfd mapped twice, the user view (where protections
 * change, followed by an inaccessible page) and the kernel's alias (always
 * readable). */
enum { M_HEAP, M_EVICTED, M_UNMAPPED, M_GUARD };
static unsigned mem_mode;
static uint8_t *uview, *kview;    /* npages pages each */
static uint32_t npages;
static uintptr_t prot_lo, prot_hi; /* protected part of the user view */

/* User address -> kernel pointer, or NULL if [a, a+len) is not usable now. */
static uint8_t *user_ptr(uintptr_t a, uint32_t len)
{
	uintptr_t lo = (uintptr_t)uview, hi = lo + (uintptr_t)npages * 4096;

	if (mem_mode == M_HEAP)
		return (uint8_t *)a;
	if (a < lo || a > hi || len > hi - a)
		return NULL;
	if (mem_mode == M_UNMAPPED && a < prot_hi && a + len > prot_lo)
		return NULL;
	return kview + (a - lo);
}

/* memcpy on purpose: under ASan it checks the frame's bounds (placement 0:
 * a heap block of exactly fpu_sigframe_size() bytes). Only called before
 * the library's XRSTOR, while the registers hold nothing that is checked. */
static int port_copy_to_user(void *p, uintptr_t dst, const void *src, uint32_t len)
{
	uint8_t *d = user_ptr(dst, len);

	(void)p;
	if (!d)
		return -1;
	memcpy(d, src, len);
	return 0;
}

static int port_copy_from_user(void *p, void *dst, uintptr_t src, uint32_t len)
{
	const uint8_t *s = user_ptr(src, len);

	(void)p;
	if (!s)
		return -1;
	memcpy(dst, s, len);
	return 0;
}

static REGSAFE struct fpu_cpu *port_current_cpu(void *p)
{
	(void)p;
	return &cpu;
}

static volatile unsigned fault_ins;

static REGSAFE int port_fault_in(void *p, uintptr_t addr, uint32_t len, bool write)
{
	(void)p; (void)addr; (void)len; (void)write;
	fault_ins++;
	if (mem_mode != M_EVICTED)
		return -1; /* nothing to bring back: a #PF here is a real error */
	if (prot_hi > prot_lo) {
		mprotect((void *)prot_lo, prot_hi - prot_lo, PROT_READ | PROT_WRITE);
		prot_lo = prot_hi = 0;
	}
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
 * Images and frames
 * ---------------------------------------------------------------------- */

static uint32_t fsize;     /* fpu_sigframe_size(&sys) */
static uint32_t isize;     /* standard-format XSAVE image for user_features */
static uint64_t umask;     /* sys.user_features */
static uint8_t *clean_img, *pre_img, *pat_img, *out_img;
static uint8_t *base[NBASE];
/* Frame offsets from a 64-byte boundary (bits 6-7): placements 0 and 3. */
static const uint32_t misalign[2][4] = { { 0, 8, 16, 32 }, { 0, 16, 48, 24 } };
static uint8_t *heap_block[4]; /* fsize + misalign[0][i] bytes: ASan sees reads past the frame */
static uint8_t *frame;      /* this input's frame, as the test reads and writes it */
static uintptr_t uframe;    /* ... and its user address, given to the library */
static uint8_t *frame_copy;


static void *alloc64(size_t n)
{
	void *p = NULL;

	if (posix_memalign(&p, 64, n ? n : 1)) {
		fprintf(stderr, "fuzz_sigframe: out of memory\n");
		exit(2);
	}
	memset(p, 0, n);
	return p;
}

/* The library's frame of `img` (the task's live registers) into buf. */
static REGSAFE int lib_save(const uint8_t *img, uint8_t *buf)
{
	int r;

	fpu_xrstor(img, umask);
	r = fpu_signal_save(&sys, &ctx, (uintptr_t)buf);
	fpu_xrstor(clean_img, umask);
	return r;
}

struct capture {
	uint32_t mxcsr;
	uint16_t fcw;
};

/* pre-state -> sigreturn -> XSAVE/STMXCSR/FNSTCW at once -> clean registers. */
static REGSAFE enum fpu_sigreturn lib_restore(const uint8_t *pre, const uint8_t *buf,
					      uint8_t *out, struct capture *c)
{
	enum fpu_sigreturn r;

	fpu_xrstor(pre, umask);
	r = fpu_signal_restore(&sys, &ctx, (uintptr_t)buf);
	__asm__ volatile("xsave64 (%[out])\n\t"
			 "stmxcsr %[mx]\n\t"
			 "fnstcw %[cw]\n\t"
			 "xrstor64 (%[clean])\n\t"
			 : [mx] "=m"(c->mxcsr), [cw] "=m"(c->fcw)
			 : [out] "r"(out), [clean] "r"(clean_img), "a"((uint32_t)umask),
			   "d"((uint32_t)(umask >> 32))
			 : "memory");
	return r;
}

/* XRSTOR of a frame the CPU must refuse: proves #GP reaches the fixup. */
static REGSAFE uint32_t probe_gp(const uint8_t *bad)
{
	uint32_t trap = fpu_xrstor_safe(bad, umask);

	fpu_xrstor(clean_img, umask);
	return trap;
}

static bool cpu_has_xsave(void)
{
	uint32_t r[4];

	fpu_cpuid(1, 0, r);
	return (r[2] & (1u << 26)) && (r[2] & (1u << 27));
}

static void write_seed(const char *dir, const char *name, uint8_t sel, const uint8_t *body, size_t n)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(&sel, 1, 1, f) != 1 || (n && fwrite(body, 1, n, f) != n)) {
		perror(path);
		exit(2);
	}
	fclose(f);
}

static void setup_user_memory(void)
{
	size_t len;
	uint8_t *r;
	int fd;

	npages = (fsize + 4095) / 4096;
	len = (size_t)npages * 4096;
	fd = memfd_create("fuzz-sigframe", 0);
	if (fd < 0 || ftruncate(fd, (off_t)len)) {
		perror("fuzz_sigframe: memfd");
		exit(2);
	}
	/* npages of the memfd, then one inaccessible page. */
	r = mmap(NULL, len + 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	kview = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (r == MAP_FAILED || kview == MAP_FAILED ||
	    mmap(r, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0) == MAP_FAILED) {
		perror("fuzz_sigframe: mmap");
		exit(2);
	}
	uview = r;
	close(fd);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	uint64_t xcr0, perm = 0, want, missing = 0;
	enum fpu_setup_error err;
	const char *seed_dir = getenv("FPUCTX_FUZZ_SEED_DIR");
	uint32_t r[4];
	unsigned b;

	(void)argc;
	(void)argv;
	if (!cpu_has_xsave()) {
		fprintf(stderr, "fuzz_sigframe: this CPU has no XSAVE (or the OS did not enable it): "
				"every input is a no-op\n");
		if (seed_dir)
			exit(0);
		return 0;
	}
	/* What this process may use: XCR0 less AMX unless permitted (as
	 * machine_permitted_features()); PKRU only with OSPKE. */
	xcr0 = fpu_xgetbv(0);
	if (xcr0 & FPU_XFEATURE_MASK(FPU_XFEATURE_XTILEDATA))
		syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, FPU_XFEATURE_XTILEDATA);
	if (syscall(SYS_arch_prctl, ARCH_GET_XCOMP_PERM, &perm) != 0)
		perm = xcr0 & ~AMX_MASK;
	want = xcr0 & perm;
	fpu_cpuid(7, 0, r);
	if (!(r[2] & (1u << 4)))
		want &= ~FPU_XFEATURE_MASK(FPU_XFEATURE_PKRU);
	err = fpu_system_init(&sys, fpu_policy_find("linux"), want, FPU_INSN__COUNT, &port_ops, NULL,
			      &missing);
	if (err != FPU_SETUP_OK || !sys.xs.has_xsave) {
		fprintf(stderr, "fuzz_sigframe: fpu_system_init: %s (missing 0x%llx)\n",
			fpu_setup_error_str(err), (unsigned long long)missing);
		exit(2);
	}
	if (getenv("FPUCTX_FUZZ_BUGS")) {
		char *list = strdup(getenv("FPUCTX_FUZZ_BUGS")), *save = NULL, *w;
		unsigned i;

		for (w = strtok_r(list, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
			for (i = 0; i < fpu_nbugs && strcmp(fpu_bugs[i].name, w); i++)
				;
			if (i == fpu_nbugs) {
				fprintf(stderr, "fuzz_sigframe: unknown bug '%s'\n", w);
				exit(2);
			}
			sys.bugs |= fpu_bugs[i].bit;
		}
		free(list);
	}
	umask = sys.user_features;
	fsize = fpu_sigframe_size(&sys);
	isize = fpu_xstate_size(&sys.xs, FPU_INSN_XSAVE, umask);
	if (isize < fsize)
		isize = fsize;

	if (!fpu_system_set_init_area(&sys, &init_st, alloc64(sys.state_size), sys.state_size) ||
	    !fpu_state_setup(&sys, &st, alloc64(sys.state_size), sys.state_size, 1)) {
		fprintf(stderr, "fuzz_sigframe: the library refused a state buffer\n");
		exit(1);
	}
	cpu.sys = &sys;
	cpu.id = 0;
	fpu_ctx_init(&sys, &ctx, &st, 1, false);

	pat_xs = sys.xs;
	orc.user_mask = umask;
	orc.std_size = isize;
	clean_img = alloc64(isize);
	pre_img = alloc64(isize);
	pat_img = alloc64(isize);
	out_img = alloc64(isize);
	pattern_build(&orc, clean_img, OWNER_INIT, 0, umask);
	pattern_build(&orc, pat_img, 1, 1, umask);
	pattern_build(&orc, pre_img, 4, 4, umask);

	machine_install_fault_handler();

	/* The base frames, written by the library from live registers. */
	for (b = 0; b < NBASE; b++)
		base[b] = alloc64(fsize);
	ctx.flags &= ~FPU_CTX_NEED_LOAD;
	cpu.owner = NULL;
	if (lib_save(pat_img, base[V_SAVED]) || lib_save(clean_img, base[V_INIT])) {
		fprintf(stderr, "fuzz_sigframe: fpu_signal_save failed\n");
		exit(2);
	}
	memcpy(base[V_COMPACTED], base[V_SAVED], fsize);
	if (sys.xs.has_xsavec)
		put64(base[V_COMPACTED] + HDR_COMP, FPU_XCOMP_BV_COMPACTED | get64(base[V_SAVED] + HDR_BV));
	for (b = 0; b < 4; b++)
		heap_block[b] = alloc64(fsize + misalign[0][b]);
	frame = heap_block[0];
	frame_copy = alloc64(fsize);
	setup_user_memory();

	fprintf(stderr, "fuzz_sigframe: user_features 0x%llx, frame %u bytes, xsaves %d xsavec %d pkru %d, "
			"injected bugs 0x%x\n", (unsigned long long)umask, fsize, sys.xs.has_xsaves,
		sys.xs.has_xsavec, sys.has_pkru, sys.bugs);

	if (seed_dir) {
		uint8_t *zero = alloc64(fsize);

		write_seed(seed_dir, "gen-raw-saved", V_RAW, base[V_SAVED], fsize);
		write_seed(seed_dir, "gen-raw-compacted", V_RAW, base[V_COMPACTED], fsize);
		write_seed(seed_dir, "gen-raw-init", V_RAW, base[V_INIT], fsize);
		write_seed(seed_dir, "gen-xor-saved-full", V_SAVED, zero, fsize);
		write_seed(seed_dir, "gen-xor-compacted-full-live", V_COMPACTED | 4, zero, fsize);
		/* xstate_size 576 (MAGIC2 right after the header) while XSTATE_BV
		 * still names every component: validation reads only the first
		 * page, XRSTOR all of them (placements 1 and 2, K = 1). */
		memcpy(zero, base[V_SAVED], fsize);
		memcpy(zero + FPU_SW_BYTES_OFFSET + 16, &(uint32_t){ FPU_XSAVE_EXT_OFFSET }, 4);
		memcpy(zero + FPU_XSAVE_EXT_OFFSET, &(uint32_t){ FPU_FP_XSTATE_MAGIC2 }, 4);
		write_seed(seed_dir, "gen-raw-short-evicted", V_RAW | M_EVICTED << 4 | 1 << 6, zero, fsize);
		write_seed(seed_dir, "gen-raw-short-unmapped", V_RAW | M_UNMAPPED << 4 | 1 << 6, zero, fsize);
		write_seed(seed_dir, "gen-raw-short-guard", V_RAW | M_GUARD << 4, zero, fsize);
		free(zero);
		exit(0);
	}
	verbose = getenv("FPUCTX_FUZZ_VERBOSE") != NULL;
	usable = true;
	return 0;
}

/* ------------------------------------------------------------------------
 * Checks
 * ---------------------------------------------------------------------- */

static unsigned g_sel;
static enum fpu_sigreturn g_r;

__attribute__((format(printf, 1, 2), noreturn))
static void broken(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "\nfuzz_sigframe: INVARIANT BROKEN: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n  variant %u, live %d, pre-state %s, placement %u (K %u of %u pages, %u fault-ins,"
			" frame at +%u);"
			" fpu_signal_restore: %s (%d)\n"
			"  frame: MXCSR 0x%08x, sw.magic1 0x%08x xfeatures 0x%llx xstate_size %u, "
			"XSTATE_BV 0x%llx XCOMP_BV 0x%llx\n",
		g_sel & 3, !!(g_sel & 4), (g_sel & 8) ? "init" : "pattern", mem_mode, (g_sel >> 6) % npages,
		npages, fault_ins, (unsigned)(uframe & 63), fpu_sigreturn_str(g_r), g_r,
		get32(frame + FPU_FXSAVE_MXCSR), get32(frame + FPU_SW_BYTES_OFFSET),
		(unsigned long long)get64(frame + SW_XFEAT), get32(frame + FPU_SW_BYTES_OFFSET + 16),
		(unsigned long long)get64(frame + HDR_BV), (unsigned long long)get64(frame + HDR_COMP));
	abort();
}

static bool zero(const uint8_t *p, uint32_t n)
{
	while (n--)
		if (*p++)
			return false;
	return true;
}

/* Bytes of component f that hold architectural state, as (offset, length)
 * runs; MXCSR (SSE) and FCW (x87) are checked separately, from STMXCSR and
 * FNSTCW. FOP/FIP/FDP are left out of the comparisons with the frame. */
static uint32_t spans(unsigned f, bool with_ptrs, uint32_t s[][2])
{
	uint32_t n = 0, i;

	if (f == FPU_XFEATURE_X87) {
		s[n][0] = FPU_FXSAVE_FSW, s[n++][1] = 3; /* FSW, abridged FTW */
		if (with_ptrs)
			s[n][0] = FPU_FXSAVE_FOP, s[n++][1] = 18;
		for (i = 0; i < 8; i++)
			s[n][0] = FPU_FXSAVE_ST + 16 * i, s[n++][1] = 10;
	} else if (f == FPU_XFEATURE_SSE) {
		s[n][0] = FPU_FXSAVE_XMM, s[n++][1] = 256;
	} else if (f == FPU_XFEATURE_PKRU) {
		s[n][0] = sys.xs.offset[f], s[n++][1] = 4;
	} else {
		s[n][0] = sys.xs.offset[f], s[n++][1] = sys.xs.size[f];
	}
	return n;
}

/* Component f of the captured image is in its init state (FCW/MXCSR aside). */
static bool comp_init(uint64_t obv, unsigned f)
{
	uint32_t s[12][2], n, i;

	if (!(obv & FPU_XFEATURE_MASK(f)))
		return true; /* XSAVE says so: whatever the bytes */
	n = spans(f, true, s);
	for (i = 0; i < n; i++)
		if (!zero(out_img + s[i][0], s[i][1]))
			return false;
	return true;
}

/* Component f of the captured image equals the frame's (standard format). */
static bool comp_equal(uint64_t obv, unsigned f, const uint8_t *fr)
{
	uint32_t s[12][2], n, i;

	n = spans(f, false, s);
	for (i = 0; i < n; i++) {
		bool ok = (obv & FPU_XFEATURE_MASK(f)) ? !memcmp(out_img + s[i][0], fr + s[i][0], s[i][1])
						   : zero(fr + s[i][0], s[i][1]);
		if (!ok)
			return false;
	}
	return true;
}

static void check_failed(const struct capture *c, uint64_t obv)
{
	unsigned f;

	if (c->fcw != FPU_FCW_DEFAULT)
		broken("failed sigreturn left FCW 0x%04x (reset state: 0x%04x)", c->fcw, FPU_FCW_DEFAULT);
	if (c->mxcsr != FPU_MXCSR_DEFAULT)
		broken("failed sigreturn left MXCSR 0x%08x (reset state: 0x%08x)", c->mxcsr, FPU_MXCSR_DEFAULT);
	for (f = 0; f < FPU_XFEATURE_MAX; f++) {
		if (!(umask & FPU_XFEATURE_MASK(f)) || f == FPU_XFEATURE_PKRU)
			continue;
		if (!comp_init(obv, f))
			broken("failed sigreturn left %s (component %u) not in init state (XSTATE_BV 0x%llx)",
			       fpu_xfeature_name(f), f, (unsigned long long)obv);
	}
	if (sys.has_pkru) {
		uint32_t pkru = (obv & FPU_XFEATURE_MASK(FPU_XFEATURE_PKRU)) ?
			get32(out_img + sys.xs.offset[FPU_XFEATURE_PKRU]) : 0;

		if (pkru != FPU_PKRU_DEFAULT || ctx.pkru != FPU_PKRU_DEFAULT)
			broken("failed sigreturn: PKRU 0x%08x, ctx->pkru 0x%08x (reset state: 0x%08x)",
			       pkru, ctx.pkru, FPU_PKRU_DEFAULT);
	}
	if (ctx.flags & FPU_CTX_NEED_LOAD)
		broken("failed sigreturn left NEED_LOAD set: the reset state in the registers is not the task's");
}

static void check_ok(const struct capture *c, uint64_t obv)
{
	bool fx = g_r == FPU_SIGRETURN_OK_FX_ONLY;
	uint64_t xrestore = fx ? FPU_XFEATURE_MASK_FPSSE : get64(frame + SW_XFEAT) & umask;
	uint64_t fbv = fx ? FPU_XFEATURE_MASK_FPSSE : get64(frame + HDR_BV);
	bool compacted = !fx && (get64(frame + HDR_COMP) & FPU_XCOMP_BV_COMPACTED);
	uint32_t fmx = get32(frame + FPU_FXSAVE_MXCSR);
	/* Legacy-only: FXRSTOR loads the frame's MXCSR, then the other
	 * components go to init; from a standard image (no XSAVES) with AVX
	 * in the mask that XRSTOR loads MXCSR as well (SDM 13.8.1). */
	uint32_t fx_mx = !(sys.xs.has_xsaves && sys.xs.has_xsavec) &&
			 (umask & FPU_XFEATURE_MASK(FPU_XFEATURE_AVX)) ? FPU_MXCSR_DEFAULT : fmx;
	unsigned f;

	if (ctx.flags & FPU_CTX_NEED_LOAD)
		broken("successful sigreturn left NEED_LOAD set: the registers would be overwritten "
		       "by the stale buffer at exit to user");
	for (f = 0; f < FPU_XFEATURE_MAX; f++) {
		uint64_t m = FPU_XFEATURE_MASK(f);

		if (!(umask & m))
			continue;
		if (!(xrestore & fbv & m)) {
			if (!comp_init(obv, f))
				broken("successful sigreturn: %s (component %u) not provided by the frame "
				       "(requested 0x%llx, XSTATE_BV 0x%llx) but not in init state",
				       fpu_xfeature_name(f), f, (unsigned long long)xrestore,
				       (unsigned long long)fbv);
			if (f == FPU_XFEATURE_X87 && c->fcw != FPU_FCW_DEFAULT)
				broken("successful sigreturn: x87 not provided by the frame but FCW 0x%04x",
				       c->fcw);
			continue;
		}
		if (compacted || (m & AMX_MASK))
			continue;
		if (f == FPU_XFEATURE_X87) {
			/* masks, precision and rounding control */
			if ((c->fcw & 0x0f3f) != (get16(frame + FPU_FXSAVE_FCW) & 0x0f3f))
				broken("successful sigreturn: FCW 0x%04x, frame's 0x%04x", c->fcw,
				       get16(frame + FPU_FXSAVE_FCW));
			continue;
		}
		if (!comp_equal(obv, f, frame))
			broken("successful sigreturn: %s (component %u) differs from the frame's",
			       fpu_xfeature_name(f), f);
	}
	if (fx ? c->mxcsr != fx_mx : (c->mxcsr != fmx && c->mxcsr != FPU_MXCSR_DEFAULT))
		broken("successful sigreturn: MXCSR 0x%08x, frame's 0x%08x%s", c->mxcsr, fmx,
		       !fx ? " (only that or 0x1f80 may be loaded)" :
		       fx_mx == fmx ? " (FXRSTOR loads it)" : " (the standard init image loads 0x1f80)");
	if (sys.has_pkru) {
		uint32_t pkru = (obv & FPU_XFEATURE_MASK(FPU_XFEATURE_PKRU)) ?
			get32(out_img + sys.xs.offset[FPU_XFEATURE_PKRU]) : 0;

		if (ctx.pkru != pkru)
			broken("successful sigreturn: ctx->pkru 0x%08x, register 0x%08x", ctx.pkru, pkru);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool probed;
	struct capture c = { 0, 0 };
	unsigned sel = size ? data[0] : 0, variant = sel & 3;
	const uint8_t *in = size ? data + 1 : data;
	size_t n = size ? size - 1 : 0, i;
	bool live = sel & 4, pre_init = sel & 8;
	uint64_t obv;

	if (!usable)
		return 0;
	if (!probed) {
		/* After libFuzzer installed its handlers: does a #GP still reach the fixup? */
		memcpy(frame, base[V_SAVED], fsize);
		put64(frame + HDR_COMP, 1); /* XCOMP_BV without bit 63 (standard form): #GP */
		if (probe_gp(frame) != 13) {
			fprintf(stderr, "fuzz_sigframe: an XRSTOR #GP did not reach the exception-table fixup\n");
			abort();
		}
		probed = true;
	}
	if (n > fsize)
		n = fsize;
	/* Where the frame lives. */
	if (prot_hi > prot_lo)
		mprotect((void *)prot_lo, prot_hi - prot_lo, PROT_READ | PROT_WRITE);
	prot_lo = prot_hi = 0;
	mem_mode = (sel >> 4) & 3;
	switch (mem_mode) {
	case M_HEAP:
		frame = heap_block[sel >> 6] + misalign[0][sel >> 6];
		uframe = (uintptr_t)frame;
		break;
	case M_EVICTED:
	case M_UNMAPPED:
		frame = kview;
		uframe = (uintptr_t)uview;
		prot_lo = (uintptr_t)uview + (uintptr_t)((sel >> 6) % npages) * 4096;
		prot_hi = (uintptr_t)uview + (uintptr_t)npages * 4096;
		break;
	case M_GUARD: /* the end less than 64 bytes before the page */
		i = misalign[1][sel >> 6];
		if (i > (size_t)npages * 4096 - fsize)
			i = 0; /* no room on these pages */
		i += ((size_t)npages * 4096 - fsize - i) & ~(size_t)63;
		frame = kview + i;
		uframe = (uintptr_t)uview + i;
		break;
	}
	if (variant == V_RAW) {
		memset(frame, 0, fsize);
		memcpy(frame, in, n);
	} else {
		memcpy(frame, base[variant], fsize);
		for (i = 0; i < n; i++)
			frame[i] ^= in[i];
	}
	keep_key0_open(&sys.xs, sys.has_pkru, frame, fsize); /* key 0 closed: the process would fault */
	memcpy(frame_copy, frame, fsize);
	if (prot_hi > prot_lo)
		mprotect((void *)prot_lo, prot_hi - prot_lo, PROT_NONE);
	fault_ins = 0;

	ctx.flags = live ? 0 : FPU_CTX_NEED_LOAD;
	ctx.pkru = FPU_PKRU_DEFAULT;
	cpu.owner = live ? &st : NULL;
	st.last_cpu = live ? 0 : -1;
	port_warns = 0;
	port_warn_what = NULL;
	g_sel = sel;

	g_r = lib_restore(pre_init ? clean_img : pre_img, (const uint8_t *)uframe, out_img, &c);

	obv = get64(out_img + HDR_BV);
	if (verbose)
		fprintf(stderr, "fuzz_sigframe: %zu bytes: variant %u live %d pre %s placement %u K %u at +%u: %s, "
				"%u fault-ins, XSTATE_BV after 0x%llx, MXCSR 0x%x FCW 0x%x\n", size, variant,
			live, pre_init ? "init" : "pattern", mem_mode, (sel >> 6) % npages,
			(unsigned)(uframe & 63), fpu_sigreturn_str(g_r), fault_ins, (unsigned long long)obv, c.mxcsr, c.fcw);
	if (g_r == FPU_SIGRETURN_REFUSED)
		broken("the CPU refused (XRSTOR/FXRSTOR fault) a frame that validation accepted");
	if (port_warns)
		broken("the library warned: %s", port_warn_what ? port_warn_what : "?");
	if ((unsigned)g_r > FPU_SIGRETURN_MISALIGNED)
		broken("unknown result %d", g_r);
	if (g_r == FPU_SIGRETURN_MISALIGNED && !(uframe & 63))
		broken("a 64-byte aligned frame rejected as misaligned");
	if ((uframe & 15) && g_r != FPU_SIGRETURN_MISALIGNED)
		broken("a frame at +%u from a 64-byte boundary not rejected as misaligned",
		       (unsigned)(uframe & 63));
	if (cpu.owner)
		broken("the CPU still names buffer %u as owner after sigreturn changed the registers",
		       cpu.owner->id);
	if (obv & ~umask)
		broken("XSTATE_BV 0x%llx outside the user features 0x%llx", (unsigned long long)obv,
		       (unsigned long long)umask);
	if (memcmp(frame, frame_copy, fsize))
		broken("fpu_signal_restore wrote to the user frame");
	if (g_r == FPU_SIGRETURN_FAULT && mem_mode != M_UNMAPPED)
		broken("the frame is all readable (%s), yet the sigreturn failed as unreadable",
		       mem_mode == M_EVICTED ? "evicted pages come back with fault_in()" :
		       "it ends before the inaccessible page");
	if (fpu_sigreturn_ok(g_r))
		check_ok(&c, obv);
	else
		check_failed(&c, obv);
	return 0;
}
