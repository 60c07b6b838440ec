/* SPDX-License-Identifier: MIT */
/*
 * The kernel proper: the library's port, tasks, a scheduler with one run
 * queue for all CPUs driven by each CPU's local APIC timer and by yield,
 * the APs' start, the system calls, and the bounded run that ends with one
 * summary line and QEMU's exit status.
 *
 * Every FPU decision is libfpuctx's: fpu_switch() at each context switch,
 * fpu_exit_to_user() on every return to ring 3, fpu_exec() and fpu_exit()
 * as programs change and end, fpu_kernel_begin()/fpu_kernel_end() around
 * the kernel's own SIMD use. The kernel's C is built -mgeneral-regs-only, so a task's registers
 * stay live through interrupts and system calls until the library saves
 * them.
 *
 * Ring 0 runs with interrupts on, except in interrupt handlers and around a
 * context switch, so that the timer lands inside the library's saves and
 * restores too. The kernel is not preemptible: an interrupt that hit ring 0
 * never switches tasks, so the port lock is only a count the interrupt
 * reads (FPU_PORT_FPREGS_HELD: the library then refuses kernel FPU and
 * defers a flush answer to the unlock).
 */
#include "kernel.h"
#include <fpuctx/extable.h>
#include <fpuctx/insn.h>
#ifdef FPUCTX_TESTING
#include <fpuctx/testing.h>
#endif

#define MAX_USER_TASKS   (MAX_CPUS + 2 + FORK_SLOTS)
#define KSTACK_SIZE      16384
#define STATE_ARENA_SIZE (256 * 1024)
#define DEFAULT_INTERRUPTS 10000
#define DEFAULT_APIC_COUNT 10000     /* divide by 16: about 6 kHz on QEMU's 1 GHz APIC clock */
#define EXEC_GENERATIONS 48          /* the second task execs itself after this many */
#define EXIT_GENERATIONS 64          /* the third exits, and a new task takes its slot */
#define MESSAGES_PRINTED 5           /* of each kind: violations, warnings, library faults */
#define DEFAULT_IRQ_KFPU_EVERY 3     /* interrupts: a kernel SIMD section in the handler */
#define DEFAULT_KWORKER_EVERY 8      /* interrupts: the kernel worker runs in between */
#define DEFAULT_SLEEP_EVERY 3        /* yields: every Nth sleeps instead */
#define SLEEP_TICKS_PER_CPU 75       /* default length of a sleep, in timer interrupts (all CPUs') */
#define DEFAULT_KFPU_IPI_EVERY 5     /* interrupts: ask the next CPU for a kernel SIMD section */
#define KWORKER_ID 1000000u
#define HANDOFF_WAIT 20000           /* spins (about a timer period): see kworker_main */
#define KERNEL_PATTERN 0x6b65726e656c2121ull

struct fpu_system fpu_sys;
static struct fpu_state init_state;
static unsigned ncpus = 1;
static unsigned nuser_tasks;         /* two more than CPUs: the run queue is never empty for long */
static struct task idle_tasks[MAX_CPUS];   /* each CPU's boot flow: a kernel thread, the first prev */
static struct task user_tasks[MAX_USER_TASKS];
static struct task kworkers[MAX_CPUS];     /* kernel threads: run, maybe use SIMD, give the CPU back */
static struct task *kworker_return_to[MAX_CPUS];
static uint8_t kstacks[MAX_USER_TASKS][KSTACK_SIZE] __attribute__((aligned(16)));
static uint8_t kworker_stacks[MAX_CPUS][KSTACK_SIZE] __attribute__((aligned(16)));
static uint8_t exception_stacks[MAX_CPUS][KSTACK_SIZE] __attribute__((aligned(16)));
static uint8_t ap_stacks[MAX_CPUS][KSTACK_SIZE] __attribute__((aligned(16)));
/* One run queue for all CPUs (FIFO), so that tasks move between them. */
static volatile int runq_lock;
static struct task *runq_head, *runq_tail;
static volatile uint64_t total_interrupts;
volatile uint32_t aps_started;
static volatile bool aps_go;
static uint8_t state_arena[STATE_ARENA_SIZE] __attribute__((aligned(64)));
static uint32_t state_arena_used;
static uint64_t interrupt_limit = DEFAULT_INTERRUPTS;
static uint32_t apic_count = DEFAULT_APIC_COUNT;
static uint64_t irq_kfpu_every = DEFAULT_IRQ_KFPU_EVERY;
static uint64_t kworker_every = DEFAULT_KWORKER_EVERY;
static uint64_t sleep_every = DEFAULT_SLEEP_EVERY;
static uint64_t sleep_ticks;          /* 0: SLEEP_TICKS_PER_CPU for each CPU */
static uint64_t kfpu_ipi_every = DEFAULT_KFPU_IPI_EVERY;
static struct task *sleepers;        /* asleep until their wake_at; under runq_lock */
static bool corrupt_state;           /* a test of the fault path: see kworker_main */
static volatile uint32_t next_task_id = 1;
bool has_avx;
extern char user_stacks[];

static void spin_lock(volatile int *l)
{
	while (__atomic_exchange_n(l, 1, __ATOMIC_ACQUIRE))
		while (*l)
			cpu_relax();
}

static void spin_unlock(volatile int *l)
{
	__atomic_store_n(l, 0, __ATOMIC_RELEASE);
}

static uint64_t irq_save(void)
{
	uint64_t flags;

	__asm__ volatile("pushfq; popq %0; cli" : "=r"(flags) : : "memory");
	return flags;
}

static void irq_restore(uint64_t flags)
{
	if (flags & 0x200)
		__asm__ volatile("sti" : : : "memory");
}

static void irq_enable(void) { __asm__ volatile("sti" : : : "memory"); }
static void irq_disable(void) { __asm__ volatile("cli" : : : "memory"); }

/* The run queue is never touched by an interrupt that hit ring 0, but its
 * lock is still taken with interrupts off: a handler that did would spin
 * on its own CPU forever. */
static uint64_t runq_lock_take(void)
{
	uint64_t flags = irq_save();

	spin_lock(&runq_lock);
	return flags;
}

static void runq_lock_drop(uint64_t flags)
{
	spin_unlock(&runq_lock);
	irq_restore(flags);
}

uint32_t new_task_id(void)
{
	return __atomic_fetch_add(&next_task_id, 1, __ATOMIC_RELAXED);
}

/* Remote flush requests to this CPU, one slot per asking CPU: answered by
 * the IPI handler, or by this CPU's spin loops outside the library (waiting
 * for a task to run). A slot is cleared only if it still names the state
 * answered: its CPU may have stopped waiting and asked again. */
static void serve_flush_requests(struct percpu *c)
{
	uint64_t flags = irq_save(); /* sched.h: fpu_flush_ipi runs with interrupts off */
	unsigned i;

	for (i = 0; i < ncpus; i++) {
		struct fpu_state *st = __atomic_load_n(&c->flush_req[i], __ATOMIC_ACQUIRE);

		if (!st)
			continue;
		if (fpu_flush_ipi(&c->fpu, st)) {
			__atomic_compare_exchange_n(&c->flush_req[i], &st, (struct fpu_state *)0, false,
						    __ATOMIC_RELEASE, __ATOMIC_RELAXED);
		} else {
			c->flush_deferred = true; /* answered at the unlock (port_unlock) */
			c->flush_answers_deferred++;
		}
	}
	irq_restore(flags);
}

/* ---- the port (include/fpuctx/port.h) ----
 * Every operation finds its CPU by the id the library passes (fpu_cpu.id =
 * index in cpus[]), never by "where am I", so it holds with SMP too. */

/* The interrupt that reads lock_depth runs on this CPU, between two of its
 * instructions: compiler barriers order the count, no atomics needed. */
static void port_lock(void *data, int cpu)
{
	(void)data;
	cpus[cpu].lock_depth++;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
}

/* A flush request the IPI handler could not answer (it hit the lock) is
 * answered now, by an IPI to this CPU: taken as soon as interrupts are on,
 * outside the library call that is ending. */
static void port_unlock(void *data, int cpu)
{
	struct percpu *c = &cpus[cpu];

	(void)data;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	if (--c->lock_depth == 0 && c->flush_deferred) {
		c->flush_deferred = false;
		apic_send_ipi((unsigned)cpu, FLUSH_VECTOR);
	}
}

static unsigned port_context(void *data, int cpu)
{
	struct percpu *c = &cpus[cpu];
	unsigned where = 0;

	(void)data;
	if (c->in_irq) {
		where |= FPU_PORT_IN_HARDIRQ;
		if (c->irq_hit_lock)
			where |= FPU_PORT_FPREGS_HELD;
	}
	return where;
}

static void port_warn(void *data, int cpu, const char *what)
{
	struct percpu *c = &cpus[cpu];

	(void)data;
	if (++c->warnings <= MESSAGES_PRINTED)
		kprintf("ring0: library warning on cpu %d: %s\n", cpu, what);
}

/* Needed by the deferred policy: CPU `cpu` holds state's newest image in
 * its registers. Ask it by IPI (its APIC id is its index) and wait until the
 * image is written back (port.h: state->unsaved clear). This CPU answers
 * nobody meanwhile, and need not: the library wrote its own unsaved image
 * back before calling, so no CPU waits for it. */
static void port_flush_remote(void *data, int cpu, struct fpu_state *state)
{
	struct percpu *c = this_cpu(), *h = &cpus[cpu];

	(void)data;
	c->remote_flushes++;
	__atomic_store_n(&h->flush_req[c->id], state, __ATOMIC_RELEASE);
	c->ipis_sent++;
	apic_send_ipi((unsigned)cpu, FLUSH_VECTOR);
	while (__atomic_load_n(&state->unsaved, __ATOMIC_ACQUIRE))
		cpu_yield_to_others();
}

static const struct fpu_port_ops port_ops = {
	.lock = port_lock,
	.unlock = port_unlock,
	.context = port_context,
	.warn = port_warn,
	.flush_remote = port_flush_remote,
	/* signal frames (signal.c) */
	.copy_to_user = port_copy_to_user,
	.copy_from_user = port_copy_from_user,
	.current_cpu = port_current_cpu,
	.fault_in = port_fault_in,
};

/* ---- command line: policy=NAME interrupts=N apic_count=N irq_kfpu_every=N
 *      kworker_every=N signal_every=N sleep_every=N sleep_ticks=N
 *      kfpu_ipi_every=N fork_every=N corrupt_state=0|1 [bug=NAME]
 *      (0 turns an _every off) ---- */

static bool word_is(const char *s, const char *end, const char *w)
{
	while (s < end && *w && *s == *w)
		s++, w++;
	return s == end && !*w;
}

#ifdef FPUCTX_TESTING
static unsigned string_length(const char *s)
{
	unsigned n = 0;

	while (s[n])
		n++;
	return n;
}
#endif

/* The value of option NAME=VALUE (w at NAME, eq at '='): a decimal number,
 * the whole value; anything else fails the boot, naming the option. */
static uint64_t parse_uint(const char *w, const char *eq, const char *end)
{
	const char *s = eq + 1;
	uint64_t v = 0;

	while (s < end && *s >= '0' && *s <= '9')
		v = v * 10 + (uint64_t)(*s++ - '0');
	if (s != end || s == eq + 1) {
		kprintf("ring0: FAIL: option '");
		while (w < end)
			kprintf("%c", *w++);
		kprintf("': the value must be a decimal number\n");
		qemu_exit(EXIT_CODE_FAIL);
	}
	return v;
}

struct options {
	const struct fpu_policy *policy;
	char policy_name[32];
	char bug_name[32];
};

static void copy_word(char *dst, unsigned size, const char *s, const char *end)
{
	unsigned n = 0;

	while (s < end && n + 1 < size)
		dst[n++] = *s++;
	dst[n] = 0;
}

static void parse_cmdline(const char *cmd, struct options *o)
{
	copy_word(o->policy_name, sizeof(o->policy_name), "linux", "linux" + 5);
	o->bug_name[0] = 0;
	while (cmd && *cmd) {
		const char *w = cmd, *eq, *end;

		while (*cmd && *cmd != ' ')
			cmd++;
		end = cmd;
		while (*cmd == ' ')
			cmd++;
		for (eq = w; eq < end && *eq != '='; eq++)
			;
		if (eq == end)
			continue; /* QEMU puts the kernel's file name first */
		if (word_is(w, eq, "policy"))
			copy_word(o->policy_name, sizeof(o->policy_name), eq + 1, end);
		else if (word_is(w, eq, "interrupts"))
			interrupt_limit = parse_uint(w, eq, end);
		else if (word_is(w, eq, "apic_count"))
			apic_count = (uint32_t)parse_uint(w, eq, end);
		else if (word_is(w, eq, "irq_kfpu_every"))
			irq_kfpu_every = parse_uint(w, eq, end);
		else if (word_is(w, eq, "kworker_every"))
			kworker_every = parse_uint(w, eq, end);
		else if (word_is(w, eq, "signal_every"))
			signal_every = parse_uint(w, eq, end);
		else if (word_is(w, eq, "sleep_every"))
			sleep_every = parse_uint(w, eq, end);
		else if (word_is(w, eq, "sleep_ticks"))
			sleep_ticks = parse_uint(w, eq, end);
		else if (word_is(w, eq, "kfpu_ipi_every"))
			kfpu_ipi_every = parse_uint(w, eq, end);
		else if (word_is(w, eq, "fork_every"))
			fork_every = parse_uint(w, eq, end);
		else if (word_is(w, eq, "corrupt_state"))
			corrupt_state = parse_uint(w, eq, end) != 0;
		else if (word_is(w, eq, "cpus"))
			ncpus = (unsigned)parse_uint(w, eq, end);
		else if (word_is(w, eq, "bug"))
			copy_word(o->bug_name, sizeof(o->bug_name), eq + 1, end);
		else {
			kprintf("ring0: FAIL: unknown option '");
			while (w < eq)
				kprintf("%c", *w++);
			kprintf("'\n");
			qemu_exit(EXIT_CODE_FAIL);
		}
	}
	o->policy = fpu_policy_find(o->policy_name);
}

/* ---- tasks ---- */

static void *state_alloc(void)
{
	uint32_t align = fpu_state_align(&fpu_sys);
	uint32_t size = (fpu_state_size(&fpu_sys) + align - 1) & ~(align - 1);
	uint32_t at = (state_arena_used + align - 1) & ~(align - 1);

	if (at + size > STATE_ARENA_SIZE) {
		kprintf("ring0: FAIL: no room for a %u-byte state buffer\n", size);
		qemu_exit(EXIT_CODE_FAIL);
	}
	state_arena_used = at + size;
	return state_arena + at;
}

void task_fpu_init(struct task *t, bool kthread)
{
	if (!fpu_state_setup(&fpu_sys, &t->state, t->area, fpu_state_size(&fpu_sys), t->id)) {
		kprintf("ring0: FAIL: a state buffer was refused\n");
		qemu_exit(EXIT_CODE_FAIL);
	}
	fpu_ctx_init(&fpu_sys, &t->fpu, &t->state, t->id, kthread);
}

/* A user task's first ring-3 frame: user_task(id, avx, limit). */
static void user_frame_init(struct task *t, struct trap_frame *f)
{
	*f = (struct trap_frame){ 0 };
	f->rip = (uint64_t)user_task;
	f->cs = USER_CS;
	f->rflags = 0x202; /* IF: the timer interrupts user code */
	f->rsp = t->user_stack_top;
	f->ss = USER_DS;
	f->rdi = t->id;
	f->rsi = has_avx;
	f->rdx = t->generation_limit;
	f->rcx = t->end_syscall;
	f->r8 = fpu_sys.has_pkru;
	f->r9 = t->fork_every;
}

/* What a task slot owns for good: its stacks and its state buffer. */
static void task_slot_init(struct task *t, unsigned slot)
{
	t->kstack_top = kstacks[slot] + KSTACK_SIZE;
	t->user_stack_top = (uint64_t)user_stacks + (slot + 1) * USER_STACK_SIZE;
	t->area = state_alloc();
}

/* A task's first ring-3 frame at the top of its kernel stack, under what
 * switch_stacks pops (r15 r14 r13 r12 rbp rbx, then its return): the
 * caller fills the frame. */
struct trap_frame *task_first_frame(struct task *t)
{
	struct trap_frame *f = (struct trap_frame *)t->kstack_top - 1;
	uint64_t *sp = (uint64_t *)f - 7;

	sp[0] = sp[1] = sp[2] = sp[3] = sp[4] = sp[5] = 0;
	sp[6] = (uint64_t)task_first_return;
	t->ksp = (uint64_t)sp;
	return f;
}

/* The first two tasks fork (fork_every), the second execs, the third exits. */
static void user_task_create(struct task *t, unsigned slot)
{
	t->id = new_task_id();
	t->last_cpu = -1;
	task_slot_init(t, slot);
	t->generation_limit = slot == 1 ? EXEC_GENERATIONS : slot == 2 ? EXIT_GENERATIONS : 0;
	t->end_syscall = slot == 1 ? SYS_EXEC : SYS_EXIT;
	t->fork_every = slot < 2 ? fork_every : 0;
	task_fpu_init(t, false);
	user_frame_init(t, task_first_frame(t));
}

void runq_put(struct task *t)
{
	uint64_t flags = runq_lock_take();

	t->next_queued = 0;
	if (runq_tail)
		runq_tail->next_queued = t;
	else
		runq_head = t;
	runq_tail = t;
	runq_lock_drop(flags);
}

/* Ahead of the others: the next CPU to look takes it. */
static void runq_put_front(struct task *t)
{
	uint64_t flags = runq_lock_take();

	t->next_queued = runq_head;
	runq_head = t;
	if (!runq_tail)
		runq_tail = t;
	runq_lock_drop(flags);
}

static struct task *runq_take(void)
{
	struct task *t;

	uint64_t flags = runq_lock_take();

	t = runq_head;
	if (t) {
		runq_head = t->next_queued;
		if (!runq_head)
			runq_tail = 0;
	}
	runq_lock_drop(flags);
	return t;
}

/* The task switched away from goes back on the run queue only once it is
 * off its kernel stack: here, on the next task's stack. So does the slot of
 * one that exited for good. */
static void finish_switch(struct percpu *c)
{
	struct task *t = c->release;

	c->release = 0;
	if (t && t->dead)
		fork_slot_release(t);
	else if (t)
		runq_put(t);
}

/* Returns on prev's stack when prev runs again, maybe on another CPU:
 * callers re-read this_cpu(). Interrupts are off from fpu_switch() to the
 * stack switch (sched.h); prev gets its own state of them back. */
static void switch_to(struct percpu *c, struct task *next, bool requeue_prev)
{
	struct task *prev = c->curr;
	uint64_t flags;

	if (next == prev)
		return;
	flags = irq_save();
	if (next->last_cpu >= 0 && next->last_cpu != c->id)
		c->migrations++;
	next->last_cpu = c->id;
	fpu_switch(&c->fpu, &prev->fpu, &next->fpu);
	c->curr = next;
	c->switches++;
	c->tss.rsp0 = (uint64_t)next->kstack_top;
	c->kstack_top = (uint64_t)next->kstack_top;
	c->release = requeue_prev ? prev : 0;
	switch_stacks(&prev->ksp, next->ksp);
	finish_switch(this_cpu());
	irq_restore(flags);
}

/* Preemption and yield: the next queued task, if any. */
static void schedule(struct percpu *c)
{
	struct task *next = runq_take();

	if (next)
		switch_to(c, next, true);
}

/* A task was queued: wake one halted CPU (not this one) to take it. A CPU
 * sets `halted` before it looks at the run queue a last time, so either it
 * sees the task or it is woken. */
static void kick_idle_cpu(struct percpu *c)
{
	unsigned i;

	for (i = 0; i < ncpus; i++) {
		struct percpu *o = &cpus[(c->id + 1 + (int)i) % (int)ncpus];

		if (o != c && __atomic_load_n(&o->halted, __ATOMIC_SEQ_CST)) {
			c->resched_sent++;
			apic_send_ipi((unsigned)o->id, RESCHED_VECTOR);
			return;
		}
	}
}

/* The running task leaves its CPU without being queued (asleep): the next
 * queued task runs, or the CPU's idle loop. Returns when it is woken and
 * switched in again, maybe on another CPU. */
static void block(struct percpu *c)
{
	struct task *next = runq_take();

	switch_to(c, next ? next : c->idle, false);
}

/* A system call that sleeps for sleep_ticks timer interrupts: the timer
 * handler that sees the time come queues the task again. */
static void sleep_for_ticks(struct percpu *c, struct task *t)
{
	uint64_t flags = runq_lock_take();

	t->wake_at = total_interrupts + sleep_ticks;
	t->next_queued = sleepers;
	sleepers = t;
	runq_lock_drop(flags);
	c->sleeps_timed++;
	block(c);
}

/* In the timer handler: the sleepers whose time has come are queued. */
static void wake_sleepers(struct percpu *c)
{
	struct task **pp, *woken = 0;
	uint64_t flags = runq_lock_take();

	for (pp = &sleepers; *pp;) {
		struct task *t = *pp;

		if (t->wake_at > total_interrupts) {
			pp = &t->next_queued;
			continue;
		}
		*pp = t->next_queued;
		t->next_queued = woken;
		woken = t;
	}
	runq_lock_drop(flags);
	while (woken) {
		struct task *t = woken;

		woken = t->next_queued;
		c->wakeups++;
		runq_put(t);
		kick_idle_cpu(c);
	}
}

/* The running task has ended for good (t->dead): the CPU goes to the next
 * queued task and never comes back; finish_switch frees the slot. */
void task_leave_for_good(struct percpu *c)
{
	struct task *next = runq_take();

	switch_to(c, next ? next : c->idle, true);
	kprintf("ring0: FAIL: a task that exited for good ran again\n");
	qemu_exit(EXIT_CODE_FAIL);
}

/* For fork: the CPU's kernel worker runs in between, as after a timer
 * interrupt; every fourth of its runs it hands the task to another CPU
 * while this one still holds its registers (kworker_main). */
void task_yield_to_kworker(void)
{
	struct percpu *c = this_cpu();

	kworker_return_to[c->id] = c->curr;
	switch_to(c, c->kworker, false);
}

/* For a kernel path that may sleep (the port's fault_in): another task
 * runs, and this one may come back on another CPU. */
void task_sleep(void)
{
	struct percpu *c = this_cpu();

	c->sleeps++;
	schedule(c);
}

/* A kernel SIMD section: the library puts the interrupted or switched-out
 * user state away first (or refuses, and the work is done without SIMD). */
static void kernel_simd_work(struct percpu *c, struct task *current, uint64_t salt)
{
	if (!fpu_kernel_begin(&c->fpu, &current->fpu, FPU_KFPU_MXCSR | FPU_KFPU_387))
		return;
	kernel_simd_clobber(KERNEL_PATTERN ^ salt, has_avx);
	fpu_kernel_end(&c->fpu, &current->fpu);
}

/* Makes a switched-out task's saved image one that XRSTOR (or FXRSTOR)
 * refuses with #GP: a reserved byte of the XSAVE header, or reserved MXCSR
 * bits. Its restore then faults, the library's fixup loads the init state
 * and warns, and the task sees init registers: the run must fail, through
 * the fault path, not by a crash. */
static void corrupt_saved_image(struct task *t)
{
	uint8_t *area = t->state.area;

	if (fpu_sys.insn == FPU_INSN_FXSAVE)
		*(uint32_t *)(area + FPU_FXSAVE_MXCSR) = 0xffffffffu;
	else
		area[FPU_XSAVE_HDR_OFFSET + 16] = 1;
	kprintf("ring0: corrupted the saved image of task %u\n", t->id);
}

/* The kernel worker: every other run uses SIMD; either way it gives the CPU
 * back to the task it interrupted, so that task's registers may still be
 * valid (a skipped restore) or not. */
/* With more than one CPU, every fourth run (one without SIMD) the worker
 * puts the task at the head of the run queue instead and waits a while
 * for another CPU to take it before taking one itself: the task then goes
 * on on another CPU while its image is still unsaved in this one's
 * registers (the deferred policy's remote flush). The wait is bounded:
 * the other CPUs' workers may be waiting the same way. */
static void kworker_main(void) __attribute__((noreturn));
static void kworker_main(void)
{
	finish_switch(this_cpu());
	for (;;) {
		struct percpu *c = this_cpu();
		struct task *back = kworker_return_to[c->id];

		irq_enable(); /* a kernel thread's work may be interrupted, its SIMD section too */

		if (corrupt_state && c->kworker_runs == 0) {
			/* not the task we return to: its image is in memory, not live
			 * (one CPU only: with more, that task may be running) */
			unsigned i = (unsigned)(back - user_tasks);
			corrupt_saved_image(&user_tasks[(i + 1) % nuser_tasks]);
		}
		if (c->kworker_runs & 1)
			kernel_simd_work(c, c->kworker, c->kworker_runs + 1);
		if (ncpus > 1 && c->kworker_runs % 4 == 0) {
			unsigned tries = HANDOFF_WAIT;

			runq_put_front(back);
			kick_idle_cpu(c);
			while (tries-- && __atomic_load_n(&runq_head, __ATOMIC_ACQUIRE) == back) {
				serve_flush_requests(c);
				cpu_relax();
			}
			back = runq_take();
			if (!back)
				back = c->idle; /* every task is asleep or running */
		}
		c->kworker_runs++;
		switch_to(c, back, false);
	}
}

static void kworker_create(unsigned cpu)
{
	struct task *kw = &kworkers[cpu];
	uint64_t *sp = (uint64_t *)(kworker_stacks[cpu] + KSTACK_SIZE);

	kw->id = KWORKER_ID + cpu;
	kw->kthread = true;
	kw->last_cpu = -1;
	kw->kstack_top = kworker_stacks[cpu] + KSTACK_SIZE;
	kw->area = state_alloc();
	task_fpu_init(kw, true);
	cpus[cpu].kworker = kw;
	/* switch_stacks pops six registers and returns into kworker_main with
	 * the stack as a call leaves it (a dummy return address above). */
	sp -= 8;
	sp[0] = sp[1] = sp[2] = sp[3] = sp[4] = sp[5] = 0;
	sp[6] = (uint64_t)kworker_main;
	sp[7] = 0;
	kw->ksp = (uint64_t)sp;
}

/* ---- the end of the run ---- */

/* Sums every CPU's counts; the others may still be running, which does not
 * matter: the counts only grow, and QEMU stops them all at the exit. */
static void finish(void)
{
	struct fpu_stats s = { 0 };
	struct percpu t = { 0 };
	unsigned i;
	bool pass;

	for (i = 0; i < ncpus; i++) {
		struct percpu *c = &cpus[i];

		fpu_stats_add(&s, &c->fpu.stats);
		kprintf("ring0: cpu %u: %lu interrupts, %lu switches, %lu migrations in, "
			"%lu IPIs sent, %lu IPIs taken, %lu remote flushes\n", i, c->interrupts, c->switches,
			c->migrations, c->ipis_sent, c->ipis_taken, c->remote_flushes);
		t.interrupts += c->interrupts;
		t.switches += c->switches;
		t.syscalls += c->syscalls;
		t.execs += c->execs;
		t.exits += c->exits;
		t.kworker_runs += c->kworker_runs;
		t.warnings += c->warnings;
		t.library_faults += c->library_faults;
		t.violations += c->violations;
		t.migrations += c->migrations;
		t.irqs_in_kernel += c->irqs_in_kernel;
		t.irqs_in_library += c->irqs_in_library;
		t.irqs_in_fpu_lock += c->irqs_in_fpu_lock;
		t.flush_answers_deferred += c->flush_answers_deferred;
		t.idle_halts += c->idle_halts;
		t.sleeps_timed += c->sleeps_timed;
		t.wakeups += c->wakeups;
		t.resched_sent += c->resched_sent;
		t.resched_taken += c->resched_taken;
		t.kfpu_ipis_sent += c->kfpu_ipis_sent;
		t.kfpu_ipis_taken += c->kfpu_ipis_taken;
		t.ipis_sent += c->ipis_sent;
		t.remote_flushes += c->remote_flushes;
		t.signals += c->signals;
		t.sigreturns += c->sigreturns;
		t.frames_rejected += c->frames_rejected;
		t.frames_faulted_in += c->frames_faulted_in;
		t.copy_faults += c->copy_faults;
		t.pk_faults += c->pk_faults;
		t.pk_refused += c->pk_refused;
		t.spurious_faults += c->spurious_faults;
		t.user_faults += c->user_faults;
		t.segvs += c->segvs;
		t.pkru_checks += c->pkru_checks;
		t.sleeps += c->sleeps;
	}
	pass = t.violations == 0 && t.warnings == 0 && t.library_faults == 0;
	kprintf("ring0: %lu syscalls (%lu execs, %lu exits), %lu kernel worker runs, "
		"%lu kernel SIMD sections (%lu refused), %lu skipped restores, %lu x87 pointer scrubs, "
		"%lu pkru writes, %lu library warnings, %lu library faults\n",
		t.syscalls, t.execs, t.exits, t.kworker_runs, s.kfpu_sections, s.kfpu_refused, s.skipped_restores,
		s.x87_scrubs, s.pkru_writes, t.warnings, t.library_faults);
	kprintf("ring0: %lu timer interrupts hit ring 0: %lu in the library's code, %lu while it held "
		"the FPU lock; %lu flush answers deferred to the unlock\n", t.irqs_in_kernel, t.irqs_in_library,
		t.irqs_in_fpu_lock, t.flush_answers_deferred);
	kprintf("ring0: %lu migrations, %lu IPIs, %lu remote flushes\n", t.migrations, t.ipis_sent,
		t.remote_flushes);
	kprintf("ring0: scheduler: %lu timed sleeps, %lu wakeups, %lu idle halts, %lu reschedule IPIs "
		"(%lu taken), %lu kernel FPU IPIs (%lu taken)\n", t.sleeps_timed, t.wakeups, t.idle_halts,
		t.resched_sent, t.resched_taken, t.kfpu_ipis_sent, t.kfpu_ipis_taken);
	kprintf("ring0: signals: %lu delivered, %lu sigreturns, %lu frames rejected, %lu frames faulted in, "
		"%lu sleeps, %lu user-copy faults, %lu spurious faults, %lu ring-3 faults, %lu SIGSEGVs\n", t.signals,
		t.sigreturns, t.frames_rejected, t.frames_faulted_in, t.sleeps, t.copy_faults, t.spurious_faults,
		t.user_faults, t.segvs);
	kprintf("ring0: pkru: %lu PK faults, %lu frames refused by PKRU, %lu PKRU checks, %lu pkru writes\n",
		t.pk_faults, t.pk_refused, t.pkru_checks, s.pkru_writes);
	fork_report();
	kprintf("ring0: %s\n", pass ? "PASS" : "FAIL");
	kprintf("ring0: policy=%s cpus=%u interrupts=%lu switches=%lu signals=%lu saves=%lu restores=%lu violations=%lu\n",
		fpu_sys.policy->name, ncpus, t.interrupts, t.switches, t.signals, s.saves, s.restores, t.violations);
	qemu_exit(pass ? EXIT_CODE_PASS : EXIT_CODE_FAIL);
}

/* ---- traps ---- */

/* A fault on one of the library's XSAVE/XRSTOR instructions resumes at its
 * fixup (include/fpuctx/extable.h), and the library recovers. Here every
 * buffer is the kernel's own, so such a fault still fails the run. */
static bool library_fault_fixup(struct percpu *c, struct trap_frame *f)
{
	const struct fpu_extable_entry *e;

	if ((f->cs & 3) != 0 || !(e = fpu_extable_search(f->rip)))
		return false;
	if (++c->library_faults <= MESSAGES_PRINTED)
		kprintf("ring0: exception %u on the library's instruction at 0x%lx: resumed at its fixup\n",
			(unsigned)f->vector, f->rip);
	if (e->kind == FPU_EX_TRAPNR)
		f->rcx = f->vector;
	f->rip = fpu_extable_fixup(e);
	return true;
}

static void fatal_exception(struct trap_frame *f)
{
	kprintf("ring0: FAIL: exception %u error 0x%lx at rip 0x%lx (cs 0x%lx) cr2 0x%lx\n",
		(unsigned)f->vector, f->error, f->rip, f->cs, read_cr2());
	kprintf("ring0: rdi 0x%lx rsi 0x%lx rdx 0x%lx rax 0x%lx rsp 0x%lx; stack 0x%lx 0x%lx 0x%lx 0x%lx\n",
		f->rdi, f->rsi, f->rdx, f->rax, f->rsp, ((uint64_t *)f->rsp)[0], ((uint64_t *)f->rsp)[1],
		((uint64_t *)f->rsp)[2], ((uint64_t *)f->rsp)[3]);
	kprintf("ring0: policy=%s cpus=%u interrupts=%lu switches=%lu signals=%lu saves=%lu restores=%lu violations=%lu\n",
		fpu_sys.policy ? fpu_sys.policy->name : "?", ncpus, this_cpu()->interrupts, this_cpu()->switches,
		this_cpu()->signals, this_cpu()->fpu.stats.saves, this_cpu()->fpu.stats.restores, this_cpu()->violations);
	qemu_exit(EXIT_CODE_FAIL);
}

void task_violation(struct percpu *c, struct task *t, const char *what, uint64_t detail)
{
	c->violations++;
	if (c->violations <= MESSAGES_PRINTED)
		kprintf("ring0: violation: task %u: %s 0x%lx\n", t->id, what, detail);
}

/* What a SIGSEGV does to a task that does not handle it: its program ends.
 * Here a new one starts in the task, as at exec; it checks that it starts
 * in the init state with the default PKRU. */
void task_segv(struct percpu *c, struct task *t, struct trap_frame *f)
{
	c->segvs++;
	fpu_exec(&c->fpu, &t->fpu);
	t->id = new_task_id();
	t->in_handler = false;
	user_frame_init(t, f);
}

static void syscall_dispatch(struct percpu *c, struct trap_frame *f)
{
	struct task *t = c->curr;
	uint64_t flags;

	c->syscalls++;
	switch (f->rax) {
	case SYS_YIELD:
		/* every sleep_every-th yield waits for a while instead, so that
		 * CPUs run out of tasks and halt in their idle loop */
		f->rax = 0;
		if (sleep_every && ++c->yields % sleep_every == 0)
			sleep_for_ticks(c, t);
		else
			schedule(c);
		break;
	case SYS_EXIT:
		/* The slot is reused at once by a new task, which runs next:
		 * its first check is that it starts in the init state, not
		 * with the registers of the task that just ended there (the
		 * old buffer must never look loaded again). */
		c->exits++;
		fpu_exit(&c->fpu, &t->fpu);
		/* The running task's context is rebuilt in place: an interrupt's
		 * kernel SIMD section must not find it half cleared. */
		flags = irq_save();
		t->id = new_task_id();
		t->in_handler = false;
		task_fpu_init(t, false);
		/* It runs without a switch, which is where PKRU is written:
		 * the exec path writes the new program's (default) PKRU now, or
		 * it would start with the old task's. */
		fpu_exec(&c->fpu, &t->fpu);
		irq_restore(flags);
		user_frame_init(t, f);
		break;
	case SYS_EXEC:
		/* A new program (and pattern id) in the same task and buffer;
		 * its registers start in the init state, which it checks. */
		c->execs++;
		fpu_exec(&c->fpu, &t->fpu);
		t->id = new_task_id();
		t->in_handler = false;
		user_frame_init(t, f);
		break;
	case SYS_SIGRETURN:
		signal_return(c, t, f);
		break;
	case SYS_FORK:
		sys_fork(c, t, f);
		break;
	case SYS_EXIT_FOR_GOOD:
		sys_exit_for_good(c, t, f);
		break;
	case SYS_VIOLATION:
		c->violations++;
		if (c->violations <= MESSAGES_PRINTED)
			kprintf("ring0: violation: task %u found another's registers (qword %u; 64 MXCSR, 65 FCW, "
				"66 PKRU, 67 the keyed page; in a signal handler: 100+ not init, 170-172 MXCSR/FCW/PKRU not default, "
				"200+ the frame's qword, 264-266 its MXCSR/FCW/PKRU; in a SIGSEGV handler: 300+ the frame's qword "
				"not reset, 364-366 its MXCSR/FCW/PKRU)\n",
				(unsigned)f->rdi, (unsigned)f->rsi);
		f->rax = 0;
		break;
	default:
		f->rax = (uint64_t)-1;
		break;
	}
}

/* A new task's first run: the switch that brought it here is finished. */
void task_first_hook(struct trap_frame *f)
{
	finish_switch(this_cpu());
	return_to_user_hook(f);
}

/* The restore runs with interrupts on, so that they land in it too. A
 * kernel SIMD section of an interrupt after it would undo it: the last call
 * is made with interrupts off, and returns at once if nothing changed. The
 * CPU stays the same: an interrupt that hit ring 0 never switches tasks. */
void return_to_user_hook(struct trap_frame *f)
{
	struct percpu *c = this_cpu();

	(void)f;
	irq_enable();
	fpu_exit_to_user(&c->fpu, &c->curr->fpu);
	irq_disable();
	fpu_exit_to_user(&c->fpu, &c->curr->fpu);
}

extern char fpuctx_text_start[], fpuctx_text_end[]; /* the library's code (linker.ld) */

/* What an interrupt tells the library through port_context(), and where
 * the timer's landed: in ring 0, in the library's code, in its FPU lock. */
static void irq_enter(struct percpu *c, const struct trap_frame *f, bool count)
{
	c->in_irq = true;
	c->irq_hit_lock = c->lock_depth > 0;
	if (!count || (f->cs & 3) == 3)
		return;
	c->irqs_in_kernel++;
	if (f->rip >= (uint64_t)fpuctx_text_start && f->rip < (uint64_t)fpuctx_text_end)
		c->irqs_in_library++;
	if (c->irq_hit_lock)
		c->irqs_in_fpu_lock++;
}

static void timer_interrupt(struct percpu *c, struct trap_frame *f)
{
	bool last;

	irq_enter(c, f, true);
	c->interrupts++;
	apic_eoi();
	/* all CPUs' timer interrupts count towards the limit */
	last = __atomic_add_fetch(&total_interrupts, 1, __ATOMIC_RELAXED) == interrupt_limit;
	if (irq_kfpu_every && c->interrupts % irq_kfpu_every == 0) {
		c->irq_kfpu_runs++;
		kernel_simd_work(c, c->curr, c->interrupts);
	}
	if (ncpus > 1 && kfpu_ipi_every && c->interrupts % kfpu_ipi_every == 0) {
		c->kfpu_ipis_sent++;
		apic_send_ipi((unsigned)((c->id + 1) % (int)ncpus), KFPU_VECTOR);
	}
	wake_sleepers(c);
	c->in_irq = false;
	if (last)
		finish();
	if ((f->cs & 3) != 3)
		return; /* the kernel is not preemptible */
	/* preemption on the way back to user mode */
	if (kworker_every && c->interrupts % kworker_every == 0) {
		kworker_return_to[c->id] = c->curr;
		switch_to(c, c->kworker, false);
	} else {
		schedule(c);
	}
}

void trap(struct trap_frame *f)
{
	struct percpu *c = this_cpu();

	if (f->vector == SYSCALL_VECTOR) {
		irq_enable(); /* system calls run with interrupts on */
		syscall_dispatch(c, f);
	} else if (f->vector == TIMER_VECTOR) {
		timer_interrupt(c, f);
		if ((f->cs & 3) == 3) {
			c = this_cpu();   /* back in this task, maybe on another CPU */
			irq_enable();     /* interrupts land in the frame's save too */
			signal_deliver(c, c->curr, f);
		}
	} else if (f->vector == FLUSH_VECTOR) {
		irq_enter(c, f, false);
		c->ipis_taken++;
		apic_eoi();
		serve_flush_requests(c);
		c->in_irq = false;
	} else if (f->vector == RESCHED_VECTOR) {
		/* a task was queued; the idle loop looks again by itself */
		c->resched_taken++;
		apic_eoi();
		if ((f->cs & 3) == 3)
			schedule(c);
	} else if (f->vector == KFPU_VECTOR) {
		/* another CPU asks for kernel SIMD work here, in the interrupt:
		 * the library may refuse it (the interrupt hit its lock) */
		irq_enter(c, f, false);
		c->kfpu_ipis_taken++;
		apic_eoi();
		kernel_simd_work(c, c->curr, c->kfpu_ipis_taken);
		c->in_irq = false;
	} else if (f->vector == SPURIOUS_VECTOR) {
		return; /* no EOI for the spurious vector */
	} else if (f->vector == 14 && page_fault(c, f)) {
		/* resumed at a fixup, retried, or a SIGSEGV */
	} else if (!library_fault_fixup(c, f)) {
		fatal_exception(f);
	}
	if ((f->cs & 3) == 3)
		return_to_user_hook(f);
}

/* ---- boot ---- */

static void print_features(uint64_t mask)
{
	unsigned f;
	const char *sep = "";

	for (f = 0; f < FPU_XFEATURE_MAX; f++)
		if (mask & FPU_XFEATURE_MASK(f)) {
			kprintf("%s%s", sep, fpu_xfeature_name(f));
			sep = " ";
		}
}

#define MULTIBOOT_BOOTLOADER_MAGIC 0x2badb002u
#define MULTIBOOT_INFO_CMDLINE     0x4u

void kernel_main(uint32_t magic, uint32_t info_phys);

/* A CPU's start once the library is set up: its boot flow becomes its idle
 * task, a kernel thread that runs a queued task when there is one and else
 * halts until an interrupt (the timer, or another CPU's reschedule IPI).
 * `halted` is set before the last look at the run queue (kick_idle_cpu),
 * and STI's one-instruction shadow makes "sti; hlt" miss no interrupt. */
static void cpu_run(struct percpu *c) __attribute__((noreturn));
static void cpu_run(struct percpu *c)
{
	c->curr = c->idle;
	apic_timer_start(apic_count);
	for (;;) {
		struct task *t;

		irq_disable();
		__atomic_store_n(&c->halted, true, __ATOMIC_SEQ_CST);
		t = runq_take();
		if (t) {
			c->halted = false;
			switch_to(c, t, false);
			continue;
		}
		c->idle_halts++;
		__asm__ volatile("sti; hlt" : : : "memory");
		c->halted = false;
	}
}

void ap_main(unsigned cpu)
{
	struct percpu *c = &cpus[cpu];

	c->id = (int)cpu;
	cpu_gs_init(c);
	cpu_tables_init(c, (uint64_t)(exception_stacks[cpu] + KSTACK_SIZE));
	paging_cpu_init();
	fpu_hw_enable();
	c->fpu.sys = &fpu_sys;
	c->fpu.id = (int32_t)cpu;
	__atomic_store_n(&aps_started, cpu, __ATOMIC_RELEASE);
	while (!__atomic_load_n(&aps_go, __ATOMIC_ACQUIRE))
		cpu_relax();
	cpu_run(c);
}

void kernel_main(uint32_t magic, uint32_t info_phys)
{
	struct percpu *c = &cpus[0];
	const uint32_t *info = (const uint32_t *)(uint64_t)info_phys;
	const char *cmdline = 0;
	struct options o;
	enum fpu_setup_error err;
	uint64_t xcr0, missing = 0;
	unsigned i;

	c->id = 0;
	cpu_gs_init(c);
	serial_init();
	if (magic == MULTIBOOT_BOOTLOADER_MAGIC && (info[0] & MULTIBOOT_INFO_CMDLINE))
		cmdline = (const char *)(uint64_t)info[4];
	kprintf("ring0: booted, command line '%s'\n", cmdline ? cmdline : "");
	cpu_tables_init(c, (uint64_t)(exception_stacks[0] + KSTACK_SIZE));
	paging_init();
	paging_cpu_init();
	xcr0 = fpu_hw_enable();
	parse_cmdline(cmdline, &o);
	if (!o.policy) {
		kprintf("ring0: FAIL: unknown policy '%s' (eager, rfc2015, linux, deferred)\n", o.policy_name);
		qemu_exit(EXIT_CODE_FAIL);
	}
	if (ncpus < 1 || ncpus > MAX_CPUS) {
		kprintf("ring0: FAIL: cpus=%u (1 to %u)\n", ncpus, MAX_CPUS);
		qemu_exit(EXIT_CODE_FAIL);
	}
	nuser_tasks = ncpus + 2;
	if (!sleep_ticks)
		sleep_ticks = SLEEP_TICKS_PER_CPU * ncpus; /* long enough that CPUs run out of tasks */

	err = fpu_system_init(&fpu_sys, o.policy, ~0ull, FPU_INSN__COUNT, &port_ops, 0, &missing);
	if (err) {
		kprintf("ring0: FAIL: fpu_system_init: %s (missing 0x%lx)\n", fpu_setup_error_str(err), missing);
		qemu_exit(EXIT_CODE_FAIL);
	}
	if (o.bug_name[0]) {
#ifdef FPUCTX_TESTING
		for (i = 0; i < fpu_nbugs; i++)
			if (word_is(o.bug_name, o.bug_name + string_length(o.bug_name), fpu_bugs[i].name))
				fpu_sys.bugs |= fpu_bugs[i].bit;
		if (!fpu_sys.bugs) {
			kprintf("ring0: FAIL: unknown bug '%s'\n", o.bug_name);
			qemu_exit(EXIT_CODE_FAIL);
		}
		kprintf("ring0: injected bug %s\n", o.bug_name);
#else
		kprintf("ring0: FAIL: bug=%s needs the testing build of the library\n", o.bug_name);
		qemu_exit(EXIT_CODE_FAIL);
#endif
	}
	c->fpu.sys = &fpu_sys;
	c->fpu.id = 0;
	has_avx = (fpu_sys.mask & FPU_XFEATURE_MASK(FPU_XFEATURE_AVX)) != 0;
	signal_init();

	kprintf("ring0: XCR0 0x%lx; the library manages 0x%lx (", xcr0, fpu_sys.mask);
	print_features(fpu_sys.mask);
	kprintf("), PKRU %s\n", fpu_sys.has_pkru ? "switched eagerly" : "not enabled");
	kprintf("ring0: save instruction %s, context buffer %u bytes (align %u), x87 pointers: %s\n",
		fpu_insn_name(fpu_sys.insn), fpu_state_size(&fpu_sys), fpu_state_align(&fpu_sys),
		fpu_x87_describe(&fpu_sys.xs.x87, false));
	kprintf("ring0: policy %s: %s\n", fpu_sys.policy->name, fpu_sys.policy->summary);

	if (!fpu_system_set_init_area(&fpu_sys, &init_state, state_alloc(), fpu_state_size(&fpu_sys))) {
		kprintf("ring0: FAIL: the init area was refused\n");
		qemu_exit(EXIT_CODE_FAIL);
	}
	for (i = 0; i < ncpus; i++) {
		struct task *idle = &idle_tasks[i];

		idle->id = 0;
		idle->kthread = true;
		idle->last_cpu = (int)i;
		idle->area = state_alloc();
		task_fpu_init(idle, true);
		cpus[i].idle = idle;
		kworker_create(i);
	}
	for (i = 0; i < nuser_tasks; i++) {
		user_task_create(&user_tasks[i], i);
		runq_put(&user_tasks[i]);
	}
	for (i = nuser_tasks; i < nuser_tasks + FORK_SLOTS; i++) {
		task_slot_init(&user_tasks[i], i);
		fork_slot_add(&user_tasks[i]);
	}
	kprintf("ring0: %u CPUs, %u user tasks (%s), %lu interrupts, APIC count %u; kernel SIMD in the handler "
		"every %lu interrupts, the kernel worker every %lu, a signal every %lu; the first two tasks fork "
		"every %lu generations (%u child slots)\n", ncpus, nuser_tasks,
		has_avx ? "XMM, YMM, MXCSR, FCW" : "XMM, MXCSR, FCW", interrupt_limit, apic_count,
		irq_kfpu_every, kworker_every, signal_every, fork_every, FORK_SLOTS);

	if (ncpus > 1) {
		uint64_t tops[MAX_CPUS];

		for (i = 0; i < ncpus; i++)
			tops[i] = (uint64_t)(ap_stacks[i] + KSTACK_SIZE);
		smp_start_aps(ncpus, tops);
		__atomic_store_n(&aps_go, true, __ATOMIC_RELEASE);
	}
	cpu_run(c);
}
