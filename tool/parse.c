/* SPDX-License-Identifier: MIT */
/*
 * Scenario text parser (format: docs/scenarios.md).
 *
 * One pass over the lines fills the scenario; references that may point
 * forward (task names, including the task of a 'handler' block, and CPU
 * indices checked against a later 'cpus') are kept as fixups, in source
 * order, and resolved at the end so that the first error reported is the
 * first one in the file. All state lives in a struct
 * parser on the caller's stack plus one growable fixup array.
 */
#include "parse.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__GNUC__)
#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))
#else
#define PRINTF_LIKE(f, a)
#endif

/* ------------------------------------------------------------------ */
/* Names                                                               */

static const char *const op_names[OP__COUNT] = {
	[OP_DIRTY] = "dirty",         [OP_CHECK] = "check",
	[OP_COMPUTE] = "compute",     [OP_SPIN] = "spin",
	[OP_SLEEP] = "sleep",         [OP_YIELD] = "yield",
	[OP_KFPU] = "kfpu",           [OP_IPI_KFPU] = "ipi",
	[OP_MIGRATE] = "migrate",     [OP_FORK] = "fork",
	[OP_EXEC] = "exec",           [OP_EXIT] = "exit",
	[OP_WAKE] = "wake",           [OP_WAIT] = "wait",
	[OP_WINDOW_BEGIN] = "window begin",
	[OP_WINDOW_END] = "window end",
	[OP_REPEAT] = "repeat",
	[OP_SIGNAL] = "signal",       [OP_ALTSTACK] = "altstack",
	[OP_STACK] = "stack",         [OP_FRAME] = "frame",
	[OP_RUN] = "run",             [OP_IO] = "io",
	[OP_VGET] = "vget",           [OP_VSET] = "vset",
	[OP_IPI_BALANCE] = "ipi balance",
	[OP_IPI_STEAL] = "ipi steal",
	[OP_VSET_EDIT] = "vset edit",
};

static const char *const key_names[KEY__COUNT] = {
	[KEY_SAVES] = "saves",
	[KEY_RESTORES] = "restores",
	[KEY_SKIPPED_RESTORES] = "skipped_restores",
	[KEY_BYTES_SAVED] = "bytes_saved",
	[KEY_BYTES_RESTORED] = "bytes_restored",
	[KEY_BYTES_SAVED_FULL] = "bytes_saved_full",
	[KEY_BYTES_RESTORED_FULL] = "bytes_restored_full",
	[KEY_VIOLATIONS] = "violations",
	[KEY_SWITCHES] = "switches",
	[KEY_KFPU_SECTIONS] = "kfpu_sections",
	[KEY_SIGNALS] = "signals",
	[KEY_SIGRETURNS] = "sigreturns",
	[KEY_SIGSEGV] = "sigsegv",
	[KEY_KILLED] = "killed",
	[KEY_HOST_SAVES] = "host_saves",
	[KEY_HOST_RESTORES] = "host_restores",
	[KEY_GUEST_SAVES] = "guest_saves",
	[KEY_GUEST_RESTORES] = "guest_restores",
	[KEY_EXITS] = "exits",
	[KEY_REMOTE_FLUSHES] = "remote_flushes",
	[KEY_IPIS] = "ipis",
};

const char *scn_op_name(unsigned code)
{
	return code < OP__COUNT && op_names[code] ? op_names[code] : "?";
}

const char *scn_key_name(unsigned key)
{
	return key < KEY__COUNT && key_names[key] ? key_names[key] : "?";
}

/* How an op word takes its arguments. */
enum arg_kind {
	ARG_NONE,    /* nothing */
	ARG_COUNT,   /* N in 1..SCN_MAX_COUNT */
	ARG_OPT_COUNT, /* [N], N in 1..SCN_MAX_COUNT; 0 when absent */
	ARG_IPI,     /* CPU 'kfpu' | CPU 'balance' CPU | CPU 'steal' CPU */
	ARG_CPU,     /* CPU */
	ARG_TASK,    /* task name */
	ARG_FORK,    /* task name [N]: N (arg2) in 1..SCN_MAX_COUNT; 0 when absent */
	ARG_EXEC,    /* [N] ['on' CPU]: arg as ARG_OPT_COUNT, arg2 CPU + 1 (0 when absent) */
	ARG_WINDOW,  /* begin|end */
	ARG_REPEAT,  /* N '{' */
	ARG_SIGNAL,  /* task name, signal */
	ARG_ONOFF,   /* on|off */
	ARG_STACK,   /* stack mode */
	ARG_FRAME,   /* frame edit and its operand */
	ARG_VCPU,    /* VM name, vCPU number */
};

/* Where an op may appear besides its task kind rule. */
enum op_place {
	IN_BOTH,      /* task blocks and handler blocks */
	NO_HANDLER,   /* task blocks only */
	HANDLER_ONLY, /* handler blocks only */
	HOST_ONLY,    /* task blocks of host tasks (a VMM's system calls) */
	GUEST_ONLY,   /* task blocks of guest tasks */
};

struct op_def {
	const char *word;
	uint8_t code;       /* enum op_code (window: decided by its argument) */
	uint8_t arg;        /* enum arg_kind */
	uint8_t user_only;  /* touches user FPU state or the program image */
	uint8_t place;      /* enum op_place */
};

static const struct op_def op_defs[] = {
	{ "dirty",    OP_DIRTY,        ARG_NONE,   1, IN_BOTH },
	{ "check",    OP_CHECK,        ARG_NONE,   1, IN_BOTH },
	{ "compute",  OP_COMPUTE,      ARG_COUNT,  1, IN_BOTH },
	{ "spin",     OP_SPIN,         ARG_COUNT,  0, IN_BOTH },
	{ "sleep",    OP_SLEEP,        ARG_COUNT,  0, IN_BOTH },
	{ "yield",    OP_YIELD,        ARG_NONE,   0, IN_BOTH },
	{ "kfpu",     OP_KFPU,         ARG_NONE,   0, IN_BOTH },
	{ "ipi",      OP_IPI_KFPU,     ARG_IPI,    0, IN_BOTH },
	{ "migrate",  OP_MIGRATE,      ARG_CPU,    0, IN_BOTH },
	{ "fork",     OP_FORK,         ARG_FORK,   1, NO_HANDLER },
	{ "exec",     OP_EXEC,         ARG_EXEC,   1, NO_HANDLER },
	{ "exit",     OP_EXIT,         ARG_NONE,   0, IN_BOTH },
	{ "wake",     OP_WAKE,         ARG_TASK,   0, IN_BOTH },
	{ "wait",     OP_WAIT,         ARG_NONE,   0, IN_BOTH },
	{ "window",   OP_WINDOW_BEGIN, ARG_WINDOW, 0, NO_HANDLER },
	{ "repeat",   OP_REPEAT,       ARG_REPEAT, 0, IN_BOTH },
	{ "signal",   OP_SIGNAL,       ARG_SIGNAL, 0, IN_BOTH },
	{ "altstack", OP_ALTSTACK,     ARG_ONOFF,  1, IN_BOTH },
	{ "stack",    OP_STACK,        ARG_STACK,  1, IN_BOTH },
	{ "frame",    OP_FRAME,        ARG_FRAME,  1, HANDLER_ONLY },
	{ "run",      OP_RUN,          ARG_VCPU,   1, HOST_ONLY },
	{ "vget",     OP_VGET,         ARG_VCPU,   1, HOST_ONLY },
	{ "vset",     OP_VSET,         ARG_VCPU,   1, HOST_ONLY },
	{ "io",       OP_IO,           ARG_NONE,   0, GUEST_ONLY },
};

/* A keyword argument and the value it compiles to. */
struct word_val {
	const char *word;
	uint32_t val;
};

static const struct word_val signal_words[] = {
	{ "usr1", SIG_USR1 }, { "usr2", SIG_USR2 }, { "segv", SIG_SEGV },
};

static const struct word_val stack_words[] = {
	{ "evict", STACK_EVICT }, { "readonly", STACK_READONLY },
	{ "unmap", STACK_UNMAP }, { "restore", STACK_RESTORE },
	{ "straddle", STACK_STRADDLE },
};

/* frame EDIT ...; FRAME_CORRUPT_MAGIC1 stands for the 'corrupt' family. */
static const struct word_val frame_words[] = {
	{ "mxcsr", FRAME_MXCSR }, { "pkru", FRAME_PKRU },
	{ "dirty", FRAME_DIRTY }, { "clear", FRAME_CLEAR },
	{ "corrupt", FRAME_CORRUPT_MAGIC1 },
	{ "evict", FRAME_EVICT }, { "unmap", FRAME_UNMAP },
	{ "misalign", FRAME_MISALIGN },
};

static const struct word_val corrupt_words[] = {
	{ "magic1", FRAME_CORRUPT_MAGIC1 },
	{ "magic2", FRAME_CORRUPT_MAGIC2 },
	{ "xstate_size", FRAME_CORRUPT_XSTATE_SIZE },
	{ "extended_size", FRAME_CORRUPT_EXTENDED_SIZE },
	{ "xcomp_bv", FRAME_CORRUPT_XCOMP_BV },
	{ "reserved", FRAME_CORRUPT_RESERVED },
	{ "xstate_bv", FRAME_CORRUPT_XSTATE_BV },
};

/* XSAVE components by name -> xfeature number. */
static const struct word_val component_words[] = {
	{ "x87", 0 }, { "sse", 1 }, { "avx", 2 }, { "opmask", 5 },
	{ "zmm_hi256", 6 }, { "hi16_zmm", 7 }, { "pkru", 9 },
	{ "xtilecfg", 17 }, { "xtiledata", 18 },
	{ "bndregs", 3 }, { "bndcsr", 4 },
};

#define NWORDS(a) (sizeof(a) / sizeof((a)[0]))

/* Top-level statements, recognised inside blocks only to explain the error. */
static const char *const top_words[] = {
	"cpus", "tick", "check-on-return", "expect", "vm",
};

/* ------------------------------------------------------------------ */
/* Parser state                                                        */

/* A run of non-blank bytes on one line (never contains '\n' or NUL). */
struct tok {
	const char *s;
	size_t n;
	uint32_t col;  /* 1-based; for a missing token: where it should be */
};

enum fix_kind { FIX_TASK_CPU, FIX_OP_CPU, FIX_OP_CPU2, FIX_OP_CPU2_PLUS1, FIX_OP_TASK, FIX_HANDLER_TASK };

/* A check that needs the whole file: the final 'cpus' or later tasks. */
struct fixup {
	uint8_t kind;     /* enum fix_kind */
	uint32_t index;   /* task index (FIX_TASK_CPU), handler index
	                   * (FIX_HANDLER_TASK) or op index */
	int32_t task;     /* task block the line belongs to, or -1 */
	int32_t handler;  /* handler block the line belongs to, or -1 */
	uint32_t line, col;
	uint64_t cpu;     /* FIX_*_CPU */
	struct tok name;  /* FIX_OP_TASK, FIX_HANDLER_TASK: points into the input */
};

struct parser {
	const char *path;
	struct scenario *scn;
	const char *const *policies;
	int npolicies;
	char *err;
	size_t errlen;

	/* Input and current line. */
	const char *p, *end;    /* unread input */
	const char *bol, *eol;  /* current line, newline excluded */
	const char *cur;        /* tokenizer cursor within the line */
	uint32_t line;

	/* Line of the first occurrence of each setting; 0 = not seen. */
	uint32_t cpus_line, tick_line, cor_line;

	/* Open blocks: at most one of task and handler is >= 0. */
	int task;                                /* open task index, or -1 */
	int handler;                             /* open handler index, or -1 */
	int depth;                               /* open repeats */
	uint32_t repeat_op[SCN_MAX_REPEAT_DEPTH];
	uint32_t repeat_line[SCN_MAX_REPEAT_DEPTH];

	/* The single counting window: line 0 = not seen. */
	uint32_t wbegin_line, wend_line;
	int wbegin_task, wend_task;

	/* Per task: column of its 'task' word and of its 'fork' option. */
	uint16_t task_col[SCN_MAX_TASKS];
	uint16_t fork_col[SCN_MAX_TASKS];

	/* Per handler: its TASK token as written (resolved at the end). */
	struct tok handler_name[SCN_MAX_HANDLERS];

	struct fixup *fix;
	size_t nfix, capfix;
};

/* ------------------------------------------------------------------ */
/* Messages                                                            */

#define SHOW_LEN 48

/* Copies at most ~40 bytes of s for a message, escaping control and
 * non-ASCII bytes so a fuzzed input cannot garble the terminal. */
static const char *show(const char *s, size_t n, char buf[SHOW_LEN])
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (o + 8 >= SHOW_LEN) {  /* room for "\xNN" + "..." + NUL */
			memcpy(buf + o, "...", 4);
			return buf;
		}
		if (c >= 0x20 && c < 0x7f) {
			buf[o++] = (char)c;
		} else {
			buf[o++] = '\\';
			buf[o++] = 'x';
			buf[o++] = hex[c >> 4];
			buf[o++] = hex[c & 15];
		}
	}
	buf[o] = '\0';
	return buf;
}

static const char *show_tok(const struct tok *t, char buf[SHOW_LEN])
{
	return show(t->s, t->n, buf);
}

static const char *path_of(const char *path)
{
	return path ? path : "<input>";
}

/* Writes "PATH:LINE:COL: reason" and returns -1 so callers can
 * 'return fail(...)'. Only the first error is ever written because every
 * caller stops at the first failure. */
PRINTF_LIKE(4, 5)
static int fail(struct parser *ps, uint32_t line, uint32_t col,
                const char *fmt, ...)
{
	if (ps->err && ps->errlen) {
		int n = snprintf(ps->err, ps->errlen, "%s:%" PRIu32 ":%" PRIu32 ": ",
		                 path_of(ps->path), line, col);
		if (n >= 0 && (size_t)n < ps->errlen) {
			va_list ap;
			va_start(ap, fmt);
			vsnprintf(ps->err + n, ps->errlen - (size_t)n, fmt, ap);
			va_end(ap);
		}
	}
	return -1;
}

/* Message without a position (file errors, API misuse). */
PRINTF_LIKE(4, 5)
static int fail_nopos(char *err, size_t errlen, const char *path,
                      const char *fmt, ...)
{
	if (err && errlen) {
		int n = snprintf(err, errlen, "%s: ", path_of(path));
		if (n >= 0 && (size_t)n < errlen) {
			va_list ap;
			va_start(ap, fmt);
			vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
			va_end(ap);
		}
	}
	return -1;
}

/* ------------------------------------------------------------------ */
/* Lexing                                                              */

static int is_blank(char c)
{
	/* '\r' too, so files with CRLF line ends parse the same. */
	return c == ' ' || c == '\t' || c == '\r';
}

static uint32_t col_at(const struct parser *ps, const char *c)
{
	return (uint32_t)(c - ps->bol) + 1;
}

/* Moves to the next line. Returns 1, 0 at end of input, -1 on error. */
static int next_line(struct parser *ps)
{
	const char *nl, *nul;

	if (ps->p >= ps->end)
		return 0;
	if (ps->line == UINT32_MAX)
		return fail(ps, ps->line, 1, "too many lines");
	ps->line++;
	ps->bol = ps->p;
	nl = memchr(ps->p, '\n', (size_t)(ps->end - ps->p));
	ps->eol = nl ? nl : ps->end;
	ps->p = nl ? nl + 1 : ps->end;
	ps->cur = ps->bol;
	if (ps->eol - ps->bol > SCN_MAX_LINE)
		return fail(ps, ps->line, SCN_MAX_LINE + 1,
		            "line too long (max %d characters)", SCN_MAX_LINE);
	nul = memchr(ps->bol, '\0', (size_t)(ps->eol - ps->bol));
	if (nul)
		return fail(ps, ps->line, col_at(ps, nul), "NUL byte in input");
	return 1;
}

/* Reads the next token of the current line. Returns 0 at the end of the
 * line or at a '#' comment; t->col then says where a token was wanted
 * (just after the previous one). */
static int next_tok(struct parser *ps, struct tok *t)
{
	const char *c = ps->cur;

	t->col = col_at(ps, c);
	t->s = c;
	t->n = 0;
	while (c < ps->eol && is_blank(*c))
		c++;
	if (c == ps->eol || *c == '#') {
		ps->cur = ps->eol;
		return 0;
	}
	t->s = c;
	t->col = col_at(ps, c);
	while (c < ps->eol && !is_blank(*c) && *c != '#')
		c++;
	t->n = (size_t)(c - t->s);
	ps->cur = c;
	return 1;
}

static int tok_is(const struct tok *t, const char *word)
{
	size_t n = strlen(word);

	return t->n == n && memcmp(t->s, word, n) == 0;
}

/* Fails if anything but a comment follows; `start` is where the statement
 * began, quoted in the message. */
static int expect_eol(struct parser *ps, const char *start)
{
	const char *stop = ps->cur;
	char a[SHOW_LEN], b[SHOW_LEN];
	struct tok t;

	if (!next_tok(ps, &t))
		return 0;
	return fail(ps, ps->line, t.col, "trailing text '%s' after '%s'",
	            show_tok(&t, a), show(start, (size_t)(stop - start), b));
}

/* ------------------------------------------------------------------ */
/* Numbers                                                             */

enum num_status { NUM_OK, NUM_NONE, NUM_JUNK, NUM_BIG };

/* Unsigned decimal only: no sign, no hex, no trailing junk. */
static enum num_status parse_u64(const char *s, size_t n, uint64_t *v)
{
	uint64_t x = 0;
	int big = 0;
	size_t i;

	if (n == 0 || s[0] < '0' || s[0] > '9')
		return NUM_NONE;
	for (i = 0; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
		unsigned d = (unsigned)(s[i] - '0');

		if (x > (UINT64_MAX - d) / 10)
			big = 1;
		else
			x = x * 10 + d;
	}
	if (i < n)
		return NUM_JUNK;
	if (big)
		return NUM_BIG;
	*v = x;
	return NUM_OK;
}

/* Checks token t as a number in lo..hi; `what` is what it follows. */
static int num_tok(struct parser *ps, const struct tok *t, const char *what,
                   uint64_t lo, uint64_t hi, uint64_t *v)
{
	char a[SHOW_LEN];
	uint64_t x = 0;

	if (t->n == 0)
		return fail(ps, ps->line, t->col, "expected a number after '%s'", what);
	switch (parse_u64(t->s, t->n, &x)) {
	case NUM_NONE:
		return fail(ps, ps->line, t->col,
		            "expected a number after '%s', got '%s'",
		            what, show_tok(t, a));
	case NUM_JUNK:
		return fail(ps, ps->line, t->col,
		            "invalid number '%s' (unsigned decimal digits only)",
		            show_tok(t, a));
	case NUM_BIG:
		break;
	case NUM_OK:
		if (x >= lo && x <= hi) {
			*v = x;
			return 0;
		}
		break;
	}
	return fail(ps, ps->line, t->col,
	            "number out of range (%" PRIu64 "..%" PRIu64 ")", lo, hi);
}

/* Reads the next token as a number in lo..hi. */
static int read_num(struct parser *ps, const char *what,
                    uint64_t lo, uint64_t hi, uint64_t *v, struct tok *t)
{
	next_tok(ps, t);  /* a missing token has n == 0: num_tok reports it */
	return num_tok(ps, t, what, lo, hi, v);
}

/* A 32-bit register value (frame mxcsr / frame pkru): decimal, or hex
 * with a 0x prefix. `start` is where the statement began. */
static int read_value(struct parser *ps, const char *start, uint32_t *v)
{
	const char *stop = ps->cur;
	char a[SHOW_LEN], b[SHOW_LEN];
	enum num_status st;
	uint64_t x = 0;
	struct tok t;

	next_tok(ps, &t);
	show(start, (size_t)(stop - start), b);
	if (t.n == 0)
		return fail(ps, ps->line, t.col, "expected a number after '%s'", b);
	if (t.n >= 2 && t.s[0] == '0' && (t.s[1] == 'x' || t.s[1] == 'X')) {
		int big = 0;

		st = t.n == 2 ? NUM_JUNK : NUM_OK;
		for (size_t i = 2; i < t.n && st == NUM_OK; i++) {
			char c = t.s[i];
			unsigned d;

			if (c >= '0' && c <= '9')
				d = (unsigned)(c - '0');
			else if (c >= 'a' && c <= 'f')
				d = (unsigned)(c - 'a' + 10);
			else if (c >= 'A' && c <= 'F')
				d = (unsigned)(c - 'A' + 10);
			else {
				st = NUM_JUNK;
				break;
			}
			if (x > (UINT32_MAX >> 4))
				big = 1;
			else
				x = x << 4 | d;
		}
		if (st == NUM_OK && big)
			st = NUM_BIG;
	} else {
		st = parse_u64(t.s, t.n, &x);
	}
	switch (st) {
	case NUM_NONE:
		return fail(ps, ps->line, t.col, "expected a number after '%s', got '%s'",
		            b, show_tok(&t, a));
	case NUM_JUNK:
		return fail(ps, ps->line, t.col,
		            "invalid number '%s' (decimal, or hex with 0x)", show_tok(&t, a));
	case NUM_BIG:
		break;
	case NUM_OK:
		if (x <= UINT32_MAX) {
			*v = (uint32_t)x;
			return 0;
		}
		break;
	}
	return fail(ps, ps->line, t.col, "number out of range (0..0xffffffff)");
}

/* ------------------------------------------------------------------ */
/* Keyword arguments                                                   */

static int find_word(const struct word_val *w, size_t n, const struct tok *t)
{
	for (size_t i = 0; i < n; i++)
		if (tok_is(t, w[i].word))
			return (int)i;
	return -1;
}

/* "a, b, c" into buf (always NUL-terminated). */
static const char *word_list(const struct word_val *w, size_t n,
                             char *buf, size_t size)
{
	size_t o = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n && o < size; i++) {
		int k = snprintf(buf + o, size - o, "%s%s", i ? ", " : "", w[i].word);

		if (k < 0)
			break;
		o += (size_t)k;
	}
	return buf;
}

/* Reads the next token as one of w[0..n); `what` names the kind of word
 * ("signal"), `start` is where the statement began (quoted when the word
 * is missing). */
static int read_word(struct parser *ps, const struct word_val *w, size_t n,
                     const char *what, const char *start, uint32_t *val)
{
	const char *stop = ps->cur;
	char a[SHOW_LEN], list[256];
	struct tok t;
	int i;

	if (!next_tok(ps, &t))
		return fail(ps, ps->line, t.col, "expected a %s after '%s'", what,
		            show(start, (size_t)(stop - start), a));
	i = find_word(w, n, &t);
	if (i < 0)
		return fail(ps, ps->line, t.col, "unknown %s '%s' (expected one of: %s)",
		            what, show_tok(&t, a), word_list(w, n, list, sizeof(list)));
	*val = w[i].val;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Fixups                                                              */

static struct fixup *add_fixup(struct parser *ps, enum fix_kind kind,
                               uint32_t index, const struct tok *t)
{
	struct fixup *f;

	if (ps->nfix == ps->capfix) {
		size_t cap = ps->capfix ? ps->capfix * 2 : 64;
		struct fixup *nf = realloc(ps->fix, cap * sizeof(*nf));

		if (!nf) {
			fail(ps, ps->line, t->col, "out of memory");
			return NULL;
		}
		ps->fix = nf;
		ps->capfix = cap;
	}
	f = &ps->fix[ps->nfix++];
	memset(f, 0, sizeof(*f));
	f->kind = (uint8_t)kind;
	f->index = index;
	f->task = ps->task;
	f->handler = ps->handler;
	f->line = ps->line;
	f->col = t->col;
	return f;
}

/* ------------------------------------------------------------------ */
/* Top-level statements                                                */

/* Rejects a second 'cpus' / 'tick' / 'check-on-return'. */
static int once(struct parser *ps, const struct tok *t, uint32_t *seen)
{
	char a[SHOW_LEN];

	if (*seen)
		return fail(ps, ps->line, t->col, "'%s' given twice (first at line %" PRIu32 ")",
		            show_tok(t, a), *seen);
	*seen = ps->line;
	return 0;
}

static int parse_cpus(struct parser *ps, const struct tok *kw)
{
	struct tok t;
	uint64_t v;

	if (once(ps, kw, &ps->cpus_line) ||
	    read_num(ps, "cpus", 1, SCN_MAX_CPUS, &v, &t))
		return -1;
	ps->scn->ncpus = (uint32_t)v;
	return expect_eol(ps, kw->s);
}

static int parse_tick(struct parser *ps, const struct tok *kw)
{
	struct tok t;
	uint64_t v;

	if (once(ps, kw, &ps->tick_line) ||
	    read_num(ps, "tick", 0, SCN_MAX_COUNT, &v, &t))
		return -1;
	ps->scn->tick = (uint32_t)v;
	return expect_eol(ps, kw->s);
}

static int parse_check_on_return(struct parser *ps, const struct tok *kw)
{
	char a[SHOW_LEN];
	struct tok t;

	if (once(ps, kw, &ps->cor_line))
		return -1;
	if (!next_tok(ps, &t))
		return fail(ps, ps->line, t.col,
		            "expected 'on' or 'off' after 'check-on-return'");
	if (tok_is(&t, "on"))
		ps->scn->check_on_return = 1;
	else if (tok_is(&t, "off"))
		ps->scn->check_on_return = 0;
	else
		return fail(ps, ps->line, t.col,
		            "expected 'on' or 'off' after 'check-on-return', got '%s'",
		            show_tok(&t, a));
	return expect_eol(ps, kw->s);
}

static int find_task(const struct scenario *scn, const char *s, size_t n)
{
	for (uint32_t i = 0; i < scn->ntasks; i++)
		if (strlen(scn->tasks[i].name) == n &&
		    memcmp(scn->tasks[i].name, s, n) == 0)
			return (int)i;
	return -1;
}

static int find_vm(const struct scenario *scn, const char *s, size_t n)
{
	for (uint32_t i = 0; i < scn->nvms; i++)
		if (strlen(scn->vms[i].name) == n && memcmp(scn->vms[i].name, s, n) == 0)
			return (int)i;
	return -1;
}

static int name_start(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

static int name_char(char c)
{
	return name_start(c) || (c >= '0' && c <= '9') || c == '-';
}

/* Validates a task name token: syntax, length, uniqueness. */
static int check_task_name(struct parser *ps, const struct tok *t)
{
	char a[SHOW_LEN];
	int dup;

	if (t->n == 0)
		return fail(ps, ps->line, t->col, "expected a task name after 'task'");
	for (size_t i = 0; i < t->n; i++)
		if (i == 0 ? !name_start(t->s[0]) : !name_char(t->s[i]))
			return fail(ps, ps->line, t->col,
			            "invalid task name '%s' (expected [A-Za-z_][A-Za-z0-9_-]*)",
			            show_tok(t, a));
	if (t->n >= SCN_NAME_LEN)
		return fail(ps, ps->line, t->col, "task name '%s' too long (max %d characters)",
		            show_tok(t, a), SCN_NAME_LEN - 1);
	dup = find_task(ps->scn, t->s, t->n);
	if (dup >= 0)
		return fail(ps, ps->line, t->col, "task '%s' declared twice (first at line %" PRIu32 ")",
		            show_tok(t, a), ps->scn->tasks[dup].line);
	return 0;
}

/* The options after the kind: [cpu=N] [fork] in any order, then '{'. */
static int parse_task_options(struct parser *ps, struct scn_task *task,
                              uint32_t index, const char *start)
{
	char a[SHOW_LEN];
	int cpu_seen = 0;
	struct tok t;

	for (;;) {
		if (!next_tok(ps, &t))
			return fail(ps, ps->line, t.col, "expected '{' at end of 'task' line");
		if (tok_is(&t, "{"))
			return expect_eol(ps, start);
		if (tok_is(&t, "fork")) {
			if (task->forked)
				return fail(ps, ps->line, t.col, "'fork' given twice");
			if (task->kind != TASK_USER)
				return fail(ps, ps->line, t.col, "'fork' tasks must be user tasks");
			task->forked = 1;
			ps->fork_col[index] = (uint16_t)t.col;
		} else if (t.n >= 3 && memcmp(t.s, "vm=", 3) == 0) {
			struct tok nm = { t.s + 3, t.n - 3, t.col + 3 };
			int vm = find_vm(ps->scn, nm.s, nm.n);

			if (task->vm)
				return fail(ps, ps->line, t.col, "'vm=' given twice");
			if (vm < 0)
				return fail(ps, ps->line, nm.col,
				            "unknown VM '%s' (declare it with 'vm' before its tasks)",
				            show_tok(&nm, a));
			task->vm = (uint8_t)(vm + 1);
		} else if (t.n >= 4 && memcmp(t.s, "cpu=", 4) == 0) {
			struct tok num = { t.s + 4, t.n - 4, t.col + 4 };
			struct fixup *f;
			uint64_t v;

			if (cpu_seen)
				return fail(ps, ps->line, t.col, "'cpu=' given twice");
			cpu_seen = 1;
			if (num_tok(ps, &num, "cpu=", 0, UINT64_MAX, &v))
				return -1;
			f = add_fixup(ps, FIX_TASK_CPU, index, &t);
			if (!f)
				return -1;
			f->cpu = v;
		} else {
			return fail(ps, ps->line, t.col,
			            "unknown task option '%s' (expected cpu=N, vm=NAME, fork or '{')",
			            show_tok(&t, a));
		}
	}
}

/* task NAME user|kthread [cpu=N] [fork] { */
static int parse_task(struct parser *ps, const struct tok *kw)
{
	struct scenario *scn = ps->scn;
	struct scn_task *task;
	char a[SHOW_LEN];
	uint32_t index = scn->ntasks;
	struct tok name, kind;

	if (scn->ntasks >= SCN_MAX_TASKS)
		return fail(ps, ps->line, kw->col, "too many tasks (max %d)", SCN_MAX_TASKS);
	next_tok(ps, &name);
	if (check_task_name(ps, &name))
		return -1;
	task = &scn->tasks[index];
	memcpy(task->name, name.s, name.n);
	task->name[name.n] = '\0';
	task->line = ps->line;
	task->first_op = scn->nops;
	ps->task_col[index] = (uint16_t)kw->col;

	if (!next_tok(ps, &kind))
		return fail(ps, ps->line, kind.col, "expected 'user' or 'kthread' after task name");
	if (tok_is(&kind, "user"))
		task->kind = TASK_USER;
	else if (tok_is(&kind, "kthread"))
		task->kind = TASK_KTHREAD;
	else
		return fail(ps, ps->line, kind.col,
		            "unknown task kind '%s' (expected 'user' or 'kthread')",
		            show_tok(&kind, a));

	/* Counted before the options so fixups carry a valid task index. */
	scn->ntasks++;
	ps->task = (int)index;
	return parse_task_options(ps, task, index, kw->s);
}

/* XCR0 bits by number, as in component_words. */
#define XBIT(n) (1ull << (n))
#define X_MPX    (XBIT(3) | XBIT(4))
#define X_AVX512 (XBIT(5) | XBIT(6) | XBIT(7))
#define X_AMX    (XBIT(17) | XBIT(18))

/* Component groups XSETBV takes only whole (#GP otherwise): SDM vol. 1, 13.3. */
static int partial(uint64_t mask, uint64_t group)
{
	return (mask & group) && (mask & group) != group;
}

const char *scn_xcr0_rule(uint64_t mask, uint64_t *culprit)
{
	uint64_t dummy;

	if (!culprit)
		culprit = &dummy;
	*culprit = 0;
	if (!(mask & XBIT(0)))
		return "x87 must always be enabled (XCR0 bit 0)";
	if ((mask & XBIT(2)) && !(mask & XBIT(1))) {
		*culprit = XBIT(2);
		return "avx needs sse (XCR0 bit 2 requires bit 1)";
	}
	if (partial(mask, X_MPX)) {
		*culprit = mask & X_MPX;
		return "bndregs and bndcsr (MPX, XCR0 bits 3-4) must be both enabled or both disabled";
	}
	if (partial(mask, X_AVX512)) {
		*culprit = mask & X_AVX512;
		return "opmask, zmm_hi256 and hi16_zmm (AVX-512, XCR0 bits 5-7) must be all enabled "
		       "or all disabled";
	}
	if ((mask & X_AVX512) && !(mask & XBIT(2))) {
		*culprit = X_AVX512;
		return "opmask, zmm_hi256 and hi16_zmm (AVX-512) need avx (XCR0 bits 5-7 require bit 2)";
	}
	if (partial(mask, X_AMX)) {
		*culprit = mask & X_AMX;
		return "xtilecfg and xtiledata (AMX, XCR0 bits 17-18) must be both enabled or both "
		       "disabled";
	}
	return 0;
}

/* features=a,b,c: XSAVE components by name (x87 and sse are always in). The
 * result must be an XCR0 that XSETBV would take. */
static int vm_features(struct parser *ps, const struct tok *t, uint64_t *mask)
{
	char a[SHOW_LEN];
	const char *p = t->s, *end = t->s + t->n, *rule;
	uint32_t col[64] = { 0 };
	uint64_t culprit;

	*mask = 3;
	while (p < end) {
		const char *q = p;
		struct tok w;
		int i;

		while (q < end && *q != ',')
			q++;
		w = (struct tok){ p, (size_t)(q - p), t->col + (uint32_t)(p - t->s) };
		i = find_word(component_words, NWORDS(component_words), &w);
		if (i < 0 || component_words[i].val == 9)
			return fail(ps, ps->line, w.col, "unknown guest feature '%s' (expected x87, sse, "
			            "avx, opmask, zmm_hi256, hi16_zmm, xtilecfg, xtiledata, bndregs or "
			            "bndcsr; PKRU follows the host)", show_tok(&w, a));
		*mask |= 1ull << component_words[i].val;
		if (!col[component_words[i].val])
			col[component_words[i].val] = w.col;
		p = q + (q < end);
	}
	rule = scn_xcr0_rule(*mask, &culprit);
	if (rule) {
		/* At the first word the rule is about. */
		uint32_t at = 0;

		for (unsigned b = 0; b < 64; b++)
			if ((culprit & XBIT(b)) && col[b] && (!at || col[b] < at))
				at = col[b];
		return fail(ps, ps->line, at ? at : t->col, "features=%s: %s", show_tok(t, a), rule);
	}
	return 0;
}

/* vm NAME vcpus=N [tick=N] [features=LIST] */
static int parse_vm(struct parser *ps, const struct tok *kw)
{
	struct scenario *scn = ps->scn;
	struct scn_vm *vm;
	char a[SHOW_LEN];
	struct tok name, t;
	int vcpus_seen = 0;

	if (scn->nvms >= SCN_MAX_VMS)
		return fail(ps, ps->line, kw->col, "too many VMs (max %d)", SCN_MAX_VMS);
	next_tok(ps, &name);
	if (name.n == 0)
		return fail(ps, ps->line, name.col, "expected a VM name after 'vm'");
	for (size_t i = 0; i < name.n; i++)
		if (i == 0 ? !name_start(name.s[0]) : !name_char(name.s[i]))
			return fail(ps, ps->line, name.col,
			            "invalid VM name '%s' (expected [A-Za-z_][A-Za-z0-9_-]*)",
			            show_tok(&name, a));
	if (name.n >= SCN_NAME_LEN)
		return fail(ps, ps->line, name.col, "VM name '%s' too long (max %d characters)",
		            show_tok(&name, a), SCN_NAME_LEN - 1);
	if (find_vm(scn, name.s, name.n) >= 0)
		return fail(ps, ps->line, name.col, "VM '%s' declared twice", show_tok(&name, a));
	vm = &scn->vms[scn->nvms];
	memset(vm, 0, sizeof(*vm));
	memcpy(vm->name, name.s, name.n);
	vm->line = ps->line;
	while (next_tok(ps, &t)) {
		const char *eq = memchr(t.s, '=', t.n);
		struct tok key = { t.s, eq ? (size_t)(eq - t.s) : t.n, t.col };
		struct tok val = { eq ? eq + 1 : t.s + t.n, eq ? t.n - key.n - 1 : 0,
		                   t.col + (uint32_t)key.n + 1 };
		uint64_t v;

		if (eq && tok_is(&key, "vcpus")) {
			if (vcpus_seen++)
				return fail(ps, ps->line, t.col, "'vcpus=' given twice");
			if (num_tok(ps, &val, "vcpus=", 1, SCN_MAX_VCPUS, &v))
				return -1;
			vm->nvcpus = (uint32_t)v;
		} else if (eq && tok_is(&key, "tick")) {
			if (num_tok(ps, &val, "tick=", 1, SCN_MAX_COUNT, &v))
				return -1;
			vm->tick = (uint32_t)v;
		} else if (eq && tok_is(&key, "features")) {
			if (vm_features(ps, &val, &vm->features))
				return -1;
		} else {
			return fail(ps, ps->line, t.col,
			            "unknown VM option '%s' (expected vcpus=N, tick=N or features=LIST)",
			            show_tok(&t, a));
		}
	}
	if (!vcpus_seen)
		return fail(ps, ps->line, t.col, "'vm %s' needs vcpus=N", vm->name);
	scn->nvms++;
	return 0;
}

#define DESC_LEN (SHOW_LEN + 32)

/* "handler for TASK SIGNAL", TASK as written. */
static const char *handler_desc(const struct parser *ps, uint32_t index,
                                char buf[DESC_LEN])
{
	char a[SHOW_LEN];

	snprintf(buf, DESC_LEN, "handler for %s %s",
	         show_tok(&ps->handler_name[index], a),
	         signal_words[ps->scn->handlers[index].signo].word);
	return buf;
}

/* The open block, for messages: "task 'A'" or "handler for A usr1". */
static const char *block_desc(const struct parser *ps, char buf[DESC_LEN])
{
	if (ps->handler >= 0)
		return handler_desc(ps, (uint32_t)ps->handler, buf);
	snprintf(buf, DESC_LEN, "task '%s'", ps->scn->tasks[ps->task].name);
	return buf;
}

/* handler TASK SIGNAL {  -- TASK is resolved at the end of the file. */
static int parse_handler(struct parser *ps, const struct tok *kw)
{
	struct scenario *scn = ps->scn;
	uint32_t index = scn->nhandlers, sig;
	char a[SHOW_LEN], b[SHOW_LEN];
	struct scn_handler *h;
	struct tok name, t;
	struct fixup *f;
	const char *stop;

	if (index >= SCN_MAX_HANDLERS)
		return fail(ps, ps->line, kw->col, "too many handlers (max %d)",
		            SCN_MAX_HANDLERS);
	if (!next_tok(ps, &name))
		return fail(ps, ps->line, name.col, "expected a task name after 'handler'");
	if (read_word(ps, signal_words, NWORDS(signal_words), "signal", kw->s, &sig))
		return -1;
	for (uint32_t i = 0; i < index; i++) {
		const struct tok *o = &ps->handler_name[i];

		if (scn->handlers[i].signo == sig && o->n == name.n &&
		    memcmp(o->s, name.s, name.n) == 0)
			return fail(ps, ps->line, name.col,
			            "handler for %s %s declared twice (first at line %" PRIu32 ")",
			            show_tok(&name, a), signal_words[sig].word,
			            scn->handlers[i].line);
	}
	stop = ps->cur;
	if (!next_tok(ps, &t) || !tok_is(&t, "{"))
		return fail(ps, ps->line, t.col, "expected '{' after '%s'%s%s%s",
		            show(kw->s, (size_t)(stop - kw->s), b),
		            t.n ? ", got '" : "", t.n ? show_tok(&t, a) : "", t.n ? "'" : "");
	if (expect_eol(ps, kw->s))
		return -1;
	f = add_fixup(ps, FIX_HANDLER_TASK, index, &name);
	if (!f)
		return -1;
	f->name = name;
	h = &scn->handlers[index];
	h->signo = (uint8_t)sig;
	h->first_op = scn->nops;
	h->line = ps->line;
	ps->handler_name[index] = name;
	scn->nhandlers++;
	ps->handler = (int)index;
	return 0;
}

/* Appends the ", "-separated list of valid policies to buf. */
static void policy_list(const struct parser *ps, char *buf, size_t size)
{
	size_t o = 0;

	buf[0] = '\0';
	for (int i = 0; i <= ps->npolicies && o < size; i++) {
		const char *name = i < ps->npolicies ? ps->policies[i] : "all";
		int n = snprintf(buf + o, size - o, "%s%s", i ? ", " : "",
		                 name ? name : "?");
		if (n < 0)
			break;
		o += (size_t)n;
	}
}

static int find_policy(const struct parser *ps, const struct tok *t)
{
	if (tok_is(t, "all"))
		return SCN_POLICY_ALL;
	for (int i = 0; i < ps->npolicies; i++)
		if (ps->policies[i] && tok_is(t, ps->policies[i]))
			return i;
	return -1;
}

static int find_key(const char *s, size_t n)
{
	for (int k = 0; k < KEY__COUNT; k++)
		if (strlen(key_names[k]) == n && memcmp(key_names[k], s, n) == 0)
			return k;
	return -1;
}

static int cmp_char(char c)
{
	return c == '<' || c == '>' || c == '=';
}

/* Reads the comparator at s[0..n), returning its length (0 if none). */
static size_t parse_cmp(const char *s, size_t n, uint8_t *cmp)
{
	int eq2 = n >= 2 && s[1] == '=';

	if (n == 0)
		return 0;
	switch (s[0]) {
	case '=': *cmp = CMP_EQ; return 1;
	case '<': *cmp = eq2 ? CMP_LE : CMP_LT; return eq2 ? 2 : 1;
	case '>': *cmp = eq2 ? CMP_GE : CMP_GT; return eq2 ? 2 : 1;
	default: return 0;
	}
}

/* One KEY=VALUE (or <=, >=, <, >) token into e. */
static int parse_pair(struct parser *ps, const struct tok *t, struct scn_expect *e)
{
	char a[SHOW_LEN], what[SHOW_LEN], list[512];
	size_t k = 0, c;
	struct tok num;
	int key;

	while (k < t->n && !cmp_char(t->s[k]))
		k++;
	if (k == 0)
		return fail(ps, ps->line, t->col, "expected KEY=VALUE, got '%s'",
		            show_tok(t, a));
	key = find_key(t->s, k);
	if (key < 0) {
		size_t o = 0;

		for (int i = 0; i < KEY__COUNT && o < sizeof(list); i++) {
			int n = snprintf(list + o, sizeof(list) - o, "%s%s",
			                 i ? ", " : "", key_names[i]);
			if (n < 0)
				break;
			o += (size_t)n;
		}
		return fail(ps, ps->line, t->col, "unknown key '%s' (expected one of: %s)",
		            show(t->s, k, a), list);
	}
	c = parse_cmp(t->s + k, t->n - k, &e->cmp);
	if (c == 0)
		return fail(ps, ps->line, t->col + (uint32_t)k,
		            "expected '=', '<=', '>=', '<' or '>' after '%s'",
		            key_names[key]);
	e->key = (uint8_t)key;
	e->line = ps->line;
	num.s = t->s + k + c;
	num.n = t->n - k - c;
	num.col = t->col + (uint32_t)(k + c);
	show(t->s, k + c, what);
	return num_tok(ps, &num, what, 0, UINT64_MAX, &e->value);
}

/* expect POLICY KEY=VALUE [KEY=VALUE ...] */
static int parse_expect(struct parser *ps)
{
	struct scenario *scn = ps->scn;
	char a[SHOW_LEN], list[512];
	struct tok pol, t;
	int policy, npairs = 0;

	if (!next_tok(ps, &pol))
		return fail(ps, ps->line, pol.col, "expected a policy name after 'expect'");
	policy = find_policy(ps, &pol);
	if (policy < 0) {
		policy_list(ps, list, sizeof(list));
		return fail(ps, ps->line, pol.col, "unknown policy '%s' (expected one of: %s)",
		            show_tok(&pol, a), list);
	}
	while (next_tok(ps, &t)) {
		struct scn_expect *e;

		if (scn->nexpects >= SCN_MAX_EXPECTS)
			return fail(ps, ps->line, t.col, "too many expectations (max %d)",
			            SCN_MAX_EXPECTS);
		e = &scn->expects[scn->nexpects];
		e->policy = (uint8_t)policy;
		if (parse_pair(ps, &t, e))
			return -1;
		scn->nexpects++;
		npairs++;
	}
	if (npairs == 0)
		return fail(ps, ps->line, t.col, "expected KEY=VALUE after 'expect %s'",
		            show_tok(&pol, a));
	return 0;
}

static const struct op_def *find_op(const struct tok *t)
{
	for (size_t i = 0; i < sizeof(op_defs) / sizeof(op_defs[0]); i++)
		if (tok_is(t, op_defs[i].word))
			return &op_defs[i];
	return NULL;
}

static int is_top_word(const struct tok *t)
{
	for (size_t i = 0; i < sizeof(top_words) / sizeof(top_words[0]); i++)
		if (tok_is(t, top_words[i]))
			return 1;
	return 0;
}

static int parse_top(struct parser *ps, const struct tok *t)
{
	char a[SHOW_LEN];

	if (tok_is(t, "cpus"))
		return parse_cpus(ps, t);
	if (tok_is(t, "tick"))
		return parse_tick(ps, t);
	if (tok_is(t, "check-on-return"))
		return parse_check_on_return(ps, t);
	if (tok_is(t, "task"))
		return parse_task(ps, t);
	if (tok_is(t, "vm"))
		return parse_vm(ps, t);
	if (tok_is(t, "handler"))
		return parse_handler(ps, t);
	if (tok_is(t, "expect"))
		return parse_expect(ps);
	if (find_op(t))
		return fail(ps, ps->line, t->col, "op '%s' outside a %s block",
		            show_tok(t, a), tok_is(t, "frame") ? "handler" : "task");
	return fail(ps, ps->line, t->col, "unknown statement '%s'", show_tok(t, a));
}

/* ------------------------------------------------------------------ */
/* Ops                                                                 */

/* CPU argument of 'ipi' / 'migrate': range is checked once 'cpus' is known. */
static int op_cpu(struct parser *ps, struct scn_op *op, const char *what)
{
	struct fixup *f;
	struct tok t;
	uint64_t v;

	if (read_num(ps, what, 0, UINT64_MAX, &v, &t))
		return -1;
	f = add_fixup(ps, FIX_OP_CPU, ps->scn->nops, &t);
	if (!f)
		return -1;
	f->cpu = v;
	op->arg = 0;
	return 0;
}

/* Task name argument of 'fork' / 'wake': resolved at the end of the file. */
static int op_task(struct parser *ps, const char *what)
{
	struct fixup *f;
	struct tok t;

	if (!next_tok(ps, &t))
		return fail(ps, ps->line, t.col, "expected a task name after '%s'", what);
	f = add_fixup(ps, FIX_OP_TASK, ps->scn->nops, &t);
	if (!f)
		return -1;
	f->name = t;
	return 0;
}

/* window begin|end: one of each per file, never repeated. */
static int op_window(struct parser *ps, struct scn_op *op)
{
	char a[SHOW_LEN];
	struct tok t;
	int begin;

	if (!next_tok(ps, &t))
		return fail(ps, ps->line, t.col, "expected 'begin' or 'end' after 'window'");
	if (!tok_is(&t, "begin") && !tok_is(&t, "end"))
		return fail(ps, ps->line, t.col,
		            "expected 'begin' or 'end' after 'window', got '%s'",
		            show_tok(&t, a));
	begin = tok_is(&t, "begin");
	op->code = begin ? OP_WINDOW_BEGIN : OP_WINDOW_END;
	if (ps->depth > 0)
		return fail(ps, ps->line, op->col,
		            "'window %s' is not allowed inside 'repeat'", begin ? "begin" : "end");
	if (begin ? ps->wbegin_line : ps->wend_line)
		return fail(ps, ps->line, op->col,
		            "'window %s' given twice (first at line %" PRIu32 ")",
		            begin ? "begin" : "end", begin ? ps->wbegin_line : ps->wend_line);
	if (begin && ps->wend_line && ps->wend_task == ps->task)
		return fail(ps, ps->line, op->col,
		            "'window begin' after 'window end' (line %" PRIu32 ") in the same task",
		            ps->wend_line);
	if (begin) {
		ps->wbegin_line = ps->line;
		ps->wbegin_task = ps->task;
	} else {
		ps->wend_line = ps->line;
		ps->wend_task = ps->task;
	}
	return 0;
}

/* repeat N {  -- the block's op count (arg2) is filled in at its '}'. */
static int op_repeat(struct parser *ps, struct scn_op *op, const char *start)
{
	char a[SHOW_LEN], b[SHOW_LEN];
	const char *stop;
	struct tok t;
	uint64_t v;

	if (read_num(ps, "repeat", 1, SCN_MAX_COUNT, &v, &t))
		return -1;
	op->arg = (uint32_t)v;
	stop = ps->cur;
	if (!next_tok(ps, &t) || !tok_is(&t, "{"))
		return fail(ps, ps->line, t.col, "expected '{' after '%s'%s%s%s",
		            show(start, (size_t)(stop - start), b),
		            t.n ? ", got '" : "", t.n ? show_tok(&t, a) : "", t.n ? "'" : "");
	if (ps->depth >= SCN_MAX_REPEAT_DEPTH)
		return fail(ps, ps->line, op->col, "'repeat' nested too deeply (max %d)",
		            SCN_MAX_REPEAT_DEPTH);
	ps->repeat_op[ps->depth] = ps->scn->nops;
	ps->repeat_line[ps->depth] = ps->line;
	ps->depth++;
	return 0;
}

/* frame EDIT [OPERAND]: arg = enum scn_frame_edit, arg2 = the operand. */
static int op_frame(struct parser *ps, struct scn_op *op, const char *start)
{
	uint32_t edit;

	if (read_word(ps, frame_words, NWORDS(frame_words), "frame edit", start, &edit))
		return -1;
	switch (edit) {
	case FRAME_MXCSR:
	case FRAME_PKRU:
		if (read_value(ps, start, &op->arg2))
			return -1;
		break;
	case FRAME_DIRTY:
	case FRAME_CLEAR:
		if (read_word(ps, component_words, NWORDS(component_words), "component",
		              start, &op->arg2))
			return -1;
		break;
	case FRAME_CORRUPT_MAGIC1:  /* 'corrupt': the field picks the edit */
		if (read_word(ps, corrupt_words, NWORDS(corrupt_words), "frame field",
		              start, &edit))
			return -1;
		break;
	case FRAME_MISALIGN: {      /* bytes past a 64-byte boundary */
		struct tok t;
		uint64_t v;

		if (read_num(ps, "frame misalign", 1, 63, &v, &t))
			return -1;
		op->arg2 = (uint32_t)v;
		break;
	}
	default:
		break;
	}
	op->arg = edit;
	return 0;
}

/* VM VCPU of 'run' / 'vget' / 'vset': the VM must be declared above. */
static int op_vcpu(struct parser *ps, struct scn_op *op, const char *what)
{
	char a[SHOW_LEN];
	struct tok t;
	uint64_t v;
	int vm;

	if (!next_tok(ps, &t))
		return fail(ps, ps->line, t.col, "expected a VM name after '%s'", what);
	vm = find_vm(ps->scn, t.s, t.n);
	if (vm < 0)
		return fail(ps, ps->line, t.col, "unknown VM '%s' in '%s'", show_tok(&t, a), what);
	if (read_num(ps, what, 0, UINT64_MAX, &v, &t))
		return -1;
	if (v >= ps->scn->vms[vm].nvcpus)
		return fail(ps, ps->line, t.col, "vcpu %" PRIu64 " out of range: VM %s has %" PRIu32,
		            v, ps->scn->vms[vm].name, ps->scn->vms[vm].nvcpus);
	op->arg = (uint32_t)vm;
	op->arg2 = (uint32_t)v;
	if (op->code == OP_VSET) { /* vset VM VCPU [edit] */
		if (!next_tok(ps, &t))
			return 0;
		if (!tok_is(&t, "edit"))
			return fail(ps, ps->line, t.col, "expected 'edit' or the end of the line after "
			            "'vset %s %" PRIu64 "', got '%s'", ps->scn->vms[vm].name, v, show_tok(&t, a));
		op->code = OP_VSET_EDIT;
	}
	return 0;
}

/* Parses the arguments of op (already identified by d) per its arg kind. */
static int op_args(struct parser *ps, const struct op_def *d, struct scn_op *op,
                   const struct tok *kw)
{
	char a[SHOW_LEN], b[SHOW_LEN];
	const char *stop;
	struct tok t;
	uint64_t v;

	switch (d->arg) {
	case ARG_NONE:
		return 0;
	case ARG_OPT_COUNT:
		stop = ps->cur;
		if (!next_tok(ps, &t))
			return 0;
		ps->cur = stop;
		/* fall through */
	case ARG_COUNT:
		if (read_num(ps, d->word, 1, SCN_MAX_COUNT, &v, &t))
			return -1;
		op->arg = (uint32_t)v;
		return 0;
	case ARG_IPI:
		if (op_cpu(ps, op, d->word))
			return -1;
		stop = ps->cur;
		if (next_tok(ps, &t) && (tok_is(&t, "balance") || tok_is(&t, "steal"))) {
			struct fixup *f;
			const char *what = tok_is(&t, "balance") ? "balance" : "steal";

			op->code = tok_is(&t, "balance") ? OP_IPI_BALANCE : OP_IPI_STEAL;
			if (read_num(ps, what, 0, UINT64_MAX, &v, &t))
				return -1;
			f = add_fixup(ps, FIX_OP_CPU2, ps->scn->nops, &t);
			if (!f)
				return -1;
			f->cpu = v;
			return 0;
		}
		if (!tok_is(&t, "kfpu"))
			return fail(ps, ps->line, t.col, "expected 'kfpu', 'balance CPU' or 'steal CPU' after '%s'%s%s%s",
			            show(kw->s, (size_t)(stop - kw->s), b),
			            t.n ? ", got '" : "", t.n ? show_tok(&t, a) : "",
			            t.n ? "'" : "");
		return 0;
	case ARG_CPU:
		return op_cpu(ps, op, d->word);
	case ARG_TASK:
		return op_task(ps, d->word);
	case ARG_EXEC:
		stop = ps->cur;
		if (!next_tok(ps, &t))
			return 0;
		if (!tok_is(&t, "on")) {
			ps->cur = stop;
			if (read_num(ps, d->word, 1, SCN_MAX_COUNT, &v, &t))
				return -1;
			op->arg = (uint32_t)v;
			stop = ps->cur;
			if (!next_tok(ps, &t))
				return 0;
			if (!tok_is(&t, "on"))
				return fail(ps, ps->line, t.col, "expected 'on CPU' after 'exec N', got '%s'",
				            show_tok(&t, a));
		}
		if (read_num(ps, "on", 0, UINT64_MAX, &v, &t))
			return -1;
		{
			struct fixup *f = add_fixup(ps, FIX_OP_CPU2_PLUS1, ps->scn->nops, &t);

			if (!f)
				return -1;
			f->cpu = v;
		}
		return 0;
	case ARG_FORK:
		if (op_task(ps, d->word))
			return -1;
		stop = ps->cur;
		if (!next_tok(ps, &t))
			return 0;
		ps->cur = stop;
		if (read_num(ps, d->word, 1, SCN_MAX_COUNT, &v, &t))
			return -1;
		op->arg2 = (uint32_t)v;
		return 0;
	case ARG_WINDOW:
		return op_window(ps, op);
	case ARG_REPEAT:
		return op_repeat(ps, op, kw->s);
	case ARG_SIGNAL:
		if (op_task(ps, d->word))
			return -1;
		return read_word(ps, signal_words, NWORDS(signal_words), "signal",
		                 kw->s, &op->arg2);
	case ARG_ONOFF:
		if (!next_tok(ps, &t))
			return fail(ps, ps->line, t.col, "expected 'on' or 'off' after '%s'",
			            d->word);
		if (!tok_is(&t, "on") && !tok_is(&t, "off"))
			return fail(ps, ps->line, t.col,
			            "expected 'on' or 'off' after '%s', got '%s'",
			            d->word, show_tok(&t, a));
		op->arg = tok_is(&t, "on");
		return 0;
	case ARG_STACK:
		return read_word(ps, stack_words, NWORDS(stack_words), "stack mode",
		                 kw->s, &op->arg);
	case ARG_FRAME:
		return op_frame(ps, op, kw->s);
	case ARG_VCPU:
		return op_vcpu(ps, op, d->word);
	}
	return 0;
}

/* One op line inside a task or handler block. */
static int parse_op(struct parser *ps, const struct tok *kw)
{
	struct scenario *scn = ps->scn;
	const struct op_def *d = find_op(kw);
	int in_handler = ps->handler >= 0;
	char a[SHOW_LEN], where[DESC_LEN];
	struct scn_op *op;

	if (!d) {
		if (tok_is(kw, "task") || tok_is(kw, "handler"))
			return fail(ps, ps->line, kw->col, "'%s' inside %s (missing '}'?)",
			            show_tok(kw, a), block_desc(ps, where));
		if (is_top_word(kw))
			return fail(ps, ps->line, kw->col, "'%s' is not allowed inside %s",
			            show_tok(kw, a), block_desc(ps, where));
		{
			const char *words[sizeof(op_defs) / sizeof(op_defs[0])], *near;
			char w[SHOW_LEN];
			size_t i;

			for (i = 0; i < sizeof(op_defs) / sizeof(op_defs[0]); i++)
				words[i] = op_defs[i].word;
			snprintf(w, sizeof(w), "%.*s", (int)(kw->n < sizeof(w) ? kw->n : sizeof(w) - 1), kw->s);
			near = scn_suggest(w, words, i);
			if (near)
				return fail(ps, ps->line, kw->col, "unknown op '%s'; did you mean '%s'?",
				            show_tok(kw, a), near);
		}
		return fail(ps, ps->line, kw->col, "unknown op '%s'", show_tok(kw, a));
	}
	if (d->place == HANDLER_ONLY && !in_handler)
		return fail(ps, ps->line, kw->col, "'%s' is only allowed in a handler", d->word);
	if (d->place != IN_BOTH && d->place != HANDLER_ONLY && in_handler)
		return fail(ps, ps->line, kw->col, "'%s' is not allowed in a handler", d->word);
	if (d->place == HOST_ONLY && scn->tasks[ps->task].vm)
		return fail(ps, ps->line, kw->col, "'%s' is a VMM's call: not allowed in a guest task",
		            d->word);
	if (d->place == GUEST_ONLY && !scn->tasks[ps->task].vm)
		return fail(ps, ps->line, kw->col, "'%s' exits to the VMM: only guest tasks (vm=NAME) use it",
		            d->word);
	/* A handler runs as its task, which must be a user task (checked at
	 * the end), so user ops are fine there. */
	if (d->user_only && !in_handler && scn->tasks[ps->task].kind != TASK_USER)
		return fail(ps, ps->line, kw->col, "'%s' is only allowed in user tasks", d->word);
	if (scn->nops >= SCN_MAX_OPS)
		return fail(ps, ps->line, kw->col, "too many ops (max %d)", SCN_MAX_OPS);
	op = &scn->ops[scn->nops];
	memset(op, 0, sizeof(*op));
	op->code = d->code;
	op->line = ps->line;
	op->col = (uint16_t)kw->col;
	if (op_args(ps, d, op, kw) || expect_eol(ps, kw->s))
		return -1;
	scn->nops++;
	return 0;
}

/* '}' closes the innermost repeat, else the task or handler. */
static int close_block(struct parser *ps, const struct tok *t)
{
	struct scenario *scn = ps->scn;
	struct scn_task *task;

	if (ps->task < 0 && ps->handler < 0)
		return fail(ps, ps->line, t->col, "unexpected '}'");
	if (expect_eol(ps, t->s))
		return -1;
	if (ps->depth > 0) {
		uint32_t head = ps->repeat_op[--ps->depth];
		uint32_t n = scn->nops - head - 1;

		if (n == 0)
			return fail(ps, ps->line, t->col, "empty 'repeat' block (opened at line %" PRIu32 ")",
			            ps->repeat_line[ps->depth]);
		scn->ops[head].arg2 = n;
		return 0;
	}
	if (ps->handler >= 0) {
		struct scn_handler *h = &scn->handlers[ps->handler];
		char where[DESC_LEN];

		h->nops = scn->nops - h->first_op;
		if (h->nops == 0)
			return fail(ps, ps->line, t->col, "%s has an empty program",
			            handler_desc(ps, (uint32_t)ps->handler, where));
		ps->handler = -1;
		return 0;
	}
	task = &scn->tasks[ps->task];
	task->nops = scn->nops - task->first_op;
	if (task->nops == 0)
		return fail(ps, ps->line, t->col, "task '%s' has an empty program", task->name);
	ps->task = -1;
	return 0;
}

static int parse_line(struct parser *ps)
{
	struct tok t;

	if (!next_tok(ps, &t))
		return 0;  /* blank or comment */
	if (tok_is(&t, "}"))
		return close_block(ps, &t);
	if (ps->task >= 0 || ps->handler >= 0)
		return parse_op(ps, &t);
	return parse_top(ps, &t);
}

/* ------------------------------------------------------------------ */
/* End of file: open blocks, fixups, whole-file checks                 */

/* Position used for errors found at the end of the input. */
static void eof_pos(const struct parser *ps, uint32_t *line, uint32_t *col)
{
	*line = ps->line ? ps->line : 1;
	*col = ps->line ? col_at(ps, ps->eol) : 1;
}

static int check_open_blocks(struct parser *ps)
{
	char where[DESC_LEN];
	uint32_t line, col;

	eof_pos(ps, &line, &col);
	if ((ps->task >= 0 || ps->handler >= 0) && ps->depth > 0)
		return fail(ps, line, col, "missing '}' for 'repeat' opened at line %" PRIu32,
		            ps->repeat_line[ps->depth - 1]);
	if (ps->task >= 0)
		return fail(ps, line, col, "missing '}' for task '%s' opened at line %" PRIu32,
		            ps->scn->tasks[ps->task].name, ps->scn->tasks[ps->task].line);
	if (ps->handler >= 0)
		return fail(ps, line, col, "missing '}' for %s opened at line %" PRIu32,
		            handler_desc(ps, (uint32_t)ps->handler, where),
		            ps->scn->handlers[ps->handler].line);
	if (ps->scn->ntasks == 0)
		return fail(ps, line, col, "no tasks declared");
	return 0;
}

static int fix_cpu(struct parser *ps, const struct fixup *f)
{
	struct scenario *scn = ps->scn;
	int self = f->kind == FIX_TASK_CPU ? (int)f->index
		 : f->handler >= 0 ? (int)scn->handlers[f->handler].task : f->task;
	uint32_t vm = self >= 0 ? scn->tasks[self].vm : 0;

	if (vm && f->cpu >= scn->vms[vm - 1].nvcpus)
		return fail(ps, f->line, f->col, "cpu %" PRIu64 " out of range: VM %s has %" PRIu32
		            " vcpus", f->cpu, scn->vms[vm - 1].name, scn->vms[vm - 1].nvcpus);
	if (!vm && f->cpu >= scn->ncpus)
		return fail(ps, f->line, f->col, "cpu %" PRIu64 " out of range: cpus is %" PRIu32,
		            f->cpu, scn->ncpus);
	if (f->kind == FIX_TASK_CPU)
		scn->tasks[f->index].cpu = (int16_t)f->cpu;
	else if (f->kind == FIX_OP_CPU2)
		scn->ops[f->index].arg2 = (uint32_t)f->cpu;
	else if (f->kind == FIX_OP_CPU2_PLUS1)
		scn->ops[f->index].arg2 = (uint32_t)f->cpu + 1;
	else
		scn->ops[f->index].arg = (uint32_t)f->cpu;
	return 0;
}

static int fix_task(struct parser *ps, const struct fixup *f, uint8_t *forked_by)
{
	struct scenario *scn = ps->scn;
	struct scn_op *op = &scn->ops[f->index];
	const char *what = scn_op_name(op->code);
	int target = find_task(scn, f->name.s, f->name.n);
	/* In a handler, "itself" is the handler's task (resolved earlier:
	 * its fixup comes first in the file). */
	int self = f->handler >= 0 ? (int)scn->handlers[f->handler].task : f->task;
	char a[SHOW_LEN];

	if (target < 0)
		return fail(ps, f->line, f->col, "unknown task '%s' in '%s'",
		            show_tok(&f->name, a), what);
	if (self >= 0 && scn->tasks[target].vm != scn->tasks[self].vm)
		return fail(ps, f->line, f->col, "'%s' reaches only tasks of the same kernel: '%s' "
		            "and '%s' run in different ones", what, scn->tasks[target].name,
		            scn->tasks[self].name);
	if (op->code == OP_SIGNAL) {
		if (scn->tasks[target].kind != TASK_USER)
			return fail(ps, f->line, f->col, "signals go to user tasks: '%s' is a kthread",
			            scn->tasks[target].name);
	} else if (target == self) {
		return fail(ps, f->line, f->col, "task '%s' cannot %s itself",
		            scn->tasks[target].name, what);
	}
	if (op->code == OP_FORK) {
		if (!scn->tasks[target].forked)
			return fail(ps, f->line, f->col, "'fork' target '%s' is not declared with 'fork'",
			            scn->tasks[target].name);
		forked_by[target] = 1;
	}
	op->arg = (uint32_t)target;
	return 0;
}

/* The TASK of 'handler TASK SIGNAL': a user task declared anywhere. */
static int fix_handler(struct parser *ps, const struct fixup *f)
{
	struct scenario *scn = ps->scn;
	int target = find_task(scn, f->name.s, f->name.n);
	char a[SHOW_LEN];

	if (target < 0)
		return fail(ps, f->line, f->col, "unknown task '%s' in 'handler'",
		            show_tok(&f->name, a));
	if (scn->tasks[target].kind != TASK_USER)
		return fail(ps, f->line, f->col, "handlers belong to user tasks: '%s' is a kthread",
		            scn->tasks[target].name);
	scn->handlers[f->index].task = (uint32_t)target;
	return 0;
}

/* Every 'fork' task must be forked by someone, and something must boot. */
static int check_start(struct parser *ps, const uint8_t *forked_by)
{
	const struct scenario *scn = ps->scn;
	uint32_t boot = 0;

	for (uint32_t i = 0; i < scn->ntasks; i++) {
		if (scn->tasks[i].forked && !forked_by[i])
			return fail(ps, scn->tasks[i].line, ps->fork_col[i],
			            "task '%s' is declared with 'fork' but no task forks it",
			            scn->tasks[i].name);
		boot += !scn->tasks[i].forked;
	}
	if (boot == 0)
		return fail(ps, scn->tasks[0].line, ps->task_col[0],
		            "every task is declared with 'fork': none starts at boot");
	return 0;
}

static int finish(struct parser *ps)
{
	uint8_t forked_by[SCN_MAX_TASKS] = { 0 };

	if (check_open_blocks(ps))
		return -1;
	for (size_t i = 0; i < ps->nfix; i++) {
		const struct fixup *f = &ps->fix[i];
		int r;

		switch (f->kind) {
		case FIX_OP_TASK:
			r = fix_task(ps, f, forked_by);
			break;
		case FIX_HANDLER_TASK:
			r = fix_handler(ps, f);
			break;
		default:
			r = fix_cpu(ps, f);
			break;
		}

		if (r)
			return -1;
	}
	return check_start(ps, forked_by);
}

/* ------------------------------------------------------------------ */
/* Entry points                                                        */

/* Basename of path without its extension, truncated to fit. */
static void set_name(struct scenario *scn, const char *path)
{
	const char *base, *dot, *slash;
	size_t n;

	if (!path)
		return;
	slash = strrchr(path, '/');
	base = slash ? slash + 1 : path;
	dot = strrchr(base, '.');
	n = dot && dot != base ? (size_t)(dot - base) : strlen(base);
	if (n >= sizeof(scn->name))
		n = sizeof(scn->name) - 1;
	memcpy(scn->name, base, n);
	scn->name[n] = '\0';
}

/* Parses text[0..len), which may contain NULs (reported as errors). */
static int parse_text(const char *path, const char *text, size_t len,
                      struct scenario *out, const char *const *policy_names,
                      int npolicies, char *err, size_t errlen)
{
	struct parser ps;
	int r;

	if (err && errlen)
		err[0] = '\0';
	if (!out || !text)
		return fail_nopos(err, errlen, path, "no input");
	if (npolicies < 0 || npolicies >= SCN_POLICY_ALL || (npolicies && !policy_names))
		return fail_nopos(err, errlen, path, "bad policy table (max %d names)",
		                  SCN_POLICY_ALL - 1);
	memset(out, 0, sizeof(*out));
	out->ncpus = 1;
	out->check_on_return = 1;
	set_name(out, path);

	memset(&ps, 0, sizeof(ps));
	ps.path = path;
	ps.scn = out;
	ps.policies = policy_names;
	ps.npolicies = npolicies;
	ps.err = err;
	ps.errlen = errlen;
	ps.p = text;
	ps.end = text + len;
	ps.bol = ps.eol = ps.cur = text;
	ps.task = -1;
	ps.handler = -1;
	ps.wbegin_task = ps.wend_task = -1;

	while ((r = next_line(&ps)) > 0)
		if (parse_line(&ps))
			break;
	if (r == 0)
		r = finish(&ps);
	else
		r = -1;
	free(ps.fix);
	return r;
}

int scn_parse(const char *path, const char *text, struct scenario *out,
              const char *const *policy_names, int npolicies,
              char *err, size_t errlen)
{
	return parse_text(path, text, text ? strlen(text) : 0, out,
	                  policy_names, npolicies, err, errlen);
}

/* Reads the whole file (at most SCN_MAX_FILE bytes). On failure returns
 * NULL with *errnum set. */
static char *read_file(const char *path, size_t *len, int *errnum)
{
	size_t cap = 0, n = 0;
	char *buf = NULL;
	FILE *f;

	errno = 0;
	f = strcmp(path, "<stdin>") ? fopen(path, "rb") : stdin;
	if (!f) {
		*errnum = errno ? errno : EIO;
		return NULL;
	}
	for (;;) {
		size_t got;

		if (n == cap) {
			char *nb;

			cap = cap ? cap * 2 : 4096;
			nb = realloc(buf, cap);
			if (!nb) {
				*errnum = ENOMEM;
				goto fail;
			}
			buf = nb;
		}
		errno = 0;
		got = fread(buf + n, 1, cap - n, f);
		n += got;
		if (n > SCN_MAX_FILE) {
			*errnum = EFBIG;
			goto fail;
		}
		if (got == 0) {
			if (ferror(f)) {
				*errnum = errno ? errno : EIO;
				goto fail;
			}
			break;
		}
	}
	if (f != stdin)
		fclose(f);
	*len = n;
	return buf;
fail:
	if (f != stdin)
		fclose(f);
	free(buf);
	return NULL;
}

/* Optimal string alignment distance: a swap of neighbours counts one, the
 * commonest typo. Words longer than 63 bytes are never close. */
static size_t osa_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i, j, d[64][64];

	if (la >= 64 || lb >= 64)
		return (size_t)-1;
	for (i = 0; i <= la; i++)
		d[i][0] = i;
	for (j = 0; j <= lb; j++)
		d[0][j] = j;
	for (i = 1; i <= la; i++)
		for (j = 1; j <= lb; j++) {
			size_t c = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);

			if (d[i - 1][j] + 1 < c)
				c = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < c)
				c = d[i][j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    d[i - 2][j - 2] + 1 < c)
				c = d[i - 2][j - 2] + 1;
			d[i][j] = c;
		}
	return d[la][lb];
}

const char *scn_suggest(const char *word, const char *const *cands, size_t n)
{
	size_t i, best = (size_t)-1, len = strlen(word), d;
	const char *pick = NULL;

	for (i = 0; i < n; i++) {
		if (!cands[i])
			continue;
		d = osa_distance(word, cands[i]);
		if (d < best) {
			best = d;
			pick = cands[i];
		}
	}
	/* Close enough to be a slip, not a different word. */
	return pick && best > 0 && best <= 2 && best * 3 <= len + 1 ? pick : NULL;
}

int scn_parse_file(const char *path, struct scenario *out,
                   const char *const *policy_names, int npolicies,
                   char *err, size_t errlen)
{
	size_t len = 0;
	int errnum = 0, r;
	char *text;

	if (err && errlen)
		err[0] = '\0';
	if (!path)
		return fail_nopos(err, errlen, path, "cannot read: no path");
	/* "-" is standard input, named "<stdin>" in messages and reports. */
	if (!strcmp(path, "-"))
		path = "<stdin>";
	text = read_file(path, &len, &errnum);
	if (!text)
		return fail_nopos(err, errlen, path, "cannot read: %s", strerror(errnum));
	r = parse_text(path, text, len, out, policy_names, npolicies, err, errlen);
	free(text);
	return r;
}
