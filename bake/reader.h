/* bake/reader.h - bundle read pipeline (private to bake/). */
#ifndef MESHVM_BAKE_READER_H
#define MESHVM_BAKE_READER_H

#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"
#include "core/sha256.h"

struct archive;
struct mv_progress;
struct bundle_reader;

/* Start reading a bundle from fd; *out is set even on failure (free it). */
int bundle_reader_open(struct bundle_reader **out, int fd, const char *name,
                       bool hash_whole, struct mv_progress *progress,
                       struct mv_err *err);
/* Buffers handed to libarchive are given back when it asks for the next
 * one.  With a hook they are passed to hook(ud, token) instead (on the
 * caller's thread, in order), and their memory is reused only after
 * bundle_reader_release(r, token), from any thread.  NULL: back to
 * giving them back at once (everything passed to the hook must have been
 * released by then). */
typedef void (*bundle_reader_hook)(void *ud, uint64_t token);
void bundle_reader_defer(struct bundle_reader *r, bundle_reader_hook hook,
                         void *ud);
void bundle_reader_release(struct bundle_reader *r, uint64_t token);
/* Whether [buf, buf + len) lies in the buffer libarchive holds now, i.e.
 * stays valid until that buffer's token is released. */
bool bundle_reader_owns(const struct bundle_reader *r, const void *buf,
                        size_t len);
/* For MESHVM_TRACE_TIMING, after bundle_reader_finish: the decoder
 * thread's CPU time, how long it waited for a free slot (the digest
 * thread behind) and how long libarchive waited for a filled one (the
 * decoder behind). */
void bundle_reader_stats(struct bundle_reader *r, double *decoder_cpu_s,
                         double *full_s, double *empty_s);
/* libarchive handle positioned at the first entry (tar, already
 * decompressed). Borrowed. */
struct archive *bundle_reader_archive(struct bundle_reader *r);
const char *bundle_reader_compression(const struct bundle_reader *r);
/* After libarchive hit EOF: drain to the end of the file, report
 * decompression errors and trailing garbage, give the whole-file digest
 * (empty string unless hash_whole) and raw size. */
int bundle_reader_finish(struct bundle_reader *r, char sha[MV_SHA256_HEX],
                         uint64_t *raw_size, struct mv_err *err);
void bundle_reader_free(struct bundle_reader *r);

#endif
