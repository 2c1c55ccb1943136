/* cluster/istio_glue.h - the Istio objects meshvm generates next to a
 * rendered control plane, and the checks on that control plane.
 *
 * The objects are those of Istio's multicluster samples
 * (samples/multicluster/gen-eastwest-gateway.sh, expose-istiod.yaml,
 * expose-services.yaml), as JSON, all in istio-system:
 *   - ServiceAccount, Deployment and Service istio-eastwestgateway
 *     (labels istio: eastwestgateway, topology.istio.io/network; env
 *     ISTIO_META_REQUESTED_NETWORK_VIEW; ports 15021, 15443, 15012,
 *     15017), an internal LoadBalancer with global access on GKE because
 *     istiod's ports must not face the internet and the VM sits in
 *     another region;
 *   - Gateway istiod-gateway (TLS PASSTHROUGH 15012, 15017) and
 *     VirtualService istiod-vs (to istiod 15012 and 443);
 *   - Gateway cross-network-gateway (15443 AUTO_PASSTHROUGH, *.local).
 */
#ifndef MESHVM_CLUSTER_ISTIO_GLUE_H
#define MESHVM_CLUSTER_ISTIO_GLUE_H

#include <jansson.h>

#include "cluster/manifests.h"
#include "core/err.h"

#define ISTIO_NS "istio-system"
#define ISTIO_EASTWEST "istio-eastwestgateway"

struct istio_mesh_ids {
	const char *mesh_id;      /* values.global.meshID */
	const char *cluster;      /* values.global.multiCluster.clusterName */
	const char *network;      /* values.global.network */
	const char *trust_domain; /* meshConfig.trustDomain; NULL: not checked */
	const char *version;      /* proxyv2 image tag, e.g. "1.26.2" */
	const char *hub;          /* NULL: docker.io/istio */
};

/* Namespace istio-system labelled topology.istio.io/network (new ref). */
json_t *istio_glue_namespace(const struct istio_mesh_ids *ids);

json_t *istio_glue_eastwest_service_account(void);
json_t *istio_glue_eastwest_deployment(const struct istio_mesh_ids *ids);
json_t *istio_glue_eastwest_service(const struct istio_mesh_ids *ids);
json_t *istio_glue_istiod_gateway(void);
json_t *istio_glue_istiod_virtual_service(void);
json_t *istio_glue_cross_network_gateway(void);

/* All of the above but the namespace, in apply order (new array). */
json_t *istio_glue_objects(const struct istio_mesh_ids *ids);

/* Read meshID, clusterName and network back from a rendered control plane
 * (ConfigMap istio-sidecar-injector `values`, ConfigMap istio `mesh`,
 * Deployment istiod's CLUSTER_ID) and refuse any that differs from ids,
 * naming the file and line.  The injector values must be there. */
int istio_manifest_check(const struct manifests *m,
                         const struct istio_mesh_ids *ids,
                         struct mv_err *err);

/* Refuse a user object that is also in `generated` (a JSON array), with
 * the user's file:line; namespaced objects without a namespace stand for
 * default_ns. */
int istio_glue_check_collisions(const struct manifests *user,
                                const json_t *generated,
                                const char *default_ns, struct mv_err *err);

#endif
