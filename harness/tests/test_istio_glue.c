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
	.trust_domain = "cluster.local", .version = "1.26.2"};

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
	                    "docker.io/istio/proxyv2:1.26.2");
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

/* A small structural check of an object against an openAPIV3Schema:
 * known properties only (unless additionalProperties or
 * x-kubernetes-preserve-unknown-fields), types, enums, required.  Enough
 * to prove the generated objects fit the real CRDs meshvm ships. */
static const char *
schema_err(const json_t *v, const json_t *s, const char *path)
{
	static char msg[512];
	const char *type = json_string_value(json_object_get(s, "type")), *k;
	const json_t *props = json_object_get(s, "properties"),
	             *addl = json_object_get(s, "additionalProperties"),
	             *en = json_object_get(s, "enum"), *x;
	size_t i;

	if (json_object_get(s, "x-kubernetes-int-or-string"))
		return NULL;
	if (type && strcmp(type, "object") == 0) {
		if (!json_is_object(v))
			goto bad_type;
		json_array_foreach(json_object_get(s, "required"), i, x)
			if (!json_object_get(v, json_string_value(x))) {
				snprintf(msg, sizeof(msg), "%s: %s required", path,
				         json_string_value(x));
				return msg;
			}
		json_object_foreach((json_t *)v, k, x) {
			const json_t *sub = json_object_get(props, k);
			char p2[256];
			const char *e;

			if (sub == NULL && addl)
				sub = addl;
			if (sub == NULL) {
				if (json_object_get(
					    s, "x-kubernetes-preserve-unknown-fields"))
					continue;
				snprintf(msg, sizeof(msg), "%s.%s: unknown field",
				         path, k);
				return msg;
			}
			snprintf(p2, sizeof(p2), "%s.%s", path, k);
			if ((e = schema_err(x, sub, p2)) != NULL)
				return e;
		}
		return NULL;
	}
	if (type && strcmp(type, "array") == 0) {
		if (!json_is_array(v))
			goto bad_type;
		json_array_foreach(v, i, x) {
			const char *e = schema_err(x, json_object_get(s, "items"),
			                           path);
			if (e)
				return e;
		}
		return NULL;
	}
	if (type && strcmp(type, "string") == 0 && !json_is_string(v))
		goto bad_type;
	if (type && strcmp(type, "integer") == 0 && !json_is_integer(v))
		goto bad_type;
	if (type && strcmp(type, "boolean") == 0 && !json_is_boolean(v))
		goto bad_type;
	if (en) {
		json_array_foreach(en, i, x)
			if (json_equal(x, (json_t *)v))
				return NULL;
		snprintf(msg, sizeof(msg), "%s: not in enum", path);
		return msg;
	}
	return NULL;
bad_type:
	snprintf(msg, sizeof(msg), "%s: not %s", path, type);
	return msg;
}

static const json_t *
crd_schema(const struct manifests *m, const char *kind)
{
	for (size_t i = 0; i < m->n; i++) {
		const json_t *o = m->v[i].obj;
		if (strcmp(sp(o, "kind"), "CustomResourceDefinition") == 0 &&
		    strcmp(sp(o, "spec.names.kind"), kind) == 0)
			return jp(o, "spec.versions.0.schema.openAPIV3Schema");
	}
	fail_msg("no CRD for %s", kind);
	return NULL;
}

static void
check_against_crd(const struct manifests *m, const json_t *obj)
{
	const json_t *s = crd_schema(m, sp(obj, "kind"));
	const char *e = schema_err(json_object_get(obj, "spec"),
	                           json_object_get(json_object_get(s,
	                                                           "properties"),
	                                           "spec"),
	                           "spec");
	if (e)
		fail_msg("%s %s: %s", sp(obj, "kind"), sp(obj, "metadata.name"),
		         e);
}

static void
test_objects_fit_the_crds(void **state)
{
	const struct vm_group g = {"productcatalogservice", "default",
	                           "vm-network", "grpc", 3550};
	struct manifests m = {0}, app = {0};
	struct mv_err err;
	json_t *gen = istio_glue_objects(&ids1), *vm = vm_group_objects(&g),
	       *o, *bad;
	char *p, *a, *b, *all;
	size_t i;

	(void)state;
	load_cluster(&m, "cluster1");
	/* four CRDs, each serving v1 (storage), v1alpha3, v1beta1 with one
	 * schema (anchors expanded) */
	for (i = 0; i < 4; i++) {
		const json_t *crd = m.v[i].obj, *vs = jp(crd, "spec.versions");
		assert_string_equal(sp(crd, "kind"), "CustomResourceDefinition");
		assert_int_equal(json_array_size(vs), 3);
		assert_true(json_is_true(jp(crd, "spec.versions.0.storage")));
		assert_true(json_equal(
			(json_t *)jp(crd, "spec.versions.0.schema"),
			(json_t *)jp(crd, "spec.versions.2.schema")));
	}
	json_array_foreach(gen, i, o)
		if (strcmp(sp(o, "apiVersion"), "networking.istio.io/v1") == 0)
			check_against_crd(&m, o);
	check_against_crd(&m, json_array_get(vm, 1));
	p = tu_fmt("%s/fixtures/app/manifests/istio-ingress.yaml", tu_src());
	assert_int_equal(manifests_load_file(&app, p, &err), 0);
	free(p);
	for (i = 0; i < app.n; i++)
		check_against_crd(&m, app.v[i].obj);
	/* and the check has teeth: an unknown field, a bad enum */
	bad = istio_glue_istiod_virtual_service();
	json_object_set_new(json_object_get(bad, "spec"), "hostz",
	                    json_array());
	assert_non_null(schema_err(json_object_get(bad, "spec"),
	                           jp(crd_schema(&m, "VirtualService"),
	                              "properties.spec"),
	                           "spec"));
	json_decref(bad);
	bad = istio_glue_cross_network_gateway();
	json_object_set_new((json_t *)jp(bad, "spec.servers.0.tls"), "mode",
	                    json_string("AUTO"));
	assert_non_null(schema_err(json_object_get(bad, "spec"),
	                           jp(crd_schema(&m, "Gateway"),
	                              "properties.spec"),
	                           "spec"));
	json_decref(bad);
	/* the per-cluster copies are the CRD sources, byte for byte */
	all = tu_fmt("%s/fixtures/istio/crds", tu_src());
	assert_int_equal(tu_sh(&a, "cd '%s' && cat destinationrules.yaml gateways.yaml "
	                       "virtualservices.yaml workloadentries.yaml "
	                       "workloadgroups.yaml | sha256sum", all), 0);
	for (int c = 1; c <= 2; c++) {
		assert_int_equal(tu_sh(&b, "sha256sum < '%s/fixtures/istio/"
		                       "cluster%d/00-crds.yaml'", tu_src(), c),
		                 0);
		assert_string_equal(a, b);
		free(b);
	}
	free(a);
	free(all);
	manifests_free(&m);
	manifests_free(&app);
	json_decref(gen);
	json_decref(vm);
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
		cmocka_unit_test(test_objects_fit_the_crds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
