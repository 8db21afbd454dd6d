// SPDX-License-Identifier: GPL-2.0-only
/*
 * example_check: runs an example program and checks what it did, for the
 * 'examples' test suite (no Python or jq needed on CI).
 *
 *   example_check [--exit N[,N...]] [--grep TEXT]... [--no-grep TEXT]... [--stderr-grep TEXT]...
 *                 [--json FILE|-] [--array] [--keys K1,K2,...] [--expect KEY[!]=VALUE]...
 *                 -- PROGRAM [ARGS...]
 *
 * Runs PROGRAM, echoes its stdout and stderr, and checks: the exit status
 * is N, or one of the listed Ns (0 by default; a signal is always a
 * failure: a free run whose race may or may not fire says so with 0,1); each --grep TEXT
 * occurs in its stdout, no --no-grep TEXT does, each --stderr-grep TEXT
 * occurs in its stderr; the JSON in FILE (written by the program; "-" is
 * its stdout) is valid JSON whose top level is an object (or, with
 * --array, a non-empty array of objects) that has every key of --keys, and
 * whose KEY has the scalar VALUE (strings compared without quotes) in the
 * object or in every element; KEY!=VALUE asks for any other value.  A KEY
 * "a.b" is member b of the object that member a holds.
 * Exit 0 when every check passes, 1 otherwise.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_KEYS 64
#define MAX_CHECKS 32

struct record {
	int nr;
	const char *key[MAX_KEYS];
	size_t key_len[MAX_KEYS];
	const char *val[MAX_KEYS];
	size_t val_len[MAX_KEYS];
};

struct parser {
	const char *s;
	const char *err;
	bool array;			/* records are the top-level array's elements */
	int records;
	int failures;
};

static const char *keys[MAX_KEYS];
static int nr_keys;
static const char *expect[MAX_CHECKS];
static int nr_expect;

static void ws(struct parser *p)
{
	while (*p->s == ' ' || *p->s == '\t' || *p->s == '\n' || *p->s == '\r')
		p->s++;
}

static bool fail(struct parser *p, const char *why)
{
	if (!p->err)
		p->err = why;
	return false;
}

static bool string(struct parser *p)
{
	if (*p->s != '"')
		return fail(p, "expected a string");
	for (p->s++; *p->s != '"'; p->s++) {
		if (!*p->s || (unsigned char)*p->s < 0x20)
			return fail(p, "unterminated string or control character");
		if (*p->s == '\\') {
			p->s++;
			if (*p->s == 'u') {
				for (int i = 1; i <= 4; i++)
					if (!strchr("0123456789abcdefABCDEF", p->s[i]) || !p->s[i])
						return fail(p, "bad \\u escape");
				p->s += 4;
			} else if (!*p->s || !strchr("\"\\/bfnrt", *p->s)) {
				return fail(p, "bad escape");
			}
		}
	}
	p->s++;
	return true;
}

static bool number(struct parser *p)
{
	const char *s = p->s;

	if (*s == '-')
		s++;
	if (*s == '0')
		s++;
	else if (*s >= '1' && *s <= '9')
		while (*s >= '0' && *s <= '9')
			s++;
	else
		return fail(p, "bad number");
	if (*s == '.') {
		if (!(*++s >= '0' && *s <= '9'))
			return fail(p, "bad fraction");
		while (*s >= '0' && *s <= '9')
			s++;
	}
	if (*s == 'e' || *s == 'E') {
		s++;
		if (*s == '+' || *s == '-')
			s++;
		if (!(*s >= '0' && *s <= '9'))
			return fail(p, "bad exponent");
		while (*s >= '0' && *s <= '9')
			s++;
	}
	p->s = s;
	return true;
}

static bool value(struct parser *p, int depth);

/*
 * In the object at @obj (already validated), the value of member @key
 * (@klen bytes; "a.b" descends into member a), into *@v and *@vlen.
 */
static bool member(const char *obj, const char *key, size_t klen, const char **v, size_t *vlen)
{
	const char *dot = memchr(key, '.', klen);
	size_t head = dot ? (size_t)(dot - key) : klen;
	struct parser p = { .s = obj };

	if (*p.s != '{')
		return false;
	p.s++;
	ws(&p);
	while (*p.s == '"') {
		const char *k = p.s + 1, *val;
		size_t len;

		if (!string(&p))
			return false;
		len = (size_t)(p.s - 1 - k);
		ws(&p);
		p.s++;		/* ':' */
		ws(&p);
		val = p.s;
		if (!value(&p, 1))	/* depth 1: never a record */
			return false;
		if (len == head && !memcmp(k, key, head)) {
			if (dot)
				return member(val, dot + 1, klen - head - 1, v, vlen);
			*v = val;
			*vlen = (size_t)(p.s - val);
			return true;
		}
		ws(&p);
		if (*p.s != ',')
			return false;
		p.s++;
		ws(&p);
	}
	return false;
}

/* The value of @key (@klen bytes, dotted or not) in record @r. */
static bool record_value(const struct record *r, const char *key, size_t klen, const char **v,
			 size_t *vlen)
{
	const char *dot = memchr(key, '.', klen);
	size_t head = dot ? (size_t)(dot - key) : klen;

	for (int i = 0; i < r->nr; i++) {
		if (r->key_len[i] != head || memcmp(r->key[i], key, head))
			continue;
		if (dot)
			return member(r->val[i], dot + 1, klen - head - 1, v, vlen);
		*v = r->val[i];
		*vlen = r->val_len[i];
		return true;
	}
	return false;
}

static void check_record(struct parser *p, const struct record *r)
{
	const char *v;
	size_t vlen;

	p->records++;
	for (int k = 0; k < nr_keys; k++) {
		bool found = record_value(r, keys[k], strlen(keys[k]), &v, &vlen);

		if (!found) {
			fprintf(stderr, "example_check: object %d has no key \"%s\"\n", p->records,
				keys[k]);
			p->failures++;
		}
	}
	for (int e = 0; e < nr_expect; e++) {
		const char *eq = strchr(expect[e], '=');
		bool negate = eq > expect[e] && eq[-1] == '!';
		size_t klen = (size_t)(eq - expect[e]) - negate;
		bool found = record_value(r, expect[e], klen, &v, &vlen);

		if (found) {
			const char *sv = v;
			size_t svlen = vlen;

			if (svlen >= 2 && *sv == '"') {
				sv++;
				svlen -= 2;
			}
			if ((svlen != strlen(eq + 1) || memcmp(sv, eq + 1, svlen)) != negate) {
				fprintf(stderr,
					"example_check: object %d: %.*s is %.*s, expected %s%s\n",
					p->records, (int)klen, expect[e], (int)vlen, v,
					negate ? "anything but " : "", eq + 1);
				p->failures++;
			}
		}
		if (!found) {
			fprintf(stderr, "example_check: object %d has no key \"%.*s\"\n",
				p->records, (int)klen, expect[e]);
			p->failures++;
		}
	}
}

/* An object; at the record depth its keys and scalar values are checked. */
static bool object(struct parser *p, int depth)
{
	bool is_record = depth == (p->array ? 1 : 0);
	struct record r = { 0 };

	p->s++;
	ws(p);
	if (*p->s != '}') {
		for (;;) {
			const char *k, *v;

			ws(p);
			k = p->s + 1;
			if (!string(p))
				return false;
			if (is_record && r.nr < MAX_KEYS) {
				r.key[r.nr] = k;
				r.key_len[r.nr] = (size_t)(p->s - 1 - k);
			}
			ws(p);
			if (*p->s != ':')
				return fail(p, "expected ':'");
			p->s++;
			ws(p);
			v = p->s;
			if (!value(p, depth + 1))
				return false;
			if (is_record && r.nr < MAX_KEYS) {
				r.val[r.nr] = v;
				r.val_len[r.nr] = (size_t)(p->s - v);
				r.nr++;
			}
			ws(p);
			if (*p->s == '}')
				break;
			if (*p->s != ',')
				return fail(p, "expected ',' or '}'");
			p->s++;
		}
	}
	p->s++;
	if (is_record)
		check_record(p, &r);
	return true;
}

static bool array(struct parser *p, int depth)
{
	p->s++;
	ws(p);
	if (*p->s == ']') {
		p->s++;
		return true;
	}
	for (;;) {
		ws(p);
		if (depth == 0 && p->array && *p->s != '{')
			return fail(p, "an element of the top-level array is not an object");
		if (!value(p, depth + 1))
			return false;
		ws(p);
		if (*p->s == ']')
			break;
		if (*p->s != ',')
			return fail(p, "expected ',' or ']'");
		p->s++;
	}
	p->s++;
	return true;
}

static bool value(struct parser *p, int depth)
{
	if (depth > 64)
		return fail(p, "nested too deeply");
	ws(p);
	switch (*p->s) {
	case '{':
		return object(p, depth);
	case '[':
		return array(p, depth);
	case '"':
		return string(p);
	case 't':
		return strncmp(p->s, "true", 4) ? fail(p, "bad literal") : (p->s += 4, true);
	case 'f':
		return strncmp(p->s, "false", 5) ? fail(p, "bad literal") : (p->s += 5, true);
	case 'n':
		return strncmp(p->s, "null", 4) ? fail(p, "bad literal") : (p->s += 4, true);
	default:
		return number(p);
	}
}

static int check_json(const char *text, bool want_array)
{
	struct parser p = { .s = text, .array = want_array };

	ws(&p);
	if (*p.s != (want_array ? '[' : '{')) {
		fprintf(stderr, "example_check: the JSON's top level is not an %s\n",
			want_array ? "array" : "object");
		return 1;
	}
	if (!value(&p, 0) || (ws(&p), *p.s)) {
		fprintf(stderr, "example_check: invalid JSON at offset %ld: %s\n",
			(long)(p.s - text), p.err ? p.err : "trailing text");
		return 1;
	}
	if (!p.records) {
		fprintf(stderr, "example_check: no object to check\n");
		return 1;
	}
	fprintf(stderr, "example_check: JSON ok, %d object(s), %d failure(s)\n", p.records,
		p.failures);
	return p.failures ? 1 : 0;
}

/* The rest of @f, NUL-terminated (NULL when out of memory). */
static char *slurp(FILE *f)
{
	size_t len = 0, cap = 4096, n;
	char *buf = malloc(cap);

	while (buf && (n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
		len += n;
		if (cap - len - 1 == 0) {
			char *nb = realloc(buf, cap *= 2);

			if (!nb)
				free(buf);
			buf = nb;
		}
	}
	if (buf)
		buf[len] = 0;
	return buf;
}

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf;

	if (!f)
		return NULL;
	buf = slurp(f);
	fclose(f);
	return buf;
}

/*
 * Run @argv with its stdout into a pipe and its stderr into a temporary
 * file; returns the wait status, *out and *err what it wrote (echoed).
 */
static int run(char **argv, char **out, char **err)
{
	size_t len = 0, cap = 65536;
	int pfd[2], status;
	char *buf = malloc(cap);
	FILE *errf = tmpfile();
	ssize_t n;
	pid_t pid;

	if (!buf || !errf || pipe(pfd))
		return -1;
	fflush(stderr);
	pid = fork();
	if (pid < 0)
		return -1;
	if (!pid) {
		dup2(pfd[1], STDOUT_FILENO);
		dup2(fileno(errf), STDERR_FILENO);
		close(pfd[0]);
		close(pfd[1]);
		execv(argv[0], argv);
		fprintf(stderr, "example_check: exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(pfd[1]);
	while ((n = read(pfd[0], buf + len, cap - len - 1)) > 0 || (n < 0 && errno == EINTR)) {
		if (n < 0)
			continue;
		fwrite(buf + len, 1, (size_t)n, stdout);
		len += (size_t)n;
		if (cap - len - 1 == 0) {
			char *nb = realloc(buf, cap *= 2);

			if (!nb)
				break;
			buf = nb;
		}
	}
	close(pfd[0]);
	buf[len] = 0;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	rewind(errf);
	*err = slurp(errf);
	fclose(errf);
	if (!*err)
		return -1;
	fputs(*err, stderr);
	*out = buf;
	return status;
}

/* "N" or "N,M,...": exit statuses 0..255, nothing else. */
static bool exit_list_ok(const char *list)
{
	for (const char *p = list;; p++) {
		char *end;
		long v = strtol(p, &end, 10);

		if (end == p || *p == '-' || *p == '+' || v > 255)
			return false;
		p = end;
		if (!*p)
			return true;
		if (*p != ',')
			return false;
	}
}

static bool exit_listed(const char *list, int status)
{
	for (const char *p = list; *p; p++) {
		char *end;

		if (strtol(p, &end, 10) == status)
			return true;
		p = end;
		if (!*p)
			break;
	}
	return false;
}

static int usage(void)
{
	fprintf(stderr, "usage: example_check [--exit N[,N...]] [--grep TEXT]... [--no-grep TEXT]... "
			"[--stderr-grep TEXT]...\n"
			"                     [--json FILE|-] [--array] [--keys K1,K2,...] "
			"[--expect KEY[!]=VALUE]...\n"
			"                     -- PROGRAM [ARGS...]\n");
	return 1;
}

int main(int argc, char **argv)
{
	const char *grep[MAX_CHECKS], *no_grep[MAX_CHECKS], *err_grep[MAX_CHECKS], *json = NULL;
	int nr_grep = 0, nr_no_grep = 0, nr_err_grep = 0, status, failures = 0, i;
	const char *want_exit = "0";
	bool want_array = false;
	char *out = NULL, *err = NULL, *keylist = NULL;

	for (i = 1; i < argc && strcmp(argv[i], "--"); i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--array")) {
			want_array = true;
			continue;
		}
		if (!v)
			return usage();
		i++;
		if (!strcmp(a, "--exit") && exit_list_ok(v))
			want_exit = v;
		else if (!strcmp(a, "--grep") && nr_grep < MAX_CHECKS)
			grep[nr_grep++] = v;
		else if (!strcmp(a, "--no-grep") && nr_no_grep < MAX_CHECKS)
			no_grep[nr_no_grep++] = v;
		else if (!strcmp(a, "--stderr-grep") && nr_err_grep < MAX_CHECKS)
			err_grep[nr_err_grep++] = v;
		else if (!strcmp(a, "--json"))
			json = v;
		else if (!strcmp(a, "--keys"))
			keylist = strdup(v);
		else if (!strcmp(a, "--expect") && nr_expect < MAX_CHECKS && strchr(v, '='))
			expect[nr_expect++] = v;
		else
			return usage();
	}
	if (i + 1 >= argc)
		return usage();
	for (char *save, *k = keylist ? strtok_r(keylist, ",", &save) : NULL;
	     k && nr_keys < MAX_KEYS; k = strtok_r(NULL, ",", &save))
		keys[nr_keys++] = k;
	if (json && strcmp(json, "-"))
		unlink(json);	/* what is checked must be what this run wrote */

	fflush(stdout);
	status = run(argv + i + 1, &out, &err);
	if (status < 0) {
		fprintf(stderr, "example_check: cannot run %s: %s\n", argv[i + 1], strerror(errno));
		return 1;
	}
	if (WIFSIGNALED(status)) {
		fprintf(stderr, "example_check: %s died of signal %d\n", argv[i + 1],
			WTERMSIG(status));
		return 1;
	}
	if (!exit_listed(want_exit, WEXITSTATUS(status))) {
		fprintf(stderr, "example_check: %s exited %d, expected %s\n", argv[i + 1],
			WEXITSTATUS(status), want_exit);
		failures++;
	}
	for (int g = 0; g < nr_grep; g++) {
		if (!strstr(out, grep[g])) {
			fprintf(stderr, "example_check: stdout lacks \"%s\"\n", grep[g]);
			failures++;
		}
	}
	for (int g = 0; g < nr_no_grep; g++) {
		if (strstr(out, no_grep[g])) {
			fprintf(stderr, "example_check: stdout has \"%s\"\n", no_grep[g]);
			failures++;
		}
	}
	for (int g = 0; g < nr_err_grep; g++) {
		if (!strstr(err, err_grep[g])) {
			fprintf(stderr, "example_check: stderr lacks \"%s\"\n", err_grep[g]);
			failures++;
		}
	}
	if (json) {
		char *text = strcmp(json, "-") ? read_file(json) : out;

		if (!text) {
			fprintf(stderr, "example_check: %s: %s\n", json, strerror(errno));
			failures++;
		} else {
			failures += check_json(text, want_array);
			if (text != out)
				free(text);
		}
	}
	free(out);
	free(err);
	free(keylist);
	if (!failures)
		fprintf(stderr, "example_check: all checks passed\n");
	return failures ? 1 : 0;
}
