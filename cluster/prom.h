/* cluster/prom.h - instant queries to a Prometheus HTTP API
 * (GET BASE/api/v1/query?query=Q[&time=T]) through core/http, and the
 * answer's envelope {"status":"success","data":{"resultType":"vector",
 * "result":[{"metric":{...},"value":[t,"v"]}]}} read into a vector.
 * Bounded: at most PROM_MAX_ROWS rows; an error envelope, a non-200
 * status, a bad shape or a non-number value is an error naming the call.
 */
#ifndef MESHVM_CLUSTER_PROM_H
#define MESHVM_CLUSTER_PROM_H

#include <jansson.h>
#include <stddef.h>

#include "core/err.h"

struct mv_http;

#define PROM_MAX_ROWS 1000
#define PROM_MAX_URL 2048

struct prom_sample {
	json_t *metric;      /* the labels (owned) */
	double value;        /* may be NaN (Prometheus's "NaN") */
};

struct prom_vector {
	struct prom_sample *s;
	size_t n;
};

void prom_vector_free(struct prom_vector *v);
/* Parse an answer body; `what` names the call in errors. */
int prom_parse_vector(const char *body, size_t len, const char *what,
                      struct prom_vector *out, struct mv_err *err);
/* One instant query at `time` (unix seconds; <= 0: the server's now). */
int prom_query(struct mv_http *h, const char *base_url, const char *query,
               double time, struct prom_vector *out, struct mv_err *err);
/* The label's value in sample i, "" when absent. */
const char *prom_label(const struct prom_vector *v, size_t i,
                       const char *name);

#endif
