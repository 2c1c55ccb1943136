/* cluster/gcp_auth_wif.c - see gcp_auth_wif.h. */
#include "cluster/gcp_auth_wif.h"

#include <curl/curl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/http.h"
#include "core/util.h"
#include "core/xalloc.h"

#define SCOPE "https://www.googleapis.com/auth/cloud-platform"
#define MAX_SUBJECT_TOKEN 65536
#define MAX_HEADERS 16

struct wif {
	char *audience;
	char *subject_token_type;
	char *token_url;
	char *impersonation_url; /* NULL: use the federated token itself */
	char *file;              /* credential_source.file, or */
	char *url;               /* credential_source.url */
	char **headers;          /* "Name: value", NULL-terminated */
	char *json_field;        /* format json: the field; NULL: text */
	char label[320];
};

static void
zfree(char *s)
{
	if (s != NULL) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

void
wif_free(struct wif *w)
{
	if (w == NULL)
		return;
	free(w->audience);
	free(w->subject_token_type);
	free(w->token_url);
	free(w->impersonation_url);
	free(w->file);
	free(w->url);
	for (size_t i = 0; w->headers && w->headers[i]; i++)
		zfree(w->headers[i]);
	free(w->headers);
	free(w->json_field);
	free(w);
}

const char *
wif_label(const struct wif *w)
{
	return w->label;
}

/* https, a host under googleapis.com (what Google's libraries accept). */
static bool
google_url(const char *u)
{
	const char *h, *end;

	if (u == NULL || strncmp(u, "https://", 8) != 0)
		return false;
	h = u + 8;
	end = h + strcspn(h, "/?#");
	return (size_t)(end - h) > strlen(".googleapis.com") &&
	       memcmp(end - strlen(".googleapis.com"), ".googleapis.com",
	              strlen(".googleapis.com")) == 0 &&
	       memchr(h, '@', (size_t)(end - h)) == NULL &&
	       memchr(h, ':', (size_t)(end - h)) == NULL;
}

static const char *
jstr(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

int
wif_load(const json_t *doc, const char *path, const struct wif_overrides *ov,
         struct wif **out, struct mv_err *err)
{
	const json_t *src = json_object_get(doc, "credential_source");
	const json_t *fmt = json_object_get(src, "format");
	const char *aud = jstr(doc, "audience"), *stt = jstr(doc, "subject_token_type");
	const char *turl = jstr(doc, "token_url");
	const char *imp = jstr(doc, "service_account_impersonation_url");
	const char *ftype = jstr(fmt, "type");
	struct wif *w = mv_xcalloc(1, sizeof(*w));
	json_t *hdrs = json_object_get(src, "headers"), *v;
	const char *k;
	size_t n = 0;

	*out = NULL;
#define BAD(...)                                                             \
	do {                                                                 \
		wif_free(w);                                                 \
		return mv_err_at(err, MV_EXIT_FAIL, path, 0, 0, __VA_ARGS__);   \
	} while (0)
	if (aud == NULL || stt == NULL)
		BAD("external_account credentials need audience and "
		    "subject_token_type");
	if (turl == NULL)
		turl = "https://sts.googleapis.com/v1/token";
	if (!google_url(turl))
		BAD("token_url %s is not a Google endpoint (https://*.googleapis.com)",
		    turl);
	if (imp != NULL && (!google_url(imp) ||
	                    strstr(imp, ":generateAccessToken") == NULL ||
	                    strstr(imp, "/serviceAccounts/") == NULL))
		BAD("service_account_impersonation_url %s is not IAM Credentials' "
		    "generateAccessToken", imp);
	if (!json_is_object(src) ||
	    (jstr(src, "file") == NULL) == (jstr(src, "url") == NULL))
		BAD("credential_source needs exactly one of file and url (this "
		    "build reads no executable or AWS sources)");
	if (ftype != NULL && strcmp(ftype, "text") != 0 &&
	    (strcmp(ftype, "json") != 0 ||
	     jstr(fmt, "subject_token_field_name") == NULL))
		BAD("credential_source.format: type text, or json with "
		    "subject_token_field_name");
	if (hdrs != NULL && (!json_is_object(hdrs) ||
	                     json_object_size(hdrs) > MAX_HEADERS))
		BAD("credential_source.headers: a mapping of at most %d headers",
		    MAX_HEADERS);
	w->audience = mv_xstrdup(aud);
	w->subject_token_type = mv_xstrdup(stt);
	w->token_url = mv_xstrdup(ov && ov->sts ? ov->sts : turl);
	if (imp != NULL) {
		/* keep "v1/projects/-/serviceAccounts/X:generateAccessToken" */
		const char *pathpart = strstr(imp + 8, "/") + 1;
		w->impersonation_url = ov && ov->iamcredentials
		                               ? mv_xstrfmt("%s%s", ov->iamcredentials,
		                                            pathpart)
		                               : mv_xstrdup(imp);
	}
	if (jstr(src, "file") != NULL) {
		w->file = mv_xstrdup(jstr(src, "file"));
	} else {
		w->url = mv_xstrdup(jstr(src, "url"));
	}
	if (ftype != NULL && strcmp(ftype, "json") == 0)
		w->json_field = mv_xstrdup(jstr(fmt, "subject_token_field_name"));
	w->headers = mv_xcalloc(json_object_size(hdrs) + 1, sizeof(char *));
	json_object_foreach(hdrs, k, v) {
		if (!json_is_string(v) || strpbrk(k, ":\r\n") != NULL ||
		    strpbrk(json_string_value(v), "\r\n") != NULL)
			BAD("credential_source.headers.%s: a header value", k);
		w->headers[n++] = mv_xstrfmt("%s: %s", k, json_string_value(v));
	}
	if (imp != NULL) {
		const char *sa = strstr(imp, "/serviceAccounts/") + 17;
		snprintf(w->label, sizeof(w->label), "external-account as %.*s",
		         (int)strcspn(sa, ":"), sa);
	} else {
		snprintf(w->label, sizeof(w->label), "external-account %s", aud);
	}
#undef BAD
	*out = w;
	return 0;
}

/* The subject token from the file or the URL (heap; NULL and err). */
static char *
subject_token(struct wif *w, struct mv_http *http, struct mv_err *err)
{
	char *raw = NULL, *tok;
	size_t n = 0;

	if (w->file != NULL) {
		raw = mv_read_file(w->file, MAX_SUBJECT_TOKEN, &n, err);
		if (raw == NULL)
			return NULL;
	} else {
		struct mv_http_req req = {.method = "GET", .url = w->url,
		                          .headers = (const char *const *)w->headers,
		                          .accept = "*/*", .idempotent = true};
		struct mv_http_resp resp;
		if (mv_http_do(http, &req, &resp, err) != 0)
			return NULL;
		if (resp.status != 200 || resp.len > MAX_SUBJECT_TOKEN) {
			if (resp.status == 200)
				mv_err_set(err, MV_EXIT_CLOUD, "GET %s: subject token over "
				           "%d bytes", w->url, MAX_SUBJECT_TOKEN);
			else
				mv_http_fail(err, &req, &resp);
			mv_http_resp_free(&resp);
			return NULL;
		}
		raw = mv_xstrndup(resp.body ? resp.body : "", resp.len);
		n = resp.len;
		mv_http_resp_free(&resp);
	}
	if (w->json_field != NULL) {
		json_t *j = json_loadb(raw, n, 0, NULL);
		const char *f = jstr(j, w->json_field);
		tok = f ? mv_xstrdup(f) : NULL;
		json_decref(j);
		zfree(raw);
		if (tok == NULL)
			mv_err_set(err, MV_EXIT_FAIL, "subject token (%s): no string "
			           "field \"%s\"", w->file ? w->file : w->url,
			           w->json_field);
		return tok;
	}
	while (n > 0 && strchr(" \r\n\t", raw[n - 1]))
		raw[--n] = '\0';
	if (n == 0) {
		zfree(raw);
		mv_err_set(err, MV_EXIT_FAIL, "subject token (%s) is empty",
		           w->file ? w->file : w->url);
		return NULL;
	}
	return raw;
}

static char *
esc(const char *s)
{
	char *e = curl_easy_escape(NULL, s, 0), *r;

	if (e == NULL)
		return mv_xstrdup("");
	r = mv_xstrdup(e);
	curl_free(e);
	return r;
}

/* mv_http_fail, plus OAuth's {"error": CODE, "error_description": ...}
 * shape, which STS answers in and mv_http_fail does not read. */
static void
oauth_fail(struct mv_err *err, const struct mv_http_req *req,
           const struct mv_http_resp *resp)
{
	json_t *j = resp->body ? json_loadb(resp->body, resp->len, 0, NULL)
	                       : NULL;
	const char *code = jstr(j, "error"), *desc = jstr(j, "error_description");
	size_t used;

	mv_http_fail(err, req, resp);
	used = strlen(err->msg);
	if (code != NULL)
		snprintf(err->msg + used, sizeof(err->msg) - used, " %s%s%s", code,
		         desc ? ": " : "", desc ? desc : "");
	json_decref(j);
}

/* STS: the subject token for a federated access token (heap). */
static char *
exchange(struct wif *w, struct mv_http *http, const char *subject,
         time_t *expires, struct mv_err *err)
{
	char *a = esc(w->audience), *t = esc(w->subject_token_type);
	char *s = esc(subject), *sc = esc(SCOPE), *form, *tok = NULL;
	struct mv_http_req req = {
		.method = "POST", .url = w->token_url,
		.content_type = "application/x-www-form-urlencoded",
		.idempotent = true, /* minting a token has no side effect */
	};
	struct mv_http_resp resp;
	json_t *j;

	form = mv_xstrfmt("grant_type=urn%%3Aietf%%3Aparams%%3Aoauth%%3Agrant-type"
	                  "%%3Atoken-exchange&audience=%s&scope=%s&"
	                  "requested_token_type=urn%%3Aietf%%3Aparams%%3Aoauth%%3A"
	                  "token-type%%3Aaccess_token&subject_token_type=%s&"
	                  "subject_token=%s", a, sc, t, s);
	free(a);
	free(t);
	zfree(s);
	free(sc);
	req.body = form;
	req.body_len = strlen(form);
	if (mv_http_do(http, &req, &resp, err) != 0) {
		zfree(form);
		return NULL;
	}
	zfree(form);
	if (resp.status != 200) {
		oauth_fail(err, &req, &resp);
		mv_http_resp_free(&resp);
		mv_err_prefix(err, "token exchange (STS)");
		return NULL;
	}
	j = json_loadb(resp.body ? resp.body : "", resp.len, 0, NULL);
	mv_http_resp_free(&resp);
	if (jstr(j, "access_token") != NULL) {
		tok = mv_xstrdup(jstr(j, "access_token"));
		*expires = time(NULL) +
		           (json_is_integer(json_object_get(j, "expires_in"))
		                    ? (time_t)json_integer_value(json_object_get(j, "expires_in"))
		                    : 3600);
	} else {
		mv_err_set(err, MV_EXIT_CLOUD, "POST %s: no access_token in the "
		           "answer", w->token_url);
	}
	json_decref(j);
	return tok;
}

/* "2026-12-01T16:00:00Z" → time_t (UTC); 0 when malformed. */
static time_t
rfc3339(const char *s)
{
	struct tm tm = {0};
	const char *end = s ? strptime(s, "%Y-%m-%dT%H:%M:%S", &tm) : NULL;

	return end ? timegm(&tm) : 0;
}

/* IAM Credentials: the federated token for the service account's. */
static char *
impersonate(struct wif *w, struct mv_http *http, const char *federated,
            time_t *expires, struct mv_err *err)
{
	const char *body = "{\"scope\":[\"" SCOPE "\"],\"lifetime\":\"3600s\"}";
	struct mv_http_req req = {
		.method = "POST", .url = w->impersonation_url, .body = body,
		.body_len = strlen(body), .content_type = "application/json",
		.bearer = federated, .idempotent = true,
	};
	struct mv_http_resp resp;
	char *tok = NULL;
	json_t *j;

	if (mv_http_do(http, &req, &resp, err) != 0)
		return NULL;
	if (resp.status != 200) {
		mv_http_fail(err, &req, &resp);
		mv_http_resp_free(&resp);
		mv_err_prefix(err, "service-account impersonation");
		return NULL;
	}
	j = json_loadb(resp.body ? resp.body : "", resp.len, 0, NULL);
	mv_http_resp_free(&resp);
	if (jstr(j, "accessToken") != NULL) {
		time_t t = rfc3339(jstr(j, "expireTime"));
		tok = mv_xstrdup(jstr(j, "accessToken"));
		*expires = t ? t : time(NULL) + 3600;
	} else {
		mv_err_set(err, MV_EXIT_CLOUD, "POST %s: no accessToken in the "
		           "answer", w->impersonation_url);
	}
	json_decref(j);
	return tok;
}

int
wif_token(struct wif *w, struct mv_http *http, char **token, time_t *expires,
          struct mv_err *err)
{
	char *subject = subject_token(w, http, err), *fed, *sa;

	*token = NULL;
	if (subject == NULL)
		return mv_err_prefix(err, "%s", w->label);
	fed = exchange(w, http, subject, expires, err);
	zfree(subject);
	if (fed == NULL)
		return mv_err_prefix(err, "%s", w->label);
	if (w->impersonation_url == NULL) {
		*token = fed;
		return 0;
	}
	sa = impersonate(w, http, fed, expires, err);
	zfree(fed);
	if (sa == NULL)
		return mv_err_prefix(err, "%s", w->label);
	*token = sa;
	return 0;
}
