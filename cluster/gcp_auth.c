/* cluster/gcp_auth.c - Google access tokens (see gcp_auth.h). */
#include "cluster/gcp_auth.h"
#include "cluster/gcp_auth_wif.h"

#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/http.h"
#include "core/jwt.h"
#include "core/log.h"
#include "core/pki.h"
#include "core/util.h"

#define SCOPE "https://www.googleapis.com/auth/cloud-platform"
#define DEFAULT_TOKEN_URI "https://oauth2.googleapis.com/token"
#define REFRESH_MARGIN 300 /* seconds before expiry */

enum source { SRC_FILE, SRC_ENV, SRC_SA, SRC_USER, SRC_METADATA, SRC_WIF };

struct gcp_auth {
	enum source src;
	struct mv_http *http;
	char *token;
	time_t expires; /* 0 = unknown/never */
	char *sa_json;  /* service account key file contents */
	char *token_uri;
	char *client_id, *client_secret, *refresh_token;
	char *metadata_url;
	struct wif *wif; /* external_account (gcp_auth_wif.c) */
	char label[256];
};

static void
free_secret(char *s)
{
	if (s != NULL) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

void
gcp_auth_free(struct gcp_auth *a)
{
	if (a == NULL)
		return;
	free_secret(a->token);
	free_secret(a->sa_json);
	free(a->token_uri);
	free(a->client_id);
	free_secret(a->client_secret);
	free_secret(a->refresh_token);
	free(a->metadata_url);
	wif_free(a->wif);
	free(a);
}

static char *
read_trimmed(const char *path, struct mv_err *err)
{
	size_t n = 0;
	char *buf = mv_read_file(path, 65536, &n, err);

	while (buf != NULL && n > 0 &&
	       (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	return buf;
}

static bool
on_gce(void)
{
	char *p;
	struct mv_err e;
	bool yes;

	if (getenv("GCE_METADATA_HOST") != NULL)
		return true;
	p = read_trimmed("/sys/class/dmi/id/product_name", &e);
	yes = p != NULL && strstr(p, "Google") != NULL;
	free(p);
	return yes;
}

/* Load a credentials JSON file (service_account or authorized_user). */
static int
load_credentials_file(struct gcp_auth *a, const char *path,
                      const struct gcp_auth_options *opt, struct mv_err *err)
{
	json_error_t je;
	json_t *j = json_load_file(path, 0, &je);
	const char *type, *uri;

	if (j == NULL)
		return mv_err_at(err, MV_EXIT_FAIL, path, je.line, je.column,
		                 "credentials file is not JSON: %s", je.text);
	type = json_string_value(json_object_get(j, "type"));
	uri = json_string_value(json_object_get(j, "token_uri"));
	a->token_uri = strdup(opt->token_endpoint_override
	                              ? opt->token_endpoint_override
	                              : uri ? uri : DEFAULT_TOKEN_URI);
	if (type != NULL && !strcmp(type, "service_account")) {
		const char *email = json_string_value(json_object_get(j, "client_email"));
		if (email == NULL ||
		    !json_is_string(json_object_get(j, "private_key"))) {
			json_decref(j);
			return mv_err_at(err, MV_EXIT_FAIL, path, 0, 0,
			                 "service-account key without client_email or "
			                 "private_key");
		}
		a->src = SRC_SA;
		snprintf(a->label, sizeof(a->label), "service-account %s", email);
		a->sa_json = json_dumps(j, 0);
	} else if (type != NULL && !strcmp(type, "authorized_user")) {
		const char *id = json_string_value(json_object_get(j, "client_id"));
		const char *sec = json_string_value(json_object_get(j, "client_secret"));
		const char *rt = json_string_value(json_object_get(j, "refresh_token"));
		if (id == NULL || sec == NULL || rt == NULL) {
			json_decref(j);
			return mv_err_at(err, MV_EXIT_FAIL, path, 0, 0,
			                 "authorized-user credentials need client_id, "
			                 "client_secret, refresh_token");
		}
		a->src = SRC_USER;
		snprintf(a->label, sizeof(a->label), "authorized-user");
		a->client_id = strdup(id);
		a->client_secret = strdup(sec);
		a->refresh_token = strdup(rt);
	} else if (type != NULL && !strcmp(type, "external_account")) {
		struct wif_overrides ov = {opt->sts_endpoint_override,
		                           opt->iamcredentials_endpoint_override};
		if (wif_load(j, path, &ov, &a->wif, err) != 0) {
			json_decref(j);
			return -1;
		}
		a->src = SRC_WIF;
		snprintf(a->label, sizeof(a->label), "%s", wif_label(a->wif));
	} else {
		json_decref(j);
		return mv_err_at(err, MV_EXIT_FAIL, path, 0, 0,
		                 "unsupported credentials type \"%s\" (service_account, "
		                 "authorized_user or external_account)",
		                 type ? type : "");
	}
	json_decref(j);
	return 0;
}

int
gcp_auth_new(const struct gcp_auth_options *opt, struct mv_http *http,
             struct gcp_auth **out, struct mv_err *err)
{
	struct gcp_auth *a = calloc(1, sizeof(*a));
	const char *env;
	char adc[4096];

	*out = NULL;
	if (a == NULL)
		return mv_err_set(err, MV_EXIT_FAIL, "out of memory");
	a->http = http;
	if (opt->access_token_file != NULL) {
		a->token = read_trimmed(opt->access_token_file, err);
		if (a->token == NULL || a->token[0] == '\0') {
			if (a->token != NULL)
				mv_err_at(err, MV_EXIT_FAIL, opt->access_token_file, 0, 0,
				          "empty access token file");
			gcp_auth_free(a);
			return -1;
		}
		a->src = SRC_FILE;
		snprintf(a->label, sizeof(a->label), "access-token-file");
		*out = a;
		return 0;
	}
	env = getenv("GOOGLE_OAUTH_ACCESS_TOKEN");
	if (env != NULL && env[0] != '\0') {
		a->token = strdup(env);
		a->src = SRC_ENV;
		snprintf(a->label, sizeof(a->label), "GOOGLE_OAUTH_ACCESS_TOKEN");
		*out = a;
		return 0;
	}
	env = getenv("GOOGLE_APPLICATION_CREDENTIALS");
	if (env != NULL && env[0] != '\0') {
		if (load_credentials_file(a, env, opt, err) != 0) {
			gcp_auth_free(a);
			return mv_err_prefix(err, "GOOGLE_APPLICATION_CREDENTIALS");
		}
		*out = a;
		return 0;
	}
	if (getenv("CLOUDSDK_CONFIG") != NULL)
		snprintf(adc, sizeof(adc), "%s/application_default_credentials.json",
		         getenv("CLOUDSDK_CONFIG"));
	else
		snprintf(adc, sizeof(adc),
		         "%s/.config/gcloud/application_default_credentials.json",
		         getenv("HOME") ? getenv("HOME") : "");
	if (access(adc, R_OK) == 0) {
		if (load_credentials_file(a, adc, opt, err) != 0) {
			gcp_auth_free(a);
			return -1;
		}
		*out = a;
		return 0;
	}
	if (opt->metadata_url != NULL || getenv("MESHVM_METADATA_URL") != NULL ||
	    on_gce()) {
		const char *m = opt->metadata_url ? opt->metadata_url
		                : getenv("MESHVM_METADATA_URL")
		                        ? getenv("MESHVM_METADATA_URL")
		                        : "http://metadata.google.internal/computeMetadata/v1";
		a->metadata_url = strdup(m);
		a->src = SRC_METADATA;
		snprintf(a->label, sizeof(a->label), "metadata");
		*out = a;
		return 0;
	}
	gcp_auth_free(a);
	return mv_err_set(err, MV_EXIT_FAIL,
	                  "no Google credentials: pass --access-token-file FILE, "
	                  "set GOOGLE_OAUTH_ACCESS_TOKEN or "
	                  "GOOGLE_APPLICATION_CREDENTIALS, or run `gcloud auth "
	                  "application-default login`");
}

const char *
gcp_auth_source(const struct gcp_auth *a)
{
	return a->label;
}

bool
gcp_auth_is_explicit(const struct gcp_auth *a)
{
	return a->src == SRC_FILE || a->src == SRC_ENV;
}

int
gcp_auth_sa_assertion(const char *sa_json, const char *audience, long now,
                      char **out, struct mv_err *err)
{
	json_t *j = json_loads(sa_json, 0, NULL), *claims;
	const char *pem, *email, *kid;
	EVP_PKEY *key = NULL;
	int rc;

	*out = NULL;
	if (j == NULL)
		return mv_err_set(err, MV_EXIT_FAIL, "service-account key: not JSON");
	pem = json_string_value(json_object_get(j, "private_key"));
	email = json_string_value(json_object_get(j, "client_email"));
	kid = json_string_value(json_object_get(j, "private_key_id"));
	if (pem != NULL)
		key = mv_pki_key_from_pem(pem, strlen(pem), err);
	if (key == NULL || email == NULL) {
		json_decref(j);
		EVP_PKEY_free(key);
		return mv_err_set(err, MV_EXIT_FAIL,
		                  "service-account key: unreadable private_key");
	}
	claims = json_pack("{s:s,s:s,s:s,s:I,s:I}", "iss", email, "scope", SCOPE,
	                   "aud", audience, "iat", (json_int_t)now, "exp",
	                   (json_int_t)(now + 3600));
	rc = mv_jwt_sign_rs256(claims, kid, key, out, err);
	json_decref(claims);
	EVP_PKEY_free(key);
	json_decref(j);
	return rc;
}

/* POST a form to the token endpoint; take access_token + expires_in. */
static int
token_exchange(struct gcp_auth *a, const char *form, struct mv_err *err)
{
	struct mv_http_req req = {
		.method = "POST", .url = a->token_uri, .body = form,
		.body_len = strlen(form),
		.content_type = "application/x-www-form-urlencoded",
		.idempotent = true, /* minting a token has no side effect */
	};
	struct mv_http_resp resp;
	json_t *j;
	const char *tok;

	if (mv_http_do(a->http, &req, &resp, err) != 0)
		return mv_err_prefix(err, "Google token exchange");
	if (resp.status != 200) {
		mv_http_fail(err, &req, &resp);
		mv_http_resp_free(&resp);
		return mv_err_prefix(err, "Google token exchange (%s)", a->label);
	}
	j = json_loadb(resp.body, resp.len, 0, NULL);
	mv_http_resp_free(&resp);
	tok = json_string_value(json_object_get(j, "access_token"));
	if (tok == NULL) {
		json_decref(j);
		return mv_err_set(err, MV_EXIT_CLOUD, "POST %s: no access_token in "
		                  "the answer", a->token_uri);
	}
	free_secret(a->token);
	a->token = strdup(tok);
	a->expires = time(NULL) +
	             (json_is_integer(json_object_get(j, "expires_in"))
	                      ? (time_t)json_integer_value(json_object_get(j, "expires_in"))
	                      : 3600);
	json_decref(j);
	return 0;
}

static char *
form_escape(const char *s)
{
	return curl_easy_escape(NULL, s, 0);
}

static int
refresh(struct gcp_auth *a, struct mv_err *err)
{
	char *form = NULL;
	int rc;

	switch (a->src) {
	case SRC_SA: {
		char *jwt = NULL;
		if (gcp_auth_sa_assertion(a->sa_json, a->token_uri, (long)time(NULL),
		                          &jwt, err) != 0)
			return -1;
		if (asprintf(&form, "grant_type=%s&assertion=%s",
		             "urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer",
		             jwt) < 0)
			form = NULL;
		free_secret(jwt);
		break;
	}
	case SRC_USER: {
		char *id = form_escape(a->client_id), *sec = form_escape(a->client_secret);
		char *rt = form_escape(a->refresh_token);
		if (asprintf(&form, "grant_type=refresh_token&client_id=%s&"
		             "client_secret=%s&refresh_token=%s", id, sec, rt) < 0)
			form = NULL;
		curl_free(id);
		curl_free(sec);
		curl_free(rt);
		break;
	}
	case SRC_METADATA: {
		char url[1024];
		const char *hdrs[] = {"Metadata-Flavor: Google", NULL};
		struct mv_http_req req = {.method = "GET", .url = url,
		                          .headers = hdrs, .idempotent = true};
		struct mv_http_resp resp;
		json_t *j;
		snprintf(url, sizeof(url),
		         "%s/instance/service-accounts/default/token", a->metadata_url);
		if (mv_http_do(a->http, &req, &resp, err) != 0)
			return mv_err_prefix(err, "metadata server token");
		if (resp.status != 200) {
			mv_http_fail(err, &req, &resp);
			mv_http_resp_free(&resp);
			return -1;
		}
		j = json_loadb(resp.body, resp.len, 0, NULL);
		mv_http_resp_free(&resp);
		if (!json_is_string(json_object_get(j, "access_token"))) {
			json_decref(j);
			return mv_err_set(err, MV_EXIT_CLOUD,
			                  "metadata server: no access_token");
		}
		free_secret(a->token);
		a->token = strdup(json_string_value(json_object_get(j, "access_token")));
		a->expires = time(NULL) +
		             (time_t)json_integer_value(json_object_get(j, "expires_in"));
		json_decref(j);
		return 0;
	}
	case SRC_WIF: {
		char *tok;
		time_t exp;
		if (wif_token(a->wif, a->http, &tok, &exp, err) != 0)
			return -1;
		free_secret(a->token);
		a->token = tok;
		a->expires = exp;
		return 0;
	}
	default:
		return 0;
	}
	if (form == NULL)
		return mv_err_set(err, MV_EXIT_FAIL, "out of memory");
	rc = token_exchange(a, form, err);
	free_secret(form);
	return rc;
}

int
gcp_auth_token(struct gcp_auth *a, const char **token, struct mv_err *err)
{
	*token = NULL;
	if (a->src == SRC_FILE || a->src == SRC_ENV) {
		*token = a->token;
		return 0;
	}
	if (a->token == NULL || time(NULL) + REFRESH_MARGIN >= a->expires) {
		if (refresh(a, err) != 0)
			return -1;
		mv_debug("Google token from %s, valid %lds", a->label,
		         (long)(a->expires - time(NULL)));
	}
	*token = a->token;
	return 0;
}
