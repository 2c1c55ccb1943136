/* cluster/mesh_ca.c - the mesh CA on disk (see mesh_ca.h). */
#include "cluster/mesh_ca.h"

#include <errno.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/atomic.h"
#include "core/base64.h"
#include "core/pki.h"
#include "core/sha256.h"
#include "core/util.h"
#include "core/xalloc.h"

#define PEM_MAX (256 * 1024)
#define ROOT_DAYS 3650  /* ROOTCA_DAYS */
#define INTER_DAYS 730  /* INTERMEDIATE_DAYS */
/* keyUsage of both CA certificates in tools/certs/common.mk. */
#define CA_KEY_USAGE \
	"critical,digitalSignature,nonRepudiation,keyEncipherment,keyCertSign"
#define ISTIOD_SAN "istiod.istio-system.svc"

struct mesh_inter {
	char *cluster;
	char *cert_pem, *key_pem, *chain_pem;
};

struct mesh_ca {
	char *root_pem;
	char root_sha256[MV_SHA256_HEX];
	struct mesh_inter *inter;
	size_t n;
};

void
mesh_ca_free(struct mesh_ca *ca)
{
	if (ca == NULL)
		return;
	for (size_t i = 0; i < ca->n; i++) {
		free(ca->inter[i].cluster);
		free(ca->inter[i].cert_pem);
		if (ca->inter[i].key_pem) {
			OPENSSL_cleanse(ca->inter[i].key_pem,
			                strlen(ca->inter[i].key_pem));
			free(ca->inter[i].key_pem);
		}
		free(ca->inter[i].chain_pem);
	}
	free(ca->inter);
	free(ca->root_pem);
	free(ca);
}

const char *
mesh_ca_root_pem(const struct mesh_ca *ca)
{
	return ca->root_pem;
}

const char *
mesh_ca_root_sha256(const struct mesh_ca *ca)
{
	return ca->root_sha256;
}

static int
root_digest(X509 *cert, char hex[MV_SHA256_HEX], struct mv_err *err)
{
	unsigned char *der = NULL;
	int n = i2d_X509(cert, &der);

	if (n <= 0)
		return mv_err_set(err, MV_EXIT_FAIL, "root certificate: DER "
		                  "encoding failed");
	mv_sha256_buf_hex(der, (size_t)n, hex);
	OPENSSL_free(der);
	return 0;
}

static void
free_secret(char *s)
{
	if (s) {
		OPENSSL_cleanse(s, strlen(s));
		free(s);
	}
}

/* 1 present, 0 absent, -1 error. */
static int
present(const char *path, struct mv_err *err)
{
	struct stat st;

	if (stat(path, &st) == 0) {
		if (!S_ISREG(st.st_mode))
			return mv_err_set(err, MV_EXIT_FAIL,
			                  "%s: not a regular file", path);
		return 1;
	}
	if (errno == ENOENT)
		return 0;
	return mv_err_sys(err, errno, "%s", path);
}

static int
check_key_mode(const char *path, struct mv_err *err)
{
	struct stat st;

	if (stat(path, &st) != 0)
		return mv_err_sys(err, errno, "%s", path);
	if (st.st_mode & 077)
		return mv_err_set(err, MV_EXIT_FAIL,
		                  "%s: mode %04o lets other users read a CA "
		                  "private key; run chmod 600 %s",
		                  path, (unsigned)(st.st_mode & 07777), path);
	return 0;
}

static int
ensure_dir(const char *dir, bool create, struct mv_err *err)
{
	struct stat st;

	if (stat(dir, &st) != 0) {
		if (errno != ENOENT)
			return mv_err_sys(err, errno, "%s", dir);
		if (!create)
			return mv_err_set(err, MV_EXIT_FAIL,
			                  "%s: no such CA directory", dir);
		if (mkdir(dir, 0700) != 0)
			return mv_err_sys(err, errno, "mkdir %s", dir);
		return 0;
	}
	if (!S_ISDIR(st.st_mode))
		return mv_err_set(err, MV_EXIT_FAIL, "%s: not a directory", dir);
	/* meshvm's own CA directory is private; a user's (read only
	 * here) may be laid out as the Makefile leaves it. */
	if (create && (st.st_mode & 077))
		return mv_err_set(err, MV_EXIT_FAIL,
		                  "%s: mode %04o lets other users into the CA "
		                  "directory; run chmod 700 %s",
		                  dir, (unsigned)(st.st_mode & 07777), dir);
	return 0;
}

static char *
read_pem(const char *path, struct mv_err *err)
{
	return mv_read_file(path, PEM_MAX, NULL, err);
}

static int
write_pem(const char *path, const char *pem, mode_t mode, struct mv_err *err)
{
	return mv_write_file_atomic(path, pem, strlen(pem), mode, err);
}

static bool
valid_cluster(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return false;
	return true;
}

/* Parse and check a CA certificate with its key. */
static int
load_pair(const char *cert_path, const char *cert_pem, const char *key_path,
          const char *key_pem, X509 **cert, EVP_PKEY **key,
          struct mv_err *err)
{
	*cert = mv_pki_cert_from_pem(cert_pem, strlen(cert_pem), err);
	if (*cert == NULL)
		return mv_err_prefix(err, "%s", cert_path);
	*key = mv_pki_key_from_pem(key_pem, strlen(key_pem), err);
	if (*key == NULL)
		return mv_err_prefix(err, "%s", key_path);
	if (X509_check_ca(*cert) <= 0)
		return mv_err_set(err, MV_EXIT_VERIFY,
		                  "%s: not a CA certificate (basicConstraints "
		                  "CA:TRUE missing)", cert_path);
	if (X509_check_private_key(*cert, *key) != 1)
		return mv_err_set(err, MV_EXIT_VERIFY,
		                  "%s does not belong to %s", key_path, cert_path);
	return 0;
}

static void
ca_opts(struct mv_pki_cert_opts *o, const char *cn, const char *l, int days,
        int pathlen)
{
	mv_pki_cert_opts_init(o);
	o->kind = MV_PKI_CA;
	o->subject.o = "Istio";
	o->subject.cn = cn;
	o->subject.l = l;
	o->days = days;
	o->pathlen = pathlen;
	o->key_usage = CA_KEY_USAGE;
}

struct root {
	X509 *cert;
	EVP_PKEY *key;
	char *pem;
};

static int
root_create(const char *dir, int bits, struct root *r, struct mv_err *err)
{
	struct mv_pki_cert_opts o;
	char *key_pem = NULL, *kp = mv_path_join(dir, "root-key.pem"),
	     *cp = mv_path_join(dir, "root-cert.pem");
	int rc = -1;

	ca_opts(&o, "Root CA", NULL, ROOT_DAYS, -1);
	if ((r->key = mv_pki_rsa_generate(bits, err)) == NULL ||
	    (r->cert = mv_pki_self_signed(r->key, &o, err)) == NULL ||
	    (key_pem = mv_pki_key_pem(r->key, err)) == NULL ||
	    (r->pem = mv_pki_cert_pem(r->cert, err)) == NULL)
		goto out;
	/* Key first: a key without its certificate was never handed out,
	 * so a crash in between is repaired by making both again. */
	if (write_pem(kp, key_pem, 0600, err) != 0 ||
	    write_pem(cp, r->pem, 0644, err) != 0)
		goto out;
	rc = 0;
out:
	free_secret(key_pem);
	free(kp);
	free(cp);
	return rc;
}

static int
root_open(const char *dir, const struct mesh_ca_opts *opts, int bits,
          struct root *r, struct mv_err *err)
{
	char *kp = mv_path_join(dir, "root-key.pem"),
	     *cp = mv_path_join(dir, "root-cert.pem"), *key_pem = NULL;
	int hc, hk, rc = -1;

	if ((hc = present(cp, err)) < 0 || (hk = present(kp, err)) < 0)
		goto out;
	if (hc && !hk) {
		mv_err_set(err, MV_EXIT_FAIL,
		           "%s is missing, but %s records a root that clusters "
		           "and VMs already trust; restore the key from a "
		           "backup, or move %s aside to start a new mesh CA "
		           "(then every cluster's cacerts and every VM's "
		           "root-cert.pem must be replaced)", kp, cp, dir);
		goto out;
	}
	if (!hc && opts->expect_root_sha256) {
		mv_err_set(err, MV_EXIT_FAIL,
		           "%s: no root-cert.pem, but meshvm's state records "
		           "root %s that the clusters already trust; restore the "
		           "CA directory from a backup, or run `meshvm down` "
		           "first to start a new mesh CA", dir,
		           opts->expect_root_sha256);
		goto out;
	}
	if (!hc) {
		if (!opts->create) {
			mv_err_set(err, MV_EXIT_FAIL,
			           "%s: no root-cert.pem, not a mesh CA "
			           "directory (the layout of Istio's "
			           "tools/certs/Makefile.selfsigned.mk)", dir);
			goto out;
		}
		rc = root_create(dir, bits, r, err);
		goto out;
	}
	if ((r->pem = read_pem(cp, err)) == NULL ||
	    check_key_mode(kp, err) != 0 ||
	    (key_pem = read_pem(kp, err)) == NULL ||
	    load_pair(cp, r->pem, kp, key_pem, &r->cert, &r->key, err) != 0)
		goto out;
	if (mv_pki_verify(r->cert, r->cert, NULL, 0, 0, err) != 0) {
		mv_err_prefix(err, "%s: not a valid self-signed root", cp);
		goto out;
	}
	rc = 0;
out:
	free_secret(key_pem);
	free(kp);
	free(cp);
	return rc;
}

/* Compare a PEM bundle on disk with the certificates it must hold. */
static int
check_bundle(const char *path, const char *pem, X509 *const *want,
             size_t n_want, struct mv_err *err)
{
	X509 **certs = NULL;
	size_t n = 0;
	int rc = 0;

	if (mv_pki_certs_from_pem(pem, strlen(pem), &certs, &n, err) != 0)
		return mv_err_prefix(err, "%s", path);
	if (n != n_want)
		rc = mv_err_set(err, MV_EXIT_VERIFY,
		                "%s: holds %zu certificates, expected %zu", path,
		                n, n_want);
	for (size_t i = 0; rc == 0 && i < n; i++)
		if (X509_cmp(certs[i], want[i]) != 0)
			rc = mv_err_set(err, MV_EXIT_VERIFY,
			                "%s: certificate %zu is not the %s", path,
			                i + 1,
			                i == n_want - 1 ? "root" : "intermediate");
	mv_pki_certs_free(certs, n);
	return rc;
}

static int
inter_create(const char *sub, const char *cluster, const struct root *r,
             int bits, struct mesh_inter *mi, struct mv_err *err)
{
	static const char *const san[] = {ISTIOD_SAN};
	struct mv_pki_cert_opts o;
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	char *kp = mv_path_join(sub, "ca-key.pem"),
	     *cp = mv_path_join(sub, "ca-cert.pem"),
	     *rp = mv_path_join(sub, "root-cert.pem"),
	     *chp = mv_path_join(sub, "cert-chain.pem");
	int rc = -1;

	ca_opts(&o, "Intermediate CA", cluster, INTER_DAYS, 0);
	o.dns = san;
	o.n_dns = 1;
	if ((key = mv_pki_rsa_generate(bits, err)) == NULL ||
	    (cert = mv_pki_issue(key, r->cert, r->key, &o, err)) == NULL ||
	    (mi->key_pem = mv_pki_key_pem(key, err)) == NULL ||
	    (mi->cert_pem = mv_pki_cert_pem(cert, err)) == NULL)
		goto out;
	mi->chain_pem = mv_xstrfmt("%s%s", mi->cert_pem, r->pem);
	/* The certificate last: it is the record that the key exists. */
	if (write_pem(kp, mi->key_pem, 0600, err) != 0 ||
	    write_pem(rp, r->pem, 0644, err) != 0 ||
	    write_pem(chp, mi->chain_pem, 0644, err) != 0 ||
	    write_pem(cp, mi->cert_pem, 0644, err) != 0)
		goto out;
	rc = 0;
out:
	EVP_PKEY_free(key);
	X509_free(cert);
	free(kp);
	free(cp);
	free(rp);
	free(chp);
	return rc;
}

/* Check (and, when creating, complete) the derived files of an existing
 * intermediate: root-cert.pem and cert-chain.pem. */
static int
inter_derived(const char *sub, const struct root *r, X509 *cert,
              const struct mesh_ca_opts *opts, struct mesh_inter *mi,
              struct mv_err *err)
{
	char *rp = mv_path_join(sub, "root-cert.pem"),
	     *chp = mv_path_join(sub, "cert-chain.pem"), *pem = NULL;
	X509 *chain[2] = {cert, r->cert};
	int h, rc = -1;

	mi->chain_pem = mv_xstrfmt("%s%s", mi->cert_pem, r->pem);
	if ((h = present(rp, err)) < 0)
		goto out;
	if (h) {
		if ((pem = read_pem(rp, err)) == NULL ||
		    check_bundle(rp, pem, &r->cert, 1, err) != 0)
			goto out;
		free(pem);
		pem = NULL;
	} else if (opts->create && write_pem(rp, r->pem, 0644, err) != 0) {
		goto out;
	}
	if ((h = present(chp, err)) < 0)
		goto out;
	if (h) {
		if ((pem = read_pem(chp, err)) == NULL ||
		    check_bundle(chp, pem, chain, 2, err) != 0)
			goto out;
	} else if (opts->create &&
	           write_pem(chp, mi->chain_pem, 0644, err) != 0) {
		goto out;
	}
	rc = 0;
out:
	free(pem);
	free(rp);
	free(chp);
	return rc;
}

static int
inter_open(const char *dir, const char *cluster, const struct root *r,
           const struct mesh_ca_opts *opts, int bits, struct mesh_inter *mi,
           struct mv_err *err)
{
	char *sub = mv_path_join(dir, cluster),
	     *kp = mv_path_join(sub, "ca-key.pem"),
	     *cp = mv_path_join(sub, "ca-cert.pem");
	X509 *cert = NULL;
	EVP_PKEY *key = NULL;
	int hc, hk, rc = -1;

	mi->cluster = mv_xstrdup(cluster);
	if (ensure_dir(sub, opts->create, err) != 0 ||
	    (hc = present(cp, err)) < 0 || (hk = present(kp, err)) < 0)
		goto out;
	if (hc && !hk) {
		mv_err_set(err, MV_EXIT_FAIL,
		           "%s is missing, but %s records the intermediate CA "
		           "of cluster %s; restore the key from a backup, or "
		           "remove %s so that a new intermediate is issued "
		           "under the same root (then reapply cacerts in %s and "
		           "restart istiod there)", kp, cp, cluster, sub, cluster);
		goto out;
	}
	if (!hc) {
		if (!opts->create) {
			mv_err_set(err, MV_EXIT_FAIL,
			           "%s: no ca-cert.pem for cluster %s", sub,
			           cluster);
			goto out;
		}
		rc = inter_create(sub, cluster, r, bits, mi, err);
		goto out;
	}
	if ((mi->cert_pem = read_pem(cp, err)) == NULL ||
	    check_key_mode(kp, err) != 0 ||
	    (mi->key_pem = read_pem(kp, err)) == NULL ||
	    load_pair(cp, mi->cert_pem, kp, mi->key_pem, &cert, &key, err) != 0)
		goto out;
	if (mv_pki_verify(cert, r->cert, NULL, 0, 0, err) != 0) {
		mv_err_prefix(err, "%s does not chain to %s/root-cert.pem", cp,
		              dir);
		goto out;
	}
	rc = inter_derived(sub, r, cert, opts, mi, err);
out:
	X509_free(cert);
	EVP_PKEY_free(key);
	free(sub);
	free(kp);
	free(cp);
	return rc;
}

int
mesh_ca_open(const char *dir, const char *const *clusters, size_t n_clusters,
             const struct mesh_ca_opts *opts, struct mesh_ca **out,
             struct mv_err *err)
{
	int bits = opts->key_bits > 0 ? opts->key_bits : 4096;
	struct root r = {0};
	struct mesh_ca *ca;
	int rc = -1;

	*out = NULL;
	if (n_clusters == 0)
		return mv_err_set(err, MV_EXIT_FAIL, "mesh CA: no clusters");
	for (size_t i = 0; i < n_clusters; i++) {
		if (!valid_cluster(clusters[i]))
			return mv_err_set(err, MV_EXIT_FAIL,
			                  "mesh CA: cluster name \"%s\" is not a "
			                  "DNS-1123 label", clusters[i]);
		for (size_t j = 0; j < i; j++)
			if (strcmp(clusters[i], clusters[j]) == 0)
				return mv_err_set(err, MV_EXIT_FAIL,
				                  "mesh CA: cluster %s named twice",
				                  clusters[i]);
	}
	if (opts->expect_root_sha256 && access(dir, F_OK) != 0 &&
	    errno == ENOENT)
		return mv_err_set(err, MV_EXIT_FAIL,
		                  "%s is gone, but meshvm's state records root "
		                  "%s that the clusters already trust; restore "
		                  "the CA directory from a backup, or run `meshvm "
		                  "down` first to start a new mesh CA", dir,
		                  opts->expect_root_sha256);
	if (ensure_dir(dir, opts->create, err) != 0)
		return -1;
	ca = mv_xcalloc(1, sizeof(*ca));
	ca->inter = mv_xcalloc(n_clusters, sizeof(*ca->inter));
	ca->n = n_clusters;
	if (opts->create) {
		/* Intermediates without a root: their root's key is lost;
		 * making a new root here would silently split the mesh. */
		char *cp = mv_path_join(dir, "root-cert.pem");
		int h = present(cp, err);

		free(cp);
		if (h < 0)
			goto out;
		for (size_t i = 0; h == 0 && i < n_clusters; i++) {
			char *p = mv_strfmt("%s/%s/ca-cert.pem", dir,
			                    clusters[i]);
			int hi = present(p, err);

			free(p);
			if (hi < 0)
				goto out;
			if (hi) {
				mv_err_set(err, MV_EXIT_FAIL,
				           "%s/%s holds an intermediate CA but %s "
				           "has no root-cert.pem; restore the "
				           "root (root-cert.pem, root-key.pem) or "
				           "move %s aside to start a new mesh CA",
				           dir, clusters[i], dir, dir);
				goto out;
			}
		}
	}
	if (root_open(dir, opts, bits, &r, err) != 0 ||
	    root_digest(r.cert, ca->root_sha256, err) != 0)
		goto out;
	if (opts->expect_root_sha256 &&
	    strcmp(opts->expect_root_sha256, ca->root_sha256) != 0) {
		mv_err_set(err, MV_EXIT_FAIL,
		           "%s/root-cert.pem is root %s, but meshvm's state "
		           "records root %s that the clusters already trust; "
		           "put the recorded CA back, or run `meshvm down` first "
		           "to start a new mesh CA", dir, ca->root_sha256,
		           opts->expect_root_sha256);
		goto out;
	}
	for (size_t i = 0; i < n_clusters; i++)
		if (inter_open(dir, clusters[i], &r, opts, bits, &ca->inter[i],
		               err) != 0)
			goto out;
	ca->root_pem = r.pem;
	r.pem = NULL;
	*out = ca;
	ca = NULL;
	rc = 0;
out:
	X509_free(r.cert);
	EVP_PKEY_free(r.key);
	free(r.pem);
	mesh_ca_free(ca);
	return rc;
}

static void
set_b64(json_t *data, const char *key, const char *s)
{
	char *b = mv_base64_encode(s, strlen(s));

	if (b == NULL)
		abort(); /* out of memory, as core/xalloc */
	json_object_set_new(data, key, json_string(b));
	free_secret(b);
}

json_t *
mesh_ca_cacerts_secret(const struct mesh_ca *ca, const char *cluster,
                       struct mv_err *err)
{
	const struct mesh_inter *mi = NULL;
	json_t *data;

	for (size_t i = 0; i < ca->n; i++)
		if (strcmp(ca->inter[i].cluster, cluster) == 0)
			mi = &ca->inter[i];
	if (mi == NULL) {
		mv_err_set(err, MV_EXIT_FAIL,
		           "mesh CA: no intermediate for cluster %s", cluster);
		return NULL;
	}
	data = json_object();
	set_b64(data, "ca-cert.pem", mi->cert_pem);
	set_b64(data, "ca-key.pem", mi->key_pem);
	set_b64(data, "root-cert.pem", ca->root_pem);
	set_b64(data, "cert-chain.pem", mi->chain_pem);
	return json_pack("{s:s, s:s, s:{s:s, s:s}, s:s, s:o}", "apiVersion",
	                 "v1", "kind", "Secret", "metadata", "name", "cacerts",
	                 "namespace", "istio-system", "type", "Opaque", "data",
	                 data);
}
