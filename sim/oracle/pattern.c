/* SPDX-License-Identifier: MIT */
/*
 * Register patterns: the integrity oracle.
 *
 * `dirty` loads, with a real XRSTOR, an image unique to (owner, generation)
 * into every enabled component; `check` saves the registers with a real
 * XSAVE and compares every component with the image the task last loaded.
 * Any changed byte is a kernel bug, and the found bytes usually say whose
 * state leaked: most 8-byte words carry their owner and generation.
 *
 * Values are chosen to be inert for the process: exceptions stay masked,
 * reserved MXCSR bits stay clear, PKRU keeps key 0 accessible, MPX stays
 * disabled, the AMX tile configuration is a valid palette 1.
 */
#include "oracle.h"
#include "../klib.h"
#include "fpuctx/insn.h"

#define PAT_MAGIC 0xa5u

static uint16_t fold16(uint64_t x)
{
	x *= 0x9e3779b97f4a7c15ull;
	return (uint16_t)(x >> 48);
}

/* magic(8) | owner(12) | gen(16) | word index(12) | check(16). The owner is
 * a task id: a VM's number above its slot, so guests' state is told apart. */
static uint64_t pat_word(uint32_t owner, uint32_t gen, uint32_t index)
{
	uint64_t w = (uint64_t)PAT_MAGIC << 56 | (uint64_t)(owner & 0xfff) << 44 |
		     (uint64_t)(gen & 0xffff) << 28 | (uint64_t)(index & 0xfff) << 16;
	return w | fold16(w);
}

static bool pat_decode(uint64_t w, uint32_t *owner, uint32_t *gen)
{
	if ((w >> 56) != PAT_MAGIC || (uint16_t)w != fold16(w & ~0xffffull))
		return false;
	*owner = (uint32_t)(w >> 44) & 0xfff;
	*gen = (uint32_t)(w >> 28) & 0xffff;
	return true;
}

/* FIP/FDP hold addresses, which the CPU keeps canonical: owner(12) | gen(16)
 * | check(16) fits in 44 bits, so even a pointer the CPU does not keep
 * through a restore can be told apart when it shows up in another context. */
static uint64_t ptr_word(uint32_t owner, uint32_t gen, uint32_t field)
{
	uint64_t w = (uint64_t)(owner & 0xfff) << 32 | (uint64_t)(gen & 0xffff) << 16;

	return w | fold16(w | (uint64_t)PAT_MAGIC << 56 | (uint64_t)field << 48);
}

static bool ptr_decode(uint64_t w, uint32_t field, uint32_t *owner, uint32_t *gen)
{
	if (w >> 44 || (uint16_t)w != fold16((w & ~0xffffull) | (uint64_t)PAT_MAGIC << 56 |
					     (uint64_t)field << 48))
		return false;
	*owner = (uint32_t)(w >> 32) & 0xfff;
	*gen = (uint32_t)(w >> 16) & 0xffff;
	return true;
}

static uint32_t pat_hash(uint32_t owner, uint32_t gen)
{
	return (owner * 0x9e3779b1u) ^ (gen * 0x85ebca77u) ^ 0x5bd1e995u;
}

static void put64(uint8_t *p, uint64_t v) { uint32_t i; for (i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i)); }
static uint64_t get64(const uint8_t *p) { uint64_t v = 0; uint32_t i; for (i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i); return v; }
static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void put32(uint8_t *p, uint32_t v) { put16(p, (uint16_t)v); put16(p + 2, (uint16_t)(v >> 16)); }

/* Components whose value constraints we know; others stay in init state. */
#define PATTERNED (FPU_XFEATURE_MASK_FPSSE | FPU_XFEATURE_MASK(FPU_XFEATURE_AVX) | \
		   FPU_XFEATURE_MASK(FPU_XFEATURE_BNDREGS) | FPU_XFEATURE_MASK(FPU_XFEATURE_BNDCSR) | \
		   FPU_XFEATURE_MASK(FPU_XFEATURE_OPMASK) | FPU_XFEATURE_MASK(FPU_XFEATURE_ZMM_HI256) | \
		   FPU_XFEATURE_MASK(FPU_XFEATURE_HI16_ZMM) | FPU_XFEATURE_MASK(FPU_XFEATURE_PKRU) | \
		   FPU_XFEATURE_MASK(FPU_XFEATURE_XTILECFG) | FPU_XFEATURE_MASK(FPU_XFEATURE_XTILEDATA))

static void fill_words(uint8_t *img, uint32_t off, uint32_t len, uint32_t owner, uint32_t gen)
{
	uint32_t o;

	for (o = off; o + 8 <= off + len; o += 8)
		put64(img + o, pat_word(owner, gen, o / 8));
}

static void build_legacy(const struct oracle *o, uint8_t *img, uint32_t owner, uint32_t gen)
{
	uint32_t h = pat_hash(owner, gen), i;

	put16(img + FPU_FXSAVE_FCW, (uint16_t)(0x007f | (h & 0xf) << 8)); /* masked; PC/RC vary */
	put16(img + FPU_FXSAVE_FSW, (uint16_t)(((h >> 4) & 7) << 8));      /* C0-C2, no exceptions */
	img[FPU_FXSAVE_FTW] = 0xff;                                         /* all registers valid */
	put16(img + FPU_FXSAVE_FOP, (uint16_t)((h >> 8) & 0x7ff));
	put64(img + FPU_FXSAVE_FIP, ptr_word(owner, gen, FPU_FXSAVE_FIP));
	put64(img + FPU_FXSAVE_FDP, ptr_word(owner, gen, FPU_FXSAVE_FDP));
	put32(img + FPU_FXSAVE_MXCSR, (FPU_MXCSR_DEFAULT | (h & 0x3f) | ((h >> 6) & 3) << 13) &
				  o->xs->mxcsr_mask);
	for (i = 0; i < 8; i++) {
		uint8_t *st = img + FPU_FXSAVE_ST + 16 * i;
		put64(st, pat_word(owner, gen, (FPU_FXSAVE_ST + 16 * i) / 8)); /* integer bit set: normal */
		put16(st + 8, (uint16_t)(0x3fff + i));
	}
	fill_words(img, FPU_FXSAVE_XMM, 256, owner, gen);
}

static void build_component(const struct oracle *o, uint8_t *img, unsigned f, uint32_t owner,
			    uint32_t gen)
{
	uint32_t off = o->xs->offset[f], i;

	switch (f) {
	case FPU_XFEATURE_PKRU:
		put32(img + off, (uint32_t)pat_word(owner, gen, off / 8) & ~3u); /* key 0 open */
		break;
	case FPU_XFEATURE_BNDCSR:
		put64(img + off, pat_word(owner, gen, off / 8) & ~0xfffull); /* BNDCFGU.EN = 0 */
		break;
	case FPU_XFEATURE_XTILECFG:
		img[off] = 1; /* palette 1: 8 tiles of 16 rows x 64 bytes */
		for (i = 0; i < 8; i++) {
			put16(img + off + 16 + 2 * i, 64);
			img[off + 48 + i] = 16;
		}
		break;
	default:
		fill_words(img, off, o->xs->size[f], owner, gen);
	}
}

/* Standard-format image of (owner, gen) for `mask`; OWNER_INIT gives the state
 * of a fresh context (init state, default PKRU). */
void pattern_build(const struct oracle *o, uint8_t *img, uint32_t owner, uint32_t gen, uint64_t mask)
{
	uint64_t bv = 0;
	unsigned f;

	kzero(img, o->std_size);
	if (owner == OWNER_INIT) {
		put16(img + FPU_FXSAVE_FCW, FPU_FCW_DEFAULT);
		put32(img + FPU_FXSAVE_MXCSR, FPU_MXCSR_DEFAULT);
		/* A fresh or reset context runs with the default PKRU (every key
		 * but 0 closed), not with PKRU's architectural init value 0. */
		if (mask & FPU_XFEATURE_MASK(FPU_XFEATURE_PKRU)) {
			put32(img + o->xs->offset[FPU_XFEATURE_PKRU], FPU_PKRU_DEFAULT);
			put64(img + FPU_XSAVE_HDR_OFFSET, FPU_XFEATURE_MASK(FPU_XFEATURE_PKRU));
		}
		return;
	}
	build_legacy(o, img, owner, gen);
	bv = mask & PATTERNED;
	for (f = 2; f < FPU_XFEATURE_MAX; f++)
		if (bv & FPU_XFEATURE_MASK(f))
			build_component(o, img, f, owner, gen);
	put64(img + FPU_XSAVE_HDR_OFFSET, bv);
}

void pattern_load(const struct oracle *o, uint8_t *img, uint32_t owner, uint32_t gen, uint64_t mask)
{
	pattern_build(o, img, owner, gen, mask);
	hw_image_load(o->xs, img, mask);
}

/* Components XSAVE reported in init state get their init values, so that
 * images compare byte for byte. */
void image_normalize(const struct oracle *o, uint8_t *img)
{
	uint64_t mask = o->user_mask;
	uint64_t bv = hw_image_bv(o->xs, img);
	unsigned f;

	if (!(bv & FPU_XFEATURE_MASK(FPU_XFEATURE_X87))) {
		kzero(img, FPU_FXSAVE_MXCSR);
		put16(img + FPU_FXSAVE_FCW, FPU_FCW_DEFAULT);
		kzero(img + FPU_FXSAVE_ST, FPU_FXSAVE_XMM - FPU_FXSAVE_ST);
	}
	if (!(bv & FPU_XFEATURE_MASK(FPU_XFEATURE_SSE)))
		kzero(img + FPU_FXSAVE_XMM, 256);
	for (f = 2; f < FPU_XFEATURE_MAX; f++)
		if ((mask & FPU_XFEATURE_MASK(f)) && !(bv & FPU_XFEATURE_MASK(f)))
			kzero(img + o->xs->offset[f], o->xs->size[f]);
}

struct span { uint32_t off, len; };

/* The bytes of component f that hold architectural state (reserved bytes excluded). */
static uint32_t component_spans(const struct oracle *o, unsigned f, struct span *s)
{
	uint32_t n = 0, i;

	if (f == FPU_XFEATURE_X87) {
		uint8_t kept = o->x87_kept;

		s[n++] = (struct span){ FPU_FXSAVE_FCW, 5 };  /* FCW FSW FTW */
		/* Only the pointers this CPU gives back after a restore (the
		 * patterns have no exception pending); the others get
		 * x87_pointer_leak()'s check instead. */
		if (kept & FPU_X87_FOP)
			s[n++] = (struct span){ FPU_FXSAVE_FOP, 2 };
		if (kept & FPU_X87_FIP)
			s[n++] = (struct span){ FPU_FXSAVE_FIP, 8 };
		if (kept & FPU_X87_FDP)
			s[n++] = (struct span){ FPU_FXSAVE_FDP, 8 };
		for (i = 0; i < 8; i++)
			s[n++] = (struct span){ FPU_FXSAVE_ST + 16 * i, 10 };
	} else if (f == FPU_XFEATURE_SSE) {
		s[n++] = (struct span){ FPU_FXSAVE_MXCSR, 4 };
		s[n++] = (struct span){ FPU_FXSAVE_XMM, 256 };
	} else if (f == FPU_XFEATURE_PKRU) {
		s[n++] = (struct span){ o->xs->offset[f], 4 };
	} else if (f == FPU_XFEATURE_BNDCSR) {
		/* BNDCFGU and BNDSTATUS; the other 48 of the 64 bytes CPUID gives
		 * are no state (QEMU's XSAVE leaves them as they were). */
		s[n++] = (struct span){ o->xs->offset[f], 16 };
	} else {
		s[n++] = (struct span){ o->xs->offset[f], o->xs->size[f] };
	}
	return n;
}

/* The components of `mask` above SSE that hold non-init state in img, a
 * standard-format XSAVE image. XSTATE_BV only bounds it: a CPU may report a
 * component in use (XINUSE 1) while it is in its init configuration (the
 * SDM allows it; an XRSTOR of zeros with the bit set does it on real CPUs,
 * and QEMU reports nearly every component in use). So a set bit sends us to
 * the bytes, which are all zero in the init configuration of every
 * component above SSE; a clear bit is final (the bytes may be stale). */
uint64_t image_live_components(const struct oracle *o, const uint8_t *img, uint64_t mask)
{
	uint64_t bv = get64(img + FPU_XSAVE_HDR_OFFSET), live = 0;
	struct span spans[12];
	uint32_t n, i, off;
	unsigned f;

	for (f = 2; f < FPU_XFEATURE_MAX; f++) {
		if (!(mask & bv & FPU_XFEATURE_MASK(f)) || !o->xs->size[f])
			continue;
		n = component_spans(o, f, spans);
		for (i = 0; i < n; i++)
			for (off = spans[i].off; off < spans[i].off + spans[i].len; off++)
				if (img[off])
					live |= FPU_XFEATURE_MASK(f);
	}
	return live;
}

/* Whose state is this? Looks at the word at the mismatch, then the rest of the component. */
static void identify(struct oracle_finding *v, const uint8_t *img, const struct span *s, uint32_t n,
		     const uint8_t *init_img)
{
	uint32_t i, o;
	bool all_init = true;

	if (pat_decode(get64(img + (v->offset & ~7u)), &v->found_owner, &v->found_gen)) {
		v->found_known = 1;
		return;
	}
	for (i = 0; i < n; i++)
		for (o = s[i].off & ~7u; o + 8 <= s[i].off + s[i].len; o += 8)
			if (pat_decode(get64(img + o), &v->found_owner, &v->found_gen)) {
				v->found_known = 1;
				return;
			}
	for (i = 0; i < n; i++)
		for (o = s[i].off; o < s[i].off + s[i].len; o++)
			all_init &= img[o] == init_img[o];
	v->found_known = all_init ? 2 : 0;
}

/* The first word of each side at byte `offset` of component f. */
static void found_at(const uint8_t *img, const uint8_t *expect, unsigned f, uint32_t offset,
		     struct oracle_finding *v)
{
	v->component = f;
	v->offset = offset;
	kcopy(v->expected, expect + (offset & ~7u), 8);
	kcopy(v->found, img + (offset & ~7u), 8);
}

/* A pointer the CPU does not keep is not compared, but it must never be
 * another context's (LazyFP's lesson, CVE-2006-1056's leak): an own value
 * of any generation, zero, or a value of no context pass. Returns the
 * offset of the leaked pointer (owner in *v), or 0. */
static uint32_t x87_pointer_leak(const struct oracle *o, const uint8_t *img, const uint8_t *expect,
				 struct oracle_finding *v)
{
	static const uint32_t fields[] = { FPU_FXSAVE_FIP, FPU_FXSAVE_FDP };
	uint32_t i, mine, gen;

	for (i = 0; i < 2; i++) {
		uint32_t off = fields[i];

		if (o->x87_kept & (off == FPU_FXSAVE_FIP ? FPU_X87_FIP : FPU_X87_FDP))
			continue;
		if (!ptr_decode(get64(expect + off), off, &mine, &gen))
			mine = OWNER_UNKNOWN;
		if (ptr_decode(get64(img + off), off, &v->found_owner, &v->found_gen) &&
		    v->found_owner != mine) {
			v->found_known = 1;
			return off;
		}
	}
	return 0;
}

bool image_compare(const struct oracle *o, const uint8_t *img, uint8_t *expect,
		   struct oracle_finding *f)
{
	struct span spans[12];
	uint32_t leak;
	unsigned fe;

	kzero(f, sizeof(*f));
	if ((leak = x87_pointer_leak(o, img, expect, f)) != 0) {
		found_at(img, expect, FPU_XFEATURE_X87, leak, f);
		f->msg = "an x87 pointer this CPU does not keep through a restore holds another "
			 "context's value: a leak";
		return false;
	}
	for (fe = 0; fe < FPU_XFEATURE_MAX; fe++) {
		uint32_t n, i, off;

		if (!(o->user_mask & FPU_XFEATURE_MASK(fe)))
			continue;
		n = component_spans(o, fe, spans);
		for (i = 0; i < n; i++)
			for (off = spans[i].off; off < spans[i].off + spans[i].len; off++) {
				if (img[off] == expect[off])
					continue;
				found_at(img, expect, fe, off, f);
				pattern_build(o, expect, OWNER_INIT, 0, o->user_mask);
				identify(f, img, spans, n, expect);
				return false;
			}
	}
	return true;
}

/* Saves the registers into img, as the checkers see them (never counted). */
void image_capture(const struct oracle *o, uint8_t *img)
{
	hw_image_save(o->xs, img, o->user_mask);
	image_normalize(o, img);
}

/* Is any word of the registers' image (standard format, `size` bytes) a
 * pattern of an owner outside VM `vm`? Returns the first such owner, or 0. */
uint32_t image_foreign_owner(const uint8_t *img, uint32_t size, uint32_t vm, uint32_t *gen,
			     uint32_t *offset)
{
	uint32_t o, owner;

	for (o = 0; o + 8 <= size; o += 8) {
		if (o >= FPU_XSAVE_HDR_OFFSET && o < FPU_XSAVE_HDR_OFFSET + 64)
			continue;
		if (pat_decode(get64(img + o), &owner, gen) && OWNER_VM(owner) != vm) {
			*offset = o;
			return owner;
		}
	}
	return 0;
}
