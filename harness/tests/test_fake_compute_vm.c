/* test_fake_compute_vm.c - guest attributes and the serial console: what
 * the simulated VM writes (metadata server, serial port) and what
 * Compute's getGuestAttributes / getSerialPortOutput answer. */
#include <stdlib.h>
#include <string.h>

#include "fakeutil.h"

#define ZONE "/compute/v1/projects/p1/zones/us-central1-b"
#define GA "/vm/vm1/computeMetadata/v1/instance/guest-attributes/"

static const char *const flavor[] = {"Metadata-Flavor: Google", NULL};

static struct fake *
with_vm(void)
{
	struct fake *f = fu_new(true, 0);

	assert_int_equal(fu_do(f, "POST", ZONE "/instances",
	                       "{\"name\":\"vm1\",\"machineType\":\"zones/"
	                       "us-central1-b/machineTypes/n1-standard-1\"}"),
	                 200);
	return f;
}

static void
test_guest_attributes(void **state)
{
	struct fake *f = with_vm();
	struct fu_resp r;
	json_t *items, *v;

	(void)state;
	/* the metadata server insists on the flavor header */
	assert_int_equal(fu_do(f, "PUT", GA "meshvm/phase", "joined"), 403);
	assert_int_equal(fu_do_on(f, "gcp", "PUT", GA "meshvm/phase", "joined",
	                          flavor), 200);
	assert_int_equal(fu_do_on(f, "gcp", "PUT", GA "meshvm/phase", "ready",
	                          flavor), 200); /* replaced */
	assert_int_equal(fu_do_on(f, "gcp", "PUT", GA "meshvm/ip", "10.0.0.2",
	                          flavor), 200);
	assert_int_equal(fu_do_on(f, "gcp", "PUT", GA "other/k", "v", flavor),
	                 200);
	assert_int_equal(fu_do_on(f, "gcp", "PUT", GA "bad.ns/k", "v", flavor),
	                 400);
	assert_int_equal(fu_do_on(f, "gcp", "PUT", "/vm/nope/computeMetadata/v1/"
	                          "instance/guest-attributes/a/b", "v", flavor),
	                 404);
	r = fu_req(f, "GET", ZONE "/instances/vm1/getGuestAttributes?"
	           "queryPath=meshvm/", NULL);
	assert_int_equal(r.status, 200);
	items = json_object_get(json_object_get(r.json, "queryValue"), "items");
	assert_int_equal(json_array_size(items), 2);
	v = json_array_get(items, 0);
	assert_string_equal(json_string_value(json_object_get(v, "namespace")),
	                    "meshvm");
	assert_string_equal(json_string_value(json_object_get(v, "key")),
	                    "phase");
	assert_string_equal(json_string_value(json_object_get(v, "value")),
	                    "ready");
	fu_free(&r);
	r = fu_req(f, "GET", ZONE "/instances/vm1/getGuestAttributes?"
	           "variableKey=meshvm/ip", NULL);
	assert_string_equal(json_string_value(json_object_get(r.json,
	                                                      "variableValue")),
	                    "10.0.0.2");
	fu_free(&r);
	assert_int_equal(fu_do(f, "GET", ZONE "/instances/vm1/getGuestAttributes"
	                       "?variableKey=meshvm/nope", NULL), 404);
	assert_int_equal(fu_do(f, "GET", ZONE "/instances/vm9/getGuestAttributes"
	                       "?queryPath=meshvm/", NULL), 404);
	fake_free(f);
}

#define MD "/vm/vm1/computeMetadata/v1/"

static char *
md_body(struct fake *f, const char *path, int want)
{
	struct fu_resp r = fu_req_on(f, "gcp", "GET", path, NULL, flavor);
	char *b;

	assert_int_equal(r.status, want);
	b = strdup(r.raw.body ? r.raw.body : "");
	assert_non_null(b);
	fu_free(&r);
	return b;
}

/* cloud-init's GCE datasource asks "?recursive=True" (capital T) for
 * instance/attributes/ and project/attributes/ and json.loads the body:
 * both must be JSON objects (they were text and 404). */
static void
test_metadata_tree(void **state)
{
	struct fake *f = fu_new(true, 0);
	json_t *j;
	char *b;

	(void)state;
	assert_int_equal(fu_do(f, "POST", ZONE "/instances",
	                       "{\"name\":\"vm1\",\"machineType\":\"zones/"
	                       "us-central1-b/machineTypes/n1-standard-1\","
	                       "\"metadata\":{\"items\":[{\"key\":"
	                       "\"user-data\",\"value\":\"#cloud-config\\n\"},"
	                       "{\"key\":\"k2\",\"value\":\"v2\"}]}}"),
	                 200);
	b = md_body(f, MD "instance/attributes/?recursive=True", 200);
	j = json_loads(b, 0, NULL);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "user-data")),
	                    "#cloud-config\n");
	assert_string_equal(json_string_value(json_object_get(j, "k2")), "v2");
	json_decref(j);
	free(b);
	b = md_body(f, MD "project/attributes/?recursive=True", 200);
	assert_string_equal(b, "{}");
	free(b);
	/* listings: keys, "/" after subdirectories */
	b = md_body(f, MD "instance/attributes/", 200);
	assert_non_null(strstr(b, "user-data\n"));
	assert_non_null(strstr(b, "k2\n"));
	free(b);
	b = md_body(f, MD "instance/", 200);
	assert_non_null(strstr(b, "network-interfaces/\n"));
	assert_non_null(strstr(b, "service-accounts/\n"));
	assert_non_null(strstr(b, "hostname\n"));
	free(b);
	b = md_body(f, MD "instance/network-interfaces/", 200);
	assert_string_equal(b, "0/\n");
	free(b);
	/* recursive: camelCase built-ins, attribute keys verbatim, no token */
	b = md_body(f, MD "instance/?recursive=true", 200);
	j = json_loads(b, 0, NULL);
	assert_non_null(j);
	assert_non_null(json_object_get(j, "networkInterfaces"));
	assert_non_null(json_object_get(j, "machineType"));
	assert_non_null(json_object_get(json_object_get(j, "attributes"),
	                                "user-data"));
	assert_null(strstr(b, "access_token"));
	json_decref(j);
	free(b);
	b = md_body(f, MD "project/?recursive=true", 200);
	assert_non_null(strstr(b, "\"projectId\":\"p1\""));
	free(b);
	/* leaves */
	b = md_body(f, MD "instance/zone", 200);
	assert_non_null(strstr(b, "/zones/us-central1-b"));
	free(b);
	b = md_body(f, MD "instance/attributes/k2?alt=json", 200);
	assert_string_equal(b, "\"v2\"");
	free(b);
	b = md_body(f, MD "instance/service-accounts/default/aliases", 200);
	assert_string_equal(b, "default\n");
	free(b);
	b = md_body(f, MD "instance/service-accounts/default/token", 200);
	assert_non_null(strstr(b, "access_token"));
	free(b);
	b = md_body(f, MD "instance/service-accounts/nobody@x/token", 404);
	free(b);
	b = md_body(f, MD "instance/attributes/nope", 404);
	free(b);
	b = md_body(f, MD "instance/network-interfaces/7/ip", 404);
	free(b);
	b = md_body(f, MD "instance/hostname/deeper", 404);
	free(b);
	assert_int_equal(fu_do(f, "GET", MD "instance/id", NULL), 403);
	fake_free(f);
}

static void
test_serial_port(void **state)
{
	struct fake *f = with_vm();
	struct fu_resp r;
	char *big;

	(void)state;
	assert_int_equal(fu_do(f, "POST", "/vm/vm1/serialPort/1",
	                       "boot: hello\n"), 200);
	assert_int_equal(fu_do(f, "POST", "/vm/vm1/serialPort/1",
	                       "join: done\n"), 200);
	r = fu_req(f, "GET", ZONE "/instances/vm1/serialPort?port=1", NULL);
	assert_int_equal(r.status, 200);
	assert_string_equal(json_string_value(json_object_get(r.json,
	                                                      "contents")),
	                    "boot: hello\njoin: done\n");
	assert_string_equal(json_string_value(json_object_get(r.json, "next")),
	                    "23");
	fu_free(&r);
	/* from an offset: only what came after */
	r = fu_req(f, "GET", ZONE "/instances/vm1/serialPort?start=12", NULL);
	assert_string_equal(json_string_value(json_object_get(r.json,
	                                                      "contents")),
	                    "join: done\n");
	fu_free(&r);
	assert_int_equal(fu_do(f, "GET", ZONE "/instances/vm1/serialPort?port=9",
	                       NULL), 400);
	/* bounded: the oldest bytes go, start says where the kept ones are */
	big = malloc((1 << 20) + 1);
	memset(big, 'x', 1 << 20);
	big[1 << 20] = '\0';
	big[(1 << 20) - 100] = '\0';
	assert_int_equal(fu_do(f, "POST", "/vm/vm1/serialPort/1", big), 200);
	r = fu_req(f, "GET", ZONE "/instances/vm1/serialPort?start=0", NULL);
	assert_string_equal(json_string_value(json_object_get(r.json, "start")),
	                    "0");
	fu_free(&r);
	assert_int_equal(fu_do(f, "POST", "/vm/vm1/serialPort/1", big), 200);
	r = fu_req(f, "GET", ZONE "/instances/vm1/serialPort?start=0", NULL);
	assert_int_equal(strtoll(json_string_value(json_object_get(r.json,
	                                                           "start")),
	                         NULL, 10),
	                 2 * ((1 << 20) - 100) + 23 - (1 << 20));
	assert_int_equal(json_string_length(json_object_get(r.json, "contents")),
	                 1 << 20);
	fu_free(&r);
	free(big);
	fake_free(f);
}

/* The metadata server finds a VM by name through an index: right after
 * the VM moves to another zone (deleted, made again), for many VMs, and
 * never for a VM that is gone. */
static void
test_metadata_lookup(void **state)
{
	struct fake *f = with_vm();
	char body[160], path[128];
	struct fu_resp r;

	(void)state;
	r = fu_req_on(f, "gcp", "GET", "/vm/vm1/computeMetadata/v1/instance/zone",
	              NULL, flavor);
	assert_int_equal(r.status, 200);
	assert_contains(r.raw.body, "/zones/us-central1-b");
	fu_free(&r);
	for (int i = 0; i < 50; i++) {
		snprintf(body, sizeof(body), "{\"name\":\"vm-%d\",\"machineType\":"
		         "\"zones/us-central1-b/machineTypes/n1-standard-1\"}", i);
		assert_int_equal(fu_do(f, "POST", ZONE "/instances", body), 200);
	}
	for (int i = 0; i < 50; i += 7) {
		snprintf(path, sizeof(path), "/vm/vm-%d/computeMetadata/v1/instance/"
		         "name", i);
		r = fu_req_on(f, "gcp", "GET", path, NULL, flavor);
		assert_int_equal(r.status, 200);
		snprintf(body, sizeof(body), "vm-%d", i);
		assert_string_equal(r.raw.body, body);
		fu_free(&r);
	}
	/* gone, then made again in another zone */
	r = fu_req(f, "DELETE", ZONE "/instances/vm1", NULL);
	assert_int_equal(r.status, 200);
	snprintf(path, sizeof(path), ZONE "/operations/%s", fu_str(&r, "name"));
	fu_free(&r);
	assert_int_equal(fu_do(f, "GET", path, NULL), 200); /* done: deleted */
	assert_int_equal(fu_do_on(f, "gcp", "GET", "/vm/vm1/computeMetadata/v1/"
	                          "instance/zone", NULL, flavor), 404);
	assert_int_equal(fu_do(f, "POST", "/compute/v1/projects/p2/zones/"
	                       "europe-west1-c/instances",
	                       "{\"name\":\"vm1\",\"machineType\":\"zones/"
	                       "europe-west1-c/machineTypes/n1-standard-1\"}"),
	                 200);
	r = fu_req_on(f, "gcp", "GET", "/vm/vm1/computeMetadata/v1/instance/zone",
	              NULL, flavor);
	assert_int_equal(r.status, 200);
	assert_contains(r.raw.body, "/zones/europe-west1-c");
	fu_free(&r);
	r = fu_req_on(f, "gcp", "GET", "/vm/vm1/computeMetadata/v1/project/"
	              "project-id", NULL, flavor);
	assert_string_equal(r.raw.body, "p2");
	fu_free(&r);
	fake_free(f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_guest_attributes),
		cmocka_unit_test(test_serial_port),
		cmocka_unit_test(test_metadata_tree),
		cmocka_unit_test(test_metadata_lookup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
