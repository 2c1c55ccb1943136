/* harness/fake/journal.c - one JSON line per request: to the --journal
 * file and to an in-memory ring that GET /_fake/journal serves.  The ring
 * keeps at most JOURNAL_RING entries and --journal-bytes of lines (long
 * query strings make long lines), so memory stays bounded however long
 * the fake runs.  Lines for the file are queued under the fake's lock
 * (so they stay in seq order) and written and flushed by journal_flush(),
 * which the pipeline calls after it has let the lock go, before the
 * answer leaves: a client that reads the file after its answer finds its
 * line there, and no write or fflush happens under the fake's lock. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/base64.h"
#include "core/sha256.h"
#include "harness/fake/journal.h"

#define JOURNAL_RING 20000

struct jentry {
	uint64_t seq;
	char *line;     /* JSON, no newline; the listener's name follows its NUL */
	const char *listener; /* in line's allocation */
	size_t len;     /* of the line */
	size_t size;    /* what it counts against max_bytes */
	size_t cap;     /* line's allocation */
};

struct jbuf {
	char *p;
	size_t n, cap;
	bool oom;
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
		free(j->ring[i].line);
		j->ring[i].line = NULL;
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
		free(e->line);
		e->line = NULL;
		e->cap = 0;
	}
	e->listener = NULL;
	e->size = e->len = 0;
	j->head = (j->head + 1) % JOURNAL_RING;
	j->count--;
}

/* ---- the line, written by hand: the journal runs for every request
 * under the fake's lock, and building it as a jansson object and dumping
 * that was a third of a GET's time ---- */

static void
jb_reserve(struct jbuf *b, size_t more)
{
	size_t cap;
	char *np;

	if (b->oom || b->n + more + 1 <= b->cap)
		return;
	cap = b->cap ? b->cap : 512;
	while (cap < b->n + more + 1)
		cap *= 2;
	np = realloc(b->p, cap);
	if (np == NULL) {
		b->oom = true;
		return;
	}
	b->p = np;
	b->cap = cap;
}

static void
jb_putn(struct jbuf *b, const char *s, size_t n)
{
	jb_reserve(b, n);
	if (b->oom)
		return;
	memcpy(b->p + b->n, s, n);
	b->n += n;
	b->p[b->n] = '\0';
}

static void
jb_puts(struct jbuf *b, const char *s)
{
	jb_putn(b, s, strlen(s));
}

/* A string literal: its length known when compiling. */
#define JB_LIT(b, lit) jb_putn((b), (lit), sizeof(lit) - 1)

/* An unsigned decimal, without printf: this runs for every request. */
static void
jb_u64(struct jbuf *b, uint64_t v)
{
	char d[24];
	size_t i = sizeof(d);

	do {
		d[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v > 0);
	jb_putn(b, d + i, sizeof(d) - i);
}

/* The wall clock as RFC 3339 with milliseconds and "-00:00", the
 * date and time of day formatted once a second. */
static void
jb_time(struct journal *j, struct jbuf *b)
{
	struct timespec ts;
	char ms[5];
	long m;

	clock_gettime(CLOCK_REALTIME, &ts);
	if (ts.tv_sec != j->ts_sec || j->ts_text[0] == '\0') {
		struct tm tm;
		gmtime_r(&ts.tv_sec, &tm);
		j->ts_len = strftime(j->ts_text, sizeof(j->ts_text),
		                     "%Y-%m-%dT%H:%M:%S", &tm);
		j->ts_sec = ts.tv_sec;
	}
	m = ts.tv_nsec / 1000000;
	ms[0] = '.';
	ms[1] = (char)('0' + m / 100);
	ms[2] = (char)('0' + m / 10 % 10);
	ms[3] = (char)('0' + m % 10);
	JB_LIT(b, "\"");
	jb_putn(b, j->ts_text, j->ts_len);
	jb_putn(b, ms, 4);
	JB_LIT(b, "-00:00\"");
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), 0 if none. */
static size_t
utf8_len(const unsigned char *s, size_t n)
{
	size_t len;
	unsigned c = s[0];
	uint32_t cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4, cp = c & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	/* overlong, surrogates, past U+10FFFF */
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return len;
}

/* A JSON string as jansson writes it; bytes that are not UTF-8 (a
 * client's raw path) become U+FFFD rather than losing the line. */
static void
jb_str(struct jbuf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	size_t n = strlen((const char *)p), run = 0, i = 0;

	/* Most strings (paths, names, digests) are printable ASCII with
	 * nothing to escape: those are one copy. */
	while (i < n && p[i] >= 0x20 && p[i] < 0x80 && p[i] != '"' &&
	       p[i] != '\\')
		i++;
	jb_reserve(b, n + 2);
	if (b->oom)
		return;
	b->p[b->n++] = '"';
	memcpy(b->p + b->n, p, i);
	b->n += i;
	if (i == n) {
		b->p[b->n++] = '"';
		b->p[b->n] = '\0';
		return;
	}
	while (i < n) {
		size_t u = utf8_len(p + i, n - i);
		char esc[8];

		if (u > 0 && p[i] >= 0x20 && p[i] != '"' && p[i] != '\\') {
			i += u;
			run += u;
			continue;
		}
		jb_putn(b, (const char *)p + i - run, run);
		run = 0;
		if (u == 0) {
			jb_puts(b, "\\ufffd");
			i++;
			continue;
		}
		switch (p[i]) {
		case '"': jb_puts(b, "\\\""); break;
		case '\\': jb_puts(b, "\\\\"); break;
		case '\b': jb_puts(b, "\\b"); break;
		case '\f': jb_puts(b, "\\f"); break;
		case '\n': jb_puts(b, "\\n"); break;
		case '\r': jb_puts(b, "\\r"); break;
		case '\t': jb_puts(b, "\\t"); break;
		default:
			snprintf(esc, sizeof(esc), "\\u%04x", p[i]);
			jb_puts(b, esc);
		}
		i++;
	}
	jb_putn(b, (const char *)p + n - run, run);
	jb_putn(b, "\"", 1);
}

/* ,"key": */
static void
jb_key(struct jbuf *b, const char *key)
{
	jb_putn(b, ",", 1);
	jb_str(b, key);
	jb_putn(b, ":", 1);
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

/* {"name":"value",...}: lower-case names, each once, at its first place
 * with its last value (as a JSON object that was set in turn). */
static void
jb_headers(struct jbuf *b, const struct freq *rq)
{
	size_t last[N_KEPT];
	int order[N_KEPT];
	size_t n_order = 0;

	/* one pass: the kept names in order of first place, each's last */
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
	jb_putn(b, "{", 1);
	for (size_t o = 0; o < n_order; o++) {
		int k = order[o];
		const char *v = rq->hdr[last[k]].v ? rq->hdr[last[k]].v : "";

		if (o > 0)
			jb_putn(b, ",", 1);
		jb_str(b, kept_headers[k]);
		jb_putn(b, ":", 1);
		if (strcmp(kept_headers[k], "authorization") == 0) {
			const char *sp = strchr(v, ' ');
			char red[48];
			snprintf(red, sizeof(red), "%.*s <redacted>",
			         sp ? (int)(sp - v) > 16 ? 16 : (int)(sp - v) : 0, v);
			jb_str(b, sp ? red : "<redacted>");
		} else {
			jb_str(b, v);
		}
	}
	jb_putn(b, "}", 1);
}

/* ---- request bodies (--journal-bodies), secrets redacted ---- */

#define BODY_MAX (64 * 1024)

static bool
secret_key(const char *k)
{
	static const char *const keys[] = {
		"access_token", "refresh_token", "id_token", "token", "assertion",
		"client_secret", "private_key", "password", "client_assertion",
		NULL};

	for (size_t i = 0; keys[i]; i++)
		if (strcasecmp(k, keys[i]) == 0)
			return true;
	return false;
}

/* Tokens and keys anywhere, and the values of a Secret's data. */
static void
redact(json_t *v, bool secret_data)
{
	const char *k;
	json_t *x;
	size_t i;

	if (json_is_array(v)) {
		json_array_foreach(v, i, x)
			redact(x, false);
		return;
	}
	if (!json_is_object(v))
		return;
	secret_data = secret_data || !strcmp(fake_jstr(v, "kind"), "Secret");
	json_object_foreach(v, k, x) {
		if (secret_key(k) && !json_is_object(x) && !json_is_array(x)) {
			json_object_set_new(v, k, json_string("<redacted>"));
		} else if (secret_data && json_is_object(x) &&
		           (!strcmp(k, "data") || !strcmp(k, "stringData"))) {
			const char *dk;
			json_t *dv;
			json_object_foreach(x, dk, dv)
				json_object_set_new(x, dk, json_string("<redacted>"));
		} else {
			redact(x, false);
		}
	}
}

/* ,"body":... : JSON (redacted), a form (secret fields redacted), text,
 * or base64; at most BODY_MAX bytes of it. */
static void
add_body(struct jbuf *b, const struct freq *rq)
{
	json_t *doc;
	size_t n = rq->body_len;

	if (rq->body == NULL || n == 0)
		return;
	doc = json_loadb(rq->body, n, 0, NULL);
	if (doc != NULL) {
		char *s;
		redact(doc, false);
		s = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER |
		                            JSON_ENCODE_ANY);
		json_decref(doc);
		if (s != NULL) {
			jb_key(b, "body");
			jb_puts(b, s);
		}
		free(s);
		return;
	}
	if (n > BODY_MAX)
		n = BODY_MAX;
	doc = json_stringn(rq->body, n); /* NULL unless UTF-8 text */
	if (doc == NULL) {
		char *b64 = mv_base64_encode(rq->body, n);
		jb_key(b, "body_base64");
		jb_str(b, b64 ? b64 : "");
		free(b64);
		return;
	}
	json_decref(doc);
	{
		/* application/x-www-form-urlencoded: the /token exchange */
		char *copy = strndup(rq->body, n), *save = NULL, *tok, *acc;
		size_t len = 0, fields = 1;
		/* each field grows by "<redacted>" at most */
		for (size_t i = 0; i < n; i++)
			fields += rq->body[i] == '&';
		acc = calloc(1, n + 11 * fields + 1);
		for (tok = copy && acc ? strtok_r(copy, "&", &save) : NULL; tok;
		     tok = strtok_r(NULL, "&", &save)) {
			char *eq = strchr(tok, '=');
			if (eq != NULL) {
				*eq = '\0';
				len += (size_t)sprintf(acc + len, "%s%s=%s",
				                       len ? "&" : "", tok,
				                       secret_key(tok) ? "<redacted>"
				                                       : eq + 1);
			} else {
				len += (size_t)sprintf(acc + len, "%s%s", len ? "&" : "",
				                       tok);
			}
		}
		jb_key(b, "body");
		jb_str(b, acc ? acc : "");
		free(acc);
		free(copy);
	}
}

void
journal_record(struct journal *j, const struct freq *rq,
               const struct fresp *rs, double ms)
{
	char digest[MV_SHA256_HEX];
	const char *dg = digest;
	struct jbuf *b;
	struct jentry *t;
	size_t size, llen;
	uint64_t us;

	if (j == NULL)
		return;
	b = &j->line;
	b->n = 0;
	b->oom = false;
	/* the pipeline digests the body before it takes the lock */
	if (rq->body_sha256[0] != '\0')
		dg = rq->body_sha256;
	else if (rq->body_len > 0 && rq->body != NULL)
		mv_sha256_buf_hex(rq->body, rq->body_len, digest);
	else
		dg = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934c"
		     "a495991b7852b855";
	jb_reserve(b, 512 + strlen(rq->path) + strlen(rq->query));
	/* the keys as literals: what jb_key() would write for them */
	JB_LIT(b, "{\"seq\":");
	jb_u64(b, j->seq + 1);
	JB_LIT(b, ",\"time\":");
	jb_time(j, b);
	JB_LIT(b, ",\"listener\":");
	jb_str(b, rq->listener);
	JB_LIT(b, ",\"method\":");
	jb_str(b, rq->method);
	JB_LIT(b, ",\"path\":");
	jb_str(b, rq->path);
	JB_LIT(b, ",\"query\":");
	jb_str(b, rq->query);
	JB_LIT(b, ",\"headers\":");
	jb_headers(b, rq);
	JB_LIT(b, ",\"body_size\":");
	jb_u64(b, rq->body_in_file ? rq->body_file_len : rq->body_len);
	JB_LIT(b, ",\"body_sha256\":");
	jb_str(b, dg);
	JB_LIT(b, ",\"status\":");
	jb_u64(b, rs->reset || rs->status < 0 ? 0 : (uint64_t)rs->status);
	if (rq->mutating)
		JB_LIT(b, ",\"mutating\":true,\"ms\":");
	else
		JB_LIT(b, ",\"mutating\":false,\"ms\":");
	/* milliseconds with three decimals */
	us = ms > 0 && ms < 1e12 ? (uint64_t)(ms * 1000 + 0.5) : 0;
	jb_u64(b, us / 1000);
	{
		char frac[5] = {'.', (char)('0' + us % 1000 / 100),
		                (char)('0' + us % 100 / 10), (char)('0' + us % 10),
		                '\0'};
		jb_puts(b, frac);
	}
	if (rq->fault != NULL) {
		jb_key(b, "fault");
		jb_str(b, rq->fault);
	}
	if (rs->reset)
		jb_puts(b, ",\"reset\":true");
	if (rs->delay_ms > 0) {
		jb_puts(b, ",\"delay_ms\":");
		jb_u64(b, rs->delay_ms);
	}
	if (j->bodies)
		add_body(b, rq);
	jb_putn(b, "}", 1);
	llen = b->n;
	/* the listener's name after the line's NUL: one allocation */
	jb_putn(b, "", 1);
	jb_puts(b, rq->listener);
	if (b->oom)
		goto out;
	j->seq++;
	if (j->fp != NULL) {
		char *copy = strndup(b->p, llen);
		pthread_mutex_lock(&j->fmu);
		if (copy != NULL && j->n_queue == j->cap_queue) {
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
	size = b->n + 1;
	/* The slot the line goes to; when the ring is full it is the oldest
	 * one, whose allocation the line reuses: no free of a line 20000
	 * requests old (a cache miss) and no malloc per request. */
	t = &j->ring[(j->head + j->count) % JOURNAL_RING];
	while (j->count > 0 &&
	       (j->count == JOURNAL_RING || j->bytes + size > j->max_bytes))
		drop_oldest(j, &j->ring[j->head] == t);
	if (t->line != NULL && (size > t->cap || t->cap > 2 * size + 128)) {
		free(t->line);
		t->line = NULL;
		t->cap = 0;
	}
	if (size > j->max_bytes)
		goto out; /* larger than the whole ring: the file has it */
	if (t->line == NULL) {
		size_t cap = (size + 127) & ~(size_t)63;
		if ((t->line = malloc(cap)) == NULL)
			goto out;
		t->cap = cap;
	}
	memcpy(t->line, b->p, size);
	j->count++;
	j->bytes += size;
	t->seq = j->seq;
	t->len = llen;
	t->listener = t->line + llen + 1;
	t->size = size;
	/* The ring (20000 lines, some 14 MB) is cold: the next line's slot
	 * is fetched now, while this answer is sent, so that the next line
	 * does not wait for memory (half a microsecond per GET). */
	t = &j->ring[(j->head + j->count) % JOURNAL_RING];
	for (size_t o = 0; t->line != NULL && o < t->cap; o += 64)
		__builtin_prefetch(t->line + o, 1);
out:
	/* a huge line (a body, a long query) does not keep its buffer */
	if (b->cap > 65536) {
		free(b->p);
		b->p = NULL;
		b->cap = 0;
	}
}

char *
journal_dump(struct journal *j, uint64_t since, const char *listener,
             size_t *len)
{
	size_t total = 0, o = 0;
	char *out;

	*len = 0;
	if (j == NULL)
		return NULL;
	for (size_t i = 0; i < j->count; i++) {
		struct jentry *e = &j->ring[(j->head + i) % JOURNAL_RING];
		if (e->seq > since && (!listener || !strcmp(listener, e->listener)))
			total += e->len + 1;
	}
	out = malloc(total + 1);
	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < j->count; i++) {
		struct jentry *e = &j->ring[(j->head + i) % JOURNAL_RING];
		size_t n;
		if (e->seq <= since || (listener && strcmp(listener, e->listener)))
			continue;
		n = e->len;
		memcpy(out + o, e->line, n);
		o += n;
		out[o++] = '\n';
	}
	out[o] = '\0';
	*len = o;
	return out;
}
