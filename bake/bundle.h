/* bake/bundle.h - meshvm-bundle/1: spec, bake, verify, inspect, unpack.
 *
 * A bundle is a pax tar stream (zstd by default, or gzip, or none) whose
 * entries come in strcmp order of path, MANIFEST.json first and SHA256SUMS
 * second, with no directory entries.  The format is described in README.md
 * ("Bundle format") and DESIGN.md §4.
 */
#ifndef MESHVM_BAKE_BUNDLE_H
#define MESHVM_BAKE_BUNDLE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/sha256.h"

#define BUNDLE_FORMAT "meshvm-bundle/1"

/*--- spec (bundle.yaml) --------------------------------------------------*/

enum bundle_pkg_format { BUNDLE_PKG_DEB, BUNDLE_PKG_RPM };

struct bundle_spec {
	char *path; /* the spec file as given */
	struct {
		char *name;
		char *namespace_;
		int port;
		char *protocol; /* grpc|http|http2|tcp */
	} service;
	char *sidecar;  /* resolved path of the .deb/.rpm */
	enum bundle_pkg_format sidecar_format;
	char *sidecar_version; /* from the package's control data */
	char *image;           /* resolved path of the image tar */
	char *image_format;    /* "docker-archive" | "oci-archive" */
	char *identity_dir;    /* resolved path */
	char **units;          /* resolved paths (optional: runtime systemd) */
	size_t n_units;
	char *runtime;         /* systemd|docker|podman|containerd; NULL: the
	                          default (systemd) */
};

/* 0 when `s` is systemd, docker, podman or containerd (err may be NULL). */
int bundle_runtime_check(const char *s, struct mv_err *err);

/* The runtime a bake uses (the option, else the spec's, else systemd) is
 * consistent with the units: docker/podman/containerd need at least one
 * unit (it runs the image); with systemd the units are optional and none
 * may run docker, podman, ctr or nerdctl (the image already runs from
 * its root filesystem: it would start twice). */
int bundle_spec_check_runtime(const struct bundle_spec *spec,
                              const char *runtime, struct mv_err *err);

/* Load and validate a spec and everything it points at; nothing is written.
 * Every problem found is reported, one line each, in err->msg (the first
 * one's position in err->file/line/col).  *out is owned by the caller. */
int bundle_spec_load(const char *path, struct bundle_spec **out,
                     struct mv_err *err);
/* Same, from a buffer; relative paths resolve against base_dir. */
int bundle_spec_parse(const char *name, const char *buf, size_t len,
                      const char *base_dir, struct bundle_spec **out,
                      struct mv_err *err);
void bundle_spec_free(struct bundle_spec *spec);

/*--- bake ----------------------------------------------------------------*/

enum bundle_compress { BUNDLE_ZSTD = 0, BUNDLE_GZIP, BUNDLE_NONE };

struct bake_options {
	enum bundle_compress compress;
	int level;                 /* 0 = default (zstd 3, gzip 6) */
	int threads;               /* zstd workers; <= 0 = number of cores */
	int64_t source_date_epoch; /* mtime of every entry */
	bool progress;             /* draw progress on a TTY */
	const char *runtime;       /* NULL: the spec's, else systemd */
};

struct bake_result {
	char sha256[MV_SHA256_HEX]; /* of the bundle file itself */
	uint64_t size;              /* bundle file size */
	uint64_t content_size;      /* sum of entry sizes */
	size_t n_entries;
};

/* Defaults: zstd level 3, all cores, SOURCE_DATE_EPOCH from the
 * environment (or 0), progress on. */
void bake_options_init(struct bake_options *opt);

/* Write the bundle for `spec` to out_path atomically. */
int bundle_bake(const struct bundle_spec *spec, const char *out_path,
                const struct bake_options *opt, struct bake_result *res,
                struct mv_err *err);

/*--- reading: verify, inspect, unpack ------------------------------------*/

struct bundle_file {
	char *path;
	uint64_t size;
	char sha256[MV_SHA256_HEX];
	unsigned mode; /* 0644 or 0755 */
};

struct bundle_info {
	json_t *manifest; /* parsed MANIFEST.json */
	const char *service_name, *service_namespace, *service_protocol;
	int service_port;
	const char *sidecar_path, *sidecar_format, *sidecar_version;
	const char *image_path, *image_format;
	const char *image_runtime; /* NULL in bundles made before it */
	const char *image_config;  /* image/config.json (format rootfs) */
	struct bundle_file *files; /* as listed in the manifest */
	size_t n_files;
	int64_t source_date_epoch;
	uint64_t content_size;            /* sum of file sizes */
	uint64_t file_size;               /* the bundle file */
	char sha256[MV_SHA256_HEX];       /* of the bundle file; verify and
	                                     unpack fill it only when asked
	                                     to check one (else "") */
	const char *compression;          /* "zstd" | "gzip" | "none" */
};

/* Unpack writes at most this much unless told otherwise (--max-size). */
#define BUNDLE_UNPACK_MAX_DEFAULT (16ull << 30)

struct bundle_read_options {
	const char *expect_sha256; /* whole-file digest to check, or NULL */
	bool progress;
	uint64_t max_size;         /* unpack: 0 = BUNDLE_UNPACK_MAX_DEFAULT */
};

/* Check everything: digest (optional), manifest first and well formed,
 * every entry's size, digest and mode, nothing missing, nothing extra, no
 * duplicates.  Failure → exit class MV_EXIT_VERIFY naming the entry. */
int bundle_verify(const char *path, const struct bundle_read_options *opt,
                  struct bundle_info **out, struct mv_err *err);
/* The same on an open descriptor (read from its current offset). */
int bundle_verify_fd(int fd, const char *name,
                     const struct bundle_read_options *opt,
                     struct bundle_info **out, struct mv_err *err);

/* Read the manifest and the whole-file digest, without checking entries. */
int bundle_inspect(const char *path, struct bundle_info **out,
                   struct mv_err *err);

/* Verify while extracting into `dest` (absent or empty).  Files land in
 * place only when everything checked out; on failure, and on SIGINT or
 * SIGTERM (through core/signal), dest holds nothing new.  A manifest
 * listing more than opt->max_size or DEST's free space is refused before
 * anything is written.  Staging directories left by a killed unpack
 * (".meshvm-unpack-XXXXXX" holding our marker, its process gone) are
 * removed first.  Not thread-safe: changes the working directory while
 * extracting. */
int bundle_unpack(const char *path, const char *dest,
                  const struct bundle_read_options *opt,
                  struct bundle_info **out, struct mv_err *err);

void bundle_info_free(struct bundle_info *info);

/* Manifest → JSON for `inspect --json` and `bake --json` (new reference). */
json_t *bundle_info_to_json(const struct bundle_info *info);

#endif
