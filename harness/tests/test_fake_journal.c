/* test_fake_journal.c - the in-memory journal ring: at most 20000 lines
 * and --journal-bytes of them, the oldest going first, whatever the
 * lengths of the lines that reuse the oldest slots' memory. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/fake/journal.h"
#include "testutil.h"

#define RING 20000

static void
record(struct journal *j, const char *listener, const char *query)
{
	struct freq rq;
	struct fresp rs;

	memset(&rq, 0, sizeof(rq));
	memset(&rs, 0, sizeof(rs));
	rq.listener = listener;
	rq.method = "GET";
	rq.path = "/v1/projects/p/locations/l/clusters/c";
	rq.query = (char *)query;
	rs.status = 200;
	journal_record(j, &rq, &rs, 0.25);
}

static size_t
count_lines(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* the seq of the first line of a dump */
static unsigned long long
first_seq(const char *s)
{
	const char *p = strstr(s, "\"seq\":");

	return p ? strtoull(p + 6, NULL, 10) : 0;
}

static void
test_ring_wraps_with_mixed_lengths(void **state)
{
	struct journal *j = NULL;
	struct mv_err err = {0};
	char *dump, *long_q = malloc(3001), *line;
	size_t len;

	(void)state;
	assert_int_equal(journal_open(NULL, (size_t)256 << 20, false, &j, &err),
	                 0);
	memset(long_q, 'q', 3000);
	long_q[3000] = '\0';
	/* short, long and short again: slots are reused by lines of other
	 * lengths, both ways */
	for (int i = 0; i < 3 * RING + 5; i++)
		record(j, i % 2 ? "api" : "c1",
		       i / RING == 1 && i % 3 == 0 ? long_q : "a=1");
	dump = journal_dump(j, 0, NULL, &len);
	assert_non_null(dump);
	assert_int_equal(count_lines(dump), RING);
	assert_int_equal(first_seq(dump), 3 * RING + 5 - RING + 1);
	/* every line whole, in order, with its own listener */
	line = dump;
	for (unsigned long long seq = first_seq(dump); *line; seq++) {
		char want[64];
		char *nl = strchr(line, '\n');
		assert_non_null(nl);
		snprintf(want, sizeof(want), "{\"seq\":%llu,", seq);
		assert_memory_equal(line, want, strlen(want));
		assert_non_null(strstr(line, "\"query\":\"a=1\""));
		assert_true(nl[-1] == '}');
		line = nl + 1;
	}
	free(dump);
	dump = journal_dump(j, 0, "api", &len);
	assert_int_equal(count_lines(dump), RING / 2);
	assert_null(strstr(dump, "\"listener\":\"c1\""));
	free(dump);
	free(long_q);
	journal_close(j);
}

/* Long lines: the bytes bound, not the count, drops the oldest. */
static void
test_bytes_bound(void **state)
{
	struct journal *j = NULL;
	struct mv_err err = {0};
	char *dump, *q = malloc(24001);
	size_t len;

	(void)state;
	assert_int_equal(journal_open(NULL, 1 << 20, false, &j, &err), 0);
	memset(q, 'x', 24000);
	q[24000] = '\0';
	for (int i = 0; i < 500; i++)
		record(j, "api", i % 10 ? q : "short=1");
	dump = journal_dump(j, 0, NULL, &len);
	assert_true(len <= 1 << 20);
	assert_true(count_lines(dump) >= 40 && count_lines(dump) < 50);
	assert_int_equal(first_seq(dump), 500 - count_lines(dump) + 1);
	free(dump);
	/* a line larger than the whole ring is not kept; the rest stays */
	q = realloc(q, 2000001);
	memset(q, 'y', 2000000);
	q[2000000] = '\0';
	record(j, "api", q);
	record(j, "api", "after=1");
	dump = journal_dump(j, 500, NULL, &len);
	assert_int_equal(count_lines(dump), 1);
	assert_int_equal(first_seq(dump), 502);
	free(dump);
	journal_clear(j);
	dump = journal_dump(j, 0, NULL, &len);
	assert_int_equal(len, 0);
	free(dump);
	record(j, "api", "again=1");
	dump = journal_dump(j, 0, NULL, &len);
	assert_int_equal(count_lines(dump), 1);
	free(dump);
	free(q);
	journal_close(j);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ring_wraps_with_mixed_lengths),
		cmocka_unit_test(test_bytes_bound),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
