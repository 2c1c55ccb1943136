/* cluster/steps/launch.c - step `launch` (seed script 9, "create the
 * VM"): vm.count 1 is one instance made with instances.insert; more is an
 * instance template and a zonal managed instance group with autohealing
 * (launch_group.c).  Both carry the boot metadata of the image's agent
 * (the join with the delivered bundle's gs:// URL and pinned digest), the
 * Istio token in metadata key meshvm-istio-token, the label meshvm-id and
 * enable-guest-attributes.  The token is minted here and handed to
 * Compute in request bodies only: never logged, never on argv, never in
 * the state (which records its expiry).  Records: see fleet.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cloudinit/cloudinit.h"
#include "cluster/compute.h"
#include "cluster/instances.h"
#include "cluster/launch.h"
#include "cluster/steps/launch_int.h"
#include "core/log.h"
#include "core/xalloc.h"

/*--- one VM --------------------------------------------------------------*/

static const char *
str_or(const char *s, const char *dflt)
{
	return s ? s : dflt;
}

static json_t *
single_record(const struct plan_ctx *ctx)
{
	return step_record_get(ctx, "instance", ctx->cfg->vm.zone,
	                       ctx->cfg->vm.name);
}

static bool
any_record(const struct plan_ctx *ctx, const char *kind)
{
	const char *key;
	json_t *rec;

	json_object_foreach(mv_state_resources(ctx->state), key, rec)
		if (step_record_is(key, rec, kind))
			return true;
	return false;
}

/* The live single instance: 1 absent, 0 ours (*live), -1 error. */
static int
single_live(struct plan_ctx *ctx, json_t **live, struct mv_err *err)
{
	char *path = mv_xstrfmt("zones/%s/instances/%s", ctx->cfg->vm.zone,
	                        ctx->cfg->vm.name), *id;
	int got = inst_get(ctx->gcp, path, live, err);

	free(path);
	if (got != 0)
		return got;
	id = launch_owner_id("instance", *live);
	if (!step_ours(ctx, id)) {
		got = step_not_ours(ctx, "instance", ctx->cfg->vm.name, id, err);
		json_decref(*live);
		*live = NULL;
	}
	free(id);
	return got;
}

static int
single_check(struct plan_ctx *ctx, const char *digest, struct step_check *out,
             struct mv_err *err)
{
	const struct mv_config *cfg = ctx->cfg;
	json_t *live = NULL, *rec = single_record(ctx);
	int got = single_live(ctx, &live, err);
	const char *have;

	if (got < 0)
		return -1;
	if (got == 1) {
		step_action(out, "create instance %s in %s (bundle %.19s, an Istio "
		            "token for %s valid %lds)", cfg->vm.name, cfg->vm.zone,
		            digest ? digest : "once delivered", cfg->service.name,
		            cfg->vm.token_duration_s);
	} else {
		have = inst_metadata_value(live, FLEET_DIGEST_KEY);
		if (digest != NULL && (have == NULL || strcmp(have, digest)))
			step_action(out, "replace instance %s: bundle %.19s → %.19s",
			            cfg->vm.name, have ? have : "unknown", digest);
		else if (rec != NULL &&
		         strcmp(str_or(mv_state_str(rec, "phase"), ""), "created"))
			/* a run stopped inside the insert: the VM is there, but
			 * whether its insert succeeded is known only from its
			 * operation (single_apply waits for it) */
			step_action(out, "finish the insert of instance %s (an earlier "
			            "run stopped while it ran)", cfg->vm.name);
		else if (rec == NULL)
			step_action(out, "record instance %s in the state", cfg->vm.name);
		else if (!launch_token_fresh(rec))
			step_action(out, "refresh the Istio token of %s (expires %s)",
			            cfg->vm.name, str_or(mv_state_str(rec,
			                                              "tokenExpiresAt"),
			                                 "unknown"));
	}
	json_decref(live);
	if (any_record(ctx, "group"))
		step_action(out, "delete the managed instance group once %s joined",
		            cfg->vm.name);
	return 0;
}

static int
single_create(struct plan_ctx *ctx, const char *url, const char *digest,
              long deadline, struct mv_err *err)
{
	const struct mv_config *cfg = ctx->cfg;
	json_t *rec, *body = NULL;
	char *token = NULL, *coll;
	time_t expires = 0;
	int rc;

	if (fleet_mint_token(ctx, &token, &expires, err) != 0)
		return -1;
	rc = fleet_properties(ctx, url, digest, token, false, &body, err);
	fleet_token_free(token);
	if (rc != 0)
		return -1;
	json_object_set_new(body, "name", json_string(cfg->vm.name));
	/* the requestId recorded with an earlier intent is kept: a rerun
	 * after kill -9 resends the same insert, which Compute makes once */
	rec = step_record_put(ctx, "instance", cfg->vm.zone, cfg->vm.name);
	mv_state_set_str(rec, "digest", digest);
	launch_record_token(rec, expires);
	coll = mv_xstrfmt("zones/%s/instances", cfg->vm.zone);
	rc = launch_create(ctx, rec, coll, cfg->vm.zone, body, deadline, err);
	free(coll);
	json_decref(body);
	return rc;
}

/* setMetadata with the fingerprint the instance has now. */
static int
set_token(struct plan_ctx *ctx, const char *zone, const char *name,
          const char *token, long deadline, struct mv_err *err)
{
	char *path = mv_xstrfmt("zones/%s/instances/%s", zone, name), *sp;
	json_t *live = NULL, *body;
	int rc = inst_get(ctx->gcp, path, &live, err);
	const json_t *md = json_object_get(live, "metadata");

	if (rc != 0) {
		free(path);
		return rc < 0 ? -1 : mv_err_set(err, MV_EXIT_CLOUD, "instance %s: "
		                                "gone", name);
	}
	body = json_pack("{s:O?, s:o}", "fingerprint",
	                 json_object_get(md, "fingerprint"), "items",
	                 fleet_items_with_token(json_object_get(md, "items"),
	                                        token));
	sp = mv_xstrfmt("%s/setMetadata", path);
	rc = launch_change(ctx, "POST", sp, NULL, zone, body, deadline, err);
	json_decref(body);
	json_decref(live);
	free(sp);
	free(path);
	return rc;
}

static int
single_apply(struct plan_ctx *ctx, const char *url, const char *digest,
             long deadline, struct mv_err *err)
{
	const struct mv_config *cfg = ctx->cfg;
	json_t *rec = single_record(ctx), *live = NULL, *members = NULL;
	const char *op = mv_state_str(rec, "operation"), *have;
	bool resend;
	int got;

	/* Resume an accepted insert. */
	if (op != NULL && strcmp(str_or(mv_state_str(rec, "phase"), ""),
	                         "created") &&
	    compute_operation_wait(ctx->gcp, cfg->vm.zone, op, deadline, NULL,
	                           err) != 0)
		return -1;
	got = single_live(ctx, &live, err);
	if (got < 0)
		return -1;
	have = got == 0 ? inst_metadata_value(live, FLEET_DIGEST_KEY) : NULL;
	if (got == 0 && (have == NULL || strcmp(have, digest) != 0)) {
		char *path = mv_xstrfmt("zones/%s/instances/%s", cfg->vm.zone,
		                        cfg->vm.name);
		mv_info("launch: instance %s runs bundle %.19s; replacing it with "
		        "%.19s", cfg->vm.name, have ? have : "unknown", digest);
		got = launch_change(ctx, "DELETE", path, NULL, cfg->vm.zone, NULL,
		                    deadline, err);
		free(path);
		if (got != 0) {
			json_decref(live);
			return -1;
		}
		/* a new instance, a new request */
		json_object_del(step_record_put(ctx, "instance", cfg->vm.zone,
		                                 cfg->vm.name), "requestId");
		got = 1;
	}
	/* Killed between the insert and recording its operation: the VM is
	 * there but its insert may still run (or fail). Resend it with the
	 * recorded requestId (Compute answers with the first operation) and
	 * wait for that, as a rerun after kill -9 must. */
	resend = got == 0 && op == NULL &&
	         mv_state_str(rec, "requestId") != NULL &&
	         strcmp(str_or(mv_state_str(rec, "phase"), ""), "intent") == 0;
	if (resend)
		got = 1;
	json_decref(live);
	if (got == 1 && single_create(ctx, url, digest, deadline, err) != 0)
		return -1;
	rec = step_record_put(ctx, "instance", cfg->vm.zone, cfg->vm.name);
	/* The resent insert made nothing: the VM holds the token the killed
	 * run minted, whose expiry is not the one just recorded.  Give it a
	 * token whose expiry the state knows. */
	if (resend)
		json_object_del(rec, "tokenExpires");
	if (!launch_token_fresh(rec)) {
		char *token = NULL;
		time_t expires;
		if (fleet_mint_token(ctx, &token, &expires, err) != 0)
			return -1;
		got = set_token(ctx, cfg->vm.zone, cfg->vm.name, token, deadline,
		                err);
		fleet_token_free(token);
		if (got != 0)
			return -1;
		launch_record_token(rec, expires);
	}
	step_record_created(rec);
	mv_state_set_str(rec, "digest", digest);
	if (mv_state_save(ctx->state, err) != 0)
		return -1;
	if (!any_record(ctx, "group"))
		return 0;
	/* N → 1: the group goes once the single VM is in the mesh. */
	if (fleet_members(ctx, true, false, &members, err) != 0)
		return -1;
	got = fleet_wait_joined(ctx, members, LAUNCH_LABEL, err);
	json_decref(members);
	if (got != 0)
		return -1;
	return launch_destroy_kind(ctx, "group", err) != 0 ||
	               launch_destroy_kind(ctx, "template", err) != 0
	       ? -1 : 0;
}

/*--- the step ------------------------------------------------------------*/

static int
launch_check(struct plan_ctx *ctx, struct step_check *out, struct mv_err *err)
{
	char *url = NULL, *digest = NULL;
	struct mv_err quiet;
	int rc;

	mv_err_clear(&quiet);
	/* Nothing delivered yet: the plan says what will come. */
	if (fleet_bundle_ref(ctx, &url, &digest, &quiet) != 0)
		mv_err_free(&quiet);
	rc = ctx->cfg->vm.count > 1 ? launch_group_check(ctx, digest, out, err)
	                            : single_check(ctx, digest, out, err);
	free(url);
	free(digest);
	return rc;
}

static int
launch_apply(struct plan_ctx *ctx, struct mv_err *err)
{
	long deadline = step_deadline(ctx, LAUNCH_DEADLINE_MS);
	char *url = NULL, *digest = NULL;
	int rc;

	if (fleet_bundle_ref(ctx, &url, &digest, err) != 0)
		return mv_err_prefix(err, "launch");
	rc = ctx->cfg->vm.count > 1
	             ? launch_group_apply(ctx, url, digest, err)
	             : single_apply(ctx, url, digest, deadline, err);
	free(url);
	free(digest);
	return rc != 0 ? mv_err_prefix(err, "launch") : 0;
}

static int
launch_destroy(struct plan_ctx *ctx, struct mv_err *err)
{
	/* the group before its template, the template before the health
	 * check its autohealing names */
	static const char *const kinds[] = {"group", "instance", "template",
	                                    "healthcheck", "hcfirewall"};

	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (launch_destroy_kind(ctx, kinds[i], err) != 0)
			return -1;
	return 0;
}

static int
launch_status(struct plan_ctx *ctx, json_t *rows, struct mv_err *err)
{
	json_t *members = NULL, *m;
	size_t i;

	if (fleet_members(ctx, true, true, &members, err) != 0)
		return -1;
	json_array_foreach(members, i, m) {
		json_t *ga = NULL;
		const char *phase;
		if (inst_guest_attributes(ctx->gcp, json_string_value(
		        json_object_get(m, "zone")), json_string_value(
		        json_object_get(m, "name")), &ga, err) != 0) {
			json_decref(members);
			return -1;
		}
		phase = json_string_value(json_object_get(ga, "phase"));
		char *detail = mv_xstrfmt("IP %s, phase %s",
		                          json_string_value(json_object_get(m, "ip")),
		                          phase ? phase : "-");
		json_array_append_new(rows, json_pack(
		        "{s:s, s:O, s:O, s:O, s:O, s:s, s:s}", "kind", "vm", "name",
		        json_object_get(m, "name"), "zone", json_object_get(m, "zone"),
		        "ip", json_object_get(m, "ip"), "status",
		        json_object_get(m, "status"), "phase",
		        phase ? phase : "-", "detail", detail));
		free(detail);
		json_decref(ga);
	}
	json_decref(members);
	return launch_group_status(ctx, rows, err);
}

int
launch_refresh_token(struct plan_ctx *ctx, json_t **report,
                     struct mv_err *err)
{
	long deadline = step_deadline(ctx, LAUNCH_DEADLINE_MS);
	json_t *members = NULL, *m, *names = json_array(), *rec;
	char *token = NULL, *url = NULL, *digest = NULL;
	time_t expires = 0;
	size_t i;
	int rc = -1;

	*report = NULL;
	if (fleet_members(ctx, true, true, &members, err) != 0 ||
	    fleet_mint_token(ctx, &token, &expires, err) != 0)
		goto out;
	json_array_foreach(members, i, m) {
		const char *name = json_string_value(json_object_get(m, "name"));
		if (strcmp(json_string_value(json_object_get(m, "status")),
		           "RUNNING") != 0)
			continue;
		if (set_token(ctx, json_string_value(json_object_get(m, "zone")),
		              name, token, deadline, err) != 0)
			goto out;
		json_array_append_new(names, json_string(name));
		rec = step_record_get(ctx, "instance", json_string_value(
		        json_object_get(m, "zone")), name);
		if (rec != NULL)
			launch_record_token(rec, expires);
	}
	if (ctx->cfg->vm.count > 1 && any_record(ctx, "group")) {
		if (fleet_bundle_ref(ctx, &url, &digest, err) != 0 ||
		    launch_group_refresh(ctx, url, digest, token, expires, err) != 0)
			goto out;
	}
	if (mv_state_save(ctx->state, err) != 0)
		goto out;
	{
		char ts[32];
		struct tm tm;
		gmtime_r(&expires, &tm);
		strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
		*report = json_pack("{s:O, s:s}", "instances", names, "expires", ts);
	}
	rc = 0;
out:
	fleet_token_free(token);
	free(url);
	free(digest);
	json_decref(members);
	json_decref(names);
	return rc;
}

const struct plan_step step_launch = {
	.name = "launch",
	.summary = "the VM (or a managed instance group) with the bundle and "
	           "an Istio token in its metadata",
	.after = (const char *const[]){"deliver", NULL},
	.check = launch_check,
	.apply = launch_apply,
	.destroy = launch_destroy,
	.status = launch_status,
};
