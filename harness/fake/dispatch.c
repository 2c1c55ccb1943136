/* harness/fake/dispatch.c - one request through the fake: control API,
 * body limit, faults, routing, auth, JSON and schema checks, the
 * handler, the journal.  Also the response helpers and Google's error
 * shape.
 *
 * The resource tree f->db holds one object per table; keys name the
 * resource ("project/location/name" and the like):
 *   clusters, operations, instances, firewalls, instance_templates,
 *   instance_group_managers, buckets, objects, tokens, kube (per cluster),
 *   seq (per-target counters that make operation names deterministic).
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/yaml.h"
#include "harness/fake/fake_private.h"

/* ------------------------------------------------------------------ */
/* Responses                                                           */
/* ------------------------------------------------------------------ */

static void
resp_reset_body(struct fresp *rs)
{
	free(rs->body);
	rs->body = NULL;
	rs->len = 0;
}

void
resp_bytes(struct fresp *rs, int status, const char *ctype, const void *data,
           size_t len)
{
	resp_reset_body(rs);
	rs->status = status;
	snprintf(rs->ctype, sizeof(rs->ctype), "%s", ctype);
	rs->body = malloc(len + 1);
	if (rs->body == NULL) {
		rs->status = 500;
		return;
	}
	if (len > 0)
		memcpy(rs->body, data, len);
	rs->body[len] = '\0';
	rs->len = len;
}

void
resp_json(struct fresp *rs, int status, json_t *v)
{
	char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);

	json_decref(v);
	resp_reset_body(rs);
	rs->status = status;
	snprintf(rs->ctype, sizeof(rs->ctype), "application/json; "
	         "charset=UTF-8");
	if (s == NULL) {
		rs->status = 500;
		return;
	}
	rs->body = s;
	rs->len = strlen(s);
}

/* The hot path of a fake under load is GET of one resource, and
 * serializing it is most of the work: keep the text until anything may
 * have changed (any request not flagged R_PURE bumps f->gen). */
void
resp_json_cached(struct fake *f, struct fresp *rs, const json_t *v)
{
	struct rcache *c = &f->rcache[((uintptr_t)v >> 4) % FAKE_RCACHE];

	if (c->obj != v || c->gen != f->gen || c->s == NULL) {
		free(c->s);
		free(c->key);
		c->key = NULL;
		c->s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
		c->len = c->s ? strlen(c->s) : 0;
		c->obj = v;
		c->gen = f->gen;
	}
	if (c->s == NULL) {
		resp_gerr(rs, 500, NULL, "out of memory");
		return;
	}
	resp_bytes(rs, 200, "application/json; charset=UTF-8", c->s, c->len);
}

void
rcache_clear(struct fake *f)
{
	for (size_t i = 0; i < FAKE_RCACHE; i++) {
		free(f->rcache[i].s);
		free(f->rcache[i].key);
		f->rcache[i].s = NULL;
		f->rcache[i].key = NULL;
		f->rcache[i].obj = NULL;
	}
}

static struct rcache *
rcache_slot_key(struct fake *f, const char *key)
{
	uint64_t h = 1469598103934665603ull;

	for (const unsigned char *p = (const unsigned char *)key; *p; p++)
		h = (h ^ *p) * 1099511628211ull;
	return &f->rcache[h % FAKE_RCACHE];
}

bool
rcache_get_key(struct fake *f, const char *key, struct fresp *rs)
{
	struct rcache *c = rcache_slot_key(f, key);

	if (c->key == NULL || c->s == NULL || c->gen != f->gen ||
	    strcmp(c->key, key) != 0)
		return false;
	resp_bytes(rs, 200, "application/json", c->s, c->len);
	return true;
}

void
rcache_put_key(struct fake *f, const char *key, const struct fresp *rs)
{
	struct rcache *c = rcache_slot_key(f, key);

	if (rs->status != 200 || rs->body == NULL || rs->stream != NULL)
		return;
	free(c->s);
	free(c->key);
	c->obj = NULL;
	c->key = strdup(key);
	c->s = malloc(rs->len + 1);
	if (c->s != NULL) {
		memcpy(c->s, rs->body, rs->len + 1);
		c->len = rs->len;
	}
	c->gen = f->gen;
}

void
resp_header(struct fresp *rs, const char *name, const char *fmt, ...)
{
	size_t used = strlen(rs->hdrs);
	va_list ap;
	int n;

	n = snprintf(rs->hdrs + used, sizeof(rs->hdrs) - used, "%s: ", name);
	if (n < 0 || (size_t)n >= sizeof(rs->hdrs) - used) {
		rs->hdrs[used] = '\0';
		return;
	}
	used += (size_t)n;
	va_start(ap, fmt);
	n = vsnprintf(rs->hdrs + used, sizeof(rs->hdrs) - used, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n + 2 > sizeof(rs->hdrs) - used) {
		rs->hdrs[used - strlen(name) - 2] = '\0';
		return;
	}
	strcat(rs->hdrs, "\n");
}

const char *
google_status_name(int code)
{
	switch (code) {
	case 400: return "INVALID_ARGUMENT";
	case 401: return "UNAUTHENTICATED";
	case 403: return "PERMISSION_DENIED";
	case 404: return "NOT_FOUND";
	case 405: return "METHOD_NOT_ALLOWED";
	case 409: return "ALREADY_EXISTS";
	case 412: return "FAILED_PRECONDITION";
	case 413: return "INVALID_ARGUMENT";
	case 429: return "RESOURCE_EXHAUSTED";
	case 499: return "CANCELLED";
	case 500: return "INTERNAL";
	case 501: return "UNIMPLEMENTED";
	case 503: return "UNAVAILABLE";
	case 504: return "DEADLINE_EXCEEDED";
	default: return code >= 500 ? "UNKNOWN" : "FAILED_PRECONDITION";
	}
}

static const char *
default_reason(int code)
{
	switch (code) {
	case 400: return "invalid";
	case 401: return "required";
	case 403: return "forbidden";
	case 404: return "notFound";
	case 409: return "alreadyExists";
	case 412: return "conditionNotMet";
	case 413: return "uploadTooLarge";
	case 429: return "rateLimitExceeded";
	default: return code >= 500 ? "backendError" : "invalid";
	}
}

static json_t *
gerr_doc(int code, const char *reason, const char *msg)
{
	return json_pack("{s:{s:i, s:s, s:s, s:[{s:s, s:s, s:s}]}}", "error",
	                 "code", code, "message", msg, "status",
	                 google_status_name(code), "errors", "message", msg,
	                 "domain", "global", "reason",
	                 reason ? reason : default_reason(code));
}

void
resp_gerr(struct fresp *rs, int code, const char *reason, const char *fmt,
          ...)
{
	char msg[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	resp_json(rs, code, gerr_doc(code, reason, msg));
}

void
resp_gerr_invalid(struct fresp *rs, json_t *violations)
{
	size_t i, total = 0;
	json_t *v, *doc;
	char *msg;

	json_array_foreach(violations, i, v)
		total += strlen(json_string_value(json_object_get(v,
		                                  "description"))) + 1;
	msg = calloc(total + 1, 1);
	json_array_foreach(violations, i, v) {
		if (msg == NULL)
			break;
		if (i > 0)
			strcat(msg, "\n");
		strcat(msg, json_string_value(json_object_get(v, "description")));
	}
	doc = gerr_doc(400, "invalid", msg ? msg : "Invalid JSON payload.");
	json_object_set_new(json_object_get(doc, "error"), "details",
	                    json_pack("[{s:s, s:O}]", "@type",
	                              "type.googleapis.com/google.rpc.BadRequest",
	                              "fieldViolations", violations));
	free(msg);
	resp_json(rs, 400, doc);
}

/* ------------------------------------------------------------------ */
/* Requests                                                            */
/* ------------------------------------------------------------------ */

void
freq_clear(struct freq *rq)
{
	for (size_t i = 0; i < rq->n_seg; i++)
		free(rq->seg[i]);
	for (size_t i = 0; i < rq->n_args; i++) {
		free(rq->args[i].k);
		free(rq->args[i].v);
	}
	free(rq->args);
	free(rq->path);
	free(rq->query);
	json_decref(rq->json);
	json_decref(rq->op_error);
	memset(rq, 0, sizeof(*rq));
}

/* Split "path?query" into decoded segments and arguments. */
int
freq_parse_target(struct freq *rq, const char *target)
{
	const char *q = strchr(target, '?');
	size_t plen = q ? (size_t)(q - target) : strlen(target);
	const char *p, *end;

	rq->path = strndup(target, plen);
	rq->query = strdup(q ? q + 1 : "");
	if (rq->path == NULL || rq->query == NULL)
		return -1;
	p = rq->path;
	while (*p) {
		while (*p == '/')
			p++;
		if (*p == '\0')
			break;
		end = strchr(p, '/');
		if (end == NULL)
			end = p + strlen(p);
		if (rq->n_seg == FAKE_MAX_SEG) {
			rq->seg_overflow = true;
			break;
		}
		rq->seg[rq->n_seg] = fake_pct_decode(p, (size_t)(end - p), false);
		if (rq->seg[rq->n_seg] == NULL)
			return -1;
		rq->n_seg++;
		p = end;
	}
	p = rq->query;
	while (*p) {
		const char *amp = strchr(p, '&'), *eq;
		size_t n = amp ? (size_t)(amp - p) : strlen(p);
		struct fake_kv *na;

		if (n > 0) {
			eq = memchr(p, '=', n);
			na = realloc(rq->args, (rq->n_args + 1) * sizeof(*na));
			if (na == NULL)
				return -1;
			rq->args = na;
			na[rq->n_args].k = fake_pct_decode(p, eq ? (size_t)(eq - p) : n,
			                                   true);
			na[rq->n_args].v = eq ? fake_pct_decode(eq + 1,
			                                        n - (size_t)(eq - p) - 1,
			                                        true)
			                      : NULL;
			rq->n_args++;
		}
		p += n;
		if (*p == '&')
			p++;
	}
	return 0;
}

const char *
freq_arg(const struct freq *rq, const char *name)
{
	for (size_t i = 0; i < rq->n_args; i++) {
		if (rq->args[i].k && strcmp(rq->args[i].k, name) == 0)
			return rq->args[i].v ? rq->args[i].v : "";
	}
	return NULL;
}

const char *
freq_header(const struct freq *rq, const char *name)
{
	for (size_t i = 0; i < rq->n_hdr; i++) {
		if (strcasecmp(rq->hdr[i].k, name) == 0)
			return rq->hdr[i].v ? rq->hdr[i].v : "";
	}
	return NULL;
}

/* ------------------------------------------------------------------ */
/* Routing                                                             */
/* ------------------------------------------------------------------ */

/* "{}" captures one segment; a final "**" matches the rest. */
static bool
route_match(const struct route *r, struct freq *rq)
{
	const char *p = r->pattern;
	size_t i = 0;

	rq->n_cap = 0;
	while (*p) {
		const char *end;
		size_t n;

		while (*p == '/')
			p++;
		if (*p == '\0')
			break;
		end = strchr(p, '/');
		n = end ? (size_t)(end - p) : strlen(p);
		if (n == 2 && p[0] == '*' && p[1] == '*')
			return true;
		if (i >= rq->n_seg)
			return false;
		if (n == 2 && p[0] == '{' && p[1] == '}') {
			if (rq->n_cap == FAKE_MAX_CAPS || rq->seg[i][0] == '\0')
				return false;
			rq->cap[rq->n_cap++] = rq->seg[i];
		} else if (strlen(rq->seg[i]) != n || memcmp(rq->seg[i], p, n)) {
			return false;
		}
		i++;
		p += n;
	}
	return i == rq->n_seg;
}

static const struct route *const route_tables[] = {
	gke_routes, compute_routes, compute_inst_routes, compute_fw_routes,
	compute_group_routes, storage_routes, metadata_routes,
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
/* Control API (/_fake/...): not journaled, no faults, no auth         */
/* ------------------------------------------------------------------ */

static void
control_state(struct fake *f, struct fresp *rs)
{
	json_t *doc, *blobs = json_object();

	/* what the simulated controllers owe happens before anyone looks */
	for (size_t i = 0; i < f->n_kc; i++)
		kctl_tick(f, f->kc[i]);
	doc = json_deep_copy(f->db);

	if (doc == NULL)
		doc = json_object();
	for (size_t i = 0; i < f->n_blobs; i++)
		json_object_set_new(blobs, f->blobs[i].key,
		                    json_pack("{s:I}", "size",
		                              (json_int_t)f->blobs[i].len));
	json_object_set_new(doc, "blobs", blobs);
	json_object_set_new(doc, "url", json_string(f->url));
	resp_json(rs, 200, doc);
}

static void
control_reset(struct fake *f, struct fresp *rs)
{
	json_t *keys = fake_sorted_keys(fake_db(f, "clusters"), ""), *k;
	json_t *tokens = json_incref(json_object_get(f->db, "tokens"));
	size_t i;

	json_array_foreach(keys, i, k)
		kube_cluster_remove(f, json_string_value(k));
	json_decref(keys);
	json_object_clear(f->db);
	/* Issued tokens survive: clients holding one keep working. */
	if (tokens != NULL)
		json_object_set_new(f->db, "tokens", tokens);
	for (size_t b = 0; b < f->n_blobs; b++) {
		free(f->blobs[b].key);
		free(f->blobs[b].data);
	}
	free(f->blobs);
	f->blobs = NULL;
	f->n_blobs = 0;
	journal_clear(f->journal);
	if (f->faults != NULL)
		faults_reset_counters(f->faults);
	resp_json(rs, 200, json_pack("{s:b}", "reset", 1));
}

static void
control_faults(struct fake *f, struct freq *rq, struct fresp *rs)
{
	struct faults *nf = NULL;
	struct mv_err err;

	mv_err_clear(&err);
	if (strcmp(rq->method, "GET") == 0) {
		resp_json(rs, 200, faults_json(f->faults));
		return;
	}
	if (strcmp(rq->method, "DELETE") == 0) {
		faults_free(f->faults);
		f->faults = NULL;
		resp_json(rs, 200, faults_json(NULL));
		return;
	}
	if (strcmp(rq->method, "PUT") != 0) {
		resp_gerr(rs, 405, NULL, "Use GET, PUT or DELETE on /_fake/faults.");
		return;
	}
	if (faults_load(f, "faults", rq->body ? rq->body : "", rq->body_len,
	                &nf, &err) != 0) {
		resp_gerr(rs, 400, "invalid", "%s", err.msg);
		return;
	}
	faults_free(f->faults);
	f->faults = nf;
	resp_json(rs, 200, faults_json(f->faults));
}

static void
control_journal(struct fake *f, struct freq *rq, struct fresp *rs)
{
	const char *since = freq_arg(rq, "since");
	size_t len;
	char *s;

	if (strcmp(rq->method, "DELETE") == 0) {
		journal_clear(f->journal);
		resp_json(rs, 200, json_pack("{s:b}", "cleared", 1));
		return;
	}
	s = journal_dump(f->journal, since ? strtoull(since, NULL, 10) : 0,
	                 freq_arg(rq, "listener"), &len);
	resp_bytes(rs, 200, "application/x-ndjson", s ? s : "", s ? len : 0);
	free(s);
}

static void
control_token(struct fake *f, struct freq *rq, struct fresp *rs)
{
	const char *email = freq_arg(rq, "email");
	char *tok = auth_issue_token(f, email ? email : "tester@fake", 3600);

	resp_json(rs, 200, json_pack("{s:s, s:i, s:s}", "access_token",
	                             tok ? tok : "", "expires_in", 3600,
	                             "token_type", "Bearer"));
	free(tok);
}

/* POST /_fake/clock?advance_ms=N moves the fake's clock on (operations
 * finish, requestIds expire) without waiting; GET shows it. */
static void
control_clock(struct fake *f, struct freq *rq, struct fresp *rs)
{
	const char *adv = freq_arg(rq, "advance_ms");
	char *end = NULL;
	long long n = 0;

	if (strcmp(rq->method, "POST") == 0) {
		if (adv != NULL)
			n = strtoll(adv, &end, 10);
		if (adv == NULL || *adv == '\0' || *end != '\0' || n < 0 ||
		    n > 365LL * 24 * 3600 * 1000) {
			resp_gerr(rs, 400, "invalid", "advance_ms: expected 0 to "
			          "31536000000.");
			return;
		}
		f->clock_skew_ms += n;
	}
	resp_json(rs, 200, json_pack("{s:I, s:I}", "now_ms",
	                             (json_int_t)fake_clock_ms(f), "skew_ms",
	                             (json_int_t)f->clock_skew_ms));
}

static void
control_dispatch(struct fake *f, struct freq *rq, struct fresp *rs)
{
	const char *what = rq->n_seg > 1 ? rq->seg[1] : "";
	bool get = strcmp(rq->method, "GET") == 0;

	if (rq->n_seg != 2) {
		resp_gerr(rs, 404, NULL, "Unknown control endpoint.");
	} else if (strcmp(what, "state") == 0 && get) {
		control_state(f, rs);
	} else if (strcmp(what, "reset") == 0 &&
	           strcmp(rq->method, "POST") == 0) {
		control_reset(f, rs);
	} else if (strcmp(what, "faults") == 0) {
		control_faults(f, rq, rs);
	} else if (strcmp(what, "journal") == 0 &&
	           (get || strcmp(rq->method, "DELETE") == 0)) {
		control_journal(f, rq, rs);
	} else if (strcmp(what, "token") == 0 &&
	           strcmp(rq->method, "POST") == 0) {
		control_token(f, rq, rs);
	} else if (strcmp(what, "clock") == 0 &&
	           (get || strcmp(rq->method, "POST") == 0)) {
		control_clock(f, rq, rs);
	} else if (strcmp(what, "health") == 0 && get) {
		resp_json(rs, 200, json_pack("{s:s, s:b}", "url", f->url, "ok", 1));
	} else {
		resp_gerr(rs, 404, NULL, "Unknown control endpoint.");
	}
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
	rq->json = json_loadb(rq->body, rq->body_len, JSON_ALLOW_NUL, &je);
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

static void
api_dispatch(struct fake *f, struct freq *rq, struct fresp *rs)
{
	bool path_matched;
	const struct route *r = route_find(rq, &path_matched);
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
	if ((r->flags & R_AUTH) && !f->opt.no_auth && !auth_google_ok(f, rq)) {
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

	rs->status = 0;
	pthread_mutex_lock(&f->lock);
	if (rq->kc == NULL && rq->n_seg > 0 && strcmp(rq->seg[0], "_fake") == 0) {
		f->gen++;
		control_dispatch(f, rq, rs);
		goto out;
	}
	rq->mutating = strcmp(rq->method, "GET") && strcmp(rq->method, "HEAD") &&
	               strcmp(rq->method, "OPTIONS");
	if (rq->too_large) {
		if (rq->kc != NULL)
			kube_dispatch(f, rq, rs); /* answers 413 as a Status */
		else
			resp_gerr(rs, 413, NULL, "The request body is larger than "
			          "the limit of %zu bytes.", FAKE_MAX_BODY);
	} else if (f->faults != NULL && faults_apply(f, rq, rs) &&
	           (rs->status != 0 || rs->reset)) {
		/* the fault answered */
	} else if (rq->kc != NULL) {
		kube_dispatch(f, rq, rs); /* sets rq->pure for reads */
	} else {
		api_dispatch(f, rq, rs);
	}
	if (rs->status == 0 && !rs->reset)
		resp_gerr(rs, 500, NULL, "Internal error: no answer.");
	/* Anything that may have written invalidates cached answers. */
	if (!rq->pure)
		f->gen++;
	journal_record(f->journal, rq, rs, fake_ms_precise() - t0);
out:
	closing = f->closing;
	n_closing = f->n_closing;
	f->closing = NULL;
	f->n_closing = 0;
	pthread_mutex_unlock(&f->lock);
	/* Deleted clusters' listeners: their threads may be waiting for the
	 * lock we just released, so they are stopped only now. */
	for (size_t i = 0; i < n_closing; i++)
		kube_cluster_free(closing[i]);
	free(closing);
}
