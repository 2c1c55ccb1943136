/* test_fake.c - harness/fake through fake_handle(): routing, Google's
 * error shapes, GKE, Compute, Storage, metadata server, determinism,
 * journal, state directory. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/base64.h"
#include "fakeutil.h"

#define CL "/v1/projects/p1/locations/us-west1-b/clusters"
#define CL_BODY(name)                                                      \
	"{\"cluster\":{\"name\":\"" name "\",\"nodePools\":[{\"name\":"       \
	"\"default-pool\",\"initialNodeCount\":4,\"config\":{\"machineType\":" \
	"\"n1-standard-4\"}}]},\"parent\":\"projects/p1/locations/us-west1-b\"}"
#define ZONE "/compute/v1/projects/p1/zones/us-central1-b"

/* ---- routing and error shapes ---- */

static void
test_router_and_errors(void **state)
{
	struct fake *f = fu_new(true, 0);
	struct fu_resp r;
	char *big;

	(void)state;
	r = fu_req(f, "GET", "/nope/at/all", NULL);
	assert_gerr(r, 404, "NOT_FOUND");
	fu_free(&r);
	r = fu_req(f, "PUT", CL, "{}");
	assert_gerr(r, 405, "METHOD_NOT_ALLOWED");
	fu_free(&r);
	r = fu_req(f, "GET", CL "/missing?alt=json", NULL);
	assert_gerr(r, 404, "NOT_FOUND");
	assert_string_equal(fu_str(&r, "error.message"), "Not found: projects/"
	                    "p1/locations/us-west1-b/clusters/missing.");
	assert_string_equal(fu_str(&r, "error.errors.0.reason"), "notFound");
	fu_free(&r);
	r = fu_req(f, "POST", CL, "{\"cluster\": {");
	assert_gerr(r, 400, "INVALID_ARGUMENT");
	assert_contains(fu_str(&r, "error.message"),
	                "Invalid JSON payload received.");
	fu_free(&r);
	r = fu_req(f, "POST", CL, "[1,2]");
	assert_gerr(r, 400, "INVALID_ARGUMENT");
	assert_contains(fu_str(&r, "error.message"), "Root element must be a "
	                "message");
	fu_free(&r);
	r = fu_req(f, "POST", CL, CL_BODY("c1"));
	assert_int_equal(r.status, 200);
	fu_free(&r);
	r = fu_req(f, "POST", CL, CL_BODY("c1"));
	assert_gerr(r, 409, "ALREADY_EXISTS");
	assert_string_equal(fu_str(&r, "error.message"), "Already exists: "
	                    "projects/p1/locations/us-west1-b/clusters/c1.");
	fu_free(&r);
	r = fu_req(f, "POST", CL, "{\"cluster\":{\"name\":\"Bad_Name\"}}");
	assert_gerr(r, 400, "INVALID_ARGUMENT");
	assert_contains(fu_str(&r, "error.message"), "cluster.name");
	fu_free(&r);
	/* Over 8 MiB: 413 before anything else looks at it. */
	big = malloc(FAKE_MAX_BODY + 2);
	memset(big, ' ', FAKE_MAX_BODY + 1);
	big[FAKE_MAX_BODY + 1] = '\0';
	r = fu_req(f, "POST", CL, big);
	assert_int_equal(r.status, 413);
	assert_int_equal(fu_int(&r, "error.code"), 413);
	fu_free(&r);
	free(big);
	/* Percent-encoded segments are decoded once. */
	r = fu_req(f, "GET", "/v1/projects/p1/locations/us-west1-b/clusters/"
	           "c%31", NULL);
	assert_int_equal(r.status, 200);
	assert_string_equal(fu_str(&r, "name"), "c1");
	fu_free(&r);
	r = fu_req(f, "GET", "/_fake/health", NULL);
	assert_int_equal(r.status, 200);
	fu_free(&r);
	fake_free(f);
}

/* ---- GKE ---- */

static void
test_gke_lifecycle(void **state)
{
	struct fake *f = fu_new(true, 2);
	struct fu_resp r, op;
	char oppath[512];
	uint8_t *pem;
	size_t pemlen;
	const char *ca;

	(void)state;
	r = fu_req(f, "GET", "/v1/projects/p1/services/container.googleapis.com"
	           "?alt=json", NULL);
	assert_int_equal(r.status, 200);
	assert_string_equal(fu_str(&r, "state"), "ENABLED");
	assert_contains(fu_str(&r, "name"), "/services/container.googleapis.com");
	fu_free(&r);
	op = fu_req(f, "POST", CL "?alt=json", CL_BODY("cluster1"));
	assert_int_equal(op.status, 200);
	assert_string_equal(fu_str(&op, "status"), "RUNNING");
	assert_string_equal(fu_str(&op, "operationType"), "CREATE_CLUSTER");
	snprintf(oppath, sizeof(oppath), "/v1/projects/p1/locations/us-west1-b/"
	         "operations/%s", fu_str(&op, "name"));
	r = fu_req(f, "GET", CL "/cluster1", NULL);
	assert_string_equal(fu_str(&r, "status"), "PROVISIONING");
	fu_free(&r);
	/* --op-polls 2: one more RUNNING, then DONE. */
	r = fu_req(f, "GET", oppath, NULL);
	assert_string_equal(fu_str(&r, "status"), "RUNNING");
	fu_free(&r);
	r = fu_req(f, "GET", oppath, NULL);
	assert_string_equal(fu_str(&r, "status"), "DONE");
	fu_free(&r);
	fu_free(&op);
	r = fu_req(f, "GET", "/v1/projects/p1/zones/us-west1-b/clusters/"
	           "cluster1", NULL);
	assert_int_equal(r.status, 200);
	assert_string_equal(fu_str(&r, "status"), "RUNNING");
	assert_string_equal(fu_str(&r, "nodePools.0.status"), "RUNNING");
	assert_int_equal(fu_int(&r, "currentNodeCount"), 4);
	assert_string_equal(fu_str(&r, "nodeConfig.machineType"),
	                    "n1-standard-4");
	assert_string_equal(fu_str(&r, "location"), "us-west1-b");
	assert_contains(fu_str(&r, "clusterIpv4Cidr"), "/14");
	assert_contains(fu_str(&r, "servicesIpv4Cidr"), "/20");
	assert_contains(fu_str(&r, "currentMasterVersion"), "1.32.");
	assert_contains(fu_str(&r, "endpoint"), "127.0.0.1:");
	ca = fu_str(&r, "masterAuth.clusterCaCertificate");
	assert_int_equal(mv_base64_decode(ca, strlen(ca), &pem, &pemlen), 0);
	assert_contains((char *)pem, "-----BEGIN CERTIFICATE-----");
	free(pem);
	fu_free(&r);
	r = fu_req(f, "GET", "/v1/projects/p1/locations/-/clusters", NULL);
	assert_string_equal(fu_str(&r, "clusters.0.name"), "cluster1");
	fu_free(&r);
	r = fu_req(f, "GET", "/v1/projects/other/locations/-/clusters", NULL);
	assert_int_equal(r.status, 200);
	assert_int_equal(json_object_size(r.json), 0);
	fu_free(&r);
	op = fu_req(f, "DELETE", CL "/cluster1", NULL);
	assert_string_equal(fu_str(&op, "operationType"), "DELETE_CLUSTER");
	snprintf(oppath, sizeof(oppath), "/v1/projects/p1/locations/us-west1-b/"
	         "operations/%s", fu_str(&op, "name"));
	fu_free(&op);
	r = fu_req(f, "GET", CL "/cluster1", NULL);
	assert_string_equal(fu_str(&r, "status"), "STOPPING");
	fu_free(&r);
	fu_do(f, "GET", oppath, NULL);
	fu_do(f, "GET", oppath, NULL);
	r = fu_req(f, "GET", CL "/cluster1", NULL);
	assert_gerr(r, 404, "NOT_FOUND");
	fu_free(&r);
	fake_free(f);
}

/* Ids, CIDRs and IPs come from names, not from arrival order. */
static void
test_determinism(void **state)
{
	struct fake *a = fu_new(true, 0), *b = fu_new(true, 0);
	struct fu_resp r1, r2;
	const char *inst = "{\"name\":\"vm1\",\"machineType\":\"zones/"
	                   "us-central1-b/machineTypes/n1-standard-1\"}";
	const char *inst2 = "{\"name\":\"vm2\",\"machineType\":\"n1-standard-1\"}";

	(void)state;
	fu_do(a, "POST", CL, CL_BODY("x1"));
	fu_do(a, "POST", CL, CL_BODY("x2"));
	fu_do(b, "POST", CL, CL_BODY("x2"));
	fu_do(b, "POST", CL, CL_BODY("x1"));
	r1 = fu_req(a, "GET", CL "/x1", NULL);
	r2 = fu_req(b, "GET", CL "/x1", NULL);
	assert_string_equal(fu_str(&r1, "clusterIpv4Cidr"),
	                    fu_str(&r2, "clusterIpv4Cidr"));
	assert_string_equal(fu_str(&r1, "servicesIpv4Cidr"),
	                    fu_str(&r2, "servicesIpv4Cidr"));
	assert_string_equal(fu_str(&r1, "id"), fu_str(&r2, "id"));
	fu_free(&r1);
	fu_free(&r2);
	r1 = fu_req(a, "GET", CL "/x2", NULL);
	r2 = fu_req(a, "GET", CL "/x1", NULL);
	assert_string_not_equal(fu_str(&r1, "clusterIpv4Cidr"),
	                        fu_str(&r2, "clusterIpv4Cidr"));
	fu_free(&r1);
	fu_free(&r2);
	fu_do(a, "POST", ZONE "/instances", inst);
	fu_do(a, "POST", ZONE "/instances", inst2);
	fu_do(b, "POST", ZONE "/instances", inst2);
	fu_do(b, "POST", ZONE "/instances", inst);
	r1 = fu_req(a, "GET", ZONE "/instances/vm1", NULL);
	r2 = fu_req(b, "GET", ZONE "/instances/vm1", NULL);
	assert_string_equal(fu_str(&r1, "networkInterfaces.0.networkIP"),
	                    fu_str(&r2, "networkInterfaces.0.networkIP"));
	assert_string_equal(fu_str(&r1, "id"), fu_str(&r2, "id"));
	/* us-central1's default subnet */
	assert_true(strncmp(fu_str(&r1, "networkInterfaces.0.networkIP"),
	                    "10.128.", 7) == 0);
	fu_free(&r1);
	fu_free(&r2);
	fake_free(a);
	fake_free(b);
}

/* ---- Compute ---- */

static const char user_data[] =
	"#cloud-config\\nwrite_files:\\n- path: /x\\n  content: \\\"caf\\u00e9 "
	"\\\\t tab\\\"\\n";

static void
test_compute_instances(void **state)
{
	struct fake *f = fu_new(true, 0);
	struct fu_resp r, op;
	char body[2048], waitp[512];
	const char *fp;

	(void)state;
	/* gcloud puts its endpoint override into resource URLs. */
	snprintf(body, sizeof(body),
	         "{\"name\":\"istio-gce\",\"machineType\":\"http://127.0.0.1:9/"
	         "compute/v1/projects/p1/zones/us-central1-b/machineTypes/"
	         "n1-standard-2\",\"disks\":[{\"boot\":true,\"autoDelete\":true,"
	         "\"initializeParams\":{\"sourceImage\":\"http://127.0.0.1:9/"
	         "compute/v1/projects/debian-cloud/zones/-/imageFamilyViews/"
	         "debian-12\"}}],\"metadata\":{\"items\":[{\"key\":\"user-data\","
	         "\"value\":\"%s\"}]},\"networkInterfaces\":[{\"network\":"
	         "\"https://www.googleapis.com/compute/v1/projects/p1/global/"
	         "networks/default\",\"accessConfigs\":[{\"name\":\"external-nat"
	         "\",\"type\":\"ONE_TO_ONE_NAT\"}]}],\"tags\":{\"items\":["
	         "\"istio-gce\"]}}", user_data);
	r = fu_req(f, "GET", ZONE, NULL);
	assert_string_equal(fu_str(&r, "status"), "UP");
	fu_free(&r);
	r = fu_req(f, "GET", "/compute/v1/projects/p1", NULL);
	assert_contains(fu_str(&r, "defaultServiceAccount"),
	                "-compute@developer.gserviceaccount.com");
	fu_free(&r);
	op = fu_req(f, "POST", ZONE "/instances?alt=json", body);
	assert_int_equal(op.status, 200);
	assert_string_equal(fu_str(&op, "operationType"), "insert");
	assert_contains(fu_str(&op, "targetLink"), "/zones/us-central1-b/"
	                "instances/istio-gce");
	assert_contains(fu_str(&op, "zone"), "/zones/us-central1-b");
	snprintf(waitp, sizeof(waitp), ZONE "/operations/%s/wait",
	         fu_str(&op, "name"));
	fu_free(&op);
	r = fu_req(f, "POST", waitp, NULL);
	assert_string_equal(fu_str(&r, "status"), "DONE");
	fu_free(&r);
	r = fu_req(f, "GET", ZONE "/instances/istio-gce", NULL);
	assert_int_equal(r.status, 200);
	assert_string_equal(fu_str(&r, "status"), "RUNNING");
	assert_string_equal(fu_str(&r, "metadata.items.0.value"),
	                    "#cloud-config\nwrite_files:\n- path: /x\n  content: "
	                    "\"caf\xc3\xa9 \\t tab\"\n");
	assert_contains(fu_str(&r, "machineType"), "/machineTypes/n1-standard-2");
	assert_true(strncmp(fu_str(&r, "machineType"), "http://127.0.0.1:0/"
	                    "compute/v1/projects/p1/", 40) == 0);
	assert_contains(fu_str(&r, "networkInterfaces.0.network"),
	                "/compute/v1/projects/p1/global/networks/default");
	assert_true(strncmp(fu_str(&r, "networkInterfaces.0.accessConfigs.0."
	                           "natIP"), "198.51.100.", 11) == 0);
	fp = fu_str(&r, "metadata.fingerprint");
	assert_true(strlen(fp) > 0);
	snprintf(body, sizeof(body), "{\"fingerprint\":\"%s\",\"items\":[{\"key\""
	         ":\"a\",\"value\":\"b\"}]}", fp);
	fu_free(&r);
	r = fu_req(f, "POST", ZONE "/instances/istio-gce/setMetadata",
	           "{\"fingerprint\":\"AAAAAAAAAAA=\",\"items\":[]}");
	assert_gerr(r, 412, "FAILED_PRECONDITION");
	fu_free(&r);
	op = fu_req(f, "POST", ZONE "/instances/istio-gce/setMetadata", body);
	assert_int_equal(op.status, 200);
	fu_free(&op);
	r = fu_req(f, "GET", ZONE "/instances/istio-gce", NULL);
	assert_string_equal(fu_str(&r, "metadata.items.0.key"), "a");
	fu_free(&r);
	r = fu_req(f, "GET", "/compute/v1/projects/p1/aggregated/instances", NULL);
	assert_string_equal(fu_str(&r, "items.zones/us-central1-b.instances.0."
	                           "name"), "istio-gce");
	fu_free(&r);
	r = fu_req(f, "POST", ZONE "/instances",
	           "{\"name\":\"x\",\"machineType\":\"n1-standard-1\","
	           "\"metadata\":{\"items\":[{\"key\":\"bad key\",\"value\":\"\"}]}}");
	assert_gerr(r, 400, "INVALID_ARGUMENT");
	assert_contains(fu_str(&r, "error.message"),
	                "resource.metadata.items[0].key");
	fu_free(&r);
	r = fu_req(f, "POST", ZONE "/instances", "{\"name\":\"istio-gce\","
	           "\"machineType\":\"n1-standard-1\"}");
	assert_gerr(r, 409, "ALREADY_EXISTS");
	assert_string_equal(fu_str(&r, "error.message"), "The resource 'projects/"
	                    "p1/zones/us-central1-b/instances/istio-gce' already "
	                    "exists");
	fu_free(&r);
	op = fu_req(f, "DELETE", ZONE "/instances/istio-gce", NULL);
	snprintf(waitp, sizeof(waitp), ZONE "/operations/%s/wait",
	         fu_str(&op, "name"));
	assert_string_equal(fu_str(&op, "operationType"), "delete");
	fu_free(&op);
	fu_do(f, "POST", waitp, NULL);
	r = fu_req(f, "GET", ZONE "/instances", NULL);
	assert_null(json_object_get(r.json, "items"));
	fu_free(&r);
	r = fu_req(f, "GET", ZONE "/instances/istio-gce", NULL);
	assert_gerr(r, 404, "NOT_FOUND");
	assert_string_equal(fu_str(&r, "error.message"), "The resource 'projects/"
	                    "p1/zones/us-central1-b/instances/istio-gce' was not "
	                    "found");
	fu_free(&r);
	fake_free(f);
}

static void
test_compute_templates_and_groups(void **state)
{
	struct fake *f = fu_new(true, 0);
	struct fu_resp r;
	json_t *items, *it;
	size_t i;
	int found = 0;

	(void)state;
	r = fu_req(f, "POST", "/compute/v1/projects/p1/global/firewalls",
	           "{\"name\":\"allow-mesh\",\"network\":\"global/networks/"
	           "default\",\"allowed\":[{\"IPProtocol\":\"tcp\"}],"
	           "\"sourceRanges\":[\"10.4.0.0/14\"],\"targetTags\":["
	           "\"istio-gce\"]}");
	assert_int_equal(r.status, 200);
	fu_free(&r);
	r = fu_req(f, "GET", "/compute/v1/projects/p1/global/firewalls/"
	           "allow-mesh", NULL);
	assert_int_equal(fu_int(&r, "priority"), 1000);
	assert_string_equal(fu_str(&r, "direction"), "INGRESS");
	fu_free(&r);
	r = fu_req(f, "POST", "/compute/v1/projects/p1/global/firewalls",
	           "{\"name\":\"bad\",\"allowed\":[{\"IPProtocol\":\"tcp\"}],"
	           "\"sourceRanges\":[\"10.0.0.0/99\"]}");
	assert_gerr(r, 400, "INVALID_ARGUMENT");
	fu_free(&r);
	r = fu_req(f, "POST", "/compute/v1/projects/p1/global/instanceTemplates",
	           "{\"name\":\"t1\",\"properties\":{\"machineType\":"
	           "\"n1-standard-2\",\"metadata\":{\"items\":[{\"key\":"
	           "\"user-data\",\"value\":\"hello\"}]},\"networkInterfaces\":[{"
	           "\"network\":\"projects/p1/global/networks/default\"}]}}");
	assert_int_equal(r.status, 200);
	fu_free(&r);
	r = fu_req(f, "POST", ZONE "/instanceGroupManagers",
	           "{\"name\":\"mig\",\"instanceTemplate\":\"http://x/compute/v1/"
	           "projects/p1/global/instanceTemplates/t1\",\"targetSize\":3}");
	assert_int_equal(r.status, 200);
	fu_free(&r);
	r = fu_req(f, "POST", ZONE "/instanceGroupManagers/mig/"
	           "listManagedInstances", NULL);
	assert_int_equal(json_array_size(json_object_get(r.json,
	                                                 "managedInstances")), 3);
	fu_free(&r);
	r = fu_req(f, "GET", ZONE "/instances", NULL);
	items = json_object_get(r.json, "items");
	assert_int_equal(json_array_size(items), 3);
	json_array_foreach(items, i, it) {
		json_t *md = json_object_get(json_object_get(it, "metadata"),
		                             "items"), *m;
		size_t j;
		assert_true(strncmp(json_string_value(json_object_get(it, "name")),
		                    "mig-", 4) == 0);
		json_array_foreach(md, j, m) {
			if (!strcmp(json_string_value(json_object_get(m, "key")),
			            "user-data") &&
			    !strcmp(json_string_value(json_object_get(m, "value")),
			            "hello"))
				found++;
		}
	}
	assert_int_equal(found, 3);
	fu_free(&r);
	r = fu_req(f, "POST", ZONE "/instanceGroupManagers/mig/resize?size=1",
	           NULL);
	assert_int_equal(r.status, 200);
	{
		char waitp[512];
		snprintf(waitp, sizeof(waitp), ZONE "/operations/%s/wait",
		         fu_str(&r, "name"));
		assert_int_equal(fu_do(f, "POST", waitp, NULL), 200);
	}
	fu_free(&r);
	r = fu_req(f, "GET", ZONE "/instances", NULL);
	assert_int_equal(json_array_size(json_object_get(r.json, "items")), 1);
	fu_free(&r);
	r = fu_req(f, "GET", ZONE "/instanceGroups/mig", NULL);
	assert_int_equal(fu_int(&r, "size"), 1);
	assert_string_equal(fu_str(&r, "kind"), "compute#instanceGroup");
	fu_free(&r);
	r = fu_req(f, "GET", ZONE "/instanceGroupManagers/mig", NULL);
	assert_int_equal(fu_int(&r, "targetSize"), 1);
	assert_null(json_object_get(r.json, "_members"));
	fu_free(&r);
	/* a template in use cannot go */
	r = fu_req(f, "DELETE", "/compute/v1/projects/p1/global/"
	           "instanceTemplates/t1", NULL);
	assert_int_equal(r.status, 400);
	fu_free(&r);
	fake_free(f);
}

/* ---- Storage ---- */

static void
test_storage(void **state)
{
	struct fake *f = fu_new(true, 0);
	static const char *const ct[] = {"Content-Type: text/plain", NULL};
	struct fu_resp r;

	(void)state;
	r = fu_req(f, "POST", "/storage/v1/b", "{\"name\":\"bkt\"}");
	assert_gerr(r, 400, "INVALID_ARGUMENT");
	fu_free(&r);
	r = fu_req(f, "POST", "/storage/v1/b?project=p1",
	           "{\"name\":\"bkt\",\"location\":\"us\"}");
	assert_int_equal(r.status, 200);
	assert_string_equal(fu_str(&r, "location"), "US");
	fu_free(&r);
	r = fu_req(f, "POST", "/storage/v1/b?project=p1", "{\"name\":\"bkt\"}");
	assert_int_equal(r.status, 409);
	fu_free(&r);
	r = fu_req_on(f, "gcp", "POST", "/upload/storage/v1/b/bkt/o?uploadType="
	              "media&name=dir%2Fhello.txt", "hello world", ct);
	assert_int_equal(r.status, 200);
	/* as the real service computes them */
	assert_string_equal(fu_str(&r, "md5Hash"), "XrY7u+Ae7tCTyyK7j1rNww==");
	assert_string_equal(fu_str(&r, "crc32c"), "yZRlqg==");
	assert_string_equal(fu_str(&r, "size"), "11");
	assert_string_equal(fu_str(&r, "name"), "dir/hello.txt");
	fu_free(&r);
	r = fu_req(f, "GET", "/storage/v1/b/bkt/o/dir%2Fhello.txt", NULL);
	assert_string_equal(fu_str(&r, "contentType"), "text/plain");
	fu_free(&r);
	r = fu_req(f, "GET", "/storage/v1/b/bkt/o/dir%2Fhello.txt?alt=media",
	           NULL);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.raw.body_len, 11);
	assert_memory_equal(r.raw.body, "hello world", 11);
	assert_string_equal(r.raw.content_type, "text/plain");
	assert_contains(r.raw.headers, "X-Goog-Hash: crc32c=yZRlqg==,md5=");
	fu_free(&r);
	r = fu_req(f, "DELETE", "/storage/v1/b/bkt", NULL);
	assert_int_equal(r.status, 409);
	fu_free(&r);
	r = fu_req(f, "DELETE", "/storage/v1/b/bkt/o/dir%2Fhello.txt", NULL);
	assert_int_equal(r.status, 204);
	fu_free(&r);
	r = fu_req(f, "GET", "/storage/v1/b/bkt/o/dir%2Fhello.txt", NULL);
	assert_gerr(r, 404, "NOT_FOUND");
	assert_string_equal(fu_str(&r, "error.message"),
	                    "No such object: bkt/dir/hello.txt");
	fu_free(&r);
	fake_free(f);
}

/* ---- metadata server and auth ---- */

static void
test_metadata_server(void **state)
{
	struct fake *f = fu_new(false, 0);
	static const char *const flavor[] = {"Metadata-Flavor: Google", NULL};
	struct fu_resp r;
	char bearer[256];
	const char *hdrs[2] = {bearer, NULL};
	const char *md = "/vm/vm1/computeMetadata/v1/instance/";

	(void)state;
	r = fu_req(f, "POST", ZONE "/instances", "{\"name\":\"vm1\","
	           "\"machineType\":\"n1-standard-1\"}");
	assert_gerr(r, 401, "UNAUTHENTICATED");
	fu_free(&r);
	r = fu_req(f, "POST", "/_fake/token", NULL);
	snprintf(bearer, sizeof(bearer), "Authorization: Bearer %s",
	         fu_str(&r, "access_token"));
	fu_free(&r);
	r = fu_req_on(f, "gcp", "POST", ZONE "/instances", "{\"name\":\"vm1\","
	              "\"machineType\":\"n1-standard-1\",\"metadata\":{\"items\":"
	              "[{\"key\":\"istio-token\",\"value\":\"t0k\"}]}}", hdrs);
	assert_int_equal(r.status, 200);
	fu_free(&r);
	r = fu_req(f, "GET", "/vm/vm1/computeMetadata/v1/instance/attributes/"
	           "istio-token", NULL);
	assert_int_equal(r.status, 403);
	fu_free(&r);
	r = fu_req_on(f, "gcp", "GET", "/vm/vm1/computeMetadata/v1/instance/"
	              "attributes/istio-token", NULL, flavor);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.raw.body, "t0k");
	assert_contains(r.raw.headers, "Metadata-Flavor: Google");
	fu_free(&r);
	{
		char p[256];
		snprintf(p, sizeof(p), "%shostname", md);
		r = fu_req_on(f, "gcp", "GET", p, NULL, flavor);
		assert_string_equal(r.raw.body, "vm1.us-central1-b.c.p1.internal");
		fu_free(&r);
		snprintf(p, sizeof(p), "%snetwork-interfaces/0/ip", md);
		r = fu_req_on(f, "gcp", "GET", p, NULL, flavor);
		assert_true(strncmp(r.raw.body, "10.128.", 7) == 0);
		fu_free(&r);
		snprintf(p, sizeof(p), "%sattributes/missing", md);
		r = fu_req_on(f, "gcp", "GET", p, NULL, flavor);
		assert_int_equal(r.status, 404);
		fu_free(&r);
		snprintf(p, sizeof(p), "%sservice-accounts/default/token", md);
		r = fu_req_on(f, "gcp", "GET", p, NULL, flavor);
		assert_int_equal(r.status, 200);
		/* the VM's token is good for the fake's APIs */
		snprintf(bearer, sizeof(bearer), "Authorization: Bearer %s",
		         fu_str(&r, "access_token"));
		fu_free(&r);
	}
	r = fu_req_on(f, "gcp", "GET", ZONE "/instances/vm1", NULL, hdrs);
	assert_int_equal(r.status, 200);
	fu_free(&r);
	snprintf(bearer, sizeof(bearer), "Authorization: Bearer forged");
	r = fu_req_on(f, "gcp", "GET", ZONE "/instances/vm1", NULL, hdrs);
	assert_gerr(r, 401, "UNAUTHENTICATED");
	fu_free(&r);
	fake_free(f);
}

/* ---- journal ---- */

static void
test_journal(void **state)
{
	struct fake *f = fu_new(true, 0);
	static const char *const auth[] = {"Authorization: Bearer sekrit",
	                                   "User-Agent: t/1", NULL};
	struct fu_resp r;
	char *lines, *save = NULL, *line;
	int n = 0;

	(void)state;
	fu_do_on(f, "gcp", "GET", CL "?alt=json", NULL, auth);
	fu_do(f, "POST", CL, CL_BODY("j1"));
	fu_do(f, "GET", "/_fake/state", NULL);
	r = fu_req(f, "GET", "/_fake/journal", NULL);
	assert_int_equal(r.status, 200);
	assert_null(strstr(r.raw.body, "sekrit"));
	lines = strdup(r.raw.body);
	for (line = strtok_r(lines, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save), n++) {
		json_t *e = json_loads(line, 0, NULL);
		assert_non_null(e);
		if (n == 0) {
			assert_string_equal(json_string_value(json_object_get(e,
			                                                      "method")),
			                    "GET");
			assert_string_equal(json_string_value(json_object_get(e,
			                                                      "query")),
			                    "alt=json");
			assert_true(json_is_false(json_object_get(e, "mutating")));
			assert_string_equal(json_string_value(json_object_get(
			        json_object_get(e, "headers"), "authorization")),
			                    "Bearer <redacted>");
			assert_string_equal(json_string_value(json_object_get(
			        json_object_get(e, "headers"), "user-agent")), "t/1");
			assert_int_equal(json_integer_value(json_object_get(e,
			                                                    "status")),
			                 200);
		} else {
			assert_true(json_is_true(json_object_get(e, "mutating")));
			assert_int_equal(json_integer_value(json_object_get(
			        e, "body_size")), strlen(CL_BODY("j1")));
			assert_int_equal(strlen(json_string_value(json_object_get(
			        e, "body_sha256"))), 64);
			assert_string_equal(json_string_value(json_object_get(
			        e, "listener")), "gcp");
		}
		json_decref(e);
	}
	assert_int_equal(n, 2); /* /_fake/ requests are not journaled */
	free(lines);
	fu_free(&r);
	r = fu_req(f, "GET", "/_fake/journal?since=1", NULL);
	assert_null(strstr(r.raw.body, "\"seq\":1,"));
	assert_non_null(strstr(r.raw.body, "\"seq\":2,"));
	fu_free(&r);
	fake_free(f);
}

static const char *
jl_str(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : "(none)";
}

/* The line is written by hand: quotes, backslashes, control characters
 * and bytes that are not UTF-8 (a raw path from a hostile client) still
 * make one valid JSON line each; a repeated header is kept once. */
static void
test_journal_escapes(void **state)
{
	struct fake *f = fu_new(true, 0);
	static const char *const hdrs[] = {"User-Agent: a\"b\\c\td\x01",
	                                   "Accept: one", "accept: two", NULL};
	struct fu_resp r;
	json_t *e, *h;

	(void)state;
	fu_do_on(f, "gcp", "GET", "/x\"y\\z/\xff\xfe/\xc3\xa9?q=\x80&r=\"", NULL,
	         hdrs);
	r = fu_req(f, "GET", "/_fake/journal", NULL);
	assert_int_equal(r.status, 200);
	assert_non_null(strchr(r.raw.body, '\n'));
	assert_ptr_equal(strchr(r.raw.body, '\n'), r.raw.body + r.raw.body_len - 1);
	e = json_loadb(r.raw.body, r.raw.body_len - 1, 0, NULL);
	assert_non_null(e);
	assert_string_equal(jl_str(e, "path"),
	                    "/x\"y\\z/\xef\xbf\xbd\xef\xbf\xbd/\xc3\xa9");
	assert_string_equal(jl_str(e, "query"), "q=\xef\xbf\xbd&r=\"");
	h = json_object_get(e, "headers");
	assert_string_equal(jl_str(h, "user-agent"), "a\"b\\c\td\x01");
	assert_string_equal(jl_str(h, "accept"), "two");
	assert_int_equal(json_object_size(h), 2);
	assert_true(json_is_integer(json_object_get(e, "status")));
	assert_true(json_is_number(json_object_get(e, "ms")));
	json_decref(e);
	fu_free(&r);
	fake_free(f);
}

/* ---- state directory ---- */

static void
test_state_dir(void **state)
{
	char *dir = tu_tmpdir(), *path;
	struct fake_options o;
	struct fake *f;
	struct mv_err err;
	struct fu_resp r;
	struct stat st;
	static const char *const ct[] = {"Content-Type: application/x-tar", NULL};

	(void)state;
	mv_err_clear(&err);
	fake_options_init(&o);
	o.no_auth = true;
	o.op_polls = 0;
	o.state_dir = dir;
	assert_int_equal(fake_new(&o, &f, &err), 0);
	fu_do(f, "POST", CL, CL_BODY("keep"));
	assert_int_equal(fu_do_on(f, "keep", "POST", "/api/v1/namespaces/default/"
	                          "configmaps", "{\"apiVersion\":\"v1\",\"kind\":"
	                          "\"ConfigMap\",\"metadata\":{\"name\":\"kept\"}}",
	                          NULL), 201);
	fu_do(f, "POST", "/storage/v1/b?project=p1",
	                     "{\"name\":\"bkt\"}");
	fu_do_on(f, "gcp", "POST", "/upload/storage/v1/b/bkt/o?"
	                        "uploadType=media&name=b.tar", "\x01\x02\x03",
	                        ct);
	assert_int_equal(fake_stop(f, &err), 0);
	fake_free(f);
	path = tu_fmt("%s/state.json", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	free(path);
	path = tu_fmt("%s/ca-key.pem", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	free(path);
	assert_int_equal(fake_new(&o, &f, &err), 0);
	r = fu_req(f, "GET", CL "/keep", NULL);
	assert_int_equal(r.status, 200);
	fu_free(&r);
	/* the cluster's objects came back too */
	assert_int_equal(fu_do_on(f, "keep", "GET", "/api/v1/namespaces/default/"
	                          "configmaps/kept", NULL, NULL), 200);
	r = fu_req(f, "GET", "/storage/v1/b/bkt/o/b.tar?alt=media", NULL);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.raw.body_len, 3);
	assert_memory_equal(r.raw.body, "\x01\x02\x03", 3);
	fu_free(&r);
	fake_free(f);
	tu_rmrf(dir);
	free(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_router_and_errors),
		cmocka_unit_test(test_gke_lifecycle),
		cmocka_unit_test(test_determinism),
		cmocka_unit_test(test_compute_instances),
		cmocka_unit_test(test_compute_templates_and_groups),
		cmocka_unit_test(test_storage),
		cmocka_unit_test(test_metadata_server),
		cmocka_unit_test(test_journal),
		cmocka_unit_test(test_journal_escapes),
		cmocka_unit_test(test_state_dir),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
