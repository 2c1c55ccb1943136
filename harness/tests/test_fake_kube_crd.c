/* test_fake_kube_crd.c - namespaces and CustomResourceDefinitions on
 * the fake's Kubernetes side: a CRD's kind served once Established, its
 * schema enforced and published in /openapi/v3. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/jwt.h"
#include "core/yaml.h"
#include "kubeutil.h"

static void
test_namespaces_and_crds(void **state)
{
	struct fake *f = kube_fake(true, 0);
	struct fu_resp r;

	(void)state;
	assert_int_equal(kdo(f, "POST", "/api/v1/namespaces",
	                     "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\","
	                     "\"metadata\":{\"name\":\"demo\"}}"), 201);
	/* a new namespace gets its defaults */
	assert_int_equal(kdo(f, "GET", "/api/v1/namespaces/demo/serviceaccounts/"
	                     "default", NULL), 200);
	assert_int_equal(kdo(f, "GET", "/api/v1/namespaces/demo/configmaps/"
	                     "kube-root-ca.crt", NULL), 200);
	assert_int_equal(kdo(f, "POST", "/api/v1/namespaces/demo/configmaps",
	                     "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\","
	                     "\"metadata\":{\"name\":\"x\"}}"), 201);
	r = k(f, "DELETE", "/api/v1/namespaces/demo", NULL);
	assert_int_equal(r.status, 200);
	fu_free(&r);
	/* controller delay 0: gone at the next request, contents too */
	assert_int_equal(kdo(f, "GET", "/api/v1/namespaces/demo", NULL), 404);
	assert_int_equal(list_count(f, "/api/v1/configmaps?fieldSelector="
	                            "metadata.namespace%3Ddemo"), 0);
	/* a CRD makes its kind servable, with its schema */
	r = k(f, "POST", "/apis/apiextensions.k8s.io/v1/"
	      "customresourcedefinitions",
	      "{\"apiVersion\":\"apiextensions.k8s.io/v1\",\"kind\":"
	      "\"CustomResourceDefinition\",\"metadata\":{\"name\":"
	      "\"widgets.example.com\"},\"spec\":{\"group\":\"example.com\","
	      "\"names\":{\"plural\":\"widgets\",\"singular\":\"widget\","
	      "\"kind\":\"Widget\",\"shortNames\":[\"wd\"]},\"scope\":"
	      "\"Namespaced\",\"versions\":[{\"name\":\"v1\",\"served\":true,"
	      "\"storage\":true,\"schema\":{\"openAPIV3Schema\":{\"type\":"
	      "\"object\",\"properties\":{\"spec\":{\"type\":\"object\","
	      "\"properties\":{\"size\":{\"type\":\"integer\"}}}}}}}]}}");
	assert_int_equal(r.status, 201);
	fu_free(&r);
	r = k(f, "GET", "/apis/example.com/v1", NULL);
	assert_string_equal(fu_str(&r, "resources.0.name"), "widgets");
	assert_string_equal(fu_str(&r, "resources.0.shortNames.0"), "wd");
	fu_free(&r);
	assert_int_equal(kdo(f, "POST", "/apis/example.com/v1/namespaces/default/"
	                     "widgets",
	                     "{\"apiVersion\":\"example.com/v1\",\"kind\":"
	                     "\"Widget\",\"metadata\":{\"name\":\"w\"},\"spec\":"
	                     "{\"size\":3}}"), 201);
	r = k(f, "POST", "/apis/example.com/v1/namespaces/default/widgets?"
	      "fieldValidation=Strict",
	      "{\"apiVersion\":\"example.com/v1\",\"kind\":\"Widget\","
	      "\"metadata\":{\"name\":\"w2\"},\"spec\":{\"colour\":\"red\"}}");
	assert_status(r, 400, "BadRequest");
	assert_contains(fu_str(&r, "message"), "unknown field \"spec.colour\"");
	fu_free(&r);
	assert_int_equal(kdo(f, "DELETE", "/apis/apiextensions.k8s.io/v1/"
	                     "customresourcedefinitions/widgets.example.com",
	                     NULL), 200);
	assert_int_equal(kdo(f, "GET", "/apis/example.com/v1/namespaces/default/"
	                     "widgets/w", NULL), 404);
	r = k(f, "GET", "/apis", NULL);
	assert_null(strstr(r.raw.body, "example.com"));
	fu_free(&r);
	fake_free(f);
}

#define GW "/apis/networking.istio.io/v1/namespaces/default/gateways"

static void
test_crd_established_and_schema(void **state)
{
	struct fake *f = kube_fake(true, 0);
	struct fu_resp r;
	const char *t;

	(void)state;
	fu_istio_crds(f, "c1");
	/* the apiextensions controllers' status, on the fake's clock */
	r = k(f, "GET", CRDS "/gateways.networking.istio.io", NULL);
	assert_int_equal(r.status, 200);
	assert_string_equal(fu_str(&r, "status.conditions.0.type"),
	                    "NamesAccepted");
	assert_string_equal(fu_str(&r, "status.conditions.1.type"),
	                    "Established");
	assert_string_equal(fu_str(&r, "status.conditions.1.status"), "True");
	assert_string_equal(fu_str(&r, "status.conditions.1.reason"),
	                    "InitialNamesAccepted");
	t = fu_str(&r, "status.conditions.1.lastTransitionTime");
	assert_int_equal(strlen(t), 20); /* 2026-01-01T00:00:00Z */
	assert_string_equal(fu_str(&r, "status.acceptedNames.kind"), "Gateway");
	assert_string_equal(fu_str(&r, "status.acceptedNames.listKind"),
	                    "GatewayList");
	assert_string_equal(fu_str(&r, "status.storedVersions.0"), "v1");
	fu_free(&r);
	/* its schema in /openapi/v3, for kubectl explain */
	r = k(f, "GET", "/openapi/v3/apis/networking.istio.io/v1", NULL);
	{
		json_t *sc = json_object_get(json_object_get(json_object_get(
		        r.json, "components"), "schemas"),
		                             "io.istio.networking.v1.Gateway");
		assert_non_null(sc);
		assert_string_equal(json_string_value(json_object_get(json_array_get(
		        json_object_get(sc, "x-kubernetes-group-version-kind"), 0),
		                                                       "kind")),
		                    "Gateway");
		assert_non_null(json_object_get(json_object_get(json_object_get(
		        json_object_get(sc, "properties"), "spec"), "properties"),
		                                "servers"));
		assert_non_null(json_object_get(json_object_get(sc, "properties"),
		                                "metadata"));
	}
	fu_free(&r);
	/* types, enums and required fields: 422 Invalid with causes */
	r = k(f, "POST", GW,
	      "{\"apiVersion\":\"networking.istio.io/v1\",\"kind\":\"Gateway\","
	      "\"metadata\":{\"name\":\"g\"},\"spec\":{\"servers\":[{\"port\":"
	      "{\"number\":\"x\",\"protocol\":\"TLS\"},\"tls\":{\"mode\":"
	      "\"BOGUS\"}}]}}");
	assert_status(r, 422, "Invalid");
	assert_string_equal(fu_str(&r, "details.kind"), "Gateway");
	assert_string_equal(fu_str(&r, "details.group"), "networking.istio.io");
	assert_string_equal(fu_str(&r, "details.name"), "g");
	assert_contains(fu_str(&r, "message"), "Gateway.networking.istio.io "
	                "\"g\" is invalid: [");
	assert_contains(fu_str(&r, "message"), "spec.servers[0].hosts: "
	                "Required value");
	assert_contains(fu_str(&r, "message"), "spec.servers[0].port.name: "
	                "Required value");
	assert_contains(fu_str(&r, "message"), "spec.servers[0].port.number: "
	                "Invalid value: \"string\": spec.servers[0].port.number "
	                "in body must be of type integer: \"string\"");
	assert_contains(fu_str(&r, "message"), "spec.servers[0].tls.mode: "
	                "Unsupported value: \"BOGUS\": supported values: "
	                "\"PASSTHROUGH\", \"SIMPLE\"");
	assert_int_equal(json_array_size(json_object_get(json_object_get(
	        r.json, "details"), "causes")), 4);
	assert_string_equal(fu_str(&r, "details.causes.0.reason"),
	                    "FieldValueRequired");
	assert_string_equal(fu_str(&r, "details.causes.0.field"),
	                    "spec.servers[0].hosts");
	fu_free(&r);
	assert_int_equal(kdo(f, "GET", GW "/g", NULL), 404);
	/* a valid one; an unknown field without Strict is pruned */
	r = k(f, "POST", GW,
	      "{\"apiVersion\":\"networking.istio.io/v1\",\"kind\":\"Gateway\","
	      "\"metadata\":{\"name\":\"g\"},\"spec\":{\"bogus\":1,\"servers\":"
	      "[{\"hosts\":[\"*\"],\"port\":{\"name\":\"tls\",\"number\":15443,"
	      "\"protocol\":\"TLS\"},\"tls\":{\"mode\":\"AUTO_PASSTHROUGH\"}}]}}");
	assert_int_equal(r.status, 201);
	assert_null(strstr(r.raw.body, "bogus"));
	fu_free(&r);
	/* the same checks on a merge patch */
	r = kt(f, "PATCH", GW "/g", "{\"spec\":{\"servers\":[{\"hosts\":[\"*\"],"
	       "\"port\":{\"name\":\"tls\",\"number\":1,\"protocol\":\"TLS\"},"
	       "\"tls\":{\"mode\":\"NOPE\"}}]}}", "application/merge-patch+json");
	assert_status(r, 422, "Invalid");
	assert_string_equal(fu_str(&r, "message"), "Gateway.networking.istio.io "
	                    "\"g\" is invalid: spec.servers[0].tls.mode: "
	                    "Unsupported value: \"NOPE\": supported values: "
	                    "\"PASSTHROUGH\", \"SIMPLE\", \"MUTUAL\", "
	                    "\"AUTO_PASSTHROUGH\", \"ISTIO_MUTUAL\", "
	                    "\"OPTIONAL_MUTUAL\"");
	fu_free(&r);
	/* deleting the CRD deletes its objects, then the kind is gone */
	assert_int_equal(kdo(f, "DELETE", CRDS "/gateways.networking.istio.io",
	                     NULL), 200);
	r = k(f, "GET", GW "/g", NULL);
	assert_status(r, 404, "NotFound");
	fu_free(&r);
	r = k(f, "GET", "/apis/networking.istio.io/v1", NULL);
	assert_null(strstr(r.raw.body, "\"gateways\""));
	fu_free(&r);
	r = fu_req(f, "GET", "/_fake/state", NULL);
	assert_null(strstr(r.raw.body, "networking.istio.io/gateways/"));
	fu_free(&r);
	fake_free(f);
}


int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_namespaces_and_crds),
		cmocka_unit_test(test_crd_established_and_schema),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
