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
	OP_FORK,         /* start task arg (declared with 'fork') as a child with a copy of our state */
	OP_EXEC,         /* user: replace the program image; FPU state becomes init */
	OP_EXIT,         /* end the task (also implied at the end of every program) */
	OP_WAKE,         /* wake task arg if it waits */
	OP_WAIT,         /* block until woken by OP_WAKE */
	OP_WINDOW_BEGIN, /* open the counting window (counters are snapshot) */
	OP_WINDOW_END,   /* close it: expectations compare the difference */
	OP_REPEAT,       /* run the next arg2 ops arg times */
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

struct scn_task {
	char name[SCN_NAME_LEN];
	uint8_t kind;         /* enum scn_task_kind */
	uint8_t forked;       /* 1: not started at boot; started by OP_FORK */
	int16_t cpu;          /* CPU it starts on */
	uint32_t first_op;    /* index into scenario.ops */
	uint32_t nops;
	uint32_t line;
};

/* Keys an expectation can test; same order as the names in tool/report.c. */
enum scn_key {
	KEY_SAVES, KEY_RESTORES, KEY_SKIPPED_RESTORES, KEY_BYTES_SAVED,
	KEY_BYTES_RESTORED, KEY_VIOLATIONS, KEY_SWITCHES, KEY_KFPU_SECTIONS,
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
};

#endif
