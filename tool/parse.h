/* SPDX-License-Identifier: MIT */
/*
 * Scenario text parser: turns a .scn file (format: docs/scenarios.md) into
 * the compiled struct scenario the simulated kernel runs. Hosted C11.
 */
#ifndef TOOL_PARSE_H
#define TOOL_PARSE_H

#include "../sim/kernel/scenario.h"
#include <stddef.h>

/* Limits of the text format (not of the compiled form). */
#define SCN_MAX_LINE        4096      /* bytes per line, newline excluded */
#define SCN_MAX_FILE        (16u << 20) /* bytes scn_parse_file accepts */

/*
 * Parses `text` (NUL-terminated; `path` only used in messages and for
 * out->name) into *out (caller-allocated; zeroed first).
 * policy_names[0..npolicies-1] are the valid policy names for `expect`
 * lines ("all" is also accepted -> SCN_POLICY_ALL); npolicies must be < 255.
 * Returns 0 on success. On error returns -1 and writes ONE message
 * "PATH:LINE:COL: reason" into err (errlen bytes, always NUL-terminated).
 */
int scn_parse(const char *path, const char *text, struct scenario *out,
              const char *const *policy_names, int npolicies,
              char *err, size_t errlen);

/* Reads the file then parses it. File errors: "PATH: cannot read: strerror".
 * Unlike scn_parse, NUL bytes in the file are reported as errors. PATH "-"
 * reads standard input, called "<stdin>" in messages and out->name. */
int scn_parse_file(const char *path, struct scenario *out,
                   const char *const *policy_names, int npolicies,
                   char *err, size_t errlen);

/* The first rule of XCR0 (what XSETBV accepts) that `mask` breaks, as a
 * sentence naming the components and bits, or NULL if it breaks none.
 * *culprit (may be NULL): the bits of the rule that are in mask. */
/* The candidate within a typo's reach of `word` (edit distance, swaps
 * counting one), for "did you mean"; NULL if none is close. */
const char *scn_suggest(const char *word, const char *const *cands, size_t n);

const char *scn_xcr0_rule(uint64_t mask, uint64_t *culprit);

/* Name of an op / key (for reports), e.g. "dirty", "skipped_restores";
 * "?" for an out-of-range value. */
const char *scn_op_name(unsigned code);
const char *scn_key_name(unsigned key);

#endif
