/* test_unpack.c - `meshvm bundle unpack`: verify while extracting, refuse
 * hostile archives, and leave nothing behind on failure. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bake/bundle.h"
#include "forge.h"
#include "testutil.h"

#define UNIT "[Unit]\n[Service]\nExecStart=/bin/true\n"

struct hostile {
	const char *name;
	struct forge_entry ents[3];
	size_t n;
	const char *entry; /* named in the error */
	const char *why;
};

/* Every hostile entry sits among legitimate ones.  Paths that would land
 * outside the target aim at "escape/…", a sibling directory the test
 * watches. */
static const struct hostile cases[] = {
	{"absolute path", {{.path = "/tmp/meshvm-unpack-escape/abs", .data = "x",
	                    .unlisted = true}}, 1,
	 "/tmp/meshvm-unpack-escape/abs", "absolute path refused"},
	{"dot-dot", {{.path = "../escape/dotdot", .data = "x", .unlisted = true}}, 1,
	 "../escape/dotdot", "'..' component refused"},
	{"dot-dot in the middle", {{.path = "units/../../escape/mid", .data = "x",
	                             .unlisted = true}}, 1,
	 "units/../../escape/mid", "'..' component refused"},
	{"symlink", {{.path = "units/link.service", .type = FORGE_SYMLINK,
	              .link = "../../escape"}}, 1,
	 "units/link.service", "symbolic link refused"},
	{"symlink then a file through it",
	 {{.path = "units", .type = FORGE_SYMLINK, .link = "../escape",
	   .unlisted = true},
	  {.path = "units/x.service", .data = UNIT}}, 2,
	 "units", "symbolic link refused"},
	{"hard link", {{.path = "units/hard.service", .type = FORGE_HARDLINK,
	                .link = "image/image.tar", .data = ""}}, 1,
	 "units/hard.service", "hard link refused"},
	{"character device", {{.path = "units/null.service", .type = FORGE_CHR,
	                       .data = ""}}, 1,
	 "units/null.service", "device node refused"},
	{"block device", {{.path = "units/sda.service", .type = FORGE_BLK,
	                   .data = ""}}, 1,
	 "units/sda.service", "device node refused"},
	{"FIFO", {{.path = "units/fifo.service", .type = FORGE_FIFO, .data = ""}}, 1,
	 "units/fifo.service", "FIFO refused"},
	{"directory entry", {{.path = "units", .type = FORGE_DIR, .mode = 0755,
	                      .unlisted = true}}, 1,
	 "units", "directory entry refused"},
	{"setuid", {{.path = "units/suid.service", .data = UNIT, .mode = 04755}}, 1,
	 "units/suid.service", "setuid/setgid/sticky bit refused"},
	{"setgid", {{.path = "units/sgid.service", .data = UNIT, .mode = 02644}}, 1,
	 "units/sgid.service", "setuid/setgid/sticky bit refused"},
	{"sticky", {{.path = "units/sticky.service", .data = UNIT, .mode = 01644}}, 1,
	 "units/sticky.service", "setuid/setgid/sticky bit refused"},
	{"duplicate path", {{.path = "units/a.service", .data = UNIT},
	                    {.path = "units/a.service", .data = UNIT,
	                     .unlisted = true}}, 2,
	 "units/a.service", "duplicate entry"},
	{"entry not in the manifest", {{.path = "units/a.service", .data = UNIT},
	                               {.path = "units/b.service", .data = UNIT,
	                                .unlisted = true}}, 2,
	 "units/b.service", "not listed in MANIFEST.json"},
	{"size mismatch", {{.path = "units/a.service", .data = UNIT,
	                    .listed_size = 5}}, 1,
	 "units/a.service", "size differs"},
	{"digest mismatch", {{.path = "units/a.service", .data = UNIT,
	                      .listed_sha = "2222222222222222222222222222222222222222222222222222222222222222"}}, 1,
	 "units/a.service", "sha256 differs"},
	{"manifest listing an unsafe path", {{.path = "units/a.service", .data = UNIT,
	                                     .listed_path = "../escape/m"}}, 1,
	 "MANIFEST.json", "unsafe path"},
};

static char *root;

static int
setup(void **state)
{
	(void)state;
	root = tu_tmpdir();
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	tu_rmrf(root);
	tu_rmrf("/tmp/meshvm-unpack-escape");
	free(root);
	return 0;
}

/* Unpack into root/work/dest with root/work/escape watched; assert a clean
 * refusal. dest_exists: start from an existing empty directory. */
static void
expect_refused(const char *bundle, const char *entry, const char *why,
               bool dest_exists)
{
	char *work = tu_fmt("%s/work", root), *dest = tu_fmt("%s/dest", work);
	char *escape = tu_fmt("%s/escape", work), *out = NULL;
	struct bundle_info *info = NULL;
	struct mv_err err;

	tu_rmrf(work);
	tu_rmrf("/tmp/meshvm-unpack-escape");
	assert_int_equal(mkdir(work, 0755), 0);
	assert_int_equal(mkdir(escape, 0755), 0);
	assert_int_equal(mkdir("/tmp/meshvm-unpack-escape", 0755), 0);
	if (dest_exists)
		assert_int_equal(mkdir(dest, 0755), 0);
	mv_err_clear(&err);
	assert_int_equal(bundle_unpack(bundle, dest, NULL, &info, &err), -1);
	assert_null(info);
	assert_int_equal(err.exit_code, MV_EXIT_VERIFY);
	assert_contains(err.msg, entry);
	assert_contains(err.msg, why);
	/* nothing outside, nothing new inside */
	assert_int_equal(tu_dir_count(escape), 0);
	assert_int_equal(tu_dir_count("/tmp/meshvm-unpack-escape"), 0);
	if (dest_exists)
		assert_int_equal(tu_dir_count(dest), 0);
	else
		assert_false(tu_exists(dest));
	assert_int_equal(tu_dir_count(work), dest_exists ? 2 : 1);
	/* and the CLI says 3 */
	if (!dest_exists) {
		assert_int_equal(tu_sh(&out, "'%s' bundle unpack '%s' --dest '%s'",
		                       tu_bin(), bundle, dest), 3);
		assert_contains(out, entry);
		assert_false(tu_exists(dest));
		free(out);
	}
	free(work);
	free(dest);
	free(escape);
}

static void
test_hostile_archives(void **state)
{
	char *b = tu_fmt("%s/hostile.bundle", root);

	(void)state;
	assert_true(sizeof(cases) / sizeof(cases[0]) >= 12);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		print_message("case: %s\n", cases[i].name);
		forge_bundle(b, i % 3 == 0 ? "zstd" : i % 3 == 1 ? "none" : "gzip",
		             cases[i].ents, cases[i].n);
		expect_refused(b, cases[i].entry, cases[i].why, i % 2 == 0);
	}
	free(b);
}

static void
test_truncated_stream(void **state)
{
	char *spec = tu_fmt("%s/bundle/bundle.yaml", tu_fixtures());
	char *b = tu_fmt("%s/t.bundle", root), *data;
	size_t len;

	(void)state;
	assert_int_equal(tu_sh(NULL, "'%s' bake -f '%s' -o '%s'", tu_bin(), spec,
	                       b), 0);
	data = tu_read(b, &len);
	tu_write_bytes(b, data, len - 20);
	expect_refused(b, "t.bundle", "truncated", false);
	free(data);
	free(b);
	free(spec);
}

static void
test_good_unpack(void **state)
{
	char *spec = tu_fmt("%s/bundle/bundle.yaml", tu_fixtures());
	char *b = tu_fmt("%s/good.bundle", root), *dest = tu_fmt("%s/d", root);
	char *out = NULL, *sha = NULL;
	struct bundle_read_options ro = {NULL, false, 0};
	struct bundle_info *info = NULL;
	struct mv_err err;
	struct stat st;

	(void)state;
	assert_int_equal(tu_sh(NULL, "'%s' bake -f '%s' -o '%s'", tu_bin(), spec,
	                       b), 0);
	assert_int_equal(tu_sh(&sha, "sha256sum '%s' | cut -c1-64", b), 0);
	sha[64] = '\0';
	ro.expect_sha256 = sha;
	mv_err_clear(&err);
	assert_int_equal(bundle_unpack(b, dest, &ro, &info, &err), 0);
	assert_int_equal(info->n_files, 8);
	bundle_info_free(info);
	/* everything in place, nothing else (no staging left) */
	assert_int_equal(tu_dir_count(dest), 6);
	assert_int_equal(tu_sh(&out, "cd '%s' && sha256sum -c SHA256SUMS", dest), 0);
	free(out);
	char *cert = tu_fmt("%s/identity/root-cert.pem", dest);
	assert_int_equal(stat(cert, &st), 0);
	free(cert);
	assert_int_equal(st.st_mode & 07777, 0644);
	assert_int_equal(st.st_mtime, 0);
	assert_true(S_ISREG(st.st_mode));
	/* a non-empty destination is refused, untouched */
	assert_int_equal(tu_sh(&out, "'%s' bundle unpack '%s' --dest '%s'",
	                       tu_bin(), b, dest), 1);
	assert_contains(out, "not empty");
	assert_int_equal(tu_dir_count(dest), 6);
	free(out);
	/* wrong digest: refused, nothing created */
	tu_rmrf(dest);
	assert_int_equal(tu_sh(&out, "'%s' bundle unpack '%s' --dest '%s' --sha256 "
	                       "%064d", tu_bin(), b, dest, 0), 3);
	assert_false(tu_exists(dest));
	free(out);
	/* the CLI, relative paths */
	assert_int_equal(tu_sh(&out, "cd '%s' && '%s' bundle unpack good.bundle "
	                       "--dest rel --json", root, tu_bin()), 0);
	assert_contains(out, "\"verified\": true");
	char *rel = tu_fmt("%s/rel", root);
	assert_int_equal(tu_dir_count(rel), 6);
	free(rel);
	free(out);
	free(sha);
	free(spec);
	free(b);
	free(dest);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hostile_archives),
		cmocka_unit_test(test_truncated_stream),
		cmocka_unit_test(test_good_unpack),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
