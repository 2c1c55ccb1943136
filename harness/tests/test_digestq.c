/* test_digestq.c - bake/digestq, the digest thread of verify and unpack:
 * digests match core/sha256 over borrowed and copied bytes, the first
 * differing file is the one reported, release marks come back in order
 * and only after the bytes before them were hashed, a full queue blocks
 * instead of losing jobs, and freeing with work queued leaks nothing.
 * CI runs it under ThreadSanitizer too.
 */
#include <stdlib.h>
#include <string.h>

#include "bake/digestq.h"
#include "core/sha256.h"
#include "testutil.h"

/* The release callback's log: tokens in the order they came back.  It
 * poisons the buffer a mark covers, so bytes hashed after their mark
 * would change a digest. */
struct marks {
	uint64_t tokens[64];
	size_t n;
	char *poison[64];
	size_t poison_len;
};

static void
on_release(void *ud, uint64_t token)
{
	struct marks *m = ud;

	if (m->n < 64) {
		if (m->poison[m->n] != NULL)
			memset(m->poison[m->n], 'X', m->poison_len);
		m->tokens[m->n++] = token;
	}
}

static void
fill(char *buf, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (char)((i * 131u + seed * 7u) & 0xff);
}

static void
test_digests_match(void **state)
{
	enum { N = 5, LEN = 300000 };
	char *bufs[N], want[N][MV_SHA256_HEX];
	struct marks m = {.poison_len = LEN};
	struct digestq *q = NULL;
	size_t bad = 99;
	struct mv_err err;

	(void)state;
	mv_err_clear(&err);
	assert_int_equal(digestq_open(&q, on_release, &m, &err), 0);
	for (size_t i = 0; i < N; i++) {
		bufs[i] = malloc(LEN);
		assert_non_null(bufs[i]);
		fill(bufs[i], LEN, (unsigned)i);
		mv_sha256_buf_hex(bufs[i], LEN, want[i]);
		m.poison[i] = bufs[i];
		/* A file in three pieces, the middle one a copy whose source
		 * is spoiled at once. */
		digestq_begin(q);
		digestq_data(q, bufs[i], 1000);
		{
			char *tmp = malloc(2000);
			assert_non_null(tmp);
			memcpy(tmp, bufs[i] + 1000, 2000);
			digestq_data_copy(q, tmp, 2000);
			memset(tmp, 0, 2000);
			free(tmp);
		}
		digestq_data(q, bufs[i] + 3000, LEN - 3000);
		digestq_end(q, i, want[i]);
		digestq_mark(q, 100 + i);
	}
	assert_int_equal(digestq_sync(q, &bad), 0);
	assert_int_equal(bad, 99);
	assert_int_equal(m.n, N);
	for (size_t i = 0; i < N; i++) {
		assert_int_equal(m.tokens[i], 100 + i);
		assert_int_equal(bufs[i][0], 'X'); /* released, then poisoned */
		free(bufs[i]);
	}
	digestq_free(q);
}

static void
test_first_mismatch_reported(void **state)
{
	char ok[MV_SHA256_HEX], empty[MV_SHA256_HEX];
	const char *wrong = "00000000000000000000000000000000000000000000000000"
	                    "00000000000000";
	struct digestq *q = NULL;
	size_t bad = 99;
	struct mv_err err;

	(void)state;
	mv_err_clear(&err);
	mv_sha256_buf_hex("abc", 3, ok);
	mv_sha256_buf_hex("", 0, empty);
	assert_int_equal(digestq_open(&q, NULL, NULL, &err), 0);
	digestq_begin(q); /* 0: fine */
	digestq_data(q, "abc", 3);
	digestq_end(q, 0, ok);
	digestq_begin(q); /* 1: an empty file, fine */
	digestq_end(q, 1, empty);
	digestq_begin(q); /* 2: differs */
	digestq_data(q, "abd", 3);
	digestq_end(q, 2, ok);
	digestq_begin(q); /* 3: differs too, but later */
	digestq_data(q, "abc", 3);
	digestq_end(q, 3, wrong);
	assert_int_equal(digestq_sync(q, &bad), 1);
	assert_int_equal(bad, 2);
	/* Still reported after more work, and still the first. */
	digestq_begin(q);
	digestq_end(q, 4, wrong);
	assert_int_equal(digestq_sync(q, &bad), 1);
	assert_int_equal(bad, 2);
	digestq_free(q);
}

/* Far more jobs than the ring holds: the caller blocks, nothing is lost,
 * and the digest covers every byte in order. */
static void
test_full_queue_blocks(void **state)
{
	enum { PIECES = 20000 };
	static char data[PIECES];
	char want[MV_SHA256_HEX];
	struct marks m = {0};
	struct digestq *q = NULL;
	struct mv_err err;

	(void)state;
	mv_err_clear(&err);
	fill(data, sizeof(data), 3);
	mv_sha256_buf_hex(data, sizeof(data), want);
	assert_int_equal(digestq_open(&q, on_release, &m, &err), 0);
	digestq_begin(q);
	for (size_t i = 0; i < PIECES; i++) {
		if (i % 2)
			digestq_data(q, data + i, 1);
		else
			digestq_data_copy(q, data + i, 1);
		if (i % 1000 == 999)
			digestq_mark(q, i / 1000);
	}
	digestq_end(q, 0, want);
	assert_int_equal(digestq_sync(q, NULL), 0);
	assert_int_equal(m.n, PIECES / 1000);
	for (size_t i = 0; i < m.n; i++)
		assert_int_equal(m.tokens[i], i);
	digestq_free(q);
}

/* Freed with copies still queued (an error path): nothing leaks
 * (valgrind and ASan run this), nothing is released after the free. */
static void
test_free_with_work_queued(void **state)
{
	static char big[1 << 20];
	struct marks m = {0};
	struct digestq *q = NULL;
	struct mv_err err;

	(void)state;
	mv_err_clear(&err);
	assert_int_equal(digestq_open(&q, on_release, &m, &err), 0);
	for (int f = 0; f < 50; f++) {
		digestq_begin(q);
		digestq_data(q, big, sizeof(big));
		digestq_data_copy(q, "tail", 4);
		digestq_end(q, (size_t)f, "0");
		digestq_mark(q, (uint64_t)f);
	}
	digestq_free(q);
	assert_true(m.n <= 50);
	for (size_t i = 0; i < m.n; i++)
		assert_int_equal(m.tokens[i], i);
	digestq_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_digests_match),
		cmocka_unit_test(test_first_mismatch_reported),
		cmocka_unit_test(test_full_queue_blocks),
		cmocka_unit_test(test_free_with_work_queued),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
