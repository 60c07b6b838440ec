/* SPDX-License-Identifier: MIT */
/*
 * Guest FPU state (include/fpuctx/kvm.h) on the real registers: the run-call
 * swap, preemption and kernel FPU inside a run call (the second seed's
 * question), migration, get/set with validation, misuse.
 *
 * Register contents are told apart by MXCSR, which libc does not change:
 * each context gets its own rounding/flag bits.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fpuctx/api.h"
#include "fpuctx/insn.h"
#include "fpuctx/kvm.h"
#include "fpuctx/sched.h"
#include "fpuctx/testing.h"

static int failed_checks;
static int quiet; /* while running a check that is meant to fail */
#define CHECK(cond, ...)                                                         \
	do {                                                                     \
		if (!(cond)) {                                                   \
			if (!quiet) {                                            \
				printf("%s:%d: ", __FILE__, __LINE__);           \
				printf(__VA_ARGS__);                             \
				printf("\n");                                    \
			}                                                        \
			failed_checks++;                                         \
		}                                                                \
	} while (0)

#define MXCSR_VMM   0x3f80u  /* round down */
#define MXCSR_GUEST 0x5f80u  /* round up */
#define MXCSR_OTHER 0x7f80u  /* toward zero */

struct fixture {
	struct fpu_system sys;
	struct fpu_cpu cpu[2];
	struct fpu_state init, vmm_state, k_state, other_state;
	struct fpu_ctx vmm, kthread, other;   /* other: another FPU-using task */
	struct fpu_guest guest;
	int warns;
	int locked;
	int context;
	void *mem[8];   /* every area, freed by teardown() */
	int nmem;
};

static void p_lock(void *p, int c) { (void)c; ((struct fixture *)p)->locked++; }
static void p_unlock(void *p, int c) { (void)c; ((struct fixture *)p)->locked--; }
static unsigned p_context(void *p, int c) { (void)c; return (unsigned)((struct fixture *)p)->context; }
static void p_warn(void *p, int c, const char *w) { (void)c; (void)w; ((struct fixture *)p)->warns++; }

static struct fixture *flush_fixture; /* whose CPUs flush_remote reaches */

/* Both fake CPUs share the real registers: the "IPI" is answered at once. */
static void p_flush_remote(void *p, int c, struct fpu_state *s)
{
	(void)p;
	CHECK(fpu_flush_ipi(&flush_fixture->cpu[c], s), "flush IPI refused");
}

static const struct fpu_port_ops ops = {
	.lock = p_lock, .unlock = p_unlock, .context = p_context, .warn = p_warn,
	.flush_remote = p_flush_remote,
};

static void *area(struct fixture *f)
{
	void *a = aligned_alloc(64, (f->sys.state_size + 63) & ~63u);

	memset(a, 0, f->sys.state_size);
	f->mem[f->nmem++] = a;
	return a;
}

static void teardown(struct fixture *f)
{
	while (f->nmem)
		free(f->mem[--f->nmem]);
	free(f);
}

/* Everything but AMX (it needs a permission); XGETBV only where the OS
 * enabled XSAVE (CPUID.1:ECX.OSXSAVE). */
static uint64_t test_want(void)
{
	uint32_t r[4];

	fpu_cpuid(1, 0, r);
	if (!(r[2] & (1u << 27)))
		return FPU_XFEATURE_MASK_FPSSE;
	return fpu_xgetbv(0) & ~(FPU_XFEATURE_MASK(FPU_XFEATURE_XTILECFG) | FPU_XFEATURE_MASK(FPU_XFEATURE_XTILEDATA));
}

static const char *setup_policy = "linux";

static struct fixture *setup(void)
{
	struct fixture *f = calloc(1, sizeof(*f));
	uint64_t missing, want = test_want();
	int i;

	flush_fixture = f;
	if (fpu_system_init(&f->sys, fpu_policy_find(setup_policy), want, FPU_INSN__COUNT, &ops, f,
			    &missing)) {
		printf("cannot set up the library on this CPU\n");
		exit(1);
	}
	if (!fpu_system_set_init_area(&f->sys, &f->init, area(f), f->sys.state_size)) {
		printf("the init area was refused\n");
		exit(1);
	}
	for (i = 0; i < 2; i++) {
		f->cpu[i].sys = &f->sys;
		f->cpu[i].id = i;
	}
	CHECK(fpu_state_setup(&f->sys, &f->vmm_state, area(f), f->sys.state_size, 1), "buffer refused");
	fpu_ctx_init(&f->sys, &f->vmm, &f->vmm_state, 1, false);
	CHECK(fpu_state_setup(&f->sys, &f->k_state, area(f), f->sys.state_size, 2), "buffer refused");
	fpu_ctx_init(&f->sys, &f->kthread, &f->k_state, 2, true);
	CHECK(fpu_state_setup(&f->sys, &f->other_state, area(f), f->sys.state_size, 4), "buffer refused");
	fpu_ctx_init(&f->sys, &f->other, &f->other_state, 4, false);
	if (!fpu_guest_init(&f->sys, &f->guest, area(f), f->sys.state_size, f->sys.mask, 3)) {
		printf("guest init refused the host's own features\n");
		exit(1);
	}
	return f;
}

static uint32_t stmxcsr(void)
{
	uint32_t v;
	__asm__ volatile("stmxcsr %0" : "=m"(v));
	return v;
}

static uint32_t buffer_mxcsr(const struct fpu_state *s)
{
	uint32_t v;
	memcpy(&v, (const uint8_t *)s->area + FPU_FXSAVE_MXCSR, 4);
	return v;
}

/* The VMM returns to user and runs with its own MXCSR. */
static void vmm_in_user(struct fixture *f, int c)
{
	fpu_exit_to_user(&f->cpu[c], &f->vmm);
	fpu_ldmxcsr(MXCSR_VMM);
}

/* A run call enters the guest, which sets its own MXCSR. */
static void guest_runs(struct fixture *f, int c)
{
	fpu_guest_enter(&f->cpu[c], &f->vmm, &f->guest);
	fpu_ldmxcsr(MXCSR_GUEST);
}

static void test_run_call(struct fixture *f)
{
	vmm_in_user(f, 0);
	fpu_guest_run_begin(&f->cpu[0], &f->vmm, &f->guest);
	CHECK(buffer_mxcsr(&f->vmm_state) == MXCSR_VMM, "VMM state not put away at run begin");
	CHECK(fpu_guest_active(&f->vmm, &f->guest), "guest not active in the run call");
	guest_runs(f, 0);
	CHECK(f->cpu[0].owner == &f->guest.state, "registers not the guest's after entry");
	fpu_guest_run_end(&f->cpu[0], &f->vmm, &f->guest);
	CHECK(buffer_mxcsr(&f->guest.state) == MXCSR_GUEST, "guest state not saved at run end");
	CHECK(!fpu_guest_active(&f->vmm, &f->guest) && f->vmm.active == &f->vmm_state,
	      "VMM's buffer not active after the call");
	fpu_exit_to_user(&f->cpu[0], &f->vmm);
	CHECK(stmxcsr() == MXCSR_VMM, "VMM returned to user with MXCSR 0x%x", stmxcsr());
	CHECK(f->locked == 0, "port lock unbalanced");
}

/* The second seed: the vCPU thread is preempted while the guest's state is
 * loaded, another FPU user runs, the vCPU comes back, exits to the VMM. */
static void test_preempted_run(struct fixture *f)
{
	vmm_in_user(f, 0);
	fpu_guest_run_begin(&f->cpu[0], &f->vmm, &f->guest);
	guest_runs(f, 0);
	fpu_switch(&f->cpu[0], &f->vmm, &f->other);           /* preempted */
	CHECK(buffer_mxcsr(&f->guest.state) == MXCSR_GUEST, "preemption did not save the guest");
	CHECK(buffer_mxcsr(&f->vmm_state) == MXCSR_VMM, "preemption overwrote the VMM's state");
	fpu_exit_to_user(&f->cpu[0], &f->other);
	fpu_ldmxcsr(MXCSR_OTHER);
	fpu_switch(&f->cpu[0], &f->other, &f->vmm);           /* back */
	guest_runs(f, 0);                                   /* reload: not skip */
	fpu_guest_run_end(&f->cpu[0], &f->vmm, &f->guest);
	fpu_exit_to_user(&f->cpu[0], &f->vmm);
	CHECK(stmxcsr() == MXCSR_VMM, "VMM has MXCSR 0x%x after a preempted run", stmxcsr());
}

/* Linux bug 7: kernel FPU in an interrupt between run begin and entry, and
 * after entry: the save goes to the guest, the guest is reloaded. */
static void test_kfpu_in_run(struct fixture *f)
{
	vmm_in_user(f, 0);
	fpu_guest_run_begin(&f->cpu[0], &f->vmm, &f->guest);
	CHECK(fpu_kernel_begin(&f->cpu[0], &f->vmm, FPU_KFPU_MXCSR), "kfpu refused");
	fpu_kernel_end(&f->cpu[0], &f->vmm);
	guest_runs(f, 0);
	CHECK(stmxcsr() == MXCSR_GUEST, "guest entered with MXCSR 0x%x", stmxcsr());
	CHECK(fpu_kernel_begin(&f->cpu[0], &f->vmm, FPU_KFPU_MXCSR), "kfpu refused");
	CHECK(stmxcsr() == FPU_MXCSR_DEFAULT, "kernel FPU got MXCSR 0x%x", stmxcsr());
	fpu_kernel_end(&f->cpu[0], &f->vmm);
	CHECK(buffer_mxcsr(&f->guest.state) == MXCSR_GUEST, "kfpu did not save the guest");
	fpu_guest_enter(&f->cpu[0], &f->vmm, &f->guest);
	CHECK(stmxcsr() == MXCSR_GUEST, "guest re-entered with MXCSR 0x%x", stmxcsr());
	fpu_guest_run_end(&f->cpu[0], &f->vmm, &f->guest);
	fpu_exit_to_user(&f->cpu[0], &f->vmm);
	CHECK(stmxcsr() == MXCSR_VMM, "VMM has MXCSR 0x%x", stmxcsr());
}

/* The vCPU thread migrates mid-run: the guest is loaded on the new CPU. */
static void test_migration(struct fixture *f)
{
	uint64_t restores;

	vmm_in_user(f, 0);
	fpu_guest_run_begin(&f->cpu[0], &f->vmm, &f->guest);
	guest_runs(f, 0);
	fpu_switch(&f->cpu[0], &f->vmm, &f->kthread);
	restores = f->cpu[1].stats.restores;
	fpu_switch(&f->cpu[1], &f->kthread, &f->vmm);
	fpu_ldmxcsr(MXCSR_OTHER); /* CPU 1's registers hold something else */
	fpu_guest_enter(&f->cpu[1], &f->vmm, &f->guest);
	CHECK(f->cpu[1].stats.restores == restores + 1, "guest not loaded on the new CPU");
	CHECK(stmxcsr() == MXCSR_GUEST, "guest on CPU 1 has MXCSR 0x%x", stmxcsr());
	fpu_guest_run_end(&f->cpu[1], &f->vmm, &f->guest);
	fpu_exit_to_user(&f->cpu[1], &f->vmm);
}

/* A fresh vCPU's first entry loads a defined state (Linux bug 2). */
static void test_fresh_vcpu(struct fixture *f)
{
	vmm_in_user(f, 0);
	fpu_guest_run_begin(&f->cpu[0], &f->vmm, &f->guest);
	fpu_guest_enter(&f->cpu[0], &f->vmm, &f->guest);
	CHECK(stmxcsr() == FPU_MXCSR_DEFAULT, "fresh guest entered with MXCSR 0x%x", stmxcsr());
	fpu_guest_run_end(&f->cpu[0], &f->vmm, &f->guest);
	fpu_exit_to_user(&f->cpu[0], &f->vmm);
}

/* Get and set need the state in memory: refused during a run call. */
static void test_busy(struct fixture *f)
{
	uint32_t size = fpu_xstate_size(&f->sys.xs, FPU_INSN_XSAVE, f->guest.features);
	uint8_t *std = aligned_alloc(64, (size + 63) & ~63u);
	enum fpu_regset_error e;

	vmm_in_user(f, 0);
	fpu_guest_run_begin(&f->cpu[0], &f->vmm, &f->guest);
	e = fpu_guest_get(&f->cpu[0], &f->guest, std);
	CHECK(e == FPU_REGSET_BUSY, "get during a run call: '%s'", fpu_regset_error_str(e));
	e = fpu_guest_set(&f->sys, &f->guest, std);
	CHECK(e == FPU_REGSET_BUSY, "set during a run call: '%s'", fpu_regset_error_str(e));
	fpu_guest_run_end(&f->cpu[0], &f->vmm, &f->guest);
	CHECK(fpu_guest_get(&f->cpu[0], &f->guest, std) == FPU_REGSET_OK, "get after the call refused");
	fpu_exit_to_user(&f->cpu[0], &f->vmm);
	free(std);
}

/* The 2015 design (rfc2015): the guest is swapped in and loaded at every
 * entry, put away when the vCPU thread is switched out; a kernel FPU
 * section in between is followed by a reload. Exact counts. */
static void test_per_entry(struct fixture *f)
{
	struct fpu_stats *st = &f->cpu[0].stats;

	f->sys.policy = fpu_policy_find("rfc2015");
	vmm_in_user(f, 0);
	fpu_guest_run_begin(&f->cpu[0], &f->vmm, &f->guest);
	CHECK(!fpu_guest_active(&f->vmm, &f->guest), "per-entry: swapped in before entry");
	uint64_t saves = st->saves, restores = st->restores;
	guest_runs(f, 0);
	CHECK(st->saves == saves + 1 && st->restores == restores + 1,
	      "entry: %llu saves %llu restores, wanted 1 and 1",
	      (unsigned long long)(st->saves - saves), (unsigned long long)(st->restores - restores));
	fpu_guest_sched_out(&f->cpu[0], &f->vmm, &f->guest);
	CHECK(buffer_mxcsr(&f->guest.state) == MXCSR_GUEST, "sched-out did not put the guest away");
	CHECK(f->vmm.active == &f->vmm_state, "VMM's buffer not active after sched-out");
	fpu_switch(&f->cpu[0], &f->vmm, &f->kthread);
	fpu_switch(&f->cpu[0], &f->kthread, &f->vmm);
	saves = st->saves, restores = st->restores;
	fpu_guest_enter(&f->cpu[0], &f->vmm, &f->guest);
	CHECK(st->saves == saves && st->restores == restores + 1,
	      "re-entry: %llu saves %llu restores, wanted 0 and 1 (the seed's one load)",
	      (unsigned long long)(st->saves - saves), (unsigned long long)(st->restores - restores));
	CHECK(stmxcsr() == MXCSR_GUEST, "re-entered with MXCSR 0x%x", stmxcsr());
	CHECK(fpu_kernel_begin(&f->cpu[0], &f->vmm, FPU_KFPU_MXCSR), "kfpu refused");
	fpu_kernel_end(&f->cpu[0], &f->vmm);
	fpu_guest_enter(&f->cpu[0], &f->vmm, &f->guest);
	CHECK(stmxcsr() == MXCSR_GUEST, "entry after a kernel FPU section: MXCSR 0x%x", stmxcsr());
	fpu_guest_run_end(&f->cpu[0], &f->vmm, &f->guest);
	fpu_exit_to_user(&f->cpu[0], &f->vmm);
	CHECK(stmxcsr() == MXCSR_VMM, "VMM has MXCSR 0x%x", stmxcsr());
	CHECK(f->locked == 0 && f->warns == 0, "lock %d warns %d", f->locked, f->warns);
}

/* 5.2: run begin saved the registers into the VMM's buffer although, under
 * deferred restore, they were another task's. */
static void test_scratch_bug_is_caught(struct fixture *f)
{
	vmm_in_user(f, 0);
	fpu_switch(&f->cpu[0], &f->vmm, &f->other);
	fpu_exit_to_user(&f->cpu[0], &f->other);
	fpu_ldmxcsr(MXCSR_OTHER);
	fpu_switch(&f->cpu[0], &f->other, &f->vmm); /* the VMM is back, still in the kernel */
	f->sys.bugs = FPU_BUG_GUEST_SCRATCH;
	fpu_guest_run_begin(&f->cpu[0], &f->vmm, &f->guest);
	fpu_guest_run_end(&f->cpu[0], &f->vmm, &f->guest);
	CHECK(buffer_mxcsr(&f->vmm_state) == MXCSR_OTHER,
	      "with the bug the VMM's buffer should hold the other task's MXCSR, holds 0x%x",
	      buffer_mxcsr(&f->vmm_state));
	f->sys.bugs = 0;
	fpu_exit_to_user(&f->cpu[0], &f->vmm);
}

/* Linux bug 7 put back: entry trusts the load at run begin. */
static void test_no_reload_bug_is_caught(struct fixture *f)
{
	f->sys.bugs = FPU_BUG_GUEST_ENTER_NO_RELOAD;
	vmm_in_user(f, 0);
	fpu_guest_run_begin(&f->cpu[0], &f->vmm, &f->guest);
	fpu_ldmxcsr(MXCSR_GUEST);
	fpu_guest_sched_out(&f->cpu[0], &f->vmm, &f->guest);
	CHECK(fpu_kernel_begin(&f->cpu[0], &f->vmm, FPU_KFPU_MXCSR), "kfpu refused");
	fpu_kernel_end(&f->cpu[0], &f->vmm);
	fpu_guest_enter(&f->cpu[0], &f->vmm, &f->guest);
	CHECK(stmxcsr() == FPU_MXCSR_DEFAULT, "with the bug the guest should run on the kernel's MXCSR, has 0x%x",
	      stmxcsr());
	f->sys.bugs = 0;
	fpu_guest_run_end(&f->cpu[0], &f->vmm, &f->guest);
	fpu_exit_to_user(&f->cpu[0], &f->vmm);
}

static void test_get_set(struct fixture *f)
{
	uint32_t size = fpu_xstate_size(&f->sys.xs, FPU_INSN_XSAVE, f->guest.features);
	uint8_t *std = aligned_alloc(64, (size + 63) & ~63u), *before = malloc(f->sys.state_size);
	enum fpu_regset_error e;
	uint64_t bv;
	uint32_t mx;

	test_run_call(f); /* leaves MXCSR_GUEST in the guest buffer */
	fpu_guest_get(&f->cpu[0], &f->guest, std);
	memcpy(&mx, std + FPU_FXSAVE_MXCSR, 4);
	CHECK(mx == MXCSR_GUEST, "get: MXCSR 0x%x", mx);
	memcpy(&bv, std + FPU_XSAVE_HDR_OFFSET + 8, 8);
	CHECK(bv == 0, "get: XCOMP_BV 0x%llx in a standard image", (unsigned long long)bv);

	memcpy(before, f->guest.state.area, f->sys.state_size);
	memcpy(&bv, std + FPU_XSAVE_HDR_OFFSET, 8);
	bv |= 1ull << 8; /* not a guest feature */
	memcpy(std + FPU_XSAVE_HDR_OFFSET, &bv, 8);
	e = fpu_guest_set(&f->sys, &f->guest, std);
	CHECK(e == FPU_REGSET_BAD_XSTATE_BV, "bad XSTATE_BV: got '%s'", fpu_regset_error_str(e));
	bv &= ~(1ull << 8);
	memcpy(std + FPU_XSAVE_HDR_OFFSET, &bv, 8);
	std[FPU_XSAVE_HDR_OFFSET + 40] = 1;
	e = fpu_guest_set(&f->sys, &f->guest, std);
	CHECK(e == FPU_REGSET_BAD_HEADER, "reserved header: got '%s'", fpu_regset_error_str(e));
	std[FPU_XSAVE_HDR_OFFSET + 40] = 0;
	mx = MXCSR_GUEST | 1u << 20;
	memcpy(std + FPU_FXSAVE_MXCSR, &mx, 4);
	e = fpu_guest_set(&f->sys, &f->guest, std);
	CHECK(e == FPU_REGSET_BAD_MXCSR, "bad MXCSR: got '%s'", fpu_regset_error_str(e));
	CHECK(memcmp(before, f->guest.state.area, f->sys.state_size) == 0, "a rejected set changed the guest");

	mx = MXCSR_OTHER;
	memcpy(std + FPU_FXSAVE_MXCSR, &mx, 4);
	e = fpu_guest_set(&f->sys, &f->guest, std);
	CHECK(e == FPU_REGSET_OK, "valid set rejected: %s", fpu_regset_error_str(e));
	CHECK(f->guest.state.last_cpu == -1, "set left the guest looking loaded");
	vmm_in_user(f, 0);
	fpu_guest_run_begin(&f->cpu[0], &f->vmm, &f->guest);
	fpu_guest_enter(&f->cpu[0], &f->vmm, &f->guest);
	CHECK(stmxcsr() == MXCSR_OTHER, "entered with MXCSR 0x%x after set", stmxcsr());
	fpu_guest_run_end(&f->cpu[0], &f->vmm, &f->guest);
	fpu_exit_to_user(&f->cpu[0], &f->vmm);
	free(std);
	free(before);
}

static void test_misuse(struct fixture *f)
{
	fpu_guest_enter(&f->cpu[0], &f->vmm, &f->guest);
	CHECK(f->warns == 1, "entry outside a run call not reported");
	fpu_guest_run_end(&f->cpu[0], &f->vmm, &f->guest);
	CHECK(f->warns == 2, "unmatched run end not reported");
	fpu_guest_run_begin(&f->cpu[0], &f->vmm, &f->guest);
	fpu_guest_run_begin(&f->cpu[0], &f->vmm, &f->guest);
	CHECK(f->warns == 3, "nested run call not reported");
	fpu_guest_run_end(&f->cpu[0], &f->vmm, &f->guest);
	CHECK(!fpu_guest_init(&f->sys, &f->guest, f->guest.state.area, f->sys.state_size, ~0ull, 3),
	      "guest features outside the host's accepted");
}

/* The checker above must be able to fail: with the 2018 design put back,
 * the preempted run must be caught overwriting the VMM's state. */
/* Runs a clean test with `bug` injected, quietly: how many of its checks fired. */
static int checks_fired_with(struct fixture *f, uint32_t bug, void (*test)(struct fixture *))
{
	int before = failed_checks, fired;

	f->sys.bugs = bug;
	quiet = 1;
	test(f);
	quiet = 0;
	fired = failed_checks - before;
	failed_checks = before;
	return fired;
}

static void test_2018_bug_is_caught(struct fixture *f)
{
	int caught = checks_fired_with(f, FPU_BUG_GUEST_SAVE_TO_VMM, test_preempted_run);

	CHECK(caught >= 2, "the injected 2018 bug went unnoticed (%d checks fired)", caught);
	CHECK(buffer_mxcsr(&f->vmm_state) == MXCSR_GUEST,
	      "with the bug the VMM's buffer should hold the guest's MXCSR, holds 0x%x",
	      buffer_mxcsr(&f->vmm_state));
}

/* deferred: the run call ends with the guest's registers live; they stay
 * the guest's unsaved image until the VMM's own state is loaded, and then go
 * to the guest's buffer, not the VMM's. */
static void test_deferred_run_end(struct fixture *f)
{
	vmm_in_user(f, 0);
	fpu_guest_run_begin(&f->cpu[0], &f->vmm, &f->guest);
	guest_runs(f, 0);
	fpu_guest_run_end(&f->cpu[0], &f->vmm, &f->guest);
	CHECK(f->guest.state.unsaved && f->cpu[0].owner == &f->guest.state,
	      "the guest's image is not left unsaved at run end");
	CHECK(buffer_mxcsr(&f->guest.state) != MXCSR_GUEST, "the guest was saved at run end");
	fpu_exit_to_user(&f->cpu[0], &f->vmm);
	CHECK(buffer_mxcsr(&f->guest.state) == MXCSR_GUEST, "the guest's image did not reach its buffer");
	CHECK(buffer_mxcsr(&f->vmm_state) == MXCSR_VMM, "the VMM's buffer holds 0x%x",
	      buffer_mxcsr(&f->vmm_state));
	CHECK(stmxcsr() == MXCSR_VMM, "VMM returned to user with MXCSR 0x%x", stmxcsr());
}

/* deferred: the first seed's chain inside a run call: the vCPU thread blocks,
 * a kernel thread runs, the thread comes back: no save, no restore. */
static void test_deferred_idle_in_run(struct fixture *f)
{
	uint64_t saves, restores;

	vmm_in_user(f, 0);
	fpu_guest_run_begin(&f->cpu[0], &f->vmm, &f->guest);
	guest_runs(f, 0);
	saves = f->cpu[0].stats.saves;
	restores = f->cpu[0].stats.restores;
	fpu_switch(&f->cpu[0], &f->vmm, &f->kthread);
	fpu_switch(&f->cpu[0], &f->kthread, &f->vmm);
	fpu_guest_enter(&f->cpu[0], &f->vmm, &f->guest);
	CHECK(f->cpu[0].stats.saves == saves && f->cpu[0].stats.restores == restores,
	      "idle in a run call cost %llu saves, %llu restores",
	      (unsigned long long)(f->cpu[0].stats.saves - saves),
	      (unsigned long long)(f->cpu[0].stats.restores - restores));
	CHECK(stmxcsr() == MXCSR_GUEST, "guest came back with MXCSR 0x%x", stmxcsr());
	fpu_guest_run_end(&f->cpu[0], &f->vmm, &f->guest);
	fpu_exit_to_user(&f->cpu[0], &f->vmm);
}

/* deferred: a get after the run call writes the unsaved image back first. */
static void test_deferred_get(struct fixture *f)
{
	uint32_t size = fpu_xstate_size(&f->sys.xs, FPU_INSN_XSAVE, f->guest.features);
	uint8_t *std = aligned_alloc(64, (size + 63) & ~63u);
	uint32_t mxcsr;

	vmm_in_user(f, 0);
	fpu_guest_run_begin(&f->cpu[0], &f->vmm, &f->guest);
	guest_runs(f, 0);
	fpu_guest_run_end(&f->cpu[0], &f->vmm, &f->guest);
	CHECK(fpu_guest_get(&f->cpu[1], &f->guest, std) == FPU_REGSET_OK, "get refused");
	memcpy(&mxcsr, std + FPU_FXSAVE_MXCSR, 4);
	CHECK(mxcsr == MXCSR_GUEST, "get returned MXCSR 0x%x", mxcsr);
	CHECK(!f->guest.state.unsaved, "still unsaved after the get");
	CHECK(f->cpu[0].stats.remote_flushes == 1 && f->cpu[1].stats.ipis == 1,
	      "remote flushes %llu, IPIs %llu", (unsigned long long)f->cpu[0].stats.remote_flushes,
	      (unsigned long long)f->cpu[1].stats.ipis);
	fpu_exit_to_user(&f->cpu[0], &f->vmm);
	free(std);
}

/* The injected bug flush-active-buffer puts the guest's registers in the
 * VMM's buffer: test_deferred_run_end must notice. */
static void test_flush_active_buffer_bug_is_caught(struct fixture *f)
{
	int caught = checks_fired_with(f, FPU_BUG_FLUSH_ACTIVE_BUFFER, test_deferred_run_end);

	CHECK(caught >= 2, "the injected bug went unnoticed (%d checks fired)", caught);
}

int main(void)
{
	static const struct { const char *name; void (*fn)(struct fixture *); } tests[] = {
		{ "run_call", test_run_call },
		{ "preempted_run", test_preempted_run },
		{ "kfpu_in_run", test_kfpu_in_run },
		{ "migration", test_migration },
		{ "fresh_vcpu", test_fresh_vcpu },
		{ "get_set", test_get_set },
		{ "misuse", test_misuse },
		{ "2018_bug_is_caught", test_2018_bug_is_caught },
		{ "busy", test_busy },
		{ "per_entry", test_per_entry },
		{ "scratch_bug_is_caught", test_scratch_bug_is_caught },
		{ "no_reload_bug_is_caught", test_no_reload_bug_is_caught },
		/* (the linux tests that check a save at run end or preemption, or
		 * migrate between fake CPUs sharing one register file, do not apply) */
		{ "deferred: kfpu_in_run", test_kfpu_in_run },
		{ "deferred: run_end", test_deferred_run_end },
		{ "deferred: idle_in_run", test_deferred_idle_in_run },
		{ "deferred: get", test_deferred_get },
		{ "deferred: flush_active_buffer_bug_is_caught", test_flush_active_buffer_bug_is_caught },
	};
	int passed = 0, failed = 0;
	unsigned i;

	for (i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
		int before = failed_checks;
		struct fixture *f;

		setup_policy = strncmp(tests[i].name, "deferred: ", 10) ? "linux" : "deferred";
		f = setup();

		tests[i].fn(f);
		fpu_ldmxcsr(FPU_MXCSR_DEFAULT);
		teardown(f);
		if (failed_checks == before) {
			passed++;
		} else {
			failed++;
			printf("FAIL %s\n", tests[i].name);
		}
	}
	printf("%d passed, %d failed\n", passed, failed);
	return failed != 0;
}
