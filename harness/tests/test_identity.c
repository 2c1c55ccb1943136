/* test_identity.c - cluster/identity against istioctl's own golden files
 * (istio/istio istioctl/pkg/workload/testdata/vmconfig/ipv4/ golden files and
 * the inputs of workload_test.go's TestWorkloadEntryConfigure: WorkloadGroup
 * foo/bar with service account vm-serviceaccount, a proxy.istio.io/config
 * annotation and an httpGet probe on 8080; meshconfig.yaml; --clusterID
 * Kubernetes, --revision rev-1, --internalIP 10.10.10.10, --ingressIP
 * 10.10.10.11, no --autoregister), then meshvm's own shape. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cluster/identity.h"
#include "cluster/manifests.h"
#include "testutil.h"

/* istioctl's inputs, as in its testdata. */
static const char golden_meshconfig[] =
	"defaultConfig:\n"
	"  proxyMetadata:\n"
	"    # should be overridden by the command\n"
	"    ISTIO_META_DNS_CAPTURE: \"false\"\n"
	"    # should be overridden by the annotation on the WorkloadGroup\n"
	"    PROXY_CONFIG_ANNOT_VALUE: \"foo\"\n"
	"    # should be in the final cluster.env/mesh.yaml\n"
	"    CLUSTER_MESH_CONFIG_VALUE: \"foo\"\n";

/* The expected bytes: cluster.env.golden, mesh.yaml.golden, hosts. */
static const char golden_cluster_env[] =
	"CANONICAL_REVISION='latest'\n"
	"CANONICAL_SERVICE='foo'\n"
	"CA_ADDR='istiod-rev-1.istio-system.svc:15012'\n"
	"CLUSTER_MESH_CONFIG_VALUE='foo'\n"
	"IDENTITY_PATH_PREFIX=''\n"
	"ISTIO_INBOUND_PORTS='*'\n"
	"ISTIO_LOCAL_EXCLUDE_PORTS='22,15090,15021,15020'\n"
	"ISTIO_METAJSON_LABELS='{\"service.istio.io/canonical-name\":\"foo\","
	"\"service.istio.io/canonical-revision\":\"latest\"}'\n"
	"ISTIO_META_CLUSTER_ID='Kubernetes'\n"
	"ISTIO_META_DNS_CAPTURE='true'\n"
	"ISTIO_META_MESH_ID=''\n"
	"ISTIO_META_NETWORK=''\n"
	"ISTIO_META_WORKLOAD_NAME='foo'\n"
	"ISTIO_NAMESPACE='bar'\n"
	"ISTIO_SERVICE='foo.bar'\n"
	"ISTIO_SERVICE_CIDR='*'\n"
	"ISTIO_SVC_IP='10.10.10.10'\n"
	"POD_NAMESPACE='bar'\n"
	"PROXY_CONFIG_ANNOT_VALUE='bar'\n"
	"SERVICE_ACCOUNT='vm-serviceaccount'\n"
	"TRUST_DOMAIN=''\n";

static const char golden_mesh_yaml[] =
	"defaultConfig:\n"
	"  discoveryAddress: istiod-rev-1.istio-system.svc:15012\n"
	"  proxyMetadata:\n"
	"    CANONICAL_REVISION: latest\n"
	"    CANONICAL_SERVICE: foo\n"
	"    CLUSTER_MESH_CONFIG_VALUE: foo\n"
	"    IDENTITY_PATH_PREFIX: \"\"\n"
	"    ISTIO_META_CLUSTER_ID: Kubernetes\n"
	"    ISTIO_META_DNS_CAPTURE: \"true\"\n"
	"    ISTIO_META_MESH_ID: \"\"\n"
	"    ISTIO_META_NETWORK: \"\"\n"
	"    ISTIO_META_WORKLOAD_NAME: foo\n"
	"    ISTIO_METAJSON_LABELS: '{\"service.istio.io/canonical-name\":\"foo\","
	"\"service.istio.io/canonical-revision\":\"latest\"}'\n"
	"    POD_NAMESPACE: bar\n"
	"    PROXY_CONFIG_ANNOT_VALUE: bar\n"
	"    SERVICE_ACCOUNT: vm-serviceaccount\n"
	"    TRUST_DOMAIN: \"\"\n"
	"  readinessProbe:\n"
	"    httpGet:\n"
	"      port: 8080\n";

/* hosts.golden holds "10.10.10.11 istiod-rev-1.istio-system.svc"; the
 * command writes it with fmt.Sprintf("%s %s\n", ...). */
static const char golden_hosts[] = "10.10.10.11 istiod-rev-1.istio-system.svc\n";

static json_t *
golden_wg(bool in_spec_metadata)
{
	json_t *ann = json_pack("{s:s}", "proxy.istio.io/config",
	                        "proxyMetadata:\n"
	                        "  PROXY_CONFIG_ANNOT_VALUE: bar\n"
	                        "  IDENTITY_PATH_PREFIX: \"\"\n");
	json_t *meta = json_pack("{s:s, s:s}", "name", "foo", "namespace",
	                         "bar");
	json_t *spec = json_pack("{s:{s:s}, s:{s:{s:i}}}", "template",
	                         "serviceAccount", "vm-serviceaccount", "probe",
	                         "httpGet", "port", 8080);

	if (in_spec_metadata)
		json_object_set_new(spec, "metadata",
		                    json_pack("{s:o}", "annotations", ann));
	else
		json_object_set_new(meta, "annotations", ann);
	return json_pack("{s:s, s:s, s:o, s:o}", "apiVersion",
	                 "networking.istio.io/v1", "kind", "WorkloadGroup",
	                 "metadata", meta, "spec", spec);
}

static void
golden_in(struct identity_in *in, json_t *wg)
{
	memset(in, 0, sizeof(*in));
	in->workload_group = wg;
	in->mesh_config = golden_meshconfig;
	in->cluster_id = "Kubernetes";
	in->revision = "rev-1";
	in->internal_ip = "10.10.10.10";
	in->ingress_ip = "10.10.10.11";
	in->root_cert_pem = "fake-CA-cert";
}

static void
test_istioctl_goldens(void **state)
{
	struct identity_files f;
	struct identity_in in;
	struct mv_err err;

	(void)state;
	for (int where = 0; where < 2; where++) {
		json_t *wg = golden_wg(where);

		golden_in(&in, wg);
		if (identity_render(&in, &f, &err) != 0)
			fail_msg("%s", err.msg);
		assert_string_equal(f.cluster_env, golden_cluster_env);
		assert_string_equal(f.mesh_yaml, golden_mesh_yaml);
		assert_string_equal(f.hosts, golden_hosts);
		assert_string_equal(f.root_cert, "fake-CA-cert");
		identity_files_free(&f);
		json_decref(wg);
	}
}

/* IDENTITY_PATH_PREFIX in the golden comes from the annotation above (the
 * stored workloadgroup.yaml was not readable); without it the key is
 * simply absent, and nothing else changes. */
static void
test_no_revision_no_ingress(void **state)
{
	struct identity_files f;
	struct identity_in in;
	struct mv_err err;
	json_t *wg = golden_wg(false);

	(void)state;
	golden_in(&in, wg);
	in.revision = "default";
	in.ingress_ip = "not-an-ip";
	in.internal_ip = NULL;
	in.external_ip = "192.0.2.7";
	in.no_dns_capture = true;
	assert_int_equal(identity_render(&in, &f, &err), 0);
	assert_null(strstr(f.cluster_env, "CA_ADDR"));
	assert_null(strstr(f.mesh_yaml, "discoveryAddress"));
	assert_contains(f.cluster_env, "ISTIO_SVC_IP='192.0.2.7'\n");
	assert_contains(f.cluster_env,
	                "REWRITE_PROBE_LEGACY_LOCALHOST_DESTINATION='true'\n");
	/* --capture-dns=false leaves the mesh config's own value */
	assert_contains(f.cluster_env, "ISTIO_META_DNS_CAPTURE='false'\n");
	assert_string_equal(f.hosts, "");
	identity_files_free(&f);
	json_decref(wg);
}

static const char meshvm_meshconfig[] =
	"defaultConfig:\n"
	"  discoveryAddress: istiod.istio-system.svc:15012\n"
	"  meshId: mesh1\n"
	"  proxyMetadata: {}\n"
	"  tracing:\n"
	"    zipkin:\n"
	"      address: zipkin.istio-system:9411\n"
	"defaultProviders:\n"
	"  metrics:\n"
	"  - prometheus\n"
	"enablePrometheusMerge: true\n"
	"rootNamespace: istio-system\n"
	"trustDomain: cluster.local\n";

static json_t *
meshvm_wg(void)
{
	json_error_t je;
	json_t *wg = json_loads(
		"{\"apiVersion\":\"networking.istio.io/v1\",\"kind\":"
		"\"WorkloadGroup\",\"metadata\":{\"name\":"
		"\"productcatalogservice\",\"namespace\":\"default\"},"
		"\"spec\":{\"metadata\":{\"labels\":{\"app\":"
		"\"productcatalogservice\"}},\"template\":{\"serviceAccount\":"
		"\"productcatalogservice\",\"network\":\"vm-network\",\"ports\":"
		"{\"grpc\":3550}},\"probe\":{\"periodSeconds\":5,"
		"\"initialDelaySeconds\":1,\"tcpSocket\":{\"port\":3550}}}}",
		0, &je);
	assert_non_null(wg);
	return wg;
}

static void
meshvm_in(struct identity_in *in, json_t *wg)
{
	memset(in, 0, sizeof(*in));
	in->workload_group = wg;
	in->mesh_config = meshvm_meshconfig;
	in->cluster_id = "cluster1";
	in->ingress_ip = "203.0.113.10";
	in->root_cert_pem = "-----BEGIN CERTIFICATE-----\nx\n"
	                    "-----END CERTIFICATE-----\n";
	in->autoregister = true;
	in->expect_mesh_id = "mesh1";
	in->expect_network = "vm-network";
	in->expect_trust_domain = "cluster.local";
}

static void
test_meshvm_shape(void **state)
{
	static const char want_env[] =
		"CANONICAL_REVISION='latest'\n"
		"CANONICAL_SERVICE='productcatalogservice'\n"
		"ISTIO_INBOUND_PORTS='3550'\n"
		"ISTIO_LOCAL_EXCLUDE_PORTS='22,15090,15021,15020'\n"
		"ISTIO_METAJSON_LABELS='{\"app\":\"productcatalogservice\","
		"\"service.istio.io/canonical-name\":\"productcatalogservice\","
		"\"service.istio.io/canonical-revision\":\"latest\"}'\n"
		"ISTIO_META_AUTO_REGISTER_GROUP='productcatalogservice'\n"
		"ISTIO_META_CLUSTER_ID='cluster1'\n"
		"ISTIO_META_DNS_CAPTURE='true'\n"
		"ISTIO_META_MESH_ID='mesh1'\n"
		"ISTIO_META_NETWORK='vm-network'\n"
		"ISTIO_META_POD_PORTS='[{\"name\":\"grpc\",\"containerPort\":3550,"
		"\"protocol\":\"\"}]'\n"
		"ISTIO_META_WORKLOAD_NAME='productcatalogservice'\n"
		"ISTIO_NAMESPACE='default'\n"
		"ISTIO_SERVICE='productcatalogservice.default'\n"
		"ISTIO_SERVICE_CIDR='*'\n"
		"POD_NAMESPACE='default'\n"
		"SERVICE_ACCOUNT='productcatalogservice'\n"
		"TRUST_DOMAIN='cluster.local'\n";
	static const char want_mesh[] =
		"defaultConfig:\n"
		"  discoveryAddress: istiod.istio-system.svc:15012\n"
		"  meshId: mesh1\n"
		"  proxyMetadata:\n"
		"    CANONICAL_REVISION: latest\n"
		"    CANONICAL_SERVICE: productcatalogservice\n"
		"    ISTIO_META_AUTO_REGISTER_GROUP: productcatalogservice\n"
		"    ISTIO_META_CLUSTER_ID: cluster1\n"
		"    ISTIO_META_DNS_CAPTURE: \"true\"\n"
		"    ISTIO_META_MESH_ID: mesh1\n"
		"    ISTIO_META_NETWORK: vm-network\n"
		"    ISTIO_META_POD_PORTS: '[{\"name\":\"grpc\",\"containerPort\":3550,"
		"\"protocol\":\"\"}]'\n"
		"    ISTIO_META_WORKLOAD_NAME: productcatalogservice\n"
		"    ISTIO_METAJSON_LABELS: '{\"app\":\"productcatalogservice\","
		"\"service.istio.io/canonical-name\":\"productcatalogservice\","
		"\"service.istio.io/canonical-revision\":\"latest\"}'\n"
		"    POD_NAMESPACE: default\n"
		"    SERVICE_ACCOUNT: productcatalogservice\n"
		"    TRUST_DOMAIN: cluster.local\n"
		"  readinessProbe:\n"
		"    initialDelaySeconds: 1\n"
		"    periodSeconds: 5\n"
		"    tcpSocket:\n"
		"      port: 3550\n"
		"  tracing:\n"
		"    zipkin:\n"
		"      address: zipkin.istio-system:9411\n";
	struct identity_files f;
	struct identity_in in;
	struct mv_err err;
	json_t *wg = meshvm_wg();
	char *dir = tu_tmpdir(), *out = tu_fmt("%s/identity", dir), *p, *s;
	struct stat st;

	(void)state;
	meshvm_in(&in, wg);
	if (identity_render(&in, &f, &err) != 0)
		fail_msg("%s", err.msg);
	assert_string_equal(f.cluster_env, want_env);
	assert_string_equal(f.mesh_yaml, want_mesh);
	assert_string_equal(f.hosts, "203.0.113.10 istiod.istio-system.svc\n");
	/* no token, ever */
	assert_null(strstr(f.cluster_env, "TOKEN"));
	assert_int_equal(identity_write(out, &f, &err), 0);
	assert_int_equal(tu_dir_count(out), 4);
	p = tu_fmt("%s/cluster.env", out);
	s = tu_read(p, NULL);
	assert_string_equal(s, want_env);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);
	free(s);
	free(p);
	/* a rerun replaces in place */
	assert_int_equal(identity_write(out, &f, &err), 0);
	assert_int_equal(tu_dir_count(out), 4);
	identity_files_free(&f);
	tu_rmrf(dir);
	free(dir);
	free(out);
	json_decref(wg);
}

static void
test_mismatch_refused(void **state)
{
	struct identity_files f;
	struct identity_in in;
	struct mv_err err;
	json_t *wg = meshvm_wg();

	(void)state;
	meshvm_in(&in, wg);
	in.expect_mesh_id = "mesh2";
	assert_int_equal(identity_render(&in, &f, &err), -1);
	assert_contains(err.msg, "meshId is \"mesh1\"");
	assert_contains(err.msg, "mesh.id is \"mesh2\"");
	meshvm_in(&in, wg);
	in.expect_network = "network1";
	assert_int_equal(identity_render(&in, &f, &err), -1);
	assert_contains(err.msg, "network is \"vm-network\"");
	meshvm_in(&in, wg);
	in.expect_trust_domain = "example.org";
	assert_int_equal(identity_render(&in, &f, &err), -1);
	assert_contains(err.msg, "trustDomain");
	assert_null(f.cluster_env);
	json_decref(wg);
}

static void
test_bad_inputs(void **state)
{
	struct identity_files f;
	struct identity_in in;
	struct mv_err err;
	json_t *wg = meshvm_wg(), *bad;

	(void)state;
	meshvm_in(&in, wg);
	in.mesh_config = "defaultConfig: [1, 2]\n";
	assert_int_equal(identity_render(&in, &f, &err), -1);
	assert_contains(err.msg, "defaultConfig must be a mapping");
	in.mesh_config = "defaultConfig:\n  proxyMetadata:\n    A: 1\n";
	assert_int_equal(identity_render(&in, &f, &err), -1);
	assert_contains(err.msg, "proxyMetadata.A must be a string");
	in.mesh_config = "a: [\n";
	assert_int_equal(identity_render(&in, &f, &err), -1);
	in.mesh_config = meshvm_meshconfig;
	in.root_cert_pem = "";
	assert_int_equal(identity_render(&in, &f, &err), -1);
	assert_contains(err.msg, "istio-ca-root-cert");
	meshvm_in(&in, wg);
	bad = json_deep_copy(wg);
	json_object_set_new(json_object_get(json_object_get(bad, "spec"),
	                                    "template"),
	                    "ports", json_pack("{s:i}", "grpc", 70000));
	in.workload_group = bad;
	assert_int_equal(identity_render(&in, &f, &err), -1);
	assert_contains(err.msg, "ports.grpc");
	json_object_set_new(bad, "kind", json_string("Deployment"));
	assert_int_equal(identity_render(&in, &f, &err), -1);
	assert_contains(err.msg, "expected a WorkloadGroup");
	json_decref(bad);
	json_decref(wg);
}

static void
test_shell_quote(void **state)
{
	char *s;

	(void)state;
	s = identity_shell_quote("");
	assert_string_equal(s, "''");
	free(s);
	s = identity_shell_quote("foo");
	assert_string_equal(s, "'foo'");
	free(s);
	s = identity_shell_quote("it's");
	assert_string_equal(s, "'it'\"'\"'s'");
	free(s);
	/* only the Go raw-string class's members stay bare */
	s = identity_shell_quote("w.w/@-");
	assert_string_equal(s, "w.w/@-");
	free(s);
}

/* From the fixture control plane, as the identity step reads the live
 * home cluster: mesh config, cluster id from the injector, the gateway's
 * address from the Service status. */
static void
test_from_cluster_objects(void **state)
{
	char *dir = tu_fmt("%s/fixtures/istio/cluster1", tu_src()), *cid;
	const struct manifest_obj *istio, *inj;
	struct manifests m = {0};
	struct identity_files f;
	struct identity_in in;
	struct mv_err err;
	json_t *wg = meshvm_wg(), *svc, *root_cm;

	(void)state;
	assert_int_equal(manifests_load_dir(&m, dir, &err), 0);
	istio = manifests_find(&m, "ConfigMap", "istio-system", "istio");
	inj = manifests_find(&m, "ConfigMap", "istio-system",
	                     "istio-sidecar-injector");
	assert_non_null(istio);
	assert_non_null(inj);
	cid = identity_cluster_id_of(inj->obj, &err);
	assert_string_equal(cid, "cluster1");
	svc = json_pack("{s:s, s:{s:{s:[{s:s}]}}}", "kind", "Service",
	                "status", "loadBalancer", "ingress", "ip",
	                "203.0.113.7");
	assert_string_equal(identity_ingress_ip_of(svc), "203.0.113.7");
	root_cm = json_pack("{s:{s:s}}", "data", "root-cert.pem", "R");
	meshvm_in(&in, wg);
	in.mesh_config = identity_mesh_config_of(istio->obj);
	in.cluster_id = cid;
	in.ingress_ip = identity_ingress_ip_of(svc);
	in.root_cert_pem = identity_root_cert_of(root_cm);
	if (identity_render(&in, &f, &err) != 0)
		fail_msg("%s", err.msg);
	assert_string_equal(f.hosts, "203.0.113.7 istiod.istio-system.svc\n");
	assert_contains(f.mesh_yaml, "  discoveryAddress: istiod.istio-system."
	                             "svc:15012\n  meshId: mesh1\n");
	assert_contains(f.cluster_env, "ISTIO_META_CLUSTER_ID='cluster1'\n");
	assert_contains(f.cluster_env, "TRUST_DOMAIN='cluster.local'\n");
	assert_string_equal(f.root_cert, "R");
	identity_files_free(&f);
	/* no address yet; externalIPs; broken values */
	json_object_del(svc, "status");
	assert_null(identity_ingress_ip_of(svc));
	json_object_set_new(svc, "spec", json_pack("{s:[s]}", "externalIPs",
	                                           "192.0.2.9"));
	assert_string_equal(identity_ingress_ip_of(svc), "192.0.2.9");
	json_object_set_new(root_cm, "data", json_pack("{s:s}", "values", "{"));
	assert_null(identity_cluster_id_of(root_cm, &err));
	assert_contains(err.msg, "not a JSON object");
	json_decref(root_cm);
	json_decref(svc);
	json_decref(wg);
	free(cid);
	manifests_free(&m);
	free(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_istioctl_goldens),
		cmocka_unit_test(test_no_revision_no_ingress),
		cmocka_unit_test(test_meshvm_shape),
		cmocka_unit_test(test_mismatch_refused),
		cmocka_unit_test(test_bad_inputs),
		cmocka_unit_test(test_shell_quote),
		cmocka_unit_test(test_from_cluster_objects),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
