/* test_storage.c - cluster/storage.h against a real `meshvm fake` served
 * in-process on 127.0.0.1 (fake_start): buckets, bucket IAM, objects,
 * multipart and resumable uploads, a session resumed from its file, and
 * an upload through a 503'd and a dropped chunk. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cluster/gcp.h"
#include "cluster/storage.h"
#include "core/http.h"
#include "fakeutil.h"

struct env {
	struct fake *f;
	struct mv_endpoints ep;
	struct gcp g;
	char *dir;
};

static int
setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	struct fake_options o;
	struct mv_err err;

	setenv("MESHVM_TIMING", "fast", 1);
	fake_options_init(&o);
	o.no_auth = true;
	o.threads = 2;
	assert_int_equal(fake_new(&o, &e->f, &err), 0);
	assert_int_equal(fake_start(e->f, &err), 0);
	e->ep.storage = tu_fmt("%s/", fake_url(e->f));
	e->ep.compute = tu_fmt("%s/compute/v1/", fake_url(e->f));
	e->g.http = mv_http_new(NULL);
	e->g.ep = &e->ep;
	e->g.project = "meshvm-test";
	e->dir = tu_tmpdir();
	*state = e;
	return 0;
}

static int
teardown(void **state)
{
	struct env *e = *state;

	fake_stop(e->f, NULL);
	fake_free(e->f);
	mv_http_free(e->g.http);
	free(e->ep.storage);
	free(e->ep.compute);
	tu_rmrf(e->dir);
	free(e->dir);
	free(e);
	return 0;
}

/* A control call on the fake (faults). */
static void
control(struct env *e, const char *method, const char *path, const char *body)
{
	char *url = tu_fmt("%s%s", fake_url(e->f), path);
	struct mv_http_req req = {.method = method, .url = url, .body = body,
	                          .body_len = body ? strlen(body) : 0,
	                          .content_type = "application/yaml",
	                          .idempotent = true};
	struct mv_http_resp resp;
	struct mv_err err;

	assert_int_equal(mv_http_do(e->g.http, &req, &resp, &err), 0);
	assert_true(resp.status >= 200 && resp.status < 300);
	mv_http_resp_free(&resp);
	free(url);
}

static char *
random_file(struct env *e, const char *name, size_t len)
{
	char *p = tu_fmt("%s/%s", e->dir, name);
	unsigned char *buf = malloc(len);
	unsigned x = (unsigned)len * 2654435761u;

	for (size_t i = 0; i < len; i++) {
		x = x * 1103515245u + 12345u;
		buf[i] = (unsigned char)(x >> 16);
	}
	tu_write_bytes(p, buf, len);
	free(buf);
	return p;
}

static void
test_crc32c(void **state)
{
	char md5[25], crc[9];
	struct mv_err err;
	char *p, *d = tu_tmpdir();
	uint64_t n = 0;

	(void)state;
	/* RFC 3720's check value */
	assert_int_equal(storage_crc32c(0, "123456789", 9), 0xE3069283u);
	/* continuing gives the same as all at once */
	assert_int_equal(storage_crc32c(storage_crc32c(0, "1234", 4), "56789", 5),
	                 0xE3069283u);
	p = tu_fmt("%s/hello", d);
	tu_write(p, "hello");
	assert_int_equal(storage_file_hashes(p, md5, crc, &n, &err), 0);
	assert_string_equal(md5, "XUFAKrxLKna5cZ2REBfFkg==");
	assert_int_equal(n, 5);
	tu_rmrf(d);
	free(d);
	free(p);
}

static void
test_buckets(void **state)
{
	struct env *e = *state;
	struct mv_err err;
	json_t *b = NULL;
	char *f = random_file(e, "small", 100);
	struct storage_upload u = {.bucket = "bkt-a", .name = "x/one", .path = f};
	struct storage_upload_result res;

	assert_int_equal(storage_bucket_get(&e->g, "bkt-a", &b, &err), 1);
	assert_int_equal(storage_bucket_insert(&e->g, "bkt-a", NULL, "mv-0123",
	                                       &err), 0);
	assert_int_equal(storage_bucket_insert(&e->g, "bkt-a", NULL, "mv-0123",
	                                       &err), 1);
	assert_int_equal(storage_bucket_get(&e->g, "bkt-a", &b, &err), 0);
	assert_string_equal(storage_bucket_id(b), "mv-0123");
	assert_true(json_is_true(json_object_get(json_object_get(
		json_object_get(b, "iamConfiguration"), "uniformBucketLevelAccess"),
		"enabled")));
	json_decref(b);
	/* not empty: left alone */
	assert_int_equal(storage_upload_file(&e->g, &u, &res, &err), 0);
	storage_upload_result_free(&res);
	assert_int_equal(storage_bucket_delete(&e->g, "bkt-a", &err), 2);
	assert_int_equal(storage_object_delete(&e->g, "bkt-a", "x/one", NULL,
	                                       &err), 0);
	assert_int_equal(storage_object_delete(&e->g, "bkt-a", "x/one", NULL,
	                                       &err), 1);
	assert_int_equal(storage_bucket_delete(&e->g, "bkt-a", &err), 0);
	assert_int_equal(storage_bucket_delete(&e->g, "bkt-a", &err), 1);
	free(f);
}

static void
test_iam(void **state)
{
	struct env *e = *state;
	struct mv_err err;
	json_t *pol = NULL, *stale;
	const char *m = "serviceAccount:1-compute@developer.gserviceaccount.com";

	assert_int_equal(storage_bucket_insert(&e->g, "bkt-iam", NULL, "mv-1",
	                                       &err), 0);
	assert_int_equal(storage_iam_get(&e->g, "bkt-iam", &pol, &err), 0);
	assert_false(storage_iam_has(pol, "roles/storage.objectViewer", m));
	stale = json_deep_copy(pol);
	storage_iam_add(pol, "roles/storage.objectViewer", m);
	storage_iam_add(pol, "roles/storage.objectViewer", m); /* once */
	assert_int_equal(storage_iam_set(&e->g, "bkt-iam", pol, &err), 0);
	json_decref(pol);
	assert_int_equal(storage_iam_get(&e->g, "bkt-iam", &pol, &err), 0);
	assert_true(storage_iam_has(pol, "roles/storage.objectViewer", m));
	assert_int_equal(json_array_size(json_object_get(json_array_get(
		json_object_get(pol, "bindings"), 2), "members")), 1);
	/* the project's roles stay */
	assert_true(storage_iam_has(pol, "roles/storage.legacyBucketReader",
	                            json_string_value(json_array_get(json_object_get(
	                                json_array_get(json_object_get(pol, "bindings"),
	                                               1), "members"), 0))));
	json_decref(pol);
	/* a policy read before the change: its etag is stale */
	assert_int_equal(storage_iam_set(&e->g, "bkt-iam", stale, &err), -1);
	assert_int_equal(err.http_status, 412);
	json_decref(stale);
}

static void
test_upload_multipart(void **state)
{
	struct env *e = *state;
	struct mv_err err;
	char *f = random_file(e, "eight", STORAGE_MULTIPART_MAX);
	char *f2 = random_file(e, "other", 1000);
	json_t *meta = json_pack("{s:s}", "meshvm-id", "mv-1");
	struct storage_upload u = {.bucket = "bkt-mp", .name = "b/8m", .path = f,
	                           .metadata = meta};
	struct storage_upload_result res;
	char md5[25], crc[9];

	assert_int_equal(storage_bucket_insert(&e->g, "bkt-mp", NULL, "mv-1",
	                                       &err), 0);
	assert_int_equal(storage_upload_file(&e->g, &u, &res, &err), 0);
	assert_int_equal(res.requests, 1); /* 8 MiB: still one request */
	assert_int_equal(res.sent, STORAGE_MULTIPART_MAX);
	assert_int_equal(storage_file_hashes(f, md5, crc, NULL, &err), 0);
	assert_string_equal(json_string_value(json_object_get(res.object,
	                                                      "md5Hash")), md5);
	assert_string_equal(json_string_value(json_object_get(res.object,
	                                                      "crc32c")), crc);
	assert_string_equal(json_string_value(json_object_get(json_object_get(
		res.object, "metadata"), "meshvm-id")), "mv-1");
	storage_upload_result_free(&res);
	/* never over an existing object: 1 and what is there */
	u.path = f2;
	assert_int_equal(storage_upload_file(&e->g, &u, &res, &err), 1);
	assert_true(res.existed);
	assert_string_equal(json_string_value(json_object_get(res.object,
	                                                      "md5Hash")), md5);
	storage_upload_result_free(&res);
	json_decref(meta);
	free(f);
	free(f2);
}

static void
test_upload_resumable(void **state)
{
	struct env *e = *state;
	struct mv_err err;
	size_t len = 2 * STORAGE_CHUNK + 12345;
	char *f = random_file(e, "big", len);
	char *sess = tu_fmt("%s/session.json", e->dir);
	struct storage_upload u = {.bucket = "bkt-r", .name = "big", .path = f,
	                           .session_file = sess};
	struct storage_upload_result res;
	char *size = tu_fmt("%zu", len);

	assert_int_equal(storage_bucket_insert(&e->g, "bkt-r", NULL, "mv-1",
	                                       &err), 0);
	assert_int_equal(storage_upload_file(&e->g, &u, &res, &err), 0);
	assert_int_equal(res.sent, len);
	assert_int_equal(res.requests, 1 + 3); /* the session, three chunks */
	assert_false(res.resumed);
	assert_false(tu_exists(sess));
	assert_string_equal(json_string_value(json_object_get(res.object, "size")),
	                    size);
	storage_upload_result_free(&res);
	free(size);
	free(f);
	free(sess);
}

/* Open a session by hand and send its first chunk, as a run killed
 * after that would have; then the client goes on from the session file. */
static void
test_resume_from_file(void **state)
{
	struct env *e = *state;
	struct mv_err err;
	size_t len = STORAGE_CHUNK + 3 * STORAGE_CHUNK_ALIGN;
	char *f = random_file(e, "resume", len), *body, *uri, *url, *text;
	char *sess = tu_fmt("%s/resume-session.json", e->dir);
	char md5[25], crc[9], cr[96], *stale;
	const char *hdrs[] = {cr, NULL};
	struct storage_upload u = {.bucket = "bkt-s", .name = "o/resume",
	                           .path = f, .session_file = sess};
	struct storage_upload_result res;
	struct mv_http_resp resp;
	struct stat st;

	assert_int_equal(storage_bucket_insert(&e->g, "bkt-s", NULL, "mv-1",
	                                       &err), 0);
	assert_int_equal(storage_file_hashes(f, md5, crc, NULL, &err), 0);
	/* a session file for other bytes is dropped, not used */
	stale = tu_fmt("{\"uri\":\"%s/nowhere\",\"bucket\":\"bkt-s\",\"name\":"
	               "\"o/resume\",\"size\":1,\"md5\":\"x\"}", fake_url(e->f));
	tu_write(sess, stale);
	url = tu_fmt("%s/upload/storage/v1/b/bkt-s/o?uploadType=resumable&"
	             "name=o%%2Fresume&ifGenerationMatch=0", fake_url(e->f));
	struct mv_http_req start = {.method = "POST", .url = url, .body = "{}",
	                            .body_len = 2,
	                            .content_type = "application/json"};
	assert_int_equal(mv_http_do(e->g.http, &start, &resp, &err), 0);
	assert_int_equal(resp.status, 200);
	uri = mv_http_resp_header(&resp, "location");
	assert_non_null(uri);
	mv_http_resp_free(&resp);
	body = tu_read(f, NULL);
	snprintf(cr, sizeof(cr), "Content-Range: bytes 0-%u/%zu",
	         STORAGE_CHUNK - 1, len);
	struct mv_http_req put = {.method = "PUT", .url = uri, .body = body,
	                          .body_len = STORAGE_CHUNK, .headers = hdrs};
	assert_int_equal(mv_http_do(e->g.http, &put, &resp, &err), 0);
	assert_int_equal(resp.status, 308);
	mv_http_resp_free(&resp);
	/* the stale file names other bytes: a new session, all bytes */
	assert_int_equal(storage_upload_file(&e->g, &u, &res, &err), 0);
	assert_int_equal(res.sent, len);
	storage_upload_result_free(&res);
	assert_int_equal(storage_object_delete(&e->g, "bkt-s", "o/resume", NULL,
	                                       &err), 0);
	/* the file of the hand-made session: only the rest goes */
	text = tu_fmt("{\"uri\":\"%s\",\"bucket\":\"bkt-s\",\"name\":"
	              "\"o/resume\",\"size\":%zu,\"md5\":\"%s\"}", uri, len, md5);
	tu_write(sess, text);
	chmod(sess, 0600);
	assert_int_equal(storage_upload_file(&e->g, &u, &res, &err), 0);
	assert_true(res.resumed);
	assert_int_equal(res.sent, len - STORAGE_CHUNK);
	assert_int_equal(res.requests, 2); /* the status query, the rest */
	assert_string_equal(json_string_value(json_object_get(res.object,
	                                                      "md5Hash")), md5);
	storage_upload_result_free(&res);
	assert_false(tu_exists(sess));
	(void)st;
	free(text);
	free(stale);
	free(body);
	free(uri);
	free(url);
	free(f);
	free(sess);
}

/* The first chunk answered 503, the second's connection reset: each time
 * the client asks the session and goes on; a session refused for good
 * keeps its 0600 file for the next run. */
static void
test_upload_through_faults(void **state)
{
	struct env *e = *state;
	struct mv_err err;
	size_t len = 2 * STORAGE_CHUNK + 99;
	char *f = random_file(e, "faulty", len);
	char *sess = tu_fmt("%s/faulty-session.json", e->dir);
	struct storage_upload u = {.bucket = "bkt-f", .name = "faulty",
	                           .path = f, .session_file = sess};
	struct storage_upload_result res;
	struct stat st;

	assert_int_equal(storage_bucket_insert(&e->g, "bkt-f", NULL, "mv-1",
	                                       &err), 0);
	control(e, "PUT", "/_fake/faults",
	        "rules:\n"
	        "  - {name: c503, method: PUT, path: /upload/storage/v1/b/bkt-f/o, "
	        "query: {uploadType: resumable}, nth: [1], status: 503}\n"
	        "  - {name: creset, method: PUT, path: /upload/storage/v1/b/bkt-f/o, "
	        "nth: [3], reset: true}\n");
	assert_int_equal(storage_upload_file(&e->g, &u, &res, &err), 0);
	assert_false(tu_exists(sess));
	assert_true(res.requests > 1 + 3);
	storage_upload_result_free(&res);
	/* every chunk refused (400): an error, the session file kept, 0600 */
	control(e, "PUT", "/_fake/faults",
	        "rules:\n"
	        "  - {name: no, method: PUT, path: /upload/storage/v1/b/bkt-f/o, "
	        "status: 400}\n");
	u.name = "faulty-2";
	assert_int_equal(storage_upload_file(&e->g, &u, &res, &err), -1);
	assert_non_null(strstr(err.msg, "400"));
	assert_null(strstr(err.msg, "upload_id=A"));
	assert_int_equal(stat(sess, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	control(e, "PUT", "/_fake/faults", "rules: []\n");
	/* the next run goes on with that session */
	assert_int_equal(storage_upload_file(&e->g, &u, &res, &err), 0);
	assert_true(res.resumed);
	storage_upload_result_free(&res);
	/* a left session is cancelled (the server drops its bytes) */
	control(e, "PUT", "/_fake/faults",
	        "rules:\n"
	        "  - {name: no, method: PUT, path: /upload/storage/v1/b/bkt-f/o, "
	        "status: 400}\n");
	u.name = "faulty-3";
	assert_int_equal(storage_upload_file(&e->g, &u, &res, &err), -1);
	control(e, "PUT", "/_fake/faults", "rules: []\n");
	assert_true(tu_exists(sess));
	assert_int_equal(storage_upload_cancel(&e->g, sess, &err), 0);
	assert_false(tu_exists(sess));
	assert_int_equal(storage_upload_cancel(&e->g, sess, &err), 0);
	{
		char *url = tu_fmt("%s/_fake/state", fake_url(e->f));
		struct mv_http_req req = {.method = "GET", .url = url,
		                          .idempotent = true};
		struct mv_http_resp resp;
		json_t *fs;
		assert_int_equal(mv_http_do(e->g.http, &req, &resp, &err), 0);
		fs = json_loadb(resp.body, resp.len, 0, NULL);
		assert_int_equal(json_object_size(json_object_get(fs, "uploads")), 0);
		json_decref(fs);
		mv_http_resp_free(&resp);
		free(url);
	}
	free(f);
	free(sess);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc32c),
		cmocka_unit_test(test_buckets),
		cmocka_unit_test(test_iam),
		cmocka_unit_test(test_upload_multipart),
		cmocka_unit_test(test_upload_resumable),
		cmocka_unit_test(test_resume_from_file),
		cmocka_unit_test(test_upload_through_faults),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
