/* cluster/remote_secret.h - Istio multi-primary remote secrets, as
 * `istioctl create-remote-secret` makes them
 * (istioctl/pkg/multicluster/remote_secret.go):
 *
 *   Secret istio-system/istio-remote-secret-<name>
 *     labels      istio/multiCluster: "true"
 *     annotations networking.istio.io/cluster: <name>
 *     <name>:     a kubeconfig (cluster, context and user all named
 *                 <name>; the peer's API server and CA; a bearer token)
 *
 * The token is that of a long-lived kubernetes.io/service-account-token
 * Secret for istio-reader-service-account (an expiring TokenRequest token
 * would silently break cross-cluster discovery later); the API server's
 * token controller fills its data.token and data["ca.crt"].
 */
#ifndef MESHVM_CLUSTER_REMOTE_SECRET_H
#define MESHVM_CLUSTER_REMOTE_SECRET_H

#include <jansson.h>

#include "core/err.h"

#define REMOTE_SECRET_NS "istio-system"
#define REMOTE_SECRET_READER_SA "istio-reader-service-account"
/* istioctl's tokenSecretName(): <sa>-istio-remote-secret-token */
#define REMOTE_SECRET_TOKEN_SECRET \
	"istio-reader-service-account-istio-remote-secret-token"

/* ServiceAccount istio-system/istio-reader-service-account (new ref).
 * istioctl manifest generate renders it too (with its ClusterRole); apply
 * this one only when the rendered manifests lack it. */
json_t *remote_secret_reader_sa(void);

/* The kubernetes.io/service-account-token Secret for it (new ref). */
json_t *remote_secret_token_secret(void);

/* Token and CA (PEM) of a token Secret as read back from the server:
 * 0 with both malloc'd, 1 while the token controller has not filled
 * them yet, -1 on a malformed Secret. */
int remote_secret_token_from(const json_t *secret, char **token,
                             char **ca_pem, struct mv_err *err);

/* The kubeconfig text (YAML as client-go writes it). server is
 * https://HOST[:PORT]; ca_pem the API server's CA. */
char *remote_secret_kubeconfig(const char *name, const char *server,
                               const char *ca_pem, const char *token,
                               struct mv_err *err);

/* Secret istio-remote-secret-<name> for the cluster called `name`, to be
 * applied in its peers (new ref).  The kubeconfig goes in data (base64),
 * which is what istioctl's stringData becomes once stored. */
json_t *remote_secret_build(const char *name, const char *server,
                            const char *ca_pem, const char *token,
                            struct mv_err *err);

#endif
