/* core/jwt.h - RS256 JSON Web Tokens (RFC 7519 / RFC 7515 compact form).
 *
 * Used for Google service-account assertions (the OAuth JWT-bearer grant),
 * Kubernetes service-account tokens (TokenRequest) and their verification.
 * Only RS256 is produced and accepted: a token whose header names another
 * algorithm ("none", HS256, ...) is refused before any key is touched.
 * Claims are jansson objects; base64url lives in core/base64.h.
 */
#ifndef MESHVM_CORE_JWT_H
#define MESHVM_CORE_JWT_H

#include <jansson.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <time.h>

#include "core/err.h"

/* Sign `claims` with an RSA private key.  `kid` (may be NULL) goes into
 * the header next to {"alg":"RS256","typ":"JWT"}.  *out is a heap string
 * (caller frees). */
int mv_jwt_sign_rs256(const json_t *claims, const char *kid, EVP_PKEY *key,
                      char **out, struct mv_err *err);

struct mv_jwt_verify {
	time_t now;           /* 0 = time(NULL) */
	int leeway;           /* seconds of clock skew allowed on exp/nbf/iat */
	const char *audience; /* NULL = do not check; else must be in aud */
	const char *issuer;   /* NULL = do not check */
	bool require_exp;     /* refuse a token without exp */
};

/* Split and decode a token without checking anything (for logs and for
 * picking the key by kid/iss).  Both outputs are new references; either
 * pointer may be NULL. */
int mv_jwt_decode(const char *token, json_t **header, json_t **claims,
                  struct mv_err *err);

/* Verify signature (RS256 with `key`, public or private), then exp, nbf,
 * aud and iss per `opts` (NULL = signature + exp/nbf only).  On success
 * *claims (may be NULL) receives the claims.  Messages say which check
 * failed: "bad signature", "token expired", "audience mismatch", ... */
int mv_jwt_verify_rs256(const char *token, EVP_PKEY *key,
                        const struct mv_jwt_verify *opts, json_t **claims,
                        struct mv_err *err);

/* The public half of an RSA key as a JWK {"kty":"RSA","alg":"RS256",
 * "use":"sig","kid":kid,"n":…,"e":…} (for /openid/v1/jwks). */
json_t *mv_jwt_jwk(EVP_PKEY *key, const char *kid);

#endif
