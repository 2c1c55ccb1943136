/* test_fake_hostile.c - hostile and odd input through fake_handle():
 * encoded NULs in bodies, paths and queries, object names that are path
 * steps, bodies of the wrong media type, a journal of huge lines, long
 * queries that must not share a cached answer, bad continue tokens, huge
 * timeouts, fault patterns full of "**", tokens that expire. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fakeutil.h"

#define FW "/compute/v1/projects/p/global/firewalls"
#define CM "/api/v1/namespaces/default/configmaps"

static struct fake *
new_fake(bool no_auth, size_t journal_bytes)
{
	struct fake_options o;
	struct fake *f = NULL;
	struct mv_err err;

	mv_err_clear(&err);
	fake_options_init(&o);
	o.no_auth = no_auth;
	o.op_polls = 1;
	if (journal_bytes > 0)
		o.journal_bytes = journal_bytes;
	assert_int_equal(fake_new(&o, &f, &err), 0);
	return f;
}

/* {"name":"fw\u0000x"} must not create "fw". */
static void
test_nul_in_json(void **state)
{
	struct fake *f = new_fake(true, 0);
	struct fu_resp r;

	(void)state;
	r = fu_req(f, "POST", FW, "{\"name\":\"fw\\u0000x\",\"allowed\":[{"
	           "\"IPProtocol\":\"tcp\"}]}");
	assert_gerr(r, 400, "INVALID_ARGUMENT");
	fu_free(&r);
	assert_int_equal(fu_do(f, "GET", FW "/fw", NULL), 404);
	fake_free(f);
}

/* projects/p%00x is not project p: 400, in paths and queries. */
static void
test_nul_in_path(void **state)
{
	struct fake *f = new_fake(true, 0);
	struct fu_resp r;

	(void)state;
	assert_int_equal(fu_do(f, "GET", "/compute/v1/projects/p", NULL), 200);
	r = fu_req(f, "GET", "/compute/v1/projects/p%00x", NULL);
	assert_gerr(r, 400, "INVALID_ARGUMENT");
	assert_contains(fu_str(&r, "error.message"), "NUL");
	fu_free(&r);
	assert_int_equal(fu_do(f, "POST", "/storage/v1/b?project=p",
	                       "{\"name\":\"bkt\"}"), 200);
	assert_int_equal(fu_do(f, "POST", "/upload/storage/v1/b/bkt/o?"
	                       "uploadType=media&name=a%00b", "x"), 400);
	assert_int_equal(fu_do(f, "GET", "/storage/v1/b/bkt/o/a", NULL), 404);
	fake_free(f);
}

/* Object names that read as path steps, or hold line breaks. */
static void
test_object_names(void **state)
{
	static const char *const bad[] = {"..", ".", "a%0Ab", "a%0Db"};
	struct fake *f = new_fake(true, 0);
	char t[256];

	(void)state;
	assert_int_equal(fu_do(f, "POST", "/storage/v1/b?project=p",
	                       "{\"name\":\"bkt\"}"), 200);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct fu_resp r;
		snprintf(t, sizeof(t), "/upload/storage/v1/b/bkt/o?uploadType="
		         "media&name=%s", bad[i]);
		r = fu_req(f, "POST", t, "x");
		assert_gerr(r, 400, "INVALID_ARGUMENT");
		fu_free(&r);
	}
	assert_int_equal(fu_do(f, "POST", "/upload/storage/v1/b/bkt/o?"
	                       "uploadType=media&name=..a", "x"), 200);
	fake_free(f);
}

/* Google reads a JSON body only as JSON. */
static void
test_media_type(void **state)
{
	static const char *const plain[] = {"Content-Type: text/plain", NULL};
	static const char *const json[] = {
		"Content-Type: application/json; charset=UTF-8", NULL};
	struct fake *f = new_fake(true, 0);
	struct fu_resp r;

	(void)state;
	r = fu_req_on(f, "gcp", "POST", FW, "{\"name\":\"fw1\",\"allowed\":[{"
	              "\"IPProtocol\":\"tcp\"}]}", plain);
	assert_gerr(r, 400, "INVALID_ARGUMENT");
	assert_contains(fu_str(&r, "error.message"), "text/plain");
	fu_free(&r);
	assert_int_equal(fu_do(f, "GET", FW "/fw1", NULL), 404);
	assert_int_equal(fu_do_on(f, "gcp", "POST", FW, "{\"name\":\"fw1\","
	                          "\"allowed\":[{\"IPProtocol\":\"tcp\"}]}",
	                          json), 200);
	fake_free(f);
}

/* 24 KB query strings: the in-memory journal stays within its bytes. */
static void
test_journal_bytes(void **state)
{
	struct fake *f = new_fake(true, 256 * 1024);
	char *t = malloc(30000);
	struct fu_resp r;

	(void)state;
	memcpy(t, "/compute/v1/projects/p?x=", 25);
	memset(t + 25, 'q', 24 * 1024);
	t[25 + 24 * 1024] = '\0';
	for (int i = 0; i < 200; i++)
		assert_int_equal(fu_do(f, "GET", t, NULL), 200);
	assert_int_equal(fu_do(f, "GET", "/compute/v1/projects/last", NULL),
	                 200);
	r = fu_req(f, "GET", "/_fake/journal", NULL);
	assert_int_equal(r.status, 200);
	assert_true(r.raw.body_len <= 256 * 1024);
	assert_true(r.raw.body_len > 100 * 1024);
	assert_contains(r.raw.body, "\"seq\":201,");
	assert_contains(r.raw.body, "/compute/v1/projects/last");
	fu_free(&r);
	free(t);
	fake_free(f);
}

static void
make_cluster(struct fake *f)
{
	assert_int_equal(fu_do(f, "POST", "/v1/projects/p/locations/us-west1-b/"
	                       "clusters", "{\"cluster\":{\"name\":\"c1\","
	                       "\"initialNodeCount\":1}}"), 200);
}

/* Two long queries differing at the end get their own answers. */
static void
test_long_query_cache(void **state)
{
	struct fake *f = new_fake(true, 0);
	char *a = malloc(8000), *b;
	struct fu_resp r;
	size_t n;

	(void)state;
	make_cluster(f);
	assert_int_equal(fu_do_on(f, "c1", "POST", CM, "{\"apiVersion\":\"v1\","
	                          "\"kind\":\"ConfigMap\",\"metadata\":{\"name\":"
	                          "\"one\",\"labels\":{\"k\":\"v1\"}}}", NULL),
	                 201);
	n = (size_t)sprintf(a, CM "?pad=");
	memset(a + n, 'z', 5000);
	strcpy(a + n + 5000, "&labelSelector=k%3Dv1");
	b = strdup(a);
	b[strlen(b) - 1] = '2';
	r = fu_req_on(f, "c1", "GET", a, NULL, NULL);
	assert_int_equal(json_array_size(json_object_get(r.json, "items")), 1);
	fu_free(&r);
	r = fu_req_on(f, "c1", "GET", b, NULL, NULL);
	assert_int_equal(r.status, 200);
	assert_int_equal(json_array_size(json_object_get(r.json, "items")), 0);
	fu_free(&r);
	free(a);
	free(b);
	fake_free(f);
}

/* Bad continue tokens: 400, and nothing decoded leaks (valgrind). */
static void
test_bad_continue(void **state)
{
	static const char *const bad[] = {
		"!!!", "eyJ4IjoxfQ", /* {"x":1} */
		"eyJzdGFydCI6MX0",   /* {"start":1} */
		"bm90IGpzb24",       /* not json */
	};
	struct fake *f = new_fake(true, 0);
	char t[256];

	(void)state;
	make_cluster(f);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(t, sizeof(t), CM "?limit=1&continue=%s", bad[i]);
		assert_int_equal(fu_do_on(f, "c1", "GET", t, NULL, NULL), 400);
	}
	fake_free(f);
}

/* timeoutSeconds far past any limit cannot overflow (UBSan). */
static void
test_huge_watch_timeout(void **state)
{
	struct fake *f = new_fake(true, 0);

	(void)state;
	make_cluster(f);
	assert_int_equal(fu_do_on(f, "c1", "GET", CM "?watch=1&timeoutSeconds="
	                          "9223372036854775807", NULL, NULL), 200);
	assert_int_equal(fu_do_on(f, "c1", "GET", CM "?watch=1&timeoutSeconds="
	                          "-9223372036854775807", NULL, NULL), 200);
	fake_free(f);
}

/* Twenty "**" against thirty segments: a recursive match would take
 * longer than the test may. */
static void
test_many_double_stars(void **state)
{
	struct fake *f = new_fake(true, 0);
	char profile[512], t[512];
	size_t n = 0;

	(void)state;
	n += (size_t)snprintf(profile + n, sizeof(profile) - n,
	                      "rules:\n  - status: 503\n    path: ");
	for (int i = 0; i < 20; i++)
		n += (size_t)snprintf(profile + n, sizeof(profile) - n, "/**");
	snprintf(profile + n, sizeof(profile) - n, "/nomatch\n");
	assert_int_equal(fu_do(f, "PUT", "/_fake/faults", profile), 200);
	n = (size_t)snprintf(t, sizeof(t), "/compute/v1/projects/p");
	for (int i = 0; i < 27; i++)
		n += (size_t)snprintf(t + n, sizeof(t) - n, "/s");
	assert_int_equal(fu_do(f, "GET", t, NULL), 404);
	n = (size_t)snprintf(t, sizeof(t), "/compute/v1/projects/p");
	for (int i = 0; i < 26; i++)
		n += (size_t)snprintf(t + n, sizeof(t) - n, "/s");
	snprintf(t + n, sizeof(t) - n, "/nomatch");
	assert_int_equal(fu_do(f, "GET", t, NULL), 503);
	fake_free(f);
}

/* Expired tokens stop working and go at the next reset. */
static void
test_tokens_pruned(void **state)
{
	struct fake *f = new_fake(false, 0);
	struct fu_resp r = fu_req(f, "POST", "/_fake/token", NULL);
	char auth[160];
	const char *h[] = {auth, NULL};

	(void)state;
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s",
	         fu_str(&r, "access_token"));
	fu_free(&r);
	assert_int_equal(fu_do_on(f, "gcp", "GET", "/compute/v1/projects/p",
	                          NULL, h), 200);
	assert_int_equal(fu_do(f, "POST", "/_fake/clock?advance_ms=3601000",
	                       NULL), 200);
	assert_int_equal(fu_do_on(f, "gcp", "GET", "/compute/v1/projects/p",
	                          NULL, h), 401);
	assert_int_equal(fu_do(f, "POST", "/_fake/reset", NULL), 200);
	r = fu_req(f, "GET", "/_fake/state", NULL);
	assert_int_equal(json_object_size(json_object_get(r.json, "tokens")), 0);
	fu_free(&r);
	fake_free(f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nul_in_json),
		cmocka_unit_test(test_nul_in_path),
		cmocka_unit_test(test_object_names),
		cmocka_unit_test(test_media_type),
		cmocka_unit_test(test_journal_bytes),
		cmocka_unit_test(test_long_query_cache),
		cmocka_unit_test(test_bad_continue),
		cmocka_unit_test(test_huge_watch_timeout),
		cmocka_unit_test(test_many_double_stars),
		cmocka_unit_test(test_tokens_pruned),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
