/* harness/fake/compute.c - Compute Engine v1 under /compute/v1/: what
 * the resource files share (names, URLs, ids, errors, operations and
 * their requestId replays, lists), the project, zones, networks, images,
 * aggregated lists, and zonal and global operations (polled with POST
 * .../wait).  Instances are in compute_inst.c, firewalls in
 * compute_fw.c, templates and managed groups in compute_group.c.
 *
 * Resource URLs in request bodies may carry any base (clients build them
 * from their endpoint override): they are resolved by path and stored
 * with the base this request came in on.  Keys: instances and groups
 * "project/zone/name", firewalls and templates "project/name".
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/fake/compute_int.h"


/* ---- names, URLs, ids ---- */


const char *
c_id_of(const char *kind, const char *p, const char *scope, const char *name,
      char *buf, size_t len)
{
	return fake_u64(1000000000000000000ULL +
	                        fake_hash64(kind, p, scope, name) %
	                                8000000000000000000ULL,
	                buf, len);
}

char *
c_url(const struct freq *rq, const char *fmt, ...)
{
	char path[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(path, sizeof(path), fmt, ap);
	va_end(ap);
	return mv_strfmt("%s/compute/v1/%s", rq->base, path);
}

void
c_set_str(json_t *o, const char *k, char *v)
{
	json_object_set_new(o, k, json_string(v ? v : ""));
	free(v);
}

void
c_not_found(struct fresp *rs, const char *path)
{
	resp_gerr(rs, 404, "notFound", "The resource '%s' was not found", path);
}

void
c_invalid(struct fresp *rs, const char *field, const char *value,
          const char *rule)
{
	resp_gerr(rs, 400, "invalid", "Invalid value for field '%s': '%s'. %s",
	          field, value ? value : "", rule);
}

#define NAME_RULE "Must be a match of regex '(?:[a-z](?:[-a-z0-9]{0,61}" \
	"[a-z0-9])?)'"

bool
c_name_check(struct fresp *rs, json_t *res)
{
	const char *name = json_string_value(json_object_get(res, "name"));

	if (!fake_name_ok(name, 63)) {
		c_invalid(rs, "resource.name", name, NAME_RULE);
		return false;
	}
	return true;
}

void
c_now(char *ts, size_t len)
{
	fake_now_rfc3339(ts, len, true);
}

/* ---- operations ---- */

/* How long Compute remembers a requestId: "at least 60 minutes". */
#define REQID_RETENTION_MS (60LL * 60 * 1000)

/* Compute takes a UUID, not the zero one. */
static bool
uuid_ok(const char *s)
{
	static const char shape[] = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";
	bool zero = true;

	if (strlen(s) != sizeof(shape) - 1)
		return false;
	for (size_t i = 0; shape[i]; i++) {
		if (shape[i] == '-') {
			if (s[i] != '-')
				return false;
		} else if (!isxdigit((unsigned char)s[i])) {
			return false;
		} else if (s[i] != '0') {
			zero = false;
		}
	}
	return !zero;
}

/* db.request_ids["P/ID"] = {"op": operation key, "ms": when}; old
 * entries go when a new one is added, so the table stays bounded by what
 * an hour of requests made. */
static void
reqid_remember(struct fake *f, struct freq *rq, const char *p,
               const char *okey)
{
	const char *id = freq_arg(rq, "requestId");
	json_t *t = fake_db(f, "request_ids"), *v;
	long long now = fake_clock_ms(f);
	char key[400];
	const char *k;
	void *tmp;

	if (id == NULL || *id == '\0')
		return;
	snprintf(key, sizeof(key), "%s/%s", p, id);
	v = json_object_get(t, key);
	/* a request that starts several operations answers with its first */
	if (v != NULL &&
	    now - (long long)json_integer_value(json_object_get(v, "ms")) <=
	            REQID_RETENTION_MS)
		return;
	json_object_foreach_safe(t, tmp, k, v) {
		if (now - (long long)json_integer_value(json_object_get(v, "ms")) >
		    REQID_RETENTION_MS)
			json_object_del(t, k);
	}
	json_object_set_new(t, key, json_pack("{s:s, s:I}", "op", okey, "ms",
	                                      (json_int_t)now));
}

bool
c_request_replayed(struct fake *f, struct freq *rq, struct fresp *rs)
{
	const char *id = freq_arg(rq, "requestId");
	json_t *rec, *op;
	char key[400];

	if (id == NULL || *id == '\0')
		return false;
	if (!uuid_ok(id)) {
		resp_gerr(rs, 400, "invalid", "Invalid value for field "
		          "'requestId': '%s'. The request id must be a valid UUID "
		          "with the exception that zero UUID is not supported "
		          "(00000000-0000-0000-0000-000000000000).", id);
		return true;
	}
	snprintf(key, sizeof(key), "%s/%s", rq->cap[0], id);
	rec = json_object_get(fake_db(f, "request_ids"), key);
	if (rec == NULL ||
	    fake_clock_ms(f) - (long long)json_integer_value(json_object_get(
	            rec, "ms")) > REQID_RETENTION_MS)
		return false;
	op = op_peek(f, fake_jstr(rec, "op"));
	if (op == NULL)
		return false;
	resp_json(rs, 200, op);
	return true;
}

json_t *
compute_op(struct fake *f, struct freq *rq, const char *p, const char *zone,
           const char *type, const char *target_link, const char *target_id,
           json_t *effects)
{
	json_t *seq = fake_db(f, "seq"), *cnt, *pub;
	char skey[1200], opname[80], num[24], ts[48], okey[400], idb[24];
	const char *tpath = fake_resource_path(target_link);
	uint64_t n, h;

	snprintf(skey, sizeof(skey), "compute/%s/%s/%s", tpath, type,
	         zone ? zone : "global");
	cnt = json_object_get(seq, skey);
	n = cnt ? (uint64_t)json_integer_value(cnt) + 1 : 1;
	json_object_set_new(seq, skey, json_integer((json_int_t)n));
	h = fake_hash64("compute-op", skey, fake_u64(n, num, sizeof(num)), NULL);
	snprintf(opname, sizeof(opname), "operation-%llu-%08llx-%04llx",
	         (unsigned long long)(1700000000000ULL + (h >> 20) %
	                                                         100000000000ULL),
	         (unsigned long long)(h & 0xffffffffu),
	         (unsigned long long)((h >> 32) & 0xffffu));
	c_now(ts, sizeof(ts));
	pub = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:s, s:s}",
	                "kind", "compute#operation", "id",
	                c_id_of("op", skey, num, NULL, idb, sizeof(idb)), "name",
	                opname, "operationType", type, "targetLink", target_link,
	                "status", "RUNNING", "user", "fake@meshvm.invalid",
	                "progress", 0, "insertTime", ts, "startTime", ts);
	if (target_id != NULL)
		json_object_set_new(pub, "targetId", json_string(target_id));
	if (zone != NULL) {
		c_set_str(pub, "zone", c_url(rq, "projects/%s/zones/%s", p,
		                                 zone));
		c_set_str(pub, "selfLink",
		            c_url(rq, "projects/%s/zones/%s/operations/%s", p, zone,
		                    opname));
		snprintf(okey, sizeof(okey), "compute/%s/zones/%s/%s", p, zone,
		         opname);
	} else {
		c_set_str(pub, "selfLink",
		            c_url(rq, "projects/%s/global/operations/%s", p,
		                    opname));
		snprintf(okey, sizeof(okey), "compute/%s/global/%s", p, opname);
	}
	reqid_remember(f, rq, p, okey);
	return op_new(f, rq, okey, pub, effects);
}

static void
op_read(struct fake *f, struct freq *rq, struct fresp *rs, bool zonal)
{
	char key[400];
	json_t *op;

	if (zonal)
		snprintf(key, sizeof(key), "compute/%s/zones/%s/%s", rq->cap[0],
		         rq->cap[1], rq->cap[2]);
	else
		snprintf(key, sizeof(key), "compute/%s/global/%s", rq->cap[0],
		         rq->cap[1]);
	op = op_poll(f, key);
	if (op == NULL) {
		char path[400];
		if (zonal)
			snprintf(path, sizeof(path), "projects/%s/zones/%s/operations/%s",
			         rq->cap[0], rq->cap[1], rq->cap[2]);
		else
			snprintf(path, sizeof(path), "projects/%s/global/operations/%s",
			         rq->cap[0], rq->cap[1]);
		c_not_found(rs, path);
		return;
	}
	resp_json(rs, 200, op);
}

static void
zop_get(struct fake *f, struct freq *rq, struct fresp *rs)
{
	op_read(f, rq, rs, true);
}

static void
gop_get(struct fake *f, struct freq *rq, struct fresp *rs)
{
	op_read(f, rq, rs, false);
}

/* ---- project, zones, networks ---- */

static void
project_get(struct fake *f, struct freq *rq, struct fresp *rs)
{
	const char *p = rq->cap[0];
	char num[24], sa[96], ts[48];
	json_t *o;

	fake_project_number(p, num, sizeof(num));
	snprintf(sa, sizeof(sa), "%s-compute@developer.gserviceaccount.com",
	         num);
	c_now(ts, sizeof(ts));
	o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:{s:s, s:[]}, s:s, s:s}",
	              "kind", "compute#project", "id", num, "name", p,
	              "creationTimestamp", "2024-01-01T00:00:00.000-00:00",
	              "defaultServiceAccount", sa, "commonInstanceMetadata",
	              "kind", "compute#metadata", "items", "xpnProjectStatus",
	              "UNSPECIFIED_XPN_PROJECT_STATUS", "defaultNetworkTier",
	              "PREMIUM");
	c_set_str(o, "selfLink", c_url(rq, "projects/%s", p));
	fake_quota_project(f, o);
	resp_json(rs, 200, o);
}

static json_t *
zone_json(struct freq *rq, const char *p, const char *z)
{
	char region[64], idb[24];
	json_t *o;

	fake_region_of(z, region, sizeof(region));
	o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:b}", "kind",
	              "compute#zone", "id",
	              c_id_of("zone", z, NULL, NULL, idb, sizeof(idb)), "name", z,
	              "description", z, "status", "UP", "creationTimestamp",
	              "1969-12-31T16:00:00.000-08:00", "supportsPzs", 1);
	c_set_str(o, "region", c_url(rq, "projects/%s/regions/%s", p,
	                                 region));
	c_set_str(o, "selfLink", c_url(rq, "projects/%s/zones/%s", p, z));
	return o;
}

bool
c_zone_check(struct freq *rq, struct fresp *rs, const char *z)
{
	char path[256];

	if (fake_zone_ok(z))
		return true;
	snprintf(path, sizeof(path), "projects/%s/zones/%s", rq->cap[0], z);
	c_not_found(rs, path);
	return false;
}

static void
zone_get(struct fake *f, struct freq *rq, struct fresp *rs)
{
	(void)f;
	if (c_zone_check(rq, rs, rq->cap[1]))
		resp_json(rs, 200, zone_json(rq, rq->cap[0], rq->cap[1]));
}

static const char *const known_zones[] = {
	"europe-west1-b", "us-central1-a", "us-central1-b", "us-central1-c",
	"us-east1-b", "us-east1-c", "us-west1-a", "us-west1-b", NULL};

static void
zones_list(struct fake *f, struct freq *rq, struct fresp *rs)
{
	json_t *items = json_array();

	(void)f;
	for (size_t i = 0; known_zones[i]; i++)
		json_array_append_new(items, zone_json(rq, rq->cap[0],
		                                       known_zones[i]));
	resp_json(rs, 200, json_pack("{s:s, s:o}", "kind", "compute#zoneList",
	                             "items", items));
}

static json_t *
network_json(struct freq *rq, const char *p)
{
	char idb[24];
	json_t *o = json_pack("{s:s, s:s, s:s, s:b, s:s, s:s, s:{s:s}}",
	                      "kind", "compute#network", "id",
	                      c_id_of("network", p, "default", NULL, idb,
	                            sizeof(idb)),
	                      "name", "default", "autoCreateSubnetworks", 1,
	                      "creationTimestamp",
	                      "2024-01-01T00:00:00.000-00:00", "description",
	                      "Default network for the project",
	                      "routingConfig", "routingMode", "REGIONAL");
	c_set_str(o, "selfLink", c_url(rq, "projects/%s/global/networks/"
	                                   "default", p));
	return o;
}

static void
network_get(struct fake *f, struct freq *rq, struct fresp *rs)
{
	char path[256];

	(void)f;
	if (strcmp(rq->cap[1], "default") != 0) {
		snprintf(path, sizeof(path), "projects/%s/global/networks/%s",
		         rq->cap[0], rq->cap[1]);
		c_not_found(rs, path);
		return;
	}
	resp_json(rs, 200, network_json(rq, rq->cap[0]));
}

static void
network_list(struct fake *f, struct freq *rq, struct fresp *rs)
{
	(void)f;
	resp_json(rs, 200, json_pack("{s:s, s:[o]}", "kind",
	                             "compute#networkList", "items",
	                             network_json(rq, rq->cap[0])));
}

/* A network reference must name the project's "default" network. */
int
c_network_ref(struct freq *rq, struct fresp *rs, const char *p, json_t *nic,
            const char *field)
{
	const char *ref = json_string_value(json_object_get(nic, "network"));
	const char *path = ref ? fake_resource_path(ref) : NULL;
	char want[256];

	snprintf(want, sizeof(want), "projects/%s/global/networks/default", p);
	if (ref == NULL || strcmp(path, "default") == 0 ||
	    strcmp(path, "global/networks/default") == 0 ||
	    strcmp(path, want) == 0) {
		c_set_str(nic, "network", c_url(rq, "%s", want));
		return 0;
	}
	if (strchr(path, '/') == NULL) {
		char miss[256];
		snprintf(miss, sizeof(miss), "projects/%s/global/networks/%s", p,
		         path);
		c_not_found(rs, miss);
	} else if (strstr(path, "/global/networks/") == NULL) {
		c_invalid(rs, field, ref, "Must be a network URL.");
	} else {
		c_not_found(rs, path);
	}
	return -1;
}

/* ---- lists with paging ---- */

void
c_list_answer(struct freq *rq, struct fresp *rs, json_t *table,
            const char *prefix, const char *kind, const char *self)
{
	json_t *keys = fake_sorted_keys(table, prefix), *k, *items = json_array();
	const char *mr = freq_arg(rq, "maxResults"), *pt = freq_arg(rq,
	                                                             "pageToken");
	size_t max = mr ? strtoul(mr, NULL, 10) : 500, start = 0, i;
	json_t *o;

	if (max == 0 || max > 500)
		max = 500;
	if (pt != NULL)
		start = strtoul(pt, NULL, 10);
	json_array_foreach(keys, i, k) {
		if (i < start || json_array_size(items) >= max)
			continue;
		json_array_append(items, json_object_get(table,
		                                         json_string_value(k)));
	}
	o = json_pack("{s:s, s:s, s:s}", "kind", kind, "id", self, "selfLink",
	              self);
	if (json_array_size(items) > 0)
		json_object_set_new(o, "items", items);
	else
		json_decref(items);
	if (start + max < json_array_size(keys)) {
		char next[24];
		json_object_set_new(o, "nextPageToken",
		                    json_string(fake_u64(start + max, next,
		                                         sizeof(next))));
	}
	json_decref(keys);
	resp_json(rs, 200, o);
}

json_t *
c_global_lookup(struct fake *f, struct freq *rq, struct fresp *rs,
              const char *table, const char *coll, char *key, size_t klen)
{
	json_t *res;
	char path[512];

	snprintf(key, klen, "%s/%s", rq->cap[0], rq->cap[1]);
	res = json_object_get(fake_db(f, table), key);
	if (res == NULL) {
		snprintf(path, sizeof(path), "projects/%s/global/%s/%s", rq->cap[0],
		         coll, rq->cap[1]);
		c_not_found(rs, path);
	}
	return res;
}

/* An aggregated list: {"items": {"zones/Z": {LISTKEY: [...]}}} for zonal
 * tables, {"global": ...} for global ones; scopes with nothing are left
 * out.  `strip` drops the fake's own fields (the groups' members). */
void
c_aggregated(struct fake *f, struct freq *rq, struct fresp *rs,
           const char *table_name, const char *listkey, const char *kind,
           bool zonal, bool strip)
{
	json_t *table = fake_db(f, table_name), *items = json_object(), *k;
	char prefix[300];
	json_t *keys, *o;
	size_t i;

	snprintf(prefix, sizeof(prefix), "%s/", rq->cap[0]);
	keys = fake_sorted_keys(table, prefix);
	json_array_foreach(keys, i, k) {
		const char *key = json_string_value(k);
		const char *z = key + strlen(prefix);
		char scope[128];
		json_t *bucket, *res = json_deep_copy(json_object_get(table, key));
		if (zonal)
			snprintf(scope, sizeof(scope), "zones/%.*s",
			         (int)(strchr(z, '/') - z), z);
		else
			snprintf(scope, sizeof(scope), "global");
		bucket = json_object_get(items, scope);
		if (bucket == NULL) {
			bucket = json_pack("{s:[]}", listkey);
			json_object_set_new(items, scope, bucket);
		}
		if (strip) {
			json_object_del(res, "_members");
			json_object_del(res, "_next");
		}
		json_array_append_new(json_object_get(bucket, listkey), res);
	}
	json_decref(keys);
	o = json_pack("{s:s, s:s+, s:o}", "kind", kind, "id", "projects/",
	              rq->cap[0], "items", items);
	c_set_str(o, "selfLink", c_url(rq, "projects/%s/aggregated/%s",
	                                   rq->cap[0], listkey));
	resp_json(rs, 200, o);
}

static void
inst_aggregated(struct fake *f, struct freq *rq, struct fresp *rs)
{
	c_aggregated(f, rq, rs, "instances", "instances",
	           "compute#instanceAggregatedList", true, false);
}

static void
tmpl_aggregated(struct fake *f, struct freq *rq, struct fresp *rs)
{
	c_aggregated(f, rq, rs, "instance_templates", "instanceTemplates",
	           "compute#instanceTemplateAggregatedList", false, false);
}

static void
mig_aggregated(struct fake *f, struct freq *rq, struct fresp *rs)
{
	c_aggregated(f, rq, rs, "instance_group_managers", "instanceGroupManagers",
	           "compute#instanceGroupManagerAggregatedList", true, true);
}

/* ---- images and autoscalers (read-only views gcloud asks for) ---- */

/* Any family resolves to one image "FAMILY-v20250101": gcloud only reads
 * the image's selfLink when it builds a template. */
static void
image_family_get(struct fake *f, struct freq *rq, struct fresp *rs)
{
	char name[160], idb[24];
	json_t *o;

	(void)f;
	if (!fake_name_ok(rq->cap[1], 54)) {
		char path[256];
		snprintf(path, sizeof(path), "projects/%s/global/images/family/%s",
		         rq->cap[0], rq->cap[1]);
		c_not_found(rs, path);
		return;
	}
	snprintf(name, sizeof(name), "%s-v20250101", rq->cap[1]);
	o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "kind",
	              "compute#image", "id",
	              c_id_of("image", rq->cap[0], name, NULL, idb, sizeof(idb)),
	              "name", name, "family", rq->cap[1], "status", "READY",
	              "sourceType", "RAW", "diskSizeGb", "10", "architecture",
	              "X86_64", "creationTimestamp",
	              "2025-01-01T00:00:00.000-00:00");
	c_set_str(o, "selfLink", c_url(rq, "projects/%s/global/images/%s",
	                                   rq->cap[0], name));
	resp_json(rs, 200, o);
}

static void
autoscaler_list(struct fake *f, struct freq *rq, struct fresp *rs)
{
	char *self = c_url(rq, "projects/%s/zones/%s/autoscalers", rq->cap[0],
	                     rq->cap[1]);
	json_t *none = json_object();

	(void)f;
	c_list_answer(rq, rs, none, "", "compute#autoscalerList",
	            self ? self : "");
	json_decref(none);
	free(self);
}

#define P "/compute/v1/projects/{}"
#define Z P "/zones/{}"

const struct route compute_routes[] = {
	{"GET", P, project_get, R_AUTH | R_PURE, NULL},
	{"GET", P "/zones", zones_list, R_AUTH | R_PURE, NULL},
	{"GET", Z, zone_get, R_AUTH | R_PURE, NULL},
	{"GET", P "/global/networks", network_list, R_AUTH | R_PURE, NULL},
	{"GET", P "/global/networks/{}", network_get, R_AUTH | R_PURE, NULL},
	{"GET", P "/aggregated/instances", inst_aggregated, R_AUTH | R_PURE, NULL},
	{"GET", P "/aggregated/instanceTemplates", tmpl_aggregated, R_AUTH | R_PURE, NULL},
	{"GET", P "/aggregated/instanceGroupManagers", mig_aggregated, R_AUTH | R_PURE,
	 NULL},
	{"GET", P "/global/images/family/{}", image_family_get, R_AUTH | R_PURE, NULL},
	{"GET", Z "/autoscalers", autoscaler_list, R_AUTH | R_PURE, NULL},
	{"GET", Z "/operations/{}", zop_get, R_AUTH, NULL},
	{"POST", Z "/operations/{}/wait", zop_get, R_AUTH | R_READONLY, NULL},
	{"GET", P "/global/operations/{}", gop_get, R_AUTH, NULL},
	{"POST", P "/global/operations/{}/wait", gop_get, R_AUTH | R_READONLY,
	 NULL},
	{NULL, NULL, NULL, 0, NULL},
};
