/* core/atomic.c - atomic file output (see atomic.h). */
#include "core/atomic.h"
#include "core/util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Named temp files pending; the signal handler unlinks them. Fixed slots
 * because a handler may not allocate. */
#define TMP_SLOTS 16
static char tmp_slot_path[TMP_SLOTS][PATH_MAX];
static atomic_int tmp_slot_used[TMP_SLOTS];
static bool force_named;

void
mv_atomic_force_named(bool force)
{
	force_named = force;
}

static int
slot_take(const char *path)
{
	for (int i = 0; i < TMP_SLOTS; i++) {
		int expect = 0;
		if (strlen(path) >= PATH_MAX)
			return -1;
		if (atomic_compare_exchange_strong(&tmp_slot_used[i], &expect, 2)) {
			memcpy(tmp_slot_path[i], path, strlen(path) + 1);
			atomic_store(&tmp_slot_used[i], 1);
			return i;
		}
	}
	return -1;
}

static void
slot_release(int i)
{
	if (i >= 0)
		atomic_store(&tmp_slot_used[i], 0);
}

/* Watched directory trees, same scheme. */
#define DIR_SLOTS 4
static char dir_slot_path[DIR_SLOTS][PATH_MAX];
static atomic_int dir_slot_used[DIR_SLOTS];

int
mv_atomic_dir_watch(const char *path)
{
	if (path[0] != '/' || strlen(path) >= PATH_MAX)
		return -1;
	for (int i = 0; i < DIR_SLOTS; i++) {
		int expect = 0;
		if (atomic_compare_exchange_strong(&dir_slot_used[i], &expect, 2)) {
			memcpy(dir_slot_path[i], path, strlen(path) + 1);
			atomic_store(&dir_slot_used[i], 1);
			return i;
		}
	}
	return -1;
}

void
mv_atomic_dir_unwatch(int slot)
{
	if (slot >= 0 && slot < DIR_SLOTS)
		atomic_store(&dir_slot_used[slot], 0);
}

struct dirent64_ {
	unsigned long long d_ino;
	long long d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

/* Only system calls (no malloc, no stdio): safe in a signal handler.
 * Depth is bounded; bundles are two levels deep. */
static void
remove_at(int dfd, const char *name, dev_t dev, int depth)
{
	char buf[2048];
	struct stat st;
	bool again = true;
	int fd;

	if (unlinkat(dfd, name, 0) == 0 || errno == ENOENT)
		return;
	if (depth > 16)
		return;
	fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return;
	if (fstat(fd, &st) != 0 || (depth > 0 && st.st_dev != dev)) {
		close(fd);
		return;
	}
	/* Entries removed while reading may shift the listing: read again
	 * until a pass finds nothing left to remove. */
	while (again) {
		again = false;
		lseek(fd, 0, SEEK_SET);
		for (;;) {
			long n = syscall(SYS_getdents64, fd, buf, sizeof(buf));
			if (n <= 0)
				break;
			for (long off = 0; off < n;) {
				struct dirent64_ *d = (struct dirent64_ *)(buf + off);
				off += d->d_reclen;
				if (!strcmp(d->d_name, ".") || !strcmp(d->d_name, ".."))
					continue;
				remove_at(fd, d->d_name, st.st_dev, depth + 1);
				again = true;
			}
		}
	}
	close(fd);
	unlinkat(dfd, name, AT_REMOVEDIR);
}

int
mv_remove_tree(const char *path)
{
	struct stat st;

	remove_at(AT_FDCWD, path, 0, 0);
	return lstat(path, &st) != 0 && errno == ENOENT ? 0 : -1;
}

void
mv_atomic_cleanup_from_signal(void)
{
	for (int i = 0; i < TMP_SLOTS; i++)
		if (atomic_load(&tmp_slot_used[i]) == 1)
			unlink(tmp_slot_path[i]);
	for (int i = 0; i < DIR_SLOTS; i++)
		if (atomic_load(&dir_slot_used[i]) == 1)
			remove_at(AT_FDCWD, dir_slot_path[i], 0, 0);
}

static char *
temp_name_for(const char *path)
{
	const char *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;
	size_t dirlen = slash ? (size_t)(slash - path) + 1 : 0;
	size_t n = dirlen + strlen(base) + 16;
	char *t = malloc(n);

	if (t == NULL)
		return NULL;
	snprintf(t, n, "%.*s.%s.XXXXXX", (int)dirlen, path, base);
	return t;
}

int
mv_atomic_open(struct mv_atomic_file *af, const char *path, mode_t mode,
               struct mv_err *err)
{
	char *dir;
	int fd = -1;

	memset(af, 0, sizeof(*af));
	af->fd = -1;
	af->slot = -1;
	af->mode = mode;
	if (mv_output_check(path, err) != 0)
		return -1;
	af->path = strdup(path);
	dir = mv_dirname(path);
	if (af->path == NULL || dir == NULL) {
		free(dir);
		mv_atomic_abort(af);
		return mv_err_set(err, MV_EXIT_FAIL, "out of memory");
	}
	int open_errno = 0;
#ifdef O_TMPFILE
	if (!force_named) {
		fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
		open_errno = fd < 0 ? errno : 0;
	}
#endif
	if (fd >= 0) {
		af->unnamed = true;
	} else {
		/* These fail for a named temp file too; anything else (e.g.
		 * EOPNOTSUPP, EISDIR on old kernels) means no O_TMPFILE here. */
		if (open_errno == EACCES || open_errno == EROFS ||
		    open_errno == ENOENT || open_errno == ENOTDIR) {
			errno = open_errno;
			int e = errno;
			mv_err_sys(err, e, "%s: cannot write in directory %s", path,
			           dir);
			free(dir);
			mv_atomic_abort(af);
			return -1;
		}
		af->tmp_path = temp_name_for(path);
		if (af->tmp_path == NULL) {
			free(dir);
			mv_atomic_abort(af);
			return mv_err_set(err, MV_EXIT_FAIL, "out of memory");
		}
		/* Block SIGINT/SIGTERM until the cleanup slot holds the name:
		 * a signal in between would leak the file. */
		sigset_t block, old;
		sigemptyset(&block);
		sigaddset(&block, SIGINT);
		sigaddset(&block, SIGTERM);
		pthread_sigmask(SIG_BLOCK, &block, &old);
		fd = mkostemp(af->tmp_path, O_CLOEXEC);
		if (fd >= 0)
			af->slot = slot_take(af->tmp_path);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		if (fd < 0) {
			int e = errno;
			mv_err_sys(err, e, "%s: cannot create temp file", path);
			free(dir);
			mv_atomic_abort(af);
			return -1;
		}
	}
	free(dir);
	af->fd = fd;
	if (fchmod(fd, mode) != 0) {
		int e = errno;
		mv_atomic_abort(af);
		return mv_err_sys(err, e, "%s: chmod", path);
	}
	return 0;
}

static void
fsync_dir_of(const char *path)
{
	char *dir = mv_dirname(path);
	int dfd;

	if (dir == NULL)
		return;
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	free(dir);
}

int
mv_atomic_commit(struct mv_atomic_file *af, struct mv_err *err)
{
	char procpath[64];

	if (af->fd < 0)
		return mv_err_set(err, MV_EXIT_FAIL, "%s: nothing to commit",
		                  af->path ? af->path : "?");
	if (fsync(af->fd) != 0) {
		int e = errno;
		mv_err_sys(err, e, "%s: fsync", af->path);
		mv_atomic_abort(af);
		return -1;
	}
	if (af->unnamed) {
		/* Give the unnamed file a temp name, then rename it over the
		 * target: linkat cannot replace an existing file. */
		af->tmp_path = temp_name_for(af->path);
		if (af->tmp_path == NULL) {
			mv_atomic_abort(af);
			return mv_err_set(err, MV_EXIT_FAIL, "out of memory");
		}
		sigset_t block, old;
		sigemptyset(&block);
		sigaddset(&block, SIGINT);
		sigaddset(&block, SIGTERM);
		pthread_sigmask(SIG_BLOCK, &block, &old);
		for (int tries = 0;; tries++) {
			char *x = strrchr(af->tmp_path, '.') + 1;
			for (int i = 0; x[i] != '\0'; i++)
				x[i] = "abcdefghijklmnopqrstuvwxyz0123456789"
				       [(unsigned)random() % 36];
			snprintf(procpath, sizeof(procpath), "/proc/self/fd/%d",
			         af->fd);
			if (linkat(AT_FDCWD, procpath, AT_FDCWD, af->tmp_path,
			           AT_SYMLINK_FOLLOW) == 0)
				break;
			if (errno == ENOENT &&
			    linkat(af->fd, "", AT_FDCWD, af->tmp_path,
			           AT_EMPTY_PATH) == 0)
				break;
			if (errno != EEXIST || tries > 100) {
				int e = errno;
				pthread_sigmask(SIG_SETMASK, &old, NULL);
				mv_err_sys(err, e, "%s: link temp file", af->path);
				free(af->tmp_path);
				af->tmp_path = NULL;
				mv_atomic_abort(af);
				return -1;
			}
		}
		af->unnamed = false;
		af->slot = slot_take(af->tmp_path);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	}
	if (rename(af->tmp_path, af->path) != 0) {
		int e = errno;
		mv_err_sys(err, e, "%s: rename into place", af->path);
		mv_atomic_abort(af);
		return -1;
	}
	slot_release(af->slot);
	af->slot = -1;
	free(af->tmp_path);
	af->tmp_path = NULL;
	close(af->fd);
	af->fd = -1;
	fsync_dir_of(af->path);
	free(af->path);
	af->path = NULL;
	return 0;
}

void
mv_atomic_abort(struct mv_atomic_file *af)
{
	if (af == NULL)
		return;
	if (af->fd >= 0)
		close(af->fd);
	af->fd = -1;
	if (af->tmp_path != NULL)
		unlink(af->tmp_path);
	slot_release(af->slot);
	af->slot = -1;
	free(af->tmp_path);
	af->tmp_path = NULL;
	free(af->path);
	af->path = NULL;
}

/* Open `path` atomically and write the whole buffer (the temp is dropped
 * on failure); the caller commits. */
static int
open_and_write(struct mv_atomic_file *af, const char *path, const void *data,
               size_t len, mode_t mode, struct mv_err *err)
{
	const char *p = data;

	if (mv_atomic_open(af, path, mode, err) != 0)
		return -1;
	while (len > 0) {
		ssize_t n = write(af->fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;
			mv_err_sys(err, e, "%s: write", path);
			mv_atomic_abort(af);
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int
mv_write_file_atomic(const char *path, const void *data, size_t len,
                     mode_t mode, struct mv_err *err)
{
	struct mv_atomic_file af;

	if (open_and_write(&af, path, data, len, mode, err) != 0)
		return -1;
	return mv_atomic_commit(&af, err);
}

/*--- -o outputs ----------------------------------------------------------*/

int
mv_output_check(const char *path, struct mv_err *err)
{
	struct stat st;

	if (stat(path, &st) != 0) {
		if (errno == ENOENT)
			return 0;
		return mv_err_sys(err, errno, "%s", path);
	}
	if (S_ISREG(st.st_mode))
		return 0;
	return mv_err_set(err, MV_EXIT_FAIL,
	                  "%s: exists and is %s, not a regular file: refusing "
	                  "to replace it (-o - writes to standard output)", path,
	                  S_ISDIR(st.st_mode)    ? "a directory"
	                  : S_ISFIFO(st.st_mode) ? "a FIFO"
	                  : S_ISCHR(st.st_mode)  ? "a character device"
	                  : S_ISBLK(st.st_mode)  ? "a block device"
	                  : S_ISSOCK(st.st_mode) ? "a socket"
	                                         : "a special file");
}

/* An anonymous temp file in $TMPDIR (or /tmp) for "-o -". */
static int
spool_open(void)
{
	const char *dir = getenv("TMPDIR");
	char *tmpl;
	int fd = -1;

	if (dir == NULL || dir[0] == '\0')
		dir = "/tmp";
#ifdef O_TMPFILE
	fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0)
		return fd;
#endif
	tmpl = mv_strfmt("%s/.meshvm-out.XXXXXX", dir);
	if (tmpl == NULL)
		return -1;
	fd = mkostemp(tmpl, O_CLOEXEC);
	if (fd >= 0)
		unlink(tmpl);
	free(tmpl);
	return fd;
}

int
mv_output_open(struct mv_output *out, const char *path, mode_t mode,
               struct mv_err *err)
{
	memset(out, 0, sizeof(*out));
	out->af.fd = -1;
	out->af.slot = -1;
	if (strcmp(path, "-") != 0)
		return mv_atomic_open(&out->af, path, mode, err);
	out->std = true;
	out->af.mode = mode;
	out->af.fd = spool_open();
	if (out->af.fd < 0)
		return mv_err_sys(err, errno, "-o -: temp file");
	return 0;
}

int
mv_output_commit(struct mv_output *out, struct mv_err *err)
{
	char buf[1 << 16];
	int rc = 0;

	if (!out->std)
		return mv_atomic_commit(&out->af, err);
	if (lseek(out->af.fd, 0, SEEK_SET) != 0)
		rc = mv_err_sys(err, errno, "-o -: rewind");
	while (rc == 0) {
		ssize_t n = read(out->af.fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = mv_err_sys(err, errno, "-o -: read back");
			break;
		}
		if (n == 0)
			break;
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(STDOUT_FILENO, buf + off, (size_t)(n - off));
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0) {
				rc = mv_err_sys(err, errno, "standard output");
				break;
			}
			off += w;
		}
	}
	close(out->af.fd);
	out->af.fd = -1;
	return rc;
}

void
mv_output_abort(struct mv_output *out)
{
	if (out != NULL)
		mv_atomic_abort(&out->af);
}

int
mv_output_write(const char *path, const void *data, size_t len, mode_t mode,
                struct mv_err *err)
{
	struct mv_output out;
	const char *p = data;

	if (strcmp(path, "-") != 0)
		return mv_write_file_atomic(path, data, len, mode, err);
	if (mv_output_open(&out, path, mode, err) != 0)
		return -1;
	while (len > 0) {
		ssize_t n = write(out.af.fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;
			mv_output_abort(&out);
			return mv_err_sys(err, e, "-o -: write");
		}
		p += n;
		len -= (size_t)n;
	}
	return mv_output_commit(&out, err);
}

/* Put a named temp at `path` unless something is there: renameat2's
 * RENAME_NOREPLACE, or link()+unlink() where the filesystem lacks it
 * (link never replaces either).  0 placed, 1 exists, -1 error. */
static int
place_noreplace(const char *tmp, const char *path, struct mv_err *err)
{
	if (renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno == EEXIST)
		return 1;
	if (errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP)
		return mv_err_sys(err, errno, "%s: rename into place", path);
	if (link(tmp, path) != 0)
		return errno == EEXIST ? 1
		                       : mv_err_sys(err, errno, "%s: link into place",
		                                    path);
	unlink(tmp);
	return 0;
}

int
mv_atomic_commit_new(struct mv_atomic_file *af, struct mv_err *err)
{
	char procpath[64];
	int rc;

	if (af->fd < 0)
		return mv_err_set(err, MV_EXIT_FAIL, "%s: nothing to commit",
		                  af->path ? af->path : "?");
	if (fsync(af->fd) != 0) {
		int e = errno;
		mv_err_sys(err, e, "%s: fsync", af->path);
		mv_atomic_abort(af);
		return -1;
	}
	if (af->unnamed) {
		/* linkat gives the unnamed file its name and never replaces. */
		snprintf(procpath, sizeof(procpath), "/proc/self/fd/%d", af->fd);
		rc = linkat(AT_FDCWD, procpath, AT_FDCWD, af->path,
		            AT_SYMLINK_FOLLOW);
		if (rc != 0 && errno == ENOENT)
			rc = linkat(af->fd, "", AT_FDCWD, af->path, AT_EMPTY_PATH);
		if (rc != 0) {
			int e = errno;
			rc = e == EEXIST ? 1
			                 : mv_err_sys(err, e, "%s: link into place",
			                              af->path);
		}
	} else {
		rc = place_noreplace(af->tmp_path, af->path, err);
	}
	if (rc != 0) {
		mv_atomic_abort(af);
		return rc;
	}
	if (af->tmp_path != NULL) { /* renamed or linked away: not ours now */
		slot_release(af->slot);
		af->slot = -1;
		free(af->tmp_path);
		af->tmp_path = NULL;
	}
	close(af->fd);
	af->fd = -1;
	fsync_dir_of(af->path);
	free(af->path);
	af->path = NULL;
	return 0;
}

int
mv_write_file_new(const char *path, const void *data, size_t len,
                  mode_t mode, struct mv_err *err)
{
	struct mv_atomic_file af;

	if (open_and_write(&af, path, data, len, mode, err) != 0)
		return -1;
	return mv_atomic_commit_new(&af, err);
}
