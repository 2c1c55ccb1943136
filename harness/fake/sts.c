/* harness/fake/sts.c - workload identity federation: Security Token
 * Service's token exchange (POST /v1/token, RFC 8693, form-encoded as
 * Google's client libraries send it) and IAM Credentials'
 * generateAccessToken (POST /v1/projects/-/serviceAccounts/EMAIL:
 * generateAccessToken, body checked against the SDK's schema).
 *
 * The subject token must be a JWT (the OIDC token a CI system issues) with
 * a `sub`; its signature is not checked (the fake trusts every identity
 * provider).  The federated token the exchange issues is one the fake's
 * APIs accept, and so is the service account's; a service account listed
 * in /_fake/iam's missing_service_accounts answers 404, and one whose
 * actAs is denied (iam.serviceAccounts.getAccessToken in `denied`) 403.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/jwt.h"
#include "harness/fake/svc.h"

#define TE "urn:ietf:params:oauth:grant-type:token-exchange"
#define AT "urn:ietf:params:oauth:token-type:access_token"

static void
sts_error(struct fresp *rs, int status, const char *error, const char *desc)
{
	resp_json(rs, status, json_pack("{s:s, s:s}", "error", error,
	                                "error_description", desc));
}

static bool
in_iam_list(struct fake *f, const char *key, const char *s)
{
	json_t *list = json_object_get(json_object_get(fst(f)->db, "iam"), key), *v;
	size_t i;

	json_array_foreach(list, i, v)
		if (json_is_string(v) && strcmp(json_string_value(v), s) == 0)
			return true;
	return false;
}

static void
sts_token(struct fake *f, struct freq *rq, struct fresp *rs)
{
	char *grant = fake_form_get(rq->body, rq->body_len, "grant_type");
	char *aud = fake_form_get(rq->body, rq->body_len, "audience");
	char *subj = fake_form_get(rq->body, rq->body_len, "subject_token");
	char *stt = fake_form_get(rq->body, rq->body_len, "subject_token_type");
	char *rtt = fake_form_get(rq->body, rq->body_len,
	                          "requested_token_type");
	json_t *claims = NULL;
	struct mv_err err;
	char *tok, *principal;

	mv_err_clear(&err);
	if (grant == NULL || strcmp(grant, TE) != 0)
		sts_error(rs, 400, "unsupported_grant_type",
		          "Invalid value for \"grant_type\".");
	else if (aud == NULL || strncmp(aud, "//iam.googleapis.com/", 21) != 0)
		sts_error(rs, 400, "invalid_request", "Invalid value for "
		          "\"audience\". This value should be the full resource "
		          "name of the Identity Provider.");
	else if (stt == NULL || strncmp(stt, "urn:ietf:params:oauth:token-type:",
	                                33) != 0)
		sts_error(rs, 400, "invalid_request",
		          "Invalid value for \"subject_token_type\".");
	else if (rtt == NULL || strcmp(rtt, AT) != 0)
		sts_error(rs, 400, "invalid_request",
		          "Invalid value for \"requested_token_type\".");
	else if (subj == NULL || mv_jwt_decode(subj, NULL, &claims, &err) != 0 ||
	         !json_is_string(json_object_get(claims, "sub")))
		sts_error(rs, 400, "invalid_grant", "The given subject token is "
		          "not a valid JWT with a sub claim.");
	else {
		principal = mv_strfmt("principal://%s/subject/%s", aud + 2,
		                      json_string_value(json_object_get(claims,
		                                                        "sub")));
		tok = principal ? auth_issue_token(f, principal, 3600) : NULL;
		if (tok == NULL)
			sts_error(rs, 500, "server_error", "out of memory");
		else
			resp_json(rs, 200, json_pack("{s:s, s:s, s:s, s:i}",
			                             "access_token", tok,
			                             "issued_token_type", AT,
			                             "token_type", "Bearer",
			                             "expires_in", 3600));
		free(tok);
		free(principal);
	}
	json_decref(claims);
	free(grant);
	free(aud);
	free(subj);
	free(stt);
	free(rtt);
}

/* POST /v1/projects/-/serviceAccounts/EMAIL:generateAccessToken */
static void
sa_generate_token(struct fake *f, struct freq *rq, struct fresp *rs)
{
	const char *seg = rq->cap[1], *colon = strrchr(seg, ':');
	char email[256], exp[40];
	const json_t *life = json_object_get(rq->json, "lifetime");
	long secs = 3600;
	time_t t;
	struct tm tm;
	char *tok;

	if (colon == NULL || strcmp(colon, ":generateAccessToken") != 0 ||
	    (size_t)(colon - seg) >= sizeof(email) ||
	    memchr(seg, '@', (size_t)(colon - seg)) == NULL) {
		resp_gerr(rs, 404, NULL, "The requested URL %s was not found on "
		          "this server.", rq->path);
		return;
	}
	memcpy(email, seg, (size_t)(colon - seg));
	email[colon - seg] = '\0';
	if (in_iam_list(f, "missing_service_accounts", email)) {
		resp_gerr(rs, 404, "notFound", "Not found; Gaia id not found for "
		          "email %s", email);
		return;
	}
	if (in_iam_list(f, "denied", "iam.serviceAccounts.getAccessToken")) {
		resp_gerr(rs, 403, "forbidden", "Permission "
		          "'iam.serviceAccounts.getAccessToken' denied on resource "
		          "(or it may not exist).");
		return;
	}
	if (json_is_string(life)) {
		char *end;
		secs = strtol(json_string_value(life), &end, 10);
		if (strcmp(end, "s") != 0 || secs < 1 || secs > 43200) {
			resp_gerr(rs, 400, "invalid", "Invalid value for lifetime: "
			          "must be between 1s and 43200s.");
			return;
		}
	}
	tok = auth_issue_token(f, email, (int)secs);
	if (tok == NULL) {
		resp_gerr(rs, 500, NULL, "out of memory");
		return;
	}
	t = time(NULL) + secs;
	strftime(exp, sizeof(exp), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
	resp_json(rs, 200, json_pack("{s:s, s:s}", "accessToken", tok,
	                             "expireTime", exp));
	free(tok);
}

const struct route sts_routes[] = {
	/* STS authenticates by the subject token, not a bearer */
	{"POST", "/v1/token", sts_token, R_READONLY, NULL},
	{"POST", "/v1/projects/{}/serviceAccounts/{}", sa_generate_token,
	 R_AUTH | R_READONLY, "iamcredentials.projects.serviceAccounts."
	                      "generateAccessToken"},
	{NULL, NULL, NULL, 0, NULL},
};
