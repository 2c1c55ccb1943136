/* harness/fake/kube_token.c - service-account tokens: TokenRequest (JSON,
 * or the protobuf body kubectl sends), TokenReview, the API's bearer
 * authentication, and the OpenID discovery documents.
 *
 * Tokens are RS256 JWTs signed by the fake's token key, issued by
 * "https://container.googleapis.com/v1/projects/P/locations/L/clusters/C"
 * (what GKE uses), which is also the API's own audience.
 */
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/base64.h"
#include "core/jwt.h"
#include "core/sha256.h"
#include "harness/fake/kube_private.h"

#define TOKEN_MIN_SECONDS 600
#define TOKEN_MAX_SECONDS (48 * 3600)

/* ---- tokens ---- */

/* kid: base64url of the SHA-256 of the public key's DER, as the API
 * server computes it. */
static char *
key_id(EVP_PKEY *k)
{
	unsigned char *der = NULL, d[32];
	int n = i2d_PUBKEY(k, &der);
	char *s;
	struct mv_sha256 h;

	if (n <= 0)
		return NULL;
	mv_sha256_init(&h);
	mv_sha256_update(&h, der, (size_t)n);
	mv_sha256_final(&h, d);
	OPENSSL_free(der);
	s = mv_base64url_encode(d, sizeof(d));
	return s;
}

char *
kube_sa_token(struct fake *f, struct kcluster *kc, const char *ns,
              const char *sa, const char *sa_uid, json_t *audiences,
              long long ttl, long long *exp_out)
{
	time_t now = time(NULL);
	json_t *claims;
	char *tok = NULL, *kid, sub[512], jti[37];
	struct mv_err err;

	if (fake_pki_ensure(f, &err) != 0)
		return NULL;
	snprintf(sub, sizeof(sub), "system:serviceaccount:%s:%s", ns, sa);
	kube_uid(kc->key, sub, "token", jti);
	claims = json_pack("{s:O, s:I, s:I, s:I, s:s, s:s, s:s, "
	                   "s:{s:s, s:{s:s, s:s}}}",
	                   "aud", audiences, "exp",
	                   (json_int_t)(ttl > 0 ? now + ttl : 4102444800LL),
	                   "iat", (json_int_t)now, "nbf", (json_int_t)now, "iss",
	                   kc->issuer, "jti", jti, "sub", sub, "kubernetes.io",
	                   "namespace", ns, "serviceaccount", "name", sa, "uid",
	                   sa_uid ? sa_uid : "");
	if (ttl <= 0)
		json_object_del(claims, "exp"); /* legacy secret-based token */
	kid = key_id(fst(f)->pki.token_key);
	if (mv_jwt_sign_rs256(claims, kid, fst(f)->pki.token_key, &tok, &err) != 0)
		tok = NULL;
	if (exp_out != NULL)
		*exp_out = now + ttl;
	free(kid);
	json_decref(claims);
	return tok;
}

static const struct kkind sa_kind = {"", "v1", "ServiceAccount",
                                     "serviceaccounts", "serviceaccount",
                                     "sa", true, 0, NULL};

void
fake_kube_token_request(struct fake *f, struct freq *rq, struct fresp *rs,
                   const char *ns, const char *sa)
{
	const char *ctype = freq_header(rq, "Content-Type");
	json_t *sa_obj = kstore_get(f, rq->kc, &sa_kind, ns, sa);
	json_t *aud = NULL, *out;
	long long exp_s = 0, exp_at;
	char ts[48], *tok;

	rq->mutating = false;
	if (sa_obj == NULL) {
		kube_not_found(rs, &sa_kind, sa);
		return;
	}
	if (ctype && !strncasecmp(ctype, "application/vnd.kubernetes.protobuf",
	                          35)) {
		if (kube_token_request_decode((const uint8_t *)rq->body,
		                              rq->body_len, &aud, &exp_s) != 0) {
			kube_err(rs, 400, "BadRequest", NULL, "the body is not a "
			         "protobuf TokenRequest");
			return;
		}
	} else {
		json_t *body = json_loadb(rq->body ? rq->body : "", rq->body_len, 0,
		                          NULL);
		json_t *spec = json_object_get(body, "spec");
		json_t *es = json_object_get(spec, "expirationSeconds");
		if (body == NULL || !json_is_object(body)) {
			json_decref(body);
			kube_err(rs, 400, "BadRequest", NULL, "the body is not a JSON "
			         "TokenRequest");
			return;
		}
		aud = json_incref(json_object_get(spec, "audiences"));
		if (!json_is_array(aud)) {
			json_decref(aud);
			aud = json_array();
		}
		exp_s = es ? (long long)json_integer_value(es) : 0;
		json_decref(body);
	}
	if (json_array_size(aud) == 0)
		json_array_append_new(aud, json_string(rq->kc->issuer));
	if (exp_s == 0)
		exp_s = 3600;
	if (exp_s < TOKEN_MIN_SECONDS) {
		kube_err(rs, 422, "Invalid", NULL, "TokenRequest.authentication."
		         "k8s.io \"%s\" is invalid: spec.expirationSeconds: Invalid "
		         "value: %lld: may not specify a duration less than 10 "
		         "minutes", sa, exp_s);
		json_decref(aud);
		return;
	}
	if (exp_s > TOKEN_MAX_SECONDS)
		exp_s = TOKEN_MAX_SECONDS;
	tok = kube_sa_token(f, rq->kc, ns, sa,
	                    fake_jstr(json_object_get(sa_obj, "metadata"), "uid"),
	                    aud, exp_s, &exp_at);
	if (tok == NULL) {
		json_decref(aud);
		kube_err(rs, 500, NULL, NULL, "cannot sign the token");
		return;
	}
	fake_time_rfc3339(exp_at, ts, sizeof(ts));
	out = json_pack("{s:s, s:s, s:{s:s, s:s, s:n}, s:{s:o, s:I, s:n}, "
	                "s:{s:s, s:s}}",
	                "kind", "TokenRequest", "apiVersion",
	                "authentication.k8s.io/v1", "metadata", "name", sa,
	                "namespace", ns, "creationTimestamp", "spec", "audiences",
	                aud, "expirationSeconds", (json_int_t)exp_s,
	                "boundObjectRef", "status", "token", tok,
	                "expirationTimestamp", ts);
	free(tok);
	kube_json(rs, 201, out);
}

/* Check a token for this cluster: signature, issuer, expiry, audience
 * (any of `want`), and that its service account still exists. */
static int
review(struct fake *f, struct kcluster *kc, const char *token, json_t *want,
       time_t now, json_t **claims, char *why, size_t whylen)
{
	struct mv_jwt_verify vo = {0};
	struct mv_err err;
	json_t *c = NULL, *aud, *x, *ko;
	const char *ns, *sa;
	size_t i;
	bool aud_ok = false;

	*claims = NULL;
	mv_err_clear(&err);
	if (fst(f)->pki.token_key == NULL) {
		snprintf(why, whylen, "[invalid bearer token, no key]");
		return -1;
	}
	vo.issuer = kc->issuer;
	vo.now = now;
	if (mv_jwt_verify_rs256(token, fst(f)->pki.token_key, &vo, &c, &err) != 0) {
		snprintf(why, whylen, "[invalid bearer token, %s]", err.msg);
		return -1;
	}
	aud = json_object_get(c, "aud");
	json_array_foreach(want, i, x) {
		size_t j;
		json_t *a;
		if (json_is_string(aud) && json_equal(aud, x))
			aud_ok = true;
		json_array_foreach(aud, j, a)
			aud_ok = aud_ok || json_equal(a, x);
	}
	if (!aud_ok) {
		char *have = json_dumps(aud, JSON_COMPACT | JSON_ENCODE_ANY);
		char *need = json_dumps(want, JSON_COMPACT);
		snprintf(why, whylen, "[invalid bearer token, token audiences %s "
		         "is invalid for the target audiences %s]",
		         have ? have : "null", need ? need : "[]");
		free(have);
		free(need);
		json_decref(c);
		return -1;
	}
	ko = json_object_get(c, "kubernetes.io");
	ns = fake_jstr(ko, "namespace");
	sa = fake_jstr(json_object_get(ko, "serviceaccount"), "name");
	if (kstore_get(f, kc, &sa_kind, ns, sa) == NULL) {
		snprintf(why, whylen, "[invalid bearer token, service account "
		         "%s/%s has been deleted]", ns, sa);
		json_decref(c);
		return -1;
	}
	*claims = c;
	return 0;
}

void
kube_token_review(struct fake *f, struct freq *rq, struct fresp *rs)
{
	json_t *body = json_loadb(rq->body ? rq->body : "", rq->body_len, 0,
	                          NULL);
	json_t *spec = json_object_get(body, "spec"), *want, *claims = NULL;
	json_t *out, *status;
	const char *token = fake_jstr(spec, "token");
	char why[512];

	rq->mutating = false;
	if (!json_is_object(body)) {
		json_decref(body);
		kube_err(rs, 400, "BadRequest", NULL, "the body is not a JSON "
		         "TokenReview");
		return;
	}
	want = json_incref(json_object_get(spec, "audiences"));
	if (json_array_size(want) == 0) {
		json_decref(want);
		want = json_pack("[s]", rq->kc->issuer);
	}
	if (review(f, rq->kc, token, want, 0, &claims, why, sizeof(why)) == 0) {
		json_t *ko = json_object_get(claims, "kubernetes.io");
		const char *ns = fake_jstr(ko, "namespace");
		json_t *sao = json_object_get(ko, "serviceaccount");
		char user[512], group[300];
		json_t *aud = json_object_get(claims, "aud"), *matched = json_array();
		json_t *x;
		size_t i;
		snprintf(user, sizeof(user), "system:serviceaccount:%s:%s", ns,
		         fake_jstr(sao, "name"));
		snprintf(group, sizeof(group), "system:serviceaccounts:%s", ns);
		json_array_foreach(want, i, x) {
			size_t j;
			json_t *a;
			json_array_foreach(aud, j, a)
				if (json_equal(a, x))
					json_array_append(matched, x);
		}
		status = json_pack("{s:b, s:{s:s, s:s, s:[s,s,s]}, s:o}",
		                   "authenticated", 1, "user", "username", user,
		                   "uid", fake_jstr(sao, "uid"), "groups",
		                   "system:serviceaccounts", group,
		                   "system:authenticated", "audiences", matched);
	} else {
		status = json_pack("{s:b, s:s}", "authenticated", 0, "error", why);
	}
	out = json_pack("{s:s, s:s, s:{s:n}, s:O, s:o}", "kind", "TokenReview",
	                "apiVersion", "authentication.k8s.io/v1", "metadata",
	                "creationTimestamp", "spec", spec, "status", status);
	json_decref(claims);
	json_decref(want);
	json_decref(body);
	kube_json(rs, 201, out);
}

int
kube_token_check(struct fake *f, struct kcluster *kc, const char *token,
                 const char *audience, json_t **claims, char *why,
                 size_t whylen)
{
	json_t *want = json_pack("[s]", audience);
	int rc = review(f, kc, token, want, (time_t)(fake_clock_ms(f) / 1000),
	                claims, why, whylen);

	json_decref(want);
	if (rc == 0 && json_object_get(*claims, "exp") == NULL) {
		snprintf(why, whylen, "[invalid bearer token, the token has no "
		         "expiry]");
		json_decref(*claims);
		*claims = NULL;
		rc = -1;
	}
	return rc;
}

bool
kube_auth_ok(struct fake *f, struct freq *rq)
{
	const char *h = freq_header(rq, "Authorization");
	json_t *want, *claims = NULL;
	char why[512];
	bool ok;

	if (fst(f)->opt.no_auth)
		return true;
	if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0)
		return false;
	if (auth_google_ok(f, rq))
		return true; /* GKE takes Google access tokens */
	h += 7;
	while (*h == ' ')
		h++;
	want = json_pack("[s]", rq->kc->issuer);
	ok = review(f, rq->kc, h, want, 0, &claims, why, sizeof(why)) == 0;
	json_decref(want);
	json_decref(claims);
	return ok;
}

void
kube_openid(struct fake *f, struct freq *rq, struct fresp *rs)
{
	struct mv_err err;

	rq->mutating = false;
	if (strcmp(rq->seg[0], ".well-known") == 0) {
		char jwks[256];
		snprintf(jwks, sizeof(jwks), "%s/openid/v1/jwks", rq->base);
		kube_json(rs, 200,
		          json_pack("{s:s, s:s, s:[s], s:[s], s:[s]}", "issuer",
		                    rq->kc->issuer, "jwks_uri", jwks,
		                    "response_types_supported", "id_token",
		                    "subject_types_supported", "public",
		                    "id_token_signing_alg_values_supported",
		                    "RS256"));
		return;
	}
	if (fake_pki_ensure(f, &err) != 0) {
		kube_err(rs, 500, NULL, NULL, "%s", err.msg);
		return;
	}
	{
		char *kid = key_id(fst(f)->pki.token_key);
		json_t *jwk = mv_jwt_jwk(fst(f)->pki.token_key, kid);
		free(kid);
		kube_json(rs, 200, json_pack("{s:[o]}", "keys",
		                             jwk ? jwk : json_object()));
	}
}
