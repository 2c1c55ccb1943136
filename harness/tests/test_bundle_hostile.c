/* test_bundle_hostile.c - bundles an attacker would craft: data after the
 * archive, names outside the format, hostile manifest fields.  verify and
 * unpack must agree on each: both refuse, and unpack leaves nothing. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bake/bundle.h"
#include "forge.h"
#include "testutil.h"

#define UNIT "[Unit]\n[Service]\nExecStart=/bin/true\n"

static char *dir;

static int
setup(void **state)
{
	(void)state;
	dir = tu_tmpdir();
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	tu_rmrf(dir);
	free(dir);
	return 0;
}

/* Both verify (library and CLI) and unpack refuse with exit class 3 and
 * `why` in the message; unpack leaves no destination behind. */
static void
expect_refused(const char *bundle, const char *why)
{
	struct bundle_info *info = NULL;
	struct mv_err err;
	char *dest = tu_fmt("%s/dest", dir), *out = NULL;

	mv_err_clear(&err);
	assert_int_equal(bundle_verify(bundle, NULL, &info, &err), -1);
	assert_null(info);
	assert_int_equal(err.exit_code, MV_EXIT_VERIFY);
	assert_contains(err.msg, why);
	assert_int_equal(tu_sh(&out, "'%s' bundle verify '%s'", tu_bin(), bundle),
	                 3);
	assert_contains(out, why);
	free(out);
	tu_rmrf(dest);
	mv_err_clear(&err);
	assert_int_equal(bundle_unpack(bundle, dest, NULL, &info, &err), -1);
	assert_null(info);
	assert_int_equal(err.exit_code, MV_EXIT_VERIFY);
	assert_contains(err.msg, why);
	assert_false(tu_exists(dest));
	free(dest);
}

/* Both accept; unpack's tree holds the manifest. */
static void
expect_accepted(const char *bundle)
{
	struct bundle_info *info = NULL;
	struct mv_err err;
	char *dest = tu_fmt("%s/dest", dir), *m = tu_fmt("%s/MANIFEST.json", dest);

	mv_err_clear(&err);
	if (bundle_verify(bundle, NULL, &info, &err) != 0)
		print_error("%s\n", err.msg);
	assert_non_null(info);
	bundle_info_free(info);
	info = NULL;
	tu_rmrf(dest);
	if (bundle_unpack(bundle, dest, NULL, &info, &err) != 0)
		print_error("%s\n", err.msg);
	assert_non_null(info);
	bundle_info_free(info);
	assert_true(tu_exists(m));
	tu_rmrf(dest);
	free(dest);
	free(m);
}

static const struct forge_entry one_unit[] = {
	{.path = "units/a.service", .data = UNIT},
};

/*--- item 6: nothing after the archive ----------------------------------*/

static void
test_data_after_archive(void **state)
{
	static const char *const kinds[] = {"none", "gzip", "zstd"};
	char junk[1024] = "junk after the two zero blocks";
	char zeros[1024] = {0};
	char *b = tu_fmt("%s/after.bundle", dir);

	(void)state;
	for (size_t k = 0; k < 3; k++) {
		/* non-zero bytes inside the (decompressed) stream, after the
		 * end-of-archive blocks, in the same buffer */
		memset(&forge_opts, 0, sizeof(forge_opts));
		forge_opts.after_tar = junk;
		forge_opts.after_tar_len = sizeof(junk);
		forge_bundle(b, kinds[k], one_unit, 1);
		expect_refused(b, "data after the end of the archive");
		/* zero padding, but not to a whole tar block */
		forge_opts.after_tar = zeros;
		forge_opts.after_tar_len = 100;
		forge_bundle(b, kinds[k], one_unit, 1);
		expect_refused(b, "data after the end of the archive");
		/* whole zero blocks are padding: accepted */
		forge_opts.after_tar_len = sizeof(zeros);
		forge_bundle(b, kinds[k], one_unit, 1);
		expect_accepted(b);
	}
	/* raw garbage appended after the compressed stream (or plain tar) */
	memset(&forge_opts, 0, sizeof(forge_opts));
	forge_opts.after_file = "garbage";
	forge_opts.after_file_len = 7;
	forge_bundle(b, "none", one_unit, 1);
	expect_refused(b, "data after the end of the archive");
	forge_bundle(b, "gzip", one_unit, 1);
	expect_refused(b, "data after the end of the gzip stream");
	forge_bundle(b, "zstd", one_unit, 1);
	expect_refused(b, "zstd");
	memset(&forge_opts, 0, sizeof(forge_opts));
	free(b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_data_after_archive),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
