/* harness/fake/kube.c - one Kubernetes API per GKE cluster: listeners,
 * authentication, and the routing of Kubernetes requests.
 *
 * Each cluster gets an HTTPS listener on 127.0.0.1 with the fake's server
 * certificate (signed by the CA in masterAuth.clusterCaCertificate, IP
 * SAN 127.0.0.1).  Requests reach kube_dispatch() with rq->kc set.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/log.h"
#include "harness/fake/fake_private.h"
#include "harness/fake/kube_private.h"

const char *
kube_reason_for(int code)
{
	switch (code) {
	case 400: return "BadRequest";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "NotFound";
	case 405: return "MethodNotAllowed";
	case 406: return "NotAcceptable";
	case 409: return "Conflict";
	case 410: return "Expired";
	case 413: return "RequestEntityTooLarge";
	case 415: return "UnsupportedMediaType";
	case 422: return "Invalid";
	case 429: return "TooManyRequests";
	case 500: return "InternalError";
	case 503: return "ServiceUnavailable";
	case 504: return "Timeout";
	default: return code >= 500 ? "InternalError" : "BadRequest";
	}
}

json_t *
kube_status(int code, const char *reason, const char *msg)
{
	return json_pack("{s:s, s:s, s:{}, s:s, s:s, s:s, s:i}", "kind",
	                 "Status", "apiVersion", "v1", "metadata", "status",
	                 code < 400 ? "Success" : "Failure", "message", msg,
	                 "reason", reason ? reason : kube_reason_for(code),
	                 "code", code);
}

void
kube_err(struct fresp *rs, int code, const char *reason, json_t *details,
         const char *fmt, ...)
{
	char msg[2048];
	va_list ap;
	json_t *st;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	st = kube_status(code, reason, msg);
	if (details != NULL)
		json_object_set_new(st, "details", details);
	resp_json(rs, code, st);
	snprintf(rs->ctype, sizeof(rs->ctype), "application/json");
}

/* ---- clusters ---- */

struct kcluster *
kube_cluster_by_name(struct fake *f, const char *name)
{
	for (size_t i = 0; i < f->n_kc; i++)
		if (strcmp(f->kc[i]->name, name) == 0)
			return f->kc[i];
	return NULL;
}

static struct kcluster *
by_key(struct fake *f, const char *key, size_t *index)
{
	for (size_t i = 0; i < f->n_kc; i++)
		if (strcmp(f->kc[i]->key, key) == 0) {
			if (index)
				*index = i;
			return f->kc[i];
		}
	return NULL;
}

void
kube_cluster_free(struct kcluster *kc)
{
	if (kc == NULL)
		return;
	listener_stop(kc->l);
	json_decref(kc->events);
	free(kc->key);
	free(kc->name);
	free(kc->issuer);
	free(kc);
}

struct kcluster *
kube_cluster_add(struct fake *f, const char *key, const char *name,
                 json_t *cluster, struct mv_err *err)
{
	struct kcluster *kc = by_key(f, key, NULL), **nv;
	const char *ep = fake_jstr(cluster, "endpoint");
	const char *colon = strrchr(ep, ':');
	char p[256], l[128];
	int port = colon ? atoi(colon + 1) : 0;

	if (kc != NULL && (kc->l != NULL || !f->started))
		return kc;
	if (kc == NULL) {
		kc = calloc(1, sizeof(*kc));
		nv = realloc(f->kc, (f->n_kc + 1) * sizeof(*nv));
		if (kc == NULL || nv == NULL) {
			free(kc);
			mv_err_set(err, MV_EXIT_FAIL, "out of memory");
			return NULL;
		}
		f->kc = nv;
		nv[f->n_kc++] = kc;
		kc->key = strdup(key);
		kc->name = strdup(name);
		sscanf(key, "%255[^/]/%127[^/]", p, l);
		kc->issuer = mv_strfmt("https://container.googleapis.com/"
		                                "v1/projects/%s/locations/%s/"
		                                "clusters/%s", p, l, name);
		kstore_init(f, kc);
		/* watches can start from here on */
		kc->events_from = (uint64_t)json_integer_value(
		        json_object_get(kstore(f, kc), "rv"));
	}
	if (!f->started)
		return kc;
	if (fake_pki_ensure(f, err) != 0)
		return NULL;
	/* The saved port first (a restarted fake keeps kubeconfigs valid),
	 * any free one if it is taken. */
	if (port > 0 && listener_start(f, name, kc, "127.0.0.1", port, true,
	                               &kc->l, NULL) == 0) {
		kc->port = listener_port(kc->l);
		return kc;
	}
	if (listener_start(f, name, kc, "127.0.0.1", 0, true, &kc->l, err) != 0)
		return NULL;
	kc->port = listener_port(kc->l);
	mv_debug("fake: cluster %s API on https://127.0.0.1:%d", key, kc->port);
	return kc;
}

void
kube_cluster_remove(struct fake *f, const char *key)
{
	size_t i;
	struct kcluster *kc = by_key(f, key, &i), **nv;

	if (kc == NULL)
		return;
	f->kc[i] = f->kc[--f->n_kc];
	kc->removed = true;
	json_object_del(fake_db(f, "kube"), key);
	nv = realloc(f->closing, (f->n_closing + 1) * sizeof(*nv));
	if (nv == NULL)
		return; /* leaks one cluster rather than crash */
	f->closing = nv;
	nv[f->n_closing++] = kc;
}

void
kube_free_all(struct fake *f)
{
	for (size_t i = 0; i < f->n_kc; i++)
		kube_cluster_free(f->kc[i]);
	free(f->kc);
	f->kc = NULL;
	f->n_kc = 0;
}
