/* core/err.h - error values.
 *
 * Functions below cli/ never print and never exit: they return an int status
 * (0 ok, -1 failed) and fill a caller-provided struct mv_err with a one-line
 * message and the exit class main() should use.  Positions (file:line:col) and
 * HTTP statuses are kept as fields too so callers can test them.
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

struct mv_err {
	int exit_code;   /* enum mv_exit; 0 while no error is set */
	int http_status; /* > 0 when the failure is an HTTP answer */
	int line, col;   /* > 0 when the error points into `file` */
	char file[512];
	char msg[MV_ERR_MSG_MAX]; /* full message, position already prefixed */
};

void mv_err_clear(struct mv_err *e);

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
