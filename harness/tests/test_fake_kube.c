/* test_fake_kube.c - the Kubernetes side of the fake through
 * fake_handle(): discovery and openapi, the object store (create, get,
 * list with selectors and pages, replace, delete), Status errors, field
 * validation, CRDs, namespaces, controllers, tokens, watches, auth and
 * isolation between clusters. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/jwt.h"
#include "core/yaml.h"
#include "fakeutil.h"

#define CLUSTERS "/v1/projects/p/locations/us-west1-b/clusters"

static struct fake *
kube_fake(bool no_auth, int delay_ms)
{
	struct fake_options o;
	struct fake *f = NULL;
	struct mv_err err;

	mv_err_clear(&err);
	fake_options_init(&o);
	o.no_auth = no_auth;
	o.op_polls = 0;
	o.controller_delay_ms = delay_ms;
	assert_int_equal(fake_new(&o, &f, &err), 0);
	assert_int_equal(fu_do_on(f, "gcp", "POST", CLUSTERS,
	                          "{\"cluster\":{\"name\":\"c1\","
	                          "\"initialNodeCount\":1}}",
	                          (const char *const[]){"Authorization: Bearer "
	                                                "x", NULL}),
	                 no_auth ? 200 : 401);
	if (!no_auth) {
		struct fu_resp t = fu_req(f, "POST", "/_fake/token", NULL);
		char h[256];
		snprintf(h, sizeof(h), "Authorization: Bearer %s",
		         fu_str(&t, "access_token"));
		assert_int_equal(fu_do_on(f, "gcp", "POST", CLUSTERS,
		                          "{\"cluster\":{\"name\":\"c1\","
		                          "\"initialNodeCount\":1}}",
		                          (const char *const[]){h, NULL}),
		                 200);
		fu_free(&t);
	}
	return f;
}

static struct fu_resp
k(struct fake *f, const char *method, const char *target, const char *body)
{
	return fu_req_on(f, "c1", method, target, body, NULL);
}

static struct fu_resp
kt(struct fake *f, const char *method, const char *target, const char *body,
   const char *ctype)
{
	char h[128];
	const char *hdrs[2] = {h, NULL};

	snprintf(h, sizeof(h), "Content-Type: %s", ctype);
	return fu_req_on(f, "c1", method, target, body, hdrs);
}

static int
kdo(struct fake *f, const char *method, const char *target, const char *body)
{
	return fu_do_on(f, "c1", method, target, body, NULL);
}

#define assert_status(r, code, reason)                                     \
	do {                                                               \
		if ((r).status != (code))                                      \
			print_error("%s\n", (r).raw.body);                         \
		assert_int_equal((r).status, (code));                          \
		assert_string_equal(fu_str(&(r), "kind"), "Status");           \
		assert_string_equal(fu_str(&(r), "reason"), (reason));         \
		assert_int_equal(fu_int(&(r), "code"), (code));                \
	} while (0)

#define CM "/api/v1/namespaces/default/configmaps"
#define CRDS "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"

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
make_cm(struct fake *f, const char *name, const char *labels)
{
	char body[512];

	snprintf(body, sizeof(body), "{\"apiVersion\":\"v1\",\"kind\":"
	         "\"ConfigMap\",\"metadata\":{\"name\":\"%s\",\"labels\":%s}}",
	         name, labels);
	assert_int_equal(kdo(f, "POST", CM, body), 201);
}

static size_t
list_count(struct fake *f, const char *target)
{
	struct fu_resp r = k(f, "GET", target, NULL);
	size_t n;

	if (r.status != 200)
		print_error("%s: %s\n", target, r.raw.body);
	assert_int_equal(r.status, 200);
	n = json_array_size(json_object_get(r.json, "items"));
	fu_free(&r);
	return n;
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

#define DEP "/apis/apps/v1/namespaces/default/deployments"
#define DEP_BODY(extra)                                                    \
	"{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":"   \
	"{\"name\":\"web\"},\"spec\":{\"replicas\":2,\"selector\":{"          \
	"\"matchLabels\":{\"app\":\"web\"}},\"template\":{\"metadata\":{"     \
	"\"labels\":{\"app\":\"web\"}},\"spec\":{\"containers\":[{\"name\":"  \
	"\"web\",\"image\":\"nginx\"" extra "}]}}}}"

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

static json_t *
lb_service(struct fake *f, const char *name, int *status)
{
	char *body = tu_fmt("{\"apiVersion\":\"v1\",\"kind\":\"Service\","
	                    "\"metadata\":{\"name\":\"%s\"},\"spec\":{\"type\":"
	                    "\"LoadBalancer\",\"ports\":[{\"port\":80}]}}", name);
	struct fu_resp r = k(f, "POST", "/api/v1/namespaces/default/services",
	                     body);
	json_t *ing = json_incref(json_object_get(json_object_get(
	        json_object_get(r.json, "status"), "loadBalancer"), "ingress"));

	*status = r.status;
	fu_free(&r);
	free(body);
	return ing;
}

/* --lb-range: addresses from the range, one per Service, reused only
 * once free; a bad range is refused. */
static void
test_lb_range(void **state)
{
	struct fake_options o;
	struct fake *f = NULL;
	struct mv_err err;
	json_t *a, *b, *c, *d;
	char ipa[32], ipb[32];
	int st;

	(void)state;
	fake_options_init(&o);
	o.lb_range = "10.1.2.3/24";
	mv_err_clear(&err);
	assert_int_equal(fake_new(&o, &f, &err), -1);
	assert_contains(err.msg, "--lb-range 10.1.2.3/24: not an IPv4 CIDR");
	o.lb_range = "198.51.100.8/30"; /* two usable: .9 and .10 */
	o.no_auth = true;
	o.op_polls = 0;
	o.controller_delay_ms = 0;
	assert_int_equal(fake_new(&o, &f, &err), 0);
	assert_int_equal(fu_do_on(f, "gcp", "POST", CLUSTERS,
	                          "{\"cluster\":{\"name\":\"c1\","
	                          "\"initialNodeCount\":1}}", NULL), 200);
	a = lb_service(f, "a", &st);
	assert_int_equal(st, 201);
	b = lb_service(f, "b", &st);
	assert_int_equal(st, 201);
	snprintf(ipa, sizeof(ipa), "%s",
	         json_string_value(json_object_get(json_array_get(a, 0), "ip")));
	snprintf(ipb, sizeof(ipb), "%s",
	         json_string_value(json_object_get(json_array_get(b, 0), "ip")));
	assert_true(!strcmp(ipa, "198.51.100.9") || !strcmp(ipa, "198.51.100.10"));
	assert_true(!strcmp(ipb, "198.51.100.9") || !strcmp(ipb, "198.51.100.10"));
	assert_string_not_equal(ipa, ipb);
	/* used up: the third stays pending */
	c = lb_service(f, "c", &st);
	assert_int_equal(st, 201);
	assert_int_equal(json_array_size(c), 0);
	/* a freed address goes to the next Service */
	assert_int_equal(kdo(f, "DELETE", "/api/v1/namespaces/default/services/a",
	                     NULL), 200);
	d = lb_service(f, "d", &st);
	assert_string_equal(json_string_value(json_object_get(json_array_get(d, 0),
	                                                      "ip")), ipa);
	json_decref(a);
	json_decref(b);
	json_decref(c);
	json_decref(d);
	fake_free(f);
}

static void
test_controllers(void **state)
{
	struct fake *f = kube_fake(true, 300);
	struct fu_resp r, r2;
	char ip[32];

	(void)state;
	/* LoadBalancer address: documentation range, from the name */
	r = k(f, "POST", "/api/v1/namespaces/default/services",
	      "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":"
	      "\"gw\"},\"spec\":{\"type\":\"LoadBalancer\",\"ports\":[{\"port\":"
	      "15443}]}}");
	assert_int_equal(r.status, 201);
	snprintf(ip, sizeof(ip), "%s",
	         fu_str(&r, "status.loadBalancer.ingress.0.ip"));
	assert_true(strncmp(ip, "203.0.113.", 10) == 0);
	assert_int_equal(fu_int(&r, "spec.ports.0.targetPort"), 15443);
	assert_string_equal(fu_str(&r, "spec.ports.0.protocol"), "TCP");
	fu_free(&r);
	assert_int_equal(kdo(f, "DELETE", "/api/v1/namespaces/default/services/gw",
	                     NULL), 200);
	r = k(f, "POST", "/api/v1/namespaces/default/services",
	      "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":"
	      "\"gw\"},\"spec\":{\"type\":\"LoadBalancer\",\"ports\":[{\"port\":"
	      "15443}]}}");
	assert_string_equal(fu_str(&r, "status.loadBalancer.ingress.0.ip"), ip);
	fu_free(&r);
	/* istio-ca-root-cert follows Secret istio-system/cacerts */
	assert_int_equal(kdo(f, "POST", "/api/v1/namespaces",
	                     "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\","
	                     "\"metadata\":{\"name\":\"istio-system\"}}"), 201);
	assert_int_equal(kdo(f, "GET", CM "/istio-ca-root-cert", NULL), 404);
	assert_int_equal(kdo(f, "POST", "/api/v1/namespaces/istio-system/secrets",
	                     "{\"apiVersion\":\"v1\",\"kind\":\"Secret\","
	                     "\"metadata\":{\"name\":\"cacerts\"},\"data\":{"
	                     "\"root-cert.pem\":\"Uk9PVAo=\"}}"), 201);
	r = k(f, "GET", CM "/istio-ca-root-cert", NULL);
	assert_string_equal(json_string_value(json_object_get(json_object_get(
	        r.json, "data"), "root-cert.pem")), "ROOT\n");
	fu_free(&r);
	assert_int_equal(kdo(f, "POST", "/api/v1/namespaces",
	                     "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\","
	                     "\"metadata\":{\"name\":\"late\"}}"), 201);
	r = k(f, "GET", "/api/v1/namespaces/late/configmaps/istio-ca-root-cert",
	      NULL);
	assert_string_equal(json_string_value(json_object_get(json_object_get(
	        r.json, "data"), "root-cert.pem")), "ROOT\n");
	fu_free(&r);
	/* service-account token Secrets are filled in */
	r = k(f, "POST", "/api/v1/namespaces/default/secrets",
	      "{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"type\":"
	      "\"kubernetes.io/service-account-token\",\"metadata\":{\"name\":"
	      "\"t\",\"annotations\":{\"kubernetes.io/service-account.name\":"
	      "\"default\"}}}");
	assert_true(strlen(fu_str(&r, "data.token")) > 100);
	assert_true(strlen(json_string_value(json_object_get(json_object_get(
	        r.json, "data"), "ca.crt"))) > 100);
	fu_free(&r);
	/* a Deployment is available after the controllers' delay */
	assert_int_equal(kdo(f, "POST", DEP, DEP_BODY("")), 201);
	r = k(f, "GET", DEP "/web", NULL);
	assert_int_equal(fu_int(&r, "status.availableReplicas"), -1);
	assert_int_equal(fu_int(&r, "status.unavailableReplicas"), 2);
	fu_free(&r);
	usleep(350 * 1000);
	r2 = k(f, "GET", DEP "/web", NULL);
	assert_int_equal(fu_int(&r2, "status.availableReplicas"), 2);
	assert_string_equal(fu_str(&r2, "status.conditions.0.status"), "True");
	fu_free(&r2);
	fake_free(f);
}

/* kubectl 1.32's `create token default --audience istio-ca --duration 1h`
 * body, byte for byte. */
static const char token_pb_hex[] =
	"6b3873000a280a1861757468656e7469636174696f6e2e6b38732e696f2f7631120c"
	"546f6b656e5265717565737412270a100a0012001a0022002a00320038004200120d"
	"0a08697374696f2d636120901c1a040a0012001a002200";

static void
hex_bytes(const char *hex, uint8_t *out, size_t *len)
{
	size_t n = strlen(hex) / 2;

	for (size_t i = 0; i < n; i++) {
		unsigned v;
		sscanf(hex + 2 * i, "%2x", &v);
		out[i] = (uint8_t)v;
	}
	*len = n;
}

static void
test_tokens(void **state)
{
	struct fake *f = kube_fake(true, 0);
	static const char *const pb[] = {
		"Content-Type: application/vnd.kubernetes.protobuf",
		"Accept: application/vnd.kubernetes.protobuf,application/json", NULL};
	uint8_t body[256];
	size_t len;
	struct fake_response raw;
	json_t *doc, *hdr = NULL, *claims = NULL;
	const char *tok;
	char review[4096];
	struct fu_resp r;

	(void)state;
	hex_bytes(token_pb_hex, body, &len);
	assert_int_equal(len, 91);
	assert_int_equal(fake_handle(f, "c1", "POST", "/api/v1/namespaces/"
	                             "default/serviceaccounts/default/token", pb,
	                             2, body, len, &raw), 0);
	assert_int_equal(raw.status, 201);
	doc = json_loads(raw.body, 0, NULL);
	assert_string_equal(json_string_value(json_object_get(doc, "kind")),
	                    "TokenRequest");
	tok = json_string_value(json_object_get(json_object_get(doc, "status"),
	                                        "token"));
	assert_non_null(tok);
	assert_int_equal(mv_jwt_decode(tok, &hdr, &claims, NULL), 0);
	assert_string_equal(json_string_value(json_object_get(hdr, "alg")),
	                    "RS256");
	assert_string_equal(json_string_value(json_array_get(json_object_get(
	        claims, "aud"), 0)), "istio-ca");
	assert_int_equal(json_integer_value(json_object_get(claims, "exp")) -
	                 json_integer_value(json_object_get(claims, "iat")),
	                 3600);
	assert_string_equal(json_string_value(json_object_get(claims, "sub")),
	                    "system:serviceaccount:default:default");
	assert_contains(json_string_value(json_object_get(claims, "iss")),
	                "/projects/p/locations/us-west1-b/clusters/c1");
	assert_string_equal(json_string_value(json_object_get(json_object_get(
	        claims, "kubernetes.io"), "namespace")), "default");
	/* TokenReview: right audience, wrong audience, garbage */
	snprintf(review, sizeof(review), "{\"apiVersion\":\"authentication.k8s."
	         "io/v1\",\"kind\":\"TokenReview\",\"spec\":{\"token\":\"%s\","
	         "\"audiences\":[\"istio-ca\"]}}", tok);
	r = k(f, "POST", "/apis/authentication.k8s.io/v1/tokenreviews", review);
	assert_int_equal(r.status, 201);
	assert_true(json_is_true(json_object_get(json_object_get(r.json,
	                                                         "status"),
	                                         "authenticated")));
	assert_string_equal(fu_str(&r, "status.user.username"),
	                    "system:serviceaccount:default:default");
	assert_string_equal(fu_str(&r, "status.audiences.0"), "istio-ca");
	fu_free(&r);
	snprintf(review, sizeof(review), "{\"spec\":{\"token\":\"%s\","
	         "\"audiences\":[\"other\"]}}", tok);
	r = k(f, "POST", "/apis/authentication.k8s.io/v1/tokenreviews", review);
	assert_false(json_is_true(json_object_get(json_object_get(r.json,
	                                                          "status"),
	                                          "authenticated")));
	assert_contains(fu_str(&r, "status.error"), "audiences");
	fu_free(&r);
	r = k(f, "POST", "/apis/authentication.k8s.io/v1/tokenreviews",
	      "{\"spec\":{\"token\":\"a.b.c\"}}");
	assert_false(json_is_true(json_object_get(json_object_get(r.json,
	                                                          "status"),
	                                          "authenticated")));
	fu_free(&r);
	json_decref(hdr);
	json_decref(claims);
	json_decref(doc);
	fake_response_free(&raw);
	/* JSON TokenRequest: too short a duration */
	r = k(f, "POST", "/api/v1/namespaces/default/serviceaccounts/default/"
	      "token", "{\"spec\":{\"expirationSeconds\":60}}");
	assert_status(r, 422, "Invalid");
	fu_free(&r);
	r = k(f, "POST", "/api/v1/namespaces/default/serviceaccounts/nope/token",
	      "{}");
	assert_status(r, 404, "NotFound");
	fu_free(&r);
	/* a truncated protobuf body is a 400, never a crash */
	assert_int_equal(fake_handle(f, "c1", "POST", "/api/v1/namespaces/"
	                             "default/serviceaccounts/default/token", pb,
	                             2, body, 40, &raw), 0);
	assert_int_equal(raw.status, 400);
	fake_response_free(&raw);
	fake_free(f);
}

static void
test_auth_and_isolation(void **state)
{
	struct fake *f = kube_fake(false, 0);
	struct fu_resp r, t;
	char bearer[4096];
	const char *hdrs[2] = {bearer, NULL};

	(void)state;
	r = k(f, "GET", "/api/v1/namespaces", NULL);
	assert_status(r, 401, "Unauthorized");
	fu_free(&r);
	/* /version is public (kubectl's dispatcher asks it first) */
	assert_int_equal(kdo(f, "GET", "/version", NULL), 200);
	/* a Google access token works, as on GKE */
	t = fu_req(f, "POST", "/_fake/token", NULL);
	snprintf(bearer, sizeof(bearer), "Authorization: Bearer %s",
	         fu_str(&t, "access_token"));
	fu_free(&t);
	assert_int_equal(fu_do_on(f, "c1", "GET", "/api/v1/namespaces", NULL,
	                          hdrs), 200);
	/* a service-account token for the API's own audience works; one for
	 * istio-ca does not */
	t = fu_req_on(f, "c1", "POST", "/api/v1/namespaces/default/"
	              "serviceaccounts/default/token", "{}", hdrs);
	assert_int_equal(t.status, 201);
	snprintf(bearer, sizeof(bearer), "Authorization: Bearer %s",
	         fu_str(&t, "status.token"));
	fu_free(&t);
	r = fu_req_on(f, "c1", "GET", "/api/v1/namespaces", NULL, hdrs);
	assert_int_equal(r.status, 200);
	fu_free(&r);
	t = fu_req_on(f, "c1", "POST", "/api/v1/namespaces/default/"
	              "serviceaccounts/default/token",
	              "{\"spec\":{\"audiences\":[\"istio-ca\"]}}", hdrs);
	snprintf(bearer, sizeof(bearer), "Authorization: Bearer %s",
	         fu_str(&t, "status.token"));
	fu_free(&t);
	r = fu_req_on(f, "c1", "GET", "/api/v1/namespaces", NULL, hdrs);
	assert_status(r, 401, "Unauthorized");
	fu_free(&r);
	fake_free(f);

	/* two clusters, two stores */
	f = kube_fake(true, 0);
	assert_int_equal(fu_do(f, "POST", CLUSTERS, "{\"cluster\":{\"name\":"
	                       "\"c2\",\"initialNodeCount\":1}}"), 200);
	make_cm(f, "only-in-c1", "{}");
	assert_int_equal(fu_do_on(f, "c2", "GET", CM "/only-in-c1", NULL, NULL),
	                 404);
	assert_int_equal(kdo(f, "GET", CM "/only-in-c1", NULL), 200);
	/* faults can target one cluster's listener */
	assert_int_equal(fu_do(f, "PUT", "/_fake/faults", "rules:\n  - listener: "
	                       "c2\n    status: 503\n"), 200);
	r = fu_req_on(f, "c2", "GET", CM, NULL, NULL);
	assert_status(r, 503, "ServiceUnavailable");
	fu_free(&r);
	assert_int_equal(kdo(f, "GET", CM, NULL), 200);
	/* the journal names the listener */
	r = fu_req(f, "GET", "/_fake/journal?listener=c2", NULL);
	assert_contains(r.raw.body, "\"listener\":\"c2\"");
	assert_null(strstr(r.raw.body, "\"listener\":\"c1\""));
	fu_free(&r);
	/* the cluster's objects are in the state */
	r = fu_req(f, "GET", "/_fake/state", NULL);
	assert_contains(r.raw.body, "only-in-c1");
	fu_free(&r);
	fake_free(f);
}

static void
test_watch(void **state)
{
	struct fake *f = kube_fake(true, 0);
	struct fu_resp r;
	char rv[32], target[256];

	(void)state;
	r = k(f, "GET", CM "?watch=true", NULL);
	assert_int_equal(r.status, 200);
	assert_contains(r.raw.body, "{\"type\":\"ADDED\",\"object\":");
	assert_contains(r.raw.body, "kube-root-ca.crt");
	fu_free(&r);
	r = k(f, "GET", CM, NULL);
	snprintf(rv, sizeof(rv), "%s", fu_str(&r, "metadata.resourceVersion"));
	fu_free(&r);
	make_cm(f, "w1", "{}");
	assert_int_equal(kdo(f, "DELETE", CM "/w1", NULL), 200);
	snprintf(target, sizeof(target), CM "?watch=1&resourceVersion=%s", rv);
	r = k(f, "GET", target, NULL);
	assert_contains(r.raw.body, "{\"type\":\"ADDED\"");
	assert_contains(r.raw.body, "{\"type\":\"DELETED\"");
	assert_null(strstr(r.raw.body, "kube-root-ca.crt"));
	fu_free(&r);
	r = k(f, "GET", CM "?watch=1&resourceVersion=1", NULL);
	assert_contains(r.raw.body, "\"type\":\"ERROR\"");
	assert_contains(r.raw.body, "\"code\":410");
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
		cmocka_unit_test(test_namespaces_and_crds),
		cmocka_unit_test(test_crd_established_and_schema),
		cmocka_unit_test(test_dry_run_no_side_effects),
		cmocka_unit_test(test_lb_range),
		cmocka_unit_test(test_controllers),
		cmocka_unit_test(test_tokens),
		cmocka_unit_test(test_auth_and_isolation),
		cmocka_unit_test(test_watch),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
