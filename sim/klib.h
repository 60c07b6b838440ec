/* SPDX-License-Identifier: MIT */
/*
 * Byte loops for kernel-side code: no libc, and volatile so the compiler
 * cannot turn them back into memset/memcpy calls.
 */
#ifndef SIM_KLIB_H
#define SIM_KLIB_H

#include <stddef.h>
#include <stdint.h>

static inline void kzero(void *p, size_t n)
{
	volatile uint8_t *d = p;
	while (n--)
		*d++ = 0;
}

static inline void kfill(void *p, uint8_t byte, size_t n)
{
	volatile uint8_t *d = p;
	while (n--)
		*d++ = byte;
}

static inline void kcopy(void *dst, const void *src, size_t n)
{
	volatile uint8_t *d = dst;
	const uint8_t *s = src;
	while (n--)
		*d++ = *s++;
}

/* The structure that embeds *p as its `member`. */
#define container_of(p, type, member) ((type *)(void *)((char *)(p) - offsetof(type, member)))

#endif
