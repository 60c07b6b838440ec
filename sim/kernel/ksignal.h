/* SPDX-License-Identifier: MIT */
/*
 * Signals of the simulated kernel (signal.c): delivery with the library's
 * frames, sigreturn, and the frame edits scenarios make in between.
 */
#ifndef SIM_KERNEL_KSIGNAL_H
#define SIM_KERNEL_KSIGNAL_H

#include "task.h"

#define RED_ZONE       128u

/* What the scenario's frame edits say sigreturn must do. */
enum sig_predict { PREDICT_OK, PREDICT_FX_ONLY, PREDICT_FAIL };

void send_signal(struct kernel *k, struct task *t, unsigned sig);
void deliver_signal(struct kernel *k, struct task *t);
void do_sigreturn(struct kernel *k, struct task *t);
void frame_edit(struct kernel *k, struct task *t, const struct scn_op *op);
void stack_mode(struct kernel *k, struct task *t, unsigned mode);
void task_kill(struct kernel *k, struct task *t);

#endif
