/* cluster/compute.h - Compute Engine v1: zones, project, firewalls and
 * operations (POST …/operations/OP/wait, zonal or global). */
#ifndef MESHVM_CLUSTER_COMPUTE_H
#define MESHVM_CLUSTER_COMPUTE_H

#include <jansson.h>
#include <stdbool.h>

#include "cluster/gcp.h"

/* 0 found (*out), 1 absent, -1 error. */
int compute_zone_get(struct gcp *g, const char *zone, json_t **out,
                     struct mv_err *err);
int compute_project_get(struct gcp *g, json_t **out, struct mv_err *err);
int compute_firewall_get(struct gcp *g, const char *name, json_t **out,
                         struct mv_err *err);
/* 0 accepted (*op_name), 1 already exists, -1 error.  request_id (a
 * UUID, may be NULL) makes a resend safe: Compute acts on it once, so the
 * call is retried on resets and 5xx like an idempotent one. */
int compute_firewall_insert(struct gcp *g, const json_t *body,
                            const char *request_id, char **op_name,
                            bool *outcome_unknown, struct mv_err *err);
/* firewalls.patch: change the rule in place (no gap with no rule).
 * 0 accepted (*op_name), 1 absent, -1 error. */
int compute_firewall_patch(struct gcp *g, const char *name,
                           const json_t *body, const char *request_id,
                           char **op_name, struct mv_err *err);
/* Every firewall rule of the project (all pages): *out a new array. */
/* GET every page of a Compute list (path under the project, e.g.
 * "zones/Z/instances"; filter already URL-escaped, or NULL): the items in
 * *out. */
int compute_list(struct gcp *g, const char *path, const char *filter,
                 json_t **out, struct mv_err *err);
int compute_firewall_list(struct gcp *g, json_t **out, struct mv_err *err);
/* 0 accepted (*op_name), 1 absent, -1 error. */
int compute_firewall_delete(struct gcp *g, const char *name, char **op_name,
                            struct mv_err *err);
/* Wait for an operation (zone NULL: global) until DONE or the deadline
 * (mv_now_ms() clock) passes; an operation that ends with an error fails
 * with its message.  label (may be NULL) names the progress line drawn
 * on a terminal when the wait lasts more than a second. */
int compute_operation_wait(struct gcp *g, const char *zone, const char *op,
                           long deadline, const char *label,
                           struct mv_err *err);
/* One look at an operation: 1 DONE, 0 not yet, -1 error or DONE with an
 * error (err says which). */
int compute_operation_done(struct gcp *g, const char *zone, const char *op,
                           struct mv_err *err);
/* A full resource URL under the configured compute endpoint, e.g.
 * compute_link(g, "global/networks/default"). malloc'd. */
char *compute_link(const struct gcp *g, const char *path);

#endif
