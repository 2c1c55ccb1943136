/* cluster/kubeconfig.c - kubeconfig load and write (see kubeconfig.h). */
#include "cluster/kubeconfig.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/atomic.h"
#include "core/base64.h"
#include "core/util.h"
#include "core/yaml.h"
#include "core/xalloc.h"

/*--- writing -------------------------------------------------------------*/

json_t *
kubeconfig_new(void)
{
	return json_pack("{s:s,s:s,s:[],s:[],s:[],s:{},s:s}", "apiVersion", "v1",
	                 "kind", "Config", "clusters", "contexts", "users",
	                 "preferences", "current-context", "");
}

/* A token user, stamped with when its token stops working: Google access
 * tokens live an hour, so a kubeconfig written with one goes stale, and
 * says when (an extension, as minikube's; kubectl ignores it). */
static json_t *
token_user(const char *token, time_t now)
{
	char when[32];
	struct tm tm;
	time_t by = now + KUBECONFIG_TOKEN_LIFETIME;

	gmtime_r(&by, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return json_pack("{s:s,s:[{s:s,s:{s:s,s:s}}]}", "token", token,
	                 "extensions", "name", KUBECONFIG_EXTENSION, "extension",
	                 "token-expires-by", when, "note",
	                 "a Google access token (1 hour); `meshvm up` with a "
	                 "fresh token rewrites it");
}

/* Our extension of a user, or NULL (not written by meshvm). */
static json_t *
our_extension(const json_t *user)
{
	json_t *exts = json_object_get(user, "extensions"), *e;
	size_t i;

	json_array_foreach(exts, i, e) {
		const char *n = json_string_value(json_object_get(e, "name"));
		if (n != NULL && strcmp(n, KUBECONFIG_EXTENSION) == 0)
			return json_object_get(e, "extension");
	}
	return NULL;
}

static int
parse_utc(const char *s, time_t *out)
{
	struct tm tm;
	const char *end;

	memset(&tm, 0, sizeof(tm));
	if (s == NULL || (end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm)) == NULL ||
	    *end != '\0')
		return -1;
	*out = timegm(&tm);
	return 0;
}

void
kubeconfig_add_cluster(json_t *kc, const char *name, const char *endpoint,
                       const char *ca_b64, const char *token)
{
	char server[512];
	json_t *user;

	snprintf(server, sizeof(server), "%s%s",
	         strncmp(endpoint ? endpoint : "", "https://", 8) ? "https://" : "",
	         endpoint ? endpoint : "");
	json_array_append_new(json_object_get(kc, "clusters"),
	                      json_pack("{s:s,s:{s:s,s:s}}", "name", name, "cluster",
	                                "server", server,
	                                "certificate-authority-data",
	                                ca_b64 ? ca_b64 : ""));
	json_array_append_new(json_object_get(kc, "contexts"),
	                      json_pack("{s:s,s:{s:s,s:s}}", "name", name, "context",
	                                "cluster", name, "user", name));
	if (token != NULL)
		user = token_user(token, time(NULL));
	else
		user = json_pack(
			"{s:{s:s,s:s,s:s,s:b}}", "exec", "apiVersion",
			"client.authentication.k8s.io/v1beta1", "command",
			"gke-gcloud-auth-plugin", "installHint",
			"Install gke-gcloud-auth-plugin for use with kubectl by following "
			"https://cloud.google.com/kubernetes-engine/docs/how-to/"
			"cluster-access-for-kubectl#install_plugin",
			"provideClusterInfo", 1);
	json_array_append_new(json_object_get(kc, "users"),
	                      json_pack("{s:s,s:o}", "name", name, "user", user));
	if (json_string_length(json_object_get(kc, "current-context")) == 0)
		json_object_set_new(kc, "current-context", json_string(name));
}

int
kubeconfig_write(const char *path, const json_t *kc, struct mv_err *err)
{
	char *text = json_dumps(kc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	int rc;

	if (text == NULL)
		return mv_err_set(err, MV_EXIT_FAIL, "out of memory");
	rc = mv_write_file_atomic(path, text, strlen(text), 0600, err);
	explicit_bzero(text, strlen(text));
	free(text);
	return rc;
}

/* The kubeconfig meshvm wrote, as JSON (new ref), or NULL when absent
 * (1 returned); -1 on error. */
static int
load_ours(const char *path, json_t **out, struct mv_err *err)
{
	struct mv_yaml *y = NULL;

	*out = NULL;
	if (access(path, F_OK) != 0)
		return 1;
	if (mv_yaml_load_file(path, &y, err) != 0)
		return -1;
	*out = json_incref(mv_yaml_doc(y, 0));
	mv_yaml_free(y);
	if (!json_is_object(*out)) {
		json_decref(*out);
		*out = NULL;
		return mv_err_at(err, MV_EXIT_FAIL, path, 0, 0,
		                 "not a kubeconfig (expected a mapping)");
	}
	return 0;
}

int
kubeconfig_token_expiry(const char *path, time_t *expires, struct mv_err *err)
{
	json_t *kc, *u;
	size_t i;
	int rc = load_ours(path, &kc, err), found = 0;

	if (rc != 0)
		return rc > 0 ? 0 : -1;
	json_array_foreach(json_object_get(kc, "users"), i, u) {
		json_t *ext = our_extension(json_object_get(u, "user"));
		time_t t;
		if (ext == NULL ||
		    parse_utc(json_string_value(json_object_get(ext,
		                                                "token-expires-by")),
		              &t) != 0)
			continue;
		if (!found || t < *expires)
			*expires = t;
		found = 1;
	}
	json_decref(kc);
	return found;
}

int
kubeconfig_refresh_token(const char *path, const char *token, time_t now,
                         struct mv_err *err)
{
	json_t *kc, *u;
	size_t i;
	int rc = load_ours(path, &kc, err), changed = 0;

	if (rc != 0)
		return rc > 0 ? 0 : -1;
	json_array_foreach(json_object_get(kc, "users"), i, u) {
		json_t *user = json_object_get(u, "user");
		const char *old = json_string_value(json_object_get(user, "token"));
		/* only token users meshvm wrote; never someone else's */
		if (our_extension(user) == NULL || old == NULL ||
		    strcmp(old, token) == 0)
			continue;
		json_object_set_new(u, "user", token_user(token, now));
		changed = 1;
	}
	rc = changed ? kubeconfig_write(path, kc, err) : 0;
	json_decref(kc);
	return rc < 0 ? -1 : changed;
}

/*--- loading -------------------------------------------------------------*/

struct kc_file {
	char *path;
	char *dir;
	struct mv_yaml *y;
	json_t *doc;
};

struct merged {
	struct kc_file *files;
	size_t n;
};

static void
merged_free(struct merged *m)
{
	for (size_t i = 0; i < m->n; i++) {
		free(m->files[i].path);
		free(m->files[i].dir);
		mv_yaml_free(m->files[i].y);
	}
	free(m->files);
}

static int
merged_load(const char *paths, struct merged *m, struct mv_err *err)
{
	char *list, *save = NULL;
	const char *env = getenv("KUBECONFIG");
	char dflt[4096];

	memset(m, 0, sizeof(*m));
	if (paths == NULL && env != NULL && env[0] != '\0')
		paths = env;
	if (paths == NULL) {
		snprintf(dflt, sizeof(dflt), "%s/.kube/config",
		         getenv("HOME") ? getenv("HOME") : "");
		paths = dflt;
	}
	list = mv_xstrdup(paths);
	for (char *p = strtok_r(list, ":", &save); p; p = strtok_r(NULL, ":", &save)) {
		struct kc_file f = {0};
		const char *slash;
		if (access(p, R_OK) != 0)
			continue; /* kubectl skips missing files */
		if (mv_yaml_load_file(p, &f.y, err) != 0) {
			free(list);
			merged_free(m);
			return -1;
		}
		f.doc = mv_yaml_doc(f.y, 0);
		if (!json_is_object(f.doc)) {
			mv_yaml_free(f.y);
			if (json_is_null(f.doc))
				continue; /* an empty file */
			free(list);
			merged_free(m);
			return mv_err_at(err, MV_EXIT_FAIL, p, 0, 0,
			                 "not a kubeconfig (expected a mapping)");
		}
		f.path = mv_xstrdup(p);
		slash = strrchr(p, '/');
		f.dir = slash ? mv_xstrndup(p, (size_t)(slash - p)) : mv_xstrdup(".");
		m->files = mv_xreallocarray(m->files, m->n + 1, sizeof(*m->files));
		m->files[m->n++] = f;
	}
	free(list);
	if (m->n == 0)
		return mv_err_set(err, MV_EXIT_FAIL, "no kubeconfig found (%s)", paths);
	return 0;
}

/* First entry named `name` in section (clusters/users/contexts) of any file;
 * *from says which file (for relative paths). */
static json_t *
find_named(const struct merged *m, const char *section, const char *name,
           const struct kc_file **from)
{
	for (size_t i = 0; i < m->n; i++) {
		json_t *arr = json_object_get(m->files[i].doc, section), *e;
		size_t k;
		json_array_foreach(arr, k, e) {
			const char *n = json_string_value(json_object_get(e, "name"));
			if (n != NULL && !strcmp(n, name)) {
				*from = &m->files[i];
				return e;
			}
		}
	}
	return NULL;
}

static char *
read_file(const char *dir, const char *path, size_t max, struct mv_err *err)
{
	char *full = mv_path_join(dir, path), *buf;

	if (full == NULL) {
		mv_err_set(err, MV_EXIT_FAIL, "out of memory");
		return NULL;
	}
	buf = mv_read_file(full, max, NULL, err);
	free(full);
	return buf;
}

static char *
b64_decode(const char *in, struct mv_err *err, const char *what)
{
	uint8_t *out = NULL;
	size_t n = 0;

	if (mv_base64_decode(in, strlen(in), &out, &n) != 0) {
		mv_err_set(err, MV_EXIT_FAIL, "%s: not valid base64", what);
		return NULL;
	}
	return (char *)out; /* NUL-terminated by the decoder */
}

/* A value given inline (NAME-data, base64) or as a file (NAME). */
static int
data_or_file(const json_t *obj, const char *name, const struct kc_file *from,
             char **out, struct mv_err *err)
{
	char key[128];
	const char *v;

	*out = NULL;
	snprintf(key, sizeof(key), "%s-data", name);
	if ((v = json_string_value(json_object_get(obj, key))) != NULL && v[0]) {
		*out = b64_decode(v, err, key);
		return *out ? 0 : mv_err_prefix(err, "%s", from->path);
	}
	if ((v = json_string_value(json_object_get(obj, name))) != NULL && v[0]) {
		*out = read_file(from->dir, v, 1u << 20, err);
		return *out ? 0 : mv_err_prefix(err, "%s: %s", from->path, name);
	}
	return 0;
}

static char **
string_list(const json_t *arr)
{
	size_t n = json_array_size(arr), i;
	char **out = mv_xcalloc(n + 1, sizeof(char *));
	json_t *v;

	json_array_foreach(arr, i, v)
		out[i] = mv_xstrdup(json_is_string(v) ? json_string_value(v) : "");
	return out;
}

static void
strv_free(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

void
kube_target_free(struct kube_target *t)
{
	if (t == NULL)
		return;
	free(t->context);
	free(t->namespace_);
	free(t->server);
	free(t->ca_pem);
	if (t->token != NULL) {
		explicit_bzero(t->token, strlen(t->token));
		free(t->token);
	}
	free(t->client_cert_pem);
	if (t->client_key_pem != NULL) {
		explicit_bzero(t->client_key_pem, strlen(t->client_key_pem));
		free(t->client_key_pem);
	}
	if (t->exec != NULL) {
		free(t->exec->api_version);
		free(t->exec->command);
		strv_free(t->exec->args);
		strv_free(t->exec->env);
		free(t->exec->install_hint);
		free(t->exec);
	}
	free(t);
}

int
kubeconfig_load(const char *paths, const char *context,
                struct kube_target **out, struct mv_err *err)
{
	struct merged m;
	const struct kc_file *cf = NULL, *clf = NULL, *uf = NULL;
	json_t *ctx, *cluster, *user, *c, *u;
	struct kube_target *t;
	const char *cname, *uname, *v;

	*out = NULL;
	if (merged_load(paths, &m, err) != 0)
		return -1;
	if (context == NULL)
		for (size_t i = 0; i < m.n && context == NULL; i++) {
			v = json_string_value(json_object_get(m.files[i].doc,
			                                      "current-context"));
			if (v != NULL && v[0] != '\0')
				context = v;
		}
	if (context == NULL) {
		merged_free(&m);
		return mv_err_set(err, MV_EXIT_FAIL,
		                  "kubeconfig: no context given and no current-context");
	}
	ctx = find_named(&m, "contexts", context, &cf);
	if (ctx == NULL) {
		mv_err_set(err, MV_EXIT_FAIL, "kubeconfig: no context named %s",
		           context);
		merged_free(&m);
		return -1;
	}
	c = json_object_get(ctx, "context");
	cname = json_string_value(json_object_get(c, "cluster"));
	uname = json_string_value(json_object_get(c, "user"));
	cluster = cname ? find_named(&m, "clusters", cname, &clf) : NULL;
	user = uname ? find_named(&m, "users", uname, &uf) : NULL;
	if (cluster == NULL) {
		mv_err_set(err, MV_EXIT_FAIL, "kubeconfig: context %s names cluster "
		           "%s, which no file defines", context, cname ? cname : "?");
		merged_free(&m);
		return -1;
	}
	t = mv_xcalloc(1, sizeof(*t));
	t->context = mv_xstrdup(context);
	v = json_string_value(json_object_get(c, "namespace"));
	t->namespace_ = mv_xstrdup(v && v[0] ? v : "default");
	c = json_object_get(cluster, "cluster");
	v = json_string_value(json_object_get(c, "server"));
	if (v == NULL || v[0] == '\0') {
		mv_err_set(err, MV_EXIT_FAIL, "%s: cluster %s has no server",
		           clf->path, cname);
		goto fail;
	}
	t->server = mv_xstrdup(v);
	t->insecure = json_is_true(json_object_get(c, "insecure-skip-tls-verify"));
	if (data_or_file(c, "certificate-authority", clf, &t->ca_pem, err) != 0)
		goto fail;
	u = json_object_get(user, "user");
	if (u != NULL) {
		if ((v = json_string_value(json_object_get(u, "token"))) && v[0])
			t->token = mv_xstrdup(v);
		else if ((v = json_string_value(json_object_get(u, "tokenFile"))) &&
		         v[0]) {
			t->token = read_file(uf->dir, v, 65536, err);
			if (t->token == NULL)
				goto fail;
			t->token[strcspn(t->token, "\r\n")] = '\0';
		}
		if (data_or_file(u, "client-certificate", uf, &t->client_cert_pem,
		                 err) != 0 ||
		    data_or_file(u, "client-key", uf, &t->client_key_pem, err) != 0)
			goto fail;
		json_t *ex = json_object_get(u, "exec");
		if (json_is_object(ex)) {
			json_t *envs = json_object_get(ex, "env"), *e;
			size_t i;
			t->exec = mv_xcalloc(1, sizeof(*t->exec));
			v = json_string_value(json_object_get(ex, "command"));
			if (v == NULL) {
				mv_err_set(err, MV_EXIT_FAIL, "%s: user %s: exec without "
				           "command", uf->path, uname);
				goto fail;
			}
			t->exec->command = mv_xstrdup(v);
			v = json_string_value(json_object_get(ex, "apiVersion"));
			t->exec->api_version = mv_xstrdup(
				v ? v : "client.authentication.k8s.io/v1beta1");
			t->exec->args = string_list(json_object_get(ex, "args"));
			t->exec->env = mv_xcalloc(json_array_size(envs) + 1, sizeof(char *));
			json_array_foreach(envs, i, e) {
				const char *n = json_string_value(json_object_get(e, "name"));
				const char *val = json_string_value(json_object_get(e, "value"));
				t->exec->env[i] = mv_xstrfmt("%s=%s", n ? n : "",
				                             val ? val : "");
			}
			t->exec->provide_cluster_info =
				json_is_true(json_object_get(ex, "provideClusterInfo"));
			v = json_string_value(json_object_get(ex, "installHint"));
			t->exec->install_hint = v ? mv_xstrdup(v) : NULL;
		} else if (json_object_get(u, "auth-provider") != NULL) {
			mv_err_set(err, MV_EXIT_FAIL,
			           "%s: user %s uses auth-provider, which current kubectl "
			           "and meshvm no longer support; use an exec plugin "
			           "(gke-gcloud-auth-plugin)", uf->path, uname);
			goto fail;
		}
	}
	merged_free(&m);
	*out = t;
	return 0;
fail:
	merged_free(&m);
	kube_target_free(t);
	return -1;
}

int
kubeconfig_contexts(const char *paths, json_t **names, struct mv_err *err)
{
	struct merged m;

	*names = NULL;
	if (merged_load(paths, &m, err) != 0)
		return -1;
	*names = json_array();
	for (size_t i = 0; i < m.n; i++) {
		json_t *arr = json_object_get(m.files[i].doc, "contexts"), *e, *x;
		size_t k, j;
		json_array_foreach(arr, k, e) {
			json_t *n = json_object_get(e, "name");
			bool dup = false;
			if (!json_is_string(n))
				continue;
			json_array_foreach(*names, j, x) dup |= json_equal(x, n);
			if (!dup)
				json_array_append(*names, n);
		}
	}
	merged_free(&m);
	return 0;
}
