/* harness/tests/testutil.c - see testutil.h. */
#include "testutil.h"

#include <errno.h>
#include <dirent.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *
env_or(const char *name, const char *fallback)
{
	const char *v = getenv(name);

	return v && *v ? v : fallback;
}

const char *
tu_fixtures(void)
{
	return env_or("MESHVM_FIXTURES", "build/fixtures");
}

const char *
tu_bin(void)
{
	return env_or("MESHVM_BIN", "build/meshvm");
}

const char *
tu_src(void)
{
	return env_or("MESHVM_SRC", ".");
}

char *
tu_fmt(const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	assert_non_null(s);
	return s;
}

char *
tu_tmpdir(void)
{
	char *t = tu_fmt("%s/meshvm-test-XXXXXX", env_or("TMPDIR", "/tmp"));

	assert_non_null(mkdtemp(t));
	return t;
}

static int
rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP) {
		chmod(path, 0700);
		return rmdir(path);
	}
	return unlink(path);
}

void
tu_rmrf(const char *path)
{
	if (path != NULL) {
		chmod(path, 0700);
		nftw(path, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	}
}

void
tu_write_bytes(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	if (f == NULL)
		print_error("cannot write %s: %s\n", path, strerror(errno));
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

void
tu_write(const char *path, const char *content)
{
	tu_write_bytes(path, content, strlen(content));
}

char *
tu_read(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	buf[n] = '\0';
	if (len)
		*len = (size_t)n;
	return buf;
}

bool
tu_exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

int
tu_dir_count(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

int
tu_sh(char **out, const char *fmt, ...)
{
	va_list ap;
	char *cmd = NULL, *full;
	FILE *p;
	size_t cap = 4096, n = 0;
	char *buf;
	int st;

	va_start(ap, fmt);
	assert_true(vasprintf(&cmd, fmt, ap) >= 0);
	va_end(ap);
	full = tu_fmt("(%s) 2>&1", cmd);
	free(cmd);
	p = popen(full, "r");
	assert_non_null(p);
	buf = malloc(cap);
	assert_non_null(buf);
	for (;;) {
		size_t r;
		if (cap - n < 1024) {
			cap *= 2;
			buf = realloc(buf, cap);
			assert_non_null(buf);
		}
		r = fread(buf + n, 1, cap - n - 1, p);
		if (r == 0)
			break;
		n += r;
	}
	buf[n] = '\0';
	st = pclose(p);
	free(full);
	if (out)
		*out = buf;
	else
		free(buf);
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return -1;
}

char *
tu_copy_fixture_bundle(const char *dir)
{
	char *dst = tu_fmt("%s/bundle", dir);

	assert_int_equal(tu_sh(NULL, "cp -R '%s/bundle' '%s'", tu_fixtures(),
	                       dst), 0);
	free(dst);
	return tu_fmt("%s/bundle/bundle.yaml", dir);
}
