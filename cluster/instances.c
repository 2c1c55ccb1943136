/* cluster/instances.c - Compute Engine v1 for the VM fleet (see
 * instances.h). */
#include "cluster/instances.h"

#include <stdlib.h>
#include <string.h>

#include "cluster/compute.h"
#include "core/xalloc.h"

int
inst_get(struct gcp *g, const char *path, json_t **out, struct mv_err *err)
{
	char *url = compute_link(g, path);
	struct gcp_result r;
	int rc = gcp_call(g, "GET", url, NULL, true, &r, err);

	free(url);
	*out = NULL;
	if (rc != 0)
		return r.status == 404 ? 1 : -1;
	*out = r.body;
	return 0;
}

int
inst_send(struct gcp *g, const char *method, const char *path,
          const char *query, const json_t *body, const char *request_id,
          char **op, long *status, struct mv_err *err)
{
	char *link = compute_link(g, path);
	char *url = mv_xstrfmt("%s%s%s%s%s%s", link, query || request_id ? "?"
	                                                                 : "",
	                       query ? query : "", query && request_id ? "&" : "",
	                       request_id ? "requestId=" : "",
	                       request_id ? request_id : "");
	struct gcp_result r;
	const char *name;
	int rc;

	/* DELETE is idempotent by itself; the others are with a requestId. */
	rc = gcp_call(g, method, url, body,
	              request_id != NULL || !strcmp(method, "DELETE"), &r, err);
	free(url);
	free(link);
	*op = NULL;
	if (status != NULL)
		*status = r.status;
	if (rc != 0)
		return r.status == 404 || r.status == 409 ? 1 : -1;
	name = json_string_value(json_object_get(r.body, "name"));
	*op = name ? mv_xstrdup(name) : NULL;
	json_decref(r.body);
	if (*op == NULL)
		return mv_err_set(err, MV_EXIT_CLOUD, "%s %s: the answer names no "
		                  "operation", method, path);
	return 0;
}

int
inst_list(struct gcp *g, const char *path, const char *filter, json_t **out,
          struct mv_err *err)
{
	return compute_list(g, path, filter, out, err);
}

int
inst_guest_attributes(struct gcp *g, const char *zone, const char *name,
                      json_t **out, struct mv_err *err)
{
	char *path = mv_xstrfmt("zones/%s/instances/%s/getGuestAttributes?"
	                        "queryPath=meshvm/", zone, name);
	json_t *body = NULL, *item;
	size_t i;
	int rc = inst_get(g, path, &body, err);

	free(path);
	*out = json_object();
	if (rc < 0) {
		json_decref(*out);
		*out = NULL;
		return -1;
	}
	json_array_foreach(json_object_get(json_object_get(body, "queryValue"),
	                                   "items"), i, item) {
		const char *k = json_string_value(json_object_get(item, "key"));
		const char *v = json_string_value(json_object_get(item, "value"));
		if (k != NULL && v != NULL)
			json_object_set_new(*out, k, json_string(v));
	}
	json_decref(body);
	return 0;
}

int
inst_serial_phase(struct gcp *g, const char *zone, const char *name,
                  char **line, struct mv_err *err)
{
	char *path = mv_xstrfmt("zones/%s/instances/%s/serialPort?port=1", zone,
	                        name);
	json_t *body = NULL;
	const char *text, *p, *last = NULL;
	int rc = inst_get(g, path, &body, err);

	free(path);
	*line = NULL;
	if (rc < 0)
		return -1;
	text = json_string_value(json_object_get(body, "contents"));
	for (p = text; p != NULL && (p = strstr(p, "meshvm-join:")) != NULL; p++)
		last = p;
	if (last != NULL) {
		size_t n = strcspn(last, "\r\n");
		*line = mv_xstrndup(last, n > 300 ? 300 : n);
	}
	json_decref(body);
	return 0;
}

const char *
inst_metadata_value(const json_t *holder, const char *key)
{
	json_t *item;
	size_t i;

	json_array_foreach(json_object_get(json_object_get(holder, "metadata"),
	                                   "items"), i, item) {
		const char *k = json_string_value(json_object_get(item, "key"));
		if (k != NULL && !strcmp(k, key))
			return json_string_value(json_object_get(item, "value"));
	}
	return NULL;
}

const char *
inst_network_ip(const json_t *inst)
{
	return json_string_value(json_object_get(json_array_get(
	        json_object_get(inst, "networkInterfaces"), 0), "networkIP"));
}
