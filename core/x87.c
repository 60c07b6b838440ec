/* SPDX-License-Identifier: MIT */
/*
 * The x87 last-instruction pointers: FOP (11 bits), FIP and FDP (64-bit in
 * the REX.W save forms). Vendors differ in what a restore does with them:
 *
 *   Intel             restores and saves all three.
 *   AMD (XSAVEERPTR)  restores them only with an unmasked exception pending
 *                     (FSW.ES); otherwise they read back as zero.
 *   AMD (older)       the same, but without a pending exception the restore
 *                     leaves the previous values in place: the next context
 *                     can read the last one's (CVE-2006-1056). The library
 *                     scrubs them before restoring another context's state.
 *
 * Nothing here is assumed from the vendor string: a round trip of known
 * values measures what this CPU keeps, and a FILD followed by a restore and
 * FNSTENV measures whether it leaks. CPUID adds what it says (the vendor,
 * XSAVEERPTR, FDP_EXCPTN_ONLY, FCS/FDS deprecation) for the description.
 */
#include "fpuctx/xstate.h"
#include "fpuctx/insn.h"
#include "util.h"

#define CPUID7_EBX_FDP_EXCPTN_ONLY (1u << 6)
#define CPUID7_EBX_FCS_FDS_DEPR    (1u << 13)
#define CPUID80000008_EBX_XSAVEERPTR (1u << 2)

#define PROBE_FOP 0x05a5u
#define PROBE_FIP 0x00005a5a12345678ull  /* canonical: the CPU may sign-extend bit 47 */
#define PROBE_FDP 0x00004b4b87654320ull
#define FSW_ES    0x0080u
#define FSW_IE    0x0001u
#define FCW_ALL_MASKED 0x037fu

/* A legacy area with the probe's pointers; `pending` adds an unmasked
 * invalid-operation exception (FSW.IE|ES with FCW.IM clear). Nothing runs
 * x87 code while it is loaded, so the exception is never delivered. */
static void probe_image(uint8_t *area, bool pending)
{
	fpu_bytes_zero(area, FPU_FXSAVE_SIZE + FPU_XSAVE_HDR_SIZE);
	fpu_put16(area + FPU_FXSAVE_FCW, pending ? FCW_ALL_MASKED & ~1u : FCW_ALL_MASKED);
	fpu_put16(area + FPU_FXSAVE_FSW, pending ? FSW_ES | FSW_IE : 0);
	fpu_put16(area + FPU_FXSAVE_FOP, PROBE_FOP);
	fpu_put64(area + FPU_FXSAVE_FIP, PROBE_FIP);
	fpu_put64(area + FPU_FXSAVE_FDP, PROBE_FDP);
	fpu_put32(area + FPU_FXSAVE_MXCSR, FPU_MXCSR_DEFAULT);
	fpu_put64(area + FPU_XSAVE_HDR_OFFSET, FPU_XFEATURE_MASK(FPU_XFEATURE_X87)); /* XSTATE_BV */
}

static uint8_t kept_fields(const uint8_t *out)
{
	uint8_t kept = 0;

	if ((fpu_get16(out + FPU_FXSAVE_FOP) & 0x7ff) == PROBE_FOP)
		kept |= FPU_X87_FOP;
	if (fpu_get64(out + FPU_FXSAVE_FIP) == PROBE_FIP)
		kept |= FPU_X87_FIP;
	if (fpu_get64(out + FPU_FXSAVE_FDP) == PROBE_FDP)
		kept |= FPU_X87_FDP;
	return kept;
}

/* Restore then save with one instruction pair; what came back. */
static uint8_t round_trip(uint8_t *in, uint8_t *out, bool xsave)
{
	fpu_bytes_zero(out, FPU_FXSAVE_SIZE + FPU_XSAVE_HDR_SIZE);
	if (xsave) {
		fpu_xrstor(in, FPU_XFEATURE_MASK(FPU_XFEATURE_X87));
		fpu_xsave(out, FPU_XFEATURE_MASK(FPU_XFEATURE_X87));
	} else {
		fpu_fxrstor(in);
		fpu_fxsave(out);
	}
	return kept_fields(out);
}

/* FILD sets the pointers to its own addresses; does a restore of an image
 * with other pointers and no pending exception replace them? FNSTENV reads
 * the registers themselves, whatever the save instructions would write. */
static bool leaks_pointers(uint8_t *in, bool xsave)
{
	static const uint32_t operand;
	uint8_t env[28] __attribute__((aligned(16)));
	uintptr_t fild_at;

	__asm__ volatile("fninit\n\tlea 1f(%%rip), %0\n1:\tfildl %1" : "=r"(fild_at) : "m"(operand));
	if (xsave)
		fpu_xrstor(in, FPU_XFEATURE_MASK(FPU_XFEATURE_X87));
	else
		fpu_fxrstor(in);
	fpu_fnstenv(env);
	/* FDP too may not have moved (FDP_EXCPTN_ONLY): FIP decides as well. */
	return fpu_get32(env + 12) == (uint32_t)fild_at ||
	       fpu_get32(env + 20) == (uint32_t)(uintptr_t)&operand;
}

void fpu_x87_probe(struct fpu_x87_info *x87, bool has_xsave)
{
	uint8_t saved[FPU_FXSAVE_SIZE] __attribute__((aligned(64)));
	uint8_t in[FPU_FXSAVE_SIZE + FPU_XSAVE_HDR_SIZE] __attribute__((aligned(64)));
	uint8_t out[FPU_FXSAVE_SIZE + FPU_XSAVE_HDR_SIZE] __attribute__((aligned(64)));
	uint32_t r[4];

	fpu_bytes_zero(x87, sizeof(*x87));
	fpu_cpuid(0, 0, r);
	/* "Auth" "enti" "cAMD" / "Hygo" "nGen" "uine" in EBX EDX ECX */
	x87->amd = (r[1] == 0x68747541u && r[2] == 0x444d4163u) ||
		   (r[1] == 0x6f677948u && r[2] == 0x656e6975u);
	if (r[0] >= 7) {
		fpu_cpuid(7, 0, r);
		x87->fdp_excptn_only = r[1] & CPUID7_EBX_FDP_EXCPTN_ONLY;
		x87->fcs_fds_deprecated = r[1] & CPUID7_EBX_FCS_FDS_DEPR;
	}
	fpu_cpuid(0x80000000u, 0, r);
	if (r[0] >= 0x80000008u) {
		fpu_cpuid(0x80000008u, 0, r);
		x87->xsaveerptr = r[1] & CPUID80000008_EBX_XSAVEERPTR;
	}

	fpu_fxsave(saved); /* the caller's x87/SSE state comes back untouched */
	probe_image(in, false);
	x87->kept = round_trip(in, out, false);
	x87->leak_seen = leaks_pointers(in, false);
	if (has_xsave) {
		x87->kept &= round_trip(in, out, true);
		x87->leak_seen |= leaks_pointers(in, true);
	}
	probe_image(in, true);
	x87->kept_pending = round_trip(in, out, false);
	if (has_xsave)
		x87->kept_pending &= round_trip(in, out, true);
	fpu_fxrstor(saved);
	/* Linux's rule from CPUID (AMD without XSAVEERPTR), or the probe's. */
	x87->leaks = x87->leak_seen || (x87->amd && !x87->xsaveerptr);
}

const char *fpu_x87_describe(const struct fpu_x87_info *x87, bool pending)
{
	uint8_t k = pending ? x87->kept_pending : x87->kept;

	if (k == FPU_X87_POINTERS)
		return "kept";
	if (k == 0)
		return x87->leak_seen && !pending ? "not kept: the previous values stay (leak)"
						  : "not kept";
	if (k == (FPU_X87_FOP | FPU_X87_FIP))
		return "FOP and FIP kept, FDP not";
	if (k == FPU_X87_FIP)
		return "only FIP kept";
	if (k == FPU_X87_FDP)
		return "only FDP kept";
	return "partly kept";
}
