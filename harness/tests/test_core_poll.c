/* test_core_poll.c - the one wait loop: done, failure, deadline, Ctrl-C. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/poll.h"
#include "core/signal.h"
#include "testutil.h"

struct probe {
	int calls;
	int done_at;   /* return 1 on this call (0: never) */
	int fail_at;   /* return -1 on this call */
	int raise_at;  /* raise SIGINT on this call */
};

static int
probe(void *arg, char **state, struct mv_err *err)
{
	struct probe *p = arg;

	p->calls++;
	*state = strdup("PROVISIONING");
	if (p->raise_at == p->calls)
		raise(SIGINT);
	if (p->fail_at == p->calls)
		return mv_err_set(err, MV_EXIT_CLOUD, "probe failed");
	return p->done_at == p->calls;
}

static void
test_done_and_failed(void **state)
{
	struct probe p = {.done_at = 3};
	struct mv_err err;

	(void)state;
	assert_int_equal(mv_poll_until(mv_now_ms() + 10000, 1, probe, &p, NULL,
	                               &err), 0);
	assert_int_equal(p.calls, 3);
	p = (struct probe){.fail_at = 2};
	mv_err_clear(&err);
	assert_int_equal(mv_poll_until(mv_now_ms() + 10000, 1, probe, &p, "x:",
	                               &err), MV_POLL_FAILED);
	assert_int_equal(p.calls, 2);
	assert_string_equal(err.msg, "probe failed");
}

static void
test_deadline(void **state)
{
	struct probe p = {0};
	struct mv_err err;
	long t0 = mv_now_ms();

	(void)state;
	/* fn runs at least once even with the deadline already passed */
	assert_int_equal(mv_poll_until(t0 - 1, 5, probe, &p, NULL, &err),
	                 MV_POLL_TIMEOUT);
	assert_int_equal(p.calls, 1);
	p.calls = 0;
	assert_int_equal(mv_poll_until(t0 + 60, 5, probe, &p, "clusters:", &err),
	                 MV_POLL_TIMEOUT);
	assert_true(p.calls >= 2);
	assert_int_equal(err.exit_code, MV_EXIT_CLOUD);
	assert_contains(err.msg, "clusters: not done after");
	/* the last sleep is cut to the deadline: no full interval overshoot */
	t0 = mv_now_ms();
	assert_int_equal(mv_poll_until(t0 + 50, 100000, probe, &p, NULL, &err),
	                 MV_POLL_TIMEOUT);
	assert_true(mv_now_ms() - t0 < 5000);
}

/* Ctrl-C in graceful mode ends the wait at once (a child: the flag
 * cannot be reset in this process). */
static void
test_interrupt(void **state)
{
	int st;
	pid_t pid;

	(void)state;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct probe p = {0};
		struct mv_err err;
		long t0;
		int rc;
		mv_signals_install(true);
		t0 = mv_now_ms();
		/* an hour-long interval: only the interrupt can end the sleep */
		rc = mv_poll_until(t0 + 3600000, 3600000, probe, &p, "clusters:",
		                   &err);
		_exit(rc == MV_POLL_INTERRUPTED &&
		      err.exit_code == MV_EXIT_INTERRUPTED &&
		      strstr(err.msg, "interrupted") != NULL &&
		      mv_now_ms() - t0 < 10000 ? 0 : 1);
	}
	/* the child sleeps in its first interval: interrupt it */
	usleep(200000);
	kill(pid, SIGINT);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);

	/* raised inside fn: the loop stops before sleeping again */
	pid = fork();
	if (pid == 0) {
		struct probe p = {.raise_at = 2};
		struct mv_err err;
		int rc;
		mv_signals_install(true);
		rc = mv_poll_until(mv_now_ms() + 3600000, 1, probe, &p, NULL, &err);
		_exit(rc == MV_POLL_INTERRUPTED && p.calls == 2 ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

static int
slow_probe(void *arg, char **state, struct mv_err *err)
{
	long *until = arg;

	(void)err;
	*state = strdup("PROVISIONING");
	return mv_now_ms() >= *until;
}

/* A wait longer than a second draws "LABEL STATE (Ns)" on a terminal
 * (stderr on a pseudo-terminal here); a shorter one draws nothing. */
static void
test_progress_on_a_terminal(void **state)
{
	int master = posix_openpt(O_RDWR | O_NOCTTY), st;
	char buf[4096];
	ssize_t n, got = 0;
	pid_t pid;

	(void)state;
	assert_true(master >= 0);
	assert_int_equal(grantpt(master), 0);
	assert_int_equal(unlockpt(master), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int slave = open(ptsname(master), O_RDWR | O_NOCTTY);
		struct mv_err err;
		long until = mv_now_ms() + 1500;
		if (slave < 0 || dup2(slave, 2) < 0)
			_exit(2);
		fputs("[short]", stderr);
		until = mv_now_ms() + 100;
		if (mv_poll_until(until + 5000, 10, slow_probe, &until, "quick:",
		                  &err) != 0)
			_exit(3);
		fputs("[long]", stderr);
		until = mv_now_ms() + 1500;
		_exit(mv_poll_until(until + 5000, 50, slow_probe, &until,
		                    "clusters:", &err) == 0 ? 0 : 4);
	}
	for (;;) {
		n = read(master, buf + got, sizeof(buf) - 1 - (size_t)got);
		if (n <= 0 || (got += n) >= (ssize_t)sizeof(buf) - 1)
			break;
		if (waitpid(pid, &st, WNOHANG) == pid) {
			/* drain what is left, then stop */
			while ((n = read(master, buf + got,
			                 sizeof(buf) - 1 - (size_t)got)) > 0)
				got += n;
			pid = 0;
			break;
		}
	}
	buf[got] = '\0';
	if (pid != 0)
		waitpid(pid, &st, 0);
	close(master);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	assert_contains(buf, "[short][long]");
	assert_null(strstr(buf, "quick:"));
	assert_contains(buf, "clusters:");
	assert_contains(buf, "PROVISIONING (1s)");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_done_and_failed),
		cmocka_unit_test(test_deadline),
		cmocka_unit_test(test_interrupt),
		cmocka_unit_test(test_progress_on_a_terminal),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
