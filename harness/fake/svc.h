/* harness/fake/svc.h - what the services offer the router and the
 * server: route tables, the Kubernetes side, faults and the control
 * API.  Services include it for struct route. */
#ifndef MESHVM_FAKE_SVC_H
#define MESHVM_FAKE_SVC_H

#include "harness/fake/journal.h"
#include "harness/fake/req.h"
#include "harness/fake/schema.h"
#include "harness/fake/state.h"
#include "harness/fake/store.h"

/* ---- routes ---- */
enum {
	R_AUTH = 1,        /* Google bearer token required (unless no_auth) */
	R_READONLY = 2,    /* not mutating even though not a GET */
	R_JSON = 4,        /* body must be JSON (400 otherwise) */
	R_PURE = 8,        /* changes nothing at all: answers may be cached */
	R_REQID = 16,      /* Compute's requestId: a retry within the window
	                    * gets the first operation (c_request_replayed) */
};

typedef void (*fake_handler)(struct fake *f, struct freq *rq,
                             struct fresp *rs);

struct route {
	const char *method;    /* NULL terminates a table */
	const char *pattern;   /* "/v1/projects/{}/locations/{}/clusters" */
	fake_handler fn;
	unsigned flags;
	const char *schema;    /* request body method id, or NULL */
};

/* ---- vmboot.c: --boot-vms (call without the lock) ---- */
int vmboot_start(struct fake *f, struct mv_err *err);
void vmboot_stop(struct fake *f);

/* ---- gke.c, compute*.c, storage*.c, metadata.c ---- */
extern const struct route gke_routes[];
extern const struct route compute_routes[];
extern const struct route compute_inst_routes[];
extern const struct route compute_fw_routes[];
extern const struct route compute_group_routes[];
extern const struct route compute_hc_routes[];
extern const struct route compute_tmpl_routes[];
extern const struct route compute_vm_routes[];
extern const struct route storage_routes[];
extern const struct route storage_upload_routes[];
extern const struct route storage_iam_routes[];
extern const struct route metadata_routes[];
/* iam.c: Resource Manager, IAM, quotas; /_fake/iam and /_fake/quotas */
extern const struct route iam_routes[];
/* sts.c: STS token exchange, IAM Credentials generateAccessToken */
extern const struct route sts_routes[];
bool fake_iam_control(struct fake *f, const char *what, struct freq *rq,
                      struct fresp *rs);
/* The project's quotas into a compute#project answer. */
void fake_quota_project(struct fake *f, json_t *project);
/* The effect {"cluster_delete": KEY} of a finished delete operation. */
void gke_remove_cluster_now(struct fake *f, const char *key);
bool c_request_replayed(struct fake *f, struct freq *rq, struct fresp *rs);
/* For the metadata server: an instance by name in any project/zone. */
json_t *compute_find_instance(struct fake *f, const char *name,
                              char *key, size_t keylen);

/* ---- faults.c ---- */
int faults_load(struct fake *f, const char *name, const char *buf,
                size_t len, struct faults **out, struct mv_err *err);
void faults_free(struct faults *fl);
/* Decide for one request; fills rs (status/delay/reset) and rq's fault
 * effects.  Returns true when a rule fired. */
bool faults_apply(struct fake *f, struct freq *rq, struct fresp *rs);
json_t *faults_json(const struct faults *fl);
void faults_reset_counters(struct faults *fl);

/* The profile's `traffic:` section (docs/fake.md, "Traffic"): how the
 * simulated callers of a mesh service fare per destination. */
struct traffic_rule {
	char *destination;   /* subset (or service) name; NULL = any */
	char *cluster;       /* reporting cluster; NULL = any */
	double error_rate;   /* 0..1 of its requests fail */
	int latency_ms;      /* every request's duration */
	int response_code;   /* of a failed request (default 503) */
	int grpc_status;     /* of a failed request (default 14) */
};
struct traffic_profile {
	double rps;          /* requests per traffic-second per cluster */
	struct traffic_rule *rules;
	size_t n;
};
/* The loaded profile's traffic section (never NULL when fl is not). */
const struct traffic_profile *faults_traffic(const struct faults *fl);

/* ---- traffic.c: simulated traffic and a Prometheus per cluster ---- */
extern const struct route traffic_routes[];
/* Bring every cluster's counters up to the traffic clock's now, with
 * the weights stored now (called before each request is handled). */
void traffic_tick(struct fake *f);
void traffic_free(struct fake *f);

/* ---- control.c: /_fake/ ---- */
void control_dispatch(struct fake *f, struct freq *rq, struct fresp *rs);
/* ---- compute_vmnet.c: a booted VM's own listener ---- */
/* POST /_fake/vms/NAME/listener; false when rq is not that path. */
bool vmnet_control(struct fake *f, struct freq *rq, struct fresp *rs);
/* What a VM listener (rq->listener FAKE_VM_LISTENER...) may ask. */
bool vmnet_path_ok(const struct freq *rq);
/* Stop them (the server, when it stops; outside the lock). */
void vmnet_stop_all(struct fake *f);

/* ---- kube.c: one Kubernetes API per cluster ---- */
/* Register a cluster (its store seeded with what every cluster starts
 * with) and, once started, open its listener through fst(f)->net. */
struct kcluster *kube_cluster_add(struct fake *f, const char *key,
                                  const char *name, json_t *cluster,
                                  struct mv_err *err);
/* Unregister it; it is queued on `closing` and freed after unlock. */
void kube_cluster_remove(struct fake *f, const char *key);
struct kcluster *kube_cluster_by_name(struct fake *f, const char *name);
void kube_dispatch(struct fake *f, struct freq *rq, struct fresp *rs);
/* Parse a server-side apply body (YAML: alias expansion is the costly
 * part) into rq; the pipeline calls it before it takes the lock. */
void kube_body_preparse(struct freq *rq);
void kube_free_all(struct fake *f);
/* Stop its listener (outside the lock) and free it. */
void kube_cluster_free(struct fake *f, struct kcluster *kc);
/* Finish what the simulated controllers owe; true when anything
 * changed. */
bool kctl_tick(struct fake *f, struct kcluster *kc);

#endif
