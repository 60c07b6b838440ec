/* SPDX-License-Identifier: MIT */
/* The ring-0 demonstration kernel: shared declarations. */
#ifndef RING0_KERNEL_H
#define RING0_KERNEL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <fpuctx/api.h>
#include <fpuctx/sched.h>

#define KERNEL_CS 0x08
#define KERNEL_DS 0x10
#define USER_DS   (0x18 | 3)
#define USER_CS   (0x20 | 3)
#define TSS_SEL   0x28

#define TIMER_VECTOR    32
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

/* One per CPU (one for now): everything a CPU's interrupt and FPU paths
 * touch, so that SMP adds instances, not globals. */
struct percpu {
	struct fpu_cpu fpu;
	struct task *curr;
	int lock_depth;            /* port lock nesting */
	uint64_t lock_flags;       /* RFLAGS at the outermost lock */
	bool in_irq;
	bool irq_hit_lock;         /* the interrupted code held the port lock */
	uint64_t interrupts, switches, syscalls, violations, warnings;
	uint64_t irq_kfpu_runs, kworker_runs, execs, exits;
	uint64_t library_faults;   /* exceptions resumed at a library fixup */
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
	bool kthread;
};

/* console.c */
void serial_init(void);
void kprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* What the compiler may call for struct copies and clears. */
void *memset(void *d, int c, unsigned long n);
void *memcpy(void *d, const void *s, unsigned long n);
void qemu_exit(unsigned code) __attribute__((noreturn));

/* cpu.c */
#define MAX_CPUS 1
extern struct percpu cpus[MAX_CPUS];
/* One CPU for now; with SMP this reads a per-CPU pointer (GS base). */
static inline struct percpu *this_cpu(void) { return &cpus[0]; }
void cpu_tables_init(struct percpu *c, uint64_t ist_top);
void user_pages_init(void);
uint64_t fpu_hw_enable(void);
void apic_timer_start(uint32_t initial_count);
void apic_eoi(void);
uint64_t read_cr2(void);

/* entry.S */
extern uint64_t kernel_stack_top;
void switch_stacks(uint64_t *prev_rsp, uint64_t next_rsp);
void task_first_return(void);
void syscall_entry(void);
void user_task(void);

/* kfpu.S */
void kernel_simd_clobber(uint64_t pattern, uint64_t avx);

/* kernel.c */
void trap(struct trap_frame *f);
void return_to_user_hook(struct trap_frame *f);

#endif
