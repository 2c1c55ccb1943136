/* harness/tests/kubeutil.h - helpers for the suites that drive the
 * fake's Kubernetes side through fake_handle(): a fake with cluster c1,
 * requests on its listener, Status assertions. */
#ifndef MESHVM_KUBEUTIL_H
#define MESHVM_KUBEUTIL_H

#include "fakeutil.h"

#define CLUSTERS "/v1/projects/p/locations/us-west1-b/clusters"

static inline struct fake *
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

static inline struct fu_resp
k(struct fake *f, const char *method, const char *target, const char *body)
{
	return fu_req_on(f, "c1", method, target, body, NULL);
}

static inline struct fu_resp
kt(struct fake *f, const char *method, const char *target, const char *body,
   const char *ctype)
{
	char h[128];
	const char *hdrs[2] = {h, NULL};

	snprintf(h, sizeof(h), "Content-Type: %s", ctype);
	return fu_req_on(f, "c1", method, target, body, hdrs);
}

static inline int
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

static inline void
make_cm(struct fake *f, const char *name, const char *labels)
{
	char body[512];

	snprintf(body, sizeof(body), "{\"apiVersion\":\"v1\",\"kind\":"
	         "\"ConfigMap\",\"metadata\":{\"name\":\"%s\",\"labels\":%s}}",
	         name, labels);
	assert_int_equal(kdo(f, "POST", CM, body), 201);
}

static inline size_t
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

#define DEP "/apis/apps/v1/namespaces/default/deployments"
#define DEP_BODY(extra)                                                    \
	"{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":"   \
	"{\"name\":\"web\"},\"spec\":{\"replicas\":2,\"selector\":{"          \
	"\"matchLabels\":{\"app\":\"web\"}},\"template\":{\"metadata\":{"     \
	"\"labels\":{\"app\":\"web\"}},\"spec\":{\"containers\":[{\"name\":"  \
	"\"web\",\"image\":\"nginx\"" extra "}]}}}}"

#endif
