/* cluster/steps/fleet.h - what the launch and join steps (and `meshvm
 * launch`) share about the VM fleet: names, the boot metadata with the
 * Istio token, the token itself, the members and whether they joined.
 *
 * Names: the single instance and the group are vm.name; the group's
 * members are vm.name-xxxx (Compute names them from baseInstanceName);
 * templates are vm.name-<10 hex of the bundle digest>-<8 random hex>
 * (immutable: a new bundle or a new token is a new template).
 *
 * Records (the token itself is never recorded, only its expiry):
 *   instance/ZONE/NAME   requestId, phase, operation, digest, tokenExpires
 *   template/NAME        requestId, phase, digest, tokenExpires
 *   group/ZONE/NAME      requestId, phase, template, size
 *   healthcheck/NAME     requestId, phase
 *   hcfirewall/NAME      requestId, phase (Google's health-check ranges)
 */
#ifndef MESHVM_CLUSTER_STEPS_FLEET_H
#define MESHVM_CLUSTER_STEPS_FLEET_H

#include <jansson.h>
#include <stdbool.h>
#include <time.h>

#include "cluster/step.h"

#define FLEET_TOKEN_AUDIENCE "istio-ca"
#define FLEET_DIGEST_KEY "meshvm-bundle-digest"
#define FLEET_HC_PORT 15021
#define FLEET_HC_PATH "/healthz/ready"

/* The delivered bundle: gs:// URL and "sha256:<hex>" (malloc'd). */
int fleet_bundle_ref(const struct plan_ctx *ctx, char **url, char **digest,
                     struct mv_err *err);

/* A new template's name: vm.name-<10 hex of the digest>-<8 random hex>
 * (each token gets its own template); *name malloc'd. */
int fleet_template_name(const struct plan_ctx *ctx, const char *digest,
                        char **name, struct mv_err *err);
/* Resource names (malloc'd). */
char *fleet_hc_name(const struct plan_ctx *ctx);
char *fleet_hc_rule_name(const struct plan_ctx *ctx);

/* A TokenRequest for the WorkloadGroup's ServiceAccount in the VM's home
 * cluster, audience istio-ca, vm.token_duration seconds: *token
 * malloc'd (the caller wipes and frees it; never logged). */
int fleet_mint_token(struct plan_ctx *ctx, char **token, time_t *expires,
                     struct mv_err *err);
/* Overwrite and free a token. */
void fleet_token_free(char *token);

/* The instance properties (for instances.insert, or a template's
 * "properties" with template=true): machine type, boot image, network
 * with an external address, tags, the service account with the storage
 * read scope, labels meshvm-id, and metadata: the agent's boot key, the
 * token, enable-guest-attributes, the pinned digest.  Checked against
 * GCE's metadata limits. */
int fleet_properties(struct plan_ctx *ctx, const char *url,
                     const char *digest, const char *token, bool template_,
                     json_t **out, struct mv_err *err);

/* The metadata items with the token replaced (new array). */
json_t *fleet_items_with_token(const json_t *items, const char *token);

/* "meshvm-id=ID: what" for descriptions (malloc'd); the id in one. */
char *fleet_description(const struct plan_ctx *ctx, const char *what);
char *fleet_description_id(const char *description);

/* The running fleet: [{"name","zone","ip","status","group"(bool)}] of
 * the single instance (if recorded) and the group's members. */
int fleet_members(struct plan_ctx *ctx, bool with_single, bool with_group,
                  json_t **out, struct mv_err *err);

/* Wait (step_poll, progress line) until every member in `members` has a
 * WorkloadEntry with Healthy=True in the home cluster; a member whose
 * guest attribute meshvm/phase says "failed" ends the wait at once.  The
 * error names each member that did not join and what it last reported
 * (meshvm/phase and meshvm/error, else its serial console). */
int fleet_wait_joined(struct plan_ctx *ctx, const json_t *members,
                      const char *label, struct mv_err *err);

/* Read-only: how many of `members` are joined (*joined); *entries (may
 * be NULL) the home cluster's WorkloadEntries of the group (new). */
int fleet_joined(struct plan_ctx *ctx, const json_t *members, size_t *joined,
                 json_t **entries, struct mv_err *err);

/* The join deadline: --join-timeout, else 15 minutes. */
long fleet_join_deadline(const struct plan_ctx *ctx);

#endif
