/* SPDX-License-Identifier: MIT */
/*
 * The host half of the exception table: a SIGSEGV at an instruction with an
 * fpuctx_extable entry resumes at its fixup (with the trap number in RCX for
 * FPU_EX_TRAPNR entries), exactly as a kernel's page-fault and #GP handlers
 * consult their exception tables. Any other SIGSEGV is a real crash, passed
 * on to whatever handled it before.
 */
#define _GNU_SOURCE
#include "machine.h"
#include "fpuctx/extable.h"
#include "fpuctx/insn.h"

#include <signal.h>
#include <string.h>
#include <ucontext.h>

#define FAULT_STACK_SIZE (256 * 1024) /* the host's frame holds AMX state */

static struct sigaction previous[2]; /* SIGSEGV, SIGBUS: whoever handled them before us */

/* Not ours: hand it to the handler that was there before (a sanitizer's, so
 * it can report), or crash where it happened. */
static void chain(int sig, siginfo_t *si, void *ucv)
{
	const struct sigaction *old = &previous[sig == SIGBUS];

	if ((old->sa_flags & SA_SIGINFO) && old->sa_sigaction) {
		old->sa_sigaction(sig, si, ucv);
		return;
	}
	if (!(old->sa_flags & SA_SIGINFO) && old->sa_handler != SIG_DFL && old->sa_handler != SIG_IGN) {
		old->sa_handler(sig);
		return;
	}
	signal(sig, SIG_DFL);
}

/* The trap number. Some hosts (qemu-user) leave REG_TRAPNO at -1; then
 * si_code tells, as Linux sets it: SI_KERNEL for a #GP, a SEGV_ or BUS_
 * code with the address for a page fault. */
static greg_t trap_number(const siginfo_t *si, const greg_t *g)
{
	if (g[REG_TRAPNO] >= 0 && g[REG_TRAPNO] < 32)
		return g[REG_TRAPNO];
	return si->si_code == SI_KERNEL ? 13 : 14;
}

static void on_fault(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;
	greg_t *g = uc->uc_mcontext.gregs;
	const struct fpu_extable_entry *e = fpu_extable_search((uintptr_t)g[REG_RIP]);

	if (!e) {
		chain(sig, si, ucv);
		return;
	}
	if (e->kind == FPU_EX_TRAPNR)
		g[REG_RCX] = trap_number(si, g);
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
	sigaction(SIGSEGV, &sa, &previous[0]);
	sigaction(SIGBUS, &sa, &previous[1]);
}
