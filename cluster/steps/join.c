/* cluster/steps/join.c - step `join`: wait until every VM of the fleet
 * registered itself with istiod, i.e. a WorkloadEntry with Healthy=True
 * exists for its address in the VM's home cluster (istiod makes it from
 * the WorkloadGroup when the VM's sidecar connects).  Nothing is created
 * here, so there is nothing to destroy: the entries go with the VMs (and
 * with the WorkloadGroup, their owner). */
#include <stdlib.h>
#include <string.h>

#include "cluster/steps/fleet.h"
#include "core/xalloc.h"

static int
join_check(struct plan_ctx *ctx, struct step_check *out, struct mv_err *err)
{
	json_t *members = NULL;
	size_t joined = 0, n;

	if (fleet_members(ctx, true, true, &members, err) != 0)
		return -1;
	n = json_array_size(members);
	if (n == 0) {
		step_action(out, "wait until %d VM%s registered a healthy "
		            "WorkloadEntry in %s", ctx->cfg->vm.count,
		            ctx->cfg->vm.count > 1 ? "s" : "", ctx->cfg->vm.cluster);
	} else if (fleet_joined(ctx, members, &joined, NULL, err) != 0) {
		json_decref(members);
		return -1;
	} else if (joined < n || n < (size_t)ctx->cfg->vm.count) {
		step_action(out, "wait until every VM registered a healthy "
		            "WorkloadEntry in %s (%zu of %zu now)",
		            ctx->cfg->vm.cluster, joined, n);
	}
	json_decref(members);
	return 0;
}

static int
join_apply(struct plan_ctx *ctx, struct mv_err *err)
{
	json_t *members = NULL;
	int rc;

	if (fleet_members(ctx, true, true, &members, err) != 0)
		return mv_err_prefix(err, "join");
	if (json_array_size(members) == 0) {
		json_decref(members);
		return mv_err_set(err, MV_EXIT_FAIL, "join: no VM is running: run "
		                  "`meshvm up --until launch` first");
	}
	rc = fleet_wait_joined(ctx, members, "join:", err);
	json_decref(members);
	return rc;
}

static int
join_destroy(struct plan_ctx *ctx, struct mv_err *err)
{
	(void)ctx;
	(void)err;
	return 0;
}

static int
join_status(struct plan_ctx *ctx, json_t *rows, struct mv_err *err)
{
	json_t *members = NULL, *entries = NULL, *we;
	size_t joined, i;

	if (fleet_members(ctx, true, true, &members, err) != 0)
		return -1;
	if (json_array_size(members) == 0) { /* no VM: no cluster to ask */
		json_decref(members);
		return 0;
	}
	if (fleet_joined(ctx, members, &joined, &entries, err) != 0) {
		json_decref(members);
		return -1;
	}
	json_array_foreach(entries, i, we) {
		const json_t *m = json_object_get(we, "metadata"), *c;
		const char *health = "Unknown";
		size_t j;
		json_array_foreach(json_object_get(json_object_get(we, "status"),
		                                   "conditions"), j, c)
			if (!strcmp(json_string_value(json_object_get(c, "type"))
			                    ? json_string_value(json_object_get(c, "type"))
			                    : "", "Healthy"))
				health = json_string_value(json_object_get(c, "status"));
		const char *addr = json_string_value(json_object_get(
		        json_object_get(we, "spec"), "address"));
		char *detail = mv_xstrfmt("%s in %s, address %s, Healthy=%s",
		                          json_string_value(json_object_get(
		                                  m, "namespace")),
		                          ctx->cfg->vm.cluster, addr ? addr : "-",
		                          health ? health : "Unknown");
		json_array_append_new(rows, json_pack(
		        "{s:s, s:O, s:O, s:s, s:s, s:s, s:s, s:s}", "kind",
		        "workloadentry", "name", json_object_get(m, "name"),
		        "namespace", json_object_get(m, "namespace"), "cluster",
		        ctx->cfg->vm.cluster, "address", addr ? addr : "",
		        "healthy", health ? health : "Unknown", "status",
		        health && !strcmp(health, "True") ? "HEALTHY" : "NOT HEALTHY",
		        "detail", detail));
		free(detail);
	}
	json_decref(entries);
	json_decref(members);
	return 0;
}

const struct plan_step step_join = {
	.name = "join",
	.summary = "wait until every VM registered a healthy WorkloadEntry in "
	           "its home cluster",
	.after = (const char *const[]){"launch", NULL},
	.check = join_check,
	.apply = join_apply,
	.destroy = join_destroy,
	.status = join_status,
};
