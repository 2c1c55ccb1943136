/* test_migrate_gate.c - the migration gate (cluster/migrate_gate.c) and
 * the Prometheus client (cluster/prom.c): decisions from answers, no data
 * fails, the weights plan, and the whole path against the fake's query
 * API over HTTP (healthy passes, a failing GKE side fails, Prometheus
 * down fails). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cluster/migrate_gate.h"
#include "core/http.h"
#include "fakeutil.h"

static const struct gate_limits lim = {.min_success_rate = 0.99,
                                       .max_p99_ms = 100, .window_s = 10};
static const char *const both[] = {"vm", "gke"};

static void
vec(const char *json, struct prom_vector *v)
{
	struct mv_err err;

	mv_err_clear(&err);
	if (prom_parse_vector(json, strlen(json), "GET test", v, &err) != 0)
		print_error("%s\n", err.msg);
	assert_true(v->s != NULL);
}

#define ROW(ver, code, grpc, val)                                          \
	"{\"metric\":{\"destination_version\":\"" ver "\",\"response_code\":" \
	"\"" code "\",\"grpc_response_status\":\"" grpc "\"},\"value\":"     \
	"[1.5,\"" val "\"]}"
#define ENV(rows)                                                          \
	"{\"status\":\"success\",\"data\":{\"resultType\":\"vector\","        \
	"\"result\":[" rows "]}}"
#define P(ver, val)                                                        \
	"{\"metric\":{\"destination_version\":\"" ver "\"},\"value\":"        \
	"[1.5,\"" val "\"]}"

static void
test_decide(void **state)
{
	struct prom_vector req, p99;
	struct gate_result g;

	(void)state;
	vec(ENV(ROW("vm", "200", "0", "10") "," ROW("gke", "200", "0", "7") ","
	        ROW("gke", "503", "14", "3")), &req);
	vec(ENV(P("vm", "4.96") "," P("gke", "49.75")), &p99);
	gate_decide(&req, &p99, "productcatalogservice", both, 2, &lim, &g);
	assert_false(g.pass);
	assert_string_equal(g.reason, "productcatalogservice gke: success rate "
	                    "0.7000 < 0.9900 (istio_requests_total{reporter="
	                    "\"source\"}, 10s, failed = 5xx or grpc status != 0)");
	assert_true(g.d[0].pass);
	assert_true(fabs(g.d[1].success_rate - 0.7) < 1e-9);
	assert_true(fabs(g.d[1].rps - 10) < 1e-9);
	/* only the VM carries traffic at this step: passes */
	gate_decide(&req, &p99, "productcatalogservice", both, 1, &lim, &g);
	assert_true(g.pass);
	assert_contains(g.reason, "vm success rate 1.0000 >= 0.9900, p99 5.0 ms "
	                "<= 100.0 ms");
	prom_vector_free(&req);

	/* a gRPC failure under HTTP 200 counts as failed */
	vec(ENV(ROW("gke", "200", "2", "1") "," ROW("gke", "200", "0", "99")),
	    &req);
	gate_decide(&req, &p99, "s", (const char *const[]){"gke"}, 1, &lim, &g);
	assert_true(g.pass); /* 0.99 >= 0.99 */
	prom_vector_free(&req);
	vec(ENV(ROW("gke", "200", "2", "2") "," ROW("gke", "200", "0", "98")),
	    &req);
	gate_decide(&req, &p99, "s", (const char *const[]){"gke"}, 1, &lim, &g);
	assert_false(g.pass);
	assert_contains(g.reason, "success rate 0.9800 < 0.9900");
	prom_vector_free(&req);

	/* p99 over the limit names the metric and both numbers */
	vec(ENV(ROW("gke", "200", "0", "5")), &req);
	prom_vector_free(&p99);
	vec(ENV(P("gke", "250.5")), &p99);
	gate_decide(&req, &p99, "s", (const char *const[]){"gke"}, 1, &lim, &g);
	assert_false(g.pass);
	assert_string_equal(g.reason, "s gke: p99 250.5 ms > 100.0 ms ("
	                    "istio_request_duration_milliseconds_bucket, 10s)");
	prom_vector_free(&p99);

	/* no data never passes: an empty answer, a NaN p99, zero requests */
	vec(ENV(P("gke", "NaN")), &p99);
	gate_decide(&req, &p99, "s", (const char *const[]){"gke"}, 1, &lim, &g);
	assert_false(g.pass);
	assert_contains(g.reason, "no gate data: no p99");
	prom_vector_free(&req);
	vec(ENV(""), &req);
	gate_decide(&req, &p99, "s", (const char *const[]){"gke"}, 1, &lim, &g);
	assert_false(g.pass);
	assert_contains(g.reason, "s gke: no gate data: no requests in the last "
	                "10s");
	prom_vector_free(&req);
	vec(ENV(ROW("gke", "200", "0", "0")), &req);
	gate_decide(&req, &p99, "s", (const char *const[]){"gke"}, 1, &lim, &g);
	assert_false(g.pass);
	gate_decide(&req, &p99, "s", NULL, 0, &lim, &g);
	assert_false(g.pass);
	prom_vector_free(&req);
	prom_vector_free(&p99);
}

static void
test_parse_errors(void **state)
{
	static const struct {
		const char *body, *want;
	} bad[] = {
		{"nope", "GET x: the answer is not JSON"},
		{"{\"status\":\"error\",\"errorType\":\"bad_data\",\"error\":\"parse "
		 "error\"}", "GET x: Prometheus answered error: parse error"},
		{"{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\","
		 "\"result\":[]}}", "not a vector"},
		{ENV("{\"metric\":{},\"value\":[1,2]}"), "data.result[0] is not"},
		{ENV("{\"metric\":{},\"value\":[1,\"x\"]}"), "data.result[0] is not"},
		{ENV("{\"metric\":[],\"value\":[1,\"1\"]}"), "data.result[0] is not"},
	};
	struct mv_err err;
	struct prom_vector v;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		mv_err_clear(&err);
		assert_int_equal(prom_parse_vector(bad[i].body, strlen(bad[i].body),
		                                   "GET x", &v, &err), -1);
		assert_contains(err.msg, bad[i].want);
		assert_null(v.s);
	}
	/* bounded */
	{
		size_t cap = (PROM_MAX_ROWS + 1) * 40 + 100, o;
		char *big = malloc(cap);

		o = (size_t)snprintf(big, cap, "{\"status\":\"success\",\"data\":{"
		                     "\"resultType\":\"vector\",\"result\":[");
		for (int i = 0; i <= PROM_MAX_ROWS; i++)
			o += (size_t)snprintf(big + o, cap - o, "%s{\"metric\":{},"
			                      "\"value\":[1,\"1\"]}", i ? "," : "");
		snprintf(big + o, cap - o, "]}}");
		mv_err_clear(&err);
		assert_int_equal(prom_parse_vector(big, strlen(big), "GET x", &v,
		                                   &err), -1);
		assert_contains(err.msg, "more than the 1000 expected");
		free(big);
	}
}

static void
test_weights_plan(void **state)
{
	int steps[MIGRATE_MAX_STEPS];
	struct migrate_weights w[MIGRATE_MAX_STEPS];
	struct mv_err err;
	size_t n;
	static const struct {
		const char *text, *want;
	} bad[] = {
		{"", "expected a comma-separated list"},
		{"10,50", "the last step must be 100"},
		{"50,10,100", "steps must increase (10 after 50)"},
		{"0,100", "from 1 to 100"},
		{"10,,100", "expected a comma-separated list"},
		{"10;100", "expected a comma at ';100'"},
		{"101", "from 1 to 100"},
		{"10,50,100,", "expected a comma-separated list"},
	};

	(void)state;
	mv_err_clear(&err);
	assert_int_equal(migrate_steps_parse("10, 50,100", "--steps", steps, &n,
	                                     &err), 0);
	assert_int_equal(n, 3);
	assert_int_equal(migrate_weights_plan(steps, n, w, &err), 0);
	assert_int_equal(w[0].vm, 90);
	assert_int_equal(w[0].gke, 10);
	assert_int_equal(w[1].vm, 50);
	assert_int_equal(w[2].vm, 0);
	assert_int_equal(w[2].gke, 100);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(w[i].vm + w[i].gke, 100);
		assert_true(w[i].gke > 0);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		mv_err_clear(&err);
		assert_int_equal(migrate_steps_parse(bad[i].text, "--steps", steps,
		                                     &n, &err), -1);
		assert_int_equal(err.exit_code, MV_EXIT_USAGE);
		assert_contains(err.msg, "--steps: ");
		assert_contains(err.msg, bad[i].want);
	}
	assert_int_equal(migrate_weights_plan((const int[]){50, 50}, 2, w, &err),
	                 -1);
	assert_int_equal(migrate_weights_plan(steps, 0, w, &err), -1);
}

/* The whole path over HTTP: the fake's traffic, its query API, the gate. */
static void
test_evaluate_against_fake(void **state)
{
	struct fake_options o;
	struct fake *f = NULL;
	struct mv_err err;
	struct mv_http *h;
	struct gate_result g;
	char url[256];

	(void)state;
	mv_err_clear(&err);
	fake_options_init(&o);
	o.no_auth = true;
	assert_int_equal(fake_new(&o, &f, &err), 0);
	assert_int_equal(fake_start(f, &err), 0);
	assert_int_equal(fu_do(f, "POST", "/v1/projects/p/locations/us-west1-b/"
	                       "clusters", "{\"cluster\":{\"name\":\"c1\","
	                       "\"initialNodeCount\":1}}"), 200);
	fu_istio_crds(f, "c1");
	assert_int_equal(fu_do_on(f, "c1", "POST", "/apis/networking.istio.io/"
	                          "v1/namespaces/default/virtualservices",
	                          "{\"apiVersion\":\"networking.istio.io/v1\","
	                          "\"kind\":\"VirtualService\",\"metadata\":{"
	                          "\"name\":\"productcatalog-migration\"},"
	                          "\"spec\":{\"hosts\":[\"productcatalogservice\"],"
	                          "\"http\":[{\"route\":[{\"destination\":{"
	                          "\"host\":\"productcatalogservice\",\"subset\":"
	                          "\"vm\"},\"weight\":50},{\"destination\":{"
	                          "\"host\":\"productcatalogservice\",\"subset\":"
	                          "\"gke\"},\"weight\":50}]}]}}", NULL), 201);
	assert_int_equal(fu_do(f, "POST", "/_fake/clock?advance_ms=30000", NULL),
	                 200);
	h = mv_http_new(NULL);
	snprintf(url, sizeof(url), "%s/prom/c1", fake_url(f));
	assert_int_equal(gate_evaluate(h, url, "productcatalogservice", both, 2,
	                               &lim, &g, &err), 0);
	if (!g.pass)
		print_error("%s\n", g.reason);
	assert_true(g.pass);
	assert_true(fabs(g.d[1].rps - 10) < 1e-9);

	/* the GKE side fails 30% */
	assert_int_equal(fu_do(f, "PUT", "/_fake/faults", "traffic:\n  rules:\n"
	                       "    - destination: gke\n      error_rate: 0.3\n"),
	                 200);
	assert_int_equal(fu_do(f, "POST", "/_fake/clock?advance_ms=30000", NULL),
	                 200);
	assert_int_equal(gate_evaluate(h, url, "productcatalogservice", both, 2,
	                               &lim, &g, &err), 0);
	assert_false(g.pass);
	assert_contains(g.reason, "productcatalogservice gke: success rate 0.7000 "
	                "< 0.9900");

	/* an error answer (no such cluster) fails the gate */
	snprintf(url, sizeof(url), "%s/prom/nope", fake_url(f));
	assert_int_equal(gate_evaluate(h, url, "productcatalogservice", both, 2,
	                               &lim, &g, &err), 0);
	assert_false(g.pass);
	assert_contains(g.reason, "no gate data: ");
	snprintf(url, sizeof(url), "%s/prom/c1", fake_url(f));
	mv_http_free(h); /* its connections close before the server stops */
	assert_int_equal(fake_stop(f, &err), 0);
	fake_free(f);

	/* Prometheus down fails the gate */
	{
		struct mv_http_timing t;

		mv_http_timing_default(&t);
		t.max_attempts = 1;
		h = mv_http_new(&t);
		assert_int_equal(gate_evaluate(h, url, "productcatalogservice",
		                               both, 2, &lim, &g, &err), 0);
		assert_false(g.pass);
		assert_contains(g.reason, "productcatalogservice: no gate data: ");
		mv_http_free(h);
	}
	/* bad arguments are errors, not decisions */
	h = mv_http_new(NULL);
	assert_int_equal(gate_evaluate(h, url, "bad\"name", both, 2, &lim, &g,
	                               &err), -1);
	mv_http_free(h);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decide),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_weights_plan),
		cmocka_unit_test(test_evaluate_against_fake),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
