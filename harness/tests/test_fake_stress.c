/* test_fake_stress.c - the fake under concurrent load for
 * MESHVM_STRESS_SECONDS (default 20): four clients over HTTP and TLS, a
 * watcher on a cluster that is deleted under it, and a cluster created
 * and deleted in a loop.  It asserts only that everything kept working;
 * its point is to run under ThreadSanitizer and AddressSanitizer (label
 * stress; .ci/run runs it in both). */
#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/base64.h"
#include "fakeutil.h"

#define CL "/v1/projects/p/locations/us-west1-b/clusters"

struct sink {
	char *p;
	size_t n;
};

static size_t
on_data(char *d, size_t sz, size_t nm, void *u)
{
	struct sink *b = u;
	char *np;

	if (b->n > (1u << 20)) /* keep the start: enough to parse */
		return sz * nm;
	np = realloc(b->p, b->n + sz * nm + 1);
	if (np == NULL)
		return 0;
	b->p = np;
	memcpy(b->p + b->n, d, sz * nm);
	b->n += sz * nm;
	b->p[b->n] = '\0';
	return sz * nm;
}

struct shared {
	const char *base;     /* http://127.0.0.1:PORT */
	char ca[512];         /* CA file for the clusters' APIs */
	char stable[64];      /* endpoint of the cluster that stays */
	time_t deadline;
	atomic_int ok, failed, cycles, events;
};

/* One request; the status (0 when the transfer failed); body in *out
 * when out != NULL. */
static long
req(struct shared *s, const char *method, const char *url,
    const char *body, char **out, long timeout)
{
	CURL *c = curl_easy_init();
	struct curl_slist *h = NULL;
	struct sink b = {0};
	long status = 0;

	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, timeout);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CAINFO, s->ca);
	if (body != NULL) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		h = curl_slist_append(h, "Content-Type: application/json");
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	}
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	if (out != NULL)
		*out = b.p;
	else
		free(b.p);
	if (status >= 200 && status < 500)
		atomic_fetch_add(&s->ok, 1);
	else
		atomic_fetch_add(&s->failed, 1);
	return status;
}

static const char *
jget(json_t *doc, const char *k)
{
	return json_string_value(json_object_get(doc, k));
}

/* POST or DELETE a cluster and read its operation until DONE. */
static bool
cluster_op(struct shared *s, const char *method, const char *name)
{
	char url[512], *body = NULL;
	json_t *op;
	bool done = false;

	if (strcmp(method, "POST") == 0) {
		char b[128];
		snprintf(url, sizeof(url), "%s" CL, s->base);
		snprintf(b, sizeof(b), "{\"cluster\":{\"name\":\"%s\","
		         "\"initialNodeCount\":1}}", name);
		req(s, "POST", url, b, &body, 30);
	} else {
		snprintf(url, sizeof(url), "%s" CL "/%s", s->base, name);
		req(s, "DELETE", url, NULL, &body, 30);
	}
	op = body ? json_loads(body, 0, NULL) : NULL;
	free(body);
	for (int i = 0; op != NULL && jget(op, "name") && i < 20 && !done;
	     i++) {
		char *b2 = NULL;
		json_t *o2;
		snprintf(url, sizeof(url), "%s/v1/projects/p/locations/us-west1-b/"
		         "operations/%s", s->base, jget(op, "name"));
		req(s, "GET", url, NULL, &b2, 30);
		o2 = b2 ? json_loads(b2, 0, NULL) : NULL;
		done = o2 && jget(o2, "status") && !strcmp(jget(o2, "status"),
		                                           "DONE");
		json_decref(o2);
		free(b2);
	}
	json_decref(op);
	return done;
}

static char *
endpoint_of(struct shared *s, const char *name)
{
	char url[512], *body = NULL, *ep = NULL;
	json_t *doc;

	snprintf(url, sizeof(url), "%s" CL "/%s", s->base, name);
	req(s, "GET", url, NULL, &body, 30);
	doc = body ? json_loads(body, 0, NULL) : NULL;
	if (doc != NULL && jget(doc, "endpoint") != NULL)
		ep = strdup(jget(doc, "endpoint"));
	json_decref(doc);
	free(body);
	return ep;
}

/* Create, use and delete a cluster in a loop; watch it meanwhile. */
static void *
churn_main(void *arg)
{
	struct shared *s = arg;

	while (time(NULL) < s->deadline) {
		char *ep, url[512];
		if (!cluster_op(s, "POST", "churn"))
			continue;
		ep = endpoint_of(s, "churn");
		for (int i = 0; ep != NULL && i < 5; i++) {
			char b[160];
			snprintf(url, sizeof(url), "https://%s/api/v1/namespaces/"
			         "default/configmaps", ep);
			snprintf(b, sizeof(b), "{\"apiVersion\":\"v1\",\"kind\":"
			         "\"ConfigMap\",\"metadata\":{\"name\":\"c%d\"}}", i);
			req(s, "POST", url, b, NULL, 30);
		}
		free(ep);
		if (cluster_op(s, "DELETE", "churn"))
			atomic_fetch_add(&s->cycles, 1);
	}
	return NULL;
}

/* Watches: on the stable cluster, and on the churning one (deleted under
 * the watch). */
static void *
watch_main(void *arg)
{
	struct shared *s = arg;
	int n = 0;

	while (time(NULL) < s->deadline) {
		char url[512], *body = NULL, *ep = n++ % 2 ? endpoint_of(s, "churn")
		                                           : strdup(s->stable);
		if (ep == NULL) {
			usleep(50 * 1000);
			continue;
		}
		snprintf(url, sizeof(url), "https://%s/api/v1/namespaces/default/"
		         "configmaps?watch=1&timeoutSeconds=1", ep);
		req(s, "GET", url, NULL, &body, 30);
		for (char *p = body; p && (p = strstr(p, "\"type\"")); p++)
			atomic_fetch_add(&s->events, 1);
		free(body);
		free(ep);
	}
	return NULL;
}

/* Google and Kubernetes requests of every kind. */
static void *
client_main(void *arg)
{
	struct shared *s = arg;
	unsigned n = 0;

	while (time(NULL) < s->deadline) {
		char url[512], b[256];
		unsigned k = n++;
		switch (k % 6) {
		case 0:
			snprintf(url, sizeof(url), "%s/compute/v1/projects/p", s->base);
			req(s, "GET", url, NULL, NULL, 30);
			break;
		case 1:
			snprintf(url, sizeof(url), "%s/compute/v1/projects/p/global/"
			         "firewalls", s->base);
			snprintf(b, sizeof(b), "{\"name\":\"fw%u\",\"allowed\":[{"
			         "\"IPProtocol\":\"tcp\"}]}", k % 7);
			req(s, "POST", url, b, NULL, 30);
			break;
		case 2:
			snprintf(url, sizeof(url), "%s/compute/v1/projects/p/global/"
			         "firewalls/fw%u", s->base, k % 7);
			req(s, k % 4 ? "GET" : "DELETE", url, NULL, NULL, 30);
			break;
		case 3:
			snprintf(url, sizeof(url), "https://%s/api/v1/namespaces/"
			         "default/configmaps", s->stable);
			snprintf(b, sizeof(b), "{\"apiVersion\":\"v1\",\"kind\":"
			         "\"ConfigMap\",\"metadata\":{\"name\":\"s%u\"}}",
			         k % 11);
			req(s, k % 3 ? "POST" : "GET", url, k % 3 ? b : NULL, NULL, 30);
			break;
		case 4:
			snprintf(url, sizeof(url), "https://%s/api/v1/namespaces/"
			         "default/configmaps/s%u", s->stable, k % 11);
			req(s, k % 5 ? "GET" : "DELETE", url, NULL, NULL, 30);
			break;
		default:
			snprintf(url, sizeof(url), "%s/_fake/%s", s->base,
			         k % 4 ? "state" : "journal");
			req(s, "GET", url, NULL, NULL, 30);
			break;
		}
	}
	return NULL;
}

static void
test_stress(void **state)
{
	struct fake_options o;
	struct fake *f = NULL;
	struct mv_err err;
	struct shared s;
	pthread_t t[6];
	const char *secs = getenv("MESHVM_STRESS_SECONDS");
	char *dir = tu_tmpdir(), *ep;
	struct fu_resp r;
	uint8_t *pem;
	size_t n;
	const char *b64;

	(void)state;
	memset(&s, 0, sizeof(s));
	mv_err_clear(&err);
	fake_options_init(&o);
	o.no_auth = true;
	o.op_polls = 1;
	o.threads = 4;
	o.controller_delay_ms = 100;
	assert_int_equal(fake_new(&o, &f, &err), 0);
	assert_int_equal(fake_start(f, &err), 0);
	s.base = fake_url(f);
	assert_int_equal(fu_do(f, "POST", CL, "{\"cluster\":{\"name\":"
	                       "\"stable\",\"initialNodeCount\":1}}"), 200);
	r = fu_req(f, "GET", CL "/stable", NULL);
	b64 = fu_str(&r, "masterAuth.clusterCaCertificate");
	assert_int_equal(mv_base64_decode(b64, strlen(b64), &pem, &n), 0);
	snprintf(s.ca, sizeof(s.ca), "%s/ca.pem", dir);
	tu_write_bytes(s.ca, pem, n);
	free(pem);
	snprintf(s.stable, sizeof(s.stable), "%s", fu_str(&r, "endpoint"));
	fu_free(&r);
	s.deadline = time(NULL) + (secs ? atoi(secs) : 20);
	pthread_create(&t[0], NULL, churn_main, &s);
	pthread_create(&t[1], NULL, watch_main, &s);
	for (int i = 2; i < 6; i++)
		pthread_create(&t[i], NULL, client_main, &s);
	for (int i = 0; i < 6; i++)
		pthread_join(t[i], NULL);
	print_message("stress: %d answered, %d failed, %d create/delete cycles, "
	              "%d watch events\n", atomic_load(&s.ok),
	              atomic_load(&s.failed), atomic_load(&s.cycles),
	              atomic_load(&s.events));
	assert_true(atomic_load(&s.ok) > 100);
	assert_true(atomic_load(&s.cycles) >= 1);
	assert_true(atomic_load(&s.events) > 0);
	/* and it still answers, then stops cleanly with watches gone */
	ep = strdup(s.stable);
	assert_int_equal(fu_do(f, "GET", "/_fake/health", NULL), 200);
	assert_int_equal(fake_stop(f, &err), 0);
	fake_free(f);
	free(ep);
	free(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stress),
	};

	curl_global_init(CURL_GLOBAL_DEFAULT);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
