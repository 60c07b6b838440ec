/* SPDX-License-Identifier: MIT */
/*
 * What every command shares: the command and option tables, usage texts,
 * option parsing with "did you mean", policy lists, trace file names, and
 * the report of a run that could not start. run (main.c), stress/replay
 * (stress.c) and bench (bench.c) use it; it uses none of them.
 */
#define _GNU_SOURCE
#include "tool.h"
#include "options.h"
#include "parse.h"
#include "fpuctx/version.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
const char *tool_argv0 = "fpuctx";

uint64_t tool_want = ~0ull;
unsigned tool_cmd;

const struct command commands[] = {
	{ "run", "FILE|-", "run a scenario file (- reads standard input) under each policy and check it", CMD_RUN },
	{ "stress", "", "random scenarios drawn from seeds, every check on", CMD_STRESS },
	{ "replay", "", "rebuild one stress seed's run: same violations, same hash", CMD_REPLAY },
	{ "bugs", "", "list the bugs --inject-bug puts back (test-only)", CMD_BUGS },
	{ "info", "", "describe this CPU's FPU state and the policies", CMD_INFO },
	{ "bench", "", "cycle measurements (a benchmark, not a test)", CMD_BENCH },
};
const unsigned ncommands = sizeof(commands) / sizeof(commands[0]);

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
	{ 0, "--json", 0, "one JSON object on stdout instead of text",
	  CMD_RUN | CMD_STRESS | CMD_REPLAY | CMD_BENCH },
	{ 0, "--quick", 0, "bench: short batches and few repetitions (seconds; the figures are rougher)",
	  CMD_BENCH },
	{ 0, "--output", "DIR", "bench: also write DIR/bench.json and DIR/bench.txt (DIR is created)",
	  CMD_BENCH },
	{ 0, "--scenarios", "DIR", "bench: where the scenario files are (default scenarios)", CMD_BENCH },
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

const struct command *find_command(const char *name)
{
	unsigned i;

	for (i = 0; i < ncommands; i++)
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

int usage(FILE *out, int status)
{
	unsigned i;

	fprintf(out, "usage: fpuctx COMMAND [options]    fpuctx help COMMAND | fpuctx COMMAND --help\n"
		     "       fpuctx -V|--version\n\ncommands:\n");
	for (i = 0; i < ncommands; i++)
		fprintf(out, "  %-6s %-7s %s\n", commands[i].name, commands[i].args, commands[i].what);
	fprintf(out, "\noptions (each command takes those its help lists):\n");
	print_options(out, ~0u);
	fprintf(out, "\n");
	print_policies(out);
	fprintf(out, "\n%s", exit_text);
	return status;
}

int command_usage(FILE *out, const struct command *c)
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

int bad(const char *fmt, const char *a, const char *b)
{
	fprintf(stderr, "%s: ", tool_argv0);
	fprintf(stderr, fmt, a, b);
	fputc('\n', stderr);
	return EXIT_BADINPUT;
}

/* ", did you mean 'X'?" for a near miss among cands, else "". */
const char *near(char *buf, size_t len, const char *word, const char *const *cands, size_t n)
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
	} else if (!strcmp(arg, "--output") || !strcmp(arg, "--scenarios")) {
		if (!val || !*val)
			return bad("%s needs a directory%s", arg, "");
		*(!strcmp(arg, "--output") ? &o->output_dir : &o->scenario_dir) = val;
	} else {
		*used_val = false;
		if (!strcmp(arg, "--json"))
			o->json = true;
		else if (!strcmp(arg, "--trace-text"))
			o->trace_text = true;
		else if (!strcmp(arg, "--quiet"))
			o->quiet = true;
		else if (!strcmp(arg, "--quick"))
			o->quick = true;
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

const char *policy_names[8];

void init_policy_names(void)
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

void print_mask(FILE *out, uint64_t mask)
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

