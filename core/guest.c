/* SPDX-License-Identifier: MIT */
/*
 * Guest FPU state for hypervisors (include/fpuctx/kvm.h). Built on the state
 * machine's helpers: a run call only changes which buffer is the VMM task's
 * active one, so the invariants of core/fpu.c carry over unchanged.
 */
#include "fpuctx/kvm.h"
#include "fpuctx/sched.h"
#include "internal.h"
#include "util.h"

bool fpu_guest_init(struct fpu_system *sys, struct fpu_guest *g, void *area, uint64_t features,
		    uint32_t id)
{
	if (features & ~sys->mask)
		return false;
	fpu_state_setup(sys, &g->state, area, id);
	fpu_bytes_copy(area, sys->init_state->area, sys->state_size);
	g->features = features | XFEATURE_MASK_FPSSE;
	return true;
}

bool fpu_guest_active(const struct fpu_ctx *vmm, const struct fpu_guest *g)
{
	return vmm->active == &g->state;
}

void fpu_guest_run_begin(struct fpu_cpu *cpu, struct fpu_ctx *vmm, struct fpu_guest *g)
{
	struct fpu_system *sys = cpu->sys;

	if (vmm->stashed) {
		fpu__warn(cpu, "run call begun while another one is active");
		return;
	}
	fpu__lock(cpu);
	if (fpu__regs_live(sys, vmm))
		fpu__save_regs(cpu, vmm, vmm->active);
	if (sys->bugs & FPU_BUG_GUEST_SAVE_TO_VMM) {
		vmm->stashed = &g->state; /* the 2018 design: the guest is loaded beside the task's state */
	} else {
		vmm->stashed = vmm->active;
		vmm->active = &g->state;
	}
	fpu__set_need_load(cpu, vmm);
	fpu__emit(cpu, FPU_EV_GUEST_BEGIN, vmm, &g->state, 0, 0);
	fpu__unlock(cpu);
}

void fpu_guest_enter(struct fpu_cpu *cpu, struct fpu_ctx *vmm)
{
	if (!vmm->stashed) {
		fpu__warn(cpu, "VM entry outside a run call");
		return;
	}
	if ((cpu->sys->bugs & FPU_BUG_GUEST_SAVE_TO_VMM) && (vmm->flags & FPU_CTX_NEED_LOAD)) {
		fpu__load_regs(cpu, vmm, vmm->stashed);
		vmm->flags &= ~FPU_CTX_NEED_LOAD;
		return;
	}
	if (vmm->flags & FPU_CTX_NEED_LOAD)
		fpu__make_regs_live(cpu, vmm);
}

void fpu_guest_run_end(struct fpu_cpu *cpu, struct fpu_ctx *vmm)
{
	struct fpu_system *sys = cpu->sys;

	if (!vmm->stashed) {
		fpu__warn(cpu, "run call ended that was not begun");
		return;
	}
	fpu__lock(cpu);
	if (sys->bugs & FPU_BUG_GUEST_SAVE_TO_VMM) {
		if (fpu__regs_live(sys, vmm))
			fpu__save_regs(cpu, vmm, vmm->stashed);
		vmm->stashed = 0;
		fpu__set_need_load(cpu, vmm);
		fpu__unlock(cpu);
		return;
	}
	if (fpu__regs_live(sys, vmm))
		fpu__save_regs(cpu, vmm, vmm->active);
	fpu__emit(cpu, FPU_EV_GUEST_END, vmm, vmm->active, 0, 0);
	vmm->active = vmm->stashed;
	vmm->stashed = 0;
	fpu__set_need_load(cpu, vmm);
	fpu__unlock(cpu);
}

void fpu_guest_get(struct fpu_system *sys, const struct fpu_guest *g, void *std)
{
	fpu_regset_to_standard(sys, g->state.area, g->features, std);
}

enum fpu_regset_error fpu_guest_set(struct fpu_system *sys, struct fpu_guest *g, const void *std)
{
	enum fpu_regset_error e = fpu_regset_validate(sys, std, g->features);

	if (e)
		return e;
	/* The image changes in memory: no CPU may think it holds it (I1). */
	g->state.last_cpu = -1;
	fpu_regset_from_standard(sys, std, g->features, g->state.area);
	return FPU_REGSET_OK;
}
