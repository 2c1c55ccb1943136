/* test_gcp_auth_wif.c - cluster/gcp_auth_wif: what an external_account
 * file may say.  A file cannot send the subject token anywhere but
 * Google's endpoints, and a malformed one is refused naming the file.
 * (The whole chain against the fake: harness/cases/auth-workload-identity.) */
#include <stdlib.h>
#include <string.h>

#include "cluster/gcp_auth_wif.h"
#include "testutil.h"

#define BASE                                                                 \
	"\"type\": \"external_account\", \"audience\": "                      \
	"\"//iam.googleapis.com/projects/1/locations/global/"                \
	"workloadIdentityPools/p/providers/g\", \"subject_token_type\": "     \
	"\"urn:ietf:params:oauth:token-type:jwt\""

static int
load(const char *text, struct wif **w, struct mv_err *err)
{
	json_t *doc = json_loads(text, 0, NULL);
	int rc;

	assert_non_null(doc);
	mv_err_clear(err);
	rc = wif_load(doc, "wif.json", NULL, w, err);
	json_decref(doc);
	return rc;
}

static void
test_accepted(void **state)
{
	struct wif *w = NULL;
	struct mv_err err;

	(void)state;
	assert_int_equal(load("{" BASE ", \"credential_source\": {\"file\": "
	                      "\"t\"}}", &w, &err), 0);
	assert_string_equal(wif_label(w), "external-account //iam.googleapis.com/"
	                    "projects/1/locations/global/workloadIdentityPools/p/"
	                    "providers/g");
	wif_free(w);
	assert_int_equal(load("{" BASE ", \"token_url\": \"https://sts.googleapis"
	                      ".com/v1/token\", \"service_account_impersonation_url"
	                      "\": \"https://iamcredentials.googleapis.com/v1/"
	                      "projects/-/serviceAccounts/d@p.iam.gserviceaccount"
	                      ".com:generateAccessToken\", \"credential_source\": "
	                      "{\"url\": \"http://127.0.0.1/t\", \"headers\": "
	                      "{\"Metadata\": \"True\"}, \"format\": {\"type\": "
	                      "\"json\", \"subject_token_field_name\": "
	                      "\"access_token\"}}}", &w, &err), 0);
	assert_string_equal(wif_label(w),
	                    "external-account as d@p.iam.gserviceaccount.com");
	wif_free(w);
	wif_free(NULL);
}

static void
test_refused(void **state)
{
	static const struct {
		const char *extra, *why;
	} bad[] = {
		{"\"token_url\": \"https://sts.googleapis.com.evil.example/v1/token\"",
		 "not a Google endpoint"},
		{"\"token_url\": \"https://evil.example@sts.googleapis.com/v1\"",
		 "not a Google endpoint"},
		{"\"token_url\": \"http://sts.googleapis.com/v1/token\"",
		 "not a Google endpoint"},
		{"\"token_url\": \"https://sts.googleapis.com:8443/v1/token\"",
		 "not a Google endpoint"},
		{"\"token_url\": \"https://googleapis.com/v1/token\"",
		 "not a Google endpoint"},
		{"\"service_account_impersonation_url\": \"https://evil.example/"
		 "v1/projects/-/serviceAccounts/x:generateAccessToken\"",
		 "is not IAM Credentials"},
		{"\"service_account_impersonation_url\": \"https://iamcredentials."
		 "googleapis.com/v1/projects/-/serviceAccounts/x:signBlob\"",
		 "is not IAM Credentials"},
	};
	struct wif *w = (struct wif *)1;
	struct mv_err err;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *t = tu_fmt("{" BASE ", %s, \"credential_source\": {\"file\": "
		                 "\"t\"}}", bad[i].extra);
		assert_int_equal(load(t, &w, &err), -1);
		assert_null(w);
		assert_contains(err.msg, "wif.json");
		assert_contains(err.msg, bad[i].why);
		free(t);
	}
	/* credential sources: exactly one of file and url; formats; headers */
	assert_int_equal(load("{" BASE ", \"credential_source\": {}}", &w, &err),
	                 -1);
	assert_contains(err.msg, "exactly one of file and url");
	assert_int_equal(load("{" BASE ", \"credential_source\": {\"file\": \"a\","
	                      " \"url\": \"http://127.0.0.1/\"}}", &w, &err), -1);
	assert_int_equal(load("{" BASE ", \"credential_source\": {\"executable\":"
	                      " {\"command\": \"/bin/sh\"}}}", &w, &err), -1);
	assert_int_equal(load("{" BASE ", \"credential_source\": {\"file\": \"a\","
	                      " \"format\": {\"type\": \"json\"}}}", &w, &err), -1);
	assert_contains(err.msg, "subject_token_field_name");
	assert_int_equal(load("{" BASE ", \"credential_source\": {\"url\": "
	                      "\"http://127.0.0.1/\", \"headers\": {\"X\": "
	                      "\"a\\r\\nHost: evil\"}}}", &w, &err), -1);
	assert_contains(err.msg, "headers.X");
	assert_int_equal(load("{\"type\": \"external_account\", "
	                      "\"credential_source\": {\"file\": \"a\"}}", &w,
	                      &err), -1);
	assert_contains(err.msg, "audience and subject_token_type");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accepted),
		cmocka_unit_test(test_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
