/* harness/fake/journal.c - one JSON line per request: to the --journal
 * file and to an in-memory ring that GET /_fake/journal serves.  The ring
 * keeps at most JOURNAL_RING entries and --journal-bytes of lines (long
 * query strings make long lines), so memory stays bounded however long
 * the fake runs.  Lines for the file are queued under the fake's lock
 * (so they stay in seq order) and written and flushed by journal_flush(),
 * which the pipeline calls after it has let the lock go, before the
 * answer leaves: a client that reads the file after its answer finds its
 * line there, and no write or fflush happens under the fake's lock. */
#include <ctype.h>
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
	char *listener;
	char *line; /* JSON, no newline */
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
		free(j->ring[i].listener);
		free(j->ring[i].line);
		j->ring[i].listener = j->ring[i].line = NULL;
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
	pthread_mutex_destroy(&j->fmu);
	free(j);
}

/* Forget the oldest entry of the ring. */
static void
drop_oldest(struct journal *j)
{
	struct jentry *e = &j->ring[j->head];

	j->bytes -= strlen(e->line) + strlen(e->listener) + 2;
	free(e->listener);
	free(e->line);
	e->listener = e->line = NULL;
	j->head = (j->head + 1) % JOURNAL_RING;
	j->count--;
}

/* Headers worth keeping; Authorization only as its scheme. */
static const char *const kept_headers[] = {
	"accept", "authorization", "content-type", "metadata-flavor",
	"user-agent", "x-goog-api-client", "x-goog-user-project", NULL};

static json_t *
journal_headers(const struct freq *rq)
{
	json_t *h = json_object();

	for (size_t i = 0; i < rq->n_hdr; i++) {
		char name[64];
		size_t k, n = strlen(rq->hdr[i].k);

		if (n >= sizeof(name))
			continue;
		for (k = 0; k <= n; k++)
			name[k] = (char)tolower((unsigned char)rq->hdr[i].k[k]);
		for (k = 0; kept_headers[k] && strcmp(kept_headers[k], name); k++)
			;
		if (kept_headers[k] == NULL)
			continue;
		if (strcmp(name, "authorization") == 0) {
			const char *v = rq->hdr[i].v ? rq->hdr[i].v : "";
			const char *sp = strchr(v, ' ');
			char red[48];
			snprintf(red, sizeof(red), "%.*s <redacted>",
			         sp ? (int)(sp - v) > 16 ? 16 : (int)(sp - v) : 0, v);
			json_object_set_new(h, name, json_string(sp ? red
			                                            : "<redacted>"));
		} else {
			json_object_set_new(h, name, json_string(rq->hdr[i].v ?
			                                         rq->hdr[i].v : ""));
		}
	}
	return h;
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

/* The body as JSON (redacted), a form (secret fields redacted), text, or
 * base64; at most BODY_MAX bytes of it. */
static void
add_body(json_t *o, const struct freq *rq)
{
	json_t *doc;
	size_t n = rq->body_len;

	if (rq->body == NULL || n == 0)
		return;
	doc = json_loadb(rq->body, n, 0, NULL);
	if (doc != NULL) {
		redact(doc, false);
		json_object_set_new(o, "body", doc);
		return;
	}
	if (n > BODY_MAX)
		n = BODY_MAX;
	doc = json_stringn(rq->body, n); /* NULL unless UTF-8 text */
	if (doc == NULL) {
		char *b64 = mv_base64_encode(rq->body, n);
		json_object_set_new(o, "body_base64", json_string(b64 ? b64 : ""));
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
		json_object_set_new(o, "body", json_string(acc ? acc : ""));
		free(acc);
		free(copy);
	}
}

void
journal_record(struct journal *j, const struct freq *rq,
               const struct fresp *rs, double ms)
{
	char ts[48], digest[MV_SHA256_HEX];
	struct jentry *e;
	json_t *o;
	char *line;
	size_t size;

	if (j == NULL)
		return;
	fake_now_rfc3339(ts, sizeof(ts), true);
	/* the pipeline digests the body before it takes the lock */
	if (rq->body_sha256[0] != '\0')
		snprintf(digest, sizeof(digest), "%s", rq->body_sha256);
	else if (rq->body_len > 0 && rq->body != NULL)
		mv_sha256_buf_hex(rq->body, rq->body_len, digest);
	else
		strcpy(digest, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934c"
		               "a495991b7852b855");
	o = json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:o, s:I, s:s, s:i, "
	              "s:b, s:f}",
	              "seq", (json_int_t)(j->seq + 1), "time", ts, "listener",
	              rq->listener, "method", rq->method, "path", rq->path,
	              "query", rq->query, "headers", journal_headers(rq),
	              "body_size", (json_int_t)(rq->body_in_file
	                                        ? rq->body_file_len
	                                        : rq->body_len), "body_sha256",
	              digest, "status", rs->reset ? 0 : rs->status, "mutating",
	              rq->mutating, "ms", (double)(long long)(ms * 1000) / 1000);
	if (o == NULL)
		return;
	if (rq->fault != NULL)
		json_object_set_new(o, "fault", json_string(rq->fault));
	if (rs->reset)
		json_object_set_new(o, "reset", json_true());
	if (rs->delay_ms > 0)
		json_object_set_new(o, "delay_ms", json_integer(rs->delay_ms));
	if (j->bodies)
		add_body(o, rq);
	line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	if (line == NULL)
		return;
	j->seq++;
	if (j->fp != NULL) {
		char *copy = strdup(line);
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
	size = strlen(line) + strlen(rq->listener) + 2;
	while (j->count > 0 &&
	       (j->count == JOURNAL_RING || j->bytes + size > j->max_bytes))
		drop_oldest(j);
	if (size > j->max_bytes) {
		free(line); /* larger than the whole ring: the file has it */
		return;
	}
	e = &j->ring[(j->head + j->count) % JOURNAL_RING];
	j->count++;
	j->bytes += size;
	e->seq = j->seq;
	e->listener = strdup(rq->listener);
	e->line = line;
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
			total += strlen(e->line) + 1;
	}
	out = malloc(total + 1);
	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < j->count; i++) {
		struct jentry *e = &j->ring[(j->head + i) % JOURNAL_RING];
		size_t n;
		if (e->seq <= since || (listener && strcmp(listener, e->listener)))
			continue;
		n = strlen(e->line);
		memcpy(out + o, e->line, n);
		o += n;
		out[o++] = '\n';
	}
	out[o] = '\0';
	*len = o;
	return out;
}
