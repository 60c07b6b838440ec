/* SPDX-License-Identifier: MIT */
/*
 * For the scheduler and process lifecycle: the hooks a kernel calls at context
 * switch, on the way back to user space, and at fork, exec and exit.
 */
#ifndef FPUCTX_SCHED_H
#define FPUCTX_SCHED_H

#include "types.h"

/* Prepares a context. `state` is set up by fpu_state_setup(); it starts in
 * init state and is loaded before the context first returns to user space. */
void fpu_ctx_init(struct fpu_system *sys, struct fpu_ctx *ctx, struct fpu_state *state,
		  uint32_t id, bool kthread);
/* Makes `area` (area_size bytes, the embedder's memory) a register image
 * buffer. Returns false, and leaves `state` untouched, if area is NULL, not
 * fpu_state_align() aligned or smaller than fpu_state_size(). */
bool fpu_state_setup(struct fpu_system *sys, struct fpu_state *state, void *area,
		     uint32_t area_size, uint32_t id);

/* Context switch from prev to next on cpu, before the stack switch, with
 * interrupts off. */
void fpu_switch(struct fpu_cpu *cpu, struct fpu_ctx *prev, struct fpu_ctx *next);

/* Last step before returning to user space. It takes the FPU lock itself,
 * so it may run with interrupts on (an interrupt that lands in its restore
 * is refused kernel FPU); but a kernel FPU section of an interrupt that
 * lands after it returns undoes it. The last call before the return must be
 * made with interrupts off: it returns at once if nothing needs loading. */
void fpu_exit_to_user(struct fpu_cpu *cpu, struct fpu_ctx *ctx);

/* ctx is leaving cpu for another CPU (migration, load balancing), called
 * on cpu after ctx was switched out. Under a policy that defers the save it
 * writes back ctx's unsaved image here, so that the CPU ctx runs on next
 * need not ask this one by IPI. Optional: without it the image is fetched on
 * demand through the port's flush_remote. */
void fpu_migrate_out(struct fpu_cpu *cpu, struct fpu_ctx *ctx);
/* The handler of the port's flush_remote IPI, on the CPU it was sent to,
 * interrupts off: writes back `state` if these registers hold its unsaved
 * image. Returns false if it cannot now (the interrupt hit code holding the
 * FPU lock): call it again after that code unlocks. */
bool fpu_flush_ipi(struct fpu_cpu *cpu, struct fpu_state *state);

/* current (on cpu) forks: child gets a copy of current's user FPU state. */
void fpu_fork(struct fpu_cpu *cpu, struct fpu_ctx *current, struct fpu_ctx *child);
/* current execs: its FPU state becomes init. */
void fpu_exec(struct fpu_cpu *cpu, struct fpu_ctx *current);
/* current exits: the buffer is released and must never look loaded again. */
void fpu_exit(struct fpu_cpu *cpu, struct fpu_ctx *current);

#endif
