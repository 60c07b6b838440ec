/* SPDX-License-Identifier: MIT */
/*
 * The kernel-side half of the machine. General-regs-only like all kernel
 * code: between saving a CPU's register file and loading it back, no
 * instruction here touches FPU state except the machine's own saves and loads.
 */
#include "hw.h"

void hw_stack_trampoline(void);

void *hw_stack_init(void *stack_top, void (*fn)(void *), void *arg)
{
	uint64_t *sp = (uint64_t *)((uintptr_t)stack_top & ~(uintptr_t)15);

	*--sp = 0;                               /* keeps the frame 16-byte aligned */
	*--sp = (uint64_t)(uintptr_t)hw_stack_trampoline; /* ret target */
	*--sp = 0;                               /* rbp */
	*--sp = 0;                               /* rbx */
	*--sp = (uint64_t)(uintptr_t)arg;        /* r12 */
	*--sp = (uint64_t)(uintptr_t)fn;         /* r13 */
	*--sp = 0;                               /* r14 */
	*--sp = 0;                               /* r15 */
	return sp;
}

/* Leaves the CPU: its registers go to its regfile, the machine's code gets
 * clean ones. The machine restores the regfile as the last thing before
 * coming back (hw_run_cpu), so nothing of the machine leaks into a CPU. */
void hw_yield(struct hw_machine *m)
{
	struct hw_cpu *c = &m->cpu[m->running];

	if (m->virtual) {
		/* A VM exit: the registers are the guest's, and the host's run
		 * loop decides what happens to them. */
		hw_switch_stack(&c->sp, c->exit_sp);
		return;
	}
	hw_image_save(&m->xs, c->regfile, m->regfile_mask);
	hw_image_load(&m->xs, m->clean, m->regfile_mask);
	hw_switch_stack(&c->sp, m->machine_sp);
}

void hw_halt(struct hw_machine *m)
{
	m->cpu[m->running].halted = true;
	hw_yield(m);
}

void hw_run_cpu(struct hw_machine *m, uint32_t c)
{
	m->running = c;
	m->cpu[c].halted = false;
	hw_image_load(&m->xs, m->cpu[c].regfile, m->regfile_mask);
	hw_switch_stack(&m->machine_sp, m->cpu[c].sp);
}

/* The host's page tables are our MMU: a raw mprotect system call, so the
 * kernel side stays free of libc. */
int hw_protect(void *addr, uint64_t len, int prot)
{
	long ret;

	__asm__ volatile("syscall" : "=a"(ret) : "a"(10L), "D"(addr), "S"(len), "d"((long)prot)
			 : "rcx", "r11", "memory");
	return (int)ret;
}
