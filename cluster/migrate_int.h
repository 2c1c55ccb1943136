/* cluster/migrate_int.h - between the migration's files (internal to
 * cluster/migrate*.c): the Kubernetes side and the retirement. */
#ifndef MESHVM_CLUSTER_MIGRATE_INT_H
#define MESHVM_CLUSTER_MIGRATE_INT_H

#include "cluster/migrate.h"
#include "cluster/migrate_objs.h"

#define MIGRATE_STEP "migrate"   /* the state records' step */

/* service.name, service.namespace, the deployment id (borrowed). */
void migrate_svc_of(const struct plan_ctx *ctx, struct migrate_svc *s);

/* Does the state hold the VirtualService records of a migration? */
bool migrate_recorded(const struct plan_ctx *ctx);

/* The DestinationRule and the VirtualService at 100/0 in every cluster
 * (recorded, read back), then version=vm on the VM side and the GKE
 * Deployment in migration.cluster, waited for until available. */
int migrate_setup(struct plan_ctx *ctx, struct mv_err *err);

/* Apply w to the VirtualService of every cluster, then read each back:
 * an answer other than w is an error naming the cluster. */
int migrate_set_weights(struct plan_ctx *ctx, struct migrate_weights w,
                        struct mv_err *err);

/* Retire the VM side from the state's records (see migrate.h): appends
 * one line per kind of resource deleted to `done`. */
int migrate_retire(struct plan_ctx *ctx, json_t *done, struct mv_err *err);

#endif
