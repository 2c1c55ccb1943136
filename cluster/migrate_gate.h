/* cluster/migrate_gate.h - the migration's metric gate and weights plan.
 *
 * The gate reads source-reported Istio metrics (the callers report: the
 * VM is not scraped) for one service, per destination subset (label
 * destination_version, the DestinationRule subset: "vm", "gke"):
 *   success rate = 1 - failed / all requests over the window, failed =
 *     response_code 5xx or a non-zero grpc_response_status;
 *   p99 = histogram_quantile(0.99, ...) of the request durations.
 * Only destinations that carry traffic at this step are gated.  No data
 * (Prometheus unreachable, an error answer, no requests, a NaN p99)
 * FAILS the gate; it never passes.  The decision names the destination,
 * the metric, the value and the threshold.
 */
#ifndef MESHVM_CLUSTER_MIGRATE_GATE_H
#define MESHVM_CLUSTER_MIGRATE_GATE_H

#include <stdbool.h>
#include <stddef.h>

#include "cluster/prom.h"
#include "core/err.h"

#define GATE_MAX_DEST 8
#define MIGRATE_MAX_STEPS 100

struct gate_limits {
	double min_success_rate;  /* 0..1, e.g. 0.99 */
	double max_p99_ms;
	long window_s;            /* rate window: the step interval */
};

struct gate_dest {
	char name[64];            /* the subset */
	double rps;               /* requests per second over the window */
	double success_rate;      /* NaN when no requests */
	double p99_ms;            /* NaN when no data */
	bool pass;
};

struct gate_result {
	bool pass;
	char reason[512];         /* one line: why it failed, or the values */
	struct gate_dest d[GATE_MAX_DEST];
	size_t n;
};

/* The two queries the gate sends for `service` (buffers of len). */
int gate_query_requests(char *buf, size_t len, const char *service,
                        long window_s);
int gate_query_p99(char *buf, size_t len, const char *service,
                   long window_s);

/* Decide from the two answers (pure): dests are the subsets to gate. */
void gate_decide(const struct prom_vector *requests,
                 const struct prom_vector *p99, const char *service,
                 const char *const *dests, size_t n_dests,
                 const struct gate_limits *lim, struct gate_result *out);

/* Query prom_url and decide.  A failed query is a failed gate (out says
 * why; returns 0): only bad arguments return -1. */
int gate_evaluate(struct mv_http *h, const char *prom_url,
                  const char *service, const char *const *dests,
                  size_t n_dests, const struct gate_limits *lim,
                  struct gate_result *out, struct mv_err *err);

/* ---- the weights plan ---- */

struct migrate_weights {
	int vm, gke;              /* percent; vm + gke == 100 */
};

/* "10,50,100" (the GKE share per step): strictly increasing, each 1 to
 * 100, ending at 100, at most MIGRATE_MAX_STEPS.  Errors name `what`
 * (the option or config key). */
int migrate_steps_parse(const char *text, const char *what, int *steps,
                        size_t *n, struct mv_err *err);
/* The weights at each step: out[i] = {100 - steps[i], steps[i]}. */
int migrate_weights_plan(const int *steps, size_t n,
                         struct migrate_weights *out, struct mv_err *err);

#endif
