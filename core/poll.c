/* core/poll.c - see poll.h. */
#include "core/poll.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "core/progress.h"
#include "core/signal.h"

#define DRAW_AFTER_MS 1000

long
mv_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static int
interrupted(struct mv_err *err, const char *label)
{
	mv_err_set(err, MV_EXIT_INTERRUPTED, "interrupted while waiting%s%s",
	           label ? " for " : "", label ? label : "");
	return MV_POLL_INTERRUPTED;
}

int
mv_poll_until(long deadline_ms, long interval_ms, mv_poll_fn fn, void *arg,
              const char *label, struct mv_err *err)
{
	long start = mv_now_ms();
	struct mv_progress *prog = NULL;
	int rc;

	for (;;) {
		char *state = NULL;
		long now;
		int r;

		if (mv_interrupted()) {
			rc = interrupted(err, label);
			break;
		}
		r = fn(arg, &state, err);
		now = mv_now_ms();
		if (r == 0 && label != NULL && now - start > DRAW_AFTER_MS) {
			char line[256];
			if (prog == NULL)
				prog = mv_progress_new(label, 0);
			snprintf(line, sizeof(line), "%s (%lds)", state ? state : "waiting",
			         (now - start) / 1000);
			mv_progress_state(prog, line);
		}
		free(state);
		if (r != 0) {
			rc = r > 0 ? 0 : MV_POLL_FAILED;
			break;
		}
		if (now >= deadline_ms) {
			mv_err_set(err, MV_EXIT_CLOUD, "%s not done after %lds",
			           label ? label : "operation", (now - start) / 1000);
			rc = MV_POLL_TIMEOUT;
			break;
		}
		if (interval_ms > deadline_ms - now)
			interval_ms = deadline_ms - now;
		if (!mv_sleep_ms(interval_ms > 0 ? interval_ms : 1)) {
			rc = interrupted(err, label);
			break;
		}
	}
	if (prog != NULL)
		mv_progress_finish(prog);
	mv_progress_free(prog);
	return rc;
}
