/* harness/fake/kube_schema.c - fieldValidation for Kubernetes objects.
 *
 * Built-in kinds are checked against fixtures/kube-schema/builtin.json
 * (compiled in), custom resources against their CRD's openAPIV3Schema.
 * Unknown fields are pruned, as the API server's typed decoding drops
 * them, and reported so the caller can refuse (Strict), warn (Warn) or
 * say nothing (Ignore).  A value of the wrong JSON type in a built-in kind
 * is a decoding error, worded like the API server's decoder; in a custom
 * resource it, a missing required field and a value outside an enum are
 * validation causes (the 422 Invalid answer), worded like the API
 * server's OpenAPI validation.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/fake/kube_private.h"


static json_t *kinds, *types;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void
load(void)
{
	json_t *doc = json_loadb(fake_kube_schema_blobs[0].data,
	                         fake_kube_schema_blobs[0].len, 0, NULL);

	kinds = json_incref(json_object_get(doc, "kinds"));
	types = json_incref(json_object_get(doc, "types"));
	json_decref(doc);
}

struct vstate {
	json_t *warnings;
	char *err;
	size_t errlen;
	int rc;
	const char *kind;
	json_t *causes;
};

static const char *
json_type_word(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "object";
	case JSON_ARRAY: return "array";
	case JSON_STRING: return "string";
	case JSON_INTEGER:
	case JSON_REAL: return "number";
	case JSON_TRUE:
	case JSON_FALSE: return "bool";
	default: return "null";
	}
}

static void
type_error(struct vstate *st, const char *path, const json_t *v,
           const char *want)
{
	if (st->rc != 0)
		return;
	st->rc = -1;
	snprintf(st->err, st->errlen, "json: cannot unmarshal %s into Go "
	         "struct field %s.%s of type %s", json_type_word(v), st->kind,
	         path, want);
}

static void
unknown(struct vstate *st, const char *path)
{
	char w[600];

	snprintf(w, sizeof(w), "unknown field \"%s\"", path);
	json_array_append_new(st->warnings, json_string(w));
}

static void check_type(struct vstate *st, const json_t *type, json_t *v,
                       const char *path);

static void
check_fields(struct vstate *st, const json_t *fields, json_t *obj,
             const char *path)
{
	const char *k;
	json_t *x;
	void *tmp;
	char sub[1024];

	if (!json_is_object(obj)) {
		type_error(st, path, obj, "struct");
		return;
	}
	json_object_foreach_safe(obj, tmp, k, x) {
		json_t *ft = json_object_get(fields, k);
		snprintf(sub, sizeof(sub), "%s%s%s", path, path[0] ? "." : "", k);
		if (ft == NULL) {
			unknown(st, sub);
			json_object_del(obj, k);
			continue;
		}
		check_type(st, ft, x, sub);
	}
}

static void
check_type(struct vstate *st, const json_t *type, json_t *v, const char *path)
{
	const char *t = json_string_value(type);

	if (json_is_null(v))
		return;
	if (json_is_object(type)) {
		check_fields(st, type, v, path);
		return;
	}
	if (t == NULL || !strcmp(t, "any"))
		return;
	if (!strncmp(t, "[]", 2)) {
		json_t *it, *et = json_string(t + 2);
		size_t i;
		char sub[1024];
		if (!json_is_array(v)) {
			type_error(st, path, v, t);
		} else {
			json_array_foreach(v, i, it) {
				snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
				check_type(st, et, it, sub);
			}
		}
		json_decref(et);
		return;
	}
	if (!strcmp(t, "string")) {
		if (!json_is_string(v))
			type_error(st, path, v, "string");
	} else if (!strcmp(t, "integer")) {
		if (!json_is_integer(v))
			type_error(st, path, v, "int32");
	} else if (!strcmp(t, "number")) {
		if (!json_is_number(v))
			type_error(st, path, v, "float64");
	} else if (!strcmp(t, "boolean")) {
		if (!json_is_boolean(v))
			type_error(st, path, v, "bool");
	} else if (!strcmp(t, "intstr") || !strcmp(t, "quantity")) {
		if (!json_is_integer(v) && !json_is_string(v) && !json_is_real(v))
			type_error(st, path, v, "intstr.IntOrString");
	} else if (!strcmp(t, "object")) {
		if (!json_is_object(v))
			type_error(st, path, v, "map[string]interface {}");
	} else if (!strcmp(t, "map")) {
		const char *k;
		json_t *x;
		if (!json_is_object(v)) {
			type_error(st, path, v, "map[string]string");
			return;
		}
		json_object_foreach(v, k, x)
			if (!json_is_string(x) && !json_is_null(x)) {
				char sub[1024];
				snprintf(sub, sizeof(sub), "%s.%s", path, k);
				type_error(st, sub, x, "string");
			}
	} else {
		json_t *named = json_object_get(types, t);
		if (named != NULL)
			check_fields(st, named, v, path);
	}
}

static const char *
openapi_type_word(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "object";
	case JSON_ARRAY: return "array";
	case JSON_STRING: return "string";
	case JSON_INTEGER: return "integer";
	case JSON_REAL: return "number";
	case JSON_TRUE:
	case JSON_FALSE: return "boolean";
	default: return "null";
	}
}

static void
cause(struct vstate *st, const char *reason, const char *field,
      const char *msg)
{
	if (json_array_size(st->causes) >= KSCHEMA_MAX_CAUSES)
		return;
	json_array_append_new(st->causes,
	                      json_pack("{s:s, s:s, s:s}", "reason", reason,
	                                "message", msg, "field", field));
}

static void
cr_type_error(struct vstate *st, const char *path, const json_t *v,
              const char *want)
{
	char m[1400];

	snprintf(m, sizeof(m), "Invalid value: \"%s\": %s in body must be of "
	         "type %s: \"%s\"", openapi_type_word(v), path, want,
	         openapi_type_word(v));
	cause(st, "FieldValueInvalid", path, m);
}

/* A value outside the schema's enum: FieldValueNotSupported. */
static void
check_enum(struct vstate *st, const json_t *s, const json_t *v,
           const char *path)
{
	json_t *e = json_object_get(s, "enum"), *x;
	char m[1400], *val;
	size_t i, o;

	if (!json_is_array(e))
		return;
	json_array_foreach(e, i, x)
		if (json_equal(x, v))
			return;
	val = json_dumps(v, JSON_ENCODE_ANY);
	o = (size_t)snprintf(m, sizeof(m), "Unsupported value: %s: supported "
	                     "values: ", val ? val : "null");
	free(val);
	json_array_foreach(e, i, x) {
		char *d = json_dumps(x, JSON_ENCODE_ANY);
		if (o < sizeof(m))
			o += (size_t)snprintf(m + o, sizeof(m) - o, "%s%s",
			                      i ? ", " : "", d ? d : "null");
		free(d);
	}
	cause(st, "FieldValueNotSupported", path, m);
}

/* A CRD's structural schema: properties, items, preserve-unknown, types,
 * enums and required fields. */
static void
check_openapi(struct vstate *st, const json_t *s, json_t *v, const char *path)
{
	const char *t = fake_jstr(s, "type");
	char sub[1024];

	if (json_is_null(v) || !json_is_object(s))
		return;
	if (json_is_true(json_object_get(s, "x-kubernetes-int-or-string"))) {
		if (!json_is_integer(v) && !json_is_string(v))
			cr_type_error(st, path, v, "integer,string");
		return;
	}
	check_enum(st, s, v, path);
	if (!strcmp(t, "object")) {
		json_t *props = json_object_get(s, "properties");
		json_t *addl = json_object_get(s, "additionalProperties"), *x;
		bool keep = json_is_true(json_object_get(
		        s, "x-kubernetes-preserve-unknown-fields"));
		const char *k;
		void *tmp;
		json_t *req = json_object_get(s, "required");
		size_t i;
		if (!json_is_object(v)) {
			cr_type_error(st, path, v, "object");
			return;
		}
		json_array_foreach(req, i, x) {
			const char *rk = json_string_value(x);
			if (rk == NULL || json_object_get(v, rk) != NULL)
				continue;
			snprintf(sub, sizeof(sub), "%s%s%s", path, path[0] ? "." : "",
			         rk);
			cause(st, "FieldValueRequired", sub, "Required value");
		}
		json_object_foreach_safe(v, tmp, k, x) {
			json_t *ps = json_object_get(props, k);
			if (path[0] == '\0' && (!strcmp(k, "apiVersion") ||
			                        !strcmp(k, "kind") ||
			                        !strcmp(k, "metadata")))
				continue; /* the API server's, not the CRD's */
			snprintf(sub, sizeof(sub), "%s%s%s", path, path[0] ? "." : "",
			         k);
			if (ps != NULL)
				check_openapi(st, ps, x, sub);
			else if (json_is_object(addl))
				check_openapi(st, addl, x, sub);
			else if (!keep && props != NULL && !json_is_true(addl)) {
				unknown(st, sub);
				json_object_del(v, k);
			}
		}
	} else if (!strcmp(t, "array")) {
		json_t *x;
		size_t i;
		if (!json_is_array(v)) {
			cr_type_error(st, path, v, "array");
			return;
		}
		json_array_foreach(v, i, x) {
			snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
			check_openapi(st, json_object_get(s, "items"), x, sub);
		}
	} else if (!strcmp(t, "string") && !json_is_string(v)) {
		cr_type_error(st, path, v, "string");
	} else if (!strcmp(t, "integer") && !json_is_integer(v)) {
		cr_type_error(st, path, v, "integer");
	} else if (!strcmp(t, "number") && !json_is_number(v)) {
		cr_type_error(st, path, v, "number");
	} else if (!strcmp(t, "boolean") && !json_is_boolean(v)) {
		cr_type_error(st, path, v, "boolean");
	}
}

int
kschema_check(const struct kkind *k, json_t *obj, json_t *warnings,
              json_t *causes, char *err, size_t errlen)
{
	struct vstate st = {warnings, err, errlen, 0, k->kind, causes};
	char key[256];
	json_t *type;

	pthread_once(&once, load);
	snprintf(key, sizeof(key), "%s%s%s/%s", k->group,
	         k->group[0] ? "/" : "", k->version, k->kind);
	/* a custom resource is its CRD's, even in a group the table knows */
	type = k->flags & KK_CR ? NULL : json_object_get(kinds, key);
	if (type != NULL) {
		check_type(&st, json_object_get(types, json_string_value(type)),
		           obj, "");
	} else if (k->crd_schema != NULL) {
		json_t *meta = json_object_get(obj, "metadata");
		json_t *mt = json_string("ObjectMeta");
		/* apiVersion, kind and metadata are the API server's, the rest
		 * the CRD's */
		check_openapi(&st, k->crd_schema, obj, "");
		if (meta != NULL && st.rc == 0)
			check_type(&st, mt, meta, "metadata");
		json_decref(mt);
	}
	return st.rc;
}
