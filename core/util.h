/* core/util.h - small helpers every module needs: formatted heap strings,
 * paths, whole small files, JSON type names for messages. */
#ifndef MESHVM_CORE_UTIL_H
#define MESHVM_CORE_UTIL_H

#include <jansson.h>
#include <stddef.h>

#include "core/err.h"

/* printf into a new heap string; NULL when out of memory. */
char *mv_strfmt(const char *fmt, ...) MV_PRINTF(1, 2);

/* The directory part of a path ("." for a bare name, "/" for "/x");
 * malloc'd. */
char *mv_dirname(const char *path);
/* base/rel, or rel itself when it is absolute or base is empty or ".";
 * malloc'd. */
char *mv_path_join(const char *base, const char *rel);

/* A whole file of at most `max` bytes, NUL-terminated (not counted in
 * *len, which may be NULL); NULL with err set on failure or when larger. */
char *mv_read_file(const char *path, size_t max, size_t *len,
                   struct mv_err *err);

/* "a mapping", "a list", "a string", "an integer", ... for messages. */
const char *mv_json_type_name(const json_t *v);

#endif
