/* SPDX-License-Identifier: MIT */
/* The command and option tables and the helpers every command shares (options.c). */
#ifndef FPUCTX_TOOL_OPTIONS_H
#define FPUCTX_TOOL_OPTIONS_H

#include <stddef.h>
#include <stdio.h>

struct command {
	const char *name, *args, *what;
	unsigned bit;             /* CMD_* (tool.h) */
};
extern const struct command commands[];
extern const unsigned ncommands;
/* Policy names for the scenario parser's expect lines (init_policy_names fills it). */
extern const char *policy_names[8];

const struct command *find_command(const char *name);
int usage(FILE *out, int status);
int command_usage(FILE *out, const struct command *c);
/* A bad-input message naming what and where; returns EXIT_BADINPUT. */
int bad(const char *fmt, const char *a, const char *b);
/* "; did you mean 'X'?" for the candidate nearest to word, or "". */
const char *near(char *buf, size_t len, const char *word, const char *const *cands, size_t n);
void init_policy_names(void);

#endif
