/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the scenario parser (tool/parse.c).
 *
 * The input, NUL-terminated, goes to scn_parse() with the policy names
 * {"eager", "linux"}. Invariants (abort() with a message when one breaks):
 *
 *   - the result is 0 or -1, and the same when parsed twice (into buffers
 *     prefilled with different garbage: the result must be byte-identical,
 *     so *out is fully zeroed first and nothing depends on stale memory);
 *   - on -1 the message is NUL-terminated, non-empty, and reads
 *     "PATH:LINE:COL: reason" with decimal LINE >= 1 and COL >= 1, LINE at
 *     most the number of lines of the input (1 for an empty input), COL at
 *     most one past the end of that line; with a small err buffer the
 *     message is its NUL-terminated prefix and nothing past errlen is
 *     written;
 *   - on 0 the scenario is well formed: counts within their limits, each
 *     task's and handler's ops a non-empty run inside ops[], the runs
 *     disjoint, in file order and covering ops[], every op code below
 *     OP__COUNT and allowed where it is, arguments in range (CPUs below
 *     ncpus, task indices below ntasks and of the right kind, repeat blocks
 *     non-empty, inside their block and properly nested, window ops at most
 *     once each and outside repeats), VM features a valid XCR0 (x87 and sse
 *     in, AVX-512, MPX and AMX groups whole, AVX-512 with AVX), handler
 *     tasks user tasks and no duplicate (task, signal), expect keys below
 *     KEY__COUNT, comparators and policies valid, every fork task forked by
 *     someone and some task not a fork task, names unique and well formed,
 *     name = the path's basename without extension.
 *
 * For inputs with a NUL byte (and one in eight others) the same bytes are
 * also parsed as a file with scn_parse_file() (through a memfd): a NUL makes
 * it fail with a well-formed message; without one it must agree exactly
 * with scn_parse() on the same path.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../tool/parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const policies[] = { "eager", "linux" };
#define NPOL 2
#define ERRLEN 512
#define PATH "fuzz/in.scn"

static const uint8_t *g_data;
static size_t g_size;

__attribute__((format(printf, 1, 2), noreturn))
static void broken(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "\nfuzz_parse: INVARIANT BROKEN: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n  input (%zu bytes): \"", g_size);
	for (size_t i = 0; i < g_size && i < 400; i++) {
		unsigned char c = g_data[i];

		if (c == '\n')
			fputs("\\n", stderr);
		else if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
			fputc(c, stderr);
		else
			fprintf(stderr, "\\x%02x", c);
	}
	fprintf(stderr, "%s\"\n", g_size > 400 ? "..." : "");
	abort();
}

/* ------------------------------------------------------------------ */
/* Error messages                                                      */

/* Length of line `line` (1-based) of text, newline excluded; -1 if none. */
static long line_len(const char *text, size_t len, uint64_t line)
{
	size_t i = 0;
	uint64_t l = 1;

	while (l < line) {
		const char *nl = memchr(text + i, '\n', len - i);

		if (!nl)
			return -1;
		i = (size_t)(nl - text) + 1;
		l++;
	}
	if (i >= len && !(len == 0 && line == 1))
		return -1; /* a final newline does not start a line */
	{
		const char *nl = memchr(text + i, '\n', len - i);

		return (long)((nl ? (size_t)(nl - text) : len) - i);
	}
}

static uint64_t read_dec(const char **p)
{
	uint64_t v = 0;

	if (**p < '0' || **p > '9')
		broken("message: expected a number at \"%.40s\"", *p);
	while (**p >= '0' && **p <= '9') {
		v = v * 10 + (uint64_t)(**p - '0');
		if (v > UINT32_MAX)
			broken("message: number too large");
		(*p)++;
	}
	return v;
}

/* "PATH:LINE:COL: reason" for text[0..len) parsed as path. */
static void check_message(const char *path, const char *err, size_t errlen,
			  const char *text, size_t len)
{
	size_t pl = strlen(path);
	const char *p;
	uint64_t line, col;
	long ll;

	if (!memchr(err, '\0', errlen))
		broken("message not NUL-terminated");
	if (!err[0])
		broken("-1 without a message");
	if (strncmp(err, path, pl) || err[pl] != ':')
		broken("message does not start with \"%s:\": \"%s\"", path, err);
	p = err + pl + 1;
	line = read_dec(&p);
	if (*p++ != ':')
		broken("message: no ':' after LINE: \"%s\"", err);
	col = read_dec(&p);
	if (p[0] != ':' || p[1] != ' ' || !p[2])
		broken("message: no \": reason\" after COL: \"%s\"", err);
	if (line < 1 || col < 1)
		broken("message: LINE and COL are 1-based: \"%s\"", err);
	ll = line_len(text, len, line);
	if (ll < 0)
		broken("message: line %llu is past the end of the input: \"%s\"",
		       (unsigned long long)line, err);
	if (col > (uint64_t)ll + 1)
		broken("message: column %llu is past the end of line %llu (%ld bytes): \"%s\"",
		       (unsigned long long)col, (unsigned long long)line, ll, err);
}

/* ------------------------------------------------------------------ */
/* Accepted scenarios                                                  */

static int name_ok(const char *s)
{
	size_t n = strnlen(s, SCN_NAME_LEN);

	if (n == 0 || n >= SCN_NAME_LEN)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		int alpha = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';

		if (!(alpha || (i && ((c >= '0' && c <= '9') || c == '-'))))
			return 0;
	}
	return 1;
}

struct block {
	uint32_t first, nops, line;
	uint32_t self;      /* the task it runs as */
	int handler;
};

static int cmp_block(const void *a, const void *b)
{
	const struct block *x = a, *y = b;

	return x->first < y->first ? -1 : x->first > y->first;
}

static int component_ok(uint32_t c)
{
	static const uint32_t ok[] = { 0, 1, 2, 3, 4, 5, 6, 7, 9, 17, 18 };

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (ok[i] == c)
			return 1;
	return 0;
}

static void check_op(const struct scenario *s, const struct block *b, uint32_t i,
		     uint64_t nlines)
{
	const struct scn_op *op = &s->ops[i];
	const struct scn_task *self = &s->tasks[b->self];
	int user = self->kind == TASK_USER, h = b->handler >= 0;
	uint32_t ncpus = self->vm ? s->vms[self->vm - 1].nvcpus : s->ncpus;

	if (op->code >= OP__COUNT)
		broken("op %u: code %u >= OP__COUNT", i, op->code);
	if (op->line <= b->line || op->line > nlines || op->col == 0)
		broken("op %u (%s): position %u:%u outside its block (opened at line %u)", i,
		       scn_op_name(op->code), op->line, op->col, b->line);
	switch (op->code) {
	case OP_DIRTY: case OP_CHECK: case OP_EXEC: case OP_YIELD: case OP_KFPU:
	case OP_EXIT: case OP_WAIT: case OP_WINDOW_BEGIN: case OP_WINDOW_END:
		if (op->arg || op->arg2)
			broken("op %u (%s): arguments %u %u", i, scn_op_name(op->code), op->arg, op->arg2);
		break;
	case OP_COMPUTE: case OP_SPIN: case OP_SLEEP:
		if (op->arg < 1 || op->arg > SCN_MAX_COUNT || op->arg2)
			broken("op %u (%s): count %u", i, scn_op_name(op->code), op->arg);
		break;
	case OP_IPI_KFPU: case OP_MIGRATE:
		if (op->arg >= ncpus || op->arg2)
			broken("op %u (%s): cpu %u, ncpus %u", i, scn_op_name(op->code), op->arg, ncpus);
		break;
	case OP_IPI_BALANCE:
		if (op->arg >= ncpus || op->arg2 >= ncpus)
			broken("op %u: ipi %u balance %u, ncpus %u", i, op->arg, op->arg2, ncpus);
		break;
	case OP_RUN: case OP_VGET: case OP_VSET:
		if (self->vm || h || !user || op->arg >= s->nvms || op->arg2 >= s->vms[op->arg].nvcpus)
			broken("op %u (%s): vm %u vcpu %u from task '%s'", i, scn_op_name(op->code), op->arg,
			       op->arg2, self->name);
		break;
	case OP_IO:
		if (!self->vm || h || op->arg || op->arg2)
			broken("op %u (io) in host task '%s' or a handler", i, self->name);
		break;
	case OP_FORK: case OP_WAKE:
		if (op->arg >= s->ntasks || op->arg == b->self || op->arg2)
			broken("op %u (%s): task %u (self %u, ntasks %u)", i, scn_op_name(op->code), op->arg,
			       b->self, s->ntasks);
		if (op->code == OP_FORK && !s->tasks[op->arg].forked)
			broken("op %u: fork of '%s', not a fork task", i, s->tasks[op->arg].name);
		break;
	case OP_REPEAT:
		if (op->arg < 1 || op->arg > SCN_MAX_COUNT || op->arg2 < 1 ||
		    (uint64_t)i + 1 + op->arg2 > (uint64_t)b->first + b->nops)
			broken("op %u: repeat %u over %u ops, block [%u, %u)", i, op->arg, op->arg2,
			       b->first, b->first + b->nops);
		break;
	case OP_SIGNAL:
		if (op->arg >= s->ntasks || s->tasks[op->arg].kind != TASK_USER || op->arg2 >= SIG__COUNT)
			broken("op %u: signal %u to task %u", i, op->arg2, op->arg);
		break;
	}
	switch (op->code) {
	case OP_FORK: case OP_WAKE: case OP_SIGNAL:
		if (op->arg < s->ntasks && s->tasks[op->arg].vm != self->vm)
			broken("op %u (%s) reaches task '%s' of another kernel", i, scn_op_name(op->code),
			       s->tasks[op->arg].name);
		break;
	case OP_ALTSTACK:
		if (op->arg > 1 || op->arg2)
			broken("op %u: altstack %u", i, op->arg);
		break;
	case OP_STACK:
		if (op->arg > STACK_STRADDLE || op->arg2)
			broken("op %u: stack %u", i, op->arg);
		break;
	case OP_FRAME:
		if (op->arg >= FRAME__COUNT)
			broken("op %u: frame edit %u", i, op->arg);
		if ((op->arg == FRAME_DIRTY || op->arg == FRAME_CLEAR) && !component_ok(op->arg2))
			broken("op %u: frame dirty/clear of component %u", i, op->arg2);
		if (op->arg == FRAME_MISALIGN && (op->arg2 < 1 || op->arg2 > 63))
			broken("op %u: frame misalign %u", i, op->arg2);
		if (op->arg != FRAME_DIRTY && op->arg != FRAME_CLEAR && op->arg != FRAME_MXCSR &&
		    op->arg != FRAME_PKRU && op->arg != FRAME_MISALIGN && op->arg2)
			broken("op %u: frame edit %u with operand %u", i, op->arg, op->arg2);
		break;
	}
	/* Where each op may appear. */
	if (h && (op->code == OP_FORK || op->code == OP_EXEC || op->code == OP_WINDOW_BEGIN ||
		  op->code == OP_WINDOW_END))
		broken("op %u (%s) in a handler", i, scn_op_name(op->code));
	if (!h && op->code == OP_FRAME)
		broken("op %u (frame) outside a handler", i);
	if (!user && (op->code == OP_DIRTY || op->code == OP_CHECK || op->code == OP_COMPUTE ||
		      op->code == OP_FORK || op->code == OP_EXEC || op->code == OP_ALTSTACK ||
		      op->code == OP_STACK || op->code == OP_FRAME))
		broken("op %u (%s) in kthread '%s'", i, scn_op_name(op->code), self->name);
}

/* XCR0 rules written out again, independently of the parser's. */
static int whole(uint64_t f, uint64_t group)
{
	return !(f & group) || (f & group) == group;
}

static int xcr0_ok(uint64_t f)
{
	return (f & 1) && (!(f & 4) || (f & 2)) && whole(f, 0x18) && whole(f, 0xe0) &&
	       (!(f & 0xe0) || (f & 4)) && whole(f, 0x60000);
}

static void check_scenario(const struct scenario *s, const char *path, uint64_t nlines)
{
	static struct block blocks[SCN_MAX_TASKS + SCN_MAX_HANDLERS];
	uint8_t forked[SCN_MAX_TASKS] = { 0 };
	uint32_t nb = 0, boot = 0, i, j, end, nwb = 0, nwe = 0, wb = 0, we = 0;
	const char *base, *dot;
	char name[64];
	size_t nl;

	/* Counts and settings. */
	if (s->nvms > SCN_MAX_VMS)
		broken("%u VMs", s->nvms);
	for (i = 0; i < s->nvms; i++)
		if (s->vms[i].nvcpus < 1 || s->vms[i].nvcpus > SCN_MAX_VCPUS ||
		    (s->vms[i].features && ((s->vms[i].features & 3) != 3 ||
		                            !xcr0_ok(s->vms[i].features))))
			broken("vm %u: %u vcpus, features %llx", i, s->vms[i].nvcpus,
			       (unsigned long long)s->vms[i].features);
	for (i = 0; i < s->ntasks; i++)
		if (s->tasks[i].vm > s->nvms || (s->tasks[i].vm && s->tasks[i].cpu >= (int)s->vms[s->tasks[i].vm - 1].nvcpus))
			broken("task %u: vm %u cpu %d", i, s->tasks[i].vm, s->tasks[i].cpu);
	if (s->ncpus < 1 || s->ncpus > SCN_MAX_CPUS || s->tick > SCN_MAX_COUNT ||
	    s->check_on_return > 1 || s->ntasks < 1 || s->ntasks > SCN_MAX_TASKS ||
	    s->nops > SCN_MAX_OPS || s->nexpects > SCN_MAX_EXPECTS || s->nhandlers > SCN_MAX_HANDLERS)
		broken("counts: ncpus %u tick %u check_on_return %u ntasks %u nops %u nexpects %u "
		       "nhandlers %u", s->ncpus, s->tick, s->check_on_return, s->ntasks, s->nops,
		       s->nexpects, s->nhandlers);
	base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	dot = strrchr(base, '.');
	nl = dot && dot != base ? (size_t)(dot - base) : strlen(base);
	snprintf(name, sizeof(name), "%.*s", (int)nl, base);
	if (!memchr(s->name, '\0', sizeof(s->name)) || strcmp(s->name, name))
		broken("scenario name \"%.64s\", wanted \"%s\"", s->name, name);

	/* Tasks. */
	for (i = 0; i < s->ntasks; i++) {
		const struct scn_task *t = &s->tasks[i];

		if (!memchr(t->name, '\0', SCN_NAME_LEN) || !name_ok(t->name))
			broken("task %u: bad name", i);
		for (j = 0; j < i; j++)
			if (!strcmp(s->tasks[j].name, t->name))
				broken("tasks %u and %u both named '%s'", j, i, t->name);
		if (t->kind > TASK_KTHREAD || t->forked > 1 || (t->forked && t->kind != TASK_USER))
			broken("task '%s': kind %u forked %u", t->name, t->kind, t->forked);
		if (t->cpu < 0 || (uint32_t)t->cpu >= (t->vm ? s->vms[t->vm - 1].nvcpus : s->ncpus))
			broken("task '%s': cpu %d, ncpus %u", t->name, t->cpu, s->ncpus);
		if (t->nops < 1 || t->first_op > s->nops || t->nops > s->nops - t->first_op)
			broken("task '%s': ops [%u, +%u) outside ops[%u]", t->name, t->first_op, t->nops,
			       s->nops);
		if (t->line < 1 || t->line > nlines)
			broken("task '%s': line %u", t->name, t->line);
		boot += !t->forked;
		blocks[nb++] = (struct block){ t->first_op, t->nops, t->line, i, -1 };
	}
	if (!boot)
		broken("every task is a fork task: nothing starts");

	/* Handlers. */
	for (i = 0; i < s->nhandlers; i++) {
		const struct scn_handler *h = &s->handlers[i];

		if (h->task >= s->ntasks || s->tasks[h->task].kind != TASK_USER || h->signo >= SIG__COUNT)
			broken("handler %u: task %u signal %u", i, h->task, h->signo);
		for (j = 0; j < i; j++)
			if (s->handlers[j].task == h->task && s->handlers[j].signo == h->signo)
				broken("handlers %u and %u both for task %u signal %u", j, i, h->task, h->signo);
		if (h->nops < 1 || h->first_op > s->nops || h->nops > s->nops - h->first_op)
			broken("handler %u: ops [%u, +%u) outside ops[%u]", i, h->first_op, h->nops, s->nops);
		if (h->line < 1 || h->line > nlines)
			broken("handler %u: line %u", i, h->line);
		blocks[nb++] = (struct block){ h->first_op, h->nops, h->line, h->task, (int)i };
	}

	/* The blocks' runs: disjoint, in file order, covering ops[]. */
	qsort(blocks, nb, sizeof(blocks[0]), cmp_block);
	for (i = 0, end = 0; i < nb; i++) {
		if (blocks[i].first != end)
			broken("ops [%u, %u) belong to no block, or blocks overlap", end, blocks[i].first);
		if (i && blocks[i].line <= blocks[i - 1].line)
			broken("blocks out of file order: line %u after line %u", blocks[i].line,
			       blocks[i - 1].line);
		end = blocks[i].first + blocks[i].nops;
	}
	if (end != s->nops)
		broken("ops [%u, %u) belong to no block", end, s->nops);

	/* Ops, repeat nesting and windows. */
	for (i = 0; i < nb; i++) {
		const struct block *b = &blocks[i];
		uint32_t stack[SCN_MAX_REPEAT_DEPTH + 1], depth = 0, next_line = i + 1 < nb ? blocks[i + 1].line : UINT32_MAX;

		for (j = b->first; j < b->first + b->nops; j++) {
			const struct scn_op *op = &s->ops[j];

			while (depth && j >= stack[depth - 1])
				depth--;
			check_op(s, b, j, nlines);
			if (op->line >= next_line)
				broken("op %u: line %u is in the next block (line %u)", j, op->line, next_line);
			if (j > b->first && op->line <= s->ops[j - 1].line)
				broken("op %u: line %u not after the previous op's %u", j, op->line,
				       s->ops[j - 1].line);
			if (op->code == OP_WINDOW_BEGIN || op->code == OP_WINDOW_END) {
				if (depth)
					broken("op %u: window inside repeat", j);
				if (op->code == OP_WINDOW_BEGIN)
					nwb++, wb = j;
				else
					nwe++, we = j;
			}
			if (op->code == OP_REPEAT) {
				uint32_t e = j + 1 + op->arg2;

				if (depth && e > stack[depth - 1])
					broken("op %u: repeat block [%u, %u) ends after the enclosing one (%u)", j,
					       j + 1, e, stack[depth - 1]);
				if (depth >= SCN_MAX_REPEAT_DEPTH)
					broken("op %u: repeat nested deeper than %d", j, SCN_MAX_REPEAT_DEPTH);
				stack[depth++] = e;
			}
			if (op->code == OP_FORK)
				forked[op->arg] = 1;
		}
	}
	if (nwb > 1 || nwe > 1)
		broken("%u 'window begin' and %u 'window end'", nwb, nwe);
	if (nwb && nwe) {
		/* Same task: begin first. */
		for (i = 0; i < nb; i++)
			if (blocks[i].handler < 0 && wb >= blocks[i].first && we >= blocks[i].first &&
			    wb < blocks[i].first + blocks[i].nops && we < blocks[i].first + blocks[i].nops &&
			    we < wb)
				broken("'window end' (op %u) before 'window begin' (op %u) in one task", we, wb);
	}
	for (i = 0; i < s->ntasks; i++)
		if (s->tasks[i].forked && !forked[i])
			broken("fork task '%s' forked by nobody", s->tasks[i].name);

	/* Expectations. */
	for (i = 0; i < s->nexpects; i++) {
		const struct scn_expect *e = &s->expects[i];

		if ((e->policy >= NPOL && e->policy != SCN_POLICY_ALL) || e->key >= KEY__COUNT ||
		    e->cmp > CMP_GT || e->line < 1 || e->line > nlines)
			broken("expect %u: policy %u key %u cmp %u line %u", i, e->policy, e->key, e->cmp,
			       e->line);
	}
}

/* ------------------------------------------------------------------ */
/* Driver                                                              */

static uint64_t count_lines(const char *text, size_t len)
{
	uint64_t n = 0;

	for (size_t i = 0; i < len; i++)
		if (text[i] == '\n')
			n++;
	if (len && text[len - 1] != '\n')
		n++;
	return n;
}

static int memfd = -1;
static char memfd_path[64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct scenario *a, *b;
	static char err_a[ERRLEN], err_b[ERRLEN];
	char small[64 + 16];
	size_t len, errlen;
	char *text;
	int ra, rb;

	g_data = data;
	g_size = size;
	if (!a) {
		a = malloc(sizeof(*a));
		b = malloc(sizeof(*b));
		if (!a || !b)
			abort();
	}
	text = malloc(size + 1);
	if (!text)
		abort();
	memcpy(text, data, size);
	text[size] = '\0';
	len = strlen(text);

	/* Twice, over different garbage. */
	memset(a, 0xa5, sizeof(*a));
	memset(b, 0x5a, sizeof(*b));
	memset(err_a, 0xa5, sizeof(err_a));
	memset(err_b, 0x5a, sizeof(err_b));
	ra = scn_parse(PATH, text, a, policies, NPOL, err_a, sizeof(err_a));
	rb = scn_parse(PATH, text, b, policies, NPOL, err_b, sizeof(err_b));
	if (ra != 0 && ra != -1)
		broken("scn_parse returned %d", ra);
	if (ra != rb || memcmp(a, b, sizeof(*a)))
		broken("two parses of the same text differ (results %d, %d): state not reset", ra, rb);
	if (ra == -1) {
		if (!memchr(err_b, '\0', sizeof(err_b)) || strcmp(err_a, err_b))
			broken("two parses gave different messages");
		check_message(PATH, err_a, sizeof(err_a), text, len);
		/* A short buffer: a NUL-terminated prefix, nothing written past it. */
		errlen = 1 + (size ? data[size - 1] % 64 : 0);
		memset(small, 0xee, sizeof(small));
		if (scn_parse(PATH, text, a, policies, NPOL, small, errlen) != -1)
			broken("scn_parse with errlen %zu: not -1", errlen);
		for (size_t i = errlen; i < sizeof(small); i++)
			if ((unsigned char)small[i] != 0xee)
				broken("scn_parse wrote past errlen %zu", errlen);
		if (!memchr(small, '\0', errlen) || strncmp(small, err_a, strlen(small)) ||
		    strlen(small) != (strlen(err_a) < errlen - 1 ? strlen(err_a) : errlen - 1))
			broken("errlen %zu: \"%.*s\" is not the NUL-terminated prefix of \"%s\"", errlen,
			       (int)errlen, small, err_a);
	} else {
		check_scenario(a, PATH, count_lines(text, len));
	}

	/* The same bytes as a file. */
	if (len != size || size % 8 == 0) {
		if (memfd < 0) {
			memfd = memfd_create("fuzz-scn", 0);
			if (memfd < 0) {
				perror("memfd_create");
				abort();
			}
			snprintf(memfd_path, sizeof(memfd_path), "/proc/self/fd/%d", memfd);
		}
		if (ftruncate(memfd, 0) || (size && pwrite(memfd, data, size, 0) != (ssize_t)size))
			abort();
		memset(a, 0xa5, sizeof(*a));
		ra = scn_parse_file(memfd_path, a, policies, NPOL, err_a, sizeof(err_a));
		if (len != size) {
			/* A NUL byte: some error, reported properly. */
			if (ra != -1)
				broken("scn_parse_file accepted input with a NUL byte");
			check_message(memfd_path, err_a, sizeof(err_a), (const char *)data, size);
		} else {
			rb = scn_parse(memfd_path, text, b, policies, NPOL, err_b, sizeof(err_b));
			if (ra != rb || memcmp(a, b, sizeof(*a)) || (ra && strcmp(err_a, err_b)))
				broken("scn_parse_file and scn_parse disagree (%d, %d): \"%s\" / \"%s\"", ra, rb,
				       ra ? err_a : "", rb ? err_b : "");
		}
	}
	free(text);
	return 0;
}
