/* test_fake_auth.c - the OAuth JWT-bearer flow of the fake with a
 * service-account key made here: a good assertion buys an access token
 * the APIs accept; every bad one gets Google's error. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/jwt.h"
#include "core/pki.h"
#include "fakeutil.h"

#define EMAIL "deployer@p1.iam.gserviceaccount.com"
#define TOKEN_URI "https://oauth2.googleapis.com/token"
#define GRANT "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer"

static EVP_PKEY *sa_key, *other_key;
static struct fake *f;
static char *dir;

static int
setup(void **state)
{
	struct fake_options o;
	struct mv_err err;
	char *pem, *path, *doc;
	const char *files[1];

	(void)state;
	mv_err_clear(&err);
	sa_key = mv_pki_rsa_generate(2048, NULL);
	other_key = mv_pki_rsa_generate(2048, NULL);
	pem = mv_pki_key_pem(sa_key, &err);
	dir = tu_tmpdir();
	path = tu_fmt("%s/sa.json", dir);
	{
		json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "type",
		                      "service_account", "project_id", "p1",
		                      "private_key_id", "key-1", "private_key", pem,
		                      "client_email", EMAIL, "token_uri", TOKEN_URI);
		doc = json_dumps(j, 0);
		json_decref(j);
	}
	tu_write(path, doc);
	files[0] = path;
	fake_options_init(&o);
	o.sa_key_files = files;
	o.n_sa_key_files = 1;
	if (fake_new(&o, &f, &err) != 0)
		print_error("%s\n", err.msg);
	free(pem);
	free(doc);
	free(path);
	return f ? 0 : -1;
}

static int
teardown(void **state)
{
	(void)state;
	fake_free(f);
	EVP_PKEY_free(sa_key);
	EVP_PKEY_free(other_key);
	tu_rmrf(dir);
	free(dir);
	return 0;
}

/* An assertion as Google's client libraries build it; tweak with the
 * arguments. */
static char *
assertion(EVP_PKEY *k, const char *iss, const char *aud, long iat_off,
          long life, bool scope)
{
	time_t now = time(NULL);
	json_t *c = json_pack("{s:s, s:s, s:I, s:I}", "iss", iss, "aud", aud,
	                      "iat", (json_int_t)(now + iat_off), "exp",
	                      (json_int_t)(now + iat_off + life));
	char *tok = NULL, *body;

	if (scope)
		json_object_set_new(c, "scope", json_string(
		        "https://www.googleapis.com/auth/cloud-platform"));
	assert_int_equal(mv_jwt_sign_rs256(c, "key-1", k, &tok, NULL), 0);
	json_decref(c);
	body = tu_fmt("%s&assertion=%s", GRANT, tok);
	free(tok);
	return body;
}

static void
token_refused(char *body, const char *error, const char *desc)
{
	struct fu_resp r = fu_req(f, "POST", "/token", body);

	assert_int_equal(r.status, 400);
	assert_string_equal(fu_str(&r, "error"), error);
	assert_contains(fu_str(&r, "error_description"), desc);
	fu_free(&r);
	free(body);
}

static void
test_jwt_bearer_flow(void **state)
{
	char *body = assertion(sa_key, EMAIL, TOKEN_URI, 0, 3600, true);
	struct fu_resp r;
	char hdr[256];
	const char *hdrs[2] = {hdr, NULL};

	(void)state;
	r = fu_req(f, "GET", "/v1/projects/p1/locations/-/clusters", NULL);
	assert_gerr(r, 401, "UNAUTHENTICATED");
	assert_contains(r.raw.headers, "WWW-Authenticate: Bearer");
	fu_free(&r);
	r = fu_req(f, "POST", "/token", body);
	free(body);
	assert_int_equal(r.status, 200);
	assert_string_equal(fu_str(&r, "token_type"), "Bearer");
	assert_int_equal(fu_int(&r, "expires_in"), 3599);
	snprintf(hdr, sizeof(hdr), "Authorization: Bearer %s",
	         fu_str(&r, "access_token"));
	fu_free(&r);
	r = fu_req_on(f, "gcp", "GET", "/v1/projects/p1/locations/-/clusters",
	              NULL, hdrs);
	assert_int_equal(r.status, 200);
	fu_free(&r);
	snprintf(hdr, sizeof(hdr), "Authorization: Bearer ya29.guess");
	r = fu_req_on(f, "gcp", "GET", "/v1/projects/p1/locations/-/clusters",
	              NULL, hdrs);
	assert_gerr(r, 401, "UNAUTHENTICATED");
	assert_contains(fu_str(&r, "error.message"), "invalid authentication "
	                "credentials");
	fu_free(&r);
	/* the journal keeps neither the assertion's token nor the bearer */
	r = fu_req(f, "GET", "/_fake/journal", NULL);
	assert_null(strstr(r.raw.body, "ya29.guess"));
	assert_contains(r.raw.body, "\"/token\"");
	assert_contains(r.raw.body, "\"mutating\":false");
	fu_free(&r);
}

static void
test_bad_assertions(void **state)
{
	(void)state;
	token_refused(assertion(other_key, EMAIL, TOKEN_URI, 0, 3600, true),
	              "invalid_grant", "Invalid JWT Signature.");
	token_refused(assertion(sa_key, "nobody@x", TOKEN_URI, 0, 3600, true),
	              "invalid_grant", "account not found");
	token_refused(assertion(sa_key, EMAIL, TOKEN_URI, -7200, 3600, true),
	              "invalid_grant", "short-lived");
	token_refused(assertion(sa_key, EMAIL, TOKEN_URI, 0, 7200, true),
	              "invalid_grant", "short-lived");
	token_refused(assertion(sa_key, EMAIL, "https://evil/token", 0, 3600,
	                        true), "invalid_grant", "aud");
	token_refused(assertion(sa_key, EMAIL, TOKEN_URI, 0, 3600, false),
	              "invalid_scope", "scope");
	token_refused(strdup("grant_type=password&username=x"),
	              "unsupported_grant_type", "jwt-bearer");
	token_refused(tu_fmt("%s&assertion=%s", GRANT,
	                     "eyJhbGciOiJub25lIn0.eyJpc3MiOiJ4In0."),
	              "invalid_grant", "");
	token_refused(tu_fmt("%s", GRANT), "invalid_grant", "compact JWS");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_jwt_bearer_flow),
		cmocka_unit_test(test_bad_assertions),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
