/* SPDX-License-Identifier: MIT */
/*
 * Conversions between the system's buffer format (standard or compacted)
 * and the standard user-ABI layout, and the validation of standard images
 * that come from outside (a VMM setting guest state, a debugger).
 */
#include "fpuctx/regset.h"
#include "util.h"

static uint64_t header_bv(const uint8_t *buf)
{
	return fpu_get64(buf + FPU_XSAVE_HDR_OFFSET);
}

/* Init values: zero everywhere except FCW (x87) and MXCSR (SSE). */
static void write_init(uint8_t *dst, uint32_t off, uint32_t size)
{
	fpu_bytes_zero(dst + off, size);
}

void fpu_regset_to_standard(const struct fpu_system *sys, const void *src, uint64_t mask, void *dst)
{
	const struct fpu_xstate_info *xs = &sys->xs;
	const uint8_t *s = src;
	uint8_t *d = dst;
	uint64_t bv = sys->insn == FPU_INSN_FXSAVE ? FPU_XFEATURE_MASK_FPSSE : header_bv(s) & mask;
	unsigned f;

	fpu_bytes_zero(d, fpu_xstate_size(xs, FPU_INSN_XSAVE, mask));
	fpu_bytes_copy(d, s, FPU_FXSAVE_SIZE);  /* legacy area: same place in every format */
	if (!(bv & FPU_XFEATURE_MASK(FPU_XFEATURE_X87))) {
		write_init(d, 0, FPU_FXSAVE_MXCSR);
		fpu_put16(d + FPU_FXSAVE_FCW, FPU_FCW_DEFAULT);
		write_init(d, FPU_FXSAVE_ST, FPU_FXSAVE_XMM - FPU_FXSAVE_ST);
	}
	if (!(bv & FPU_XFEATURE_MASK(FPU_XFEATURE_SSE))) {
		write_init(d, FPU_FXSAVE_XMM, 256);
		/* Compacted format: XSAVEC writes MXCSR only with SSE, and XRSTOR
		 * then loads 0x1f80, whatever the buffer holds (standard format:
		 * both always move it, so the buffer's is the state). */
		if (sys->insn == FPU_INSN_XSAVEC) {
			fpu_put32(d + FPU_FXSAVE_MXCSR, FPU_MXCSR_DEFAULT);
			fpu_put32(d + FPU_FXSAVE_MXCSR_MASK, xs->mxcsr_mask);
		}
	}
	fpu_bytes_zero(d + FPU_FXSAVE_SW_RESERVED, FPU_FXSAVE_SIZE - FPU_FXSAVE_SW_RESERVED);
	for (f = 2; f < FPU_XFEATURE_MAX; f++) {
		if (!(bv & FPU_XFEATURE_MASK(f)))
			continue;
		fpu_bytes_copy(d + xs->offset[f], s + fpu_xstate_offset(xs, sys->insn, sys->mask, f),
			       xs->size[f]);
	}
	fpu_put64(d + FPU_XSAVE_HDR_OFFSET, bv);
}

void fpu_regset_from_standard(const struct fpu_system *sys, const void *src, uint64_t mask, void *dst)
{
	const struct fpu_xstate_info *xs = &sys->xs;
	const uint8_t *s = src;
	uint8_t *d = dst;
	uint64_t bv = header_bv(s) & mask;
	unsigned f;

	fpu_bytes_zero(d, sys->state_size);
	fpu_bytes_copy(d, s, FPU_FXSAVE_SW_RESERVED);
	if (sys->insn == FPU_INSN_FXSAVE)
		return;
	for (f = 2; f < FPU_XFEATURE_MAX; f++)
		if (bv & FPU_XFEATURE_MASK(f) & sys->mask)
			fpu_bytes_copy(d + fpu_xstate_offset(xs, sys->insn, sys->mask, f),
				       s + xs->offset[f], xs->size[f]);
	fpu_put64(d + FPU_XSAVE_HDR_OFFSET, bv & (sys->mask | FPU_XFEATURE_MASK_FPSSE));
	if (sys->insn == FPU_INSN_XSAVEC)
		fpu_put64(d + FPU_XSAVE_HDR_OFFSET + 8, FPU_XCOMP_BV_COMPACTED | sys->mask);
}

enum fpu_regset_error fpu_regset_validate(const struct fpu_system *sys, const void *src,
					  uint64_t allowed)
{
	const uint8_t *s = src;
	uint32_t i;

	if (header_bv(s) & ~allowed)
		return FPU_REGSET_BAD_XSTATE_BV;
	for (i = 8; i < FPU_XSAVE_HDR_SIZE; i++)
		if (s[FPU_XSAVE_HDR_OFFSET + i])
			return FPU_REGSET_BAD_HEADER;
	if (fpu_get32(s + FPU_FXSAVE_MXCSR) & ~sys->xs.mxcsr_mask)
		return FPU_REGSET_BAD_MXCSR;
	return FPU_REGSET_OK;
}

const char *fpu_regset_error_str(enum fpu_regset_error e)
{
	switch (e) {
	case FPU_REGSET_OK: return "ok";
	case FPU_REGSET_BAD_HEADER: return "XCOMP_BV or reserved header bytes not zero";
	case FPU_REGSET_BAD_XSTATE_BV: return "XSTATE_BV names components the context may not use";
	case FPU_REGSET_BAD_MXCSR: return "reserved MXCSR bits set";
	case FPU_REGSET_BUSY: return "the guest state is in use by a run call";
	}
	return "unknown";
}
