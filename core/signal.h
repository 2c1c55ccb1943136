/* core/signal.h - SIGINT/SIGTERM handling for the whole process.
 *
 * Default mode: remove pending named temp files (core/atomic) and die of
 * the signal, as if unhandled.  Graceful mode (long cloud work such as
 * `meshvm up`): the first signal only sets a flag that loops check with
 * mv_interrupted(), so the current state can be saved before exiting 130;
 * a second signal falls back to the default.
 */
#ifndef MESHVM_CORE_SIGNAL_H
#define MESHVM_CORE_SIGNAL_H

#include <stdbool.h>

void mv_signals_install(bool graceful);
bool mv_interrupted(void);
/* Sleep up to ms milliseconds; returns early (false) when interrupted. */
bool mv_sleep_ms(long ms);

#endif
