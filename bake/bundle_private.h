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

/* A relative path of clean components: no leading '/', no "", ".", ".."
 * components, no backslash or control characters, at most 255 bytes. */
bool bundle_path_is_safe(const char *path);

/* Parse and validate MANIFEST.json into `info` (which takes ownership of
 * the JSON). Errors carry MV_EXIT_VERIFY. */
int bundle_manifest_parse(const char *buf, size_t len,
                          struct bundle_info *info, struct mv_err *err);

/* Find a manifest file entry by path (binary search: files are sorted). */
const struct bundle_file *bundle_info_find(const struct bundle_info *info,
                                           const char *path);

#endif
