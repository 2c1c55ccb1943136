/* cluster/identity.c - istioctl's workload entry configure, without the
 * cluster round trips (see identity.h). */
#include "cluster/identity.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cluster/goyaml.h"
#include "core/atomic.h"
#include "core/util.h"
#include "core/xalloc.h"
#include "core/yaml.h"

#define ISTIO_NS "istio-system"
#define PROXY_CONFIG_ANNOTATION "proxy.istio.io/config"

void
identity_files_free(struct identity_files *f)
{
	if (f == NULL)
		return;
	free(f->cluster_env);
	free(f->mesh_yaml);
	free(f->hosts);
	free(f->root_cert);
	memset(f, 0, sizeof(*f));
}

/* Istio's pkg/util/shellescape: the class [^\\w@%+=:,./-] sits in a Go
 * raw string, so it means "anything but a backslash, 'w', @ % + = : , .
 * / -" and nearly every value ends up quoted (the golden files show
 * CANONICAL_SERVICE='foo').  Kept as it behaves. */
char *
identity_shell_quote(const char *s)
{
	static const char safe[] = "\\w@%+=:,./-";
	size_t n = 2, i;
	bool quote = false;
	char *out, *w;

	if (*s == '\0')
		return mv_xstrdup("''");
	for (i = 0; s[i]; i++) {
		if (strchr(safe, s[i]) == NULL)
			quote = true;
		n += s[i] == '\'' ? 5 : 1;
	}
	if (!quote)
		return mv_xstrdup(s);
	out = w = mv_xmalloc(n + 1);
	*w++ = '\'';
	for (i = 0; s[i]; i++) {
		if (s[i] == '\'') {
			memcpy(w, "'\"'\"'", 5);
			w += 5;
		} else {
			*w++ = s[i];
		}
	}
	*w++ = '\'';
	*w = '\0';
	return out;
}

static bool
revisioned(const char *rev)
{
	return rev != NULL && *rev != '\0' && strcmp(rev, "default") != 0;
}

static char *
istiod_host(const char *rev)
{
	if (revisioned(rev))
		return mv_xstrfmt("istiod-%s.%s.svc", rev, ISTIO_NS);
	return mv_xstrfmt("istiod.%s.svc", ISTIO_NS);
}

static bool
valid_ip(const char *s)
{
	unsigned char b[16];

	return s != NULL && (inet_pton(AF_INET, s, b) == 1 ||
	                     inet_pton(AF_INET6, s, b) == 1);
}

/* Go's jsonpb merge into an existing message, as protomarshal.ApplyYAML
 * does: mappings merge key by key, anything else is replaced. */
static void
merge(json_t *dst, const json_t *src)
{
	const char *k;
	json_t *v, *d;

	json_object_foreach((json_t *)src, k, v) {
		d = json_object_get(dst, k);
		if (json_is_object(d) && json_is_object(v))
			merge(d, v);
		else
			json_object_set_new(dst, k, json_deep_copy(v));
	}
}

static const char *
str_at(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

/* A YAML text that must hold one mapping (or nothing). */
static int
load_mapping(const char *what, const char *text, json_t **out,
             struct mv_err *err)
{
	struct mv_yaml *y = NULL;
	json_t *doc;

	*out = NULL;
	if (mv_yaml_load_buf(what, text, strlen(text), &y, err) != 0)
		return -1;
	doc = mv_yaml_count(y) ? mv_yaml_doc(y, 0) : NULL;
	if (doc == NULL || json_is_null(doc)) {
		*out = json_object();
	} else if (!json_is_object(doc)) {
		mv_err_set(err, MV_EXIT_FAIL, "%s: expected a mapping, got %s",
		           what, mv_json_type_name(doc));
	} else {
		*out = json_incref(doc);
	}
	mv_yaml_free(y);
	return *out ? 0 : -1;
}

static const char *
lookup(const json_t *labels, const char *const *keys)
{
	for (; *keys; keys++) {
		const char *v = str_at(labels, *keys);
		if (v)
			return v;
	}
	return NULL;
}

/* ISTIO_META_POD_PORTS: model.PodPort list sorted by name; "" if none. */
static char *
pod_ports(const json_t *ports)
{
	const char **names;
	size_t n = json_object_size(ports), i = 0;
	const char *k;
	json_t *v, *arr;
	char *s;

	if (n == 0)
		return NULL;
	names = mv_xcalloc(n, sizeof(*names));
	json_object_foreach((json_t *)ports, k, v)
		names[i++] = k;
	for (i = 1; i < n; i++)
		for (size_t j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0;
		     j--) {
			const char *t = names[j];
			names[j] = names[j - 1];
			names[j - 1] = t;
		}
	arr = json_array();
	for (i = 0; i < n; i++)
		json_array_append_new(
			arr, json_pack("{s:s, s:I, s:s}", "name", names[i],
			               "containerPort",
			               json_integer_value(json_object_get(ports,
			                                                  names[i])),
			               "protocol", ""));
	s = json_dumps(arr, JSON_COMPACT);
	json_decref(arr);
	free(names);
	return s;
}

static int
check_ports(const char *wg, const json_t *ports, struct mv_err *err)
{
	const char *k;
	json_t *v;

	if (ports == NULL)
		return 0;
	if (!json_is_object(ports))
		return mv_err_set(err, MV_EXIT_FAIL,
		                  "%s: spec.template.ports must be a mapping",
		                  wg);
	json_object_foreach((json_t *)ports, k, v) {
		if (!json_is_integer(v) || json_integer_value(v) < 1 ||
		    json_integer_value(v) > 65535)
			return mv_err_set(err, MV_EXIT_FAIL,
			                  "%s: spec.template.ports.%s must be a "
			                  "port number (1..65535)", wg, k);
	}
	return 0;
}

static int
expect(const char *what, const char *have, const char *want,
       const char *key, struct mv_err *err)
{
	if (want == NULL || strcmp(have, want) == 0)
		return 0;
	return mv_err_set(err, MV_EXIT_FAIL,
	                  "%s is \"%s\" but meshvm.yaml %s is \"%s\"; render "
	                  "and apply the mesh with the configured values, or "
	                  "change %s", what, have, key, want, key);
}

/* cluster.env: proxyMetadata plus the overrides, sorted KEY=quoted. */
static char *
cluster_env(const json_t *env)
{
	size_t n = json_object_size(env), i = 0, len = 0;
	char **lines = mv_xcalloc(n ? n : 1, sizeof(*lines)), *out, *w;
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)env, k, v) {
		char *q = identity_shell_quote(json_string_value(v));
		lines[i] = mv_xstrfmt("%s=%s", k, q);
		len += strlen(lines[i++]) + 1;
		free(q);
	}
	for (i = 1; i < n; i++)
		for (size_t j = i; j > 0 && strcmp(lines[j - 1], lines[j]) > 0;
		     j--) {
			char *t = lines[j];
			lines[j] = lines[j - 1];
			lines[j - 1] = t;
		}
	out = w = mv_xmalloc(len + 2);
	for (i = 0; i < n; i++) {
		size_t l = strlen(lines[i]);
		memcpy(w, lines[i], l);
		w += l;
		if (i + 1 < n)
			*w++ = '\n';
		free(lines[i]);
	}
	/* strings.Join(lines, "\n") + "\n" */
	*w++ = '\n';
	*w = '\0';
	free(lines);
	return out;
}

static int
proxy_metadata_strings(const json_t *md, struct mv_err *err)
{
	const char *k;
	json_t *v;

	if (!json_is_object(md))
		return mv_err_set(err, MV_EXIT_FAIL,
		                  "mesh config: defaultConfig.proxyMetadata must "
		                  "be a mapping");
	json_object_foreach((json_t *)md, k, v)
		if (!json_is_string(v))
			return mv_err_set(err, MV_EXIT_FAIL,
			                  "mesh config: defaultConfig.proxyMetadata."
			                  "%s must be a string, got %s", k,
			                  mv_json_type_name(v));
	return 0;
}

int
identity_render(const struct identity_in *in, struct identity_files *out,
                struct mv_err *err)
{
	static const char *const name_labels[] = {
		"service.istio.io/canonical-name", "app.kubernetes.io/name",
		"app", NULL};
	static const char *const rev_labels[] = {
		"service.istio.io/canonical-revision",
		"app.kubernetes.io/version", "version", NULL};
	const json_t *wg = in->workload_group, *meta, *spec, *tmpl, *smeta;
	json_t *mesh = NULL, *dc, *md, *lbls = NULL, *env = NULL, *doc = NULL;
	const char *name, *ns, *sa, *network, *svc, *rev, *mesh_id, *td;
	char *what = NULL, *s, exclude[64];
	int rc = -1;

	memset(out, 0, sizeof(*out));
	meta = json_object_get(wg, "metadata");
	spec = json_object_get(wg, "spec");
	name = str_at(meta, "name");
	ns = str_at(meta, "namespace");
	if (!json_is_object(wg) ||
	    json_string_value(json_object_get(wg, "kind")) == NULL ||
	    strcmp(str_at(wg, "kind"), "WorkloadGroup") != 0 || name == NULL ||
	    ns == NULL || *name == '\0' || *ns == '\0')
		return mv_err_set(err, MV_EXIT_FAIL,
		                  "identity: expected a WorkloadGroup with "
		                  "metadata.name and metadata.namespace");
	what = mv_xstrfmt("WorkloadGroup %s/%s", ns, name);
	if (spec != NULL && !json_is_object(spec)) {
		mv_err_set(err, MV_EXIT_FAIL, "%s: spec must be a mapping", what);
		goto out;
	}
	smeta = json_object_get(spec, "metadata");
	tmpl = json_object_get(spec, "template");
	sa = str_at(tmpl, "serviceAccount");
	if (sa == NULL || *sa == '\0')
		sa = "default"; /* readWorkloadGroup's default */
	network = str_at(tmpl, "network");
	if (network == NULL)
		network = "";
	if (check_ports(what, json_object_get(tmpl, "ports"), err) != 0)
		goto out;
	if (in->root_cert_pem == NULL || *in->root_cert_pem == '\0') {
		mv_err_set(err, MV_EXIT_FAIL, "identity: no root certificate "
		           "(ConfigMap istio-ca-root-cert in %s)", ns);
		goto out;
	}

	/* mesh.yaml */
	if (load_mapping("mesh config", in->mesh_config ? in->mesh_config : "",
	                 &mesh, err) != 0)
		goto out;
	dc = json_object_get(mesh, "defaultConfig");
	if (dc != NULL && !json_is_object(dc) && !json_is_null(dc)) {
		mv_err_set(err, MV_EXIT_FAIL, "mesh config: defaultConfig must "
		           "be a mapping");
		goto out;
	}
	dc = json_is_object(dc) ? json_deep_copy(dc) : json_object();
	doc = json_pack("{s:o}", "defaultConfig", dc);
	if (json_object_get(dc, "proxyMetadata") == NULL ||
	    json_is_null(json_object_get(dc, "proxyMetadata")))
		json_object_set_new(dc, "proxyMetadata", json_object());
	if (proxy_metadata_strings(json_object_get(dc, "proxyMetadata"),
	                           err) != 0)
		goto out;
	rev = in->revision;
	if (revisioned(rev) && (str_at(dc, "discoveryAddress") == NULL ||
	                        *str_at(dc, "discoveryAddress") == '\0')) {
		char *h = istiod_host(rev);
		json_object_set_new(dc, "discoveryAddress",
		                    json_sprintf("%s:15012", h));
		free(h);
	}
	for (int i = 0; i < 2; i++) {
		const json_t *anns = json_object_get(i ? smeta : meta,
		                                     "annotations");
		const char *pc = str_at(anns, PROXY_CONFIG_ANNOTATION);
		json_t *pcj;
		char *src;

		if (pc == NULL)
			continue;
		src = mv_xstrfmt("%s: annotation %s", what,
		                 PROXY_CONFIG_ANNOTATION);
		if (load_mapping(src, pc, &pcj, err) != 0) {
			free(src);
			goto out;
		}
		free(src);
		merge(dc, pcj);
		json_decref(pcj);
		if (proxy_metadata_strings(json_object_get(dc, "proxyMetadata"),
		                           err) != 0)
			goto out;
	}
	lbls = json_object();
	if (json_is_object(json_object_get(smeta, "labels")))
		json_object_update(lbls, json_object_get(smeta, "labels"));
	if (json_is_object(json_object_get(tmpl, "labels")))
		json_object_update(lbls, json_object_get(tmpl, "labels"));
	if (json_object_get(spec, "probe"))
		json_object_set_new(dc, "readinessProbe",
		                    json_deep_copy(json_object_get(spec, "probe")));
	else
		json_object_del(dc, "readinessProbe");

	md = json_object_get(dc, "proxyMetadata");
	svc = lookup(lbls, name_labels);
	json_object_set_new(md, "CANONICAL_SERVICE", json_string(svc ? svc : name));
	svc = lookup(lbls, rev_labels);
	json_object_set_new(md, "CANONICAL_REVISION",
	                    json_string(svc ? svc : "latest"));
	json_object_set_new(md, "POD_NAMESPACE", json_string(ns));
	json_object_set_new(md, "SERVICE_ACCOUNT", json_string(sa));
	td = str_at(mesh, "trustDomain");
	json_object_set_new(md, "TRUST_DOMAIN", json_string(td ? td : ""));
	json_object_set_new(md, "ISTIO_META_CLUSTER_ID",
	                    json_string(in->cluster_id ? in->cluster_id : ""));
	mesh_id = str_at(dc, "meshId");
	json_object_set_new(md, "ISTIO_META_MESH_ID",
	                    json_string(mesh_id ? mesh_id : ""));
	json_object_set_new(md, "ISTIO_META_NETWORK", json_string(network));
	if ((s = pod_ports(json_object_get(tmpl, "ports"))) != NULL) {
		json_object_set_new(md, "ISTIO_META_POD_PORTS", json_string(s));
		free(s);
	}
	json_object_set_new(md, "ISTIO_META_WORKLOAD_NAME", json_string(name));
	json_object_set(lbls, "service.istio.io/canonical-name",
	                json_object_get(md, "CANONICAL_SERVICE"));
	json_object_set(lbls, "service.istio.io/canonical-revision",
	                json_object_get(md, "CANONICAL_REVISION"));
	s = json_dumps(lbls, JSON_COMPACT | JSON_SORT_KEYS);
	json_object_set_new(md, "ISTIO_METAJSON_LABELS", json_string(s));
	free(s);
	if (!in->no_dns_capture)
		json_object_set_new(md, "ISTIO_META_DNS_CAPTURE",
		                    json_string("true"));
	if (in->autoregister)
		json_object_set_new(md, "ISTIO_META_AUTO_REGISTER_GROUP",
		                    json_string(name));

	if (expect("mesh config defaultConfig.meshId", mesh_id ? mesh_id : "",
	           in->expect_mesh_id, "mesh.id", err) != 0 ||
	    expect("mesh config trustDomain", td ? td : "",
	           in->expect_trust_domain, "mesh.trust_domain", err) != 0 ||
	    expect("WorkloadGroup spec.template.network", network,
	           in->expect_network, "mesh.networks (the VM's)", err) != 0)
		goto out;

	if ((out->mesh_yaml = goyaml_dump(doc, err)) == NULL)
		goto out;

	/* cluster.env */
	{
		json_t *sp = json_object_get(dc, "statusPort");
		json_int_t port = json_is_integer(sp) ? json_integer_value(sp)
		                                       : 0;
		json_t *ports = json_object_get(tmpl, "ports");
		char *inbound = NULL, *h;
		const char *k;
		json_t *v;

		snprintf(exclude, sizeof(exclude), "22,15090,15021");
		if (port != 15090 && port != 15021)
			snprintf(exclude + strlen(exclude),
			         sizeof(exclude) - strlen(exclude), ",%lld",
			         port ? (long long)port : 15020LL);
		/* Go ranges a map in random order; a WorkloadGroup with
		 * several ports gets them in any order from istioctl.  We
		 * keep the object's order. */
		json_object_foreach(ports, k, v) {
			char *t = inbound ? mv_xstrfmt("%s,%lld", inbound,
			                               (long long)json_integer_value(v))
			                  : mv_xstrfmt("%lld",
			                               (long long)json_integer_value(v));
			free(inbound);
			inbound = t;
		}
		env = json_deep_copy(md);
		json_object_set_new(env, "ISTIO_INBOUND_PORTS",
		                    json_string(inbound ? inbound : "*"));
		free(inbound);
		json_object_set_new(env, "ISTIO_NAMESPACE", json_string(ns));
		json_object_set_new(env, "ISTIO_SERVICE",
		                    json_sprintf("%s.%s", name, ns));
		json_object_set_new(env, "ISTIO_SERVICE_CIDR", json_string("*"));
		json_object_set_new(env, "ISTIO_LOCAL_EXCLUDE_PORTS",
		                    json_string(exclude));
		json_object_set_new(env, "SERVICE_ACCOUNT", json_string(sa));
		if (revisioned(rev)) {
			h = istiod_host(rev);
			json_object_set_new(env, "CA_ADDR",
			                    json_sprintf("%s:15012", h));
			free(h);
		}
		if (in->internal_ip && *in->internal_ip) {
			json_object_set_new(env, "ISTIO_SVC_IP",
			                    json_string(in->internal_ip));
		} else if (in->external_ip && *in->external_ip) {
			json_object_set_new(env, "ISTIO_SVC_IP",
			                    json_string(in->external_ip));
			json_object_set_new(
				env, "REWRITE_PROBE_LEGACY_LOCALHOST_DESTINATION",
				json_string("true"));
		}
		out->cluster_env = cluster_env(env);
		h = istiod_host(rev);
		out->hosts = valid_ip(in->ingress_ip)
		                     ? mv_xstrfmt("%s %s\n", in->ingress_ip, h)
		                     : mv_xstrdup("");
		free(h);
	}
	out->root_cert = mv_xstrdup(in->root_cert_pem);
	rc = 0;
out:
	if (rc != 0)
		identity_files_free(out);
	json_decref(mesh);
	json_decref(doc);
	json_decref(lbls);
	json_decref(env);
	free(what);
	return rc;
}

int
identity_write(const char *dir, const struct identity_files *f,
               struct mv_err *err)
{
	const char *names[] = {"cluster.env", "mesh.yaml", "hosts",
	                       "root-cert.pem"};
	const char *data[] = {f->cluster_env, f->mesh_yaml, f->hosts,
	                      f->root_cert};
	struct stat st;

	if (stat(dir, &st) != 0) {
		if (errno != ENOENT || mkdir(dir, 0755) != 0)
			return mv_err_sys(err, errno, "%s", dir);
	} else if (!S_ISDIR(st.st_mode)) {
		return mv_err_set(err, MV_EXIT_FAIL, "%s: not a directory", dir);
	}
	for (size_t i = 0; i < 4; i++) {
		char *p = mv_path_join(dir, names[i]);
		int rc = mv_write_file_atomic(p, data[i], strlen(data[i]), 0644,
		                              err);
		free(p);
		if (rc != 0)
			return -1;
	}
	return 0;
}

static const char *
cm_data(const json_t *cm, const char *key)
{
	return json_string_value(json_object_get(json_object_get(cm, "data"),
	                                         key));
}

const char *
identity_mesh_config_of(const json_t *istio_configmap)
{
	return cm_data(istio_configmap, "mesh");
}

const char *
identity_root_cert_of(const json_t *root_configmap)
{
	return cm_data(root_configmap, "root-cert.pem");
}

const char *
identity_ingress_ip_of(const json_t *service)
{
	const json_t *ing = json_object_get(json_object_get(
		json_object_get(service, "status"), "loadBalancer"), "ingress");
	const char *ip = json_string_value(
		json_object_get(json_array_get(ing, 0), "ip"));

	if (ip && *ip)
		return ip;
	ip = json_string_value(json_array_get(
		json_object_get(json_object_get(service, "spec"),
		                "externalIPs"), 0));
	return ip && *ip ? ip : NULL;
}

char *
identity_cluster_id_of(const json_t *injector_configmap, struct mv_err *err)
{
	const char *values = cm_data(injector_configmap, "values"), *id;
	json_error_t je;
	json_t *v;
	char *out = NULL;

	mv_err_clear(err);
	if (values == NULL)
		return NULL;
	v = json_loads(values, 0, &je);
	if (!json_is_object(v)) {
		json_decref(v);
		mv_err_set(err, MV_EXIT_FAIL, "ConfigMap istio-sidecar-injector: "
		           "data.values is not a JSON object");
		return NULL;
	}
	id = json_string_value(json_object_get(json_object_get(
		json_object_get(v, "global"), "multiCluster"), "clusterName"));
	if (id && *id)
		out = mv_xstrdup(id);
	json_decref(v);
	return out;
}
