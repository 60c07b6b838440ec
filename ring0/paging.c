/* SPDX-License-Identifier: MIT */
/*
 * 4 KiB pages for the user region: its 2 MiB page (boot.S maps everything
 * with 2 MiB pages) is split into a page table, identity-mapped, user
 * accessible and writable, protection key 0. The signal code then unmaps,
 * write-protects or re-keys single pages of a task's stack.
 *
 * TLBs: a change is flushed with INVLPG on this CPU only. That is enough
 * because of one rule: a page of a task's stack is changed only by the CPU
 * running that task, and put back to its usual entry (present, writable,
 * key 0) before the task can run anywhere else. No other CPU touches
 * another task's stack meanwhile, so an entry it may still cache is the
 * usual one, which is what the page is again before it matters. A stale
 * stricter entry is still handled: the #PF handler finds a page whose entry
 * allows the access (a spurious fault), INVLPGs and retries.
 */
#include "kernel.h"

#define PTE_P   0x001ull
#define PTE_RW  0x002ull
#define PTE_US  0x004ull
#define PTE_PS  0x080ull
#define PTE_KEY_SHIFT 59
#define PTE_KEY_MASK  (0xfull << PTE_KEY_SHIFT)
#define CR0_WP (1ull << 16)
#define USUAL_PTE (PTE_P | PTE_RW | PTE_US)

extern uint64_t pd_low[512];
extern uint64_t pml4[512];
extern char user_region_start[], user_region_end[];

static uint64_t user_pt[512] __attribute__((aligned(4096)));

static uint64_t *pte_of(uint64_t va)
{
	return &user_pt[(va >> 12) & 511];
}

static void invlpg(uint64_t va)
{
	__asm__ volatile("invlpg (%0)" : : "r"(va) : "memory");
}

bool user_page_ok(uint64_t va)
{
	return va >= (uint64_t)user_region_start && va < (uint64_t)user_region_start + (1ull << 21);
}

/* The user region must be one 2 MiB page: the linker script keeps it so. */
void paging_init(void)
{
	uint64_t base = (uint64_t)user_region_start;
	unsigned i;

	if ((uint64_t)user_region_end - base != 1ull << 21) {
		kprintf("ring0: FAIL: the user region is not one 2 MiB page\n");
		qemu_exit(EXIT_CODE_FAIL);
	}
	for (i = 0; i < 512; i++)
		user_pt[i] = (base + ((uint64_t)i << 12)) | USUAL_PTE;
	pd_low[base >> 21] = (uint64_t)user_pt | USUAL_PTE;
	__asm__ volatile("mov %0, %%cr3" : : "r"((uint64_t)pml4) : "memory");
}

/* Every CPU: supervisor writes honour read-only pages (and write-disabled
 * protection keys on user pages), as they must for user copies. */
void paging_cpu_init(void)
{
	uint64_t cr0;

	__asm__ volatile("mov %%cr0, %0" : "=r"(cr0));
	__asm__ volatile("mov %0, %%cr0" : : "r"(cr0 | CR0_WP) : "memory");
}

static void pte_set(uint64_t va, uint64_t pte)
{
	*pte_of(va) = pte;
	invlpg(va);
}

uint64_t user_page_get(uint64_t va)
{
	return *pte_of(va);
}

void user_page_put(uint64_t va, uint64_t pte)
{
	pte_set(va, pte);
}

void user_page_unmap(uint64_t va)
{
	pte_set(va, *pte_of(va) & ~PTE_P);
}

void user_page_map(uint64_t va)
{
	pte_set(va, *pte_of(va) | PTE_P);
}

void user_page_writable(uint64_t va, bool writable)
{
	uint64_t p = *pte_of(va);

	pte_set(va, writable ? p | PTE_RW : p & ~PTE_RW);
}

void user_page_set_key(uint64_t va, unsigned key)
{
	pte_set(va, (*pte_of(va) & ~PTE_KEY_MASK) | (uint64_t)(key & 15) << PTE_KEY_SHIFT);
}

bool user_page_present(uint64_t va)
{
	return *pte_of(va) & PTE_P;
}

bool user_page_is_writable(uint64_t va)
{
	return *pte_of(va) & PTE_RW;
}

void user_page_flush(uint64_t va)
{
	invlpg(va);
}
