/* SPDX-License-Identifier: MIT */
/*
 * The oracle's verdicts on a task's registers: what the task expects (a
 * pattern it loaded, init state, or the image a sigreturn promised), and a
 * violation report when the registers hold something else.
 */
#include "kernel.h"

/* Every kernel's violations are the host's results: one list for the run. */
void kviolation(struct kernel *k, enum viol_kind kind, uint8_t where, uint32_t cpu, uint32_t task,
		uint32_t line, const char *msg, const struct oracle_finding *f)
{
	struct kresult *res = &k->root->res;

	if (res->nviolations < KMAX_VIOLATIONS) {
		struct violation *v = &res->viol[res->nviolations];

		kzero(v, sizeof(*v));
		v->kind = (uint8_t)kind;
		v->where = where;
		v->vm = (uint8_t)k->vm_index;
		v->cpu = (uint16_t)cpu;
		v->task = task;
		v->line = line;
		v->time = k->hw->now;
		v->msg = msg;
		if (f) {
			v->component = f->component;
			v->offset = f->offset;
			kcopy(v->expected, f->expected, 8);
			kcopy(v->found, f->found, 8);
			v->found_owner = f->found_owner;
			v->found_gen = f->found_gen;
			v->found_known = f->found_known;
		}
	}
	res->nviolations++;
	ktrace(k, KT_EV_VIOLATION, task, kind, line, 0);
}

bool image_check(struct kernel *k, struct task *t, uint8_t *img, uint8_t *expect, uint32_t line,
		 uint8_t where)
{
	struct oracle_finding f;

	if (t->exp_owner == OWNER_UNKNOWN)
		return true;
	k->res.checks++;
	if (t->exp_owner == OWNER_IMAGE)
		kcopy(expect, t->exp_image, k->oracle.std_size);
	else
		pattern_build(&k->oracle, expect, t->exp_owner, t->exp_gen, k->oracle.user_mask);
	if (image_compare(&k->oracle, img, expect, &f))
		return true;
	kviolation(k, VIOL_STATE, where, k->hw->running, t->id, line, f.msg, &f);
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
