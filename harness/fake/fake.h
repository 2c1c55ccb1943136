/* harness/fake/fake.h - the fake Google Cloud + Kubernetes API server.
 *
 * One libmicrohttpd server on 127.0.0.1 answers the Google APIs meshvm and
 * gcloud use (GKE v1, Compute v1, Cloud Storage JSON, serviceusage, OAuth
 * token, a per-VM metadata server) under one base URL; every GKE cluster
 * created through it gets its own HTTPS Kubernetes API listener.  State is
 * in memory (optionally persisted to a directory), request bodies are
 * validated against the real API schemas, and a fault profile can inject
 * errors, latency and resets deterministically.  docs/fake.md is the
 * user's guide; this header is the embedding contract:
 *
 *	struct fake_options o;
 *	struct fake *f;
 *	fake_options_init(&o);
 *	o.no_auth = true;
 *	if (fake_new(&o, &f, &err) || fake_start(f, &err)) ...
 *	use fake_url(f) ...         "http://127.0.0.1:PORT"
 *	fake_stop(f, &err);         closes listeners, saves --state
 *	fake_free(f);
 *
 * Nothing here prints; failures come back in struct mv_err.
 */
#ifndef MESHVM_FAKE_H
#define MESHVM_FAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

struct fake_options {
	const char *listen;       /* "HOST:PORT" (PORT 0 = any free): an IPv4
	                           * address of this host or namespace, not
	                           * the wildcard; clusters' APIs bind it too */
	const char *const *tls_san; /* more names/IPs for the server
	                           * certificate (with the listen address) */
	size_t n_tls_san;
	bool tls;                 /* HTTPS on the Google API listener too */
	bool no_auth;             /* accept any Authorization, or none */
	const char *const *sa_key_files; /* service-account JSON key files */
	size_t n_sa_key_files;    /* whose JWT assertions /token accepts */
	const char *state_dir;    /* load at start, save at stop; NULL = none */
	const char *faults_file;  /* YAML fault profile; NULL = none */
	const char *journal_file; /* JSON lines, appended; NULL = none */
	bool journal_bodies;      /* journal request bodies, secrets redacted */
	uint64_t seed;            /* fault decisions (a profile may override) */
	int op_polls;             /* an operation is DONE at the earliest
	                           * read that is at least the op_polls-th
	                           * (0 counts as 1) ... */
	int op_time_ms;           /* ... and at least op_time_ms after it
	                           * started (the fake's own clock) */
	int threads;              /* worker threads per listener (>= 1) */
	int idle_timeout;         /* seconds before an idle connection closes */
	int controller_delay_ms;  /* simulated controllers' delay: Deployments
	                           * become available, namespaces finish
	                           * terminating */
	int istiod_grace_ms;      /* the simulated istiod deletes a
	                           * disconnected WorkloadEntry after this */
	const char *lb_range;     /* IPv4 CIDR LoadBalancer Services' addresses
	                           * come from (need not outlive fake_new) */
	int watch_events;         /* watch history per cluster: at most this
	                           * many changes ... */
	size_t watch_bytes;       /* ... and about this many bytes */
	int max_connections;      /* per listener; at the cap the oldest idle
	                           * connection is closed for a new one */
	int header_timeout;       /* seconds a connection may take to send a
	                           * request's headers */
	size_t max_inflight_bytes; /* request bodies being received, all
	                           * together; past it 429 */
	size_t journal_bytes;     /* the in-memory journal keeps at most this
	                           * many bytes of lines */
	int traffic_speed;        /* the traffic clock runs this many times
	                           * as fast as the fake's (>= 1) */
	size_t max_upload_bytes;  /* a Cloud Storage upload body (streamed to
	                           * a temp file, not held in memory) or a
	                           * resumable session; past it 413 */
	bool boot_vms;            /* RUNNING instances with our boot metadata
	                           * boot as simulated VMs (harness/vmsim) */
	const char *boot_vms_dir; /* their directories (kept); NULL = a temp
	                           * directory removed at stop */
	int boot_vms_max;         /* VMs running at once (more wait) */
	int boot_timeout_s;       /* a VM's boot script runs at most this */
};

/* Defaults: 127.0.0.1:0, auth on, seed 0, op_polls 2 (one read still
 * says RUNNING), op_time_ms 0, one worker thread per core (2 to 16),
 * 60 s idle timeout, controllers' delay 1000 ms, LoadBalancer addresses
 * from 203.0.113.0/24 (documentation range), watch history 4096
 * changes and 64 MiB, 512 connections per listener, 10 s to send
 * headers, 64 MiB of bodies in flight, a 32 MiB journal in memory,
 * 5 GiB per Cloud Storage upload. */
void fake_options_init(struct fake_options *o);

struct fake;

/* Create the server's state (loading --state and --faults), without
 * opening any socket: requests can already go through fake_handle(). */
int fake_new(const struct fake_options *o, struct fake **out,
             struct mv_err *err);
/* Open the listeners (the API listener and one per existing cluster),
 * start their threads, and write nothing: the caller reports the URL. */
int fake_start(struct fake *f, struct mv_err *err);
/* "http://HOST:PORT" (https with tls) once started, else "". */
const char *fake_url(const struct fake *f);
/* The CA that signs the listeners' certificate, PEM (heap; NULL before
 * the first cluster or fake_start with tls). */
char *fake_ca_pem(struct fake *f);
/* Close every listener (waiting for requests in flight) and save the
 * state directory when one was given.  Safe to call twice. */
int fake_stop(struct fake *f, struct mv_err *err);
void fake_free(struct fake *f);

/* One request through the whole pipeline (faults, routing, auth, schema
 * validation, the handler, the journal) without a socket: tests and the
 * fuzzer use it.  `listener` is "gcp" for the Google APIs or a cluster
 * name for its Kubernetes API; `target` is the request target (path and
 * optional ?query, percent-encoded as on the wire); headers are "Name:
 * value" strings.  The answer is returned in a struct fake_response
 * (free with fake_response_free). */
struct fake_response {
	int status;            /* 0 = the connection was reset */
	char *content_type;
	char *body;            /* NUL-terminated; body_len excludes the NUL */
	size_t body_len;
	char *headers;         /* extra headers, "Name: value\n" each */
	unsigned delay_ms;     /* latency a fault asked for (not slept) */
};

int fake_handle(struct fake *f, const char *listener, const char *method,
                const char *target, const char *const *headers,
                size_t n_headers, const void *body, size_t body_len,
                struct fake_response *out);
void fake_response_free(struct fake_response *r);

/* Load a JSON fixture (docs/fake.md, "Starting from a fixture"):
 * clusters, buckets, objects and Kubernetes objects, each created
 * through the API as a client would; call it after fake_start() so
 * links carry the real URL.  Errors name the entry and the answer. */
int fake_load_fixture(struct fake *f, const char *path, struct mv_err *err);

/* The largest request body accepted (8 MiB); larger gets 413. */
#define FAKE_MAX_BODY ((size_t)8 << 20)

#endif
