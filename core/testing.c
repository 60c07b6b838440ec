/* SPDX-License-Identifier: MIT */
/* The bug table of the testing build (include/fpuctx/testing.h); the
 * production library has neither the table nor the branches it names. */
#include "fpuctx/types.h"
#include "fpuctx/testing.h"

const struct fpu_bug_info fpu_bugs[] = {
	{ FPU_BUG_SKIP_OWNER_CHECK, "skip-owner-check",
	  "the valid-registers test ignores the per-CPU owner: a task returning to a CPU another context used skips its restore", 0, false, false },
	{ FPU_BUG_EXIT_KEEPS_OWNER, "drop-keeps-owner",
	  "exit/exec forget to drop ownership: a reset or recycled context still looks loaded and skips its restore", 0, false, false },
	{ FPU_BUG_KTHREAD_SAVE, "kthread-save",
	  "a kernel thread's switch-out saves the registers (kernel FPU garbage) over the last user context on that CPU", 0, false, false },
	{ FPU_BUG_KFPU_NO_SAVE, "kfpu-no-save",
	  "kernel_fpu_begin clobbers the registers without saving the live user state first", 0, false, false },
	{ FPU_BUG_SIGFRAME_STALE_OWNER, "sigframe-stale-owner",
	  "the frame-write retry loop keeps the CPU and 'registers are live' it saw before a sleeping fault-in (Linux bug 8)", 0, false, false },
	{ FPU_BUG_SIGRETURN_KEEPS_OWNER, "sigreturn-keeps-owner",
	  "sigreturn loads the frame without dropping the owner whose image the registers held (Linux bug 9)", 0, false, false },
	{ FPU_BUG_SIGRETURN_UNVALIDATED, "sigreturn-unvalidated",
	  "sigreturn copies the frame unchecked into the kernel buffer; the later restore faults (Linux bug 10)", 0, false, false },
	{ FPU_BUG_SIGRETURN_NO_RESET, "sigreturn-no-reset",
	  "a rejected frame leaves the registers as they were instead of the reset state (Linux bug 11)", 0, false, false },
	{ FPU_BUG_SIGRETURN_PKRU_DEFAULT, "sigreturn-pkru-default",
	  "after a frame with PKRU in init state, PKRU gets the restrictive default instead of 0 (Linux bug 13)",
	  FPU_XFEATURE_MASK(FPU_XFEATURE_PKRU), false, false },
	{ FPU_BUG_GUEST_SAVE_TO_VMM, "guest-save-to-vmm",
	  "a run call loads the guest's state but leaves the VMM's buffer active: a preemption saves the guest into the VMM's state (2018, the second seed)", 0, false, false },
	{ FPU_BUG_GUEST_SCRATCH, "guest-scratch",
	  "run begin saves the registers into the VMM's buffer without asking whether they are the VMM's; under deferred restore they may be anyone's (5.2)", 0, false, false },
	{ FPU_BUG_GUEST_ENTER_NO_RELOAD, "guest-enter-no-reload",
	  "the guest's state is loaded at run begin and VM entry trusts it still is; a kernel FPU section in between is lost (Linux bug 7)", 0, false, false },
	{ FPU_BUG_GUEST_XCR0_LEAK, "guest-xcr0-leak",
	  "the hypervisor restores the host's XCR0 when the run call ends, not at every exit: the guest's is live when the vCPU thread is switched out (Linux bug 3)",
	  FPU_XFEATURE_MASK(FPU_XFEATURE_AVX), false, false }, /* a guest XCR0 smaller than the host's needs more than x87/SSE */
	{ FPU_BUG_X87_NO_SCRUB, "x87-no-scrub",
	  "on a CPU that leaks x87 FOP/FIP/FDP through a restore, the restore path skips clearing them: the next context reads the last one's (CVE-2006-1056)",
	  0, true, false },
	{ FPU_BUG_NO_REMOTE_FLUSH, "no-remote-flush",
	  "deferred: a context whose image another CPU still holds unsaved moves and is loaded from its stale buffer (no write-back at migration, no flush request)",
	  0, false, true },
	{ FPU_BUG_FLUSH_ACTIVE_BUFFER, "flush-active-buffer",
	  "deferred: the write-back goes to the context's active buffer, not to the buffer the image belongs to: after a guest swap, the guest's registers land in the VMM's state",
	  0, false, true },
	{ FPU_BUG_KFPU_NO_FLUSH, "kfpu-no-flush",
	  "deferred: kernel_fpu_begin clobbers the registers while they hold a switched-out context's unsaved image",
	  0, false, true },
	{ FPU_BUG_EXEC_KEEPS_UNSAVED, "exec-keeps-unsaved",
	  "deferred: exec leaves the old image marked unsaved in the registers: it is written back over the new init state, or reloaded as still valid",
	  0, false, true },
};
const unsigned fpu_nbugs = sizeof(fpu_bugs) / sizeof(fpu_bugs[0]);
