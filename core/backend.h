/* SPDX-License-Identifier: MIT */
/* Save/restore backends: the one place that picks an instruction. */
#ifndef FPUCTX_CORE_BACKEND_H
#define FPUCTX_CORE_BACKEND_H

#include "fpuctx/types.h"

/* Registers -> area, components in `mask`, in the system's format. Returns
 * the bytes the instruction wrote (types.h, struct fpu_stats). */
uint32_t fpu_hw_save(const struct fpu_system *sys, void *area, uint64_t mask);
/* area -> registers. XRSTOR reads the format from the buffer's header.
 * Returns 0, or the trap number if the CPU refused the buffer. */
uint32_t fpu_hw_restore(const struct fpu_system *sys, const void *area, uint64_t mask);
/* The same with the instruction given: FXRSTOR (fx) or XRSTOR of mask. For
 * buffers in another format than the system's (signal frames, init images). */
uint32_t fpu_hw_restore_as(const struct fpu_system *sys, const void *area, uint64_t mask, bool fx);
/* Bytes an XRSTOR (FXRSTOR) of `mask` from area will read: call it before the restore. */
uint32_t fpu_hw_restore_bytes(const struct fpu_system *sys, const void *area, uint64_t mask);
/* Bytes of the whole buffer for `mask`: a save or restore that skipped nothing.
 * A context buffer's own mask is the common case: computed once, at init. */
static inline uint32_t fpu_hw_bytes(const struct fpu_system *sys, uint64_t mask)
{
	return mask == sys->mask ? sys->state_size : fpu_xstate_size(&sys->xs, sys->insn, mask);
}
/* dst <- src, two buffers of the system's format holding `mask`: the legacy
 * area, the header and the components set in src's XSTATE_BV; the others are
 * left as they were in dst (every reader honours XSTATE_BV). Returns the bytes copied. */
uint32_t fpu_hw_copy(const struct fpu_system *sys, void *dst, const void *src, uint64_t mask);
enum fpu_insn fpu_hw_best_insn(const struct fpu_xstate_info *xs);

#endif
