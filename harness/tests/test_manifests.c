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

static void
test_install_order(void **state)
{
	char *dir = tu_fmt("%s/fixtures/istio/cluster1", tu_src());
	struct manifests m = {0};
	struct mv_err err;
	size_t *order, n_crds, i, last_rank = 0;
	const char *seen_deploy = NULL;

	(void)state;
	assert_int_equal(manifests_load_dir(&m, dir, &err), 0);
	manifests_install_order(&m, &order, &n_crds);
	assert_int_equal(n_crds, 5); /* the crds/ fixtures */
	for (i = 0; i < m.n; i++) {
		const char *k = json_string_value(
			json_object_get(m.v[order[i]].obj, "kind"));
		if (i < n_crds)
			assert_string_equal(k, "CustomResourceDefinition");
		else
			assert_string_not_equal(k, "CustomResourceDefinition");
		if (strcmp(k, "Deployment") == 0)
			seen_deploy = k;
		/* ServiceAccounts and ConfigMaps before the Deployment */
		if (strcmp(k, "ServiceAccount") == 0 ||
		    strcmp(k, "ConfigMap") == 0)
			assert_null(seen_deploy);
		last_rank = i;
	}
	assert_int_equal(last_rank + 1, m.n);
	free(order);
	manifests_free(&m);
	free(dir);
	/* custom resources after the built-in kinds: the app's Gateway and
	 * VirtualService come first in its files and last in the order */
	dir = tu_fmt("%s/fixtures/app/manifests", tu_src());
	assert_int_equal(manifests_load_dir(&m, dir, &err), 0);
	assert_string_equal(json_string_value(json_object_get(m.v[0].obj,
	                                                      "kind")),
	                    "Gateway");
	manifests_install_order(&m, &order, &n_crds);
	assert_int_equal(n_crds, 0);
	assert_string_equal(json_string_value(json_object_get(
		                    m.v[order[m.n - 2]].obj, "kind")),
	                    "Gateway");
	assert_string_equal(json_string_value(json_object_get(
		                    m.v[order[m.n - 1]].obj, "kind")),
	                    "VirtualService");
	assert_string_equal(json_string_value(json_object_get(m.v[order[0]].obj,
	                                                      "kind")),
	                    "Service");
	free(order);
	manifests_free(&m);
	free(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_load_dir),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_install_order),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
