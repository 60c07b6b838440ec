/* SPDX-License-Identifier: MIT */
/*
 * Helpers of the state machine (core/fpu.c) shared with core/signal.c.
 * Not for embedders: the invariants they keep are listed in core/fpu.c.
 */
#ifndef FPUCTX_CORE_INTERNAL_H
#define FPUCTX_CORE_INTERNAL_H

#include "fpuctx/types.h"
#include "fpuctx/trace.h"
#include "fpuctx/testing.h"

/* A trace event, when the port takes them: with tracing off, the hot paths
 * pay one predictable branch per event, no call. */
void fpu__emit_event(struct fpu_cpu *cpu, unsigned type, const struct fpu_ctx *ctx,
		     const struct fpu_state *state, uint32_t bytes, uint64_t arg);
static inline void fpu__emit(struct fpu_cpu *cpu, unsigned type, const struct fpu_ctx *ctx,
			     const struct fpu_state *state, uint32_t bytes, uint64_t arg)
{
	if (__builtin_expect(cpu->sys->trace_on, 0))
		fpu__emit_event(cpu, type, ctx, state, bytes, arg);
}
void fpu__warn(struct fpu_cpu *cpu, const char *what);
void fpu__lock(struct fpu_cpu *cpu);
void fpu__unlock(struct fpu_cpu *cpu);
/* bytes: what the instruction moved (in use); full: the whole buffer or frame. */
void fpu__count_save(struct fpu_cpu *cpu, struct fpu_ctx *ctx, uint32_t bytes, uint32_t full);
void fpu__count_restore(struct fpu_cpu *cpu, struct fpu_ctx *ctx, uint32_t bytes, uint32_t full);

/* I1: the registers are about to hold nobody's image. */
void fpu__drop_cpu_owner(struct fpu_cpu *cpu);
/* I1: S is rewritten or released. */
void fpu__forget_state(struct fpu_cpu *cpu, struct fpu_state *s);
/* I10: S->unsaved and S->last_cpu as other CPUs may change them. */
static inline uint8_t fpu__unsaved(const struct fpu_state *s)
{
	return __atomic_load_n(&s->unsaved, __ATOMIC_ACQUIRE);
}
static inline int32_t fpu__last_cpu(const struct fpu_state *s)
{
	return __atomic_load_n(&s->last_cpu, __ATOMIC_RELAXED);
}
void fpu__publish(struct fpu_state *s, int32_t last_cpu, uint8_t unsaved);
bool fpu__claim_write_back(struct fpu_state *s);
void fpu__discard_unsaved(struct fpu_state *s);
/* I9: write back the unsaved image the registers hold, if any. */
void fpu__flush_owner_slow(struct fpu_cpu *cpu);
static inline void fpu__flush_owner(struct fpu_cpu *cpu)
{
	if (cpu->owner && fpu__unsaved(cpu->owner))
		fpu__flush_owner_slow(cpu);
}
/* I9: make S's buffer current: write back its unsaved image, here or by IPI. */
void fpu__sync_buffer_slow(struct fpu_cpu *cpu, struct fpu_state *s);
static inline void fpu__sync_buffer(struct fpu_cpu *cpu, struct fpu_state *s)
{
	if (fpu__unsaved(s))
		fpu__sync_buffer_slow(cpu, s);
}
/* I9: leave prev's live image in the registers as S's, unsaved. */
void fpu__defer_save(struct fpu_cpu *cpu, struct fpu_ctx *prev, struct fpu_state *s);
/* I9: ctx's state is replaced in the registers: drop any unsaved image of it. */
void fpu__supersede(struct fpu_cpu *cpu, struct fpu_ctx *ctx);
void fpu__save_regs(struct fpu_cpu *cpu, struct fpu_ctx *ctx, struct fpu_state *s);
void fpu__load_regs(struct fpu_cpu *cpu, struct fpu_ctx *ctx, struct fpu_state *s);
bool fpu__has_fpu(const struct fpu_system *sys, const struct fpu_ctx *ctx);
bool fpu__regs_live(const struct fpu_system *sys, const struct fpu_ctx *ctx);
void fpu__set_need_load(struct fpu_cpu *cpu, struct fpu_ctx *ctx);
/* I2: load ctx's state, or skip when the registers still hold it. */
void fpu__make_regs_live(struct fpu_cpu *cpu, struct fpu_ctx *ctx);
void fpu__write_pkru(struct fpu_cpu *cpu, const struct fpu_ctx *ctx, uint32_t value);
/* I8: x87 pointers cleared before restoring s (NULL: not a context buffer). */
void fpu__scrub_x87_pointers_slow(struct fpu_cpu *cpu, const struct fpu_state *s);
static inline void fpu__scrub_x87_pointers(struct fpu_cpu *cpu, const struct fpu_state *s)
{
	if (cpu->sys->xs.x87.leaks)
		fpu__scrub_x87_pointers_slow(cpu, s);
}

#endif
