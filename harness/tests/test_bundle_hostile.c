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
	{
		/* zeros after the gzip stream: the last record's padding (as
		 * bake's gzip writer leaves) passes, more than a record not */
		static char pad[20000];
		forge_opts.after_file = pad;
		forge_opts.after_file_len = 4000;
		forge_bundle(b, "gzip", one_unit, 1);
		expect_accepted(b);
		forge_opts.after_file_len = sizeof(pad);
		forge_bundle(b, "gzip", one_unit, 1);
		expect_refused(b, "data after the end of the gzip stream");
		forge_opts.after_file = "garbage";
		forge_opts.after_file_len = 7;
	}
	forge_bundle(b, "zstd", one_unit, 1);
	expect_refused(b, "zstd");
	/* a zstd skippable frame is no hiding place at the end either */
	forge_opts.after_file = "\x50\x2a\x4d\x18\x08\x00\x00\x00garbage!";
	forge_opts.after_file_len = 16;
	forge_bundle(b, "zstd", one_unit, 1);
	expect_refused(b, "data after the end of the compressed stream");
	memset(&forge_opts, 0, sizeof(forge_opts));
	free(b);
}


/*--- item 7: verify and unpack agree on the layout ----------------------*/

static void
test_layout(void **state)
{
	struct forge_entry many[20];
	char names[20][32];
	char *b = tu_fmt("%s/layout.bundle", dir);

	(void)state;
	memset(&forge_opts, 0, sizeof(forge_opts));
	/* More than 16 top-level names: verify passed it, unpack failed with
	 * "Too many links". Both refuse it now, on the first foreign name. */
	for (int i = 0; i < 20; i++) {
		snprintf(names[i], sizeof(names[i]), "top%02d/x", i);
		memset(&many[i], 0, sizeof(many[i]));
		many[i].path = names[i];
		many[i].data = "x\n";
	}
	forge_bundle(b, "none", many, 20);
	expect_refused(b, "not a path of the bundle format");
	/* one foreign top-level name, or a file under a known one */
	{
		const struct forge_entry e1[] = {{.path = "extra.txt", .data = "x"}};
		const struct forge_entry e2[] = {{.path = "identity/token", .data = "x"}};
		const struct forge_entry e3[] = {{.path = "units/a/b.service", .data = UNIT}};
		const struct forge_entry e4[] = {{.path = "units/a.timer", .data = UNIT}};
		forge_bundle(b, "zstd", e1, 1);
		expect_refused(b, "\"extra.txt\" is not a path of the bundle format");
		forge_bundle(b, "zstd", e2, 1);
		expect_refused(b, "identity/token");
		forge_bundle(b, "zstd", e3, 1);
		expect_refused(b, "units/a/b.service");
		forge_bundle(b, "zstd", e4, 1);
		expect_refused(b, "units/a.timer");
	}
	/* Every top-level name of the format at once unpacks. */
	{
		const struct forge_entry all[] = {
			{.path = "identity/cluster.env", .data = "A='b'\n"},
			{.path = "identity/hosts", .data = "10.0.0.1 istiod\n"},
			{.path = "units/a.service", .data = UNIT},
			{.path = "units/b-c_d:e.service", .data = UNIT},
		};
		forge_opts.sorted = true;
		forge_bundle(b, "gzip", all, 4);
		expect_accepted(b);
		forge_opts.sorted = false;
	}
	free(b);
}

/*--- item 8: manifest fields, and nothing raw on a terminal -------------*/

struct bad_field {
	const char *patch;
	const char *why;
};

static const struct bad_field bad_fields[] = {
	{"{\"service\":{\"name\":\"svc\\n\\u001b[31mpwned\"}}",
	 "service.name \"svc\\x0a\\x1b[31mpwned\" is not a DNS-1123 label"},
	{"{\"service\":{\"name\":\"Svc\"}}", "service.name \"Svc\""},
	{"{\"service\":{\"name\":\"-svc\"}}", "service.name \"-svc\""},
	{"{\"service\":{\"namespace\":\"a.b\"}}", "service.namespace \"a.b\""},
	{"{\"service\":{\"port\":0}}", "service.port 0 is not 1..65535"},
	{"{\"service\":{\"port\":65536}}", "service.port 65536 is not 1..65535"},
	{"{\"service\":{\"protocol\":\"udp\"}}", "service.protocol \"udp\""},
	{"{\"sidecar\":{\"version\":\"1\\u001b]0;x\\u0007\"}}",
	 "version \"1\\x1b]0;x\\x07\" is not 1..128 printable"},
	{"{\"sidecar\":{\"version\":\"1 2\"}}", "version \"1 2\""},
	{"{\"sidecar\":{\"format\":\"zip\"}}", "format \"zip\" is not deb or rpm"},
	{"{\"image\":{\"format\":\"vmdk\"}}",
	 "format \"vmdk\" is not docker-archive, oci-archive or rootfs"},
};

static void
test_manifest_fields(void **state)
{
	char *b = tu_fmt("%s/fields.bundle", dir), *out = NULL;

	(void)state;
	for (size_t i = 0; i < sizeof(bad_fields) / sizeof(bad_fields[0]); i++) {
		struct bundle_info *info = NULL;
		struct mv_err err;
		print_message("case: %s\n", bad_fields[i].patch);
		memset(&forge_opts, 0, sizeof(forge_opts));
		forge_opts.manifest_patch = bad_fields[i].patch;
		forge_bundle(b, "zstd", one_unit, 1);
		expect_refused(b, bad_fields[i].why);
		/* inspect refuses it too, and never echoes the raw bytes */
		mv_err_clear(&err);
		assert_int_equal(bundle_inspect(b, &info, &err), -1);
		assert_contains(err.msg, bad_fields[i].why);
		assert_int_equal(tu_sh(&out, "'%s' bundle inspect '%s'", tu_bin(),
		                       b), 3);
		assert_null(strchr(out, '\033'));
		assert_null(strchr(out, '\a'));
		free(out);
	}
	/* cloudinit seed: the bundle fails verification (exit 3) on the
	 * field itself, not on a --hostname the user never gave */
	{
		char *tok = tu_fmt("%s/token", dir), *iso = tu_fmt("%s/s.iso", dir);
		tu_write(tok, "eyJhbGciOiJSUzI1NiJ9.eyJleHAiOjQxMDI0NDQ4MDB9.c2ln\n");
		forge_opts.manifest_patch = bad_fields[0].patch;
		forge_bundle(b, "zstd", one_unit, 1);
		assert_int_equal(tu_sh(&out, "'%s' cloudinit seed --bundle '%s' "
		                             "--token-file '%s' -o '%s'", tu_bin(),
		                       b, tok, iso), 3);
		assert_contains(out, "service.name");
		assert_null(strstr(out, "--hostname"));
		assert_null(strchr(out, '\033'));
		assert_false(tu_exists(iso));
		free(out);
		free(tok);
		free(iso);
	}
	memset(&forge_opts, 0, sizeof(forge_opts));
	free(b);
}

/* A path from the bundle in an error: escaped, and cut near 200 bytes. */
static void
test_hostile_names_escaped(void **state)
{
	char *b = tu_fmt("%s/names.bundle", dir), *out = NULL;
	char name[4200] = "units/";
	struct mv_err err;
	struct bundle_info *info = NULL;

	(void)state;
	memset(&forge_opts, 0, sizeof(forge_opts));
	while (strlen(name) + 5 < sizeof(name))
		strcat(name, "\033[2J");
	{
		const struct forge_entry e[] = {{.path = name, .data = "x",
		                                 .unlisted = true}};
		forge_bundle(b, "none", e, 1);
	}
	mv_err_clear(&err);
	assert_int_equal(bundle_verify(b, NULL, &info, &err), -1);
	assert_null(strchr(err.msg, '\033'));
	assert_contains(err.msg, "units/\\x1b[2J\\x1b[2J");
	assert_contains(err.msg, "...: unsafe path refused");
	assert_true(strlen(err.msg) < 200 * 4 + 200);
	assert_int_equal(tu_sh(&out, "'%s' bundle unpack '%s' --dest '%s/d'",
	                       tu_bin(), b, dir), 3);
	assert_null(strchr(out, '\033'));
	assert_true(strlen(out) < 200 * 4 + 300);
	free(out);
	free(b);
}

/*--- item 5: size limits -------------------------------------------------*/

static void
test_size_limits(void **state)
{
	char *b = tu_fmt("%s/size.bundle", dir), *dest = tu_fmt("%s/d", dir);
	char *out = NULL;
	struct bundle_read_options ro = {NULL, false, 1u << 20};
	struct bundle_info *info = NULL;
	struct mv_err err;
	static char big[(2u << 20) + 1];

	(void)state;
	memset(&forge_opts, 0, sizeof(forge_opts));
	memset(big, 'u', sizeof(big) - 1);
	{
		/* 2 MiB of unit: over a 1 MiB --max-size, refused before
		 * writing (no destination appears) */
		const struct forge_entry e[] = {{.path = "units/big.service",
		                                 .data = big}};
		forge_bundle(b, "zstd", e, 1);
	}
	mv_err_clear(&err);
	assert_int_equal(bundle_unpack(b, dest, &ro, &info, &err), -1);
	assert_contains(err.msg, "over the unpack limit of 1.0 MiB (--max-size)");
	assert_false(tu_exists(dest));
	assert_int_equal(tu_sh(&out, "'%s' bundle unpack '%s' --dest '%s' "
	                             "--max-size 1M", tu_bin(), b, dest), 3);
	assert_contains(out, "--max-size");
	free(out);
	assert_int_equal(tu_sh(&out, "'%s' bundle unpack '%s' --dest '%s' "
	                             "--max-size 3M", tu_bin(), b, dest), 0);
	free(out);
	tu_rmrf(dest);
	assert_int_equal(tu_sh(&out, "'%s' bundle unpack '%s' --dest '%s' "
	                             "--max-size 1X", tu_bin(), b, dest), 2);
	free(out);
	/* A manifest claiming 1 PiB: more than any test machine's free
	 * space, refused before writing; with the default limit, refused by
	 * the limit. */
	{
		const struct forge_entry e[] = {{.path = "units/a.service",
		                                 .data = UNIT,
		                                 .listed_size = 1ll << 50}};
		forge_bundle(b, "zstd", e, 1);
	}
	ro.max_size = UINT64_MAX;
	mv_err_clear(&err);
	assert_int_equal(bundle_unpack(b, dest, &ro, &info, &err), -1);
	assert_contains(err.msg, "the manifest lists 1024.0 TiB of files, more "
	                         "than the");
	assert_contains(err.msg, "free in");
	assert_false(tu_exists(dest));
	mv_err_clear(&err);
	assert_int_equal(bundle_unpack(b, dest, NULL, &info, &err), -1);
	assert_contains(err.msg, "over the unpack limit of 16.0 GiB");
	assert_false(tu_exists(dest));
	free(b);
	free(dest);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_data_after_archive),
		cmocka_unit_test(test_layout),
		cmocka_unit_test(test_manifest_fields),
		cmocka_unit_test(test_hostile_names_escaped),
		cmocka_unit_test(test_size_limits),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
