/* test_fake_storage.c - Cloud Storage uploads and downloads through
 * fake_handle(): multipart, resumable sessions (chunks, 308 and Range,
 * status queries, cancel), ifGenerationMatch, ranged downloads. */
#include <stdlib.h>
#include <string.h>

#include "fakeutil.h"

static const char *
js(const json_t *o, const char *k)
{
	const char *v = json_string_value(json_object_get(o, k));

	return v ? v : "";
}

static struct fake *
with_bucket(void)
{
	struct fake *f = fu_new(true, 0);

	assert_int_equal(fu_do(f, "POST", "/storage/v1/b?project=p1",
	                       "{\"name\":\"bkt\"}"), 200);
	return f;
}

/* The value of a response header, or "" (static buffer). */
static const char *
hdr(const struct fu_resp *r, const char *name)
{
	static char v[512];
	const char *h = r->raw.headers;
	size_t n = strlen(name);

	v[0] = '\0';
	while (h != NULL && *h != '\0') {
		const char *nl = strchr(h, '\n');
		size_t len = nl ? (size_t)(nl - h) : strlen(h);
		if (len > n + 1 && strncasecmp(h, name, n) == 0 && h[n] == ':') {
			const char *s = h + n + 1;
			while (*s == ' ')
				s++;
			snprintf(v, sizeof(v), "%.*s", (int)(len - (size_t)(s - h)), s);
			return v;
		}
		h = nl ? nl + 1 : NULL;
	}
	return v;
}

static char *
media(struct fake *f, const char *name, const char *range)
{
	char *t = tu_fmt("/storage/v1/b/bkt/o/%s?alt=media", name);
	char *rh = range ? tu_fmt("Range: %s", range) : NULL;
	const char *h[] = {rh, NULL};
	struct fu_resp r = fu_req_on(f, "gcp", "GET", t, NULL, rh ? h : NULL);
	char *out = tu_fmt("%d %s", r.status, r.raw.body ? r.raw.body : "");

	fu_free(&r);
	free(t);
	free(rh);
	return out;
}

static void
test_multipart(void **state)
{
	struct fake *f = with_bucket();
	const char *h[] = {"Content-Type: multipart/related; boundary=\"==B==\"",
	                   NULL};
	struct fu_resp r;
	char *m;

	(void)state;
	r = fu_req_on(f, "gcp", "POST", "/upload/storage/v1/b/bkt/o?"
	              "uploadType=multipart",
	              "--==B==\r\nContent-Type: application/json\r\n\r\n"
	              "{\"name\":\"dir/a.txt\",\"metadata\":{\"k\":\"v\"}}\r\n"
	              "--==B==\r\nContent-Type: text/plain\r\n\r\n"
	              "hello world\r\n--==B==--\r\n", h);
	assert_int_equal(r.status, 200);
	assert_string_equal(js(r.json, "name"), "dir/a.txt");
	assert_string_equal(js(r.json, "size"), "11");
	assert_string_equal(js(r.json, "contentType"), "text/plain");
	/* md5("hello world") and crc32c as Google gives them */
	assert_string_equal(js(r.json, "md5Hash"),
	                    "XrY7u+Ae7tCTyyK7j1rNww==");
	assert_string_equal(js(r.json, "crc32c"), "yZRlqg==");
	assert_string_equal(js(json_object_get(r.json, "metadata"), "k"),
	                    "v");
	fu_free(&r);
	m = media(f, "dir%2Fa.txt", NULL);
	assert_string_equal(m, "200 hello world");
	free(m);
	/* no boundary, a truncated body: 400, nothing stored */
	assert_int_equal(fu_do_on(f, "gcp", "POST", "/upload/storage/v1/b/bkt/o?"
	                          "uploadType=multipart", "--==B==\r\n\r\n{}", h),
	                 400);
	assert_int_equal(fu_do(f, "POST", "/upload/storage/v1/b/bkt/o?"
	                       "uploadType=multipart", "x"), 400);
	/* gcloud's apitools quotes the boundary with single quotes */
	h[0] = "Content-Type: multipart/related; boundary='===7=='";
	assert_int_equal(fu_do_on(f, "gcp", "POST", "/upload/storage/v1/b/bkt/o?"
	                          "uploadType=multipart&name=q",
	                          "--===7==\nContent-Type: application/json\n\n"
	                          "{}\n--===7==\n\nq\r\n\n--===7==--\n", h), 200);
	m = media(f, "q", NULL);
	assert_string_equal(m, "200 q\r\n"); /* bare LFs: only the last goes */
	free(m);
	/* an empty object */
	assert_int_equal(fu_do_on(f, "gcp", "POST", "/upload/storage/v1/b/bkt/o?"
	                          "uploadType=multipart&name=e",
	                          "--===7==\n\n{}\n--===7==\n\n--===7==--", h),
	                 200);
	m = media(f, "e", NULL);
	assert_string_equal(m, "200 ");
	free(m);
	fake_free(f);
}

static char *
start_session(struct fake *f, const char *prefix, const char *q)
{
	const char *h[] = {"Content-Type: application/json", NULL};
	char *t = tu_fmt("%s/upload/storage/v1/b/bkt/o?uploadType=resumable%s",
	                 prefix, q);
	struct fu_resp r = fu_req_on(f, "gcp", "POST", t,
	                             "{\"name\":\"big.bin\"}", h);
	const char *loc;
	char *path;

	assert_int_equal(r.status, 200);
	loc = hdr(&r, "Location");
	assert_non_null(strstr(loc, "upload_id="));
	/* the session URI carries the fake's own base; keep the path */
	path = strdup(strstr(loc, prefix[0] ? "/resumable/" : "/upload/"));
	fu_free(&r);
	free(t);
	return path;
}

static int
put_chunk(struct fake *f, const char *uri, const char *range,
          const char *body, char *range_out)
{
	char *cr = range ? tu_fmt("Content-Range: %s", range) : NULL;
	const char *h[] = {cr, NULL};
	struct fu_resp r = fu_req_on(f, "gcp", "PUT", uri, body, cr ? h : NULL);
	int st = r.status;

	if (range_out != NULL)
		strcpy(range_out, hdr(&r, "Range"));
	fu_free(&r);
	free(cr);
	return st;
}

static void
test_resumable(void **state)
{
	struct fake *f = with_bucket();
	char *uri = start_session(f, "/resumable", "&alt=json"), rg[512], *m;

	(void)state;
	/* the length unknown until the last chunk */
	assert_int_equal(put_chunk(f, uri, "bytes 0-3/*", "abcd", rg), 308);
	assert_string_equal(rg, "bytes=0-3");
	/* a status query says how far it got */
	assert_int_equal(put_chunk(f, uri, "bytes */*", "", rg), 308);
	assert_string_equal(rg, "bytes=0-3");
	/* a resent chunk overlapping what is stored: only the new bytes */
	assert_int_equal(put_chunk(f, uri, "bytes 2-5/*", "cdef", rg), 308);
	assert_string_equal(rg, "bytes=0-5");
	/* a gap is refused */
	assert_int_equal(put_chunk(f, uri, "bytes 9-9/*", "z", NULL), 400);
	assert_int_equal(put_chunk(f, uri, "bytes 6-7/8", "gh", NULL), 200);
	m = media(f, "big.bin", NULL);
	assert_string_equal(m, "200 abcdefgh");
	free(m);
	/* the session is gone once complete */
	assert_int_equal(put_chunk(f, uri, "bytes */8", "", NULL), 404);
	free(uri);

	/* a status query that completes an all-sent session; a whole
	 * object without Content-Range */
	uri = start_session(f, "", "");
	assert_int_equal(put_chunk(f, uri, NULL, "whole", NULL), 200);
	m = media(f, "big.bin", NULL);
	assert_string_equal(m, "200 whole");
	free(m);
	free(uri);

	/* cancel: 499, then the session is unknown */
	uri = start_session(f, "", "");
	assert_int_equal(put_chunk(f, uri, "bytes 0-0/*", "x", NULL), 308);
	assert_int_equal(fu_do(f, "DELETE", uri, NULL), 499);
	assert_int_equal(put_chunk(f, uri, "bytes */1", "", NULL), 404);
	free(uri);
	/* a bad Content-Range, a body that does not match it */
	uri = start_session(f, "", "");
	assert_int_equal(put_chunk(f, uri, "bytes a-b/*", "x", NULL), 400);
	assert_int_equal(put_chunk(f, uri, "bytes 0-5/*", "x", NULL), 400);
	assert_int_equal(put_chunk(f, uri, "bytes 0-0/0", "x", NULL), 400);
	free(uri);
	/* an unknown bucket */
	assert_int_equal(fu_do(f, "POST", "/upload/storage/v1/b/nope/o?"
	                       "uploadType=resumable&name=x", NULL), 404);
	fake_free(f);
}

static void
test_generation_match(void **state)
{
	struct fake *f = with_bucket();
	struct fu_resp r;
	char *t, *uri;

	(void)state;
	assert_int_equal(fu_do(f, "POST", "/upload/storage/v1/b/bkt/o?uploadType="
	                       "media&name=o&ifGenerationMatch=0", "one"), 200);
	assert_int_equal(fu_do(f, "POST", "/upload/storage/v1/b/bkt/o?uploadType="
	                       "media&name=o&ifGenerationMatch=0", "two"), 412);
	r = fu_req(f, "GET", "/storage/v1/b/bkt/o/o", NULL);
	t = tu_fmt("/upload/storage/v1/b/bkt/o?uploadType=media&name=o&"
	           "ifGenerationMatch=%s", js(r.json, "generation"));
	fu_free(&r);
	assert_int_equal(fu_do(f, "POST", t, "three"), 200);
	assert_int_equal(fu_do(f, "POST", t, "four"), 412); /* generation moved */
	free(t);
	/* a resumable session keeps the precondition it started with */
	uri = start_session(f, "", "&ifGenerationMatch=0&name=o");
	assert_int_equal(put_chunk(f, uri, "bytes 0-0/1", "x", NULL), 412);
	free(uri);
	t = media(f, "o", NULL);
	assert_string_equal(t, "200 three");
	free(t);
	fake_free(f);
}

static void
test_ranges(void **state)
{
	struct fake *f = with_bucket();
	char *m;

	(void)state;
	assert_int_equal(fu_do(f, "POST", "/upload/storage/v1/b/bkt/o?uploadType="
	                       "media&name=r", "0123456789"), 200);
	m = media(f, "r", "bytes=2-4");
	assert_string_equal(m, "206 234");
	free(m);
	m = media(f, "r", "bytes=7-");
	assert_string_equal(m, "206 789");
	free(m);
	m = media(f, "r", "bytes=-2");
	assert_string_equal(m, "206 89");
	free(m);
	m = media(f, "r", "bytes=5-100");
	assert_string_equal(m, "206 56789");
	free(m);
	m = media(f, "r", "bytes=10-");
	assert_int_equal(strncmp(m, "416", 3), 0);
	free(m);
	m = media(f, "r", "bytes=4-2");
	assert_int_equal(strncmp(m, "416", 3), 0);
	free(m);
	fake_free(f);
}

static void
test_list_delimiter(void **state)
{
	struct fake *f = with_bucket();
	const char *names[] = {"a.txt", "d/x", "d/y", "d/e/z", "e/w"};
	struct fu_resp r;
	char *t;

	(void)state;
	for (size_t i = 0; i < sizeof(names) / sizeof(*names); i++) {
		t = tu_fmt("/upload/storage/v1/b/bkt/o?uploadType=media&name=%s",
		           names[i]);
		assert_int_equal(fu_do(f, "POST", t, "x"), 200);
		free(t);
	}
	r = fu_req(f, "GET", "/storage/v1/b/bkt/o?delimiter=/", NULL);
	assert_int_equal(json_array_size(json_object_get(r.json, "items")), 1);
	assert_string_equal(json_string_value(json_array_get(
	                            json_object_get(r.json, "prefixes"), 1)),
	                    "e/");
	assert_int_equal(json_array_size(json_object_get(r.json, "prefixes")), 2);
	fu_free(&r);
	r = fu_req(f, "GET", "/storage/v1/b/bkt/o?delimiter=/&prefix=d/", NULL);
	assert_int_equal(json_array_size(json_object_get(r.json, "items")), 2);
	assert_string_equal(json_string_value(json_array_get(
	                            json_object_get(r.json, "prefixes"), 0)),
	                    "d/e/");
	fu_free(&r);
	r = fu_req(f, "GET", "/storage/v1/b/bkt/o?prefix=d", NULL);
	assert_int_equal(json_array_size(json_object_get(r.json, "items")), 3);
	assert_null(json_object_get(r.json, "prefixes"));
	fu_free(&r);
	fake_free(f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_multipart),
		cmocka_unit_test(test_resumable),
		cmocka_unit_test(test_generation_match),
		cmocka_unit_test(test_ranges),
		cmocka_unit_test(test_list_delimiter),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
