/* cluster/step.h - what a step author needs (internal to cluster/steps/).
 *
 * A step is one file cluster/steps/NAME.c defining
 *     const struct plan_step step_NAME = {...};   (see plan.h)
 * plus one row in the registry (plan.c) and one name in the build list
 * (cluster/CMakeLists.txt).  Its records in the state are keyed
 * "KIND/ZONE/NAME" (global resources "KIND/NAME", see step_record_key)
 * and carry at least "kind", "name" and (zonal resources) "zone"; destroy
 * walks those records, never the config (step_destroy_records).
 *
 * Every resource a step creates carries the deployment id
 * (mv_state_id): a label "meshvm-id" on GKE clusters and Kubernetes
 * objects, "meshvm-id=ID" in a firewall rule's description.
 */
#ifndef MESHVM_CLUSTER_STEP_H
#define MESHVM_CLUSTER_STEP_H

#include <stdbool.h>

#include "cluster/plan.h"
#include "core/poll.h"

struct kube;

/* Deadlines are absolute, in mv_now_ms() milliseconds. */
#define step_now_ms mv_now_ms

/* now + real_ms, or now + 60 s when ctx->fast (the fake finishes in a few
 * polls; a test that hangs fails in a minute, not in 45). */
long step_deadline(const struct plan_ctx *ctx, long real_ms);

/* Poll fn (see core/poll.h) every poll interval of the HTTP client until
 * done or the deadline; Ctrl-C ends the wait with exit class 130 and a
 * message saying the state keeps what is in flight.  label ("clusters:")
 * names the progress line drawn on a terminal (when ctx->progress).
 * Returns 0 when done, else the MV_POLL_* code of core/poll.h (err set):
 * a step may replace the MV_POLL_TIMEOUT message with its own. */
int step_poll(struct plan_ctx *ctx, long deadline, const char *label,
              mv_poll_fn fn, void *arg, struct mv_err *err);

/* Is `id` (a resource's meshvm-id, may be NULL) this deployment's? */
bool step_ours(const struct plan_ctx *ctx, const char *id);
/* The refusal for a resource that exists but is someone else's. */
int step_not_ours(const struct plan_ctx *ctx, const char *what,
                  const char *name, const char *their_id,
                  struct mv_err *err);

/* .meshvm/kubeconfig (malloc'd). */
char *step_kubeconfig_path(const struct plan_ctx *ctx);
/* The Kubernetes client of a configured cluster, made on first use from
 * .meshvm/kubeconfig (context gke_PROJECT_ZONE_NAME) and kept in the
 * context until plan_ctx_release: borrowed. */
int step_kube(struct plan_ctx *ctx, const struct mv_cluster_config *c,
              struct kube **out, struct mv_err *err);

/* State records of resources: key "KIND/ZONE/NAME" (zone "" or NULL for
 * global resources: "KIND/NAME"), fields "kind", "name", "zone". */
char *step_record_key(const char *kind, const char *zone, const char *name);
json_t *step_record_get(const struct plan_ctx *ctx, const char *kind,
                        const char *zone, const char *name); /* or NULL */
/* Created with kind, name and zone if absent; borrowed. */
json_t *step_record_put(struct plan_ctx *ctx, const char *kind,
                        const char *zone, const char *name);
/* Is the record at key one of KIND (its "kind", else the key prefix)? */
bool step_record_is(const char *key, const json_t *rec, const char *kind);
/* phase "created", no operation left. */
void step_record_created(json_t *rec);

/* "a STATE_A, b STATE_B, ..." for a progress line (malloc'd; any length:
 * the progress bar clips it to the terminal). */
char *step_progress_line(size_t n, const char *const *names,
                         const char *const *states);

/* How a step deletes its recorded resources (step_destroy_records). */
struct step_deleter {
	const char *kind;  /* the records of this kind */
	const char *label; /* "clusters:" for messages and the progress line */
	long deadline_ms;  /* the real deadline (step_deadline shortens it) */
	/* The live resource's meshvm-id: 0 present (*id malloc'd, NULL when
	 * it carries none), 1 absent, -1 error. */
	int (*owner)(struct plan_ctx *ctx, const json_t *rec, char **id,
	             struct mv_err *err);
	/* Send the delete: 0 accepted (*op malloc'd, or NULL when nothing is
	 * left to wait for), 1 absent already, -1 error. */
	int (*remove)(struct plan_ctx *ctx, const json_t *rec, char **op,
	              struct mv_err *err);
	/* Is the delete operation op finished: 1 yes, 0 not yet, -1 failed. */
	int (*done)(struct plan_ctx *ctx, const json_t *rec, const char *op,
	            struct mv_err *err);
};

/* Delete every resource the state records with d->kind, where the record
 * says it is (never where the config says), all sent first and waited for
 * together.  A resource that is gone (404) or carries another meshvm-id
 * (left alone, with a warning) loses its record; a record is removed only
 * once its resource is gone.  Saves the state after each change. */
int step_destroy_records(struct plan_ctx *ctx, const struct step_deleter *d,
                         struct mv_err *err);

/* A random RFC 4122 version-4 UUID (Compute's requestId): 37 bytes. */
int step_uuid(char out[37], struct mv_err *err);

#endif
