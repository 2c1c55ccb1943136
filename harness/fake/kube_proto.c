/* harness/fake/kube_proto.c - the protobuf bodies kubectl sends:
 * TokenRequest (`kubectl create token`) and the objects of `kubectl
 * create namespace|configmap|secret|serviceaccount`, decoded into JSON.
 *
 * A body is "k8s\0" and a runtime.Unknown {1 typeMeta {1 apiVersion,
 * 2 kind}, 2 raw, 3 contentEncoding, 4 contentType}; raw is the object.
 * Only the fields of k8s.io/api's generated.proto listed below are read;
 * every length is checked against the buffer.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base64.h"
#include "harness/fake/kube_private.h"

struct pb {
	const uint8_t *p, *end;
};

static int
pb_varint(struct pb *b, uint64_t *out)
{
	uint64_t v = 0;

	for (int shift = 0; shift < 64; shift += 7) {
		if (b->p >= b->end)
			return -1;
		v |= (uint64_t)(*b->p & 0x7f) << shift;
		if (!(*b->p++ & 0x80)) {
			*out = v;
			return 0;
		}
	}
	return -1;
}

/* Next field: number, wire type, and for length-delimited fields the
 * bytes.  1 at the end, -1 on malformed input. */
static int
pb_next(struct pb *b, unsigned *field, unsigned *wire, struct pb *sub,
        uint64_t *num)
{
	uint64_t key, len;

	if (b->p == b->end)
		return 1;
	if (pb_varint(b, &key) != 0 || key >> 3 == 0 || key >> 3 > 0xffffffffu)
		return -1;
	*field = (unsigned)(key >> 3);
	*wire = key & 7;
	switch (*wire) {
	case 0:
		return pb_varint(b, num);
	case 1:
		if (b->end - b->p < 8)
			return -1;
		b->p += 8;
		return 0;
	case 5:
		if (b->end - b->p < 4)
			return -1;
		b->p += 4;
		return 0;
	case 2:
		if (pb_varint(b, &len) != 0 || len > (uint64_t)(b->end - b->p))
			return -1;
		sub->p = b->p;
		sub->end = b->p + len;
		b->p += len;
		return 0;
	default:
		return -1; /* groups are not used by Kubernetes */
	}
}

/* A string field as JSON (NULL when not UTF-8). */
static json_t *
pb_string(const struct pb *s)
{
	return json_stringn((const char *)s->p, (size_t)(s->end - s->p));
}

/* Unwrap "k8s\0" + runtime.Unknown: raw (the object) and typeMeta. */
static int
unknown_raw(const uint8_t *buf, size_t len, struct pb *raw, char *kind,
            size_t kindlen)
{
	struct pb b, sub, tm;
	unsigned field, wire;
	uint64_t num;
	int rc;

	raw->p = raw->end = NULL;
	kind[0] = '\0';
	if (buf == NULL || len < 4 || memcmp(buf, "k8s\0", 4) != 0)
		return -1;
	b.p = buf + 4;
	b.end = buf + len;
	while ((rc = pb_next(&b, &field, &wire, &sub, &num)) == 0) {
		if (field == 2 && wire == 2)
			*raw = sub;
		if (field == 1 && wire == 2) {
			tm = sub;
			while (pb_next(&tm, &field, &wire, &sub, &num) == 0)
				if (field == 2 && wire == 2)
					snprintf(kind, kindlen, "%.*s",
					         (int)(sub.end - sub.p), (const char *)sub.p);
		}
	}
	return rc < 0 || raw->p == NULL ? -1 : 0;
}

int
kube_token_request_decode(const uint8_t *buf, size_t len, json_t **audiences,
                          long long *expiration)
{
	struct pb raw, sub, spec = {NULL, NULL};
	unsigned field, wire;
	uint64_t num = 0;
	char kind[64];
	int rc;

	*audiences = NULL;
	*expiration = 0;
	if (unknown_raw(buf, len, &raw, kind, sizeof(kind)) != 0)
		return -1;
	/* TokenRequest: 1 metadata, 2 spec, 3 status */
	while ((rc = pb_next(&raw, &field, &wire, &sub, &num)) == 0)
		if (field == 2 && wire == 2)
			spec = sub;
	if (rc < 0)
		return -1;
	*audiences = json_array();
	/* TokenRequestSpec: 1 audiences, 3 boundObjectRef, 4 expiration */
	while (spec.p != NULL &&
	       (rc = pb_next(&spec, &field, &wire, &sub, &num)) == 0) {
		if (field == 1 && wire == 2) {
			json_t *a = pb_string(&sub);
			if (a == NULL) {
				rc = -1;
				break;
			}
			json_array_append_new(*audiences, a);
		} else if (field == 4 && wire == 0) {
			*expiration = num > INT64_MAX ? -1 : (long long)num;
		}
	}
	if (spec.p != NULL && rc < 0) {
		json_decref(*audiences);
		*audiences = NULL;
		return -1;
	}
	return 0;
}

/* map<string,string> entry {1 key, 2 value} into obj; bytes values are
 * base64 (Secret.data). */
static int
map_entry(struct pb *e, json_t *obj, bool bytes)
{
	struct pb sub, key = {NULL, NULL}, val = {NULL, NULL};
	unsigned field, wire;
	uint64_t num;
	json_t *k, *v;
	int rc;

	while ((rc = pb_next(e, &field, &wire, &sub, &num)) == 0) {
		if (field == 1 && wire == 2)
			key = sub;
		else if (field == 2 && wire == 2)
			val = sub;
	}
	if (rc < 0 || key.p == NULL)
		return -1;
	k = pb_string(&key);
	if (bytes) {
		char *b = mv_base64_encode(val.p ? val.p : (const uint8_t *)"",
		                           val.p ? (size_t)(val.end - val.p) : 0);
		v = b ? json_string(b) : NULL;
		free(b);
	} else {
		v = val.p ? pb_string(&val) : json_string("");
	}
	if (k == NULL || v == NULL) {
		json_decref(k);
		json_decref(v);
		return -1;
	}
	json_object_set_new(obj, json_string_value(k), v);
	json_decref(k);
	return 0;
}

static json_t *
sub_map(json_t *parent, const char *name)
{
	json_t *m = json_object_get(parent, name);

	if (m == NULL) {
		m = json_object();
		json_object_set_new(parent, name, m);
	}
	return m;
}

/* ObjectMeta: 1 name, 2 generateName, 3 namespace, 11 labels,
 * 12 annotations, 14 finalizers (the rest is the server's). */
static int
object_meta(struct pb *m, json_t *meta)
{
	struct pb sub;
	unsigned field, wire;
	uint64_t num;
	int rc;

	while ((rc = pb_next(m, &field, &wire, &sub, &num)) == 0) {
		json_t *s;
		if (wire != 2)
			continue;
		switch (field) {
		case 1:
		case 2:
		case 3:
			if ((s = pb_string(&sub)) == NULL)
				return -1;
			json_object_set_new(meta, field == 1 ? "name"
			                          : field == 2 ? "generateName"
			                                       : "namespace", s);
			break;
		case 11:
		case 12:
			if (map_entry(&sub, sub_map(meta, field == 11 ? "labels"
			                                             : "annotations"),
			              false) != 0)
				return -1;
			break;
		case 14:
			if ((s = pb_string(&sub)) == NULL)
				return -1;
			if (json_object_get(meta, "finalizers") == NULL)
				json_object_set_new(meta, "finalizers", json_array());
			json_array_append_new(json_object_get(meta, "finalizers"), s);
			break;
		default:
			break;
		}
	}
	return rc < 0 ? -1 : 0;
}

json_t *
kube_object_decode(const uint8_t *buf, size_t len, const char *api_version)
{
	struct pb raw, sub;
	unsigned field, wire;
	uint64_t num;
	char kind[64];
	json_t *obj, *meta;
	int rc;

	if (unknown_raw(buf, len, &raw, kind, sizeof(kind)) != 0)
		return NULL;
	if (strcmp(kind, "Namespace") && strcmp(kind, "ConfigMap") &&
	    strcmp(kind, "Secret") && strcmp(kind, "ServiceAccount"))
		return NULL;
	obj = json_pack("{s:s, s:s, s:{}}", "apiVersion", api_version, "kind",
	                kind, "metadata");
	meta = json_object_get(obj, "metadata");
	while ((rc = pb_next(&raw, &field, &wire, &sub, &num)) == 0) {
		int bad = 0;
		if (field == 1 && wire == 2) {
			bad = object_meta(&sub, meta);
		} else if (!strcmp(kind, "ConfigMap") && wire == 2 &&
		           (field == 2 || field == 3)) {
			/* 2 data, 3 binaryData (bytes, base64 in JSON) */
			bad = map_entry(&sub, sub_map(obj, field == 2 ? "data"
			                                             : "binaryData"),
			                field == 3);
		} else if (!strcmp(kind, "Secret") && wire == 2 &&
		           (field == 2 || field == 4)) {
			/* 2 data (bytes), 4 stringData */
			bad = map_entry(&sub, sub_map(obj, field == 2 ? "data"
			                                             : "stringData"),
			                field == 2);
		} else if (!strcmp(kind, "Secret") && field == 3 && wire == 2) {
			json_t *s = pb_string(&sub);
			bad = s == NULL;
			if (s != NULL)
				json_object_set_new(obj, "type", s);
		} else if ((!strcmp(kind, "ConfigMap") && field == 4) ||
		           (!strcmp(kind, "Secret") && field == 5)) {
			if (wire == 0)
				json_object_set_new(obj, "immutable", json_boolean(num));
		} else if (!strcmp(kind, "ServiceAccount") && field == 4 &&
		           wire == 0) {
			json_object_set_new(obj, "automountServiceAccountToken",
			                    json_boolean(num));
		}
		if (bad) {
			rc = -1;
			break;
		}
	}
	if (rc < 0) {
		json_decref(obj);
		return NULL;
	}
	return obj;
}
