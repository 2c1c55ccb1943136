/* harness/tests/fakeutil.h - helpers for the suites that drive the fake
 * through fake_handle() (no sockets). */
#ifndef MESHVM_FAKEUTIL_H
#define MESHVM_FAKEUTIL_H

#include <jansson.h>
#include <string.h>

#include "core/yaml.h"
#include "harness/fake/fake.h"
#include "testutil.h"

struct fu_resp {
	int status;
	json_t *json;          /* parsed body, or NULL */
	struct fake_response raw;
};

static inline struct fake *
fu_new(bool no_auth, int op_polls)
{
	struct fake_options o;
	struct fake *f = NULL;
	struct mv_err err;

	mv_err_clear(&err);
	fake_options_init(&o);
	o.no_auth = no_auth;
	o.op_polls = op_polls;
	if (fake_new(&o, &f, &err) != 0)
		print_error("fake_new: %s\n", err.msg);
	assert_non_null(f);
	return f;
}

/* One request on a listener; headers is a NULL-terminated list. */
static inline struct fu_resp
fu_req_on(struct fake *f, const char *listener, const char *method,
          const char *target, const char *body, const char *const *headers)
{
	struct fu_resp r;
	size_t nh = 0;

	memset(&r, 0, sizeof(r));
	while (headers && headers[nh])
		nh++;
	assert_int_equal(fake_handle(f, listener, method, target, headers, nh,
	                             body, body ? strlen(body) : 0, &r.raw),
	                 0);
	r.status = r.raw.status;
	r.json = json_loadb(r.raw.body, r.raw.body_len, 0, NULL);
	return r;
}

static inline struct fu_resp
fu_req(struct fake *f, const char *method, const char *target,
       const char *body)
{
	return fu_req_on(f, "gcp", method, target, body, NULL);
}

static inline void
fu_free(struct fu_resp *r)
{
	json_decref(r->json);
	fake_response_free(&r->raw);
}

/* A request whose answer only needs its status. */
static inline int
fu_do_on(struct fake *f, const char *listener, const char *method,
         const char *target, const char *body, const char *const *headers)
{
	struct fu_resp r = fu_req_on(f, listener, method, target, body, headers);
	int status = r.status;

	fu_free(&r);
	return status;
}

static inline int
fu_do(struct fake *f, const char *method, const char *target,
      const char *body)
{
	return fu_do_on(f, "gcp", method, target, body, NULL);
}

/* The value at a dotted path of the response ("error.status",
 * "items.0.name"), borrowed; NULL when absent. */
static inline json_t *
fu_at(const struct fu_resp *r, const char *path)
{
	char buf[256], *save = NULL, *tok;
	json_t *v = r->json;

	snprintf(buf, sizeof(buf), "%s", path);
	for (tok = strtok_r(buf, ".", &save); tok && v;
	     tok = strtok_r(NULL, ".", &save)) {
		if (json_is_array(v))
			v = json_array_get(v, (size_t)atoi(tok));
		else
			v = json_object_get(v, tok);
	}
	return v;
}

/* fu_at's string, or "" */
static inline const char *
fu_str(const struct fu_resp *r, const char *path)
{
	json_t *v = fu_at(r, path);

	return json_is_string(v) ? json_string_value(v) : "";
}

/* fu_at's integer, or -1 */
static inline json_int_t
fu_int(const struct fu_resp *r, const char *path)
{
	json_t *v = fu_at(r, path);

	return json_is_integer(v) ? json_integer_value(v) : -1;
}

/* A TokenRequest (an hour) for ServiceAccount `sa` in namespace `ns` on
 * a cluster's listener; the token (heap). */
static inline char *
fu_sa_token(struct fake *f, const char *cluster, const char *ns,
            const char *sa, const char *audience)
{
	char url[256], body[256];
	struct fu_resp r;
	char *t;

	snprintf(url, sizeof(url), "/api/v1/namespaces/%s/serviceaccounts/%s/"
	         "token", ns, sa);
	snprintf(body, sizeof(body), "{\"apiVersion\":\"authentication.k8s.io/"
	         "v1\",\"kind\":\"TokenRequest\",\"spec\":{\"audiences\":[\"%s\"],"
	         "\"expirationSeconds\":3600}}", audience);
	r = fu_req_on(f, cluster, "POST", url, body, NULL);
	assert_int_equal(r.status, 201);
	t = strdup(fu_str(&r, "status.token"));
	fu_free(&r);
	assert_true(strlen(t) > 100);
	return t;
}

/* Assert status and, for errors, Google's shape. */
#define assert_gerr(r, code, status_name)                                  \
	do {                                                               \
		assert_int_equal((r).status, (code));                          \
		assert_int_equal(fu_int(&(r), "error.code"), (code));          \
		assert_string_equal(fu_str(&(r), "error.status"),              \
		                    (status_name));                            \
		assert_true(strlen(fu_str(&(r), "error.message")) > 0);        \
		assert_true(strlen(fu_str(&(r), "error.errors.0.reason")) > 0); \
	} while (0)

/* Create the Istio CRDs of fixtures/istio/crds/ on a cluster's listener:
 * Istio's kinds are not built into the fake, they exist once their CRDs
 * are applied (as on a real cluster). */
static inline void
fu_istio_crds(struct fake *f, const char *cluster)
{
	static const char *const files[] = {"gateways", "virtualservices",
	                                    "workloadentries", "workloadgroups"};
	struct mv_err err;

	for (size_t i = 0; i < 4; i++) {
		char *path = tu_fmt("%s/fixtures/istio/crds/%s.yaml", tu_src(),
		                    files[i]);
		struct mv_yaml *y = NULL;
		mv_err_clear(&err);
		assert_int_equal(mv_yaml_load_file(path, &y, &err), 0);
		for (size_t d = 0; d < mv_yaml_count(y); d++) {
			char *body;
			if (!json_is_object(mv_yaml_doc(y, d)))
				continue;
			body = json_dumps(mv_yaml_doc(y, d), 0);
			assert_int_equal(fu_do_on(f, cluster, "POST",
			                          "/apis/apiextensions.k8s.io/v1/"
			                          "customresourcedefinitions", body,
			                          NULL), 201);
			free(body);
		}
		mv_yaml_free(y);
		free(path);
	}
}

#endif
