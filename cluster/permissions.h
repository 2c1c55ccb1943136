/* cluster/permissions.h - the IAM permissions each step uses, and the
 * predefined role that grants each: what `meshvm doctor` tests with
 * testIamPermissions and what a permission error names as its fix. */
#ifndef MESHVM_CLUSTER_PERMISSIONS_H
#define MESHVM_CLUSTER_PERMISSIONS_H

#include <stddef.h>

struct gcp_permission {
	const char *permission;
	const char *role;
	const char *step; /* "preflight", "clusters", "firewall" */
};

/* The table, in step order; *n entries. */
const struct gcp_permission *gcp_permissions(size_t *n);

#endif
