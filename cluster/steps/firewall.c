/* cluster/steps/firewall.c - step `firewall` (seed scripts 2 and 12): the
 * rules between the clusters' pods and the VM.  A rule carries
 * "meshvm-id=ID" in its description; a drifted rule is patched in place
 * (firewalls.patch), never deleted and inserted again, which would leave
 * a gap with no rule.  Records: "firewall/NAME" with the insert's
 * requestId, so a resent insert (reset, timeout, a rerun after kill -9)
 * is acted on once. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/compute.h"
#include "cluster/gke.h"
#include "cluster/step.h"
#include "core/log.h"
#include "core/xalloc.h"

#define FIREWALL_DEADLINE_MS (10L * 60 * 1000)

struct rule {
	char *name;
	json_t *body; /* the insert body; NULL while its cluster is absent */
};

static const char *const mesh_ports[] = {"15012", "15017", "15443", NULL};

static void
free_rules(struct rule *r, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(r[i].name);
		json_decref(r[i].body);
	}
	free(r);
}

static json_t *
rule_body(const char *name, const char *network, const char *what)
{
	return json_pack("{s:s,s:s,s:s,s:s}", "name", name, "description", what,
	                 "network", network, "direction", "INGRESS");
}

/* The rules the config asks for. Pod ranges come from the live clusters;
 * a cluster that does not exist yet yields a NULL body. */
static int
desired_rules(struct plan_ctx *ctx, struct rule **out, size_t *n_out,
              struct mv_err *err)
{
	const struct mv_config *cfg = ctx->cfg;
	struct rule *r = mv_xcalloc(cfg->n_clusters * 2 + 1, sizeof(*r));
	const char *id = mv_state_id(ctx->state);
	size_t k = 0;
	char port[16];

	snprintf(port, sizeof(port), "%d", cfg->service.port);
	for (size_t i = 0; i < cfg->n_clusters; i++) {
		const struct mv_cluster_config *c = &cfg->clusters[i];
		json_t *cl = NULL, *tags = json_array(), *ports = json_array();
		char *net = mv_xstrfmt("global/networks/%s", cfg->vm.network);
		char *link = compute_link(ctx->gcp, net), *d;
		char *cnet = mv_xstrfmt("global/networks/%s", c->network);
		char *clink = compute_link(ctx->gcp, cnet);
		int rc = gke_cluster_get(ctx->gcp, c->zone, c->name, &cl, err);
		const char *cidr = json_string_value(json_object_get(
			cl, "clusterIpv4Cidr"));

		for (size_t t = 0; t < cfg->vm.n_tags; t++)
			json_array_append_new(tags, json_string(cfg->vm.tags[t]));
		for (size_t p = 0; mesh_ports[p]; p++)
			json_array_append_new(ports, json_string(mesh_ports[p]));
		/* pods of the cluster → the VM's tag on the service port */
		r[k].name = mv_xstrfmt("%s-to-%s", c->name, cfg->vm.name);
		if (cidr != NULL) {
			d = mv_xstrfmt("meshvm-id=%s: cluster pods to the VM's service "
			               "port", id);
			r[k].body = rule_body(r[k].name, link, d);
			free(d);
			json_object_set_new(r[k].body, "allowed", json_pack(
				"[{s:s,s:[s]}]", "IPProtocol", "tcp", "ports", port));
			json_object_set_new(r[k].body, "sourceRanges",
			                    json_pack("[s]", cidr));
			json_object_set(r[k].body, "targetTags", tags);
		}
		k++;
		/* the VM → the cluster's nodes (east-west gateway, istiod) */
		r[k].name = mv_xstrfmt("%s-to-%s", cfg->vm.name, c->name);
		d = mv_xstrfmt("meshvm-id=%s: the VM to the cluster's east-west "
		               "gateway and istiod", id);
		r[k].body = rule_body(r[k].name, clink, d);
		free(d);
		d = mv_xstrfmt("%s-node", c->name);
		json_object_set_new(r[k].body, "allowed", json_pack(
			"[{s:s,s:O}]", "IPProtocol", "tcp", "ports", ports));
		json_object_set(r[k].body, "sourceTags", tags);
		json_object_set_new(r[k].body, "targetTags", json_pack("[s]", d));
		free(d);
		k++;
		json_decref(tags);
		json_decref(ports);
		json_decref(cl);
		free(net);
		free(link);
		free(cnet);
		free(clink);
		if (rc < 0) {
			free_rules(r, k);
			return -1;
		}
	}
	*out = r;
	*n_out = k;
	return 0;
}

/* The meshvm-id in a rule's description ("meshvm-id=ID: ..."), or "". */
static void
rule_id(const json_t *fw, char *their, size_t len)
{
	const char *d = json_string_value(json_object_get(fw, "description"));
	const char *p = d ? strstr(d, "meshvm-id=") : NULL;

	their[0] = '\0';
	if (p != NULL)
		snprintf(their, len, "%.*s", (int)strcspn(p + 10, ": "), p + 10);
}

/* Compare the fields we set; describe the first difference. */
static bool
rule_matches(const json_t *want, const json_t *have, char *why, size_t len)
{
	static const char *const fields[] = {"sourceRanges", "sourceTags",
	                                     "targetTags", "allowed", "direction",
	                                     NULL};

	for (size_t i = 0; fields[i]; i++) {
		json_t *w = json_object_get(want, fields[i]);
		json_t *h = json_object_get(have, fields[i]);
		if (w == NULL)
			continue;
		if (h == NULL || !json_equal(w, h)) {
			char *ws = json_dumps(w, JSON_COMPACT);
			char *hs = h ? json_dumps(h, JSON_COMPACT) : mv_xstrdup("absent");
			snprintf(why, len, "%s is %s, config says %s", fields[i], hs, ws);
			free(ws);
			free(hs);
			return false;
		}
	}
	return true;
}

/* Read one rule: 1 absent, 0 present and ours (*same: as configured,
 * else *why says how not), -1 error (or someone else's). */
static int
read_rule(struct plan_ctx *ctx, const struct rule *r, bool *same, char *why,
          size_t len, struct mv_err *err)
{
	json_t *fw = NULL;
	char their[64];
	int got = compute_firewall_get(ctx->gcp, r->name, &fw, err);

	if (got != 0)
		return got;
	rule_id(fw, their, sizeof(their));
	if (!step_ours(ctx, their)) {
		json_decref(fw);
		return step_not_ours(ctx, "firewall rule", r->name, their, err);
	}
	*same = r->body == NULL || rule_matches(r->body, fw, why, len);
	json_decref(fw);
	return 0;
}

static int
firewall_check(struct plan_ctx *ctx, struct step_check *out,
               struct mv_err *err)
{
	struct rule *r;
	const char *key;
	json_t *rec;
	size_t n;

	if (desired_rules(ctx, &r, &n, err) != 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		char why[512];
		bool same = true;
		int got = read_rule(ctx, &r[i], &same, why, sizeof(why), err);

		if (got < 0) {
			free_rules(r, n);
			return -1;
		}
		if (got == 1)
			step_action(out, "create firewall rule %s%s", r[i].name,
			            r[i].body ? "" : " (once its cluster's pod range is "
			                             "known)");
		else if (!same)
			step_drift(out, "firewall rule %s: %s", r[i].name, why);
		else if (step_record_get(ctx, "firewall", NULL, r[i].name) == NULL)
			step_action(out, "record firewall rule %s in the state",
			            r[i].name);
	}
	json_object_foreach(mv_state_resources(ctx->state), key, rec) {
		const char *name = mv_state_str(rec, "name");
		bool wanted = false;
		for (size_t i = 0; i < n && name; i++)
			wanted |= !strcmp(r[i].name, name);
		if (step_record_is(key, rec, "firewall") && name && !wanted)
			step_drift(out, "firewall rule %s is recorded but no longer in "
			           "the config; `meshvm down` deletes it", name);
	}
	free_rules(r, n);
	return 0;
}

static int
patch_rule(struct plan_ctx *ctx, const struct rule *r, const char *why,
           long deadline, struct mv_err *err)
{
	char uuid[37], *op = NULL;
	int rc;

	mv_info("firewall: %s drifted (%s); patching it", r->name, why);
	if (step_uuid(uuid, err) != 0 ||
	    compute_firewall_patch(ctx->gcp, r->name, r->body, uuid, &op, err) != 0)
		return -1;
	rc = compute_operation_wait(ctx->gcp, NULL, op, deadline,
	                            ctx->progress ? "firewall:" : NULL, err);
	free(op);
	return rc;
}

/* Insert one rule with the requestId recorded with its intent. */
static int
insert_rule(struct plan_ctx *ctx, const struct rule *r, json_t *rec,
            long deadline, struct mv_err *err)
{
	char uuid[37], *op = NULL;
	bool unknown = false, same = true;
	char why[512];
	int ins;

	if (mv_state_str(rec, "requestId") == NULL) {
		if (step_uuid(uuid, err) != 0)
			return -1;
		mv_state_set_str(rec, "requestId", uuid);
	}
	mv_state_set_str(rec, "phase", "intent");
	if (mv_state_save(ctx->state, err) != 0)
		return -1;
	ins = compute_firewall_insert(ctx->gcp, r->body,
	                              mv_state_str(rec, "requestId"), &op,
	                              &unknown, err);
	if (ins == 1) { /* 409: a rule by that name appeared; ours? */
		int got = read_rule(ctx, r, &same, why, sizeof(why), err);
		if (got == 1)
			return mv_err_set(err, MV_EXIT_CLOUD, "firewall rule %s: insert "
			                  "answered 409 but the rule is absent", r->name);
		return got < 0 ? -1 : same ? 0
		       : patch_rule(ctx, r, why, deadline, err);
	}
	if (ins < 0)
		return -1;
	mv_state_set_str(rec, "operation", op);
	mv_state_set_str(rec, "phase", "pending");
	if (mv_state_save(ctx->state, err) != 0 ||
	    compute_operation_wait(ctx->gcp, NULL, op, deadline,
	                           ctx->progress ? "firewall:" : NULL, err) != 0) {
		free(op);
		return -1;
	}
	free(op);
	mv_info("firewall: %s created", r->name);
	return 0;
}

static int
firewall_apply(struct plan_ctx *ctx, struct mv_err *err)
{
	long deadline = step_deadline(ctx, FIREWALL_DEADLINE_MS);
	struct rule *r;
	size_t n;
	int rc = -1;

	if (desired_rules(ctx, &r, &n, err) != 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		json_t *rec = step_record_get(ctx, "firewall", NULL, r[i].name);
		const char *op = mv_state_str(rec, "operation");
		bool same = true;
		char why[512];
		int got;

		if (r[i].body == NULL) {
			mv_err_set(err, MV_EXIT_FAIL, "firewall rule %s needs its "
			           "cluster: run the clusters step first", r[i].name);
			goto out;
		}
		/* Resume an accepted insert. */
		if (op != NULL && compute_operation_wait(ctx->gcp, NULL, op, deadline,
		                                         NULL, err) != 0)
			goto out;
		got = read_rule(ctx, &r[i], &same, why, sizeof(why), err);
		if (got < 0)
			goto out;
		rec = step_record_put(ctx, "firewall", NULL, r[i].name);
		if (got == 1 ? insert_rule(ctx, &r[i], rec, deadline, err)
		    : !same ? patch_rule(ctx, &r[i], why, deadline, err) : 0)
			goto out;
		step_record_created(rec);
		if (mv_state_save(ctx->state, err) != 0)
			goto out;
	}
	rc = 0;
out:
	free_rules(r, n);
	return rc;
}

static int
rule_owner(struct plan_ctx *ctx, const json_t *rec, char **id,
           struct mv_err *err)
{
	json_t *fw = NULL;
	char their[64];
	int got = compute_firewall_get(ctx->gcp, mv_state_str(rec, "name"), &fw,
	                               err);

	if (got == 0) {
		rule_id(fw, their, sizeof(their));
		*id = their[0] ? mv_xstrdup(their) : NULL;
	}
	json_decref(fw);
	return got;
}

static int
rule_remove(struct plan_ctx *ctx, const json_t *rec, char **op,
            struct mv_err *err)
{
	return compute_firewall_delete(ctx->gcp, mv_state_str(rec, "name"), op,
	                               err);
}

static int
rule_deleted(struct plan_ctx *ctx, const json_t *rec, const char *op,
             struct mv_err *err)
{
	(void)rec;
	return compute_operation_done(ctx->gcp, NULL, op, err);
}

static int
firewall_destroy(struct plan_ctx *ctx, struct mv_err *err)
{
	static const struct step_deleter d = {
		"firewall", "firewall:", FIREWALL_DEADLINE_MS, rule_owner,
		rule_remove, rule_deleted};

	return step_destroy_records(ctx, &d, err);
}

static int
firewall_status(struct plan_ctx *ctx, json_t *rows, struct mv_err *err)
{
	json_t *rec;
	const char *key;

	json_object_foreach(mv_state_resources(ctx->state), key, rec) {
		const char *name = mv_state_str(rec, "name");
		json_t *fw = NULL;
		int r;
		if (!step_record_is(key, rec, "firewall") || name == NULL)
			continue;
		r = compute_firewall_get(ctx->gcp, name, &fw, err);
		json_decref(fw);
		if (r < 0)
			return -1;
		json_array_append_new(rows, json_pack("{s:s,s:s,s:s}", "kind",
		                                      "firewall", "name", name,
		                                      "status", r ? "ABSENT"
		                                                  : "PRESENT"));
	}
	return 0;
}

static int
firewall_discover(struct plan_ctx *ctx, json_t *found, struct mv_err *err)
{
	json_t *all = NULL, *fw;
	size_t i;

	if (compute_firewall_list(ctx->gcp, &all, err) != 0)
		return -1;
	json_array_foreach(all, i, fw) {
		const char *name = json_string_value(json_object_get(fw, "name"));
		char their[64], *key;
		rule_id(fw, their, sizeof(their));
		if (name == NULL || their[0] == '\0')
			continue;
		key = step_record_key("firewall", NULL, name);
		json_array_append_new(found, json_pack(
			"{s:s,s:s,s:{s:s,s:s,s:s}}", "id", their, "key", key, "record",
			"kind", "firewall", "name", name, "phase", "created"));
		free(key);
	}
	json_decref(all);
	return 0;
}

const struct plan_step step_firewall = {
	.name = "firewall",
	.summary = "firewall rules: cluster pods → VM service port, VM → "
	           "cluster nodes",
	.after = (const char *const[]){"clusters", NULL},
	.check = firewall_check,
	.apply = firewall_apply,
	.destroy = firewall_destroy,
	.status = firewall_status,
	.discover = firewall_discover,
};
