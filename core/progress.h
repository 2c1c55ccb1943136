/* core/progress.h - a progress line for long work.
 *
 * Draws on stderr only when it is a terminal (and progress was not turned
 * off, e.g. by --json); otherwise every call is a cheap no-op.  Shows bytes
 * done/total, rate and ETA, redrawn at most ~10 times a second.  Thread-safe:
 * workers may call mv_progress_add concurrently.
 */
#ifndef MESHVM_CORE_PROGRESS_H
#define MESHVM_CORE_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>

struct mv_progress;

/* Globally allow or forbid drawing (default: allowed). */
void mv_progress_set_enabled(bool enabled);

/* A bar for `total` bytes (0 = unknown). Never NULL except on ENOMEM, and
 * every function accepts NULL. Caller frees with mv_progress_free. */
struct mv_progress *mv_progress_new(const char *label, uint64_t total);
void mv_progress_add(struct mv_progress *p, uint64_t bytes);
/* Replace the free-text state shown after the label (e.g. "RUNNING"). */
void mv_progress_state(struct mv_progress *p, const char *state);
/* Clear the line; the bar can be freed afterwards. */
void mv_progress_finish(struct mv_progress *p);
void mv_progress_free(struct mv_progress *p);

/* "1.5 GiB" style; returns buf. */
const char *mv_human_bytes(uint64_t bytes, char *buf, unsigned len);

#endif
