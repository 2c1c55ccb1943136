/* harness/fake/kube_watch.c - watch=true on a collection: a stream of
 * {"type": ADDED|MODIFIED|DELETED|ERROR, "object": ...} lines.
 *
 * A watch from resourceVersion "" or "0" first sends every matching
 * object as ADDED; from a later version it sends what changed since, out
 * of the cluster's recent history (kc->events), or a 410 Expired ERROR
 * when the history no longer reaches back that far (the client lists
 * again).  Then it stays open until timeoutSeconds (at most 5 minutes),
 * polled every FAKE_STREAM_POLL_MS without holding a worker thread.
 * Deployments also get a MODIFIED when their simulated status changes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness/fake/kube_private.h"
#include "harness/fake/svc.h"

#define WATCH_MAX_MS (300 * 1000)
#define WATCH_DEFAULT_MS (60 * 1000)

struct kwatch {
	char *cluster;      /* key of the cluster (it may go meanwhile) */
	struct kkind kind;  /* strings copied below */
	char group[128], version[64], kindname[128], plural[128];
	char prefix[512];   /* object keys of interest */
	char gv[256];
	struct ksel *sel;
	uint64_t rv;        /* last version sent */
	long long deadline;
	json_t *views;      /* deployments: key -> last status sent */
	bool expired;       /* fell behind the history: 410 sent, ends */
};

static void
watch_free(void *p)
{
	struct kwatch *w = p;

	if (w == NULL)
		return;
	free(w->cluster);
	ksel_free(w->sel);
	json_decref(w->views);
	free(w);
}

/* Append one event line to a growing buffer. */
static void
emit(char **buf, size_t *len, const char *type, json_t *obj)
{
	json_t *ev = json_pack("{s:s, s:O}", "type", type, "object", obj);
	char *s = json_dumps(ev, JSON_COMPACT);
	size_t n = s ? strlen(s) : 0;
	char *nb = s ? realloc(*buf, *len + n + 2) : NULL;

	if (nb != NULL) {
		memcpy(nb + *len, s, n);
		nb[*len + n] = '\n';
		*len += n + 1;
		nb[*len] = '\0';
		*buf = nb;
	}
	free(s);
	json_decref(ev);
}

static json_t *
as_version(struct fake *f, struct kcluster *kc, struct kwatch *w,
           json_t *obj)
{
	json_t *v = kctl_view(f, kc, &w->kind, obj);

	if (strcmp(fake_jstr(v, "apiVersion"), w->gv) != 0) {
		json_t *c = json_deep_copy(v);
		json_decref(v);
		json_object_set_new(c, "apiVersion", json_string(w->gv));
		v = c;
	}
	return v;
}

static bool
interested(const struct kwatch *w, const char *key, json_t *obj)
{
	return strncmp(key, w->prefix, strlen(w->prefix)) == 0 &&
	       ksel_match(w->sel, obj);
}

/* Deployments: a status the clock changed since it was last sent. */
static void
views_changed(struct fake *f, struct kcluster *kc, struct kwatch *w,
              char **buf, size_t *len)
{
	json_t *objs = json_object_get(kstore(f, kc), "objects"), *obj;
	const char *key;

	if (w->views == NULL)
		return;
	json_object_foreach(objs, key, obj) {
		json_t *v, *last;
		if (!interested(w, key, obj))
			continue;
		v = as_version(f, kc, w, obj);
		last = json_object_get(w->views, key);
		if (last != NULL && !json_equal(last, json_object_get(v, "status")))
			emit(buf, len, "MODIFIED", v);
		json_object_set(w->views, key, json_object_get(v, "status"));
		json_decref(v);
	}
}

/* The API server's answer to a watch older than its history: an ERROR
 * event with a 410 Status; the client lists again. */
static void
emit_expired(struct kcluster *kc, struct kwatch *w, char **buf, size_t *len)
{
	char msg[128];
	json_t *st;

	snprintf(msg, sizeof(msg), "too old resource version: %llu (%llu)",
	         (unsigned long long)w->rv,
	         (unsigned long long)kc->events_from + 1);
	st = kube_status(410, "Expired", msg);
	emit(buf, len, "ERROR", st);
	json_decref(st);
	w->expired = true;
}

static int
collect(struct fake *f, struct kcluster *kc, struct kwatch *w, char **buf,
        size_t *len)
{
	json_t *ev;
	size_t i;

	/* A watcher that did not read while the history moved past what it
	 * had seen has lost events: say so rather than skip them. */
	if (w->rv < kc->events_from) {
		emit_expired(kc, w, buf, len);
		return 1;
	}
	json_array_foreach(kc->events, i, ev) {
		uint64_t rv = (uint64_t)json_integer_value(json_object_get(ev, "rv"));
		json_t *obj = json_object_get(ev, "object"), *v;
		if (rv <= w->rv)
			continue;
		w->rv = rv;
		if (!interested(w, fake_jstr(ev, "key"), obj))
			continue;
		v = as_version(f, kc, w, obj);
		emit(buf, len, fake_jstr(ev, "type"), v);
		if (w->views != NULL) {
			if (!strcmp(fake_jstr(ev, "type"), "DELETED"))
				json_object_del(w->views, fake_jstr(ev, "key"));
			else
				json_object_set(w->views, fake_jstr(ev, "key"),
				                json_object_get(v, "status"));
		}
		json_decref(v);
	}
	views_changed(f, kc, w, buf, len);
	return *len > 0;
}

static struct kcluster *
cluster_of(struct fake *f, const char *key)
{
	for (size_t i = 0; i < fst(f)->n_kc; i++)
		if (!strcmp(fst(f)->kc[i]->key, key) && !fst(f)->kc[i]->removed)
			return fst(f)->kc[i];
	return NULL;
}

static int
watch_poll(struct fake *f, void *p, char **out, size_t *len)
{
	struct kwatch *w = p;
	struct kcluster *kc;
	int rc;

	*out = NULL;
	*len = 0;
	pthread_mutex_lock(&fst(f)->lock);
	kc = cluster_of(f, w->cluster);
	if (kc == NULL || fst(f)->stopped || w->expired) {
		rc = -1;
	} else {
		if (kctl_tick(f, kc))
			fst(f)->gen++; /* cached answers are stale now */
		rc = collect(f, kc, w, out, len);
		if (rc == 0 && fake_ms(false) >= w->deadline)
			rc = -1;
	}
	pthread_mutex_unlock(&fst(f)->lock);
	return rc;
}

void
kube_watch(struct fake *f, struct freq *rq, const struct kkind *k,
           const char *ns, const char *gv, struct fresp *rs)
{
	struct kwatch *w = calloc(1, sizeof(*w));
	const char *rvs = freq_arg(rq, "resourceVersion");
	const char *ts = freq_arg(rq, "timeoutSeconds");
	json_t *objs = json_object_get(kstore(f, rq->kc), "objects");
	char err[512], *buf = NULL, crv[32];
	size_t len = 0;
	long long ms = WATCH_DEFAULT_MS;

	if (w == NULL) {
		kube_err(rs, 500, NULL, NULL, "out of memory");
		return;
	}
	if (ksel_parse(freq_arg(rq, "labelSelector"),
	               freq_arg(rq, "fieldSelector"), &w->sel, err,
	               sizeof(err)) != 0) {
		watch_free(w);
		kube_err(rs, 400, "BadRequest", NULL, "%s", err);
		return;
	}
	snprintf(w->group, sizeof(w->group), "%s", k->group);
	snprintf(w->version, sizeof(w->version), "%s", k->version);
	snprintf(w->kindname, sizeof(w->kindname), "%s", k->kind);
	snprintf(w->plural, sizeof(w->plural), "%s", k->plural);
	w->kind = *k;
	w->kind.group = w->group;
	w->kind.version = w->version;
	w->kind.kind = w->kindname;
	w->kind.plural = w->plural;
	w->kind.singular = w->plural;
	w->kind.short_names = NULL;
	w->kind.crd_schema = NULL;
	w->cluster = strdup(rq->kc->key);
	snprintf(w->gv, sizeof(w->gv), "%s", gv);
	snprintf(w->prefix, sizeof(w->prefix), "%s/%s/%s%s", kkind_gkey(k),
	         k->plural, ns ? ns : "", ns ? "/" : "");
	if (!strcmp(k->group, "apps") && !strcmp(k->plural, "deployments"))
		w->views = json_object();
	if (ts != NULL) {
		/* clamped before multiplying: a huge value cannot overflow */
		long long secs = strtoll(ts, NULL, 10);
		if (secs > WATCH_MAX_MS / 1000)
			ms = WATCH_MAX_MS;
		else if (secs > 0)
			ms = secs * 1000;
	}
	w->deadline = fake_ms(false) + ms;
	kstore_rv(f, rq->kc, crv, sizeof(crv));
	if (rvs == NULL || *rvs == '\0' || !strcmp(rvs, "0")) {
		/* the current state first */
		json_t *keys = fake_sorted_keys(objs, w->prefix), *key;
		size_t i;
		json_array_foreach(keys, i, key) {
			json_t *obj = json_object_get(objs, json_string_value(key)), *v;
			if (!ksel_match(w->sel, obj))
				continue;
			v = as_version(f, rq->kc, w, obj);
			emit(&buf, &len, "ADDED", v);
			if (w->views != NULL)
				json_object_set(w->views, json_string_value(key),
				                json_object_get(v, "status"));
			json_decref(v);
		}
		json_decref(keys);
		w->rv = strtoull(crv, NULL, 10);
	} else {
		w->rv = strtoull(rvs, NULL, 10);
		if (w->rv < rq->kc->events_from) {
			emit_expired(rq->kc, w, &buf, &len);
			resp_bytes(rs, 200, "application/json", buf, len);
			free(buf);
			watch_free(w);
			return;
		}
		/* the views as they are now, so changes can be told */
		if (w->views != NULL) {
			const char *key;
			json_t *obj;
			json_object_foreach(objs, key, obj)
				if (interested(w, key, obj)) {
					json_t *v = as_version(f, rq->kc, w, obj);
					json_object_set(w->views, key,
					                json_object_get(v, "status"));
					json_decref(v);
				}
		}
		collect(f, rq->kc, w, &buf, &len);
	}
	resp_bytes(rs, 200, "application/json", buf ? buf : "", len);
	free(buf);
	rs->stream = w;
	rs->stream_poll = watch_poll;
	rs->stream_free = watch_free;
}
