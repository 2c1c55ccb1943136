/* test_unpack_interrupt.c - `bundle unpack` killed part-way, and out of
 * space: a real meshvm process unpacks a generated bundle fed through a
 * FIFO, so the test decides exactly when it is mid-write. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bake/bundle.h"
#include "forge.h"
#include "testutil.h"

#define BIG (8u << 20)

static char *dir, *bundle, *bytes;
static size_t n_bytes;

static int
setup(void **state)
{
	struct forge_entry e = {.path = "units/big.service"};
	char *data = malloc(BIG + 1);

	(void)state;
	dir = tu_tmpdir();
	bundle = tu_fmt("%s/big.bundle", dir);
	for (size_t i = 0; i < BIG; i++)
		data[i] = (char)('a' + i % 26);
	data[BIG] = '\0';
	e.data = data;
	memset(&forge_opts, 0, sizeof(forge_opts));
	forge_bundle(bundle, "none", &e, 1);
	free(data);
	bytes = tu_read(bundle, &n_bytes);
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	tu_rmrf(dir);
	free(dir);
	free(bundle);
	free(bytes);
	return 0;
}

/* Start `meshvm bundle unpack FIFO --dest dest`; feed it half the bundle
 * and wait until its staging tree holds part of the big file. Returns the
 * pid; *wfd is the FIFO's write end (still open). */
static pid_t
start_midway(const char *dest, int *wfd)
{
	char *fifo = tu_fmt("%s/fifo", dir), *o = NULL;
	bool partial = false;
	pid_t pid;

	unlink(fifo);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);
		dup2(null, 1);
		dup2(null, 2);
		execl(tu_bin(), "meshvm", "bundle", "unpack", fifo, "--dest", dest,
		      (char *)NULL);
		_exit(127);
	}
	*wfd = open(fifo, O_WRONLY);
	assert_true(*wfd >= 0);
	assert_int_equal(write(*wfd, bytes, n_bytes / 2), (ssize_t)(n_bytes / 2));
	/* The pipe holds at most 64 KiB: most of the half is consumed. Wait
	 * (bounded) for the partial file to show in the staging tree. */
	for (int i = 0; i < 1000 && !partial; i++) {
		free(o);
		o = NULL;
		tu_sh(&o, "find '%s' -path '*/.meshvm-unpack-*/units/big.service' "
		          "-size +1k", dest);
		partial = o != NULL && strstr(o, "big.service") != NULL;
		if (!partial)
			usleep(10000);
	}
	assert_true(partial);
	free(o);
	free(fifo);
	return pid;
}

static void
interrupt(int sig, bool dest_exists)
{
	char *dest = tu_fmt("%s/dest", dir);
	int wfd, st;
	pid_t pid;

	tu_rmrf(dest);
	if (dest_exists)
		assert_int_equal(mkdir(dest, 0755), 0);
	pid = start_midway(dest, &wfd);
	assert_int_equal(kill(pid, sig), 0);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	close(wfd);
	assert_true(WIFSIGNALED(st)); /* killed, not finished */
	assert_int_equal(WTERMSIG(st), sig);
	if (dest_exists)
		assert_int_equal(tu_dir_count(dest), 0); /* nothing new */
	else
		assert_false(tu_exists(dest));
	tu_rmrf(dest);
	free(dest);
}

static void
test_sigterm_sigint_clean_up(void **state)
{
	(void)state;
	interrupt(SIGTERM, false);
	interrupt(SIGTERM, true);
	interrupt(SIGINT, false);
	interrupt(SIGINT, true);
}

/* kill -9 leaves the staging tree; the next unpack recognises it (name
 * and marker, its process gone) and removes it. */
static void
test_killed_run_cleaned_by_next(void **state)
{
	char *dest = tu_fmt("%s/dest9", dir), *o = NULL;
	int wfd, st;
	pid_t pid;

	(void)state;
	tu_rmrf(dest);
	pid = start_midway(dest, &wfd);
	assert_int_equal(kill(pid, SIGKILL), 0);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	close(wfd);
	assert_int_equal(tu_dir_count(dest), 1); /* the stale staging tree */
	assert_int_equal(tu_sh(&o, "cat '%s'/.meshvm-unpack-*/.meshvm-unpack",
	                       dest), 0);
	assert_contains(o, "meshvm unpack ");
	free(o);
	assert_int_equal(tu_sh(&o, "'%s' bundle unpack '%s' --dest '%s'",
	                       tu_bin(), bundle, dest), 0);
	free(o);
	assert_int_equal(tu_dir_count(dest), 5); /* 2 files, 3 directories */
	assert_int_equal(tu_sh(&o, "ls -A '%s'", dest), 0);
	assert_null(strstr(o, ".meshvm-unpack"));
	free(o);
	tu_rmrf(dest);
	free(dest);
}

/* What is not ours, or is a live unpack's, is never removed. */
static void
test_foreign_or_live_staging_kept(void **state)
{
	char *dest = tu_fmt("%s/dest-live", dir), *o = NULL;
	char *st = tu_fmt("%s/.meshvm-unpack-abcdef", dest);
	char *marker = tu_fmt("%s/.meshvm-unpack", st);
	char *line = tu_fmt("meshvm unpack %ld\n", (long)getpid());

	(void)state;
	assert_int_equal(mkdir(dest, 0755), 0);
	assert_int_equal(mkdir(st, 0755), 0);
	/* no marker: someone else's directory */
	assert_int_equal(tu_sh(&o, "'%s' bundle unpack '%s' --dest '%s'",
	                       tu_bin(), bundle, dest), 1);
	assert_contains(o, "destination is not empty");
	free(o);
	assert_true(tu_exists(st));
	/* a marker naming a live process (this test) */
	tu_write(marker, line);
	assert_int_equal(tu_sh(&o, "'%s' bundle unpack '%s' --dest '%s'",
	                       tu_bin(), bundle, dest), 1);
	assert_contains(o, "another unpack");
	free(o);
	assert_true(tu_exists(marker));
	tu_rmrf(dest);
	free(dest);
	free(st);
	free(marker);
	free(line);
}

/* Write errors name the file and the errno text: EFBIG through
 * RLIMIT_FSIZE anywhere; a real ENOSPC where we may mount a small tmpfs
 * (root, private mount namespace), filled up after the free-space check
 * passed. */
static void
test_write_errors_named(void **state)
{
	char *dest = tu_fmt("%s/dest-fsize", dir), *o = NULL;
	char *mnt = tu_fmt("%s/mnt", dir), *fifo = tu_fmt("%s/fifo-nospc", dir);
	int rc;

	(void)state;
	tu_rmrf(dest);
	rc = tu_sh(&o, "trap '' XFSZ; ulimit -f 2048; '%s' bundle unpack '%s' "
	               "--dest '%s'", tu_bin(), bundle, dest);
	assert_int_equal(rc, 1);
	assert_contains(o, "units/big.service: write: File too large");
	assert_false(tu_exists(dest));
	free(o);

	if (geteuid() != 0 || tu_sh(NULL, "unshare -m true") != 0) {
		print_message("ENOSPC case skipped: needs root and unshare -m\n");
	} else {
		assert_int_equal(mkdir(mnt, 0755), 0);
		assert_int_equal(mkfifo(fifo, 0600), 0);
		rc = tu_sh(&o,
			"unshare -m sh -c '"
			"set -u; mount -t tmpfs -o size=12m meshvm-test \"$1\" || exit 77; "
			"\"$2\" bundle unpack \"$3\" --dest \"$1/d\" 2>\"$1/err\" & pid=$!; "
			"exec 3>\"$3\"; head -c 1048576 \"$4\" >&3; "
			"head -c 11m /dev/zero > \"$1/filler\" 2>/dev/null; "
			"tail -c +1048577 \"$4\" >&3 2>/dev/null; exec 3>&-; "
			"wait $pid; echo \"exit=$?\"; cat \"$1/err\"; ls -A \"$1\"' "
			"sh '%s' '%s' '%s' '%s'", mnt, tu_bin(), fifo, bundle);
		if (strstr(o, "exit=") == NULL) {
			print_message("ENOSPC case skipped: cannot mount tmpfs: %s\n", o);
		} else {
			assert_contains(o, "exit=1");
			assert_contains(o, "units/big.service: write: No space left on "
			                   "device");
			assert_null(strstr(o, "\nd\n")); /* dest removed */
		}
		free(o);
	}
	free(dest);
	free(mnt);
	free(fifo);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sigterm_sigint_clean_up),
		cmocka_unit_test(test_killed_run_cleaned_by_next),
		cmocka_unit_test(test_foreign_or_live_staging_kept),
		cmocka_unit_test(test_write_errors_named),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
