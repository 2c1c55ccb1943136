/* cluster/migrate_objs.h - the Kubernetes objects of a migration (pure).
 *
 * Destinations (our choice, docs/fake.md "Traffic and metrics"): ONE
 * Service (service.name) and a DestinationRule with subsets `vm` (label
 * version=vm: the WorkloadGroup's entries) and `gke` (version=gke: the
 * Deployment `meshvm migrate` puts in migration.cluster).  The
 * VirtualService `productcatalog-migration` routes the service's host to
 * the two subsets with the step's weights (they sum to 100); it and the
 * DestinationRule go to every cluster, so every caller splits the same.
 */
#ifndef MESHVM_CLUSTER_MIGRATE_OBJS_H
#define MESHVM_CLUSTER_MIGRATE_OBJS_H

#include <jansson.h>

#include "cluster/migrate_gate.h"

#define MIGRATE_VS_NAME "productcatalog-migration"
#define MIGRATE_SUBSET_VM "vm"
#define MIGRATE_SUBSET_GKE "gke"
#define MIGRATE_VERSION_LABEL "version"
#define MIGRATE_ISTIO_API "networking.istio.io/v1"

struct migrate_svc {
	const char *name;  /* productcatalogservice */
	const char *ns;    /* default */
	const char *id;    /* the deployment id: label meshvm-id */
};

/* The service's cluster-local host name (malloc'd). */
char *migrate_host(const struct migrate_svc *s);
json_t *migrate_virtual_service(const struct migrate_svc *s,
                                struct migrate_weights w);
json_t *migrate_destination_rule(const struct migrate_svc *s);
/* The weights a live VirtualService routes to the two subsets: 0, or -1
 * when it is not the shape migrate_virtual_service makes (why says how). */
int migrate_vs_weights(const json_t *vs, struct migrate_weights *out,
                       char *why, size_t len);
/* The GKE copy of the app's Deployment `dep` (not modified): namespace
 * s->ns when it has none, label meshvm-id, version=gke on the object, its
 * selector and its pod template (new reference; NULL when dep has no
 * spec.selector.matchLabels or spec.template). */
json_t *migrate_gke_deployment(const json_t *dep,
                               const struct migrate_svc *s);
/* The JSON merge patch that labels a WorkloadGroup's entries (and the
 * entries themselves: `entry`) version=vm. */
json_t *migrate_vm_label_patch(int entry);

#endif
