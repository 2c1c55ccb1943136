/* harness/fake/kube_gc.c - ownerReference garbage collection, generic over
 * every kind in a cluster's store.
 *
 * Deleting an owner deletes the dependents whose every ownerReference now
 * points at a missing object (Background and Foreground propagation: the
 * fake does it at once, under the lock, so both end the same way); a
 * dependent that still has a live owner only loses the reference to the
 * deleted one.  Orphan propagation drops the references and keeps the
 * dependents.  A work list (not recursion) follows chains of owners, and
 * every object is deleted at most once, so cycles terminate.
 */
#include <stdio.h>
#include <string.h>

#include "harness/fake/kube_private.h"

/* uid -> object key, for every object in the store. */
static json_t *
uid_index(json_t *objs)
{
	json_t *idx = json_object(), *obj;
	const char *key;

	json_object_foreach(objs, key, obj) {
		const char *uid = fake_jstr(json_object_get(obj, "metadata"),
		                            "uid");
		if (*uid)
			json_object_set_new(idx, uid, json_string(key));
	}
	return idx;
}

/* Store an object again under the key it already has (a new
 * resourceVersion, a MODIFIED event). */
static void
put_key(struct fake *f, struct kcluster *kc, const char *key, json_t *obj)
{
	char gkey[256], plural[256], ns[256], name[512];
	struct kkind k = {0};

	if (sscanf(key, "%255[^/]/%255[^/]/%255[^/]/%511s", gkey, plural, ns,
	           name) == 4) {
		k.namespaced = true;
	} else if (sscanf(key, "%255[^/]/%255[^/]//%511s", gkey, plural,
	                  name) == 3) {
		ns[0] = '\0';
	} else {
		json_decref(obj);
		return;
	}
	k.group = strcmp(gkey, "core") ? gkey : "";
	k.plural = plural;
	kstore_put(f, kc, &k, ns, name, obj);
}

/* Drop the references to owners that are gone (uid in `gone`); returns
 * how many references are left pointing at live owners. */
static size_t
drop_refs(json_t *meta, json_t *idx, json_t *gone, bool *changed)
{
	json_t *refs = json_object_get(meta, "ownerReferences"), *keep, *r;
	size_t i, live = 0;

	*changed = false;
	keep = json_array();
	json_array_foreach(refs, i, r) {
		const char *uid = fake_jstr(r, "uid");
		if (json_object_get(gone, uid) != NULL ||
		    json_object_get(idx, uid) == NULL) {
			*changed = true;
			continue;
		}
		live++;
		json_array_append(keep, r);
	}
	if (*changed) {
		if (json_array_size(keep) == 0)
			json_object_del(meta, "ownerReferences");
		else
			json_object_set(meta, "ownerReferences", keep);
	}
	json_decref(keep);
	return live;
}

/* Does the object name `uid` among its owners? */
static bool
owned_by(const json_t *obj, const char *uid)
{
	json_t *r;
	size_t i;

	json_array_foreach(json_object_get(json_object_get(obj, "metadata"),
	                                   "ownerReferences"), i, r)
		if (!strcmp(fake_jstr(r, "uid"), uid))
			return true;
	return false;
}

size_t
kgc_owner_deleted(struct fake *f, struct kcluster *kc, const char *uid,
                  const char *policy)
{
	json_t *objs = json_object_get(kstore(f, kc), "objects");
	json_t *idx, *gone = json_object(), *todo = json_array();
	bool orphan = policy != NULL && !strcmp(policy, "Orphan");
	size_t n = 0;

	if (uid == NULL || *uid == '\0') {
		json_decref(gone);
		json_decref(todo);
		return 0;
	}
	json_array_append_new(todo, json_string(uid));
	json_object_set_new(gone, uid, json_true());
	for (size_t t = 0; t < json_array_size(todo); t++) {
		const char *owner = json_string_value(json_array_get(todo, t));
		json_t *keys = fake_sorted_keys(objs, ""), *kv;
		size_t i;

		idx = uid_index(objs);
		json_array_foreach(keys, i, kv) {
			const char *key = json_string_value(kv);
			json_t *obj = json_object_get(objs, key), *copy, *meta;
			bool changed;
			size_t live;

			if (obj == NULL || !owned_by(obj, owner))
				continue;
			copy = json_deep_copy(obj);
			meta = json_object_get(copy, "metadata");
			live = drop_refs(meta, idx, gone, &changed);
			if (live == 0 && !orphan) {
				const char *duid = fake_jstr(meta, "uid");
				if (*duid && json_object_get(gone, duid) == NULL) {
					json_object_set_new(gone, duid, json_true());
					json_array_append_new(todo, json_string(duid));
				}
				json_decref(copy);
				kstore_del_key(f, kc, key);
				n++;
			} else {
				put_key(f, kc, key, copy);
			}
		}
		json_decref(idx);
		json_decref(keys);
		/* only the first owner's dependents are orphaned */
		if (orphan)
			break;
	}
	json_decref(gone);
	json_decref(todo);
	return n;
}
