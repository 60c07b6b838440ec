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

/* Last step before returning to user space, interrupts off. */
void fpu_exit_to_user(struct fpu_cpu *cpu, struct fpu_ctx *ctx);

/* current (on cpu) forks: child gets a copy of current's user FPU state. */
void fpu_fork(struct fpu_cpu *cpu, struct fpu_ctx *current, struct fpu_ctx *child);
/* current execs: its FPU state becomes init. */
void fpu_exec(struct fpu_cpu *cpu, struct fpu_ctx *current);
/* current exits: the buffer is released and must never look loaded again. */
void fpu_exit(struct fpu_cpu *cpu, struct fpu_ctx *current);

#endif
