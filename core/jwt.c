/* core/jwt.c - RS256 JWTs (see jwt.h). */
#include "core/jwt.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <stdlib.h>
#include <string.h>

#include "core/base64.h"

static char *
b64url_json(const json_t *v)
{
	char *s = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER);
	char *out;

	if (s == NULL)
		return NULL;
	out = mv_base64url_encode(s, strlen(s));
	free(s);
	return out;
}

int
mv_jwt_sign_rs256(const json_t *claims, const char *kid, EVP_PKEY *key,
                  char **out, struct mv_err *err)
{
	json_t *hdr;
	char *h64 = NULL, *c64 = NULL, *input = NULL, *s64 = NULL;
	unsigned char *sig = NULL;
	size_t siglen = 0;
	EVP_MD_CTX *md = NULL;
	int rc = -1;

	*out = NULL;
	if (!json_is_object(claims) || key == NULL)
		return mv_err_set(err, MV_EXIT_FAIL, "jwt: claims must be an "
		                  "object and a key is needed");
	hdr = json_pack("{s:s, s:s}", "alg", "RS256", "typ", "JWT");
	if (kid != NULL)
		json_object_set_new(hdr, "kid", json_string(kid));
	h64 = b64url_json(hdr);
	c64 = b64url_json(claims);
	json_decref(hdr);
	if (h64 == NULL || c64 == NULL ||
	    asprintf(&input, "%s.%s", h64, c64) < 0) {
		input = NULL;
		mv_err_set(err, MV_EXIT_FAIL, "jwt: out of memory");
		goto done;
	}
	md = EVP_MD_CTX_new();
	if (md == NULL ||
	    EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) != 1 ||
	    EVP_DigestSign(md, NULL, &siglen, (unsigned char *)input,
	                   strlen(input)) != 1 ||
	    (sig = malloc(siglen)) == NULL ||
	    EVP_DigestSign(md, sig, &siglen, (unsigned char *)input,
	                   strlen(input)) != 1) {
		mv_err_set(err, MV_EXIT_FAIL, "jwt: signing failed (not an RSA "
		           "private key?)");
		goto done;
	}
	s64 = mv_base64url_encode(sig, siglen);
	if (s64 == NULL || asprintf(out, "%s.%s", input, s64) < 0) {
		*out = NULL;
		mv_err_set(err, MV_EXIT_FAIL, "jwt: out of memory");
		goto done;
	}
	rc = 0;
done:
	EVP_MD_CTX_free(md);
	free(h64);
	free(c64);
	free(input);
	free(sig);
	free(s64);
	return rc;
}

/* Decode one dot-separated part as a JSON object. */
static json_t *
part_json(const char *s, size_t len)
{
	uint8_t *raw;
	size_t n;
	json_t *v;

	if (mv_base64url_decode(s, len, &raw, &n) != 0)
		return NULL;
	v = json_loadb((const char *)raw, n, JSON_REJECT_DUPLICATES, NULL);
	free(raw);
	if (v != NULL && !json_is_object(v)) {
		json_decref(v);
		return NULL;
	}
	return v;
}

/* Find the two dots; -1 unless there are exactly two. */
static int
split(const char *token, const char **d1, const char **d2)
{
	*d1 = strchr(token, '.');
	if (*d1 == NULL)
		return -1;
	*d2 = strchr(*d1 + 1, '.');
	if (*d2 == NULL || strchr(*d2 + 1, '.') != NULL)
		return -1;
	return 0;
}

int
mv_jwt_decode(const char *token, json_t **header, json_t **claims,
              struct mv_err *err)
{
	const char *d1, *d2;
	json_t *h, *c;

	if (header != NULL)
		*header = NULL;
	if (claims != NULL)
		*claims = NULL;
	if (token == NULL || split(token, &d1, &d2) != 0)
		return mv_err_set(err, MV_EXIT_VERIFY, "jwt: not a compact JWS "
		                  "(three dot-separated parts)");
	h = part_json(token, (size_t)(d1 - token));
	c = part_json(d1 + 1, (size_t)(d2 - d1 - 1));
	if (h == NULL || c == NULL) {
		json_decref(h);
		json_decref(c);
		return mv_err_set(err, MV_EXIT_VERIFY, "jwt: header or claims "
		                  "are not base64url JSON objects");
	}
	if (header != NULL)
		*header = h;
	else
		json_decref(h);
	if (claims != NULL)
		*claims = c;
	else
		json_decref(c);
	return 0;
}

/* A NumericDate claim; -1 when absent, -2 when present but not a number. */
static long long
numeric_date(const json_t *claims, const char *name)
{
	json_t *v = json_object_get(claims, name);

	if (v == NULL)
		return -1;
	if (json_is_integer(v))
		return (long long)json_integer_value(v);
	if (json_is_real(v))
		return (long long)json_real_value(v);
	return -2;
}

static bool
aud_contains(const json_t *aud, const char *want)
{
	size_t i;
	json_t *v;

	if (json_is_string(aud))
		return strcmp(json_string_value(aud), want) == 0;
	json_array_foreach(aud, i, v) {
		if (json_is_string(v) && strcmp(json_string_value(v), want) == 0)
			return true;
	}
	return false;
}

int
mv_jwt_verify_rs256(const char *token, EVP_PKEY *key,
                    const struct mv_jwt_verify *opts, json_t **claims,
                    struct mv_err *err)
{
	const char *d1, *d2;
	json_t *h = NULL, *c = NULL;
	uint8_t *sig = NULL;
	size_t siglen;
	EVP_MD_CTX *md = NULL;
	long long exp, nbf, now;
	int leeway = opts ? opts->leeway : 0;
	int rc = -1;

	if (claims != NULL)
		*claims = NULL;
	if (mv_jwt_decode(token, &h, &c, err) != 0)
		return -1;
	split(token, &d1, &d2);
	if (!json_is_string(json_object_get(h, "alg")) ||
	    strcmp(json_string_value(json_object_get(h, "alg")), "RS256")) {
		mv_err_set(err, MV_EXIT_VERIFY, "jwt: algorithm must be RS256");
		goto done;
	}
	if (mv_base64url_decode(d2 + 1, strlen(d2 + 1), &sig, &siglen) != 0) {
		mv_err_set(err, MV_EXIT_VERIFY, "jwt: signature is not base64url");
		goto done;
	}
	md = EVP_MD_CTX_new();
	if (md == NULL ||
	    EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key) != 1 ||
	    EVP_DigestVerify(md, sig, siglen, (const unsigned char *)token,
	                     (size_t)(d2 - token)) != 1) {
		mv_err_set(err, MV_EXIT_VERIFY, "jwt: bad signature");
		goto done;
	}
	now = opts && opts->now ? (long long)opts->now : (long long)time(NULL);
	exp = numeric_date(c, "exp");
	nbf = numeric_date(c, "nbf");
	if (exp == -2 || nbf == -2 || numeric_date(c, "iat") == -2) {
		mv_err_set(err, MV_EXIT_VERIFY, "jwt: exp, nbf and iat must be "
		           "numbers");
		goto done;
	}
	if (exp == -1 && opts != NULL && opts->require_exp) {
		mv_err_set(err, MV_EXIT_VERIFY, "jwt: no exp claim");
		goto done;
	}
	if (exp >= 0 && now >= exp + leeway) {
		mv_err_set(err, MV_EXIT_VERIFY, "jwt: token expired");
		goto done;
	}
	if (nbf >= 0 && now + leeway < nbf) {
		mv_err_set(err, MV_EXIT_VERIFY, "jwt: token not valid yet (nbf)");
		goto done;
	}
	if (opts != NULL && opts->audience != NULL &&
	    !aud_contains(json_object_get(c, "aud"), opts->audience)) {
		mv_err_set(err, MV_EXIT_VERIFY, "jwt: audience mismatch (want "
		           "%s)", opts->audience);
		goto done;
	}
	if (opts != NULL && opts->issuer != NULL &&
	    (!json_is_string(json_object_get(c, "iss")) ||
	     strcmp(json_string_value(json_object_get(c, "iss")),
	            opts->issuer) != 0)) {
		mv_err_set(err, MV_EXIT_VERIFY, "jwt: issuer mismatch (want %s)",
		           opts->issuer);
		goto done;
	}
	if (claims != NULL) {
		*claims = c;
		c = NULL;
	}
	rc = 0;
done:
	EVP_MD_CTX_free(md);
	free(sig);
	json_decref(h);
	json_decref(c);
	return rc;
}

static json_t *
bn_b64url(EVP_PKEY *key, const char *param)
{
	BIGNUM *bn = NULL;
	unsigned char *buf;
	char *s;
	json_t *v = NULL;
	int n;

	if (EVP_PKEY_get_bn_param(key, param, &bn) != 1)
		return NULL;
	n = BN_num_bytes(bn);
	buf = malloc((size_t)n + 1);
	if (buf != NULL) {
		BN_bn2bin(bn, buf);
		s = mv_base64url_encode(buf, (size_t)n);
		if (s != NULL)
			v = json_string(s);
		free(s);
		free(buf);
	}
	BN_free(bn);
	return v;
}

json_t *
mv_jwt_jwk(EVP_PKEY *key, const char *kid)
{
	json_t *n, *e, *jwk;

	if (key == NULL || EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA)
		return NULL;
	n = bn_b64url(key, OSSL_PKEY_PARAM_RSA_N);
	e = bn_b64url(key, OSSL_PKEY_PARAM_RSA_E);
	if (n == NULL || e == NULL) {
		json_decref(n);
		json_decref(e);
		return NULL;
	}
	jwk = json_pack("{s:s, s:s, s:s}", "kty", "RSA", "alg", "RS256", "use",
	                "sig");
	if (kid != NULL)
		json_object_set_new(jwk, "kid", json_string(kid));
	json_object_set_new(jwk, "n", n);
	json_object_set_new(jwk, "e", e);
	return jwk;
}
