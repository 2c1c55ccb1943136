/* harness/tests/test_kubeconfig.c - a kubeconfig written from a short-lived
 * token says when it stops working, and is rewritten with a fresh token
 * (cluster/kubeconfig.c). */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cluster/kubeconfig.h"
#include "testutil.h"

static char *
write_kc(const char *dir, const char *token)
{
	char *path = tu_fmt("%s/kubeconfig", dir);
	json_t *kc = kubeconfig_new();
	struct mv_err err;

	mv_err_clear(&err);
	kubeconfig_add_cluster(kc, "gke_p_z_c1", "10.0.0.1", "Q0E=", token);
	kubeconfig_add_cluster(kc, "gke_p_z_c2", "10.0.0.2", "Q0E=", token);
	assert_int_equal(kubeconfig_write(path, kc, &err), 0);
	json_decref(kc);
	return path;
}

static void
test_token_user_says_when_it_expires(void **state)
{
	char *d = tu_tmpdir(), *path = write_kc(d, "tok-1");
	struct kube_target *t = NULL;
	struct mv_err err;
	time_t exp = 0, now = time(NULL);
	char *text;

	(void)state;
	mv_err_clear(&err);
	assert_int_equal(kubeconfig_token_expiry(path, &exp, &err), 1);
	assert_true(exp >= now + KUBECONFIG_TOKEN_LIFETIME - 5 &&
	            exp <= now + KUBECONFIG_TOKEN_LIFETIME + 5);
	text = tu_read(path, NULL);
	assert_contains(text, "\"token-expires-by\"");
	free(text);
	/* the extension does not disturb loading (kubectl ignores it too:
	 * harness/e2e/provision.sh) */
	assert_int_equal(kubeconfig_load(path, "gke_p_z_c2", &t, &err), 0);
	assert_string_equal(t->token, "tok-1");
	kube_target_free(t);
	tu_rmrf(d);
	free(path);
	free(d);
}

static void
test_exec_user_has_no_expiry(void **state)
{
	char *d = tu_tmpdir(), *path = write_kc(d, NULL);
	struct mv_err err;
	time_t exp = 0;

	(void)state;
	mv_err_clear(&err);
	assert_int_equal(kubeconfig_token_expiry(path, &exp, &err), 0);
	/* nothing to refresh either */
	assert_int_equal(kubeconfig_refresh_token(path, "tok-2", time(NULL), &err),
	                 0);
	tu_rmrf(d);
	free(path);
	free(d);
}

static void
test_refresh_rewrites_ours_only(void **state)
{
	char *d = tu_tmpdir(), *path = write_kc(d, "tok-old");
	struct kube_target *t = NULL;
	struct mv_err err;
	struct stat sb;
	time_t exp = 0, later = time(NULL) + 7200;
	char *text;

	(void)state;
	mv_err_clear(&err);
	/* someone else's token user in the same file stays as it is */
	text = tu_read(path, NULL);
	{
		json_t *kc = json_loads(text, 0, NULL);
		json_array_append_new(
			json_object_get(kc, "users"),
			json_pack("{s:s,s:{s:s}}", "name", "theirs", "user", "token",
			          "their-token"));
		assert_int_equal(kubeconfig_write(path, kc, &err), 0);
		json_decref(kc);
	}
	free(text);
	/* the same token: nothing to do */
	assert_int_equal(kubeconfig_refresh_token(path, "tok-old", later, &err), 0);
	/* a new one: both of our users get it, with a new expiry */
	assert_int_equal(kubeconfig_refresh_token(path, "tok-new", later, &err), 1);
	assert_int_equal(kubeconfig_load(path, "gke_p_z_c1", &t, &err), 0);
	assert_string_equal(t->token, "tok-new");
	kube_target_free(t);
	assert_int_equal(kubeconfig_token_expiry(path, &exp, &err), 1);
	assert_int_equal(exp, later + KUBECONFIG_TOKEN_LIFETIME);
	text = tu_read(path, NULL);
	assert_contains(text, "their-token");
	assert_null(strstr(text, "tok-old"));
	free(text);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	/* no file: nothing to do */
	assert_int_equal(unlink(path), 0);
	assert_int_equal(kubeconfig_refresh_token(path, "x", later, &err), 0);
	assert_int_equal(kubeconfig_token_expiry(path, &exp, &err), 0);
	tu_rmrf(d);
	free(path);
	free(d);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_token_user_says_when_it_expires),
		cmocka_unit_test(test_exec_user_has_no_expiry),
		cmocka_unit_test(test_refresh_rewrites_ours_only),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
