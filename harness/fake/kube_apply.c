/* harness/fake/kube_apply.c - managed fields and server-side apply.
 *
 * A field set is kept as Kubernetes keeps it (fieldsV1): a tree whose
 * keys are "f:NAME" for object fields, "k:{KEY}" for items of lists that
 * merge by key, and "." for "this item itself"; a leaf is {}.  Maps
 * (labels, data, a custom resource's spec) are owned field by field;
 * lists without a merge key, and everything in them, are one field.
 *
 * Apply by manager M: a field M applies that another manager owns with a
 * different value is a conflict (409 unless force, which takes it over);
 * fields M applied before and left out now are removed unless someone
 * else owns them; M then owns exactly what it applied.  An Update (create,
 * replace, the other patches) gives its manager the fields it set or
 * changed and takes them from everyone else.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/fake/kube_private.h"

/* Server-set metadata nobody owns. */
static bool
meta_skipped(const char *k)
{
	static const char *const skip[] = {
		"name", "namespace", "uid", "resourceVersion", "generation",
		"creationTimestamp", "managedFields", "selfLink",
		"deletionTimestamp", "deletionGracePeriodSeconds", NULL};
	for (size_t i = 0; skip[i]; i++)
		if (strcmp(skip[i], k) == 0)
			return true;
	return false;
}

static char *
item_key(const char *mk, json_t *item)
{
	json_t *o = json_pack("{s:O}", mk, json_object_get(item, mk));
	char *d = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	char *s = d ? mv_strfmt("k:%s", d) : NULL;

	free(d);
	json_decref(o);
	return s;
}

/* The field set of an object (path: its dotted path, "" at the top). */
static json_t *
fs_of(const json_t *v, const char *path, bool builtin)
{
	json_t *fs = json_object(), *x;
	const char *k;
	char sub[1024], key[512];

	json_object_foreach((json_t *)v, k, x) {
		if (path[0] == '\0' && (!strcmp(k, "apiVersion") ||
		                        !strcmp(k, "kind") || !strcmp(k, "status")))
			continue;
		if (!strcmp(path, ".metadata") && meta_skipped(k))
			continue;
		snprintf(sub, sizeof(sub), "%s.%s", path, k);
		snprintf(key, sizeof(key), "f:%s", k);
		if (json_is_object(x) && json_object_size(x) > 0) {
			json_t *c = fs_of(x, sub, builtin);
			if (json_object_size(c) > 0)
				json_object_set_new(fs, key, c);
			else
				json_decref(c); /* only server-set fields inside */
		} else if (json_is_array(x) && json_array_size(x) > 0 && builtin &&
		           kmerge_list_key(sub) != NULL) {
			const char *mk = kmerge_list_key(sub);
			json_t *c = json_object(), *it;
			size_t i;
			char isub[1100];
			snprintf(isub, sizeof(isub), "%s[]", sub);
			json_array_foreach(x, i, it) {
				char *ik;
				json_t *node;
				if (!json_is_object(it) || !json_object_get(it, mk))
					continue;
				ik = item_key(mk, it);
				node = fs_of(it, isub, builtin);
				json_object_set_new(node, ".", json_object());
				if (ik != NULL)
					json_object_set_new(c, ik, node);
				else
					json_decref(node);
				free(ik);
			}
			json_object_set_new(fs, key, c);
		} else {
			json_object_set_new(fs, key, json_object());
		}
	}
	return fs;
}

/* Every leaf path (array of keys) of a field set, appended to out. */
static void
fs_leaves(const json_t *fs, json_t *prefix, json_t *out)
{
	const char *k;
	json_t *c;

	json_object_foreach((json_t *)fs, k, c) {
		json_t *p = json_deep_copy(prefix);
		json_array_append_new(p, json_string(k));
		if (!strcmp(k, ".") || json_object_size(c) == 0)
			json_array_append_new(out, p);
		else {
			fs_leaves(c, p, out);
			json_decref(p);
		}
	}
}

static json_t *
leaves_of(const json_t *fs)
{
	json_t *out = json_array(), *root = json_array();

	fs_leaves(fs, root, out);
	json_decref(root);
	return out;
}

static bool
fs_contains(const json_t *fs, const json_t *path)
{
	size_t i;
	json_t *k;

	json_array_foreach((json_t *)path, i, k) {
		fs = json_object_get(fs, json_string_value(k));
		if (fs == NULL)
			return false;
	}
	return true;
}

static void
fs_add(json_t *fs, const json_t *path)
{
	size_t i;
	json_t *k;

	json_array_foreach((json_t *)path, i, k) {
		json_t *c = json_object_get(fs, json_string_value(k));
		if (c == NULL) {
			c = json_object();
			json_object_set_new(fs, json_string_value(k), c);
		}
		fs = c;
	}
}

/* Remove a path; parents left empty go too (they were inner nodes). */
static void
fs_remove(json_t *fs, const json_t *path, size_t depth)
{
	const char *k = json_string_value(json_array_get(path, depth));
	json_t *c;

	if (k == NULL || (c = json_object_get(fs, k)) == NULL)
		return;
	if (depth + 1 == json_array_size(path)) {
		json_object_del(fs, k);
		return;
	}
	fs_remove(c, path, depth + 1);
	if (json_object_size(c) == 0)
		json_object_del(fs, k);
}

/* The value a path points at in an object (borrowed), NULL if absent. */
static json_t *
value_at(const json_t *obj, const json_t *path, size_t upto)
{
	json_t *cur = (json_t *)obj, *k;
	size_t i;

	json_array_foreach((json_t *)path, i, k) {
		const char *s = json_string_value(k);
		if (i >= upto || cur == NULL)
			break;
		if (!strncmp(s, "f:", 2)) {
			cur = json_object_get(cur, s + 2);
		} else if (!strncmp(s, "k:", 2)) {
			json_t *want = json_loads(s + 2, 0, NULL), *it, *found = NULL;
			size_t j;
			json_array_foreach(cur, j, it) {
				const char *wk;
				json_t *wv;
				bool ok = json_is_object(it);
				json_object_foreach(want, wk, wv)
					ok = ok && json_equal(json_object_get(it, wk), wv);
				if (ok) {
					found = it;
					break;
				}
			}
			json_decref(want);
			cur = found;
		}
		/* "." is the item itself */
	}
	return cur;
}

static bool
same_value(const json_t *a, const json_t *b, const json_t *path)
{
	size_t n = json_array_size(path);
	json_t *va = value_at(a, path, n), *vb = value_at(b, path, n);
	const char *last = json_string_value(json_array_get(path, n - 1));

	if (last && !strcmp(last, "."))
		return (va == NULL) == (vb == NULL);
	if (va == NULL || vb == NULL)
		return va == vb;
	return json_equal(va, vb);
}

/* ".spec.template.spec.containers[name="web"].image" */
static void
path_string(const json_t *path, char *buf, size_t len)
{
	size_t i, o = 0;
	json_t *k;

	buf[0] = '\0';
	json_array_foreach((json_t *)path, i, k) {
		const char *s = json_string_value(k);
		if (!strncmp(s, "f:", 2)) {
			o += (size_t)snprintf(buf + o, o < len ? len - o : 0, ".%s",
			                      s + 2);
		} else if (!strncmp(s, "k:", 2)) {
			json_t *kv = json_loads(s + 2, 0, NULL), *v;
			const char *kk;
			json_object_foreach(kv, kk, v) {
				char *d = json_dumps(v, JSON_ENCODE_ANY);
				o += (size_t)snprintf(buf + o, o < len ? len - o : 0,
				                      "[%s=%s]", kk, d ? d : "");
				free(d);
			}
			json_decref(kv);
		}
		if (o >= len)
			break;
	}
}

/* Remove the field a path names from an object. */
static void
remove_at(json_t *obj, const json_t *path)
{
	size_t n = json_array_size(path);
	const char *last = json_string_value(json_array_get(path, n - 1));
	json_t *parent;

	if (n == 0)
		return;
	if (!strcmp(last, ".")) {
		/* a list item: find it in its list and drop it */
		json_t *list, *item;
		size_t i;
		if (n < 3)
			return;
		list = value_at(obj, path, n - 2);
		item = value_at(obj, path, n - 1);
		json_array_foreach(list, i, item) {
			if (item == value_at(obj, path, n - 1)) {
				json_array_remove(list, i);
				break;
			}
		}
		return;
	}
	parent = value_at(obj, path, n - 1);
	if (json_is_object(parent) && !strncmp(last, "f:", 2))
		json_object_del(parent, last + 2);
}

/* Merge an applied configuration into the object being built. */
static void
apply_merge(json_t *dst, const json_t *src, const char *path, bool builtin)
{
	const char *k;
	json_t *v;
	char sub[1024];

	json_object_foreach((json_t *)src, k, v) {
		json_t *d = json_object_get(dst, k);
		const char *mk;

		if (!strcmp(path, ".metadata") && meta_skipped(k) &&
		    strcmp(k, "name") && strcmp(k, "namespace"))
			continue;
		snprintf(sub, sizeof(sub), "%s.%s", path, k);
		mk = builtin ? kmerge_list_key(sub) : NULL;
		if (json_is_object(v) && json_is_object(d)) {
			apply_merge(d, v, sub, builtin);
		} else if (json_is_array(v) && json_is_array(d) && mk != NULL) {
			json_t *it;
			size_t i;
			char isub[1100];
			snprintf(isub, sizeof(isub), "%s[]", sub);
			json_array_foreach(v, i, it) {
				json_t *m = NULL, *x;
				size_t j;
				json_array_foreach(d, j, x)
					if (json_equal(json_object_get(x, mk),
					               json_object_get(it, mk))) {
						m = x;
						break;
					}
				if (m != NULL && json_is_object(it))
					apply_merge(m, it, isub, builtin);
				else
					json_array_append_new(d, json_deep_copy(it));
			}
		} else {
			json_object_set_new(dst, k, json_deep_copy(v));
		}
	}
}

static json_t *
managed_of(const json_t *obj)
{
	json_t *m = json_object_get(json_object_get(obj, "metadata"),
	                            "managedFields");

	return json_is_array(m) ? json_deep_copy(m) : json_array();
}

static void
set_managed(json_t *obj, json_t *managed)
{
	json_t *meta = json_object_get(obj, "metadata");
	size_t i = 0;

	/* entries that own nothing go */
	while (i < json_array_size(managed)) {
		json_t *e = json_array_get(managed, i);
		if (json_object_size(json_object_get(e, "fieldsV1")) == 0)
			json_array_remove(managed, i);
		else
			i++;
	}
	if (!json_is_object(meta)) {
		meta = json_object();
		json_object_set_new(obj, "metadata", meta);
	}
	if (json_array_size(managed) > 0)
		json_object_set_new(meta, "managedFields", managed);
	else {
		json_decref(managed);
		json_object_del(meta, "managedFields");
	}
}

static json_t *
entry_for(json_t *managed, const char *manager, const char *op,
          const char *api_version)
{
	size_t i;
	json_t *e;
	char ts[48];

	fake_now_rfc3339(ts, sizeof(ts), false);
	json_array_foreach(managed, i, e) {
		if (!strcmp(fake_jstr(e, "manager"), manager) &&
		    !strcmp(fake_jstr(e, "operation"), op) &&
		    !json_is_string(json_object_get(e, "subresource"))) {
			json_object_set_new(e, "apiVersion", json_string(api_version));
			json_object_set_new(e, "time", json_string(ts));
			if (!json_is_object(json_object_get(e, "fieldsV1")))
				json_object_set_new(e, "fieldsV1", json_object());
			return e;
		}
	}
	e = json_pack("{s:s, s:s, s:s, s:s, s:s, s:{}}", "manager", manager,
	              "operation", op, "apiVersion", api_version, "time", ts,
	              "fieldsType", "FieldsV1", "fieldsV1");
	json_array_append_new(managed, e);
	return e;
}

void
kmanaged_update(const json_t *old, json_t *new_obj, const char *manager,
                const char *api_version, bool builtin)
{
	json_t *fs_new = fs_of(new_obj, "", builtin);
	json_t *fs_old = old ? fs_of(old, "", builtin) : json_object();
	json_t *leaves_new = leaves_of(fs_new), *leaves_old = leaves_of(fs_old);
	json_t *changed = json_array(), *removed = json_array(), *p, *e;
	json_t *managed, *req_managed;
	size_t i, j;

	/* A client that sets managedFields itself (kubectl's migration of
	 * client-side apply) gets what it asked for. */
	req_managed = json_object_get(json_object_get(new_obj, "metadata"),
	                              "managedFields");
	if (old != NULL && req_managed != NULL &&
	    !json_equal(req_managed,
	                json_object_get(json_object_get(old, "metadata"),
	                                "managedFields")))
		goto done;
	json_array_foreach(leaves_new, i, p)
		if (!fs_contains(fs_old, p) || !same_value(old, new_obj, p))
			json_array_append(changed, p);
	json_array_foreach(leaves_old, i, p)
		if (!fs_contains(fs_new, p))
			json_array_append(removed, p);
	managed = old ? managed_of(old) : json_array();
	json_array_foreach(managed, i, e) {
		json_t *fs = json_object_get(e, "fieldsV1");
		bool mine = !strcmp(fake_jstr(e, "manager"), manager) &&
		            !strcmp(fake_jstr(e, "operation"), "Update");
		json_array_foreach(removed, j, p)
			fs_remove(fs, p, 0);
		if (!mine)
			json_array_foreach(changed, j, p)
				fs_remove(fs, p, 0);
	}
	if (json_array_size(changed) > 0) {
		json_t *fs = json_object_get(entry_for(managed, manager, "Update",
		                                       api_version), "fieldsV1");
		json_array_foreach(changed, j, p)
			fs_add(fs, p);
	}
	set_managed(new_obj, managed);
done:
	json_decref(fs_new);
	json_decref(fs_old);
	json_decref(leaves_new);
	json_decref(leaves_old);
	json_decref(changed);
	json_decref(removed);
}

int
kapply(const json_t *live, const json_t *applied, const char *manager,
       const char *api_version, bool force, bool builtin, json_t **out,
       struct kapply_conflict *conflicts, size_t max, size_t *n_conflicts,
       char *err, size_t errlen)
{
	json_t *fs_a, *leaves_a, *managed, *e, *p, *obj, *mine = NULL;
	json_t *owned_before = NULL;
	size_t i, j, nc = 0;

	*out = NULL;
	*n_conflicts = 0;
	if (!json_is_object(applied)) {
		snprintf(err, errlen, "the applied configuration is not an object");
		return -1;
	}
	fs_a = fs_of(applied, "", builtin);
	leaves_a = leaves_of(fs_a);
	managed = live ? managed_of(live) : json_array();
	/* conflicts: fields others own, set here to another value */
	json_array_foreach(managed, i, e) {
		json_t *fs = json_object_get(e, "fieldsV1");
		if (!strcmp(fake_jstr(e, "manager"), manager) &&
		    !strcmp(fake_jstr(e, "operation"), "Apply")) {
			mine = e;
			continue;
		}
		json_array_foreach(leaves_a, j, p) {
			if (!fs_contains(fs, p) || same_value(applied, live, p))
				continue;
			if (force) {
				fs_remove(fs, p, 0);
				continue;
			}
			if (nc < max) {
				snprintf(conflicts[nc].manager,
				         sizeof(conflicts[nc].manager), "%s",
				         fake_jstr(e, "manager"));
				snprintf(conflicts[nc].api_version,
				         sizeof(conflicts[nc].api_version), "%s",
				         fake_jstr(e, "apiVersion"));
				path_string(p, conflicts[nc].field,
				            sizeof(conflicts[nc].field));
			}
			nc++;
		}
	}
	if (nc > 0) {
		*n_conflicts = nc;
		json_decref(fs_a);
		json_decref(leaves_a);
		json_decref(managed);
		return 1;
	}
	obj = live ? json_deep_copy(live) : json_object();
	/* what this manager applied before and dropped now goes, unless
	 * someone else owns it too */
	if (mine != NULL) {
		owned_before = leaves_of(json_object_get(mine, "fieldsV1"));
		json_array_foreach(owned_before, i, p) {
			bool shared = false;
			if (fs_contains(fs_a, p))
				continue;
			json_array_foreach(managed, j, e)
				if (e != mine &&
				    fs_contains(json_object_get(e, "fieldsV1"), p))
					shared = true;
			if (!shared)
				remove_at(obj, p);
		}
	}
	apply_merge(obj, applied, "", builtin);
	e = entry_for(managed, manager, "Apply", api_version);
	json_object_set_new(e, "fieldsV1", json_deep_copy(fs_a));
	set_managed(obj, managed);
	json_decref(owned_before);
	json_decref(fs_a);
	json_decref(leaves_a);
	*out = obj;
	return 0;
}
