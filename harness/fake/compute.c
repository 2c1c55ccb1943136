/* harness/fake/compute.c - Compute Engine v1 under /compute/v1/: zones,
 * projects, networks, instances (with setMetadata and the aggregated
 * list), firewalls, instance templates, managed instance groups, and
 * their zonal and global operations (polled with POST .../wait).
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

#include "core/base64.h"
#include "core/sha256.h"
#include "harness/fake/fake_private.h"

#define MD_VALUE_MAX 262144
#define MD_TOTAL_MAX (512 * 1024)

/* ---- names, URLs, ids ---- */

const char *
compute_project_number(const char *project, char *buf, size_t len)
{
	return fake_u64(100000000000ULL +
	                        fake_hash64("project", project, NULL, NULL) %
	                                900000000000ULL,
	                buf, len);
}

static const char *
id_of(const char *kind, const char *p, const char *scope, const char *name,
      char *buf, size_t len)
{
	return fake_u64(1000000000000000000ULL +
	                        fake_hash64(kind, p, scope, name) %
	                                8000000000000000000ULL,
	                buf, len);
}

/* "{base}/compute/v1/" + path */
static char *
curl_of(const struct freq *rq, const char *fmt, ...) MV_PRINTF(2, 3);

static char *
curl_of(const struct freq *rq, const char *fmt, ...)
{
	char path[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(path, sizeof(path), fmt, ap);
	va_end(ap);
	return mv_strfmt("%s/compute/v1/%s", rq->base, path);
}

static void
set_str_new(json_t *o, const char *k, char *v)
{
	json_object_set_new(o, k, json_string(v ? v : ""));
	free(v);
}

static void
c_not_found(struct fresp *rs, const char *path)
{
	resp_gerr(rs, 404, "notFound", "The resource '%s' was not found", path);
}

static void
c_invalid(struct fresp *rs, const char *field, const char *value,
          const char *rule)
{
	resp_gerr(rs, 400, "invalid", "Invalid value for field '%s': '%s'. %s",
	          field, value ? value : "", rule);
}

#define NAME_RULE "Must be a match of regex '(?:[a-z](?:[-a-z0-9]{0,61}" \
	"[a-z0-9])?)'"

static bool
name_check(struct fresp *rs, json_t *res)
{
	const char *name = json_string_value(json_object_get(res, "name"));

	if (!fake_name_ok(name, 63)) {
		c_invalid(rs, "resource.name", name, NAME_RULE);
		return false;
	}
	return true;
}

static void
now_compute(char *ts, size_t len)
{
	fake_now_rfc3339(ts, len, true);
}

/* ---- operations ---- */

static json_t *
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
	now_compute(ts, sizeof(ts));
	pub = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:s, s:s}",
	                "kind", "compute#operation", "id",
	                id_of("op", skey, num, NULL, idb, sizeof(idb)), "name",
	                opname, "operationType", type, "targetLink", target_link,
	                "status", "RUNNING", "user", "fake@meshvm.invalid",
	                "progress", 0, "insertTime", ts, "startTime", ts);
	if (target_id != NULL)
		json_object_set_new(pub, "targetId", json_string(target_id));
	if (zone != NULL) {
		set_str_new(pub, "zone", curl_of(rq, "projects/%s/zones/%s", p,
		                                 zone));
		set_str_new(pub, "selfLink",
		            curl_of(rq, "projects/%s/zones/%s/operations/%s", p, zone,
		                    opname));
		snprintf(okey, sizeof(okey), "compute/%s/zones/%s/%s", p, zone,
		         opname);
	} else {
		set_str_new(pub, "selfLink",
		            curl_of(rq, "projects/%s/global/operations/%s", p,
		                    opname));
		snprintf(okey, sizeof(okey), "compute/%s/global/%s", p, opname);
	}
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

	compute_project_number(p, num, sizeof(num));
	snprintf(sa, sizeof(sa), "%s-compute@developer.gserviceaccount.com",
	         num);
	now_compute(ts, sizeof(ts));
	o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:{s:s, s:[]}, s:s, s:s}",
	              "kind", "compute#project", "id", num, "name", p,
	              "creationTimestamp", "2024-01-01T00:00:00.000-00:00",
	              "defaultServiceAccount", sa, "commonInstanceMetadata",
	              "kind", "compute#metadata", "items", "xpnProjectStatus",
	              "UNSPECIFIED_XPN_PROJECT_STATUS", "defaultNetworkTier",
	              "PREMIUM");
	set_str_new(o, "selfLink", curl_of(rq, "projects/%s", p));
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
	              id_of("zone", z, NULL, NULL, idb, sizeof(idb)), "name", z,
	              "description", z, "status", "UP", "creationTimestamp",
	              "1969-12-31T16:00:00.000-08:00", "supportsPzs", 1);
	set_str_new(o, "region", curl_of(rq, "projects/%s/regions/%s", p,
	                                 region));
	set_str_new(o, "selfLink", curl_of(rq, "projects/%s/zones/%s", p, z));
	return o;
}

static bool
zone_check(struct freq *rq, struct fresp *rs, const char *z)
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
	if (zone_check(rq, rs, rq->cap[1]))
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
	                      id_of("network", p, "default", NULL, idb,
	                            sizeof(idb)),
	                      "name", "default", "autoCreateSubnetworks", 1,
	                      "creationTimestamp",
	                      "2024-01-01T00:00:00.000-00:00", "description",
	                      "Default network for the project",
	                      "routingConfig", "routingMode", "REGIONAL");
	set_str_new(o, "selfLink", curl_of(rq, "projects/%s/global/networks/"
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
static int
network_ref(struct freq *rq, struct fresp *rs, const char *p, json_t *nic,
            const char *field)
{
	const char *ref = json_string_value(json_object_get(nic, "network"));
	const char *path = ref ? fake_resource_path(ref) : NULL;
	char want[256];

	snprintf(want, sizeof(want), "projects/%s/global/networks/default", p);
	if (ref == NULL || strcmp(path, "default") == 0 ||
	    strcmp(path, "global/networks/default") == 0 ||
	    strcmp(path, want) == 0) {
		set_str_new(nic, "network", curl_of(rq, "%s", want));
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

static void
list_answer(struct freq *rq, struct fresp *rs, json_t *table,
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

/* ---- metadata ---- */

static bool
md_key_ok(const char *k)
{
	size_t n = k ? strlen(k) : 0;

	if (n == 0 || n > 128)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)k[i]) && k[i] != '-' && k[i] != '_')
			return false;
	return true;
}

static char *
fingerprint_of(json_t *v)
{
	char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY |
	                            JSON_PRESERVE_ORDER);
	uint8_t d[MV_SHA256_LEN];
	struct mv_sha256 h;
	char *fp;

	mv_sha256_init(&h);
	if (s != NULL)
		mv_sha256_update(&h, s, strlen(s));
	mv_sha256_final(&h, d);
	free(s);
	fp = mv_base64_encode(d, 8);
	return fp;
}

/* GCE's limits: keys [a-zA-Z0-9-_]{1,128}, unique, values at most 256
 * KiB, everything together at most 512 KB. */
static int
metadata_check(struct fresp *rs, json_t *md, const char *field)
{
	json_t *items, *it;
	size_t i, total = 0;
	char f2[160];

	if (md == NULL || json_is_null(md))
		return 0;
	items = json_object_get(md, "items");
	json_array_foreach(items, i, it) {
		const char *k = json_string_value(json_object_get(it, "key"));
		json_t *v = json_object_get(it, "value");
		size_t vlen = json_is_string(v) ? json_string_length(v) : 0;
		if (!md_key_ok(k)) {
			snprintf(f2, sizeof(f2), "%s.items[%zu].key", field, i);
			c_invalid(rs, f2, k, "Must be a match of regex "
			          "'[a-zA-Z0-9-_]{1,128}'");
			return -1;
		}
		for (size_t j = 0; j < i; j++) {
			const char *o = json_string_value(json_object_get(
			        json_array_get(items, j), "key"));
			if (o && strcmp(o, k) == 0) {
				resp_gerr(rs, 400, "invalid", "Invalid value for field "
				          "'%s': Duplicate metadata key '%s'.", field, k);
				return -1;
			}
		}
		if (vlen > MD_VALUE_MAX) {
			resp_gerr(rs, 400, "invalid", "Value for field '%s.items[%zu]."
			          "value' is too large: maximum size %d character(s); "
			          "actual size %zu.", field, i, MD_VALUE_MAX, vlen);
			return -1;
		}
		total += strlen(k) + vlen;
	}
	if (total > MD_TOTAL_MAX) {
		resp_gerr(rs, 400, "invalid", "Value for field '%s' is too large: "
		          "maximum size %d character(s); actual size %zu.", field,
		          MD_TOTAL_MAX, total);
		return -1;
	}
	return 0;
}

static void
metadata_finish(json_t *parent)
{
	json_t *md = json_object_get(parent, "metadata");
	char *fp;

	if (!json_is_object(md)) {
		md = json_object();
		json_object_set_new(parent, "metadata", md);
	}
	json_object_del(md, "fingerprint");
	fp = fingerprint_of(json_object_get(md, "items"));
	json_object_set_new(md, "kind", json_string("compute#metadata"));
	set_str_new(md, "fingerprint", fp);
}

/* ---- instances ---- */

/* Auto-mode default subnets of the regions the seed uses; elsewhere a
 * /20 picked by the region's name. */
static uint32_t
region_subnet(const char *region)
{
	static const struct {
		const char *r;
		unsigned b;
	} t[] = {{"us-central1", 128}, {"europe-west1", 132}, {"us-west1", 138},
	         {"us-east1", 142}, {"us-east4", 150}};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (strcmp(t[i].r, region) == 0)
			return 10u << 24 | t[i].b << 16;
	return 10u << 24 | (200u + (unsigned)(fake_hash64("region", region,
	                                                 NULL, NULL) % 50)) << 16;
}

static bool
ip_in_use(struct fake *f, const char *p, const char *field, const char *ip)
{
	json_t *inst, *nic;
	const char *key;
	size_t plen = strlen(p), i;

	json_object_foreach(fake_db(f, "instances"), key, inst) {
		if (strncmp(key, p, plen) != 0 || key[plen] != '/')
			continue;
		json_array_foreach(json_object_get(inst, "networkInterfaces"), i,
		                   nic) {
			json_t *ac;
			size_t j;
			if (!strcmp(fake_jstr(nic, field), ip))
				return true;
			json_array_foreach(json_object_get(nic, "accessConfigs"), j, ac)
				if (!strcmp(fake_jstr(ac, field), ip))
					return true;
		}
	}
	return false;
}

static void
ip_string(uint32_t a, char *buf, size_t len)
{
	snprintf(buf, len, "%u.%u.%u.%u", a >> 24, a >> 16 & 255, a >> 8 & 255,
	         a & 255);
}

static void
pick_ips(struct fake *f, const char *p, const char *z, const char *name,
         size_t nic_index, char *ip, char *nat, size_t len)
{
	char region[64], idx[8];
	uint32_t base;
	uint64_t h;
	unsigned host, nh;

	fake_region_of(z, region, sizeof(region));
	base = region_subnet(region);
	snprintf(idx, sizeof(idx), "%zu", nic_index);
	h = fake_hash64("nic", p, z, name) + nic_index;
	host = 2 + (unsigned)(h % 4000);
	for (int tries = 0; tries < 4000; tries++) {
		ip_string(base + host, ip, len);
		if (!ip_in_use(f, p, "networkIP", ip))
			break;
		host = 2 + (host - 2 + 1) % 4000;
	}
	/* External addresses: 198.51.100.0/24 (TEST-NET-2), data only. */
	nh = 1 + (unsigned)((h >> 20) % 254);
	for (int tries = 0; tries < 254; tries++) {
		ip_string(198u << 24 | 51u << 16 | 100u << 8 | nh, nat, len);
		if (!ip_in_use(f, p, "natIP", nat))
			break;
		nh = 1 + nh % 254;
	}
}

static int
machine_type_ref(struct freq *rq, struct fresp *rs, json_t *inst,
                 const char *p, const char *z)
{
	const char *mt = json_string_value(json_object_get(inst, "machineType"));
	const char *path, *base;

	if (mt == NULL || *mt == '\0') {
		resp_gerr(rs, 400, "required", "Required field 'resource."
		          "machineType' not specified");
		return -1;
	}
	path = fake_resource_path(mt);
	base = fake_basename(path);
	if (strchr(path, '/') != NULL && strstr(path, "/machineTypes/") == NULL) {
		c_invalid(rs, "resource.machineType", mt, "Must be a machine type "
		          "URL.");
		return -1;
	}
	if (!fake_name_ok(base, 63)) {
		c_invalid(rs, "resource.machineType", mt, "Unknown machine type.");
		return -1;
	}
	set_str_new(inst, "machineType",
	            curl_of(rq, "projects/%s/zones/%s/machineTypes/%s", p, z,
	                    base));
	return 0;
}

static int
instance_build(struct fake *f, struct freq *rq, struct fresp *rs,
               const char *p, const char *z, json_t *inst)
{
	const char *name = json_string_value(json_object_get(inst, "name"));
	json_t *nics, *nic, *disks, *disk, *sched, *tags;
	char ts[48], idb[24], ip[20], nat[20], field[64];
	size_t i;

	if (!name_check(rs, inst) || machine_type_ref(rq, rs, inst, p, z) ||
	    metadata_check(rs, json_object_get(inst, "metadata"),
	                   "resource.metadata"))
		return -1;
	nics = json_object_get(inst, "networkInterfaces");
	if (!json_is_array(nics) || json_array_size(nics) == 0) {
		nics = json_pack("[{}]");
		json_object_set_new(inst, "networkInterfaces", nics);
	}
	json_array_foreach(nics, i, nic) {
		json_t *acs = json_object_get(nic, "accessConfigs"), *ac;
		char region[64], nicname[16];
		size_t j;
		snprintf(field, sizeof(field), "resource.networkInterfaces[%zu]."
		         "network", i);
		if (network_ref(rq, rs, p, nic, field) != 0)
			return -1;
		fake_region_of(z, region, sizeof(region));
		set_str_new(nic, "subnetwork",
		            curl_of(rq, "projects/%s/regions/%s/subnetworks/default",
		                    p, region));
		pick_ips(f, p, z, name, i, ip, nat, sizeof(ip));
		if (!json_is_string(json_object_get(nic, "networkIP")))
			json_object_set_new(nic, "networkIP", json_string(ip));
		snprintf(nicname, sizeof(nicname), "nic%zu", i);
		json_object_set_new(nic, "name", json_string(nicname));
		json_object_set_new(nic, "kind",
		                    json_string("compute#networkInterface"));
		json_object_set_new(nic, "stackType", json_string("IPV4_ONLY"));
		json_object_set_new(nic, "fingerprint", json_string("AAAAAAAAAAA="));
		json_array_foreach(acs, j, ac) {
			if (!json_is_string(json_object_get(ac, "natIP")))
				json_object_set_new(ac, "natIP", json_string(nat));
			json_object_set_new(ac, "kind",
			                    json_string("compute#accessConfig"));
			if (json_object_get(ac, "networkTier") == NULL)
				json_object_set_new(ac, "networkTier",
				                    json_string("PREMIUM"));
			if (json_object_get(ac, "type") == NULL)
				json_object_set_new(ac, "type",
				                    json_string("ONE_TO_ONE_NAT"));
		}
	}
	disks = json_object_get(inst, "disks");
	json_array_foreach(disks, i, disk) {
		char dname[128];
		bool boot = json_is_true(json_object_get(disk, "boot"));
		const char *given = json_string_value(json_object_get(
		        json_object_get(disk, "initializeParams"), "diskName"));
		snprintf(dname, sizeof(dname), "%s", given ? given
		                                 : boot ? name : "");
		if (dname[0] == '\0')
			snprintf(dname, sizeof(dname), "%s-%zu", name, i);
		json_object_set_new(disk, "index", json_integer((json_int_t)i));
		json_object_set_new(disk, "kind", json_string("compute#attachedDisk"));
		if (json_object_get(disk, "deviceName") == NULL)
			json_object_set_new(disk, "deviceName",
			                    json_string(boot ? "persistent-disk-0"
			                                     : dname));
		if (json_object_get(disk, "source") == NULL)
			set_str_new(disk, "source",
			            curl_of(rq, "projects/%s/zones/%s/disks/%s", p, z,
			                    dname));
		if (json_object_get(disk, "interface") == NULL)
			json_object_set_new(disk, "interface", json_string("SCSI"));
		if (json_object_get(disk, "diskSizeGb") == NULL)
			json_object_set_new(disk, "diskSizeGb", json_string("10"));
	}
	metadata_finish(inst);
	tags = json_object_get(inst, "tags");
	if (!json_is_object(tags)) {
		tags = json_object();
		json_object_set_new(inst, "tags", tags);
	}
	set_str_new(tags, "fingerprint",
	            fingerprint_of(json_object_get(tags, "items")));
	sched = json_object_get(inst, "scheduling");
	if (!json_is_object(sched)) {
		sched = json_object();
		json_object_set_new(inst, "scheduling", sched);
	}
	if (json_object_get(sched, "onHostMaintenance") == NULL)
		json_object_set_new(sched, "onHostMaintenance",
		                    json_string("MIGRATE"));
	if (json_object_get(sched, "automaticRestart") == NULL)
		json_object_set_new(sched, "automaticRestart", json_true());
	if (json_object_get(sched, "preemptible") == NULL)
		json_object_set_new(sched, "preemptible", json_false());
	if (json_object_get(sched, "provisioningModel") == NULL)
		json_object_set_new(sched, "provisioningModel",
		                    json_string("STANDARD"));
	if (json_object_get(inst, "canIpForward") == NULL)
		json_object_set_new(inst, "canIpForward", json_false());
	if (json_object_get(inst, "deletionProtection") == NULL)
		json_object_set_new(inst, "deletionProtection", json_false());
	now_compute(ts, sizeof(ts));
	json_object_set_new(inst, "kind", json_string("compute#instance"));
	json_object_set_new(inst, "id", json_string(id_of("instance", p, z, name,
	                                                  idb, sizeof(idb))));
	json_object_set_new(inst, "creationTimestamp", json_string(ts));
	json_object_set_new(inst, "lastStartTimestamp", json_string(ts));
	json_object_set_new(inst, "status", json_string("PROVISIONING"));
	json_object_set_new(inst, "cpuPlatform", json_string("Intel Broadwell"));
	json_object_set_new(inst, "startRestricted", json_false());
	json_object_set_new(inst, "labelFingerprint",
	                    json_string("42WmSpB8rSM="));
	json_object_set_new(inst, "fingerprint", json_string("AAAAAAAAAAA="));
	set_str_new(inst, "zone", curl_of(rq, "projects/%s/zones/%s", p, z));
	set_str_new(inst, "selfLink",
	            curl_of(rq, "projects/%s/zones/%s/instances/%s", p, z, name));
	json_object_del(inst, "sourceInstanceTemplate");
	return 0;
}

static void
inst_insert(struct fake *f, struct freq *rq, struct fresp *rs)
{
	const char *p = rq->cap[0], *z = rq->cap[1];
	json_t *inst, *table = fake_db(f, "instances");
	const char *name;
	char key[512], path[512];

	if (!zone_check(rq, rs, z))
		return;
	inst = json_deep_copy(rq->json);
	if (instance_build(f, rq, rs, p, z, inst) != 0) {
		json_decref(inst);
		return;
	}
	name = json_string_value(json_object_get(inst, "name"));
	snprintf(key, sizeof(key), "%s/%s/%s", p, z, name);
	snprintf(path, sizeof(path), "projects/%s/zones/%s/instances/%s", p, z,
	         name);
	if (json_object_get(table, key) != NULL) {
		resp_gerr(rs, 409, "alreadyExists", "The resource '%s' already "
		          "exists", path);
		json_decref(inst);
		return;
	}
	json_object_set_new(table, key, inst);
	resp_json(rs, 200,
	          compute_op(f, rq, p, z, "insert", fake_jstr(inst, "selfLink"),
	                     fake_jstr(inst, "id"),
	                     json_pack("{s:[{s:s, s:s, s:{s:s}}], "
	                               "s:[{s:s, s:s, s:b}]}",
	                               "ok", "table", "instances", "key", key,
	                               "set", "status", "RUNNING", "error",
	                               "table", "instances", "key", key,
	                               "delete", 1)));
}

static json_t *
inst_lookup(struct fake *f, struct freq *rq, struct fresp *rs, char *key,
            size_t klen)
{
	json_t *inst;
	char path[512];

	snprintf(key, klen, "%s/%s/%s", rq->cap[0], rq->cap[1], rq->cap[2]);
	inst = json_object_get(fake_db(f, "instances"), key);
	if (inst == NULL) {
		snprintf(path, sizeof(path), "projects/%s/zones/%s/instances/%s",
		         rq->cap[0], rq->cap[1], rq->cap[2]);
		c_not_found(rs, path);
	}
	return inst;
}

static void
inst_get(struct fake *f, struct freq *rq, struct fresp *rs)
{
	char key[512];
	json_t *inst = inst_lookup(f, rq, rs, key, sizeof(key));

	if (inst != NULL)
		resp_json_cached(f, rs, inst);
}

static void
inst_delete(struct fake *f, struct freq *rq, struct fresp *rs)
{
	char key[512];
	json_t *inst = inst_lookup(f, rq, rs, key, sizeof(key));

	if (inst == NULL)
		return;
	if (json_is_true(json_object_get(inst, "deletionProtection"))) {
		resp_gerr(rs, 400, "resourceInUseByAnotherResource", "Invalid "
		          "resource usage: 'Resource cannot be deleted if it's "
		          "protected against deletion.'.");
		return;
	}
	json_object_set_new(inst, "status", json_string("STOPPING"));
	resp_json(rs, 200,
	          compute_op(f, rq, rq->cap[0], rq->cap[1], "delete",
	                     fake_jstr(inst, "selfLink"), fake_jstr(inst, "id"),
	                     json_pack("[{s:s, s:s, s:b}]", "table", "instances",
	                               "key", key, "delete", 1)));
}

static void
inst_list(struct fake *f, struct freq *rq, struct fresp *rs)
{
	char prefix[300], *self;

	if (!zone_check(rq, rs, rq->cap[1]))
		return;
	snprintf(prefix, sizeof(prefix), "%s/%s/", rq->cap[0], rq->cap[1]);
	self = curl_of(rq, "projects/%s/zones/%s/instances", rq->cap[0],
	               rq->cap[1]);
	list_answer(rq, rs, fake_db(f, "instances"), prefix,
	            "compute#instanceList", self ? self : "");
	free(self);
}

/* An aggregated list: {"items": {"zones/Z": {LISTKEY: [...]}}} for zonal
 * tables, {"global": ...} for global ones; scopes with nothing are left
 * out.  `strip` drops the fake's own fields (the groups' members). */
static void
aggregated(struct fake *f, struct freq *rq, struct fresp *rs,
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
	set_str_new(o, "selfLink", curl_of(rq, "projects/%s/aggregated/%s",
	                                   rq->cap[0], listkey));
	resp_json(rs, 200, o);
}

static void
inst_aggregated(struct fake *f, struct freq *rq, struct fresp *rs)
{
	aggregated(f, rq, rs, "instances", "instances",
	           "compute#instanceAggregatedList", true, false);
}

static void
tmpl_aggregated(struct fake *f, struct freq *rq, struct fresp *rs)
{
	aggregated(f, rq, rs, "instance_templates", "instanceTemplates",
	           "compute#instanceTemplateAggregatedList", false, false);
}

static void
mig_aggregated(struct fake *f, struct freq *rq, struct fresp *rs)
{
	aggregated(f, rq, rs, "instance_group_managers", "instanceGroupManagers",
	           "compute#instanceGroupManagerAggregatedList", true, true);
}

static void
inst_set_metadata(struct fake *f, struct freq *rq, struct fresp *rs)
{
	char key[512];
	json_t *inst = inst_lookup(f, rq, rs, key, sizeof(key)), *md;
	const char *want, *have;

	if (inst == NULL)
		return;
	md = json_object_get(inst, "metadata");
	want = fake_jstr(md, "fingerprint");
	have = fake_jstr(rq->json, "fingerprint");
	if (strcmp(want, have) != 0) {
		resp_gerr(rs, 412, "conditionNotMet", "Supplied fingerprint does not "
		          "match current metadata fingerprint.");
		return;
	}
	if (metadata_check(rs, rq->json, "metadata") != 0)
		return;
	md = json_object_get(rq->json, "items");
	md = json_pack("{s:o}", "items", json_is_array(md) ? json_deep_copy(md)
	                                                   : json_array());
	json_object_set_new(inst, "metadata", md);
	metadata_finish(inst);
	resp_json(rs, 200,
	          compute_op(f, rq, rq->cap[0], rq->cap[1], "setMetadata",
	                     fake_jstr(inst, "selfLink"), fake_jstr(inst, "id"),
	                     json_array()));
}

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

static void
fw_insert(struct fake *f, struct freq *rq, struct fresp *rs)
{
	const char *p = rq->cap[0];
	json_t *fw = json_deep_copy(rq->json), *table = fake_db(f, "firewalls");
	json_t *ranges, *r;
	const char *name;
	char key[512], path[512], ts[48], idb[24], field[64];
	size_t i;

	if (!name_check(rs, fw) ||
	    network_ref(rq, rs, p, fw, "resource.network") != 0)
		goto fail;
	name = json_string_value(json_object_get(fw, "name"));
	if (json_array_size(json_object_get(fw, "allowed")) == 0 &&
	    json_array_size(json_object_get(fw, "denied")) == 0) {
		resp_gerr(rs, 400, "invalid", "Invalid value for field "
		          "'resource': ''. A firewall rule needs allowed or denied "
		          "entries.");
		goto fail;
	}
	ranges = json_object_get(fw, "sourceRanges");
	json_array_foreach(ranges, i, r) {
		if (!cidr_ok(json_string_value(r))) {
			snprintf(field, sizeof(field), "resource.sourceRanges[%zu]", i);
			c_invalid(rs, field, json_string_value(r), "Must be a CIDR "
			          "address range.");
			goto fail;
		}
	}
	snprintf(key, sizeof(key), "%s/%s", p, name);
	snprintf(path, sizeof(path), "projects/%s/global/firewalls/%s", p, name);
	if (json_object_get(table, key) != NULL) {
		resp_gerr(rs, 409, "alreadyExists", "The resource '%s' already "
		          "exists", path);
		goto fail;
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
	now_compute(ts, sizeof(ts));
	json_object_set_new(fw, "kind", json_string("compute#firewall"));
	json_object_set_new(fw, "id", json_string(id_of("firewall", p, NULL,
	                                                name, idb, sizeof(idb))));
	json_object_set_new(fw, "creationTimestamp", json_string(ts));
	json_object_set_new(fw, "logConfig", json_pack("{s:b}", "enable", 0));
	set_str_new(fw, "selfLink", curl_of(rq, "%s", path));
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

static json_t *
global_lookup(struct fake *f, struct freq *rq, struct fresp *rs,
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

static void
fw_get(struct fake *f, struct freq *rq, struct fresp *rs)
{
	char key[512];
	json_t *fw = global_lookup(f, rq, rs, "firewalls", "firewalls", key,
	                           sizeof(key));

	if (fw != NULL)
		resp_json_cached(f, rs, fw);
}

static void
fw_delete(struct fake *f, struct freq *rq, struct fresp *rs)
{
	char key[512];
	json_t *fw = global_lookup(f, rq, rs, "firewalls", "firewalls", key,
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
	char prefix[300], *self = curl_of(rq, "projects/%s/global/firewalls",
	                                  rq->cap[0]);

	snprintf(prefix, sizeof(prefix), "%s/", rq->cap[0]);
	list_answer(rq, rs, fake_db(f, "firewalls"), prefix,
	            "compute#firewallList", self ? self : "");
	free(self);
}

/* ---- instance templates ---- */

static void
tmpl_insert(struct fake *f, struct freq *rq, struct fresp *rs)
{
	const char *p = rq->cap[0];
	json_t *t = json_deep_copy(rq->json), *props, *nic;
	json_t *table = fake_db(f, "instance_templates");
	const char *name, *mt;
	char key[512], path[512], ts[48], idb[24], field[80];
	size_t i;

	if (!name_check(rs, t))
		goto fail;
	name = json_string_value(json_object_get(t, "name"));
	props = json_object_get(t, "properties");
	mt = json_string_value(json_object_get(props, "machineType"));
	if (!json_is_object(props) || mt == NULL || *mt == '\0') {
		resp_gerr(rs, 400, "required", "Required field 'resource."
		          "properties.machineType' not specified");
		goto fail;
	}
	if (!fake_name_ok(fake_basename(mt), 63)) {
		c_invalid(rs, "resource.properties.machineType", mt,
		          "Unknown machine type.");
		goto fail;
	}
	json_object_set_new(props, "machineType",
	                    json_string(fake_basename(mt)));
	if (metadata_check(rs, json_object_get(props, "metadata"),
	                   "resource.properties.metadata"))
		goto fail;
	json_array_foreach(json_object_get(props, "networkInterfaces"), i, nic) {
		snprintf(field, sizeof(field), "resource.properties."
		         "networkInterfaces[%zu].network", i);
		if (network_ref(rq, rs, p, nic, field) != 0)
			goto fail;
	}
	snprintf(key, sizeof(key), "%s/%s", p, name);
	snprintf(path, sizeof(path), "projects/%s/global/instanceTemplates/%s",
	         p, name);
	if (json_object_get(table, key) != NULL) {
		resp_gerr(rs, 409, "alreadyExists", "The resource '%s' already "
		          "exists", path);
		goto fail;
	}
	metadata_finish(props);
	now_compute(ts, sizeof(ts));
	json_object_set_new(t, "kind", json_string("compute#instanceTemplate"));
	json_object_set_new(t, "id", json_string(id_of("template", p, NULL,
	                                               name, idb, sizeof(idb))));
	json_object_set_new(t, "creationTimestamp", json_string(ts));
	set_str_new(t, "selfLink", curl_of(rq, "%s", path));
	json_object_set_new(table, key, t);
	resp_json(rs, 200,
	          compute_op(f, rq, p, NULL, "insert", fake_jstr(t, "selfLink"),
	                     fake_jstr(t, "id"),
	                     json_pack("{s:[], s:[{s:s, s:s, s:b}]}", "ok",
	                               "error", "table", "instance_templates",
	                               "key", key, "delete", 1)));
	return;
fail:
	json_decref(t);
}

static void
tmpl_get(struct fake *f, struct freq *rq, struct fresp *rs)
{
	char key[512];
	json_t *t = global_lookup(f, rq, rs, "instance_templates",
	                          "instanceTemplates", key, sizeof(key));

	if (t != NULL)
		resp_json_cached(f, rs, t);
}

static void
tmpl_delete(struct fake *f, struct freq *rq, struct fresp *rs)
{
	char key[512];
	json_t *t = global_lookup(f, rq, rs, "instance_templates",
	                          "instanceTemplates", key, sizeof(key)), *m;
	const char *mk;

	if (t == NULL)
		return;
	json_object_foreach(fake_db(f, "instance_group_managers"), mk, m) {
		if (strcmp(fake_resource_path(fake_jstr(m, "instanceTemplate")),
		           fake_resource_path(fake_jstr(t, "selfLink"))) == 0) {
			resp_gerr(rs, 400, "resourceInUseByAnotherResource", "The "
			          "instance_template resource '%s' is already being "
			          "used by '%s'",
			          fake_resource_path(fake_jstr(t, "selfLink")),
			          fake_resource_path(fake_jstr(m, "selfLink")));
			return;
		}
	}
	resp_json(rs, 200,
	          compute_op(f, rq, rq->cap[0], NULL, "delete",
	                     fake_jstr(t, "selfLink"), fake_jstr(t, "id"),
	                     json_pack("[{s:s, s:s, s:b}]", "table",
	                               "instance_templates", "key", key,
	                               "delete", 1)));
}

static void
tmpl_list(struct fake *f, struct freq *rq, struct fresp *rs)
{
	char prefix[300], *self = curl_of(rq, "projects/%s/global/"
	                                  "instanceTemplates", rq->cap[0]);

	snprintf(prefix, sizeof(prefix), "%s/", rq->cap[0]);
	list_answer(rq, rs, fake_db(f, "instance_templates"), prefix,
	            "compute#instanceTemplateList", self ? self : "");
	free(self);
}

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
	if (instance_build(f, rq, rs, p, z, inst) != 0) {
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

static void
mig_refresh(json_t *mig)
{
	json_t *members = json_object_get(mig, "_members");
	json_int_t n = (json_int_t)json_array_size(members);

	json_object_set_new(mig, "targetSize", json_integer(n));
	json_object_set_new(mig, "currentActions",
	                    json_pack("{s:I, s:i, s:i, s:i, s:i, s:i, s:i, s:i, "
	                              "s:i, s:i, s:i}",
	                              "none", n, "creating", 0,
	                              "creatingWithoutRetries", 0, "verifying", 0,
	                              "recreating", 0, "deleting", 0,
	                              "abandoning", 0, "restarting", 0,
	                              "refreshing", 0, "suspending", 0,
	                              "resuming", 0));
}

/* The group as clients see it: without the fake's own fields. */
static json_t *
mig_public(json_t *mig)
{
	json_t *o = json_deep_copy(mig);

	json_object_del(o, "_members");
	json_object_del(o, "_next");
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
	mig_refresh(mig);
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
	if (!zone_check(rq, rs, z) || !name_check(rs, mig))
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
	if (!json_is_string(json_object_get(mig, "baseInstanceName")))
		json_object_set_new(mig, "baseInstanceName", json_string(name));
	now_compute(ts, sizeof(ts));
	json_object_set_new(mig, "kind",
	                    json_string("compute#instanceGroupManager"));
	json_object_set_new(mig, "id", json_string(id_of("mig", p, z, name, idb,
	                                                 sizeof(idb))));
	json_object_set_new(mig, "creationTimestamp", json_string(ts));
	set_str_new(mig, "instanceTemplate", curl_of(rq, "%s",
	                                             fake_resource_path(
	                                                     fake_jstr(tmpl,
	                                                               "selfLink"))));
	json_object_set_new(mig, "versions",
	                    json_pack("[{s:s}]", "instanceTemplate",
	                              fake_jstr(mig, "instanceTemplate")));
	set_str_new(mig, "zone", curl_of(rq, "projects/%s/zones/%s", p, z));
	set_str_new(mig, "instanceGroup",
	            curl_of(rq, "projects/%s/zones/%s/instanceGroups/%s", p, z,
	                    name));
	set_str_new(mig, "selfLink", curl_of(rq, "%s", path));
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

	if (mig != NULL)
		resp_json(rs, 200, mig_public(mig));
}

static void
mig_list(struct fake *f, struct freq *rq, struct fresp *rs)
{
	char prefix[300];
	json_t *pub = json_object(), *m;
	const char *k;
	char *self = curl_of(rq, "projects/%s/zones/%s/instanceGroupManagers",
	                     rq->cap[0], rq->cap[1]);

	json_object_foreach(fake_db(f, "instance_group_managers"), k, m)
		json_object_set_new(pub, k, mig_public(m));
	snprintf(prefix, sizeof(prefix), "%s/%s/", rq->cap[0], rq->cap[1]);
	list_answer(rq, rs, pub, prefix, "compute#instanceGroupManagerList",
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
	set_str_new(g, "network", curl_of(rq, "projects/%s/global/networks/"
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
	char *self = curl_of(rq, "projects/%s/zones/%s/instanceGroups",
	                     rq->cap[0], rq->cap[1]);

	snprintf(prefix, sizeof(prefix), "%s/%s/", rq->cap[0], rq->cap[1]);
	json_object_foreach(fake_db(f, "instance_group_managers"), k, m)
		if (!strncmp(k, prefix, strlen(prefix)))
			json_object_set_new(groups, k, group_of(rq, m));
	list_answer(rq, rs, groups, prefix, "compute#instanceGroupList",
	            self ? self : "");
	json_decref(groups);
	free(self);
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
	              id_of("image", rq->cap[0], name, NULL, idb, sizeof(idb)),
	              "name", name, "family", rq->cap[1], "status", "READY",
	              "sourceType", "RAW", "diskSizeGb", "10", "architecture",
	              "X86_64", "creationTimestamp",
	              "2025-01-01T00:00:00.000-00:00");
	set_str_new(o, "selfLink", curl_of(rq, "projects/%s/global/images/%s",
	                                   rq->cap[0], name));
	resp_json(rs, 200, o);
}

static void
autoscaler_list(struct fake *f, struct freq *rq, struct fresp *rs)
{
	char *self = curl_of(rq, "projects/%s/zones/%s/autoscalers", rq->cap[0],
	                     rq->cap[1]);
	json_t *none = json_object();

	(void)f;
	list_answer(rq, rs, none, "", "compute#autoscalerList",
	            self ? self : "");
	json_decref(none);
	free(self);
}

/* For the metadata server: an instance by name in any project/zone. */
json_t *
compute_find_instance(struct fake *f, const char *name, char *key,
                      size_t keylen)
{
	json_t *inst;
	const char *k;

	json_object_foreach(fake_db(f, "instances"), k, inst) {
		const char *slash = strrchr(k, '/');
		if (slash != NULL && strcmp(slash + 1, name) == 0) {
			snprintf(key, keylen, "%s", k);
			return inst;
		}
	}
	return NULL;
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
	{"GET", Z "/instanceGroups", group_list, R_AUTH | R_PURE, NULL},
	{"GET", Z "/instanceGroups/{}", group_get, R_AUTH | R_PURE, NULL},
	{"GET", Z "/instances", inst_list, R_AUTH | R_PURE, NULL},
	{"POST", Z "/instances", inst_insert, R_AUTH, "compute.instances.insert"},
	{"GET", Z "/instances/{}", inst_get, R_AUTH | R_PURE, NULL},
	{"DELETE", Z "/instances/{}", inst_delete, R_AUTH, NULL},
	{"POST", Z "/instances/{}/setMetadata", inst_set_metadata, R_AUTH,
	 "compute.instances.setMetadata"},
	{"GET", P "/global/firewalls", fw_list, R_AUTH | R_PURE, NULL},
	{"POST", P "/global/firewalls", fw_insert, R_AUTH,
	 "compute.firewalls.insert"},
	{"GET", P "/global/firewalls/{}", fw_get, R_AUTH | R_PURE, NULL},
	{"DELETE", P "/global/firewalls/{}", fw_delete, R_AUTH, NULL},
	{"GET", P "/global/instanceTemplates", tmpl_list, R_AUTH | R_PURE, NULL},
	{"POST", P "/global/instanceTemplates", tmpl_insert, R_AUTH,
	 "compute.instanceTemplates.insert"},
	{"GET", P "/global/instanceTemplates/{}", tmpl_get, R_AUTH | R_PURE, NULL},
	{"DELETE", P "/global/instanceTemplates/{}", tmpl_delete, R_AUTH, NULL},
	{"GET", Z "/instanceGroupManagers", mig_list, R_AUTH | R_PURE, NULL},
	{"POST", Z "/instanceGroupManagers", mig_insert, R_AUTH,
	 "compute.instanceGroupManagers.insert"},
	{"GET", Z "/instanceGroupManagers/{}", mig_get, R_AUTH | R_PURE, NULL},
	{"DELETE", Z "/instanceGroupManagers/{}", mig_delete, R_AUTH, NULL},
	{"POST", Z "/instanceGroupManagers/{}/resize", mig_resize, R_AUTH, NULL},
	{"POST", Z "/instanceGroupManagers/{}/listManagedInstances",
	 mig_list_instances, R_AUTH | R_READONLY, NULL},
	{"GET", Z "/operations/{}", zop_get, R_AUTH, NULL},
	{"POST", Z "/operations/{}/wait", zop_get, R_AUTH | R_READONLY, NULL},
	{"GET", P "/global/operations/{}", gop_get, R_AUTH, NULL},
	{"POST", P "/global/operations/{}/wait", gop_get, R_AUTH | R_READONLY,
	 NULL},
	{NULL, NULL, NULL, 0, NULL},
};
