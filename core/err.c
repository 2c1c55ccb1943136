/* core/err.c - error values (see err.h). */
#include "core/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void
mv_err_clear(struct mv_err *e)
{
	if (e == NULL)
		return;
	e->exit_code = 0;
	e->http_status = 0;
	e->line = e->col = 0;
	e->file[0] = '\0';
	e->msg[0] = '\0';
}

static void err_vset(struct mv_err *e, int exit_code, const char *prefix,
                     const char *fmt, va_list ap) MV_PRINTF(4, 0);

static void
err_vset(struct mv_err *e, int exit_code, const char *prefix, const char *fmt,
         va_list ap)
{
	size_t n = 0;

	e->exit_code = exit_code ? exit_code : MV_EXIT_FAIL;
	if (prefix != NULL && prefix[0] != '\0')
		n = (size_t)snprintf(e->msg, sizeof(e->msg), "%s", prefix);
	if (n >= sizeof(e->msg))
		n = sizeof(e->msg) - 1;
	vsnprintf(e->msg + n, sizeof(e->msg) - n, fmt, ap);
}

int
mv_err_set(struct mv_err *e, int exit_code, const char *fmt, ...)
{
	va_list ap;

	if (e == NULL)
		return -1;
	e->http_status = 0;
	e->line = e->col = 0;
	e->file[0] = '\0';
	va_start(ap, fmt);
	err_vset(e, exit_code, NULL, fmt, ap);
	va_end(ap);
	return -1;
}

int
mv_err_at(struct mv_err *e, int exit_code, const char *file, int line,
          int col, const char *fmt, ...)
{
	char prefix[600];
	va_list ap;

	if (e == NULL)
		return -1;
	e->http_status = 0;
	snprintf(e->file, sizeof(e->file), "%s", file ? file : "");
	e->line = line > 0 ? line : 0;
	e->col = col > 0 ? col : 0;
	if (line > 0 && col > 0)
		snprintf(prefix, sizeof(prefix), "%s:%d:%d: ", e->file, line, col);
	else if (line > 0)
		snprintf(prefix, sizeof(prefix), "%s:%d: ", e->file, line);
	else if (e->file[0] != '\0')
		snprintf(prefix, sizeof(prefix), "%s: ", e->file);
	else
		prefix[0] = '\0';
	va_start(ap, fmt);
	err_vset(e, exit_code, prefix, fmt, ap);
	va_end(ap);
	return -1;
}

int
mv_err_sys(struct mv_err *e, int errnum, const char *fmt, ...)
{
	size_t n;
	va_list ap;

	if (e == NULL)
		return -1;
	e->http_status = 0;
	e->line = e->col = 0;
	e->file[0] = '\0';
	va_start(ap, fmt);
	err_vset(e, MV_EXIT_FAIL, NULL, fmt, ap);
	va_end(ap);
	n = strlen(e->msg);
	snprintf(e->msg + n, sizeof(e->msg) - n, ": %s", strerror(errnum));
	return -1;
}

int
mv_err_prefix(struct mv_err *e, const char *fmt, ...)
{
	char old[MV_ERR_MSG_MAX];
	size_t n;
	va_list ap;

	if (e == NULL)
		return -1;
	memcpy(old, e->msg, sizeof(old));
	va_start(ap, fmt);
	n = (size_t)vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	if (n < sizeof(e->msg))
		snprintf(e->msg + n, sizeof(e->msg) - n, ": %s", old);
	if (e->exit_code == 0)
		e->exit_code = MV_EXIT_FAIL;
	return -1;
}
