/* cluster/doctor.h - everything a first `meshvm up` needs from a project,
 * checked in a second instead of found by a create minutes in:
 *
 *   credentials      a token, and where it came from
 *   project          Resource Manager v3 projects.get
 *   apis             container, compute, storage, serviceusage enabled
 *   quota REGION     regional CPUS (N2_CPUS) and IN_USE_ADDRESSES from
 *                    compute.regions.get against what the config creates
 *   quota global     CPUS_ALL_REGIONS and INSTANCE_TEMPLATES from
 *                    compute.projects.get
 *   permissions      projects.testIamPermissions for what each step does,
 *                    each missing one with the predefined role granting it
 *   service-account  the nodes' service account exists (IAM)
 *   tools            kubectl and gke-gcloud-auth-plugin on PATH (warnings)
 *
 * Each item is ok, warn or fail, with what was found and the fix.  Sends
 * only reads (testIamPermissions changes nothing).  Nothing printed here.
 */
#ifndef MESHVM_CLUSTER_DOCTOR_H
#define MESHVM_CLUSTER_DOCTOR_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "cluster/gcp.h"
#include "cluster/quota.h"
#include "core/config.h"
#include "core/err.h"

struct gcp_auth;

enum doctor_level { DOCTOR_OK = 0, DOCTOR_WARN, DOCTOR_FAIL };

struct doctor_item {
	char *check;  /* "credentials", "quota us-east1", ... */
	enum doctor_level level;
	char *detail; /* what was found (may hold several lines) */
	char *fix;    /* what to do; NULL when ok */
};

struct doctor_report {
	struct doctor_item *items;
	size_t n;
};

struct doctor_options {
	const struct mv_config *cfg;
	struct gcp *gcp;
	struct gcp_auth *auth;
	/* resources that exist already need no quota (see quota.h) */
	quota_exists_fn exists;
	void *exists_arg;
	bool skip_tools;  /* do not look for kubectl & co. */
	const char *path; /* PATH to search; NULL: the environment's */
};

/* Run every check into *out (freed with doctor_report_free even on
 * error).  Returns -1 only when the checks themselves could not run (out
 * of memory); a failing check is an item, not an error. */
int doctor_run(const struct doctor_options *o, struct doctor_report *out,
               struct mv_err *err);
bool doctor_failed(const struct doctor_report *r);
const char *doctor_level_name(enum doctor_level l);
/* {"ok": bool, "checks": [{"check","status","detail","fix"}]} */
json_t *doctor_report_json(const struct doctor_report *r);
/* err (exit 4): "preflight: CHECK: detail; fix" for every failed item. */
int doctor_fail_err(const struct doctor_report *r, struct mv_err *err);
void doctor_report_free(struct doctor_report *r);

#endif
