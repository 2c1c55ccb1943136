/* harness/fake/kube_store.c - a cluster's objects: keys, resource
 * versions, uids, and label/field selectors. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/fake/kube_private.h"

bool
kstore_init(struct fake *f, struct kcluster *kc)
{
	json_t *kube = fake_db(f, "kube");

	if (json_object_get(kube, kc->key) != NULL)
		return false;
	json_object_set_new(kube, kc->key,
	                    json_pack("{s:i, s:{}, s:{}}", "rv", 1, "objects",
	                              "progress"));
	return true;
}

const char *
kkind_gkey(const struct kkind *k)
{
	return k->group[0] ? k->group : "core";
}

json_t *
kstore(struct fake *f, struct kcluster *kc)
{
	json_t *s = json_object_get(fake_db(f, "kube"), kc->key);

	if (s == NULL) {
		s = json_pack("{s:i, s:{}, s:{}}", "rv", 1, "objects", "progress");
		json_object_set_new(fake_db(f, "kube"), kc->key, s);
	}
	return s;
}

void
kobj_key(char *buf, size_t len, const struct kkind *k, const char *ns,
         const char *name)
{
	snprintf(buf, len, "%s/%s/%s/%s", kkind_gkey(k), k->plural,
	         k->namespaced && ns ? ns : "", name ? name : "");
}

json_t *
kstore_get(struct fake *f, struct kcluster *kc, const struct kkind *k,
           const char *ns, const char *name)
{
	char key[1024];

	kobj_key(key, sizeof(key), k, ns, name);
	return json_object_get(json_object_get(kstore(f, kc), "objects"), key);
}

const char *
kstore_rv(struct fake *f, struct kcluster *kc, char *buf, size_t len)
{
	snprintf(buf, len, "%lld",
	         (long long)json_integer_value(json_object_get(kstore(f, kc),
	                                                       "rv")));
	return buf;
}

const char *
kstore_next_rv(struct fake *f, struct kcluster *kc, char *buf, size_t len)
{
	json_t *s = kstore(f, kc);
	json_int_t rv = json_integer_value(json_object_get(s, "rv")) + 1;

	json_object_set_new(s, "rv", json_integer(rv));
	snprintf(buf, len, "%lld", (long long)rv);
	return buf;
}

/* Remember a change for watches.  The history is bounded by events and
 * by bytes (--watch-history, --watch-history-bytes): past either, the
 * oldest go (down to three quarters, so trimming is rare), and a watch
 * that had not read them gets a 410 (kube_watch.c). */
static void
record(struct fake *f, struct kcluster *kc, const char *rv, const char *type,
       const char *key, json_t *obj)
{
	size_t max_n = (size_t)fst(f)->opt.watch_events;
	size_t max_b = fst(f)->opt.watch_bytes;
	size_t size = json_dumpb(obj, NULL, 0, JSON_COMPACT) + strlen(key) + 64;
	size_t n, k = 0;
	json_t *keep;

	if (kc->events == NULL)
		kc->events = json_array();
	json_array_append_new(kc->events,
	                      json_pack("{s:I, s:s, s:s, s:O, s:I}", "rv",
	                                (json_int_t)strtoll(rv, NULL, 10), "type",
	                                type, "key", key, "object", obj, "size",
	                                (json_int_t)size));
	kc->events_bytes += size;
	n = json_array_size(kc->events);
	if (n <= max_n && kc->events_bytes <= max_b)
		return;
	if (n > max_n)
		max_n = max_n * 3 / 4;
	if (kc->events_bytes > max_b)
		max_b = max_b / 4 * 3;
	while (k < n && (n - k > max_n || kc->events_bytes > max_b)) {
		kc->events_bytes -= (size_t)json_integer_value(json_object_get(
		        json_array_get(kc->events, k), "size"));
		k++;
	}
	kc->events_from = (uint64_t)json_integer_value(json_object_get(
	        json_array_get(kc->events, k - 1), "rv"));
	keep = json_array();
	for (size_t i = k; i < n; i++)
		json_array_append(keep, json_array_get(kc->events, i));
	json_decref(kc->events);
	kc->events = keep;
}

void
kstore_put(struct fake *f, struct kcluster *kc, const struct kkind *k,
           const char *ns, const char *name, json_t *obj)
{
	char key[1024], rv[32];
	json_t *meta = json_object_get(obj, "metadata");
	json_t *objs = json_object_get(kstore(f, kc), "objects");
	bool existed;

	kobj_key(key, sizeof(key), k, ns, name);
	existed = json_object_get(objs, key) != NULL;
	if (!json_is_object(meta)) {
		meta = json_object();
		json_object_set_new(obj, "metadata", meta);
	}
	json_object_set_new(meta, "resourceVersion",
	                    json_string(kstore_next_rv(f, kc, rv, sizeof(rv))));
	record(f, kc, rv, existed ? "MODIFIED" : "ADDED", key, obj);
	json_object_set_new(objs, key, obj);
}

void
kstore_del_key(struct fake *f, struct kcluster *kc, const char *key)
{
	json_t *objs = json_object_get(kstore(f, kc), "objects");
	json_t *obj = json_object_get(objs, key), *last;
	char rv[32];

	if (obj == NULL)
		return;
	kstore_next_rv(f, kc, rv, sizeof(rv));
	/* a DELETED event carries the last state, at the deletion's version */
	last = json_deep_copy(obj);
	json_object_set_new(json_object_get(last, "metadata"), "resourceVersion",
	                    json_string(rv));
	record(f, kc, rv, "DELETED", key, last);
	json_decref(last);
	json_object_del(objs, key);
	json_object_del(json_object_get(kstore(f, kc), "progress"), key);
}

void
kstore_del(struct fake *f, struct kcluster *kc, const struct kkind *k,
           const char *ns, const char *name)
{
	char key[1024];

	kobj_key(key, sizeof(key), k, ns, name);
	kstore_del_key(f, kc, key);
}

void
kube_uid(const char *cluster, const char *objkey, const char *rv,
         char out[37])
{
	uint64_t a = fake_hash64("kube-uid", cluster, objkey, rv);
	uint64_t b = fake_hash64("kube-uid2", cluster, objkey, rv);

	/* RFC 4122 shape, version 4 and variant bits set. */
	snprintf(out, 37, "%08llx-%04llx-4%03llx-%04llx-%012llx",
	         (unsigned long long)(a >> 32),
	         (unsigned long long)(a >> 16 & 0xffff),
	         (unsigned long long)(a & 0xfff),
	         (unsigned long long)((b >> 48 & 0x3fff) | 0x8000),
	         (unsigned long long)(b & 0xffffffffffffULL));
}

void
kobj_init_meta(struct fake *f, struct kcluster *kc, const char *objkey,
               json_t *obj)
{
	json_t *meta = json_object_get(obj, "metadata");
	char uid[37], rv[32], ts[48];

	if (!json_is_object(meta)) {
		meta = json_object();
		json_object_set_new(obj, "metadata", meta);
	}
	/* uid from the object's key and the version it is created at: a
	 * deleted and re-created object gets a new one, reruns the same. */
	kube_uid(kc->key, objkey,
	         kstore_rv(f, kc, rv, sizeof(rv)), uid);
	fake_now_rfc3339(ts, sizeof(ts), false);
	json_object_set_new(meta, "uid", json_string(uid));
	json_object_set_new(meta, "creationTimestamp", json_string(ts));
	json_object_set_new(meta, "generation", json_integer(1));
	json_object_del(meta, "resourceVersion");
	json_object_del(meta, "deletionTimestamp");
	json_object_del(meta, "selfLink");
}

/* ---- selectors ---- */

enum sel_op { SEL_EQ, SEL_NE, SEL_IN, SEL_NOTIN, SEL_EXISTS, SEL_NOTEXISTS };

struct sel_req {
	bool field;        /* a field selector (metadata.name/namespace) */
	char *key;
	enum sel_op op;
	char **values;
	size_t n_values;
};

struct ksel {
	struct sel_req *r;
	size_t n;
};

void
ksel_free(struct ksel *sel)
{
	if (sel == NULL)
		return;
	for (size_t i = 0; i < sel->n; i++) {
		free(sel->r[i].key);
		for (size_t j = 0; j < sel->r[i].n_values; j++)
			free(sel->r[i].values[j]);
		free(sel->r[i].values);
	}
	free(sel->r);
	free(sel);
}

static char *
trim(const char *s, size_t n)
{
	while (n > 0 && isspace((unsigned char)*s)) {
		s++;
		n--;
	}
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		n--;
	return strndup(s, n);
}

static bool
label_value_ok(const char *v)
{
	size_t n = strlen(v);

	if (n > 63)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)v[i]) && !strchr("-_.", v[i]))
			return false;
	return n == 0 || (isalnum((unsigned char)v[0]) &&
	                  isalnum((unsigned char)v[n - 1]));
}

static bool
label_key_ok(const char *k)
{
	const char *slash = strrchr(k, '/');
	const char *name = slash ? slash + 1 : k;

	if (*name == '\0' || !label_value_ok(name))
		return false;
	if (slash != NULL) {
		for (const char *p = k; p < slash; p++)
			if (!islower((unsigned char)*p) && !isdigit((unsigned char)*p) &&
			    *p != '-' && *p != '.')
				return false;
		if (slash == k || slash - k > 253)
			return false;
	}
	return true;
}

static int
add_req(struct ksel *s, struct sel_req r)
{
	struct sel_req *nr = realloc(s->r, (s->n + 1) * sizeof(*nr));

	if (nr == NULL)
		return -1;
	s->r = nr;
	nr[s->n++] = r;
	return 0;
}

/* Split at commas that are not inside parentheses. */
static int
parse_one(struct ksel *s, const char *text, size_t n, bool field, char *err,
          size_t errlen)
{
	char *t = trim(text, n), *p;
	struct sel_req r;
	int rc = 0;

	memset(&r, 0, sizeof(r));
	r.field = field;
	if (*t == '\0') {
		free(t);
		return 0;
	}
	if (!field && *t == '!') {
		r.op = SEL_NOTEXISTS;
		r.key = trim(t + 1, strlen(t + 1));
	} else if ((p = strstr(t, "!=")) != NULL) {
		r.op = SEL_NE;
		r.key = trim(t, (size_t)(p - t));
		r.values = calloc(1, sizeof(char *));
		r.values[0] = trim(p + 2, strlen(p + 2));
		r.n_values = 1;
	} else if ((p = strchr(t, '=')) != NULL) {
		const char *v = p[1] == '=' ? p + 2 : p + 1;
		r.op = SEL_EQ;
		r.key = trim(t, (size_t)(p - t));
		r.values = calloc(1, sizeof(char *));
		r.values[0] = trim(v, strlen(v));
		r.n_values = 1;
	} else if (!field && ((p = strstr(t, " in ")) != NULL ||
	                      (p = strstr(t, " notin ")) != NULL)) {
		bool in = strncmp(p, " in ", 4) == 0;
		char *open = strchr(p, '('), *close = strrchr(p, ')');
		r.op = in ? SEL_IN : SEL_NOTIN;
		r.key = trim(t, (size_t)(p - t));
		if (open == NULL || close == NULL || close < open) {
			snprintf(err, errlen, "unable to parse requirement: found "
			         "'%s', expected: '('", p + (in ? 4 : 7));
			rc = -1;
		} else {
			char *list = strndup(open + 1, (size_t)(close - open - 1));
			char *save = NULL, *tok;
			for (tok = strtok_r(list, ",", &save); tok;
			     tok = strtok_r(NULL, ",", &save)) {
				char **nv = realloc(r.values, (r.n_values + 1) * sizeof(*nv));
				if (nv == NULL)
					break;
				r.values = nv;
				r.values[r.n_values++] = trim(tok, strlen(tok));
			}
			free(list);
		}
	} else if (!field) {
		r.op = SEL_EXISTS;
		r.key = trim(t, strlen(t));
	} else {
		snprintf(err, errlen, "invalid selector: '%s'; can't understand "
		         "'%s'", t, t);
		rc = -1;
	}
	if (rc == 0 && field && strcmp(r.key, "metadata.name") &&
	    strcmp(r.key, "metadata.namespace")) {
		snprintf(err, errlen, "field label not supported: %s", r.key);
		rc = -1;
	}
	if (rc == 0 && !field) {
		if (!label_key_ok(r.key)) {
			snprintf(err, errlen, "unable to parse requirement: "
			         "invalid label key \"%s\"", r.key);
			rc = -1;
		}
		for (size_t i = 0; rc == 0 && i < r.n_values; i++)
			if (!label_value_ok(r.values[i])) {
				snprintf(err, errlen, "unable to parse requirement: "
				         "invalid label value: \"%s\"", r.values[i]);
				rc = -1;
			}
	}
	free(t);
	if (rc == 0 && add_req(s, r) == 0)
		return 0;
	free(r.key);
	for (size_t i = 0; i < r.n_values; i++)
		free(r.values[i]);
	free(r.values);
	return -1;
}

static int
parse_all(struct ksel *s, const char *text, bool field, char *err,
          size_t errlen)
{
	const char *start = text;
	int depth = 0;

	if (text == NULL)
		return 0;
	for (const char *p = text;; p++) {
		if (*p == '(')
			depth++;
		else if (*p == ')')
			depth--;
		if (*p == '\0' || (*p == ',' && depth == 0)) {
			if (parse_one(s, start, (size_t)(p - start), field, err,
			              errlen) != 0)
				return -1;
			if (*p == '\0')
				break;
			start = p + 1;
		}
	}
	return 0;
}

int
ksel_parse(const char *labels, const char *fields, struct ksel **sel,
           char *err, size_t errlen)
{
	struct ksel *s = calloc(1, sizeof(*s));

	*sel = NULL;
	if (s == NULL)
		return -1;
	if (parse_all(s, labels, false, err, errlen) != 0 ||
	    parse_all(s, fields, true, err, errlen) != 0) {
		ksel_free(s);
		return -1;
	}
	if (s->n == 0) {
		ksel_free(s);
		s = NULL;
	}
	*sel = s;
	return 0;
}

bool
ksel_match(const struct ksel *sel, const json_t *obj)
{
	json_t *meta = json_object_get(obj, "metadata");
	json_t *labels = json_object_get(meta, "labels");

	if (sel == NULL)
		return true;
	for (size_t i = 0; i < sel->n; i++) {
		const struct sel_req *r = &sel->r[i];
		const char *have;
		bool present, in = false;

		if (r->field)
			have = fake_jstr(meta, strchr(r->key, '.') + 1);
		else
			have = json_string_value(json_object_get(labels, r->key));
		present = have != NULL;
		for (size_t j = 0; present && j < r->n_values; j++)
			in = in || strcmp(have, r->values[j]) == 0;
		switch (r->op) {
		case SEL_EQ:
		case SEL_IN:
			if (!in)
				return false;
			break;
		case SEL_NE:
		case SEL_NOTIN:
			if (in)
				return false;
			break;
		case SEL_EXISTS:
			if (!present)
				return false;
			break;
		case SEL_NOTEXISTS:
			if (present)
				return false;
			break;
		}
	}
	return true;
}
