/* harness/fake/fake_private.h - shared by the fake's modules only.
 *
 * Threading: every handler runs with f->lock held (fake_dispatch takes
 * it), so the resource tree (f->db), the journal ring, the fault counters
 * and the blobs need no locks of their own.  Listeners are started under
 * the lock but stopped outside it (their threads may be waiting for it):
 * handlers queue them on f->closing and fake_dispatch stops them after
 * unlocking.
 */
#ifndef MESHVM_FAKE_PRIVATE_H
#define MESHVM_FAKE_PRIVATE_H

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/util.h"
#include "harness/fake/fake.h"

#define FAKE_MAX_SEG 32
#define FAKE_MAX_CAPS 8
#define FAKE_API_LISTENER "gcp"

struct fake_kv {
	char *k;
	char *v; /* may be NULL for "?flag" query args */
};

/* ---- requests and responses (dispatch.c) ---- */

struct freq {
	const char *listener;     /* FAKE_API_LISTENER or a cluster name */
	struct kcluster *kc;      /* the cluster behind a Kubernetes listener */
	const char *method;
	char *path;               /* as received (percent-encoded), no query */
	char *query;              /* raw query without '?', "" when none */
	char *seg[FAKE_MAX_SEG];  /* decoded path segments */
	size_t n_seg;
	bool seg_overflow;        /* more segments than FAKE_MAX_SEG */
	struct fake_kv *args;     /* decoded query arguments, in order */
	size_t n_args;
	const struct fake_kv *hdr; /* headers as received */
	size_t n_hdr;
	const char *body;
	size_t body_len;
	bool too_large;
	char base[160];           /* scheme://host:port the client used */
	const char *cap[FAKE_MAX_CAPS]; /* route captures ({} segments) */
	size_t n_cap;
	json_t *json;             /* the parsed JSON body, when there is one */
	bool mutating;
	bool pure;                /* changed nothing: f->gen stands still */
	/* what a fault asked the handler to do */
	const char *fault;        /* name of the rule that fired */
	json_t *op_error;         /* the operation this request starts fails */
	const char *service_state;
};

struct fresp {
	int status;
	char ctype[128];
	char *body;
	size_t len;
	char hdrs[512];           /* "Name: value\n" lines */
	unsigned delay_ms;
	bool reset;
	/* A streamed answer (Kubernetes watch): body first, then what
	 * stream_poll() produces until it says the end.  stream_poll takes
	 * f->lock itself; it returns 1 with *out (heap) filled, 0 when there
	 * is nothing yet (asked again after FAKE_STREAM_POLL_MS), -1 at the
	 * end. */
	void *stream;
	int (*stream_poll)(struct fake *f, void *stream, char **out,
	                   size_t *len);
	void (*stream_free)(void *stream);
};

#define FAKE_STREAM_POLL_MS 100

/* ---- service-account keys accepted by /token ---- */

struct sa_key {
	char *email, *kid, *token_uri;
	EVP_PKEY *key;
};

struct blob {
	char *key; /* "bucket/object" */
	uint8_t *data;
	size_t len;
};

/* Serialized answers of stored resources, valid while f->gen stands
 * still (see resp_json_cached). */
#define FAKE_RCACHE 64
struct rcache {
	const json_t *obj;        /* a stored resource, or */
	char *key;                /* a request (Kubernetes GETs) */
	uint64_t gen;
	char *s;
	size_t len;
};

struct listener;
struct faults;
struct journal;
struct delayer;

/* A cluster's Kubernetes side: its listener and identity. */
struct kcluster {
	char *key;                /* "project/location/name" */
	char *name;
	char *issuer;             /* service-account token issuer */
	struct listener *l;       /* NULL until started (or never, unstarted) */
	int port;
	bool removed;             /* deleted; freed once its listener stopped */
	/* recent changes, for watches: [{"rv", "type", "key", "object"}];
	 * in memory only (a restarted fake answers older watches 410) */
	json_t *events;
	uint64_t events_from;     /* history covers resourceVersions > this */
};

struct fake {
	struct fake_options opt;
	char *listen_host;
	int listen_port;
	char url[64];
	pthread_mutex_t lock;
	json_t *db;               /* every resource; see dispatch.c */
	uint64_t gen;             /* bumped by every request that may write */
	long long clock_skew_ms;  /* added to the wall clock (fake_clock_ms) */
	struct rcache rcache[FAKE_RCACHE];
	uint64_t seed;
	struct faults *faults;
	struct journal *journal;
	struct sa_key *sa_keys;
	size_t n_sa_keys;
	struct blob *blobs;
	size_t n_blobs;
	/* PKI, made on first use (or loaded from the state directory) */
	EVP_PKEY *ca_key;
	X509 *ca;
	char *ca_pem;
	char *tls_key_pem, *tls_cert_pem;
	EVP_PKEY *token_key;      /* signs Kubernetes service-account tokens */
	/* network */
	bool started;
	struct listener *api;
	struct kcluster **kc;
	size_t n_kc;
	struct kcluster **closing; /* removed clusters, freed after unlock */
	size_t n_closing;
	struct delayer *delayer;
	bool stopped;
};

/* ---- dispatch.c ---- */
void fake_dispatch(struct fake *f, struct freq *rq, struct fresp *rs);
int freq_parse_target(struct freq *rq, const char *target);
void freq_clear(struct freq *rq);
const char *freq_arg(const struct freq *rq, const char *name);
const char *freq_header(const struct freq *rq, const char *name);

void resp_json(struct fresp *rs, int status, json_t *v); /* steals v */
/* 200 with a stored resource (borrowed), serialized once per state
 * generation: only for routes flagged R_PURE. */
void resp_json_cached(struct fake *f, struct fresp *rs, const json_t *v);
void rcache_clear(struct fake *f);
/* The same, keyed by a string: true (and rs filled) on a hit. */
bool rcache_get_key(struct fake *f, const char *key, struct fresp *rs);
void rcache_put_key(struct fake *f, const char *key, const struct fresp *rs);
void resp_bytes(struct fresp *rs, int status, const char *ctype,
                const void *data, size_t len);
void resp_header(struct fresp *rs, const char *name, const char *fmt, ...)
	MV_PRINTF(3, 4);
/* Google's error shape {"error":{"code","message","status","errors"}}. */
void resp_gerr(struct fresp *rs, int code, const char *reason,
               const char *fmt, ...) MV_PRINTF(4, 5);
/* 400 INVALID_ARGUMENT with field violations (json array of
 * {"field","description"}); `message` is every description joined. */
void resp_gerr_invalid(struct fresp *rs, json_t *violations);
const char *google_status_name(int code);

/* ---- util.c ---- */
/* obj[key] as a string, "" when absent or not a string. */
static inline const char *
fake_jstr(const json_t *obj, const char *key)
{
	const char *s = json_string_value(json_object_get(obj, key));

	return s ? s : "";
}

uint64_t fake_hash64(const char *kind, const char *a, const char *b,
                     const char *c);
double fake_hash_unit(uint64_t seed, const char *rule, const char *path,
                      uint64_t n);
char *fake_pct_decode(const char *s, size_t len, bool plus_space);
void fake_now_rfc3339(char *buf, size_t len, bool millis_tz);
/* Milliseconds: wall clock (stored times, they survive --state) or
 * monotonic (deadlines); fake_ms_precise for durations. */
long long fake_ms(bool wall);
double fake_ms_precise(void);
void fake_time_rfc3339(long long t, char *buf, size_t len);
bool fake_name_ok(const char *name, size_t max);
bool fake_glob_path(const char *pattern, char *const *seg, size_t n_seg);
json_t *fake_json_path(json_t *root, const char *dotted);
/* Resolve a resource reference (full URL with any base, or relative) to
 * its path after "/compute/v1/" or "projects/": returns a pointer into s. */
const char *fake_resource_path(const char *s);
/* The last path segment of a URL or path. */
const char *fake_basename(const char *s);
const char *fake_region_of(const char *zone, char *buf, size_t len);
bool fake_zone_ok(const char *zone);
/* Write a decimal uint64 into buf. */
const char *fake_u64(uint64_t v, char *buf, size_t len);
/* Sorted keys of an object whose keys start with prefix (json array of
 * strings, new reference). */
json_t *fake_sorted_keys(json_t *obj, const char *prefix);
json_t *fake_db(struct fake *f, const char *table);
/* The fake's own clock (wall-clock ms, moved on by POST /_fake/clock):
 * operations and requestIds age on it. */
long long fake_clock_ms(struct fake *f);

/* ---- schema.c ---- */
/* The compiled-in schema files (embed.cmake makes the tables). */
struct fake_schema_blob {
	const char *name;
	const char *data;
	size_t len;
};
extern const struct fake_schema_blob fake_schema_blobs[];
extern const struct fake_schema_blob fake_kube_schema_blobs[];

/* Validate a JSON body against the request message of `method_id`
 * (e.g. "compute.instances.insert"); violations appended to `out`
 * (array of {"field","description"}).  Returns the number added. */
size_t schema_validate(const char *method_id, json_t *body, json_t *out);
bool schema_has_method(const char *method_id);

/* ---- faults.c ---- */
int faults_load(struct fake *f, const char *name, const char *buf,
                size_t len, struct faults **out, struct mv_err *err);
void faults_free(struct faults *fl);
/* Decide for one request; fills rs (status/delay/reset) and rq's fault
 * effects.  Returns true when a rule fired. */
bool faults_apply(struct fake *f, struct freq *rq, struct fresp *rs);
json_t *faults_json(const struct faults *fl);
void faults_reset_counters(struct faults *fl);

/* ---- journal.c ---- */
int journal_open(const char *path, struct journal **out, struct mv_err *err);
void journal_close(struct journal *j);
void journal_record(struct journal *j, const struct freq *rq,
                    const struct fresp *rs, double ms);
/* JSON lines with seq > since (and listener when non-NULL). */
char *journal_dump(struct journal *j, uint64_t since, const char *listener,
                   size_t *len);
void journal_clear(struct journal *j);

/* ---- auth.c: OAuth token endpoint and the token registry ---- */
void auth_token_endpoint(struct fake *f, struct freq *rq, struct fresp *rs);
/* A new Google access token for `email` (registered); heap string. */
char *auth_issue_token(struct fake *f, const char *email, int ttl);
/* Is the request's bearer token one we issued (and unexpired)? */
bool auth_google_ok(struct fake *f, const struct freq *rq);
int auth_load_sa_key(struct fake *f, const char *path, struct mv_err *err);

/* ---- pki (server.c) ---- */
int fake_pki_ensure(struct fake *f, struct mv_err *err);
char *fake_ca_b64(struct fake *f);

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

/* ---- gke.c, compute.c, storage.c, metadata.c ---- */
extern const struct route gke_routes[];
extern const struct route compute_routes[];
extern const struct route compute_inst_routes[];
extern const struct route compute_fw_routes[];
extern const struct route compute_group_routes[];
bool c_request_replayed(struct fake *f, struct freq *rq, struct fresp *rs);
extern const struct route storage_routes[];
extern const struct route metadata_routes[];
void gke_remove_cluster_now(struct fake *f, const char *key);
/* Advance a GKE or Compute operation on read; returns the public JSON. */

/* An operation: kept in db["operations"][key] as {"public": {...},
 * "polls": N, "effect": {...}}; effects run when it turns DONE. */
/* `effects` (stolen) is an array run when the op is DONE, or
 * {"ok": [...], "error": [...]} with the effects of a fault-failed op.
 * Keys starting "compute/" make a Compute operation.  Returns a copy of
 * the public operation (new reference). */
json_t *op_new(struct fake *f, struct freq *rq, const char *key,
               json_t *public, json_t *effects);
/* A read of the operation (advances it); NULL when there is none. */
json_t *op_poll(struct fake *f, const char *key);
/* Its current state without counting as a read (lists, requestId
 * replays); finishes it when it is due all the same. */
json_t *op_peek(struct fake *f, const char *key);

/* compute.c, for the metadata server */
json_t *compute_find_instance(struct fake *f, const char *name,
                              char *key, size_t keylen);
const char *compute_project_number(const char *project, char *buf,
                                   size_t len);

/* ---- http.c: listeners ---- */
int listener_start(struct fake *f, const char *name, struct kcluster *kc,
                   const char *host, int port, bool tls,
                   struct listener **out, struct mv_err *err);
int listener_port(const struct listener *l);
void listener_stop(struct listener *l);
int delayer_start(struct fake *f, struct mv_err *err);
void delayer_stop(struct fake *f);

/* ---- kube (issue 4) ---- */
struct kcluster *kube_cluster_add(struct fake *f, const char *key,
                                  const char *name, json_t *cluster,
                                  struct mv_err *err);
void kube_cluster_remove(struct fake *f, const char *key);
struct kcluster *kube_cluster_by_name(struct fake *f, const char *name);
void kube_dispatch(struct fake *f, struct freq *rq, struct fresp *rs);
void kube_free_all(struct fake *f);
void kube_cluster_free(struct kcluster *kc);
bool kctl_tick(struct fake *f, struct kcluster *kc);
/* A Kubernetes Status object (new reference). */
json_t *kube_status(int code, const char *reason, const char *msg);
const char *kube_reason_for(int code);

#endif
