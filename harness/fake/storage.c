/* harness/fake/storage.c - Cloud Storage JSON API: buckets insert, get,
 * list and delete; objects media upload, get (metadata or alt=media),
 * list and delete.  md5Hash and crc32c are computed as the real service
 * does (base64 of the MD5 digest and of the big-endian CRC32C).  Object
 * bytes live in fst(f)->blobs, not in the JSON tree; keys are "bucket" and
 * "bucket/object".  Multipart and resumable uploads: storage_upload.c.
 * Downloads honour Range (206).
 */
#include <openssl/evp.h>
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base64.h"
#include "harness/fake/storage_int.h"
#include "harness/fake/svc.h"

/* ---- blobs ---- */

/* Blobs are an array (the state directory and /_fake/state walk it)
 * with a hashed index, key -> position, rebuilt when it does not match
 * (after a reset or a --state load, which fill the array directly). */
static json_t *
blob_index(struct fake *f)
{
	json_t *ix = fst(f)->blob_index;

	if (ix == NULL)
		ix = fst(f)->blob_index = json_object();
	if (json_object_size(ix) != fst(f)->n_blobs) {
		json_object_clear(ix);
		for (size_t i = 0; i < fst(f)->n_blobs; i++)
			json_object_set_new(ix, fst(f)->blobs[i].key,
			                    json_integer((json_int_t)i));
	}
	return ix;
}

static struct blob *
blob_find(struct fake *f, const char *key)
{
	json_t *i = json_object_get(blob_index(f), key);

	return i ? &fst(f)->blobs[json_integer_value(i)] : NULL;
}

static void
blob_del(struct fake *f, const char *key)
{
	json_t *ix = blob_index(f);
	struct blob *b = blob_find(f, key);

	if (b == NULL)
		return;
	json_object_del(ix, key);
	free(b->key);
	free(b->data);
	*b = fst(f)->blobs[--fst(f)->n_blobs];
	if (b != &fst(f)->blobs[fst(f)->n_blobs])
		json_object_set_new(ix, b->key,
		                    json_integer((json_int_t)(b - fst(f)->blobs)));
}

static int
blob_put(struct fake *f, const char *key, const void *data, size_t len)
{
	struct blob *b = blob_find(f, key), *nb;
	json_t *ix = blob_index(f);
	uint8_t *copy = malloc(len ? len : 1);

	if (copy == NULL)
		return -1;
	if (len > 0)
		memcpy(copy, data, len);
	if (b == NULL) {
		nb = realloc(fst(f)->blobs, (fst(f)->n_blobs + 1) * sizeof(*nb));
		if (nb == NULL) {
			free(copy);
			return -1;
		}
		fst(f)->blobs = nb;
		b = &nb[fst(f)->n_blobs++];
		b->key = strdup(key);
		json_object_set_new(ix, key, json_integer(
		                            (json_int_t)(fst(f)->n_blobs - 1)));
	} else {
		free(b->data);
	}
	b->data = copy;
	b->len = len;
	return 0;
}

/* ---- buckets ---- */

static bool
bucket_name_ok(const char *n)
{
	size_t len = n ? strlen(n) : 0;

	if (len < 3 || len > 63)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = n[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
		if (!alnum && c != '-' && c != '_' && c != '.')
			return false;
		if ((i == 0 || i == len - 1) && !alnum)
			return false;
	}
	return true;
}

static void
no_bucket(struct fresp *rs)
{
	resp_gerr(rs, 404, "notFound", "The specified bucket does not exist.");
}

static void
bucket_insert(struct fake *f, struct freq *rq, struct fresp *rs)
{
	const char *p = freq_arg(rq, "project");
	const char *name = fake_jstr(rq->json, "name");
	json_t *b, *table = fake_db(f, "buckets");
	char ts[48], num[24], link[512], *loc;

	if (p == NULL || *p == '\0') {
		resp_gerr(rs, 400, "required", "Required parameter: project");
		return;
	}
	if (!bucket_name_ok(name)) {
		resp_gerr(rs, 400, "invalid", "Invalid bucket name: '%s'", name);
		return;
	}
	if (json_object_get(table, name) != NULL) {
		resp_gerr(rs, 409, "conflict", "Your previous request to create the "
		          "named bucket succeeded and you already own it.");
		return;
	}
	b = json_deep_copy(rq->json);
	fake_now_rfc3339(ts, sizeof(ts), false);
	fake_project_number(p, num, sizeof(num));
	snprintf(link, sizeof(link), "%s/storage/v1/b/%s", rq->base, name);
	loc = strdup(json_is_string(json_object_get(b, "location"))
	                     ? fake_jstr(b, "location") : "US");
	for (char *c = loc; c && *c; c++)
		*c = (char)toupper((unsigned char)*c);
	json_object_set_new(b, "kind", json_string("storage#bucket"));
	json_object_set_new(b, "id", json_string(name));
	json_object_set_new(b, "selfLink", json_string(link));
	json_object_set_new(b, "projectNumber", json_string(num));
	json_object_set_new(b, "metageneration", json_string("1"));
	json_object_set_new(b, "location", json_string(loc ? loc : "US"));
	json_object_set_new(b, "locationType",
	                    json_string(loc && strchr(loc, '-') ? "region"
	                                                        : "multi-region"));
	if (json_object_get(b, "storageClass") == NULL)
		json_object_set_new(b, "storageClass", json_string("STANDARD"));
	json_object_set_new(b, "etag", json_string("CAE="));
	json_object_set_new(b, "timeCreated", json_string(ts));
	json_object_set_new(b, "updated", json_string(ts));
	free(loc);
	json_object_set_new(table, name, json_incref(b));
	json_object_del(fake_db(f, "bucket_iam"), name); /* a fresh policy */
	resp_json(rs, 200, b);
}

static void
bucket_get(struct fake *f, struct freq *rq, struct fresp *rs)
{
	json_t *b = json_object_get(fake_db(f, "buckets"), rq->cap[0]);

	if (b == NULL)
		no_bucket(rs);
	else
		resp_json_cached(f, rs, b);
}

static void
bucket_list(struct fake *f, struct freq *rq, struct fresp *rs)
{
	const char *p = freq_arg(rq, "project");
	json_t *items = json_array(), *b, *keys, *k;
	char num[24];
	size_t i;

	if (p == NULL) {
		resp_gerr(rs, 400, "required", "Required parameter: project");
		json_decref(items);
		return;
	}
	fake_project_number(p, num, sizeof(num));
	keys = fake_sorted_keys(fake_db(f, "buckets"), "");
	json_array_foreach(keys, i, k) {
		b = json_object_get(fake_db(f, "buckets"), json_string_value(k));
		if (strcmp(fake_jstr(b, "projectNumber"), num) == 0)
			json_array_append(items, b);
	}
	json_decref(keys);
	resp_json(rs, 200, json_pack("{s:s, s:o}", "kind", "storage#buckets",
	                             "items", items));
}

static void
bucket_delete(struct fake *f, struct freq *rq, struct fresp *rs)
{
	char prefix[300];
	json_t *keys;

	if (json_object_get(fake_db(f, "buckets"), rq->cap[0]) == NULL) {
		no_bucket(rs);
		return;
	}
	snprintf(prefix, sizeof(prefix), "%s/", rq->cap[0]);
	keys = fake_sorted_keys(fake_db(f, "objects"), prefix);
	if (json_array_size(keys) > 0) {
		json_decref(keys);
		resp_gerr(rs, 409, "conflict", "The bucket you tried to delete is "
		          "not empty.");
		return;
	}
	json_decref(keys);
	json_object_del(fake_db(f, "buckets"), rq->cap[0]);
	json_object_del(fake_db(f, "bucket_iam"), rq->cap[0]);
	resp_bytes(rs, 204, "application/json", "", 0);
}

/* ---- objects ---- */

static char *
pct_encode(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(s), o = 0;
	char *out = malloc(n * 3 + 1);

	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || strchr("-._~", c)) {
			out[o++] = (char)c;
		} else {
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	out[o] = '\0';
	return out;
}

void
storage_object_put(struct fake *f, struct freq *rq, struct fresp *rs,
                   const char *bucket, const json_t *meta,
                   const char *want, const void *data, size_t len)
{
	const char *name = fake_jstr(meta, "name");
	const char *ctype = fake_jstr(meta, "contentType");
	json_t *seq = fake_db(f, "seq"), *cnt, *o, *old;
	char key[1200], skey[1300], ts[48], gen[32], size[24], link[2048];
	unsigned char md5[EVP_MAX_MD_SIZE];
	unsigned int md5len = 0;
	uint32_t crc;
	uint8_t crcb[4];
	char *md5b, *crcs, *enc;
	uint64_t n;

	if (*ctype == '\0')
		ctype = freq_header(rq, "Content-Type");
	if (json_object_get(fake_db(f, "buckets"), bucket) == NULL) {
		no_bucket(rs);
		return;
	}
	if (*name == '\0') {
		resp_gerr(rs, 400, "required", "Required parameter: name");
		return;
	}
	/* Cloud Storage's rules: at most 1024 bytes, no CR or LF, not "."
	 * or ".." (a name a client could take for a path step) */
	if (strlen(name) > 1024 || strpbrk(name, "\r\n") != NULL ||
	    strcmp(name, ".") == 0 || strcmp(name, "..") == 0 ||
	    strncmp(name, ".well-known/acme-challenge/", 27) == 0) {
		resp_gerr(rs, 400, "invalid", "The specified object name is not "
		          "valid: '%.64s'.", name);
		return;
	}
	snprintf(key, sizeof(key), "%s/%s", bucket, name);
	old = json_object_get(fake_db(f, "objects"), key);
	/* ifGenerationMatch=0: only when no live object has the name */
	if (want != NULL && (strcmp(want, "0") == 0
	                             ? old != NULL
	                             : old == NULL || strcmp(want, fake_jstr(
	                                       old, "generation")) != 0)) {
		resp_gerr(rs, 412, "conditionNotMet", "At least one of the "
		          "pre-conditions you specified did not hold.");
		return;
	}
	if (blob_put(f, key, data, len) != 0) {
		resp_gerr(rs, 500, NULL, "out of memory");
		return;
	}
	snprintf(skey, sizeof(skey), "gcs/%s", key);
	cnt = json_object_get(seq, skey);
	n = cnt ? (uint64_t)json_integer_value(cnt) + 1 : 1;
	json_object_set_new(seq, skey, json_integer((json_int_t)n));
	snprintf(gen, sizeof(gen), "%llu",
	         (unsigned long long)(1700000000000000ULL +
	                              fake_hash64("gcs-gen", bucket, name, NULL) %
	                                      100000000000000ULL +
	                              n));
	EVP_Digest(data ? data : "", len, md5, &md5len, EVP_md5(), NULL);
	crc = fake_crc32c(data ? data : "", len);
	crcb[0] = (uint8_t)(crc >> 24);
	crcb[1] = (uint8_t)(crc >> 16);
	crcb[2] = (uint8_t)(crc >> 8);
	crcb[3] = (uint8_t)crc;
	md5b = mv_base64_encode(md5, md5len);
	crcs = mv_base64_encode(crcb, 4);
	enc = pct_encode(name);
	fake_now_rfc3339(ts, sizeof(ts), false);
	snprintf(size, sizeof(size), "%zu", len);
	o = json_pack("{s:s, s:s++++, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, "
	              "s:s, s:s, s:s, s:s, s:s}",
	              "kind", "storage#object", "id", bucket, "/", name, "/", gen,
	              "name", name, "bucket", bucket, "generation", gen,
	              "metageneration", "1", "contentType",
	              ctype && *ctype ? ctype : "application/octet-stream",
	              "storageClass", "STANDARD", "size", size, "md5Hash",
	              md5b ? md5b : "", "crc32c", crcs ? crcs : "", "etag",
	              "CAE=", "timeCreated", ts, "updated", ts,
	              "timeStorageClassUpdated", ts);
	if (json_is_object(json_object_get(meta, "metadata")))
		json_object_set(o, "metadata", json_object_get(meta, "metadata"));
	snprintf(link, sizeof(link), "%s/storage/v1/b/%s/o/%s", rq->base, bucket,
	         enc ? enc : "");
	json_object_set_new(o, "selfLink", json_string(link));
	snprintf(link, sizeof(link), "%s/download/storage/v1/b/%s/o/%s?"
	         "generation=%s&alt=media", rq->base, bucket, enc ? enc : "", gen);
	json_object_set_new(o, "mediaLink", json_string(link));
	free(md5b);
	free(crcs);
	free(enc);
	json_object_set_new(fake_db(f, "objects"), key, json_incref(o));
	resp_json(rs, 200, o);
}

static json_t *
object_lookup(struct fake *f, struct freq *rq, struct fresp *rs, char *key,
              size_t len)
{
	json_t *o;

	if (json_object_get(fake_db(f, "buckets"), rq->cap[0]) == NULL) {
		no_bucket(rs);
		return NULL;
	}
	snprintf(key, len, "%s/%s", rq->cap[0], rq->cap[1]);
	o = json_object_get(fake_db(f, "objects"), key);
	if (o == NULL)
		resp_gerr(rs, 404, "notFound", "No such object: %s", key);
	return o;
}

/* "bytes=A-B", "bytes=A-" or "bytes=-N" against len: the first byte
 * and the count; 0 with no Range, 1 on a range, -1 unsatisfiable. */
static int
parse_range(const char *h, size_t len, size_t *off, size_t *cnt)
{
	unsigned long long a, b;
	char *end;

	if (h == NULL || strncmp(h, "bytes=", 6) != 0)
		return 0;
	h += 6;
	if (*h == '-') {
		b = strtoull(h + 1, &end, 10);
		if (*end != '\0' || end == h + 1 || b == 0)
			return -1;
		*cnt = b > len ? len : (size_t)b;
		*off = len - *cnt;
		return 1;
	}
	a = strtoull(h, &end, 10);
	if (end == h || *end != '-' || a >= len)
		return -1;
	h = end + 1;
	b = *h == '\0' ? len - 1 : strtoull(h, &end, 10);
	if ((*h != '\0' && *end != '\0') || b < a)
		return -1;
	if (b >= len)
		b = len - 1;
	*off = (size_t)a;
	*cnt = (size_t)(b - a + 1);
	return 1;
}

static void
object_media(struct fake *f, struct freq *rq, struct fresp *rs,
             const char *key, json_t *o)
{
	struct blob *b = blob_find(f, key);
	const uint8_t *data = b ? b->data : (const uint8_t *)"";
	size_t len = b ? b->len : 0, off = 0, cnt = len;
	int r = parse_range(freq_header(rq, "Range"), len, &off, &cnt);

	if (r < 0) {
		resp_gerr(rs, 416, "requestedRangeNotSatisfiable", "The requested "
		          "range cannot be satisfied.");
		resp_header(rs, "Content-Range", "bytes */%zu", len);
		return;
	}
	resp_bytes(rs, r ? 206 : 200, fake_jstr(o, "contentType"), data + off,
	           cnt);
	if (r)
		resp_header(rs, "Content-Range", "bytes %zu-%zu/%zu", off,
		            off + cnt - 1, len);
	resp_header(rs, "X-Goog-Generation", "%s", fake_jstr(o, "generation"));
	resp_header(rs, "X-Goog-Hash", "crc32c=%s,md5=%s", fake_jstr(o, "crc32c"),
	            fake_jstr(o, "md5Hash"));
	resp_header(rs, "X-Goog-Stored-Content-Length", "%s",
	            fake_jstr(o, "size"));
}

static void
object_get(struct fake *f, struct freq *rq, struct fresp *rs)
{
	char key[1200];
	json_t *o = object_lookup(f, rq, rs, key, sizeof(key));
	const char *alt = freq_arg(rq, "alt");

	if (o == NULL)
		return;
	if (alt != NULL && strcmp(alt, "media") == 0)
		object_media(f, rq, rs, key, o);
	else
		resp_json(rs, 200, json_incref(o));
}

static void
object_download(struct fake *f, struct freq *rq, struct fresp *rs)
{
	char key[1200];
	json_t *o = object_lookup(f, rq, rs, key, sizeof(key));

	if (o != NULL)
		object_media(f, rq, rs, key, o);
}

static void
object_delete(struct fake *f, struct freq *rq, struct fresp *rs)
{
	char key[1200];

	if (object_lookup(f, rq, rs, key, sizeof(key)) == NULL)
		return;
	json_object_del(fake_db(f, "objects"), key);
	blob_del(f, key);
	resp_bytes(rs, 204, "application/json", "", 0);
}

/* With a delimiter, names that go on past it after the prefix fold into
 * "prefixes" (each once, sorted), as the real listing does. */
static void
object_list(struct fake *f, struct freq *rq, struct fresp *rs)
{
	const char *prefix = freq_arg(rq, "prefix");
	const char *delim = freq_arg(rq, "delimiter");
	char pfx[1200];
	json_t *keys, *k, *items = json_array(), *seen = json_object();
	json_t *prefixes = json_array(), *out;
	size_t i, plen, blen = strlen(rq->cap[0]) + 1;

	if (json_object_get(fake_db(f, "buckets"), rq->cap[0]) == NULL) {
		json_decref(items);
		json_decref(seen);
		json_decref(prefixes);
		no_bucket(rs);
		return;
	}
	snprintf(pfx, sizeof(pfx), "%s/%s", rq->cap[0], prefix ? prefix : "");
	plen = strlen(pfx);
	keys = fake_sorted_keys(fake_db(f, "objects"), pfx);
	json_array_foreach(keys, i, k) {
		const char *key = json_string_value(k);
		const char *cut = delim && *delim ? strstr(key + plen, delim) : NULL;
		if (cut != NULL) {
			char *p = strndup(key + blen, (size_t)(cut - key) - blen +
			                                      strlen(delim));
			if (p != NULL && json_object_get(seen, p) == NULL) {
				json_object_set_new(seen, p, json_true());
				json_array_append_new(prefixes, json_string(p));
			}
			free(p);
			continue;
		}
		json_array_append(items, json_object_get(fake_db(f, "objects"), key));
	}
	json_decref(keys);
	json_decref(seen);
	out = json_pack("{s:s, s:o}", "kind", "storage#objects", "items", items);
	if (json_array_size(prefixes) > 0)
		json_object_set_new(out, "prefixes", prefixes);
	else
		json_decref(prefixes);
	resp_json(rs, 200, out);
}

const struct route storage_routes[] = {
	{"POST", "/storage/v1/b", bucket_insert, R_AUTH,
	 "storage.buckets.insert"},
	{"GET", "/storage/v1/b", bucket_list, R_AUTH | R_PURE, NULL},
	{"GET", "/storage/v1/b/{}", bucket_get, R_AUTH | R_PURE, NULL},
	{"DELETE", "/storage/v1/b/{}", bucket_delete, R_AUTH, NULL},
	{"GET", "/storage/v1/b/{}/o", object_list, R_AUTH | R_PURE, NULL},
	{"GET", "/storage/v1/b/{}/o/{}", object_get, R_AUTH | R_PURE, NULL},
	{"DELETE", "/storage/v1/b/{}/o/{}", object_delete, R_AUTH, NULL},
	{"GET", "/download/storage/v1/b/{}/o/{}", object_download, R_AUTH | R_PURE,
	 NULL},
	{NULL, NULL, NULL, 0, NULL},
};
