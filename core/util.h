/* SPDX-License-Identifier: MIT */
/* Byte helpers: the core has no libc. */
#ifndef FPUCTX_CORE_UTIL_H
#define FPUCTX_CORE_UTIL_H

#include <stddef.h>
#include <stdint.h>

static inline void fpu_bytes_zero(void *dst, size_t n)
{
	volatile uint8_t *d = dst; /* volatile: the compiler must not turn this into memset() */
	while (n--)
		*d++ = 0;
}

static inline void fpu_bytes_copy(void *dst, const void *src, size_t n)
{
	volatile uint8_t *d = dst;
	const uint8_t *s = src;
	while (n--)
		*d++ = *s++;
}

static inline void fpu_put16(void *p, uint16_t v) { uint8_t *b = p; b[0] = (uint8_t)v; b[1] = (uint8_t)(v >> 8); }
static inline void fpu_put32(void *p, uint32_t v) { fpu_put16(p, (uint16_t)v); fpu_put16((uint8_t *)p + 2, (uint16_t)(v >> 16)); }
static inline void fpu_put64(void *p, uint64_t v) { fpu_put32(p, (uint32_t)v); fpu_put32((uint8_t *)p + 4, (uint32_t)(v >> 32)); }
static inline uint16_t fpu_get16(const void *p) { const uint8_t *b = p; return (uint16_t)(b[0] | b[1] << 8); }
static inline uint32_t fpu_get32(const void *p) { return fpu_get16(p) | (uint32_t)fpu_get16((const uint8_t *)p + 2) << 16; }
static inline uint64_t fpu_get64(const void *p) { return fpu_get32(p) | (uint64_t)fpu_get32((const uint8_t *)p + 4) << 32; }

#endif
