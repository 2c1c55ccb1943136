/* cluster/steps/istio.c - step `istio`: per cluster, the control plane
 * the user rendered with `istioctl manifest generate` (mesh.istio_manifests
 * /<cluster>/, its meshID, clusterName and network checked against the
 * config first), CRDs first and each waited for until Established, then
 * the rest in install order; then what meshvm generates (the east-west
 * gateway as an internal LoadBalancer, istiod exposed, services exposed);
 * the gateway's address waited for; then remote secrets both ways from a
 * long-lived istio-reader-service-account token Secret (or
 * mesh.reader_token), as `istioctl create-remote-secret` makes them. */
#include <stdlib.h>
#include <string.h>

#include "cluster/identity.h"
#include "cluster/istio_glue.h"
#include "cluster/kube.h"
#include "cluster/manifests.h"
#include "cluster/remote_secret.h"
#include "cluster/steps/kobj.h"
#include "core/log.h"
#include "core/util.h"
#include "core/xalloc.h"

#define STEP "istio"
#define ISTIO_DEADLINE_MS (10L * 60 * 1000)

static const char *const cluster_scoped[] = {
	"Namespace", "CustomResourceDefinition", "ClusterRole",
	"ClusterRoleBinding", "MutatingWebhookConfiguration",
	"ValidatingWebhookConfiguration", "ValidatingAdmissionPolicy",
	"ValidatingAdmissionPolicyBinding", "PriorityClass", "StorageClass",
	"APIService", NULL,
};

/* A copy of obj with the namespace the stream implied (istio-system). */
static json_t *
placed(const json_t *obj)
{
	json_t *o = json_deep_copy(obj), *meta = json_object_get(o, "metadata");
	const char *kind = json_string_value(json_object_get(o, "kind"));

	for (size_t i = 0; cluster_scoped[i]; i++)
		if (!strcmp(kind, cluster_scoped[i]))
			return o;
	if (json_object_get(meta, "namespace") == NULL)
		json_object_set_new(meta, "namespace", json_string(ISTIO_NS));
	return o;
}

/* The rendered control plane of cluster c, checked against the config,
 * and the objects meshvm generates next to it (checked for collisions). */
static int
load(struct plan_ctx *ctx, const struct mv_cluster_config *c,
     struct manifests *m, json_t **glue, struct mv_err *err)
{
	struct istio_mesh_ids ids;
	char *base, *dir;

	memset(m, 0, sizeof(*m));
	*glue = NULL;
	if (ctx->cfg->mesh_.istio_manifests == NULL)
		return mv_err_set(err, MV_EXIT_FAIL, "istio: mesh.istio_manifests is "
		                  "not set: give the directory of `istioctl manifest "
		                  "generate` output, one subdirectory per cluster "
		                  "(README: \"Rendering the Istio control plane\"; "
		                  "`meshvm init --example` writes one)");
	base = kobj_config_path(ctx, ctx->cfg->mesh_.istio_manifests);
	dir = mv_xstrfmt("%s/%s", base, c->name);
	free(base);
	kobj_mesh_ids(ctx, c->name, &ids);
	if (manifests_load_dir(m, dir, err) != 0 ||
	    istio_manifest_check(m, &ids, err) != 0) {
		mv_err_prefix(err, "istio: %s", c->name);
		free(dir);
		manifests_free(m);
		return -1;
	}
	free(dir);
	*glue = istio_glue_objects(&ids);
	if (!manifests_find(m, "ServiceAccount", ISTIO_NS, REMOTE_SECRET_READER_SA))
		json_array_append_new(*glue, remote_secret_reader_sa());
	if (ctx->cfg->mesh_.reader_token == NULL)
		json_array_append_new(*glue, remote_secret_token_secret());
	if (istio_glue_check_collisions(m, *glue, ISTIO_NS, err) != 0) {
		mv_err_prefix(err, "istio: %s", c->name);
		manifests_free(m);
		json_decref(*glue);
		*glue = NULL;
		return -1;
	}
	return 0;
}

static int
istio_check(struct plan_ctx *ctx, struct step_check *out, struct mv_err *err)
{
	const struct mv_config *cfg = ctx->cfg;

	if (cfg->mesh_.istio_manifests == NULL) {
		step_action(out, "apply the Istio control plane (set "
		            "mesh.istio_manifests first: `up` needs it)");
		return 0;
	}
	for (size_t i = 0; i < cfg->n_clusters; i++) {
		const struct mv_cluster_config *c = &cfg->clusters[i];
		struct manifests m;
		json_t *glue, *o;
		size_t j;
		int rc = 0;

		if (load(ctx, c, &m, &glue, err) != 0)
			return -1;
		if (!kobj_cluster_ready(ctx, c)) {
			step_action(out, "apply %zu rendered Istio objects and %zu "
			            "generated ones in %s; remote secrets", m.n,
			            json_array_size(glue), c->name);
			manifests_free(&m);
			json_decref(glue);
			continue;
		}
		for (j = 0; j < m.n && rc >= 0; j++) {
			json_t *p = placed(m.v[j].obj);
			rc = kobj_check(ctx, c, p, out, err);
			json_decref(p);
		}
		json_array_foreach(glue, j, o) {
			if (rc < 0)
				break;
			rc = kobj_check(ctx, c, o, out, err);
		}
		for (size_t p = 0; p < cfg->n_clusters && rc >= 0; p++) {
			char *n;
			if (p == i)
				continue;
			n = mv_xstrfmt("istio-remote-secret-%s", cfg->clusters[p].name);
			o = kobj_ref("v1", "Secret", ISTIO_NS, n);
			rc = kobj_check(ctx, c, o, out, err);
			json_decref(o);
			free(n);
		}
		manifests_free(&m);
		json_decref(glue);
		if (rc < 0)
			return -1;
	}
	return 0;
}

/* Established, or (a server that reports no conditions at all) served. */
static int
wait_crd(struct plan_ctx *ctx, struct kube *k, const json_t *crd, long deadline,
         struct mv_err *err)
{
	const char *name = json_string_value(json_object_get(
		json_object_get(crd, "metadata"), "name"));
	json_t *live = NULL, *spec, *v, *items = NULL;
	size_t i;
	int rc;

	if (kube_get(k, "apiextensions.k8s.io/v1", "CustomResourceDefinition",
	             NULL, name, &live, err) != 0)
		return mv_err_prefix(err, "CRD %s", name);
	if (json_object_get(json_object_get(live, "status"), "conditions")) {
		json_decref(live);
		rc = kube_wait(k, "apiextensions.k8s.io/v1", "CustomResourceDefinition",
		               NULL, name, kube_pred_condition, (void *)"Established",
		               deadline, err);
		return rc == 0 ? 0 : mv_err_prefix(err, "CRD %s: not Established",
		                                   name);
	}
	spec = json_object_get(live, "spec");
	json_array_foreach(json_object_get(spec, "versions"), i, v) {
		char *av;
		if (!json_is_true(json_object_get(v, "served")))
			continue;
		av = mv_xstrfmt("%s/%s", json_string_value(json_object_get(spec,
		                                                           "group")),
		                json_string_value(json_object_get(v, "name")));
		rc = kube_list(k, av, json_string_value(json_object_get(
			json_object_get(spec, "names"), "kind")), NULL, NULL, &items, err);
		free(av);
		json_decref(items);
		json_decref(live);
		(void)ctx;
		return rc == 0 ? 0 : mv_err_prefix(err, "CRD %s: the server reports "
		                                   "no conditions (no Established) and "
		                                   "does not serve its kind", name);
	}
	json_decref(live);
	return mv_err_set(err, MV_EXIT_FAIL, "CRD %s: no served version", name);
}

static int
has_address(const json_t *svc, void *arg, struct mv_err *err)
{
	(void)arg;
	(void)err;
	return identity_ingress_ip_of(svc) != NULL;
}

static int
token_filled(const json_t *sec, void *arg, struct mv_err *err)
{
	char *tok = NULL, *ca = NULL;
	int rc = remote_secret_token_from(sec, &tok, &ca, err);

	(void)arg;
	free(tok);
	free(ca);
	return rc == 0 ? 1 : rc == 1 ? 0 : -1;
}

/* The control plane and the generated objects of one cluster. */
static int
apply_cluster(struct plan_ctx *ctx, const struct mv_cluster_config *c,
              long deadline, struct mv_err *err)
{
	struct manifests m;
	struct kube *k;
	json_t *glue, *o;
	size_t *order = NULL, n_crds = 0, j;
	int rc = 0;

	if (load(ctx, c, &m, &glue, err) != 0)
		return -1;
	if (step_kube(ctx, c, &k, err) != 0)
		goto fail;
	manifests_install_order(&m, &order, &n_crds);
	for (j = 0; j < m.n && rc == 0; j++) {
		json_t *p = placed(m.v[order[j]].obj);
		rc = kobj_ensure(ctx, STEP, c, p, NULL, err);
		if (rc == 0 && j < n_crds && !ctx->dry_run)
			rc = wait_crd(ctx, k, p, deadline, err);
		if (rc != 0)
			mv_err_prefix(err, "%s", m.v[order[j]].origin);
		json_decref(p);
	}
	free(order);
	json_array_foreach(glue, j, o) {
		if (rc != 0)
			break;
		rc = kobj_ensure(ctx, STEP, c, o, NULL, err);
	}
	manifests_free(&m);
	json_decref(glue);
	return rc;
fail:
	manifests_free(&m);
	json_decref(glue);
	return -1;
}

/* API server, its CA and the reader token of cluster c (malloc'd). */
static int
reader_of(struct plan_ctx *ctx, const struct mv_cluster_config *c,
          long deadline, char **server, char **ca, char **token,
          struct mv_err *err)
{
	struct kube *k;
	const struct kube_target *t;
	json_t *sec = NULL;
	char *sa_ca = NULL;

	*server = *ca = *token = NULL;
	if (step_kube(ctx, c, &k, err) != 0)
		return -1;
	t = kube_target_of(k);
	*server = mv_xstrdup(t->server);
	*ca = t->ca_pem ? mv_xstrdup(t->ca_pem) : NULL;
	if (ctx->cfg->mesh_.reader_token != NULL) {
		/* a file: a token never sits in meshvm.yaml or in argv */
		char *p = kobj_config_path(ctx, ctx->cfg->mesh_.reader_token);
		size_t n = 0;

		*token = mv_read_file(p, 64 * 1024, &n, err);
		if (*token == NULL) {
			mv_err_prefix(err, "mesh.reader_token");
			free(p);
			goto fail;
		}
		free(p);
		while (n > 0 && ((*token)[n - 1] == '\n' || (*token)[n - 1] == '\r'))
			(*token)[--n] = '\0';
		if (n == 0 || strlen(*token) != n) {
			free(*token);
			*token = NULL;
			mv_err_set(err, MV_EXIT_FAIL, "mesh.reader_token: %s: empty or "
			           "not text", ctx->cfg->mesh_.reader_token);
			goto fail;
		}
		return 0;
	}
	if (kube_wait(k, "v1", "Secret", ISTIO_NS, REMOTE_SECRET_TOKEN_SECRET,
	              token_filled, NULL, deadline, err) != 0 ||
	    kube_get(k, "v1", "Secret", ISTIO_NS, REMOTE_SECRET_TOKEN_SECRET, &sec,
	             err) != 0 ||
	    remote_secret_token_from(sec, token, &sa_ca, err) != 0) {
		json_decref(sec);
		goto fail;
	}
	json_decref(sec);
	if (*ca == NULL) {
		*ca = sa_ca;
		sa_ca = NULL;
	}
	free(sa_ca);
	return 0;
fail:
	free(*server);
	free(*ca);
	*server = *ca = NULL;
	return mv_err_prefix(err, "%s: the reader token", c->name);
}

static int
istio_apply(struct plan_ctx *ctx, struct mv_err *err)
{
	const struct mv_config *cfg = ctx->cfg;
	long deadline = step_deadline(ctx, ISTIO_DEADLINE_MS);

	for (size_t i = 0; i < cfg->n_clusters; i++)
		if (apply_cluster(ctx, &cfg->clusters[i], deadline, err) != 0)
			return -1;
	if (ctx->dry_run)
		return 0;
	for (size_t i = 0; i < cfg->n_clusters; i++) {
		struct kube *k;
		if (step_kube(ctx, &cfg->clusters[i], &k, err) != 0 ||
		    kube_wait(k, "v1", "Service", ISTIO_NS, ISTIO_EASTWEST, has_address,
		              NULL, deadline, err) != 0)
			return mv_err_prefix(err, "istio: %s: the east-west gateway's "
			                     "load-balancer address",
			                     cfg->clusters[i].name);
	}
	/* remote secrets both ways: cluster i's reader, applied in its peers */
	for (size_t i = 0; i < cfg->n_clusters; i++) {
		const struct mv_cluster_config *src = &cfg->clusters[i];
		char *server, *ca, *token;

		if (reader_of(ctx, src, deadline, &server, &ca, &token, err) != 0)
			return mv_err_prefix(err, "istio");
		for (size_t p = 0; p < cfg->n_clusters; p++) {
			json_t *sec;
			int rc;

			if (p == i)
				continue;
			sec = remote_secret_build(src->name, server, ca ? ca : "", token,
			                          err);
			rc = sec ? kobj_ensure(ctx, STEP, &cfg->clusters[p], sec, NULL,
			                       err)
			         : -1;
			json_decref(sec);
			if (rc != 0) {
				free(server);
				free(ca);
				free(token);
				return mv_err_prefix(err, "istio: remote secret");
			}
		}
		free(server);
		free(ca);
		free(token);
	}
	return 0;
}

static int
istio_destroy(struct plan_ctx *ctx, struct mv_err *err)
{
	return kobj_destroy(ctx, STEP, err);
}

static int
istio_status(struct plan_ctx *ctx, json_t *rows, struct mv_err *err)
{
	return kobj_status(ctx, STEP, rows, err);
}

const struct plan_step step_istio = {
	.name = "istio",
	.summary = "the Istio control plane per cluster, the east-west gateway, "
	           "istiod exposed, remote secrets both ways",
	.after = (const char *const[]){"mesh-ca", NULL},
	.check = istio_check,
	.apply = istio_apply,
	.destroy = istio_destroy,
	.status = istio_status,
};
