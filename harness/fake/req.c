/* harness/fake/req.c - a request and its answer: parsing the target
 * (decoded segments and query arguments), the response builders, the
 * cache of serialized answers, Google's error shape and the Kubernetes
 * Status.  Base layer: every service answers through these. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "harness/fake/kube_private.h"
#include "harness/fake/req.h"

/* ------------------------------------------------------------------ */
/* Responses                                                           */
/* ------------------------------------------------------------------ */

void
rblob_release(struct rblob *b)
{
	if (b != NULL && atomic_fetch_sub(&b->refs, 1) == 1)
		free(b);
}

static struct rblob *
rblob_new(const char *data, size_t len)
{
	struct rblob *b = malloc(sizeof(*b) + len + 1);

	if (b == NULL)
		return NULL;
	atomic_init(&b->refs, 1);
	b->len = len;
	memcpy(b->data, data, len);
	b->data[len] = '\0';
	return b;
}

void
resp_body_free(struct fresp *rs)
{
	if (rs->shared != NULL)
		rblob_release(rs->shared);
	else
		free(rs->body);
	rs->shared = NULL;
	rs->body = NULL;
	rs->len = 0;
}

char *
resp_body_take(struct fresp *rs)
{
	char *s = rs->body;

	if (rs->shared != NULL) {
		s = malloc(rs->len + 1);
		if (s != NULL)
			memcpy(s, rs->body, rs->len + 1);
		rblob_release(rs->shared);
		rs->shared = NULL;
	}
	rs->body = NULL;
	return s;
}

static void
resp_reset_body(struct fresp *rs)
{
	resp_body_free(rs);
}

/* 200 with a cached body, shared rather than copied: a list of a hundred
 * objects is tens of kilobytes, copied under the lock otherwise. */
static void
resp_shared(struct fresp *rs, const char *ctype, struct rblob *b)
{
	size_t n = strlen(ctype);

	resp_reset_body(rs);
	rs->status = 200;
	/* no printf: every cached GET comes here */
	if (n >= sizeof(rs->ctype))
		n = sizeof(rs->ctype) - 1;
	memcpy(rs->ctype, ctype, n);
	rs->ctype[n] = '\0';
	atomic_fetch_add(&b->refs, 1);
	rs->shared = b;
	rs->body = b->data;
	rs->len = b->len;
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
 * have changed (any request not flagged R_PURE bumps fst(f)->gen). */
void
resp_json_cached(struct fake *f, struct fresp *rs, const json_t *v)
{
	struct rcache *c = &fst(f)->rcache[((uintptr_t)v >> 4) % FAKE_RCACHE];

	if (c->obj != v || c->gen != fst(f)->gen || c->blob == NULL) {
		char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
		rblob_release(c->blob);
		free(c->key);
		c->key = NULL;
		c->blob = s ? rblob_new(s, strlen(s)) : NULL;
		free(s);
		c->obj = v;
		c->gen = fst(f)->gen;
	}
	if (c->blob == NULL) {
		resp_gerr(rs, 500, NULL, "out of memory");
		return;
	}
	resp_shared(rs, "application/json; charset=UTF-8", c->blob);
}

void
rcache_clear(struct fake *f)
{
	for (size_t i = 0; i < FAKE_RCACHE; i++) {
		rblob_release(fst(f)->rcache[i].blob);
		free(fst(f)->rcache[i].key);
		fst(f)->rcache[i].blob = NULL;
		fst(f)->rcache[i].key = NULL;
		fst(f)->rcache[i].obj = NULL;
	}
}

static struct rcache *
rcache_slot_key(struct fake *f, const char *key)
{
	uint64_t h = 1469598103934665603ull;

	for (const unsigned char *p = (const unsigned char *)key; *p; p++)
		h = (h ^ *p) * 1099511628211ull;
	return &fst(f)->rcache[h % FAKE_RCACHE];
}

bool
rcache_get_key(struct fake *f, const char *key, struct fresp *rs)
{
	struct rcache *c = rcache_slot_key(f, key);

	if (c->key == NULL || c->blob == NULL || c->gen != fst(f)->gen ||
	    strcmp(c->key, key) != 0)
		return false;
	resp_shared(rs, "application/json", c->blob);
	return true;
}

void
rcache_put_key(struct fake *f, const char *key, const struct fresp *rs)
{
	struct rcache *c = rcache_slot_key(f, key);

	if (rs->status != 200 || rs->body == NULL || rs->stream != NULL)
		return;
	rblob_release(c->blob);
	free(c->key);
	c->obj = NULL;
	c->key = strdup(key);
	c->blob = rblob_new(rs->body, rs->len);
	c->gen = fst(f)->gen;
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
	/* path, query and the segments are in mem */
	free(rq->mem);
	for (size_t i = 0; i < rq->n_args; i++) {
		free(rq->args[i].k);
		free(rq->args[i].v);
	}
	free(rq->args);
	json_decref(rq->json);
	json_decref(rq->body_yaml);
	free(rq->body_yaml_err);
	json_decref(rq->op_error);
	memset(rq, 0, sizeof(*rq));
}

/* Split "path?query" into decoded segments and arguments.  Path, query
 * and the decoded segments share one allocation (rq->mem): this runs
 * for every request. */
int
freq_parse_target(struct freq *rq, const char *target)
{
	const char *q = strchr(target, '?');

	return freq_parse(rq, target, q ? (size_t)(q - target) : strlen(target),
	                  q ? q + 1 : "");
}

int
freq_parse(struct freq *rq, const char *path, size_t plen, const char *query)
{
	size_t qlen = strlen(query), dlen;
	const char *p, *end;
	char *segs;

	/* the segments: at most plen bytes and a NUL each, and a segment
	 * has a byte of the path for its NUL (the '/' before it) or is
	 * the first */
	rq->mem = malloc(2 * plen + qlen + 4);
	if (rq->mem == NULL)
		return -1;
	rq->path = rq->mem;
	memcpy(rq->path, path, plen);
	rq->path[plen] = '\0';
	rq->query = rq->path + plen + 1;
	memcpy(rq->query, query, qlen);
	rq->query[qlen] = '\0';
	segs = rq->query + qlen + 1;
	p = rq->path;
	while (*p) {
		while (*p == '/')
			p++;
		if (*p == '\0')
			break;
		for (end = p; *end != '\0' && *end != '/'; end++)
			;
		if (rq->n_seg == FAKE_MAX_SEG) {
			rq->seg_overflow = true;
			break;
		}
		rq->seg[rq->n_seg] = segs;
		dlen = fake_pct_decode_into(p, (size_t)(end - p), false, segs);
		/* "p%00x" must not be served as "p" (only a segment with an
		 * escape decodes shorter, and only an escape decodes a NUL) */
		if (dlen < (size_t)(end - p) && dlen != strlen(segs))
			rq->bad_encoding = true;
		segs += dlen + 1;
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
			na[rq->n_args].k = fake_pct_decode_n(
			        p, eq ? (size_t)(eq - p) : n, true, &dlen);
			if (na[rq->n_args].k != NULL &&
			    dlen != strlen(na[rq->n_args].k))
				rq->bad_encoding = true;
			na[rq->n_args].v = NULL;
			if (eq != NULL) {
				na[rq->n_args].v = fake_pct_decode_n(
				        eq + 1, n - (size_t)(eq - p) - 1, true, &dlen);
				if (na[rq->n_args].v != NULL &&
				    dlen != strlen(na[rq->n_args].v))
					rq->bad_encoding = true;
			}
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

/* ---- the Kubernetes Status ---- */

const char *
kube_reason_for(int code)
{
	switch (code) {
	case 400: return "BadRequest";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "NotFound";
	case 405: return "MethodNotAllowed";
	case 406: return "NotAcceptable";
	case 409: return "Conflict";
	case 410: return "Expired";
	case 413: return "RequestEntityTooLarge";
	case 415: return "UnsupportedMediaType";
	case 422: return "Invalid";
	case 429: return "TooManyRequests";
	case 500: return "InternalError";
	case 503: return "ServiceUnavailable";
	case 504: return "Timeout";
	default: return code >= 500 ? "InternalError" : "BadRequest";
	}
}

json_t *
kube_status(int code, const char *reason, const char *msg)
{
	return json_pack("{s:s, s:s, s:{}, s:s, s:s, s:s, s:i}", "kind",
	                 "Status", "apiVersion", "v1", "metadata", "status",
	                 code < 400 ? "Success" : "Failure", "message", msg,
	                 "reason", reason ? reason : kube_reason_for(code),
	                 "code", code);
}

void
kube_err(struct fresp *rs, int code, const char *reason, json_t *details,
         const char *fmt, ...)
{
	char msg[2048];
	va_list ap;
	json_t *st;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	st = kube_status(code, reason, msg);
	if (details != NULL)
		json_object_set_new(st, "details", details);
	resp_json(rs, code, st);
	snprintf(rs->ctype, sizeof(rs->ctype), "application/json");
}

void
kube_json(struct fresp *rs, int status, json_t *v)
{
	resp_json(rs, status, v);
	snprintf(rs->ctype, sizeof(rs->ctype), "application/json");
}

json_t *
kube_details(const struct kkind *k, const char *name)
{
	json_t *d = json_pack("{s:s, s:s}", "name", name ? name : "", "kind",
	                      k->plural);

	if (k->group[0])
		json_object_set_new(d, "group", json_string(k->group));
	return d;
}

void
kube_not_found(struct fresp *rs, const struct kkind *k, const char *name)
{
	kube_err(rs, 404, "NotFound", kube_details(k, name), "%s%s%s \"%s\" not found",
	         k->plural, k->group[0] ? "." : "", k->group, name);
}

