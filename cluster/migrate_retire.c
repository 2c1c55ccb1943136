/* cluster/migrate_retire.c - `meshvm migrate --finish`: retire the VM side
 * from the state's records, keeping the clusters and the app
 * (migrate_int.h).
 *
 * By kind, so it deletes whatever the launching steps recorded: first the
 * destroy of the steps `join` and `launch` when registered; then records
 * of kinds instance, instanceGroupManager (zonal), instanceTemplate and
 * healthCheck (global) left over, through Compute; the firewall step's
 * rules (all of them are the VM's: pods to the VM, the VM to the
 * clusters); the WorkloadGroup (records of step vm-group) with the
 * WorkloadEntries it owns; bucket objects (kind "object", name
 * "BUCKET/OBJECT").  The VM's ServiceAccount and Service stay: the GKE
 * pods are the service now.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/compute.h"
#include "cluster/kube.h"
#include "cluster/migrate_int.h"
#include "cluster/steps/kobj.h"
#include "core/log.h"
#include "core/xalloc.h"

#define RETIRE_DEADLINE_MS (10L * 60 * 1000)

/* ---- Compute resources of the launch ---- */

struct ckind {
	const char *kind, *label, *collection;
	bool zonal;
};

static const struct ckind ckinds[] = {
	{"instance", "instances:", "instances", true},
	{"instanceGroupManager", "instance groups:", "instanceGroupManagers",
	 true},
	{"instanceTemplate", "instance templates:", "instanceTemplates", false},
	{"healthCheck", "health checks:", "healthChecks", false},
};

static const struct ckind *
ckind_of(const json_t *rec)
{
	const char *k = mv_state_str(rec, "kind");

	for (size_t i = 0; k && i < sizeof(ckinds) / sizeof(ckinds[0]); i++)
		if (!strcmp(ckinds[i].kind, k))
			return &ckinds[i];
	return NULL;
}

static char *
c_url(struct plan_ctx *ctx, const json_t *rec)
{
	const struct ckind *ck = ckind_of(rec);
	const char *zone = mv_state_str(rec, "zone");
	char *path = ck->zonal ? mv_xstrfmt("zones/%s/%s/%s", zone ? zone : "",
	                                    ck->collection,
	                                    mv_state_str(rec, "name"))
	                       : mv_xstrfmt("global/%s/%s", ck->collection,
	                                    mv_state_str(rec, "name"));
	char *url = compute_link(ctx->gcp, path);

	free(path);
	return url;
}

/* The meshvm-id of a Compute resource: a label (instances), a template's
 * properties' label, or "meshvm-id=ID" in the description. */
static char *
c_id(const json_t *o)
{
	const char *id = json_string_value(json_object_get(
		json_object_get(o, "labels"), "meshvm-id"));
	const char *d;

	if (id == NULL)
		id = json_string_value(json_object_get(json_object_get(
			json_object_get(o, "properties"), "labels"), "meshvm-id"));
	if (id != NULL)
		return mv_xstrdup(id);
	d = json_string_value(json_object_get(o, "description"));
	d = d ? strstr(d, "meshvm-id=") : NULL;
	return d ? mv_xstrndup(d + 10, strcspn(d + 10, ": ,")) : NULL;
}

static int
c_owner(struct plan_ctx *ctx, const json_t *rec, char **id,
        struct mv_err *err)
{
	char *url = c_url(ctx, rec);
	struct gcp_result r;
	int rc = gcp_call(ctx->gcp, "GET", url, NULL, true, &r, err);

	free(url);
	*id = NULL;
	if (rc != 0)
		return r.status == 404 ? (mv_err_clear(err), 1) : -1;
	*id = c_id(r.body);
	json_decref(r.body);
	return 0;
}

static int
c_remove(struct plan_ctx *ctx, const json_t *rec, char **op,
         struct mv_err *err)
{
	char *url = c_url(ctx, rec);
	struct gcp_result r;
	int rc = gcp_call(ctx->gcp, "DELETE", url, NULL, true, &r, err);
	const char *name;

	free(url);
	*op = NULL;
	if (rc != 0)
		return r.status == 404 ? (mv_err_clear(err), 1) : -1;
	name = json_string_value(json_object_get(r.body, "name"));
	*op = name ? mv_xstrdup(name) : NULL;
	json_decref(r.body);
	return 0;
}

static int
c_done(struct plan_ctx *ctx, const json_t *rec, const char *op,
       struct mv_err *err)
{
	return compute_operation_done(ctx->gcp, ckind_of(rec)->zonal
	                              ? mv_state_str(rec, "zone") : NULL, op,
	                              err);
}

/* ---- bucket objects ---- */

static char *
o_url(struct plan_ctx *ctx, const json_t *rec)
{
	const char *name = mv_state_str(rec, "name");
	size_t bl = strcspn(name, "/");
	char *obj = curl_easy_escape(NULL, name[bl] ? name + bl + 1 : "", 0);
	char *url;

	if (obj == NULL)
		abort();
	url = mv_xstrfmt("%sstorage/v1/b/%.*s/o/%s", ctx->gcp->ep->storage,
	                 (int)bl, name, obj);
	curl_free(obj);
	return url;
}

/* An object is ours when it is the generation we recorded, or carries
 * our id in its metadata. */
static int
o_owner(struct plan_ctx *ctx, const json_t *rec, char **id,
        struct mv_err *err)
{
	char *url = o_url(ctx, rec);
	const char *gen = mv_state_str(rec, "generation"), *theirs;
	struct gcp_result r;
	int rc = gcp_call(ctx->gcp, "GET", url, NULL, true, &r, err);

	free(url);
	*id = NULL;
	if (rc != 0)
		return r.status == 404 ? (mv_err_clear(err), 1) : -1;
	theirs = json_string_value(json_object_get(json_object_get(
		r.body, "metadata"), "meshvm-id"));
	if (theirs != NULL)
		*id = mv_xstrdup(theirs);
	else if (gen && json_is_string(json_object_get(r.body, "generation")) &&
	         !strcmp(gen, json_string_value(json_object_get(r.body,
	                                                        "generation"))))
		*id = mv_xstrdup(mv_state_id(ctx->state));
	json_decref(r.body);
	return 0;
}

static int
o_remove(struct plan_ctx *ctx, const json_t *rec, char **op,
         struct mv_err *err)
{
	char *url = o_url(ctx, rec);
	struct gcp_result r;
	int rc = gcp_call(ctx->gcp, "DELETE", url, NULL, true, &r, err);

	free(url);
	*op = NULL;
	json_decref(r.body);
	if (rc != 0)
		return r.status == 404 ? (mv_err_clear(err), 1) : -1;
	return 0;
}

static int
o_done(struct plan_ctx *ctx, const json_t *rec, const char *op,
       struct mv_err *err)
{
	(void)ctx;
	(void)rec;
	(void)op;
	(void)err;
	return 1; /* a storage delete is done when answered */
}

/* ---- the WorkloadGroup and its entries ---- */

static int
retire_group(struct plan_ctx *ctx, const char *key, const json_t *rec,
             struct mv_err *err)
{
	const struct mv_cluster_config *c = kobj_cluster(
		ctx, mv_state_str(rec, "zone"));
	const char *ns = mv_state_str(rec, "namespace");
	const char *name = mv_state_str(rec, "objName");
	const char *av = mv_state_str(rec, "apiVersion");
	json_t *items = NULL, *e;
	struct kube *k;
	size_t i;
	int rc;

	if (c == NULL || name == NULL || av == NULL) {
		mv_state_del(ctx->state, key);
		return mv_state_save(ctx->state, err);
	}
	rc = step_kube(ctx, c, &k, err);
	if (rc == 0)
		rc = kube_list(k, av, "WorkloadEntry", ns, NULL, &items, err);
	json_array_foreach(items, i, e) {
		json_t *md = json_object_get(e, "metadata"), *o;
		size_t j;

		json_array_foreach(json_object_get(md, "ownerReferences"), j, o) {
			const char *ok = json_string_value(json_object_get(o, "kind"));
			const char *on = json_string_value(json_object_get(o, "name"));

			if (rc != 0 || !ok || !on || strcmp(ok, "WorkloadGroup") ||
			    strcmp(on, name))
				continue;
			mv_info("vm side: deleting WorkloadEntry %s in %s",
			        json_string_value(json_object_get(md, "name")), c->name);
			rc = kube_delete(k, av, "WorkloadEntry", ns,
			                 json_string_value(json_object_get(md, "name")),
			                 err) < 0 ? -1 : 0;
		}
	}
	json_decref(items);
	if (rc == 0) {
		mv_info("vm side: deleting WorkloadGroup %s in %s", name, c->name);
		rc = kube_delete(k, av, "WorkloadGroup", ns, name, err) < 0 ? -1
		                                                             : 0;
	}
	if (rc != 0)
		return mv_err_prefix(err, "vm side: %s: WorkloadGroup %s", c->name,
		                     name);
	mv_state_del(ctx->state, key);
	return mv_state_save(ctx->state, err);
}

static int
retire_groups(struct plan_ctx *ctx, struct mv_err *err)
{
	json_t *res = mv_state_resources(ctx->state), *rec, *keys = json_array();
	const char *key;
	size_t i;
	json_t *k;
	int rc = 0;

	json_object_foreach(res, key, rec) {
		const char *kind = mv_state_str(rec, "objKind");
		if (step_record_is(key, rec, "k8s") && kind &&
		    !strcmp(kind, "WorkloadGroup"))
			json_array_append_new(keys, json_string(key));
	}
	json_array_foreach(keys, i, k) {
		rec = json_incref(mv_state_get(ctx->state, json_string_value(k)));
		if (rc == 0 && rec)
			rc = retire_group(ctx, json_string_value(k), rec, err);
		json_decref(rec);
	}
	json_decref(keys);
	return rc;
}

/* ---- in order ---- */

int
migrate_retire(struct plan_ctx *ctx, json_t *done, struct mv_err *err)
{
	static const char *const steps[] = {"join", "launch", "firewall"};
	json_t *before = json_deep_copy(mv_state_resources(ctx->state));
	const char *key;
	json_t *rec;
	int rc = 0;

	for (size_t i = 0; i < 2 && rc == 0; i++) {
		const struct plan_step *s = plan_find(steps[i]);
		if (s != NULL && s->destroy(ctx, err) != 0)
			rc = mv_err_prefix(err, "vm side: %s", steps[i]);
	}
	for (size_t i = 0; i < sizeof(ckinds) / sizeof(ckinds[0]) && rc == 0;
	     i++) {
		struct step_deleter d = {ckinds[i].kind, ckinds[i].label,
		                         RETIRE_DEADLINE_MS, c_owner, c_remove,
		                         c_done};
		rc = step_destroy_records(ctx, &d, err);
	}
	if (rc == 0 && plan_find("firewall") != NULL &&
	    plan_find("firewall")->destroy(ctx, err) != 0)
		rc = mv_err_prefix(err, "vm side: firewall");
	if (rc == 0)
		rc = retire_groups(ctx, err);
	if (rc == 0) {
		struct step_deleter d = {"object", "bucket objects:",
		                         RETIRE_DEADLINE_MS, o_owner, o_remove,
		                         o_done};
		rc = step_destroy_records(ctx, &d, err);
	}
	/* what went: the records no longer there */
	json_object_foreach(before, key, rec)
		if (mv_state_get(ctx->state, key) == NULL)
			json_array_append_new(done, json_string(key));
	json_decref(before);
	return rc;
}
