/* cluster/launch.h - what `meshvm launch` asks of the launch step beyond
 * plan/up (cluster/steps/launch.c). */
#ifndef MESHVM_CLUSTER_LAUNCH_H
#define MESHVM_CLUSTER_LAUNCH_H

#include <jansson.h>

#include "cluster/plan.h"

/* Mint a new Istio token (vm.token_duration) and write it to every
 * running instance (setMetadata with the metadata fingerprint) and, for
 * a group, into a new template for instances made from now on.  The
 * state records its expiry only.  *report (new): {"instances":[names],
 * "template": name or null, "expires": RFC 3339}. */
int launch_refresh_token(struct plan_ctx *ctx, json_t **report,
                         struct mv_err *err);

#endif
