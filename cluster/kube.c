/* cluster/kube.c - Kubernetes REST client (see kube.h). */
#include "cluster/kube.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/base64.h"
#include "core/http.h"
#include "core/poll.h"
#include "core/log.h"
#include "core/signal.h"
#include "core/yaml.h"
#include "core/xalloc.h"

extern char **environ;

#define EXEC_TIMEOUT_MS 60000
#define EXEC_OUTPUT_MAX (1u << 20)

struct kind_map {
	char *group_version; /* "v1", "apps/v1" */
	char *kind;
	char *resource;
	bool namespaced;
};

struct kube {
	struct kube_target *t;
	struct mv_http *http;
	/* exec plugin cache */
	char *exec_token;
	time_t exec_expires; /* 0 = no expiry given */
	int exec_runs;
	/* discovery */
	struct kind_map *kinds;
	size_t n_kinds;
};

static void
kinds_clear(struct kube *k)
{
	for (size_t i = 0; i < k->n_kinds; i++) {
		free(k->kinds[i].group_version);
		free(k->kinds[i].kind);
		free(k->kinds[i].resource);
	}
	k->n_kinds = 0;
}

int
kube_new(struct kube_target *target, struct mv_http *http, struct kube **out,
         struct mv_err *err)
{
	struct kube *k;

	*out = NULL;
	if (target->insecure) {
		kube_target_free(target);
		return mv_err_set(err, MV_EXIT_FAIL,
		                  "kubeconfig: insecure-skip-tls-verify is refused; "
		                  "give the cluster's certificate-authority");
	}
	k = mv_xcalloc(1, sizeof(*k));
	k->t = target;
	k->http = http;
	*out = k;
	return 0;
}

void
kube_free(struct kube *k)
{
	if (k == NULL)
		return;
	kube_target_free(k->t);
	if (k->exec_token != NULL) {
		explicit_bzero(k->exec_token, strlen(k->exec_token));
		free(k->exec_token);
	}
	kinds_clear(k);
	free(k->kinds);
	free(k);
}

const struct kube_target *
kube_target_of(const struct kube *k)
{
	return k->t;
}

int
kube_exec_runs(const struct kube *k)
{
	return k->exec_runs;
}

int
kube_parse_time(const char *s, time_t *out)
{
	struct tm tm;
	const char *p;
	long off = 0;

	memset(&tm, 0, sizeof(tm));
	if (s == NULL || (p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm)) == NULL)
		return -1;
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++)
			;
	if (*p == '+' || *p == '-') {
		int hh, mm;
		if (sscanf(p + 1, "%2d:%2d", &hh, &mm) != 2)
			return -1;
		off = (hh * 3600L + mm * 60L) * (*p == '+' ? 1 : -1);
	} else if (*p != 'Z' && *p != 'z') {
		return -1;
	}
	*out = timegm(&tm) - off;
	return 0;
}

/*--- exec credential plugins ---------------------------------------------*/

static char *
exec_info(const struct kube *k)
{
	json_t *spec = json_pack("{s:b}", "interactive", 0), *info;
	char *s;

	if (k->t->exec->provide_cluster_info) {
		json_t *c = json_pack("{s:s}", "server", k->t->server);
		if (k->t->ca_pem != NULL) {
			/* certificate-authority-data is base64 of the PEM */
			char *b = mv_base64_encode(k->t->ca_pem, strlen(k->t->ca_pem));
			if (b != NULL)
				json_object_set_new(c, "certificate-authority-data",
				                    json_string(b));
			free(b);
		}
		json_object_set_new(spec, "cluster", c);
	}
	info = json_pack("{s:s,s:s,s:o}", "apiVersion", k->t->exec->api_version,
	                 "kind", "ExecCredential", "spec", spec);
	s = json_dumps(info, JSON_COMPACT);
	json_decref(info);
	return s;
}

/* Run the plugin, read its ExecCredential from stdout. */
static int
exec_plugin(struct kube *k, struct mv_err *err)
{
	const struct kube_exec *ex = k->t->exec;
	size_t n_env = 0, n_args = 0;
	char **argv, **envp, *info, *infovar = NULL, *out = NULL;
	posix_spawn_file_actions_t fa;
	int pipefd[2], status = 0;
	size_t len = 0;
	pid_t pid;
	json_t *cred;
	const char *tok, *exp;
	struct timespec t0;

	for (char **e = environ; *e; e++)
		n_env++;
	for (char **e = ex->env; e && *e; e++)
		n_env++;
	for (char **a = ex->args; a && *a; a++)
		n_args++;
	argv = mv_xcalloc(n_args + 2, sizeof(char *));
	envp = mv_xcalloc(n_env + 2, sizeof(char *));
	info = exec_info(k);
	if (info == NULL) { /* jansson's own allocation */
		free(argv);
		free(envp);
		return mv_err_set(err, MV_EXIT_FAIL, "out of memory");
	}
	infovar = mv_xstrfmt("KUBERNETES_EXEC_INFO=%s", info);
	free(info);
	argv[0] = ex->command;
	for (size_t i = 0; i < n_args; i++)
		argv[i + 1] = ex->args[i];
	n_env = 0;
	for (char **e = environ; *e; e++)
		if (strncmp(*e, "KUBERNETES_EXEC_INFO=", 21) != 0)
			envp[n_env++] = *e;
	for (char **e = ex->env; e && *e; e++)
		envp[n_env++] = *e;
	envp[n_env++] = infovar;
	if (pipe2(pipefd, O_CLOEXEC) != 0) {
		free(argv);
		free(envp);
		free(infovar);
		return mv_err_sys(err, errno, "exec plugin %s: pipe", ex->command);
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], STDOUT_FILENO);
	posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
	if (posix_spawnp(&pid, ex->command, &fa, NULL, argv, envp) != 0) {
		int e = errno;
		posix_spawn_file_actions_destroy(&fa);
		close(pipefd[0]);
		close(pipefd[1]);
		free(argv);
		free(envp);
		free(infovar);
		return mv_err_set(err, MV_EXIT_FAIL, "exec plugin %s: %s%s%s",
		                  ex->command, strerror(e),
		                  ex->install_hint ? ": " : "",
		                  ex->install_hint ? ex->install_hint : "");
	}
	posix_spawn_file_actions_destroy(&fa);
	close(pipefd[1]);
	free(argv);
	free(envp);
	free(infovar);
	k->exec_runs++;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	out = mv_xmalloc(EXEC_OUTPUT_MAX + 1);
	for (;;) {
		struct pollfd p = {pipefd[0], POLLIN, 0};
		struct timespec t1;
		ssize_t r;
		clock_gettime(CLOCK_MONOTONIC, &t1);
		long left = EXEC_TIMEOUT_MS - ((t1.tv_sec - t0.tv_sec) * 1000 +
		                               (t1.tv_nsec - t0.tv_nsec) / 1000000);
		if (left <= 0 || poll(&p, 1, (int)left) == 0) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			close(pipefd[0]);
			free(out);
			return mv_err_set(err, MV_EXIT_FAIL,
			                  "exec plugin %s: no answer in %ds", ex->command,
			                  EXEC_TIMEOUT_MS / 1000);
		}
		r = read(pipefd[0], out + len, EXEC_OUTPUT_MAX - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0 || len + (size_t)r >= EXEC_OUTPUT_MAX) {
			if (r > 0)
				len += (size_t)r;
			break;
		}
		len += (size_t)r;
	}
	close(pipefd[0]);
	out[len] = '\0';
	waitpid(pid, &status, 0);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		free(out);
		/* 127: the shell's "command not found" (also how posix_spawn
		 * failures surface under some runtimes): show the hint. */
		bool missing = WIFEXITED(status) && WEXITSTATUS(status) == 127;
		return mv_err_set(err, MV_EXIT_FAIL, "exec plugin %s failed (%s %d)%s%s",
		                  ex->command,
		                  WIFEXITED(status) ? "exit" : "signal",
		                  WIFEXITED(status) ? WEXITSTATUS(status)
		                                    : WTERMSIG(status),
		                  missing && ex->install_hint ? ": " : "",
		                  missing && ex->install_hint ? ex->install_hint : "");
	}
	cred = json_loadb(out, len, 0, NULL);
	explicit_bzero(out, len);
	free(out);
	tok = json_string_value(json_object_get(json_object_get(cred, "status"),
	                                        "token"));
	exp = json_string_value(json_object_get(json_object_get(cred, "status"),
	                                        "expirationTimestamp"));
	if (tok == NULL) {
		json_decref(cred);
		return mv_err_set(err, MV_EXIT_FAIL,
		                  "exec plugin %s: output is not an ExecCredential "
		                  "with status.token", ex->command);
	}
	if (k->exec_token != NULL) {
		explicit_bzero(k->exec_token, strlen(k->exec_token));
		free(k->exec_token);
	}
	k->exec_token = mv_xstrdup(tok);
	k->exec_expires = 0;
	if (exp != NULL && kube_parse_time(exp, &k->exec_expires) != 0)
		k->exec_expires = 0;
	json_decref(cred);
	return 0;
}

static int
bearer(struct kube *k, const char **token, struct mv_err *err)
{
	*token = k->t->token;
	if (k->t->exec == NULL)
		return 0;
	/* Cached until its expiry (with a minute's margin). */
	if (k->exec_token == NULL ||
	    (k->exec_expires != 0 && time(NULL) + 60 >= k->exec_expires))
		if (exec_plugin(k, err) != 0)
			return -1;
	*token = k->exec_token;
	return 0;
}

/*--- requests ------------------------------------------------------------*/

int
kube_call(struct kube *k, const char *method, const char *path,
          const char *content_type, const char *body, size_t body_len,
          bool idempotent, json_t **out, struct mv_err *err)
{
	char *url = NULL;
	struct mv_http_req req = {0};
	struct mv_http_resp resp;
	const char *tok;
	int rc;

	if (out)
		*out = NULL;
	if (bearer(k, &tok, err) != 0)
		return -1;
	url = mv_xstrfmt("%s%s", k->t->server, path);
	req.method = method;
	req.url = url;
	req.body = body;
	req.body_len = body_len;
	req.content_type = content_type;
	req.bearer = tok;
	req.idempotent = idempotent;
	req.ca_pem = k->t->ca_pem;
	req.client_cert_pem = k->t->client_cert_pem;
	req.client_key_pem = k->t->client_key_pem;
	if (mv_http_do(k->http, &req, &resp, err) != 0) {
		free(url);
		return -1;
	}
	if (resp.status == 404) {
		rc = 1;
	} else if (resp.status < 200 || resp.status > 299) {
		mv_http_fail(err, &req, &resp);
		rc = -1;
	} else {
		rc = 0;
		if (out != NULL && resp.len > 0) {
			*out = json_loadb(resp.body, resp.len, 0, NULL);
			if (*out == NULL)
				rc = mv_err_set(err, MV_EXIT_CLOUD, "%s %s: answer is not "
				                "JSON", method, path);
		}
	}
	mv_http_resp_free(&resp);
	free(url);
	return rc;
}

int
kube_discovery_add(struct kube *k, const json_t *list, struct mv_err *err)
{
	const char *gv = json_string_value(json_object_get(list, "groupVersion"));
	json_t *res = json_object_get(list, "resources"), *r;
	size_t i;

	if (gv == NULL || !json_is_array(res))
		return mv_err_set(err, MV_EXIT_CLOUD,
		                  "discovery: not an APIResourceList");
	json_array_foreach(res, i, r) {
		const char *name = json_string_value(json_object_get(r, "name"));
		const char *kind = json_string_value(json_object_get(r, "kind"));
		struct kind_map *m;
		if (name == NULL || kind == NULL || strchr(name, '/') != NULL)
			continue; /* subresources: serviceaccounts/token, …/status */
		m = mv_xreallocarray(k->kinds, k->n_kinds + 1, sizeof(*m));
		k->kinds = m;
		m = &k->kinds[k->n_kinds++];
		m->group_version = mv_xstrdup(gv);
		m->kind = mv_xstrdup(kind);
		m->resource = mv_xstrdup(name);
		m->namespaced = json_is_true(json_object_get(r, "namespaced"));
	}
	return 0;
}

static int
discover(struct kube *k, struct mv_err *err)
{
	json_t *apis = NULL, *core = NULL, *groups, *g;
	size_t i;

	if (kube_call(k, "GET", "/api/v1", NULL, NULL, 0, true, &core, err) != 0)
		return mv_err_prefix(err, "discovery");
	if (kube_discovery_add(k, core, err) != 0) {
		json_decref(core);
		return -1;
	}
	json_decref(core);
	if (kube_call(k, "GET", "/apis", NULL, NULL, 0, true, &apis, err) != 0)
		return mv_err_prefix(err, "discovery");
	groups = json_object_get(apis, "groups");
	json_array_foreach(groups, i, g) {
		json_t *versions = json_object_get(g, "versions"), *v;
		size_t j;
		/* Every served version: manifests may name an older one. */
		json_array_foreach(versions, j, v) {
			const char *vgv = json_string_value(json_object_get(v,
			                                                    "groupVersion"));
			char path[512];
			json_t *list = NULL;
			int rc;
			if (vgv == NULL)
				continue;
			snprintf(path, sizeof(path), "/apis/%s", vgv);
			rc = kube_call(k, "GET", path, NULL, NULL, 0, true, &list, err);
			if (rc < 0) {
				json_decref(apis);
				return mv_err_prefix(err, "discovery");
			}
			if (rc == 0 && kube_discovery_add(k, list, err) != 0) {
				json_decref(list);
				json_decref(apis);
				return -1;
			}
			json_decref(list);
		}
	}
	json_decref(apis);
	return 0;
}

static const struct kind_map *
lookup(const struct kube *k, const char *gv, const char *kind)
{
	for (size_t i = 0; i < k->n_kinds; i++)
		if (!strcmp(k->kinds[i].group_version, gv) &&
		    !strcmp(k->kinds[i].kind, kind))
			return &k->kinds[i];
	return NULL;
}

int
kube_resource(struct kube *k, const char *api_version, const char *kind,
              const char **resource, bool *namespaced, struct mv_err *err)
{
	const struct kind_map *m = lookup(k, api_version, kind);

	if (m == NULL) {
		/* Unknown: discover (again: a CRD may have just been applied). */
		kinds_clear(k);
		if (discover(k, err) != 0)
			return -1;
		m = lookup(k, api_version, kind);
	}
	if (m == NULL) {
		mv_err_set(err, MV_EXIT_CLOUD, "the cluster serves no %s in %s (is "
		           "its CRD installed?)", kind, api_version);
		/* as the API server answers for an unknown resource: readers
		 * (kube_get, kube_list) take it as "nothing there" */
		if (err != NULL)
			err->http_status = 404;
		return -1;
	}
	*resource = m->resource;
	*namespaced = m->namespaced;
	return 0;
}

int
kube_path(struct kube *k, const char *api_version, const char *kind,
          const char *ns, const char *name, char **path, struct mv_err *err)
{
	const char *resource;
	bool namespaced;
	char *esc_name = NULL;

	*path = NULL;
	if (kube_resource(k, api_version, kind, &resource, &namespaced, err) != 0)
		return -1;
	if (name != NULL)
		esc_name = curl_easy_escape(NULL, name, 0);
	if (name != NULL && esc_name == NULL)
		return mv_err_set(err, MV_EXIT_FAIL, "out of memory");
	*path = mv_xstrfmt("/%s/%s%s%s/%s%s%s",
	                   strchr(api_version, '/') ? "apis" : "api", api_version,
	                   namespaced ? "/namespaces/" : "",
	                   namespaced ? (ns ? ns : k->t->namespace_) : "",
	                   resource, name ? "/" : "", name ? esc_name : "");
	curl_free(esc_name);
	return 0;
}

int
kube_get(struct kube *k, const char *api_version, const char *kind,
         const char *ns, const char *name, json_t **out, struct mv_err *err)
{
	char *path;
	int rc;

	*out = NULL;
	if (kube_path(k, api_version, kind, ns, name, &path, err) != 0) {
		/* a kind the cluster does not serve (its CRD not applied yet)
		 * has no objects */
		if (err != NULL && err->http_status == 404) {
			mv_err_free(err);
			mv_err_clear(err);
			return 1;
		}
		return -1;
	}
	rc = kube_call(k, "GET", path, NULL, NULL, 0, true, out, err);
	free(path);
	return rc;
}

int
kube_list(struct kube *k, const char *api_version, const char *kind,
          const char *ns, const char *label_selector, json_t **items,
          struct mv_err *err)
{
	char *base, *cont = NULL;
	int rc = 0;

	*items = NULL;
	if (kube_path(k, api_version, kind, ns, NULL, &base, err) != 0) {
		if (err != NULL && err->http_status == 404) { /* kind not served */
			mv_err_free(err);
			mv_err_clear(err);
			*items = json_array();
			return 0;
		}
		return -1;
	}
	*items = json_array();
	do {
		char *path = NULL, *sel = label_selector
		                                  ? curl_easy_escape(NULL, label_selector, 0)
		                                  : NULL;
		json_t *list = NULL;
		path = mv_xstrfmt("%s?limit=500%s%s%s%s", base,
		                  sel ? "&labelSelector=" : "", sel ? sel : "",
		                  cont ? "&continue=" : "", cont ? cont : "");
		curl_free(sel);
		curl_free(cont);
		cont = NULL;
		rc = path ? kube_call(k, "GET", path, NULL, NULL, 0, true, &list, err)
		          : mv_err_set(err, MV_EXIT_FAIL, "out of memory");
		free(path);
		if (rc != 0) {
			json_decref(list);
			break;
		}
		json_array_extend(*items, json_object_get(list, "items"));
		const char *c = json_string_value(json_object_get(
			json_object_get(list, "metadata"), "continue"));
		if (c != NULL && c[0] != '\0')
			cont = curl_easy_escape(NULL, c, 0);
		json_decref(list);
	} while (cont != NULL);
	free(base);
	if (rc != 0) {
		json_decref(*items);
		*items = NULL;
		return rc == 1 ? mv_err_set(err, MV_EXIT_CLOUD, "list %s: not found",
		                            kind) : -1;
	}
	return 0;
}

int
kube_delete(struct kube *k, const char *api_version, const char *kind,
            const char *ns, const char *name, struct mv_err *err)
{
	char *path;
	int rc;

	if (kube_path(k, api_version, kind, ns, name, &path, err) != 0) {
		/* its CRD (and with it every object) is gone already */
		if (err != NULL && err->http_status == 404) {
			mv_err_free(err);
			mv_err_clear(err);
			return 1;
		}
		return -1;
	}
	rc = kube_call(k, "DELETE", path, NULL, NULL, 0, true, NULL, err);
	free(path);
	return rc;
}

int
kube_apply(struct kube *k, const json_t *obj, const char *field_manager,
           bool force, json_t **result, struct mv_err *err)
{
	const char *av = json_string_value(json_object_get(obj, "apiVersion"));
	const char *kind = json_string_value(json_object_get(obj, "kind"));
	json_t *md = json_object_get(obj, "metadata");
	const char *name = json_string_value(json_object_get(md, "name"));
	const char *ns = json_string_value(json_object_get(md, "namespace"));
	char *path = NULL, *full = NULL, *body;
	json_t *out = NULL;
	int rc;

	if (result)
		*result = NULL;
	if (av == NULL || kind == NULL || name == NULL)
		return mv_err_set(err, MV_EXIT_FAIL,
		                  "apply: object without apiVersion, kind or "
		                  "metadata.name");
	if (kube_path(k, av, kind, ns, name, &path, err) != 0)
		return -1;
	full = mv_xstrfmt("%s?fieldManager=%s%s", path,
	                  field_manager ? field_manager : "meshvm",
	                  force ? "&force=true" : "");
	free(path);
	body = json_dumps(obj, JSON_COMPACT);
	/* Apply is declarative: resending the same patch is harmless. */
	rc = kube_call(k, "PATCH", full, "application/apply-patch+yaml", body,
	               strlen(body), true, &out, err);
	free(body);
	free(full);
	if (rc == 1)
		rc = mv_err_set(err, MV_EXIT_CLOUD, "apply %s %s: not found (is its "
		                "namespace there?)", kind, name);
	if (rc == 0 && result)
		*result = out;
	else
		json_decref(out);
	return rc;
}

int
kube_apply_yaml(struct kube *k, const char *name, const char *buf, size_t len,
                const char *default_ns, bool force, int *applied,
                struct mv_err *err)
{
	struct mv_yaml *y = NULL;
	int n = 0;

	if (applied)
		*applied = 0;
	if (mv_yaml_load_buf(name, buf, len, &y, err) != 0)
		return -1;
	for (size_t i = 0; i < mv_yaml_count(y); i++) {
		json_t *doc = mv_yaml_doc(y, i), *md;
		const char *av, *kind;
		const char *resource;
		bool namespaced;
		if (json_is_null(doc))
			continue; /* "---" separators with nothing between */
		if (!json_is_object(doc)) {
			mv_err_at(err, MV_EXIT_FAIL, name, 0, 0,
			          "document %zu is not an object", i + 1);
			mv_yaml_free(y);
			return -1;
		}
		av = json_string_value(json_object_get(doc, "apiVersion"));
		kind = json_string_value(json_object_get(doc, "kind"));
		if (av == NULL || kind == NULL) {
			struct mv_yaml_pos p = {0};
			mv_yaml_node_pos(y, doc, &p);
			mv_err_at(err, MV_EXIT_FAIL, name, p.line, p.col,
			          "object without apiVersion or kind");
			mv_yaml_free(y);
			return -1;
		}
		if (!strcmp(kind, "List")) {
			mv_err_at(err, MV_EXIT_FAIL, name, 0, 0, "kind List is not "
			          "supported; use one document per object");
			mv_yaml_free(y);
			return -1;
		}
		if (kube_resource(k, av, kind, &resource, &namespaced, err) != 0) {
			mv_yaml_free(y);
			return mv_err_prefix(err, "%s", name);
		}
		md = json_object_get(doc, "metadata");
		if (namespaced && json_is_object(md) &&
		    json_object_get(md, "namespace") == NULL && default_ns != NULL)
			json_object_set_new(md, "namespace", json_string(default_ns));
		if (kube_apply(k, doc, "meshvm", force, NULL, err) != 0) {
			mv_yaml_free(y);
			return mv_err_prefix(err, "%s", name);
		}
		n++;
	}
	mv_yaml_free(y);
	if (applied)
		*applied = n;
	return 0;
}

int
kube_pred_condition(const json_t *obj, void *arg, struct mv_err *err)
{
	json_t *conds = json_object_get(json_object_get(obj, "status"),
	                                "conditions"), *c;
	size_t i;

	(void)err;
	json_array_foreach(conds, i, c) {
		const char *t = json_string_value(json_object_get(c, "type"));
		const char *s = json_string_value(json_object_get(c, "status"));
		if (t && s && !strcmp(t, (const char *)arg) && !strcmp(s, "True"))
			return 1;
	}
	return 0;
}

struct kube_wait_arg {
	struct kube *k;
	const char *api_version, *kind, *ns, *name;
	kube_pred pred;
	void *arg;
};

static int
kube_wait_probe(void *arg, char **state, struct mv_err *err)
{
	struct kube_wait_arg *w = arg;
	json_t *obj = NULL;
	int rc = kube_get(w->k, w->api_version, w->kind, w->ns, w->name, &obj,
	                  err), r = 0;

	(void)state;
	if (rc < 0)
		return -1;
	if (rc == 0)
		r = w->pred(obj, w->arg, err);
	json_decref(obj);
	return r;
}

int
kube_wait(struct kube *k, const char *api_version, const char *kind,
          const char *ns, const char *name, kube_pred pred, void *arg,
          long deadline_ms, struct mv_err *err)
{
	struct kube_wait_arg w = {k, api_version, kind, ns, name, pred, arg};
	int rc = mv_poll_until(mv_now_ms() + deadline_ms,
	                       mv_http_get_timing(k->http)->poll_ms,
	                       kube_wait_probe, &w, NULL, err);

	if (rc == MV_POLL_TIMEOUT)
		mv_err_set(err, MV_EXIT_CLOUD, "%s %s/%s: not ready after %lds",
		           kind, ns ? ns : "", name, deadline_ms / 1000);
	return rc == 0 ? 0 : -1;
}

int
kube_token_request(struct kube *k, const char *ns, const char *sa,
                   const char *audience, long seconds, char **token,
                   time_t *expires, struct mv_err *err)
{
	char *path = NULL, *body;
	json_t *req, *out = NULL;
	const char *tok, *exp;
	int rc;

	*token = NULL;
	path = mv_xstrfmt("/api/v1/namespaces/%s/serviceaccounts/%s/token", ns,
	                  sa);
	req = json_pack("{s:s,s:s,s:{s:[s],s:I}}", "apiVersion",
	                "authentication.k8s.io/v1", "kind", "TokenRequest", "spec",
	                "audiences", audience, "expirationSeconds",
	                (json_int_t)seconds);
	body = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	/* A token is minted, nothing changes: safe to resend. */
	rc = kube_call(k, "POST", path, "application/json", body, strlen(body),
	               true, &out, err);
	free(body);
	free(path);
	if (rc == 1)
		return mv_err_set(err, MV_EXIT_CLOUD,
		                  "TokenRequest: service account %s/%s not found", ns,
		                  sa);
	if (rc != 0)
		return -1;
	tok = json_string_value(json_object_get(json_object_get(out, "status"),
	                                        "token"));
	exp = json_string_value(json_object_get(json_object_get(out, "status"),
	                                        "expirationTimestamp"));
	if (tok == NULL) {
		json_decref(out);
		return mv_err_set(err, MV_EXIT_CLOUD, "TokenRequest: no status.token");
	}
	*token = mv_xstrdup(tok);
	if (expires != NULL && (exp == NULL || kube_parse_time(exp, expires) != 0))
		*expires = time(NULL) + seconds;
	json_decref(out);
	return 0;
}
