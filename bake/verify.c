/* bake/verify.c - the bundle scan (verify; unpack in unpack.c) and
 * inspect.
 *
 * One scan serves both: read the manifest (first entry), then check
 * every entry against it while (for unpack) writing it under a staging
 * directory.  Nothing is trusted before it was checked: an entry is
 * refused on its header alone (path, type, mode, listing) before a byte of
 * it is written.
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bake/bundle_private.h"
#include "bake/digestq.h"
#include "bake/reader.h"
#include "core/escape.h"
#include "core/progress.h"
#include "core/timing.h"

/* Paths from a bundle are untrusted: messages show them escaped and cut. */
#define ESC(s, buf) mv_escape((s), MV_ESCAPE_SHOW, (buf), sizeof(buf))

struct scan {
	const char *name;
	const struct bundle_scan_target *target; /* unpack only */
	struct bundle_reader *reader;
	struct digestq *dq; /* hashes the entries' bytes on its own thread */
	struct archive *a;
	struct archive *disk; /* unpack only */
	struct bundle_info *info;
	bool *seen;
	bool sums_seen;
	char manifest_sha[MV_SHA256_HEX];
	char *last_path;
};

static int
verr(struct mv_err *err, const char *name, const char *entry,
     const char *why)
{
	char esc[MV_ESCAPE_BUF];

	return mv_err_set(err, MV_EXIT_VERIFY, "%s: %s: %s", name,
	                  ESC(entry, esc), why);
}

static char *
read_all(struct archive *a, size_t max, size_t *len)
{
	size_t cap = 65536, n = 0;
	char *buf = malloc(cap + 1);

	if (buf == NULL)
		return NULL;
	for (;;) {
		la_ssize_t r;
		if (n == cap) {
			char *nb;
			if (cap >= max) {
				free(buf);
				return NULL;
			}
			cap *= 2;
			nb = realloc(buf, cap + 1);
			if (nb == NULL) {
				free(buf);
				return NULL;
			}
			buf = nb;
		}
		r = archive_read_data(a, buf + n, cap - n);
		if (r < 0) {
			free(buf);
			return NULL;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	buf[n] = '\0';
	*len = n;
	return buf;
}

/* Refuse an entry on its header: what it is, where it would go. */
static int
check_header(struct scan *sc, struct archive_entry *e, struct mv_err *err)
{
	const char *path = archive_entry_pathname(e);
	mode_t type = archive_entry_filetype(e);
	mode_t mode = archive_entry_mode(e);

	if (path == NULL || path[0] == '\0')
		return verr(err, sc->name, "(entry)", "entry without a name");
	if (path[0] == '/')
		return verr(err, sc->name, path, "absolute path refused");
	if (!strcmp(path, "..") || !strncmp(path, "../", 3) ||
	    strstr(path, "/../") != NULL ||
	    (strlen(path) >= 3 && !strcmp(path + strlen(path) - 3, "/..")))
		return verr(err, sc->name, path, "'..' component refused");
	if (archive_entry_hardlink(e) != NULL)
		return verr(err, sc->name, path, "hard link refused");
	if (type == AE_IFLNK || archive_entry_symlink(e) != NULL)
		return verr(err, sc->name, path, "symbolic link refused");
	if (type == AE_IFCHR || type == AE_IFBLK)
		return verr(err, sc->name, path, "device node refused");
	if (type == AE_IFIFO)
		return verr(err, sc->name, path, "FIFO refused");
	if (type == AE_IFSOCK)
		return verr(err, sc->name, path, "socket refused");
	if (type == AE_IFDIR)
		return verr(err, sc->name, path,
		            "directory entry refused (bundles list files only)");
	if (type != AE_IFREG)
		return verr(err, sc->name, path, "not a regular file");
	if (mode & (S_ISUID | S_ISGID | S_ISVTX))
		return verr(err, sc->name, path,
		            "setuid/setgid/sticky bit refused");
	if (!bundle_path_is_safe(path))
		return verr(err, sc->name, path, "unsafe path refused");
	if (!bundle_path_in_layout(path))
		return verr(err, sc->name, path,
		            "not a path of the bundle format refused (identity/, "
		            "image/, sidecar/, units/NAME.service)");
	if (archive_entry_size_is_set(e) == 0)
		return verr(err, sc->name, path, "entry without a size");
	return 0;
}

static int
check_sums(struct scan *sc, const char *buf, size_t len, struct mv_err *err)
{
	size_t cap = (sc->info->n_files + 1) * (64 + 2 + 256 + 1) + 1, off = 0;
	char *want = malloc(cap);
	int rc = 0;

	if (want == NULL)
		return mv_err_set(err, MV_EXIT_FAIL, "out of memory");
	off += (size_t)snprintf(want + off, cap - off, "%s  %s\n",
	                        sc->manifest_sha, BUNDLE_MANIFEST);
	for (size_t i = 0; i < sc->info->n_files; i++)
		off += (size_t)snprintf(want + off, cap - off, "%s  %s\n",
		                        sc->info->files[i].sha256,
		                        sc->info->files[i].path);
	if (off != len || memcmp(want, buf, len) != 0)
		rc = verr(err, sc->name, BUNDLE_SUMS,
		          "does not match MANIFEST.json");
	free(want);
	return rc;
}

/* A write into DEST failed: name the file and say why (errno text, e.g.
 * "No space left on device"). */
static int
disk_err(struct scan *sc, const char *path, const char *what,
         struct mv_err *err)
{
	char esc[MV_ESCAPE_BUF];
	int e = archive_errno(sc->disk);

	if (e > 0)
		return mv_err_set(err, MV_EXIT_FAIL, "%s/%s: %s: %s",
		                  sc->target->dest, ESC(path, esc), what,
		                  strerror(e));
	return mv_err_set(err, MV_EXIT_FAIL, "%s/%s: %s: %s", sc->target->dest,
	                  ESC(path, esc), what, archive_error_string(sc->disk));
}

/* Stream one entry's data: queue it for the digest thread (the bytes
 * stay in the reader's buffers until hashed), optionally write it out.
 * The digest is compared on that thread; bundle_scan reports it. */
static int
scan_data(struct scan *sc, const char *path, const struct bundle_file *f,
          struct mv_err *err)
{
	uint64_t total = 0;

	digestq_begin(sc->dq);
	for (;;) {
		const void *buf;
		size_t size;
		la_int64_t offset;
		int r = archive_read_data_block(sc->a, &buf, &size, &offset);
		if (r == ARCHIVE_EOF)
			break;
		if (r != ARCHIVE_OK)
			return verr(err, sc->name, path, archive_error_string(sc->a));
		if ((uint64_t)offset != total)
			return verr(err, sc->name, path, "sparse entry refused");
		total += size;
		if (total > f->size)
			return verr(err, sc->name, path, "larger than the manifest says");
		/* libarchive hands out the reader's buffers but for a few bytes
		 * it stitched together in its own (after a header that
		 * straddled two): those are copied. */
		if (bundle_reader_owns(sc->reader, buf, size))
			digestq_data(sc->dq, buf, size);
		else
			digestq_data_copy(sc->dq, buf, size);
		if (sc->disk != NULL &&
		    archive_write_data_block(sc->disk, buf, size, offset) !=
		            ARCHIVE_OK)
			return disk_err(sc, path, "write", err);
	}
	if (total != f->size)
		return verr(err, sc->name, path,
		            "size differs from the manifest (truncated?)");
	digestq_end(sc->dq, (size_t)(f - sc->info->files), f->sha256);
	return 0;
}

/* The reader's hook: a buffer libarchive gave back is reused once the
 * digest thread passed it. */
static void
defer_to_digest(void *ud, uint64_t token)
{
	digestq_mark(ud, token);
}

static void
release_to_reader(void *ud, uint64_t token)
{
	bundle_reader_release(ud, token);
}

/* Wait for the digest thread.  A file it found different came before
 * anything the scan stopped at (it runs behind the scan, in order), so
 * it is the first problem and replaces err. */
static int
digest_sync(struct scan *sc, int rc, struct mv_err *err)
{
	size_t bad = 0;
	int d = digestq_sync(sc->dq, &bad);

	if (d == 1)
		return verr(err, sc->name, sc->info->files[bad].path,
		            "sha256 differs from the manifest");
	if (d < 0 && rc == 0)
		return mv_err_set(err, MV_EXIT_FAIL, "out of memory");
	return rc;
}

static int
disk_header(struct scan *sc, const char *path, uint64_t size, unsigned mode,
            struct mv_err *err)
{
	struct archive_entry *d;
	int r;

	if (sc->disk == NULL)
		return 0;
	d = archive_entry_new();
	if (d == NULL)
		return mv_err_set(err, MV_EXIT_FAIL, "out of memory");
	archive_entry_set_pathname(d, path);
	archive_entry_set_filetype(d, AE_IFREG);
	archive_entry_set_perm(d, mode & 0755);
	archive_entry_set_size(d, (la_int64_t)size);
	archive_entry_set_mtime(d, (time_t)sc->info->source_date_epoch, 0);
	r = archive_write_header(sc->disk, d);
	archive_entry_free(d);
	if (r != ARCHIVE_OK)
		return disk_err(sc, path, "create", err);
	return 0;
}

static int
disk_finish(struct scan *sc, const char *path, struct mv_err *err)
{
	if (sc->disk != NULL && archive_write_finish_entry(sc->disk) != ARCHIVE_OK)
		return disk_err(sc, path, "write", err);
	return 0;
}

/* Unpack: the manifest says how much will be written; refuse before the
 * first byte when that is over the limit or DEST's free space.  (Each
 * entry is then held to its listed size as it streams.) */
static int
check_room(struct scan *sc, struct mv_err *err)
{
	uint64_t need = sc->info->content_size;
	char h1[32], h2[32];

	if (need > sc->target->max_size)
		return mv_err_set(err, MV_EXIT_VERIFY,
		                  "%s: the manifest lists %s of files, over the "
		                  "unpack limit of %s (--max-size)", sc->name,
		                  mv_human_bytes(need, h1, sizeof(h1)),
		                  mv_human_bytes(sc->target->max_size, h2,
		                                 sizeof(h2)));
	if (need > sc->target->free_bytes)
		return mv_err_set(err, MV_EXIT_FAIL,
		                  "%s: the manifest lists %s of files, more than "
		                  "the %s free in %s", sc->name,
		                  mv_human_bytes(need, h1, sizeof(h1)),
		                  mv_human_bytes(sc->target->free_bytes, h2,
		                                 sizeof(h2)),
		                  sc->target->dest);
	return 0;
}

static int
scan_bundle(struct scan *sc, struct mv_err *err)
{
	struct archive_entry *e;
	size_t len = 0;
	char *buf;
	int r;

	r = archive_read_next_header(sc->a, &e);
	if (r != ARCHIVE_OK)
		return mv_err_set(err, MV_EXIT_VERIFY,
		                  "%s: not a meshvm bundle: %s", sc->name,
		                  r == ARCHIVE_EOF ? "empty archive"
		                                   : archive_error_string(sc->a));
	if (strcmp(archive_entry_pathname(e) ? archive_entry_pathname(e) : "",
	           BUNDLE_MANIFEST) != 0 ||
	    archive_entry_filetype(e) != AE_IFREG)
		return verr(err, sc->name,
		            archive_entry_pathname(e) ? archive_entry_pathname(e)
		                                      : "?",
		            "the first entry must be " BUNDLE_MANIFEST);
	if (archive_entry_size(e) > (la_int64_t)BUNDLE_MANIFEST_MAX)
		return verr(err, sc->name, BUNDLE_MANIFEST, "too large");
	buf = read_all(sc->a, BUNDLE_MANIFEST_MAX, &len);
	if (buf == NULL)
		return mv_err_set(err, MV_EXIT_VERIFY, "%s: %s: unreadable: %s",
		                  sc->name, BUNDLE_MANIFEST,
		                  archive_error_string(sc->a));
	mv_sha256_buf_hex(buf, len, sc->manifest_sha);
	if (bundle_manifest_parse(buf, len, sc->info, err) != 0) {
		free(buf);
		mv_err_prefix(err, "%s", sc->name);
		return -1;
	}
	if (sc->target != NULL && check_room(sc, err) != 0) {
		free(buf);
		return -1;
	}
	if (disk_header(sc, BUNDLE_MANIFEST, len, 0644, err) != 0 ||
	    (sc->disk != NULL &&
	     archive_write_data(sc->disk, buf, len) != (la_ssize_t)len &&
	     disk_err(sc, BUNDLE_MANIFEST, "write", err)) ||
	    disk_finish(sc, BUNDLE_MANIFEST, err) != 0) {
		free(buf);
		return -1;
	}
	free(buf);
	sc->seen = calloc(sc->info->n_files ? sc->info->n_files : 1, 1);
	sc->last_path = strdup(BUNDLE_MANIFEST);
	if (sc->seen == NULL || sc->last_path == NULL)
		return mv_err_set(err, MV_EXIT_FAIL, "out of memory");

	while ((r = archive_read_next_header(sc->a, &e)) == ARCHIVE_OK) {
		const char *path = archive_entry_pathname(e);
		const struct bundle_file *f;

		if (check_header(sc, e, err) != 0)
			return -1;
		if (!strcmp(path, BUNDLE_MANIFEST))
			return verr(err, sc->name, path, "duplicate entry");
		if (!strcmp(path, BUNDLE_SUMS)) {
			if (sc->sums_seen)
				return verr(err, sc->name, path, "duplicate entry");
			sc->sums_seen = true;
			if (archive_entry_size(e) > (la_int64_t)BUNDLE_MANIFEST_MAX)
				return verr(err, sc->name, path, "too large");
			buf = read_all(sc->a, BUNDLE_MANIFEST_MAX, &len);
			if (buf == NULL)
				return mv_err_set(err, MV_EXIT_VERIFY,
				                  "%s: %s: unreadable: %s", sc->name,
				                  path, archive_error_string(sc->a));
			if (check_sums(sc, buf, len, err) != 0 ||
			    disk_header(sc, path, len, 0644, err) != 0 ||
			    (sc->disk != NULL &&
			     archive_write_data(sc->disk, buf, len) != (la_ssize_t)len &&
			     disk_err(sc, path, "write", err)) ||
			    disk_finish(sc, path, err) != 0) {
				free(buf);
				return -1;
			}
			free(buf);
		} else {
			f = bundle_info_find(sc->info, path);
			if (f == NULL)
				return verr(err, sc->name, path,
				            "not listed in MANIFEST.json");
			if (sc->seen[f - sc->info->files])
				return verr(err, sc->name, path, "duplicate entry");
			sc->seen[f - sc->info->files] = true;
			if ((uint64_t)archive_entry_size(e) != f->size)
				return verr(err, sc->name, path,
				            "size differs from the manifest");
			if ((archive_entry_perm(e) & 07777) != f->mode)
				return verr(err, sc->name, path,
				            "mode differs from the manifest");
			if (disk_header(sc, path, f->size, f->mode, err) != 0 ||
			    scan_data(sc, path, f, err) != 0 ||
			    disk_finish(sc, path, err) != 0)
				return -1;
		}
		if (strcmp(sc->last_path, path) >= 0)
			return verr(err, sc->name, path,
			            "entries out of order (bundles are sorted)");
		free(sc->last_path);
		sc->last_path = strdup(path);
		if (sc->last_path == NULL)
			return mv_err_set(err, MV_EXIT_FAIL, "out of memory");
	}
	if (r != ARCHIVE_EOF) {
		char esc[MV_ESCAPE_BUF];
		return mv_err_set(err, MV_EXIT_VERIFY, "%s: %s (after %s)",
		                  sc->name, archive_error_string(sc->a),
		                  ESC(sc->last_path, esc));
	}
	if (!sc->sums_seen)
		return verr(err, sc->name, BUNDLE_SUMS, "missing");
	for (size_t i = 0; i < sc->info->n_files; i++)
		if (!sc->seen[i])
			return verr(err, sc->name, sc->info->files[i].path,
			            "listed in MANIFEST.json but missing");
	return 0;
}

/* MESHVM_TRACE_TIMING=1: where each of the three threads spent the scan
 * (the digest thread never waiting means the wall is SHA-256's). */
static void
trace_threads(struct scan *sc, struct mv_timing *tm)
{
	double dec, full, empty, dig, starved, scan = 0;
	struct timespec ts;

	bundle_reader_stats(sc->reader, &dec, &full, &empty);
	digestq_stats(sc->dq, &dig, &starved);
	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) == 0)
		scan = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
	mv_timing_mark(tm, "checked",
	               "decoder cpu %.3fs (waited %.3fs for a free slot), "
	               "digest cpu %.3fs (waited %.3fs for bytes), scan cpu "
	               "%.3fs (waited %.3fs for decoded bytes)", dec, full, dig,
	               starved, scan, empty);
}

int
bundle_scan(int fd, const char *name, const struct bundle_read_options *opt,
            const struct bundle_scan_target *target, struct bundle_info **out,
            struct mv_err *err)
{
	struct archive *disk = target != NULL ? target->disk : NULL;
	struct scan sc;
	struct mv_progress *prog = NULL;
	struct mv_timing tm;
	struct stat st;
	int rc = -1;

	*out = NULL;
	mv_timing_begin(&tm, disk ? "unpack" : "verify");
	memset(&sc, 0, sizeof(sc));
	sc.name = name;
	sc.disk = disk;
	sc.target = target;
	sc.info = calloc(1, sizeof(*sc.info));
	if (sc.info == NULL)
		return mv_err_set(err, MV_EXIT_FAIL, "out of memory");
	if (opt != NULL && opt->progress && fstat(fd, &st) == 0 &&
	    S_ISREG(st.st_mode))
		prog = mv_progress_new(disk ? "unpacking" : "verifying",
		                       (uint64_t)st.st_size);
	/* The whole-file digest costs a third hashing stream; compute it only
	 * when there is one to check. */
	if (bundle_reader_open(&sc.reader, fd, name,
	                       opt != NULL && opt->expect_sha256 != NULL, prog,
	                       err) != 0)
		goto out;
	sc.a = bundle_reader_archive(sc.reader);
	if (digestq_open(&sc.dq, release_to_reader, sc.reader, err) != 0)
		goto out;
	bundle_reader_defer(sc.reader, defer_to_digest, sc.dq);
	if (digest_sync(&sc, scan_bundle(&sc, err), err) != 0)
		goto out;
	/* Everything was hashed and given back: the reader frees its own
	 * buffers from here on (its end checks read on). */
	bundle_reader_defer(sc.reader, NULL, NULL);
	if (bundle_reader_finish(sc.reader, sc.info->sha256,
	                         &sc.info->file_size, err) != 0)
		goto out;
	if (tm.on)
		trace_threads(&sc, &tm);
	sc.info->compression = bundle_reader_compression(sc.reader);
	if (opt != NULL && opt->expect_sha256 != NULL &&
	    strcmp(opt->expect_sha256, sc.info->sha256) != 0) {
		mv_err_set(err, MV_EXIT_VERIFY,
		           "%s: bundle sha256 %s differs from the expected %s", name,
		           sc.info->sha256, opt->expect_sha256);
		goto out;
	}
	rc = 0;
out:
	mv_progress_free(prog);
	digestq_free(sc.dq); /* before the reader its thread gives back to */
	bundle_reader_free(sc.reader);
	free(sc.seen);
	free(sc.last_path);
	if (rc == 0)
		*out = sc.info;
	else
		bundle_info_free(sc.info);
	return rc;
}

int
bundle_verify_fd(int fd, const char *name,
                 const struct bundle_read_options *opt,
                 struct bundle_info **out, struct mv_err *err)
{
	return bundle_scan(fd, name, opt, NULL, out, err);
}

int
bundle_verify(const char *path, const struct bundle_read_options *opt,
              struct bundle_info **out, struct mv_err *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int rc;

	*out = NULL;
	if (fd < 0)
		return mv_err_sys(err, errno, "%s", path);
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	rc = bundle_verify_fd(fd, path, opt, out, err);
	close(fd);
	return rc;
}

int
bundle_inspect(const char *path, struct bundle_info **out,
               struct mv_err *err)
{
	struct bundle_reader *r = NULL;
	struct bundle_info *info;
	struct archive_entry *e;
	struct stat st;
	char *buf;
	size_t len;
	int fd, rc = -1;

	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return mv_err_sys(err, errno, "%s", path);
	info = calloc(1, sizeof(*info));
	if (info == NULL) {
		close(fd);
		return mv_err_set(err, MV_EXIT_FAIL, "out of memory");
	}
	if (bundle_reader_open(&r, fd, path, false, NULL, err) != 0)
		goto out;
	if (archive_read_next_header(bundle_reader_archive(r), &e) !=
	            ARCHIVE_OK ||
	    strcmp(archive_entry_pathname(e), BUNDLE_MANIFEST) != 0) {
		mv_err_set(err, MV_EXIT_VERIFY,
		           "%s: not a meshvm bundle (first entry is not %s)", path,
		           BUNDLE_MANIFEST);
		goto out;
	}
	buf = read_all(bundle_reader_archive(r), BUNDLE_MANIFEST_MAX, &len);
	if (buf == NULL) {
		mv_err_set(err, MV_EXIT_VERIFY, "%s: %s unreadable", path,
		           BUNDLE_MANIFEST);
		goto out;
	}
	rc = bundle_manifest_parse(buf, len, info, err);
	free(buf);
	if (rc != 0) {
		mv_err_prefix(err, "%s", path);
		goto out;
	}
	rc = -1;
	info->compression = bundle_reader_compression(r);
	bundle_reader_free(r);
	r = NULL;
	if (fstat(fd, &st) != 0 ||
	    mv_sha256_file_hex(path, info->sha256, &info->file_size, NULL,
	                       err) != 0)
		goto out;
	rc = 0;
out:
	bundle_reader_free(r);
	close(fd);
	if (rc == 0)
		*out = info;
	else
		bundle_info_free(info);
	return rc;
}

