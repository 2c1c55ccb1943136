/* core/signal.c - see signal.h. */
#include "core/signal.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <time.h>

#include "core/atomic.h"

static volatile sig_atomic_t graceful_mode;
static volatile sig_atomic_t interrupted;

static void
on_signal(int sig)
{
	int saved = errno; /* the interrupted code may be about to read it */

	if (graceful_mode && !interrupted) {
		interrupted = 1;
		errno = saved;
		return;
	}
	mv_atomic_cleanup_from_signal();
	signal(sig, SIG_DFL);
	raise(sig);
	errno = saved;
}

void
mv_signals_install(bool graceful)
{
	struct sigaction sa;

	graceful_mode = graceful;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

bool
mv_interrupted(void)
{
	return interrupted != 0;
}

bool
mv_sleep_ms(long ms)
{
	/* Sleep in slices so an interrupt is noticed within 50 ms. */
	while (ms > 0 && !interrupted) {
		long slice = ms > 50 ? 50 : ms;
		struct timespec ts = {slice / 1000, (slice % 1000) * 1000000L};
		nanosleep(&ts, NULL);
		ms -= slice;
	}
	return !interrupted;
}
