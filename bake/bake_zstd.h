/* bake/bake_zstd.h - a zstd bundle in one pass over the inputs (private
 * to bake/). */
#ifndef MESHVM_BAKE_BAKE_ZSTD_H
#define MESHVM_BAKE_BAKE_ZSTD_H

#include "bake/bake_meta.h"
#include "core/timing.h"

struct bake_zstd_out {
	char sha256[MV_SHA256_HEX]; /* of the file */
	uint64_t size;              /* of the file */
	char *manifest, *sums;      /* malloc'd, also on failure (or NULL) */
};

/* Write the bundle of `ents` (their digests are filled in) to fd, which
 * is empty and positioned at 0. */
int bake_zstd(const struct bundle_spec *spec, struct bake_entry *ents,
              size_t n, uint64_t total, const struct bake_options *opt,
              int fd, struct mv_timing *tm, struct bake_zstd_out *res,
              struct mv_err *err);

#endif
