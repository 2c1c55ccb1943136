/* core/poll.h - the one wait loop: call fn every interval until it says
 * done, fails, the deadline passes or Ctrl-C arrives.  Every wait on a
 * cloud operation (Compute, GKE, Kubernetes objects) goes through it, so
 * they all honour an interrupt the same way and all show progress.
 */
#ifndef MESHVM_CORE_POLL_H
#define MESHVM_CORE_POLL_H

#include "core/err.h"

/* Milliseconds on the monotonic clock (deadlines are in this unit). */
long mv_now_ms(void);

/* One probe: 1 done, 0 not yet, -1 failed (err set).  *state may be set
 * to a malloc'd one-line description ("PROVISIONING") for the progress
 * line; the loop frees it. */
typedef int (*mv_poll_fn)(void *arg, char **state, struct mv_err *err);

enum {
	MV_POLL_FAILED = -1,      /* fn failed; its err */
	MV_POLL_TIMEOUT = -2,     /* deadline passed; err "LABEL not done ..." */
	MV_POLL_INTERRUPTED = -3, /* Ctrl-C; err exit class 130 */
};

/* Poll fn until it returns non-zero or mv_now_ms() passes deadline_ms,
 * sleeping interval_ms between probes (the sleep ends early on Ctrl-C).
 * fn runs at least once.  When label is not NULL and the wait lasts more
 * than a second, a progress line "LABEL STATE (Ns)" is drawn on a
 * terminal (core/progress).  Returns 0 when done, else an MV_POLL_*
 * value with err set. */
int mv_poll_until(long deadline_ms, long interval_ms, mv_poll_fn fn,
                  void *arg, const char *label, struct mv_err *err);

#endif
