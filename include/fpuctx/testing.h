/* SPDX-License-Identifier: MIT */
/*
 * Test-only switches, for the simulator, the tests and the fuzzers: bugs
 * that can be put back (`fpuctx bugs` lists them) and CPU behaviours emulated
 * on the real registers. Not installed, and compiled out of the production
 * library: without FPUCTX_TESTING, FPU_BUG() and FPU_PRETENDS() are the
 * constant false and the fields they read do not exist.
 */
#ifndef FPUCTX_TESTING_H
#define FPUCTX_TESTING_H

#ifdef FPUCTX_TESTING

#include <stdbool.h>
#include <stdint.h>

enum fpu_bug {
	FPU_BUG_SKIP_OWNER_CHECK = 1u << 0, /* valid() ignores the owner: skip a restore another context needed */
	FPU_BUG_EXIT_KEEPS_OWNER = 1u << 1, /* drop forgets ownership: a recycled/reset context looks loaded */
	FPU_BUG_KTHREAD_SAVE     = 1u << 2, /* kthread switch-out saves the registers over the last user context */
	FPU_BUG_KFPU_NO_SAVE     = 1u << 3, /* kernel_fpu_begin clobbers without saving the user state */
	FPU_BUG_SIGFRAME_STALE_OWNER = 1u << 4, /* "registers are live" read once, before the frame-write retry loop */
	FPU_BUG_SIGRETURN_KEEPS_OWNER = 1u << 5, /* sigreturn changes the registers without dropping the CPU's owner */
	FPU_BUG_SIGRETURN_UNVALIDATED = 1u << 6, /* sigreturn copies the frame unchecked into the kernel buffer */
	FPU_BUG_SIGRETURN_NO_RESET    = 1u << 7, /* a rejected frame leaves the registers as they were */
	FPU_BUG_SIGRETURN_PKRU_DEFAULT = 1u << 8, /* a frame with PKRU in init state gets the default PKRU instead of 0 */
	FPU_BUG_GUEST_SAVE_TO_VMM     = 1u << 9, /* run calls load the guest without making it active: saves hit the VMM's buffer (2018) */
	FPU_BUG_GUEST_SCRATCH         = 1u << 10, /* run begin saves the registers into the VMM's buffer even when they are not its (5.2) */
	FPU_BUG_GUEST_ENTER_NO_RELOAD = 1u << 11, /* the guest is loaded at run begin; entry trusts it still is (Linux bug 7) */
	FPU_BUG_GUEST_XCR0_LEAK       = 1u << 12, /* hypervisor: the guest's XCR0 stays set after an exit until the run call ends (Linux bug 3) */
	FPU_BUG_X87_NO_SCRUB          = 1u << 13, /* a restore on a CPU that leaks x87 pointers skips the scrub (CVE-2006-1056) */
	/* the deferred policy's own failure modes */
	FPU_BUG_NO_REMOTE_FLUSH       = 1u << 14, /* a context moves to another CPU: nobody writes back its unsaved image */
	FPU_BUG_FLUSH_ACTIVE_BUFFER   = 1u << 15, /* a flush writes into the context's active buffer, not the owner's */
	FPU_BUG_KFPU_NO_FLUSH         = 1u << 16, /* kernel_fpu_begin clobbers an unsaved image of a switched-out context */
	FPU_BUG_EXEC_KEEPS_UNSAVED    = 1u << 17, /* exec/exit leave an unsaved image marked: it is written back later */
	FPU_BUG_PUBLISH_UNORDERED     = 1u << 18, /* "written back" is published before "by which CPU": a late store of last_cpu lands over a newer one */
};

/* CPU behaviours emulated on the real registers where no CPU at hand has
 * them (fpu_system.pretend). */
#define FPU_PRETEND_FXSAVE_LEAK 0x1u /* restores keep the old x87 pointers unless an exception is pending */

struct fpu_bug_info {
	uint32_t bit;
	const char *name;
	const char *what;
	uint64_t needs;   /* xfeatures without which the bug cannot show (0: none) */
	bool needs_x87_leak; /* shows only on a CPU that leaks x87 pointers (or one that pretends to) */
	bool needs_defer_save; /* shows only under a policy that defers the save (deferred) */
	bool needs_parallel_cpus; /* a race: shows only where CPUs run at once (the ring-0 port), not in the simulator */
};
extern const struct fpu_bug_info fpu_bugs[];   /* core/testing.c */
extern const unsigned fpu_nbugs;

#define FPU_BUG(sys, NAME)      (((sys)->bugs & FPU_BUG_##NAME) != 0)
#define FPU_PRETENDS(sys, NAME) (((sys)->pretend & FPU_PRETEND_##NAME) != 0)

#else

/* sys is still "used": no unused-variable warnings in the production build */
#define FPU_BUG(sys, NAME)      ((void)(sys), 0)
#define FPU_PRETENDS(sys, NAME) ((void)(sys), 0)

#endif
#endif
