/* core/xalloc.h - the allocation policy of the whole tree (redis's
 * zmalloc): small allocations never fail quietly.  mv_x* abort with one
 * line on stderr when memory runs out, so callers need no NULL checks and
 * no error path that is never tested.  Use them for every allocation whose
 * size is not controlled by input; sizes that come from input (a manifest,
 * an HTTP body) are bounded first and may use plain malloc with an error
 * returned, as before. */
#ifndef MESHVM_CORE_XALLOC_H
#define MESHVM_CORE_XALLOC_H

#include <stddef.h>

#include "core/err.h"

void *mv_xmalloc(size_t n);
void *mv_xcalloc(size_t count, size_t size);
void *mv_xrealloc(void *p, size_t n);
/* realloc to count * size, refusing an overflowing product (abort). */
void *mv_xreallocarray(void *p, size_t count, size_t size);
char *mv_xstrdup(const char *s);
char *mv_xstrndup(const char *s, size_t n);
/* printf into a new heap string (never NULL). */
char *mv_xstrfmt(const char *fmt, ...) MV_PRINTF(1, 2);

#endif
