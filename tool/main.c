/* SPDX-License-Identifier: MIT */
/* The fpuctx command: run scenarios, stress, replay, list bugs, describe the CPU. */
#define _GNU_SOURCE
#include "tool.h"
#include "options.h"
#include "parse.h"
#include "fpuctx/version.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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
		if (fpu_bugs[i].needs_defer_save)
			printf(" [shows under --policy deferred]");
		if (fpu_bugs[i].needs_parallel_cpus)
			printf(" [a race of CPUs running at once: shown by the ring-0 port (make ring0), not the simulator]");
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
	printf("bytes moved          %u in init state, %u all in use (per save or restore; %s)\n",
	       fpu_xstate_bytes(&sys.bytes, 0), fpu_xstate_bytes(&sys.bytes, sys.mask),
	       sys.insn == FPU_INSN_FXSAVE ? "FXSAVE moves the legacy area whatever is in use"
	       : sys.insn == FPU_INSN_XSAVE ? "plain XSAVE writes all, XRSTOR reads what is in use"
					    : "the header, and what XSTATE_BV marks in use");
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

static int unknown_command(const char *what)
{
	const char *names[ncommands + 1];
	char hint[64];
	unsigned k;

	for (k = 0; k < ncommands; k++)
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
