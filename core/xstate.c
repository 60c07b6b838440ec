/* SPDX-License-Identifier: MIT */
/*
 * xstate enumeration: which components exist, where they live in the
 * standard and compacted formats, and the init image.
 *
 * Everything comes from CPUID leaf 0xD and XCR0; nothing is assumed about a
 * particular CPU. The legacy components (x87, SSE) live in the 512-byte
 * FXSAVE region and are described with their legacy offsets.
 */
#include "fpuctx/xstate.h"
#include "fpuctx/insn.h"
#include "util.h"

#define CPUID1_ECX_XSAVE   (1u << 26)
#define CPUID1_ECX_OSXSAVE (1u << 27)
#define CPUID1_EDX_FXSR    (1u << 24)
#define CPUID7_ECX_OSPKE   (1u << 4)
#define CPUIDD1_EAX_XSAVEOPT (1u << 0)
#define CPUIDD1_EAX_XSAVEC   (1u << 1)
#define CPUIDD1_EAX_XGETBV1  (1u << 2)
#define CPUIDD1_EAX_XSAVES   (1u << 3)
#define CPUIDD_ECX_SUPERVISOR (1u << 0)
#define CPUIDD_ECX_ALIGN64    (1u << 1)

static const char *const xfeature_names[FPU_XFEATURE_MAX] = {
	"x87", "sse", "avx", "bndregs", "bndcsr", "opmask", "zmm_hi256", "hi16_zmm",
	"pt", "pkru", "pasid", "cet_u", "cet_s", "hdc", "uintr", "lbr", "hwp",
	"xtilecfg", "xtiledata", "apx",
};

const char *fpu_xfeature_name(unsigned f)
{
	if (f < FPU_XFEATURE_MAX && xfeature_names[f])
		return xfeature_names[f];
	return "unknown";
}

const char *fpu_insn_name(enum fpu_insn insn)
{
	switch (insn) {
	case FPU_INSN_FXSAVE: return "fxsave";
	case FPU_INSN_XSAVE: return "xsave";
	case FPU_INSN_XSAVEOPT: return "xsaveopt";
	case FPU_INSN_XSAVEC: return "xsavec";
	default: return "none";
	}
}

const char *fpu_setup_error_str(enum fpu_setup_error e)
{
	switch (e) {
	case FPU_SETUP_OK: return "ok";
	case FPU_SETUP_NO_FXSR: return "the CPU has no FXSAVE/FXRSTOR";
	case FPU_SETUP_NO_XSAVE: return "the CPU or OS does not enable XSAVE";
	case FPU_SETUP_NO_INSN: return "the requested save instruction is not supported by this CPU";
	case FPU_SETUP_FEATURE_MISSING: return "a requested state component is not enabled in XCR0";
	case FPU_SETUP_BAD_LAYOUT: return "CPUID leaf 0xD reports an inconsistent layout";
	case FPU_SETUP_PORT_MISSING: return "no port operations were given";
	case FPU_SETUP_PORT_NO_LOCK: return "the port has no lock operation";
	case FPU_SETUP_PORT_NO_UNLOCK: return "the port has no unlock operation";
	case FPU_SETUP_PORT_NO_CONTEXT: return "the port has no context operation";
	case FPU_SETUP_PORT_SIGNAL_PARTIAL:
		return "the port has some of copy_to_user, copy_from_user, current_cpu and fault_in but not all";
	case FPU_SETUP_PORT_NO_FLUSH:
		return "the policy defers saves, and the port has no flush_remote operation to ask another CPU for an image";
	}
	return "unknown error";
}

bool fpu_insn_supported(const struct fpu_xstate_info *xs, enum fpu_insn insn)
{
	switch (insn) {
	case FPU_INSN_FXSAVE: return xs->has_fxsr;
	case FPU_INSN_XSAVE: return xs->has_xsave;
	case FPU_INSN_XSAVEOPT: return xs->has_xsave && xs->has_xsaveopt;
	case FPU_INSN_XSAVEC: return xs->has_xsave && xs->has_xsavec;
	default: return false;
	}
}

/* x87 and SSE sit in the legacy region; report them as such. */
static void describe_legacy(struct fpu_xstate_info *xs)
{
	xs->size[FPU_XFEATURE_X87] = FPU_FXSAVE_XMM;            /* FCW .. ST7 */
	xs->offset[FPU_XFEATURE_X87] = 0;
	xs->size[FPU_XFEATURE_SSE] = 16 * 16;               /* XMM0-15; MXCSR at 24 */
	xs->offset[FPU_XFEATURE_SSE] = FPU_FXSAVE_XMM;
}

static uint32_t read_mxcsr_mask(void)
{
	uint8_t area[FPU_FXSAVE_SIZE] __attribute__((aligned(64)));
	uint32_t mask;

	fpu_bytes_zero(area, sizeof(area));
	fpu_fxsave(area);
	mask = fpu_get32(area + FPU_FXSAVE_MXCSR_MASK);
	return mask ? mask : 0xffbf; /* SDM: zero means the default mask */
}

enum fpu_setup_error fpu_xstate_enumerate(struct fpu_xstate_info *xs, uint64_t want,
					  uint64_t *missing)
{
	uint32_t r[4];
	unsigned f;

	fpu_bytes_zero(xs, sizeof(*xs));
	*missing = 0;
	fpu_cpuid(1, 0, r);
	xs->has_fxsr = r[3] & CPUID1_EDX_FXSR;
	xs->has_xsave = (r[2] & CPUID1_ECX_XSAVE) && (r[2] & CPUID1_ECX_OSXSAVE);
	if (!xs->has_fxsr)
		return FPU_SETUP_NO_FXSR;
	describe_legacy(xs);
	xs->mxcsr_mask = read_mxcsr_mask();
	fpu_x87_probe(&xs->x87, xs->has_xsave);
	if (!xs->has_xsave) {
		/* Legacy-only CPU: the FXSAVE region is all there is. */
		xs->xcr0 = FPU_XFEATURE_MASK_FPSSE;
		xs->features = FPU_XFEATURE_MASK_FPSSE;
		xs->std_size = xs->compacted_size = FPU_FXSAVE_SIZE;
		*missing = want == ~0ull ? 0 : want & ~FPU_XFEATURE_MASK_FPSSE;
		return *missing ? FPU_SETUP_FEATURE_MISSING : FPU_SETUP_OK;
	}
	fpu_cpuid(7, 0, r);
	xs->has_ospke = r[2] & CPUID7_ECX_OSPKE;
	fpu_cpuid(0xd, 1, r);
	xs->has_xsaveopt = r[0] & CPUIDD1_EAX_XSAVEOPT;
	xs->has_xsavec = r[0] & CPUIDD1_EAX_XSAVEC;
	xs->has_xsaves = r[0] & CPUIDD1_EAX_XSAVES;
	xs->has_xgetbv1 = r[0] & CPUIDD1_EAX_XGETBV1;
	fpu_cpuid(0xd, 0, r);
	xs->cpu_std_size_max = r[2];
	xs->xcr0 = fpu_xgetbv(0);
	if (want != ~0ull && (want & ~xs->xcr0)) {
		*missing = want & ~xs->xcr0;
		return FPU_SETUP_FEATURE_MISSING;
	}
	xs->features = xs->xcr0 & want;
	if ((xs->features & FPU_XFEATURE_MASK_FPSSE) != FPU_XFEATURE_MASK_FPSSE) {
		*missing = FPU_XFEATURE_MASK_FPSSE & ~xs->features;
		return FPU_SETUP_FEATURE_MISSING; /* x87 and SSE are not optional here */
	}
	for (f = 2; f < FPU_XFEATURE_MAX; f++) {
		if (!(xs->xcr0 & FPU_XFEATURE_MASK(f)))
			continue;
		fpu_cpuid(0xd, f, r);
		if (r[2] & CPUIDD_ECX_SUPERVISOR) { /* not a user component: not ours */
			xs->features &= ~FPU_XFEATURE_MASK(f);
			continue;
		}
		if (r[0] == 0 || r[1] < FPU_XSAVE_EXT_OFFSET || r[0] + r[1] > xs->cpu_std_size_max)
			return FPU_SETUP_BAD_LAYOUT;
		xs->size[f] = r[0];
		xs->offset[f] = r[1];
		xs->align64[f] = r[2] & CPUIDD_ECX_ALIGN64;
	}
	xs->std_size = fpu_xstate_size(xs, FPU_INSN_XSAVE, xs->features);
	xs->compacted_size = fpu_xstate_size(xs, FPU_INSN_XSAVEC, xs->features);
	return FPU_SETUP_OK;
}

/* Compacted format: components in ascending order, packed, some aligned to 64. */
static uint32_t compacted_walk(const struct fpu_xstate_info *xs, uint64_t mask, unsigned stop)
{
	uint32_t off = FPU_XSAVE_EXT_OFFSET;
	unsigned f;

	for (f = 2; f < FPU_XFEATURE_MAX; f++) {
		if (!(mask & FPU_XFEATURE_MASK(f)))
			continue;
		if (xs->align64[f])
			off = (off + 63) & ~63u;
		if (f == stop)
			return off;
		off += xs->size[f];
	}
	return off;
}

uint32_t fpu_xstate_offset(const struct fpu_xstate_info *xs, enum fpu_insn insn,
			   uint64_t mask, unsigned f)
{
	if (f >= FPU_XFEATURE_MAX || !(mask & FPU_XFEATURE_MASK(f)))
		return 0;
	if (f < 2 || insn != FPU_INSN_XSAVEC)
		return xs->offset[f];
	return compacted_walk(xs, mask, f);
}

uint32_t fpu_xstate_user_size(const struct fpu_xstate_info *xs, uint64_t mask)
{
	uint32_t end = FPU_XSAVE_EXT_OFFSET;
	unsigned f;

	for (f = 2; f < FPU_XFEATURE_MAX; f++)
		if ((mask & FPU_XFEATURE_MASK(f)) && xs->offset[f] + xs->size[f] > end)
			end = xs->offset[f] + xs->size[f];
	return end;
}

uint32_t fpu_xstate_size(const struct fpu_xstate_info *xs, enum fpu_insn insn, uint64_t mask)
{
	if (insn == FPU_INSN_FXSAVE)
		return FPU_FXSAVE_SIZE;
	if (insn == FPU_INSN_XSAVEC)
		return (compacted_walk(xs, mask, FPU_XFEATURE_MAX) + 63) & ~63u;
	return (fpu_xstate_user_size(xs, mask) + 63) & ~63u;
}

void fpu_xstate_init_image(const struct fpu_xstate_info *xs, enum fpu_insn insn,
			   uint64_t mask, void *area)
{
	uint8_t *a = area;

	fpu_bytes_zero(a, fpu_xstate_size(xs, insn, mask));
	fpu_put16(a + FPU_FXSAVE_FCW, FPU_FCW_DEFAULT);
	fpu_put32(a + FPU_FXSAVE_MXCSR, FPU_MXCSR_DEFAULT);
	/* XSTATE_BV = 0: every component in its init state. The legacy fields
	 * above still matter: FXRSTOR reads them, and XRSTOR reads MXCSR. */
	if (insn == FPU_INSN_XSAVEC)
		fpu_put64(a + FPU_XSAVE_HDR_OFFSET + 8, FPU_XCOMP_BV_COMPACTED | mask);
}

/* One component's bytes in an image of the format `insn` writes (header "Bytes"). */
static uint32_t component_bytes(const struct fpu_xstate_info *xs, enum fpu_insn insn, unsigned f)
{
	if (f == FPU_XFEATURE_X87)
		return xs->size[f] - FPU_MXCSR_BYTES;
	if (f == FPU_XFEATURE_SSE)
		return xs->size[f] + (insn == FPU_INSN_XSAVEC ? FPU_MXCSR_BYTES : 0);
	return xs->size[f];
}

void fpu_xstate_bytes_init(const struct fpu_xstate_info *xs, enum fpu_insn insn, uint64_t mask,
			   struct fpu_xstate_bytes *b)
{
	unsigned t, i, bit, f;

	fpu_bytes_zero(b, sizeof(*b));
	if (insn == FPU_INSN_FXSAVE) {
		b->fixed = FPU_FXSAVE_SIZE; /* no header: mask stays 0, the tables unused */
		return;
	}
	b->mask = mask;
	b->fixed = FPU_XSAVE_HDR_SIZE;
	if (insn != FPU_INSN_XSAVEC && (mask & (FPU_XFEATURE_MASK(FPU_XFEATURE_SSE) |
						FPU_XFEATURE_MASK(FPU_XFEATURE_AVX))))
		b->fixed += FPU_MXCSR_BYTES;
	for (f = 0; f < FPU_XFEATURE_MAX; f++) {
		if (!(mask & FPU_XFEATURE_MASK(f)))
			continue;
		b->offset[f] = fpu_xstate_offset(xs, insn, mask, f);
		if (f >= 8 * FPU_XSTATE_BYTES_TABLES)
			b->high_size[f - 8 * FPU_XSTATE_BYTES_TABLES] = component_bytes(xs, insn, f);
	}
	for (t = 0; t < FPU_XSTATE_BYTES_TABLES; t++)
		for (i = 0; i < 256; i++)
			for (bit = 0; bit < 8; bit++)
				if ((i & (1u << bit)) && (mask & FPU_XFEATURE_MASK(8 * t + bit)))
					b->by_bv[t][i] += component_bytes(xs, insn, 8 * t + bit);
}
