/* SPDX-License-Identifier: MIT */
/*
 * The exception table. The linker gathers every fpuctx_extable entry of the
 * final image between __start_fpuctx_extable and __stop_fpuctx_extable (a
 * kernel would name the section in its linker script). Linear search: the
 * table is short and faults are rare.
 */
#include "fpuctx/extable.h"

extern const struct fpu_extable_entry __start_fpuctx_extable[] __attribute__((weak));
extern const struct fpu_extable_entry __stop_fpuctx_extable[] __attribute__((weak));

const struct fpu_extable_entry *fpu_extable_search(uintptr_t ip)
{
	const struct fpu_extable_entry *e;

	for (e = __start_fpuctx_extable; e && e < __stop_fpuctx_extable; e++)
		if (fpu_extable_insn(e) == ip)
			return e;
	return 0;
}
