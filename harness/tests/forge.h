/* harness/tests/forge.h - build bundles that bake would never write:
 * rewrite a real bundle's entries, or forge one from scratch with a
 * manifest that lists whatever the test wants. */
#ifndef MESHVM_FORGE_H
#define MESHVM_FORGE_H

#include <stdbool.h>
#include <stddef.h>

enum forge_type {
	FORGE_FILE = 0, FORGE_DIR, FORGE_SYMLINK, FORGE_HARDLINK, FORGE_CHR,
	FORGE_BLK, FORGE_FIFO
};

struct forge_entry {
	const char *path;
	const char *data;      /* file content (NUL-terminated) */
	enum forge_type type;
	unsigned mode;         /* 0 → 0644 */
	const char *link;      /* symlink / hardlink target */
	bool unlisted;         /* leave it out of the manifest */
	long long listed_size; /* > 0: lie about the size in the manifest */
	const char *listed_sha;/* lie about the digest in the manifest */
	const char *listed_path; /* list it under another path */
};

/* Write a bundle to `out`: MANIFEST.json (listing the entries, plus a
 * sidecar and an image entry the forge adds itself), SHA256SUMS, then the
 * entries in the given order. compress: "none", "gzip" or "zstd". */
void forge_bundle(const char *out, const char *compress,
                  const struct forge_entry *ents, size_t n);

/* Extras for the next forge_bundle/forge_rewrite calls (reset by the
 * caller): bytes after the tar stream (inside the compression), bytes
 * after the compressed file, and a JSON object merged into the manifest
 * (e.g. "{\"service\":{\"name\":\"x\"}}"). */
struct forge_opts {
	const char *after_tar;
	size_t after_tar_len;
	const char *after_file;
	size_t after_file_len;
	const char *manifest_patch;
	bool sorted; /* write every entry in strcmp order (after the two
	                metadata files), the forge's image and sidecar too */
};
extern struct forge_opts forge_opts;

/* Rewrite an uncompressed bundle: drop, rename, duplicate or move entries,
 * append one. Each op is "drop:PATH", "rename:FROM:TO", "dup:PATH",
 * "first:PATH", "append:PATH:CONTENT"; a NULL-terminated list. */
void forge_rewrite(const char *in, const char *out, const char *const *ops);

#endif
