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

/* Unlink every pending named temp file and remove every watched
 * directory tree. Async-signal-safe: core/signal calls it before the
 * process dies of SIGINT/SIGTERM. */
void mv_atomic_cleanup_from_signal(void);

/* A directory being filled (e.g. unpack's staging tree) that must not
 * outlive an interrupted run: mv_atomic_cleanup_from_signal removes it
 * whole.  `path` must be absolute (the process may chdir).  Returns a slot
 * for mv_atomic_dir_unwatch, or -1 when every slot is taken. */
int mv_atomic_dir_watch(const char *path);
void mv_atomic_dir_unwatch(int slot);

/* Remove a directory tree (or a file): never follows a symbolic link and
 * never crosses into another filesystem.  Async-signal-safe.  0 when
 * `path` is gone afterwards. */
int mv_remove_tree(const char *path);

/* 0 when `path` is absent or a regular file; otherwise (a device, FIFO,
 * directory or socket) an error naming it.  mv_atomic_open refuses such a
 * path too: an atomic replace would swap a device node for a file. */
int mv_output_check(const char *path, struct mv_err *err);

/* The output that `-o PATH` names, for every command that writes one:
 * "-" is standard output (written only on commit, from a temp file, so a
 * failure writes nothing and the writer may seek); anything else is
 * mv_atomic_open (existing non-regular files refused).  Write to
 * out->af.fd; finish with mv_output_commit or mv_output_abort. */
struct mv_output {
	struct mv_atomic_file af;
	bool std;
};
int mv_output_open(struct mv_output *out, const char *path, mode_t mode,
                   struct mv_err *err);
int mv_output_commit(struct mv_output *out, struct mv_err *err);
void mv_output_abort(struct mv_output *out);
/* Whole-buffer convenience. */
int mv_output_write(const char *path, const void *data, size_t len,
                    mode_t mode, struct mv_err *err);

/* Testing hook: never use O_TMPFILE (exercise the named-temp path). */
void mv_atomic_force_named(bool force);

#endif
