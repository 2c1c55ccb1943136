/* harness/fake/promql.h - a tiny in-memory time-series store and the
 * PromQL meshvm sends, for the fake's per-cluster Prometheus.
 *
 * Series are counters: the owner adds to their current values and takes
 * a snapshot at a time (ms on the traffic clock); the last PQ_HIST
 * snapshots are kept.  Queries read snapshots only:
 *   sum [by (L, ...)] (rate|increase (NAME{l="v", l!="v", ...}[W]))
 *   histogram_quantile(Q, <the sum above over NAME_bucket, by le, ...>)
 * rate(x[W]) at t is (x(t) - x(t-W)) / W, x(s) being the last snapshot
 * at or before s (no extrapolation); a series with no snapshot at or
 * before t is absent.  Answers are Prometheus's "data" object (vector or
 * matrix).  Base layer: no other part of the fake is used.
 */
#ifndef MESHVM_FAKE_PROMQL_H
#define MESHVM_FAKE_PROMQL_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define PQ_HIST 3600        /* snapshots kept */
#define PQ_MAX_SERIES 4096
#define PQ_MAX_EXPR 4096    /* query text */
#define PQ_MAX_POINTS 11000 /* query_range points, as Prometheus */

struct pq_db;

struct pq_db *pq_new(void);
void pq_free(struct pq_db *db);
/* Declare a metric family for the exposition's "# TYPE" line ("counter",
 * "histogram"); returns its index. */
int pq_family(struct pq_db *db, const char *name, const char *type);
/* The series NAME{labels} (labels: a JSON object of strings, copied) in
 * family `fam`, made at 0 when new; -1 past PQ_MAX_SERIES. */
int pq_series(struct pq_db *db, int fam, const char *name,
              const json_t *labels);
void pq_add(struct pq_db *db, int series, double delta);
double pq_value(const struct pq_db *db, int series);
/* Record every current value at t_ms (later than the last snapshot). */
void pq_snapshot(struct pq_db *db, int64_t t_ms);
/* The last snapshot's time, or INT64_MIN before any. */
int64_t pq_last(const struct pq_db *db);
/* The current values in Prometheus text exposition format 0.0.4 (heap,
 * NUL-terminated). */
char *pq_exposition(const struct pq_db *db, size_t *len);
/* Evaluate at t_ms: the "data" object (new reference), or NULL with a
 * one-line reason in why. */
json_t *pq_query(const struct pq_db *db, const char *expr, int64_t t_ms,
                 char *why, size_t whylen);
json_t *pq_query_range(const struct pq_db *db, const char *expr,
                       int64_t start_ms, int64_t end_ms, int64_t step_ms,
                       char *why, size_t whylen);
/* "1.5", "NaN", "+Inf": Prometheus's sample value text (buf >= 32). */
void pq_fmt(double v, char *buf, size_t len);

#endif
