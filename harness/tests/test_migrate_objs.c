/* test_migrate_objs.c - the migration's Kubernetes objects
 * (cluster/migrate_objs.c): the VirtualService's two weighted subsets and
 * their read-back, the DestinationRule, the GKE copy of the app's
 * Deployment, the version=vm patches (the fake validates them against the
 * CRD fixtures in harness/cases/migrate.case). */
#include <string.h>

#include "cluster/migrate_objs.h"
#include "testutil.h"

static const struct migrate_svc svc = {"productcatalogservice", "default",
                                       "mv-0123456789ab"};

static const char *
sget(const json_t *o, const char *path)
{
	char *p = strdup(path), *tok, *save = NULL;
	const json_t *cur = o;

	for (tok = strtok_r(p, ".", &save); tok && cur;
	     tok = strtok_r(NULL, ".", &save))
		cur = json_is_array(cur) ? json_array_get(cur, (size_t)atoi(tok))
		                         : json_object_get(cur, tok);
	free(p);
	return json_string_value(cur);
}

static void
test_virtual_service(void **state)
{
	struct migrate_weights w = {90, 10}, got;
	json_t *vs = migrate_virtual_service(&svc, w);
	char why[200];

	(void)state;
	assert_string_equal(sget(vs, "metadata.name"), "productcatalog-migration");
	assert_string_equal(sget(vs, "metadata.labels.meshvm-id"),
	                    "mv-0123456789ab");
	assert_string_equal(sget(vs, "spec.hosts.0"),
	                    "productcatalogservice.default.svc.cluster.local");
	assert_string_equal(sget(vs, "spec.http.0.route.0.destination.subset"),
	                    "vm");
	assert_string_equal(sget(vs, "spec.http.0.route.1.destination.subset"),
	                    "gke");
	assert_int_equal(migrate_vs_weights(vs, &got, why, sizeof(why)), 0);
	assert_int_equal(got.vm, 90);
	assert_int_equal(got.gke, 10);
	/* a route someone changed is not read as weights */
	json_object_set_new(json_array_get(json_object_get(json_array_get(
		json_object_get(json_object_get(vs, "spec"), "http"), 0), "route"),
		1), "weight", json_integer(101));
	assert_int_equal(migrate_vs_weights(vs, &got, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "route 1"));
	json_decref(vs);
	vs = json_pack("{s:{s:[{s:[{s:{s:s,s:s},s:i}]}]}}", "spec", "http",
	               "route", "destination", "host", "x", "subset", "vm",
	               "weight", 100);
	assert_int_equal(migrate_vs_weights(vs, &got, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "two destinations"));
	json_decref(vs);
	vs = json_pack("{s:{s:[{s:[{s:{s:s},s:i},{s:{s:s},s:i}]}]}}", "spec",
	               "http", "route", "destination", "subset", "vm", "weight",
	               50, "destination", "subset", "canary", "weight", 50);
	assert_int_equal(migrate_vs_weights(vs, &got, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "'canary'"));
	json_decref(vs);
}

static void
test_destination_rule(void **state)
{
	json_t *dr = migrate_destination_rule(&svc);

	(void)state;
	assert_string_equal(sget(dr, "kind"), "DestinationRule");
	assert_string_equal(sget(dr, "spec.host"),
	                    "productcatalogservice.default.svc.cluster.local");
	assert_string_equal(sget(dr, "spec.subsets.0.name"), "vm");
	assert_string_equal(sget(dr, "spec.subsets.0.labels.version"), "vm");
	assert_string_equal(sget(dr, "spec.subsets.1.name"), "gke");
	assert_string_equal(sget(dr, "spec.subsets.1.labels.version"), "gke");
	json_decref(dr);
}

static void
test_gke_deployment(void **state)
{
	json_t *dep = json_pack(
		"{s:s,s:s,s:{s:s},s:{s:{s:{s:s}},s:{s:{s:{s:s}},s:{}}}}",
		"apiVersion", "apps/v1", "kind", "Deployment", "metadata", "name",
		"productcatalogservice", "spec", "selector", "matchLabels", "app",
		"productcatalogservice", "template", "metadata", "labels", "app",
		"productcatalogservice", "spec");
	json_t *before = json_deep_copy(dep), *g = migrate_gke_deployment(dep,
	                                                                  &svc);

	(void)state;
	assert_non_null(g);
	assert_true(json_equal(dep, before)); /* the input stays as it was */
	assert_string_equal(sget(g, "metadata.namespace"), "default");
	assert_string_equal(sget(g, "metadata.labels.meshvm-id"),
	                    "mv-0123456789ab");
	assert_string_equal(sget(g, "metadata.labels.version"), "gke");
	assert_string_equal(sget(g, "spec.selector.matchLabels.version"), "gke");
	assert_string_equal(sget(g, "spec.selector.matchLabels.app"),
	                    "productcatalogservice");
	assert_string_equal(sget(g, "spec.template.metadata.labels.version"),
	                    "gke");
	json_decref(g);
	/* no selector: refused, not guessed */
	json_object_del(json_object_get(dep, "spec"), "selector");
	assert_null(migrate_gke_deployment(dep, &svc));
	json_decref(dep);
	json_decref(before);
}

static void
test_vm_label_patches(void **state)
{
	json_t *g = migrate_vm_label_patch(0), *e = migrate_vm_label_patch(1);

	(void)state;
	assert_string_equal(sget(g, "spec.metadata.labels.version"), "vm");
	assert_string_equal(sget(e, "spec.labels.version"), "vm");
	assert_string_equal(sget(e, "metadata.labels.version"), "vm");
	json_decref(g);
	json_decref(e);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_virtual_service),
		cmocka_unit_test(test_destination_rule),
		cmocka_unit_test(test_gke_deployment),
		cmocka_unit_test(test_vm_label_patches),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
