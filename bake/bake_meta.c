/* bake/bake_meta.c - entries, MANIFEST.json, SHA256SUMS and tar headers
 * (see bake_meta.h). */
#include "bake/bake_meta.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bake/bundle_private.h"

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

void
bake_free_entries(struct bake_entry *ents, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(ents[i].path);
		free(ents[i].src);
	}
	free(ents);
}

int
bake_collect_entries(const struct bundle_spec *spec, const char *stage,
                     uint64_t rootfs_size, struct bake_entry **out,
                     size_t *n_out, struct mv_err *err)
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
		if (add_entry(ents, &n, "image/rootfs.tar", spec->image, err) != 0)
			goto fail;
		ents[n - 1].flat = true;
		ents[n - 1].size = rootfs_size;
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
	bake_free_entries(ents, n);
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
char *
bake_build_manifest(const struct bundle_spec *spec,
                    const struct bake_entry *ents, size_t n,
                    const struct bake_options *opt)
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

int
bake_write_header(struct archive *a, const char *path, uint64_t size,
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

bool
bake_same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino &&
	       a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	       a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	       a->st_ctim.tv_sec == b->st_ctim.tv_sec &&
	       a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/* SHA256SUMS: MANIFEST.json first, then every entry (strcmp order). */
char *
bake_build_sums(const char *manifest, const struct bake_entry *ents, size_t n)
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

int
bake_write_meta_entries(struct archive *a, const char *manifest,
                        const char *sums, int64_t sde, struct mv_err *err)
{
	if (bake_write_header(a, BUNDLE_MANIFEST, strlen(manifest), 0644, sde,
	                      err) != 0)
		return -1;
	if (archive_write_data(a, manifest, strlen(manifest)) < 0)
		return mv_err_set(err, MV_EXIT_FAIL, "%s", archive_error_string(a));
	if (bake_write_header(a, BUNDLE_SUMS, strlen(sums), 0644, sde, err) != 0)
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
int
bake_meta_tar(const char *manifest, const char *sums, int64_t sde, char **out,
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
	    bake_write_meta_entries(a, manifest, sums, sde, err) != 0 ||
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

/* After the header, a sink that drops what libarchive writes. */
struct hdrbuf {
	struct membuf m;
	bool header_done;
};

static la_ssize_t
hdr_write(struct archive *a, void *ud, const void *buf, size_t len)
{
	struct hdrbuf *h = ud;

	if (h->header_done)
		return (la_ssize_t)len;
	return mem_write(a, &h->m, buf, len);
}

int
bake_header_tar(const char *path, uint64_t size, unsigned mode, int64_t sde,
                char **out, size_t *len, struct mv_err *err)
{
	struct archive *a = archive_write_new();
	struct hdrbuf h = {0};
	int rc = -1;

	*out = NULL;
	if (a == NULL)
		return mv_err_set(err, MV_EXIT_FAIL, "out of memory");
	archive_write_set_format_pax_restricted(a);
	archive_write_add_filter_none(a);
	archive_write_set_bytes_per_block(a, 0);
	if (archive_write_open2(a, &h, NULL, hdr_write, NULL, NULL) != ARCHIVE_OK) {
		mv_err_set(err, MV_EXIT_FAIL, "%s", archive_error_string(a));
		goto out;
	}
	if (bake_write_header(a, path, size, mode, sde, err) != 0)
		goto out;
	h.header_done = true;
	if (h.m.len % 512 != 0) {
		mv_err_set(err, MV_EXIT_FAIL, "internal: header not block aligned");
		goto out;
	}
	/* No data follows through libarchive: freeing the writer pads the
	 * entry with zeros, which hdr_write drops (about 20 ms per GiB here;
	 * archive_write_fail would skip them but leaks libarchive's state). */
	*out = h.m.data;
	*len = h.m.len;
	h.m.data = NULL;
	rc = 0;
out:
	archive_write_free(a);
	free(h.m.data);
	return rc;
}
