/* harness/fake/kube_api.c - Kubernetes API requests: public endpoints,
 * authentication, discovery, routing to the verbs, and the reads (get,
 * list with selectors and paging).  The writes are in kube_write.c, the
 * handling of request bodies in kube_obj.c.  Errors are Status objects
 * with the API server's reasons and wording. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/base64.h"
#include "core/yaml.h"
#include "harness/fake/kube_api.h"


/* ---- verbs ---- */

void
ka_get(struct fake *f, struct freq *rq, const struct kreq *kr,
       struct fresp *rs)
{
	json_t *obj = kstore_get(f, rq->kc, &kr->k, kr->ns, kr->name);

	if (obj == NULL) {
		kube_not_found(rs, &kr->k, kr->name);
		return;
	}
	kube_json(rs, 200, ka_view(f, rq, kr, obj));
}

struct cont {
	char key[1024];
};

void
ka_list(struct fake *f, struct freq *rq, const struct kreq *kr,
        struct fresp *rs)
{
	const char *limit_s = freq_arg(rq, "limit");
	const char *cont = freq_arg(rq, "continue");
	const char *w = freq_arg(rq, "watch");
	json_t *objs = json_object_get(kstore(f, rq->kc), "objects");
	json_t *keys, *k, *items = json_array(), *meta;
	struct ksel *sel = NULL;
	char prefix[512], err[512], rv[32], *after = NULL;
	long long limit = limit_s ? strtoll(limit_s, NULL, 10) : 0;
	size_t i, taken = 0, remaining = 0;
	const char *last = NULL;

	if (w != NULL && (!strcmp(w, "true") || !strcmp(w, "1"))) {
		json_decref(items);
		kube_watch(f, rq, &kr->k, kr->ns, kr->gv, rs);
		return;
	}
	if (ksel_parse(freq_arg(rq, "labelSelector"),
	               freq_arg(rq, "fieldSelector"), &sel, err,
	               sizeof(err)) != 0) {
		json_decref(items);
		kube_err(rs, 400, "BadRequest", NULL, "%s", err);
		return;
	}
	if (cont != NULL && *cont) {
		uint8_t *raw = NULL;
		size_t n = 0;
		json_t *c = NULL;
		/* whatever part of a bad token was decoded is freed */
		if (mv_base64url_decode(cont, strlen(cont), &raw, &n) == 0)
			c = json_loadb((char *)raw, n, 0, NULL);
		if (json_is_string(json_object_get(c, "start")))
			after = strdup(fake_jstr(c, "start"));
		json_decref(c);
		free(raw);
		if (after == NULL) {
			json_decref(items);
			ksel_free(sel);
			kube_err(rs, 400, "BadRequest", NULL, "continue key is not "
			         "valid: illegal base64 data");
			return;
		}
	}
	snprintf(prefix, sizeof(prefix), "%s/%s/%s%s", kkind_gkey(&kr->k),
	         kr->k.plural, kr->ns ? kr->ns : "", kr->ns ? "/" : "");
	keys = fake_sorted_keys(objs, prefix);
	json_array_foreach(keys, i, k) {
		const char *key = json_string_value(k);
		json_t *obj = json_object_get(objs, key);
		if (after != NULL && strcmp(key, after) <= 0)
			continue;
		if (!ksel_match(sel, obj))
			continue;
		if (limit > 0 && (long long)taken >= limit) {
			remaining++;
			continue;
		}
		json_array_append_new(items, ka_view(f, rq, kr, obj));
		last = key;
		taken++;
	}
	kstore_rv(f, rq->kc, rv, sizeof(rv));
	meta = json_pack("{s:s}", "resourceVersion", rv);
	if (remaining > 0 && last != NULL) {
		json_t *c = json_pack("{s:s, s:s}", "rv", rv, "start", last);
		char *d = json_dumps(c, JSON_COMPACT);
		char *tok = mv_base64url_encode(d, strlen(d));
		json_object_set_new(meta, "continue", json_string(tok));
		json_object_set_new(meta, "remainingItemCount",
		                    json_integer((json_int_t)remaining));
		free(tok);
		free(d);
		json_decref(c);
	}
	json_decref(keys);
	ksel_free(sel);
	free(after);
	{
		char lk[160];
		snprintf(lk, sizeof(lk), "%sList", kr->k.kind);
		kube_json(rs, 200, json_pack("{s:s, s:s, s:o, s:o}", "kind", lk,
		                             "apiVersion", kr->gv, "metadata", meta,
		                             "items", items));
	}
}

/* ---- routing ---- */

/* /api/v1/... or /apis/G/V/...: 0 and kr filled, or -1 answered. */
static int
parse_path(struct fake *f, struct freq *rq, struct kreq *kr,
           struct fresp *rs)
{
	const char *group, *version;
	char *const *rest;
	size_t n;

	memset(kr, 0, sizeof(*kr));
	if (rq->n_seg == 0 || rq->seg_overflow)
		goto not_found;
	if (!strcmp(rq->seg[0], "api") && rq->n_seg >= 3) {
		group = "";
		version = rq->seg[1];
		rest = rq->seg + 2;
		n = rq->n_seg - 2;
	} else if (!strcmp(rq->seg[0], "apis") && rq->n_seg >= 4) {
		group = rq->seg[1];
		version = rq->seg[2];
		rest = rq->seg + 3;
		n = rq->n_seg - 3;
	} else {
		goto not_found;
	}
	if (n >= 3 && !strcmp(rest[0], "namespaces") &&
	    !(n == 3 && (!strcmp(rest[2], "status") ||
	                 !strcmp(rest[2], "finalize")))) {
		kr->ns = rest[1];
		rest += 2;
		n -= 2;
	}
	if (n == 0 || n > 3)
		goto not_found;
	if (!kkind_find(f, rq->kc, group, version, rest[0], &kr->k))
		goto not_found;
	kr->name = n > 1 ? rest[1] : NULL;
	kr->sub = n > 2 ? rest[2] : NULL;
	if ((kr->ns != NULL && !kr->k.namespaced) ||
	    (kr->k.namespaced && kr->ns == NULL && kr->name != NULL))
		goto not_found;
	snprintf(kr->gv, sizeof(kr->gv), "%s%s%s", group, group[0] ? "/" : "",
	         version);
	kr->builtin = !(kr->k.flags & KK_CR);
	return 0;
not_found:
	kube_err(rs, 404, "NotFound", NULL, "the server could not find the "
	         "requested resource");
	return -1;
}

static void
method_not_allowed(struct fresp *rs)
{
	kube_err(rs, 405, "MethodNotAllowed", NULL, "the server does not allow "
	         "this method on the requested resource");
}

static bool
is_public(const struct freq *rq)
{
	const char *s0 = rq->n_seg > 0 ? rq->seg[0] : "";

	return (rq->n_seg == 1 && (!strcmp(s0, "version") ||
	                           !strcmp(s0, "healthz") ||
	                           !strcmp(s0, "livez") || !strcmp(s0, "readyz"))) ||
	       (rq->n_seg == 2 && !strcmp(s0, ".well-known") &&
	        !strcmp(rq->seg[1], "openid-configuration")) ||
	       (rq->n_seg == 3 && !strcmp(s0, "openid") &&
	        !strcmp(rq->seg[1], "v1") && !strcmp(rq->seg[2], "jwks"));
}

static void
resource_request(struct fake *f, struct freq *rq, struct fresp *rs)
{
	struct kreq kr;
	const char *m = rq->method;
	bool get = !strcmp(m, "GET");
	char *ckey = NULL;
	bool cacheable;

	if (parse_path(f, rq, &kr, rs) != 0)
		return;
	/* Reads change nothing; their answers are cached until a write,
	 * except Deployments, whose status moves with the clock. */
	cacheable = get && kr.sub == NULL && freq_arg(rq, "watch") == NULL &&
	            strcmp(kr.k.plural, "deployments") != 0;
	if (get) {
		rq->pure = true;
		rq->mutating = false;
	}
	if (cacheable) {
		/* the whole query: a key cut short would let two long
		 * queries share an answer */
		ckey = mv_strfmt("kube|%s|%s?%s", rq->kc->key, rq->path,
		                 rq->query);
		if (ckey == NULL) {
			cacheable = false;
		} else if (rcache_get_key(f, ckey, rs)) {
			free(ckey);
			return;
		}
	}
	if (kr.sub != NULL) {
		if (!strcmp(kr.sub, "token") && !strcmp(kr.k.plural,
		                                        "serviceaccounts") &&
		    !strcmp(kr.k.group, "")) {
			if (strcmp(m, "POST") == 0)
				fake_kube_token_request(f, rq, rs, kr.ns, kr.name);
			else
				method_not_allowed(rs);
		} else if (!strcmp(kr.sub, "status") && (kr.k.flags & KK_STATUS) &&
		           (get || !strcmp(m, "PUT") || !strcmp(m, "PATCH"))) {
			ka_status(f, rq, &kr, rs);
		} else if (!strcmp(kr.sub, "scale") && (kr.k.flags & KK_SCALE) &&
		           (get || !strcmp(m, "PUT") || !strcmp(m, "PATCH"))) {
			ka_scale(f, rq, &kr, rs);
		} else {
			kube_err(rs, 404, "NotFound", NULL, "the server could not find "
			         "the requested resource");
		}
		return;
	}
	if (kr.k.flags & KK_CREATE_ONLY) {
		if (kr.name == NULL && !strcmp(m, "POST") &&
		    !strcmp(kr.k.plural, "tokenreviews"))
			kube_token_review(f, rq, rs);
		else
			method_not_allowed(rs);
		free(ckey);
		return;
	}
	if (kr.name == NULL) {
		if (get)
			ka_list(f, rq, &kr, rs);
		else if (!strcmp(m, "POST") && (kr.ns != NULL || !kr.k.namespaced))
			ka_create(f, rq, &kr, rs);
		else if (!strcmp(m, "DELETE"))
			ka_delete_collection(f, rq, &kr, rs);
		else
			method_not_allowed(rs);
	} else if (get) {
		ka_get(f, rq, &kr, rs);
	} else if (!strcmp(m, "PUT")) {
		ka_replace(f, rq, &kr, rs);
	} else if (!strcmp(m, "PATCH")) {
		ka_patch(f, rq, &kr, rs);
	} else if (!strcmp(m, "DELETE")) {
		ka_delete(f, rq, &kr, rs);
	} else {
		method_not_allowed(rs);
	}
	if (cacheable)
		rcache_put_key(f, ckey, rs);
	free(ckey);
}

void
kube_dispatch(struct fake *f, struct freq *rq, struct fresp *rs)
{
	const char *s0 = rq->n_seg > 0 ? rq->seg[0] : "";

	if (rq->too_large) {
		kube_err(rs, 413, "RequestEntityTooLarge", NULL, "the request body "
		         "is larger than %zu bytes", FAKE_MAX_BODY);
		return;
	}
	if (rq->kc->removed) {
		kube_err(rs, 503, "ServiceUnavailable", NULL, "the cluster is being "
		         "deleted");
		return;
	}
	/* Controllers' work that fell due since the last request (both
	 * run, whatever the first did). */
	bool ctl = kctl_tick(f, rq->kc);
	bool reg = kistiod_tick(f, rq->kc);
	if (ctl || reg)
		fst(f)->gen++;
	/* the simulated istiod reviews its own tokens */
	if (kistiod_is_request(rq)) {
		kistiod_dispatch(f, rq, rs);
		return;
	}
	/* a LoadBalancer address serves istiod's calls only */
	if (rq->listener != NULL && !strncmp(rq->listener, FAKE_ISTIOD_LISTENER,
	                                     strlen(FAKE_ISTIOD_LISTENER))) {
		kube_err(rs, 404, "NotFound", NULL, "only /meshvm/v1/ (the "
		         "simulated istiod) is served on port %d",
		         FAKE_ISTIOD_PORT);
		return;
	}
	if (is_public(rq)) {
		rq->mutating = false;
		rq->pure = !strcmp(s0, "version") || !strcmp(s0, "healthz") ||
		           !strcmp(s0, "livez") || !strcmp(s0, "readyz");
		if (strcmp(rq->method, "GET") != 0)
			method_not_allowed(rs);
		else if (!strcmp(s0, "version"))
			ka_version_answer(rs);
		else if (rq->n_seg == 1)
			resp_bytes(rs, 200, "text/plain; charset=utf-8", "ok", 2);
		else
			kube_openid(f, rq, rs);
		return;
	}
	if (!kube_auth_ok(f, rq)) {
		resp_header(rs, "WWW-Authenticate", "Bearer realm=\"kubernetes\"");
		kube_err(rs, 401, "Unauthorized", NULL, "Unauthorized");
		return;
	}
	if (kube_is_discovery(rq)) {
		char *ckey = mv_strfmt("kube|%s|%s", rq->kc->key, rq->path);
		rq->pure = true;
		if (ckey == NULL || !rcache_get_key(f, ckey, rs)) {
			kube_discovery(f, rq, rs);
			if (ckey != NULL)
				rcache_put_key(f, ckey, rs);
		}
		free(ckey);
		return;
	}
	resource_request(f, rq, rs);
}

