/* bake/zframes.c - a byte stream as independent zstd frames, compressed
 * in parallel (see zframes.h).
 *
 * Pieces live in a ring of slots: piece s uses slot s % nslots, filled by
 * the caller, compressed by whichever worker takes it, written by the
 * caller in order.  Workers only compress; every write(2) happens on the
 * caller's thread, so the file grows in order and a reader following it
 * (zframes_wait) sees whole frames.
 */
#include "bake/zframes.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "core/timing.h"

#define RAW_BLOCK (128u << 10) /* zstd's largest block */
#define RAW_BLOCKS (ZFRAMES_CHUNK / RAW_BLOCK)
#define RAW_HEAD 9             /* magic, descriptor, 4-byte content size */
#define SAMPLES 8
#define SAMPLE_LEN (8u << 10)
#define MAX_SLOTS 6
/* Start writeback of every this many bytes behind the writer, so the
 * commit's fsync finds the file mostly on disk already. */
#define WRITEBACK_STEP (8u << 20)

enum slot_state { S_FREE, S_FILLING, S_QUEUED, S_BUSY, S_DONE };

struct slot {
	enum slot_state state;
	uint64_t seq;
	char *in, *out;
	size_t len, out_len;
	bool raw;
	bool probed; /* the caller sampled it already: compress */
	char err[160];
};

struct zframes {
	int fd, level, nworkers, nslots, started;
	pthread_t workers[MAX_SLOTS];
	pthread_mutex_t lock;
	pthread_cond_t work; /* a piece was queued (or stop) */
	pthread_cond_t done; /* a piece was compressed, or written */
	struct slot slots[MAX_SLOTS];
	struct slot *cur;    /* being filled by the caller */
	uint64_t next_seq;   /* the piece filled next */
	uint64_t write_seq;  /* the piece written next */
	uint64_t written;
	off_t base;          /* fd's offset of the first frame */
	uint64_t kicked;     /* bytes handed to writeback so far */
	bool closed, stop;
	/* How many may compress at once: one core fewer than the machine
	 * has while zframes_reserve_core is on. */
	int ncpu;
	bool reserved;
	bool next_probed;    /* the next piece was sampled: compress it */
	ZSTD_CCtx *probe;    /* the caller's, for zframes_store_file */
	char *sample_buf, *probe_tmp, *raw_buf;
	struct zframes_stats st;
};

/* A piece is stored when sampled stretches of it do not shrink by 3% at
 * zstd's fastest level: running level N over incompressible data costs
 * about as much as compressing text and saves nothing.  The samples (at
 * i * len / SAMPLES) are a function of the bytes alone, so the choice is
 * reproducible whoever makes it. */
static bool
samples_incompressible(ZSTD_CCtx *probe, char *tmp, size_t cap,
                       const char *const sample[SAMPLES])
{
	size_t got = 0;

	for (size_t i = 0; i < SAMPLES; i++) {
		size_t r = ZSTD_compressCCtx(probe, tmp, cap, sample[i], SAMPLE_LEN,
		                             1);
		if (ZSTD_isError(r))
			return false;
		got += r;
	}
	return got * 100 >= (size_t)SAMPLES * SAMPLE_LEN * 97;
}

static bool
looks_incompressible(ZSTD_CCtx *probe, char *tmp, size_t cap,
                     const char *in, size_t len)
{
	const char *sample[SAMPLES];

	if (probe == NULL || len < 2 * SAMPLES * SAMPLE_LEN)
		return false;
	for (size_t i = 0; i < SAMPLES; i++)
		sample[i] = in + i * (len / SAMPLES);
	return samples_incompressible(probe, tmp, cap, sample);
}

static void
compress_slot(ZSTD_CCtx *cc, ZSTD_CCtx *probe, char *tmp, size_t cap,
              struct slot *s)
{
	size_t r;

	s->raw = false;
	s->err[0] = '\0';
	if (!s->probed && looks_incompressible(probe, tmp, cap, s->in, s->len)) {
		s->raw = true;
		return;
	}
	/* No more room than the piece itself: a frame that would not be
	 * smaller is stored instead. */
	r = ZSTD_compress2(cc, s->out, s->len, s->in, s->len);
	if (!ZSTD_isError(r))
		s->out_len = r;
	else if (ZSTD_getErrorCode(r) == ZSTD_error_dstSize_tooSmall)
		s->raw = true;
	else
		snprintf(s->err, sizeof(s->err), "zstd: %s", ZSTD_getErrorName(r));
}

static struct slot *
next_queued(struct zframes *z)
{
	struct slot *best = NULL;

	for (int i = 0; i < z->nslots; i++)
		if (z->slots[i].state == S_QUEUED &&
		    (best == NULL || z->slots[i].seq < best->seq))
			best = &z->slots[i];
	return best;
}

/* How many workers may compress at once.  bake's digest thread is its
 * longest chain (every input, the manifest, then every output byte);
 * while it hashes, it gets a core of its own and the workers the rest:
 * with all of them sharing 2 cores evenly it finished 0.2-0.3 s after
 * the last frame (bench/bake.sh, 1 GiB).  With the lock held. */
static int
active_cap(const struct zframes *z)
{
	int cap = z->nworkers;

	if (z->reserved && cap > z->ncpu - 1)
		cap = z->ncpu - 1;
	return cap < 1 ? 1 : cap;
}

/* Workers compressing now.  With the lock held. */
static int
n_busy(const struct zframes *z)
{
	int n = 0;

	for (int i = 0; i < z->nslots; i++)
		n += z->slots[i].state == S_BUSY;
	return n;
}

void
zframes_reserve_core(struct zframes *z, bool on)
{
	pthread_mutex_lock(&z->lock);
	if (z->reserved != on) {
		z->reserved = on;
		if (!on)
			pthread_cond_broadcast(&z->work);
	}
	pthread_mutex_unlock(&z->lock);
}

static void *
worker_main(void *arg)
{
	struct zframes *z = arg;
	ZSTD_CCtx *cc = ZSTD_createCCtx(), *probe = ZSTD_createCCtx();
	size_t cap = ZSTD_compressBound(SAMPLE_LEN);
	char *tmp = malloc(cap);
	sigset_t block;

	/* Signals go to the caller's thread (core/signal's cleanup). */
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &block, NULL);
	if (cc != NULL) {
		ZSTD_CCtx_setParameter(cc, ZSTD_c_compressionLevel, z->level);
		/* Every entry's sha256 and the pinned whole-file digest cover
		 * the content; a frame checksum would only cost time. */
		ZSTD_CCtx_setParameter(cc, ZSTD_c_checksumFlag, 0);
	}
	pthread_mutex_lock(&z->lock);
	for (;;) {
		struct slot *s;
		while (!z->stop && (n_busy(z) >= active_cap(z) ||
		                    (s = next_queued(z)) == NULL))
			pthread_cond_wait(&z->work, &z->lock);
		if (z->stop)
			break;
		s->state = S_BUSY;
		pthread_mutex_unlock(&z->lock);
		if (cc == NULL || tmp == NULL)
			snprintf(s->err, sizeof(s->err), "out of memory");
		else
			compress_slot(cc, probe, tmp, cap, s);
		pthread_mutex_lock(&z->lock);
		s->state = S_DONE;
		pthread_cond_broadcast(&z->done);
		pthread_cond_signal(&z->work); /* a capped worker may go on */
	}
	pthread_mutex_unlock(&z->lock);
	ZSTD_freeCCtx(cc);
	ZSTD_freeCCtx(probe);
	free(tmp);
	return NULL;
}

int
zframes_open(struct zframes **out, int fd, int workers, int level,
             struct mv_err *err)
{
	struct zframes *z = calloc(1, sizeof(*z));

	*out = NULL;
	if (z == NULL)
		return mv_err_set(err, MV_EXIT_FAIL, "out of memory");
	z->fd = fd;
	z->level = level;
	z->base = lseek(fd, 0, SEEK_CUR);
	if (z->base < 0)
		z->base = 0;
	z->nworkers = workers < 1 ? 1 : workers > MAX_SLOTS - 1 ? MAX_SLOTS - 1
	                                                        : workers;
	z->nslots = z->nworkers + 2 > MAX_SLOTS ? MAX_SLOTS : z->nworkers + 2;
	{
		cpu_set_t cs;
		z->ncpu = sched_getaffinity(0, sizeof(cs), &cs) == 0 ? CPU_COUNT(&cs)
		                                                     : 1;
	}
	pthread_mutex_init(&z->lock, NULL);
	pthread_cond_init(&z->work, NULL);
	pthread_cond_init(&z->done, NULL);
	*out = z;
	for (int i = 0; i < z->nslots; i++) {
		z->slots[i].in = malloc(ZFRAMES_CHUNK);
		z->slots[i].out = malloc(ZFRAMES_CHUNK);
		if (z->slots[i].in == NULL || z->slots[i].out == NULL)
			return mv_err_set(err, MV_EXIT_FAIL, "out of memory");
	}
	z->probe = ZSTD_createCCtx();
	z->sample_buf = malloc(SAMPLES * SAMPLE_LEN);
	z->probe_tmp = malloc(ZSTD_compressBound(SAMPLE_LEN));
	z->raw_buf = malloc(RAW_BLOCK);
	if (z->probe == NULL || z->sample_buf == NULL || z->probe_tmp == NULL ||
	    z->raw_buf == NULL)
		return mv_err_set(err, MV_EXIT_FAIL, "out of memory");
	for (; z->started < z->nworkers; z->started++)
		if (pthread_create(&z->workers[z->started], NULL, worker_main, z) != 0)
			return mv_err_set(err, MV_EXIT_FAIL,
			                  "cannot start a compression thread");
	return 0;
}

static int
write_all(int fd, struct iovec *iov, int cnt, struct mv_err *err)
{
	while (cnt > 0) {
		ssize_t n = writev(fd, iov, cnt > IOV_MAX ? IOV_MAX : cnt);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return mv_err_sys(err, errno, "write bundle");
		while (cnt > 0 && (size_t)n >= iov->iov_len) {
			n -= (ssize_t)iov->iov_len;
			iov++;
			cnt--;
		}
		if (cnt > 0) {
			iov->iov_base = (char *)iov->iov_base + n;
			iov->iov_len -= (size_t)n;
		}
	}
	return 0;
}

/* The commit fsyncs the bundle: start the disk writes of what is
 * written now rather than all of them then (asynchronous; a filesystem
 * without it just leaves the work to fsync). */
static void
kick_writeback(struct zframes *z, bool all)
{
	uint64_t n = z->written - z->kicked;

	if (n == 0 || (!all && n < WRITEBACK_STEP))
		return;
	sync_file_range(z->fd, z->base + (off_t)z->kicked, (off_t)n,
	                SYNC_FILE_RANGE_WRITE);
	z->kicked = z->written;
}

/* A stored piece: one frame of raw blocks, written straight from the
 * piece (no copy), one block per write: the kernel copies a 4 MiB write
 * several times slower than 32 writes of 128 KiB (see the README).
 * Single segment, 4-byte content size, no checksum. */
static int
write_raw(int fd, const struct slot *s, size_t *out_len, struct mv_err *err)
{
	unsigned char head[RAW_HEAD], bh[3];
	size_t nb = (s->len + RAW_BLOCK - 1) / RAW_BLOCK;
	uint32_t len = (uint32_t)s->len;

	memcpy(head, "\x28\xb5\x2f\xfd\xa0", 5);
	for (int i = 0; i < 4; i++)
		head[5 + i] = (unsigned char)(len >> (8 * i));
	for (size_t b = 0; b < nb; b++) {
		size_t off = b * RAW_BLOCK;
		size_t bl = s->len - off < RAW_BLOCK ? s->len - off : RAW_BLOCK;
		/* Last_Block bit, Block_Type 0 (raw), Block_Size */
		uint32_t h = (uint32_t)(bl << 3) | (b + 1 == nb ? 1u : 0u);
		struct iovec iov[3];
		int cnt = 0;

		bh[0] = (unsigned char)h;
		bh[1] = (unsigned char)(h >> 8);
		bh[2] = (unsigned char)(h >> 16);
		if (b == 0)
			iov[cnt++] = (struct iovec){head, sizeof(head)};
		iov[cnt++] = (struct iovec){bh, 3};
		iov[cnt++] = (struct iovec){s->in + off, bl};
		if (write_all(fd, iov, cnt, err) != 0)
			return -1;
	}
	*out_len = sizeof(head) + 3 * nb + s->len;
	return 0;
}

/* Write the next piece in order; with `wait`, wait for it to be ready.
 * 1: written, 0: not ready, -1: error. */
static int
flush_one(struct zframes *z, bool wait, struct mv_err *err)
{
	struct slot *s;
	size_t n = 0;
	double t0 = 0;
	int rc;

	pthread_mutex_lock(&z->lock);
	if (z->write_seq == z->next_seq) {
		pthread_mutex_unlock(&z->lock);
		return 0;
	}
	s = &z->slots[z->write_seq % (uint64_t)z->nslots];
	if (wait && s->state != S_DONE)
		t0 = mv_time_s();
	while (wait && s->state != S_DONE)
		pthread_cond_wait(&z->done, &z->lock);
	if (t0 != 0)
		z->st.wait_s += mv_time_s() - t0;
	if (s->state != S_DONE) {
		pthread_mutex_unlock(&z->lock);
		return 0;
	}
	pthread_mutex_unlock(&z->lock);
	if (s->err[0] != '\0')
		return mv_err_set(err, MV_EXIT_FAIL, "%s", s->err);
	if (s->raw) {
		rc = write_raw(z->fd, s, &n, err);
	} else {
		struct iovec iov = {s->out, s->out_len};
		n = s->out_len;
		rc = write_all(z->fd, &iov, 1, err);
	}
	if (rc != 0)
		return -1;
	z->st.in += s->len;
	z->st.out += n;
	z->st.frames++;
	z->st.stored += s->raw;
	pthread_mutex_lock(&z->lock);
	s->state = S_FREE;
	z->write_seq++;
	z->written += n;
	pthread_cond_broadcast(&z->done);
	pthread_mutex_unlock(&z->lock);
	kick_writeback(z, false);
	return 1;
}

static void
submit(struct zframes *z)
{
	pthread_mutex_lock(&z->lock);
	z->cur->state = S_QUEUED;
	z->cur = NULL;
	z->next_seq++;
	pthread_cond_signal(&z->work);
	pthread_mutex_unlock(&z->lock);
}

char *
zframes_space(struct zframes *z, size_t *len, struct mv_err *err)
{
	if (z->cur == NULL) {
		struct slot *s = &z->slots[z->next_seq % (uint64_t)z->nslots];
		/* The slot frees once the piece nslots back is written. */
		while (z->write_seq + (uint64_t)z->nslots <= z->next_seq)
			if (flush_one(z, true, err) < 0)
				return NULL;
		pthread_mutex_lock(&z->lock);
		s->state = S_FILLING;
		s->seq = z->next_seq;
		s->len = 0;
		s->probed = z->next_probed;
		pthread_mutex_unlock(&z->lock);
		z->next_probed = false;
		z->cur = s;
	}
	*len = ZFRAMES_CHUNK - z->cur->len;
	return z->cur->in + z->cur->len;
}

int
zframes_fill(struct zframes *z, size_t n, struct mv_err *err)
{
	z->cur->len += n;
	if (z->cur->len < ZFRAMES_CHUNK)
		return 0;
	submit(z);
	/* Write whatever is ready, so a reader can follow closely. */
	for (;;) {
		int r = flush_one(z, false, err);
		if (r <= 0)
			return r;
	}
}

int
zframes_put(struct zframes *z, const void *buf, size_t len,
            struct mv_err *err)
{
	const char *p = buf;

	while (len > 0) {
		size_t room;
		char *dst = zframes_space(z, &room, err);
		if (dst == NULL)
			return -1;
		if (room > len)
			room = len;
		memcpy(dst, p, room);
		if (zframes_fill(z, room, err) != 0)
			return -1;
		p += room;
		len -= room;
	}
	return 0;
}

static int
pread_full(int fd, char *buf, size_t len, uint64_t off, const char *name,
           struct mv_err *err)
{
	size_t got = 0;

	while (got < len) {
		ssize_t r = pread(fd, buf + got, len - got, (off_t)(off + got));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return mv_err_sys(err, errno, "%s: read", name);
		if (r == 0)
			return mv_err_set(err, MV_EXIT_FAIL, "%s: shrank while baking",
			                  name);
		got += (size_t)r;
	}
	return 0;
}

/* The stored frame of a whole piece of fd, one 128 KiB block at a time:
 * read into raw_buf, then written after its block header in one writev.
 * Not copy_file_range: the kernel's splice copy from cold page cache cost
 * more CPU than a read into a buffer that stays in L2 and a write from it
 * (see the README). */
static int
store_from_fd(struct zframes *z, int fd, uint64_t off, const char *name,
              struct mv_err *err)
{
	unsigned char head[RAW_HEAD + 3];
	uint32_t len = ZFRAMES_CHUNK;

	memcpy(head, "\x28\xb5\x2f\xfd\xa0", 5);
	for (int i = 0; i < 4; i++)
		head[5 + i] = (unsigned char)(len >> (8 * i));
	for (size_t b = 0; b < RAW_BLOCKS; b++) {
		uint32_t h = (uint32_t)(RAW_BLOCK << 3) | (b + 1 == RAW_BLOCKS);
		size_t hl = b == 0 ? RAW_HEAD : 0;
		struct iovec iov[2];

		head[hl] = (unsigned char)h;
		head[hl + 1] = (unsigned char)(h >> 8);
		head[hl + 2] = (unsigned char)(h >> 16);
		/* past the first block, the frame header is not needed again */
		iov[0] = (struct iovec){head, hl + 3};
		iov[1] = (struct iovec){z->raw_buf, RAW_BLOCK};
		if (pread_full(fd, z->raw_buf, RAW_BLOCK, off + b * RAW_BLOCK, name,
		               err) != 0 ||
		    write_all(z->fd, iov, 2, err) != 0)
			return -1;
		z->st.out += hl + 3 + RAW_BLOCK;
		pthread_mutex_lock(&z->lock);
		z->written += hl + 3 + RAW_BLOCK;
		pthread_cond_broadcast(&z->done);
		pthread_mutex_unlock(&z->lock);
	}
	kick_writeback(z, false);
	z->st.in += ZFRAMES_CHUNK;
	z->st.frames++;
	z->st.stored++;
	return 0;
}

bool
zframes_at_boundary(const struct zframes *z)
{
	return z->cur == NULL || z->cur->len == 0;
}

int
zframes_store_file(struct zframes *z, int fd, uint64_t off, const char *name,
                   struct mv_err *err)
{
	const char *sample[SAMPLES];

	if (z->cur != NULL && z->cur->len > 0)
		return mv_err_set(err, MV_EXIT_FAIL, "internal: not at a piece "
		                  "boundary");
	for (size_t i = 0; i < SAMPLES; i++) {
		sample[i] = z->sample_buf + i * SAMPLE_LEN;
		if (pread_full(fd, z->sample_buf + i * SAMPLE_LEN, SAMPLE_LEN,
		               off + i * (ZFRAMES_CHUNK / SAMPLES), name, err) != 0)
			return -1;
	}
	if (!samples_incompressible(z->probe, z->probe_tmp,
	                            ZSTD_compressBound(SAMPLE_LEN), sample)) {
		if (z->cur != NULL)
			z->cur->probed = true;
		else
			z->next_probed = true;
		return 0;
	}
	/* Frames go out in order: everything before this one first. */
	if (z->cur != NULL) {
		pthread_mutex_lock(&z->lock);
		z->cur->state = S_FREE;
		pthread_mutex_unlock(&z->lock);
		z->cur = NULL;
	}
	while (z->write_seq < z->next_seq)
		if (flush_one(z, true, err) < 0)
			return -1;
	if (store_from_fd(z, fd, off, name, err) != 0)
		return -1;
	pthread_mutex_lock(&z->lock);
	z->next_seq++;
	z->write_seq++;
	pthread_mutex_unlock(&z->lock);
	return 1;
}

int
zframes_close(struct zframes *z, struct zframes_stats *st,
              struct mv_err *err)
{
	int rc = 0;

	if (z->cur != NULL && z->cur->len > 0) {
		submit(z);
	} else if (z->cur != NULL) {
		pthread_mutex_lock(&z->lock);
		z->cur->state = S_FREE;
		pthread_mutex_unlock(&z->lock);
		z->cur = NULL;
	}
	while (rc == 0 && z->write_seq < z->next_seq)
		if (flush_one(z, true, err) < 0)
			rc = -1;
	if (rc == 0)
		kick_writeback(z, true);
	if (st != NULL)
		*st = z->st;
	pthread_mutex_lock(&z->lock);
	z->closed = true;
	pthread_cond_broadcast(&z->done);
	pthread_mutex_unlock(&z->lock);
	return rc;
}

uint64_t
zframes_wait(struct zframes *z, uint64_t have, bool *closed)
{
	uint64_t w;

	pthread_mutex_lock(&z->lock);
	while (z->written <= have && !z->closed)
		pthread_cond_wait(&z->done, &z->lock);
	w = z->written;
	*closed = z->closed;
	pthread_mutex_unlock(&z->lock);
	return w;
}

void
zframes_abort(struct zframes *z)
{
	if (z == NULL)
		return;
	pthread_mutex_lock(&z->lock);
	z->closed = true;
	pthread_cond_broadcast(&z->done);
	pthread_mutex_unlock(&z->lock);
}

void
zframes_free(struct zframes *z)
{
	if (z == NULL)
		return;
	pthread_mutex_lock(&z->lock);
	z->stop = true;
	z->closed = true;
	pthread_cond_broadcast(&z->work);
	pthread_cond_broadcast(&z->done);
	pthread_mutex_unlock(&z->lock);
	for (int i = 0; i < z->started; i++)
		pthread_join(z->workers[i], NULL);
	for (int i = 0; i < z->nslots; i++) {
		free(z->slots[i].in);
		free(z->slots[i].out);
	}
	ZSTD_freeCCtx(z->probe);
	free(z->sample_buf);
	free(z->probe_tmp);
	free(z->raw_buf);
	pthread_mutex_destroy(&z->lock);
	pthread_cond_destroy(&z->work);
	pthread_cond_destroy(&z->done);
	free(z);
}
