/* bake/pkg.c - what bake needs to know about its inputs: the sidecar
 * package's kind and version, the image archive's kind. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bake/bundle_private.h"

#define CONTROL_MAX (16u << 20)

/*--- deb -----------------------------------------------------------------*/

/* Value of field `name` in a deb822 control paragraph, malloc'd. */
static char *
control_field(const char *ctl, const char *name)
{
	size_t n = strlen(name);
	const char *p = ctl;

	while (p && *p) {
		if (strncmp(p, name, n) == 0 && p[n] == ':') {
			const char *v = p + n + 1, *e;
			while (*v == ' ' || *v == '\t')
				v++;
			e = strchr(v, '\n');
			if (e == NULL)
				e = v + strlen(v);
			while (e > v && (e[-1] == ' ' || e[-1] == '\r'))
				e--;
			return strndup(v, (size_t)(e - v));
		}
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return NULL;
}

static char *
read_entry(struct archive *a, size_t max, size_t *len)
{
	size_t cap = 65536, n = 0;
	char *buf = malloc(cap + 1);

	if (buf == NULL)
		return NULL;
	for (;;) {
		ssize_t r;
		if (n == cap) {
			char *nb;
			if (cap >= max) {
				free(buf);
				return NULL;
			}
			cap *= 2;
			nb = realloc(buf, cap + 1);
			if (nb == NULL) {
				free(buf);
				return NULL;
			}
			buf = nb;
		}
		r = archive_read_data(a, buf + n, cap - n);
		if (r < 0) {
			free(buf);
			return NULL;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	buf[n] = '\0';
	*len = n;
	return buf;
}

static int
deb_version(const char *path, char **version, struct mv_err *err)
{
	struct archive *a = archive_read_new(), *c = NULL;
	struct archive_entry *e;
	char *control_tar = NULL, *control = NULL;
	size_t tar_len = 0, ctl_len = 0;
	int rc = -1;

	archive_read_support_format_ar(a);
	archive_read_support_filter_none(a);
	if (archive_read_open_filename(a, path, 65536) != ARCHIVE_OK) {
		mv_err_at(err, MV_EXIT_FAIL, path, 0, 0, "sidecar: not a .deb: %s",
		          archive_error_string(a));
		goto out;
	}
	while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
		if (strncmp(archive_entry_pathname(e), "control.tar", 11) == 0) {
			control_tar = read_entry(a, CONTROL_MAX, &tar_len);
			break;
		}
	}
	if (control_tar == NULL) {
		mv_err_at(err, MV_EXIT_FAIL, path, 0, 0,
		          "sidecar: .deb without a readable control.tar member");
		goto out;
	}
	c = archive_read_new();
	archive_read_support_format_tar(c);
	archive_read_support_filter_all(c);
	if (archive_read_open_memory(c, control_tar, tar_len) != ARCHIVE_OK) {
		mv_err_at(err, MV_EXIT_FAIL, path, 0, 0,
		          "sidecar: unreadable control.tar: %s",
		          archive_error_string(c));
		goto out;
	}
	while (archive_read_next_header(c, &e) == ARCHIVE_OK) {
		const char *n = archive_entry_pathname(e);
		if (!strcmp(n, "./control") || !strcmp(n, "control")) {
			control = read_entry(c, CONTROL_MAX, &ctl_len);
			break;
		}
	}
	if (control == NULL) {
		mv_err_at(err, MV_EXIT_FAIL, path, 0, 0,
		          "sidecar: .deb control.tar has no control file");
		goto out;
	}
	*version = control_field(control, "Version");
	if (*version == NULL || (*version)[0] == '\0') {
		free(*version);
		*version = NULL;
		mv_err_at(err, MV_EXIT_FAIL, path, 0, 0,
		          "sidecar: .deb control file has no Version");
		goto out;
	}
	rc = 0;
out:
	free(control);
	free(control_tar);
	archive_read_free(c);
	archive_read_free(a);
	return rc;
}

/*--- rpm -----------------------------------------------------------------*/

static uint32_t
be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

/* Read one RPM header structure at *off; returns index+store in *blob. */
static int
rpm_header(int fd, off_t *off, unsigned char **blob, uint32_t *nindex,
           uint32_t *hsize)
{
	unsigned char h[16];

	if (pread(fd, h, 16, *off) != 16 || h[0] != 0x8e || h[1] != 0xad ||
	    h[2] != 0xe8)
		return -1;
	*nindex = be32(h + 8);
	*hsize = be32(h + 12);
	if (*nindex > 100000 || *hsize > (64u << 20))
		return -1;
	size_t n = (size_t)*nindex * 16 + *hsize;
	*blob = malloc(n + 1);
	if (*blob == NULL || pread(fd, *blob, n, *off + 16) != (ssize_t)n) {
		free(*blob);
		*blob = NULL;
		return -1;
	}
	(*blob)[n] = '\0';
	*off += 16 + (off_t)n;
	return 0;
}

static const char *
rpm_tag_string(const unsigned char *blob, uint32_t nindex, uint32_t hsize,
               uint32_t tag)
{
	const unsigned char *store = blob + (size_t)nindex * 16;

	for (uint32_t i = 0; i < nindex; i++) {
		const unsigned char *ix = blob + (size_t)i * 16;
		uint32_t off = be32(ix + 8);
		if (be32(ix) != tag || off >= hsize)
			continue;
		if (be32(ix + 4) == 6 /* STRING */ &&
		    memchr(store + off, '\0', hsize - off) != NULL)
			return (const char *)store + off;
	}
	return NULL;
}

static int
rpm_version(int fd, const char *path, char **version, struct mv_err *err)
{
	unsigned char *sig = NULL, *hdr = NULL;
	uint32_t n1, s1, n2, s2;
	off_t off = 96; /* after the lead */
	const char *ver, *rel;

	if (rpm_header(fd, &off, &sig, &n1, &s1) != 0)
		goto bad;
	off = (off + 7) & ~(off_t)7; /* signature header is 8-aligned */
	if (rpm_header(fd, &off, &hdr, &n2, &s2) != 0)
		goto bad;
	ver = rpm_tag_string(hdr, n2, s2, 1001);
	rel = rpm_tag_string(hdr, n2, s2, 1002);
	if (ver == NULL)
		goto bad;
	*version = malloc(strlen(ver) + (rel ? strlen(rel) : 0) + 2);
	if (*version != NULL)
		sprintf(*version, rel ? "%s-%s" : "%s", ver, rel);
	free(sig);
	free(hdr);
	return 0;
bad:
	free(sig);
	free(hdr);
	return mv_err_at(err, MV_EXIT_FAIL, path, 0, 0,
	                 "sidecar: .rpm header unreadable (no Version tag)");
}

int
bundle_pkg_inspect(const char *path, enum bundle_pkg_format *fmt,
                   char **version, struct mv_err *err)
{
	unsigned char magic[21];
	ssize_t n;
	int fd, rc;

	*version = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return mv_err_sys(err, errno, "sidecar: %s", path);
	n = pread(fd, magic, sizeof(magic), 0);
	if (n == (ssize_t)sizeof(magic) &&
	    memcmp(magic, "!<arch>\ndebian-binary", 21) == 0) {
		close(fd);
		*fmt = BUNDLE_PKG_DEB;
		return deb_version(path, version, err);
	}
	if (n >= 4 && magic[0] == 0xed && magic[1] == 0xab && magic[2] == 0xee &&
	    magic[3] == 0xdb) {
		*fmt = BUNDLE_PKG_RPM;
		rc = rpm_version(fd, path, version, err);
		close(fd);
		return rc;
	}
	close(fd);
	return mv_err_at(err, MV_EXIT_FAIL, path, 0, 0,
	                 "sidecar: neither a .deb nor an .rpm package (magic "
	                 "bytes)");
}

/*--- image ---------------------------------------------------------------*/

int
bundle_image_inspect(const char *path, const char **format,
                     struct mv_err *err)
{
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	bool manifest = false, index = false, layout = false;
	int r;

	archive_read_support_format_tar(a);
	archive_read_support_filter_all(a);
	if (archive_read_open_filename(a, path, 65536) != ARCHIVE_OK) {
		mv_err_at(err, MV_EXIT_FAIL, path, 0, 0,
		          "image: not a tar archive: %s", archive_error_string(a));
		archive_read_free(a);
		return -1;
	}
	while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
		const char *n = archive_entry_pathname(e);
		if (n[0] == '.' && n[1] == '/')
			n += 2;
		if (!strcmp(n, "manifest.json"))
			manifest = true;
		else if (!strcmp(n, "index.json"))
			index = true;
		else if (!strcmp(n, "oci-layout"))
			layout = true;
		archive_read_data_skip(a);
	}
	if (r != ARCHIVE_EOF) {
		mv_err_at(err, MV_EXIT_FAIL, path, 0, 0, "image: broken tar: %s",
		          archive_error_string(a));
		archive_read_free(a);
		return -1;
	}
	archive_read_free(a);
	if (manifest) {
		*format = "docker-archive";
		return 0;
	}
	if (index && layout) {
		*format = "oci-archive";
		return 0;
	}
	return mv_err_at(err, MV_EXIT_FAIL, path, 0, 0,
	                 "image: not a docker-save or OCI archive (needs "
	                 "manifest.json, or index.json + oci-layout)");
}
