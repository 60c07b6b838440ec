/* SPDX-License-Identifier: MIT */
/*
 * Fork and a forked child's end. A task that forks (fork_every: the first
 * two tasks, every N-th generation) gets a child in one of FORK_SLOTS spare
 * task slots, or -1 when none is free. The child starts as a copy: the
 * parent's registers (rax 0), a copy of the used part of its user stack
 * (rsp and rbx, the task's buffer, moved to the child's stack), and its FPU
 * state and PKRU through fpu_fork(). user.S then checks that the child
 * holds the parent's pattern, lets it run CHILD_GENERATIONS of its own and
 * end with SYS_EXIT_FOR_GOOD, which frees the slot once its CPU is off the
 * child's kernel stack (finish_switch in kernel.c).
 *
 * Every other fork sleeps first: another task runs (task_sleep), or the
 * CPU's kernel worker (which every fourth run offers the parent to another
 * CPU). fpu_fork then finds the parent's image not live: in its buffer, or
 * under the deferred policy still unsaved in this CPU's registers, which
 * the library writes back first. The tasks fork right after loading a new
 * generation, so a buffer not brought up to date holds the previous one,
 * and the child's check sees it. An image left unsaved on another CPU is
 * counted, but these runs hardly make one: that CPU's next restore or
 * kernel SIMD section writes it back before the parent gets here.
 */
#include "kernel.h"

#define DEFAULT_FORK_EVERY 8

uint64_t fork_every = DEFAULT_FORK_EVERY;
static struct task *slots[FORK_SLOTS];
static volatile bool slot_busy[FORK_SLOTS];
static uint64_t forks, fork_failures, children_exited, fork_sleeps, fork_calls, forks_unsaved_elsewhere;

static void count(uint64_t *n)
{
	__atomic_add_fetch(n, 1, __ATOMIC_RELAXED);
}

/* At boot: a slot whose stacks and state buffer are set (kernel.c). */
void fork_slot_add(struct task *t)
{
	unsigned i;

	for (i = 0; i < FORK_SLOTS; i++)
		if (!slots[i]) {
			slots[i] = t;
			return;
		}
}

static struct task *fork_slot_take(void)
{
	unsigned i;

	for (i = 0; i < FORK_SLOTS; i++) {
		bool busy = false;

		if (slots[i] && __atomic_compare_exchange_n(&slot_busy[i], &busy, true, false,
							    __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
			return slots[i];
	}
	return 0;
}

/* On the CPU that left t's kernel stack for good. */
void fork_slot_release(struct task *t)
{
	unsigned i;

	for (i = 0; i < FORK_SLOTS; i++)
		if (slots[i] == t)
			__atomic_store_n(&slot_busy[i], false, __ATOMIC_RELEASE);
}

static bool is_child(const struct task *t)
{
	unsigned i;

	for (i = 0; i < FORK_SLOTS; i++)
		if (slots[i] == t)
			return true;
	return false;
}

/* The child's user stack: the parent's used part [rsp, top) at the same
 * distance below the child's top. Of the registers only rsp and rbx (the
 * task's buffer, in that part) point into it; rbp is a loop count and the
 * others hold ids, flags and counts. False if the frame is not one of the
 * task code's: nothing is copied. */
static bool copy_user_stack(struct task *parent, struct task *child, const struct trap_frame *pf,
			    struct trap_frame *cf)
{
	uint64_t used = parent->user_stack_top - pf->rsp;
	uint64_t delta = child->user_stack_top - parent->user_stack_top;

	if (pf->rsp > parent->user_stack_top || used > USER_STACK_SIZE ||
	    pf->rbx < pf->rsp || pf->rbx >= parent->user_stack_top)
		return false;
	memcpy((void *)(pf->rsp + delta), (const void *)pf->rsp, used);
	cf->rsp = pf->rsp + delta;
	cf->rbx = pf->rbx + delta;
	return true;
}

void sys_fork(struct percpu *c, struct task *parent, struct trap_frame *f)
{
	struct task *child;
	struct trap_frame *cf;

	switch (__atomic_fetch_add(&fork_calls, 1, __ATOMIC_RELAXED) % 4) {
	case 1:
		count(&fork_sleeps);
		task_sleep();
		c = this_cpu();
		break;
	case 3:
		count(&fork_sleeps);
		task_yield_to_kworker();
		c = this_cpu();
		break;
	}
	child = fork_slot_take();
	if (!child) {
		count(&fork_failures);
		f->rax = (uint64_t)-1;
		return;
	}
	/* Nobody sees the child until it is queued: no interrupt, no CPU. */
	child->id = new_task_id();
	child->last_cpu = -1;
	child->kthread = false;
	child->in_handler = false;
	child->dead = false;
	child->generation_limit = CHILD_GENERATIONS;   /* after a SIGSEGV too */
	child->end_syscall = SYS_EXIT_FOR_GOOD;
	child->fork_every = 0;
	task_fpu_init(child, false);
	/* The parent's registers and PKRU, as they are now: first, while an
	 * image the parent left unsaved on another CPU may still be there (the
	 * library fetches it). */
	if (__atomic_load_n(&parent->state.unsaved, __ATOMIC_ACQUIRE) && parent->state.last_cpu != c->id)
		count(&forks_unsaved_elsewhere);
	fpu_fork(&c->fpu, &parent->fpu, &child->fpu);
	cf = task_first_frame(child);
	*cf = *f;
	if (!copy_user_stack(parent, child, f, cf)) {
		task_violation(c, parent, "fork from a frame outside the task's stack, rsp", f->rsp);
		fpu_exit(&c->fpu, &child->fpu);
		fork_slot_release(child);
		f->rax = (uint64_t)-1;
		return;
	}
	cf->rax = 0;
	cf->rdx = child->id;
	cf->rsi = CHILD_GENERATIONS;
	count(&forks);
	f->rax = child->id;
	runq_put(child);
}

/* A forked child's end: its buffer is released and it never runs again. */
void sys_exit_for_good(struct percpu *c, struct task *t, struct trap_frame *f)
{
	if (!is_child(t)) {
		task_violation(c, t, "exit for good from a task that was not forked, id", t->id);
		f->rax = (uint64_t)-1;
		return;
	}
	fpu_exit(&c->fpu, &t->fpu);
	t->dead = true;
	count(&children_exited);
	task_leave_for_good(c);
}

void fork_report(void)
{
	kprintf("ring0: fork: %lu forks, %lu refused (no free slot), %lu children exited, %lu slept first, "
		"%lu found the parent's image unsaved on another CPU\n", forks, fork_failures, children_exited,
		fork_sleeps, forks_unsaved_elsewhere);
}
