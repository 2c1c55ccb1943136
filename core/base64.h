/* core/base64.h - base64 (RFC 4648 §4) and base64url (§5).
 *
 * Encoders return a NUL-terminated heap string (caller frees) or NULL when
 * out of memory.  Decoders accept input with or without '=' padding and
 * reject anything else that is not in the alphabet; the output is
 * NUL-terminated too (not counted in *out_len) so decoded text can be used
 * as a C string.
 */
#ifndef MESHVM_CORE_BASE64_H
#define MESHVM_CORE_BASE64_H

#include <stddef.h>
#include <stdint.h>

/* Standard alphabet, padded. */
char *mv_base64_encode(const void *data, size_t len);
/* URL-safe alphabet, no padding (JWT, JWK). */
char *mv_base64url_encode(const void *data, size_t len);

/* 0 ok, -1 on a character outside the alphabet, bad length or padding.
 * *out is malloc'd (caller frees). */
int mv_base64_decode(const char *s, size_t len, uint8_t **out,
                     size_t *out_len);
int mv_base64url_decode(const char *s, size_t len, uint8_t **out,
                        size_t *out_len);

#endif
