/* SPDX-License-Identifier: MIT */
/*
 * Interrupts, kernel FPU sections, and the library's port for this kernel.
 */
#include "kernel.h"
#include "ksignal.h"
#include "fpuctx/insn.h"

void ktrace(struct kernel *k, uint16_t type, uint32_t a, uint32_t b, uint32_t c, uint32_t d)
{
	struct kernel *root = k->root;
	struct ktrace_rec *r;

	if (!root->trace)
		return;
	r = &root->trace[root->trace_count % root->trace_cap];
	r->time = k->hw->now;
	r->type = type;
	r->cpu = (uint16_t)(k->vm_index << 8 | k->hw->running);
	r->a = a;
	r->b = b;
	r->c = c;
	r->d = d;
	root->trace_count++;
}

void send_ipi(struct kernel *k, uint32_t cpu, uint32_t irq)
{
	if (cpu < k->ncpus)
		hw_raise(k->hw, cpu, irq);
}

/* What kernel SIMD code does to the registers: overwrite every component
 * with the kernel's own pattern (so a leak is recognisable). */
static void kernel_simd_work(struct kernel *k, struct kcpu *c)
{
	hw_image_load(&k->fpu.xs, c->kfpu_image, k->fpu.mask);
}

/* A kernel FPU section by `cur`'s context. With point_inside, a defined point
 * inside it lets interrupts arrive mid-section (they must be refused). */
void kfpu_section(struct kernel *k, struct kcpu *c, struct task *cur, bool point_inside)
{
	bool usable;

	KTIMED(k, usable = fpu_kernel_begin(&c->fpu, &cur->fpu, FPU_KFPU_MXCSR));
	if (!usable)
		return; /* refused: this code does without SIMD */
	c->preempt_count++;
	kernel_simd_work(k, c);
	if (point_inside) {
		kernel_point(k, false);
		c = this_cpu(k); /* preemption is off: still the same CPU */
	}
	c->preempt_count--;
	KTIMED(k, fpu_kernel_end(&c->fpu, &cur->fpu));
}

/* IRQ_FLUSH: write back the images other CPUs wait for. False if some must
 * wait (the interrupt hit code holding the FPU lock). */
static bool answer_flushes(struct kernel *k, struct kcpu *c)
{
	uint32_t r;
	bool done = true;

	for (r = 0; r < k->ncpus; r++) {
		struct fpu_state *s = k->cpus[r].flush_wait;

		if (!(c->flush_from & (1u << r)))
			continue;
		bool answered = true;

		if (s)
			KTIMED(k, answered = fpu_flush_ipi(&c->fpu, s));
		if (answered)
			c->flush_from &= ~(1u << r);
		else
			done = false;
	}
	return done;
}

/* Handles every pending line of this CPU. Interrupts are off meanwhile; the
 * handler runs on the interrupted task's stack, as on x86. */
void take_interrupts(struct kernel *k)
{
	struct kcpu *c = this_cpu(k);
	struct hw_cpu *h = &k->hw->cpu[c->id];
	uint32_t lines, retry = 0;

	while ((lines = h->irq_pending) != 0) {
		h->irq_pending = 0;
		k->res.irqs++;
		kernel_hash(k, 0x1000000ull | lines << 8 | c->id);
		ktrace(k, KT_EV_IRQ, lines, 0, 0, 0);
		c->irqs_off = true;
		c->in_irq = true;
		c->irq_saved_locked = c->fpregs_locked;
		if (lines & IRQ_TIMER)
			timer_expire(k, c);
		if (lines & IRQ_KFPU)
			kfpu_section(k, c, c->curr, false);
		if (lines & IRQ_RESCHED)
			c->need_resched = true;
		if (lines & IRQ_BALANCE)
			balance_from(k, c, h->balance_to);
		if (lines & IRQ_STEAL)
			steal_from(k, c, h->steal_from);
		if ((lines & IRQ_FLUSH) && !answer_flushes(k, c))
			retry |= IRQ_FLUSH;
		if ((lines & IRQ_SIGNAL) && h->signal_to < k->ntask_slots)
			send_signal(k, &k->tasks[h->signal_to], h->signal_what);
		c->in_irq = false;
		c->irqs_off = false;
	}
	h->irq_pending |= retry; /* taken at a later point, after the FPU lock's holder unlocked */
}
