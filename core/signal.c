/* SPDX-License-Identifier: MIT */
/*
 * Signal frames: the FP area of a Linux x86-64 signal frame, written at
 * delivery and read back at sigreturn, under deferred restore.
 *
 * Delivery: the registers are the truth, so the task's state is loaded first
 * if it is not live, then XSAVEd straight to the user stack. The "is it live"
 * question is asked again on every retry: a fault-in may sleep, another task
 * may run, and then the registers hold someone else's state (Linux bug 8).
 *
 * sigreturn: every field XRSTOR would fault on is checked in software first
 * (so a CPU never takes a #GP from user data), the CPU is dropped as owner
 * before the registers change (another context's image may be in them, and
 * a failed XRSTOR may leave them half-written: Linux bugs 9 and 10), and any
 * failure leaves the task in its reset state (Linux bug 11).
 */
#include "fpuctx/signal.h"
#include "fpuctx/insn.h"
#include "backend.h"
#include "internal.h"
#include "util.h"

#define TRAP_PF 14
#define MIN_XSTATE_SIZE (FPU_FXSAVE_SIZE + FPU_XSAVE_HDR_SIZE)
#define AMX_MASK (FPU_XFEATURE_MASK(FPU_XFEATURE_XTILECFG) | FPU_XFEATURE_MASK(FPU_XFEATURE_XTILEDATA))

/* The init state in standard format. XSTATE_BV is 0, so XRSTOR reads only
 * the legacy area and the header, whatever the requested mask. */
static const uint8_t init_std[MIN_XSTATE_SIZE] __attribute__((aligned(64))) = {
	[FPU_FXSAVE_FCW] = FPU_FCW_DEFAULT & 0xff, [FPU_FXSAVE_FCW + 1] = FPU_FCW_DEFAULT >> 8,
	[FPU_FXSAVE_MXCSR] = FPU_MXCSR_DEFAULT & 0xff, [FPU_FXSAVE_MXCSR + 1] = FPU_MXCSR_DEFAULT >> 8,
};

/* The same in compacted form, for CPUs where Linux keeps its init image
 * compacted (those with XSAVES). The difference is visible: a compacted
 * XRSTOR touches MXCSR only when SSE is requested, a standard one whenever
 * SSE or AVX is (SDM 13.8). */
static const uint8_t init_compacted[MIN_XSTATE_SIZE] __attribute__((aligned(64))) = {
	[FPU_FXSAVE_FCW] = FPU_FCW_DEFAULT & 0xff, [FPU_FXSAVE_FCW + 1] = FPU_FCW_DEFAULT >> 8,
	[FPU_FXSAVE_MXCSR] = FPU_MXCSR_DEFAULT & 0xff, [FPU_FXSAVE_MXCSR + 1] = FPU_MXCSR_DEFAULT >> 8,
	[FPU_XSAVE_HDR_OFFSET + 15] = 0x80, /* XCOMP_BV bit 63; no component listed: all come back init */
};

static bool has_xsave(const struct fpu_system *sys)
{
	return sys->xs.has_xsave;
}

/* Puts `mask` in init state the way Linux does on this CPU. */
static void init_components(const struct fpu_system *sys, uint64_t mask)
{
	if (sys->xs.has_xsaves && sys->xs.has_xsavec) {
		fpu_xrstor(init_compacted, mask);
		return;
	}
	fpu_xrstor(init_std, mask);
	/* That XRSTOR has just loaded MXCSR from init_std if the mask has SSE
	 * or AVX (SDM 13.8.1: whatever XSTATE_BV says), so a legacy-only
	 * sigreturn ends with MXCSR 0x1f80 here, as under Linux. Some
	 * implementations load it only for SSE (QEMU's TCG, up to at least
	 * 7.2); say it again so the result is the architecture's on them too. */
	if (mask & (FPU_XFEATURE_MASK(FPU_XFEATURE_SSE) | FPU_XFEATURE_MASK(FPU_XFEATURE_AVX)))
		fpu_ldmxcsr(FPU_MXCSR_DEFAULT);
}

/* The CPU we run on now, locked. Never cached across anything that may
 * sleep: the task may wake up on another CPU (Linux bug 8's family). */
static struct fpu_cpu *lock_this_cpu(struct fpu_system *sys)
{
	struct fpu_cpu *cpu = sys->port->current_cpu(sys->port_data);

	fpu__lock(cpu);
	return cpu;
}

uint32_t fpu_sigframe_size(const struct fpu_system *sys)
{
	return has_xsave(sys) ? sys->user_size + FPU_FP_XSTATE_MAGIC2_SIZE : FPU_FXSAVE_SIZE;
}

/* What the frame's XSAVE writes: every user feature, except AMX tiles that
 * are in init state (Linux skips those: 8 KB of zeros per signal). */
static uint64_t frame_mask(const struct fpu_system *sys)
{
	uint64_t mask = sys->user_features;

	if ((mask & AMX_MASK) && sys->xs.has_xgetbv1)
		mask &= fpu_xinuse() | ~AMX_MASK;
	return mask;
}

/* Bytes an XSAVE or XRSTOR of a frame moves (docs/design.md, "Bytes"): the
 * header, MXCSR where the format moves it, the components of rfbm the image
 * marks present in bv (a plain XSAVE writes all of rfbm: bv = rfbm). The
 * components past SSE come from the system's tables; PKRU, which context
 * buffers do not hold, is added apart. */
static uint32_t frame_bytes(const struct fpu_system *sys, uint64_t rfbm, uint64_t bv, bool compacted)
{
	const uint64_t x87 = FPU_XFEATURE_MASK(FPU_XFEATURE_X87), sse = FPU_XFEATURE_MASK(FPU_XFEATURE_SSE);
	const uint64_t avx = FPU_XFEATURE_MASK(FPU_XFEATURE_AVX), pkru = FPU_XFEATURE_MASK(FPU_XFEATURE_PKRU);
	uint64_t m = rfbm & bv;
	uint32_t n = FPU_XSAVE_HDR_SIZE;

	if (compacted ? (m & sse) : (rfbm & (sse | avx)))
		n += FPU_MXCSR_BYTES;
	if (m & x87)
		n += sys->xs.size[FPU_XFEATURE_X87] - FPU_MXCSR_BYTES;
	if (m & sse)
		n += sys->xs.size[FPU_XFEATURE_SSE];
	if (m & pkru)
		n += sys->xs.size[FPU_XFEATURE_PKRU];
	m &= sys->bytes.mask & ~FPU_XFEATURE_MASK_FPSSE;
	return n + fpu_xstate_bytes(&sys->bytes, m) - sys->bytes.fixed;
}

void fpu_signal_reset(struct fpu_cpu *cpu, struct fpu_ctx *ctx)
{
	struct fpu_system *sys = cpu->sys;

	fpu__lock(cpu);
	fpu__supersede(cpu, ctx);
	fpu__flush_owner(cpu); /* I9: another's unsaved image goes home before the clobber */
	fpu__drop_cpu_owner(cpu);
	fpu__scrub_x87_pointers(cpu, 0);
	fpu_hw_restore_as(sys, init_std, sys->user_features & ~FPU_XFEATURE_MASK(FPU_XFEATURE_PKRU),
			  !has_xsave(sys));
	if (sys->has_pkru)
		fpu__write_pkru(cpu, ctx, FPU_PKRU_DEFAULT);
	ctx->pkru = FPU_PKRU_DEFAULT;
	ctx->flags &= ~FPU_CTX_NEED_LOAD; /* live: the registers hold its (init) state */
	fpu__unlock(cpu);
}

/* XSAVE (or FXSAVE) of the live state to user memory, retrying after a
 * fault-in. Which CPU we are on, and whether the registers are ours, is asked
 * again on every try. Returns the CPU it finished on, or NULL; *bytes: what
 * the save wrote. */
static struct fpu_cpu *save_to_user(struct fpu_system *sys, struct fpu_ctx *ctx, uintptr_t buf,
				    uint32_t *bytes)
{
	struct fpu_cpu *cpu;
	uint32_t trap;
#ifdef FPUCTX_TESTING
	struct fpu_cpu *stale_cpu = sys->port->current_cpu(sys->port_data);
	bool stale_live = fpu__regs_live(sys, ctx); /* only the injected bug uses these */
#endif

	for (;;) {
#ifdef FPUCTX_TESTING
		if (FPU_BUG(sys, SIGFRAME_STALE_OWNER)) {
			cpu = stale_cpu;
			fpu__lock(cpu);
			if (!stale_live)
				fpu__make_regs_live(cpu, ctx);
			stale_live = true;
		} else
#endif
		{
			cpu = lock_this_cpu(sys);
			if (!fpu__regs_live(sys, ctx))
				fpu__make_regs_live(cpu, ctx);
		}
		if (has_xsave(sys)) {
			uint64_t mask = frame_mask(sys);

			trap = fpu_xsave_safe((void *)buf, mask);
			*bytes = frame_bytes(sys, mask, mask, false);
		} else {
			trap = fpu_fxsave_safe((void *)buf);
			*bytes = FPU_FXSAVE_SIZE;
		}
		fpu__unlock(cpu);
		if (!trap)
			return cpu;
		if (trap != TRAP_PF ||
		    sys->port->fault_in(sys->port_data, buf, fpu_sigframe_size(sys), true))
			return 0;
	}
}

int fpu_signal_save(struct fpu_system *sys, struct fpu_ctx *ctx, uintptr_t buf)
{
	const struct fpu_port_ops *port = sys->port;
	struct fpu_cpu *cpu;
	struct fpu_sw_bytes sw;
	uint32_t magic2 = FPU_FP_XSTATE_MAGIC2, bv, bytes = 0;

	fpu_bytes_zero(&sw, sizeof(sw));
	/* XSAVE writes XSTATE_BV only: the rest of the header must read as zero. */
	if (has_xsave(sys) &&
	    port->copy_to_user(sys->port_data, buf + FPU_XSAVE_HDR_OFFSET, init_std + FPU_XSAVE_HDR_OFFSET,
			       FPU_XSAVE_HDR_SIZE))
		goto fault;
	cpu = save_to_user(sys, ctx, buf, &bytes);
	if (!cpu)
		goto fault;
	fpu__count_save(cpu, ctx, bytes, fpu_sigframe_size(sys));
	if (has_xsave(sys)) {
		sw.magic1 = FPU_FP_XSTATE_MAGIC1;
		sw.extended_size = sys->user_size + FPU_FP_XSTATE_MAGIC2_SIZE;
		sw.xfeatures = sys->user_features;
		sw.xstate_size = sys->user_size;
	}
	if (port->copy_to_user(sys->port_data, buf + FPU_SW_BYTES_OFFSET, &sw, sizeof(sw)))
		goto fault;
	if (has_xsave(sys)) {
		/* FP and SSE always marked present: legacy programs edit only the
		 * FXSAVE area and expect sigreturn to take their edits. */
		if (port->copy_to_user(sys->port_data, buf + sys->user_size, &magic2, 4) ||
		    port->copy_from_user(sys->port_data, &bv, buf + FPU_XSAVE_HDR_OFFSET, 4))
			goto fault;
		bv |= (uint32_t)FPU_XFEATURE_MASK_FPSSE;
		if (port->copy_to_user(sys->port_data, buf + FPU_XSAVE_HDR_OFFSET, &bv, 4))
			goto fault;
	}
	fpu__emit(port->current_cpu(sys->port_data), FPU_EV_SIGFRAME_SAVE, ctx, 0, bytes, buf);
	return 0;
fault:
	fpu__emit(port->current_cpu(sys->port_data), FPU_EV_SIGFRAME_FAULT, ctx, 0, 0, buf);
	return -1;
}

/* ---- sigreturn ---- */

struct frame_check {
	bool fx_only;
	bool compacted;       /* XCOMP_BV bit 63 (validate) */
	uint64_t xrestore;
	uint64_t xstate_bv;   /* the frame's, as validate read it */
};

/* Linux's rules: a frame without a valid extended part is not an error, it
 * is read as a legacy FXSAVE image. */
static enum fpu_sigreturn read_sw_bytes(struct fpu_system *sys, uintptr_t buf,
					struct frame_check *fc)
{
	const struct fpu_port_ops *port = sys->port;
	struct fpu_sw_bytes sw;
	uint32_t magic2;

	fc->fx_only = true;
	fc->compacted = false;
	fc->xrestore = FPU_XFEATURE_MASK_FPSSE;
	fc->xstate_bv = 0;
	if (!has_xsave(sys))
		return FPU_SIGRETURN_OK;
	if (port->copy_from_user(sys->port_data, &sw, buf + FPU_SW_BYTES_OFFSET, sizeof(sw)))
		return FPU_SIGRETURN_FAULT;
	if (sw.magic1 != FPU_FP_XSTATE_MAGIC1 || sw.xstate_size < MIN_XSTATE_SIZE ||
	    sw.xstate_size > sys->user_size || sw.xstate_size > sw.extended_size)
		return FPU_SIGRETURN_OK;
	if (port->copy_from_user(sys->port_data, &magic2, buf + sw.xstate_size, 4))
		return FPU_SIGRETURN_FAULT;
	if (magic2 != FPU_FP_XSTATE_MAGIC2)
		return FPU_SIGRETURN_OK;
	fc->fx_only = false;
	fc->xrestore = sw.xfeatures & sys->user_features;
	return FPU_SIGRETURN_OK;
}

static bool bytes_zero(const uint8_t *p, uint32_t n)
{
	while (n--)
		if (*p++)
			return false;
	return true;
}

/* The alignment the restore instruction demands of its operand (#GP if
 * not): 64 bytes for XRSTOR, 16 for FXRSTOR, which restores legacy-only
 * frames, and every frame on CPUs without XSAVE. */
static uintptr_t frame_align(const struct frame_check *fc)
{
	return fc->fx_only ? 16 : 64;
}

/* Everything XRSTOR/FXRSTOR would raise #GP for, checked before using it. */
static enum fpu_sigreturn validate(struct fpu_system *sys, uintptr_t buf,
				   struct frame_check *fc)
{
	const struct fpu_port_ops *port = sys->port;
	uint8_t hdr[FPU_XSAVE_HDR_SIZE];
	uint64_t xstate_bv, xcomp_bv, xcr0 = sys->xs.xcr0;
	uint32_t mxcsr;

	const uint64_t sse = FPU_XFEATURE_MASK(FPU_XFEATURE_SSE), avx = FPU_XFEATURE_MASK(FPU_XFEATURE_AVX);
	bool mxcsr_loaded;

	/* The frame pointer is the user's to change (uc_mcontext.fpregs). */
	if (buf & (frame_align(fc) - 1))
		return FPU_SIGRETURN_MISALIGNED;
	if (port->copy_from_user(sys->port_data, &mxcsr, buf + FPU_FXSAVE_MXCSR, 4))
		return FPU_SIGRETURN_FAULT;
	if (fc->fx_only)
		return (mxcsr & ~sys->xs.mxcsr_mask) ? FPU_SIGRETURN_BAD_MXCSR : FPU_SIGRETURN_OK;
	if (port->copy_from_user(sys->port_data, hdr, buf + FPU_XSAVE_HDR_OFFSET, sizeof(hdr)))
		return FPU_SIGRETURN_FAULT;
	xstate_bv = fpu_get64(hdr);
	xcomp_bv = fpu_get64(hdr + 8);
	fc->xstate_bv = xstate_bv;
	fc->compacted = xcomp_bv & FPU_XCOMP_BV_COMPACTED;
	if (!(xcomp_bv & FPU_XCOMP_BV_COMPACTED)) {
		/* Standard form: bytes 8-23 must be zero, 24-63 are not looked at;
		 * MXCSR is loaded whenever SSE or AVX is requested. */
		if (xstate_bv & ~xcr0)
			return FPU_SIGRETURN_BAD_XSTATE_BV;
		if (!bytes_zero(hdr + 8, 16))
			return FPU_SIGRETURN_BAD_HEADER;
		mxcsr_loaded = fc->xrestore & (sse | avx);
	} else {
		/* Compacted form: read if consistent, as the CPU (and Linux) do;
		 * MXCSR is loaded only when SSE is requested and present. */
		if (!sys->xs.has_xsavec || (xcomp_bv & ~FPU_XCOMP_BV_COMPACTED & ~xcr0) ||
		    !bytes_zero(hdr + 16, FPU_XSAVE_HDR_SIZE - 16))
			return FPU_SIGRETURN_BAD_HEADER;
		if (xstate_bv & ~(xcomp_bv & ~FPU_XCOMP_BV_COMPACTED))
			return FPU_SIGRETURN_BAD_XSTATE_BV;
		mxcsr_loaded = (fc->xrestore & sse) && (xstate_bv & sse);
	}
	if (mxcsr_loaded && (mxcsr & ~sys->xs.mxcsr_mask))
		return FPU_SIGRETURN_BAD_MXCSR;
	return FPU_SIGRETURN_OK;
}

static enum fpu_sigreturn fail(struct fpu_system *sys, struct fpu_ctx *ctx, enum fpu_sigreturn r)
{
	struct fpu_cpu *cpu = sys->port->current_cpu(sys->port_data);

	if (!FPU_BUG(sys, SIGRETURN_NO_RESET))
		fpu_signal_reset(cpu, ctx);
	fpu__emit(cpu, FPU_EV_SIGRETURN_FAILED, ctx, 0, 0, r);
	return r;
}

#ifdef FPUCTX_TESTING
/* The injected Linux bug 10: the frame goes into the kernel buffer as it is,
 * to be loaded at exit to user, where the CPU may refuse it. */
static enum fpu_sigreturn restore_unvalidated(struct fpu_system *sys, struct fpu_ctx *ctx,
					      uintptr_t buf)
{
	struct fpu_state *s = ctx->active;
	uint32_t n = sys->user_size < sys->state_size ? sys->user_size : sys->state_size;
	struct fpu_cpu *cpu;

	if (sys->port->copy_from_user(sys->port_data, s->area, buf, n))
		return fail(sys, ctx, FPU_SIGRETURN_FAULT);
	cpu = lock_this_cpu(sys);
	fpu__forget_state(cpu, s);
	fpu__set_need_load(cpu, ctx);
	fpu__unlock(cpu);
	return FPU_SIGRETURN_OK;
}
#endif

enum fpu_sigreturn fpu_signal_restore(struct fpu_system *sys, struct fpu_ctx *ctx, uintptr_t buf)
{
	struct fpu_cpu *cpu;
	struct frame_check fc;
	enum fpu_sigreturn r;
	uint32_t trap, bytes;

	if (!buf) {
		fpu_signal_reset(sys->port->current_cpu(sys->port_data), ctx);
		return FPU_SIGRETURN_OK;
	}
#ifdef FPUCTX_TESTING
	if (FPU_BUG(sys, SIGRETURN_UNVALIDATED))
		return restore_unvalidated(sys, ctx, buf);
#endif
	r = read_sw_bytes(sys, buf, &fc);
	if (r == FPU_SIGRETURN_OK)
		r = validate(sys, buf, &fc);
	if (r != FPU_SIGRETURN_OK)
		return fail(sys, ctx, r);
	for (;;) {
		cpu = lock_this_cpu(sys);
		/* The registers stop being anybody's image now, even if this fails;
		 * an unsaved one goes home first, unless it is ctx's own (I9). */
		fpu__supersede(cpu, ctx);
		fpu__flush_owner(cpu);
		if (!FPU_BUG(sys, SIGRETURN_KEEPS_OWNER))
			fpu__drop_cpu_owner(cpu);
		fpu__scrub_x87_pointers(cpu, 0);
		trap = fpu_hw_restore_as(sys, (const void *)buf, fc.xrestore, fc.fx_only);
		if (!trap)
			break;
		fpu__unlock(cpu);
		if (trap != TRAP_PF) {
			fpu__warn(cpu, "XRSTOR refused a signal frame that validation accepted");
			return fail(sys, ctx, FPU_SIGRETURN_REFUSED);
		}
		if (sys->port->fault_in(sys->port_data, buf, fpu_sigframe_size(sys), false))
			return fail(sys, ctx, FPU_SIGRETURN_FAULT);
	}
	/* Components the frame did not provide go to init (PKRU included: 0). */
	if (has_xsave(sys) && (sys->user_features & ~fc.xrestore))
		init_components(sys, sys->user_features & ~fc.xrestore);
	ctx->flags &= ~FPU_CTX_NEED_LOAD;
	if (FPU_BUG(sys, SIGRETURN_PKRU_DEFAULT) && sys->has_pkru && fpu_rdpkru() == 0)
		fpu_wrpkru(FPU_PKRU_DEFAULT);
	if (sys->has_pkru)
		ctx->pkru = fpu_rdpkru();
	bytes = fc.fx_only ? FPU_FXSAVE_SIZE : frame_bytes(sys, fc.xrestore, fc.xstate_bv, fc.compacted);
	fpu__count_restore(cpu, ctx, bytes, fpu_sigframe_size(sys));
	fpu__emit(cpu, FPU_EV_SIGRETURN, ctx, 0, bytes, fc.fx_only);
	fpu__unlock(cpu);
	return fc.fx_only ? FPU_SIGRETURN_OK_FX_ONLY : FPU_SIGRETURN_OK;
}

bool fpu_sigreturn_ok(enum fpu_sigreturn r)
{
	return r == FPU_SIGRETURN_OK || r == FPU_SIGRETURN_OK_FX_ONLY;
}

const char *fpu_sigreturn_str(enum fpu_sigreturn r)
{
	switch (r) {
	case FPU_SIGRETURN_OK: return "ok";
	case FPU_SIGRETURN_OK_FX_ONLY: return "ok (legacy area only)";
	case FPU_SIGRETURN_FAULT: return "frame not readable";
	case FPU_SIGRETURN_BAD_HEADER: return "bad XSAVE header (XCOMP_BV or reserved bytes)";
	case FPU_SIGRETURN_BAD_XSTATE_BV: return "XSTATE_BV names components not enabled";
	case FPU_SIGRETURN_BAD_MXCSR: return "reserved MXCSR bits set";
	case FPU_SIGRETURN_REFUSED: return "the CPU refused the frame";
	case FPU_SIGRETURN_MISALIGNED: return "frame misaligned (XRSTOR: 64 bytes, FXRSTOR: 16)";
	}
	return "unknown";
}
