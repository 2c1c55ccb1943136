/* harness/fake/storage_upload.c - Cloud Storage uploads as the JSON API
 * takes them: uploadType=media (the bytes), multipart (multipart/related:
 * JSON metadata, then the bytes) and resumable (a POST opens a session
 * and answers its URI in Location; PUTs carry chunks with Content-Range
 * and get 308 with "Range: bytes=0-N" until the last; "bytes * /N"
 * asks the status; DELETE cancels with 499).  Both the /upload/ and
 * gcloud's /resumable/upload/ paths.  The transport streams upload
 * bodies to unlinked temp files (http.c); a session's bytes accumulate
 * in its own temp file until the object is complete.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness/fake/storage_int.h"
#include "harness/fake/svc.h"

/* The body in memory: borrowed when the transport kept it there, read
 * from its temp file otherwise (*owned set, free it). */
static int
body_bytes(struct freq *rq, const char **p, size_t *len, char **owned)
{
	char *buf;
	size_t got = 0;

	*owned = NULL;
	if (!rq->body_in_file) {
		*p = rq->body ? rq->body : "";
		*len = rq->body_len;
		return 0;
	}
	buf = malloc(rq->body_file_len + 1);
	if (buf == NULL)
		return -1;
	while (got < rq->body_file_len) {
		ssize_t r = pread(rq->body_fd, buf + got, rq->body_file_len - got,
		                  (off_t)got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			free(buf);
			return -1;
		}
		got += (size_t)r;
	}
	buf[got] = '\0';
	*p = *owned = buf;
	*len = got;
	return 0;
}

static json_t *
meta_with_name(struct freq *rq, const json_t *meta)
{
	json_t *m = json_is_object(meta) ? json_deep_copy(meta) : json_object();
	const char *name = freq_arg(rq, "name");

	if (name != NULL && *name != '\0')
		json_object_set_new(m, "name", json_string(name));
	return m;
}

/* After the blank line that ends a part's headers ("\r\n\r\n", or
 * "\n\n" as apitools writes them), or NULL. */
static const char *
part_body(const char *p, const char *end)
{
	const char *crlf = memmem(p, (size_t)(end - p), "\r\n\r\n", 4);
	const char *lf = memmem(p, (size_t)(end - p), "\n\n", 2);

	if (lf != NULL && (crlf == NULL || lf < crlf))
		return lf + 2;
	return crlf ? crlf + 4 : NULL;
}

/* multipart/related: "--B\r\n<headers>\r\n\r\n<JSON>\r\n--B\r\n<headers>
 * \r\n\r\n<bytes>\r\n--B--" (or with bare LFs, as gcloud sends it).
 * The boundary from the Content-Type. */
static int
multipart_split(const char *ct, const char *body, size_t len, json_t **meta,
                const char **data, size_t *dlen, char **dtype)
{
	const char *b = ct ? strstr(ct, "boundary=") : NULL;
	char delim[256];
	size_t bl, n;
	const char *p1, *h1, *p2, *h2, *end, *q;

	if (b == NULL)
		return -1;
	b += 9;
	if (*b == '"' || *b == '\'') /* apitools quotes it with ' */
		b++;
	n = strcspn(b, "\"';, ");
	if (n == 0 || n > 200)
		return -1;
	bl = (size_t)snprintf(delim, sizeof(delim), "--%.*s", (int)n, b);
	p1 = memmem(body, len, delim, bl);
	if (p1 == NULL)
		return -1;
	h1 = part_body(p1, body + len);
	if (h1 == NULL)
		return -1;
	p2 = memmem(h1, len - (size_t)(h1 - body), delim, bl);
	if (p2 == NULL)
		return -1;
	*meta = json_loadb(h1, (size_t)(p2 - h1), JSON_DISABLE_EOF_CHECK, NULL);
	if (!json_is_object(*meta)) {
		json_decref(*meta);
		*meta = NULL;
		return -1;
	}
	h2 = part_body(p2, body + len);
	if (h2 == NULL)
		goto bad;
	*dtype = NULL;
	for (q = p2; q < h2; q++) {
		if ((size_t)(h2 - q) > 14 && strncasecmp(q, "content-type:", 13) == 0) {
			q += 13;
			while (*q == ' ')
				q++;
			const char *e = q;
			while (e < h2 && *e != '\r' && *e != '\n')
				e++;
			*dtype = strndup(q, (size_t)(e - q));
			break;
		}
	}
	/* the closing delimiter, preceded by CRLF or LF */
	end = NULL;
	for (q = h2; (q = memmem(q, len - (size_t)(q - body), delim, bl)) != NULL;
	     q += bl)
		end = q;
	if (end == NULL || end < h2 || (end > h2 && end[-1] != '\n')) {
		free(*dtype);
		*dtype = NULL;
		goto bad;
	}
	*data = h2;
	*dlen = end > h2 ? (size_t)(end - 1 - h2) : 0; /* "\n\n--B": empty */
	if (*dlen > 0 && end[-2] == '\r')
		(*dlen)--;
	return 0;
bad:
	json_decref(*meta);
	*meta = NULL;
	return -1;
}

static void
upload_multipart(struct fake *f, struct freq *rq, struct fresp *rs,
                 const char *body, size_t len)
{
	json_t *meta = NULL, *m;
	const char *data;
	size_t dlen;
	char *dtype = NULL;

	if (multipart_split(freq_header(rq, "Content-Type"), body, len, &meta,
	                    &data, &dlen, &dtype) != 0) {
		resp_gerr(rs, 400, "invalid", "Invalid multipart request: a "
		          "multipart/related body of JSON metadata then the "
		          "object's bytes, with its boundary, is expected.");
		return;
	}
	m = meta_with_name(rq, meta);
	if (json_object_get(m, "contentType") == NULL && dtype != NULL)
		json_object_set_new(m, "contentType", json_string(dtype));
	storage_object_put(f, rq, rs, rq->cap[0], m,
	                   freq_arg(rq, "ifGenerationMatch"), data, dlen);
	json_decref(m);
	json_decref(meta);
	free(dtype);
}

/* ---- resumable sessions ---- */

static void
session_drop(struct fake *f, const char *id)
{
	json_t *s = json_object_get(fake_db(f, "uploads"), id);

	if (s == NULL)
		return;
	unlink(fake_jstr(s, "file"));
	json_object_del(fake_db(f, "uploads"), id);
}

static void
upload_start(struct fake *f, struct freq *rq, struct fresp *rs)
{
	const char *dir = getenv("TMPDIR");
	json_t *m = meta_with_name(rq, rq->json), *seq = fake_db(f, "seq"), *c;
	char id[40], path[4096], num[24];
	uint64_t n;
	int fd;

	if (json_object_get(fake_db(f, "buckets"), rq->cap[0]) == NULL) {
		json_decref(m);
		resp_gerr(rs, 404, "notFound", "The specified bucket does not "
		          "exist.");
		return;
	}
	if (*fake_jstr(m, "name") == '\0') {
		json_decref(m);
		resp_gerr(rs, 400, "required", "Required parameter: name");
		return;
	}
	snprintf(path, sizeof(path), "%s/meshvm-fake-session-XXXXXX",
	         dir != NULL && *dir != '\0' ? dir : "/tmp");
	fd = mkstemp(path);
	if (fd < 0) {
		json_decref(m);
		resp_gerr(rs, 503, "backendError", "Cannot open an upload "
		          "session: %s", strerror(errno));
		return;
	}
	close(fd);
	c = json_object_get(seq, "gcs-upload");
	n = c ? (uint64_t)json_integer_value(c) + 1 : 1;
	json_object_set_new(seq, "gcs-upload", json_integer((json_int_t)n));
	snprintf(id, sizeof(id), "ADPycd%016llx",
	         (unsigned long long)fake_hash64("gcs-upload", rq->cap[0],
	                                         fake_u64(n, num, sizeof(num)),
	                                         NULL));
	json_object_set_new(fake_db(f, "uploads"), id, json_pack(
	        "{s:s, s:o, s:I, s:I, s:s, s:s?}", "bucket", rq->cap[0],
	        "meta", m, "received", (json_int_t)0, "total", (json_int_t)-1,
	        "file", path, "ifGenerationMatch",
	        freq_arg(rq, "ifGenerationMatch")));
	resp_bytes(rs, 200, "text/plain; charset=utf-8", "", 0);
	resp_header(rs, "Location", "%s%s?uploadType=resumable&upload_id=%s",
	            rq->base, rq->path, id);
	resp_header(rs, "X-GUploader-UploadID", "%s", id);
}

static void
storage_upload_post(struct fake *f, struct freq *rq, struct fresp *rs)
{
	const char *type = freq_arg(rq, "uploadType"), *body;
	size_t len;
	char *owned;
	json_t *m;

	if (type != NULL && strcmp(type, "resumable") == 0) {
		if (rq->body_len > 0 && rq->json == NULL) {
			rq->json = json_loadb(rq->body, rq->body_len, 0, NULL);
			if (!json_is_object(rq->json)) {
				resp_gerr(rs, 400, "parseError", "The resumable "
				          "session's metadata is not a JSON object.");
				return;
			}
		}
		upload_start(f, rq, rs);
		return;
	}
	if (type == NULL || (strcmp(type, "media") != 0 &&
	                     strcmp(type, "multipart") != 0)) {
		resp_gerr(rs, 400, "invalid", "Upload type '%s' is not supported; "
		          "use media, multipart or resumable.", type ? type : "");
		return;
	}
	if (body_bytes(rq, &body, &len, &owned) != 0) {
		resp_gerr(rs, 500, NULL, "cannot read the upload body");
		return;
	}
	if (strcmp(type, "multipart") == 0) {
		upload_multipart(f, rq, rs, body, len);
	} else {
		m = meta_with_name(rq, NULL);
		storage_object_put(f, rq, rs, rq->cap[0], m,
		                   freq_arg(rq, "ifGenerationMatch"), body, len);
		json_decref(m);
	}
	free(owned);
}

/* Content-Range: "bytes A-B/T", "bytes A-B/ *", "bytes * /T" or
 * "bytes * / *" (no spaces): first/last -1 for "*", total -1 for "*". */
static int
parse_content_range(const char *h, long long *a, long long *b, long long *t)
{
	char *end;

	*a = *b = *t = -1;
	if (h == NULL || strncmp(h, "bytes ", 6) != 0)
		return -1;
	h += 6;
	if (*h == '*') {
		h++;
	} else {
		*a = strtoll(h, &end, 10);
		if (end == h || *end != '-' || *a < 0)
			return -1;
		h = end + 1;
		*b = strtoll(h, &end, 10);
		if (end == h || *b < *a)
			return -1;
		h = end;
	}
	if (*h++ != '/')
		return -1;
	if (strcmp(h, "*") == 0)
		return 0;
	*t = strtoll(h, &end, 10);
	if (end == h || *end != '\0' || *t < 0 || (*b >= 0 && *b >= *t))
		return -1;
	return 0;
}

/* Append bytes [skip, n) of the body to the session's file. */
static int
session_append(struct freq *rq, const char *file, size_t skip)
{
	int out = open(file, O_WRONLY | O_APPEND | O_CLOEXEC);
	char buf[65536];
	size_t n = rq->body_in_file ? rq->body_file_len : rq->body_len;
	size_t off = skip;
	int rc = 0;

	if (out < 0)
		return -1;
	while (rc == 0 && off < n) {
		size_t want = n - off < sizeof(buf) ? n - off : sizeof(buf);
		const char *src = rq->body + off;
		ssize_t r = (ssize_t)want, w;
		if (rq->body_in_file) {
			r = pread(rq->body_fd, buf, want, (off_t)off);
			src = buf;
		}
		if (r <= 0) {
			rc = -1;
			break;
		}
		w = write(out, src, (size_t)r);
		if (w != r)
			rc = -1;
		off += (size_t)r;
	}
	if (close(out) != 0)
		rc = -1;
	return rc;
}

static void
session_finish(struct fake *f, struct freq *rq, struct fresp *rs,
               const char *id, json_t *s)
{
	struct freq q = *rq;
	char *buf = NULL;
	size_t len = (size_t)json_integer_value(json_object_get(s, "received"));
	int fd = open(fake_jstr(s, "file"), O_RDONLY | O_CLOEXEC);
	const char *bucket = fake_jstr(s, "bucket");
	char bk[256];
	json_t *gm;

	q.body_in_file = true;
	q.body_fd = fd;
	q.body_file_len = len;
	if (fd < 0 || body_bytes(&q, (const char **)&buf, &len, &buf) != 0) {
		if (fd >= 0)
			close(fd);
		resp_gerr(rs, 503, "backendError", "The upload session's bytes "
		          "cannot be read.");
		return;
	}
	close(fd);
	snprintf(bk, sizeof(bk), "%s", bucket);
	/* the precondition given when the session started */
	gm = json_object_get(s, "ifGenerationMatch");
	storage_object_put(f, rq, rs, bk, json_object_get(s, "meta"),
	                   json_is_string(gm) ? json_string_value(gm) : NULL,
	                   buf, len);
	free(buf);
	session_drop(f, id);
}

static void
storage_upload_put(struct fake *f, struct freq *rq, struct fresp *rs)
{
	const char *id = freq_arg(rq, "upload_id");
	json_t *s = id ? json_object_get(fake_db(f, "uploads"), id) : NULL;
	long long a, b, t, have;
	size_t n = rq->body_in_file ? rq->body_file_len : rq->body_len;
	const char *cr = freq_header(rq, "Content-Range");

	if (s == NULL || strcmp(fake_jstr(s, "bucket"), rq->cap[0]) != 0) {
		resp_gerr(rs, 404, "notFound", "No such upload session.");
		return;
	}
	have = json_integer_value(json_object_get(s, "received"));
	if (cr == NULL) { /* the whole object in one request */
		a = 0;
		b = n ? (long long)n - 1 : -1;
		t = (long long)n;
	} else if (parse_content_range(cr, &a, &b, &t) != 0 ||
	           (a < 0 && n > 0) ||
	           (a >= 0 && (long long)n != b - a + 1)) {
		resp_gerr(rs, 400, "invalid", "Invalid Content-Range '%.64s' "
		          "for a body of %zu bytes.", cr, n);
		return;
	}
	if (a > have) {
		resp_gerr(rs, 400, "invalid", "Content-Range starts at %lld but "
		          "the session has %lld bytes.", a, have);
		return;
	}
	if (a >= 0 && b + 1 > have) {
		if ((unsigned long long)(b + 1) > fst(f)->opt.max_upload_bytes) {
			resp_gerr(rs, 413, NULL, "The upload is larger than the "
			          "limit of %zu bytes.", fst(f)->opt.max_upload_bytes);
			return;
		}
		if (session_append(rq, fake_jstr(s, "file"),
		                   (size_t)(have - a)) != 0) {
			resp_gerr(rs, 503, "backendError", "Cannot store the "
			          "chunk: %s", strerror(errno));
			return;
		}
		have = b + 1;
		json_object_set_new(s, "received", json_integer(have));
	}
	if (t >= 0)
		json_object_set_new(s, "total", json_integer(t));
	t = json_integer_value(json_object_get(s, "total"));
	if (t >= 0 && have > t) {
		resp_gerr(rs, 400, "invalid", "The session has %lld bytes, more "
		          "than the total %lld.", have, t);
		return;
	}
	if (t >= 0 && have == t) {
		session_finish(f, rq, rs, id, s);
		return;
	}
	resp_bytes(rs, 308, "text/plain; charset=utf-8", "", 0);
	if (have > 0)
		resp_header(rs, "Range", "bytes=0-%lld", have - 1);
}

static void
storage_upload_cancel(struct fake *f, struct freq *rq, struct fresp *rs)
{
	const char *id = freq_arg(rq, "upload_id");

	if (id == NULL || json_object_get(fake_db(f, "uploads"), id) == NULL) {
		resp_gerr(rs, 404, "notFound", "No such upload session.");
		return;
	}
	session_drop(f, id);
	resp_bytes(rs, 499, "text/plain; charset=utf-8", "", 0);
}

void
storage_uploads_free(struct fake *f)
{
	const char *id;
	json_t *s;

	json_object_foreach(fake_db(f, "uploads"), id, s)
		unlink(fake_jstr(s, "file"));
}

const struct route storage_upload_routes[] = {
	{"POST", "/upload/storage/v1/b/{}/o", storage_upload_post, R_AUTH, NULL},
	{"PUT", "/upload/storage/v1/b/{}/o", storage_upload_put, R_AUTH, NULL},
	{"DELETE", "/upload/storage/v1/b/{}/o", storage_upload_cancel, R_AUTH,
	 NULL},
	{"POST", "/resumable/upload/storage/v1/b/{}/o", storage_upload_post,
	 R_AUTH, NULL},
	{"PUT", "/resumable/upload/storage/v1/b/{}/o", storage_upload_put, R_AUTH,
	 NULL},
	{"DELETE", "/resumable/upload/storage/v1/b/{}/o", storage_upload_cancel,
	 R_AUTH, NULL},
	{NULL, NULL, NULL, 0, NULL},
};
