/* SPDX-License-Identifier: MIT */
/* The ring-0 demonstration kernel: shared declarations. */
#ifndef RING0_KERNEL_H
#define RING0_KERNEL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <fpuctx/api.h>
#include <fpuctx/sched.h>

#define MAX_CPUS 4
#define USER_STACK_SIZE 16384

#define KERNEL_CS 0x08
#define KERNEL_DS 0x10
#define USER_DS   (0x18 | 3)
#define USER_CS   (0x20 | 3)
#define TSS_SEL(cpu) (0x28 + 16 * (cpu))   /* a TSS descriptor per CPU */

#define TIMER_VECTOR    32
#define FLUSH_VECTOR    240   /* the deferred policy's remote flush IPI */
#define RESCHED_VECTOR  241   /* a task was queued: look at the run queue */
#define KFPU_VECTOR     242   /* run a kernel SIMD section in the handler */
#define SPURIOUS_VECTOR 255
#define SYSCALL_VECTOR  0x100   /* entry.S marks syscall frames with it */

#define SYS_YIELD     0
#define SYS_EXIT      1
#define SYS_VIOLATION 2
#define SYS_EXEC      3
#define SYS_SIGRETURN 4
#define SYS_FORK      5   /* the parent gets the child's id (-1: no free slot), the child 0 */
#define SYS_EXIT_FOR_GOOD 6   /* a forked child ends: its slot is free again */

#define FORK_SLOTS 2          /* task slots kept for forked children */
#define CHILD_GENERATIONS 8   /* a child's own generations before it exits */

#define PF_PRESENT 0x01ull    /* #PF error code bits */
#define PF_WRITE   0x02ull
#define PF_USER    0x04ull
#define PF_PK      0x20ull    /* a protection-key violation */

/* Exit codes written to QEMU's isa-debug-exit port; QEMU exits with
 * (code << 1) | 1, so 1 is success and 3 failure (ring0/run.sh maps them
 * back to 0 and 1). */
#define EXIT_CODE_PASS 0
#define EXIT_CODE_FAIL 1

/* What the CPU (and entry.S) leaves on the kernel stack; see entry.S. */
struct trap_frame {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8, rbp, rdi, rsi, rdx, rcx, rbx, rax;
	uint64_t vector, error;
	uint64_t rip, cs, rflags, rsp, ss;
};

struct tss {
	uint32_t reserved0;
	uint64_t rsp0, rsp1, rsp2;
	uint64_t reserved1;
	uint64_t ist[7];
	uint64_t reserved2;
	uint16_t reserved3;
	uint16_t iomap_base;
} __attribute__((packed));

/* One per CPU, reached through GS base: everything a CPU's interrupt and
 * FPU paths touch. The first three fields are read by entry.S at fixed
 * offsets. */
struct percpu {
	uint64_t kstack_top;       /* 0: the running task's kernel stack (syscall entry) */
	uint64_t user_rsp;         /* 8: the user stack pointer at syscall entry */
	struct percpu *self;       /* 16: what this_cpu() reads */
	int id;
	struct fpu_cpu fpu;
	struct task *idle;         /* the CPU's boot flow: a kernel thread, never queued */
	struct task *kworker;
	struct task *release;      /* the task switched away from, queued once off its stack */
	/* remote flush requests from CPU i: the state it needs written back */
	struct fpu_state *volatile flush_req[MAX_CPUS];
	struct task *curr;
	int lock_depth;            /* port lock nesting */
	bool in_irq;
	bool irq_hit_lock;         /* the interrupted code held the port lock */
	bool flush_deferred;       /* a flush request waits for the unlock */
	volatile bool halted;      /* the idle loop is in HLT (or about to be): kick it */
	uint64_t interrupts, switches, syscalls, yields, violations, warnings;
	uint64_t irq_kfpu_runs, kworker_runs, execs, exits;
	uint64_t library_faults;   /* exceptions resumed at a library fixup */
	uint64_t migrations, ipis_sent, ipis_taken, remote_flushes;
	uint64_t irqs_in_kernel;   /* timer interrupts that hit ring 0 */
	uint64_t irqs_in_library;  /* ...in the library's code */
	uint64_t irqs_in_fpu_lock; /* ...while it held the FPU lock (saves, restores, write-backs) */
	uint64_t flush_answers_deferred;
	uint64_t idle_halts, sleeps_timed, wakeups, resched_sent, resched_taken;
	uint64_t kfpu_ipis_sent, kfpu_ipis_taken;
	/* signals (signal.c) */
	uint64_t signals, sigreturns, frames_rejected, frames_faulted_in, copy_faults;
	uint64_t pk_faults, pk_refused, spurious_faults, user_faults, segvs, pkru_checks, sleeps;
	uint64_t last_pf_error;    /* of the last #PF on a user page, for fault_in */
	struct tss tss;
};

struct task {
	uint64_t ksp;              /* saved by switch_stacks */
	uint8_t *kstack_top;
	uint64_t user_stack_top;
	struct fpu_ctx fpu;
	struct fpu_state state;
	void *area;
	uint32_t id;
	uint64_t generation_limit;
	uint64_t end_syscall;      /* what user_task calls at the limit: SYS_EXIT or SYS_EXEC */
	int last_cpu;              /* where it ran last, -1 before its first run */
	bool kthread;
	bool in_handler;           /* between a signal's delivery and its sigreturn */
	uint64_t wake_at;          /* asleep until total_interrupts reaches it */
	bool dead;                 /* exited for good: its slot is freed once the CPU is off its stack */
	uint64_t fork_every;       /* generations between its forks, 0: it never forks */
	struct task *next_queued;  /* the run queue's link */
};

/* The part of a signal frame below the FP area, at the handler's stack
 * pointer (user.S reads it at fixed offsets: SI_*). The registers are in
 * struct trap_frame's order. */
struct sig_info {
	uint64_t ret;              /* 0: user_sigreturn, where the handler returns */
	uint64_t flags;            /* 8: SIG_* */
	uint64_t fp;               /* 16: the FP area (fpu_signal_save's buffer) */
	uint64_t pkru_off;         /* 24: PKRU's offset in it, 0 without PKRU */
	uint64_t avx_off;          /* 32: AVX's offset in it, 0 without AVX */
	uint64_t rip, rsp, rflags; /* 40: the interrupted ring-3 code */
	uint64_t regs[15];         /* 64: r15 ... rax */
};
#define SIG_CHECK         1ull  /* registers held the task's pattern: compare the frame */
#define SIG_EDIT          2ull  /* write the next generation into the frame */
#define SIG_CORRUPT_HDR   4ull  /* make the frame invalid: a reserved header byte */
#define SIG_CORRUPT_MXCSR 8ull  /* ... or a reserved MXCSR bit */
#define SIG_SEGV         16ull  /* the SIGSEGV after a refused sigreturn: check the frame is reset */

/* In a spin loop. Not PAUSE: QEMU's TCG ends the vCPU's time slice at
 * every PAUSE, and under -icount the spinning CPU then hardly runs. */
static inline void cpu_relax(void) { __asm__ volatile("" : : : "memory"); }

/* In a wait that only another CPU can end (a remote flush): PAUSE, which
 * makes QEMU's TCG end this vCPU's time slice, so that the CPU waited for
 * runs; under -icount a halted CPU may otherwise not be woken while this
 * one spins (an emulator's scheduling, not the hardware's). */
static inline void cpu_yield_to_others(void) { __asm__ volatile("pause" : : : "memory"); }

/* console.c */
void serial_init(void);
void kprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* What the compiler may call for struct copies and clears. */
void *memset(void *d, int c, unsigned long n);
void *memcpy(void *d, const void *s, unsigned long n);
void qemu_exit(unsigned code) __attribute__((noreturn));

/* cpu.c */
extern struct percpu cpus[MAX_CPUS];
/* GS base holds the CPU's struct percpu in ring 0 and ring 3 alike (the
 * tasks never load GS, and FSGSBASE is off), so no swapgs is needed. */
static inline struct percpu *this_cpu(void)
{
	struct percpu *c;
	__asm__ volatile("mov %%gs:16, %0" : "=r"(c));
	return c;
}
void cpu_tables_init(struct percpu *c, uint64_t ist_top);
void cpu_gs_init(struct percpu *c);
void apic_send_ipi(unsigned apic_id, uint32_t icr_low);
unsigned apic_id(void);
void smp_start_aps(unsigned ncpus, uint64_t *stack_tops);
uint64_t fpu_hw_enable(void);
void apic_timer_start(uint32_t initial_count);
void apic_eoi(void);
uint64_t read_cr2(void);

/* entry.S */
void switch_stacks(uint64_t *prev_rsp, uint64_t next_rsp);
void task_first_return(void);
void syscall_entry(void);
void user_task(void);
int user_copy(void *dst, const void *src, uint64_t len);   /* 0, or -1 after a fault */
extern char user_copy_insn[], user_copy_fixup[];

/* user.S: labels of the task code (see there) */
extern char user_steady_start[], user_steady_end[], user_check_start[], user_check_end[];
extern char resume_generation[], user_signal_handler[], user_sigreturn[];
extern char user_keyed_page[];   /* protection key 1 for good (signal_init) */

/* paging.c */
void paging_init(void);
void paging_cpu_init(void);
bool user_page_ok(uint64_t va);
uint64_t user_page_get(uint64_t va);
void user_page_put(uint64_t va, uint64_t pte);
void user_page_unmap(uint64_t va);
void user_page_map(uint64_t va);
void user_page_writable(uint64_t va, bool writable);
void user_page_set_key(uint64_t va, unsigned key);
bool user_page_present(uint64_t va);
bool user_page_is_writable(uint64_t va);
void user_page_flush(uint64_t va);

/* signal.c */
extern uint64_t signal_every;
void signal_init(void);
void signal_deliver(struct percpu *c, struct task *t, struct trap_frame *f);
void signal_return(struct percpu *c, struct task *t, struct trap_frame *f);
bool page_fault(struct percpu *c, struct trap_frame *f);
int port_copy_to_user(void *data, uintptr_t dst, const void *src, uint32_t len);
int port_copy_from_user(void *data, void *dst, uintptr_t src, uint32_t len);
struct fpu_cpu *port_current_cpu(void *data);
int port_fault_in(void *data, uintptr_t addr, uint32_t len, bool write);

/* fork.c */
extern uint64_t fork_every;
void fork_slot_add(struct task *t);
void fork_slot_release(struct task *t);
void sys_fork(struct percpu *c, struct task *parent, struct trap_frame *f);
void sys_exit_for_good(struct percpu *c, struct task *t, struct trap_frame *f);
void fork_report(void);

/* kfpu.S */
void kernel_simd_clobber(uint64_t pattern, uint64_t avx);

/* kernel.c */
void ap_main(unsigned cpu);
void task_first_hook(struct trap_frame *f);
void trap(struct trap_frame *f);
void return_to_user_hook(struct trap_frame *f);
extern struct fpu_system fpu_sys;
extern bool has_avx;
void task_violation(struct percpu *c, struct task *t, const char *what, uint64_t detail);
void task_segv(struct percpu *c, struct task *t, struct trap_frame *f);
void task_sleep(void);
void task_yield_to_kworker(void);
uint32_t new_task_id(void);
void task_fpu_init(struct task *t, bool kthread);
struct trap_frame *task_first_frame(struct task *t);
void runq_put(struct task *t);
void task_leave_for_good(struct percpu *c) __attribute__((noreturn));

#endif
