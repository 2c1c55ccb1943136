/* harness/fake/pki.c - the fake's CA (the clusters'
 * clusterCaCertificate), the listeners' server certificate and the
 * service-account token key: made on first use, shared by the fakes of a
 * process that have none of their own, loaded from and saved to a state
 * directory.  Base layer: knows nothing of requests or listeners. */
#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/atomic.h"
#include "core/base64.h"
#include "core/pki.h"
#include "harness/fake/state.h"

#define PEM_MAX (1 << 20)

#define SAN_MAX 64

static int
make_tls_cert(struct fake_pki *p, struct mv_err *err)
{
	const char *dns[SAN_MAX + 5] = {
		"localhost", "kubernetes", "kubernetes.default",
		"kubernetes.default.svc", "kubernetes.default.svc.cluster.local"};
	const char *ips[SAN_MAX + 2] = {"127.0.0.1", "::1"};
	size_t n_dns = 5, n_ips = 2, i;
	struct mv_pki_cert_opts o;
	EVP_PKEY *k;
	X509 *c;
	json_t *v;

	if (json_array_size(p->san) > SAN_MAX)
		return mv_err_set(err, MV_EXIT_USAGE, "--tls-san: at most %d names",
		                  SAN_MAX);
	/* the extra names: IP addresses as IPs, the rest as DNS names */
	json_array_foreach(p->san, i, v) {
		const char *s = json_string_value(v);
		unsigned char buf[16];
		if (inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf))
			ips[n_ips++] = s;
		else
			dns[n_dns++] = s;
	}
	k = mv_pki_rsa_generate(2048, err);
	if (k == NULL)
		return -1;
	mv_pki_cert_opts_init(&o);
	o.subject.cn = "kube-apiserver";
	o.days = 3650;
	o.dns = dns;
	o.n_dns = n_dns;
	o.ips = ips;
	o.n_ips = n_ips;
	o.server_auth = true;
	c = mv_pki_issue(k, p->ca, p->ca_key, &o, err);
	if (c != NULL) {
		p->tls_cert_pem = mv_pki_cert_pem(c, err);
		p->tls_key_pem = mv_pki_key_pem(k, err);
	}
	X509_free(c);
	EVP_PKEY_free(k);
	return p->tls_cert_pem && p->tls_key_pem ? 0 : -1;
}

static int
make_pki(struct fake_pki *p, struct mv_err *err)
{
	struct mv_pki_cert_opts o;

	if (p->ca == NULL) {
		mv_pki_cert_opts_init(&o);
		o.subject.cn = "meshvm fake cluster CA";
		o.subject.o = "meshvm";
		o.kind = MV_PKI_CA;
		o.days = 3650;
		p->ca_key = mv_pki_rsa_generate(2048, err);
		if (p->ca_key == NULL)
			return -1;
		p->ca = mv_pki_self_signed(p->ca_key, &o, err);
		if (p->ca == NULL)
			return -1;
		p->ca_pem = mv_pki_cert_pem(p->ca, err);
		if (p->ca_pem == NULL)
			return -1;
	}
	if (p->tls_cert_pem == NULL && make_tls_cert(p, err) != 0)
		return -1;
	if (p->token_key == NULL) {
		p->token_key = mv_pki_rsa_generate(2048, err);
		if (p->token_key == NULL)
			return -1;
	}
	return 0;
}

/* RSA key generation is the slowest thing the fake does (and far slower
 * under valgrind), so a process makes its PKI once and every fake in it
 * that has none of its own (no --state PKI) shares it. */
static pthread_mutex_t pki_mu = PTHREAD_MUTEX_INITIALIZER;
static struct fake_pki *pki_proto; /* the shared PKI; never freed */

static int
share_pki(struct fake_pki *p, struct mv_err *err)
{
	int rc = 0;

	pthread_mutex_lock(&pki_mu);
	if (pki_proto == NULL) {
		pki_proto = calloc(1, sizeof(*pki_proto));
		if (pki_proto == NULL || make_pki(pki_proto, err) != 0) {
			rc = pki_proto ? -1 : mv_err_set(err, MV_EXIT_FAIL,
			                                 "out of memory");
			fake_pki_free(pki_proto);
			free(pki_proto);
			pki_proto = NULL;
		}
	}
	if (rc == 0) {
		EVP_PKEY_up_ref(pki_proto->ca_key);
		p->ca_key = pki_proto->ca_key;
		X509_up_ref(pki_proto->ca);
		p->ca = pki_proto->ca;
		EVP_PKEY_up_ref(pki_proto->token_key);
		p->token_key = pki_proto->token_key;
		p->ca_pem = strdup(pki_proto->ca_pem);
		p->tls_cert_pem = strdup(pki_proto->tls_cert_pem);
		p->tls_key_pem = strdup(pki_proto->tls_key_pem);
		if (!p->ca_pem || !p->tls_cert_pem || !p->tls_key_pem)
			rc = mv_err_set(err, MV_EXIT_FAIL, "out of memory");
	}
	pthread_mutex_unlock(&pki_mu);
	return rc;
}

int
fake_pki_ensure(struct fake *f, struct mv_err *err)
{
	struct fake_pki *p = &fst(f)->pki;

	if (p->ca == NULL && p->tls_cert_pem == NULL && p->token_key == NULL) {
		if (share_pki(p, err) != 0)
			return -1;
		/* the shared CA, but a certificate of its own for the extra
		 * names */
		if (json_array_size(p->san) > 0) {
			free(p->tls_cert_pem);
			free(p->tls_key_pem);
			p->tls_cert_pem = p->tls_key_pem = NULL;
			return make_tls_cert(p, err);
		}
		return 0;
	}
	return make_pki(p, err);
}

char *
fake_ca_b64(struct fake *f)
{
	const char *pem = fst(f)->pki.ca_pem;

	return pem ? mv_base64_encode(pem, strlen(pem)) : NULL;
}

static char *
read_pem(const char *dir, const char *name, size_t *len)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return mv_read_file(path, PEM_MAX, len, NULL);
}

int
fake_pki_load(struct fake_pki *p, const char *dir, struct mv_err *err)
{
	size_t n = 0;
	char *s;

	s = read_pem(dir, "ca.pem", &n);
	if (s == NULL)
		return 0; /* no PKI saved: made on first use */
	p->ca = mv_pki_cert_from_pem(s, n, err);
	p->ca_pem = s;
	s = read_pem(dir, "ca-key.pem", &n);
	p->ca_key = s ? mv_pki_key_from_pem(s, n, err) : NULL;
	free(s);
	p->tls_cert_pem = read_pem(dir, "tls.pem", NULL);
	p->tls_key_pem = read_pem(dir, "tls-key.pem", NULL);
	s = read_pem(dir, "token-key.pem", &n);
	p->token_key = s ? mv_pki_key_from_pem(s, n, err) : NULL;
	free(s);
	if (p->ca == NULL || p->ca_key == NULL || p->tls_cert_pem == NULL ||
	    p->tls_key_pem == NULL || p->token_key == NULL)
		return mv_err_set(err, MV_EXIT_FAIL, "%s: the saved PKI is "
		                  "incomplete (ca.pem, ca-key.pem, tls.pem, "
		                  "tls-key.pem, token-key.pem)", dir);
	return 0;
}

static int
write_private(const char *dir, const char *name, const char *data,
              struct mv_err *err)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return mv_write_file_atomic(path, data, strlen(data), 0600, err);
}

int
fake_pki_save(const struct fake_pki *p, const char *dir, struct mv_err *err)
{
	char *ck, *tk;
	int rc;

	if (p->ca == NULL)
		return 0;
	ck = mv_pki_key_pem(p->ca_key, err);
	tk = mv_pki_key_pem(p->token_key, err);
	rc = (ck && tk && !write_private(dir, "ca.pem", p->ca_pem, err) &&
	      !write_private(dir, "ca-key.pem", ck, err) &&
	      !write_private(dir, "tls.pem", p->tls_cert_pem, err) &&
	      !write_private(dir, "tls-key.pem", p->tls_key_pem, err) &&
	      !write_private(dir, "token-key.pem", tk, err))
	             ? 0
	             : -1;
	free(ck);
	free(tk);
	return rc;
}

void
fake_pki_free(struct fake_pki *p)
{
	if (p == NULL)
		return;
	EVP_PKEY_free(p->ca_key);
	X509_free(p->ca);
	free(p->ca_pem);
	free(p->tls_cert_pem);
	free(p->tls_key_pem);
	EVP_PKEY_free(p->token_key);
	json_decref(p->san);
	memset(p, 0, sizeof(*p));
}
