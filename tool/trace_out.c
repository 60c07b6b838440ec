/* SPDX-License-Identifier: MIT */
/*
 * Trace output: the kernel's binary ring, formatted after the run as
 * ftrace-like text or as Chrome/Perfetto JSON (one track per CPU: which task
 * runs, and an instant event at every FPU state change).
 */
#include "tool.h"
#include "parse.h"

static const struct ktrace_rec *rec_at(const struct run *r, uint64_t i)
{
	const struct kernel *k = r->k;
	uint64_t first = k->trace_count > k->trace_cap ? k->trace_count - k->trace_cap : 0;
	return &r->trace[(first + i) % k->trace_cap];
}

static uint64_t rec_count(const struct run *r)
{
	const struct kernel *k = r->k;
	return k->trace_count < k->trace_cap ? k->trace_count : k->trace_cap;
}

static void describe(const struct run *r, const struct ktrace_rec *e, char *buf, size_t len,
		     const char **name)
{
	char a[64], b[64];

	switch (e->type) {
	case KT_EV_FPU:
		*name = fpu_event_name(e->a);
		machine_task_name(r, e->b, a, sizeof(a));
		snprintf(buf, len, "ctx=%s state=%u bytes=%u", e->b ? a : "-", e->c, e->d);
		break;
	case KT_EV_SWITCH:
		*name = "sched_switch";
		machine_task_name(r, e->a, a, sizeof(a));
		machine_task_name(r, e->b, b, sizeof(b));
		snprintf(buf, len, "prev=%s next=%s", a, b);
		break;
	case KT_EV_IRQ:
		*name = "irq";
		snprintf(buf, len, "lines=%s%s%s%s", e->a & IRQ_TIMER ? "timer " : "",
			 e->a & IRQ_KFPU ? "kfpu-ipi " : "", e->a & IRQ_RESCHED ? "resched " : "",
			 e->a & IRQ_BALANCE ? "balance" : "");
		break;
	case KT_EV_OP:
		*name = "op";
		machine_task_name(r, e->a, a, sizeof(a));
		snprintf(buf, len, "task=%s op=%s line=%u", a, scn_op_name(e->b), e->c);
		break;
	default:
		*name = "violation";
		machine_task_name(r, e->a, a, sizeof(a));
		snprintf(buf, len, "task=%s kind=%u line=%u", a, e->b, e->c);
	}
}

void trace_print_text(FILE *out, const struct run *r, const char *policy)
{
	uint64_t i, n = rec_count(r);
	char args[256];
	const char *name;

	fprintf(out, "# policy %s: %llu events%s\n", policy, (unsigned long long)n,
		r->k->trace_count > n ? " (oldest dropped)" : "");
	for (i = 0; i < n; i++) {
		const struct ktrace_rec *e = rec_at(r, i);
		describe(r, e, args, sizeof(args), &name);
		fprintf(out, "  [%03u] %10llu: %s: %s\n", e->cpu, (unsigned long long)e->time, name, args);
	}
}

int trace_write_json(const char *path, const struct run *r, const char *policy)
{
	FILE *f = fopen(path, "w");
	uint64_t i, n = rec_count(r), start[SCN_MAX_CPUS] = { 0 };
	uint32_t running[SCN_MAX_CPUS], c;
	char args[256], name[64];
	const char *ev;

	if (!f)
		return -1;
	for (c = 0; c < SCN_MAX_CPUS; c++)
		running[c] = c + 1; /* each CPU starts in its idle task */
	fprintf(f, "{\"displayTimeUnit\":\"ns\",\"otherData\":{\"policy\":\"%s\",\"time\":\"machine steps\"},"
		"\"traceEvents\":[\n", policy);
	for (c = 0; c < r->k->ncpus; c++)
		fprintf(f, "{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":1,\"tid\":%u,\"args\":{\"name\":\"cpu %u\"}},\n",
			c, c);
	for (i = 0; i < n; i++) {
		const struct ktrace_rec *e = rec_at(r, i);
		uint32_t cpu = e->cpu < SCN_MAX_CPUS ? e->cpu : 0;

		describe(r, e, args, sizeof(args), &ev);
		if (e->type == KT_EV_SWITCH) {
			machine_task_name(r, running[cpu], name, sizeof(name));
			fprintf(f, "{\"name\":\"%s\",\"ph\":\"X\",\"pid\":1,\"tid\":%u,\"ts\":%llu,\"dur\":%llu},\n",
				name, cpu, (unsigned long long)start[cpu],
				(unsigned long long)(e->time - start[cpu]));
			running[cpu] = e->b;
			start[cpu] = e->time;
		}
		fprintf(f, "{\"name\":\"%s\",\"ph\":\"i\",\"s\":\"t\",\"pid\":1,\"tid\":%u,\"ts\":%llu,"
			"\"args\":{\"detail\":\"%s\"}},\n", ev, cpu, (unsigned long long)e->time, args);
	}
	for (c = 0; c < r->k->ncpus; c++) {
		machine_task_name(r, running[c], name, sizeof(name));
		fprintf(f, "{\"name\":\"%s\",\"ph\":\"X\",\"pid\":1,\"tid\":%u,\"ts\":%llu,\"dur\":%llu}%s\n",
			name, c, (unsigned long long)start[c],
			(unsigned long long)(r->end_time - start[c]),
			c + 1 < r->k->ncpus ? "," : "");
	}
	fprintf(f, "]}\n");
	return fclose(f);
}
