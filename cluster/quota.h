/* cluster/quota.h - what a config will consume of a project's Compute
 * quotas, per region and project-wide, and how that compares with what
 * Compute reports (regions.get and projects.get `quotas`).
 *
 * Cluster nodes and VMs count their machine type's vCPUs against the
 * region's CPU metric (CPUS for n1 and e2, N2_CPUS for n2) and against
 * CPUS_ALL_REGIONS; each node and VM holds one external address
 * (IN_USE_ADDRESSES); each node pool and the VM's template count against
 * INSTANCE_TEMPLATES.  Pure arithmetic: no I/O.
 */
#ifndef MESHVM_CLUSTER_QUOTA_H
#define MESHVM_CLUSTER_QUOTA_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/config.h"
#include "core/err.h"

/* vCPUs of a predefined n1/e2/n2 machine type ("n1-standard-4" → 4);
 * -1 when the type is not in the table. */
int quota_machine_vcpus(const char *machine_type);
/* The regional CPU metric a machine type draws on ("CPUS", "N2_CPUS"),
 * NULL when unknown. */
const char *quota_cpu_metric(const char *machine_type);
/* "us-east1-b" → "us-east1" into buf. */
const char *quota_region_of(const char *zone, char *buf, size_t len);

/* One line of need: METRIC in SCOPE ("us-east1" or "global"). */
struct quota_need {
	char scope[64];
	char metric[32];
	double need;
	char why[160]; /* "cluster1 4 × n1-standard-4, cluster3 2 × e2-medium" */
};

struct quota_needs {
	struct quota_need *v;
	size_t n;
};

/* Which resources already exist (and so need no new quota): a callback
 * asked with ("cluster", NAME) and ("vm", NAME); NULL = none exist. */
typedef bool (*quota_exists_fn)(void *arg, const char *kind,
                                const char *name);

/* What cfg will create, summed per (scope, metric), in a stable order
 * (regions in config order, then global).  Unknown machine types are an
 * error naming the type and the families known. */
int quota_needs_of(const struct mv_config *cfg, quota_exists_fn exists,
                   void *arg, struct quota_needs *out, struct mv_err *err);
void quota_needs_free(struct quota_needs *n);

/* Compare one need with a Compute `quotas` array ([{metric, limit,
 * usage}]): *free_out = limit - usage; returns true when need fits.  A
 * metric absent from the array fits (Compute has no limit for it). */
bool quota_fits(const struct quota_need *n, const json_t *quotas,
                double *limit_out, double *usage_out);

#endif
