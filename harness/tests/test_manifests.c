/* test_manifests.c - cluster/manifests: objects with file:line, Lists
 * expanded, empty documents skipped, refusals pointing at the object. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cluster/manifests.h"
#include "testutil.h"

static void
test_load_dir(void **state)
{
	char *dir = tu_tmpdir(), *p;
	struct manifests m = {0};
	struct mv_err err;
	const struct manifest_obj *o;
	json_t *svc;

	(void)state;
	p = tu_fmt("%s/b.yaml", dir);
	tu_write(p, "---\n---\napiVersion: v1\nkind: List\nitems:\n"
	            "- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n"
	            "    name: c1\n    namespace: x\n"
	            "- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n"
	            "    name: c2\n");
	free(p);
	p = tu_fmt("%s/a.yml", dir);
	tu_write(p, "apiVersion: v1\nkind: Service\nmetadata:\n  name: s\n");
	free(p);
	p = tu_fmt("%s/notes.txt", dir);
	tu_write(p, "not yaml: [");
	free(p);
	assert_int_equal(manifests_load_dir(&m, dir, &err), 0);
	assert_int_equal(m.n, 3);
	/* files in name order */
	assert_string_equal(json_string_value(json_object_get(m.v[0].obj,
	                                                      "kind")),
	                    "Service");
	assert_contains(m.v[0].origin, "a.yml:1");
	assert_contains(m.v[1].origin, "b.yaml:6");
	assert_contains(m.v[2].origin, "b.yaml:11");
	o = manifests_find(&m, "ConfigMap", "x", "c1");
	assert_ptr_equal(o, &m.v[1]);
	assert_null(manifests_find(&m, "ConfigMap", "x", "c2"));
	assert_non_null(manifests_find(&m, "ConfigMap", NULL, "c2"));
	/* sameness: group, kind, namespace (defaulted), name */
	svc = json_pack("{s:s, s:s, s:{s:s, s:s}}", "apiVersion", "v1", "kind",
	                "Service", "metadata", "name", "s", "namespace", "d");
	assert_true(manifests_same(m.v[0].obj, svc, "d"));
	assert_false(manifests_same(m.v[0].obj, svc, "e"));
	json_decref(svc);
	manifests_free(&m);
	tu_rmrf(dir);
	free(dir);
}

static void
test_refusals(void **state)
{
	char *dir = tu_tmpdir(), *p = tu_fmt("%s/bad.yaml", dir);
	struct manifests m = {0};
	struct mv_err err;

	(void)state;
	tu_write(p, "apiVersion: v1\nkind: Service\nmetadata:\n  name: ok\n"
	            "---\napiVersion: v1\nmetadata:\n  name: nokind\n");
	assert_int_equal(manifests_load_file(&m, p, &err), -1);
	assert_contains(err.msg, "bad.yaml:6");
	assert_contains(err.msg, "apiVersion, kind and metadata.name");
	manifests_free(&m);
	tu_write(p, "- 1\n");
	assert_int_equal(manifests_load_file(&m, p, &err), -1);
	assert_contains(err.msg, "expected a Kubernetes object");
	manifests_free(&m);
	tu_write(p, "apiVersion: v1\nkind: X\nmetadata:\n  name: a\n"
	            "  namespace: 3\n");
	assert_int_equal(manifests_load_file(&m, p, &err), -1);
	assert_contains(err.msg, "namespace must be a string");
	manifests_free(&m);
	unlink(p);
	assert_int_equal(manifests_load_dir(&m, dir, &err), -1);
	assert_contains(err.msg, "no .yaml");
	tu_rmrf(dir);
	free(dir);
	free(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_load_dir),
		cmocka_unit_test(test_refusals),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
