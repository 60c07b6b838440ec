/* SPDX-License-Identifier: MIT */
/* void hw_switch_stack(void **save_sp, void *new_sp) */
	.text
	.globl hw_switch_stack
	.type hw_switch_stack, @function
hw_switch_stack:
	pushq %rbp
	pushq %rbx
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
	movq %rsp, (%rdi)
	movq %rsi, %rsp
	popq %r15
	popq %r14
	popq %r13
	popq %r12
	popq %rbx
	popq %rbp
	ret
	.size hw_switch_stack, .-hw_switch_stack

/* First code on a fresh stack: r12 = arg, r13 = fn (see hw_stack_init). */
	.globl hw_stack_trampoline
	.type hw_stack_trampoline, @function
hw_stack_trampoline:
	movq %r12, %rdi
	andq $-16, %rsp
	call *%r13
	ud2
	.size hw_stack_trampoline, .-hw_stack_trampoline
	.section .note.GNU-stack,"",@progbits
