/* SPDX-License-Identifier: MIT */
/*
 * Raw instruction wrappers. The only place that speaks to the FPU hardware;
 * usable from general-regs-only code (the assembler does not care).
 * All use the 64-bit (REX.W) forms so FIP/FDP are saved as 64-bit values.
 */
#ifndef FPUCTX_INSN_H
#define FPUCTX_INSN_H

#include <stdint.h>

static inline void fpu_cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
	__asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3])
			 : "a"(leaf), "c"(sub));
}

static inline uint64_t fpu_xgetbv(uint32_t index)
{
	uint32_t lo, hi;
	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(index));
	return lo | ((uint64_t)hi << 32);
}

#define FPU_XOP(insn, area, mask)                                              \
	__asm__ volatile(insn " (%0)" : : "r"(area), "a"((uint32_t)(mask)),       \
			 "d"((uint32_t)((mask) >> 32)) : "memory")

static inline void fpu_xsave(void *area, uint64_t mask)    { FPU_XOP("xsave64", area, mask); }
static inline void fpu_xsaveopt(void *area, uint64_t mask) { FPU_XOP("xsaveopt64", area, mask); }
static inline void fpu_xsavec(void *area, uint64_t mask)   { FPU_XOP("xsavec64", area, mask); }
static inline void fpu_xrstor(const void *area, uint64_t mask) { FPU_XOP("xrstor64", area, mask); }

static inline void fpu_fxsave(void *area)
{
	__asm__ volatile("fxsave64 (%0)" : : "r"(area) : "memory");
}

static inline void fpu_fxrstor(const void *area)
{
	__asm__ volatile("fxrstor64 (%0)" : : "r"(area) : "memory");
}

static inline void fpu_ldmxcsr(uint32_t v)
{
	__asm__ volatile("ldmxcsr %0" : : "m"(v));
}

static inline void fpu_fninit(void)
{
	__asm__ volatile("fninit");
}

/* Sets FOP, FIP and FDP to values of no context. FNCLEX: nothing pending
 * may fault. FLDENV of a neutral environment (all exceptions masked, every
 * register empty) zeroes them where the CPU loads them from it, and makes
 * room on the x87 stack. FILD then sets them to its own addresses where
 * the CPU tracks them by instruction (not FDP under FDP_EXCPTN_ONLY,
 * CPUID.7.0:EBX[6]; emulators may not load them from FLDENV). The next
 * restore overwrites everything but the pointers on a CPU that leaks them. */
static inline void fpu_x87_scrub_pointers(void)
{
	static const uint32_t neutral_env[7] = { 0x037f, 0, 0xffff, 0, 0, 0, 0 };

	__asm__ volatile("fnclex\n\tfldenv %0\n\tfildl %1" : : "m"(neutral_env), "m"(neutral_env[3]));
}

/* The x87 environment as FNSTENV stores it in 64-bit mode: 32-bit FIP and
 * FDP offsets at bytes 12 and 20. Masks all x87 exceptions as a side effect. */
static inline void fpu_fnstenv(void *env28)
{
	__asm__ volatile("fnstenv (%0)" : : "r"(env28) : "memory");
}

/* RDPKRU/WRPKRU by opcode: old assemblers lack the mnemonics. */
static inline uint32_t fpu_rdpkru(void)
{
	uint32_t eax, edx;
	__asm__ volatile(".byte 0x0f,0x01,0xee" : "=a"(eax), "=d"(edx) : "c"(0));
	return eax;
}

static inline void fpu_wrpkru(uint32_t v)
{
	__asm__ volatile(".byte 0x0f,0x01,0xef" : : "a"(v), "c"(0), "d"(0) : "memory");
}

/*
 * Instructions on memory that may fault (user memory, or a buffer a bug let
 * through). Each carries an entry in the fpuctx_extable section: the
 * embedder's fault handler finds it with fpu_extable_search() and resumes at
 * the fixup with the trap number in ECX (14 #PF, 13 #GP, 7 #NM). Offsets are
 * PC-relative so the table needs no relocations.
 */
#define FPU_EX_TRAPNR 0   /* resume at fixup with ECX = trap number */
#define FPU_EX_PLAIN  1   /* resume at fixup, registers untouched */

#define FPU_EXTABLE(insn, fixup, kind)                 \
	".pushsection fpuctx_extable, \"a\"\n"          \
	".balign 4\n"                                    \
	".long " insn " - .\n"                           \
	".long " fixup " - .\n"                          \
	".long " #kind "\n"                              \
	".popsection\n"

#define FPU_XOP_SAFE(insn, area, mask, trap)                                   \
	__asm__ volatile("xor %%ecx, %%ecx\n"                                   \
			 "1: " insn " (%1)\n"                                   \
			 "2:\n" FPU_EXTABLE("1b", "2b", 0)                      \
			 : "=&c"(trap) : "r"(area), "a"((uint32_t)(mask)),       \
			   "d"((uint32_t)((mask) >> 32)) : "memory")

/* Return 0, or the trap number of the fault. */
static inline uint32_t fpu_xsave_safe(void *area, uint64_t mask)
{
	uint32_t trap;
	FPU_XOP_SAFE("xsave64", area, mask, trap);
	return trap;
}

static inline uint32_t fpu_xrstor_safe(const void *area, uint64_t mask)
{
	uint32_t trap;
	FPU_XOP_SAFE("xrstor64", area, mask, trap);
	return trap;
}

#define FPU_FXOP_SAFE(insn, area, trap)                                       \
	__asm__ volatile("xor %%ecx, %%ecx\n"                                   \
			 "1: " insn " (%1)\n"                                   \
			 "2:\n" FPU_EXTABLE("1b", "2b", 0)                      \
			 : "=&c"(trap) : "r"(area) : "memory")

static inline uint32_t fpu_fxrstor_safe(const void *area)
{
	uint32_t trap;
	FPU_FXOP_SAFE("fxrstor64", area, trap);
	return trap;
}

static inline uint32_t fpu_fxsave_safe(void *area)
{
	uint32_t trap;
	FPU_FXOP_SAFE("fxsave64", area, trap);
	return trap;
}

/* XINUSE (XGETBV with ECX=1), where CPUID.(0xD,1).EAX[2] says it exists. */
static inline uint64_t fpu_xinuse(void)
{
	return fpu_xgetbv(1);
}

static inline uint64_t fpu_rdtsc(void)
{
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return lo | ((uint64_t)hi << 32);
}

#endif
