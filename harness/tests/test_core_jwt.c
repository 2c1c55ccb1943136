/* test_core_jwt.c - core/base64 and core/jwt: RFC 4648 vectors, RS256
 * sign/verify, every refusal (tampering, wrong key, alg, exp, nbf, aud,
 * iss), JWKs. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/base64.h"
#include "core/jwt.h"
#include "core/pki.h"
#include "testutil.h"

static EVP_PKEY *key1, *key2;

static int
setup(void **state)
{
	(void)state;
	key1 = mv_pki_rsa_generate(2048, NULL);
	key2 = mv_pki_rsa_generate(2048, NULL);
	return key1 && key2 ? 0 : -1;
}

static int
teardown(void **state)
{
	(void)state;
	EVP_PKEY_free(key1);
	EVP_PKEY_free(key2);
	return 0;
}

static void
test_base64_vectors(void **state)
{
	static const char *const v[][2] = {
		{"", ""}, {"f", "Zg=="}, {"fo", "Zm8="}, {"foo", "Zm9v"},
		{"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"}};
	uint8_t *out;
	size_t n;

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		char *e = mv_base64_encode(v[i][0], strlen(v[i][0]));
		assert_string_equal(e, v[i][1]);
		free(e);
		assert_int_equal(mv_base64_decode(v[i][1], strlen(v[i][1]), &out,
		                                  &n), 0);
		assert_int_equal(n, strlen(v[i][0]));
		assert_memory_equal(out, v[i][0], n);
		free(out);
	}
	/* url alphabet, no padding; both directions */
	{
		const uint8_t raw[] = {0xfb, 0xff, 0xbf};
		char *e = mv_base64url_encode(raw, 3);
		assert_string_equal(e, "-_-_");
		free(e);
		e = mv_base64url_encode("f", 1);
		assert_string_equal(e, "Zg");
		free(e);
		assert_int_equal(mv_base64url_decode("Zg", 2, &out, &n), 0);
		assert_int_equal(n, 1);
		free(out);
	}
	assert_int_equal(mv_base64_decode("Zm9v!", 5, &out, &n), -1);
	assert_int_equal(mv_base64_decode("Z", 1, &out, &n), -1);
	assert_int_equal(mv_base64_decode("Zh==", 4, &out, &n), -1);
	assert_int_equal(mv_base64_decode("Zg===", 5, &out, &n), -1);
	assert_int_equal(mv_base64url_decode("+/", 2, &out, &n), -1);
}

static char *
sign(json_t *claims, EVP_PKEY *k)
{
	char *tok = NULL;
	struct mv_err err;

	mv_err_clear(&err);
	assert_int_equal(mv_jwt_sign_rs256(claims, "kid-1", k, &tok, &err), 0);
	json_decref(claims);
	return tok;
}

static void
verify_fails(const char *tok, EVP_PKEY *k, const struct mv_jwt_verify *o,
             const char *want)
{
	struct mv_err err;
	json_t *c = NULL;

	mv_err_clear(&err);
	assert_int_equal(mv_jwt_verify_rs256(tok, k, o, &c, &err), -1);
	assert_null(c);
	assert_contains(err.msg, want);
}

static void
test_sign_verify(void **state)
{
	time_t now = time(NULL);
	char *tok = sign(json_pack("{s:s, s:[s,s], s:I, s:I, s:I}", "iss", "me",
	                           "aud", "a1", "istio-ca", "iat",
	                           (json_int_t)now, "nbf", (json_int_t)now, "exp",
	                           (json_int_t)now + 600),
	                 key1);
	struct mv_jwt_verify o = {0};
	json_t *hdr, *claims;
	struct mv_err err;

	(void)state;
	mv_err_clear(&err);
	assert_int_equal(mv_jwt_decode(tok, &hdr, &claims, &err), 0);
	assert_string_equal(json_string_value(json_object_get(hdr, "alg")),
	                    "RS256");
	assert_string_equal(json_string_value(json_object_get(hdr, "kid")),
	                    "kid-1");
	json_decref(hdr);
	json_decref(claims);
	o.audience = "istio-ca";
	o.issuer = "me";
	o.require_exp = true;
	assert_int_equal(mv_jwt_verify_rs256(tok, key1, &o, &claims, &err), 0);
	assert_string_equal(json_string_value(json_object_get(claims, "iss")),
	                    "me");
	json_decref(claims);
	verify_fails(tok, key2, &o, "bad signature");
	o.audience = "other";
	verify_fails(tok, key1, &o, "audience mismatch");
	o.audience = NULL;
	o.issuer = "you";
	verify_fails(tok, key1, &o, "issuer mismatch");
	o.issuer = NULL;
	o.now = now + 700;
	verify_fails(tok, key1, &o, "token expired");
	o.leeway = 200;
	assert_int_equal(mv_jwt_verify_rs256(tok, key1, &o, NULL, &err), 0);
	o.leeway = 0;
	o.now = now - 100;
	verify_fails(tok, key1, &o, "not valid yet");
	/* tampering with the claims breaks the signature */
	{
		char *t2 = strdup(tok), *d1 = strchr(t2, '.');
		d1[2] = d1[2] == 'A' ? 'B' : 'A';
		verify_fails(t2, key1, NULL, "jwt:");
		free(t2);
	}
	verify_fails("a.b", key1, NULL, "three dot-separated parts");
	verify_fails("a.b.c.d", key1, NULL, "three dot-separated parts");
	free(tok);
}

static void
test_refuses_alg_none_and_missing_exp(void **state)
{
	/* {"alg":"none"}.{"sub":"x"}. */
	const char *none = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.";
	char *tok = sign(json_pack("{s:s}", "sub", "x"), key1);
	struct mv_jwt_verify o = {0};

	(void)state;
	verify_fails(none, key1, NULL, "algorithm must be RS256");
	o.require_exp = true;
	verify_fails(tok, key1, &o, "no exp claim");
	free(tok);
}

static void
test_jwk(void **state)
{
	json_t *jwk = mv_jwt_jwk(key1, "k");

	(void)state;
	assert_non_null(jwk);
	assert_string_equal(json_string_value(json_object_get(jwk, "kty")),
	                    "RSA");
	assert_string_equal(json_string_value(json_object_get(jwk, "e")),
	                    "AQAB");
	/* 2048-bit modulus: 256 bytes -> 342 base64url characters */
	assert_int_equal(strlen(json_string_value(json_object_get(jwk, "n"))),
	                 342);
	json_decref(jwk);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_base64_vectors),
		cmocka_unit_test(test_sign_verify),
		cmocka_unit_test(test_refuses_alg_none_and_missing_exp),
		cmocka_unit_test(test_jwk),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
