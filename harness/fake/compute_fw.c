/* harness/fake/compute_fw.c - Compute Engine v1: firewall rules (insert,
 * get, list, delete, patch, update). */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/fake/compute_int.h"

/* ---- firewalls ---- */

static bool
cidr_ok(const char *s)
{
	char ip[64];
	const char *slash = s ? strchr(s, '/') : NULL;
	struct in_addr a;
	char *end;
	long bits = 32;

	if (s == NULL || strlen(s) >= sizeof(ip))
		return false;
	snprintf(ip, sizeof(ip), "%.*s", slash ? (int)(slash - s)
	                                       : (int)strlen(s), s);
	if (slash != NULL) {
		bits = strtol(slash + 1, &end, 10);
		if (*end != '\0' || end == slash + 1 || bits < 0 || bits > 32)
			return false;
	}
	return inet_pton(AF_INET, ip, &a) == 1;
}

/* Fields the service sets: a body's are ignored. */
static const char *const fw_output_only[] = {
	"kind", "id", "creationTimestamp", "selfLink", NULL,
};

/* A JSON null in a body means "absent" (insert, update) or "clear it"
 * (patch). */
static void
drop_nulls(json_t *o)
{
	const char *k;
	json_t *v;
	void *tmp;

	json_object_foreach_safe(o, tmp, k, v) {
		if (json_is_null(v))
			json_object_del(o, k);
	}
}

/* What insert, patch and update all check, then the defaults the
 * service fills in.  The network reference is resolved in place. */
static int
fw_check(struct freq *rq, struct fresp *rs, const char *p, json_t *fw)
{
	json_t *ranges, *r;
	char field[64];
	size_t i;

	if (!c_name_check(rs, fw) ||
	    c_network_ref(rq, rs, p, fw, "resource.network") != 0)
		return -1;
	if (json_array_size(json_object_get(fw, "allowed")) == 0 &&
	    json_array_size(json_object_get(fw, "denied")) == 0) {
		resp_gerr(rs, 400, "invalid", "Invalid value for field "
		          "'resource': ''. A firewall rule needs allowed or denied "
		          "entries.");
		return -1;
	}
	ranges = json_object_get(fw, "sourceRanges");
	json_array_foreach(ranges, i, r) {
		if (!cidr_ok(json_string_value(r))) {
			snprintf(field, sizeof(field), "resource.sourceRanges[%zu]", i);
			c_invalid(rs, field, json_string_value(r), "Must be a CIDR "
			          "address range.");
			return -1;
		}
	}
	if (json_object_get(fw, "direction") == NULL)
		json_object_set_new(fw, "direction", json_string("INGRESS"));
	if (json_object_get(fw, "priority") == NULL)
		json_object_set_new(fw, "priority", json_integer(1000));
	if (json_object_get(fw, "disabled") == NULL)
		json_object_set_new(fw, "disabled", json_false());
	if (ranges == NULL && json_object_get(fw, "sourceTags") == NULL &&
	    !strcmp(fake_jstr(fw, "direction"), "INGRESS"))
		json_object_set_new(fw, "sourceRanges", json_pack("[s]",
		                                                  "0.0.0.0/0"));
	if (json_object_get(fw, "logConfig") == NULL)
		json_object_set_new(fw, "logConfig", json_pack("{s:b}", "enable",
		                                               0));
	return 0;
}

static void
fw_insert(struct fake *f, struct freq *rq, struct fresp *rs)
{
	const char *p = rq->cap[0];
	json_t *fw = json_deep_copy(rq->json), *table = fake_db(f, "firewalls");
	const char *name;
	char key[512], path[512], ts[48], idb[24];

	drop_nulls(fw);
	for (size_t i = 0; fw_output_only[i]; i++)
		json_object_del(fw, fw_output_only[i]);
	if (fw_check(rq, rs, p, fw) != 0)
		goto fail;
	name = json_string_value(json_object_get(fw, "name"));
	snprintf(key, sizeof(key), "%s/%s", p, name);
	snprintf(path, sizeof(path), "projects/%s/global/firewalls/%s", p, name);
	if (json_object_get(table, key) != NULL) {
		resp_gerr(rs, 409, "alreadyExists", "The resource '%s' already "
		          "exists", path);
		goto fail;
	}
	c_now(ts, sizeof(ts));
	json_object_set_new(fw, "kind", json_string("compute#firewall"));
	json_object_set_new(fw, "id", json_string(c_id_of("firewall", p, NULL,
	                                                  name, idb,
	                                                  sizeof(idb))));
	json_object_set_new(fw, "creationTimestamp", json_string(ts));
	c_set_str(fw, "selfLink", c_url(rq, "%s", path));
	json_object_set_new(table, key, fw);
	resp_json(rs, 200,
	          compute_op(f, rq, p, NULL, "insert", fake_jstr(fw, "selfLink"),
	                     fake_jstr(fw, "id"),
	                     json_pack("{s:[], s:[{s:s, s:s, s:b}]}", "ok",
	                               "error", "table", "firewalls", "key", key,
	                               "delete", 1)));
	return;
fail:
	json_decref(fw);
}

/* PATCH (merge: fields present replace, explicit nulls clear) and PUT
 * (the body is the whole rule).  The name and the network cannot
 * change; the output-only fields stay the stored ones.  A failed
 * operation (a fault) puts the old rule back. */
static void
fw_change(struct fake *f, struct freq *rq, struct fresp *rs, bool patch)
{
	const char *p = rq->cap[0];
	char key[512];
	json_t *table = fake_db(f, "firewalls");
	json_t *old = c_global_lookup(f, rq, rs, "firewalls", "firewalls", key,
	                              sizeof(key));
	json_t *fw, *v;
	const char *k, *name;

	if (old == NULL)
		return;
	name = json_string_value(json_object_get(rq->json, "name"));
	if (name != NULL && strcmp(name, rq->cap[1]) != 0) {
		c_invalid(rs, "resource.name", name, "The name of a firewall rule "
		          "cannot be changed.");
		return;
	}
	if (patch) {
		fw = json_deep_copy(old);
		json_object_foreach(rq->json, k, v) {
			if (json_is_null(v))
				json_object_del(fw, k);
			else
				json_object_set_new(fw, k, json_deep_copy(v));
		}
	} else {
		fw = json_deep_copy(rq->json);
		drop_nulls(fw);
	}
	for (size_t i = 0; fw_output_only[i]; i++)
		json_object_set(fw, fw_output_only[i],
		                json_object_get(old, fw_output_only[i]));
	json_object_set_new(fw, "name", json_string(rq->cap[1]));
	if (fw_check(rq, rs, p, fw) != 0) {
		json_decref(fw);
		return;
	}
	if (strcmp(fake_resource_path(fake_jstr(fw, "network")),
	           fake_resource_path(fake_jstr(old, "network"))) != 0) {
		c_invalid(rs, "resource.network", fake_jstr(rq->json, "network"),
		          "The network of a firewall rule cannot be changed.");
		json_decref(fw);
		return;
	}
	v = json_pack("{s:[], s:[{s:s, s:s, s:O}]}", "ok", "error", "table",
	              "firewalls", "key", key, "replace", old);
	json_object_set_new(table, key, fw);
	resp_json(rs, 200,
	          compute_op(f, rq, p, NULL, patch ? "patch" : "update",
	                     fake_jstr(fw, "selfLink"), fake_jstr(fw, "id"), v));
}

static void
fw_patch(struct fake *f, struct freq *rq, struct fresp *rs)
{
	fw_change(f, rq, rs, true);
}

static void
fw_update(struct fake *f, struct freq *rq, struct fresp *rs)
{
	fw_change(f, rq, rs, false);
}

static void
fw_get(struct fake *f, struct freq *rq, struct fresp *rs)
{
	char key[512];
	json_t *fw = c_global_lookup(f, rq, rs, "firewalls", "firewalls", key,
	                           sizeof(key));

	if (fw != NULL)
		resp_json_cached(f, rs, fw);
}

static void
fw_delete(struct fake *f, struct freq *rq, struct fresp *rs)
{
	char key[512];
	json_t *fw = c_global_lookup(f, rq, rs, "firewalls", "firewalls", key,
	                           sizeof(key));

	if (fw == NULL)
		return;
	resp_json(rs, 200,
	          compute_op(f, rq, rq->cap[0], NULL, "delete",
	                     fake_jstr(fw, "selfLink"), fake_jstr(fw, "id"),
	                     json_pack("[{s:s, s:s, s:b}]", "table", "firewalls",
	                               "key", key, "delete", 1)));
}

static void
fw_list(struct fake *f, struct freq *rq, struct fresp *rs)
{
	char prefix[300], *self = c_url(rq, "projects/%s/global/firewalls",
	                                  rq->cap[0]);

	snprintf(prefix, sizeof(prefix), "%s/", rq->cap[0]);
	c_list_answer(rq, rs, fake_db(f, "firewalls"), prefix,
	            "compute#firewallList", self ? self : "");
	free(self);
}

#define P "/compute/v1/projects/{}"
#define Z P "/zones/{}"

const struct route compute_fw_routes[] = {
	{"GET", P "/global/firewalls", fw_list, R_AUTH | R_PURE, NULL},
	{"POST", P "/global/firewalls", fw_insert, R_AUTH | R_REQID,
	 "compute.firewalls.insert"},
	{"GET", P "/global/firewalls/{}", fw_get, R_AUTH | R_PURE, NULL},
	{"DELETE", P "/global/firewalls/{}", fw_delete, R_AUTH | R_REQID, NULL},
	{"PATCH", P "/global/firewalls/{}", fw_patch, R_AUTH | R_REQID,
	 "compute.firewalls.patch"},
	{"PUT", P "/global/firewalls/{}", fw_update, R_AUTH | R_REQID,
	 "compute.firewalls.update"},
	{NULL, NULL, NULL, 0, NULL},
};
