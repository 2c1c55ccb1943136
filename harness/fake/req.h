/* harness/fake/req.h - a request and its answer (req.c; base layer):
 * the parsed request, the response being built, the helpers that fill
 * it (Google's error shape, the Kubernetes Status), and the cache of
 * serialized answers. */
#ifndef MESHVM_FAKE_REQ_H
#define MESHVM_FAKE_REQ_H

#include "harness/fake/state.h"

#define FAKE_MAX_SEG 32
#define FAKE_MAX_CAPS 8
#define FAKE_API_LISTENER "gcp"

struct fake_kv {
	char *k;
	char *v; /* may be NULL for "?flag" query args */
};

struct freq {
	const char *listener;     /* FAKE_API_LISTENER or a cluster name */
	struct kcluster *kc;      /* the cluster behind a Kubernetes listener */
	bool cluster_name;        /* kc is looked up by listener name under
	                           * the lock (fake_handle) */
	const char *method;
	char *path;               /* as received (percent-encoded), no query */
	char *query;              /* raw query without '?', "" when none */
	char *seg[FAKE_MAX_SEG];  /* decoded path segments */
	char *mem;                /* path, query and seg: freq_parse_target's
	                           * one allocation */
	size_t n_seg;
	bool seg_overflow;        /* more segments than FAKE_MAX_SEG */
	bool bad_encoding;        /* a %00 in the path or the query: 400 */
	struct fake_kv *args;     /* decoded query arguments, in order */
	size_t n_args;
	const struct fake_kv *hdr; /* headers as received */
	size_t n_hdr;
	const char *body;
	size_t body_len;
	/* A Cloud Storage upload body the transport streamed to an unlinked
	 * temp file (body is NULL, body_len 0 then): its descriptor, read
	 * from offset 0, and its length. */
	bool body_in_file;
	int body_fd;
	size_t body_file_len;
	char body_sha256[65];     /* hex, filled before the lock is taken */
	bool have_digests;        /* an upload's md5 and crc32c, likewise */
	uint8_t md5[16];
	uint32_t crc32c;
	bool too_large;
	bool throttled;           /* bodies in flight past the limit: 429 */
	char base[160];           /* scheme://host:port the client used */
	const char *cap[FAKE_MAX_CAPS]; /* route captures ({} segments) */
	size_t n_cap;
	json_t *json;             /* the parsed JSON body, when there is one */
	/* A Kubernetes apply body (YAML, aliases expanded) parsed before the
	 * lock is taken: the object, or the reason it is not one. */
	bool body_yaml_done;
	json_t *body_yaml;
	char *body_yaml_err;
	bool mutating;
	bool pure;                /* changed nothing: the generation stands */
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
	/* body is shared's data, not a malloc'd copy (a cached answer):
	 * release it with resp_body_free, never free() */
	struct rblob *shared;
	char hdrs[512];           /* "Name: value\n" lines */
	unsigned delay_ms;
	bool reset;
	/* A streamed answer (Kubernetes watch): body first, then what
	 * stream_poll() produces until it says the end.  stream_poll takes
	 * the lock itself; it returns 1 with *out (heap) filled, 0 when there
	 * is nothing yet (asked again after FAKE_STREAM_POLL_MS), -1 at the
	 * end. */
	void *stream;
	int (*stream_poll)(struct fake *f, void *stream, char **out,
	                   size_t *len);
	void (*stream_free)(void *stream);
};

#define FAKE_STREAM_POLL_MS 100

/* ---- requests ---- */
/* Split "path?query" into decoded segments and arguments; -1 on a
 * target that cannot be one (see req.c). */
int freq_parse_target(struct freq *rq, const char *target);
/* The same with the path (plen bytes, no '?') and the raw query apart. */
int freq_parse(struct freq *rq, const char *path, size_t plen,
               const char *query);
void freq_clear(struct freq *rq);
const char *freq_arg(const struct freq *rq, const char *name);
const char *freq_header(const struct freq *rq, const char *name);

/* ---- responses ---- */
void resp_json(struct fresp *rs, int status, json_t *v); /* steals v */
/* 200 with a stored resource (borrowed), serialized once per state
 * generation: only for routes flagged R_PURE. */
void resp_json_cached(struct fake *f, struct fresp *rs, const json_t *v);
void rcache_clear(struct fake *f);
/* Drop the answer's body, whether its own or shared. */
void resp_body_free(struct fresp *rs);
/* The body as a malloc'd string the caller owns (NULL when there is
 * none or memory ran out); rs->body is gone afterwards. */
char *resp_body_take(struct fresp *rs);
void rblob_release(struct rblob *b);
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

/* ---- the Kubernetes Status ---- */
struct kkind;
/* A Kubernetes Status object (new reference). */
json_t *kube_status(int code, const char *reason, const char *msg);
const char *kube_reason_for(int code);
/* Answer with a Status (details stolen, may be NULL). */
void kube_err(struct fresp *rs, int code, const char *reason,
              json_t *details, const char *fmt, ...) MV_PRINTF(5, 6);
/* A Status's details naming an object of a kind (new reference). */
json_t *kube_details(const struct kkind *k, const char *name);
void kube_not_found(struct fresp *rs, const struct kkind *k,
                    const char *name);
/* JSON as the API server labels it (application/json). */
void kube_json(struct fresp *rs, int status, json_t *v);

#endif
