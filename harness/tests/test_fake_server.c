/* test_fake_server.c - what makes the fake a server other projects can
 * depend on: request bodies in the journal with secrets redacted,
 * POST /_fake/snapshot, and starting from a JSON fixture. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fakeutil.h"

static struct fake *
new_fake(bool bodies, const char *state_dir)
{
	struct fake_options o;
	struct fake *f = NULL;
	struct mv_err err;

	mv_err_clear(&err);
	fake_options_init(&o);
	o.no_auth = true;
	o.op_polls = 1;
	o.journal_bodies = bodies;
	o.state_dir = state_dir;
	assert_int_equal(fake_new(&o, &f, &err), 0);
	return f;
}

static void
test_journal_bodies(void **state)
{
	struct fake *f = new_fake(true, NULL);
	struct fu_resp r;

	(void)state;
	assert_int_equal(fu_do(f, "POST", "/compute/v1/projects/p/global/"
	                       "firewalls", "{\"name\":\"fw1\",\"allowed\":[{"
	                       "\"IPProtocol\":\"tcp\"}]}"), 200);
	fu_do(f, "POST", "/token", "grant_type=urn%3Aietf%3Aparams%3Aoauth%3A"
	      "grant-type%3Ajwt-bearer&assertion=eyJhbGciOiJSUzI1NiJ9.secret");
	assert_int_equal(fu_do(f, "POST", "/v1/projects/p/locations/us-west1-b/"
	                       "clusters", "{\"cluster\":{\"name\":\"c1\","
	                       "\"initialNodeCount\":1}}"), 200);
	assert_int_equal(fu_do_on(f, "c1", "POST", "/api/v1/namespaces/default/"
	                          "secrets", "{\"apiVersion\":\"v1\",\"kind\":"
	                          "\"Secret\",\"metadata\":{\"name\":\"s\"},"
	                          "\"data\":{\"key\":\"c2VjcmV0\"},\"stringData\":"
	                          "{\"pw\":\"hunter2\"}}", NULL), 201);
	r = fu_req(f, "GET", "/_fake/journal", NULL);
	assert_contains(r.raw.body, "\"body\":{\"name\":\"fw1\",\"allowed\":");
	assert_contains(r.raw.body, "assertion=<redacted>");
	assert_contains(r.raw.body, "grant_type=urn%3Aietf");
	assert_contains(r.raw.body, "\"data\":{\"key\":\"<redacted>\"}");
	assert_null(strstr(r.raw.body, "c2VjcmV0"));
	assert_null(strstr(r.raw.body, "hunter2"));
	assert_null(strstr(r.raw.body, ".secret"));
	fu_free(&r);
	fake_free(f);
	/* off by default */
	f = new_fake(false, NULL);
	assert_int_equal(fu_do(f, "POST", "/storage/v1/b?project=p",
	                       "{\"name\":\"bkt\"}"), 200);
	r = fu_req(f, "GET", "/_fake/journal", NULL);
	assert_null(strstr(r.raw.body, "\"body\""));
	fu_free(&r);
	fake_free(f);
}

static void
test_snapshot(void **state)
{
	char *dir = tu_tmpdir(), *sdir = tu_fmt("%s/state", dir);
	char *path = tu_fmt("%s/state.json", sdir), *text;
	struct fake *f = new_fake(false, sdir);
	struct stat st;

	(void)state;
	assert_int_equal(fu_do(f, "POST", "/storage/v1/b?project=p",
	                       "{\"name\":\"snap-bkt\"}"), 200);
	assert_int_equal(fu_do(f, "POST", "/_fake/snapshot", NULL), 200);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	text = tu_read(path, NULL);
	assert_contains(text, "snap-bkt");
	free(text);
	fake_free(f);
	f = new_fake(false, NULL);
	assert_int_equal(fu_do(f, "POST", "/_fake/snapshot", NULL), 400);
	fake_free(f);
	free(path);
	free(sdir);
	free(dir);
}

static const char fixture[] =
	"{\"clusters\": [{\"project\": \"p\", \"location\": \"us-central1-a\","
	"  \"name\": \"c1\", \"resourceLabels\": {\"team\": \"mesh\"}}],"
	" \"buckets\": [{\"project\": \"p\", \"name\": \"fx-bkt\"}],"
	" \"objects\": [{\"bucket\": \"fx-bkt\", \"name\": \"dir/a.txt\","
	"  \"content\": \"hello\", \"contentType\": \"text/plain\"},"
	"  {\"bucket\": \"fx-bkt\", \"name\": \"b.bin\","
	"  \"content_base64\": \"AAEC\"}],"
	" \"kube\": {\"c1\": ["
	"  {\"apiVersion\": \"v1\", \"kind\": \"Namespace\","
	"   \"metadata\": {\"name\": \"apps\"}},"
	"  {\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\","
	"   \"metadata\": {\"name\": \"cfg\", \"namespace\": \"apps\"},"
	"   \"data\": {\"k\": \"v\"}},"
	"  {\"apiVersion\": \"apps/v1\", \"kind\": \"Deployment\","
	"   \"metadata\": {\"name\": \"web\"}, \"spec\": {\"selector\":"
	"   {\"matchLabels\": {\"app\": \"web\"}}, \"template\": {\"metadata\":"
	"   {\"labels\": {\"app\": \"web\"}}, \"spec\": {\"containers\":"
	"   [{\"name\": \"web\", \"image\": \"nginx\"}]}}}}]}}";

static void
test_load_fixture(void **state)
{
	char *dir = tu_tmpdir(), *path = tu_fmt("%s/fixture.json", dir);
	struct fake *f = new_fake(false, NULL);
	struct mv_err err;
	struct fu_resp r;

	(void)state;
	mv_err_clear(&err);
	tu_write_bytes(path, fixture, strlen(fixture));
	assert_int_equal(fake_start(f, &err), 0);
	if (fake_load_fixture(f, path, &err) != 0)
		print_error("%s\n", err.msg);
	assert_int_equal(err.exit_code, 0);
	r = fu_req(f, "GET", "/v1/projects/p/locations/us-central1-a/clusters/"
	           "c1", NULL);
	assert_string_equal(fu_str(&r, "status"), "RUNNING");
	assert_string_equal(fu_str(&r, "resourceLabels.team"), "mesh");
	fu_free(&r);
	r = fu_req(f, "GET", "/storage/v1/b/fx-bkt/o/dir%2Fa.txt?alt=media",
	           NULL);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.raw.body, "hello");
	fu_free(&r);
	r = fu_req(f, "GET", "/storage/v1/b/fx-bkt/o/b.bin", NULL);
	assert_string_equal(fu_str(&r, "size"), "3");
	fu_free(&r);
	r = fu_req_on(f, "c1", "GET", "/api/v1/namespaces/apps/configmaps/cfg",
	              NULL, NULL);
	assert_string_equal(fu_str(&r, "data.k"), "v");
	fu_free(&r);
	assert_int_equal(fu_do_on(f, "c1", "GET", "/apis/apps/v1/namespaces/"
	                          "default/deployments/web", NULL, NULL), 200);
	/* the journal starts after the fixture: it is for the tests' own
	 * clients (only the reads above are in it) */
	r = fu_req(f, "GET", "/_fake/journal", NULL);
	assert_true(r.raw.body_len > 0);
	assert_null(strstr(r.raw.body, "\"method\":\"POST\""));
	fu_free(&r);
	fake_stop(f, NULL);
	fake_free(f);
	free(path);
	free(dir);
}

static void
test_bad_fixture(void **state)
{
	static const struct {
		const char *doc, *want;
	} bad[] = {
		{"{\"clusterz\": []}", "unknown field 'clusterz'"},
		{"{\"clusters\": [{\"name\": \"c1\"}]}",
		 "clusters[0]: needs project, location and name"},
		{"{\"buckets\": [{\"name\": \"BAD NAME\"}]}", "buckets[0]: POST"},
		{"{\"kube\": {\"nope\": [{\"apiVersion\": \"v1\", \"kind\": "
		 "\"ConfigMap\"}]}}", "kube.nope[0]: no cluster 'nope'"},
		{"{\"clusters\": [", "bad.json:1:"},
	};
	char *dir = tu_tmpdir(), *path = tu_fmt("%s/bad.json", dir);

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct fake *f = new_fake(false, NULL);
		struct mv_err err;
		mv_err_clear(&err);
		tu_write_bytes(path, bad[i].doc, strlen(bad[i].doc));
		assert_int_not_equal(fake_load_fixture(f, path, &err), 0);
		assert_contains(err.msg, bad[i].want);
		assert_contains(err.msg, "bad.json");
		fake_free(f);
	}
	free(path);
	free(dir);
}

static size_t
sink(char *d, size_t sz, size_t nm, void *u)
{
	(void)d;
	(void)u;
	return sz * nm;
}

/* GET url verifying TLS against ca (resolve: "name:port:ip" or NULL). */
static long
tls_get(const char *url, const char *ca, const char *resolve)
{
	CURL *c = curl_easy_init();
	struct curl_slist *r = resolve ? curl_slist_append(NULL, resolve) : NULL;
	long status = 0;

	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CAINFO, ca);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	if (r != NULL)
		curl_easy_setopt(c, CURLOPT_RESOLVE, r);
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(r);
	curl_easy_cleanup(c);
	return status;
}

/* Another loopback address, HTTPS on the Google API listener, and the
 * certificate naming what it serves. */
static void
test_listen_and_tls(void **state)
{
	static const char *const sans[] = {"fake.test"};
	char *dir = tu_tmpdir(), *ca = tu_fmt("%s/ca.pem", dir), *pem, *u;
	struct fake_options o;
	struct fake *f = NULL;
	struct mv_err err;
	struct fu_resp r;
	char resolve[128], ep[64];
	const char *port;

	(void)state;
	mv_err_clear(&err);
	fake_options_init(&o);
	o.no_auth = true;
	o.op_polls = 1;
	o.listen = "127.0.0.2:0";
	o.tls = true;
	o.tls_san = sans;
	o.n_tls_san = 1;
	assert_int_equal(fake_new(&o, &f, &err), 0);
	if (fake_start(f, &err) != 0)
		print_error("%s\n", err.msg);
	assert_true(strncmp(fake_url(f), "https://127.0.0.2:", 18) == 0);
	pem = fake_ca_pem(f);
	assert_non_null(pem);
	tu_write(ca, pem);
	free(pem);
	u = tu_fmt("%s/_fake/health", fake_url(f));
	assert_int_equal(tls_get(u, ca, NULL), 200);
	free(u);
	port = strrchr(fake_url(f), ':') + 1;
	snprintf(resolve, sizeof(resolve), "fake.test:%s:127.0.0.2", port);
	u = tu_fmt("https://fake.test:%s/_fake/health", port);
	assert_int_equal(tls_get(u, ca, resolve), 200);
	free(u);
	/* a cluster's API follows the address */
	assert_int_equal(fu_do(f, "POST", "/v1/projects/p/locations/us-west1-b/"
	                       "clusters", "{\"cluster\":{\"name\":\"c1\","
	                       "\"initialNodeCount\":1}}"), 200);
	r = fu_req(f, "GET", "/v1/projects/p/locations/us-west1-b/clusters/c1",
	           NULL);
	snprintf(ep, sizeof(ep), "%s", fu_str(&r, "endpoint"));
	fu_free(&r);
	assert_true(strncmp(ep, "127.0.0.2:", 10) == 0);
	u = tu_fmt("https://%s/version", ep);
	assert_int_equal(tls_get(u, ca, NULL), 200);
	free(u);
	fake_stop(f, NULL);
	fake_free(f);
	/* never every interface */
	fake_options_init(&o);
	o.listen = "0.0.0.0:0";
	f = NULL;
	assert_int_not_equal(fake_new(&o, &f, &err), 0);
	assert_contains(err.msg, "wildcard");
	free(ca);
	free(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_journal_bodies),
		cmocka_unit_test(test_snapshot),
		cmocka_unit_test(test_load_fixture),
		cmocka_unit_test(test_bad_fixture),
		cmocka_unit_test(test_listen_and_tls),
	};

	curl_global_init(CURL_GLOBAL_DEFAULT);

	return cmocka_run_group_tests(tests, NULL, NULL);
}
