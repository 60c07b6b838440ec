/* SPDX-License-Identifier: MIT */
/*
 * User code of simulated tasks, the part that is real compiled code rather
 * than program ops. Built with SIMD allowed, so the kernel only calls it from
 * simulated user mode, on the task's own registers.
 */
#ifndef SIM_USER_H
#define SIM_USER_H

#include <stdint.h>

/* A vector computation of `iterations` steps (for benchmarks). */
uint64_t user_simd_compute(uint32_t iterations);

#endif
