/* cluster/gke.c - GKE v1 (see gke.h). */
#include "cluster/gke.h"
#include "cluster/gcp_errors.h"

#include <stdlib.h>
#include <string.h>

/* The scopes gcloud gives node pools by default (seed script 1). */
static const char *const node_scopes[] = {
	"https://www.googleapis.com/auth/compute",
	"https://www.googleapis.com/auth/devstorage.read_only",
	"https://www.googleapis.com/auth/logging.write",
	"https://www.googleapis.com/auth/monitoring",
	"https://www.googleapis.com/auth/servicecontrol",
	"https://www.googleapis.com/auth/service.management.readonly",
	"https://www.googleapis.com/auth/trace.append",
	NULL};

json_t *
gke_cluster_body(const struct gcp *g, const struct gke_cluster_spec *s)
{
	json_t *scopes = json_array();
	char parent[512];

	for (size_t i = 0; node_scopes[i]; i++)
		json_array_append_new(scopes, json_string(node_scopes[i]));
	snprintf(parent, sizeof(parent), "projects/%s/locations/%s", g->project,
	         s->zone);
	return json_pack(
		"{s:{s:s,s:s,s:{s:s},s:[{s:s,s:i,s:{s:s,s:o,s:[s]},"
		"s:{s:b,s:b}}]},s:s}",
		"cluster", "name", s->name, "network", s->network, "resourceLabels",
		"meshvm-id", s->meshvm_id, "nodePools", "name", "default-pool",
		"initialNodeCount", s->nodes, "config", "machineType",
		s->machine_type, "oauthScopes", scopes, "tags", s->node_tag,
		"management", "autoRepair", 1, "autoUpgrade", 1, "parent", parent);
}

int
gke_cluster_get(struct gcp *g, const char *zone, const char *name,
                json_t **out, struct mv_err *err)
{
	char *url = mv_strfmt("%sv1/projects/%s/locations/%s/clusters/%s",
	                    g->ep->container, g->project, zone, name);
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
gke_cluster_create(struct gcp *g, const struct gke_cluster_spec *spec,
                   char **op_name, bool *outcome_unknown, struct mv_err *err)
{
	char *url = mv_strfmt("%sv1/projects/%s/locations/%s/clusters",
	                    g->ep->container, g->project, spec->zone);
	json_t *body = gke_cluster_body(g, spec);
	struct gcp_result r;
	int rc = gcp_call(g, "POST", url, body, false, &r, err);

	json_decref(body);
	free(url);
	*op_name = NULL;
	*outcome_unknown = r.outcome_unknown;
	if (rc != 0)
		return r.status == 409 ? 1 : -1;
	*op_name = json_is_string(json_object_get(r.body, "name"))
	                   ? strdup(json_string_value(json_object_get(r.body, "name")))
	                   : NULL;
	json_decref(r.body);
	if (*op_name == NULL)
		return mv_err_set(err, MV_EXIT_CLOUD,
		                  "GKE create %s: the answer names no operation",
		                  spec->name);
	return 0;
}

int
gke_cluster_delete(struct gcp *g, const char *zone, const char *name,
                   char **op_name, struct mv_err *err)
{
	char *url = mv_strfmt("%sv1/projects/%s/locations/%s/clusters/%s",
	                    g->ep->container, g->project, zone, name);
	struct gcp_result r;
	int rc = gcp_call(g, "DELETE", url, NULL, true, &r, err);

	free(url);
	*op_name = NULL;
	if (rc != 0)
		return r.status == 404 ? 1 : -1;
	if (json_is_string(json_object_get(r.body, "name")))
		*op_name = strdup(json_string_value(json_object_get(r.body, "name")));
	json_decref(r.body);
	return 0;
}

int
gke_operation_get(struct gcp *g, const char *zone, const char *op,
                  json_t **out, struct mv_err *err)
{
	char *url = mv_strfmt("%sv1/projects/%s/locations/%s/operations/%s",
	                    g->ep->container, g->project, zone, op);
	struct gcp_result r;
	int rc = gcp_call(g, "GET", url, NULL, true, &r, err);

	free(url);
	*out = rc == 0 ? r.body : NULL;
	return rc;
}

int
gke_operation_state(const json_t *op, struct mv_err *err)
{
	const char *status = json_string_value(json_object_get(op, "status"));
	json_t *e = json_object_get(op, "error");
	const char *msg = json_string_value(json_object_get(op, "statusMessage"));

	if (status == NULL || strcmp(status, "DONE") != 0)
		return 0;
	if (json_is_object(e) || (msg != NULL && msg[0] != '\0')) {
		const char *em = json_string_value(json_object_get(e, "message"));
		mv_err_set(err, MV_EXIT_CLOUD, "GKE operation %s failed: %s",
		           json_string_value(json_object_get(op, "name")),
		           em ? em : msg ? msg : "unknown error");
		gcp_error_teach_op(err, json_string_value(json_object_get(op,
		                   "targetLink")), (int)json_integer_value(
		                   json_object_get(e, "code")), NULL, em ? em : msg);
		return -1;
	}
	return 1;
}

const char *
gke_cluster_meshvm_id(const json_t *cluster)
{
	return json_string_value(json_object_get(
		json_object_get(cluster, "resourceLabels"), "meshvm-id"));
}
