/* cluster/storage.h - the Cloud Storage JSON API, as far as the bundle
 * delivery needs it: buckets (get, insert with uniform bucket-level access
 * and the meshvm-id label, delete), the bucket IAM policy, objects (get,
 * delete) and uploads.
 *
 * An upload never overwrites: it carries ifGenerationMatch=0, so a name
 * that exists answers 1 and the caller compares what is there.  Up to
 * STORAGE_MULTIPART_MAX bytes go in one multipart request; more go through
 * the resumable protocol: the session URI (a bearer secret: whoever has it
 * can write the object) is kept in its own 0600 file, never in the state
 * or a log, the bytes go in chunks that are multiples of 256 KiB, and
 * after a dropped connection, a 5xx or a killed run the client asks the
 * session how much it holds (`Content-Range: bytes * /N`) and goes on from
 * the server's `Range`.  The MD5 and CRC32C the server reports for the
 * object are checked against the file's.
 */
#ifndef MESHVM_CLUSTER_STORAGE_H
#define MESHVM_CLUSTER_STORAGE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "cluster/gcp.h"
#include "core/err.h"

#define STORAGE_MULTIPART_MAX (8u << 20)
#define STORAGE_CHUNK_ALIGN (256u << 10)
/* Bytes per resumable PUT (a multiple of STORAGE_CHUNK_ALIGN). */
#define STORAGE_CHUNK (8u << 20)

/*--- buckets ---------------------------------------------------------------*/

/* 0 present (*out new reference, may be NULL to skip), 1 absent, -1 error. */
int storage_bucket_get(struct gcp *g, const char *bucket, json_t **out,
                       struct mv_err *err);
/* Create `bucket` in the session's project with uniform bucket-level
 * access, public access prevention enforced and label meshvm-id=id
 * (location NULL: the service's default).  0 created, 1 a bucket by that
 * name exists already (409: anyone's), -1 error. */
int storage_bucket_insert(struct gcp *g, const char *bucket,
                          const char *location, const char *id,
                          struct mv_err *err);
/* 0 deleted, 1 absent, 2 not empty (409: left alone), -1 error. */
int storage_bucket_delete(struct gcp *g, const char *bucket,
                          struct mv_err *err);
/* The project's buckets / a bucket's objects whose names start with
 * prefix (NULL: all), every page (*out a new array). */
int storage_bucket_list(struct gcp *g, json_t **out, struct mv_err *err);
int storage_object_list(struct gcp *g, const char *bucket, const char *prefix,
                        json_t **out, struct mv_err *err);
/* The bucket's label meshvm-id (borrowed from `bucket`), or NULL. */
const char *storage_bucket_id(const json_t *bucket);

/* The bucket's IAM policy (version 3; new reference). */
int storage_iam_get(struct gcp *g, const char *bucket, json_t **policy,
                    struct mv_err *err);
/* Replace it (the policy's etag guards against a concurrent change:
 * 412 is an error the caller may retry from a fresh get). */
int storage_iam_set(struct gcp *g, const char *bucket, const json_t *policy,
                    struct mv_err *err);
/* Does the policy bind `member` to `role` (unconditionally)? */
bool storage_iam_has(const json_t *policy, const char *role,
                     const char *member);
/* Add `member` to `role`'s binding (made when absent). */
void storage_iam_add(json_t *policy, const char *role, const char *member);

/*--- objects ---------------------------------------------------------------*/

/* 0 present (*out new reference, may be NULL), 1 absent, -1 error. */
int storage_object_get(struct gcp *g, const char *bucket, const char *name,
                       json_t **out, struct mv_err *err);
/* ifGenerationMatch=generation when not NULL.  0 deleted, 1 absent, -1. */
int storage_object_delete(struct gcp *g, const char *bucket,
                          const char *name, const char *generation,
                          struct mv_err *err);

struct storage_upload {
	const char *bucket, *name;
	const char *path;          /* the file to send */
	const char *content_type;  /* NULL: application/octet-stream */
	const json_t *metadata;    /* custom metadata (string values), or NULL */
	const char *session_file;  /* where a resumable session is kept */
	bool progress;             /* a progress line on a terminal */
};

struct storage_upload_result {
	json_t *object;   /* the object resource (new reference) */
	bool existed;     /* the name was taken: object is what is there */
	bool resumed;     /* a session from an earlier run went on */
	uint64_t sent;    /* bytes of the file this call sent */
	int requests;     /* upload requests sent (POST + PUT) */
};

/* Upload u->path as gs://bucket/name, never over an existing object
 * (then 1, res->existed and res->object the one there; its hashes are not
 * compared: the caller decides).  0 uploaded, -1 error (the session file
 * is kept when the session can go on, removed when it cannot).  The MD5
 * and CRC32C the server answers must equal the file's. */
int storage_upload_file(struct gcp *g, const struct storage_upload *u,
                        struct storage_upload_result *res, struct mv_err *err);
void storage_upload_result_free(struct storage_upload_result *res);

/* Cancel the resumable session kept in session_file (if any: DELETE on
 * its URI, which the server answers 499) and remove the file.  0 done
 * (also when there was none or the server had forgotten it), -1 error
 * (the file is kept). */
int storage_upload_cancel(struct gcp *g, const char *session_file,
                          struct mv_err *err);

/* The file's MD5 and CRC32C as the JSON API writes them (base64 of the
 * digest, of the big-endian CRC32C): md5 25 bytes, crc 9 bytes. */
int storage_file_hashes(const char *path, char md5[25], char crc[9],
                        uint64_t *size, struct mv_err *err);
/* CRC32C (Castagnoli) of buf, continuing from crc (0 to start). */
uint32_t storage_crc32c(uint32_t crc, const void *buf, size_t len);

#endif
