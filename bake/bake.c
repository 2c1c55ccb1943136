/* bake/bake.c - write a bundle.
 *
 * zstd bundles (the default) take one pass over the inputs' bytes with
 * the digests computed beside the compressor (bake_zstd.c).  gzip and
 * uncompressed bundles take two: the first computes every digest (the
 * manifest comes first in the archive), the second streams the archive
 * through libarchive's filters, digesting the output as it is written.
 * Inputs are read in 1 MiB chunks, never whole.
 */
#include <archive.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bake/bake_meta.h"
#include "bake/bake_zstd.h"
#include "bake/bundle_private.h"
#include "core/atomic.h"
#include "core/progress.h"
#include "core/timing.h"

#define CHUNK (1u << 20)

struct sink {
	int fd;
	struct mv_sha256 sha; /* of the output, as it is written */
	uint64_t written;
	struct mv_err *err;
	int failed;
};

void
bake_options_init(struct bake_options *opt)
{
	const char *sde = getenv("SOURCE_DATE_EPOCH");

	memset(opt, 0, sizeof(*opt));
	opt->compress = BUNDLE_ZSTD;
	opt->source_date_epoch = sde ? strtoll(sde, NULL, 10) : 0;
	opt->progress = true;
}

static la_ssize_t
la_write(struct archive *a, void *ud, const void *buf, size_t len)
{
	struct sink *s = ud;
	const char *p = buf;
	size_t left = len;

	mv_sha256_update(&s->sha, buf, len);
	s->written += len;
	while (left > 0) {
		ssize_t n = write(s->fd, p, left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			mv_err_sys(s->err, errno, "write bundle");
			s->failed = 1;
			archive_set_error(a, EIO, "%s", s->err->msg);
			return -1;
		}
		p += n;
		left -= (size_t)n;
	}
	return (la_ssize_t)len;
}

/* Copy one input into the archive. */
static int
stream_file(struct archive *a, const struct bake_entry *e, char *buf,
            struct mv_progress *prog, struct mv_err *err)
{
	uint64_t left = e->size;
	struct stat st;
	int fd;

	fd = open(e->src, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return mv_err_sys(err, errno, "%s", e->src);
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	if (fstat(fd, &st) != 0 || !bake_same_file(&st, &e->st)) {
		close(fd);
		return mv_err_set(err, MV_EXIT_FAIL,
		                  "%s: changed while baking (digest would be "
		                  "stale); bake again", e->src);
	}
	while (left > 0) {
		size_t want = left < CHUNK ? (size_t)left : CHUNK;
		ssize_t n = read(fd, buf, want);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int en = n < 0 ? errno : 0;
			close(fd);
			if (n < 0)
				return mv_err_sys(err, en, "%s: read", e->src);
			return mv_err_set(err, MV_EXIT_FAIL,
			                  "%s: shrank while baking", e->src);
		}
		if (archive_write_data(a, buf, (size_t)n) != n) {
			close(fd);
			return mv_err_set(err, MV_EXIT_FAIL, "%s: %s", e->path,
			                  archive_error_string(a));
		}
		mv_progress_add(prog, (uint64_t)n);
		left -= (uint64_t)n;
	}
	if (fstat(fd, &st) != 0 || !bake_same_file(&st, &e->st)) {
		close(fd);
		return mv_err_set(err, MV_EXIT_FAIL,
		                  "%s: changed while baking; bake again", e->src);
	}
	close(fd);
	return 0;
}

/* A flat entry (image/rootfs.tar, bake_flat_stream) into the digest or
 * the archive. */
struct flat_sink {
	struct mv_sha256 *sha;
	struct archive *a;
	struct mv_progress *prog;
	struct mv_err err;
};

static int
flat_sink(void *ud, const void *buf, size_t len)
{
	struct flat_sink *s = ud;

	if (s->sha != NULL)
		mv_sha256_update(s->sha, buf, len);
	if (s->a != NULL && archive_write_data(s->a, buf, len) != (la_ssize_t)len)
		return mv_err_set(&s->err, MV_EXIT_FAIL, "image/rootfs.tar: %s",
		                  archive_error_string(s->a));
	mv_progress_add(s->prog, len);
	return 0;
}

static int
hash_flat(struct bake_entry *e, int64_t sde, struct mv_progress *prog,
          struct mv_err *err)
{
	struct mv_sha256 h;
	struct flat_sink s = {.sha = &h, .prog = prog};
	int rc;

	if (mv_sha256_init(&h) != 0)
		return mv_err_set(err, MV_EXIT_FAIL, "out of memory");
	mv_err_clear(&s.err);
	rc = bake_flat_stream(e, sde, flat_sink, &s, &s.err, err);
	if (rc == 0)
		mv_sha256_final_hex(&h, e->sha256);
	mv_sha256_discard(&h);
	return rc;
}

static int
stream_flat(struct archive *a, const struct bake_entry *e, int64_t sde,
            struct mv_progress *prog, struct mv_err *err)
{
	struct flat_sink s = {.a = a, .prog = prog};

	mv_err_clear(&s.err);
	return bake_flat_stream(e, sde, flat_sink, &s, &s.err, err);
}

static struct archive *
payload_writer(struct sink *s, int compress, int level, struct mv_err *err)
{
	struct archive *a = archive_write_new();

	if (a == NULL) {
		mv_err_set(err, MV_EXIT_FAIL, "out of memory");
		return NULL;
	}
	archive_write_set_format_pax_restricted(a);
	/* Big blocks: the compressor sees few large writes, not one per 10
	 * KiB record.  The last block is padded to the usual 10240 only. */
	archive_write_set_bytes_per_block(a, (int)CHUNK);
	archive_write_set_bytes_in_last_block(a, 10240);
	if (compress == BUNDLE_GZIP) {
		char o[64];
		archive_write_add_filter_gzip(a);
		snprintf(o, sizeof(o), "gzip:!timestamp,gzip:compression-level=%d",
		         level > 0 ? level : 6);
		if (archive_write_set_options(a, o) != ARCHIVE_OK) {
			mv_err_set(err, MV_EXIT_FAIL, "gzip: %s", archive_error_string(a));
			archive_write_free(a);
			return NULL;
		}
	} else {
		archive_write_add_filter_none(a);
	}
	if (archive_write_open2(a, s, NULL, la_write, NULL, NULL) != ARCHIVE_OK) {
		mv_err_set(err, MV_EXIT_FAIL, "%s", archive_error_string(a));
		archive_write_free(a);
		return NULL;
	}
	return a;
}

/* gzip and uncompressed bundles: two passes over the inputs, the first for
 * the digests (the manifest comes first), the second for the archive. */
static int
bake_two_pass(const struct bundle_spec *spec, struct bake_entry *ents,
              size_t n, uint64_t total, const struct bake_options *opt,
              struct sink *s, char **manifest_out, char **sums_out,
              struct mv_err *err)
{
	struct mv_progress *prog = NULL;
	struct archive *a = NULL;
	char *manifest = NULL, *sums = NULL, *buf = NULL;
	int rc = -1;

	if (opt->progress)
		prog = mv_progress_new("hashing", total);
	for (size_t i = 0; i < n; i++) {
		uint64_t got;
		if (ents[i].flat) {
			if (hash_flat(&ents[i], opt->source_date_epoch, prog, err) != 0)
				goto out;
			continue;
		}
		if (mv_sha256_file_hex(ents[i].src, ents[i].sha256, &got, prog,
		                       err) != 0)
			goto out;
		if (got != ents[i].size) {
			mv_err_set(err, MV_EXIT_FAIL, "%s: changed while baking",
			           ents[i].src);
			goto out;
		}
	}
	mv_progress_free(prog);
	prog = NULL;
	manifest = bake_build_manifest(spec, ents, n, opt);
	sums = manifest ? bake_build_sums(manifest, ents, n) : NULL;
	buf = malloc(CHUNK);
	if (sums == NULL || buf == NULL) {
		mv_err_set(err, MV_EXIT_FAIL, "out of memory");
		goto out;
	}
	a = payload_writer(s, opt->compress, opt->level, err);
	if (a == NULL)
		goto out;
	if (opt->progress)
		prog = mv_progress_new("writing", total);
	if (bake_write_meta_entries(a, manifest, sums, opt->source_date_epoch,
	                            err) != 0)
		goto out;
	for (size_t i = 0; i < n; i++)
		if (bake_write_header(a, ents[i].path, ents[i].size, ents[i].mode,
		                      opt->source_date_epoch, err) != 0 ||
		    (ents[i].flat ? stream_flat(a, &ents[i], opt->source_date_epoch,
		                                prog, err)
		                  : stream_file(a, &ents[i], buf, prog, err)) != 0)
			goto out;
	if (archive_write_close(a) != ARCHIVE_OK) {
		if (!s->failed)
			mv_err_set(err, MV_EXIT_FAIL, "%s", archive_error_string(a));
		goto out;
	}
	rc = 0;
out:
	mv_progress_free(prog);
	if (a != NULL)
		archive_write_free(a);
	free(buf);
	*manifest_out = manifest;
	*sums_out = sums;
	return rc;
}

int
bundle_bake(const struct bundle_spec *spec, const char *out_path,
            const struct bake_options *opt, struct bake_result *res,
            struct mv_err *err)
{
	struct bake_entry *ents = NULL;
	size_t n = 0;
	uint64_t total = 0, size = 0, rootfs_size = 0;
	char *manifest = NULL, *sums = NULL, sha[MV_SHA256_HEX] = "";
	struct mv_output o = {.af = {.fd = -1, .slot = -1}};
	struct bake_options eff = *opt;
	struct mv_timing tm;
	char *stage = NULL;
	struct sink s;
	int rc = -1;

	memset(&s, 0, sizeof(s));
	s.err = err;
	mv_timing_begin(&tm, "bake");
	if (opt->compress == BUNDLE_GZIP && opt->level > 9)
		return mv_err_set(err, MV_EXIT_USAGE, "gzip level must be 1..9");
	/* The runtime is decided here, once: the option, the spec, systemd. */
	eff.runtime = opt->runtime ? opt->runtime
	              : spec->runtime ? spec->runtime : "systemd";
	opt = &eff;
	if (bundle_spec_check_runtime(spec, opt->runtime, err) != 0)
		return -1;
	/* The output first, so an unwritable one is named before any work. */
	if (mv_output_open(&o, out_path, 0644, err) != 0)
		goto out;
	if (!strcmp(opt->runtime, "systemd")) {
		if (bake_stage_rootfs(spec, out_path, opt->source_date_epoch, &stage,
		                      &rootfs_size, err) != 0)
			goto out;
		mv_timing_mark(&tm, "sized", "rootfs.tar %llu bytes",
		               (unsigned long long)rootfs_size);
	}
	if (bake_collect_entries(spec, stage, rootfs_size, &ents, &n, err) != 0)
		goto out;
	for (size_t i = 0; i < n; i++)
		total += ents[i].size;
	if (opt->compress == BUNDLE_ZSTD) {
		struct bake_zstd_out zo;
		rc = bake_zstd(spec, ents, n, total, opt, o.af.fd, &tm, &zo, err);
		manifest = zo.manifest;
		sums = zo.sums;
		memcpy(sha, zo.sha256, sizeof(sha));
		size = zo.size;
		if (rc != 0)
			goto out;
		rc = -1;
	} else {
		s.fd = o.af.fd;
		if (mv_sha256_init(&s.sha) != 0) {
			mv_err_set(err, MV_EXIT_FAIL, "out of memory");
			goto out;
		}
		if (bake_two_pass(spec, ents, n, total, opt, &s, &manifest, &sums,
		                  err) != 0)
			goto out;
		mv_sha256_final_hex(&s.sha, sha);
		size = s.written;
		mv_timing_mark(&tm, "written", NULL);
	}
	if (res != NULL) {
		memcpy(res->sha256, sha, sizeof(res->sha256));
		res->size = size;
		res->content_size = total + strlen(manifest) + strlen(sums);
		res->n_entries = n + 2;
	}
	if (mv_output_commit(&o, err) != 0)
		goto out;
	mv_timing_mark(&tm, "committed", NULL);
	rc = 0;
out:
	if (rc != 0)
		mv_output_abort(&o);
	mv_sha256_discard(&s.sha);
	free(sums);
	free(manifest);
	bake_free_entries(ents, n);
	bake_unstage_rootfs(stage);
	return rc;
}
