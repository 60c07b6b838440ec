/* SPDX-License-Identifier: MIT */
/*
 * Random stress: programs, CPUs, interrupts and balancing all drawn from a
 * seed. The scenario comes from the seed too, so `fpuctx replay --seed S`
 * with the same --events/--cpus/--policy/--inject-bug rebuilds the same run.
 */
#define _GNU_SOURCE
#include "tool.h"
#include "parse.h"
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define STRESS_REPEAT SCN_MAX_COUNT

struct gen {
	struct scenario *scn;
	uint64_t s;
	/* The kernel the task being generated runs in: its tasks are
	 * [first, first + count), its user tasks the first nuser of them. */
	uint32_t first, count, nuser, ncpus;
	uint8_t vm;
};

static uint64_t rnd(struct gen *g)
{
	return splitmix64(&g->s);
}

static uint32_t below(struct gen *g, uint32_t n) { return (uint32_t)(rnd(g) % n); }

static void op(struct gen *g, uint16_t code, uint32_t arg)
{
	struct scn_op *o = &g->scn->ops[g->scn->nops++];
	o->code = code;
	o->arg = arg;
	o->line = g->scn->nops;
}

static void add_task(struct gen *g, const char *name, uint8_t kind, bool forked)
{
	struct scn_task *t = &g->scn->tasks[g->scn->ntasks++];

	snprintf(t->name, sizeof(t->name), "%s", name);
	t->kind = kind;
	t->forked = forked;
	t->vm = g->vm;
	t->cpu = (int16_t)below(g, g->ncpus);
	t->first_op = g->scn->nops;
}

static void end_task(struct gen *g)
{
	struct scn_task *t = &g->scn->tasks[g->scn->ntasks - 1];
	t->nops = g->scn->nops - t->first_op;
}

static void frame_op(struct gen *g, uint32_t edit, uint32_t arg)
{
	op(g, OP_FRAME, edit);
	g->scn->ops[g->scn->nops - 1].arg2 = arg;
}

/* A handler's frame edit: mostly valid ones, sometimes legacy-only frames,
 * rarely a frame sigreturn must reject (the task then gets SIGSEGV). */
static void random_frame_edit(struct gen *g)
{
	static const uint32_t comps[] = { FPU_XFEATURE_X87, FPU_XFEATURE_SSE, FPU_XFEATURE_AVX, FPU_XFEATURE_OPMASK,
					  FPU_XFEATURE_ZMM_HI256, FPU_XFEATURE_HI16_ZMM, FPU_XFEATURE_XTILEDATA };
	uint32_t r = below(g, 40);

	if (r < 14)
		frame_op(g, FRAME_DIRTY, comps[below(g, 7)]);
	else if (r < 22)
		frame_op(g, FRAME_CLEAR, comps[below(g, 7)]);
	else if (r < 27)
		frame_op(g, FRAME_MXCSR, 0x1f80 | below(g, 64) | below(g, 4) << 13);
	else if (r < 31)
		frame_op(g, FRAME_EVICT, 0);
	else if (r < 34)
		frame_op(g, FRAME_CORRUPT_MAGIC1 + below(g, 4), 0);
	else if (r < 36)
		frame_op(g, FRAME_CORRUPT_XCOMP_BV + below(g, 3), 0);
	else if (r < 37)
		frame_op(g, FRAME_MXCSR, 0x1f80 | 1u << 20);
	else
		frame_op(g, FRAME_DIRTY, comps[below(g, 7)]);
}

/* One random op. fork_task: index of the fork template, or -1. */
static void random_op(struct gen *g, bool user, int fork_task)
{
	uint32_t ncpus = g->ncpus;

	for (;;) {
		switch (below(g, g->vm ? 22 : 20)) {
		case 0: case 1: case 2: if (user) { op(g, OP_DIRTY, 0); return; } break;
		case 3: case 4: if (user) { op(g, OP_CHECK, 0); return; } break;
		case 5: case 6: op(g, OP_SPIN, 1 + below(g, 8)); return;
		case 7: op(g, OP_SLEEP, 1 + below(g, 20)); return;
		case 8: op(g, OP_YIELD, 0); return;
		case 9: op(g, OP_KFPU, 0); return;
		case 10: op(g, OP_IPI_KFPU, below(g, ncpus)); return;
		case 11: op(g, OP_MIGRATE, below(g, ncpus)); return;
		case 12:
			if (!user || fork_task < 0)
				break;
			op(g, OP_FORK, (uint32_t)fork_task);
			/* half of them block first: the parent forks while NEED_LOAD */
			g->scn->ops[g->scn->nops - 1].arg2 = below(g, 2) ? 0 : 1 + below(g, 10);
			return;
		case 13:
			if (!user || below(g, 4) != 0)
				break;
			op(g, OP_EXEC, below(g, 2) ? 0 : 1 + below(g, 10));
			/* a third run on another CPU and come back (exec balancing) */
			if (below(g, 3) == 0)
				g->scn->ops[g->scn->nops - 1].arg2 = 1 + below(g, ncpus);
			return;
		case 14: op(g, OP_WAKE, g->first + below(g, g->count)); return;
		case 15: if (user) { op(g, OP_COMPUTE, 1 + below(g, 50)); return; } break;
		case 16: case 17:
			op(g, OP_SIGNAL, g->first + below(g, g->nuser));
			g->scn->ops[g->scn->nops - 1].arg2 = below(g, 2); /* usr1 or usr2 */
			return;
		case 18: if (user) { op(g, OP_STACK, below(g, 3) ? STACK_RESTORE : STACK_EVICT); return; } break;
		case 19: if (user) { op(g, OP_ALTSTACK, below(g, 2)); return; } break;
		case 20: case 21: op(g, OP_IO, 0); return; /* guests only: back to the VMM */
		}
	}
}

/* usr1 edits its frame and may nest usr2; usr2 edits; segv only checks.
 * With evict, usr1's frame is paged out last: its sigreturn sleeps in the
 * fault-in while other tasks use the registers. */
static void add_handlers(struct gen *g, uint32_t task, bool evict)
{
	struct scenario *scn = g->scn;
	uint32_t j, n;
	unsigned sig;

	for (sig = 0; sig < SIG__COUNT; sig++) {
		struct scn_handler *h = &scn->handlers[scn->nhandlers++];

		h->task = task;
		h->signo = (uint8_t)sig;
		h->first_op = scn->nops;
		op(g, OP_CHECK, 0);
		op(g, OP_DIRTY, 0);
		n = sig == SIG_SEGV ? 0 : 1 + below(g, 4);
		for (j = 0; j < n; j++) {
			if (below(g, 3))
				random_frame_edit(g);
			else if (sig == SIG_USR1 && below(g, 2))
				op(g, OP_SIGNAL, task), scn->ops[scn->nops - 1].arg2 = SIG_USR2;
			else
				op(g, OP_SPIN, 1 + below(g, 4));
		}
		if (evict && sig == SIG_USR1)
			frame_op(g, FRAME_EVICT, 0);
		op(g, OP_CHECK, 0);
		h->nops = scn->nops - h->first_op;
	}
}

/* nuser user tasks then nk kernel threads of the kernel g describes. */
static void add_tasks(struct gen *g, uint32_t nuser, uint32_t nk, int fork_task)
{
	struct scenario *scn = g->scn;
	uint32_t i, j, n;
	char name[16];

	g->first = scn->ntasks;
	g->count = nuser + nk;
	g->nuser = nuser;
	for (i = 0; i < nuser + nk; i++) {
		bool user = i < nuser;

		if (g->vm)
			snprintf(name, sizeof(name), "G%u%s%u", g->vm, user ? "u" : "k", i);
		else
			snprintf(name, sizeof(name), "%s%u", user ? "U" : "K", i);
		add_task(g, name, user ? TASK_USER : TASK_KTHREAD, false);
		if (user)
			op(g, OP_DIRTY, 0);
		n = 4 + below(g, 16);
		op(g, OP_REPEAT, STRESS_REPEAT);
		scn->ops[scn->nops - 1].arg2 = n;
		for (j = 0; j < n; j++)
			random_op(g, user, fork_task);
		end_task(g);
	}
}

/* A VM: one VMM thread per vCPU (run, check its own state, sometimes get
 * and set a vCPU's state like a migration would), and a guest kernel. */
static void add_vm(struct gen *g, uint32_t index, uint32_t host_cpus, uint64_t host_features)
{
	static const uint64_t feature_sets[] = {
		0, 0, FPU_XFEATURE_MASK_FPSSE | FPU_XFEATURE_MASK(FPU_XFEATURE_AVX),
		FPU_XFEATURE_MASK_FPSSE | FPU_XFEATURE_MASK(FPU_XFEATURE_AVX) | FPU_XFEATURE_MASK(FPU_XFEATURE_OPMASK) |
			FPU_XFEATURE_MASK(FPU_XFEATURE_ZMM_HI256) | FPU_XFEATURE_MASK(FPU_XFEATURE_HI16_ZMM),
	};
	struct scenario *scn = g->scn;
	struct scn_vm *vm = &scn->vms[index];
	uint32_t c, i, first;
	char name[16];

	snprintf(vm->name, sizeof(vm->name), "G%u", index + 1);
	vm->nvcpus = 1 + below(g, 2);
	vm->tick = below(g, 2) ? 0 : 20 + below(g, 100);
	vm->features = feature_sets[below(g, 4)] & host_features;
	scn->nvms++;
	g->vm = 0;
	g->ncpus = host_cpus;
	first = scn->ntasks;
	for (c = 0; c < vm->nvcpus; c++) {
		snprintf(name, sizeof(name), "vmm%u.%u", index + 1, c);
		add_task(g, name, TASK_USER, false);
		op(g, OP_DIRTY, 0);
		op(g, OP_REPEAT, STRESS_REPEAT);
		scn->ops[scn->nops - 1].arg2 = 4;
		op(g, OP_RUN, index), scn->ops[scn->nops - 1].arg2 = c;
		op(g, OP_CHECK, 0);
		op(g, below(g, 3) ? OP_SPIN : OP_VGET, 1);
		scn->ops[scn->nops - 1].arg = scn->ops[scn->nops - 1].code == OP_VGET ? index : 1;
		scn->ops[scn->nops - 1].arg2 = (c + 1) % vm->nvcpus;
		if (scn->ops[scn->nops - 1].code == OP_VGET)
			op(g, OP_VSET, index), scn->ops[scn->nops - 1].arg2 = (c + 1) % vm->nvcpus;
		else
			op(g, OP_DIRTY, 0);
		end_task(g);
	}
	for (i = first; i < scn->ntasks; i++)
		add_handlers(g, i, false);
	g->vm = (uint8_t)(index + 1);
	g->ncpus = vm->nvcpus;
	add_tasks(g, 1 + below(g, 3), below(g, 2), -1);
	for (i = 0; i < g->nuser; i++)
		add_handlers(g, g->first + i, false);
}

void stress_scenario(struct scenario *scn, uint64_t seed, uint32_t ncpus, uint64_t host_features)
{
	struct gen g = { .scn = scn, .s = seed ^ 0x5eedull };
	uint32_t nuser = 2 + below(&g, 4), nk = below(&g, 3), nvms = below(&g, 3), i;
	int fork_task = SCN_MAX_TASKS - 1; /* the template, always the last task */

	memset(scn, 0, sizeof(*scn));
	snprintf(scn->name, sizeof(scn->name), "stress-%llu", (unsigned long long)seed);
	scn->ncpus = ncpus;
	scn->tick = 10 + below(&g, 200);
	scn->check_on_return = 1;
	g.ncpus = ncpus;
	add_tasks(&g, nuser, nk, fork_task);
	for (i = 0; i < nuser; i++)
		add_handlers(&g, i, false);
	for (i = 0; i < nvms && i < SCN_MAX_VMS; i++)
		add_vm(&g, i, ncpus, host_features);
	/* The fork template: short-lived children, so slots get recycled.
	 * Each ends with a signal whose sigreturn sleeps (the frame is paged
	 * out) and then exits: the registers another task's image was loaded
	 * into meanwhile are what it leaves behind on that CPU. */
	g.vm = 0;
	g.ncpus = ncpus;
	g.first = 0;
	g.count = nuser + nk;
	g.nuser = nuser;
	fork_task = (int)scn->ntasks;
	add_task(&g, "child", TASK_USER, true);
	for (i = 0; i < 1 + below(&g, 6); i++)
		random_op(&g, true, -1);
	op(&g, OP_EXEC, 1 + below(&g, 3)); /* a short read: often nobody else ran meanwhile */
	op(&g, OP_SIGNAL, (uint32_t)fork_task);
	scn->ops[scn->nops - 1].arg2 = SIG_USR1;
	op(&g, OP_CHECK, 0);
	end_task(&g);
	add_handlers(&g, (uint32_t)fork_task, true);
	/* Host ops that named the template before it had its index. */
	for (i = 0; i < scn->nops; i++)
		if (scn->ops[i].code == OP_FORK)
			scn->ops[i].arg = (uint32_t)fork_task;
}

struct stress_totals {
	uint64_t steps, switches, saves, restores, skipped, kfpu, refused, checks, irqs, violations;
	uint64_t bytes_saved, bytes_restored, bytes_saved_full, bytes_restored_full;
	uint64_t signals, sigreturns, sigsegv, killed;
	uint64_t exits, run_calls, vm_gets;
	uint64_t remote_flushes, ipis;
	uint32_t failed_seeds;
};

static void add_totals(struct stress_totals *t, const struct run *r)
{
	const struct kresult *k = &r->k->res;

	t->steps += r->steps;
	t->switches += k->switches;
	t->saves += k->total.saves;
	t->restores += k->total.restores;
	t->skipped += k->total.skipped_restores;
	t->bytes_saved += k->total.bytes_saved;
	t->bytes_restored += k->total.bytes_restored;
	t->bytes_saved_full += k->total.bytes_saved_full;
	t->bytes_restored_full += k->total.bytes_restored_full;
	t->kfpu += k->total.kfpu_sections;
	t->refused += k->total.kfpu_refused;
	t->checks += k->checks;
	t->irqs += k->irqs;
	t->violations += k->nviolations;
	t->signals += k->signals;
	t->sigreturns += k->sigreturns;
	t->sigsegv += k->sigsegv;
	t->killed += k->killed;
	t->exits += k->exits;
	t->run_calls += k->run_calls;
	t->vm_gets += k->vm_gets;
	t->remote_flushes += k->total.remote_flushes;
	t->ipis += k->total.ipis;
}

/* The replay command of a failing seed; as a text line, or bare for JSON. */
static void print_replay(FILE *out, uint64_t seed, uint64_t events, uint32_t cpus,
			 const char *policy, uint32_t bugs, uint32_t pretend, bool line)
{
	unsigned i;

	fprintf(out, "%sfpuctx replay --seed %llu --events %llu --cpus %u --policy %s", line ? "  replay: " : "",
		(unsigned long long)seed, (unsigned long long)events, cpus, policy);
	if (pretend & FPU_PRETEND_FXSAVE_LEAK)
		fprintf(out, " --pretend fxsave-leak");
	if (pretend & SIM_PRETEND_X87_KEPT)
		fprintf(out, " --pretend x87-kept");
	for (i = 0; i < fpu_nbugs; i++)
		if (bugs & fpu_bugs[i].bit)
			fprintf(out, " --inject-bug %s", fpu_bugs[i].name);
	if (line)
		fputc('\n', out);
}

/* What every seed shares. */
struct stress_ctx {
	struct run_options o;
	const struct fpu_policy *pols[8];
	unsigned np;
	uint64_t events, host;
	bool replay;
};

/* One seed's outcome. Workers send it, then its text and JSON, through a
 * pipe; the parent prints seeds in order, so -j N prints what -j 1 does. */
struct seed_out {
	uint64_t seed;
	int status;                   /* EXIT_BADINPUT: stop, the worker said why */
	struct stress_totals tot[8];
	uint64_t textlen, jsonlen;
};

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
	(void)sig;
	interrupted = 1;
}

/* Runs seed s under every policy: totals into so, reports into text and json. */
static void seed_run(const struct stress_ctx *c, uint64_t s, struct seed_out *so, FILE *text, FILE *json)
{
	static struct scenario scn;
	const struct run_options *o = &c->o;
	unsigned i;

	memset(so, 0, sizeof(*so));
	so->seed = s;
	stress_scenario(&scn, s, (uint32_t)o->cpus, c->host);
	for (i = 0; i < c->np && !interrupted; i++) {
		struct policy_result pr = { .policy = c->pols[i] };
		struct run_config cfg = {
			.scn = &scn, .policy = c->pols[i], .insn = o->insn, .want = o->want,
			.bugs = o->bugs, .pretend = o->pretend, .seed = s, .max_steps = c->events, .stress = true,
			.trace_cap = (c->replay && (o->trace_file || o->trace_text)) ? 1u << 20 : 0,
		};

		if (machine_run(&cfg, &pr.run)) {
			so->status = start_error(&pr.run, scn.name);
			machine_release(&pr.run);
			return;
		}
		add_totals(&so->tot[i], &pr.run);
		result_fill(&pr);
		if (pr.run.k->res.nviolations) {
			so->status = EXIT_VIOLATION;
			so->tot[i].failed_seeds++;
			if (o->json) {
				fprintf(json, "%s    {\"seed\": %llu, \"policy\": \"%s\", \"violations\": %u, "
					"\"hash\": \"%016llx\",\n      \"replay\": \"", ftell(json) ? ",\n" : "",
					(unsigned long long)s, c->pols[i]->name, pr.run.k->res.nviolations,
					(unsigned long long)pr.run.k->res.hash);
				print_replay(json, s, c->events, (uint32_t)o->cpus, c->pols[i]->name, o->bugs,
					     o->pretend, false);
				fprintf(json, "\",\n      \"records\": ");
				print_json_violations(json, &pr, scn.name);
				fprintf(json, "}");
			} else {
				fprintf(text, "seed %llu policy %s: %u violations, hash %016llx\n",
					(unsigned long long)s, c->pols[i]->name, pr.run.k->res.nviolations,
					(unsigned long long)pr.run.k->res.hash);
				print_violations(text, &pr, scn.name);
				print_replay(text, s, c->events, (uint32_t)o->cpus, c->pols[i]->name, o->bugs,
					     o->pretend, true);
			}
		} else if (c->replay && !o->json) {
			fprintf(text, "seed %llu policy %s: 0 violations, hash %016llx\n",
				(unsigned long long)s, c->pols[i]->name, (unsigned long long)pr.run.k->res.hash);
		}
		if (c->replay && o->trace_text)
			trace_print_text(text, &pr.run, c->pols[i]->name);
		if (c->replay && o->trace_file) {
			char path[1024];

			trace_path(path, sizeof(path), o->trace_file, scn.name, c->pols[i]->name);
			if (trace_write_json(path, &pr.run, c->pols[i]->name)) {
				fprintf(stderr, "%s: cannot write trace '%s': %s\n", tool_argv0, path,
					strerror(errno));
				so->status = EXIT_BADINPUT;
				machine_release(&pr.run);
				return;
			}
		}
		machine_release(&pr.run);
	}
}

/* Seed s run here, its reports in memory (as a worker sends them). */
static void seed_collect(const struct stress_ctx *c, uint64_t s, struct seed_out *so, char **text,
			 char **json)
{
	size_t tl = 0, jl = 0;
	FILE *t = open_memstream(text, &tl), *j = open_memstream(json, &jl);

	if (!t || !j) {
		fprintf(stderr, "%s: out of memory\n", tool_argv0);
		exit(EXIT_BADINPUT);
	}
	seed_run(c, s, so, t, j);
	fclose(t);
	fclose(j);
	so->textlen = tl;
	so->jsonlen = jl;
}

/* What has been printed so far, and the progress line. */
struct stress_state {
	struct stress_totals tot[8];
	uint64_t done, events;
	unsigned nfail_json;
	int status;
	bool progress;
	struct timespec t0;
};

static void emit(const struct stress_ctx *c, struct stress_state *st, const struct seed_out *so,
		 const char *text, const char *json)
{
	unsigned i;

	fwrite(text, 1, so->textlen, stdout);
	if (so->jsonlen) {
		fputs(st->nfail_json++ ? ",\n" : "\n", stdout);
		fwrite(json, 1, so->jsonlen, stdout);
	}
	for (i = 0; i < c->np; i++) {
		struct stress_totals *t = &st->tot[i];
		const struct stress_totals *u = &so->tot[i];

		t->steps += u->steps; t->switches += u->switches; t->saves += u->saves;
		t->restores += u->restores; t->skipped += u->skipped; t->kfpu += u->kfpu;
		t->bytes_saved += u->bytes_saved; t->bytes_restored += u->bytes_restored;
		t->bytes_saved_full += u->bytes_saved_full;
		t->bytes_restored_full += u->bytes_restored_full;
		t->refused += u->refused; t->checks += u->checks; t->irqs += u->irqs;
		t->violations += u->violations; t->signals += u->signals; t->sigreturns += u->sigreturns;
		t->sigsegv += u->sigsegv; t->killed += u->killed; t->exits += u->exits;
		t->run_calls += u->run_calls; t->vm_gets += u->vm_gets; t->failed_seeds += u->failed_seeds;
		t->remote_flushes += u->remote_flushes; t->ipis += u->ipis;
		st->events += u->steps;
	}
	if (so->status > st->status)
		st->status = so->status;
	st->done++;
}

static void progress(const struct stress_ctx *c, const struct stress_state *st, uint64_t seeds)
{
	struct timespec now;
	uint64_t viol = 0;
	double secs;
	unsigned i;

	if (!st->progress)
		return;
	fflush(stdout);
	clock_gettime(CLOCK_MONOTONIC, &now);
	secs = (double)(now.tv_sec - st->t0.tv_sec) + (double)(now.tv_nsec - st->t0.tv_nsec) / 1e9;
	for (i = 0; i < c->np; i++)
		viol += st->tot[i].violations;
	fprintf(stderr, "\r\033[Kstress: %llu/%llu seeds, %.0f events/s, %llu violations",
		(unsigned long long)st->done, (unsigned long long)seeds,
		secs > 0 ? (double)st->events / secs : 0.0, (unsigned long long)viol);
}

static int read_all(int fd, void *buf, size_t len)
{
	char *p = buf;

	while (len) {
		ssize_t n = read(fd, p, len);

		if (n < 0 && errno == EINTR && !interrupted)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Worker k runs seeds k, k + jobs, ...; the parent reads them round robin,
 * which is seed order. A full pipe only makes a worker wait its turn. */
static int run_parallel(const struct stress_ctx *c, struct stress_state *st, uint64_t first,
			uint64_t seeds, unsigned jobs)
{
	int fds[1024];
	pid_t pids[1024];
	unsigned k, started = 0;
	uint64_t i;
	int ret = 0;

	fflush(stdout);
	for (k = 0; k < jobs; k++) {
		int p[2];

		if (pipe(p)) {
			fprintf(stderr, "%s: pipe: %s\n", tool_argv0, strerror(errno));
			ret = EXIT_BADINPUT;
			break;
		}
		pids[k] = fork();
		if (pids[k] < 0) {
			fprintf(stderr, "%s: fork: %s\n", tool_argv0, strerror(errno));
			close(p[0]);
			close(p[1]);
			ret = EXIT_BADINPUT;
			break;
		}
		if (pids[k] == 0) {
			unsigned m;

			signal(SIGINT, SIG_IGN); /* the parent decides; it stops us */
			for (m = 0; m < k; m++)
				close(fds[m]);
			close(p[0]);
			for (i = k; i < seeds; i += jobs) {
				struct seed_out so;
				char *text = 0, *json = 0;

				seed_collect(c, first + i, &so, &text, &json);
				if (write_all(p[1], &so, sizeof(so)) || write_all(p[1], text, so.textlen) ||
				    write_all(p[1], json, so.jsonlen))
					_exit(EXIT_BADINPUT);
				free(text);
				free(json);
				if (so.status == EXIT_BADINPUT)
					break;
			}
			_exit(0);
		}
		close(p[1]);
		fds[k] = p[0];
		started++;
	}
	for (i = 0; !ret && i < seeds && !interrupted; i++) {
		struct seed_out so;
		char *text, *json;
		int fd = fds[i % jobs];

		if (read_all(fd, &so, sizeof(so))) {
			if (!interrupted) {
				fprintf(stderr, "%s: the worker for seed %llu died\n", tool_argv0,
					(unsigned long long)(first + i));
				ret = EXIT_BADINPUT;
			}
			break;
		}
		text = malloc(so.textlen + 1);
		json = malloc(so.jsonlen + 1);
		if (!text || !json || read_all(fd, text, so.textlen) || read_all(fd, json, so.jsonlen)) {
			free(text);
			free(json);
			if (!interrupted) {
				fprintf(stderr, "%s: the worker for seed %llu died\n", tool_argv0,
					(unsigned long long)(first + i));
				ret = EXIT_BADINPUT;
			}
			break;
		}
		emit(c, st, &so, text, json);
		free(text);
		free(json);
		if (so.status == EXIT_BADINPUT)
			ret = EXIT_BADINPUT;
		progress(c, st, seeds);
	}
	for (k = 0; k < started; k++) {
		kill(pids[k], SIGTERM);
		close(fds[k]);
	}
	for (k = 0; k < started; k++)
		while (waitpid(pids[k], 0, 0) < 0 && errno == EINTR)
			;
	return ret;
}

int cmd_stress(int argc, char **argv, bool replay)
{
	static struct stress_ctx c;
	struct stress_state st;
	struct run_options *o = &c.o;
	const char *policy = "all", *pos[1];
	uint64_t seeds = 1, s;
	int npos = 0, r;
	unsigned i, jobs;
	struct sigaction sa;

	default_options(o);
	c.events = 10000;
	c.replay = replay;
	if ((r = split_args(argc, argv, o, &policy, pos, &npos, 0, replay ? 0 : &seeds, &c.events)) != 0)
		return r;
	if ((r = policy_list(policy, c.pols, &c.np)) != 0)
		return r;
	if ((r = trace_check(o->trace_file, c.np)) != 0)
		return r;
	if (o->cpus < 0)
		o->cpus = 2;
	/* What the host will manage: FXSAVE holds x87 and SSE only. */
	c.host = machine_permitted_features() & o->want;
	if (o->insn == FPU_INSN_FXSAVE)
		c.host &= FPU_XFEATURE_MASK_FPSSE;
	if (o->jobs)
		jobs = o->jobs;
	else {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		jobs = n > 0 ? (unsigned)(n < 64 ? n : 64) : 1;
	}
	if (replay || jobs > seeds)
		jobs = replay ? 1 : (unsigned)seeds;
	memset(&st, 0, sizeof(st));
	st.progress = !replay && !o->quiet && isatty(STDERR_FILENO);
	clock_gettime(CLOCK_MONOTONIC, &st.t0);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigint; /* no SA_RESTART: a blocked read returns */
	sigaction(SIGINT, &sa, 0);
	if (o->json)
		printf("{\n  \"failures\": [");
	if (jobs > 1) {
		r = run_parallel(&c, &st, o->seed, seeds, jobs);
	} else {
		for (r = 0, s = o->seed; s < o->seed + seeds && !interrupted && !r; s++) {
			struct seed_out so;
			char *text = 0, *json = 0;

			seed_collect(&c, s, &so, &text, &json);
			if (!interrupted) /* a seed cut short is not reported */
				emit(&c, &st, &so, text, json);
			free(text);
			free(json);
			if (so.status == EXIT_BADINPUT)
				r = EXIT_BADINPUT;
			progress(&c, &st, seeds);
		}
	}
	if (st.progress)
		fprintf(stderr, "\r\033[K");
	if (r)
		return r;
	if (o->json)
		printf("%s],\n  \"seeds\": %llu, \"events_per_seed\": %llu, \"cpus\": %d,\n  \"policies\": {\n",
		       st.nfail_json ? "\n  " : "", (unsigned long long)st.done,
		       (unsigned long long)c.events, o->cpus);
	for (i = 0; i < c.np; i++) {
		struct stress_totals *t = &st.tot[i];
		if (o->json)
			printf("    \"%s\": {\"events\": %llu, \"switches\": %llu, \"saves\": %llu, \"restores\": %llu, "
			       "\"skipped_restores\": %llu, \"bytes_saved\": %llu, \"bytes_restored\": %llu, "
			       "\"bytes_saved_full\": %llu, \"bytes_restored_full\": %llu, "
			       "\"kfpu_sections\": %llu, \"kfpu_refused\": %llu, "
			       "\"checks\": %llu, \"irqs\": %llu, \"signals\": %llu, \"sigreturns\": %llu, "
			       "\"sigsegv\": %llu, \"killed\": %llu, \"vm_exits\": %llu, \"run_calls\": %llu, "
			       "\"vm_gets\": %llu, \"remote_flushes\": %llu, \"ipis\": %llu, "
			       "\"violations\": %llu, \"failed_seeds\": %u}%s\n",
			       c.pols[i]->name, (unsigned long long)t->steps, (unsigned long long)t->switches,
			       (unsigned long long)t->saves, (unsigned long long)t->restores,
			       (unsigned long long)t->skipped, (unsigned long long)t->bytes_saved,
			       (unsigned long long)t->bytes_restored, (unsigned long long)t->bytes_saved_full,
			       (unsigned long long)t->bytes_restored_full, (unsigned long long)t->kfpu,
			       (unsigned long long)t->refused, (unsigned long long)t->checks,
			       (unsigned long long)t->irqs, (unsigned long long)t->signals,
			       (unsigned long long)t->sigreturns, (unsigned long long)t->sigsegv,
			       (unsigned long long)t->killed, (unsigned long long)t->exits,
			       (unsigned long long)t->run_calls, (unsigned long long)t->vm_gets,
			       (unsigned long long)t->remote_flushes, (unsigned long long)t->ipis,
			       (unsigned long long)t->violations, t->failed_seeds, i + 1 < c.np ? "," : "");
		else
			printf("%-6s seeds %llu events %llu switches %llu saves %llu restores %llu skipped %llu "
			       "bytes_saved %llu bytes_restored %llu (full %llu %llu) kfpu %llu refused %llu irqs %llu "
			       "checks %llu signals %llu sigreturns %llu sigsegv %llu killed %llu vm_exits %llu "
			       "run_calls %llu vm_gets %llu remote_flushes %llu ipis %llu violations %llu\n",
			       c.pols[i]->name, (unsigned long long)st.done, (unsigned long long)t->steps,
			       (unsigned long long)t->switches, (unsigned long long)t->saves,
			       (unsigned long long)t->restores, (unsigned long long)t->skipped,
			       (unsigned long long)t->bytes_saved, (unsigned long long)t->bytes_restored,
			       (unsigned long long)t->bytes_saved_full, (unsigned long long)t->bytes_restored_full,
			       (unsigned long long)t->kfpu, (unsigned long long)t->refused,
			       (unsigned long long)t->irqs, (unsigned long long)t->checks,
			       (unsigned long long)t->signals, (unsigned long long)t->sigreturns,
			       (unsigned long long)t->sigsegv, (unsigned long long)t->killed,
			       (unsigned long long)t->exits, (unsigned long long)t->run_calls,
			       (unsigned long long)t->vm_gets, (unsigned long long)t->remote_flushes,
			       (unsigned long long)t->ipis, (unsigned long long)t->violations);
	}
	if (o->json) {
		printf("  },\n  \"interrupted\": %s,\n  \"ok\": %s\n}\n", interrupted ? "true" : "false",
		       st.status || interrupted ? "false" : "true");
	} else if (!replay || interrupted) {
		uint64_t viol = 0;

		for (i = 0; i < c.np; i++)
			viol += st.tot[i].violations;
		if (interrupted)
			printf("stress: interrupted after %llu of %llu seeds, %llu events, %llu violations\n",
			       (unsigned long long)st.done, (unsigned long long)seeds,
			       (unsigned long long)st.events, (unsigned long long)viol);
		else
			printf("stress: %llu seeds, %llu events, %llu violations: %s\n",
			       (unsigned long long)st.done, (unsigned long long)st.events,
			       (unsigned long long)viol, st.status ? "FAILED" : "ok");
	}
	if (interrupted)
		return 130;
	return st.status;
}
