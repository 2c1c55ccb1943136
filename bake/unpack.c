/* bake/unpack.c - `bundle unpack`: verify while extracting under a
 * staging directory in DEST, then move the files into place.
 *
 * Nothing new is left in DEST on failure: errors remove the staging tree
 * (and DEST when we made it); SIGINT/SIGTERM do the same through
 * core/atomic's watched directories; after a SIGKILL the next unpack
 * recognises the stale staging tree by its name and marker file and
 * removes it.
 */
#include <archive.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "bake/bundle_private.h"
#include "core/atomic.h"
#include "core/escape.h"
#include "core/util.h"

#define STAGING_PREFIX ".meshvm-unpack-"
#define STAGING_MARKER ".meshvm-unpack"
#define MARKER_MAX 64

/* A staging directory of ours: STAGING_PREFIX + 6 characters, a real
 * directory holding a marker "meshvm unpack PID\n".  *pid gets PID. */
static bool
is_our_staging(int dfd, const char *name, long *pid)
{
	char buf[MARKER_MAX + 1], *end;
	struct stat st;
	ssize_t n;
	int d, m;

	if (strncmp(name, STAGING_PREFIX, strlen(STAGING_PREFIX)) != 0 ||
	    strlen(name) != strlen(STAGING_PREFIX) + 6)
		return false;
	d = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (d < 0)
		return false;
	m = openat(d, STAGING_MARKER, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	close(d);
	if (m < 0)
		return false;
	n = (fstat(m, &st) == 0 && S_ISREG(st.st_mode))
	            ? read(m, buf, MARKER_MAX) : -1;
	close(m);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	if (strncmp(buf, "meshvm unpack ", 14) != 0)
		return false;
	errno = 0;
	*pid = strtol(buf + 14, &end, 10);
	return errno == 0 && *pid > 0 && *end == '\n';
}

/* DEST must be absent or empty, but for staging trees of ours whose
 * process is gone (a killed unpack): those are removed. */
static int
prepare_dest(const char *path, bool *exists, struct mv_err *err)
{
	DIR *d = opendir(path);
	struct dirent *de;
	char esc[MV_ESCAPE_BUF];
	int rc = 0;

	if (d == NULL) {
		if (errno == ENOENT) {
			*exists = false;
			return 0;
		}
		return mv_err_sys(err, errno, "%s", path);
	}
	*exists = true;
	while (rc == 0 && (de = readdir(d)) != NULL) {
		long pid;
		char *stale;
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (!is_our_staging(dirfd(d), de->d_name, &pid)) {
			rc = mv_err_set(err, MV_EXIT_FAIL,
			                "%s: destination is not empty (%s)", path,
			                mv_escape(de->d_name, MV_ESCAPE_SHOW, esc,
			                          sizeof(esc)));
			break;
		}
		if (kill((pid_t)pid, 0) == 0 || errno == EPERM) {
			rc = mv_err_set(err, MV_EXIT_FAIL,
			                "%s: another unpack (pid %ld) is writing "
			                "here", path, pid);
			break;
		}
		stale = mv_path_join(path, de->d_name);
		if (stale == NULL || mv_remove_tree(stale) != 0)
			rc = mv_err_set(err, MV_EXIT_FAIL,
			                "%s/%s: cannot remove the staging directory "
			                "of a killed unpack", path, de->d_name);
		free(stale);
		rewinddir(d); /* the listing changed under us */
	}
	closedir(d);
	return rc;
}

/* Everything checked out: move the staged top-level entries into DEST
 * (the marker stays behind).  A failure part-way moves back what was
 * already moved, so DEST holds nothing new. */
static int
move_into_place(const char *staging, const char *dest, struct mv_err *err)
{
	char **names = NULL;
	size_t n = 0, moved = 0;
	struct dirent *de;
	DIR *d = opendir(staging);
	int rc = 0;

	if (d == NULL)
		return mv_err_sys(err, errno, "%s", staging);
	while ((de = readdir(d)) != NULL) {
		char **nn;
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
		    !strcmp(de->d_name, STAGING_MARKER))
			continue;
		nn = realloc(names, (n + 1) * sizeof(*names));
		if (nn == NULL || (nn[n] = strdup(de->d_name)) == NULL) {
			names = nn ? nn : names;
			rc = mv_err_set(err, MV_EXIT_FAIL, "out of memory");
			break;
		}
		names = nn;
		n++;
	}
	closedir(d);
	for (; rc == 0 && moved < n; moved++) {
		char *from = mv_path_join(staging, names[moved]);
		char *to = mv_path_join(dest, names[moved]);
		if (from == NULL || to == NULL)
			rc = mv_err_set(err, MV_EXIT_FAIL, "out of memory");
		else if (rename(from, to) != 0)
			rc = mv_err_sys(err, errno, "%s: move into place", to);
		free(from);
		free(to);
		if (rc != 0)
			break;
	}
	if (rc != 0)
		for (size_t i = 0; i < moved; i++) {
			char *to = mv_path_join(dest, names[i]);
			if (to != NULL)
				mv_remove_tree(to);
			free(to);
		}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return rc;
}

/* Make the staging directory and its marker; watch it (or DEST, when we
 * made DEST) so a signal removes it. */
static int
make_staging(const char *dest, bool made_dest, char **staging, int *slot,
             struct mv_err *err)
{
	char *abs_dest = realpath(dest, NULL), *marker = NULL, *line = NULL;
	sigset_t block, old;
	int rc = -1;

	*staging = NULL;
	*slot = -1;
	if (abs_dest == NULL)
		return mv_err_sys(err, errno, "%s", dest);
	*staging = mv_strfmt("%s/" STAGING_PREFIX "XXXXXX", abs_dest);
	if (*staging == NULL) {
		free(abs_dest);
		return mv_err_set(err, MV_EXIT_FAIL, "out of memory");
	}
	/* No signal between making the directory and watching it. */
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	if (mkdtemp(*staging) == NULL) {
		mv_err_sys(err, errno, "%s: staging directory", dest);
		free(*staging);
		*staging = NULL;
	} else {
		*slot = mv_atomic_dir_watch(made_dest ? abs_dest : *staging);
		rc = 0;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	free(abs_dest);
	if (rc != 0)
		return -1;
	/* The marker is only a hint for the next run: no fsync. */
	marker = mv_path_join(*staging, STAGING_MARKER);
	line = mv_strfmt("meshvm unpack %ld\n", (long)getpid());
	if (marker == NULL || line == NULL) {
		rc = mv_err_set(err, MV_EXIT_FAIL, "out of memory");
	} else {
		int fd = open(marker, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
		                              O_CLOEXEC, 0644);
		if (fd < 0 || write(fd, line, strlen(line)) !=
		                      (ssize_t)strlen(line))
			rc = mv_err_sys(err, errno, "%s", marker);
		if (fd >= 0)
			close(fd);
	}
	free(marker);
	free(line);
	return rc;
}

int
bundle_unpack(const char *path, const char *dest,
              const struct bundle_read_options *opt,
              struct bundle_info **out, struct mv_err *err)
{
	struct bundle_scan_target target = {NULL, dest, 0, 0};
	struct archive *disk = NULL;
	struct statvfs vfs;
	char *staging = NULL;
	bool existed = false;
	int fd = -1, cwd = -1, rc = -1, slot = -1;

	*out = NULL;
	if (prepare_dest(dest, &existed, err) != 0)
		return -1;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return mv_err_sys(err, errno, "%s", path);
	if (!existed && mkdir(dest, 0755) != 0) {
		int e = errno;
		close(fd);
		return mv_err_sys(err, e, "%s: mkdir", dest);
	}
	if (make_staging(dest, !existed, &staging, &slot, err) != 0)
		goto out;
	if (statvfs(staging, &vfs) != 0) {
		mv_err_sys(err, errno, "%s: statvfs", dest);
		goto out;
	}
	target.free_bytes = (uint64_t)vfs.f_bavail * vfs.f_frsize;
	target.max_size = opt != NULL && opt->max_size > 0
	                          ? opt->max_size : BUNDLE_UNPACK_MAX_DEFAULT;
	cwd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cwd < 0 || chdir(staging) != 0) {
		mv_err_sys(err, errno, "%s: chdir", staging);
		goto out;
	}
	/* Entry names stay relative to the staging directory (we chdir into
	 * it), so libarchive's own refusals apply on top of ours. */
	disk = archive_write_disk_new();
	if (disk == NULL) {
		mv_err_set(err, MV_EXIT_FAIL, "out of memory");
		goto restore;
	}
	archive_write_disk_set_options(
		disk, ARCHIVE_EXTRACT_SECURE_SYMLINKS |
		              ARCHIVE_EXTRACT_SECURE_NODOTDOT |
		              ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS |
		              ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME |
		              ARCHIVE_EXTRACT_NO_OVERWRITE);
	target.disk = disk;
	rc = bundle_scan(fd, path, opt, &target, out, err);
	if (rc == 0 && archive_write_close(disk) != ARCHIVE_OK) {
		mv_err_set(err, MV_EXIT_FAIL, "%s: %s", dest,
		           archive_error_string(disk));
		bundle_info_free(*out);
		*out = NULL;
		rc = -1;
	}
restore:
	if (cwd >= 0 && fchdir(cwd) != 0 && rc == 0) {
		mv_err_sys(err, errno, "restore working directory");
		bundle_info_free(*out);
		*out = NULL;
		rc = -1;
	}
	if (rc == 0 && move_into_place(staging, dest, err) != 0) {
		bundle_info_free(*out);
		*out = NULL;
		rc = -1;
	}
out:
	if (disk != NULL)
		archive_write_free(disk);
	if (cwd >= 0)
		close(cwd);
	if (fd >= 0)
		close(fd);
	if (rc == 0) { /* in place: a signal from here on must not undo it */
		mv_atomic_dir_unwatch(slot);
		slot = -1;
	}
	if (staging != NULL)
		mv_remove_tree(staging);
	if (rc != 0 && !existed)
		mv_remove_tree(dest);
	mv_atomic_dir_unwatch(slot);
	free(staging);
	return rc;
}
