/* test_fake_kube.c - the Kubernetes API of the fake through
 * fake_handle(): discovery and openapi, the object store (create, get,
 * list with selectors and pages, replace, delete), Status errors, field
 * validation, generations and patches, server-side apply, dry runs.
 * CRDs and namespaces: test_fake_kube_crd.c; controllers and watches:
 * test_fake_kube_ctl.c; tokens and auth: test_fake_kube_auth.c. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/jwt.h"
#include "core/yaml.h"
#include "kubeutil.h"

static void
test_discovery_and_openapi(void **state)
{
	struct fake *f = kube_fake(true, 0);
	struct fu_resp r;
	json_t *res, *x, *paths;
	size_t i;
	bool token = false, vs = false, apps = false;
	char url[512];

	(void)state;
	r = k(f, "GET", "/version?timeout=5s", NULL);
	assert_string_equal(fu_str(&r, "major"), "1");
	assert_string_equal(fu_str(&r, "minor"), "32");
	assert_true(strncmp(fu_str(&r, "gitVersion"), "v1.32.", 6) == 0);
	fu_free(&r);
	r = k(f, "GET", "/api", NULL);
	assert_string_equal(fu_str(&r, "kind"), "APIVersions");
	assert_string_equal(fu_str(&r, "versions.0"), "v1");
	fu_free(&r);
	r = k(f, "GET", "/api/v1", NULL);
	res = json_object_get(r.json, "resources");
	json_array_foreach(res, i, x)
		if (!strcmp(json_string_value(json_object_get(x, "name")),
		            "serviceaccounts/token"))
			token = !strcmp(json_string_value(json_object_get(x, "kind")),
			                "TokenRequest");
	assert_true(token);
	fu_free(&r);
	/* Istio's group is not served until its CRDs are applied */
	r = k(f, "GET", "/apis", NULL);
	assert_null(strstr(r.raw.body, "networking.istio.io"));
	fu_free(&r);
	assert_int_equal(kdo(f, "GET", "/apis/networking.istio.io/v1", NULL),
	                 404);
	fu_istio_crds(f, "c1");
	r = k(f, "GET", "/apis", NULL);
	json_array_foreach(json_object_get(r.json, "groups"), i, x) {
		const char *g = json_string_value(json_object_get(x, "name"));
		apps = apps || !strcmp(g, "apps");
		vs = vs || !strcmp(g, "networking.istio.io");
	}
	assert_true(apps && vs);
	fu_free(&r);
	r = k(f, "GET", "/apis/networking.istio.io/v1", NULL);
	assert_string_equal(fu_str(&r, "groupVersion"), "networking.istio.io/v1");
	fu_free(&r);
	r = k(f, "GET", "/openapi/v3", NULL);
	paths = json_object_get(r.json, "paths");
	snprintf(url, sizeof(url), "%s",
	         json_string_value(json_object_get(json_object_get(paths,
	                                                           "apis/apps/v1"),
	                                           "serverRelativeURL")));
	assert_true(strncmp(url, "/openapi/v3/apis/apps/v1?hash=", 30) == 0);
	assert_non_null(json_object_get(paths, "apis/networking.istio.io/v1"));
	fu_free(&r);
	r = k(f, "GET", url, NULL);
	x = json_object_get(json_object_get(json_object_get(r.json, "paths"),
	                                    "/apis/apps/v1/namespaces/"
	                                    "{namespace}/deployments/{name}"),
	                    "patch");
	assert_string_equal(json_string_value(json_object_get(json_object_get(
	        x, "x-kubernetes-group-version-kind"), "kind")), "Deployment");
	{
		char *d = json_dumps(json_object_get(x, "parameters"), 0);
		assert_non_null(d);
		assert_contains(d, "fieldValidation");
		free(d);
	}
	fu_free(&r);
	r = k(f, "GET", "/openapi/v2", NULL);
	assert_int_equal(r.status, 404);
	fu_free(&r);
	fake_free(f);
}

static void
test_defaults_and_crud(void **state)
{
	struct fake *f = kube_fake(true, 0);
	struct fu_resp r;
	char rv[32], uid[64], path[256];

	(void)state;
	/* what every cluster starts with */
	r = k(f, "GET", "/api/v1/namespaces", NULL);
	assert_int_equal(json_array_size(json_object_get(r.json, "items")), 4);
	assert_string_equal(fu_str(&r, "kind"), "NamespaceList");
	fu_free(&r);
	r = k(f, "GET", CM "/kube-root-ca.crt", NULL);
	assert_contains(json_string_value(json_object_get(json_object_get(
	        r.json, "data"), "ca.crt")), "BEGIN CERTIFICATE");
	fu_free(&r);
	assert_int_equal(kdo(f, "GET", "/api/v1/namespaces/kube-system/"
	                     "serviceaccounts/default", NULL), 200);
	r = k(f, "GET", "/api/v1/namespaces/default/services/kubernetes", NULL);
	assert_true(strncmp(fu_str(&r, "spec.clusterIP"), "10.", 3) == 0);
	assert_int_equal(strlen(fu_str(&r, "spec.clusterIP")) -
	                 strlen(strrchr(fu_str(&r, "spec.clusterIP"), '.')) > 0,
	                 1);
	assert_string_equal(strrchr(fu_str(&r, "spec.clusterIP"), '.'), ".1");
	fu_free(&r);
	/* create */
	r = k(f, "POST", CM "?fieldManager=t", "{\"apiVersion\":\"v1\",\"kind\":"
	      "\"ConfigMap\",\"metadata\":{\"name\":\"a\",\"labels\":{\"app\":"
	      "\"x\",\"tier\":\"web\"}},\"data\":{\"k\":\"v\"}}");
	assert_int_equal(r.status, 201);
	assert_int_equal(fu_int(&r, "metadata.generation"), 1);
	assert_int_equal(strlen(fu_str(&r, "metadata.uid")), 36);
	assert_true(strlen(fu_str(&r, "metadata.creationTimestamp")) > 0);
	assert_string_equal(fu_str(&r, "metadata.namespace"), "default");
	assert_string_equal(fu_str(&r, "metadata.managedFields.0.manager"), "t");
	assert_string_equal(fu_str(&r, "metadata.managedFields.0.operation"),
	                    "Update");
	snprintf(rv, sizeof(rv), "%s", fu_str(&r, "metadata.resourceVersion"));
	snprintf(uid, sizeof(uid), "%s", fu_str(&r, "metadata.uid"));
	fu_free(&r);
	r = k(f, "POST", CM, "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\","
	      "\"metadata\":{\"name\":\"a\"}}");
	assert_status(r, 409, "AlreadyExists");
	assert_string_equal(fu_str(&r, "message"), "configmaps \"a\" already "
	                    "exists");
	assert_string_equal(fu_str(&r, "details.name"), "a");
	assert_string_equal(fu_str(&r, "details.kind"), "configmaps");
	fu_free(&r);
	r = k(f, "GET", CM "/nope", NULL);
	assert_status(r, 404, "NotFound");
	assert_string_equal(fu_str(&r, "message"), "configmaps \"nope\" not "
	                    "found");
	fu_free(&r);
	r = k(f, "GET", "/apis/apps/v1/namespaces/default/deployments/nope",
	      NULL);
	assert_string_equal(fu_str(&r, "message"), "deployments.apps \"nope\" "
	                    "not found");
	fu_free(&r);
	r = k(f, "POST", "/api/v1/namespaces/nope/configmaps",
	      "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":"
	      "{\"name\":\"x\"}}");
	assert_status(r, 404, "NotFound");
	assert_string_equal(fu_str(&r, "message"), "namespaces \"nope\" not "
	                    "found");
	fu_free(&r);
	r = k(f, "POST", CM, "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\","
	      "\"metadata\":{\"name\":\"Bad_Name\"}}");
	assert_status(r, 422, "Invalid");
	fu_free(&r);
	r = k(f, "POST", CM, "{\"apiVersion\":\"v2\",\"kind\":\"ConfigMap\","
	      "\"metadata\":{\"name\":\"x\"}}");
	assert_status(r, 400, "BadRequest");
	fu_free(&r);
	/* generateName */
	r = k(f, "POST", CM, "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\","
	      "\"metadata\":{\"generateName\":\"gen-\"}}");
	assert_int_equal(r.status, 201);
	assert_int_equal(strlen(fu_str(&r, "metadata.name")), 9);
	fu_free(&r);
	/* replace: a stale resourceVersion is a conflict */
	r = k(f, "PUT", CM "/a", "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\","
	      "\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"1\"},"
	      "\"data\":{\"k\":\"w\"}}");
	assert_status(r, 409, "Conflict");
	assert_contains(fu_str(&r, "message"), "the object has been modified");
	fu_free(&r);
	snprintf(path, sizeof(path), "{\"apiVersion\":\"v1\",\"kind\":"
	         "\"ConfigMap\",\"metadata\":{\"name\":\"a\",\"labels\":"
	         "{\"app\":\"x\"},\"resourceVersion\":\"%s\"},\"data\":{\"k\":"
	         "\"w\"}}", rv);
	r = k(f, "PUT", CM "/a", path);
	assert_int_equal(r.status, 200);
	assert_string_equal(fu_str(&r, "data.k"), "w");
	assert_string_equal(fu_str(&r, "metadata.uid"), uid);
	assert_true(atoi(fu_str(&r, "metadata.resourceVersion")) > atoi(rv));
	fu_free(&r);
	r = k(f, "PUT", CM "/a", "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\","
	      "\"metadata\":{\"name\":\"b\"}}");
	assert_status(r, 400, "BadRequest");
	fu_free(&r);
	/* delete */
	r = k(f, "DELETE", CM "/a", NULL);
	assert_int_equal(r.status, 200);
	assert_string_equal(fu_str(&r, "kind"), "Status");
	assert_string_equal(fu_str(&r, "status"), "Success");
	assert_string_equal(fu_str(&r, "details.uid"), uid);
	fu_free(&r);
	assert_int_equal(kdo(f, "DELETE", CM "/a", NULL), 404);
	fake_free(f);
}

static void
test_selectors_and_pages(void **state)
{
	struct fake *f = kube_fake(true, 0);
	struct fu_resp r;
	char next[1024];

	(void)state;
	make_cm(f, "a", "{\"app\":\"web\",\"tier\":\"front\"}");
	make_cm(f, "b", "{\"app\":\"web\",\"tier\":\"back\"}");
	make_cm(f, "c", "{\"app\":\"db\"}");
	make_cm(f, "d", "{}");
	/* kube-root-ca.crt is there too */
	assert_int_equal(list_count(f, CM), 5);
	assert_int_equal(list_count(f, CM "?labelSelector=app%3Dweb"), 2);
	assert_int_equal(list_count(f, CM "?labelSelector=app%3D%3Dweb"), 2);
	assert_int_equal(list_count(f, CM "?labelSelector=app!%3Dweb"), 3);
	assert_int_equal(list_count(f, CM "?labelSelector=app"), 3);
	assert_int_equal(list_count(f, CM "?labelSelector=!app"), 2);
	assert_int_equal(list_count(f, CM "?labelSelector=app+in+(web,db),"
	                            "tier+notin+(back)"), 2);
	assert_int_equal(list_count(f, CM "?labelSelector=app%3Dweb,tier%3D"
	                            "front"), 1);
	assert_int_equal(list_count(f, CM "?fieldSelector=metadata.name%3Dc"), 1);
	assert_int_equal(list_count(f, "/api/v1/configmaps?labelSelector=app"),
	                 3);
	r = k(f, "GET", CM "?fieldSelector=spec.x%3D1", NULL);
	assert_status(r, 400, "BadRequest");
	assert_contains(fu_str(&r, "message"), "field label not supported");
	fu_free(&r);
	r = k(f, "GET", CM "?labelSelector=a%3D%3D%3D", NULL);
	assert_status(r, 400, "BadRequest");
	fu_free(&r);
	/* pages of 2: 2 + 2 + 1 */
	r = k(f, "GET", CM "?limit=2", NULL);
	assert_int_equal(json_array_size(json_object_get(r.json, "items")), 2);
	assert_int_equal(fu_int(&r, "metadata.remainingItemCount"), 3);
	snprintf(next, sizeof(next), CM "?limit=2&continue=%s",
	         fu_str(&r, "metadata.continue"));
	fu_free(&r);
	r = k(f, "GET", next, NULL);
	assert_int_equal(json_array_size(json_object_get(r.json, "items")), 2);
	assert_string_equal(fu_str(&r, "items.0.metadata.name"), "c");
	snprintf(next, sizeof(next), CM "?limit=2&continue=%s",
	         fu_str(&r, "metadata.continue"));
	fu_free(&r);
	r = k(f, "GET", next, NULL);
	assert_int_equal(json_array_size(json_object_get(r.json, "items")), 1);
	assert_null(json_object_get(json_object_get(r.json, "metadata"),
	                            "continue"));
	fu_free(&r);
	r = k(f, "GET", CM "?continue=%%%%", NULL);
	assert_status(r, 400, "BadRequest");
	fu_free(&r);
	/* deletecollection by label */
	r = k(f, "DELETE", CM "?labelSelector=app%3Dweb", NULL);
	assert_int_equal(r.status, 200);
	fu_free(&r);
	assert_int_equal(list_count(f, CM), 3);
	fake_free(f);
}

static void
test_field_validation(void **state)
{
	struct fake *f = kube_fake(true, 0);
	struct fu_resp r;

	(void)state;
	r = k(f, "POST", DEP "?fieldValidation=Strict",
	      DEP_BODY(",\"bogus\":1"));
	assert_status(r, 400, "BadRequest");
	assert_string_equal(fu_str(&r, "message"), "Deployment in version \"v1\" "
	                    "cannot be handled as a Deployment: strict decoding "
	                    "error: unknown field \"spec.template.spec."
	                    "containers[0].bogus\"");
	fu_free(&r);
	r = k(f, "POST", DEP "?fieldValidation=Warn", DEP_BODY(",\"bogus\":1"));
	assert_int_equal(r.status, 201);
	assert_contains(r.raw.headers, "Warning: 299 - \"unknown field "
	                "\\\"spec.template.spec.containers[0].bogus\\\"\"");
	assert_null(strstr(r.raw.body, "bogus"));
	fu_free(&r);
	assert_int_equal(kdo(f, "DELETE", DEP "/web", NULL), 200);
	r = k(f, "POST", DEP "?fieldValidation=Strict",
	      "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":"
	      "{\"name\":\"web\"},\"spec\":{\"replicas\":\"2\"}}");
	assert_status(r, 400, "BadRequest");
	assert_contains(fu_str(&r, "message"), "cannot unmarshal string into Go "
	                "struct field Deployment.spec.replicas of type int32");
	fu_free(&r);
	/* Istio kinds: the top level is checked too */
	fu_istio_crds(f, "c1");
	r = k(f, "POST", "/apis/networking.istio.io/v1/namespaces/default/"
	      "virtualservices?fieldValidation=Strict",
	      "{\"apiVersion\":\"networking.istio.io/v1\",\"kind\":"
	      "\"VirtualService\",\"metadata\":{\"name\":\"v\"},\"spec\":{"
	      "\"hosts\":[\"a\"]},\"extra\":1}");
	assert_status(r, 400, "BadRequest");
	fu_free(&r);
	fake_free(f);
}

static void
test_generation_and_patches(void **state)
{
	struct fake *f = kube_fake(true, 0);
	struct fu_resp r;

	(void)state;
	assert_int_equal(kdo(f, "POST", DEP, DEP_BODY("")), 201);
	/* metadata only: same generation */
	r = kt(f, "PATCH", DEP "/web?fieldManager=kubectl-label",
	       "{\"metadata\":{\"labels\":{\"x\":\"y\"}}}",
	       "application/merge-patch+json");
	assert_int_equal(r.status, 200);
	assert_int_equal(fu_int(&r, "metadata.generation"), 1);
	fu_free(&r);
	/* strategic: containers merge by name, env by name */
	r = kt(f, "PATCH", DEP "/web",
	       "{\"spec\":{\"replicas\":3,\"template\":{\"spec\":{"
	       "\"$setElementOrder/containers\":[{\"name\":\"web\"}],"
	       "\"containers\":[{\"name\":\"web\",\"image\":\"nginx:2\","
	       "\"env\":[{\"name\":\"A\",\"value\":\"1\"}]}]}}}}",
	       "application/strategic-merge-patch+json");
	assert_int_equal(r.status, 200);
	assert_int_equal(fu_int(&r, "metadata.generation"), 2);
	assert_int_equal(fu_int(&r, "spec.replicas"), 3);
	assert_string_equal(fu_str(&r, "spec.template.spec.containers.0.name"),
	                    "web");
	assert_string_equal(fu_str(&r, "spec.template.spec.containers.0.image"),
	                    "nginx:2");
	assert_null(strstr(r.raw.body, "$setElementOrder"));
	fu_free(&r);
	/* JSON patch */
	r = kt(f, "PATCH", DEP "/web",
	       "[{\"op\":\"replace\",\"path\":\"/spec/replicas\",\"value\":4},"
	       "{\"op\":\"add\",\"path\":\"/metadata/annotations\",\"value\":"
	       "{\"a~b/c\":\"1\"}}]", "application/json-patch+json");
	assert_int_equal(r.status, 200);
	assert_int_equal(fu_int(&r, "spec.replicas"), 4);
	fu_free(&r);
	r = kt(f, "PATCH", DEP "/web",
	       "[{\"op\":\"test\",\"path\":\"/spec/replicas\",\"value\":9}]",
	       "application/json-patch+json");
	assert_status(r, 422, "Invalid");
	fu_free(&r);
	/* custom resources have no strategic merge patch */
	fu_istio_crds(f, "c1");
	assert_int_equal(kdo(f, "POST", "/apis/networking.istio.io/v1/namespaces/"
	                     "default/virtualservices",
	                     "{\"apiVersion\":\"networking.istio.io/v1\",\"kind\":"
	                     "\"VirtualService\",\"metadata\":{\"name\":\"v\"},"
	                     "\"spec\":{\"hosts\":[\"a\"]}}"), 201);
	r = kt(f, "PATCH", "/apis/networking.istio.io/v1/namespaces/default/"
	       "virtualservices/v", "{\"spec\":{}}",
	       "application/strategic-merge-patch+json");
	assert_status(r, 415, "UnsupportedMediaType");
	fu_free(&r);
	/* the scale subresource */
	r = kt(f, "PATCH", DEP "/web/scale", "{\"spec\":{\"replicas\":1}}",
	       "application/merge-patch+json");
	assert_int_equal(r.status, 200);
	assert_string_equal(fu_str(&r, "kind"), "Scale");
	assert_int_equal(fu_int(&r, "spec.replicas"), 1);
	fu_free(&r);
	fake_free(f);
}

static void
test_server_side_apply(void **state)
{
	struct fake *f = kube_fake(true, 0);
	struct fu_resp r;

	(void)state;
	r = kt(f, "PATCH", DEP "/web?fieldManager=kubectl&force=false",
	       DEP_BODY(""), "application/apply-patch+yaml");
	assert_int_equal(r.status, 201);
	assert_string_equal(fu_str(&r, "metadata.managedFields.0.operation"),
	                    "Apply");
	fu_free(&r);
	/* YAML body, same values: shared, no conflict */
	r = kt(f, "PATCH", DEP "/web?fieldManager=other",
	       "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n"
	       "spec:\n  replicas: 2\n", "application/apply-patch+yaml");
	assert_int_equal(r.status, 200);
	fu_free(&r);
	r = kt(f, "PATCH", DEP "/web?fieldManager=other",
	       "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n"
	       "spec:\n  replicas: 5\n", "application/apply-patch+yaml");
	assert_status(r, 409, "Conflict");
	assert_string_equal(fu_str(&r, "message"), "Apply failed with 1 "
	                    "conflict: conflict with \"kubectl\" using apps/v1: "
	                    ".spec.replicas");
	assert_string_equal(fu_str(&r, "details.causes.0.reason"),
	                    "FieldManagerConflict");
	assert_string_equal(fu_str(&r, "details.causes.0.field"),
	                    ".spec.replicas");
	fu_free(&r);
	r = kt(f, "PATCH", DEP "/web?fieldManager=other&force=true",
	       "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n"
	       "spec:\n  replicas: 5\n", "application/apply-patch+yaml");
	assert_int_equal(r.status, 200);
	assert_int_equal(fu_int(&r, "spec.replicas"), 5);
	fu_free(&r);
	/* kubectl no longer owns replicas: it can drop it without a fight */
	r = kt(f, "PATCH", DEP "/web?fieldManager=kubectl",
	       "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\","
	       "\"metadata\":{\"name\":\"web\"},\"spec\":{\"selector\":{"
	       "\"matchLabels\":{\"app\":\"web\"}},\"template\":{\"metadata\":{"
	       "\"labels\":{\"app\":\"web\"}},\"spec\":{\"containers\":[{"
	       "\"name\":\"web\",\"image\":\"nginx:3\"}]}}}}",
	       "application/apply-patch+yaml");
	assert_int_equal(r.status, 200);
	assert_int_equal(fu_int(&r, "spec.replicas"), 5);
	assert_string_equal(fu_str(&r, "spec.template.spec.containers.0.image"),
	                    "nginx:3");
	fu_free(&r);
	r = kt(f, "PATCH", DEP "/web", "{}", "application/apply-patch+yaml");
	assert_status(r, 422, "Invalid");
	fu_free(&r);
	r = kt(f, "PATCH", DEP "/web?fieldManager=m&fieldValidation=Strict",
	       "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":"
	       "{\"name\":\"web\"},\"spec\":{\"nope\":1}}",
	       "application/apply-patch+yaml");
	assert_status(r, 400, "BadRequest");
	assert_contains(fu_str(&r, "message"), ".spec.nope: field not declared "
	                "in schema");
	fu_free(&r);
	fake_free(f);
}

/* Apply bodies are YAML, parsed (aliases expanded) before the fake's
 * lock is taken: aliases work, and the errors are the API server's. */
static void
test_apply_yaml_body(void **state)
{
	struct fake *f = kube_fake(true, 0);
	struct fu_resp r;

	(void)state;
	r = kt(f, "PATCH", CM "/y?fieldManager=t",
	       "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: y\n"
	       "  labels: &l {app: web}\n  annotations: *l\ndata:\n  k: v\n",
	       "application/apply-patch+yaml");
	assert_int_equal(r.status, 201);
	assert_string_equal(fu_str(&r, "metadata.annotations.app"), "web");
	fu_free(&r);
	r = kt(f, "PATCH", CM "/y?fieldManager=t", "a: [1, 2\n",
	       "application/apply-patch+yaml");
	assert_status(r, 400, "BadRequest");
	assert_contains(fu_str(&r, "message"), "error decoding YAML: ");
	fu_free(&r);
	r = kt(f, "PATCH", CM "/y?fieldManager=t", "- 1\n- 2\n",
	       "application/apply-patch+yaml");
	assert_status(r, 400, "BadRequest");
	assert_string_equal(fu_str(&r, "message"),
	                    "the apply configuration must be one object");
	fu_free(&r);
	/* a merge patch is JSON: not read as YAML */
	r = kt(f, "PATCH", CM "/y", "data: {k: w}\n",
	       "application/merge-patch+json");
	assert_int_equal(r.status, 400);
	fu_free(&r);
	fake_free(f);
}

/* dryRun=All: the answer as if written, and nothing else changes. */
static void
test_dry_run_no_side_effects(void **state)
{
	struct fake *f = kube_fake(true, 0);
	struct fu_resp r;
	char rv[32], target[256];
	static const char cacerts[] =
	        "{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":"
	        "{\"name\":\"cacerts\",\"namespace\":\"istio-system\"},"
	        "\"data\":{\"root-cert.pem\":\"LS0tLS1CRUdJTiBST09U\"}}";

	(void)state;
	assert_int_equal(kdo(f, "POST", "/api/v1/namespaces",
	                     "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\","
	                     "\"metadata\":{\"name\":\"istio-system\"}}"), 201);
	assert_int_equal(kdo(f, "POST", "/api/v1/namespaces/default/"
	                     "serviceaccounts", "{\"apiVersion\":\"v1\",\"kind\":"
	                     "\"ServiceAccount\",\"metadata\":{\"name\":\"r\"}}"),
	                 201);
	r = k(f, "GET", CM, NULL);
	snprintf(rv, sizeof(rv), "%s", fu_str(&r, "metadata.resourceVersion"));
	fu_free(&r);
	/* create and server-side apply of cacerts */
	r = k(f, "POST", "/api/v1/namespaces/istio-system/secrets?dryRun=All",
	      cacerts);
	assert_int_equal(r.status, 201);
	assert_string_equal(fu_str(&r, "metadata.name"), "cacerts");
	fu_free(&r);
	r = kt(f, "PATCH", "/api/v1/namespaces/istio-system/secrets/cacerts?"
	       "dryRun=All&fieldManager=t", cacerts,
	       "application/apply-patch+yaml");
	assert_int_equal(r.status, 201);
	fu_free(&r);
	assert_int_equal(kdo(f, "GET", "/api/v1/namespaces/istio-system/secrets/"
	                     "cacerts", NULL), 404);
	assert_int_equal(kdo(f, "GET", CM "/istio-ca-root-cert", NULL), 404);
	assert_int_equal(kdo(f, "GET", "/api/v1/namespaces/istio-system/"
	                     "configmaps/istio-ca-root-cert", NULL), 404);
	/* a service-account token Secret is not filled */
	r = k(f, "POST", "/api/v1/namespaces/default/secrets?dryRun=All",
	      "{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":"
	      "{\"name\":\"tok\",\"annotations\":{\"kubernetes.io/"
	      "service-account.name\":\"r\"}},\"type\":\"kubernetes.io/"
	      "service-account-token\"}");
	assert_int_equal(r.status, 201);
	assert_null(strstr(r.raw.body, "\"token\""));
	fu_free(&r);
	/* a CRD does not define its kind */
	r = k(f, "POST", CRDS "?dryRun=All",
	      "{\"apiVersion\":\"apiextensions.k8s.io/v1\",\"kind\":"
	      "\"CustomResourceDefinition\",\"metadata\":{\"name\":"
	      "\"widgets.example.com\"},\"spec\":{\"group\":\"example.com\","
	      "\"names\":{\"plural\":\"widgets\",\"kind\":\"Widget\"},"
	      "\"scope\":\"Namespaced\",\"versions\":[{\"name\":\"v1\","
	      "\"served\":true,\"storage\":true,\"schema\":{"
	      "\"openAPIV3Schema\":{\"type\":\"object\"}}}]}}");
	assert_int_equal(r.status, 201);
	assert_string_equal(fu_str(&r, "status.conditions.1.type"),
	                    "Established");
	fu_free(&r);
	assert_int_equal(kdo(f, "GET", "/apis/example.com/v1", NULL), 404);
	assert_int_equal(kdo(f, "GET", CRDS "/widgets.example.com", NULL), 404);
	/* status and scale subresources */
	assert_int_equal(kdo(f, "POST", DEP, DEP_BODY("")), 201);
	r = k(f, "GET", CM, NULL);
	snprintf(rv, sizeof(rv), "%s", fu_str(&r, "metadata.resourceVersion"));
	fu_free(&r);
	r = kt(f, "PATCH", DEP "/web/scale?dryRun=All",
	       "{\"spec\":{\"replicas\":7}}", "application/merge-patch+json");
	assert_int_equal(r.status, 200);
	assert_int_equal(fu_int(&r, "spec.replicas"), 7);
	fu_free(&r);
	r = kt(f, "PATCH", DEP "/web/status?dryRun=All",
	       "{\"status\":{\"replicas\":9}}", "application/merge-patch+json");
	assert_int_equal(r.status, 200);
	fu_free(&r);
	r = k(f, "GET", DEP "/web", NULL);
	assert_int_equal(fu_int(&r, "spec.replicas"), 2);
	fu_free(&r);
	/* no resourceVersion was used, no watch event written */
	r = k(f, "GET", CM, NULL);
	assert_string_equal(fu_str(&r, "metadata.resourceVersion"), rv);
	fu_free(&r);
	snprintf(target, sizeof(target), CM "?watch=1&resourceVersion=%s", rv);
	r = k(f, "GET", target, NULL);
	assert_int_equal(r.status, 200);
	assert_null(strstr(r.raw.body, "\"type\""));
	fu_free(&r);
	fake_free(f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_discovery_and_openapi),
		cmocka_unit_test(test_defaults_and_crud),
		cmocka_unit_test(test_selectors_and_pages),
		cmocka_unit_test(test_field_validation),
		cmocka_unit_test(test_generation_and_patches),
		cmocka_unit_test(test_server_side_apply),
		cmocka_unit_test(test_apply_yaml_body),
		cmocka_unit_test(test_dry_run_no_side_effects),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
