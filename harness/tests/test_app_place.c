/* test_app_place.c - cluster/app_place over the Online Boutique fixture
 * (fixtures/app): the seed's split, Services on both sides, never Service
 * productcatalogservice, the namespace labelled for injection, and
 * refusals naming file:line. */
#include <jansson.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/app_place.h"
#include "core/yaml.h"
#include "testutil.h"

static const char *const clusters[] = {"cluster1", "cluster2"};
static struct manifests app;
static struct mv_yaml *placement_y;
static json_t *placement;

static int
setup(void **state)
{
	char *dir = tu_fmt("%s/fixtures/app/manifests", tu_src()),
	     *pf = tu_fmt("%s/fixtures/app/placement.yaml", tu_src());
	struct mv_err err;
	int rc;

	(void)state;
	rc = manifests_load_dir(&app, dir, &err);
	if (rc == 0)
		rc = mv_yaml_load_file(pf, &placement_y, &err);
	if (rc != 0)
		fprintf(stderr, "setup: %s\n", err.msg);
	else
		placement = mv_yaml_doc(placement_y, 0);
	free(dir);
	free(pf);
	return rc;
}

static int
teardown(void **state)
{
	(void)state;
	manifests_free(&app);
	mv_yaml_free(placement_y);
	return 0;
}

static struct app_place_opts
opts(const json_t *p)
{
	struct app_place_opts o = {clusters, 2, p, "default",
	                           "productcatalogservice"};
	return o;
}

static const char *
s2(const json_t *o, const char *a, const char *b)
{
	return json_string_value(json_object_get(json_object_get(o, a), b));
}

static bool
has(const json_t *list, const char *kind, const char *name)
{
	size_t i;
	json_t *o;

	json_array_foreach(list, i, o)
		if (strcmp(json_string_value(json_object_get(o, "kind")), kind) ==
		            0 &&
		    strcmp(s2(o, "metadata", "name"), name) == 0)
			return true;
	return false;
}

static size_t
count(const json_t *list, const char *kind)
{
	size_t i, n = 0;
	json_t *o;

	json_array_foreach(list, i, o)
		n += strcmp(json_string_value(json_object_get(o, "kind")), kind) ==
		     0;
	return n;
}

static void
test_seed_split(void **state)
{
	static const char *const c1[] = {
		"emailservice", "checkoutservice", "paymentservice",
		"currencyservice", "shippingservice", "adservice",
		"recommendationservice"};
	static const char *const c2[] = {"frontend", "cartservice",
	                                 "redis-cart", "loadgenerator"};
	struct app_place_opts o = opts(placement);
	struct mv_err err;
	json_t *out = NULL, *l1, *l2, *ns, *x;
	size_t i;

	(void)state;
	/* the fixture is the real service set: 12 Deployments, 11 Services */
	assert_int_equal(app.n, 12 + 11 + 2);
	if (app_place(&app, &o, &out, &err) != 0)
		fail_msg("%s", err.msg);
	l1 = json_object_get(out, "cluster1");
	l2 = json_object_get(out, "cluster2");
	assert_int_equal(json_array_size(l1), 1 + 10 + 7);
	assert_int_equal(json_array_size(l2), 1 + 10 + 4 + 2);
	for (i = 0; i < 7; i++) {
		assert_true(has(l1, "Deployment", c1[i]));
		assert_false(has(l2, "Deployment", c1[i]));
		assert_true(has(l2, "Service", c1[i]));
	}
	for (i = 0; i < 4; i++) {
		assert_true(has(l2, "Deployment", c2[i]));
		assert_false(has(l1, "Deployment", c2[i]));
	}
	assert_true(has(l1, "Service", "frontend"));
	assert_true(has(l2, "Gateway", "frontend-gateway"));
	assert_true(has(l2, "VirtualService", "frontend-ingress"));
	assert_false(has(l1, "Gateway", "frontend-gateway"));
	for (int c = 0; c < 2; c++) {
		json_t *l = c ? l2 : l1;

		assert_false(has(l, "Service", "productcatalogservice"));
		assert_false(has(l, "Deployment", "productcatalogservice"));
		assert_int_equal(count(l, "Service"), 10);
		ns = json_array_get(l, 0);
		assert_string_equal(json_string_value(json_object_get(ns, "kind")),
		                    "Namespace");
		assert_string_equal(s2(ns, "metadata", "name"), "default");
		assert_string_equal(json_string_value(json_object_get(
			                    json_object_get(json_object_get(
				                                    ns, "metadata"),
			                                    "labels"),
			                    "istio-injection")),
		                    "enabled");
		json_array_foreach(l, i, x)
			if (i > 0)
				assert_string_equal(s2(x, "metadata", "namespace"),
				                    "default");
	}
	/* the input is untouched (objects were copied) */
	assert_null(json_object_get(json_object_get(app.v[0].obj, "metadata"),
	                            "namespace"));
	json_decref(out);
}

static void
test_refusals(void **state)
{
	struct app_place_opts o;
	struct mv_err err;
	json_t *p = json_deep_copy(placement), *out = NULL;

	(void)state;
	json_object_del(p, "adservice");
	o = opts(p);
	assert_int_equal(app_place(&app, &o, &out, &err), -1);
	assert_null(out);
	assert_contains(err.msg, "kubernetes-manifests.yaml:");
	assert_contains(err.msg, "Deployment adservice is not in app.placement");
	json_object_set_new(p, "adservice", json_string("cluster3"));
	assert_int_equal(app_place(&app, &o, &out, &err), -1);
	assert_contains(err.msg, "app.placement.adservice: \"cluster3\" is not "
	                         "one of the clusters");
	json_object_set_new(p, "adservice", json_string("cluster1"));
	json_object_set_new(p, "nosuchservice", json_string("cluster1"));
	assert_int_equal(app_place(&app, &o, &out, &err), -1);
	assert_contains(err.msg, "nosuchservice names nothing");
	json_object_del(p, "nosuchservice");
	json_object_set_new(p, "productcatalogservice", json_string("cluster2"));
	assert_int_equal(app_place(&app, &o, &out, &err), -1);
	assert_contains(err.msg, "VM service");
	json_decref(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seed_split),
		cmocka_unit_test(test_refusals),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
