/* cluster/gke.c - GKE v1 (see gke.h). */
#include "cluster/gke.h"
#include "cluster/gcp_errors.h"

#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/xalloc.h"

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
	char *url = mv_xstrfmt("%sv1/projects/%s/locations/%s/clusters/%s",
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
	char *url = mv_xstrfmt("%sv1/projects/%s/locations/%s/clusters",
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
	                   ? mv_xstrdup(json_string_value(json_object_get(r.body, "name")))
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
	char *url = mv_xstrfmt("%sv1/projects/%s/locations/%s/clusters/%s",
	                    g->ep->container, g->project, zone, name);
	struct gcp_result r;
	int rc = gcp_call(g, "DELETE", url, NULL, true, &r, err);

	free(url);
	*op_name = NULL;
	if (rc != 0)
		return r.status == 404 ? 1 : -1;
	if (json_is_string(json_object_get(r.body, "name")))
		*op_name = mv_xstrdup(json_string_value(json_object_get(r.body, "name")));
	json_decref(r.body);
	return 0;
}

int
gke_operation_get(struct gcp *g, const char *zone, const char *op,
                  json_t **out, struct mv_err *err)
{
	char *url = mv_xstrfmt("%sv1/projects/%s/locations/%s/operations/%s",
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

int
gke_operation_find(struct gcp *g, const char *zone, const char *cluster,
                   const char *type, char **op_name, struct mv_err *err)
{
	char *url = mv_xstrfmt("%sv1/projects/%s/locations/%s/operations",
	                       g->ep->container, g->project, zone);
	char *suffix = mv_xstrfmt("/clusters/%s", cluster);
	size_t sl = strlen(suffix), i;
	struct gcp_result r;
	json_t *op;
	int rc = gcp_call(g, "GET", url, NULL, true, &r, err);

	free(url);
	*op_name = NULL;
	if (rc != 0) {
		free(suffix);
		return -1;
	}
	json_array_foreach(json_object_get(r.body, "operations"), i, op) {
		const char *t = json_string_value(json_object_get(op, "operationType"));
		const char *link = json_string_value(json_object_get(op, "targetLink"));
		const char *st = json_string_value(json_object_get(op, "status"));
		const char *name = json_string_value(json_object_get(op, "name"));
		size_t ll = link ? strlen(link) : 0;
		if (t && !strcmp(t, type) && name && ll >= sl &&
		    !strcmp(link + ll - sl, suffix) && st && strcmp(st, "DONE")) {
			*op_name = mv_xstrdup(name);
			break;
		}
	}
	free(suffix);
	json_decref(r.body);
	return *op_name ? 0 : 1;
}

int
gke_cluster_list_all(struct gcp *g, json_t **out, struct mv_err *err)
{
	char *url = mv_xstrfmt("%sv1/projects/%s/locations/-/clusters",
	                       g->ep->container, g->project);
	struct gcp_result r;
	int rc = gcp_call(g, "GET", url, NULL, true, &r, err);

	free(url);
	*out = NULL;
	if (rc != 0)
		return -1;
	*out = json_incref(json_object_get(r.body, "clusters"));
	if (*out == NULL)
		*out = json_array();
	json_decref(r.body);
	return 0;
}

/* "503", or the transport's reason ("Failure when receiving data ..."). */
static char *
attempt_outcome(const struct mv_err *e)
{
	const char *p = strstr(e->msg, ": "), *end;

	if (e->http_status > 0)
		return mv_xstrfmt("%d", e->http_status);
	if (p == NULL)
		return mv_xstrdup(e->msg);
	p += 2;
	end = strstr(p, " (after");
	return mv_xstrndup(p, end ? (size_t)(end - p) : strlen(p));
}

int
gke_cluster_create_resolved(struct gcp *g, const struct gke_cluster_spec *spec,
                            char **op_name, json_t **existing,
                            struct mv_err *err)
{
	struct mv_err cerr, gerr;
	char *tried = NULL;
	int attempts = 0;

	*op_name = NULL;
	*existing = NULL;
	mv_err_clear(&cerr);
	for (int attempt = 0; attempt < 3; attempt++) {
		bool unknown = false;
		int r = gke_cluster_create(g, spec, op_name, &unknown, &cerr);

		if (r == 0)
			return 0;
		if (r < 0) {
			char *what = attempt_outcome(&cerr);
			char *n = mv_xstrfmt("%s%s%s", tried ? tried : "",
			                     tried ? ", " : "", what);
			free(what);
			free(tried);
			tried = n;
			attempts++;
			if (!unknown) /* refused: quota, permission, bad request */
				break;
		}
		/* Exists already (409) or the outcome is unknown: read back.  A
		 * 404 here is expected and never replaces the create's error. */
		r = gke_cluster_get(g, spec->zone, spec->name, existing, &gerr);
		if (r < 0) {
			free(tried);
			*err = gerr;
			return -1;
		}
		if (r == 0) {
			free(tried);
			return 1;
		}
		mv_warn("clusters: %s: create had no answer and the cluster is "
		        "absent; sending it again", spec->name);
	}
	if (attempts <= 1)
		*err = cerr; /* one attempt: its own full message */
	else
		mv_err_set(err, MV_EXIT_CLOUD, "create cluster %s: POST %sv1/"
		           "projects/%s/locations/%s/clusters → %s (last: %s)",
		           spec->name, g->ep->container, g->project, spec->zone,
		           tried, cerr.msg);
	free(tried);
	return -1;
}

int
gke_operation_done(struct gcp *g, const char *zone, const char *op,
                   char **status, struct mv_err *err)
{
	json_t *o = NULL;
	const char *st;
	int r;

	if (gke_operation_get(g, zone, op, &o, err) != 0)
		return -1;
	r = gke_operation_state(o, err);
	st = json_string_value(json_object_get(o, "status"));
	if (status != NULL) {
		free(*status);
		*status = mv_xstrdup(st ? st : "PENDING");
	}
	json_decref(o);
	return r;
}

int
gke_cluster_progress(struct gcp *g, const char *zone, const char *name,
                     char **op, char **status, json_t **running,
                     struct mv_err *failed, struct mv_err *err)
{
	json_t *cl = NULL;
	const char *st;
	int r;

	*running = NULL;
	if (*op != NULL) {
		r = gke_operation_done(g, zone, *op, status, failed);
		if (r <= 0)
			return r < 0 ? 2 : 0;
		free(*op);
		*op = NULL; /* op done; wait on the cluster */
	}
	r = gke_cluster_get(g, zone, name, &cl, err);
	if (r < 0)
		return -1;
	if (r == 1) {
		mv_err_set(failed, MV_EXIT_CLOUD, "cluster %s vanished after its "
		           "create finished", name);
		return 2;
	}
	st = json_string_value(json_object_get(cl, "status"));
	free(*status);
	*status = mv_xstrdup(st ? st : "?");
	if (st != NULL && !strcmp(st, "RUNNING")) {
		*running = cl;
		return 1;
	}
	r = 0;
	if (st != NULL && !strcmp(st, "ERROR")) {
		const char *m = json_string_value(json_object_get(cl,
		                                                  "statusMessage"));
		mv_err_set(failed, MV_EXIT_CLOUD, "cluster %s ended in ERROR: %s",
		           name, m ? m : "no message");
		r = 2;
	}
	json_decref(cl);
	return r;
}

const char *
gke_cluster_machine_type(const json_t *cl)
{
	const char *m = json_string_value(json_object_get(
		json_object_get(json_array_get(json_object_get(cl, "nodePools"), 0),
		                "config"), "machineType"));

	return m ? m : json_string_value(json_object_get(
		json_object_get(cl, "nodeConfig"), "machineType"));
}

json_int_t
gke_cluster_nodes(const json_t *cl)
{
	json_t *pool = json_array_get(json_object_get(cl, "nodePools"), 0);
	json_t *n = json_object_get(pool, "initialNodeCount");

	if (!json_is_integer(n))
		n = json_object_get(cl, "currentNodeCount");
	return json_integer_value(n);
}

void
gke_cluster_outputs(json_t *rec, const json_t *cl)
{
	static const char *const fields[] = {"endpoint", "clusterIpv4Cidr",
	                                     "servicesIpv4Cidr", "status",
	                                     "currentMasterVersion", "selfLink",
	                                     NULL};
	const char *ca = json_string_value(json_object_get(
		json_object_get(cl, "masterAuth"), "clusterCaCertificate"));

	for (size_t i = 0; fields[i]; i++) {
		json_t *v = json_object_get(cl, fields[i]);
		if (json_is_string(v))
			json_object_set(rec, fields[i], v);
	}
	if (ca != NULL)
		json_object_set_new(rec, "caCertificate", json_string(ca));
}
