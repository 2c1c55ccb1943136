/* cluster/app_place.c - the app's placement (see app_place.h). */
#include "cluster/app_place.h"

#include <stdbool.h>
#include <string.h>

static const char *
s_get(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static const char *
app_label(const json_t *meta)
{
	return s_get(json_object_get(meta, "labels"), "app");
}

/* The placement key an object answers to, or NULL. */
static const char *
placed_by(const json_t *obj, const json_t *placement, const char **key)
{
	const json_t *meta = json_object_get(obj, "metadata");
	const char *cands[3] = {
		s_get(meta, "name"), app_label(meta),
		app_label(json_object_get(json_object_get(json_object_get(obj,
		                                                          "spec"),
		                                          "template"),
		                          "metadata"))};

	for (size_t i = 0; i < 3; i++)
		if (cands[i] && json_object_get(placement, cands[i])) {
			*key = cands[i];
			return s_get(placement, cands[i]);
		}
	return NULL;
}

static bool
is_vm_service(const json_t *obj, const char *vm)
{
	const json_t *meta = json_object_get(obj, "metadata");
	const char *app = app_label(meta), *tapp = app_label(json_object_get(
		json_object_get(json_object_get(obj, "spec"), "template"),
		"metadata"));

	return vm && (strcmp(s_get(meta, "name"), vm) == 0 ||
	              (app && strcmp(app, vm) == 0) ||
	              (tapp && strcmp(tapp, vm) == 0));
}

static int
check_placement(const struct manifests *app, const struct app_place_opts *o,
                struct mv_err *err)
{
	const char *k;
	json_t *v;

	if (!json_is_object(o->placement))
		return mv_err_set(err, MV_EXIT_FAIL,
		                  "app.placement must map service names to "
		                  "clusters");
	json_object_foreach((json_t *)o->placement, k, v) {
		bool known = false, used = false;

		for (size_t c = 0; json_is_string(v) && c < o->n_clusters; c++)
			known |= strcmp(json_string_value(v), o->clusters[c]) == 0;
		if (!known)
			return mv_err_set(err, MV_EXIT_FAIL,
			                  "app.placement.%s: \"%s\" is not one of "
			                  "the clusters", k,
			                  json_is_string(v) ? json_string_value(v)
			                                    : "(not a string)");
		if (o->vm_service && strcmp(k, o->vm_service) == 0)
			return mv_err_set(err, MV_EXIT_FAIL,
			                  "app.placement.%s: the VM service is "
			                  "placed by vm.*, not by app.placement", k);
		for (size_t i = 0; !used && i < app->n; i++) {
			const char *key = NULL;
			used = placed_by(app->v[i].obj, o->placement, &key) &&
			       strcmp(key, k) == 0;
		}
		if (!used)
			return mv_err_set(err, MV_EXIT_FAIL,
			                  "app.placement.%s names nothing in "
			                  "app.manifests", k);
	}
	return 0;
}

static void
add(json_t *out, const char *cluster, const json_t *obj, const char *ns)
{
	json_t *copy = json_deep_copy(obj),
	       *meta = json_object_get(copy, "metadata");

	if (json_object_get(meta, "namespace") == NULL &&
	    strcmp(s_get(copy, "kind"), "Namespace") != 0)
		json_object_set_new(meta, "namespace", json_string(ns));
	json_array_append_new(json_object_get(out, cluster), copy);
}

int
app_place(const struct manifests *app, const struct app_place_opts *o,
          json_t **out, struct mv_err *err)
{
	json_t *res;

	*out = NULL;
	if (o->n_clusters == 0)
		return mv_err_set(err, MV_EXIT_FAIL, "app: no clusters");
	if (check_placement(app, o, err) != 0)
		return -1;
	res = json_object();
	for (size_t c = 0; c < o->n_clusters; c++)
		json_object_set_new(
			res, o->clusters[c],
			json_pack("[{s:s, s:s, s:{s:s, s:{s:s}}}]", "apiVersion",
			          "v1", "kind", "Namespace", "metadata", "name",
			          o->ns, "labels", "istio-injection", "enabled"));
	/* Services first: a Deployment's clients then resolve at once. */
	for (size_t i = 0; i < app->n; i++) {
		const json_t *obj = app->v[i].obj;

		if (strcmp(s_get(obj, "kind"), "Service") != 0 ||
		    is_vm_service(obj, o->vm_service))
			continue;
		for (size_t c = 0; c < o->n_clusters; c++)
			add(res, o->clusters[c], obj, o->ns);
	}
	for (size_t i = 0; i < app->n; i++) {
		const json_t *obj = app->v[i].obj;
		const char *kind = s_get(obj, "kind"), *key = NULL, *cluster;

		if (strcmp(kind, "Service") == 0 ||
		    is_vm_service(obj, o->vm_service))
			continue;
		if (strcmp(kind, "Namespace") == 0) {
			json_decref(res);
			return mv_err_set(err, MV_EXIT_FAIL,
			                  "%s: a Namespace in app.manifests; "
			                  "meshvm makes the app namespace (%s) "
			                  "itself", app->v[i].origin, o->ns);
		}
		cluster = placed_by(obj, o->placement, &key);
		if (cluster == NULL) {
			json_decref(res);
			return mv_err_set(err, MV_EXIT_FAIL,
			                  "%s: %s %s is not in app.placement (by "
			                  "name or app label)", app->v[i].origin,
			                  kind,
			                  s_get(json_object_get(obj, "metadata"),
			                        "name"));
		}
		add(res, cluster, obj, o->ns);
	}
	*out = res;
	return 0;
}
