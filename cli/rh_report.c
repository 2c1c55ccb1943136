/* cli/rh_report.c - see rh_report.h. */
#include "cli/rh_report.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <curl/curl.h>

#include "cli/rh_svg.h"
#include "core/atomic.h"
#include "core/util.h"
#include "core/xalloc.h"
#include "harness/fake/fake.h"

/* Tables of the fake's state that are bookkeeping, not resources. */
static const char *const bookkeeping[] = {
	"seq", "operations", "request_ids", "tokens", "url", "serial",
	"guest_attributes", "uploads", "quotas", "iam", NULL};

static bool
is_bookkeeping(const char *table)
{
	for (size_t i = 0; bookkeeping[i] != NULL; i++)
		if (!strcmp(table, bookkeeping[i]))
			return true;
	return false;
}

json_t *
rh_report_leftovers(const json_t *state)
{
	json_t *out = json_array(), *tab, *v;
	const char *t, *k;

	if (state == NULL) {
		json_array_append_new(out, json_string("(no state)"));
		return out;
	}
	json_object_foreach((json_t *)state, t, tab) {
		if (is_bookkeeping(t) || !json_is_object(tab))
			continue;
		json_object_foreach(tab, k, v) {
			char *s = mv_xstrfmt("%s/%s", t, k);
			json_array_append_new(out, json_string(s));
			free(s);
		}
	}
	return out;
}

static const char *
jstr(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "";
}

/* The last path segment of a URL or name ("zones/us-west1-b" ...). */
static const char *
last_segment(const char *s)
{
	const char *p = strrchr(s, '/');
	return p ? p + 1 : s;
}

static bool
healthy(const json_t *obj)
{
	json_t *c;
	size_t i;

	json_array_foreach(json_object_get(json_object_get(obj, "status"),
	                                   "conditions"), i, c)
		if (!strcmp(jstr(c, "type"), "Healthy"))
			return !strcmp(jstr(c, "status"), "True");
	return false;
}

/* One cluster's Kubernetes objects into its topology row. */
static void
kube_objects(const json_t *store, json_t *row, json_t *split)
{
	json_t *objs = json_object_get(store, "objects"), *o;
	json_t *gws = json_object_get(row, "gateways");
	json_t *svcs = json_object_get(row, "services");
	json_t *wes = json_object_get(row, "workload_entries");
	const char *key;

	json_object_foreach(objs, key, o) {
		json_t *meta = json_object_get(o, "metadata");
		const char *name = jstr(meta, "name"), *ns = jstr(meta, "namespace");
		if (strstr(key, "/workloadentries/") != NULL) {
			json_array_append_new(
				wes, json_pack("{s:s,s:s,s:b}", "name", name, "address",
				               jstr(json_object_get(o, "spec"), "address"),
				               "healthy", healthy(o)));
		} else if (strncmp(key, "core/services/", 14) == 0) {
			json_t *ing = json_array_get(json_object_get(json_object_get(
				json_object_get(o, "status"), "loadBalancer"), "ingress"), 0);
			if (!strcmp(ns, "istio-system") && strstr(name, "gateway"))
				json_array_append_new(gws, json_pack("{s:s,s:s}", "name",
				                                     name, "ip",
				                                     jstr(ing, "ip")));
			else if (!strcmp(ns, "default") && strcmp(name, "kubernetes"))
				json_array_append_new(svcs, json_string(name));
		} else if (strstr(key, "/virtualservices/") != NULL &&
		           !strcmp(name, "productcatalog-migration") &&
		           json_array_size(split) == 0) {
			json_t *http = json_array_get(json_object_get(
				json_object_get(o, "spec"), "http"), 0), *r;
			size_t i;
			json_array_foreach(json_object_get(http, "route"), i, r) {
				json_t *d = json_object_get(r, "destination");
				json_t *w = json_object_get(r, "weight");
				const char *dest = jstr(d, "subset");
				json_int_t weight = w ? json_integer_value(w) : 100;
				json_t *e = json_object();
				json_object_set_new(e, "destination",
				                    json_string(dest[0] ? dest
				                                        : jstr(d, "host")));
				json_object_set_new(e, "weight", json_integer(weight));
				json_array_append_new(split, e);
			}
		}
	}
}

json_t *
rh_report_topology(const json_t *state)
{
	json_t *clusters = json_array(), *vms = json_array(), *fws = json_array();
	json_t *split = json_array(), *kube = json_object_get(state, "kube");
	json_t *v;
	const char *k;

	json_object_foreach(json_object_get(state, "clusters"), k, v) {
		json_t *store = json_object_get(kube, k);
		json_t *row = json_pack("{s:s,s:s,s:[],s:[],s:[]}", "name",
		                        jstr(v, "name"), "zone",
		                        last_segment(jstr(v, "location")),
		                        "gateways", "services", "workload_entries");
		if (store == NULL)
			store = json_object_get(kube, jstr(v, "name"));
		kube_objects(store, row, split);
		json_array_append_new(clusters, row);
	}
	json_object_foreach(json_object_get(state, "instances"), k, v) {
		json_t *nic = json_array_get(json_object_get(v, "networkInterfaces"),
		                             0);
		json_array_append_new(
			vms, json_pack("{s:s,s:s,s:s,s:s}", "name", jstr(v, "name"), "zone",
			               last_segment(jstr(v, "zone")), "ip",
			               jstr(nic, "networkIP"), "status", jstr(v, "status")));
	}
	json_object_foreach(json_object_get(state, "firewalls"), k, v)
		json_array_append_new(fws, json_string(jstr(v, "name")));
	return json_pack("{s:o,s:o,s:o,s:o}", "clusters", clusters, "vms", vms,
	                 "firewalls", fws, "split", split);
}

/* One PromQL query (range when step > 0) against a cluster's fake
 * Prometheus: the "result" array (borrowed from *doc), or NULL. */
static json_t *
prom(struct fake *f, const char *cluster, const char *q, double start,
     double end, double step, json_t **doc)
{
	struct fake_response rs;
	char *enc = curl_easy_escape(NULL, q, 0), *target;
	json_t *res = NULL;

	*doc = NULL;
	if (step > 0)
		target = mv_xstrfmt("/prom/%s/api/v1/query_range?query=%s&start=%.3f"
		                    "&end=%.3f&step=%.3f", cluster, enc, start, end,
		                    step);
	else
		target = mv_xstrfmt("/prom/%s/api/v1/query?query=%s", cluster, enc);
	if (fake_handle(f, "gcp", "GET", target, NULL, 0, NULL, 0, &rs) == 0 &&
	    rs.status == 200 &&
	    (*doc = json_loadb(rs.body, rs.body_len, 0, NULL)) != NULL)
		res = json_object_get(json_object_get(*doc, "data"), "result");
	fake_response_free(&rs);
	free(target);
	curl_free(enc);
	return res;
}

#define MIG_SELECTOR                                                         \
	"istio_requests_total{reporter=\"source\","                          \
	"destination_service_name=\"productcatalogservice\"%s}"
#define MIG_POINTS 120

/* Add a range result (by destination_version) into acc[subset][t]. */
static void
add_range(json_t *acc, const json_t *result, size_t n, double start,
          double step)
{
	json_t *row, *pt;
	size_t i, j;

	json_array_foreach(result, i, row) {
		const char *sub = jstr(json_object_get(row, "metric"),
		                       "destination_version");
		json_t *a = json_object_get(acc, sub[0] ? sub : "-");
		if (a == NULL) {
			a = json_array();
			for (j = 0; j < n; j++)
				json_array_append_new(a, json_real(0));
			json_object_set_new(acc, sub[0] ? sub : "-", a);
		}
		json_array_foreach(json_object_get(row, "values"), j, pt) {
			const char *val = json_string_value(json_array_get(pt, 1));
			double at = (json_number_value(json_array_get(pt, 0)) - start) /
			            step;
			size_t k = at < 0 ? n : (size_t)(at + 0.5);
			if (k >= n || val == NULL)
				continue;
			json_real_set(json_array_get(a, k),
			              json_real_value(json_array_get(a, k)) +
			                      strtod(val, NULL));
		}
	}
}

json_t *
rh_report_migration(struct fake *f, const json_t *topology, long from_ago_s,
                    long to_ago_s)
{
	long span_s = from_ago_s - to_ago_s;
	json_t *t = json_array(), *dests = json_object(), *tot = json_object();
	json_t *bad = json_object(), *c, *doc, *res, *v;
	double now = 0, step, start;
	const char *sub;
	size_t i, j;
	char q[512];

	/* now on the traffic clock: the timestamp of any instant answer */
	snprintf(q, sizeof(q), "sum(rate(" MIG_SELECTOR "[1s]))", "");
	json_array_foreach(json_object_get(topology, "clusters"), i, c) {
		res = prom(f, jstr(c, "name"), q, 0, 0, 0, &doc);
		v = json_array_get(json_object_get(json_array_get(res, 0), "value"),
		                   0);
		if (json_number_value(v) > now)
			now = json_number_value(v);
		json_decref(doc);
	}
	if (now <= 0 || span_s <= 0)
		return json_pack("{s:o,s:o}", "t", t, "destinations", dests);
	step = (double)span_s / MIG_POINTS < 1 ? 1 : (double)span_s / MIG_POINTS;
	now -= (double)to_ago_s;
	start = now - step * MIG_POINTS;
	for (i = 0; i <= MIG_POINTS; i++)
		json_array_append_new(t, json_real(step * (double)i));
	json_array_foreach(json_object_get(topology, "clusters"), i, c) {
		char w[32];
		snprintf(w, sizeof(w), "[%lds]", (long)(step * 2 + 0.5));
		snprintf(q, sizeof(q), "sum by (destination_version) (rate("
		         MIG_SELECTOR "%s))", "", w);
		res = prom(f, jstr(c, "name"), q, start, now, step, &doc);
		add_range(tot, res, MIG_POINTS + 1, start, step);
		json_decref(doc);
		snprintf(q, sizeof(q), "sum by (destination_version) (rate("
		         MIG_SELECTOR "%s))", ",grpc_response_status!=\"0\"", w);
		res = prom(f, jstr(c, "name"), q, start, now, step, &doc);
		add_range(bad, res, MIG_POINTS + 1, start, step);
		json_decref(doc);
	}
	/* share of all requests and success rate, per destination */
	json_object_foreach(tot, sub, v) {
		json_t *share = json_array(), *ok = json_array();
		for (j = 0; j <= MIG_POINTS; j++) {
			double n = json_real_value(json_array_get(v, j)), all = 0;
			double e = json_real_value(json_array_get(
				json_object_get(bad, sub), j));
			const char *k2;
			json_t *v2;
			json_object_foreach(tot, k2, v2)
				all += json_real_value(json_array_get(v2, j));
			/* no request at all: a gap, not 0% */
			json_array_append_new(share, all > 0 ? json_real(n / all)
			                                     : json_null());
			json_array_append_new(ok, n > 0 ? json_real(1 - e / n)
			                                : json_null());
		}
		json_object_set_new(dests, sub, json_pack("{s:o,s:o}", "share", share,
		                                          "success", ok));
	}
	json_decref(tot);
	json_decref(bad);
	return json_pack("{s:o,s:o}", "t", t, "destinations", dests);
}

static int
write_text(const char *dir, const char *name, const char *text,
           struct mv_err *err)
{
	char *p = mv_xstrfmt("%s/%s", dir, name);
	int rc = mv_write_file_atomic(p, text, strlen(text), 0644, err);

	free(p);
	return rc;
}

static int
copy_file(const char *dir, const char *name, const char *src,
          struct mv_err *err)
{
	size_t len;
	char *data = mv_read_file(src, (size_t)1 << 30, &len, err), *p;
	int rc;

	if (data == NULL)
		return -1;
	p = mv_xstrfmt("%s/%s", dir, name);
	rc = mv_write_file_atomic(p, data, len, 0644, err);
	free(p);
	free(data);
	return rc;
}

int
rh_report_write(const char *dir, const json_t *report, const char *journal,
                const char *log, struct mv_err *err)
{
	const json_t *topo = json_object_get(report, "topology");
	char *doc = json_dumps(report, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	char *svg = rh_svg_topology(topo), *dot = rh_dot_topology(topo);
	char *mig = rh_svg_migration(json_object_get(report, "migration"));
	int rc;

	if (mkdir(dir, 0755) != 0 && errno != EEXIST)
		rc = mv_err_sys(err, errno, "%s", dir);
	else
		rc = doc == NULL ? mv_err_set(err, MV_EXIT_FAIL, "report.json: out "
		                              "of memory")
		     : write_text(dir, "report.json", doc, err) != 0 ||
		               copy_file(dir, "journal.jsonl", journal, err) != 0 ||
		               copy_file(dir, "rehearse.log", log, err) != 0 ||
		               write_text(dir, "topology.svg", svg, err) != 0 ||
		               write_text(dir, "topology.dot", dot, err) != 0 ||
		               write_text(dir, "migration.svg", mig, err) != 0
		           ? -1 : 0;
	free(doc);
	free(svg);
	free(dot);
	free(mig);
	return rc;
}
