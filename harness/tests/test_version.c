/* test_version.c - packaging/version.cmake: the version from git describe
 * in a clone with tags, else the project version plus the commit, else the
 * plain project version; never a failure.  And the built binary says it. */
#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

/* Run version.cmake on src (PATH limited to `path` when non-NULL);
 * returns the version in the generated header (caller frees). */
static char *
version_of(const char *dir, const char *src, const char *path)
{
	char *out = NULL, *h, *v, *q;
	int rc = tu_sh(&out, "%s%s%s cmake -DSRC='%s' -DVERSION=0.1.0 "
	               "-DOUT='%s/v.h' -DOUT_CMAKE='%s/v.cmake' "
	               "-P '%s/packaging/version.cmake'",
	               path ? "PATH=" : "", path ? path : "", path ? "" : "",
	               src, dir, dir, tu_src());

	if (rc != 0)
		fail_msg("version.cmake failed: %s", out);
	free(out);
	h = tu_fmt("%s/v.h", dir);
	v = tu_read(h, NULL);
	free(h);
	assert_non_null(v);
	q = strstr(v, "MESHVM_VERSION \"");
	assert_non_null(q);
	q += strlen("MESHVM_VERSION \"");
	*strchr(q, '"') = '\0';
	q = strdup(q);
	free(v);
	return q;
}

static char *
deb_version_of(const char *dir)
{
	char *p = tu_fmt("%s/v.cmake", dir), *s = tu_read(p, NULL), *q, *r;

	free(p);
	assert_non_null(s);
	q = strstr(s, "MESHVM_VERSION_DEB \"");
	assert_non_null(q);
	q += strlen("MESHVM_VERSION_DEB \"");
	*strchr(q, '"') = '\0';
	r = strdup(q);
	free(s);
	return r;
}

static void
assert_matches(const char *s, const char *re)
{
	regex_t rx;

	assert_int_equal(regcomp(&rx, re, REG_EXTENDED | REG_NOSUB), 0);
	if (regexec(&rx, s, 0, NULL, 0) != 0) {
		regfree(&rx);
		fail_msg("\"%s\" does not match %s", s, re);
	}
	regfree(&rx);
}

#define GIT "git -c user.name=t -c user.email=t@t -c commit.gpgsign=false"

static void
test_tagged_clone(void **state)
{
	char *dir = tu_tmpdir(), *src = tu_fmt("%s/src", dir), *v;

	(void)state;
	assert_int_equal(tu_sh(NULL, "mkdir '%s' && cd '%s' && git init -q && "
	                       "echo a > f && git add f && " GIT " commit -qm a "
	                       "&& git tag v1.2.3", src, src), 0);
	v = version_of(dir, src, NULL);
	assert_string_equal(v, "1.2.3");
	free(v);
	v = deb_version_of(dir);
	assert_string_equal(v, "1.2.3");
	free(v);
	/* a commit after the tag, and an uncommitted change */
	assert_int_equal(tu_sh(NULL, "cd '%s' && echo b > f && " GIT " commit "
	                       "-qam b && echo c > f", src), 0);
	v = version_of(dir, src, NULL);
	assert_matches(v, "^1\\.2\\.3-1-g[0-9a-f]{7,}-dirty$");
	free(v);
	v = deb_version_of(dir);
	assert_matches(v, "^1\\.2\\.3\\+1\\.g[0-9a-f]{7,}\\.dirty$");
	free(v);
	tu_rmrf(dir);
	free(dir);
	free(src);
}

static void
test_untagged_clone(void **state)
{
	char *dir = tu_tmpdir(), *src = tu_fmt("%s/src", dir), *v;

	(void)state;
	assert_int_equal(tu_sh(NULL, "mkdir '%s' && cd '%s' && git init -q && "
	                       "echo a > f && git add f && " GIT " commit -qm a",
	                       src, src), 0);
	v = version_of(dir, src, NULL);
	assert_matches(v, "^0\\.1\\.0-g[0-9a-f]{7,}$");
	free(v);
	v = deb_version_of(dir);
	assert_matches(v, "^0\\.1\\.0\\+g[0-9a-f]{7,}$");
	free(v);
	tu_rmrf(dir);
	free(dir);
	free(src);
}

static void
test_no_git(void **state)
{
	char *dir = tu_tmpdir(), *src = tu_fmt("%s/src", dir), *v;
	char *cmake = NULL, *path;

	(void)state;
	/* a tarball: no .git */
	assert_int_equal(tu_sh(NULL, "mkdir '%s'", src), 0);
	v = version_of(dir, src, NULL);
	assert_string_equal(v, "0.1.0");
	free(v);
	/* a clone, but no git program on PATH */
	assert_int_equal(tu_sh(NULL, "cd '%s' && git init -q", src), 0);
	assert_int_equal(tu_sh(&cmake, "dirname \"$(command -v cmake)\" | "
	                       "tr -d '\\n'"), 0);
	path = tu_fmt("%s/nogit", dir);
	assert_int_equal(tu_sh(NULL, "mkdir '%s' && ln -s '%s/cmake' '%s/'",
	                       path, cmake, path), 0);
	v = version_of(dir, src, path);
	assert_string_equal(v, "0.1.0");
	free(v);
	/* a clone without a single commit */
	v = version_of(dir, src, NULL);
	assert_string_equal(v, "0.1.0");
	free(v);
	free(path);
	free(cmake);
	tu_rmrf(dir);
	free(dir);
	free(src);
}

/* The binary prints what the build computed (build/meshvm_version.h;
 * the tree may have moved on since, e.g. a commit without a rebuild). */
static void
test_binary_version(void **state)
{
	char *out = NULL, *dir = strdup(tu_bin()), *h, *text, *q, *want;

	(void)state;
	*strrchr(dir, '/') = '\0';
	h = tu_fmt("%s/meshvm_version.h", dir);
	text = tu_read(h, NULL);
	assert_non_null(text);
	q = strstr(text, "MESHVM_VERSION \"");
	assert_non_null(q);
	q += strlen("MESHVM_VERSION \"");
	*strchr(q, '"') = '\0';
	assert_int_equal(tu_sh(&out, "'%s' --version", tu_bin()), 0);
	want = tu_fmt("meshvm %s\n", q);
	assert_string_equal(out, want);
	/* a version git describe can give: 0.1.0, 0.1.0-gHASH, 1.2-3-gH-dirty */
	assert_matches(q, "^[0-9][0-9A-Za-z.+~-]*$");
	free(want);
	free(out);
	free(text);
	free(h);
	free(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tagged_clone),
		cmocka_unit_test(test_untagged_clone),
		cmocka_unit_test(test_no_git),
		cmocka_unit_test(test_binary_version),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
