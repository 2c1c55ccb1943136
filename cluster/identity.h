/* cluster/identity.h - the VM's identity files, exactly as
 * `istioctl x workload entry configure --autoregister` writes them
 * (istioctl/pkg/workload/workload.go), minus the token:
 *
 *   cluster.env    sorted KEY='value' lines (shellescape.Quote)
 *   mesh.yaml      defaultConfig: from the istio ConfigMap's `mesh`, the
 *                  WorkloadGroup's proxy.istio.io/config annotations,
 *                  readinessProbe = spec.probe, and proxyMetadata
 *   hosts          "<east-west gateway IP> istiod.istio-system.svc\n"
 *   root-cert.pem  from ConfigMap istio-ca-root-cert
 *
 * Tokens are minted at launch, never here.  Pure: the caller fetches the
 * inputs from the home cluster.
 */
#ifndef MESHVM_CLUSTER_IDENTITY_H
#define MESHVM_CLUSTER_IDENTITY_H

#include <jansson.h>
#include <stdbool.h>

#include "core/err.h"

struct identity_in {
	const json_t *workload_group; /* the WorkloadGroup object */
	const char *mesh_config;      /* ConfigMap istio data.mesh (YAML) */
	const char *cluster_id;       /* --clusterID */
	const char *ingress_ip;       /* east-west gateway address; an
	                               * empty/invalid one gives an empty
	                               * hosts file, as istioctl */
	const char *root_cert_pem;    /* istio-ca-root-cert root-cert.pem */
	const char *revision;         /* NULL or "default": none */
	const char *internal_ip;      /* ISTIO_SVC_IP (NULL: unset) */
	const char *external_ip;      /* ditto, plus the probe rewrite */
	bool autoregister;            /* ISTIO_META_AUTO_REGISTER_GROUP */
	bool no_dns_capture;          /* --capture-dns=false */
	/* Refuse a live mesh that disagrees with meshvm.yaml (NULL: not
	 * checked): defaultConfig.meshId, template.network, trustDomain. */
	const char *expect_mesh_id;
	const char *expect_network;
	const char *expect_trust_domain;
};

struct identity_files {
	char *cluster_env;
	char *mesh_yaml;
	char *hosts;
	char *root_cert;
};

/* Fill *out (free with identity_files_free). */
int identity_render(const struct identity_in *in, struct identity_files *out,
                    struct mv_err *err);
void identity_files_free(struct identity_files *f);

/* Write the four files into dir (created 0755 if absent), each
 * atomically with mode 0644. */
int identity_write(const char *dir, const struct identity_files *f,
                   struct mv_err *err);

/* The inputs where istioctl reads them from the home cluster (NULL when
 * absent; borrowed from the object unless said otherwise):
 * ConfigMap istio-system/istio data.mesh; ConfigMap istio-ca-root-cert
 * data["root-cert.pem"]; Service istio-eastwestgateway
 * status.loadBalancer.ingress[0].ip, else spec.externalIPs[0] (NULL while
 * no address is assigned); ConfigMap istio-sidecar-injector values
 * global.multiCluster.clusterName (malloc'd; NULL with err set when the
 * values are not JSON, NULL with err clear when unset). */
const char *identity_mesh_config_of(const json_t *istio_configmap);
const char *identity_root_cert_of(const json_t *root_configmap);
const char *identity_ingress_ip_of(const json_t *service);
char *identity_cluster_id_of(const json_t *injector_configmap,
                             struct mv_err *err);

/* Istio's shellescape.Quote (exposed for tests; malloc'd). */
char *identity_shell_quote(const char *s);

#endif
