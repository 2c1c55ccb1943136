/* harness/fake/promql.c - the fake Prometheus's store: series, their
 * snapshots and the text exposition (promql.h says which PromQL;
 * promql_parse.c and promql_eval.c answer queries). */
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "harness/fake/promql_int.h"


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
