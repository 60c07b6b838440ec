/* SPDX-License-Identifier: MIT */
/*
 * The machine loop. Hosted code (libc, compiler-chosen SIMD): it only ever
 * runs on the clean register file that hw_yield() loads, never on a
 * simulated CPU's registers.
 *
 * Determinism: every choice (which CPU runs next, which interrupt arrives
 * where) comes from one splitmix64 stream seeded by the run's seed, and the
 * clock is the step count. Same seed, same scenario, same events.
 */
#define _GNU_SOURCE
#include "machine.h"
#include "fpuctx/insn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define ARCH_GET_XCOMP_PERM 0x1022
#define ARCH_REQ_XCOMP_PERM 0x1023
#define ARENA_SIZE ((48u + 14u * SCN_MAX_VMS) << 20)
#define DEFAULT_MAX_STEPS 20000000ull
#define USER_MEM_SIZE ((size_t)(1 + SCN_MAX_VMS) * KMAX_TASKS * (USTACK_PAGES + ALTSTACK_PAGES) * PAGE_SIZE)

/* aligned_alloc wants a size that is a multiple of the alignment (C11). */
static void *alloc64(size_t size)
{
	return aligned_alloc(64, (size + 63) & ~(size_t)63);
}

uint64_t splitmix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

uint64_t machine_permitted_features(void)
{
	uint32_t r[4];
	uint64_t xcr0, perm = 0;

	fpu_cpuid(1, 0, r);
	if (!(r[2] & (1u << 27)))
		return FPU_XFEATURE_MASK_FPSSE;
	xcr0 = fpu_xgetbv(0);
	if (xcr0 & FPU_XFEATURE_MASK(FPU_XFEATURE_XTILEDATA))
		syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, FPU_XFEATURE_XTILEDATA);
	if (syscall(SYS_arch_prctl, ARCH_GET_XCOMP_PERM, &perm) != 0)
		perm = xcr0 & ~(FPU_XFEATURE_MASK(FPU_XFEATURE_XTILECFG) | FPU_XFEATURE_MASK(FPU_XFEATURE_XTILEDATA));
	return xcr0 & perm;
}

static void setup_hw(struct hw_machine *m, const struct fpu_xstate_info *xs, uint32_t ncpus,
		     uint64_t mask, uint8_t *mem, uint32_t size)
{
	uint32_t c;

	m->ncpus = ncpus;
	m->regfile_mask = mask;
	m->xs = *xs;
	m->clean = mem;
	fpu_xstate_init_image(xs, hw_image_insn(xs), mask, mem);
	for (c = 0; c < ncpus; c++) {
		m->cpu[c].regfile = mem + (size_t)(c + 1) * size;
		memcpy(m->cpu[c].regfile, mem, size);
		m->cpu[c].deadline = HW_NO_DEADLINE;
	}
}

/* Timers and (under stress) random interrupts for this step. */
/* Under stress, a guest's vCPUs get random interrupts too (taken at their next entry). */
static void raise_guest_interrupt(struct kernel *k, uint64_t r)
{
	struct vm *vm;
	uint32_t c;

	if (!k->nvms)
		return;
	vm = &k->vms[(r >> 16) % k->nvms];
	c = (uint32_t)((r >> 24) % vm->hw.ncpus);
	switch ((r >> 32) & 3) {
	case 0: hw_raise(&vm->hw, c, IRQ_TIMER); break;
	case 1: hw_raise(&vm->hw, c, IRQ_KFPU); break;
	case 2:
		vm->hw.cpu[c].balance_to = (uint32_t)((r >> 40) % vm->hw.ncpus);
		hw_raise(&vm->hw, c, IRQ_BALANCE);
		break;
	default:
		vm->hw.cpu[c].signal_to = (uint32_t)((r >> 40) % KMAX_TASKS);
		vm->hw.cpu[c].signal_what = (uint32_t)((r >> 48) % 2);
		hw_raise(&vm->hw, c, IRQ_SIGNAL);
	}
}

static void raise_interrupts(struct hw_machine *m, struct kernel *k, const struct run_config *cfg,
			     uint64_t *rng, uint64_t *next_tick)
{
	uint32_t c;

	for (c = 0; c < m->ncpus; c++) {
		if (m->now >= m->cpu[c].deadline) {
			m->cpu[c].deadline = HW_NO_DEADLINE; /* the handler re-arms */
			hw_raise(m, c, IRQ_TIMER);
		}
		if (cfg->scn->tick && m->now >= next_tick[c]) {
			next_tick[c] += cfg->scn->tick;
			hw_raise(m, c, IRQ_TIMER);
		}
	}
	if (cfg->stress) {
		uint64_t r = splitmix64(rng);
		uint32_t target = (uint32_t)((r >> 8) % m->ncpus);

		switch (r & 63) {
		case 0: case 1: hw_raise(m, target, IRQ_TIMER); break;
		case 2: hw_raise(m, target, IRQ_KFPU); break;
		case 3:
			m->cpu[target].balance_to = (uint32_t)((r >> 24) % m->ncpus);
			hw_raise(m, target, IRQ_BALANCE);
			break;
		case 4:
			m->cpu[target].signal_to = (uint32_t)((r >> 24) % KMAX_TASKS);
			m->cpu[target].signal_what = (uint32_t)((r >> 40) % 2);
			hw_raise(m, target, IRQ_SIGNAL);
			break;
		case 5: case 6: raise_guest_interrupt(k, r); break;
		case 7:
			m->cpu[target].steal_from = (uint32_t)((r >> 24) % m->ncpus);
			hw_raise(m, target, IRQ_STEAL);
			break;
		default: break;
		}
	}
}

/* Nothing can run: jump the clock to the next timer. False if there is none. */
static bool fast_forward(struct hw_machine *m, const struct run_config *cfg, uint64_t *next_tick)
{
	uint64_t t = HW_NO_DEADLINE;
	uint32_t c;

	for (c = 0; c < m->ncpus; c++) {
		if (m->cpu[c].deadline < t)
			t = m->cpu[c].deadline;
		if (cfg->scn->tick && next_tick[c] < t)
			t = next_tick[c];
	}
	if (t == HW_NO_DEADLINE)
		return false;
	if (t > m->now)
		m->now = t;
	return true;
}

static void report_deadlock(struct kernel *k)
{
	kviolation(k, VIOL_DEADLOCK, 0, 0, 0, 0,
		   "every CPU is idle, no timer is armed, and these tasks never exited", NULL);
}

static void machine_loop(struct hw_machine *m, struct kernel *k, const struct run_config *cfg,
			 struct run *out)
{
	uint64_t rng = cfg->seed, max = cfg->max_steps ? cfg->max_steps : DEFAULT_MAX_STEPS;
	uint64_t next_tick[SCN_MAX_CPUS];
	uint32_t c;

	for (c = 0; c < m->ncpus; c++)
		next_tick[c] = cfg->scn->tick;
	while (!k->res.finished && out->steps < max) {
		uint32_t cand[SCN_MAX_CPUS], n = 0;

		raise_interrupts(m, k, cfg, &rng, next_tick);
		for (c = 0; c < m->ncpus; c++)
			if (!m->cpu[c].halted || m->cpu[c].irq_pending)
				cand[n++] = c;
		if (n == 0) {
			if (!fast_forward(m, cfg, next_tick)) {
				report_deadlock(k);
				return;
			}
			continue;
		}
		c = n == 1 ? cand[0] : cand[splitmix64(&rng) % n];
		hw_run_cpu(m, c);
		out->steps++;
		m->now++;
	}
	out->out_of_steps = !k->res.finished && !cfg->stress;
}

/* On error, out->error says why and out->k (if set) is the kernel as far as
 * it booted: enough to report from, and machine_release frees it all. */
int machine_run(const struct run_config *cfg, struct run *out)
{
	struct kernel_config kc;
	struct hw_machine *m;
	uint64_t mask = machine_permitted_features();
	struct fpu_xstate_info xs;
	uint64_t missing;
	uint32_t size;
	uint8_t *regs;

	memset(out, 0, sizeof(*out));
	memset(&kc, 0, sizeof(kc));
	kc.user_mem = MAP_FAILED;
	fpu_xstate_enumerate(&xs, ~0ull, &missing);
	size = (fpu_xstate_size(&xs, hw_image_insn(&xs), mask) + 63) & ~63u;
	m = alloc64(sizeof(*m));
	out->k = alloc64(sizeof(struct kernel));
	out->arena = kc.arena = alloc64(ARENA_SIZE);
	regs = alloc64((size_t)(cfg->scn->ncpus + 1) * size);
	if (out->k)
		memset(out->k, 0, sizeof(struct kernel));
	if (cfg->trace_cap) {
		out->trace = calloc(cfg->trace_cap, sizeof(*out->trace));
		kc.trace = out->trace;
		kc.trace_cap = cfg->trace_cap;
	}
	if (!m || !out->k || !kc.arena || !regs || (cfg->trace_cap && !out->trace)) {
		out->error = "out of memory";
		goto done;
	}
	memset(m, 0, sizeof(*m));
	setup_hw(m, &xs, cfg->scn->ncpus, mask, regs, size);
	kc.scn = cfg->scn;
	kc.policy = cfg->policy;
	kc.insn = cfg->insn;
	kc.want = cfg->want == ~0ull ? mask : cfg->want;
	kc.bugs = cfg->bugs;
	kc.pretend = cfg->pretend;
	kc.arena_size = ARENA_SIZE;
	kc.user_mem = mmap(0, USER_MEM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	kc.user_mem_size = USER_MEM_SIZE;
	if (kc.user_mem == MAP_FAILED) {
		out->error = "cannot map user memory";
		goto done;
	}
	machine_install_fault_handler();
	out->error = kernel_boot(out->k, m, &kc, &out->missing);
	if (out->error)
		goto done; /* nothing ran: nothing to collect */
	machine_loop(m, out->k, cfg, out);
	kernel_collect(out->k);
	out->end_time = m->now;
done:
	if (out->k)
		out->k->hw = 0; /* the machine is gone after this */
	if (kc.user_mem != MAP_FAILED)
		munmap(kc.user_mem, USER_MEM_SIZE);
	free(regs);
	free(m);
	return out->error ? -1 : 0;
}

void machine_release(struct run *r)
{
	free(r->k);
	free(r->arena);
	free(r->trace);
	memset(r, 0, sizeof(*r));
}

/* The kernel a task id belongs to: the host's, or a guest's. */
static const struct kernel *kernel_of(const struct run *r, uint32_t vm)
{
	if (vm == 0)
		return r->k;
	return vm <= r->k->nvms ? r->k->vms[vm - 1].guest : 0;
}

void machine_cpu_name(const struct run *r, uint32_t vm, uint32_t cpu, char *buf, size_t len)
{
	if (vm && vm <= r->k->nvms)
		snprintf(buf, len, "%s vcpu %u", r->k->scn->vms[vm - 1].name, cpu);
	else
		snprintf(buf, len, "cpu %u", cpu);
}

void machine_task_name(const struct run *r, uint32_t id, char *buf, size_t len)
{
	const struct kernel *k = kernel_of(r, TASK_VM(id));
	const char *vm = TASK_VM(id) && k ? r->k->scn->vms[TASK_VM(id) - 1].name : "";
	const struct task *t;
	uint32_t slot = TASK_SLOT(id);

	if (!k || (id & 0xff) == 0) {
		snprintf(buf, len, "task#%u", id);
		return;
	}
	if ((id & 0xe0) == 0xe0 && (id & 0xff) < 0xe0 + SCN_MAX_VCPUS) {
		snprintf(buf, len, "%s/vcpu%u guest state", vm, id & 0x1f);
		return;
	}
	if (slot >= KMAX_TASKS) {
		snprintf(buf, len, "task#%u", id);
		return;
	}
	t = &k->tasks[slot];
	if (t->kind == KT_IDLE)
		snprintf(buf, len, "%s%sidle/%u", vm, *vm ? ":" : "", slot);
	else if (t->scn_task < k->scn->ntasks)
		snprintf(buf, len, "%s", k->scn->tasks[t->scn_task].name);
	else
		snprintf(buf, len, "task#%u", id);
}
