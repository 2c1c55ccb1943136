/* core/err.c - error values (see err.h). */
#include "core/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"

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
	e->more = NULL;
	e->more_len = e->more_cap = 0;
	e->n_more = e->n_dropped = 0;
	e->dropped_line[0] = '\0';
}

/* A new one-item error: the list of a previous one is forgotten (its
 * owner frees it first; see err.h). */
static void
list_reset(struct mv_err *e)
{
	e->more = NULL;
	e->more_len = e->more_cap = 0;
	e->n_more = e->n_dropped = 0;
	e->dropped_line[0] = '\0';
}

void
mv_err_free(struct mv_err *e)
{
	if (e == NULL)
		return;
	free(e->more);
	list_reset(e);
}

void
mv_err_append(struct mv_err *e, const char *item)
{
	size_t n = strlen(item) + 1;

	if (e == NULL)
		return;
	if (e->n_more + 1 >= MV_ERR_ITEMS_MAX ||
	    e->more_len + n > MV_ERR_MORE_BYTES_MAX) {
		e->n_dropped++;
		snprintf(e->dropped_line, sizeof(e->dropped_line),
		         "... and %zu more problems not listed", e->n_dropped);
		return;
	}
	if (e->more_len + n > e->more_cap) {
		size_t cap = e->more_cap ? e->more_cap : 1024;
		while (cap < e->more_len + n)
			cap *= 2;
		e->more = mv_xrealloc(e->more, cap);
		e->more_cap = cap;
	}
	memcpy(e->more + e->more_len, item, n);
	e->more_len += n;
	e->n_more++;
}

size_t
mv_err_count(const struct mv_err *e)
{
	if (e == NULL || e->exit_code == 0)
		return 0;
	return 1 + e->n_more + (e->n_dropped > 0);
}

const char *
mv_err_next(const struct mv_err *e, const char *prev)
{
	if (e == NULL)
		return NULL;
	if (prev == NULL)
		return e->msg;
	if (prev == e->dropped_line)
		return NULL;
	if (prev == e->msg)
		prev = e->more_len ? e->more : NULL;
	else
		prev = prev + strlen(prev) + 1 < e->more + e->more_len
		               ? prev + strlen(prev) + 1
		               : NULL;
	if (prev == NULL && e->n_dropped > 0)
		return e->dropped_line;
	return prev;
}

char *
mv_err_join(const struct mv_err *e)
{
	size_t len = 0, o = 0;
	const char *it;
	char *s;

	for (it = mv_err_next(e, NULL); it; it = mv_err_next(e, it))
		len += strlen(it) + 1;
	s = mv_xmalloc(len + 1);
	for (it = mv_err_next(e, NULL); it; it = mv_err_next(e, it)) {
		size_t n = strlen(it);
		if (o > 0)
			s[o++] = '\n';
		memcpy(s + o, it, n);
		o += n;
	}
	s[o] = '\0';
	return s;
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
	list_reset(e);
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
	list_reset(e);
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
	list_reset(e);
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
