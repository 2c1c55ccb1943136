/* core/pki.c - keys and certificates (see pki.h). */
#include "core/pki.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>

/* The newest OpenSSL error as text, for messages (clears the queue). */
static const char *
ossl_reason(char *buf, size_t len)
{
	unsigned long e = ERR_peek_last_error();

	if (e == 0)
		snprintf(buf, len, "unknown OpenSSL error");
	else
		ERR_error_string_n(e, buf, len);
	ERR_clear_error();
	return buf;
}

static int
ossl_fail(struct mv_err *err, const char *what)
{
	char buf[256];

	return mv_err_set(err, MV_EXIT_FAIL, "%s: %s", what,
	                  ossl_reason(buf, sizeof(buf)));
}

EVP_PKEY *
mv_pki_rsa_generate(int bits, struct mv_err *err)
{
	EVP_PKEY *k;

	if (bits < 2048 || bits > 16384) {
		mv_err_set(err, MV_EXIT_FAIL, "rsa: key size %d out of range "
		           "(2048..16384)", bits);
		return NULL;
	}
	k = EVP_RSA_gen((unsigned)bits);
	if (k == NULL)
		ossl_fail(err, "rsa key generation");
	return k;
}

void
mv_pki_cert_opts_init(struct mv_pki_cert_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->kind = MV_PKI_LEAF;
	o->pathlen = -1;
	o->days = 365;
}

static int
name_add(X509_NAME *n, const char *field, const char *v)
{
	if (v == NULL)
		return 0;
	return X509_NAME_add_entry_by_txt(n, field, MBSTRING_UTF8,
	                                  (const unsigned char *)v, -1, -1, 0) ==
	               1 ? 0 : -1;
}

static X509_NAME *
make_name(const struct mv_pki_name *nm)
{
	X509_NAME *n = X509_NAME_new();

	if (n == NULL)
		return NULL;
	if (name_add(n, "C", nm->c) || name_add(n, "ST", nm->st) ||
	    name_add(n, "L", nm->l) || name_add(n, "O", nm->o) ||
	    name_add(n, "OU", nm->ou) || name_add(n, "CN", nm->cn)) {
		X509_NAME_free(n);
		return NULL;
	}
	return n;
}

static int
add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (ext == NULL)
		return -1;
	ok = X509_add_ext(cert, ext, -1);
	X509_EXTENSION_free(ext);
	return ok == 1 ? 0 : -1;
}

static int
add_gen_name(GENERAL_NAMES *gens, int type, const char *value)
{
	GENERAL_NAME *g = GENERAL_NAME_new();
	ASN1_IA5STRING *s;

	if (g == NULL)
		return -1;
	if (type == GEN_IPADD) {
		ASN1_OCTET_STRING *ip = a2i_IPADDRESS(value);
		if (ip == NULL) {
			GENERAL_NAME_free(g);
			return -1;
		}
		GENERAL_NAME_set0_value(g, GEN_IPADD, ip);
	} else {
		s = ASN1_IA5STRING_new();
		if (s == NULL || ASN1_STRING_set(s, value, -1) != 1) {
			ASN1_IA5STRING_free(s);
			GENERAL_NAME_free(g);
			return -1;
		}
		GENERAL_NAME_set0_value(g, type, s);
	}
	if (sk_GENERAL_NAME_push(gens, g) == 0) {
		GENERAL_NAME_free(g);
		return -1;
	}
	return 0;
}

static int
add_san(X509 *cert, const struct mv_pki_cert_opts *o, struct mv_err *err)
{
	GENERAL_NAMES *gens;
	int rc = 0;

	if (o->n_dns + o->n_ips + o->n_uris == 0)
		return 0;
	gens = sk_GENERAL_NAME_new_null();
	if (gens == NULL)
		return ossl_fail(err, "subjectAltName");
	for (size_t i = 0; i < o->n_dns && rc == 0; i++)
		rc = add_gen_name(gens, GEN_DNS, o->dns[i]);
	for (size_t i = 0; i < o->n_ips && rc == 0; i++) {
		rc = add_gen_name(gens, GEN_IPADD, o->ips[i]);
		if (rc != 0) {
			sk_GENERAL_NAME_pop_free(gens, GENERAL_NAME_free);
			return mv_err_set(err, MV_EXIT_FAIL, "subjectAltName: '%s' "
			                  "is not an IP address", o->ips[i]);
		}
	}
	for (size_t i = 0; i < o->n_uris && rc == 0; i++)
		rc = add_gen_name(gens, GEN_URI, o->uris[i]);
	/* Critical when the subject is empty (RFC 5280 4.2.1.6). */
	if (rc == 0 &&
	    X509_add1_ext_i2d(cert, NID_subject_alt_name, gens,
	                      o->subject.cn == NULL && o->subject.o == NULL,
	                      X509V3_ADD_DEFAULT) != 1)
		rc = -1;
	sk_GENERAL_NAME_pop_free(gens, GENERAL_NAME_free);
	return rc == 0 ? 0 : ossl_fail(err, "subjectAltName");
}

static int
set_serial(X509 *cert, uint64_t serial)
{
	BIGNUM *bn = BN_new();
	unsigned char raw[16];
	int ok;

	if (bn == NULL)
		return -1;
	if (serial != 0) {
		ok = BN_set_word(bn, serial);
	} else {
		/* 127 random bits: positive and at most 16 bytes encoded. */
		ok = RAND_bytes(raw, sizeof(raw)) == 1;
		raw[0] &= 0x7f;
		raw[0] |= 0x40;
		ok = ok && BN_bin2bn(raw, sizeof(raw), bn) != NULL;
	}
	ok = ok && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)) != NULL;
	BN_free(bn);
	return ok ? 0 : -1;
}

/* Build and sign; issuer == NULL means self-signed with `key`. */
static X509 *
make_cert(EVP_PKEY *key, X509 *issuer, EVP_PKEY *signer,
          const struct mv_pki_cert_opts *o, struct mv_err *err)
{
	X509 *cert = X509_new();
	X509_NAME *subj = NULL;
	time_t nb = o->not_before ? o->not_before : time(NULL) - 300;
	char bc[64];

	if (cert == NULL) {
		ossl_fail(err, "certificate");
		return NULL;
	}
	if (o->days <= 0) {
		mv_err_set(err, MV_EXIT_FAIL, "certificate: validity must be at "
		           "least one day");
		goto fail;
	}
	subj = make_name(&o->subject);
	if (subj == NULL || X509_set_version(cert, 2) != 1 ||
	    set_serial(cert, o->serial) != 0 ||
	    X509_set_subject_name(cert, subj) != 1 ||
	    X509_set_issuer_name(cert, issuer ? X509_get_subject_name(issuer)
	                                      : subj) != 1 ||
	    X509_time_adj_ex(X509_getm_notBefore(cert), 0, 0, &nb) == NULL ||
	    X509_time_adj_ex(X509_getm_notAfter(cert), o->days, 0, &nb) ==
	            NULL ||
	    X509_set_pubkey(cert, key) != 1) {
		ossl_fail(err, "certificate fields");
		goto fail;
	}
	if (o->kind == MV_PKI_CA) {
		if (o->pathlen >= 0)
			snprintf(bc, sizeof(bc), "critical,CA:TRUE,pathlen:%d",
			         o->pathlen);
		else
			snprintf(bc, sizeof(bc), "critical,CA:TRUE");
	} else {
		snprintf(bc, sizeof(bc), "critical,CA:FALSE");
	}
	/* The issuer context must see the new cert as issuer when
	 * self-signed, so the AKI is computed from its own SKI. */
	if (add_ext(cert, issuer ? issuer : cert, NID_basic_constraints, bc) ||
	    add_ext(cert, issuer ? issuer : cert, NID_key_usage,
	            o->key_usage ? o->key_usage
	            : o->kind == MV_PKI_CA
	                    ? "critical,keyCertSign,cRLSign,digitalSignature"
	                    : "critical,digitalSignature,keyEncipherment") ||
	    add_ext(cert, issuer ? issuer : cert, NID_subject_key_identifier,
	            "hash") ||
	    (issuer != NULL && add_ext(cert, issuer, NID_authority_key_identifier,
	                               "keyid:always"))) {
		ossl_fail(err, "certificate extensions");
		goto fail;
	}
	if (o->kind == MV_PKI_LEAF && (o->server_auth || o->client_auth)) {
		const char *eku = o->server_auth && o->client_auth
		                          ? "serverAuth,clientAuth"
		                  : o->server_auth ? "serverAuth" : "clientAuth";
		if (add_ext(cert, issuer ? issuer : cert, NID_ext_key_usage, eku)) {
			ossl_fail(err, "extendedKeyUsage");
			goto fail;
		}
	}
	if (add_san(cert, o, err) != 0)
		goto fail;
	if (X509_sign(cert, signer, EVP_sha256()) == 0) {
		ossl_fail(err, "certificate signature");
		goto fail;
	}
	X509_NAME_free(subj);
	return cert;
fail:
	X509_NAME_free(subj);
	X509_free(cert);
	return NULL;
}

X509 *
mv_pki_self_signed(EVP_PKEY *key, const struct mv_pki_cert_opts *o,
                   struct mv_err *err)
{
	return make_cert(key, NULL, key, o, err);
}

X509 *
mv_pki_issue(EVP_PKEY *subject_key, X509 *issuer, EVP_PKEY *issuer_key,
             const struct mv_pki_cert_opts *o, struct mv_err *err)
{
	if (issuer == NULL || issuer_key == NULL) {
		mv_err_set(err, MV_EXIT_FAIL, "certificate: issuer and its key "
		           "are required");
		return NULL;
	}
	if (X509_check_ca(issuer) == 0) {
		mv_err_set(err, MV_EXIT_FAIL, "certificate: the issuer is not a "
		           "CA");
		return NULL;
	}
	if (X509_check_private_key(issuer, issuer_key) != 1) {
		ERR_clear_error();
		mv_err_set(err, MV_EXIT_FAIL, "certificate: the issuer key does "
		           "not match the issuer certificate");
		return NULL;
	}
	return make_cert(subject_key, issuer, issuer_key, o, err);
}

/* Drain a memory BIO into a heap string. */
static char *
bio_string(BIO *b)
{
	char *data, *s;
	long n = BIO_get_mem_data(b, &data);

	if (n < 0)
		return NULL;
	s = malloc((size_t)n + 1);
	if (s != NULL) {
		memcpy(s, data, (size_t)n);
		s[n] = '\0';
	}
	return s;
}

char *
mv_pki_key_pem(EVP_PKEY *key, struct mv_err *err)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *s = NULL;

	if (b != NULL &&
	    PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL) == 1)
		s = bio_string(b);
	if (s == NULL)
		ossl_fail(err, "private key PEM");
	BIO_free(b);
	return s;
}

char *
mv_pki_pubkey_pem(EVP_PKEY *key, struct mv_err *err)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *s = NULL;

	if (b != NULL && PEM_write_bio_PUBKEY(b, key) == 1)
		s = bio_string(b);
	if (s == NULL)
		ossl_fail(err, "public key PEM");
	BIO_free(b);
	return s;
}

char *
mv_pki_cert_pem(X509 *cert, struct mv_err *err)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *s = NULL;

	if (b != NULL && PEM_write_bio_X509(b, cert) == 1)
		s = bio_string(b);
	if (s == NULL)
		ossl_fail(err, "certificate PEM");
	BIO_free(b);
	return s;
}

static BIO *
mem_bio(const char *pem, size_t len)
{
	if (len > INT32_MAX)
		return NULL;
	return BIO_new_mem_buf(pem, (int)len);
}

EVP_PKEY *
mv_pki_key_from_pem(const char *pem, size_t len, struct mv_err *err)
{
	BIO *b = mem_bio(pem, len);
	EVP_PKEY *k = NULL;

	if (b != NULL)
		k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
	BIO_free(b);
	if (k == NULL)
		ossl_fail(err, "no PEM private key");
	return k;
}

EVP_PKEY *
mv_pki_pubkey_from_pem(const char *pem, size_t len, struct mv_err *err)
{
	BIO *b = mem_bio(pem, len);
	EVP_PKEY *k = NULL;
	X509 *c;

	if (b != NULL)
		k = PEM_read_bio_PUBKEY(b, NULL, NULL, NULL);
	BIO_free(b);
	if (k == NULL) {
		ERR_clear_error();
		c = mv_pki_cert_from_pem(pem, len, NULL);
		if (c != NULL)
			k = X509_get_pubkey(c);
		X509_free(c);
	}
	if (k == NULL) {
		ERR_clear_error();
		k = mv_pki_key_from_pem(pem, len, NULL);
	}
	if (k == NULL)
		ossl_fail(err, "no PEM public key, certificate or private key");
	return k;
}

X509 *
mv_pki_cert_from_pem(const char *pem, size_t len, struct mv_err *err)
{
	BIO *b = mem_bio(pem, len);
	X509 *c = NULL;

	if (b != NULL)
		c = PEM_read_bio_X509(b, NULL, NULL, NULL);
	BIO_free(b);
	if (c == NULL)
		ossl_fail(err, "no PEM certificate");
	return c;
}

void
mv_pki_certs_free(X509 **certs, size_t n)
{
	for (size_t i = 0; certs != NULL && i < n; i++)
		X509_free(certs[i]);
	free(certs);
}

int
mv_pki_certs_from_pem(const char *pem, size_t len, X509 ***certs, size_t *n,
                      struct mv_err *err)
{
	BIO *b = mem_bio(pem, len);
	X509 **v = NULL, *c;
	size_t cnt = 0;

	*certs = NULL;
	*n = 0;
	if (b == NULL)
		return ossl_fail(err, "PEM");
	while ((c = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
		X509 **nv = realloc(v, (cnt + 1) * sizeof(*v));
		if (nv == NULL) {
			X509_free(c);
			mv_pki_certs_free(v, cnt);
			BIO_free(b);
			return mv_err_set(err, MV_EXIT_FAIL, "out of memory");
		}
		v = nv;
		v[cnt++] = c;
	}
	ERR_clear_error(); /* the read that ended the loop */
	BIO_free(b);
	if (cnt == 0)
		return mv_err_set(err, MV_EXIT_FAIL, "no PEM certificate");
	*certs = v;
	*n = cnt;
	return 0;
}

int
mv_pki_verify(X509 *cert, X509 *ca, X509 *const *chain, size_t n_chain,
              time_t now, struct mv_err *err)
{
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	STACK_OF(X509) *untrusted = sk_X509_new_null();
	int rc = -1;

	if (store == NULL || ctx == NULL || untrusted == NULL ||
	    X509_STORE_add_cert(store, ca) != 1) {
		ossl_fail(err, "verify");
		goto done;
	}
	for (size_t i = 0; i < n_chain; i++)
		sk_X509_push(untrusted, chain[i]);
	if (X509_STORE_CTX_init(ctx, store, cert, untrusted) != 1) {
		ossl_fail(err, "verify");
		goto done;
	}
	if (now != 0)
		X509_STORE_CTX_set_time(ctx, 0, now);
	if (X509_verify_cert(ctx) == 1) {
		rc = 0;
	} else {
		mv_err_set(err, MV_EXIT_VERIFY, "certificate does not verify: %s",
		           X509_verify_cert_error_string(
		                   X509_STORE_CTX_get_error(ctx)));
		ERR_clear_error();
	}
done:
	sk_X509_free(untrusted);
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	return rc;
}
