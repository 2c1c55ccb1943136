/* cluster/steps/app.c - step `app`: the app (app.manifests) spread over
 * the clusters as the seed spreads Online Boutique (cluster/app_place.h:
 * Services everywhere, workloads where app.placement puts them, else
 * placement.yaml next to the manifests directory), its namespace labelled
 * istio-injection=enabled.  Service service.name (productcatalogservice)
 * is never touched: the vm-group step owns it.  A namespace that exists
 * already and is not ours (default) only gets the label, and stays. */
#include <stdlib.h>
#include <string.h>

#include "cluster/app_place.h"
#include "cluster/kube.h"
#include "cluster/manifests.h"
#include "cluster/steps/kobj.h"
#include "core/util.h"
#include "core/xalloc.h"
#include "core/yaml.h"

#define STEP "app"

static int
placement(struct plan_ctx *ctx, const char *mdir, json_t **out,
          struct mv_err *err)
{
	struct mv_yaml *y = NULL;
	char *parent, *path;
	json_t *doc;

	if (ctx->cfg->app_.placement != NULL) {
		*out = json_incref(ctx->cfg->app_.placement);
		return 0;
	}
	parent = mv_dirname(mdir);
	path = mv_xstrfmt("%s/placement.yaml", parent);
	free(parent);
	if (mv_yaml_load_file(path, &y, err) != 0) {
		mv_err_prefix(err, "app: no app.placement and no placement file");
		free(path);
		return -1;
	}
	doc = mv_yaml_doc(y, 0);
	if (mv_yaml_count(y) != 1 || !json_is_object(doc)) {
		mv_yaml_free(y);
		mv_err_set(err, MV_EXIT_FAIL, "%s: must be one mapping service -> "
		           "cluster", path);
		free(path);
		return -1;
	}
	free(path);
	*out = json_incref(doc);
	mv_yaml_free(y);
	return 0;
}

/* {"cluster1": [objects], ...}, or NULL (err set). */
static json_t *
placed(struct plan_ctx *ctx, struct mv_err *err)
{
	const struct mv_config *cfg = ctx->cfg;
	struct manifests m = {0};
	const char **names;
	json_t *pl = NULL, *out = NULL;
	char *dir;

	if (cfg->app_.manifests == NULL) {
		mv_err_set(err, MV_EXIT_FAIL, "app: app.manifests is not set: give "
		           "the directory of the app's Kubernetes manifests "
		           "(`meshvm init --example` writes one)");
		return NULL;
	}
	dir = kobj_config_path(ctx, cfg->app_.manifests);
	if (manifests_load_dir(&m, dir, err) != 0 ||
	    placement(ctx, dir, &pl, err) != 0) {
		free(dir);
		manifests_free(&m);
		return NULL;
	}
	free(dir);
	names = mv_xcalloc(cfg->n_clusters + 1, sizeof(*names));
	for (size_t i = 0; i < cfg->n_clusters; i++)
		names[i] = cfg->clusters[i].name;
	struct app_place_opts o = {names, cfg->n_clusters, pl,
	                           cfg->service.namespace_, cfg->service.name};
	if (app_place(&m, &o, &out, err) != 0)
		out = NULL;
	free(names);
	json_decref(pl);
	manifests_free(&m);
	return out;
}

static bool
is_namespace(const json_t *o)
{
	return !strcmp(json_string_value(json_object_get(o, "kind")), "Namespace");
}

static const char *
name_of(const json_t *o)
{
	return json_string_value(json_object_get(json_object_get(o, "metadata"),
	                                         "name"));
}

/* The app namespace: 1 when it exists and is not ours (*labelled: it
 * already has istio-injection=enabled), 0 when absent or ours. */
static int
foreign_ns(struct plan_ctx *ctx, const struct mv_cluster_config *c,
           const json_t *ns, bool *labelled, struct mv_err *err)
{
	struct kube *k;
	json_t *live = NULL, *labels;
	int rc;

	*labelled = false;
	if (step_kube(ctx, c, &k, err) != 0)
		return -1;
	rc = kube_get(k, "v1", "Namespace", NULL, name_of(ns), &live, err);
	if (rc != 0)
		return rc < 0 ? -1 : 0;
	labels = json_object_get(json_object_get(live, "metadata"), "labels");
	if (step_ours(ctx, json_string_value(json_object_get(labels,
	                                                     "meshvm-id")))) {
		json_decref(live);
		return 0;
	}
	const char *inj = json_string_value(json_object_get(labels,
	                                                    "istio-injection"));
	*labelled = inj != NULL && !strcmp(inj, "enabled");
	json_decref(live);
	return 1;
}

static int
app_check(struct plan_ctx *ctx, struct step_check *out, struct mv_err *err)
{
	json_t *all, *objs;
	const char *cl;

	if (ctx->cfg->app_.manifests == NULL) {
		step_action(out, "deploy the app (set app.manifests first: `up` "
		            "needs it)");
		return 0;
	}
	all = placed(ctx, err);
	if (all == NULL)
		return -1;
	json_object_foreach(all, cl, objs) {
		const struct mv_cluster_config *c = kobj_cluster(ctx, cl);
		json_t *o;
		size_t i;
		int rc = 0;

		if (!kobj_cluster_ready(ctx, c)) {
			step_action(out, "apply %zu app objects in %s",
			            json_array_size(objs), cl);
			continue;
		}
		json_array_foreach(objs, i, o) {
			bool labelled;
			if (is_namespace(o)) {
				rc = foreign_ns(ctx, c, o, &labelled, err);
				if (rc == 1) {
					if (!labelled)
						step_action(out, "label Namespace %s "
						            "istio-injection=enabled in %s",
						            name_of(o), cl);
					continue;
				}
			}
			if (rc >= 0)
				rc = kobj_check(ctx, c, o, out, err);
			if (rc < 0) {
				json_decref(all);
				return -1;
			}
		}
	}
	json_decref(all);
	return 0;
}

static int
app_apply(struct plan_ctx *ctx, struct mv_err *err)
{
	json_t *all = placed(ctx, err), *objs;
	const char *cl;

	if (all == NULL)
		return -1;
	json_object_foreach(all, cl, objs) {
		const struct mv_cluster_config *c = kobj_cluster(ctx, cl);
		json_t *o;
		size_t i;

		json_array_foreach(objs, i, o) {
			bool labelled;
			int rc = 0;

			if (is_namespace(o)) {
				rc = foreign_ns(ctx, c, o, &labelled, err);
				if (rc == 1 && !labelled && !ctx->dry_run) {
					/* only our label, under our field manager: the
					 * namespace stays someone else's */
					struct kube *k;
					json_t *patch = json_pack(
						"{s:s,s:s,s:{s:s,s:{s:s}}}", "apiVersion", "v1",
						"kind", "Namespace", "metadata", "name", name_of(o),
						"labels", "istio-injection", "enabled");
					rc = step_kube(ctx, c, &k, err) != 0 ||
					     kube_apply(k, patch, KOBJ_MANAGER, false, NULL,
					                err) != 0
					     ? -1 : 1;
					json_decref(patch);
				}
				if (rc == 1)
					continue;
			}
			if (rc == 0)
				rc = kobj_ensure(ctx, STEP, c, o, NULL, err);
			if (rc != 0) {
				json_decref(all);
				return mv_err_prefix(err, "app");
			}
		}
	}
	json_decref(all);
	return 0;
}

/* What `meshvm migrate` put beside the app (its VirtualService,
 * DestinationRule and the GKE Deployment: records of step "migrate",
 * cluster/migrate.h) goes first, while the CRDs and namespace stand. */
static int
app_destroy(struct plan_ctx *ctx, struct mv_err *err)
{
	if (kobj_destroy(ctx, "migrate", err) != 0)
		return -1;
	return kobj_destroy(ctx, STEP, err);
}

static int
app_status(struct plan_ctx *ctx, json_t *rows, struct mv_err *err)
{
	return kobj_status(ctx, STEP, rows, err);
}

const struct plan_step step_app = {
	.name = "app",
	.summary = "the app's objects placed per cluster (Services in both), "
	           "its namespace labelled istio-injection=enabled",
	.after = (const char *const[]){"istio", NULL},
	.check = app_check,
	.apply = app_apply,
	.destroy = app_destroy,
	.status = app_status,
};
