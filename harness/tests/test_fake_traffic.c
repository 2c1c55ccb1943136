/* test_fake_traffic.c - the fake's simulated traffic, its /metrics and
 * its Prometheus query API (harness/fake/traffic.c, promql.c): weights
 * from the stored VirtualService, error rates and latencies from the
 * profile's traffic rules, the traffic clock, and PromQL answers in
 * Prometheus's envelope. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fakeutil.h"

#define CLUSTERS "/v1/projects/p/locations/us-west1-b/clusters"
#define VS "/apis/networking.istio.io/v1/namespaces/default/virtualservices"
#define Q "/prom/c1/api/v1/query?query="
/* sum by (destination_version, response_code, grpc_response_status)
 * (increase(istio_requests_total{reporter="source"}[10s])) */
#define SUM_INCREASE                                                       \
	"sum%20by%20(destination_version,response_code,grpc_response_status)" \
	"%20(increase(istio_requests_total%7Breporter%3D%22source%22%7D"     \
	"%5B10s%5D))"
#define P99                                                                \
	"histogram_quantile(0.99,%20sum%20by%20(le,destination_version)%20"  \
	"(rate(istio_request_duration_milliseconds_bucket%7Breporter%3D"      \
	"%22source%22%7D%5B10s%5D)))"

static struct fake *
traffic_fake(const char *profile)
{
	struct fake *f = fu_new(true, 0);

	assert_int_equal(fu_do(f, "POST", CLUSTERS,
	                       "{\"cluster\":{\"name\":\"c1\","
	                       "\"initialNodeCount\":1}}"), 200);
	fu_istio_crds(f, "c1");
	if (profile) {
		struct fu_resp r = fu_req(f, "PUT", "/_fake/faults", profile);

		if (r.status != 200)
			print_error("PUT /_fake/faults: %s\n", r.raw.body);
		assert_int_equal(r.status, 200);
		fu_free(&r);
	}
	return f;
}

static void
put_split(struct fake *f, int vm, int gke, bool create)
{
	char body[1024];

	snprintf(body, sizeof(body),
	         "{\"apiVersion\":\"networking.istio.io/v1\",\"kind\":"
	         "\"VirtualService\",\"metadata\":{\"name\":"
	         "\"productcatalog-migration\",\"namespace\":\"default\"},"
	         "\"spec\":{\"hosts\":[\"productcatalogservice\"],\"http\":[{"
	         "\"route\":[{\"destination\":{\"host\":"
	         "\"productcatalogservice\",\"subset\":\"vm\"},\"weight\":%d},"
	         "{\"destination\":{\"host\":\"productcatalogservice\","
	         "\"subset\":\"gke\"},\"weight\":%d}]}]}}", vm, gke);
	if (create) {
		assert_int_equal(fu_do_on(f, "c1", "POST", VS, body, NULL), 201);
	} else {
		assert_int_equal(fu_do_on(f, "c1", "PUT",
		                          VS "/productcatalog-migration", body,
		                          NULL), 200);
	}
}

static void
advance(struct fake *f, int secs)
{
	char t[64];

	snprintf(t, sizeof(t), "/_fake/clock?advance_ms=%d", secs * 1000);
	assert_int_equal(fu_do(f, "POST", t, NULL), 200);
}

/* The value of the vector element whose labels include all of `want`
 * ("k=v" strings, NULL-ended); -1 when none. */
static double
value_of(const struct fu_resp *r, const char *const *want)
{
	json_t *res = json_object_get(json_object_get(r->json, "data"),
	                              "result"), *e;
	size_t i;

	json_array_foreach(res, i, e) {
		json_t *m = json_object_get(e, "metric");
		bool ok = true;

		for (size_t w = 0; want[w]; w++) {
			const char *eq = strchr(want[w], '='), *v;
			char key[64];

			snprintf(key, sizeof(key), "%.*s", (int)(eq - want[w]),
			         want[w]);
			v = json_string_value(json_object_get(m, key));
			ok &= v != NULL && strcmp(v, eq + 1) == 0;
		}
		if (ok)
			return strtod(json_string_value(json_array_get(
				json_object_get(e, "value"), 1)), NULL);
	}
	return -1;
}

static struct fu_resp
query(struct fake *f, const char *q)
{
	char t[1024];
	struct fu_resp r;

	snprintf(t, sizeof(t), Q "%s", q);
	r = fu_req(f, "GET", t, NULL);
	if (r.status != 200)
		print_error("%s: %s\n", t, r.raw.body);
	assert_int_equal(r.status, 200);
	assert_string_equal(fu_str(&r, "status"), "success");
	assert_string_equal(fu_str(&r, "data.resultType"), "vector");
	return r;
}

static void
test_split_and_failures(void **state)
{
	struct fake *f = traffic_fake(
		"traffic:\n  rps: 20\n  rules:\n"
		"    - destination: gke\n      error_rate: 0.3\n"
		"      latency_ms: 40\n"
		"    - destination: vm\n      latency_ms: 5\n");
	struct fu_resp r;

	(void)state;
	/* no VirtualService: no traffic, an empty answer */
	advance(f, 20);
	r = query(f, SUM_INCREASE);
	assert_int_equal(json_array_size(json_object_get(
		json_object_get(r.json, "data"), "result")), 0);
	fu_free(&r);

	put_split(f, 50, 50, true);
	advance(f, 30);
	r = query(f, SUM_INCREASE);
	/* 20 rps for 10 s, half each; the GKE side fails 30% (503, 14) */
	assert_true(value_of(&r, (const char *const[]){"destination_version=vm",
	            "response_code=200", NULL}) == 100);
	assert_true(value_of(&r, (const char *const[]){"destination_version=gke",
	            "response_code=200", NULL}) == 70);
	assert_true(value_of(&r, (const char *const[]){"destination_version=gke",
	            "response_code=503", "grpc_response_status=14", NULL}) == 30);
	assert_true(value_of(&r, (const char *const[]){"destination_version=vm",
	            "response_code=503", NULL}) == 0);
	fu_free(&r);

	/* p99 from the buckets: 40 ms lies in (25, 50], 5 ms in (1, 5] */
	r = query(f, P99);
	if (!(value_of(&r, (const char *const[]){"destination_version=gke", NULL}) > 49.75 - 1e-9))
		print_error("%s\n", r.raw.body);
	assert_true(value_of(&r, (const char *const[]){"destination_version=gke",
	            NULL}) > 49.75 - 1e-9);
	assert_true(value_of(&r, (const char *const[]){"destination_version=vm",
	            NULL}) > 4.96 - 1e-9);
	assert_true(value_of(&r, (const char *const[]){"destination_version=gke",
	            NULL}) - 49.75 < 1e-9);
	assert_true(value_of(&r, (const char *const[]){"destination_version=vm",
	            NULL}) - 4.96 < 1e-9);
	assert_null(json_object_get(json_object_get(json_array_get(
		json_object_get(json_object_get(r.json, "data"), "result"), 0),
		"metric"), "le"));
	fu_free(&r);

	/* all to GKE: after a window, the VM side gets nothing */
	put_split(f, 0, 100, false);
	advance(f, 30);
	r = query(f, SUM_INCREASE);
	assert_true(value_of(&r, (const char *const[]){"destination_version=vm",
	            "response_code=200", NULL}) == 0);
	assert_true(value_of(&r, (const char *const[]){"destination_version=gke",
	            "response_code=200", NULL}) == 140);
	assert_true(value_of(&r, (const char *const[]){"destination_version=gke",
	            "response_code=503", NULL}) == 60);
	fu_free(&r);
	fake_free(f);
}

static void
test_metrics_exposition(void **state)
{
	struct fake *f = traffic_fake("traffic:\n  rules:\n"
	                              "    - destination: gke\n"
	                              "      error_rate: 0.5\n"
	                              "      response_code: 200\n");
	struct fu_resp r;

	(void)state;
	put_split(f, 90, 10, true);
	advance(f, 5);
	r = fu_req(f, "GET", "/prom/c1/metrics", NULL);
	assert_int_equal(r.status, 200);
	assert_contains(r.raw.content_type, "text/plain; version=0.0.4");
	assert_contains(r.raw.body, "# TYPE istio_requests_total counter\n");
	assert_contains(r.raw.body, "# TYPE istio_request_duration_milliseconds "
	                "histogram\n");
	assert_contains(r.raw.body, "istio_requests_total{reporter=\"source\"");
	assert_contains(r.raw.body, "destination_workload=\"productcatalogservice-vm\"");
	assert_contains(r.raw.body, "destination_service_name=\"productcatalogservice\"");
	assert_contains(r.raw.body, "source_workload=\"frontend\"");
	/* a gRPC failure with HTTP 200 */
	assert_contains(r.raw.body, "response_code=\"200\",grpc_response_status=\"14\"");
	assert_contains(r.raw.body, "le=\"+Inf\"");
	assert_contains(r.raw.body, "istio_request_duration_milliseconds_sum{");
	fu_free(&r);
	r = fu_req(f, "GET", "/prom/nope/metrics", NULL);
	assert_int_equal(r.status, 404);
	assert_string_equal(fu_str(&r, "status"), "error");
	fu_free(&r);
	fake_free(f);
}

static void
test_query_errors_and_range(void **state)
{
	struct fake *f = traffic_fake(NULL);
	struct fu_resp r;
	static const char *const bad[] = {
		"up",
		"sum(rate(x[5]))",
		"sum(rate(x%7Ba%3D~%22b%22%7D[5s]))",
		"histogram_quantile(0.99,sum(rate(x_bucket[5s])))",
		"sum(rate(x[5s]))%20junk",
		"sum(rate(x%7Ba%3D%22unterminated%7D[5s]))",
	};
	char t[512];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(t, sizeof(t), Q "%s", bad[i]);
		r = fu_req(f, "GET", t, NULL);
		assert_int_equal(r.status, 400);
		assert_string_equal(fu_str(&r, "status"), "error");
		assert_string_equal(fu_str(&r, "errorType"), "bad_data");
		fu_free(&r);
	}
	r = fu_req(f, "GET", "/prom/c1/api/v1/query", NULL);
	assert_int_equal(r.status, 400);
	fu_free(&r);
	r = fu_req(f, "GET", "/prom/c1/api/v1/query_range?query=sum(rate(x[5s]))"
	           "&start=0&end=1000000&step=1", NULL);
	assert_int_equal(r.status, 400);
	assert_contains(fu_str(&r, "error"), "11000 points");
	fu_free(&r);

	put_split(f, 100, 0, true);
	advance(f, 30);
	/* a range over the last 10 s, every 5 s: 3 points of 20 rps */
	{
		struct fu_resp n = fu_req(f, "GET", "/prom/c1/api/v1/query?query="
		                          "sum(rate(istio_requests_total[5s]))", NULL);
		double now = json_real_value(json_array_get(json_object_get(
			json_array_get(json_object_get(json_object_get(n.json,
			"data"), "result"), 0), "value"), 0));

		assert_int_equal(n.status, 200);
		snprintf(t, sizeof(t), "/prom/c1/api/v1/query_range?query=sum%%20by"
		         "%%20(destination_version)%%20(rate(istio_requests_total"
		         "[5s]))&start=%.3f&end=%.3f&step=5s", now - 10, now);
		fu_free(&n);
	}
	r = fu_req(f, "GET", t, NULL);
	assert_int_equal(r.status, 200);
	assert_string_equal(fu_str(&r, "data.resultType"), "matrix");
	assert_string_equal(fu_str(&r, "data.result.0.metric.destination_version"),
	                    "vm");
	assert_int_equal(json_array_size(json_object_get(json_array_get(
		json_object_get(json_object_get(r.json, "data"), "result"), 0),
		"values")), 3);
	assert_string_equal(fu_str(&r, "data.result.0.values.2.1"), "20");
	fu_free(&r);
	/* POST, form-encoded, as Prometheus clients send it */
	r = fu_req_on(f, "gcp", "POST", "/prom/c1/api/v1/query",
	              "query=sum(rate(istio_requests_total[5s]))",
	              (const char *const[]){"Content-Type: "
	              "application/x-www-form-urlencoded", NULL});
	assert_int_equal(r.status, 200);
	assert_string_equal(fu_str(&r, "data.result.0.value.1"), "20");
	fu_free(&r);
	fake_free(f);
}

static void
test_traffic_profile_errors(void **state)
{
	static const struct {
		const char *yaml, *want;
	} bad[] = {
		{"traffic:\n  rules:\n    - error_rate: 2\n",
		 "faults:3:19: error_rate must be a number from 0 to 1"},
		{"traffic:\n  bogus: 1\n", "unknown traffic key 'bogus'"},
		{"traffic:\n  rules:\n    - colour: red\n",
		 "unknown traffic rule key 'colour'"},
		{"traffic:\n  rps: 0\n", "rps must be a number"},
		{"traffic: [1]\n", "traffic must be a mapping"},
		{"traffic:\n  rules:\n    - error_rate: 0.5\n      grpc_status: 0\n"
		 "      response_code: 200\n", "needs a 5xx"},
	};
	struct fake *f = fu_new(true, 0);

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct fu_resp r = fu_req(f, "PUT", "/_fake/faults", bad[i].yaml);

		assert_int_equal(r.status, 400);
		assert_contains(r.raw.body, bad[i].want);
		fu_free(&r);
	}
	fake_free(f);
}

/* The traffic clock runs --traffic-speed times as fast. */
static void
test_traffic_speed(void **state)
{
	struct fake_options o;
	struct fake *f = NULL;
	struct mv_err err;
	struct fu_resp r;
	double v;

	(void)state;
	mv_err_clear(&err);
	fake_options_init(&o);
	o.no_auth = true;
	o.traffic_speed = 10;
	assert_int_equal(fake_new(&o, &f, &err), 0);
	assert_int_equal(fu_do(f, "POST", CLUSTERS,
	                       "{\"cluster\":{\"name\":\"c1\","
	                       "\"initialNodeCount\":1}}"), 200);
	fu_istio_crds(f, "c1");
	put_split(f, 100, 0, true);
	advance(f, 3); /* 30 traffic-seconds */
	r = query(f, "sum(increase(istio_requests_total[25s]))");
	/* 25 traffic-seconds at 20/s; the real time the test itself takes
	 * also runs 10x, so a loaded machine may shift the window by one
	 * step (480).  At speed 1 the same advance would give about 60. */
	v = atof(fu_str(&r, "data.result.0.value.1"));
	assert_true(v >= 480 && v <= 500);
	fu_free(&r);
	fake_free(f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split_and_failures),
		cmocka_unit_test(test_metrics_exposition),
		cmocka_unit_test(test_query_errors_and_range),
		cmocka_unit_test(test_traffic_profile_errors),
		cmocka_unit_test(test_traffic_speed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
