/* SPDX-License-Identifier: MIT */
/*
 * The port: what an embedding kernel implements for the library.
 *
 * The library keeps no global state and never asks "which CPU am I on": the
 * kernel passes its per-CPU struct fpu_cpu to every call. What it needs from
 * its host is listed here, one operation at a time: whether the operation is
 * REQUIRED or OPTIONAL, what it may do, and what the library promises in
 * return. Every operation receives the opaque `port_data` pointer given to
 * fpu_system_init() (and kept in fpu_system.port_data), so one port can serve
 * several kernel instances (a host and its guests).
 *
 * A minimal port is lock, unlock and context; every other member may be NULL.
 * fpu_system_init() refuses a port without one of those three
 * (FPU_SETUP_PORT_NO_LOCK, ..._NO_UNLOCK, ..._NO_CONTEXT), and one with some
 * but not all of the four signal-frame operations
 * (FPU_SETUP_PORT_SIGNAL_PARTIAL).
 *
 * Rules for every operation:
 *   - It must not use FPU, SSE or AVX registers: they may hold a user
 *     context's live state that the library has not saved (compile the port
 *     like the library, with -mgeneral-regs-only).
 *   - It must not call back into the library for the same CPU.
 *   - `cpu` is the fpu_cpu.id the embedder chose.
 */
#ifndef FPUCTX_PORT_H
#define FPUCTX_PORT_H

#include <stdbool.h>
#include <stdint.h>

struct fpu_event;
struct fpu_cpu;
struct fpu_state;

/* Bits returned by fpu_port_ops.context(). */
#define FPU_PORT_IN_HARDIRQ   0x1u /* running an interrupt handler */
#define FPU_PORT_IN_NMI       0x2u /* running an NMI handler */
#define FPU_PORT_FPREGS_HELD  0x4u /* the interrupted code held the FPU lock */

struct fpu_port_ops {
	/*
	 * lock, unlock: REQUIRED.
	 * Keep the current task on `cpu` (no preemption, no migration) and keep
	 * bottom halves, which may use kernel FPU, away until unlock; disabling
	 * interrupts is enough. Must not sleep. May be asked to nest (the library
	 * calls lock inside a region the kernel already locked): count.
	 * The library guarantees: every lock is matched by one unlock on the same
	 * CPU before the library call returns; no operation that may sleep is
	 * called between them; every change of FPU ownership happens inside.
	 */
	void (*lock)(void *port_data, int cpu);
	void (*unlock)(void *port_data, int cpu);

	/*
	 * context: REQUIRED.
	 * FPU_PORT_* bits describing what runs on `cpu` now: 0 in task or
	 * kernel-thread context. Called by fpu_kernel_usable()/fpu_kernel_begin(),
	 * so possibly from an interrupt or an NMI: must not sleep, lock or fail.
	 * The library guarantees: kernel FPU is refused in NMI context and in an
	 * interrupt that hit a region holding the lock (FPU_PORT_FPREGS_HELD).
	 */
	unsigned (*context)(void *port_data, int cpu);

	/*
	 * trace: OPTIONAL (NULL: no events).
	 * A state change happened (see trace.h). Called with the lock held, with
	 * interrupts possibly off: must not sleep and must return promptly.
	 * The event is only valid during the call.
	 */
	void (*trace)(void *port_data, const struct fpu_event *ev);

	/*
	 * warn: OPTIONAL (NULL: silent).
	 * An invariant broke, or the library was misused: `what` (a constant
	 * string) says which. Same context rules as trace. The library carries on
	 * after it returns, leaving the state as safe as it can.
	 */
	void (*warn)(void *port_data, int cpu, const char *what);

	/*
	 * copy_to_user, copy_from_user, current_cpu, fault_in: OPTIONAL as a
	 * group, REQUIRED (all four) to use signal.h. Called without the lock
	 * held, from the task that delivers or returns from a signal.
	 */
	/* Like a kernel's copy_to_user/copy_from_user: may sleep and resolve
	 * faults themselves; 0, or -1 if the memory cannot be used. Must not use
	 * SIMD registers to copy (the task's state may be live in them). */
	int (*copy_to_user)(void *port_data, uintptr_t dst, const void *src, uint32_t len);
	int (*copy_from_user)(void *port_data, void *dst, uintptr_t src, uint32_t len);
	/* The fpu_cpu of the CPU the caller runs on now: after a sleep the task
	 * may be on another CPU. Called right before lock(), with no preemption
	 * point in between; must not sleep. */
	struct fpu_cpu *(*current_cpu)(void *port_data);
	/* Makes [addr, addr+len) present (and writable if `write`) so that a
	 * retried XSAVE/XRSTOR, which runs with faults disabled (extable.h), can
	 * succeed. 0, or -1 if it cannot be. May sleep, and so be preempted or
	 * migrated: the library asks current_cpu() again afterwards. */
	int (*fault_in)(void *port_data, uintptr_t addr, uint32_t len, bool write);

	/*
	 * flush_remote: REQUIRED for a policy that defers the save (deferred:
	 * fpu_system_init() refuses it without one, FPU_SETUP_PORT_NO_FLUSH),
	 * OPTIONAL otherwise (never called).
	 * CPU `cpu`'s registers hold the newest image of `state`, unsaved, and
	 * the caller needs it in memory. Make `cpu` call fpu_flush_ipi(its
	 * fpu_cpu, state) (an IPI), and return once that call returned true,
	 * or once state->unsaved reads zero with an acquire load (the image
	 * and last_cpu are then visible too: I10 in core/fpu.c). Called with
	 * the lock held and interrupts possibly off; may not sleep, only wait.
	 * The library guarantees: the calling CPU holds no unsaved image while
	 * it waits (it writes its own back first), so it need not answer
	 * requests to itself meanwhile, and two CPUs asking each other cannot
	 * deadlock; `cpu` is never the caller's own.
	 */
	void (*flush_remote)(void *port_data, int cpu, struct fpu_state *state);
};

#endif
