/* cluster/steps/launch_res.c - the Compute resources of the launch step
 * as records: their paths and owners, create with the requestId recorded
 * first, change, delete (see launch_int.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cluster/compute.h"
#include "cluster/instances.h"
#include "cluster/steps/launch_int.h"
#include "core/log.h"
#include "core/xalloc.h"

char *
launch_path(const json_t *rec)
{
	const char *kind = mv_state_str(rec, "kind");
	const char *zone = mv_state_str(rec, "zone");
	const char *name = mv_state_str(rec, "name");

	if (kind == NULL || name == NULL)
		return NULL;
	if (!strcmp(kind, "instance") && zone)
		return mv_xstrfmt("zones/%s/instances/%s", zone, name);
	if (!strcmp(kind, "group") && zone)
		return mv_xstrfmt("zones/%s/instanceGroupManagers/%s", zone, name);
	if (!strcmp(kind, "template"))
		return mv_xstrfmt("global/instanceTemplates/%s", name);
	if (!strcmp(kind, "healthcheck"))
		return mv_xstrfmt("global/healthChecks/%s", name);
	if (!strcmp(kind, "hcfirewall"))
		return mv_xstrfmt("global/firewalls/%s", name);
	return NULL;
}

char *
launch_owner_id(const char *kind, const json_t *live)
{
	const json_t *labels = json_object_get(live, "labels");
	const char *id;

	if (!strcmp(kind, "template"))
		labels = json_object_get(json_object_get(live, "properties"),
		                         "labels");
	id = json_string_value(json_object_get(labels, "meshvm-id"));
	if (id != NULL)
		return mv_xstrdup(id);
	return fleet_description_id(json_string_value(json_object_get(
	        live, "description")));
}

bool
launch_token_fresh(const json_t *rec)
{
	json_int_t exp = json_integer_value(json_object_get(rec,
	                                                    "tokenExpires"));

	/* a token with less than a tenth of an hour left is as good as gone */
	return exp > (json_int_t)time(NULL) + 360;
}

void
launch_record_token(json_t *rec, time_t expires)
{
	char ts[32];
	struct tm tm;

	gmtime_r(&expires, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	json_object_set_new(rec, "tokenExpires", json_integer(expires));
	json_object_set_new(rec, "tokenExpiresAt", json_string(ts));
}

int
launch_create(struct plan_ctx *ctx, json_t *rec, const char *coll_path,
              const char *zone, const json_t *body, long deadline,
              struct mv_err *err)
{
	char uuid[37], *op = NULL, *path, *id;
	const char *kind = mv_state_str(rec, "kind");
	json_t *live = NULL;
	long status = 0;
	int rc;

	if (mv_state_str(rec, "requestId") == NULL) {
		if (step_uuid(uuid, err) != 0)
			return -1;
		mv_state_set_str(rec, "requestId", uuid);
	}
	mv_state_set_str(rec, "phase", "intent");
	if (mv_state_save(ctx->state, err) != 0)
		return -1;
	rc = inst_send(ctx->gcp, "POST", coll_path, NULL, body,
	               mv_state_str(rec, "requestId"), &op, &status, err);
	if (rc == 1 && status == 409) { /* there already: ours? */
		path = launch_path(rec);
		rc = inst_get(ctx->gcp, path, &live, err);
		free(path);
		if (rc != 0)
			return -1;
		id = launch_owner_id(kind, live);
		json_decref(live);
		rc = step_ours(ctx, id) ? 0
		     : step_not_ours(ctx, kind, mv_state_str(rec, "name"), id, err);
		free(id);
		return rc;
	}
	if (rc != 0)
		return rc < 0 ? -1 : mv_err_set(err, MV_EXIT_CLOUD, "%s %s: "
		                                "insert answered %ld", kind,
		                                mv_state_str(rec, "name"), status);
	mv_state_set_str(rec, "operation", op);
	mv_state_set_str(rec, "phase", "pending");
	rc = mv_state_save(ctx->state, err) != 0 ||
	     compute_operation_wait(ctx->gcp, zone, op, deadline,
	                            ctx->progress ? LAUNCH_LABEL : NULL, err) != 0
	             ? -1 : 0;
	free(op);
	if (rc == 0) {
		step_record_created(rec);
		mv_info("launch: %s %s created", kind, mv_state_str(rec, "name"));
		rc = mv_state_save(ctx->state, err);
	}
	return rc;
}

int
launch_change(struct plan_ctx *ctx, const char *method, const char *path,
              const char *query, const char *zone, const json_t *body,
              long deadline, struct mv_err *err)
{
	char uuid[37], *op = NULL;
	long status = 0;
	int rc;

	if (step_uuid(uuid, err) != 0)
		return -1;
	rc = inst_send(ctx->gcp, method, path, query, body, uuid, &op, &status,
	               err);
	if (rc == 1)
		return mv_err_set(err, MV_EXIT_CLOUD, "%s %s: answered %ld", method,
		                  path, status);
	if (rc != 0)
		return -1;
	rc = compute_operation_wait(ctx->gcp, zone, op, deadline,
	                            ctx->progress ? LAUNCH_LABEL : NULL, err);
	free(op);
	return rc;
}

static int
res_owner(struct plan_ctx *ctx, const json_t *rec, char **id,
          struct mv_err *err)
{
	char *path = launch_path(rec);
	json_t *live = NULL;
	int got = path ? inst_get(ctx->gcp, path, &live, err) : 1;

	free(path);
	if (got == 0)
		*id = launch_owner_id(mv_state_str(rec, "kind"), live);
	json_decref(live);
	return got;
}

static int
res_remove(struct plan_ctx *ctx, const json_t *rec, char **op,
           struct mv_err *err)
{
	char *path = launch_path(rec);
	int rc = path ? inst_send(ctx->gcp, "DELETE", path, NULL, NULL, NULL, op,
	                          NULL, err)
	              : 1;

	free(path);
	return rc;
}

static int
res_deleted(struct plan_ctx *ctx, const json_t *rec, const char *op,
            struct mv_err *err)
{
	return compute_operation_done(ctx->gcp, mv_state_str(rec, "zone"), op,
	                              err);
}

int
launch_destroy_kind(struct plan_ctx *ctx, const char *kind,
                    struct mv_err *err)
{
	struct step_deleter d = {kind, LAUNCH_LABEL, LAUNCH_DEADLINE_MS,
	                         res_owner, res_remove, res_deleted};

	return step_destroy_records(ctx, &d, err);
}

