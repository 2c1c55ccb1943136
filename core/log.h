/* core/log.h - leveled logging to stderr.
 *
 * The only output a module below cli/ produces: diagnostics on stderr.
 * Colour only when stderr is a terminal and NO_COLOR is unset.
 */
#ifndef MESHVM_CORE_LOG_H
#define MESHVM_CORE_LOG_H

#include <stdbool.h>
#include <stdio.h>

#include "core/err.h"

enum mv_log_level {
	MV_LOG_ERROR = 0,
	MV_LOG_WARN = 1,
	MV_LOG_INFO = 2,
	MV_LOG_DEBUG = 3, /* -v */
	MV_LOG_TRACE = 4  /* -vv */
};

void mv_log_set_level(enum mv_log_level level);
enum mv_log_level mv_log_level(void);
bool mv_log_enabled(enum mv_log_level level);

/* Redirect log output (tests); NULL restores stderr. */
void mv_log_set_stream(FILE *stream);

void mv_log(enum mv_log_level level, const char *fmt, ...) MV_PRINTF(2, 3);

#define mv_error(...) mv_log(MV_LOG_ERROR, __VA_ARGS__)
#define mv_warn(...) mv_log(MV_LOG_WARN, __VA_ARGS__)
#define mv_info(...) mv_log(MV_LOG_INFO, __VA_ARGS__)
#define mv_debug(...) mv_log(MV_LOG_DEBUG, __VA_ARGS__)
#define mv_trace(...) mv_log(MV_LOG_TRACE, __VA_ARGS__)

/* True when `fd` is a terminal and the user did not ask for NO_COLOR or a
 * dumb terminal. */
bool mv_color_enabled(int fd);

#endif
