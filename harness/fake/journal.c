/* harness/fake/journal.c - one JSON line per request: to the --journal
 * file and to an in-memory ring that GET /_fake/journal serves.  The ring
 * keeps at most JOURNAL_RING entries and --journal-bytes of lines (long
 * query strings make long lines), so memory stays bounded however long
 * the fake runs.  Lines for the file are queued under the fake's lock
 * (so they stay in seq order) and written and flushed by journal_flush(),
 * which the pipeline calls after it has let the lock go, before the
 * answer leaves: a client that reads the file after its answer finds its
 * line there, and no write or fflush happens under the fake's lock.
 *
 * The ring keeps each request as a compact record (struct jrec: the
 * values, not their JSON) and writes the JSON line from it when the
 * ring is read; the line's exact length is counted when the request is
 * recorded, so --journal-bytes bounds the lines a reader gets as
 * before (and the records, smaller than their lines, with them).
 * Formatting every line as it came was most of the journal's cost on a
 * GET, under the fake's lock. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/sha256.h"
#include "harness/fake/journal.h"
#include "harness/fake/journal_fmt.h"

#define JOURNAL_RING 20000

/* A request as the ring keeps it; its line is jrec_format()'s. */
struct jrec {
	uint64_t seq;
	int64_t sec;             /* wall clock, and its milliseconds */
	uint64_t us;             /* the request's time, microseconds */
	uint64_t body_size;
	uint64_t status;
	size_t body_len;         /* of the ,"body"... text, 0 if none */
	unsigned delay_ms;
	unsigned short msec;
	bool mutating, reset, has_fault, has_digest;
	unsigned char n_hdr;     /* kept headers, in the line's order */
	unsigned char hdr_k[8];  /* their index in kept_headers */
	/* NUL-terminated: listener, method, path, query, the n_hdr header
	 * values (Authorization already redacted), the digest when
	 * has_digest, the fault when has_fault; then body_len bytes */
	char s[];
};

struct jentry {
	uint64_t seq;
	struct jrec *rec;
	const char *listener; /* in rec */
	size_t size;    /* what it counts against max_bytes: as before the
	                 * records, the line, its NUL and the listener's
	                 * name with its NUL */
	size_t cap;     /* rec's allocation */
};

struct journal {
	FILE *fp;
	pthread_mutex_t fmu;      /* the file and the queue for it */
	char **queue;             /* lines not yet written, in seq order */
	size_t n_queue, cap_queue;
	struct jentry ring[JOURNAL_RING];
	size_t head, count;
	size_t bytes, max_bytes;  /* of the ring's lines */
	bool bodies;              /* --journal-bodies */
	uint64_t seq;
	time_t ts_sec;            /* the second ts_text spells */
	char ts_text[24];         /* "YYYY-MM-DDTHH:MM:SS" */
	size_t ts_len;
	struct jbuf line;         /* where a line is built, kept between lines */
	struct jbuf body;         /* a request's body text (--journal-bodies) */
	struct jbuf scratch;      /* a record the ring does not keep */
};

int
journal_open(const char *path, size_t max_bytes, bool bodies,
             struct journal **out, struct mv_err *err)
{
	struct journal *j = calloc(1, sizeof(*j));

	*out = NULL;
	if (j == NULL)
		return mv_err_set(err, MV_EXIT_FAIL, "journal: out of memory");
	j->max_bytes = max_bytes;
	j->bodies = bodies;
	pthread_mutex_init(&j->fmu, NULL);
	if (path != NULL) {
		j->fp = fopen(path, "ae");
		if (j->fp == NULL) {
			journal_close(j);
			return mv_err_sys(err, errno, "%s", path);
		}
		setvbuf(j->fp, NULL, _IOFBF, 1 << 16);
	}
	*out = j;
	return 0;
}

void
journal_flush(struct journal *j)
{
	if (j == NULL || j->fp == NULL)
		return;
	pthread_mutex_lock(&j->fmu);
	if (j->n_queue > 0) {
		for (size_t i = 0; i < j->n_queue; i++) {
			fputs(j->queue[i], j->fp);
			fputc('\n', j->fp);
			free(j->queue[i]);
		}
		j->n_queue = 0;
		fflush(j->fp);
	}
	pthread_mutex_unlock(&j->fmu);
}

void
journal_clear(struct journal *j)
{
	if (j == NULL)
		return;
	for (size_t i = 0; i < JOURNAL_RING; i++) {
		free(j->ring[i].rec);
		j->ring[i].rec = NULL;
		j->ring[i].listener = NULL;
		j->ring[i].cap = 0;
	}
	j->head = j->count = 0;
	j->bytes = 0;
}

void
journal_close(struct journal *j)
{
	if (j == NULL)
		return;
	journal_flush(j);
	journal_clear(j);
	if (j->fp != NULL)
		fclose(j->fp);
	free(j->queue);
	free(j->line.p);
	free(j->body.p);
	free(j->scratch.p);
	pthread_mutex_destroy(&j->fmu);
	free(j);
}

/* Forget the oldest entry of the ring; its allocation stays when it is
 * the slot the next line goes to (keep), which then reuses it. */
static void
drop_oldest(struct journal *j, bool keep)
{
	struct jentry *e = &j->ring[j->head];

	j->bytes -= e->size;
	if (!keep) {
		free(e->rec);
		e->rec = NULL;
		e->cap = 0;
	}
	e->listener = NULL;
	e->size = 0;
	j->head = (j->head + 1) % JOURNAL_RING;
	j->count--;
}

/* The date and time of day of second sec in j->ts_text, formatted once
 * a second; its length. */
static size_t
ts_text(struct journal *j, time_t sec)
{
	if (sec != j->ts_sec || j->ts_text[0] == '\0') {
		struct tm tm;
		gmtime_r(&sec, &tm);
		j->ts_len = strftime(j->ts_text, sizeof(j->ts_text),
		                     "%Y-%m-%dT%H:%M:%S", &tm);
		j->ts_sec = sec;
	}
	return j->ts_len;
}

/* A time as RFC 3339 with milliseconds and "-00:00". */
static void
jb_time(struct journal *j, struct jbuf *b, time_t sec, unsigned m)
{
	char ms[5];

	ts_text(j, sec);
	ms[0] = '.';
	ms[1] = (char)('0' + m / 100);
	ms[2] = (char)('0' + m / 10 % 10);
	ms[3] = (char)('0' + m % 10);
	JB_LIT(b, "\"");
	jb_putn(b, j->ts_text, j->ts_len);
	jb_putn(b, ms, 4);
	JB_LIT(b, "-00:00\"");
}

/* Headers worth keeping; Authorization only as its scheme. */
static const char *const kept_headers[] = {
	"accept", "authorization", "content-type", "metadata-flavor",
	"user-agent", "x-goog-api-client", "x-goog-user-project", NULL};

#define N_KEPT (sizeof(kept_headers) / sizeof(kept_headers[0]) - 1)

/* Index in kept_headers of header i's name, or -1.  Their lengths all
 * differ: one comparison at most. */
static int
kept_index(const struct freq *rq, size_t i)
{
	int k;

	switch (strlen(rq->hdr[i].k)) {
	case 6: k = 0; break;
	case 13: k = 1; break;
	case 12: k = 2; break;
	case 15: k = 3; break;
	case 10: k = 4; break;
	case 17: k = 5; break;
	case 19: k = 6; break;
	default: return -1;
	}
	return strcasecmp(rq->hdr[i].k, kept_headers[k]) == 0 ? k : -1;
}

/* The kept headers: their kept_headers index in the order of their
 * first place (order), and where each's last value is (last): a JSON
 * object set in turn has each name once, at its first place, with its
 * last value.  How many. */
static size_t
kept_collect(const struct freq *rq, int order[N_KEPT], size_t last[N_KEPT])
{
	size_t n_order = 0;

	for (size_t i = 0; i < rq->n_hdr; i++) {
		int k = kept_index(rq, i);
		bool seen = false;

		if (k < 0)
			continue;
		for (size_t o = 0; o < n_order && !seen; o++)
			seen = order[o] == k;
		if (!seen)
			order[n_order++] = k;
		last[k] = i;
	}
	return n_order;
}

/* Authorization's value as the journal keeps it: the scheme only. */
static const char *
auth_redacted(const char *v, char red[48])
{
	const char *sp = strchr(v, ' ');

	if (sp == NULL)
		return "<redacted>";
	snprintf(red, 48, "%.*s <redacted>",
	         (int)(sp - v) > 16 ? 16 : (int)(sp - v), v);
	return red;
}

/* ---- the line of a record ---- */

#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934c" \
                     "a495991b7852b855"
#define LIT_LEN(lit) (sizeof(lit) - 1)

/* jb_str of the string at p; the string after it. */
static const char *
jb_next(struct jbuf *b, const char *p)
{
	jb_str(b, p);
	return p + strlen(p) + 1;
}

/* A record's line (no newline), as the journal always wrote it. */
static void
jrec_format(struct journal *j, const struct jrec *r, struct jbuf *b)
{
	const char *p = r->s;

	jb_reserve(b, 512);
	JB_LIT(b, "{\"seq\":");
	jb_u64(b, r->seq);
	JB_LIT(b, ",\"time\":");
	jb_time(j, b, (time_t)r->sec, r->msec);
	JB_LIT(b, ",\"listener\":");
	p = jb_next(b, p);
	JB_LIT(b, ",\"method\":");
	p = jb_next(b, p);
	JB_LIT(b, ",\"path\":");
	p = jb_next(b, p);
	JB_LIT(b, ",\"query\":");
	p = jb_next(b, p);
	JB_LIT(b, ",\"headers\":{");
	for (size_t o = 0; o < r->n_hdr; o++) {
		if (o > 0)
			JB_LIT(b, ",");
		jb_str(b, kept_headers[r->hdr_k[o]]);
		JB_LIT(b, ":");
		p = jb_next(b, p);
	}
	JB_LIT(b, "},\"body_size\":");
	jb_u64(b, r->body_size);
	JB_LIT(b, ",\"body_sha256\":");
	if (r->has_digest)
		p = jb_next(b, p);
	else
		JB_LIT(b, "\"" EMPTY_SHA256 "\"");
	JB_LIT(b, ",\"status\":");
	jb_u64(b, r->status);
	if (r->mutating)
		JB_LIT(b, ",\"mutating\":true,\"ms\":");
	else
		JB_LIT(b, ",\"mutating\":false,\"ms\":");
	/* milliseconds with three decimals */
	jb_u64(b, r->us / 1000);
	{
		char frac[4] = {'.', (char)('0' + r->us % 1000 / 100),
		                (char)('0' + r->us % 100 / 10),
		                (char)('0' + r->us % 10)};
		jb_putn(b, frac, 4);
	}
	if (r->has_fault) {
		JB_LIT(b, ",\"fault\":");
		p = jb_next(b, p);
	}
	if (r->reset)
		JB_LIT(b, ",\"reset\":true");
	if (r->delay_ms > 0) {
		JB_LIT(b, ",\"delay_ms\":");
		jb_u64(b, r->delay_ms);
	}
	if (r->body_len > 0)
		jb_putn(b, p, r->body_len);
	JB_LIT(b, "}");
}

/* ---- recording ---- */

/* The strings of a record, in the order jrec_format() reads them. */
struct jstrs {
	const char *s[4 + N_KEPT + 2];
	size_t len[4 + N_KEPT + 2];
	size_t n, bytes; /* bytes: with their NULs */
};

static void
jstrs_add(struct jstrs *st, const char *s)
{
	s = s ? s : "";
	st->s[st->n] = s;
	st->len[st->n] = strlen(s);
	st->bytes += st->len[st->n] + 1;
	st->n++;
}

/* Forget lines a new one of size bytes needs room from; its slot,
 * with an allocation of at least rsize bytes, or NULL (not kept). */
static struct jentry *
ring_slot(struct journal *j, size_t size, size_t rsize)
{
	/* When the ring is full the slot is the oldest one, whose record's
	 * allocation this one reuses: no free of a record 20000 requests
	 * old (a cache miss) and no malloc per request. */
	struct jentry *t = &j->ring[(j->head + j->count) % JOURNAL_RING];

	while (j->count > 0 &&
	       (j->count == JOURNAL_RING || j->bytes + size > j->max_bytes))
		drop_oldest(j, &j->ring[j->head] == t);
	if (t->rec != NULL && (rsize > t->cap || t->cap > 2 * rsize + 128)) {
		free(t->rec);
		t->rec = NULL;
		t->cap = 0;
	}
	if (size > j->max_bytes)
		return NULL; /* larger than the whole ring: the file has it */
	if (t->rec == NULL) {
		size_t cap = (rsize + 127) & ~(size_t)63;
		if ((t->rec = malloc(cap)) == NULL)
			return NULL;
		t->cap = cap;
	}
	return t;
}

/* The line to the file's queue. */
static void
queue_line(struct journal *j, const struct jrec *r)
{
	char *copy;

	j->line.n = 0;
	j->line.oom = false;
	jrec_format(j, r, &j->line);
	copy = j->line.oom ? NULL : strndup(j->line.p, j->line.n);
	if (copy == NULL)
		return;
	pthread_mutex_lock(&j->fmu);
	if (j->n_queue == j->cap_queue) {
		size_t cap = j->cap_queue ? 2 * j->cap_queue : 16;
		char **nq = realloc(j->queue, cap * sizeof(*nq));
		if (nq == NULL) {
			free(copy);
			copy = NULL;
		} else {
			j->queue = nq;
			j->cap_queue = cap;
		}
	}
	if (copy != NULL)
		j->queue[j->n_queue++] = copy;
	pthread_mutex_unlock(&j->fmu);
}

void
journal_record(struct journal *j, const struct freq *rq,
               const struct fresp *rs, double ms)
{
	char digest[MV_SHA256_HEX], red[48];
	const char *dg = NULL; /* NULL: the empty body's */
	struct jstrs st = {0};
	struct jrec hd;
	struct jentry *t;
	struct jrec *r;
	struct timespec ts;
	size_t last[N_KEPT], n_order, line, size, rsize;
	int order[N_KEPT];
	char *o;

	if (j == NULL)
		return;
	memset(&hd, 0, sizeof(hd));
	/* the pipeline digests the body before it takes the lock */
	if (rq->body_sha256[0] != '\0') {
		dg = rq->body_sha256;
	} else if (rq->body_len > 0 && rq->body != NULL) {
		mv_sha256_buf_hex(rq->body, rq->body_len, digest);
		dg = digest;
	}
	j->body.n = 0;
	j->body.oom = false;
	if (j->bodies)
		jb_body(&j->body, rq);
	if (j->body.oom)
		goto out;
	clock_gettime(CLOCK_REALTIME, &ts);
	hd.seq = j->seq + 1;
	hd.sec = ts.tv_sec;
	hd.msec = (unsigned short)(ts.tv_nsec / 1000000);
	hd.us = ms > 0 && ms < 1e12 ? (uint64_t)(ms * 1000 + 0.5) : 0;
	hd.body_size = rq->body_in_file ? rq->body_file_len : rq->body_len;
	hd.status = rs->reset || rs->status < 0 ? 0 : (uint64_t)rs->status;
	hd.delay_ms = rs->delay_ms;
	hd.mutating = rq->mutating;
	hd.reset = rs->reset;
	hd.has_fault = rq->fault != NULL;
	hd.has_digest = dg != NULL;
	hd.body_len = j->body.n;
	jstrs_add(&st, rq->listener);
	jstrs_add(&st, rq->method);
	jstrs_add(&st, rq->path);
	jstrs_add(&st, rq->query);
	n_order = kept_collect(rq, order, last);
	hd.n_hdr = (unsigned char)n_order;
	for (size_t i = 0; i < n_order; i++) {
		const char *v = rq->hdr[last[order[i]]].v;
		v = v ? v : "";
		hd.hdr_k[i] = (unsigned char)order[i];
		jstrs_add(&st, strcmp(kept_headers[order[i]], "authorization")
		                       ? v : auth_redacted(v, red));
	}
	if (dg != NULL)
		jstrs_add(&st, dg);
	if (rq->fault != NULL)
		jstrs_add(&st, rq->fault);
	/* The line's exact length, for the bound: what jrec_format writes */
	line = LIT_LEN("{\"seq\":") + jl_u64(hd.seq) + LIT_LEN(",\"time\":") +
	       1 + ts_text(j, ts.tv_sec) + 4 + LIT_LEN("-00:00\"") +
	       LIT_LEN(",\"listener\":") + LIT_LEN(",\"method\":") +
	       LIT_LEN(",\"path\":") + LIT_LEN(",\"query\":") +
	       LIT_LEN(",\"headers\":{") + LIT_LEN("},\"body_size\":") +
	       jl_u64(hd.body_size) + LIT_LEN(",\"body_sha256\":") +
	       (dg ? 0 : 2 + LIT_LEN(EMPTY_SHA256)) + LIT_LEN(",\"status\":") +
	       jl_u64(hd.status) +
	       (hd.mutating ? LIT_LEN(",\"mutating\":true,\"ms\":")
	                    : LIT_LEN(",\"mutating\":false,\"ms\":")) +
	       jl_u64(hd.us / 1000) + 4 +
	       (hd.has_fault ? LIT_LEN(",\"fault\":") : 0) +
	       (hd.reset ? LIT_LEN(",\"reset\":true") : 0) +
	       (hd.delay_ms > 0 ? LIT_LEN(",\"delay_ms\":") +
	                                  jl_u64(hd.delay_ms)
	                        : 0) +
	       hd.body_len + 1;
	for (size_t i = 0; i < st.n; i++)
		line += jl_str(st.s[i]);
	for (size_t i = 0; i < n_order; i++)
		line += (i > 0) + jl_str(kept_headers[order[i]]) + 1;
	size = line + 1 + st.len[0] + 1;
	rsize = sizeof(struct jrec) + st.bytes + hd.body_len;
	t = ring_slot(j, size, rsize);
	if (t != NULL) {
		r = t->rec;
	} else {
		/* not kept: built aside, for the file */
		j->scratch.n = 0;
		jb_reserve(&j->scratch, rsize);
		if (j->scratch.oom) {
			j->scratch.oom = false;
			goto out;
		}
		r = (struct jrec *)(void *)j->scratch.p;
	}
	*r = hd;
	o = r->s;
	for (size_t i = 0; i < st.n; i++) {
		memcpy(o, st.s[i], st.len[i] + 1);
		o += st.len[i] + 1;
	}
	if (hd.body_len > 0)
		memcpy(o, j->body.p, hd.body_len);
	j->seq++;
	if (j->fp != NULL)
		queue_line(j, r);
	if (t != NULL) {
		j->count++;
		j->bytes += size;
		t->seq = j->seq;
		t->listener = r->s;
		t->size = size;
		/* The ring is cold: the next record's slot is fetched now,
		 * while this answer is sent, so that the next record does not
		 * wait for memory. */
		t = &j->ring[(j->head + j->count) % JOURNAL_RING];
		for (size_t off = 0; t->rec != NULL && off < t->cap; off += 64)
			__builtin_prefetch((char *)t->rec + off, 1);
	}
out:
	jb_trim(&j->line);
	jb_trim(&j->body);
	jb_trim(&j->scratch);
}

char *
journal_dump(struct journal *j, uint64_t since, const char *listener,
             size_t *len)
{
	struct jbuf b = {0};

	*len = 0;
	if (j == NULL)
		return NULL;
	jb_reserve(&b, 0);
	if (b.oom)
		return NULL;
	b.p[0] = '\0';
	for (size_t i = 0; i < j->count; i++) {
		struct jentry *e = &j->ring[(j->head + i) % JOURNAL_RING];
		if (e->seq <= since || (listener && strcmp(listener, e->listener)))
			continue;
		jrec_format(j, e->rec, &b);
		JB_LIT(&b, "\n");
	}
	if (b.oom) {
		free(b.p);
		return NULL;
	}
	*len = b.n;
	return b.p;
}
