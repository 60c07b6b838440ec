/* SPDX-License-Identifier: MIT */
/* For drivers and kernel code that use SIMD, and for readers of FPU state. */
#ifndef FPUCTX_API_H
#define FPUCTX_API_H

#include "types.h"

#define FPU_KFPU_MXCSR 0x1u   /* reset MXCSR to the default (always done) */
#define FPU_KFPU_387   0x2u   /* also reset the x87 control word */

/* May kernel code use FPU registers here and now? (Not when nested, not in
 * NMI, not in an interrupt that hit a region holding the FPU lock.) */
bool fpu_kernel_usable(struct fpu_cpu *cpu);
/* Starts a kernel FPU section for `current` (NULL or a kthread when no user
 * state is live). Returns false, counts and traces a refusal when not usable;
 * the caller must then do without SIMD. */
bool fpu_kernel_begin(struct fpu_cpu *cpu, struct fpu_ctx *current, unsigned kfpu_flags);
void fpu_kernel_end(struct fpu_cpu *cpu, struct fpu_ctx *current);

/* Makes current's memory image up to date (for readers: ptrace, core dumps). */
void fpu_sync_to_memory(struct fpu_cpu *cpu, struct fpu_ctx *current);
/* The same for a context that is switched out (a stopped tracee), from any
 * CPU: under a policy that defers the save, its image may still be in the
 * registers of the CPU it last ran on, which is asked to write it back. */
void fpu_sync_switched_out(struct fpu_cpu *cpu, struct fpu_ctx *ctx);

/* Sets up a library instance. `want` = features asked for (~0ull: all the OS
 * enabled); `insn` the save instruction, or FPU_INSN__COUNT for the best the
 * CPU has. On failure returns the error and sets *missing to what was asked
 * and does not exist (0 for the other errors, e.g. a port without a required
 * operation, port.h). The embedder then allocates buffers of
 * fpu_state_size() bytes aligned to fpu_state_align(), the first one for the
 * init image via fpu_system_set_init_area(). */
enum fpu_setup_error fpu_system_init(struct fpu_system *sys, const struct fpu_policy *policy,
				     uint64_t want, enum fpu_insn insn,
				     const struct fpu_port_ops *port, void *port_data,
				     uint64_t *missing);
/* false if the area is refused (as by fpu_state_setup, sched.h). */
bool fpu_system_set_init_area(struct fpu_system *sys, struct fpu_state *init, void *area,
			      uint32_t area_size);

/* What every register image buffer (fpu_state.area) needs, valid after
 * fpu_system_init(): its size in bytes and its alignment. */
uint32_t fpu_state_size(const struct fpu_system *sys);
uint32_t fpu_state_align(const struct fpu_system *sys);

/* Sum of the per-CPU counters. */
void fpu_stats_add(struct fpu_stats *sum, const struct fpu_stats *add);

#endif
