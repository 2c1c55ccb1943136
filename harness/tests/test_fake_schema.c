/* test_fake_schema.c - request bodies against the extracted API schemas
 * (fixtures/api-schema), with Google's wording.  One row per case. */
#include <string.h>

#include "harness/fake/schema.h"
#include "testutil.h"

#define CREATE "container.projects.locations.clusters.create"
#define INSERT "compute.instances.insert"

struct schema_case {
	const char *method;
	const char *body;
	const char *want; /* NULL: valid; else a substring of a violation */
};

static const struct schema_case cases[] = {
	/* what gcloud 528 sends for clusters create */
	{CREATE, "{\"cluster\":{\"name\":\"cluster1\",\"nodePools\":[{\"name\":"
	         "\"default-pool\",\"initialNodeCount\":4,\"config\":{"
	         "\"machineType\":\"n1-standard-2\",\"oauthScopes\":[\"a\"]},"
	         "\"management\":{\"autoRepair\":true,\"autoUpgrade\":true},"
	         "\"upgradeSettings\":{\"maxSurge\":1}}]},\"parent\":"
	         "\"projects/p/locations/us-west1-b\"}", NULL},
	{CREATE, "{\"foo\":1}",
	 "Invalid JSON payload received. Unknown name \"foo\": Cannot find "
	 "field."},
	{CREATE, "{\"cluster\":{\"foo\":1}}",
	 "Invalid JSON payload received. Unknown name \"foo\" at 'cluster': "
	 "Cannot find field."},
	{CREATE, "{\"cluster\":{\"nodePools\":[{\"config\":{\"bogus\":1}}]}}",
	 "Unknown name \"bogus\" at 'cluster.node_pools[0].config'"},
	{CREATE, "{\"cluster\":{\"initialNodeCount\":\"abc\"}}",
	 "Invalid value at 'cluster.initial_node_count' (TYPE_INT32), \"abc\""},
	{CREATE, "{\"cluster\":{\"initialNodeCount\":\"4\"}}", NULL},
	{CREATE, "{\"cluster\":{\"initialNodeCount\":4.0}}", NULL},
	{CREATE, "{\"cluster\":{\"initialNodeCount\":4.5}}", "(TYPE_INT32), 4.5"},
	{CREATE, "{\"cluster\":{\"initialNodeCount\":3000000000}}",
	 "(TYPE_INT32), 3000000000"},
	{CREATE, "{\"cluster\":{\"enableKubernetesAlpha\":\"true\"}}",
	 "Invalid value at 'cluster.enable_kubernetes_alpha' (TYPE_BOOL), "
	 "\"true\""},
	{CREATE, "{\"cluster\":{\"status\":\"SLEEPING\"}}",
	 "Invalid value at 'cluster.status' (TYPE_ENUM), \"SLEEPING\""},
	{CREATE, "{\"cluster\":{\"status\":\"RUNNING\"}}", NULL},
	{CREATE, "{\"cluster\":{\"name\":[\"a\"]}}",
	 "Proto field is not repeating, cannot start list."},
	{CREATE, "{\"cluster\":{\"locations\":\"us-west1-a\"}}",
	 "Invalid value at 'cluster.locations' (TYPE_STRING), \"us-west1-a\""},
	{CREATE, "{\"cluster\":{\"resourceLabels\":{\"a\":\"b\"}}}", NULL},
	{CREATE, "{\"cluster\":{\"resourceLabels\":{\"a\":1}}}",
	 "Invalid value at 'cluster.resource_labels[a]' (TYPE_STRING), 1"},
	{CREATE, "{\"cluster\":\"x\"}",
	 "Invalid value at 'cluster' "
	 "(type.googleapis.com/google.container.v1.Cluster), \"x\""},
	{CREATE, "{\"cluster\":{\"name\":5}}",
	 "Invalid value at 'cluster.name' (TYPE_STRING), 5"},
	{CREATE, "{\"cluster\":{\"name\":null,\"nodePools\":null}}", NULL},
	/* Compute words paths in camelCase under 'resource' */
	{INSERT, "{\"name\":\"vm\",\"machineType\":\"x\",\"metadata\":{\"items\":"
	         "[{\"key\":\"user-data\",\"value\":\"#cloud-config\"}]},"
	         "\"networkInterfaces\":[{\"accessConfigs\":[{\"name\":"
	         "\"external-nat\",\"type\":\"ONE_TO_ONE_NAT\"}]}],"
	         "\"tags\":{\"items\":[\"t\"]},\"canIpForward\":false}", NULL},
	{INSERT, "{\"foo\":1}",
	 "Invalid JSON payload received. Unknown name \"foo\" at 'resource': "
	 "Cannot find field."},
	{INSERT, "{\"networkInterfaces\":[{\"accessConfigs\":[{\"nat\":1}]}]}",
	 "Unknown name \"nat\" at 'resource.networkInterfaces[0]."
	 "accessConfigs[0]'"},
	{INSERT, "{\"id\":\"-1\"}", "Invalid value at 'resource.id' "
	 "(TYPE_UINT64), \"-1\""},
	{INSERT, "{\"id\":\"18446744073709551615\"}", NULL},
	{INSERT, "{\"fingerprint\":\"not base64!\"}",
	 "Invalid value at 'resource.fingerprint' (TYPE_BYTES)"},
	{INSERT, "{\"fingerprint\":\"AAAAAAAAAAA=\"}", NULL},
	{"compute.firewalls.insert", "{\"allowed\":[{\"IPProtocol\":\"tcp\","
	 "\"ports\":[\"22\"]}],\"sourceRanges\":[\"10.0.0.0/8\"]}", NULL},
	{"compute.firewalls.insert", "{\"allowed\":[{\"protocol\":\"tcp\"}]}",
	 "Unknown name \"protocol\" at 'resource.allowed[0]'"},
	{"storage.buckets.insert", "{\"name\":\"b\",\"nope\":true}",
	 "Unknown name \"nope\" at 'resource'"},
};

static void
test_cases(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *body = json_loads(cases[i].body, 0, NULL);
		json_t *out = json_array();
		size_t n;
		char *dump;

		assert_non_null(body);
		assert_true(schema_has_method(cases[i].method));
		n = schema_validate(cases[i].method, body, out);
		dump = json_dumps(out, JSON_COMPACT);
		if (cases[i].want == NULL && n != 0)
			print_error("case %zu (%s): unexpected violations %s\n", i,
			            cases[i].body, dump);
		if (cases[i].want == NULL)
			assert_int_equal(n, 0);
		else {
			if (n == 0)
				print_error("case %zu (%s): no violation\n", i,
				            cases[i].body);
			assert_true(n > 0);
			assert_contains(json_string_value(json_object_get(
			        json_array_get(out, 0), "description")),
			                cases[i].want);
		}
		free(dump);
		json_decref(out);
		json_decref(body);
	}
}

/* Several problems are reported together, like Google does. */
static void
test_many_violations(void **state)
{
	json_t *body = json_loads("{\"a\":1,\"cluster\":{\"b\":2,\"name\":3}}",
	                          0, NULL);
	json_t *out = json_array();

	(void)state;
	assert_int_equal(schema_validate(CREATE, body, out), 3);
	assert_string_equal(json_string_value(json_object_get(
	        json_array_get(out, 1), "field")), "cluster");
	json_decref(out);
	json_decref(body);
	assert_false(schema_has_method("container.nothing"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_many_violations),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
