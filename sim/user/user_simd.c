/* SPDX-License-Identifier: MIT */
/*
 * User code that really computes with vector registers (for benchmarks).
 * The only file of the simulated side built with SIMD enabled: it runs in
 * simulated user mode, on the task's own registers.
 */
#include "user.h"

typedef double v4d __attribute__((vector_size(16))); /* SSE2: every x86-64 has it */

uint64_t user_simd_compute(uint32_t iterations)
{
	v4d a = { 1.0, 2.0 }, b = { 0.5, 0.25 }, acc = { 0, 0 };
	uint32_t i;

	for (i = 0; i < iterations; i++) {
		acc = acc * b + a;
		a = a + b;
		__asm__ volatile("" : "+x"(acc), "+x"(a)); /* keep it in registers, unfused */
	}
	return (uint64_t)(acc[0] + acc[1]);
}
