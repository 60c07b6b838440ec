/* SPDX-License-Identifier: MIT */
/*
 * The host half of the exception table: a SIGSEGV at an instruction with an
 * fpuctx_extable entry resumes at its fixup (with the trap number in RCX for
 * FPU_EX_TRAPNR entries), exactly as a kernel's page-fault and #GP handlers
 * consult their exception tables. Any other SIGSEGV is a real crash.
 */
#define _GNU_SOURCE
#include "machine.h"
#include "fpuctx/extable.h"
#include "fpuctx/insn.h"

#include <signal.h>
#include <string.h>
#include <ucontext.h>

#define FAULT_STACK_SIZE (256 * 1024) /* the host's frame holds AMX state */

static void on_fault(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;
	greg_t *g = uc->uc_mcontext.gregs;
	const struct fpu_extable_entry *e = fpu_extable_search((uintptr_t)g[REG_RIP]);

	(void)si;
	if (!e) {
		signal(sig, SIG_DFL); /* not ours: let it crash where it happened */
		return;
	}
	if (e->kind == FPU_EX_TRAPNR)
		g[REG_RCX] = g[REG_TRAPNO];
	g[REG_RIP] = (greg_t)fpu_extable_fixup(e);
}

void machine_install_fault_handler(void)
{
	/* Lives as long as the process: the handler may run at any time. */
	static uint8_t stack[FAULT_STACK_SIZE] __attribute__((aligned(64)));
	static bool installed;
	struct sigaction sa;
	stack_t ss;

	if (installed)
		return;
	installed = true;
	ss.ss_sp = stack;
	ss.ss_size = FAULT_STACK_SIZE;
	ss.ss_flags = 0;
	sigaltstack(&ss, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_fault;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, 0);
	sigaction(SIGBUS, &sa, 0);
}
