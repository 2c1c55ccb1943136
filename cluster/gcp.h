/* cluster/gcp.h - a session with the Google APIs: one HTTP client, the
 * endpoints, the token source and the project; JSON in, JSON out. */
#ifndef MESHVM_CLUSTER_GCP_H
#define MESHVM_CLUSTER_GCP_H

#include <jansson.h>
#include <stdbool.h>

#include "core/config.h"
#include "core/err.h"
#include "core/util.h"

struct mv_http;
struct gcp_auth;

struct gcp {
	struct mv_http *http;
	const struct mv_endpoints *ep;
	struct gcp_auth *auth;
	const char *project;
};

/* Result of a call that got an answer. */
struct gcp_result {
	long status;          /* HTTP status (0: no answer) */
	bool outcome_unknown; /* a create may have happened */
	json_t *body;         /* parsed 2xx body (caller decrefs), or NULL */
};

/* Send `body` (borrowed, may be NULL) to url. Returns 0 on 2xx (res->body
 * set), -1 otherwise with err describing "METHOD URL → STATUS REASON:
 * message" (exit class MV_EXIT_CLOUD) and res->status for the caller to
 * treat 404/409 specially. */
int gcp_call(struct gcp *g, const char *method, const char *url,
             const json_t *body, bool idempotent, struct gcp_result *res,
             struct mv_err *err);

/* serviceusage: is SERVICE (e.g. "container.googleapis.com") enabled?
 * *enabled false with 0 return when it is known to be disabled. */
int gcp_service_enabled(struct gcp *g, const char *service, bool *enabled,
                        struct mv_err *err);

/* Last path segment of a resource URL ("…/zones/us-west1-b" → "us-west1-b"). */
const char *gcp_basename(const char *url);

#endif
