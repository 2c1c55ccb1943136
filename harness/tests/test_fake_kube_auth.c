/* test_fake_kube_auth.c - tokens on the fake's Kubernetes side
 * (TokenRequest, service-account tokens and their checks) and auth and
 * isolation between clusters. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/jwt.h"
#include "core/yaml.h"
#include "kubeutil.h"

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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tokens),
		cmocka_unit_test(test_auth_and_isolation),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
