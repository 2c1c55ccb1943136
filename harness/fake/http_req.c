/* harness/fake/http_req.c - the request path of the listeners: a
 * request's headers, query and body gathered from libmicrohttpd (bodies
 * bounded: in memory up to FAKE_MAX_BODY and --max-inflight-bytes over
 * all requests, Cloud Storage media streamed to an unlinked temp file),
 * handed to the dispatcher, and its answer queued: from the cache's own
 * bytes, streamed, delayed (http_delay.c) or as a TCP reset.
 *
 * Paths and query strings are handed to the dispatcher still
 * percent-encoded (http.c turns MHD's unescaping off): a GCS object name
 * "a%2Fb" must stay one path segment.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness/fake/http_int.h"

/* Per-request state, from the first callback to completion. */
struct conn {
	struct listener *l;
	char *body;
	size_t len, cap;
	bool too_large;
	bool throttled;    /* past --max-inflight-bytes: 429 */
	size_t reserved;   /* its share of the bodies in flight */
	bool answered;     /* rs holds the answer of a delayed request */
	bool corked;       /* TCP_CORK set until the answer is out */
	int fd;            /* an upload body streamed to disk, or -1 */
	struct conn_track *ct;
	struct fresp rs;
};

/* Count n more body bytes in flight for this request; false (and
 * nothing counted) past the limit. */
static bool
inflight_reserve(struct fake *f, struct conn *cn, size_t n)
{
	size_t max = fst(f)->opt.max_inflight_bytes;
	size_t cur = atomic_load(&fst(f)->inflight);

	do {
		if (n > max || cur > max - n)
			return false;
	} while (!atomic_compare_exchange_weak(&fst(f)->inflight, &cur,
	                                       cur + n));
	cn->reserved += n;
	return true;
}

static void
inflight_release(struct fake *f, struct conn *cn)
{
	atomic_fetch_sub(&fst(f)->inflight, cn->reserved);
	cn->reserved = 0;
}

struct kv_vec {
	struct fake_kv *v;
	size_t n, cap;
	char *query;    /* rebuilt raw query */
	size_t qlen;
	/* v's first entries, without a malloc: most requests have fewer */
	struct fake_kv inline_v[16];
};

static enum MHD_Result
collect_header(void *cls, enum MHD_ValueKind kind, const char *key,
               const char *value)
{
	struct kv_vec *h = cls;

	(void)kind;
	if (h->v == NULL) {
		h->v = h->inline_v;
		h->cap = sizeof(h->inline_v) / sizeof(h->inline_v[0]);
	}
	if (h->n == h->cap) {
		size_t cap = h->cap * 2;
		struct fake_kv *nv = h->v == h->inline_v
		                             ? malloc(cap * sizeof(*nv))
		                             : realloc(h->v, cap * sizeof(*nv));
		if (nv == NULL)
			return MHD_NO;
		if (h->v == h->inline_v)
			memcpy(nv, h->inline_v, sizeof(h->inline_v));
		h->v = nv;
		h->cap = cap;
	}
	h->v[h->n].k = (char *)key;
	h->v[h->n].v = (char *)(value ? value : "");
	h->n++;
	return MHD_YES;
}

static enum MHD_Result
collect_arg(void *cls, enum MHD_ValueKind kind, const char *key,
            const char *value)
{
	struct kv_vec *q = cls;
	size_t add = strlen(key) + (value ? strlen(value) + 1 : 0) + 1;
	char *nq = realloc(q->query, q->qlen + add + 1);

	(void)kind;
	if (nq == NULL)
		return MHD_NO;
	q->query = nq;
	q->qlen += (size_t)sprintf(q->query + q->qlen, "%s%s%s%s",
	                           q->qlen ? "&" : "", key, value ? "=" : "",
	                           value ? value : "");
	return MHD_YES;
}

/* No unescaping: the dispatcher decodes segments itself. */
static bool
host_ok(const char *h)
{
	size_t n = h ? strlen(h) : 0;

	if (n == 0 || n > 100)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = h[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || strchr(".-:[]", c)))
			return false;
	}
	return true;
}

/* A streamed answer: the body first, then whatever stream_poll() has;
 * while it has nothing, the connection is parked with the delayer. */
struct stream_ctx {
	struct listener *l;
	struct MHD_Connection *c;
	struct fresp rs;      /* body = pending bytes, stream = the source */
	size_t off;
	bool ended;
};

static ssize_t
stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct stream_ctx *s = cls;
	char *more = NULL;
	size_t n;
	int rc;

	(void)pos;
	for (;;) {
		if (s->rs.body != NULL && s->off < s->rs.len) {
			n = s->rs.len - s->off;
			if (n > max)
				n = max;
			memcpy(buf, s->rs.body + s->off, n);
			s->off += n;
			return (ssize_t)n;
		}
		free(s->rs.body);
		s->rs.body = NULL;
		s->off = s->rs.len = 0;
		if (s->ended)
			return MHD_CONTENT_READER_END_OF_STREAM;
		rc = s->rs.stream_poll(s->l->f, s->rs.stream, &more, &n);
		if (rc < 0) {
			free(more);
			s->ended = true;
			return MHD_CONTENT_READER_END_OF_STREAM;
		}
		if (rc == 0 || n == 0) {
			free(more);
			if (fst(s->l->f)->delayer == NULL ||
			    delayer_add(fst(s->l->f)->delayer, s->c, s->l,
			                FAKE_STREAM_POLL_MS) != 0)
				return MHD_CONTENT_READER_END_WITH_ERROR;
			return 0; /* resumed after the poll interval */
		}
		s->rs.body = more;
		s->rs.len = n;
	}
}

static void
stream_done(void *cls)
{
	struct stream_ctx *s = cls;

	free(s->rs.body);
	if (s->rs.stream_free != NULL)
		s->rs.stream_free(s->rs.stream);
	free(s);
}

static struct MHD_Response *
stream_response(struct listener *l, struct MHD_Connection *c,
                struct fresp *rs)
{
	struct stream_ctx *s = calloc(1, sizeof(*s));
	struct MHD_Response *r;

	if (s == NULL)
		return NULL;
	s->l = l;
	s->c = c;
	s->rs = *rs;
	/* the context owns body and stream now (a copy of a shared body:
	 * stream_read frees what it has sent) */
	s->rs.shared = NULL;
	s->rs.body = resp_body_take(rs);
	if (s->rs.body == NULL)
		s->rs.len = 0;
	rs->stream = NULL;
	r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384,
	                                      stream_read, s, stream_done);
	if (r == NULL)
		stream_done(s);
	return r;
}

static void
shared_free(void *blob)
{
	rblob_release(blob);
}

/* A cached answer as an MHD response, kept per thread and queued again
 * while the cache holds the same bytes (a GET polled in a loop): no
 * response built, no header copied, no free, per request.  MHD counts a
 * response's users, so one may be queued on many connections.  The
 * memo's response holds its blob, so the pointer compared cannot be
 * another blob's that took the freed one's place.  A thread's memo is
 * destroyed when it exits (MHD_stop_daemon joins it). */
struct resp_memo {
	const struct rblob *blob;
	int status;
	char ctype[128];
	struct MHD_Response *r;
};

static pthread_key_t memo_key;
static pthread_once_t memo_once = PTHREAD_ONCE_INIT;
static bool memo_ok;

static void
memo_free(void *p)
{
	struct resp_memo *m = p;

	if (m != NULL && m->r != NULL)
		MHD_destroy_response(m->r);
	free(m);
}

static void
memo_init(void)
{
	memo_ok = pthread_key_create(&memo_key, memo_free) == 0;
}

/* This thread's memo (NULL without one). */
static struct resp_memo *
memo_get(void)
{
	struct resp_memo *m;

	pthread_once(&memo_once, memo_init);
	if (!memo_ok)
		return NULL;
	m = pthread_getspecific(memo_key);
	if (m == NULL && (m = calloc(1, sizeof(*m))) != NULL &&
	    pthread_setspecific(memo_key, m) != 0) {
		free(m);
		m = NULL;
	}
	return m;
}

static bool
memo_matches(const struct resp_memo *m, const struct fresp *rs)
{
	return m != NULL && m->r != NULL && m->blob == rs->shared &&
	       m->status == rs->status && strcmp(m->ctype, rs->ctype) == 0;
}

/* Over TLS, libmicrohttpd (0.9.75) sends the headers as a TLS record
 * of their own, pushed at once, then the body one 16 KiB record per
 * gnutls_record_send(), over two or more turns of its event loop: the
 * client is woken for the headers alone and again for each record, and
 * on loopback every record runs the receive path separately.  Corked,
 * the records leave as full segments and the rest when the answer is
 * complete (http_on_completed uncorks): the client reads the answer in one
 * go.  (Linux caps a cork at 200 ms, should anything forget it.)  Not
 * for streams, whose events must leave as they come. */
static void
set_cork(struct MHD_Connection *c, bool on)
{
	const union MHD_ConnectionInfo *ci =
	        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	int v = on;

	if (ci != NULL)
		setsockopt(ci->connect_fd, IPPROTO_TCP, TCP_CORK, &v, sizeof(v));
}

static enum MHD_Result
send_answer(struct listener *l, struct MHD_Connection *c, struct conn *cn)
{
	struct fresp *rs = &cn->rs;
	struct MHD_Response *r;
	enum MHD_Result ret;
	char *line, *save = NULL;
	bool cork = l->tls && rs->stream == NULL;
	/* only a cached answer with no headers of its own is memoized */
	struct resp_memo *m = rs->stream == NULL && rs->shared != NULL &&
	                              rs->hdrs[0] == '\0'
	                      ? memo_get()
	                      : NULL;
	const struct rblob *blob = rs->shared;

	if (memo_matches(m, rs)) {
		resp_body_free(rs); /* the memo's response holds the blob */
		if (cork && !cn->corked) {
			set_cork(c, true);
			cn->corked = true;
		}
		return MHD_queue_response(c, (unsigned)rs->status, m->r);
	}
	if (rs->stream != NULL) {
		r = stream_response(l, c, rs);
	} else if (rs->shared != NULL) {
		/* a cached answer, sent from the cache's own bytes */
		r = MHD_create_response_from_buffer_with_free_callback_cls(
		        rs->len, rs->body, shared_free, rs->shared);
		if (r != NULL) {
			rs->shared = NULL; /* MHD holds the reference now */
			rs->body = NULL;
		}
	} else {
		r = MHD_create_response_from_buffer(rs->len,
		                                    rs->body ? rs->body : "",
		                                    rs->body ? MHD_RESPMEM_MUST_FREE
		                                             : MHD_RESPMEM_PERSISTENT);
		if (r != NULL)
			rs->body = NULL; /* MHD owns it now */
	}
	if (r == NULL)
		return MHD_NO;
	if (rs->ctype[0] != '\0')
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, rs->ctype);
	for (line = strtok_r(rs->hdrs, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *colon = strchr(line, ':');
		if (colon == NULL)
			continue;
		*colon = '\0';
		MHD_add_response_header(r, line, colon + 2);
	}
	if (cork && !cn->corked) {
		set_cork(c, true);
		cn->corked = true;
	}
	if (m != NULL) {
		/* the memo keeps this response instead of the one it had */
		if (m->r != NULL)
			MHD_destroy_response(m->r);
		m->r = r;
		m->blob = blob;
		m->status = rs->status;
		snprintf(m->ctype, sizeof(m->ctype), "%s", rs->ctype);
	}
	ret = MHD_queue_response(c, (unsigned)rs->status, r);
	if (m == NULL)
		MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result
reset_connection(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci =
	        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	struct linger lg = {1, 0};

	if (ci != NULL)
		setsockopt(ci->connect_fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	return MHD_NO; /* MHD closes the socket: with linger 0, an RST */
}

/* Cloud Storage media bytes go to disk as they arrive: a resumable
 * session's chunks (PUT) and media or multipart uploads (POST).  A
 * resumable session's start (POST, JSON metadata) stays in memory. */
static bool
upload_to_file(struct MHD_Connection *c, const char *url, const char *method)
{
	const char *type = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND,
	                                               "uploadType");

	if (strncmp(url, "/upload/storage/", 16) != 0 &&
	    strncmp(url, "/resumable/upload/storage/", 26) != 0)
		return false;
	if (strcmp(method, "PUT") == 0)
		return true;
	return strcmp(method, "POST") == 0 && type != NULL &&
	       (strcmp(type, "media") == 0 || strcmp(type, "multipart") == 0);
}

static int
write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* An unlinked temp file: nothing is left behind whatever happens. */
static int
upload_tmpfile(void)
{
	const char *dir = getenv("TMPDIR");
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/meshvm-fake-upload-XXXXXX",
	         dir != NULL && *dir != '\0' ? dir : "/tmp");
	fd = mkstemp(path);
	if (fd >= 0)
		unlink(path);
	return fd;
}

enum MHD_Result
http_on_request(void *cls, struct MHD_Connection *c, const char *url,
           const char *method, const char *version, const char *upload,
           size_t *upload_size, void **con_cls)
{
	struct listener *l = cls;
	struct conn *cn = *con_cls;
	struct kv_vec hv, qv;
	struct freq rq;
	const char *host;
	int rc;

	(void)version;
	if (cn == NULL) {
		const char *cl = MHD_lookup_connection_value(
		        c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
		const union MHD_ConnectionInfo *ci = MHD_get_connection_info(
		        c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
		unsigned long long want = cl ? strtoull(cl, NULL, 10) : 0;
		cn = calloc(1, sizeof(*cn));
		if (cn == NULL)
			return MHD_NO;
		cn->l = l;
		cn->fd = -1;
		*con_cls = cn;
		/* the headers are in: busy, and the normal idle timeout */
		cn->ct = ci ? ci->socket_context : NULL;
		conns_busy(l->conns, cn->ct, true);
		MHD_set_connection_option(c, MHD_CONNECTION_OPTION_TIMEOUT,
		                          (unsigned)fst(l->f)->opt.idle_timeout);
		/* Refuse an announced oversized body before reading it, and
		 * one that does not fit in what may be in flight. */
		if (upload_to_file(c, url, method)) {
			/* on disk: no 8 MiB cap, nothing held in memory */
			if (want > fst(l->f)->opt.max_upload_bytes)
				cn->too_large = true;
			else if ((cn->fd = upload_tmpfile()) < 0)
				return MHD_NO;
			else
				return MHD_YES;
		} else if (cl != NULL && want > FAKE_MAX_BODY)
			cn->too_large = true;
		else if (want > 0 && !inflight_reserve(l->f, cn, (size_t)want))
			cn->throttled = true;
		else
			return MHD_YES;
	}
	if (cn->answered)
		return cn->rs.reset ? reset_connection(c)
		                     : send_answer(l, c, cn);
	if (*upload_size > 0 && cn->fd >= 0 && !cn->too_large) {
		if (*upload_size > fst(l->f)->opt.max_upload_bytes - cn->len) {
			cn->too_large = true;
		} else if (write_all(cn->fd, upload, *upload_size) != 0) {
			return MHD_NO; /* the disk is full: drop the connection */
		} else {
			cn->len += *upload_size;
		}
		*upload_size = 0;
		return MHD_YES;
	}
	if (*upload_size > 0 && !cn->too_large && !cn->throttled) {
		if (cn->len + *upload_size > FAKE_MAX_BODY) {
			cn->too_large = true;
		} else if (cn->len + *upload_size > cn->reserved &&
		           !inflight_reserve(l->f, cn, cn->len + *upload_size -
		                                               cn->reserved)) {
			cn->throttled = true; /* a chunked body, counted as it comes */
		} else {
			if (cn->len + *upload_size + 1 > cn->cap) {
				size_t cap = (cn->len + *upload_size + 1) * 2;
				char *nb;
				if (cap > FAKE_MAX_BODY + 1)
					cap = FAKE_MAX_BODY + 1;
				nb = realloc(cn->body, cap);
				if (nb == NULL)
					return MHD_NO;
				cn->body = nb;
				cn->cap = cap;
			}
			memcpy(cn->body + cn->len, upload, *upload_size);
			cn->len += *upload_size;
		}
		*upload_size = 0;
		return MHD_YES;
	}
	if (*upload_size > 0) {
		*upload_size = 0; /* drain an oversized body */
		return MHD_YES;
	}
	memset(&rq, 0, sizeof(rq));
	hv.v = qv.v = NULL;
	hv.n = hv.cap = hv.qlen = qv.n = qv.cap = qv.qlen = 0;
	hv.query = qv.query = NULL;
	MHD_get_connection_values(c, MHD_HEADER_KIND, collect_header, &hv);
	MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, collect_arg, &qv);
	/* A VM's own listener serves its metadata where Google's is. */
	if (strncmp(l->name, FAKE_VM_LISTENER, strlen(FAKE_VM_LISTENER)) == 0 &&
	    strncmp(url, "/computeMetadata/", 17) == 0) {
		char *target = mv_strfmt("/vm/%s%s%s%s",
		                         l->name + strlen(FAKE_VM_LISTENER), url,
		                         qv.query ? "?" : "",
		                         qv.query ? qv.query : "");
		rc = target ? freq_parse_target(&rq, target) : -1;
		free(target);
	} else {
		/* url's path never has a '?': MHD took the query apart */
		rc = freq_parse(&rq, url, strlen(url), qv.query ? qv.query : "");
	}
	free(qv.query);
	if (rc != 0) {
		if (hv.v != hv.inline_v)
			free(hv.v);
		freq_clear(&rq);
		return MHD_NO;
	}
	rq.listener = l->name;
	rq.kc = l->kc;
	rq.method = method;
	rq.hdr = hv.v;
	rq.n_hdr = hv.n;
	rq.body = cn->body;
	rq.body_len = cn->too_large || cn->fd >= 0 ? 0 : cn->len;
	rq.body_in_file = cn->fd >= 0 && !cn->too_large;
	rq.body_fd = cn->fd;
	rq.body_file_len = rq.body_in_file ? cn->len : 0;
	rq.too_large = cn->too_large;
	rq.throttled = cn->throttled && !cn->too_large;
	host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host");
	if (host_ok(host)) {
		/* scheme "://" host, without printf: this runs for every
		 * request (host_ok bounds it to 100 bytes) */
		size_t sl = l->tls ? 8 : 7, hl = strlen(host);
		memcpy(rq.base, l->tls ? "https://" : "http://", sl);
		memcpy(rq.base + sl, host, hl + 1);
	} else
		snprintf(rq.base, sizeof(rq.base), "%s://%s:%d",
		         l->tls ? "https" : "http", fst(l->f)->host, l->port);
	fake_dispatch(l->f, &rq, &cn->rs);
	freq_clear(&rq);
	if (hv.v != hv.inline_v)
		free(hv.v);
	if (cn->rs.delay_ms > 0 && fst(l->f)->delayer != NULL) {
		unsigned ms = cn->rs.delay_ms;
		cn->rs.delay_ms = 0;
		cn->answered = true;
		if (delayer_add(fst(l->f)->delayer, c, l, ms) == 0)
			return MHD_YES;
	}
	if (cn->rs.reset)
		return reset_connection(c);
	cn->answered = true;
	return send_answer(l, c, cn);
}

void
http_on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
             enum MHD_RequestTerminationCode toe)
{
	struct conn *cn = *con_cls;

	(void)toe;
	if (cn == NULL)
		return;
	if (cn->corked)
		set_cork(c, false); /* the rest of the answer leaves now */
	conns_busy(((struct listener *)cls)->conns, cn->ct, false);
	inflight_release(((struct listener *)cls)->f, cn);
	free(cn->body);
	if (cn->fd >= 0)
		close(cn->fd);
	resp_body_free(&cn->rs);
	if (cn->rs.stream != NULL && cn->rs.stream_free != NULL)
		cn->rs.stream_free(cn->rs.stream); /* never sent */
	free(cn);
	*con_cls = NULL;
}
