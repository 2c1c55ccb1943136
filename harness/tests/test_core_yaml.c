/* test_core_yaml.c - core/yaml: typing, positions, errors, aliases. */
#include <string.h>

#include "core/yaml.h"
#include "testutil.h"

static struct mv_yaml *
load(const char *text)
{
	struct mv_yaml *y = NULL;
	struct mv_err err;

	mv_err_clear(&err);
	if (mv_yaml_load_buf("t.yaml", text, strlen(text), &y, &err) != 0)
		print_error("unexpected error: %s\n", err.msg);
	assert_non_null(y);
	return y;
}

static void
load_fails(const char *text, const char *msg)
{
	struct mv_yaml *y = NULL;
	struct mv_err err;

	mv_err_clear(&err);
	assert_int_equal(mv_yaml_load_buf("t.yaml", text, strlen(text), &y,
	                                  &err), -1);
	assert_null(y);
	assert_contains(err.msg, msg);
}

static void
test_scalars(void **state)
{
	struct mv_yaml *y = load(
		"i: 3550\nneg: -4\noct: 0o17\nhex: 0x1F\nf: 1.5\nt: true\n"
		"n: null\ne:\ntilde: ~\ns: hello\nq: \"3550\"\nsq: 'true'\n"
		"str: !!str 12\nbig: 123456789012345678901234567890\n"
		"yes: yes\nzero: 0644\n");
	json_t *d = mv_yaml_doc(y, 0);

	(void)state;
	assert_int_equal(json_integer_value(json_object_get(d, "i")), 3550);
	assert_int_equal(json_integer_value(json_object_get(d, "neg")), -4);
	assert_int_equal(json_integer_value(json_object_get(d, "oct")), 15);
	assert_int_equal(json_integer_value(json_object_get(d, "hex")), 31);
	assert_true(json_is_real(json_object_get(d, "f")));
	assert_true(json_is_true(json_object_get(d, "t")));
	assert_true(json_is_null(json_object_get(d, "n")));
	assert_true(json_is_null(json_object_get(d, "e")));
	assert_true(json_is_null(json_object_get(d, "tilde")));
	assert_string_equal(json_string_value(json_object_get(d, "s")), "hello");
	assert_string_equal(json_string_value(json_object_get(d, "q")), "3550");
	assert_string_equal(json_string_value(json_object_get(d, "sq")), "true");
	assert_string_equal(json_string_value(json_object_get(d, "str")), "12");
	assert_true(json_is_string(json_object_get(d, "big")));
	/* YAML 1.2 core schema: yes is a string */
	assert_string_equal(json_string_value(json_object_get(d, "yes")), "yes");
	/* 0644 is decimal 644 in the core schema (cloud-init reads YAML 1.1,
	 * hence the quoted-mode rule there) */
	assert_int_equal(json_integer_value(json_object_get(d, "zero")), 644);
	mv_yaml_free(y);
}

static void
test_positions(void **state)
{
	struct mv_yaml *y = load("# comment\nservice:\n  name: x\n  port: \"80\"\n"
	                         "units:\n  - a\n  - b\n");
	json_t *d = mv_yaml_doc(y, 0), *svc = json_object_get(d, "service");
	json_t *units = json_object_get(d, "units");
	struct mv_yaml_pos p;

	(void)state;
	assert_int_equal(mv_yaml_key_pos(y, svc, "port", &p), 0);
	assert_int_equal(p.line, 4);
	assert_int_equal(p.col, 3);
	assert_int_equal(mv_yaml_value_pos(y, svc, "port", &p), 0);
	assert_int_equal(p.line, 4);
	assert_int_equal(p.col, 9);
	assert_int_equal(p.style, MV_YAML_DOUBLE_QUOTED);
	assert_int_equal(mv_yaml_item_pos(y, units, 1, &p), 0);
	assert_int_equal(p.line, 7);
	assert_int_equal(p.col, 5);
	assert_int_equal(mv_yaml_node_pos(y, svc, &p), 0);
	assert_int_equal(p.line, 3);
	assert_int_equal(mv_yaml_key_pos(y, svc, "nope", &p), -1);
	mv_yaml_free(y);
}

static void
test_value_err(void **state)
{
	struct mv_yaml *y = load("a:\n  b: 1\n");
	json_t *a = json_object_get(mv_yaml_doc(y, 0), "a");
	struct mv_err err;

	(void)state;
	mv_yaml_value_err(&err, 1, y, a, "b", "a.b: too small (%d)", 1);
	assert_string_equal(err.msg, "t.yaml:2:6: a.b: too small (1)");
	assert_int_equal(err.line, 2);
	mv_yaml_key_err(&err, 1, y, a, "b", "unknown key");
	assert_string_equal(err.msg, "t.yaml:2:3: unknown key");
	mv_yaml_value_err(&err, 1, y, a, NULL, "missing");
	assert_string_equal(err.msg, "t.yaml:2:3: missing");
	mv_yaml_free(y);
}

static void
test_errors(void **state)
{
	(void)state;
	load_fails("a: 1\na: 2\n", "t.yaml:2:1: duplicate key \"a\"");
	load_fails("a: [1, 2\n", "t.yaml:2:1: YAML syntax error");
	load_fails("a:\n  - b\n c: d\n", "t.yaml:3:2");
	load_fails("a: *nope\n", "unknown alias");
	load_fails("? [a]\n: b\n", "mapping keys must be scalars");
	load_fails("a: &x [1, *x]\n", "refers to its own container");
}

static void
test_multidoc_and_aliases(void **state)
{
	struct mv_yaml *y = load("---\na: &v {k: 1}\nb: *v\nc:\n  <<: *v\n"
	                         "  z: 2\n---\n---\nkind: Second\n");

	(void)state;
	assert_int_equal(mv_yaml_count(y), 3);
	json_t *d = mv_yaml_doc(y, 0);
	assert_int_equal(json_integer_value(json_object_get(
		json_object_get(d, "b"), "k")), 1);
	assert_int_equal(json_integer_value(json_object_get(
		json_object_get(d, "c"), "k")), 1);
	assert_int_equal(json_integer_value(json_object_get(
		json_object_get(d, "c"), "z")), 2);
	assert_true(json_is_null(mv_yaml_doc(y, 1)));
	assert_string_equal(json_string_value(json_object_get(
		mv_yaml_doc(y, 2), "kind")), "Second");
	mv_yaml_free(y);
}

static void
test_billion_laughs(void **state)
{
	/* 10 levels x 10 aliases each = 10^10 nodes if expanded blindly. */
	char doc[4096] = "a: &a [x, x, x, x, x, x, x, x, x, x]\n";
	char prev = 'a';

	(void)state;
	for (char c = 'b'; c <= 'k'; c++) {
		size_t n = strlen(doc);
		snprintf(doc + n, sizeof(doc) - n,
		         "%c: &%c [*%c, *%c, *%c, *%c, *%c, *%c, *%c, *%c, *%c, *%c]\n",
		         c, c, prev, prev, prev, prev, prev, prev, prev, prev, prev,
		         prev);
		prev = c;
	}
	load_fails(doc, "too large");
}

static void
test_load_file_missing(void **state)
{
	struct mv_yaml *y = NULL;
	struct mv_err err;

	(void)state;
	assert_int_equal(mv_yaml_load_file("/nonexistent.yaml", &y, &err), -1);
	assert_contains(err.msg, "/nonexistent.yaml");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scalars),
		cmocka_unit_test(test_positions),
		cmocka_unit_test(test_value_err),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_multidoc_and_aliases),
		cmocka_unit_test(test_billion_laughs),
		cmocka_unit_test(test_load_file_missing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
