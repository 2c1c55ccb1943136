/* core/timing.h - per-phase wall times on stderr, for finding where a
 * long command spends its time: on only when MESHVM_TRACE_TIMING=1. */
#ifndef MESHVM_CORE_TIMING_H
#define MESHVM_CORE_TIMING_H

#include <stdbool.h>

#include "core/err.h"

struct mv_timing {
	bool on;
	const char *what;
	double t0, last;
};

/* Seconds on the monotonic clock. */
double mv_time_s(void);

void mv_timing_begin(struct mv_timing *t, const char *what);
/* "timing: WHAT: PHASE +Δs (at Ts)[: details]" when on. */
void mv_timing_mark(struct mv_timing *t, const char *phase, const char *fmt,
                    ...) MV_PRINTF(3, 4);

#endif
