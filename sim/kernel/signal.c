/* SPDX-License-Identifier: MIT */
/*
 * Signals: delivery at exit to user (the FP state goes to a Linux-format frame
 * on the user stack, through the library), handlers that run as the task and
 * may edit their frame, and sigreturn.
 *
 * The checks: the frame just written must hold exactly the state the task
 * had (a stale register owner would put another task's bytes there); the
 * sigreturn verdict must be what the scenario's edits call for; and after a
 * sigreturn the registers must equal what the frame says, read the way Linux
 * reads it. The last two model Linux's rules independently of the library.
 */
#include "kernel.h"
#include "ksignal.h"
#include "fpuctx/signal.h"

#define SW_MAGIC1        (FPU_SW_BYTES_OFFSET + 0)
#define SW_EXTENDED_SIZE (FPU_SW_BYTES_OFFSET + 4)
#define SW_XSTATE_SIZE   (FPU_SW_BYTES_OFFSET + 16)
#define HDR_XSTATE_BV    FPU_XSAVE_HDR_OFFSET
#define HDR_XCOMP_BV     (FPU_XSAVE_HDR_OFFSET + 8)
#define HDR_RESERVED     (FPU_XSAVE_HDR_OFFSET + 16)

static const struct scn_handler *find_handler(struct kernel *k, const struct task *t, unsigned sig)
{
	uint32_t i;

	for (i = 0; i < k->scn->nhandlers; i++)
		if (k->scn->handlers[i].task == t->scn_task && k->scn->handlers[i].signo == sig)
			return &k->scn->handlers[i];
	return 0;
}

/* Default action of every signal here: terminate. Never returns. */
void task_kill(struct kernel *k, struct task *t)
{
	k->res.killed++;
	ktrace(k, KT_EV_VIOLATION, t->id, 0xff, 0, 0);
	task_exit(k);
}

void send_signal(struct kernel *k, struct task *t, unsigned sig)
{
	(void)k;
	if (t->kind != KT_USER || t->state == TS_DEAD || t->state == TS_UNUSED || sig >= SIG__COUNT)
		return;
	t->sig_pending |= 1u << sig; /* delivered at its next return to user space */
}

/* The kernel could not build a frame, or sigreturn rejected one. */
static void force_sigsegv(struct kernel *k, struct task *t)
{
	k->res.sigsegv++;
	if (t->in_segv || !find_handler(k, t, SIG_SEGV))
		task_kill(k, t);
	t->sig_pending |= 1u << SIG_SEGV;
}

/* User-mode accesses to user memory: an evicted page is paged in (the task
 * may sleep), a read-only or unmapped one is a fault (false). */
static bool uaccess(struct kernel *k, void *dst, const void *src, uintptr_t user, uint32_t n, bool write)
{
	if (!hw_copy_user(dst, src, n))
		return true;
	return !user_fault_in(k, user, n, write) && !hw_copy_user(dst, src, n);
}

static bool uread(struct kernel *k, void *dst, uintptr_t src, uint32_t n)
{
	return uaccess(k, dst, (const void *)src, src, n, false);
}

static bool uwrite(struct kernel *k, uintptr_t dst, const void *src, uint32_t n)
{
	return uaccess(k, (void *)dst, src, dst, n, true);
}

static void save_position(struct sig_frame *f, const struct task *t)
{
	f->prog = t->prog;
	f->nops = t->nops;
	f->pc = t->pc;
	f->loop_depth = t->loop_depth;
	f->spin_left = t->spin_left;
	kcopy(f->loops, t->loops, sizeof(f->loops));
}

static void restore_position(struct task *t, const struct sig_frame *f)
{
	t->prog = f->prog;
	t->nops = f->nops;
	t->pc = f->pc;
	t->loop_depth = f->loop_depth;
	t->spin_left = f->spin_left;
	kcopy(t->loops, f->loops, sizeof(t->loops));
	t->usp = f->usp;
}

/* The frame must hold what the task's registers held. */
static void check_frame(struct kernel *k, struct task *t, uintptr_t fp)
{
	if (t->exp_owner == OWNER_UNKNOWN || !uread(k, t->frame_buf, fp, k->fpu.user_size))
		return;
	image_normalize(&k->oracle, t->frame_buf);
	image_check(k, t, t->frame_buf, this_cpu(k)->expect_buf, 0, 2);
}

void deliver_signal(struct kernel *k, struct task *t)
{
	unsigned sig = (unsigned)__builtin_ctz(t->sig_pending);
	const struct scn_handler *h = find_handler(k, t, sig);
	uint32_t size = fpu_sigframe_size(&k->fpu);
	uintptr_t sp = t->usp, lo = t->ustack_lo, fp;
	bool on_alt = sp > t->alt_lo && sp <= t->alt_hi;
	struct sig_frame *f;

	t->sig_pending &= ~(1u << sig);
	if (!h || t->sig_depth == SIG_MAX_DEPTH)
		task_kill(k, t);
	if (t->altstack_on && !on_alt)
		sp = t->alt_hi;
	if (t->altstack_on || on_alt)
		lo = t->alt_lo;
	if (sig == SIG_SEGV)
		t->in_segv = true;
	fp = (sp - RED_ZONE - size) & ~(uintptr_t)63;
	if (sp < lo + RED_ZONE + size + 128 ||
	    fpu_signal_save(&k->fpu, &t->fpu, fp)) {
		force_sigsegv(k, t); /* stack overflow, or the frame cannot be written */
		return;
	}
	check_frame(k, t, fp);
	f = &t->frames[t->sig_depth++];
	kzero(f, sizeof(*f));
	f->fp = fp;
	f->usp = t->usp;
	f->sig = (uint8_t)sig;
	save_position(f, t);
	t->usp = fp - 64;
	fpu_signal_reset(&this_cpu(k)->fpu, &t->fpu);
	t->exp_owner = OWNER_INIT;
	t->exp_gen = 0;
	t->prog = &k->scn->ops[h->first_op];
	t->nops = h->nops;
	t->pc = 0;
	t->loop_depth = 0;
	t->spin_left = 0;
	t->in_segv = false;
	k->res.signals++;
	kernel_hash(k, 0x5160000000ull | (uint64_t)t->id << 8 | sig);
}

/* Sigreturn can read a frame unless one of its pages is gone (evicted pages
 * come back with a fault-in; read-only ones are readable). */
static bool frame_unreadable(const struct kernel *k, uintptr_t fp)
{
	uintptr_t base = (uintptr_t)k->user_mem, p;

	for (p = fp & ~(uintptr_t)(PAGE_SIZE - 1); p < fp + fpu_sigframe_size(&k->fpu); p += PAGE_SIZE)
		if (k->page_state[(p - base) / PAGE_SIZE] == PG_UNMAPPED)
			return true;
	return false;
}

static enum sig_predict predict(const struct kernel *k, const struct sig_frame *f)
{
	/* Without XSAVE every frame is the legacy area alone. */
	bool fx_only = f->fx_only_edit || !k->fpu.xs.has_xsave;

	if (frame_unreadable(k, f->fp) || f->mxcsr_bad)
		return PREDICT_FAIL;
	/* Linux hands the pointer to FXRSTOR (legacy-only) or XRSTOR, which
	 * fault on an operand not 16- or 64-byte aligned. */
	if (f->fp & (fx_only ? 15 : 63))
		return PREDICT_FAIL;
	if (fx_only)
		return PREDICT_FX_ONLY; /* the header is not looked at then */
	return f->header_bad ? PREDICT_FAIL : PREDICT_OK;
}

static void verdict_violation(struct kernel *k, struct task *t, uint8_t which, enum fpu_sigreturn r)
{
	kviolation(k, VIOL_SIGRETURN, which, k->hw->running, t->id, 0, fpu_sigreturn_str(r), NULL);
}

/* What the registers must hold after sigreturn, read from the frame as Linux
 * reads it: legacy-only frames give x87/SSE from the frame and init for the
 * rest; otherwise every component XSTATE_BV marks comes from the frame. */
static void expect_from_frame(struct kernel *k, struct task *t, const struct sig_frame *f, bool fx_only)
{
	uint64_t bv = FPU_XFEATURE_MASK_FPSSE;
	uint32_t i;

	if (!uread(k, t->frame_buf, f->fp, k->fpu.user_size)) {
		t->exp_owner = OWNER_UNKNOWN;
		return;
	}
	if (fx_only) {
		for (i = 0; i < 8; i++)
			t->frame_buf[HDR_XSTATE_BV + i] = (uint8_t)(bv >> (8 * i));
		/* Linux then loads init for the rest. From a standard-format init
		 * image (CPUs without XSAVES) an XRSTOR with AVX in its mask
		 * reloads MXCSR too; from a compacted one MXCSR is left alone. */
		if ((k->oracle.user_mask & FPU_XFEATURE_MASK(FPU_XFEATURE_AVX)) &&
		    !(k->fpu.xs.has_xsaves && k->fpu.xs.has_xsavec))
			for (i = 0; i < 4; i++)
				t->frame_buf[FPU_FXSAVE_MXCSR + i] = (uint8_t)(FPU_MXCSR_DEFAULT >> (8 * i));
	}
	image_normalize(&k->oracle, t->frame_buf);
	kcopy(t->exp_image, t->frame_buf, k->oracle.std_size);
	t->exp_owner = OWNER_IMAGE;
}

void do_sigreturn(struct kernel *k, struct task *t)
{
	struct sig_frame *f = &t->frames[--t->sig_depth];
	enum sig_predict want = predict(k, f);
	enum fpu_sigreturn r = fpu_signal_restore(&k->fpu, &t->fpu, f->fp);
	bool ok = fpu_sigreturn_ok(r);

	restore_position(t, f);
	if (want == PREDICT_FAIL && ok)
		verdict_violation(k, t, 0, r);
	else if (want != PREDICT_FAIL && !ok)
		verdict_violation(k, t, 1, r);
	else if (ok && (want == PREDICT_FX_ONLY) != (r == FPU_SIGRETURN_OK_FX_ONLY))
		verdict_violation(k, t, 2, r);
	kernel_hash(k, 0x5e70000000ull | (uint64_t)t->id << 8 | r);
	if (!ok) {
		t->exp_owner = OWNER_INIT; /* a failed sigreturn leaves the reset state */
		t->exp_gen = 0;
		force_sigsegv(k, t);
		return;
	}
	k->res.sigreturns++;
	expect_from_frame(k, t, f, r == FPU_SIGRETURN_OK_FX_ONLY);
}

/* ---- frame edits, done by the handler in user mode ---- */

static bool uwrite32(struct kernel *k, uintptr_t at, uint32_t v) { return uwrite(k, at, &v, 4); }
static bool uwrite64(struct kernel *k, uintptr_t at, uint64_t v) { return uwrite(k, at, &v, 8); }

static bool set_bv(struct kernel *k, uintptr_t fp, uint64_t set, uint64_t clear)
{
	uint64_t bv;

	if (!k->fpu.xs.has_xsave)
		return true; /* a legacy frame has no header */
	return uread(k, &bv, fp + HDR_XSTATE_BV, 8) &&
	       uwrite64(k, fp + HDR_XSTATE_BV, (bv | set) & ~clear);
}

/* A fresh pattern of this task into one component of the frame. */
static bool frame_dirty(struct kernel *k, struct task *t, uintptr_t fp, unsigned comp)
{
	const struct fpu_xstate_info *xs = &k->fpu.xs;
	uint8_t *img = t->frame_buf;
	uint64_t bits = FPU_XFEATURE_MASK(comp);

	if (!(k->oracle.user_mask & bits))
		return true; /* not on this CPU: nothing to edit */
	pattern_build(&k->oracle, img, t->id, ++t->next_gen, k->oracle.user_mask);
	if (comp == FPU_XFEATURE_X87)
		return uwrite(k, fp, img, FPU_FXSAVE_MXCSR) &&
		       uwrite(k, fp + FPU_FXSAVE_ST, img + FPU_FXSAVE_ST, FPU_FXSAVE_XMM - FPU_FXSAVE_ST) &&
		       set_bv(k, fp, bits, 0);
	if (comp == FPU_XFEATURE_SSE)
		return uwrite(k, fp + FPU_FXSAVE_XMM, img + FPU_FXSAVE_XMM, 256) && set_bv(k, fp, bits, 0);
	if (comp == FPU_XFEATURE_XTILEDATA && (k->oracle.user_mask & FPU_XFEATURE_MASK(FPU_XFEATURE_XTILECFG))) {
		/* tile data needs a tile configuration to mean anything */
		if (!uwrite(k, fp + xs->offset[FPU_XFEATURE_XTILECFG], img + xs->offset[FPU_XFEATURE_XTILECFG],
			    xs->size[FPU_XFEATURE_XTILECFG]))
			return false;
		bits |= FPU_XFEATURE_MASK(FPU_XFEATURE_XTILECFG);
	}
	return uwrite(k, fp + xs->offset[comp], img + xs->offset[comp], xs->size[comp]) &&
	       set_bv(k, fp, bits, 0);
}

/* The handler moves its frame down to `off` bytes past a 64-byte boundary,
 * into the 64 bytes between its stack pointer and where the kernel put the
 * frame (`home`, which every such move leaves behind), and points the
 * frame pointer at it, as a real one would change uc_mcontext.fpregs. */
static bool frame_misalign(struct kernel *k, struct task *t, struct sig_frame *f, uint32_t off)
{
	uint32_t size = fpu_sigframe_size(&k->fpu), n = size < k->fpu.user_size ? size : k->fpu.user_size;
	uintptr_t home = (f->fp + 63) & ~(uintptr_t)63, to = home - 64 + off;
	uint8_t tail[FPU_FP_XSTATE_MAGIC2_SIZE];

	if (!uread(k, t->frame_buf, f->fp, n) || (size > n && !uread(k, tail, f->fp + n, size - n)) ||
	    !uwrite(k, to, t->frame_buf, n) || (size > n && !uwrite(k, to + n, tail, size - n)))
		return false;
	f->fp = to;
	return true;
}

/* A component bit (above x87/SSE) the CPU does not enable: XRSTOR faults on it. */
static uint64_t lowest_disabled_component(const struct kernel *k)
{
	uint64_t off = ~k->fpu.xs.xcr0 & ~FPU_XFEATURE_MASK_FPSSE;

	return off & -off;
}

void frame_edit(struct kernel *k, struct task *t, const struct scn_op *op)
{
	struct sig_frame *f;
	uint32_t size = fpu_sigframe_size(&k->fpu);
	uintptr_t fp;
	bool ok = true;

	if (!t->sig_depth)
		return; /* the parser keeps frame edits in handlers */
	f = &t->frames[t->sig_depth - 1];
	fp = f->fp;
	/* Without XSAVE the frame is the legacy area alone: its software-reserved
	 * bytes mean nothing, and no header or MAGIC2 follows it. */
	if (!k->fpu.xs.has_xsave && op->arg >= FRAME_CORRUPT_MAGIC1 && op->arg <= FRAME_CORRUPT_XSTATE_BV)
		return;
	switch (op->arg) {
	case FRAME_MXCSR:
		ok = uwrite32(k, fp + FPU_FXSAVE_MXCSR, op->arg2);
		f->mxcsr_bad = ok ? (op->arg2 & ~k->fpu.xs.mxcsr_mask) != 0 : f->mxcsr_bad;
		break;
	case FRAME_DIRTY:
		ok = frame_dirty(k, t, fp, op->arg2);
		break;
	case FRAME_CLEAR:
		ok = set_bv(k, fp, 0, FPU_XFEATURE_MASK(op->arg2));
		break;
	case FRAME_PKRU:
		if (k->fpu.has_pkru)
			ok = uwrite32(k, fp + k->fpu.xs.offset[FPU_XFEATURE_PKRU], op->arg2) &&
			     set_bv(k, fp, FPU_XFEATURE_MASK(FPU_XFEATURE_PKRU), 0);
		break;
	case FRAME_CORRUPT_MAGIC1:
		f->fx_only_edit |= ok = uwrite32(k, fp + SW_MAGIC1, 0);
		break;
	case FRAME_CORRUPT_MAGIC2:
		f->fx_only_edit |= ok = uwrite32(k, fp + k->fpu.user_size, 0);
		break;
	case FRAME_CORRUPT_XSTATE_SIZE:
		f->fx_only_edit |= ok = uwrite32(k, fp + SW_XSTATE_SIZE, FPU_FXSAVE_SIZE + FPU_XSAVE_HDR_SIZE - 1);
		break;
	case FRAME_CORRUPT_EXTENDED_SIZE:
		f->fx_only_edit |= ok = uwrite32(k, fp + SW_EXTENDED_SIZE, FPU_FXSAVE_SIZE + FPU_XSAVE_HDR_SIZE);
		break;
	case FRAME_CORRUPT_XCOMP_BV:
		f->header_bad |= ok = uwrite64(k, fp + HDR_XCOMP_BV, 1);
		break;
	case FRAME_CORRUPT_RESERVED:
		f->header_bad |= ok = uwrite64(k, fp + HDR_RESERVED, 0xbad);
		break;
	case FRAME_CORRUPT_XSTATE_BV:
		f->header_bad |= ok = set_bv(k, fp, lowest_disabled_component(k), 0);
		break;
	case FRAME_EVICT:
		user_set_pages(k, fp, fp + size, PG_EVICTED);
		break;
	case FRAME_UNMAP:
		user_set_pages(k, fp, fp + size, PG_UNMAPPED);
		break;
	case FRAME_MISALIGN:
		ok = frame_misalign(k, t, f, op->arg2);
		break;
	}
	if (!ok)
		force_sigsegv(k, t); /* the handler touched memory it cannot: a user fault */
}

/* The user lowers its stack pointer so that the next frame's XSAVE header
 * starts a page and the legacy area lies on the page below. With the stack
 * evicted, the header write then faults in only the upper page and the XSAVE
 * itself faults, whatever the frame's size: the retry Linux bug 8 is about. */
static void straddle(struct kernel *k, struct task *t)
{
	uint32_t size = fpu_sigframe_size(&k->fpu);
	bool on_alt = t->usp > t->alt_lo && t->usp <= t->alt_hi;
	uintptr_t lo = on_alt ? t->alt_lo : t->ustack_lo;
	uintptr_t hdr = (t->usp - RED_ZONE - size + FPU_FXSAVE_SIZE) & ~(uintptr_t)(PAGE_SIZE - 1);

	if (hdr > lo) /* else no page below on this stack: the frame goes where it would */
		t->usp = hdr - FPU_FXSAVE_SIZE + RED_ZONE + size;
}

void stack_mode(struct kernel *k, struct task *t, unsigned mode)
{
	static const uint8_t states[] = {
		[STACK_EVICT] = PG_EVICTED, [STACK_READONLY] = PG_READONLY,
		[STACK_UNMAP] = PG_UNMAPPED, [STACK_RESTORE] = PG_PRESENT,
	};

	if (mode == STACK_STRADDLE)
		straddle(k, t);
	if (mode > STACK_RESTORE)
		return;
	user_set_pages(k, t->ustack_lo, t->ustack_hi, states[mode]);
	user_set_pages(k, t->alt_lo, t->alt_hi, states[mode]);
}
