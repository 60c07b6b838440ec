/* SPDX-License-Identifier: MIT */
/*
 * The simulated machine as the kernel sees it: CPUs with interrupt lines, a
 * timer, a clock, and a "defined point" where the machine may switch to
 * another CPU. Implemented half here (general-regs-only: stack switch and
 * register-file swap) and half in sim/machine/ (hosted: which CPU runs next).
 *
 * Each simulated CPU's FPU register file lives in the real registers while it
 * runs and in hw_cpu.regfile while it does not. The machine's own swaps are
 * not kernel operations and are never counted.
 */
#ifndef SIM_HW_H
#define SIM_HW_H

#include <stdbool.h>
#include <stdint.h>
#include "fpuctx/insn.h"
#include "fpuctx/xstate.h"

#define IRQ_TIMER   0x1u  /* the CPU's timer (sleep deadlines and the periodic tick) */
#define IRQ_KFPU    0x2u  /* IPI: run a kernel FPU section in the handler */
#define IRQ_RESCHED 0x4u  /* IPI: something was queued for this CPU */
#define IRQ_BALANCE 0x8u  /* IPI: move a queued task to CPU balance_to */
#define IRQ_SIGNAL  0x10u /* device: send signal signal_what to the task in slot signal_to */
#define IRQ_FLUSH   0x20u /* IPI: write back the unsaved FPU images other CPUs wait for */
#define IRQ_STEAL   0x40u /* IPI: pull the last queued task of CPU steal_from (idle balancing) */

#define HW_NO_DEADLINE UINT64_MAX
#define HW_MAX_CPUS 8   /* the kernel checks its scenario limits against it */

/* TSC reads that bracket a region exactly: LFENCE keeps the earlier
 * instructions from finishing after the read, and the later ones from
 * starting before it (no RDTSCP: older CPU models under emulation lack it). */
static inline uint64_t hw_clock_start(void)
{
	uint32_t lo, hi;
	__asm__ volatile("lfence\n\trdtsc\n\tlfence" : "=a"(lo), "=d"(hi) : : "memory");
	return lo | ((uint64_t)hi << 32);
}

static inline uint64_t hw_clock_end(void)
{
	uint32_t lo, hi;
	__asm__ volatile("lfence\n\trdtsc" : "=a"(lo), "=d"(hi) : : "memory");
	return lo | ((uint64_t)hi << 32);
}

struct hw_cpu {
	void *sp;               /* this CPU's stack pointer while the machine runs */
	uint8_t *regfile;       /* the CPU's register file while it is not running */
	uint32_t irq_pending;   /* IRQ_* lines raised and not yet taken */
	uint32_t balance_to;    /* argument of IRQ_BALANCE */
	uint32_t steal_from;    /* argument of IRQ_STEAL */
	uint32_t signal_to, signal_what; /* arguments of IRQ_SIGNAL */
	uint64_t deadline;      /* timer: raise IRQ_TIMER when now reaches it */
	bool halted;            /* waiting for an interrupt */
	/* vCPUs only */
	void *exit_sp;          /* the host's run loop, where a VM exit goes */
	uint8_t exit_io;        /* the exit is an I/O access for the VMM */
};

struct hw_machine {
	uint32_t ncpus;
	uint32_t running;       /* CPU whose code runs now (the kernel's "this CPU") */
	uint64_t now;           /* machine steps so far: the clock */
	uint64_t regfile_mask;  /* components the machine swaps: everything the process may use */
	bool virtual;           /* vCPUs: a defined point is a VM exit to the host, registers stay */
	struct fpu_xstate_info xs; /* the CPU: which instruction its own swaps use */
	const uint8_t *clean;   /* register file the machine's own code runs on */
	void *machine_sp;
	struct hw_cpu cpu[HW_MAX_CPUS];
};

/* Stack switch: saves callee-saved registers and the stack pointer in
 * *save_sp, continues on new_sp (switch.S). */
void hw_switch_stack(void **save_sp, void *new_sp);
/* Prepares a fresh stack so that switching to it calls fn(arg). Returns the sp. */
void *hw_stack_init(void *stack_top, void (*fn)(void *), void *arg);

/* A defined point: the machine may run other CPUs before this one goes on. */
void hw_yield(struct hw_machine *m);
/* Waits for an interrupt (the CPU halts until one is raised). */
void hw_halt(struct hw_machine *m);
/* Machine side: run CPU `c` until its next defined point. */
void hw_run_cpu(struct hw_machine *m, uint32_t c);
/* The MMU: page protections of user memory (PROT_* bits: 1 read, 2 write). */
#define HW_PROT_NONE  0
#define HW_PROT_READ  1
#define HW_PROT_WRITE 2
int hw_protect(void *addr, uint64_t len, int prot);
/* Copies between kernel and user memory; returns bytes not copied. */
uint64_t hw_copy_user(void *dst, const void *src, uint64_t n);

/*
 * Whole images for the machine's swaps, the user code's patterns and the
 * checkers (never counted): XSAVE/XRSTOR of `mask` in standard format, or
 * FXSAVE64/FXRSTOR64 on a CPU without XSAVE. A legacy image is the 512-byte
 * area alone: no header, and x87 and SSE are always in it.
 */
static inline enum fpu_insn hw_image_insn(const struct fpu_xstate_info *xs)
{
	return xs->has_xsave ? FPU_INSN_XSAVE : FPU_INSN_FXSAVE;
}

static inline void hw_image_save(const struct fpu_xstate_info *xs, void *area, uint64_t mask)
{
	if (hw_image_insn(xs) == FPU_INSN_FXSAVE)
		fpu_fxsave(area);
	else
		fpu_xsave(area, mask);
}

static inline void hw_image_load(const struct fpu_xstate_info *xs, const void *area, uint64_t mask)
{
	if (hw_image_insn(xs) == FPU_INSN_FXSAVE)
		fpu_fxrstor(area);
	else
		fpu_xrstor(area, mask);
}

/* XSTATE_BV of such an image. */
static inline uint64_t hw_image_bv(const struct fpu_xstate_info *xs, const void *img)
{
	const uint8_t *hdr = (const uint8_t *)img + FPU_XSAVE_HDR_OFFSET;
	uint64_t bv = 0;
	unsigned i;

	if (hw_image_insn(xs) == FPU_INSN_FXSAVE)
		return FPU_XFEATURE_MASK_FPSSE;
	for (i = 0; i < 8; i++)
		bv |= (uint64_t)hdr[i] << (8 * i);
	return bv;
}

/* Raises interrupt lines on CPU c. */
static inline void hw_raise(struct hw_machine *m, uint32_t c, uint32_t irq)
{
	m->cpu[c].irq_pending |= irq;
}

#endif
