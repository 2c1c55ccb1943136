/* cluster/delivery.h - what the bundle and deliver steps leave for the
 * steps after them (launch, join), and the names both sides must agree on.
 *
 * State records (SESSION3 contract 1):
 *   "bundle/bundle"  kind "bundle", name "bundle": "digest"
 *                    ("sha256:<hex>", the bundle file's, which `meshvm
 *                    verify` and the join script pin), "file" (the local
 *                    path under .meshvm/bundle/), "size", "inputs" (a
 *                    digest of what was baked), "compression".
 *   "object/B/O"     kind "object", name "B/O": "url" (gs://B/O),
 *                    "digest", "generation", "bucket", "object", "phase".
 *   "bucket/B"       kind "bucket", name "B": only for a bucket meshvm
 *                    created (down deletes it when it is empty).
 */
#ifndef MESHVM_CLUSTER_DELIVERY_H
#define MESHVM_CLUSTER_DELIVERY_H

#include <jansson.h>

#include "bake/bundle.h"
#include "cluster/plan.h"
#include "core/err.h"

/* The delivered bundle: *url "gs://BUCKET/OBJECT" and *digest
 * "sha256:<hex>" of the bundle the bundle step recorded, once the deliver
 * step uploaded it (both malloc'd).  An error (MV_EXIT_FAIL) when nothing
 * is baked or that bundle is not delivered yet. */
int delivery_bundle_ref(const struct plan_ctx *ctx, char **url, char **digest,
                        struct mv_err *err);

/* vm.bundle_bucket, else PROJECT-meshvm-HEX with HEX the deployment id
 * after its "mv-" (lower case, at most 63 characters: a long project id
 * is cut). malloc'd. */
char *delivery_bucket_name(const struct plan_ctx *ctx);

/* The object name of a bundle: meshvm/SERVICE/HEX.tar.zst (.tar.gz, .tar
 * by compression): it carries the digest, so instances and templates pin
 * one bundle and a new bundle never replaces an old one in place. */
char *delivery_object_name(const struct mv_config *cfg, const char *digest,
                           const char *compression);

/* The service account the VM runs as: the project's Compute Engine
 * default service account (compute projects.get defaultServiceAccount),
 * the one `instances.insert` uses when none is named; the deliver step
 * grants it roles/storage.objectViewer on the bucket.  *email malloc'd. */
int delivery_vm_service_account(struct plan_ctx *ctx, char **email,
                                struct mv_err *err);

/* The bundle record (borrowed), or NULL. */
json_t *delivery_bundle_record(const struct plan_ctx *ctx);

/* .meshvm/upload-session.json: a resumable upload's session URI (0600).
 * malloc'd. */
char *delivery_session_file(const struct plan_ctx *ctx);

#endif
