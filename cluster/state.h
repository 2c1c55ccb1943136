/* cluster/state.h - what `meshvm up` created, in .meshvm/state.json.
 *
 * The state sits beside the config, is rewritten atomically after every
 * change, and is guarded by an exclusive lock (.meshvm/lock, opened with
 * O_NOFOLLOW) so two runs cannot interleave.  .meshvm is made with mkdir
 * and must then be a directory of this user, never a symlink.  It carries the deployment's id (`meshvm-id`), which
 * every created resource is tagged with, and one record per resource:
 *
 *   "resources": {"cluster/cluster1": {"kind": "cluster", "name": ...,
 *       "phase": "intent"|"pending"|"created", "operation": "...", ...}}
 *
 * A record is written *before* a create is sent (intent), updated with the
 * operation name once the API accepted it (pending), and completed with the
 * resource's outputs when it is ready (created).  A resumed run reads these
 * to wait for an in-flight operation instead of creating twice.
 */
#ifndef MESHVM_CLUSTER_STATE_H
#define MESHVM_CLUSTER_STATE_H

#include <jansson.h>
#include <stdbool.h>

#include "core/err.h"

struct mv_state;

/* Open (and lock) the state of the config in `config_dir`.  With create
 * false and no state file, *out is a fresh in-memory state that is never
 * written (plan, status).  The lock is always taken; a second run fails
 * fast naming the holder.  *out owned by the caller. */
int mv_state_open(const char *config_dir, bool create, struct mv_state **out,
                  struct mv_err *err);
void mv_state_close(struct mv_state *st);

/* For readers (plan, status): no lock is taken (state.json is only ever
 * replaced by an atomic rename, so a reader sees a whole file) and the
 * state is never saved.  A non-blocking shared probe of the lock tells
 * whether a run (`up`, `down`) holds it: mv_state_busy_pid is then its pid
 * (-1 when it has not written it yet), else 0. */
int mv_state_open_readonly(const char *config_dir, struct mv_state **out,
                           struct mv_err *err);
int mv_state_busy_pid(const struct mv_state *st);

/* .meshvm directory and state paths (borrowed). */
const char *mv_state_dir(const struct mv_state *st);
const char *mv_state_path(const struct mv_state *st);

/* The deployment id stamped on every resource ("mv-" + 12 hex). */
const char *mv_state_id(const struct mv_state *st);
/* Take over an existing deployment's id (meshvm adopt). */
int mv_state_set_id(struct mv_state *st, const char *id, struct mv_err *err);

/* Borrowed record, or NULL. */
json_t *mv_state_get(const struct mv_state *st, const char *key);
/* Record for key, created empty (with "kind") if absent. Borrowed. */
json_t *mv_state_put(struct mv_state *st, const char *key, const char *kind);
void mv_state_del(struct mv_state *st, const char *key);
/* All records (borrowed object key → record). */
json_t *mv_state_resources(const struct mv_state *st);

/* Convenience on a record. */
const char *mv_state_str(const json_t *rec, const char *field);
void mv_state_set_str(json_t *rec, const char *field, const char *value);

/* Write atomically (0600: the state may hold endpoints and CAs). */
int mv_state_save(struct mv_state *st, struct mv_err *err);
bool mv_state_persistent(const struct mv_state *st);

#endif
