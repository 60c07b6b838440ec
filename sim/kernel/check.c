/* SPDX-License-Identifier: MIT */
/*
 * The oracle's verdicts on a task's registers: what the task expects (a
 * pattern it loaded, init state, or the image a sigreturn promised), and a
 * violation report when the registers hold something else.
 */
#include "kernel.h"

bool image_check(struct kernel *k, struct task *t, uint8_t *img, uint8_t *expect, uint32_t line,
		 uint8_t where)
{
	struct oracle_finding f;
	struct violation v;

	if (t->exp_owner == OWNER_UNKNOWN)
		return true;
	k->res.checks++;
	if (t->exp_owner == OWNER_IMAGE)
		kcopy(expect, t->exp_image, k->oracle.std_size);
	else
		pattern_build(&k->oracle, expect, t->exp_owner, t->exp_gen, k->oracle.user_mask);
	if (image_compare(&k->oracle, img, expect, &f))
		return true;
	kzero(&v, sizeof(v));
	v.kind = VIOL_STATE;
	v.where = where;
	v.cpu = (uint16_t)k->hw->running;
	v.task = t->id;
	v.line = line;
	v.component = f.component;
	v.offset = f.offset;
	kcopy(v.expected, f.expected, 8);
	kcopy(v.found, f.found, 8);
	v.found_owner = f.found_owner;
	v.found_gen = f.found_gen;
	v.found_known = f.found_known;
	v.msg = f.msg;
	kviolation(k, &v);
	return false;
}

/* Saves the registers into buf and compares them with t's expected state. */
bool pattern_check(struct kernel *k, struct task *t, uint8_t *buf, uint8_t *expect, uint32_t line,
		   uint8_t where)
{
	if (t->exp_owner == OWNER_UNKNOWN)
		return true;
	image_capture(&k->oracle, buf);
	return image_check(k, t, buf, expect, line, where);
}
