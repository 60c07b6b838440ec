/* SPDX-License-Identifier: MIT */
/*
 * The smallest complete embedding of libfpuctx: a port with only the
 * required operations (lock, unlock, context), one CPU, two contexts.
 * A hosted program stands in for the kernel; the "user code" of each
 * context is a few instructions on the real MXCSR and x87 control word.
 *
 * Build (out of tree, after make install):
 *   cc -O2 -ffreestanding -mgeneral-regs-only minimal-port.c \
 *      $(pkg-config --cflags --libs fpuctx) -o minimal-port
 * (-ffreestanding only keeps the compiler from assuming libc semantics
 * here; main still uses printf, after the last switch.)
 *
 * Exits 0 if context A gets its own MXCSR and FCW back after B ran with
 * others, 1 if not.
 */
#include <fpuctx/api.h>
#include <fpuctx/sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* The port: one CPU, no interrupts, so the lock only has to count. */
struct my_port {
	int depth;
};

static void my_lock(void *port_data, int cpu)
{
	(void)cpu;
	((struct my_port *)port_data)->depth++;
}

static void my_unlock(void *port_data, int cpu)
{
	(void)cpu;
	((struct my_port *)port_data)->depth--;
}

static unsigned my_context(void *port_data, int cpu)
{
	(void)port_data;
	(void)cpu;
	return 0; /* always task context: no interrupts here */
}

static const struct fpu_port_ops my_ops = {
	.lock = my_lock,
	.unlock = my_unlock,
	.context = my_context,
};

/* "User code": what a task would do with its registers. */
static void user_set(uint32_t mxcsr, uint16_t fcw)
{
	__asm__ volatile("ldmxcsr %0" : : "m"(mxcsr));
	__asm__ volatile("fldcw %0" : : "m"(fcw));
}

static void user_get(uint32_t *mxcsr, uint16_t *fcw)
{
	__asm__ volatile("stmxcsr %0" : "=m"(*mxcsr));
	__asm__ volatile("fnstcw %0" : "=m"(*fcw));
}

static void *buffer(const struct fpu_system *sys)
{
	uint32_t align = fpu_state_align(sys);
	uint32_t size = (fpu_state_size(sys) + align - 1) & ~(align - 1);

	return aligned_alloc(align, size);
}

int main(void)
{
	enum { A_MXCSR = 0x7f80, B_MXCSR = 0x3f80, A_FCW = 0x0f7f, B_FCW = 0x027f };
	struct my_port port = { 0 };
	struct fpu_system sys;
	struct fpu_cpu cpu = { 0 };
	struct fpu_state init, sa, sb;
	struct fpu_ctx a, b;
	enum fpu_setup_error err;
	uint64_t missing;
	uint32_t mxcsr;
	uint16_t fcw;

	/* x87 and SSE: every x86-64 CPU has them (a kernel would ask for ~0ull). */
	err = fpu_system_init(&sys, fpu_policy_find("linux"), FPU_XFEATURE_MASK_FPSSE, FPU_INSN__COUNT,
			      &my_ops, &port, &missing);
	if (err) {
		printf("minimal-port: %s\n", fpu_setup_error_str(err));
		return 1;
	}
	cpu.sys = &sys;
	cpu.id = 0;
	if (!fpu_system_set_init_area(&sys, &init, buffer(&sys), fpu_state_size(&sys)) ||
	    !fpu_state_setup(&sys, &sa, buffer(&sys), fpu_state_size(&sys), 1) ||
	    !fpu_state_setup(&sys, &sb, buffer(&sys), fpu_state_size(&sys), 2)) {
		printf("minimal-port: a state buffer was refused\n");
		return 1;
	}
	fpu_ctx_init(&sys, &a, &sa, 1, false);
	fpu_ctx_init(&sys, &b, &sb, 2, false);

	/* No libc calls from here to the check: they may use the registers. */
	fpu_exit_to_user(&cpu, &a);       /* A starts in init state */
	user_set(A_MXCSR, A_FCW);
	fpu_switch(&cpu, &a, &b);         /* A's registers are saved */
	fpu_exit_to_user(&cpu, &b);       /* B's init state is loaded */
	user_set(B_MXCSR, B_FCW);
	fpu_switch(&cpu, &b, &a);
	fpu_exit_to_user(&cpu, &a);       /* A's state is restored */
	user_get(&mxcsr, &fcw);

	printf("minimal-port: %s, state buffers of %u bytes; A got MXCSR 0x%x FCW 0x%x back "
	       "(wanted 0x%x 0x%x); %llu saves, %llu restores\n",
	       fpu_insn_name(sys.insn), fpu_state_size(&sys), mxcsr, fcw, A_MXCSR, A_FCW,
	       (unsigned long long)cpu.stats.saves, (unsigned long long)cpu.stats.restores);
	if (mxcsr != A_MXCSR || fcw != A_FCW || port.depth != 0) {
		printf("minimal-port: FAILED%s\n", port.depth ? " (unbalanced lock)" : "");
		return 1;
	}
	return 0;
}
