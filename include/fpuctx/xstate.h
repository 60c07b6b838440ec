/* SPDX-License-Identifier: MIT */
/*
 * Extended-state layout, as enumerated from CPUID leaf 0xD and XCR0.
 * Consumers: every other part of the library, and tools that print or
 * check buffer layouts.
 */
#ifndef FPUCTX_XSTATE_H
#define FPUCTX_XSTATE_H

#include <stdbool.h>
#include <stdint.h>

#define FPU_XFEATURE_MAX 32

enum fpu_xfeature {
	FPU_XFEATURE_X87 = 0, FPU_XFEATURE_SSE = 1, FPU_XFEATURE_AVX = 2,
	FPU_XFEATURE_BNDREGS = 3, FPU_XFEATURE_BNDCSR = 4, FPU_XFEATURE_OPMASK = 5,
	FPU_XFEATURE_ZMM_HI256 = 6, FPU_XFEATURE_HI16_ZMM = 7, FPU_XFEATURE_PT = 8,
	FPU_XFEATURE_PKRU = 9, FPU_XFEATURE_PASID = 10, FPU_XFEATURE_CET_U = 11,
	FPU_XFEATURE_CET_S = 12, FPU_XFEATURE_HDC = 13, FPU_XFEATURE_UINTR = 14,
	FPU_XFEATURE_LBR = 15, FPU_XFEATURE_HWP = 16, FPU_XFEATURE_XTILECFG = 17,
	FPU_XFEATURE_XTILEDATA = 18, FPU_XFEATURE_APX = 19,
};

#define FPU_XFEATURE_MASK(f)   (1ull << (f))
#define FPU_XFEATURE_MASK_FPSSE (FPU_XFEATURE_MASK(FPU_XFEATURE_X87) | FPU_XFEATURE_MASK(FPU_XFEATURE_SSE))

/* The 512-byte legacy (FXSAVE) region and the 64-byte XSAVE header. */
#define FPU_FXSAVE_SIZE        512
#define FPU_XSAVE_HDR_OFFSET   512
#define FPU_XSAVE_HDR_SIZE     64
#define FPU_XSAVE_EXT_OFFSET   (FPU_XSAVE_HDR_OFFSET + FPU_XSAVE_HDR_SIZE)
#define FPU_XCOMP_BV_COMPACTED (1ull << 63)

#define FPU_FXSAVE_FCW     0
#define FPU_FXSAVE_FSW     2
#define FPU_FXSAVE_FTW     4
#define FPU_FXSAVE_FOP     6
#define FPU_FXSAVE_FIP     8
#define FPU_FXSAVE_FDP     16
#define FPU_FXSAVE_MXCSR   24
#define FPU_FXSAVE_MXCSR_MASK 28
#define FPU_FXSAVE_ST      32   /* 8 slots of 16 bytes, 10 used */
#define FPU_FXSAVE_XMM     160  /* 16 x 16 bytes */
#define FPU_FXSAVE_SW_RESERVED 464
#define FPU_MXCSR_BYTES    8    /* MXCSR and MXCSR_MASK, as the saves move them */

#define FPU_FCW_DEFAULT    0x037f
#define FPU_MXCSR_DEFAULT  0x1f80
#define FPU_PKRU_DEFAULT   0x55555554u /* key 0 read/write, every other key no access */

/* Which save instruction a system uses; the restore follows from the format. */
enum fpu_insn {
	FPU_INSN_FXSAVE,   /* legacy 512-byte area, FXRSTOR */
	FPU_INSN_XSAVE,    /* standard format, XRSTOR */
	FPU_INSN_XSAVEOPT, /* standard format, init+modified optimizations, XRSTOR */
	FPU_INSN_XSAVEC,   /* compacted format, init optimization, XRSTOR */
	FPU_INSN__COUNT
};

/*
 * The x87 last-instruction pointers (FOP, FIP, FDP) through a restore and a
 * save. Intel keeps all three; AMD keeps them only while an unmasked x87
 * exception is pending (FSW.ES), and older AMD parts (no XSAVEERPTR) leave
 * the previous context's values in place instead: CVE-2006-1056, Linux's
 * X86_BUG_FXSAVE_LEAK. Measured at init (core/x87.c), never assumed.
 */
#define FPU_X87_FOP 0x1u
#define FPU_X87_FIP 0x2u
#define FPU_X87_FDP 0x4u
#define FPU_X87_POINTERS (FPU_X87_FOP | FPU_X87_FIP | FPU_X87_FDP)

struct fpu_x87_info {
	uint8_t kept;               /* FPU_X87_* a restore then a save give back, no exception pending */
	uint8_t kept_pending;       /* the same with an unmasked exception pending */
	bool leaks;                 /* a restore keeps the previous pointers: scrub before restoring */
	bool leak_seen;             /* the probe saw the leak (leaks may also come from CPUID alone) */
	bool amd;                   /* AuthenticAMD or HygonGenuine */
	bool xsaveerptr;            /* CPUID.8000_0008:EBX[2]: saves always write the pointers */
	bool fdp_excptn_only;       /* CPUID.7.0:EBX[6]: FDP updated only on x87 exceptions */
	bool fcs_fds_deprecated;    /* CPUID.7.0:EBX[13]: FCS and FDS are saved as zero */
};

/* Probes the pointers on this CPU (x87 state is preserved around the probe). */
void fpu_x87_probe(struct fpu_x87_info *x87, bool has_xsave);
/* The probe's result in words, for a CPU description ("FOP/FIP/FDP kept"). */
const char *fpu_x87_describe(const struct fpu_x87_info *x87, bool pending);

struct fpu_xstate_info {
	uint64_t xcr0;             /* what the OS enabled */
	uint64_t features;         /* what this system manages: xcr0 & supported & requested */
	uint32_t size[FPU_XFEATURE_MAX];    /* bytes of each component (0: absent) */
	uint32_t offset[FPU_XFEATURE_MAX];  /* standard-format offset */
	bool align64[FPU_XFEATURE_MAX];     /* 64-byte aligned in compacted format */
	uint32_t std_size;         /* standard-format buffer size for `features` */
	uint32_t compacted_size;   /* compacted-format buffer size for `features` */
	uint32_t cpu_std_size_max; /* CPUID.(0xD,0).ECX: all supported features */
	uint32_t mxcsr_mask;       /* from FXSAVE; reserved MXCSR bits are the zeros */
	struct fpu_x87_info x87;   /* what survives of FOP/FIP/FDP, and the leak */
	bool has_fxsr, has_xsave, has_xsaveopt, has_xsavec, has_xsaves, has_ospke, has_xgetbv1;
};

/*
 * Bytes a save or restore moves, by what is in use (docs/design.md, "Bytes").
 * Built once per system; answering takes three table lookups, not a walk
 * over the components. An XSAVE-family image moves `fixed` bytes (the 64-byte
 * header, and in standard format the 8 bytes of MXCSR and MXCSR_MASK, which
 * standard XSAVE/XRSTOR always move when SSE is requested), plus, for each
 * bit set in XSTATE_BV: x87 152 (FCW..FDP and ST0-7), SSE 256 (XMM0-15; in
 * compacted format also MXCSR and MXCSR_MASK: 264), any other component its
 * CPUID size (alignment padding is not moved). FXSAVE/FXRSTOR: 512 always.
 */
#define FPU_XSTATE_BYTES_TABLES 3   /* XSTATE_BV bits 0-23, one table per byte */

struct fpu_xstate_bytes {
	uint32_t fixed;       /* moved whatever XSTATE_BV says */
	uint32_t high_size[FPU_XFEATURE_MAX - 8 * FPU_XSTATE_BYTES_TABLES]; /* bits 24-31 (none known) */
	uint64_t mask;        /* the components the system's buffers hold */
	uint32_t offset[FPU_XFEATURE_MAX]; /* where each lies in them (compacted or standard) */
	uint32_t by_bv[FPU_XSTATE_BYTES_TABLES][256];
};

/* Fills *b for buffers of `mask` in the format `insn` writes. */
void fpu_xstate_bytes_init(const struct fpu_xstate_info *xs, enum fpu_insn insn, uint64_t mask,
			   struct fpu_xstate_bytes *b);

/* Bytes moved for an image whose XSTATE_BV (or, for plain XSAVE, RFBM) is bv. */
static inline uint32_t fpu_xstate_bytes(const struct fpu_xstate_bytes *b, uint64_t bv)
{
	uint32_t n;
	unsigned f;

	bv &= b->mask;
	n = b->fixed + b->by_bv[0][bv & 0xff] + b->by_bv[1][(bv >> 8) & 0xff] +
	    b->by_bv[2][(bv >> 16) & 0xff];
	for (bv >>= 8 * FPU_XSTATE_BYTES_TABLES, f = 0; bv; bv >>= 1, f++) /* never taken today */
		if (bv & 1)
			n += b->high_size[f];
	return n;
}

/* What the embedder can ask for and what the CPU may refuse. */
enum fpu_setup_error {
	FPU_SETUP_OK = 0,
	FPU_SETUP_NO_FXSR,        /* the CPU cannot save even the legacy area */
	FPU_SETUP_NO_XSAVE,       /* an XSAVE instruction was asked for */
	FPU_SETUP_NO_INSN,        /* the requested save instruction is not supported */
	FPU_SETUP_FEATURE_MISSING,/* a requested feature is not enabled in XCR0 */
	FPU_SETUP_BAD_LAYOUT,     /* CPUID reports a layout we cannot trust */
	FPU_SETUP_PORT_MISSING,   /* no port operations were given (port.h) */
	FPU_SETUP_PORT_NO_LOCK,   /* a required port operation is NULL ... */
	FPU_SETUP_PORT_NO_UNLOCK,
	FPU_SETUP_PORT_NO_CONTEXT,
	FPU_SETUP_PORT_SIGNAL_PARTIAL, /* some of the four signal-frame operations, not all */
	FPU_SETUP_PORT_NO_FLUSH,  /* the policy defers saves and the port has no flush_remote */
};

/* Reads CPUID/XCR0. `want` is the feature mask the embedder asks for (~0 = all
 * user features the OS enabled). Fills *xs; on error *missing names the bits
 * asked for that do not exist. */
enum fpu_setup_error fpu_xstate_enumerate(struct fpu_xstate_info *xs, uint64_t want,
					  uint64_t *missing);
/* Buffer size for `mask` in the format `insn` writes. */
uint32_t fpu_xstate_size(const struct fpu_xstate_info *xs, enum fpu_insn insn, uint64_t mask);
/* End of the last component of `mask` in standard format, not rounded: the
 * xstate_size a Linux signal frame declares. */
uint32_t fpu_xstate_user_size(const struct fpu_xstate_info *xs, uint64_t mask);
/* Offset of component `f` in a buffer written by `insn` for `mask` (0 if absent). */
uint32_t fpu_xstate_offset(const struct fpu_xstate_info *xs, enum fpu_insn insn,
			   uint64_t mask, unsigned f);
bool fpu_insn_supported(const struct fpu_xstate_info *xs, enum fpu_insn insn);
const char *fpu_insn_name(enum fpu_insn insn);
const char *fpu_xfeature_name(unsigned f);
const char *fpu_setup_error_str(enum fpu_setup_error e);

/* Writes the architectural init image for `mask` in the format of `insn`
 * into area (size fpu_xstate_size bytes): FCW 0x37f, MXCSR 0x1f80, every
 * component in its init state. Built in software, never captured with an
 * init-optimizing save (which would record FCW as 0). */
void fpu_xstate_init_image(const struct fpu_xstate_info *xs, enum fpu_insn insn,
			   uint64_t mask, void *area);

#endif
