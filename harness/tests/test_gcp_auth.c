/* test_gcp_auth.c - Google credentials: explicit tokens, the service-
 * account JWT assertion (checked here with OpenSSL directly), the token
 * exchanges against a scripted token endpoint, caching, the metadata
 * server, and the error when there is nothing. */
#include <jansson.h>
#include <microhttpd.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cluster/gcp_auth.h"
#include "core/base64.h"
#include "core/http.h"
#include "core/pki.h"
#include "testutil.h"

struct tokensrv {
	int hits;
	char last_form[8192];
	char last_flavor[64];
	char last_url[256];
	size_t len;
};

static enum MHD_Result
tok_handler(void *cls, struct MHD_Connection *c, const char *url,
            const char *method, const char *version, const char *upload,
            size_t *upload_size, void **con_cls)
{
	struct tokensrv *s = cls;
	const char *body = "{\"access_token\":\"ya29.test\",\"expires_in\":3599,"
	                   "\"token_type\":\"Bearer\"}";
	struct MHD_Response *r;
	enum MHD_Result ret;
	const char *fl;

	(void)method;
	(void)version;
	if (*con_cls == NULL) {
		*con_cls = s;
		s->len = 0;
		return MHD_YES;
	}
	if (*upload_size > 0) {
		size_t n = *upload_size < sizeof(s->last_form) - s->len - 1
		                   ? *upload_size : sizeof(s->last_form) - s->len - 1;
		memcpy(s->last_form + s->len, upload, n);
		s->len += n;
		s->last_form[s->len] = '\0';
		*upload_size = 0;
		return MHD_YES;
	}
	s->hits++;
	snprintf(s->last_url, sizeof(s->last_url), "%s", url);
	fl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Metadata-Flavor");
	snprintf(s->last_flavor, sizeof(s->last_flavor), "%s", fl ? fl : "");
	r = MHD_create_response_from_buffer(strlen(body), (void *)body,
	                                    MHD_RESPMEM_PERSISTENT);
	ret = MHD_queue_response(c, 200, r);
	MHD_destroy_response(r);
	return ret;
}

static struct MHD_Daemon *
start(struct tokensrv *s, char *url, size_t len)
{
	struct MHD_Daemon *d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0,
	                                        NULL, NULL, tok_handler, s,
	                                        MHD_OPTION_END);
	assert_non_null(d);
	snprintf(url, len, "http://127.0.0.1:%u",
	         MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT)->port);
	return d;
}

static void
clear_env(void)
{
	unsetenv("GOOGLE_OAUTH_ACCESS_TOKEN");
	unsetenv("GOOGLE_APPLICATION_CREDENTIALS");
	unsetenv("MESHVM_METADATA_URL");
	unsetenv("GCE_METADATA_HOST");
	setenv("CLOUDSDK_CONFIG", "/nonexistent-meshvm-test", 1);
}

/* A service-account key file like the Cloud Console downloads. */
static char *
write_sa(const char *dir, EVP_PKEY **key)
{
	struct mv_err err;
	char *pem, *path = tu_fmt("%s/sa.json", dir);
	json_t *j;

	*key = mv_pki_rsa_generate(2048, &err);
	assert_non_null(*key);
	pem = mv_pki_key_pem(*key, &err);
	j = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "type", "service_account",
	              "project_id", "meshvm-test", "private_key_id", "kid-123",
	              "private_key", pem, "client_email",
	              "deployer@meshvm-test.iam.gserviceaccount.com", "token_uri",
	              "https://oauth2.googleapis.com/token");
	json_dump_file(j, path, 0);
	json_decref(j);
	free(pem);
	return path;
}

static void
test_assertion_verifies_with_openssl(void **state)
{
	char *d = tu_tmpdir(), *path, *json, *jwt = NULL;
	EVP_PKEY *key;
	struct mv_err err;
	uint8_t *sig = NULL, *hdr = NULL, *pay = NULL;
	size_t sig_len, hdr_len, pay_len;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	json_t *h, *c;

	(void)state;
	path = write_sa(d, &key);
	json = tu_read(path, NULL);
	assert_int_equal(gcp_auth_sa_assertion(json, "https://oauth2.example/token",
	                                       1700000000, &jwt, &err), 0);
	char *dot1 = strchr(jwt, '.'), *dot2 = strrchr(jwt, '.');
	assert_non_null(dot1);
	assert_true(dot2 > dot1);
	/* signature over "header.payload" with the key's public half */
	assert_int_equal(mv_base64url_decode(dot2 + 1, strlen(dot2 + 1), &sig,
	                                     &sig_len), 0);
	assert_int_equal(sig_len, 256);
	assert_int_equal(EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, key), 1);
	assert_int_equal(EVP_DigestVerify(ctx, sig, sig_len, (uint8_t *)jwt,
	                                  (size_t)(dot2 - jwt)), 1);
	/* and not with a changed payload */
	jwt[(dot2 - jwt) - 1] ^= 1;
	EVP_MD_CTX_reset(ctx);
	EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, key);
	assert_int_not_equal(EVP_DigestVerify(ctx, sig, sig_len, (uint8_t *)jwt,
	                                      (size_t)(dot2 - jwt)), 1);
	jwt[(dot2 - jwt) - 1] ^= 1;
	assert_int_equal(mv_base64url_decode(jwt, (size_t)(dot1 - jwt), &hdr,
	                                     &hdr_len), 0);
	assert_int_equal(mv_base64url_decode(dot1 + 1, (size_t)(dot2 - dot1 - 1),
	                                     &pay, &pay_len), 0);
	h = json_loads((char *)hdr, 0, NULL);
	c = json_loads((char *)pay, 0, NULL);
	assert_string_equal(json_string_value(json_object_get(h, "alg")), "RS256");
	assert_string_equal(json_string_value(json_object_get(h, "kid")), "kid-123");
	assert_string_equal(json_string_value(json_object_get(c, "iss")),
	                    "deployer@meshvm-test.iam.gserviceaccount.com");
	assert_string_equal(json_string_value(json_object_get(c, "aud")),
	                    "https://oauth2.example/token");
	assert_string_equal(json_string_value(json_object_get(c, "scope")),
	                    "https://www.googleapis.com/auth/cloud-platform");
	assert_int_equal(json_integer_value(json_object_get(c, "iat")), 1700000000);
	assert_int_equal(json_integer_value(json_object_get(c, "exp")), 1700003600);
	json_decref(h);
	json_decref(c);
	free(sig);
	free(hdr);
	free(pay);
	free(jwt);
	free(json);
	free(path);
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(key);
	tu_rmrf(d);
	free(d);
}

static void
test_service_account_exchange_and_cache(void **state)
{
	struct tokensrv s = {0};
	char url[128], *tok_url, *d = tu_tmpdir(), *path;
	struct MHD_Daemon *srv = start(&s, url, sizeof(url));
	struct mv_http *h = mv_http_new(NULL);
	struct gcp_auth_options o = {0};
	struct gcp_auth *a = NULL;
	struct mv_err err;
	const char *tok;
	EVP_PKEY *key;

	(void)state;
	clear_env();
	path = write_sa(d, &key);
	setenv("GOOGLE_APPLICATION_CREDENTIALS", path, 1);
	tok_url = tu_fmt("%s/token", url);
	/* endpoints moved to a fake: the file's token_uri must not be used */
	o.token_endpoint_override = tok_url;
	assert_int_equal(gcp_auth_new(&o, h, &a, &err), 0);
	assert_string_equal(gcp_auth_source(a),
	                    "service-account deployer@meshvm-test.iam.gserviceaccount.com");
	assert_false(gcp_auth_is_explicit(a));
	assert_int_equal(gcp_auth_token(a, &tok, &err), 0);
	assert_string_equal(tok, "ya29.test");
	assert_int_equal(gcp_auth_token(a, &tok, &err), 0);
	assert_int_equal(s.hits, 1); /* cached */
	assert_string_equal(s.last_url, "/token");
	assert_contains(s.last_form, "grant_type=urn%3Aietf%3Aparams%3Aoauth%3A"
	                             "grant-type%3Ajwt-bearer&assertion=eyJ");
	gcp_auth_free(a);
	/* authorized-user credentials: a refresh-token grant */
	tu_write(path, "{\"type\":\"authorized_user\",\"client_id\":\"cid\","
	               "\"client_secret\":\"s&cret\",\"refresh_token\":\"rt1\"}");
	assert_int_equal(gcp_auth_new(&o, h, &a, &err), 0);
	assert_int_equal(gcp_auth_token(a, &tok, &err), 0);
	assert_contains(s.last_form, "grant_type=refresh_token&client_id=cid&"
	                             "client_secret=s%26cret&refresh_token=rt1");
	gcp_auth_free(a);
	unsetenv("GOOGLE_APPLICATION_CREDENTIALS");
	EVP_PKEY_free(key);
	mv_http_free(h);
	MHD_stop_daemon(srv);
	free(tok_url);
	free(path);
	tu_rmrf(d);
	free(d);
}

static void
test_explicit_wins_and_adc(void **state)
{
	char *d = tu_tmpdir(), *f = tu_fmt("%s/tok", d), *adc;
	struct mv_http *h = mv_http_new(NULL);
	struct gcp_auth_options o = {0};
	struct gcp_auth *a = NULL;
	struct mv_err err;
	const char *tok;

	(void)state;
	clear_env();
	tu_write(f, "from-file\n");
	setenv("GOOGLE_OAUTH_ACCESS_TOKEN", "from-env", 1);
	setenv("GOOGLE_APPLICATION_CREDENTIALS", "/nonexistent.json", 1);
	o.access_token_file = f;
	assert_int_equal(gcp_auth_new(&o, h, &a, &err), 0);
	assert_int_equal(gcp_auth_token(a, &tok, &err), 0);
	assert_string_equal(tok, "from-file");
	assert_true(gcp_auth_is_explicit(a));
	gcp_auth_free(a);
	o.access_token_file = NULL;
	assert_int_equal(gcp_auth_new(&o, h, &a, &err), 0);
	assert_int_equal(gcp_auth_token(a, &tok, &err), 0);
	assert_string_equal(tok, "from-env");
	assert_string_equal(gcp_auth_source(a), "GOOGLE_OAUTH_ACCESS_TOKEN");
	gcp_auth_free(a);
	/* GOOGLE_APPLICATION_CREDENTIALS naming a missing file is an error */
	unsetenv("GOOGLE_OAUTH_ACCESS_TOKEN");
	assert_int_equal(gcp_auth_new(&o, h, &a, &err), -1);
	assert_contains(err.msg, "GOOGLE_APPLICATION_CREDENTIALS");
	/* gcloud's application-default credentials */
	unsetenv("GOOGLE_APPLICATION_CREDENTIALS");
	setenv("CLOUDSDK_CONFIG", d, 1);
	adc = tu_fmt("%s/application_default_credentials.json", d);
	tu_write(adc, "{\"type\":\"authorized_user\",\"client_id\":\"c\","
	              "\"client_secret\":\"s\",\"refresh_token\":\"r\"}");
	assert_int_equal(gcp_auth_new(&o, h, &a, &err), 0);
	assert_string_equal(gcp_auth_source(a), "authorized-user");
	gcp_auth_free(a);
	/* nothing at all */
	clear_env();
	assert_int_equal(gcp_auth_new(&o, h, &a, &err), -1);
	assert_contains(err.msg, "no Google credentials");
	assert_contains(err.msg, "gcloud auth application-default login");
	mv_http_free(h);
	free(adc);
	free(f);
	tu_rmrf(d);
	free(d);
}

static void
test_metadata_server(void **state)
{
	struct tokensrv s = {0};
	char url[128], *md;
	struct MHD_Daemon *srv = start(&s, url, sizeof(url));
	struct mv_http *h = mv_http_new(NULL);
	struct gcp_auth_options o = {0};
	struct gcp_auth *a = NULL;
	struct mv_err err;
	const char *tok;

	(void)state;
	clear_env();
	md = tu_fmt("%s/computeMetadata/v1", url);
	setenv("MESHVM_METADATA_URL", md, 1);
	assert_int_equal(gcp_auth_new(&o, h, &a, &err), 0);
	assert_string_equal(gcp_auth_source(a), "metadata");
	assert_int_equal(gcp_auth_token(a, &tok, &err), 0);
	assert_string_equal(tok, "ya29.test");
	assert_string_equal(s.last_url,
	                    "/computeMetadata/v1/instance/service-accounts/default/token");
	assert_string_equal(s.last_flavor, "Google");
	gcp_auth_free(a);
	unsetenv("MESHVM_METADATA_URL");
	mv_http_free(h);
	MHD_stop_daemon(srv);
	free(md);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_assertion_verifies_with_openssl),
		cmocka_unit_test(test_service_account_exchange_and_cache),
		cmocka_unit_test(test_explicit_wins_and_adc),
		cmocka_unit_test(test_metadata_server),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
