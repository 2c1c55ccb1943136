/* cli/cmd_plan.c - `meshvm plan`, `meshvm up`, `meshvm down`,
 * `meshvm status`: the provisioning commands over cluster/plan. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/session.h"
#include "core/log.h"
#include "core/signal.h"

enum { O_TOKEN = 1, O_UNTIL, O_DRY, O_YES };

#define TOKEN_HELP                                                           \
	"  --access-token-file F  Google access token to use (else "          \
	"GOOGLE_OAUTH_ACCESS_TOKEN,\n"                                       \
	"                         GOOGLE_APPLICATION_CREDENTIALS, gcloud's "    \
	"ADC, GCE metadata)\n"

static void
usage(FILE *out, const char *cmd)
{
	if (!strcmp(cmd, "plan"))
		fprintf(out,
		        "usage: meshvm [-C meshvm.yaml] plan [--json] "
		        "[--access-token-file F]\n\n"
		        "Show what `meshvm up` would do from the current state: "
		        "each step done, to do\n(with what it would create) or "
		        "drifted. Sends only reads.\n\n");
	else if (!strcmp(cmd, "up"))
		fprintf(out,
		        "usage: meshvm [-C meshvm.yaml] up [--until STEP] "
		        "[--dry-run] [--json]\n"
		        "                                  [--access-token-file F]\n\n"
		        "Provision, step by step, what the config describes. A step "
		        "that half-happened\n(Ctrl-C, kill -9, a quota error) is "
		        "resumed, never duplicated.\n\n"
		        "  --until STEP           stop after STEP (clusters, "
		        "firewall)\n"
		        "  --dry-run              print the plan; send no mutating "
		        "request\n");
	else if (!strcmp(cmd, "down"))
		fprintf(out,
		        "usage: meshvm [-C meshvm.yaml] down [--yes] "
		        "[--access-token-file F]\n\n"
		        "Delete, in reverse order, what the state says `up` created "
		        "(404 counts as\ndeleted). Never touches what it did not "
		        "create. Without --yes it asks on a\nterminal and exits 2 "
		        "elsewhere.\n\n"
		        "  --yes                  do not ask\n");
	else
		fprintf(out,
		        "usage: meshvm [-C meshvm.yaml] status [--json] "
		        "[--access-token-file F]\n\n"
		        "What each step of this deployment reports, live: the "
		        "resources the state\nrecords and the config names.\n\n");
	fprintf(out, "%s"
	        "  --json                 machine-readable output\n"
	        "  -v, --verbose          HTTP trace on stderr (tokens redacted)\n"
	        "  -h, --help             this help\n\n"
	        "Exit codes: 0 ok, 1 failure, 2 usage, 4 cloud error (the "
	        "message names the\nstep, the HTTP call and the API's answer), "
	        "130 interrupted.\n", TOKEN_HELP);
}

struct opts {
	const char *token_file;
	const char *until;
	bool dry_run;
	bool yes;
};

static int
parse(struct cli_ctx *ctx, int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{"access-token-file", required_argument, NULL, O_TOKEN},
		{"until", required_argument, NULL, O_UNTIL},
		{"dry-run", no_argument, NULL, O_DRY},
		{"yes", no_argument, NULL, O_YES},
		CLI_COMMON_LONGOPTS,
		{NULL, 0, NULL, 0}};
	const char *cmd = argv[0];
	int c;

	memset(o, 0, sizeof(*o));
	while ((c = getopt_long(argc, argv, "hv", longopts, NULL)) != -1) {
		switch (c) {
		case O_TOKEN:
			o->token_file = optarg;
			break;
		case O_UNTIL:
		case O_DRY:
			if (strcmp(cmd, "up") != 0)
				return cli_usage_error(cmd, "--until and --dry-run are "
				                       "options of `up`");
			if (c == O_UNTIL)
				o->until = optarg;
			else
				o->dry_run = true;
			break;
		case O_YES:
			if (strcmp(cmd, "down") != 0)
				return cli_usage_error(cmd, "--yes is an option of `down`");
			o->yes = true;
			break;
		case 'h':
			usage(stdout, cmd);
			return -1;
		default:
			if (cli_common_opt(ctx, c))
				break;
			usage(stderr, cmd);
			return MV_EXIT_USAGE;
		}
	}
	if (optind < argc)
		return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
	if (o->until != NULL && plan_find(o->until) == NULL)
		return cli_usage_error(cmd, "--until: no step named '%s'", o->until);
	return 0;
}

int
cmd_plan(struct cli_ctx *ctx, int argc, char **argv)
{
	struct cli_session s;
	struct opts o;
	struct mv_err err;
	json_t *report = NULL;
	int rc = parse(ctx, argc, argv, &o);

	if (rc != 0)
		return rc < 0 ? MV_EXIT_OK : rc;
	mv_err_clear(&err);
	if (cli_session_open(ctx, o.token_file, false, &s, &err) != 0 ||
	    plan_preflight(&s.plan, &err) != 0 ||
	    plan_check_all(&s.plan, NULL, &report, &err) != 0) {
		json_decref(report);
		cli_session_close(&s);
		return cli_fail(&err);
	}
	if (ctx->json)
		cli_print_json(json_incref(report));
	else
		cli_print_plan(ctx, report);
	json_decref(report);
	cli_session_close(&s);
	return MV_EXIT_OK;
}

int
cmd_up(struct cli_ctx *ctx, int argc, char **argv)
{
	struct cli_session s;
	struct opts o;
	struct mv_err err;
	json_t *report = NULL;
	int rc = parse(ctx, argc, argv, &o);

	if (rc != 0)
		return rc < 0 ? MV_EXIT_OK : rc;
	mv_err_clear(&err);
	/* Ctrl-C: finish the state write in hand, then exit 130. */
	mv_signals_install(true);
	if (cli_session_open(ctx, o.token_file, !o.dry_run, &s, &err) != 0 ||
	    plan_preflight(&s.plan, &err) != 0) {
		cli_session_close(&s);
		return cli_fail(&err);
	}
	s.plan.dry_run = o.dry_run;
	rc = plan_up(&s.plan, o.until, &report, &err);
	if (rc == 0 && mv_interrupted())
		rc = mv_err_set(&err, MV_EXIT_INTERRUPTED, "interrupted");
	if (rc == 0) {
		if (ctx->json) {
			json_object_set_new(report, "dry_run", json_boolean(o.dry_run));
			json_object_set_new(report, "state",
			                    json_string(mv_state_path(s.state)));
			cli_print_json(json_incref(report));
		} else if (o.dry_run) {
			printf("dry run: nothing sent; `meshvm up` would:\n");
			cli_print_plan(ctx, report);
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

int
cmd_down(struct cli_ctx *ctx, int argc, char **argv)
{
	struct cli_session s;
	struct opts o;
	struct mv_err err;
	int rc = parse(ctx, argc, argv, &o);

	if (rc != 0)
		return rc < 0 ? MV_EXIT_OK : rc;
	mv_err_clear(&err);
	mv_signals_install(true);
	if (cli_session_open(ctx, o.token_file, false, &s, &err) != 0) {
		cli_session_close(&s);
		return cli_fail(&err);
	}
	if (!mv_state_persistent(s.state) ||
	    json_object_size(mv_state_resources(s.state)) == 0) {
		printf("down: nothing to do (the state records no resources)\n");
		cli_session_close(&s);
		return MV_EXIT_OK;
	}
	if (!o.yes) {
		if (!isatty(STDIN_FILENO)) {
			cli_session_close(&s);
			fprintf(stderr, "meshvm down: not a terminal; pass --yes to "
			        "delete without asking\n");
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

/* One status row for humans: kind, name, [zone], status, [endpoint]. */
static void
print_status_row(const json_t *v)
{
	const char *zone = json_string_value(json_object_get(v, "zone"));
	const char *ep = json_string_value(json_object_get(v, "endpoint"));
	bool elsewhere = json_is_false(json_object_get(v, "configured"));

	printf("%-9s %-28s %-12s %-12s %s%s\n",
	       json_string_value(json_object_get(v, "kind")),
	       json_string_value(json_object_get(v, "name")), zone ? zone : "-",
	       json_string_value(json_object_get(v, "status")), ep ? ep : "",
	       elsewhere ? " (recorded, no longer in the config)" : "");
}

int
cmd_status(struct cli_ctx *ctx, int argc, char **argv)
{
	struct cli_session s;
	struct opts o;
	struct mv_err err;
	json_t *report = NULL, *step, *v;
	size_t i, j;
	int rc = parse(ctx, argc, argv, &o);

	if (rc != 0)
		return rc < 0 ? MV_EXIT_OK : rc;
	mv_err_clear(&err);
	if (cli_session_open(ctx, o.token_file, false, &s, &err) != 0 ||
	    plan_status(&s.plan, &report, &err) != 0) {
		json_decref(report);
		cli_session_close(&s);
		return cli_fail(&err);
	}
	/* What each step reports; cli makes no cloud call of its own. */
	json_object_set_new(report, "project", json_string(s.cfg->project));
	json_object_set_new(report, "id", json_string(mv_state_id(s.state)));
	if (ctx->json) {
		cli_print_json(report);
	} else {
		printf("project %s, deployment %s\n", s.cfg->project,
		       mv_state_id(s.state)[0] ? mv_state_id(s.state) : "(none yet)");
		json_array_foreach(json_object_get(report, "steps"), i, step)
			json_array_foreach(json_object_get(step, "resources"), j, v)
				print_status_row(v);
		json_decref(report);
	}
	cli_session_close(&s);
	return MV_EXIT_OK;
}
