/* test_images.c - cloudinit/images: the image table, the boot agent
 * choice, compression, the README copy, vm.boot_agent and COS at plan. */
#include <stdlib.h>
#include <string.h>

#include "cloudinit/images.h"
#include "core/config.h"
#include "testutil.h"

static void
test_lookup(void **state)
{
	const struct image_family *f;

	(void)state;
	f = images_lookup("projects/ubuntu-os-cloud/global/images/family/"
	                  "ubuntu-2204-lts");
	assert_non_null(f);
	assert_string_equal(f->family, "ubuntu-2204-lts");
	assert_int_equal(f->agent, IMAGE_AGENT_CLOUD_INIT);
	assert_int_equal(f->pkg, IMAGE_PKG_DEB);
	assert_true(f->tools & IMAGE_HAS_ZSTD);
	/* the arm64 family is its own row, not the amd64 one */
	f = images_lookup("ubuntu-os-cloud/ubuntu-2204-lts-arm64");
	assert_non_null(f);
	assert_string_equal(f->family, "ubuntu-2204-lts-arm64");
	/* full URL, a specific image of a family */
	f = images_lookup("https://www.googleapis.com/compute/v1/projects/"
	                  "ubuntu-os-cloud/global/images/"
	                  "ubuntu-2404-noble-amd64-v20240423");
	assert_non_null(f);
	assert_string_equal(f->family, "ubuntu-2404-lts-amd64");
	f = images_lookup("projects/debian-cloud/global/images/family/debian-12");
	assert_non_null(f);
	assert_int_equal(f->agent, IMAGE_AGENT_STARTUP_SCRIPT);
	assert_false(f->tools & IMAGE_HAS_ZSTD);
	assert_true(f->tools & IMAGE_HAS_PYTHON3);
	assert_false(f->tools & IMAGE_HAS_RUNTIME);
	f = images_lookup("projects/debian-cloud/global/images/"
	                  "debian-12-bookworm-v20240312");
	assert_non_null(f);
	assert_string_equal(f->family, "debian-12");
	f = images_lookup("projects/rhel-cloud/global/images/family/rhel-9");
	assert_non_null(f);
	assert_int_equal(f->pkg, IMAGE_PKG_RPM);
	assert_int_equal(f->agent, IMAGE_AGENT_STARTUP_SCRIPT);
	assert_false(f->tools & IMAGE_HAS_WGET);
	f = images_lookup("projects/rocky-linux-cloud/global/images/family/"
	                  "rocky-linux-9");
	assert_non_null(f);
	assert_int_equal(f->pkg, IMAGE_PKG_RPM);
	/* the project's other families: the "*" row */
	f = images_lookup("projects/debian-cloud/global/images/family/debian-13");
	assert_non_null(f);
	assert_string_equal(f->family, "*");
	assert_int_equal(f->agent, IMAGE_AGENT_STARTUP_SCRIPT);
	f = images_lookup("projects/cos-cloud/global/images/family/cos-stable");
	assert_non_null(f);
	assert_non_null(f->refused);
	/* unknown and malformed */
	assert_null(images_lookup("projects/my-proj/global/images/family/golden"));
	assert_null(images_lookup("projects/my-proj/global/images/golden-v1"));
	assert_null(images_lookup("ubuntu-2204-lts"));
	assert_null(images_lookup("projects/ubuntu-os-cloud/zones/x"));
	assert_null(images_lookup("projects//global/images/family/x"));
	assert_null(images_lookup("projects/p/global/images/family/"));
	assert_null(images_lookup(NULL));
	assert_null(images_lookup(""));
}

static void
test_choose_agent(void **state)
{
	enum image_agent a;
	struct mv_err err;
	char warn[512];

	(void)state;
	mv_err_clear(&err);
	/* auto from the table, no warning */
	assert_int_equal(images_choose_agent(MV_CONFIG_DEFAULT_IMAGE, "auto", &a,
	                                     warn, sizeof(warn), &err), 0);
	assert_int_equal(a, IMAGE_AGENT_CLOUD_INIT);
	assert_string_equal(warn, "");
	assert_int_equal(images_choose_agent("debian-cloud/debian-12", NULL, &a,
	                                     warn, sizeof(warn), &err), 0);
	assert_int_equal(a, IMAGE_AGENT_STARTUP_SCRIPT);
	assert_string_equal(warn, "");
	assert_string_equal(images_agent_key(a), "startup-script");
	assert_string_equal(images_agent_key(IMAGE_AGENT_CLOUD_INIT), "user-data");
	/* unknown custom image: cloud-init with a warning naming the key */
	assert_int_equal(images_choose_agent("projects/acme/global/images/"
	                                     "family/golden", "auto", &a, warn,
	                                     sizeof(warn), &err), 0);
	assert_int_equal(a, IMAGE_AGENT_CLOUD_INIT);
	assert_contains(warn, "not in meshvm's image table");
	assert_contains(warn, "vm.boot_agent: startup-script");
	/* overridden: no warning */
	assert_int_equal(images_choose_agent("projects/acme/global/images/"
	                                     "family/golden", "startup-script",
	                                     &a, warn, sizeof(warn), &err), 0);
	assert_int_equal(a, IMAGE_AGENT_STARTUP_SCRIPT);
	assert_string_equal(warn, "");
	assert_int_equal(images_choose_agent("debian-cloud/debian-12",
	                                     "cloud-init", &a, warn, sizeof(warn),
	                                     &err), 0);
	assert_int_equal(a, IMAGE_AGENT_CLOUD_INIT);
	/* a family the table does not list in a known project */
	assert_int_equal(images_choose_agent("debian-cloud/debian-13", "auto", &a,
	                                     warn, sizeof(warn), &err), 0);
	assert_int_equal(a, IMAGE_AGENT_STARTUP_SCRIPT);
	assert_contains(warn, "family not in meshvm's image table");
	/* COS: refused whatever the agent */
	assert_int_equal(images_choose_agent("cos-cloud/cos-stable",
	                                     "cloud-init", &a, warn, sizeof(warn),
	                                     &err), -1);
	assert_contains(err.msg, "read-only /usr");
	assert_contains(err.msg, "sidecar package cannot be installed");
	/* a bad agent name */
	assert_int_equal(images_choose_agent("debian-cloud/debian-12", "guest",
	                                     &a, warn, sizeof(warn), &err), -1);
	assert_int_equal(err.exit_code, MV_EXIT_USAGE);
	assert_contains(err.msg, "not one of auto, cloud-init, startup-script");
}

static void
test_compression(void **state)
{
	(void)state;
	assert_int_equal(images_compression(images_lookup(MV_CONFIG_DEFAULT_IMAGE)),
	                 BUNDLE_ZSTD);
	assert_int_equal(images_compression(images_lookup("debian-cloud/"
	                                                  "debian-12")),
	                 BUNDLE_GZIP);
	assert_int_equal(images_compression(images_lookup("rhel-cloud/rhel-9")),
	                 BUNDLE_GZIP);
	assert_int_equal(images_compression(NULL), BUNDLE_GZIP);
	/* every row: zstd exactly when the row has zstd */
	{
		size_t n;
		const struct image_family *t = images_table(&n);
		assert_true(n > 8);
		for (size_t i = 0; i < n; i++)
			assert_int_equal(images_compression(&t[i]),
			                 (t[i].tools & IMAGE_HAS_ZSTD) ? BUNDLE_ZSTD
			                                               : BUNDLE_GZIP);
	}
}

/* The README's table is the code's table, byte for byte. */
static void
test_readme_table(void **state)
{
	char *path = tu_fmt("%s/README.md", tu_src());
	char *readme = tu_read(path, NULL), *md = images_table_markdown();
	char *begin, *end;

	(void)state;
	assert_non_null(readme);
	assert_non_null(md);
	begin = strstr(readme, "<!-- images-table:");
	assert_non_null(begin);
	begin = strchr(begin, '\n') + 1;
	end = strstr(begin, "<!-- /images-table -->");
	assert_non_null(end);
	*end = '\0';
	if (strcmp(begin, md) != 0) {
		print_error("README.md's image table differs from cloudinit/"
		            "images.c; the code's table is:\n%s", md);
		fail();
	}
	free(md);
	free(readme);
	free(path);
}

static void
test_config_boot_agent(void **state)
{
	char *ex = mv_config_example("demo-project"), *bad;
	struct mv_config *cfg = NULL;
	struct mv_err err;

	(void)state;
	mv_err_clear(&err);
	assert_non_null(ex);
	/* the default of `meshvm init`: an Ubuntu LTS family, agent auto */
	assert_int_equal(mv_config_parse("meshvm.yaml", ex, strlen(ex), &cfg,
	                                 &err), 0);
	assert_string_equal(cfg->vm.image, MV_CONFIG_DEFAULT_IMAGE);
	assert_string_equal(cfg->vm.boot_agent, "auto");
	assert_non_null(images_lookup(cfg->vm.image));
	assert_int_equal(images_lookup(cfg->vm.image)->agent,
	                 IMAGE_AGENT_CLOUD_INIT);
	mv_config_free(cfg);
	cfg = NULL;
	bad = tu_fmt("%s", ex);
	{
		char *p = strstr(bad, "\n  boot_agent: auto\n");
		assert_non_null(p);
		memcpy(p + 3, "boot_agent: nope", 16);
	}
	assert_int_not_equal(mv_config_parse("meshvm.yaml", bad, strlen(bad),
	                                     &cfg, &err), 0);
	assert_null(cfg);
	assert_contains(err.msg, "vm.boot_agent: \"nope\" is not one of auto, "
	                         "cloud-init, startup-script");
	assert_contains(err.msg, "meshvm.yaml:3");
	free(bad);
	free(ex);
}

/* `meshvm plan` refuses COS at the preflight, before any API call (the
 * endpoint is a closed port: reaching it would fail differently). */
static void
test_plan_refuses_cos(void **state)
{
	char *dir = tu_tmpdir(), *out = NULL;

	(void)state;
	assert_int_equal(tu_sh(NULL, "cd '%s' && PROJECT_ID=demo-project '%s' "
	                             "init >/dev/null && sed -i 's|^  image: "
	                             ".*|  image: projects/cos-cloud/global/"
	                             "images/family/cos-stable|' meshvm.yaml",
	                       dir, tu_bin()), 0);
	assert_int_equal(tu_sh(&out, "cd '%s' && GOOGLE_OAUTH_ACCESS_TOKEN=x "
	                             "MESHVM_GOOGLE_ENDPOINT=http://127.0.0.1:9 "
	                             "'%s' plan", dir, tu_bin()), 1);
	assert_contains(out, "preflight: vm.image projects/cos-cloud/global/"
	                     "images/family/cos-stable: Container-Optimized OS "
	                     "has a read-only /usr and neither dpkg nor rpm");
	free(out);
	tu_rmrf(dir);
	free(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lookup),
		cmocka_unit_test(test_choose_agent),
		cmocka_unit_test(test_compression),
		cmocka_unit_test(test_readme_table),
		cmocka_unit_test(test_config_boot_agent),
		cmocka_unit_test(test_plan_refuses_cos),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
