/* SPDX-License-Identifier: MIT */
/*
 * Save/restore backends. Chosen once at init; every later save uses the same
 * instruction, so a buffer's format never changes under it.
 *
 * Never used for signal frames or for buffers that other code rewrites in
 * memory: XSAVEOPT's modified optimization may skip a component that has not
 * changed since the last XRSTOR from the same address, which is only safe when
 * nobody else wrote that buffer in between (the state machine guarantees this
 * by always restoring before it saves into a buffer again).
 */
#include "backend.h"
#include "fpuctx/insn.h"
#include "util.h"
#include "fpuctx/testing.h"

static uint64_t header_bv(const void *area)
{
	return fpu_get64((const uint8_t *)area + FPU_XSAVE_HDR_OFFSET);
}

/* XSAVEOPT and XSAVEC skip what is in init state: the XSTATE_BV they just
 * wrote says what they stored (XSAVEOPT may also skip what is unchanged since
 * the last XRSTOR from the area; that is not visible and still counts). */
uint32_t fpu_hw_save(const struct fpu_system *sys, void *area, uint64_t mask)
{
	switch (sys->insn) {
	case FPU_INSN_FXSAVE:
		fpu_fxsave(area);
		return FPU_FXSAVE_SIZE;
	case FPU_INSN_XSAVE:
		fpu_xsave(area, mask);
		return fpu_xstate_bytes(&sys->bytes, mask);
	case FPU_INSN_XSAVEOPT:
		fpu_xsaveopt(area, mask);
		return fpu_xstate_bytes(&sys->bytes, header_bv(area) & mask);
	case FPU_INSN_XSAVEC:
		fpu_xsavec(area, mask);
		return fpu_xstate_bytes(&sys->bytes, header_bv(area) & mask);
	default:
		return 0;
	}
}

uint32_t fpu_hw_restore_bytes(const struct fpu_system *sys, const void *area, uint64_t mask)
{
	if (sys->insn == FPU_INSN_FXSAVE)
		return FPU_FXSAVE_SIZE;
	return fpu_xstate_bytes(&sys->bytes, header_bv(area) & mask);
}

uint32_t fpu_hw_copy(const struct fpu_system *sys, void *dst, const void *src, uint64_t mask)
{
	uint8_t *d = dst;
	const uint8_t *s = src;
	uint64_t bv;
	uint32_t n;
	unsigned f;

	if (sys->insn == FPU_INSN_FXSAVE) {
		fpu_bytes_copy(d, s, FPU_FXSAVE_SIZE);
		return FPU_FXSAVE_SIZE;
	}
	/* Component offsets are the system's only for its own mask and, in
	 * compacted format, only if XCOMP_BV says so (a buffer a bug filled from
	 * outside may say otherwise): then all of it, as XRSTOR might read it. */
	if (mask != sys->mask ||
	    fpu_get64(s + FPU_XSAVE_HDR_OFFSET + 8) !=
		    (sys->insn == FPU_INSN_XSAVEC ? FPU_XCOMP_BV_COMPACTED | mask : 0)) {
		n = fpu_hw_bytes(sys, mask);
		fpu_bytes_copy(d, s, n);
		return n;
	}
	/* The whole legacy area: MXCSR and the bytes no save writes go along. */
	fpu_bytes_copy(d, s, FPU_XSAVE_EXT_OFFSET);
	n = FPU_XSAVE_EXT_OFFSET;
	bv = header_bv(s) & mask & sys->bytes.mask & ~FPU_XFEATURE_MASK_FPSSE;
	for (; bv; bv &= bv - 1) {
		f = (unsigned)__builtin_ctzll(bv);
		fpu_bytes_copy(d + sys->bytes.offset[f], s + sys->bytes.offset[f], sys->xs.size[f]);
		n += sys->xs.size[f];
	}
	return n;
}

#ifdef FPUCTX_TESTING
/* FPU_PRETEND_FXSAVE_LEAK: after the restore, put back the x87 pointers
 * the registers held before it unless the restored state has an exception
 * pending, as pre-XSAVEERPTR AMD parts do. Test-only, on the real registers. */
static void pretend_leak(const uint8_t *before)
{
	uint8_t after[FPU_FXSAVE_SIZE] __attribute__((aligned(16)));

	fpu_fxsave(after);
	if (fpu_get16(after + FPU_FXSAVE_FSW) & 0x80)
		return;
	fpu_bytes_copy(after + FPU_FXSAVE_FOP, before + FPU_FXSAVE_FOP, FPU_FXSAVE_MXCSR - FPU_FXSAVE_FOP);
	fpu_fxrstor(after);
}

/* Apart, so that the ordinary restore keeps no buffer on its stack: an
 * instrumented build's epilogue for one may run SIMD code in its runtime,
 * after the restore, on the registers just loaded. */
static __attribute__((noinline)) uint32_t restore_pretending_leak(const void *area, uint64_t mask,
								   bool fx)
{
	uint8_t before[FPU_FXSAVE_SIZE] __attribute__((aligned(16)));
	uint32_t trap;

	fpu_fxsave(before);
	trap = fx ? fpu_fxrstor_safe(area) : fpu_xrstor_safe(area, mask);
	if (!trap)
		pretend_leak(before);
	return trap;
}
#endif

uint32_t fpu_hw_restore_as(const struct fpu_system *sys, const void *area, uint64_t mask, bool fx)
{
#ifdef FPUCTX_TESTING
	if (FPU_PRETENDS(sys, FXSAVE_LEAK))
		return restore_pretending_leak(area, mask, fx);
#else
	(void)sys;
#endif
	return fx ? fpu_fxrstor_safe(area) : fpu_xrstor_safe(area, mask);
}

uint32_t fpu_hw_restore(const struct fpu_system *sys, const void *area, uint64_t mask)
{
	return fpu_hw_restore_as(sys, area, mask, sys->insn == FPU_INSN_FXSAVE);
}


/* XSAVEC: compact buffers and the init optimization. Xen measured XSAVEOPT
 * faster on some parts; `make bench` prints both so the choice can be checked. */
enum fpu_insn fpu_hw_best_insn(const struct fpu_xstate_info *xs)
{
	static const enum fpu_insn order[] = {
		FPU_INSN_XSAVEC, FPU_INSN_XSAVEOPT, FPU_INSN_XSAVE, FPU_INSN_FXSAVE,
	};
	unsigned i;

	for (i = 0; i < sizeof(order) / sizeof(order[0]); i++)
		if (fpu_insn_supported(xs, order[i]))
			return order[i];
	return FPU_INSN__COUNT;
}
