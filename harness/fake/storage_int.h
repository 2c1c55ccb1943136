/* harness/fake/storage_int.h - what storage.c and storage_upload.c share
 * (the Cloud Storage service, one layer). */
#ifndef MESHVM_FAKE_STORAGE_INT_H
#define MESHVM_FAKE_STORAGE_INT_H

#include "harness/fake/req.h"

/* Store an object named meta.name in bucket with these bytes and answer
 * with its resource: meta may carry contentType and metadata;
 * if_gen_match (NULL: none) is ifGenerationMatch, "0" = must not exist,
 * else the live generation; 412 when it does not hold. */
void storage_object_put(struct fake *f, struct freq *rq, struct fresp *rs,
                        const char *bucket, const json_t *meta,
                        const char *if_gen_match, const void *data,
                        size_t len);

/* storage_upload.c (its routes: storage_upload_routes, svc.h). */
/* Remove the resumable sessions' files (the fake is going away). */
void storage_uploads_free(struct fake *f);

#endif
