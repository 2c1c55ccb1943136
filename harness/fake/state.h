/* harness/fake/state.h - the fake's shared state and the base helpers
 * (util.c).  The bottom of the fake's layers:
 *
 *   1. base      util, schema, journal, req, pki, kube_merge, kube_proto,
 *                kube_schema
 *   2. stores    kube_store, auth, ops
 *   3. services  compute*, storage, gke, metadata, faults, control, kube*,
 *                vmboot (--boot-vms; runs harness/vmsim, which knows no
 *                fake)
 *   4. router    dispatch
 *   5. transport http, server
 *
 * each calling only the layers below it (harness/tools/check-layers).
 *
 * `struct fake` is opaque outside server.c; everything the other layers
 * share lives in its first member, a struct fstate, reached with fst(f).
 *
 * Threading: every handler runs with fst(f)->lock held (fake_dispatch
 * takes it), so the resource tree (db), the journal ring, the fault
 * counters and the blobs need no locks of their own.  Listeners are
 * started under the lock but stopped outside it (their threads may be
 * waiting for it): handlers queue removed clusters on `closing` and
 * fake_dispatch frees them after unlocking.
 */
#ifndef MESHVM_FAKE_STATE_H
#define MESHVM_FAKE_STATE_H

#include <jansson.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/util.h"
#include "harness/fake/fake.h"
#include "harness/fake/pki.h"

struct listener;
struct faults;
struct journal;
struct delayer;
struct freq;
struct fresp;
struct traffic;
struct vmboot;

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

/* An immutable answer body shared by the cache and the answers being
 * sent (req.c): freed by whoever drops the last reference. */
struct rblob {
	atomic_size_t refs;
	size_t len;
	char data[];              /* len bytes and a NUL */
};

/* Serialized answers of stored resources, valid while the generation
 * stands still (see resp_json_cached). */
#define FAKE_RCACHE 64
struct rcache {
	const json_t *obj;        /* a stored resource, or */
	char *key;                /* a request (Kubernetes GETs) */
	uint64_t gen;
	struct rblob *blob;
};

#define FAKE_MAX_LB 8
#define FAKE_ISTIOD_PORT 15012
#define FAKE_ISTIOD_LISTENER "istiod:" /* + cluster name */
#define FAKE_VM_LISTENER "vm:"         /* + instance name */
#define FAKE_MAX_VMNET 16

/* A booted VM's own listener (compute_vmnet.c). */
struct fake_vmnet {
	char name[64];            /* the instance */
	struct listener *l;
};

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
	size_t events_bytes;      /* their estimated size */
	/* the simulated istiod on loopback LoadBalancer addresses
	 * (kube_istiod.c), stopped with the cluster */
	struct listener *lb_l[FAKE_MAX_LB];
	char lb_ip[FAKE_MAX_LB][16];
	size_t n_lb;
};

/* How services get a listener without knowing the transport: the
 * server installs http.c's implementation (fst(f)->net) at start. */
struct fake_net {
	int (*listen)(struct fake *f, const char *name, struct kcluster *kc,
	              int port, struct listener **out, struct mv_err *err);
	int (*port)(const struct listener *l);
	void (*stop)(struct listener *l);
	/* plain HTTP on a given IPv4 address (the simulated istiod on a
	 * LoadBalancer address) */
	int (*listen_plain)(struct fake *f, const char *name,
	                    struct kcluster *kc, const char *host, int port,
	                    struct listener **out, struct mv_err *err);
};

struct fstate {
	struct fake_options opt;
	uint32_t lb_net;          /* --lb-range, parsed: network address */
	unsigned lb_bits;         /* and prefix length */
	char url[96];
	char host[64];            /* the address every listener binds (--listen) */
	pthread_mutex_t lock;
	json_t *db;               /* every resource; see dispatch.c */
	uint64_t gen;             /* bumped by every request that may write */
	long long clock_skew_ms;  /* added to the wall clock (fake_clock_ms) */
	struct rcache rcache[FAKE_RCACHE];
	uint64_t seed;
	struct faults *faults;
	struct traffic *traffic;   /* simulated traffic (traffic.c) */
	struct vmboot *vmboot;     /* --boot-vms (vmboot.c), or NULL */
	struct journal *journal;
	struct sa_key *sa_keys;
	size_t n_sa_keys;
	size_t tokens_kept;       /* issued tokens after the last pruning */
	struct blob *blobs;
	size_t n_blobs;
	json_t *blob_index;       /* key -> position in blobs (storage.c) */
	json_t *inst_index;       /* instance name -> key (compute_inst.c) */
	struct fake_pki pki;      /* made on first use, or loaded */
	/* network, through the server's interface */
	const struct fake_net *net; /* NULL until started */
	struct delayer *delayer;  /* http_delay.c: latency faults */
	atomic_size_t inflight;   /* request body bytes being received */
	bool started;
	bool stopped;
	struct fake_vmnet vmnet[FAKE_MAX_VMNET]; /* VM listeners, until stop */
	size_t n_vmnet;
	struct kcluster **kc;
	size_t n_kc;
	struct kcluster **closing; /* removed clusters, freed after unlock */
	size_t n_closing;
	/* what an operation's effect {"cluster_delete": KEY} does (the
	 * server installs gke_remove_cluster_now) */
	void (*on_cluster_delete)(struct fake *f, const char *key);
	/* POST /_fake/snapshot: write the --state directory now, under the
	 * lock (the server installs it) */
	int (*on_snapshot)(struct fake *f, struct mv_err *err);
};

/* The shared part of a fake: the first member of struct fake. */
static inline struct fstate *
fst(struct fake *f)
{
	return (struct fstate *)(void *)f;
}

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
/* The same with the decoded length (a %00 makes it differ from strlen). */
char *fake_pct_decode_n(const char *s, size_t len, bool plus_space,
                        size_t *out_len);
/* The same into out (room for len + 1 bytes); the decoded length. */
size_t fake_pct_decode_into(const char *s, size_t len, bool plus_space,
                            char *out);
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
/* An IPv4 CIDR "A.B.C.D/N" (host bits zero): 0, or -1. */
int fake_cidr4(const char *s, uint32_t *net, unsigned *bits);
/* Write a decimal uint64 into buf. */
const char *fake_u64(uint64_t v, char *buf, size_t len);
/* CRC32C (Castagnoli), as Cloud Storage computes it. */
uint32_t fake_crc32c(const void *data, size_t len);
/* A project's number (deterministic, from its id). */
const char *fake_project_number(const char *project, char *buf, size_t len);
/* Sorted keys of an object whose keys start with prefix (json array of
 * strings, new reference). */
json_t *fake_sorted_keys(json_t *obj, const char *prefix);
json_t *fake_db(struct fake *f, const char *table);
/* The fake's own clock (wall-clock ms, moved on by POST /_fake/clock):
 * operations and requestIds age on it. */
long long fake_clock_ms(struct fake *f);

#endif
