/* SPDX-License-Identifier: MIT */
/*
 * For signal delivery and sigreturn: the FP part of a Linux x86-64 signal
 * frame, byte-compatible with what Linux writes and accepts.
 *
 * Where the frame lives: `buf` is the user address of the FP area inside the
 * frame the kernel is building on the user stack (or alternate stack), 64-byte
 * aligned, with fpu_sigframe_size() bytes reserved. The library writes it with
 * XSAVE straight from the registers and reads it back with XRSTOR straight
 * from user memory, both with faults disabled and an exception-table fixup;
 * the port's copy_to_user/copy_from_user/fault_in do the rest.
 *
 * Layout: bytes 0-511 FXSAVE legacy area; 464-511 hold struct fpu_sw_bytes;
 * 512-575 the XSAVE header (XCOMP_BV and reserved bytes zero); components at
 * their standard offsets; FPU_FP_XSTATE_MAGIC2 at buf + xstate_size.
 */
#ifndef FPUCTX_SIGNAL_H
#define FPUCTX_SIGNAL_H

#include "types.h"

#define FPU_FP_XSTATE_MAGIC1       0x46505853u
#define FPU_FP_XSTATE_MAGIC2       0x46505845u
#define FPU_FP_XSTATE_MAGIC2_SIZE  4
#define FPU_SW_BYTES_OFFSET    FPU_FXSAVE_SW_RESERVED

struct fpu_sw_bytes {
	uint32_t magic1;         /* FPU_FP_XSTATE_MAGIC1: an extended frame follows */
	uint32_t extended_size;  /* xstate_size + FPU_FP_XSTATE_MAGIC2_SIZE */
	uint64_t xfeatures;      /* components the frame may hold */
	uint32_t xstate_size;    /* bytes of the XSAVE image */
	uint32_t padding[7];
};

/* Bytes to reserve for the FP area (XSAVE image and MAGIC2). */
uint32_t fpu_sigframe_size(const struct fpu_system *sys);

/* Writes the user FPU state of ctx (the caller's context) to the frame at
 * buf, loading it first if it is not live. May sleep, and so come back on
 * another CPU: that is why it takes the system, not a CPU (the port says
 * which CPU is current). Returns 0, or -1 if the frame cannot be written
 * (the caller then delivers SIGSEGV). */
int fpu_signal_save(struct fpu_system *sys, struct fpu_ctx *ctx, uintptr_t buf);

/* The state a handler starts in: every component init, default PKRU. Also the
 * state after a failed sigreturn. */
void fpu_signal_reset(struct fpu_cpu *cpu, struct fpu_ctx *ctx);

enum fpu_sigreturn {
	FPU_SIGRETURN_OK = 0,
	FPU_SIGRETURN_OK_FX_ONLY,   /* no valid extended frame: legacy area only, rest init */
	FPU_SIGRETURN_FAULT,        /* the frame could not be read */
	FPU_SIGRETURN_BAD_HEADER,   /* XCOMP_BV or reserved header bytes not zero */
	FPU_SIGRETURN_BAD_XSTATE_BV,/* XSTATE_BV names components the CPU does not enable */
	FPU_SIGRETURN_BAD_MXCSR,    /* reserved MXCSR bits set */
	FPU_SIGRETURN_REFUSED,      /* the CPU refused what validation accepted */
	FPU_SIGRETURN_MISALIGNED,   /* not 64-byte aligned (16 for a legacy-only frame) */
};

/* sigreturn: restores ctx's user state from the frame at buf (0: none, which
 * gives the init state). May sleep, like fpu_signal_save. On an error the task is left in the reset state, no
 * other context's bytes are in its registers or buffer, and the caller must
 * deliver SIGSEGV. Validation happens in software before any XRSTOR,
 * including buf's alignment: 64 bytes when the frame has a valid extended
 * part (XRSTOR), 16 when it is read as the legacy area only (FXRSTOR). */
enum fpu_sigreturn fpu_signal_restore(struct fpu_system *sys, struct fpu_ctx *ctx, uintptr_t buf);
bool fpu_sigreturn_ok(enum fpu_sigreturn r);
const char *fpu_sigreturn_str(enum fpu_sigreturn r);

#endif
