/* core/config.h - meshvm.yaml, the topology `init` writes and `up` reads.
 *
 *   project: my-project
 *   endpoints: {google: URL}          # or per API: container, compute,
 *                                     # storage, serviceusage, oauth2,
 *                                     # cloudresourcemanager, iam, sts,
 *                                     # iamcredentials
 *   clusters: [{name, zone, machineType, nodes, network}]
 *   vm: {name, zone, machineType, image, tags, count, network, boot_agent,
 *        cluster, bundle_bucket, storage_endpoint}
 *   service: {name, namespace, port, protocol, image, sidecar, units}
 *   mesh: {...}  app: {...}  migration: {...}
 *
 * core/config_keys.c lists every key (type, default, what reads it): a key
 * whose feature has not landed is refused ("not supported yet ... (issue
 * N)"), as is an unknown key; bad values are errors naming file:line:col.
 * Fields of keys not landed yet keep their defaults (NULL when none).
 */
#ifndef MESHVM_CORE_CONFIG_H
#define MESHVM_CORE_CONFIG_H

#include <jansson.h>
#include <stddef.h>

#include "core/err.h"

/* migration.steps: at most this many steps */
#define MV_CONFIG_MAX_STEPS 100

struct mv_cluster_config {
	char *name;
	char *zone;
	char *machine_type;
	int nodes;
	char *network;
};

/* Base URLs for the Google APIs, each ending in '/'. */
struct mv_endpoints {
	char *container;    /* GKE:   {base}v1/projects/... */
	char *compute;      /* Compute: {base}projects/... (includes compute/v1/) */
	char *storage;      /* GCS:   {base}storage/v1/..., {base}upload/... */
	char *serviceusage; /* {base}v1/projects/... */
	char *oauth2;       /* token endpoint URL (not a base) */
	char *cloudresourcemanager; /* {base}v3/projects/... */
	char *iam;          /* {base}v1/projects/.../serviceAccounts/... */
	char *sts;          /* token exchange URL (not a base) */
	char *iamcredentials; /* {base}v1/projects/-/serviceAccounts/...:generateAccessToken */
};

struct mv_config {
	char *path;      /* as given */
	char *dir;       /* its directory: state lives in dir/.meshvm */
	char *project;
	struct mv_endpoints endpoints;
	struct mv_cluster_config *clusters;
	size_t n_clusters;
	struct {
		char *name;
		char *zone;
		char *machine_type;
		char *image;
		char **tags;
		size_t n_tags;
		int count;
		long token_duration_s; /* vm.token_duration (--token-duration) */
		long join_timeout_s;   /* --join-timeout; 0: the step's default */
		char *network;
		char *boot_agent; /* auto|cloud-init|startup-script */
		char *cluster; /* the home cluster (vm.cluster; default the first) */
		char *bundle_bucket; /* NULL: PROJECT-meshvm-HEX (cluster/delivery.h) */
		char *storage_endpoint; /* NULL: Google's Storage JSON API */
	} vm;
	struct {
		char *name;
		char *namespace_;
		int port;
		char *protocol;
		char *image;   /* path, relative to the config's directory */
		char *sidecar; /* path */
		char **units;  /* paths (service.units) */
		size_t n_units;
	} service;
	struct {
		char *istio_version;
		char *id;
		char *trust_domain;
		json_t *networks;        /* every cluster and "VM" -> network */
		char *istio_manifests;   /* as written (relative: to dir), or NULL */
		char *ca_dir;            /* NULL: dir/.meshvm/ca, made by meshvm */
		char *reader_token;      /* NULL: a reader token Secret */
	} mesh_;
	struct {
		char *manifests;   /* as written, or NULL */
		json_t *placement; /* NULL: placement.yaml next to manifests */
	} app_;
	struct {
		int steps[MV_CONFIG_MAX_STEPS]; /* GKE share per step, up to 100 */
		size_t n_steps;
		int interval;             /* seconds */
		double min_success_rate;  /* 0..1 */
		int max_p99_ms;
		/* cluster -> Prometheus base URL: every configured cluster, or
		 * "" -> URL for one Prometheus (NULL: not configured) */
		json_t *prometheus;
		char *cluster;            /* where the service moves (a GKE one) */
	} migration_;
	json_t *mesh, *app, *migration; /* the mappings as written */
};

/* The Istio network of a cluster name or "VM" (borrowed). */
const char *mv_config_network(const struct mv_config *cfg, const char *who);

/* Load and validate; endpoint defaults are the real Google APIs, then
 * `endpoints:` from the file, then MESHVM_GOOGLE_ENDPOINT (one base for
 * every API, as the fake serves them).  *out owned by the caller. */
int mv_config_load(const char *path, struct mv_config **out,
                   struct mv_err *err);
int mv_config_parse(const char *name, const char *buf, size_t len,
                    struct mv_config **out, struct mv_err *err);
void mv_config_free(struct mv_config *cfg);

/* An Ubuntu LTS family, as in the seed: cloud-init reads user-data. */
#define MV_CONFIG_DEFAULT_IMAGE \
	"projects/ubuntu-os-cloud/global/images/family/ubuntu-2204-lts"

/* The seed's VM zone, and the Istio token's default lifetime (24h). */
#define MV_CONFIG_DEFAULT_VM_ZONE "us-central1-b"
#define MV_CONFIG_DEFAULT_TOKEN_S (24L * 3600)
#define MV_CONFIG_TOKEN_MIN_S 600L        /* Kubernetes' TokenRequest floor */
#define MV_CONFIG_TOKEN_MAX_S (168L * 3600)

/* A duration "24h", "90m", "3600s", "1h30m" or plain seconds, within
 * MV_CONFIG_TOKEN_MIN_S..MV_CONFIG_TOKEN_MAX_S: 0 with *secs, else -1. */
int mv_config_duration(const char *s, long *secs);
/* The same syntax within lo..hi seconds. */
int mv_duration_parse(const char *s, long lo, long hi, long *secs);

/* The seed's topology as a commented meshvm.yaml (malloc'd). project may
 * be NULL (a placeholder is written). */
char *mv_config_example(const char *project);

/* A cluster's kubeconfig context name, as gcloud names it:
 * gke_PROJECT_ZONE_NAME (malloc'd). */
char *mv_config_context_name(const struct mv_config *cfg,
                             const struct mv_cluster_config *c);

#endif
