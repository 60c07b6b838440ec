/* SPDX-License-Identifier: MIT */
/*
 * A task of the simulated kernel: its FPU context, the program it runs,
 * the state its registers must hold, and its signal frames.
 */
#ifndef SIM_KERNEL_TASK_H
#define SIM_KERNEL_TASK_H

#include <stdbool.h>
#include <stdint.h>
#include "fpuctx/sched.h"
#include "../oracle/oracle.h" /* task ids are pattern owners */
#include "scenario.h"

#define KMAX_TASKS   (SCN_MAX_TASKS + SCN_MAX_CPUS + 32) /* +idle, +forked instances */
#define KSTACK_SIZE  (32 * 1024)
#define KMAX_LOOP_DEPTH SCN_MAX_REPEAT_DEPTH

#define PAGE_SIZE      4096u
#define USTACK_PAGES   32u  /* user stack: room for a few nested AMX-sized frames */
#define ALTSTACK_PAGES 8u
#define SIG_MAX_DEPTH  4u

/* Task ids (and pattern owners) are (vm << 8) | (slot + 1): 0 is the host,
 * n the guest kernel of VM n-1. */
#define TASK_VM(id)   OWNER_VM(id)
#define TASK_SLOT(id) (((id) & 0xffu) - 1)

struct loop_frame {
	uint32_t first;   /* first op of the body (index in the program) */
	uint32_t end;     /* one past the last op of the body */
	uint32_t left;    /* iterations still to start */
};

/* Kernel-side record of a signal frame (the FP part lives on the user stack). */
struct sig_frame {
	uintptr_t fp;             /* user address of the FP area */
	uintptr_t usp;            /* user stack pointer to return to */
	const struct scn_op *prog;/* the interrupted program position */
	uint32_t nops, pc, loop_depth, spin_left;
	struct loop_frame loops[SCN_MAX_REPEAT_DEPTH];
	uint8_t sig;
	bool fx_only_edit;        /* magic or sizes corrupted: legacy-only restore */
	bool header_bad;          /* XCOMP_BV, reserved bytes or XSTATE_BV corrupted */
	bool mxcsr_bad;           /* reserved MXCSR bits set */
};

enum task_kind { KT_USER, KT_KTHREAD, KT_IDLE };
enum task_state { TS_UNUSED, TS_RUNNABLE, TS_RUNNING, TS_SLEEPING, TS_WAITING, TS_DEAD };

struct kernel;
struct kcpu;
struct task;

/* A task's switch-out hook, like KVM's preempt notifiers: whoever registers
 * it embeds it and is told, on the way out, that the task leaves its CPU. */
struct sched_notifier {
	void (*sched_out)(struct sched_notifier *n, struct kernel *k, struct kcpu *c,
			  struct task *prev);
};

struct task {
	struct kernel *k;
	uint32_t id;            /* 1.. ; also the pattern owner */
	uint8_t kind;           /* enum task_kind */
	uint8_t state;          /* enum task_state */
	uint8_t queued;         /* on a run queue */
	uint8_t wake_pending;   /* a wake arrived while not waiting */
	int32_t cpu;            /* CPU it runs or is queued on */
	uint32_t scn_task;      /* index of its scn_task, for names */
	void *ksp;
	uint8_t *kstack;
	struct fpu_ctx fpu;
	struct fpu_state fpstate;
	const struct scn_op *prog;
	uint32_t nops, pc;
	uint32_t loop_depth;
	struct loop_frame loops[KMAX_LOOP_DEPTH];
	uint32_t exp_owner;     /* whose pattern the registers must hold in user mode */
	uint32_t exp_gen;
	uint32_t next_gen;
	uint32_t spin_left;     /* user-mode spin steps still to run */
	uint64_t wake_at;
	struct task *rq_next;
	uint8_t *user_buf;      /* "user memory": the pattern and check buffers of its user code */
	/* signals */
	uintptr_t ustack_lo, ustack_hi, alt_lo, alt_hi, usp;
	bool altstack_on;
	bool in_segv;           /* delivering SIGSEGV: a second one kills */
	uint32_t sig_pending;   /* 1 << enum scn_signal */
	uint32_t sig_depth;
	struct sig_frame frames[SIG_MAX_DEPTH];
	uint8_t *exp_image;     /* expected state when exp_owner == OWNER_IMAGE */
	uint8_t *frame_buf;     /* scratch: a copy of a frame */
	struct sched_notifier *notifier; /* optional: told when the task is switched out */
};

#endif
