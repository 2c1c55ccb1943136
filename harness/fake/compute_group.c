/* harness/fake/compute_group.c - Compute Engine v1: managed instance
 * groups (insert, get, list, delete, resize, patch with a rolling
 * replace, setInstanceTemplate, listManagedInstances, autohealing
 * policies) and the instance groups that show their members.  Instance
 * templates are compute_tmpl.c's. */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/fake/compute_int.h"

/* ---- managed instance groups ---- */

/* Members are named base-xxxx like the real service, xxxx from a hash of
 * (group, index) so reruns give the same names. */
static void
member_name(struct fake *f, const char *p, const char *z, const char *mig,
            const char *base, unsigned *index, char *out, size_t len)
{
	static const char alnum[] = "abcdefghijklmnopqrstuvwxyz0123456789";
	char key[512], idx[16];

	for (;; (*index)++) {
		uint64_t h;
		snprintf(idx, sizeof(idx), "%u", *index);
		h = fake_hash64("mig-member", p, mig, idx);
		snprintf(out, len, "%.58s-%c%c%c%c", base, alnum[h % 36],
		         alnum[h / 36 % 36], alnum[h / 1296 % 36],
		         alnum[h / 46656 % 36]);
		snprintf(key, sizeof(key), "%s/%s/%s", p, z, out);
		if (json_object_get(fake_db(f, "instances"), key) == NULL)
			return;
	}
}

/* Create one member from the template; effects for its op appended. */
static int
mig_add_member(struct fake *f, struct freq *rq, struct fresp *rs,
               json_t *mig, json_t *tmpl, json_t *members, json_t *ok)
{
	const char *p = rq->cap[0], *z = rq->cap[1];
	json_t *inst = json_deep_copy(json_object_get(tmpl, "properties"));
	json_t *items, *next = json_object_get(mig, "_next");
	unsigned index = next ? (unsigned)json_integer_value(next) : 0;
	char name[80], key[512];

	member_name(f, p, z, fake_jstr(mig, "name"),
	            fake_jstr(mig, "baseInstanceName"), &index, name,
	            sizeof(name));
	json_object_set_new(mig, "_next", json_integer(index + 1));
	json_object_set_new(inst, "name", json_string(name));
	if (!json_is_object(json_object_get(inst, "metadata")))
		json_object_set_new(inst, "metadata", json_object());
	items = json_object_get(json_object_get(inst, "metadata"), "items");
	if (!json_is_array(items)) {
		items = json_array();
		json_object_set_new(json_object_get(inst, "metadata"), "items",
		                    items);
	}
	json_object_del(json_object_get(inst, "metadata"), "fingerprint");
	json_array_append_new(items, json_pack("{s:s, s:s}", "key",
	                                       "instance-template", "value",
	                                       fake_resource_path(fake_jstr(
	                                               tmpl, "selfLink"))));
	json_array_append_new(items, json_pack("{s:s, s:s}", "key", "created-by",
	                                       "value",
	                                       fake_resource_path(fake_jstr(
	                                               mig, "instanceGroup"))));
	if (c_instance_build(f, rq, rs, p, z, inst) != 0) {
		json_decref(inst);
		return -1;
	}
	snprintf(key, sizeof(key), "%s/%s/%s", p, z, name);
	json_object_set_new(fake_db(f, "instances"), key, inst);
	json_array_append_new(members, json_string(name));
	json_array_append_new(ok, json_pack("{s:s, s:s, s:{s:s}}", "table",
	                                    "instances", "key", key, "set",
	                                    "status", "RUNNING"));
	return 0;
}

/* currentActions and status from the change in progress: members
 * changed by the last insert/resize/update are "creating" (or
 * "recreating") until the group has been read _settle more times (the
 * fake's op_polls), as the real group reaches its target over a few
 * polls; isStable is false until then. */
static void
mig_refresh(json_t *mig)
{
	json_t *members = json_object_get(mig, "_members");
	json_int_t n = (json_int_t)json_array_size(members);
	json_int_t settle = json_integer_value(json_object_get(mig, "_settle"));
	json_int_t changing = settle > 0 ? json_integer_value(json_object_get(
	        mig, "_changing")) : 0;
	bool re = json_is_true(json_object_get(mig, "_recreate"));
	json_t *st = json_object_get(mig, "status");

	if (changing > n)
		changing = n;
	json_object_set_new(mig, "targetSize", json_integer(n));
	json_object_set_new(mig, "currentActions",
	                    json_pack("{s:I, s:I, s:i, s:i, s:I, s:i, s:i, s:i, "
	                              "s:i, s:i, s:i}",
	                              "none", n - changing, "creating",
	                              re ? 0 : changing,
	                              "creatingWithoutRetries", 0, "verifying", 0,
	                              "recreating", re ? changing : 0,
	                              "deleting", 0, "abandoning", 0,
	                              "restarting", 0, "refreshing", 0,
	                              "suspending", 0, "resuming", 0));
	if (json_is_object(st)) {
		json_object_set_new(st, "isStable", json_boolean(settle <= 0));
		json_object_set_new(json_object_get(st, "versionTarget"),
		                    "isReached", json_boolean(settle <= 0));
	}
}

/* A change: the group settles over the next op_polls reads. */
static void
mig_changed(struct fake *f, json_t *mig, json_int_t changing, bool recreate)
{
	json_object_set_new(mig, "_settle",
	                    json_integer(fst(f)->opt.op_polls));
	json_object_set_new(mig, "_changing", json_integer(changing));
	json_object_set_new(mig, "_recreate", json_boolean(recreate));
	mig_refresh(mig);
}

/* A read of the group: one poll nearer to stable. */
static void
mig_tick(struct freq *rq, json_t *mig)
{
	json_int_t settle = json_integer_value(json_object_get(mig, "_settle"));

	if (settle > 0) {
		json_object_set_new(mig, "_settle", json_integer(settle - 1));
		rq->pure = false;
	}
	mig_refresh(mig);
}

/* The group as clients see it: without the fake's own fields. */
static json_t *
mig_public(json_t *mig)
{
	json_t *o = json_deep_copy(mig);

	json_object_del(o, "_members");
	json_object_del(o, "_next");
	json_object_del(o, "_settle");
	json_object_del(o, "_changing");
	json_object_del(o, "_recreate");
	return o;
}

static json_t *
mig_lookup(struct fake *f, struct freq *rq, struct fresp *rs, char *key,
           size_t klen)
{
	json_t *mig;
	char path[512];

	snprintf(key, klen, "%s/%s/%s", rq->cap[0], rq->cap[1], rq->cap[2]);
	mig = json_object_get(fake_db(f, "instance_group_managers"), key);
	if (mig == NULL) {
		snprintf(path, sizeof(path), "projects/%s/zones/%s/"
		         "instanceGroupManagers/%s", rq->cap[0], rq->cap[1],
		         rq->cap[2]);
		c_not_found(rs, path);
	}
	return mig;
}

static int
mig_resize_to(struct fake *f, struct freq *rq, struct fresp *rs,
              json_t *mig, long long size, json_t *ok)
{
	json_t *members = json_object_get(mig, "_members");
	json_int_t before = (json_int_t)json_array_size(members);
	char tkey[512];
	json_t *tmpl;

	snprintf(tkey, sizeof(tkey), "%s/%s", rq->cap[0],
	         fake_basename(fake_jstr(mig, "instanceTemplate")));
	tmpl = json_object_get(fake_db(f, "instance_templates"), tkey);
	while ((long long)json_array_size(members) < size) {
		if (tmpl == NULL) {
			c_not_found(rs, fake_resource_path(fake_jstr(mig,
			                                             "instanceTemplate")));
			return -1;
		}
		if (mig_add_member(f, rq, rs, mig, tmpl, members, ok) != 0)
			return -1;
	}
	/* Shrinking removes the newest members first. */
	while ((long long)json_array_size(members) > size) {
		size_t last = json_array_size(members) - 1;
		char key[512];
		snprintf(key, sizeof(key), "%s/%s/%s", rq->cap[0], rq->cap[1],
		         json_string_value(json_array_get(members, last)));
		json_t *inst = json_object_get(fake_db(f, "instances"), key);
		if (inst != NULL)
			json_object_set_new(inst, "status", json_string("STOPPING"));
		json_array_append_new(ok, json_pack("{s:s, s:s, s:b}", "table",
		                                    "instances", "key", key,
		                                    "delete", 1));
		json_array_remove(members, last);
	}
	mig_changed(f, mig, size > before ? size - before : 0, false);
	return 0;
}

/* autoHealingPolicies: each names an existing health check (404
 * otherwise, as Compute answers), made a full link; initialDelaySec
 * 0..3600, default 300.  At most one policy. */
static int
mig_autohealing(struct fake *f, struct freq *rq, struct fresp *rs,
                json_t *mig)
{
	json_t *pols = json_object_get(mig, "autoHealingPolicies"), *pol, *hc;
	json_int_t delay;
	size_t i;

	if (pols == NULL)
		return 0;
	if (!json_is_array(pols) || json_array_size(pols) > 1) {
		resp_gerr(rs, 400, "invalid", "Invalid value for field "
		          "'resource.autoHealingPolicies': at most one policy.");
		return -1;
	}
	json_array_foreach(pols, i, pol) {
		const char *link = fake_jstr(pol, "healthCheck");
		hc = *link ? c_health_check_find(f, rq->cap[0], link) : NULL;
		if (hc == NULL) {
			char miss[512];
			snprintf(miss, sizeof(miss), "projects/%s/global/healthChecks/"
			         "%s", rq->cap[0], fake_basename(link));
			c_not_found(rs, miss);
			return -1;
		}
		json_object_set_new(pol, "healthCheck",
		                    json_string(fake_jstr(hc, "selfLink")));
		delay = json_is_integer(json_object_get(pol, "initialDelaySec"))
		                ? json_integer_value(json_object_get(
		                          pol, "initialDelaySec")) : 300;
		if (delay < 0 || delay > 3600) {
			resp_gerr(rs, 400, "invalid", "Invalid value for field "
			          "'resource.autoHealingPolicies[0].initialDelaySec': "
			          "'%lld'. Must be between 0 and 3600.", (long long)delay);
			return -1;
		}
		json_object_set_new(pol, "initialDelaySec", json_integer(delay));
	}
	return 0;
}

static void
mig_insert(struct fake *f, struct freq *rq, struct fresp *rs)
{
	const char *p = rq->cap[0], *z = rq->cap[1];
	json_t *mig = json_deep_copy(rq->json), *table;
	json_t *ok = json_array(), *tmpl;
	const char *name, *tref;
	char key[512], path[512], tkey[512], ts[48], idb[24];
	long long size;

	table = fake_db(f, "instance_group_managers");
	if (!c_zone_check(rq, rs, z) || !c_name_check(rs, mig))
		goto fail;
	name = json_string_value(json_object_get(mig, "name"));
	tref = json_string_value(json_object_get(mig, "instanceTemplate"));
	if (tref == NULL)
		tref = json_string_value(json_object_get(json_array_get(
		        json_object_get(mig, "versions"), 0), "instanceTemplate"));
	if (tref == NULL) {
		resp_gerr(rs, 400, "required", "Required field 'resource."
		          "instanceTemplate' not specified");
		goto fail;
	}
	snprintf(tkey, sizeof(tkey), "%s/%s", p, fake_basename(tref));
	tmpl = json_object_get(fake_db(f, "instance_templates"), tkey);
	if (tmpl == NULL) {
		char miss[512];
		snprintf(miss, sizeof(miss), "projects/%s/global/instanceTemplates/"
		         "%s", p, fake_basename(tref));
		c_not_found(rs, miss);
		goto fail;
	}
	snprintf(key, sizeof(key), "%s/%s/%s", p, z, name);
	snprintf(path, sizeof(path), "projects/%s/zones/%s/"
	         "instanceGroupManagers/%s", p, z, name);
	if (json_object_get(table, key) != NULL) {
		resp_gerr(rs, 409, "alreadyExists", "The resource '%s' already "
		          "exists", path);
		goto fail;
	}
	size = json_integer_value(json_object_get(mig, "targetSize"));
	if (json_is_string(json_object_get(mig, "targetSize")))
		size = strtoll(fake_jstr(mig, "targetSize"), NULL, 10);
	if (size < 0 || size > 1000) {
		c_invalid(rs, "resource.targetSize", fake_jstr(mig, "targetSize"),
		          "Must be between 0 and 1000.");
		goto fail;
	}
	if (mig_autohealing(f, rq, rs, mig) != 0)
		goto fail;
	if (!json_is_string(json_object_get(mig, "baseInstanceName")))
		json_object_set_new(mig, "baseInstanceName", json_string(name));
	c_now(ts, sizeof(ts));
	json_object_set_new(mig, "kind",
	                    json_string("compute#instanceGroupManager"));
	json_object_set_new(mig, "id", json_string(c_id_of("mig", p, z, name, idb,
	                                                 sizeof(idb))));
	json_object_set_new(mig, "creationTimestamp", json_string(ts));
	c_set_str(mig, "instanceTemplate", c_url(rq, "%s",
	                                             fake_resource_path(
	                                                     fake_jstr(tmpl,
	                                                               "selfLink"))));
	json_object_set_new(mig, "versions",
	                    json_pack("[{s:s}]", "instanceTemplate",
	                              fake_jstr(mig, "instanceTemplate")));
	c_set_str(mig, "zone", c_url(rq, "projects/%s/zones/%s", p, z));
	c_set_str(mig, "instanceGroup",
	            c_url(rq, "projects/%s/zones/%s/instanceGroups/%s", p, z,
	                    name));
	c_set_str(mig, "selfLink", c_url(rq, "%s", path));
	json_object_set_new(mig, "fingerprint", json_string("AAAAAAAAAAA="));
	json_object_set_new(mig, "status",
	                    json_pack("{s:b, s:{s:b}, s:{s:b, s:{s:b}}, "
	                              "s:{s:b}}",
	                              "isStable", 1, "versionTarget", "isReached",
	                              1, "stateful", "hasStatefulConfig", 0,
	                              "perInstanceConfigs", "allEffective", 1,
	                              "allInstancesConfig", "effective", 1));
	json_object_set_new(mig, "listManagedInstancesResults",
	                    json_string("PAGELESS"));
	json_object_set_new(mig, "updatePolicy",
	                    json_pack("{s:s, s:s, s:s, s:s}", "type",
	                              "OPPORTUNISTIC", "minimalAction", "REPLACE",
	                              "replacementMethod", "SUBSTITUTE",
	                              "instanceRedistributionType", "PROACTIVE"));
	json_object_set_new(mig, "_members", json_array());
	if (mig_resize_to(f, rq, rs, mig, size, ok) != 0) {
		/* drop members already created */
		json_t *m;
		size_t i;
		json_array_foreach(json_object_get(mig, "_members"), i, m) {
			char mk[512];
			snprintf(mk, sizeof(mk), "%s/%s/%s", p, z, json_string_value(m));
			json_object_del(fake_db(f, "instances"), mk);
		}
		goto fail;
	}
	json_object_set_new(table, key, mig);
	resp_json(rs, 200,
	          compute_op(f, rq, p, z, "insert", fake_jstr(mig, "selfLink"),
	                     fake_jstr(mig, "id"),
	                     json_pack("{s:o, s:[]}", "ok", ok, "error")));
	return;
fail:
	json_decref(ok);
	json_decref(mig);
}

static void
mig_get(struct fake *f, struct freq *rq, struct fresp *rs)
{
	char key[512];
	json_t *mig = mig_lookup(f, rq, rs, key, sizeof(key));

	if (mig != NULL) {
		mig_tick(rq, mig);
		resp_json(rs, 200, mig_public(mig));
	}
}

static void
mig_list(struct fake *f, struct freq *rq, struct fresp *rs)
{
	char prefix[300];
	json_t *pub = json_object(), *m;
	const char *k;
	char *self = c_url(rq, "projects/%s/zones/%s/instanceGroupManagers",
	                     rq->cap[0], rq->cap[1]);

	json_object_foreach(fake_db(f, "instance_group_managers"), k, m)
		json_object_set_new(pub, k, mig_public(m));
	snprintf(prefix, sizeof(prefix), "%s/%s/", rq->cap[0], rq->cap[1]);
	c_list_answer(rq, rs, pub, prefix, "compute#instanceGroupManagerList",
	            self ? self : "");
	json_decref(pub);
	free(self);
}

static void
mig_delete(struct fake *f, struct freq *rq, struct fresp *rs)
{
	char key[512];
	json_t *mig = mig_lookup(f, rq, rs, key, sizeof(key)), *ok, *m;
	size_t i;

	if (mig == NULL)
		return;
	ok = json_array();
	json_array_foreach(json_object_get(mig, "_members"), i, m) {
		char mk[512];
		snprintf(mk, sizeof(mk), "%s/%s/%s", rq->cap[0], rq->cap[1],
		         json_string_value(m));
		json_array_append_new(ok, json_pack("{s:s, s:s, s:b}", "table",
		                                    "instances", "key", mk,
		                                    "delete", 1));
	}
	json_array_append_new(ok, json_pack("{s:s, s:s, s:b}", "table",
	                                    "instance_group_managers", "key", key,
	                                    "delete", 1));
	resp_json(rs, 200,
	          compute_op(f, rq, rq->cap[0], rq->cap[1], "delete",
	                     fake_jstr(mig, "selfLink"), fake_jstr(mig, "id"),
	                     ok));
}

static void
mig_resize(struct fake *f, struct freq *rq, struct fresp *rs)
{
	char key[512];
	json_t *mig = mig_lookup(f, rq, rs, key, sizeof(key)), *ok;
	const char *size = freq_arg(rq, "size");
	char *end = NULL;
	long long n;

	if (mig == NULL)
		return;
	n = size ? strtoll(size, &end, 10) : -1;
	if (size == NULL || *end != '\0' || n < 0 || n > 1000) {
		resp_gerr(rs, 400, "invalid", "Invalid value for field 'size': "
		          "'%s'. Must be between 0 and 1000.", size ? size : "");
		return;
	}
	ok = json_array();
	if (mig_resize_to(f, rq, rs, mig, n, ok) != 0) {
		json_decref(ok);
		return;
	}
	resp_json(rs, 200,
	          compute_op(f, rq, rq->cap[0], rq->cap[1], "compute."
	                     "instanceGroupManagers.resize",
	                     fake_jstr(mig, "selfLink"), fake_jstr(mig, "id"),
	                     ok));
}

/* A template by link, or NULL with a 404 answered. */
static json_t *
template_ref(struct fake *f, struct freq *rq, struct fresp *rs,
             const char *link)
{
	char tkey[512], miss[512];
	json_t *t;

	snprintf(tkey, sizeof(tkey), "%s/%s", rq->cap[0], fake_basename(link));
	t = *link ? json_object_get(fake_db(f, "instance_templates"), tkey)
	          : NULL;
	if (t == NULL) {
		snprintf(miss, sizeof(miss), "projects/%s/global/instanceTemplates/"
		         "%s", rq->cap[0], fake_basename(link));
		c_not_found(rs, miss);
	}
	return t;
}

static void
mig_use_template(struct freq *rq, json_t *mig, json_t *tmpl)
{
	c_set_str(mig, "instanceTemplate",
	          c_url(rq, "%s", fake_resource_path(fake_jstr(tmpl,
	                                                       "selfLink"))));
	json_object_set_new(mig, "versions",
	                    json_pack("[{s:s}]", "instanceTemplate",
	                              fake_jstr(mig, "instanceTemplate")));
}

/* Replace every member by one made from the group's template (the
 * rolling replace of an updatePolicy PROACTIVE/REPLACE): old ones
 * deleted, new ones (new names) created, in one operation. */
static int
mig_replace_all(struct fake *f, struct freq *rq, struct fresp *rs,
                json_t *mig, json_t *tmpl, json_t *ok)
{
	json_t *members = json_object_get(mig, "_members");
	json_t *old = json_deep_copy(members), *m;
	size_t i, n = json_array_size(old);

	json_array_clear(members);
	json_array_foreach(old, i, m) {
		char key[512];
		snprintf(key, sizeof(key), "%s/%s/%s", rq->cap[0], rq->cap[1],
		         json_string_value(m));
		json_array_append_new(ok, json_pack("{s:s, s:s, s:b}", "table",
		                                    "instances", "key", key,
		                                    "delete", 1));
	}
	json_decref(old);
	for (i = 0; i < n; i++)
		if (mig_add_member(f, rq, rs, mig, tmpl, members, ok) != 0)
			return -1;
	mig_changed(f, mig, (json_int_t)n, true);
	return 0;
}

/* PATCH: versions (the template), updatePolicy, targetSize,
 * autoHealingPolicies.  A new template with updatePolicy type PROACTIVE
 * replaces every member (what `gcloud compute instance-groups managed
 * rolling-action start-update` asks); OPPORTUNISTIC only records it for
 * members made from then on. */
static void
mig_patch(struct fake *f, struct freq *rq, struct fresp *rs)
{
	char key[512];
	json_t *mig = mig_lookup(f, rq, rs, key, sizeof(key)), *ok, *tmpl = NULL;
	json_t *body = rq->json, *pol = json_object_get(body, "updatePolicy");
	const char *link = fake_jstr(json_array_get(json_object_get(
	        body, "versions"), 0), "instanceTemplate");
	bool changed;

	if (mig == NULL)
		return;
	if (!*link)
		link = fake_jstr(body, "instanceTemplate");
	if (*link && (tmpl = template_ref(f, rq, rs, link)) == NULL)
		return;
	if (json_object_get(body, "autoHealingPolicies") != NULL) {
		json_t *copy = json_pack("{s:O}", "autoHealingPolicies",
		                         json_object_get(body,
		                                         "autoHealingPolicies"));
		if (mig_autohealing(f, rq, rs, copy) != 0) {
			json_decref(copy);
			return;
		}
		json_object_set(mig, "autoHealingPolicies",
		                json_object_get(copy, "autoHealingPolicies"));
		json_decref(copy);
	}
	if (json_is_object(pol))
		json_object_update(json_object_get(mig, "updatePolicy"), pol);
	ok = json_array();
	changed = tmpl != NULL &&
	          strcmp(fake_resource_path(fake_jstr(mig, "instanceTemplate")),
	                 fake_resource_path(fake_jstr(tmpl, "selfLink"))) != 0;
	if (tmpl != NULL)
		mig_use_template(rq, mig, tmpl);
	if (changed && !strcmp(fake_jstr(json_object_get(mig, "updatePolicy"),
	                                 "type"), "PROACTIVE") &&
	    mig_replace_all(f, rq, rs, mig, tmpl, ok) != 0) {
		json_decref(ok);
		return;
	}
	if (json_object_get(body, "targetSize") != NULL &&
	    mig_resize_to(f, rq, rs, mig, json_integer_value(json_object_get(
	                          body, "targetSize")), ok) != 0) {
		json_decref(ok);
		return;
	}
	resp_json(rs, 200,
	          compute_op(f, rq, rq->cap[0], rq->cap[1], "compute."
	                     "instanceGroupManagers.patch",
	                     fake_jstr(mig, "selfLink"), fake_jstr(mig, "id"),
	                     ok));
}

/* setInstanceTemplate: the template for members made from now on; the
 * running ones are left as they are. */
static void
mig_set_template(struct fake *f, struct freq *rq, struct fresp *rs)
{
	char key[512];
	json_t *mig = mig_lookup(f, rq, rs, key, sizeof(key)), *tmpl;

	if (mig == NULL)
		return;
	tmpl = template_ref(f, rq, rs, fake_jstr(rq->json, "instanceTemplate"));
	if (tmpl == NULL)
		return;
	mig_use_template(rq, mig, tmpl);
	resp_json(rs, 200,
	          compute_op(f, rq, rq->cap[0], rq->cap[1], "compute."
	                     "instanceGroupManagers.setInstanceTemplate",
	                     fake_jstr(mig, "selfLink"), fake_jstr(mig, "id"),
	                     json_array()));
}

static void
mig_list_instances(struct fake *f, struct freq *rq, struct fresp *rs)
{
	char key[512];
	json_t *mig = mig_lookup(f, rq, rs, key, sizeof(key)), *out, *m;
	size_t i;

	if (mig == NULL)
		return;
	rq->mutating = false;
	out = json_array();
	json_array_foreach(json_object_get(mig, "_members"), i, m) {
		char mk[512];
		json_t *inst;
		snprintf(mk, sizeof(mk), "%s/%s/%s", rq->cap[0], rq->cap[1],
		         json_string_value(m));
		inst = json_object_get(fake_db(f, "instances"), mk);
		if (inst == NULL)
			continue;
		json_array_append_new(out,
		                      json_pack("{s:s, s:s, s:s, s:s, s:s, s:{s:s}}",
		                                "name", fake_jstr(inst, "name"),
		                                "instance",
		                                fake_jstr(inst, "selfLink"), "id",
		                                fake_jstr(inst, "id"),
		                                "instanceStatus",
		                                fake_jstr(inst, "status"),
		                                "currentAction", "NONE", "version",
		                                "instanceTemplate",
		                                fake_jstr(mig, "instanceTemplate")));
	}
	resp_json(rs, 200, json_pack("{s:o}", "managedInstances", out));
}

/* ---- instance groups: the view of each managed group's members ---- */

static json_t *
group_of(struct freq *rq, json_t *mig)
{
	json_t *g = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I}", "kind",
	                      "compute#instanceGroup", "id", fake_jstr(mig, "id"),
	                      "name", fake_jstr(mig, "name"), "zone",
	                      fake_jstr(mig, "zone"), "creationTimestamp",
	                      fake_jstr(mig, "creationTimestamp"), "fingerprint",
	                      "42WmSpB8rSM=", "size",
	                      (json_int_t)json_array_size(json_object_get(
	                              mig, "_members")));
	char d[256];

	snprintf(d, sizeof(d), "This instance group is controlled by Instance "
	         "Group Manager '%s'.", fake_jstr(mig, "name"));
	json_object_set_new(g, "description", json_string(d));
	json_object_set_new(g, "selfLink",
	                    json_string(fake_jstr(mig, "instanceGroup")));
	c_set_str(g, "network", c_url(rq, "projects/%s/global/networks/"
	                                  "default", rq->cap[0]));
	return g;
}

static void
group_get(struct fake *f, struct freq *rq, struct fresp *rs)
{
	char key[512];
	json_t *mig = mig_lookup(f, rq, rs, key, sizeof(key));

	if (mig == NULL) {
		/* worded for the group, not its manager */
		char path[512];
		snprintf(path, sizeof(path), "projects/%s/zones/%s/instanceGroups/%s",
		         rq->cap[0], rq->cap[1], rq->cap[2]);
		c_not_found(rs, path);
		return;
	}
	resp_json(rs, 200, group_of(rq, mig));
}

static void
group_list(struct fake *f, struct freq *rq, struct fresp *rs)
{
	char prefix[300];
	json_t *groups = json_object(), *m;
	const char *k;
	char *self = c_url(rq, "projects/%s/zones/%s/instanceGroups",
	                     rq->cap[0], rq->cap[1]);

	snprintf(prefix, sizeof(prefix), "%s/%s/", rq->cap[0], rq->cap[1]);
	json_object_foreach(fake_db(f, "instance_group_managers"), k, m)
		if (!strncmp(k, prefix, strlen(prefix)))
			json_object_set_new(groups, k, group_of(rq, m));
	c_list_answer(rq, rs, groups, prefix, "compute#instanceGroupList",
	            self ? self : "");
	json_decref(groups);
	free(self);
}

#define P "/compute/v1/projects/{}"
#define Z P "/zones/{}"

const struct route compute_group_routes[] = {
	{"GET", Z "/instanceGroups", group_list, R_AUTH | R_PURE, NULL},
	{"GET", Z "/instanceGroups/{}", group_get, R_AUTH | R_PURE, NULL},
	{"GET", Z "/instanceGroupManagers", mig_list, R_AUTH | R_PURE, NULL},
	{"POST", Z "/instanceGroupManagers", mig_insert, R_AUTH | R_REQID,
	 "compute.instanceGroupManagers.insert"},
	{"GET", Z "/instanceGroupManagers/{}", mig_get, R_AUTH | R_PURE, NULL},
	{"DELETE", Z "/instanceGroupManagers/{}", mig_delete, R_AUTH | R_REQID, NULL},
	{"POST", Z "/instanceGroupManagers/{}/resize", mig_resize, R_AUTH | R_REQID, NULL},
	{"PATCH", Z "/instanceGroupManagers/{}", mig_patch, R_AUTH | R_REQID,
	 "compute.instanceGroupManagers.update"},
	{"POST", Z "/instanceGroupManagers/{}/setInstanceTemplate",
	 mig_set_template, R_AUTH | R_REQID, "compute.instanceGroupManagers.update"},
	{"POST", Z "/instanceGroupManagers/{}/listManagedInstances",
	 mig_list_instances, R_AUTH | R_READONLY, NULL},
	{NULL, NULL, NULL, 0, NULL},
};
