/* harness/fake/kube_api.c - Kubernetes API requests: public endpoints,
 * authentication, discovery, and the verbs on objects (get, list,
 * create, replace, delete, deletecollection, the four patch types), the
 * status and scale subresources, TokenRequest and TokenReview.  Errors are
 * Status objects with the API server's reasons and wording. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/base64.h"
#include "core/yaml.h"
#include "harness/fake/kube_private.h"

#define MAX_CONFLICTS 16

struct kreq {
	struct kkind k;
	const char *ns;       /* NULL: cluster-scoped, or every namespace */
	const char *name;     /* NULL: the collection */
	const char *sub;      /* subresource or NULL */
	char gv[256];         /* "v1", "apps/v1" */
	bool builtin;
};

/* ---- answers ---- */

void
kube_json(struct fresp *rs, int status, json_t *v)
{
	resp_json(rs, status, v);
	snprintf(rs->ctype, sizeof(rs->ctype), "application/json");
}

static json_t *
details(const struct kkind *k, const char *name)
{
	json_t *d = json_pack("{s:s, s:s}", "name", name ? name : "", "kind",
	                      k->plural);

	if (k->group[0])
		json_object_set_new(d, "group", json_string(k->group));
	return d;
}

void
kube_not_found(struct fresp *rs, const struct kkind *k, const char *name)
{
	kube_err(rs, 404, "NotFound", details(k, name), "%s%s%s \"%s\" not found",
	         k->plural, k->group[0] ? "." : "", k->group, name);
}

/* "deployments.apps "web"" as the API server names an object. */
static void
qualified(const struct kkind *k, const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s%s \"%s\"", k->plural, k->group[0] ? "." : "",
	         k->group, name);
}

static void
version_answer(struct fresp *rs)
{
	kube_json(rs, 200,
	          json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}",
	                    "major", "1", "minor", KUBE_MINOR, "gitVersion",
	                    KUBE_GIT_VERSION, "gitCommit",
	                    "0000000000000000000000000000000000000000",
	                    "gitTreeState", "clean", "buildDate",
	                    "2025-05-01T00:00:00Z", "goVersion", "go1.23.6",
	                    "compiler", "gc", "platform", "linux/amd64"));
}

/* ---- request details ---- */

static const char *
media_type(const struct freq *rq, char *buf, size_t len)
{
	const char *ct = freq_header(rq, "Content-Type");
	size_t n;

	if (ct == NULL)
		ct = "application/json";
	n = strcspn(ct, ";");
	while (n > 0 && isspace((unsigned char)ct[n - 1]))
		n--;
	snprintf(buf, len, "%.*s", (int)n, ct);
	for (char *p = buf; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return buf;
}

/* fieldManager, or the User-Agent's product as the API server does. */
static void
manager_of(const struct freq *rq, const char *fallback, char *buf,
           size_t len)
{
	const char *m = freq_arg(rq, "fieldManager");
	const char *ua = freq_header(rq, "User-Agent");

	if (m != NULL && *m)
		snprintf(buf, len, "%s", m);
	else if (ua != NULL && *ua)
		snprintf(buf, len, "%.*s", (int)strcspn(ua, "/"), ua);
	else
		snprintf(buf, len, "%s", fallback);
}

static int
validation_of(const struct freq *rq, struct fresp *rs, enum kvalidation *v)
{
	const char *s = freq_arg(rq, "fieldValidation");

	*v = KV_WARN; /* the API server's default */
	if (s == NULL || *s == '\0')
		return 0;
	if (!strcasecmp(s, "Strict"))
		*v = KV_STRICT;
	else if (!strcasecmp(s, "Warn"))
		*v = KV_WARN;
	else if (!strcasecmp(s, "Ignore"))
		*v = KV_IGNORE;
	else {
		kube_err(rs, 400, "BadRequest", NULL, "fieldValidation must be one "
		         "of \"Ignore\", \"Warn\", or \"Strict\"");
		return -1;
	}
	return 0;
}

static bool
dry_run(const struct freq *rq)
{
	const char *d = freq_arg(rq, "dryRun");

	return d != NULL && !strcmp(d, "All");
}

/* The request body as a JSON object; protobuf and other types get 415. */
static json_t *
body_json(const struct freq *rq, struct fresp *rs)
{
	char mt[128];
	json_error_t je;
	json_t *v;

	media_type(rq, mt, sizeof(mt));
	if (strstr(mt, "protobuf") != NULL) {
		/* kubectl create namespace|configmap|secret|serviceaccount */
		v = kube_object_decode((const uint8_t *)(rq->body ? rq->body : ""),
		                       rq->body_len, "v1");
		if (v != NULL)
			return v;
		kube_err(rs, 415, "UnsupportedMediaType", NULL, "the body of the "
		         "request was in an unknown format - accepted media types "
		         "include: application/json, application/yaml");
		return NULL;
	}
	v = json_loadb(rq->body ? rq->body : "", rq->body_len,
	               JSON_REJECT_DUPLICATES, &je);
	if (v == NULL) {
		kube_err(rs, 400, "BadRequest", NULL, "the request body is not "
		         "valid JSON: %s (line %d, column %d)", je.text, je.line,
		         je.column);
		return NULL;
	}
	if (!json_is_object(v) && !json_is_array(v)) {
		json_decref(v);
		kube_err(rs, 400, "BadRequest", NULL, "the request body must be a "
		         "JSON object");
		return NULL;
	}
	return v;
}

/* JSON or YAML (server-side apply bodies). */
static json_t *
body_yaml(const struct freq *rq, struct fresp *rs)
{
	struct mv_yaml *y = NULL;
	struct mv_err err;
	json_t *v;

	mv_err_clear(&err);
	if (mv_yaml_load_buf("body", rq->body ? rq->body : "", rq->body_len, &y,
	                     &err) != 0) {
		kube_err(rs, 400, "BadRequest", NULL, "error decoding YAML: %s",
		         err.msg);
		return NULL;
	}
	v = mv_yaml_count(y) == 1 ? json_incref(mv_yaml_doc(y, 0)) : NULL;
	mv_yaml_free(y);
	if (!json_is_object(v)) {
		json_decref(v);
		kube_err(rs, 400, "BadRequest", NULL, "the apply configuration must "
		         "be one object");
		return NULL;
	}
	return v;
}

/* apiVersion and kind of a body must be the URL's (or absent, then
 * filled in). */
static int
check_type_meta(const struct kreq *kr, json_t *obj, struct fresp *rs)
{
	const char *av = json_string_value(json_object_get(obj, "apiVersion"));
	const char *kind = json_string_value(json_object_get(obj, "kind"));

	if (av == NULL || kind == NULL) {
		kube_err(rs, 400, "BadRequest", NULL, "Object 'Kind' is missing in "
		         "the request body");
		return -1;
	}
	if (strcmp(av, kr->gv) != 0) {
		kube_err(rs, 400, "BadRequest", NULL, "the API version in the data "
		         "(%s) does not match the expected API version (%s)", av,
		         kr->gv);
		return -1;
	}
	if (strcmp(kind, kr->k.kind) != 0) {
		kube_err(rs, 400, "BadRequest", NULL, "the kind in the data (%s) "
		         "does not match the expected kind (%s)", kind, kr->k.kind);
		return -1;
	}
	return 0;
}

static json_t *
meta_of(json_t *obj)
{
	json_t *m = json_object_get(obj, "metadata");

	if (!json_is_object(m)) {
		m = json_object();
		json_object_set_new(obj, "metadata", m);
	}
	return m;
}

/* DNS-1123 subdomain (most kinds) or label (namespaces, services). */
static const char *
name_problem(const struct kkind *k, const char *name)
{
	bool label = !strcmp(k->plural, "namespaces") ||
	             !strcmp(k->plural, "services");
	size_t n = strlen(name);

	if (n == 0)
		return "a lowercase RFC 1123 name is required";
	if (n > (label ? 63u : 253u))
		return label ? "must be no more than 63 characters"
		             : "must be no more than 253 characters";
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (!(islower((unsigned char)c) || isdigit((unsigned char)c) ||
		      c == '-' || (!label && c == '.')))
			goto bad;
	}
	if (!isalnum((unsigned char)name[0]) ||
	    !isalnum((unsigned char)name[n - 1]) ||
	    (!strcmp(k->plural, "services") && !islower((unsigned char)name[0])))
		goto bad;
	return NULL;
bad:
	return label ? "a lowercase RFC 1123 label must consist of lower case "
	               "alphanumeric characters or '-', and must start and end "
	               "with an alphanumeric character"
	             : "a lowercase RFC 1123 subdomain must consist of lower case "
	               "alphanumeric characters, '-' or '.', and must start and "
	               "end with an alphanumeric character";
}

static void
invalid(struct fresp *rs, const struct kreq *kr, const char *name,
        const char *field, const char *value, const char *why)
{
	json_t *d = details(&kr->k, name);

	json_object_set_new(d, "causes",
	                    json_pack("[{s:s, s:s, s:s}]", "reason",
	                              "FieldValueInvalid", "message", why, "field",
	                              field));
	kube_err(rs, 422, "Invalid", d, "%s \"%s\" is invalid: %s: Invalid "
	         "value: \"%s\": %s", kr->k.kind, name, field, value, why);
}

/* Field validation of a written object: 0 ok (warnings added to the
 * answer's headers), -1 answered. */
static int
validate(const struct freq *rq, const struct kreq *kr, json_t *obj,
         struct fresp *rs, bool apply)
{
	json_t *warn = json_array(), *w;
	enum kvalidation v;
	char err[1024];
	size_t i;

	if (validation_of(rq, rs, &v) != 0) {
		json_decref(warn);
		return -1;
	}
	if (kschema_check(&kr->k, obj, warn, err, sizeof(err)) != 0) {
		kube_err(rs, 400, "BadRequest", NULL, "%s in version \"%s\" cannot "
		         "be handled as a %s: %s", kr->k.kind, kr->k.version,
		         kr->k.kind, err);
		json_decref(warn);
		return -1;
	}
	if (json_array_size(warn) > 0 && v == KV_STRICT) {
		char msg[2048];
		size_t o = 0;
		json_array_foreach(warn, i, w) {
			const char *s = json_string_value(w);
			if (apply) {
				/* `unknown field "spec.foo"` -> `.spec.foo: field not
				 * declared in schema` */
				const char *q = strchr(s, '"');
				o += (size_t)snprintf(msg + o, o < sizeof(msg) ?
				                      sizeof(msg) - o : 0,
				                      "%s.%.*s: field not declared in schema",
				                      i ? ", " : "",
				                      q ? (int)strlen(q + 1) - 1 : 0,
				                      q ? q + 1 : "");
			} else {
				o += (size_t)snprintf(msg + o, o < sizeof(msg) ?
				                      sizeof(msg) - o : 0, "%s%s",
				                      i ? ", " : "", s);
			}
		}
		if (apply)
			kube_err(rs, 400, "BadRequest", NULL, "failed to create typed "
			         "patch object (%s/%s; %s, Kind=%s): %s",
			         kr->ns ? kr->ns : "", kr->name ? kr->name : "", kr->gv,
			         kr->k.kind, msg);
		else
			kube_err(rs, 400, "BadRequest", NULL, "%s in version \"%s\" "
			         "cannot be handled as a %s: strict decoding error: %s",
			         kr->k.kind, kr->k.version, kr->k.kind, msg);
		json_decref(warn);
		return -1;
	}
	if (v == KV_WARN)
		json_array_foreach(warn, i, w) {
			/* RFC 7234 warn-text: a quoted-string */
			char q[600];
			size_t o = 0;
			for (const char *p = json_string_value(w);
			     *p && o + 3 < sizeof(q); p++) {
				if (*p == '"' || *p == '\\')
					q[o++] = '\\';
				q[o++] = *p;
			}
			q[o] = '\0';
			resp_header(rs, "Warning", "299 - \"%s\"", q);
		}
	json_decref(warn);
	return 0;
}

static bool
spec_changed(const json_t *a, const json_t *b)
{
	json_t *x = json_deep_copy(a), *y = json_deep_copy(b);
	bool changed;

	json_object_del(x, "metadata");
	json_object_del(y, "metadata");
	json_object_del(x, "status");
	json_object_del(y, "status");
	changed = !json_equal(x, y);
	json_decref(x);
	json_decref(y);
	return changed;
}

/* Server-owned metadata survives any write. */
static void
keep_server_fields(const json_t *live, json_t *obj, const struct kreq *kr)
{
	json_t *lm = json_object_get(live, "metadata"), *m = meta_of(obj);
	json_int_t gen = json_integer_value(json_object_get(lm, "generation"));
	static const char *const keep[] = {"uid", "creationTimestamp", "name",
	                                   "namespace", NULL};

	for (size_t i = 0; keep[i]; i++) {
		json_t *v = json_object_get(lm, keep[i]);
		if (v != NULL)
			json_object_set(m, keep[i], v);
	}
	json_object_set_new(m, "generation",
	                    json_integer(gen + (spec_changed(live, obj) ? 1 : 0)));
	json_object_set(m, "resourceVersion",
	                json_object_get(lm, "resourceVersion"));
	/* the main resource cannot change status when it has a subresource */
	if (kr->k.flags & KK_STATUS) {
		if (json_object_get(live, "status") != NULL)
			json_object_set(obj, "status", json_object_get(live, "status"));
		else
			json_object_del(obj, "status");
	}
	json_object_set_new(obj, "apiVersion", json_string(kr->gv));
	json_object_set_new(obj, "kind", json_string(kr->k.kind));
}

/* An object as answered: controllers' view, and the requested version. */
static json_t *
view(struct fake *f, struct freq *rq, const struct kreq *kr, json_t *obj)
{
	json_t *v = kctl_view(f, rq->kc, &kr->k, obj);

	if (strcmp(fake_jstr(v, "apiVersion"), kr->gv) != 0) {
		json_t *c = json_deep_copy(v);
		json_decref(v);
		json_object_set_new(c, "apiVersion", json_string(kr->gv));
		v = c;
	}
	return v;
}

static void
store(struct fake *f, struct freq *rq, const struct kreq *kr, json_t *obj,
      bool created)
{
	json_t *m = meta_of(obj);

	kctl_after_write(f, rq->kc, &kr->k, obj, created);
	kstore_put(f, rq->kc, &kr->k, kr->k.namespaced ? fake_jstr(m,
	                                                           "namespace")
	                                               : NULL,
	           fake_jstr(m, "name"), obj);
}

static bool
namespace_missing(struct fake *f, struct freq *rq, const struct kreq *kr,
                  struct fresp *rs, const char *ns)
{
	static const struct kkind k_ns = {"", "v1", "Namespace", "namespaces",
	                                  "namespace", "ns", false, 0, NULL};

	if (!kr->k.namespaced)
		return false;
	if (kstore_get(f, rq->kc, &k_ns, NULL, ns) == NULL) {
		kube_not_found(rs, &k_ns, ns);
		return true;
	}
	if (kctl_terminating(f, rq->kc, ns)) {
		kube_err(rs, 403, "Forbidden", details(&kr->k, ""), "%s%s%s is "
		         "forbidden: unable to create new content in namespace %s "
		         "because it is being terminated", kr->k.plural,
		         kr->k.group[0] ? "." : "", kr->k.group, ns);
		return true;
	}
	return false;
}

/* ---- verbs ---- */

static void
do_get(struct fake *f, struct freq *rq, const struct kreq *kr,
       struct fresp *rs)
{
	json_t *obj = kstore_get(f, rq->kc, &kr->k, kr->ns, kr->name);

	if (obj == NULL) {
		kube_not_found(rs, &kr->k, kr->name);
		return;
	}
	kube_json(rs, 200, view(f, rq, kr, obj));
}

struct cont {
	char key[1024];
};

static void
do_list(struct fake *f, struct freq *rq, const struct kreq *kr,
        struct fresp *rs)
{
	const char *limit_s = freq_arg(rq, "limit");
	const char *cont = freq_arg(rq, "continue");
	const char *w = freq_arg(rq, "watch");
	json_t *objs = json_object_get(kstore(f, rq->kc), "objects");
	json_t *keys, *k, *items = json_array(), *meta;
	struct ksel *sel = NULL;
	char prefix[512], err[512], rv[32], after[1024] = "";
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
		uint8_t *raw;
		size_t n;
		json_t *c;
		if (mv_base64url_decode(cont, strlen(cont), &raw, &n) != 0 ||
		    (c = json_loadb((char *)raw, n, 0, NULL)) == NULL ||
		    !json_is_string(json_object_get(c, "start"))) {
			if (raw)
				free(raw);
			json_decref(items);
			ksel_free(sel);
			kube_err(rs, 400, "BadRequest", NULL, "continue key is not "
			         "valid: illegal base64 data");
			return;
		}
		snprintf(after, sizeof(after), "%s", fake_jstr(c, "start"));
		json_decref(c);
		free(raw);
	}
	snprintf(prefix, sizeof(prefix), "%s/%s/%s%s", kkind_gkey(&kr->k),
	         kr->k.plural, kr->ns ? kr->ns : "", kr->ns ? "/" : "");
	keys = fake_sorted_keys(objs, prefix);
	json_array_foreach(keys, i, k) {
		const char *key = json_string_value(k);
		json_t *obj = json_object_get(objs, key);
		if (after[0] && strcmp(key, after) <= 0)
			continue;
		if (!ksel_match(sel, obj))
			continue;
		if (limit > 0 && (long long)taken >= limit) {
			remaining++;
			continue;
		}
		json_array_append_new(items, view(f, rq, kr, obj));
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
	{
		char lk[160];
		snprintf(lk, sizeof(lk), "%sList", kr->k.kind);
		kube_json(rs, 200, json_pack("{s:s, s:s, s:o, s:o}", "kind", lk,
		                             "apiVersion", kr->gv, "metadata", meta,
		                             "items", items));
	}
}

static void
do_create(struct fake *f, struct freq *rq, const struct kreq *kr,
          struct fresp *rs)
{
	json_t *obj = body_json(rq, rs), *m;
	const char *name, *ns = NULL, *why;
	char key[1024], manager[160], qn[600], gen_name[300];

	if (obj == NULL)
		return;
	if (check_type_meta(kr, obj, rs) != 0)
		goto out;
	m = meta_of(obj);
	name = fake_jstr(m, "name");
	if (*name == '\0' && *fake_jstr(m, "generateName")) {
		char rv[32];
		uint64_t h = fake_hash64("generate-name", rq->kc->key,
		                         fake_jstr(m, "generateName"),
		                         kstore_rv(f, rq->kc, rv, sizeof(rv)));
		static const char al[] = "bcdfghjklmnpqrstvwxz2456789";
		snprintf(gen_name, sizeof(gen_name), "%.250s%c%c%c%c%c",
		         fake_jstr(m, "generateName"), al[h % 27], al[h / 27 % 27],
		         al[h / 729 % 27], al[h / 19683 % 27], al[h / 531441 % 27]);
		json_object_set_new(m, "name", json_string(gen_name));
		name = fake_jstr(m, "name");
	}
	if (*name == '\0') {
		invalid(rs, kr, "", "metadata.name", "", "name or generateName is "
		        "required");
		goto out;
	}
	why = name_problem(&kr->k, name);
	if (why != NULL) {
		invalid(rs, kr, name, "metadata.name", name, why);
		goto out;
	}
	if (kr->k.namespaced) {
		const char *bns = fake_jstr(m, "namespace");
		ns = kr->ns;
		if (*bns && strcmp(bns, ns) != 0) {
			kube_err(rs, 400, "BadRequest", NULL, "the namespace of the "
			         "provided object does not match the namespace sent on "
			         "the request");
			goto out;
		}
		json_object_set_new(m, "namespace", json_string(ns));
		if (namespace_missing(f, rq, kr, rs, ns))
			goto out;
	} else {
		json_object_del(m, "namespace");
	}
	if (kstore_get(f, rq->kc, &kr->k, ns, name) != NULL) {
		qualified(&kr->k, name, qn, sizeof(qn));
		kube_err(rs, 409, "AlreadyExists", details(&kr->k, name),
		         "%s already exists", qn);
		goto out;
	}
	if (validate(rq, kr, obj, rs, false) != 0)
		goto out;
	if (kr->k.flags & KK_STATUS)
		json_object_del(obj, "status");
	kobj_key(key, sizeof(key), &kr->k, ns, name);
	kobj_init_meta(f, rq->kc, key, obj);
	json_object_del(m, "managedFields");
	manager_of(rq, "unknown", manager, sizeof(manager));
	kmanaged_update(NULL, obj, manager, kr->gv, kr->builtin);
	if (dry_run(rq)) {
		kctl_after_write(f, rq->kc, &kr->k, obj, false);
		kube_json(rs, 201, obj);
		return;
	}
	store(f, rq, kr, json_incref(obj), true);
	kube_json(rs, 201, view(f, rq, kr, obj));
out:
	json_decref(obj);
}

static int
rv_precondition(const json_t *live, const json_t *obj, const struct kreq *kr,
                struct fresp *rs)
{
	const char *want = json_string_value(json_object_get(
	        json_object_get(obj, "metadata"), "resourceVersion"));
	const char *have = fake_jstr(json_object_get(live, "metadata"),
	                             "resourceVersion");
	char qn[600];

	if (want == NULL || *want == '\0' || strcmp(want, have) == 0)
		return 0;
	qualified(&kr->k, kr->name, qn, sizeof(qn));
	kube_err(rs, 409, "Conflict", details(&kr->k, kr->name),
	         "Operation cannot be fulfilled on %s: the object has been "
	         "modified; please apply your changes to the latest version and "
	         "try again", qn);
	return -1;
}

/* Write an updated object: checks, server fields, managed fields. */
static void
finish_update(struct fake *f, struct freq *rq, const struct kreq *kr,
              json_t *live, json_t *obj, struct fresp *rs, int status)
{
	char manager[160];
	json_t *m = meta_of(obj);

	if (strcmp(fake_jstr(m, "name"), kr->name) != 0) {
		kube_err(rs, 400, "BadRequest", NULL, "the name of the object (%s) "
		         "does not match the name on the URL (%s)",
		         fake_jstr(m, "name"), kr->name);
		return;
	}
	if (kr->k.namespaced && *fake_jstr(m, "namespace") &&
	    strcmp(fake_jstr(m, "namespace"), kr->ns) != 0) {
		kube_err(rs, 400, "BadRequest", NULL, "the namespace of the "
		         "provided object does not match the namespace sent on the "
		         "request");
		return;
	}
	if (rv_precondition(live, obj, kr, rs) != 0 ||
	    validate(rq, kr, obj, rs, false) != 0)
		return;
	keep_server_fields(live, obj, kr);
	manager_of(rq, "unknown", manager, sizeof(manager));
	kmanaged_update(live, obj, manager, kr->gv, kr->builtin);
	if (dry_run(rq)) {
		kube_json(rs, status, json_incref(obj));
		return;
	}
	store(f, rq, kr, json_incref(obj), false);
	kube_json(rs, status, view(f, rq, kr, obj));
}

static void
do_replace(struct fake *f, struct freq *rq, const struct kreq *kr,
           struct fresp *rs)
{
	json_t *live = kstore_get(f, rq->kc, &kr->k, kr->ns, kr->name);
	json_t *obj;

	if (live == NULL) {
		kube_not_found(rs, &kr->k, kr->name);
		return;
	}
	obj = body_json(rq, rs);
	if (obj == NULL)
		return;
	if (check_type_meta(kr, obj, rs) == 0)
		finish_update(f, rq, kr, live, obj, rs, 200);
	json_decref(obj);
}

static void
apply_patch(struct fake *f, struct freq *rq, const struct kreq *kr,
            json_t *live, struct fresp *rs)
{
	json_t *applied = body_yaml(rq, rs), *out = NULL, *m;
	struct kapply_conflict conflicts[MAX_CONFLICTS];
	const char *manager = freq_arg(rq, "fieldManager");
	const char *force = freq_arg(rq, "force");
	char err[512], key[1024];
	size_t n = 0;
	int rc;

	if (applied == NULL)
		return;
	if (manager == NULL || *manager == '\0') {
		invalid(rs, kr, kr->name, "fieldManager", "", "is required for apply "
		        "patch");
		goto out;
	}
	if (check_type_meta(kr, applied, rs) != 0)
		goto out;
	m = meta_of(applied);
	if (*fake_jstr(m, "name") && strcmp(fake_jstr(m, "name"), kr->name)) {
		kube_err(rs, 400, "BadRequest", NULL, "the name of the object (%s) "
		         "does not match the name on the URL (%s)",
		         fake_jstr(m, "name"), kr->name);
		goto out;
	}
	if (json_object_get(m, "managedFields") != NULL) {
		invalid(rs, kr, kr->name, "metadata.managedFields", "",
		        "cannot be set on an apply request");
		goto out;
	}
	json_object_set_new(m, "name", json_string(kr->name));
	if (kr->k.namespaced)
		json_object_set_new(m, "namespace", json_string(kr->ns));
	if (kr->k.flags & KK_STATUS)
		json_object_del(applied, "status");
	if (validate(rq, kr, applied, rs, true) != 0)
		goto out;
	if (live == NULL) {
		const char *why = name_problem(&kr->k, kr->name);
		if (why != NULL) {
			invalid(rs, kr, kr->name, "metadata.name", kr->name, why);
			goto out;
		}
		if (namespace_missing(f, rq, kr, rs, kr->ns))
			goto out;
	}
	rc = kapply(live, applied, manager, kr->gv,
	            force != NULL && !strcmp(force, "true"), kr->builtin, &out,
	            conflicts, MAX_CONFLICTS, &n, err, sizeof(err));
	if (rc < 0) {
		kube_err(rs, 400, "BadRequest", NULL, "%s", err);
		goto out;
	}
	if (rc > 0) {
		char msg[4096];
		size_t o;
		json_t *causes = json_array(), *d = details(&kr->k, kr->name);
		o = (size_t)snprintf(msg, sizeof(msg), "Apply failed with %zu "
		                     "conflict%s: conflict%s with \"%s\" using %s",
		                     n, n > 1 ? "s" : "", n > 1 ? "s" : "",
		                     conflicts[0].manager, conflicts[0].api_version);
		if (n == 1)
			o += (size_t)snprintf(msg + o, sizeof(msg) - o, ": %s",
			                      conflicts[0].field);
		for (size_t i = 0; i < n && i < MAX_CONFLICTS; i++) {
			char cm[300];
			if (n > 1 && o < sizeof(msg))
				o += (size_t)snprintf(msg + o, sizeof(msg) - o, "\n- %s",
				                      conflicts[i].field);
			snprintf(cm, sizeof(cm), "conflict with \"%s\" using %s",
			         conflicts[i].manager, conflicts[i].api_version);
			json_array_append_new(causes,
			                      json_pack("{s:s, s:s, s:s}", "reason",
			                                "FieldManagerConflict", "message",
			                                cm, "field",
			                                conflicts[i].field));
		}
		json_object_set_new(d, "causes", causes);
		kube_err(rs, 409, "Conflict", d, "%s", msg);
		goto out;
	}
	m = meta_of(out);
	if (live == NULL) {
		kobj_key(key, sizeof(key), &kr->k, kr->ns, kr->name);
		kobj_init_meta(f, rq->kc, key, out);
		json_object_set_new(out, "apiVersion", json_string(kr->gv));
		json_object_set_new(out, "kind", json_string(kr->k.kind));
	} else {
		keep_server_fields(live, out, kr);
	}
	if (dry_run(rq)) {
		kube_json(rs, live ? 200 : 201, json_incref(out));
		goto out;
	}
	store(f, rq, kr, json_incref(out), live == NULL);
	kube_json(rs, live ? 200 : 201, view(f, rq, kr, out));
out:
	json_decref(out);
	json_decref(applied);
}

static void
do_patch(struct fake *f, struct freq *rq, const struct kreq *kr,
         struct fresp *rs)
{
	json_t *live = kstore_get(f, rq->kc, &kr->k, kr->ns, kr->name);
	json_t *patch, *obj = NULL;
	char mt[128], err[512];
	int rc = 0;

	media_type(rq, mt, sizeof(mt));
	if (!strcmp(mt, "application/apply-patch+yaml")) {
		apply_patch(f, rq, kr, live, rs);
		return;
	}
	if (strcmp(mt, "application/merge-patch+json") &&
	    strcmp(mt, "application/json-patch+json") &&
	    (strcmp(mt, "application/strategic-merge-patch+json") ||
	     (kr->k.flags & KK_CR))) {
		kube_err(rs, 415, "UnsupportedMediaType", NULL, "the body of the "
		         "request was in an unknown format - accepted media types "
		         "include: application/json-patch+json, "
		         "application/merge-patch+json, application/apply-patch+yaml%s",
		         kr->k.flags & KK_CR ? ""
		                             : ", application/strategic-merge-patch+json");
		return;
	}
	if (live == NULL) {
		kube_not_found(rs, &kr->k, kr->name);
		return;
	}
	patch = body_json(rq, rs);
	if (patch == NULL)
		return;
	if (!strcmp(mt, "application/merge-patch+json")) {
		obj = kmerge_json_merge(live, patch);
	} else if (!strcmp(mt, "application/json-patch+json")) {
		obj = json_deep_copy(live);
		rc = kmerge_json_patch(&obj, patch, err, sizeof(err));
	} else {
		obj = json_deep_copy(live);
		rc = kmerge_strategic(obj, patch, err, sizeof(err));
	}
	if (rc != 0 || !json_is_object(obj)) {
		kube_err(rs, rc != 0 ? 422 : 400, rc != 0 ? "Invalid" : "BadRequest",
		         NULL, "%s", rc != 0 ? err : "the patched object is not an "
		                                     "object");
	} else {
		finish_update(f, rq, kr, live, obj, rs, 200);
	}
	json_decref(obj);
	json_decref(patch);
}

/* Every object of a CRD goes with it (a namespace's contents go when
 * it has finished terminating: kctl_tick). */
static void
cascade(struct fake *f, struct freq *rq, const struct kreq *kr,
        const json_t *live)
{
	json_t *objs = json_object_get(kstore(f, rq->kc), "objects");
	json_t *keys = fake_sorted_keys(objs, ""), *k;
	char want[512] = "";
	size_t i;

	if (!strcmp(kr->k.plural, "customresourcedefinitions")) {
		json_t *spec = json_object_get(live, "spec");
		snprintf(want, sizeof(want), "%s/%s/", fake_jstr(spec, "group"),
		         fake_jstr(json_object_get(spec, "names"), "plural"));
		json_array_foreach(keys, i, k)
			if (!strncmp(json_string_value(k), want, strlen(want)))
				kstore_del_key(f, rq->kc, json_string_value(k));
	}
	json_decref(keys);
}

static int
delete_preconditions(struct freq *rq, const struct kreq *kr, json_t *live,
                     struct fresp *rs)
{
	json_t *opts = rq->body_len > 0 ? json_loadb(rq->body, rq->body_len, 0,
	                                             NULL)
	                                : NULL;
	json_t *pre = json_object_get(opts, "preconditions");
	json_t *lm = json_object_get(live, "metadata");
	const char *uid = json_string_value(json_object_get(pre, "uid"));
	const char *rv = json_string_value(json_object_get(pre,
	                                                   "resourceVersion"));
	char qn[600];
	int rc = 0;

	qualified(&kr->k, kr->name, qn, sizeof(qn));
	if (uid && strcmp(uid, fake_jstr(lm, "uid"))) {
		kube_err(rs, 409, "Conflict", details(&kr->k, kr->name),
		         "Operation cannot be fulfilled on %s: Precondition failed: "
		         "UID in precondition: %s, UID in object meta: %s", qn, uid,
		         fake_jstr(lm, "uid"));
		rc = -1;
	} else if (rv && strcmp(rv, fake_jstr(lm, "resourceVersion"))) {
		kube_err(rs, 409, "Conflict", details(&kr->k, kr->name),
		         "Operation cannot be fulfilled on %s: Precondition failed: "
		         "ResourceVersion in precondition: %s, ResourceVersion in "
		         "object meta: %s", qn, rv, fake_jstr(lm, "resourceVersion"));
		rc = -1;
	}
	json_decref(opts);
	return rc;
}

static json_t *
success(const struct kreq *kr, const char *name, const char *uid)
{
	json_t *d = details(kr ? &kr->k : NULL, name);

	if (uid != NULL)
		json_object_set_new(d, "uid", json_string(uid));
	return json_pack("{s:s, s:s, s:{}, s:s, s:o}", "kind", "Status",
	                 "apiVersion", "v1", "metadata", "status", "Success",
	                 "details", d);
}

static void
do_delete(struct fake *f, struct freq *rq, const struct kreq *kr,
          struct fresp *rs)
{
	json_t *live = kstore_get(f, rq->kc, &kr->k, kr->ns, kr->name);
	char uid[64];

	if (live == NULL) {
		kube_not_found(rs, &kr->k, kr->name);
		return;
	}
	if (delete_preconditions(rq, kr, live, rs) != 0)
		return;
	snprintf(uid, sizeof(uid), "%s",
	         fake_jstr(json_object_get(live, "metadata"), "uid"));
	if (dry_run(rq)) {
		/* nothing */
	} else if (!strcmp(kr->k.group, "") &&
	           !strcmp(kr->k.plural, "namespaces")) {
		kctl_terminate_namespace(f, rq->kc, kr->name);
	} else {
		cascade(f, rq, kr, live);
		kstore_del(f, rq->kc, &kr->k, kr->ns, kr->name);
	}
	kube_json(rs, 200, success(kr, kr->name, uid));
}

static void
do_delete_collection(struct fake *f, struct freq *rq, const struct kreq *kr,
                     struct fresp *rs)
{
	json_t *objs = json_object_get(kstore(f, rq->kc), "objects"), *keys, *k;
	struct ksel *sel = NULL;
	char prefix[512], err[512];
	size_t i;

	if (ksel_parse(freq_arg(rq, "labelSelector"),
	               freq_arg(rq, "fieldSelector"), &sel, err,
	               sizeof(err)) != 0) {
		kube_err(rs, 400, "BadRequest", NULL, "%s", err);
		return;
	}
	snprintf(prefix, sizeof(prefix), "%s/%s/%s%s", kkind_gkey(&kr->k),
	         kr->k.plural, kr->ns ? kr->ns : "", kr->ns ? "/" : "");
	keys = fake_sorted_keys(objs, prefix);
	json_array_foreach(keys, i, k) {
		json_t *obj = json_object_get(objs, json_string_value(k));
		struct kreq one = *kr;
		if (!ksel_match(sel, obj) || dry_run(rq))
			continue;
		one.name = fake_jstr(json_object_get(obj, "metadata"), "name");
		if (!strcmp(kr->k.group, "") && !strcmp(kr->k.plural, "namespaces")) {
			kctl_terminate_namespace(f, rq->kc, one.name);
			continue;
		}
		cascade(f, rq, &one, obj);
		kstore_del_key(f, rq->kc, json_string_value(k));
	}
	json_decref(keys);
	ksel_free(sel);
	kube_json(rs, 200, success(kr, "", NULL));
}

/* ---- subresources ---- */

static void
do_status(struct fake *f, struct freq *rq, const struct kreq *kr,
          struct fresp *rs)
{
	json_t *live = kstore_get(f, rq->kc, &kr->k, kr->ns, kr->name), *body;
	json_t *obj = NULL;
	char mt[128], err[512];

	if (live == NULL) {
		kube_not_found(rs, &kr->k, kr->name);
		return;
	}
	if (!strcmp(rq->method, "GET")) {
		kube_json(rs, 200, view(f, rq, kr, live));
		return;
	}
	body = body_json(rq, rs);
	if (body == NULL)
		return;
	media_type(rq, mt, sizeof(mt));
	if (!strcmp(rq->method, "PUT"))
		obj = json_incref(body);
	else if (!strcmp(mt, "application/merge-patch+json"))
		obj = kmerge_json_merge(live, body);
	else if (!strcmp(mt, "application/strategic-merge-patch+json") &&
	         !(kr->k.flags & KK_CR)) {
		obj = json_deep_copy(live);
		if (kmerge_strategic(obj, body, err, sizeof(err)) != 0) {
			json_decref(obj);
			obj = NULL;
		}
	} else if (!strcmp(mt, "application/json-patch+json")) {
		obj = json_deep_copy(live);
		if (kmerge_json_patch(&obj, body, err, sizeof(err)) != 0) {
			json_decref(obj);
			obj = NULL;
		}
	}
	if (obj == NULL) {
		kube_err(rs, 422, "Invalid", NULL, "the status patch could not be "
		         "applied");
	} else {
		/* only status changes through this subresource */
		json_t *next = json_deep_copy(live);
		json_object_set(next, "status", json_object_get(obj, "status"));
		store(f, rq, kr, json_incref(next), false);
		kube_json(rs, 200, view(f, rq, kr, next));
		json_decref(next);
		json_decref(obj);
	}
	json_decref(body);
}

static void
do_scale(struct fake *f, struct freq *rq, const struct kreq *kr,
         struct fresp *rs)
{
	json_t *live = kstore_get(f, rq->kc, &kr->k, kr->ns, kr->name);
	json_t *spec, *body, *scale, *sel;
	json_int_t replicas;

	if (live == NULL) {
		kube_not_found(rs, &kr->k, kr->name);
		return;
	}
	spec = json_object_get(live, "spec");
	if (strcmp(rq->method, "GET") != 0) {
		json_t *in, *next;
		body = body_json(rq, rs);
		if (body == NULL)
			return;
		/* PUT sends a Scale; a patch of the Scale {spec: {replicas}} */
		in = json_incref(body);
		replicas = json_integer_value(json_object_get(
		        json_object_get(in, "spec"), "replicas"));
		json_decref(in);
		json_decref(body);
		if (replicas < 0) {
			kube_err(rs, 422, "Invalid", NULL, "spec.replicas: must be "
			         "greater than or equal to 0");
			return;
		}
		next = json_deep_copy(live);
		json_object_set_new(json_object_get(next, "spec"), "replicas",
		                    json_integer(replicas));
		keep_server_fields(live, next, kr);
		kmanaged_update(live, next, "kubectl", kr->gv, kr->builtin);
		store(f, rq, kr, next, false);
		live = next;
		spec = json_object_get(live, "spec");
	}
	replicas = json_is_integer(json_object_get(spec, "replicas"))
	                   ? json_integer_value(json_object_get(spec, "replicas"))
	                   : 1;
	sel = json_object_get(json_object_get(spec, "selector"), "matchLabels");
	scale = json_pack("{s:s, s:s, s:{s:s, s:s, s:O, s:O}, s:{s:I}, "
	                  "s:{s:I, s:s}}",
	                  "kind", "Scale", "apiVersion", "autoscaling/v1",
	                  "metadata", "name", kr->name, "namespace",
	                  kr->ns ? kr->ns : "", "uid",
	                  json_object_get(json_object_get(live, "metadata"), "uid"),
	                  "resourceVersion",
	                  json_object_get(json_object_get(live, "metadata"),
	                                  "resourceVersion"),
	                  "spec", "replicas", replicas, "status", "replicas",
	                  replicas, "selector", "");
	if (json_is_object(sel)) {
		char buf[1024] = "";
		const char *k;
		json_t *v;
		size_t o = 0;
		json_object_foreach(sel, k, v)
			o += (size_t)snprintf(buf + o, o < sizeof(buf) ? sizeof(buf) - o
			                                               : 0,
			                      "%s%s=%s", o ? "," : "", k,
			                      json_string_value(v));
		json_object_set_new(json_object_get(scale, "status"), "selector",
		                    json_string(buf));
	}
	kube_json(rs, 200, scale);
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
	char ckey[2048];
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
		snprintf(ckey, sizeof(ckey), "kube|%s|%s?%s", rq->kc->key, rq->path,
		         rq->query);
		if (rcache_get_key(f, ckey, rs))
			return;
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
			do_status(f, rq, &kr, rs);
		} else if (!strcmp(kr.sub, "scale") && (kr.k.flags & KK_SCALE) &&
		           (get || !strcmp(m, "PUT") || !strcmp(m, "PATCH"))) {
			do_scale(f, rq, &kr, rs);
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
		return;
	}
	if (kr.name == NULL) {
		if (get)
			do_list(f, rq, &kr, rs);
		else if (!strcmp(m, "POST") && (kr.ns != NULL || !kr.k.namespaced))
			do_create(f, rq, &kr, rs);
		else if (!strcmp(m, "DELETE"))
			do_delete_collection(f, rq, &kr, rs);
		else
			method_not_allowed(rs);
	} else if (get) {
		do_get(f, rq, &kr, rs);
	} else if (!strcmp(m, "PUT")) {
		do_replace(f, rq, &kr, rs);
	} else if (!strcmp(m, "PATCH")) {
		do_patch(f, rq, &kr, rs);
	} else if (!strcmp(m, "DELETE")) {
		do_delete(f, rq, &kr, rs);
	} else {
		method_not_allowed(rs);
	}
	if (cacheable)
		rcache_put_key(f, ckey, rs);
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
	/* Controllers' work that fell due since the last request. */
	if (kctl_tick(f, rq->kc))
		f->gen++;
	if (is_public(rq)) {
		rq->mutating = false;
		rq->pure = !strcmp(s0, "version") || !strcmp(s0, "healthz") ||
		           !strcmp(s0, "livez") || !strcmp(s0, "readyz");
		if (strcmp(rq->method, "GET") != 0)
			method_not_allowed(rs);
		else if (!strcmp(s0, "version"))
			version_answer(rs);
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
		char ckey[1024];
		rq->pure = true;
		snprintf(ckey, sizeof(ckey), "kube|%s|%s", rq->kc->key, rq->path);
		if (!rcache_get_key(f, ckey, rs)) {
			kube_discovery(f, rq, rs);
			rcache_put_key(f, ckey, rs);
		}
		return;
	}
	resource_request(f, rq, rs);
}
