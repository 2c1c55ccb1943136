/* cluster/steps/kobj.h - Kubernetes objects of the mesh steps (mesh-ca,
 * istio, app, vm-group): labelled with the deployment id, recorded in the
 * state before they are sent, applied server-side (field manager
 * "meshvm") only when absent or not yet recorded, so a rerun sends no
 * mutating request; deleted from the records in reverse order.
 *
 * Records: "k8s/CLUSTER/APIVERSION|KIND|NS|NAME" with fields kind "k8s",
 * zone CLUSTER, step, apiVersion, objKind, namespace, objName, seq (the
 * order of creation: down deletes the latest first).
 */
#ifndef MESHVM_CLUSTER_STEPS_KOBJ_H
#define MESHVM_CLUSTER_STEPS_KOBJ_H

#include <jansson.h>
#include <stdbool.h>

#include "cluster/step.h"

#define KOBJ_MANAGER "meshvm"

/* Is the cluster made and in the kubeconfig (its record "created")? */
bool kobj_cluster_ready(const struct plan_ctx *ctx,
                        const struct mv_cluster_config *c);
const struct mv_cluster_config *kobj_cluster(const struct plan_ctx *ctx,
                                             const char *name);

/* Read-only: adds "create KIND NS/NAME in CLUSTER" when the object is
 * absent or not recorded; refuses one that carries another deployment's
 * id.  0 present+recorded, 1 action added, -1 error. */
int kobj_check(struct plan_ctx *ctx, const struct mv_cluster_config *c,
               const json_t *obj, struct step_check *out, struct mv_err *err);

/* Label obj (modified) with the deployment id, record it for `step`, and
 * apply it when absent or not recorded (an object already there without
 * a meshvm-id is taken over only for `adopt_ok` kinds: none today, so it
 * is refused).  *live (may be NULL) receives the stored object. */
int kobj_ensure(struct plan_ctx *ctx, const char *step,
                const struct mv_cluster_config *c, json_t *obj,
                json_t **live, struct mv_err *err);

/* Delete what `step` recorded, latest first.  An object carrying another
 * id, a CustomResourceDefinition holding objects without our id, and a
 * Namespace holding such objects are left alone (a warning) and lose
 * their record. */
int kobj_destroy(struct plan_ctx *ctx, const char *step, struct mv_err *err);

/* One status row per record of `step`: present or missing. */
int kobj_status(struct plan_ctx *ctx, const char *step, json_t *rows,
                struct mv_err *err);

/* A Kubernetes object skeleton {apiVersion, kind, metadata{name, ns}}. */
json_t *kobj_ref(const char *api_version, const char *kind, const char *ns,
                 const char *name);

struct istio_mesh_ids;
/* The mesh ids of a cluster (borrowed from the config). */
void kobj_mesh_ids(const struct plan_ctx *ctx, const char *cluster,
                   struct istio_mesh_ids *ids);

/* A path from the config (relative: to the config's directory). */
char *kobj_config_path(const struct plan_ctx *ctx, const char *p);

#endif
