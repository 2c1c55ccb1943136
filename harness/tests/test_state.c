/* harness/tests/test_state.c - cluster/state: readers take no lock and see
 * who holds it; the state directory and the lock file are never reached
 * through a symlink. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cluster/state.h"
#include "testutil.h"

/* A child that holds the state's lock (as `up` does) until told to go. */
struct holder {
	pid_t pid;
	int go[2];
};

static void
hold_lock(const char *dir, struct holder *h)
{
	int ready[2];
	char c;

	assert_int_equal(pipe(ready), 0);
	assert_int_equal(pipe(h->go), 0);
	h->pid = fork();
	assert_true(h->pid >= 0);
	if (h->pid == 0) {
		struct mv_state *st = NULL;
		struct mv_err err;
		json_t *rec;
		if (mv_state_open(dir, true, &st, &err) != 0)
			_exit(1);
		rec = mv_state_put(st, "cluster/c1", "cluster");
		mv_state_set_str(rec, "phase", "intent");
		if (mv_state_save(st, &err) != 0)
			_exit(2);
		(void)!write(ready[1], "x", 1);
		(void)!read(h->go[0], &c, 1);
		mv_state_close(st);
		_exit(0);
	}
	assert_int_equal(read(ready[0], &c, 1), 1);
	close(ready[0]);
	close(ready[1]);
}

static void
release(struct holder *h)
{
	int status;

	(void)!write(h->go[1], "x", 1);
	assert_int_equal(waitpid(h->pid, &status, 0), h->pid);
	assert_int_equal(WEXITSTATUS(status), 0);
	close(h->go[0]);
	close(h->go[1]);
}

static void
test_reader_while_up_runs(void **state)
{
	char *d = tu_tmpdir();
	struct mv_state *st = NULL;
	struct mv_err err;
	struct holder h;

	(void)state;
	mv_err_clear(&err);
	/* nothing yet: an empty state, no directory made, nobody busy */
	assert_int_equal(mv_state_open_readonly(d, &st, &err), 0);
	assert_int_equal(mv_state_busy_pid(st), 0);
	assert_int_equal(json_object_size(mv_state_resources(st)), 0);
	mv_state_close(st);
	assert_int_equal(tu_dir_count(d), 0);

	hold_lock(d, &h);
	/* a writer is refused, naming the holder ... */
	assert_int_equal(mv_state_open(d, false, &st, &err), -1);
	assert_contains(err.msg, "another meshvm run holds the lock");
	/* ... a reader is not: it sees the saved state and the holder */
	assert_int_equal(mv_state_open_readonly(d, &st, &err), 0);
	assert_int_equal(mv_state_busy_pid(st), h.pid);
	assert_non_null(mv_state_get(st, "cluster/c1"));
	assert_int_equal(mv_state_save(st, &err), 0); /* a no-op */
	mv_state_close(st);
	/* the reader's probe did not disturb the holder */
	release(&h);
	assert_int_equal(mv_state_open_readonly(d, &st, &err), 0);
	assert_int_equal(mv_state_busy_pid(st), 0);
	mv_state_close(st);
	/* nor does a reader keep a writer out */
	assert_int_equal(mv_state_open(d, true, &st, &err), 0);
	mv_state_close(st);
	tu_rmrf(d);
	free(d);
}

static void
test_state_dir_symlink_refused(void **state)
{
	char *d = tu_tmpdir(), *elsewhere = tu_tmpdir();
	char *link = tu_fmt("%s/.meshvm", d);
	struct mv_state *st = NULL;
	struct mv_err err;

	(void)state;
	assert_int_equal(symlink(elsewhere, link), 0);
	assert_int_equal(mv_state_open(d, true, &st, &err), -1);
	assert_contains(err.msg, "symlink");
	assert_int_equal(mv_state_open_readonly(d, &st, &err), -1);
	assert_int_equal(tu_dir_count(elsewhere), 0); /* nothing written there */
	/* a file where the directory should be */
	assert_int_equal(unlink(link), 0);
	tu_write(link, "x");
	assert_int_equal(mv_state_open(d, true, &st, &err), -1);
	assert_contains(err.msg, "not a directory");
	tu_rmrf(d);
	tu_rmrf(elsewhere);
	free(d);
	free(elsewhere);
	free(link);
}

static void
test_lock_symlink_not_followed(void **state)
{
	char *d = tu_tmpdir(), *dir = tu_fmt("%s/.meshvm", d);
	char *lock = tu_fmt("%s/lock", dir), *target = tu_fmt("%s/victim", d);
	struct mv_state *st = NULL;
	struct mv_err err;

	(void)state;
	assert_int_equal(mkdir(dir, 0700), 0);
	assert_int_equal(symlink(target, lock), 0);
	assert_int_equal(mv_state_open(d, true, &st, &err), -1);
	assert_contains(err.msg, "lock");
	assert_false(tu_exists(target)); /* O_NOFOLLOW: not created */
	tu_rmrf(d);
	free(d);
	free(dir);
	free(lock);
	free(target);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reader_while_up_runs),
		cmocka_unit_test(test_state_dir_symlink_refused),
		cmocka_unit_test(test_lock_symlink_not_followed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
