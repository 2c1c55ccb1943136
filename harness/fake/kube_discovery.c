/* harness/fake/kube_discovery.c - /api, /apis, /api/v1, /apis/G[/V] (plain
 * JSON legacy discovery, which kubectl accepts) and /openapi/v3 with one
 * document per group-version listing, for every kind, its operations
 * tagged x-kubernetes-group-version-kind with a fieldValidation
 * parameter: what plain `kubectl apply` needs to validate on the server.
 * /openapi/v2 is not served (kubectl tolerates its 404). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/sha256.h"
#include "harness/fake/kube_private.h"

/* Kubernetes version priority: v1 > v1beta2 > v1beta1 > v1alpha1 > ... */
static int
version_rank(const char *v)
{
	int major = 0, minor = 0;
	char kind[16] = "";

	if (sscanf(v, "v%d%15[a-z]%d", &major, kind, &minor) < 1)
		return -1000000;
	if (kind[0] == '\0')
		return major * 10000 + 9999;
	if (!strcmp(kind, "beta"))
		return major * 10000 + 5000 + minor;
	if (!strcmp(kind, "alpha"))
		return major * 10000 + minor;
	return -1;
}

struct gv {
	const char *group;
	const char **versions;
	size_t n;
};

/* Groups (in first-seen order) and their versions, best first. */
static size_t
groups_of(struct kkind *k, size_t n, struct gv **out)
{
	struct gv *g = calloc(n + 1, sizeof(*g));
	size_t ng = 0;

	for (size_t i = 0; g && i < n; i++) {
		size_t j;
		for (j = 0; j < ng && strcmp(g[j].group, k[i].group); j++)
			;
		if (j == ng) {
			g[ng].group = k[i].group;
			g[ng].versions = calloc(n, sizeof(char *));
			ng++;
		}
		bool have = false;
		for (size_t v = 0; v < g[j].n; v++)
			have = have || !strcmp(g[j].versions[v], k[i].version);
		if (!have)
			g[j].versions[g[j].n++] = k[i].version;
	}
	for (size_t j = 0; j < ng; j++)
		for (size_t a = 1; a < g[j].n; a++)
			for (size_t b = a; b > 0 && version_rank(g[j].versions[b]) >
			                                    version_rank(g[j].versions[b - 1]);
			     b--) {
				const char *t = g[j].versions[b];
				g[j].versions[b] = g[j].versions[b - 1];
				g[j].versions[b - 1] = t;
			}
	*out = g;
	return ng;
}

static void
groups_free(struct gv *g, size_t n)
{
	for (size_t i = 0; g && i < n; i++)
		free(g[i].versions);
	free(g);
}

static json_t *
group_json(const struct gv *g)
{
	json_t *vs = json_array(), *pref;
	char gvs[256];

	for (size_t v = 0; v < g->n; v++) {
		snprintf(gvs, sizeof(gvs), "%s/%s", g->group, g->versions[v]);
		json_array_append_new(vs, json_pack("{s:s, s:s}", "groupVersion",
		                                    gvs, "version", g->versions[v]));
	}
	pref = json_deep_copy(json_array_get(vs, 0));
	return json_pack("{s:s, s:o, s:o}", "name", g->group, "versions", vs,
	                 "preferredVersion", pref);
}

static json_t *
resource_list(struct kkind *k, size_t n, const char *group,
              const char *version)
{
	json_t *res = json_array();
	char gv[256];

	for (size_t i = 0; i < n; i++) {
		json_t *r, *verbs;
		if (strcmp(k[i].group, group) || strcmp(k[i].version, version))
			continue;
		verbs = k[i].flags & KK_CREATE_ONLY
		                ? json_pack("[s]", "create")
		                : json_pack("[s,s,s,s,s,s,s]", "create", "delete",
		                            "deletecollection", "get", "list",
		                            "patch", "update");
		r = json_pack("{s:s, s:s, s:b, s:s, s:o}", "name", k[i].plural,
		              "singularName", k[i].singular, "namespaced",
		              k[i].namespaced, "kind", k[i].kind, "verbs", verbs);
		if (k[i].short_names != NULL) {
			json_t *sn = json_array();
			char *copy = strdup(k[i].short_names), *save = NULL, *t;
			for (t = strtok_r(copy, ",", &save); t;
			     t = strtok_r(NULL, ",", &save))
				json_array_append_new(sn, json_string(t));
			free(copy);
			json_object_set_new(r, "shortNames", sn);
		}
		if (!strcmp(k[i].plural, "deployments") ||
		    !strcmp(k[i].plural, "services") || !strcmp(k[i].plural, "pods") ||
		    !strcmp(k[i].plural, "statefulsets") ||
		    !strcmp(k[i].plural, "daemonsets"))
			json_object_set_new(r, "categories", json_pack("[s]", "all"));
		json_array_append_new(res, r);
		if (k[i].flags & KK_STATUS) {
			char sub[160];
			snprintf(sub, sizeof(sub), "%s/status", k[i].plural);
			json_array_append_new(res, json_pack("{s:s, s:s, s:b, s:s, "
			                                     "s:[s,s,s]}",
			                                     "name", sub, "singularName",
			                                     "", "namespaced",
			                                     k[i].namespaced, "kind",
			                                     k[i].kind, "verbs", "get",
			                                     "patch", "update"));
		}
		if (k[i].flags & KK_SCALE) {
			char sub[160];
			snprintf(sub, sizeof(sub), "%s/scale", k[i].plural);
			json_array_append_new(res, json_pack("{s:s, s:s, s:b, s:s, "
			                                     "s:s, s:s, s:[s,s,s]}",
			                                     "name", sub, "singularName",
			                                     "", "namespaced", 1, "group",
			                                     "autoscaling", "version",
			                                     "v1", "kind", "Scale",
			                                     "verbs", "get", "patch",
			                                     "update"));
		}
		if (!strcmp(group, "") && !strcmp(k[i].plural, "serviceaccounts"))
			json_array_append_new(res, json_pack("{s:s, s:s, s:b, s:s, "
			                                     "s:s, s:s, s:[s]}",
			                                     "name", "serviceaccounts/"
			                                     "token", "singularName", "",
			                                     "namespaced", 1, "group",
			                                     "authentication.k8s.io",
			                                     "version", "v1", "kind",
			                                     "TokenRequest", "verbs",
			                                     "create"));
	}
	if (json_array_size(res) == 0) {
		json_decref(res);
		return NULL;
	}
	snprintf(gv, sizeof(gv), "%s%s%s", group, group[0] ? "/" : "", version);
	return json_pack("{s:s, s:s, s:s, s:o}", "kind", "APIResourceList",
	                 "apiVersion", "v1", "groupVersion", gv, "resources",
	                 res);
}

/* ---- openapi v3 ---- */

static json_t *
op(const struct kkind *k, const char *action, bool with_validation)
{
	json_t *o = json_pack("{s:s, s:{s:s, s:s, s:s}, s:s, s:[]}",
	                      "operationId", action,
	                      "x-kubernetes-group-version-kind", "group",
	                      k->group, "version", k->version, "kind", k->kind,
	                      "x-kubernetes-action", action, "parameters");
	json_t *params = json_object_get(o, "parameters");

	if (with_validation) {
		static const char *const q[] = {"dryRun", "fieldManager",
		                                "fieldValidation", "force", NULL};
		for (size_t i = 0; q[i]; i++)
			json_array_append_new(params,
			                      json_pack("{s:s, s:s, s:{s:s}}", "name",
			                                q[i], "in", "query", "schema",
			                                "type", q[i][0] == 'f' &&
			                                                q[i][1] == 'o'
			                                        ? "boolean"
			                                        : "string"));
	}
	return o;
}

/* A custom resource's schema as the API server publishes it: the CRD's
 * openAPIV3Schema with apiVersion, kind and metadata, tagged with its
 * group-version-kind (what `kubectl explain` looks up), named like
 * io.istio.networking.v1.VirtualService. */
static void
crd_component(const struct kkind *k, json_t *schemas)
{
	json_t *sc = json_deep_copy(k->crd_schema), *props;
	char name[512], *dot;
	size_t o = 0;
	char g[256];

	if (!json_is_object(sc)) {
		json_decref(sc);
		return;
	}
	snprintf(g, sizeof(g), "%s", k->group);
	/* the group's labels reversed */
	while ((dot = strrchr(g, '.')) != NULL) {
		o += (size_t)snprintf(name + o, sizeof(name) - o, "%s.", dot + 1);
		*dot = '\0';
		if (o >= sizeof(name))
			break;
	}
	if (o < sizeof(name))
		snprintf(name + o, sizeof(name) - o, "%s.%s.%s", g, k->version,
		         k->kind);
	props = json_object_get(sc, "properties");
	if (!json_is_object(props)) {
		props = json_object();
		json_object_set_new(sc, "properties", props);
	}
	json_object_set_new(props, "apiVersion",
	                    json_pack("{s:s, s:s}", "type", "string",
	                              "description", "APIVersion defines the "
	                              "versioned schema of this representation "
	                              "of an object."));
	json_object_set_new(props, "kind",
	                    json_pack("{s:s, s:s}", "type", "string",
	                              "description", "Kind is a string value "
	                              "representing the REST resource this "
	                              "object represents."));
	json_object_set_new(props, "metadata",
	                    json_pack("{s:s, s:s}", "type", "object",
	                              "description", "Standard object's "
	                              "metadata."));
	json_object_set_new(sc, "x-kubernetes-group-version-kind",
	                    json_pack("[{s:s, s:s, s:s}]", "group", k->group,
	                              "version", k->version, "kind", k->kind));
	json_object_set_new(schemas, name, sc);
}

static json_t *
openapi_doc(struct kkind *k, size_t n, const char *group,
            const char *version)
{
	json_t *paths = json_object(), *schemas = json_object();
	char prefix[256], p[512];

	if (group[0])
		snprintf(prefix, sizeof(prefix), "/apis/%s/%s", group, version);
	else
		snprintf(prefix, sizeof(prefix), "/api/%s", version);
	for (size_t i = 0; i < n; i++) {
		json_t *item, *coll;
		if (strcmp(k[i].group, group) || strcmp(k[i].version, version))
			continue;
		if (k[i].crd_schema != NULL)
			crd_component(&k[i], schemas);
		if (k[i].namespaced)
			snprintf(p, sizeof(p), "%s/namespaces/{namespace}/%s", prefix,
			         k[i].plural);
		else
			snprintf(p, sizeof(p), "%s/%s", prefix, k[i].plural);
		coll = json_pack("{s:o, s:o}", "get", op(&k[i], "list", false),
		                 "post", op(&k[i], "post", true));
		json_object_set_new(paths, p, coll);
		if (k[i].flags & KK_CREATE_ONLY) {
			json_object_del(coll, "get");
			continue;
		}
		strcat(p, "/{name}");
		item = json_pack("{s:o, s:o, s:o, s:o}", "get", op(&k[i], "get",
		                                                  false),
		                 "put", op(&k[i], "put", true), "patch",
		                 op(&k[i], "patch", true), "delete",
		                 op(&k[i], "delete", false));
		json_object_set_new(paths, p, item);
	}
	return json_pack("{s:s, s:{s:s, s:s}, s:o, s:{s:o}}", "openapi",
	                 "3.0.0", "info", "title", "Kubernetes", "version",
	                 KUBE_GIT_VERSION, "paths", paths, "components",
	                 "schemas", schemas);
}

static char *
doc_hash(json_t *doc)
{
	char *s = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS), hex[65];

	mv_sha256_buf_hex(s ? s : "", s ? strlen(s) : 0, hex);
	free(s);
	return strdup(hex);
}

bool
kube_is_discovery(const struct freq *rq)
{
	const char *s0 = rq->n_seg > 0 ? rq->seg[0] : "";

	if (!strcmp(s0, "openapi"))
		return true;
	if (!strcmp(s0, "api"))
		return rq->n_seg <= 2;
	if (!strcmp(s0, "apis"))
		return rq->n_seg <= 3;
	return false;
}

void
kube_discovery(struct fake *f, struct freq *rq, struct fresp *rs)
{
	struct kkind *k = NULL;
	size_t n = kkind_all(f, rq->kc, &k), ng;
	struct gv *g = NULL;
	const char *s0 = rq->seg[0];
	json_t *out = NULL;

	rq->mutating = false;
	ng = groups_of(k, n, &g);
	if (strcmp(rq->method, "GET") != 0) {
		kube_err(rs, 405, "MethodNotAllowed", NULL, "the server does not "
		         "allow this method on the requested resource");
		goto done;
	}
	if (!strcmp(s0, "api") && rq->n_seg == 1) {
		char addr[64];
		snprintf(addr, sizeof(addr), "%s:%d", fst(f)->host, rq->kc->port);
		out = json_pack("{s:s, s:[s], s:[{s:s, s:s}]}", "kind", "APIVersions",
		                "versions", "v1", "serverAddressByClientCIDRs",
		                "clientCIDR", "0.0.0.0/0", "serverAddress", addr);
	} else if (!strcmp(s0, "api") && !strcmp(rq->seg[1], "v1")) {
		out = resource_list(k, n, "", "v1");
	} else if (!strcmp(s0, "apis") && rq->n_seg == 1) {
		json_t *groups = json_array();
		for (size_t i = 0; i < ng; i++)
			if (g[i].group[0])
				json_array_append_new(groups, group_json(&g[i]));
		out = json_pack("{s:s, s:s, s:o}", "kind", "APIGroupList",
		                "apiVersion", "v1", "groups", groups);
	} else if (!strcmp(s0, "apis") && rq->n_seg == 2) {
		for (size_t i = 0; i < ng && out == NULL; i++)
			if (g[i].group[0] && !strcmp(g[i].group, rq->seg[1])) {
				out = group_json(&g[i]);
				json_object_set_new(out, "kind", json_string("APIGroup"));
				json_object_set_new(out, "apiVersion", json_string("v1"));
			}
	} else if (!strcmp(s0, "apis") && rq->n_seg == 3) {
		out = resource_list(k, n, rq->seg[1], rq->seg[2]);
	} else if (!strcmp(s0, "openapi") && rq->n_seg == 2 &&
	           !strcmp(rq->seg[1], "v3")) {
		json_t *paths = json_object();
		for (size_t i = 0; i < ng; i++)
			for (size_t v = 0; v < g[i].n; v++) {
				json_t *doc = openapi_doc(k, n, g[i].group, g[i].versions[v]);
				char *h = doc_hash(doc), key[256], url[400];
				if (g[i].group[0])
					snprintf(key, sizeof(key), "apis/%s/%s", g[i].group,
					         g[i].versions[v]);
				else
					snprintf(key, sizeof(key), "api/%s", g[i].versions[v]);
				snprintf(url, sizeof(url), "/openapi/v3/%s?hash=%s", key, h);
				json_object_set_new(paths, key, json_pack("{s:s}",
				                                          "serverRelativeURL",
				                                          url));
				free(h);
				json_decref(doc);
			}
		out = json_pack("{s:o}", "paths", paths);
	} else if (!strcmp(s0, "openapi") && rq->n_seg >= 4 &&
	           !strcmp(rq->seg[1], "v3")) {
		if (!strcmp(rq->seg[2], "api") && rq->n_seg == 4)
			out = openapi_doc(k, n, "", rq->seg[3]);
		else if (!strcmp(rq->seg[2], "apis") && rq->n_seg == 5)
			out = openapi_doc(k, n, rq->seg[3], rq->seg[4]);
		if (out != NULL &&
		    json_object_size(json_object_get(out, "paths")) == 0) {
			json_decref(out);
			out = NULL;
		}
	}
	if (out == NULL)
		kube_err(rs, 404, "NotFound", NULL, "the server could not find the "
		         "requested resource");
	else
		kube_json(rs, 200, out);
done:
	groups_free(g, ng);
	free(k);
}
