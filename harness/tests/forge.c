/* harness/tests/forge.c - see forge.h. */
#include "forge.h"

#include <archive.h>
#include <archive_entry.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "core/sha256.h"
#include "testutil.h"

struct item {
	char *path;
	char *data;
	size_t len;
	unsigned mode;
};

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
cmp_entry(const void *a, const void *b)
{
	return strcmp(((const struct forge_entry *)a)->path,
	              ((const struct forge_entry *)b)->path);
}

static void
add_file(struct archive *a, const char *path, const char *data, size_t len,
         unsigned mode)
{
	struct archive_entry *e = archive_entry_new();

	archive_entry_set_pathname(e, path);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, mode);
	archive_entry_set_size(e, (la_int64_t)len);
	archive_entry_set_uname(e, "root");
	archive_entry_set_gname(e, "root");
	assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
	if (len > 0)
		assert_int_equal(archive_write_data(a, data, len), (la_ssize_t)len);
	archive_entry_free(e);
}

static void
add_special(struct archive *a, const struct forge_entry *f)
{
	struct archive_entry *e = archive_entry_new();
	size_t len = f->data ? strlen(f->data) : 0;

	archive_entry_set_pathname(e, f->path);
	archive_entry_set_perm(e, f->mode ? f->mode : 0644);
	archive_entry_set_uname(e, "root");
	archive_entry_set_gname(e, "root");
	switch (f->type) {
	case FORGE_DIR:
		archive_entry_set_filetype(e, AE_IFDIR);
		break;
	case FORGE_SYMLINK:
		archive_entry_set_filetype(e, AE_IFLNK);
		archive_entry_set_symlink(e, f->link);
		break;
	case FORGE_HARDLINK:
		archive_entry_set_filetype(e, AE_IFREG);
		archive_entry_set_hardlink(e, f->link);
		len = 0;
		break;
	case FORGE_CHR:
		archive_entry_set_filetype(e, AE_IFCHR);
		archive_entry_set_rdev(e, 0x0103); /* like /dev/null */
		break;
	case FORGE_BLK:
		archive_entry_set_filetype(e, AE_IFBLK);
		archive_entry_set_rdev(e, 0x0800);
		break;
	case FORGE_FIFO:
		archive_entry_set_filetype(e, AE_IFIFO);
		break;
	default:
		archive_entry_set_filetype(e, AE_IFREG);
	}
	if (f->type != FORGE_FILE && f->type != FORGE_HARDLINK)
		len = 0;
	archive_entry_set_size(e, (la_int64_t)len);
	assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
	if (len > 0)
		archive_write_data(a, f->data, len);
	archive_entry_free(e);
}

struct membuf {
	char *data;
	size_t len, cap;
};

static la_ssize_t
mem_write(struct archive *a, void *ud, const void *buf, size_t len)
{
	struct membuf *m = ud;

	(void)a;
	if (m->len + len > m->cap) {
		m->cap = (m->len + len) * 2;
		m->data = realloc(m->data, m->cap);
		assert_non_null(m->data);
	}
	memcpy(m->data + m->len, buf, len);
	m->len += len;
	return (la_ssize_t)len;
}

static struct archive *
open_writer(struct membuf *m, const char *compress)
{
	struct archive *a = archive_write_new();

	(void)compress; /* compressed at the end, see finish() */
	archive_write_set_format_pax_restricted(a);
	archive_write_add_filter_none(a);
	archive_write_set_bytes_in_last_block(a, 1);
	assert_int_equal(archive_write_open2(a, m, NULL, mem_write, NULL, NULL),
	                 ARCHIVE_OK);
	return a;
}

struct forge_opts forge_opts;

static void
mem_append(struct membuf *m, const char *data, size_t len)
{
	if (len > 0)
		mem_write(NULL, m, data, len);
}

/* gzip through libarchive's raw writer (no zlib of our own). */
static void
gzip_buf(const struct membuf *in, struct membuf *out)
{
	struct archive *a = archive_write_new();
	struct archive_entry *e = archive_entry_new();

	archive_write_set_format_raw(a);
	archive_write_add_filter_gzip(a);
	archive_write_set_bytes_in_last_block(a, 1);
	assert_int_equal(archive_write_open2(a, out, NULL, mem_write, NULL, NULL),
	                 ARCHIVE_OK);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_pathname(e, "data");
	assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
	assert_int_equal(archive_write_data(a, in->data, in->len),
	                 (la_ssize_t)in->len);
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
	archive_entry_free(e);
}

static void
finish(struct archive *a, struct membuf *m, const char *out,
       const char *compress)
{
	struct membuf z = {0};

	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
	mem_append(m, forge_opts.after_tar, forge_opts.after_tar_len);
	if (!strcmp(compress, "zstd")) {
		size_t bound = ZSTD_compressBound(m->len);
		z.data = malloc(bound);
		z.len = ZSTD_compress(z.data, bound, m->data, m->len, 3);
		assert_false(ZSTD_isError(z.len));
		z.cap = bound;
	} else if (!strcmp(compress, "gzip")) {
		gzip_buf(m, &z);
	} else {
		z = *m;
		m->data = NULL;
	}
	mem_append(&z, forge_opts.after_file, forge_opts.after_file_len);
	tu_write_bytes(out, z.data, z.len);
	free(z.data);
	free(m->data);
}

void
forge_bundle(const char *out, const char *compress,
             const struct forge_entry *ents, size_t n)
{
	static const char side[] = "!<arch>\nnot really a deb\n";
	static const char img[] = "image bytes\n";
	json_t *m = json_object(), *files = json_array();
	char sha[MV_SHA256_HEX], side_sha[MV_SHA256_HEX], img_sha[MV_SHA256_HEX];
	char **lines = calloc(n + 3, sizeof(char *));
	size_t n_lines = 0;
	struct membuf mb = {0};
	struct archive *a;
	char *manifest, *sums;
	size_t sums_len = 0;

	mv_sha256_buf_hex(side, strlen(side), side_sha);
	mv_sha256_buf_hex(img, strlen(img), img_sha);
	/* files[] must be sorted: collect "path\tsize\tsha\tmode" and sort. */
	lines[n_lines++] = tu_fmt("image/image.tar\t%zu\t%s\t0644", strlen(img),
	                          img_sha);
	lines[n_lines++] = tu_fmt("sidecar/istio-sidecar.deb\t%zu\t%s\t0644",
	                          strlen(side), side_sha);
	for (size_t i = 0; i < n; i++) {
		const struct forge_entry *f = &ents[i];
		size_t len = f->data ? strlen(f->data) : 0;
		if (f->unlisted)
			continue;
		mv_sha256_buf_hex(f->data ? f->data : "", len, sha);
		lines[n_lines++] = tu_fmt(
			"%s\t%lld\t%s\t%s", f->listed_path ? f->listed_path : f->path,
			f->listed_size > 0 ? f->listed_size
			                                           : (long long)len,
			f->listed_sha ? f->listed_sha : sha,
			(f->mode & 0111) ? "0755" : "0644");
	}
	qsort(lines, n_lines, sizeof(char *), cmp_str);
	for (size_t i = 0; i < n_lines; i++) {
		char *p = lines[i], *t1 = strchr(p, '\t'), *t2 = strchr(t1 + 1, '\t');
		char *t3 = strchr(t2 + 1, '\t');
		json_t *fo = json_object();
		*t1 = *t2 = *t3 = '\0';
		json_object_set_new(fo, "path", json_string(p));
		json_object_set_new(fo, "size", json_integer(atoll(t1 + 1)));
		json_object_set_new(fo, "sha256", json_string(t2 + 1));
		json_object_set_new(fo, "mode", json_string(t3 + 1));
		json_array_append_new(files, fo);
	}
	json_object_set_new(m, "format", json_string("meshvm-bundle/1"));
	json_object_set_new(m, "service",
	                    json_pack("{s:s,s:s,s:i,s:s}", "name", "svc",
	                              "namespace", "default", "port", 3550,
	                              "protocol", "grpc"));
	json_object_set_new(m, "sidecar",
	                    json_pack("{s:s,s:s,s:s,s:i,s:s}", "path",
	                              "sidecar/istio-sidecar.deb", "format", "deb",
	                              "version", "1", "size", (int)strlen(side),
	                              "sha256", side_sha));
	json_object_set_new(m, "image",
	                    json_pack("{s:s,s:s,s:i,s:s}", "path", "image/image.tar",
	                              "format", "docker-archive", "size",
	                              (int)strlen(img), "sha256", img_sha));
	json_object_set_new(m, "files", files);
	json_object_set_new(m, "source_date_epoch", json_integer(0));
	if (forge_opts.manifest_patch != NULL) {
		json_error_t je;
		json_t *patch = json_loads(forge_opts.manifest_patch, 0, &je);
		assert_non_null(patch);
		json_object_update_recursive(m, patch);
		json_decref(patch);
	}
	manifest = json_dumps(m, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(m);
	mv_sha256_buf_hex(manifest, strlen(manifest), sha);
	sums = tu_fmt("%s  MANIFEST.json\n", sha);
	sums_len = strlen(sums);
	{
		/* SHA256SUMS lists every file entry in order */
		json_error_t je;
		json_t *mm = json_loads(manifest, 0, &je), *fo;
		size_t i;
		json_array_foreach(json_object_get(mm, "files"), i, fo) {
			char *line = tu_fmt("%s  %s\n",
			                    json_string_value(json_object_get(fo, "sha256")),
			                    json_string_value(json_object_get(fo, "path")));
			sums = realloc(sums, sums_len + strlen(line) + 1);
			memcpy(sums + sums_len, line, strlen(line) + 1);
			sums_len += strlen(line);
			free(line);
		}
		json_decref(mm);
	}
	a = open_writer(&mb, compress);
	add_file(a, "MANIFEST.json", manifest, strlen(manifest), 0644);
	add_file(a, "SHA256SUMS", sums, sums_len, 0644);
	if (forge_opts.sorted) {
		/* every entry in strcmp order, the forge's own included */
		struct forge_entry *all = calloc(n + 2, sizeof(*all));
		all[0].path = "image/image.tar";
		all[0].data = img;
		all[1].path = "sidecar/istio-sidecar.deb";
		all[1].data = side;
		memcpy(all + 2, ents, n * sizeof(*ents));
		qsort(all, n + 2, sizeof(*all), cmp_entry);
		for (size_t i = 0; i < n + 2; i++)
			add_special(a, &all[i]);
		free(all);
	} else {
		add_file(a, "image/image.tar", img, strlen(img), 0644);
		add_file(a, "sidecar/istio-sidecar.deb", side, strlen(side), 0644);
		for (size_t i = 0; i < n; i++)
			add_special(a, &ents[i]);
	}
	finish(a, &mb, out, compress);
	for (size_t i = 0; i < n_lines; i++)
		free(lines[i]);
	free(lines);
	free(manifest);
	free(sums);
}

void
forge_rewrite(const char *in, const char *out, const char *const *ops)
{
	struct archive *r = archive_read_new(), *w;
	struct archive_entry *e;
	struct item *items = NULL;
	size_t n = 0;
	struct membuf mb = {0};

	archive_read_support_format_tar(r);
	archive_read_support_filter_all(r);
	assert_int_equal(archive_read_open_filename(r, in, 65536), ARCHIVE_OK);
	while (archive_read_next_header(r, &e) == ARCHIVE_OK) {
		size_t len = (size_t)archive_entry_size(e);
		items = realloc(items, (n + 1) * sizeof(*items));
		items[n].path = strdup(archive_entry_pathname(e));
		items[n].mode = archive_entry_perm(e);
		items[n].len = len;
		items[n].data = malloc(len + 1);
		assert_int_equal(archive_read_data(r, items[n].data, len),
		                 (la_ssize_t)len);
		n++;
	}
	archive_read_free(r);
	w = open_writer(&mb, "none");
	for (const char *const *op = ops; *op; op++) {
		if (!strncmp(*op, "first:", 6)) {
			for (size_t i = 0; i < n; i++)
				if (!strcmp(items[i].path, *op + 6)) {
					struct item t = items[i];
					memmove(items + 1, items, i * sizeof(*items));
					items[0] = t;
				}
		}
	}
	for (size_t i = 0; i < n; i++) {
		const char *path = items[i].path;
		bool drop = false, dup = false;
		char *renamed = NULL;
		for (const char *const *op = ops; *op; op++) {
			if (!strncmp(*op, "drop:", 5) && !strcmp(*op + 5, path))
				drop = true;
			if (!strncmp(*op, "dup:", 4) && !strcmp(*op + 4, path))
				dup = true;
			if (!strncmp(*op, "rename:", 7)) {
				const char *from = *op + 7, *colon = strchr(from, ':');
				if (strlen(path) == (size_t)(colon - from) &&
				    !strncmp(path, from, (size_t)(colon - from)))
					renamed = strdup(colon + 1);
			}
		}
		if (!drop) {
			add_file(w, renamed ? renamed : path, items[i].data,
			         items[i].len, items[i].mode);
			if (dup)
				add_file(w, path, items[i].data, items[i].len,
				         items[i].mode);
		}
		free(renamed);
	}
	for (const char *const *op = ops; *op; op++)
		if (!strncmp(*op, "append:", 7)) {
			char *p = strdup(*op + 7), *colon = strchr(p, ':');
			*colon = '\0';
			add_file(w, p, colon + 1, strlen(colon + 1), 0644);
			free(p);
		}
	finish(w, &mb, out, "none");
	for (size_t i = 0; i < n; i++) {
		free(items[i].path);
		free(items[i].data);
	}
	free(items);
}
