/* harness/fake/store.h - the stores the services share: the token
 * registry and the OAuth endpoint (auth.c), long-running operations
 * (ops.c).  The Kubernetes object store is in kube_private.h. */
#ifndef MESHVM_FAKE_STORE_H
#define MESHVM_FAKE_STORE_H

#include "harness/fake/req.h"

/* ---- auth.c: OAuth token endpoint and the token registry ---- */
void auth_token_endpoint(struct fake *f, struct freq *rq, struct fresp *rs);
/* A new Google access token for `email` (registered); heap string. */
char *auth_issue_token(struct fake *f, const char *email, int ttl);
/* Forget expired tokens; how many went. */
size_t auth_prune_tokens(struct fake *f);
/* Is the request's bearer token one we issued (and unexpired)? */
bool auth_google_ok(struct fake *f, const struct freq *rq);
/* One field of an application/x-www-form-urlencoded body (heap). */
char *fake_form_get(const char *body, size_t len, const char *name);
int auth_load_sa_key(struct fake *f, const char *path, struct mv_err *err);

/* ---- ops.c: long-running operations ----
 * Kept in db["operations"][key]; `effects` (stolen) is an array run when
 * the op is DONE, or {"ok": [...], "error": [...]} with the effects of a
 * fault-failed op.  Keys starting "compute/" make a Compute operation.
 * Returns a copy of the public operation (new reference). */
json_t *op_new(struct fake *f, struct freq *rq, const char *key,
               json_t *public, json_t *effects);
/* A read of the operation (advances it); NULL when there is none. */
json_t *op_poll(struct fake *f, const char *key);
/* Its current state without counting as a read (lists, requestId
 * replays); finishes it when it is due all the same. */
json_t *op_peek(struct fake *f, const char *key);

#endif
