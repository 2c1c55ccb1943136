/* core/sha256.h - SHA-256 through OpenSSL's EVP (SHA-NI where present). */
#ifndef MESHVM_CORE_SHA256_H
#define MESHVM_CORE_SHA256_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define MV_SHA256_LEN 32
#define MV_SHA256_HEX 65 /* 64 hex digits + NUL */

struct mv_progress;

struct mv_sha256 {
	void *ctx; /* EVP_MD_CTX */
};

int mv_sha256_init(struct mv_sha256 *h);
void mv_sha256_update(struct mv_sha256 *h, const void *data, size_t len);
/* The same for bytes that are not in this core's cache (another thread
 * wrote them, or they come from memory): prefetches ahead of the hash. */
void mv_sha256_update_far(struct mv_sha256 *h, const void *data, size_t len);
/* Writes the digest and frees the context. */
void mv_sha256_final(struct mv_sha256 *h, uint8_t out[MV_SHA256_LEN]);
void mv_sha256_final_hex(struct mv_sha256 *h, char hex[MV_SHA256_HEX]);
/* Free without finishing (error paths). */
void mv_sha256_discard(struct mv_sha256 *h);

void mv_sha256_buf_hex(const void *data, size_t len, char hex[MV_SHA256_HEX]);

/* Stream a file; returns its size in *size if non-NULL. */
int mv_sha256_file_hex(const char *path, char hex[MV_SHA256_HEX],
                       uint64_t *size, struct mv_progress *progress,
                       struct mv_err *err);

void mv_hex_encode(const uint8_t *in, size_t len, char *out);
/* true when `s` is exactly 64 lowercase hex digits. */
int mv_is_sha256_hex(const char *s);

#endif
