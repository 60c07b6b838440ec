/* SPDX-License-Identifier: MIT */
/*
 * Policies: each is a set of decisions the state machine consults. Adding a
 * policy never adds a mechanism.
 */
#include "fpuctx/types.h"
#include "fpuctx/trace.h"

const struct fpu_policy fpu_policies[] = {
	{
		.name = "eager",
		.summary = "save prev and load next at every switch, kernel threads and idle included (Linux <= 3.x)",
		.defer_restore = false,
		.skip_valid_restore = false,
		.kthreads_switch_fpu = true,
		.kfpu_end_restores = true,
		.guest_swap_per_entry = true,
	},
	{
		.name = "rfc2015",
		.summary = "the 2015 RFC series: load at exit to user for tasks, but the guest's state is put away at every vCPU switch-out and loaded before entry",
		.defer_restore = true,
		.skip_valid_restore = true,
		.kthreads_switch_fpu = false,
		.kfpu_end_restores = false,
		.guest_swap_per_entry = true,
	},
	{
		.name = "linux",
		.summary = "Linux 5.2+: load at exit to user, skip when still valid, kernel threads own nothing",
		.defer_restore = true,
		.skip_valid_restore = true,
		.kthreads_switch_fpu = false,
		.kfpu_end_restores = false,
	},
	{
		.name = "deferred",
		.summary = "linux, and the save is deferred too: a switch-out leaves the image in the registers; it is written back once, when another context, a kernel FPU section or another CPU needs them",
		.defer_restore = true,
		.skip_valid_restore = true,
		.kthreads_switch_fpu = false,
		.kfpu_end_restores = false,
		.defer_save = true,
	},
};
const unsigned fpu_npolicies = sizeof(fpu_policies) / sizeof(fpu_policies[0]);

static bool str_eq(const char *a, const char *b)
{
	while (*a && *a == *b)
		a++, b++;
	return *a == *b;
}

const struct fpu_policy *fpu_policy_find(const char *name)
{
	unsigned i;

	for (i = 0; i < fpu_npolicies; i++)
		if (str_eq(fpu_policies[i].name, name))
			return &fpu_policies[i];
	return 0;
}

const char *fpu_event_name(unsigned type)
{
	static const char *const names[FPU_EV__COUNT] = {
		"save", "restore", "skip_restore", "need_load", "owner_drop", "state_reset",
		"kfpu_begin", "kfpu_end", "kfpu_refused", "pkru_write", "switch",
		"sigframe_save", "sigframe_fault", "sigreturn", "sigreturn_failed",
		"guest_begin", "guest_end", "x87_scrub", "save_deferred", "flush_request",
	};
	return type < FPU_EV__COUNT ? names[type] : "unknown";
}
