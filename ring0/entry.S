/* SPDX-License-Identifier: MIT */
/*
 * Ways into and out of the kernel: interrupt and exception stubs, the
 * syscall entry, the kernel stack switch and a new task's first return to
 * user mode. All of them build or consume one frame layout, struct
 * trap_frame (kernel.h): general registers, vector, error code, then what
 * the CPU pushes for an interrupt.
 */
#define USER_CS 0x23
#define USER_SS 0x1b
#define SYSCALL_VECTOR 0x100   /* not an IDT vector: marks a syscall frame */

	.text
.macro SAVE_REGS
	push %rax
	push %rbx
	push %rcx
	push %rdx
	push %rsi
	push %rdi
	push %rbp
	push %r8
	push %r9
	push %r10
	push %r11
	push %r12
	push %r13
	push %r14
	push %r15
.endm

.macro STUB vector, has_error
	.globl isr_\vector
isr_\vector:
	.if \has_error == 0
	push $0
	.endif
	push $\vector
	jmp trap_common
.endm

/* The CPU pushes an error code for 8, 10-14, 17, 21, 29 and 30. */
STUB 0,0;  STUB 1,0;  STUB 2,0;  STUB 3,0;  STUB 4,0;  STUB 5,0;  STUB 6,0;  STUB 7,0
STUB 8,1;  STUB 9,0;  STUB 10,1; STUB 11,1; STUB 12,1; STUB 13,1; STUB 14,1; STUB 15,0
STUB 16,0; STUB 17,1; STUB 18,0; STUB 19,0; STUB 20,0; STUB 21,1; STUB 22,0; STUB 23,0
STUB 24,0; STUB 25,0; STUB 26,0; STUB 27,0; STUB 28,0; STUB 29,1; STUB 30,1; STUB 31,0
STUB 32,0                               /* the local APIC timer */
STUB 240,0                              /* the remote flush IPI */
STUB 241,0                              /* the reschedule IPI */
STUB 242,0                              /* the kernel FPU request IPI */
STUB 255,0                              /* the APIC's spurious vector */

trap_common:
	SAVE_REGS
	mov %rsp, %rdi
	call trap
	.globl trap_return
trap_return:
	pop %r15
	pop %r14
	pop %r13
	pop %r12
	pop %r11
	pop %r10
	pop %r9
	pop %r8
	pop %rbp
	pop %rdi
	pop %rsi
	pop %rdx
	pop %rcx
	pop %rbx
	pop %rax
	add $16, %rsp                     /* vector, error code */
	iretq

/* syscall: RCX = user RIP, R11 = user RFLAGS, IF masked by FMASK. The user
 * stack pointer is parked in the CPU's struct percpu (GS base: offset 8;
 * the kernel stack at offset 0). The frame is the interrupt one, so every
 * return to user mode is trap_return's iretq. */
	.globl syscall_entry
syscall_entry:
	mov %rsp, %gs:8
	mov %gs:0, %rsp
	push $USER_SS
	push %gs:8
	push %r11
	push $USER_CS
	push %rcx
	push $0
	push $SYSCALL_VECTOR
	SAVE_REGS
	mov %rsp, %rdi
	call trap
	jmp trap_return

/* user_copy(dst, src, len): copies to or from user memory with REP MOVSB
 * (no SIMD: a task's registers may be live). 0, or -1 when it faulted: the
 * #PF handler (signal.c) resumes a fault at user_copy_insn at
 * user_copy_fixup. */
	.globl user_copy, user_copy_insn, user_copy_fixup
user_copy:
	mov %rdx, %rcx
user_copy_insn:
	rep movsb
	xor %eax, %eax
	ret
user_copy_fixup:
	mov $-1, %eax
	ret

/* switch_stacks(&prev_rsp, next_rsp): callee-saved registers stay on the
 * stack being left; returns on the other one. */
	.globl switch_stacks
switch_stacks:
	push %rbx
	push %rbp
	push %r12
	push %r13
	push %r14
	push %r15
	mov %rsp, (%rdi)
	mov %rsi, %rsp
	pop %r15
	pop %r14
	pop %r13
	pop %r12
	pop %rbp
	pop %rbx
	ret

/* Where a new task's first switch_stacks returns: its trap frame is on top
 * of the stack; the exit-to-user hook runs, then the frame is consumed. */
	.globl task_first_return
task_first_return:
	mov %rsp, %rdi
	call task_first_hook
	jmp trap_return

	.section .note.GNU-stack, "", @progbits
