/* test_mesh_ca.c - cluster/mesh_ca: the layout of Istio's
 * Makefile.selfsigned.mk, openssl-verifiable chains, the extensions of
 * tools/certs/common.mk, the cacerts Secret, and refusals (lost keys,
 * foreign intermediates, loose modes, wrong chains). */
#include <jansson.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cluster/identity.h"
#include "cluster/mesh_ca.h"
#include "core/base64.h"
#include "core/pki.h"
#include "testutil.h"

static const char *const clusters[] = {"cluster1", "cluster2"};
static char *base;  /* tmp dir holding the CA made once: base/ca */

static struct mesh_ca_opts
opts(bool create)
{
	struct mesh_ca_opts o = {.create = create, .key_bits = 2048};
	return o;
}

static int
setup(void **state)
{
	struct mesh_ca *ca = NULL;
	struct mesh_ca_opts o = opts(true);
	struct mv_err err;
	char *dir;
	int rc;

	(void)state;
	base = tu_tmpdir();
	dir = tu_fmt("%s/ca", base);
	rc = mesh_ca_open(dir, clusters, 2, &o, &ca, &err);
	if (rc != 0)
		fprintf(stderr, "setup: %s\n", err.msg);
	mesh_ca_free(ca);
	free(dir);
	return rc;
}

static int
teardown(void **state)
{
	(void)state;
	tu_rmrf(base);
	free(base);
	return 0;
}

/* A private copy of the CA made in setup. */
static char *
copy_ca(const char *name)
{
	char *dir = tu_fmt("%s/%s", base, name);

	assert_int_equal(tu_sh(NULL, "rm -rf '%s' && cp -a '%s/ca' '%s'", dir,
	                       base, dir), 0);
	return dir;
}

static X509 *
load_cert(const char *path)
{
	size_t len;
	char *pem = tu_read(path, &len);
	X509 *c;

	assert_non_null(pem);
	c = mv_pki_cert_from_pem(pem, len, NULL);
	assert_non_null(c);
	free(pem);
	return c;
}

static int
mode_of(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return (int)(st.st_mode & 07777);
}

static void
test_layout_and_openssl_verify(void **state)
{
	char *out = NULL, *p;

	(void)state;
	p = tu_fmt("%s/ca", base);
	assert_int_equal(mode_of(p), 0700);
	free(p);
	p = tu_fmt("%s/ca/root-key.pem", base);
	assert_int_equal(mode_of(p), 0600);
	free(p);
	for (size_t i = 0; i < 2; i++) {
		static const char *const files[] = {"ca-cert.pem", "ca-key.pem",
		                                    "root-cert.pem",
		                                    "cert-chain.pem"};
		for (size_t f = 0; f < 4; f++) {
			p = tu_fmt("%s/ca/%s/%s", base, clusters[i], files[f]);
			assert_true(tu_exists(p));
			if (f == 1)
				assert_int_equal(mode_of(p), 0600);
			free(p);
		}
		/* The openssl CLI agrees the intermediate is issued by the
		 * root, and that cert-chain.pem verifies the same way. */
		assert_int_equal(
			tu_sh(&out,
			      "cd '%s/ca' && openssl verify -CAfile root-cert.pem "
			      "%s/ca-cert.pem && openssl verify -CAfile "
			      "%s/root-cert.pem %s/cert-chain.pem",
			      base, clusters[i], clusters[i], clusters[i]),
			0);
		assert_contains(out, "ca-cert.pem: OK");
		free(out);
	}
}

static void
test_extensions(void **state)
{
	const uint32_t want_ku = KU_DIGITAL_SIGNATURE | KU_NON_REPUDIATION |
	                         KU_KEY_ENCIPHERMENT | KU_KEY_CERT_SIGN;
	char *p, buf[256];
	X509 *root, *inter;
	GENERAL_NAMES *san;
	const GENERAL_NAME *gn;

	(void)state;
	p = tu_fmt("%s/ca/root-cert.pem", base);
	root = load_cert(p);
	free(p);
	p = tu_fmt("%s/ca/cluster2/ca-cert.pem", base);
	inter = load_cert(p);
	free(p);

	X509_NAME_oneline(X509_get_subject_name(root), buf, sizeof(buf));
	assert_string_equal(buf, "/O=Istio/CN=Root CA");
	assert_true(X509_check_ca(root) > 0);
	assert_int_equal(X509_get_pathlen(root), -1);
	assert_int_equal(X509_get_key_usage(root), want_ku);
	/* ten years */
	assert_true(ASN1_TIME_cmp_time_t(X509_get0_notAfter(root),
	                                 time(NULL) + 3649L * 86400) > 0);

	X509_NAME_oneline(X509_get_subject_name(inter), buf, sizeof(buf));
	assert_contains(buf, "O=Istio");
	assert_contains(buf, "CN=Intermediate CA");
	assert_contains(buf, "L=cluster2");
	assert_true(X509_check_ca(inter) > 0);
	assert_int_equal(X509_get_pathlen(inter), 0);
	assert_int_equal(X509_get_key_usage(inter), want_ku);
	assert_int_equal(X509_check_issued(root, inter), X509_V_OK);
	san = X509_get_ext_d2i(inter, NID_subject_alt_name, NULL, NULL);
	assert_non_null(san);
	assert_int_equal(sk_GENERAL_NAME_num(san), 1);
	gn = sk_GENERAL_NAME_value(san, 0);
	assert_int_equal(gn->type, GEN_DNS);
	assert_string_equal((const char *)ASN1_STRING_get0_data(gn->d.dNSName),
	                    "istiod.istio-system.svc");
	GENERAL_NAMES_free(san);
	X509_free(root);
	X509_free(inter);
}

static char *
secret_field(const json_t *s, const char *key)
{
	const char *b = json_string_value(
		json_object_get(json_object_get(s, "data"), key));
	uint8_t *out;
	size_t n;

	assert_non_null(b);
	assert_int_equal(mv_base64_decode(b, strlen(b), &out, &n), 0);
	return (char *)out;
}

static void
test_reopen_and_cacerts(void **state)
{
	struct mesh_ca_opts o = opts(true);
	struct mesh_ca *ca = NULL;
	struct mv_err err;
	char *dir = tu_fmt("%s/ca", base), *p, *root_before, *cert, *chain,
	     *root, *key, *disk;
	json_t *s;

	(void)state;
	p = tu_fmt("%s/root-cert.pem", dir);
	root_before = tu_read(p, NULL);
	free(p);
	/* A rerun makes nothing new. */
	assert_int_equal(mesh_ca_open(dir, clusters, 2, &o, &ca, &err), 0);
	assert_string_equal(mesh_ca_root_pem(ca), root_before);
	s = mesh_ca_cacerts_secret(ca, "cluster1", &err);
	assert_non_null(s);
	assert_string_equal(json_string_value(json_object_get(s, "kind")),
	                    "Secret");
	assert_string_equal(json_string_value(json_object_get(
		                    json_object_get(s, "metadata"), "name")),
	                    "cacerts");
	assert_string_equal(json_string_value(json_object_get(
		                    json_object_get(s, "metadata"), "namespace")),
	                    "istio-system");
	assert_int_equal(json_object_size(json_object_get(s, "data")), 4);
	cert = secret_field(s, "ca-cert.pem");
	chain = secret_field(s, "cert-chain.pem");
	root = secret_field(s, "root-cert.pem");
	key = secret_field(s, "ca-key.pem");
	assert_string_equal(root, root_before);
	/* cert-chain.pem = intermediate then root */
	p = tu_fmt("%s%s", cert, root);
	assert_string_equal(chain, p);
	free(p);
	p = tu_fmt("%s/cluster1/ca-key.pem", dir);
	disk = tu_read(p, NULL);
	assert_string_equal(key, disk);
	free(disk);
	free(p);
	p = tu_fmt("%s/cluster1/ca-cert.pem", dir);
	disk = tu_read(p, NULL);
	assert_string_equal(cert, disk);
	free(disk);
	free(p);
	assert_null(mesh_ca_cacerts_secret(ca, "cluster9", &err));
	json_decref(s);
	free(cert);
	free(chain);
	free(root);
	free(key);
	free(root_before);
	mesh_ca_free(ca);
	free(dir);
}

static void
test_user_ca_load_only(void **state)
{
	static const char *const three[] = {"cluster1", "cluster2", "cluster3"};
	struct mesh_ca_opts o = opts(false);
	struct mesh_ca *ca = NULL;
	struct mv_err err;
	char *dir = copy_ca("user"), *empty = tu_fmt("%s/empty", base);

	(void)state;
	/* The Makefile leaves 0755 directories: fine for a user's CA. */
	assert_int_equal(tu_sh(NULL, "chmod 755 '%s' '%s/cluster1'", dir, dir),
	                 0);
	assert_int_equal(mesh_ca_open(dir, clusters, 2, &o, &ca, &err), 0);
	mesh_ca_free(ca);
	/* Never creates anything in a user's CA. */
	assert_int_equal(mesh_ca_open(dir, three, 3, &o, &ca, &err), -1);
	assert_null(ca);
	assert_contains(err.msg, "cluster3");
	assert_false(tu_exists(empty));
	assert_int_equal(mesh_ca_open(empty, clusters, 2, &o, &ca, &err), -1);
	assert_false(tu_exists(empty));
	free(dir);
	free(empty);
}

static void
test_lost_root_key_is_an_error(void **state)
{
	struct mesh_ca_opts o = opts(true);
	struct mesh_ca *ca = NULL;
	struct mv_err err;
	char *dir = copy_ca("lostroot"), *p = tu_fmt("%s/root-key.pem", dir),
	     *before = tu_fmt("%s/root-cert.pem", dir), *a, *b;

	(void)state;
	a = tu_read(before, NULL);
	assert_int_equal(unlink(p), 0);
	assert_int_equal(mesh_ca_open(dir, clusters, 2, &o, &ca, &err), -1);
	assert_contains(err.msg, "root-key.pem is missing");
	assert_contains(err.msg, "restore");
	assert_contains(err.msg, "move");
	/* nothing regenerated */
	assert_false(tu_exists(p));
	b = tu_read(before, NULL);
	assert_string_equal(a, b);
	free(a);
	free(b);
	free(before);
	free(p);
	free(dir);
}

static void
test_lost_intermediate_key_is_an_error(void **state)
{
	struct mesh_ca_opts o = opts(true);
	struct mesh_ca *ca = NULL;
	struct mv_err err;
	char *dir = copy_ca("lostint"), *p = tu_fmt("%s/cluster2/ca-key.pem", dir);

	(void)state;
	assert_int_equal(unlink(p), 0);
	assert_int_equal(mesh_ca_open(dir, clusters, 2, &o, &ca, &err), -1);
	assert_contains(err.msg, "cluster2/ca-key.pem is missing");
	assert_contains(err.msg, "cluster cluster2");
	assert_false(tu_exists(p));
	/* Removing the cluster's directory, as the message says, issues a
	 * new intermediate under the same root. */
	assert_int_equal(tu_sh(NULL, "rm -rf '%s/cluster2'", dir), 0);
	assert_int_equal(mesh_ca_open(dir, clusters, 2, &o, &ca, &err), 0);
	assert_true(tu_exists(p));
	assert_int_equal(tu_sh(NULL, "cd '%s' && openssl verify -CAfile "
	                       "root-cert.pem cluster2/ca-cert.pem", dir), 0);
	mesh_ca_free(ca);
	free(p);
	free(dir);
}

static void
test_intermediates_without_root(void **state)
{
	struct mesh_ca_opts o = opts(true);
	struct mesh_ca *ca = NULL;
	struct mv_err err;
	char *dir = copy_ca("noroot");

	(void)state;
	assert_int_equal(tu_sh(NULL, "rm '%s/root-cert.pem' '%s/root-key.pem'",
	                       dir, dir), 0);
	assert_int_equal(mesh_ca_open(dir, clusters, 2, &o, &ca, &err), -1);
	assert_contains(err.msg, "has no root-cert.pem");
	free(dir);
}

static void
test_key_without_cert_is_remade(void **state)
{
	struct mesh_ca_opts o = opts(true);
	struct mesh_ca *ca = NULL;
	struct mv_err err;
	char *dir = tu_fmt("%s/crashed", base);

	(void)state;
	/* A crash between writing the key and its certificate. */
	assert_int_equal(tu_sh(NULL, "mkdir -m 700 '%s' && cp '%s/ca/"
	                       "root-key.pem' '%s/'", dir, base, dir), 0);
	assert_int_equal(mesh_ca_open(dir, clusters, 1, &o, &ca, &err), 0);
	assert_int_equal(tu_sh(NULL, "cd '%s' && openssl verify -CAfile "
	                       "root-cert.pem cluster1/ca-cert.pem", dir), 0);
	mesh_ca_free(ca);
	free(dir);
}

static void
test_foreign_intermediate_refused(void **state)
{
	static const char *const one[] = {"cluster1"};
	struct mesh_ca_opts o = opts(true);
	struct mesh_ca *ca = NULL;
	struct mv_err err;
	char *dir = copy_ca("foreign"), *other = tu_fmt("%s/other", base);

	(void)state;
	/* A second, unrelated CA; put its cluster1 into ours. */
	assert_int_equal(mesh_ca_open(other, one, 1, &o, &ca, &err), 0);
	mesh_ca_free(ca);
	assert_int_equal(tu_sh(NULL, "cp '%s/cluster1/ca-cert.pem' "
	                       "'%s/cluster1/ca-key.pem' '%s/cluster1/'",
	                       other, other, dir), 0);
	assert_int_equal(mesh_ca_open(dir, clusters, 2, &o, &ca, &err), -1);
	assert_contains(err.msg, "does not chain");
	o.create = false;
	assert_int_equal(mesh_ca_open(dir, clusters, 2, &o, &ca, &err), -1);
	assert_contains(err.msg, "does not chain");
	free(other);
	free(dir);
}

static void
test_bad_chain_and_modes(void **state)
{
	struct mesh_ca_opts o = opts(false);
	struct mesh_ca *ca = NULL;
	struct mv_err err;
	char *dir = copy_ca("badchain");

	(void)state;
	/* root then intermediate: the wrong order */
	assert_int_equal(tu_sh(NULL, "cd '%s/cluster1' && cat root-cert.pem "
	                       "ca-cert.pem > cert-chain.pem", dir), 0);
	assert_int_equal(mesh_ca_open(dir, clusters, 2, &o, &ca, &err), -1);
	assert_contains(err.msg, "cert-chain.pem: certificate 1 is not the "
	                "intermediate");
	assert_int_equal(tu_sh(NULL, "cd '%s/cluster1' && cat ca-cert.pem "
	                       "root-cert.pem > cert-chain.pem", dir), 0);
	assert_int_equal(mesh_ca_open(dir, clusters, 2, &o, &ca, &err), 0);
	mesh_ca_free(ca);
	/* a world-readable key */
	assert_int_equal(tu_sh(NULL, "chmod 644 '%s/root-key.pem'", dir), 0);
	assert_int_equal(mesh_ca_open(dir, clusters, 2, &o, &ca, &err), -1);
	assert_contains(err.msg, "chmod 600");
	/* a loose directory of our own */
	assert_int_equal(tu_sh(NULL, "chmod 600 '%s/root-key.pem' && chmod 755 "
	                       "'%s'", dir, dir), 0);
	o.create = true;
	assert_int_equal(mesh_ca_open(dir, clusters, 2, &o, &ca, &err), -1);
	assert_contains(err.msg, "chmod 700");
	/* bad names */
	{
		static const char *const bad[] = {"../x"};
		assert_int_equal(mesh_ca_open(dir, bad, 1, &o, &ca, &err), -1);
		assert_contains(err.msg, "DNS-1123");
	}
	free(dir);
}

/* The VM's root-cert.pem (identity) is the root the clusters' cacerts
 * carry: the identity step writes what istio-ca-root-cert holds, and
 * istiod fills that from cacerts' root-cert.pem. */
static void
test_identity_root_is_cacerts_root(void **state)
{
	struct mesh_ca_opts o = opts(false);
	struct mesh_ca *ca = NULL;
	struct identity_files f;
	struct identity_in in = {0};
	struct mv_err err;
	char *dir = tu_fmt("%s/ca", base), *root;
	json_t *s, *wg = json_pack(
		"{s:s, s:s, s:{s:s, s:s}, s:{s:{s:s, s:s}}}", "apiVersion",
		"networking.istio.io/v1", "kind", "WorkloadGroup", "metadata",
		"name", "productcatalogservice", "namespace", "default", "spec",
		"template", "serviceAccount", "productcatalogservice", "network",
		"vm-network");

	(void)state;
	assert_int_equal(mesh_ca_open(dir, clusters, 2, &o, &ca, &err), 0);
	s = mesh_ca_cacerts_secret(ca, "cluster1", &err);
	root = secret_field(s, "root-cert.pem");
	in.workload_group = wg;
	in.mesh_config = "trustDomain: cluster.local\n";
	in.cluster_id = "cluster1";
	in.root_cert_pem = root;
	assert_int_equal(identity_render(&in, &f, &err), 0);
	assert_string_equal(f.root_cert, root);
	assert_string_equal(f.root_cert, mesh_ca_root_pem(ca));
	assert_int_equal(tu_sh(NULL, "printf '%%s' '%s' | openssl x509 -noout "
	                       "-subject | grep -q 'CN *= *Root CA'", f.root_cert),
	                 0);
	identity_files_free(&f);
	free(root);
	json_decref(s);
	json_decref(wg);
	mesh_ca_free(ca);
	free(dir);
}

static void
test_recorded_root(void **state)
{
	struct mesh_ca_opts o = opts(true);
	struct mesh_ca *ca = NULL;
	struct mv_err err;
	char *dir = copy_ca("recorded"), *fp, *out = NULL, *colons;
	size_t j = 0;

	(void)state;
	assert_int_equal(mesh_ca_open(dir, clusters, 2, &o, &ca, &err), 0);
	fp = strdup(mesh_ca_root_sha256(ca));
	mesh_ca_free(ca);
	/* the same digest openssl shows */
	assert_int_equal(tu_sh(&out, "openssl x509 -noout -fingerprint "
	                       "-sha256 -in '%s/root-cert.pem'", dir), 0);
	colons = strchr(out, '=');
	assert_non_null(colons);
	for (colons++; *colons && *colons != '\n'; colons++)
		if (*colons != ':') {
			char c = *colons >= 'A' && *colons <= 'F'
			                 ? (char)(*colons - 'A' + 'a')
			                 : *colons;
			assert_int_equal(c, fp[j++]);
		}
	assert_int_equal(j, 64);
	free(out);
	o.expect_root_sha256 = fp;
	assert_int_equal(mesh_ca_open(dir, clusters, 2, &o, &ca, &err), 0);
	mesh_ca_free(ca);
	/* the whole directory gone: no silent new root */
	assert_int_equal(tu_sh(NULL, "rm -rf '%s'", dir), 0);
	assert_int_equal(mesh_ca_open(dir, clusters, 2, &o, &ca, &err), -1);
	assert_contains(err.msg, "is gone, but meshvm's state records root");
	assert_false(tu_exists(dir)); /* nothing made */
	/* an emptied directory, the same */
	assert_int_equal(tu_sh(NULL, "mkdir -m 700 '%s'", dir), 0);
	assert_int_equal(mesh_ca_open(dir, clusters, 2, &o, &ca, &err), -1);
	assert_contains(err.msg, "no root-cert.pem, but meshvm's state");
	assert_int_equal(tu_dir_count(dir), 0);
	/* another CA in its place */
	free(dir);
	dir = tu_fmt("%s/ca", base);
	o.expect_root_sha256 = "0000000000000000000000000000000000000000000000"
	                       "000000000000000000";
	assert_int_equal(mesh_ca_open(dir, clusters, 2, &o, &ca, &err), -1);
	assert_contains(err.msg, "records root 0000");
	free(fp);
	free(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_layout_and_openssl_verify),
		cmocka_unit_test(test_extensions),
		cmocka_unit_test(test_reopen_and_cacerts),
		cmocka_unit_test(test_identity_root_is_cacerts_root),
		cmocka_unit_test(test_user_ca_load_only),
		cmocka_unit_test(test_lost_root_key_is_an_error),
		cmocka_unit_test(test_lost_intermediate_key_is_an_error),
		cmocka_unit_test(test_intermediates_without_root),
		cmocka_unit_test(test_key_without_cert_is_remade),
		cmocka_unit_test(test_foreign_intermediate_refused),
		cmocka_unit_test(test_bad_chain_and_modes),
		cmocka_unit_test(test_recorded_root),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
