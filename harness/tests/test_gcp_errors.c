/* test_gcp_errors.c - cluster/gcp_errors: Google's error shape mapped to
 * the cause and the command that fixes it (the README's errors table). */
#include <string.h>

#include "cluster/gcp_errors.h"
#include "testutil.h"

#define URL "https://container.googleapis.com/v1/projects/p1/locations/us-east1-b/clusters"

static void
test_kinds(void **state)
{
	char b[1024];

	(void)state;
	assert_int_equal(gcp_error_hint("p1", URL, "RESOURCE_EXHAUSTED", NULL,
	                                "Quota 'N2_CPUS' exceeded.  Limit: 8.0 in "
	                                "region us-central1.", b, sizeof(b)),
	                 GCP_ERR_QUOTA);
	/* the call's location wins over the message's region */
	assert_contains(b, "(N2_CPUS in us-east1)");
	assert_contains(b, "quotas?project=p1");
	assert_int_equal(gcp_error_hint("p1", "https://compute/x", "FORBIDDEN",
	                                "QUOTA_EXCEEDED", "Quota 'CPUS' exceeded in "
	                                "region 'europe-west4'", b, sizeof(b)),
	                 GCP_ERR_QUOTA);
	assert_contains(b, "(CPUS in europe-west4)");
	assert_int_equal(gcp_error_hint("p1", URL, "PERMISSION_DENIED",
	                                "SERVICE_DISABLED", "Compute Engine API "
	                                "has not been used in project 42 before "
	                                "or it is disabled. Enable it by visiting "
	                                "https://console.developers.google.com/"
	                                "apis/api/compute.googleapis.com/overview"
	                                "?project=42 then retry.", b, sizeof(b)),
	                 GCP_ERR_API_DISABLED);
	assert_contains(b, "gcloud services enable compute.googleapis.com "
	                   "--project p1");
	assert_int_equal(gcp_error_hint("p1", URL, "PERMISSION_DENIED", NULL,
	                                "Permission 'container.clusters.create' "
	                                "denied on resource (or it may not "
	                                "exist).", b, sizeof(b)),
	                 GCP_ERR_PERMISSION);
	assert_contains(b, "container.clusters.create");
	assert_contains(b, "--role=roles/container.admin");
	assert_int_equal(gcp_error_hint("p1", URL, "FAILED_PRECONDITION", NULL,
	                                "Constraint constraints/gcp.resource"
	                                "Locations violated.", b, sizeof(b)),
	                 GCP_ERR_ORG_POLICY);
	assert_contains(b, "policy constraints/gcp.resourceLocations forbids");
	assert_int_equal(gcp_error_hint("p1", URL, "INVALID_ARGUMENT", "invalid",
	                                "Invalid IPCidrRange: 10.0.0.0/20 "
	                                "conflicts with existing subnetwork "
	                                "'default' in region 'us-east1'.", b,
	                                sizeof(b)),
	                 GCP_ERR_CIDR_OVERLAP);
	assert_int_equal(gcp_error_hint("p1", URL, "NOT_FOUND", "notFound",
	                                "Not found: cluster1.", b, sizeof(b)),
	                 GCP_ERR_OTHER);
	assert_string_equal(b, "");
	/* nothing at all still answers */
	assert_int_equal(gcp_error_hint(NULL, NULL, NULL, NULL, NULL, b,
	                                sizeof(b)), GCP_ERR_OTHER);
}

static void
test_teach_body(void **state)
{
	struct mv_err e;
	const char *body =
		"{\"error\":{\"code\":403,\"status\":\"PERMISSION_DENIED\","
		"\"message\":\"Kubernetes Engine API has not been used before or "
		"it is disabled.\",\"errors\":[{\"reason\":\"forbidden\"}],"
		"\"details\":[{\"@type\":\"type.googleapis.com/google.rpc.ErrorInfo\","
		"\"reason\":\"SERVICE_DISABLED\",\"metadata\":{\"service\":"
		"\"container.googleapis.com\"}}]}}";

	(void)state;
	mv_err_set(&e, MV_EXIT_CLOUD, "GET u → 403 PERMISSION_DENIED: ...");
	assert_int_equal(gcp_error_teach(&e, "p1", URL, body, strlen(body)),
	                 GCP_ERR_API_DISABLED);
	assert_contains(e.msg, "GET u → 403 PERMISSION_DENIED: ...\n  cause: ");
	assert_contains(e.msg, "\n  fix: gcloud services enable "
	                       "container.googleapis.com --project p1");
	/* not Google's shape: untouched */
	mv_err_set(&e, MV_EXIT_CLOUD, "x");
	assert_int_equal(gcp_error_teach(&e, "p1", URL, "<html>", 6),
	                 GCP_ERR_OTHER);
	assert_int_equal(gcp_error_teach(&e, "p1", URL, NULL, 0), GCP_ERR_OTHER);
	assert_string_equal(e.msg, "x");
}

/* an operation that ended in an error: project and region from its link */
static void
test_teach_op(void **state)
{
	struct mv_err e;

	(void)state;
	mv_err_set(&e, MV_EXIT_CLOUD, "GKE operation op-1 failed: ...");
	assert_int_equal(gcp_error_teach_op(&e, "https://container.googleapis.com/"
	                                    "v1/projects/p-2/locations/asia-east1-a"
	                                    "/clusters/c", 8, NULL,
	                                    "Insufficient regional quota to "
	                                    "satisfy request: resource \"CPUS\"."),
	                 GCP_ERR_QUOTA);
	assert_contains(e.msg, "cause: project p-2 is out of quota (CPUS in "
	                       "asia-east1)");
	mv_err_set(&e, MV_EXIT_CLOUD, "compute operation x failed");
	assert_int_equal(gcp_error_teach_op(&e, "https://compute.googleapis.com/"
	                                    "compute/v1/projects/p-3/global/"
	                                    "operations/x/wait", 0,
	                                    "QUOTA_EXCEEDED", "Quota 'FIREWALLS' "
	                                    "exceeded.  Limit: 200.0 globally."),
	                 GCP_ERR_QUOTA);
	assert_contains(e.msg, "(FIREWALLS)");
	assert_int_equal(gcp_error_teach_op(&e, NULL, 13, NULL, "internal"),
	                 GCP_ERR_OTHER);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kinds),
		cmocka_unit_test(test_teach_body),
		cmocka_unit_test(test_teach_op),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
