/* SPDX-License-Identifier: MIT */
/*
 * The structures an embedding kernel owns: one fpu_system per kernel
 * instance, one fpu_cpu per CPU, one fpu_ctx per task (or vCPU), and the
 * fpu_state buffers that hold register images.
 *
 * Ownership is tracked per buffer, not per task: cpu->owner names the buffer
 * whose image the registers hold, and state->last_cpu the CPU they were last
 * loaded on or saved from. A context may switch buffers (a vCPU run call
 * swaps in the guest's), and the tracking stays exact.
 */
#ifndef FPUCTX_TYPES_H
#define FPUCTX_TYPES_H

#include <stdbool.h>
#include <stdint.h>
#include "port.h"
#include "xstate.h"

/* Exact, deterministic operation counts.
 *
 * bytes_saved/bytes_restored count what the instructions move, by what is in
 * use (docs/design.md, "Bytes"): a save counts the 64-byte header, plus the
 * components whose bit is set in the XSTATE_BV it wrote (plain XSAVE: every
 * requested component); a restore the header plus the components whose bit
 * is set in the XSTATE_BV it read. x87 is its 152 bytes without MXCSR, SSE
 * the 256 of XMM0-15; MXCSR and MXCSR_MASK (8) count with the header in
 * standard format (always moved there) and with SSE in compacted format
 * (moved only with it). FXSAVE and FXRSTOR count 512. Signal frames follow
 * the same rule in standard format (a frame's XSAVE writes all it is asked
 * for; sigreturn's XRSTOR reads what the frame marks present; a legacy-only
 * sigreturn 512). The _full figures count the whole buffer per operation
 * (fpu_state_size(), or the frame size), as if nothing were skipped. */
struct fpu_stats {
	uint64_t saves;
	uint64_t restores;
	uint64_t skipped_restores;  /* restore not needed: registers were still valid */
	uint64_t bytes_saved;       /* in use: what the saves wrote */
	uint64_t bytes_restored;    /* in use: what the restores read */
	uint64_t bytes_saved_full;  /* the whole buffer per save */
	uint64_t bytes_restored_full;
	uint64_t kfpu_sections;
	uint64_t kfpu_refused;      /* kernel FPU asked for where it may not be used */
	uint64_t pkru_writes;
	uint64_t x87_scrubs;        /* x87 pointers cleared before a restore (CPUs that leak them) */
	uint64_t remote_flushes;    /* deferred saves done because another CPU needed the image */
	uint64_t ipis;              /* of those, the ones that cost an interrupt to the holding CPU */
};

/* One register image in memory (Linux: struct fpstate). */
#define FPU_STATE_ALIGN 64   /* XSAVE needs 64 bytes; FXSAVE 16 */

struct fpu_state {
	void *area;          /* fpu_state_align() aligned, fpu_state_size() bytes (api.h) */
	uint64_t mask;       /* components this buffer holds */
	int32_t last_cpu;    /* see valid() in core/fpu.c; -1: none */
	uint32_t id;         /* for traces and reports */
	uint8_t unsaved;     /* deferred save: CPU last_cpu's registers hold a newer image than
			      * this buffer (its owner is this state); see I9 and I10 in core/fpu.c.
			      * Nonzero while that is so: FPU_UNSAVED, or FPU_WRITING_BACK while
			      * that CPU writes it back. Read it as a truth value. */
};
#define FPU_SAVED        0
#define FPU_UNSAVED      1
#define FPU_WRITING_BACK 2

/* Per-task (or per-vCPU) FPU context (Linux: struct fpu). */
#define FPU_CTX_NEED_LOAD 0x1u  /* memory is authoritative; load before user runs */
#define FPU_CTX_KTHREAD   0x2u  /* never runs user code: has no user state to keep */

struct fpu_ctx {
	struct fpu_state *active;  /* where this context's user state lives */
	struct fpu_state *stashed; /* a VMM's own state while a guest's is active (kvm.h) */
	uint32_t flags;
	uint32_t pkru;             /* user PKRU while not running (switched eagerly) */
	uint32_t id;
	struct fpu_stats stats;
};

struct fpu_system;

/* Per-CPU state (Linux: fpu_fpregs_owner_ctx, in_kernel_fpu). */
struct fpu_cpu {
	struct fpu_system *sys;
	int32_t id;
	struct fpu_state *owner;     /* buffer whose image the registers hold, or NULL */
	struct fpu_ctx *unsaved_ctx; /* whose image it is, when owner->unsaved (for the counts) */
#ifdef FPUCTX_TESTING
	struct fpu_ctx *last_user;   /* only for the injected bug KTHREAD_SAVE */
#endif
	bool in_kernel_fpu;
	struct fpu_stats stats;
};

/* Policies decide; the mechanisms in core/fpu.c are the same for all. */
struct fpu_policy {
	const char *name;
	const char *summary;
	bool defer_restore;        /* load user state at exit to user, not at switch */
	bool skip_valid_restore;   /* no load when the registers still hold the image */
	bool kthreads_switch_fpu;  /* kernel threads and idle own a context that is saved and loaded */
	bool kfpu_end_restores;    /* kernel_fpu_end reloads the user state at once */
	bool guest_swap_per_entry; /* a guest's state is loaded before each entry and put away at
				    * every switch-out of the vCPU thread (not kept for the run call) */
	bool defer_save;           /* switch-out leaves the image in the registers, unsaved; it is
				    * written back only when the registers or the image are needed */
};

extern const struct fpu_policy fpu_policies[];
extern const unsigned fpu_npolicies;
const struct fpu_policy *fpu_policy_find(const char *name);

/* One library instance. The embedder fills it with fpu_system_init(). */
struct fpu_system {
	struct fpu_xstate_info xs;
	const struct fpu_policy *policy;
	enum fpu_insn insn;         /* save instruction; restores follow the format */
	uint64_t mask;              /* user features kept in each context buffer (PKRU excluded) */
	uint64_t user_features;     /* what user space sees: mask plus PKRU (signal frames) */
	uint32_t user_size;         /* standard-format bytes of user_features, as in a frame */
	uint32_t state_size;        /* bytes of each fpu_state area */
	struct fpu_xstate_bytes bytes; /* in-use byte counts and component offsets of those areas */
	const struct fpu_port_ops *port;
	void *port_data;
	struct fpu_state *init_state; /* read-only init image (embedder-allocated area) */
#ifdef FPUCTX_TESTING
	uint32_t bugs;              /* enum fpu_bug bits (testing.h) */
	uint32_t pretend;           /* FPU_PRETEND_* bits (testing.h) */
#endif
	bool has_pkru;
	bool trace_on;              /* port->trace is set: events are built (else one branch each) */
};

#endif
