/* test_plan.c - the step engine's ordering and the state file (intent,
 * resume records, lock). */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cluster/plan.h"
#include "cluster/state.h"
#include "cluster/step.h"
#include "cluster/kube.h"
#include "cluster/kubeconfig.h"
#include "core/http.h"
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

/*--- the engine over a table a test gives ----------------------------------*/

static int calls_check, calls_apply, calls_destroy;

/* A new step: this much and one row in a table is all it takes. */
static int
empty_check(struct plan_ctx *ctx, struct step_check *out, struct mv_err *err)
{
	(void)ctx;
	(void)err;
	calls_check++;
	if (calls_apply == 0)
		step_action(out, "make nothing");
	return 0;
}

static int
empty_apply(struct plan_ctx *ctx, struct mv_err *err)
{
	json_t *rec = step_record_put(ctx, "empty", NULL, "nothing");

	calls_apply++;
	step_record_created(rec);
	return mv_state_save(ctx->state, err);
}

static int
empty_destroy(struct plan_ctx *ctx, struct mv_err *err)
{
	calls_destroy++;
	mv_state_del(ctx->state, "empty/nothing");
	return mv_state_save(ctx->state, err);
}

static int
empty_status(struct plan_ctx *ctx, json_t *rows, struct mv_err *err)
{
	(void)err;
	json_array_append_new(rows, json_pack(
		"{s:s,s:s,s:s}", "kind", "empty", "name", "nothing", "status",
		step_record_get(ctx, "empty", NULL, "nothing") ? "PRESENT" : "ABSENT"));
	return 0;
}

static const struct plan_step step_empty = {
	.name = "empty",
	.summary = "a step that makes nothing",
	.after = (const char *const[]){"clusters", NULL},
	.check = empty_check,
	.apply = empty_apply,
	.destroy = empty_destroy,
	.status = empty_status,
};

/* A step whose drift `up` cannot fix (like a cluster's machine type). */
static int
stuck_check(struct plan_ctx *ctx, struct step_check *out, struct mv_err *err)
{
	(void)ctx;
	(void)err;
	step_drift(out, "machine type is e2-small, config says n1-standard-4");
	return 0;
}

static int
noop(struct plan_ctx *ctx, struct mv_err *err)
{
	(void)ctx;
	(void)err;
	return 0;
}

static int
done_check(struct plan_ctx *ctx, struct step_check *out, struct mv_err *err)
{
	(void)ctx;
	(void)out;
	(void)err;
	return 0;
}

static const struct plan_step step_stuck = {
	.name = "stuck", .summary = "", .after = (const char *const[]){NULL},
	.check = stuck_check, .apply = noop, .destroy = noop};
static const struct plan_step step_base = {
	.name = "clusters", .summary = "", .after = (const char *const[]){NULL},
	.check = done_check, .apply = noop, .destroy = noop};

/* The observer sees each step begin and end, in order, for up and down
 * (`meshvm rehearse` splits the journal there). */
static void
record_event(void *arg, const char *verb, const char *name, bool begin,
             int rc)
{
	char *log = arg;
	size_t n = strlen(log);

	snprintf(log + n, 512 - n, "%s %s %s %d;", verb, name,
	         begin ? "begin" : "end", rc);
}

static int
failing_apply(struct plan_ctx *ctx, struct mv_err *err)
{
	(void)ctx;
	return mv_err_set(err, MV_EXIT_CLOUD, "no");
}

static int
todo_check(struct plan_ctx *ctx, struct step_check *out, struct mv_err *err)
{
	(void)ctx;
	(void)err;
	step_action(out, "fail");
	return 0;
}

static void
test_observer_sees_step_boundaries(void **state)
{
	const struct plan_step step_fail = {
		.name = "fail", .summary = "",
		.after = (const char *const[]){"clusters", NULL},
		.check = todo_check, .apply = failing_apply, .destroy = noop};
	char *d = tu_tmpdir(), log[512] = "";
	const struct plan_step *table[] = {&step_base, &step_fail};
	struct plan_observer obs = {record_event, log};
	struct plan_ctx ctx = {0};
	struct mv_err err;
	json_t *report = NULL;

	(void)state;
	mv_err_clear(&err);
	assert_int_equal(mv_state_open(d, true, &ctx.state, &err), 0);
	ctx.steps = table;
	ctx.n_steps = 2;
	plan_set_observer(&obs);
	/* plan (checks only) is not observed */
	assert_int_equal(plan_check_all(&ctx, NULL, &report, &err), 0);
	json_decref(report);
	assert_string_equal(log, "");
	assert_int_equal(plan_up(&ctx, "clusters", &report, &err), 0);
	json_decref(report);
	assert_string_equal(log, "up clusters begin 0;up clusters end 0;");
	log[0] = '\0';
	assert_int_not_equal(plan_up(&ctx, NULL, &report, &err), 0);
	json_decref(report);
	mv_err_free(&err);
	assert_string_equal(log, "up clusters begin 0;up clusters end 0;"
	                         "up fail begin 0;up fail end -1;");
	log[0] = '\0';
	assert_int_equal(plan_down(&ctx, &err), 0);
	assert_string_equal(log, "down fail begin 0;down fail end 0;"
	                         "down clusters begin 0;down clusters end 0;");
	plan_set_observer(NULL);
	log[0] = '\0';
	assert_int_equal(plan_down(&ctx, &err), 0);
	assert_string_equal(log, "");
	plan_ctx_release(&ctx);
	mv_state_close(ctx.state);
	tu_rmrf(d);
	free(d);
}

static void
test_step_from_a_table(void **state)
{
	char *d = tu_tmpdir();
	const struct plan_step *table[] = {&step_empty, &step_base};
	struct plan_ctx ctx = {0};
	struct mv_err err;
	json_t *report = NULL, *row;

	(void)state;
	assert_int_equal(mv_state_open(d, true, &ctx.state, &err), 0);
	ctx.steps = table;
	ctx.n_steps = 2;
	/* plan: sorted by `after`, the new step to do */
	assert_int_equal(plan_check_all(&ctx, NULL, &report, &err), 0);
	row = json_array_get(json_object_get(report, "steps"), 1);
	assert_string_equal(json_string_value(json_object_get(row, "name")), "empty");
	assert_string_equal(json_string_value(json_object_get(row, "state")), "to do");
	json_decref(report);
	/* up --until a step of the table */
	assert_int_equal(plan_up(&ctx, "empty", &report, &err), 0);
	assert_int_equal(calls_apply, 1);
	row = json_array_get(json_object_get(report, "steps"), 1);
	assert_true(json_is_true(json_object_get(row, "applied")));
	json_decref(report);
	assert_int_equal(plan_up(&ctx, "nope", &report, &err), -1);
	assert_int_equal(err.exit_code, MV_EXIT_USAGE);
	json_decref(report);
	/* status: what each step reports */
	assert_int_equal(plan_status(&ctx, &report, &err), 0);
	row = json_array_get(json_object_get(report, "steps"), 0);
	assert_string_equal(json_string_value(json_object_get(row, "name")), "empty");
	assert_string_equal(json_string_value(json_object_get(
		json_array_get(json_object_get(row, "resources"), 0), "status")),
		"PRESENT");
	json_decref(report);
	/* down: reverse order, every record gone */
	assert_int_equal(plan_down(&ctx, &err), 0);
	assert_int_equal(calls_destroy, 1);
	assert_int_equal(json_object_size(mv_state_resources(ctx.state)), 0);
	plan_ctx_release(&ctx);
	mv_state_close(ctx.state);
	tu_rmrf(d);
	free(d);
}

static void
test_drift_not_fixed_and_down_leftovers(void **state)
{
	char *d = tu_tmpdir();
	const struct plan_step *table[] = {&step_stuck};
	struct plan_ctx ctx = {0};
	struct mv_err err;
	json_t *report = NULL, *row;

	(void)state;
	assert_int_equal(mv_state_open(d, true, &ctx.state, &err), 0);
	ctx.steps = table;
	ctx.n_steps = 1;
	assert_int_equal(plan_up(&ctx, NULL, &report, &err), 0);
	row = json_array_get(json_object_get(report, "steps"), 0);
	/* not "applied": drifted, and why */
	assert_null(json_object_get(row, "applied"));
	assert_string_equal(json_string_value(json_object_get(row, "state")),
	                    "drifted");
	assert_contains(json_string_value(json_array_get(
		json_object_get(row, "not_fixed"), 0)), "machine type is e2-small");
	json_decref(report);
	/* a record no step deletes: down is not done */
	json_t *rec = mv_state_put(ctx.state, "vm/istio-gce", "vm");
	mv_state_set_str(rec, "name", "istio-gce");
	assert_int_equal(plan_down(&ctx, &err), -1);
	assert_contains(err.msg, "down left 1 recorded resource");
	assert_contains(err.msg, "vm/istio-gce");
	mv_state_close(ctx.state);
	tu_rmrf(d);
	free(d);
}

static void
test_records_and_progress_line(void **state)
{
	const char *names[12], *states[12];
	char name[61], status[301], *line;
	char *d = tu_tmpdir();
	struct plan_ctx ctx = {0};
	struct mv_err err;
	json_t *rec;

	(void)state;
	/* 12 clusters with 60-character names and a 300-character status:
	 * the whole line, no overflow (ASan, valgrind) */
	memset(name, 'n', 60);
	name[60] = '\0';
	memset(status, 'S', 300);
	status[300] = '\0';
	for (size_t i = 0; i < 12; i++) {
		names[i] = name;
		states[i] = status;
	}
	line = step_progress_line(12, names, states);
	assert_int_equal(strlen(line), 12 * (60 + 1 + 300) + 11 * 2);
	assert_int_equal(strncmp(line + 61, status, 300), 0);
	free(line);
	states[3] = NULL;
	line = step_progress_line(12, names, states);
	assert_int_equal(strlen(line), 11 * (60 + 1 + 300) + 61 + 11 * 2);
	free(line);
	line = step_progress_line(0, names, states);
	assert_string_equal(line, "");
	free(line);

	assert_int_equal(mv_state_open(d, true, &ctx.state, &err), 0);
	rec = step_record_put(&ctx, "cluster", "us-west1-b", "cluster1");
	assert_ptr_equal(mv_state_get(ctx.state, "cluster/us-west1-b/cluster1"),
	                 rec);
	assert_string_equal(mv_state_str(rec, "zone"), "us-west1-b");
	assert_string_equal(mv_state_str(rec, "kind"), "cluster");
	assert_true(step_record_is("cluster/us-west1-b/cluster1", rec, "cluster"));
	assert_false(step_record_is("cluster/x", rec, "firewall"));
	/* a record without kind (older state) by its key */
	json_t *bare = json_object();
	assert_true(step_record_is("firewall/a", bare, "firewall"));
	json_decref(bare);
	assert_false(step_record_is("firewalls/a", NULL, "firewall"));
	mv_state_set_str(rec, "operation", "op-1");
	step_record_created(rec);
	assert_null(mv_state_str(rec, "operation"));
	assert_string_equal(mv_state_str(rec, "phase"), "created");
	assert_true(step_ours(&ctx, mv_state_id(ctx.state)));
	assert_false(step_ours(&ctx, NULL));
	assert_false(step_ours(&ctx, "mv-000000000000"));
	/* deadlines: a fake's minute under MESHVM_TIMING=fast */
	ctx.fast = true;
	assert_true(step_deadline(&ctx, 45L * 60 * 1000) - mv_now_ms() <= 60000);
	ctx.fast = false;
	assert_true(step_deadline(&ctx, 45L * 60 * 1000) - mv_now_ms() > 60000);
	/* adopting an id: only a label value */
	assert_int_equal(mv_state_set_id(ctx.state, "mv-0123456789ab", &err), 0);
	assert_string_equal(mv_state_id(ctx.state), "mv-0123456789ab");
	assert_int_equal(mv_state_set_id(ctx.state, "BAD id", &err), -1);
	char uuid[37];
	assert_int_equal(step_uuid(uuid, &err), 0);
	assert_int_equal(strlen(uuid), 36);
	assert_int_equal(uuid[14], '4');
	mv_state_close(ctx.state);
	tu_rmrf(d);
	free(d);
}

/* A Kubernetes step asks the context for its cluster's client: made once
 * from .meshvm/kubeconfig, kept until plan_ctx_release. */
static void
test_kube_client_per_cluster(void **state)
{
	char *d = tu_tmpdir(), *kc_path;
	struct mv_cluster_config cl[2] = {
		{.name = "cluster1", .zone = "us-west1-b"},
		{.name = "cluster2", .zone = "us-east1-b"}};
	struct mv_config cfg = {.project = "p", .clusters = cl, .n_clusters = 2};
	struct gcp g = {.http = mv_http_new(NULL)};
	struct plan_ctx ctx = {.cfg = &cfg, .gcp = &g};
	struct kube *k1 = NULL, *k2 = NULL, *again = NULL;
	struct mv_err err;
	json_t *kc = kubeconfig_new();

	(void)state;
	assert_int_equal(mv_state_open(d, true, &ctx.state, &err), 0);
	/* no kubeconfig yet: the error names the cluster */
	assert_int_equal(step_kube(&ctx, &cl[0], &k1, &err), -1);
	assert_contains(err.msg, "cluster cluster1");
	kubeconfig_add_cluster(kc, "gke_p_us-west1-b_cluster1", "127.0.0.1:1",
	                       NULL, "tok1");
	kubeconfig_add_cluster(kc, "gke_p_us-east1-b_cluster2", "127.0.0.1:2",
	                       NULL, "tok2");
	kc_path = step_kubeconfig_path(&ctx);
	assert_int_equal(kubeconfig_write(kc_path, kc, &err), 0);
	assert_int_equal(step_kube(&ctx, &cl[0], &k1, &err), 0);
	assert_int_equal(step_kube(&ctx, &cl[1], &k2, &err), 0);
	assert_int_equal(step_kube(&ctx, &cl[0], &again, &err), 0);
	assert_ptr_equal(k1, again);
	assert_ptr_not_equal(k1, k2);
	assert_string_equal(kube_target_of(k2)->context, "gke_p_us-east1-b_cluster2");
	plan_ctx_release(&ctx);
	assert_null(ctx.kubes);
	plan_ctx_release(&ctx); /* twice is harmless */
	json_decref(kc);
	free(kc_path);
	mv_http_free(g.http);
	mv_state_close(ctx.state);
	tu_rmrf(d);
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
		cmocka_unit_test(test_step_from_a_table),
		cmocka_unit_test(test_observer_sees_step_boundaries),
		cmocka_unit_test(test_drift_not_fixed_and_down_leftovers),
		cmocka_unit_test(test_records_and_progress_line),
		cmocka_unit_test(test_kube_client_per_cluster),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
