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
/* 0 accepted (*op_name), 1 already exists, -1 error. */
int compute_firewall_insert(struct gcp *g, const json_t *body,
                            char **op_name, bool *outcome_unknown,
                            struct mv_err *err);
/* 0 accepted (*op_name), 1 absent, -1 error. */
int compute_firewall_delete(struct gcp *g, const char *name, char **op_name,
                            struct mv_err *err);
/* Wait for an operation (zone NULL: global) until DONE or deadline_ms
 * passes; an operation that ends with an error fails with its message. */
int compute_operation_wait(struct gcp *g, const char *zone, const char *op,
                           long deadline_ms, struct mv_err *err);
/* A full resource URL under the configured compute endpoint, e.g.
 * compute_link(g, "global/networks/default"). malloc'd. */
char *compute_link(const struct gcp *g, const char *path);

#endif
