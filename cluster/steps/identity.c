/* cluster/steps/identity.c - step `identity`: the VM's identity files
 * (cluster/identity.h: cluster.env, mesh.yaml, hosts, root-cert.pem) in
 * .meshvm/identity, produced from the live home cluster (vm.cluster) as
 * `istioctl x workload entry configure --autoregister` produces them.  No
 * token: tokens are minted at launch.  Local files only: check compares
 * what the cluster says now with what is on disk. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cluster/identity.h"
#include "cluster/istio_glue.h"
#include "cluster/kube.h"
#include "cluster/steps/kobj.h"
#include "core/util.h"
#include "core/xalloc.h"

static const char *const files[] = {"cluster.env", "mesh.yaml", "hosts",
                                    "root-cert.pem"};
#define N_FILES (sizeof(files) / sizeof(files[0]))

static char *
id_dir(const struct plan_ctx *ctx)
{
	return mv_xstrfmt("%s/identity", mv_state_dir(ctx->state));
}

static const char *
content(const struct identity_files *f, size_t i)
{
	const char *v[] = {f->cluster_env, f->mesh_yaml, f->hosts, f->root_cert};
	return v[i];
}

/* Render the files from the home cluster. */
static int
render(struct plan_ctx *ctx, struct identity_files *out, struct mv_err *err)
{
	const struct mv_config *cfg = ctx->cfg;
	const struct mv_cluster_config *c = kobj_cluster(ctx, cfg->vm.cluster);
	json_t *wg = NULL, *mesh = NULL, *root = NULL, *svc = NULL, *inj = NULL;
	struct kube *k;
	char *cid = NULL;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (step_kube(ctx, c, &k, err) != 0)
		return -1;
	if (kube_get(k, "networking.istio.io/v1", "WorkloadGroup",
	             cfg->service.namespace_, cfg->service.name, &wg, err) != 0 ||
	    kube_get(k, "v1", "ConfigMap", ISTIO_NS, "istio", &mesh, err) != 0 ||
	    kube_get(k, "v1", "ConfigMap", cfg->service.namespace_,
	             "istio-ca-root-cert", &root, err) != 0 ||
	    kube_get(k, "v1", "Service", ISTIO_NS, ISTIO_EASTWEST, &svc, err) != 0) {
		if (err->exit_code == 0)
			mv_err_set(err, MV_EXIT_FAIL, "not found (run the steps before "
			           "identity)");
		goto out;
	}
	if (kube_get(k, "v1", "ConfigMap", ISTIO_NS, "istio-sidecar-injector",
	             &inj, err) < 0)
		goto out;
	mv_err_clear(err);
	cid = inj ? identity_cluster_id_of(inj, err) : NULL;
	if (cid == NULL && err->exit_code != 0)
		goto out;
	struct identity_in in = {
		.workload_group = wg,
		.mesh_config = identity_mesh_config_of(mesh),
		.cluster_id = cid ? cid : cfg->vm.cluster,
		.ingress_ip = identity_ingress_ip_of(svc),
		.root_cert_pem = identity_root_cert_of(root),
		.autoregister = true,
		.expect_mesh_id = cfg->mesh_.id,
		.expect_network = mv_config_network(cfg, "VM"),
		.expect_trust_domain = cfg->mesh_.trust_domain,
	};
	if (in.ingress_ip == NULL) {
		mv_err_set(err, MV_EXIT_FAIL, "Service %s/%s has no load-balancer "
		           "address yet", ISTIO_NS, ISTIO_EASTWEST);
		goto out;
	}
	if (in.root_cert_pem == NULL || in.mesh_config == NULL) {
		mv_err_set(err, MV_EXIT_FAIL, "ConfigMap istio-ca-root-cert or "
		           "istio lacks its data");
		goto out;
	}
	rc = identity_render(&in, out, err);
out:
	if (rc != 0)
		mv_err_prefix(err, "identity: home cluster %s", cfg->vm.cluster);
	free(cid);
	json_decref(wg);
	json_decref(mesh);
	json_decref(root);
	json_decref(svc);
	json_decref(inj);
	return rc;
}

static int
identity_check(struct plan_ctx *ctx, struct step_check *out,
               struct mv_err *err)
{
	const struct mv_cluster_config *c = kobj_cluster(ctx, ctx->cfg->vm.cluster);
	struct identity_files f;
	char *dir = id_dir(ctx);
	struct mv_err e2 = {0};

	if (!kobj_cluster_ready(ctx, c)) {
		step_action(out, "write the VM identity files to %s", dir);
		free(dir);
		return 0;
	}
	if (render(ctx, &f, &e2) != 0) {
		/* the steps before it have not run yet: a plan, not an error */
		step_action(out, "write the VM identity files to %s (%s)", dir,
		            e2.msg);
		mv_err_clear(&e2);
		free(dir);
		return 0;
	}
	for (size_t i = 0; i < N_FILES; i++) {
		char *p = mv_xstrfmt("%s/%s", dir, files[i]);
		size_t n = 0;
		char *have = mv_read_file(p, 1u << 20, &n, &e2);

		mv_err_clear(&e2);
		if (have == NULL || n != strlen(content(&f, i)) ||
		    memcmp(have, content(&f, i), n) != 0)
			step_action(out, "write %s", p);
		free(have);
		free(p);
	}
	identity_files_free(&f);
	free(dir);
	(void)err;
	return 0;
}

static int
identity_apply(struct plan_ctx *ctx, struct mv_err *err)
{
	struct identity_files f;
	char *dir;
	int rc;

	if (render(ctx, &f, err) != 0)
		return -1;
	if (ctx->dry_run) {
		identity_files_free(&f);
		return 0;
	}
	dir = id_dir(ctx);
	rc = identity_write(dir, &f, err);
	free(dir);
	identity_files_free(&f);
	return rc;
}

static int
identity_destroy(struct plan_ctx *ctx, struct mv_err *err)
{
	char *dir = id_dir(ctx);

	for (size_t i = 0; i < N_FILES && !ctx->dry_run; i++) {
		char *p = mv_xstrfmt("%s/%s", dir, files[i]);
		if (unlink(p) != 0 && errno != ENOENT) {
			mv_err_sys(err, errno, "%s", p);
			free(p);
			free(dir);
			return -1;
		}
		free(p);
	}
	if (!ctx->dry_run)
		(void)rmdir(dir);
	free(dir);
	return 0;
}

static int
identity_status(struct plan_ctx *ctx, json_t *rows, struct mv_err *err)
{
	char *dir = id_dir(ctx);

	(void)err;
	for (size_t i = 0; i < N_FILES; i++) {
		char *p = mv_xstrfmt("%s/%s", dir, files[i]);
		json_array_append_new(rows, json_pack(
			"{s:s,s:s,s:s}", "kind", "identity file", "name", p, "status",
			access(p, R_OK) == 0 ? "present" : "missing"));
		free(p);
	}
	free(dir);
	return 0;
}

const struct plan_step step_identity = {
	.name = "identity",
	.summary = "the VM's identity files (cluster.env, mesh.yaml, hosts, "
	           "root-cert.pem) from the home cluster",
	.after = (const char *const[]){"vm-group", NULL},
	.check = identity_check,
	.apply = identity_apply,
	.destroy = identity_destroy,
	.status = identity_status,
};
