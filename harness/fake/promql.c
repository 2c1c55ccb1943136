/* harness/fake/promql.c - the fake Prometheus's store and evaluator
 * (promql.h says which PromQL). */
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "harness/fake/promql.h"

struct pq_fam {
	char *name, *type;
};

struct pq_series {
	int fam;
	char *name;
	json_t *labels;
	double cur;
	double *hist;            /* PQ_HIST, indexed like db->t */
};

struct pq_db {
	struct pq_fam *fams;
	size_t n_fams;
	struct pq_series *s;
	size_t n;
	int64_t t[PQ_HIST];     /* ring of snapshot times */
	size_t head, count;     /* next slot, snapshots kept */
};

struct pq_db *
pq_new(void)
{
	return calloc(1, sizeof(struct pq_db));
}

void
pq_free(struct pq_db *db)
{
	if (db == NULL)
		return;
	for (size_t i = 0; i < db->n_fams; i++) {
		free(db->fams[i].name);
		free(db->fams[i].type);
	}
	free(db->fams);
	for (size_t i = 0; i < db->n; i++) {
		free(db->s[i].name);
		json_decref(db->s[i].labels);
		free(db->s[i].hist);
	}
	free(db->s);
	free(db);
}

int
pq_family(struct pq_db *db, const char *name, const char *type)
{
	struct pq_fam *nf;

	for (size_t i = 0; i < db->n_fams; i++)
		if (strcmp(db->fams[i].name, name) == 0)
			return (int)i;
	nf = realloc(db->fams, (db->n_fams + 1) * sizeof(*nf));
	if (nf == NULL)
		abort();
	db->fams = nf;
	nf[db->n_fams].name = strdup(name);
	nf[db->n_fams].type = strdup(type);
	if (!nf[db->n_fams].name || !nf[db->n_fams].type)
		abort();
	return (int)db->n_fams++;
}

int
pq_series(struct pq_db *db, int fam, const char *name, const json_t *labels)
{
	struct pq_series *ns;

	for (size_t i = 0; i < db->n; i++)
		if (strcmp(db->s[i].name, name) == 0 &&
		    json_equal(db->s[i].labels, (json_t *)labels))
			return (int)i;
	if (db->n >= PQ_MAX_SERIES)
		return -1;
	ns = realloc(db->s, (db->n + 1) * sizeof(*ns));
	if (ns == NULL)
		abort();
	db->s = ns;
	ns += db->n;
	memset(ns, 0, sizeof(*ns));
	ns->fam = fam;
	ns->name = strdup(name);
	ns->labels = json_deep_copy(labels);
	ns->hist = calloc(PQ_HIST, sizeof(double)); /* 0 before it existed */
	if (!ns->name || !ns->labels || !ns->hist)
		abort();
	return (int)db->n++;
}

void
pq_add(struct pq_db *db, int series, double delta)
{
	if (series >= 0 && (size_t)series < db->n)
		db->s[series].cur += delta;
}

double
pq_value(const struct pq_db *db, int series)
{
	return series >= 0 && (size_t)series < db->n ? db->s[series].cur : 0;
}

void
pq_snapshot(struct pq_db *db, int64_t t_ms)
{
	if (db->count && t_ms <= pq_last(db))
		return;
	db->t[db->head] = t_ms;
	for (size_t i = 0; i < db->n; i++)
		db->s[i].hist[db->head] = db->s[i].cur;
	db->head = (db->head + 1) % PQ_HIST;
	if (db->count < PQ_HIST)
		db->count++;
}

int64_t
pq_last(const struct pq_db *db)
{
	return db->count ? db->t[(db->head + PQ_HIST - 1) % PQ_HIST]
	                 : INT64_MIN;
}

void
pq_fmt(double v, char *buf, size_t len)
{
	if (isnan(v))
		snprintf(buf, len, "NaN");
	else if (isinf(v))
		snprintf(buf, len, v > 0 ? "+Inf" : "-Inf");
	else
		snprintf(buf, len, "%.15g", v);
}

/* ---- exposition ---- */

struct sbuf {
	char *p;
	size_t len, cap;
};

static void sb_printf(struct sbuf *b, const char *fmt, ...) MV_PRINTF(2, 3);

static void
sb_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->p ? b->p + b->len : NULL,
		              b->p ? b->cap - b->len : 0, fmt, ap);
		va_end(ap);
		if (n < 0)
			abort();
		if (b->p && b->len + (size_t)n < b->cap) {
			b->len += (size_t)n;
			return;
		}
		b->cap = (b->cap + (size_t)n + 1) * 2;
		b->p = realloc(b->p, b->cap);
		if (b->p == NULL)
			abort();
	}
}

/* A label value escaped as the text format wants (\\, \", \n). */
static void
sb_label_value(struct sbuf *b, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			sb_printf(b, "\\%c", *v);
		else if (*v == '\n')
			sb_printf(b, "\\n");
		else
			sb_printf(b, "%c", *v);
	}
}

char *
pq_exposition(const struct pq_db *db, size_t *len)
{
	struct sbuf b = {0};
	char num[32];

	sb_printf(&b, "%s", "");
	for (size_t f = 0; f < db->n_fams; f++) {
		sb_printf(&b, "# TYPE %s %s\n", db->fams[f].name,
		          db->fams[f].type);
		for (size_t i = 0; i < db->n; i++) {
			const char *k;
			json_t *v;
			bool first = true;

			if (db->s[i].fam != (int)f)
				continue;
			sb_printf(&b, "%s{", db->s[i].name);
			json_object_foreach(db->s[i].labels, k, v) {
				sb_printf(&b, "%s%s=\"", first ? "" : ",", k);
				sb_label_value(&b, json_string_value(v) ?
				               json_string_value(v) : "");
				sb_printf(&b, "\"");
				first = false;
			}
			pq_fmt(db->s[i].cur, num, sizeof(num));
			sb_printf(&b, "} %s\n", num);
		}
	}
	*len = b.len;
	return b.p;
}

/* ---- parsing ---- */

enum { M_EQ, M_NE };

struct matcher {
	char name[64];
	char value[256];
	int op;
};

#define PQ_MAX_MATCHERS 16
#define PQ_MAX_BY 16

struct pexpr {
	double quantile;         /* NaN: not histogram_quantile */
	bool increase;
	bool has_by;
	char by[PQ_MAX_BY][64];
	size_t n_by;
	char metric[128];
	struct matcher m[PQ_MAX_MATCHERS];
	size_t n_m;
	int64_t window_ms;
};

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

static int
parse(const char *expr, struct pexpr *e, char *why, size_t whylen)
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

/* ---- evaluation ---- */

/* The snapshot slot at or before t, or -1. */
static long
slot_at(const struct pq_db *db, int64_t t)
{
	for (size_t k = 0; k < db->count; k++) {
		size_t i = (db->head + PQ_HIST - 1 - k) % PQ_HIST;

		if (db->t[i] <= t)
			return (long)i;
	}
	return -1;
}

static bool
matches(const struct pq_series *s, const struct pexpr *e)
{
	if (strcmp(s->name, e->metric) != 0)
		return false;
	for (size_t i = 0; i < e->n_m; i++) {
		const char *v = json_string_value(
			json_object_get(s->labels, e->m[i].name));
		bool eq = strcmp(v ? v : "", e->m[i].value) == 0;

		if (strcmp(e->m[i].name, "__name__") == 0)
			eq = strcmp(s->name, e->m[i].value) == 0;
		if (eq != (e->m[i].op == M_EQ))
			return false;
	}
	return true;
}

/* {grouping labels} -> summed rate, at t; NULL when nothing is there. */
static json_t *
eval_sum(const struct pq_db *db, const struct pexpr *e, int64_t t)
{
	long now = slot_at(db, t), then;
	json_t *groups = json_object();
	double secs = (double)e->window_ms / 1000.0;

	if (now < 0)
		return groups;
	then = slot_at(db, t - e->window_ms);
	for (size_t i = 0; i < db->n; i++) {
		const struct pq_series *s = &db->s[i];
		double v0 = then >= 0 ? s->hist[then] : 0, d;
		json_t *key = json_object(), *g;
		char *ks;

		if (!matches(s, e)) {
			json_decref(key);
			continue;
		}
		d = s->hist[now] - v0;
		if (d < 0) /* a reset: count from 0 */
			d = s->hist[now];
		if (!e->increase)
			d /= secs;
		for (size_t b = 0; b < e->n_by; b++) {
			json_t *lv = json_object_get(s->labels, e->by[b]);

			if (lv)
				json_object_set(key, e->by[b], lv);
		}
		ks = json_dumps(key, JSON_SORT_KEYS | JSON_COMPACT);
		g = json_object_get(groups, ks);
		if (g == NULL) {
			g = json_pack("{s:o,s:f}", "metric", key, "v", 0.0);
			json_object_set_new(groups, ks, g);
		} else {
			json_decref(key);
		}
		json_object_set_new(g, "v", json_real(
			json_real_value(json_object_get(g, "v")) + d));
		free(ks);
	}
	return groups;
}

struct bucket {
	double le, v;
};

static int
bucket_cmp(const void *a, const void *b)
{
	double x = ((const struct bucket *)a)->le;
	double y = ((const struct bucket *)b)->le;

	return x < y ? -1 : x > y;
}

/* Prometheus's bucketQuantile. */
static double
quantile(double q, struct bucket *b, size_t n)
{
	double rank, start, count;
	size_t i;

	if (q < 0)
		return -INFINITY;
	if (q > 1)
		return INFINITY;
	qsort(b, n, sizeof(*b), bucket_cmp);
	if (n < 2 || !isinf(b[n - 1].le))
		return NAN;
	for (i = 1; i < n; i++) /* monotonic, as Prometheus forces it */
		if (b[i].v < b[i - 1].v)
			b[i].v = b[i - 1].v;
	if (b[n - 1].v == 0)
		return NAN;
	rank = q * b[n - 1].v;
	for (i = 0; i < n - 1 && b[i].v < rank; i++)
		;
	if (i == n - 1)
		return b[n - 2].le;
	if (i == 0 && b[0].le <= 0)
		return b[0].le;
	start = i == 0 ? 0 : b[i - 1].le;
	count = b[i].v - (i == 0 ? 0 : b[i - 1].v);
	rank -= i == 0 ? 0 : b[i - 1].v;
	return start + (b[i].le - start) * (rank / count);
}

struct row {
	json_t *metric;
	double v;
};

static void
rows_free(struct row *r, size_t n)
{
	for (size_t i = 0; i < n; i++)
		json_decref(r[i].metric);
	free(r);
}

static void
row_add(struct row **r, size_t *n, json_t *metric, double v)
{
	struct row *nr = realloc(*r, (*n + 1) * sizeof(**r));

	if (nr == NULL)
		abort();
	nr[*n].metric = json_incref(metric);
	nr[*n].v = v;
	*r = nr;
	(*n)++;
}

/* The rows (metric, value) at t; v may be NaN or infinite. */
static size_t
eval_at(const struct pq_db *db, const struct pexpr *e, int64_t t,
        struct row **out)
{
	json_t *groups = eval_sum(db, e, t), *g, *hs;
	const char *ks;
	size_t n = 0;

	*out = NULL;
	if (isnan(e->quantile)) {
		json_object_foreach(groups, ks, g)
			row_add(out, &n, json_object_get(g, "metric"),
			        json_real_value(json_object_get(g, "v")));
		json_decref(groups);
		return n;
	}
	/* regroup without le; collect the buckets */
	hs = json_object();
	json_object_foreach(groups, ks, g) {
		json_t *m = json_deep_copy(json_object_get(g, "metric")), *h;
		/* from g's labels: m loses its le below */
		const char *les = json_string_value(json_object_get(
			json_object_get(g, "metric"), "le"));
		char *hk;
		double le;

		if (les == NULL) {
			json_decref(m);
			continue;
		}
		le = strcmp(les, "+Inf") == 0 ? INFINITY : strtod(les, NULL);
		if (isnan(le)) {
			json_decref(m);
			continue;
		}
		json_object_del(m, "le");
		hk = json_dumps(m, JSON_SORT_KEYS | JSON_COMPACT);
		h = json_object_get(hs, hk);
		if (h == NULL) {
			h = json_pack("{s:o,s:[]}", "metric", m, "b");
			json_object_set_new(hs, hk, h);
		} else {
			json_decref(m);
		}
		/* +Inf is not JSON: keep le as text */
		json_array_append_new(json_object_get(h, "b"), json_pack(
			"[s,f]", les, json_real_value(json_object_get(g, "v"))));
		free(hk);
	}
	json_object_foreach(hs, ks, g) {
		json_t *arr = json_object_get(g, "b");
		size_t nb = json_array_size(arr);
		struct bucket *b = calloc(nb ? nb : 1, sizeof(*b));

		if (b == NULL)
			abort();
		for (size_t i = 0; i < nb; i++) {
			json_t *p = json_array_get(arr, i);
			const char *les = json_string_value(json_array_get(p, 0));

			b[i].le = strcmp(les, "+Inf") == 0 ? INFINITY
			                                   : strtod(les, NULL);
			b[i].v = json_real_value(json_array_get(p, 1));
		}
		row_add(out, &n, json_object_get(g, "metric"),
		        quantile(e->quantile, b, nb));
		free(b);
	}
	json_decref(hs);
	json_decref(groups);
	return n;
}

static json_t *
sample(int64_t t, double v)
{
	char num[32];

	pq_fmt(v, num, sizeof(num));
	return json_pack("[f,s]", (double)t / 1000.0, num);
}

json_t *
pq_query(const struct pq_db *db, const char *expr, int64_t t_ms, char *why,
         size_t whylen)
{
	struct pexpr e;
	struct row *rows;
	json_t *res;
	size_t n;

	if (parse(expr, &e, why, whylen) != 0)
		return NULL;
	n = eval_at(db, &e, t_ms, &rows);
	res = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(res, json_pack(
			"{s:O,s:o}", "metric", rows[i].metric,
			"value", sample(t_ms, rows[i].v)));
	rows_free(rows, n);
	return json_pack("{s:s,s:o}", "resultType", "vector", "result", res);
}

json_t *
pq_query_range(const struct pq_db *db, const char *expr, int64_t start_ms,
               int64_t end_ms, int64_t step_ms, char *why, size_t whylen)
{
	struct pexpr e;
	json_t *series, *res, *s;
	const char *ks;

	if (step_ms <= 0 || end_ms < start_ms) {
		snprintf(why, whylen, "end must not be before start and step "
		         "must be positive");
		return NULL;
	}
	if ((end_ms - start_ms) / step_ms + 1 > PQ_MAX_POINTS) {
		snprintf(why, whylen, "exceeded maximum resolution of %d points "
		         "per timeseries", PQ_MAX_POINTS);
		return NULL;
	}
	if (parse(expr, &e, why, whylen) != 0)
		return NULL;
	series = json_object();
	for (int64_t t = start_ms; t <= end_ms; t += step_ms) {
		struct row *rows;
		size_t n = eval_at(db, &e, t, &rows);

		for (size_t i = 0; i < n; i++) {
			json_t *m = rows[i].metric;
			char *k = json_dumps(m, JSON_SORT_KEYS | JSON_COMPACT);

			s = json_object_get(series, k);
			if (s == NULL) {
				s = json_pack("{s:O,s:[]}", "metric", m, "values");
				json_object_set_new(series, k, s);
			}
			json_array_append_new(json_object_get(s, "values"),
			    sample(t, rows[i].v));
			free(k);
		}
		rows_free(rows, n);
	}
	res = json_array();
	json_object_foreach(series, ks, s)
		json_array_append(res, s);
	json_decref(series);
	return json_pack("{s:s,s:o}", "resultType", "matrix", "result", res);
}
