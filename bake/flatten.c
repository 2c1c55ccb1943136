/* bake/flatten.c - a container image as one root filesystem tar (see
 * flatten.h). */
#include "bake/flatten.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/atomic.h"
#include "core/util.h"

#define SMALL_MAX (1u << 20)      /* a JSON document of the image */
#define SMALL_TOTAL (16u << 20)   /* all of them */
#define PATH_MAX_LEN 4096u
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

/*--- paths ---------------------------------------------------------------*/

/* A layer's entry name made relative and clean ("./a//b/" -> "a/b"); ""
 * is the root itself.  -1 for ".." components, control characters or a
 * name too long. */
static int
clean_path(const char *in, char *out, size_t out_len)
{
	size_t o = 0;
	const char *p = in;

	while (*p) {
		const char *e;
		size_t n;
		while (*p == '/')
			p++;
		if (*p == '\0')
			break;
		e = strchr(p, '/');
		n = e ? (size_t)(e - p) : strlen(p);
		if (n == 1 && p[0] == '.') {
			p += n;
			continue;
		}
		if (n == 2 && p[0] == '.' && p[1] == '.')
			return -1;
		for (size_t i = 0; i < n; i++)
			if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f)
				return -1;
		if (o + n + 2 > out_len || o + n + 1 > PATH_MAX_LEN)
			return -1;
		if (o > 0)
			out[o++] = '/';
		memcpy(out + o, p, n);
		o += n;
		p += n;
	}
	out[o] = '\0';
	return 0;
}

/*--- the image's small files (manifests, configs) ------------------------*/

struct small {
	char *name;
	char *data;
	size_t len;
};

struct image {
	const char *path;
	struct small *files;
	size_t n, total;
	char **layers; /* entry names in the outer archive, bottom first */
	size_t n_layers;
	json_t *config;
};

static struct archive *
open_outer(const char *path, struct mv_err *err)
{
	struct archive *a = archive_read_new();

	if (a == NULL) {
		mv_err_set(err, MV_EXIT_FAIL, "out of memory");
		return NULL;
	}
	archive_read_support_format_tar(a);
	archive_read_support_filter_gzip(a);
	archive_read_support_filter_zstd(a);
	archive_read_support_filter_none(a);
	if (archive_read_open_filename(a, path, 64 * 1024) != ARCHIVE_OK) {
		mv_err_set(err, MV_EXIT_FAIL, "image %s: %s", path,
		           archive_error_string(a));
		archive_read_free(a);
		return NULL;
	}
	return a;
}

static int
load_small(struct image *im, struct mv_err *err)
{
	struct archive *a = open_outer(im->path, err);
	struct archive_entry *e;
	int r;

	if (a == NULL)
		return -1;
	while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
		char name[PATH_MAX_LEN + 2];
		int64_t size = archive_entry_size(e);
		struct small *s;
		size_t len;

		if (archive_entry_filetype(e) != AE_IFREG ||
		    clean_path(archive_entry_pathname(e), name, sizeof(name)) != 0)
			continue;
		len = strlen(name);
		if (!((len > 5 && strcmp(name + len - 5, ".json") == 0) ||
		      strncmp(name, "blobs/", 6) == 0))
			continue;
		if (size <= 0 || (uint64_t)size > SMALL_MAX)
			continue; /* a layer blob */
		s = realloc(im->files, (im->n + 1) * sizeof(*s));
		if (s == NULL)
			break;
		im->files = s;
		s = &im->files[im->n];
		s->name = strdup(name);
		s->data = malloc((size_t)size + 1);
		if (s->name == NULL || s->data == NULL) {
			free(s->name);
			free(s->data);
			break;
		}
		s->len = 0;
		while (s->len < (size_t)size) {
			la_ssize_t got = archive_read_data(a, s->data + s->len,
			                                   (size_t)size - s->len);
			if (got <= 0)
				break;
			s->len += (size_t)got;
		}
		s->data[s->len] = '\0';
		/* a small layer blob is no JSON document: not kept */
		if (s->len == 0 || (s->data[0] != '{' && s->data[0] != '[')) {
			free(s->name);
			free(s->data);
			continue;
		}
		if (im->total + s->len > SMALL_TOTAL) {
			free(s->name);
			free(s->data);
			archive_read_free(a);
			return mv_err_set(err, MV_EXIT_FAIL, "image %s: more than %u "
			                  "bytes of manifests and configs", im->path,
			                  SMALL_TOTAL);
		}
		im->n++;
		im->total += s->len;
	}
	if (r != ARCHIVE_EOF) {
		mv_err_set(err, MV_EXIT_FAIL, "image %s: %s", im->path,
		           r == ARCHIVE_OK ? "out of memory"
		                           : archive_error_string(a));
		archive_read_free(a);
		return -1;
	}
	archive_read_free(a);
	return 0;
}

static const struct small *
find_small(const struct image *im, const char *name)
{
	for (size_t i = 0; i < im->n; i++)
		if (strcmp(im->files[i].name, name) == 0)
			return &im->files[i];
	return NULL;
}

static json_t *
small_json(const struct image *im, const char *name, struct mv_err *err)
{
	const struct small *s = find_small(im, name);
	json_error_t je;
	json_t *j;

	if (s == NULL) {
		mv_err_set(err, MV_EXIT_FAIL, "image %s: no %s (or larger than "
		           "%u bytes)", im->path, name, SMALL_MAX);
		return NULL;
	}
	j = json_loadb(s->data, s->len, 0, &je);
	if (j == NULL)
		mv_err_set(err, MV_EXIT_FAIL, "image %s: %s:%d: %s", im->path, name,
		           je.line, je.text);
	return j;
}

/* "sha256:<64 hex>" -> "blobs/sha256/<hex>" */
static char *
blob_path(const json_t *desc)
{
	const char *d = json_string_value(json_object_get(desc, "digest"));

	if (d == NULL || strncmp(d, "sha256:", 7) != 0 || strlen(d) != 71)
		return NULL;
	for (const char *p = d + 7; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return NULL;
	return mv_strfmt("blobs/sha256/%s", d + 7);
}

static int
add_layer(struct image *im, const char *name)
{
	char **l = realloc(im->layers, (im->n_layers + 1) * sizeof(*l));

	if (l == NULL)
		return -1;
	im->layers = l;
	if ((l[im->n_layers] = strdup(name)) == NULL)
		return -1;
	im->n_layers++;
	return 0;
}

static int
read_docker(struct image *im, struct mv_err *err)
{
	json_t *m = small_json(im, "manifest.json", err), *img, *layers, *v;
	const char *cfg;
	char clean[PATH_MAX_LEN + 2];
	size_t i;

	if (m == NULL)
		return -1;
	if (!json_is_array(m) || json_array_size(m) != 1) {
		json_decref(m);
		return mv_err_set(err, MV_EXIT_FAIL, "image %s: manifest.json must "
		                  "list exactly one image (docker save one tag)",
		                  im->path);
	}
	img = json_array_get(m, 0);
	cfg = json_string_value(json_object_get(img, "Config"));
	layers = json_object_get(img, "Layers");
	if (cfg == NULL || !json_is_array(layers) ||
	    clean_path(cfg, clean, sizeof(clean)) != 0) {
		json_decref(m);
		return mv_err_set(err, MV_EXIT_FAIL, "image %s: manifest.json needs "
		                  "Config and Layers", im->path);
	}
	im->config = small_json(im, clean, err);
	json_array_foreach(layers, i, v) {
		const char *l = json_string_value(v);
		if (l == NULL || clean_path(l, clean, sizeof(clean)) != 0 ||
		    add_layer(im, clean) != 0) {
			json_decref(m);
			return mv_err_set(err, MV_EXIT_FAIL, "image %s: Layers[%zu] is "
			                  "not a clean path", im->path, i);
		}
	}
	json_decref(m);
	return im->config ? 0 : -1;
}

static int
read_oci(struct image *im, struct mv_err *err)
{
	json_t *idx = small_json(im, "index.json", err), *man = NULL, *v;
	char *p = NULL;
	size_t i;
	int rc = -1;

	if (idx == NULL)
		return -1;
	/* index -> manifest, through at most one nested index (docker 25's
	 * `docker save` writes one) */
	for (int depth = 0; depth < 3; depth++) {
		json_t *ms = json_object_get(idx, "manifests");
		const char *mt;
		if (!json_is_array(ms) || json_array_size(ms) != 1 ||
		    (p = blob_path(json_array_get(ms, 0))) == NULL) {
			mv_err_set(err, MV_EXIT_FAIL, "image %s: the index must name "
			           "exactly one manifest by sha256", im->path);
			goto out;
		}
		man = small_json(im, p, err);
		free(p);
		p = NULL;
		if (man == NULL)
			goto out;
		mt = json_string_value(json_object_get(man, "mediaType"));
		if (mt == NULL || strstr(mt, "index") == NULL)
			break;
		json_decref(idx);
		idx = man;
		man = NULL;
	}
	if (man == NULL || !json_is_array(json_object_get(man, "layers"))) {
		mv_err_set(err, MV_EXIT_FAIL, "image %s: no image manifest with "
		           "layers", im->path);
		goto out;
	}
	if ((p = blob_path(json_object_get(man, "config"))) == NULL) {
		mv_err_set(err, MV_EXIT_FAIL, "image %s: the manifest's config has "
		           "no sha256 digest", im->path);
		goto out;
	}
	if ((im->config = small_json(im, p, err)) == NULL)
		goto out;
	free(p);
	p = NULL;
	json_array_foreach(json_object_get(man, "layers"), i, v) {
		if ((p = blob_path(v)) == NULL || add_layer(im, p) != 0) {
			mv_err_set(err, MV_EXIT_FAIL, "image %s: layers[%zu] has no "
			           "sha256 digest", im->path, i);
			goto out;
		}
		free(p);
		p = NULL;
	}
	rc = 0;
out:
	free(p);
	json_decref(man);
	json_decref(idx);
	return rc;
}

static void
image_free(struct image *im)
{
	for (size_t i = 0; i < im->n; i++) {
		free(im->files[i].name);
		free(im->files[i].data);
	}
	free(im->files);
	for (size_t i = 0; i < im->n_layers; i++)
		free(im->layers[i]);
	free(im->layers);
	json_decref(im->config);
}

/*--- config.json ---------------------------------------------------------*/

static json_t *
str_array(const json_t *v)
{
	json_t *out = json_array(), *x;
	size_t i;

	json_array_foreach(v, i, x)
		if (json_is_string(x))
			json_array_append_new(out, json_string(json_string_value(x)));
	return out;
}

/* config.json's text (malloc'd) from the image's config. */
static int
config_text(const struct image *im, char **out, struct flatten_result *res,
            struct mv_err *err)
{
	const json_t *c = json_object_get(im->config, "config");
	json_t *o = json_object(), *ports = json_array(), *pv;
	const char *k, *user;
	char *text;

	*out = NULL;
	json_object_set_new(o, "entrypoint",
	                    str_array(json_object_get(c, "Entrypoint")));
	json_object_set_new(o, "cmd", str_array(json_object_get(c, "Cmd")));
	json_object_set_new(o, "env", str_array(json_object_get(c, "Env")));
	json_object_set_new(o, "working_dir", json_string(
	        json_string_value(json_object_get(c, "WorkingDir"))
	                ? json_string_value(json_object_get(c, "WorkingDir"))
	                : ""));
	user = json_string_value(json_object_get(c, "User"));
	json_object_set_new(o, "user", json_string(user ? user : ""));
	snprintf(res->user, sizeof(res->user), "%s", user ? user : "");
	json_object_foreach((json_t *)json_object_get(c, "ExposedPorts"), k, pv)
		json_array_append_new(ports, json_string(k));
	json_object_set_new(o, "exposed_ports", ports);
	if (json_array_size(json_object_get(o, "entrypoint")) +
	        json_array_size(json_object_get(o, "cmd")) == 0) {
		json_decref(o);
		return mv_err_set(err, MV_EXIT_FAIL, "image %s: the config has "
		                  "neither Entrypoint nor Cmd: nothing to run",
		                  im->path);
	}
	text = json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS);
	json_decref(o);
	if (text != NULL)
		*out = mv_strfmt("%s\n", text);
	free(text);
	if (*out == NULL)
		return mv_err_set(err, MV_EXIT_FAIL, "out of memory");
	return 0;
}

/*--- one layer -----------------------------------------------------------*/

struct flat {
	struct image *im;
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
	char path[PATH_MAX_LEN + 2], target[PATH_MAX_LEN + 2];
	const char *raw = archive_entry_pathname(e), *base, *hl;
	struct archive_entry *o;
	struct node *n;
	enum kind kind;
	mode_t type = archive_entry_filetype(e);
	int h;

	if (raw == NULL || clean_path(raw, path, sizeof(path)) != 0)
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
		if (clean_path(hl, target, sizeof(target)) != 0 || !target[0])
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

	f->outer = open_outer(f->im->path, err);
	if (f->outer == NULL)
		return -1;
	while ((r = archive_read_next_header(f->outer, &e)) == ARCHIVE_OK) {
		char name[PATH_MAX_LEN + 2];
		if (clean_path(archive_entry_pathname(e), name, sizeof(name)) == 0 &&
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
	struct image im = {0};
	struct flat *f = NULL;
	char *cfg = NULL;
	int rc = -1;

	memset(res, 0, sizeof(*res));
	if (config != NULL)
		*config = NULL;
	im.path = image;
	if (load_small(&im, err) != 0)
		goto out;
	if (find_small(&im, "manifest.json") != NULL) {
		if (read_docker(&im, err) != 0)
			goto out;
	} else if (find_small(&im, "index.json") != NULL) {
		if (read_oci(&im, err) != 0)
			goto out;
	} else {
		mv_err_set(err, MV_EXIT_FAIL, "image %s: neither manifest.json "
		           "(docker save) nor index.json (OCI)", image);
		goto out;
	}
	if (im.n_layers == 0 || im.n_layers > FLATTEN_MAX_LAYERS) {
		mv_err_set(err, MV_EXIT_FAIL, "image %s: %zu layers (1..%u)", image,
		           im.n_layers, FLATTEN_MAX_LAYERS);
		goto out;
	}
	if (config_text(&im, &cfg, res, err) != 0)
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
	image_free(&im);
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
