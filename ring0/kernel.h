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

#define KERNEL_CS 0x08
#define KERNEL_DS 0x10
#define USER_DS   (0x18 | 3)
#define USER_CS   (0x20 | 3)
#define TSS_SEL(cpu) (0x28 + 16 * (cpu))   /* a TSS descriptor per CPU */

#define TIMER_VECTOR    32
#define FLUSH_VECTOR    240   /* the deferred policy's remote flush IPI */
#define SPURIOUS_VECTOR 255
#define SYSCALL_VECTOR  0x100   /* entry.S marks syscall frames with it */

#define SYS_YIELD     0
#define SYS_EXIT      1
#define SYS_VIOLATION 2
#define SYS_EXEC      3

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
	uint64_t lock_flags;       /* RFLAGS at the outermost lock */
	bool in_irq;
	bool irq_hit_lock;         /* the interrupted code held the port lock */
	uint64_t interrupts, switches, syscalls, violations, warnings;
	uint64_t irq_kfpu_runs, kworker_runs, execs, exits;
	uint64_t library_faults;   /* exceptions resumed at a library fixup */
	uint64_t migrations, ipis_sent, ipis_taken, remote_flushes;
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
	struct task *next_queued;  /* the run queue's link */
};

/* In a spin loop. Not PAUSE: QEMU's TCG ends the vCPU's time slice at
 * every PAUSE, and under -icount the spinning CPU then hardly runs. */
static inline void cpu_relax(void) { __asm__ volatile("" : : : "memory"); }

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
unsigned user_page_key(uint64_t va);
bool user_page_present(uint64_t va);
bool user_page_is_writable(uint64_t va);
void user_page_flush(uint64_t va);

/* kfpu.S */
void kernel_simd_clobber(uint64_t pattern, uint64_t avx);

/* kernel.c */
void ap_main(unsigned cpu);
void task_first_hook(struct trap_frame *f);
void trap(struct trap_frame *f);
void return_to_user_hook(struct trap_frame *f);

#endif
