/* SPDX-License-Identifier: MIT */
/*
 * Signals to the ring-3 tasks, with the FP part of a Linux x86-64 signal
 * frame written and read by the library (fpuctx/signal.h), the port's user
 * copies and fault-in, and the page faults they take.
 *
 * A signal is delivered on the way back to ring 3 from every signal_every-th
 * timer interrupt of a CPU. On the task's stack, below the red zone: the FP
 * area (fpu_sigframe_size() bytes, 64-byte aligned), then struct sig_info
 * (the interrupted registers, and the return address: user_sigreturn, which
 * makes the sigreturn system call). The handler (user.S) starts in the init
 * state with the default PKRU, as under Linux.
 *
 * Some deliveries put the FP area across a page boundary, the XSAVE header
 * below it, and make the page above unmapped, read-only, or keyed with
 * protection key 1 right before fpu_signal_save(): the library's XSAVE to
 * user memory takes a real #PF, its fixup runs, and the library calls
 * fault_in, which maps the page or makes it writable, and retries. A key-1
 * page stays as it is: the task's PKRU write-disables key 1 (but in its
 * PKRU-0 generations), so the frame cannot be written, the delivery fails
 * and the task gets what Linux gives it then, a SIGSEGV (task_segv). The
 * page is put back to its usual entry before the task can run again.
 */
#include "kernel.h"
#include <fpuctx/extable.h>
#include <fpuctx/insn.h>
#include <fpuctx/signal.h>

#define PAGE 4096ull
#define RED_ZONE 128
#define DEFAULT_SIGNAL_EVERY 5
#define PKRU_BIT (1ull << FPU_XFEATURE_PKRU)
#define USER_RFLAGS 0xcd5ull        /* CF PF AF ZF SF DF OF: what sigreturn takes from the frame */

enum placement { PLACE_USUAL, PLACE_UNMAPPED, PLACE_READ_ONLY, PLACE_KEY };

uint64_t signal_every = DEFAULT_SIGNAL_EVERY;
static uint32_t frame_size;
static uint64_t avx_off, pkru_off;    /* component offsets in a standard-format frame */

static void cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
	__asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(sub));
}

void signal_init(void)
{
	uint32_t r[4];

	frame_size = fpu_sigframe_size(&fpu_sys);
	if (frame_size <= FPU_FXSAVE_SIZE) {
		/* the handler reads the XSAVE header: no signals on an FXSAVE-only CPU */
		kprintf("ring0: no XSAVE: signals off\n");
		signal_every = 0;
		return;
	}
	if (has_avx) {
		cpuid(0xd, FPU_XFEATURE_AVX, r);
		avx_off = r[1];
	}
	if (fpu_sys.has_pkru) {
		cpuid(0xd, FPU_XFEATURE_PKRU, r);
		pkru_off = r[1];
		user_page_set_key((uint64_t)user_keyed_page, 1);
	}
}

/* ---- user memory ---- */

static bool user_range(uint64_t a, uint64_t len)
{
	return a + len > a && user_page_ok(a) && user_page_ok(a + len - 1);
}

/* What a fault on [addr, addr+len) left to do: pages made present, and
 * writable for a write. Returns how many changed, or -1 when it cannot be
 * done: not user memory, or the fault was a protection-key one (the task's
 * PKRU forbids the access: a kernel copy honours it like the task's own). */
static int fix_pages(struct percpu *c, uint64_t addr, uint64_t len, bool write)
{
	uint64_t va, err = c->last_pf_error;
	int changed = 0;

	c->last_pf_error = 0;
	if (!user_range(addr, len))
		return -1;
	if (err & PF_PK) {
		c->pk_refused++;
		return -1;
	}
	for (va = addr & ~(PAGE - 1); va < addr + len; va += PAGE) {
		if (!user_page_present(va)) {
			user_page_map(va);
			changed++;
		}
		if (write && !user_page_is_writable(va)) {
			user_page_writable(va, true);
			changed++;
		}
	}
	return changed;
}

/* A copy that resolves its own faults (as a kernel's copy_to_user does):
 * a page fixed, the copy is tried again. */
static int copy_user(void *dst, const void *src, uint64_t user, uint32_t len, bool write)
{
	unsigned tries;

	if (!len)
		return 0;
	for (tries = 0; tries < 3; tries++) {
		struct percpu *c = this_cpu();

		if (!user_range(user, len))
			return -1;
		if (user_copy(dst, src, len) == 0)
			return 0;
		if (fix_pages(c, user, len, write) <= 0)
			return -1;
		c->copy_faults++;
	}
	return -1;
}

int port_copy_to_user(void *data, uintptr_t dst, const void *src, uint32_t len)
{
	(void)data;
	return copy_user((void *)dst, src, dst, len, true);
}

int port_copy_from_user(void *data, void *dst, uintptr_t src, uint32_t len)
{
	(void)data;
	return copy_user(dst, (const void *)src, src, len, false);
}

struct fpu_cpu *port_current_cpu(void *data)
{
	(void)data;
	return &this_cpu()->fpu;
}

/* After a #PF on the library's XSAVE/XRSTOR of a frame. Every other time
 * it sleeps, as a kernel's fault-in may (reading the page in): another task
 * runs here, and this one may come back on another CPU, which the library
 * must ask again (current_cpu), with registers that are no longer its own.
 * The page is back to its usual entry before the sleep. */
int port_fault_in(void *data, uintptr_t addr, uint32_t len, bool write)
{
	struct percpu *c = this_cpu();

	(void)data;
	if (fix_pages(c, addr, len, write) <= 0)
		return -1;
	if (c->frames_faulted_in++ % 2)
		task_sleep();
	return 0;
}

/* The entry allows the access now: a TLB entry from before a change. */
static bool spurious(uint64_t va, uint64_t err)
{
	if ((err & PF_PK) || !user_page_present(va))
		return false;
	return !(err & PF_WRITE) || user_page_is_writable(va);
}

/* #PF on a user page. From ring 0: user_copy or one of the library's
 * instructions on a frame: resume at the fixup (the error code stays for
 * fix_pages). From ring 3: the task's own fault, which none of them should
 * take: a violation, and a SIGSEGV. Returns false for anything else (a
 * kernel bug: the run fails). */
bool page_fault(struct percpu *c, struct trap_frame *f)
{
	uint64_t cr2 = read_cr2();
	const struct fpu_extable_entry *e;

	if (!user_page_ok(cr2))
		return false;
	if (f->error & PF_PK)
		c->pk_faults++;
	if (spurious(cr2, f->error)) {
		user_page_flush(cr2);
		c->spurious_faults++;
		return true;
	}
	c->last_pf_error = f->error;
	if ((f->cs & 3) == 3) {
		c->user_faults++;
		task_violation(c, c->curr, "a page fault in ring 3 at", cr2);
		task_segv(c, c->curr, f);
		return true;
	}
	if (f->rip == (uint64_t)user_copy_insn) {
		f->rip = (uint64_t)user_copy_fixup;
		return true;
	}
	e = fpu_extable_search(f->rip);
	if (!e)
		return false;
	if (e->kind == FPU_EX_TRAPNR)
		f->rcx = f->vector;
	f->rip = fpu_extable_fixup(e);
	return true;
}

/* ---- delivery and sigreturn ---- */

/* The frame's PKRU as XRSTOR would load it: 0 when XSTATE_BV says init. */
static int frame_pkru(uint64_t fp, uint32_t *pkru)
{
	uint64_t bv;

	*pkru = 0;
	if (port_copy_from_user(0, &bv, fp + FPU_XSAVE_HDR_OFFSET, 8))
		return -1;
	if (bv & PKRU_BIT)
		return port_copy_from_user(0, pkru, fp + pkru_off, 4);
	return 0;
}

static bool rip_in(uint64_t rip, const char *start, const char *end)
{
	return rip >= (uint64_t)start && rip < (uint64_t)end;
}

/* What the handler is asked to do, from the delivery's number k. A task
 * that ends by itself at a generation limit (exec, exit) gets no frame that
 * ends in a SIGSEGV: that would start it again before it gets there. */
static uint64_t handler_flags(uint64_t k, uint64_t rip, bool may_segv)
{
	uint64_t flags = 0;

	if (rip_in(rip, user_check_start, user_check_end))
		flags |= SIG_CHECK;
	if (k % 3 == 0 && rip_in(rip, user_steady_start, user_steady_end))
		flags |= SIG_EDIT;
	if (may_segv && k % 16 == 9)
		flags |= (k / 16) % 2 ? SIG_CORRUPT_MXCSR : SIG_CORRUPT_HDR;
	return flags;
}

static enum placement frame_placement(uint64_t k, bool may_segv)
{
	static const enum placement kinds[3] = { PLACE_UNMAPPED, PLACE_READ_ONLY, PLACE_KEY };
	enum placement p;

	if (k % 4 != 1)
		return PLACE_USUAL;
	p = kinds[(k / 4) % 3];
	return p == PLACE_KEY && (!fpu_sys.has_pkru || !may_segv) ? PLACE_UNMAPPED : p;
}

/* Makes the page hold a frame's XSAVE badly; returns whether the task's
 * PKRU must make the save fail. */
static bool spoil_page(enum placement p, uint64_t page, uint32_t pkru)
{
	switch (p) {
	case PLACE_UNMAPPED:
		user_page_unmap(page);
		return false;
	case PLACE_READ_ONLY:
		user_page_writable(page, false);
		return false;
	case PLACE_KEY:
		user_page_set_key(page, 1);
		return (pkru >> 2) & 3;     /* key 1 access- or write-disabled */
	case PLACE_USUAL:
		break;
	}
	return false;
}

/* The task goes on in its handler, which starts in the init state with the
 * default PKRU, its frame info at the stack pointer. */
static void enter_handler(struct percpu *c, struct task *t, struct trap_frame *f, uint64_t info)
{
	fpu_signal_reset(&c->fpu, &t->fpu);
	t->in_handler = true;
	f->rip = (uint64_t)user_signal_handler;
	f->rsp = info;
	f->rdi = info;
	f->rflags = 0x202;
}

/* Writes the FP area; false if the delivery is over (the task got a
 * SIGSEGV). */
static bool save_frame(struct percpu *c, struct task *t, struct trap_frame *f, uint64_t fp,
		       enum placement p, uint64_t page)
{
	uint32_t pkru = fpu_sys.has_pkru ? fpu_rdpkru() : 0, saved;
	uint64_t old = p == PLACE_USUAL ? 0 : user_page_get(page);
	bool refuse = spoil_page(p, page, pkru);
	int rc = fpu_signal_save(&fpu_sys, &t->fpu, fp);

	c = this_cpu();
	if (p != PLACE_USUAL)
		user_page_put(page, old);
	if (rc && refuse) {
		task_segv(c, t, f);         /* what Linux does when the frame cannot be written */
		return false;
	}
	if (rc) {
		task_violation(c, t, "a signal frame could not be written at", fp);
		task_segv(c, t, f);
		return false;
	}
	if (refuse)
		task_violation(c, t, "a signal frame was written on a page the task's PKRU write-disables", page);
	if (pkru_off) {
		c->pkru_checks++;
		if (frame_pkru(fp, &saved) || saved != pkru)
			task_violation(c, t, "the frame does not hold the task's PKRU", saved);
	}
	return true;
}

void signal_deliver(struct percpu *c, struct task *t, struct trap_frame *f)
{
	uint64_t k, sp, fp, page = 0, info, bottom = t->user_stack_top - USER_STACK_SIZE;
	bool may_segv = t->generation_limit == 0;
	enum placement p;
	struct sig_info si;

	if (!signal_every || c->interrupts % signal_every || t->in_handler || t->kthread)
		return;
	k = c->interrupts / signal_every;
	p = frame_placement(k, may_segv);
	sp = f->rsp - RED_ZONE;
	if (p != PLACE_USUAL) {
		/* the header below the page, the rest of the XSAVE image on it */
		page = (sp - frame_size) & ~(PAGE - 1);
		fp = page - (FPU_XSAVE_HDR_OFFSET + FPU_XSAVE_HDR_SIZE);
	} else {
		fp = (sp - frame_size) & ~63ull;
	}
	info = ((fp - sizeof(si)) & ~15ull) - 8;   /* as after a call: rsp + 8 16-byte aligned */
	if (f->rsp > t->user_stack_top || info < bottom) {
		task_violation(c, t, "no room for a signal frame below", f->rsp);
		return;
	}
	if (!save_frame(c, t, f, fp, p, page))
		return;
	c = this_cpu();
	si.ret = (uint64_t)user_sigreturn;
	si.flags = handler_flags(k, f->rip, may_segv);
	si.fp = fp;
	si.pkru_off = pkru_off;
	si.avx_off = avx_off;
	si.rip = f->rip;
	si.rsp = f->rsp;
	si.rflags = f->rflags;
	memcpy(si.regs, f, sizeof(si.regs));
	if (port_copy_to_user(0, info, &si, sizeof(si))) {
		task_violation(c, t, "the signal frame's registers could not be written at", info);
		task_segv(c, t, f);
		return;
	}
	enter_handler(c, t, f, info);
	c->signals++;
}

/* The SIGSEGV after a refused sigreturn, delivered as a signal whose
 * handler checks that the frame holds the reset state (the library's
 * promise after a failed fpu_signal_restore) and then execs. If it cannot
 * be delivered, the program ends (task_segv). */
static void deliver_segv(struct percpu *c, struct task *t, struct trap_frame *f)
{
	uint64_t fp = (f->rsp - RED_ZONE - frame_size) & ~63ull, info;
	struct sig_info si = { 0 };

	info = ((fp - sizeof(si)) & ~15ull) - 8;
	if (info < t->user_stack_top - USER_STACK_SIZE || fpu_signal_save(&fpu_sys, &t->fpu, fp)) {
		task_segv(this_cpu(), t, f);
		return;
	}
	c = this_cpu();
	si.ret = (uint64_t)user_sigreturn;
	si.flags = SIG_SEGV;
	si.fp = fp;
	si.pkru_off = pkru_off;
	si.avx_off = avx_off;
	memcpy(si.regs, f, sizeof(si.regs));
	if (port_copy_to_user(0, info, &si, sizeof(si))) {
		task_segv(c, t, f);
		return;
	}
	enter_handler(c, t, f, info);
	c->segvs++;
}

/* Every fourth sigreturn the frame's last page is unmapped first: the
 * kernel's reads of the frame fault and bring it back. Returns the page's
 * entry to put back, with *page; 0 if nothing was done. */
static uint64_t unmap_frame_end(struct percpu *c, uint64_t fp, uint64_t *page)
{
	uint64_t old;

	*page = (fp + frame_size - 1) & ~(PAGE - 1);
	if (c->sigreturns % 4 != 0 || *page == (fp & ~(PAGE - 1)) || !user_page_ok(*page))
		return 0;
	old = user_page_get(*page);
	user_page_unmap(*page);
	return old;
}

void signal_return(struct percpu *c, struct task *t, struct trap_frame *f)
{
	struct sig_info si;
	uint64_t page, old;
	uint32_t want = 0;
	enum fpu_sigreturn r;
	bool corrupt;

	if (!t->in_handler || port_copy_from_user(0, &si, f->rsp - 8, sizeof(si))) {
		task_violation(c, t, "a sigreturn without a signal frame at", f->rsp);
		task_segv(c, t, f);
		return;
	}
	t->in_handler = false;
	c->sigreturns++;   /* now: the choices below must not see a count that others' sleeps left */
	corrupt = si.flags & (SIG_CORRUPT_HDR | SIG_CORRUPT_MXCSR);
	if (pkru_off && frame_pkru(si.fp, &want))
		task_violation(c, t, "the frame's PKRU could not be read at", si.fp);
	/* Every fourth sigreturn sleeps first, as one reading its frame from
	 * disk would: the registers then hold another task's state, which the
	 * restore must put away and stop calling its own. */
	if (c->sigreturns % 4 == 2) {
		task_sleep();
		c = this_cpu();
	}
	old = unmap_frame_end(c, si.fp, &page);
	r = fpu_signal_restore(&fpu_sys, &t->fpu, si.fp);
	c = this_cpu();
	if (old)
		user_page_put(page, old);
	if (!fpu_sigreturn_ok(r)) {
		c->frames_rejected++;
		if (!corrupt)
			task_violation(c, t, fpu_sigreturn_str(r), si.fp);
		deliver_segv(c, t, f);       /* Linux: reset state, then SIGSEGV */
		return;
	}
	if (corrupt)
		task_violation(c, t, "sigreturn took a corrupted frame at", si.fp);
	if (pkru_off) {
		c->pkru_checks++;
		if (fpu_rdpkru() != want)
			task_violation(c, t, "sigreturn did not restore the frame's PKRU, PKRU is", fpu_rdpkru());
	}
	if (!rip_in(si.rip, (const char *)user_task, user_steady_end)) {
		task_violation(c, t, "a sigreturn to outside the task's code at", si.rip);
		task_segv(c, t, f);
		return;
	}
	memcpy(f, si.regs, sizeof(si.regs));
	f->rip = si.rip;
	f->rsp = si.rsp;
	f->rflags = (si.rflags & USER_RFLAGS) | 0x202;
	f->cs = USER_CS;
	f->ss = USER_DS;
}
