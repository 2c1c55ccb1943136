/* cluster/kubeconfig.h - kubeconfig files: load them as kubectl does,
 * write them as `gcloud container clusters get-credentials` does.
 *
 * Loading merges every file of KUBECONFIG (':'-separated; missing files
 * are skipped) the way kubectl merges them: for clusters, users and
 * contexts the first file that names an entry wins, and current-context
 * comes from the first file that sets one.  Relative paths inside a file
 * (certificate-authority, client-certificate, client-key, tokenFile) are
 * relative to that file.
 */
#ifndef MESHVM_CLUSTER_KUBECONFIG_H
#define MESHVM_CLUSTER_KUBECONFIG_H

#include <jansson.h>
#include <stdbool.h>
#include <time.h>

#include "core/err.h"

/* An exec credential plugin (client.authentication.k8s.io v1/v1beta1). */
struct kube_exec {
	char *api_version;
	char *command;
	char **args;  /* NULL-terminated */
	char **env;   /* "NAME=VALUE", NULL-terminated */
	bool provide_cluster_info;
	char *install_hint;
};

/* One resolved context: where the API server is and how to log in. */
struct kube_target {
	char *context;
	char *namespace_;   /* context's namespace or "default" */
	char *server;       /* https://host:port */
	char *ca_pem;       /* certificate-authority(-data), or NULL: system */
	bool insecure;      /* insecure-skip-tls-verify (refused by kube_new) */
	char *token;        /* token or tokenFile contents */
	char *client_cert_pem;
	char *client_key_pem;
	struct kube_exec *exec;
};

/* Resolve `context` (NULL = current-context) from `paths` (NULL = the
 * KUBECONFIG environment variable, else ~/.kube/config). */
int kubeconfig_load(const char *paths, const char *context,
                    struct kube_target **out, struct mv_err *err);
void kube_target_free(struct kube_target *t);

/* Names of every context in the merged config (JSON array, new ref). */
int kubeconfig_contexts(const char *paths, json_t **names,
                        struct mv_err *err);

/* Building: a kubeconfig like get-credentials writes.  token NULL → an
 * exec user running gke-gcloud-auth-plugin; else a token user. */
json_t *kubeconfig_new(void);
void kubeconfig_add_cluster(json_t *kc, const char *name,
                            const char *endpoint, const char *ca_b64,
                            const char *token);
/* Written atomically, mode 0600 (it may hold a token). */
int kubeconfig_write(const char *path, const json_t *kc, struct mv_err *err);

/* A token user says when its token stops working: an extension named
 * KUBECONFIG_EXTENSION with "token-expires-by" (UTC, RFC 3339), an hour
 * (a Google access token's life) after it was written. */
#define KUBECONFIG_EXTENSION "meshvm"
#define KUBECONFIG_TOKEN_LIFETIME 3600

/* The earliest "token-expires-by" of the token users meshvm wrote in the
 * kubeconfig at `path`: 1 with *expires set, 0 when there is none (or no
 * file), -1 on error. */
int kubeconfig_token_expiry(const char *path, time_t *expires,
                            struct mv_err *err);
/* Put `token` in every token user meshvm wrote (never another's) whose
 * token differs, stamped as written at `now`: 1 rewritten (atomically),
 * 0 nothing to do or no file, -1 error. */
int kubeconfig_refresh_token(const char *path, const char *token, time_t now,
                             struct mv_err *err);

#endif
