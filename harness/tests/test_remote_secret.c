/* test_remote_secret.c - cluster/remote_secret: the Secret's name, label
 * and annotation as istioctl create-remote-secret writes them, and its
 * kubeconfig parsed back with core/yaml and loaded as kubectl would. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/kubeconfig.h"
#include "cluster/remote_secret.h"
#include "core/base64.h"
#include "core/yaml.h"
#include "testutil.h"

static const char ca[] = "-----BEGIN CERTIFICATE-----\nMIIB\n"
                         "-----END CERTIFICATE-----\n";
static const char token[] = "eyJhbGciOiJSUzI1NiJ9.e30.c2ln";

static const char *
s_at(const json_t *o, const char *path)
{
	char buf[256], *save = NULL, *k;

	snprintf(buf, sizeof(buf), "%s", path);
	for (k = strtok_r(buf, ".", &save); k && o;
	     k = strtok_r(NULL, ".", &save)) {
		if (json_is_array(o))
			o = json_array_get(o, (size_t)atoi(k));
		else
			o = json_object_get(o, k);
	}
	return json_string_value(o);
}

static void
test_secret_and_kubeconfig(void **state)
{
	struct mv_err err;
	json_t *s = remote_secret_build("cluster1", "https://192.0.2.10", ca,
	                                token, &err), *meta, *doc;
	const char *b64;
	uint8_t *kc;
	size_t n;
	struct mv_yaml *y = NULL;
	uint8_t *ca_back;
	size_t ca_n;

	(void)state;
	assert_non_null(s);
	meta = json_object_get(s, "metadata");
	assert_string_equal(s_at(s, "kind"), "Secret");
	assert_string_equal(s_at(meta, "name"), "istio-remote-secret-cluster1");
	assert_string_equal(s_at(meta, "namespace"), "istio-system");
	assert_string_equal(json_string_value(json_object_get(
		                    json_object_get(meta, "labels"),
		                    "istio/multiCluster")),
	                    "true");
	assert_string_equal(json_string_value(json_object_get(
		                    json_object_get(meta, "annotations"),
		                    "networking.istio.io/cluster")),
	                    "cluster1");
	assert_int_equal(json_object_size(json_object_get(s, "data")), 1);
	b64 = s_at(s, "data.cluster1");
	assert_non_null(b64);
	assert_int_equal(mv_base64_decode(b64, strlen(b64), &kc, &n), 0);
	/* client-go's layout, keys sorted */
	assert_true(strncmp((char *)kc, "apiVersion: v1\nclusters:\n- cluster:\n"
	                    "    certificate-authority-data: ", 68) == 0);
	assert_contains((char *)kc, "    server: https://192.0.2.10\n"
	                            "  name: cluster1\ncontexts:\n- context:\n"
	                            "    cluster: cluster1\n    user: cluster1\n"
	                            "  name: cluster1\ncurrent-context: cluster1\n"
	                            "kind: Config\npreferences: {}\nusers:\n"
	                            "- name: cluster1\n  user:\n    token: ");
	/* parse it back */
	assert_int_equal(mv_yaml_load_buf("kubeconfig", (char *)kc, n, &y, &err),
	                 0);
	doc = mv_yaml_doc(y, 0);
	assert_string_equal(s_at(doc, "kind"), "Config");
	assert_string_equal(s_at(doc, "current-context"), "cluster1");
	assert_string_equal(s_at(doc, "clusters.0.name"), "cluster1");
	assert_string_equal(s_at(doc, "clusters.0.cluster.server"),
	                    "https://192.0.2.10");
	assert_string_equal(s_at(doc, "contexts.0.context.cluster"), "cluster1");
	assert_string_equal(s_at(doc, "contexts.0.context.user"), "cluster1");
	assert_string_equal(s_at(doc, "users.0.name"), "cluster1");
	assert_string_equal(s_at(doc, "users.0.user.token"), token);
	b64 = s_at(doc, "clusters.0.cluster.certificate-authority-data");
	assert_int_equal(mv_base64_decode(b64, strlen(b64), &ca_back, &ca_n), 0);
	assert_string_equal((char *)ca_back, ca);
	free(ca_back);
	mv_yaml_free(y);

	/* and kubectl's loader (ours) resolves it to the same target */
	{
		char *dir = tu_tmpdir(), *p = tu_fmt("%s/kc", dir);
		struct kube_target *t = NULL;

		tu_write_bytes(p, kc, n);
		assert_int_equal(kubeconfig_load(p, NULL, &t, &err), 0);
		assert_string_equal(t->server, "https://192.0.2.10");
		assert_string_equal(t->token, token);
		assert_string_equal(t->ca_pem, ca);
		kube_target_free(t);
		tu_rmrf(dir);
		free(dir);
		free(p);
	}
	free(kc);
	json_decref(s);
}

static void
test_reader_objects(void **state)
{
	json_t *sa = remote_secret_reader_sa(), *ts = remote_secret_token_secret();

	(void)state;
	assert_string_equal(s_at(sa, "kind"), "ServiceAccount");
	assert_string_equal(s_at(sa, "metadata.name"),
	                    "istio-reader-service-account");
	assert_string_equal(s_at(sa, "metadata.namespace"), "istio-system");
	assert_string_equal(s_at(ts, "type"),
	                    "kubernetes.io/service-account-token");
	assert_string_equal(s_at(ts, "metadata.name"),
	                    "istio-reader-service-account-istio-remote-secret-"
	                    "token");
	assert_string_equal(json_string_value(json_object_get(
		                    json_object_get(json_object_get(ts, "metadata"),
		                                    "annotations"),
		                    "kubernetes.io/service-account.name")),
	                    "istio-reader-service-account");
	json_decref(sa);
	json_decref(ts);
}

static void
test_token_from_secret(void **state)
{
	struct mv_err err;
	char *tok, *cap, *t64 = mv_base64_encode(token, strlen(token)),
	     *c64 = mv_base64_encode(ca, strlen(ca));
	json_t *s = remote_secret_token_secret();

	(void)state;
	/* not filled yet */
	assert_int_equal(remote_secret_token_from(s, &tok, &cap, &err), 1);
	json_object_set_new(s, "data", json_pack("{s:s}", "token", t64));
	assert_int_equal(remote_secret_token_from(s, &tok, &cap, &err), 1);
	json_object_set_new(s, "data",
	                    json_pack("{s:s, s:s, s:s}", "token", t64, "ca.crt",
	                              c64, "namespace", "aXN0aW8tc3lzdGVt"));
	assert_int_equal(remote_secret_token_from(s, &tok, &cap, &err), 0);
	assert_string_equal(tok, token);
	assert_string_equal(cap, ca);
	free(tok);
	free(cap);
	json_object_set_new(s, "data", json_pack("{s:s, s:s}", "token", "!!",
	                                         "ca.crt", c64));
	assert_int_equal(remote_secret_token_from(s, &tok, &cap, &err), -1);
	assert_contains(err.msg, "data.token is not base64");
	json_decref(s);
	free(t64);
	free(c64);
}

static void
test_bad_inputs(void **state)
{
	struct mv_err err;

	(void)state;
	assert_null(remote_secret_build("Cluster_1", "https://a", ca, token,
	                                &err));
	assert_contains(err.msg, "DNS-1123");
	assert_null(remote_secret_build("c", "http://a", ca, token, &err));
	assert_contains(err.msg, "https://");
	assert_null(remote_secret_build("c", "https://a", "x", token, &err));
	assert_contains(err.msg, "CA");
	assert_null(remote_secret_build("c", "https://a", ca, "a b", &err));
	assert_contains(err.msg, "token");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_secret_and_kubeconfig),
		cmocka_unit_test(test_reader_objects),
		cmocka_unit_test(test_token_from_secret),
		cmocka_unit_test(test_bad_inputs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
