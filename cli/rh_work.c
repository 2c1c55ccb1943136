/* cli/rh_work.c - see rh_work.h. */
#include "cli/rh_work.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
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
rh_work_set_count(const char *config, long count, struct mv_err *err)
{
	size_t len;
	char *text = mv_read_file(config, CONFIG_MAX, &len, err), *vm, *out;
	int rc;

	if (text == NULL)
		return -1;
	vm = strncmp(text, "vm:\n", 4) == 0 ? text : strstr(text, "\nvm:\n");
	if (vm == NULL) {
		free(text);
		return mv_err_set(err, MV_EXIT_FAIL, "%s: no `vm:` mapping to set "
		                  "count in", config);
	}
	vm += vm == text ? 4 : 5;
	out = mv_xstrfmt("%.*s  count: %ld\n%s", (int)(vm - text), text, count,
	                 vm);
	rc = mv_write_file_atomic(config, out, strlen(out), 0644, err);
	free(out);
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
