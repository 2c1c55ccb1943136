/* test_verify.c - `meshvm bundle verify` and `inspect` (bake/verify.c).
 *
 * Damage a real bundle in every way the issue lists and check that each
 * is detected with exit code 3 and the entry named.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bake/bundle.h"
#include "forge.h"
#include "testutil.h"

static char *dir, *plain, *zst;

static int
setup(void **state)
{
	char *spec = tu_fmt("%s/bundle/bundle.yaml", tu_fixtures());

	(void)state;
	dir = tu_tmpdir();
	plain = tu_fmt("%s/plain.bundle", dir);
	zst = tu_fmt("%s/zstd.bundle", dir);
	assert_int_equal(tu_sh(NULL, "'%s' bake -f '%s' -o '%s' --compress none",
	                       tu_bin(), spec, plain), 0);
	assert_int_equal(tu_sh(NULL, "'%s' bake -f '%s' -o '%s'", tu_bin(), spec,
	                       zst), 0);
	free(spec);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	tu_rmrf(dir);
	free(dir);
	free(plain);
	free(zst);
	return 0;
}

/* Verify through the library and through the CLI; both must fail with
 * exit class 3 and a message naming `entry`. */
static void
expect_bad(const char *bundle, const char *entry, const char *why)
{
	struct bundle_info *info = NULL;
	struct mv_err err;
	char *out = NULL;

	mv_err_clear(&err);
	assert_int_equal(bundle_verify(bundle, NULL, &info, &err), -1);
	assert_null(info);
	assert_int_equal(err.exit_code, MV_EXIT_VERIFY);
	assert_contains(err.msg, entry);
	if (why != NULL)
		assert_contains(err.msg, why);
	assert_int_equal(tu_sh(&out, "'%s' bundle verify '%s'", tu_bin(), bundle),
	                 3);
	assert_contains(out, entry);
	free(out);
}

static char *
variant(const char *name)
{
	return tu_fmt("%s/%s", dir, name);
}

static void
test_good_bundles(void **state)
{
	const char *which[] = {plain, zst};

	(void)state;
	for (int i = 0; i < 2; i++) {
		struct bundle_info *info = NULL;
		struct mv_err err;
		char *sha = NULL;
		struct bundle_read_options ro = {NULL, false, 0};

		mv_err_clear(&err);
		assert_int_equal(bundle_verify(which[i], NULL, &info, &err), 0);
		assert_int_equal(info->n_files, 8);
		assert_string_equal(info->service_name, "productcatalogservice");
		assert_string_equal(info->compression, i ? "zstd" : "none");
		bundle_info_free(info);
		/* with the whole-file digest */
		assert_int_equal(tu_sh(&sha, "sha256sum '%s' | cut -c1-64", which[i]), 0);
		sha[64] = '\0';
		ro.expect_sha256 = sha;
		assert_int_equal(bundle_verify(which[i], &ro, &info, &err), 0);
		assert_string_equal(info->sha256, sha);
		bundle_info_free(info);
		free(sha);
	}
}

static void
test_wrong_digest(void **state)
{
	struct bundle_read_options ro = {
		"0000000000000000000000000000000000000000000000000000000000000000",
		false, 0};
	struct bundle_info *info = NULL;
	struct mv_err err;
	char *out = NULL;

	(void)state;
	assert_int_equal(bundle_verify(zst, &ro, &info, &err), -1);
	assert_int_equal(err.exit_code, MV_EXIT_VERIFY);
	assert_contains(err.msg, "differs from the expected");
	assert_int_equal(tu_sh(&out, "'%s' bundle verify '%s' --sha256 %s",
	                       tu_bin(), zst, ro.expect_sha256), 3);
	free(out);
}

static void
test_flipped_byte(void **state)
{
	char *v = variant("flip.bundle"), *data;
	size_t len;
	char *hit;

	(void)state;
	data = tu_read(plain, &len);
	hit = memmem(data, len, "istiod.istio-system.svc", 23);
	assert_non_null(hit);
	hit[0] ^= 0x20; /* 'i' → 'I' inside identity/hosts */
	tu_write_bytes(v, data, len);
	expect_bad(v, "identity/hosts", "sha256 differs");
	free(data);
	/* in a zstd bundle the frame checksum or the decoder catches it */
	data = tu_read(zst, &len);
	data[len - 64] ^= 0x55; /* in the payload frame, not the padding */
	tu_write_bytes(v, data, len);
	expect_bad(v, "flip.bundle", "zstd");
	free(data);
	free(v);
}

static void
test_appended_entry(void **state)
{
	const char *ops[] = {"append:units/zz-extra.service:hello", NULL};
	const char *ops2[] = {"append:zz/extra:hello", NULL};
	char *v = variant("append.bundle");

	(void)state;
	forge_rewrite(plain, v, ops);
	expect_bad(v, "units/zz-extra.service", "not listed in MANIFEST.json");
	/* outside the bundle format: refused on its name alone */
	forge_rewrite(plain, v, ops2);
	expect_bad(v, "zz/extra", "not a path of the bundle format");
	free(v);
}

static void
test_dropped_entry(void **state)
{
	const char *ops[] = {"drop:identity/mesh.yaml", NULL};
	char *v = variant("drop.bundle");

	(void)state;
	forge_rewrite(plain, v, ops);
	expect_bad(v, "identity/mesh.yaml", "listed in MANIFEST.json but missing");
	free(v);
}

static void
test_renamed_entry(void **state)
{
	const char *ops[] = {"rename:units/productcatalog.service:units/other.service",
	                     NULL};
	char *v = variant("rename.bundle");

	(void)state;
	forge_rewrite(plain, v, ops);
	expect_bad(v, "units/other.service", "not listed");
	free(v);
}

static void
test_duplicate_entry(void **state)
{
	const char *ops[] = {"dup:identity/hosts", NULL};
	char *v = variant("dup.bundle");

	(void)state;
	forge_rewrite(plain, v, ops);
	expect_bad(v, "identity/hosts", "duplicate entry");
	free(v);
}

static void
test_manifest_not_first(void **state)
{
	const char *ops[] = {"first:SHA256SUMS", NULL};
	char *v = variant("order.bundle");

	(void)state;
	forge_rewrite(plain, v, ops);
	expect_bad(v, "SHA256SUMS", "the first entry must be MANIFEST.json");
	free(v);
}

static void
test_truncated(void **state)
{
	char *v = variant("trunc.bundle"), *data;
	size_t len;

	(void)state;
	/* plain: cut inside image/rootfs.tar's data */
	data = tu_read(plain, &len);
	char *hit = memmem(data, len, "listening on", 12);
	assert_non_null(hit);
	tu_write_bytes(v, data, (size_t)(hit - data) + 600);
	expect_bad(v, "image/rootfs.tar", NULL);
	free(data);
	/* zstd: cut the compressed stream in the middle */
	data = tu_read(zst, &len);
	tu_write_bytes(v, data, len / 2);
	expect_bad(v, "trunc.bundle", NULL);
	free(data);
	/* zstd: cut only the last few bytes (frame checksum) */
	data = tu_read(zst, &len);
	tu_write_bytes(v, data, len - 3);
	expect_bad(v, "truncated", NULL);
	free(data);
	/* empty file */
	tu_write_bytes(v, "", 0);
	expect_bad(v, "not a meshvm bundle", NULL);
	free(v);
}

static void
test_sums_tampered(void **state)
{
	char *v = variant("sums.bundle"), *data;
	size_t len;
	char *hit;

	(void)state;
	data = tu_read(plain, &len);
	/* SHA256SUMS lists MANIFEST.json first: damage that line's digest */
	hit = memmem(data, len, "  MANIFEST.json\n", 16);
	assert_non_null(hit);
	hit[-1] = hit[-1] == '0' ? '1' : '0';
	tu_write_bytes(v, data, len);
	expect_bad(v, "SHA256SUMS", "does not match MANIFEST.json");
	free(data);
	free(v);
}

static void
test_manifest_lies(void **state)
{
	/* a file whose manifest digest is wrong, and one listed 1 byte too
	 * long: the forge writes a self-consistent SHA256SUMS for the lie, so
	 * only the entry check can catch it */
	struct forge_entry bad_sha[] = {
		{.path = "units/a.service", .data = "[Service]\n",
		 .listed_sha = "1111111111111111111111111111111111111111111111111111111111111111"}};
	struct forge_entry bad_size[] = {
		{.path = "units/a.service", .data = "[Service]\n", .listed_size = 11}};
	char *v = variant("lie.bundle");

	(void)state;
	forge_bundle(v, "zstd", bad_sha, 1);
	expect_bad(v, "units/a.service", "sha256 differs");
	forge_bundle(v, "gzip", bad_size, 1);
	expect_bad(v, "units/a.service", "size differs");
	free(v);
}

static void
test_inspect(void **state)
{
	struct bundle_info *info = NULL;
	struct mv_err err;
	char *out = NULL, *sha = NULL;

	(void)state;
	assert_int_equal(bundle_inspect(zst, &info, &err), 0);
	assert_int_equal(tu_sh(&sha, "sha256sum '%s' | cut -c1-64", zst), 0);
	sha[64] = '\0';
	assert_string_equal(info->sha256, sha);
	assert_string_equal(info->sidecar_version, "1.26.0-meshvm1");
	assert_string_equal(info->image_format, "rootfs");
	assert_string_equal(info->image_runtime, "systemd");
	assert_string_equal(info->image_config, "image/config.json");
	bundle_info_free(info);
	assert_int_equal(tu_sh(&out, "'%s' bundle inspect --json '%s'", tu_bin(),
	                       zst), 0);
	assert_contains(out, sha);
	assert_contains(out, "\"format\": \"meshvm-bundle/1\"");
	free(out);
	assert_int_equal(tu_sh(&out, "'%s' bundle inspect '%s'", tu_bin(), zst), 0);
	assert_contains(out, "productcatalogservice.default (grpc/3550)");
	assert_contains(out, "sidecar/istio-sidecar.deb (deb 1.26.0-meshvm1)");
	free(out);
	free(sha);
	/* not a bundle */
	assert_int_equal(tu_sh(&out, "'%s' bundle inspect '%s/bundle/bundle.yaml'",
	                       tu_bin(), tu_fixtures()), 3);
	free(out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_bundles),
		cmocka_unit_test(test_wrong_digest),
		cmocka_unit_test(test_flipped_byte),
		cmocka_unit_test(test_appended_entry),
		cmocka_unit_test(test_dropped_entry),
		cmocka_unit_test(test_renamed_entry),
		cmocka_unit_test(test_duplicate_entry),
		cmocka_unit_test(test_manifest_not_first),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_sums_tampered),
		cmocka_unit_test(test_manifest_lies),
		cmocka_unit_test(test_inspect),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
