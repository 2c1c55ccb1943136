/* test_fake_req.c - a request's target taken apart (harness/fake/req.c):
 * decoded path segments in one allocation with the raw path and query,
 * the query's arguments, and what makes a target bad. */
#include <stdlib.h>
#include <string.h>

#include "harness/fake/req.h"
#include "testutil.h"

static void
test_segments(void **state)
{
	struct freq rq;

	(void)state;
	memset(&rq, 0, sizeof(rq));
	assert_int_equal(freq_parse_target(&rq, "//a/b%2Fc//d%41%4/%e2%82%ac"
	                                   "?x=1&flag&s=a%20b+c&&e="), 0);
	assert_string_equal(rq.path, "//a/b%2Fc//d%41%4/%e2%82%ac");
	assert_string_equal(rq.query, "x=1&flag&s=a%20b+c&&e=");
	assert_int_equal(rq.n_seg, 4);
	assert_string_equal(rq.seg[0], "a");
	assert_string_equal(rq.seg[1], "b/c");
	assert_string_equal(rq.seg[2], "dA%4"); /* a short escape stays */
	assert_string_equal(rq.seg[3], "\xe2\x82\xac");
	assert_false(rq.bad_encoding);
	assert_false(rq.seg_overflow);
	assert_int_equal(rq.n_args, 4);
	assert_string_equal(freq_arg(&rq, "x"), "1");
	assert_string_equal(freq_arg(&rq, "flag"), "");
	assert_string_equal(freq_arg(&rq, "s"), "a b c");
	assert_string_equal(freq_arg(&rq, "e"), "");
	assert_null(freq_arg(&rq, "nope"));
	freq_clear(&rq);
	/* no query, no segments */
	assert_int_equal(freq_parse_target(&rq, "/"), 0);
	assert_string_equal(rq.path, "/");
	assert_string_equal(rq.query, "");
	assert_int_equal(rq.n_seg, 0);
	freq_clear(&rq);
	assert_int_equal(freq_parse_target(&rq, ""), 0);
	assert_int_equal(rq.n_seg, 0);
	freq_clear(&rq);
}

/* freq_parse (path and query apart, as the listener has them) is
 * freq_parse_target of "path?query". */
static void
test_parse_parts(void **state)
{
	const char *path = "/v1/projects/p%2Dq/locations/l/clusters/c";
	struct freq a, b;

	(void)state;
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	assert_int_equal(freq_parse(&a, path, strlen(path), "alt=json"), 0);
	assert_int_equal(freq_parse_target(&b, "/v1/projects/p%2Dq/locations/"
	                                   "l/clusters/c?alt=json"), 0);
	assert_string_equal(a.path, b.path);
	assert_string_equal(a.query, b.query);
	assert_int_equal(a.n_seg, 7);
	assert_int_equal(a.n_seg, b.n_seg);
	for (size_t i = 0; i < a.n_seg; i++)
		assert_string_equal(a.seg[i], b.seg[i]);
	assert_string_equal(a.seg[2], "p-q");
	assert_string_equal(freq_arg(&a, "alt"), "json");
	freq_clear(&a);
	freq_clear(&b);
	/* plen bounds the path: what follows is not part of it */
	assert_int_equal(freq_parse(&a, "/x/y/zzz", 4, ""), 0);
	assert_string_equal(a.path, "/x/y");
	assert_int_equal(a.n_seg, 2);
	assert_string_equal(a.seg[1], "y");
	freq_clear(&a);
}

/* %00 anywhere is a bad target (not a truncated one); more segments
 * than FAKE_MAX_SEG overflow; long paths decode whole. */
static void
test_bad_and_long(void **state)
{
	struct freq rq;
	char *t = malloc(40000), *p;

	(void)state;
	memset(&rq, 0, sizeof(rq));
	assert_int_equal(freq_parse_target(&rq, "/projects/p%00x/a"), 0);
	assert_true(rq.bad_encoding);
	freq_clear(&rq);
	assert_int_equal(freq_parse_target(&rq, "/a?k=v%00w"), 0);
	assert_true(rq.bad_encoding);
	freq_clear(&rq);
	assert_int_equal(freq_parse_target(&rq, "/a?k%00=v"), 0);
	assert_true(rq.bad_encoding);
	freq_clear(&rq);
	/* FAKE_MAX_SEG + 1 segments */
	p = t;
	for (int i = 0; i <= FAKE_MAX_SEG; i++)
		p += sprintf(p, "/s%d", i);
	assert_int_equal(freq_parse_target(&rq, t), 0);
	assert_true(rq.seg_overflow);
	assert_int_equal(rq.n_seg, FAKE_MAX_SEG);
	assert_string_equal(rq.seg[FAKE_MAX_SEG - 1], "s31");
	freq_clear(&rq);
	/* long segments of escapes and of plain bytes, one-byte segments */
	p = t;
	*p++ = '/';
	for (int i = 0; i < 4000; i++)
		p += sprintf(p, "%%41");
	*p++ = '/';
	memset(p, 'z', 20000);
	p += 20000;
	strcpy(p, "/a/b/c?q=1");
	assert_int_equal(freq_parse_target(&rq, t), 0);
	assert_int_equal(rq.n_seg, 5);
	assert_int_equal(strlen(rq.seg[0]), 4000);
	assert_int_equal(strspn(rq.seg[0], "A"), 4000);
	assert_int_equal(strlen(rq.seg[1]), 20000);
	assert_string_equal(rq.seg[4], "c");
	assert_string_equal(rq.query, "q=1");
	freq_clear(&rq);
	free(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_segments),
		cmocka_unit_test(test_parse_parts),
		cmocka_unit_test(test_bad_and_long),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
