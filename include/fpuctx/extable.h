/* SPDX-License-Identifier: MIT */
/*
 * For the embedder's fault handler: the library's instructions that may
 * fault (XSAVE/XRSTOR on user memory, restores of kernel buffers) each have
 * an exception-table entry. On a fault at entry->insn the handler must
 * resume at entry->fixup; for FPU_EX_TRAPNR entries it also sets ECX to the
 * trap number. A fault anywhere else is a real kernel bug.
 */
#ifndef FPUCTX_EXTABLE_H
#define FPUCTX_EXTABLE_H

#include <stdint.h>

struct fpu_extable_entry {
	int32_t insn;   /* relative to &insn */
	int32_t fixup;  /* relative to &fixup */
	int32_t kind;   /* FPU_EX_TRAPNR or FPU_EX_PLAIN (insn.h) */
};

static inline uintptr_t fpu_extable_insn(const struct fpu_extable_entry *e)
{
	return (uintptr_t)&e->insn + (intptr_t)e->insn;
}

static inline uintptr_t fpu_extable_fixup(const struct fpu_extable_entry *e)
{
	return (uintptr_t)&e->fixup + (intptr_t)e->fixup;
}

/* The entry for a faulting instruction at ip, or NULL. */
const struct fpu_extable_entry *fpu_extable_search(uintptr_t ip);

#endif
