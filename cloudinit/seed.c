/* cloudinit/seed.c - the NoCloud seed ISO, with libarchive's iso9660
 * writer.
 *
 * cloud-init's NoCloud datasource finds a filesystem labelled cidata and
 * reads user-data, meta-data and network-config from it.  It needs Rock
 * Ridge or Joliet to see those names (plain ISO 9660 names cannot hold
 * '-'); libarchive writes the primary volume id as CIDATA and the Joliet
 * one as cidata, both of which cloud-init and blkid accept.  Rock Ridge is
 * "strict" so the token keeps mode 0600 (the "useful" rules would make
 * every file world-readable).
 *
 * libarchive 3.6.2 stamps the current time into the volume descriptors,
 * so two seeds differ in a few bytes; the tree, contents and modes are
 * the same for the same inputs.
 */
#include <archive.h>
#include <archive_entry.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cloudinit/cloudinit_private.h"
#include "core/atomic.h"
#include "core/yaml.h"

#define TOKEN_MAX (64u << 10)
#define NETCFG_MAX (1u << 20)

int
cloudinit_hostname_check(const char *name, struct mv_err *err)
{
	size_t n = strlen(name), label = 0;

	if (n == 0 || n > 253)
		return mv_err_set(err, MV_EXIT_USAGE,
		                  "--hostname: '%s' must be 1..253 characters", name);
	for (size_t i = 0; i <= n; i++) {
		char c = name[i];
		if (c == '.' || c == '\0') {
			if (label == 0 || label > 63 || name[i - 1] == '-')
				return mv_err_set(err, MV_EXIT_USAGE,
				                  "--hostname: '%s' is not a valid host "
				                  "name (RFC 1123 labels of 1..63 letters, "
				                  "digits and inner hyphens)", name);
			label = 0;
			continue;
		}
		if (!(isalnum((unsigned char)c) || (c == '-' && label > 0)))
			return mv_err_set(err, MV_EXIT_USAGE,
			                  "--hostname: '%s' is not a valid host name "
			                  "(RFC 1123 labels of 1..63 letters, digits "
			                  "and inner hyphens)", name);
		label++;
	}
	return 0;
}

static int
instance_id_check(const char *id, struct mv_err *err)
{
	size_t n = strlen(id);

	if (n == 0 || n > 255)
		return mv_err_set(err, MV_EXIT_USAGE,
		                  "--instance-id must be 1..255 characters");
	for (const char *p = id; *p; p++)
		if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f)
			return mv_err_set(err, MV_EXIT_USAGE,
			                  "--instance-id: only printable ASCII without "
			                  "spaces");
	return 0;
}

/* The token must look like a JWT (three base64url segments); it is never
 * shown in a message.  Trailing whitespace (kubectl adds a newline) is
 * dropped: the agent sends the file's bytes as they are. */
static int
read_token(const char *path, char **out, size_t *len, struct mv_err *err)
{
	char *t;
	size_t n, dots = 0;

	if (ci_read_file(path, "--token-file", TOKEN_MAX, &t, &n, err) != 0)
		return -1;
	while (n > 0 && isspace((unsigned char)t[n - 1]))
		t[--n] = '\0';
	for (size_t i = 0; i < n; i++) {
		char c = t[i];
		if (c == '.') {
			if (i == 0 || t[i - 1] == '.')
				dots = 99;
			dots++;
		} else if (!isalnum((unsigned char)c) && c != '-' && c != '_') {
			dots = 99;
			break;
		}
	}
	if (n == 0 || dots != 2 || t[n - 1] == '.') {
		free(t);
		return mv_err_set(err, MV_EXIT_FAIL,
		                  "--token-file %s: not a JWT (expected three "
		                  "base64url parts separated by dots)", path);
	}
	*out = t;
	*len = n;
	return 0;
}

struct iso {
	struct archive *a;
	int64_t mtime;
	struct cloudinit_seed_result *res;
};

static int
iso_fail(struct iso *w, const char *what, struct mv_err *err)
{
	return mv_err_set(err, MV_EXIT_FAIL, "seed ISO: %s: %s", what,
	                  archive_error_string(w->a) ? archive_error_string(w->a)
	                                             : "libarchive failed");
}

static struct archive_entry *
iso_entry(struct iso *w, const char *path, unsigned type, unsigned mode,
          int64_t size)
{
	struct archive_entry *e = archive_entry_new();

	if (e == NULL)
		return NULL;
	archive_entry_set_pathname(e, path);
	archive_entry_set_filetype(e, type);
	archive_entry_set_perm(e, mode);
	archive_entry_set_uid(e, 0);
	archive_entry_set_gid(e, 0);
	archive_entry_set_uname(e, "root");
	archive_entry_set_gname(e, "root");
	archive_entry_set_mtime(e, w->mtime, 0);
	if (type == AE_IFREG)
		archive_entry_set_size(e, size);
	return e;
}

static void
note_file(struct iso *w, const char *path, unsigned mode, uint64_t size)
{
	struct cloudinit_seed_file *f;

	if (w->res->n_files >= CLOUDINIT_SEED_FILES_MAX)
		return;
	f = &w->res->files[w->res->n_files++];
	snprintf(f->path, sizeof(f->path), "%s", path);
	f->mode = mode;
	f->size = size;
}

static int
iso_add_dir(struct iso *w, const char *path, struct mv_err *err)
{
	struct archive_entry *e = iso_entry(w, path, AE_IFDIR, 0755, 0);
	int r;

	if (e == NULL)
		return mv_err_set(err, MV_EXIT_FAIL, "out of memory");
	r = archive_write_header(w->a, e);
	archive_entry_free(e);
	if (r != ARCHIVE_OK)
		return iso_fail(w, path, err);
	return 0;
}

static int
iso_add_buf(struct iso *w, const char *path, unsigned mode, const char *data,
            size_t len, struct mv_err *err)
{
	struct archive_entry *e = iso_entry(w, path, AE_IFREG, mode,
	                                    (int64_t)len);
	int r;

	if (e == NULL)
		return mv_err_set(err, MV_EXIT_FAIL, "out of memory");
	r = archive_write_header(w->a, e);
	archive_entry_free(e);
	if (r != ARCHIVE_OK)
		return iso_fail(w, path, err);
	if (len > 0 && archive_write_data(w->a, data, len) != (la_ssize_t)len)
		return iso_fail(w, path, err);
	note_file(w, path, mode, len);
	return 0;
}

/* Stream a file into the ISO (bundles can be large). */
static int
iso_add_file(struct iso *w, const char *path, unsigned mode, const char *src,
             struct mv_err *err)
{
	struct archive_entry *e;
	struct stat st;
	char buf[1 << 16];
	int64_t left;
	int fd, r;

	fd = open(src, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return mv_err_sys(err, errno, "%s", src);
	if (fstat(fd, &st) != 0) {
		int e2 = errno;
		close(fd);
		return mv_err_sys(err, e2, "%s", src);
	}
	e = iso_entry(w, path, AE_IFREG, mode, st.st_size);
	if (e == NULL) {
		close(fd);
		return mv_err_set(err, MV_EXIT_FAIL, "out of memory");
	}
	r = archive_write_header(w->a, e);
	archive_entry_free(e);
	if (r != ARCHIVE_OK) {
		close(fd);
		return iso_fail(w, path, err);
	}
	for (left = st.st_size; left > 0;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int e2 = n < 0 ? errno : EIO;
			close(fd);
			return mv_err_sys(err, e2, "reading %s (changed while "
			                  "writing the seed?)", src);
		}
		if (n > left)
			n = (ssize_t)left;
		if (archive_write_data(w->a, buf, (size_t)n) != n) {
			close(fd);
			return iso_fail(w, path, err);
		}
		left -= n;
	}
	close(fd);
	note_file(w, path, mode, (uint64_t)st.st_size);
	return 0;
}

static int64_t
source_date_epoch(void)
{
	const char *s = getenv("SOURCE_DATE_EPOCH");
	char *end;
	long long v;

	if (s == NULL || *s == '\0')
		return 0;
	v = strtoll(s, &end, 10);
	return (*end == '\0' && v >= 0) ? (int64_t)v : 0;
}

static int
check_network_config(const char *path, char **out, size_t *len,
                     struct mv_err *err)
{
	struct mv_yaml *y = NULL;
	json_t *doc;

	if (ci_read_file(path, "--network-config", NETCFG_MAX, out, len, err) !=
	    0)
		return -1;
	if (mv_yaml_load_buf(path, *out, *len, &y, err) != 0)
		goto bad;
	doc = mv_yaml_count(y) == 1 ? mv_yaml_doc(y, 0) : NULL;
	if (!json_is_object(doc)) {
		mv_err_at(err, MV_EXIT_FAIL, path, 1, 1,
		          "network-config must be one YAML mapping (version 1 "
		          "or 2)");
		goto bad;
	}
	if (!json_is_integer(json_object_get(doc, "version")) &&
	    !json_is_object(json_object_get(doc, "network"))) {
		mv_yaml_value_err(err, MV_EXIT_FAIL, y, doc, NULL,
		                  "network-config needs 'version: 1' or "
		                  "'version: 2' (or a 'network:' mapping)");
		goto bad;
	}
	mv_yaml_free(y);
	return 0;
bad:
	mv_yaml_free(y);
	free(*out);
	*out = NULL;
	return -1;
}

int
cloudinit_seed_write(const struct cloudinit_seed_options *opt,
                     const char *out_path,
                     struct cloudinit_seed_result *res, struct mv_err *err)
{
	struct mv_output o = {.af = {.fd = -1, .slot = -1}};
	struct cloudinit_join join;
	struct iso w = {0};
	char service[256] = "";
	char *token = NULL, *ud = NULL, *md = NULL, *netcfg = NULL, *ss = NULL;
	size_t token_len = 0, ud_len = 0, md_len = 0, netcfg_len = 0, ss_len = 0;
	struct stat st;
	int rc = -1;

	memset(res, 0, sizeof(*res));
	if (ci_join_init(&join, CLOUDINIT_SOURCE_SEED, opt->runtime,
	                 opt->ready_timeout, err) != 0)
		return -1;
	if (opt->instance_id && instance_id_check(opt->instance_id, err) != 0)
		return -1;
	if (opt->hostname && cloudinit_hostname_check(opt->hostname, err) != 0)
		return -1;
	if (read_token(opt->token_path, &token, &token_len, err) != 0)
		return -1;
	if (opt->network_config &&
	    check_network_config(opt->network_config, &netcfg, &netcfg_len,
	                         err) != 0)
		goto out;
	if (ci_bundle_pin(opt->bundle_path, join.bundle_sha256, service,
	                  sizeof(service), err) != 0)
		goto out;
	memcpy(res->bundle_sha256, join.bundle_sha256, MV_SHA256_HEX);
	if (opt->instance_id)
		snprintf(res->instance_id, sizeof(res->instance_id), "%s",
		         opt->instance_id);
	else
		snprintf(res->instance_id, sizeof(res->instance_id),
		         "meshvm-%.16s", join.bundle_sha256);
	snprintf(res->hostname, sizeof(res->hostname), "%s",
	         opt->hostname ? opt->hostname : service);
	if (cloudinit_hostname_check(res->hostname, err) != 0)
		goto out;
	if (cloudinit_user_data(&join, opt->extra_path, &ud, &ud_len, err) != 0)
		goto out;
	if (cloudinit_validate_buf("user-data", ud, ud_len, err) != 0)
		goto out;
	/* The same join for an image without cloud-init, whose stand-in for
	 * Google's guest agent runs meshvm/startup-script from the seed. */
	if (cloudinit_startup_script(&join, &ss, &ss_len, err) != 0)
		goto out;
	if (cloudinit_meta_data(res->instance_id, res->hostname, &md, &md_len,
	                        err) != 0)
		goto out;

	w.res = res;
	w.mtime = source_date_epoch();
	w.a = archive_write_new();
	if (w.a == NULL) {
		mv_err_set(err, MV_EXIT_FAIL, "out of memory");
		goto out;
	}
	if (archive_write_set_format_iso9660(w.a) != ARCHIVE_OK ||
	    archive_write_set_format_option(w.a, "iso9660", "volume-id",
	                                    "cidata") != ARCHIVE_OK ||
	    archive_write_set_format_option(w.a, "iso9660", "rockridge",
	                                    "strict") != ARCHIVE_OK ||
	    archive_write_set_format_option(w.a, "iso9660", "joliet", "1") !=
	            ARCHIVE_OK) {
		iso_fail(&w, "options", err);
		goto out;
	}
	/* The ISO holds the token: 0600 whatever the umask or the token
	 * file's own mode. */
	res->iso_mode = CLOUDINIT_SEED_MODE;
	if (mv_output_open(&o, out_path, CLOUDINIT_SEED_MODE, err) != 0)
		goto out;
	if (archive_write_open_fd(w.a, o.af.fd) != ARCHIVE_OK) {
		iso_fail(&w, out_path, err);
		goto out;
	}
	if (iso_add_buf(&w, "user-data", 0644, ud, ud_len, err) != 0 ||
	    iso_add_buf(&w, "meta-data", 0644, md, md_len, err) != 0 ||
	    (netcfg && iso_add_buf(&w, "network-config", 0644, netcfg,
	                           netcfg_len, err) != 0) ||
	    iso_add_dir(&w, "meshvm", err) != 0 ||
	    iso_add_file(&w, CLOUDINIT_SEED_BUNDLE, 0644, opt->bundle_path,
	                 err) != 0 ||
	    iso_add_buf(&w, CLOUDINIT_SEED_TOKEN, 0600, token, token_len, err) !=
	            0 ||
	    iso_add_buf(&w, CLOUDINIT_SEED_STARTUP, 0755, ss, ss_len, err) != 0)
		goto out;
	if (archive_write_close(w.a) != ARCHIVE_OK) {
		iso_fail(&w, out_path, err);
		goto out;
	}
	if (fstat(o.af.fd, &st) == 0)
		res->iso_size = (uint64_t)st.st_size;
	if (mv_output_commit(&o, err) != 0)
		goto out;
	rc = 0;
out:
	if (w.a != NULL)
		archive_write_free(w.a);
	mv_output_abort(&o);
	if (token != NULL) {
		explicit_bzero(token, token_len);
		free(token);
	}
	free(ud);
	free(ss);
	free(md);
	free(netcfg);
	return rc;
}
