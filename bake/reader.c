/* bake/reader.c - the bundle read pipeline shared by verify and unpack.
 *
 * zstd bundles: the caller's thread reads the file (into RAWN slots, and
 * the whole-file digest when asked), a decoder thread decompresses into
 * a ring of slots, and the caller's thread parses tar from them; verify.c
 * hands the entries' bytes to a digest thread (bake/digestq), which gives
 * the slots back once hashed.  So decoding, checking (and writing) and
 * hashing each have a thread, and no byte is copied between them.  The
 * file is read to EOF so the whole-file digest covers every byte.  gzip
 * and uncompressed bundles go through libarchive's own filters on the
 * caller's thread.
 */
#include <archive.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bake/reader_private.h"
#include "core/progress.h"
#include "core/timing.h"

/*--- raw input -----------------------------------------------------------*/

/* Read raw bytes (peeked magic first), hashing them. */
static ssize_t
raw_read(struct bundle_reader *r, void *buf, size_t len)
{
	ssize_t n;

	if (r->head_pos < r->head_len) {
		size_t k = r->head_len - r->head_pos;
		if (k > len)
			k = len;
		memcpy(buf, r->head + r->head_pos, k);
		r->head_pos += k;
		n = (ssize_t)k;
	} else {
		do
			n = read(r->fd, buf, len);
		while (n < 0 && errno == EINTR);
		if (n <= 0)
			return n;
	}
	if (r->hashing)
		mv_sha256_update(&r->sha, buf, (size_t)n);
	r->raw_bytes += (uint64_t)n;
	mv_progress_add(r->progress, (uint64_t)n);
	return n;
}

/* Keep the end of the buffer libarchive held (a header may be stitched
 * across two buffers, and after the end of the archive check_padding
 * looks back into it), before that buffer is given back. */
static void
keep_tail(struct bundle_reader *r)
{
	if (r->cur != NULL && r->cur_len > 0) {
		size_t k = r->cur_len < TAIL ? r->cur_len : TAIL;
		if (k < TAIL && r->tail_len > 0) {
			size_t keep = TAIL - k < r->tail_len ? TAIL - k : r->tail_len;
			memmove(r->tail, r->tail + r->tail_len - keep, keep);
			r->tail_len = keep;
		} else {
			r->tail_len = 0;
		}
		memcpy(r->tail + r->tail_len, r->cur + r->cur_len - k, k);
		r->tail_len += k;
	}
	r->cur = NULL;
	r->cur_len = 0;
}

static void
hand_out(struct bundle_reader *r, const char *buf, size_t len)
{
	r->cur = buf;
	r->cur_len = len;
	r->delivered += len;
}

/* zstd: read one raw slot for the decoder, on the caller's thread, if
 * one is free.  `ahead`: even while the decoder still has input (regular
 * files; a read from a pipe may block while decoded bytes wait to be
 * checked).  With the lock held; dropped around read().  1: read one (or
 * hit the end), 0: nothing to do. */
static int
feed_one(struct bundle_reader *r, bool ahead)
{
	struct rbuf *b;
	ssize_t n;
	int e;

	if (r->raw_eof || r->done || r->raw_filled - r->raw_used == RAWN)
		return 0;
	if (!ahead && r->raw_used != r->raw_filled)
		return 0;
	/* Free: the decoder reads only slots below raw_filled. */
	b = &r->raws[r->raw_filled % RAWN];
	pthread_mutex_unlock(&r->lock);
	n = raw_read(r, b->data, RAW_CHUNK);
	e = errno;
	pthread_mutex_lock(&r->lock);
	if (n > 0) {
		b->len = (size_t)n;
		r->raw_filled++;
	} else {
		r->raw_eof = true;
		if (n < 0)
			r->raw_errno = e != 0 ? e : EIO;
	}
	pthread_cond_broadcast(&r->cond);
	return 1;
}

/* Give back the buffer libarchive held: now, or through the hook once
 * the digest thread is done with it.  Called without the lock. */
static void
give_back(struct bundle_reader *r)
{
	if (!r->holding)
		return;
	r->holding = false;
	if (r->hook != NULL)
		r->hook(r->hook_ud, r->taken - 1);
	else
		bundle_reader_release(r, r->taken - 1);
}

/* The next piece of the decompressed tar stream: its length, 0 at the
 * end, -1 with msg set on error. */
static ssize_t
next_chunk(struct bundle_reader *r, const void **buf, char *msg, size_t cap)
{
	ssize_t n;

	keep_tail(r);
	give_back(r);
	if (r->zstd) {
		pthread_mutex_lock(&r->lock);
		while (feed_one(r, r->regular) == 1)
			;
		if (r->taken == r->produced && !r->done) {
			double t0 = mv_time_s();
			while (r->taken == r->produced && !r->done)
				if (feed_one(r, r->regular) == 0)
					pthread_cond_wait(&r->cond, &r->lock);
			r->empty_s += mv_time_s() - t0;
		}
		if (r->error[0] != '\0') {
			snprintf(msg, cap, "%s", r->error);
			n = -1;
		} else if (r->taken < r->produced) {
			*buf = r->bufs[r->taken % NBUF].data;
			n = (ssize_t)r->bufs[r->taken % NBUF].len;
			r->taken++;
			r->holding = true;
		} else {
			n = 0;
		}
		pthread_mutex_unlock(&r->lock);
	} else {
		/* One buffer: wait until the digest thread gave it back. */
		pthread_mutex_lock(&r->lock);
		while (r->released != r->taken)
			pthread_cond_wait(&r->cond, &r->lock);
		pthread_mutex_unlock(&r->lock);
		if (r->src != NULL) {
			n = archive_read_data(r->src, r->dec, DEC_CHUNK);
			if (n < 0) {
				snprintf(msg, cap, "gzip: %s",
				         archive_error_string(r->src));
				return -1;
			}
		} else {
			n = raw_read(r, r->dec, DEC_CHUNK);
			if (n < 0) {
				snprintf(msg, cap, "read error: %s", strerror(errno));
				return -1;
			}
		}
		*buf = r->dec;
		if (n > 0) {
			r->taken++;
			r->holding = true;
		}
	}
	if (n >= 0)
		hand_out(r, n > 0 ? *buf : NULL, (size_t)n);
	return n;
}

/* libarchive's read callback for the tar stream. */
static la_ssize_t
tar_la_read(struct archive *a, void *ud, const void **buf)
{
	struct bundle_reader *r = ud;
	char msg[512];
	ssize_t n = next_chunk(r, buf, msg, sizeof(msg));

	if (n < 0) {
		archive_set_error(a, EIO, "%s", msg);
		return -1;
	}
	return (la_ssize_t)n;
}

/* gzip: libarchive reads the raw file through this. */
static la_ssize_t
raw_la_read(struct archive *a, void *ud, const void **buf)
{
	struct bundle_reader *r = ud;
	ssize_t n;

	/* Keep the end of the chunk being replaced: the gzip stream may end
	 * in it, followed by padding we check in bundle_reader_finish. */
	if (r->raw_len > 0) {
		size_t k = r->raw_len < RAW_TAIL ? r->raw_len : RAW_TAIL;
		memcpy(r->raw_tail, r->raw + r->raw_len - k, k);
		r->raw_tail_len = k;
	}
	n = raw_read(r, r->raw, RAW_CHUNK);
	if (n < 0) {
		archive_set_error(a, errno, "read error");
		return -1;
	}
	if (n > 0)
		r->raw_len = (size_t)n;
	*buf = r->raw;
	return n;
}

static bool
all_zero(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != 0)
			return false;
	return true;
}

#define HUGE_PAGE (2u << 20)

static char *
huge_alloc(size_t len)
{
	void *p = NULL;

	if (posix_memalign(&p, HUGE_PAGE, len) != 0)
		return NULL;
	(void)madvise(p, len, MADV_HUGEPAGE);
	return p;
}

/*--- public --------------------------------------------------------------*/

int
bundle_reader_open(struct bundle_reader **out, int fd, const char *name,
                   bool hash_whole, struct mv_progress *progress,
                   struct mv_err *err)
{
	struct bundle_reader *r = calloc(1, sizeof(*r));
	ssize_t n;
	int la;

	*out = NULL;
	if (r == NULL)
		return mv_err_set(err, MV_EXIT_FAIL, "out of memory");
	r->fd = fd;
	r->name = name;
	r->progress = progress;
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->cond, NULL);
	*out = r;
	if (hash_whole) {
		if (mv_sha256_init(&r->sha) != 0)
			return mv_err_set(err, MV_EXIT_FAIL, "out of memory");
		r->hashing = true;
	}
	do
		n = read(fd, r->head, sizeof(r->head));
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return mv_err_sys(err, errno, "%s: read", name);
	r->head_len = (size_t)n;
	if (n == 4 && r->head[0] == 0x28 && r->head[1] == 0xb5 &&
	    r->head[2] == 0x2f && r->head[3] == 0xfd) {
		r->zstd = true;
		r->compression = "zstd";
	} else if (n >= 2 && r->head[0] == 0x1f && r->head[1] == 0x8b) {
		r->compression = "gzip";
	} else {
		r->compression = "none";
	}
	r->a = archive_read_new();
	if (r->a == NULL)
		return mv_err_set(err, MV_EXIT_FAIL, "out of memory");
	archive_read_support_format_tar(r->a);
	if (r->zstd) {
		struct stat st;
		r->regular = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
		/* One block each, in huge pages where the kernel has them: the
		 * whole pipeline streams through these, a TLB miss per 4 KiB
		 * otherwise. */
		if ((r->ring = huge_alloc(NBUF * OUT_CHUNK)) == NULL ||
		    (r->raw_ring = huge_alloc(RAWN * RAW_CHUNK)) == NULL)
			return mv_err_set(err, MV_EXIT_FAIL, "out of memory");
		for (int i = 0; i < NBUF; i++)
			r->bufs[i].data = r->ring + (size_t)i * OUT_CHUNK;
		for (int i = 0; i < RAWN; i++)
			r->raws[i].data = r->raw_ring + (size_t)i * RAW_CHUNK;
		if (pthread_create(&r->thread, NULL, bundle_reader_decoder_main, r) != 0)
			return mv_err_set(err, MV_EXIT_FAIL, "cannot start thread");
		r->thread_started = true;
	} else {
		r->dec = malloc(DEC_CHUNK);
		if (r->dec == NULL)
			return mv_err_set(err, MV_EXIT_FAIL, "out of memory");
	}
	if (!strcmp(r->compression, "gzip")) {
		/* gunzip as a plain stream of its own, so we see every byte of
		 * it (tar's end is not the stream's) and where it ends in the
		 * file. */
		struct archive_entry *e;
		r->raw = malloc(RAW_CHUNK);
		r->src = archive_read_new();
		if (r->raw == NULL || r->src == NULL)
			return mv_err_set(err, MV_EXIT_FAIL, "out of memory");
		archive_read_support_filter_gzip(r->src);
		archive_read_support_format_raw(r->src);
		if (archive_read_open(r->src, r, NULL, raw_la_read, NULL) !=
		            ARCHIVE_OK ||
		    archive_read_next_header(r->src, &e) != ARCHIVE_OK)
			return mv_err_set(err, MV_EXIT_VERIFY,
			                  "%s: corrupt bundle: gzip: %s", name,
			                  archive_error_string(r->src));
	}
	la = archive_read_open(r->a, r, NULL, tar_la_read, NULL);
	if (la != ARCHIVE_OK && r->zstd) {
		/* The decoder's own words (corrupt, truncated) beat libarchive's
		 * "cannot open". */
		pthread_mutex_lock(&r->lock);
		bool decoder = r->error[0] != '\0';
		if (decoder)
			mv_err_set(err, MV_EXIT_VERIFY, "%s: corrupt bundle: %s",
			           name, r->error);
		pthread_mutex_unlock(&r->lock);
		if (decoder)
			return -1;
	}
	if (la != ARCHIVE_OK)
		return mv_err_set(err, MV_EXIT_VERIFY,
		                  "%s: not a meshvm bundle (zstd, gzip or plain "
		                  "tar): %s", name, archive_error_string(r->a));
	return 0;
}

void
bundle_reader_defer(struct bundle_reader *r, bundle_reader_hook hook,
                    void *ud)
{
	r->hook = hook;
	r->hook_ud = ud;
}

void
bundle_reader_release(struct bundle_reader *r, uint64_t token)
{
	pthread_mutex_lock(&r->lock);
	/* Tokens come back in the order they were handed out. */
	if (token == r->released)
		r->released++;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
}

bool
bundle_reader_owns(const struct bundle_reader *r, const void *buf,
                   size_t len)
{
	uintptr_t p = (uintptr_t)buf, c = (uintptr_t)r->cur;

	return r->cur != NULL && p >= c && len <= r->cur_len &&
	       p - c <= r->cur_len - len;
}

void
bundle_reader_stats(struct bundle_reader *r, double *decoder_cpu_s,
                    double *full_s, double *empty_s)
{
	pthread_mutex_lock(&r->lock);
	*decoder_cpu_s = r->prod_cpu_s;
	*full_s = r->full_s;
	*empty_s = r->empty_s;
	pthread_mutex_unlock(&r->lock);
}

struct archive *
bundle_reader_archive(struct bundle_reader *r)
{
	return r->a;
}

const char *
bundle_reader_compression(const struct bundle_reader *r)
{
	return r->compression;
}

/* After tar's end-of-archive: the rest of the decompressed stream must be
 * zero padding, ending on a whole tar block. */
static int
check_padding(struct bundle_reader *r, struct mv_err *err)
{
	uint64_t end = (uint64_t)archive_filter_bytes(r->a, 0);
	uint64_t start = r->delivered - r->cur_len;
	bool nonzero = false;
	char msg[512];
	const void *buf;
	ssize_t n;

	if (end < start) {
		/* The end of the archive lies in the previous buffer. */
		if (start - end > r->tail_len)
			nonzero = true; /* cannot see it: refuse, never guess */
		else
			nonzero = !all_zero(r->tail + r->tail_len - (start - end),
			                    (size_t)(start - end));
		end = start;
	}
	if (r->cur != NULL && end < r->delivered)
		nonzero = nonzero || !all_zero(r->cur + (end - start),
		                               (size_t)(r->delivered - end));
	while (!nonzero && (n = next_chunk(r, &buf, msg, sizeof(msg))) != 0) {
		if (n < 0)
			return mv_err_set(err, MV_EXIT_VERIFY, "%s: %s", r->name,
			                  msg);
		nonzero = !all_zero(buf, (size_t)n);
	}
	if (nonzero)
		return mv_err_set(err, MV_EXIT_VERIFY,
		                  "%s: data after the end of the archive", r->name);
	if (r->delivered % TAR_BLOCK != 0)
		return mv_err_set(err, MV_EXIT_VERIFY,
		                  "%s: data after the end of the archive (%llu "
		                  "bytes is not whole %d-byte tar blocks)",
		                  r->name, (unsigned long long)r->delivered,
		                  TAR_BLOCK);
	return 0;
}

/* After the gzip members end (at raw offset `used`): zero bytes only,
 * fewer than a record. */
static int
check_after_gzip(struct bundle_reader *r, struct mv_err *err)
{
	uint64_t used = (uint64_t)archive_filter_bytes(r->src, -1);
	uint64_t start = r->raw_bytes - r->raw_len; /* of the chunk in raw */
	uint64_t end = used;
	bool bad = false;

	if (end < start) {
		if (start - end > r->raw_tail_len)
			bad = true;
		else
			bad = !all_zero(r->raw_tail + r->raw_tail_len - (start - end),
			                (size_t)(start - end));
		end = start;
	}
	if (!bad && end < r->raw_bytes)
		bad = !all_zero(r->raw + (end - start),
		                (size_t)(r->raw_bytes - end));
	while (!bad && r->raw_bytes - used < RECORD) {
		ssize_t n = raw_read(r, r->dec, RECORD);
		if (n < 0)
			return mv_err_sys(err, errno, "%s: read", r->name);
		if (n == 0)
			break;
		bad = !all_zero(r->dec, (size_t)n);
	}
	if (bad || r->raw_bytes - used >= RECORD)
		return mv_err_set(err, MV_EXIT_VERIFY,
		                  "%s: data after the end of the gzip stream",
		                  r->name);
	return 0;
}

int
bundle_reader_finish(struct bundle_reader *r, char sha[MV_SHA256_HEX],
                     uint64_t *raw_size, struct mv_err *err)
{
	if (check_padding(r, err) != 0)
		return -1;
	if (r->zstd) {
		give_back(r);
		/* The decoder reads to the end of the file, fed from here. */
		pthread_mutex_lock(&r->lock);
		while (!r->done)
			if (feed_one(r, true) == 0)
				pthread_cond_wait(&r->cond, &r->lock);
		pthread_mutex_unlock(&r->lock);
		pthread_join(r->thread, NULL);
		r->thread_started = false;
		if (r->error[0] != '\0')
			return mv_err_set(err, MV_EXIT_VERIFY, "%s: %s", r->name,
			                  r->error);
	} else {
		/* gzip stops at the end of its members; after them only the
		 * zero padding of the last record (libarchive's writer adds it)
		 * may follow.  Plain tar: check_padding saw every byte. */
		if (r->src != NULL && check_after_gzip(r, err) != 0)
			return -1;
		for (;;) {
			ssize_t n = raw_read(r, r->dec, RAW_CHUNK);
			if (n < 0)
				return mv_err_sys(err, errno, "%s: read", r->name);
			if (n == 0)
				break;
		}
	}
	if (r->hashing) {
		mv_sha256_final_hex(&r->sha, sha);
		r->hashing = false;
	} else if (sha != NULL) {
		sha[0] = '\0';
	}
	if (raw_size != NULL)
		*raw_size = r->raw_bytes;
	return 0;
}

void
bundle_reader_free(struct bundle_reader *r)
{
	if (r == NULL)
		return;
	if (r->thread_started) {
		pthread_mutex_lock(&r->lock);
		r->cancel = true;
		pthread_cond_broadcast(&r->cond);
		pthread_mutex_unlock(&r->lock);
		pthread_join(r->thread, NULL);
	}
	if (r->a != NULL)
		archive_read_free(r->a);
	if (r->src != NULL)
		archive_read_free(r->src);
	free(r->dec);
	free(r->ring);
	free(r->raw_ring);
	free(r->raw);
	mv_sha256_discard(&r->sha);
	pthread_mutex_destroy(&r->lock);
	pthread_cond_destroy(&r->cond);
	free(r);
}
