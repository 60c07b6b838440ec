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
 * Each generation also has its own PKRU value (WRPKRU in ring 3), unique
 * to (task, generation) except that every fourth generation uses 0; the
 * check compares RDPKRU with it and reads a page with key 1. Key 0 (every
 * user page but that one and those the kernel re-keys for a moment) stays
 * accessible; key 1 is write-disabled but in the PKRU-0 generations.
 *
 *   user_task(rdi = task id, rsi = 1 if AVX is enabled, rdx = generations
 *             before it ends, 0 for never, rcx = how: SYS_EXIT or SYS_EXEC,
 *             r8 = 1 if PKRU is enabled, r9 = generations between forks,
 *             0 for never)
 *
 * A task that forks does so at the end of every r9-th generation; the
 * child (user_fork) first checks it holds the parent's pattern, then runs
 * CHILD_GENERATIONS of its own under its own id and exits for good.
 *
 * And the signal handler, user_signal_handler, below.
 */
#define SYS_YIELD     0
#define SYS_EXIT      1
#define SYS_VIOLATION 2
#define SYS_EXEC      3
#define SYS_SIGRETURN 4
#define SYS_FORK      5
#define SYS_EXIT_FOR_GOOD 6
#define PKRU_DEFAULT  0x55555554       /* key 0 read/write, every other key no access */
#define CHECKS_PER_GENERATION 400
#define YIELD_EVERY   4                /* generations; a power of two */
#define REF     0                      /* the pattern: 16 x 32 bytes */
#define SEEN    512                    /* what the registers held */
#define MXCSR   1024
#define FCW     1028
#define HOW_IT_ENDS 1032               /* the syscall at the generation limit */
#define PKRU    1040                   /* the generation's PKRU value */
#define HAS_PKRU 1044
#define FORK_EVERY 1048                /* 0: the task never forks */
#define FORK_LEFT  1056                /* generations to the next fork */

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
	mov %r8d, HAS_PKRU(%rbx)
	mov %r9, FORK_EVERY(%rbx)
	mov %r9, FORK_LEFT(%rbx)
	/* A new task starts from the init state: zero registers, default
	 * MXCSR and FCW, and the default PKRU (a new program's, as after exec). */
	movl $PKRU_DEFAULT, PKRU(%rbx)
	xor %ecx, %ecx
1:	movq $0, REF(%rbx, %rcx, 8)
	inc %ecx
	cmp $64, %ecx
	jne 1b
	movl $0x1f80, MXCSR(%rbx)
	movw $0x037f, FCW(%rbx)
	call check_registers
	jmp next_generation

/* SYS_FORK, outside the steady code: a signal that lands before the child
 * has its own id, limit and generation must not edit its registers or send
 * it on as the parent. The parent returns with rax = the child's id or -1;
 * the child (rax 0, rdx its id, rsi its generation limit) takes its own
 * identity here, keeps the parent's pattern in its registers and its
 * buffer (at rbx, moved by the kernel) for the check that follows, and
 * returns as the parent does: the return address is in the copied stack. */
user_fork:
	mov $SYS_FORK, %eax
	syscall
	test %rax, %rax
	jz 1f
	ret
1:	mov %rdx, %r12
	mov %rsi, %r14
	mov $-1, %r15                     /* its first generation is 0 */
	movq $0, FORK_EVERY(%rbx)
	movq $SYS_EXIT_FOR_GOOD, HOW_IT_ENDS(%rbx)
	ret

	.globl user_steady_start
user_steady_start:                    /* from here on rbx, r12-r14 are set (the handler relies on it) */
next_generation:
	call make_pattern
	ldmxcsr MXCSR(%rbx)
	fldcw FCW(%rbx)
	call load_pkru
	test %r13, %r13
	jz 2f
	.irp i, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
	vmovdqu REF + 32 * \i(%rbx), %ymm\i
	.endr
	jmp 3f
2:	.irp i, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
	movdqu REF + 32 * \i(%rbx), %xmm\i
	.endr
3:	/* Forks come right after the registers changed: an image of the
	 * parent saved before is then stale, and a child given it fails. */
	cmpq $0, FORK_EVERY(%rbx)
	je 4f
	decq FORK_LEFT(%rbx)
	jnz 4f
	mov FORK_EVERY(%rbx), %rax
	mov %rax, FORK_LEFT(%rbx)
	call user_fork
	/* The parent's state must survive the fork; the child's registers
	 * must hold the parent's pattern, which its buffer still holds. The
	 * child then checks it once more as generation -1. */
	call check_registers
4:
	.globl resume_generation, user_check_start
resume_generation:                    /* after a handler's edit: registers from the frame */
	mov $CHECKS_PER_GENERATION, %ebp
user_check_start:                     /* from here to mismatch the registers hold REF */
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
	cmpl $0, HAS_PKRU(%rbx)
	je 6f
	/* The keyed page (protection key 1): read when this PKRU allows it,
	 * before RDPKRU, so a wrong PKRU that denies it is a real PK fault. */
	testl $4, PKRU(%rbx)
	jnz 7f
	mov user_keyed_page(%rip), %rax
	mov $67, %ecx
	cmp user_keyed_magic(%rip), %rax
	jne mismatch
7:	xor %ecx, %ecx
	rdpkru
	mov $66, %ecx                     /* a task ran with another task's PKRU */
	cmp PKRU(%rbx), %eax
	jne mismatch
6:	ret
	.globl user_check_end
user_check_end:
mismatch:
	mov %rcx, %rsi
	mov %r12, %rdi
	mov $SYS_VIOLATION, %eax
	syscall
	add $8, %rsp                      /* drop check_registers' return address */
	inc %r15
	jmp next_generation

/* The pattern of (r12 = task, r15 = generation) into the buffer at rbx:
 * REF, MXCSR, FCW and PKRU. Uses rax, rcx, rdx only (the handler calls it
 * too). qword k: (task << 56 | generation << 8 | k) ^ k * golden. */
make_pattern:
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
	/* FCW: rounding control from (task, generation), the other way round. */
	lea (%r12, %r12, 2), %eax
	add %r15d, %eax
	and $3, %eax
	shl $10, %eax
	or $0x037f, %eax
	mov %ax, FCW(%rbx)
	/* PKRU: 0 every fourth generation (a frame then holds PKRU in its init
	 * state); else key 1 write-disabled and keys 2-15 from (task,
	 * generation). Key 0 always read/write: the stacks have key 0. */
	mov %r15d, %eax
	and $3, %eax
	cmp $2, %eax
	jne 2f
	movl $0, PKRU(%rbx)
	ret
2:	mov %r12, %rax
	shl $8, %rax
	movzbl %r15b, %edx
	or %rdx, %rax
	shl $4, %rax
	or $0x8, %eax
	mov %eax, PKRU(%rbx)
	ret

/* WRPKRU of the buffer's PKRU (at rbx), when PKRU is enabled. */
load_pkru:
	cmpl $0, HAS_PKRU(%rbx)
	je 1f
	mov PKRU(%rbx), %eax
	xor %ecx, %ecx
	xor %edx, %edx
	wrpkru
1:	ret
	.globl user_steady_end
user_steady_end:

/*
 * The signal handler. The kernel enters it with rsp = rdi = the frame info
 * (struct sig_info, kernel.h), whose first qword is the return address:
 * user_sigreturn. Checks, each a violation if it fails:
 *  (a) it starts in the init state: XMM/YMM zero, MXCSR 0x1f80, FCW 0x37f,
 *      PKRU the default;
 *  (b) with SIG_CHECK (the task was interrupted where its registers hold
 *      its pattern): the frame's XMM/YMM, MXCSR, FCW and PKRU are the
 *      pattern of the task's buffer;
 * and then, as the kernel asks:
 *  (c) SIG_EDIT: writes the next generation's pattern into the task's
 *      buffer and into the frame (registers, MXCSR, FCW, PKRU), and makes
 *      the task go on at resume_generation with that generation: after
 *      sigreturn its checks find the edit in its registers, or report it;
 *  (d) SIG_CORRUPT_*: makes the frame one sigreturn must refuse, and
 *      fills the registers with values no program state has.
 * With SIG_SEGV it is the SIGSEGV after such a refusal: see segv_handler.
 */
#define SI_FLAGS    8
#define SI_FP       16
#define SI_PKRU_OFF 24
#define SI_AVX_OFF  32
#define SI_RIP      40
#define SI_RSP      48
#define SI_R15      64
#define SI_R12      88
#define SI_RBX      168
#define SIG_CHECK   1
#define SIG_EDIT    2
#define SIG_CORRUPT_HDR   4
#define SIG_CORRUPT_MXCSR 8
#define SIG_SEGV    16
#define FX_XMM      160
#define XSAVE_BV    512

	.globl user_signal_handler
user_signal_handler:
	mov %rdi, %r14                    /* the frame info */
	mov SI_FP(%r14), %r13             /* the frame's FP area */
	mov SI_R12(%r14), %r12            /* the task, for reports */
	sub $576, %rsp
	and $-64, %rsp
	mov %rsp, %rbp                    /* scratch */
	/* (a) */
	cmpq $0, SI_AVX_OFF(%r14)
	je 1f
	.irp i, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
	vmovdqu %ymm\i, 32 * \i(%rbp)
	.endr
	mov $64, %r8d
	jmp 2f
1:	.irp i, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
	movdqu %xmm\i, 16 * \i(%rbp)
	.endr
	mov $32, %r8d
2:	xor %ecx, %ecx
3:	cmpq $0, (%rbp, %rcx, 8)
	je 4f
	lea 100(%rcx), %rsi               /* 100 + qword: not zero in the handler */
	call h_report
	jmp 5f
4:	inc %ecx
	cmp %r8d, %ecx
	jne 3b
5:	stmxcsr (%rbp)
	cmpl $0x1f80, (%rbp)
	je 6f
	mov $170, %esi
	call h_report
6:	fnstcw (%rbp)
	cmpw $0x037f, (%rbp)
	je 7f
	mov $171, %esi
	call h_report
7:	cmpq $0, SI_PKRU_OFF(%r14)
	je 8f
	xor %ecx, %ecx
	rdpkru
	cmp $PKRU_DEFAULT, %eax
	je 8f
	mov $172, %esi
	call h_report
8:	testq $SIG_SEGV, SI_FLAGS(%r14)
	jnz segv_handler
	/* (b) */
	testq $SIG_CHECK, SI_FLAGS(%r14)
	jz 20f
	mov SI_RBX(%r14), %rbx            /* the task's pattern buffer */
	xor %ecx, %ecx
10:	mov %rcx, %rdx
	shl $5, %rdx                      /* REF + 32 i */
	mov %rcx, %rax
	shl $4, %rax                      /* 16 i */
	lea 200(, %rcx, 4), %rsi          /* 200 + qword of the frame that differs */
	mov FX_XMM(%r13, %rax), %rdi
	cmp REF(%rbx, %rdx), %rdi
	jne 12f
	inc %rsi
	mov FX_XMM + 8(%r13, %rax), %rdi
	cmp REF + 8(%rbx, %rdx), %rdi
	jne 12f
	mov SI_AVX_OFF(%r14), %rdi
	test %rdi, %rdi
	jz 11f
	inc %rsi
	add %r13, %rdi
	mov (%rdi, %rax), %r9
	xor %r10d, %r10d
	testb $4, XSAVE_BV(%r13)          /* AVX in its init state: zero upper halves */
	cmovz %r10, %r9
	cmp REF + 16(%rbx, %rdx), %r9
	jne 12f
	inc %rsi
	mov 8(%rdi, %rax), %r9
	testb $4, XSAVE_BV(%r13)
	cmovz %r10, %r9
	cmp REF + 24(%rbx, %rdx), %r9
	jne 12f
11:	inc %ecx
	cmp $16, %ecx
	jne 10b
	jmp 13f
12:	call h_report
13:	mov 24(%r13), %eax
	cmp MXCSR(%rbx), %eax
	je 14f
	mov $264, %esi
	call h_report
14:	movzwl (%r13), %eax
	movzwl FCW(%rbx), %edx
	cmp %edx, %eax
	je 15f
	mov $265, %esi
	call h_report
15:	mov SI_PKRU_OFF(%r14), %rdx
	test %rdx, %rdx
	jz 20f
	xor %eax, %eax
	testw $0x200, XSAVE_BV(%r13)      /* PKRU in its init state: 0 */
	jz 16f
	mov (%r13, %rdx), %eax
16:	cmp PKRU(%rbx), %eax
	je 20f
	mov $266, %esi
	call h_report
20:	/* (c) */
	testq $SIG_EDIT, SI_FLAGS(%r14)
	jz 30f
	mov SI_RBX(%r14), %rbx
	mov SI_R15(%r14), %r15
	inc %r15
	call make_pattern
	xor %ecx, %ecx
21:	mov %rcx, %rdx
	shl $5, %rdx
	mov %rcx, %rax
	shl $4, %rax
	mov REF(%rbx, %rdx), %rdi
	mov %rdi, FX_XMM(%r13, %rax)
	mov REF + 8(%rbx, %rdx), %rdi
	mov %rdi, FX_XMM + 8(%r13, %rax)
	mov SI_AVX_OFF(%r14), %rdi
	test %rdi, %rdi
	jz 22f
	add %r13, %rdi
	mov REF + 16(%rbx, %rdx), %r9
	mov %r9, (%rdi, %rax)
	mov REF + 24(%rbx, %rdx), %r9
	mov %r9, 8(%rdi, %rax)
22:	inc %ecx
	cmp $16, %ecx
	jne 21b
	orq $3, XSAVE_BV(%r13)            /* x87 and SSE present */
	cmpq $0, SI_AVX_OFF(%r14)
	je 23f
	orq $4, XSAVE_BV(%r13)
23:	mov MXCSR(%rbx), %eax
	mov %eax, 24(%r13)
	movzwl FCW(%rbx), %eax
	mov %ax, (%r13)
	mov SI_PKRU_OFF(%r14), %rdx
	test %rdx, %rdx
	jz 24f
	mov PKRU(%rbx), %eax
	mov %eax, (%r13, %rdx)
	orq $0x200, XSAVE_BV(%r13)
24:	mov %r15, SI_R15(%r14)
	mov %rbx, SI_RSP(%r14)            /* the task's stack at its check loop */
	lea resume_generation(%rip), %rax
	mov %rax, SI_RIP(%r14)
30:	/* (d) */
	testq $SIG_CORRUPT_HDR, SI_FLAGS(%r14)
	jz 31f
	movb $1, XSAVE_BV + 16(%r13)      /* a reserved header byte */
31:	testq $SIG_CORRUPT_MXCSR, SI_FLAGS(%r14)
	jz 32f
	orl $0x80000000, 24(%r13)         /* a reserved MXCSR bit */
32:	testq $(SIG_CORRUPT_HDR | SIG_CORRUPT_MXCSR), SI_FLAGS(%r14)
	jz 33f
	call dirty_registers              /* a refused sigreturn must not leave them */
33:	mov %r14, %rsp
	ret

/* Registers no program state has: all-ones XMM/YMM, MXCSR and FCW rounding
 * up, key 1 access-disabled too. After a refused sigreturn the task must be
 * in the reset state, not in these. */
dirty_registers:
	xor %ecx, %ecx
1:	movq $-1, (%rbp, %rcx, 8)
	inc %ecx
	cmp $64, %ecx
	jne 1b
	cmpq $0, SI_AVX_OFF(%r14)
	je 2f
	.irp i, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
	vmovdqu 32 * \i(%rbp), %ymm\i
	.endr
	jmp 3f
2:	.irp i, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
	movdqu 16 * \i(%rbp), %xmm\i
	.endr
3:	movl $0x5f80, (%rbp)
	ldmxcsr (%rbp)
	movw $0x0b7f, (%rbp)
	fldcw (%rbp)
	cmpq $0, SI_PKRU_OFF(%r14)
	je 4f
	mov $(PKRU_DEFAULT | 0xc), %eax
	xor %ecx, %ecx
	xor %edx, %edx
	wrpkru
4:	ret

/* After a refused sigreturn the kernel delivers a SIGSEGV (SIG_SEGV): its
 * frame must hold the reset state (zero XMM/YMM, default MXCSR, FCW and
 * PKRU; 300 + qword, 364-366 if not). The task then execs a new program. */
segv_handler:
	xor %ecx, %ecx
1:	mov %rcx, %rax
	shl $4, %rax
	lea 300(, %rcx, 4), %rsi
	cmpq $0, FX_XMM(%r13, %rax)
	jne 3f
	inc %rsi
	cmpq $0, FX_XMM + 8(%r13, %rax)
	jne 3f
	mov SI_AVX_OFF(%r14), %rdi
	test %rdi, %rdi
	jz 2f
	testb $4, XSAVE_BV(%r13)          /* AVX in its init state: zero */
	jz 2f
	inc %rsi
	add %r13, %rdi
	cmpq $0, (%rdi, %rax)
	jne 3f
	inc %rsi
	cmpq $0, 8(%rdi, %rax)
	jne 3f
2:	inc %ecx
	cmp $16, %ecx
	jne 1b
	jmp 4f
3:	call h_report
4:	cmpl $0x1f80, 24(%r13)
	je 5f
	mov $364, %esi
	call h_report
5:	cmpw $0x037f, (%r13)
	je 6f
	mov $365, %esi
	call h_report
6:	mov SI_PKRU_OFF(%r14), %rdx
	test %rdx, %rdx
	jz 8f
	xor %eax, %eax
	testw $0x200, XSAVE_BV(%r13)
	jz 7f
	mov (%r13, %rdx), %eax
7:	cmp $PKRU_DEFAULT, %eax
	je 8f
	mov $366, %esi
	call h_report
8:	mov $SYS_EXEC, %eax
	mov %r12, %rdi
	syscall
	ud2

	.globl user_sigreturn
user_sigreturn:
	mov $SYS_SIGRETURN, %eax
	syscall
	ud2

/* The violation syscall from the handler: rsi = what, rdi = the task. */
h_report:
	mov %r12, %rdi
	mov $SYS_VIOLATION, %eax
	syscall
	ret

user_keyed_magic:
	.quad 0x6b65792d6f6e6521

/* A page the kernel gives protection key 1 for good (signal.c): the tasks
 * read it, which their PKRU allows (key 1 is write-disabled or open); the
 * default PKRU, a handler's, denies it. */
	.section .user.keyed, "aw"
	.align 4096
	.globl user_keyed_page
user_keyed_page:
	.quad 0x6b65792d6f6e6521
	.balign 4096, 0

	.section .user.bss, "aw"
	.align 4096
	.globl user_stacks
user_stacks:
	.skip 8 * 16384                   /* MAX_CPUS + 2 tasks and FORK_SLOTS children */

	.section .note.GNU-stack, "", @progbits
