/* cluster/steps/fleet.c - the VM fleet shared by launch and join (see
 * fleet.h). */
#include "cluster/steps/fleet.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cloudinit/cloudinit.h"
#include "cloudinit/images.h"
#include "cluster/delivery.h"
#include "cluster/instances.h"
#include "cluster/kube.h"
#include "cluster/steps/kobj.h"
#include "core/log.h"
#include "core/xalloc.h"

#define JOIN_DEADLINE_MS (15L * 60 * 1000)
#define STORAGE_READ_SCOPE \
	"https://www.googleapis.com/auth/devstorage.read_only"

int
fleet_bundle_ref(const struct plan_ctx *ctx, char **url, char **digest,
                 struct mv_err *err)
{
	return delivery_bundle_ref(ctx, url, digest, err);
}

int
fleet_template_name(const struct plan_ctx *ctx, const char *digest,
                    char **name, struct mv_err *err)
{
	const char *hex = strncmp(digest, "sha256:", 7) ? digest : digest + 7;
	char uuid[37];

	/* each token its own template, even two minted in one second */
	*name = NULL;
	if (step_uuid(uuid, err) != 0)
		return -1;
	*name = mv_xstrfmt("%.40s-%.10s-%.8s", ctx->cfg->vm.name, hex, uuid);
	return 0;
}

char *
fleet_hc_name(const struct plan_ctx *ctx)
{
	return mv_xstrfmt("%.50s-autoheal", ctx->cfg->vm.name);
}

char *
fleet_hc_rule_name(const struct plan_ctx *ctx)
{
	return mv_xstrfmt("%.40s-health-checks", ctx->cfg->vm.name);
}

void
fleet_token_free(char *token)
{
	if (token != NULL) {
		volatile char *p = token;
		while (*p)
			*p++ = '\0';
		free(token);
	}
}

int
fleet_mint_token(struct plan_ctx *ctx, char **token, time_t *expires,
                 struct mv_err *err)
{
	const struct mv_config *cfg = ctx->cfg;
	const struct mv_cluster_config *c = kobj_cluster(ctx, cfg->vm.cluster);
	struct kube *k = NULL;

	*token = NULL;
	if (c == NULL || step_kube(ctx, c, &k, err) != 0)
		return c ? -1 : mv_err_set(err, MV_EXIT_FAIL, "vm.cluster %s: not "
		                           "a configured cluster", cfg->vm.cluster);
	if (kube_token_request(k, cfg->service.namespace_, cfg->service.name,
	                       FLEET_TOKEN_AUDIENCE, cfg->vm.token_duration_s,
	                       token, expires, err) != 0)
		return mv_err_prefix(err, "Istio token for ServiceAccount %s/%s in "
		                     "%s", cfg->service.namespace_,
		                     cfg->service.name, c->name);
	return 0;
}

json_t *
fleet_items_with_token(const json_t *items, const char *token)
{
	json_t *out = json_array(), *item;
	size_t i;

	json_array_foreach(items, i, item) {
		const char *k = json_string_value(json_object_get(item, "key"));
		if (k != NULL && strcmp(k, CLOUDINIT_TOKEN_KEY) != 0)
			json_array_append(out, item);
	}
	json_array_append_new(out, json_pack("{s:s,s:s}", "key",
	                                     CLOUDINIT_TOKEN_KEY, "value", token));
	return out;
}

static int
boot_item(struct plan_ctx *ctx, const char *url, const char *digest,
          json_t *items, struct mv_err *err)
{
	struct cloudinit_join join;
	enum image_agent agent;
	char warn[256], *text = NULL;
	const char *hex = strncmp(digest, "sha256:", 7) ? digest : digest + 7;
	size_t len = 0;
	int rc;

	memset(&join, 0, sizeof(join));
	if (images_choose_agent(ctx->cfg->vm.image, ctx->cfg->vm.boot_agent,
	                        &agent, warn, sizeof(warn), err) != 0)
		return -1;
	if (strlen(hex) != MV_SHA256_HEX - 1)
		return mv_err_set(err, MV_EXIT_FAIL, "bundle digest \"%s\" is not "
		                  "sha256:<64 hex>", digest);
	join.source = CLOUDINIT_SOURCE_URL;
	join.bundle_url = url;
	join.storage_url = ctx->cfg->vm.storage_endpoint; /* NULL: Google's */
	memcpy(join.bundle_sha256, hex, MV_SHA256_HEX);
	join.runtime = "auto";
	join.ready_timeout = CLOUDINIT_READY_TIMEOUT_DEFAULT;
	rc = agent == IMAGE_AGENT_STARTUP_SCRIPT
	             ? cloudinit_startup_script(&join, &text, &len, err)
	             : cloudinit_user_data(&join, NULL, &text, &len, err);
	if (rc != 0)
		return -1;
	json_array_append_new(items, json_pack("{s:s,s:s%}", "key",
	                                       images_agent_key(agent), "value",
	                                       text, len));
	free(text);
	return 0;
}

int
fleet_properties(struct plan_ctx *ctx, const char *url, const char *digest,
                 const char *token, bool template_, json_t **out,
                 struct mv_err *err)
{
	const struct mv_config *cfg = ctx->cfg;
	json_t *items = json_array(), *tags = json_array(), *p;
	char *mt, *net;

	*out = NULL;
	if (boot_item(ctx, url, digest, items, err) != 0) {
		json_decref(items);
		json_decref(tags);
		return -1;
	}
	json_array_append_new(items, json_pack("{s:s,s:s}", "key",
	                                       "enable-guest-attributes",
	                                       "value", "TRUE"));
	json_array_append_new(items, json_pack("{s:s,s:s}", "key",
	                                       FLEET_DIGEST_KEY, "value",
	                                       digest));
	json_array_append_new(items, json_pack("{s:s,s:s}", "key",
	                                       CLOUDINIT_TOKEN_KEY, "value",
	                                       token));
	if (cloudinit_gce_check_items(items, err) != 0) {
		json_decref(items);
		json_decref(tags);
		return -1;
	}
	for (size_t i = 0; i < cfg->vm.n_tags; i++)
		json_array_append_new(tags, json_string(cfg->vm.tags[i]));
	/* A template names the machine type alone; an instance, its zone's. */
	mt = template_ ? mv_xstrdup(cfg->vm.machine_type)
	               : mv_xstrfmt("zones/%s/machineTypes/%s", cfg->vm.zone,
	                            cfg->vm.machine_type);
	net = mv_xstrfmt("global/networks/%s", cfg->vm.network);
	p = json_pack("{s:s, s:[{s:b, s:b, s:{s:s}}], s:[{s:s, s:[{s:s, s:s}]}],"
	              " s:{s:o}, s:[{s:s, s:[s]}], s:{s:s}, s:{s:o}}",
	              "machineType", mt, "disks", "boot", 1, "autoDelete", 1,
	              "initializeParams", "sourceImage", cfg->vm.image,
	              "networkInterfaces", "network", net, "accessConfigs",
	              "name", "External NAT", "type", "ONE_TO_ONE_NAT",
	              "tags", "items", tags, "serviceAccounts", "email",
	              "default", "scopes", STORAGE_READ_SCOPE, "labels",
	              "meshvm-id", mv_state_id(ctx->state), "metadata", "items",
	              items);
	free(mt);
	free(net);
	*out = p;
	return 0;
}

char *
fleet_description(const struct plan_ctx *ctx, const char *what)
{
	return mv_xstrfmt("meshvm-id=%s: %s", mv_state_id(ctx->state), what);
}

char *
fleet_description_id(const char *d)
{
	const char *p = d ? strstr(d, "meshvm-id=") : NULL;

	return p ? mv_xstrndup(p + 10, strcspn(p + 10, ": ")) : NULL;
}

static json_t *
member(const json_t *inst, const char *zone, bool group)
{
	const char *ip = inst_network_ip(inst);
	const char *st = json_string_value(json_object_get(inst, "status"));

	return json_pack("{s:s, s:s, s:s, s:s, s:b}", "name",
	                 json_string_value(json_object_get(inst, "name")), "zone",
	                 zone, "ip", ip ? ip : "", "status", st ? st : "UNKNOWN",
	                 "group", group);
}

int
fleet_members(struct plan_ctx *ctx, bool with_single, bool with_group,
              json_t **out, struct mv_err *err)
{
	json_t *all = json_array(), *rec, *inst = NULL, *list = NULL, *m;
	const char *key;
	size_t i;

	*out = NULL;
	json_object_foreach(mv_state_resources(ctx->state), key, rec) {
		const char *zone = mv_state_str(rec, "zone");
		const char *name = mv_state_str(rec, "name");
		char *path;
		int got;
		bool single = step_record_is(key, rec, "instance");
		if (!(single ? with_single : with_group &&
		               step_record_is(key, rec, "group")) ||
		    zone == NULL || name == NULL)
			continue;
		if (single) {
			path = mv_xstrfmt("zones/%s/instances/%s", zone, name);
			got = inst_get(ctx->gcp, path, &inst, err);
			free(path);
			if (got < 0)
				goto fail;
			if (got == 0)
				json_array_append_new(all, member(inst, zone, false));
			json_decref(inst);
			inst = NULL;
			continue;
		}
		/* members carry the group's created-by (and our label) */
		path = mv_xstrfmt("zones/%s/instances", zone);
		got = inst_list(ctx->gcp, path, NULL, &list, err);
		free(path);
		if (got < 0)
			goto fail;
		json_array_foreach(list, i, m) {
			const char *by = inst_metadata_value(m, "created-by");
			if (by != NULL && !strcmp(gcp_basename(by), name))
				json_array_append_new(all, member(m, zone, true));
		}
		json_decref(list);
		list = NULL;
	}
	*out = all;
	return 0;
fail:
	json_decref(all);
	return -1;
}

static bool
healthy(const json_t *we)
{
	json_t *c;
	size_t i;

	json_array_foreach(json_object_get(json_object_get(we, "status"),
	                                   "conditions"), i, c) {
		const char *t = json_string_value(json_object_get(c, "type"));
		const char *s = json_string_value(json_object_get(c, "status"));
		if (t && s && !strcmp(t, "Healthy") && !strcmp(s, "True"))
			return true;
	}
	return false;
}

/* The WorkloadEntries istiod made from the group (new array). */
static int
group_entries(struct plan_ctx *ctx, json_t **out, struct mv_err *err)
{
	const struct mv_config *cfg = ctx->cfg;
	const struct mv_cluster_config *c = kobj_cluster(ctx, cfg->vm.cluster);
	json_t *items = NULL, *we;
	struct kube *k = NULL;
	size_t i;

	*out = json_array();
	if (c == NULL || !kobj_cluster_ready(ctx, c))
		return 0;
	if (step_kube(ctx, c, &k, err) != 0 ||
	    kube_list(k, "networking.istio.io/v1", "WorkloadEntry",
	              cfg->service.namespace_, NULL, &items, err) != 0) {
		json_decref(*out);
		*out = NULL;
		return -1;
	}
	json_array_foreach(items, i, we) {
		const char *g = json_string_value(json_object_get(json_object_get(
		        json_object_get(we, "metadata"), "annotations"),
		        "istio.io/autoRegistrationGroup"));
		if (g != NULL && !strcmp(g, cfg->service.name))
			json_array_append(*out, we);
	}
	json_decref(items);
	return 0;
}

static const json_t *
entry_of(const json_t *entries, const char *ip)
{
	json_t *we;
	size_t i;

	json_array_foreach(entries, i, we) {
		const char *a = json_string_value(json_object_get(json_object_get(
		        we, "spec"), "address"));
		if (a != NULL && ip[0] && !strcmp(a, ip))
			return we;
	}
	return NULL;
}

int
fleet_joined(struct plan_ctx *ctx, const json_t *members, size_t *joined,
             json_t **entries, struct mv_err *err)
{
	json_t *all = NULL, *m;
	size_t i;

	*joined = 0;
	if (group_entries(ctx, &all, err) != 0)
		return -1;
	json_array_foreach(members, i, m) {
		const json_t *we = entry_of(all, json_string_value(json_object_get(
		        m, "ip")));
		if (we != NULL && healthy(we))
			(*joined)++;
	}
	if (entries != NULL)
		*entries = all;
	else
		json_decref(all);
	return 0;
}

long
fleet_join_deadline(const struct plan_ctx *ctx)
{
	long s = ctx->cfg->vm.join_timeout_s;

	return s > 0 ? step_now_ms() + s * 1000 : step_deadline(ctx,
	                                                       JOIN_DEADLINE_MS);
}

struct join_wait {
	struct plan_ctx *ctx;
	const json_t *members;
	json_t *said; /* name -> "phase X, error Y" of the last look */
	bool failed;
};

/* What a member last reported: guest attributes, else serial console. */
static char *
reported(struct plan_ctx *ctx, const json_t *m, bool *failed,
         struct mv_err *err)
{
	const char *zone = json_string_value(json_object_get(m, "zone"));
	const char *name = json_string_value(json_object_get(m, "name"));
	json_t *ga = NULL;
	char *line = NULL, *out;
	const char *phase, *e;

	if (inst_guest_attributes(ctx->gcp, zone, name, &ga, err) != 0)
		return NULL;
	phase = json_string_value(json_object_get(ga, "phase"));
	e = json_string_value(json_object_get(ga, "error"));
	*failed = phase != NULL && !strcmp(phase, "failed");
	if (phase != NULL || e != NULL) {
		out = mv_xstrfmt("phase %.80s%s%.400s", phase ? phase : "(none)",
		                 e ? ", error: " : "", e ? e : "");
		json_decref(ga);
		return out;
	}
	json_decref(ga);
	if (inst_serial_phase(ctx->gcp, zone, name, &line, err) != 0)
		return NULL;
	out = line ? mv_xstrfmt("no guest attributes; serial console: %s", line)
	           : mv_xstrdup("reported nothing yet (no guest attributes, "
	                        "nothing on the serial console)");
	free(line);
	return out;
}

static int
join_probe(void *arg, char **state, struct mv_err *err)
{
	struct join_wait *w = arg;
	json_t *all = NULL, *m;
	size_t i, n = json_array_size(w->members), done = 0;
	const char **names = mv_xcalloc(n + 1, sizeof(*names));
	const char **states = mv_xcalloc(n + 1, sizeof(*states));
	int rc = -1;

	if (group_entries(w->ctx, &all, err) != 0)
		goto out;
	json_array_foreach(w->members, i, m) {
		const char *name = json_string_value(json_object_get(m, "name"));
		const json_t *we = entry_of(all, json_string_value(json_object_get(
		        m, "ip")));
		bool failed = false;
		char *said;

		names[i] = name;
		if (we != NULL && healthy(we)) {
			states[i] = "joined";
			done++;
			json_object_del(w->said, name);
			continue;
		}
		said = reported(w->ctx, m, &failed, err);
		if (said == NULL)
			goto out;
		json_object_set_new(w->said, name, json_string(said));
		free(said);
		states[i] = we != NULL ? "registered, not healthy yet"
		          : failed ? "failed" : "joining";
		w->failed |= failed;
	}
	if (w->failed) {
		rc = mv_err_set(err, MV_EXIT_FAIL, "a VM reported that its join "
		                "failed");
		goto out;
	}
	*state = step_progress_line(n, names, states);
	rc = done == n ? 1 : 0;
out:
	json_decref(all);
	free(names);
	free(states);
	return rc;
}

int
fleet_wait_joined(struct plan_ctx *ctx, const json_t *members,
                  const char *label, struct mv_err *err)
{
	struct join_wait w = {ctx, members, json_object(), false};
	int rc = step_poll(ctx, fleet_join_deadline(ctx), label, join_probe, &w,
	                   err);

	if (rc == MV_POLL_TIMEOUT || (rc != 0 && w.failed)) {
		const char *name;
		json_t *said;
		char *msg = mv_xstrdup("");
		json_object_foreach(w.said, name, said) {
			char *next = mv_xstrfmt("%s%s%s: %s", msg, msg[0] ? "; " : "",
			                        name, json_string_value(said));
			free(msg);
			msg = next;
		}
		mv_err_set(err, MV_EXIT_FAIL, "%s: no healthy WorkloadEntry in %s "
		           "for %s", w.failed ? "a VM reported that its join failed"
		                              : "the VMs did not join in time",
		           ctx->cfg->vm.cluster, msg);
		free(msg);
	}
	json_decref(w.said);
	return rc == 0 ? 0 : -1;
}
