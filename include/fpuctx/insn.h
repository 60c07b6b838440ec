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

static inline uint64_t fpu_rdtsc(void)
{
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return lo | ((uint64_t)hi << 32);
}

#endif
