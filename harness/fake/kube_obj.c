/* harness/fake/kube_obj.c - the objects in Kubernetes requests: media
 * types, JSON and YAML bodies, dryRun, field managers, fieldValidation,
 * type and name checks, what the server keeps, and storing and viewing
 * objects. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/base64.h"
#include "core/yaml.h"
#include "harness/fake/kube_api.h"


/* ---- answers ---- */

/* "deployments.apps "web"" as the API server names an object. */
void
ka_qualified(const struct kkind *k, const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s%s \"%s\"", k->plural, k->group[0] ? "." : "",
	         k->group, name);
}

void
ka_version_answer(struct fresp *rs)
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

const char *
ka_media_type(const struct freq *rq, char *buf, size_t len)
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
void
ka_manager_of(const struct freq *rq, const char *fallback, char *buf,
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

bool
ka_dry_run(const struct freq *rq)
{
	const char *d = freq_arg(rq, "dryRun");

	return d != NULL && !strcmp(d, "All");
}

/* The request body as a JSON object; protobuf and other types get 415. */
json_t *
ka_body_json(const struct freq *rq, struct fresp *rs)
{
	char mt[128];
	json_error_t je;
	json_t *v;

	ka_media_type(rq, mt, sizeof(mt));
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

/* Parse an apply body as YAML (JSON is YAML too): the document, or NULL
 * with *why (heap) saying why not. */
static json_t *
parse_apply_body(const struct freq *rq, char **why)
{
	struct mv_yaml *y = NULL;
	struct mv_err err;
	json_t *v;

	*why = NULL;
	mv_err_clear(&err);
	if (mv_yaml_load_buf("body", rq->body ? rq->body : "", rq->body_len, &y,
	                     &err) != 0) {
		*why = mv_strfmt("error decoding YAML: %s", err.msg);
		return NULL;
	}
	v = mv_yaml_count(y) == 1 ? json_incref(mv_yaml_doc(y, 0)) : NULL;
	mv_yaml_free(y);
	if (!json_is_object(v)) {
		json_decref(v);
		*why = strdup("the apply configuration must be one object");
		return NULL;
	}
	return v;
}

void
kube_body_preparse(struct freq *rq)
{
	char mt[128];

	if (rq->body_yaml_done || strcmp(rq->method, "PATCH") != 0 ||
	    strcmp(ka_media_type(rq, mt, sizeof(mt)),
	           "application/apply-patch+yaml") != 0)
		return;
	rq->body_yaml = parse_apply_body(rq, &rq->body_yaml_err);
	rq->body_yaml_done = rq->body_yaml != NULL || rq->body_yaml_err != NULL;
}

/* JSON or YAML (server-side apply bodies): parsed before the lock was
 * taken when the pipeline could (kube_body_preparse), here otherwise. */
json_t *
ka_body_yaml(const struct freq *rq, struct fresp *rs)
{
	char *why = NULL;
	json_t *v;

	if (rq->body_yaml_done) {
		if (rq->body_yaml != NULL)
			return json_incref(rq->body_yaml);
		kube_err(rs, 400, "BadRequest", NULL, "%s", rq->body_yaml_err);
		return NULL;
	}
	v = parse_apply_body(rq, &why);
	if (v == NULL)
		kube_err(rs, 400, "BadRequest", NULL, "%s",
		         why ? why : "out of memory");
	free(why);
	return v;
}

/* apiVersion and kind of a body must be the URL's (or absent, then
 * filled in). */
int
ka_check_type_meta(const struct kreq *kr, json_t *obj, struct fresp *rs)
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

json_t *
ka_meta_of(json_t *obj)
{
	json_t *m = json_object_get(obj, "metadata");

	if (!json_is_object(m)) {
		m = json_object();
		json_object_set_new(obj, "metadata", m);
	}
	return m;
}

/* DNS-1123 subdomain (most kinds) or label (namespaces, services). */
const char *
ka_name_problem(const struct kkind *k, const char *name)
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

void
ka_invalid(struct fresp *rs, const struct kreq *kr, const char *name,
        const char *field, const char *value, const char *why)
{
	json_t *d = kube_details(&kr->k, name);

	json_object_set_new(d, "causes",
	                    json_pack("[{s:s, s:s, s:s}]", "reason",
	                              "FieldValueInvalid", "message", why, "field",
	                              field));
	kube_err(rs, 422, "Invalid", d, "%s \"%s\" is invalid: %s: Invalid "
	         "value: \"%s\": %s", kr->k.kind, name, field, value, why);
}

/* A 422 Invalid with causes (stolen), worded as the API server words its
 * validation errors: `Kind.group "name" is invalid: field: message`, a
 * bracketed list when there are several. */
static void
invalid_causes(struct fresp *rs, const struct kreq *kr, const json_t *obj,
               json_t *causes)
{
	const char *name = fake_jstr(json_object_get(obj, "metadata"), "name");
	json_t *d = json_pack("{s:s, s:s}", "name", name, "kind", kr->k.kind);
	json_t *c;
	char msg[1900];
	size_t i, o = 0, n = json_array_size(causes);

	if (kr->k.group[0])
		json_object_set_new(d, "group", json_string(kr->k.group));
	json_array_foreach(causes, i, c)
		if (o < sizeof(msg))
			o += (size_t)snprintf(msg + o, sizeof(msg) - o, "%s%s: %s",
			                      i ? ", " : "", fake_jstr(c, "field"),
			                      fake_jstr(c, "message"));
	json_object_set_new(d, "causes", causes);
	kube_err(rs, 422, "Invalid", d, "%s%s%s \"%s\" is invalid: %s%s%s",
	         kr->k.kind, kr->k.group[0] ? "." : "", kr->k.group, name,
	         n > 1 ? "[" : "", msg, n > 1 ? "]" : "");
}

/* Field validation of a written object: 0 ok (warnings added to the
 * answer's headers), -1 answered. */
int
ka_validate(const struct freq *rq, const struct kreq *kr, json_t *obj,
         struct fresp *rs, bool apply)
{
	json_t *warn = json_array(), *causes = json_array(), *w;
	enum kvalidation v;
	char err[1024];
	size_t i;
	int rc = -1;

	if (validation_of(rq, rs, &v) != 0)
		goto out;
	if (kschema_check(&kr->k, obj, warn, causes, err, sizeof(err)) != 0) {
		kube_err(rs, 400, "BadRequest", NULL, "%s in version \"%s\" cannot "
		         "be handled as a %s: %s", kr->k.kind, kr->k.version,
		         kr->k.kind, err);
		goto out;
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
		goto out;
	}
	if (json_array_size(causes) > 0) {
		invalid_causes(rs, kr, obj, causes);
		causes = NULL;
		goto out;
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
	rc = 0;
out:
	json_decref(warn);
	json_decref(causes);
	return rc;
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
void
ka_keep_server_fields(const json_t *live, json_t *obj, const struct kreq *kr)
{
	json_t *lm = json_object_get(live, "metadata"), *m = ka_meta_of(obj);
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
json_t *
ka_view(struct fake *f, struct freq *rq, const struct kreq *kr, json_t *obj)
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

void
ka_store(struct fake *f, struct freq *rq, const struct kreq *kr, json_t *obj,
      bool created)
{
	json_t *m = ka_meta_of(obj);

	kctl_after_write(f, rq->kc, &kr->k, obj, created, false);
	kistiod_lb_sync(f, rq->kc, &kr->k, obj);
	kstore_put(f, rq->kc, &kr->k, kr->k.namespaced ? fake_jstr(m,
	                                                           "namespace")
	                                               : NULL,
	           fake_jstr(m, "name"), obj);
}

bool
ka_namespace_missing(struct fake *f, struct freq *rq, const struct kreq *kr,
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
		kube_err(rs, 403, "Forbidden", kube_details(&kr->k, ""), "%s%s%s is "
		         "forbidden: unable to create new content in namespace %s "
		         "because it is being terminated", kr->k.plural,
		         kr->k.group[0] ? "." : "", kr->k.group, ns);
		return true;
	}
	return false;
}

