/* SPDX-License-Identifier: MIT */
/* Turning a finished run into words: tables, JSON, expectations, violations. */
#include "tool.h"
#include "parse.h"
#include <string.h>

void result_fill(struct policy_result *pr)
{
	const struct kresult *r = &pr->run.k->res;
	struct fpu_stats s = r->total, g = r->guest;
	uint64_t switches = r->switches;

	if (r->win_opened) {
		const struct fpu_stats *end = r->win_closed ? &r->win_end : &r->total;
		const struct fpu_stats *gend = r->win_closed ? &r->win_guest_end : &r->guest;
		uint64_t sw_end = r->win_closed ? r->win_switches_end : r->switches;

		g.saves = gend->saves - r->win_guest_begin.saves;
		g.restores = gend->restores - r->win_guest_begin.restores;
		s.saves = end->saves - r->win_begin.saves;
		s.restores = end->restores - r->win_begin.restores;
		s.skipped_restores = end->skipped_restores - r->win_begin.skipped_restores;
		s.bytes_saved = end->bytes_saved - r->win_begin.bytes_saved;
		s.bytes_restored = end->bytes_restored - r->win_begin.bytes_restored;
		s.bytes_saved_full = end->bytes_saved_full - r->win_begin.bytes_saved_full;
		s.bytes_restored_full = end->bytes_restored_full - r->win_begin.bytes_restored_full;
		s.kfpu_sections = end->kfpu_sections - r->win_begin.kfpu_sections;
		s.remote_flushes = end->remote_flushes - r->win_begin.remote_flushes;
		s.ipis = end->ipis - r->win_begin.ipis;
		switches = sw_end - r->win_switches_begin;
	}
	pr->value[KEY_SAVES] = s.saves;
	pr->value[KEY_RESTORES] = s.restores;
	pr->value[KEY_SKIPPED_RESTORES] = s.skipped_restores;
	pr->value[KEY_BYTES_SAVED] = s.bytes_saved;
	pr->value[KEY_BYTES_RESTORED] = s.bytes_restored;
	pr->value[KEY_BYTES_SAVED_FULL] = s.bytes_saved_full;
	pr->value[KEY_BYTES_RESTORED_FULL] = s.bytes_restored_full;
	pr->value[KEY_VIOLATIONS] = r->nviolations + (pr->run.out_of_steps ? 1 : 0);
	pr->value[KEY_SWITCHES] = switches;
	pr->value[KEY_KFPU_SECTIONS] = s.kfpu_sections;
	pr->value[KEY_SIGNALS] = r->signals;
	pr->value[KEY_SIGRETURNS] = r->sigreturns;
	pr->value[KEY_SIGSEGV] = r->sigsegv;
	pr->value[KEY_KILLED] = r->killed;
	pr->value[KEY_GUEST_SAVES] = g.saves;
	pr->value[KEY_GUEST_RESTORES] = g.restores;
	pr->value[KEY_HOST_SAVES] = s.saves - g.saves;
	pr->value[KEY_HOST_RESTORES] = s.restores - g.restores;
	pr->value[KEY_EXITS] = r->exits;
	pr->value[KEY_REMOTE_FLUSHES] = s.remote_flushes;
	pr->value[KEY_IPIS] = s.ipis;
}

static bool compare(uint64_t got, unsigned cmp, uint64_t want)
{
	switch (cmp) {
	case CMP_EQ: return got == want;
	case CMP_LE: return got <= want;
	case CMP_GE: return got >= want;
	case CMP_LT: return got < want;
	case CMP_GT: return got > want;
	}
	return false;
}

static const char *cmp_str(unsigned cmp)
{
	static const char *const s[] = { "=", "<=", ">=", "<", ">" };
	return cmp < 5 ? s[cmp] : "?";
}

uint32_t check_expects(const struct scenario *scn, const char *path, struct policy_result *pr,
		       unsigned policy_index, FILE *out)
{
	uint32_t i, failed = 0;

	for (i = 0; i < scn->nexpects; i++) {
		const struct scn_expect *e = &scn->expects[i];
		uint64_t got = pr->value[e->key];

		if (e->policy != SCN_POLICY_ALL && e->policy != policy_index)
			continue;
		if (compare(got, e->cmp, e->value))
			continue;
		failed++;
		if (out)
			fprintf(out, "%s:%u: expectation failed: %s %s%s%llu, got %llu\n", path, e->line,
				pr->policy->name, scn_key_name(e->key), cmp_str(e->cmp),
				(unsigned long long)e->value, (unsigned long long)got);
	}
	pr->expect_failures = failed;
	return failed;
}

void print_table_header(FILE *out)
{
	fprintf(out, "%-8s %8s %9s %8s %12s %14s %11s %14s %6s %9s %7s %5s %10s\n", "policy", "saves",
		"restores", "skipped", "bytes_saved", "bytes_restored", "saved_full", "restored_full", "kfpu",
		"switches", "flushes", "ipis", "violations");
}

void print_table_row(FILE *out, const struct policy_result *pr)
{
	const uint64_t *v = pr->value;

	fprintf(out, "%-8s %8llu %9llu %8llu %12llu %14llu %11llu %14llu %6llu %9llu %7llu %5llu %10llu\n",
		pr->policy->name, (unsigned long long)v[KEY_SAVES], (unsigned long long)v[KEY_RESTORES],
		(unsigned long long)v[KEY_SKIPPED_RESTORES], (unsigned long long)v[KEY_BYTES_SAVED],
		(unsigned long long)v[KEY_BYTES_RESTORED], (unsigned long long)v[KEY_BYTES_SAVED_FULL],
		(unsigned long long)v[KEY_BYTES_RESTORED_FULL], (unsigned long long)v[KEY_KFPU_SECTIONS],
		(unsigned long long)v[KEY_SWITCHES], (unsigned long long)v[KEY_REMOTE_FLUSHES],
		(unsigned long long)v[KEY_IPIS], (unsigned long long)v[KEY_VIOLATIONS]);
}

static void hex8(char *buf, const uint8_t *b)
{
	int i;
	for (i = 0; i < 8; i++)
		sprintf(buf + 3 * i, "%02x%s", b[i], i < 7 ? " " : "");
}

static void describe_found(const struct policy_result *pr, const struct violation *v, char *buf,
			   size_t len)
{
	char name[64];

	if (v->found_known == 2) {
		snprintf(buf, len, "the init state");
	} else if (v->found_known == 1 && (v->found_owner & 0xff) == OWNER_KERNEL) {
		machine_cpu_name(&pr->run, TASK_VM(v->found_owner), v->found_gen, name, sizeof(name));
		snprintf(buf, len, "a kernel FPU section's registers (%s)", name);
	} else if (v->found_known == 1) {
		machine_task_name(&pr->run, v->found_owner, name, sizeof(name));
		snprintf(buf, len, "%s's state (task %u, generation %u)%s", name, v->found_owner,
			 v->found_gen, v->found_owner == v->task ? ", an older generation of its own" : "");
	} else {
		snprintf(buf, len, "bytes of no known context");
	}
}

static void print_violation(FILE *out, const struct policy_result *pr, const struct violation *v,
			    const char *path)
{
	char name[64], e[32], f[32], who[160], cpu[64];
	const struct kernel *k = pr->run.k;

	machine_task_name(&pr->run, v->task, name, sizeof(name));
	machine_cpu_name(&pr->run, v->vm, v->cpu, cpu, sizeof(cpu));
	switch (v->kind) {
	case VIOL_STATE: {
		uint32_t base = v->component < 2 ? 0 : k->fpu.xs.offset[v->component];
		hex8(e, v->expected);
		hex8(f, v->found);
		describe_found(pr, v, who, sizeof(who));
		char at[300];
		if (v->where == 2)
			snprintf(at, sizeof(at), "in the signal frame just written");
		else if (v->where == 3)
			snprintf(at, sizeof(at), "in the registers at VM entry");
		else if (v->where == 4)
			snprintf(at, sizeof(at), "in the guest state a get returned (%s:%u)", path, v->line);
		else if (v->where)
			snprintf(at, sizeof(at), "at return to user");
		else
			snprintf(at, sizeof(at), "at check (%s:%u)", path, v->line);
		if (v->where >= 3)
			fprintf(out, "  [%s] t=%llu %s task %s (id %u) %s: component %s, offset %u: "
				"found %s: %s\n", pr->policy->name, (unsigned long long)v->time, cpu,
				name, v->task, at, fpu_xfeature_name(v->component), v->offset, f, who);
		else
			fprintf(out, "  [%s] t=%llu %s task %s (id %u) %s: component %s, offset %u"
				" (+%u in component): expected %s, found %s: found %s%s%s\n",
				pr->policy->name, (unsigned long long)v->time, cpu, name, v->task, at,
				fpu_xfeature_name(v->component), v->offset, v->offset - base, e, f, who,
				v->msg ? ": " : "", v->msg ? v->msg : "");
		break;
	}
	case VIOL_WARN:
		fprintf(out, "  [%s] t=%llu %s task %s: invariant: %s\n", pr->policy->name,
			(unsigned long long)v->time, cpu, name, v->msg);
		break;
	case VIOL_GUEST:
		fprintf(out, "  [%s] t=%llu %s task %s: guest state: %s\n", pr->policy->name,
			(unsigned long long)v->time, cpu, name, v->msg);
		break;
	case VIOL_DEADLOCK: {
		static const char *const states[] = { "unused", "runnable", "running", "sleeping",
						      "waiting", "dead" };
		uint32_t i;

		fprintf(out, "  [%s] t=%llu deadlock: %s:", pr->policy->name,
			(unsigned long long)v->time, v->msg);
		for (i = k->ncpus; i < k->ntask_slots; i++) {
			const struct task *t = &k->tasks[i];
			if (t->state == TS_DEAD || t->state == TS_UNUSED)
				continue;
			machine_task_name(&pr->run, t->id, name, sizeof(name));
			fprintf(out, " %s (%s at %s:%u)", name, states[t->state], path,
				t->pc && t->pc <= t->nops ? t->prog[t->pc - 1].line : 0);
		}
		fputc('\n', out);
		break;
	}
	case VIOL_SIGRETURN: {
		static const char *const why[] = {
			"sigreturn accepted a frame that must be rejected",
			"sigreturn rejected a frame that must be accepted",
			"sigreturn read the frame in the wrong mode (legacy-only vs extended)",
		};
		fprintf(out, "  [%s] t=%llu %s task %s (id %u): %s (library said: %s)\n",
			pr->policy->name, (unsigned long long)v->time, cpu, name, v->task,
			v->where < 3 ? why[v->where] : "?", v->msg);
		break;
	}
	default:
		fprintf(out, "  [%s] t=%llu %s task %s: %s:%u: %s\n", pr->policy->name,
			(unsigned long long)v->time, cpu, name, path, v->line, v->msg);
	}
}

/* The tasks of kernel k that have not exited, and where they wait. */
static void print_alive(FILE *out, const struct policy_result *pr, const struct kernel *k)
{
	static const char *const states[] = { "unused", "runnable", "running", "sleeping",
					      "waiting", "dead" };
	char name[64], cpu[64];
	uint32_t i;

	for (i = k->ncpus; i < k->ntask_slots; i++) {
		const struct task *t = &k->tasks[i];

		if (t->state == TS_DEAD || t->state == TS_UNUSED)
			continue;
		machine_task_name(&pr->run, t->id, name, sizeof(name));
		machine_cpu_name(&pr->run, k->vm_index, (uint32_t)t->cpu, cpu, sizeof(cpu));
		fprintf(out, " %s (%s on %s)", name, states[t->state], cpu);
	}
}

void print_violations(FILE *out, const struct policy_result *pr, const char *path)
{
	const struct kresult *r = &pr->run.k->res;
	uint32_t i, n = r->nviolations < KMAX_VIOLATIONS ? r->nviolations : KMAX_VIOLATIONS;

	for (i = 0; i < n; i++)
		print_violation(out, pr, &r->viol[i], path);
	if (r->nviolations > n)
		fprintf(out, "  [%s] ... and %u more violations\n", pr->policy->name, r->nviolations - n);
	if (pr->run.out_of_steps) {
		fprintf(out, "  [%s] the scenario did not finish within %llu steps; still alive:",
			pr->policy->name, (unsigned long long)pr->run.steps);
		print_alive(out, pr, pr->run.k);
		for (i = 0; i < pr->run.k->nvms; i++)
			print_alive(out, pr, pr->run.k->vms[i].guest);
		fputc('\n', out);
	}
}

void print_json_policy(FILE *out, const struct policy_result *pr, bool last)
{
	unsigned i;

	fprintf(out, "    \"%s\": {", pr->policy->name);
	for (i = 0; i < KEY__COUNT; i++)
		fprintf(out, "\"%s\": %llu, ", scn_key_name(i), (unsigned long long)pr->value[i]);
	fprintf(out, "\"expect_failures\": %u, \"steps\": %llu, \"hash\": \"%016llx\"}%s\n",
		pr->expect_failures, (unsigned long long)pr->run.steps,
		(unsigned long long)pr->run.k->res.hash, last ? "" : ",");
}

void print_features(FILE *out, const struct fpu_system *sys)
{
	unsigned f;
	const char *sep = "";

	for (f = 0; f < FPU_XFEATURE_MAX; f++)
		if (sys->mask & FPU_XFEATURE_MASK(f)) {
			fprintf(out, "%s%s", sep, fpu_xfeature_name(f));
			sep = ",";
		}
	if (sys->has_pkru)
		fprintf(out, "%spkru(eager)", sep);
}

static void json_str(FILE *out, const char *s)
{
	fputc('"', out);
	for (; s && *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(out, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fprintf(out, "\\u%04x", (unsigned char)*s);
		else
			fputc(*s, out);
	}
	fputc('"', out);
}

void print_json_violations(FILE *out, const struct policy_result *pr, const char *path)
{
	static const char *const kinds[] = { "state", "invariant", "deadlock", "runtime", "sigreturn",
					     "guest" };
	static const char *const wheres[] = { "check", "return to user", "signal frame", "VM entry",
					      "guest state get" };
	const struct kresult *r = &pr->run.k->res;
	uint32_t i, n = r->nviolations < KMAX_VIOLATIONS ? r->nviolations : KMAX_VIOLATIONS;
	char name[64], cpu[64], e[32], f[32], who[160];

	fprintf(out, "[");
	for (i = 0; i < n; i++) {
		const struct violation *v = &r->viol[i];

		machine_task_name(&pr->run, v->task, name, sizeof(name));
		machine_cpu_name(&pr->run, v->vm, v->cpu, cpu, sizeof(cpu));
		fprintf(out, "%s\n        {\"kind\": \"%s\", \"time\": %llu, \"cpu\": ", i ? "," : "",
			v->kind < 6 ? kinds[v->kind] : "?", (unsigned long long)v->time);
		json_str(out, cpu);
		fprintf(out, ", \"task\": ");
		json_str(out, name);
		fprintf(out, ", \"task_id\": %u", v->task);
		if (v->kind == VIOL_STATE) {
			hex8(e, v->expected);
			hex8(f, v->found);
			describe_found(pr, v, who, sizeof(who));
			fprintf(out, ", \"where\": \"%s\", \"line\": %u, \"component\": \"%s\", \"offset\": %u, "
				"\"expected\": \"%s\", \"found\": \"%s\", \"whose\": ",
				v->where < 5 ? wheres[v->where] : "?", v->line, fpu_xfeature_name(v->component),
				v->offset, e, f);
			json_str(out, who);
		} else if (v->line) {
			fprintf(out, ", \"where\": ");
			json_str(out, path);
			fprintf(out, ", \"line\": %u", v->line);
		}
		if (v->msg) {
			fprintf(out, ", \"message\": ");
			json_str(out, v->msg);
		}
		fprintf(out, "}");
	}
	fprintf(out, "%s]", n ? "\n      " : "");
}
