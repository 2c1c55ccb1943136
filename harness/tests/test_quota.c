/* test_quota.c - cluster/quota: machine types, what a config needs per
 * region and project-wide, and the comparison with Compute's quotas. */
#include <stdlib.h>
#include <string.h>

#include "cluster/quota.h"
#include "testutil.h"

/* The seed plus two clusters in us-east1 (e2 shared-core, n2). */
static struct mv_cluster_config seed_clusters[] = {
	{"cluster1", "us-west1-b", "n1-standard-4", 4, "default"},
	{"cluster2", "us-east1-b", "n1-standard-4", 4, "default"},
	{"cluster3", "us-east1-c", "e2-medium", 3, "default"},
	{"cluster4", "us-east1-d", "n2-highmem-8", 2, "default"},
};

static void
seed(struct mv_config *c)
{
	memset(c, 0, sizeof(*c));
	c->project = "my-project";
	c->clusters = seed_clusters;
	c->n_clusters = 4;
	c->vm.name = "istio-gce";
	c->vm.zone = "us-central1-b";
	c->vm.machine_type = "n1-standard-2";
	c->vm.count = 1;
}

static const struct quota_need *
find(const struct quota_needs *q, const char *scope, const char *metric)
{
	for (size_t i = 0; i < q->n; i++)
		if (!strcmp(q->v[i].scope, scope) && !strcmp(q->v[i].metric, metric))
			return &q->v[i];
	fail_msg("no need for %s in %s", metric, scope);
	return NULL;
}

static void
test_machine_types(void **state)
{
	(void)state;
	assert_int_equal(quota_machine_vcpus("n1-standard-4"), 4);
	assert_int_equal(quota_machine_vcpus("n1-standard-1"), 1);
	assert_int_equal(quota_machine_vcpus("n1-highcpu-96"), 96);
	assert_int_equal(quota_machine_vcpus("e2-standard-32"), 32);
	assert_int_equal(quota_machine_vcpus("e2-micro"), 2);
	assert_int_equal(quota_machine_vcpus("n2-highmem-128"), 128);
	assert_string_equal(quota_cpu_metric("n2-standard-8"), "N2_CPUS");
	assert_string_equal(quota_cpu_metric("e2-medium"), "CPUS");
	assert_string_equal(quota_cpu_metric("n1-highmem-2"), "CPUS");
	/* not a size the family comes in, not a family, not a number */
	assert_int_equal(quota_machine_vcpus("n1-standard-3"), -1);
	assert_int_equal(quota_machine_vcpus("n1-highmem-1"), -1);
	assert_int_equal(quota_machine_vcpus("c3-standard-4"), -1);
	assert_int_equal(quota_machine_vcpus("n1-standard-4x"), -1);
	assert_int_equal(quota_machine_vcpus("n1-standard-"), -1);
	assert_int_equal(quota_machine_vcpus("n1-standard"), -1);
	assert_int_equal(quota_machine_vcpus(NULL), -1);
	assert_null(quota_cpu_metric("custom-4-16384"));
}

static void
test_needs_per_region(void **state)
{
	struct mv_config c;
	struct quota_needs q;
	struct mv_err err;

	(void)state;
	seed(&c);
	assert_int_equal(quota_needs_of(&c, NULL, NULL, &q, &err), 0);
	/* us-east1: 4 × 4 (n1) + 3 × 2 (e2-medium) on CPUS, 2 × 8 on N2 */
	assert_true(find(&q, "us-east1", "CPUS")->need == 22);
	assert_true(find(&q, "us-east1", "N2_CPUS")->need == 16);
	assert_true(find(&q, "us-east1", "IN_USE_ADDRESSES")->need == 9);
	assert_true(find(&q, "us-west1", "CPUS")->need == 16);
	assert_true(find(&q, "us-west1", "IN_USE_ADDRESSES")->need == 4);
	assert_true(find(&q, "us-central1", "CPUS")->need == 2);
	assert_true(find(&q, "us-central1", "IN_USE_ADDRESSES")->need == 1);
	/* 16 + 16 + 6 + 16 + 2 */
	assert_true(find(&q, "global", "CPUS_ALL_REGIONS")->need == 56);
	/* one template per node pool, one for the VM */
	assert_true(find(&q, "global", "INSTANCE_TEMPLATES")->need == 5);
	assert_string_equal(find(&q, "us-east1", "CPUS")->why,
	                    "cluster2 4 × n1-standard-4, cluster3 3 × e2-medium");
	/* regions first, in config order, then the project-wide lines */
	assert_string_equal(q.v[0].scope, "us-west1");
	assert_string_equal(q.v[q.n - 1].scope, "global");
	assert_string_equal(q.v[q.n - 2].scope, "global");
	quota_needs_free(&q);
}

static bool
cluster2_exists(void *arg, const char *kind, const char *name)
{
	(void)arg;
	return !strcmp(kind, "cluster") && !strcmp(name, "cluster2");
}

static void
test_existing_need_nothing(void **state)
{
	struct mv_config c;
	struct quota_needs q;
	struct mv_err err;

	(void)state;
	seed(&c);
	assert_int_equal(quota_needs_of(&c, cluster2_exists, NULL, &q, &err), 0);
	assert_true(find(&q, "us-east1", "CPUS")->need == 6);
	assert_true(find(&q, "global", "CPUS_ALL_REGIONS")->need == 40);
	quota_needs_free(&q);
}

static void
test_unknown_machine_type(void **state)
{
	struct mv_cluster_config big = {"big", "us-east1-b", "c3-standard-4", 1,
	                                "default"};
	struct mv_config c;
	struct quota_needs q;
	struct mv_err err;

	(void)state;
	seed(&c);
	c.clusters = &big;
	c.n_clusters = 1;
	assert_int_equal(quota_needs_of(&c, NULL, NULL, &q, &err), -1);
	assert_contains(err.msg, "big: machine type c3-standard-4");
	assert_null(q.v);
}

static void
test_fits(void **state)
{
	struct quota_need n = {.scope = "us-east1", .metric = "CPUS", .need = 16};
	json_t *qs = json_loads("[{\"metric\":\"CPUS\",\"limit\":24.0,"
	                        "\"usage\":8.0},{\"metric\":\"IN_USE_ADDRESSES\","
	                        "\"limit\":8,\"usage\":0}]", 0, NULL);
	double lim, use;

	(void)state;
	assert_true(quota_fits(&n, qs, &lim, &use)); /* 16 <= 24 - 8 */
	assert_true(lim == 24 && use == 8);
	n.need = 17;
	assert_false(quota_fits(&n, qs, &lim, &use));
	/* a metric Compute does not report has no limit */
	snprintf(n.metric, sizeof(n.metric), "N2_CPUS");
	assert_true(quota_fits(&n, qs, &lim, &use));
	assert_true(lim < 0);
	json_decref(qs);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_machine_types),
		cmocka_unit_test(test_needs_per_region),
		cmocka_unit_test(test_existing_need_nothing),
		cmocka_unit_test(test_unknown_machine_type),
		cmocka_unit_test(test_fits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
