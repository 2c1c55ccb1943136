/* cluster/storage_upload.c - uploads to Cloud Storage: one multipart
 * request up to STORAGE_MULTIPART_MAX, the resumable protocol above it
 * (see storage.h).  The session URI lives only in memory and in the 0600
 * session file; URLs in traces and errors go through core/http's
 * redaction, which hides upload_id. */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cluster/gcp_auth.h"
#include "cluster/storage.h"
#include "core/atomic.h"
#include "core/http.h"
#include "core/log.h"
#include "core/progress.h"
#include "core/signal.h"
#include "core/util.h"
#include "core/xalloc.h"

/* Consecutive failed requests (5xx, dropped connections) an upload
 * survives, each followed by a status query. */
#define UPLOAD_MAX_FAILURES 10

struct up {
	struct gcp *g;
	const struct storage_upload *u;
	struct storage_upload_result *res;
	uint64_t size;
	char md5[25], crc[9];
	unsigned seed;
	int failures;
};

static int
send_req(struct up *s, struct mv_http_req *req, struct mv_http_resp *resp,
         struct mv_err *err)
{
	const char *token = NULL;

	memset(resp, 0, sizeof(*resp)); /* freeable even when no token */
	if (s->g->auth != NULL && gcp_auth_token(s->g->auth, &token, err) != 0)
		return -1;
	req->bearer = token;
	if (strcmp(req->method, "GET") != 0)
		s->res->requests++;
	return mv_http_do(s->g->http, req, resp, err);
}

/* After a failure: wait (backoff), or give up after too many. */
static int
failed_once(struct up *s, const char *what, struct mv_err *err)
{
	const struct mv_http_timing *t = mv_http_get_timing(s->g->http);

	if (++s->failures > UPLOAD_MAX_FAILURES) {
		mv_err_prefix(err, "gs://%s/%s: %s failed %d times", s->u->bucket,
		              s->u->name, what, s->failures);
		return -1;
	}
	mv_debug("storage: %s failed (%s); retrying", what, err->msg);
	mv_err_clear(err);
	if (!mv_sleep_ms(mv_http_backoff_ms(t, s->failures, 0, &s->seed)))
		return mv_err_set(err, MV_EXIT_INTERRUPTED, "gs://%s/%s: "
		                  "interrupted", s->u->bucket, s->u->name);
	return 0;
}

static bool
transient(long status)
{
	return status == 0 || status == 408 || status == 429 || status >= 500;
}

/* The object in a 200/201 answer: its size and hashes must be the file's. */
static int
took_object(struct up *s, const struct mv_http_resp *resp, struct mv_err *err)
{
	json_t *o = json_loadb(resp->body, resp->len, 0, NULL);
	const char *md5 = json_string_value(json_object_get(o, "md5Hash"));
	const char *crc = json_string_value(json_object_get(o, "crc32c"));
	const char *size = json_string_value(json_object_get(o, "size"));
	char want[24];

	snprintf(want, sizeof(want), "%" PRIu64, s->size);
	if (!json_is_object(o)) {
		json_decref(o);
		return mv_err_set(err, MV_EXIT_CLOUD, "gs://%s/%s: the upload's "
		                  "answer is not an object resource", s->u->bucket,
		                  s->u->name);
	}
	if ((size && strcmp(size, want)) || (md5 && strcmp(md5, s->md5)) ||
	    (crc && strcmp(crc, s->crc)) || (md5 == NULL && crc == NULL)) {
		mv_err_set(err, MV_EXIT_CLOUD, "gs://%s/%s: the server holds %s "
		           "bytes, md5 %s, crc32c %s; %s is %s bytes, md5 %s, crc32c "
		           "%s", s->u->bucket, s->u->name, size ? size : "?",
		           md5 ? md5 : "?", crc ? crc : "?", s->u->path, want,
		           s->md5, s->crc);
		json_decref(o);
		return -1;
	}
	s->res->object = o;
	return 0;
}

/* 412: the name is taken; what is there. */
static int
existed(struct up *s, struct mv_err *err)
{
	s->res->existed = true;
	if (storage_object_get(s->g, s->u->bucket, s->u->name, &s->res->object,
	                       err) != 0) {
		if (err->exit_code == 0)
			mv_err_set(err, MV_EXIT_CLOUD, "gs://%s/%s: the upload "
			           "answered 412 but the object is absent",
			           s->u->bucket, s->u->name);
		return -1;
	}
	return 1;
}

/* Send the create `req` until an answer that is not a transient failure
 * (`what` names it in failed_once's message).  0 when it is a 200 (or,
 * with `created`, a 201): *resp is the caller's to free.  Else resp is
 * freed and *rc says how it ended: existed() for a 412 (ours when an
 * earlier attempt went through: the caller compares), -1 for any other
 * answer, an interruption, or failed_once giving up. */
static int
send_create(struct up *s, struct mv_http_req *req, struct mv_http_resp *resp,
            const char *what, bool created, int *rc, struct mv_err *err)
{
	*rc = -1;
	for (;;) {
		int r = send_req(s, req, resp, err);
		long status = r == 0 ? resp->status : 0;

		if (r == 0 && (status == 200 || (created && status == 201)))
			return 0;
		if (r == 0 && status == 412)
			*rc = existed(s, err);
		else if (r == 0)
			mv_http_fail(err, req, resp);
		mv_http_resp_free(resp);
		if ((r == 0 && !transient(status)) ||
		    (r != 0 && err->exit_code == MV_EXIT_INTERRUPTED) ||
		    failed_once(s, what, err) != 0)
			return -1;
	}
}

static char *
upload_url(const struct up *s, const char *type)
{
	char *b = curl_easy_escape(NULL, s->u->bucket, 0);
	char *n = curl_easy_escape(NULL, s->u->name, 0);
	char *url = mv_xstrfmt("%supload/storage/v1/b/%s/o?uploadType=%s&name=%s"
	                       "&ifGenerationMatch=0", s->g->ep->storage, b, type,
	                       n);

	curl_free(b);
	curl_free(n);
	return url;
}

static json_t *
object_meta(const struct up *s)
{
	json_t *m = json_pack("{s:s, s:s}", "name", s->u->name, "contentType",
	                      s->u->content_type ? s->u->content_type
	                                         : "application/octet-stream");

	if (s->u->metadata != NULL)
		json_object_set(m, "metadata", (json_t *)s->u->metadata);
	return m;
}

/* Read [off, off+len) of the file. */
static int
read_at(const char *path, uint64_t off, char *buf, size_t len,
        struct mv_err *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t got = 0;

	if (fd < 0)
		return mv_err_sys(err, errno, "%s", path);
	while (got < len) {
		ssize_t r = pread(fd, buf + got, len - got, (off_t)(off + got));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			close(fd);
			return r == 0 ? mv_err_set(err, MV_EXIT_FAIL, "%s: shrank "
			                           "while uploading", path)
			              : mv_err_sys(err, errno, "%s", path);
		}
		got += (size_t)r;
	}
	close(fd);
	return 0;
}

/*--- multipart ---------------------------------------------------------------*/

static int
multipart(struct up *s, struct mv_err *err)
{
	json_t *meta = object_meta(s);
	char *mj = json_dumps(meta, JSON_COMPACT), *data = NULL, *body = NULL;
	char boundary[64], ctype[128];
	char *url = upload_url(s, "multipart");
	size_t len = 0;
	int rc = -1;

	json_decref(meta);
	data = mv_xmalloc(s->size + 1);
	if (read_at(s->u->path, 0, data, s->size, err) != 0)
		goto out;
	/* a boundary the bytes do not hold */
	for (unsigned i = 0;; i++) {
		snprintf(boundary, sizeof(boundary), "meshvm_%08x_%u",
		         storage_crc32c(0, data, s->size), i);
		if (memmem(data, s->size, boundary, strlen(boundary)) == NULL)
			break;
	}
	{
		char *head = mv_xstrfmt("--%s\r\nContent-Type: application/json; "
		                        "charset=UTF-8\r\n\r\n%s\r\n--%s\r\n"
		                        "Content-Type: %s\r\n\r\n", boundary, mj,
		                        boundary, s->u->content_type
		                                  ? s->u->content_type
		                                  : "application/octet-stream");
		char *tail = mv_xstrfmt("\r\n--%s--\r\n", boundary);
		size_t hl = strlen(head), tl = strlen(tail);
		body = mv_xmalloc(hl + s->size + tl);
		memcpy(body, head, hl);
		memcpy(body + hl, data, s->size);
		memcpy(body + hl + s->size, tail, tl);
		len = hl + s->size + tl;
		free(head);
		free(tail);
	}
	snprintf(ctype, sizeof(ctype), "multipart/related; boundary=%s",
	         boundary);
	{
		struct mv_http_req req = {.method = "POST", .url = url, .body = body,
		                          .body_len = len, .content_type = ctype};
		struct mv_http_resp resp;

		if (send_create(s, &req, &resp, "the multipart upload", true, &rc,
		                err) == 0) {
			s->res->sent = s->size;
			rc = took_object(s, &resp, err);
			mv_http_resp_free(&resp);
		}
	}
out:
	free(mj);
	free(data);
	free(body);
	free(url);
	return rc;
}

/*--- resumable ---------------------------------------------------------------*/

static bool
field_is(const json_t *j, const char *k, const char *want)
{
	const char *v = json_string_value(json_object_get(j, k));

	return v != NULL && strcmp(v, want) == 0;
}

/* The session file: {"uri", "bucket", "name", "size", "md5"}; a session
 * for other bytes is not reused. */
static char *
session_load(const struct up *s)
{
	json_t *j = json_load_file(s->u->session_file, 0, NULL);
	const char *uri = json_string_value(json_object_get(j, "uri"));
	char *out = NULL;

	if (uri != NULL && field_is(j, "bucket", s->u->bucket) &&
	    field_is(j, "name", s->u->name) && field_is(j, "md5", s->md5) &&
	    json_integer_value(json_object_get(j, "size")) == (json_int_t)s->size)
		out = mv_xstrdup(uri);
	json_decref(j);
	if (out == NULL)
		unlink(s->u->session_file);
	return out;
}

static int
session_save(const struct up *s, const char *uri, struct mv_err *err)
{
	json_t *j = json_pack("{s:s, s:s, s:s, s:I, s:s}", "uri", uri, "bucket",
	                      s->u->bucket, "name", s->u->name, "size",
	                      (json_int_t)s->size, "md5", s->md5);
	char *text = json_dumps(j, JSON_COMPACT);
	int rc = mv_write_file_atomic(s->u->session_file, text, strlen(text),
	                              0600, err);

	explicit_bzero(text, strlen(text));
	free(text);
	json_decref(j);
	return rc;
}

/* Open a session: 0 (*uri malloc'd and saved), 1 name taken, -1. */
static int
session_start(struct up *s, char **uri, struct mv_err *err)
{
	json_t *meta = object_meta(s);
	char *mj = json_dumps(meta, JSON_COMPACT), *url = upload_url(s, "resumable");
	char h1[160], h2[64];
	const char *hdrs[] = {h1, h2, NULL};
	int rc = -1;

	json_decref(meta);
	snprintf(h1, sizeof(h1), "X-Upload-Content-Type: %s",
	         s->u->content_type ? s->u->content_type
	                            : "application/octet-stream");
	snprintf(h2, sizeof(h2), "X-Upload-Content-Length: %" PRIu64, s->size);
	*uri = NULL;
	/* a session a failed attempt may have opened is simply never used: it
	 * expires on its own */
	{
		struct mv_http_req req = {.method = "POST", .url = url, .body = mj,
		                          .body_len = strlen(mj),
		                          .content_type = "application/json; "
		                                          "charset=UTF-8",
		                          .headers = hdrs};
		struct mv_http_resp resp;

		if (send_create(s, &req, &resp, "opening the resumable session",
		                false, &rc, err) == 0) {
			*uri = mv_http_resp_header(&resp, "Location");
			mv_http_resp_free(&resp);
			if (*uri == NULL)
				mv_err_set(err, MV_EXIT_CLOUD, "gs://%s/%s: the resumable "
				           "session answer has no Location", s->u->bucket,
				           s->u->name);
			else
				rc = session_save(s, *uri, err);
		}
	}
	if (rc != 0) {
		free(*uri);
		*uri = NULL;
	}
	free(mj);
	free(url);
	return rc;
}

/* What a chunk or status answer says: 0 more to send (*off = the server's
 * count), 1 the object is complete (res->object), 2 the session is gone,
 * 3 transient failure, 4 the name was taken, -1 error. */
static int
answer(struct up *s, const struct mv_http_req *req, int r,
       const struct mv_http_resp *resp, uint64_t *off, struct mv_err *err)
{
	if (r != 0)
		return err->exit_code == MV_EXIT_INTERRUPTED ? -1 : 3;
	if (resp->status == 308) {
		char *range = mv_http_resp_header(resp, "Range");
		unsigned long long last = 0;
		int n = 0;
		*off = 0;
		if (range != NULL &&
		    sscanf(range, "bytes=0-%llu%n", &last, &n) == 1 &&
		    range[n] == '\0')
			*off = (uint64_t)last + 1;
		free(range);
		if (*off > s->size)
			return mv_err_set(err, MV_EXIT_CLOUD, "gs://%s/%s: the session "
			                  "says it holds %" PRIu64 " bytes of %" PRIu64,
			                  s->u->bucket, s->u->name, *off, s->size);
		return 0;
	}
	if (resp->status == 200 || resp->status == 201)
		return took_object(s, resp, err) == 0 ? 1 : -1;
	if (resp->status == 404 || resp->status == 410)
		return 2;
	if (resp->status == 412)
		return 4;
	mv_http_fail(err, req, resp);
	return transient(resp->status) ? 3 : -1;
}

/* Ask the session how much it holds (an empty PUT, bytes * /N). */
static int
query(struct up *s, const char *uri, uint64_t *off, struct mv_err *err)
{
	char cr[80];
	const char *hdrs[] = {cr, NULL};
	struct mv_http_req req = {.method = "PUT", .url = uri, .body = "",
	                          .body_len = 0, .headers = hdrs,
	                          .idempotent = true};
	struct mv_http_resp resp;
	int r, a;

	snprintf(cr, sizeof(cr), "Content-Range: bytes */%" PRIu64, s->size);
	r = send_req(s, &req, &resp, err);
	a = answer(s, &req, r, &resp, off, err);
	mv_http_resp_free(&resp);
	return a;
}

static int
resumable(struct up *s, struct mv_err *err)
{
	char *uri = session_load(s), *buf = NULL;
	uint64_t off = 0;
	struct mv_progress *bar = NULL;
	int rc = -1, a, restarts = 0;

	if (uri != NULL) {
		/* a 5xx or a dropped connection is no reason to drop the
		 * session: ask again */
		while ((a = query(s, uri, &off, err)) == 3)
			if (failed_once(s, "asking the upload session", err) != 0)
				goto out;
		if (a == 0 || a == 1) {
			s->res->resumed = true;
			mv_info("storage: resuming the upload of gs://%s/%s at %" PRIu64
			        " of %" PRIu64 " bytes", s->u->bucket, s->u->name, off,
			        s->size);
		}
		if (a == 1) {
			rc = 0;
			goto done;
		}
		if (a == 4) {
			rc = existed(s, err);
			goto done;
		}
		if (a < 0)
			goto out;
		if (a != 0) { /* gone (404, 410): a new session */
			mv_err_clear(err);
			free(uri);
			uri = NULL;
			off = 0;
		}
	}
	if (uri == NULL) {
		rc = session_start(s, &uri, err);
		if (rc != 0)
			goto out; /* 1: taken, -1: error */
		rc = -1;
	}
	buf = mv_xmalloc(STORAGE_CHUNK);
	if (s->u->progress) {
		bar = mv_progress_new("deliver: upload", s->size);
		mv_progress_add(bar, off);
	}
	for (;;) {
		uint64_t n = s->size - off < STORAGE_CHUNK ? s->size - off
		                                           : STORAGE_CHUNK;
		char cr[96];
		const char *hdrs[] = {cr, NULL};
		struct mv_http_req req = {.method = "PUT", .url = uri, .body = buf,
		                          .body_len = (size_t)n, .headers = hdrs,
		                          .content_type = "application/octet-stream"};
		struct mv_http_resp resp;
		uint64_t before = off;
		int r;

		if (read_at(s->u->path, off, buf, (size_t)n, err) != 0)
			goto out;
		if (n > 0)
			snprintf(cr, sizeof(cr), "Content-Range: bytes %" PRIu64 "-%"
			         PRIu64 "/%" PRIu64, off, off + n - 1, s->size);
		else
			snprintf(cr, sizeof(cr), "Content-Range: bytes */%" PRIu64,
			         s->size);
		r = send_req(s, &req, &resp, err);
		a = answer(s, &req, r, &resp, &off, err);
		mv_http_resp_free(&resp);
		if (a == 0 && n > 0 && off <= before) {
			/* 308 without progress: the server kept none of it */
			mv_err_set(err, MV_EXIT_CLOUD, "gs://%s/%s: the session kept "
			           "none of the chunk at %" PRIu64, s->u->bucket,
			           s->u->name, before);
			if (failed_once(s, "a chunk", err) != 0)
				goto out;
			continue;
		}
		if (a == 0 || a == 1) {
			s->res->sent += n;
			if (a == 0 && off > before)
				mv_progress_add(bar, off - before);
			s->failures = 0;
		}
		if (a == 1)
			break;
		if (a == 4) {
			rc = existed(s, err);
			goto done;
		}
		if (a == 2) {
			/* the session expired or was cancelled: once more from 0 */
			if (restarts++ > 0) {
				mv_err_set(err, MV_EXIT_CLOUD, "gs://%s/%s: the upload "
				           "session vanished twice", s->u->bucket,
				           s->u->name);
				goto out;
			}
			mv_warn("storage: the upload session of gs://%s/%s is gone; "
			        "starting again", s->u->bucket, s->u->name);
			unlink(s->u->session_file);
			free(uri);
			uri = NULL;
			off = 0;
			if ((rc = session_start(s, &uri, err)) != 0)
				goto done;
			rc = -1;
			continue;
		}
		if (a == 3) {
			/* dropped or refused: how much did the server keep? */
			for (;;) {
				if (failed_once(s, "a chunk", err) != 0)
					goto out;
				a = query(s, uri, &off, err);
				if (a != 3)
					break;
			}
			if (a == 1)
				break;
			if (a == 4) {
				rc = existed(s, err);
				goto done;
			}
			if (a < 0)
				goto out;
			/* 0: go on from off; 2: the next PUT finds the session gone */
			continue;
		}
		if (a < 0)
			goto out;
		if (off % STORAGE_CHUNK_ALIGN != 0 && off != s->size) {
			/* servers persist in 256 KiB units; go on from theirs */
			mv_debug("storage: the server kept %" PRIu64 " bytes", off);
		}
	}
	rc = 0;
done:
	if (rc >= 0)
		unlink(s->u->session_file);
out:
	mv_progress_finish(bar);
	mv_progress_free(bar);
	free(buf);
	if (uri != NULL)
		explicit_bzero(uri, strlen(uri));
	free(uri);
	return rc;
}

int
storage_upload_file(struct gcp *g, const struct storage_upload *u,
                    struct storage_upload_result *res, struct mv_err *err)
{
	struct up s = {.g = g, .u = u, .res = res};

	memset(res, 0, sizeof(*res));
	s.seed = (unsigned)getpid() ^ (unsigned)(uintptr_t)&s;
	if (storage_file_hashes(u->path, s.md5, s.crc, &s.size, err) != 0)
		return -1;
	if (s.size <= STORAGE_MULTIPART_MAX)
		return multipart(&s, err);
	if (u->session_file == NULL)
		return mv_err_set(err, MV_EXIT_FAIL, "gs://%s/%s: a resumable upload "
		                  "needs a session file", u->bucket, u->name);
	return resumable(&s, err);
}

void
storage_upload_result_free(struct storage_upload_result *res)
{
	if (res == NULL)
		return;
	json_decref(res->object);
	res->object = NULL;
}

int
storage_upload_cancel(struct gcp *g, const char *session_file,
                      struct mv_err *err)
{
	json_t *j = json_load_file(session_file, 0, NULL);
	const char *uri = json_string_value(json_object_get(j, "uri"));
	struct storage_upload_result res = {0};
	struct storage_upload u = {.bucket = "", .name = ""};
	struct up s = {.g = g, .u = &u, .res = &res};
	int rc = 0;

	if (uri != NULL) {
		struct mv_http_req req = {.method = "DELETE", .url = uri,
		                          .idempotent = true};
		struct mv_http_resp resp;
		if (send_req(&s, &req, &resp, err) != 0) {
			rc = -1;
		} else if (resp.status != 499 && resp.status != 404 &&
		           resp.status != 410 &&
		           (resp.status < 200 || resp.status > 299)) {
			rc = mv_http_fail(err, &req, &resp);
		}
		mv_http_resp_free(&resp);
	}
	json_decref(j);
	if (rc == 0 && unlink(session_file) != 0 && errno != ENOENT)
		rc = mv_err_sys(err, errno, "%s", session_file);
	return rc;
}
