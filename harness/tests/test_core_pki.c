/* test_core_pki.c - core/pki: an Istio-shaped CA hierarchy (root,
 * intermediate with pathlen 0 and a DNS SAN, leaf with DNS/IP/URI SANs),
 * chain verification, refusals, PEM round trips. */
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/pki.h"
#include "testutil.h"

static EVP_PKEY *root_key, *int_key, *leaf_key;

static int
setup(void **state)
{
	(void)state;
	root_key = mv_pki_rsa_generate(2048, NULL);
	int_key = mv_pki_rsa_generate(2048, NULL);
	leaf_key = mv_pki_rsa_generate(2048, NULL);
	return root_key && int_key && leaf_key ? 0 : -1;
}

static int
teardown(void **state)
{
	(void)state;
	EVP_PKEY_free(root_key);
	EVP_PKEY_free(int_key);
	EVP_PKEY_free(leaf_key);
	return 0;
}

static char *
ext_text(X509 *c, int nid)
{
	int i = X509_get_ext_by_NID(c, nid, -1);
	BIO *b = BIO_new(BIO_s_mem());
	char *data, *s;
	long n;

	assert_true(i >= 0);
	X509V3_EXT_print(b, X509_get_ext(c, i), 0, 0);
	n = BIO_get_mem_data(b, &data);
	s = strndup(data, (size_t)n);
	BIO_free(b);
	return s;
}

static void
test_hierarchy(void **state)
{
	static const char *const int_dns[] = {"istiod.istio-system.svc"};
	static const char *const dns[] = {"localhost"};
	static const char *const ips[] = {"127.0.0.1", "::1"};
	static const char *const uris[] = {
		"spiffe://cluster.local/ns/default/sa/default"};
	struct mv_pki_cert_opts o;
	struct mv_err err;
	X509 *root, *inter, *leaf, *chain[1];
	char *s;

	(void)state;
	mv_err_clear(&err);
	mv_pki_cert_opts_init(&o);
	o.subject.o = "Istio";
	o.subject.cn = "Root CA";
	o.kind = MV_PKI_CA;
	o.days = 3650;
	root = mv_pki_self_signed(root_key, &o, &err);
	assert_non_null(root);
	assert_int_equal(X509_check_ca(root), 1);
	mv_pki_cert_opts_init(&o);
	o.subject.o = "Istio";
	o.subject.cn = "Intermediate CA";
	o.subject.l = "cluster1";
	o.kind = MV_PKI_CA;
	o.pathlen = 0;
	o.dns = int_dns;
	o.n_dns = 1;
	inter = mv_pki_issue(int_key, root, root_key, &o, &err);
	assert_non_null(inter);
	s = ext_text(inter, NID_basic_constraints);
	assert_contains(s, "CA:TRUE");
	assert_contains(s, "pathlen:0");
	free(s);
	s = ext_text(inter, NID_subject_alt_name);
	assert_contains(s, "DNS:istiod.istio-system.svc");
	free(s);
	s = ext_text(inter, NID_authority_key_identifier);
	assert_true(strlen(s) > 10);
	free(s);
	mv_pki_cert_opts_init(&o);
	o.subject.cn = "leaf";
	o.dns = dns;
	o.n_dns = 1;
	o.ips = ips;
	o.n_ips = 2;
	o.uris = uris;
	o.n_uris = 1;
	o.server_auth = true;
	leaf = mv_pki_issue(leaf_key, inter, int_key, &o, &err);
	assert_non_null(leaf);
	s = ext_text(leaf, NID_subject_alt_name);
	assert_contains(s, "DNS:localhost");
	assert_contains(s, "IP Address:127.0.0.1");
	assert_contains(s, "IP Address:0:0:0:0:0:0:0:1");
	assert_contains(s, "URI:spiffe://cluster.local/ns/default/sa/default");
	free(s);
	assert_int_equal(X509_check_host(leaf, "localhost", 0, 0, NULL), 1);
	assert_int_equal(X509_check_ip_asc(leaf, "127.0.0.1", 0), 1);
	chain[0] = inter;
	assert_int_equal(mv_pki_verify(leaf, root, chain, 1, 0, &err), 0);
	/* without the intermediate the leaf does not verify */
	assert_int_equal(mv_pki_verify(leaf, root, NULL, 0, 0, &err), -1);
	assert_contains(err.msg, "does not verify");
	/* long after expiry */
	assert_int_equal(mv_pki_verify(leaf, root, chain, 1,
	                               time(NULL) + 400L * 86400, &err), -1);
	/* a leaf cannot issue; a key must match its certificate */
	assert_null(mv_pki_issue(leaf_key, leaf, leaf_key, &o, &err));
	assert_contains(err.msg, "not a CA");
	assert_null(mv_pki_issue(leaf_key, inter, root_key, &o, &err));
	assert_contains(err.msg, "does not match");
	X509_free(leaf);
	X509_free(inter);
	X509_free(root);
}

static void
test_pem_round_trips(void **state)
{
	struct mv_pki_cert_opts o;
	struct mv_err err;
	char *kp, *pp, *cp, *bundle;
	EVP_PKEY *k, *pub;
	X509 *c, *c2, **certs;
	size_t n;

	(void)state;
	mv_err_clear(&err);
	mv_pki_cert_opts_init(&o);
	o.subject.cn = "x";
	o.kind = MV_PKI_CA;
	c = mv_pki_self_signed(root_key, &o, &err);
	kp = mv_pki_key_pem(root_key, &err);
	pp = mv_pki_pubkey_pem(root_key, &err);
	cp = mv_pki_cert_pem(c, &err);
	assert_contains(kp, "-----BEGIN PRIVATE KEY-----");
	assert_contains(pp, "-----BEGIN PUBLIC KEY-----");
	assert_contains(cp, "-----BEGIN CERTIFICATE-----");
	k = mv_pki_key_from_pem(kp, strlen(kp), &err);
	assert_non_null(k);
	assert_int_equal(EVP_PKEY_eq(k, root_key), 1);
	pub = mv_pki_pubkey_from_pem(cp, strlen(cp), &err);
	assert_int_equal(EVP_PKEY_eq(pub, root_key), 1);
	EVP_PKEY_free(pub);
	pub = mv_pki_pubkey_from_pem(pp, strlen(pp), &err);
	assert_int_equal(EVP_PKEY_eq(pub, root_key), 1);
	EVP_PKEY_free(pub);
	c2 = mv_pki_cert_from_pem(cp, strlen(cp), &err);
	assert_int_equal(X509_cmp(c, c2), 0);
	bundle = tu_fmt("%s%s", cp, cp);
	assert_int_equal(mv_pki_certs_from_pem(bundle, strlen(bundle), &certs,
	                                       &n, &err), 0);
	assert_int_equal(n, 2);
	mv_pki_certs_free(certs, n);
	assert_null(mv_pki_key_from_pem("junk", 4, &err));
	assert_contains(err.msg, "no PEM private key");
	assert_int_equal(mv_pki_certs_from_pem("junk", 4, &certs, &n, &err), -1);
	assert_null(mv_pki_rsa_generate(1024, &err));
	free(bundle);
	free(kp);
	free(pp);
	free(cp);
	EVP_PKEY_free(k);
	X509_free(c);
	X509_free(c2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hierarchy),
		cmocka_unit_test(test_pem_round_trips),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
