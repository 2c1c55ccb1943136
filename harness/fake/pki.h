/* harness/fake/pki.h - the fake's CA, the listeners' server certificate
 * and the service-account token key (pki.c; base layer). */
#ifndef MESHVM_FAKE_PKI_H
#define MESHVM_FAKE_PKI_H

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "core/err.h"

struct fake;

struct fake_pki {
	EVP_PKEY *ca_key;
	X509 *ca;
	char *ca_pem;
	char *tls_key_pem, *tls_cert_pem;
	EVP_PKEY *token_key;      /* signs Kubernetes service-account tokens */
	json_t *san;              /* names and IPs the server certificate
	                           * carries besides localhost and 127.0.0.1
	                           * (--tls-san, the --listen address) */
};

/* Make what is missing (a fake with none shares one per process: RSA
 * key generation is slow, and tests start many fakes). */
int fake_pki_ensure(struct fake *f, struct mv_err *err);
/* Base64 of the CA's PEM (heap), NULL before fake_pki_ensure. */
char *fake_ca_b64(struct fake *f);
/* Read DIR/ca.pem, ca-key.pem, tls.pem, tls-key.pem, token-key.pem;
 * nothing there is no error (made on first use). */
int fake_pki_load(struct fake_pki *p, const char *dir, struct mv_err *err);
/* Write them to DIR, mode 0600. */
int fake_pki_save(const struct fake_pki *p, const char *dir,
                  struct mv_err *err);
void fake_pki_free(struct fake_pki *p);

#endif
