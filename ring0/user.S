/* SPDX-License-Identifier: MIT */
/*
 * The code of the ring-3 tasks (in the user-accessible page). Each
 * generation a task writes a pattern unique to (task, generation) into every
 * XMM register (YMM with AVX), MXCSR and the x87 control word, then reads
 * them back again and again while timer interrupts switch tasks; now and
 * then it yields, and checks once more after the yield. A new task first
 * checks that it starts from the init state. Any difference is reported
 * with the violation syscall. Written in assembly: the kernel's C
 * is built without SIMD registers.
 *
 *   user_task(rdi = task id, rsi = 1 if AVX is enabled, rdx = generations
 *             before it ends, 0 for never, rcx = how: SYS_EXIT or SYS_EXEC)
 */
#define SYS_YIELD     0
#define SYS_EXIT      1
#define SYS_VIOLATION 2
#define SYS_EXEC      3
#define CHECKS_PER_GENERATION 400
#define YIELD_EVERY   4                /* generations; a power of two */
#define REF     0                      /* the pattern: 16 x 32 bytes */
#define SEEN    512                    /* what the registers held */
#define MXCSR   1024
#define FCW     1028
#define HOW_IT_ENDS 1032               /* the syscall at the generation limit */

	.section .user.text, "ax"
	.globl user_task
user_task:
	mov %rdi, %r12                    /* task */
	mov %rsi, %r13                    /* AVX */
	mov %rdx, %r14                    /* generation limit */
	xor %r15d, %r15d                  /* generation */
	sub $1088, %rsp
	and $-64, %rsp
	mov %rsp, %rbx
	mov %rcx, HOW_IT_ENDS(%rbx)
	/* A new task starts from the init state: zero registers, default
	 * MXCSR and FCW. */
	xor %ecx, %ecx
1:	movq $0, REF(%rbx, %rcx, 8)
	inc %ecx
	cmp $64, %ecx
	jne 1b
	movl $0x1f80, MXCSR(%rbx)
	movw $0x037f, FCW(%rbx)
	call check_registers

next_generation:
	/* qword k of the pattern: (task << 56 | generation << 8 | k) ^ k * golden */
	xor %ecx, %ecx
1:	mov %r12, %rax
	shl $56, %rax
	mov %r15, %rdx
	shl $8, %rdx
	or %rdx, %rax
	or %rcx, %rax
	mov $0x9e3779b97f4a7c15, %rdx
	imul %rcx, %rdx
	xor %rdx, %rax
	mov %rax, REF(%rbx, %rcx, 8)
	inc %ecx
	cmp $64, %ecx
	jne 1b
	/* MXCSR: all exceptions masked, rounding control from (task, generation). */
	lea (%r12, %r15), %eax
	and $3, %eax
	shl $13, %eax
	or $0x1f80, %eax
	mov %eax, MXCSR(%rbx)
	ldmxcsr MXCSR(%rbx)
	/* FCW: rounding control from (task, generation), the other way round. */
	lea (%r12, %r12, 2), %eax
	add %r15d, %eax
	and $3, %eax
	shl $10, %eax
	or $0x037f, %eax
	mov %ax, FCW(%rbx)
	fldcw FCW(%rbx)

	test %r13, %r13
	jz 2f
	.irp i, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
	vmovdqu REF + 32 * \i(%rbx), %ymm\i
	.endr
	jmp 3f
2:	.irp i, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
	movdqu REF + 32 * \i(%rbx), %xmm\i
	.endr
3:
	mov $CHECKS_PER_GENERATION, %ebp
check_loop:
	call check_registers
	dec %ebp
	jnz check_loop

	mov %r15d, %eax
	and $(YIELD_EVERY - 1), %eax
	cmp $(YIELD_EVERY - 1), %eax
	jne 4f
	mov $SYS_YIELD, %eax
	syscall
	call check_registers              /* the state must survive a yield too */
4:	inc %r15
	test %r14, %r14
	jz next_generation
	cmp %r14, %r15
	jb next_generation
	mov HOW_IT_ENDS(%rbx), %rax       /* exit, or exec: both start a new task */
	mov %r12, %rdi
	syscall
	ud2                               /* neither returns */

/* Compares the registers with the pattern; a mismatch makes the violation
 * syscall (rdi = task, rsi = first differing qword, 64 MXCSR, 65 FCW) and
 * starts a new generation. */
check_registers:
	test %r13, %r13
	jz 2f
	.irp i, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
	vmovdqu %ymm\i, SEEN + 32 * \i(%rbx)
	.endr
	mov $1, %edx                      /* every qword counts */
	jmp 3f
2:	.irp i, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
	movdqu %xmm\i, SEEN + 32 * \i(%rbx)
	.endr
	xor %edx, %edx                    /* only the low 16 bytes of each 32 */
3:	xor %ecx, %ecx
1:	test %edx, %edx
	jnz 4f
	test $2, %ecx
	jnz 5f
4:	mov REF(%rbx, %rcx, 8), %rax
	cmp SEEN(%rbx, %rcx, 8), %rax
	jne mismatch
5:	inc %ecx
	cmp $64, %ecx
	jne 1b
	stmxcsr SEEN(%rbx)
	mov SEEN(%rbx), %eax
	mov $64, %ecx
	cmp MXCSR(%rbx), %eax
	jne mismatch
	fnstcw SEEN(%rbx)
	movzwl SEEN(%rbx), %eax
	movzwl FCW(%rbx), %edx
	mov $65, %ecx
	cmp %edx, %eax
	jne mismatch
	ret
mismatch:
	mov %rcx, %rsi
	mov %r12, %rdi
	mov $SYS_VIOLATION, %eax
	syscall
	add $8, %rsp                      /* drop check_registers' return address */
	inc %r15
	jmp next_generation

	.section .user.bss, "aw"
	.align 4096
	.globl user_stacks
user_stacks:
	.skip 8 * 16384

	.section .note.GNU-stack, "", @progbits
