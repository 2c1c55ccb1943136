/* cluster/vm_group.c - a VM service's mesh objects (see vm_group.h). */
#include "cluster/vm_group.h"

json_t *
vm_group_service_account(const struct vm_group *g)
{
	return json_pack("{s:s, s:s, s:{s:s, s:s}}", "apiVersion", "v1",
	                 "kind", "ServiceAccount", "metadata", "name", g->name,
	                 "namespace", g->ns);
}

json_t *
vm_group_workload_group(const struct vm_group *g)
{
	/* Labels in spec.metadata (not template.labels) so that
	 * auto-registered WorkloadEntries carry them (istio#29151). */
	return json_pack(
		"{s:s, s:s, s:{s:s, s:s, s:{s:s}},"
		" s:{s:{s:{s:s}}, s:{s:s, s:s, s:{s:i}},"
		"    s:{s:i, s:i, s:i, s:i, s:i, s:{s:i}}}}",
		"apiVersion", "networking.istio.io/v1", "kind", "WorkloadGroup",
		"metadata", "name", g->name, "namespace", g->ns, "labels", "app",
		g->name,
		"spec", "metadata", "labels", "app", g->name,
		"template", "serviceAccount", g->name, "network", g->network,
		"ports", g->port_name, g->port,
		"probe", "initialDelaySeconds", 1, "periodSeconds", 5,
		"timeoutSeconds", 3, "successThreshold", 1, "failureThreshold", 3,
		"tcpSocket", "port", g->port);
}

json_t *
vm_group_service(const struct vm_group *g)
{
	return json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s}},"
	                 " s:{s:s, s:{s:s}, s:[{s:s, s:i, s:i, s:s}]}}",
	                 "apiVersion", "v1", "kind", "Service", "metadata",
	                 "name", g->name, "namespace", g->ns, "labels", "app",
	                 g->name, "spec", "type", "ClusterIP", "selector",
	                 "app", g->name, "ports", "name", g->port_name, "port",
	                 g->port, "targetPort", g->port, "protocol", "TCP");
}

json_t *
vm_group_objects(const struct vm_group *g)
{
	json_t *a = json_array();

	json_array_append_new(a, vm_group_service_account(g));
	json_array_append_new(a, vm_group_workload_group(g));
	json_array_append_new(a, vm_group_service(g));
	return a;
}
