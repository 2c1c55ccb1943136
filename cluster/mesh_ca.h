/* cluster/mesh_ca.h - the mesh's shared root of trust.
 *
 * One root (RSA 4096, 10 years, O=Istio, CN=Root CA) and one intermediate
 * per cluster (O=Istio, CN=Intermediate CA, L=<cluster>, pathlen 0, SAN
 * DNS:istiod.istio-system.svc, 2 years), the layout and extensions of
 * Istio's tools/certs/Makefile.selfsigned.mk (common.mk):
 *
 *   DIR/root-cert.pem  DIR/root-key.pem
 *   DIR/<cluster>/{ca-cert.pem, ca-key.pem, root-cert.pem, cert-chain.pem}
 *
 * DIR is 0700, keys 0600.  Whatever is loaded is checked first (root
 * self-signed CA, its key matches, each intermediate verifies against the
 * root, its key matches, its root-cert.pem is the root, cert-chain.pem is
 * intermediate then root).  A certificate is the record that a key was
 * handed out, so a key is never made again behind a recorded certificate:
 * a missing key is an error that says how to recover.
 */
#ifndef MESHVM_CLUSTER_MESH_CA_H
#define MESHVM_CLUSTER_MESH_CA_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"

struct mesh_ca;

struct mesh_ca_opts {
	/* false: a user-given CA (mesh.ca_dir): load and check only, never
	 * write.  true: meshvm's own CA (.meshvm/ca): create what is
	 * absent. */
	bool create;
	/* RSA size of new keys; 0 = 4096.  Tests only (RSA-4096 under
	 * valgrind is slow); the product never sets it. */
	int key_bits;
	/* The root recorded in meshvm's state (mesh_ca_root_sha256 of an
	 * earlier run), or NULL.  When set, a directory without a root is an
	 * error (the clusters already trust a root that is gone) and a
	 * different root is refused: never a silent new mesh CA. */
	const char *expect_root_sha256;
};

/* Load (and with opts->create, first create) the CA in `dir` for the
 * given clusters (DNS-1123 labels).  *out is the caller's (mesh_ca_free). */
int mesh_ca_open(const char *dir, const char *const *clusters,
                 size_t n_clusters, const struct mesh_ca_opts *opts,
                 struct mesh_ca **out, struct mv_err *err);
void mesh_ca_free(struct mesh_ca *ca);

/* The root certificate (PEM), as in every cluster's root-cert.pem. */
const char *mesh_ca_root_pem(const struct mesh_ca *ca);

/* SHA-256 of the root certificate's DER, lowercase hex (what the state
 * records; `openssl x509 -noout -fingerprint -sha256` shows the same
 * digest with colons). */
const char *mesh_ca_root_sha256(const struct mesh_ca *ca);

/* Secret `cacerts` in istio-system for `cluster` (new ref): data
 * ca-cert.pem, ca-key.pem, root-cert.pem, cert-chain.pem (base64).
 * NULL (err set) for a cluster the CA was not opened with. */
json_t *mesh_ca_cacerts_secret(const struct mesh_ca *ca, const char *cluster,
                               struct mv_err *err);

#endif
