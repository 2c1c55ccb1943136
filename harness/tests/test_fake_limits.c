/* test_fake_limits.c - the fake against hostile clients over real
 * sockets: many idle connections do not lock a new client out, bodies
 * in flight are bounded (429) and a huge body gets 413 without being
 * read, and a watcher too slow to read gets a 410 ERROR event instead of
 * silently losing changes. */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/base64.h"
#include "fakeutil.h"

static struct fake *
start(void (*tune)(struct fake_options *))
{
	struct fake_options o;
	struct fake *f = NULL;
	struct mv_err err;

	mv_err_clear(&err);
	fake_options_init(&o);
	o.no_auth = true;
	o.op_polls = 1;
	o.threads = 2;
	if (tune != NULL)
		tune(&o);
	assert_int_equal(fake_new(&o, &f, &err), 0);
	if (fake_start(f, &err) != 0)
		print_error("fake_start: %s\n", err.msg);
	return f;
}

static int
port_of(const char *url)
{
	return atoi(strrchr(url, ':') + 1);
}

static int
dial(int port)
{
	struct sockaddr_in sa;
	int s = socket(AF_INET, SOCK_STREAM, 0);

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	assert_true(s >= 0);
	assert_int_equal(connect(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return s;
}

/* Read what arrives within ms into buf (NUL-terminated); bytes read, 0
 * when the peer closed, -1 when nothing came. */
static ssize_t
read_some(int s, char *buf, size_t len, int ms)
{
	struct pollfd p = {s, POLLIN, 0};
	ssize_t n;

	if (poll(&p, 1, ms) != 1)
		return -1;
	n = recv(s, buf, len - 1, 0);
	buf[n > 0 ? n : 0] = '\0';
	return n < 0 ? 0 : n;
}

static int
send_all(int s, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = send(s, data, len, MSG_NOSIGNAL);
		if (n <= 0)
			return -1;
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

struct buf {
	char *p;
	size_t n;
	pthread_mutex_t *gate; /* held by the test: a reader that stalls */
};

static size_t
on_data(char *d, size_t sz, size_t nm, void *u)
{
	struct buf *b = u;
	char *np;

	if (b->gate != NULL) {
		pthread_mutex_lock(b->gate);
		pthread_mutex_unlock(b->gate);
	}
	np = realloc(b->p, b->n + sz * nm + 1);
	if (np == NULL)
		return 0;
	b->p = np;
	memcpy(b->p + b->n, d, sz * nm);
	b->n += sz * nm;
	b->p[b->n] = '\0';
	return sz * nm;
}

struct call {
	const char *method, *url, *body, *cainfo;
	size_t body_len;
	bool small_rcvbuf;
	long status;
	CURLcode rc;
	struct buf out;
	char hdrs[1024];
};

static size_t
on_header(char *d, size_t sz, size_t nm, void *u)
{
	struct call *c = u;
	size_t have = strlen(c->hdrs), n = sz * nm;

	if (have + n < sizeof(c->hdrs)) {
		memcpy(c->hdrs + have, d, n);
		c->hdrs[have + n] = '\0';
	}
	return n;
}

/* A small receive buffer: a reader that stops reading fills it soon. */
static int
on_sockopt(void *u, curl_socket_t s, curlsocktype purpose)
{
	int v = 4096;

	(void)u;
	(void)purpose;
	setsockopt(s, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v));
	return CURL_SOCKOPT_OK;
}

static void
call(struct call *c)
{
	CURL *h = curl_easy_init();
	struct curl_slist *hl = NULL;

	curl_easy_setopt(h, CURLOPT_URL, c->url);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, c->method);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &c->out);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, c);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 120L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	if (c->small_rcvbuf) {
		curl_easy_setopt(h, CURLOPT_SOCKOPTFUNCTION, on_sockopt);
		curl_easy_setopt(h, CURLOPT_BUFFERSIZE, 1024L);
	}
	if (c->cainfo != NULL)
		curl_easy_setopt(h, CURLOPT_CAINFO, c->cainfo);
	if (c->body != NULL) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, c->body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
		                 (curl_off_t)c->body_len);
		hl = curl_slist_append(hl, "Content-Type: application/json");
		hl = curl_slist_append(hl, "Expect:");
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
	}
	c->rc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &c->status);
	curl_slist_free_all(hl);
	curl_easy_cleanup(h);
}

static void *
call_main(void *arg)
{
	call(arg);
	return NULL;
}

/* ---- many idle connections ---- */

static void
few_connections(struct fake_options *o)
{
	o->max_connections = 16;
}

/* Every client is 127.0.0.1: 100 idle connections (some that never
 * finished their headers) must not keep a new client out; the longest
 * idle ones are closed for it. */
static void
test_idle_connections_do_not_lock_out(void **state)
{
	struct fake *f = start(few_connections);
	int port = port_of(fake_url(f)), s[100], closed = 0;
	char *u = tu_fmt("%s/_fake/health", fake_url(f)), buf[256];
	struct call c;

	(void)state;
	for (int i = 0; i < 100; i++) {
		s[i] = dial(port);
		if (i % 2 == 0)
			send_all(s[i], "GET /_fake/health HTTP/1.1\r\nHost: x\r\n",
			         38);
	}
	memset(&c, 0, sizeof(c));
	c.method = "GET";
	c.url = u;
	call(&c);
	assert_int_equal(c.rc, CURLE_OK);
	assert_int_equal(c.status, 200);
	free(c.out.p);
	/* the oldest idle ones were closed by the server */
	for (int i = 0; i < 100; i++) {
		if (read_some(s[i], buf, sizeof(buf), i < 50 ? 2000 : 0) == 0)
			closed++;
		close(s[i]);
	}
	assert_true(closed >= 100 - 16);
	free(u);
	fake_stop(f, NULL);
	fake_free(f);
}

/* ---- bodies ---- */

static void
small_inflight(struct fake_options *o)
{
	o->max_inflight_bytes = 131072;
}

static void
test_inflight_bodies_bounded(void **state)
{
	struct fake *f = start(small_inflight);
	int port = port_of(fake_url(f)), s = dial(port);
	char *u = tu_fmt("%s/storage/v1/b?project=p", fake_url(f));
	char buf[512], *body = malloc(50000);
	const char *head = "POST /storage/v1/b?project=p HTTP/1.1\r\n"
	                   "Host: x\r\nContent-Type: application/json\r\n"
	                   "Content-Length: 100000\r\n"
	                   "Expect: 100-continue\r\n\r\n";
	struct call c;

	(void)state;
	memset(body, ' ', 50000);
	/* 100000 bytes announced and accepted (100 Continue): in flight */
	assert_int_equal(send_all(s, head, strlen(head)), 0);
	assert_true(read_some(s, buf, sizeof(buf), 10000) > 0);
	assert_contains(buf, "100 Continue");
	memset(&c, 0, sizeof(c));
	c.method = "POST";
	c.url = u;
	c.body = body;
	c.body_len = 50000;
	call(&c);
	assert_int_equal(c.status, 429);
	assert_contains(c.out.p, "RESOURCE_EXHAUSTED");
	assert_contains(c.hdrs, "Retry-After: 1");
	free(c.out.p);
	/* the first client goes: its share is free again */
	close(s);
	for (int i = 0; i < 100; i++) {
		memset(&c, 0, sizeof(c));
		c.method = "POST";
		c.url = u;
		c.body = body;
		c.body_len = 50000;
		call(&c);
		free(c.out.p);
		if (c.status != 429)
			break;
		usleep(50 * 1000);
	}
	assert_int_equal(c.status, 400); /* blanks are no bucket */
	free(body);
	free(u);
	fake_stop(f, NULL);
	fake_free(f);
}

/* A terabyte announced: 413 at once, nothing read or allocated. */
static void
test_huge_body_413(void **state)
{
	struct fake *f = start(NULL);
	int s = dial(port_of(fake_url(f)));
	const char *head = "PUT /upload/storage/v1/b/b/o?uploadType=media&"
	                   "name=x HTTP/1.1\r\nHost: x\r\n"
	                   "Content-Length: 1099511627776\r\n\r\n";
	char buf[1024];

	(void)state;
	assert_int_equal(send_all(s, head, strlen(head)), 0);
	assert_true(read_some(s, buf, sizeof(buf), 10000) > 0);
	assert_contains(buf, " 413 ");
	close(s);
	/* and the server still answers */
	assert_int_equal(fu_do(f, "GET", "/_fake/health", NULL), 200);
	fake_stop(f, NULL);
	fake_free(f);
}

/* ---- a slow watcher ---- */

static void
short_history(struct fake_options *o)
{
	o->watch_events = 8;
	o->watch_bytes = 1 << 20;
}

static void
test_slow_watcher_gets_410(void **state)
{
	struct fake *f = start(short_history);
	char *dir = tu_tmpdir(), *ca = tu_fmt("%s/ca.pem", dir), *u;
	struct fu_resp r;
	struct call w;
	pthread_mutex_t gate = PTHREAD_MUTEX_INITIALIZER;
	pthread_t t;
	char *big = malloc(300 * 1024 + 200);
	uint8_t *pem;
	size_t n;
	const char *b64;
	char ep[64];

	(void)state;
	assert_int_equal(fu_do(f, "POST", "/v1/projects/p/locations/us-west1-b/"
	                       "clusters", "{\"cluster\":{\"name\":\"c1\","
	                       "\"initialNodeCount\":1}}"), 200);
	r = fu_req(f, "GET", "/v1/projects/p/locations/us-west1-b/clusters/c1",
	           NULL);
	b64 = fu_str(&r, "masterAuth.clusterCaCertificate");
	assert_int_equal(mv_base64_decode(b64, strlen(b64), &pem, &n), 0);
	tu_write_bytes(ca, pem, n);
	free(pem);
	snprintf(ep, sizeof(ep), "%s", fu_str(&r, "endpoint"));
	fu_free(&r);
	/* a watcher that takes the first bytes and then stops reading */
	memset(&w, 0, sizeof(w));
	u = tu_fmt("https://%s/api/v1/namespaces/default/configmaps?watch=1&"
	           "resourceVersion=0&timeoutSeconds=20", ep);
	w.method = "GET";
	w.url = u;
	w.cainfo = ca;
	w.small_rcvbuf = true;
	w.out.gate = &gate;
	pthread_mutex_lock(&gate);
	pthread_create(&t, NULL, call_main, &w);
	usleep(300 * 1000);
	/* big objects fill what the sockets hold, then many small ones move
	 * the history past what the watcher has seen */
	for (int i = 0; i < 24; i++) {
		int hl = sprintf(big, "{\"apiVersion\":\"v1\",\"kind\":"
		                 "\"ConfigMap\",\"metadata\":{\"name\":"
		                 "\"big%02d\"},\"data\":{\"k\":\"", i);
		memset(big + hl, 'x', 300 * 1024 - (size_t)hl);
		strcpy(big + 300 * 1024, "\"}}");
		r = fu_req_on(f, "c1", "POST", "/api/v1/namespaces/default/"
		              "configmaps", big, NULL);
		if (r.status != 201)
			print_error("%s\n", r.raw.body);
		assert_int_equal(r.status, 201);
		fu_free(&r);
	}
	for (int i = 0; i < 40; i++) {
		char body[128];
		snprintf(body, sizeof(body), "{\"apiVersion\":\"v1\",\"kind\":"
		         "\"ConfigMap\",\"metadata\":{\"name\":\"s%d\"}}", i);
		assert_int_equal(fu_do_on(f, "c1", "POST", "/api/v1/namespaces/"
		                          "default/configmaps", body, NULL), 201);
	}
	pthread_mutex_unlock(&gate);
	pthread_join(t, NULL);
	assert_int_equal(w.rc, CURLE_OK);
	assert_non_null(w.out.p);
	/* the stream ends with the API server's 410 ERROR event */
	assert_contains(w.out.p, "{\"type\":\"ERROR\",\"object\":{");
	assert_contains(w.out.p, "\"code\":410");
	assert_contains(w.out.p, "\"reason\":\"Expired\"");
	assert_null(strstr(strstr(w.out.p, "\"type\":\"ERROR\""), "\n{"));
	free(w.out.p);
	free(u);
	free(big);
	free(ca);
	free(dir);
	fake_stop(f, NULL);
	fake_free(f);
}

/* The watch history is bounded: however many writes, a watch can replay
 * at most --watch-events of them (trimmed to three quarters when full)
 * and an older resourceVersion gets 410, so the history stops growing.
 * Socket-less: a watch answers with what the history has at once. */
static void
test_watch_history_stops_growing(void **state)
{
	struct fake_options o;
	struct fake *f = NULL;
	struct mv_err err;
	long long rv[200];
	int kept = 0, gone = 0;
	char body[256], target[256];
	const char *cm = "/api/v1/namespaces/default/configmaps";

	(void)state;
	mv_err_clear(&err);
	fake_options_init(&o);
	o.no_auth = true;
	o.op_polls = 1;
	short_history(&o);
	assert_int_equal(fake_new(&o, &f, &err), 0);
	assert_int_equal(fu_do(f, "POST", "/v1/projects/p/locations/us-west1-b/"
	                       "clusters", "{\"cluster\":{\"name\":\"c1\","
	                       "\"initialNodeCount\":1}}"), 200);
	for (int i = 0; i < 200; i++) {
		struct fu_resp r;
		snprintf(body, sizeof(body), "{\"apiVersion\":\"v1\",\"kind\":"
		         "\"ConfigMap\",\"metadata\":{\"name\":\"h\"},\"data\":{\"n\":"
		         "\"%d\"}}", i);
		r = fu_req_on(f, "c1", i == 0 ? "POST" : "PUT",
		              i == 0 ? cm : "/api/v1/namespaces/default/configmaps/h",
		              body, NULL);
		assert_int_equal(r.status, i == 0 ? 201 : 200);
		rv[i] = strtoll(fu_str(&r, "metadata.resourceVersion"), NULL, 10);
		fu_free(&r);
	}
	/* a watch from write i replays the writes after it, or is gone */
	for (int i = 0; i < 199; i++) {
		struct fu_resp r;
		snprintf(target, sizeof(target), "%s?watch=1&resourceVersion=%lld",
		         cm, rv[i]);
		r = fu_req_on(f, "c1", "GET", target, NULL, NULL);
		assert_int_equal(r.status, 200);
		if (strstr(r.raw.body, "\"code\":410") != NULL) {
			assert_int_equal(kept, 0); /* only the oldest are gone */
			gone++;
		} else {
			kept++;
			snprintf(body, sizeof(body), "\"n\":\"%d\"", i + 1);
			assert_contains(r.raw.body, body);
		}
		fu_free(&r);
	}
	/* 8 events at most, 6 (three quarters) at least after a trim */
	assert_true(kept >= 5 && kept <= 8);
	assert_int_equal(gone + kept, 199);
	fake_free(f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_idle_connections_do_not_lock_out),
		cmocka_unit_test(test_inflight_bodies_bounded),
		cmocka_unit_test(test_huge_body_413),
		cmocka_unit_test(test_slow_watcher_gets_410),
		cmocka_unit_test(test_watch_history_stops_growing),
	};

	curl_global_init(CURL_GLOBAL_DEFAULT);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
