/* bake/flatten.c - a container image as one root filesystem tar (see
 * flatten.h). */
#include "bake/flatten.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bake/flatten_image.h"
#include "core/atomic.h"
#include "core/util.h"

#define RANGE_BUF (256u << 10) /* a layer's reads */

/*--- the path index ------------------------------------------------------*/

enum kind { K_NONE = 0, K_DIR, K_FILE, K_SYMLINK, K_HARDLINK };

struct node {
	char *path;
	int layer;     /* where the path is present, -1: not present */
	int wh_layer;  /* highest layer with a whiteout for it, or -1 */
	int opq_layer; /* highest layer making it opaque, or -1 */
	enum kind kind;
};

struct index {
	struct node *slots;
	size_t cap, n;
};

static uint64_t
hash(const char *s)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

static struct node *
idx_find(const struct index *ix, const char *path)
{
	if (ix->cap == 0)
		return NULL;
	for (size_t i = hash(path) & (ix->cap - 1);; i = (i + 1) & (ix->cap - 1)) {
		if (ix->slots[i].path == NULL)
			return NULL;
		if (strcmp(ix->slots[i].path, path) == 0)
			return &ix->slots[i];
	}
}

static int
idx_grow(struct index *ix)
{
	size_t cap = ix->cap ? ix->cap * 2 : 1024;
	struct node *s = calloc(cap, sizeof(*s));

	if (s == NULL)
		return -1;
	for (size_t i = 0; i < ix->cap; i++) {
		size_t j;
		if (ix->slots[i].path == NULL)
			continue;
		for (j = hash(ix->slots[i].path) & (cap - 1); s[j].path;
		     j = (j + 1) & (cap - 1))
			;
		s[j] = ix->slots[i];
	}
	free(ix->slots);
	ix->slots = s;
	ix->cap = cap;
	return 0;
}

/* The node for path, created (not present, no marks) when absent. */
static struct node *
idx_get(struct index *ix, const char *path, struct mv_err *err)
{
	struct node *n = idx_find(ix, path);
	size_t i;

	if (n != NULL)
		return n;
	if (ix->n >= FLATTEN_MAX_PATHS) {
		mv_err_set(err, MV_EXIT_FAIL, "more than %u paths in the image",
		           FLATTEN_MAX_PATHS);
		return NULL;
	}
	if ((ix->n + 1) * 2 > ix->cap && idx_grow(ix) != 0) {
		mv_err_set(err, MV_EXIT_FAIL, "out of memory");
		return NULL;
	}
	for (i = hash(path) & (ix->cap - 1); ix->slots[i].path;
	     i = (i + 1) & (ix->cap - 1))
		;
	n = &ix->slots[i];
	n->path = strdup(path);
	if (n->path == NULL) {
		mv_err_set(err, MV_EXIT_FAIL, "out of memory");
		return NULL;
	}
	n->layer = n->wh_layer = n->opq_layer = -1;
	n->kind = K_NONE;
	ix->n++;
	return n;
}

static void
idx_free(struct index *ix)
{
	for (size_t i = 0; i < ix->cap; i++)
		free(ix->slots[i].path);
	free(ix->slots);
	memset(ix, 0, sizeof(*ix));
}

/*--- one layer -----------------------------------------------------------*/

struct flat {
	struct flat_image *im;
	struct index ix;
	struct archive *out;
	struct archive *outer; /* positioned at the layer being read */
	int64_t sde;
	bool size_only;
	flatten_sink_fn sink;
	void *sink_ud;
	struct mv_err *sink_err; /* set by a failing sink */
	bool sink_failed;
	struct flatten_result *res;
	/* A layer stored as is in an uncompressed image is read straight
	 * from the file (fd, [off, off + len)), so skipping its file data
	 * (size_only) reads nothing. */
	int fd;
	uint64_t off, len, pos;
	char buf[RANGE_BUF];
};

static la_ssize_t
outer_read(struct archive *a, void *data, const void **block)
{
	struct flat *f = data;
	la_ssize_t n = archive_read_data(f->outer, f->buf, sizeof(f->buf));

	*block = f->buf;
	if (n < 0)
		archive_set_error(a, EIO, "%s", archive_error_string(f->outer));
	return n;
}

static la_ssize_t
range_read(struct archive *a, void *data, const void **block)
{
	struct flat *f = data;
	size_t want = f->len - f->pos < sizeof(f->buf) ? (size_t)(f->len - f->pos)
	                                               : sizeof(f->buf);
	ssize_t n;

	*block = f->buf;
	if (want == 0)
		return 0;
	do
		n = pread(f->fd, f->buf, want, (off_t)(f->off + f->pos));
	while (n < 0 && errno == EINTR);
	if (n <= 0) {
		archive_set_error(a, n < 0 ? errno : EIO, "%s",
		                  n < 0 ? strerror(errno) : "truncated");
		return -1;
	}
	f->pos += (uint64_t)n;
	return n;
}

static la_int64_t
range_skip(struct archive *a, void *data, la_int64_t request)
{
	struct flat *f = data;
	uint64_t left = f->len - f->pos;
	uint64_t n = request < 0 ? 0 : (uint64_t)request;

	(void)a;
	if (n > left)
		n = left;
	f->pos += n;
	return (la_int64_t)n;
}

static la_ssize_t
sink_write(struct archive *a, void *data, const void *buf, size_t len)
{
	struct flat *f = data;

	if (f->sink(f->sink_ud, buf, len) != 0) {
		f->sink_failed = true;
		archive_set_error(a, EIO, "%s", f->sink_err->msg);
		return -1;
	}
	return (la_ssize_t)len;
}

/* Is `path` (from layer L) hidden by what a higher layer did?  1 hidden,
 * 2 below a symlink or a non-directory of the flattened tree (dropped),
 * 0 visible. */
static int
hidden(struct flat *f, char *path, int L)
{
	struct node *n = idx_find(&f->ix, path);

	if (n != NULL && (n->layer >= L || n->wh_layer > L))
		return 1;
	for (char *s = strchr(path, '/'); s != NULL; s = strchr(s + 1, '/')) {
		*s = '\0';
		n = idx_find(&f->ix, path);
		*s = '/';
		if (n == NULL)
			continue;
		if (n->wh_layer > L || n->opq_layer > L)
			return 1;
		if (n->layer >= 0 && n->kind != K_DIR)
			return n->layer > L ? 1 : 2;
	}
	return 0;
}

static int
layer_err(struct flat *f, int L, const char *entry, struct mv_err *err,
          const char *why)
{
	return mv_err_set(err, MV_EXIT_FAIL, "image %s: layer %d (%s): %s: %s",
	                  f->im->path, L + 1, f->im->layers[L], entry, why);
}

static int
write_out(struct flat *f, const void *buf, size_t len, struct mv_err *err)
{
	if (archive_write_data(f->out, buf, len) != (la_ssize_t)len) {
		if (f->sink_failed)
			return -1;
		return mv_err_set(err, MV_EXIT_FAIL, "writing rootfs: %s",
		                  archive_error_string(f->out));
	}
	f->res->bytes += len;
	return 0;
}

/* A file's data.  The writer passes blocks straight to the sink (no
 * blocking), so a plain file's blocks go from the reader's buffer to the
 * sink with no copy; size_only writes zeros in place of skipped data. */
static int
copy_data(struct flat *f, struct archive *in, struct archive_entry *e, int L,
          const char *path, struct mv_err *err)
{
	static const char zeros[64 * 1024];
	const void *blk;
	size_t len;
	la_int64_t off, want = 0;
	int r;

	if (f->size_only) {
		uint64_t left = archive_entry_size(e) > 0
		                        ? (uint64_t)archive_entry_size(e) : 0;
		if (archive_read_data_skip(in) != ARCHIVE_OK)
			return layer_err(f, L, path, err, archive_error_string(in));
		for (; left > 0; left -= len) {
			len = left < sizeof(zeros) ? (size_t)left : sizeof(zeros);
			if (write_out(f, zeros, len, err) != 0)
				return -1;
		}
		return 0;
	}
	if (archive_entry_sparse_count(e) > 0) {
		char buf[64 * 1024];
		la_ssize_t n;
		while ((n = archive_read_data(in, buf, sizeof(buf))) > 0)
			if (write_out(f, buf, (size_t)n, err) != 0)
				return -1;
		return n < 0 ? layer_err(f, L, path, err, archive_error_string(in))
		             : 0;
	}
	while ((r = archive_read_data_block(in, &blk, &len, &off)) == ARCHIVE_OK) {
		if (off != want)
			return layer_err(f, L, path, err, "a hole in a plain file");
		if (write_out(f, blk, len, err) != 0)
			return -1;
		want += (la_int64_t)len;
	}
	if (r != ARCHIVE_EOF)
		return layer_err(f, L, path, err, archive_error_string(in));
	return 0;
}

static int
one_entry(struct flat *f, struct archive *in, struct archive_entry *e, int L,
          struct mv_err *err)
{
	char path[FLATTEN_PATH_LEN + 2], target[FLATTEN_PATH_LEN + 2];
	const char *raw = archive_entry_pathname(e), *base, *hl;
	struct archive_entry *o;
	struct node *n;
	enum kind kind;
	mode_t type = archive_entry_filetype(e);
	int h;

	if (raw == NULL || flatten_clean_path(raw, path, sizeof(path)) != 0)
		return layer_err(f, L, raw ? raw : "(no name)", err,
		                 "a '..' component, a control character or a "
		                 "name too long");
	if (path[0] == '\0')
		return 0; /* the root directory itself */
	base = strrchr(path, '/');
	base = base ? base + 1 : path;
	if (strncmp(base, ".wh.", 4) == 0) {
		/* whiteouts and opaque markers are instructions, not files */
		char *slash = strrchr(path, '/');
		if (strcmp(base, ".wh..wh..opq") == 0) {
			if (slash == NULL)
				return 0; /* the root: lower layers still count */
			*slash = '\0';
			if ((n = idx_get(&f->ix, path, err)) == NULL)
				return -1;
			if (n->opq_layer < L)
				n->opq_layer = L;
			return 0;
		}
		memmove((char *)base, base + 4, strlen(base + 4) + 1);
		if (base[0] == '\0')
			return layer_err(f, L, raw, err, "an empty whiteout");
		if ((n = idx_get(&f->ix, path, err)) == NULL)
			return -1;
		if (n->wh_layer < L)
			n->wh_layer = L;
		return 0;
	}
	h = hidden(f, path, L);
	if (h != 0) {
		if (h == 1)
			f->res->hidden++;
		else
			f->res->dropped++;
		return 0;
	}
	hl = archive_entry_hardlink(e);
	if (hl != NULL) {
		struct node *t;
		if (flatten_clean_path(hl, target, sizeof(target)) != 0 || !target[0])
			return layer_err(f, L, path, err, "a hard link to a '..' path");
		t = idx_find(&f->ix, target);
		if (t == NULL || t->layer != L || t->kind != K_FILE)
			return layer_err(f, L, path, err, "a hard link whose target is "
			                 "not a file written from the same layer");
		kind = K_HARDLINK;
	} else if (type == AE_IFREG) {
		kind = K_FILE;
	} else if (type == AE_IFDIR) {
		kind = K_DIR;
	} else if (type == AE_IFLNK) {
		kind = K_SYMLINK;
	} else {
		f->res->dropped++; /* devices, FIFOs, sockets */
		return 0;
	}
	if ((n = idx_get(&f->ix, path, err)) == NULL)
		return -1;
	n->layer = L;
	n->kind = kind;

	o = archive_entry_new();
	if (o == NULL)
		return mv_err_set(err, MV_EXIT_FAIL, "out of memory");
	archive_entry_set_pathname(o, path);
	archive_entry_set_uid(o, archive_entry_uid(e));
	archive_entry_set_gid(o, archive_entry_gid(e));
	archive_entry_set_mtime(o, f->sde, 0);
	switch (kind) {
	case K_HARDLINK:
		archive_entry_set_filetype(o, AE_IFREG);
		archive_entry_set_perm(o, archive_entry_perm(e) & 01777);
		archive_entry_set_hardlink(o, target);
		archive_entry_set_size(o, 0);
		break;
	case K_FILE:
		archive_entry_set_filetype(o, AE_IFREG);
		archive_entry_set_perm(o, archive_entry_perm(e) & 01777);
		archive_entry_set_size(o, archive_entry_size(e));
		break;
	case K_DIR:
		archive_entry_set_filetype(o, AE_IFDIR);
		archive_entry_set_perm(o, archive_entry_perm(e) & 01777);
		break;
	default:
		archive_entry_set_filetype(o, AE_IFLNK);
		archive_entry_set_perm(o, 0777);
		archive_entry_set_symlink(o, archive_entry_symlink(e)
		                                     ? archive_entry_symlink(e)
		                                     : "");
		break;
	}
	if (archive_write_header(f->out, o) != ARCHIVE_OK) {
		if (!f->sink_failed)
			mv_err_set(err, MV_EXIT_FAIL, "writing rootfs: %s: %s", path,
			           archive_error_string(f->out));
		archive_entry_free(o);
		return -1;
	}
	archive_entry_free(o);
	f->res->entries++;
	if (kind == K_FILE)
		return copy_data(f, in, e, L, path, err);
	return 0;
}

/* Position f->outer at layer L's entry and stream it. */
static int
read_layer(struct flat *f, int L, struct mv_err *err)
{
	struct archive *in = NULL;
	struct archive_entry *e;
	int r, rc = -1;

	f->outer = flatten_open_outer(f->im->path, err);
	if (f->outer == NULL)
		return -1;
	while ((r = archive_read_next_header(f->outer, &e)) == ARCHIVE_OK) {
		char name[FLATTEN_PATH_LEN + 2];
		if (flatten_clean_path(archive_entry_pathname(e), name, sizeof(name)) == 0 &&
		    strcmp(name, f->im->layers[L]) == 0 &&
		    archive_entry_filetype(e) == AE_IFREG)
			break;
	}
	if (r != ARCHIVE_OK) {
		mv_err_set(err, MV_EXIT_FAIL, "image %s: layer %s is not in the "
		           "archive", f->im->path, f->im->layers[L]);
		goto out;
	}
	in = archive_read_new();
	if (in == NULL) {
		mv_err_set(err, MV_EXIT_FAIL, "out of memory");
		goto out;
	}
	archive_read_support_format_tar(in);
	archive_read_support_filter_gzip(in);
	archive_read_support_filter_zstd(in);
	archive_read_support_filter_none(in);
	/* A layer stored as is in an uncompressed image is a range of the
	 * file: its data starts where the outer reader stopped. */
	f->len = 0;
	if (archive_filter_code(f->outer, 0) == ARCHIVE_FILTER_NONE &&
	    archive_entry_sparse_count(e) == 0 && archive_entry_size(e) >= 0 &&
	    archive_filter_bytes(f->outer, 0) >= 0) {
		f->off = (uint64_t)archive_filter_bytes(f->outer, 0);
		f->len = (uint64_t)archive_entry_size(e);
		f->pos = 0;
		archive_read_set_read_callback(in, range_read);
		archive_read_set_skip_callback(in, range_skip);
	} else {
		archive_read_set_read_callback(in, outer_read);
	}
	archive_read_set_callback_data(in, f);
	if (archive_read_open1(in) != ARCHIVE_OK) {
		layer_err(f, L, "(open)", err, archive_error_string(in));
		goto out;
	}
	while ((r = archive_read_next_header(in, &e)) == ARCHIVE_OK)
		if (one_entry(f, in, e, L, err) != 0)
			goto out;
	if (r != ARCHIVE_EOF) {
		layer_err(f, L, "(reading)", err, archive_error_string(in));
		goto out;
	}
	rc = 0;
out:
	if (in != NULL)
		archive_read_free(in);
	archive_read_free(f->outer);
	f->outer = NULL;
	return rc;
}

int
flatten_stream(const char *image, int64_t source_date_epoch, bool size_only,
               flatten_sink_fn sink, void *ud, struct mv_err *sink_err,
               char **config, struct flatten_result *res, struct mv_err *err)
{
	struct flat_image im;
	struct flat *f = NULL;
	char *cfg = NULL;
	int rc = -1;

	memset(res, 0, sizeof(*res));
	if (config != NULL)
		*config = NULL;
	if (flatten_image_load(&im, image, err) != 0)
		goto out;
	if (flatten_config_text(&im, &cfg, res, err) != 0)
		goto out;
	f = calloc(1, sizeof(*f));
	if (f == NULL) {
		mv_err_set(err, MV_EXIT_FAIL, "out of memory");
		goto out;
	}
	f->im = &im;
	f->sde = source_date_epoch;
	f->size_only = size_only;
	f->sink = sink;
	f->sink_ud = ud;
	f->sink_err = sink_err;
	f->res = res;
	f->fd = open(image, O_RDONLY | O_CLOEXEC);
	if (f->fd < 0) {
		mv_err_sys(err, errno, "image %s", image);
		goto out;
	}
	posix_fadvise(f->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	f->out = archive_write_new();
	if (f->out == NULL) {
		mv_err_set(err, MV_EXIT_FAIL, "out of memory");
		goto out;
	}
	archive_write_set_format_pax_restricted(f->out);
	archive_write_add_filter_none(f->out);
	/* No blocking: every block goes to the sink as it comes (no copy),
	 * and the stream ends right after the end-of-archive marker. */
	archive_write_set_bytes_per_block(f->out, 0);
	archive_write_set_bytes_in_last_block(f->out, 1);
	if (archive_write_open2(f->out, f, NULL, sink_write, NULL, NULL) !=
	    ARCHIVE_OK) {
		mv_err_set(err, MV_EXIT_FAIL, "rootfs: %s",
		           archive_error_string(f->out));
		goto out;
	}
	res->layers = im.n_layers;
	for (size_t i = im.n_layers; i-- > 0;)
		if (read_layer(f, (int)i, err) != 0)
			goto out;
	if (archive_write_close(f->out) != ARCHIVE_OK) {
		if (!f->sink_failed)
			mv_err_set(err, MV_EXIT_FAIL, "rootfs: %s",
			           archive_error_string(f->out));
		goto out;
	}
	rc = 0;
out:
	if (rc != 0 && f != NULL && f->sink_failed && sink_err != err)
		*err = *sink_err;
	if (f != NULL) {
		if (f->out != NULL)
			archive_write_free(f->out);
		if (f->fd >= 0)
			close(f->fd);
		idx_free(&f->ix);
		free(f);
	}
	flatten_image_free(&im);
	if (rc == 0 && config != NULL)
		*config = cfg;
	else
		free(cfg);
	return rc;
}

struct file_sink {
	int fd;
	const char *path;
	struct mv_err err;
};

static int
file_sink(void *ud, const void *buf, size_t len)
{
	struct file_sink *s = ud;
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(s->fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return mv_err_sys(&s->err, errno, "%s", s->path);
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int
flatten_image(const char *image, const char *rootfs_out,
              const char *config_out, int64_t source_date_epoch,
              struct flatten_result *res, struct mv_err *err)
{
	struct file_sink s = {.path = rootfs_out};
	char *config = NULL;
	int rc;

	mv_err_clear(&s.err);
	s.fd = open(rootfs_out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (s.fd < 0) {
		memset(res, 0, sizeof(*res));
		return mv_err_sys(err, errno, "%s", rootfs_out);
	}
	(void)fchmod(s.fd, 0644); /* whatever the umask */
	rc = flatten_stream(image, source_date_epoch, false, file_sink, &s,
	                    &s.err, &config, res, err);
	if (close(s.fd) != 0 && rc == 0)
		rc = mv_err_sys(err, errno, "%s", rootfs_out);
	if (rc == 0)
		rc = mv_write_file_atomic(config_out, config, strlen(config), 0644,
		                          err);
	free(config);
	if (rc != 0)
		unlink(rootfs_out);
	return rc;
}
