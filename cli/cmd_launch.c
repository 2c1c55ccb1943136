/* cli/cmd_launch.c - `meshvm launch`: the launch step on its own (the VM
 * or the managed group, as `up --until launch` would make it), and
 * `--refresh-token`: a new Istio token for the running VMs (setMetadata
 * with the metadata fingerprint) and, for a group, a new template for the
 * members made from then on. */
#include <stdio.h>
#include <string.h>

#include "cli/session.h"
#include "cluster/launch.h"
#include "core/log.h"

enum { O_TOKEN = 1, O_REFRESH, O_TOKEN_DURATION, O_JOIN_TIMEOUT };

static const struct cli_option launch_options[] = {
	{.id = O_REFRESH, .lng = "refresh-token",
	 .help = "mint a new Istio token and write it to the running VMs (and "
	         "a group's template) before the old one expires"},
	CLI_OPT_TOKEN_DURATION(O_TOKEN_DURATION),
	CLI_OPT_JOIN_TIMEOUT(O_JOIN_TIMEOUT),
	{.id = O_TOKEN, .lng = "access-token-file", .arg = "F",
	 .help = "Google access token to use (else GOOGLE_OAUTH_ACCESS_TOKEN, "
	         "GOOGLE_APPLICATION_CREDENTIALS, gcloud's ADC, GCE metadata)"},
	CLI_OPT_JSON("machine-readable output"),
	{.id = CLI_ID_VERBOSE, .lng = "verbose", .shrt = 'v',
	 .flags = CLI_REPEAT,
	 .help = "HTTP trace on stderr (tokens redacted); repeat for more"},
	CLI_OPT_HELP, {0}};

static int cmd_launch(struct cli_ctx *ctx, const struct cli_command *cmd,
                      int argc, char **argv);

const struct cli_command cli_cmd_launch = {
	.name = "launch",
	.summary = "the VM or group on its own; --refresh-token renews the "
	           "Istio token",
	.description =
		"Run the launch step alone: the VM (vm.count 1) or the instance "
		"template and managed instance group (vm.count > 1) with the "
		"delivered bundle and an Istio token in metadata key "
		"meshvm-istio-token. With --refresh-token, mint a new token "
		"(--token-duration, else vm.token_duration) and write it to every "
		"running VM with setMetadata, and for a group into a new template "
		"used for members made from then on. The token is never printed, "
		"logged or stored; the state records its expiry.",
	.options = launch_options,
	.epilog = "The config is the global -C FILE (default ./meshvm.yaml).\n\n"
	          "Exit codes: 0 ok, 1 failure, 2 usage, 4 cloud error, 130 "
	          "interrupted.",
	.run = cmd_launch};

static int
run_step(struct cli_session *s, struct mv_err *err)
{
	const struct plan_step *step = plan_find("launch");
	struct step_check c;
	int rc;

	step_check_init(&c);
	rc = step->check(&s->plan, &c, err);
	if (rc == 0 && c.state != STEP_DONE)
		rc = step->apply(&s->plan, err);
	step_check_free(&c);
	return rc;
}

static int
cmd_launch(struct cli_ctx *ctx, const struct cli_command *cmd, int argc,
           char **argv)
{
	struct cli_session s;
	struct cli_parse p;
	struct mv_err err;
	const char *token_file = NULL;
	long token_s = 0, join_s = 0;
	bool refresh = false;
	json_t *report = NULL;
	int id, rc;

	cli_parse_begin(&p, cmd, ctx, argc, argv);
	while ((id = cli_parse_next(&p)) > 0) {
		switch (id) {
		case O_TOKEN:
			token_file = p.arg;
			break;
		case O_REFRESH:
			refresh = true;
			break;
		case O_TOKEN_DURATION:
			if (cli_parse_token_duration(p.path, p.arg, &token_s) != 0)
				return MV_EXIT_USAGE;
			break;
		case O_JOIN_TIMEOUT:
			if (cli_parse_join_timeout(p.path, p.arg, &join_s) != 0)
				return MV_EXIT_USAGE;
			break;
		}
	}
	if (id < 0)
		return p.exit_code;
	rc = cli_session_start(ctx, token_file, true, &s, &err);
	if (rc != MV_EXIT_OK)
		return rc;
	cli_session_launch_options(&s, token_s, join_s);
	rc = refresh ? launch_refresh_token(&s.plan, &report, &err)
	             : run_step(&s, &err);
	if (rc == 0) {
		if (ctx->json) {
			cli_print_json(report ? json_incref(report)
			                      : json_pack("{s:s}", "launch", "done"));
		} else if (report != NULL) {
			printf("launch: a new Istio token (expires %s) written to %zu "
			       "running VM%s%s\n",
			       json_string_value(json_object_get(report, "expires")),
			       json_array_size(json_object_get(report, "instances")),
			       json_array_size(json_object_get(report, "instances")) == 1
			               ? "" : "s",
			       s.cfg->vm.count > 1 ? " and a new template" : "");
		} else {
			printf("launch: done (state in %s)\n", mv_state_path(s.state));
		}
	}
	json_decref(report);
	cli_session_close(&s);
	return rc == 0 ? MV_EXIT_OK : cli_fail(&err);
}
