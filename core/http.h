/* core/http.h - the one place every HTTP call goes through (libcurl).
 *
 * Retries with exponential backoff and full jitter on 429 (honouring
 * Retry-After), 500, 502, 503, 504, connection failures and timeouts,
 * bounded in attempts and total time.  Only idempotent requests are resent
 * blindly: a non-idempotent one (a create) is retried only when the server
 * provably did not act on it (429, or no connection made); otherwise the
 * response comes back with `outcome_unknown` set and the caller resolves it
 * by reading the resource back.
 *
 * Plain http:// is refused unless the host, as libcurl parses it, is a
 * loopback address (127.0.0.0/8, ::1) or GCE's metadata server; TLS
 * verification is always on (system CAs, or the PEM given per request).
 * With -v, one trace line per attempt: method, URL (tokens redacted),
 * status, duration, attempt.  Authorization headers are never logged.
 * An interrupt (core/signal, graceful mode) aborts a transfer within about
 * a second: the call fails with MV_EXIT_INTERRUPTED.
 */
#ifndef MESHVM_CORE_HTTP_H
#define MESHVM_CORE_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"

struct mv_http_timing {
	int max_attempts;     /* per request, including the first */
	long max_total_ms;    /* retries stop once this much time has passed */
	long backoff_base_ms; /* first backoff ceiling; doubles per attempt */
	long backoff_cap_ms;
	long poll_ms;         /* long-running operation poll interval */
	long timeout_ms;      /* one attempt, transfer included */
	long connect_timeout_ms;
};

/* Defaults, or the fast profile when MESHVM_TIMING=fast (tests: 10 ms
 * polls, 100 ms backoff cap). */
void mv_http_timing_default(struct mv_http_timing *t);

struct mv_http_req {
	const char *method;      /* "GET", "POST", ... */
	const char *url;
	const char *body;        /* may be NULL */
	size_t body_len;
	const char *content_type;
	const char *accept;      /* default application/json */
	const char *bearer;      /* Authorization: Bearer; never logged */
	const char *const *headers; /* extra "Name: value", NULL-terminated */
	bool idempotent;         /* GET/DELETE/waits: safe to resend */
	const char *ca_pem;      /* trust only this CA bundle (PEM text) */
	const char *client_cert_pem;
	const char *client_key_pem;
};

struct mv_http_resp {
	long status;         /* 0 when no response arrived */
	char *body;          /* NUL-terminated */
	size_t len;
	char content_type[128];
	int attempts;
	bool outcome_unknown; /* a non-idempotent request may have acted */
	char *headers;       /* the last response's header lines, or NULL */
};

struct mv_http;

/* A client owns a curl handle (connection reuse); one per thread.
 * `timing` may be NULL for the defaults. */
struct mv_http *mv_http_new(const struct mv_http_timing *timing);
void mv_http_free(struct mv_http *h);
const struct mv_http_timing *mv_http_get_timing(const struct mv_http *h);

/* Send a request, retrying as described above. Returns 0 when a response
 * arrived (any status: check resp->status), -1 when none did (err says
 * why; resp->outcome_unknown tells whether a create may have happened).
 * resp is filled in both cases; free it with mv_http_resp_free. */
int mv_http_do(struct mv_http *h, const struct mv_http_req *req,
               struct mv_http_resp *resp, struct mv_err *err);
void mv_http_resp_free(struct mv_http_resp *resp);
/* The value of response header `name` (case-insensitive, the first one,
 * trimmed; malloc'd), or NULL when absent. */
char *mv_http_resp_header(const struct mv_http_resp *resp, const char *name);

/* Describe a failed response as "METHOD URL → STATUS REASON: message",
 * reading Google ({"error":{...}}) and Kubernetes (kind: Status) error
 * bodies. Sets exit class MV_EXIT_CLOUD and http_status. Returns -1. */
int mv_http_fail(struct mv_err *err, const struct mv_http_req *req,
                 const struct mv_http_resp *resp);

/* URL with secrets (access_token=, token=, key=, ...) replaced by "***". */
void mv_http_redact_url(const char *url, char *out, size_t len);

/* true when the URL's host, parsed by libcurl (curl_url), is an address
 * in 127.0.0.0/8 or ::1.  Names (even "localhost") are not: they resolve
 * through files and servers an attacker may control. */
bool mv_http_is_loopback_url(const char *url);

/* Backoff before attempt n (1-based, n >= 1 means "after n failures"):
 * uniform in [0, min(cap, base * 2^(n-1))], at least retry_after_ms. */
long mv_http_backoff_ms(const struct mv_http_timing *t, int n,
                        long retry_after_ms, unsigned *seed);

#endif
