/* harness/fake/gke.c - GKE v1 clusters and operations, and serviceusage.
 *
 * Both path forms are served: projects/P/locations/L/... (what gcloud
 * sends) and projects/P/zones/Z/... (what it prints).  A created cluster
 * says PROVISIONING until its operation is DONE, then RUNNING; its
 * Kubernetes API listener opens at create (endpoint 127.0.0.1:PORT) and
 * closes when the delete operation finishes.  Clusters are stored under
 * "project/location/name".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"
#include "harness/fake/svc.h"

#define GKE_VERSION_MINOR 32
#define GKE_VERSION "1.32.4-gke.1106006"

/* ---- serviceusage ---- */

static void
serviceusage_get(struct fake *f, struct freq *rq, struct fresp *rs)
{
	char num[24];
	const char *state = rq->service_state ? rq->service_state : "ENABLED";
	char name[256], parent[64];

	(void)f;
	fake_project_number(rq->cap[0], num, sizeof(num));
	snprintf(name, sizeof(name), "projects/%s/services/%s", num, rq->cap[1]);
	snprintf(parent, sizeof(parent), "projects/%s", num);
	resp_json(rs, 200, json_pack("{s:s, s:{s:s, s:s}, s:s, s:s}", "name",
	                             name, "config", "name", rq->cap[1], "title",
	                             rq->cap[1], "state", state, "parent",
	                             parent));
}

/* ---- helpers ---- */

static bool
location_ok(const char *loc)
{
	char region[64];
	size_t n = strlen(loc);

	if (fake_zone_ok(loc))
		return true;
	/* a region: what a zone is without its "-x" */
	if (n == 0 || n > 30)
		return false;
	snprintf(region, sizeof(region), "%s-a", loc);
	return fake_zone_ok(region);
}

static void
cluster_key(char *buf, size_t len, const char *p, const char *l,
            const char *c)
{
	/* "p/l/c", without printf: every GET of a cluster comes here */
	const char *part[3] = {p, l, c};
	size_t o = 0;

	for (size_t i = 0; i < 3 && len > 0; i++) {
		size_t n = strlen(part[i]);
		if (i > 0 && o + 1 < len)
			buf[o++] = '/';
		if (n > len - 1 - o)
			n = len - 1 - o;
		memcpy(buf + o, part[i], n);
		o += n;
	}
	if (len > 0)
		buf[o] = '\0';
}

static void
not_found(struct fresp *rs, const char *p, const char *l, const char *c)
{
	resp_gerr(rs, 404, "notFound", "Not found: projects/%s/locations/%s/"
	          "clusters/%s.", p, l, c);
}

/* Pod ranges are /14s in 10.4.0.0-10.95.255.255 and services /20s in
 * 10.96.0.0/11, both picked by the cluster's name and moved past a
 * clash with another cluster of the project (deterministic, since the
 * clash itself is). */
static void
pick_cidrs(struct fake *f, const char *p, const char *l, const char *c,
           char *pods, size_t plen, char *svcs, size_t slen)
{
	uint64_t h = fake_hash64("cluster-cidr", p, l, c);
	json_t *clusters = fake_db(f, "clusters"), *v;
	unsigned k = (unsigned)(h % 23);
	const char *key;

	for (unsigned tries = 0; tries < 23; tries++, k = (k + 1) % 23) {
		bool clash = false;
		snprintf(pods, plen, "10.%u.0.0/14", 4 + 4 * k);
		json_object_foreach(clusters, key, v) {
			const char *o = json_string_value(json_object_get(
			        v, "clusterIpv4Cidr"));
			if (strncmp(key, p, strlen(p)) == 0 && key[strlen(p)] == '/' &&
			    o && strcmp(o, pods) == 0)
				clash = true;
		}
		if (!clash)
			break;
	}
	snprintf(svcs, slen, "10.%u.%u.0/20", 96 + k, (unsigned)(h >> 8) % 16 *
	         16);
}

/* "1.31" or "1.31.2-gke.100" -> a full version of that minor; anything
 * else (absent, "latest", "-") -> the default. */
static void
pick_version(json_t *cluster, char *buf, size_t len)
{
	const char *v = json_string_value(json_object_get(cluster,
	                                                  "initialClusterVersion"));
	int minor;

	if (v != NULL && sscanf(v, "1.%d", &minor) == 1 && minor >= 20 &&
	    minor <= 40)
		snprintf(buf, len, "1.%d.4-gke.1000", minor);
	else
		snprintf(buf, len, "%s", GKE_VERSION);
}

static json_t *
default_pool_config(json_t *given)
{
	json_t *c = given ? json_deep_copy(given) : json_object();

	if (!json_is_string(json_object_get(c, "machineType")))
		json_object_set_new(c, "machineType", json_string("e2-medium"));
	if (json_object_get(c, "diskSizeGb") == NULL)
		json_object_set_new(c, "diskSizeGb", json_integer(100));
	if (json_object_get(c, "diskType") == NULL)
		json_object_set_new(c, "diskType", json_string("pd-balanced"));
	if (json_object_get(c, "imageType") == NULL)
		json_object_set_new(c, "imageType", json_string("COS_CONTAINERD"));
	if (json_object_get(c, "serviceAccount") == NULL)
		json_object_set_new(c, "serviceAccount", json_string("default"));
	if (json_object_get(c, "metadata") == NULL)
		json_object_set_new(c, "metadata",
		                    json_pack("{s:s}", "disable-legacy-endpoints",
		                              "true"));
	return c;
}

/* Validate the node pools (or the legacy top-level form) and fill what
 * the real service fills.  Returns the summed node count, -1 on error. */
static long long
build_pools(struct freq *rq, struct fresp *rs, json_t *cl, const char *p,
            const char *l, const char *name, const char *version,
            size_t n_locations)
{
	json_t *pools = json_object_get(cl, "nodePools"), *pool;
	json_t *legacy_n = json_object_get(cl, "initialNodeCount");
	long long total = 0;
	size_t i;

	if (json_array_size(pools) > 0 && legacy_n != NULL) {
		resp_gerr(rs, 400, "badRequest", "Cannot specify both "
		          "cluster.initial_node_count and cluster.node_pools.");
		return -1;
	}
	if (json_array_size(pools) == 0) {
		json_int_t n = legacy_n ? json_integer_value(legacy_n) : 3;
		pools = json_pack("[{s:s, s:I, s:O*}]", "name", "default-pool",
		                  "initialNodeCount", n, "config",
		                  json_object_get(cl, "nodeConfig"));
		json_object_set_new(cl, "nodePools", pools);
		json_object_del(cl, "initialNodeCount");
	}
	json_array_foreach(pools, i, pool) {
		const char *pname = json_string_value(json_object_get(pool, "name"));
		json_t *cnt = json_object_get(pool, "initialNodeCount");
		json_int_t n = cnt ? json_integer_value(cnt) : 3;
		char link[512], grp[512];

		if (json_is_string(cnt))
			n = strtoll(json_string_value(cnt), NULL, 10);
		if (!fake_name_ok(pname, 40)) {
			resp_gerr(rs, 400, "badRequest", "Invalid value for field "
			          "'cluster.node_pools[%zu].name': '%s'. Must be a "
			          "match of regex '(?:[a-z](?:[-a-z0-9]{0,38}"
			          "[a-z0-9])?)'.", i, pname ? pname : "");
			return -1;
		}
		if (n < 0 || n > 1000) {
			resp_gerr(rs, 400, "badRequest", "Invalid value for field "
			          "'cluster.node_pools[%zu].initial_node_count': %lld. "
			          "Must be between 0 and 1000.", i, (long long)n);
			return -1;
		}
		total += n * (long long)n_locations;
		json_object_set_new(pool, "initialNodeCount", json_integer(n));
		json_object_set_new(pool, "config", default_pool_config(
		                            json_object_get(pool, "config")));
		snprintf(link, sizeof(link), "%s/v1/projects/%s/zones/%s/clusters/"
		         "%s/nodePools/%s", rq->base, p, l, name, pname);
		snprintf(grp, sizeof(grp), "%s/compute/v1/projects/%s/zones/%s/"
		         "instanceGroupManagers/gke-%.14s-%.8s-%08llx-grp",
		         rq->base, p, l, name, pname,
		         (unsigned long long)(fake_hash64("pool", p, name, pname) &
		                              0xffffffffu));
		json_object_set_new(pool, "selfLink", json_string(link));
		json_object_set_new(pool, "version", json_string(version));
		json_object_set_new(pool, "status", json_string("PROVISIONING"));
		json_object_set_new(pool, "instanceGroupUrls",
		                    json_pack("[s]", grp));
		json_object_set_new(pool, "podIpv4CidrSize", json_integer(24));
		if (json_object_get(pool, "management") == NULL)
			json_object_set_new(pool, "management",
			                    json_pack("{s:b, s:b}", "autoUpgrade", 1,
			                              "autoRepair", 1));
		if (json_object_get(pool, "upgradeSettings") == NULL)
			json_object_set_new(pool, "upgradeSettings",
			                    json_pack("{s:i, s:s}", "maxSurge", 1,
			                              "strategy", "SURGE"));
	}
	return total;
}

static json_t *
gke_operation(struct fake *f, struct freq *rq, const char *p, const char *l,
              const char *type, const char *target, json_t *effects)
{
	json_t *seq = fake_db(f, "seq"), *cnt, *pub;
	char skey[512], opname[64], num[24], link[512], tlink[512], okey[600];
	char ts[48];
	uint64_t n;

	snprintf(skey, sizeof(skey), "gke/%s/%s/%s/%s", p, l, target, type);
	cnt = json_object_get(seq, skey);
	n = cnt ? (uint64_t)json_integer_value(cnt) + 1 : 1;
	json_object_set_new(seq, skey, json_integer((json_int_t)n));
	snprintf(opname, sizeof(opname), "operation-%llu-%08llx",
	         (unsigned long long)(1700000000000ULL +
	                              fake_hash64("gke-op", skey, NULL, NULL) %
	                                      100000000000ULL),
	         (unsigned long long)(fake_hash64("gke-op-n", skey,
	                                          fake_u64(n, num, sizeof(num)),
	                                          NULL) &
	                              0xffffffffu));
	snprintf(link, sizeof(link), "%s/v1/projects/%s/zones/%s/operations/%s",
	         rq->base, p, l, opname);
	snprintf(tlink, sizeof(tlink), "%s/v1/projects/%s/zones/%s/clusters/%s",
	         rq->base, p, l, target);
	fake_now_rfc3339(ts, sizeof(ts), false);
	pub = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "name",
	                opname, "zone", l, "operationType", type, "status",
	                "RUNNING", "selfLink", link, "targetLink", tlink,
	                "location", l, "startTime", ts);
	snprintf(okey, sizeof(okey), "gke/%s/%s/%s", p, l, opname);
	return op_new(f, rq, okey, pub, effects);
}

/* ---- clusters ---- */

static void
gke_create(struct fake *f, struct freq *rq, struct fresp *rs)
{
	const char *p = rq->cap[0], *l = rq->cap[1];
	json_t *cl = json_object_get(rq->json, "cluster"), *locs;
	const char *name = json_string_value(json_object_get(cl, "name"));
	const char *parent = json_string_value(json_object_get(rq->json,
	                                                       "parent"));
	char key[512], want_parent[512], pods[32], svcs[32], version[40];
	char link[512], ts[48], id[24], region[64], zbuf[80];
	struct kcluster *kc;
	struct mv_err err;
	long long nodes;
	size_t n_locations = 1;
	char *ca;

	mv_err_clear(&err);
	if (!location_ok(l)) {
		resp_gerr(rs, 400, "badRequest", "Location \"%s\" is not a valid "
		          "zone or region.", l);
		return;
	}
	snprintf(want_parent, sizeof(want_parent), "projects/%s/locations/%s",
	         p, l);
	if (parent != NULL && *parent && strcmp(parent, want_parent) != 0) {
		resp_gerr(rs, 400, "badRequest", "Invalid value for field "
		          "'parent': '%s'. It must match the request path (%s).",
		          parent, want_parent);
		return;
	}
	if (!json_is_object(cl)) {
		resp_gerr(rs, 400, "badRequest", "Invalid value for field "
		          "'cluster': must be specified.");
		return;
	}
	if (!fake_name_ok(name, 40)) {
		resp_gerr(rs, 400, "badRequest", "Invalid value for field "
		          "'cluster.name': '%s'. Must be a match of regex "
		          "'(?:[a-z](?:[-a-z0-9]{0,38}[a-z0-9])?)' (only "
		          "alphanumerics and '-' allowed, must start with a letter "
		          "and end with an alphanumeric, and must be no longer than "
		          "40 characters).", name ? name : "");
		return;
	}
	cluster_key(key, sizeof(key), p, l, name);
	if (json_object_get(fake_db(f, "clusters"), key) != NULL) {
		resp_gerr(rs, 409, "alreadyExists", "Already exists: projects/%s/"
		          "locations/%s/clusters/%s.", p, l, name);
		return;
	}
	cl = json_deep_copy(cl);
	if (fake_zone_ok(l)) {
		locs = json_pack("[s]", l);
	} else {
		locs = json_array();
		for (const char *z = "abc"; *z; z++) {
			snprintf(zbuf, sizeof(zbuf), "%s-%c", l, *z);
			json_array_append_new(locs, json_string(zbuf));
		}
		n_locations = 3;
	}
	pick_version(cl, version, sizeof(version));
	nodes = build_pools(rq, rs, cl, p, l, name, version, n_locations);
	if (nodes < 0) {
		json_decref(cl);
		json_decref(locs);
		return;
	}
	if (fake_pki_ensure(f, &err) != 0) {
		json_decref(cl);
		json_decref(locs);
		resp_gerr(rs, 500, NULL, "%s", err.msg);
		return;
	}
	pick_cidrs(f, p, l, name, pods, sizeof(pods), svcs, sizeof(svcs));
	fake_now_rfc3339(ts, sizeof(ts), false);
	snprintf(link, sizeof(link), "%s/v1/projects/%s/zones/%s/clusters/%s",
	         rq->base, p, l, name);
	snprintf(id, sizeof(id), "%016llx",
	         (unsigned long long)fake_hash64("cluster", p, l, name));
	ca = fake_ca_b64(f);
	fake_region_of(fake_zone_ok(l) ? l : zbuf, region, sizeof(region));
	json_object_set_new(cl, "location", json_string(l));
	json_object_set_new(cl, "zone", json_string(l));
	json_object_set_new(cl, "locations", locs);
	json_object_set_new(cl, "selfLink", json_string(link));
	json_object_set_new(cl, "id", json_string(id));
	json_object_set_new(cl, "createTime", json_string(ts));
	json_object_set_new(cl, "status", json_string("PROVISIONING"));
	json_object_set_new(cl, "currentMasterVersion", json_string(version));
	json_object_set_new(cl, "currentNodeVersion", json_string(version));
	json_object_set_new(cl, "initialClusterVersion", json_string(version));
	json_object_set_new(cl, "currentNodeCount", json_integer(nodes));
	json_object_set_new(cl, "clusterIpv4Cidr", json_string(pods));
	json_object_set_new(cl, "servicesIpv4Cidr", json_string(svcs));
	json_object_set_new(cl, "nodeIpv4CidrSize", json_integer(24));
	json_object_set_new(cl, "ipAllocationPolicy",
	                    json_pack("{s:b, s:s, s:s, s:s, s:s, s:s}",
	                              "useIpAliases", 1, "clusterIpv4Cidr", pods,
	                              "clusterIpv4CidrBlock", pods,
	                              "servicesIpv4Cidr", svcs,
	                              "servicesIpv4CidrBlock", svcs,
	                              "stackType", "IPV4"));
	if (json_object_get(cl, "resourceLabels") == NULL)
		json_object_set_new(cl, "resourceLabels", json_object());
	json_object_set_new(cl, "nodeConfig", json_deep_copy(json_object_get(
	        json_array_get(json_object_get(cl, "nodePools"), 0), "config")));
	if (json_object_get(cl, "network") == NULL)
		json_object_set_new(cl, "network", json_string("default"));
	if (json_object_get(cl, "subnetwork") == NULL)
		json_object_set_new(cl, "subnetwork", json_string("default"));
	json_object_set_new(cl, "networkConfig",
	                    json_pack("{s:s++, s:s++++}", "network", "projects/", p,
	                              "/global/networks/default", "subnetwork",
	                              "projects/", p, "/regions/", region,
	                              "/subnetworks/default"));
	json_object_set_new(cl, "loggingService",
	                    json_string("logging.googleapis.com/kubernetes"));
	json_object_set_new(cl, "monitoringService",
	                    json_string("monitoring.googleapis.com/kubernetes"));
	json_object_set_new(cl, "masterAuth",
	                    json_pack("{s:s}", "clusterCaCertificate",
	                              ca ? ca : ""));
	free(ca);
	kc = kube_cluster_add(f, key, name, cl, &err);
	if (kc == NULL) {
		json_decref(cl);
		resp_gerr(rs, 500, NULL, "%s", err.msg);
		return;
	}
	snprintf(zbuf, sizeof(zbuf), "%s:%d",
	         fst(f)->host[0] ? fst(f)->host : "127.0.0.1", kc->port);
	json_object_set_new(cl, "endpoint", json_string(zbuf));
	json_object_set_new(fake_db(f, "clusters"), key, cl);
	{
		json_t *ok = json_pack("[{s:s, s:s, s:{s:s}}]", "table", "clusters",
		                       "key", key, "set", "status", "RUNNING");
		json_t *pools = json_array(), *pool;
		json_t *bad = json_pack("[{s:s, s:s, s:{s:s, s:s}}]", "table",
		                        "clusters", "key", key, "set", "status",
		                        "ERROR", "statusMessage",
		                        "The cluster could not be created.");
		size_t i;
		json_array_foreach(json_object_get(cl, "nodePools"), i, pool) {
			json_t *cp = json_deep_copy(pool);
			json_object_set_new(cp, "status", json_string("RUNNING"));
			json_array_append_new(pools, cp);
		}
		json_object_set_new(json_object_get(json_array_get(ok, 0), "set"),
		                    "nodePools", pools);
		resp_json(rs, 200,
		          gke_operation(f, rq, p, l, "CREATE_CLUSTER", name,
		                        json_pack("{s:o, s:o}", "ok", ok, "error",
		                                  bad)));
	}
}

static void
gke_get(struct fake *f, struct freq *rq, struct fresp *rs)
{
	char key[512];
	json_t *cl;

	cluster_key(key, sizeof(key), rq->cap[0], rq->cap[1], rq->cap[2]);
	cl = json_object_get(fake_db(f, "clusters"), key);
	if (cl == NULL) {
		not_found(rs, rq->cap[0], rq->cap[1], rq->cap[2]);
		return;
	}
	resp_json_cached(f, rs, cl);
}

static void
gke_list(struct fake *f, struct freq *rq, struct fresp *rs)
{
	const char *p = rq->cap[0], *l = rq->cap[1];
	char prefix[512];
	json_t *clusters = fake_db(f, "clusters");
	json_t *keys, *k, *out = json_array();
	size_t i;

	snprintf(prefix, sizeof(prefix), "%s/%s", p,
	         strcmp(l, "-") == 0 ? "" : l);
	if (strcmp(l, "-") != 0)
		strcat(prefix, "/");
	keys = fake_sorted_keys(clusters, prefix);
	json_array_foreach(keys, i, k)
		json_array_append(out, json_object_get(clusters,
		                                       json_string_value(k)));
	json_decref(keys);
	if (json_array_size(out) == 0) {
		json_decref(out);
		resp_json(rs, 200, json_object());
		return;
	}
	resp_json(rs, 200, json_pack("{s:o}", "clusters", out));
}

void
gke_remove_cluster_now(struct fake *f, const char *key)
{
	kube_cluster_remove(f, key);
	json_object_del(fake_db(f, "clusters"), key);
}

static void
gke_delete(struct fake *f, struct freq *rq, struct fresp *rs)
{
	char key[512];
	json_t *cl;

	cluster_key(key, sizeof(key), rq->cap[0], rq->cap[1], rq->cap[2]);
	cl = json_object_get(fake_db(f, "clusters"), key);
	if (cl == NULL) {
		not_found(rs, rq->cap[0], rq->cap[1], rq->cap[2]);
		return;
	}
	if (strcmp(fake_jstr(cl, "status"), "STOPPING") == 0) {
		resp_gerr(rs, 400, "failedPrecondition", "Cluster is already being "
		          "deleted.");
		return;
	}
	json_object_set_new(cl, "status", json_string("STOPPING"));
	resp_json(rs, 200,
	          gke_operation(f, rq, rq->cap[0], rq->cap[1], "DELETE_CLUSTER",
	                        rq->cap[2],
	                        json_pack("{s:[{s:s}], s:[{s:s, s:s, s:{s:s}}]}",
	                                  "ok", "cluster_delete", key, "error",
	                                  "table", "clusters", "key", key, "set",
	                                  "status", "ERROR")));
}

static void
gke_op_get(struct fake *f, struct freq *rq, struct fresp *rs)
{
	char key[600];
	json_t *op;

	snprintf(key, sizeof(key), "gke/%s/%s/%s", rq->cap[0], rq->cap[1],
	         rq->cap[2]);
	op = op_poll(f, key);
	if (op == NULL) {
		resp_gerr(rs, 404, "notFound", "Not found: projects/%s/locations/%s/"
		          "operations/%s.", rq->cap[0], rq->cap[1], rq->cap[2]);
		return;
	}
	resp_json(rs, 200, op);
}

/* operations.list: every operation of the location ("-": all), oldest
 * first, as they stand (a resumed client finds the operation of a
 * create it never recorded by its targetLink and operationType). */
struct op_ent {
	long long start;
	const char *key;
};

static int
op_ent_cmp(const void *a, const void *b)
{
	const struct op_ent *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return strcmp(x->key, y->key);
}

static void
gke_op_list(struct fake *f, struct freq *rq, struct fresp *rs)
{
	const char *p = rq->cap[0], *l = rq->cap[1];
	json_t *ops = fake_db(f, "operations"), *op, *out = json_array();
	struct op_ent *ent = NULL;
	size_t n = 0, cap = 0, plen;
	char prefix[512];
	const char *k;

	if (strcmp(l, "-") == 0)
		snprintf(prefix, sizeof(prefix), "gke/%s/", p);
	else
		snprintf(prefix, sizeof(prefix), "gke/%s/%s/", p, l);
	plen = strlen(prefix);
	json_object_foreach(ops, k, op) {
		if (strncmp(k, prefix, plen) != 0)
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 16;
			ent = mv_xrealloc(ent, cap * sizeof(*ent));
		}
		ent[n].start = (long long)json_integer_value(
		        json_object_get(op, "start_ms"));
		ent[n++].key = k;
	}
	if (n > 0)
		qsort(ent, n, sizeof(*ent), op_ent_cmp);
	for (size_t i = 0; i < n; i++) {
		json_t *pub = op_peek(f, ent[i].key);
		if (pub != NULL)
			json_array_append_new(out, pub);
	}
	free(ent);
	resp_json(rs, 200, json_pack("{s:o}", "operations", out));
}

#define CREATE_L "container.projects.locations.clusters.create"
#define CREATE_Z "container.projects.zones.clusters.create"

const struct route gke_routes[] = {
	{"GET", "/v1/projects/{}/services/{}", serviceusage_get, R_AUTH | R_PURE,
	 NULL},
	{"POST", "/v1/projects/{}/locations/{}/clusters", gke_create, R_AUTH,
	 CREATE_L},
	{"GET", "/v1/projects/{}/locations/{}/clusters", gke_list,
	 R_AUTH | R_PURE, NULL},
	{"GET", "/v1/projects/{}/locations/{}/clusters/{}", gke_get,
	 R_AUTH | R_PURE, NULL},
	{"DELETE", "/v1/projects/{}/locations/{}/clusters/{}", gke_delete,
	 R_AUTH, NULL},
	{"GET", "/v1/projects/{}/locations/{}/operations/{}", gke_op_get, R_AUTH,
	 NULL},
	{"GET", "/v1/projects/{}/locations/{}/operations", gke_op_list, R_AUTH,
	 NULL},
	{"POST", "/v1/projects/{}/zones/{}/clusters", gke_create, R_AUTH,
	 CREATE_Z},
	{"GET", "/v1/projects/{}/zones/{}/clusters", gke_list, R_AUTH | R_PURE,
	 NULL},
	{"GET", "/v1/projects/{}/zones/{}/clusters/{}", gke_get, R_AUTH | R_PURE,
	 NULL},
	{"DELETE", "/v1/projects/{}/zones/{}/clusters/{}", gke_delete, R_AUTH,
	 NULL},
	{"GET", "/v1/projects/{}/zones/{}/operations/{}", gke_op_get, R_AUTH,
	 NULL},
	{"GET", "/v1/projects/{}/zones/{}/operations", gke_op_list, R_AUTH,
	 NULL},
	{NULL, NULL, NULL, 0, NULL},
};
