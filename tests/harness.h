/* SPDX-License-Identifier: MIT */
/*
 * Scaffolding shared by the tests and fuzzers that drive the library on
 * this process's real registers (tests/difftest.c, fuzz/fuzz_sigframe.c):
 * code that runs while the registers hold test state, byte helpers, and
 * the frame fix-ups both need.
 */
#ifndef FPUCTX_TEST_HARNESS_H
#define FPUCTX_TEST_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "fpuctx/insn.h"
#include "fpuctx/signal.h"
#include "fpuctx/xstate.h"

/* Functions that run while the registers hold test state: no SIMD (GCC
 * enforces it; clang ignores general-regs-only, and these bodies give it
 * nothing to vectorize), no sanitizer or coverage instrumentation. */
#if defined(__clang__)
#define REGSAFE __attribute__((noinline, target("general-regs-only"), \
			       no_sanitize("address", "undefined", "coverage")))
#else
#define REGSAFE __attribute__((noinline, target("general-regs-only"), no_sanitize("address", "undefined")))
#endif

#define ARCH_GET_XCOMP_PERM 0x1022
#define ARCH_REQ_XCOMP_PERM 0x1023
#define AMX_MASK (FPU_XFEATURE_MASK(FPU_XFEATURE_XTILECFG) | FPU_XFEATURE_MASK(FPU_XFEATURE_XTILEDATA))

/* Fields of a signal frame's software bytes and XSAVE header. */
#define SW_MAGIC1   (FPU_SW_BYTES_OFFSET + 0)
#define SW_EXTSIZE  (FPU_SW_BYTES_OFFSET + 4)
#define SW_XFEAT    (FPU_SW_BYTES_OFFSET + 8)
#define SW_XSIZE    (FPU_SW_BYTES_OFFSET + 16)
#define HDR_BV      (FPU_XSAVE_HDR_OFFSET + 0)
#define HDR_COMP    (FPU_XSAVE_HDR_OFFSET + 8)

static inline uint64_t get64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }
static inline uint32_t get32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static inline uint16_t get16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static inline void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }
static inline void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static inline void put16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }

/* Byte copy that is neither a libc call nor SIMD, nor instrumented. */
#define rep_movsb(dst, src, len)                                                        \
	do {                                                                            \
		void *d_ = (void *)(dst);                                               \
		const void *s_ = (const void *)(src);                                   \
		size_t n_ = (len);                                                      \
		__asm__ volatile("rep movsb" : "+D"(d_), "+S"(s_), "+c"(n_) : : "memory"); \
	} while (0)

/* The port calls a single-CPU, single-task harness has nothing to do in. */
static REGSAFE __attribute__((unused)) void harness_port_lock(void *p, int c) { (void)p; (void)c; }
static REGSAFE __attribute__((unused)) void harness_port_unlock(void *p, int c) { (void)p; (void)c; }
static REGSAFE __attribute__((unused)) unsigned harness_port_context(void *p, int c) { (void)p; (void)c; return 0; }

/* A frame whose PKRU closes key 0 kills the task right after a successful
 * sigreturn (its stack and data are key 0): no verdict to compare, so key 0
 * is opened wherever XRSTOR will read PKRU from in the `len` bytes of f. */
static inline void keep_key0_open(const struct fpu_xstate_info *xs, bool has_pkru, uint8_t *f,
				  uint32_t len)
{
	uint64_t comp = get64(f + HDR_COMP);
	uint32_t off = xs->offset[FPU_XFEATURE_PKRU];

	if (!has_pkru)
		return;
	if (comp & FPU_XCOMP_BV_COMPACTED)
		off = fpu_xstate_offset(xs, FPU_INSN_XSAVEC, comp & xs->xcr0, FPU_XFEATURE_PKRU);
	if (off && off + 4 <= len)
		f[off] &= (uint8_t)~3u;
}

#endif
