/* SPDX-License-Identifier: MIT */
/* Trace events: one at every FPU state change, handed to the port. */
#ifndef FPUCTX_TRACE_H
#define FPUCTX_TRACE_H

#include <stdint.h>

enum fpu_event_type {
	FPU_EV_SAVE,         /* registers -> buffer */
	FPU_EV_RESTORE,      /* buffer -> registers */
	FPU_EV_SKIP_RESTORE, /* registers still valid for the buffer */
	FPU_EV_NEED_LOAD,    /* context's registers are no longer live */
	FPU_EV_OWNER_DROP,   /* CPU no longer holds any buffer's image */
	FPU_EV_STATE_RESET,  /* buffer rewritten in memory (fork, exec, init) */
	FPU_EV_KFPU_BEGIN,
	FPU_EV_KFPU_END,
	FPU_EV_KFPU_REFUSED,
	FPU_EV_PKRU_WRITE,
	FPU_EV_SWITCH,       /* context switch seen by the library */
	FPU_EV_SIGFRAME_SAVE,   /* state written to a signal frame */
	FPU_EV_SIGFRAME_FAULT,  /* the frame could not be written */
	FPU_EV_SIGRETURN,       /* state loaded from a signal frame */
	FPU_EV_SIGRETURN_FAILED,/* frame rejected: task reset, SIGSEGV follows */
	FPU_EV_GUEST_BEGIN,     /* a run call made a guest's state the VMM task's active one */
	FPU_EV_GUEST_END,       /* ...and gave the VMM its own back */
	FPU_EV_X87_SCRUB,       /* x87 pointers cleared before a restore (CPUs that leak them) */
	FPU_EV_SAVE_DEFERRED,   /* switch-out left the context's image in the registers, unsaved */
	FPU_EV_FLUSH_REQUEST,   /* asked CPU `arg` to write back the unsaved image of `state` */
	FPU_EV__COUNT
};

struct fpu_event {
	uint16_t type;      /* enum fpu_event_type */
	int16_t cpu;
	uint32_t ctx;       /* fpu_ctx.id, or 0 */
	uint32_t state;     /* fpu_state.id, or 0 */
	uint32_t bytes;
	uint64_t arg;       /* type-specific: next ctx id for SWITCH, PKRU value, ... */
};

const char *fpu_event_name(unsigned type);

#endif
