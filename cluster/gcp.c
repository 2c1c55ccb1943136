/* cluster/gcp.c - Google API session (see gcp.h). */
#include "cluster/gcp.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/gcp_auth.h"
#include "cluster/gcp_errors.h"
#include "core/http.h"

const char *
gcp_basename(const char *url)
{
	const char *s = url ? strrchr(url, '/') : NULL;

	return s ? s + 1 : url;
}

int
gcp_call(struct gcp *g, const char *method, const char *url,
         const json_t *body, bool idempotent, struct gcp_result *res,
         struct mv_err *err)
{
	struct mv_http_req req = {.method = method, .url = url,
	                          .idempotent = idempotent};
	struct mv_http_resp resp;
	const char *token = NULL;
	char *text = NULL;
	int rc;

	memset(res, 0, sizeof(*res));
	if (g->auth != NULL && gcp_auth_token(g->auth, &token, err) != 0)
		return -1;
	if (body != NULL) {
		text = json_dumps(body, JSON_COMPACT);
		if (text == NULL)
			return mv_err_set(err, MV_EXIT_FAIL, "out of memory");
		req.body = text;
		req.body_len = strlen(text);
		req.content_type = "application/json";
	}
	req.bearer = token;
	rc = mv_http_do(g->http, &req, &resp, err);
	free(text);
	res->outcome_unknown = resp.outcome_unknown;
	if (rc != 0) {
		mv_http_resp_free(&resp);
		return -1;
	}
	res->status = resp.status;
	if (resp.status < 200 || resp.status > 299) {
		mv_http_fail(err, &req, &resp);
		gcp_error_teach(err, g->project, url, resp.body, resp.len);
		mv_http_resp_free(&resp);
		return -1;
	}
	res->body = resp.len ? json_loadb(resp.body, resp.len, 0, NULL)
	                     : json_object();
	mv_http_resp_free(&resp);
	if (res->body == NULL)
		return mv_err_set(err, MV_EXIT_CLOUD, "%s %s: answer is not JSON",
		                  method, url);
	return 0;
}

int
gcp_service_enabled(struct gcp *g, const char *service, bool *enabled,
                    struct mv_err *err)
{
	struct gcp_result r;
	char *url = mv_strfmt("%sv1/projects/%s/services/%s", g->ep->serviceusage,
	                    g->project, service);
	const char *state;
	int rc;

	*enabled = false;
	rc = gcp_call(g, "GET", url, NULL, true, &r, err);
	free(url);
	if (rc != 0)
		return -1;
	state = json_string_value(json_object_get(r.body, "state"));
	*enabled = state != NULL && strcmp(state, "ENABLED") == 0;
	json_decref(r.body);
	return 0;
}
