/* SPDX-License-Identifier: MIT */
/*
 * The machine: hosts one simulated kernel in this process and plays its CPUs
 * on the real registers, one at a time, in an order drawn from a seed.
 */
#ifndef SIM_MACHINE_H
#define SIM_MACHINE_H

#include <stdbool.h>
#include <stdint.h>
#include "../kernel/kernel.h"
#include "../kernel/vm.h"  /* the run reports on its guests too */

struct run_config {
	const struct scenario *scn;
	const struct fpu_policy *policy;
	enum fpu_insn insn;       /* FPU_INSN__COUNT: best available */
	uint64_t want;            /* features to manage; ~0ull: all */
	uint32_t bugs;
	uint32_t pretend;         /* FPU_PRETEND_* | SIM_PRETEND_*: test-only CPU behaviours */
	uint64_t seed;
	uint64_t max_steps;       /* 0: a default generous enough for scenarios */
	bool stress;              /* random interrupts and balancing; max_steps ends the run */
	uint32_t trace_cap;       /* 0: no trace */
};

struct run {
	struct kernel *k;         /* the finished kernel, for reports (owned) */
	struct ktrace_rec *trace;
	uint64_t steps;
	uint64_t end_time;        /* the machine clock at the end */
	const char *error;        /* set when the run could not start */
	uint64_t missing;         /* with error: features asked for that do not exist */
	bool out_of_steps;        /* a scenario did not finish within max_steps */
	void *arena;              /* the kernels' memory (guest kernels live in it) */
};

/* Features this process may use: XCR0 less what the host kernel withholds
 * (AMX tile data needs a permission request, made here). */
uint64_t machine_permitted_features(void);
/* The one random stream: deterministic, seeded, cheap. */
uint64_t splitmix64(uint64_t *state);
/* Routes faults at exception-table instructions to their fixups (once per process). */
void machine_install_fault_handler(void);
int machine_run(const struct run_config *cfg, struct run *out);
void machine_release(struct run *r);
/* Name of a task id in a finished run ("A", "A#2" for a second instance, "idle/1"). */
void machine_task_name(const struct run *r, uint32_t id, char *buf, size_t len);
/* "cpu 1" for the host, "G vcpu 0" for VM n's vCPU. */
void machine_cpu_name(const struct run *r, uint32_t vm, uint32_t cpu, char *buf, size_t len);

#endif
