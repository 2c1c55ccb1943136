/* cluster/compute.c - Compute Engine v1 (see compute.h). */
#include "cluster/compute.h"
#include "cluster/gcp_errors.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/http.h"
#include "core/signal.h"

char *
compute_link(const struct gcp *g, const char *path)
{
	return mv_strfmt("%sprojects/%s/%s", g->ep->compute, g->project, path);
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
	char *url = mv_strfmt("%sprojects/%s", g->ep->compute, g->project);
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

	return n ? strdup(n) : NULL;
}

int
compute_firewall_insert(struct gcp *g, const json_t *body, char **op_name,
                        bool *outcome_unknown, struct mv_err *err)
{
	char *url = compute_link(g, "global/firewalls");
	struct gcp_result r;
	int rc = gcp_call(g, "POST", url, body, false, &r, err);

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

static long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

int
compute_operation_wait(struct gcp *g, const char *zone, const char *op,
                       long deadline_ms, struct mv_err *err)
{
	char path[512], *url;
	long start = now_ms();

	if (zone != NULL)
		snprintf(path, sizeof(path), "zones/%s/operations/%s/wait", zone, op);
	else
		snprintf(path, sizeof(path), "global/operations/%s/wait", op);
	url = compute_link(g, path);
	for (;;) {
		struct gcp_result r;
		const char *status;
		json_t *e;

		/* …/wait is a POST but has no side effect: safe to resend. */
		if (gcp_call(g, "POST", url, NULL, true, &r, err) != 0) {
			free(url);
			return -1;
		}
		status = json_string_value(json_object_get(r.body, "status"));
		e = json_object_get(json_object_get(r.body, "error"), "errors");
		if (status != NULL && !strcmp(status, "DONE")) {
			int rc = 0;
			if (json_array_size(e) > 0) {
				json_t *first = json_array_get(e, 0);
				rc = mv_err_set(err, MV_EXIT_CLOUD,
				                "compute operation %s failed: %s: %s", op,
				                json_string_value(json_object_get(first, "code")),
				                json_string_value(json_object_get(first, "message")));
				gcp_error_teach_op(err, url, 0,
				                   json_string_value(json_object_get(first, "code")),
				                   json_string_value(json_object_get(first, "message")));
			}
			json_decref(r.body);
			free(url);
			return rc;
		}
		json_decref(r.body);
		if (now_ms() - start > deadline_ms) {
			free(url);
			return mv_err_set(err, MV_EXIT_CLOUD,
			                  "compute operation %s: not done after %lds", op,
			                  deadline_ms / 1000);
		}
		if (!mv_sleep_ms(mv_http_get_timing(g->http)->poll_ms)) {
			free(url);
			return mv_err_set(err, MV_EXIT_INTERRUPTED, "interrupted");
		}
	}
}
