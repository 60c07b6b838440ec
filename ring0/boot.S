/* SPDX-License-Identifier: MIT */
/*
 * From QEMU's multiboot loader (32-bit protected mode, paging off) to 64-bit
 * C: page tables identity-mapping the first 1 GiB with 2 MiB pages, and the
 * local APIC's page uncached; PAE, long mode, paging; a far jump into
 * 64-bit code. The real GDT, IDT and TSS are built in C (cpu.c).
 */
#define MB_MAGIC 0x1badb002
#define MB_FLAGS 0x00000003              /* page-aligned modules, memory info */
#define PTE_P    0x001
#define PTE_RW   0x002
#define PTE_US   0x004
#define PTE_PWT  0x008
#define PTE_PCD  0x010
#define PTE_PS   0x080
#define APIC_PHYS 0xfee00000

/* From 32-bit protected mode to long mode on the shared page tables (the
 * BSP at boot, each AP from its trampoline): PAE, CR3, EFER.LME, paging. */
/* In 64-bit code: the boot GDT's data segment, FS and GS null (GS base is
 * set in C). */
.macro LOAD_DATA_SEGMENTS
	mov $0x10, %eax
	mov %eax, %ds
	mov %eax, %es
	mov %eax, %ss
	xor %eax, %eax
	mov %eax, %fs
	mov %eax, %gs
.endm

.macro ENTER_LONG_MODE
	mov %cr4, %eax
	or $0x20, %eax                    /* PAE */
	mov %eax, %cr4
	mov $pml4, %eax
	mov %eax, %cr3
	mov $0xc0000080, %ecx             /* EFER */
	rdmsr
	or $0x100, %eax                   /* LME */
	wrmsr
	mov %cr0, %eax
	or $0x80000001, %eax              /* PG, PE */
	mov %eax, %cr0
.endm

	.section .multiboot, "a"
	.align 4
	.long MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)

	.section .boot32, "ax"
	.code32
	.globl boot_entry32
boot_entry32:
	cli
	mov $boot_stack_top, %esp
	mov %ebx, multiboot_info_phys     /* the loader's info block */
	mov %eax, multiboot_magic

	/* PML4[0] -> PDPT; PDPT[0] -> PD of the first GiB (user bit set at the
	 * upper levels: the 2 MiB entries decide); PDPT[3] -> PD of the APIC. */
	mov $pdpt, %eax
	or $(PTE_P | PTE_RW | PTE_US), %eax
	mov %eax, pml4
	mov $pd_low, %eax
	or $(PTE_P | PTE_RW | PTE_US), %eax
	mov %eax, pdpt
	mov $pd_apic, %eax
	or $(PTE_P | PTE_RW), %eax
	mov %eax, pdpt + 3 * 8

	xor %ecx, %ecx
1:	mov %ecx, %eax
	shl $21, %eax
	or $(PTE_P | PTE_RW | PTE_PS), %eax
	mov %eax, pd_low(, %ecx, 8)
	inc %ecx
	cmp $512, %ecx
	jne 1b
	mov $(APIC_PHYS | PTE_P | PTE_RW | PTE_PWT | PTE_PCD | PTE_PS), %eax
	mov %eax, pd_apic + ((APIC_PHYS >> 21) & 511) * 8

	ENTER_LONG_MODE
	lgdt boot_gdt_ptr
	ljmp $0x08, $boot_entry64

	.code64
boot_entry64:
	LOAD_DATA_SEGMENTS
	mov $boot_stack_top, %rsp
	mov multiboot_magic(%rip), %edi
	mov multiboot_info_phys(%rip), %esi
	call kernel_main
2:	cli
	hlt
	jmp 2b

/* An AP in long mode: its stack and CPU index were left by the BSP, which
 * starts one AP at a time. */
	.globl ap_entry64, ap_boot_rsp, ap_boot_cpu
ap_entry64:
	LOAD_DATA_SEGMENTS
	mov ap_boot_rsp(%rip), %rsp
	mov ap_boot_cpu(%rip), %edi
	call ap_main
3:	cli
	hlt
	jmp 3b

/* The APs' start (INIT-SIPI-SIPI from cpu.c): this code is copied to
 * TRAMPOLINE and entered in real mode at TRAMPOLINE >> 4 : 0. It goes to
 * protected mode, then long mode on the BSP's page tables, and jumps to
 * ap_entry64 in the kernel proper. Addresses inside it are computed from
 * its own start, since it runs where it is copied, not where it is linked. */
#define TRAMPOLINE 0x8000
#define T(x) ((x) - trampoline_start + TRAMPOLINE)

	.section .rodata
	.globl trampoline_start, trampoline_end
	.code16
trampoline_start:
	cli
	xor %ax, %ax
	mov %ax, %ds
	lgdtl T(tramp_gdt_ptr)
	mov %cr0, %eax
	or $1, %eax                       /* PE */
	mov %eax, %cr0
	ljmpl $0x18, $T(tramp32)

	.code32
tramp32:
	mov $0x10, %eax
	mov %eax, %ds
	mov %eax, %es
	mov %eax, %ss
	ENTER_LONG_MODE
	ljmp $0x08, $ap_entry64

	.align 8
tramp_gdt:
	.quad 0
	.quad 0x00af9a000000ffff          /* 0x08: 64-bit code */
	.quad 0x00cf92000000ffff          /* 0x10: data */
	.quad 0x00cf9a000000ffff          /* 0x18: 32-bit code */
tramp_gdt_ptr:
	.word tramp_gdt_ptr - tramp_gdt - 1
	.long T(tramp_gdt)
trampoline_end:
	.code64

	.align 16
boot_gdt:
	.quad 0
	.quad 0x00af9a000000ffff          /* 0x08: 64-bit code */
	.quad 0x00cf92000000ffff          /* 0x10: data */
boot_gdt_ptr:
	.word boot_gdt_ptr - boot_gdt - 1
	.long boot_gdt

	.section .data
	.globl multiboot_info_phys, multiboot_magic
multiboot_info_phys: .long 0
multiboot_magic:     .long 0
	.align 8
ap_boot_rsp:         .quad 0
ap_boot_cpu:         .long 0

	.section .bss
	.align 4096
	.globl pml4, pdpt, pd_low, pd_apic
pml4:    .skip 4096
pdpt:    .skip 4096
pd_low:  .skip 4096
pd_apic: .skip 4096
	.align 16
boot_stack:
	.skip 16384
boot_stack_top:

	.section .note.GNU-stack, "", @progbits
