/* test_core_http.c - core/http: retries, backoff, unknown outcomes,
 * redaction, against a scripted libmicrohttpd server on 127.0.0.1. */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/http.h"
#include "core/log.h"
#include "core/signal.h"
#include "testutil.h"

#define RESET (-1)

struct script {
	int steps[16];      /* status per request, RESET = close without answer */
	int n;
	int hits;
	const char *retry_after;
	const char *body;
	char last_auth[256];
	char last_method[16];
};

static enum MHD_Result
handler(void *cls, struct MHD_Connection *c, const char *url,
        const char *method, const char *version, const char *upload,
        size_t *upload_size, void **con_cls)
{
	struct script *s = cls;
	struct MHD_Response *r;
	const char *auth;
	int step;
	enum MHD_Result ret;

	(void)url;
	(void)version;
	(void)upload;
	if (*con_cls == NULL) { /* first call: headers only */
		*con_cls = s;
		return MHD_YES;
	}
	if (*upload_size > 0) { /* swallow the body */
		*upload_size = 0;
		return MHD_YES;
	}
	step = s->steps[s->hits < s->n ? s->hits : s->n - 1];
	s->hits++;
	auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
	snprintf(s->last_auth, sizeof(s->last_auth), "%s", auth ? auth : "");
	snprintf(s->last_method, sizeof(s->last_method), "%s", method);
	if (step == RESET)
		return MHD_NO; /* drop the connection: "empty reply" */
	r = MHD_create_response_from_buffer(strlen(s->body ? s->body : "{}"),
	                                    (void *)(s->body ? s->body : "{}"),
	                                    MHD_RESPMEM_PERSISTENT);
	MHD_add_response_header(r, "Content-Type", "application/json");
	if (s->retry_after != NULL && step == 429)
		MHD_add_response_header(r, "Retry-After", s->retry_after);
	ret = MHD_queue_response(c, (unsigned)step, r);
	MHD_destroy_response(r);
	return ret;
}

static struct MHD_Daemon *
serve(struct script *s, char *url, size_t len)
{
	struct MHD_Daemon *d = MHD_start_daemon(
		MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, handler, s,
		MHD_OPTION_END);
	const union MHD_DaemonInfo *info;

	assert_non_null(d);
	info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	snprintf(url, len, "http://127.0.0.1:%u/x?alt=json", info->port);
	return d;
}

static struct mv_http *
fast_client(void)
{
	struct mv_http_timing t;

	mv_http_timing_default(&t);
	t.backoff_base_ms = 5;
	t.backoff_cap_ms = 20;
	t.max_attempts = 5;
	t.max_total_ms = 20000;
	t.timeout_ms = 5000;
	return mv_http_new(&t);
}

static long
ms_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (t1.tv_sec - t0->tv_sec) * 1000 + (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

static void
test_get_retries_5xx(void **state)
{
	struct script s = {{503, 502, 200}, 3, 0, NULL, "{\"ok\":1}", "", ""};
	char url[128];
	struct MHD_Daemon *d = serve(&s, url, sizeof(url));
	struct mv_http *h = fast_client();
	struct mv_http_req req = {.method = "GET", .url = url, .idempotent = true};
	struct mv_http_resp resp;
	struct mv_err err;

	(void)state;
	assert_int_equal(mv_http_do(h, &req, &resp, &err), 0);
	assert_int_equal(resp.status, 200);
	assert_int_equal(resp.attempts, 3);
	assert_int_equal(s.hits, 3);
	assert_string_equal(resp.body, "{\"ok\":1}");
	assert_false(resp.outcome_unknown);
	mv_http_resp_free(&resp);
	mv_http_free(h);
	MHD_stop_daemon(d);
}

static void
test_retry_after_honoured(void **state)
{
	struct script s = {{429, 200}, 2, 0, "1", NULL, "", ""};
	char url[128];
	struct MHD_Daemon *d = serve(&s, url, sizeof(url));
	struct mv_http *h = fast_client();
	struct mv_http_req req = {.method = "GET", .url = url, .idempotent = true};
	struct mv_http_resp resp;
	struct mv_err err;
	struct timespec t0;

	(void)state;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(mv_http_do(h, &req, &resp, &err), 0);
	assert_int_equal(resp.status, 200);
	assert_true(ms_since(&t0) >= 950); /* Retry-After: 1 beats the 20 ms cap */
	mv_http_resp_free(&resp);
	mv_http_free(h);
	MHD_stop_daemon(d);
}

static void
test_create_not_resent_blindly(void **state)
{
	struct script s = {{503, 201}, 2, 0, NULL, NULL, "", ""};
	char url[128];
	struct MHD_Daemon *d = serve(&s, url, sizeof(url));
	struct mv_http *h = fast_client();
	struct mv_http_req req = {.method = "POST", .url = url, .body = "{}",
	                          .body_len = 2, .content_type = "application/json"};
	struct mv_http_resp resp;
	struct mv_err err;

	(void)state;
	assert_int_equal(mv_http_do(h, &req, &resp, &err), 0);
	assert_int_equal(resp.status, 503);
	assert_int_equal(s.hits, 1);
	assert_true(resp.outcome_unknown); /* the caller reads the resource back */
	mv_http_resp_free(&resp);
	mv_http_free(h);
	MHD_stop_daemon(d);
}

static void
test_create_retried_on_429(void **state)
{
	struct script s = {{429, 201}, 2, 0, NULL, NULL, "", ""};
	char url[128];
	struct MHD_Daemon *d = serve(&s, url, sizeof(url));
	struct mv_http *h = fast_client();
	struct mv_http_req req = {.method = "POST", .url = url, .body = "{}",
	                          .body_len = 2};
	struct mv_http_resp resp;
	struct mv_err err;

	(void)state;
	assert_int_equal(mv_http_do(h, &req, &resp, &err), 0);
	assert_int_equal(resp.status, 201);
	assert_int_equal(s.hits, 2);
	assert_false(resp.outcome_unknown);
	mv_http_resp_free(&resp);
	mv_http_free(h);
	MHD_stop_daemon(d);
}

static void
test_resets(void **state)
{
	struct script s = {{RESET, RESET, 200}, 3, 0, NULL, NULL, "", ""};
	char url[128];
	struct MHD_Daemon *d = serve(&s, url, sizeof(url));
	struct mv_http *h = fast_client();
	struct mv_http_req get = {.method = "GET", .url = url, .idempotent = true};
	struct mv_http_req post = {.method = "POST", .url = url, .body = "{}",
	                           .body_len = 2};
	struct mv_http_resp resp;
	struct mv_err err;

	(void)state;
	assert_int_equal(mv_http_do(h, &get, &resp, &err), 0);
	assert_int_equal(resp.status, 200);
	assert_int_equal(resp.attempts, 3);
	mv_http_resp_free(&resp);
	/* a create whose connection dropped: not resent, outcome unknown */
	s.hits = 0;
	mv_err_clear(&err);
	assert_int_equal(mv_http_do(h, &post, &resp, &err), -1);
	assert_int_equal(s.hits, 1);
	assert_true(resp.outcome_unknown);
	assert_int_equal(err.exit_code, MV_EXIT_CLOUD);
	mv_http_resp_free(&resp);
	mv_http_free(h);
	MHD_stop_daemon(d);
}

static void
test_attempts_bounded(void **state)
{
	struct script s = {{503}, 1, 0, NULL, NULL, "", ""};
	char url[128];
	struct MHD_Daemon *d = serve(&s, url, sizeof(url));
	struct mv_http *h = fast_client();
	struct mv_http_req req = {.method = "GET", .url = url, .idempotent = true};
	struct mv_http_resp resp;
	struct mv_err err;

	(void)state;
	assert_int_equal(mv_http_do(h, &req, &resp, &err), 0);
	assert_int_equal(resp.status, 503);
	assert_int_equal(s.hits, 5);
	mv_http_resp_free(&resp);
	mv_http_free(h);
	MHD_stop_daemon(d);
}

static void
test_connection_refused(void **state)
{
	struct script s = {{200}, 1, 0, NULL, NULL, "", ""};
	char url[128];
	struct MHD_Daemon *d = serve(&s, url, sizeof(url));
	struct mv_http *h = fast_client();
	struct mv_http_req req = {.method = "POST", .url = url, .body = "{}",
	                          .body_len = 2};
	struct mv_http_resp resp;
	struct mv_err err;

	(void)state;
	MHD_stop_daemon(d); /* nobody listens on that port now */
	assert_int_equal(mv_http_do(h, &req, &resp, &err), -1);
	/* nothing was sent, so a create is known not to have happened and
	 * may be retried: every attempt used */
	assert_int_equal(resp.attempts, 5);
	assert_false(resp.outcome_unknown);
	assert_contains(err.msg, "after 5 attempts");
	mv_http_free(h);
}

static void
test_backoff_bounds(void **state)
{
	struct mv_http_timing t;
	unsigned seed = 7;

	(void)state;
	mv_http_timing_default(&t);
	t.backoff_base_ms = 100;
	t.backoff_cap_ms = 1000;
	for (int n = 1; n <= 12; n++)
		for (int k = 0; k < 200; k++) {
			long ceiling = 100L << (n - 1 < 5 ? n - 1 : 5);
			long b = mv_http_backoff_ms(&t, n, 0, &seed);
			if (ceiling > 1000)
				ceiling = 1000;
			assert_true(b >= 0 && b <= ceiling);
			assert_true(mv_http_backoff_ms(&t, n, 3000, &seed) >= 3000);
		}
	/* full jitter spreads: not always the ceiling */
	long sum = 0;
	for (int k = 0; k < 1000; k++)
		sum += mv_http_backoff_ms(&t, 8, 0, &seed);
	assert_true(sum / 1000 > 300 && sum / 1000 < 700);
}

static void
test_fast_timing_env(void **state)
{
	struct mv_http_timing t;

	(void)state;
	setenv("MESHVM_TIMING", "fast", 1);
	mv_http_timing_default(&t);
	assert_int_equal(t.poll_ms, 10);
	assert_int_equal(t.backoff_cap_ms, 100);
	unsetenv("MESHVM_TIMING");
	mv_http_timing_default(&t);
	assert_true(t.poll_ms >= 1000);
}

static void
test_redaction_and_trace(void **state)
{
	struct script s = {{200}, 1, 0, NULL, NULL, "", ""};
	char url[192], base[128], out[256], *log = NULL;
	size_t log_len = 0;
	struct MHD_Daemon *d = serve(&s, base, sizeof(base));
	struct mv_http *h = fast_client();
	struct mv_http_resp resp;
	struct mv_err err;
	FILE *mem = open_memstream(&log, &log_len);

	(void)state;
	mv_http_redact_url("https://x/y?alt=json&access_token=SECRET&b=2", out,
	                   sizeof(out));
	assert_string_equal(out, "https://x/y?alt=json&access_token=***&b=2");
	mv_http_redact_url("https://x/y", out, sizeof(out));
	assert_string_equal(out, "https://x/y");
	/* a resumable upload's session URI is a bearer secret */
	mv_http_redact_url("https://x/upload/o?uploadType=resumable&upload_id=S",
	                   out, sizeof(out));
	assert_string_equal(out, "https://x/upload/o?uploadType=resumable&"
	                         "upload_id=***");
	snprintf(url, sizeof(url), "%s&token=SECRET2", base);
	struct mv_http_req req = {.method = "GET", .url = url, .idempotent = true,
	                          .bearer = "SECRET3"};
	mv_log_set_stream(mem);
	mv_log_set_level(MV_LOG_TRACE);
	assert_int_equal(mv_http_do(h, &req, &resp, &err), 0);
	mv_log_set_level(MV_LOG_INFO);
	mv_log_set_stream(NULL);
	fclose(mem);
	assert_string_equal(s.last_auth, "Bearer SECRET3"); /* sent ... */
	assert_contains(log, "GET http://127.0.0.1:");
	assert_contains(log, "-> 200");
	assert_contains(log, "attempt 1");
	assert_true(strstr(log, "SECRET") == NULL); /* ... never logged */
	free(log);
	mv_http_resp_free(&resp);
	mv_http_free(h);
	MHD_stop_daemon(d);
}

static void
test_plain_http_only_loopback(void **state)
{
	/* Hosts that a hand-split of the URL took for loopback: user info
	 * before the host, a name that starts with "127.", a name at all. */
	static const char *const refused[] = {
		"http://127.0.0.1@evil.example/",
		"http://127.0.0.1:80@evil.example/x",
		"http://127.evil.example/",
		"http://localhost/",
		"http://example.com/x",
		"http://10.0.0.1/",
		"http://[::2]/",
	};
	struct script s = {{200}, 1, 0, NULL, "{}", "", ""};
	char url[128], v6[64];
	struct MHD_Daemon *d = serve(&s, url, sizeof(url));
	struct mv_http *h = fast_client();
	struct mv_http_req req = {.method = "GET", .idempotent = true};
	struct mv_http_resp resp;
	struct mv_err err;

	(void)state;
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		req.url = refused[i];
		assert_false(mv_http_is_loopback_url(refused[i]));
		assert_int_equal(mv_http_do(h, &req, &resp, &err), -1);
		assert_contains(err.msg, "plain http is allowed for loopback");
		assert_int_equal(s.hits, 0); /* nothing left the process */
	}
	/* allowed: 127.0.0.1:N reaches the server */
	assert_true(mv_http_is_loopback_url(url));
	req.url = url;
	assert_int_equal(mv_http_do(h, &req, &resp, &err), 0);
	assert_int_equal(resp.status, 200);
	mv_http_resp_free(&resp);
	/* allowed: [::1]:N passes the guard (whatever the connection does) */
	snprintf(v6, sizeof(v6), "http://[::1]:%s", strrchr(url, ':') + 1);
	assert_true(mv_http_is_loopback_url(v6));
	assert_true(mv_http_is_loopback_url("http://127.1.2.3/"));
	req.url = v6;
	if (mv_http_do(h, &req, &resp, &err) != 0)
		assert_null(strstr(err.msg, "plain http"));
	mv_http_resp_free(&resp);
	/* https goes anywhere; other schemes nowhere */
	assert_false(mv_http_is_loopback_url("https://127.0.0.1.evil.example/"));
	req.url = "ftp://127.0.0.1/x";
	assert_int_equal(mv_http_do(h, &req, &resp, &err), -1);
	assert_contains(err.msg, "not an http(s) URL");
	mv_http_free(h);
	MHD_stop_daemon(d);
}

/* Ctrl-C during a transfer to a server that accepts and never answers:
 * the call ends within about a second with an interrupted error (exit
 * 130), not after the 20 s transfer timeout.  In a child, since the
 * interrupt flag is for the whole process. */
static void
test_interrupt_aborts_transfer(void **state)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t sl = sizeof(sa);
	int lfd = socket(AF_INET, SOCK_STREAM, 0), status = 0;
	struct timespec t0;
	char url[64];
	pid_t pid;

	(void)state;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(lfd, 8), 0); /* the kernel accepts; nobody reads */
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&sa, &sl), 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/never",
	         ntohs(sa.sin_port));
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct mv_http_timing t;
		struct mv_http *h;
		struct mv_http_req req = {.method = "GET", .url = url,
		                          .idempotent = true};
		struct mv_http_resp resp;
		struct mv_err err;

		mv_signals_install(true);
		mv_http_timing_default(&t);
		t.timeout_ms = 20000;
		t.max_attempts = 1;
		h = mv_http_new(&t);
		if (mv_http_do(h, &req, &resp, &err) == 0)
			_exit(1);
		mv_http_free(h);
		_exit(err.exit_code == MV_EXIT_INTERRUPTED &&
		      strstr(err.msg, "interrupted") ? 0 : 2);
	}
	usleep(300 * 1000); /* the request is on its way */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	kill(pid, SIGINT);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	/* bounded well below the transfer timeout (not a speed claim) */
	assert_true(ms_since(&t0) < 5000);
	close(lfd);
}

static void
test_error_shapes(void **state)
{
	struct mv_http_req req = {.method = "POST",
	                          .url = "https://container.googleapis.com/v1/x"};
	struct mv_http_resp g = {.status = 403, .body = (char *)
		"{\"error\":{\"code\":403,\"message\":\"Insufficient regional quota\","
		"\"status\":\"PERMISSION_DENIED\",\"errors\":[{\"reason\":"
		"\"QUOTA_EXCEEDED\"}]}}"};
	struct mv_http_resp k = {.status = 409, .body = (char *)
		"{\"kind\":\"Status\",\"status\":\"Failure\",\"reason\":\"Conflict\","
		"\"message\":\"Apply failed with 1 conflict\",\"code\":409}"};
	struct mv_err err;

	(void)state;
	g.len = strlen(g.body);
	k.len = strlen(k.body);
	mv_http_fail(&err, &req, &g);
	assert_string_equal(err.msg, "POST https://container.googleapis.com/v1/x → "
	                             "403 QUOTA_EXCEEDED: Insufficient regional quota");
	assert_int_equal(err.http_status, 403);
	assert_int_equal(err.exit_code, MV_EXIT_CLOUD);
	mv_http_fail(&err, &req, &k);
	assert_contains(err.msg, "→ 409 Conflict: Apply failed with 1 conflict");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_get_retries_5xx),
		cmocka_unit_test(test_retry_after_honoured),
		cmocka_unit_test(test_create_not_resent_blindly),
		cmocka_unit_test(test_create_retried_on_429),
		cmocka_unit_test(test_resets),
		cmocka_unit_test(test_attempts_bounded),
		cmocka_unit_test(test_connection_refused),
		cmocka_unit_test(test_backoff_bounds),
		cmocka_unit_test(test_fast_timing_env),
		cmocka_unit_test(test_redaction_and_trace),
		cmocka_unit_test(test_plain_http_only_loopback),
		cmocka_unit_test(test_interrupt_aborts_transfer),
		cmocka_unit_test(test_error_shapes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
