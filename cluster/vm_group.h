/* cluster/vm_group.h - the objects that make a VM service part of the
 * mesh, applied in every cluster: ServiceAccount <name>, WorkloadGroup
 * <name> (networking.istio.io/v1: metadata.labels.app, template
 * serviceAccount + network + ports, a TCP readiness probe on the port; the
 * VM's sidecar auto-registers a WorkloadEntry from it) and Service <name>
 * selecting app: <name>.  The app step never touches that Service. */
#ifndef MESHVM_CLUSTER_VM_GROUP_H
#define MESHVM_CLUSTER_VM_GROUP_H

#include <jansson.h>

struct vm_group {
	const char *name;      /* productcatalogservice */
	const char *ns;        /* default */
	const char *network;   /* the VM's Istio network, e.g. vm-network */
	const char *port_name; /* grpc */
	int port;              /* 3550 */
};

json_t *vm_group_service_account(const struct vm_group *g);
json_t *vm_group_workload_group(const struct vm_group *g);
json_t *vm_group_service(const struct vm_group *g);
/* The three, in apply order (new array). */
json_t *vm_group_objects(const struct vm_group *g);

#endif
