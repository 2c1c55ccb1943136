/* cluster/gke.h - GKE v1 clusters and operations. */
#ifndef MESHVM_CLUSTER_GKE_H
#define MESHVM_CLUSTER_GKE_H

#include <jansson.h>
#include <stdbool.h>

#include "cluster/gcp.h"

struct gke_cluster_spec {
	const char *name;
	const char *zone;
	const char *machine_type;
	int nodes;
	const char *network;
	const char *node_tag;  /* network tag on the nodes ("<name>-node") */
	const char *meshvm_id; /* resourceLabels["meshvm-id"] */
};

/* The create request body, exactly the fields of the real API. */
json_t *gke_cluster_body(const struct gcp *g,
                         const struct gke_cluster_spec *spec);

/* 0 found (*out set), 1 absent, -1 error. */
int gke_cluster_get(struct gcp *g, const char *zone, const char *name,
                    json_t **out, struct mv_err *err);
/* 0 accepted (*op_name malloc'd), 1 already exists, -1 error
 * (*outcome_unknown: the create may have happened; read it back). */
int gke_cluster_create(struct gcp *g, const struct gke_cluster_spec *spec,
                       char **op_name, bool *outcome_unknown,
                       struct mv_err *err);
/* Create, resolving an unknown outcome (reset, timeout, 5xx) by reading
 * the cluster back and resending while it is absent (3 sends at most):
 * 0 accepted (*op_name malloc'd), 1 the cluster exists (*existing, new
 * reference: the caller checks it is its own), -1 error.  After failed
 * sends the error lists them ("POST URL → 503, 503, <reset>"), never the
 * read-back's expected 404. */
int gke_cluster_create_resolved(struct gcp *g,
                                const struct gke_cluster_spec *spec,
                                char **op_name, json_t **existing,
                                struct mv_err *err);
/* 0 accepted (*op_name), 1 absent, -1 error. */
int gke_cluster_delete(struct gcp *g, const char *zone, const char *name,
                       char **op_name, struct mv_err *err);
int gke_operation_get(struct gcp *g, const char *zone, const char *op,
                      json_t **out, struct mv_err *err);
/* 1 DONE, 0 still running, -1 DONE with an error (err says which). */
int gke_operation_state(const json_t *op, struct mv_err *err);
/* The unfinished operation of TYPE ("CREATE_CLUSTER") on a cluster, from
 * operations.list: 0 found (*op_name malloc'd), 1 none, -1 error. */
int gke_operation_find(struct gcp *g, const char *zone, const char *cluster,
                       const char *type, char **op_name, struct mv_err *err);
/* Every cluster of the project, all locations ("-"): *out a new array. */
int gke_cluster_list_all(struct gcp *g, json_t **out, struct mv_err *err);
/* GET the operation: 1 DONE, 0 running, -1 error or DONE with an error.
 * *status (may be NULL; replaced, malloc'd) gets its status. */
int gke_operation_done(struct gcp *g, const char *zone, const char *op,
                       char **status, struct mv_err *err);
/* One poll of a cluster being created: its operation *op while there is
 * one (freed and NULLed once DONE), then the cluster.  *status (replaced,
 * malloc'd) says where it is.  1 RUNNING (*running, new reference), 0 not
 * yet, 2 failed (*failed says why), -1 a call failed (err). */
int gke_cluster_progress(struct gcp *g, const char *zone, const char *name,
                         char **op, char **status, json_t **running,
                         struct mv_err *failed, struct mv_err *err);
/* Machine type and node count of the first node pool (or the cluster's
 * nodeConfig / currentNodeCount). */
const char *gke_cluster_machine_type(const json_t *cluster);
json_int_t gke_cluster_nodes(const json_t *cluster);
/* Copy what later steps need (endpoint, CIDRs, status, version, self
 * link, CA) from a live cluster into an object (a state record). */
void gke_cluster_outputs(json_t *rec, const json_t *cluster);
/* resourceLabels["meshvm-id"] of a cluster, or NULL. */
const char *gke_cluster_meshvm_id(const json_t *cluster);

#endif
