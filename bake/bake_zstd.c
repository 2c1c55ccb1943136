/* bake/bake_zstd.c - a zstd bundle in one pass (see bake_zstd.h).
 *
 * The file: [MANIFEST.json + SHA256SUMS as one zstd frame, then a
 * skippable frame up to `reserve` bytes][the rest of the tar stream as
 * independent frames (zframes)].  Readers see one tar stream.
 *
 * Three kinds of threads share the work:
 *  - the caller reads every input straight into the compressor's pieces
 *    and writes the frames in order (zframes);
 *  - zframes' workers compress;
 *  - a digest thread reads every input on its own (page cache: hashing runs
 *    several times faster than compressing, so it gets well ahead), then
 *    writes the manifest frame in front, then digests the file from its
 *    first byte, following the writer.  The whole-file digest is ready
 *    when the last frame is written: no read-back pass at the end.
 * The reserve is a function of the inputs alone (the manifest's length
 * does not depend on digest values), so output stays byte-identical.
 */
#include "bake/bake_zstd.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#include "bake/zframes.h"
#include "core/progress.h"

#define HASH_BUF (1u << 20)
#define LAST_BLOCK 10240u  /* tar's record: the stream ends on one */
#define BLOCKING (1u << 20) /* the blocking the tar stream had (format) */

struct digest {
	const struct bundle_spec *spec;
	const struct bake_options *opt;
	struct bake_entry *ents;
	size_t n;
	int fd;
	struct zframes *z;
	size_t reserve, placeholder_len;
	atomic_bool cancel;
	double t0;
	/* results */
	int rc;
	struct mv_err err;
	char sha[MV_SHA256_HEX];
	char *manifest, *sums;
	double t_inputs, t_prefix; /* seconds after t0 */
};

/* Read up to `want` bytes at `off`; *got < want only at the end of the
 * file.  -1 with errno on a read error. */
static int
pread_full(int fd, char *buf, size_t want, uint64_t off, size_t *got)
{
	*got = 0;
	while (*got < want) {
		ssize_t r = pread(fd, buf + *got, want - *got, (off_t)(off + *got));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		*got += (size_t)r;
	}
	return 0;
}

static int
read_full(int fd, char *buf, size_t want, size_t *got)
{
	*got = 0;
	while (*got < want) {
		ssize_t r = read(fd, buf + *got, want - *got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		*got += (size_t)r;
	}
	return 0;
}

/* Open an input and check it is the file listed. */
static int
open_input(const struct bake_entry *e, struct mv_err *err)
{
	struct stat st;
	int fd = open(e->src, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return mv_err_sys(err, errno, "%s", e->src);
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	if (fstat(fd, &st) != 0 || !bake_same_file(&st, &e->st)) {
		close(fd);
		return mv_err_set(err, MV_EXIT_FAIL,
		                  "%s: changed while baking (digest would be "
		                  "stale); bake again", e->src);
	}
	return fd;
}

static int
close_input(int fd, const struct bake_entry *e, struct mv_err *err)
{
	struct stat st;
	bool same = fstat(fd, &st) == 0 && bake_same_file(&st, &e->st);

	close(fd);
	if (!same)
		return mv_err_set(err, MV_EXIT_FAIL,
		                  "%s: changed while baking; bake again", e->src);
	return 0;
}

struct flat_hash {
	struct mv_sha256 *h;
	atomic_bool *cancel;
	struct mv_err err;
};

static int
flat_hash_sink(void *ud, const void *buf, size_t len)
{
	struct flat_hash *s = ud;

	if (atomic_load(s->cancel))
		return mv_err_set(&s->err, MV_EXIT_FAIL, "cancelled");
	mv_sha256_update(s->h, buf, len);
	return 0;
}

/* image/rootfs.tar: the image flattened again, straight into the digest. */
static int
digest_flat(struct digest *d, struct bake_entry *e)
{
	struct mv_sha256 h;
	struct flat_hash s = {.h = &h, .cancel = &d->cancel};
	int rc;

	if (mv_sha256_init(&h) != 0)
		return mv_err_set(&d->err, MV_EXIT_FAIL, "out of memory");
	mv_err_clear(&s.err);
	rc = bake_flat_stream(e, d->opt->source_date_epoch, flat_hash_sink, &s,
	                      &s.err, &d->err);
	if (rc == 0)
		mv_sha256_final_hex(&h, e->sha256);
	mv_sha256_discard(&h);
	return rc;
}

static int
digest_inputs(struct digest *d, char *buf)
{
	for (size_t i = 0; i < d->n; i++) {
		struct bake_entry *e = &d->ents[i];
		struct mv_sha256 h;
		uint64_t left = e->size;
		int fd;

		if (e->flat) {
			if (digest_flat(d, e) != 0)
				return -1;
			continue;
		}
		if ((fd = open_input(e, &d->err)) < 0)
			return -1;
		if (mv_sha256_init(&h) != 0) {
			close(fd);
			return mv_err_set(&d->err, MV_EXIT_FAIL, "out of memory");
		}
		while (left > 0 && !atomic_load(&d->cancel)) {
			size_t got;
			int bad = read_full(fd, buf, left < HASH_BUF ? left : HASH_BUF,
			                    &got);
			if (bad != 0 || got == 0) {
				int en = errno;
				mv_sha256_discard(&h);
				close(fd);
				return bad == 0 ? mv_err_set(&d->err, MV_EXIT_FAIL,
				                             "%s: shrank while baking",
				                             e->src)
				                : mv_err_sys(&d->err, en, "%s: read", e->src);
			}
			mv_sha256_update(&h, buf, got);
			left -= got;
		}
		mv_sha256_final_hex(&h, e->sha256);
		if (close_input(fd, e, &d->err) != 0)
			return -1;
	}
	return 0;
}

/* The manifest frame and the skippable frame after it: `reserve` bytes,
 * written at offset 0 and digested from memory. */
static int
write_prefix(struct digest *d, struct mv_sha256 *h)
{
	int level = d->opt->level > 0 ? d->opt->level : 3;
	size_t head_len, bound = ZSTD_compressBound(d->placeholder_len), c1;
	char *head = NULL, *frame = NULL;
	ZSTD_CCtx *zc = NULL;
	int rc = -1;

	d->manifest = bake_build_manifest(d->spec, d->ents, d->n, d->opt);
	d->sums = d->manifest ? bake_build_sums(d->manifest, d->ents, d->n)
	                      : NULL;
	if (d->sums == NULL)
		return mv_err_set(&d->err, MV_EXIT_FAIL, "out of memory");
	if (bake_meta_tar(d->manifest, d->sums, d->opt->source_date_epoch,
	                  &head, &head_len, &d->err) != 0)
		return -1;
	if (head_len != d->placeholder_len) {
		mv_err_set(&d->err, MV_EXIT_FAIL,
		           "internal: manifest length changed (%zu, %zu)", head_len,
		           d->placeholder_len);
		goto out;
	}
	zc = ZSTD_createCCtx();
	frame = calloc(1, d->reserve);
	if (zc == NULL || frame == NULL) {
		mv_err_set(&d->err, MV_EXIT_FAIL, "out of memory");
		goto out;
	}
	ZSTD_CCtx_setParameter(zc, ZSTD_c_compressionLevel, level);
	ZSTD_CCtx_setParameter(zc, ZSTD_c_checksumFlag, 1);
	c1 = ZSTD_compress2(zc, frame, bound, head, head_len);
	if (ZSTD_isError(c1) || c1 + 8 > d->reserve) {
		mv_err_set(&d->err, MV_EXIT_FAIL, "zstd: %s",
		           ZSTD_isError(c1) ? ZSTD_getErrorName(c1) : "no room");
		goto out;
	}
	{
		/* Skippable frame: magic 0x184D2A50, then the size of its
		 * (zero) content, both little endian. */
		uint32_t skip = (uint32_t)(d->reserve - c1 - 8);
		unsigned char *p = (unsigned char *)frame + c1;
		memcpy(p, "\x50\x2a\x4d\x18", 4);
		for (int i = 0; i < 4; i++)
			p[4 + i] = (unsigned char)(skip >> (8 * i));
	}
	for (size_t off = 0; off < d->reserve;) {
		ssize_t w = pwrite(d->fd, frame + off, d->reserve - off, (off_t)off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			mv_err_sys(&d->err, errno, "write bundle");
			goto out;
		}
		off += (size_t)w;
	}
	mv_sha256_update(h, frame, d->reserve);
	rc = 0;
out:
	ZSTD_freeCCtx(zc);
	free(frame);
	free(head);
	return rc;
}

/* Digest the payload frames as the writer puts them on disk. */
static int
follow_output(struct digest *d, struct mv_sha256 *h, char *buf)
{
	uint64_t off = 0;

	for (;;) {
		bool closed;
		uint64_t w;

		zframes_reserve_core(d->z, false);
		w = zframes_wait(d->z, off, &closed);
		zframes_reserve_core(d->z, true);
		while (off < w && !atomic_load(&d->cancel)) {
			size_t want = w - off < HASH_BUF ? (size_t)(w - off) : HASH_BUF;
			ssize_t r = pread(d->fd, buf, want, (off_t)(d->reserve + off));
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				return mv_err_sys(&d->err, r < 0 ? errno : EIO,
				                  "read back bundle");
			mv_sha256_update(h, buf, (size_t)r);
			off += (uint64_t)r;
		}
		if (atomic_load(&d->cancel))
			return mv_err_set(&d->err, MV_EXIT_FAIL, "cancelled");
		if (closed && off >= w)
			return 0;
	}
}

static void *
digest_main(void *arg)
{
	struct digest *d = arg;
	char *buf = malloc(HASH_BUF);
	struct mv_sha256 h = {0};
	sigset_t block;

	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &block, NULL);
	d->rc = -1;
	if (buf == NULL || mv_sha256_init(&h) != 0) {
		mv_err_set(&d->err, MV_EXIT_FAIL, "out of memory");
		goto out;
	}
	zframes_reserve_core(d->z, true);
	if (digest_inputs(d, buf) != 0)
		goto out;
	d->t_inputs = mv_time_s() - d->t0;
	if (atomic_load(&d->cancel) || write_prefix(d, &h) != 0)
		goto out;
	d->t_prefix = mv_time_s() - d->t0;
	if (follow_output(d, &h, buf) != 0)
		goto out;
	mv_sha256_final_hex(&h, d->sha);
	d->rc = 0;
out:
	zframes_reserve_core(d->z, false);
	mv_sha256_discard(&h);
	free(buf);
	return NULL;
}

struct flat_feed {
	struct zframes *z;
	struct mv_progress *prog;
	struct mv_err err;
};

static int
flat_feed_sink(void *ud, const void *buf, size_t len)
{
	struct flat_feed *s = ud;

	mv_progress_add(s->prog, len);
	return zframes_put(s->z, buf, len, &s->err);
}

/* One input into the tar stream: header, bytes read straight into the
 * compressor's piece (image/rootfs.tar: flattened into it), zero padding
 * to 512. */
static int
feed_entry(struct zframes *z, const struct bake_entry *e, int64_t sde,
           uint64_t *pos, struct mv_progress *prog, struct mv_err *err)
{
	static const char zeros[512];
	uint64_t left = e->size;
	char *hdr = NULL;
	size_t hlen, pad = (size_t)((512 - e->size % 512) % 512);
	int fd;

	if (bake_header_tar(e->path, e->size, e->mode, sde, &hdr, &hlen, err) != 0)
		return -1;
	if (zframes_put(z, hdr, hlen, err) != 0) {
		free(hdr);
		return -1;
	}
	free(hdr);
	if (e->flat) {
		struct flat_feed s = {.z = z, .prog = prog};
		mv_err_clear(&s.err);
		if (bake_flat_stream(e, sde, flat_feed_sink, &s, &s.err, err) != 0 ||
		    zframes_put(z, zeros, pad, err) != 0)
			return -1;
		*pos += hlen + e->size + pad;
		return 0;
	}
	if ((fd = open_input(e, err)) < 0)
		return -1;
	while (left > 0) {
		size_t room, got;
		char *dst;
		/* Whole pieces of a large input that would not compress go
		 * from the file to the bundle without the workers. */
		if (left >= ZFRAMES_CHUNK && zframes_at_boundary(z)) {
			int st = zframes_store_file(z, fd, e->size - left, e->src, err);
			if (st < 0) {
				close(fd);
				return -1;
			}
			if (st > 0) {
				mv_progress_add(prog, ZFRAMES_CHUNK);
				left -= ZFRAMES_CHUNK;
				continue;
			}
		}
		if ((dst = zframes_space(z, &room, err)) == NULL) {
			close(fd);
			return -1;
		}
		if (room > left)
			room = (size_t)left;
		if (pread_full(fd, dst, room, e->size - left, &got) != 0 ||
		    got == 0) {
			int en = errno;
			close(fd);
			return got == 0 ? mv_err_set(err, MV_EXIT_FAIL,
			                             "%s: shrank while baking", e->src)
			                : mv_err_sys(err, en, "%s: read", e->src);
		}
		if (zframes_fill(z, got, err) != 0) {
			close(fd);
			return -1;
		}
		mv_progress_add(prog, got);
		left -= got;
	}
	if (close_input(fd, e, err) != 0 || zframes_put(z, zeros, pad, err) != 0)
		return -1;
	*pos += hlen + e->size + pad;
	return 0;
}

int
bake_zstd(const struct bundle_spec *spec, struct bake_entry *ents, size_t n,
          uint64_t total, const struct bake_options *opt, int fd,
          struct mv_timing *tm, struct bake_zstd_out *res, struct mv_err *err)
{
	static const char zeros[LAST_BLOCK];
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	int threads = opt->threads > 0 ? opt->threads : (int)(cores > 0 ? cores : 1);
	int level = opt->level > 0 ? opt->level : 3;
	struct digest d;
	struct zframes *z = NULL;
	struct zframes_stats st = {0};
	struct mv_progress *prog = NULL;
	char *manifest, *sums, *head = NULL;
	uint64_t pos = 0, r;
	pthread_t t;
	bool started = false;
	int rc = -1;

	memset(res, 0, sizeof(*res));
	if (level > ZSTD_maxCLevel())
		return mv_err_set(err, MV_EXIT_USAGE, "zstd level %d above %d",
		                  level, ZSTD_maxCLevel());
	memset(&d, 0, sizeof(d));
	/* Placeholders have the real lengths: digests are always 64 hex. */
	for (size_t i = 0; i < n; i++) {
		memset(ents[i].sha256, '0', 64);
		ents[i].sha256[64] = '\0';
	}
	manifest = bake_build_manifest(spec, ents, n, opt);
	sums = manifest ? bake_build_sums(manifest, ents, n) : NULL;
	if (sums == NULL) {
		free(manifest);
		return mv_err_set(err, MV_EXIT_FAIL, "out of memory");
	}
	rc = bake_meta_tar(manifest, sums, opt->source_date_epoch, &head,
	                   &d.placeholder_len, err);
	free(head);
	free(manifest);
	free(sums);
	if (rc != 0)
		return -1;
	rc = -1;
	/* frame + checksum, plus a skippable header */
	d.reserve = ZSTD_compressBound(d.placeholder_len) + 64;
	if (lseek(fd, (off_t)d.reserve, SEEK_SET) != (off_t)d.reserve)
		return mv_err_sys(err, errno, "seek");
	if (zframes_open(&z, fd, threads, level, err) != 0)
		goto out;
	d.spec = spec;
	d.opt = opt;
	d.ents = ents;
	d.n = n;
	d.fd = fd;
	d.z = z;
	d.t0 = mv_time_s();
	atomic_init(&d.cancel, false);
	if (pthread_create(&t, NULL, digest_main, &d) != 0) {
		mv_err_set(err, MV_EXIT_FAIL, "cannot start a digest thread");
		goto out;
	}
	started = true;
	if (opt->progress)
		prog = mv_progress_new("baking", total);
	for (size_t i = 0; i < n; i++)
		if (feed_entry(z, &ents[i], opt->source_date_epoch, &pos, prog,
		               err) != 0)
			goto out;
	/* End of archive, then zeros to the record the old blocking gave
	 * (libarchive padded its last 1 MiB block to a multiple of 10240). */
	r = (pos + 1024) % BLOCKING;
	r = r ? (r + LAST_BLOCK - 1) / LAST_BLOCK * LAST_BLOCK - r : 0;
	if (zframes_put(z, zeros, 1024, err) != 0 ||
	    zframes_put(z, zeros, (size_t)r, err) != 0 ||
	    zframes_close(z, &st, err) != 0)
		goto out;
	mv_timing_mark(tm, "compressed", "%zu frames, %zu stored, %.1f of %.1f "
	               "MiB, writer waited %.3fs", st.frames, st.stored,
	               (double)st.out / 1048576.0, (double)st.in / 1048576.0,
	               st.wait_s);
	pthread_join(t, NULL);
	started = false;
	mv_timing_mark(tm, "digested", "inputs at %.3fs, prefix at %.3fs",
	               d.t_inputs, d.t_prefix);
	if (d.rc != 0) {
		*err = d.err;
		goto out;
	}
	memcpy(res->sha256, d.sha, sizeof(res->sha256));
	res->size = d.reserve + st.out;
	rc = 0;
out:
	mv_progress_free(prog);
	if (started) {
		atomic_store(&d.cancel, true);
		zframes_abort(z);
		pthread_join(t, NULL);
	}
	zframes_free(z);
	res->manifest = d.manifest;
	res->sums = d.sums;
	return rc;
}
