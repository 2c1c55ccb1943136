/* bake/bake_meta.h - what bake writes besides the inputs' bytes: the list
 * of entries, MANIFEST.json, SHA256SUMS and tar headers (private to
 * bake/). */
#ifndef MESHVM_BAKE_BAKE_META_H
#define MESHVM_BAKE_BAKE_META_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "bake/bundle.h"
#include "bake/flatten.h"

struct archive;

struct bake_entry {
	char *path; /* in the archive */
	char *src;  /* on disk */
	uint64_t size;
	unsigned mode;
	char sha256[MV_SHA256_HEX];
	struct stat st; /* seen when listed; later reads refuse a changed file */
	bool flat;      /* image/rootfs.tar: src is the image, flattened as it
	                   is read (bake_flat_stream), never staged */
};

/* The inputs of `spec` (stage: the directory of the flattened image's
 * config.json, or NULL; rootfs_size: the flattened image's size), sorted
 * by archive path. */
int bake_collect_entries(const struct bundle_spec *spec, const char *stage,
                         uint64_t rootfs_size, struct bake_entry **out,
                         size_t *n_out, struct mv_err *err);
/* A flat entry's bytes (its image flattened again) to sink; refused when
 * the image changed or the stream is not e->size bytes long. */
int bake_flat_stream(const struct bake_entry *e, int64_t sde,
                     flatten_sink_fn sink, void *ud, struct mv_err *sink_err,
                     struct mv_err *err);
void bake_free_entries(struct bake_entry *ents, size_t n);
/* Same inode, size, mtime and ctime: the file was not changed. */
bool bake_same_file(const struct stat *a, const struct stat *b);

/* MANIFEST.json and SHA256SUMS from the entries' digests (malloc'd; NULL:
 * out of memory).  Their lengths do not depend on the digests' values. */
char *bake_build_manifest(const struct bundle_spec *spec,
                          const struct bake_entry *ents, size_t n,
                          const struct bake_options *opt);
char *bake_build_sums(const char *manifest, const struct bake_entry *ents,
                      size_t n);

/* One entry's header through libarchive (pax restricted, root:root). */
int bake_write_header(struct archive *a, const char *path, uint64_t size,
                      unsigned mode, int64_t sde, struct mv_err *err);
/* MANIFEST.json and SHA256SUMS as entries of `a`. */
int bake_write_meta_entries(struct archive *a, const char *manifest,
                            const char *sums, int64_t sde, struct mv_err *err);
/* The tar bytes of MANIFEST.json and SHA256SUMS alone, with no
 * end-of-archive marker (the payload follows).  *out malloc'd. */
int bake_meta_tar(const char *manifest, const char *sums, int64_t sde,
                  char **out, size_t *len, struct mv_err *err);
/* The header bytes libarchive writes for a regular file entry, alone:
 * the caller writes the data and its padding to 512.  *out malloc'd. */
int bake_header_tar(const char *path, uint64_t size, unsigned mode,
                    int64_t sde, char **out, size_t *len, struct mv_err *err);

#endif
