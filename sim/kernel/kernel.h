/* SPDX-License-Identifier: MIT */
/*
 * The simulated kernel: per-CPU run queues, interrupts, the programs tasks
 * run, and its results. One struct kernel is one instance: no globals, so a
 * guest kernel can be a second instance of the same code. Tasks are in
 * task.h, signals in ksignal.h, virtual machines in vm.h.
 *
 * General-regs-only and libc-free, like a real kernel. The only FPU
 * instructions it runs are the library's, the machine's (sim/hw/) and the
 * user-mode ones of the oracle (sim/oracle/) and sim/user/.
 */
#ifndef SIM_KERNEL_H
#define SIM_KERNEL_H

#include <stddef.h>
#include "fpuctx/api.h"
#include "fpuctx/sched.h"
#include "fpuctx/trace.h"
#include "fpuctx/testing.h"
#include "../hw/hw.h"
#include "../klib.h"
#include "../oracle/oracle.h"
#include "scenario.h"
#include "task.h"

_Static_assert(SCN_MAX_CPUS <= HW_MAX_CPUS && SCN_MAX_VCPUS <= HW_MAX_CPUS,
	       "the machine has a slot per CPU and per vCPU");

#define KMAX_VIOLATIONS 16

enum page_state { PG_PRESENT, PG_EVICTED, PG_READONLY, PG_UNMAPPED };

struct vm;

/* What went wrong, in numbers: the tool turns it into words. */
enum viol_kind {
	VIOL_STATE,      /* registers did not hold the expected state */
	VIOL_WARN,       /* the library reported a broken invariant */
	VIOL_DEADLOCK,   /* every CPU idle, tasks blocked for good */
	VIOL_RUNTIME,    /* a scenario asked for something impossible at run time */
	VIOL_SIGRETURN,  /* sigreturn's verdict differs from what the frame edits require */
	VIOL_GUEST,      /* a guest saw host state, or guest-only state outlived its window */
};

struct violation {
	uint8_t kind;
	uint8_t where;          /* 0: a check op, 1: return to user, 2: a signal frame just written,
				 * 3: registers at VM entry, 4: a VMM's get of guest state */
	uint8_t vm;             /* 0: the host; n: VM n-1 (cpu is then a vCPU) */
	uint16_t cpu;
	uint32_t task;          /* task id */
	uint32_t line;          /* scenario line of the op, or 0 */
	uint32_t component;     /* xfeature number */
	uint32_t offset;        /* byte offset in the standard-format image */
	uint8_t expected[8];
	uint8_t found[8];
	uint32_t found_owner;   /* OWNER_* or a task id, decoded from the found bytes */
	uint32_t found_gen;
	uint32_t found_known;   /* 1: found_owner/gen decoded; 2: init state; 0: unknown */
	uint64_t time;
	const char *msg;        /* static text (VIOL_WARN, VIOL_RUNTIME) */
};

/* Kernel-side trace record (library events and the kernel's own). */
enum ktrace_type {
	KT_EV_FPU = 0,     /* a = fpu_event type, b = ctx, c = state, d = bytes (flush request: the CPU asked) */
	KT_EV_SWITCH = 32, /* a = prev task, b = next task */
	KT_EV_IRQ,         /* a = lines */
	KT_EV_OP,          /* a = task, b = op code, c = line */
	KT_EV_VIOLATION,   /* a = task */
	KT_EV_VM_ENTRY,    /* a = VMM task, b = vm, c = vcpu */
	KT_EV_VM_EXIT,     /* a = VMM task, b = vm, c = vcpu, d = enum vm_exit */
};

struct ktrace_rec {
	uint64_t time;
	uint16_t type;
	uint16_t cpu;           /* vm << 8 | cpu: a guest's records name its vCPU */
	uint32_t a, b, c, d;
};

struct kcpu {
	uint32_t id;
	struct fpu_cpu fpu;
	struct task *curr;
	struct task *idle;
	struct task *rq_head, *rq_tail;
	bool need_resched;
	bool irqs_off;
	bool in_irq;
	uint32_t preempt_count;  /* >0: no kernel preemption */
	uint32_t fpregs_locked;  /* port lock depth (bottom halves off) */
	uint32_t irq_saved_locked;/* fpregs_locked of the code an interrupt hit */
	uint8_t *kfpu_image;     /* what kernel SIMD leaves in the registers */
	uint8_t *check_buf;      /* scratch for return-to-user checks */
	uint8_t *expect_buf;     /* scratch: the expected image */
	uint64_t xcr0;           /* the modelled XCR0: the kernel's mask, a guest's in the entry window */
	struct fpu_state *flush_wait; /* the image this CPU waits for another to write back */
	uint32_t flush_from;     /* CPUs waiting for this one to write back an image (bit per CPU) */
};

struct kresult {
	struct fpu_stats total;       /* sum over CPUs, host and guests */
	struct fpu_stats guest;       /* the guests' part of it */
	struct fpu_stats win_begin, win_end;
	struct fpu_stats win_guest_begin, win_guest_end;
	uint64_t switches, win_switches_begin, win_switches_end;
	bool win_opened, win_closed;
	uint64_t checks;              /* state comparisons done */
	uint64_t ops;                 /* program ops executed */
	uint64_t irqs;
	uint64_t forks_failed;
	uint64_t fpu_cycles;          /* TSC cycles inside the library's hooks (for bench) */
	uint64_t fpu_timed;           /* regions fpu_cycles adds up: bench takes their own cost out */
	uint64_t signals, sigreturns, sigsegv, killed;
	uint64_t exits, run_calls, vm_gets;
	uint32_t nviolations;         /* all, even past KMAX_VIOLATIONS */
	struct violation viol[KMAX_VIOLATIONS];
	uint64_t hash;                /* fingerprint of the event sequence, for replay */
	bool finished;                /* every task exited */
};

struct kernel {
	struct hw_machine *hw;
	const struct scenario *scn;
	struct kernel *root;          /* the host kernel (itself, for the host): trace, results */
	uint32_t vm_index;            /* 0: the host; n: the guest kernel of VM n-1 */
	uint32_t nvms;                /* VMs booted (all of the scenario's, unless boot failed) */
	struct vm *vms;               /* the host's virtual machines */
	uint32_t failed_vm;           /* after a boot error: the VM (1-based) that failed, or 0 */
	struct fpu_system fpu;
	struct fpu_state init_state;
	struct oracle oracle;         /* what user code loads and checks, and how (sim/oracle/) */
	uint32_t ncpus;
	struct kcpu cpus[SCN_MAX_CPUS];
	struct task tasks[KMAX_TASKS];
	uint32_t ntask_slots;         /* slots ever used */
	uint32_t live_tasks;          /* user tasks and kthreads not yet dead */
	uint8_t *arena;               /* memory handed over by the machine */
	size_t arena_size, arena_used;
	uint8_t *user_mem;            /* page-aligned "user memory" (stacks) */
	size_t user_mem_size, user_mem_used;
	uint8_t *page_state;          /* enum page_state per page of user_mem */
	struct ktrace_rec *trace;     /* optional ring */
	uint32_t trace_cap;
	uint64_t trace_count;
	struct kresult res;
};

/* Test-only: the oracle compares FOP/FIP/FDP whatever the CPU keeps (a
 * deliberately broken oracle, which must fail on CPUs that do not keep them). */
#define SIM_PRETEND_X87_KEPT 0x100u

/* boot.c */
struct kernel_config {
	const struct scenario *scn;
	const struct fpu_policy *policy;
	enum fpu_insn insn;           /* FPU_INSN__COUNT: best available */
	uint64_t want;                /* features to manage */
	uint32_t bugs;
	uint32_t pretend;             /* FPU_PRETEND_* | SIM_PRETEND_* */
	struct kernel *root;          /* NULL: this is the host */
	uint32_t vm_index;
	void *arena;
	size_t arena_size;
	struct ktrace_rec *trace;
	uint32_t trace_cap;
	void *user_mem;               /* page-aligned, read/write */
	size_t user_mem_size;
};
/* Returns 0, or a static message saying what failed; then *missing holds the
 * features asked for that are not there (with k->failed_vm set: those of
 * that VM the host does not manage). */
const char *kernel_boot(struct kernel *k, struct hw_machine *hw, const struct kernel_config *cfg,
			uint64_t *missing);
void *kalloc(struct kernel *k, size_t size);
void *kalloc_raw(struct kernel *k, size_t size, size_t align);
/* Register image buffers: filled with KPOISON, never zeroed. */
#define KPOISON 0x6b
void *kalloc_fpstate(struct kernel *k, size_t size);
uintptr_t ualloc(struct kernel *k, uint32_t pages);
struct task *task_create(struct kernel *k, uint32_t scn_index, int cpu);
void kernel_collect(struct kernel *k);   /* fills res.total etc. at the end */

/* sched.c */
static inline struct kcpu *this_cpu(struct kernel *k) { return &k->cpus[k->hw->running]; }
static inline struct task *current_task(struct kernel *k) { return this_cpu(k)->curr; }

/* Runs `call`, a library hook, inside two fenced clock reads: its cycles go
 * to fpu_cycles and the region is counted, for bench. */
#define KTIMED(k, call)                                                       \
	do {                                                                  \
		uint64_t t0_ = hw_clock_start();                              \
		call;                                                         \
		(k)->res.fpu_cycles += hw_clock_end() - t0_;                  \
		(k)->res.fpu_timed++;                                         \
	} while (0)
void schedule(struct kernel *k);
void enqueue(struct kernel *k, struct task *t, uint32_t cpu);
void wake_task(struct kernel *k, struct task *t);
void sleep_for(struct kernel *k, uint64_t steps);
void wait_event(struct kernel *k);
void migrate_self(struct kernel *k, uint32_t cpu);
void balance_from(struct kernel *k, struct kcpu *c, uint32_t to);
void steal_from(struct kernel *k, struct kcpu *c, uint32_t from);
void timer_expire(struct kernel *k, struct kcpu *c);
void task_exit(struct kernel *k);
void idle_main(void *kernel);
void kernel_point(struct kernel *k, bool user_mode);
void kernel_hash(struct kernel *k, uint64_t v);
void guest_state_violation(struct kernel *k, struct kcpu *c, struct task *t, const char *msg);

/* irq.c */
void take_interrupts(struct kernel *k);
void send_ipi(struct kernel *k, uint32_t cpu, uint32_t irq);
void kfpu_section(struct kernel *k, struct kcpu *c, struct task *cur, bool point_inside);
extern const struct fpu_port_ops sim_port_ops;
void ktrace(struct kernel *k, uint16_t type, uint32_t a, uint32_t b, uint32_t c, uint32_t d);

/* prog.c */
void task_main(void *task);
void runtime_error(struct kernel *k, struct task *t, const struct scn_op *op, const char *msg);

/* port.c (user memory) */
int user_fault_in(struct kernel *k, uintptr_t addr, uint64_t len, bool write);
void user_set_pages(struct kernel *k, uintptr_t lo, uintptr_t hi, enum page_state st);

/* check.c: violations, and the oracle's verdicts on a task's registers */
/* The one place a violation is recorded. where: see struct violation; f:
 * what the oracle found (VIOL_STATE), or NULL. */
void kviolation(struct kernel *k, enum viol_kind kind, uint8_t where, uint32_t cpu, uint32_t task,
		uint32_t line, const char *msg, const struct oracle_finding *f);
bool pattern_check(struct kernel *k, struct task *t, uint8_t *buf, uint8_t *expect, uint32_t line,
		   uint8_t where);
/* Compares an already captured standard-format image with t's expectation. */
bool image_check(struct kernel *k, struct task *t, uint8_t *img, uint8_t *expect, uint32_t line,
		 uint8_t where);

#endif
