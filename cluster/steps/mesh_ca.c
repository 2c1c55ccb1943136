/* cluster/steps/mesh_ca.c - step `mesh-ca`: the mesh's root of trust.
 * One root and one intermediate per cluster (cluster/mesh_ca.h) under
 * .meshvm/ca (or the user's mesh.ca_dir, checked and never written); the
 * root's SHA-256 is recorded ("meshca/root") so a CA that changed behind
 * the clusters' back is refused, never silently replaced.  Per cluster:
 * namespace istio-system labelled topology.istio.io/network and Secret
 * cacerts (what istiod signs workload certificates with). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cluster/istio_glue.h"
#include "cluster/mesh_ca.h"
#include "cluster/steps/kobj.h"
#include "core/xalloc.h"

#define STEP "mesh-ca"

static char *
ca_dir(const struct plan_ctx *ctx, bool *own)
{
	*own = ctx->cfg->mesh_.ca_dir == NULL;
	if (*own)
		return mv_xstrfmt("%s/ca", mv_state_dir(ctx->state));
	return kobj_config_path(ctx, ctx->cfg->mesh_.ca_dir);
}

static const char *
recorded_root(const struct plan_ctx *ctx)
{
	return mv_state_str(step_record_get(ctx, "meshca", NULL, "root"),
	                    "sha256");
}

/* Our own CA lacks a file apply would make? */
static bool
ca_incomplete(const struct plan_ctx *ctx, const char *dir)
{
	struct stat st;
	char *p = mv_xstrfmt("%s/root-cert.pem", dir);
	bool missing = stat(p, &st) != 0;

	free(p);
	for (size_t i = 0; i < ctx->cfg->n_clusters && !missing; i++) {
		p = mv_xstrfmt("%s/%s/ca-cert.pem", dir, ctx->cfg->clusters[i].name);
		missing = stat(p, &st) != 0;
		free(p);
	}
	return missing;
}

static int
open_ca(struct plan_ctx *ctx, bool create, struct mesh_ca **ca,
        struct mv_err *err)
{
	bool own;
	char *dir = ca_dir(ctx, &own);
	const char **names = mv_xcalloc(ctx->cfg->n_clusters + 1, sizeof(*names));
	struct mesh_ca_opts o = {own && create, 0, recorded_root(ctx)};
	int rc;

	for (size_t i = 0; i < ctx->cfg->n_clusters; i++)
		names[i] = ctx->cfg->clusters[i].name;
	rc = mesh_ca_open(dir, names, ctx->cfg->n_clusters, &o, ca, err);
	if (rc != 0)
		mv_err_prefix(err, "mesh-ca: %s", dir);
	free(names);
	free(dir);
	return rc;
}

static int
mesh_ca_check(struct plan_ctx *ctx, struct step_check *out, struct mv_err *err)
{
	bool own;
	char *dir = ca_dir(ctx, &own);
	struct mesh_ca *ca = NULL;

	if (own && ca_incomplete(ctx, dir)) {
		step_action(out, "create the mesh CA (root + one intermediate per "
		            "cluster) in %s", dir);
	} else {
		if (open_ca(ctx, false, &ca, err) != 0) {
			free(dir);
			return -1;
		}
		if (recorded_root(ctx) == NULL)
			step_action(out, "record the mesh root %.16s… in the state",
			            mesh_ca_root_sha256(ca));
		mesh_ca_free(ca);
	}
	free(dir);
	for (size_t i = 0; i < ctx->cfg->n_clusters; i++) {
		const struct mv_cluster_config *c = &ctx->cfg->clusters[i];
		json_t *ns, *sec;
		int rc;

		if (!kobj_cluster_ready(ctx, c)) {
			step_action(out, "create Namespace istio-system and Secret "
			            "istio-system/cacerts in %s", c->name);
			continue;
		}
		ns = kobj_ref("v1", "Namespace", NULL, ISTIO_NS);
		sec = kobj_ref("v1", "Secret", ISTIO_NS, "cacerts");
		rc = kobj_check(ctx, c, ns, out, err);
		if (rc >= 0)
			rc = kobj_check(ctx, c, sec, out, err);
		json_decref(ns);
		json_decref(sec);
		if (rc < 0)
			return -1;
	}
	return 0;
}

static int
mesh_ca_apply(struct plan_ctx *ctx, struct mv_err *err)
{
	struct mesh_ca *ca = NULL;

	if (open_ca(ctx, true, &ca, err) != 0)
		return -1;
	if (recorded_root(ctx) == NULL) {
		json_t *rec = step_record_put(ctx, "meshca", NULL, "root");
		mv_state_set_str(rec, "sha256", mesh_ca_root_sha256(ca));
		step_record_created(rec);
		if (mv_state_save(ctx->state, err) != 0)
			goto fail;
	}
	for (size_t i = 0; i < ctx->cfg->n_clusters; i++) {
		const struct mv_cluster_config *c = &ctx->cfg->clusters[i];
		struct istio_mesh_ids ids;
		json_t *ns, *sec;
		int rc;

		kobj_mesh_ids(ctx, c->name, &ids);
		ns = istio_glue_namespace(&ids);
		rc = kobj_ensure(ctx, STEP, c, ns, NULL, err);
		json_decref(ns);
		if (rc != 0)
			goto fail;
		sec = mesh_ca_cacerts_secret(ca, c->name, err);
		if (sec == NULL)
			goto fail;
		rc = kobj_ensure(ctx, STEP, c, sec, NULL, err);
		json_decref(sec);
		if (rc != 0)
			goto fail;
	}
	mesh_ca_free(ca);
	return 0;
fail:
	mesh_ca_free(ca);
	return -1;
}

static int
mesh_ca_destroy(struct plan_ctx *ctx, struct mv_err *err)
{
	char *key;

	if (kobj_destroy(ctx, STEP, err) != 0)
		return -1;
	/* The CA files stay (a later up trusts the same root); the record of
	 * the root goes with the clusters that trusted it. */
	key = step_record_key("meshca", NULL, "root");
	if (mv_state_get(ctx->state, key) != NULL && !ctx->dry_run) {
		mv_state_del(ctx->state, key);
		free(key);
		return mv_state_save(ctx->state, err);
	}
	free(key);
	return 0;
}

static int
mesh_ca_status(struct plan_ctx *ctx, json_t *rows, struct mv_err *err)
{
	const char *root = recorded_root(ctx);

	if (root != NULL)
		json_array_append_new(rows, json_pack("{s:s,s:s,s:s}", "kind",
		                                      "mesh root", "name", root,
		                                      "status", "recorded"));
	return kobj_status(ctx, STEP, rows, err);
}

const struct plan_step step_mesh_ca = {
	.name = "mesh-ca",
	.summary = "the mesh CA (root + an intermediate per cluster), "
	           "namespace istio-system and Secret cacerts",
	.after = (const char *const[]){"firewall", NULL},
	.check = mesh_ca_check,
	.apply = mesh_ca_apply,
	.destroy = mesh_ca_destroy,
	.status = mesh_ca_status,
};
