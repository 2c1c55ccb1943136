/* cloudinit/cloudinit_private.h - shared inside cloudinit/ only. */
#ifndef MESHVM_CLOUDINIT_PRIVATE_H
#define MESHVM_CLOUDINIT_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>

#include "cloudinit/cloudinit.h"

/* A growable NUL-terminated byte buffer. */
struct ci_buf {
	char *p;
	size_t len, cap;
	bool oom;
};

void ci_buf_add(struct ci_buf *b, const void *data, size_t len);
void ci_buf_puts(struct ci_buf *b, const char *s);
void ci_buf_printf(struct ci_buf *b, const char *fmt, ...) MV_PRINTF(2, 3);
/* Hand the bytes over (NUL-terminated) and reset b; NULL after OOM. */
char *ci_buf_take(struct ci_buf *b, size_t *len);
void ci_buf_free(struct ci_buf *b);

/* Read a whole regular file of at most `max` bytes (NUL-terminated; the
 * caller frees).  `what` names the file's role in messages. */
int ci_read_file(const char *path, const char *what, size_t max, char **out,
                 size_t *len, struct mv_err *err);

/* Verify a bundle (digest computed first, then bundle_verify against it)
 * and return its sha256 and service name (service may be NULL). */
int ci_bundle_pin(const char *path, char sha[MV_SHA256_HEX], char *service,
                  size_t service_len, struct mv_err *err);

/* Fill a join description from common options. */
int ci_join_init(struct cloudinit_join *join, enum cloudinit_source source,
                 const char *runtime, int ready_timeout, struct mv_err *err);

/* The join's unit file (meshvm-join.service). */
extern const char ci_join_unit[];

/* join.conf for `join`; `writer` names who writes it ("cloud-init").
 * malloc'd; NULL when out of memory. */
char *ci_join_conf(const struct cloudinit_join *join, const char *writer);

/* The digest is pinned, the runtime and the URL are valid. */
int ci_join_check(const struct cloudinit_join *join, struct mv_err *err);

/* cloudinit_validate_buf with the size limit as a parameter; *work (when
 * non-NULL) gets the bytes scanned, which tests use to show the checks
 * stay linear in the input. */
int ci_validate(const char *name, const char *buf, size_t len, size_t max,
                size_t *work, struct mv_err *err);

#endif
