/* cli/main.c - `meshvm`: global options and subcommand dispatch. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/atomic.h"
#include "core/log.h"
#include "core/signal.h"

#ifndef MESHVM_VERSION
#define MESHVM_VERSION "0.0.0"
#endif

static const struct cli_command *const commands[] = {
	&cli_cmd_bake, &cli_cmd_bundle, &cli_cmd_init, &cli_cmd_plan,
	&cli_cmd_up, &cli_cmd_down, &cli_cmd_status, &cli_cmd_adopt,
	&cli_cmd_doctor, &cli_cmd_launch, &cli_cmd_migrate, &cli_cmd_rehearse,
	&cli_cmd_fake, &cli_cmd_cloudinit, NULL};

enum { G_CONFIG = 1, G_VERSION, G_HELP, G_DUMP };

static const struct cli_option global_opts[] = {
	{.id = G_CONFIG, .lng = "config", .shrt = 'C', .arg = "FILE",
	 .help = "config file (default ./meshvm.yaml)"},
	CLI_OPT_VERBOSE,
	CLI_OPT_JSON("machine-readable output where the output is data"),
	{.id = G_VERSION, .lng = "version", .help = "print the version"},
	{.id = G_HELP, .lng = "help", .shrt = 'h', .help = "this help"},
	{.id = G_DUMP, .lng = "dump-cli", .flags = CLI_HIDDEN,
	 .help = "every command and option as JSON (for generators)"},
	{0}};

static const struct cli_operand global_operands[] = {
	{"COMMAND", "the command to run"},
	{"ARG...", "its options and operands"},
	{NULL, NULL}};

static const struct cli_command root = {
	.name = "", .options = global_opts, .operands = global_operands,
	.stop_at_operand = true};

static const struct cli_exit_code exit_codes[] = {
	{MV_EXIT_OK, "ok"},
	{MV_EXIT_FAIL, "failure (bad input, I/O)"},
	{MV_EXIT_USAGE, "usage (bad command line)"},
	{MV_EXIT_VERIFY, "verification failed (digest, schema, hostile archive)"},
	{MV_EXIT_CLOUD, "cloud error (the message names the call and the API's "
	                "answer)"},
	{MV_EXIT_INTERRUPTED, "interrupted (Ctrl-C); rerun to resume"},
	{0, NULL}};

static const struct cli_env_var environment[] = {
	{"NO_COLOR", "disables colour"},
	{"SOURCE_DATE_EPOCH", "sets every bundle entry's mtime (default 0)"},
	{"PROJECT_ID", "the GCP project `meshvm init` writes"},
	{"GOOGLE_OAUTH_ACCESS_TOKEN", "a Google access token (after "
	                              "--access-token-file)"},
	{"GOOGLE_APPLICATION_CREDENTIALS", "a service-account key or "
	                                   "authorized-user JSON file"},
	{"MESHVM_GOOGLE_ENDPOINT", "one base URL for every Google API (a fake, "
	                           "a proxy); must not be empty when set"},
	{"MESHVM_TIMING", "`fast` shortens polls and backoff (tests)"},
	{NULL, NULL}};

static const struct cli_program program = {
	.name = "meshvm",
	.version = MESHVM_VERSION,
	.summary = "Put a VM into a multicluster Istio mesh with no hands on "
	           "the VM.",
	.global_options = global_opts,
	.commands = commands,
	.exit_codes = exit_codes,
	.environment = environment,
};

int
cli_fail(struct mv_err *err)
{
	int code = err->exit_code ? err->exit_code : MV_EXIT_FAIL;
	const char *it;

	if (err->msg[0] == '\0')
		mv_log(MV_LOG_ERROR, "failed");
	/* every item of a many-problem report on its own line(s) */
	for (it = err->msg[0] ? mv_err_next(err, NULL) : NULL; it != NULL;
	     it = mv_err_next(err, it)) {
		const char *p = it;
		while (*p) {
			const char *nl = strchr(p, '\n');
			int n = nl ? (int)(nl - p) : (int)strlen(p);
			mv_log(MV_LOG_ERROR, "%.*s", n, p);
			p += n;
			if (*p == '\n')
				p++;
		}
	}
	mv_err_free(err);
	return code;
}

void
cli_print_json(json_t *doc)
{
	char *s = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

	if (s != NULL) {
		fputs(s, stdout);
		fputc('\n', stdout);
		free(s);
	}
	json_decref(doc);
}

int
main(int argc, char **argv)
{
	struct cli_ctx ctx = {0};
	struct cli_parse p;
	int id;

	mv_signals_install(false);
	if (getenv("MESHVM_TEST_NO_TMPFILE") != NULL)
		mv_atomic_force_named(true);
	ctx.config = "meshvm.yaml";
	ctx.color = mv_color_enabled(STDOUT_FILENO);
	/* The global options stop at the command's name; its options are its
	 * own. */
	cli_parse_begin(&p, &root, &ctx, argc, argv);
	while ((id = cli_parse_next(&p)) > 0) {
		switch (id) {
		case G_CONFIG:
			ctx.config = p.arg;
			ctx.config_given = true;
			break;
		case G_HELP:
			cli_print_program_help(stdout, &program);
			return MV_EXIT_OK;
		case G_VERSION:
			printf("meshvm %s\n", MESHVM_VERSION);
			return MV_EXIT_OK;
		case G_DUMP:
			cli_print_json(cli_dump_json(&program));
			return MV_EXIT_OK;
		default:
			break;
		}
	}
	if (id < 0)
		return p.exit_code;
	for (size_t i = 0; commands[i] != NULL; i++) {
		const struct cli_command *c = commands[i];
		if (strcmp(p.operands[0], c->name) == 0) {
			if (c->subcommands != NULL)
				return cli_dispatch(&ctx, c, p.n_operands, p.operands);
			return c->run(&ctx, c, p.n_operands, p.operands);
		}
	}
	return cli_usage_error("", "unknown command '%s'", p.operands[0]);
}
