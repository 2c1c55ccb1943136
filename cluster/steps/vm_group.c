/* cluster/steps/vm_group.c - step `vm-group`: what makes the VM's
 * service part of the mesh, in every cluster (cluster/vm_group.h):
 * ServiceAccount, WorkloadGroup (the VM's sidecar auto-registers a
 * WorkloadEntry from it) and Service service.name. */
#include <stdlib.h>

#include "cluster/steps/kobj.h"
#include "cluster/vm_group.h"

#define STEP "vm-group"

static json_t *
objects(const struct plan_ctx *ctx)
{
	const struct mv_config *cfg = ctx->cfg;
	struct vm_group g = {cfg->service.name, cfg->service.namespace_,
	                     mv_config_network(cfg, "VM"), cfg->service.protocol,
	                     cfg->service.port};

	return vm_group_objects(&g);
}

static int
vm_group_check(struct plan_ctx *ctx, struct step_check *out,
               struct mv_err *err)
{
	json_t *objs = objects(ctx), *o;
	size_t j;

	for (size_t i = 0; i < ctx->cfg->n_clusters; i++) {
		const struct mv_cluster_config *c = &ctx->cfg->clusters[i];

		if (!kobj_cluster_ready(ctx, c)) {
			step_action(out, "create ServiceAccount, WorkloadGroup and "
			            "Service %s in %s", ctx->cfg->service.name, c->name);
			continue;
		}
		json_array_foreach(objs, j, o)
			if (kobj_check(ctx, c, o, out, err) < 0) {
				json_decref(objs);
				return -1;
			}
	}
	json_decref(objs);
	return 0;
}

static int
vm_group_apply(struct plan_ctx *ctx, struct mv_err *err)
{
	for (size_t i = 0; i < ctx->cfg->n_clusters; i++) {
		json_t *objs = objects(ctx), *o;
		size_t j;

		json_array_foreach(objs, j, o)
			if (kobj_ensure(ctx, STEP, &ctx->cfg->clusters[i], o, NULL,
			                err) != 0) {
				json_decref(objs);
				return mv_err_prefix(err, "vm-group");
			}
		json_decref(objs);
	}
	return 0;
}

static int
vm_group_destroy(struct plan_ctx *ctx, struct mv_err *err)
{
	return kobj_destroy(ctx, STEP, err);
}

static int
vm_group_status(struct plan_ctx *ctx, json_t *rows, struct mv_err *err)
{
	return kobj_status(ctx, STEP, rows, err);
}

const struct plan_step step_vm_group = {
	.name = "vm-group",
	.summary = "ServiceAccount, WorkloadGroup and Service of the VM's "
	           "service in every cluster",
	.after = (const char *const[]){"app", NULL},
	.check = vm_group_check,
	.apply = vm_group_apply,
	.destroy = vm_group_destroy,
	.status = vm_group_status,
};
