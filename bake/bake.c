/* bake/bake.c - write a bundle.
 *
 * Two passes over the inputs: the first computes every digest (the manifest
 * must come first in the archive), the second streams the archive.  Inputs
 * are read in 1 MiB chunks, never whole.  zstd output goes through our own
 * streaming compressor rather than libarchive's filter so we can set the
 * job size (memory bound) and keep >= 1 worker (output identical on any
 * machine).
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "bake/bundle_private.h"
#include "core/atomic.h"
#include "core/log.h"
#include "core/progress.h"

#define CHUNK (1u << 20)

struct bake_entry {
	char *path; /* in the archive */
	char *src;  /* on disk; NULL for generated entries */
	const char *data; /* generated content */
	uint64_t size;
	unsigned mode;
	char sha256[MV_SHA256_HEX];
	struct stat st; /* seen in pass 1; pass 2 refuses a changed file */
};

struct sink {
	int fd;
	bool hashing; /* digest the output as it is written */
	struct mv_sha256 sha;
	uint64_t written;
	ZSTD_CCtx *zc; /* NULL unless zstd */
	ZSTD_outBuffer out;
	struct mv_err *err;
	int failed;
};

void
bake_options_init(struct bake_options *opt)
{
	const char *sde = getenv("SOURCE_DATE_EPOCH");

	memset(opt, 0, sizeof(*opt));
	opt->compress = BUNDLE_ZSTD;
	opt->source_date_epoch = sde ? strtoll(sde, NULL, 10) : 0;
	opt->progress = true;
}

static int
sink_write_raw(struct sink *s, const void *buf, size_t len)
{
	const char *p = buf;

	if (s->hashing)
		mv_sha256_update(&s->sha, buf, len);
	s->written += len;
	while (len > 0) {
		ssize_t n = write(s->fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			mv_err_sys(s->err, errno, "write bundle");
			s->failed = 1;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int
sink_zstd(struct sink *s, const void *buf, size_t len, ZSTD_EndDirective end)
{
	ZSTD_inBuffer in = {buf, len, 0};

	for (;;) {
		size_t r = ZSTD_compressStream2(s->zc, &s->out, &in, end);
		if (ZSTD_isError(r)) {
			mv_err_set(s->err, MV_EXIT_FAIL, "zstd: %s",
			           ZSTD_getErrorName(r));
			s->failed = 1;
			return -1;
		}
		if (s->out.pos > 0) {
			if (sink_write_raw(s, s->out.dst, s->out.pos) != 0)
				return -1;
			s->out.pos = 0;
		}
		if (end == ZSTD_e_end ? r == 0 : in.pos == in.size)
			return 0;
	}
}

static la_ssize_t
la_write(struct archive *a, void *ud, const void *buf, size_t len)
{
	struct sink *s = ud;
	int rc;

	rc = s->zc ? sink_zstd(s, buf, len, ZSTD_e_continue)
	           : sink_write_raw(s, buf, len);
	if (rc != 0) {
		archive_set_error(a, EIO, "%s", s->err->msg);
		return -1;
	}
	return (la_ssize_t)len;
}

static int
cmp_entry(const void *a, const void *b)
{
	return strcmp(((const struct bake_entry *)a)->path,
	              ((const struct bake_entry *)b)->path);
}

/* Every entry of meshvm-bundle/1 is data (certs, config, archives,
 * packages, unit files: systemd warns about executable units), so all are
 * normalised to 0644 whatever the source mode; 0755 is reserved for
 * executables the format may carry later. */
static int
add_entry(struct bake_entry *ents, size_t *n, const char *arc,
          const char *src, struct mv_err *err)
{
	struct bake_entry *e = &ents[*n];

	memset(e, 0, sizeof(*e));
	if (stat(src, &e->st) != 0)
		return mv_err_sys(err, errno, "%s", src);
	if (!S_ISREG(e->st.st_mode))
		return mv_err_set(err, MV_EXIT_FAIL, "%s: not a regular file", src);
	e->path = strdup(arc);
	e->src = strdup(src);
	if (e->path == NULL || e->src == NULL) {
		free(e->path);
		free(e->src);
		return mv_err_set(err, MV_EXIT_FAIL, "out of memory");
	}
	e->size = (uint64_t)e->st.st_size;
	e->mode = 0644;
	(*n)++;
	return 0;
}

static void
free_entries(struct bake_entry *ents, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(ents[i].path);
		free(ents[i].src);
	}
	free(ents);
}

static int
collect_entries(const struct bundle_spec *spec, const char *stage,
                struct bake_entry **out, size_t *n_out, struct mv_err *err)
{
	static const char *const ids[] = {"cluster.env", "hosts", "mesh.yaml",
	                                  "root-cert.pem"};
	size_t cap = 8 + spec->n_units, n = 0;
	struct bake_entry *ents = calloc(cap, sizeof(*ents));
	char arc[512], src[4096];

	if (ents == NULL)
		return mv_err_set(err, MV_EXIT_FAIL, "out of memory");
	for (size_t i = 0; i < 4; i++) {
		snprintf(arc, sizeof(arc), "identity/%s", ids[i]);
		snprintf(src, sizeof(src), "%s/%s", spec->identity_dir, ids[i]);
		if (add_entry(ents, &n, arc, src, err) != 0)
			goto fail;
	}
	if (stage != NULL) {
		/* runtime systemd: the flattened image (bake_stage_rootfs) */
		snprintf(src, sizeof(src), "%s/config.json", stage);
		if (add_entry(ents, &n, "image/config.json", src, err) != 0)
			goto fail;
		snprintf(src, sizeof(src), "%s/rootfs.tar", stage);
		if (add_entry(ents, &n, "image/rootfs.tar", src, err) != 0)
			goto fail;
	} else if (add_entry(ents, &n, "image/image.tar", spec->image, err) !=
	           0) {
		goto fail;
	}
	if (add_entry(ents, &n,
	              spec->sidecar_format == BUNDLE_PKG_RPM
	                      ? "sidecar/istio-sidecar.rpm"
	                      : "sidecar/istio-sidecar.deb",
	              spec->sidecar, err) != 0)
		goto fail;
	for (size_t i = 0; i < spec->n_units; i++) {
		const char *base = strrchr(spec->units[i], '/');
		snprintf(arc, sizeof(arc), "units/%s",
		         base ? base + 1 : spec->units[i]);
		if (add_entry(ents, &n, arc, spec->units[i], err) != 0)
			goto fail;
		}
	qsort(ents, n, sizeof(*ents), cmp_entry);
	for (size_t i = 1; i < n; i++)
		if (!strcmp(ents[i - 1].path, ents[i].path)) {
			mv_err_set(err, MV_EXIT_FAIL, "two inputs map to %s",
			           ents[i].path);
			goto fail;
		}
	*out = ents;
	*n_out = n;
	return 0;
fail:
	free_entries(ents, n);
	return -1;
}

static const char *
mode_str(unsigned mode)
{
	return mode == 0755 ? "0755" : "0644";
}

static const struct bake_entry *
find_entry(const struct bake_entry *ents, size_t n, const char *prefix)
{
	for (size_t i = 0; i < n; i++)
		if (!strncmp(ents[i].path, prefix, strlen(prefix)))
			return &ents[i];
	return NULL;
}

/* MANIFEST.json: the field order is part of the format (byte-identical
 * output), so objects keep insertion order. */
static char *
build_manifest(const struct bundle_spec *spec, const struct bake_entry *ents,
               size_t n, const struct bake_options *opt)
{
	const struct bake_entry *side = find_entry(ents, n, "sidecar/");
	const struct bake_entry *img = find_entry(ents, n, "image/image.tar");
	const struct bake_entry *cfg = find_entry(ents, n, "image/config.json");
	int64_t sde = opt->source_date_epoch;
	json_t *m = json_object(), *svc = json_object(), *sc = json_object();
	json_t *im = json_object(), *files = json_array();
	char *out;

	json_object_set_new(m, "format", json_string(BUNDLE_FORMAT));
	json_object_set_new(svc, "name", json_string(spec->service.name));
	json_object_set_new(svc, "namespace",
	                    json_string(spec->service.namespace_));
	json_object_set_new(svc, "port", json_integer(spec->service.port));
	json_object_set_new(svc, "protocol",
	                    json_string(spec->service.protocol));
	json_object_set_new(m, "service", svc);
	json_object_set_new(sc, "path", json_string(side->path));
	json_object_set_new(sc, "format",
	                    json_string(spec->sidecar_format == BUNDLE_PKG_RPM
	                                        ? "rpm" : "deb"));
	json_object_set_new(sc, "version", json_string(spec->sidecar_version));
	json_object_set_new(sc, "size", json_integer((json_int_t)side->size));
	json_object_set_new(sc, "sha256", json_string(side->sha256));
	json_object_set_new(m, "sidecar", sc);
	if (img == NULL)
		img = find_entry(ents, n, "image/rootfs.tar");
	json_object_set_new(im, "path", json_string(img->path));
	json_object_set_new(im, "format", json_string(cfg ? "rootfs"
	                                                  : spec->image_format));
	json_object_set_new(im, "size", json_integer((json_int_t)img->size));
	json_object_set_new(im, "sha256", json_string(img->sha256));
	json_object_set_new(im, "runtime", json_string(opt->runtime));
	if (cfg != NULL)
		json_object_set_new(im, "config", json_string(cfg->path));
	json_object_set_new(m, "image", im);
	for (size_t i = 0; i < n; i++) {
		json_t *f = json_object();
		json_object_set_new(f, "path", json_string(ents[i].path));
		json_object_set_new(f, "size", json_integer((json_int_t)ents[i].size));
		json_object_set_new(f, "sha256", json_string(ents[i].sha256));
		json_object_set_new(f, "mode", json_string(mode_str(ents[i].mode)));
		json_array_append_new(files, f);
	}
	json_object_set_new(m, "files", files);
	json_object_set_new(m, "source_date_epoch", json_integer(sde));
	out = json_dumps(m, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(m);
	if (out != NULL) {
		size_t l = strlen(out);
		char *nl = realloc(out, l + 2);
		if (nl == NULL) {
			free(out);
			return NULL;
		}
		nl[l] = '\n';
		nl[l + 1] = '\0';
		out = nl;
	}
	return out;
}

static int
write_header(struct archive *a, const char *path, uint64_t size,
             unsigned mode, int64_t sde, struct mv_err *err)
{
	struct archive_entry *e = archive_entry_new();
	int r;

	if (e == NULL)
		return mv_err_set(err, MV_EXIT_FAIL, "out of memory");
	archive_entry_set_pathname(e, path);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, mode);
	archive_entry_set_size(e, (la_int64_t)size);
	archive_entry_set_mtime(e, (time_t)sde, 0);
	archive_entry_set_uid(e, 0);
	archive_entry_set_gid(e, 0);
	archive_entry_set_uname(e, "root");
	archive_entry_set_gname(e, "root");
	r = archive_write_header(a, e);
	archive_entry_free(e);
	if (r != ARCHIVE_OK)
		return mv_err_set(err, MV_EXIT_FAIL, "%s: %s", path,
		                  archive_error_string(a));
	return 0;
}

static bool
same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino &&
	       a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	       a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	       a->st_ctim.tv_sec == b->st_ctim.tv_sec &&
	       a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/* A reader thread for the one-pass path: it reads an input ahead and
 * digests it while the caller's thread feeds the compressor, so hashing
 * overlaps the time that thread spends waiting for zstd's workers. */
#define PREFETCH_BUFS 4

struct prefetch {
	int fd;
	uint64_t left;
	struct mv_sha256 *h;
	char *buf[PREFETCH_BUFS];
	size_t len[PREFETCH_BUFS];
	int head, count; /* ring of filled buffers */
	int err_no;      /* read error, or -1 for a short file */
	bool done, cancel;
	pthread_mutex_t lock;
	pthread_cond_t cond;
};

static void *
prefetch_main(void *arg)
{
	struct prefetch *p = arg;

	for (;;) {
		int slot;
		pthread_mutex_lock(&p->lock);
		while (p->count == PREFETCH_BUFS && !p->cancel)
			pthread_cond_wait(&p->cond, &p->lock);
		if (p->cancel || p->left == 0) {
			p->done = true;
			pthread_cond_broadcast(&p->cond);
			pthread_mutex_unlock(&p->lock);
			return NULL;
		}
		slot = (p->head + p->count) % PREFETCH_BUFS;
		pthread_mutex_unlock(&p->lock);

		size_t want = p->left < CHUNK ? (size_t)p->left : CHUNK, got = 0;
		while (got < want) {
			ssize_t n = read(p->fd, p->buf[slot] + got, want - got);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				pthread_mutex_lock(&p->lock);
				p->err_no = n < 0 ? errno : -1;
				p->done = true;
				pthread_cond_broadcast(&p->cond);
				pthread_mutex_unlock(&p->lock);
				return NULL;
			}
			got += (size_t)n;
		}
		mv_sha256_update(p->h, p->buf[slot], got);

		pthread_mutex_lock(&p->lock);
		p->len[slot] = got;
		p->left -= got;
		p->count++;
		pthread_cond_broadcast(&p->cond);
		pthread_mutex_unlock(&p->lock);
	}
}

/* Copy fd (already checked) into the archive through a prefetch thread. */
static int
stream_prefetched(struct archive *a, const struct bake_entry *e, int fd,
                  struct mv_sha256 *h, struct mv_progress *prog,
                  struct mv_err *err)
{
	struct prefetch p;
	pthread_t t;
	int rc = 0;

	memset(&p, 0, sizeof(p));
	p.fd = fd;
	p.left = e->size;
	p.h = h;
	for (int i = 0; i < PREFETCH_BUFS; i++)
		if ((p.buf[i] = malloc(CHUNK)) == NULL) {
			for (int j = 0; j < i; j++)
				free(p.buf[j]);
			return mv_err_set(err, MV_EXIT_FAIL, "out of memory");
		}
	pthread_mutex_init(&p.lock, NULL);
	pthread_cond_init(&p.cond, NULL);
	if (pthread_create(&t, NULL, prefetch_main, &p) != 0) {
		rc = mv_err_set(err, MV_EXIT_FAIL, "cannot start a reader thread");
		goto out;
	}
	for (;;) {
		int slot;
		pthread_mutex_lock(&p.lock);
		while (p.count == 0 && !p.done)
			pthread_cond_wait(&p.cond, &p.lock);
		if (p.count == 0) {
			pthread_mutex_unlock(&p.lock);
			break;
		}
		slot = p.head;
		pthread_mutex_unlock(&p.lock);
		if (archive_write_data(a, p.buf[slot], p.len[slot]) !=
		    (la_ssize_t)p.len[slot]) {
			rc = mv_err_set(err, MV_EXIT_FAIL, "%s: %s", e->path,
			                archive_error_string(a));
			break;
		}
		mv_progress_add(prog, p.len[slot]);
		pthread_mutex_lock(&p.lock);
		p.head = (p.head + 1) % PREFETCH_BUFS;
		p.count--;
		pthread_cond_broadcast(&p.cond);
		pthread_mutex_unlock(&p.lock);
	}
	pthread_mutex_lock(&p.lock);
	p.cancel = true;
	pthread_cond_broadcast(&p.cond);
	pthread_mutex_unlock(&p.lock);
	pthread_join(t, NULL);
	if (rc == 0 && p.err_no > 0)
		rc = mv_err_sys(err, p.err_no, "%s: read", e->src);
	else if (rc == 0 && (p.err_no == -1 || p.left != 0))
		rc = mv_err_set(err, MV_EXIT_FAIL, "%s: shrank while baking",
		                e->src);
out:
	for (int i = 0; i < PREFETCH_BUFS; i++)
		free(p.buf[i]);
	pthread_mutex_destroy(&p.lock);
	pthread_cond_destroy(&p.cond);
	return rc;
}

/* Copy one input into the archive; with `h`, digest it on the way (the
 * one-pass zstd path). */
static int
stream_file(struct archive *a, const struct bake_entry *e, char *buf,
            struct mv_sha256 *h, struct mv_progress *prog, struct mv_err *err)
{
	uint64_t left = e->size;
	struct stat st;
	int fd;

	fd = open(e->src, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return mv_err_sys(err, errno, "%s", e->src);
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	if (fstat(fd, &st) != 0 || !same_file(&st, &e->st)) {
		close(fd);
		return mv_err_set(err, MV_EXIT_FAIL,
		                  "%s: changed while baking (digest would be "
		                  "stale); bake again", e->src);
	}
	if (h != NULL && e->size > 4 * (uint64_t)CHUNK) {
		int rc = stream_prefetched(a, e, fd, h, prog, err);
		if (rc == 0 && (fstat(fd, &st) != 0 || !same_file(&st, &e->st)))
			rc = mv_err_set(err, MV_EXIT_FAIL,
			                "%s: changed while baking; bake again", e->src);
		close(fd);
		return rc;
	}
	while (left > 0) {
		size_t want = left < CHUNK ? (size_t)left : CHUNK;
		ssize_t n = read(fd, buf, want);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int en = n < 0 ? errno : 0;
			close(fd);
			if (n < 0)
				return mv_err_sys(err, en, "%s: read", e->src);
			return mv_err_set(err, MV_EXIT_FAIL,
			                  "%s: shrank while baking", e->src);
		}
		if (h != NULL)
			mv_sha256_update(h, buf, (size_t)n);
		if (archive_write_data(a, buf, (size_t)n) != n) {
			close(fd);
			return mv_err_set(err, MV_EXIT_FAIL, "%s: %s", e->path,
			                  archive_error_string(a));
		}
		mv_progress_add(prog, (uint64_t)n);
		left -= (uint64_t)n;
	}
	if (fstat(fd, &st) != 0 || !same_file(&st, &e->st)) {
		close(fd);
		return mv_err_set(err, MV_EXIT_FAIL,
		                  "%s: changed while baking; bake again", e->src);
	}
	close(fd);
	return 0;
}

static int
setup_zstd(struct sink *s, const struct bake_options *opt,
           struct mv_err *err)
{
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	int threads = opt->threads > 0 ? opt->threads : (int)(cores > 0 ? cores : 1);
	int level = opt->level > 0 ? opt->level : 3;
	size_t r;

	s->zc = ZSTD_createCCtx();
	s->out.size = ZSTD_CStreamOutSize();
	s->out.dst = malloc(s->out.size);
	if (s->zc == NULL || s->out.dst == NULL)
		return mv_err_set(err, MV_EXIT_FAIL, "out of memory");
	if (level > ZSTD_maxCLevel())
		return mv_err_set(err, MV_EXIT_USAGE, "zstd level %d above %d",
		                  level, ZSTD_maxCLevel());
	/* nbWorkers >= 1 always: with one or more workers zstd emits the same
	 * bytes whatever the count, so bundles match across machines. */
	r = ZSTD_CCtx_setParameter(s->zc, ZSTD_c_nbWorkers, threads);
	if (ZSTD_isError(r))
		return mv_err_set(err, MV_EXIT_FAIL,
		                  "zstd without multithreading support: %s",
		                  ZSTD_getErrorName(r));
	ZSTD_CCtx_setParameter(s->zc, ZSTD_c_compressionLevel, level);
	ZSTD_CCtx_setParameter(s->zc, ZSTD_c_jobSize, 2u << 20);
	ZSTD_CCtx_setParameter(s->zc, ZSTD_c_checksumFlag, 1);
	return 0;
}

/* SHA256SUMS: MANIFEST.json first, then every entry (strcmp order). */
static char *
build_sums(const char *manifest, const struct bake_entry *ents, size_t n)
{
	size_t cap = (n + 1) * (64 + 2 + 512 + 1) + 1, off = 0;
	char *sums = malloc(cap), msha[MV_SHA256_HEX];

	if (sums == NULL)
		return NULL;
	mv_sha256_buf_hex(manifest, strlen(manifest), msha);
	off += (size_t)snprintf(sums + off, cap - off, "%s  %s\n", msha,
	                        BUNDLE_MANIFEST);
	for (size_t i = 0; i < n; i++)
		off += (size_t)snprintf(sums + off, cap - off, "%s  %s\n",
		                        ents[i].sha256, ents[i].path);
	return sums;
}

static int
write_meta_entries(struct archive *a, const char *manifest, const char *sums,
                   int64_t sde, struct mv_err *err)
{
	if (write_header(a, BUNDLE_MANIFEST, strlen(manifest), 0644, sde, err) != 0)
		return -1;
	if (archive_write_data(a, manifest, strlen(manifest)) < 0)
		return mv_err_set(err, MV_EXIT_FAIL, "%s", archive_error_string(a));
	if (write_header(a, BUNDLE_SUMS, strlen(sums), 0644, sde, err) != 0)
		return -1;
	if (archive_write_data(a, sums, strlen(sums)) < 0)
		return mv_err_set(err, MV_EXIT_FAIL, "%s", archive_error_string(a));
	return 0;
}

struct membuf {
	char *data;
	size_t len, cap;
};

static la_ssize_t
mem_write(struct archive *a, void *ud, const void *buf, size_t len)
{
	struct membuf *m = ud;

	if (m->len + len > m->cap) {
		size_t cap = (m->len + len) * 2;
		char *nd = realloc(m->data, cap);
		if (nd == NULL) {
			archive_set_error(a, ENOMEM, "out of memory");
			return -1;
		}
		m->data = nd;
		m->cap = cap;
	}
	memcpy(m->data + m->len, buf, len);
	m->len += len;
	return (la_ssize_t)len;
}

/* The tar bytes of MANIFEST.json and SHA256SUMS alone: no end-of-archive
 * marker, so the payload's tar stream can follow them.  *out malloc'd. */
static int
meta_tar(const char *manifest, const char *sums, int64_t sde, char **out,
         size_t *len, struct mv_err *err)
{
	struct archive *a = archive_write_new();
	struct membuf m = {0};
	size_t entries_len;
	int rc = -1;

	*out = NULL;
	if (a == NULL)
		return mv_err_set(err, MV_EXIT_FAIL, "out of memory");
	archive_write_set_format_pax_restricted(a);
	archive_write_add_filter_none(a);
	/* No blocking: every byte reaches mem_write as soon as it is final. */
	archive_write_set_bytes_per_block(a, 0);
	if (archive_write_open2(a, &m, NULL, mem_write, NULL, NULL) != ARCHIVE_OK ||
	    write_meta_entries(a, manifest, sums, sde, err) != 0 ||
	    archive_write_finish_entry(a) != ARCHIVE_OK) {
		if (err->msg[0] == '\0')
			mv_err_set(err, MV_EXIT_FAIL, "%s", archive_error_string(a));
		goto out;
	}
	entries_len = m.len;
	archive_write_close(a);
	if (entries_len % 512 != 0) {
		mv_err_set(err, MV_EXIT_FAIL, "internal: header not block aligned");
		goto out;
	}
	*out = m.data;
	*len = entries_len;
	m.data = NULL;
	rc = 0;
out:
	archive_write_free(a);
	free(m.data);
	return rc;
}

static struct archive *
payload_writer(struct sink *s, int compress, int level, struct mv_err *err)
{
	struct archive *a = archive_write_new();

	if (a == NULL) {
		mv_err_set(err, MV_EXIT_FAIL, "out of memory");
		return NULL;
	}
	archive_write_set_format_pax_restricted(a);
	/* Big blocks: the compressor sees few large writes, not one per 10
	 * KiB record.  The last block is padded to the usual 10240 only. */
	archive_write_set_bytes_per_block(a, (int)CHUNK);
	archive_write_set_bytes_in_last_block(a, 10240);
	if (compress == BUNDLE_GZIP) {
		char o[64];
		archive_write_add_filter_gzip(a);
		snprintf(o, sizeof(o), "gzip:!timestamp,gzip:compression-level=%d",
		         level > 0 ? level : 6);
		if (archive_write_set_options(a, o) != ARCHIVE_OK) {
			mv_err_set(err, MV_EXIT_FAIL, "gzip: %s", archive_error_string(a));
			archive_write_free(a);
			return NULL;
		}
	} else {
		archive_write_add_filter_none(a);
	}
	if (archive_write_open2(a, s, NULL, la_write, NULL, NULL) != ARCHIVE_OK) {
		mv_err_set(err, MV_EXIT_FAIL, "%s", archive_error_string(a));
		archive_write_free(a);
		return NULL;
	}
	return a;
}

/* gzip and uncompressed bundles: two passes over the inputs, the first for
 * the digests (the manifest comes first), the second for the archive. */
static int
bake_two_pass(const struct bundle_spec *spec, struct bake_entry *ents,
              size_t n, uint64_t total, const struct bake_options *opt,
              struct mv_atomic_file *af, struct sink *s, char **manifest_out,
              char **sums_out, struct mv_err *err)
{
	struct mv_progress *prog = NULL;
	struct archive *a = NULL;
	char *manifest = NULL, *sums = NULL, *buf = NULL;
	int rc = -1;

	if (opt->progress)
		prog = mv_progress_new("hashing", total);
	for (size_t i = 0; i < n; i++) {
		uint64_t got;
		if (mv_sha256_file_hex(ents[i].src, ents[i].sha256, &got, prog,
		                       err) != 0)
			goto out;
		if (got != ents[i].size) {
			mv_err_set(err, MV_EXIT_FAIL, "%s: changed while baking",
			           ents[i].src);
			goto out;
		}
	}
	mv_progress_free(prog);
	prog = NULL;
	manifest = build_manifest(spec, ents, n, opt);
	sums = manifest ? build_sums(manifest, ents, n) : NULL;
	buf = malloc(CHUNK);
	if (sums == NULL || buf == NULL) {
		mv_err_set(err, MV_EXIT_FAIL, "out of memory");
		goto out;
	}
	s->fd = af->fd;
	a = payload_writer(s, opt->compress, opt->level, err);
	if (a == NULL)
		goto out;
	if (opt->progress)
		prog = mv_progress_new("writing", total);
	if (write_meta_entries(a, manifest, sums, opt->source_date_epoch, err) != 0)
		goto out;
	for (size_t i = 0; i < n; i++)
		if (write_header(a, ents[i].path, ents[i].size, ents[i].mode,
		                 opt->source_date_epoch, err) != 0 ||
		    stream_file(a, &ents[i], buf, NULL, prog, err) != 0)
			goto out;
	if (archive_write_close(a) != ARCHIVE_OK) {
		if (!s->failed)
			mv_err_set(err, MV_EXIT_FAIL, "%s", archive_error_string(a));
		goto out;
	}
	rc = 0;
out:
	mv_progress_free(prog);
	if (a != NULL)
		archive_write_free(a);
	free(buf);
	*manifest_out = manifest;
	*sums_out = sums;
	return rc;
}

/* zstd bundles: one pass over the inputs.  The payload (every entry after
 * MANIFEST.json and SHA256SUMS) goes out as its own zstd frame while the
 * inputs are digested, starting at an offset reserved for the manifest's
 * frame; once the digests are known the manifest frame is written in
 * front, and the space it leaves is filled with a zstd skippable frame.
 * Decompressors (zstd, libarchive, tar -I zstd) see one tar stream.  The
 * reserve is a function of the inputs alone (the manifest's length does
 * not depend on digest values), so output stays byte-identical. */
static int
bake_one_pass_zstd(const struct bundle_spec *spec, struct bake_entry *ents,
                   size_t n, uint64_t total, const struct bake_options *opt,
                   struct mv_atomic_file *af, struct sink *s,
                   char **manifest_out, char **sums_out, struct mv_err *err)
{
	struct mv_progress *prog = NULL;
	struct archive *a = NULL;
	char *manifest = NULL, *sums = NULL, *buf = NULL, *head = NULL;
	char *frame = NULL;
	size_t head_len, placeholder_len, bound, reserve, c1;
	ZSTD_CCtx *zc1 = NULL;
	int rc = -1;

	/* Placeholders have the real lengths: digests are always 64 hex. */
	for (size_t i = 0; i < n; i++) {
		memset(ents[i].sha256, '0', 64);
		ents[i].sha256[64] = '\0';
	}
	manifest = build_manifest(spec, ents, n, opt);
	sums = manifest ? build_sums(manifest, ents, n) : NULL;
	if (sums == NULL) {
		mv_err_set(err, MV_EXIT_FAIL, "out of memory");
		goto out;
	}
	if (meta_tar(manifest, sums, opt->source_date_epoch, &head,
	             &placeholder_len, err) != 0)
		goto out;
	free(head);
	head = NULL;
	free(manifest);
	free(sums);
	manifest = sums = NULL;
	bound = ZSTD_compressBound(placeholder_len);
	reserve = bound + 64; /* frame + checksum, plus a skippable header */

	/* The payload frame, digesting as it goes. */
	if (lseek(af->fd, (off_t)reserve, SEEK_SET) != (off_t)reserve) {
		mv_err_sys(err, errno, "seek");
		goto out;
	}
	s->fd = af->fd;
	buf = malloc(CHUNK);
	if (buf == NULL) {
		mv_err_set(err, MV_EXIT_FAIL, "out of memory");
		goto out;
	}
	a = payload_writer(s, BUNDLE_NONE, 0, err);
	if (a == NULL)
		goto out;
	if (opt->progress)
		prog = mv_progress_new("baking", total);
	for (size_t i = 0; i < n; i++) {
		struct mv_sha256 h;
		if (mv_sha256_init(&h) != 0) {
			mv_err_set(err, MV_EXIT_FAIL, "out of memory");
			goto out;
		}
		if (write_header(a, ents[i].path, ents[i].size, ents[i].mode,
		                 opt->source_date_epoch, err) != 0 ||
		    stream_file(a, &ents[i], buf, &h, prog, err) != 0) {
			mv_sha256_discard(&h);
			goto out;
		}
		mv_sha256_final_hex(&h, ents[i].sha256);
	}
	if (archive_write_close(a) != ARCHIVE_OK) {
		if (!s->failed)
			mv_err_set(err, MV_EXIT_FAIL, "%s", archive_error_string(a));
		goto out;
	}
	if (sink_zstd(s, NULL, 0, ZSTD_e_end) != 0)
		goto out;
	mv_progress_free(prog);
	prog = NULL;

	/* The manifest frame, now that the digests are known. */
	manifest = build_manifest(spec, ents, n, opt);
	sums = manifest ? build_sums(manifest, ents, n) : NULL;
	if (sums == NULL) {
		mv_err_set(err, MV_EXIT_FAIL, "out of memory");
		goto out;
	}
	if (meta_tar(manifest, sums, opt->source_date_epoch, &head, &head_len,
	             err) != 0)
		goto out;
	if (head_len != placeholder_len) {
		mv_err_set(err, MV_EXIT_FAIL,
		           "internal: manifest length changed (%zu, %zu)", head_len,
		           placeholder_len);
		goto out;
	}
	zc1 = ZSTD_createCCtx();
	frame = calloc(1, reserve);
	if (zc1 == NULL || frame == NULL) {
		mv_err_set(err, MV_EXIT_FAIL, "out of memory");
		goto out;
	}
	ZSTD_CCtx_setParameter(zc1, ZSTD_c_compressionLevel,
	                       opt->level > 0 ? opt->level : 3);
	ZSTD_CCtx_setParameter(zc1, ZSTD_c_checksumFlag, 1);
	c1 = ZSTD_compress2(zc1, frame, bound, head, head_len);
	if (ZSTD_isError(c1) || c1 + 8 > reserve) {
		mv_err_set(err, MV_EXIT_FAIL, "zstd: %s",
		           ZSTD_isError(c1) ? ZSTD_getErrorName(c1) : "no room");
		goto out;
	}
	{
		/* Skippable frame: magic 0x184D2A50, then the size of its
		 * (zero) content, both little endian. */
		uint32_t skip = (uint32_t)(reserve - c1 - 8);
		unsigned char *p = (unsigned char *)frame + c1;
		p[0] = 0x50;
		p[1] = 0x2a;
		p[2] = 0x4d;
		p[3] = 0x18;
		p[4] = (unsigned char)skip;
		p[5] = (unsigned char)(skip >> 8);
		p[6] = (unsigned char)(skip >> 16);
		p[7] = (unsigned char)(skip >> 24);
	}
	for (size_t off = 0; off < reserve;) {
		ssize_t w = pwrite(af->fd, frame + off, reserve - off, (off_t)off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			mv_err_sys(err, errno, "write bundle");
			goto out;
		}
		off += (size_t)w;
	}
	s->written += reserve;
	rc = 0;
out:
	mv_progress_free(prog);
	if (a != NULL)
		archive_write_free(a);
	ZSTD_freeCCtx(zc1);
	free(frame);
	free(head);
	free(buf);
	*manifest_out = manifest;
	*sums_out = sums;
	return rc;
}

/* The digest of what was written, read back (the manifest frame went in
 * last, in front). */
static int
digest_output(int fd, uint64_t size, char sha[MV_SHA256_HEX], bool progress,
              struct mv_err *err)
{
	struct mv_progress *prog = progress ? mv_progress_new("digest", size)
	                                    : NULL;
	struct mv_sha256 h;
	char *buf = malloc(CHUNK);
	uint64_t off = 0;

	if (buf == NULL || mv_sha256_init(&h) != 0) {
		free(buf);
		mv_progress_free(prog);
		return mv_err_set(err, MV_EXIT_FAIL, "out of memory");
	}
	while (off < size) {
		ssize_t r = pread(fd, buf, CHUNK, (off_t)off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			mv_sha256_discard(&h);
			free(buf);
			mv_progress_free(prog);
			return mv_err_sys(err, r < 0 ? errno : EIO, "read back bundle");
		}
		mv_sha256_update(&h, buf, (size_t)r);
		mv_progress_add(prog, (uint64_t)r);
		off += (uint64_t)r;
	}
	mv_sha256_final_hex(&h, sha);
	free(buf);
	mv_progress_free(prog);
	return 0;
}

int
bundle_bake(const struct bundle_spec *spec, const char *out_path,
            const struct bake_options *opt, struct bake_result *res,
            struct mv_err *err)
{
	struct bake_entry *ents = NULL;
	size_t n = 0;
	uint64_t total = 0;
	char *manifest = NULL, *sums = NULL;
	struct mv_output o = {.af = {.fd = -1, .slot = -1}};
	struct bake_options eff = *opt;
	char *stage = NULL;
	struct mv_atomic_file *af = &o.af;
	struct sink s;
	bool zstd = opt->compress == BUNDLE_ZSTD;
	int rc = -1;

	memset(&s, 0, sizeof(s));
	s.err = err;
	if (opt->compress == BUNDLE_GZIP && opt->level > 9)
		return mv_err_set(err, MV_EXIT_USAGE, "gzip level must be 1..9");
	/* The runtime is decided here, once: the option, the spec, systemd. */
	eff.runtime = opt->runtime ? opt->runtime
	              : spec->runtime ? spec->runtime : "systemd";
	opt = &eff;
	if (bundle_spec_check_runtime(spec, opt->runtime, err) != 0)
		return -1;
	/* The output first, so an unwritable one is named before any work. */
	if (mv_output_open(&o, out_path, 0644, err) != 0)
		goto out;
	if (!strcmp(opt->runtime, "systemd") &&
	    bake_stage_rootfs(spec, out_path, opt->source_date_epoch, &stage,
	                      err) != 0)
		goto out;
	if (collect_entries(spec, stage, &ents, &n, err) != 0)
		goto out;
	for (size_t i = 0; i < n; i++)
		total += ents[i].size;
	/* The two-pass path digests the output as it streams; the one-pass
	 * path writes its first bytes last and reads the file back. */
	s.hashing = !zstd;
	if (s.hashing && mv_sha256_init(&s.sha) != 0) {
		mv_err_set(err, MV_EXIT_FAIL, "out of memory");
		goto out;
	}
	if (zstd) {
		if (setup_zstd(&s, opt, err) != 0 ||
		    bake_one_pass_zstd(spec, ents, n, total, opt, af, &s, &manifest,
		                       &sums, err) != 0)
			goto out;
	} else if (bake_two_pass(spec, ents, n, total, opt, af, &s, &manifest,
	                         &sums, err) != 0) {
		goto out;
	}
	if (res != NULL) {
		if (zstd) {
			if (digest_output(af->fd, s.written, res->sha256, opt->progress,
			                  err) != 0)
				goto out;
		} else {
			mv_sha256_final_hex(&s.sha, res->sha256);
		}
		res->size = s.written;
		res->content_size = total + strlen(manifest) + strlen(sums);
		res->n_entries = n + 2;
	}
	if (mv_output_commit(&o, err) != 0)
		goto out;
	rc = 0;
out:
	if (rc != 0)
		mv_output_abort(&o);
	mv_sha256_discard(&s.sha);
	ZSTD_freeCCtx(s.zc);
	free(s.out.dst);
	free(sums);
	free(manifest);
	free_entries(ents, n);
	bake_unstage_rootfs(stage);
	return rc;
}
