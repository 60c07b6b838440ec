/* SPDX-License-Identifier: MIT */
/*
 * What tasks run: a user task's program is interpreted "in user mode" (its
 * FPU operations are user instructions on the live registers; everything
 * else is a system call), a kernel thread's in kernel mode. Every op is
 * followed by a defined point, where interrupts and other CPUs get their turn.
 */
#include "kernel.h"
#include "ksignal.h"
#include "vm.h"
#include "../user/user.h"
#include "fpuctx/insn.h"

/* Next op of t's program, unrolling `repeat` blocks; NULL at the end. */
static const struct scn_op *next_op(struct task *t)
{
	for (;;) {
		struct loop_frame *l = t->loop_depth ? &t->loops[t->loop_depth - 1] : 0;
		const struct scn_op *op;

		if (l && t->pc >= l->end) {
			if (--l->left) {
				t->pc = l->first;
				continue;
			}
			t->loop_depth--;
			continue;
		}
		if (t->pc >= t->nops)
			return 0;
		op = &t->prog[t->pc++];
		if (op->code != OP_REPEAT)
			return op;
		if (t->loop_depth == KMAX_LOOP_DEPTH || op->arg == 0 || op->arg2 == 0) {
			t->pc += op->arg2; /* too deep to track: run the body once */
			continue;
		}
		t->loops[t->loop_depth++] = (struct loop_frame){ t->pc, t->pc + op->arg2, op->arg };
	}
}

void runtime_error(struct kernel *k, struct task *t, const struct scn_op *op, const char *msg)
{
	kviolation(k, VIOL_RUNTIME, 0, k->hw->running, t->id, op ? op->line : 0, msg, NULL);
}

static void do_fork(struct kernel *k, struct task *parent, const struct scn_op *op)
{
	struct kcpu *c;
	struct task *child;

	/* `fork NAME N`: copying the address space blocks for N steps first
	 * (memory allocation), so the parent's FPU state is switched out and
	 * may no longer be in the registers when it is copied (NEED_LOAD). */
	if (op->arg2) {
		sleep_for(k, op->arg2);
		kernel_point(k, false);
	}
	c = this_cpu(k);
	child = task_create(k, op->arg, (int)c->id);

	if (!child) {
		k->res.forks_failed++;
		return;
	}
	fpu_fork(&c->fpu, &parent->fpu, &child->fpu);
	child->exp_owner = parent->exp_owner;
	child->exp_gen = parent->exp_gen;
	if (parent->exp_owner == OWNER_IMAGE)
		kcopy(child->exp_image, parent->exp_image, k->oracle.std_size);
	enqueue(k, child, c->id);
}

/* Ops both kinds of task run the same way (for a user task: system calls). */
static void run_common(struct kernel *k, struct task *t, const struct scn_op *op, bool user)
{
	uint32_t i;

	switch (op->code) {
	case OP_SPIN:
		for (i = 1; i < op->arg; i++)
			kernel_point(k, false);
		break;
	case OP_SLEEP:
		sleep_for(k, op->arg);
		break;
	case OP_YIELD:
		this_cpu(k)->need_resched = true;
		if (!user)
			schedule(k);
		break;
	case OP_KFPU: {
		struct kcpu *c = this_cpu(k);
		uint64_t sections;
		/* A bottom-half-off region with a defined point in it: an interrupt
		 * arriving here must not get kernel FPU (FPU_PORT_FPREGS_HELD), and
		 * one that wants it arrives at every such point. */
		c->fpu.sys->port->lock(k, (int)c->id);
		send_ipi(k, c->id, IRQ_KFPU);
		sections = c->fpu.stats.kfpu_sections;
		kernel_point(k, false);
		c = this_cpu(k);
		if (c->fpu.stats.kfpu_sections != sections)
			kviolation(k, VIOL_WARN, 0, c->id, t->id, op->line,
				   "a kernel FPU section ran in an interrupt that hit code holding the FPU lock", NULL);
		c->fpu.sys->port->unlock(k, (int)c->id);
		kfpu_section(k, c, t, true);
		break;
	}
	case OP_IPI_KFPU:
		send_ipi(k, op->arg, IRQ_KFPU);
		break;
	case OP_IPI_BALANCE:
		if (op->arg < k->ncpus && op->arg2 < k->ncpus) {
			k->hw->cpu[op->arg].balance_to = op->arg2;
			send_ipi(k, op->arg, IRQ_BALANCE);
		}
		break;
	case OP_IPI_STEAL:
		if (op->arg < k->ncpus && op->arg2 < k->ncpus) {
			k->hw->cpu[op->arg].steal_from = op->arg2;
			send_ipi(k, op->arg, IRQ_STEAL);
		}
		break;
	case OP_MIGRATE:
		if (op->arg < k->ncpus)
			migrate_self(k, op->arg);
		else
			runtime_error(k, t, op, "migrate: no such CPU");
		break;
	case OP_WAKE:
		for (i = 0; i < k->ntask_slots; i++)
			if (k->tasks[i].scn_task == op->arg && k->tasks[i].kind != KT_IDLE)
				wake_task(k, &k->tasks[i]);
		break;
	case OP_SIGNAL:
		for (i = 0; i < k->ntask_slots; i++)
			if (k->tasks[i].scn_task == op->arg && k->tasks[i].kind == KT_USER)
				send_signal(k, &k->tasks[i], op->arg2);
		break;
	case OP_WAIT:
		wait_event(k);
		break;
	case OP_WINDOW_BEGIN: {
		struct kresult *r = &k->root->res;
		kernel_snapshot(k->root, &r->win_begin, &r->win_guest_begin, &r->win_switches_begin);
		r->win_opened = true;
		break;
	}
	case OP_WINDOW_END: {
		struct kresult *r = &k->root->res;
		kernel_snapshot(k->root, &r->win_end, &r->win_guest_end, &r->win_switches_end);
		r->win_closed = true;
		break;
	}
	case OP_IO:
		vm_io_exit(k);
		break;
	case OP_EXIT:
		task_exit(k);
		break;
	default:
		runtime_error(k, t, op, "op not allowed in this kind of task");
	}
}

/* User-mode ops: FPU instructions on the task's own live registers. */
static void run_user(struct kernel *k, struct task *t, const struct scn_op *op)
{
	uint8_t *img = t->user_buf, *expect = t->user_buf + k->oracle.std_size;

	switch (op->code) {
	case OP_DIRTY:
		t->exp_owner = t->id;
		t->exp_gen = ++t->next_gen;
		pattern_load(&k->oracle, img, t->exp_owner, t->exp_gen, k->oracle.user_mask);
		break;
	case OP_CHECK:
		pattern_check(k, t, img, expect, op->line, 0);
		break;
	case OP_COMPUTE:
		user_simd_compute(op->arg);
		t->exp_owner = OWNER_UNKNOWN;
		break;
	case OP_FORK:
		do_fork(k, t, op);
		break;
	case OP_SPIN:
		t->spin_left = op->arg - 1; /* user-mode work: preemptible at every step */
		break;
	case OP_ALTSTACK:
		t->altstack_on = op->arg != 0;
		break;
	case OP_STACK:
		stack_mode(k, t, op->arg);
		break;
	case OP_FRAME:
		frame_edit(k, t, op);
		break;
	case OP_RUN:
		vm_run(k, t, op);
		break;
	case OP_VGET:
	case OP_VSET:
	case OP_VSET_EDIT:
		vm_get_set(k, t, op);
		break;
	case OP_EXEC: {
		uint32_t home = this_cpu(k)->id;

		/* `exec N on C`: exec balancing (Linux's sched_exec) runs the
		 * exec on CPU C, and the task is moved back to its own CPU
		 * before the new program starts: the old image is dropped on a
		 * CPU where it was never loaded, and the new one starts where
		 * it was. */
		if (op->arg2 && op->arg2 - 1 < k->ncpus)
			migrate_self(k, op->arg2 - 1);
		/* Reading the new program takes time (`exec N`: N steps asleep,
		 * as on a page-cache miss): the old image may be switched out,
		 * unsaved, by the time it is discarded. */
		if (op->arg)
			sleep_for(k, op->arg);
		kernel_point(k, false);
		fpu_exec(&this_cpu(k)->fpu, &t->fpu);
		t->exp_owner = OWNER_INIT;
		t->exp_gen = 0;
		if (op->arg2)
			migrate_self(k, home);
		break;
	}
	default:
		run_common(k, t, op, true);
	}
}

/* The way back to user space: reschedule while asked to, then make the FPU
 * state live (the library decides whether that needs a restore) and, when
 * enabled, check it. Interrupts stay off from the last look at need_resched. */
static void exit_to_user(struct kernel *k, struct task *t)
{
	struct kcpu *c;

	for (;;) {
		c = this_cpu(k);
		c->irqs_off = true;
		if (c->need_resched) {
			schedule(k);
			continue;
		}
		if (t->sig_pending) {
			c->irqs_off = false; /* frame setup may fault and sleep */
			deliver_signal(k, t);
			continue;
		}
		break;
	}
	KTIMED(k, fpu_exit_to_user(&c->fpu, &t->fpu));
	if (k->scn->check_on_return)
		pattern_check(k, t, c->check_buf, c->expect_buf, 0, 1);
	c->irqs_off = false;
}

static void user_main(struct kernel *k, struct task *t)
{
	const struct scn_op *op;

	for (;;) {
		exit_to_user(k, t);
		if (t->spin_left) {
			t->spin_left--;
			kernel_point(k, true);
			continue;
		}
		op = next_op(t);
		if (!op && t->sig_depth) {
			do_sigreturn(k, t); /* the end of a handler */
			continue;
		}
		if (!op)
			task_exit(k);
		k->res.ops++;
		kernel_hash(k, (uint64_t)t->id << 40 | (uint64_t)op->code << 32 | this_cpu(k)->id);
		ktrace(k, KT_EV_OP, t->id, op->code, op->line, 0);
		run_user(k, t, op);
		kernel_point(k, true);
	}
}

static void kthread_main(struct kernel *k, struct task *t)
{
	const struct scn_op *op;

	while ((op = next_op(t)) != 0) {
		k->res.ops++;
		kernel_hash(k, (uint64_t)t->id << 40 | (uint64_t)op->code << 32 | this_cpu(k)->id);
		ktrace(k, KT_EV_OP, t->id, op->code, op->line, 0);
		run_common(k, t, op, false);
		kernel_point(k, false);
	}
	task_exit(k);
}

/* First code of every task, on its own stack (after schedule() switched to it). */
void task_main(void *task)
{
	struct task *t = task;
	struct kernel *k = t->k;

	this_cpu(k)->irqs_off = false; /* the tail of the schedule() that switched to us */
	if (t->kind == KT_USER)
		user_main(k, t);
	else
		kthread_main(k, t);
}
