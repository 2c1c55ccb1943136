/* cluster/steps/clusters.c - step `clusters` (seed script 1): every GKE
 * cluster of the config, created in parallel and waited for together,
 * then .meshvm/kubeconfig.  Records: "cluster/ZONE/NAME". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cluster/gcp_auth.h"
#include "cluster/gke.h"
#include "cluster/kubeconfig.h"
#include "cluster/step.h"
#include "core/log.h"
#include "core/xalloc.h"

#define CLUSTER_DEADLINE_MS (45L * 60 * 1000)

static const struct mv_cluster_config *
configured(const struct mv_config *cfg, const char *zone, const char *name)
{
	for (size_t i = 0; i < cfg->n_clusters; i++)
		if (zone && name && !strcmp(cfg->clusters[i].zone, zone) &&
		    !strcmp(cfg->clusters[i].name, name))
			return &cfg->clusters[i];
	return NULL;
}

static const char *
cl_str(const json_t *cl, const char *field)
{
	return json_string_value(json_object_get(cl, field));
}

static void
check_live(struct plan_ctx *ctx, const struct mv_cluster_config *c,
           const json_t *rec, const json_t *cl, struct step_check *out,
           bool *all_created)
{
	const char *status = cl_str(cl, "status");
	const char *mt = gke_cluster_machine_type(cl), *phase;
	json_int_t nodes = gke_cluster_nodes(cl);

	if (status == NULL || strcmp(status, "RUNNING") != 0) {
		*all_created = false;
		if (status != NULL && (!strcmp(status, "ERROR") ||
		                       !strcmp(status, "DEGRADED")))
			step_drift(out, "cluster %s is %s", c->name, status);
		else
			step_action(out, "wait for cluster %s to be RUNNING (now %s)",
			            c->name, status ? status : "?");
		return;
	}
	if (mt != NULL && strcmp(mt, c->machine_type) != 0)
		step_drift(out, "cluster %s runs %s nodes, config says %s", c->name,
		           mt, c->machine_type);
	if (nodes > 0 && nodes != c->nodes)
		step_drift(out, "cluster %s has %lld nodes, config says %d", c->name,
		           (long long)nodes, c->nodes);
	phase = mv_state_str(rec, "phase");
	if (phase == NULL || strcmp(phase, "created") != 0) {
		*all_created = false;
		step_action(out, "record cluster %s in the state", c->name);
	}
	(void)ctx;
}

static int
clusters_check(struct plan_ctx *ctx, struct step_check *out,
               struct mv_err *err)
{
	const struct mv_config *cfg = ctx->cfg;
	json_t *rec;
	const char *key;
	bool all_created = true;

	for (size_t i = 0; i < cfg->n_clusters; i++) {
		const struct mv_cluster_config *c = &cfg->clusters[i];
		json_t *cl = NULL;
		int rc = gke_cluster_get(ctx->gcp, c->zone, c->name, &cl, err);

		rec = step_record_get(ctx, "cluster", c->zone, c->name);
		if (rc < 0)
			return -1;
		if (rc == 1) {
			const char *op = mv_state_str(rec, "operation");
			all_created = false;
			if (op != NULL)
				step_action(out, "wait for operation %s (create cluster "
				            "%s, in flight)", op, c->name);
			else
				step_action(out, "create cluster %s (%s, %d × %s, nodes "
				            "tagged %s-node)", c->name, c->zone, c->nodes,
				            c->machine_type, c->name);
			continue;
		}
		if (!step_ours(ctx, gke_cluster_meshvm_id(cl))) {
			int r = step_not_ours(ctx, "cluster", c->name,
			                      gke_cluster_meshvm_id(cl), err);
			json_decref(cl);
			return r;
		}
		check_live(ctx, c, rec, cl, out, &all_created);
		json_decref(cl);
	}
	/* Recorded but no longer configured (renamed, moved, dropped). */
	json_object_foreach(mv_state_resources(ctx->state), key, rec) {
		const char *name = mv_state_str(rec, "name");
		const char *zone = mv_state_str(rec, "zone");
		if (step_record_is(key, rec, "cluster") &&
		    !configured(cfg, zone, name))
			step_drift(out, "cluster %s (%s) is recorded but no longer in "
			           "the config; `meshvm down` deletes it", name, zone);
	}
	if (all_created) {
		char *kc = step_kubeconfig_path(ctx);
		if (access(kc, R_OK) != 0)
			step_action(out, "write %s", kc);
		free(kc);
	}
	return 0;
}

/*--- apply ---------------------------------------------------------------*/

struct tracked {
	const struct mv_cluster_config *c;
	char *op;      /* operation to poll, or NULL: poll the cluster */
	char *status;  /* last status seen, for the progress line */
	bool waiting;
	bool failed;
	struct mv_err err;
};

/* Send the create; its outcome resolved (gke_cluster_create_resolved). */
static int
create_cluster(struct plan_ctx *ctx, struct tracked *t, struct mv_err *err)
{
	const struct mv_cluster_config *c = t->c;
	char *tag = mv_xstrfmt("%s-node", c->name), *op = NULL;
	struct gke_cluster_spec spec = {c->name, c->zone, c->machine_type,
	                                c->nodes, c->network, tag,
	                                mv_state_id(ctx->state)};
	json_t *rec = step_record_put(ctx, "cluster", c->zone, c->name);
	json_t *cl = NULL;
	int r;

	mv_state_set_str(rec, "phase", "intent");
	json_object_del(rec, "operation");
	if (mv_state_save(ctx->state, err) != 0) {
		free(tag);
		return -1;
	}
	r = gke_cluster_create_resolved(ctx->gcp, &spec, &op, &cl, err);
	free(tag);
	if (r < 0)
		return -1;
	if (r == 1 && !step_ours(ctx, gke_cluster_meshvm_id(cl))) {
		step_not_ours(ctx, "cluster", c->name, gke_cluster_meshvm_id(cl),
		              err);
		json_decref(cl);
		return -1;
	}
	json_decref(cl);
	if (r == 1)
		mv_info("clusters: %s: create went through; waiting for it", c->name);
	t->op = op;
	t->waiting = true;
	mv_state_set_str(rec, "operation", op);
	mv_state_set_str(rec, "phase", "pending");
	return mv_state_save(ctx->state, err);
}

static int
write_kubeconfig(struct plan_ctx *ctx, struct mv_err *err)
{
	const struct mv_config *cfg = ctx->cfg;
	const char *token = NULL;
	json_t *kc;
	char *path;
	int rc;

	if (ctx->gcp->auth != NULL && gcp_auth_is_explicit(ctx->gcp->auth) &&
	    gcp_auth_token(ctx->gcp->auth, &token, err) != 0)
		return -1;
	kc = kubeconfig_new();
	path = step_kubeconfig_path(ctx);
	for (size_t i = 0; i < cfg->n_clusters; i++) {
		const struct mv_cluster_config *c = &cfg->clusters[i];
		char *ctxname = mv_config_context_name(cfg, c);
		json_t *rec = step_record_get(ctx, "cluster", c->zone, c->name);
		kubeconfig_add_cluster(kc, ctxname, mv_state_str(rec, "endpoint"),
		                       mv_state_str(rec, "caCertificate"), token);
		free(ctxname);
	}
	rc = kubeconfig_write(path, kc, err);
	if (rc == 0)
		mv_info("clusters: wrote %s (contexts gke_%s_ZONE_NAME)", path,
		        cfg->project);
	json_decref(kc);
	free(path);
	return rc;
}

struct wait_all {
	struct plan_ctx *ctx;
	struct tracked *t;
	size_t n;
	int failures;
};

static void
fail_one(struct wait_all *w, struct tracked *t)
{
	t->failed = true;
	w->failures++;
	mv_error("clusters: %s: %s", t->c->name, t->err.msg);
}

/* One poll of one cluster (gke_cluster_progress); records it once RUNNING. */
static int
probe_one(struct wait_all *w, struct tracked *t, bool *pending,
          struct mv_err *err)
{
	struct plan_ctx *ctx = w->ctx;
	json_t *cl = NULL, *rec;
	int r = gke_cluster_progress(ctx->gcp, t->c->zone, t->c->name, &t->op,
	                             &t->status, &cl, &t->err, err);

	if (r < 0)
		return -1;
	if (r == 0)
		*pending = true;
	if (r == 2)
		fail_one(w, t);
	if (r != 1)
		return 0;
	rec = step_record_put(ctx, "cluster", t->c->zone, t->c->name);
	gke_cluster_outputs(rec, cl);
	step_record_created(rec);
	json_decref(cl);
	t->waiting = false;
	mv_info("clusters: %s RUNNING at %s", t->c->name,
	        mv_state_str(rec, "endpoint"));
	return mv_state_save(ctx->state, err);
}

static int
probe_all(void *arg, char **state, struct mv_err *err)
{
	struct wait_all *w = arg;
	bool pending = false;
	const char **names = mv_xcalloc(w->n + 1, sizeof(char *));
	const char **states = mv_xcalloc(w->n + 1, sizeof(char *));

	for (size_t i = 0; i < w->n; i++) {
		struct tracked *t = &w->t[i];
		if (t->waiting && !t->failed && probe_one(w, t, &pending, err) != 0) {
			free(names);
			free(states);
			return -1;
		}
		names[i] = t->c->name;
		states[i] = t->failed ? "FAILED" : !t->waiting ? "RUNNING"
		            : t->status ? t->status : "PROVISIONING";
	}
	*state = step_progress_line(w->n, names, states);
	free(names);
	free(states);
	return pending ? 0 : 1;
}

/* Get one cluster going, or find it going already (a resumed run). */
static int
start_one(struct plan_ctx *ctx, struct tracked *t, struct mv_err *err)
{
	json_t *rec = step_record_get(ctx, "cluster", t->c->zone, t->c->name);
	json_t *cl = NULL;
	int r = gke_cluster_get(ctx->gcp, t->c->zone, t->c->name, &cl, err);
	const char *st, *op;

	if (r < 0)
		return -1;
	op = mv_state_str(rec, "operation");
	if (r == 1 && op == NULL)
		return create_cluster(ctx, t, &t->err) == 0 ? 0 : 1;
	t->waiting = true;
	if (r == 1) { /* the create was accepted before; wait for it */
		t->op = mv_xstrdup(op);
		mv_info("clusters: %s: resuming operation %s", t->c->name, t->op);
		return 0;
	}
	st = cl_str(cl, "status");
	if (!step_ours(ctx, gke_cluster_meshvm_id(cl))) {
		step_not_ours(ctx, "cluster", t->c->name, gke_cluster_meshvm_id(cl),
		              err);
		json_decref(cl);
		return -1;
	}
	rec = step_record_put(ctx, "cluster", t->c->zone, t->c->name);
	if (st != NULL && !strcmp(st, "RUNNING")) {
		gke_cluster_outputs(rec, cl);
		step_record_created(rec);
		t->waiting = false;
	} else {
		/* In flight: wait on its operation (recorded, or found by a
		 * killed run's successor in operations.list). */
		char *found = NULL;
		if (op == NULL && gke_operation_find(ctx->gcp, t->c->zone,
		                                     t->c->name, "CREATE_CLUSTER",
		                                     &found, err) < 0) {
			json_decref(cl);
			return -1;
		}
		t->op = op ? mv_xstrdup(op) : found;
		if (t->op != NULL) {
			mv_state_set_str(rec, "operation", t->op);
			mv_info("clusters: %s: resuming operation %s", t->c->name,
			        t->op);
		} else {
			mv_info("clusters: %s is %s; waiting for it", t->c->name,
			        st ? st : "?");
		}
		mv_state_set_str(rec, "phase", "pending");
	}
	json_decref(cl);
	return mv_state_save(ctx->state, err);
}

static int
clusters_apply(struct plan_ctx *ctx, struct mv_err *err)
{
	size_t n = ctx->cfg->n_clusters;
	struct wait_all w = {ctx, mv_xcalloc(n ? n : 1, sizeof(struct tracked)),
	                     n, 0};
	int rc = -1, r;

	for (size_t i = 0; i < n; i++) {
		w.t[i].c = &ctx->cfg->clusters[i];
		mv_err_clear(&w.t[i].err);
		r = start_one(ctx, &w.t[i], err);
		if (r < 0)
			goto out;
		if (r > 0) /* keep going so the others finish; report it last */
			fail_one(&w, &w.t[i]);
	}
	r = step_poll(ctx, step_deadline(ctx, CLUSTER_DEADLINE_MS), "clusters:",
	              probe_all, &w, err);
	if (r == MV_POLL_TIMEOUT)
		mv_err_set(err, MV_EXIT_CLOUD, "clusters not RUNNING after %ld "
		           "minutes; rerun `meshvm up` to keep waiting",
		           (ctx->fast ? 60000 : CLUSTER_DEADLINE_MS) / 60000);
	if (r != 0)
		goto out;
	for (size_t i = 0; i < n; i++)
		if (w.t[i].failed) {
			*err = w.t[i].err;
			goto out;
		}
	rc = write_kubeconfig(ctx, err);
out:
	for (size_t i = 0; i < n; i++) {
		free(w.t[i].op);
		free(w.t[i].status);
	}
	free(w.t);
	return rc;
}

/*--- destroy, status, adopt: from the state's records ----------------------*/

static int
cluster_owner(struct plan_ctx *ctx, const json_t *rec, char **id,
              struct mv_err *err)
{
	json_t *cl = NULL;
	int r = gke_cluster_get(ctx->gcp, mv_state_str(rec, "zone"),
	                        mv_state_str(rec, "name"), &cl, err);

	if (r == 0 && gke_cluster_meshvm_id(cl) != NULL)
		*id = mv_xstrdup(gke_cluster_meshvm_id(cl));
	json_decref(cl);
	return r;
}

static int
cluster_remove(struct plan_ctx *ctx, const json_t *rec, char **op,
               struct mv_err *err)
{
	return gke_cluster_delete(ctx->gcp, mv_state_str(rec, "zone"),
	                          mv_state_str(rec, "name"), op, err);
}

static int
cluster_deleted(struct plan_ctx *ctx, const json_t *rec, const char *op,
                struct mv_err *err)
{
	return gke_operation_done(ctx->gcp, mv_state_str(rec, "zone"), op, NULL,
	                          err);
}

static int
clusters_destroy(struct plan_ctx *ctx, struct mv_err *err)
{
	static const struct step_deleter d = {
		"cluster", "clusters:", CLUSTER_DEADLINE_MS, cluster_owner,
		cluster_remove, cluster_deleted};
	char *kc;

	if (step_destroy_records(ctx, &d, err) != 0)
		return -1;
	kc = step_kubeconfig_path(ctx);
	unlink(kc);
	free(kc);
	return 0;
}

static int
status_row(struct plan_ctx *ctx, json_t *rows, const char *zone,
           const char *name, bool in_config, struct mv_err *err)
{
	json_t *cl = NULL;
	int r = gke_cluster_get(ctx->gcp, zone, name, &cl, err);

	if (r < 0)
		return -1;
	json_array_append_new(rows, json_pack(
		"{s:s,s:s,s:s,s:s,s:s?,s:s?,s:s?,s:b}", "kind", "cluster", "name",
		name, "zone", zone, "status", r ? "ABSENT" : cl_str(cl, "status"),
		"endpoint", cl_str(cl, "endpoint"), "podCidr",
		cl_str(cl, "clusterIpv4Cidr"), "meshvmId",
		r ? NULL : gke_cluster_meshvm_id(cl), "configured", in_config));
	json_decref(cl);
	return 0;
}

static int
clusters_status(struct plan_ctx *ctx, json_t *rows, struct mv_err *err)
{
	const struct mv_config *cfg = ctx->cfg;
	json_t *rec;
	const char *key;

	for (size_t i = 0; i < cfg->n_clusters; i++)
		if (status_row(ctx, rows, cfg->clusters[i].zone,
		               cfg->clusters[i].name, true, err) != 0)
			return -1;
	json_object_foreach(mv_state_resources(ctx->state), key, rec) {
		const char *zone = mv_state_str(rec, "zone");
		const char *name = mv_state_str(rec, "name");
		if (step_record_is(key, rec, "cluster") && zone && name &&
		    !configured(cfg, zone, name) &&
		    status_row(ctx, rows, zone, name, false, err) != 0)
			return -1;
	}
	return 0;
}

static int
clusters_discover(struct plan_ctx *ctx, json_t *found, struct mv_err *err)
{
	json_t *all = NULL, *cl;
	size_t i;

	if (gke_cluster_list_all(ctx->gcp, &all, err) != 0)
		return -1;
	json_array_foreach(all, i, cl) {
		const char *id = gke_cluster_meshvm_id(cl), *name = cl_str(cl, "name");
		const char *zone = cl_str(cl, "location") ? cl_str(cl, "location")
		                                          : cl_str(cl, "zone");
		json_t *rec;
		char *key;
		if (id == NULL || name == NULL || zone == NULL)
			continue;
		rec = json_pack("{s:s,s:s,s:s,s:s}", "kind", "cluster", "name", name,
		                "zone", zone, "phase", "pending");
		if (cl_str(cl, "status") && !strcmp(cl_str(cl, "status"), "RUNNING")) {
			gke_cluster_outputs(rec, cl);
			step_record_created(rec);
		}
		key = step_record_key("cluster", zone, name);
		json_array_append_new(found, json_pack("{s:s,s:s,s:o}", "id", id,
		                                       "key", key, "record", rec));
		free(key);
	}
	json_decref(all);
	return 0;
}

const struct plan_step step_clusters = {
	.name = "clusters",
	.summary = "GKE clusters (created in parallel), and .meshvm/kubeconfig",
	.after = (const char *const[]){NULL},
	.check = clusters_check,
	.apply = clusters_apply,
	.destroy = clusters_destroy,
	.status = clusters_status,
	.discover = clusters_discover,
};
