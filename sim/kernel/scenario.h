/* SPDX-License-Identifier: MIT */
/*
 * The compiled form of a scenario: what the simulated kernel runs.
 *
 * The tool parses text into this (tool/parse.c) or generates it at random
 * (tool/stress.c); the kernel only reads it. Freestanding: no libc types.
 */
#ifndef SIM_SCENARIO_H
#define SIM_SCENARIO_H

#include <stdint.h>

#define SCN_MAX_CPUS     8
#define SCN_MAX_TASKS    64
#define SCN_MAX_OPS      8192
#define SCN_MAX_EXPECTS  64
#define SCN_MAX_HANDLERS 64
#define SCN_MAX_VMS      2
#define SCN_MAX_VCPUS    4
#define SCN_NAME_LEN     32
#define SCN_MAX_REPEAT_DEPTH 8        /* nested repeat blocks the kernel tracks */
#define SCN_MAX_COUNT    1000000u     /* bound of compute/spin/sleep/repeat/tick */

/* One program step. Which ops a kind of task may use is checked by the parser. */
enum op_code {
	OP_DIRTY,        /* user: load a pattern unique to (task, generation) into every component */
	OP_CHECK,        /* user: compare every component with the task's expected state */
	OP_COMPUTE,      /* user: arg iterations of real SIMD arithmetic (state not checked after) */
	OP_SPIN,         /* user or kernel: arg steps of CPU work, each a preemption point */
	OP_SLEEP,        /* block for arg time units (machine steps) */
	OP_YIELD,        /* give up the CPU */
	OP_KFPU,         /* kernel FPU section (a syscall that does one when run by a user task) */
	OP_IPI_KFPU,     /* interrupt CPU arg; its handler runs a kernel FPU section */
	OP_MIGRATE,      /* move self to CPU arg */
	OP_FORK,         /* start task arg (declared with 'fork') as a child with a copy of our state
	                  * (after arg2 steps asleep in the kernel, when arg2 is not 0) */
	OP_EXEC,         /* user: replace the program image (after arg steps asleep reading it); FPU state becomes init;
	                  * arg2 != 0: run it on CPU arg2 - 1, then move back */
	OP_EXIT,         /* end the task (also implied at the end of every program) */
	OP_WAKE,         /* wake task arg if it waits */
	OP_WAIT,         /* block until woken by OP_WAKE */
	OP_WINDOW_BEGIN, /* open the counting window (counters are snapshot) */
	OP_WINDOW_END,   /* close it: expectations compare the difference */
	OP_REPEAT,       /* run the next arg2 ops arg times */
	/* signals (issue 3) */
	OP_SIGNAL,       /* send signal arg2 (enum scn_signal) to task arg */
	OP_ALTSTACK,     /* user: arg 1 = deliver on the alternate stack from now on, 0 = not */
	OP_STACK,        /* user: arg = enum scn_stack_mode: the task's stack pages, or its stack pointer */
	OP_FRAME,        /* handler only: arg = enum scn_frame_edit, arg2 = its operand */
	/* virtual machines (issue 4) */
	OP_RUN,          /* host user: run call on vCPU arg2 of VM arg until an exit for the VMM */
	OP_IO,           /* guest: an I/O access the VMM emulates (the run call returns) */
	OP_VGET,         /* host user: get the guest state of vCPU arg2 of VM arg (waits for its run call) */
	OP_VSET,         /* host user: set it back from what the last get returned */
	OP_IPI_BALANCE,  /* interrupt CPU arg; its handler moves its last queued task to CPU arg2 */
	OP_IPI_STEAL,    /* interrupt CPU arg; its handler pulls the last queued task of CPU arg2 */
	OP_VSET_EDIT,    /* host user: OP_VSET with new XMM registers for the guest task on the vCPU */
	OP__COUNT
};

struct scn_op {
	uint16_t code;   /* enum op_code */
	uint16_t col;    /* source position, for run-time reports */
	uint32_t line;
	uint32_t arg;
	uint32_t arg2;
};

enum scn_task_kind { TASK_USER, TASK_KTHREAD };

enum scn_signal { SIG_USR1, SIG_USR2, SIG_SEGV, SIG__COUNT };

/* What `stack MODE` does to the pages of a task's stacks (or, for
 * STACK_STRADDLE, to where its next signal frame goes). */
enum scn_stack_mode {
	STACK_EVICT,     /* not resident: the next access faults, a fault-in brings it back */
	STACK_READONLY,  /* present but not writable: frames cannot be written */
	STACK_UNMAP,     /* gone: every access fails */
	STACK_RESTORE,   /* present and writable again */
	STACK_STRADDLE,  /* the stack pointer moves down: the next frame's XSAVE header starts a page */
};

/* Edits a handler makes to its own frame's FP area before returning. */
enum scn_frame_edit {
	FRAME_MXCSR,           /* arg2 = new MXCSR value (reserved bits make sigreturn fail) */
	FRAME_DIRTY,           /* arg2 = xfeature: that component gets a fresh pattern */
	FRAME_CLEAR,           /* arg2 = xfeature: its XSTATE_BV bit cleared (comes back init) */
	FRAME_PKRU,            /* arg2 = new PKRU value */
	FRAME_CORRUPT_MAGIC1,  /* these four: the frame is read as legacy-only (not an error) */
	FRAME_CORRUPT_MAGIC2,
	FRAME_CORRUPT_XSTATE_SIZE,
	FRAME_CORRUPT_EXTENDED_SIZE,
	FRAME_CORRUPT_XCOMP_BV, /* these three: sigreturn fails, SIGSEGV */
	FRAME_CORRUPT_RESERVED,
	FRAME_CORRUPT_XSTATE_BV,
	FRAME_EVICT,           /* the frame's pages are not resident: sigreturn must fault them in */
	FRAME_UNMAP,           /* the frame's pages are gone: sigreturn fails, SIGSEGV */
	FRAME_MISALIGN,        /* arg2 = 1..63: the frame moved to that offset from a 64-byte boundary */
	FRAME__COUNT
};

/* A signal handler: runs as the task, on a signal frame, then sigreturns. */
struct scn_handler {
	uint32_t task;        /* index of the task it belongs to */
	uint8_t signo;        /* enum scn_signal */
	uint32_t first_op;
	uint32_t nops;
	uint32_t line;
};

/* A virtual machine: a guest kernel on its own vCPUs. */
struct scn_vm {
	char name[SCN_NAME_LEN];
	uint32_t nvcpus;      /* 1..SCN_MAX_VCPUS */
	uint32_t tick;        /* the guest's periodic timer; 0 = none */
	uint64_t features;    /* the guest's XCR0; 0 = everything the host manages */
	uint32_t line;
};

struct scn_task {
	char name[SCN_NAME_LEN];
	uint8_t kind;         /* enum scn_task_kind */
	uint8_t vm;           /* 0: a host task; n: a task of the guest kernel of VM n-1 */
	uint8_t forked;       /* 1: not started at boot; started by OP_FORK */
	int16_t cpu;          /* CPU it starts on */
	uint32_t first_op;    /* index into scenario.ops */
	uint32_t nops;
	uint32_t line;
};

/* Keys an expectation can test; same order as the names in tool/report.c. */
enum scn_key {
	KEY_SAVES, KEY_RESTORES, KEY_SKIPPED_RESTORES,
	KEY_BYTES_SAVED, KEY_BYTES_RESTORED,            /* by what is in use (fpu_stats) */
	KEY_BYTES_SAVED_FULL, KEY_BYTES_RESTORED_FULL,  /* the whole buffer per operation */
	KEY_VIOLATIONS, KEY_SWITCHES, KEY_KFPU_SECTIONS,
	KEY_SIGNALS,          /* signal frames set up (handlers entered) */
	KEY_SIGRETURNS,       /* sigreturns that succeeded */
	KEY_SIGSEGV,          /* SIGSEGVs the kernel forced (bad frame, frame not writable) */
	KEY_KILLED,           /* tasks killed by a signal */
	KEY_HOST_SAVES, KEY_HOST_RESTORES,    /* saves/restores above are host + guests */
	KEY_GUEST_SAVES, KEY_GUEST_RESTORES,  /* done by guest kernels */
	KEY_EXITS,            /* VM exits */
	KEY_REMOTE_FLUSHES,   /* unsaved images written back for another CPU (deferred) */
	KEY_IPIS,             /* flush requests sent by IPI (deferred) */
	KEY__COUNT
};

enum scn_cmp { CMP_EQ, CMP_LE, CMP_GE, CMP_LT, CMP_GT };

#define SCN_POLICY_ALL 0xff

struct scn_expect {
	uint8_t policy;       /* index in the policy table, or SCN_POLICY_ALL */
	uint8_t key;          /* enum scn_key */
	uint8_t cmp;          /* enum scn_cmp */
	uint32_t line;
	uint64_t value;
};

struct scenario {
	char name[64];
	uint32_t ncpus;           /* 1..SCN_MAX_CPUS */
	uint32_t tick;            /* periodic timer interval in machine steps; 0 = none */
	uint8_t check_on_return;  /* check every task's state at every return to user */
	uint32_t ntasks;
	struct scn_task tasks[SCN_MAX_TASKS];
	uint32_t nops;
	struct scn_op ops[SCN_MAX_OPS];
	uint32_t nexpects;
	struct scn_expect expects[SCN_MAX_EXPECTS];
	uint32_t nhandlers;
	struct scn_handler handlers[SCN_MAX_HANDLERS];
	uint32_t nvms;
	struct scn_vm vms[SCN_MAX_VMS];
};

#endif
