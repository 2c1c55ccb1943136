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
/* 0 accepted (*op_name), 1 absent, -1 error. */
int gke_cluster_delete(struct gcp *g, const char *zone, const char *name,
                       char **op_name, struct mv_err *err);
int gke_operation_get(struct gcp *g, const char *zone, const char *op,
                      json_t **out, struct mv_err *err);
/* 1 DONE, 0 still running, -1 DONE with an error (err says which). */
int gke_operation_state(const json_t *op, struct mv_err *err);
/* resourceLabels["meshvm-id"] of a cluster, or NULL. */
const char *gke_cluster_meshvm_id(const json_t *cluster);

#endif
