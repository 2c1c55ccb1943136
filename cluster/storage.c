/* cluster/storage.c - Cloud Storage buckets, bucket IAM, objects and the
 * hashes the JSON API reports (see storage.h; uploads: storage_upload.c). */
#include "cluster/storage.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/base64.h"
#include "core/xalloc.h"

/* {base}storage/v1/b/BUCKET[/o/OBJECT] with both escaped. */
static char *
res_url(const struct gcp *g, const char *bucket, const char *object,
        const char *tail)
{
	char *b = curl_easy_escape(NULL, bucket, 0);
	char *o = object ? curl_easy_escape(NULL, object, 0) : NULL;
	char *url = mv_xstrfmt("%sstorage/v1/b/%s%s%s%s", g->ep->storage, b,
	                       o ? "/o/" : "", o ? o : "", tail ? tail : "");

	curl_free(b);
	curl_free(o);
	return url;
}

/* GET: 0 present, 1 absent (404), -1 error. */
static int
get_or_absent(struct gcp *g, char *url, json_t **out, struct mv_err *err)
{
	struct gcp_result r;
	int rc = gcp_call(g, "GET", url, NULL, true, &r, err);

	free(url);
	if (out != NULL)
		*out = NULL;
	if (rc != 0) {
		if (r.status == 404) {
			mv_err_clear(err);
			return 1;
		}
		return -1;
	}
	if (out != NULL)
		*out = r.body;
	else
		json_decref(r.body);
	return 0;
}

int
storage_bucket_get(struct gcp *g, const char *bucket, json_t **out,
                   struct mv_err *err)
{
	return get_or_absent(g, res_url(g, bucket, NULL, NULL), out, err);
}

int
storage_bucket_insert(struct gcp *g, const char *bucket,
                      const char *location, const char *id,
                      struct mv_err *err)
{
	char *p = curl_easy_escape(NULL, g->project, 0);
	char *url = mv_xstrfmt("%sstorage/v1/b?project=%s", g->ep->storage, p);
	json_t *body = json_pack(
		"{s:s, s:{s:s}, s:{s:{s:b}, s:s}}", "name", bucket, "labels",
		"meshvm-id", id, "iamConfiguration", "uniformBucketLevelAccess",
		"enabled", 1, "publicAccessPrevention", "enforced");
	struct gcp_result r;
	int rc;

	curl_free(p);
	if (location != NULL)
		json_object_set_new(body, "location", json_string(location));
	/* Safe to resend: bucket names are global, so a resend after a create
	 * whose answer was lost gets 409, which the caller resolves by reading
	 * the bucket's meshvm-id label (ours: done; anyone's: refused). */
	rc = gcp_call(g, "POST", url, body, true, &r, err);
	free(url);
	json_decref(body);
	json_decref(r.body);
	if (rc != 0 && r.status == 409) {
		mv_err_clear(err);
		return 1;
	}
	return rc;
}

int
storage_bucket_delete(struct gcp *g, const char *bucket, struct mv_err *err)
{
	char *url = res_url(g, bucket, NULL, NULL);
	struct gcp_result r;
	int rc = gcp_call(g, "DELETE", url, NULL, true, &r, err);

	free(url);
	json_decref(r.body);
	if (rc != 0 && (r.status == 404 || r.status == 409)) {
		mv_err_clear(err);
		return r.status == 404 ? 1 : 2;
	}
	return rc;
}

/* GET every page of a list (url has a '?'): the items in *out. */
static int
list_all(struct gcp *g, const char *url, json_t **out, struct mv_err *err)
{
	char *token = NULL; /* curl_easy_escape's, or NULL */

	*out = json_array();
	for (int page = 0; page < 10000; page++) {
		char *u = token ? mv_xstrfmt("%s&pageToken=%s", url, token)
		                : mv_xstrdup(url);
		struct gcp_result r;
		int rc = gcp_call(g, "GET", u, NULL, true, &r, err);
		json_t *items = json_object_get(r.body, "items");
		const char *next;

		free(u);
		curl_free(token);
		token = NULL;
		if (rc != 0) {
			json_decref(*out);
			*out = NULL;
			return -1;
		}
		if (json_is_array(items))
			json_array_extend(*out, items);
		next = json_string_value(json_object_get(r.body, "nextPageToken"));
		if (next != NULL && *next != '\0')
			token = curl_easy_escape(NULL, next, 0);
		json_decref(r.body);
		if (token == NULL)
			return 0;
	}
	curl_free(token);
	json_decref(*out);
	*out = NULL;
	return mv_err_set(err, MV_EXIT_CLOUD, "GET %s: more than 10000 pages",
	                  url);
}

int
storage_bucket_list(struct gcp *g, json_t **out, struct mv_err *err)
{
	char *p = curl_easy_escape(NULL, g->project, 0);
	char *url = mv_xstrfmt("%sstorage/v1/b?project=%s", g->ep->storage, p);
	int rc = list_all(g, url, out, err);

	curl_free(p);
	free(url);
	return rc;
}

int
storage_object_list(struct gcp *g, const char *bucket, const char *prefix,
                    json_t **out, struct mv_err *err)
{
	char *pe = prefix ? curl_easy_escape(NULL, prefix, 0) : NULL;
	char *tail = mv_xstrfmt("/o?prefix=%s", pe ? pe : "");
	char *url = res_url(g, bucket, NULL, tail);
	int rc = list_all(g, url, out, err);

	curl_free(pe);
	free(tail);
	free(url);
	return rc;
}

const char *
storage_bucket_id(const json_t *bucket)
{
	return json_string_value(
		json_object_get(json_object_get(bucket, "labels"), "meshvm-id"));
}

int
storage_iam_get(struct gcp *g, const char *bucket, json_t **policy,
                struct mv_err *err)
{
	char *url = res_url(g, bucket, NULL, "/iam?optionsRequestedPolicyVersion=3");
	struct gcp_result r;
	int rc = gcp_call(g, "GET", url, NULL, true, &r, err);

	free(url);
	*policy = rc == 0 ? r.body : NULL;
	if (rc == 0 && !json_is_object(r.body)) {
		json_decref(r.body);
		*policy = NULL;
		return mv_err_set(err, MV_EXIT_CLOUD, "gs://%s: the IAM policy is "
		                  "not a JSON object", bucket);
	}
	return rc;
}

int
storage_iam_set(struct gcp *g, const char *bucket, const json_t *policy,
                struct mv_err *err)
{
	char *url = res_url(g, bucket, NULL, "/iam");
	struct gcp_result r;
	/* Resending the same policy is harmless; its etag makes a resend
	 * after a change answer 412 instead of undoing the change. */
	int rc = gcp_call(g, "PUT", url, policy, true, &r, err);

	free(url);
	json_decref(r.body);
	return rc;
}

static json_t *
binding_of(const json_t *policy, const char *role)
{
	json_t *b;
	size_t i;

	json_array_foreach(json_object_get(policy, "bindings"), i, b) {
		const char *r = json_string_value(json_object_get(b, "role"));
		if (r != NULL && !strcmp(r, role) &&
		    json_object_get(b, "condition") == NULL)
			return b;
	}
	return NULL;
}

bool
storage_iam_has(const json_t *policy, const char *role, const char *member)
{
	json_t *m;
	size_t i;

	json_array_foreach(json_object_get(binding_of(policy, role), "members"),
	                   i, m)
		if (json_is_string(m) && !strcmp(json_string_value(m), member))
			return true;
	return false;
}

void
storage_iam_add(json_t *policy, const char *role, const char *member)
{
	json_t *b = binding_of(policy, role), *bindings;

	if (storage_iam_has(policy, role, member))
		return;
	if (b == NULL) {
		bindings = json_object_get(policy, "bindings");
		if (!json_is_array(bindings)) {
			bindings = json_array();
			json_object_set_new(policy, "bindings", bindings);
		}
		b = json_pack("{s:s, s:[]}", "role", role, "members");
		json_array_append_new(bindings, b);
	}
	if (!json_is_array(json_object_get(b, "members")))
		json_object_set_new(b, "members", json_array());
	json_array_append_new(json_object_get(b, "members"), json_string(member));
}

int
storage_object_get(struct gcp *g, const char *bucket, const char *name,
                   json_t **out, struct mv_err *err)
{
	return get_or_absent(g, res_url(g, bucket, name, NULL), out, err);
}

int
storage_object_delete(struct gcp *g, const char *bucket, const char *name,
                      const char *generation, struct mv_err *err)
{
	char *tail = generation ? mv_xstrfmt("?ifGenerationMatch=%s", generation)
	                        : NULL;
	char *url = res_url(g, bucket, name, tail);
	struct gcp_result r;
	int rc = gcp_call(g, "DELETE", url, NULL, true, &r, err);

	free(tail);
	free(url);
	json_decref(r.body);
	if (rc != 0 && r.status == 404) {
		mv_err_clear(err);
		return 1;
	}
	return rc;
}

/*--- hashes ----------------------------------------------------------------*/

static uint32_t crc_table[256];

static void
crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = c & 1 ? 0x82F63B78u ^ (c >> 1) : c >> 1;
		crc_table[i] = c;
	}
}

uint32_t
storage_crc32c(uint32_t crc, const void *buf, size_t len)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	const unsigned char *p = buf;

	pthread_once(&once, crc_init);
	crc = ~crc;
	while (len--)
		crc = crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

int
storage_file_hashes(const char *path, char md5[25], char crc[9],
                    uint64_t *size, struct mv_err *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char d[EVP_MAX_MD_SIZE], cb[4];
	unsigned dl = 0;
	uint32_t c = 0;
	uint64_t n = 0;
	char *b;
	int rc = -1;

	if (fd < 0 || ctx == NULL || !EVP_DigestInit_ex(ctx, EVP_md5(), NULL)) {
		mv_err_sys(err, errno, "%s", path);
		goto out;
	}
	for (;;) {
		char buf[1 << 16];
		ssize_t r = read(fd, buf, sizeof(buf));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			mv_err_sys(err, errno, "%s", path);
			goto out;
		}
		if (r == 0)
			break;
		EVP_DigestUpdate(ctx, buf, (size_t)r);
		c = storage_crc32c(c, buf, (size_t)r);
		n += (uint64_t)r;
	}
	EVP_DigestFinal_ex(ctx, d, &dl);
	b = mv_base64_encode(d, dl);
	snprintf(md5, 25, "%s", b ? b : "");
	free(b);
	cb[0] = (unsigned char)(c >> 24);
	cb[1] = (unsigned char)(c >> 16);
	cb[2] = (unsigned char)(c >> 8);
	cb[3] = (unsigned char)c;
	b = mv_base64_encode(cb, 4);
	snprintf(crc, 9, "%s", b ? b : "");
	free(b);
	if (size != NULL)
		*size = n;
	rc = 0;
out:
	EVP_MD_CTX_free(ctx);
	if (fd >= 0)
		close(fd);
	return rc;
}
