/* test_fake_http.c - the fake over real loopback sockets (libcurl):
 * body limit, latency without holding a worker, connection resets, idle
 * timeouts, many concurrent clients, percent-encoded paths. */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/base64.h"
#include "fakeutil.h"

struct buf {
	char *p;
	size_t n;
};

static size_t
on_data(char *d, size_t sz, size_t nm, void *u)
{
	struct buf *b = u;
	char *np = realloc(b->p, b->n + sz * nm + 1);

	if (np == NULL)
		return 0;
	b->p = np;
	memcpy(b->p + b->n, d, sz * nm);
	b->n += sz * nm;
	b->p[b->n] = '\0';
	return sz * nm;
}

struct get {
	const char *method, *url, *body;
	const char *cainfo;   /* verify TLS against this CA file */
	size_t body_len;
	bool chunked;
	bool expect100; /* send Expect: 100-continue (the body only on 100) */
	long status;
	CURLcode rc;
	struct buf out;
	double ms;
};

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void
http(struct get *g)
{
	CURL *c = curl_easy_init();
	struct curl_slist *h = NULL;
	double t0 = now_ms();

	curl_easy_setopt(c, CURLOPT_URL, g->url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, g->method);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &g->out);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 120L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	if (g->cainfo != NULL) {
		curl_easy_setopt(c, CURLOPT_CAINFO, g->cainfo);
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	}
	if (g->body != NULL) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, g->body);
		if (g->chunked)
			h = curl_slist_append(h, "Transfer-Encoding: chunked");
		else
			curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
			                 (curl_off_t)g->body_len);
		h = curl_slist_append(h, "Content-Type: application/json");
		h = curl_slist_append(h, g->expect100 ? "Expect: 100-continue"
		                                      : "Expect:");
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	}
	g->rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &g->status);
	g->ms = now_ms() - t0;
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
}

static struct fake *
start(int threads, int idle)
{
	struct fake_options o;
	struct fake *f = NULL;
	struct mv_err err;

	mv_err_clear(&err);
	fake_options_init(&o);
	o.no_auth = true;
	o.op_polls = 0;
	o.threads = threads;
	o.idle_timeout = idle;
	assert_int_equal(fake_new(&o, &f, &err), 0);
	if (fake_start(f, &err) != 0)
		print_error("fake_start: %s\n", err.msg);
	assert_true(strncmp(fake_url(f), "http://127.0.0.1:", 17) == 0);
	return f;
}

static char *
url(struct fake *f, const char *path)
{
	return tu_fmt("%s%s", fake_url(f), path);
}

static void
test_body_limit(void **state)
{
	struct fake *f = start(2, 10);
	char *big = malloc(FAKE_MAX_BODY + 100), *u;
	struct get g = {0};

	(void)state;
	memset(big, 'x', FAKE_MAX_BODY + 100);
	u = url(f, "/storage/v1/b?project=p");
	g.method = "POST";
	g.url = u;
	g.body = big;
	g.body_len = FAKE_MAX_BODY + 100;
	/* The announced size is refused before the body is read: with
	 * 100-continue the client waits for that answer instead of racing
	 * the close with 8 MiB in flight (a reset lost the 413 once in CI). */
	g.expect100 = true;
	http(&g);
	assert_int_equal(g.status, 413);
	free(g.out.p);
	memset(&g, 0, sizeof(g));
	g.method = "POST";
	g.url = u;
	g.body = big;
	g.body_len = FAKE_MAX_BODY + 100;
	g.chunked = true; /* no Content-Length: counted while reading */
	big[FAKE_MAX_BODY + 99] = '\0';
	http(&g);
	assert_int_equal(g.status, 413);
	assert_contains(g.out.p, "\"code\":413");
	free(g.out.p);
	memset(&g, 0, sizeof(g));
	free(u);
	u = url(f, "/storage/v1/b?project=p");
	g.method = "POST";
	g.url = u;
	g.body = "{\"name\":\"small-enough\"}";
	g.body_len = strlen(g.body);
	http(&g);
	assert_int_equal(g.status, 200);
	free(g.out.p);
	free(u);
	free(big);
	fake_stop(f, NULL);
	fake_free(f);
}

static void *
run_get(void *arg)
{
	http(arg);
	return NULL;
}

/* One worker thread: a delayed answer must not block the next client. */
/* Upload bodies go to a temp file: past the 8 MiB body cap and the
 * bodies-in-flight limit, whole; and the object comes back byte-equal. */
static void
test_upload_streamed(void **state)
{
	struct fake_options o;
	struct fake *f = NULL;
	struct mv_err err;
	size_t n = FAKE_MAX_BODY * 2 + 3;
	char *big = malloc(n + 1), *u;
	struct get g = {0};

	(void)state;
	mv_err_clear(&err);
	fake_options_init(&o);
	o.no_auth = true;
	o.max_inflight_bytes = 65536;
	o.max_upload_bytes = n;
	assert_int_equal(fake_new(&o, &f, &err), 0);
	assert_int_equal(fake_start(f, &err), 0);
	for (size_t i = 0; i <= n; i++)
		big[i] = (char)(i * 7 + i / 4096);
	u = url(f, "/storage/v1/b?project=p");
	g.method = "POST";
	g.url = u;
	g.body = "{\"name\":\"bkt\"}";
	g.body_len = strlen(g.body);
	http(&g);
	assert_int_equal(g.status, 200);
	free(g.out.p);
	free(u);
	memset(&g, 0, sizeof(g));
	u = url(f, "/upload/storage/v1/b/bkt/o?uploadType=media&name=big");
	g.method = "POST";
	g.url = u;
	g.body = big;
	g.body_len = n;
	http(&g);
	assert_int_equal(g.status, 200);
	free(g.out.p);
	memset(&g, 0, sizeof(g));
	g.method = "POST"; /* one byte over --max-upload-bytes: 413 */
	g.url = u;
	g.body = big;
	g.body_len = n + 1;
	http(&g);
	/* 413 as soon as the announced length is over the cap; a slow client
	 * (valgrind, TSan) may still be sending when the server closes, and
	 * sees the connection reset instead (status 0), as with a real
	 * server.  Either way nothing is stored: the GET below still reads
	 * the first object. */
	if (g.status != 413 && g.status != 0)
		fail_msg("over the upload cap: %ld, expected 413 or a reset",
		         g.status);
	free(g.out.p);
	free(u);
	memset(&g, 0, sizeof(g));
	u = url(f, "/storage/v1/b/bkt/o/big?alt=media");
	g.method = "GET";
	g.url = u;
	http(&g);
	assert_int_equal(g.status, 200);
	assert_int_equal(g.out.n, n);
	for (size_t i = 0; i < n; i++)
		if (g.out.p[i] != (char)(i * 7 + i / 4096))
			fail_msg("byte %zu differs", i);
	free(g.out.p);
	free(u);
	free(big);
	fake_stop(f, NULL);
	fake_free(f);
}

static void
test_delay_does_not_hold_a_worker(void **state)
{
	struct fake *f = start(1, 10);
	struct get slow = {0}, quick = {0};
	char *fu = url(f, "/_fake/faults"), *su, *qu;
	struct get put = {0};
	pthread_t t;

	(void)state;
	put.method = "PUT";
	put.url = fu;
	put.body = "rules:\n  - path: /compute/v1/projects/slow\n"
	           "    delay_ms: 1500\n  - path: /compute/v1/projects/gone\n"
	           "    reset: true\n";
	put.body_len = strlen(put.body);
	http(&put);
	assert_int_equal(put.status, 200);
	free(put.out.p);
	su = url(f, "/compute/v1/projects/slow");
	qu = url(f, "/compute/v1/projects/quick");
	slow.method = quick.method = "GET";
	slow.url = su;
	quick.url = qu;
	pthread_create(&t, NULL, run_get, &slow);
	usleep(100 * 1000);
	http(&quick);
	pthread_join(t, NULL);
	assert_int_equal(slow.status, 200);
	assert_int_equal(quick.status, 200);
	assert_true(slow.ms >= 1450);
	/* the quick one (sent 100 ms later) was answered while the only
	 * worker had the slow one parked */
	assert_true(100 + quick.ms < slow.ms);
	free(slow.out.p);
	free(quick.out.p);
	memset(&quick, 0, sizeof(quick));
	free(qu);
	qu = url(f, "/compute/v1/projects/gone");
	quick.method = "GET";
	quick.url = qu;
	http(&quick);
	assert_true(quick.rc == CURLE_RECV_ERROR || quick.rc == CURLE_GOT_NOTHING);
	free(quick.out.p);
	free(qu);
	free(su);
	free(fu);
	fake_stop(f, NULL);
	fake_free(f);
}

static void
test_idle_timeout(void **state)
{
	struct fake *f = start(1, 1);
	const char *port = strrchr(fake_url(f), ':') + 1;
	struct sockaddr_in sa = {0};
	struct pollfd p;
	char c;
	int s = socket(AF_INET, SOCK_STREAM, 0);

	(void)state;
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)atoi(port));
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	assert_int_equal(connect(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
	p.fd = s;
	p.events = POLLIN;
	/* silent client: closed after about a second */
	assert_int_equal(poll(&p, 1, 5000), 1);
	assert_true(recv(s, &c, 1, 0) <= 0);
	close(s);
	fake_stop(f, NULL);
	fake_free(f);
}

struct worker {
	struct fake *f;
	int id;
	int ok;
};

static void *
worker_main(void *arg)
{
	struct worker *w = arg;

	for (int i = 0; i < 25; i++) {
		struct get g = {0};
		char body[256], *u = url(w->f, "/compute/v1/projects/p/zones/"
		                         "us-central1-b/instances");
		snprintf(body, sizeof(body), "{\"name\":\"vm-%d-%d\",\"machineType\":"
		         "\"e2-small\"}", w->id, i);
		g.method = "POST";
		g.url = u;
		g.body = body;
		g.body_len = strlen(body);
		http(&g);
		w->ok += g.status == 200;
		free(g.out.p);
		free(u);
	}
	return NULL;
}

static void
test_concurrent_clients(void **state)
{
	struct fake *f = start(4, 10);
	struct worker w[8];
	pthread_t t[8];
	struct get g = {0};
	char *u;
	json_t *doc;

	(void)state;
	for (int i = 0; i < 8; i++) {
		w[i].f = f;
		w[i].id = i;
		w[i].ok = 0;
		pthread_create(&t[i], NULL, worker_main, &w[i]);
	}
	for (int i = 0; i < 8; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(w[i].ok, 25);
	}
	u = url(f, "/compute/v1/projects/p/zones/us-central1-b/instances");
	g.method = "GET";
	g.url = u;
	http(&g);
	doc = json_loads(g.out.p, 0, NULL);
	assert_int_equal(json_array_size(json_object_get(doc, "items")), 200);
	json_decref(doc);
	free(g.out.p);
	free(u);
	/* GCS object names keep their encoded slash */
	memset(&g, 0, sizeof(g));
	u = url(f, "/storage/v1/b?project=p");
	g.method = "POST";
	g.url = u;
	g.body = "{\"name\":\"bkt\"}";
	g.body_len = strlen(g.body);
	http(&g);
	free(g.out.p);
	free(u);
	memset(&g, 0, sizeof(g));
	u = url(f, "/upload/storage/v1/b/bkt/o?uploadType=media&name=a%2Fb");
	g.method = "POST";
	g.url = u;
	g.body = "data";
	g.body_len = 4;
	http(&g);
	assert_int_equal(g.status, 200);
	free(g.out.p);
	free(u);
	memset(&g, 0, sizeof(g));
	u = url(f, "/storage/v1/b/bkt/o/a%2Fb?alt=media");
	g.method = "GET";
	g.url = u;
	http(&g);
	assert_int_equal(g.status, 200);
	assert_string_equal(g.out.p, "data");
	free(g.out.p);
	free(u);
	fake_stop(f, NULL);
	fake_free(f);
}

/* A cluster's API over TLS, verified against the CA GKE hands out (so
 * the certificate chain and the IP SAN are right), and a watch streamed
 * while objects change; stopping the fake ends open watches. */
/* Create cluster c1; write its CA to ca_path; its https:// base URL. */
static char *
kube_cluster(struct fake *f, const char *ca_path)
{
	struct get g = {0};
	char *u, *kube;
	json_t *doc;
	uint8_t *pem;
	size_t n;
	const char *b64;

	u = url(f, "/v1/projects/p/locations/us-west1-b/clusters");
	g.method = "POST";
	g.url = u;
	g.body = "{\"cluster\":{\"name\":\"c1\",\"initialNodeCount\":1}}";
	g.body_len = strlen(g.body);
	http(&g);
	assert_int_equal(g.status, 200);
	free(g.out.p);
	free(u);
	memset(&g, 0, sizeof(g));
	u = url(f, "/v1/projects/p/locations/us-west1-b/clusters/c1");
	g.method = "GET";
	g.url = u;
	http(&g);
	doc = json_loads(g.out.p, 0, NULL);
	b64 = json_string_value(json_object_get(json_object_get(doc,
	                                                        "masterAuth"),
	                                        "clusterCaCertificate"));
	assert_int_equal(mv_base64_decode(b64, strlen(b64), &pem, &n), 0);
	tu_write_bytes(ca_path, pem, n);
	free(pem);
	kube = tu_fmt("https://%s", json_string_value(json_object_get(doc,
	                                                             "endpoint")));
	json_decref(doc);
	free(g.out.p);
	free(u);
	return kube;
}

/* One keep-alive TLS connection: answers of several TLS records (which
 * the fake corks until complete) arrive whole, a watch stream (never
 * corked) on the same connection delivers its events, and the
 * connection serves on after both. */
static void
test_kube_tls_keepalive_large(void **state)
{
	struct fake *f = start(2, 10);
	char *dir = tu_tmpdir(), *ca_path = tu_fmt("%s/ca.pem", dir);
	char *kube = kube_cluster(f, ca_path), *u, *cm, *first = NULL;
	size_t first_n = 0, n;
	struct get g = {0};
	CURL *c = curl_easy_init();

	(void)state;
	/* a ConfigMap of 60 KB: four TLS records */
	cm = malloc(70000);
	assert_non_null(cm);
	strcpy(cm, "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":"
	           "{\"name\":\"big\"},\"data\":{\"k\":\"");
	n = strlen(cm);
	memset(cm + n, 'v', 60000);
	strcpy(cm + n + 60000, "\"}}");
	u = tu_fmt("%s/api/v1/namespaces/default/configmaps", kube);
	g.method = "POST";
	g.url = u;
	g.cainfo = ca_path;
	g.body = cm;
	g.body_len = strlen(cm);
	http(&g);
	assert_int_equal(g.status, 201);
	free(g.out.p);
	free(u);
	curl_easy_setopt(c, CURLOPT_CAINFO, ca_path);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	for (int i = 0; i < 6; i++) {
		struct buf out = {0};
		long status = 0, connects = -1;
		/* 0-2 and 4-5 the ConfigMap, 3 a watch of it for 1 s */
		u = i == 3 ? tu_fmt("%s/api/v1/namespaces/default/configmaps?"
		                    "watch=1&timeoutSeconds=1&fieldSelector="
		                    "metadata.name%%3Dbig", kube)
		           : tu_fmt("%s/api/v1/namespaces/default/configmaps/big",
		                    kube);
		curl_easy_setopt(c, CURLOPT_URL, u);
		curl_easy_setopt(c, CURLOPT_WRITEDATA, &out);
		assert_int_equal(curl_easy_perform(c), CURLE_OK);
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
		curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &connects);
		assert_int_equal(status, 200);
		assert_int_equal(connects, i == 0 ? 1 : 0); /* one connection */
		assert_non_null(out.p);
		if (i == 3) {
			assert_contains(out.p, "{\"type\":\"ADDED\",\"object\":");
			assert_true(out.n > 60000);
			free(out.p);
		} else if (first == NULL) {
			assert_true(out.n > 60000);
			assert_contains(out.p, "\"name\":\"big\"");
			first = out.p;
			first_n = out.n;
		} else {
			assert_int_equal(out.n, first_n);
			assert_memory_equal(out.p, first, first_n);
			free(out.p);
		}
		free(u);
	}
	curl_easy_cleanup(c);
	free(first);
	free(cm);
	free(kube);
	fake_free(f);
	tu_rmrf(dir);
	free(dir);
	free(ca_path);
}

static void
test_kube_tls_and_watch(void **state)
{
	struct fake *f = start(2, 10);
	char *dir = tu_tmpdir(), *ca_path = tu_fmt("%s/ca.pem", dir);
	char *u, *kube = kube_cluster(f, ca_path), *wurl;
	struct get g = {0}, w = {0};
	json_t *doc;
	pthread_t t;
	double t0;

	(void)state;
	u = tu_fmt("%s/version", kube);
	g.method = "GET";
	g.url = u;
	g.cainfo = ca_path;
	http(&g);
	assert_int_equal(g.rc, CURLE_OK);
	assert_int_equal(g.status, 200);
	assert_contains(g.out.p, "\"minor\":\"32\"");
	free(g.out.p);
	free(u);
	/* a watch from now (the list's version), for 2 s; a ConfigMap
	 * appears meanwhile */
	memset(&g, 0, sizeof(g));
	u = tu_fmt("%s/api/v1/namespaces/default/configmaps", kube);
	g.method = "GET";
	g.url = u;
	g.cainfo = ca_path;
	http(&g);
	doc = json_loads(g.out.p, 0, NULL);
	wurl = tu_fmt("%s/api/v1/namespaces/default/configmaps?watch=1&"
	              "resourceVersion=%s&timeoutSeconds=2", kube,
	              json_string_value(json_object_get(json_object_get(
	                      doc, "metadata"), "resourceVersion")));
	json_decref(doc);
	free(g.out.p);
	free(u);
	w.method = "GET";
	w.url = wurl;
	w.cainfo = ca_path;
	pthread_create(&t, NULL, run_get, &w);
	usleep(300 * 1000);
	memset(&g, 0, sizeof(g));
	u = tu_fmt("%s/api/v1/namespaces/default/configmaps", kube);
	g.method = "POST";
	g.url = u;
	g.cainfo = ca_path;
	g.body = "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":"
	         "{\"name\":\"seen\"}}";
	g.body_len = strlen(g.body);
	http(&g);
	assert_int_equal(g.status, 201);
	free(g.out.p);
	free(u);
	pthread_join(t, NULL);
	assert_int_equal(w.status, 200);
	assert_true(w.ms >= 1800);
	assert_non_null(w.out.p);
	assert_contains(w.out.p, "{\"type\":\"ADDED\",\"object\":");
	assert_contains(w.out.p, "\"name\":\"seen\"");
	free(w.out.p);
	free(wurl);
	/* a long watch ends when the fake stops */
	memset(&w, 0, sizeof(w));
	wurl = tu_fmt("%s/api/v1/namespaces/default/configmaps?watch=1&"
	              "timeoutSeconds=60", kube);
	w.method = "GET";
	w.url = wurl;
	w.cainfo = ca_path;
	pthread_create(&t, NULL, run_get, &w);
	usleep(500 * 1000);
	t0 = now_ms();
	fake_stop(f, NULL);
	pthread_join(t, NULL);
	assert_true(now_ms() - t0 < 10000);
	assert_contains(w.out.p, "kube-root-ca.crt"); /* the initial ADDED */
	free(w.out.p);
	free(wurl);
	free(kube);
	fake_free(f);
	tu_rmrf(dir);
	free(dir);
	free(ca_path);
}

/* More headers than the request path keeps inline (16) and a query:
 * every header reaches the handler and the journal, the query as sent. */
static void
test_many_headers(void **state)
{
	struct fake *f = start(2, 60);
	struct curl_slist *h = NULL;
	struct buf out = {0};
	char *u, line[64];
	long status = 0;
	CURL *c;

	(void)state;
	h = curl_slist_append(h, "Accept: application/first");
	for (int i = 0; i < 20; i++) {
		snprintf(line, sizeof(line), "X-Pad-%d: v%d", i, i);
		h = curl_slist_append(h, line);
	}
	h = curl_slist_append(h, "X-Goog-User-Project: last-one");
	u = url(f, "/v1/projects/p/locations/l/clusters/none?alt=json&x=a%2Fb");
	c = curl_easy_init();
	curl_easy_setopt(c, CURLOPT_URL, u);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &out);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	assert_int_equal(curl_easy_perform(c), CURLE_OK);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	assert_int_equal(status, 404);
	assert_contains(out.p, "clusters/none");
	curl_easy_cleanup(c);
	curl_slist_free_all(h);
	free(u);
	free(out.p);
	u = url(f, "/_fake/journal");
	{
		struct get g = {.method = "GET", .url = u};
		http(&g);
		assert_int_equal(g.status, 200);
		assert_contains(g.out.p, "\"path\":\"/v1/projects/p/locations/l/"
		                "clusters/none\",\"query\":\"alt=json&x=a%2Fb\"");
		assert_contains(g.out.p, "{\"accept\":\"application/first\","
		                "\"x-goog-user-project\":\"last-one\"}");
		free(g.out.p);
	}
	free(u);
	fake_free(f);
}

/* GET of a cached answer, again and again on one worker thread (which
 * keeps the last one as a ready response): each answer is its own
 * resource's, current after a change, and an error answer in between
 * is not a cached one's. */
static void
test_cached_answers(void **state)
{
	struct fake *f = start(1, 60);
	const char *L = "/v1/projects/p/locations/us-west1-b/clusters";
	const char *names[] = {"c1", "c1", "c2", "c1", "c2", "c2"};
	char *u;

	(void)state;
	for (int round = 0; round < 2; round++) {
		for (int i = 1; i <= 2; i++) {
			char *body = tu_fmt("{\"cluster\":{\"name\":\"c%d\","
			                    "\"initialNodeCount\":%d}}", i,
			                    round * 10 + i);
			struct get g = {.method = "POST", .body = body,
			                .body_len = strlen(body)};
			g.url = u = url(f, L);
			http(&g);
			assert_int_equal(g.status, 200);
			free(g.out.p);
			free(u);
			free(body);
		}
		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
			char *path = tu_fmt("%s/%s", L, names[i]);
			char *want = tu_fmt("\"initialNodeCount\":%d", round * 10 +
			                    (names[i][1] - '0'));
			struct get g = {.method = "GET"};
			g.url = u = url(f, path);
			http(&g);
			assert_int_equal(g.status, 200);
			assert_contains(g.out.p, want);
			free(g.out.p);
			free(u);
			free(want);
			free(path);
		}
		/* everything goes: the same GETs are 404s now */
		{
			struct get g = {.method = "POST", .body = "{}", .body_len = 2};
			g.url = u = url(f, "/_fake/reset");
			http(&g);
			assert_int_equal(g.status, 200);
			free(g.out.p);
			free(u);
		}
		for (int i = 0; i < 2; i++) {
			char *path = tu_fmt("%s/c1", L);
			struct get g = {.method = "GET"};
			g.url = u = url(f, path);
			http(&g);
			assert_int_equal(g.status, 404);
			assert_contains(g.out.p, "NOT_FOUND");
			free(g.out.p);
			free(u);
			free(path);
		}
	}
	fake_free(f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cached_answers),
		cmocka_unit_test(test_many_headers),
		cmocka_unit_test(test_body_limit),
		cmocka_unit_test(test_upload_streamed),
		cmocka_unit_test(test_delay_does_not_hold_a_worker),
		cmocka_unit_test(test_idle_timeout),
		cmocka_unit_test(test_concurrent_clients),
		cmocka_unit_test(test_kube_tls_and_watch),
		cmocka_unit_test(test_kube_tls_keepalive_large),
	};
	int rc;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
}
