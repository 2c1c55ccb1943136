/* bake/bundle_private.h - shared between the files of bake/ only. */
#ifndef MESHVM_BAKE_BUNDLE_PRIVATE_H
#define MESHVM_BAKE_BUNDLE_PRIVATE_H

#include <stdio.h>

#include "bake/bundle.h"

#define BUNDLE_MANIFEST "MANIFEST.json"
#define BUNDLE_SUMS "SHA256SUMS"
#define BUNDLE_MANIFEST_MAX (16u << 20)

/* Package kind by magic bytes, and its version from the control data
 * ("[epoch:]version[-release]").  *version is malloc'd. */
int bundle_pkg_inspect(const char *path, enum bundle_pkg_format *fmt,
                       char **version, struct mv_err *err);

/* "docker-archive" (tar with manifest.json) or "oci-archive" (index.json +
 * oci-layout). Returns a static string through *format. */
int bundle_image_inspect(const char *path, const char **format,
                         struct mv_err *err);

/*--- rules.c: what a bundle may hold --------------------------------------*/

/* A relative path of clean components: no leading '/', no "", ".", ".."
 * components, no backslash or control characters, at most 255 bytes. */
bool bundle_path_is_safe(const char *path);
/* One of the paths the bundle format has (MANIFEST.json, SHA256SUMS,
 * identity/..., image/..., sidecar/..., units/NAME.service). */
bool bundle_path_in_layout(const char *path);
/* DNS-1123 label: [a-z0-9-], 1..63, no leading or trailing '-'. */
bool bundle_is_dns_label(const char *s);
/* grpc | http | http2 | tcp */
bool bundle_protocol_ok(const char *s);
#define BUNDLE_PORT_OK(p) ((p) >= 1 && (p) <= 65535)
/* 1..max printable ASCII bytes, no spaces (versions, formats). */
bool bundle_word_ok(const char *s, size_t max);

/* Secrets in an identity file, found anywhere in the buffer (NUL bytes
 * included); each returns the 1-based line of the first, or 0. */
int bundle_find_private_key(const char *buf, size_t len); /* PEM, any kind */
int bundle_find_jwt(const char *buf, size_t len);
int bundle_find_service_account(const char *buf, size_t len);
/* The 1-based line of byte `off`. */
int bundle_line_at(const char *buf, size_t off);

/* Parse and validate MANIFEST.json into `info` (which takes ownership of
 * the JSON). Errors carry MV_EXIT_VERIFY. */
int bundle_manifest_parse(const char *buf, size_t len,
                          struct bundle_info *info, struct mv_err *err);

/* Find a manifest file entry by path (binary search: files are sorted). */
const struct bundle_file *bundle_info_find(const struct bundle_info *info,
                                           const char *path);

/*--- verify.c: the scan behind verify and unpack ---------------------------*/

struct archive;

/* Where unpack writes, and how much it may. */
struct bundle_scan_target {
	struct archive *disk; /* libarchive disk writer, cwd = staging */
	const char *dest;     /* for messages */
	uint64_t max_size;    /* refuse manifests listing more */
	uint64_t free_bytes;  /* DEST's free space (statvfs) */
};

/* Check (and with a target, write) every entry of the bundle on fd. */
int bundle_scan(int fd, const char *name, const struct bundle_read_options *opt,
                const struct bundle_scan_target *target,
                struct bundle_info **out, struct mv_err *err);

/* runtime systemd: the flattened image's config.json in a new directory
 * beside out_path (*dir malloc'd) and rootfs.tar's size, from a pass over
 * the image that skips file data; rootfs.tar itself is never staged (the
 * digest and the bundle each flatten the image again as they read it).
 * unstage removes the directory and frees dir (NULL-safe). */
int bake_stage_rootfs(const struct bundle_spec *spec, const char *out_path,
                      int64_t sde, char **dir, uint64_t *rootfs_size,
                      struct mv_err *err);
void bake_unstage_rootfs(char *dir);

#endif
