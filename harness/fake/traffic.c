/* harness/fake/traffic.c - simulated mesh traffic and a Prometheus per
 * cluster (docs/fake.md, "Traffic and metrics").
 *
 * In every cluster whose store holds the VirtualService
 * `productcatalog-migration`, a caller (source_workload "frontend", as
 * Online Boutique's) sends `rps` requests per traffic-second through the
 * VirtualService's first http route: each weighted destination (host +
 * DestinationRule subset) gets its share, and fares as the first
 * matching `traffic:` rule of the fault profile says (error rate,
 * latency, failure codes).  Counts are exact expectations (a running
 * floor), not coin flips, so the same weights and rules always give the
 * same counters.  The traffic clock runs `--traffic-speed` times as fast
 * as the fake's clock, from the fake's start; counters advance in
 * traffic-second steps before each request is handled (so a weight
 * change applies from the step it was made in), and each step is a
 * snapshot that /prom/CLUSTER/api/v1/query* reads (harness/fake/promql).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/fake/kube_private.h"
#include "harness/fake/promql.h"
#include "harness/fake/svc.h"

#define TR_VS_NAME "productcatalog-migration"
#define TR_MAX_DEST 8
#define TR_NB 19

/* Istio's default duration buckets (ms). */
static const double tr_buckets[TR_NB] = {
	0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000,
	60000, 300000, 600000, 1800000, 3600000,
};

struct tdest {
	char host[128], subset[64];
	double cum;                  /* requests owed, fractional */
	double fcum;                 /* failures owed, fractional */
	long long req, fail;
	int s_ok, s_fail, s_sum, s_count, s_bucket[TR_NB + 1];
	int code;                    /* the failure codes the series carry */
	int grpc;
};

struct tcl {
	char *key;                   /* the cluster's key */
	struct pq_db *db;
	int fam_req, fam_dur;
	int64_t last_ms;             /* last snapshot, traffic clock */
	struct tdest d[TR_MAX_DEST];
	size_t n_d;
};

struct traffic {
	long long t0;                /* the fake's clock at the first tick */
	struct tcl *c;
	size_t n;
};

static struct traffic *
traffic_of(struct fake *f)
{
	struct fstate *s = fst(f);

	if (s->traffic == NULL) {
		s->traffic = calloc(1, sizeof(*s->traffic));
		if (s->traffic == NULL)
			abort();
		s->traffic->t0 = fake_clock_ms(f);
	}
	return s->traffic;
}

/* The traffic clock: the fake's clock, `speed` times as fast since t0. */
static int64_t
traffic_now(struct fake *f)
{
	struct traffic *tr = traffic_of(f);
	int speed = fst(f)->opt.traffic_speed > 0 ? fst(f)->opt.traffic_speed
	                                          : 1;

	return tr->t0 + (fake_clock_ms(f) - tr->t0) * speed;
}

static void
tcl_clear(struct tcl *c)
{
	free(c->key);
	pq_free(c->db);
}

void
traffic_free(struct fake *f)
{
	struct traffic *tr = fst(f)->traffic;

	if (tr == NULL)
		return;
	for (size_t i = 0; i < tr->n; i++)
		tcl_clear(&tr->c[i]);
	free(tr->c);
	free(tr);
	fst(f)->traffic = NULL;
}

static struct tcl *
tcl_get(struct fake *f, struct kcluster *kc)
{
	struct traffic *tr = traffic_of(f);
	struct tcl *nc;

	for (size_t i = 0; i < tr->n; i++)
		if (strcmp(tr->c[i].key, kc->key) == 0)
			return &tr->c[i];
	nc = realloc(tr->c, (tr->n + 1) * sizeof(*nc));
	if (nc == NULL)
		abort();
	tr->c = nc;
	nc += tr->n++;
	memset(nc, 0, sizeof(*nc));
	nc->key = strdup(kc->key);
	nc->db = pq_new();
	if (nc->key == NULL || nc->db == NULL)
		abort();
	nc->fam_req = pq_family(nc->db, "istio_requests_total", "counter");
	nc->fam_dur = pq_family(nc->db, "istio_request_duration_milliseconds",
	                        "histogram");
	nc->last_ms = INT64_MIN;
	return nc;
}

/* The stored VirtualService, in any namespace; NULL when none. */
static json_t *
find_vs(struct fake *f, struct kcluster *kc, const char **ns)
{
	static const char pfx[] = "networking.istio.io/virtualservices/";
	json_t *objs = json_object_get(kstore(f, kc), "objects"), *o;
	const char *k;

	json_object_foreach(objs, k, o) {
		const char *slash;

		if (strncmp(k, pfx, sizeof(pfx) - 1) != 0)
			continue;
		slash = strchr(k + sizeof(pfx) - 1, '/');
		if (slash && strcmp(slash + 1, TR_VS_NAME) == 0) {
			*ns = fake_jstr(json_object_get(o, "metadata"), "namespace");
			return o;
		}
	}
	return NULL;
}

static const struct traffic_rule *
rule_for(struct fake *f, const struct kcluster *kc, const struct tdest *d)
{
	const struct traffic_profile *tp = faults_traffic(fst(f)->faults);
	size_t hl = strcspn(d->host, ".");

	for (size_t i = 0; i < tp->n; i++) {
		const struct traffic_rule *r = &tp->rules[i];

		if (r->cluster && strcmp(r->cluster, kc->name) != 0)
			continue;
		if (r->destination && strcmp(r->destination, d->subset) != 0 &&
		    !(strlen(r->destination) == hl &&
		      strncmp(r->destination, d->host, hl) == 0))
			continue;
		return r;
	}
	return NULL;
}

static json_t *
base_labels(const struct tdest *d, const char *ns)
{
	char svc[128], wl[200];
	size_t hl = strcspn(d->host, ".");

	snprintf(svc, sizeof(svc), "%.*s", (int)hl, d->host);
	/* the VM side is the WorkloadGroup "<service>-vm"; a pod side is
	 * the Deployment named like the service */
	if (strcmp(d->subset, "vm") == 0)
		snprintf(wl, sizeof(wl), "%s-vm", svc);
	else
		snprintf(wl, sizeof(wl), "%s", svc);
	return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}",
	                 "reporter", "source",
	                 "source_workload", "frontend",
	                 "source_workload_namespace", ns,
	                 "destination_service_name", svc,
	                 "destination_service_namespace", ns,
	                 "destination_workload", wl,
	                 "destination_version", d->subset[0] ? d->subset
	                                                     : "unknown",
	                 "request_protocol", "grpc");
}

/* The destination's series, made on its first use. */
static void
dest_series(struct tcl *c, struct tdest *d, const char *ns, int code,
            int grpc)
{
	json_t *l = base_labels(d, ns), *x;
	char num[32];

	d->code = code;
	d->grpc = grpc;
	x = json_deep_copy(l);
	json_object_set_new(x, "response_code", json_string("200"));
	json_object_set_new(x, "grpc_response_status", json_string("0"));
	d->s_ok = pq_series(c->db, c->fam_req, "istio_requests_total", x);
	snprintf(num, sizeof(num), "%d", code);
	json_object_set_new(x, "response_code", json_string(num));
	snprintf(num, sizeof(num), "%d", grpc);
	json_object_set_new(x, "grpc_response_status", json_string(num));
	d->s_fail = pq_series(c->db, c->fam_req, "istio_requests_total", x);
	json_decref(x);
	/* the durations are not split by code: one histogram per destination */
	d->s_sum = pq_series(c->db, c->fam_dur,
	                     "istio_request_duration_milliseconds_sum", l);
	d->s_count = pq_series(c->db, c->fam_dur,
	                       "istio_request_duration_milliseconds_count", l);
	for (int b = 0; b <= TR_NB; b++) {
		x = json_deep_copy(l);
		if (b < TR_NB)
			snprintf(num, sizeof(num), "%g", tr_buckets[b]);
		else
			snprintf(num, sizeof(num), "+Inf");
		json_object_set_new(x, "le", json_string(num));
		d->s_bucket[b] = pq_series(
			c->db, c->fam_dur,
			"istio_request_duration_milliseconds_bucket", x);
		json_decref(x);
	}
	json_decref(l);
}

static struct tdest *
dest_get(struct tcl *c, const char *host, const char *subset)
{
	for (size_t i = 0; i < c->n_d; i++)
		if (!strcmp(c->d[i].host, host) && !strcmp(c->d[i].subset, subset))
			return &c->d[i];
	if (c->n_d == TR_MAX_DEST)
		return NULL;
	struct tdest *d = &c->d[c->n_d++];

	memset(d, 0, sizeof(*d));
	d->s_ok = -1;
	snprintf(d->host, sizeof(d->host), "%s", host);
	snprintf(d->subset, sizeof(d->subset), "%s", subset);
	return d;
}

/* `secs` traffic-seconds of requests to d at weight w. */
static void
send(struct fake *f, struct kcluster *kc, struct tcl *c, struct tdest *d,
     const char *ns, double w, double secs)
{
	const struct traffic_rule *r = rule_for(f, kc, d);
	double rps = faults_traffic(fst(f)->faults)->rps;
	double err = r ? r->error_rate : 0;
	double lat = r ? r->latency_ms : 5;
	long long n, nf;

	if (d->s_ok < 0 || (r && (r->response_code != d->code ||
	                          r->grpc_status != d->grpc)))
		dest_series(c, d, ns, r ? r->response_code : 503,
		            r ? r->grpc_status : 14);
	d->cum += rps * secs * w / 100.0;
	n = (long long)(d->cum + 1e-9) - d->req;
	if (n <= 0)
		return;
	d->req += n;
	/* failures follow the rate as a running floor too, so a small
	 * share (2 requests a second at 30%) still fails 30% over time */
	d->fcum += (double)n * err;
	nf = (long long)(d->fcum + 1e-9) - d->fail;
	if (nf > n)
		nf = n;
	d->fail += nf;
	pq_add(c->db, d->s_ok, (double)(n - nf));
	pq_add(c->db, d->s_fail, (double)nf);
	pq_add(c->db, d->s_sum, (double)n * lat);
	pq_add(c->db, d->s_count, (double)n);
	for (int b = 0; b <= TR_NB; b++)
		if (b == TR_NB || lat <= tr_buckets[b])
			pq_add(c->db, d->s_bucket[b], (double)n);
}

/* The route's destinations and weights; n of them. */
struct split {
	char host[128], subset[64];
	double w;
};

static size_t
read_split(json_t *vs, struct split *out)
{
	json_t *http = json_object_get(json_object_get(vs, "spec"), "http");
	json_t *route = json_object_get(json_array_get(http, 0), "route"), *r;
	size_t i, n = 0, total = json_array_size(route);

	json_array_foreach(route, i, r) {
		json_t *dst = json_object_get(r, "destination");
		json_t *w = json_object_get(r, "weight");

		if (n == TR_MAX_DEST)
			break;
		snprintf(out[n].host, sizeof(out[n].host), "%s",
		         fake_jstr(dst, "host"));
		snprintf(out[n].subset, sizeof(out[n].subset), "%s",
		         fake_jstr(dst, "subset"));
		if (json_is_integer(w))
			out[n].w = (double)json_integer_value(w);
		else /* Istio: one destination without a weight takes all */
			out[n].w = total == 1 ? 100 : 0;
		if (out[n].w < 0 || out[n].w > 100 || out[n].host[0] == '\0')
			continue;
		n++;
	}
	return n;
}

static void
tick_cluster(struct fake *f, struct kcluster *kc, int64_t now)
{
	struct tcl *c = tcl_get(f, kc);
	int64_t target = now - (now % 1000 + 1000) % 1000, steps;
	struct split sp[TR_MAX_DEST];
	const char *ns = "default";
	json_t *vs;
	size_t n = 0;

	if (c->last_ms == INT64_MIN) {
		c->last_ms = target;
		pq_snapshot(c->db, target);
		return;
	}
	steps = (target - c->last_ms) / 1000;
	if (steps <= 0)
		return;
	vs = find_vs(f, kc, &ns);
	if (vs != NULL)
		n = read_split(vs, sp);
	/* beyond the kept history, one bulk step */
	if (steps > PQ_HIST) {
		for (size_t i = 0; i < n; i++) {
			struct tdest *d = dest_get(c, sp[i].host, sp[i].subset);

			if (d)
				send(f, kc, c, d, ns, sp[i].w,
				     (double)(steps - PQ_HIST));
		}
		c->last_ms += (steps - PQ_HIST) * 1000;
		steps = PQ_HIST;
	}
	for (int64_t s = 0; s < steps; s++) {
		for (size_t i = 0; i < n; i++) {
			struct tdest *d = dest_get(c, sp[i].host, sp[i].subset);

			if (d)
				send(f, kc, c, d, ns, sp[i].w, 1);
		}
		c->last_ms += 1000;
		pq_snapshot(c->db, c->last_ms);
	}
}

void
traffic_tick(struct fake *f)
{
	struct fstate *s = fst(f);
	struct traffic *tr;
	int64_t now;
	size_t i = 0;

	if (s->n_kc == 0 && s->traffic == NULL)
		return;
	now = traffic_now(f);
	for (size_t k = 0; k < s->n_kc; k++)
		if (!s->kc[k]->removed)
			tick_cluster(f, s->kc[k], now);
	/* forget clusters that went */
	tr = s->traffic;
	while (i < tr->n) {
		bool live = false;

		for (size_t k = 0; k < s->n_kc; k++)
			live |= !s->kc[k]->removed &&
			        strcmp(s->kc[k]->key, tr->c[i].key) == 0;
		if (live) {
			i++;
			continue;
		}
		tcl_clear(&tr->c[i]);
		tr->c[i] = tr->c[--tr->n];
	}
}

/* ---- the Prometheus HTTP API ---- */

static void
prom_error(struct fresp *rs, int status, const char *type, const char *msg)
{
	resp_json(rs, status, json_pack("{s:s,s:s,s:s}", "status", "error",
	                                "errorType", type, "error", msg));
}

static struct tcl *
prom_cluster(struct fake *f, struct freq *rq, struct fresp *rs)
{
	struct kcluster *kc = kube_cluster_by_name(f, rq->cap[0]);
	char msg[200];

	if (kc == NULL || kc->removed) {
		snprintf(msg, sizeof(msg), "no cluster named '%.100s'", rq->cap[0]);
		prom_error(rs, 404, "not_found", msg);
		return NULL;
	}
	return tcl_get(f, kc);
}

static void
prom_metrics(struct fake *f, struct freq *rq, struct fresp *rs)
{
	struct tcl *c = prom_cluster(f, rq, rs);
	size_t len;
	char *text;

	if (c == NULL)
		return;
	text = pq_exposition(c->db, &len);
	resp_bytes(rs, 200, "text/plain; version=0.0.4; charset=utf-8", text,
	           len);
	free(text);
}

/* A parameter from the query string or a form-encoded POST body (heap,
 * or NULL). */
static char *
param(struct freq *rq, const char *name)
{
	const char *v = freq_arg(rq, name);

	if (v != NULL)
		return strdup(v);
	if (strcmp(rq->method, "POST") == 0 && rq->body_len > 0)
		return fake_form_get(rq->body, rq->body_len, name);
	return NULL;
}

/* Unix seconds (fractional) or a duration ("15s", "1m") into ms. */
static int
parse_time(const char *s, bool duration, int64_t *ms)
{
	char *end;
	double v = strtod(s, &end);
	double unit = 1000;

	if (end == s || !isfinite(v) || v < 0 || v > 1e11)
		return -1;
	if (duration && *end) {
		if (strcmp(end, "ms") == 0)
			unit = 1;
		else if (strcmp(end, "s") == 0)
			unit = 1000;
		else if (strcmp(end, "m") == 0)
			unit = 60000;
		else if (strcmp(end, "h") == 0)
			unit = 3600000;
		else
			return -1;
	} else if (*end) {
		return -1;
	}
	*ms = (int64_t)(v * unit + 0.5); /* v >= 0 */
	return 0;
}

static void
prom_query_common(struct fake *f, struct freq *rq, struct fresp *rs,
                  bool range)
{
	struct tcl *c = prom_cluster(f, rq, rs);
	char *q, *ts = NULL, *te = NULL, *tstep = NULL, why[256] = "";
	int64_t t = traffic_now(f), end = t, step = 0;
	json_t *data = NULL;

	if (c == NULL)
		return;
	q = param(rq, "query");
	if (q == NULL) {
		prom_error(rs, 400, "bad_data", "invalid parameter \"query\": "
		           "no query given");
		return;
	}
	if (range) {
		ts = param(rq, "start");
		te = param(rq, "end");
		tstep = param(rq, "step");
		if (!ts || !te || !tstep || parse_time(ts, false, &t) ||
		    parse_time(te, false, &end) || parse_time(tstep, true, &step))
			snprintf(why, sizeof(why), "invalid parameter: start, end "
			         "and step are required (unix seconds; step also "
			         "as a duration)");
		else
			data = pq_query_range(c->db, q, t, end, step, why,
			                      sizeof(why));
	} else {
		ts = param(rq, "time");
		if (ts && parse_time(ts, false, &t))
			snprintf(why, sizeof(why), "invalid parameter \"time\": "
			         "cannot parse \"%.100s\"", ts);
		else
			data = pq_query(c->db, q, t, why, sizeof(why));
	}
	if (data != NULL)
		resp_json(rs, 200, json_pack("{s:s,s:o}", "status", "success",
		                             "data", data));
	else
		prom_error(rs, 400, "bad_data", why);
	free(q);
	free(ts);
	free(te);
	free(tstep);
}

static void
prom_query(struct fake *f, struct freq *rq, struct fresp *rs)
{
	prom_query_common(f, rq, rs, false);
}

static void
prom_query_range(struct fake *f, struct freq *rq, struct fresp *rs)
{
	prom_query_common(f, rq, rs, true);
}

const struct route traffic_routes[] = {
	{"GET", "/prom/{}/metrics", prom_metrics, 0, NULL},
	{"GET", "/prom/{}/api/v1/query", prom_query, 0, NULL},
	{"POST", "/prom/{}/api/v1/query", prom_query, R_READONLY, NULL},
	{"GET", "/prom/{}/api/v1/query_range", prom_query_range, 0, NULL},
	{"POST", "/prom/{}/api/v1/query_range", prom_query_range, R_READONLY,
	 NULL},
	{NULL, NULL, NULL, 0, NULL},
};
