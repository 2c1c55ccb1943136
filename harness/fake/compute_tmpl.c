/* harness/fake/compute_tmpl.c - Compute Engine v1: global instance
 * templates (insert, get, list, delete; a template a group uses is not
 * deleted). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/fake/compute_int.h"

/* ---- instance templates ---- */

static void
tmpl_insert(struct fake *f, struct freq *rq, struct fresp *rs)
{
	const char *p = rq->cap[0];
	json_t *t = json_deep_copy(rq->json), *props, *nic;
	json_t *table = fake_db(f, "instance_templates");
	const char *name, *mt;
	char key[512], path[512], ts[48], idb[24], field[80];
	size_t i;

	if (!c_name_check(rs, t))
		goto fail;
	name = json_string_value(json_object_get(t, "name"));
	props = json_object_get(t, "properties");
	mt = json_string_value(json_object_get(props, "machineType"));
	if (!json_is_object(props) || mt == NULL || *mt == '\0') {
		resp_gerr(rs, 400, "required", "Required field 'resource."
		          "properties.machineType' not specified");
		goto fail;
	}
	if (!fake_name_ok(fake_basename(mt), 63)) {
		c_invalid(rs, "resource.properties.machineType", mt,
		          "Unknown machine type.");
		goto fail;
	}
	json_object_set_new(props, "machineType",
	                    json_string(fake_basename(mt)));
	if (c_metadata_check(rs, json_object_get(props, "metadata"),
	                   "resource.properties.metadata"))
		goto fail;
	json_array_foreach(json_object_get(props, "networkInterfaces"), i, nic) {
		snprintf(field, sizeof(field), "resource.properties."
		         "networkInterfaces[%zu].network", i);
		if (c_network_ref(rq, rs, p, nic, field) != 0)
			goto fail;
	}
	snprintf(key, sizeof(key), "%s/%s", p, name);
	snprintf(path, sizeof(path), "projects/%s/global/instanceTemplates/%s",
	         p, name);
	if (json_object_get(table, key) != NULL) {
		resp_gerr(rs, 409, "alreadyExists", "The resource '%s' already "
		          "exists", path);
		goto fail;
	}
	c_metadata_finish(props);
	c_now(ts, sizeof(ts));
	json_object_set_new(t, "kind", json_string("compute#instanceTemplate"));
	json_object_set_new(t, "id", json_string(c_id_of("template", p, NULL,
	                                               name, idb, sizeof(idb))));
	json_object_set_new(t, "creationTimestamp", json_string(ts));
	c_set_str(t, "selfLink", c_url(rq, "%s", path));
	json_object_set_new(table, key, t);
	resp_json(rs, 200,
	          compute_op(f, rq, p, NULL, "insert", fake_jstr(t, "selfLink"),
	                     fake_jstr(t, "id"),
	                     json_pack("{s:[], s:[{s:s, s:s, s:b}]}", "ok",
	                               "error", "table", "instance_templates",
	                               "key", key, "delete", 1)));
	return;
fail:
	json_decref(t);
}

static void
tmpl_get(struct fake *f, struct freq *rq, struct fresp *rs)
{
	char key[512];
	json_t *t = c_global_lookup(f, rq, rs, "instance_templates",
	                          "instanceTemplates", key, sizeof(key));

	if (t != NULL)
		resp_json_cached(f, rs, t);
}

static void
tmpl_delete(struct fake *f, struct freq *rq, struct fresp *rs)
{
	char key[512];
	json_t *t = c_global_lookup(f, rq, rs, "instance_templates",
	                          "instanceTemplates", key, sizeof(key)), *m;
	const char *mk;

	if (t == NULL)
		return;
	json_object_foreach(fake_db(f, "instance_group_managers"), mk, m) {
		if (strcmp(fake_resource_path(fake_jstr(m, "instanceTemplate")),
		           fake_resource_path(fake_jstr(t, "selfLink"))) == 0) {
			resp_gerr(rs, 400, "resourceInUseByAnotherResource", "The "
			          "instance_template resource '%s' is already being "
			          "used by '%s'",
			          fake_resource_path(fake_jstr(t, "selfLink")),
			          fake_resource_path(fake_jstr(m, "selfLink")));
			return;
		}
	}
	resp_json(rs, 200,
	          compute_op(f, rq, rq->cap[0], NULL, "delete",
	                     fake_jstr(t, "selfLink"), fake_jstr(t, "id"),
	                     json_pack("[{s:s, s:s, s:b}]", "table",
	                               "instance_templates", "key", key,
	                               "delete", 1)));
}

static void
tmpl_list(struct fake *f, struct freq *rq, struct fresp *rs)
{
	char prefix[300], *self = c_url(rq, "projects/%s/global/"
	                                  "instanceTemplates", rq->cap[0]);

	snprintf(prefix, sizeof(prefix), "%s/", rq->cap[0]);
	c_list_answer(rq, rs, fake_db(f, "instance_templates"), prefix,
	            "compute#instanceTemplateList", self ? self : "");
	free(self);
}

#define P "/compute/v1/projects/{}"

const struct route compute_tmpl_routes[] = {
	{"GET", P "/global/instanceTemplates", tmpl_list, R_AUTH | R_PURE, NULL},
	{"POST", P "/global/instanceTemplates", tmpl_insert, R_AUTH | R_REQID,
	 "compute.instanceTemplates.insert"},
	{"GET", P "/global/instanceTemplates/{}", tmpl_get, R_AUTH | R_PURE, NULL},
	{"DELETE", P "/global/instanceTemplates/{}", tmpl_delete, R_AUTH | R_REQID, NULL},
	{NULL, NULL, NULL, 0, NULL},
};
