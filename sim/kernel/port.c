/* SPDX-License-Identifier: MIT */
/*
 * This kernel's implementation of the library's port (include/fpuctx/port.h),
 * and its user memory: pages that can be present, evicted (a fault-in brings
 * them back, after a sleep, as paging in from disk would), read-only, or
 * unmapped. Protections are real (the host MMU), so a bad access faults for
 * real and is caught by the exception table.
 */
#include "kernel.h"

static void port_lock(void *port, int cpu)
{
	struct kernel *k = port;
	k->cpus[cpu].fpregs_locked++;
}

static void port_unlock(void *port, int cpu)
{
	struct kernel *k = port;
	k->cpus[cpu].fpregs_locked--;
}

static unsigned port_context(void *port, int cpu)
{
	struct kernel *k = port;
	struct kcpu *c = &k->cpus[cpu];
	unsigned where = 0;

	if (c->in_irq) {
		where |= FPU_PORT_IN_HARDIRQ;
		if (c->irq_saved_locked)
			where |= FPU_PORT_FPREGS_HELD;
	}
	return where;
}

static void port_trace(void *port, const struct fpu_event *ev)
{
	struct kernel *k = port;
	/* d: the bytes moved, or for a flush request the CPU asked */
	ktrace(k, KT_EV_FPU, ev->type, ev->ctx, ev->state,
	       ev->type == FPU_EV_FLUSH_REQUEST ? (uint32_t)ev->arg : ev->bytes);
}

static void port_warn(void *port, int cpu, const char *what)
{
	struct kernel *k = port;

	kviolation(k, VIOL_WARN, 0, (uint32_t)cpu, k->cpus[cpu].curr ? k->cpus[cpu].curr->id : 0, 0,
		   what, NULL);
}

/* A flush IPI to `cpu`, then wait at defined points (other CPUs run) until
 * it has written the image back. The library holds nothing unsaved here while
 * we wait, so a CPU asking us meanwhile does not wait for us. */
#define FLUSH_WAIT_LIMIT 1000000u

static void port_flush_remote(void *port, int cpu, struct fpu_state *s)
{
	struct kernel *k = port;
	struct kcpu *me = this_cpu(k);
	uint32_t spins = 0;
	uint64_t t0 = hw_clock_start();

	me->flush_wait = s;
	k->cpus[cpu].flush_from |= 1u << me->id;
	send_ipi(k, (uint32_t)cpu, IRQ_FLUSH);
	while (s->unsaved && s->last_cpu == cpu) {
		if (++spins > FLUSH_WAIT_LIMIT) {
			kviolation(k, VIOL_DEADLOCK, 0, me->id, me->curr ? me->curr->id : 0, 0,
				   "a remote FPU flush was never answered", NULL);
			break;
		}
		hw_yield(k->hw);
	}
	k->cpus[cpu].flush_from &= ~(1u << me->id);
	me->flush_wait = 0;
	/* The wait ran other CPUs (the machine's steps, not library work): the
	 * hook timing this call must not count it; the holder's save is timed
	 * where it answers. */
	k->res.fpu_cycles -= hw_clock_end() - t0;
}

/* ---- user memory ---- */

static bool user_range(struct kernel *k, uintptr_t addr, uint64_t len)
{
	uintptr_t lo = (uintptr_t)k->user_mem;

	return addr >= lo && len <= k->user_mem_size && addr - lo <= k->user_mem_size - len;
}

static int prot_of(enum page_state st)
{
	switch (st) {
	case PG_PRESENT: return HW_PROT_READ | HW_PROT_WRITE;
	case PG_READONLY: return HW_PROT_READ;
	default: return HW_PROT_NONE;
	}
}

void user_set_pages(struct kernel *k, uintptr_t lo, uintptr_t hi, enum page_state st)
{
	uintptr_t base = (uintptr_t)k->user_mem, p;

	lo &= ~(uintptr_t)(PAGE_SIZE - 1);
	for (p = lo; p < hi; p += PAGE_SIZE) {
		k->page_state[(p - base) / PAGE_SIZE] = (uint8_t)st;
		hw_protect((void *)p, PAGE_SIZE, prot_of(st));
	}
}

/* Makes [addr, addr+len) usable: evicted pages are paged in (the task sleeps
 * for a tick, so others run meanwhile); read-only or unmapped pages fail. */
int user_fault_in(struct kernel *k, uintptr_t addr, uint64_t len, bool write)
{
	uintptr_t base = (uintptr_t)k->user_mem, p;
	bool slept = false;

	if (!len || !user_range(k, addr, len))
		return -1;
	for (p = addr & ~(uintptr_t)(PAGE_SIZE - 1); p < addr + len; p += PAGE_SIZE) {
		switch (k->page_state[(p - base) / PAGE_SIZE]) {
		case PG_PRESENT:
			break;
		case PG_READONLY:
			if (write)
				return -1;
			break;
		case PG_EVICTED:
			if (!slept) {
				sleep_for(k, 1);
				slept = true;
			}
			user_set_pages(k, p, p + PAGE_SIZE, PG_PRESENT);
			break;
		default:
			return -1;
		}
	}
	return 0;
}

static int port_fault_in(void *port, uintptr_t addr, uint32_t len, bool write)
{
	return user_fault_in(port, addr, len, write);
}

static int port_copy_to_user(void *port, uintptr_t dst, const void *src, uint32_t len)
{
	struct kernel *k = port;

	if (!user_range(k, dst, len))
		return -1;
	if (!hw_copy_user((void *)dst, src, len))
		return 0;
	if (user_fault_in(k, dst, len, true))
		return -1;
	return hw_copy_user((void *)dst, src, len) ? -1 : 0;
}

static int port_copy_from_user(void *port, void *dst, uintptr_t src, uint32_t len)
{
	struct kernel *k = port;

	if (!user_range(k, src, len))
		return -1;
	if (!hw_copy_user(dst, (const void *)src, len))
		return 0;
	if (user_fault_in(k, src, len, false))
		return -1;
	return hw_copy_user(dst, (const void *)src, len) ? -1 : 0;
}

static struct fpu_cpu *port_current_cpu(void *port)
{
	return &this_cpu((struct kernel *)port)->fpu;
}

const struct fpu_port_ops sim_port_ops = {
	.lock = port_lock,
	.unlock = port_unlock,
	.context = port_context,
	.trace = port_trace,
	.warn = port_warn,
	.copy_to_user = port_copy_to_user,
	.copy_from_user = port_copy_from_user,
	.fault_in = port_fault_in,
	.current_cpu = port_current_cpu,
	.flush_remote = port_flush_remote,
};
