/* test_fake_kube_merge.c - the patch formats and server-side apply of
 * the fake's Kubernetes side, as pure functions: JSON merge patch (RFC
 * 7386 appendix), JSON patch (RFC 6902), strategic merge patch with merge
 * keys and directives, managed fields, apply conflicts and force. */
#include <string.h>

#include "harness/fake/kube_private.h"
#include "testutil.h"

static json_t *
J(const char *s)
{
	json_error_t e;
	json_t *v = json_loads(s, JSON_DECODE_ANY, &e);

	if (v == NULL)
		print_error("bad JSON in test: %s: %s\n", s, e.text);
	assert_non_null(v);
	return v;
}

static void
assert_json(json_t *got, const char *want)
{
	json_t *w = J(want);

	if (!json_equal(got, w)) {
		char *g = json_dumps(got, JSON_SORT_KEYS | JSON_ENCODE_ANY);
		print_error("got  %s\nwant %s\n", g, want);
		free(g);
	}
	assert_true(json_equal(got, w));
	json_decref(w);
}

/* RFC 7386, appendix A */
static void
test_json_merge_patch(void **state)
{
	static const char *const cases[][3] = {
		{"{\"a\":\"b\"}", "{\"a\":\"c\"}", "{\"a\":\"c\"}"},
		{"{\"a\":\"b\"}", "{\"b\":\"c\"}", "{\"a\":\"b\",\"b\":\"c\"}"},
		{"{\"a\":\"b\"}", "{\"a\":null}", "{}"},
		{"{\"a\":\"b\",\"b\":\"c\"}", "{\"a\":null}", "{\"b\":\"c\"}"},
		{"{\"a\":[\"b\"]}", "{\"a\":\"c\"}", "{\"a\":\"c\"}"},
		{"{\"a\":\"c\"}", "{\"a\":[\"b\"]}", "{\"a\":[\"b\"]}"},
		{"{\"a\":{\"b\":\"c\"}}", "{\"a\":{\"b\":\"d\",\"c\":null}}",
		 "{\"a\":{\"b\":\"d\"}}"},
		{"{\"a\":[{\"b\":\"c\"}]}", "{\"a\":[1]}", "{\"a\":[1]}"},
		{"[\"a\",\"b\"]", "[\"c\",\"d\"]", "[\"c\",\"d\"]"},
		{"{\"a\":\"b\"}", "[\"c\"]", "[\"c\"]"},
		{"{\"e\":null}", "{\"a\":1}", "{\"e\":null,\"a\":1}"},
		{"[1,2]", "{\"a\":\"b\",\"c\":null}", "{\"a\":\"b\"}"},
		{"{}", "{\"a\":{\"bb\":{\"ccc\":null}}}", "{\"a\":{\"bb\":{}}}"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *t = J(cases[i][0]), *p = J(cases[i][1]);
		json_t *out = kmerge_json_merge(t, p);
		assert_json(out, cases[i][2]);
		json_decref(out);
		json_decref(t);
		json_decref(p);
	}
}

/* RFC 6902, appendix A (the ones that apply without errors, and some
 * that must fail) */
static void
test_json_patch(void **state)
{
	static const char *const ok[][3] = {
		{"{\"foo\":\"bar\"}", "[{\"op\":\"add\",\"path\":\"/baz\","
		 "\"value\":\"qux\"}]", "{\"baz\":\"qux\",\"foo\":\"bar\"}"},
		{"{\"foo\":[\"bar\",\"baz\"]}", "[{\"op\":\"add\",\"path\":"
		 "\"/foo/1\",\"value\":\"qux\"}]",
		 "{\"foo\":[\"bar\",\"qux\",\"baz\"]}"},
		{"{\"baz\":\"qux\",\"foo\":\"bar\"}", "[{\"op\":\"remove\","
		 "\"path\":\"/baz\"}]", "{\"foo\":\"bar\"}"},
		{"{\"foo\":[\"bar\",\"qux\",\"baz\"]}", "[{\"op\":\"remove\","
		 "\"path\":\"/foo/1\"}]", "{\"foo\":[\"bar\",\"baz\"]}"},
		{"{\"baz\":\"qux\",\"foo\":\"bar\"}", "[{\"op\":\"replace\","
		 "\"path\":\"/baz\",\"value\":\"boo\"}]",
		 "{\"baz\":\"boo\",\"foo\":\"bar\"}"},
		{"{\"foo\":{\"bar\":\"baz\",\"waldo\":\"fred\"},\"qux\":{"
		 "\"corge\":\"grault\"}}", "[{\"op\":\"move\",\"from\":"
		 "\"/foo/waldo\",\"path\":\"/qux/thud\"}]",
		 "{\"foo\":{\"bar\":\"baz\"},\"qux\":{\"corge\":\"grault\","
		 "\"thud\":\"fred\"}}"},
		{"{\"foo\":[\"all\",\"grass\",\"cows\",\"eat\"]}", "[{\"op\":"
		 "\"move\",\"from\":\"/foo/1\",\"path\":\"/foo/3\"}]",
		 "{\"foo\":[\"all\",\"cows\",\"eat\",\"grass\"]}"},
		{"{\"baz\":\"qux\",\"foo\":[\"a\",2,\"c\"]}", "[{\"op\":\"test\","
		 "\"path\":\"/baz\",\"value\":\"qux\"},{\"op\":\"test\",\"path\":"
		 "\"/foo/1\",\"value\":2}]",
		 "{\"baz\":\"qux\",\"foo\":[\"a\",2,\"c\"]}"},
		{"{\"foo\":[\"bar\"]}", "[{\"op\":\"add\",\"path\":\"/foo/-\","
		 "\"value\":[\"abc\",\"def\"]}]",
		 "{\"foo\":[\"bar\",[\"abc\",\"def\"]]}"},
		{"{\"/\":0,\"~\":1}", "[{\"op\":\"copy\",\"from\":\"/~1\",\"path\":"
		 "\"/x~0y\"}]", "{\"/\":0,\"~\":1,\"x~y\":0}"},
	};
	static const char *const bad[][2] = {
		{"{\"baz\":\"qux\"}", "[{\"op\":\"test\",\"path\":\"/baz\","
		 "\"value\":\"bar\"}]"},
		{"{\"foo\":\"bar\"}", "[{\"op\":\"add\",\"path\":\"/baz/bat\","
		 "\"value\":\"qux\"}]"},
		{"{\"foo\":\"bar\"}", "[{\"op\":\"remove\",\"path\":\"/nope\"}]"},
		{"{\"foo\":[1]}", "[{\"op\":\"replace\",\"path\":\"/foo/5\","
		 "\"value\":1}]"},
		{"{\"foo\":1}", "[{\"op\":\"frob\",\"path\":\"/foo\"}]"},
		{"{\"foo\":1}", "[{\"op\":\"add\",\"path\":\"foo\",\"value\":1}]"},
		{"{\"foo\":1}", "{\"op\":\"add\"}"},
	};
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		json_t *doc = J(ok[i][0]), *ops = J(ok[i][1]);
		if (kmerge_json_patch(&doc, ops, err, sizeof(err)) != 0)
			print_error("case %zu: %s\n", i, err);
		assert_json(doc, ok[i][2]);
		json_decref(doc);
		json_decref(ops);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_t *doc = J(bad[i][0]), *ops = J(bad[i][1]);
		assert_int_equal(kmerge_json_patch(&doc, ops, err, sizeof(err)),
		                 -1);
		assert_true(strlen(err) > 0);
		assert_json(doc, bad[i][0]); /* untouched */
		json_decref(doc);
		json_decref(ops);
	}
}

static void
test_strategic_merge_patch(void **state)
{
	static const char *const cases[][3] = {
		/* containers merge by name, env by name, ports by containerPort */
		{"{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"a\","
		 "\"image\":\"x\",\"env\":[{\"name\":\"E\",\"value\":\"1\"}],"
		 "\"ports\":[{\"containerPort\":80,\"name\":\"http\"}]},{\"name\":"
		 "\"b\",\"image\":\"y\"}]}}}}",
		 "{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"a\","
		 "\"image\":\"x2\",\"env\":[{\"name\":\"F\",\"value\":\"2\"}],"
		 "\"ports\":[{\"containerPort\":80,\"protocol\":\"TCP\"}]}]}}}}",
		 "{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"a\","
		 "\"image\":\"x2\",\"env\":[{\"name\":\"E\",\"value\":\"1\"},"
		 "{\"name\":\"F\",\"value\":\"2\"}],\"ports\":[{\"containerPort\":80,"
		 "\"name\":\"http\",\"protocol\":\"TCP\"}]},{\"name\":\"b\","
		 "\"image\":\"y\"}]}}}}"},
		/* a Service's ports merge by port */
		{"{\"spec\":{\"ports\":[{\"port\":80,\"name\":\"a\"},{\"port\":81}]}}",
		 "{\"spec\":{\"ports\":[{\"port\":81,\"name\":\"b\"}]}}",
		 "{\"spec\":{\"ports\":[{\"port\":80,\"name\":\"a\"},{\"port\":81,"
		 "\"name\":\"b\"}]}}"},
		/* lists without a merge key are replaced; null deletes */
		{"{\"args\":[\"a\",\"b\"],\"x\":1,\"y\":2}",
		 "{\"args\":[\"c\"],\"x\":null}", "{\"args\":[\"c\"],\"y\":2}"},
		/* $patch: delete on an item; $setElementOrder */
		{"{\"volumes\":[{\"name\":\"a\"},{\"name\":\"b\"},{\"name\":\"c\"}]}",
		 "{\"$setElementOrder/volumes\":[{\"name\":\"c\"},{\"name\":\"a\"}],"
		 "\"volumes\":[{\"name\":\"b\",\"$patch\":\"delete\"}]}",
		 "{\"volumes\":[{\"name\":\"c\"},{\"name\":\"a\"}]}"},
		/* $patch: replace on a map; $retainKeys is dropped */
		{"{\"strategy\":{\"type\":\"A\",\"rollingUpdate\":{\"x\":1}}}",
		 "{\"strategy\":{\"$patch\":\"replace\",\"type\":\"Recreate\"}}",
		 "{\"strategy\":{\"type\":\"Recreate\"}}"},
		{"{\"strategy\":{\"type\":\"A\"}}",
		 "{\"strategy\":{\"$retainKeys\":[\"type\"],\"type\":\"B\"}}",
		 "{\"strategy\":{\"type\":\"B\"}}"},
		/* $deleteFromPrimitiveList */
		{"{\"finalizers\":[\"a\",\"b\"]}",
		 "{\"$deleteFromPrimitiveList/finalizers\":[\"a\"]}",
		 "{\"finalizers\":[\"b\"]}"},
		/* annotations merge like any map */
		{"{\"metadata\":{\"annotations\":{\"a\":\"1\"}}}",
		 "{\"metadata\":{\"annotations\":{\"b\":\"2\"}}}",
		 "{\"metadata\":{\"annotations\":{\"a\":\"1\",\"b\":\"2\"}}}"},
	};
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *t = J(cases[i][0]), *p = J(cases[i][1]);
		if (kmerge_strategic(t, p, err, sizeof(err)) != 0)
			print_error("case %zu: %s\n", i, err);
		assert_json(t, cases[i][2]);
		json_decref(t);
		json_decref(p);
	}
	{
		json_t *t = J("{\"containers\":[{\"name\":\"a\"}]}");
		json_t *p = J("{\"containers\":[{\"image\":\"no-name\"}]}");
		assert_int_equal(kmerge_strategic(t, p, err, sizeof(err)), -1);
		assert_contains(err, "merge key");
		json_decref(t);
		json_decref(p);
	}
	assert_string_equal(kmerge_list_key(".spec.template.spec.containers[]."
	                                    "ports"), "containerPort");
	assert_string_equal(kmerge_list_key(".spec.ports"), "port");
	assert_null(kmerge_list_key(".spec.template.spec.tolerations"));
}

static json_t *
managed_by(json_t *obj, const char *manager, const char *op)
{
	json_t *m = json_object_get(json_object_get(obj, "metadata"),
	                            "managedFields"), *e;
	size_t i;

	json_array_foreach(m, i, e)
		if (!strcmp(json_string_value(json_object_get(e, "manager")),
		            manager) &&
		    !strcmp(json_string_value(json_object_get(e, "operation")), op))
			return json_object_get(e, "fieldsV1");
	return NULL;
}

#define DEPLOY(replicas, image)                                            \
	"{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":"   \
	"{\"name\":\"web\",\"labels\":{\"app\":\"web\"}},\"spec\":{"          \
	"\"replicas\":" replicas ",\"template\":{\"spec\":{\"containers\":[{" \
	"\"name\":\"web\",\"image\":\"" image "\"}]}}}}"

static void
test_apply_and_conflicts(void **state)
{
	struct kapply_conflict c[8];
	json_t *a1 = J(DEPLOY("2", "nginx:1")), *obj = NULL, *obj2 = NULL;
	json_t *a2, *fs;
	char err[256];
	size_t n;

	(void)state;
	assert_int_equal(kapply(NULL, a1, "kubectl", "apps/v1", false, true,
	                        &obj, c, 8, &n, err, sizeof(err)), 0);
	fs = managed_by(obj, "kubectl", "Apply");
	assert_json(fs, "{\"f:metadata\":{\"f:labels\":{\"f:app\":{}}},"
	                "\"f:spec\":{\"f:replicas\":{},\"f:template\":{"
	                "\"f:spec\":{\"f:containers\":{\"k:{\\\"name\\\":"
	                "\\\"web\\\"}\":{\".\":{},\"f:image\":{},"
	                "\"f:name\":{}}}}}}}");
	/* the same value from another manager: shared, no conflict */
	a2 = J("{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\","
	       "\"metadata\":{\"name\":\"web\"},\"spec\":{\"replicas\":2}}");
	assert_int_equal(kapply(obj, a2, "other", "apps/v1", false, true, &obj2,
	                        c, 8, &n, err, sizeof(err)), 0);
	json_decref(obj2);
	json_decref(a2);
	/* another value: a conflict naming the field and its owner */
	a2 = J("{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\","
	       "\"metadata\":{\"name\":\"web\"},\"spec\":{\"replicas\":5,"
	       "\"template\":{\"spec\":{\"containers\":[{\"name\":\"web\","
	       "\"image\":\"nginx:2\"}]}}}}");
	assert_int_equal(kapply(obj, a2, "other", "apps/v1", false, true, &obj2,
	                        c, 8, &n, err, sizeof(err)), 1);
	assert_int_equal(n, 2);
	assert_string_equal(c[0].manager, "kubectl");
	assert_string_equal(c[0].api_version, "apps/v1");
	assert_string_equal(c[0].field, ".spec.replicas");
	assert_string_equal(c[1].field, ".spec.template.spec.containers[name="
	                    "\"web\"].image");
	assert_null(obj2);
	/* force: the values change hands */
	assert_int_equal(kapply(obj, a2, "other", "apps/v1", true, true, &obj2,
	                        c, 8, &n, err, sizeof(err)), 0);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(
	        obj2, "spec"), "replicas")), 5);
	fs = managed_by(obj2, "kubectl", "Apply");
	assert_null(json_object_get(json_object_get(fs, "f:spec"),
	                            "f:replicas"));
	fs = managed_by(obj2, "other", "Apply");
	assert_non_null(json_object_get(json_object_get(fs, "f:spec"),
	                                "f:replicas"));
	json_decref(obj);
	obj = obj2;
	obj2 = NULL;
	json_decref(a2);
	/* kubectl drops the label it alone owned: the label goes */
	a2 = J("{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\","
	       "\"metadata\":{\"name\":\"web\"},\"spec\":{\"template\":{"
	       "\"spec\":{\"containers\":[{\"name\":\"web\",\"image\":"
	       "\"nginx:2\"}]}}}}");
	assert_int_equal(kapply(obj, a2, "kubectl", "apps/v1", false, true,
	                        &obj2, c, 8, &n, err, sizeof(err)), 0);
	assert_null(json_object_get(json_object_get(obj2, "metadata"),
	                            "labels") ? json_object_get(json_object_get(
	        json_object_get(obj2, "metadata"), "labels"), "app") : NULL);
	/* replicas stay: "other" owns them */
	assert_int_equal(json_integer_value(json_object_get(json_object_get(
	        obj2, "spec"), "replicas")), 5);
	json_decref(obj2);
	json_decref(a2);
	json_decref(obj);
	json_decref(a1);
}

static void
test_update_ownership(void **state)
{
	json_t *old = J("{\"metadata\":{\"name\":\"c\"},\"data\":{\"a\":\"1\","
	                "\"b\":\"2\"}}");
	json_t *nw;

	(void)state;
	kmanaged_update(NULL, old, "creator", "v1", true);
	assert_json(managed_by(old, "creator", "Update"),
	            "{\"f:data\":{\"f:a\":{},\"f:b\":{}}}");
	nw = json_deep_copy(old);
	json_object_set_new(json_object_get(nw, "data"), "b",
	                    json_string("3"));
	json_object_del(json_object_get(nw, "data"), "a");
	json_object_set_new(json_object_get(nw, "data"), "c", json_string("4"));
	kmanaged_update(old, nw, "editor", "v1", true);
	/* the editor owns what it changed or added; what went is nobody's */
	assert_json(managed_by(nw, "editor", "Update"),
	            "{\"f:data\":{\"f:b\":{},\"f:c\":{}}}");
	assert_null(managed_by(nw, "creator", "Update"));
	json_decref(nw);
	/* a client that rewrites managedFields itself keeps them */
	nw = json_deep_copy(old);
	json_object_set_new(json_object_get(nw, "metadata"), "managedFields",
	                    J("[{\"manager\":\"x\",\"operation\":\"Apply\","
	                      "\"fieldsV1\":{\"f:data\":{}}}]"));
	kmanaged_update(old, nw, "editor", "v1", true);
	assert_json(json_object_get(json_object_get(nw, "metadata"),
	                            "managedFields"),
	            "[{\"manager\":\"x\",\"operation\":\"Apply\","
	            "\"fieldsV1\":{\"f:data\":{}}}]");
	json_decref(nw);
	json_decref(old);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_merge_patch),
		cmocka_unit_test(test_json_patch),
		cmocka_unit_test(test_strategic_merge_patch),
		cmocka_unit_test(test_apply_and_conflicts),
		cmocka_unit_test(test_update_ownership),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
