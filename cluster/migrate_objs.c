/* cluster/migrate_objs.c - a migration's Kubernetes objects
 * (migrate_objs.h). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/migrate_objs.h"
#include "core/xalloc.h"

char *
migrate_host(const struct migrate_svc *s)
{
	return mv_xstrfmt("%s.%s.svc.cluster.local", s->name, s->ns);
}

static json_t *
meta(const char *name, const struct migrate_svc *s)
{
	return json_pack("{s:s,s:s,s:{s:s}}", "name", name, "namespace", s->ns,
	                 "labels", "meshvm-id", s->id);
}

json_t *
migrate_virtual_service(const struct migrate_svc *s, struct migrate_weights w)
{
	char *host = migrate_host(s);
	json_t *vs = json_pack(
		"{s:s,s:s,s:o,s:{s:[s],s:[{s:[{s:{s:s,s:s},s:i},"
		"{s:{s:s,s:s},s:i}]}]}}",
		"apiVersion", MIGRATE_ISTIO_API, "kind", "VirtualService",
		"metadata", meta(MIGRATE_VS_NAME, s), "spec", "hosts", host, "http",
		"route", "destination", "host", host, "subset", MIGRATE_SUBSET_VM,
		"weight", w.vm, "destination", "host", host, "subset",
		MIGRATE_SUBSET_GKE, "weight", w.gke);

	free(host);
	return vs;
}

json_t *
migrate_destination_rule(const struct migrate_svc *s)
{
	char *host = migrate_host(s);
	json_t *dr = json_pack(
		"{s:s,s:s,s:o,s:{s:s,s:[{s:s,s:{s:s}},{s:s,s:{s:s}}]}}",
		"apiVersion", MIGRATE_ISTIO_API, "kind", "DestinationRule",
		"metadata", meta(MIGRATE_VS_NAME, s), "spec", "host", host,
		"subsets", "name", MIGRATE_SUBSET_VM, "labels", MIGRATE_VERSION_LABEL,
		MIGRATE_SUBSET_VM, "name", MIGRATE_SUBSET_GKE, "labels",
		MIGRATE_VERSION_LABEL, MIGRATE_SUBSET_GKE);

	free(host);
	return dr;
}

int
migrate_vs_weights(const json_t *vs, struct migrate_weights *out, char *why,
                   size_t len)
{
	json_t *http = json_object_get(json_object_get(vs, "spec"), "http");
	json_t *route = json_object_get(json_array_get(http, 0), "route"), *r;
	bool seen_vm = false, seen_gke = false;
	size_t i;

	out->vm = out->gke = 0;
	if (json_array_size(http) != 1 || json_array_size(route) != 2) {
		snprintf(why, len, "spec.http is not one route to two destinations");
		return -1;
	}
	json_array_foreach(route, i, r) {
		const char *sub = json_string_value(json_object_get(
			json_object_get(r, "destination"), "subset"));
		json_t *w = json_object_get(r, "weight");
		int v = json_is_integer(w) ? (int)json_integer_value(w) : -1;

		if (sub == NULL || v < 0 || v > 100) {
			snprintf(why, len, "route %zu has no subset or no weight "
			         "0..100", i);
			return -1;
		}
		if (!strcmp(sub, MIGRATE_SUBSET_VM) && !seen_vm) {
			out->vm = v;
			seen_vm = true;
		} else if (!strcmp(sub, MIGRATE_SUBSET_GKE) && !seen_gke) {
			out->gke = v;
			seen_gke = true;
		} else {
			snprintf(why, len, "route %zu goes to subset '%.64s', not "
			         "vm or gke", i, sub);
			return -1;
		}
	}
	return 0;
}

static void
label(json_t *obj, const char *k, const char *v)
{
	json_t *l = json_object_get(obj, "labels");

	if (!json_is_object(l)) {
		l = json_object();
		json_object_set_new(obj, "labels", l);
	}
	json_object_set_new(l, k, json_string(v));
}

json_t *
migrate_gke_deployment(const json_t *dep, const struct migrate_svc *s)
{
	json_t *d = json_deep_copy(dep), *md, *spec, *sel, *tmeta;

	md = json_object_get(d, "metadata");
	spec = json_object_get(d, "spec");
	sel = json_object_get(json_object_get(spec, "selector"), "matchLabels");
	tmeta = json_object_get(json_object_get(spec, "template"), "metadata");
	if (!json_is_object(md) || !json_is_object(sel) ||
	    !json_is_object(json_object_get(spec, "template"))) {
		json_decref(d);
		return NULL;
	}
	if (!json_is_object(tmeta)) {
		tmeta = json_object();
		json_object_set_new(json_object_get(spec, "template"), "metadata",
		                    tmeta);
	}
	if (json_object_get(md, "namespace") == NULL)
		json_object_set_new(md, "namespace", json_string(s->ns));
	label(md, "meshvm-id", s->id);
	label(md, MIGRATE_VERSION_LABEL, MIGRATE_SUBSET_GKE);
	json_object_set_new(sel, MIGRATE_VERSION_LABEL,
	                    json_string(MIGRATE_SUBSET_GKE));
	label(tmeta, MIGRATE_VERSION_LABEL, MIGRATE_SUBSET_GKE);
	return d;
}

json_t *
migrate_vm_label_patch(int entry)
{
	/* a WorkloadGroup's entries take spec.metadata.labels */
	if (entry)
		return json_pack("{s:{s:{s:s}},s:{s:{s:s}}}", "metadata", "labels",
		                 MIGRATE_VERSION_LABEL, MIGRATE_SUBSET_VM, "spec",
		                 "labels", MIGRATE_VERSION_LABEL, MIGRATE_SUBSET_VM);
	return json_pack("{s:{s:{s:{s:s}}}}", "spec", "metadata", "labels",
	                 MIGRATE_VERSION_LABEL, MIGRATE_SUBSET_VM);
}
