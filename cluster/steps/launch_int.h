/* cluster/steps/launch_int.h - the launch step's parts (launch.c: one
 * VM, teardown, status; launch_group.c: the managed group), internal to
 * those files and launch_res.c (the records' resources). */
#ifndef MESHVM_CLUSTER_STEPS_LAUNCH_INT_H
#define MESHVM_CLUSTER_STEPS_LAUNCH_INT_H

#include "cluster/steps/fleet.h"

#define LAUNCH_LABEL "launch:"
#define LAUNCH_DEADLINE_MS (15L * 60 * 1000)

/* The Compute path of a record (zones/Z/instances/N, ...; malloc'd). */
char *launch_path(const json_t *rec);
/* A resource's meshvm-id (labels or description; malloc'd or NULL). */
char *launch_owner_id(const char *kind, const json_t *live);
/* Is the token a record says it carries still good for a while? */
bool launch_token_fresh(const json_t *rec);
void launch_record_token(json_t *rec, time_t expires);

/* Send a create (POST to coll_path) for the record, with its requestId
 * recorded first, and wait: 0 created (or found ours), -1 error. */
int launch_create(struct plan_ctx *ctx, json_t *rec, const char *coll_path,
                  const char *zone, const json_t *body, long deadline,
                  struct mv_err *err);
/* Send a change and wait (a fresh requestId). */
int launch_change(struct plan_ctx *ctx, const char *method, const char *path,
                  const char *query, const char *zone, const json_t *body,
                  long deadline, struct mv_err *err);
/* Delete every record of kind (step_destroy_records). */
int launch_destroy_kind(struct plan_ctx *ctx, const char *kind,
                        struct mv_err *err);

/* launch_group.c */
int launch_group_check(struct plan_ctx *ctx, const char *digest,
                       struct step_check *out, struct mv_err *err);
int launch_group_apply(struct plan_ctx *ctx, const char *url,
                       const char *digest, struct mv_err *err);
int launch_group_status(struct plan_ctx *ctx, json_t *rows,
                        struct mv_err *err);
/* `meshvm launch --refresh-token` for the group: a new template with the
 * new token for instances made from now on (setInstanceTemplate). */
int launch_group_refresh(struct plan_ctx *ctx, const char *url,
                         const char *digest, const char *token,
                         time_t expires, struct mv_err *err);

#endif
