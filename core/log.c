/* core/log.c - leveled logging (see log.h). */
#include "core/log.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static enum mv_log_level log_level = MV_LOG_INFO;
static FILE *log_stream;

void
mv_log_set_level(enum mv_log_level level)
{
	log_level = level;
}

enum mv_log_level
mv_log_level(void)
{
	return log_level;
}

bool
mv_log_enabled(enum mv_log_level level)
{
	return level <= log_level;
}

void
mv_log_set_stream(FILE *stream)
{
	log_stream = stream;
}

bool
mv_color_enabled(int fd)
{
	const char *nc = getenv("NO_COLOR");
	const char *term = getenv("TERM");

	if (nc != NULL && nc[0] != '\0')
		return false;
	if (term != NULL && strcmp(term, "dumb") == 0)
		return false;
	return isatty(fd) == 1;
}

void
mv_log(enum mv_log_level level, const char *fmt, ...)
{
	static const char *names[] = {"error", "warning", "info", "debug",
	                              "trace"};
	static const char *colors[] = {"\033[1;31m", "\033[1;33m", "\033[1m",
	                               "\033[2m", "\033[2m"};
	FILE *out = log_stream ? log_stream : stderr;
	bool color;
	va_list ap;

	if (!mv_log_enabled(level))
		return;
	color = out == stderr && mv_color_enabled(STDERR_FILENO);
	flockfile(out);
	if (color)
		fprintf(out, "%smeshvm: %s:\033[0m ", colors[level], names[level]);
	else
		fprintf(out, "meshvm: %s: ", names[level]);
	va_start(ap, fmt);
	vfprintf(out, fmt, ap);
	va_end(ap);
	fputc('\n', out);
	funlockfile(out);
}
