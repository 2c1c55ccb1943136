/* test_istio_glue.c - cluster/istio_glue and cluster/vm_group: the
 * generated objects' shape, the manifest value check against the fixture
 * control planes (fixtures/istio/clusterN), and name collisions. */
#include <jansson.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/istio_glue.h"
#include "cluster/vm_group.h"
#include "testutil.h"

static const struct istio_mesh_ids ids1 = {
	.mesh_id = "mesh1", .cluster = "cluster1", .network = "network1",
	.trust_domain = "cluster.local", .version = "1.24.2"};

static const char *
sp(const json_t *o, const char *path)
{
	char buf[256], *save = NULL, *k;

	snprintf(buf, sizeof(buf), "%s", path);
	for (k = strtok_r(buf, ".", &save); k && o;
	     k = strtok_r(NULL, ".", &save))
		o = json_is_array(o) ? json_array_get(o, (size_t)atoi(k))
		                     : json_object_get(o, k);
	return json_string_value(o);
}

static const json_t *
jp(const json_t *o, const char *path)
{
	char buf[256], *save = NULL, *k;

	snprintf(buf, sizeof(buf), "%s", path);
	for (k = strtok_r(buf, ".", &save); k && o;
	     k = strtok_r(NULL, ".", &save))
		o = json_is_array(o) ? json_array_get(o, (size_t)atoi(k))
		                     : json_object_get(o, k);
	return o;
}

static void
load_cluster(struct manifests *m, const char *cluster)
{
	char *dir = tu_fmt("%s/fixtures/istio/%s", tu_src(), cluster);
	struct mv_err err;

	if (manifests_load_dir(m, dir, &err) != 0)
		fail_msg("%s", err.msg);
	free(dir);
}

static void
test_eastwest(void **state)
{
	json_t *svc = istio_glue_eastwest_service(&ids1),
	       *dep = istio_glue_eastwest_deployment(&ids1),
	       *ns = istio_glue_namespace(&ids1), *env, *e;
	const json_t *ports = jp(svc, "spec.ports");
	static const int want_ports[] = {15021, 15443, 15012, 15017};
	bool view = false;
	size_t i;

	(void)state;
	assert_string_equal(sp(svc, "metadata.name"), "istio-eastwestgateway");
	assert_string_equal(sp(svc, "metadata.namespace"), "istio-system");
	assert_string_equal(sp(svc, "spec.type"), "LoadBalancer");
	assert_string_equal(json_string_value(json_object_get(
		                    jp(svc, "metadata.annotations"),
		                    "networking.gke.io/load-balancer-type")),
	                    "Internal");
	assert_string_equal(
		json_string_value(json_object_get(
			jp(svc, "metadata.annotations"),
			"networking.gke.io/internal-load-balancer-allow-global-"
			"access")),
		"true");
	assert_int_equal(json_array_size(ports), 4);
	for (i = 0; i < 4; i++)
		assert_int_equal(json_integer_value(json_object_get(
			                 json_array_get(ports, i), "port")),
		                 want_ports[i]);
	assert_string_equal(sp(svc, "spec.selector.istio"), "eastwestgateway");
	assert_string_equal(json_string_value(json_object_get(
		                    jp(svc, "metadata.labels"),
		                    "topology.istio.io/network")),
	                    "network1");
	assert_string_equal(sp(dep, "kind"), "Deployment");
	assert_string_equal(sp(dep, "spec.template.spec.containers.0.image"),
	                    "docker.io/istio/proxyv2:1.24.2");
	assert_true(json_equal((json_t *)jp(dep, "spec.selector.matchLabels"),
	                       (json_t *)jp(dep, "spec.template.metadata.labels")));
	assert_true(json_equal((json_t *)jp(svc, "spec.selector"),
	                       (json_t *)jp(dep, "spec.template.metadata.labels")));
	env = (json_t *)jp(dep, "spec.template.spec.containers.0.env");
	json_array_foreach(env, i, e) {
		if (strcmp(sp(e, "name"), "ISTIO_META_REQUESTED_NETWORK_VIEW") ==
		    0) {
			assert_string_equal(sp(e, "value"), "network1");
			view = true;
		}
	}
	assert_true(view);
	assert_string_equal(json_string_value(json_object_get(
		                    jp(ns, "metadata.labels"),
		                    "topology.istio.io/network")),
	                    "network1");
	json_decref(svc);
	json_decref(dep);
	json_decref(ns);
}

static void
test_gateways(void **state)
{
	json_t *ig = istio_glue_istiod_gateway(),
	       *vs = istio_glue_istiod_virtual_service(),
	       *cn = istio_glue_cross_network_gateway(),
	       *all = istio_glue_objects(&ids1);

	(void)state;
	assert_string_equal(sp(ig, "metadata.name"), "istiod-gateway");
	assert_int_equal(json_integer_value(jp(ig, "spec.servers.0.port.number")),
	                 15012);
	assert_int_equal(json_integer_value(jp(ig, "spec.servers.1.port.number")),
	                 15017);
	assert_string_equal(sp(ig, "spec.servers.0.tls.mode"), "PASSTHROUGH");
	assert_string_equal(sp(ig, "spec.servers.1.tls.mode"), "PASSTHROUGH");
	assert_string_equal(sp(vs, "metadata.name"), "istiod-vs");
	assert_string_equal(sp(vs, "spec.gateways.0"), "istiod-gateway");
	assert_int_equal(json_integer_value(jp(
		                 vs, "spec.tls.0.route.0.destination.port.number")),
	                 15012);
	assert_int_equal(json_integer_value(jp(
		                 vs, "spec.tls.1.route.0.destination.port.number")),
	                 443);
	assert_string_equal(sp(vs, "spec.tls.0.route.0.destination.host"),
	                    "istiod.istio-system.svc.cluster.local");
	assert_string_equal(sp(cn, "metadata.name"), "cross-network-gateway");
	assert_int_equal(json_integer_value(jp(cn, "spec.servers.0.port.number")),
	                 15443);
	assert_string_equal(sp(cn, "spec.servers.0.tls.mode"),
	                    "AUTO_PASSTHROUGH");
	assert_string_equal(sp(cn, "spec.servers.0.hosts.0"), "*.local");
	assert_int_equal(json_array_size(all), 6);
	json_decref(ig);
	json_decref(vs);
	json_decref(cn);
	json_decref(all);
}

static void
test_vm_group(void **state)
{
	const struct vm_group g = {"productcatalogservice", "default",
	                           "vm-network", "grpc", 3550};
	json_t *a = vm_group_objects(&g), *wg = json_array_get(a, 1),
	       *svc = json_array_get(a, 2);

	(void)state;
	assert_string_equal(sp(json_array_get(a, 0), "kind"), "ServiceAccount");
	assert_string_equal(sp(wg, "apiVersion"), "networking.istio.io/v1");
	assert_string_equal(sp(wg, "kind"), "WorkloadGroup");
	assert_string_equal(sp(wg, "spec.metadata.labels.app"),
	                    "productcatalogservice");
	assert_string_equal(sp(wg, "spec.template.serviceAccount"),
	                    "productcatalogservice");
	assert_string_equal(sp(wg, "spec.template.network"), "vm-network");
	assert_int_equal(json_integer_value(jp(wg, "spec.template.ports.grpc")),
	                 3550);
	assert_int_equal(json_integer_value(jp(wg, "spec.probe.tcpSocket.port")),
	                 3550);
	assert_string_equal(sp(svc, "spec.selector.app"),
	                    "productcatalogservice");
	assert_int_equal(json_integer_value(jp(svc, "spec.ports.0.port")), 3550);
	assert_string_equal(sp(svc, "spec.ports.0.name"), "grpc");
	json_decref(a);
}

static void
test_manifest_check(void **state)
{
	struct istio_mesh_ids ids = ids1;
	struct manifests m1 = {0}, m2 = {0};
	struct mv_err err;

	(void)state;
	load_cluster(&m1, "cluster1");
	load_cluster(&m2, "cluster2");
	if (istio_manifest_check(&m1, &ids, &err) != 0)
		fail_msg("%s", err.msg);
	ids.cluster = "cluster2";
	ids.network = "network2";
	assert_int_equal(istio_manifest_check(&m2, &ids, &err), 0);
	/* cluster2's manifests are not cluster1's */
	assert_int_equal(istio_manifest_check(&m1, &ids, &err), -1);
	assert_contains(err.msg, "10-istiod.yaml:");
	assert_contains(err.msg, "clusterName is \"cluster1\"");
	assert_contains(err.msg, "\"cluster2\"");
	ids = ids1;
	ids.network = "network9";
	assert_int_equal(istio_manifest_check(&m1, &ids, &err), -1);
	assert_contains(err.msg, "values.global.network is \"network1\"");
	ids = ids1;
	ids.mesh_id = "mesh9";
	assert_int_equal(istio_manifest_check(&m1, &ids, &err), -1);
	assert_contains(err.msg, "meshID is \"mesh1\"");
	ids = ids1;
	ids.trust_domain = "example.org";
	assert_int_equal(istio_manifest_check(&m1, &ids, &err), -1);
	assert_contains(err.msg, "trustDomain is \"cluster.local\"");
	/* istiod's CLUSTER_ID alone disagrees */
	{
		const struct manifest_obj *d = manifests_find(
			&m1, "Deployment", "istio-system", "istiod");
		json_t *env = (json_t *)jp(d->obj,
		                           "spec.template.spec.containers.0.env"),
		       *e;
		size_t i;

		json_array_foreach(env, i, e)
			if (strcmp(sp(e, "name"), "CLUSTER_ID") == 0)
				json_object_set_new(e, "value",
				                    json_string("other"));
		assert_int_equal(istio_manifest_check(&m1, &ids1, &err), -1);
		assert_contains(err.msg, "CLUSTER_ID is \"other\"");
	}
	/* no injector at all */
	{
		struct manifests empty = {0};
		assert_int_equal(istio_manifest_check(&empty, &ids1, &err), -1);
		assert_contains(err.msg, "istio-sidecar-injector");
	}
	manifests_free(&m1);
	manifests_free(&m2);
}

static void
test_collisions(void **state)
{
	char *dir = tu_tmpdir(), *p = tu_fmt("%s/user.yaml", dir);
	json_t *gen = istio_glue_objects(&ids1);
	struct manifests m = {0};
	struct mv_err err;

	(void)state;
	/* the fixture control plane collides with nothing meshvm makes */
	load_cluster(&m, "cluster1");
	assert_int_equal(istio_glue_check_collisions(&m, gen, ISTIO_NS, &err),
	                 0);
	manifests_free(&m);
	tu_write(p, "apiVersion: v1\nkind: Service\nmetadata:\n"
	            "  name: other\n  namespace: istio-system\n---\n"
	            "apiVersion: networking.istio.io/v1beta1\nkind: Gateway\n"
	            "metadata:\n  name: cross-network-gateway\n");
	assert_int_equal(manifests_load_file(&m, p, &err), 0);
	assert_int_equal(istio_glue_check_collisions(&m, gen, ISTIO_NS, &err),
	                 -1);
	assert_contains(err.msg, "user.yaml:7");
	assert_contains(err.msg, "Gateway cross-network-gateway is generated "
	                         "by meshvm");
	/* the same name in another namespace is someone else's */
	assert_int_equal(istio_glue_check_collisions(&m, gen, "default", &err),
	                 0);
	manifests_free(&m);
	json_decref(gen);
	tu_rmrf(dir);
	free(dir);
	free(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_eastwest),
		cmocka_unit_test(test_gateways),
		cmocka_unit_test(test_vm_group),
		cmocka_unit_test(test_manifest_check),
		cmocka_unit_test(test_collisions),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
