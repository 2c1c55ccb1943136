/* harness/fake/kube_merge.c - the three patch formats of PATCH requests:
 * JSON merge patch (RFC 7386), JSON patch (RFC 6902) and the strategic
 * merge patch of built-in kinds, whose lists merge by key (containers and
 * env by name, ports by port/containerPort, volumes by name, ...) and
 * which carries directives ($patch, $setElementOrder/..., $retainKeys,
 * $deleteFromPrimitiveList/...). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/fake/kube_private.h"

/* ---- merge keys of the built-in kinds' lists ---- */

const char *
kmerge_list_key(const char *path)
{
	static const struct {
		const char *field, *key;
	} keys[] = {
		{"containers", "name"}, {"initContainers", "name"},
		{"ephemeralContainers", "name"}, {"env", "name"},
		{"volumes", "name"}, {"volumeMounts", "mountPath"},
		{"imagePullSecrets", "name"}, {"webhooks", "name"},
		{"versions", "name"}, {"ownerReferences", "uid"},
		{"conditions", "type"}, {"hostAliases", "ip"},
		{"volumeDevices", "devicePath"},
	};
	const char *last = strrchr(path, '.');
	char field[128];
	size_t n;

	last = last ? last + 1 : path;
	n = strcspn(last, "[");
	if (n >= sizeof(field))
		return NULL;
	memcpy(field, last, n);
	field[n] = '\0';
	/* ports: a container's by containerPort, a Service's by port */
	if (strcmp(field, "ports") == 0)
		return strstr(path, "ontainers[]") ? "containerPort" : "port";
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (strcmp(keys[i].field, field) == 0)
			return keys[i].key;
	return NULL;
}

/* ---- RFC 7386 ---- */

json_t *
kmerge_json_merge(const json_t *target, const json_t *patch)
{
	json_t *out, *v;
	const char *k;

	if (!json_is_object(patch))
		return json_deep_copy(patch);
	out = json_is_object(target) ? json_deep_copy(target) : json_object();
	json_object_foreach((json_t *)patch, k, v) {
		if (json_is_null(v)) {
			json_object_del(out, k);
		} else {
			json_t *m = kmerge_json_merge(json_object_get(out, k), v);
			json_object_set_new(out, k, m);
		}
	}
	return out;
}

/* ---- RFC 6902 with RFC 6901 pointers ---- */

/* Decode one reference token (~1 -> /, ~0 -> ~); NULL on a bad escape. */
static char *
ptr_token(const char *s, size_t n)
{
	char *out = malloc(n + 1);
	size_t o = 0;

	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '~') {
			if (i + 1 >= n || (s[i + 1] != '0' && s[i + 1] != '1')) {
				free(out);
				return NULL;
			}
			out[o++] = s[i + 1] == '0' ? '~' : '/';
			i++;
		} else {
			out[o++] = s[i];
		}
	}
	out[o] = '\0';
	return out;
}

static bool
array_index(const char *tok, size_t size, bool allow_end, size_t *out)
{
	char *end;
	unsigned long v;

	if (allow_end && strcmp(tok, "-") == 0) {
		*out = size;
		return true;
	}
	if (*tok == '\0' || (tok[0] == '0' && tok[1] != '\0'))
		return false;
	for (const char *p = tok; *p; p++)
		if (*p < '0' || *p > '9')
			return false;
	v = strtoul(tok, &end, 10);
	if (v > size || (!allow_end && v == size))
		return false;
	*out = v;
	return true;
}

/* Find the parent of the pointer's target; *last is its last token. */
static json_t *
ptr_parent(json_t *doc, const char *ptr, char **last, char *err,
           size_t errlen)
{
	json_t *cur = doc;
	const char *p = ptr;

	*last = NULL;
	if (*p != '/') {
		snprintf(err, errlen, "invalid JSON pointer \"%s\"", ptr);
		return NULL;
	}
	for (;;) {
		const char *next = strchr(p + 1, '/');
		size_t n = next ? (size_t)(next - p - 1) : strlen(p + 1);
		char *tok = ptr_token(p + 1, n);
		size_t idx;

		if (tok == NULL) {
			snprintf(err, errlen, "invalid JSON pointer \"%s\"", ptr);
			return NULL;
		}
		if (next == NULL) {
			*last = tok;
			return cur;
		}
		if (json_is_object(cur)) {
			cur = json_object_get(cur, tok);
		} else if (json_is_array(cur) &&
		           array_index(tok, json_array_size(cur), false, &idx)) {
			cur = json_array_get(cur, idx);
		} else {
			cur = NULL;
		}
		free(tok);
		if (cur == NULL) {
			snprintf(err, errlen, "doc is missing path: \"%s\"", ptr);
			return NULL;
		}
		p = next;
	}
}

static json_t *
ptr_get(json_t *doc, const char *ptr, char *err, size_t errlen)
{
	char *last;
	json_t *parent, *v = NULL;
	size_t idx;

	if (*ptr == '\0')
		return doc;
	parent = ptr_parent(doc, ptr, &last, err, errlen);
	if (parent == NULL)
		return NULL;
	if (json_is_object(parent))
		v = json_object_get(parent, last);
	else if (json_is_array(parent) &&
	         array_index(last, json_array_size(parent), false, &idx))
		v = json_array_get(parent, idx);
	if (v == NULL)
		snprintf(err, errlen, "doc is missing path: \"%s\"", ptr);
	free(last);
	return v;
}

/* Remove and return (new reference) the value at ptr. */
static json_t *
ptr_take(json_t *doc, const char *ptr, char *err, size_t errlen)
{
	char *last;
	json_t *parent = ptr_parent(doc, ptr, &last, err, errlen), *v = NULL;
	size_t idx;

	if (parent == NULL)
		return NULL;
	if (json_is_object(parent) && (v = json_object_get(parent, last))) {
		json_incref(v);
		json_object_del(parent, last);
	} else if (json_is_array(parent) &&
	           array_index(last, json_array_size(parent), false, &idx)) {
		v = json_incref(json_array_get(parent, idx));
		json_array_remove(parent, idx);
	} else {
		snprintf(err, errlen, "unable to remove nonexistent key: %s: "
		         "missing value", last);
	}
	free(last);
	return v;
}

/* Add (stealing v); replace=true requires the target to exist. */
static int
ptr_put(json_t **doc, const char *ptr, json_t *v, bool replace, char *err,
        size_t errlen)
{
	char *last;
	json_t *parent;
	size_t idx;
	int rc = -1;

	if (*ptr == '\0') {
		json_decref(*doc);
		*doc = v;
		return 0;
	}
	parent = ptr_parent(*doc, ptr, &last, err, errlen);
	if (parent == NULL) {
		json_decref(v);
		return -1;
	}
	if (json_is_object(parent)) {
		if (replace && json_object_get(parent, last) == NULL)
			snprintf(err, errlen, "replace operation does not apply: doc "
			         "is missing key: %s", ptr);
		else
			rc = json_object_set_new(parent, last, json_incref(v));
	} else if (json_is_array(parent) &&
	           array_index(last, json_array_size(parent), !replace, &idx)) {
		rc = replace ? json_array_set(parent, idx, v)
		     : idx == json_array_size(parent) ? json_array_append(parent, v)
		                                      : json_array_insert(parent, idx,
		                                                          v);
	} else {
		snprintf(err, errlen, "add operation does not apply: doc is "
		         "missing path: \"%s\"", ptr);
	}
	json_decref(v);
	free(last);
	return rc;
}

int
kmerge_json_patch(json_t **doc, const json_t *ops, char *err, size_t errlen)
{
	json_t *work, *op;
	size_t i;

	if (!json_is_array(ops)) {
		snprintf(err, errlen, "json: cannot unmarshal object into Go value "
		         "of type jsonpatch.Patch");
		return -1;
	}
	work = json_deep_copy(*doc);
	json_array_foreach(ops, i, op) {
		const char *o = fake_jstr(op, "op"), *path, *from;
		json_t *value = json_object_get(op, "value"), *v;
		int rc = -1;

		if (!json_is_string(json_object_get(op, "path"))) {
			snprintf(err, errlen, "operation %zu has no path", i);
			goto fail;
		}
		path = fake_jstr(op, "path");
		from = fake_jstr(op, "from");
		if (!strcmp(o, "add") && value) {
			rc = ptr_put(&work, path, json_deep_copy(value), false, err,
			             errlen);
		} else if (!strcmp(o, "replace") && value) {
			rc = ptr_put(&work, path, json_deep_copy(value), true, err,
			             errlen);
		} else if (!strcmp(o, "remove")) {
			v = ptr_take(work, path, err, errlen);
			rc = v ? 0 : -1;
			json_decref(v);
		} else if (!strcmp(o, "move")) {
			v = ptr_take(work, from, err, errlen);
			rc = v ? ptr_put(&work, path, v, false, err, errlen) : -1;
		} else if (!strcmp(o, "copy")) {
			v = ptr_get(work, from, err, errlen);
			rc = v ? ptr_put(&work, path, json_deep_copy(v), false, err,
			                 errlen)
			       : -1;
		} else if (!strcmp(o, "test") && value) {
			v = ptr_get(work, path, err, errlen);
			rc = v && json_equal(v, value) ? 0 : -1;
			if (v != NULL && rc != 0)
				snprintf(err, errlen, "testing value %s failed: test "
				         "failed", path);
		} else {
			snprintf(err, errlen, "Unexpected kind: %s", o);
		}
		if (rc != 0)
			goto fail;
	}
	json_decref(*doc);
	*doc = work;
	return 0;
fail:
	json_decref(work);
	return -1;
}

/* ---- strategic merge patch ---- */

static json_t *
strip_directives(const json_t *v)
{
	json_t *out, *x;
	const char *k;
	size_t i;

	if (json_is_array(v)) {
		out = json_array();
		json_array_foreach((json_t *)v, i, x)
			json_array_append_new(out, strip_directives(x));
		return out;
	}
	if (!json_is_object(v))
		return json_deep_copy(v);
	out = json_object();
	json_object_foreach((json_t *)v, k, x) {
		if (k[0] != '$')
			json_object_set_new(out, k, strip_directives(x));
	}
	return out;
}

static json_t *
find_item(json_t *list, const char *key, json_t *want, size_t *index)
{
	size_t i;
	json_t *it;

	if (want == NULL)
		return NULL;
	json_array_foreach(list, i, it) {
		if (json_equal(json_object_get(it, key), want)) {
			if (index)
				*index = i;
			return it;
		}
	}
	return NULL;
}

static int smp_object(json_t *target, const json_t *patch, const char *path,
                      char *err, size_t errlen);

static int
smp_list(json_t *target, const char *field, const json_t *plist,
         const json_t *order, const char *path, char *err, size_t errlen)
{
	char sub[1024];
	const char *key;
	json_t *tl = json_object_get(target, field), *it;
	size_t i;

	snprintf(sub, sizeof(sub), "%s.%s", path, field);
	key = kmerge_list_key(sub);
	if (key == NULL || !json_is_array(tl)) {
		/* replace strategy (or nothing to merge into) */
		json_object_set_new(target, field, strip_directives(plist));
		return 0;
	}
	snprintf(sub, sizeof(sub), "%s.%s[]", path, field);
	json_array_foreach((json_t *)plist, i, it) {
		json_t *want = json_object_get(it, key), *match;
		size_t at;
		const char *directive = fake_jstr(it, "$patch");

		if (!json_is_object(it)) {
			snprintf(err, errlen, "%s: list items must be objects with "
			         "\"%s\"", sub, key);
			return -1;
		}
		if (!strcmp(directive, "replace")) {
			/* the patch's list is the whole list */
			json_t *nl = json_array(), *x;
			size_t j;
			json_array_foreach((json_t *)plist, j, x)
				if (strcmp(fake_jstr(x, "$patch"), "replace") != 0)
					json_array_append_new(nl, strip_directives(x));
			json_object_set_new(target, field, nl);
			return 0;
		}
		match = find_item(tl, key, want, &at);
		if (!strcmp(directive, "delete")) {
			if (match != NULL)
				json_array_remove(tl, at);
			continue;
		}
		if (want == NULL) {
			snprintf(err, errlen, "map: %s does not contain declared merge "
			         "key: %s", sub, key);
			return -1;
		}
		if (match == NULL)
			json_array_append_new(tl, strip_directives(it));
		else if (smp_object(match, it, sub, err, errlen) != 0)
			return -1;
	}
	/* $setElementOrder/FIELD: the order the client wants */
	if (json_is_array(order)) {
		json_t *sorted = json_array(), *o;
		json_array_foreach((json_t *)order, i, o) {
			size_t at;
			json_t *m = find_item(tl, key, json_object_get(o, key), &at);
			if (m != NULL) {
				json_array_append(sorted, m);
				json_array_remove(tl, at);
			}
		}
		json_array_extend(sorted, tl);
		json_object_set_new(target, field, sorted);
	}
	return 0;
}

static int
smp_object(json_t *target, const json_t *patch, const char *path, char *err,
           size_t errlen)
{
	const char *k;
	json_t *v;
	char sub[1024];

	if (!strcmp(fake_jstr(patch, "$patch"), "replace")) {
		json_t *s = strip_directives(patch);
		json_object_clear(target);
		json_object_update(target, s);
		json_decref(s);
		return 0;
	}
	json_object_foreach((json_t *)patch, k, v) {
		if (k[0] == '$') {
			if (!strncmp(k, "$deleteFromPrimitiveList/", 25)) {
				json_t *l = json_object_get(target, k + 25), *x;
				size_t i;
				json_array_foreach(v, i, x) {
					size_t j;
					json_t *y;
					json_array_foreach(l, j, y)
						if (json_equal(x, y)) {
							json_array_remove(l, j);
							break;
						}
				}
			}
			continue; /* $setElementOrder, $retainKeys, $patch */
		}
		snprintf(sub, sizeof(sub), "%s.%s", path, k);
		if (json_is_null(v)) {
			json_object_del(target, k);
		} else if (json_is_object(v)) {
			json_t *t = json_object_get(target, k);
			const char *d = fake_jstr(v, "$patch");
			if (!strcmp(d, "delete")) {
				json_object_del(target, k);
			} else if (json_is_object(t) && strcmp(d, "replace") != 0) {
				if (smp_object(t, v, sub, err, errlen) != 0)
					return -1;
			} else {
				json_object_set_new(target, k, strip_directives(v));
			}
		} else if (json_is_array(v)) {
			char ok[256];
			snprintf(ok, sizeof(ok), "$setElementOrder/%s", k);
			if (smp_list(target, k, v, json_object_get(patch, ok), path, err,
			             errlen) != 0)
				return -1;
		} else {
			json_object_set(target, k, v);
		}
	}
	return 0;
}

int
kmerge_strategic(json_t *target, const json_t *patch, char *err,
                 size_t errlen)
{
	if (!json_is_object(patch) || !json_is_object(target)) {
		snprintf(err, errlen, "a strategic merge patch is a JSON object");
		return -1;
	}
	return smp_object(target, patch, "", err, errlen);
}
