/* cluster/steps/kobj.c - Kubernetes objects of the mesh steps (kobj.h). */
#include "cluster/steps/kobj.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/istio_glue.h"
#include "cluster/kube.h"
#include "core/log.h"
#include "core/util.h"
#include "core/xalloc.h"

#define ID_LABEL "meshvm-id"

static const char *
meta_str(const json_t *obj, const char *field)
{
	return json_string_value(json_object_get(json_object_get(obj, "metadata"),
	                                         field));
}

static const char *
obj_id(const json_t *obj)
{
	return json_string_value(json_object_get(json_object_get(
		json_object_get(obj, "metadata"), "labels"), ID_LABEL));
}

json_t *
kobj_ref(const char *api_version, const char *kind, const char *ns,
         const char *name)
{
	json_t *o = json_pack("{s:s,s:s,s:{s:s}}", "apiVersion", api_version,
	                      "kind", kind, "metadata", "name", name);
	if (ns != NULL)
		json_object_set_new(json_object_get(o, "metadata"), "namespace",
		                    json_string(ns));
	return o;
}

char *
kobj_config_path(const struct plan_ctx *ctx, const char *p)
{
	return p[0] == '/' ? mv_xstrdup(p) : mv_path_join(ctx->cfg->dir, p);
}

void
kobj_mesh_ids(const struct plan_ctx *ctx, const char *cluster,
              struct istio_mesh_ids *ids)
{
	const struct mv_config *cfg = ctx->cfg;

	memset(ids, 0, sizeof(*ids));
	ids->mesh_id = cfg->mesh_.id;
	ids->cluster = cluster;
	ids->network = mv_config_network(cfg, cluster);
	ids->trust_domain = cfg->mesh_.trust_domain;
	ids->version = cfg->mesh_.istio_version;
}

const struct mv_cluster_config *
kobj_cluster(const struct plan_ctx *ctx, const char *name)
{
	for (size_t i = 0; i < ctx->cfg->n_clusters; i++)
		if (!strcmp(ctx->cfg->clusters[i].name, name))
			return &ctx->cfg->clusters[i];
	return NULL;
}

bool
kobj_cluster_ready(const struct plan_ctx *ctx,
                   const struct mv_cluster_config *c)
{
	json_t *rec = step_record_get(ctx, "cluster", c->zone, c->name);
	const char *phase = mv_state_str(rec, "phase");

	return rec != NULL && phase != NULL && !strcmp(phase, "created") &&
	       mv_state_str(rec, "endpoint") != NULL;
}

/* The record name of an object: "APIVERSION|KIND|NS|NAME". */
static char *
rec_name(const json_t *obj)
{
	const char *ns = meta_str(obj, "namespace");

	return mv_xstrfmt("%s|%s|%s|%s",
	                  json_string_value(json_object_get(obj, "apiVersion")),
	                  json_string_value(json_object_get(obj, "kind")),
	                  ns ? ns : "", meta_str(obj, "name"));
}

static const char *
ns_of(const json_t *obj)
{
	return meta_str(obj, "namespace");
}

/* 0 present (ours), 1 absent, -1 error (someone else's, or the call). */
static int
get_ours(struct plan_ctx *ctx, struct kube *k, const json_t *obj,
         json_t **live, struct mv_err *err)
{
	const char *av = json_string_value(json_object_get(obj, "apiVersion"));
	const char *kind = json_string_value(json_object_get(obj, "kind"));
	int rc = kube_get(k, av, kind, ns_of(obj), meta_str(obj, "name"), live,
	                  err);

	if (rc != 0)
		return rc;
	if (!step_ours(ctx, obj_id(*live))) {
		char what[160];
		snprintf(what, sizeof(what), "%s%s%s", kind, ns_of(obj) ? " in " : "",
		         ns_of(obj) ? ns_of(obj) : "");
		rc = step_not_ours(ctx, what, meta_str(obj, "name"), obj_id(*live),
		                   err);
		json_decref(*live);
		*live = NULL;
		return rc < 0 ? rc : -1;
	}
	return 0;
}

int
kobj_check(struct plan_ctx *ctx, const struct mv_cluster_config *c,
           const json_t *obj, struct step_check *out, struct mv_err *err)
{
	struct kube *k;
	json_t *live = NULL;
	char *name = rec_name(obj);
	bool recorded = step_record_get(ctx, "k8s", c->name, name) != NULL;
	const char *ns = ns_of(obj);
	int rc;

	free(name);
	if (step_kube(ctx, c, &k, err) != 0)
		return -1;
	rc = get_ours(ctx, k, obj, &live, err);
	json_decref(live);
	if (rc < 0)
		return -1;
	if (rc == 0 && recorded)
		return 0;
	step_action(out, "%s %s %s%s%s in %s", rc == 1 ? "create" : "record",
	            json_string_value(json_object_get(obj, "kind")),
	            ns ? ns : "", ns ? "/" : "", meta_str(obj, "name"), c->name);
	return 1;
}

static json_int_t
next_seq(const struct plan_ctx *ctx)
{
	json_int_t max = 0;
	const char *key;
	json_t *rec;

	json_object_foreach(mv_state_resources(ctx->state), key, rec) {
		json_int_t s = json_integer_value(json_object_get(rec, "seq"));
		if (s > max)
			max = s;
	}
	return max + 1;
}

int
kobj_ensure(struct plan_ctx *ctx, const char *step,
            const struct mv_cluster_config *c, json_t *obj, json_t **live,
            struct mv_err *err)
{
	struct kube *k;
	json_t *meta = json_object_get(obj, "metadata"), *labels, *rec, *got = NULL;
	char *name = rec_name(obj);
	int rc;

	if (live != NULL)
		*live = NULL;
	labels = json_object_get(meta, "labels");
	if (!json_is_object(labels)) {
		labels = json_object();
		json_object_set_new(meta, "labels", labels);
	}
	json_object_set_new(labels, ID_LABEL,
	                    json_string(mv_state_id(ctx->state)));
	if (step_kube(ctx, c, &k, err) != 0)
		goto fail;
	rec = step_record_get(ctx, "k8s", c->name, name);
	rc = get_ours(ctx, k, obj, &got, err);
	if (rc < 0)
		goto fail;
	if (rc == 0 && rec != NULL && !strcmp(mv_state_str(rec, "phase")
	                                      ? mv_state_str(rec, "phase") : "",
	                                      "created")) {
		free(name);
		if (live != NULL)
			*live = got;
		else
			json_decref(got);
		return 0;
	}
	json_decref(got);
	got = NULL;
	if (rec == NULL) {
		/* intent first: a run killed after the send still deletes it */
		rec = step_record_put(ctx, "k8s", c->name, name);
		mv_state_set_str(rec, "step", step);
		mv_state_set_str(rec, "apiVersion",
		                 json_string_value(json_object_get(obj, "apiVersion")));
		mv_state_set_str(rec, "objKind",
		                 json_string_value(json_object_get(obj, "kind")));
		if (ns_of(obj))
			mv_state_set_str(rec, "namespace", ns_of(obj));
		mv_state_set_str(rec, "objName", meta_str(obj, "name"));
		json_object_set_new(rec, "seq", json_integer(next_seq(ctx)));
		mv_state_set_str(rec, "phase", "intent");
		if (mv_state_save(ctx->state, err) != 0)
			goto fail;
	}
	if (ctx->dry_run) {
		free(name);
		return 0;
	}
	if (kube_apply(k, obj, KOBJ_MANAGER, false, &got, err) != 0)
		goto fail;
	step_record_created(rec);
	if (mv_state_save(ctx->state, err) != 0) {
		json_decref(got);
		goto fail;
	}
	free(name);
	if (live != NULL)
		*live = got;
	else
		json_decref(got);
	return 0;
fail:
	mv_err_prefix(err, "%s: %s %s", c->name,
	              json_string_value(json_object_get(obj, "kind")),
	              meta_str(obj, "name"));
	free(name);
	return -1;
}

/* Made by Kubernetes or a controller, not by someone: never "foreign". */
static bool
automatic(const char *kind, const json_t *o)
{
	const char *name = meta_str(o, "name");
	json_t *owners = json_object_get(json_object_get(o, "metadata"),
	                                 "ownerReferences");

	if (json_array_size(owners) > 0)
		return true;
	if (!strcmp(kind, "ServiceAccount") && !strcmp(name, "default"))
		return true;
	if (!strcmp(kind, "ConfigMap") && (!strcmp(name, "kube-root-ca.crt") ||
	                                   !strcmp(name, "istio-ca-root-cert")))
		return true;
	return false;
}

/* The first object without our id in items (NULL: none). */
static const json_t *
foreign_in(const struct plan_ctx *ctx, const char *kind, const json_t *items)
{
	size_t i;
	json_t *o;

	json_array_foreach(items, i, o)
		if (!step_ours(ctx, obj_id(o)) && !automatic(kind, o))
			return o;
	return NULL;
}

/* Does the namespace or CRD hold objects we did not make?  *what names
 * one (malloc'd).  0 no, 1 yes, -1 error. */
static int
holds_foreign(struct plan_ctx *ctx, struct kube *k, const json_t *rec,
              const json_t *live, char **what, struct mv_err *err)
{
	static const char *const core[][2] = {
		{"v1", "ConfigMap"}, {"v1", "Secret"}, {"v1", "ServiceAccount"},
		{"v1", "Service"}, {"apps/v1", "Deployment"},
		{"networking.istio.io/v1", "Gateway"},
		{"networking.istio.io/v1", "VirtualService"},
		{"networking.istio.io/v1", "WorkloadGroup"},
	};
	const char *kind = mv_state_str(rec, "objKind");
	json_t *items = NULL;
	const json_t *f;

	*what = NULL;
	if (!strcmp(kind, "CustomResourceDefinition")) {
		json_t *spec = json_object_get(live, "spec"), *v;
		const char *group = json_string_value(json_object_get(spec, "group"));
		const char *ck = json_string_value(json_object_get(
			json_object_get(spec, "names"), "kind"));
		size_t i;

		json_array_foreach(json_object_get(spec, "versions"), i, v) {
			char *av;
			int rc;

			if (!json_is_true(json_object_get(v, "served")))
				continue;
			av = mv_xstrfmt("%s/%s", group,
			                json_string_value(json_object_get(v, "name")));
			rc = kube_list(k, av, ck, NULL, NULL, &items, err);
			free(av);
			if (rc != 0)
				return -1;
			f = foreign_in(ctx, ck, items);
			if (f != NULL)
				*what = mv_xstrfmt("%s %s", ck, meta_str(f, "name"));
			json_decref(items);
			return *what ? 1 : 0;
		}
		return 0;
	}
	if (strcmp(kind, "Namespace") != 0)
		return 0;
	for (size_t i = 0; i < sizeof(core) / sizeof(core[0]); i++) {
		struct mv_err e2 = {0};
		if (kube_list(k, core[i][0], core[i][1], mv_state_str(rec, "objName"),
		              NULL, &items, &e2) != 0) {
			mv_err_clear(&e2); /* a kind this cluster does not serve */
			continue;
		}
		f = foreign_in(ctx, core[i][1], items);
		if (f != NULL)
			*what = mv_xstrfmt("%s %s", core[i][1], meta_str(f, "name"));
		json_decref(items);
		if (*what)
			return 1;
	}
	return 0;
}

static int
by_seq_desc(const void *a, const void *b)
{
	json_int_t x = json_integer_value(json_object_get(*(json_t *const *)a,
	                                                  "seq"));
	json_int_t y = json_integer_value(json_object_get(*(json_t *const *)b,
	                                                  "seq"));
	return x < y ? 1 : x > y ? -1 : 0;
}

/* The records of step, latest first (borrowed; free the array only). */
static json_t **
records_of(struct plan_ctx *ctx, const char *step, size_t *n)
{
	json_t *res = mv_state_resources(ctx->state), *rec;
	json_t **v = mv_xcalloc(json_object_size(res) + 1, sizeof(*v));
	const char *key;

	*n = 0;
	json_object_foreach(res, key, rec) {
		const char *s = mv_state_str(rec, "step");
		if (step_record_is(key, rec, "k8s") && s && !strcmp(s, step))
			v[(*n)++] = rec;
	}
	qsort(v, *n, sizeof(*v), by_seq_desc);
	return v;
}

static void
drop(struct plan_ctx *ctx, const json_t *rec)
{
	char *key = step_record_key("k8s", mv_state_str(rec, "zone"),
	                            mv_state_str(rec, "name"));
	mv_state_del(ctx->state, key);
	free(key);
}

int
kobj_destroy(struct plan_ctx *ctx, const char *step, struct mv_err *err)
{
	size_t n;
	json_t **v = records_of(ctx, step, &n);

	for (size_t i = 0; i < n; i++) {
		json_t *rec = json_incref(v[i]), *live = NULL, *ref;
		const char *cl = mv_state_str(rec, "zone");
		const struct mv_cluster_config *c = kobj_cluster(ctx, cl);
		const char *kind = mv_state_str(rec, "objKind");
		const char *name = mv_state_str(rec, "objName");
		const char *ns = mv_state_str(rec, "namespace");
		struct kube *k;
		char *what = NULL;
		int rc;

		if (c == NULL) {
			/* a cluster dropped from the config: the clusters step deletes
			 * the whole cluster (from its own records) */
			drop(ctx, rec);
			json_decref(rec);
			continue;
		}
		if (step_kube(ctx, c, &k, err) != 0)
			goto fail;
		ref = kobj_ref(mv_state_str(rec, "apiVersion"), kind, ns, name);
		rc = kube_get(k, mv_state_str(rec, "apiVersion"), kind, ns, name, &live,
		              err);
		json_decref(ref);
		if (rc < 0)
			goto fail;
		if (rc == 0 && !step_ours(ctx, obj_id(live))) {
			mv_warn("%s: %s %s carries another meshvm-id (%s): left alone",
			        cl, kind, name, obj_id(live) ? obj_id(live) : "none");
			rc = 1;
		} else if (rc == 0) {
			rc = holds_foreign(ctx, k, rec, live, &what, err);
			if (rc < 0)
				goto fail;
			if (rc == 1)
				mv_warn("%s: %s %s kept: it holds %s, which meshvm did not "
				        "create", cl, kind, name, what);
			else if (!ctx->dry_run &&
			         kube_delete(k, mv_state_str(rec, "apiVersion"), kind, ns,
			                     name, err) < 0)
				goto fail;
		}
		free(what);
		json_decref(live);
		if (!ctx->dry_run) {
			drop(ctx, rec);
			if (mv_state_save(ctx->state, err) != 0) {
				json_decref(rec);
				free(v);
				return -1;
			}
		}
		json_decref(rec);
		continue;
fail:
		free(what);
		json_decref(live);
		mv_err_prefix(err, "%s: delete %s %s", cl, kind, name);
		json_decref(rec);
		free(v);
		return -1;
	}
	free(v);
	return 0;
}

int
kobj_status(struct plan_ctx *ctx, const char *step, json_t *rows,
            struct mv_err *err)
{
	size_t n;
	json_t **v = records_of(ctx, step, &n);

	for (size_t i = n; i-- > 0;) {
		json_t *rec = v[i], *live = NULL;
		const struct mv_cluster_config *c =
			kobj_cluster(ctx, mv_state_str(rec, "zone"));
		const char *ns = mv_state_str(rec, "namespace");
		char *name;
		struct kube *k;
		int rc = 1;

		if (c != NULL) {
			if (step_kube(ctx, c, &k, err) != 0) {
				free(v);
				return -1;
			}
			rc = kube_get(k, mv_state_str(rec, "apiVersion"),
			              mv_state_str(rec, "objKind"), ns,
			              mv_state_str(rec, "objName"), &live, err);
			json_decref(live);
			if (rc < 0) {
				free(v);
				return -1;
			}
		}
		name = mv_xstrfmt("%s/%s%s%s", mv_state_str(rec, "zone"),
		                  ns ? ns : "", ns ? "/" : "",
		                  mv_state_str(rec, "objName"));
		json_array_append_new(rows, json_pack(
			"{s:s,s:s,s:s}", "kind", mv_state_str(rec, "objKind"), "name",
			name, "status", rc == 0 ? "present" : "missing"));
		free(name);
	}
	free(v);
	return 0;
}
