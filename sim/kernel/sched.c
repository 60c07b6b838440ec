/* SPDX-License-Identifier: MIT */
/*
 * The scheduler: one FIFO run queue per CPU, an idle task per CPU, sleeping
 * by timer, waiting by event, migration. Small on purpose: the FPU state
 * machine is what is under test, the scheduler only has to be plausible and
 * deterministic.
 */
#include "kernel.h"
#include "vm.h"
#include "fpuctx/insn.h"

void kernel_hash(struct kernel *k, uint64_t v)
{
	/* FNV-1a over 64-bit words: the replay fingerprint (one for all kernels). */
	struct kresult *res = &k->root->res;

	res->hash ^= v ^ (uint64_t)k->vm_index << 60;
	res->hash *= 0x100000001b3ull;
}

void enqueue(struct kernel *k, struct task *t, uint32_t cpu)
{
	struct kcpu *c = &k->cpus[cpu];

	t->cpu = (int32_t)cpu;
	t->state = TS_RUNNABLE;
	t->queued = 1;
	t->rq_next = 0;
	if (c->rq_tail)
		c->rq_tail->rq_next = t;
	else
		c->rq_head = t;
	c->rq_tail = t;
	c->need_resched = true;
	if (cpu != k->hw->running)
		send_ipi(k, cpu, IRQ_RESCHED);
}

static struct task *dequeue(struct kcpu *c)
{
	struct task *t = c->rq_head;

	if (!t)
		return c->idle;
	c->rq_head = t->rq_next;
	if (!c->rq_head)
		c->rq_tail = 0;
	t->queued = 0;
	t->rq_next = 0;
	return t;
}

void guest_state_violation(struct kernel *k, struct kcpu *c, struct task *t, const char *msg)
{
	kviolation(k, VIOL_GUEST, 0, c->id, t->id, 0, msg, NULL);
	c->xcr0 = k->fpu.mask; /* reported once */
}

/* Picks the next task on this CPU and switches to it. Returns when the
 * calling task runs again, possibly on another CPU. */
void schedule(struct kernel *k)
{
	struct kcpu *c = this_cpu(k);
	struct task *prev = c->curr, *next;
	bool irqs_were_off = c->irqs_off;

	c->irqs_off = true;
	if (prev->state == TS_RUNNING && prev != c->idle)
		enqueue(k, prev, c->id);
	next = dequeue(c);
	c->need_resched = false;
	if (next == prev) {
		prev->state = TS_RUNNING;
		c->irqs_off = irqs_were_off;
		return;
	}
	if (c->xcr0 != k->fpu.mask)
		guest_state_violation(k, c, prev, "the guest's XCR0 is still live at a context switch "
				      "(the next task's restore would fault: Linux bug 3)");
	if (prev->notifier)
		prev->notifier->sched_out(prev->notifier, k, c, prev);
	KTIMED(k, fpu_switch(&c->fpu, &prev->fpu, &next->fpu));
	if (prev->cpu != (int32_t)c->id && prev->state == TS_RUNNABLE) /* queued elsewhere: */
		KTIMED(k, fpu_migrate_out(&c->fpu, &prev->fpu));   /* write back here */
	next->state = TS_RUNNING;
	next->cpu = (int32_t)c->id;
	c->curr = next;
	k->res.switches++;
	kernel_hash(k, (uint64_t)prev->id << 32 | next->id << 8 | c->id);
	ktrace(k, KT_EV_SWITCH, prev->id, next->id, 0, 0);
	hw_switch_stack(&prev->ksp, next->ksp);
	/* Running again, on whatever CPU picked us. */
	c = this_cpu(k);
	c->irqs_off = irqs_were_off;
}

static void arm_timer(struct kernel *k, struct kcpu *c)
{
	uint64_t deadline = HW_NO_DEADLINE;
	uint32_t i;

	for (i = 0; i < k->ntask_slots; i++) {
		struct task *t = &k->tasks[i];
		if (t->state == TS_SLEEPING && t->cpu == (int32_t)c->id && t->wake_at < deadline)
			deadline = t->wake_at;
	}
	k->hw->cpu[c->id].deadline = deadline;
}

void sleep_for(struct kernel *k, uint64_t steps)
{
	struct kcpu *c = this_cpu(k);
	struct task *t = c->curr;

	t->wake_at = k->hw->now + steps;
	t->state = TS_SLEEPING;
	arm_timer(k, c);
	schedule(k);
}

/* Timer interrupt: wake the sleepers that are due, re-arm. */
void timer_expire(struct kernel *k, struct kcpu *c)
{
	uint32_t i;

	for (i = 0; i < k->ntask_slots; i++) {
		struct task *t = &k->tasks[i];
		if (t->state == TS_SLEEPING && t->cpu == (int32_t)c->id && t->wake_at <= k->hw->now)
			enqueue(k, t, c->id);
	}
	arm_timer(k, c);
	if (c->rq_head && c->curr != c->idle)
		c->need_resched = true; /* time slice: let the queue run */
}

void wait_event(struct kernel *k)
{
	struct task *t = current_task(k);

	if (t->wake_pending) {
		t->wake_pending = 0;
		return;
	}
	t->state = TS_WAITING;
	schedule(k);
}

void wake_task(struct kernel *k, struct task *t)
{
	if (t->state == TS_WAITING)
		enqueue(k, t, (uint32_t)t->cpu);
	else if (t->state != TS_DEAD && t->state != TS_UNUSED)
		t->wake_pending = 1;
}

void migrate_self(struct kernel *k, uint32_t cpu)
{
	struct kcpu *c = this_cpu(k);

	if (cpu == c->id)
		return;
	c->irqs_off = true;
	enqueue(k, c->curr, cpu); /* no longer TS_RUNNING: schedule() won't requeue it here */
	schedule(k);
	this_cpu(k)->irqs_off = false;
}

/* Unlinks and returns the last queued task of CPU c, or NULL. */
static struct task *dequeue_last(struct kcpu *c)
{
	struct task *t = c->rq_head, *before = 0;

	if (!t)
		return 0;
	while (t->rq_next) {
		before = t;
		t = t->rq_next;
	}
	if (before)
		before->rq_next = 0;
	else
		c->rq_head = 0;
	c->rq_tail = before;
	t->queued = 0;
	return t;
}

/* Moves the last queued task of CPU c to CPU `to` (load balancing, pushed by
 * the CPU the task leaves: it writes back the task's unsaved FPU image). */
void balance_from(struct kernel *k, struct kcpu *c, uint32_t to)
{
	struct task *t;

	if (to == c->id || to >= k->ncpus || !(t = dequeue_last(c)))
		return;
	KTIMED(k, fpu_migrate_out(&c->fpu, &t->fpu));
	enqueue(k, t, to);
}

/* Pulls the last queued task of CPU `from` to CPU c (idle balancing, done by
 * the CPU the task goes to: an unsaved FPU image stays where it is, and is
 * fetched by IPI when the task needs it). */
void steal_from(struct kernel *k, struct kcpu *c, uint32_t from)
{
	struct task *t;

	if (from == c->id || from >= k->ncpus || !(t = dequeue_last(&k->cpus[from])))
		return;
	enqueue(k, t, c->id);
}

void task_exit(struct kernel *k)
{
	struct kcpu *c = this_cpu(k);
	struct task *t = c->curr;

	fpu_exit(&c->fpu, &t->fpu);
	vm_task_exit(k, t);
	t->state = TS_DEAD;
	if (k->live_tasks && --k->live_tasks == 0)
		k->res.finished = true;
	schedule(k);
	/* not reached: a dead task is never picked again */
}

/* A defined point: other CPUs may run; then pending interrupts are taken and,
 * in kernel mode, a preemption may happen (user mode preempts at exit to user). */
void kernel_point(struct kernel *k, bool user_mode)
{
	struct kcpu *c;

	hw_yield(k->hw);
	c = this_cpu(k);
	if (c->irqs_off || !k->hw->cpu[c->id].irq_pending)
		return;
	take_interrupts(k);
	c = this_cpu(k);
	if (!user_mode && c->need_resched && c->preempt_count == 0 && c->fpregs_locked == 0)
		schedule(k);
}

/* The boot context of each CPU becomes its idle task. */
void idle_main(void *kernel)
{
	struct kernel *k = kernel;

	for (;;) {
		struct kcpu *c = this_cpu(k);

		if (c->need_resched || c->rq_head) {
			schedule(k);
			continue;
		}
		hw_halt(k->hw);
		c = this_cpu(k);
		if (k->hw->cpu[c->id].irq_pending)
			take_interrupts(k);
	}
}
