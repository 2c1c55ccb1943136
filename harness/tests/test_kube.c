/* test_kube.c - kubeconfig loading and merging, every auth mode (token,
 * tokenFile, client certificate, exec plugins with caching), discovery
 * mapping, apply and TokenRequest (cluster/kubeconfig.c, cluster/kube.c),
 * against a small scripted API server on 127.0.0.1. */
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cluster/kube.h"
#include "core/http.h"
#include "testutil.h"

/*--- a tiny API server ----------------------------------------------------*/

struct seen {
	char method[16];
	char url[512];
	char ctype[128];
	char auth[512];
	char body[4096];
};

struct api {
	struct seen log[128];
	int n;
	char body_acc[4096];
	size_t body_len;
};

static const char *api_v1 =
	"{\"kind\":\"APIResourceList\",\"groupVersion\":\"v1\",\"resources\":["
	"{\"name\":\"namespaces\",\"namespaced\":false,\"kind\":\"Namespace\"},"
	"{\"name\":\"configmaps\",\"namespaced\":true,\"kind\":\"ConfigMap\"},"
	"{\"name\":\"serviceaccounts\",\"namespaced\":true,\"kind\":\"ServiceAccount\"},"
	"{\"name\":\"serviceaccounts/token\",\"namespaced\":true,\"kind\":\"TokenRequest\","
	"\"group\":\"authentication.k8s.io\",\"version\":\"v1\"}]}";
static const char *apis =
	"{\"kind\":\"APIGroupList\",\"groups\":["
	"{\"name\":\"apps\",\"versions\":[{\"groupVersion\":\"apps/v1\",\"version\":\"v1\"}],"
	"\"preferredVersion\":{\"groupVersion\":\"apps/v1\",\"version\":\"v1\"}},"
	"{\"name\":\"networking.istio.io\",\"versions\":[{\"groupVersion\":"
	"\"networking.istio.io/v1\",\"version\":\"v1\"}],\"preferredVersion\":"
	"{\"groupVersion\":\"networking.istio.io/v1\",\"version\":\"v1\"}}]}";
static const char *apps_v1 =
	"{\"kind\":\"APIResourceList\",\"groupVersion\":\"apps/v1\",\"resources\":["
	"{\"name\":\"deployments\",\"namespaced\":true,\"kind\":\"Deployment\"},"
	"{\"name\":\"deployments/status\",\"namespaced\":true,\"kind\":\"Deployment\"}]}";
static const char *istio_v1 =
	"{\"kind\":\"APIResourceList\",\"groupVersion\":\"networking.istio.io/v1\","
	"\"resources\":[{\"name\":\"virtualservices\",\"namespaced\":true,"
	"\"kind\":\"VirtualService\"},{\"name\":\"workloadgroups\",\"namespaced\":"
	"true,\"kind\":\"WorkloadGroup\"}]}";

static enum MHD_Result
api_handler(void *cls, struct MHD_Connection *c, const char *url,
            const char *method, const char *version, const char *upload,
            size_t *upload_size, void **con_cls)
{
	struct api *a = cls;
	const char *body = "{}", *v;
	unsigned status = 200;
	struct MHD_Response *r;
	struct seen *s;
	enum MHD_Result ret;
	char full[512];

	(void)version;
	if (*con_cls == NULL) {
		*con_cls = a;
		a->body_len = 0;
		return MHD_YES;
	}
	if (*upload_size > 0) {
		size_t n = *upload_size;
		if (a->body_len + n >= sizeof(a->body_acc))
			n = sizeof(a->body_acc) - a->body_len - 1;
		memcpy(a->body_acc + a->body_len, upload, n);
		a->body_len += n;
		*upload_size = 0;
		return MHD_YES;
	}
	a->body_acc[a->body_len] = '\0';
	v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "fieldManager");
	snprintf(full, sizeof(full), "%s%s%s", url, v ? "?fieldManager=" : "",
	         v ? v : "");
	s = &a->log[a->n < 127 ? a->n++ : 127];
	snprintf(s->method, sizeof(s->method), "%s", method);
	snprintf(s->url, sizeof(s->url), "%s", full);
	v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
	snprintf(s->ctype, sizeof(s->ctype), "%s", v ? v : "");
	v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
	snprintf(s->auth, sizeof(s->auth), "%s", v ? v : "");
	snprintf(s->body, sizeof(s->body), "%s", a->body_acc);
	if (!strcmp(url, "/api/v1"))
		body = api_v1;
	else if (!strcmp(url, "/apis"))
		body = apis;
	else if (!strcmp(url, "/apis/apps/v1"))
		body = apps_v1;
	else if (!strcmp(url, "/apis/networking.istio.io/v1"))
		body = istio_v1;
	else if (strstr(url, "/serviceaccounts/default/token"))
		body = "{\"kind\":\"TokenRequest\",\"status\":{\"token\":\"tok.en.x\","
		       "\"expirationTimestamp\":\"2030-01-02T03:04:05Z\"}}";
	else if (!strcmp(method, "PATCH"))
		body = a->body_acc;
	else if (strstr(url, "/missing")) {
		status = 404;
		body = "{\"kind\":\"Status\",\"reason\":\"NotFound\",\"code\":404}";
	} else if (strstr(url, "/configmaps") && !strcmp(method, "GET") &&
	           !strstr(url, "/configmaps/"))
		body = "{\"kind\":\"ConfigMapList\",\"metadata\":{},\"items\":["
		       "{\"metadata\":{\"name\":\"a\"}},{\"metadata\":{\"name\":\"b\"}}]}";
	r = MHD_create_response_from_buffer(strlen(body), (void *)body,
	                                    MHD_RESPMEM_MUST_COPY);
	MHD_add_response_header(r, "Content-Type", "application/json");
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static struct MHD_Daemon *
api_start(struct api *a, int *port)
{
	struct MHD_Daemon *d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0,
	                                        NULL, NULL, api_handler, a,
	                                        MHD_OPTION_END);
	assert_non_null(d);
	*port = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT)->port;
	return d;
}

static int
count(const struct api *a, const char *method, const char *url)
{
	int n = 0;

	for (int i = 0; i < a->n; i++)
		if (!strcmp(a->log[i].method, method) && !strcmp(a->log[i].url, url))
			n++;
	return n;
}

/* HTTP clients handed to kube_new (which borrows them); freed at exit. */
static struct mv_http *clients[32];
static int n_clients;

static struct mv_http *
new_http(void)
{
	struct mv_http *h = mv_http_new(NULL);

	assert_true(n_clients < 32);
	clients[n_clients++] = h;
	return h;
}

static int
free_clients(void **state)
{
	(void)state;
	while (n_clients > 0)
		mv_http_free(clients[--n_clients]);
	return 0;
}

/*--- kubeconfig ----------------------------------------------------------*/

static void
test_merge(void **state)
{
	char *d = tu_tmpdir(), *a = tu_fmt("%s/a.yaml", d), *b = tu_fmt("%s/sub/b.yaml", d);
	char *paths = tu_fmt("%s:%s/missing.yaml:%s", a, d, b);
	struct kube_target *t = NULL;
	struct mv_err err;
	json_t *names = NULL;

	(void)state;
	assert_int_equal(tu_sh(NULL, "mkdir -p '%s/sub/certs'", d), 0);
	tu_write(a, "apiVersion: v1\nkind: Config\ncurrent-context: c1\n"
	            "clusters:\n- name: k1\n  cluster: {server: https://a.example:443}\n"
	            "contexts:\n- name: c1\n  context: {cluster: k1, user: u1, "
	            "namespace: team}\n"
	            "users:\n- name: u1\n  user: {token: tok-a}\n");
	tu_write(b, "apiVersion: v1\nkind: Config\ncurrent-context: c2\n"
	            "clusters:\n- name: k1\n  cluster: {server: https://b-loses.example}\n"
	            "- name: k2\n  cluster: {server: https://b.example, "
	            "certificate-authority: certs/ca.pem}\n"
	            "contexts:\n- name: c1\n  context: {cluster: k2, user: u2}\n"
	            "- name: c2\n  context: {cluster: k2, user: u2}\n"
	            "users:\n- name: u2\n  user: {tokenFile: certs/token}\n");
	char *ca = tu_fmt("%s/sub/certs/ca.pem", d), *tok = tu_fmt("%s/sub/certs/token", d);
	tu_write(ca, "-----BEGIN CERTIFICATE-----\nX\n-----END CERTIFICATE-----\n");
	tu_write(tok, "tok-from-file\n");
	/* current-context from the first file that sets one; c1 from a.yaml */
	assert_int_equal(kubeconfig_load(paths, NULL, &t, &err), 0);
	assert_string_equal(t->context, "c1");
	assert_string_equal(t->server, "https://a.example:443");
	assert_string_equal(t->token, "tok-a");
	assert_string_equal(t->namespace_, "team");
	kube_target_free(t);
	/* c2 only in b.yaml; relative paths relative to b.yaml */
	assert_int_equal(kubeconfig_load(paths, "c2", &t, &err), 0);
	assert_string_equal(t->server, "https://b.example");
	assert_string_equal(t->token, "tok-from-file");
	assert_contains(t->ca_pem, "BEGIN CERTIFICATE");
	assert_string_equal(t->namespace_, "default");
	kube_target_free(t);
	/* the environment variable is the default list */
	setenv("KUBECONFIG", paths, 1);
	assert_int_equal(kubeconfig_load(NULL, "c2", &t, &err), 0);
	kube_target_free(t);
	unsetenv("KUBECONFIG");
	assert_int_equal(kubeconfig_contexts(paths, &names, &err), 0);
	assert_int_equal(json_array_size(names), 2);
	json_decref(names);
	assert_int_equal(kubeconfig_load(paths, "nope", &t, &err), -1);
	assert_contains(err.msg, "no context named nope");
	tu_rmrf(d);
	free(a); free(b); free(paths); free(ca); free(tok); free(d);
}

static void
test_inline_data_and_bad_users(void **state)
{
	char *d = tu_tmpdir(), *f = tu_fmt("%s/k.yaml", d);
	struct kube_target *t = NULL;
	struct mv_err err;

	(void)state;
	/* "hello" / "cert" / "key" in base64 */
	tu_write(f, "current-context: c\nclusters:\n- name: k\n  cluster:\n"
	            "    server: https://x\n    certificate-authority-data: aGVsbG8=\n"
	            "contexts:\n- name: c\n  context: {cluster: k, user: u}\n"
	            "- name: old\n  context: {cluster: k, user: gcp}\n"
	            "- name: noclu\n  context: {cluster: none, user: u}\n"
	            "users:\n- name: u\n  user:\n    client-certificate-data: Y2VydA==\n"
	            "    client-key-data: a2V5\n"
	            "- name: gcp\n  user:\n    auth-provider: {name: gcp}\n");
	assert_int_equal(kubeconfig_load(f, NULL, &t, &err), 0);
	assert_string_equal(t->ca_pem, "hello");
	assert_string_equal(t->client_cert_pem, "cert");
	assert_string_equal(t->client_key_pem, "key");
	kube_target_free(t);
	assert_int_equal(kubeconfig_load(f, "old", &t, &err), -1);
	assert_contains(err.msg, "auth-provider");
	assert_int_equal(kubeconfig_load(f, "noclu", &t, &err), -1);
	assert_contains(err.msg, "names cluster none");
	tu_rmrf(d);
	free(f);
	free(d);
}

static void
test_write_like_get_credentials(void **state)
{
	char *d = tu_tmpdir(), *f = tu_fmt("%s/kc", d), *text;
	json_t *kc = kubeconfig_new();
	struct kube_target *t = NULL;
	struct mv_err err;

	(void)state;
	kubeconfig_add_cluster(kc, "gke_p_z_c1", "127.0.0.1:6443", "aGVsbG8=", NULL);
	kubeconfig_add_cluster(kc, "gke_p_z_c2", "127.0.0.1:6444", "aGVsbG8=", "T0K");
	assert_int_equal(kubeconfig_write(f, kc, &err), 0);
	json_decref(kc);
	text = tu_read(f, NULL);
	assert_contains(text, "\"command\": \"gke-gcloud-auth-plugin\"");
	assert_contains(text, "\"provideClusterInfo\": true");
	assert_contains(text, "\"server\": \"https://127.0.0.1:6443\"");
	free(text);
	assert_int_equal(kubeconfig_load(f, NULL, &t, &err), 0);
	assert_string_equal(t->context, "gke_p_z_c1");
	assert_non_null(t->exec);
	assert_string_equal(t->exec->command, "gke-gcloud-auth-plugin");
	assert_true(t->exec->provide_cluster_info);
	kube_target_free(t);
	assert_int_equal(kubeconfig_load(f, "gke_p_z_c2", &t, &err), 0);
	assert_string_equal(t->token, "T0K");
	kube_target_free(t);
	assert_int_equal(tu_sh(NULL, "test \"$(stat -c %%a '%s')\" = 600", f), 0);
	tu_rmrf(d);
	free(f);
	free(d);
}

/*--- exec plugins --------------------------------------------------------*/

static struct kube *
client_with_exec(const char *d, int port, const char *expiry, const char *api)
{
	char *script = tu_fmt("%s/plugin.sh", d), *f = tu_fmt("%s/kc", d);
	struct kube_target *t = NULL;
	struct kube *k = NULL;
	struct mv_err err;

	tu_write(script, "#!/bin/sh\n"
	                 "n=$(cat \"$0.count\" 2>/dev/null || echo 0)\n"
	                 "echo $((n + 1)) > \"$0.count\"\n"
	                 "printf '%s' \"$KUBERNETES_EXEC_INFO\" > \"$0.info\"\n"
	                 "echo \"$MY_ENV\" > \"$0.env\"\n"
	                 "printf '{\"apiVersion\":\"%s\",\"kind\":\"ExecCredential\","
	                 "\"status\":{\"token\":\"tok-%s\",\"expirationTimestamp\":\"%s\"}}' "
	                 "\"$API\" \"$((n + 1))\" \"$EXP\"\n");
	assert_int_equal(tu_sh(NULL, "chmod +x '%s'", script), 0);
	char *kc = tu_fmt(
		"current-context: c\nclusters:\n- name: k\n  cluster: {server: "
		"\"http://127.0.0.1:%d\"}\ncontexts:\n- name: c\n  context: {cluster: k, "
		"user: u}\nusers:\n- name: u\n  user:\n    exec:\n      apiVersion: %s\n"
		"      command: %s\n      args: [--flag]\n      env:\n"
		"      - {name: MY_ENV, value: hi}\n      - {name: EXP, value: \"%s\"}\n"
		"      - {name: API, value: \"%s\"}\n"
		"      provideClusterInfo: true\n",
		port, api, script, expiry, api);
	tu_write(f, kc);
	free(kc);
	assert_int_equal(kubeconfig_load(f, NULL, &t, &err), 0);
	assert_int_equal(kube_new(t, new_http(), &k, &err), 0);
	free(script);
	free(f);
	return k;
}

static void
exec_case(const char *api)
{
	struct api a = {0};
	int port;
	struct MHD_Daemon *d = api_start(&a, &port);
	char *dir = tu_tmpdir(), exp[64], *info;
	struct mv_err err;
	time_t later = time(NULL) + 3600;
	struct kube *k;
	json_t *v = NULL;

	strftime(exp, sizeof(exp), "%Y-%m-%dT%H:%M:%SZ", gmtime(&later));
	k = client_with_exec(dir, port, exp, api);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(kube_call(k, "GET", "/version", NULL, NULL, 0, true, &v,
		                           &err), 0);
		json_decref(v);
	}
	/* cached until expirationTimestamp: one run for three calls */
	assert_int_equal(kube_exec_runs(k), 1);
	assert_string_equal(a.log[2].auth, "Bearer tok-1");
	char *cnt = tu_fmt("%s/plugin.sh.count", dir);
	char *c = tu_read(cnt, NULL);
	assert_string_equal(c, "1\n");
	free(c);
	char *infof = tu_fmt("%s/plugin.sh.info", dir);
	info = tu_read(infof, NULL);
	free(infof);
	assert_contains(info, "\"kind\":\"ExecCredential\"");
	assert_contains(info, api);
	assert_contains(info, "\"server\":\"http://127.0.0.1:");
	free(info);
	char *envf = tu_fmt("%s/plugin.sh.env", dir);
	c = tu_read(envf, NULL);
	free(envf);
	assert_string_equal(c, "hi\n");
	free(c);
	kube_free(k);
	/* an already expired credential is fetched again every time */
	k = client_with_exec(dir, port, "2001-01-01T00:00:00Z", api);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(kube_call(k, "GET", "/version", NULL, NULL, 0, true, &v,
		                           &err), 0);
		json_decref(v);
	}
	assert_int_equal(kube_exec_runs(k), 2);
	kube_free(k);
	free(cnt);
	tu_rmrf(dir);
	free(dir);
	MHD_stop_daemon(d);
}

static void
test_exec_v1beta1(void **state)
{
	(void)state;
	exec_case("client.authentication.k8s.io/v1beta1");
}

static void
test_exec_v1(void **state)
{
	(void)state;
	exec_case("client.authentication.k8s.io/v1");
}

static void
test_exec_failures(void **state)
{
	char *d = tu_tmpdir(), *f = tu_fmt("%s/kc", d);
	struct kube_target *t = NULL;
	struct kube *k = NULL;
	struct mv_err err;
	json_t *v = NULL;

	(void)state;
	tu_write(f, "current-context: c\nclusters:\n- name: k\n  cluster: {server: "
	            "\"http://127.0.0.1:9\"}\ncontexts:\n- name: c\n  context: {cluster: "
	            "k, user: u}\nusers:\n- name: u\n  user:\n    exec:\n"
	            "      command: /nonexistent/gke-gcloud-auth-plugin\n"
	            "      installHint: install the plugin\n");
	assert_int_equal(kubeconfig_load(f, NULL, &t, &err), 0);
	assert_int_equal(kube_new(t, new_http(), &k, &err), 0);
	assert_int_equal(kube_call(k, "GET", "/version", NULL, NULL, 0, true, &v,
	                           &err), -1);
	assert_contains(err.msg, "exec plugin /nonexistent/gke-gcloud-auth-plugin");
	assert_contains(err.msg, "install the plugin");
	kube_free(k);
	tu_write(f, "current-context: c\nclusters:\n- name: k\n  cluster: {server: "
	            "\"http://127.0.0.1:9\"}\ncontexts:\n- name: c\n  context: {cluster: "
	            "k, user: u}\nusers:\n- name: u\n  user:\n    exec:\n"
	            "      command: sh\n      args: [-c, 'echo not json; exit 0']\n");
	assert_int_equal(kubeconfig_load(f, NULL, &t, &err), 0);
	assert_int_equal(kube_new(t, new_http(), &k, &err), 0);
	assert_int_equal(kube_call(k, "GET", "/version", NULL, NULL, 0, true, &v,
	                           &err), -1);
	assert_contains(err.msg, "not an ExecCredential");
	kube_free(k);
	tu_rmrf(d);
	free(f);
	free(d);
}

/*--- discovery, apply, TokenRequest --------------------------------------*/

static struct kube *
token_client(int port)
{
	struct kube_target *t = calloc(1, sizeof(*t));
	struct kube *k = NULL;
	struct mv_err err;

	t->context = strdup("c");
	t->namespace_ = strdup("default");
	t->server = tu_fmt("http://127.0.0.1:%d", port);
	t->token = strdup("fake-token");
	assert_int_equal(kube_new(t, new_http(), &k, &err), 0);
	return k;
}

static void
test_discovery_mapping(void **state)
{
	struct api a = {0};
	int port;
	struct MHD_Daemon *d = api_start(&a, &port);
	struct kube *k = token_client(port);
	struct mv_err err;
	char *p;
	int before;

	(void)state;
	assert_int_equal(kube_path(k, "apps/v1", "Deployment", "demo", "web", &p,
	                           &err), 0);
	assert_string_equal(p, "/apis/apps/v1/namespaces/demo/deployments/web");
	free(p);
	before = a.n;
	assert_int_equal(kube_path(k, "v1", "Namespace", "ignored", "demo", &p,
	                           &err), 0);
	assert_string_equal(p, "/api/v1/namespaces/demo");
	free(p);
	assert_int_equal(kube_path(k, "networking.istio.io/v1", "WorkloadGroup",
	                           NULL, NULL, &p, &err), 0);
	assert_string_equal(p, "/apis/networking.istio.io/v1/namespaces/default/"
	                       "workloadgroups");
	free(p);
	assert_int_equal(a.n, before); /* cached */
	assert_int_equal(count(&a, "GET", "/api/v1"), 1);
	assert_int_equal(count(&a, "GET", "/apis/apps/v1"), 1);
	/* subresources are not kinds of their own */
	assert_int_equal(kube_path(k, "v1", "TokenRequest", "x", "y", &p, &err), -1);
	assert_contains(err.msg, "serves no TokenRequest in v1");
	/* an unknown kind triggers one fresh discovery (a CRD may be new) */
	assert_int_equal(count(&a, "GET", "/api/v1"), 2);
	assert_string_equal(a.log[0].auth, "Bearer fake-token");
	kube_free(k);
	MHD_stop_daemon(d);
}

static void
test_discovery_parse(void **state)
{
	struct kube_target *t = calloc(1, sizeof(*t));
	struct kube *k = NULL;
	struct mv_err err;
	json_t *list = json_loads(apps_v1, 0, NULL);
	const char *res;
	bool ns;

	(void)state;
	t->server = strdup("http://127.0.0.1:9");
	t->namespace_ = strdup("default");
	assert_int_equal(kube_new(t, NULL, &k, &err), 0);
	assert_int_equal(kube_discovery_add(k, list, &err), 0);
	assert_int_equal(kube_resource(k, "apps/v1", "Deployment", &res, &ns, &err),
	                 0);
	assert_string_equal(res, "deployments");
	assert_true(ns);
	json_decref(list);
	list = json_pack("{s:s}", "kind", "Nope");
	assert_int_equal(kube_discovery_add(k, list, &err), -1);
	json_decref(list);
	kube_free(k);
}

static void
test_apply_and_token(void **state)
{
	struct api a = {0};
	int port;
	struct MHD_Daemon *d = api_start(&a, &port);
	struct kube *k = token_client(port);
	struct mv_err err;
	json_t *items = NULL, *obj = NULL;
	char *tok = NULL;
	time_t exp = 0;
	int n = 0;
	const char *yaml = "apiVersion: v1\nkind: Namespace\nmetadata: {name: demo}\n"
	                   "---\n---\napiVersion: apps/v1\nkind: Deployment\n"
	                   "metadata: {name: web}\nspec: {replicas: 2}\n";

	(void)state;
	assert_int_equal(kube_apply_yaml(k, "m.yaml", yaml, strlen(yaml), "demo",
	                                 false, &n, &err), 0);
	assert_int_equal(n, 2);
	int i = a.n - 1;
	assert_string_equal(a.log[i].method, "PATCH");
	assert_string_equal(a.log[i].url, "/apis/apps/v1/namespaces/demo/"
	                                  "deployments/web?fieldManager=meshvm");
	assert_string_equal(a.log[i].ctype, "application/apply-patch+yaml");
	assert_contains(a.log[i].body, "\"namespace\":\"demo\"");
	assert_contains(a.log[i - 1].url, "/api/v1/namespaces/demo?fieldManager=meshvm");
	/* a bad document is named with its position */
	assert_int_equal(kube_apply_yaml(k, "bad.yaml", "kind: X\n", 8, NULL,
	                                 false, NULL, &err), -1);
	assert_contains(err.msg, "bad.yaml:1:1: object without apiVersion");
	/* get / 404 / list */
	assert_int_equal(kube_get(k, "v1", "ConfigMap", "demo", "missing", &obj,
	                          &err), 1);
	assert_int_equal(kube_list(k, "v1", "ConfigMap", "demo", "app=x", &items,
	                           &err), 0);
	assert_int_equal(json_array_size(items), 2);
	json_decref(items);
	/* TokenRequest */
	assert_int_equal(kube_token_request(k, "ns1", "default", "istio-ca", 3600,
	                                    &tok, &exp, &err), 0);
	assert_string_equal(tok, "tok.en.x");
	assert_int_equal(exp, 1893553445);
	i = a.n - 1;
	assert_string_equal(a.log[i].url, "/api/v1/namespaces/ns1/serviceaccounts/"
	                                  "default/token");
	assert_contains(a.log[i].body, "\"audiences\":[\"istio-ca\"]");
	assert_contains(a.log[i].body, "\"expirationSeconds\":3600");
	free(tok);
	kube_free(k);
	MHD_stop_daemon(d);
}

static void
test_parse_time(void **state)
{
	time_t t;

	(void)state;
	assert_int_equal(kube_parse_time("1970-01-01T00:00:10Z", &t), 0);
	assert_int_equal(t, 10);
	assert_int_equal(kube_parse_time("1970-01-01T01:00:10.123+01:00", &t), 0);
	assert_int_equal(t, 10);
	assert_int_equal(kube_parse_time("yesterday", &t), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_merge),
		cmocka_unit_test(test_inline_data_and_bad_users),
		cmocka_unit_test(test_write_like_get_credentials),
		cmocka_unit_test(test_exec_v1beta1),
		cmocka_unit_test(test_exec_v1),
		cmocka_unit_test(test_exec_failures),
		cmocka_unit_test(test_discovery_mapping),
		cmocka_unit_test(test_discovery_parse),
		cmocka_unit_test(test_apply_and_token),
		cmocka_unit_test(test_parse_time),
	};
	return cmocka_run_group_tests(tests, NULL, free_clients);
}
