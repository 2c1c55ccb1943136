/* cli/cmd_adopt.c - `meshvm adopt [--id ID]`: rebuild a lost .meshvm/
 * state from what the project holds with a deployment id (cluster labels,
 * firewall description markers), so `down` can delete it again. */
#include <stdio.h>
#include <string.h>

#include "cli/session.h"

enum { O_TOKEN = 1, O_ID };

static const struct cli_option adopt_options[] = {
	{.id = O_ID, .lng = "id", .arg = "ID",
	 .help = "adopt the deployment with this id"},
	{.id = O_TOKEN, .lng = "access-token-file", .arg = "F",
	 .help = "Google access token to use"},
	CLI_OPT_JSON("machine-readable output"),
	CLI_OPT_VERBOSE,
	CLI_OPT_HELP,
	{0}};

static int run_adopt(struct cli_ctx *ctx, const struct cli_command *cmd,
                     int argc, char **argv);

const struct cli_command cli_cmd_adopt = {
	.name = "adopt",
	.summary = "rebuild a lost .meshvm/ state from the project",
	.description =
		"Rebuild a lost .meshvm/state.json from what the project holds: "
		"every resource meshvm creates carries its deployment id (the "
		"label meshvm-id on clusters, \"meshvm-id=ID\" in firewall rule "
		"descriptions). One id found: it is adopted; several: they are "
		"listed and --id chooses. Shows what it found, then writes the "
		"state; `meshvm status`, `up` and `down` work as before. Refuses "
		"when the state already records resources.",
	.options = adopt_options,
	.epilog = "Exit codes: 0 adopted, 1 failure, 2 usage (several ids and "
	          "no --id, none found, state not empty), 4 cloud error.",
	.run = run_adopt,
};

static void
print_found(const json_t *found, const char *chosen)
{
	json_t *ids = json_object_get(found, "ids"), *keys, *k;
	const char *id;
	size_t i;

	json_object_foreach(ids, id, keys) {
		fprintf(stderr, "deployment %s%s: %zu resource%s\n", id,
		        chosen && !strcmp(id, chosen) ? " (adopted)" : "",
		        json_array_size(keys), json_array_size(keys) == 1 ? "" : "s");
		json_array_foreach(keys, i, k)
			fprintf(stderr, "  %s\n", json_string_value(k));
	}
}

static int
run_adopt(struct cli_ctx *ctx, const struct cli_command *cmd, int argc,
          char **argv)
{
	const char *token_file = NULL, *id = NULL;
	struct cli_session s;
	struct cli_parse p;
	struct mv_err err;
	json_t *found = NULL;
	int opt, rc;

	cli_parse_begin(&p, cmd, ctx, argc, argv);
	while ((opt = cli_parse_next(&p)) > 0) {
		switch (opt) {
		case O_TOKEN:
			token_file = p.arg;
			break;
		case O_ID:
			id = p.arg;
			break;
		}
	}
	if (opt < 0)
		return p.exit_code;
	rc = cli_session_start(ctx, token_file, true, &s, &err);
	if (rc != MV_EXIT_OK)
		return rc;
	rc = plan_adopt(&s.plan, id, &found, &err);
	if (ctx->json) {
		json_object_set_new(found, "adopted", json_boolean(rc == 0));
		cli_print_json(json_incref(found));
	} else {
		print_found(found, rc == 0 ? json_string_value(json_object_get(
			                             found, "id")) : NULL);
	}
	if (rc == 0 && !ctx->json)
		printf("adopt: deployment %s, %zu resources recorded in %s\n",
		       mv_state_id(s.state),
		       json_object_size(mv_state_resources(s.state)),
		       mv_state_path(s.state));
	json_decref(found);
	cli_session_close(&s);
	return rc == 0 ? MV_EXIT_OK : cli_fail(&err);
}
