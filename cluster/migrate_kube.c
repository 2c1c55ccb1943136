/* cluster/migrate_kube.c - the migration's Kubernetes side: the
 * DestinationRule, the VirtualService's weights, the VM side's version
 * label and the GKE Deployment (migrate_int.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/kube.h"
#include "cluster/manifests.h"
#include "cluster/migrate_int.h"
#include "cluster/steps/kobj.h"
#include "core/log.h"
#include "core/xalloc.h"

#define DEPLOY_DEADLINE_MS (10L * 60 * 1000)

void
migrate_svc_of(const struct plan_ctx *ctx, struct migrate_svc *s)
{
	s->name = ctx->cfg->service.name;
	s->ns = ctx->cfg->service.namespace_;
	s->id = mv_state_id(ctx->state);
}

/* Is the cluster's VirtualService recorded as created? */
static bool
recorded(const struct plan_ctx *ctx, const struct mv_cluster_config *c,
         const struct migrate_svc *s)
{
	char *name = mv_xstrfmt(MIGRATE_ISTIO_API "|VirtualService|%s|"
	                        MIGRATE_VS_NAME, s->ns);
	json_t *rec = step_record_get(ctx, "k8s", c->name, name);
	const char *phase = mv_state_str(rec, "phase");

	free(name);
	return phase != NULL && !strcmp(phase, "created");
}

bool
migrate_recorded(const struct plan_ctx *ctx)
{
	const struct mv_config *cfg = ctx->cfg;
	char *name = mv_xstrfmt(MIGRATE_ISTIO_API "|VirtualService|%s|"
	                        MIGRATE_VS_NAME, cfg->service.namespace_);
	bool all = cfg->n_clusters > 0;

	for (size_t i = 0; i < cfg->n_clusters && all; i++)
		all = step_record_get(ctx, "k8s", cfg->clusters[i].name, name) !=
		      NULL;
	free(name);
	return all;
}

static int
ready(const struct plan_ctx *ctx, const struct mv_cluster_config *c,
      struct mv_err *err)
{
	if (kobj_cluster_ready(ctx, c))
		return 0;
	return mv_err_set(err, MV_EXIT_USAGE, "migrate: cluster %s is not "
	                  "made yet: run `meshvm up` first", c->name);
}

int
migrate_set_weights(struct plan_ctx *ctx, struct migrate_weights w,
                    struct mv_err *err)
{
	const struct mv_config *cfg = ctx->cfg;
	struct migrate_svc s;

	if (w.vm + w.gke != 100 || w.vm < 0 || w.gke < 0)
		return mv_err_set(err, MV_EXIT_FAIL, "migrate: weights %d/%d do "
		                  "not sum to 100", w.vm, w.gke);
	migrate_svc_of(ctx, &s);
	for (size_t i = 0; i < cfg->n_clusters; i++) {
		const struct mv_cluster_config *c = &cfg->clusters[i];
		json_t *vs = migrate_virtual_service(&s, w);
		struct kube *k;
		int rc;

		/* the first time, kobj records the intent and applies; then a
		 * server-side apply by the same manager changes the weights */
		rc = ready(ctx, c, err);
		if (rc == 0 && !recorded(ctx, c, &s))
			rc = kobj_ensure(ctx, MIGRATE_STEP, c, vs, NULL, err);
		else if (rc == 0 && !ctx->dry_run)
			rc = step_kube(ctx, c, &k, err) ||
			     kube_apply(k, vs, KOBJ_MANAGER, false, NULL, err);
		json_decref(vs);
		if (rc != 0)
			return mv_err_prefix(err, "migrate: %s: VirtualService %s "
			                     "to %d/%d", c->name, MIGRATE_VS_NAME, w.vm,
			                     w.gke);
	}
	/* read back: every caller must split the same */
	for (size_t i = 0; i < cfg->n_clusters && !ctx->dry_run; i++) {
		const struct mv_cluster_config *c = &cfg->clusters[i];
		struct migrate_weights got;
		json_t *live = NULL;
		struct kube *k;
		char why[200];
		int rc = step_kube(ctx, c, &k, err);

		if (rc == 0)
			rc = kube_get(k, MIGRATE_ISTIO_API, "VirtualService", s.ns,
			              MIGRATE_VS_NAME, &live, err);
		if (rc == 1)
			rc = mv_err_set(err, MV_EXIT_CLOUD, "gone right after the "
			                "apply");
		if (rc == 0 && migrate_vs_weights(live, &got, why, sizeof(why)))
			rc = mv_err_set(err, MV_EXIT_CLOUD, "%s", why);
		else if (rc == 0 && (got.vm != w.vm || got.gke != w.gke))
			rc = mv_err_set(err, MV_EXIT_CLOUD, "reads back %d/%d, not "
			                "%d/%d", got.vm, got.gke, w.vm, w.gke);
		json_decref(live);
		if (rc != 0)
			return mv_err_prefix(err, "migrate: %s: VirtualService %s",
			                     c->name, MIGRATE_VS_NAME);
	}
	return 0;
}

/* PATCH a JSON merge patch onto an object. */
static int
merge_patch(struct kube *k, const char *av, const char *kind, const char *ns,
            const char *name, const json_t *patch, struct mv_err *err)
{
	char *path = NULL, *body;
	int rc;

	if (kube_path(k, av, kind, ns, name, &path, err) != 0)
		return -1;
	body = json_dumps(patch, JSON_COMPACT);
	if (body == NULL)
		abort();
	rc = kube_call(k, "PATCH", path, "application/merge-patch+json", body,
	               strlen(body), true, NULL, err);
	free(body);
	free(path);
	return rc;
}

/* version=vm on the WorkloadGroup (new entries) and on the entries it
 * made (istiod copies the group's labels only when it registers one). */
static int
label_vm_side(struct plan_ctx *ctx, const struct mv_cluster_config *c,
              const struct migrate_svc *s, struct mv_err *err)
{
	json_t *wg = NULL, *items = NULL, *e, *gp = migrate_vm_label_patch(0);
	json_t *ep = migrate_vm_label_patch(1);
	struct kube *k;
	size_t i;
	int rc = step_kube(ctx, c, &k, err);

	if (rc == 0)
		rc = kube_get(k, MIGRATE_ISTIO_API, "WorkloadGroup", s->ns, s->name,
		              &wg, err);
	if (rc == 1) {
		mv_warn("migrate: %s: no WorkloadGroup %s/%s: the VM side has no "
		        "entries there", c->name, s->ns, s->name);
		rc = 0;
	} else if (rc == 0) {
		rc = merge_patch(k, MIGRATE_ISTIO_API, "WorkloadGroup", s->ns,
		                 s->name, gp, err);
		if (rc == 0)
			rc = kube_list(k, MIGRATE_ISTIO_API, "WorkloadEntry", s->ns,
			               NULL, &items, err);
		json_array_foreach(items, i, e) {
			json_t *own = json_object_get(json_object_get(e, "metadata"),
			                              "ownerReferences"), *o;
			size_t j;

			json_array_foreach(own, j, o) {
				const char *kind = json_string_value(json_object_get(o,
				                                                     "kind"));
				const char *n = json_string_value(json_object_get(o,
				                                                  "name"));
				if (rc != 0 || !kind || !n || strcmp(kind, "WorkloadGroup") ||
				    strcmp(n, s->name))
					continue;
				rc = merge_patch(k, MIGRATE_ISTIO_API, "WorkloadEntry",
				                 s->ns, json_string_value(json_object_get(
				                     json_object_get(e, "metadata"), "name")),
				                 ep, err);
				if (rc == 1) /* unregistered meanwhile */
					rc = 0;
			}
		}
	}
	json_decref(wg);
	json_decref(items);
	json_decref(gp);
	json_decref(ep);
	if (rc != 0)
		return mv_err_prefix(err, "migrate: %s: labelling the VM side "
		                     "version=vm", c->name);
	return 0;
}

/* The service's Deployment from app.manifests, as GKE runs it (new). */
static json_t *
gke_deployment(struct plan_ctx *ctx, const struct migrate_svc *s,
               struct mv_err *err)
{
	const struct manifest_obj *mo;
	struct manifests m = {0};
	json_t *dep = NULL;
	char *dir;

	if (ctx->cfg->app_.manifests == NULL) {
		mv_err_set(err, MV_EXIT_FAIL, "migrate: app.manifests is not set: "
		           "the service's Deployment comes from there");
		return NULL;
	}
	dir = kobj_config_path(ctx, ctx->cfg->app_.manifests);
	if (manifests_load_dir(&m, dir, err) != 0) {
		free(dir);
		manifests_free(&m);
		return NULL;
	}
	mo = manifests_find(&m, "Deployment", NULL, s->name);
	if (mo == NULL)
		mv_err_set(err, MV_EXIT_FAIL, "migrate: %s: no Deployment %s to "
		           "move to GKE", dir, s->name);
	else if ((dep = migrate_gke_deployment(mo->obj, s)) == NULL)
		mv_err_set(err, MV_EXIT_FAIL, "migrate: %s: Deployment %s has no "
		           "spec.selector.matchLabels or spec.template", mo->origin,
		           s->name);
	free(dir);
	manifests_free(&m);
	return dep;
}

int
migrate_setup(struct plan_ctx *ctx, struct mv_err *err)
{
	const struct mv_config *cfg = ctx->cfg;
	const struct mv_cluster_config *gke = kobj_cluster(
		ctx, cfg->migration_.cluster);
	struct migrate_weights vm_only = {100, 0};
	struct migrate_svc s;
	json_t *dep;
	struct kube *k;

	migrate_svc_of(ctx, &s);
	for (size_t i = 0; i < cfg->n_clusters; i++) {
		json_t *dr = migrate_destination_rule(&s);
		int rc = ready(ctx, &cfg->clusters[i], err);

		if (rc == 0)
			rc = kobj_ensure(ctx, MIGRATE_STEP, &cfg->clusters[i], dr,
			                 NULL, err);
		json_decref(dr);
		if (rc != 0)
			return -1;
	}
	if (migrate_set_weights(ctx, vm_only, err) != 0)
		return -1;
	/* only now may a GKE pod take traffic: the route says 100/0 */
	for (size_t i = 0; i < cfg->n_clusters; i++)
		if (!ctx->dry_run &&
		    label_vm_side(ctx, &cfg->clusters[i], &s, err) != 0)
			return -1;
	dep = gke_deployment(ctx, &s, err);
	if (dep == NULL)
		return -1;
	if (kobj_ensure(ctx, MIGRATE_STEP, gke, dep, NULL, err) != 0) {
		json_decref(dep);
		return -1;
	}
	json_decref(dep);
	mv_info("migrate: Deployment %s/%s in %s: waiting until available",
	        s.ns, s.name, gke->name);
	if (ctx->dry_run)
		return 0;
	if (step_kube(ctx, gke, &k, err) != 0 ||
	    kube_wait(k, "apps/v1", "Deployment", s.ns, s.name,
	              kube_pred_condition, (void *)"Available",
	              step_deadline(ctx, DEPLOY_DEADLINE_MS), err) != 0)
		return mv_err_prefix(err, "migrate: %s: Deployment %s/%s",
		                     gke->name, s.ns, s.name);
	return 0;
}
