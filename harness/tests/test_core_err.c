/* test_core_err.c - core/err: messages, positions, exit classes. */
#include <stdio.h>
#include <stdlib.h>
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

/* A many-problem report keeps every item: 10 000 problems of ~60 bytes
 * (600 KB, far past the 4096 bytes of msg), in order. */
static void
test_list_keeps_every_item(void **state)
{
	struct mv_err e;
	const char *it;
	size_t n = 0;
	char want[96], *all;

	(void)state;
	mv_err_clear(&e);
	assert_int_equal(mv_err_count(&e), 0);
	mv_err_at(&e, MV_EXIT_VERIFY, "ud", 1, 2, "problem %05d of many, "
	          "with some words to make it long", 0);
	for (int i = 1; i < 10000; i++) {
		snprintf(want, sizeof(want), "ud:%d:2: problem %05d of many, with "
		         "some words to make it long", i + 1, i);
		mv_err_append(&e, want);
	}
	assert_int_equal(mv_err_count(&e), 10000);
	/* the first item is msg, as before: callers that read msg still work */
	assert_string_equal(e.msg, "ud:1:2: problem 00000 of many, with some "
	                           "words to make it long");
	assert_int_equal(e.line, 1);
	for (it = mv_err_next(&e, NULL); it; it = mv_err_next(&e, it)) {
		snprintf(want, sizeof(want), "problem %05zu of", n);
		assert_non_null(strstr(it, want));
		n++;
	}
	assert_int_equal(n, 10000);
	all = mv_err_join(&e);
	assert_non_null(strstr(all, "ud:10000:2: problem 09999 of many"));
	free(all);
	/* prefix touches the first item and keeps the list */
	mv_err_prefix(&e, "validate");
	assert_int_equal(mv_err_count(&e), 10000);
	assert_non_null(strstr(e.msg, "validate: ud:1:2"));
	mv_err_free(&e);
	assert_int_equal(mv_err_count(&e), 1);
	mv_err_free(&e); /* twice is fine */
	mv_err_free(NULL);
}

/* Beyond the bound, items are counted and the report says so. */
static void
test_list_bound_is_not_silent(void **state)
{
	struct mv_err e;
	const char *it, *last = NULL;
	size_t n = 0;

	(void)state;
	mv_err_clear(&e);
	mv_err_set(&e, MV_EXIT_FAIL, "first");
	for (size_t i = 0; i < MV_ERR_ITEMS_MAX + 5; i++)
		mv_err_append(&e, "x");
	for (it = mv_err_next(&e, NULL); it; it = mv_err_next(&e, it)) {
		last = it;
		n++;
	}
	assert_int_equal(n, MV_ERR_ITEMS_MAX + 1);
	assert_string_equal(last, "... and 6 more problems not listed");
	assert_int_equal(mv_err_count(&e), MV_ERR_ITEMS_MAX + 1);
	mv_err_free(&e);
}

/* A new error replaces the whole report (after the owner freed it), and
 * works on a struct never cleared. */
static void
test_set_starts_a_new_report(void **state)
{
	struct mv_err e;

	(void)state;
	memset(&e, 0xa5, sizeof(e)); /* as an uninitialised stack struct */
	mv_err_set(&e, MV_EXIT_FAIL, "one");
	assert_int_equal(mv_err_count(&e), 1);
	mv_err_append(&e, "two");
	assert_int_equal(mv_err_count(&e), 2);
	mv_err_free(&e);
	mv_err_sys(&e, 2, "open x");
	assert_int_equal(mv_err_count(&e), 1);
	assert_null(mv_err_next(&e, e.msg));
	mv_err_free(&e);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_set),
		cmocka_unit_test(test_at),
		cmocka_unit_test(test_sys_and_prefix),
		cmocka_unit_test(test_long_message_truncates),
		cmocka_unit_test(test_list_keeps_every_item),
		cmocka_unit_test(test_list_bound_is_not_silent),
		cmocka_unit_test(test_set_starts_a_new_report),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
