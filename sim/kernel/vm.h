/* SPDX-License-Identifier: MIT */
/*
 * Virtual machines of the simulated kernel (vm.c): a vCPU as the host sees
 * it, and the run call. A guest is a further instance of the same kernel.
 */
#ifndef SIM_KERNEL_VM_H
#define SIM_KERNEL_VM_H

#include <stdbool.h>
#include <stdint.h>
#include "fpuctx/kvm.h"
#include "../hw/hw.h"
#include "scenario.h"
#include "task.h"

#define VM_STATE_ID(vm, vcpu) ((vm) << 8 | 0xe0u | (vcpu)) /* a vCPU's guest FPU buffer */

struct kernel_config;

/* A vCPU as the host sees it. */
struct vcpu {
	struct vm *vm;
	uint32_t index;
	struct fpu_guest fpu;     /* the guest's FPU state (library) */
	struct sched_notifier notifier; /* its thread's, during a run call */
	struct task *thread;      /* host task in a run call or get/set on it (the vCPU mutex) */
	bool blocked;             /* its thread sleeps because the vCPU halted */
	uint32_t pkru;            /* the guest's PKRU outside the entry window */
	uint64_t next_tick;       /* the guest's periodic timer */
	uint8_t *xsave;           /* what the VMM's last get returned (standard format) */
	bool have_xsave;
};

/* A virtual machine: a guest kernel on its own vCPUs. */
struct vm {
	struct kernel *guest;     /* a second instance of this kernel */
	struct hw_machine hw;     /* the vCPUs as the guest sees them (virtual) */
	uint32_t index;           /* 1..: the guest kernel's vm_index */
	uint64_t features;        /* the guest's XCR0 */
	uint32_t tick;
	struct vcpu vcpu[SCN_MAX_VCPUS];
};

const char *vm_boot_all(struct kernel *k, const struct kernel_config *cfg, uint64_t *missing);
void vm_run(struct kernel *k, struct task *t, const struct scn_op *op);
void vm_get_set(struct kernel *k, struct task *t, const struct scn_op *op);
void vm_io_exit(struct kernel *k);
void vm_task_exit(struct kernel *k, struct task *t);
void vm_collect(struct kernel *k);
void kernel_snapshot(struct kernel *k, struct fpu_stats *all, struct fpu_stats *guest,
		     uint64_t *switches);

#endif
