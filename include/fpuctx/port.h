/* SPDX-License-Identifier: MIT */
/*
 * The port interface: what an embedding kernel implements for the library.
 *
 * The library keeps no global state and never asks "which CPU am I on": the
 * kernel passes its per-CPU struct fpu_cpu to every call. What the library
 * does need from its host is here: a lock against preemption and bottom
 * halves, the execution context (for kernel FPU sections), a trace sink and a
 * way to report a broken invariant. Every op receives the opaque `port`
 * pointer the embedder registered, so one port implementation can serve
 * several kernel instances (a host and its guests).
 */
#ifndef FPUCTX_PORT_H
#define FPUCTX_PORT_H

#include <stdbool.h>
#include <stdint.h>

struct fpu_event;

/* Bits returned by fpu_port_ops.context(). */
#define FPU_PORT_IN_HARDIRQ   0x1u /* running an interrupt handler */
#define FPU_PORT_IN_NMI       0x2u /* running an NMI handler */
#define FPU_PORT_FPREGS_HELD  0x4u /* the interrupted code held the FPU lock */

struct fpu_port_ops {
	/* Keep the current task on this CPU and keep bottom halves (which may
	 * use kernel FPU) away until unlock. May nest. */
	void (*lock)(void *port, int cpu);
	void (*unlock)(void *port, int cpu);
	/* FPU_PORT_* bits describing what is running on `cpu` now. */
	unsigned (*context)(void *port, int cpu);
	/* A state change happened (see trace.h). Must not use FPU registers. */
	void (*trace)(void *port, const struct fpu_event *ev);
	/* An invariant broke, or the library was misused: `what` says which. */
	void (*warn)(void *port, int cpu, const char *what);

	/* User memory (signal frames only; NULL if the kernel has no signals).
	 * Like a kernel's copy_to_user/copy_from_user they may sleep and resolve
	 * faults themselves; they return 0, or -1 if the memory cannot be used. */
	int (*copy_to_user)(void *port, uintptr_t dst, const void *src, uint32_t len);
	int (*copy_from_user)(void *port, void *dst, uintptr_t src, uint32_t len);
	/* The fpu_cpu of the CPU the caller runs on now. Needed by the calls
	 * that may sleep (signal frames): after a sleep the task may be on
	 * another CPU. Called right before lock(), with no preemption point
	 * in between. */
	struct fpu_cpu *(*current_cpu)(void *port);
	/* Makes [addr, addr+len) present (and writable if `write`) so that a
	 * retried XSAVE/XRSTOR, which runs with faults disabled, can succeed.
	 * 0, or -1 if it cannot be. May sleep (and so be preempted). */
	int (*fault_in)(void *port, uintptr_t addr, uint32_t len, bool write);
};

#endif
