/* SPDX-License-Identifier: MIT */
/*
 * Virtual machines: a KVM-like run call, and guest kernels.
 *
 * A VM's guest is a second instance of this same kernel, booted on vCPUs (a
 * hw_machine marked virtual). A VMM user task of the host runs a vCPU with
 * the run call: the loop below enters the guest by switching to the vCPU's
 * stack. The guest's code runs on the real registers, with its own FPU
 * library instance and counters, until its next defined point: that is a VM
 * exit, back to this loop. The host then handles the exit as KVM would: it
 * takes its own interrupts and may preempt the vCPU thread like any task
 * (external interrupt), blocks the thread while the vCPU halts (HLT), or
 * returns to the VMM (I/O, the guest shut down, a signal for the VMM).
 *
 * The FPU side is the library's (include/fpuctx/kvm.h). This file adds the
 * guest-only state switched inside the entry window (XCR0, PKRU) and the
 * checks made at every entry.
 */
#include "kernel.h"
#include "vm.h"
#include "fpuctx/insn.h"
#include "fpuctx/kvm.h"

#define VM_ARENA_SIZE (12u << 20)
#define HALT_POLL     16u  /* a halted vCPU without a guest timer is looked at this often */

enum vm_exit { VMX_POINT, VMX_HLT, VMX_IO, VMX_SHUTDOWN, VMX_SIGNAL };

/* The vCPU thread is being switched out in a run call (its sched notifier). */
static void vcpu_sched_out(struct sched_notifier *n, struct kernel *k, struct kcpu *c,
			   struct task *prev)
{
	struct vcpu *v = container_of(n, struct vcpu, notifier);

	KTIMED(k, fpu_guest_sched_out(&c->fpu, &prev->fpu, &v->fpu));
}

static const char *vm_setup(struct kernel *k, struct vm *vm, const struct kernel_config *cfg,
			    uint64_t *missing)
{
	const struct scn_vm *sv = &k->scn->vms[vm->index - 1];
	struct kernel_config gc = *cfg;
	uint32_t pages = KMAX_TASKS * (USTACK_PAGES + ALTSTACK_PAGES), i;
	const char *msg;

	if (sv->features & ~k->fpu.mask) {
		*missing = sv->features & ~k->fpu.mask;
		return "the VM asks for features the host does not manage";
	}
	vm->features = (sv->features ? sv->features : k->fpu.mask) | FPU_XFEATURE_MASK_FPSSE;
	vm->tick = sv->tick;
	vm->hw.ncpus = sv->nvcpus;
	vm->hw.virtual = true;
	vm->hw.regfile_mask = k->hw->regfile_mask;
	vm->hw.xs = k->hw->xs;
	for (i = 0; i < sv->nvcpus; i++)
		vm->hw.cpu[i].deadline = HW_NO_DEADLINE;
	vm->guest = kalloc(k, sizeof(struct kernel));
	gc.root = k;
	gc.vm_index = vm->index;
	gc.want = vm->features | (k->fpu.has_pkru ? FPU_XFEATURE_MASK(FPU_XFEATURE_PKRU) : 0);
	gc.arena = kalloc_raw(k, VM_ARENA_SIZE, 64);
	gc.arena_size = VM_ARENA_SIZE;
	gc.user_mem = (void *)ualloc(k, pages);
	gc.user_mem_size = (size_t)pages * PAGE_SIZE;
	gc.trace = 0;
	if (!vm->guest || !gc.arena || !gc.user_mem)
		return "out of kernel memory for a VM";
	if ((msg = kernel_boot(vm->guest, &vm->hw, &gc, missing)) != 0)
		return msg;
	for (i = 0; i < sv->nvcpus; i++) {
		struct vcpu *v = &vm->vcpu[i];
		void *area = kalloc_fpstate(k, k->fpu.state_size);

		v->vm = vm;
		v->index = i;
		v->notifier.sched_out = vcpu_sched_out;
		v->next_tick = vm->tick ? vm->tick : HW_NO_DEADLINE;
		v->xsave = kalloc(k, k->oracle.std_size);
		if (!area || !v->xsave)
			return "out of kernel memory for a VM";
		if (!fpu_guest_init(&k->fpu, &v->fpu, area, fpu_state_size(&k->fpu),
				    vm->features & k->fpu.mask, VM_STATE_ID(vm->index, i)))
			return "the library refused a vCPU's state buffer";
	}
	return 0;
}

/* nvms counts only VMs that booted whole: whatever walks the VMs after a
 * failed boot never meets a half-built guest. */
const char *vm_boot_all(struct kernel *k, const struct kernel_config *cfg, uint64_t *missing)
{
	const char *msg;
	uint32_t i, n = k->scn->nvms;

	k->nvms = 0;
	if (!n)
		return 0;
	k->vms = kalloc(k, n * sizeof(struct vm));
	if (!k->vms) {
		k->failed_vm = 1;
		return "out of kernel memory for a VM";
	}
	for (i = 0; i < n; i++) {
		k->vms[i].index = i + 1;
		if ((msg = vm_setup(k, &k->vms[i], cfg, missing)) != 0) {
			k->failed_vm = i + 1;
			return msg;
		}
		k->nvms = i + 1;
	}
	return 0;
}

static struct vcpu *vcpu_of(struct kernel *k, struct task *t, const struct scn_op *op)
{
	if (k->vm_index || op->arg >= k->nvms || op->arg2 >= k->vms[op->arg].hw.ncpus) {
		runtime_error(k, t, op, "no such vCPU for this task");
		return 0;
	}
	return &k->vms[op->arg].vcpu[op->arg2];
}

/* The vCPU mutex: one run call at a time, and none while a VMM task has
 * the vCPU paused between its get and its set. */
static void vcpu_lock(struct kernel *k, struct vcpu *v, struct task *t)
{
	while (v->thread && v->thread != t)
		sleep_for(k, 1);
	v->thread = t;
}

/* A VMM task is exiting: it lets go of the vCPUs it paused (its slot may
 * be recycled, and must not hold them for a stranger). */
void vm_task_exit(struct kernel *k, struct task *t)
{
	uint32_t i, j;

	for (i = 0; i < k->nvms; i++)
		for (j = 0; j < k->vms[i].hw.ncpus; j++)
			if (k->vms[i].vcpu[j].thread == t) {
				k->vms[i].vcpu[j].thread = 0;
				k->vms[i].vcpu[j].have_xsave = false;
			}
}

/* ---- guest timers and wake-ups ---- */

static bool guest_timer_due(const struct vcpu *v, uint64_t now)
{
	return now >= v->vm->hw.cpu[v->index].deadline || now >= v->next_tick;
}

static void guest_timers(struct vcpu *v, uint64_t now)
{
	struct hw_machine *gm = &v->vm->hw;

	if (now >= gm->cpu[v->index].deadline) {
		gm->cpu[v->index].deadline = HW_NO_DEADLINE; /* the guest's handler re-arms */
		hw_raise(gm, v->index, IRQ_TIMER);
	}
	if (now >= v->next_tick) {
		v->next_tick = now + v->vm->tick;
		hw_raise(gm, v->index, IRQ_TIMER);
	}
}

/* A halted vCPU that now has something to do: wake its thread (a kick). */
static void vm_kick(struct kernel *k, struct vm *vm)
{
	uint32_t i;

	for (i = 0; i < vm->hw.ncpus; i++) {
		struct vcpu *v = &vm->vcpu[i];

		if (v->blocked && v->thread->state == TS_SLEEPING &&
		    (vm->hw.cpu[i].irq_pending || guest_timer_due(v, k->hw->now)))
			enqueue(k, v->thread, (uint32_t)v->thread->cpu);
	}
}

/* HLT: block the thread until the guest has an interrupt to take. */
static enum vm_exit vcpu_halt(struct kernel *k, struct vcpu *v)
{
	struct hw_cpu *g = &v->vm->hw.cpu[v->index];
	uint64_t now = k->hw->now, wake = g->deadline < v->next_tick ? g->deadline : v->next_tick;

	if (g->irq_pending || guest_timer_due(v, now))
		return VMX_POINT;
	if (v->vm->guest->res.finished)
		return VMX_SHUTDOWN;
	if (wake == HW_NO_DEADLINE)
		wake = now + HALT_POLL;
	v->blocked = true;
	sleep_for(k, wake > now ? wake - now : 1);
	v->blocked = false;
	return VMX_POINT;
}

/* ---- entry and exit ---- */

/* The xfeature a standard-format offset belongs to. */
static uint32_t component_at(const struct kernel *k, uint32_t off)
{
	uint32_t f;

	if (off < FPU_FXSAVE_XMM)
		return off == FPU_FXSAVE_MXCSR ? FPU_XFEATURE_SSE : FPU_XFEATURE_X87;
	if (off < FPU_FXSAVE_SIZE)
		return FPU_XFEATURE_SSE;
	for (f = 2; f < FPU_XFEATURE_MAX; f++)
		if (k->fpu.xs.size[f] && off >= k->fpu.xs.offset[f] &&
		    off < k->fpu.xs.offset[f] + k->fpu.xs.size[f])
			return f;
	return 0;
}

/* Is anything of another kernel in img (standard format)? Reports it as
 * seen by t; where: 3 at VM entry, 4 in a get. True when clean. */
static bool foreign_check(struct kernel *k, struct task *t, struct vcpu *v, const uint8_t *img,
			  uint8_t where, uint32_t line)
{
	struct oracle_finding f;
	uint32_t owner, gen, off;

	k->res.checks++;
	owner = image_foreign_owner(img, k->oracle.std_size, v->vm->index, &gen, &off);
	if (!owner)
		return true;
	kzero(&f, sizeof(f));
	f.offset = off;
	f.component = component_at(k, off);
	f.found_owner = owner;
	f.found_gen = gen;
	f.found_known = 1;
	kcopy(f.found, img + off, 8);
	kviolation(k, VIOL_STATE, where, this_cpu(k)->id, t->id, line, NULL, &f);
	return false;
}

/* Checks at every entry, on the registers the guest is about to get: no
 * other kernel's pattern anywhere, nothing live outside the guest's XCR0.
 * "Live" is judged by the bytes: XSTATE_BV may mark a component in use that
 * holds its init value. */
static void entry_checks(struct kernel *k, struct kcpu *c, struct task *t, struct vcpu *v)
{
	uint64_t host_only = k->fpu.mask & ~v->vm->features;

	hw_image_save(&k->fpu.xs, c->check_buf, k->oracle.user_mask); /* the checker's own: not counted */
	if (foreign_check(k, t, v, c->check_buf, 3, 0) && host_only &&
	    image_live_components(&k->oracle, c->check_buf, host_only))
		guest_state_violation(k, c, t, "a component outside the guest's XCR0 is live at VM entry");
}

static enum vm_exit vcpu_enter(struct kernel *k, struct task *t, struct vcpu *v)
{
	struct hw_machine *gm = &v->vm->hw;
	struct hw_cpu *g = &gm->cpu[v->index];
	struct kcpu *c = this_cpu(k);
	uint32_t host_pkru = 0;
	enum vm_exit why;

	c->irqs_off = true;
	while (c->need_resched) {
		schedule(k);
		c = this_cpu(k);
	}
	if (t->sig_pending) {
		c->irqs_off = false;
		return VMX_SIGNAL; /* the VMM handles it; the run call is restarted after */
	}
	KTIMED(k, fpu_guest_enter(&c->fpu, &t->fpu, &v->fpu));
	/* The entry window: guest-only state lives only between here and the exit. */
	c->xcr0 = v->vm->features;
	if (k->fpu.has_pkru) {
		host_pkru = fpu_rdpkru();
		fpu_wrpkru(v->pkru);
	}
	entry_checks(k, c, t, v);
	gm->running = v->index;
	gm->now = k->hw->now;
	guest_timers(v, k->hw->now);
	g->halted = false;
	g->exit_io = 0;
	ktrace(k, KT_EV_VM_ENTRY, t->id, v->vm->index, v->index, 0);
	hw_switch_stack(&g->exit_sp, g->sp);
	/* VM exit: still this CPU, interrupts still off. */
	why = g->exit_io ? VMX_IO : g->halted ? VMX_HLT : VMX_POINT;
	if (k->fpu.has_pkru) {
		v->pkru = fpu_rdpkru();
		fpu_wrpkru(host_pkru);
	}
	if (!(k->fpu.bugs & FPU_BUG_GUEST_XCR0_LEAK))
		c->xcr0 = k->fpu.mask;
	k->res.exits++;
	kernel_hash(k, 0xe0000000ull | (uint64_t)why << 16 | v->vm->index << 8 | v->index);
	ktrace(k, KT_EV_VM_EXIT, t->id, v->vm->index, v->index, why);
	c->irqs_off = false;
	return why;
}

/* The run call: enter the guest until an exit the VMM must see. */
void vm_run(struct kernel *k, struct task *t, const struct scn_op *op)
{
	struct vcpu *v = vcpu_of(k, t, op);
	enum vm_exit why;
	struct kcpu *c;

	if (!v)
		return;
	vcpu_lock(k, v, t);
	k->res.run_calls++;
	kernel_point(k, false); /* the call's own entry: preemptible before the swap */
	KTIMED(k, fpu_guest_run_begin(&this_cpu(k)->fpu, &t->fpu, &v->fpu));
	t->notifier = &v->notifier;
	do {
		kernel_point(k, false); /* interrupts on: the host's interrupts, preemption */
		why = vcpu_enter(k, t, v);
		if (why == VMX_HLT)
			why = vcpu_halt(k, v);
		vm_kick(k, v->vm);
	} while (why == VMX_POINT);
	t->notifier = NULL;
	c = this_cpu(k);
	KTIMED(k, fpu_guest_run_end(&c->fpu, &t->fpu, &v->fpu));
	c->xcr0 = k->fpu.mask; /* where the XCR0 bug restores it: too late */
	v->thread = 0;
	if (why == VMX_SIGNAL)
		t->pc--; /* run again once the signal is handled (a restarted system call) */
}

/* Guest side of an I/O access: exit to the host, which returns to the VMM. */
void vm_io_exit(struct kernel *k)
{
	if (!k->hw->virtual)
		return;
	k->hw->cpu[k->hw->running].exit_io = 1;
	hw_yield(k->hw);
}

/* `vset ... edit`: the VMM writes new XMM registers into the image it sets,
 * as a debugger's register write does (a restored snapshot differs the same
 * way). They are the registers of the guest task running on the vCPU, whose
 * state must be live there (else they would be nobody's); that task is told
 * to expect them. The image then differs from what the vCPU's registers held
 * at the last exit: a set that leaves the buffer looking loaded shows. */
static bool vcpu_edit(struct kernel *k, struct vcpu *v)
{
	struct kernel *g = v->vm->guest;
	struct kcpu *gc = &g->cpus[v->index];
	struct task *gt = gc->curr;
	uint8_t *fresh = gc->expect_buf;
	uint32_t i;

	if (gt->kind != KT_USER || (gt->fpu.flags & FPU_CTX_NEED_LOAD) || gt->exp_owner == OWNER_UNKNOWN)
		return false;
	if (gt->exp_owner != OWNER_IMAGE)
		pattern_build(&g->oracle, gt->exp_image, gt->exp_owner, gt->exp_gen, g->oracle.user_mask);
	gt->exp_owner = OWNER_IMAGE;
	pattern_build(&g->oracle, fresh, gt->id, ++gt->next_gen, g->oracle.user_mask);
	for (i = FPU_FXSAVE_XMM; i < FPU_FXSAVE_XMM + 256; i++)
		gt->exp_image[i] = v->xsave[i] = fresh[i];
	if (k->fpu.xs.has_xsave)
		v->xsave[FPU_XSAVE_HDR_OFFSET] |= (uint8_t)FPU_XFEATURE_MASK(FPU_XFEATURE_SSE);
	return true;
}

/* KVM_GET_XSAVE / KVM_SET_XSAVE, the way a VMM migrates a vCPU: get waits
 * for the run call to end and keeps the vCPU paused; set puts the state
 * back and lets it run. A get must hold the guest's own state only. */
void vm_get_set(struct kernel *k, struct task *t, const struct scn_op *op)
{
	struct vcpu *v = vcpu_of(k, t, op);
	enum fpu_regset_error e;

	if (!v)
		return;
	if (op->code == OP_VGET) {
		vcpu_lock(k, v, t);
		e = fpu_guest_get(&this_cpu(k)->fpu, &v->fpu, v->xsave);
		v->have_xsave = e == FPU_REGSET_OK;
		if (v->have_xsave) {
			k->res.vm_gets++;
			foreign_check(k, t, v, v->xsave, 4, op->line);
		}
	} else if (v->thread != t || !v->have_xsave) {
		runtime_error(k, t, op, "vset without a vget: this task has not paused the vCPU");
		return;
	} else if (op->code == OP_VSET_EDIT && !vcpu_edit(k, v)) {
		runtime_error(k, t, op, "vset edit: the guest task on this vCPU has no live FPU state to edit");
		return;
	} else {
		e = fpu_guest_set(&k->fpu, &v->fpu, v->xsave);
		v->have_xsave = false;
		v->thread = 0;
	}
	if (e)
		runtime_error(k, t, op, fpu_regset_error_str(e));
}

/* Sums the FPU counters of the host and of every guest (windows and results). */
void kernel_snapshot(struct kernel *k, struct fpu_stats *all, struct fpu_stats *guest,
		     uint64_t *switches)
{
	uint32_t i, j;

	kzero(all, sizeof(*all));
	kzero(guest, sizeof(*guest));
	*switches = k->res.switches;
	for (i = 0; i < k->ncpus; i++)
		fpu_stats_add(all, &k->cpus[i].fpu.stats);
	for (i = 0; i < k->nvms; i++) {
		struct kernel *g = k->vms[i].guest;

		for (j = 0; j < g->ncpus; j++)
			fpu_stats_add(guest, &g->cpus[j].fpu.stats);
		*switches += g->res.switches;
	}
	fpu_stats_add(all, guest);
}

/* The guests' own results go into the host's, where the tool reads them. */
void vm_collect(struct kernel *k)
{
	uint32_t i;

	for (i = 0; i < k->nvms; i++) {
		struct kresult *g = &k->vms[i].guest->res, *r = &k->res;

		r->switches += g->switches;
		r->checks += g->checks;
		r->ops += g->ops;
		r->irqs += g->irqs;
		r->forks_failed += g->forks_failed;
		r->fpu_cycles += g->fpu_cycles;
		r->fpu_timed += g->fpu_timed;
		r->signals += g->signals;
		r->sigreturns += g->sigreturns;
		r->sigsegv += g->sigsegv;
		r->killed += g->killed;
	}
}
