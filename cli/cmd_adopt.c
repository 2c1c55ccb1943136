/* cli/cmd_adopt.c - `meshvm adopt [--id ID]`: rebuild a lost .meshvm/
 * state from what the project holds with a deployment id (cluster labels,
 * firewall description markers), so `down` can delete it again. */
#include <stdio.h>
#include <string.h>

#include "cli/session.h"
#include "core/signal.h"

enum { O_TOKEN = 1, O_ID };

static void
usage(FILE *out)
{
	fprintf(out,
	        "usage: meshvm [-C meshvm.yaml] adopt [--id ID] [--json] "
	        "[--access-token-file F]\n\n"
	        "Rebuild a lost .meshvm/state.json from what the project holds: "
	        "every resource\nmeshvm creates carries its deployment id (the "
	        "label meshvm-id on clusters,\n\"meshvm-id=ID\" in firewall rule "
	        "descriptions). One id found: it is adopted;\nseveral: they are "
	        "listed and --id chooses. Shows what it found, then writes\nthe "
	        "state; `meshvm status`, `up` and `down` work as before. Refuses "
	        "when the\nstate already records resources.\n\n"
	        "  --id ID                adopt the deployment with this id\n"
	        "  --access-token-file F  Google access token to use\n"
	        "  --json                 machine-readable output\n"
	        "  -v, --verbose          HTTP trace on stderr (tokens redacted)\n"
	        "  -h, --help             this help\n\n"
	        "Exit codes: 0 adopted, 1 failure, 2 usage (several ids and no "
	        "--id, none found,\nstate not empty), 4 cloud error.\n");
}

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

int
cmd_adopt(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {
		{"access-token-file", required_argument, NULL, O_TOKEN},
		{"id", required_argument, NULL, O_ID},
		CLI_COMMON_LONGOPTS,
		{NULL, 0, NULL, 0}};
	const char *token_file = NULL, *id = NULL;
	struct cli_session s;
	struct mv_err err;
	json_t *found = NULL;
	int c, rc;

	while ((c = getopt_long(argc, argv, "hv", longopts, NULL)) != -1) {
		switch (c) {
		case O_TOKEN:
			token_file = optarg;
			break;
		case O_ID:
			id = optarg;
			break;
		case 'h':
			usage(stdout);
			return MV_EXIT_OK;
		default:
			if (cli_common_opt(ctx, c))
				break;
			usage(stderr);
			return MV_EXIT_USAGE;
		}
	}
	if (optind < argc)
		return cli_usage_error("adopt", "unexpected argument '%s'",
		                       argv[optind]);
	mv_err_clear(&err);
	mv_signals_install(true);
	if (cli_session_open(ctx, token_file, true, &s, &err) != 0) {
		cli_session_close(&s);
		return cli_fail(&err);
	}
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
