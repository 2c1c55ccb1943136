/* core/err.h - error values.
 *
 * Functions below cli/ never print and never exit: they return an int status
 * (0 ok, -1 failed) and fill a caller-provided struct mv_err with a one-line
 * message and the exit class main() should use.  Positions (file:line:col) and
 * HTTP statuses are kept as fields too so callers can test them.
 *
 * A report of many problems (a bundle spec, cloud-init user-data, a config)
 * is a list of items: the first is `msg` (with `file`, `line`, `col`), the
 * others sit in a heap buffer the error owns, so none is ever cut.
 * Ownership, in one rule: an error that may hold more than one item is
 * released with mv_err_free by whoever made the struct (cli_fail does it for
 * the CLI; tests call it).  mv_err_clear only initialises (it is called on
 * uninitialised stack structs, so it cannot free); mv_err_set, mv_err_at and
 * mv_err_sys start a new one-item error (free a list first if the struct
 * held one); mv_err_prefix keeps the list.  A struct copy moves the list:
 * free only one of the two.  An error without extra items owns no memory,
 * so the many one-line errors need no mv_err_free.
 */
#ifndef MESHVM_CORE_ERR_H
#define MESHVM_CORE_ERR_H

#include <stddef.h>

#if defined(__GNUC__)
#define MV_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define MV_PRINTF(f, a)
#endif

/* Process exit codes; documented in README.md and `meshvm --help`. */
enum mv_exit {
	MV_EXIT_OK = 0,
	MV_EXIT_FAIL = 1,        /* generic failure: I/O, bad input */
	MV_EXIT_USAGE = 2,       /* bad command line */
	MV_EXIT_VERIFY = 3,      /* verification failed: digest, schema */
	MV_EXIT_CLOUD = 4,       /* a cloud API refused or failed */
	MV_EXIT_INTERRUPTED = 130
};

#define MV_ERR_MSG_MAX 4096

/* Bounds of the extra items (a hostile input must not exhaust memory):
 * beyond them an item is counted in `n_dropped`, and mv_err_next ends
 * with a line saying how many were dropped, so nothing vanishes silently. */
#define MV_ERR_ITEMS_MAX 1000000
#define MV_ERR_MORE_BYTES_MAX (64u << 20)

struct mv_err {
	int exit_code;   /* enum mv_exit; 0 while no error is set */
	int http_status; /* > 0 when the failure is an HTTP answer */
	int line, col;   /* > 0 when the error points into `file` */
	char file[512];
	char msg[MV_ERR_MSG_MAX]; /* first item, position already prefixed */
	/* items after the first, each NUL-terminated, back to back */
	char *more;
	size_t more_len, more_cap;
	size_t n_more;    /* items in `more` */
	size_t n_dropped; /* items beyond the bounds */
	char dropped_line[64];
};

void mv_err_clear(struct mv_err *e);
/* Free the extra items (NULL-safe); the first item stays. */
void mv_err_free(struct mv_err *e);

/* Append one more item to an error that holds one already (set, at, or
 * copied from a fresh error). Aborts on out-of-memory (core/xalloc). */
void mv_err_append(struct mv_err *e, const char *item);
/* Items: 0 when no error is set, else 1 + the extra ones (+1 for the
 * "... dropped" line). */
size_t mv_err_count(const struct mv_err *e);
/* Walk the items: mv_err_next(e, NULL) is msg; NULL after the last. */
const char *mv_err_next(const struct mv_err *e, const char *prev);
/* Every item joined with '\n' (new heap string, never NULL). */
char *mv_err_join(const struct mv_err *e);

/* Set an error; returns -1 so callers can `return mv_err_set(...)`.
 * `e` may be NULL (the error is then dropped). */
int mv_err_set(struct mv_err *e, int exit_code, const char *fmt, ...)
	MV_PRINTF(3, 4);

/* Error at a position: message becomes "FILE:LINE:COL: ..." (line/col
 * omitted when <= 0). */
int mv_err_at(struct mv_err *e, int exit_code, const char *file, int line,
              int col, const char *fmt, ...) MV_PRINTF(6, 7);

/* Error from an errno value: "... : strerror(errnum)". */
int mv_err_sys(struct mv_err *e, int errnum, const char *fmt, ...)
	MV_PRINTF(3, 4);

/* Prefix context to an existing message: "context: old message". */
int mv_err_prefix(struct mv_err *e, const char *fmt, ...) MV_PRINTF(2, 3);

#endif
