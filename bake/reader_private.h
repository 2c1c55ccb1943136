/* bake/reader_private.h - the bundle reader's state, shared by reader.c
 * (the caller's side) and reader_zstd.c (the decoder thread); private to
 * those two. */
#ifndef MESHVM_BAKE_READER_PRIVATE_H
#define MESHVM_BAKE_READER_PRIVATE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "bake/reader.h"

#define RAW_CHUNK (1u << 20)
/* The decoder's output ring: 8 slots of 512 KiB.  The digest thread
 * reads lines the decoder's core wrote; it prefetches ahead
 * (mv_sha256_update_far), so the ring need not fit in that core's L2
 * any more, and bigger slots mean fewer hand-offs between the three
 * threads: 256 KiB slots gave 0.80-0.83 s for the bench's 1 GiB bundle,
 * 512 KiB 0.78-0.81, 1 MiB 0.79-0.81 (README's table for issue 18). */
#define OUT_CHUNK (512u << 10)
#define NBUF 8
#define DEC_CHUNK (1u << 20) /* gzip/none: one buffer */
/* zstd: the caller's thread reads the file ahead of the decoder into
 * these (RAW_CHUNK each), so the decoder's core only decodes. */
#define RAWN 4
#define TAIL 4096
#define TAR_BLOCK 512
/* tar's record: writers pad the compressed file to it with zeros */
#define RECORD 10240
#define RAW_TAIL (2 * RECORD)

struct rbuf {
	char *data;
	size_t len;
};

struct bundle_reader {
	int fd;
	const char *name;
	bool zstd;
	const char *compression;
	struct archive *a;
	struct mv_progress *progress;

	/* raw input accounting */
	struct mv_sha256 sha;
	bool hashing;
	uint64_t raw_bytes;
	char *raw; /* gzip/none: raw input lands here */
	struct archive *src; /* gzip: libarchive's gunzip as a raw stream */
	size_t raw_len;      /* bytes of the last chunk in raw */
	char raw_tail[RAW_TAIL]; /* the end of the chunk before it */
	size_t raw_tail_len;
	char *dec;           /* gzip/none: the tar stream handed out */

	/* The tar stream as handed to libarchive: how much, the buffer it
	 * holds now, and the end of the one before (libarchive may stitch a
	 * header across two buffers).  After the end of the archive this is
	 * what shows the rest is zero padding. */
	uint64_t delivered;
	const char *cur;
	size_t cur_len;
	char tail[TAIL];
	size_t tail_len;
	unsigned char head[4];
	size_t head_len, head_pos;

	/* zstd producer -> consumer ring */
	pthread_t thread;
	bool thread_started;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	char *ring, *raw_ring; /* the blocks bufs[] and raws[] point into */
	struct rbuf bufs[NBUF];
	/* Slots (zstd) or fills of dec (gzip/none) counted from the start:
	 * made by the producer, handed to libarchive, given back.  The slot
	 * of number n is bufs[n % NBUF]; numbers are the release tokens. */
	uint64_t produced, taken, released;
	bool holding; /* libarchive holds number taken - 1 */
	bundle_reader_hook hook; /* set: give back through it */
	void *hook_ud;
	bool done, cancel;
	/* raw input read by the caller for the decoder: slots read, slots
	 * decoded; the end of the file (or a read error, raw_errno) */
	struct rbuf raws[RAWN];
	uint64_t raw_filled, raw_used;
	bool raw_eof, regular;
	int raw_errno;
	/* MESHVM_TRACE_TIMING: the decoder's CPU time, its waits for a free
	 * slot, the caller's waits for a filled one */
	double prod_cpu_s, full_s, empty_s;
	char error[512];
	bool trailing_garbage;
};

/* The decoder thread (reader_zstd.c): decompresses the raw slots the
 * caller fills into the ring until the end of the file, an error (error[]
 * set) or cancel. */
void *bundle_reader_decoder_main(void *arg);

#endif
