/* harness/fake/kube_istiod.c - a simulated istiod's auto-registration of
 * VM sidecars: a small HTTP/JSON protocol of ours (real xDS is out of
 * scope), served on every cluster's listener under /meshvm/v1/.
 *
 *   POST /meshvm/v1/register    {"ip": IP, "env": {cluster.env keys}}
 *   POST /meshvm/v1/health      {"ip", "env", "healthy": bool, "message"}
 *   POST /meshvm/v1/disconnect  {"ip", "env"}
 *   Authorization: Bearer <service-account token, audience istio-ca>
 *
 * As istiod: the token is reviewed (the cluster's token key, audience
 * istio-ca, unexpired on the fake's clock, its service account the
 * group's template.serviceAccount in POD_NAMESPACE); the WorkloadGroup
 * ISTIO_META_AUTO_REGISTER_GROUP in POD_NAMESPACE gives the
 * WorkloadEntry <group>-<ip with ':' as '-'>[-<ISTIO_META_NETWORK>]
 * with the template's labels, istiod's annotations and an
 * ownerReference to the group.  Health sets condition Healthy; a
 * disconnect stamps istio.io/disconnectedAt and the entry goes once the
 * grace period (fake option istiod_grace_ms) has passed on the fake's
 * clock (kistiod_tick).  Answers: 200 {"workloadEntry": {namespace,
 * name}}, or 4xx {"error": istiod-like message}.
 */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/log.h"

#include "harness/fake/kube_private.h"

#define ANN_GROUP "istio.io/autoRegistrationGroup"
#define ANN_CTL "istio.io/workloadController"
#define ANN_CONN "istio.io/connectedAt"
#define ANN_DISC "istio.io/disconnectedAt"
#define ANN_HC "istio.io/healthChecksEnabled"

static void
ierr(struct fresp *rs, int code, const char *fmt, ...) MV_PRINTF(3, 4);

static void
ierr(struct fresp *rs, int code, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	resp_json(rs, code, json_pack("{s:s}", "error", msg));
}

static bool
kind_of(struct fake *f, struct kcluster *kc, const char *plural,
        struct kkind *k)
{
	return kkind_find(f, kc, "networking.istio.io", "v1", plural, k);
}

/* The entry's name as istiod's autoregisteredWorkloadEntryName makes it:
 * group, IP (':' -> '-'), network when set; the last 253 characters. */
void
kistiod_entry_name(const char *group, const char *ip, const char *network,
                   char *out, size_t len)
{
	char buf[1024], sip[64];
	size_t n;

	snprintf(sip, sizeof(sip), "%s", ip);
	for (char *p = sip; *p; p++)
		if (*p == ':')
			*p = '-';
	snprintf(buf, sizeof(buf), "%s-%s%s%s", group, sip,
	         network && *network ? "-" : "", network ? network : "");
	n = strlen(buf);
	snprintf(out, len, "%s", n > 253 ? buf + n - 253 : buf);
}

static void
now_rfc3339(struct fake *f, char *buf, size_t len)
{
	fake_time_rfc3339(fake_clock_ms(f) / 1000, buf, len);
}

/* Everything the three calls share: the body, the token review, the
 * group.  0 with the parts filled, -1 with rs answered. */
struct ireq {
	json_t *body, *env, *group;
	const char *ip, *ns, *gname, *network;
	struct kkind wg, we;
	char name[256];
};

static int
ireq_load(struct fake *f, struct freq *rq, struct fresp *rs, struct ireq *ir)
{
	const char *h = freq_header(rq, "Authorization"), *want_sa;
	json_t *claims = NULL, *ko;
	char why[512];
	unsigned char addr[16];
	int rc = -1;

	memset(ir, 0, sizeof(*ir));
	if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0) {
		ierr(rs, 401, "authentication failure: no bearer token");
		return -1;
	}
	if (kube_token_check(f, rq->kc, h + 7, "istio-ca", &claims, why,
	                     sizeof(why)) != 0) {
		ierr(rs, 401, "authentication failure: token review: %s", why);
		return -1;
	}
	ir->body = json_loadb(rq->body ? rq->body : "", rq->body_len, 0, NULL);
	ir->env = json_object_get(ir->body, "env");
	ir->ip = fake_jstr(ir->body, "ip");
	ir->ns = fake_jstr(ir->env, "POD_NAMESPACE");
	ir->gname = fake_jstr(ir->env, "ISTIO_META_AUTO_REGISTER_GROUP");
	ir->network = fake_jstr(ir->env, "ISTIO_META_NETWORK");
	ko = json_object_get(claims, "kubernetes.io");
	if (!json_is_object(ir->env)) {
		ierr(rs, 400, "the body is not {\"ip\": ..., \"env\": {...}}");
	} else if (inet_pton(AF_INET, ir->ip, addr) != 1 &&
	           inet_pton(AF_INET6, ir->ip, addr) != 1) {
		ierr(rs, 400, "ip \"%.64s\" is not an IP address", ir->ip);
	} else if (!*ir->ns || !fake_name_ok(ir->ns, 63)) {
		ierr(rs, 400, "POD_NAMESPACE is missing or not a namespace name");
	} else if (!*ir->gname || !fake_name_ok(ir->gname, 253)) {
		ierr(rs, 400, "auto-registration failed: "
		     "ISTIO_META_AUTO_REGISTER_GROUP is missing or not a name");
	} else if (*ir->network && !fake_name_ok(ir->network, 63)) {
		ierr(rs, 400, "ISTIO_META_NETWORK \"%.64s\" is not a name",
		     ir->network);
	} else if (!kind_of(f, rq->kc, "workloadgroups", &ir->wg) ||
	           !kind_of(f, rq->kc, "workloadentries", &ir->we) ||
	           (ir->group = kstore_get(f, rq->kc, &ir->wg, ir->ns,
	                                   ir->gname)) == NULL) {
		ierr(rs, 404, "auto-registration WorkloadEntry of %s failed: "
		     "cannot find WorkloadGroup %s/%s", ir->ip, ir->ns, ir->gname);
	} else {
		want_sa = fake_jstr(json_object_get(json_object_get(
		        ir->group, "spec"), "template"), "serviceAccount");
		if (!*want_sa)
			want_sa = "default";
		if (strcmp(fake_jstr(ko, "namespace"), ir->ns) ||
		    strcmp(fake_jstr(json_object_get(ko, "serviceaccount"),
		                     "name"), want_sa)) {
			ierr(rs, 403, "authorization failed: no identities "
			     "([spiffe://cluster.local/ns/%s/sa/%s]) matched %s/%s",
			     fake_jstr(ko, "namespace"),
			     fake_jstr(json_object_get(ko, "serviceaccount"), "name"),
			     ir->ns, want_sa);
		} else {
			kistiod_entry_name(ir->gname, ir->ip, ir->network, ir->name,
			                   sizeof(ir->name));
			rc = 0;
		}
	}
	json_decref(claims);
	return rc;
}

/* The WorkloadEntry istiod's workloadEntryFromGroup makes (new ref). */
static json_t *
entry_from_group(struct ireq *ir, const char *now)
{
	json_t *g = ir->group, *gspec = json_object_get(g, "spec");
	json_t *tmpl = json_object_get(gspec, "template");
	json_t *gmeta = json_object_get(gspec, "metadata");
	json_t *spec = json_is_object(tmpl) ? json_deep_copy(tmpl)
	                                    : json_object();
	json_t *labels = json_object(), *ann = json_object(), *x;
	json_t *gm = json_object_get(g, "metadata");
	const char *k;

	/* labels: template < group metadata; annotations: group's < ours */
	json_object_update(labels, json_object_get(spec, "labels"));
	json_object_update(labels, json_object_get(gmeta, "labels"));
	json_object_foreach(json_object_get(gmeta, "annotations"), k, x)
		json_object_set(ann, k, x);
	json_object_set_new(ann, ANN_GROUP, json_string(ir->gname));
	json_object_set_new(ann, ANN_CTL, json_string("istiod"));
	json_object_set_new(ann, ANN_CONN, json_string(now));
	if (json_object_get(gspec, "probe") != NULL)
		json_object_set_new(ann, ANN_HC, json_string("true"));
	json_object_set_new(spec, "address", json_string(ir->ip));
	if (json_object_size(labels) > 0)
		json_object_set(spec, "labels", labels);
	if (*ir->network)
		json_object_set_new(spec, "network", json_string(ir->network));
	return json_pack("{s:s, s:s, s:{s:s, s:s, s:o, s:o, s:[{s:s, s:s, s:s, "
	                 "s:s, s:b}]}, s:o}",
	                 "apiVersion", "networking.istio.io/v1",
	                 "kind", "WorkloadEntry", "metadata",
	                 "name", ir->name, "namespace", ir->ns, "labels", labels,
	                 "annotations", ann, "ownerReferences",
	                 "apiVersion", "networking.istio.io/v1",
	                 "kind", "WorkloadGroup", "name", ir->gname,
	                 "uid", fake_jstr(gm, "uid"), "controller", 1,
	                 "spec", spec);
}

static void
answer(struct fresp *rs, const struct ireq *ir)
{
	resp_json(rs, 200, json_pack("{s:{s:s, s:s}}", "workloadEntry",
	                             "namespace", ir->ns, "name", ir->name));
}

static void
do_register(struct fake *f, struct freq *rq, struct fresp *rs,
            struct ireq *ir)
{
	json_t *live = kstore_get(f, rq->kc, &ir->we, ir->ns, ir->name), *obj;
	char now[64], key[1024];

	now_rfc3339(f, now, sizeof(now));
	obj = entry_from_group(ir, now);
	if (live != NULL) {
		/* a reconnect: the same object, connected again, its status
		 * kept */
		json_t *m = json_object_get(obj, "metadata");
		json_t *lm = json_object_get(live, "metadata");
		const char *keep[] = {"uid", "creationTimestamp", "generation"};
		for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
			if (json_object_get(lm, keep[i]) != NULL)
				json_object_set(m, keep[i], json_object_get(lm, keep[i]));
		if (json_object_get(live, "status") != NULL)
			json_object_set(obj, "status", json_object_get(live, "status"));
	} else {
		kobj_key(key, sizeof(key), &ir->we, ir->ns, ir->name);
		kobj_init_meta(f, rq->kc, key, obj);
	}
	kstore_put(f, rq->kc, &ir->we, ir->ns, ir->name, obj);
	answer(rs, ir);
}

/* The live entry as a copy to change, or NULL with a 404 answered. */
static json_t *
entry_copy(struct fake *f, struct freq *rq, struct fresp *rs,
           struct ireq *ir)
{
	json_t *live = kstore_get(f, rq->kc, &ir->we, ir->ns, ir->name);

	if (live == NULL) {
		ierr(rs, 404, "WorkloadEntry %s/%s is not registered: register "
		     "first", ir->ns, ir->name);
		return NULL;
	}
	return json_deep_copy(live);
}

static void
do_health(struct fake *f, struct freq *rq, struct fresp *rs, struct ireq *ir)
{
	json_t *obj, *hv = json_object_get(ir->body, "healthy"), *conds, *c;
	json_t *old = NULL;
	const char *status, *msg = fake_jstr(ir->body, "message");
	char now[64];
	size_t i;

	if (!json_is_boolean(hv)) {
		ierr(rs, 400, "health: \"healthy\" must be true or false");
		return;
	}
	if ((obj = entry_copy(f, rq, rs, ir)) == NULL)
		return;
	status = json_is_true(hv) ? "True" : "False";
	now_rfc3339(f, now, sizeof(now));
	conds = json_object_get(json_object_get(obj, "status"), "conditions");
	json_array_foreach(conds, i, c)
		if (!strcmp(fake_jstr(c, "type"), "Healthy"))
			old = c;
	c = json_pack("{s:s, s:s, s:s, s:s}", "type", "Healthy", "status",
	              status, "lastProbeTime", now, "lastTransitionTime",
	              old && !strcmp(fake_jstr(old, "status"), status)
	                      ? fake_jstr(old, "lastTransitionTime") : now);
	if (*msg)
		json_object_set_new(c, "message", json_string(msg));
	if (!json_is_true(hv))
		json_object_set_new(c, "reason", json_string("HTTPGet"));
	json_object_set_new(obj, "status",
	                    json_pack("{s:[o]}", "conditions", c));
	kstore_put(f, rq->kc, &ir->we, ir->ns, ir->name, obj);
	answer(rs, ir);
}

static void
do_disconnect(struct fake *f, struct freq *rq, struct fresp *rs,
              struct ireq *ir)
{
	json_t *obj = entry_copy(f, rq, rs, ir), *ann, *gone;
	char now[64], key[1024];

	if (obj == NULL)
		return;
	now_rfc3339(f, now, sizeof(now));
	ann = json_object_get(json_object_get(obj, "metadata"), "annotations");
	json_object_set_new(ann, ANN_DISC, json_string(now));
	kstore_put(f, rq->kc, &ir->we, ir->ns, ir->name, obj);
	/* when it goes: in the store, so --state keeps it */
	gone = json_object_get(kstore(f, rq->kc), "istiod_cleanup");
	if (!json_is_object(gone)) {
		gone = json_object();
		json_object_set_new(kstore(f, rq->kc), "istiod_cleanup", gone);
	}
	kobj_key(key, sizeof(key), &ir->we, ir->ns, ir->name);
	json_object_set_new(gone, key, json_integer(
	        fake_clock_ms(f) + fst(f)->opt.istiod_grace_ms));
	answer(rs, ir);
}

bool
kistiod_tick(struct fake *f, struct kcluster *kc)
{
	json_t *gone = json_object_get(kstore(f, kc), "istiod_cleanup");
	json_t *objs = json_object_get(kstore(f, kc), "objects"), *v, *keys;
	long long now = fake_clock_ms(f);
	bool changed = false;
	size_t i;

	if (json_object_size(gone) == 0)
		return false;
	keys = fake_sorted_keys(gone, "");
	json_array_foreach(keys, i, v) {
		const char *key = json_string_value(v);
		json_t *obj = json_object_get(objs, key);
		json_t *ann = json_object_get(json_object_get(obj, "metadata"),
		                              "annotations");
		if (json_integer_value(json_object_get(gone, key)) > now)
			continue;
		/* reconnected since: it stays */
		if (obj != NULL && json_object_get(ann, ANN_DISC) != NULL) {
			char uid[64];
			snprintf(uid, sizeof(uid), "%s",
			         fake_jstr(json_object_get(obj, "metadata"), "uid"));
			kstore_del_key(f, kc, key);
			kgc_owner_deleted(f, kc, uid, NULL);
			changed = true;
		}
		json_object_del(gone, key);
	}
	json_decref(keys);
	return changed;
}

void
kistiod_lb_sync(struct fake *f, struct kcluster *kc, const struct kkind *k,
                const json_t *obj)
{
	json_t *ing, *x;
	size_t i;
	char name[300];
	struct mv_err err;

	if (strcmp(k->group, "") || strcmp(k->plural, "services") ||
	    fst(f)->net == NULL || fst(f)->net->listen_plain == NULL)
		return;
	ing = json_object_get(json_object_get(json_object_get(obj, "status"),
	                                      "loadBalancer"), "ingress");
	json_array_foreach(ing, i, x) {
		const char *ip = fake_jstr(x, "ip");
		struct in_addr a;
		bool have = false;
		/* loopback, or link-local (169.254/16, never routed): a test
		 * booting a real VM puts its LB range there, on lo */
		if (inet_pton(AF_INET, ip, &a) != 1 ||
		    ((ntohl(a.s_addr) >> 24) != 127 &&
		     (ntohl(a.s_addr) >> 16) != 0xa9fe))
			continue;
		for (size_t j = 0; j < kc->n_lb; j++)
			have = have || !strcmp(kc->lb_ip[j], ip);
		if (have || kc->n_lb >= FAKE_MAX_LB)
			continue;
		snprintf(name, sizeof(name), FAKE_ISTIOD_LISTENER "%s", kc->name);
		mv_err_clear(&err);
		if (fst(f)->net->listen_plain(f, name, kc, ip, FAKE_ISTIOD_PORT,
		                              &kc->lb_l[kc->n_lb], &err) != 0) {
			/* the Service stays; a VM will not reach istiod there */
			mv_warn("fake: cluster %s: istiod on %s:%d: %s", kc->name, ip,
			        FAKE_ISTIOD_PORT, err.msg);
			continue;
		}
		snprintf(kc->lb_ip[kc->n_lb], sizeof(kc->lb_ip[0]), "%s", ip);
		kc->n_lb++;
		mv_debug("fake: cluster %s: istiod on http://%s:%d", kc->name, ip,
		         FAKE_ISTIOD_PORT);
	}
}

void
kistiod_lb_all(struct fake *f, struct kcluster *kc)
{
	static const struct kkind svc = {"", "v1", "Service", "services",
	                                 "service", "svc", true, 0, NULL};
	json_t *objs = json_object_get(kstore(f, kc), "objects"), *obj;
	const char *key;

	json_object_foreach(objs, key, obj)
		if (!strncmp(key, "core/services/", 14))
			kistiod_lb_sync(f, kc, &svc, obj);
}

bool
kistiod_is_request(const struct freq *rq)
{
	return rq->n_seg >= 2 && !strcmp(rq->seg[0], "meshvm") &&
	       !strcmp(rq->seg[1], "v1");
}

void
kistiod_dispatch(struct fake *f, struct freq *rq, struct fresp *rs)
{
	const char *what = rq->n_seg == 3 ? rq->seg[2] : "";
	struct ireq ir;

	if (strcmp(what, "register") && strcmp(what, "health") &&
	    strcmp(what, "disconnect")) {
		ierr(rs, 404, "no such istiod call: %s", rq->path);
		return;
	}
	if (strcmp(rq->method, "POST") != 0) {
		resp_header(rs, "Allow", "POST");
		ierr(rs, 405, "use POST");
		return;
	}
	if (ireq_load(f, rq, rs, &ir) == 0) {
		if (!strcmp(what, "register"))
			do_register(f, rq, rs, &ir);
		else if (!strcmp(what, "health"))
			do_health(f, rq, rs, &ir);
		else
			do_disconnect(f, rq, rs, &ir);
	}
	json_decref(ir.body);
}
