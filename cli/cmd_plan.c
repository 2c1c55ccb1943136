/* cli/cmd_plan.c - `meshvm plan`, `meshvm up`, `meshvm down`,
 * `meshvm status`: the provisioning commands over cluster/plan. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/session.h"
#include "cluster/migrate.h"
#include "core/log.h"
#include "core/signal.h"

enum { O_TOKEN = 1, O_UNTIL, O_DRY, O_YES, O_NO_PREFLIGHT, O_TOKEN_DURATION,
       O_JOIN_TIMEOUT };

/* --until's closed set: the names of the registered steps, in order. */
static size_t
step_names(const char **out, size_t cap)
{
	size_t n, i;
	const struct plan_step *const *steps = plan_steps(&n);

	for (i = 0; i < n && i < cap; i++)
		out[i] = steps[i]->name;
	return i;
}

#define OPT_TOKEN                                                            \
	{.id = O_TOKEN, .lng = "access-token-file", .arg = "F",              \
	 .help = "Google access token to use (else GOOGLE_OAUTH_ACCESS_TOKEN, " \
	         "GOOGLE_APPLICATION_CREDENTIALS, gcloud's ADC, GCE metadata)"}
#define OPT_COMMON                                                           \
	OPT_TOKEN, CLI_OPT_JSON("machine-readable output"),                  \
	{.id = CLI_ID_VERBOSE, .lng = "verbose", .shrt = 'v',                \
	 .flags = CLI_REPEAT,                                                \
	 .help = "HTTP trace on stderr (tokens redacted); repeat for more"}, \
	CLI_OPT_HELP, {0}

#define OPT_UNTIL(what)                                                      \
	{.id = O_UNTIL, .lng = "until", .arg = "STEP", .values_fn = step_names, \
	 .help = what}

#define OPT_NO_PREFLIGHT                                                     \
	{.id = O_NO_PREFLIGHT, .lng = "no-preflight",                        \
	 .help = "skip the checks of `meshvm doctor` that run first"}

static const struct cli_option plan_options[] = {
	OPT_UNTIL("show the steps up to STEP only"), OPT_NO_PREFLIGHT,
	OPT_COMMON};
static const struct cli_option up_options[] = {
	OPT_UNTIL("stop after STEP"),
	/* `plan` is the dry run; the old spelling says so */
	{.id = O_DRY, .lng = "dry-run", .flags = CLI_HIDDEN,
	 .help = "gone: use `meshvm plan`"},
	CLI_OPT_TOKEN_DURATION(O_TOKEN_DURATION),
	CLI_OPT_JOIN_TIMEOUT(O_JOIN_TIMEOUT),
	OPT_NO_PREFLIGHT, OPT_COMMON};
static const struct cli_option down_options[] = {
	{.id = O_YES, .lng = "yes", .help = "do not ask"}, OPT_COMMON};
static const struct cli_option status_options[] = {OPT_COMMON};

#define EXIT_CODES                                                           \
	"The config is the global -C FILE (default ./meshvm.yaml).\n\nExit "   \
	"codes: 0 ok, 1 failure, 2 usage, 4 cloud error (the message names the " \
	"step, the HTTP call and the API's answer), 130 interrupted."

static int cmd_plan(struct cli_ctx *ctx, const struct cli_command *cmd,
                    int argc, char **argv);
static int cmd_up(struct cli_ctx *ctx, const struct cli_command *cmd,
                  int argc, char **argv);
static int cmd_down(struct cli_ctx *ctx, const struct cli_command *cmd,
                    int argc, char **argv);
static int cmd_status(struct cli_ctx *ctx, const struct cli_command *cmd,
                      int argc, char **argv);

const struct cli_command cli_cmd_plan = {
	.name = "plan",
	.summary = "what `up` would do, step by step",
	.description =
		"Show what `meshvm up` would do from the current state: each step "
		"done, to do (with what it would create) or drifted. This is the "
		"dry run of `up` (which has no --dry-run): it sends only reads, "
		"writes nothing and takes no lock, so it can run while `up` does.",
	.options = plan_options, .epilog = EXIT_CODES, .run = cmd_plan};

const struct cli_command cli_cmd_up = {
	.name = "up",
	.summary = "provision: clusters, firewall, ... (resumable)",
	.description =
		"Provision, step by step, what the config describes. A step that "
		"half-happened (Ctrl-C, kill -9, a quota error) is resumed, never "
		"duplicated.",
	.options = up_options, .epilog = EXIT_CODES, .run = cmd_up};

const struct cli_command cli_cmd_down = {
	.name = "down",
	.summary = "delete what `up` created, in reverse order",
	.description =
		"Delete, in reverse order, what the state says `up` created (404 "
		"counts as deleted). Never touches what it did not create. Without "
		"--yes it asks on a terminal, and elsewhere exits 2 saying how to "
		"confirm.",
	.options = down_options, .epilog = EXIT_CODES, .run = cmd_down};

const struct cli_command cli_cmd_status = {
	.name = "status",
	.summary = "this deployment's resources, live",
	.description = "This deployment's resources, live, step by step; then "
	               "the traffic migration's weights, step and last gate "
	               "(`meshvm migrate`). Takes no lock, so it can run while "
	               "`up` or `migrate` does.",
	.options = status_options, .epilog = EXIT_CODES, .run = cmd_status};

struct opts {
	const char *token_file;
	const char *until;
	long token_duration_s; /* 0: vm.token_duration */
	long join_timeout_s;   /* 0: the join step's default */
	bool yes;
	bool no_preflight;
};

/* 0: parsed; -1: --help printed; else the usage exit code. */
static int
parse(struct cli_ctx *ctx, const struct cli_command *cmd, int argc,
      char **argv, struct opts *o)
{
	struct cli_parse p;
	int id;

	memset(o, 0, sizeof(*o));
	cli_parse_begin(&p, cmd, ctx, argc, argv);
	while ((id = cli_parse_next(&p)) > 0) {
		switch (id) {
		case O_TOKEN:
			o->token_file = p.arg;
			break;
		case O_UNTIL:
			o->until = p.arg;
			break;
		case O_DRY:
			return cli_usage_error(p.path, "--dry-run is gone: `meshvm "
			                       "plan%s%s` is the dry run (it sends only "
			                       "reads and writes nothing)",
			                       o->until ? " --until " : "",
			                       o->until ? o->until : "");
		case O_YES:
			o->yes = true;
			break;
		case O_NO_PREFLIGHT:
			o->no_preflight = true;
			break;
		case O_TOKEN_DURATION:
			if (cli_parse_token_duration(p.path, p.arg,
			                             &o->token_duration_s) != 0)
				return MV_EXIT_USAGE;
			break;
		case O_JOIN_TIMEOUT:
			if (cli_parse_join_timeout(p.path, p.arg,
			                           &o->join_timeout_s) != 0)
				return MV_EXIT_USAGE;
			break;
		}
	}
	return id < 0 ? (p.exit_code == 0 ? -1 : p.exit_code) : 0;
}

static int
cmd_plan(struct cli_ctx *ctx, const struct cli_command *cmd, int argc,
          char **argv)
{
	struct cli_session s;
	struct opts o;
	struct mv_err err;
	json_t *report = NULL;
	int rc = parse(ctx, cmd, argc, argv, &o);

	if (rc != 0)
		return rc < 0 ? MV_EXIT_OK : rc;
	mv_err_clear(&err);
	rc = cli_session_open_readonly(ctx, o.token_file, &s, &err);
	if (rc == 0)
		cli_note_busy(&s); /* before any cloud call, which may fail */
	if (rc != 0 || plan_preflight(&s.plan, &err) != 0 ||
	    (!o.no_preflight && cli_preflight(ctx, &s, &err) != 0) ||
	    plan_check_all(&s.plan, o.until, &report, &err) != 0) {
		json_decref(report);
		cli_session_close(&s);
		return cli_fail(&err);
	}
	if (ctx->json) {
		if (mv_state_busy_pid(s.state) != 0)
			json_object_set_new(report, "up_in_progress",
			                    json_integer(mv_state_busy_pid(s.state)));
		cli_print_json(json_incref(report));
	} else {
		cli_print_plan(ctx, report);
	}
	json_decref(report);
	cli_session_close(&s);
	return MV_EXIT_OK;
}

static int
cmd_up(struct cli_ctx *ctx, const struct cli_command *cmd, int argc,
        char **argv)
{
	struct cli_session s;
	struct opts o;
	struct mv_err err;
	json_t *report = NULL;
	int rc = parse(ctx, cmd, argc, argv, &o);

	if (rc != 0)
		return rc < 0 ? MV_EXIT_OK : rc;
	mv_err_clear(&err);
	/* Ctrl-C: finish the state write in hand, then exit 130. */
	mv_signals_install(true);
	if (cli_session_open(ctx, o.token_file, true, &s, &err) != 0 ||
	    plan_preflight(&s.plan, &err) != 0 ||
	    (!o.no_preflight && cli_preflight(ctx, &s, &err) != 0)) {
		cli_session_close(&s);
		return cli_fail(&err);
	}
	cli_session_launch_options(&s, o.token_duration_s, o.join_timeout_s);
	rc = plan_up(&s.plan, o.until, &report, &err);
	if (rc == 0)
		rc = cli_refresh_kubeconfig(&s, &err);
	if (rc == 0 && mv_interrupted())
		rc = mv_err_set(&err, MV_EXIT_INTERRUPTED, "interrupted");
	if (rc == 0) {
		if (ctx->json) {
			json_object_set_new(report, "state",
			                    json_string(mv_state_path(s.state)));
			cli_print_json(json_incref(report));
		} else {
			cli_print_plan(ctx, report);
			printf("up: done%s%s (state in %s)\n", o.until ? " until " : "",
			       o.until ? o.until : "", mv_state_path(s.state));
		}
	}
	json_decref(report);
	cli_session_close(&s);
	if (rc != 0) {
		if (err.exit_code == MV_EXIT_INTERRUPTED || mv_interrupted()) {
			mv_error("%s", err.msg);
			mv_error("interrupted: the state is consistent; rerun `meshvm "
			         "up` to resume");
			return MV_EXIT_INTERRUPTED;
		}
		return cli_fail(&err);
	}
	return MV_EXIT_OK;
}

static bool
confirm(const struct cli_session *s)
{
	char line[16];
	size_t n = json_object_size(mv_state_resources(s->state));

	fprintf(stderr, "Delete the %zu resources this deployment (%s) created "
	        "in project %s? [y/N] ", n, mv_state_id(s->state),
	        s->cfg->project);
	fflush(stderr);
	if (fgets(line, sizeof(line), stdin) == NULL)
		return false;
	return line[0] == 'y' || line[0] == 'Y';
}

static int
cmd_down(struct cli_ctx *ctx, const struct cli_command *cmd, int argc,
          char **argv)
{
	struct cli_session s;
	struct opts o;
	struct mv_err err;
	int rc = parse(ctx, cmd, argc, argv, &o);

	if (rc != 0)
		return rc < 0 ? MV_EXIT_OK : rc;
	rc = cli_session_start(ctx, o.token_file, false, &s, &err);
	if (rc != MV_EXIT_OK)
		return rc;
	if (!mv_state_persistent(s.state) ||
	    json_object_size(mv_state_resources(s.state)) == 0) {
		printf("down: nothing to do (the state records no resources)\n");
		cli_session_close(&s);
		return MV_EXIT_OK;
	}
	if (!o.yes) {
		if (!isatty(STDIN_FILENO)) {
			cli_session_close(&s);
			/* Say exactly what to run, with the same config. */
			fprintf(stderr, "meshvm down: stdin is not a terminal, so "
			        "nothing was deleted; run `meshvm %s%s%sdown --yes` to "
			        "confirm\n", strcmp(ctx->config, "meshvm.yaml") ? "-C "
			                                                      : "",
			        strcmp(ctx->config, "meshvm.yaml") ? ctx->config : "",
			        strcmp(ctx->config, "meshvm.yaml") ? " " : "");
			return MV_EXIT_USAGE;
		}
		if (!confirm(&s)) {
			cli_session_close(&s);
			fprintf(stderr, "meshvm down: nothing deleted\n");
			return MV_EXIT_USAGE;
		}
	}
	rc = plan_down(&s.plan, &err);
	cli_session_close(&s);
	if (rc != 0)
		return cli_fail(&err); /* an interrupt carries exit code 130 */
	if (ctx->json)
		cli_print_json(json_pack("{s:b}", "deleted", 1));
	else
		printf("down: done\n");
	return MV_EXIT_OK;
}

/* One status row for humans: kind, name, [zone], status, [endpoint],
 * [detail]. */
static void
print_status_row(const json_t *v)
{
	const char *zone = json_string_value(json_object_get(v, "zone"));
	const char *ep = json_string_value(json_object_get(v, "endpoint"));
	const char *detail = json_string_value(json_object_get(v, "detail"));
	bool elsewhere = json_is_false(json_object_get(v, "configured"));

	printf("%-9s %-28s %-12s %-12s %s%s%s\n",
	       json_string_value(json_object_get(v, "kind")),
	       json_string_value(json_object_get(v, "name")), zone ? zone : "-",
	       json_string_value(json_object_get(v, "status")), ep ? ep : "",
	       detail ? detail : "",
	       elsewhere ? " (recorded, no longer in the config)" : "");
}

/* The migration's rows: weights, step, last gate (cluster/migrate.h). */
static void
print_migration(const json_t *m)
{
	json_t *w = json_object_get(m, "weights"), *gate, *d;
	size_t i;

	if (m == NULL)
		return;
	printf("%-9s %-28s step %lld/%zu %lld/%lld (VM/GKE)%s %s\n", "migration",
	       json_string_value(json_object_get(m, "service")),
	       json_integer_value(json_object_get(m, "step")),
	       json_array_size(json_object_get(m, "steps")),
	       json_integer_value(json_object_get(w, "vm")),
	       json_integer_value(json_object_get(w, "gke")),
	       json_is_true(json_object_get(m, "applying")) ? " (applying)" : "",
	       json_string_value(json_object_get(m, "phase")));
	gate = json_object_get(m, "gate");
	if (!json_is_object(gate))
		return;
	printf("%-9s %s\n", "gate", json_string_value(json_object_get(gate,
	                                                              "reason")));
	json_array_foreach(json_object_get(gate, "destinations"), i, d)
		printf("%-9s %-4s success rate %.4f, p99 %.1f ms, %.2f req/s\n", "",
		       json_string_value(json_object_get(d, "destination")),
		       json_number_value(json_object_get(d, "success_rate")),
		       json_number_value(json_object_get(d, "p99_ms")),
		       json_number_value(json_object_get(d, "rps")));
}

static int
cmd_status(struct cli_ctx *ctx, const struct cli_command *cmd, int argc,
           char **argv)
{
	struct cli_session s;
	struct opts o;
	struct mv_err err;
	json_t *report = NULL, *step, *v, *mig = NULL;
	size_t i, j;
	int rc = parse(ctx, cmd, argc, argv, &o);

	if (rc != 0)
		return rc < 0 ? MV_EXIT_OK : rc;
	mv_err_clear(&err);
	rc = cli_session_open_readonly(ctx, o.token_file, &s, &err);
	if (rc == 0) { /* before any cloud call, which may fail */
		cli_note_busy(&s);
		cli_note_kubeconfig(&s, true, NULL);
	}
	if (rc != 0 || plan_status(&s.plan, &report, &err) != 0 ||
	    migrate_status(&s.plan, &mig, &err) != 0) {
		json_decref(report);
		cli_session_close(&s);
		return cli_fail(&err);
	}
	if (mig != NULL)
		json_object_set_new(report, "migration", mig);
	/* What each step reports; cli makes no cloud call of its own. */
	json_object_set_new(report, "project", json_string(s.cfg->project));
	json_object_set_new(report, "id", json_string(mv_state_id(s.state)));
	if (ctx->json) {
		cli_note_kubeconfig(&s, false, report);
		if (mv_state_busy_pid(s.state) != 0)
			json_object_set_new(report, "up_in_progress",
			                    json_integer(mv_state_busy_pid(s.state)));
		cli_print_json(report);
	} else {
		printf("project %s, deployment %s\n", s.cfg->project,
		       mv_state_id(s.state)[0] ? mv_state_id(s.state) : "(none yet)");
		json_array_foreach(json_object_get(report, "steps"), i, step)
			json_array_foreach(json_object_get(step, "resources"), j, v)
				print_status_row(v);
		print_migration(json_object_get(report, "migration"));
		json_decref(report);
	}
	cli_session_close(&s);
	return MV_EXIT_OK;
}
