/* SPDX-License-Identifier: MIT */
/*
 * For hypervisors: a guest's FPU state, loaded for the whole of a vCPU run
 * call instead of around every VM entry.
 *
 * At the start of a run call the VMM task's user state is put away and the
 * guest's buffer becomes the task's active buffer. From then on everything
 * the kernel does to the task's FPU state (a switch-out on preemption, a
 * kernel FPU section in an interrupt, a migration) lands in the guest's
 * buffer, never in the VMM's: ownership is tracked per buffer, so nothing
 * else has to know a guest is involved. At the end of the call the VMM's
 * buffer is active again and is loaded on the way back to user space.
 *
 * Calls take the VMM task's context and run on the CPU that task runs on.
 */
#ifndef FPUCTX_KVM_H
#define FPUCTX_KVM_H

#include "regset.h"
#include "types.h"

struct fpu_guest {
	struct fpu_state state;  /* the guest's registers, in the system's format */
	uint64_t features;       /* the guest's XCR0 (user part): what it may use */
	struct fpu_ctx *in_run;  /* the VMM context of the run call in progress, or NULL */
};

/* A guest starts in init state: the first run call loads a defined image,
 * never an uninitialized buffer (Linux bug 2). `features` must be a subset
 * of sys->mask, and `area` a buffer fpu_state_setup() accepts (returns false
 * otherwise). */
bool fpu_guest_init(struct fpu_system *sys, struct fpu_guest *g, void *area, uint32_t area_size,
		    uint64_t features, uint32_t id);

/*
 * A run call, in the order a hypervisor makes these calls:
 *
 *   fpu_guest_run_begin      start of the call (preemptible)
 *   loop:
 *     fpu_guest_enter        interrupts off, right before VM entry
 *     ... guest runs, exits ...
 *     fpu_guest_sched_out    whenever the vCPU thread is switched out
 *   fpu_guest_run_end        end of the call (preemptible)
 *
 * How the policy keeps the guest's state (fpu_policy.guest_swap_per_entry):
 * - run-call swap (Linux 4.15+): run_begin makes g the VMM task's active
 *   buffer; it stays so until run_end, and a switch-out saves it like any
 *   task's state. Entry loads it only if something else used the registers.
 * - per entry (before 4.15, and the 2015 RFC): enter swaps g in and loads it
 *   unconditionally; sched_out and run_end put it away again.
 */
void fpu_guest_run_begin(struct fpu_cpu *cpu, struct fpu_ctx *vmm, struct fpu_guest *g);
void fpu_guest_enter(struct fpu_cpu *cpu, struct fpu_ctx *vmm, struct fpu_guest *g);
void fpu_guest_sched_out(struct fpu_cpu *cpu, struct fpu_ctx *vmm, struct fpu_guest *g);
void fpu_guest_run_end(struct fpu_cpu *cpu, struct fpu_ctx *vmm, struct fpu_guest *g);
/* Is g the active state of vmm now? */
bool fpu_guest_active(const struct fpu_ctx *vmm, const struct fpu_guest *g);

/* Get/set in the standard XSAVE layout, as a VMM's KVM_GET/SET_XSAVE.
 * Both need the guest's state in memory: they refuse (FPU_REGSET_BUSY) while
 * a run call is in progress; a kernel serializes them with the vCPU, as KVM
 * does with the vCPU mutex. get writes fpu_xstate_size(XSAVE, g->features)
 * bytes. set validates first (XSTATE_BV within the guest's features,
 * header, MXCSR) and changes nothing on error. get runs on `cpu` (the
 * caller's): under a policy that defers the save, the guest's image may
 * still be in some CPU's registers and is written back first. */
enum fpu_regset_error fpu_guest_get(struct fpu_cpu *cpu, struct fpu_guest *g, void *std);
enum fpu_regset_error fpu_guest_set(struct fpu_system *sys, struct fpu_guest *g, const void *std);

#endif
