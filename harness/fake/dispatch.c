/* harness/fake/dispatch.c - one request through the fake: control API,
 * body limit, faults, routing, auth, JSON and schema checks, the
 * handler, the journal.  Also the response helpers and Google's error
 * shape.
 *
 * The resource tree fst(f)->db holds one object per table; keys name the
 * resource ("project/location/name" and the like):
 *   clusters, operations, instances, firewalls, instance_templates,
 *   instance_group_managers, health_checks, buckets, objects, tokens, kube (per cluster),
 *   seq (per-target counters that make operation names deterministic).
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <openssl/evp.h>

#include "core/sha256.h"
#include "core/yaml.h"
#include "harness/fake/router.h"
#include "harness/fake/svc.h"

/* ------------------------------------------------------------------ */
/* Routing                                                             */
/* ------------------------------------------------------------------ */

/* "{}" captures one segment; a final "**" matches the rest.  Byte by
 * byte, without strchr/strlen: every request tries several patterns. */
static bool
route_match(const struct route *r, struct freq *rq)
{
	const char *p = r->pattern;
	size_t i = 0;

	rq->n_cap = 0;
	while (*p) {
		while (*p == '/')
			p++;
		if (*p == '\0')
			break;
		if (p[0] == '*' && p[1] == '*' && (p[2] == '/' || p[2] == '\0'))
			return true;
		if (i >= rq->n_seg)
			return false;
		if (p[0] == '{' && p[1] == '}' && (p[2] == '/' || p[2] == '\0')) {
			if (rq->n_cap == FAKE_MAX_CAPS || rq->seg[i][0] == '\0')
				return false;
			rq->cap[rq->n_cap++] = rq->seg[i];
			p += 2;
		} else {
			const char *s = rq->seg[i];
			while (*p != '\0' && *p != '/' && *p == *s) {
				p++;
				s++;
			}
			if (*s != '\0' || (*p != '\0' && *p != '/'))
				return false;
		}
		i++;
	}
	return i == rq->n_seg;
}

static const struct route *const route_tables[] = {
	gke_routes, compute_routes, compute_inst_routes, compute_fw_routes,
	compute_group_routes, compute_hc_routes, compute_tmpl_routes, compute_vm_routes, storage_routes,
	storage_upload_routes, storage_iam_routes, metadata_routes, iam_routes,
	sts_routes, traffic_routes,
};

static const struct route *
route_find(struct freq *rq, bool *path_matched)
{
	*path_matched = false;
	if (rq->seg_overflow)
		return NULL;
	for (size_t t = 0; t < sizeof(route_tables) / sizeof(route_tables[0]);
	     t++) {
		for (const struct route *r = route_tables[t]; r->method; r++) {
			if (!route_match(r, rq))
				continue;
			*path_matched = true;
			if (strcmp(r->method, rq->method) == 0)
				return r;
		}
	}
	return NULL;
}

/* ------------------------------------------------------------------ */
/* The pipeline                                                        */
/* ------------------------------------------------------------------ */

/* Parse the body as a JSON object; 400 in Google's words otherwise. */
static int
parse_json_body(struct freq *rq, struct fresp *rs)
{
	json_error_t je;

	if (rq->body_len == 0) {
		rq->json = json_object();
		return 0;
	}
	/* no JSON_ALLOW_NUL: {"name":"fw\u0000x"} must not become "fw" */
	rq->json = json_loadb(rq->body, rq->body_len, 0, &je);
	if (rq->json == NULL) {
		resp_gerr(rs, 400, "parseError",
		          "Invalid JSON payload received. %s at line %d column "
		          "%d.", je.text, je.line, je.column);
		return -1;
	}
	if (!json_is_object(rq->json)) {
		resp_gerr(rs, 400, "invalid", "Invalid JSON payload received. "
		          "Unknown name \"\": Root element must be a message.");
		return -1;
	}
	return 0;
}

/* A body Google reads as JSON comes as application/json (or +json), or
 * with no Content-Type at all. */
static bool
json_media_type(const struct freq *rq)
{
	const char *ct = freq_header(rq, "Content-Type");
	size_t n;

	if (ct == NULL || rq->body_len == 0)
		return true;
	n = strcspn(ct, ";");
	while (n > 0 && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
		n--;
	return (n == 16 && strncasecmp(ct, "application/json", 16) == 0) ||
	       (n > 5 && strncasecmp(ct + n - 5, "+json", 5) == 0);
}

/* r: the request's route (route_find, before the lock), NULL if none */
static void
api_dispatch(struct fake *f, struct freq *rq, struct fresp *rs,
             const struct route *r, bool path_matched)
{
	json_t *violations;

	if (r == NULL) {
		if (path_matched)
			resp_gerr(rs, 405, NULL, "Method %s is not allowed here.",
			          rq->method);
		else
			resp_gerr(rs, 404, NULL, "The requested URL %s was not "
			          "found on this server.", rq->path);
		return;
	}
	if (r->flags & R_READONLY)
		rq->mutating = false;
	rq->pure = (r->flags & R_PURE) != 0;
	if ((r->flags & R_AUTH) && !fst(f)->opt.no_auth && !auth_google_ok(f, rq)) {
		bool has = freq_header(rq, "Authorization") != NULL;
		resp_header(rs, "WWW-Authenticate",
		            "Bearer realm=\"https://accounts.google.com/\"%s",
		            has ? ", error=\"invalid_token\"" : "");
		resp_gerr(rs, 401, has ? "authError" : "required",
		          has ? "Request had invalid authentication credentials. "
		                "Expected OAuth 2 access token, login cookie or "
		                "other valid authentication credential."
		              : "Request is missing required authentication "
		                "credential. Expected OAuth 2 access token, login "
		                "cookie or other valid authentication credential.");
		return;
	}
	if (r->flags & R_JSON || r->schema != NULL) {
		if (!json_media_type(rq)) {
			resp_gerr(rs, 400, "badContent", "Invalid JSON payload "
			          "received. Content-Type '%s' is not "
			          "application/json.",
			          freq_header(rq, "Content-Type"));
			return;
		}
		if (parse_json_body(rq, rs) != 0)
			return;
	}
	if (r->schema != NULL) {
		violations = json_array();
		if (schema_validate(r->schema, rq->json, violations) > 0) {
			resp_gerr_invalid(rs, violations);
			json_decref(violations);
			return;
		}
		json_decref(violations);
	}
	if ((r->flags & R_REQID) && c_request_replayed(f, rq, rs))
		return;
	r->fn(f, rq, rs);
}

void
fake_dispatch(struct fake *f, struct freq *rq, struct fresp *rs)
{
	double t0 = fake_ms_precise();
	struct kcluster **closing = NULL;
	size_t n_closing = 0;
	const struct route *route = NULL;
	bool path_matched = false;

	rs->status = 0;
	/* The route tables are constant: the Google APIs' route is found
	 * before the lock is taken (it sets rq->cap, which only handlers
	 * read). */
	if (rq->kc == NULL && !rq->cluster_name &&
	    !(rq->n_seg > 0 && strcmp(rq->seg[0], "_fake") == 0))
		route = route_find(rq, &path_matched);
	/* Work that needs no lock is done before it is taken. */
	if (rq->body_len > 0 && rq->body != NULL) {
		mv_sha256_buf_hex(rq->body, rq->body_len, rq->body_sha256);
		/* Cloud Storage keeps an upload's md5 and crc32c */
		if (rq->kc == NULL && !rq->cluster_name &&
		    strncmp(rq->path, "/upload/", 8) == 0) {
			unsigned int n = 0;
			EVP_Digest(rq->body, rq->body_len, rq->md5, &n, EVP_md5(),
			           NULL);
			rq->crc32c = fake_crc32c(rq->body, rq->body_len);
			rq->have_digests = n == 16;
		}
	}
	/* a Kubernetes listener's apply body: YAML, parsed without the lock */
	if ((rq->kc != NULL || rq->cluster_name) && rq->body_len > 0 &&
	    !rq->too_large && !rq->throttled)
		kube_body_preparse(rq);
	pthread_mutex_lock(&fst(f)->lock);
	if (rq->cluster_name) {
		rq->kc = kube_cluster_by_name(f, rq->listener);
		if (rq->kc == NULL) {
			rs->reset = true; /* it went meanwhile, as its listener */
			goto out;
		}
	}
	traffic_tick(f); /* traffic so far ran on the weights stored so far */
	if (rq->bad_encoding) {
		rq->mutating = false;
		if (rq->kc != NULL)
			kube_err(rs, 400, "BadRequest", NULL, "the request path or "
			         "query has an encoded NUL (%%00)");
		else
			resp_gerr(rs, 400, "invalid", "Invalid request: the path or "
			          "query has an encoded NUL (%%00).");
		goto journal;
	}
	if (rq->kc == NULL && rq->listener != NULL &&
	    strncmp(rq->listener, FAKE_VM_LISTENER,
	            strlen(FAKE_VM_LISTENER)) == 0 && !vmnet_path_ok(rq)) {
		/* a booted VM reaches its metadata and storage reads only */
		rq->mutating = false;
		resp_gerr(rs, 404, NULL, "The requested URL %s was not found on "
		          "this server.", rq->path);
		goto journal;
	}
	if (rq->kc == NULL && rq->n_seg > 0 && strcmp(rq->seg[0], "_fake") == 0) {
		fst(f)->gen++;
		control_dispatch(f, rq, rs);
		goto out;
	}
	rq->mutating = strcmp(rq->method, "GET") && strcmp(rq->method, "HEAD") &&
	               strcmp(rq->method, "OPTIONS");
	if (rq->throttled) {
		resp_header(rs, "Retry-After", "1");
		if (rq->kc != NULL)
			kube_err(rs, 429, NULL, NULL, "Too many requests: request "
			         "bodies in flight are over the limit, try again "
			         "later.");
		else
			resp_gerr(rs, 429, "rateLimitExceeded", "Request bodies in "
			          "flight are over the limit of %zu bytes; try again "
			          "later.", fst(f)->opt.max_inflight_bytes);
	} else if (rq->too_large) {
		if (rq->kc != NULL)
			kube_dispatch(f, rq, rs); /* answers 413 as a Status */
		else
			resp_gerr(rs, 413, NULL, "The request body is larger than "
			          "the limit of %zu bytes.",
			          strstr(rq->path, "upload/storage/") != NULL
			                  ? fst(f)->opt.max_upload_bytes
			                  : FAKE_MAX_BODY);
	} else if (fst(f)->faults != NULL && faults_apply(f, rq, rs) &&
	           (rs->status != 0 || rs->reset)) {
		/* the fault answered */
	} else if (rq->kc != NULL) {
		kube_dispatch(f, rq, rs); /* sets rq->pure for reads */
	} else {
		api_dispatch(f, rq, rs, route, path_matched);
	}
	if (rs->status == 0 && !rs->reset)
		resp_gerr(rs, 500, NULL, "Internal error: no answer.");
	/* Anything that may have written invalidates cached answers. */
	if (!rq->pure)
		fst(f)->gen++;
journal:
	journal_record(fst(f)->journal, rq, rs, fake_ms_precise() - t0);
out:
	closing = fst(f)->closing;
	n_closing = fst(f)->n_closing;
	fst(f)->closing = NULL;
	fst(f)->n_closing = 0;
	pthread_mutex_unlock(&fst(f)->lock);
	/* the request's journal line, written outside the lock */
	journal_flush(fst(f)->journal);
	/* Deleted clusters' listeners: their threads may be waiting for the
	 * lock we just released, so they are stopped only now. */
	for (size_t i = 0; i < n_closing; i++)
		kube_cluster_free(f, closing[i]);
	free(closing);
}
