/* harness/fake/kube_private.h - shared by the Kubernetes side of the fake
 * (kube*.c).  Everything runs under the lock like the rest of the fake.
 *
 * A cluster's objects live in db["kube"][cluster key]:
 *   {"rv": last resourceVersion (integer),
 *    "objects": {"GROUP/PLURAL/NAMESPACE/NAME": object},  core group "core",
 *               cluster-scoped objects with an empty NAMESPACE
 *    "progress": {object key: {"at": ms, "gen": generation}},
 *    "terminating": {namespace: ms when it is gone}}  (controllers)
 */
#ifndef MESHVM_FAKE_KUBE_PRIVATE_H
#define MESHVM_FAKE_KUBE_PRIVATE_H

#include "harness/fake/req.h"
#include "harness/fake/schema.h"
#include "harness/fake/store.h"

#define KUBE_MINOR "32"
#define KUBE_GIT_VERSION "v1.32.4-gke.1106006"

/* ---- kinds (kube_kinds.c) ---- */

enum {
	KK_STATUS = 1,     /* has a status subresource */
	KK_SCALE = 2,      /* has a scale subresource */
	KK_CREATE_ONLY = 4, /* only POST (tokenreviews) */
	KK_CR = 8,         /* a custom resource: no strategic merge patch */
};

/* A kind this cluster serves.  Strings are static or borrowed from a CRD
 * object in the store (valid while the lock is held). */
struct kkind {
	const char *group;       /* "" for the core group */
	const char *version;
	const char *kind;
	const char *plural;
	const char *singular;
	const char *short_names; /* comma-separated, may be NULL */
	bool namespaced;
	unsigned flags;
	const json_t *crd_schema; /* openAPIV3Schema of a CRD version */
};

/* The kind served at group/version/plural; false when none. */
bool kkind_find(struct fake *f, struct kcluster *kc, const char *group,
                const char *version, const char *plural, struct kkind *out);
/* Every served kind (built-in and from CRDs), in a stable order; *out is
 * a malloc'd array (free), strings borrowed. */
size_t kkind_all(struct fake *f, struct kcluster *kc, struct kkind **out);
/* The store's group key: "core" for "". */
const char *kkind_gkey(const struct kkind *k);

/* ---- discovery and openapi (kube_discovery.c) ---- */
void kube_discovery(struct fake *f, struct freq *rq, struct fresp *rs);
bool kube_is_discovery(const struct freq *rq);

/* ---- the object store (kube_store.c) ---- */
/* An empty store for the cluster; true when it had none (the caller
 * seeds it: kctl_namespace_defaults). */
bool kstore_init(struct fake *f, struct kcluster *kc);
json_t *kstore(struct fake *f, struct kcluster *kc);
void kobj_key(char *buf, size_t len, const struct kkind *k, const char *ns,
              const char *name);
json_t *kstore_get(struct fake *f, struct kcluster *kc,
                   const struct kkind *k, const char *ns, const char *name);
/* Store obj (stolen) under its key with a new resourceVersion. */
void kstore_put(struct fake *f, struct kcluster *kc, const struct kkind *k,
                const char *ns, const char *name, json_t *obj);
void kstore_del(struct fake *f, struct kcluster *kc, const struct kkind *k,
                const char *ns, const char *name);
void kstore_del_key(struct fake *f, struct kcluster *kc, const char *key);
/* The next resourceVersion (as a string in buf). */
const char *kstore_next_rv(struct fake *f, struct kcluster *kc, char *buf,
                           size_t len);
const char *kstore_rv(struct fake *f, struct kcluster *kc, char *buf,
                      size_t len);
/* A UUID from a hash of what names the object and the resourceVersion
 * it was created at. */
void kube_uid(const char *cluster, const char *objkey, const char *rv,
              char out[37]);
/* Metadata for a new object: uid, resourceVersion (set by put),
 * creationTimestamp, generation 1. */
void kobj_init_meta(struct fake *f, struct kcluster *kc, const char *objkey,
                    json_t *obj);

/* Label and field selectors: 0 ok (*sel a compiled selector, NULL for
 * "everything"), -1 with a message. */
struct ksel;
int ksel_parse(const char *labels, const char *fields, struct ksel **sel,
               char *err, size_t errlen);
bool ksel_match(const struct ksel *sel, const json_t *obj);
void ksel_free(struct ksel *sel);

/* ---- ownerReference garbage collection (kube_gc.c) ---- */
/* The object with this uid was deleted: delete its dependents (policy
 * "Background", "Foreground" or NULL) or drop their references to it
 * ("Orphan").  Returns how many objects were deleted. */
size_t kgc_owner_deleted(struct fake *f, struct kcluster *kc,
                         const char *uid, const char *policy);

/* ---- the simulated istiod (kube_istiod.c) ---- */
bool kistiod_is_request(const struct freq *rq);
void kistiod_dispatch(struct fake *f, struct freq *rq, struct fresp *rs);
/* A Service written: when its LoadBalancer address is a loopback one
 * (127.0.0.0/8), listen there on FAKE_ISTIOD_PORT (plain HTTP, the
 * istiod calls only) so a VM's hosts line really leads to the fake. */
void kistiod_lb_sync(struct fake *f, struct kcluster *kc,
                     const struct kkind *k, const json_t *obj);
/* The same for every stored Service (a cluster's listener started). */
void kistiod_lb_all(struct fake *f, struct kcluster *kc);
/* Delete disconnected entries whose grace period is over; true when
 * anything changed. */
bool kistiod_tick(struct fake *f, struct kcluster *kc);
/* istiod's WorkloadEntry name for a group, IP and network (may be ""). */
void kistiod_entry_name(const char *group, const char *ip,
                        const char *network, char *out, size_t len);

/* ---- watch (kube_watch.c) ---- */
/* Answer a watch on a collection (rs gets a stream). */
void kube_watch(struct fake *f, struct freq *rq, const struct kkind *k,
                const char *ns, const char *gv, struct fresp *rs);

/* ---- merging (kube_merge.c) ---- */
/* RFC 7386 JSON merge patch: a new value. */
json_t *kmerge_json_merge(const json_t *target, const json_t *patch);
/* RFC 6902 JSON patch applied to *doc (replaced on success). */
int kmerge_json_patch(json_t **doc, const json_t *ops, char *err,
                      size_t errlen);
/* Strategic merge patch of a built-in kind, in place. */
int kmerge_strategic(json_t *target, const json_t *patch, char *err,
                     size_t errlen);
/* The merge key of a list at a dotted path (".spec.template.spec.
 * containers[].ports") of a built-in kind, or NULL (atomic list). */
const char *kmerge_list_key(const char *path);

/* ---- managed fields and server-side apply (kube_apply.c) ---- */
struct kapply_conflict {
	char manager[128];
	char api_version[128];
	char field[512];
};

/* Server-side apply of `applied` by `manager` onto `live` (NULL to
 * create).  On success *out is the new object (managedFields updated).
 * On conflicts without force: returns 1 and fills up to max conflicts.
 * -1 on a malformed object. */
int kapply(const json_t *live, const json_t *applied, const char *manager,
           const char *api_version, bool force, bool builtin, json_t **out,
           struct kapply_conflict *conflicts, size_t max, size_t *n_conflicts,
           char *err, size_t errlen);
/* Track an Update by `manager` (create when old is NULL): fields it set
 * or changed become its own and leave other managers. */
void kmanaged_update(const json_t *old, json_t *new_obj, const char *manager,
                     const char *api_version, bool builtin);

/* ---- strict field validation (kube_schema.c) ---- */
enum kvalidation { KV_IGNORE, KV_WARN, KV_STRICT };
/* Unknown fields are pruned from obj and reported (into warnings, an
 * array of strings like "unknown field \"spec.foo\""); a built-in kind's
 * type errors make it return -1 with a message; a custom resource's type,
 * enum and required failures go into causes (an array of {reason,
 * message, field}, at most KSCHEMA_MAX_CAUSES) for a 422 Invalid.
 * crd_schema may be NULL. */
#define KSCHEMA_MAX_CAUSES 32
int kschema_check(const struct kkind *k, json_t *obj, json_t *warnings,
                  json_t *causes, char *err, size_t errlen);

/* ---- tokens (kube_token.c) ---- */
void fake_kube_token_request(struct fake *f, struct freq *rq, struct fresp *rs,
                        const char *ns, const char *sa);
void kube_token_review(struct fake *f, struct freq *rq, struct fresp *rs);
void kube_openid(struct fake *f, struct freq *rq, struct fresp *rs);
/* Review a service-account token for `audience` on the fake's clock
 * (signature, issuer, expiry required, service account exists): 0 with
 * *claims (new reference), or -1 with the API server's reason in why. */
int kube_token_check(struct fake *f, struct kcluster *kc, const char *token,
                     const char *audience, json_t **claims, char *why,
                     size_t whylen);
/* Is the bearer token good for this cluster's API? */
bool kube_auth_ok(struct fake *f, struct freq *rq);
/* A service-account token (JWT) for this cluster; heap string. */
char *kube_sa_token(struct fake *f, struct kcluster *kc, const char *ns,
                    const char *sa, const char *sa_uid, json_t *audiences,
                    long long ttl, long long *exp_out);
/* ---- protobuf bodies (kube_proto.c) ---- */
/* Decode kubectl's protobuf TokenRequest: audiences (new array) and
 * expirationSeconds (0 when absent). */
int kube_token_request_decode(const uint8_t *buf, size_t len,
                              json_t **audiences, long long *expiration);
/* A Namespace, ConfigMap, Secret or ServiceAccount sent as protobuf, as
 * JSON (new reference); NULL for anything else or malformed input. */
json_t *kube_object_decode(const uint8_t *buf, size_t len,
                           const char *api_version);

/* ---- simulated controllers (kube_ctl.c) ---- */
/* After an object was written (created or changed): what the controllers
 * fill into obj; with dry_run only that, no other object and no state
 * changes (dryRun=All). */
void kctl_after_write(struct fake *f, struct kcluster *kc,
                      const struct kkind *k, json_t *obj, bool created,
                      bool dry_run);
/* A Deployment (or a list item) as the controllers would show it now:
 * a new reference with its status filled in. */
json_t *kctl_view(struct fake *f, struct kcluster *kc, const struct kkind *k,
                  json_t *obj);
void kctl_namespace_defaults(struct fake *f, struct kcluster *kc,
                             const char *ns);
/* A deleted namespace is Terminating (deletionTimestamp, phase) and, with
 * everything in it, gone once the controllers' delay has passed. */
void kctl_terminate_namespace(struct fake *f, struct kcluster *kc,
                              const char *ns);
bool kctl_terminating(struct fake *f, struct kcluster *kc, const char *ns);

#endif
