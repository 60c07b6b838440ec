/* SPDX-License-Identifier: MIT */
/* Descriptor tables, FPU enabling, the local APIC timer, IPIs, the APs' start. */
#include "kernel.h"

#define APIC_BASE 0xfee00000ull
#define APIC_ID   0x020
#define APIC_TPR  0x080
#define APIC_EOI  0x0b0
#define APIC_SVR  0x0f0
#define APIC_ICR_LO 0x300
#define APIC_ICR_HI 0x310
#define APIC_ICR_PENDING (1u << 12)
#define APIC_LVT_TIMER 0x320
#define APIC_TIMER_INIT 0x380
#define APIC_TIMER_DIV 0x3e0
#define APIC_TIMER_PERIODIC (1u << 17)

#define MSR_EFER  0xc0000080u
#define MSR_STAR  0xc0000081u
#define MSR_LSTAR 0xc0000082u
#define MSR_FMASK 0xc0000084u
#define MSR_GS_BASE        0xc0000101u
#define MSR_KERNEL_GS_BASE 0xc0000102u
#define EFER_SCE  0x1ull
#define TRAMPOLINE 0x8000u

struct percpu cpus[MAX_CPUS];

struct idt_gate {
	uint16_t offset_lo, selector;
	uint8_t ist, type;
	uint16_t offset_mid;
	uint32_t offset_hi, reserved;
} __attribute__((packed));

struct table_ptr {
	uint16_t limit;
	uint64_t base;
} __attribute__((packed));

static uint64_t gdt[5 + 2 * MAX_CPUS] __attribute__((aligned(16)));
static struct idt_gate idt[256] __attribute__((aligned(16)));


static inline void wrmsr(uint32_t msr, uint64_t v)
{
	__asm__ volatile("wrmsr" : : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)));
}

static inline uint64_t rdmsr(uint32_t msr)
{
	uint32_t lo, hi;
	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return (uint64_t)hi << 32 | lo;
}

static inline void cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
	__asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(sub));
}

static inline void outb(uint16_t port, uint8_t v) { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }

uint64_t read_cr2(void)
{
	uint64_t v;
	__asm__ volatile("mov %%cr2, %0" : "=r"(v));
	return v;
}

static void set_gate(unsigned vector, void (*handler)(void), unsigned ist)
{
	uint64_t a = (uint64_t)handler;

	idt[vector].offset_lo = (uint16_t)a;
	idt[vector].selector = KERNEL_CS;
	idt[vector].ist = (uint8_t)ist;
	idt[vector].type = 0x8e;   /* present, DPL 0, interrupt gate: IF cleared on entry */
	idt[vector].offset_mid = (uint16_t)(a >> 16);
	idt[vector].offset_hi = (uint32_t)(a >> 32);
	idt[vector].reserved = 0;
}

#define DECLARE_ISR(n) void isr_##n(void);
DECLARE_ISR(0) DECLARE_ISR(1) DECLARE_ISR(2) DECLARE_ISR(3) DECLARE_ISR(4) DECLARE_ISR(5)
DECLARE_ISR(6) DECLARE_ISR(7) DECLARE_ISR(8) DECLARE_ISR(9) DECLARE_ISR(10) DECLARE_ISR(11)
DECLARE_ISR(12) DECLARE_ISR(13) DECLARE_ISR(14) DECLARE_ISR(15) DECLARE_ISR(16) DECLARE_ISR(17)
DECLARE_ISR(18) DECLARE_ISR(19) DECLARE_ISR(20) DECLARE_ISR(21) DECLARE_ISR(22) DECLARE_ISR(23)
DECLARE_ISR(24) DECLARE_ISR(25) DECLARE_ISR(26) DECLARE_ISR(27) DECLARE_ISR(28) DECLARE_ISR(29)
DECLARE_ISR(30) DECLARE_ISR(31) DECLARE_ISR(32) DECLARE_ISR(240) DECLARE_ISR(241) DECLARE_ISR(242)
DECLARE_ISR(255)

static void (*const exception_stubs[32])(void) = {
	isr_0, isr_1, isr_2, isr_3, isr_4, isr_5, isr_6, isr_7, isr_8, isr_9, isr_10,
	isr_11, isr_12, isr_13, isr_14, isr_15, isr_16, isr_17, isr_18, isr_19, isr_20,
	isr_21, isr_22, isr_23, isr_24, isr_25, isr_26, isr_27, isr_28, isr_29, isr_30, isr_31,
};

/* GDT with user segments in the order SYSRET expects, a TSS whose rsp0 is
 * the current task's kernel stack (kernel.c keeps it so) and whose IST1 is
 * the exception stack: an exception then never writes below the
 * interrupted kernel code's stack pointer (the installed library is not
 * built with -mno-red-zone). */
void cpu_tables_init(struct percpu *c, uint64_t ist_top)
{
	uint64_t tss = (uint64_t)&c->tss, limit = sizeof(c->tss) - 1;
	unsigned slot = 5 + 2 * (unsigned)c->id;
	struct table_ptr p;
	unsigned v;

	gdt[0] = 0;
	gdt[1] = 0x00af9a000000ffffull; /* kernel code, 64-bit */
	gdt[2] = 0x00cf92000000ffffull; /* kernel data */
	gdt[3] = 0x00cff2000000ffffull; /* user data */
	gdt[4] = 0x00affa000000ffffull; /* user code, 64-bit */
	/* each CPU's own TSS descriptor: LTR marks it busy */
	gdt[slot] = (limit & 0xffff) | (tss & 0xffffff) << 16 | 0x89ull << 40 |
		    ((limit >> 16) & 0xf) << 48 | ((tss >> 24) & 0xff) << 56;
	gdt[slot + 1] = tss >> 32;
	c->tss.ist[0] = ist_top;
	c->tss.iomap_base = sizeof(c->tss);

	p.limit = sizeof(gdt) - 1;
	p.base = (uint64_t)gdt;
	__asm__ volatile("lgdt %0\n\t"
			 "pushq %1\n\t"
			 "leaq 1f(%%rip), %%rax\n\t"
			 "pushq %%rax\n\t"
			 "lretq\n"
			 "1:\n\t"
			 "mov %2, %%ds\n\t"
			 "mov %2, %%es\n\t"
			 "mov %2, %%ss\n\t"
			 "ltr %w3"
			 : : "m"(p), "i"(KERNEL_CS), "r"(KERNEL_DS), "r"(TSS_SEL(c->id)) : "rax", "memory");

	for (v = 0; v < 32; v++)
		set_gate(v, exception_stubs[v], 1);
	set_gate(TIMER_VECTOR, isr_32, 0);
	set_gate(FLUSH_VECTOR, isr_240, 0);
	set_gate(RESCHED_VECTOR, isr_241, 0);
	set_gate(KFPU_VECTOR, isr_242, 0);
	set_gate(SPURIOUS_VECTOR, isr_255, 0);
	p.limit = sizeof(idt) - 1;
	p.base = (uint64_t)idt;
	__asm__ volatile("lidt %0" : : "m"(p));

	wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_SCE);
	wrmsr(MSR_STAR, (uint64_t)KERNEL_DS << 48 | (uint64_t)KERNEL_CS << 32);
	wrmsr(MSR_LSTAR, (uint64_t)syscall_entry);
	wrmsr(MSR_FMASK, 0x200 | 0x100 | 0x400 | 0x40000); /* IF, TF, DF, AC */
}

/* GS base (both of them, as nothing swaps them) points at the CPU's data. */
void cpu_gs_init(struct percpu *c)
{
	c->self = c;
	wrmsr(MSR_GS_BASE, (uint64_t)c);
	wrmsr(MSR_KERNEL_GS_BASE, (uint64_t)c);
}

#define CR0_MP  (1ull << 1)
#define CR0_EM  (1ull << 2)
#define CR0_TS  (1ull << 3)
#define CR0_NE  (1ull << 5)
#define CR4_OSFXSR     (1ull << 9)
#define CR4_OSXMMEXCPT (1ull << 10)
#define CR4_OSXSAVE    (1ull << 18)
#define CR4_PKE        (1ull << 22)
#define XBIT(f) FPU_XFEATURE_MASK(FPU_XFEATURE_##f)

/* XCR0 from what CPUID.(0xD,0) offers, keeping the architecture's rules:
 * x87 always; AVX only with SSE; MPX's two and AMX's two together;
 * AVX-512's three together and only with AVX. */
static uint64_t xcr0_from(uint64_t offered)
{
	uint64_t x = XBIT(X87) | XBIT(SSE);
	uint64_t mpx = XBIT(BNDREGS) | XBIT(BNDCSR);
	uint64_t avx512 = XBIT(OPMASK) | XBIT(ZMM_HI256) | XBIT(HI16_ZMM);
	uint64_t amx = XBIT(XTILECFG) | XBIT(XTILEDATA);

	if (offered & XBIT(AVX))
		x |= XBIT(AVX);
	if ((offered & mpx) == mpx)
		x |= mpx;
	if ((x & XBIT(AVX)) && (offered & avx512) == avx512)
		x |= avx512;
	if (offered & XBIT(PKRU))
		x |= XBIT(PKRU);
	if ((offered & amx) == amx)
		x |= amx;
	return x;
}

/* CR0, CR4 and XCR0 for the library's instructions; returns XCR0 (0: no XSAVE). */
uint64_t fpu_hw_enable(void)
{
	uint32_t r[4];
	uint64_t cr0, cr4, xcr0 = 0;
	bool has_xsave;

	__asm__ volatile("mov %%cr0, %0" : "=r"(cr0));
	cr0 = (cr0 | CR0_MP | CR0_NE) & ~(CR0_EM | CR0_TS);
	__asm__ volatile("mov %0, %%cr0" : : "r"(cr0));

	cpuid(1, 0, r);
	has_xsave = r[2] & (1u << 26);
	__asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
	cr4 |= CR4_OSFXSR | CR4_OSXMMEXCPT;
	if (has_xsave)
		cr4 |= CR4_OSXSAVE;
	cpuid(7, 0, r);
	if (r[2] & (1u << 3)) /* PKU */
		cr4 |= CR4_PKE;
	__asm__ volatile("mov %0, %%cr4" : : "r"(cr4));

	if (has_xsave) {
		cpuid(0xd, 0, r);
		xcr0 = xcr0_from((uint64_t)r[3] << 32 | r[0]);
		__asm__ volatile("xsetbv" : : "c"(0), "a"((uint32_t)xcr0), "d"((uint32_t)(xcr0 >> 32)));
	}
	__asm__ volatile("fninit");
	return xcr0;
}

static inline void apic_write(uint32_t reg, uint32_t v)
{
	*(volatile uint32_t *)(APIC_BASE + reg) = v;
}

void apic_eoi(void)
{
	apic_write(APIC_EOI, 0);
}

/* Periodic local APIC timer on TIMER_VECTOR; the 8259 PICs masked. */
void apic_timer_start(uint32_t initial_count)
{
	outb(0x21, 0xff);
	outb(0xa1, 0xff);
	apic_write(APIC_SVR, 0x100 | SPURIOUS_VECTOR);
	apic_write(APIC_TPR, 0);
	apic_write(APIC_TIMER_DIV, 0x3);  /* divide by 16 */
	apic_write(APIC_LVT_TIMER, APIC_TIMER_PERIODIC | TIMER_VECTOR);
	apic_write(APIC_TIMER_INIT, initial_count);
}

static inline uint32_t apic_read(uint32_t reg)
{
	return *(volatile uint32_t *)(APIC_BASE + reg);
}

unsigned apic_id(void)
{
	return apic_read(APIC_ID) >> 24;
}

/* Fixed delivery, physical destination; waits for the previous send. */
void apic_send_ipi(unsigned dest, uint32_t icr_low)
{
	while (apic_read(APIC_ICR_LO) & APIC_ICR_PENDING)
		cpu_relax();
	apic_write(APIC_ICR_HI, dest << 24);
	apic_write(APIC_ICR_LO, icr_low);
	while (apic_read(APIC_ICR_LO) & APIC_ICR_PENDING)
		cpu_relax();
}

static void spin_delay(unsigned n)
{
	while (n--)
		cpu_relax();
}

extern char trampoline_start[], trampoline_end[];
extern uint64_t ap_boot_rsp;
extern uint32_t ap_boot_cpu;
extern volatile uint32_t aps_started;

/* INIT, then two STARTUPs at TRAMPOLINE, one AP at a time (the trampoline
 * reads ap_boot_rsp and ap_boot_cpu); QEMU numbers the APIC ids 0..N-1. */
void smp_start_aps(unsigned ncpus, uint64_t *stack_tops)
{
	unsigned i, tries;

	memcpy((void *)(uint64_t)TRAMPOLINE, trampoline_start,
	       (unsigned long)(trampoline_end - trampoline_start));
	for (i = 1; i < ncpus; i++) {
		ap_boot_rsp = stack_tops[i];
		ap_boot_cpu = i;
		__asm__ volatile("" : : : "memory");
		apic_send_ipi(i, 0x4500);                       /* INIT, assert */
		spin_delay(10000);
		apic_send_ipi(i, 0x4600 | (TRAMPOLINE >> 12));  /* STARTUP */
		spin_delay(2000);
		if (aps_started < i)
			apic_send_ipi(i, 0x4600 | (TRAMPOLINE >> 12));
		for (tries = 0; aps_started < i && tries < 100000000u; tries++)
			cpu_relax();
		if (aps_started < i) {
			kprintf("ring0: FAIL: cpu %u did not start\n", i);
			qemu_exit(EXIT_CODE_FAIL);
		}
	}
}
