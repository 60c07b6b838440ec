/* SPDX-License-Identifier: MIT */
/*
 * `fpuctx bench`: cycles, measured with the TSC between fenced reads (this
 * machine has no cycle counters for perf). Not a test: nothing here asserts
 * a time.
 *
 * 1. The floor: every save and restore instruction this CPU has (and
 *    XGETBV(1)), registers all in init and all dirty: batches of N
 *    back-to-back instructions between two clock reads; min, median, max
 *    over the batches.
 * 2. Ping-pong: the library driven directly (no simulator) through a
 *    minimal port: two dirty user contexts on one CPU, switch and exit to
 *    user in turn. Per switch, against the floor of one save and one
 *    restore with the instruction the library uses.
 * 3. Scenarios: simulated runs per policy, the library's hooks timed (the
 *    cost of the clock reads taken out) and its operations counted.
 */
#define _GNU_SOURCE
#include "tool.h"
#include "options.h"
#include "parse.h"
#include "fpuctx/insn.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>

#define MAXPOL 8
#define BUF 16384   /* bytes of each image buffer: more than any CPU's XSAVE area */

/* How long each measurement runs; --quick trades precision for seconds. */
struct bench_params {
	unsigned floor_iters, floor_batches;
	unsigned pp_iters, pp_reps;   /* ping-pong: rounds (2 switches) per repetition */
	unsigned runs;                /* simulated runs per scenario and policy */
};

static const struct bench_params full = { 20000, 9, 200, 201, 11 };
static const struct bench_params quick = { 1000, 5, 100, 21, 3 };

struct spread { double min, med, max; };

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* min, median, max of v[0..n), each divided by div (v is sorted). */
static struct spread spread_of(uint64_t *v, unsigned n, double div)
{
	qsort(v, n, sizeof(v[0]), cmp_u64);
	return (struct spread){ v[0] / div, v[n / 2] / div, v[n - 1] / div };
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static struct spread spread_of_double(double *v, unsigned n)
{
	qsort(v, n, sizeof(v[0]), cmp_double);
	return (struct spread){ v[0], v[n / 2], v[n - 1] };
}

/* ---------------------------------------------------------------------------
 * The CPU, and what a timed region costs by itself
 * ------------------------------------------------------------------------- */

struct cpu_desc {
	char brand[49];
	unsigned family, model, stepping;
	char host[65];
};

static void cpu_describe(struct cpu_desc *d)
{
	uint32_t r[4], i;
	struct utsname u;
	char *p;

	memset(d, 0, sizeof(*d));
	fpu_cpuid(0x80000000u, 0, r);
	if (r[0] >= 0x80000004u)
		for (i = 0; i < 3; i++)
			fpu_cpuid(0x80000002u + i, 0, (uint32_t *)(void *)(d->brand + 16 * i));
	for (p = d->brand; *p == ' '; p++)
		;
	memmove(d->brand, p, strlen(p) + 1);
	fpu_cpuid(1, 0, r);
	d->family = (r[0] >> 8) & 0xf;
	d->model = (r[0] >> 4) & 0xf;
	if (d->family == 0xf || d->family == 6)
		d->model |= ((r[0] >> 16) & 0xf) << 4;
	if (d->family == 0xf)
		d->family += (r[0] >> 20) & 0xff;
	d->stepping = r[0] & 0xf;
	if (!uname(&u))
		snprintf(d->host, sizeof(d->host), "%s", u.machine);
}

/* Cycles of an empty region as the simulator times its hooks (KTIMED):
 * the simulator's figures have this much taken out per timed hook. */
static double clock_cost(const struct bench_params *bp)
{
	uint64_t b[32], acc, t0;
	unsigned i, j;

	for (j = 0; j < bp->floor_batches; j++) {
		acc = 0;
		for (i = 0; i < bp->floor_iters; i++) {
			t0 = hw_clock_start();
			acc += hw_clock_end() - t0;
		}
		b[j] = acc;
	}
	return spread_of(b, bp->floor_batches, bp->floor_iters).med;
}

/* ---------------------------------------------------------------------------
 * 1. The floor
 * ------------------------------------------------------------------------- */

enum { FL_FXSAVE, FL_FXRSTOR, FL_XSAVE, FL_XSAVEOPT, FL_XSAVEC, FL_XRSTOR_STD, FL_XRSTOR_CMP,
       FL_XGETBV1, FL__COUNT };

static const char *const op_names[FL__COUNT] = { "fxsave", "fxrstor", "xsave", "xsaveopt", "xsavec",
						 "xrstor", "xrstor_compacted", "xgetbv1" };
/* The save instruction each row needs (XGETBV(1) has its own CPUID bit). */
static const enum fpu_insn op_needs[FL__COUNT] = { FPU_INSN_FXSAVE, FPU_INSN_FXSAVE, FPU_INSN_XSAVE,
						   FPU_INSN_XSAVEOPT, FPU_INSN_XSAVEC, FPU_INSN_XSAVE,
						   FPU_INSN_XSAVEC, FPU_INSN_XSAVE };

/* The images every measurement starts from: a pattern and the init state. */
struct floor_ctx {
	struct fpu_xstate_info xs;
	struct oracle orc;
	uint64_t mask;
	uint8_t *dirty, *init, *buf, *cbuf;
};

static bool op_supported(const struct floor_ctx *f, int op)
{
	if (op == FL_XGETBV1)
		return f->xs.has_xsave && f->xs.has_xgetbv1;
	return fpu_insn_supported(&f->xs, op_needs[op]);
}

/* One batch: n instructions back to back, inline asm only, so that no
 * compiler-generated SIMD runs between the measured ones. */
static uint64_t floor_batch(const struct floor_ctx *f, int op, unsigned n)
{
	uint8_t *buf = f->buf, *cbuf = f->cbuf;
	uint64_t mask = f->mask, t0, sink = 0;
	unsigned i;

	t0 = hw_clock_start();
	for (i = 0; i < n; i++) {
		switch (op) {
		case FL_FXSAVE: fpu_fxsave(buf); break;
		case FL_FXRSTOR: fpu_fxrstor(buf); break;
		case FL_XSAVE: fpu_xsave(buf, mask); break;
		case FL_XSAVEOPT: fpu_xsaveopt(buf, mask); break;
		case FL_XSAVEC: fpu_xsavec(cbuf, mask); break;
		case FL_XRSTOR_STD: fpu_xrstor(buf, mask); break;
		case FL_XRSTOR_CMP: fpu_xrstor(cbuf, mask); break;
		case FL_XGETBV1: sink += fpu_xinuse(); break;
		}
	}
	t0 = hw_clock_end() - t0;
	__asm__ volatile("" : : "r"(sink));
	return t0;
}

/* One batch of op from the registers in the given state. The restore rows
 * need a saved image of that state first. */
static uint64_t floor_sample(const struct floor_ctx *f, int op, bool dirty, unsigned n)
{
	const uint8_t *state = dirty ? f->dirty : f->init;

	hw_image_load(&f->xs, state, f->mask);
	if (op == FL_FXRSTOR)
		fpu_fxsave(f->buf);
	else if (op == FL_XRSTOR_STD)
		fpu_xsave(f->buf, f->mask);
	else if (op == FL_XRSTOR_CMP)
		fpu_xsavec(f->cbuf, f->mask);
	return floor_batch(f, op, n);
}

static void floor_setup(struct floor_ctx *f, uint8_t *mem, uint64_t mask)
{
	uint64_t missing;

	fpu_xstate_enumerate(&f->xs, mask, &missing);
	f->mask = mask;
	f->orc.xs = &f->xs;
	f->orc.user_mask = mask;
	f->orc.std_size = fpu_xstate_size(&f->xs, FPU_INSN_XSAVE, mask);
	f->dirty = mem;
	f->init = mem + BUF;
	f->buf = mem + 2 * BUF;
	f->cbuf = mem + 3 * BUF;
	memset(mem, 0, 4 * BUF);
	pattern_build(&f->orc, f->dirty, 1, 1, mask);
	fpu_xstate_init_image(&f->xs, hw_image_insn(&f->xs), mask, f->init);
}

struct floor_row { bool have; struct spread init, dirty; };

/* Batch j of every row, then batch j+1: a change of clock speed while this
 * runs (turbo, a busy neighbour) spreads over all rows alike. */
static void measure_floor(struct floor_row *rows, uint64_t mask, const struct bench_params *bp)
{
	static uint64_t b[FL__COUNT][2][32];
	uint8_t *mem = aligned_alloc(64, 4 * BUF);
	struct floor_ctx f;
	unsigned j;
	int op;

	floor_setup(&f, mem, mask);
	for (op = 0; op < FL__COUNT; op++)
		rows[op].have = op_supported(&f, op);
	for (j = 0; j < bp->floor_batches; j++)
		for (op = 0; op < FL__COUNT; op++)
			if (rows[op].have) {
				b[op][0][j] = floor_sample(&f, op, false, bp->floor_iters);
				b[op][1][j] = floor_sample(&f, op, true, bp->floor_iters);
			}
	for (op = 0; op < FL__COUNT; op++)
		if (rows[op].have) {
			rows[op].init = spread_of(b[op][0], bp->floor_batches, bp->floor_iters);
			rows[op].dirty = spread_of(b[op][1], bp->floor_batches, bp->floor_iters);
		}
	free(mem);
}

/* The pair the library uses: its save instruction, and the restore of that format. */
static void insn_ops(enum fpu_insn insn, int *save, int *restore)
{
	*save = insn == FPU_INSN_FXSAVE ? FL_FXSAVE : insn == FPU_INSN_XSAVE ? FL_XSAVE :
		insn == FPU_INSN_XSAVEOPT ? FL_XSAVEOPT : FL_XSAVEC;
	*restore = insn == FPU_INSN_FXSAVE ? FL_FXRSTOR : insn == FPU_INSN_XSAVEC ? FL_XRSTOR_CMP :
		   FL_XRSTOR_STD;
}

/* ---------------------------------------------------------------------------
 * 2. Ping-pong: the library alone, through the smallest port
 * ------------------------------------------------------------------------- */

static void pp_lock(void *port_data, int cpu)
{
	(void)cpu;
	(*(int *)port_data)++;
}

static void pp_unlock(void *port_data, int cpu)
{
	(void)cpu;
	(*(int *)port_data)--;
}

static unsigned pp_context(void *port_data, int cpu)
{
	(void)port_data;
	(void)cpu;
	return 0;
}

/* One CPU: an image is never on another CPU, so this is never called. */
static void pp_flush_remote(void *port_data, int cpu, struct fpu_state *state)
{
	(void)port_data, (void)cpu, (void)state;
	fprintf(stderr, "fpuctx: bench: a one-CPU ping-pong asked another CPU for an image\n");
	abort();
}

static const struct fpu_port_ops pp_ops = {
	.lock = pp_lock, .unlock = pp_unlock, .context = pp_context, .flush_remote = pp_flush_remote,
};

struct pingpong {
	struct fpu_system sys;
	struct fpu_cpu cpu;
	struct fpu_state init, sa, sb;
	struct fpu_ctx a, b;
	int depth;
	void *mem;
	int save_op, restore_op;      /* its instruction's floor rows */
};

struct pp_result {
	struct spread cyc;            /* per switch */
	double saves, restores;       /* per switch, counted by the library */
	struct spread save, restore;  /* the floor of the pair the library uses, dirty */
	int save_op, restore_op;
	double vs_floor, own;         /* median / (save + restore); median - (save + restore) */
	struct spread pair;           /* per switch: those saves and restores alone */
	struct spread paired;         /* per switch: a repetition less the same instructions alone */
};

/* Timed rounds: compiled without SIMD so that nothing but the library and
 * its instructions touches the registers between the clock reads. */
__attribute__((target("general-regs-only"), noinline))
static uint64_t pp_rounds(struct pingpong *p, unsigned n)
{
	uint64_t t0 = hw_clock_start();
	unsigned i;

	for (i = 0; i < n; i++) {
		fpu_switch(&p->cpu, &p->a, &p->b);
		fpu_exit_to_user(&p->cpu, &p->b);
		fpu_switch(&p->cpu, &p->b, &p->a);
		fpu_exit_to_user(&p->cpu, &p->a);
	}
	return hw_clock_end() - t0;
}

static inline void raw_save(enum fpu_insn insn, void *area, uint64_t mask)
{
	switch (insn) {
	case FPU_INSN_FXSAVE: fpu_fxsave(area); break;
	case FPU_INSN_XSAVE: fpu_xsave(area, mask); break;
	case FPU_INSN_XSAVEOPT: fpu_xsaveopt(area, mask); break;
	default: fpu_xsavec(area, mask); break;
	}
}

static inline void raw_restore(enum fpu_insn insn, const void *area, uint64_t mask)
{
	if (insn == FPU_INSN_FXSAVE)
		fpu_fxrstor(area);
	else
		fpu_xrstor(area, mask);
}

/* The instructions a round of pp_rounds executes, alone: the same saves and
 * restores, on the same buffers, in the same order. The registers end
 * holding A's image, as the library left them. */
__attribute__((target("general-regs-only"), noinline))
static uint64_t pair_rounds(struct pingpong *p, unsigned n)
{
	void *a = p->sa.area, *b = p->sb.area;
	enum fpu_insn insn = p->sys.insn;
	uint64_t m = p->sys.mask, t0 = hw_clock_start();
	unsigned i;

	for (i = 0; i < n; i++) {
		raw_save(insn, a, m);
		raw_restore(insn, b, m);
		raw_save(insn, b, m);
		raw_restore(insn, a, m);
	}
	return hw_clock_end() - t0;
}

/* Each context's first return to user loads init; its "user code" then
 * loads a pattern of its own, so both images are dirty in every component. */
static const char *pp_setup(struct pingpong *p, const struct fpu_policy *pol, uint64_t want,
			    const struct floor_ctx *f, uint8_t *img)
{
	uint32_t size;
	uint64_t missing;
	enum fpu_setup_error err;
	uint8_t *m;

	memset(p, 0, sizeof(*p));
	err = fpu_system_init(&p->sys, pol, want, FPU_INSN__COUNT, &pp_ops, &p->depth, &missing);
	if (err)
		return fpu_setup_error_str(err);
	p->cpu.sys = &p->sys;
	size = (fpu_state_size(&p->sys) + FPU_STATE_ALIGN - 1) & ~(FPU_STATE_ALIGN - 1u);
	p->mem = m = aligned_alloc(fpu_state_align(&p->sys), 3 * size);
	if (!m || !fpu_system_set_init_area(&p->sys, &p->init, m, size) ||
	    !fpu_state_setup(&p->sys, &p->sa, m + size, size, 1) ||
	    !fpu_state_setup(&p->sys, &p->sb, m + 2 * size, size, 2))
		return "a state buffer was refused";
	fpu_ctx_init(&p->sys, &p->a, &p->sa, 1, false);
	fpu_ctx_init(&p->sys, &p->b, &p->sb, 2, false);
	fpu_exit_to_user(&p->cpu, &p->a);
	pattern_build(&f->orc, img, 1, 1, p->sys.mask);
	hw_image_load(&f->xs, img, p->sys.mask);
	fpu_switch(&p->cpu, &p->a, &p->b);
	fpu_exit_to_user(&p->cpu, &p->b);
	pattern_build(&f->orc, img, 2, 1, p->sys.mask);
	hw_image_load(&f->xs, img, p->sys.mask);
	fpu_switch(&p->cpu, &p->b, &p->a); /* B saved dirty, A running again: the steady state */
	fpu_exit_to_user(&p->cpu, &p->a);
	insn_ops(p->sys.insn, &p->save_op, &p->restore_op);
	return 0;
}

/* Both buffers hold every component of the pattern (XSAVE formats: the
 * header says which; FXSAVE images are always whole). */
static bool pp_dirty(const struct pingpong *p, uint64_t pattern_bv)
{
	const struct fpu_state *s[2] = { &p->sa, &p->sb };
	unsigned i;

	if (p->sys.insn == FPU_INSN_FXSAVE)
		return true;
	for (i = 0; i < 2; i++)
		if ((hw_image_bv(&p->sys.xs, s[i]->area) & pattern_bv) != (pattern_bv & p->sys.mask))
			return false;
	return true;
}

/* Every policy's repetition r, then the floor's, then r+1: a change of
 * clock speed while this runs (turbo, a busy neighbour) hits all alike. */
struct pp_samples {
	uint64_t t[MAXPOL][256], u[MAXPOL][256]; /* library rounds; the same instructions alone */
	uint64_t save[256], restore[256];         /* the floor pair, back to back */
};

static void pp_fill(struct pp_result *out, struct pp_samples *sm, unsigned i, const struct bench_params *bp)
{
	double d[256], n = 2.0 * bp->pp_iters;
	unsigned r;

	for (r = 0; r < bp->pp_reps; r++)
		d[r] = ((double)sm->t[i][r] - (double)sm->u[i][r]) / n;
	out->paired = spread_of_double(d, bp->pp_reps);
	out->cyc = spread_of(sm->t[i], bp->pp_reps, n);
	out->pair = spread_of(sm->u[i], bp->pp_reps, n);
}

static void pp_sample(struct pingpong *p, unsigned np, struct pp_samples *sm, const struct floor_ctx *lf,
		      const uint8_t *img_a, const struct bench_params *bp)
{
	unsigned r, i;

	for (r = 0; r < bp->pp_reps; r++) {
		for (i = 0; i < np; i++) {
			/* A's user code ran: the registers hold its dirty state, whichever
			 * instance last used them. */
			hw_image_load(&lf->xs, img_a, lf->mask);
			sm->t[i][r] = pp_rounds(&p[i], bp->pp_iters);
			sm->u[i][r] = pair_rounds(&p[i], bp->pp_iters);
		}
		sm->save[r] = floor_sample(lf, p[0].save_op, true, 2 * bp->pp_iters);
		sm->restore[r] = floor_sample(lf, p[0].restore_op, true, 2 * bp->pp_iters);
	}
}

/* ---------------------------------------------------------------------------
 * 3. Scenarios
 * ------------------------------------------------------------------------- */

static const char *const bench_scenarios[] = { "seed-kvm-idle", "idle-roundtrip", "kthread-roundtrip",
					       "pingpong", "mix-2cpu", "mix-4cpu", "mix-kernel" };
#define NSCN (sizeof(bench_scenarios) / sizeof(bench_scenarios[0]))
/* The mixed workloads, whose cycles are compared across policies. */
static bool is_mixed(const char *name)
{
	return !strncmp(name, "mix-", 4);
}

struct scn_result {
	struct fpu_stats total;        /* the whole run (exact; the same every run) */
	uint64_t window[4];            /* what `fpuctx run` reports: saves, restores, bytes (window) */
	bool has_window;
	uint64_t switches, timed;
	struct spread cyc;             /* library cycles per run, the clock reads taken out */
};

/* One run: its counts into out, its cycles (the clock reads' own cost
 * out, never below zero) into *cyc. */
static int run_scenario(const struct scenario *scn, const char *path, const struct fpu_policy *pol,
			uint64_t want, double clock, struct scn_result *out, uint64_t *cyc)
{
	static struct policy_result pr;
	struct run_config cfg = { .scn = scn, .policy = pol, .insn = FPU_INSN__COUNT, .want = want, .seed = 1 };
	const struct kresult *res;
	uint64_t reads;

	{
		memset(&pr, 0, sizeof(pr));
		pr.policy = pol;
		if (machine_run(&cfg, &pr.run)) {
			int st = start_error(&pr.run, path);

			machine_release(&pr.run);
			return st;
		}
		res = &pr.run.k->res;
		if (res->nviolations || pr.run.out_of_steps) {
			fprintf(stderr, "%s: bench: %s under %s: %u violations%s\n", tool_argv0, path, pol->name,
				res->nviolations, pr.run.out_of_steps ? ", out of steps" : "");
			machine_release(&pr.run);
			return EXIT_VIOLATION;
		}
		reads = (uint64_t)(res->fpu_timed * clock);
		*cyc = res->fpu_cycles > reads ? res->fpu_cycles - reads : 0;
		result_fill(&pr);
		out->total = res->total;
		out->switches = res->switches;
		out->timed = res->fpu_timed;
		out->has_window = res->win_opened;
		out->window[0] = pr.value[KEY_SAVES];
		out->window[1] = pr.value[KEY_RESTORES];
		out->window[2] = pr.value[KEY_BYTES_SAVED];
		out->window[3] = pr.value[KEY_BYTES_RESTORED];
		machine_release(&pr.run);
	}
	return 0;
}

/* ---------------------------------------------------------------------------
 * Everything measured, and its two renderings
 * ------------------------------------------------------------------------- */

struct bench {
	struct bench_params bp;
	bool quick;
	struct cpu_desc cpu;
	uint64_t floor_mask, lib_mask;
	enum fpu_insn insn;
	uint32_t state_size;
	double clock;
	struct floor_row floor[FL__COUNT];
	const struct fpu_policy *pols[MAXPOL];
	unsigned np;
	struct pp_result pp[MAXPOL];
	struct scn_result scn[NSCN][MAXPOL];
};

/* What the library manages, as ping-pong set it up (the same under every policy). */
static void bench_library(struct bench *b, const struct fpu_system *sys)
{
	b->lib_mask = sys->mask;
	b->insn = sys->insn;
	b->state_size = sys->state_size;
}

static int policy_index(const struct bench *b, const char *name)
{
	unsigned i;

	for (i = 0; i < b->np; i++)
		if (!strcmp(b->pols[i]->name, name))
			return (int)i;
	return -1;
}

static void text_floor(FILE *out, const struct bench *b)
{
	int op;

	fprintf(out, "floor: bare instructions, TSC cycles each; batches of %u between fenced clock reads, "
		"min/median/max of %u batches\n", b->bp.floor_iters, b->bp.floor_batches);
	fprintf(out, "  features ");
	print_mask(out, b->floor_mask);
	fprintf(out, " (0x%llx); xsaves/xrstors: ring 0 only, not measured\n",
		(unsigned long long)b->floor_mask);
	fprintf(out, "  %-18s %22s %22s\n", "instruction", "all init", "all dirty");
	for (op = 0; op < FL__COUNT; op++) {
		const struct floor_row *r = &b->floor[op];

		if (!r->have) {
			fprintf(out, "  %-18s %22s %22s\n", op_names[op], "(not on this CPU)", "");
			continue;
		}
		fprintf(out, "  %-18s %6.0f [%5.0f..%5.0f] %6.0f [%5.0f..%5.0f]\n", op_names[op], r->init.med,
			r->init.min, r->init.max, r->dirty.med, r->dirty.min, r->dirty.max);
	}
}

static void text_pingpong(FILE *out, const struct bench *b)
{
	const struct pp_result *p = &b->pp[0];
	unsigned i;

	fprintf(out, "\nping-pong: the library alone (minimal port, no simulator), two dirty user contexts on "
		"one CPU;\n  fpu_switch + fpu_exit_to_user per switch, %u x %u rounds of 2 switches; "
		"cycles per switch\n", b->bp.pp_reps, b->bp.pp_iters);
	fprintf(out, "  floor (library's components, dirty): %s %.0f + %s %.0f = %.0f\n",
		op_names[p->save_op], p->save.med, op_names[p->restore_op], p->restore.med,
		p->save.med + p->restore.med);
	fprintf(out, "  own work = median - that floor; paired = each repetition less the same saves and "
		"restores\n  on the same buffers, run right after it (min/median/max); those alone: %.0f "
		"per switch\n", p->pair.med);
	fprintf(out, "  %-9s %8s %8s %8s %6s %8s %9s %9s %20s\n", "policy", "median", "min", "max", "saves",
		"restores", "vs floor", "own work", "own work, paired");
	for (i = 0; i < b->np; i++, p++)
		fprintf(out, "  %-9s %8.0f %8.0f %8.0f %6.2f %8.2f %8.2fx %9.0f %6.0f [%4.0f..%4.0f]\n",
			b->pols[i]->name, p->cyc.med, p->cyc.min, p->cyc.max, p->saves, p->restores,
			p->vs_floor, p->own, p->paired.med, p->paired.min, p->paired.max);
}

static void text_ratio(FILE *out, const struct bench *b, unsigned s, unsigned i, const char *base)
{
	int j = policy_index(b, base);

	if (j >= 0 && b->scn[s][j].cyc.med > 0)
		fprintf(out, " %8.2f", b->scn[s][i].cyc.med / b->scn[s][j].cyc.med);
	else
		fprintf(out, " %8s", "-");
}

static void text_scenarios(FILE *out, const struct bench *b)
{
	unsigned s, i;

	fprintf(out, "\nscenarios: whole simulated runs, seed 1; ops are exact; cycles = the library's hooks "
		"(switch, exit to user,\n  kernel FPU, VM run calls), less %.0f cycles of clock reads per "
		"hook; min/median/max of %u runs\n", b->clock, b->bp.runs);
	fprintf(out, "  %-17s %-8s %6s %8s %11s %11s %6s %5s %9s %9s %9s %8s %8s\n", "scenario", "policy",
		"saves", "restores", "bytes_saved", "bytes_rest", "rflush", "ipis", "cyc med", "cyc min",
		"cyc max", "/eager", "/linux");
	for (s = 0; s < NSCN; s++)
		for (i = 0; i < b->np; i++) {
			const struct scn_result *r = &b->scn[s][i];

			fprintf(out, "  %-17s %-8s %6llu %8llu %11llu %11llu %6llu %5llu %9.0f %9.0f %9.0f",
				i ? "" : bench_scenarios[s], b->pols[i]->name,
				(unsigned long long)r->total.saves, (unsigned long long)r->total.restores,
				(unsigned long long)r->total.bytes_saved,
				(unsigned long long)r->total.bytes_restored,
				(unsigned long long)r->total.remote_flushes, (unsigned long long)r->total.ipis,
				r->cyc.med, r->cyc.min, r->cyc.max);
			text_ratio(out, b, s, i, "eager");
			text_ratio(out, b, s, i, "linux");
			fputc('\n', out);
		}
}

static void print_text(FILE *out, const struct bench *b)
{
	fprintf(out, "fpuctx bench%s: %s (family %u model %u stepping %u, %s)\n", b->quick ? " --quick" : "",
		b->cpu.brand, b->cpu.family, b->cpu.model, b->cpu.stepping, b->cpu.host);
	fprintf(out, "library: %s, context buffer %u bytes (", fpu_insn_name(b->insn), b->state_size);
	print_mask(out, b->lib_mask);
	fprintf(out, "); an empty timed region costs %.0f cycles\n\n", b->clock);
	text_floor(out, b);
	text_pingpong(out, b);
	text_scenarios(out, b);
}

static void json_spread(FILE *out, const char *prefix, struct spread s)
{
	fprintf(out, "\"%smedian\": %.1f, \"%smin\": %.1f, \"%smax\": %.1f", prefix, s.med, prefix, s.min,
		prefix, s.max);
}

static void json_floor(FILE *out, const struct bench *b)
{
	const char *sep = "";
	int op;

	fprintf(out, "  \"floor\": {");
	for (op = 0; op < FL__COUNT; op++) {
		const struct floor_row *r = &b->floor[op];

		if (!r->have)
			continue;
		fprintf(out, "%s\n    \"%s\": {\"init\": %.1f, \"dirty\": %.1f, \"init_min\": %.1f, "
			"\"init_max\": %.1f, \"dirty_min\": %.1f, \"dirty_max\": %.1f}", sep, op_names[op],
			r->init.med, r->dirty.med, r->init.min, r->init.max, r->dirty.min, r->dirty.max);
		sep = ",";
	}
	fprintf(out, "\n  },\n");
}

static void json_pingpong(FILE *out, const struct bench *b)
{
	unsigned i;

	fprintf(out, "  \"pingpong\": {");
	for (i = 0; i < b->np; i++) {
		const struct pp_result *p = &b->pp[i];

		fprintf(out, "%s\n    \"%s\": {", i ? "," : "", b->pols[i]->name);
		json_spread(out, "cycles_", p->cyc);
		fprintf(out, ", \"saves_per_switch\": %.3f, \"restores_per_switch\": %.3f, "
			"\"floor\": {\"save\": \"%s\", \"restore\": \"%s\", \"save_dirty\": %.1f, "
			"\"restore_dirty\": %.1f}, \"library_work\": %.1f, \"library_work_paired\": {", p->saves,
			p->restores, op_names[p->save_op], op_names[p->restore_op], p->save.med, p->restore.med,
			p->own);
		json_spread(out, "", p->paired);
		fprintf(out, "}, \"pair\": {");
		json_spread(out, "", p->pair);
		fprintf(out, "}}");
	}
	fprintf(out, "\n  },\n  \"pingpong_vs_floor\": {");
	for (i = 0; i < b->np; i++)
		fprintf(out, "%s\"%s\": %.3f", i ? ", " : "", b->pols[i]->name, b->pp[i].vs_floor);
	fprintf(out, "},\n");
}

static void json_scenario(FILE *out, const struct scn_result *r)
{
	fprintf(out, "{\"saves\": %llu, \"restores\": %llu, \"bytes_saved\": %llu, \"bytes_restored\": %llu, "
		"\"remote_flushes\": %llu, \"ipis\": %llu, \"skipped_restores\": %llu, \"switches\": %llu, "
		"\"timed_hooks\": %llu, ", (unsigned long long)r->total.saves,
		(unsigned long long)r->total.restores, (unsigned long long)r->total.bytes_saved,
		(unsigned long long)r->total.bytes_restored, (unsigned long long)r->total.remote_flushes,
		(unsigned long long)r->total.ipis, (unsigned long long)r->total.skipped_restores,
		(unsigned long long)r->switches, (unsigned long long)r->timed);
	json_spread(out, "cycles_", r->cyc);
	if (r->has_window)
		fprintf(out, ", \"window\": {\"saves\": %llu, \"restores\": %llu, \"bytes_saved\": %llu, "
			"\"bytes_restored\": %llu}", (unsigned long long)r->window[0],
			(unsigned long long)r->window[1], (unsigned long long)r->window[2],
			(unsigned long long)r->window[3]);
	fprintf(out, "}");
}

/* cycles_median of every policy over eager's and linux's, mixed workloads only. */
static void json_ratios(FILE *out, const struct bench *b)
{
	static const char *const bases[] = { "eager", "linux" };
	const char *ssep = "";
	unsigned s, i, k;

	fprintf(out, "  \"ratios\": {");
	for (s = 0; s < NSCN; s++) {
		if (!is_mixed(bench_scenarios[s]))
			continue;
		fprintf(out, "%s\n    \"%s\": {", ssep, bench_scenarios[s]);
		ssep = ",";
		for (i = 0; i < b->np; i++) {
			const char *sep = "";

			fprintf(out, "%s\"%s\": {", i ? ", " : "", b->pols[i]->name);
			for (k = 0; k < 2; k++) {
				int j = policy_index(b, bases[k]);

				if (j < 0 || b->scn[s][j].cyc.med <= 0)
					continue;
				fprintf(out, "%s\"vs_%s\": %.3f", sep, bases[k],
					b->scn[s][i].cyc.med / b->scn[s][j].cyc.med);
				sep = ", ";
			}
			fprintf(out, "}");
		}
		fprintf(out, "}");
	}
	fprintf(out, "\n  }\n");
}

static void print_json(FILE *out, const struct bench *b)
{
	unsigned s, i;

	fprintf(out, "{\n  \"cpu\": {\"brand\": \"%s\", \"family\": %u, \"model\": %u, \"stepping\": %u, "
		"\"machine\": \"%s\", \"insn\": \"%s\", \"state_size\": %u, \"features\": \"",
		b->cpu.brand, b->cpu.family, b->cpu.model, b->cpu.stepping, b->cpu.host,
		fpu_insn_name(b->insn), b->state_size);
	print_mask(out, b->lib_mask);
	fprintf(out, "\", \"floor_features\": \"");
	print_mask(out, b->floor_mask);
	fprintf(out, "\", \"clock_cycles\": %.1f},\n", b->clock);
	fprintf(out, "  \"params\": {\"quick\": %s, \"floor_iters\": %u, \"floor_batches\": %u, "
		"\"pingpong_iters\": %u, \"pingpong_reps\": %u, \"runs\": %u},\n", b->quick ? "true" : "false",
		b->bp.floor_iters, b->bp.floor_batches, b->bp.pp_iters, b->bp.pp_reps, b->bp.runs);
	json_floor(out, b);
	json_pingpong(out, b);
	fprintf(out, "  \"scenarios\": {");
	for (s = 0; s < NSCN; s++) {
		fprintf(out, "%s\n    \"%s\": {", s ? "," : "", bench_scenarios[s]);
		for (i = 0; i < b->np; i++) {
			fprintf(out, "%s\n      \"%s\": ", i ? "," : "", b->pols[i]->name);
			json_scenario(out, &b->scn[s][i]);
		}
		fprintf(out, "\n    }");
	}
	fprintf(out, "\n  },\n");
	json_ratios(out, b);
	fprintf(out, "}\n");
}

/* ---------------------------------------------------------------------------
 * The command
 * ------------------------------------------------------------------------- */

static struct scenario scn;

/* Scenario s of dir into scn; on failure says so (bad input). */
static int load_scenario(const char *dir, unsigned s, char *path, size_t len)
{
	char err[512];

	snprintf(path, len, "%s/%s.scn", dir, bench_scenarios[s]);
	if (scn_parse_file(path, &scn, policy_names, (int)fpu_npolicies, err, sizeof(err))) {
		fprintf(stderr, "%s\n%s: bench needs the scenario files (--scenarios DIR)\n", err, tool_argv0);
		return EXIT_BADINPUT;
	}
	return 0;
}

static int measure_scenarios(struct bench *b, const char *dir, uint64_t want)
{
	static uint64_t cyc[MAXPOL][32];
	char path[1024];
	unsigned s, i, k;
	int r;

	for (s = 0; s < NSCN; s++) {
		if ((r = load_scenario(dir, s, path, sizeof(path))) != 0)
			return r;
		/* Run k of every policy, then run k+1: the ratios compare like with like. */
		for (k = 0; k < b->bp.runs; k++)
			for (i = 0; i < b->np; i++)
				if ((r = run_scenario(&scn, path, b->pols[i], want, b->clock, &b->scn[s][i],
						      &cyc[i][k])) != 0)
					return r;
		for (i = 0; i < b->np; i++)
			b->scn[s][i].cyc = spread_of(cyc[i], b->bp.runs, 1.0);
	}
	return 0;
}

/* The floor of a switch: one save and one restore, dirty, for exactly the
 * components the library keeps in a context buffer (PKRU is switched apart). */
static const char *measure_pingpong(struct bench *b, uint64_t want, const struct floor_ctx *f)
{
	static struct pingpong p[MAXPOL];
	static struct pp_samples sm;
	uint8_t *img = aligned_alloc(64, BUF), *lmem = aligned_alloc(64, 4 * BUF);
	const char *err = 0;
	uint64_t s0[MAXPOL], r0[MAXPOL], n = (uint64_t)b->bp.pp_iters * b->bp.pp_reps * 2;
	struct floor_ctx lf;
	unsigned i;

	for (i = 0; i < b->np && !err; i++) {
		err = pp_setup(&p[i], b->pols[i], want, f, img);
		s0[i] = p[i].cpu.stats.saves;
		r0[i] = p[i].cpu.stats.restores;
	}
	if (!err) {
		bench_library(b, &p[0].sys);
		floor_setup(&lf, lmem, b->lib_mask);
		pattern_build(&f->orc, img, 1, 1, b->lib_mask);
		pp_sample(p, b->np, &sm, &lf, img, &b->bp);
	}
	for (i = 0; i < b->np && !err; i++) {
		struct pp_result *out = &b->pp[i];
		double sum;

		pp_fill(out, &sm, i, &b->bp);
		out->save = spread_of(sm.save, b->bp.pp_reps, 2.0 * b->bp.pp_iters);
		out->restore = spread_of(sm.restore, b->bp.pp_reps, 2.0 * b->bp.pp_iters);
		sum = out->save.med + out->restore.med;
		out->vs_floor = out->cyc.med / sum;
		out->own = out->cyc.med - sum;
		out->save_op = p[i].save_op;
		out->restore_op = p[i].restore_op;
		out->saves = (double)(p[i].cpu.stats.saves - s0[i]) / n;
		out->restores = (double)(p[i].cpu.stats.restores - r0[i]) / n;
		if (p[i].depth)
			err = "the port's lock is unbalanced";
		else if (!pp_dirty(&p[i], hw_image_bv(&f->xs, img)))
			err = "a context's saved image is not dirty in every component";
	}
	for (i = 0; i < b->np; i++)
		free(p[i].mem);
	free(img);
	free(lmem);
	return err;
}

static int measure_all(struct bench *b, uint64_t want, const char *dir)
{
	uint8_t *mem = aligned_alloc(64, 4 * BUF);
	struct floor_ctx f;
	const char *err;

	cpu_describe(&b->cpu);
	b->clock = clock_cost(&b->bp);
	b->floor_mask = want;
	measure_floor(b->floor, want, &b->bp);
	floor_setup(&f, mem, want); /* the patterns the contexts load */
	err = measure_pingpong(b, want, &f);
	free(mem);
	if (err) {
		fprintf(stderr, "%s: bench: ping-pong: %s\n", tool_argv0, err);
		return EXIT_BADINPUT;
	}
	return measure_scenarios(b, dir, want);
}

/* --output DIR: the same figures as files. */
static int write_outputs(const struct bench *b, const char *dir)
{
	char path[1024];
	FILE *f;
	int k;

	if (mkdir(dir, 0777) && errno != EEXIST)
		return bad("--output %s: %s", dir, strerror(errno));
	for (k = 0; k < 2; k++) {
		snprintf(path, sizeof(path), "%s/bench.%s", dir, k ? "txt" : "json");
		if (!(f = fopen(path, "w")))
			return bad("--output: cannot write %s: %s", path, strerror(errno));
		if (k)
			print_text(f, b);
		else
			print_json(f, b);
		if (fclose(f))
			return bad("--output: cannot write %s: %s", path, strerror(errno));
	}
	return 0;
}

int cmd_bench(int argc, char **argv)
{
	static struct bench b;
	struct run_options o;
	const char *policy = "all", *pos[1], *dir;
	char path[1024];
	uint64_t want;
	unsigned s;
	int npos = 0, r;

	default_options(&o);
	if ((r = split_args(argc, argv, &o, &policy, pos, &npos, 0, 0, 0)) != 0)
		return r;
	if ((r = policy_list(policy, b.pols, &b.np)) != 0)
		return r;
	b.quick = o.quick;
	b.bp = o.quick ? quick : full;
	want = o.want == ~0ull ? machine_permitted_features() : o.want;
	dir = o.scenario_dir ? o.scenario_dir : "scenarios";
	init_policy_names();
	for (s = 0; s < NSCN; s++) /* bad input is said before minutes of measuring */
		if ((r = load_scenario(dir, s, path, sizeof(path))) != 0)
			return r;
	if ((r = measure_all(&b, want, dir)) != 0)
		return r;
	if (o.output_dir && (r = write_outputs(&b, o.output_dir)) != 0)
		return r;
	if (o.json)
		print_json(stdout, &b);
	else
		print_text(stdout, &b);
	return 0;
}
