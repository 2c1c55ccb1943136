/* bake/digestq.h - SHA-256 of a sequence of files on a thread of its own
 * (private to bake/).
 *
 * verify and unpack hash every byte of a bundle's entries in one stream
 * per file; on 2 cores the wall can only approach the time SHA-256 needs
 * when that stream runs on a core with nothing else to do.  The caller
 * (parsing tar, checking, writing) queues, in order: the start of a file,
 * its bytes, the end of it with the digest it must have, and release
 * marks.  The thread hashes in that order.  Bytes are borrowed (no copy):
 * they must stay valid until the thread passes a release mark queued
 * after them, at which point it calls `release(ud, token)` with the
 * mark's token, and the owner may reuse that memory.
 *
 * A file whose digest differs is remembered (the first one), reported by
 * digestq_sync; later files are still hashed and marks still released,
 * so the producer of the buffers never waits forever.
 */
#ifndef MESHVM_BAKE_DIGESTQ_H
#define MESHVM_BAKE_DIGESTQ_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

struct digestq;

typedef void (*digestq_release_fn)(void *ud, uint64_t token);

/* Start the thread; `release` may be NULL (no borrowed memory then). */
int digestq_open(struct digestq **out, digestq_release_fn release, void *ud,
                 struct mv_err *err);
/* A new file starts; the bytes queued until digestq_end are its content. */
void digestq_begin(struct digestq *q);
/* Hash `len` bytes at `buf` (borrowed until a later release mark). */
void digestq_data(struct digestq *q, const void *buf, size_t len);
/* Hash a copy of them (buf may be reused as soon as this returns). */
void digestq_data_copy(struct digestq *q, const void *buf, size_t len);
/* The file ends; its digest must be `want` (64 lowercase hex digits,
 * borrowed until digestq_sync returns).  `id` names it in the report. */
void digestq_end(struct digestq *q, size_t id, const char *want);
/* Call release(ud, token) once everything queued so far was hashed. */
void digestq_mark(struct digestq *q, uint64_t token);
/* Wait until everything queued was hashed and every mark released.
 * 0: every ended file matched; 1: *bad_id is the first one that did not;
 * -1: out of memory (a hash context could not be made). */
int digestq_sync(struct digestq *q, size_t *bad_id);
/* For MESHVM_TRACE_TIMING: the thread's CPU time so far and how long it
 * waited for work. */
void digestq_stats(struct digestq *q, double *cpu_s, double *starved_s);
/* Stop the thread without hashing what is still queued (marks are not
 * released); NULL-safe. */
void digestq_free(struct digestq *q);

#endif
