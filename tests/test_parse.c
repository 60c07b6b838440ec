/* SPDX-License-Identifier: MIT */
/*
 * Tests for the scenario parser (tool/parse.c).
 *
 *   gcc -std=c11 -Wall -Wextra -Werror -g -fsanitize=address,undefined \
 *       -Iinclude -o /tmp/test_parse tests/test_parse.c tool/parse.c && /tmp/test_parse
 *
 * Valid inputs are checked op by op; bad inputs by the exact line and
 * column of the message plus a key part of its reason; random mutations
 * check that nothing crashes and that accepted scenarios are well formed.
 * The last line printed is "N passed, M failed".
 */
#define _POSIX_C_SOURCE 200809L  /* mkstemp, close, unlink */

#include "../tool/parse.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const pols[] = { "eager", "linux" };
#define NPOLS 2

static int passed, failed;

/* Large: keep it off the stack. */
static struct scenario scn;

#define CHECK(cond) check((cond) != 0, #cond, __LINE__)

static int check(int ok, const char *what, int line)
{
	if (ok) {
		passed++;
	} else {
		failed++;
		printf("FAIL line %d: %s\n", line, what);
	}
	return ok;
}

static int parse(const char *text, char *err, size_t errlen)
{
	return scn_parse("t.scn", text, &scn, pols, NPOLS, err, errlen);
}

/* Parses text that must be valid; prints the message if it is not. */
static int parse_ok(const char *text, int line)
{
	char err[256];

	if (parse(text, err, sizeof(err)) == 0)
		return check(1, "", line);
	printf("  unexpected error: %s\n", err);
	return check(0, "parse succeeds", line);
}

/* Parses text that must fail at line:col with `reason` in the message. */
static void bad_at(const char *text, unsigned line, unsigned col,
                   const char *reason, int src_line)
{
	char err[512], prefix[64];
	int r = parse(text, err, sizeof(err));

	snprintf(prefix, sizeof(prefix), "t.scn:%u:%u: ", line, col);
	if (r == -1 && strncmp(err, prefix, strlen(prefix)) == 0 &&
	    strstr(err + strlen(prefix), reason)) {
		passed++;
		return;
	}
	failed++;
	printf("FAIL line %d: wanted -1 and \"%s...%s\"\n  got %d: \"%s\"\n",
	       src_line, prefix, reason, r, r ? err : "");
}

#define BAD(text, line, col, reason) bad_at(text, line, col, reason, __LINE__)
#define OK(text) parse_ok(text, __LINE__)

/* ------------------------------------------------------------------ */
/* Structural invariants every accepted scenario must satisfy.         */

/* Checks one op of a block whose ops are [first, end); self is the task
 * the block runs as. */
static int op_ok(const struct scenario *s, uint32_t i, uint32_t end,
                 uint32_t self, int in_handler)
{
	const struct scn_op *op = &s->ops[i];

	if (op->code >= OP__COUNT || op->line == 0 || op->col == 0)
		return 0;
	if ((op->code == OP_FORK || op->code == OP_WAKE) &&
	    (op->arg >= s->ntasks || op->arg == self))
		return 0;
	if (op->code == OP_FORK && !s->tasks[op->arg].forked)
		return 0;
	if (op->code == OP_IPI_BALANCE &&
	    op->arg2 >= (s->tasks[self].vm ? s->vms[s->tasks[self].vm - 1].nvcpus : s->ncpus))
		return 0;
	if ((op->code == OP_MIGRATE || op->code == OP_IPI_KFPU || op->code == OP_IPI_BALANCE) &&
	    op->arg >= (s->tasks[self].vm ? s->vms[s->tasks[self].vm - 1].nvcpus : s->ncpus))
		return 0;
	if ((op->code == OP_RUN || op->code == OP_VGET || op->code == OP_VSET) &&
	    (s->tasks[self].vm || op->arg >= s->nvms || op->arg2 >= s->vms[op->arg].nvcpus))
		return 0;
	if (op->code == OP_IO && !s->tasks[self].vm)
		return 0;
	if ((op->code == OP_WAKE || op->code == OP_SIGNAL || op->code == OP_FORK) &&
	    op->arg < s->ntasks && s->tasks[op->arg].vm != s->tasks[self].vm)
		return 0;
	if (op->code == OP_REPEAT &&
	    (op->arg2 == 0 || i + op->arg2 >= end || op->arg == 0))
		return 0;
	if (op->code == OP_SIGNAL &&
	    (op->arg >= s->ntasks || s->tasks[op->arg].kind != TASK_USER ||
	     op->arg2 >= SIG__COUNT))
		return 0;
	if ((op->code == OP_ALTSTACK && op->arg > 1) ||
	    (op->code == OP_STACK && op->arg > STACK_STRADDLE))
		return 0;
	if ((op->code == OP_ALTSTACK || op->code == OP_STACK) &&
	    s->tasks[self].kind != TASK_USER)
		return 0;
	if (op->code == OP_FRAME && (!in_handler || op->arg >= FRAME__COUNT))
		return 0;
	if (in_handler && (op->code == OP_FORK || op->code == OP_EXEC ||
	                   op->code == OP_WINDOW_BEGIN || op->code == OP_WINDOW_END))
		return 0;
	return 1;
}

/* Structural invariants every accepted scenario must satisfy: tasks and
 * handlers own disjoint contiguous runs of ops that cover ops[]. */
static int well_formed(const struct scenario *s)
{
	static uint8_t owned[SCN_MAX_OPS];

	if (s->ntasks < 1 || s->ntasks > SCN_MAX_TASKS || s->nops > SCN_MAX_OPS ||
	    s->nexpects > SCN_MAX_EXPECTS || s->ncpus < 1 || s->ncpus > SCN_MAX_CPUS ||
	    s->nhandlers > SCN_MAX_HANDLERS)
		return 0;
	memset(owned, 0, sizeof(owned));
	for (uint32_t t = 0; t < s->ntasks + s->nhandlers; t++) {
		int in_handler = t >= s->ntasks;
		const struct scn_handler *h = in_handler ? &s->handlers[t - s->ntasks] : NULL;
		const struct scn_task *tk = in_handler ? NULL : &s->tasks[t];
		uint32_t first = h ? h->first_op : tk->first_op;
		uint32_t nops = h ? h->nops : tk->nops;
		uint32_t self = h ? h->task : t;

		if (nops == 0 || first > s->nops || nops > s->nops - first)
			return 0;
		if (tk && (tk->cpu < 0 || (uint32_t)tk->cpu >= s->ncpus ||
		           memchr(tk->name, '\0', SCN_NAME_LEN) == NULL))
			return 0;
		if (h) {
			if (h->task >= s->ntasks || s->tasks[h->task].kind != TASK_USER ||
			    h->signo >= SIG__COUNT || h->line == 0)
				return 0;
			for (const struct scn_handler *o = s->handlers; o < h; o++)
				if (o->task == h->task && o->signo == h->signo)
					return 0;
		}
		for (uint32_t i = first; i < first + nops; i++) {
			if (owned[i]++ || !op_ok(s, i, first + nops, self, in_handler))
				return 0;
		}
	}
	for (uint32_t i = 0; i < s->nops; i++)
		if (!owned[i])
			return 0;
	for (uint32_t e = 0; e < s->nexpects; e++)
		if ((s->expects[e].policy >= NPOLS && s->expects[e].policy != SCN_POLICY_ALL) ||
		    s->expects[e].key >= KEY__COUNT || s->expects[e].cmp > CMP_GT)
			return 0;
	return 1;
}

/* ------------------------------------------------------------------ */
/* Valid input                                                         */

struct want_op {
	unsigned code, line, col, arg, arg2;
};

static void check_ops(const struct want_op *w, size_t n, int src_line)
{
	int ok = scn.nops == n;

	for (size_t i = 0; ok && i < n; i++) {
		const struct scn_op *op = &scn.ops[i];

		if (op->code != w[i].code || op->line != w[i].line || op->col != w[i].col ||
		    op->arg != w[i].arg || op->arg2 != w[i].arg2) {
			printf("  op %zu: got %s line %u col %u arg %u arg2 %u\n", i,
			       scn_op_name(op->code), (unsigned)op->line, (unsigned)op->col,
			       (unsigned)op->arg, (unsigned)op->arg2);
			ok = 0;
		}
	}
	check(ok, "ops as expected", src_line);
}

static const char full[] =
	"# every statement and op\n"                     /* 1 */
	"cpus 2\n"                                        /* 2 */
	"tick 100   # timer\n"                            /* 3 */
	"check-on-return off\n"                           /* 4 */
	"task A user cpu=1 {\n"                           /* 5 */
	"    dirty\n"                                     /* 6 */
	"    window begin\n"                              /* 7 */
	"    repeat 3 {\n"                                /* 8 */
	"        compute 5\n"                             /* 9 */
	"        repeat 2 {\n"                            /* 10 */
	"            yield\n"                             /* 11 */
	"        }\n"                                     /* 12 */
	"        spin 7\n"                                /* 13 */
	"    }\n"                                         /* 14 */
	"    fork C\n"                                    /* 15 */
	"\tipi 0 kfpu # comment\n"                        /* 16 */
	"    wake K\n"                                    /* 17 */
	"    check\n"                                     /* 18 */
	"    window end\n"                                /* 19 */
	"}\n"                                             /* 20 */
	"\n"                                              /* 21 */
	"task K kthread {\n"                              /* 22 */
	"  wait\n"                                        /* 23 */
	"  kfpu\n"                                        /* 24 */
	"  sleep 10\n"                                    /* 25 */
	"  migrate 1\n"                                   /* 26 */
	"  wake A\n"                                      /* 27 */
	"  exit\n"                                        /* 28 */
	"}\n"                                             /* 29 */
	"task C user fork {\n"                            /* 30 */
	"    exec\n"                                      /* 31 */
	"    check\n"                                     /* 32 */
	"}\n"                                             /* 33 */
	"expect linux saves=1 restores<=2 skipped_restores>=3\n"      /* 34 */
	"expect all violations=0 switches<10 kfpu_sections>0\n"       /* 35 */
	"expect eager bytes_saved=18446744073709551615 bytes_restored=0\n"; /* 36 */

static void test_full(void)
{
	static const struct want_op w[] = {
		{ OP_DIRTY, 6, 5, 0, 0 },
		{ OP_WINDOW_BEGIN, 7, 5, 0, 0 },
		{ OP_REPEAT, 8, 5, 3, 4 },
		{ OP_COMPUTE, 9, 9, 5, 0 },
		{ OP_REPEAT, 10, 9, 2, 1 },
		{ OP_YIELD, 11, 13, 0, 0 },
		{ OP_SPIN, 13, 9, 7, 0 },
		{ OP_FORK, 15, 5, 2, 0 },
		{ OP_IPI_KFPU, 16, 2, 0, 0 },
		{ OP_WAKE, 17, 5, 1, 0 },
		{ OP_CHECK, 18, 5, 0, 0 },
		{ OP_WINDOW_END, 19, 5, 0, 0 },
		{ OP_WAIT, 23, 3, 0, 0 },
		{ OP_KFPU, 24, 3, 0, 0 },
		{ OP_SLEEP, 25, 3, 10, 0 },
		{ OP_MIGRATE, 26, 3, 1, 0 },
		{ OP_WAKE, 27, 3, 0, 0 },
		{ OP_EXIT, 28, 3, 0, 0 },
		{ OP_EXEC, 31, 5, 0, 0 },
		{ OP_CHECK, 32, 5, 0, 0 },
	};
	static const struct scn_expect we[] = {
		{ 1, KEY_SAVES, CMP_EQ, 34, 1 },
		{ 1, KEY_RESTORES, CMP_LE, 34, 2 },
		{ 1, KEY_SKIPPED_RESTORES, CMP_GE, 34, 3 },
		{ SCN_POLICY_ALL, KEY_VIOLATIONS, CMP_EQ, 35, 0 },
		{ SCN_POLICY_ALL, KEY_SWITCHES, CMP_LT, 35, 10 },
		{ SCN_POLICY_ALL, KEY_KFPU_SECTIONS, CMP_GT, 35, 0 },
		{ 0, KEY_BYTES_SAVED, CMP_EQ, 36, UINT64_MAX },
		{ 0, KEY_BYTES_RESTORED, CMP_EQ, 36, 0 },
	};
	int ok = 1;

	if (!OK(full))
		return;
	CHECK(strcmp(scn.name, "t") == 0);
	CHECK(scn.ncpus == 2);
	CHECK(scn.tick == 100);
	CHECK(scn.check_on_return == 0);
	CHECK(scn.ntasks == 3);

	CHECK(strcmp(scn.tasks[0].name, "A") == 0);
	CHECK(scn.tasks[0].kind == TASK_USER && !scn.tasks[0].forked);
	CHECK(scn.tasks[0].cpu == 1 && scn.tasks[0].line == 5);
	CHECK(scn.tasks[0].first_op == 0 && scn.tasks[0].nops == 12);

	CHECK(strcmp(scn.tasks[1].name, "K") == 0);
	CHECK(scn.tasks[1].kind == TASK_KTHREAD && !scn.tasks[1].forked);
	CHECK(scn.tasks[1].cpu == 0 && scn.tasks[1].line == 22);
	CHECK(scn.tasks[1].first_op == 12 && scn.tasks[1].nops == 6);

	CHECK(strcmp(scn.tasks[2].name, "C") == 0);
	CHECK(scn.tasks[2].kind == TASK_USER && scn.tasks[2].forked);
	CHECK(scn.tasks[2].cpu == 0 && scn.tasks[2].line == 30);
	CHECK(scn.tasks[2].first_op == 18 && scn.tasks[2].nops == 2);

	check_ops(w, sizeof(w) / sizeof(w[0]), __LINE__);

	CHECK(scn.nexpects == sizeof(we) / sizeof(we[0]));
	for (size_t i = 0; i < scn.nexpects && i < sizeof(we) / sizeof(we[0]); i++) {
		const struct scn_expect *e = &scn.expects[i];

		if (e->policy != we[i].policy || e->key != we[i].key || e->cmp != we[i].cmp ||
		    e->line != we[i].line || e->value != we[i].value) {
			printf("  expect %zu: policy %u key %s cmp %u line %u value %" PRIu64 "\n",
			       i, e->policy, scn_key_name(e->key), e->cmp, (unsigned)e->line, e->value);
			ok = 0;
		}
	}
	CHECK(ok);
	CHECK(well_formed(&scn));
}

/* The worked example of docs/scenarios.md. */
static void test_doc_example(void)
{
	static const char text[] =
		"# A task sleeps; the CPU idles; the task wakes on the same CPU.\n"
		"cpus 1\n"
		"task A user {\n"
		"    dirty\n"
		"    window begin\n"
		"    sleep 10\n"
		"    window end\n"
		"    check\n"
		"}\n"
		"expect linux saves=1 restores=0 skipped_restores=1\n"
		"expect eager saves=2 restores=2\n";
	static const struct want_op w[] = {
		{ OP_DIRTY, 4, 5, 0, 0 },
		{ OP_WINDOW_BEGIN, 5, 5, 0, 0 },
		{ OP_SLEEP, 6, 5, 10, 0 },
		{ OP_WINDOW_END, 7, 5, 0, 0 },
		{ OP_CHECK, 8, 5, 0, 0 },
	};

	if (!OK(text))
		return;
	CHECK(scn.ncpus == 1 && scn.tick == 0 && scn.check_on_return == 1);
	CHECK(scn.ntasks == 1 && scn.tasks[0].nops == 5 && scn.tasks[0].line == 3);
	check_ops(w, sizeof(w) / sizeof(w[0]), __LINE__);
	CHECK(scn.nexpects == 5);
	CHECK(scn.expects[0].policy == 1 && scn.expects[0].key == KEY_SAVES &&
	      scn.expects[0].value == 1 && scn.expects[0].line == 10);
	CHECK(scn.expects[2].key == KEY_SKIPPED_RESTORES && scn.expects[2].value == 1);
	CHECK(scn.expects[3].policy == 0 && scn.expects[3].key == KEY_SAVES &&
	      scn.expects[3].value == 2 && scn.expects[3].line == 11);
	CHECK(scn.expects[4].key == KEY_RESTORES && scn.expects[4].cmp == CMP_EQ);
}

/* Smaller valid cases: defaults, forward references, odd spacing. */
static void test_valid_misc(void)
{
	char err[256];

	/* 'cpus' after the task that uses cpu=; CRLF; '#' glued to a token. */
	if (OK("task A user fork cpu=3 {\r\n  dirty#x\r\n}\r\n"
	       "task B user {\r\n  fork A\r\n}\r\ncpus 4\r\n")) {
		CHECK(scn.ncpus == 4 && scn.tasks[0].cpu == 3 && scn.tasks[0].forked);
		CHECK(scn.ops[1].code == OP_FORK && scn.ops[1].arg == 0 && scn.ops[1].arg2 == 0);
		CHECK(well_formed(&scn));
	}
	/* exec: [N] [on CPU]; the CPU goes to arg2 plus one (0: none). */
	if (OK("cpus 2\ntask A user {\n exec\n exec 3\n exec on 1\n exec 4 on 0\n}\n")) {
		CHECK(scn.ops[0].arg == 0 && scn.ops[0].arg2 == 0);
		CHECK(scn.ops[1].arg == 3 && scn.ops[1].arg2 == 0);
		CHECK(scn.ops[2].arg == 0 && scn.ops[2].arg2 == 2);
		CHECK(scn.ops[3].arg == 4 && scn.ops[3].arg2 == 1);
	}
	/* fork with a sleep first: N goes to arg2, the task to arg. */
	if (OK("task A user fork {\n dirty\n}\ntask B user {\n fork A 7 # slow\n}\n")) {
		CHECK(scn.ops[1].code == OP_FORK && scn.ops[1].arg == 0 && scn.ops[1].arg2 == 7);
		CHECK(well_formed(&scn));
	}
	/* No trailing newline, zero tick, leading zeros are decimal. */
	if (OK("tick 0\ntask A kthread {\n spin 010\n}")) {
		CHECK(scn.tick == 0 && scn.ops[0].arg == 10);
		CHECK(scn.tasks[0].kind == TASK_KTHREAD);
	}
	/* Upper bounds are accepted. */
	if (OK("cpus 8\ntick 1000000\ntask A user cpu=7 {\n compute 1000000\n"
	       " repeat 1000000 {\n  sleep 1000000\n }\n ipi 7 kfpu\n}\n")) {
		CHECK(scn.ops[1].arg == 1000000 && scn.ops[1].arg2 == 1);
		CHECK(scn.ops[3].arg == 7);
	}
	/* window end in one task, begin in another (end first in the file). */
	CHECK(parse("task A user {\n window end\n}\ntask B user {\n window begin\n}\n",
	            err, sizeof(err)) == 0);
	/* Name: basename without extension, truncated. */
	CHECK(scn_parse("dir/sub/foo.bar.scn", "task A user {\n yield\n}\n", &scn,
	                pols, NPOLS, err, sizeof(err)) == 0 &&
	      strcmp(scn.name, "foo.bar") == 0);
	CHECK(scn_parse(".hidden", "task A user {\n yield\n}\n", &scn,
	                pols, NPOLS, err, sizeof(err)) == 0 &&
	      strcmp(scn.name, ".hidden") == 0);
	{
		char path[200];

		memset(path, 'x', sizeof(path) - 1);
		path[sizeof(path) - 1] = '\0';
		CHECK(scn_parse(path, "task A user {\n yield\n}\n", &scn,
		                pols, NPOLS, err, sizeof(err)) == 0 &&
		      strlen(scn.name) == sizeof(scn.name) - 1);
	}
	/* Longest allowed name; '-' and '_' in names. */
	CHECK(parse("task _abcdefghijklmnopqrstuvwxyz-123 user {\n yield\n}\n",
	            err, sizeof(err)) == 0 && strlen(scn.tasks[0].name) == 31);
	/* No policies: only 'all'. */
	CHECK(scn_parse("t.scn", "task A user {\n yield\n}\nexpect all saves=0\n",
	                &scn, NULL, 0, err, sizeof(err)) == 0);
	/* A line of exactly the maximum length is fine. */
	{
		char *text = malloc(SCN_MAX_LINE + 64);

		if (text) {
			strcpy(text, "task A user {\n yield");
			memset(text + strlen(text), ' ', SCN_MAX_LINE - 6);
			strcpy(text + 14 + SCN_MAX_LINE, "\n}\n");
			CHECK(parse(text, err, sizeof(err)) == 0);
			free(text);
		}
	}
}

/* Signals: handlers interleaved with tasks, forward references, every
 * new op. */
static const char sigs[] =
	"cpus 2\n"                                        /* 1 */
	"handler B segv {   # before B is declared\n"     /* 2 */
	"    frame corrupt reserved\n"                    /* 3 */
	"}\n"                                             /* 4 */
	"task A user {\n"                                 /* 5 */
	"    dirty\n"                                     /* 6 */
	"    altstack on\n"                               /* 7 */
	"    stack evict\n"                               /* 8 */
	"    signal A usr1\n"                             /* 9 */
	"    signal B segv\n"                             /* 10 */
	"    check\n"                                     /* 11 */
	"    altstack off\n"                              /* 12 */
	"    stack restore\n"                             /* 13 */
	"}\n"                                             /* 14 */
	"handler A usr1 {\n"                              /* 15 */
	"    check\n"                                     /* 16 */
	"    dirty\n"                                     /* 17 */
	"    repeat 2 {\n"                                /* 18 */
	"        signal A usr2\n"                         /* 19 */
	"    }\n"                                         /* 20 */
	"    frame mxcsr 0x1F80\n"                        /* 21 */
	"    frame pkru 0x55555554\n"                     /* 22 */
	"    frame dirty sse\n"                           /* 23 */
	"    frame clear avx\n"                           /* 24 */
	"    frame corrupt magic1\n"                      /* 25 */
	"    frame evict\n"                               /* 26 */
	"    wake B\n"                                    /* 27 */
	"}\n"                                             /* 28 */
	"task K kthread cpu=1 {\n"                        /* 29 */
	"\tsignal B usr2\n"                               /* 30 */
	"}\n"                                             /* 31 */
	"handler B usr2 {\n"                              /* 32 */
	"    frame dirty xtiledata\n"                     /* 33 */
	"    frame clear pkru\n"                          /* 34 */
	"    frame mxcsr 4294967295\n"                    /* 35 */
	"    frame unmap\n"                               /* 36 */
	"    stack readonly\n"                            /* 37 */
	"    stack unmap\n"                               /* 38 */
	"    altstack off\n"                              /* 39 */
	"    exit\n"                                      /* 40 */
	"}\n"                                             /* 41 */
	"handler A usr2 {\n"                              /* 42 */
	"    frame mxcsr 0\n"                             /* 43 */
	"}\n"                                             /* 44 */
	"task B user {\n"                                 /* 45 */
	"    wait\n"                                      /* 46 */
	"}\n"                                             /* 47 */
	"expect all signals=3 sigreturns<=2 sigsegv>=1 killed=0\n"; /* 48 */

static void test_signals(void)
{
	static const struct want_op w[] = {
		/* handler B segv */
		{ OP_FRAME, 3, 5, FRAME_CORRUPT_RESERVED, 0 },
		/* task A */
		{ OP_DIRTY, 6, 5, 0, 0 },
		{ OP_ALTSTACK, 7, 5, 1, 0 },
		{ OP_STACK, 8, 5, STACK_EVICT, 0 },
		{ OP_SIGNAL, 9, 5, 0, SIG_USR1 },
		{ OP_SIGNAL, 10, 5, 2, SIG_SEGV },
		{ OP_CHECK, 11, 5, 0, 0 },
		{ OP_ALTSTACK, 12, 5, 0, 0 },
		{ OP_STACK, 13, 5, STACK_RESTORE, 0 },
		/* handler A usr1 */
		{ OP_CHECK, 16, 5, 0, 0 },
		{ OP_DIRTY, 17, 5, 0, 0 },
		{ OP_REPEAT, 18, 5, 2, 1 },
		{ OP_SIGNAL, 19, 9, 0, SIG_USR2 },
		{ OP_FRAME, 21, 5, FRAME_MXCSR, 0x1f80 },
		{ OP_FRAME, 22, 5, FRAME_PKRU, 0x55555554 },
		{ OP_FRAME, 23, 5, FRAME_DIRTY, 1 },
		{ OP_FRAME, 24, 5, FRAME_CLEAR, 2 },
		{ OP_FRAME, 25, 5, FRAME_CORRUPT_MAGIC1, 0 },
		{ OP_FRAME, 26, 5, FRAME_EVICT, 0 },
		{ OP_WAKE, 27, 5, 2, 0 },
		/* task K */
		{ OP_SIGNAL, 30, 2, 2, SIG_USR2 },
		/* handler B usr2 */
		{ OP_FRAME, 33, 5, FRAME_DIRTY, 18 },
		{ OP_FRAME, 34, 5, FRAME_CLEAR, 9 },
		{ OP_FRAME, 35, 5, FRAME_MXCSR, 0xffffffffu },
		{ OP_FRAME, 36, 5, FRAME_UNMAP, 0 },
		{ OP_STACK, 37, 5, STACK_READONLY, 0 },
		{ OP_STACK, 38, 5, STACK_UNMAP, 0 },
		{ OP_ALTSTACK, 39, 5, 0, 0 },
		{ OP_EXIT, 40, 5, 0, 0 },
		/* handler A usr2 */
		{ OP_FRAME, 43, 5, FRAME_MXCSR, 0 },
		/* task B */
		{ OP_WAIT, 46, 5, 0, 0 },
	};
	static const struct scn_handler wh[] = {
		{ 2, SIG_SEGV, 0, 1, 2 },
		{ 0, SIG_USR1, 9, 11, 15 },
		{ 2, SIG_USR2, 21, 8, 32 },
		{ 0, SIG_USR2, 29, 1, 42 },
	};
	int ok = 1;

	if (!OK(sigs))
		return;
	CHECK(scn.ntasks == 3 && scn.nhandlers == 4);
	CHECK(strcmp(scn.tasks[0].name, "A") == 0 && scn.tasks[0].first_op == 1 &&
	      scn.tasks[0].nops == 8);
	CHECK(strcmp(scn.tasks[1].name, "K") == 0 && scn.tasks[1].first_op == 20 &&
	      scn.tasks[1].nops == 1 && scn.tasks[1].cpu == 1);
	CHECK(strcmp(scn.tasks[2].name, "B") == 0 && scn.tasks[2].first_op == 30 &&
	      scn.tasks[2].nops == 1 && scn.tasks[2].line == 45);
	check_ops(w, sizeof(w) / sizeof(w[0]), __LINE__);
	for (size_t i = 0; i < scn.nhandlers && i < sizeof(wh) / sizeof(wh[0]); i++) {
		const struct scn_handler *h = &scn.handlers[i];

		if (h->task != wh[i].task || h->signo != wh[i].signo ||
		    h->first_op != wh[i].first_op || h->nops != wh[i].nops ||
		    h->line != wh[i].line) {
			printf("  handler %zu: task %u signo %u first_op %u nops %u line %u\n", i,
			       (unsigned)h->task, (unsigned)h->signo, (unsigned)h->first_op,
			       (unsigned)h->nops, (unsigned)h->line);
			ok = 0;
		}
	}
	CHECK(ok);
	CHECK(scn.nexpects == 4);
	CHECK(scn.expects[0].key == KEY_SIGNALS && scn.expects[0].value == 3 &&
	      scn.expects[0].cmp == CMP_EQ && scn.expects[0].line == 48);
	CHECK(scn.expects[1].key == KEY_SIGRETURNS && scn.expects[1].cmp == CMP_LE);
	CHECK(scn.expects[2].key == KEY_SIGSEGV && scn.expects[2].cmp == CMP_GE);
	CHECK(scn.expects[3].key == KEY_KILLED && scn.expects[3].value == 0);
	CHECK(well_formed(&scn));
}

/* The signals example of docs/scenarios.md. */
static void test_signal_doc_example(void)
{
	static const char text[] =
		"cpus 1\n"
		"task A user {\n"
		"    dirty\n"
		"    signal A usr1\n"
		"    check          # after the handler: A's state with XMM from the handler's edit\n"
		"}\n"
		"handler A usr1 {\n"
		"    check          # init state\n"
		"    dirty\n"
		"    frame dirty sse\n"
		"    frame clear avx\n"
		"}\n"
		"expect all signals=1 sigreturns=1 violations=0\n";
	static const struct want_op w[] = {
		{ OP_DIRTY, 3, 5, 0, 0 },
		{ OP_SIGNAL, 4, 5, 0, SIG_USR1 },
		{ OP_CHECK, 5, 5, 0, 0 },
		{ OP_CHECK, 8, 5, 0, 0 },
		{ OP_DIRTY, 9, 5, 0, 0 },
		{ OP_FRAME, 10, 5, FRAME_DIRTY, 1 },
		{ OP_FRAME, 11, 5, FRAME_CLEAR, 2 },
	};

	if (!OK(text))
		return;
	CHECK(scn.ntasks == 1 && scn.tasks[0].nops == 3);
	CHECK(scn.nhandlers == 1 && scn.handlers[0].task == 0 &&
	      scn.handlers[0].signo == SIG_USR1 && scn.handlers[0].first_op == 3 &&
	      scn.handlers[0].nops == 4 && scn.handlers[0].line == 7);
	check_ops(w, sizeof(w) / sizeof(w[0]), __LINE__);
	CHECK(scn.nexpects == 3 && scn.expects[0].key == KEY_SIGNALS &&
	      scn.expects[1].key == KEY_SIGRETURNS && scn.expects[2].key == KEY_VIOLATIONS);
}

/* Every keyword argument compiles to its value. */
static void test_signal_words(void)
{
	static const struct { const char *op; uint32_t arg, arg2; } cases[] = {
		{ "frame dirty x87", FRAME_DIRTY, 0 },
		{ "frame dirty sse", FRAME_DIRTY, 1 },
		{ "frame dirty avx", FRAME_DIRTY, 2 },
		{ "frame dirty bndregs", FRAME_DIRTY, 3 },
		{ "frame dirty bndcsr", FRAME_DIRTY, 4 },
		{ "frame dirty opmask", FRAME_DIRTY, 5 },
		{ "frame dirty zmm_hi256", FRAME_DIRTY, 6 },
		{ "frame dirty hi16_zmm", FRAME_DIRTY, 7 },
		{ "frame dirty pkru", FRAME_DIRTY, 9 },
		{ "frame dirty xtilecfg", FRAME_DIRTY, 17 },
		{ "frame clear xtiledata", FRAME_CLEAR, 18 },
		{ "frame clear x87", FRAME_CLEAR, 0 },
		{ "frame corrupt magic1", FRAME_CORRUPT_MAGIC1, 0 },
		{ "frame corrupt magic2", FRAME_CORRUPT_MAGIC2, 0 },
		{ "frame corrupt xstate_size", FRAME_CORRUPT_XSTATE_SIZE, 0 },
		{ "frame corrupt extended_size", FRAME_CORRUPT_EXTENDED_SIZE, 0 },
		{ "frame corrupt xcomp_bv", FRAME_CORRUPT_XCOMP_BV, 0 },
		{ "frame corrupt reserved", FRAME_CORRUPT_RESERVED, 0 },
		{ "frame corrupt xstate_bv", FRAME_CORRUPT_XSTATE_BV, 0 },
		{ "frame evict", FRAME_EVICT, 0 },
		{ "frame unmap", FRAME_UNMAP, 0 },
		{ "frame misalign 8", FRAME_MISALIGN, 8 },
		{ "frame misalign 1", FRAME_MISALIGN, 1 },
		{ "frame misalign 63", FRAME_MISALIGN, 63 },
		{ "frame mxcsr 8064", FRAME_MXCSR, 0x1f80 },
		{ "frame mxcsr 0x00000ffff", FRAME_MXCSR, 0xffff },
		{ "frame pkru 0XfFfFfFfF", FRAME_PKRU, 0xffffffffu },
		{ "frame pkru 0", FRAME_PKRU, 0 },
		{ "stack evict", STACK_EVICT, 0 },
		{ "stack readonly", STACK_READONLY, 0 },
		{ "stack unmap", STACK_UNMAP, 0 },
		{ "stack restore", STACK_RESTORE, 0 },
		{ "stack straddle", STACK_STRADDLE, 0 },
		{ "altstack on", 1, 0 },
		{ "altstack off", 0, 0 },
		{ "signal A usr1", 0, SIG_USR1 },
		{ "signal A usr2", 0, SIG_USR2 },
		{ "signal A segv", 0, SIG_SEGV },
	};
	char text[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(text, sizeof(text),
		         "task A user {\n yield\n}\nhandler A usr1 {\n %s\n}\n", cases[i].op);
		if (!OK(text)) {
			printf("  input: %s\n", cases[i].op);
			continue;
		}
		if (!CHECK(scn.nops == 2 && scn.ops[1].arg == cases[i].arg &&
		           scn.ops[1].arg2 == cases[i].arg2))
			printf("  %s: arg %u arg2 %u\n", cases[i].op, (unsigned)scn.ops[1].arg,
			       (unsigned)scn.ops[1].arg2);
	}
	/* A kthread may send signals (to user tasks); user ops may be repeated
	 * in a handler; a handler may belong to a fork task. */
	if (OK("task K kthread {\n signal C segv\n}\ntask A user {\n fork C\n}\n"
	       "task C user fork {\n yield\n}\nhandler C segv {\n repeat 3 {\n"
	       "  compute 2\n  kfpu\n }\n}\n")) {
		CHECK(scn.ops[0].code == OP_SIGNAL && scn.ops[0].arg == 2);
		CHECK(scn.nhandlers == 1 && scn.handlers[0].task == 2 &&
		      scn.handlers[0].nops == 3 && scn.ops[3].arg2 == 2);
		CHECK(well_formed(&scn));
	}
	/* One handler per (task, signal): other pairs are fine. */
	CHECK(OK("task A user {\n yield\n}\ntask B user {\n yield\n}\n"
	         "handler A usr1 {\n yield\n}\nhandler A usr2 {\n yield\n}\n"
	         "handler B usr1 {\n yield\n}\n") && scn.nhandlers == 3);
}

static void test_names(void)
{
	CHECK(strcmp(scn_op_name(OP_DIRTY), "dirty") == 0);
	CHECK(strcmp(scn_op_name(OP_IPI_KFPU), "ipi") == 0);
	CHECK(strcmp(scn_op_name(OP_WINDOW_END), "window end") == 0);
	CHECK(strcmp(scn_op_name(OP__COUNT), "?") == 0);
	CHECK(strcmp(scn_key_name(KEY_SKIPPED_RESTORES), "skipped_restores") == 0);
	CHECK(strcmp(scn_key_name(KEY_KFPU_SECTIONS), "kfpu_sections") == 0);
	CHECK(strcmp(scn_key_name(KEY__COUNT), "?") == 0);
	CHECK(strcmp(scn_op_name(OP_SIGNAL), "signal") == 0);
	CHECK(strcmp(scn_op_name(OP_ALTSTACK), "altstack") == 0);
	CHECK(strcmp(scn_op_name(OP_STACK), "stack") == 0);
	CHECK(strcmp(scn_op_name(OP_FRAME), "frame") == 0);
	CHECK(strcmp(scn_key_name(KEY_SIGNALS), "signals") == 0);
	CHECK(strcmp(scn_key_name(KEY_SIGRETURNS), "sigreturns") == 0);
	CHECK(strcmp(scn_key_name(KEY_SIGSEGV), "sigsegv") == 0);
	CHECK(strcmp(scn_key_name(KEY_KILLED), "killed") == 0);
	for (unsigned i = 0; i < KEY__COUNT; i++)
		CHECK(strcmp(scn_key_name(i), "?") != 0);
	for (unsigned i = 0; i < OP__COUNT; i++)
		CHECK(strcmp(scn_op_name(i), "?") != 0);
}

/* ------------------------------------------------------------------ */
/* Bad input                                                           */

#define T1(op) "task A user {\n" op "\n}\n"   /* op on line 2 */

static void test_bad_ops(void)
{
	BAD(T1("    dirt"), 2, 5, "unknown op 'dirt'");
	BAD(T1("\tdirt"), 2, 2, "unknown op 'dirt'");
	BAD(T1("  spin"), 2, 7, "expected a number after 'spin'");
	BAD(T1("  spin   # c"), 2, 7, "expected a number after 'spin'");
	BAD(T1("  spin 0"), 2, 8, "number out of range (1..1000000)");
	BAD(T1("  exec 5 x"), 2, 10, "expected 'on CPU' after 'exec N', got 'x'");
	BAD(T1("  exec on"), 2, 10, "expected a number after 'on'");
	BAD(T1("  exec on 1"), 2, 11, "cpu 1 out of range: cpus is 1");
	BAD("task C user fork {\n dirty\n}\n" T1("  fork C 0"), 5, 10, "number out of range (1..1000000)");
	BAD("task C user fork {\n dirty\n}\n" T1("  fork C x"), 5, 10, "expected a number after 'fork', got 'x'");
	BAD(T1("  sleep 1000001"), 2, 9, "number out of range (1..1000000)");
	BAD(T1("  spin 99999999999999999999999"), 2, 8, "number out of range (1..1000000)");
	BAD(T1("  spin -5"), 2, 8, "expected a number after 'spin', got '-5'");
	BAD(T1("  spin +5"), 2, 8, "expected a number after 'spin', got '+5'");
	BAD(T1("  compute 0x10"), 2, 11, "invalid number '0x10'");
	BAD(T1("  spin 12x"), 2, 8, "invalid number '12x'");
	BAD(T1("  yield x"), 2, 9, "trailing text 'x' after 'yield'");
	BAD(T1("  spin 5 6"), 2, 10, "trailing text '6' after 'spin 5'");
	BAD(T1("  ipi 0 kfpu now"), 2, 14, "trailing text 'now' after 'ipi 0 kfpu'");
	BAD(T1("  ipi 0"), 2, 8, "expected 'kfpu', 'balance CPU' or 'steal CPU' after 'ipi 0'");
	BAD(T1("  ipi 0 kfp"), 2, 9, "expected 'kfpu', 'balance CPU' or 'steal CPU' after 'ipi 0', got 'kfp'");
	BAD(T1("  ipi 0 steal"), 2, 14, "expected a number after 'steal'");
	BAD("cpus 2\n" T1("  ipi 0 steal 2"), 3, 15, "cpu 2 out of range: cpus is 2");
	BAD(T1("  exec x"), 2, 8, "expected a number after 'exec', got 'x'");
	BAD(T1("  exec 0"), 2, 8, "number out of range (1..1000000)");
	BAD(T1("  ipi 0 balance"), 2, 16, "expected a number after 'balance'");
	BAD("cpus 2\n" T1("  ipi 0 balance 2"), 3, 17, "cpu 2 out of range: cpus is 2");
	if (CHECK(OK("cpus 3\n" T1("  ipi 2 balance 1")))) {
		CHECK(scn.ops[0].code == OP_IPI_BALANCE && scn.ops[0].arg == 2 && scn.ops[0].arg2 == 1);
	}
	BAD(T1("  ipi x kfpu"), 2, 7, "expected a number after 'ipi', got 'x'");
	BAD(T1("  migrate"), 2, 10, "expected a number after 'migrate'");
	BAD(T1("  fork"), 2, 7, "expected a task name after 'fork'");
	BAD(T1("  window"), 2, 9, "expected 'begin' or 'end' after 'window'");
	BAD(T1("  window start"), 2, 10, "expected 'begin' or 'end' after 'window', got 'start'");
	BAD(T1("  repeat 2"), 2, 11, "expected '{' after 'repeat 2'");
	BAD(T1("  repeat 2 x"), 2, 12, "expected '{' after 'repeat 2', got 'x'");
	BAD(T1("  repeat 0 {"), 2, 10, "number out of range (1..1000000)");
	BAD(T1("  repeat 2 {\n  }"), 3, 3, "empty 'repeat' block (opened at line 2)");
	BAD(T1("  repeat 2 {\n yield\n  } x"), 4, 5, "trailing text 'x' after '}'");
	BAD(T1("  cpus 2"), 2, 3, "'cpus' is not allowed inside task 'A'");
	BAD(T1("  expect all saves=1"), 2, 3, "'expect' is not allowed inside task 'A'");
	BAD(T1("  task B user {"), 2, 3, "'task' inside task 'A' (missing '}'?)");
	BAD(T1("  \x01op\xff"), 2, 3, "unknown op '\\x01op\\xff'");
}

static void test_bad_kinds(void)
{
	BAD("task K kthread {\n  compute 5\n}\n", 2, 3, "'compute' is only allowed in user tasks");
	BAD("task K kthread {\n  dirty\n}\n", 2, 3, "'dirty' is only allowed in user tasks");
	BAD("task K kthread {\n  check\n}\n", 2, 3, "'check' is only allowed in user tasks");
	BAD("task K kthread {\n  exec\n}\n", 2, 3, "'exec' is only allowed in user tasks");
	BAD("task C user fork {\n yield\n}\ntask K kthread {\n  fork C\n}\n",
	    5, 3, "'fork' is only allowed in user tasks");
	BAD("task K kthread fork {\n  yield\n}\n", 1, 16, "'fork' tasks must be user tasks");
}

static void test_bad_tasks(void)
{
	BAD("cpus 2\n", 1, 7, "no tasks declared");
	BAD("", 1, 1, "no tasks declared");
	BAD("# only a comment\n\n", 2, 1, "no tasks declared");
	BAD("\ntask A user {\n}\n", 3, 1, "task 'A' has an empty program");
	BAD("task A user {\n # nothing\n}\n", 3, 1, "task 'A' has an empty program");
	BAD("dirty\n", 1, 1, "op 'dirty' outside a task block");
	BAD("bogus 1\n", 1, 1, "unknown statement 'bogus'");
	BAD("}\n", 1, 1, "unexpected '}'");
	BAD("task A user {\n yield\n}\n}\n", 4, 1, "unexpected '}'");
	BAD("\ntask A user {\n  yield\n", 3, 8, "missing '}' for task 'A' opened at line 2");
	BAD("task A user {\n  repeat 2 {\n    yield\n}\n", 4, 2,
	    "missing '}' for task 'A' opened at line 1");
	BAD("task A user {\n  repeat 2 {\n    yield\n", 3, 10,
	    "missing '}' for 'repeat' opened at line 2");
	BAD("task A user {\n yield\n}\n\n\ntask A kthread {\n spin 1\n}\n", 6, 6,
	    "task 'A' declared twice (first at line 1)");
	BAD("task 1A user {\n yield\n}\n", 1, 6, "invalid task name '1A'");
	BAD("task A.b user {\n yield\n}\n", 1, 6, "invalid task name 'A.b'");
	BAD("task abcdefghijklmnopqrstuvwxyz012345 user {\n yield\n}\n", 1, 6,
	    "too long (max 31 characters)");
	BAD("task\n", 1, 5, "expected a task name after 'task'");
	BAD("task A\n", 1, 7, "expected 'user' or 'kthread' after task name");
	BAD("task A usr {\n", 1, 8, "unknown task kind 'usr'");
	BAD("task A user\n yield\n}\n", 1, 12, "expected '{' at end of 'task' line");
	BAD("task A user cpu=0\n", 1, 18, "expected '{' at end of 'task' line");
	BAD("task A user pin=1 {\n", 1, 13, "unknown task option 'pin=1'");
	BAD("task A user { yield\n", 1, 15, "trailing text 'yield' after 'task A user {'");
	BAD("task A user cpu= {\n", 1, 17, "expected a number after 'cpu='");
	BAD("task A user cpu=1x {\n", 1, 17, "invalid number '1x'");
	BAD("task A user cpu=0 cpu=0 {\n", 1, 19, "'cpu=' given twice");
	BAD("task A user fork fork {\n", 1, 18, "'fork' given twice");
	BAD("task A user cpu=3 {\n yield\n}\ncpus 2\n", 1, 13, "cpu 3 out of range: cpus is 2");
	BAD("task A user {\n  migrate 2\n}\n", 2, 11, "cpu 2 out of range: cpus is 1");
	BAD("cpus 4\ntask A user {\n  ipi 5 kfpu\n}\n", 3, 7, "cpu 5 out of range: cpus is 4");
	BAD("task A user {\n  fork B\n}\n", 2, 8, "unknown task 'B' in 'fork'");
	BAD("task A user {\n  wake Zed\n}\n", 2, 8, "unknown task 'Zed' in 'wake'");
	BAD("task A user {\n  fork B\n}\ntask B user {\n yield\n}\n", 2, 8,
	    "'fork' target 'B' is not declared with 'fork'");
	BAD("task A user fork {\n  fork A\n}\ntask B user {\n fork A\n}\n", 2, 8,
	    "task 'A' cannot fork itself");
	BAD("task A user {\n  wake A\n}\n", 2, 8, "task 'A' cannot wake itself");
	BAD("task A user {\n yield\n}\ntask B user fork {\n yield\n}\n", 4, 13,
	    "task 'B' is declared with 'fork' but no task forks it");
	BAD("task A user fork {\n fork B\n}\ntask B user fork {\n fork A\n}\n", 1, 1,
	    "none starts at boot");
	/* Errors found at the end are reported in file order. */
	BAD("task A user {\n  fork X\n  migrate 9\n}\n", 2, 8, "unknown task 'X'");
	BAD("task A user {\n  migrate 9\n  fork X\n}\n", 2, 11, "cpu 9 out of range");
}

static void test_bad_window(void)
{
	BAD(T1(" window begin\n window begin"), 3, 2,
	    "'window begin' given twice (first at line 2)");
	BAD("task A user {\n window end\n}\ntask B user {\n window end\n}\n", 5, 2,
	    "'window end' given twice (first at line 2)");
	BAD(T1(" window end\n window begin"), 3, 2,
	    "'window begin' after 'window end' (line 2) in the same task");
	BAD(T1(" repeat 2 {\n  window begin\n }"), 3, 3,
	    "'window begin' is not allowed inside 'repeat'");
}

static void test_bad_settings(void)
{
	BAD("cpus 2\ncpus 2\n", 2, 1, "'cpus' given twice (first at line 1)");
	BAD("cpus 0\n", 1, 6, "number out of range (1..8)");
	BAD("cpus 9\n", 1, 6, "number out of range (1..8)");
	BAD("cpus\n", 1, 5, "expected a number after 'cpus'");
	BAD("cpus 2 3\n", 1, 8, "trailing text '3' after 'cpus 2'");
	BAD("tick 1000001\n", 1, 6, "number out of range (0..1000000)");
	BAD("tick 1\ntick 2\n", 2, 1, "'tick' given twice");
	BAD("check-on-return maybe\n", 1, 17,
	    "expected 'on' or 'off' after 'check-on-return', got 'maybe'");
	BAD("check-on-return\n", 1, 16, "expected 'on' or 'off' after 'check-on-return'");
}

/* Handlers: A is a user task, K a kthread; the handler starts at line 7. */
#define TH "task A user {\n yield\n}\ntask K kthread {\n spin 1\n}\n"
#define H1(op) TH "handler A usr1 {\n" op "\n}\n"   /* op on line 8 */

static void test_bad_signals(void)
{
	/* The handler line. */
	BAD(TH "handler A usr3 {\n yield\n}\n", 7, 11,
	    "unknown signal 'usr3' (expected one of: usr1, usr2, segv)");
	BAD(TH "handler Z usr1 {\n yield\n}\n", 7, 9, "unknown task 'Z' in 'handler'");
	BAD(TH "handler K usr1 {\n yield\n}\n", 7, 9,
	    "handlers belong to user tasks: 'K' is a kthread");
	BAD(TH "handler A usr1 {\n yield\n}\n\nhandler A usr1 {\n yield\n}\n", 11, 9,
	    "handler for A usr1 declared twice (first at line 7)");
	BAD(TH "handler A usr1 {\n}\n", 8, 1, "handler for A usr1 has an empty program");
	BAD(TH "handler A usr1 {\n # nothing\n}\n", 9, 1,
	    "handler for A usr1 has an empty program");
	BAD(TH "handler\n", 7, 8, "expected a task name after 'handler'");
	BAD(TH "handler A\n", 7, 10, "expected a signal after 'handler A'");
	BAD(TH "handler A usr1\n", 7, 15, "expected '{' after 'handler A usr1'");
	BAD(TH "handler A usr1 x {\n", 7, 16, "expected '{' after 'handler A usr1', got 'x'");
	BAD(TH "handler A usr1 { yield\n", 7, 18,
	    "trailing text 'yield' after 'handler A usr1 {'");
	BAD(TH "handler A usr1 {\n yield\n", 8, 7,
	    "missing '}' for handler for A usr1 opened at line 7");
	BAD(TH "handler A usr1 {\n repeat 2 {\n  yield\n}\n", 10, 2,
	    "missing '}' for handler for A usr1 opened at line 7");
	BAD("handler A usr1 {\n yield\n}\n", 3, 2, "no tasks declared");
	/* No nesting either way. */
	BAD(T1(" handler A usr1 {"), 2, 2, "'handler' inside task 'A' (missing '}'?)");
	BAD(H1(" task B user {"), 8, 2, "'task' inside handler for A usr1 (missing '}'?)");
	BAD(H1(" handler A usr2 {"), 8, 2,
	    "'handler' inside handler for A usr1 (missing '}'?)");
	BAD(H1(" cpus 2"), 8, 2, "'cpus' is not allowed inside handler for A usr1");
	/* Ops a handler may not use, and 'frame' only in handlers. */
	BAD(H1(" exec"), 8, 2, "'exec' is not allowed in a handler");
	BAD(TH "task C user fork {\n yield\n}\nhandler A usr1 {\n fork C\n}\n", 11, 2,
	    "'fork' is not allowed in a handler");
	BAD(H1(" window begin"), 8, 2, "'window' is not allowed in a handler");
	BAD(H1(" repeat 2 {\n  window end\n }"), 9, 3, "'window' is not allowed in a handler");
	BAD(T1("  frame evict"), 2, 3, "'frame' is only allowed in a handler");
	BAD("task K kthread {\n frame unmap\n}\n", 2, 2, "'frame' is only allowed in a handler");
	BAD("frame evict\n", 1, 1, "op 'frame' outside a handler block");
	BAD("signal A usr1\n", 1, 1, "op 'signal' outside a task block");
	BAD(H1(" wake A"), 8, 7, "task 'A' cannot wake itself");
	/* frame arguments. */
	BAD(H1(" frame"), 8, 7, "expected a frame edit after 'frame'");
	BAD(H1(" frame poke"), 8, 8, "unknown frame edit 'poke' (expected one of: mxcsr, pkru, "
	    "dirty, clear, corrupt, evict, unmap, misalign)");
	BAD(H1(" frame dirty avx2"), 8, 14,
	    "unknown component 'avx2' (expected one of: x87, sse, avx, opmask, zmm_hi256, "
	    "hi16_zmm, pkru, xtilecfg, xtiledata, bndregs, bndcsr)");
	BAD(H1(" frame clear"), 8, 13, "expected a component after 'frame clear'");
	BAD(H1(" frame corrupt magic3"), 8, 16,
	    "unknown frame field 'magic3' (expected one of: magic1, magic2, xstate_size, "
	    "extended_size, xcomp_bv, reserved, xstate_bv)");
	BAD(H1(" frame corrupt"), 8, 15, "expected a frame field after 'frame corrupt'");
	BAD(H1(" frame mxcsr 0x100000000"), 8, 14, "number out of range (0..0xffffffff)");
	BAD(H1(" frame mxcsr 4294967296"), 8, 14, "number out of range (0..0xffffffff)");
	BAD(H1(" frame mxcsr 99999999999999999999999"), 8, 14,
	    "number out of range (0..0xffffffff)");
	BAD(H1(" frame mxcsr 0x1g80"), 8, 14, "invalid number '0x1g80' (decimal, or hex with 0x)");
	BAD(H1(" frame mxcsr 0x"), 8, 14, "invalid number '0x'");
	BAD(H1(" frame mxcsr 12k"), 8, 14, "invalid number '12k'");
	BAD(H1(" frame mxcsr -1"), 8, 14, "expected a number after 'frame mxcsr', got '-1'");
	BAD(H1(" frame pkru"), 8, 12, "expected a number after 'frame pkru'");
	BAD(H1(" frame evict now"), 8, 14, "trailing text 'now' after 'frame evict'");
	BAD(H1(" frame dirty sse avx"), 8, 18, "trailing text 'avx' after 'frame dirty sse'");
	BAD(H1(" frame misalign"), 8, 16, "expected a number after 'frame misalign'");
	BAD(H1(" frame misalign 0"), 8, 17, "number out of range (1..63)");
	BAD(H1(" frame misalign 64"), 8, 17, "number out of range (1..63)");
	BAD(H1(" frame misalign 0x10"), 8, 17, "invalid number '0x10' (unsigned decimal digits only)");
	BAD(H1(" frame misalign -8"), 8, 17, "expected a number after 'frame misalign', got '-8'");
	BAD(H1(" frame misalign 8 16"), 8, 19, "trailing text '16' after 'frame misalign 8'");
	BAD(T1(" frame misalign 8"), 2, 2, "'frame' is only allowed in a handler");
	/* signal, altstack, stack. */
	BAD(TH "task B user {\n signal K usr1\n}\n", 8, 9,
	    "signals go to user tasks: 'K' is a kthread");
	BAD(H1(" signal K segv"), 8, 9, "signals go to user tasks: 'K' is a kthread");
	BAD(T1(" signal Z usr1"), 2, 9, "unknown task 'Z' in 'signal'");
	BAD(T1(" signal"), 2, 8, "expected a task name after 'signal'");
	BAD(T1(" signal A"), 2, 10, "expected a signal after 'signal A'");
	BAD(T1(" signal A sigusr1"), 2, 11, "unknown signal 'sigusr1'");
	BAD(T1(" signal A usr1 usr2"), 2, 16, "trailing text 'usr2' after 'signal A usr1'");
	BAD(T1(" altstack maybe"), 2, 11, "expected 'on' or 'off' after 'altstack', got 'maybe'");
	BAD(T1(" altstack"), 2, 10, "expected 'on' or 'off' after 'altstack'");
	BAD(T1(" stack swap"), 2, 8,
	    "unknown stack mode 'swap' (expected one of: evict, readonly, unmap, restore, straddle)");
	BAD(T1(" stack"), 2, 7, "expected a stack mode after 'stack'");
	BAD(T1(" stack straddle 4096"), 2, 17, "trailing text '4096' after 'stack straddle'");
	BAD(T1(" stack Straddle"), 2, 8,
	    "unknown stack mode 'Straddle' (expected one of: evict, readonly, unmap, restore, straddle)");
	BAD("task K kthread {\n stack straddle\n}\n", 2, 2, "'stack' is only allowed in user tasks");
	BAD("task K kthread {\n altstack on\n}\n", 2, 2, "'altstack' is only allowed in user tasks");
	BAD("task K kthread {\n stack evict\n}\n", 2, 2, "'stack' is only allowed in user tasks");
	/* Resolved at the end, first error in the file wins. */
	BAD(TH "handler Z usr1 {\n signal Y usr1\n}\n", 7, 9, "unknown task 'Z' in 'handler'");
	BAD(TH "handler A usr1 {\n signal Y usr1\n}\nhandler Z usr1 {\n yield\n}\n", 8, 9,
	    "unknown task 'Y' in 'signal'");
	/* New keys are listed in the unknown-key message. */
	BAD(TH "expect all sigsegvs=1\n", 7, 12,
	    "unknown key 'sigsegvs' (expected one of: saves, restores, skipped_restores, "
	    "bytes_saved, bytes_restored, bytes_saved_full, bytes_restored_full, violations, "
	    "switches, kfpu_sections, signals, "
	    "sigreturns, sigsegv, killed, host_saves, host_restores, guest_saves, "
	    "guest_restores, exits, remote_flushes, ipis)");
}

#define TE "task A user {\n yield\n}\n"   /* expect lines start at line 4 */

/* Virtual machines: 'vm', vm=NAME, run/vget/vset/io, and their misuse. */
#define VMH "cpus 2\nvm G vcpus=2 tick=50 features=avx,opmask,zmm_hi256,hi16_zmm\n"
static void test_vms(void)
{
	if (CHECK(OK(VMH "task q user {\n dirty\n run G 1\n vget G 0\n vset G 0\n check\n}\n"
	             "task g user vm=G cpu=1 {\n dirty\n io\n migrate 0\n wake k\n}\n"
	             "task k kthread vm=G {\n wait\n io\n}\n"
	             "expect all guest_saves>=1 host_saves>=0 exits>0\n"))) {
		CHECK(scn.nvms == 1 && scn.vms[0].nvcpus == 2 && scn.vms[0].tick == 50);
		CHECK(scn.vms[0].features == (3u | 1u << 2 | 1u << 5 | 1u << 6 | 1u << 7));
		CHECK(scn.tasks[0].vm == 0 && scn.tasks[1].vm == 1 && scn.tasks[1].cpu == 1);
		CHECK(scn.ops[1].code == OP_RUN && scn.ops[1].arg == 0 && scn.ops[1].arg2 == 1);
		CHECK(scn.ops[2].code == OP_VGET && scn.ops[3].code == OP_VSET);
		CHECK(scn.expects[0].key == KEY_GUEST_SAVES && scn.expects[2].key == KEY_EXITS);
	}
	if (CHECK(OK(VMH "task q user {\n vget G 1\n vset G 1 edit # the VMM edits it\n}\n"
	             "task g user vm=G {\n io\n}\n")))
		CHECK(scn.ops[1].code == OP_VSET_EDIT && scn.ops[1].arg == 0 && scn.ops[1].arg2 == 1);
	BAD(VMH "task q user {\n vget G 0\n vset G 0 edti\n}\n", 5, 11,
	    "expected 'edit' or the end of the line after 'vset G 0', got 'edti'");
	BAD(VMH "task q user {\n vget G 0\n vset G 0 edit now\n}\n", 5, 16,
	    "trailing text 'now' after 'vset G 0 edit'");
	BAD(VMH "task q user {\n run G 0 edit\n}\n", 4, 10, "trailing text 'edit' after 'run G 0'");
	BAD("vm G\ntask A user {\n yield\n}\n", 1, 5, "'vm G' needs vcpus=N");
	BAD("vm G vcpus=5\n", 1, 12, "number out of range (1..4)");
	BAD("vm G vcpus=1 cpus=2\n", 1, 14, "unknown VM option 'cpus=2'");
	BAD("vm G vcpus=1 features=avx,avx1024\n", 1, 27, "unknown guest feature 'avx1024'");
	BAD("vm G vcpus=1 features=pkru\n", 1, 23, "unknown guest feature 'pkru'");
	BAD("vm G vcpus=1\nvm G vcpus=1\n", 2, 4, "VM 'G' declared twice");
	BAD("vm G vcpus=1\nvm H vcpus=1\nvm I vcpus=1\n", 3, 1, "too many VMs");
	BAD("vm 9 vcpus=1\n", 1, 4, "invalid VM name '9'");
	BAD("task A user vm=G {\n yield\n}\nvm G vcpus=1\n", 1, 16,
	    "unknown VM 'G' (declare it with 'vm' before its tasks)");
	BAD(VMH "task A user vm=G vm=G {\n yield\n}\n", 3, 18, "'vm=' given twice");
	BAD(VMH "task A user vm=G cpu=2 {\n yield\n}\n", 3, 18, "cpu 2 out of range: VM G has 2 vcpus");
	BAD(VMH "task A user vm=G {\n migrate 3\n}\n", 4, 10, "cpu 3 out of range: VM G has 2 vcpus");
	BAD(VMH "task A user {\n run H 0\n}\n", 4, 6, "unknown VM 'H' in 'run'");
	BAD(VMH "task A user {\n run G 2\n}\n", 4, 8, "vcpu 2 out of range: VM G has 2");
	BAD(VMH "task A user {\n run G\n}\n", 4, 7, "expected a number after 'run'");
	BAD(VMH "task A user vm=G {\n run G 0\n}\n", 4, 2, "'run' is a VMM's call: not allowed in a guest task");
	BAD(VMH "task A kthread {\n vget G 0\n}\n", 4, 2, "'vget' is only allowed in user tasks");
	BAD(VMH "task A user {\n io\n}\n", 4, 2, "'io' exits to the VMM: only guest tasks");
	BAD(VMH "task A user {\n yield\n}\nhandler A usr1 {\n run G 0\n}\n", 7, 2,
	    "'run' is not allowed in a handler");
	BAD(VMH "task A user {\n wake B\n}\ntask B user vm=G {\n wait\n}\n", 4, 7,
	    "'wake' reaches only tasks of the same kernel: 'B' and 'A' run in different ones");
	BAD(VMH "task A user vm=G {\n signal B usr1\n}\ntask B user {\n yield\n}\n", 4, 9,
	    "'signal' reaches only tasks of the same kernel");
	BAD(VMH "task A kthread {\n yield\n}\nexpect all guest_save=1\n", 6, 12, "unknown key 'guest_save'");
}

/* Guest features must make an XCR0 that XSETBV takes (x87 and sse are implied). */
static void test_vm_features(void)
{
	if (CHECK(OK("vm G vcpus=1 features=sse\n" TE)))
		CHECK(scn.vms[0].features == 3u);
	if (CHECK(OK("vm G vcpus=1 features=\n" TE)))
		CHECK(scn.vms[0].features == 3u);
	if (CHECK(OK("vm G vcpus=1 features=xtiledata,bndcsr,xtilecfg,bndregs\n" TE)))
		CHECK(scn.vms[0].features == (3u | 1u << 3 | 1u << 4 | 1u << 17 | 1u << 18));
	if (CHECK(OK("vm G vcpus=1 features=x87,sse,avx,opmask,zmm_hi256,hi16_zmm,xtilecfg,"
	             "xtiledata\n" TE)))
		CHECK(scn.vms[0].features == (0xe7u | 1u << 17 | 1u << 18));
	/* At the first listed word of the broken group; the message repeats the list. */
	BAD("vm G vcpus=1 features=opmask\n", 1, 23,
	    "features=opmask: opmask, zmm_hi256 and hi16_zmm (AVX-512, XCR0 bits 5-7) must be "
	    "all enabled or all disabled");
	BAD("vm G vcpus=1 features=avx,zmm_hi256,hi16_zmm\n", 1, 27,
	    "features=avx,zmm_hi256,hi16_zmm: opmask, zmm_hi256 and hi16_zmm (AVX-512, XCR0 bits "
	    "5-7) must be all enabled or all disabled");
	BAD("vm G vcpus=1 features=hi16_zmm,zmm_hi256,opmask\n", 1, 23,
	    "features=hi16_zmm,zmm_hi256,opmask: opmask, zmm_hi256 and hi16_zmm (AVX-512) need "
	    "avx (XCR0 bits 5-7 require bit 2)");
	BAD("vm G vcpus=1 features=avx,bndcsr\n", 1, 27,
	    "features=avx,bndcsr: bndregs and bndcsr (MPX, XCR0 bits 3-4) must be both enabled "
	    "or both disabled");
	BAD("vm G vcpus=1 features=xtiledata\n", 1, 23,
	    "features=xtiledata: xtilecfg and xtiledata (AMX, XCR0 bits 17-18) must be both "
	    "enabled or both disabled");
	BAD("vm G tick=5 features=avx,xtilecfg vcpus=1\n", 1, 26,
	    "xtilecfg and xtiledata (AMX, XCR0 bits 17-18) must be both");
	/* Several rules broken: the first in bit order is reported. */
	BAD("vm G vcpus=1 features=xtilecfg,bndregs,opmask\n", 1, 32, "bndregs and bndcsr (MPX");
	/* A name that is unknown is reported before any rule. */
	BAD("vm G vcpus=1 features=opmask,avx512\n", 1, 30, "unknown guest feature 'avx512'");
}

/* The rules themselves, as --features uses them. */
static void test_xcr0_rules(void)
{
	uint64_t c = 99;

	CHECK(scn_xcr0_rule(1, &c) == 0 && c == 0);      /* x87 alone is a valid XCR0 */
	CHECK(scn_xcr0_rule(0x600e7, &c) == 0 && c == 0);
	CHECK(scn_xcr0_rule(0x1f, 0) == 0);
	CHECK(scn_xcr0_rule(0x206, &c) && strstr(scn_xcr0_rule(0x206, 0), "x87 must always"));
	CHECK(scn_xcr0_rule(0x5, &c) && c == 0x4 && strstr(scn_xcr0_rule(0x5, 0), "avx needs sse"));
	CHECK(scn_xcr0_rule(0x0b, &c) && c == 0x8);
	CHECK(scn_xcr0_rule(0x47, &c) && c == 0x40);
	CHECK(scn_xcr0_rule(0xe3, &c) && c == 0xe0 && strstr(scn_xcr0_rule(0xe3, 0), "need avx"));
	CHECK(scn_xcr0_rule(0x40003, &c) && c == 0x40000);
	CHECK(scn_xcr0_rule(0x20207, &c) && c == 0x20000);
}

static void test_bad_expect(void)
{
	BAD(TE "expect linux save=1\n", 4, 14,
	    "unknown key 'save' (expected one of: saves, restores, skipped_restores,");
	BAD(TE "expect lnux saves=1\n", 4, 8,
	    "unknown policy 'lnux' (expected one of: eager, linux, all)");
	BAD(TE "expect\n", 4, 7, "expected a policy name after 'expect'");
	BAD(TE "expect all\n", 4, 11, "expected KEY=VALUE after 'expect all'");
	BAD(TE "expect all saves\n", 4, 17, "expected '=', '<=', '>=', '<' or '>' after 'saves'");
	BAD(TE "expect all =1\n", 4, 12, "expected KEY=VALUE, got '=1'");
	BAD(TE "expect all saves=\n", 4, 18, "expected a number after 'saves='");
	BAD(TE "expect all saves<=x\n", 4, 19, "expected a number after 'saves<=', got 'x'");
	BAD(TE "expect all saves==1\n", 4, 18, "expected a number after 'saves=', got '=1'");
	BAD(TE "expect all saves=1x\n", 4, 18, "invalid number '1x'");
	BAD(TE "expect all saves=-1\n", 4, 18, "got '-1'");
	BAD(TE "expect all saves=18446744073709551616\n", 4, 18,
	    "number out of range (0..18446744073709551615)");
	BAD(TE "expect all saves=1 bogus\n", 4, 20, "unknown key 'bogus'");
	BAD(TE "expect all saves = 1\n", 4, 17, "expected '=', '<=', '>=', '<' or '>' after 'saves'");
}

/* ------------------------------------------------------------------ */
/* Limits                                                              */

/* Appends to a growing buffer; aborts on allocation failure. */
struct buf {
	char *s;
	size_t n, cap;
};

static void put(struct buf *b, const char *s)
{
	size_t n = strlen(s);

	if (b->n + n + 1 > b->cap) {
		b->cap = (b->n + n + 1) * 2;
		b->s = realloc(b->s, b->cap);
		if (!b->s) {
			perror("realloc");
			exit(2);
		}
	}
	memcpy(b->s + b->n, s, n + 1);
	b->n += n;
}

static void test_limits(void)
{
	struct buf b = { 0 };
	char line[128];

	/* SCN_MAX_OPS ops pass; one more fails at its own line. */
	put(&b, "task A user {\n");
	for (int i = 0; i < SCN_MAX_OPS; i++)
		put(&b, "    yield\n");
	put(&b, "}\n");
	CHECK(parse(b.s, line, sizeof(line)) == 0 && scn.nops == SCN_MAX_OPS);
	b.n -= 2;
	put(&b, "    yield\n}\n");
	BAD(b.s, SCN_MAX_OPS + 2, 5, "too many ops (max 8192)");

	/* SCN_MAX_TASKS tasks pass; one more fails. */
	b.n = 0;
	for (int i = 0; i < SCN_MAX_TASKS; i++) {
		snprintf(line, sizeof(line), "task T%d user {\n yield\n}\n", i);
		put(&b, line);
	}
	CHECK(parse(b.s, line, sizeof(line)) == 0 && scn.ntasks == SCN_MAX_TASKS);
	put(&b, "task Extra user {\n yield\n}\n");
	BAD(b.s, 3 * SCN_MAX_TASKS + 1, 1, "too many tasks (max 64)");

	/* SCN_MAX_EXPECTS pairs on one line pass; one more fails. */
	b.n = 0;
	put(&b, TE "expect all");
	for (int i = 0; i < SCN_MAX_EXPECTS; i++)
		put(&b, " saves=0");
	CHECK(parse(b.s, line, sizeof(line)) == 0 && scn.nexpects == SCN_MAX_EXPECTS);
	put(&b, " saves=0\n");
	BAD(b.s, 4, 12 + 8 * SCN_MAX_EXPECTS, "too many expectations (max 64)");

	/* SCN_MAX_HANDLERS handlers pass; one more fails. */
	b.n = 0;
	for (int i = 0; i < SCN_MAX_HANDLERS; i++) {
		snprintf(line, sizeof(line), "task T%d user {\n yield\n}\n", i);
		put(&b, line);
	}
	for (int i = 0; i < SCN_MAX_HANDLERS; i++) {
		snprintf(line, sizeof(line), "handler T%d usr1 {\n yield\n}\n", i);
		put(&b, line);
	}
	CHECK(parse(b.s, line, sizeof(line)) == 0 && scn.nhandlers == SCN_MAX_HANDLERS &&
	      scn.handlers[SCN_MAX_HANDLERS - 1].task == SCN_MAX_HANDLERS - 1);
	put(&b, "handler T0 usr2 {\n yield\n}\n");
	BAD(b.s, 6 * SCN_MAX_HANDLERS + 1, 1, "too many handlers (max 64)");

	/* Handler ops count towards SCN_MAX_OPS. */
	b.n = 0;
	put(&b, "task A user {\n");
	for (int i = 0; i < SCN_MAX_OPS - 1; i++)
		put(&b, "    yield\n");
	put(&b, "}\nhandler A segv {\n frame evict\n frame unmap\n}\n");
	BAD(b.s, SCN_MAX_OPS + 4, 2, "too many ops (max 8192)");

	/* Too deep nesting. */
	b.n = 0;
	put(&b, "task A user {\n");
	for (int i = 0; i <= SCN_MAX_REPEAT_DEPTH; i++)
		put(&b, "repeat 2 {\n");
	BAD(b.s, SCN_MAX_REPEAT_DEPTH + 2, 1, "'repeat' nested too deeply (max 8)");

	/* A line longer than SCN_MAX_LINE. */
	b.n = 0;
	put(&b, "task A user {\n yield\n}\n#");
	for (int i = 0; i < SCN_MAX_LINE; i++)
		put(&b, "x");
	put(&b, "\n");
	BAD(b.s, 4, SCN_MAX_LINE + 1, "line too long (max 4096 characters)");
	free(b.s);
}

/* ------------------------------------------------------------------ */
/* Messages, files, API edges                                          */

static void test_messages(void)
{
	char small[12], one[1];
	char huge[300];
	int r;

	/* Truncated message stays NUL-terminated. */
	memset(small, 'z', sizeof(small));
	r = parse("dirty\n", small, sizeof(small));
	CHECK(r == -1 && strlen(small) == sizeof(small) - 1 &&
	      strncmp(small, "t.scn:1:1: ", sizeof(small) - 1) == 0);
	one[0] = 'z';
	CHECK(parse("dirty\n", one, 1) == -1 && one[0] == '\0');
	CHECK(parse("dirty\n", NULL, 0) == -1);
	/* Long tokens are shortened in messages. */
	memset(huge, 'q', sizeof(huge));
	memcpy(huge, "task A user {\n", 14);
	strcpy(huge + sizeof(huge) - 4, "\n}\n");
	{
		char err[256];

		CHECK(parse(huge, err, sizeof(err)) == -1 && strstr(err, "...'") &&
		      strlen(err) < 120);
	}
	/* NULL path and NULL text. */
	{
		char err[128];

		CHECK(scn_parse(NULL, "x\n", &scn, pols, NPOLS, err, sizeof(err)) == -1 &&
		      strncmp(err, "<input>:1:1: ", 13) == 0);
		CHECK(scn_parse("t.scn", NULL, &scn, pols, NPOLS, err, sizeof(err)) == -1);
		CHECK(scn_parse("t.scn", "x", &scn, pols, 300, err, sizeof(err)) == -1);
	}
}

static void test_files(void)
{
	static const char text[] = "task A user {\n  dirty\n  che\0ck\n}\n";
	char path[] = "/tmp/test_parse_XXXXXX";
	char err[256], want[128];
	int fd = mkstemp(path);

	CHECK(scn_parse_file("/nonexistent/dir/x.scn", &scn, pols, NPOLS, err, sizeof(err)) == -1 &&
	      strcmp(err, "/nonexistent/dir/x.scn: cannot read: No such file or directory") == 0);
	CHECK(scn_parse_file("/tmp", &scn, pols, NPOLS, err, sizeof(err)) == -1 &&
	      strstr(err, "/tmp: cannot read: ") == err);
	if (!CHECK(fd >= 0))
		return;
	/* NUL bytes inside a file are an error at their column. */
	CHECK(write(fd, text, sizeof(text) - 1) == (ssize_t)(sizeof(text) - 1));
	close(fd);
	snprintf(want, sizeof(want), "%s:3:6: NUL byte in input", path);
	CHECK(scn_parse_file(path, &scn, pols, NPOLS, err, sizeof(err)) == -1 &&
	      strcmp(err, want) == 0);
	/* A good file parses. */
	{
		FILE *f = fopen(path, "wb");

		if (CHECK(f != NULL)) {
			fputs(full, f);
			fclose(f);
			CHECK(scn_parse_file(path, &scn, pols, NPOLS, err, sizeof(err)) == 0 &&
			      scn.nops == 20 && strncmp(scn.name, "test_parse_", 11) == 0);
		}
	}
	unlink(path);
}

/* ------------------------------------------------------------------ */
/* Robustness: prefixes and random mutations of valid input            */

static uint64_t rng = 0x9e3779b97f4a7c15u;

static uint32_t rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng % n);
}

/* Either an accepted, well-formed scenario or a "t.scn:L:C: ..." error. */
static int sane(const char *text)
{
	char err[200];

	memset(err, 'z', sizeof(err));
	if (parse(text, err, sizeof(err)) == 0)
		return well_formed(&scn);
	return memchr(err, '\0', sizeof(err)) && strncmp(err, "t.scn:", 6) == 0 &&
	       strstr(err, ": ") != NULL;
}

static void test_robust(int which)
{
	static const char *const words[] = {
		" ", "\n", "\t", "#", "{", "}", "=", "<=", "0", "1", "9", "-",
		"task", "user", "kthread", "fork", "cpu=", "repeat", "window",
		"begin", "end", "ipi", "kfpu", "A", "K", "C", "expect", "all",
		"saves", "cpus", "\r", "\xff", "99999999999999999999",
		"handler", "signal", "frame", "usr1", "segv", "altstack", "stack",
		"corrupt", "mxcsr", "0x", "sse", "B", "exec",
	};
	const char *base = which ? sigs : full;
	size_t n = which ? sizeof(sigs) - 1 : sizeof(full) - 1;
	char *buf = malloc(n + 1);
	char mut[4096];
	int bad = 0, accepted = 0;

	if (!CHECK(buf != NULL))
		return;
	/* Every prefix of the full example. */
	for (size_t i = 0; i <= n; i++) {
		memcpy(buf, base, i);
		buf[i] = '\0';
		bad += !sane(buf);
	}
	/* Random edits: delete a span, insert a word, or flip a byte. */
	for (int iter = 0; iter < 20000; iter++) {
		size_t len = n;

		memcpy(mut, base, n + 1);
		for (int e = 0, edits = 1 + (int)rnd(4); e < edits; e++) {
			size_t at = rnd((uint32_t)len + 1);

			switch (rnd(3)) {
			case 0: {
				size_t del = rnd(8);

				if (at + del > len)
					del = len - at;
				memmove(mut + at, mut + at + del, len - at - del + 1);
				len -= del;
				break;
			}
			case 1: {
				const char *w = words[rnd(sizeof(words) / sizeof(words[0]))];
				size_t wl = strlen(w);

				if (len + wl + 1 > sizeof(mut))
					break;
				memmove(mut + at + wl, mut + at, len - at + 1);
				memcpy(mut + at, w, wl);
				len += wl;
				break;
			}
			default:
				if (at < len)
					mut[at] = (char)(1 + rnd(255));
				break;
			}
		}
		if (sane(mut))
			accepted += parse(mut, NULL, 0) == 0;
		else
			bad++;
	}
	free(buf);
	if (bad)
		printf("  %d insane results\n", bad);
	CHECK(bad == 0);
	CHECK(accepted > 0);  /* the mutations do not all break the input */
}

int main(void)
{
	test_full();
	test_doc_example();
	test_valid_misc();
	test_signals();
	test_signal_doc_example();
	test_signal_words();
	test_names();
	test_bad_ops();
	test_bad_kinds();
	test_bad_tasks();
	test_bad_window();
	test_bad_settings();
	test_bad_signals();
	test_vms();
	test_vm_features();
	test_xcr0_rules();
	test_bad_expect();
	test_limits();
	test_messages();
	test_files();
	test_robust(0);
	test_robust(1);
	printf("%d passed, %d failed\n", passed, failed);
	return failed != 0;
}
