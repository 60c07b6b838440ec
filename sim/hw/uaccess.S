/* SPDX-License-Identifier: MIT */
/*
 * size_t hw_copy_user(void *dst, const void *src, size_t n)
 * Copies n bytes; either side may be user memory that faults. Returns the
 * number of bytes NOT copied (0 on success). The exception-table entry sends
 * a fault to label 2 with RCX still counting what was left.
 */
	.text
	.globl hw_copy_user
	.type hw_copy_user, @function
hw_copy_user:
	movq %rdx, %rcx
1:	rep movsb
2:	movq %rcx, %rax
	ret
	.size hw_copy_user, .-hw_copy_user

	.pushsection fpuctx_extable, "a"
	.balign 4
	.long 1b - .
	.long 2b - .
	.long 1		/* FPU_EX_PLAIN */
	.popsection
	.section .note.GNU-stack,"",@progbits
