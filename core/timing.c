/* core/timing.c - see timing.h. */
#include "core/timing.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

double
mv_time_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void
mv_timing_begin(struct mv_timing *t, const char *what)
{
	const char *e = getenv("MESHVM_TRACE_TIMING");

	t->on = e != NULL && strcmp(e, "1") == 0;
	t->what = what;
	t->t0 = t->last = mv_time_s();
}

void
mv_timing_mark(struct mv_timing *t, const char *phase, const char *fmt, ...)
{
	double now;
	va_list ap;

	if (t == NULL || !t->on)
		return;
	now = mv_time_s();
	fprintf(stderr, "timing: %s: %-14s +%.3fs (at %.3fs)", t->what, phase,
	        now - t->last, now - t->t0);
	if (fmt != NULL) {
		fputs(": ", stderr);
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
	}
	fputc('\n', stderr);
	t->last = now;
}
