/* SPDX-License-Identifier: MIT */
/*
 * Trace output: the kernel's binary ring, formatted after the run as text in
 * ftrace's shape (as `trace-cmd report` prints it) or as Chrome/Perfetto JSON.
 * One machine step is shown as one microsecond. docs/design.md, "Traces".
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

/* An event's fields, named; text and JSON print the same ones. */
struct field {
	const char *key;
	char val[64];
	bool num;
};
struct event {
	const char *name;
	unsigned n;
	struct field f[5];
};

/* Copies NAME into BUF with what JSON would need escaped replaced, and
 * spaces too when SPACES is false (a text line splits on them). */
static const char *clean(char *buf, size_t len, const char *name, bool spaces)
{
	size_t i;

	snprintf(buf, len, "%s", *name ? name : "-");
	for (i = 0; buf[i]; i++)
		if ((buf[i] == ' ' && !spaces) || buf[i] == '"' || buf[i] == '\\' || (unsigned char)buf[i] < 0x20)
			buf[i] = '_';
	return buf;
}

static void add_str(struct event *ev, const char *key, const char *val)
{
	struct field *f = &ev->f[ev->n++];

	f->key = key;
	f->num = false;
	clean(f->val, sizeof(f->val), val, false);
}

static void add_num(struct event *ev, const char *key, uint64_t v)
{
	struct field *f = &ev->f[ev->n++];

	f->key = key;
	f->num = true;
	snprintf(f->val, sizeof(f->val), "%llu", (unsigned long long)v);
}

static void add_task(struct event *ev, const struct run *r, const char *key, uint32_t id)
{
	char buf[64];

	if (!id) {
		add_str(ev, key, "-");
		return;
	}
	machine_task_name(r, id, buf, sizeof(buf));
	add_str(ev, key, buf);
}

/* A state buffer by its owner's name: a task's, or a vCPU's guest state. */
static const char *state_name(const struct run *r, uint32_t id, char *buf, size_t len)
{
	uint32_t vm = TASK_VM(id);

	if (!id)
		snprintf(buf, len, "-");
	else if ((id & 0xe0) == 0xe0 && (id & 0xff) < 0xe0 + SCN_MAX_VCPUS && vm && vm <= r->k->nvms)
		snprintf(buf, len, "%s/vcpu%u", r->k->scn->vms[vm - 1].name, id & 0x1f);
	else
		machine_task_name(r, id, buf, len);
	return buf;
}

static void add_state(struct event *ev, const struct run *r, const char *key, uint32_t id)
{
	char buf[64];

	add_str(ev, key, state_name(r, id, buf, sizeof(buf)));
}

static const char *vm_name(const struct run *r, uint32_t vm)
{
	return vm && vm <= r->k->nvms ? r->k->scn->vms[vm - 1].name : "host";
}

static void describe(const struct run *r, const struct ktrace_rec *e, struct event *ev)
{
	static const char *const why[] = { "interrupt_window", "hlt", "io", "shutdown", "signal" };
	static const char *const kinds[] = { "state", "warn", "deadlock", "runtime", "sigreturn", "guest" };
	char buf[64];

	ev->n = 0;
	switch (e->type) {
	case KT_EV_FPU:
		ev->name = fpu_event_name(e->a);
		add_task(ev, r, "ctx", e->b);
		add_state(ev, r, "state", e->c);
		add_num(ev, "bytes", e->a == FPU_EV_FLUSH_REQUEST ? 0 : e->d);
		if (e->a == FPU_EV_FLUSH_REQUEST)
			add_num(ev, "holder", e->d); /* the CPU asked to write the image back */
		break;
	case KT_EV_SWITCH:
		ev->name = "sched_switch";
		add_task(ev, r, "prev", e->a);
		add_task(ev, r, "next", e->b);
		break;
	case KT_EV_IRQ:
		ev->name = "irq";
		snprintf(buf, sizeof(buf), "%s%s%s%s%s%s%s", e->a & IRQ_TIMER ? ",timer" : "",
			 e->a & IRQ_KFPU ? ",kfpu-ipi" : "", e->a & IRQ_RESCHED ? ",resched" : "",
			 e->a & IRQ_BALANCE ? ",balance" : "", e->a & IRQ_SIGNAL ? ",signal" : "",
			 e->a & IRQ_FLUSH ? ",flush-ipi" : "", e->a & IRQ_STEAL ? ",steal" : "");
		add_str(ev, "lines", buf[0] ? buf + 1 : "-");
		break;
	case KT_EV_VM_ENTRY:
	case KT_EV_VM_EXIT:
		ev->name = e->type == KT_EV_VM_ENTRY ? "vm_entry" : "vm_exit";
		add_task(ev, r, "vmm", e->a);
		snprintf(buf, sizeof(buf), "%s:%u", vm_name(r, e->b), e->c);
		add_str(ev, "vcpu", buf);
		if (e->type == KT_EV_VM_EXIT)
			add_str(ev, "reason", e->d < 5 ? why[e->d] : "?");
		break;
	case KT_EV_OP:
		ev->name = "op";
		add_task(ev, r, "task", e->a);
		add_str(ev, "op", scn_op_name(e->b));
		add_num(ev, "line", e->c);
		break;
	default:
		ev->name = "violation";
		add_task(ev, r, "task", e->a);
		add_str(ev, "kind", e->b == 0xff ? "killed" : e->b < 6 ? kinds[e->b] : "?");
		add_num(ev, "line", e->c);
	}
}

/* The CPU column: [000] on the host, [G:000] for VM G's vCPU 0. */
static void cpu_column(const struct run *r, uint16_t cpu, char *buf, size_t len)
{
	if (cpu >> 8)
		snprintf(buf, len, "%s:%03u", vm_name(r, cpu >> 8), cpu & 0xff);
	else
		snprintf(buf, len, "%03u", cpu & 0xff);
}

#define NTRACKS ((1 + SCN_MAX_VMS) * SCN_MAX_CPUS)

/* One track per CPU: the host's CPUs, then each VM's vCPUs. */
static uint32_t track_of(uint16_t cpu)
{
	uint32_t t = (uint32_t)(cpu >> 8) * SCN_MAX_CPUS + (cpu & 0xff);
	return t < NTRACKS ? t : 0;
}

/* Who runs on each track before its first record: the prev of its first
 * switch (the ring may have dropped the start), else the CPU's idle task. */
static void first_running(const struct run *r, uint32_t running[NTRACKS])
{
	uint64_t i, n = rec_count(r);
	bool seen[NTRACKS] = { false };
	uint32_t c;

	for (c = 0; c < NTRACKS; c++)
		running[c] = (c / SCN_MAX_CPUS) << 8 | (c % SCN_MAX_CPUS + 1);
	for (i = 0; i < n; i++) {
		const struct ktrace_rec *e = rec_at(r, i);
		uint32_t t = track_of(e->cpu);
		if (e->type == KT_EV_SWITCH && !seen[t])
			running[t] = e->a;
		if (e->type == KT_EV_SWITCH)
			seen[t] = true;
	}
}

/* A task's id within its own kernel, as ftrace's PID column. */
static unsigned pid_of(uint32_t id)
{
	return (id & 0xff) ? TASK_SLOT(id) : 0;
}

void trace_print_text(FILE *out, const struct run *r, const char *policy)
{
	uint64_t i, n = rec_count(r);
	uint32_t running[NTRACKS];
	char cpu[64], task[64];
	struct event ev;
	unsigned j;

	first_running(r, running);
	fprintf(out, "# tracer: fpuctx, policy %s\n#\n", policy);
	fprintf(out, "# entries-in-buffer/entries-written: %llu/%llu   #P:%u\n#\n",
		(unsigned long long)n, (unsigned long long)r->k->trace_count, r->k->ncpus);
	fprintf(out, "#            TASK-PID     CPU#     TIMESTAMP  EVENT\n");
	fprintf(out, "#               | |         |          |        |\n");
	for (i = 0; i < n; i++) {
		const struct ktrace_rec *e = rec_at(r, i);
		uint32_t t = track_of(e->cpu);

		describe(r, e, &ev);
		cpu_column(r, e->cpu, cpu, sizeof(cpu));
		machine_task_name(r, running[t], task, sizeof(task));
		fprintf(out, "%16s-%-5u [%s] %6llu.%06llu: %s:", task, pid_of(running[t]), cpu,
			(unsigned long long)(e->time / 1000000), (unsigned long long)(e->time % 1000000),
			ev.name);
		for (j = 0; j < ev.n; j++)
			fprintf(out, " %s=%s", ev.f[j].key, ev.f[j].val);
		fputc('\n', out);
		if (e->type == KT_EV_SWITCH)
			running[t] = e->b;
	}
}

/*
 * JSON layout: per kernel (host, each VM) three processes with one thread per
 * CPU, each named after the CPU: the running task (slices) with every event as
 * an instant; which buffer the registers hold (slices); kernel FPU sections
 * (slices). Counters (saves, restores, bytes) hang off the first.
 */
enum { P_TASKS, P_REGS, P_KFPU, P__COUNT };
static const char *const proc_suffix[P__COUNT] = { "", ": FPU registers", ": kernel FPU" };

static unsigned json_pid(uint32_t t, unsigned kind)
{
	return kind * 100 + t / SCN_MAX_CPUS + 1;
}

static unsigned json_tid(uint32_t t, unsigned kind)
{
	return kind * 1000 + t;
}

static void json_slice(FILE *f, char ph, const char *name, uint32_t t, unsigned kind, uint64_t ts)
{
	char buf[96];

	name = clean(buf, sizeof(buf), name, true);
	fprintf(f, "{\"name\":\"%s\",\"ph\":\"%c\",\"pid\":%u,\"tid\":%u,\"ts\":%llu},\n", name, ph,
		json_pid(t, kind), json_tid(t, kind), (unsigned long long)ts);
}

static void json_name(FILE *f, const char *what, unsigned pid, unsigned tid, const char *name)
{
	char buf[128];

	name = clean(buf, sizeof(buf), name, true);
	fprintf(f, "{\"name\":\"%s\",\"ph\":\"M\",\"pid\":%u,\"tid\":%u,\"args\":{\"name\":\"%s\"}},\n",
		what, pid, tid, name);
}

struct counts {
	uint64_t saves, restores, skipped, saved, restored;
};

int trace_write_json(const char *path, const struct run *r, const char *policy)
{
	FILE *f = fopen(path, "w");
	uint64_t i, n = rec_count(r), t0 = n ? rec_at(r, 0)->time : 0, end = r->end_time;
	uint32_t running[NTRACKS], owner[NTRACKS] = { 0 }, kfpu[NTRACKS] = { 0 };
	uint32_t ncpus[1 + SCN_MAX_VMS], vm, c, k, last = 0;
	struct counts cnt[1 + SCN_MAX_VMS] = { { 0 } };
	char name[64], pname[96];
	struct event ev;
	unsigned j;

	if (!f)
		return -1;
	first_running(r, running);
	ncpus[0] = r->k->ncpus;
	for (vm = 1; vm <= SCN_MAX_VMS; vm++)
		ncpus[vm] = vm <= r->k->nvms ? r->k->vms[vm - 1].hw.ncpus : 0;
	fprintf(f, "{\"displayTimeUnit\":\"ns\",\"otherData\":{\"policy\":\"%s\",\"time\":\"1 us = 1 machine step\"},"
		"\"traceEvents\":[\n", policy);
	for (vm = 0; vm <= SCN_MAX_VMS; vm++) {
		for (k = 0; k < P__COUNT && ncpus[vm]; k++) {
			snprintf(pname, sizeof(pname), "%s%s%s", vm ? "guest " : "host", vm ? vm_name(r, vm) : "",
				 proc_suffix[k]);
			json_name(f, "process_name", json_pid(vm * SCN_MAX_CPUS, k), json_tid(vm * SCN_MAX_CPUS, k), pname);
			for (c = 0; c < ncpus[vm]; c++) {
				machine_cpu_name(r, vm, c, name, sizeof(name));
				json_name(f, "thread_name", json_pid(vm * SCN_MAX_CPUS + c, k),
					  json_tid(vm * SCN_MAX_CPUS + c, k), name);
			}
		}
	}
	for (c = 0; c < NTRACKS; c++) {
		if (c % SCN_MAX_CPUS >= ncpus[c / SCN_MAX_CPUS])
			continue;
		machine_task_name(r, running[c], name, sizeof(name));
		json_slice(f, 'B', name, c, P_TASKS, t0);
	}
	for (i = 0; i < n; i++) {
		const struct ktrace_rec *e = rec_at(r, i);
		uint32_t t = track_of(e->cpu);
		struct counts *cn = &cnt[t / SCN_MAX_CPUS];
		bool counted = false;

		describe(r, e, &ev);
		if (e->type == KT_EV_SWITCH) {
			machine_task_name(r, running[t], name, sizeof(name));
			json_slice(f, 'E', name, t, P_TASKS, e->time);
			machine_task_name(r, e->b, name, sizeof(name));
			json_slice(f, 'B', name, t, P_TASKS, e->time);
			running[t] = e->b;
		}
		fprintf(f, "{\"name\":\"%s\",\"ph\":\"i\",\"s\":\"t\",\"pid\":%u,\"tid\":%u,\"ts\":%llu,\"args\":{",
			ev.name, json_pid(t, P_TASKS), json_tid(t, P_TASKS), (unsigned long long)e->time);
		for (j = 0; j < ev.n; j++)
			fprintf(f, ev.f[j].num ? "%s\"%s\":%s" : "%s\"%s\":\"%s\"", j ? "," : "", ev.f[j].key, ev.f[j].val);
		fprintf(f, "}},\n");
		if (e->type != KT_EV_FPU)
			continue;
		switch (e->a) {
		case FPU_EV_SAVE:
			cn->saves++;
			cn->saved += e->d;
			counted = true;
			break;
		case FPU_EV_RESTORE:
			cn->restores++;
			cn->restored += e->d;
			counted = true;
			break;
		case FPU_EV_SKIP_RESTORE:
			cn->skipped++;
			counted = true;
			break;
		}
		if (counted) {
			fprintf(f, "{\"name\":\"fpu\",\"ph\":\"C\",\"pid\":%u,\"tid\":%u,\"ts\":%llu,"
				"\"args\":{\"saves\":%llu,\"restores\":%llu,\"skipped_restores\":%llu}},\n",
				json_pid(t, P_TASKS), json_tid(t, P_TASKS), (unsigned long long)e->time,
				(unsigned long long)cn->saves, (unsigned long long)cn->restores,
				(unsigned long long)cn->skipped);
			fprintf(f, "{\"name\":\"fpu bytes\",\"ph\":\"C\",\"pid\":%u,\"tid\":%u,\"ts\":%llu,"
				"\"args\":{\"saved\":%llu,\"restored\":%llu}},\n",
				json_pid(t, P_TASKS), json_tid(t, P_TASKS), (unsigned long long)e->time,
				(unsigned long long)cn->saved, (unsigned long long)cn->restored);
		}
		/* Ownership: a save, restore, skip or deferred save leaves the
		 * registers holding that buffer; owner_drop leaves them holding none. */
		switch (e->a) {
		case FPU_EV_SAVE:
		case FPU_EV_RESTORE:
		case FPU_EV_SKIP_RESTORE:
		case FPU_EV_SAVE_DEFERRED:
			if (owner[t] == e->c || !e->c)
				break;
			/* fall through */
		case FPU_EV_OWNER_DROP:
			if (owner[t])
				json_slice(f, 'E', state_name(r, owner[t], name, sizeof(name)), t, P_REGS, e->time);
			owner[t] = e->a == FPU_EV_OWNER_DROP ? 0 : e->c;
			if (owner[t])
				json_slice(f, 'B', state_name(r, owner[t], name, sizeof(name)), t, P_REGS, e->time);
			break;
		case FPU_EV_KFPU_BEGIN:
			kfpu[t]++;
			json_slice(f, 'B', "kernel_fpu", t, P_KFPU, e->time);
			break;
		case FPU_EV_KFPU_END:
			if (!kfpu[t])
				break; /* its begin was dropped from the ring */
			kfpu[t]--;
			json_slice(f, 'E', "kernel_fpu", t, P_KFPU, e->time);
			break;
		}
	}
	/* Close what is still open, at the end of the run. */
	for (c = 0; c < NTRACKS; c++) {
		if (c % SCN_MAX_CPUS >= ncpus[c / SCN_MAX_CPUS])
			continue;
		end = n && rec_at(r, n - 1)->time > end ? rec_at(r, n - 1)->time : end;
		for (; kfpu[c]; kfpu[c]--)
			json_slice(f, 'E', "kernel_fpu", c, P_KFPU, end);
		if (owner[c])
			json_slice(f, 'E', state_name(r, owner[c], name, sizeof(name)), c, P_REGS, end);
		machine_task_name(r, running[c], name, sizeof(name));
		json_slice(f, 'E', name, c, P_TASKS, end);
	}
	/* Processes in order: each kernel's tasks, registers, kernel FPU. The
	 * last record closes the list (JSON has no trailing comma). */
	for (vm = 0; vm <= SCN_MAX_VMS; vm++)
		if (ncpus[vm])
			last = vm;
	for (vm = 0; vm <= SCN_MAX_VMS; vm++)
		for (k = 0; k < P__COUNT && ncpus[vm]; k++)
			fprintf(f, "{\"name\":\"process_sort_index\",\"ph\":\"M\",\"pid\":%u,\"tid\":%u,"
				"\"args\":{\"sort_index\":%u}}%s\n", json_pid(vm * SCN_MAX_CPUS, k),
				json_tid(vm * SCN_MAX_CPUS, k), vm * P__COUNT + k,
				vm == last && k == P__COUNT - 1 ? "" : ",");
	fprintf(f, "]}\n");
	return fclose(f);
}
