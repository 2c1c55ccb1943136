/* cluster/istio_glue.c - meshvm's Istio objects and the control-plane
 * checks (see istio_glue.h). */
#include "cluster/istio_glue.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"
#include "core/yaml.h"

#define NETWORK_LABEL "topology.istio.io/network"
#define EW_SA "istio-eastwestgateway-service-account"

static json_t *
parse(const char *text)
{
	json_error_t je;
	json_t *v = json_loads(text, 0, &je);

	if (v == NULL)
		abort(); /* a constant of this file: a bug, caught by tests */
	return v;
}

json_t *
istio_glue_namespace(const struct istio_mesh_ids *ids)
{
	return json_pack("{s:s, s:s, s:{s:s, s:{s:s}}}", "apiVersion", "v1",
	                 "kind", "Namespace", "metadata", "name", ISTIO_NS,
	                 "labels", NETWORK_LABEL, ids->network);
}

json_t *
istio_glue_eastwest_service_account(void)
{
	return json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s, s:s}}}",
	                 "apiVersion", "v1", "kind", "ServiceAccount",
	                 "metadata", "name", EW_SA, "namespace", ISTIO_NS,
	                 "labels", "app", ISTIO_EASTWEST, "istio",
	                 "eastwestgateway");
}

static json_t *
ew_labels(const struct istio_mesh_ids *ids)
{
	return json_pack("{s:s, s:s, s:s}", "app", ISTIO_EASTWEST, "istio",
	                 "eastwestgateway", NETWORK_LABEL, ids->network);
}

static json_t *
env(const char *name, const char *value)
{
	return json_pack("{s:s, s:s}", "name", name, "value", value);
}

static json_t *
env_field(const char *name, const char *path)
{
	return json_pack("{s:s, s:{s:{s:s}}}", "name", name, "valueFrom",
	                 "fieldRef", "fieldPath", path);
}

/* The gateway as istioctl renders an IstioOperator gateway component:
 * a full proxyv2 container, so it needs no injection webhook. */
json_t *
istio_glue_eastwest_deployment(const struct istio_mesh_ids *ids)
{
	json_t *d = parse(
		"{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\","
		"\"metadata\":{\"name\":\"istio-eastwestgateway\","
		"\"namespace\":\"istio-system\"},"
		"\"spec\":{\"replicas\":1,\"template\":{\"metadata\":{"
		"\"annotations\":{\"sidecar.istio.io/inject\":\"false\","
		"\"prometheus.io/port\":\"15020\",\"prometheus.io/scrape\":"
		"\"true\",\"prometheus.io/path\":\"/stats/prometheus\"}},"
		"\"spec\":{\"serviceAccountName\":"
		"\"istio-eastwestgateway-service-account\","
		"\"securityContext\":{\"runAsUser\":1337,\"runAsGroup\":1337,"
		"\"runAsNonRoot\":true,\"fsGroup\":1337},"
		"\"containers\":[{\"name\":\"istio-proxy\","
		"\"args\":[\"proxy\",\"router\",\"--domain\","
		"\"$(POD_NAMESPACE).svc.cluster.local\","
		"\"--proxyLogLevel=warning\","
		"\"--proxyComponentLogLevel=misc:error\","
		"\"--log_output_level=default:info\"],"
		"\"ports\":[{\"containerPort\":15021,\"protocol\":\"TCP\"},"
		"{\"containerPort\":15443,\"protocol\":\"TCP\"},"
		"{\"containerPort\":15012,\"protocol\":\"TCP\"},"
		"{\"containerPort\":15017,\"protocol\":\"TCP\"},"
		"{\"containerPort\":15090,\"protocol\":\"TCP\","
		"\"name\":\"http-envoy-prom\"}],"
		"\"readinessProbe\":{\"httpGet\":{\"path\":\"/healthz/ready\","
		"\"port\":15021,\"scheme\":\"HTTP\"},\"periodSeconds\":2,"
		"\"failureThreshold\":30,\"timeoutSeconds\":1},"
		"\"resources\":{\"requests\":{\"cpu\":\"100m\",\"memory\":"
		"\"128Mi\"},\"limits\":{\"cpu\":\"2000m\",\"memory\":"
		"\"1024Mi\"}},"
		"\"securityContext\":{\"allowPrivilegeEscalation\":false,"
		"\"privileged\":false,\"readOnlyRootFilesystem\":true,"
		"\"capabilities\":{\"drop\":[\"ALL\"]}},"
		"\"volumeMounts\":["
		"{\"name\":\"workload-socket\",\"mountPath\":"
		"\"/var/run/secrets/workload-spiffe-uds\"},"
		"{\"name\":\"credential-socket\",\"mountPath\":"
		"\"/var/run/secrets/credential-uds\"},"
		"{\"name\":\"workload-certs\",\"mountPath\":"
		"\"/var/run/secrets/workload-spiffe-credentials\"},"
		"{\"name\":\"istio-envoy\",\"mountPath\":\"/etc/istio/proxy\"},"
		"{\"name\":\"config-volume\",\"mountPath\":"
		"\"/etc/istio/config\"},"
		"{\"name\":\"istiod-ca-cert\",\"mountPath\":"
		"\"/var/run/secrets/istio\"},"
		"{\"name\":\"istio-token\",\"mountPath\":"
		"\"/var/run/secrets/tokens\",\"readOnly\":true},"
		"{\"name\":\"istio-data\",\"mountPath\":\"/var/lib/istio/data\"},"
		"{\"name\":\"podinfo\",\"mountPath\":\"/etc/istio/pod\"}]}],"
		"\"volumes\":["
		"{\"name\":\"workload-socket\",\"emptyDir\":{}},"
		"{\"name\":\"credential-socket\",\"emptyDir\":{}},"
		"{\"name\":\"workload-certs\",\"emptyDir\":{}},"
		"{\"name\":\"istiod-ca-cert\",\"configMap\":{\"name\":"
		"\"istio-ca-root-cert\"}},"
		"{\"name\":\"podinfo\",\"downwardAPI\":{\"items\":["
		"{\"path\":\"labels\",\"fieldRef\":{\"fieldPath\":"
		"\"metadata.labels\"}},{\"path\":\"annotations\",\"fieldRef\":"
		"{\"fieldPath\":\"metadata.annotations\"}}]}},"
		"{\"name\":\"istio-envoy\",\"emptyDir\":{}},"
		"{\"name\":\"istio-data\",\"emptyDir\":{}},"
		"{\"name\":\"istio-token\",\"projected\":{\"sources\":["
		"{\"serviceAccountToken\":{\"audience\":\"istio-ca\","
		"\"expirationSeconds\":43200,\"path\":\"istio-token\"}}]}},"
		"{\"name\":\"config-volume\",\"configMap\":{\"name\":\"istio\","
		"\"optional\":true}}]}}}}");
	json_t *spec = json_object_get(d, "spec"),
	       *tmpl = json_object_get(spec, "template"),
	       *c = json_array_get(json_object_get(json_object_get(tmpl, "spec"),
	                                           "containers"), 0),
	       *e = json_array();
	char *image = mv_xstrfmt("%s/proxyv2:%s",
	                         ids->hub ? ids->hub : "docker.io/istio",
	                         ids->version);

	json_object_set_new(json_object_get(d, "metadata"), "labels",
	                    ew_labels(ids));
	json_object_set_new(spec, "selector",
	                    json_pack("{s:o}", "matchLabels", ew_labels(ids)));
	json_object_set_new(json_object_get(tmpl, "metadata"), "labels",
	                    ew_labels(ids));
	json_object_set_new(c, "image", json_string(image));
	free(image);
	json_array_append_new(e, env("JWT_POLICY", "third-party-jwt"));
	json_array_append_new(e, env("PILOT_CERT_PROVIDER", "istiod"));
	json_array_append_new(e, env("CA_ADDR",
	                             "istiod.istio-system.svc:15012"));
	json_array_append_new(e, env_field("NODE_NAME", "spec.nodeName"));
	json_array_append_new(e, env_field("POD_NAME", "metadata.name"));
	json_array_append_new(e, env_field("POD_NAMESPACE",
	                                   "metadata.namespace"));
	json_array_append_new(e, env_field("INSTANCE_IP", "status.podIP"));
	json_array_append_new(e, env_field("HOST_IP", "status.hostIP"));
	json_array_append_new(e, env_field("SERVICE_ACCOUNT",
	                                   "spec.serviceAccountName"));
	json_array_append_new(e, env("ISTIO_META_WORKLOAD_NAME",
	                             ISTIO_EASTWEST));
	json_array_append_new(e, env("ISTIO_META_OWNER",
	                             "kubernetes://apis/apps/v1/namespaces/"
	                             "istio-system/deployments/"
	                             "istio-eastwestgateway"));
	json_array_append_new(e, env("ISTIO_META_MESH_ID", ids->mesh_id));
	json_array_append_new(e, env("TRUST_DOMAIN",
	                             ids->trust_domain ? ids->trust_domain
	                                               : "cluster.local"));
	json_array_append_new(e, env("ISTIO_META_UNPRIVILEGED_POD", "true"));
	json_array_append_new(e, env("ISTIO_META_CLUSTER_ID", ids->cluster));
	json_array_append_new(e, env("ISTIO_META_NETWORK", ids->network));
	json_array_append_new(e, env("ISTIO_META_REQUESTED_NETWORK_VIEW",
	                             ids->network));
	json_object_set_new(c, "env", e);
	return d;
}

json_t *
istio_glue_eastwest_service(const struct istio_mesh_ids *ids)
{
	json_t *s = parse(
		"{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{"
		"\"name\":\"istio-eastwestgateway\",\"namespace\":"
		"\"istio-system\",\"annotations\":{"
		"\"networking.gke.io/load-balancer-type\":\"Internal\","
		"\"networking.gke.io/internal-load-balancer-allow-global-access\""
		":\"true\"}},\"spec\":{\"type\":\"LoadBalancer\",\"ports\":["
		"{\"name\":\"status-port\",\"port\":15021,\"targetPort\":15021,"
		"\"protocol\":\"TCP\"},"
		"{\"name\":\"tls\",\"port\":15443,\"targetPort\":15443,"
		"\"protocol\":\"TCP\"},"
		"{\"name\":\"tls-istiod\",\"port\":15012,\"targetPort\":15012,"
		"\"protocol\":\"TCP\"},"
		"{\"name\":\"tls-webhook\",\"port\":15017,\"targetPort\":15017,"
		"\"protocol\":\"TCP\"}]}}");

	json_object_set_new(json_object_get(s, "metadata"), "labels",
	                    ew_labels(ids));
	json_object_set_new(json_object_get(s, "spec"), "selector",
	                    ew_labels(ids));
	return s;
}

json_t *
istio_glue_istiod_gateway(void)
{
	return parse(
		"{\"apiVersion\":\"networking.istio.io/v1\",\"kind\":\"Gateway\","
		"\"metadata\":{\"name\":\"istiod-gateway\",\"namespace\":"
		"\"istio-system\"},\"spec\":{\"selector\":{\"istio\":"
		"\"eastwestgateway\"},\"servers\":["
		"{\"port\":{\"name\":\"tls-istiod\",\"number\":15012,"
		"\"protocol\":\"tls\"},\"tls\":{\"mode\":\"PASSTHROUGH\"},"
		"\"hosts\":[\"*\"]},"
		"{\"port\":{\"name\":\"tls-istiodwebhook\",\"number\":15017,"
		"\"protocol\":\"tls\"},\"tls\":{\"mode\":\"PASSTHROUGH\"},"
		"\"hosts\":[\"*\"]}]}}");
}

json_t *
istio_glue_istiod_virtual_service(void)
{
	return parse(
		"{\"apiVersion\":\"networking.istio.io/v1\",\"kind\":"
		"\"VirtualService\",\"metadata\":{\"name\":\"istiod-vs\","
		"\"namespace\":\"istio-system\"},\"spec\":{\"hosts\":[\"*\"],"
		"\"gateways\":[\"istiod-gateway\"],\"tls\":["
		"{\"match\":[{\"port\":15012,\"sniHosts\":[\"*\"]}],"
		"\"route\":[{\"destination\":{\"host\":"
		"\"istiod.istio-system.svc.cluster.local\",\"port\":{"
		"\"number\":15012}}}]},"
		"{\"match\":[{\"port\":15017,\"sniHosts\":[\"*\"]}],"
		"\"route\":[{\"destination\":{\"host\":"
		"\"istiod.istio-system.svc.cluster.local\",\"port\":{"
		"\"number\":443}}}]}]}}");
}

json_t *
istio_glue_cross_network_gateway(void)
{
	return parse(
		"{\"apiVersion\":\"networking.istio.io/v1\",\"kind\":\"Gateway\","
		"\"metadata\":{\"name\":\"cross-network-gateway\",\"namespace\":"
		"\"istio-system\"},\"spec\":{\"selector\":{\"istio\":"
		"\"eastwestgateway\"},\"servers\":[{\"port\":{\"number\":15443,"
		"\"name\":\"tls\",\"protocol\":\"TLS\"},\"tls\":{\"mode\":"
		"\"AUTO_PASSTHROUGH\"},\"hosts\":[\"*.local\"]}]}}");
}

json_t *
istio_glue_objects(const struct istio_mesh_ids *ids)
{
	json_t *a = json_array();

	json_array_append_new(a, istio_glue_eastwest_service_account());
	json_array_append_new(a, istio_glue_eastwest_deployment(ids));
	json_array_append_new(a, istio_glue_eastwest_service(ids));
	json_array_append_new(a, istio_glue_istiod_gateway());
	json_array_append_new(a, istio_glue_istiod_virtual_service());
	json_array_append_new(a, istio_glue_cross_network_gateway());
	return a;
}

/* ---- checks ---------------------------------------------------------- */

static const char *
str_path(const json_t *o, const char *const *path)
{
	for (; *path && o; path++)
		o = json_object_get(o, *path);
	return json_string_value(o);
}

static int
mismatch(const char *origin, const char *what, const char *have,
         const char *key, const char *want, struct mv_err *err)
{
	return mv_err_set(err, MV_EXIT_FAIL,
	                  "%s: %s is \"%s\" but meshvm.yaml %s is \"%s\"; "
	                  "render the manifests again with the configured "
	                  "values (see README: Rendering the Istio manifests)",
	                  origin, what, have ? have : "(unset)", key, want);
}

static int
check_value(const char *origin, const char *what, const char *have,
            const char *key, const char *want, struct mv_err *err)
{
	if (want == NULL || (have && strcmp(have, want) == 0))
		return 0;
	return mismatch(origin, what, have, key, want, err);
}

static int
check_injector(const struct manifest_obj *mo, const struct istio_mesh_ids *ids,
               struct mv_err *err)
{
	static const char *const mesh[] = {"global", "meshID", NULL};
	static const char *const cluster[] = {"global", "multiCluster",
	                                      "clusterName", NULL};
	static const char *const network[] = {"global", "network", NULL};
	const char *text = json_string_value(json_object_get(
		json_object_get(mo->obj, "data"), "values"));
	json_error_t je;
	json_t *v;
	int rc;

	if (text == NULL)
		return mv_err_set(err, MV_EXIT_FAIL, "%s: ConfigMap "
		                  "istio-sidecar-injector has no data.values",
		                  mo->origin);
	v = json_loads(text, 0, &je);
	if (!json_is_object(v)) {
		json_decref(v);
		return mv_err_set(err, MV_EXIT_FAIL, "%s: ConfigMap "
		                  "istio-sidecar-injector data.values is not a "
		                  "JSON object (line %d: %s)", mo->origin,
		                  je.line, je.text);
	}
	rc = check_value(mo->origin, "values.global.meshID",
	                 str_path(v, mesh), "mesh.id", ids->mesh_id, err) ||
	     check_value(mo->origin, "values.global.multiCluster.clusterName",
	                 str_path(v, cluster), "cluster name", ids->cluster,
	                 err) ||
	     check_value(mo->origin, "values.global.network",
	                 str_path(v, network), "mesh.networks", ids->network,
	                 err);
	json_decref(v);
	return rc ? -1 : 0;
}

static int
check_mesh_config(const struct manifest_obj *mo,
                  const struct istio_mesh_ids *ids, struct mv_err *err)
{
	static const char *const mesh_id[] = {"defaultConfig", "meshId", NULL};
	static const char *const td[] = {"trustDomain", NULL};
	const char *text = json_string_value(json_object_get(
		json_object_get(mo->obj, "data"), "mesh"));
	struct mv_yaml *y = NULL;
	json_t *doc;
	int rc;

	if (text == NULL)
		return 0;
	if (mv_yaml_load_buf(mo->origin, text, strlen(text), &y, err) != 0)
		return mv_err_prefix(err, "ConfigMap istio data.mesh");
	doc = mv_yaml_count(y) ? mv_yaml_doc(y, 0) : NULL;
	rc = check_value(mo->origin, "mesh config defaultConfig.meshId",
	                 str_path(doc, mesh_id), "mesh.id", ids->mesh_id,
	                 err) ||
	     check_value(mo->origin, "mesh config trustDomain",
	                 str_path(doc, td), "mesh.trust_domain",
	                 ids->trust_domain, err);
	mv_yaml_free(y);
	return rc ? -1 : 0;
}

static int
check_istiod(const struct manifest_obj *mo, const struct istio_mesh_ids *ids,
             struct mv_err *err)
{
	const json_t *cs = json_object_get(json_object_get(json_object_get(
		json_object_get(mo->obj, "spec"), "template"), "spec"),
		"containers");
	size_t i, j;
	json_t *c, *e;

	json_array_foreach(cs, i, c) {
		json_array_foreach(json_object_get(c, "env"), j, e) {
			const char *n = json_string_value(json_object_get(e,
			                                                  "name"));
			if (n && strcmp(n, "CLUSTER_ID") == 0)
				return check_value(
					mo->origin, "istiod env CLUSTER_ID",
					json_string_value(json_object_get(e,
					                                  "value")),
					"cluster name", ids->cluster, err);
		}
	}
	return 0;
}

int
istio_manifest_check(const struct manifests *m,
                     const struct istio_mesh_ids *ids, struct mv_err *err)
{
	const struct manifest_obj *inj, *mesh, *istiod;

	inj = manifests_find(m, "ConfigMap", ISTIO_NS, "istio-sidecar-injector");
	if (inj == NULL)
		return mv_err_set(err, MV_EXIT_FAIL,
		                  "the Istio manifests for %s hold no ConfigMap "
		                  "istio-system/istio-sidecar-injector; are they "
		                  "the output of istioctl manifest generate?",
		                  ids->cluster);
	if (check_injector(inj, ids, err) != 0)
		return -1;
	mesh = manifests_find(m, "ConfigMap", ISTIO_NS, "istio");
	if (mesh && check_mesh_config(mesh, ids, err) != 0)
		return -1;
	istiod = manifests_find(m, "Deployment", ISTIO_NS, "istiod");
	if (istiod && check_istiod(istiod, ids, err) != 0)
		return -1;
	return 0;
}

int
istio_glue_check_collisions(const struct manifests *user,
                            const json_t *generated, const char *default_ns,
                            struct mv_err *err)
{
	size_t i;
	json_t *g;

	for (size_t u = 0; u < user->n; u++) {
		json_array_foreach(generated, i, g) {
			const json_t *o = user->v[u].obj,
			             *meta = json_object_get(o, "metadata");
			const char *ns = json_string_value(json_object_get(
				meta, "namespace"));

			if (!manifests_same(o, g, default_ns))
				continue;
			return mv_err_set(err, MV_EXIT_FAIL,
			                  "%s: %s %s%s%s is generated by meshvm; "
			                  "remove it from the manifests (meshvm "
			                  "never applies an object twice)",
			                  user->v[u].origin,
			                  json_string_value(json_object_get(o,
			                                                    "kind")),
			                  ns ? ns : "", ns ? "/" : "",
			                  json_string_value(json_object_get(meta,
			                                                    "name")));
		}
	}
	return 0;
}
