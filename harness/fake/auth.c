/* harness/fake/auth.c - OAuth 2.0 token endpoint (JWT-bearer grant, RFC
 * 7523, as Google's service accounts use it) and the registry of access
 * tokens the fake issued.
 *
 * POST /token with grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer
 * and assertion=JWT: the JWT must be RS256, signed by a key given with
 * --service-account-key (matched by iss == client_email and, when the
 * header has one, kid == private_key_id), carry a scope, an audience of
 * a Google token URI (or the fake's own /token), and be short-lived
 * (exp - iat <= 1 h).  The answer is Google's {"access_token",
 * "expires_in", "token_type"}; errors are {"error","error_description"}.
 */
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/jwt.h"
#include "core/pki.h"
#include "core/sha256.h"
#include "harness/fake/store.h"

#define GRANT_JWT "urn:ietf:params:oauth:grant-type:jwt-bearer"

int
auth_load_sa_key(struct fake *f, const char *path, struct mv_err *err)
{
	json_error_t je;
	json_t *doc = json_load_file(path, 0, &je);
	const char *email, *pem, *kid, *uri;
	struct sa_key *nk;
	EVP_PKEY *key;

	if (doc == NULL)
		return mv_err_at(err, MV_EXIT_FAIL, path, je.line, je.column, "%s",
		                 je.text);
	email = json_string_value(json_object_get(doc, "client_email"));
	pem = json_string_value(json_object_get(doc, "private_key"));
	kid = json_string_value(json_object_get(doc, "private_key_id"));
	uri = json_string_value(json_object_get(doc, "token_uri"));
	if (email == NULL || pem == NULL) {
		json_decref(doc);
		return mv_err_set(err, MV_EXIT_FAIL, "%s: not a service-account "
		                  "key file (client_email and private_key needed)",
		                  path);
	}
	key = mv_pki_key_from_pem(pem, strlen(pem), err);
	if (key == NULL) {
		json_decref(doc);
		return mv_err_prefix(err, "%s: private_key", path);
	}
	nk = realloc(fst(f)->sa_keys, (fst(f)->n_sa_keys + 1) * sizeof(*nk));
	if (nk == NULL) {
		EVP_PKEY_free(key);
		json_decref(doc);
		return mv_err_set(err, MV_EXIT_FAIL, "out of memory");
	}
	fst(f)->sa_keys = nk;
	nk[fst(f)->n_sa_keys].email = strdup(email);
	nk[fst(f)->n_sa_keys].kid = kid ? strdup(kid) : NULL;
	nk[fst(f)->n_sa_keys].token_uri = uri ? strdup(uri) : NULL;
	nk[fst(f)->n_sa_keys].key = key;
	fst(f)->n_sa_keys++;
	json_decref(doc);
	return 0;
}

size_t
auth_prune_tokens(struct fake *f)
{
	json_t *t = fake_db(f, "tokens"), *v;
	long long now = fake_clock_ms(f) / 1000;
	const char *k;
	void *tmp;
	size_t n = 0;

	json_object_foreach_safe(t, tmp, k, v) {
		if (json_integer_value(json_object_get(v, "exp")) <= now) {
			json_object_del(t, k);
			n++;
		}
	}
	fst(f)->tokens_kept = json_object_size(t);
	return n;
}

char *
auth_issue_token(struct fake *f, const char *email, int ttl)
{
	unsigned char raw[24];
	char hex[sizeof(raw) * 2 + 1], *tok;

	/* Expired tokens go once the table has doubled since the last
	 * pruning: bounded by the tokens alive, at O(1) per token. */
	if (json_object_size(fake_db(f, "tokens")) >=
	    2 * fst(f)->tokens_kept + 64)
		auth_prune_tokens(f);
	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return NULL;
	mv_hex_encode(raw, sizeof(raw), hex);
	tok = mv_strfmt("ya29.fake.%s", hex);
	if (tok != NULL)
		json_object_set_new(fake_db(f, "tokens"), tok,
		                    json_pack("{s:s, s:I}", "email", email, "exp",
		                              (json_int_t)(fake_clock_ms(f) / 1000 +
		                                           ttl)));
	return tok;
}

/* The token after "Bearer " (case-insensitive scheme), or NULL. */
static const char *
bearer(const struct freq *rq)
{
	const char *h = freq_header(rq, "Authorization");

	if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0)
		return NULL;
	h += 7;
	while (*h == ' ')
		h++;
	return *h ? h : NULL;
}

bool
auth_google_ok(struct fake *f, const struct freq *rq)
{
	const char *tok = bearer(rq);
	json_t *t;

	if (tok == NULL)
		return false;
	t = json_object_get(fake_db(f, "tokens"), tok);
	return t != NULL && json_integer_value(json_object_get(t, "exp")) >
	                            fake_clock_ms(f) / 1000;
}

/* One field of an application/x-www-form-urlencoded body (heap). */
char *
fake_form_get(const char *body, size_t len, const char *name)
{
	size_t nlen = strlen(name), i = 0;

	while (i < len) {
		const char *p = body + i, *amp = memchr(p, '&', len - i);
		size_t n = amp ? (size_t)(amp - p) : len - i;
		if (n > nlen && memcmp(p, name, nlen) == 0 && p[nlen] == '=')
			return fake_pct_decode(p + nlen + 1, n - nlen - 1, true);
		i += n + 1;
	}
	return NULL;
}

static void
oauth_error(struct fresp *rs, int status, const char *error,
            const char *desc)
{
	resp_json(rs, status, json_pack("{s:s, s:s}", "error", error,
	                                "error_description", desc));
}

static bool
audience_ok(struct fake *f, const struct sa_key *k, json_t *claims)
{
	const char *ok[4] = {"https://oauth2.googleapis.com/token",
	                     "https://www.googleapis.com/oauth2/v4/token",
	                     k->token_uri, NULL};
	char own[96];
	const char *aud = json_string_value(json_object_get(claims, "aud"));

	snprintf(own, sizeof(own), "%s/token", fst(f)->url);
	ok[3] = own;
	if (aud == NULL)
		return false;
	for (size_t i = 0; i < 4; i++)
		if (ok[i] != NULL && strcmp(ok[i], aud) == 0)
			return true;
	return false;
}

void
auth_token_endpoint(struct fake *f, struct freq *rq, struct fresp *rs)
{
	char *grant = fake_form_get(rq->body, rq->body_len, "grant_type");
	char *assertion = fake_form_get(rq->body, rq->body_len, "assertion");
	json_t *hdr = NULL, *claims = NULL;
	const char *iss, *kid;
	struct sa_key *k = NULL;
	struct mv_err err;
	struct mv_jwt_verify vo = {0};
	long long iat, exp;
	char *tok;

	rq->mutating = false;
	mv_err_clear(&err);
	if (grant == NULL || strcmp(grant, GRANT_JWT) != 0) {
		oauth_error(rs, 400, "unsupported_grant_type", "Invalid grant_type: "
		            "only " GRANT_JWT " is supported by this server.");
		goto done;
	}
	if (assertion == NULL ||
	    mv_jwt_decode(assertion, &hdr, &claims, &err) != 0) {
		oauth_error(rs, 400, "invalid_grant", "Invalid JWT: the assertion "
		            "is not a compact JWS.");
		goto done;
	}
	iss = json_string_value(json_object_get(claims, "iss"));
	kid = json_string_value(json_object_get(hdr, "kid"));
	for (size_t i = 0; iss != NULL && i < fst(f)->n_sa_keys; i++) {
		if (strcmp(fst(f)->sa_keys[i].email, iss) == 0 &&
		    (kid == NULL || fst(f)->sa_keys[i].kid == NULL ||
		     strcmp(kid, fst(f)->sa_keys[i].kid) == 0))
			k = &fst(f)->sa_keys[i];
	}
	if (k == NULL) {
		oauth_error(rs, 400, "invalid_grant", "Invalid grant: account not "
		            "found");
		goto done;
	}
	vo.leeway = 60;
	vo.require_exp = true;
	json_decref(claims);
	claims = NULL;
	if (mv_jwt_verify_rs256(assertion, k->key, &vo, &claims, &err) != 0) {
		oauth_error(rs, 400, "invalid_grant",
		            strstr(err.msg, "signature") ? "Invalid JWT Signature."
		            : "Invalid JWT: Token must be a short-lived token (60 "
		              "minutes) and in a reasonable timeframe. Check your "
		              "iat and exp values in the JWT claim.");
		goto done;
	}
	iat = json_integer_value(json_object_get(claims, "iat"));
	exp = json_integer_value(json_object_get(claims, "exp"));
	if (!json_is_integer(json_object_get(claims, "iat")) ||
	    exp - iat > 3600 || iat > (long long)time(NULL) + 60) {
		oauth_error(rs, 400, "invalid_grant", "Invalid JWT: Token must be "
		            "a short-lived token (60 minutes) and in a reasonable "
		            "timeframe. Check your iat and exp values in the JWT "
		            "claim.");
		goto done;
	}
	if (!audience_ok(f, k, claims)) {
		oauth_error(rs, 400, "invalid_grant", "Invalid JWT: the aud claim "
		            "must be the token endpoint.");
		goto done;
	}
	if (!json_is_string(json_object_get(claims, "scope"))) {
		oauth_error(rs, 400, "invalid_scope", "Invalid OAuth scope or ID "
		            "token audience provided.");
		goto done;
	}
	tok = auth_issue_token(f, k->email, 3600);
	resp_json(rs, 200, json_pack("{s:s, s:i, s:s}", "access_token",
	                             tok ? tok : "", "expires_in", 3599,
	                             "token_type", "Bearer"));
	free(tok);
done:
	json_decref(hdr);
	json_decref(claims);
	free(grant);
	free(assertion);
}
