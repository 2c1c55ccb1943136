/* harness/fake/promql_parse.c - the PromQL meshvm sends (promql.h),
 * parsed into a struct pexpr. */
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "harness/fake/promql_int.h"

struct lex {
	const char *s;
	char *why;
	size_t whylen;
	bool failed;
};

static void fail(struct lex *lx, const char *fmt, ...) MV_PRINTF(2, 3);

static void
fail(struct lex *lx, const char *fmt, ...)
{
	va_list ap;

	if (lx->failed)
		return;
	lx->failed = true;
	va_start(ap, fmt);
	vsnprintf(lx->why, lx->whylen, fmt, ap);
	va_end(ap);
}

static void
ws(struct lex *lx)
{
	while (isspace((unsigned char)*lx->s))
		lx->s++;
}

static bool
peek(struct lex *lx, char c)
{
	ws(lx);
	return *lx->s == c;
}

static void
expect(struct lex *lx, char c)
{
	ws(lx);
	if (*lx->s != c) {
		fail(lx, "parse error: expected '%c' at \"%.20s\"", c, lx->s);
		return;
	}
	lx->s++;
}

/* An identifier (metric or label name) into buf. */
static void
ident(struct lex *lx, char *buf, size_t len, const char *what)
{
	size_t n = 0;

	ws(lx);
	if (!(isalpha((unsigned char)*lx->s) || *lx->s == '_' ||
	      *lx->s == ':')) {
		fail(lx, "parse error: expected %s at \"%.20s\"", what, lx->s);
		buf[0] = '\0';
		return;
	}
	while (isalnum((unsigned char)lx->s[n]) || lx->s[n] == '_' ||
	       lx->s[n] == ':')
		n++;
	if (n >= len) {
		fail(lx, "%s too long", what);
		n = len - 1;
	}
	memcpy(buf, lx->s, n);
	buf[n] = '\0';
	lx->s += n;
}

static bool
keyword(struct lex *lx, const char *kw)
{
	size_t n = strlen(kw);

	ws(lx);
	if (strncmp(lx->s, kw, n) == 0 &&
	    !(isalnum((unsigned char)lx->s[n]) || lx->s[n] == '_')) {
		lx->s += n;
		return true;
	}
	return false;
}

static void
string_lit(struct lex *lx, char *buf, size_t len)
{
	char q;
	size_t n = 0;

	ws(lx);
	q = *lx->s;
	if (q != '"' && q != '\'') {
		fail(lx, "parse error: expected a string at \"%.20s\"", lx->s);
		return;
	}
	lx->s++;
	while (*lx->s && *lx->s != q) {
		char c = *lx->s++;

		if (c == '\\') {
			c = *lx->s++;
			if (c == 'n')
				c = '\n';
			else if (c == '\0') {
				lx->s--;
				break;
			}
		}
		if (n + 1 >= len) {
			fail(lx, "label value too long");
			return;
		}
		buf[n++] = c;
	}
	buf[n] = '\0';
	if (*lx->s != q) {
		fail(lx, "parse error: unterminated string");
		return;
	}
	lx->s++;
}

static void
by_clause(struct lex *lx, struct pexpr *e)
{
	if (!keyword(lx, "by"))
		return;
	e->has_by = true;
	expect(lx, '(');
	while (!lx->failed && !peek(lx, ')')) {
		if (e->n_by == PQ_MAX_BY) {
			fail(lx, "too many grouping labels");
			return;
		}
		ident(lx, e->by[e->n_by++], sizeof(e->by[0]), "a label name");
		if (!peek(lx, ')'))
			expect(lx, ',');
	}
	expect(lx, ')');
}

static void
duration(struct lex *lx, int64_t *ms)
{
	char *end;
	double v;
	double unit;

	ws(lx);
	if (!isdigit((unsigned char)*lx->s)) {
		fail(lx, "parse error: expected a duration at \"%.20s\"", lx->s);
		return;
	}
	v = strtod(lx->s, &end);
	lx->s = end;
	if (strncmp(lx->s, "ms", 2) == 0) {
		unit = 1;
		lx->s += 2;
	} else if (*lx->s == 's' || *lx->s == 'm' || *lx->s == 'h') {
		unit = *lx->s == 's' ? 1e3 : *lx->s == 'm' ? 6e4 : 3.6e6;
		lx->s++;
	} else {
		fail(lx, "parse error: a duration needs a unit (ms, s, m, h)");
		return;
	}
	if (!(v > 0) || v * unit > 366.0 * 86400e3) {
		fail(lx, "range must be positive and at most a year");
		return;
	}
	*ms = (int64_t)(v * unit);
	if (*ms < 1)
		fail(lx, "range must be at least 1ms");
}

static void
rate_call(struct lex *lx, struct pexpr *e)
{
	if (keyword(lx, "rate"))
		e->increase = false;
	else if (keyword(lx, "increase"))
		e->increase = true;
	else {
		fail(lx, "unsupported expression at \"%.20s\" (the fake answers "
		     "sum by (...) (rate(x[W])) and histogram_quantile of it)",
		     lx->s);
		return;
	}
	expect(lx, '(');
	ident(lx, e->metric, sizeof(e->metric), "a metric name");
	if (peek(lx, '{')) {
		lx->s++;
		while (!lx->failed && !peek(lx, '}')) {
			struct matcher *m;

			if (e->n_m == PQ_MAX_MATCHERS) {
				fail(lx, "too many label matchers");
				return;
			}
			m = &e->m[e->n_m++];
			ident(lx, m->name, sizeof(m->name), "a label name");
			ws(lx);
			if (strncmp(lx->s, "!=", 2) == 0) {
				m->op = M_NE;
				lx->s += 2;
			} else if (*lx->s == '=' && lx->s[1] != '~') {
				m->op = M_EQ;
				lx->s++;
			} else {
				fail(lx, "unsupported matcher at \"%.20s\" (= and != "
				     "only)", lx->s);
				return;
			}
			string_lit(lx, m->value, sizeof(m->value));
			if (!peek(lx, '}'))
				expect(lx, ',');
		}
		expect(lx, '}');
	}
	expect(lx, '[');
	duration(lx, &e->window_ms);
	expect(lx, ']');
	expect(lx, ')');
}

/* sum [by (...)] ( rate(...) ) [by (...)] */
static void
sum_expr(struct lex *lx, struct pexpr *e)
{
	if (!keyword(lx, "sum")) {
		fail(lx, "unsupported expression at \"%.20s\" (expected sum)",
		     lx->s);
		return;
	}
	by_clause(lx, e);
	expect(lx, '(');
	rate_call(lx, e);
	expect(lx, ')');
	if (!e->has_by)
		by_clause(lx, e);
}

int
pq_parse(const char *expr, struct pexpr *e, char *why, size_t whylen)
{
	struct lex lx = {.s = expr, .why = why, .whylen = whylen};

	memset(e, 0, sizeof(*e));
	e->quantile = NAN;
	if (strlen(expr) > PQ_MAX_EXPR) {
		snprintf(why, whylen, "query longer than %d bytes", PQ_MAX_EXPR);
		return -1;
	}
	if (keyword(&lx, "histogram_quantile")) {
		char *end;

		expect(&lx, '(');
		ws(&lx);
		e->quantile = strtod(lx.s, &end);
		if (end == lx.s || isnan(e->quantile))
			fail(&lx, "parse error: expected the quantile");
		lx.s = end;
		expect(&lx, ',');
		sum_expr(&lx, e);
		expect(&lx, ')');
	} else {
		sum_expr(&lx, e);
	}
	ws(&lx);
	if (!lx.failed && *lx.s)
		fail(&lx, "parse error: unexpected \"%.20s\"", lx.s);
	if (!lx.failed && !isnan(e->quantile)) {
		bool le = false;

		for (size_t i = 0; i < e->n_by; i++)
			le |= strcmp(e->by[i], "le") == 0;
		if (!le)
			fail(&lx, "histogram_quantile needs sum by (le, ...)");
	}
	return lx.failed ? -1 : 0;
}
