/* SPDX-License-Identifier: MIT */
/* The fpuctx command: run scenarios, stress, replay, list bugs, describe the CPU. */
#define _GNU_SOURCE
#include "tool.h"
#include "parse.h"
#include "fpuctx/version.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

const char *tool_argv0 = "fpuctx";

uint64_t tool_want = ~0ull;
unsigned tool_cmd;

static const struct command {
	const char *name, *args, *what;
	unsigned bit;
} commands[] = {
	{ "run", "FILE|-", "run a scenario file (- reads standard input) under each policy and check it", CMD_RUN },
	{ "stress", "", "random scenarios drawn from seeds, every check on", CMD_STRESS },
	{ "replay", "", "rebuild one stress seed's run: same violations, same hash", CMD_REPLAY },
	{ "bugs", "", "list the bugs --inject-bug puts back (test-only)", CMD_BUGS },
	{ "info", "", "describe this CPU's FPU state and the policies", CMD_INFO },
	{ "bench", "", "cycle measurements (a benchmark, not a test)", CMD_BENCH },
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

/* Every option, and the commands it applies to: usage texts and the
 * parser both come from here, so they cannot disagree. */
static const struct option_doc {
	const char *shrt, *name, *arg, *what;
	unsigned cmds;
} options[] = {
	{ "-p", "--policy", "P|all", "the policies to run (default all; see below)",
	  CMD_RUN | CMD_STRESS | CMD_REPLAY | CMD_BENCH },
	{ "-s", "--seed", "S", "the seed (stress: the first seed; default 1)", CMD_RUN | CMD_STRESS | CMD_REPLAY },
	{ 0, "--seeds", "N", "how many seeds, from --seed on (default 1)", CMD_STRESS },
	{ 0, "--events", "M", "machine steps per seed (default 10000)", CMD_STRESS | CMD_REPLAY },
	{ "-j", "--jobs", "N", "seeds run in parallel (default: online CPUs); output as with -j 1", CMD_STRESS },
	{ 0, "--cpus", "N", "simulated CPUs, 1 to 8 (run: the scenario's; stress: 2)",
	  CMD_RUN | CMD_STRESS | CMD_REPLAY },
	{ 0, "--json", 0, "one JSON object on stdout instead of text", CMD_RUN | CMD_STRESS | CMD_REPLAY },
	{ "-q", "--quiet", 0, "run: no table, only failures and the verdict; stress: no progress line",
	  CMD_RUN | CMD_STRESS },
	{ 0, "--trace", "FILE", "Chrome/Perfetto JSON timeline; several policies need FILE with {policy} "
	  "or a directory", CMD_RUN | CMD_REPLAY },
	{ 0, "--trace-text", 0, "ftrace-like lines on stdout", CMD_RUN | CMD_REPLAY },
	{ 0, "--inject-bug", "NAME", "put a known bug back (test-only; see 'fpuctx bugs'); repeatable",
	  CMD_RUN | CMD_STRESS | CMD_REPLAY },
	{ 0, "--pretend", "NAME", "test-only CPU behaviour: fxsave-leak | x87-kept",
	  CMD_RUN | CMD_STRESS | CMD_REPLAY },
	{ 0, "--xsave", "INSN", "save instruction: fxsave | xsave | xsaveopt | xsavec",
	  CMD_RUN | CMD_STRESS | CMD_REPLAY | CMD_INFO },
	{ 0, "--features", "LIST", "components to manage: x87,sse,avx,... (default: all the CPU has)",
	  CMD_RUN | CMD_STRESS | CMD_REPLAY | CMD_INFO | CMD_BENCH },
	{ 0, "--max-steps", "N", "stop a scenario after N machine steps (reported as a violation)", CMD_RUN },
	{ "-h", "--help", 0, "this text", ~0u },
};
#define NOPTIONS (sizeof(options) / sizeof(options[0]))

static const struct command *find_command(const char *name)
{
	unsigned i;

	for (i = 0; i < NCOMMANDS; i++)
		if (!strcmp(name, commands[i].name))
			return &commands[i];
	return 0;
}

static void print_policies(FILE *out)
{
	unsigned i;

	fprintf(out, "policies:\n");
	for (i = 0; i < fpu_npolicies; i++)
		fprintf(out, "  %-9s %s\n", fpu_policies[i].name, fpu_policies[i].summary);
	fprintf(out, "  %-9s every one of them\n", "all");
}

static void print_options(FILE *out, unsigned cmds)
{
	char left[40];
	unsigned i;

	for (i = 0; i < NOPTIONS; i++) {
		if (!(options[i].cmds & cmds))
			continue;
		snprintf(left, sizeof(left), "%s%s%s%s%s", options[i].shrt ? options[i].shrt : "",
			 options[i].shrt ? ", " : "    ", options[i].name, options[i].arg ? " " : "",
			 options[i].arg ? options[i].arg : "");
		fprintf(out, "  %-24s %s\n", left, options[i].what);
	}
}

static const char exit_text[] =
	"exit status: 0 all checks and expectations hold, 1 violation or failed expectation, 2 bad input\n";

static int usage(FILE *out, int status)
{
	unsigned i;

	fprintf(out, "usage: fpuctx COMMAND [options]    fpuctx help COMMAND | fpuctx COMMAND --help\n"
		     "       fpuctx -V|--version\n\ncommands:\n");
	for (i = 0; i < NCOMMANDS; i++)
		fprintf(out, "  %-6s %-7s %s\n", commands[i].name, commands[i].args, commands[i].what);
	fprintf(out, "\noptions (each command takes those its help lists):\n");
	print_options(out, ~0u);
	fprintf(out, "\n");
	print_policies(out);
	fprintf(out, "\n%s", exit_text);
	return status;
}

static int command_usage(FILE *out, const struct command *c)
{
	fprintf(out, "usage: fpuctx %s%s%s%s\n%s\n", c->name, *c->args ? " " : "", c->args,
		c->bit == CMD_BUGS ? "" : " [options]", c->what);
	if (c->bit == CMD_STRESS)
		fprintf(out, "A failing seed prints its 'fpuctx replay' command; a summary line ends the run\n"
			     "(progress on stderr when it is a terminal; Ctrl-C prints the seeds finished).\n");
	fprintf(out, "\noptions:\n");
	print_options(out, c->bit);
	if (c->bit & (CMD_RUN | CMD_STRESS | CMD_REPLAY | CMD_BENCH)) {
		fprintf(out, "\n");
		print_policies(out);
	}
	if (c->bit & (CMD_RUN | CMD_STRESS | CMD_REPLAY))
		fprintf(out, "\n%s", exit_text);
	return EXIT_OK;
}

static int bad(const char *fmt, const char *a, const char *b)
{
	fprintf(stderr, "%s: ", tool_argv0);
	fprintf(stderr, fmt, a, b);
	fputc('\n', stderr);
	return EXIT_BADINPUT;
}

/* ", did you mean 'X'?" for a near miss among cands, else "". */
static const char *near(char *buf, size_t len, const char *word, const char *const *cands, size_t n)
{
	const char *pick = scn_suggest(word, cands, n);

	if (!pick)
		return "";
	snprintf(buf, len, "; did you mean '%s'?", pick);
	return buf;
}

static int parse_u64(const char *s, uint64_t *v)
{
	char *end;

	if (!s || !*s || *s == '-' || *s == '+')
		return -1;
	errno = 0;
	*v = strtoull(s, &end, 0);
	return (errno || *end) ? -1 : 0;
}

static int parse_features(const char *spec, uint64_t *mask)
{
	char buf[256], *tok, *save;
	const char *rule;
	unsigned f;

	if (strlen(spec) >= sizeof(buf))
		return bad("--features: list too long", "", "");
	strcpy(buf, spec);
	*mask = 0;
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(0, ",", &save)) {
		for (f = 0; f < FPU_XFEATURE_MAX; f++)
			if (!strcmp(tok, fpu_xfeature_name(f)))
				break;
		if (f == FPU_XFEATURE_MAX) {
			const char *names[FPU_XFEATURE_MAX];
			char hint[64];

			for (f = 0; f < FPU_XFEATURE_MAX; f++)
				names[f] = fpu_xfeature_name(f);
			return bad("--features: unknown component '%s'%s (known: x87, sse, avx, bndregs, "
				   "bndcsr, opmask, zmm_hi256, hi16_zmm, pkru, xtilecfg, xtiledata)", tok,
				   near(hint, sizeof(hint), tok, names, FPU_XFEATURE_MAX));
		}
		*mask |= FPU_XFEATURE_MASK(f);
	}
	if ((rule = scn_xcr0_rule(*mask, 0)) != 0)
		return bad("--features=%s: %s", spec, rule);
	/* XCR0 may hold x87 alone; the library may not (it manages both always). */
	if (!(*mask & FPU_XFEATURE_MASK(FPU_XFEATURE_SSE)))
		return bad("--features=%s: %s", spec, "sse must be enabled (fpuctx always manages x87 and sse)");
	return 0;
}

static int parse_pretend(const char *name, uint32_t *pretend)
{
	if (!strcmp(name, "fxsave-leak"))
		*pretend |= FPU_PRETEND_FXSAVE_LEAK;
	else if (!strcmp(name, "x87-kept"))
		*pretend |= SIM_PRETEND_X87_KEPT;
	else {
		static const char *const names[] = { "fxsave-leak", "x87-kept" };
		char hint[64];

		return bad("--pretend: unknown CPU behaviour '%s'%s (fxsave-leak: restores keep the old "
			   "x87 pointers; x87-kept: the oracle compares FOP/FIP/FDP anyway)", name,
			   near(hint, sizeof(hint), name, names, 2));
	}
	return 0;
}

static int parse_bug(const char *name, uint32_t *bugs)
{
	unsigned i;

	for (i = 0; i < fpu_nbugs; i++)
		if (!strcmp(name, fpu_bugs[i].name)) {
			*bugs |= fpu_bugs[i].bit;
			return 0;
		}
	{
		const char *names[64];
		char hint[80];

		for (i = 0; i < fpu_nbugs && i < 64; i++)
			names[i] = fpu_bugs[i].name;
		return bad("--inject-bug: unknown bug '%s'%s (see 'fpuctx bugs')", name,
			   near(hint, sizeof(hint), name, names, i));
	}
}

/* Options every command shares. Returns 0 used, 1 not ours, 2 error. */
static int parse_common_option(const char *arg, const char *val, struct run_options *o, bool *used_val)
{
	uint64_t v;
	unsigned i;

	*used_val = true;
	if (!strcmp(arg, "--seed")) {
		if (parse_u64(val, &o->seed))
			return bad("--seed needs a number, got '%s'%s", val ? val : "", "");
	} else if (!strcmp(arg, "--cpus")) {
		if (parse_u64(val, &v) || v < 1 || v > SCN_MAX_CPUS)
			return bad("--cpus needs a number from 1 to 8, got '%s'%s", val ? val : "", "");
		o->cpus = (int)v;
	} else if (!strcmp(arg, "--max-steps")) {
		if (parse_u64(val, &o->max_steps) || !o->max_steps)
			return bad("--max-steps needs a positive number, got '%s'%s", val ? val : "", "");
	} else if (!strcmp(arg, "--xsave")) {
		for (i = 0; i < FPU_INSN__COUNT; i++)
			if (val && !strcmp(val, fpu_insn_name(i)))
				break;
		if (i == FPU_INSN__COUNT) {
			const char *names[FPU_INSN__COUNT];
			char hint[64];

			for (i = 0; i < FPU_INSN__COUNT; i++)
				names[i] = fpu_insn_name(i);
			return bad("--xsave: unknown instruction '%s'%s (fxsave, xsave, xsaveopt, xsavec)",
				   val ? val : "", val ? near(hint, sizeof(hint), val, names, FPU_INSN__COUNT) : "");
		}
		o->insn = i;
	} else if (!strcmp(arg, "--features")) {
		if (!val || parse_features(val, &o->want))
			return val ? EXIT_BADINPUT : bad("--features needs a list%s%s", "", "");
	} else if (!strcmp(arg, "--inject-bug")) {
		if (!val || parse_bug(val, &o->bugs))
			return val ? EXIT_BADINPUT : bad("--inject-bug needs a name%s%s", "", "");
	} else if (!strcmp(arg, "--pretend")) {
		if (!val || parse_pretend(val, &o->pretend))
			return val ? EXIT_BADINPUT : bad("--pretend needs a name%s%s", "", "");
	} else if (!strcmp(arg, "--trace")) {
		if (!val)
			return bad("--trace needs a file name%s%s", "", "");
		o->trace_file = val;
	} else {
		*used_val = false;
		if (!strcmp(arg, "--json"))
			o->json = true;
		else if (!strcmp(arg, "--trace-text"))
			o->trace_text = true;
		else if (!strcmp(arg, "--quiet"))
			o->quiet = true;
		else
			return 1;
	}
	return 0;
}

int policy_list(const char *spec, const struct fpu_policy **out, unsigned *n)
{
	const struct fpu_policy *p;

	*n = 0;
	if (!strcmp(spec, "all")) {
		for (*n = 0; *n < fpu_npolicies; (*n)++)
			out[*n] = &fpu_policies[*n];
		return 0;
	}
	p = fpu_policy_find(spec);
	if (!p) {
		const char *names[9];
		char known[128] = "", hint[64];
		unsigned i;

		for (i = 0; i < fpu_npolicies && i < 8; i++) {
			names[i] = fpu_policies[i].name;
			snprintf(known + strlen(known), sizeof(known) - strlen(known), "%s, ", names[i]);
		}
		names[i++] = "all";
		fprintf(stderr, "%s: --policy: unknown policy '%s'%s (%sall)\n", tool_argv0, spec,
			near(hint, sizeof(hint), spec, names, i), known);
		return EXIT_BADINPUT;
	}
	out[(*n)++] = p;
	return 0;
}

static const char *policy_names[8];

static void init_policy_names(void)
{
	unsigned i;
	for (i = 0; i < fpu_npolicies && i < 8; i++)
		policy_names[i] = fpu_policies[i].name;
}

static bool is_dir(const char *path)
{
	struct stat st;

	return !stat(path, &st) && S_ISDIR(st.st_mode);
}

int trace_check(const char *file, unsigned np)
{
	if (!file || np < 2 || strstr(file, "{policy}") || is_dir(file))
		return 0;
	fprintf(stderr, "%s: --trace %s: %u policies cannot share one file; put {policy} in the name "
		"(--trace out-{policy}.json) or name an existing directory\n", tool_argv0, file, np);
	return EXIT_BADINPUT;
}

void trace_path(char *buf, size_t len, const char *file, const char *scn, const char *policy)
{
	const char *ph = strstr(file, "{policy}");
	size_t n = strlen(file);

	if (ph)
		snprintf(buf, len, "%.*s%s%s", (int)(ph - file), file, policy, ph + strlen("{policy}"));
	else if (is_dir(file))
		snprintf(buf, len, "%.*s/%s-%s.json", (int)(n > 1 && file[n - 1] == '/' ? n - 1 : n), file,
			 scn, policy);
	else
		snprintf(buf, len, "%s", file);
}

/* Start-up checks: an instruction or a component this CPU lacks is refused
 * here, naming what was asked for and what exists. */
static int check_cpu(const struct run_options *o)
{
	static const enum fpu_insn all[] = { FPU_INSN_FXSAVE, FPU_INSN_XSAVE, FPU_INSN_XSAVEOPT,
					     FPU_INSN_XSAVEC };
	struct fpu_xstate_info xs;
	uint64_t missing, here, lack;
	char want[16];
	unsigned i, f;

	fpu_xstate_enumerate(&xs, ~0ull, &missing);
	if (o->insn != FPU_INSN__COUNT && !fpu_insn_supported(&xs, o->insn)) {
		for (i = 0; fpu_insn_name(o->insn)[i] && i + 1 < sizeof(want); i++)
			want[i] = (char)(fpu_insn_name(o->insn)[i] - 'a' + 'A');
		want[i] = 0;
		fprintf(stderr, "%s: --xsave=%s: this CPU has no %s (it has:", tool_argv0,
			fpu_insn_name(o->insn), want);
		for (i = 0; i < sizeof(all) / sizeof(all[0]); i++)
			if (fpu_insn_supported(&xs, all[i]))
				fprintf(stderr, " %s", fpu_insn_name(all[i]));
		fprintf(stderr, ")\n");
		return EXIT_BADINPUT;
	}
	here = machine_permitted_features();
	lack = o->want == ~0ull ? 0 : o->want & ~here;
	if (lack) {
		fprintf(stderr, "%s: --features: this CPU has no", tool_argv0);
		for (f = 0; f < FPU_XFEATURE_MAX; f++)
			if (lack & FPU_XFEATURE_MASK(f))
				fprintf(stderr, " %s", fpu_xfeature_name(f));
		fprintf(stderr, " (it has:");
		for (f = 0; f < FPU_XFEATURE_MAX; f++)
			if (here & FPU_XFEATURE_MASK(f))
				fprintf(stderr, " %s", fpu_xfeature_name(f));
		fprintf(stderr, ")\n");
		return EXIT_BADINPUT;
	}
	return 0;
}

/* The option a short one stands for, or NULL. */
static const struct option_doc *find_option(const char *name)
{
	unsigned i;

	for (i = 0; i < NOPTIONS; i++)
		if (!strcmp(name, options[i].name) || (options[i].shrt && !strcmp(name, options[i].shrt)))
			return &options[i];
	return 0;
}

static int unknown_option(const char *name)
{
	const char *names[NOPTIONS];
	char hint[64];
	unsigned i;

	for (i = 0; i < NOPTIONS; i++)
		names[i] = options[i].name;
	return bad("unknown option '%s'%s (see 'fpuctx help')", name,
		   near(hint, sizeof(hint), name, names, NOPTIONS));
}

/* Splits argv into positional arguments and options; returns 0 or an exit status. */
int split_args(int argc, char **argv, struct run_options *o, const char **policy,
		      const char **pos, int *npos, int maxpos, uint64_t *seeds, uint64_t *events)
{
	const struct option_doc *d;
	int i;

	for (i = 0; i < argc; i++) {
		char *arg = argv[i], *eq = strchr(arg, '='), name[64];
		const char *val;
		bool used;
		int r;

		if (arg[0] != '-' || !arg[1]) { /* "-": standard input */
			if (*npos == maxpos)
				return bad("unexpected argument '%s'%s", arg, "");
			pos[(*npos)++] = arg;
			continue;
		}
		if (eq && (size_t)(eq - arg) < sizeof(name)) {
			snprintf(name, sizeof(name), "%.*s", (int)(eq - arg), arg);
			val = eq + 1;
		} else {
			snprintf(name, sizeof(name), "%s", arg);
			val = i + 1 < argc ? argv[i + 1] : 0;
		}
		d = find_option(name);
		if (!d)
			return unknown_option(name);
		snprintf(name, sizeof(name), "%s", d->name);
		if (!(d->cmds & tool_cmd)) {
			if (!strcmp(name, "--trace") && tool_cmd == CMD_STRESS)
				return bad("stress writes no trace (one per seed would be needed); a failing seed "
					   "prints its replay command: add --trace FILE to that%s%s", "", "");
			return bad("option '%s' does not apply here (see 'fpuctx help %s')", name,
				   tool_cmd == CMD_RUN ? "run" : tool_cmd == CMD_STRESS ? "stress" :
				   tool_cmd == CMD_REPLAY ? "replay" : tool_cmd == CMD_INFO ? "info" : "bench");
		}
		if (!strcmp(name, "--policy") || !strcmp(name, "--seeds") || !strcmp(name, "--events") ||
		    !strcmp(name, "--jobs")) {
			uint64_t *dst = !strcmp(name, "--seeds") ? seeds : events, v;
			if (!val)
				return bad("%s needs a value%s", name, "");
			if (!strcmp(name, "--policy"))
				*policy = val;
			else if (!strcmp(name, "--jobs")) {
				if (parse_u64(val, &v) || !v || v > 1024)
					return bad("%s needs a number from 1 to 1024, got '%s'", name, val);
				o->jobs = (unsigned)v;
			} else if (parse_u64(val, dst) || !*dst)
				return bad("%s needs a positive number, got '%s'", name, val);
			used = true;
		} else {
			r = parse_common_option(name, val, o, &used);
			if (r == 1)
				return unknown_option(name);
			if (r)
				return r;
		}
		if (used && !eq)
			i++;
		else if (!used && eq)
			return bad("option '%s' takes no value%s", name, "");
	}
	tool_want = o->want;
	return check_cpu(o);
}

void default_options(struct run_options *o)
{
	memset(o, 0, sizeof(*o));
	o->seed = 1;
	o->cpus = -1;
	o->insn = FPU_INSN__COUNT;
	o->want = ~0ull;
}

static void print_mask(FILE *out, uint64_t mask)
{
	const char *sep = "";
	unsigned f;

	for (f = 0; f < FPU_XFEATURE_MAX; f++)
		if (mask & FPU_XFEATURE_MASK(f)) {
			fprintf(out, "%s%s", sep, fpu_xfeature_name(f));
			sep = ",";
		}
}

int start_error(const struct run *r, const char *where)
{
	const struct kernel *k = r->k;

	/* A guest that could not boot is the scenario's doing: name its 'vm' line. */
	if (k && k->failed_vm && k->scn && k->failed_vm <= k->scn->nvms) {
		const struct scn_vm *sv = &k->scn->vms[k->failed_vm - 1];

		if (sv->line)
			fprintf(stderr, "%s:%u: vm %s: ", where, sv->line, sv->name);
		else /* generated (stress) */
			fprintf(stderr, "%s: vm %s: ", where, sv->name);
		if (r->missing) {
			bool one = !(r->missing & (r->missing - 1));

			fprintf(stderr, "feature%s ", one ? "" : "s");
			print_mask(stderr, r->missing);
			fprintf(stderr, " %s not managed by the host (host manages ", one ? "is" : "are");
			print_mask(stderr, k->fpu.mask);
			fprintf(stderr, ")\n");
		} else {
			fprintf(stderr, "cannot boot its guest kernel: %s\n", r->error);
		}
		return EXIT_BADINPUT;
	}
	fprintf(stderr, "%s: cannot start the simulated kernel: %s", tool_argv0, r->error);
	if (r->missing) {
		/* What --features asked for, what the start needed and lacked. */
		fprintf(stderr, " (asked for: ");
		if (tool_want == ~0ull)
			fprintf(stderr, "all this CPU has");
		else
			print_mask(stderr, tool_want);
		fprintf(stderr, "; missing: ");
		print_mask(stderr, r->missing);
		fprintf(stderr, "; usable here: ");
		print_mask(stderr, machine_permitted_features());
		fprintf(stderr, ")");
	}
	fputc('\n', stderr);
	return EXIT_BADINPUT;
}

/* Frame edits of XSAVE-only fields (the software-reserved bytes, the
 * header, MAGIC2) mean nothing on a CPU whose signal frames are the legacy
 * area alone, so a scenario that relies on them cannot run there. */
static int needs_xsave_frames(const char *path, const struct scenario *scn)
{
	struct fpu_xstate_info xs;
	uint64_t missing;
	unsigned i;

	if (fpu_xstate_enumerate(&xs, ~0ull, &missing) == FPU_SETUP_OK && xs.has_xsave)
		return 0;
	for (i = 0; i < scn->nops; i++) {
		const struct scn_op *op = &scn->ops[i];

		if (op->code == OP_FRAME && op->arg >= FRAME_CORRUPT_MAGIC1 &&
		    op->arg <= FRAME_CORRUPT_XSTATE_BV) {
			fprintf(stderr, "%s:%u:%u: this edit needs an XSAVE signal frame, and this CPU has "
				"no XSAVE: its frames are the 512-byte legacy area only\n", path, op->line,
				op->col);
			return EXIT_BADINPUT;
		}
	}
	return 0;
}

static int cmd_run(int argc, char **argv)
{
	static struct scenario scn;
	static struct policy_result pr[8];
	const struct fpu_policy *pols[8];
	struct run_options o;
	const char *policy = "all", *pos[1];
	int npos = 0, status = EXIT_OK, r;
	unsigned np, i, j;
	char err[512];

	default_options(&o);
	if ((r = split_args(argc, argv, &o, &policy, pos, &npos, 1, 0, 0)) != 0)
		return r;
	if (npos != 1)
		return bad("run needs one scenario file%s%s", "", "");
	if ((r = policy_list(policy, pols, &np)) != 0)
		return r;
	if ((r = trace_check(o.trace_file, np)) != 0)
		return r;
	init_policy_names();
	if (scn_parse_file(pos[0], &scn, policy_names, (int)fpu_npolicies, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		return EXIT_BADINPUT;
	}
	if (o.cpus > 0) {
		for (i = 0; i < scn.ntasks; i++)
			if (scn.tasks[i].cpu >= o.cpus) {
				fprintf(stderr, "%s:%u: task '%s' starts on cpu %d, but --cpus is %d\n", pos[0],
					scn.tasks[i].line, scn.tasks[i].name, scn.tasks[i].cpu, o.cpus);
				return EXIT_BADINPUT;
			}
		for (i = 0; i < scn.nops; i++) {
			const struct scn_op *op = &scn.ops[i];
			if ((op->code == OP_MIGRATE || op->code == OP_IPI_KFPU) && op->arg >= (uint32_t)o.cpus) {
				fprintf(stderr, "%s:%u:%u: '%s' names cpu %u, but --cpus is %d\n", pos[0],
					op->line, op->col, scn_op_name(op->code), op->arg, o.cpus);
				return EXIT_BADINPUT;
			}
		}
		scn.ncpus = (uint32_t)o.cpus;
	}
	if ((r = needs_xsave_frames(pos[0], &scn)) != 0)
		return r;
	for (i = 0; i < np; i++) {
		struct run_config cfg = {
			.scn = &scn, .policy = pols[i], .insn = o.insn, .want = o.want, .bugs = o.bugs, .pretend = o.pretend,
			.seed = o.seed, .max_steps = o.max_steps,
			.trace_cap = (o.trace_file || o.trace_text) ? 1u << 20 : 0,
		};
		pr[i].policy = pols[i];
		if (machine_run(&cfg, &pr[i].run)) {
			status = start_error(&pr[i].run, pos[0]);
			for (j = 0; j <= i; j++)
				machine_release(&pr[j].run);
			return status;
		}
		result_fill(&pr[i]);
		check_expects(&scn, pos[0], &pr[i], (unsigned)(pols[i] - fpu_policies), o.json ? 0 : stdout);
		if (pr[i].value[KEY_VIOLATIONS] || pr[i].expect_failures)
			status = EXIT_VIOLATION;
		if (o.trace_file) {
			char path[1024];
			trace_path(path, sizeof(path), o.trace_file, scn.name, pols[i]->name);
			if (trace_write_json(path, &pr[i].run, pols[i]->name))
				return bad("cannot write trace '%s': %s", path, strerror(errno));
		}
		if (o.trace_text)
			trace_print_text(stdout, &pr[i].run, pols[i]->name);
	}
	if (o.json) {
		printf("{\n  \"scenario\": \"%s\", \"cpus\": %u, \"seed\": %llu, \"insn\": \"%s\",\n"
		       "  \"policies\": {\n", scn.name, scn.ncpus, (unsigned long long)o.seed,
		       fpu_insn_name(pr[0].run.k->fpu.insn));
		for (i = 0; i < np; i++)
			print_json_policy(stdout, &pr[i], i + 1 == np);
		printf("  },\n  \"ok\": %s\n}\n", status ? "false" : "true");
	} else {
		if (!o.quiet) {
			printf("scenario %s: %u cpu%s, seed %llu, %s, state buffer %u bytes (", scn.name,
			       scn.ncpus, scn.ncpus > 1 ? "s" : "", (unsigned long long)o.seed,
			       fpu_insn_name(pr[0].run.k->fpu.insn), pr[0].run.k->fpu.state_size);
			print_features(stdout, &pr[0].run.k->fpu);
			printf(")%s\n", pr[0].run.k->res.win_opened ? ", counted in the window" : "");
			print_table_header(stdout);
			for (i = 0; i < np; i++)
				print_table_row(stdout, &pr[i]);
		}
		for (i = 0; i < np; i++)
			print_violations(stdout, &pr[i], pos[0]);
		printf("%s: %s\n", scn.name, status ? "FAILED" : "ok");
	}
	for (i = 0; i < np; i++)
		machine_release(&pr[i].run);
	return status;
}

/* What the probe found about FOP/FIP/FDP, in words. */
static void print_x87(const struct fpu_x87_info *x)
{
	printf("CPU vendor           %s%s\n", x->amd ? "AMD" : "not AMD",
	       x->amd ? (x->xsaveerptr ? " (XSAVEERPTR)" : " (no XSAVEERPTR)") : "");
	printf("x87 FOP/FIP/FDP      %s without a pending exception; %s with one%s\n",
	       fpu_x87_describe(x, false), fpu_x87_describe(x, true),
	       x->kept == FPU_X87_POINTERS ? " (Intel behaviour)" :
	       x->kept == 0 && x->kept_pending == FPU_X87_POINTERS ? " (AMD behaviour)" : "");
	printf("x87 pointer leak     %s\n", !x->leaks ? "no: restores replace them" :
	       x->leak_seen ? "yes, seen by the probe: scrubbed before every restore of another context" :
			      "assumed from CPUID (AMD without XSAVEERPTR): scrubbed before every restore");
	printf("x87 FDP, FCS/FDS     %s; %s\n",
	       x->fdp_excptn_only ? "FDP moves only on exceptions" : "FDP moves with every x87 data access",
	       x->fcs_fds_deprecated ? "FCS/FDS deprecated (saved as zero)" : "FCS/FDS kept");
}

static int cmd_bugs(void)
{
	uint64_t here = machine_permitted_features();
	struct fpu_xstate_info xs;
	uint64_t missing;
	unsigned i;

	fpu_xstate_enumerate(&xs, ~0ull, &missing);
	if (!xs.has_ospke)
		here &= ~FPU_XFEATURE_MASK(FPU_XFEATURE_PKRU); /* in XCR0, but the OS gives no PKRU */
	for (i = 0; i < fpu_nbugs; i++) {
		const char *absent = (fpu_bugs[i].needs & ~here) ? " [cannot show here: the CPU lacks " : "";

		printf("%-22s %s%s", fpu_bugs[i].name, fpu_bugs[i].what, absent);
		if (fpu_bugs[i].needs_x87_leak && xs.x87.kept != FPU_X87_POINTERS)
			printf(" [cannot show here: this CPU's saves do not show the x87 pointers]");
		else if (fpu_bugs[i].needs_x87_leak)
			printf(" [needs --pretend fxsave-leak: the CPU does not leak x87 pointers]");
		if (*absent) {
			unsigned f;
			for (f = 0; f < FPU_XFEATURE_MAX; f++)
				if (fpu_bugs[i].needs & ~here & FPU_XFEATURE_MASK(f))
					printf("%s", fpu_xfeature_name(f));
			printf("]");
		}
		printf("\n");
	}
	return 0;
}

static void nop_lock(void *p, int c) { (void)p; (void)c; }
static unsigned nop_context(void *p, int c) { (void)p; (void)c; return 0; }
static const struct fpu_port_ops info_port = { .lock = nop_lock, .unlock = nop_lock, .context = nop_context };

static int cmd_info(int argc, char **argv)
{
	struct fpu_system sys;
	struct run_options o;
	const char *policy = "linux", *pos[1];
	uint64_t missing, permitted = machine_permitted_features();
	enum fpu_setup_error e;
	int npos = 0, r;
	unsigned f, i;

	default_options(&o);
	if ((r = split_args(argc, argv, &o, &policy, pos, &npos, 0, 0, 0)) != 0)
		return r;
	e = fpu_system_init(&sys, &fpu_policies[0], o.want == ~0ull ? permitted : o.want, o.insn,
			    &info_port, 0, &missing);
	if (e) {
		struct run fake = { .error = fpu_setup_error_str(e), .missing = missing };
		return start_error(&fake, 0);
	}
	printf("XCR0                 0x%llx\n", (unsigned long long)sys.xs.xcr0);
	printf("usable by process    0x%llx%s\n", (unsigned long long)permitted,
	       permitted != sys.xs.xcr0 ? " (the host kernel withholds the rest)" : "");
	printf("managed features     0x%llx (", (unsigned long long)sys.mask);
	print_features(stdout, &sys);
	printf(")\ninstructions         fxsave%s%s%s%s\n", sys.xs.has_xsave ? " xsave" : "",
	       sys.xs.has_xsaveopt ? " xsaveopt" : "", sys.xs.has_xsavec ? " xsavec" : "",
	       sys.xs.has_xsaves ? " xsaves(ring 0 only: unused)" : "");
	printf("save instruction     %s\n", fpu_insn_name(sys.insn));
	printf("MXCSR mask           0x%08x\n", sys.xs.mxcsr_mask);
	print_x87(&sys.xs.x87);
	printf("PKRU                 %s\n", sys.has_pkru ? "enabled (switched eagerly)" :
	       "not enabled (no PKU or OSPKE)");
	if (sys.xs.has_xsave) {
		printf("size: standard       %u bytes (CPUID max %u)\n", sys.xs.std_size, sys.xs.cpu_std_size_max);
		printf("size: compacted      %u bytes\n", sys.xs.compacted_size);
	} else {
		printf("size: legacy area    %u bytes (no XSAVE: no standard or compacted format)\n",
		       FPU_FXSAVE_SIZE);
	}
	printf("context buffer       %u bytes (%s format, PKRU excluded)\n", sys.state_size,
	       sys.insn == FPU_INSN_XSAVEC ? "compacted" : sys.insn == FPU_INSN_FXSAVE ? "legacy" : "standard");
	printf("\n%-3s %-10s %6s %8s %10s %6s\n", "bit", "component", "size", "offset", "compacted", "align");
	for (f = 0; f < FPU_XFEATURE_MAX; f++) {
		if (!(sys.xs.features & FPU_XFEATURE_MASK(f)))
			continue;
		printf("%-3u %-10s %6u %8u %10u %6s\n", f, fpu_xfeature_name(f), sys.xs.size[f],
		       sys.xs.offset[f], fpu_xstate_offset(&sys.xs, FPU_INSN_XSAVEC, sys.xs.features, f),
		       sys.xs.align64[f] ? "64" : "-");
	}
	printf("\npolicies:\n");
	for (i = 0; i < fpu_npolicies; i++)
		printf("  %-8s %s\n", fpu_policies[i].name, fpu_policies[i].summary);
	return 0;
}

int cmd_bench(int argc, char **argv);

static int unknown_command(const char *what)
{
	const char *names[NCOMMANDS + 1];
	char hint[64];
	unsigned k;

	for (k = 0; k < NCOMMANDS; k++)
		names[k] = commands[k].name;
	names[k++] = "help";
	fprintf(stderr, "%s: unknown command '%s'%s (see 'fpuctx help')\n", tool_argv0, what,
		near(hint, sizeof(hint), what, names, k));
	return EXIT_BADINPUT;
}

int main(int argc, char **argv)
{
	const struct command *c;
	int i;

	if (argc < 2)
		return usage(stderr, EXIT_BADINPUT);
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
		printf("fpuctx %s\n", FPUCTX_VERSION_STRING);
		return EXIT_OK;
	}
	if (!strcmp(argv[1], "help") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		if (argc < 3)
			return usage(stdout, EXIT_OK);
		if (argc > 3)
			return bad("help takes one command, got '%s' too%s", argv[3], "");
		c = find_command(argv[2]);
		if (!c)
			goto unknown;
		return command_usage(stdout, c);
	}
	c = find_command(argv[1]);
	if (!c)
		goto unknown;
	for (i = 2; i < argc; i++)
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
			return command_usage(stdout, c);
	tool_cmd = c->bit;
	switch (c->bit) {
	case CMD_RUN: return cmd_run(argc - 2, argv + 2);
	case CMD_STRESS: return cmd_stress(argc - 2, argv + 2, false);
	case CMD_REPLAY: return cmd_stress(argc - 2, argv + 2, true);
	case CMD_BUGS:
		if (argc > 2)
			return bad("bugs takes no arguments, got '%s'%s", argv[2], "");
		return cmd_bugs();
	case CMD_INFO: return cmd_info(argc - 2, argv + 2);
	default: return cmd_bench(argc - 2, argv + 2);
	}
unknown:
	return unknown_command(argc > 2 && !strcmp(argv[1], "help") ? argv[2] : argv[1]);
}
