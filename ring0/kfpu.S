/* SPDX-License-Identifier: MIT */
/*
 * Kernel SIMD use, between fpu_kernel_begin() and fpu_kernel_end(): fills
 * every XMM (YMM with AVX) register, MXCSR and the x87 control word with
 * kernel values, as a crypto or checksum routine would leave them. In
 * assembly because the kernel's C is built -mgeneral-regs-only.
 *
 *   kernel_simd_clobber(rdi = 64-bit pattern, rsi = 1 if AVX is enabled)
 */
	.text
	.globl kernel_simd_clobber
kernel_simd_clobber:
	movq %rdi, %xmm0
	punpcklqdq %xmm0, %xmm0
	.irp i, 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
	movdqa %xmm0, %xmm\i
	.endr
	test %rsi, %rsi
	jz 1f
	vinsertf128 $1, %xmm0, %ymm0, %ymm0
	.irp i, 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
	vmovdqa %ymm0, %ymm\i
	.endr
1:	sub $8, %rsp
	movl $0x7f80, (%rsp)              /* round toward zero, all masked */
	ldmxcsr (%rsp)
	movw $0x0f7f, (%rsp)              /* round toward zero, extended precision */
	fldcw (%rsp)
	add $8, %rsp
	ret

	.section .note.GNU-stack, "", @progbits
