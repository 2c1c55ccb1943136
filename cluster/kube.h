/* cluster/kube.h - a Kubernetes API client for one cluster (context).
 *
 * Authentication: bearer token, client certificate, or an exec credential
 * plugin (client.authentication.k8s.io v1 and v1beta1; how GKE's
 * gke-gcloud-auth-plugin works): the plugin runs when a token is needed and
 * its token is cached until its expirationTimestamp.  Discovery (/api,
 * /apis, /api/v1, /apis/G/V) maps kinds to resources and scope, once per
 * client.  Objects are applied with server-side apply.
 */
#ifndef MESHVM_CLUSTER_KUBE_H
#define MESHVM_CLUSTER_KUBE_H

#include <jansson.h>
#include <stdbool.h>
#include <time.h>

#include "cluster/kubeconfig.h"
#include "core/err.h"

struct mv_http;
struct kube;

/* Takes ownership of target. http is borrowed (one per thread). */
int kube_new(struct kube_target *target, struct mv_http *http,
             struct kube **out, struct mv_err *err);
void kube_free(struct kube *k);
const struct kube_target *kube_target_of(const struct kube *k);

/* How many times the exec plugin ran (tests: caching). */
int kube_exec_runs(const struct kube *k);

/* Raw request to PATH (e.g. "/version"); 0 on 2xx with *out the parsed
 * JSON (new ref, may be NULL), 1 on 404, -1 otherwise ("METHOD URL →
 * STATUS Reason: message", exit class 4). */
int kube_call(struct kube *k, const char *method, const char *path,
              const char *content_type, const char *body, size_t body_len,
              bool idempotent, json_t **out, struct mv_err *err);

/* Discovery: the resource (plural) and scope of apiVersion+kind. */
int kube_resource(struct kube *k, const char *api_version, const char *kind,
                  const char **resource, bool *namespaced, struct mv_err *err);
/* Parse discovery documents (exposed for tests): an APIResourceList for
 * groupVersion, merged into the client's map. */
int kube_discovery_add(struct kube *k, const json_t *resource_list,
                       struct mv_err *err);

/* Path of an object or collection: name NULL = collection; ns ignored for
 * cluster-scoped kinds (malloc'd). */
int kube_path(struct kube *k, const char *api_version, const char *kind,
              const char *ns, const char *name, char **path,
              struct mv_err *err);

/* 0 found, 1 absent, -1 error. */
int kube_get(struct kube *k, const char *api_version, const char *kind,
             const char *ns, const char *name, json_t **out,
             struct mv_err *err);
/* items of a list (label_selector may be NULL); follows `continue`. */
int kube_list(struct kube *k, const char *api_version, const char *kind,
              const char *ns, const char *label_selector, json_t **items,
              struct mv_err *err);
/* 0 deleted, 1 was absent. */
int kube_delete(struct kube *k, const char *api_version, const char *kind,
                const char *ns, const char *name, struct mv_err *err);

/* Server-side apply of one object (fieldManager, force only when asked).
 * *result (may be NULL) receives the stored object. */
int kube_apply(struct kube *k, const json_t *obj, const char *field_manager,
               bool force, json_t **result, struct mv_err *err);
/* Apply every document of a multi-document YAML stream, in order;
 * namespaced objects without a namespace go to default_ns. */
int kube_apply_yaml(struct kube *k, const char *name, const char *buf,
                    size_t len, const char *default_ns, bool force,
                    int *applied, struct mv_err *err);

/* Poll until pred(object) is true or deadline_ms passes. pred returns 1
 * done, 0 not yet, -1 failed (filling err). */
typedef int (*kube_pred)(const json_t *obj, void *arg, struct mv_err *err);
int kube_wait(struct kube *k, const char *api_version, const char *kind,
              const char *ns, const char *name, kube_pred pred, void *arg,
              long deadline_ms, struct mv_err *err);
/* A ready-made predicate: status.conditions has TYPE=True (arg = TYPE). */
int kube_pred_condition(const json_t *obj, void *arg, struct mv_err *err);

/* TokenRequest for a service account: *token malloc'd, *expires. */
int kube_token_request(struct kube *k, const char *ns, const char *sa,
                       const char *audience, long seconds, char **token,
                       time_t *expires, struct mv_err *err);

/* RFC 3339 "2026-01-02T03:04:05Z" (fractions and offsets accepted). */
int kube_parse_time(const char *s, time_t *out);

#endif
