/* core/atomic.h - atomic file output.
 *
 * Output appears under its final name complete or not at all.  The data goes
 * to an unnamed O_TMPFILE in the target directory and is linked into place
 * on commit, so even SIGKILL leaves nothing behind; where the filesystem
 * lacks O_TMPFILE a named temp file ".NAME.XXXXXX" is used instead, removed
 * on error and, through core/signal's handler, on SIGINT and SIGTERM.
 */
#ifndef MESHVM_CORE_ATOMIC_H
#define MESHVM_CORE_ATOMIC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "core/err.h"

struct mv_atomic_file {
	int fd;          /* write here (opened read-write) */
	mode_t mode;
	bool unnamed;    /* O_TMPFILE */
	int slot;        /* signal-cleanup slot of a named temp, or -1 */
	char *path;      /* final path */
	char *tmp_path;  /* named temp (NULL while unnamed) */
};

/* Open a temp file next to `path` with permissions `mode` (exactly: the
 * umask does not widen or narrow it). */
int mv_atomic_open(struct mv_atomic_file *af, const char *path, mode_t mode,
                   struct mv_err *err);
/* fsync, put the file in place (replacing any old one), fsync the dir. */
int mv_atomic_commit(struct mv_atomic_file *af, struct mv_err *err);
/* Drop the temp file. Safe after commit and on a zeroed struct. */
void mv_atomic_abort(struct mv_atomic_file *af);

/* Whole-buffer convenience. */
int mv_write_file_atomic(const char *path, const void *data, size_t len,
                         mode_t mode, struct mv_err *err);

/* As mv_atomic_commit, but never replaces: when `path` exists (even as a
 * dangling symlink) nothing is placed, the temp is dropped and 1 is
 * returned.  0 placed, -1 error.  No check-then-write window: the kernel
 * refuses the name (linkat, renameat2 RENAME_NOREPLACE, or link()). */
int mv_atomic_commit_new(struct mv_atomic_file *af, struct mv_err *err);
/* Whole-buffer convenience: 0 written, 1 `path` exists, -1 error. */
int mv_write_file_new(const char *path, const void *data, size_t len,
                      mode_t mode, struct mv_err *err);

/* Unlink every pending named temp file. Async-signal-safe: core/signal
 * calls it before the process dies of SIGINT/SIGTERM. */
void mv_atomic_cleanup_from_signal(void);

/* Testing hook: never use O_TMPFILE (exercise the named-temp path). */
void mv_atomic_force_named(bool force);

#endif
