/* cluster/compute.c - Compute Engine v1 (see compute.h). */
#include "cluster/compute.h"

#include <stdlib.h>
#include <string.h>

#include "cluster/gcp_errors.h"
#include "core/http.h"
#include "core/poll.h"
#include "core/xalloc.h"

char *
compute_link(const struct gcp *g, const char *path)
{
	return mv_xstrfmt("%sprojects/%s/%s", g->ep->compute, g->project, path);
}

static int
get_resource(struct gcp *g, const char *path, json_t **out, struct mv_err *err)
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
compute_zone_get(struct gcp *g, const char *zone, json_t **out,
                 struct mv_err *err)
{
	char path[256];

	snprintf(path, sizeof(path), "zones/%s", zone);
	return get_resource(g, path, out, err);
}

int
compute_project_get(struct gcp *g, json_t **out, struct mv_err *err)
{
	char *url = mv_xstrfmt("%sprojects/%s", g->ep->compute, g->project);
	struct gcp_result r;
	int rc = gcp_call(g, "GET", url, NULL, true, &r, err);

	free(url);
	*out = rc == 0 ? r.body : NULL;
	return rc;
}

int
compute_firewall_get(struct gcp *g, const char *name, json_t **out,
                     struct mv_err *err)
{
	char path[256];

	snprintf(path, sizeof(path), "global/firewalls/%s", name);
	return get_resource(g, path, out, err);
}

static char *
op_name_of(const json_t *op)
{
	const char *n = json_string_value(json_object_get(op, "name"));

	return n ? mv_xstrdup(n) : NULL;
}

int
compute_firewall_insert(struct gcp *g, const json_t *body,
                        const char *request_id, char **op_name,
                        bool *outcome_unknown, struct mv_err *err)
{
	char *url = compute_link(g, "global/firewalls"), *full = url;
	struct gcp_result r;
	int rc;

	/* With a requestId Compute runs a resent insert once: safe to retry
	 * on a reset or a 503 like any idempotent call. */
	if (request_id != NULL)
		full = mv_xstrfmt("%s?requestId=%s", url, request_id);
	rc = gcp_call(g, "POST", full, body, request_id != NULL, &r, err);
	if (full != url)
		free(full);
	free(url);
	*op_name = NULL;
	*outcome_unknown = r.outcome_unknown;
	if (rc != 0)
		return r.status == 409 ? 1 : -1;
	*op_name = op_name_of(r.body);
	json_decref(r.body);
	if (*op_name == NULL)
		return mv_err_set(err, MV_EXIT_CLOUD,
		                  "firewall insert: the answer names no operation");
	return 0;
}

int
compute_firewall_patch(struct gcp *g, const char *name, const json_t *body,
                       const char *request_id, char **op_name,
                       struct mv_err *err)
{
	char *url = mv_xstrfmt("%sprojects/%s/global/firewalls/%s%s%s",
	                       g->ep->compute, g->project, name,
	                       request_id ? "?requestId=" : "",
	                       request_id ? request_id : "");
	struct gcp_result r;
	int rc = gcp_call(g, "PATCH", url, body, request_id != NULL, &r, err);

	free(url);
	*op_name = NULL;
	if (rc != 0)
		return r.status == 404 ? 1 : -1;
	*op_name = op_name_of(r.body);
	json_decref(r.body);
	if (*op_name == NULL)
		return mv_err_set(err, MV_EXIT_CLOUD,
		                  "firewall patch: the answer names no operation");
	return 0;
}

int
compute_list(struct gcp *g, const char *path, const char *filter,
             json_t **out, struct mv_err *err)
{
	char *base = compute_link(g, path), *page = NULL;
	json_t *all = json_array();

	*out = NULL;
	for (int pages = 0; pages < 1000; pages++) {
		struct gcp_result r;
		const char *next;
		char *u = mv_xstrfmt("%s?maxResults=500%s%s%s%s", base,
		                     filter ? "&filter=" : "", filter ? filter : "",
		                     page ? "&pageToken=" : "", page ? page : "");
		int rc = gcp_call(g, "GET", u, NULL, true, &r, err);

		free(u);
		free(page);
		page = NULL;
		if (rc != 0) {
			json_decref(all);
			free(base);
			return -1;
		}
		json_array_extend(all, json_object_get(r.body, "items"));
		next = json_string_value(json_object_get(r.body, "nextPageToken"));
		if (next != NULL && next[0] != '\0')
			page = mv_xstrdup(next);
		json_decref(r.body);
		if (page == NULL)
			break;
	}
	free(page);
	free(base);
	*out = all;
	return 0;
}

int
compute_firewall_list(struct gcp *g, json_t **out, struct mv_err *err)
{
	return compute_list(g, "global/firewalls", NULL, out, err);
}

int
compute_firewall_delete(struct gcp *g, const char *name, char **op_name,
                        struct mv_err *err)
{
	char path[256], *url;
	struct gcp_result r;
	int rc;

	snprintf(path, sizeof(path), "global/firewalls/%s", name);
	url = compute_link(g, path);
	rc = gcp_call(g, "DELETE", url, NULL, true, &r, err);
	free(url);
	*op_name = NULL;
	if (rc != 0)
		return r.status == 404 ? 1 : -1;
	*op_name = op_name_of(r.body);
	json_decref(r.body);
	return 0;
}

struct op_wait {
	struct gcp *g;
	const char *url, *op;
};

static int
op_probe(void *arg, char **state, struct mv_err *err)
{
	struct op_wait *w = arg;
	struct gcp_result r;
	const char *status;
	json_t *e;
	int rc = 0;

	/* …/wait is a POST but has no side effect: safe to resend. */
	if (gcp_call(w->g, "POST", w->url, NULL, true, &r, err) != 0)
		return -1;
	status = json_string_value(json_object_get(r.body, "status"));
	e = json_object_get(json_object_get(r.body, "error"), "errors");
	if (status != NULL && !strcmp(status, "DONE")) {
		rc = 1;
		if (json_array_size(e) > 0) {
			json_t *first = json_array_get(e, 0);
			rc = mv_err_set(err, MV_EXIT_CLOUD,
			                "compute operation %s failed: %s: %s", w->op,
			                json_string_value(json_object_get(first, "code")),
			                json_string_value(json_object_get(first, "message")));
			gcp_error_teach_op(err, w->url, 0,
			                   json_string_value(json_object_get(first, "code")),
			                   json_string_value(json_object_get(first, "message")));
		}
	} else {
		*state = mv_xstrfmt("%s %s", w->op, status ? status : "PENDING");
	}
	json_decref(r.body);
	return rc;
}

static char *
op_url(struct gcp *g, const char *zone, const char *op)
{
	char path[512];

	if (zone != NULL)
		snprintf(path, sizeof(path), "zones/%s/operations/%s/wait", zone, op);
	else
		snprintf(path, sizeof(path), "global/operations/%s/wait", op);
	return compute_link(g, path);
}

int
compute_operation_done(struct gcp *g, const char *zone, const char *op,
                       struct mv_err *err)
{
	char *url = op_url(g, zone, op), *state = NULL;
	struct op_wait w = {g, url, op};
	int rc = op_probe(&w, &state, err);

	free(state);
	free(url);
	return rc;
}

int
compute_operation_wait(struct gcp *g, const char *zone, const char *op,
                       long deadline, const char *label, struct mv_err *err)
{
	char *url = op_url(g, zone, op);
	struct op_wait w = {g, url, op};
	int rc;

	rc = mv_poll_until(deadline, mv_http_get_timing(g->http)->poll_ms,
	                   op_probe, &w, label, err);
	free(url);
	if (rc == MV_POLL_TIMEOUT)
		mv_err_set(err, MV_EXIT_CLOUD, "compute operation %s: not done in "
		           "time", op);
	return rc == 0 ? 0 : -1;
}
