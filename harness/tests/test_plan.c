/* test_plan.c - the step engine's ordering and the state file (intent,
 * resume records, lock). */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cluster/plan.h"
#include "cluster/state.h"
#include "testutil.h"

#define STEP(n, ...) \
	static const struct plan_step n = {.name = #n, .summary = "", \
	                                   .after = (const char *const[]){__VA_ARGS__}}
STEP(clusters, NULL);
STEP(firewall, "clusters", NULL);
STEP(mesh_ca, "clusters", NULL);
STEP(istio, "mesh_ca", "firewall", NULL);
STEP(app, "istio", NULL);
STEP(cyc_a, "cyc_b", NULL);
STEP(cyc_b, "cyc_a", NULL);
STEP(orphan, "nothere", NULL);

static size_t
pos(const struct plan_step **out, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(out[i]->name, name))
			return i;
	fail_msg("%s not placed", name);
	return 0;
}

static void
test_sort(void **state)
{
	const struct plan_step *in[] = {&app, &istio, &firewall, &mesh_ca,
	                                &clusters};
	const struct plan_step *out[5];
	struct mv_err err;

	(void)state;
	assert_int_equal(plan_sort(in, 5, out, &err), 0);
	assert_true(pos(out, 5, "clusters") < pos(out, 5, "firewall"));
	assert_true(pos(out, 5, "clusters") < pos(out, 5, "mesh_ca"));
	assert_true(pos(out, 5, "mesh_ca") < pos(out, 5, "istio"));
	assert_true(pos(out, 5, "firewall") < pos(out, 5, "istio"));
	assert_true(pos(out, 5, "istio") < pos(out, 5, "app"));
	/* stable: independent steps keep their given order */
	const struct plan_step *in2[] = {&clusters, &mesh_ca, &firewall};
	assert_int_equal(plan_sort(in2, 3, out, &err), 0);
	assert_string_equal(out[1]->name, "mesh_ca");
	assert_string_equal(out[2]->name, "firewall");
}

static void
test_sort_errors(void **state)
{
	const struct plan_step *cyc[] = {&cyc_a, &cyc_b};
	const struct plan_step *orph[] = {&orphan};
	const struct plan_step *out[2];
	struct mv_err err;

	(void)state;
	assert_int_equal(plan_sort(cyc, 2, out, &err), -1);
	assert_contains(err.msg, "cycle");
	assert_int_equal(plan_sort(orph, 1, out, &err), -1);
	assert_contains(err.msg, "step orphan needs unknown step nothere");
}

static void
test_registered_steps(void **state)
{
	size_t n;
	const struct plan_step *const *s = plan_steps(&n);

	(void)state;
	assert_true(n >= 2);
	assert_string_equal(s[0]->name, "clusters");
	assert_non_null(plan_find("firewall"));
	assert_null(plan_find("nope"));
	for (size_t i = 0; i < n; i++) {
		assert_non_null(s[i]->check);
		assert_non_null(s[i]->apply);
		assert_non_null(s[i]->destroy);
	}
}

static void
test_state_intent_roundtrip(void **state)
{
	char *d = tu_tmpdir(), *path = tu_fmt("%s/.meshvm/state.json", d);
	struct mv_state *st = NULL, *again = NULL;
	struct mv_err err;
	struct stat sb;
	json_t *rec;
	char id[32];

	(void)state;
	/* plan on a fresh directory: nothing is written */
	assert_int_equal(mv_state_open(d, false, &st, &err), 0);
	assert_false(mv_state_persistent(st));
	assert_int_equal(mv_state_save(st, &err), 0);
	assert_false(tu_exists(path));
	mv_state_close(st);
	/* up: intent recorded before the create goes out */
	assert_int_equal(mv_state_open(d, true, &st, &err), 0);
	assert_int_equal(strncmp(mv_state_id(st), "mv-", 3), 0);
	assert_int_equal(strlen(mv_state_id(st)), 15);
	snprintf(id, sizeof(id), "%s", mv_state_id(st));
	rec = mv_state_put(st, "cluster/cluster1", "cluster");
	mv_state_set_str(rec, "phase", "intent");
	assert_int_equal(mv_state_save(st, &err), 0);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	mv_state_set_str(rec, "operation", "operation-123");
	mv_state_set_str(rec, "phase", "pending");
	assert_int_equal(mv_state_save(st, &err), 0);
	/* a second run while this one holds the lock fails fast */
	assert_int_equal(mv_state_open(d, true, &again, &err), -1);
	assert_contains(err.msg, "another meshvm run holds the lock");
	assert_contains(err.msg, "pid ");
	mv_state_close(st);
	/* a resumed run sees the in-flight operation and the same id */
	assert_int_equal(mv_state_open(d, true, &st, &err), 0);
	assert_string_equal(mv_state_id(st), id);
	rec = mv_state_get(st, "cluster/cluster1");
	assert_string_equal(mv_state_str(rec, "operation"), "operation-123");
	assert_string_equal(mv_state_str(rec, "phase"), "pending");
	mv_state_del(st, "cluster/cluster1");
	assert_null(mv_state_get(st, "cluster/cluster1"));
	mv_state_close(st);
	tu_rmrf(d);
	free(path);
	free(d);
}

static void
test_state_lock_across_processes(void **state)
{
	char *d = tu_tmpdir();
	struct mv_state *st = NULL;
	struct mv_err err;
	int fds[2], status;
	pid_t pid;
	char c;

	(void)state;
	assert_int_equal(pipe(fds), 0);
	pid = fork();
	if (pid == 0) {
		struct mv_state *child = NULL;
		if (mv_state_open(d, true, &child, &err) != 0)
			_exit(1);
		(void)!write(fds[1], "x", 1);
		sleep(2);
		mv_state_close(child);
		_exit(0);
	}
	assert_int_equal(read(fds[0], &c, 1), 1);
	assert_int_equal(mv_state_open(d, true, &st, &err), -1);
	waitpid(pid, &status, 0);
	assert_int_equal(WEXITSTATUS(status), 0);
	/* released when the holder exits (even by kill -9: flock) */
	assert_int_equal(mv_state_open(d, true, &st, &err), 0);
	mv_state_close(st);
	close(fds[0]);
	close(fds[1]);
	tu_rmrf(d);
	free(d);
}

static void
test_corrupt_state_refused(void **state)
{
	char *d = tu_tmpdir(), *dir = tu_fmt("%s/.meshvm", d);
	char *path = tu_fmt("%s/state.json", dir);
	struct mv_state *st = NULL;
	struct mv_err err;

	(void)state;
	assert_int_equal(mkdir(dir, 0700), 0);
	tu_write(path, "{\"id\": 3,");
	assert_int_equal(mv_state_open(d, true, &st, &err), -1);
	assert_contains(err.msg, "state.json");
	assert_contains(err.msg, "restore it rather than delete it");
	tu_rmrf(d);
	free(path);
	free(dir);
	free(d);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sort),
		cmocka_unit_test(test_sort_errors),
		cmocka_unit_test(test_registered_steps),
		cmocka_unit_test(test_state_intent_roundtrip),
		cmocka_unit_test(test_state_lock_across_processes),
		cmocka_unit_test(test_corrupt_state_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
