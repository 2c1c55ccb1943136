/* cli/cmd_rehearse.c - `meshvm rehearse`: the whole pipeline offline.
 *
 * Starts the fake Google Cloud + Kubernetes in this process, points the
 * real commands at it (MESHVM_GOOGLE_ENDPOINT) and runs them through
 * their command tables: up (every step), status, down.  Each plan step's
 * requests are the journal lines written between the plan observer's
 * begin and end (the fake writes a line before it answers, so the file's
 * size at a boundary splits the steps exactly).  Green only when every
 * command succeeded, no resource was created twice, and down left the
 * fake holding nothing. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/example.h"
#include "cli/rh_faults.h"
#include "cli/rh_journal.h"
#include "cli/rh_report.h"
#include "cli/rh_work.h"
#include "cluster/mesh_ca.h"
#include "cluster/plan.h"
#include "core/atomic.h"
#include "core/config.h"
#include "core/log.h"
#include "core/poll.h"
#include "core/util.h"
#include "core/xalloc.h"
#include "harness/fake/fake.h"

enum { O_FAULTS = 1, O_SEED, O_COUNT, O_REPORT, O_KEEP, O_TSPEED };

static const struct cli_option rehearse_options[] = {
	{.id = O_FAULTS, .lng = "faults", .arg = "PROFILE",
	 .help = "inject faults: flaky (10% 429/503/connection resets on every "
	         "API), slow-ops, quota, or a profile file (docs/fake.md)"},
	{.id = O_SEED, .lng = "seed", .arg = "N", .flags = CLI_INT, .min = 0,
	 .max = INT64_MAX, .help = "seed of the fault decisions (default 0)"},
	{.id = O_COUNT, .lng = "count", .arg = "N", .flags = CLI_INT, .min = 1,
	 .max = 64, .help = "VMs in the fleet (vm.count; default the config's)"},
	{.id = O_REPORT, .lng = "report", .arg = "DIR",
	 .help = "write report.json, journal.jsonl, rehearse.log, topology.svg "
	         "+ .dot and migration.svg there"},
	{.id = O_KEEP, .lng = "keep",
	 .help = "keep the working directory (config, state, journal) and say "
	         "where"},
	{.id = O_TSPEED, .lng = "traffic-speed", .arg = "N", .flags = CLI_INT,
	 .min = 1, .max = 10000,
	 .help = "the simulated traffic's clock, times real time (default 1000)"},
	CLI_OPT_JSON("print report.json on stdout instead of the table"),
	CLI_OPT_VERBOSE,
	CLI_OPT_HELP,
	{0}};

static int run_rehearse(struct cli_ctx *ctx, const struct cli_command *cmd,
                        int argc, char **argv);

const struct cli_command cli_cmd_rehearse = {
	.name = "rehearse",
	.summary = "the whole pipeline offline against the embedded fake",
	.description =
		"Rehearse the deployment offline: start the fake Google Cloud + "
		"Kubernetes in this process (launched VMs simulated: they run the "
		"real join script), run `up` (every step), `up` again (it must "
		"change nothing), `migrate` (every step), `status` and `down` "
		"against it, and print per step the wall time, requests, "
		"mutating requests, retries and injected faults (from the fake's "
		"journal). Needs no config: without -C it uses `init --example`'s "
		"config and artifacts in a temporary directory; with -C it uses "
		"that config (a copy, beside links to its directory's files), never "
		"its state. Operations finish at once and the traffic clock runs "
		"fast.",
	.options = rehearse_options,
	.epilog = "Exit codes: 0 everything converged (the second `up` sent "
	          "no mutating request), no resource was created twice and "
	          "`down` left the fake empty; 1 otherwise (the "
	          "message says which); 2 usage.",
	.run = run_rehearse,
};

/* Each migration step is held this long on the traffic clock. */
#define MIGRATE_INTERVAL_S 30

struct rh_row {
	char name[48];
	long from, to;   /* journal byte offsets */
	long start, end; /* mv_now_ms */
	int rc;
};

struct rh {
	struct cli_ctx cli;
	char *dir, *config, *journal, *log;
	int logfd;
	struct rh_row *rows;
	size_t n_rows;
	bool open; /* rows[n_rows - 1] has not ended */
};

static long
journal_size(const struct rh *r)
{
	struct stat st;

	return stat(r->journal, &st) == 0 ? (long)st.st_size : 0;
}

static void
row_end(struct rh *r, int rc)
{
	if (!r->open)
		return;
	r->rows[r->n_rows - 1].to = journal_size(r);
	r->rows[r->n_rows - 1].end = mv_now_ms();
	r->rows[r->n_rows - 1].rc = rc;
	r->open = false;
}

#define AFTER_STEPS "up (after the steps)"

static void
row_begin(struct rh *r, const char *name)
{
	/* the gap between two steps is a row only when it sent something */
	if (r->open && !strcmp(r->rows[r->n_rows - 1].name, AFTER_STEPS) &&
	    journal_size(r) == r->rows[r->n_rows - 1].from) {
		r->n_rows--;
		r->open = false;
	}
	row_end(r, 0);
	r->rows = mv_xreallocarray(r->rows, r->n_rows + 1, sizeof(*r->rows));
	memset(&r->rows[r->n_rows], 0, sizeof(r->rows[0]));
	snprintf(r->rows[r->n_rows].name, sizeof(r->rows[0].name), "%s", name);
	r->rows[r->n_rows].from = journal_size(r);
	r->rows[r->n_rows].start = mv_now_ms();
	r->n_rows++;
	r->open = true;
}

/* plan_up's steps become rows; down's steps stay in the `down` row. */
static void
on_step(void *arg, const char *verb, const char *name, bool begin, int rc)
{
	struct rh *r = arg;

	if (strcmp(verb, "up") != 0)
		return;
	if (begin) {
		row_begin(r, name);
	} else {
		row_end(r, rc);
		row_begin(r, AFTER_STEPS);
	}
}

/* One command through its table, its output into the log. */
static int
run_cmd(struct rh *r, const struct cli_command *cmd, const char *row,
        int argc, char **argv)
{
	int o1, o2, rc;

	fflush(stdout);
	fflush(stderr);
	dprintf(r->logfd, "\n$ meshvm -C %s", r->config);
	for (int i = 0; i < argc; i++)
		dprintf(r->logfd, " %s", argv[i]);
	dprintf(r->logfd, "\n");
	o1 = dup(STDOUT_FILENO);
	o2 = dup(STDERR_FILENO);
	dup2(r->logfd, STDOUT_FILENO);
	dup2(r->logfd, STDERR_FILENO);
	if (row != NULL)
		row_begin(r, row);
	rc = cmd->run(&r->cli, cmd, argc, argv);
	fflush(stdout);
	fflush(stderr);
	if (r->open && r->n_rows > 0 &&
	    journal_size(r) == r->rows[r->n_rows - 1].from &&
	    !strcmp(r->rows[r->n_rows - 1].name, AFTER_STEPS)) {
		r->n_rows--; /* nothing happened after the last step */
		r->open = false;
	}
	row_end(r, rc);
	dup2(o1, STDOUT_FILENO);
	dup2(o2, STDERR_FILENO);
	close(o1);
	close(o2);
	dprintf(r->logfd, "# exit %d\n", rc);
	return rc;
}

/* Our own CA with 2048-bit keys before `up` (RSA-4096 keys take seconds;
 * the rehearsal's CA is thrown away).  A config with mesh.ca_dir keeps
 * its own. */
static int
quick_ca(const struct mv_config *cfg, const char *const *names,
         struct mv_err *err)
{
	struct mesh_ca *ca = NULL;
	struct mesh_ca_opts o = {true, 2048, NULL};
	char *state, *dir;
	int rc = 0;

	if (cfg->mesh_.ca_dir != NULL)
		return 0;
	state = mv_xstrfmt("%s/.meshvm", cfg->dir);
	dir = mv_xstrfmt("%s/ca", state);
	if (mkdir(state, 0700) != 0 && errno != EEXIST)
		rc = mv_err_sys(err, errno, "%s", state);
	if (rc == 0)
		rc = mesh_ca_open(dir, names, cfg->n_clusters, &o, &ca, err);
	mesh_ca_free(ca);
	free(dir);
	free(state);
	return rc;
}

/* A built-in fault profile into the fake (and beside the journal). */
static int
set_faults(const struct rh *r, struct fake *f, const struct rh_profile *prof,
           const char *const *names, size_t n, struct mv_err *err)
{
	char *yaml = rh_profile_yaml(prof, names, n);
	char *path = mv_xstrfmt("%s/faults.yaml", r->dir);
	struct fake_response rs;
	int rc = mv_write_file_atomic(path, yaml, strlen(yaml), 0644, err);

	if (rc == 0 && (fake_handle(f, "gcp", "PUT", "/_fake/faults", NULL, 0,
	                            yaml, strlen(yaml), &rs) != 0 ||
	                rs.status != 200))
		rc = mv_err_set(err, MV_EXIT_FAIL, "--faults %s: the fake refused "
		                "it: %s", prof->name, rs.body ? rs.body : "");
	fake_response_free(&rs);
	free(path);
	free(yaml);
	return rc;
}

/* Once the fake listens: `migration:` at its Prometheus, the CA, the
 * built-in fault profile. */
static int
configure(const struct rh *r, struct fake *f, const char *faults,
          struct mv_err *err)
{
	const struct rh_profile *prof = faults ? rh_profile_find(faults) : NULL;
	struct mv_config *cfg = NULL;
	const char **names;
	int rc;

	if (mv_config_load(r->config, &cfg, err) != 0)
		return -1;
	names = mv_xcalloc(cfg->n_clusters + 1, sizeof(*names));
	for (size_t i = 0; i < cfg->n_clusters; i++)
		names[i] = cfg->clusters[i].name;
	rc = rh_work_set_migration(r->config, fake_url(f), names,
	                           cfg->n_clusters, MIGRATE_INTERVAL_S, err);
	if (rc == 0)
		rc = quick_ca(cfg, names, err);
	if (rc == 0 && prof != NULL)
		rc = set_faults(r, f, prof, names, cfg->n_clusters, err);
	free(names);
	mv_config_free(cfg);
	return rc;
}

struct run_opts {
	const char *faults, *report;
	long long seed;
	long count;
	int traffic_speed;
	bool keep;
};

static int
start_fake(struct rh *r, const struct run_opts *ro, struct fake **f,
           struct mv_err *err)
{
	const struct rh_profile *prof = ro->faults ? rh_profile_find(ro->faults)
	                                           : NULL;
	struct fake_options o;

	fake_options_init(&o);
	o.no_auth = true;
	o.journal_file = r->journal;
	o.journal_bodies = true;
	o.seed = (uint64_t)ro->seed;
	o.op_polls = prof ? prof->op_polls : 1;
	o.op_time_ms = prof ? prof->op_time_ms : 0;
	o.controller_delay_ms = 0;
	o.traffic_speed = ro->traffic_speed;
	o.boot_vms = true; /* launched VMs run the real join script */
	/* a VM keeps its slot while its sidecar runs: one per VM */
	o.boot_vms_max = ro->count > 4 ? (int)(ro->count < 64 ? ro->count : 64)
	                               : 4;
	/* LoadBalancer addresses the simulated VMs can reach (istiod's) */
	o.lb_range = "127.77.0.0/24";
	/* a built-in profile names the clusters: set once they are known */
	o.faults_file = prof == NULL ? ro->faults : NULL;
	return fake_new(&o, f, err) == 0 && fake_start(*f, err) == 0 ? 0 : -1;
}

/* The fake's whole state (new reference), through the control API. */
static json_t *
fake_state(struct fake *f)
{
	struct fake_response rs;
	json_t *doc = NULL;

	if (fake_handle(f, "gcp", "GET", "/_fake/state", NULL, 0, NULL, 0,
	                &rs) == 0 && rs.status == 200)
		doc = json_loadb(rs.body, rs.body_len, 0, NULL);
	fake_response_free(&rs);
	return doc;
}

/* The simulated VMs (harness/vmsim) run a stub sidecar that registers
 * with the fake's istiod; a real Istio package cannot run there.  It is
 * part of the embedded example tree. */
#define SIM_SIDECAR "bundle/artifacts/istio-sidecar-vmsim.deb"

static int
sim_sidecar(struct rh *r, struct mv_err *err)
{
	char *path = mv_xstrfmt("%s/rehearse-sidecar.deb", r->dir);
	int rc = -1;

	for (size_t i = 0; i < example_n_files; i++) {
		if (strcmp(example_files[i].path, SIM_SIDECAR) != 0)
			continue;
		rc = mv_write_file_atomic(path, example_files[i].data,
		                          example_files[i].len, 0644, err) == 0 &&
		             rh_work_set(r->config, "service", "sidecar", path,
		                         err) == 0
		     ? 0 : -1;
		break;
	}
	if (rc != 0 && err->msg[0] == '\0')
		mv_err_set(err, MV_EXIT_FAIL, "the simulated VMs' sidecar is not "
		           "in this build (%s)", SIM_SIDECAR);
	free(path);
	return rc;
}

static int
prepare(struct rh *r, const struct cli_ctx *ctx, const struct run_opts *ro,
        struct mv_err *err)
{
	if ((r->dir = rh_work_mkdtemp(err)) == NULL)
		return -1;
	r->journal = mv_xstrfmt("%s/journal.jsonl", r->dir);
	r->log = mv_xstrfmt("%s/rehearse.log", r->dir);
	r->logfd = open(r->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (r->logfd < 0)
		return mv_err_sys(err, errno, "%s", r->log);
	r->cli = *ctx;
	r->cli.json = false;
	r->cli.color = false;
	if (ctx->config_given) {
		if (rh_work_link_config(r->dir, ctx->config, &r->config, err) != 0)
			return -1;
	} else {
		char *argv[] = {"init", "--example", "-o", NULL, NULL};
		r->config = mv_xstrfmt("%s/meshvm.yaml", r->dir);
		argv[3] = r->config;
		if (run_cmd(r, &cli_cmd_init, NULL, 4, argv) != 0)
			return mv_err_set(err, MV_EXIT_FAIL, "init --example failed "
			                  "(see %s)", r->log);
	}
	r->cli.config = r->config;
	if (ro->count > 0) {
		char n[24];
		snprintf(n, sizeof(n), "%ld", ro->count);
		if (rh_work_set(r->config, "vm", "count", n, err) != 0)
			return -1;
	}
	return sim_sidecar(r, err);
}

static void
print_table(const json_t *report)
{
	json_t *rows = json_object_get(report, "steps"), *row, *t;
	size_t i;

	printf("%-22s %9s %9s %9s %8s %7s %9s\n", "step", "wall", "requests",
	       "mutating", "retries", "faults", "from VMs");
	json_array_foreach(rows, i, row)
		printf("%-22s %8.2fs %9lld %9lld %8lld %7lld %9lld%s\n",
		       json_string_value(json_object_get(row, "name")),
		       (double)json_integer_value(json_object_get(row, "wall_ms")) /
		               1000,
		       json_integer_value(json_object_get(row, "requests")),
		       json_integer_value(json_object_get(row, "mutating")),
		       json_integer_value(json_object_get(row, "retries")),
		       json_integer_value(json_object_get(row, "faults")),
		       json_integer_value(json_object_get(row, "vm_requests")),
		       json_integer_value(json_object_get(row, "exit")) ? "  FAILED"
		                                                         : "");
	t = json_object_get(report, "total");
	printf("%-22s %8.2fs %9lld %9lld %8lld %7lld %9lld\n", "total",
	       (double)json_integer_value(json_object_get(t, "wall_ms")) / 1000,
	       json_integer_value(json_object_get(t, "requests")),
	       json_integer_value(json_object_get(t, "mutating")),
	       json_integer_value(json_object_get(t, "retries")),
	       json_integer_value(json_object_get(t, "faults")),
	       json_integer_value(json_object_get(t, "vm_requests")));
}

/* The rows, totals and verdict (new reference). */
static json_t *
build_report(const struct rh *r, const struct run_opts *ro,
             const struct rh_journal *j, long wall_ms)
{
	json_t *rows = json_array(), *rep;
	struct rh_counts c, tot = {0};

	for (size_t i = 0; i < r->n_rows; i++) {
		const struct rh_row *w = &r->rows[i];
		rh_journal_count(j, w->from, w->to, &c);
		tot.requests += c.requests;
		tot.mutating += c.mutating;
		tot.retries += c.retries;
		tot.faults += c.faults;
		tot.others += c.others;
		/* between two steps only the VMs spoke: theirs go to the step
		 * before */
		if (!strcmp(w->name, AFTER_STEPS) && c.requests == 0 &&
		    json_array_size(rows) > 0) {
			json_t *prev = json_array_get(rows, json_array_size(rows) - 1);
			json_object_set_new(prev, "vm_requests", json_integer(
				json_integer_value(json_object_get(prev, "vm_requests")) +
				c.others));
			continue;
		}
		json_array_append_new(
			rows, json_pack("{s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:i}", "name",
			                w->name, "wall_ms", (json_int_t)(w->end - w->start),
			                "requests", (json_int_t)c.requests, "mutating",
			                (json_int_t)c.mutating, "retries",
			                (json_int_t)c.retries, "faults",
			                (json_int_t)c.faults, "vm_requests",
			                (json_int_t)c.others, "exit", w->rc));
	}
	rep = json_pack("{s:i,s:s?,s:I,s:I,s:o,s:{s:I,s:I,s:I,s:I,s:I,s:I}}",
	                "version", 1, "faults", ro->faults, "seed",
	                (json_int_t)ro->seed, "count", (json_int_t)ro->count,
	                "steps", rows, "total", "wall_ms", (json_int_t)wall_ms,
	                "requests", (json_int_t)tot.requests, "mutating",
	                (json_int_t)tot.mutating, "retries",
	                (json_int_t)tot.retries, "faults", (json_int_t)tot.faults,
	                "vm_requests", (json_int_t)tot.others);
	return rep;
}

/* The migration on the fake's traffic clock: from one interval before
 * `migrate` began to when it ended (none ran: no chart). */
static json_t *
migration(const struct rh *r, struct fake *f, const json_t *topo,
          int speed)
{
	long now = mv_now_ms();

	for (size_t i = 0; i < r->n_rows; i++)
		if (!strcmp(r->rows[i].name, "migrate") && r->rows[i].rc == 0)
			return rh_report_migration(
				f, topo, (now - r->rows[i].start) * speed / 1000 +
				                 MIGRATE_INTERVAL_S,
				(now - r->rows[i].end) * speed / 1000);
	return rh_report_migration(f, topo, 0, 0);
}

/* Creates that succeeded more than once, as a list (new reference). */
static json_t *
duplicates(const json_t *creates)
{
	json_t *out = json_array(), *v;
	const char *k;

	json_object_foreach((json_t *)creates, k, v)
		if (json_integer_value(v) > 1)
			json_array_append_new(out, json_string(k));
	return out;
}

static int
rehearse(struct rh *r, const struct run_opts *ro, json_t **out,
         struct mv_err *err)
{
	static char a_up[] = "up", a_status[] = "status", a_down[] = "down",
	            a_yes[] = "--yes";
	char *up[] = {a_up, NULL}, *status[] = {a_status, NULL},
	     *down[] = {a_down, a_yes, NULL};
	struct plan_observer obs = {on_step, r};
	struct rh_journal *j = NULL;
	struct fake *f = NULL;
	json_t *before = NULL, *after = NULL, *creates, *dups, *left, *rep;
	json_t *topo, *mig;
	long t0 = mv_now_ms();
	int rc_up, rc_rerun = -1, rc_migrate = -1, rc_status = -1, rc_down = -1;
	char speed[16], a_migrate[] = "migrate", a_speed[] = "--traffic-speed";
	char *migrate[] = {a_migrate, a_speed, speed, NULL};
	long rerun_mutating = -1;

	snprintf(speed, sizeof(speed), "%d", ro->traffic_speed);
	if (start_fake(r, ro, &f, err) != 0) {
		fake_free(f);
		return -1;
	}
	setenv("MESHVM_GOOGLE_ENDPOINT", fake_url(f), 1);
	setenv("GOOGLE_OAUTH_ACCESS_TOKEN", "rehearsal-token", 1);
	setenv("MESHVM_TIMING", "fast", 1);
	if (configure(r, f, ro->faults, err) != 0) {
		fake_stop(f, NULL);
		fake_free(f);
		return -1;
	}
	plan_set_observer(&obs);
	rc_up = run_cmd(r, &cli_cmd_up, "preflight", 1, up);
	/* converged: a second `up` finds every step done and mutates nothing */
	if (rc_up == 0) {
		plan_set_observer(NULL);
		rc_rerun = run_cmd(r, &cli_cmd_up, "up again (no change)", 1, up);
		plan_set_observer(&obs);
	}
	if (rc_up == 0)
		rc_migrate = run_cmd(r, &cli_cmd_migrate, "migrate", 3, migrate);
	if (rc_up == 0)
		rc_status = run_cmd(r, &cli_cmd_status, "status", 1, status);
	before = fake_state(f);
	topo = rh_report_topology(before);
	mig = migration(r, f, topo, ro->traffic_speed);
	rc_down = run_cmd(r, &cli_cmd_down, "down", 2, down);
	plan_set_observer(NULL);
	after = fake_state(f);
	fake_stop(f, NULL);
	fake_free(f);
	if (rh_journal_load(r->journal, &j, err) != 0) {
		json_decref(before);
		json_decref(after);
		json_decref(topo);
		json_decref(mig);
		return -1;
	}
	rep = build_report(r, ro, j, mv_now_ms() - t0);
	creates = rh_journal_creates(j);
	dups = duplicates(creates);
	left = rh_report_leftovers(after);
	json_object_set_new(rep, "creates",
	                    json_pack("{s:I,s:o}", "resources",
	                              (json_int_t)json_object_size(creates),
	                              "duplicates", dups));
	json_object_set_new(rep, "fake_left", left);
	for (size_t i = 0; i < r->n_rows; i++) {
		struct rh_counts c;
		if (strcmp(r->rows[i].name, "up again (no change)") != 0)
			continue;
		rh_journal_count(j, r->rows[i].from, r->rows[i].to, &c);
		rerun_mutating = c.mutating;
	}
	json_object_set_new(rep, "rerun_mutating",
	                    json_integer(rerun_mutating));
	json_object_set_new(rep, "commands",
	                    json_pack("{s:i,s:i,s:i,s:i,s:i}", "up", rc_up,
	                              "up again", rc_rerun, "migrate", rc_migrate,
	                              "status", rc_status, "down", rc_down));
	json_object_set_new(rep, "topology", topo);
	json_object_set_new(rep, "migration", mig);
	json_object_set_new(
		rep, "converged",
		json_boolean(rc_up == 0 && rc_rerun == 0 && rerun_mutating == 0 &&
		             rc_migrate == 0 && rc_status == 0 && rc_down == 0 &&
		             json_array_size(dups) == 0 && after != NULL &&
		             json_array_size(left) == 0));
	json_decref(creates);
	json_decref(before);
	json_decref(after);
	rh_journal_free(j);
	*out = rep;
	return 0;
}

/* Why a rehearsal is not green, one line each on stderr. */
static void
explain(const struct rh *r, const json_t *rep)
{
	json_t *cmds = json_object_get(rep, "commands"), *v;
	const char *k;
	size_t i;

	json_object_foreach(cmds, k, v)
		if (json_integer_value(v) != 0)
			mv_error("rehearse: `%s` %s (its output: %s)", k,
			         json_integer_value(v) < 0 ? "did not run" : "failed",
			         r->log);
	json_array_foreach(json_object_get(json_object_get(rep, "creates"),
	                                   "duplicates"), i, v)
		mv_error("rehearse: created more than once: %s",
		         json_string_value(v));
	if (json_integer_value(json_object_get(rep, "rerun_mutating")) > 0)
		mv_error("rehearse: a second `up` sent %lld mutating requests "
		         "(it should find every step done)",
		         json_integer_value(json_object_get(rep, "rerun_mutating")));
	json_array_foreach(json_object_get(rep, "fake_left"), i, v)
		mv_error("rehearse: left in the fake after down: %s",
		         json_string_value(v));
}

/* A failed rehearsal's working directory goes away (it may be in
 * memory, /dev/shm): the end of the commands' output says why. */
static void
show_log_tail(const char *log)
{
	struct mv_err err;
	size_t len;
	char *text, *p;
	int lines = 0;

	mv_err_clear(&err);
	if ((text = mv_read_file(log, (size_t)64 << 20, &len, &err)) == NULL) {
		mv_err_free(&err);
		return;
	}
	for (p = text + len; p > text && lines <= 20; p--)
		if (p[-1] == '\n')
			lines++;
	fprintf(stderr, "meshvm: the commands' last output (--keep keeps it "
	        "all):\n%s", p == text ? p : p + 1);
	free(text);
}

static int
run_rehearse(struct cli_ctx *ctx, const struct cli_command *cmd, int argc,
             char **argv)
{
	struct run_opts ro = {.traffic_speed = 1000};
	struct rh r = {.logfd = -1};
	struct cli_parse p;
	struct mv_err err;
	json_t *rep = NULL;
	int id, rc;

	mv_err_clear(&err);
	cli_parse_begin(&p, cmd, ctx, argc, argv);
	while ((id = cli_parse_next(&p)) > 0) {
		switch (id) {
		case O_FAULTS: ro.faults = p.arg; break;
		case O_SEED: ro.seed = p.num; break;
		case O_COUNT: ro.count = (long)p.num; break;
		case O_REPORT: ro.report = p.arg; break;
		case O_KEEP: ro.keep = true; break;
		case O_TSPEED: ro.traffic_speed = (int)p.num; break;
		}
	}
	if (id < 0)
		return p.exit_code;
	rc = prepare(&r, ctx, &ro, &err) == 0 && rehearse(&r, &ro, &rep, &err) == 0
	             ? 0 : -1;
	if (rc == 0 && ro.report != NULL &&
	    rh_report_write(ro.report, rep, r.journal, r.log, &err) != 0)
		rc = -1;
	if (rc == 0) {
		if (ctx->json)
			cli_print_json(json_incref(rep));
		else
			print_table(rep);
		if (!json_is_true(json_object_get(rep, "converged"))) {
			explain(&r, rep);
			rc = MV_EXIT_FAIL;
		} else if (!ctx->json) {
			printf("rehearse: converged; %lld resources, each created once; "
			       "the fake is empty after down%s%s\n",
			       json_integer_value(json_object_get(
				       json_object_get(rep, "creates"), "resources")),
			       ro.report ? "; report in " : "",
			       ro.report ? ro.report : "");
		}
	} else {
		rc = cli_fail(&err);
	}
	json_decref(rep);
	if (r.logfd >= 0)
		close(r.logfd);
	if (rc != 0 && r.log != NULL && !ro.keep)
		show_log_tail(r.log);
	if (ro.keep && r.dir != NULL)
		mv_info("rehearse: working directory %s", r.dir);
	else
		rh_work_remove(r.dir);
	free(r.rows);
	free(r.dir);
	free(r.config);
	free(r.journal);
	free(r.log);
	return rc;
}
