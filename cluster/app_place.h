/* cluster/app_place.h - spread an app's manifests over the clusters as the
 * seed does.
 *
 * Per cluster: first the app namespace labelled istio-injection=enabled,
 * then every Service (all clusters, so every name resolves on both sides),
 * then every other object only in the cluster its placement names.  An
 * object is placed by its name, else by its `app` label, else (workloads)
 * by its pod template's `app` label.  The VM service's own objects (name
 * or app label == vm_service) are left out entirely: the vm-group step
 * owns its Service, and its Deployment belongs to the migration.
 */
#ifndef MESHVM_CLUSTER_APP_PLACE_H
#define MESHVM_CLUSTER_APP_PLACE_H

#include <jansson.h>
#include <stddef.h>

#include "cluster/manifests.h"
#include "core/err.h"

struct app_place_opts {
	const char *const *clusters;
	size_t n_clusters;
	const json_t *placement; /* {"frontend": "cluster2", ...} */
	const char *ns;          /* the app namespace, e.g. default */
	const char *vm_service;  /* e.g. productcatalogservice */
};

/* *out = {"cluster1": [objects...], "cluster2": [...]} (new ref). */
int app_place(const struct manifests *app, const struct app_place_opts *o,
              json_t **out, struct mv_err *err);

#endif
