/* bake/zframes.h - a byte stream as independent zstd frames, compressed
 * in parallel (private to bake/).
 *
 * The stream is cut into ZFRAMES_CHUNK pieces at fixed offsets; each piece
 * becomes one zstd frame of its own, compressed by one of `workers`
 * threads with a single-threaded context, so the bytes depend on the
 * stream alone, never on the number of workers.  A piece whose samples do
 * not compress is stored (raw blocks) without running the compressor
 * over it.  The caller's thread fills pieces and writes finished frames
 * in order.  Memory: ZFRAMES_SLOTS(workers) pieces in and out.
 */
#ifndef MESHVM_BAKE_ZFRAMES_H
#define MESHVM_BAKE_ZFRAMES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define ZFRAMES_CHUNK (4u << 20)

struct zframes;

struct zframes_stats {
	uint64_t in, out;      /* stream bytes, frame bytes */
	size_t frames, stored; /* frames written, of which stored raw */
	double wait_s;         /* caller's time waiting for workers */
};

/* Write frames to fd from its current offset (write(2)). */
int zframes_open(struct zframes **out, int fd, int workers, int level,
                 struct mv_err *err);
/* Room to fill in the current piece (at least one byte); NULL after a
 * failure (err set). */
char *zframes_space(struct zframes *z, size_t *len, struct mv_err *err);
/* `n` bytes of that room now hold stream data. */
int zframes_fill(struct zframes *z, size_t n, struct mv_err *err);
/* Append a copy of buf. */
int zframes_put(struct zframes *z, const void *buf, size_t len,
                struct mv_err *err);
/* The next byte starts a piece. */
bool zframes_at_boundary(const struct zframes *z);
/* At a piece boundary, the next ZFRAMES_CHUNK bytes of the stream being
 * fd's bytes at `off`: when samples of them do not compress, write them
 * as a stored frame straight from the file (1: done, the stream moved on
 * by a piece); else 0, and the caller fills the piece as usual (it is
 * compressed without sampling again).  -1: error (a short file is one). */
int zframes_store_file(struct zframes *z, int fd, uint64_t off,
                       const char *name, struct mv_err *err);
/* Compress and write what is left; every frame is on disk after. */
int zframes_close(struct zframes *z, struct zframes_stats *st,
                  struct mv_err *err);

/* For a reader following the output from another thread: wait until more
 * than `have` bytes were written (or the writer closed or failed); the
 * count written so far.  *closed: nothing more will come. */
uint64_t zframes_wait(struct zframes *z, uint64_t have, bool *closed);

/* Another thread of the caller's (bake's digest) is busy on a core from
 * now on (true) or waits (false): while it is, the workers leave it one
 * of the cores they may run on. */
void zframes_reserve_core(struct zframes *z, bool on);

/* Give up (error path): a reader in zframes_wait returns, closed. */
void zframes_abort(struct zframes *z);
/* Stops the workers; NULL-safe.  Join any reader first. */
void zframes_free(struct zframes *z);

#endif
