/* cluster/steps/launch_group.c - the launch step for vm.count > 1: an
 * instance template and a zonal managed instance group with autohealing
 * on an HTTP health check (15021 /healthz/ready, the sidecar's readiness)
 * and the firewall rule for Google's health-check ranges.
 *
 * Changes, as gcloud makes them:
 *   count         instanceGroupManagers.resize?size=N
 *   new bundle    a new template, then PATCH the group with
 *                 versions=[new template] and updatePolicy type PROACTIVE
 *                 (`gcloud compute instance-groups managed rolling-action
 *                 start-update`): Compute replaces every member.
 *   new token     a new template and setInstanceTemplate: only members
 *                 made from then on (autohealing, scale-up) use it; the
 *                 running ones got theirs by setMetadata.
 *   1 → N         the group is made, its members join, then the single
 *                 instance is deleted. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/compute.h"
#include "cluster/instances.h"
#include "cluster/steps/launch_int.h"
#include "core/log.h"
#include "core/xalloc.h"

static const char *const hc_ranges[] = {"35.191.0.0/16", "130.211.0.0/22"};

static const char *
str_or_empty(const char *s)
{
	return s ? s : "";
}

static json_t *
group_record(const struct plan_ctx *ctx)
{
	return step_record_get(ctx, "group", ctx->cfg->vm.zone,
	                       ctx->cfg->vm.name);
}

static char *
group_path(const struct plan_ctx *ctx)
{
	return mv_xstrfmt("zones/%s/instanceGroupManagers/%s", ctx->cfg->vm.zone,
	                  ctx->cfg->vm.name);
}

/* 0 present (ours), 1 absent, -1 error (or someone else's). */
static int
live_ours(struct plan_ctx *ctx, const char *kind, const char *path,
          const char *name, json_t **out, struct mv_err *err)
{
	json_t *live = NULL;
	int got = inst_get(ctx->gcp, path, &live, err);
	char *id;

	if (out != NULL)
		*out = NULL;
	if (got != 0)
		return got;
	id = launch_owner_id(kind, live);
	if (!step_ours(ctx, id))
		got = step_not_ours(ctx, kind, name, id, err);
	else if (out != NULL)
		*out = json_incref(live);
	free(id);
	json_decref(live);
	return got;
}

/* The template record the group uses now (NULL: none). */
static json_t *
current_template(const struct plan_ctx *ctx)
{
	const char *t = mv_state_str(group_record(ctx), "template");

	return t ? step_record_get(ctx, "template", NULL, t) : NULL;
}

int
launch_group_check(struct plan_ctx *ctx, const char *digest,
                   struct step_check *out, struct mv_err *err)
{
	const struct mv_config *cfg = ctx->cfg;
	char *path = group_path(ctx), *hc = fleet_hc_name(ctx);
	char *fw = fleet_hc_rule_name(ctx), *hcp = NULL;
	json_t *live = NULL, *tmpl = current_template(ctx);
	int got, rc = -1;

	hcp = mv_xstrfmt("global/healthChecks/%s", hc);
	got = live_ours(ctx, "healthcheck", hcp, hc, NULL, err);
	if (got < 0)
		goto out;
	if (got == 1)
		step_action(out, "create health check %s (HTTP %d %s)", hc,
		            FLEET_HC_PORT, FLEET_HC_PATH);
	free(hcp);
	hcp = mv_xstrfmt("global/firewalls/%s", fw);
	got = live_ours(ctx, "hcfirewall", hcp, fw, NULL, err);
	if (got < 0)
		goto out;
	if (got == 1)
		step_action(out, "create firewall rule %s (Google's health checks "
		            "to port %d)", fw, FLEET_HC_PORT);
	got = live_ours(ctx, "group", path, cfg->vm.name, &live, err);
	if (got < 0)
		goto out;
	if (got == 1) {
		step_action(out, "create an instance template and managed instance "
		            "group %s of %d in %s (bundle %.19s)", cfg->vm.name,
		            cfg->vm.count, cfg->vm.zone,
		            digest ? digest : "once delivered");
	} else {
		json_int_t size = json_integer_value(json_object_get(live,
		                                                     "targetSize"));
		const char *have = mv_state_str(tmpl, "digest");
		if (size != cfg->vm.count)
			step_action(out, "resize group %s from %" JSON_INTEGER_FORMAT
			            " to %d", cfg->vm.name, size, cfg->vm.count);
		if (digest != NULL && (have == NULL || strcmp(have, digest)))
			step_action(out, "replace the members of group %s (rolling): "
			            "bundle %.19s → %.19s", cfg->vm.name,
			            have ? have : "unknown", digest);
		else if (tmpl == NULL || !launch_token_fresh(tmpl))
			step_action(out, "a new template for group %s with a fresh "
			            "Istio token", cfg->vm.name);
	}
	if (step_record_get(ctx, "instance", cfg->vm.zone, cfg->vm.name))
		step_action(out, "delete instance %s once the group joined",
		            cfg->vm.name);
	rc = 0;
out:
	json_decref(live);
	free(path);
	free(hc);
	free(fw);
	free(hcp);
	return rc;
}

/* Our global resource name_of(ctx) in the collection `coll` (`kind` in
 * the state): created from make(ctx, name) unless ours is live. */
static int
ensure_global(struct plan_ctx *ctx, const char *kind, const char *coll,
              char *(*name_of)(const struct plan_ctx *ctx),
              json_t *(*make)(struct plan_ctx *ctx, const char *name),
              long deadline, struct mv_err *err)
{
	char *name = name_of(ctx), *path = mv_xstrfmt("%s/%s", coll, name);
	json_t *body, *rec;
	int got, rc = 0;

	got = live_ours(ctx, kind, path, name, NULL, err);
	free(path);
	rec = step_record_put(ctx, kind, NULL, name);
	if (got == 1) {
		body = make(ctx, name);
		rc = launch_create(ctx, rec, coll, NULL, body, deadline, err);
		json_decref(body);
	} else if (got < 0) {
		rc = -1;
	} else {
		step_record_created(rec);
	}
	free(name);
	return rc;
}

static json_t *
hc_body(struct plan_ctx *ctx, const char *name)
{
	char *d = fleet_description(ctx, "the sidecar's readiness, for "
	                            "autohealing");
	json_t *body = json_pack("{s:s, s:s, s:s, s:{s:i, s:s}, s:i, s:i, s:i, "
	                         "s:i}", "name", name, "description", d, "type",
	                         "HTTP", "httpHealthCheck", "port", FLEET_HC_PORT,
	                         "requestPath", FLEET_HC_PATH, "checkIntervalSec",
	                         10, "timeoutSec", 5, "healthyThreshold", 2,
	                         "unhealthyThreshold", 3);

	free(d);
	return body;
}

static json_t *
hc_rule_body(struct plan_ctx *ctx, const char *name)
{
	const struct mv_config *cfg = ctx->cfg;
	json_t *body, *tags = json_array();
	char *d, *net, *link;
	char port[8];

	snprintf(port, sizeof(port), "%d", FLEET_HC_PORT);
	for (size_t i = 0; i < cfg->vm.n_tags; i++)
		json_array_append_new(tags, json_string(cfg->vm.tags[i]));
	d = fleet_description(ctx, "Google's health checks to the VMs' "
	                      "sidecar readiness port");
	net = mv_xstrfmt("global/networks/%s", cfg->vm.network);
	link = compute_link(ctx->gcp, net);
	body = json_pack("{s:s, s:s, s:s, s:s, s:[s,s], s:o, "
	                 "s:[{s:s, s:[s]}]}", "name", name, "description", d,
	                 "network", link, "direction", "INGRESS",
	                 "sourceRanges", hc_ranges[0], hc_ranges[1],
	                 "targetTags", tags, "allowed", "IPProtocol", "tcp",
	                 "ports", port);
	free(d);
	free(net);
	free(link);
	return body;
}

/* Make a template with a fresh token: *name malloc'd. */
static int
make_template(struct plan_ctx *ctx, const char *url, const char *digest,
              const char *token, time_t expires, char **name, long deadline,
              struct mv_err *err)
{
	json_t *props = NULL, *body, *rec;
	char *d;
	int rc;

	if (fleet_template_name(ctx, digest, name, err) != 0 ||
	    fleet_properties(ctx, url, digest, token, true, &props, err) != 0)
		return -1;
	d = fleet_description(ctx, "the VM fleet's template");
	body = json_pack("{s:s, s:s, s:o}", "name", *name, "description", d,
	                 "properties", props);
	free(d);
	rec = step_record_put(ctx, "template", NULL, *name);
	mv_state_set_str(rec, "digest", digest);
	launch_record_token(rec, expires);
	rc = launch_create(ctx, rec, "global/instanceTemplates", NULL, body,
	                   deadline, err);
	json_decref(body);
	return rc;
}

/* Mint a token and make a template with it. */
static int
new_template(struct plan_ctx *ctx, const char *url, const char *digest,
             char **name, long deadline, struct mv_err *err)
{
	char *token = NULL;
	time_t expires = 0;
	int rc;

	*name = NULL;
	if (fleet_mint_token(ctx, &token, &expires, err) != 0)
		return -1;
	rc = make_template(ctx, url, digest, token, expires, name, deadline, err);
	fleet_token_free(token);
	return rc;
}

struct settle {
	struct plan_ctx *ctx;
	const char *path;
};

/* The group is stable with its target size of members. */
static int
settle_probe(void *arg, char **state, struct mv_err *err)
{
	struct settle *s = arg;
	json_t *live = NULL;
	int got = inst_get(s->ctx->gcp, s->path, &live, err), rc;
	json_t *acts = json_object_get(live, "currentActions");
	json_int_t target = json_integer_value(json_object_get(live,
	                                                       "targetSize"));
	json_int_t none = json_integer_value(json_object_get(acts, "none"));

	if (got != 0) {
		json_decref(live);
		return got < 0 ? -1 : mv_err_set(err, MV_EXIT_CLOUD, "group %s: "
		                                 "gone", s->path);
	}
	rc = json_is_true(json_object_get(json_object_get(live, "status"),
	                                  "isStable")) && none == target;
	*state = mv_xstrfmt("group %" JSON_INTEGER_FORMAT "/%" JSON_INTEGER_FORMAT
	                    " members ready", none, target);
	json_decref(live);
	return rc;
}

/* Delete the templates the group no longer uses. */
static int
prune_templates(struct plan_ctx *ctx, const char *keep, long deadline,
                struct mv_err *err)
{
	json_t *res = mv_state_resources(ctx->state), *rec;
	json_t *old = json_array(), *k;
	const char *key;
	size_t i;
	int rc = 0;

	json_object_foreach(res, key, rec)
		if (step_record_is(key, rec, "template") &&
		    strcmp(mv_state_str(rec, "name"), keep) != 0)
			json_array_append_new(old, json_string(key));
	json_array_foreach(old, i, k) {
		rec = mv_state_get(ctx->state, json_string_value(k));
		char *path = launch_path(rec);
		rc = launch_change(ctx, "DELETE", path, NULL, NULL, NULL, deadline,
		                   err);
		free(path);
		if (rc != 0 && err->exit_code == MV_EXIT_CLOUD &&
		    strstr(err->msg, "answered 404") != NULL) {
			mv_err_free(err);
			mv_err_clear(err);
			rc = 0;
		}
		if (rc != 0)
			break;
		mv_state_del(ctx->state, json_string_value(k));
		if ((rc = mv_state_save(ctx->state, err)) != 0)
			break;
	}
	json_decref(old);
	return rc;
}

int
launch_group_apply(struct plan_ctx *ctx, const char *url, const char *digest,
                   struct mv_err *err)
{
	const struct mv_config *cfg = ctx->cfg;
	long deadline = step_deadline(ctx, LAUNCH_DEADLINE_MS);
	char *path = group_path(ctx), *tname = NULL, *tlink = NULL, *hc = NULL;
	char *tp = NULL, *hcl = NULL, *hcn = fleet_hc_name(ctx);
	json_t *live = NULL, *grec, *tmpl, *members = NULL, *body;
	struct settle s = {ctx, path};
	int got, rc = -1;

	if (ensure_global(ctx, "healthcheck", "global/healthChecks",
	                  fleet_hc_name, hc_body, deadline, err) != 0 ||
	    ensure_global(ctx, "hcfirewall", "global/firewalls",
	                  fleet_hc_rule_name, hc_rule_body, deadline, err) != 0)
		goto out;
	got = live_ours(ctx, "group", path, cfg->vm.name, &live, err);
	if (got < 0)
		goto out;
	tmpl = current_template(ctx);
	if (tmpl != NULL && !strcmp(str_or_empty(mv_state_str(tmpl, "digest")),
	                            digest) && launch_token_fresh(tmpl))
		tname = mv_xstrdup(mv_state_str(tmpl, "name"));
	else if (new_template(ctx, url, digest, &tname, deadline, err) != 0)
		goto out;
	tp = mv_xstrfmt("global/instanceTemplates/%s", tname);
	tlink = compute_link(ctx->gcp, tp);
	grec = step_record_put(ctx, "group", cfg->vm.zone, cfg->vm.name);
	if (got == 1) {
		char *d = fleet_description(ctx, "the VM fleet");
		hc = mv_xstrfmt("global/healthChecks/%s", hcn);
		hcl = compute_link(ctx->gcp, hc);
		body = json_pack("{s:s, s:s, s:s, s:s, s:i, s:[{s:s, s:i}], "
		                 "s:{s:s, s:s}}", "name", cfg->vm.name,
		                 "description", d, "baseInstanceName", cfg->vm.name,
		                 "instanceTemplate", tlink, "targetSize",
		                 cfg->vm.count, "autoHealingPolicies", "healthCheck",
		                 hcl, "initialDelaySec", 300, "updatePolicy", "type",
		                 "OPPORTUNISTIC", "minimalAction", "REPLACE");
		free(d);
		mv_state_set_str(grec, "template", tname);
		char *zp = mv_xstrfmt("zones/%s/instanceGroupManagers", cfg->vm.zone);
		rc = launch_create(ctx, grec, zp, cfg->vm.zone, body, deadline, err);
		free(zp);
		json_decref(body);
		if (rc != 0)
			goto out;
		rc = -1;
	} else {
		const char *have = gcp_basename(json_string_value(json_object_get(
		        live, "instanceTemplate")));
		json_t *trec = step_record_get(ctx, "template", NULL, have);
		bool new_bundle = trec == NULL ||
		        strcmp(str_or_empty(mv_state_str(trec, "digest")), digest);
		if (strcmp(have, tname) != 0) {
			mv_info("launch: group %s: template %s → %s (%s)", cfg->vm.name,
			        have, tname, new_bundle ? "rolling replace" :
			        "new members only");
			body = new_bundle
			        ? json_pack("{s:[{s:s}], s:{s:s, s:s, s:s}}", "versions",
			                    "instanceTemplate", tlink, "updatePolicy",
			                    "type", "PROACTIVE", "minimalAction",
			                    "REPLACE", "replacementMethod", "SUBSTITUTE")
			        : json_pack("{s:s}", "instanceTemplate", tlink);
			char *sp = new_bundle ? mv_xstrdup(path)
			                      : mv_xstrfmt("%s/setInstanceTemplate", path);
			got = launch_change(ctx, new_bundle ? "PATCH" : "POST", sp, NULL,
			                    cfg->vm.zone, body, deadline, err);
			free(sp);
			json_decref(body);
			if (got != 0)
				goto out;
			mv_state_set_str(grec, "template", tname);
		}
		if (json_integer_value(json_object_get(live, "targetSize")) !=
		    cfg->vm.count) {
			char q[32];
			snprintf(q, sizeof(q), "size=%d", cfg->vm.count);
			char *rp = mv_xstrfmt("%s/resize", path);
			got = launch_change(ctx, "POST", rp, q, cfg->vm.zone, NULL,
			                    deadline, err);
			free(rp);
			if (got != 0)
				goto out;
		}
		step_record_created(grec);
	}
	json_object_set_new(grec, "size", json_integer(cfg->vm.count));
	if (mv_state_save(ctx->state, err) != 0 ||
	    step_poll(ctx, deadline, LAUNCH_LABEL, settle_probe, &s, err) != 0 ||
	    prune_templates(ctx, tname, deadline, err) != 0)
		goto out;
	if (step_record_get(ctx, "instance", cfg->vm.zone, cfg->vm.name) != NULL) {
		/* 1 → N: the single VM goes once the group is in the mesh */
		if (fleet_members(ctx, false, true, &members, err) != 0 ||
		    fleet_wait_joined(ctx, members, LAUNCH_LABEL, err) != 0 ||
		    launch_destroy_kind(ctx, "instance", err) != 0)
			goto out;
	}
	rc = 0;
out:
	json_decref(live);
	json_decref(members);
	free(path);
	free(tname);
	free(tlink);
	free(tp);
	free(hc);
	free(hcl);
	free(hcn);
	return rc;
}

int
launch_group_refresh(struct plan_ctx *ctx, const char *url,
                     const char *digest, const char *token, time_t expires,
                     struct mv_err *err)
{
	long deadline = step_deadline(ctx, LAUNCH_DEADLINE_MS);
	char *name = NULL, *path = group_path(ctx), *sp, *tp, *link;
	json_t *body, *grec = group_record(ctx);
	int rc = make_template(ctx, url, digest, token, expires, &name, deadline,
	                       err);

	if (rc == 0) {
		tp = mv_xstrfmt("global/instanceTemplates/%s", name);
		link = compute_link(ctx->gcp, tp);
		body = json_pack("{s:s}", "instanceTemplate", link);
		sp = mv_xstrfmt("%s/setInstanceTemplate", path);
		rc = launch_change(ctx, "POST", sp, NULL, ctx->cfg->vm.zone, body,
		                   deadline, err);
		json_decref(body);
		free(sp);
		free(tp);
		free(link);
		if (rc == 0) {
			mv_state_set_str(grec, "template", name);
			rc = mv_state_save(ctx->state, err) != 0 ||
			     prune_templates(ctx, name, deadline, err) != 0 ? -1 : 0;
		}
	}
	free(name);
	free(path);
	return rc;
}

int
launch_group_status(struct plan_ctx *ctx, json_t *rows, struct mv_err *err)
{
	json_t *rec = group_record(ctx), *live = NULL;
	char *path, *detail;
	int got;

	if (rec == NULL)
		return 0;
	path = group_path(ctx);
	got = inst_get(ctx->gcp, path, &live, err);
	free(path);
	if (got < 0)
		return -1;
	json_int_t target = json_integer_value(json_object_get(live,
	                                                       "targetSize"));
	json_int_t current = json_integer_value(json_object_get(json_object_get(
	        live, "currentActions"), "none"));
	const char *tmpl = gcp_basename(str_or_empty(json_string_value(
	        json_object_get(live, "instanceTemplate"))));

	detail = mv_xstrfmt("target size %" JSON_INTEGER_FORMAT ", current %"
	                    JSON_INTEGER_FORMAT ", template %s", target, current,
	                    tmpl);
	json_array_append_new(rows, json_pack(
	        "{s:s, s:s, s:s, s:s, s:I, s:I, s:s, s:s}", "kind", "group",
	        "name", ctx->cfg->vm.name, "zone", ctx->cfg->vm.zone, "status",
	        got ? "ABSENT" : "PRESENT", "target", target, "current", current,
	        "template", tmpl, "detail", detail));
	free(detail);
	json_decref(live);
	return 0;
}
