/* test_fake_istiod.c - the fake's simulated istiod (kube_istiod.c) and
 * ownerReference garbage collection (kube_gc.c), through fake_handle():
 * token review refusals, WorkloadEntry naming and content, health,
 * disconnect and the grace period on the fake's clock, and GC with
 * Background, Orphan and multiple owners. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fakeutil.h"
#include "harness/fake/kube_private.h"

#define CLUSTERS "/v1/projects/p/locations/us-west1-b/clusters"
#define NSURL "/api/v1/namespaces"
#define WG "/apis/networking.istio.io/v1/namespaces/vm/workloadgroups"
#define WE "/apis/networking.istio.io/v1/namespaces/vm/workloadentries"
#define CM "/api/v1/namespaces/vm/configmaps"

static struct fake *
istiod_fake(void)
{
	struct fake_options o;
	struct fake *f = NULL;
	struct mv_err err;

	mv_err_clear(&err);
	fake_options_init(&o);
	o.no_auth = true;
	o.op_polls = 0;
	o.controller_delay_ms = 0;
	assert_int_equal(o.istiod_grace_ms, 10000); /* the default */
	assert_int_equal(fake_new(&o, &f, &err), 0);
	assert_int_equal(fu_do(f, "POST", CLUSTERS, "{\"cluster\":{\"name\":"
	                       "\"c1\",\"initialNodeCount\":1}}"), 200);
	fu_istio_crds(f, "c1");
	return f;
}

static int
kdo(struct fake *f, const char *method, const char *target, const char *body)
{
	return fu_do_on(f, "c1", method, target, body, NULL);
}

/* Namespace vm, ServiceAccounts vm-sa and other, group "web". */
static void
mesh_setup(struct fake *f)
{
	assert_int_equal(kdo(f, "POST", NSURL, "{\"apiVersion\":\"v1\",\"kind\":"
	                     "\"Namespace\",\"metadata\":{\"name\":\"vm\"}}"),
	                 201);
	assert_int_equal(kdo(f, "POST", NSURL "/vm/serviceaccounts",
	                     "{\"apiVersion\":\"v1\",\"kind\":\"ServiceAccount\","
	                     "\"metadata\":{\"name\":\"vm-sa\"}}"), 201);
	assert_int_equal(kdo(f, "POST", NSURL "/vm/serviceaccounts",
	                     "{\"apiVersion\":\"v1\",\"kind\":\"ServiceAccount\","
	                     "\"metadata\":{\"name\":\"other\"}}"), 201);
	assert_int_equal(kdo(f, "POST", WG,
	                     "{\"apiVersion\":\"networking.istio.io/v1\",\"kind\":"
	                     "\"WorkloadGroup\",\"metadata\":{\"name\":\"web\"},"
	                     "\"spec\":{\"metadata\":{\"labels\":{\"app\":\"web\"},"
	                     "\"annotations\":{\"team\":\"a\"}},\"template\":{"
	                     "\"serviceAccount\":\"vm-sa\",\"labels\":{\"tier\":"
	                     "\"fe\"}},\"probe\":{\"httpGet\":{\"port\":8080}}}}"),
	                 201);
}

#define ENV(group, extra)                                                  \
	"\"env\":{\"POD_NAMESPACE\":\"vm\",\"ISTIO_META_AUTO_REGISTER_GROUP\":" \
	"\"" group "\",\"ISTIO_META_NETWORK\":\"vm-net\"" extra "}"

static struct fu_resp
call(struct fake *f, const char *what, const char *token, const char *body)
{
	char url[64], auth[4096];
	const char *h[] = {auth, NULL};

	snprintf(url, sizeof(url), "/meshvm/v1/%s", what);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s",
	         token ? token : "");
	return fu_req_on(f, "c1", "POST", url, body, token ? h : NULL);
}

static void
assert_refused(struct fake *f, const char *token, const char *body,
               int code, const char *words)
{
	struct fu_resp r = call(f, "register", token, body);

	if (r.status != code || strstr(fu_str(&r, "error"), words) == NULL)
		print_error("%d %s\n", r.status, r.raw.body);
	assert_int_equal(r.status, code);
	assert_non_null(strstr(fu_str(&r, "error"), words));
	fu_free(&r);
}

static const char *
ann(json_t *obj, const char *key)
{
	return json_string_value(json_object_get(json_object_get(
	        json_object_get(obj, "metadata"), "annotations"), key));
}

static void
test_entry_name(void **state)
{
	char out[300], group[300];

	(void)state;
	kistiod_entry_name("web", "10.0.0.5", "vm-net", out, sizeof(out));
	assert_string_equal(out, "web-10.0.0.5-vm-net");
	kistiod_entry_name("web", "fd00::1", "", out, sizeof(out));
	assert_string_equal(out, "web-fd00--1");
	/* istiod keeps the last 253 characters */
	memset(group, 'g', 250);
	group[250] = '\0';
	kistiod_entry_name(group, "10.0.0.5", "n", out, sizeof(out));
	assert_int_equal(strlen(out), 253);
	assert_string_equal(out + 253 - 11, "-10.0.0.5-n");
	assert_int_equal(out[0], 'g');
}

#define REG_BODY "{\"ip\":\"10.0.0.5\"," ENV("web", "") "}"

static void
test_token_review(void **state)
{
	struct fake *f = istiod_fake();
	char *good, *wrong_aud, *other_sa;

	(void)state;
	mesh_setup(f);
	good = fu_sa_token(f, "c1", "vm", "vm-sa", "istio-ca");
	wrong_aud = fu_sa_token(f, "c1", "vm", "vm-sa", "somewhere-else");
	other_sa = fu_sa_token(f, "c1", "vm", "other", "istio-ca");
	assert_refused(f, NULL, REG_BODY, 401, "no bearer token");
	assert_refused(f, "not.a.jwt", REG_BODY, 401, "invalid bearer token");
	assert_refused(f, wrong_aud, REG_BODY, 401,
	               "is invalid for the target audiences [\"istio-ca\"]");
	assert_refused(f, other_sa, REG_BODY, 403,
	               "no identities ([spiffe://cluster.local/ns/vm/sa/other])"
	               " matched vm/vm-sa");
	assert_refused(f, good, "{\"ip\":\"10.0.0.5\"," ENV("nope", "") "}", 404,
	               "cannot find WorkloadGroup vm/nope");
	assert_refused(f, good, "{\"ip\":\"10.0.0.5; rm\"," ENV("web", "") "}",
	               400, "is not an IP address");
	assert_refused(f, good, "{\"ip\":\"10.0.0.5\",\"env\":{"
	               "\"ISTIO_META_AUTO_REGISTER_GROUP\":\"web\"}}", 400,
	               "POD_NAMESPACE");
	assert_refused(f, good, "[]", 400, "is not {");
	/* nothing was created by any refusal */
	{
		struct fu_resp r = fu_req_on(f, "c1", "GET", WE, NULL, NULL);
		assert_int_equal(json_array_size(json_object_get(r.json,
		                                                 "items")), 0);
		fu_free(&r);
	}
	/* a deleted ServiceAccount's token is refused */
	assert_int_equal(kdo(f, "DELETE", NSURL "/vm/serviceaccounts/other",
	                     NULL), 200);
	assert_refused(f, other_sa, REG_BODY, 401, "has been deleted");
	/* an hour and a bit later the token has expired (the fake's clock) */
	assert_int_equal(fu_do(f, "POST", "/_fake/clock?advance_ms=3700000",
	                       NULL), 200);
	assert_refused(f, good, REG_BODY, 401, "invalid bearer token");
	free(good);
	free(wrong_aud);
	free(other_sa);
	fake_free(f);
}

static void
test_register_health_disconnect(void **state)
{
	struct fake *f = istiod_fake();
	char *tok;
	struct fu_resp r, g;
	json_t *o, *ref, *labels;

	(void)state;
	mesh_setup(f);
	tok = fu_sa_token(f, "c1", "vm", "vm-sa", "istio-ca");
	r = call(f, "register", tok, REG_BODY);
	assert_int_equal(r.status, 200);
	assert_string_equal(fu_str(&r, "workloadEntry.name"),
	                    "web-10.0.0.5-vm-net");
	fu_free(&r);
	g = fu_req_on(f, "c1", "GET", WG "/web", NULL, NULL);
	r = fu_req_on(f, "c1", "GET", WE "/web-10.0.0.5-vm-net", NULL, NULL);
	assert_int_equal(r.status, 200);
	o = r.json;
	assert_string_equal(ann(o, "istio.io/autoRegistrationGroup"), "web");
	assert_string_equal(ann(o, "istio.io/workloadController"), "istiod");
	assert_string_equal(ann(o, "istio.io/healthChecksEnabled"), "true");
	assert_string_equal(ann(o, "team"), "a");
	assert_non_null(ann(o, "istio.io/connectedAt"));
	assert_null(ann(o, "istio.io/disconnectedAt"));
	labels = json_object_get(json_object_get(o, "metadata"), "labels");
	assert_string_equal(json_string_value(json_object_get(labels, "app")),
	                    "web");
	assert_string_equal(json_string_value(json_object_get(labels, "tier")),
	                    "fe");
	ref = json_array_get(json_object_get(json_object_get(o, "metadata"),
	                                     "ownerReferences"), 0);
	assert_string_equal(json_string_value(json_object_get(ref, "kind")),
	                    "WorkloadGroup");
	assert_string_equal(json_string_value(json_object_get(ref, "uid")),
	                    fu_str(&g, "metadata.uid"));
	assert_true(json_is_true(json_object_get(ref, "controller")));
	assert_string_equal(fu_str(&r, "spec.address"), "10.0.0.5");
	assert_string_equal(fu_str(&r, "spec.network"), "vm-net");
	assert_string_equal(fu_str(&r, "spec.serviceAccount"), "vm-sa");
	assert_true(strlen(fu_str(&r, "metadata.uid")) == 36);
	fu_free(&r);
	fu_free(&g);
	/* health before any report: no condition; then False, then True */
	r = call(f, "health", tok, "{\"ip\":\"10.0.0.5\"," ENV("web", "")
	         ",\"healthy\":false,\"message\":\"connection refused\"}");
	assert_int_equal(r.status, 200);
	fu_free(&r);
	r = fu_req_on(f, "c1", "GET", WE "/web-10.0.0.5-vm-net", NULL, NULL);
	assert_string_equal(fu_str(&r, "status.conditions.0.type"), "Healthy");
	assert_string_equal(fu_str(&r, "status.conditions.0.status"), "False");
	assert_string_equal(fu_str(&r, "status.conditions.0.message"),
	                    "connection refused");
	fu_free(&r);
	r = call(f, "health", tok, "{\"ip\":\"10.0.0.5\"," ENV("web", "")
	         ",\"healthy\":true}");
	fu_free(&r);
	r = fu_req_on(f, "c1", "GET", WE "/web-10.0.0.5-vm-net", NULL, NULL);
	assert_string_equal(fu_str(&r, "status.conditions.0.status"), "True");
	fu_free(&r);
	r = call(f, "health", tok, "{\"ip\":\"10.0.0.5\"," ENV("web", "")
	         ",\"healthy\":\"yes\"}");
	assert_int_equal(r.status, 400);
	fu_free(&r);
	r = call(f, "health", tok, "{\"ip\":\"10.0.0.6\"," ENV("web", "")
	         ",\"healthy\":true}");
	assert_int_equal(r.status, 404);
	fu_free(&r);
	/* a reconnect keeps the object and its health */
	r = call(f, "register", tok, REG_BODY);
	assert_int_equal(r.status, 200);
	fu_free(&r);
	r = fu_req_on(f, "c1", "GET", WE "/web-10.0.0.5-vm-net", NULL, NULL);
	assert_string_equal(fu_str(&r, "status.conditions.0.status"), "True");
	fu_free(&r);
	/* disconnect: stamped, still there within the grace period */
	r = call(f, "disconnect", tok, REG_BODY);
	assert_int_equal(r.status, 200);
	fu_free(&r);
	r = fu_req_on(f, "c1", "GET", WE "/web-10.0.0.5-vm-net", NULL, NULL);
	assert_int_equal(r.status, 200);
	assert_non_null(ann(r.json, "istio.io/disconnectedAt"));
	fu_free(&r);
	assert_int_equal(fu_do(f, "POST", "/_fake/clock?advance_ms=9000", NULL),
	                 200);
	assert_int_equal(kdo(f, "GET", WE "/web-10.0.0.5-vm-net", NULL), 200);
	assert_int_equal(fu_do(f, "POST", "/_fake/clock?advance_ms=1001", NULL),
	                 200);
	assert_int_equal(kdo(f, "GET", WE "/web-10.0.0.5-vm-net", NULL), 404);
	/* wrong method, unknown call */
	assert_int_equal(fu_do_on(f, "c1", "GET", "/meshvm/v1/register", NULL,
	                          NULL), 405);
	assert_int_equal(fu_do_on(f, "c1", "POST", "/meshvm/v1/nope", "{}",
	                          NULL), 404);
	free(tok);
	fake_free(f);
}

static void
test_reconnect_within_grace(void **state)
{
	struct fake *f = istiod_fake();
	char *tok;
	struct fu_resp r;

	(void)state;
	mesh_setup(f);
	tok = fu_sa_token(f, "c1", "vm", "vm-sa", "istio-ca");
	fu_free((r = call(f, "register", tok, REG_BODY), &r));
	fu_free((r = call(f, "disconnect", tok, REG_BODY), &r));
	fu_free((r = call(f, "register", tok, REG_BODY), &r));
	assert_int_equal(fu_do(f, "POST", "/_fake/clock?advance_ms=20000", NULL),
	                 200);
	r = fu_req_on(f, "c1", "GET", WE "/web-10.0.0.5-vm-net", NULL, NULL);
	assert_int_equal(r.status, 200);
	assert_null(ann(r.json, "istio.io/disconnectedAt"));
	fu_free(&r);
	free(tok);
	fake_free(f);
}

/* A ConfigMap named `name` owned by the objects with these uids. */
static void
owned_cm(struct fake *f, const char *name, const char *uid1,
         const char *uid2)
{
	char body[1024];

	snprintf(body, sizeof(body), "{\"apiVersion\":\"v1\",\"kind\":"
	         "\"ConfigMap\",\"metadata\":{\"name\":\"%s\",\"ownerReferences\":"
	         "[{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"name\":\"x\","
	         "\"uid\":\"%s\"}%s%s%s]}}", name, uid1, uid2 ? ",{\"apiVersion\":"
	         "\"v1\",\"kind\":\"ConfigMap\",\"name\":\"y\",\"uid\":\"" : "",
	         uid2 ? uid2 : "", uid2 ? "\"}" : "");
	assert_int_equal(kdo(f, "POST", CM, body), 201);
}

static char *
uid_of(struct fake *f, const char *url)
{
	struct fu_resp r = fu_req_on(f, "c1", "GET", url, NULL, NULL);
	char *u = strdup(fu_str(&r, "metadata.uid"));

	fu_free(&r);
	return u;
}

static void
test_gc(void **state)
{
	struct fake *f = istiod_fake();
	char *a, *b, *c;
	struct fu_resp r;

	(void)state;
	mesh_setup(f);
	assert_int_equal(kdo(f, "POST", CM, "{\"apiVersion\":\"v1\",\"kind\":"
	                     "\"ConfigMap\",\"metadata\":{\"name\":\"a\"}}"), 201);
	assert_int_equal(kdo(f, "POST", CM, "{\"apiVersion\":\"v1\",\"kind\":"
	                     "\"ConfigMap\",\"metadata\":{\"name\":\"b\"}}"), 201);
	a = uid_of(f, CM "/a");
	b = uid_of(f, CM "/b");
	owned_cm(f, "child", a, NULL);      /* a -> child -> grandchild */
	c = uid_of(f, CM "/child");
	owned_cm(f, "grandchild", c, NULL);
	owned_cm(f, "shared", a, b);        /* two owners */
	owned_cm(f, "orphan", b, NULL);
	/* Background (the default): the chain goes, shared keeps owner b */
	assert_int_equal(kdo(f, "DELETE", CM "/a", NULL), 200);
	assert_int_equal(kdo(f, "GET", CM "/child", NULL), 404);
	assert_int_equal(kdo(f, "GET", CM "/grandchild", NULL), 404);
	r = fu_req_on(f, "c1", "GET", CM "/shared", NULL, NULL);
	assert_int_equal(r.status, 200);
	assert_int_equal(json_array_size(json_object_get(json_object_get(
	        r.json, "metadata"), "ownerReferences")), 1);
	assert_string_equal(fu_str(&r, "metadata.ownerReferences.0.uid"), b);
	fu_free(&r);
	/* Orphan: the dependents stay, without the reference */
	assert_int_equal(kdo(f, "DELETE", CM "/b",
	                     "{\"propagationPolicy\":\"Orphan\"}"), 200);
	r = fu_req_on(f, "c1", "GET", CM "/orphan", NULL, NULL);
	assert_int_equal(r.status, 200);
	assert_null(json_object_get(json_object_get(r.json, "metadata"),
	                            "ownerReferences"));
	fu_free(&r);
	assert_int_equal(kdo(f, "GET", CM "/shared", NULL), 200);
	/* Foreground (query form) deletes like Background */
	assert_int_equal(kdo(f, "POST", CM, "{\"apiVersion\":\"v1\",\"kind\":"
	                     "\"ConfigMap\",\"metadata\":{\"name\":\"o2\"}}"), 201);
	free(a);
	a = uid_of(f, CM "/o2");
	owned_cm(f, "d2", a, NULL);
	assert_int_equal(kdo(f, "DELETE", CM "/o2?propagationPolicy=Foreground",
	                     NULL), 200);
	assert_int_equal(kdo(f, "GET", CM "/d2", NULL), 404);
	free(a);
	free(b);
	free(c);
	fake_free(f);
}

static void
test_group_deletion_collects_entries(void **state)
{
	struct fake *f = istiod_fake();
	char *tok;
	struct fu_resp r;

	(void)state;
	mesh_setup(f);
	tok = fu_sa_token(f, "c1", "vm", "vm-sa", "istio-ca");
	fu_free((r = call(f, "register", tok, REG_BODY), &r));
	fu_free((r = call(f, "register", tok, "{\"ip\":\"10.0.0.7\","
	                  ENV("web", "") "}"), &r));
	assert_int_equal(kdo(f, "GET", WE "/web-10.0.0.7-vm-net", NULL), 200);
	/* deleting the group as a collection works too */
	assert_int_equal(kdo(f, "DELETE", WG, NULL), 200);
	r = fu_req_on(f, "c1", "GET", WE, NULL, NULL);
	assert_int_equal(json_array_size(json_object_get(r.json, "items")), 0);
	fu_free(&r);
	free(tok);
	fake_free(f);
}

/* One HTTP/1.1 request over a plain socket to ip:port; the whole answer
 * (heap), or NULL when the connection is refused. */
static char *
raw_http(const char *ip, int port, const char *request)
{
	struct sockaddr_in sa = {0};
	int s = socket(AF_INET, SOCK_STREAM, 0);
	char *buf = calloc(1, 8192);
	size_t n = 0;
	ssize_t r;

	assert_true(s >= 0 && buf != NULL);
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	assert_int_equal(inet_pton(AF_INET, ip, &sa.sin_addr), 1);
	if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(s);
		free(buf);
		return NULL;
	}
	assert_int_equal(send(s, request, strlen(request), 0),
	                 (ssize_t)strlen(request));
	while (n < 8191 && (r = recv(s, buf + n, 8191 - n, 0)) > 0)
		n += (size_t)r;
	close(s);
	return buf;
}

static void
test_lb_address_serves_istiod(void **state)
{
	struct fake_options o;
	struct fake *f = NULL;
	struct mv_err err;
	char ip[32], patch[512], *ans;
	const char *hdr[] = {"Content-Type: application/merge-patch+json", NULL};
	const char *reg = "POST /meshvm/v1/register HTTP/1.1\r\nHost: istiod\r\n"
	                  "Content-Length: 2\r\nConnection: close\r\n\r\n{}";

	(void)state;
	/* an address of our own in 127/8, so parallel runs do not meet */
	snprintf(ip, sizeof(ip), "127.77.%d.%d", (int)(getpid() >> 8 & 0xff),
	         (int)(getpid() & 0x7f) + 1);
	mv_err_clear(&err);
	fake_options_init(&o);
	o.no_auth = true;
	o.op_polls = 0;
	assert_int_equal(fake_new(&o, &f, &err), 0);
	if (fake_start(f, &err) != 0)
		print_error("fake_start: %s\n", err.msg);
	assert_int_equal(fu_do(f, "POST", CLUSTERS, "{\"cluster\":{\"name\":"
	                       "\"c1\",\"initialNodeCount\":1}}"), 200);
	assert_null(raw_http(ip, 15012, reg));
	assert_int_equal(kdo(f, "POST", "/api/v1/namespaces/default/services",
	                     "{\"apiVersion\":\"v1\",\"kind\":\"Service\","
	                     "\"metadata\":{\"name\":\"eastwest\"},\"spec\":{"
	                     "\"type\":\"LoadBalancer\",\"ports\":[{\"port\":"
	                     "15012}]}}"), 201);
	/* the documentation-range address it got is not connectable */
	snprintf(patch, sizeof(patch), "{\"status\":{\"loadBalancer\":{"
	         "\"ingress\":[{\"ip\":\"%s\"}]}}}", ip);
	assert_int_equal(fu_do_on(f, "c1", "PATCH", "/api/v1/namespaces/default/"
	                          "services/eastwest/status", patch, hdr), 200);
	/* now istiod answers there: this one refuses the missing token */
	ans = raw_http(ip, 15012, reg);
	assert_non_null(ans);
	if (strstr(ans, " 401 ") == NULL)
		print_error("%s\n", ans);
	assert_non_null(strstr(ans, "HTTP/1.1 401"));
	assert_non_null(strstr(ans, "no bearer token"));
	free(ans);
	/* and only istiod: the Kubernetes API is not there */
	ans = raw_http(ip, 15012, "GET /api/v1/namespaces HTTP/1.1\r\nHost: x"
	               "\r\nConnection: close\r\n\r\n");
	assert_non_null(ans);
	assert_non_null(strstr(ans, "HTTP/1.1 404"));
	assert_non_null(strstr(ans, "only /meshvm/v1/"));
	free(ans);
	fake_stop(f, NULL);
	fake_free(f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_entry_name),
		cmocka_unit_test(test_token_review),
		cmocka_unit_test(test_register_health_disconnect),
		cmocka_unit_test(test_reconnect_within_grace),
		cmocka_unit_test(test_gc),
		cmocka_unit_test(test_group_deletion_collects_entries),
		cmocka_unit_test(test_lb_address_serves_istiod),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
