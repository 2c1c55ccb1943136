/* harness/fake/compute_inst.c - Compute Engine v1: instances (insert, get, list, delete, setMetadata) and the metadata rules GCE enforces. */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base64.h"
#include "core/sha256.h"
#include "harness/fake/compute_int.h"

#define MD_VALUE_MAX 262144
#define MD_TOTAL_MAX (512 * 1024)

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
int
c_metadata_check(struct fresp *rs, json_t *md, const char *field)
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

void
c_metadata_finish(json_t *parent)
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
	c_set_str(md, "fingerprint", fp);
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
	c_set_str(inst, "machineType",
	            c_url(rq, "projects/%s/zones/%s/machineTypes/%s", p, z,
	                    base));
	return 0;
}

int
c_instance_build(struct fake *f, struct freq *rq, struct fresp *rs,
               const char *p, const char *z, json_t *inst)
{
	const char *name = json_string_value(json_object_get(inst, "name"));
	json_t *nics, *nic, *disks, *disk, *sched, *tags;
	char ts[48], idb[24], ip[20], nat[20], field[64];
	size_t i;

	if (!c_name_check(rs, inst) || machine_type_ref(rq, rs, inst, p, z) ||
	    c_metadata_check(rs, json_object_get(inst, "metadata"),
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
		if (c_network_ref(rq, rs, p, nic, field) != 0)
			return -1;
		fake_region_of(z, region, sizeof(region));
		c_set_str(nic, "subnetwork",
		            c_url(rq, "projects/%s/regions/%s/subnetworks/default",
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
			c_set_str(disk, "source",
			            c_url(rq, "projects/%s/zones/%s/disks/%s", p, z,
			                    dname));
		if (json_object_get(disk, "interface") == NULL)
			json_object_set_new(disk, "interface", json_string("SCSI"));
		if (json_object_get(disk, "diskSizeGb") == NULL)
			json_object_set_new(disk, "diskSizeGb", json_string("10"));
	}
	c_metadata_finish(inst);
	tags = json_object_get(inst, "tags");
	if (!json_is_object(tags)) {
		tags = json_object();
		json_object_set_new(inst, "tags", tags);
	}
	c_set_str(tags, "fingerprint",
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
	c_now(ts, sizeof(ts));
	json_object_set_new(inst, "kind", json_string("compute#instance"));
	json_object_set_new(inst, "id", json_string(c_id_of("instance", p, z, name,
	                                                  idb, sizeof(idb))));
	json_object_set_new(inst, "creationTimestamp", json_string(ts));
	json_object_set_new(inst, "lastStartTimestamp", json_string(ts));
	json_object_set_new(inst, "status", json_string("PROVISIONING"));
	json_object_set_new(inst, "cpuPlatform", json_string("Intel Broadwell"));
	json_object_set_new(inst, "startRestricted", json_false());
	json_object_set_new(inst, "labelFingerprint",
	                    json_string("42WmSpB8rSM="));
	json_object_set_new(inst, "fingerprint", json_string("AAAAAAAAAAA="));
	c_set_str(inst, "zone", c_url(rq, "projects/%s/zones/%s", p, z));
	c_set_str(inst, "selfLink",
	            c_url(rq, "projects/%s/zones/%s/instances/%s", p, z, name));
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

	if (!c_zone_check(rq, rs, z))
		return;
	inst = json_deep_copy(rq->json);
	if (c_instance_build(f, rq, rs, p, z, inst) != 0) {
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

	if (!c_zone_check(rq, rs, rq->cap[1]))
		return;
	snprintf(prefix, sizeof(prefix), "%s/%s/", rq->cap[0], rq->cap[1]);
	self = c_url(rq, "projects/%s/zones/%s/instances", rq->cap[0],
	               rq->cap[1]);
	c_list_answer(rq, rs, fake_db(f, "instances"), prefix,
	            "compute#instanceList", self ? self : "");
	free(self);
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
	if (c_metadata_check(rs, rq->json, "metadata") != 0)
		return;
	md = json_object_get(rq->json, "items");
	md = json_pack("{s:o}", "items", json_is_array(md) ? json_deep_copy(md)
	                                                   : json_array());
	json_object_set_new(inst, "metadata", md);
	c_metadata_finish(inst);
	resp_json(rs, 200,
	          compute_op(f, rq, rq->cap[0], rq->cap[1], "setMetadata",
	                     fake_jstr(inst, "selfLink"), fake_jstr(inst, "id"),
	                     json_array()));
}

/* For the metadata server: an instance by name in any project/zone.
 * A VM polls its metadata, so this is a hash lookup through an index of
 * name -> key; the index is only a hint (instances come and go on many
 * paths): a hit is checked against the table, and a miss or a stale hit
 * rebuilds it from the table. */
static json_t *
index_hit(json_t *table, json_t *index, const char *name, char *key,
          size_t keylen)
{
	const char *k = json_string_value(json_object_get(index, name));
	json_t *inst = k ? json_object_get(table, k) : NULL;

	if (inst == NULL || strcmp(fake_basename(k), name) != 0)
		return NULL;
	snprintf(key, keylen, "%s", k);
	return inst;
}

json_t *
compute_find_instance(struct fake *f, const char *name, char *key,
                      size_t keylen)
{
	json_t *table = fake_db(f, "instances"), *inst, *index;
	const char *k;

	inst = index_hit(table, fst(f)->inst_index, name, key, keylen);
	if (inst != NULL)
		return inst;
	index = json_object();
	json_object_foreach(table, k, inst) {
		const char *base = fake_basename(k);
		if (json_object_get(index, base) == NULL)
			json_object_set_new(index, base, json_string(k));
	}
	json_decref(fst(f)->inst_index);
	fst(f)->inst_index = index;
	return index_hit(table, index, name, key, keylen);
}

#define P "/compute/v1/projects/{}"
#define Z P "/zones/{}"

const struct route compute_inst_routes[] = {
	{"GET", Z "/instances", inst_list, R_AUTH | R_PURE, NULL},
	{"POST", Z "/instances", inst_insert, R_AUTH | R_REQID, "compute.instances.insert"},
	{"GET", Z "/instances/{}", inst_get, R_AUTH | R_PURE, NULL},
	{"DELETE", Z "/instances/{}", inst_delete, R_AUTH | R_REQID, NULL},
	{"POST", Z "/instances/{}/setMetadata", inst_set_metadata, R_AUTH | R_REQID,
	 "compute.instances.setMetadata"},
	{NULL, NULL, NULL, 0, NULL},
};
