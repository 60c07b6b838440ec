/* SPDX-License-Identifier: MIT */
/*
 * Guest FPU state for hypervisors (include/fpuctx/kvm.h). Built on the state
 * machine's helpers: a guest only changes which buffer is the VMM task's
 * active one, so the invariants of core/fpu.c carry over unchanged.
 *
 * G1  While g is swapped in (vmm->stashed != NULL), every save of the VMM
 *     context lands in g's buffer; the VMM's own buffer is untouched until
 *     the swap-out (the second seed's question, Linux bug 6).
 * G2  The VMM's registers are saved at swap-in only if they are live: under
 *     deferred restore the registers may hold anyone's state (bug of 5.2).
 * G3  Entry makes the guest's state live whatever happened since the swap-in
 *     (an interrupt's kernel FPU section may have used the registers: bug 7).
 */
#include "fpuctx/kvm.h"
#include "fpuctx/sched.h"
#include "backend.h"
#include "internal.h"
#include "util.h"

bool fpu_guest_init(struct fpu_system *sys, struct fpu_guest *g, void *area, uint32_t area_size,
		    uint64_t features, uint32_t id)
{
	if ((features & ~sys->mask) || !fpu_state_setup(sys, &g->state, area, area_size, id))
		return false;
	fpu_hw_copy(sys, area, sys->init_state->area, g->state.mask);
	g->features = features | FPU_XFEATURE_MASK_FPSSE;
	g->in_run = 0;
	return true;
}

bool fpu_guest_active(const struct fpu_ctx *vmm, const struct fpu_guest *g)
{
	return vmm->active == &g->state;
}

static bool per_entry(const struct fpu_cpu *cpu)
{
	return cpu->sys->policy->guest_swap_per_entry;
}

/* The VMM's state goes away (G2), g's becomes the context's state (G1). */
static void swap_in(struct fpu_cpu *cpu, struct fpu_ctx *vmm, struct fpu_guest *g)
{
	struct fpu_system *sys = cpu->sys;
	bool live = FPU_BUG(sys, GUEST_SCRATCH) ? fpu__has_fpu(sys, vmm)
						       : fpu__regs_live(sys, vmm);

	if (live)
		fpu__save_regs(cpu, vmm, vmm->active);
	if (FPU_BUG(sys, GUEST_SAVE_TO_VMM)) {
		vmm->stashed = &g->state; /* 2018: loaded beside the task's state, not instead of it */
	} else {
		vmm->stashed = vmm->active;
		vmm->active = &g->state;
	}
	fpu__set_need_load(cpu, vmm);
	fpu__emit(cpu, FPU_EV_GUEST_BEGIN, vmm, &g->state, 0, 0);
}

/* The state in the registers, if live, goes to g (or, deferring the save,
 * stays there as g's unsaved image: I9); the VMM's buffer is active again. */
static void swap_out(struct fpu_cpu *cpu, struct fpu_ctx *vmm, struct fpu_guest *g)
{
	if (fpu__regs_live(cpu->sys, vmm)) {
		/* live registers are the guest's here, bug or not */
		if (cpu->sys->policy->defer_save && vmm->active == &g->state) {
			fpu__defer_save(cpu, vmm, &g->state);
		} else {
			fpu__save_regs(cpu, vmm, &g->state);
		}
	}
	fpu__emit(cpu, FPU_EV_GUEST_END, vmm, &g->state, 0, 0);
	if (vmm->active == &g->state)
		vmm->active = vmm->stashed;
	vmm->stashed = 0;
	fpu__set_need_load(cpu, vmm);
}

/* Registers <- the active state, unconditionally. */
static void load_active(struct fpu_cpu *cpu, struct fpu_ctx *vmm)
{
	struct fpu_state *s = FPU_BUG(cpu->sys, GUEST_SAVE_TO_VMM) && vmm->stashed
				      ? vmm->stashed : vmm->active;

	fpu__load_regs(cpu, vmm, s);
	vmm->flags &= ~FPU_CTX_NEED_LOAD;
}

void fpu_guest_run_begin(struct fpu_cpu *cpu, struct fpu_ctx *vmm, struct fpu_guest *g)
{
	if (vmm->stashed || g->in_run) {
		fpu__warn(cpu, "run call begun while another one is active");
		return;
	}
	g->in_run = vmm;
	if (per_entry(cpu))
		return; /* swapped in at each entry */
	fpu__lock(cpu);
	swap_in(cpu, vmm, g);
	if (FPU_BUG(cpu->sys, GUEST_ENTER_NO_RELOAD))
		load_active(cpu, vmm); /* 4.15: loaded here, and entry trusts it is still loaded */
	fpu__unlock(cpu);
}

void fpu_guest_enter(struct fpu_cpu *cpu, struct fpu_ctx *vmm, struct fpu_guest *g)
{
	struct fpu_system *sys = cpu->sys;

	if (g->in_run != vmm) {
		fpu__warn(cpu, "VM entry outside a run call");
		return;
	}
	if (per_entry(cpu)) {
		if (!vmm->stashed)
			swap_in(cpu, vmm, g);
		if (vmm->flags & FPU_CTX_NEED_LOAD)
			load_active(cpu, vmm); /* G3; no validity check: the 2015 design always loads */
		return;
	}
	if (FPU_BUG(sys, GUEST_ENTER_NO_RELOAD))
		return;
	if (!(vmm->flags & FPU_CTX_NEED_LOAD))
		return;
	if (FPU_BUG(sys, GUEST_SAVE_TO_VMM))
		load_active(cpu, vmm);
	else
		fpu__make_regs_live(cpu, vmm); /* G3 */
}

void fpu_guest_sched_out(struct fpu_cpu *cpu, struct fpu_ctx *vmm, struct fpu_guest *g)
{
	if (!per_entry(cpu) || !vmm->stashed)
		return; /* run-call swap: the switch saves the guest like any task state */
	fpu__lock(cpu);
	swap_out(cpu, vmm, g);
	if (cpu->sys->policy->kfpu_end_restores)
		load_active(cpu, vmm); /* eager: the VMM's state is back in the registers at once */
	fpu__unlock(cpu);
}

void fpu_guest_run_end(struct fpu_cpu *cpu, struct fpu_ctx *vmm, struct fpu_guest *g)
{
	if (g->in_run != vmm) {
		fpu__warn(cpu, "run call ended that was not begun");
		return;
	}
	fpu__lock(cpu);
	if (vmm->stashed)
		swap_out(cpu, vmm, g);
	g->in_run = 0;
	fpu__unlock(cpu);
}

enum fpu_regset_error fpu_guest_get(struct fpu_cpu *cpu, struct fpu_guest *g, void *std)
{
	if (g->in_run)
		return FPU_REGSET_BUSY;
	fpu__lock(cpu);
	fpu__sync_buffer(cpu, &g->state); /* I9: the image may still be in some CPU's registers */
	fpu__unlock(cpu);
	fpu_regset_to_standard(cpu->sys, g->state.area, g->features, std);
	return FPU_REGSET_OK;
}

enum fpu_regset_error fpu_guest_set(struct fpu_system *sys, struct fpu_guest *g, const void *std)
{
	enum fpu_regset_error e;

	if (g->in_run)
		return FPU_REGSET_BUSY;
	e = fpu_regset_validate(sys, std, g->features);
	if (e)
		return e;
	/* The image changes in memory: no CPU may think it holds it (I1), and
	 * an unsaved one is dropped, not written back over it (I9). */
	fpu__discard_unsaved(&g->state);
	fpu__publish(&g->state, -1, FPU_SAVED);
	fpu_regset_from_standard(sys, std, g->features, g->state.area);
	return FPU_REGSET_OK;
}
