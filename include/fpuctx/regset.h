/* SPDX-License-Identifier: MIT */
/*
 * For readers and writers of a context's state in the standard (user ABI)
 * XSAVE layout: ptrace-style regsets, a hypervisor's get/set of guest state.
 */
#ifndef FPUCTX_REGSET_H
#define FPUCTX_REGSET_H

#include "types.h"

/* Copies `src` (a buffer in the system's format) to `dst` in standard format
 * for the components in `mask`: legacy area, XSAVE header with XCOMP_BV 0,
 * each component at its standard offset; components src marks as init are
 * written as init values. dst has fpu_xstate_size(XSAVE, mask) bytes. */
void fpu_regset_to_standard(const struct fpu_system *sys, const void *src, uint64_t mask, void *dst);

/* The reverse, into a buffer of the system's format. `src` must have passed
 * fpu_regset_validate(). */
void fpu_regset_from_standard(const struct fpu_system *sys, const void *src, uint64_t mask, void *dst);

enum fpu_regset_error {
	FPU_REGSET_OK = 0,
	FPU_REGSET_BAD_HEADER,     /* XCOMP_BV or reserved header bytes not zero */
	FPU_REGSET_BAD_XSTATE_BV,  /* components outside what the context may use */
	FPU_REGSET_BAD_MXCSR,      /* reserved MXCSR bits set */
	FPU_REGSET_BUSY,           /* the guest's state is in use by a run call */
};

/* The checks a standard-format image from an untrusted source must pass
 * before any of it reaches a buffer the CPU will XRSTOR (Linux bug 10):
 * XSTATE_BV within `allowed`, header bytes 8-63 zero, MXCSR within the mask. */
enum fpu_regset_error fpu_regset_validate(const struct fpu_system *sys, const void *src,
					  uint64_t allowed);
const char *fpu_regset_error_str(enum fpu_regset_error e);

#endif
