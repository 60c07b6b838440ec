/* SPDX-License-Identifier: MIT */
/* The fpuctx command's internals (hosted). */
#ifndef TOOL_H
#define TOOL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "../sim/machine/machine.h"

#define EXIT_OK 0
#define EXIT_VIOLATION 1
#define EXIT_BADINPUT 2

/* The subcommands, as bits: which options apply to which (options.c). */
enum { CMD_RUN = 1, CMD_STRESS = 2, CMD_REPLAY = 4, CMD_BUGS = 8, CMD_INFO = 16, CMD_BENCH = 32 };

/* One scenario run under one policy, reduced to what reports need. */
struct policy_result {
	const struct fpu_policy *policy;
	struct run run;
	uint64_t value[KEY__COUNT];   /* the expectation keys: window if any, else whole run */
	uint32_t expect_failures;
};

struct run_options {
	uint64_t seed;
	int cpus;                     /* -1: the scenario's */
	enum fpu_insn insn;
	uint64_t want;
	uint32_t bugs;
	uint32_t pretend;         /* FPU_PRETEND_* and SIM_PRETEND_* bits (--pretend) */
	bool json;
	bool quiet;
	const char *trace_file;       /* Chrome/Perfetto JSON */
	bool trace_text;
	uint64_t max_steps;
	unsigned jobs;                /* stress: parallel workers; 0: online CPUs */
	bool quick;                   /* bench: seconds, not minutes */
	const char *output_dir;       /* bench: where bench.json and bench.txt go too */
	const char *scenario_dir;     /* bench: the scenario files (NULL: "scenarios") */
};

/* report.c */
void result_fill(struct policy_result *pr);
uint32_t check_expects(const struct scenario *scn, const char *path, struct policy_result *pr,
		       unsigned policy_index, FILE *out);
void print_table_header(FILE *out);
void print_table_row(FILE *out, const struct policy_result *pr);
void print_violations(FILE *out, const struct policy_result *pr, const char *path);
void print_json_policy(FILE *out, const struct policy_result *pr, bool last);
/* The violations of pr as a JSON array (the first KMAX_VIOLATIONS). */
void print_json_violations(FILE *out, const struct policy_result *pr, const char *path);
void print_features(FILE *out, const struct fpu_system *sys);

/* trace_out.c */
int trace_write_json(const char *path, const struct run *r, const char *policy);
void trace_print_text(FILE *out, const struct run *r, const char *policy);

/* stress.c, bench.c: commands main.c dispatches to */
void stress_scenario(struct scenario *scn, uint64_t seed, uint32_t ncpus, uint64_t host_features);
int cmd_stress(int argc, char **argv, bool replay);
int cmd_bench(int argc, char **argv);

/* options.c: what every command shares (options.h has the tables) */
int policy_list(const char *spec, const struct fpu_policy **out, unsigned *n);
int split_args(int argc, char **argv, struct run_options *o, const char **policy,
	       const char **pos, int *npos, int maxpos, uint64_t *seeds, uint64_t *events);
void default_options(struct run_options *o);
/* --trace FILE with np policies: FILE alone for one; with several, a
 * {policy} placeholder or an existing directory (DIR/SCENARIO-POLICY.json).
 * trace_check refuses (exit status 2, message) before anything runs. */
int trace_check(const char *file, unsigned np);
void trace_path(char *buf, size_t len, const char *file, const char *scn, const char *policy);
/* Says why machine_run failed (a VM that cannot boot: at `where`, the
 * scenario's file or name, and its 'vm' line); returns EXIT_BADINPUT. */
int start_error(const struct run *r, const char *where);
/* Feature names of mask, comma-separated: "x87,sse,avx". */
void print_mask(FILE *out, uint64_t mask);
extern const char *tool_argv0;
extern uint64_t tool_want;    /* --features as asked (~0: all), for start_error */
extern unsigned tool_cmd;     /* the CMD_* being run */

#endif
