/* SPDX-License-Identifier: MIT */
/*
 * The FPU ownership state machine. Read top to bottom:
 *   1. invariants and the helpers that keep them
 *   2. context switch
 *   3. return to user space
 *   4. kernel FPU sections
 *   5. process lifecycle: init, fork, exec, exit, sync
 *   6. system setup
 *
 * Policies (core/policy.c) only answer questions asked here; every save and
 * restore goes through fpu__save_regs()/fpu__load_regs(), so counting and tracing are
 * exact whatever the policy.
 */
#include "fpuctx/api.h"
#include "fpuctx/sched.h"
#include "fpuctx/trace.h"
#include "fpuctx/insn.h"
#include "backend.h"
#include "internal.h"
#include "util.h"

/* ---------------------------------------------------------------------------
 * 1. Invariants
 *
 * valid(S, cpu)  :=  cpu->owner == S  &&  S->last_cpu == cpu->id
 *
 * I1  valid(S, cpu) => cpu's registers hold S's image (PKRU aside).
 *     Whoever clobbers the registers drops the owner (drop_cpu_owner);
 *     whoever rewrites S in memory or frees it forgets it (forget_state).
 * I2  A context with NEED_LOAD clear that is running on cpu has its live
 *     user state in the registers, and no other copy is newer.
 * I3  NEED_LOAD set => the buffer is authoritative, or S->unsaved (I9):
 *     nothing may save the registers into it but the write-back of I9
 *     (they belong to someone else, or to no one).
 * I4  Kernel threads own no user state: NEED_LOAD stays set, they are never
 *     saved (unless the policy gives them a context, as eager does).
 * I5  No context returns to user space with NEED_LOAD set.
 * I6  All of the above is changed under the port lock or with interrupts
 *     off, so an interrupt's kernel FPU section never sees a half step.
 * I7  PKRU always holds the running context's value: it is written at every
 *     switch and is not part of the deferred image (kernel user-copies obey it).
 * I8  On a CPU that leaks x87 pointers through a restore, no context's
 *     FOP/FIP/FDP reach another: they are scrubbed before every restore
 *     that does not reload the image the registers already hold
 *     (fpu__scrub_x87_pointers).
 * I9  S->unsaved => valid(S, the CPU S->last_cpu): the newest image of S is
 *     in that CPU's registers and nowhere else (deferred policy). It is
 *     written back exactly once, into S and nothing else: before those
 *     registers take anything else (fpu__flush_owner), before S is read or
 *     loaded elsewhere (fpu__sync_buffer: on that CPU, by migration or IPI);
 *     when S is rewritten or freed it is discarded unsaved (fpu__forget_state).
 *     A CPU that waits for another's write-back holds no unsaved image
 *     itself, so waits never form a cycle.
 * I10 S->unsaved and S->last_cpu are shared between CPUs: the holder writes
 *     them (defer, write-back, load) while a CPU that needs or discards S
 *     reads them, or clears them (exit, exec, set, sigreturn). So:
 *     last_cpu is stored before unsaved (fpu__publish, a release store)
 *     and read after it (fpu__unsaved, an acquire load): whoever sees an
 *     image written back sees the buffer's bytes and whose it was, and a
 *     write-back's late store of last_cpu cannot land over a newer one.
 *     The holder's write-back and a discard race for the image with one
 *     compare-and-swap (fpu__claim_write_back, fpu__discard_unsaved):
 *     exactly one wins, and a discard that finds the write-back already
 *     under way waits for its end, so nothing the holder stores lands after.
 * ------------------------------------------------------------------------- */

void fpu__emit_event(struct fpu_cpu *cpu, unsigned type, const struct fpu_ctx *ctx,
		     const struct fpu_state *state, uint32_t bytes, uint64_t arg)
{
	const struct fpu_system *sys = cpu->sys;
	struct fpu_event ev;

	ev.type = (uint16_t)type;
	ev.cpu = (int16_t)cpu->id;
	ev.ctx = ctx ? ctx->id : 0;
	ev.state = state ? state->id : 0;
	ev.bytes = bytes;
	ev.arg = arg;
	sys->port->trace(sys->port_data, &ev);
}

void fpu__warn(struct fpu_cpu *cpu, const char *what)
{
	if (cpu->sys->port && cpu->sys->port->warn)
		cpu->sys->port->warn(cpu->sys->port_data, cpu->id, what);
}

void fpu__lock(struct fpu_cpu *cpu)
{
	cpu->sys->port->lock(cpu->sys->port_data, cpu->id);
}

void fpu__unlock(struct fpu_cpu *cpu)
{
	cpu->sys->port->unlock(cpu->sys->port_data, cpu->id);
}

static bool state_valid(const struct fpu_cpu *cpu, const struct fpu_state *s)
{
	if (FPU_BUG(cpu->sys, SKIP_OWNER_CHECK))
		return fpu__last_cpu(s) == cpu->id;
	return cpu->owner == s && fpu__last_cpu(s) == cpu->id;
}

#ifdef FPUCTX_TESTING
/* The bug publish-unordered with its window held open, as an adversarial
 * scheduler would: "saved" is visible, the store of last_cpu waits. If
 * another CPU takes the image meanwhile (its last_cpu changes), the store
 * waits on until that CPU has switched the task out again (unsaved), then
 * lands over its last_cpu. Bounded: spins, not a sleep. */
static void publish_unordered(struct fpu_state *s, int32_t cpu)
{
	volatile uint32_t n;

	__atomic_store_n(&s->unsaved, FPU_SAVED, __ATOMIC_RELAXED);
	for (n = 0; n < 20000 && fpu__last_cpu(s) == cpu; n = n + 1)
		;
	if (fpu__last_cpu(s) != cpu)
		for (n = 0; n < 400000 && !fpu__unsaved(s); n = n + 1)
			;
	__atomic_store_n(&s->last_cpu, cpu, __ATOMIC_RELAXED);
}
#endif

/* I10: where S's image is now, then whether that is newer than its buffer:
 * in that order, so that the second store publishes the first (and, for a
 * write-back, the bytes XSAVE wrote before it). */
void fpu__publish(struct fpu_state *s, int32_t last_cpu, uint8_t unsaved)
{
	__atomic_store_n(&s->last_cpu, last_cpu, __ATOMIC_RELAXED);
	__atomic_store_n(&s->unsaved, unsaved, __ATOMIC_RELEASE);
}

/* I10: the holder takes its unsaved image for a write-back; false if a
 * discard took it first (then there is nothing to write). */
bool fpu__claim_write_back(struct fpu_state *s)
{
	uint8_t expected = FPU_UNSAVED;

	return __atomic_compare_exchange_n(&s->unsaved, &expected, FPU_WRITING_BACK, false,
					   __ATOMIC_ACQUIRE, __ATOMIC_ACQUIRE);
}

/* I10: S is rewritten or freed by a CPU that may not hold its image: take
 * the image from the holder, or wait until the holder's write-back is over. */
void fpu__discard_unsaved(struct fpu_state *s)
{
	uint8_t expected = FPU_UNSAVED;

	while (!__atomic_compare_exchange_n(&s->unsaved, &expected, FPU_SAVED, false,
					    __ATOMIC_ACQUIRE, __ATOMIC_ACQUIRE)) {
		if (expected == FPU_SAVED)
			return;
		expected = FPU_UNSAVED; /* a write-back under way: it ends with FPU_SAVED */
	}
}

/* The registers are about to hold something that is nobody's image. */
void fpu__drop_cpu_owner(struct fpu_cpu *cpu)
{
	if (cpu->owner)
		fpu__emit(cpu, FPU_EV_OWNER_DROP, 0, cpu->owner, 0, 0);
	cpu->owner = 0;
}

/* S is rewritten in memory or released: no CPU may consider it loaded, and
 * an unsaved image of it is dropped, never written back (I9). */
void fpu__forget_state(struct fpu_cpu *cpu, struct fpu_state *s)
{
	if (FPU_BUG(cpu->sys, EXIT_KEEPS_OWNER))
		return;
	if (FPU_BUG(cpu->sys, EXEC_KEEPS_UNSAVED) && fpu__unsaved(s))
		return;
	fpu__discard_unsaved(s);
	if (cpu->owner == s)
		fpu__drop_cpu_owner(cpu);
	fpu__publish(s, -1, FPU_SAVED); /* other CPUs may still name S as owner: last_cpu rules them out */
}

void fpu__count_save(struct fpu_cpu *cpu, struct fpu_ctx *ctx, uint32_t bytes, uint32_t full)
{
	cpu->stats.saves++;
	cpu->stats.bytes_saved += bytes;
	cpu->stats.bytes_saved_full += full;
	if (ctx) {
		ctx->stats.saves++;
		ctx->stats.bytes_saved += bytes;
		ctx->stats.bytes_saved_full += full;
	}
}

void fpu__count_restore(struct fpu_cpu *cpu, struct fpu_ctx *ctx, uint32_t bytes, uint32_t full)
{
	cpu->stats.restores++;
	cpu->stats.bytes_restored += bytes;
	cpu->stats.bytes_restored_full += full;
	if (ctx) {
		ctx->stats.restores++;
		ctx->stats.bytes_restored += bytes;
		ctx->stats.bytes_restored_full += full;
	}
}

/* I8: about to restore s (NULL: a frame or an init image). Only the image
 * the registers hold already may keep its pointers. */
void fpu__scrub_x87_pointers_slow(struct fpu_cpu *cpu, const struct fpu_state *s)
{
	const struct fpu_system *sys = cpu->sys;

	if (FPU_BUG(sys, X87_NO_SCRUB))
		return;
	if (s && cpu->owner == s && s->last_cpu == cpu->id)
		return;
	fpu_x87_scrub_pointers();
	cpu->stats.x87_scrubs++;
	fpu__emit(cpu, FPU_EV_X87_SCRUB, 0, s, 0, 0);
}

/* Registers -> S. Afterwards the registers still hold S's image: valid(S). */
void fpu__save_regs(struct fpu_cpu *cpu, struct fpu_ctx *ctx, struct fpu_state *s)
{
	uint32_t bytes = fpu_hw_save(cpu->sys, s->area, s->mask);

	cpu->owner = s;
#ifdef FPUCTX_TESTING
	if (FPU_BUG(cpu->sys, PUBLISH_UNORDERED) && fpu__unsaved(s))
		publish_unordered(s, cpu->id); /* a write-back, stores in the wrong order */
	else
#endif
	fpu__publish(s, cpu->id, FPU_SAVED);
	fpu__count_save(cpu, ctx, bytes, fpu_hw_bytes(cpu->sys, s->mask));
	fpu__emit(cpu, FPU_EV_SAVE, ctx, s, bytes, 0);
}

/* S -> registers: valid(S) from here on. What the registers held unsaved is
 * written back first, and S's own newest image fetched if another CPU has it (I9). */
void fpu__load_regs(struct fpu_cpu *cpu, struct fpu_ctx *ctx, struct fpu_state *s)
{
	uint32_t bytes;

	fpu__flush_owner(cpu);
	fpu__sync_buffer(cpu, s);
	bytes = fpu_hw_restore_bytes(cpu->sys, s->area, s->mask); /* what S holds now */
	fpu__scrub_x87_pointers(cpu, s);
	if (fpu_hw_restore(cpu->sys, s->area, s->mask)) {
		/* A kernel buffer the CPU refuses: never run on what is left in
		 * the registers. Linux does the same (WARN, then init). */
		fpu__warn(cpu, "restoring a context buffer faulted: loaded the init state instead");
		fpu_hw_restore(cpu->sys, cpu->sys->init_state->area, s->mask);
	}
	cpu->owner = s;
	fpu__publish(s, cpu->id, FPU_SAVED);
	fpu__count_restore(cpu, ctx, bytes, fpu_hw_bytes(cpu->sys, s->mask));
	fpu__emit(cpu, FPU_EV_RESTORE, ctx, s, bytes, 0);
}

/* I9: the registers are about to take something else: write the unsaved
 * image they hold back into the buffer it belongs to (the owner, whichever
 * buffer its context has active now). */
void fpu__flush_owner_slow(struct fpu_cpu *cpu)
{
	struct fpu_state *s = cpu->owner;

	if (fpu__last_cpu(s) != cpu->id || !fpu__claim_write_back(s))
		return; /* not this CPU's image, or discarded by another CPU (I10) */
#ifdef FPUCTX_TESTING
	if (FPU_BUG(cpu->sys, FLUSH_ACTIVE_BUFFER) && cpu->unsaved_ctx &&
	    cpu->unsaved_ctx->active != s) {
		struct fpu_state *wrong = cpu->unsaved_ctx->active;
		uint32_t bytes = fpu_hw_save(cpu->sys, wrong->area, wrong->mask);

		fpu__count_save(cpu, cpu->unsaved_ctx, bytes, fpu_hw_bytes(cpu->sys, wrong->mask));
		fpu__emit(cpu, FPU_EV_SAVE, cpu->unsaved_ctx, wrong, bytes, 0);
		fpu__publish(s, cpu->id, FPU_SAVED);
		return;
	}
#endif
	fpu__save_regs(cpu, cpu->unsaved_ctx, s);
}

/* I9: S's buffer is about to be read or loaded on this CPU: if another CPU
 * holds S's newest image, have it written back (by IPI, through the port). */
void fpu__sync_buffer_slow(struct fpu_cpu *cpu, struct fpu_state *s)
{
	struct fpu_system *sys = cpu->sys;
	int32_t holder = fpu__last_cpu(s); /* read after unsaved (I10) */

	if (holder == cpu->id) {
		fpu__flush_owner(cpu);
		return;
	}
	if (FPU_BUG(sys, NO_REMOTE_FLUSH))
		return;
	fpu__flush_owner(cpu); /* hold nothing unsaved while waiting: no cycle of waiters */
	cpu->stats.ipis++;
	fpu__emit(cpu, FPU_EV_FLUSH_REQUEST, 0, s, 0, (uint64_t)holder);
	sys->port->flush_remote(sys->port_data, holder, s);
	if (fpu__unsaved(s))
		fpu__warn(cpu, "flush_remote returned before the image was written back");
}

/* I9: the registers are about to get ctx's new live state from somewhere
 * else than its buffer (a signal frame, the reset state): an unsaved image
 * of its buffer, here or on another CPU, is superseded and must never be
 * written back over what ctx does next. */
void fpu__supersede(struct fpu_cpu *cpu, struct fpu_ctx *ctx)
{
	struct fpu_state *s = ctx->active;

	if (!fpu__unsaved(s))
		return;
	fpu__discard_unsaved(s);
	if (cpu->owner == s)
		fpu__drop_cpu_owner(cpu);
	fpu__publish(s, -1, FPU_SAVED);
}

/* A remote flush done on the CPU holding the image (migration or IPI). */
static void flush_for_remote(struct fpu_cpu *cpu, struct fpu_state *s)
{
	if (!fpu__unsaved(s) || fpu__last_cpu(s) != cpu->id)
		return;
	if (cpu->owner != s) {
		/* I9 broke: the image is gone. Say so rather than let the asker wait. */
		fpu__warn(cpu, "an unsaved image is no longer in the registers of the CPU that held it");
		fpu__discard_unsaved(s);
		return;
	}
	fpu__flush_owner(cpu);
	cpu->stats.remote_flushes++;
}

/* Does this context have user state the policy keeps in the registers? */
bool fpu__has_fpu(const struct fpu_system *sys, const struct fpu_ctx *ctx)
{
	return ctx && (!(ctx->flags & FPU_CTX_KTHREAD) || sys->policy->kthreads_switch_fpu);
}

bool fpu__regs_live(const struct fpu_system *sys, const struct fpu_ctx *ctx)
{
	return fpu__has_fpu(sys, ctx) && !(ctx->flags & FPU_CTX_NEED_LOAD);
}

void fpu__set_need_load(struct fpu_cpu *cpu, struct fpu_ctx *ctx)
{
	if (!(ctx->flags & FPU_CTX_NEED_LOAD))
		fpu__emit(cpu, FPU_EV_NEED_LOAD, ctx, ctx->active, 0, 0);
	ctx->flags |= FPU_CTX_NEED_LOAD;
}

/* Makes ctx's user state live: load it, or skip when the registers still hold it. */
void fpu__make_regs_live(struct fpu_cpu *cpu, struct fpu_ctx *ctx)
{
	struct fpu_state *s = ctx->active;

	if (cpu->sys->policy->skip_valid_restore && state_valid(cpu, s)) {
		fpu__publish(s, cpu->id, FPU_SAVED); /* live again: the running context's, not a write-back's */
		cpu->stats.skipped_restores++;
		ctx->stats.skipped_restores++;
		fpu__emit(cpu, FPU_EV_SKIP_RESTORE, ctx, s, 0, 0);
	} else {
		fpu__load_regs(cpu, ctx, s);
	}
	ctx->flags &= ~FPU_CTX_NEED_LOAD;
}

void fpu__write_pkru(struct fpu_cpu *cpu, const struct fpu_ctx *ctx, uint32_t value)
{
	if (fpu_rdpkru() == value)
		return; /* WRPKRU serializes; skip it when nothing changes */
	fpu_wrpkru(value);
	cpu->stats.pkru_writes++;
	fpu__emit(cpu, FPU_EV_PKRU_WRITE, ctx, 0, 0, value);
}

/* ---------------------------------------------------------------------------
 * 2. Context switch
 *
 * Out: a context whose registers are live is saved; the registers keep its
 * image, so it stays valid() until someone else loads or clobbers them.
 * Under defer_save it is not even saved: the image waits in the registers,
 * unsaved (I9), and comes back for free if nobody needed them meanwhile.
 * In: the deferred policies only mark the next context NEED_LOAD; its state
 * is loaded on the way back to user space, if it ever goes there. Kernel
 * threads and idle touch nothing (I4).
 * ------------------------------------------------------------------------- */

/* I9: prev's live image (in S, its active state) stays in the registers;
 * the buffer is stale until a write-back. The registers hold prev's live
 * state (I2), so they are S's image even where no buffer was loaded (after a
 * sigreturn or a reset): valid(S) from here on. */
void fpu__defer_save(struct fpu_cpu *cpu, struct fpu_ctx *prev, struct fpu_state *s)
{
	cpu->owner = s;
	fpu__publish(s, cpu->id, FPU_UNSAVED);
	cpu->unsaved_ctx = prev;
	fpu__emit(cpu, FPU_EV_SAVE_DEFERRED, prev, s, 0, 0);
}

void fpu_switch(struct fpu_cpu *cpu, struct fpu_ctx *prev, struct fpu_ctx *next)
{
	struct fpu_system *sys = cpu->sys;

	fpu__emit(cpu, FPU_EV_SWITCH, prev, 0, 0, next->id);
	if (fpu__regs_live(sys, prev)) {
		if (sys->policy->defer_save)
			fpu__defer_save(cpu, prev, prev->active);
		else
			fpu__save_regs(cpu, prev, prev->active);
	}
#ifdef FPUCTX_TESTING
	if (FPU_BUG(sys, KTHREAD_SAVE) && (prev->flags & FPU_CTX_KTHREAD) &&
	    cpu->last_user && !fpu__has_fpu(sys, prev))
		fpu__save_regs(cpu, cpu->last_user, cpu->last_user->active);
	if (!(next->flags & FPU_CTX_KTHREAD))
		cpu->last_user = next;
#endif

	if (sys->has_pkru) {
		if (!(prev->flags & FPU_CTX_KTHREAD))
			prev->pkru = fpu_rdpkru();
		fpu__write_pkru(cpu, next, (next->flags & FPU_CTX_KTHREAD) ? FPU_PKRU_DEFAULT : next->pkru);
	}

	if (!fpu__has_fpu(sys, next))
		return;
	fpu__set_need_load(cpu, next);
	if (!sys->policy->defer_restore)
		fpu__make_regs_live(cpu, next);
}

/* ---------------------------------------------------------------------------
 * 3. Return to user space (I5)
 * ------------------------------------------------------------------------- */

void fpu_exit_to_user(struct fpu_cpu *cpu, struct fpu_ctx *ctx)
{
	if (!(ctx->flags & FPU_CTX_NEED_LOAD))
		return;
	if (ctx->flags & FPU_CTX_KTHREAD) {
		fpu__warn(cpu, "a kernel thread returned to user space");
		return;
	}
	fpu__lock(cpu);
	fpu__make_regs_live(cpu, ctx);
	fpu__unlock(cpu);
}

/* ---------------------------------------------------------------------------
 * 4. Kernel FPU sections
 *
 * begin: save the interrupted user state if it is live (I2 -> I3), then the
 * registers are the kernel's: drop the owner (I1). end: the deferred
 * policies load nothing; the user state comes back at exit to user, so a
 * run of sections costs one save. MXCSR is reset so kernel SIMD never runs
 * with the user's rounding or exception masks (Linux bug 15 in the corpus).
 * ------------------------------------------------------------------------- */

bool fpu_kernel_usable(struct fpu_cpu *cpu)
{
	unsigned where;

	if (cpu->in_kernel_fpu)
		return false; /* no nesting: the outer section's registers would be lost */
	where = cpu->sys->port->context(cpu->sys->port_data, cpu->id);
	if (where & FPU_PORT_IN_NMI)
		return false;
	if ((where & FPU_PORT_IN_HARDIRQ) && (where & FPU_PORT_FPREGS_HELD))
		return false; /* we interrupted a region in the middle of an FPU state change */
	return true;
}

bool fpu_kernel_begin(struct fpu_cpu *cpu, struct fpu_ctx *current, unsigned kfpu_flags)
{
	struct fpu_system *sys = cpu->sys;

	if (!fpu_kernel_usable(cpu)) {
		cpu->stats.kfpu_refused++;
		fpu__emit(cpu, FPU_EV_KFPU_REFUSED, current, 0, 0, kfpu_flags);
		return false;
	}
	cpu->in_kernel_fpu = true;
	/* An interrupt's section is refused from here on; one that came before
	 * has ended, and what it changed is read below, not before. */
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	if (fpu__regs_live(sys, current)) {
		if (!FPU_BUG(sys, KFPU_NO_SAVE))
			fpu__save_regs(cpu, current, current->active);
		fpu__set_need_load(cpu, current);
	}
	if (!FPU_BUG(sys, KFPU_NO_FLUSH))
		fpu__flush_owner(cpu); /* a switched-out context's unsaved image (I9) */
	fpu__drop_cpu_owner(cpu);
	fpu_ldmxcsr(FPU_MXCSR_DEFAULT);
	if (kfpu_flags & FPU_KFPU_387)
		fpu_fninit();
	cpu->stats.kfpu_sections++;
	fpu__emit(cpu, FPU_EV_KFPU_BEGIN, current, 0, 0, kfpu_flags);
	return true;
}

void fpu_kernel_end(struct fpu_cpu *cpu, struct fpu_ctx *current)
{
	struct fpu_system *sys = cpu->sys;

	if (!cpu->in_kernel_fpu) {
		fpu__warn(cpu, "kernel_fpu_end without kernel_fpu_begin");
		return;
	}
	/* Locked: an interrupt's section must not come between the end of
	 * this one and the restore (I6). */
	fpu__lock(cpu);
	cpu->in_kernel_fpu = false;
	fpu__emit(cpu, FPU_EV_KFPU_END, current, 0, 0, 0);
	if (sys->policy->kfpu_end_restores && fpu__has_fpu(sys, current) &&
	    (current->flags & FPU_CTX_NEED_LOAD))
		fpu__make_regs_live(cpu, current);
	fpu__unlock(cpu);
}

/* ---------------------------------------------------------------------------
 * 5. Lifecycle
 * ------------------------------------------------------------------------- */

/* The init image has XSTATE_BV 0: its legacy area and header are all of it. */
static void copy_init_image(struct fpu_system *sys, struct fpu_state *s)
{
	fpu_hw_copy(sys, s->area, sys->init_state->area, s->mask);
}

bool fpu_state_setup(struct fpu_system *sys, struct fpu_state *state, void *area,
		     uint32_t area_size, uint32_t id)
{
	/* Refused here rather than written past or faulted on (#GP) later. */
	if (!area || ((uintptr_t)area & (FPU_STATE_ALIGN - 1)) || area_size < sys->state_size)
		return false;
	state->area = area;
	state->mask = sys->mask;
	state->last_cpu = -1;
	state->unsaved = FPU_SAVED;
	state->id = id;
	return true;
}

void fpu_ctx_init(struct fpu_system *sys, struct fpu_ctx *ctx, struct fpu_state *state,
		  uint32_t id, bool kthread)
{
	fpu_bytes_zero(ctx, sizeof(*ctx));
	ctx->active = state;
	ctx->id = id;
	ctx->pkru = FPU_PKRU_DEFAULT;
	ctx->flags = FPU_CTX_NEED_LOAD | (kthread ? FPU_CTX_KTHREAD : 0);
	copy_init_image(sys, state);
	fpu__discard_unsaved(state);
	fpu__publish(state, -1, FPU_SAVED);
}

void fpu_fork(struct fpu_cpu *cpu, struct fpu_ctx *current, struct fpu_ctx *child)
{
	struct fpu_system *sys = cpu->sys;
	struct fpu_state *dst = child->active;

	fpu__lock(cpu);
	fpu__forget_state(cpu, dst);
	child->flags |= FPU_CTX_NEED_LOAD;
	if ((child->flags & FPU_CTX_KTHREAD) || (current->flags & FPU_CTX_KTHREAD)) {
		copy_init_image(sys, dst);
		child->pkru = FPU_PKRU_DEFAULT;
	} else if (current->flags & FPU_CTX_NEED_LOAD) {
		/* Memory is authoritative (I3) once an unsaved image is back (I9):
		 * copy it, no register traffic. */
		fpu__sync_buffer(cpu, current->active);
		fpu_hw_copy(sys, dst->area, current->active->area, dst->mask);
	} else {
		/* Live in the registers: save them straight into the child's buffer.
		 * The registers stay the parent's (owner unchanged). */
		uint32_t bytes = fpu_hw_save(sys, dst->area, dst->mask);

		fpu__count_save(cpu, current, bytes, fpu_hw_bytes(sys, dst->mask));
		fpu__emit(cpu, FPU_EV_SAVE, current, dst, bytes, child->id);
	}
	/* PKRU is never deferred (I7): the register, not ctx->pkru (which is only
	 * written at switch-out), holds the parent's current value. */
	if (!(child->flags & FPU_CTX_KTHREAD) && !(current->flags & FPU_CTX_KTHREAD))
		child->pkru = sys->has_pkru ? fpu_rdpkru() : current->pkru;
	fpu__emit(cpu, FPU_EV_STATE_RESET, child, dst, 0, current->id);
	fpu__unlock(cpu);
}

void fpu_exec(struct fpu_cpu *cpu, struct fpu_ctx *current)
{
	struct fpu_system *sys = cpu->sys;

	fpu__lock(cpu);
	fpu__forget_state(cpu, current->active);
	copy_init_image(sys, current->active);
	fpu__set_need_load(cpu, current);
	current->pkru = FPU_PKRU_DEFAULT;
	if (sys->has_pkru)
		fpu__write_pkru(cpu, current, FPU_PKRU_DEFAULT); /* I7: now, not at the next switch */
	fpu__emit(cpu, FPU_EV_STATE_RESET, current, current->active, 0, 0);
	fpu__unlock(cpu);
}

void fpu_exit(struct fpu_cpu *cpu, struct fpu_ctx *current)
{
	fpu__lock(cpu);
	if (current->stashed) {
		/* killed inside a vCPU run call: the guest's buffer goes too */
		fpu__forget_state(cpu, current->active);
		current->active = current->stashed;
		current->stashed = 0;
	}
	fpu__forget_state(cpu, current->active);
	fpu__set_need_load(cpu, current);
#ifdef FPUCTX_TESTING
	if (cpu->last_user == current)
		cpu->last_user = 0;
#endif
	fpu__unlock(cpu);
}

void fpu_sync_to_memory(struct fpu_cpu *cpu, struct fpu_ctx *current)
{
	fpu__lock(cpu);
	if (fpu__regs_live(cpu->sys, current))
		fpu__save_regs(cpu, current, current->active);
	else
		fpu__sync_buffer(cpu, current->active);
	fpu__unlock(cpu);
}

void fpu_sync_switched_out(struct fpu_cpu *cpu, struct fpu_ctx *ctx)
{
	fpu__lock(cpu);
	fpu__sync_buffer(cpu, ctx->active);
	fpu__unlock(cpu);
}

void fpu_migrate_out(struct fpu_cpu *cpu, struct fpu_ctx *ctx)
{
	if (FPU_BUG(cpu->sys, NO_REMOTE_FLUSH))
		return;
	fpu__lock(cpu);
	flush_for_remote(cpu, ctx->active);
	fpu__unlock(cpu);
}

bool fpu_flush_ipi(struct fpu_cpu *cpu, struct fpu_state *state)
{
	struct fpu_system *sys = cpu->sys;

	if (sys->port->context(sys->port_data, cpu->id) & FPU_PORT_FPREGS_HELD)
		return false; /* mid save or restore: after the unlock */
	/* Locked (I6): an interrupt's kernel FPU section must not write the
	 * image back between the tests below and the write-back. */
	fpu__lock(cpu);
	flush_for_remote(cpu, state);
	fpu__unlock(cpu);
	return true;
}

/* ---------------------------------------------------------------------------
 * 6. Setup
 * ------------------------------------------------------------------------- */

/* The minimal port of port.h, and signal operations all or none. */
static enum fpu_setup_error check_port(const struct fpu_port_ops *port,
				       const struct fpu_policy *policy)
{
	unsigned sig;

	if (!port)
		return FPU_SETUP_PORT_MISSING;
	if (!port->lock)
		return FPU_SETUP_PORT_NO_LOCK;
	if (!port->unlock)
		return FPU_SETUP_PORT_NO_UNLOCK;
	if (!port->context)
		return FPU_SETUP_PORT_NO_CONTEXT;
	sig = !!port->copy_to_user + !!port->copy_from_user + !!port->current_cpu + !!port->fault_in;
	if (sig != 0 && sig != 4)
		return FPU_SETUP_PORT_SIGNAL_PARTIAL;
	if (policy && policy->defer_save && !port->flush_remote)
		return FPU_SETUP_PORT_NO_FLUSH;
	return FPU_SETUP_OK;
}

enum fpu_setup_error fpu_system_init(struct fpu_system *sys, const struct fpu_policy *policy,
				     uint64_t want, enum fpu_insn insn,
				     const struct fpu_port_ops *port, void *port_data,
				     uint64_t *missing)
{
	enum fpu_setup_error err;

	fpu_bytes_zero(sys, sizeof(*sys));
	*missing = 0;
	err = check_port(port, policy);
	if (err)
		return err;
	err = fpu_xstate_enumerate(&sys->xs, want, missing);
	if (err)
		return err;
	if (insn == FPU_INSN__COUNT)
		insn = fpu_hw_best_insn(&sys->xs);
	if (insn != FPU_INSN_FXSAVE && !sys->xs.has_xsave)
		return FPU_SETUP_NO_XSAVE;
	if (!fpu_insn_supported(&sys->xs, insn))
		return FPU_SETUP_NO_INSN;
	sys->policy = policy;
	sys->insn = insn;
	sys->port = port;
	sys->port_data = port_data;
	sys->trace_on = port->trace != 0;
	sys->has_pkru = (sys->xs.features & FPU_XFEATURE_MASK(FPU_XFEATURE_PKRU)) && sys->xs.has_ospke;
	/* PKRU is switched eagerly (I7), so it is not part of the deferred image. */
	sys->mask = sys->xs.features & ~FPU_XFEATURE_MASK(FPU_XFEATURE_PKRU);
	if (insn == FPU_INSN_FXSAVE)
		sys->mask &= FPU_XFEATURE_MASK_FPSSE;
	sys->state_size = fpu_xstate_size(&sys->xs, insn, sys->mask);
	fpu_xstate_bytes_init(&sys->xs, insn, sys->mask, &sys->bytes);
	sys->user_features = sys->mask | (sys->has_pkru ? FPU_XFEATURE_MASK(FPU_XFEATURE_PKRU) : 0);
	sys->user_size = sys->xs.has_xsave ? fpu_xstate_user_size(&sys->xs, sys->user_features)
					   : FPU_FXSAVE_SIZE;
	return FPU_SETUP_OK;
}

bool fpu_system_set_init_area(struct fpu_system *sys, struct fpu_state *init, void *area,
			      uint32_t area_size)
{
	if (!fpu_state_setup(sys, init, area, area_size, 0))
		return false;
	fpu_xstate_init_image(&sys->xs, sys->insn, sys->mask, area);
	sys->init_state = init;
	return true;
}

uint32_t fpu_state_size(const struct fpu_system *sys)
{
	return sys->state_size;
}

uint32_t fpu_state_align(const struct fpu_system *sys)
{
	(void)sys;
	return FPU_STATE_ALIGN;
}

void fpu_stats_add(struct fpu_stats *sum, const struct fpu_stats *add)
{
	sum->saves += add->saves;
	sum->restores += add->restores;
	sum->skipped_restores += add->skipped_restores;
	sum->bytes_saved += add->bytes_saved;
	sum->bytes_restored += add->bytes_restored;
	sum->bytes_saved_full += add->bytes_saved_full;
	sum->bytes_restored_full += add->bytes_restored_full;
	sum->kfpu_sections += add->kfpu_sections;
	sum->kfpu_refused += add->kfpu_refused;
	sum->pkru_writes += add->pkru_writes;
	sum->x87_scrubs += add->x87_scrubs;
	sum->remote_flushes += add->remote_flushes;
	sum->ipis += add->ipis;
}
