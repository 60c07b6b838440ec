/* SPDX-License-Identifier: MIT */
/* Boot: the FPU library instance, CPUs with their idle tasks, the scenario's tasks. */
#include "kernel.h"
#include "vm.h"

/* Memory nobody reads before writing (a guest kernel's own arena). */
void *kalloc_raw(struct kernel *k, size_t size, size_t align)
{
	size_t at = (k->arena_used + align - 1) & ~(align - 1);

	if (at + size > k->arena_size)
		return 0;
	k->arena_used = at + size;
	return k->arena + at;
}

void *kalloc(struct kernel *k, size_t size)
{
	void *p = kalloc_raw(k, size, 64);

	if (p)
		kzero(p, size);
	return p;
}

/* A register image buffer, poisoned rather than zeroed, as a slab allocator
 * with poisoning leaves it: all-zero bytes would restore as the init state
 * (XSTATE_BV 0), so a buffer the library forgot to initialise would pass.
 * Poison makes the restore fault, or the check find bytes nobody loaded. */
void *kalloc_fpstate(struct kernel *k, size_t size)
{
	void *p = kalloc_raw(k, size, 64);

	if (p)
		kfill(p, KPOISON, size);
	return p;
}

/* A free slot: never used, or dead (its stack and buffers are recycled, as a
 * kernel recycles task structs: stale ownership must not make it look loaded,
 * and the dead task's image is still in its register buffer, not zeroed). */
static struct task *find_slot(struct kernel *k)
{
	uint32_t i;

	for (i = k->ncpus; i < k->ntask_slots; i++)
		if (k->tasks[i].state == TS_DEAD)
			return &k->tasks[i];
	if (k->ntask_slots == KMAX_TASKS)
		return 0;
	return &k->tasks[k->ntask_slots++];
}

static uint32_t task_id(const struct kernel *k, const struct task *t)
{
	return k->vm_index << 8 | ((uint32_t)(t - k->tasks) + 1);
}

/* Page-aligned user memory for stacks. */
uintptr_t ualloc(struct kernel *k, uint32_t pages)
{
	size_t bytes = (size_t)pages * PAGE_SIZE;
	uintptr_t p;

	if (k->user_mem_used + bytes > k->user_mem_size)
		return 0;
	p = (uintptr_t)k->user_mem + k->user_mem_used;
	k->user_mem_used += bytes;
	return p;
}

static bool task_buffers(struct kernel *k, struct task *t)
{
	if (t->kstack)
		return true; /* recycled */
	t->kstack = kalloc(k, KSTACK_SIZE);
	t->user_buf = kalloc(k, 2 * (size_t)k->oracle.std_size);
	t->exp_image = kalloc(k, k->oracle.std_size);
	t->frame_buf = kalloc(k, k->oracle.std_size);
	t->ustack_lo = ualloc(k, USTACK_PAGES);
	t->alt_lo = ualloc(k, ALTSTACK_PAGES);
	t->ustack_hi = t->ustack_lo + USTACK_PAGES * PAGE_SIZE;
	t->alt_hi = t->alt_lo + ALTSTACK_PAGES * PAGE_SIZE;
	return fpu_state_setup(&k->fpu, &t->fpstate, kalloc_fpstate(k, fpu_state_size(&k->fpu)),
			       fpu_state_size(&k->fpu), t->id) &&
	       t->kstack && t->user_buf && t->exp_image && t->frame_buf && t->ustack_lo && t->alt_lo;
}

/* A new (or recycled) task starts with no signals and a usable stack. */
static void signal_setup(struct kernel *k, struct task *t)
{
	t->usp = t->ustack_hi;
	t->altstack_on = false;
	t->in_segv = false;
	t->sig_pending = 0;
	t->sig_depth = 0;
	user_set_pages(k, t->ustack_lo, t->ustack_hi, PG_PRESENT);
	user_set_pages(k, t->alt_lo, t->alt_hi, PG_PRESENT);
}

static void task_setup(struct kernel *k, struct task *t, uint8_t kind, int cpu)
{
	t->k = k;
	t->id = task_id(k, t);
	t->kind = kind;
	t->cpu = cpu;
	t->queued = 0;
	t->wake_pending = 0;
	t->loop_depth = 0;
	t->pc = 0;
	t->spin_left = 0;
	t->exp_owner = OWNER_INIT;
	t->exp_gen = 0;
	fpu_ctx_init(&k->fpu, &t->fpu, &t->fpstate, t->id, kind != KT_USER);
	signal_setup(k, t);
}

struct task *task_create(struct kernel *k, uint32_t scn_index, int cpu)
{
	const struct scn_task *st = &k->scn->tasks[scn_index];
	struct task *t = find_slot(k);

	if (!t)
		return 0;
	t->id = task_id(k, t);
	if (!task_buffers(k, t))
		return 0;
	task_setup(k, t, st->kind == TASK_USER ? KT_USER : KT_KTHREAD, cpu);
	t->scn_task = scn_index;
	t->prog = &k->scn->ops[st->first_op];
	t->nops = st->nops;
	t->state = TS_RUNNABLE;
	t->ksp = hw_stack_init(t->kstack + KSTACK_SIZE, task_main, t);
	k->live_tasks++;
	return t;
}

static const char *boot_cpu(struct kernel *k, uint32_t id)
{
	struct kcpu *c = &k->cpus[id];
	struct task *idle = &k->tasks[id];

	c->id = id;
	c->fpu.sys = &k->fpu;
	c->fpu.id = (int32_t)id;
	c->kfpu_image = kalloc(k, k->oracle.std_size);
	c->check_buf = kalloc(k, k->oracle.std_size);
	c->expect_buf = kalloc(k, k->oracle.std_size);
	if (!c->kfpu_image || !c->check_buf || !c->expect_buf)
		return "out of kernel memory";
	c->xcr0 = k->fpu.mask;
	pattern_build(&k->oracle, c->kfpu_image, k->vm_index << 8 | OWNER_KERNEL, id, k->fpu.mask);
	idle->id = task_id(k, idle);
	if (!task_buffers(k, idle))
		return "out of kernel memory";
	task_setup(k, idle, KT_IDLE, (int)id);
	idle->scn_task = UINT32_MAX;
	idle->state = TS_RUNNING;
	c->idle = c->curr = idle;
	/* The CPU's boot context is its idle task. */
	k->hw->cpu[id].sp = hw_stack_init(idle->kstack + KSTACK_SIZE, idle_main, k);
	return 0;
}

const char *kernel_boot(struct kernel *k, struct hw_machine *hw, const struct kernel_config *cfg,
			uint64_t *missing)
{
	enum fpu_setup_error err;
	const char *msg;
	uint32_t i;

	k->hw = hw;
	k->scn = cfg->scn;
	k->root = cfg->root ? cfg->root : k;
	k->vm_index = cfg->vm_index;
	k->ncpus = cfg->vm_index ? cfg->scn->vms[cfg->vm_index - 1].nvcpus : cfg->scn->ncpus;
	k->arena = cfg->arena;
	k->arena_size = cfg->arena_size;
	k->trace = cfg->trace;
	k->trace_cap = cfg->trace_cap;
	k->user_mem = cfg->user_mem;
	k->user_mem_size = cfg->user_mem_size;
	k->res.hash = 0xcbf29ce484222325ull;
	err = fpu_system_init(&k->fpu, cfg->policy, cfg->want, cfg->insn, &sim_port_ops, k, missing);
	if (err)
		return fpu_setup_error_str(err);
	k->fpu.bugs = cfg->bugs;
	k->oracle.xs = &k->fpu.xs;
	k->oracle.x87_kept = k->fpu.xs.x87.kept;
	if (cfg->pretend & FPU_PRETEND_FXSAVE_LEAK) {
		/* The emulation moves the pointers with FXSAVE/FXRSTOR, and the
		 * oracle sees them with XSAVE: both need a CPU that keeps them. */
		if (k->fpu.xs.x87.kept != FPU_X87_POINTERS)
			return "--pretend fxsave-leak needs a CPU whose restores load FOP/FIP/FDP "
			       "(see 'fpuctx info'): this one's do not, so a leak could not be seen";
		/* what such a CPU keeps through a restore: nothing */
		k->fpu.pretend |= FPU_PRETEND_FXSAVE_LEAK;
		k->fpu.xs.x87.leaks = true;
		k->oracle.x87_kept = 0;
	}
	if (cfg->pretend & SIM_PRETEND_X87_KEPT)
		k->oracle.x87_kept = FPU_X87_POINTERS;
	k->oracle.user_mask = k->fpu.mask | (k->fpu.has_pkru ? FPU_XFEATURE_MASK(FPU_XFEATURE_PKRU) : 0);
	k->oracle.std_size = fpu_xstate_size(&k->fpu.xs, FPU_INSN_XSAVE, k->oracle.user_mask | k->fpu.mask);
	{
		void *area = kalloc(k, fpu_state_size(&k->fpu));
		if (!area)
			return "out of kernel memory";
		if (!fpu_system_set_init_area(&k->fpu, &k->init_state, area, fpu_state_size(&k->fpu)))
			return "the library refused the init image's buffer";
	}
	k->page_state = kalloc(k, k->user_mem_size / PAGE_SIZE + 1);
	if (!k->page_state)
		return "out of kernel memory";
	k->ntask_slots = k->ncpus;
	for (i = 0; i < k->ncpus; i++)
		if ((msg = boot_cpu(k, i)) != 0)
			return msg;
	if (!k->vm_index && (msg = vm_boot_all(k, cfg, missing)) != 0)
		return msg;
	for (i = 0; i < k->scn->ntasks; i++) {
		const struct scn_task *st = &k->scn->tasks[i];
		struct task *t;

		if (st->forked || st->vm != k->vm_index)
			continue;
		t = task_create(k, i, st->cpu);
		if (!t)
			return "too many tasks for kernel memory";
		enqueue(k, t, (uint32_t)st->cpu);
	}
	if (k->live_tasks == 0)
		k->res.finished = true;
	return 0;
}

void kernel_collect(struct kernel *k)
{
	uint64_t switches;

	kernel_snapshot(k, &k->res.total, &k->res.guest, &switches);
	vm_collect(k);
}
