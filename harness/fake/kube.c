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
#include "harness/fake/svc.h"
#include "harness/fake/kube_private.h"

/* ---- clusters ---- */

struct kcluster *
kube_cluster_by_name(struct fake *f, const char *name)
{
	for (size_t i = 0; i < fst(f)->n_kc; i++)
		if (strcmp(fst(f)->kc[i]->name, name) == 0)
			return fst(f)->kc[i];
	return NULL;
}

static struct kcluster *
by_key(struct fake *f, const char *key, size_t *index)
{
	for (size_t i = 0; i < fst(f)->n_kc; i++)
		if (strcmp(fst(f)->kc[i]->key, key) == 0) {
			if (index)
				*index = i;
			return fst(f)->kc[i];
		}
	return NULL;
}

void
kube_cluster_free(struct fake *f, struct kcluster *kc)
{
	if (kc == NULL)
		return;
	if (kc->l != NULL && fst(f)->net != NULL)
		fst(f)->net->stop(kc->l);
	for (size_t i = 0; i < kc->n_lb; i++)
		if (kc->lb_l[i] != NULL && fst(f)->net != NULL)
			fst(f)->net->stop(kc->lb_l[i]);
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

	if (kc != NULL && (kc->l != NULL || !fst(f)->started))
		return kc;
	if (kc == NULL) {
		kc = calloc(1, sizeof(*kc));
		nv = realloc(fst(f)->kc, (fst(f)->n_kc + 1) * sizeof(*nv));
		if (kc == NULL || nv == NULL) {
			free(kc);
			mv_err_set(err, MV_EXIT_FAIL, "out of memory");
			return NULL;
		}
		fst(f)->kc = nv;
		nv[fst(f)->n_kc++] = kc;
		kc->key = strdup(key);
		kc->name = strdup(name);
		sscanf(key, "%255[^/]/%127[^/]", p, l);
		kc->issuer = mv_strfmt("https://container.googleapis.com/"
		                                "v1/projects/%s/locations/%s/"
		                                "clusters/%s", p, l, name);
		/* what every cluster starts with */
		if (kstore_init(f, kc))
			kctl_namespace_defaults(f, kc, NULL);
		/* watches can start from here on */
		kc->events_from = (uint64_t)json_integer_value(
		        json_object_get(kstore(f, kc), "rv"));
	}
	if (!fst(f)->started || fst(f)->net == NULL)
		return kc;
	if (fake_pki_ensure(f, err) != 0)
		return NULL;
	/* The saved port first (a restarted fake keeps kubeconfigs valid),
	 * any free one if it is taken. */
	if (port > 0 && fst(f)->net->listen(f, name, kc, port, &kc->l,
	                                    NULL) == 0) {
		kc->port = fst(f)->net->port(kc->l);
		kistiod_lb_all(f, kc);
		return kc;
	}
	if (fst(f)->net->listen(f, name, kc, 0, &kc->l, err) != 0)
		return NULL;
	kc->port = fst(f)->net->port(kc->l);
	kistiod_lb_all(f, kc);
	mv_debug("fake: cluster %s API on https://%s:%d", key, fst(f)->host,
	         kc->port);
	return kc;
}

void
kube_cluster_remove(struct fake *f, const char *key)
{
	size_t i;
	struct kcluster *kc = by_key(f, key, &i), **nv;

	if (kc == NULL)
		return;
	fst(f)->kc[i] = fst(f)->kc[--fst(f)->n_kc];
	kc->removed = true;
	json_object_del(fake_db(f, "kube"), key);
	nv = realloc(fst(f)->closing, (fst(f)->n_closing + 1) * sizeof(*nv));
	if (nv == NULL)
		return; /* leaks one cluster rather than crash */
	fst(f)->closing = nv;
	nv[fst(f)->n_closing++] = kc;
}

void
kube_free_all(struct fake *f)
{
	struct kcluster **kc;
	size_t n;

	/* Detach under the lock: watches of clusters whose listeners are
	 * still running look the clusters up there, and must find none
	 * rather than one being freed. */
	pthread_mutex_lock(&fst(f)->lock);
	kc = fst(f)->kc;
	n = fst(f)->n_kc;
	fst(f)->kc = NULL;
	fst(f)->n_kc = 0;
	pthread_mutex_unlock(&fst(f)->lock);
	for (size_t i = 0; i < n; i++)
		kube_cluster_free(f, kc[i]);
	free(kc);
}
