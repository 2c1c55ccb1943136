/* harness/fake/schema.c - request bodies against the real API schemas.
 *
 * fixtures/api-schema/NAME.json (extracted from the Google Cloud SDK by
 * harness/tools/extract_api_schema.py) are compiled in and parsed once.
 * Validation follows proto3 JSON rules as Google's front ends apply them:
 * unknown field names, wrong JSON types, integers out of range, strings
 * that are not numbers, unknown enum values and bad base64 are refused
 * with Google's wording ("Invalid JSON payload received. Unknown name
 * \"foo\" at 'cluster': Cannot find field.").  null is accepted anywhere
 * (it means "unset").
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base64.h"
#include "harness/fake/schema.h"
#include "harness/fake/state.h"


#define SCHEMA_MAX_VIOLATIONS 20
#define SCHEMA_PATH_MAX 512

static json_t *schema_methods; /* method id -> {"doc": api doc, "body"} */
static pthread_once_t schema_once = PTHREAD_ONCE_INIT;

static void
schema_load(void)
{
	schema_methods = json_object();
	for (const struct fake_schema_blob *b = fake_schema_blobs; b->name; b++) {
		json_t *doc = json_loadb(b->data, b->len, 0, NULL), *m;
		const char *id;

		if (doc == NULL)
			continue; /* a broken build; every body then passes */
		json_object_foreach(json_object_get(doc, "methods"), id, m)
			json_object_set_new(schema_methods, id,
			                    json_pack("{s:O, s:O}", "doc", doc, "body",
			                              json_object_get(m, "body")));
		json_decref(doc);
	}
}

bool
schema_has_method(const char *method_id)
{
	pthread_once(&schema_once, schema_load);
	return json_object_get(schema_methods, method_id) != NULL;
}

struct vctx {
	json_t *doc;      /* the API's schema document */
	json_t *messages;
	bool snake;       /* GKE names fields snake_case in errors */
	json_t *out;
	size_t added;
};

static void
violation(struct vctx *c, const char *field, const char *fmt, ...)
	MV_PRINTF(3, 4);

static void
violation(struct vctx *c, const char *field, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (c->added >= SCHEMA_MAX_VIOLATIONS)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	json_array_append_new(c->out, json_pack("{s:s, s:s}", "field", field,
	                                        "description", msg));
	c->added++;
}

/* Append ".name" (or "name" at the root) to path, snake_cased when the
 * API words its errors that way. */
static void
path_field(const struct vctx *c, char *path, size_t len, const char *name)
{
	size_t o = strlen(path);

	if (o > 0 && o + 1 < len)
		path[o++] = '.';
	for (const char *p = name; *p && o + 2 < len; p++) {
		if (c->snake && isupper((unsigned char)*p)) {
			path[o++] = '_';
			path[o++] = (char)tolower((unsigned char)*p);
		} else {
			path[o++] = *p;
		}
	}
	path[o] = '\0';
}

static char *
value_repr(json_t *v)
{
	char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);

	if (s != NULL && strlen(s) > 120)
		strcpy(s + 117, "...");
	return s;
}

static const char *
type_name(const char *t)
{
	static const char *const map[][2] = {
		{"string", "TYPE_STRING"}, {"int32", "TYPE_INT32"},
		{"int64", "TYPE_INT64"},   {"uint32", "TYPE_UINT32"},
		{"uint64", "TYPE_UINT64"}, {"double", "TYPE_DOUBLE"},
		{"float", "TYPE_FLOAT"},   {"bool", "TYPE_BOOL"},
		{"bytes", "TYPE_BYTES"},   {"enum", "TYPE_ENUM"},
	};
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(map[i][0], t) == 0)
			return map[i][1];
	return "TYPE_MESSAGE";
}

static void
bad_value(struct vctx *c, const char *path, const char *tname, json_t *v)
{
	char *r = value_repr(v);

	violation(c, path, "Invalid value at '%s' (%s), %s", path, tname,
	          r ? r : "?");
	free(r);
}

/* An integer in [lo, hi] as proto3 JSON allows: a number without a
 * fraction or a decimal string. */
static bool
integer_ok(json_t *v, double lo, double hi, bool is_unsigned)
{
	if (json_is_integer(v)) {
		json_int_t n = json_integer_value(v);
		return (double)n >= lo && (double)n <= hi;
	}
	if (json_is_real(v)) {
		double d = json_real_value(v);
		return d == floor(d) && d >= lo && d <= hi;
	}
	if (json_is_string(v)) {
		const char *s = json_string_value(v);
		char *end;
		if (*s == '\0' || isspace((unsigned char)*s))
			return false;
		errno = 0;
		if (is_unsigned) {
			unsigned long long u;
			if (*s == '-')
				return false;
			u = strtoull(s, &end, 10);
			return errno == 0 && *end == '\0' && (double)u <= hi;
		} else {
			long long n = strtoll(s, &end, 10);
			return errno == 0 && *end == '\0' && (double)n >= lo &&
			       (double)n <= hi;
		}
	}
	return false;
}

static void check_message(struct vctx *c, const char *msgname, json_t *v,
                          char *path, size_t len);

static void
check_scalar(struct vctx *c, json_t *ft, json_t *v, char *path, size_t len)
{
	const char *t = json_string_value(json_object_get(ft, "type"));
	bool ok = true;

	if (json_is_null(v) || t == NULL)
		return;
	if (!strcmp(t, "string")) {
		ok = json_is_string(v);
	} else if (!strcmp(t, "int32")) {
		ok = integer_ok(v, INT32_MIN, INT32_MAX, false);
	} else if (!strcmp(t, "uint32")) {
		ok = integer_ok(v, 0, UINT32_MAX, true);
	} else if (!strcmp(t, "int64")) {
		ok = integer_ok(v, -9223372036854775808.0, 9223372036854775807.0,
		                false);
	} else if (!strcmp(t, "uint64")) {
		ok = integer_ok(v, 0, 18446744073709551615.0, true);
	} else if (!strcmp(t, "double") || !strcmp(t, "float")) {
		if (json_is_string(v)) {
			const char *s = json_string_value(v);
			char *end;
			ok = !strcmp(s, "NaN") || !strcmp(s, "Infinity") ||
			     !strcmp(s, "-Infinity");
			if (!ok && *s) {
				strtod(s, &end);
				ok = *end == '\0';
			}
		} else {
			ok = json_is_number(v);
		}
	} else if (!strcmp(t, "bool")) {
		ok = json_is_boolean(v);
	} else if (!strcmp(t, "bytes")) {
		uint8_t *raw = NULL;
		size_t n;
		const char *s = json_string_value(v);
		ok = s != NULL &&
		     (mv_base64_decode(s, strlen(s), &raw, &n) == 0 ||
		      mv_base64url_decode(s, strlen(s), &raw, &n) == 0);
		free(raw);
	} else if (!strcmp(t, "enum")) {
		json_t *vals = json_object_get(ft, "values"), *x;
		size_t i;
		ok = json_is_integer(v);
		if (json_is_string(v))
			json_array_foreach(vals, i, x)
				if (!strcmp(json_string_value(x), json_string_value(v)))
					ok = true;
	} else if (!strcmp(t, "any")) {
		ok = true;
	} else if (!strcmp(t, "message")) {
		const char *m = json_string_value(json_object_get(ft, "message"));
		if (json_is_object(v)) {
			check_message(c, m, v, path, len);
			return;
		} else {
			char tn[256], *r = value_repr(v);
			snprintf(tn, sizeof(tn), "type.googleapis.com/%s.%s",
			         json_string_value(json_object_get(c->doc,
			                                           "proto_package")),
			         m);
			violation(c, path, "Invalid value at '%s' (%s), %s", path, tn,
			          r ? r : "?");
			free(r);
			return;
		}
	} else if (!strcmp(t, "map")) {
		json_t *vt = json_object_get(ft, "value"), *x;
		const char *k;
		size_t base = strlen(path);
		if (!json_is_object(v)) {
			bad_value(c, path, "TYPE_MESSAGE", v);
			return;
		}
		json_object_foreach(v, k, x) {
			snprintf(path + base, len - base, "[%s]", k);
			check_scalar(c, vt, x, path, len);
			path[base] = '\0';
		}
		return;
	}
	if (!ok)
		bad_value(c, path, type_name(t), v);
}

static void
check_field(struct vctx *c, json_t *ft, json_t *v, char *path, size_t len)
{
	bool repeated = json_is_true(json_object_get(ft, "repeated"));
	size_t base = strlen(path), i;
	json_t *x;

	if (json_is_null(v))
		return;
	if (!repeated) {
		if (json_is_array(v)) {
			violation(c, path, "Invalid JSON payload received. Proto field "
			          "is not repeating, cannot start list.");
			return;
		}
		check_scalar(c, ft, v, path, len);
		return;
	}
	if (!json_is_array(v)) {
		const char *t = json_string_value(json_object_get(ft, "type"));
		bad_value(c, path, type_name(t ? t : "message"), v);
		return;
	}
	json_array_foreach(v, i, x) {
		snprintf(path + base, len - base, "[%zu]", i);
		if (json_is_array(x))
			violation(c, path, "Invalid JSON payload received. Proto "
			          "field is not repeating, cannot start list.");
		else
			check_scalar(c, ft, x, path, len);
		path[base] = '\0';
	}
}

static void
check_message(struct vctx *c, const char *msgname, json_t *v, char *path,
              size_t len)
{
	json_t *fields = json_object_get(c->messages, msgname), *x;
	size_t base = strlen(path);
	const char *k;

	if (fields == NULL)
		return; /* not extracted: nothing to check against */
	json_object_foreach(v, k, x) {
		json_t *ft = json_object_get(fields, k);
		if (ft == NULL) {
			if (base > 0)
				violation(c, path, "Invalid JSON payload received. Unknown "
				          "name \"%s\" at '%s': Cannot find field.", k, path);
			else
				violation(c, path, "Invalid JSON payload received. Unknown "
				          "name \"%s\": Cannot find field.", k);
			continue;
		}
		path_field(c, path, len, k);
		check_field(c, ft, x, path, len);
		path[base] = '\0';
	}
}

size_t
schema_validate(const char *method_id, json_t *body, json_t *out)
{
	json_t *m;
	struct vctx c;
	char path[SCHEMA_PATH_MAX];
	const char *root;

	pthread_once(&schema_once, schema_load);
	m = json_object_get(schema_methods, method_id);
	if (m == NULL || body == NULL)
		return 0;
	memset(&c, 0, sizeof(c));
	c.doc = json_object_get(m, "doc");
	c.messages = json_object_get(c.doc, "messages");
	c.snake = !strcmp(fake_jstr(c.doc, "path_style"), "snake");
	c.out = out;
	root = json_string_value(json_object_get(c.doc, "body_root"));
	snprintf(path, sizeof(path), "%s", root ? root : "");
	check_message(&c, json_string_value(json_object_get(m, "body")), body,
	              path, sizeof(path));
	return c.added;
}
