/* test_fake_ops.c - long-running operations on the fake's own clock
 * (--op-polls, --op-time, POST /_fake/clock), GKE operations.list,
 * Compute's requestId replays, and firewall PATCH/PUT. */
#include <stdio.h>
#include <string.h>

#include "fakeutil.h"

#define CL "/v1/projects/p/locations/us-west1-b/clusters"
#define CL_BODY(name)                                                      \
	"{\"cluster\":{\"name\":\"" name "\",\"initialNodeCount\":1}}"
#define FW "/compute/v1/projects/p/global/firewalls"
#define FW_BODY(name)                                                      \
	"{\"name\":\"" name "\",\"allowed\":[{\"IPProtocol\":\"tcp\"}],"      \
	"\"sourceRanges\":[\"10.4.0.0/14\"],\"description\":\"mesh\"}"
#define UUID1 "6f1c2d3e-4a5b-4c6d-8e7f-0123456789ab"
#define UUID2 "6f1c2d3e-4a5b-4c6d-8e7f-0123456789ac"

static struct fake *
new_fake(int polls, int time_ms)
{
	struct fake_options o;
	struct fake *f = NULL;
	struct mv_err err;

	mv_err_clear(&err);
	fake_options_init(&o);
	o.no_auth = true;
	o.op_polls = polls;
	o.op_time_ms = time_ms;
	assert_int_equal(fake_new(&o, &f, &err), 0);
	return f;
}

static void
advance(struct fake *f, const char *ms)
{
	char t[64];

	snprintf(t, sizeof(t), "/_fake/clock?advance_ms=%s", ms);
	assert_int_equal(fu_do(f, "POST", t, NULL), 200);
}

static void
op_path(char *buf, size_t len, const struct fu_resp *op)
{
	snprintf(buf, len, "/v1/projects/p/locations/us-west1-b/operations/%s",
	         fu_str(op, "name"));
}

static const char *
poll_status(struct fake *f, const char *path, char *out, size_t len)
{
	struct fu_resp r = fu_req(f, "GET", path, NULL);

	snprintf(out, len, "%s", fu_str(&r, "status"));
	fu_free(&r);
	return out;
}

/* DONE at the N-th read, not before. */
static void
test_op_polls(void **state)
{
	struct fake *f = new_fake(3, 0);
	struct fu_resp op = fu_req(f, "POST", CL, CL_BODY("c1"));
	char p[256], st[32];

	(void)state;
	assert_string_equal(fu_str(&op, "status"), "RUNNING");
	op_path(p, sizeof(p), &op);
	assert_string_equal(poll_status(f, p, st, sizeof(st)), "RUNNING");
	assert_string_equal(poll_status(f, p, st, sizeof(st)), "RUNNING");
	assert_string_equal(poll_status(f, p, st, sizeof(st)), "DONE");
	assert_string_equal(poll_status(f, p, st, sizeof(st)), "DONE");
	fu_free(&op);
	fake_free(f);
	/* --op-polls 1 --op-time 0: the first read finishes it */
	f = new_fake(1, 0);
	op = fu_req(f, "POST", CL, CL_BODY("c1"));
	op_path(p, sizeof(p), &op);
	assert_string_equal(poll_status(f, p, st, sizeof(st)), "DONE");
	fu_free(&op);
	fake_free(f);
}

/* DONE only once --op-time has passed on the fake's clock, however
 * often it is read; a client that comes back later finds it DONE. */
static void
test_op_time(void **state)
{
	struct fake *f = new_fake(1, 60000);
	struct fu_resp op = fu_req(f, "POST", CL, CL_BODY("c1")), r;
	char p[256], st[32];

	(void)state;
	op_path(p, sizeof(p), &op);
	for (int i = 0; i < 5; i++)
		assert_string_equal(poll_status(f, p, st, sizeof(st)), "RUNNING");
	r = fu_req(f, "GET", CL "/c1", NULL);
	assert_string_equal(fu_str(&r, "status"), "PROVISIONING");
	fu_free(&r);
	advance(f, "59000");
	assert_string_equal(poll_status(f, p, st, sizeof(st)), "RUNNING");
	advance(f, "1000");
	assert_string_equal(poll_status(f, p, st, sizeof(st)), "DONE");
	r = fu_req(f, "GET", CL "/c1", NULL);
	assert_string_equal(fu_str(&r, "status"), "RUNNING");
	fu_free(&r);
	fu_free(&op);
	/* a bad advance is refused */
	assert_int_equal(fu_do(f, "POST", "/_fake/clock?advance_ms=-1", NULL),
	                 400);
	assert_int_equal(fu_do(f, "POST", "/_fake/clock?advance_ms=x", NULL),
	                 400);
	fake_free(f);
}

/* A resumed client finds the create it never recorded. */
static void
test_gke_operations_list(void **state)
{
	struct fake *f = new_fake(2, 0);
	struct fu_resp op = fu_req(f, "POST", CL, CL_BODY("c1")), r;
	struct fu_resp op2 = fu_req(f, "POST", "/v1/projects/p/locations/"
	                            "us-east1/clusters", CL_BODY("c2"));

	(void)state;
	r = fu_req(f, "GET", "/v1/projects/p/locations/-/operations", NULL);
	assert_int_equal(r.status, 200);
	assert_int_equal(json_array_size(json_object_get(r.json, "operations")),
	                 2);
	fu_free(&r);
	r = fu_req(f, "GET", "/v1/projects/p/zones/us-west1-b/operations",
	           NULL);
	assert_int_equal(json_array_size(json_object_get(r.json, "operations")),
	                 1);
	assert_string_equal(fu_str(&r, "operations.0.name"),
	                    fu_str(&op, "name"));
	assert_string_equal(fu_str(&r, "operations.0.operationType"),
	                    "CREATE_CLUSTER");
	assert_string_equal(fu_str(&r, "operations.0.status"), "RUNNING");
	assert_contains(fu_str(&r, "operations.0.targetLink"), "/clusters/c1");
	fu_free(&r);
	/* listing is not a read: it did not advance the operation */
	r = fu_req(f, "GET", "/v1/projects/other/locations/-/operations", NULL);
	assert_int_equal(json_array_size(json_object_get(r.json, "operations")),
	                 0);
	fu_free(&r);
	fu_free(&op);
	fu_free(&op2);
	fake_free(f);
}

/* The same requestId within the window: the first operation, nothing
 * new created; another id creates (and conflicts). */
static void
test_request_id(void **state)
{
	struct fake *f = new_fake(1, 0);
	struct fu_resp a, b, r;

	(void)state;
	a = fu_req(f, "POST", FW "?requestId=" UUID1, FW_BODY("fw1"));
	assert_int_equal(a.status, 200);
	assert_string_equal(fu_str(&a, "operationType"), "insert");
	b = fu_req(f, "POST", FW "?requestId=" UUID1, FW_BODY("fw1"));
	assert_int_equal(b.status, 200);
	assert_string_equal(fu_str(&b, "name"), fu_str(&a, "name"));
	fu_free(&b);
	/* even with another body: the retry is the first request */
	b = fu_req(f, "POST", FW "?requestId=" UUID1, FW_BODY("fw2"));
	assert_int_equal(b.status, 200);
	assert_string_equal(fu_str(&b, "name"), fu_str(&a, "name"));
	fu_free(&b);
	assert_int_equal(fu_do(f, "GET", FW "/fw2", NULL), 404);
	r = fu_req(f, "GET", FW, NULL);
	assert_int_equal(json_array_size(json_object_get(r.json, "items")), 1);
	fu_free(&r);
	r = fu_req(f, "POST", FW "?requestId=" UUID2, FW_BODY("fw1"));
	assert_gerr(r, 409, "ALREADY_EXISTS");
	fu_free(&r);
	/* the replay shows the operation as it stands */
	{
		char p[256];
		snprintf(p, sizeof(p), "/compute/v1/projects/p/global/operations/"
		         "%s/wait", fu_str(&a, "name"));
		assert_int_equal(fu_do(f, "POST", p, NULL), 200);
	}
	b = fu_req(f, "POST", FW "?requestId=" UUID1, FW_BODY("fw1"));
	assert_string_equal(fu_str(&b, "status"), "DONE");
	fu_free(&b);
	/* instances too */
	b = fu_req(f, "POST", "/compute/v1/projects/p/zones/us-central1-b/"
	           "instances?requestId=" UUID2,
	           "{\"name\":\"vm\",\"machineType\":\"e2-small\"}");
	assert_int_equal(b.status, 200);
	fu_free(&b);
	b = fu_req(f, "POST", "/compute/v1/projects/p/zones/us-central1-b/"
	           "instances?requestId=" UUID2,
	           "{\"name\":\"vm\",\"machineType\":\"e2-small\"}");
	assert_int_equal(b.status, 200);
	fu_free(&b);
	/* past the retention window the id is forgotten */
	advance(f, "3700000");
	r = fu_req(f, "POST", FW "?requestId=" UUID1, FW_BODY("fw1"));
	assert_gerr(r, 409, "ALREADY_EXISTS");
	fu_free(&r);
	/* Compute wants a UUID, and not the zero one */
	r = fu_req(f, "POST", FW "?requestId=abc", FW_BODY("fw3"));
	assert_gerr(r, 400, "INVALID_ARGUMENT");
	assert_contains(fu_str(&r, "error.message"), "requestId");
	fu_free(&r);
	r = fu_req(f, "POST", FW "?requestId=00000000-0000-0000-0000-"
	           "000000000000", FW_BODY("fw3"));
	assert_gerr(r, 400, "INVALID_ARGUMENT");
	fu_free(&r);
	assert_int_equal(fu_do(f, "GET", FW "/fw3", NULL), 404);
	fu_free(&a);
	fake_free(f);
}

static void
test_firewall_patch(void **state)
{
	struct fake *f = new_fake(1, 0);
	struct fu_resp r;
	char id[32], created[64];

	(void)state;
	assert_int_equal(fu_do(f, "POST", FW, FW_BODY("fw1")), 200);
	r = fu_req(f, "GET", FW "/fw1", NULL);
	snprintf(id, sizeof(id), "%s", fu_str(&r, "id"));
	snprintf(created, sizeof(created), "%s",
	         fu_str(&r, "creationTimestamp"));
	fu_free(&r);
	r = fu_req(f, "PATCH", FW "/fw1", "{\"sourceRanges\":[\"10.0.0.0/8\"],"
	           "\"targetTags\":[\"vm\"],\"id\":\"1\"}");
	assert_int_equal(r.status, 200);
	assert_string_equal(fu_str(&r, "operationType"), "patch");
	assert_string_equal(fu_str(&r, "kind"), "compute#operation");
	assert_contains(fu_str(&r, "targetLink"), "/global/firewalls/fw1");
	fu_free(&r);
	r = fu_req(f, "GET", FW "/fw1", NULL);
	assert_string_equal(fu_str(&r, "sourceRanges.0"), "10.0.0.0/8");
	assert_string_equal(fu_str(&r, "targetTags.0"), "vm");
	assert_string_equal(fu_str(&r, "description"), "mesh"); /* kept */
	assert_string_equal(fu_str(&r, "id"), id);          /* output only */
	assert_string_equal(fu_str(&r, "creationTimestamp"), created);
	assert_string_equal(fu_str(&r, "allowed.0.IPProtocol"), "tcp");
	fu_free(&r);
	/* explicit null clears a field (defaults come back where the
	 * service has one) */
	r = fu_req(f, "PATCH", FW "/fw1", "{\"description\":null,"
	           "\"priority\":null}");
	assert_int_equal(r.status, 200);
	fu_free(&r);
	r = fu_req(f, "GET", FW "/fw1", NULL);
	assert_null(json_object_get(r.json, "description"));
	assert_int_equal(fu_int(&r, "priority"), 1000);
	fu_free(&r);
	/* the same checks as insert */
	r = fu_req(f, "PATCH", FW "/fw1", "{\"sourceRanges\":[\"10.0.0.0/99\"]}");
	assert_gerr(r, 400, "INVALID_ARGUMENT");
	fu_free(&r);
	r = fu_req(f, "PATCH", FW "/fw1", "{\"allowed\":null}");
	assert_gerr(r, 400, "INVALID_ARGUMENT");
	fu_free(&r);
	r = fu_req(f, "PATCH", FW "/fw1", "{\"bogus\":1}");
	assert_gerr(r, 400, "INVALID_ARGUMENT");
	fu_free(&r);
	/* the name and the network cannot change */
	r = fu_req(f, "PATCH", FW "/fw1", "{\"name\":\"fw2\"}");
	assert_gerr(r, 400, "INVALID_ARGUMENT");
	fu_free(&r);
	r = fu_req(f, "PATCH", FW "/fw1", "{\"network\":\"projects/p/global/"
	           "networks/other\"}");
	assert_true(r.status == 400 || r.status == 404);
	fu_free(&r);
	/* the same network by any spelling is no change */
	r = fu_req(f, "PATCH", FW "/fw1", "{\"network\":\"https://example.com/"
	           "compute/v1/projects/p/global/networks/default\"}");
	assert_int_equal(r.status, 200);
	fu_free(&r);
	r = fu_req(f, "GET", FW "/fw1", NULL);
	assert_string_equal(fu_str(&r, "sourceRanges.0"), "10.0.0.0/8");
	fu_free(&r);
	assert_int_equal(fu_do(f, "PATCH", FW "/nope", "{}"), 404);
	fake_free(f);
}

static void
test_firewall_update(void **state)
{
	struct fake *f = new_fake(1, 0);
	struct fu_resp r;

	(void)state;
	assert_int_equal(fu_do(f, "POST", FW, FW_BODY("fw1")), 200);
	/* PUT is the whole rule: what it leaves out is gone */
	r = fu_req(f, "PUT", FW "/fw1", "{\"name\":\"fw1\",\"denied\":[{"
	           "\"IPProtocol\":\"udp\"}],\"direction\":\"INGRESS\","
	           "\"sourceTags\":[\"a\"]}");
	assert_int_equal(r.status, 200);
	assert_string_equal(fu_str(&r, "operationType"), "update");
	fu_free(&r);
	r = fu_req(f, "GET", FW "/fw1", NULL);
	assert_null(json_object_get(r.json, "allowed"));
	assert_null(json_object_get(r.json, "description"));
	assert_null(json_object_get(r.json, "sourceRanges"));
	assert_string_equal(fu_str(&r, "denied.0.IPProtocol"), "udp");
	assert_string_equal(fu_str(&r, "kind"), "compute#firewall");
	assert_contains(fu_str(&r, "network"), "/global/networks/default");
	fu_free(&r);
	r = fu_req(f, "PUT", FW "/fw1", "{\"name\":\"fw1\"}");
	assert_gerr(r, 400, "INVALID_ARGUMENT");
	fu_free(&r);
	r = fu_req(f, "PUT", FW "/fw1", "{\"name\":\"x\",\"allowed\":[{"
	           "\"IPProtocol\":\"tcp\"}]}");
	assert_gerr(r, 400, "INVALID_ARGUMENT");
	fu_free(&r);
	fake_free(f);
}

/* A patch whose operation a fault fails leaves the old rule. */
static void
test_firewall_patch_failed_op(void **state)
{
	struct fake *f = new_fake(1, 0);
	struct fu_resp r, op;
	char p[256];

	(void)state;
	assert_int_equal(fu_do(f, "POST", FW, FW_BODY("fw1")), 200);
	r = fu_req(f, "PUT", "/_fake/faults", "rules:\n  - method: PATCH\n"
	           "    operation_error: {code: 13, message: boom}\n");
	assert_int_equal(r.status, 200);
	fu_free(&r);
	op = fu_req(f, "PATCH", FW "/fw1", "{\"description\":\"new\"}");
	assert_int_equal(op.status, 200);
	snprintf(p, sizeof(p), "/compute/v1/projects/p/global/operations/%s",
	         fu_str(&op, "name"));
	fu_free(&op);
	r = fu_req(f, "GET", p, NULL);
	assert_string_equal(fu_str(&r, "status"), "DONE");
	assert_int_equal(fu_int(&r, "httpErrorStatusCode"), 500);
	fu_free(&r);
	r = fu_req(f, "GET", FW "/fw1", NULL);
	assert_string_equal(fu_str(&r, "description"), "mesh");
	fu_free(&r);
	fake_free(f);
}

/* Finished operations are bounded: past 1000 the oldest finished ones
 * go (down to 750), running ones stay, the newest stay readable. */
static void
test_finished_ops_bounded(void **state)
{
	struct fake *f = new_fake(1, 0);
	char body[256], first[256] = "", last[256] = "", running[256];
	struct fu_resp r;

	(void)state;
	/* one that nobody reads: still RUNNING */
	r = fu_req(f, "POST", FW, FW_BODY("fw-running"));
	assert_int_equal(r.status, 200);
	snprintf(running, sizeof(running),
	         "/compute/v1/projects/p/global/operations/%s", fu_str(&r, "name"));
	fu_free(&r);
	for (int i = 0; i < 1100; i++) {
		snprintf(body, sizeof(body), "{\"name\":\"fw-%d\",\"allowed\":[{"
		         "\"IPProtocol\":\"tcp\"}],\"sourceRanges\":[\"10.4.0.0/14\"]}",
		         i);
		r = fu_req(f, "POST", FW, body);
		assert_int_equal(r.status, 200);
		snprintf(last, sizeof(last),
		         "/compute/v1/projects/p/global/operations/%s",
		         fu_str(&r, "name"));
		fu_free(&r);
		if (first[0] == '\0')
			snprintf(first, sizeof(first), "%s", last);
		r = fu_req(f, "GET", last, NULL); /* finishes it */
		assert_string_equal(fu_str(&r, "status"), "DONE");
		fu_free(&r);
	}
	assert_int_equal(fu_do(f, "GET", first, NULL), 404);
	assert_int_equal(fu_do(f, "GET", last, NULL), 200);
	r = fu_req(f, "GET", "/_fake/state", NULL);
	assert_int_equal(r.status, 200);
	assert_true(json_object_size(json_object_get(r.json, "operations")) <=
	            1001);
	assert_true(json_object_size(json_object_get(r.json, "operations")) >=
	            750);
	fu_free(&r);
	r = fu_req(f, "GET", running, NULL);
	assert_int_equal(r.status, 200);
	assert_string_equal(fu_str(&r, "status"), "DONE");
	fu_free(&r);
	fake_free(f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_op_polls),
		cmocka_unit_test(test_op_time),
		cmocka_unit_test(test_gke_operations_list),
		cmocka_unit_test(test_request_id),
		cmocka_unit_test(test_firewall_patch),
		cmocka_unit_test(test_firewall_update),
		cmocka_unit_test(test_firewall_patch_failed_op),
		cmocka_unit_test(test_finished_ops_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
