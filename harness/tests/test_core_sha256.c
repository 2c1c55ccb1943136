/* test_core_sha256.c - core/sha256 against known vectors and sha256sum. */
#include <stdlib.h>
#include <string.h>

#include "core/sha256.h"
#include "testutil.h"

static void
test_vectors(void **state)
{
	char hex[MV_SHA256_HEX];
	struct mv_sha256 h;

	(void)state;
	mv_sha256_buf_hex("", 0, hex);
	assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b"
	                         "934ca495991b7852b855");
	mv_sha256_buf_hex("abc", 3, hex);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a39617"
	                         "7a9cb410ff61f20015ad");
	assert_int_equal(mv_sha256_init(&h), 0);
	mv_sha256_update(&h, "a", 1);
	mv_sha256_update(&h, "bc", 2);
	mv_sha256_final_hex(&h, hex);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a39617"
	                         "7a9cb410ff61f20015ad");
}

/* mv_sha256_update_far prefetches ahead in pieces: the digest must be
 * the plain one at every length around the piece and prefetch bounds,
 * split across calls at odd offsets too. */
static void
test_far_matches_plain(void **state)
{
	static const size_t lens[] = {0, 1, 63, 64, 4095, 4096, 4097, 16383,
	                              16384, 16385, 20479, 20480, 20481,
	                              (1u << 20) + 3};
	size_t max = (1u << 20) + 3;
	unsigned char *buf = malloc(max);
	char want[MV_SHA256_HEX], got[MV_SHA256_HEX];

	(void)state;
	assert_non_null(buf);
	for (size_t i = 0; i < max; i++)
		buf[i] = (unsigned char)(i * 2654435761u >> 13);
	for (size_t k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
		struct mv_sha256 h;
		size_t n = lens[k], cut = n / 3;

		mv_sha256_buf_hex(buf, n, want);
		assert_int_equal(mv_sha256_init(&h), 0);
		mv_sha256_update_far(&h, buf, n);
		mv_sha256_final_hex(&h, got);
		assert_string_equal(got, want);
		assert_int_equal(mv_sha256_init(&h), 0);
		mv_sha256_update_far(&h, buf, cut);
		mv_sha256_update(&h, buf + cut, 1 < n - cut ? 1 : n - cut);
		if (n - cut > 1)
			mv_sha256_update_far(&h, buf + cut + 1, n - cut - 1);
		mv_sha256_final_hex(&h, got);
		assert_string_equal(got, want);
	}
	free(buf);
}

static void
test_file_matches_sha256sum(void **state)
{
	char *dir = tu_tmpdir(), *f = tu_fmt("%s/data", dir), *out = NULL;
	char hex[MV_SHA256_HEX];
	struct mv_err err;
	uint64_t size = 0;
	char *buf = malloc(3u << 20);

	(void)state;
	for (size_t i = 0; i < (3u << 20); i++)
		buf[i] = (char)(i * 131 + (i >> 9));
	tu_write_bytes(f, buf, 3u << 20);
	assert_int_equal(mv_sha256_file_hex(f, hex, &size, NULL, &err), 0);
	assert_int_equal(size, 3u << 20);
	assert_int_equal(tu_sh(&out, "sha256sum '%s' | cut -c1-64", f), 0);
	assert_int_equal(strncmp(out, hex, 64), 0);
	assert_int_equal(mv_sha256_file_hex("/nonexistent/x", hex, NULL, NULL,
	                                    &err), -1);
	assert_contains(err.msg, "/nonexistent/x");
	free(out);
	free(buf);
	tu_rmrf(dir);
	free(f);
	free(dir);
}

static void
test_is_hex(void **state)
{
	(void)state;
	assert_true(mv_is_sha256_hex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4"
	                             "649b934ca495991b7852b855"));
	assert_false(mv_is_sha256_hex("E3B0C44298FC1C149AFBF4C8996FB92427AE41E4"
	                              "649B934CA495991B7852B855"));
	assert_false(mv_is_sha256_hex("abc"));
	assert_false(mv_is_sha256_hex(""));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_far_matches_plain),
		cmocka_unit_test(test_file_matches_sha256sum),
		cmocka_unit_test(test_is_hex),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
