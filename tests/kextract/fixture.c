// SPDX-License-Identifier: GPL-2.0-only
/*
 * Fixture for tools/kextract.py: pinsim's own code written in the kernel's
 * layout, with the cases that trip a brace matcher.  Not kernel code.  The
 * test extracts functions from here and compiles them after
 * fixture_prelude.h, so everything here must stay valid C.
 */
#include "fixture_prelude.h"

#define FIXTURE_SWAP(a, b)			\
	do {					\
		int __t = (a);			\
		(a) = (b);			\
		(b) = __t;			\
	} while (0)

/* A forward declaration: not the definition. */
static int fixture_strings(const char *s);

/*
 * fixture_pair - two ints.  A brace in a comment: {
 */
struct fixture_pair {
	int a;
	int b;
};

struct fixture_ops {
	int (*get)(const struct fixture_pair *p);
};

int fixture_limit __fixture_attr =
#ifdef FIXTURE_BIG
	1000;
#else
	10;
#endif

/**
 * fixture_strings - braces and quotes in literals and comments
 * @s: a string
 *
 * Don't count these: { } ' "
 */
static int fixture_strings(const char *s)
{
	int n = 0;
	const char *open = "{{{";	/* three opens } */
	const char *quote = "\"}\"";	// a quoted close {
	char c = '{';
	char q = '\'';
	char dq = '"';

	/* isn't this a quote: ' */

	if (s[0] == '}')
		n++;
	if (c == '{' && q == '\'' && dq == '"')
		n += open[0] == '{' && quote[1] == '}';
	return n;
}

static int
fixture_split_type(int a,
		   int b)
{
	int x = a, y = b;

	FIXTURE_SWAP(x, y);
	return x - y;
}

static inline __attribute__((unused))
int fixture_inline_attr(const struct fixture_pair *p)
{
	return p->a + p->b;
}

int fixture_exported(int v)
{
	return v * 2;
}
EXPORT_SYMBOL_GPL(fixture_exported);

/* One block opened in each branch: only one of them counts. */
static int fixture_cond_body(int a, int b)
{
	int r = 0;

#ifdef FIXTURE_OPT
	if (a > b) {
#else
	if (a < b) {
#endif
		r = 1;
	}
#if 0
	This is not C: a { and no closing one.
#endif
	return r;
}

#ifdef FIXTURE_OPT
static int fixture_two_defs(int a)
{
	return a + 1;
}
#else
static int fixture_two_defs(int a)
{
	return a - 1;
}
#endif /* FIXTURE_OPT */

#ifdef FIXTURE_OPT
static int fixture_split_head(int a, int b)
#else
static int fixture_split_head(int a)
#endif
{
	return a;
}

static int fixture_get_a(const struct fixture_pair *p)
{
	return p->a;
}

static const struct fixture_ops fixture_ops = {
	.get = fixture_get_a,
};

int fixture_last(void)
{
	struct fixture_pair p = { 1, 2 };

	return fixture_ops.get(&p) + fixture_strings("}") + fixture_limit;
}
