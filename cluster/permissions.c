/* cluster/permissions.c - see permissions.h. */
#include "cluster/permissions.h"

/* What each step calls, and the narrowest predefined role that grants it
 * (https://cloud.google.com/iam/docs/understanding-roles). */
static const struct gcp_permission permissions[] = {
	{"resourcemanager.projects.get", "roles/browser", "preflight"},
	{"serviceusage.services.get", "roles/serviceusage.serviceUsageConsumer",
	 "preflight"},
	{"compute.projects.get", "roles/compute.viewer", "preflight"},
	{"compute.regions.get", "roles/compute.viewer", "preflight"},
	{"container.clusters.create", "roles/container.admin", "clusters"},
	{"container.clusters.get", "roles/container.admin", "clusters"},
	{"container.clusters.delete", "roles/container.admin", "clusters"},
	{"container.operations.get", "roles/container.admin", "clusters"},
	{"iam.serviceAccounts.actAs", "roles/iam.serviceAccountUser",
	 "clusters"},
	{"compute.firewalls.create", "roles/compute.securityAdmin", "firewall"},
	{"compute.firewalls.get", "roles/compute.securityAdmin", "firewall"},
	{"compute.firewalls.delete", "roles/compute.securityAdmin", "firewall"},
	{"compute.networks.updatePolicy", "roles/compute.securityAdmin",
	 "firewall"},
	{"compute.globalOperations.get", "roles/compute.securityAdmin",
	 "firewall"},
};

const struct gcp_permission *
gcp_permissions(size_t *n)
{
	*n = sizeof(permissions) / sizeof(permissions[0]);
	return permissions;
}
