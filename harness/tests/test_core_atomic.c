/* test_core_atomic.c - core/atomic: all or nothing, exact modes. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/atomic.h"
#include "testutil.h"

static void
check_write_replace(bool named)
{
	char *dir = tu_tmpdir(), *f = tu_fmt("%s/out", dir), *got;
	struct mv_err err;
	struct stat st;
	mode_t old = umask(077);

	mv_atomic_force_named(named);
	assert_int_equal(mv_write_file_atomic(f, "one", 3, 0644, &err), 0);
	assert_int_equal(stat(f, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644); /* umask did not apply */
	assert_int_equal(mv_write_file_atomic(f, "two!", 4, 0600, &err), 0);
	got = tu_read(f, NULL);
	assert_string_equal(got, "two!");
	assert_int_equal(stat(f, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(tu_dir_count(dir), 1); /* no temp left over */
	umask(old);
	mv_atomic_force_named(false);
	free(got);
	tu_rmrf(dir);
	free(f);
	free(dir);
}

static void
test_write_replace_tmpfile(void **state)
{
	(void)state;
	check_write_replace(false);
}

static void
test_write_replace_named(void **state)
{
	(void)state;
	check_write_replace(true);
}

static void
check_abort(bool named)
{
	char *dir = tu_tmpdir(), *f = tu_fmt("%s/out", dir);
	struct mv_atomic_file af;
	struct mv_err err;

	mv_atomic_force_named(named);
	assert_int_equal(mv_atomic_open(&af, f, 0644, &err), 0);
	assert_int_equal(write(af.fd, "partial", 7), 7);
	mv_atomic_abort(&af);
	assert_int_equal(tu_dir_count(dir), 0);
	mv_atomic_abort(&af); /* twice is harmless */
	mv_atomic_force_named(false);
	tu_rmrf(dir);
	free(f);
	free(dir);
}

static void
test_abort_leaves_nothing(void **state)
{
	(void)state;
	check_abort(false);
	check_abort(true);
}

static void
test_readonly_dir(void **state)
{
	char *dir = tu_tmpdir(), *ro = tu_fmt("%s/ro", dir);
	char *f = tu_fmt("%s/out", ro);
	struct mv_err err;

	(void)state;
	assert_int_equal(mkdir(ro, 0555), 0);
	if (geteuid() == 0) {
		/* root ignores modes; a read-only bind is not available here,
		 * so exercise a missing directory instead. */
		free(f);
		f = tu_fmt("%s/missing/out", dir);
	}
	mv_err_clear(&err);
	assert_int_equal(mv_write_file_atomic(f, "x", 1, 0644, &err), -1);
	assert_contains(err.msg, "out");
	assert_int_equal(tu_dir_count(ro), 0);
	tu_rmrf(dir);
	free(f);
	free(ro);
	free(dir);
}

/*--- -o outputs: never replace what is not a regular file ----------------*/

/* `path` exists as something special: every writer refuses it, names it,
 * and leaves it as it was. */
static void
expect_output_refused(const char *path, mode_t type, const char *what)
{
	struct mv_output o;
	struct mv_err err;
	struct stat st;

	mv_err_clear(&err);
	assert_int_equal(mv_output_open(&o, path, 0644, &err), -1);
	assert_contains(err.msg, path);
	assert_contains(err.msg, what);
	assert_int_equal(err.exit_code, MV_EXIT_FAIL);
	mv_err_clear(&err);
	assert_int_equal(mv_write_file_atomic(path, "x", 1, 0644, &err), -1);
	assert_contains(err.msg, what);
	mv_err_clear(&err);
	assert_int_equal(mv_output_write(path, "x", 1, 0644, &err), -1);
	assert_int_equal(lstat(path, &st), 0);
	assert_int_equal(st.st_mode & S_IFMT, type);
}

static void
test_output_refuses_special_files(void **state)
{
	char *dir = tu_tmpdir(), *fifo = tu_fmt("%s/fifo", dir);
	char *sub = tu_fmt("%s/sub", dir), *sock = tu_fmt("%s/sock", dir);
	char *dev = tu_fmt("%s/null", dir), *reg = tu_fmt("%s/reg", dir);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct mv_err err;
	int s;

	(void)state;
	assert_int_equal(mkfifo(fifo, 0644), 0);
	expect_output_refused(fifo, S_IFIFO, "is a FIFO, not a regular file");
	assert_int_equal(mkdir(sub, 0755), 0);
	expect_output_refused(sub, S_IFDIR, "is a directory");
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
	s = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(s >= 0);
	assert_int_equal(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
	expect_output_refused(sock, S_IFSOCK, "is a socket");
	close(s);
	/* A device node only where we may make one (root), in our temp dir:
	 * never a real /dev node. */
	if (geteuid() == 0 && mknod(dev, S_IFCHR | 0666, makedev(1, 3)) == 0)
		expect_output_refused(dev, S_IFCHR, "is a character device");
	/* A regular file is replaced, atomically as ever. */
	tu_write(reg, "old");
	mv_err_clear(&err);
	assert_int_equal(mv_output_write(reg, "new", 3, 0644, &err), 0);
	{
		char *got = tu_read(reg, NULL);
		assert_string_equal(got, "new");
		free(got);
	}
	tu_rmrf(dir);
	free(dir);
	free(fifo);
	free(sub);
	free(sock);
	free(dev);
	free(reg);
}

/* "-o -": the bytes reach standard output on commit, never before. */
static void
test_output_dash_is_stdout(void **state)
{
	char *dir = tu_tmpdir(), *cap = tu_fmt("%s/captured", dir), *got;
	pid_t pid;
	int status;

	(void)state;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct mv_output o;
		struct mv_err err;
		int fd = open(cap, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		struct stat st;
		if (fd < 0 || dup2(fd, STDOUT_FILENO) < 0)
			_exit(10);
		if (mv_output_open(&o, "-", 0644, &err) != 0)
			_exit(11);
		if (write(o.af.fd, "hello ", 6) != 6 ||
		    pwrite(o.af.fd, "J", 1, 0) != 1) /* writers may seek */
			_exit(12);
		if (fstat(STDOUT_FILENO, &st) != 0 || st.st_size != 0)
			_exit(13); /* nothing before commit */
		if (mv_output_commit(&o, &err) != 0)
			_exit(14);
		mv_output_abort(&o);
		if (mv_output_write("-", "world", 5, 0644, &err) != 0)
			_exit(15);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	got = tu_read(cap, NULL);
	assert_string_equal(got, "Jello world");
	free(got);
	tu_rmrf(dir);
	free(dir);
	free(cap);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_write_replace_tmpfile),
		cmocka_unit_test(test_write_replace_named),
		cmocka_unit_test(test_abort_leaves_nothing),
		cmocka_unit_test(test_readonly_dir),
		cmocka_unit_test(test_output_refuses_special_files),
		cmocka_unit_test(test_output_dash_is_stdout),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
