/* SPDX-License-Identifier: MIT */
/*
 * The integrity oracle: register patterns unique to (owner, generation),
 * and the comparison that says which bytes changed and whose they are.
 * It knows the CPU's layouts and what user code checks, nothing of the
 * kernel: the kernel, the tests and the benchmark each give it a struct
 * oracle.
 */
#ifndef SIM_ORACLE_H
#define SIM_ORACLE_H

#include <stdbool.h>
#include <stdint.h>
#include "fpuctx/xstate.h"
#include "../hw/hw.h"

/* Pattern owners: task ids, (vm << 8) | (slot + 1), and these. */
#define OWNER_INIT   0     /* expected-state owner meaning "init state" */
#define OWNER_KERNEL 0xfe  /* pattern owner of kernel FPU sections (plus the VM's base) */
#define OWNER_UNKNOWN 0xff /* after real compute: nothing to check until the next dirty */
#define OWNER_IMAGE  0xfd  /* expected state is the task's exp_image (after a sigreturn) */
#define OWNER_VM(owner) ((owner) >> 8)

struct oracle {
	const struct fpu_xstate_info *xs; /* the CPU: layouts, MXCSR mask, image instruction */
	uint64_t user_mask;   /* components user code loads and checks (PKRU included) */
	uint32_t std_size;    /* standard-format image size for user_mask */
	uint8_t x87_kept;     /* FPU_X87_* pointers compared byte for byte */
};

/* The first difference the oracle found, and whose state the found bytes are. */
struct oracle_finding {
	uint32_t component;   /* xfeature number */
	uint32_t offset;      /* byte offset in the standard-format image */
	uint8_t expected[8];  /* the aligned word at offset, each side */
	uint8_t found[8];
	uint32_t found_owner; /* OWNER_* or a task id, decoded from the found bytes */
	uint32_t found_gen;
	uint32_t found_known; /* 1: found_owner/gen decoded; 2: init state; 0: unknown */
	const char *msg;      /* static text, or NULL */
};

void pattern_build(const struct oracle *o, uint8_t *img, uint32_t owner, uint32_t gen, uint64_t mask);
void pattern_load(const struct oracle *o, uint8_t *img, uint32_t owner, uint32_t gen, uint64_t mask);
/* Saves the registers (user_mask) into img and normalizes them. */
void image_capture(const struct oracle *o, uint8_t *img);
void image_normalize(const struct oracle *o, uint8_t *img);
/* Compares img (standard format, normalized) with expect, the expected
 * image (clobbered: it is scratch). False, with *f filled, on a difference. */
bool image_compare(const struct oracle *o, const uint8_t *img, uint8_t *expect,
		   struct oracle_finding *f);
uint32_t image_foreign_owner(const uint8_t *img, uint32_t size, uint32_t vm, uint32_t *gen,
			     uint32_t *offset);
uint64_t image_live_components(const struct oracle *o, const uint8_t *img, uint64_t mask);

#endif
