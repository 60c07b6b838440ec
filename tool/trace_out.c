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
	case KT_EV_VM_ENTRY:
	case KT_EV_VM_EXIT: {
		static const char *const why[] = { "interrupt window", "hlt", "io", "shutdown", "signal" };
		*name = e->type == KT_EV_VM_ENTRY ? "vm_entry" : "vm_exit";
		machine_task_name(r, e->a, a, sizeof(a));
		machine_cpu_name(r, e->b, e->c, b, sizeof(b));
		snprintf(buf, len, "vmm=%s vcpu=%s%s%s", a, b, e->type == KT_EV_VM_EXIT ? " reason=" : "",
			 e->type == KT_EV_VM_EXIT && e->d < 5 ? why[e->d] : "");
		break;
	}
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
	char args[256], cpu[64];
	const char *name;

	fprintf(out, "# policy %s: %llu events%s\n", policy, (unsigned long long)n,
		r->k->trace_count > n ? " (oldest dropped)" : "");
	for (i = 0; i < n; i++) {
		const struct ktrace_rec *e = rec_at(r, i);
		describe(r, e, args, sizeof(args), &name);
		machine_cpu_name(r, e->cpu >> 8, e->cpu & 0xff, cpu, sizeof(cpu));
		fprintf(out, "  [%s] %10llu: %s: %s\n", cpu, (unsigned long long)e->time, name, args);
	}
}

#define NTRACKS ((1 + SCN_MAX_VMS) * SCN_MAX_CPUS)

/* One track per CPU: the host's CPUs, then each VM's vCPUs. */
static uint32_t track_of(uint16_t cpu)
{
	uint32_t t = (uint32_t)(cpu >> 8) * SCN_MAX_CPUS + (cpu & 0xff);
	return t < NTRACKS ? t : 0;
}

int trace_write_json(const char *path, const struct run *r, const char *policy)
{
	FILE *f = fopen(path, "w");
	uint64_t i, n = rec_count(r), start[NTRACKS] = { 0 };
	uint32_t running[NTRACKS], ncpus[1 + SCN_MAX_VMS], vm, c, last = 0;
	char args[256], name[64];
	const char *ev;

	if (!f)
		return -1;
	ncpus[0] = r->k->ncpus;
	for (vm = 1; vm <= SCN_MAX_VMS; vm++)
		ncpus[vm] = vm <= r->k->nvms ? r->k->vms[vm - 1].hw.ncpus : 0;
	for (c = 0; c < NTRACKS; c++)
		running[c] = (c / SCN_MAX_CPUS) << 8 | (c % SCN_MAX_CPUS + 1); /* each starts idle */
	fprintf(f, "{\"displayTimeUnit\":\"ns\",\"otherData\":{\"policy\":\"%s\",\"time\":\"machine steps\"},"
		"\"traceEvents\":[\n", policy);
	for (vm = 0; vm <= SCN_MAX_VMS; vm++) {
		if (!ncpus[vm])
			continue;
		fprintf(f, "{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":%u,\"args\":{\"name\":\"%s%s\"}},\n",
			vm + 1, vm ? "guest " : "host", vm ? r->k->scn->vms[vm - 1].name : "");
		for (c = 0; c < ncpus[vm]; c++) {
			machine_cpu_name(r, vm, c, name, sizeof(name));
			fprintf(f, "{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":%u,\"tid\":%u,\"args\":{\"name\":\"%s\"}},\n",
				vm + 1, vm * SCN_MAX_CPUS + c, name);
		}
	}
	for (i = 0; i < n; i++) {
		const struct ktrace_rec *e = rec_at(r, i);
		uint32_t t = track_of(e->cpu);

		describe(r, e, args, sizeof(args), &ev);
		if (e->type == KT_EV_SWITCH) {
			machine_task_name(r, running[t], name, sizeof(name));
			fprintf(f, "{\"name\":\"%s\",\"ph\":\"X\",\"pid\":%u,\"tid\":%u,\"ts\":%llu,\"dur\":%llu},\n",
				name, t / SCN_MAX_CPUS + 1, t, (unsigned long long)start[t],
				(unsigned long long)(e->time - start[t]));
			running[t] = e->b;
			start[t] = e->time;
		}
		fprintf(f, "{\"name\":\"%s\",\"ph\":\"i\",\"s\":\"t\",\"pid\":%u,\"tid\":%u,\"ts\":%llu,"
			"\"args\":{\"detail\":\"%s\"}},\n", ev, t / SCN_MAX_CPUS + 1, t,
			(unsigned long long)e->time, args);
	}
	for (c = 0; c < NTRACKS; c++)
		if (c % SCN_MAX_CPUS < ncpus[c / SCN_MAX_CPUS])
			last = c;
	for (c = 0; c < NTRACKS; c++) {
		if (c % SCN_MAX_CPUS >= ncpus[c / SCN_MAX_CPUS])
			continue;
		machine_task_name(r, running[c], name, sizeof(name));
		fprintf(f, "{\"name\":\"%s\",\"ph\":\"X\",\"pid\":%u,\"tid\":%u,\"ts\":%llu,\"dur\":%llu}%s\n",
			name, c / SCN_MAX_CPUS + 1, c, (unsigned long long)start[c],
			(unsigned long long)(r->end_time - start[c]), c == last ? "" : ",");
	}
	fprintf(f, "]}\n");
	return fclose(f);
}
