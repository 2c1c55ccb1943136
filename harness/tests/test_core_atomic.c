/* test_core_atomic.c - core/atomic: all or nothing, exact modes. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/atomic.h"
#include "testutil.h"

static void
check_write_replace(bool named)
{
	char *dir = tu_tmpdir(), *f = tu_fmt("%s/out", dir), *got;
	struct mv_err err;
	struct stat st;
	mode_t old = umask(077);

	mv_atomic_force_named(named);
	assert_int_equal(mv_write_file_atomic(f, "one", 3, 0644, &err), 0);
	assert_int_equal(stat(f, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644); /* umask did not apply */
	assert_int_equal(mv_write_file_atomic(f, "two!", 4, 0600, &err), 0);
	got = tu_read(f, NULL);
	assert_string_equal(got, "two!");
	assert_int_equal(stat(f, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(tu_dir_count(dir), 1); /* no temp left over */
	umask(old);
	mv_atomic_force_named(false);
	free(got);
	tu_rmrf(dir);
	free(f);
	free(dir);
}

static void
test_write_replace_tmpfile(void **state)
{
	(void)state;
	check_write_replace(false);
}

static void
test_write_replace_named(void **state)
{
	(void)state;
	check_write_replace(true);
}

static void
check_abort(bool named)
{
	char *dir = tu_tmpdir(), *f = tu_fmt("%s/out", dir);
	struct mv_atomic_file af;
	struct mv_err err;

	mv_atomic_force_named(named);
	assert_int_equal(mv_atomic_open(&af, f, 0644, &err), 0);
	assert_int_equal(write(af.fd, "partial", 7), 7);
	mv_atomic_abort(&af);
	assert_int_equal(tu_dir_count(dir), 0);
	mv_atomic_abort(&af); /* twice is harmless */
	mv_atomic_force_named(false);
	tu_rmrf(dir);
	free(f);
	free(dir);
}

static void
test_abort_leaves_nothing(void **state)
{
	(void)state;
	check_abort(false);
	check_abort(true);
}

static void
test_readonly_dir(void **state)
{
	char *dir = tu_tmpdir(), *ro = tu_fmt("%s/ro", dir);
	char *f = tu_fmt("%s/out", ro);
	struct mv_err err;

	(void)state;
	assert_int_equal(mkdir(ro, 0555), 0);
	if (geteuid() == 0) {
		/* root ignores modes; a read-only bind is not available here,
		 * so exercise a missing directory instead. */
		free(f);
		f = tu_fmt("%s/missing/out", dir);
	}
	mv_err_clear(&err);
	assert_int_equal(mv_write_file_atomic(f, "x", 1, 0644, &err), -1);
	assert_contains(err.msg, "out");
	assert_int_equal(tu_dir_count(ro), 0);
	tu_rmrf(dir);
	free(f);
	free(ro);
	free(dir);
}

/* mv_write_file_new places a file only where nothing is: an existing
 * file or a dangling symlink stays as it was, and no temp is left. */
static void
write_new(bool named)
{
	char *d = tu_tmpdir(), *f = tu_fmt("%s/out", d), *l = tu_fmt("%s/dl", d);
	char *got;
	struct mv_err err;

	mv_atomic_force_named(named);
	mv_err_clear(&err);
	assert_int_equal(mv_write_file_new(f, "one", 3, 0640, &err), 0);
	got = tu_read(f, NULL);
	assert_string_equal(got, "one");
	free(got);
	assert_int_equal(mv_write_file_new(f, "two", 3, 0640, &err), 1);
	got = tu_read(f, NULL);
	assert_string_equal(got, "one");
	free(got);
	assert_int_equal(symlink("/nonexistent-target", l), 0);
	assert_int_equal(mv_write_file_new(l, "x", 1, 0640, &err), 1);
	assert_false(tu_exists("/nonexistent-target"));
	assert_int_equal(tu_dir_count(d), 2); /* out, dl: no temp left */
	mv_atomic_force_named(false);
	tu_rmrf(d);
	free(d);
	free(f);
	free(l);
}

static void
test_write_new_tmpfile(void **state)
{
	(void)state;
	write_new(false);
}

static void
test_write_new_named(void **state)
{
	(void)state;
	write_new(true);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_write_replace_tmpfile),
		cmocka_unit_test(test_write_replace_named),
		cmocka_unit_test(test_abort_leaves_nothing),
		cmocka_unit_test(test_readonly_dir),
		cmocka_unit_test(test_write_new_tmpfile),
		cmocka_unit_test(test_write_new_named),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
