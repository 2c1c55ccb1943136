/* harness/fake/promql_eval.c - a parsed query evaluated over the
 * store's snapshots: instant and range queries (promql.h). */
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "harness/fake/promql_int.h"

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

	if (pq_parse(expr, &e, why, whylen) != 0)
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
	if (pq_parse(expr, &e, why, whylen) != 0)
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
