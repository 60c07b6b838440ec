/* SPDX-License-Identifier: MIT */
/*
 * xstate layout against what the hardware really writes.
 *
 * Loads the simulator's pattern images with XRSTOR and saves them back with
 * XSAVE (standard) and XSAVEC (compacted): every component must come back at
 * the offset the library computed, no save may write past the size it
 * computed, and the software-built init image must load as FCW 0x37f /
 * MXCSR 0x1f80 with every component in init state.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "../sim/oracle/oracle.h"
#include "fpuctx/insn.h"

static int passed, failed;
static const char *current;

#define CHECK(cond, ...)                                                          \
	do {                                                                      \
		if (!(cond)) {                                                    \
			printf("%s:%d: %s: ", __FILE__, __LINE__, current);       \
			printf(__VA_ARGS__);                                      \
			printf("\n");                                             \
			ok = 0;                                                   \
		}                                                                 \
	} while (0)

static struct fpu_xstate_info xs;         /* this CPU */
static uint64_t kmask;                    /* what a kernel manages: all but PKRU */
static struct oracle orc = { .xs = &xs };
static uint64_t mask;
#define BUF 16384
static uint8_t img[BUF] __attribute__((aligned(64)));
static uint8_t out[2 * BUF + 256] __attribute__((aligned(64)));

static uint64_t get64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

static void setup(void)
{
	uint64_t missing, xcr0 = FPU_XFEATURE_MASK_FPSSE, perm = 0;
	uint32_t r[4];

	fpu_cpuid(1, 0, r);
	if (r[2] & (1u << 27)) /* OSXSAVE: XGETBV works */
		xcr0 = fpu_xgetbv(0);
	if (xcr0 & FPU_XFEATURE_MASK(FPU_XFEATURE_XTILEDATA))
		syscall(SYS_arch_prctl, 0x1023, FPU_XFEATURE_XTILEDATA);
	if (syscall(SYS_arch_prctl, 0x1022, &perm))
		perm = xcr0 & ~(FPU_XFEATURE_MASK(FPU_XFEATURE_XTILECFG) | FPU_XFEATURE_MASK(FPU_XFEATURE_XTILEDATA));
	mask = xcr0 & perm;
	fpu_xstate_enumerate(&xs, mask, &missing);
	mask = xs.features;
	kmask = mask & ~FPU_XFEATURE_MASK(FPU_XFEATURE_PKRU);
	orc.user_mask = mask;
	orc.std_size = fpu_xstate_size(&xs, FPU_INSN_XSAVE, mask);
}

/* Standard offsets: what CPUID says, and the size covers every component. */
static int test_standard_layout(void)
{
	int ok = 1;
	uint32_t r[4];
	unsigned f;

	fpu_cpuid(0xd, 0, r);
	CHECK(fpu_xstate_size(&xs, FPU_INSN_XSAVE, xs.xcr0) == ((r[1] + 63) & ~63u),
	      "standard size %u, CPUID.(0xD,0).EBX %u",
	      fpu_xstate_size(&xs, FPU_INSN_XSAVE, xs.xcr0), r[1]);
	for (f = 2; f < FPU_XFEATURE_MAX; f++) {
		if (!(mask & FPU_XFEATURE_MASK(f)))
			continue;
		fpu_cpuid(0xd, f, r);
		CHECK(fpu_xstate_offset(&xs, FPU_INSN_XSAVE, mask, f) == r[1],
		      "%s at %u, CPUID says %u", fpu_xfeature_name(f),
		      fpu_xstate_offset(&xs, FPU_INSN_XSAVE, mask, f), r[1]);
		CHECK(xs.size[f] == r[0], "%s size", fpu_xfeature_name(f));
	}
	CHECK(xs.mxcsr_mask & 0xffbf, "MXCSR mask 0x%x", xs.mxcsr_mask);
	return ok;
}

/* Compares component f of a saved image (at its offset for insn) with img.
 * Some components are longer than their state, and a save may leave the
 * rest unwritten: PKRU is 8 bytes with 4 of state, BNDCSR 64 with 16
 * (BNDCFGU, BNDSTATUS; QEMU writes no more). */
static int same_component(const uint8_t *saved, enum fpu_insn insn, unsigned f)
{
	uint32_t at = fpu_xstate_offset(&xs, insn, mask, f);
	uint32_t len = f == FPU_XFEATURE_PKRU ? 4 : f == FPU_XFEATURE_BNDCSR ? 16 : xs.size[f];

	return memcmp(saved + at, img + xs.offset[f], len) == 0;
}

/* The legacy fields, FOP/FIP/FDP only where the probe found them kept. */
static int legacy_same(const uint8_t *saved)
{
	static const uint32_t spans[][3] = {
		{ 0, 5, 0 }, { 6, 2, FPU_X87_FOP }, { 8, 8, FPU_X87_FIP }, { 16, 8, FPU_X87_FDP },
		{ 24, 4, 0 }, { 160, 256, 0 },
	};
	unsigned i;

	for (i = 0; i < 6; i++)
		if ((!spans[i][2] || (xs.x87.kept & spans[i][2])) &&
		    memcmp(saved + spans[i][0], img + spans[i][0], spans[i][1]))
			return 0;
	for (i = 0; i < 8; i++)
		if (memcmp(saved + 32 + 16 * i, img + 32 + 16 * i, 10))
			return 0;
	return 1;
}

static int roundtrip(enum fpu_insn insn, uint32_t owner)
{
	uint32_t size = fpu_xstate_size(&xs, insn, mask), i;
	int ok = 1;
	unsigned f;

	pattern_build(&orc, img, owner, 7, mask);
	memset(out, 0xcc, sizeof(out));
	/* No function call between the load and the save: libc may use SIMD. */
	if (insn == FPU_INSN_XSAVEC) {
		fpu_xrstor(img, mask);
		fpu_xsavec(out, mask);
	} else {
		fpu_xrstor(img, mask);
		fpu_xsave(out, mask);
	}
	CHECK(legacy_same(out), "x87/SSE fields differ after the round trip");
	for (f = 2; f < FPU_XFEATURE_MAX; f++)
		if (mask & FPU_XFEATURE_MASK(f))
			CHECK(same_component(out, insn, f), "%s not at offset %u (%s)", fpu_xfeature_name(f),
			      fpu_xstate_offset(&xs, insn, mask, f), fpu_insn_name(insn));
	for (i = size; i < sizeof(out); i++)
		if (out[i] != 0xcc) {
			CHECK(0, "%s wrote byte %u, past the computed size %u", fpu_insn_name(insn), i, size);
			break;
		}
	if (insn == FPU_INSN_XSAVEC)
		CHECK(get64(out + FPU_XSAVE_HDR_OFFSET + 8) == (FPU_XCOMP_BV_COMPACTED | mask),
		      "xcomp_bv 0x%llx", (unsigned long long)get64(out + FPU_XSAVE_HDR_OFFSET + 8));
	return ok;
}

static int test_roundtrip_standard(void) { return roundtrip(FPU_INSN_XSAVE, 1) && roundtrip(FPU_INSN_XSAVE, 2); }
static int test_roundtrip_compacted(void) { return roundtrip(FPU_INSN_XSAVEC, 3); }

/* The init image, built in software, loads as the architectural init state. */
static int init_image(enum fpu_insn insn)
{
	uint8_t *init = img;
	int ok = 1;

	fpu_xstate_init_image(&xs, insn, kmask, init);
	pattern_build(&orc, out + 8192, 5, 1, mask);
	memset(out, 0, 8192);
	/* glibc's memset uses ZMM16-31: nothing but the asm between these. */
	fpu_xrstor(out + 8192, mask);     /* dirty everything first */
	fpu_xrstor(init, kmask);
	fpu_xsave(out, kmask);
	CHECK((out[0] | out[1] << 8) == FPU_FCW_DEFAULT, "%s init: FCW 0x%x", fpu_insn_name(insn), out[0] | out[1] << 8);
	CHECK(get64(out + FPU_FXSAVE_MXCSR) == FPU_MXCSR_DEFAULT ||
	      (uint32_t)get64(out + FPU_FXSAVE_MXCSR) == FPU_MXCSR_DEFAULT, "%s init: MXCSR 0x%x",
	      fpu_insn_name(insn), (uint32_t)get64(out + FPU_FXSAVE_MXCSR));
	/* XSTATE_BV may mark init components in use: the bytes decide. */
	CHECK(image_live_components(&orc, out, kmask) == 0,
	      "%s init: components 0x%llx not in init state (XSTATE_BV 0x%llx)", fpu_insn_name(insn),
	      (unsigned long long)image_live_components(&orc, out, kmask),
	      (unsigned long long)get64(out + FPU_XSAVE_HDR_OFFSET));
	return ok;
}

static int test_init_image(void)
{
	return init_image(FPU_INSN_XSAVE) & init_image(FPU_INSN_XSAVEC);
}

/* Why the init image is built, not captured: an init-optimizing save of init
 * registers may leave the legacy area unwritten (Linux bug 12 had FCW 0). */
static int test_init_capture_pitfall(void)
{
	int ok = 1;

	fpu_xstate_init_image(&xs, FPU_INSN_XSAVE, kmask, img);
	memset(out, 0, sizeof(out));
	fpu_xrstor(img, kmask);
	fpu_xsavec(out, kmask);
	/* A CPU may report x87 in use although it is in init state (the SDM
	 * allows it); then it is written and there is nothing to show. */
	if (get64(out + FPU_XSAVE_HDR_OFFSET) & FPU_XFEATURE_MASK(FPU_XFEATURE_X87))
		printf("  note: XSAVEC reported init x87 in use: no pitfall on this CPU\n");
	else if ((out[0] | out[1] << 8) != FPU_FCW_DEFAULT)
		printf("  note: XSAVEC of init registers left FCW=0x%x in memory: capturing the init "
		       "image this way would be wrong\n", out[0] | out[1] << 8);
	return ok;
}

/* The machine's own saves and loads take FXSAVE64/FXRSTOR64 on a CPU without
 * XSAVE: given a legacy-only description (whatever this CPU is), the image
 * is the 512-byte area alone and reads as x87 and SSE present. */
static int test_image_helpers_legacy(void)
{
	struct fpu_xstate_info legacy = xs;
	static const uint32_t spans[][2] = { { 0, 5 }, { 24, 4 }, { 160, 256 } }; /* not FOP/FIP/FDP */
	uint32_t i;
	int ok = 1;

	legacy.has_xsave = legacy.has_xsaveopt = legacy.has_xsavec = legacy.has_xsaves = false;
	legacy.has_xgetbv1 = legacy.has_ospke = false;
	legacy.xcr0 = legacy.features = FPU_XFEATURE_MASK_FPSSE;
	CHECK(hw_image_insn(&legacy) == FPU_INSN_FXSAVE, "picked %s for a legacy-only CPU",
	      fpu_insn_name(hw_image_insn(&legacy)));
	CHECK(hw_image_insn(&xs) == (xs.has_xsave ? FPU_INSN_XSAVE : FPU_INSN_FXSAVE),
	      "picked %s for this CPU", fpu_insn_name(hw_image_insn(&xs)));

	pattern_build(&orc, img, 6, 3, FPU_XFEATURE_MASK_FPSSE);
	memset(out, 0xcc, sizeof(out));
	/* No function call between the load and the save: libc may use SIMD. */
	hw_image_load(&legacy, img, ~0ull);
	hw_image_save(&legacy, out, ~0ull);
	for (i = 0; i < 3; i++)
		CHECK(memcmp(out + spans[i][0], img + spans[i][0], spans[i][1]) == 0,
		      "legacy bytes %u..%u differ after the round trip", spans[i][0],
		      spans[i][0] + spans[i][1] - 1);
	for (i = 0; i < 8; i++)
		CHECK(memcmp(out + FPU_FXSAVE_ST + 16 * i, img + FPU_FXSAVE_ST + 16 * i, 10) == 0, "ST%u differs", i);
	for (i = FPU_FXSAVE_SIZE; i < sizeof(out); i++)
		if (out[i] != 0xcc) {
			CHECK(0, "the save wrote byte %u, past the legacy area", i);
			break;
		}
	CHECK(hw_image_bv(&legacy, out) == FPU_XFEATURE_MASK_FPSSE, "XSTATE_BV of a legacy image 0x%llx",
	      (unsigned long long)hw_image_bv(&legacy, out));
	return ok;
}

/* The bytes of img (standard format) for components of `mask` above SSE, zeroed. */
static void zero_components(uint8_t *p, uint64_t m)
{
	unsigned f;

	for (f = 2; f < FPU_XFEATURE_MAX; f++)
		if (m & FPU_XFEATURE_MASK(f))
			memset(p + xs.offset[f], 0, xs.size[f]);
}

/* XINUSE (and so XSTATE_BV) only bounds what is live: XRSTOR of all-zero
 * components with their XSTATE_BV bits set leaves them in init state, yet
 * CPUs may go on reporting them in use (this one does, for every component
 * above SSE; QEMU reports nearly everything in use always). The VM entry
 * check must not call them live, and must still see real state. */
static int test_live_components(void)
{
	uint64_t reported, ext = mask & ~FPU_XFEATURE_MASK_FPSSE, loaded;
	int ok = 1;

	/* In use, init: the image is the init state with every bit set. */
	fpu_xstate_init_image(&xs, FPU_INSN_XSAVE, mask, img);
	zero_components(img, ext);
	memcpy(img + FPU_XSAVE_HDR_OFFSET, &mask, 8);
	/* Zeros, not a fill: XSAVE leaves XSTATE_BV bits outside its mask, and
	 * (under QEMU) some init components, unwritten. */
	memset(out, 0, sizeof(out));
	fpu_xrstor(img, mask);
	fpu_xsave(out, mask);
	reported = get64(out + FPU_XSAVE_HDR_OFFSET) & ext;
	printf("  note: after loading zeros, XSAVE reports 0x%llx of 0x%llx in use\n",
	       (unsigned long long)reported, (unsigned long long)ext);
	CHECK(image_live_components(&orc, out, mask) == 0,
	      "init components 0x%llx called live (XSTATE_BV 0x%llx)",
	      (unsigned long long)image_live_components(&orc, out, mask),
	      (unsigned long long)get64(out + FPU_XSAVE_HDR_OFFSET));

	/* Real state: every component the pattern loads is live, and only those. */
	pattern_build(&orc, img, 9, 1, mask);
	loaded = get64(img + FPU_XSAVE_HDR_OFFSET) & ext;
	fpu_xrstor(img, mask);
	fpu_xsave(out, mask);
	CHECK(image_live_components(&orc, out, mask) == loaded, "live 0x%llx, loaded 0x%llx",
	      (unsigned long long)image_live_components(&orc, out, mask), (unsigned long long)loaded);
	CHECK(image_live_components(&orc, out, FPU_XFEATURE_MASK(FPU_XFEATURE_AVX)) ==
	      (loaded & FPU_XFEATURE_MASK(FPU_XFEATURE_AVX)), "the mask does not limit the answer");

	/* A clear bit is final: the bytes of an init component may be stale. */
	memset(out + FPU_XSAVE_HDR_OFFSET, 0, 8);
	CHECK(image_live_components(&orc, out, mask) == 0, "stale bytes under a clear bit called live");
	return ok;
}

int main(void)
{
	static const struct { const char *name; int (*fn)(void); enum fpu_insn needs; } tests[] = {
		{ "image_helpers_legacy", test_image_helpers_legacy, FPU_INSN_FXSAVE },
		{ "standard_layout", test_standard_layout, FPU_INSN_XSAVE },
		{ "roundtrip_standard", test_roundtrip_standard, FPU_INSN_XSAVE },
		{ "roundtrip_compacted", test_roundtrip_compacted, FPU_INSN_XSAVEC },
		{ "init_image", test_init_image, FPU_INSN_XSAVEC },
		{ "init_capture_pitfall", test_init_capture_pitfall, FPU_INSN_XSAVEC },
		{ "live_components", test_live_components, FPU_INSN_XSAVE },
	};
	unsigned i, skipped = 0;

	setup();
	printf("features 0x%llx, standard %u bytes, compacted %u bytes\n", (unsigned long long)mask,
	       orc.std_size, fpu_xstate_size(&xs, FPU_INSN_XSAVEC, mask));
	for (i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
		current = tests[i].name;
		if (!fpu_insn_supported(&xs, tests[i].needs)) {
			printf("skipped %s: this CPU has no %s\n", tests[i].name, fpu_insn_name(tests[i].needs));
			skipped++;
		} else if (tests[i].fn()) {
			passed++;
		} else {
			failed++;
			printf("FAIL %s\n", tests[i].name);
		}
	}
	printf("%d passed, %d failed, %u skipped\n", passed, failed, skipped);
	return failed != 0;
}
