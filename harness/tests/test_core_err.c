/* test_core_err.c - core/err: messages, positions, exit classes. */
#include <string.h>

#include "core/err.h"
#include "testutil.h"

static void
test_set(void **state)
{
	struct mv_err e;

	(void)state;
	mv_err_clear(&e);
	assert_int_equal(mv_err_set(&e, MV_EXIT_VERIFY, "bad %s", "thing"), -1);
	assert_string_equal(e.msg, "bad thing");
	assert_int_equal(e.exit_code, MV_EXIT_VERIFY);
	assert_int_equal(e.line, 0);
	/* exit 0 means "a failure of the generic kind" */
	mv_err_set(&e, 0, "x");
	assert_int_equal(e.exit_code, MV_EXIT_FAIL);
	/* NULL error sinks are allowed */
	assert_int_equal(mv_err_set(NULL, 1, "dropped"), -1);
}

static void
test_at(void **state)
{
	struct mv_err e;

	(void)state;
	mv_err_clear(&e);
	mv_err_at(&e, 1, "a.yaml", 3, 7, "unknown key");
	assert_string_equal(e.msg, "a.yaml:3:7: unknown key");
	assert_string_equal(e.file, "a.yaml");
	assert_int_equal(e.line, 3);
	assert_int_equal(e.col, 7);
	mv_err_at(&e, 1, "hosts", 2, 0, "bad line");
	assert_string_equal(e.msg, "hosts:2: bad line");
	mv_err_at(&e, 1, "f", 0, 0, "whole file");
	assert_string_equal(e.msg, "f: whole file");
}

static void
test_sys_and_prefix(void **state)
{
	struct mv_err e;

	(void)state;
	mv_err_clear(&e);
	mv_err_sys(&e, 2, "open %s", "x");
	assert_string_equal(e.msg, "open x: No such file or directory");
	mv_err_prefix(&e, "step %d", 4);
	assert_string_equal(e.msg, "step 4: open x: No such file or directory");
	assert_int_equal(e.exit_code, MV_EXIT_FAIL);
}

static void
test_long_message_truncates(void **state)
{
	struct mv_err e;
	char big[8000];

	(void)state;
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	mv_err_set(&e, 1, "%s", big);
	assert_int_equal(strlen(e.msg), sizeof(e.msg) - 1);
	mv_err_prefix(&e, "p");
	assert_int_equal(strlen(e.msg), sizeof(e.msg) - 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_set),
		cmocka_unit_test(test_at),
		cmocka_unit_test(test_sys_and_prefix),
		cmocka_unit_test(test_long_message_truncates),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
