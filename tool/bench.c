/* SPDX-License-Identifier: MIT */
/*
 * `fpuctx bench`: cycles, measured with the TSC (this machine has no cycle
 * counters for perf). Not a test: nothing here asserts a time.
 *
 * 1. The floor: bare FXSAVE/XSAVE-family and restore costs on this CPU (the
 *    instructions it has), for registers in init state and every component dirty.
 * 2. Per policy, in one run: cycles per task->idle->task round trip and per
 *    FPU ping-pong switch, counting only the time inside the library's hooks
 *    (switch, exit to user) and, separately, the whole simulated round trip.
 *    Ratios are against eager.
 */
#include "tool.h"
#include "fpuctx/insn.h"
#include <stdlib.h>
#include <string.h>

#define FLOOR_ITERS 20000
#define BATCHES 9
#define ROUNDS 20000

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static struct fpu_xstate_info floor_xs;
static struct oracle floor_orc = { .xs = &floor_xs };

enum { OP_FXSAVE, OP_FXRSTOR, OP_XSAVE, OP_XSAVEOPT, OP_XSAVEC, OP_XRSTOR_STD, OP_XRSTOR_CMP };

/* Median over batches of the mean cost of one instruction. The loop body is
 * inline asm only: no compiler-generated SIMD between the measured ops. */
static double floor_cost(int op, bool dirty, uint8_t *src, uint8_t *buf, uint8_t *cbuf,
			 uint64_t mask)
{
	const struct fpu_xstate_info *xs = &floor_xs;
	uint64_t b[BATCHES], t0;
	unsigned i, j;

	for (j = 0; j < BATCHES; j++) {
		if (dirty)
			hw_image_load(xs, src, mask);
		else
			hw_image_load(xs, src + 16384, mask); /* the init image */
		t0 = fpu_rdtsc();
		for (i = 0; i < FLOOR_ITERS; i++) {
			switch (op) {
			case OP_FXSAVE: fpu_fxsave(buf); break;
			case OP_FXRSTOR: fpu_fxrstor(buf); break;
			case OP_XSAVE: fpu_xsave(buf, mask); break;
			case OP_XSAVEOPT: fpu_xsaveopt(buf, mask); break;
			case OP_XSAVEC: fpu_xsavec(cbuf, mask); break;
			case OP_XRSTOR_STD: fpu_xrstor(buf, mask); break;
			case OP_XRSTOR_CMP: fpu_xrstor(cbuf, mask); break;
			}
		}
		b[j] = fpu_rdtsc() - t0;
	}
	qsort(b, BATCHES, sizeof(b[0]), cmp_u64);
	return (double)b[BATCHES / 2] / FLOOR_ITERS;
}

/* The restore rows need a saved image of the matching state first. */
static void floor_prepare(int op, const uint8_t *state, uint8_t *buf, uint8_t *cbuf, uint64_t mask)
{
	const struct fpu_xstate_info *xs = &floor_xs;

	hw_image_load(xs, state, mask);
	if (op == OP_FXRSTOR)
		fpu_fxsave(buf);
	else if (op == OP_XRSTOR_STD)
		fpu_xsave(buf, mask);
	else if (op == OP_XRSTOR_CMP)
		fpu_xsavec(cbuf, mask);
}

static void print_floor(uint64_t mask)
{
	static const char *const names[] = { "fxsave", "fxrstor", "xsave", "xsaveopt", "xsavec",
					     "xrstor (standard)", "xrstor (compacted)" };
	/* The instruction each row needs. */
	static const enum fpu_insn needs[] = { FPU_INSN_FXSAVE, FPU_INSN_FXSAVE, FPU_INSN_XSAVE,
					       FPU_INSN_XSAVEOPT, FPU_INSN_XSAVEC, FPU_INSN_XSAVE,
					       FPU_INSN_XSAVEC };
	uint8_t *mem = aligned_alloc(64, 4 * 16384);
	uint8_t *src = mem, *buf = mem + 2 * 16384, *cbuf = mem + 3 * 16384;
	const struct fpu_xstate_info *xs = &floor_xs;
	uint64_t missing;
	int op;

	fpu_xstate_enumerate(&floor_xs, mask, &missing);
	floor_orc.user_mask = mask;
	floor_orc.std_size = fpu_xstate_size(xs, FPU_INSN_XSAVE, mask);
	pattern_build(&floor_orc, src, 1, 1, mask);
	fpu_xstate_init_image(xs, hw_image_insn(xs), mask, src + 16384);
	memset(buf, 0, 2 * 16384);
	printf("floor: bare instructions on this CPU, TSC cycles each (median of %d x %d)\n",
	       BATCHES, FLOOR_ITERS);
	if (xs->has_xsave)
		printf("  features 0x%llx: standard %u bytes, compacted %u bytes\n",
		       (unsigned long long)mask, floor_orc.std_size, fpu_xstate_size(xs, FPU_INSN_XSAVEC, mask));
	else
		printf("  features 0x%llx: legacy area %u bytes (no XSAVE)\n", (unsigned long long)mask,
		       FPU_FXSAVE_SIZE);
	printf("  %-20s %10s %10s\n", "instruction", "all init", "all dirty");
	for (op = OP_FXSAVE; op <= OP_XRSTOR_CMP; op++) {
		double init, dirty;
		if (!fpu_insn_supported(xs, needs[op]))
			continue;
		floor_prepare(op, src + 16384, buf, cbuf, mask);
		init = floor_cost(op, false, src, buf, cbuf, mask);
		floor_prepare(op, src, buf, cbuf, mask);
		dirty = floor_cost(op, true, src, buf, cbuf, mask);
		printf("  %-20s %10.0f %10.0f\n", names[op], init, dirty);
	}
	free(mem);
}

static struct scn_op *bench_op(struct scenario *scn, uint16_t code, uint32_t arg, uint32_t arg2)
{
	struct scn_op *o = &scn->ops[scn->nops++];

	o->code = code;
	o->arg = arg;
	o->arg2 = arg2;
	return o;
}

/* The first seed's chain, ROUNDS times: a guest task sleeps, both kernels
 * idle, the timer brings it all back. */
static void bench_kvm_scenario(struct scenario *scn)
{
	struct scn_task *t;

	memset(scn, 0, sizeof(*scn));
	snprintf(scn->name, sizeof(scn->name), "kvm-idle");
	scn->ncpus = 1;
	scn->nvms = 1;
	snprintf(scn->vms[0].name, sizeof(scn->vms[0].name), "G");
	scn->vms[0].nvcpus = 1;
	t = &scn->tasks[scn->ntasks++];
	snprintf(t->name, sizeof(t->name), "qemu");
	t->kind = TASK_USER;
	t->first_op = scn->nops;
	bench_op(scn, OP_DIRTY, 0, 0);
	bench_op(scn, OP_RUN, 0, 0);
	t->nops = scn->nops - t->first_op;
	t = &scn->tasks[scn->ntasks++];
	snprintf(t->name, sizeof(t->name), "gt");
	t->kind = TASK_USER;
	t->vm = 1;
	t->first_op = scn->nops;
	bench_op(scn, OP_DIRTY, 0, 0);
	bench_op(scn, OP_REPEAT, ROUNDS, 1);
	bench_op(scn, OP_SLEEP, 1, 0);
	t->nops = scn->nops - t->first_op;
}

/* Programs for the policy comparison, built in code so the round count is exact. */
static void bench_scenario(struct scenario *scn, bool pingpong)
{
	unsigned t, ntasks = pingpong ? 2 : 1;

	memset(scn, 0, sizeof(*scn));
	snprintf(scn->name, sizeof(scn->name), pingpong ? "pingpong" : "idle-roundtrip");
	scn->ncpus = 1;
	for (t = 0; t < ntasks; t++) {
		struct scn_task *task = &scn->tasks[scn->ntasks++];
		struct scn_op *o = &scn->ops[scn->nops];

		snprintf(task->name, sizeof(task->name), "%c", 'A' + t);
		task->kind = TASK_USER;
		task->first_op = scn->nops;
		o[0].code = OP_DIRTY;
		o[1].code = OP_REPEAT;
		o[1].arg = ROUNDS;
		o[1].arg2 = pingpong ? 2 : 1;
		if (pingpong) {
			o[2].code = OP_DIRTY;
			o[3].code = OP_YIELD;
		} else {
			o[2].code = OP_SLEEP;
			o[2].arg = 1;
		}
		task->nops = pingpong ? 4 : 3;
		scn->nops += task->nops;
	}
}

struct sample { double fpu, total, saves, restores; };

static int bench_policy(const struct scenario *scn, const struct fpu_policy *pol, uint64_t want,
			struct sample *out)
{
	double fpu[5], total[5];
	unsigned r;
	uint64_t rounds = 0;

	for (r = 0; r < 5; r++) {
		struct run_config cfg = { .scn = scn, .policy = pol, .insn = FPU_INSN__COUNT,
					  .want = want, .seed = 1 };
		struct run run;
		uint64_t t0 = fpu_rdtsc(), t1;

		if (machine_run(&cfg, &run)) {
			int st = start_error(&run, scn->name);

			machine_release(&run);
			return st;
		}
		t1 = fpu_rdtsc();
		/* a round trip is two switches; a KVM chain is one guest sleep */
		rounds = scn->nvms ? ROUNDS : run.k->res.switches / 2;
		fpu[r] = (double)run.k->res.fpu_cycles / rounds;
		total[r] = (double)(t1 - t0) / rounds;
		out->saves = (double)run.k->res.total.saves / rounds;
		out->restores = (double)run.k->res.total.restores / rounds;
		if (run.k->res.nviolations) {
			fprintf(stderr, "bench: %u violations under %s\n", run.k->res.nviolations, pol->name);
			machine_release(&run);
			return EXIT_VIOLATION;
		}
		machine_release(&run);
	}
	qsort(fpu, 5, sizeof(double), cmp_double);
	qsort(total, 5, sizeof(double), cmp_double);
	out->fpu = fpu[2];
	out->total = total[2];
	return 0;
}

int cmd_bench(int argc, char **argv)
{
	static struct scenario scn;
	struct run_options o;
	const char *policy = "all", *pos[1];
	const struct fpu_policy *pols[8];
	uint64_t want;
	unsigned np, i, kind;
	int npos = 0, r;

	default_options(&o);
	if ((r = split_args(argc, argv, &o, &policy, pos, &npos, 0, 0, 0)) != 0)
		return r;
	if ((r = policy_list(policy, pols, &np)) != 0)
		return r;
	want = o.want == ~0ull ? machine_permitted_features() : o.want;
	print_floor(want);
	printf("\nper round trip (two context switches; for kvm-idle the first seed's whole chain,\n"
	       "host and guest), median of 5 runs of %d round trips\n", ROUNDS);
	printf("  fpu = TSC cycles inside the library's switch, exit-to-user, VM-entry and vCPU switch-out hooks;\n"
	       "  sim = the whole simulated round trip, machine overhead included\n");
	printf("  %-15s %-7s %6s %9s %10s %8s %10s %8s\n", "scenario", "policy", "saves",
	       "restores", "fpu cyc", "vs eager", "sim cyc", "vs eager");
	for (kind = 0; kind < 3; kind++) {
		struct sample base = { 0 }, s = { 0 };

		if (kind == 2)
			bench_kvm_scenario(&scn);
		else
			bench_scenario(&scn, kind == 1);
		for (i = 0; i < np; i++) {
			if ((r = bench_policy(&scn, pols[i], want, &s)) != 0)
				return r;
			if (i == 0)
				base = s;
			printf("  %-15s %-7s %6.2f %9.2f %10.0f %8.2f %10.0f %8.2f\n", i ? "" : scn.name,
			       pols[i]->name, s.saves, s.restores, s.fpu, s.fpu / base.fpu, s.total,
			       s.total / base.total);
		}
	}
	return 0;
}
