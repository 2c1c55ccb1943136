/* cli/rh_work.c - see rh_work.h. */
#include "cli/rh_work.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/atomic.h"
#include "core/util.h"
#include "core/xalloc.h"

#define CONFIG_MAX ((size_t)1 << 20)

char *
rh_work_mkdtemp(struct mv_err *err)
{
	const char *tmp = getenv("TMPDIR");
	char *dir;

	/* The state is saved (fsync) at every step: on a busy disk that is
	 * seconds, in memory nothing, and the rehearsal's state is thrown
	 * away. */
	if ((tmp == NULL || tmp[0] == '\0') && access("/dev/shm", W_OK | X_OK) == 0)
		tmp = "/dev/shm";
	dir = mv_xstrfmt("%s/meshvm-rehearse.XXXXXX",
	                 tmp && tmp[0] ? tmp : "/tmp");

	if (mkdtemp(dir) == NULL) {
		mv_err_sys(err, errno, "%s", dir);
		free(dir);
		return NULL;
	}
	return dir;
}

static const char *
base_name(const char *path)
{
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
}

int
rh_work_link_config(const char *dir, const char *config, char **out,
                    struct mv_err *err)
{
	char *text, *src = NULL, abs[PATH_MAX];
	size_t len;
	DIR *d;
	struct dirent *e;
	int rc = 0;

	*out = NULL;
	if ((text = mv_read_file(config, CONFIG_MAX, &len, err)) == NULL)
		return -1;
	if (realpath(config, abs) == NULL) {
		free(text);
		return mv_err_sys(err, errno, "%s", config);
	}
	src = mv_dirname(abs);
	*out = mv_xstrfmt("%s/%s", dir, base_name(abs));
	if (mv_write_file_atomic(*out, text, len, 0644, err) != 0) {
		free(text);
		free(src);
		return -1;
	}
	free(text);
	if ((d = opendir(src)) == NULL) {
		rc = mv_err_sys(err, errno, "%s", src);
		free(src);
		return rc;
	}
	while (rc == 0 && (e = readdir(d)) != NULL) {
		char *from, *to;
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") ||
		    !strcmp(e->d_name, ".meshvm") ||
		    !strcmp(e->d_name, base_name(abs)))
			continue;
		from = mv_xstrfmt("%s/%s", src, e->d_name);
		to = mv_xstrfmt("%s/%s", dir, e->d_name);
		if (symlink(from, to) != 0)
			rc = mv_err_sys(err, errno, "symlink %s", to);
		free(from);
		free(to);
	}
	closedir(d);
	free(src);
	return rc;
}

int
rh_work_set(const char *config, const char *section, const char *key,
            const char *value, struct mv_err *err)
{
	size_t len, slen = strlen(section), klen = strlen(key);
	char *text = mv_read_file(config, CONFIG_MAX, &len, err), *out;
	const char *p, *head = NULL;
	size_t o = 0;
	bool in = false;
	int rc;

	if (text == NULL)
		return -1;
	out = mv_xmalloc(len + strlen(key) + strlen(value) + 8);
	for (p = text; *p;) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) + 1 : strlen(p);
		bool top = p[0] != ' ' && p[0] != '#' && p[0] != '\n';
		if (top)
			in = !strncmp(p, section, slen) && p[slen] == ':' &&
			     (p[slen + 1] == '\n' || p[slen + 1] == ' ');
		/* the key's old line goes; the new one follows the section's */
		if (!(in && !strncmp(p, "  ", 2) && !strncmp(p + 2, key, klen) &&
		      p[2 + klen] == ':')) {
			memcpy(out + o, p, n);
			o += n;
		}
		if (in && top && head == NULL) {
			head = p;
			o += (size_t)sprintf(out + o, "%s  %s: %s\n",
			                     n > 0 && p[n - 1] == '\n' ? "" : "\n", key,
			                     value);
		}
		p += n;
	}
	out[o] = '\0';
	if (head == NULL) {
		free(out);
		free(text);
		return mv_err_set(err, MV_EXIT_FAIL, "%s: no `%s:` mapping to set %s "
		                  "in", config, section, key);
	}
	rc = mv_write_file_atomic(config, out, o, 0644, err);
	free(out);
	free(text);
	return rc;
}

/* text without its top-level `migration:` block (the key's line and the
 * indented or blank lines after it); malloc'd. */
static char *
drop_block(const char *text, const char *key)
{
	size_t klen = strlen(key), n = strlen(text);
	char *out = mv_xmalloc(n + 1);
	const char *p = text;
	bool in = false;
	size_t o = 0;

	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) + 1 : strlen(p);
		if (!strncmp(p, key, klen) && p[klen] == ':')
			in = true;
		else if (in && len > 0 && p[0] != ' ' && p[0] != '\n' && p[0] != '#')
			in = false;
		if (!in) {
			memcpy(out + o, p, len);
			o += len;
		}
		p += len;
	}
	out[o] = '\0';
	return out;
}

int
rh_work_set_migration(const char *config, const char *url,
                      const char *const *clusters, size_t n, int interval,
                      struct mv_err *err)
{
	size_t len;
	char *text = mv_read_file(config, CONFIG_MAX, &len, err), *kept, *out;
	char *urls = mv_xstrdup("");
	int rc;

	if (text == NULL) {
		free(urls);
		return -1;
	}
	kept = drop_block(text, "migration");
	for (size_t i = 0; i < n; i++) {
		char *u = mv_xstrfmt("%s    %s: %s/prom/%s\n", urls, clusters[i], url,
		                     clusters[i]);
		free(urls);
		urls = u;
	}
	out = mv_xstrfmt("%s%s# meshvm rehearse: the fake's Prometheus, the "
	                 "interval on its traffic clock\nmigration:\n"
	                 "  prometheus_url:\n%s  interval: %d\n", kept,
	                 len > 0 && text[len - 1] != '\n' ? "\n" : "", urls,
	                 interval);
	rc = mv_write_file_atomic(config, out, strlen(out), 0644, err);
	free(out);
	free(urls);
	free(kept);
	free(text);
	return rc;
}

static int
remove_one(const char *path, const struct stat *st, int flag,
           struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

void
rh_work_remove(const char *dir)
{
	if (dir != NULL)
		nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}
