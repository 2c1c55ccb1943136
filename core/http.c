/* core/http.c - HTTP client with retries (see http.h). */
#include "core/http.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <curl/curl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/signal.h"

#define HTTP_BODY_MAX (256u << 20)

struct mv_http {
	CURL *curl;
	struct mv_http_timing timing;
	unsigned seed;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void
curl_init_once(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

void
mv_http_timing_default(struct mv_http_timing *t)
{
	const char *fast = getenv("MESHVM_TIMING");

	t->max_attempts = 8;
	t->max_total_ms = 5 * 60 * 1000;
	t->backoff_base_ms = 500;
	t->backoff_cap_ms = 32000;
	t->poll_ms = 2000;
	t->timeout_ms = 120000;
	t->connect_timeout_ms = 15000;
	if (fast != NULL && strcmp(fast, "fast") == 0) {
		t->backoff_base_ms = 10;
		t->backoff_cap_ms = 100;
		t->poll_ms = 10;
		t->max_total_ms = 60 * 1000;
		t->timeout_ms = 30000;
		t->connect_timeout_ms = 5000;
	}
}

struct mv_http *
mv_http_new(const struct mv_http_timing *timing)
{
	struct mv_http *h;

	pthread_once(&curl_once, curl_init_once);
	h = calloc(1, sizeof(*h));
	if (h == NULL)
		return NULL;
	h->curl = curl_easy_init();
	if (h->curl == NULL) {
		free(h);
		return NULL;
	}
	if (timing != NULL)
		h->timing = *timing;
	else
		mv_http_timing_default(&h->timing);
	h->seed = (unsigned)time(NULL) ^ (unsigned)getpid() ^
	          (unsigned)(uintptr_t)h;
	return h;
}

void
mv_http_free(struct mv_http *h)
{
	if (h == NULL)
		return;
	curl_easy_cleanup(h->curl);
	free(h);
}

const struct mv_http_timing *
mv_http_get_timing(const struct mv_http *h)
{
	return &h->timing;
}

void
mv_http_resp_free(struct mv_http_resp *r)
{
	if (r == NULL)
		return;
	free(r->body);
	r->body = NULL;
	r->len = 0;
	free(r->headers);
	r->headers = NULL;
}

char *
mv_http_resp_header(const struct mv_http_resp *r, const char *name)
{
	size_t nl = strlen(name);

	for (const char *p = r->headers; p != NULL && *p;) {
		size_t n = strcspn(p, "\r\n");
		if (n > nl && p[nl] == ':' && strncasecmp(p, name, nl) == 0) {
			const char *v = p + nl + 1, *e = p + n;
			while (v < e && (*v == ' ' || *v == '\t'))
				v++;
			while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
				e--;
			return strndup(v, (size_t)(e - v));
		}
		p += n;
		p += strspn(p, "\r\n");
	}
	return NULL;
}

/*--- helpers -------------------------------------------------------------*/

static const char *const secret_params[] = {
	"access_token", "token", "key", "client_secret", "refresh_token",
	"assertion", "signature", "X-Goog-Signature",
	"upload_id", /* a resumable upload's session: a bearer secret */
	NULL};

void
mv_http_redact_url(const char *url, char *out, size_t len)
{
	const char *q = strchr(url, '?');
	size_t o = 0;

	if (len == 0)
		return;
	if (q == NULL) {
		snprintf(out, len, "%s", url);
		return;
	}
	o = (size_t)snprintf(out, len, "%.*s", (int)(q - url + 1), url);
	for (const char *p = q + 1; *p && o < len - 1;) {
		const char *amp = strchr(p, '&');
		size_t n = amp ? (size_t)(amp - p) : strlen(p);
		const char *eq = memchr(p, '=', n);
		bool secret = false;
		for (int i = 0; eq && secret_params[i]; i++)
			if ((size_t)(eq - p) == strlen(secret_params[i]) &&
			    strncasecmp(p, secret_params[i], (size_t)(eq - p)) == 0)
				secret = true;
		if (secret)
			o += (size_t)snprintf(out + o, len - o, "%.*s=***",
			                      (int)(eq - p), p);
		else
			o += (size_t)snprintf(out + o, len - o, "%.*s", (int)n, p);
		if (o >= len)
			o = len - 1;
		p += n;
		if (*p == '&') {
			if (o < len - 1)
				out[o++] = '&';
			p++;
		}
	}
	out[o < len ? o : len - 1] = '\0';
}

/* The host as libcurl itself will read it (user info, odd IPv4 forms and
 * brackets handled), so the guard and the connection agree on where a
 * request goes.  IPv6 brackets are stripped. */
static bool
url_parts(const char *url, char *scheme, size_t scheme_len, char *host,
          size_t host_len)
{
	CURLU *u = curl_url();
	char *sc = NULL, *h = NULL;
	bool ok = false;

	if (u == NULL)
		return false;
	if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_SCHEME, &sc, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &h, 0) == CURLUE_OK) {
		size_t n = strlen(h);
		if (n >= 2 && h[0] == '[' && h[n - 1] == ']')
			snprintf(host, host_len, "%.*s", (int)(n - 2), h + 1);
		else
			snprintf(host, host_len, "%s", h);
		snprintf(scheme, scheme_len, "%s", sc);
		ok = n < host_len;
	}
	curl_free(sc);
	curl_free(h);
	curl_url_cleanup(u);
	return ok;
}

static bool
host_is_loopback(const char *host)
{
	unsigned char a[16];

	if (inet_pton(AF_INET, host, a) == 1)
		return a[0] == 127;
	if (inet_pton(AF_INET6, host, a) == 1)
		return IN6_IS_ADDR_LOOPBACK((const struct in6_addr *)a);
	return false;
}

bool
mv_http_is_loopback_url(const char *url)
{
	char scheme[16], host[256];

	return url_parts(url, scheme, sizeof(scheme), host, sizeof(host)) &&
	       host_is_loopback(host);
}

/* https anywhere; plain http only to loopback (the fake) and GCE's
 * metadata server. */
static int
check_url(const char *url, const char *safe_url, struct mv_err *err)
{
	char scheme[16], host[256];

	if (!url_parts(url, scheme, sizeof(scheme), host, sizeof(host)))
		return mv_err_set(err, MV_EXIT_FAIL, "%s: not a valid URL",
		                  safe_url);
	if (strcmp(scheme, "https") == 0)
		return 0;
	if (strcmp(scheme, "http") != 0)
		return mv_err_set(err, MV_EXIT_FAIL, "%s: not an http(s) URL",
		                  safe_url);
	if (host_is_loopback(host) ||
	    strcmp(host, "metadata.google.internal") == 0 ||
	    strcmp(host, "169.254.169.254") == 0)
		return 0;
	return mv_err_set(err, MV_EXIT_FAIL, "%s: plain http is allowed for "
	                  "loopback addresses only; use https", safe_url);
}

/* Ctrl-C during a transfer: libcurl calls this often while data flows and
 * about once a second while it waits; non-zero aborts the transfer. */
static int
xferinfo_cb(void *ud, curl_off_t dltotal, curl_off_t dlnow,
            curl_off_t ultotal, curl_off_t ulnow)
{
	(void)ud;
	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	return mv_interrupted() ? 1 : 0;
}

long
mv_http_backoff_ms(const struct mv_http_timing *t, int n, long retry_after_ms,
                   unsigned *seed)
{
	long ceiling = t->backoff_base_ms;
	long pick;

	for (int i = 1; i < n && ceiling < t->backoff_cap_ms; i++)
		ceiling *= 2;
	if (ceiling > t->backoff_cap_ms)
		ceiling = t->backoff_cap_ms;
	pick = ceiling > 0 ? (long)(rand_r(seed) % (unsigned)(ceiling + 1)) : 0;
	return pick > retry_after_ms ? pick : retry_after_ms;
}

struct sink {
	char *data;
	size_t len, cap;
	bool overflow;
};

static size_t
body_cb(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct sink *s = ud;
	size_t n = size * nmemb;

	if (s->len + n + 1 > s->cap) {
		size_t cap = s->cap ? s->cap : 4096;
		char *nd;
		while (cap < s->len + n + 1)
			cap *= 2;
		if (cap > HTTP_BODY_MAX) {
			s->overflow = true;
			return 0;
		}
		nd = realloc(s->data, cap);
		if (nd == NULL)
			return 0;
		s->data = nd;
		s->cap = cap;
	}
	memcpy(s->data + s->len, ptr, n);
	s->len += n;
	s->data[s->len] = '\0';
	return n;
}

/* Response headers: only the last response's (a status line starts
 * over), at most HTTP_HEADERS_MAX bytes. */
#define HTTP_HEADERS_MAX (64u << 10)

static size_t
header_cb(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct sink *s = ud;
	size_t n = size * nmemb;

	if (n >= 5 && strncmp(ptr, "HTTP/", 5) == 0)
		s->len = 0;
	if (s->len + n + 1 > HTTP_HEADERS_MAX) {
		s->overflow = true;
		return n; /* kept what fits; the body still arrives */
	}
	if (s->len + n + 1 > s->cap) {
		char *nd = realloc(s->data, HTTP_HEADERS_MAX);
		if (nd == NULL)
			return 0;
		s->data = nd;
		s->cap = HTTP_HEADERS_MAX;
	}
	memcpy(s->data + s->len, ptr, n);
	s->len += n;
	s->data[s->len] = '\0';
	return n;
}

static bool
retryable_status(long status)
{
	return status == 429 || status == 500 || status == 502 ||
	       status == 503 || status == 504;
}

static long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* One attempt. Returns the curl code; fills status/body. */
static CURLcode
attempt(struct mv_http *h, const struct mv_http_req *req, struct sink *body,
        struct sink *head, long *status, char *ctype, size_t ctype_len, long *retry_after_ms,
        bool *request_sent)
{
	CURL *c = h->curl;
	struct curl_slist *hdrs = NULL;
	char line[8192];
	CURLcode rc;

	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, req->url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req->method);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, h->timing.timeout_ms);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
	                 h->timing.connect_timeout_ms);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(c, CURLOPT_USERAGENT, "meshvm/" MESHVM_VERSION);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, body_cb);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, head);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, xferinfo_cb);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	/* libcurl silently resends a request whose reused connection died;
	 * a create must never go out twice behind our back. */
	if (!req->idempotent)
		curl_easy_setopt(c, CURLOPT_FRESH_CONNECT, 1L);
	if (!strcmp(req->method, "HEAD"))
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	if (req->body != NULL || strcmp(req->method, "POST") == 0 ||
	    strcmp(req->method, "PUT") == 0 || strcmp(req->method, "PATCH") == 0) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, req->body ? req->body : "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
		                 (curl_off_t)(req->body ? req->body_len : 0));
	}
	if (req->ca_pem != NULL) {
		struct curl_blob blob = {(void *)req->ca_pem, strlen(req->ca_pem),
		                         CURL_BLOB_COPY};
		curl_easy_setopt(c, CURLOPT_CAINFO_BLOB, &blob);
	}
	if (req->client_cert_pem != NULL && req->client_key_pem != NULL) {
		struct curl_blob cb = {(void *)req->client_cert_pem,
		                       strlen(req->client_cert_pem), CURL_BLOB_COPY};
		struct curl_blob kb = {(void *)req->client_key_pem,
		                       strlen(req->client_key_pem), CURL_BLOB_COPY};
		curl_easy_setopt(c, CURLOPT_SSLCERTTYPE, "PEM");
		curl_easy_setopt(c, CURLOPT_SSLCERT_BLOB, &cb);
		curl_easy_setopt(c, CURLOPT_SSLKEYTYPE, "PEM");
		curl_easy_setopt(c, CURLOPT_SSLKEY_BLOB, &kb);
	}
	snprintf(line, sizeof(line), "Accept: %s",
	         req->accept ? req->accept : "application/json");
	hdrs = curl_slist_append(hdrs, line);
	if (req->content_type != NULL) {
		snprintf(line, sizeof(line), "Content-Type: %s", req->content_type);
		hdrs = curl_slist_append(hdrs, line);
	}
	hdrs = curl_slist_append(hdrs, "Expect:");
	if (req->bearer != NULL) {
		snprintf(line, sizeof(line), "Authorization: Bearer %s", req->bearer);
		hdrs = curl_slist_append(hdrs, line);
		explicit_bzero(line, sizeof(line));
	}
	for (const char *const *x = req->headers; x && *x; x++)
		hdrs = curl_slist_append(hdrs, *x);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);

	rc = curl_easy_perform(c);
	*status = 0;
	ctype[0] = '\0';
	*retry_after_ms = 0;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
	{
		char *ct = NULL;
		curl_off_t ra = 0;
		curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
		if (ct != NULL)
			snprintf(ctype, ctype_len, "%s", ct);
		if (curl_easy_getinfo(c, CURLINFO_RETRY_AFTER, &ra) == CURLE_OK &&
		    ra > 0)
			*retry_after_ms = (long)ra * 1000L;
	}
	{
		/* Did any byte of the request leave?  A refused connection
		 * proves a create did not happen. */
		curl_off_t up = 0;
		long connects = 0;
		curl_easy_getinfo(c, CURLINFO_SIZE_UPLOAD_T, &up);
		curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &connects);
		*request_sent = !(rc == CURLE_COULDNT_CONNECT ||
		                  rc == CURLE_COULDNT_RESOLVE_HOST ||
		                  (connects == 0 && up == 0 && *status == 0 &&
		                   rc == CURLE_OPERATION_TIMEDOUT));
	}
	curl_slist_free_all(hdrs);
	return rc;
}

int
mv_http_do(struct mv_http *h, const struct mv_http_req *req,
           struct mv_http_resp *resp, struct mv_err *err)
{
	const struct mv_http_timing *t = &h->timing;
	char safe_url[2048];
	long start = now_ms();
	bool maybe_acted = false;

	memset(resp, 0, sizeof(*resp));
	mv_http_redact_url(req->url, safe_url, sizeof(safe_url));
	if (check_url(req->url, safe_url, err) != 0)
		return -1;
	for (int n = 1;; n++) {
		struct sink body = {0}, head = {0};
		long status = 0, retry_after = 0, t0 = now_ms();
		bool sent = true, retry;
		char ctype[128];
		CURLcode rc;

		rc = attempt(h, req, &body, &head, &status, ctype, sizeof(ctype),
		             &retry_after, &sent);
		resp->attempts = n;
		if (rc == CURLE_OK)
			mv_debug("HTTP %s %s -> %ld (%ld ms, attempt %d)", req->method,
			         safe_url, status, now_ms() - t0, n);
		else
			mv_debug("HTTP %s %s -> %s (%ld ms, attempt %d)", req->method,
			         safe_url, curl_easy_strerror(rc), now_ms() - t0, n);
		if (rc == CURLE_ABORTED_BY_CALLBACK) {
			free(body.data);
			free(head.data);
			resp->outcome_unknown = !req->idempotent && (sent || maybe_acted);
			return mv_err_set(err, MV_EXIT_INTERRUPTED, "%s %s: interrupted",
			                  req->method, safe_url);
		}
		if (body.overflow) {
			free(body.data);
			free(head.data);
			return mv_err_set(err, MV_EXIT_CLOUD,
			                  "%s %s: response larger than %u MiB",
			                  req->method, safe_url, HTTP_BODY_MAX >> 20);
		}
		if (rc == CURLE_OK) {
			/* A 429 means the server refused to act: safe for any
			 * request.  Other 5xx only for idempotent ones. */
			retry = status == 429 ||
			        (retryable_status(status) && req->idempotent);
			if (!retry || n >= t->max_attempts ||
			    now_ms() - start >= t->max_total_ms || mv_interrupted()) {
				resp->status = status;
				resp->body = body.data ? body.data : strdup("");
				resp->len = body.len;
				resp->headers = head.data;
				snprintf(resp->content_type, sizeof(resp->content_type),
				         "%s", ctype);
				resp->outcome_unknown = !req->idempotent &&
				                        (maybe_acted ||
				                         (retryable_status(status) &&
				                          status != 429));
				return 0;
			}
		} else {
			bool transient = rc == CURLE_COULDNT_CONNECT ||
			                 rc == CURLE_OPERATION_TIMEDOUT ||
			                 rc == CURLE_RECV_ERROR ||
			                 rc == CURLE_SEND_ERROR ||
			                 rc == CURLE_GOT_NOTHING ||
			                 rc == CURLE_PARTIAL_FILE ||
			                 rc == CURLE_COULDNT_RESOLVE_HOST ||
			                 rc == CURLE_HTTP2 || rc == CURLE_HTTP2_STREAM;
			if (sent)
				maybe_acted = true;
			retry = transient && (req->idempotent || !sent);
			if (!retry || n >= t->max_attempts ||
			    now_ms() - start >= t->max_total_ms || mv_interrupted()) {
				free(body.data);
				free(head.data);
				resp->outcome_unknown = !req->idempotent && maybe_acted;
				return mv_err_set(err, MV_EXIT_CLOUD,
				                  "%s %s: %s (after %d attempt%s)",
				                  req->method, safe_url,
				                  curl_easy_strerror(rc), n,
				                  n == 1 ? "" : "s");
			}
		}
		free(body.data);
		free(head.data);
		{
			long wait = mv_http_backoff_ms(t, n, retry_after, &h->seed);
			long left = t->max_total_ms - (now_ms() - start);
			if (wait > left)
				wait = left > 0 ? left : 0;
			mv_trace("HTTP retry in %ld ms", wait);
			if (!mv_sleep_ms(wait))
				return mv_err_set(err, MV_EXIT_INTERRUPTED,
				                  "%s %s: interrupted", req->method,
				                  safe_url);
		}
	}
}

int
mv_http_fail(struct mv_err *err, const struct mv_http_req *req,
             const struct mv_http_resp *resp)
{
	char safe_url[2048], reason[128] = "", message[1024] = "";
	json_t *j = NULL;

	mv_http_redact_url(req->url, safe_url, sizeof(safe_url));
	if (resp->body != NULL && resp->len > 0)
		j = json_loadb(resp->body, resp->len, 0, NULL);
	if (json_is_object(j)) {
		json_t *e = json_object_get(j, "error");
		if (json_is_object(e)) { /* Google */
			const char *st = json_string_value(json_object_get(e, "status"));
			const char *msg = json_string_value(json_object_get(e, "message"));
			json_t *errs = json_object_get(e, "errors");
			const char *rsn = json_string_value(
				json_object_get(json_array_get(errs, 0), "reason"));
			/* Compute puts QUOTA_EXCEEDED-like codes in errors[].reason */
			snprintf(reason, sizeof(reason), "%s",
			         st ? st : rsn ? rsn : "");
			if (rsn && st && strcasecmp(rsn, st) != 0 &&
			    strcasestr(rsn, "quota") != NULL)
				snprintf(reason, sizeof(reason), "%s", rsn);
			snprintf(message, sizeof(message), "%s", msg ? msg : "");
		} else if (json_is_string(json_object_get(j, "kind")) &&
		           !strcmp(json_string_value(json_object_get(j, "kind")),
		                   "Status")) { /* Kubernetes */
			const char *rsn = json_string_value(json_object_get(j, "reason"));
			const char *msg = json_string_value(json_object_get(j, "message"));
			snprintf(reason, sizeof(reason), "%s", rsn ? rsn : "");
			snprintf(message, sizeof(message), "%s", msg ? msg : "");
		}
	}
	if (message[0] == '\0' && resp->body != NULL && j == NULL) {
		/* Not JSON: the first line of the body, trimmed. */
		size_t n = strcspn(resp->body, "\r\n");
		snprintf(message, sizeof(message), "%.*s", (int)(n > 200 ? 200 : n),
		         resp->body);
	}
	json_decref(j);
	mv_err_set(err, MV_EXIT_CLOUD, "%s %s → %ld%s%s%s%s", req->method,
	           safe_url, resp->status, reason[0] ? " " : "", reason,
	           message[0] ? ": " : "", message);
	err->http_status = (int)resp->status;
	return -1;
}
