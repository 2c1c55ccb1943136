/* core/pki.h - keys and X.509 certificates (OpenSSL).
 *
 * What a mesh CA and a fake API server need: RSA keys, a self-signed root,
 * intermediates with a path length, leaf certificates with DNS/IP/URI
 * subject alternative names, and PEM in and out.  Every certificate gets
 * subjectKeyIdentifier, authorityKeyIdentifier (when issued), keyUsage and
 * basicConstraints (critical), as Istio's tools/certs Makefiles produce.
 * Returned EVP_PKEY / X509 objects belong to the caller (EVP_PKEY_free,
 * X509_free); returned strings are heap strings (free).
 */
#ifndef MESHVM_CORE_PKI_H
#define MESHVM_CORE_PKI_H

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "core/err.h"

/* RSA key of `bits` (2048..16384), e = 65537. */
EVP_PKEY *mv_pki_rsa_generate(int bits, struct mv_err *err);

struct mv_pki_name {
	const char *cn, *o, *ou, *l, *st, *c; /* NULL = left out */
};

enum mv_pki_kind {
	MV_PKI_CA,   /* keyCertSign + cRLSign, CA:TRUE (pathlen below) */
	MV_PKI_LEAF  /* digitalSignature + keyEncipherment, CA:FALSE */
};

struct mv_pki_cert_opts {
	struct mv_pki_name subject;
	enum mv_pki_kind kind;
	int pathlen;            /* CA only: >= 0 sets pathlen, -1 = no limit */
	time_t not_before;      /* 0 = now - 5 minutes (clock skew) */
	int days;               /* validity from not_before, > 0 */
	uint64_t serial;        /* 0 = 128 random bits */
	const char *const *dns; /* subjectAltName entries */
	size_t n_dns;
	const char *const *ips; /* IPv4 or IPv6 literals */
	size_t n_ips;
	const char *const *uris; /* e.g. spiffe://cluster.local/ns/x/sa/y */
	size_t n_uris;
	/* keyUsage as an OpenSSL config value (e.g. "critical,keyCertSign");
	 * NULL = the kind's default above.  Istio's tools/certs Makefiles
	 * give CAs digitalSignature,nonRepudiation,keyEncipherment,keyCertSign. */
	const char *key_usage;
	bool server_auth;       /* leaf extendedKeyUsage */
	bool client_auth;
};

void mv_pki_cert_opts_init(struct mv_pki_cert_opts *o);

/* A self-signed certificate for `key` (a root CA, usually). */
X509 *mv_pki_self_signed(EVP_PKEY *key, const struct mv_pki_cert_opts *o,
                         struct mv_err *err);
/* A certificate for `subject_key` (only its public half is used) signed
 * by issuer/issuer_key.  Fails if the issuer is not a CA. */
X509 *mv_pki_issue(EVP_PKEY *subject_key, X509 *issuer, EVP_PKEY *issuer_key,
                   const struct mv_pki_cert_opts *o, struct mv_err *err);

/* PEM out: private keys as PKCS#8 ("BEGIN PRIVATE KEY"), public keys as
 * SubjectPublicKeyInfo. */
char *mv_pki_key_pem(EVP_PKEY *key, struct mv_err *err);
char *mv_pki_pubkey_pem(EVP_PKEY *key, struct mv_err *err);
char *mv_pki_cert_pem(X509 *cert, struct mv_err *err);

/* PEM in: a private key (PKCS#1 or PKCS#8), a public key or certificate
 * (its key is returned), the first certificate of a PEM bundle, or all of
 * them (*certs is a malloc'd array of *n, free with mv_pki_certs_free). */
EVP_PKEY *mv_pki_key_from_pem(const char *pem, size_t len,
                              struct mv_err *err);
EVP_PKEY *mv_pki_pubkey_from_pem(const char *pem, size_t len,
                                 struct mv_err *err);
X509 *mv_pki_cert_from_pem(const char *pem, size_t len, struct mv_err *err);
int mv_pki_certs_from_pem(const char *pem, size_t len, X509 ***certs,
                          size_t *n, struct mv_err *err);
void mv_pki_certs_free(X509 **certs, size_t n);

/* Does `cert` verify against `ca` (signature, validity at `now` (0 =
 * now), CA constraints)? `chain` may hold intermediates. 0 when it does. */
int mv_pki_verify(X509 *cert, X509 *ca, X509 *const *chain, size_t n_chain,
                  time_t now, struct mv_err *err);

#endif
