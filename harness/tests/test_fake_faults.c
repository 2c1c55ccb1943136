/* test_fake_faults.c - the fault engine: profile parsing with positions,
 * matching, nth and probability decisions (same seed, same decisions,
 * whatever the interleaving), and each action. */
#include <string.h>

#include "fakeutil.h"

#define CL "/v1/projects/p/locations/us-west1-b/clusters"
#define CL_BODY(name)                                                      \
	"{\"cluster\":{\"name\":\"" name "\",\"initialNodeCount\":1}}"

static struct fake *
with_faults(const char *profile)
{
	struct fake *f = fu_new(true, 0);
	struct fu_resp r = fu_req(f, "PUT", "/_fake/faults", profile);

	if (r.status != 200)
		print_error("PUT /_fake/faults: %s\n", r.raw.body);
	assert_int_equal(r.status, 200);
	fu_free(&r);
	return f;
}

static void
test_profile_errors(void **state)
{
	static const struct {
		const char *yaml, *want;
	} bad[] = {
		{"rules:\n  - path: /x\n    bogus: 1\n    status: 500\n",
		 "faults:3:5: unknown rule key 'bogus'"},
		{"rules:\n  - probability: 2\n    status: 500\n",
		 "faults:2:18: probability must be a number from 0 to 1"},
		{"rules:\n  - path: /x\n", "does nothing"},
		{"rules:\n  - status: 200\n", "status must be an integer from 400"},
		{"rules:\n  - nth: [0]\n    status: 500\n", "nth must be a positive"},
		{"rules: {}\n", "rules must be a list"},
		{"seed: -1\n", "seed must be a non-negative integer"},
		{"other: 1\n", "unknown key 'other'"},
		{"rules:\n  - path: x\n    status: 500\n", "path must start with"},
		{"rules:\n  - operation_error: {code: x}\n",
		 "operation_error needs code"},
		{"rules: [\n", "faults:"},
	};
	struct fake *f = fu_new(true, 0);

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct fu_resp r = fu_req(f, "PUT", "/_fake/faults", bad[i].yaml);
		assert_gerr(r, 400, "INVALID_ARGUMENT");
		assert_contains(fu_str(&r, "error.message"), bad[i].want);
		fu_free(&r);
	}
	fake_free(f);
}

static void
test_nth_status_retry_after(void **state)
{
	struct fake *f = with_faults(
		"rules:\n"
		"  - name: throttle\n"
		"    method: GET\n"
		"    path: /v1/projects/*/locations/*/clusters/c1\n"
		"    nth: [2, 3]\n"
		"    status: 429\n"
		"    retry_after: 1\n");
	struct fu_resp r;

	(void)state;
	assert_int_equal(fu_do(f, "POST", CL, CL_BODY("c1")), 200);
	assert_int_equal(fu_do(f, "GET", CL "/c1", NULL), 200);
	r = fu_req(f, "GET", CL "/c1", NULL);
	assert_gerr(r, 429, "RESOURCE_EXHAUSTED");
	assert_string_equal(fu_str(&r, "error.errors.0.reason"),
	                    "rateLimitExceeded");
	assert_contains(r.raw.headers, "Retry-After: 1\n");
	fu_free(&r);
	assert_int_equal(fu_do(f, "GET", CL "/c1", NULL), 429);
	assert_int_equal(fu_do(f, "GET", CL "/c1", NULL), 200);
	/* other paths and methods are untouched */
	assert_int_equal(fu_do(f, "GET", CL, NULL), 200);
	/* the journal names the rule */
	r = fu_req(f, "GET", "/_fake/journal", NULL);
	assert_contains(r.raw.body, "\"status\":429");
	assert_contains(r.raw.body, "\"fault\":\"throttle\"");
	fu_free(&r);
	fake_free(f);
}

/* Decisions for one path depend on (seed, rule, path, n) only. */
static void
decide(struct fake *f, const char *order, int *a, int *b)
{
	int na = 0, nb = 0;

	for (const char *p = order; *p; p++) {
		if (*p == 'a')
			a[na++] = fu_do(f, "GET", "/v1/projects/p/locations/-/clusters",
			                NULL);
		else
			b[nb++] = fu_do(f, "GET", "/compute/v1/projects/p", NULL);
	}
}

static void
test_probability_determinism(void **state)
{
	static const char profile[] =
		"seed: 42\n"
		"rules:\n"
		"  - name: flaky\n"
		"    path: /**\n"
		"    probability: 0.5\n"
		"    status: 503\n";
	char seq1[81], seq2[81];
	int a1[40], b1[40], a2[40], b2[40], a3[40], b3[40], fired = 0;
	struct fake *f;

	(void)state;
	for (int i = 0; i < 40; i++) {
		seq1[i] = 'a';
		seq1[40 + i] = 'b';
		seq2[2 * i] = i % 3 ? 'b' : 'a';
		seq2[2 * i + 1] = i % 3 ? 'a' : 'b';
	}
	seq1[80] = seq2[80] = '\0';
	f = with_faults(profile);
	decide(f, seq1, a1, b1);
	fake_free(f);
	f = with_faults(profile);
	decide(f, seq2, a2, b2);
	fake_free(f);
	assert_memory_equal(a1, a2, sizeof(a1));
	assert_memory_equal(b1, b2, sizeof(b1));
	for (int i = 0; i < 40; i++)
		fired += a1[i] == 503;
	assert_true(fired > 5 && fired < 35);
	/* another seed, other decisions */
	f = with_faults("seed: 43\nrules:\n  - name: flaky\n    path: /**\n"
	                "    probability: 0.5\n    status: 503\n");
	decide(f, seq1, a3, b3);
	fake_free(f);
	assert_true(memcmp(a1, a3, sizeof(a1)) != 0);
}

static void
test_matching(void **state)
{
	struct fake *f = with_faults(
		"rules:\n"
		"  - listener: gcp\n"
		"    method: post\n"
		"    path: /v1/projects/*/locations/*/clusters\n"
		"    body: {cluster.name: doomed}\n"
		"    status: 403\n"
		"    reason: QUOTA_EXCEEDED\n"
		"    message: Quota 'CPUS' exceeded.\n"
		"  - path: /compute/v1/**\n"
		"    query: {alt: media}\n"
		"    status: 500\n"
		"  - listener: cluster9\n"
		"    status: 500\n");
	struct fu_resp r;

	(void)state;
	assert_int_equal(fu_do(f, "POST", CL, CL_BODY("fine")), 200);
	r = fu_req(f, "POST", CL, CL_BODY("doomed"));
	assert_gerr(r, 403, "PERMISSION_DENIED");
	assert_string_equal(fu_str(&r, "error.errors.0.reason"),
	                    "QUOTA_EXCEEDED");
	assert_string_equal(fu_str(&r, "error.message"), "Quota 'CPUS' "
	                    "exceeded.");
	fu_free(&r);
	assert_int_equal(fu_do(f, "GET", "/compute/v1/projects/p", NULL), 200);
	assert_int_equal(fu_do(f, "GET", "/compute/v1/projects/p?alt=media",
	                       NULL), 500);
	fake_free(f);
}

static void
test_reset_delay(void **state)
{
	struct fake *f = with_faults(
		"rules:\n"
		"  - path: /compute/v1/projects/reset\n"
		"    reset: true\n"
		"  - path: /compute/v1/projects/slow\n"
		"    delay_ms: 250\n");
	struct fu_resp r;

	(void)state;
	r = fu_req(f, "GET", "/compute/v1/projects/reset", NULL);
	assert_int_equal(r.status, 0);
	fu_free(&r);
	r = fu_req(f, "GET", "/compute/v1/projects/slow", NULL);
	assert_int_equal(r.status, 200); /* the handler still answers */
	assert_int_equal(r.raw.delay_ms, 250);
	fu_free(&r);
	fake_free(f);
}

static void
test_operation_error_and_service_state(void **state)
{
	struct fake *f = with_faults(
		"rules:\n"
		"  - method: POST\n"
		"    path: /v1/projects/*/locations/*/clusters\n"
		"    operation_error: {code: 8, message: \"Insufficient regional "
		"quota\"}\n"
		"  - method: POST\n"
		"    path: /compute/v1/projects/*/zones/*/instances\n"
		"    operation_error: {code: 8, message: \"no capacity\", reason: "
		"ZONE_RESOURCE_POOL_EXHAUSTED}\n"
		"  - path: /v1/projects/*/services/*\n"
		"    service_state: DISABLED\n");
	struct fu_resp op, r;
	char p[512];

	(void)state;
	op = fu_req(f, "POST", CL, CL_BODY("c1"));
	assert_string_equal(fu_str(&op, "status"), "RUNNING");
	snprintf(p, sizeof(p), "/v1/projects/p/locations/us-west1-b/operations/"
	         "%s", fu_str(&op, "name"));
	fu_free(&op);
	r = fu_req(f, "GET", p, NULL);
	assert_string_equal(fu_str(&r, "status"), "DONE");
	assert_int_equal(fu_int(&r, "error.code"), 8);
	assert_string_equal(fu_str(&r, "statusMessage"),
	                    "Insufficient regional quota");
	fu_free(&r);
	r = fu_req(f, "GET", CL "/c1", NULL);
	assert_string_equal(fu_str(&r, "status"), "ERROR");
	fu_free(&r);
	op = fu_req(f, "POST", "/compute/v1/projects/p/zones/us-central1-b/"
	            "instances", "{\"name\":\"vm\",\"machineType\":\"e2-small\"}");
	snprintf(p, sizeof(p), "/compute/v1/projects/p/zones/us-central1-b/"
	         "operations/%s/wait", fu_str(&op, "name"));
	fu_free(&op);
	r = fu_req(f, "POST", p, NULL);
	assert_string_equal(fu_str(&r, "status"), "DONE");
	assert_int_equal(fu_int(&r, "httpErrorStatusCode"), 429);
	assert_string_equal(fu_str(&r, "error.errors.0.code"),
	                    "ZONE_RESOURCE_POOL_EXHAUSTED");
	fu_free(&r);
	assert_int_equal(fu_do(f, "GET", "/compute/v1/projects/p/zones/"
	                       "us-central1-b/instances/vm", NULL), 404);
	r = fu_req(f, "GET", "/v1/projects/p/services/container.googleapis.com",
	           NULL);
	assert_string_equal(fu_str(&r, "state"), "DISABLED");
	fu_free(&r);
	/* replacing the profile at run time */
	assert_int_equal(fu_do(f, "DELETE", "/_fake/faults", NULL), 200);
	r = fu_req(f, "GET", "/v1/projects/p/services/container.googleapis.com",
	           NULL);
	assert_string_equal(fu_str(&r, "state"), "ENABLED");
	fu_free(&r);
	fake_free(f);
}

/* Per-path counters are bounded: a client walking endless paths grows
 * the table to 65536 entries at most; a new path past that clears it,
 * so counts start again (seen as nth: [1] firing a second time). */
static void
test_counter_cap(void **state)
{
	struct fake *f = with_faults(
		"rules:\n"
		"  - name: first\n"
		"    path: /cap/**\n"
		"    nth: [1]\n"
		"    status: 503\n");
	char path[64];

	(void)state;
	assert_int_equal(fu_do(f, "GET", "/cap/a", NULL), 503);
	assert_int_equal(fu_do(f, "GET", "/cap/a", NULL), 404);
	/* with /cap/a, 65536 paths counted: the table is full */
	for (int i = 0; i < 65535; i++) {
		snprintf(path, sizeof(path), "/cap/b%d", i);
		if (fu_do(f, "GET", path, NULL) != 503)
			fail_msg("%s: not its first count", path);
	}
	/* a known path counts on: nothing is forgotten yet */
	assert_int_equal(fu_do(f, "GET", "/cap/a", NULL), 404);
	assert_int_equal(fu_do(f, "GET", "/cap/b0", NULL), 404);
	/* one more path: the table starts again */
	assert_int_equal(fu_do(f, "GET", "/cap/new", NULL), 503);
	assert_int_equal(fu_do(f, "GET", "/cap/a", NULL), 503);
	assert_int_equal(fu_do(f, "GET", "/cap/b0", NULL), 503);
	assert_int_equal(fu_do(f, "GET", "/cap/a", NULL), 404);
	fake_free(f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_profile_errors),
		cmocka_unit_test(test_nth_status_retry_after),
		cmocka_unit_test(test_probability_determinism),
		cmocka_unit_test(test_matching),
		cmocka_unit_test(test_reset_delay),
		cmocka_unit_test(test_operation_error_and_service_state),
		cmocka_unit_test(test_counter_cap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
