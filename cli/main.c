/* cli/main.c - `meshvm`: global options and subcommand dispatch. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/atomic.h"
#include "core/log.h"
#include "core/progress.h"
#include "core/signal.h"

#ifndef MESHVM_VERSION
#define MESHVM_VERSION "0.0.0"
#endif

struct cli_cmd {
	const char *name;
	int (*run)(struct cli_ctx *ctx, int argc, char **argv);
	const char *summary;
};

static const struct cli_cmd commands[] = {
	{"bake", cmd_bake, "build a VM bundle from a bundle.yaml"},
	{"bundle", cmd_bundle, "verify, inspect or unpack a bundle"},
	{"init", cmd_init, "write an example meshvm.yaml (the seed's topology)"},
	{"plan", cmd_plan, "what `up` would do, step by step"},
	{"up", cmd_up, "provision: clusters, firewall, ... (resumable)"},
	{"down", cmd_down, "delete what `up` created, in reverse order"},
	{"status", cmd_status, "this deployment's resources, live"},
	{"adopt", cmd_adopt, "rebuild a lost .meshvm/ state from the project"},
	{"fake", cmd_fake, "serve a fake Google Cloud + Kubernetes API"},
	{"cloudinit", cmd_cloudinit, "NoCloud seed, GCE user-data, validate"},
};

static void
usage(FILE *out)
{
	fprintf(out,
	        "usage: meshvm [-C FILE] [-v] <command> [options]\n"
	        "\n"
	        "Put a VM into a multicluster Istio mesh with no hands on the "
	        "VM.\n"
	        "\n"
	        "commands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fprintf(out,
	        "\n"
	        "global options:\n"
	        "  -C FILE        config file (default ./meshvm.yaml)\n"
	        "  -v, --verbose  more detail on stderr (repeat for traces)\n"
	        "  --json         machine-readable output where output is data\n"
	        "  --version      print the version\n"
	        "  -h, --help     this help; `meshvm <command> --help` for one "
	        "command\n"
	        "\n"
	        "environment: NO_COLOR disables colour; SOURCE_DATE_EPOCH sets "
	        "bundle mtimes.\n"
	        "\n"
	        "exit codes: 0 ok, 1 failure, 2 usage, 3 verification failed,\n"
	        "            4 cloud error, 130 interrupted\n");
}

bool
cli_common_opt(struct cli_ctx *ctx, int opt)
{
	switch (opt) {
	case 'v':
		ctx->verbose++;
		mv_log_set_level(ctx->verbose >= 2 ? MV_LOG_TRACE : MV_LOG_DEBUG);
		return true;
	case CLI_OPT_JSON:
		ctx->json = true;
		mv_progress_set_enabled(false);
		return true;
	default:
		return false;
	}
}

int
cli_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "meshvm %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (try `meshvm %s --help`)\n", cmd);
	return MV_EXIT_USAGE;
}

int
cli_fail(const struct mv_err *err)
{
	const char *p = err->msg;

	if (*p == '\0')
		p = "failed";
	while (*p) {
		const char *nl = strchr(p, '\n');
		int n = nl ? (int)(nl - p) : (int)strlen(p);
		mv_log(MV_LOG_ERROR, "%.*s", n, p);
		p += n;
		if (*p == '\n')
			p++;
	}
	return err->exit_code ? err->exit_code : MV_EXIT_FAIL;
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
	static const struct option longopts[] = {
		{"help", no_argument, NULL, 'h'},
		{"verbose", no_argument, NULL, 'v'},
		{"json", no_argument, NULL, CLI_OPT_JSON},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0}};
	struct cli_ctx ctx = {0};
	int opt;

	mv_signals_install(false);
	if (getenv("MESHVM_TEST_NO_TMPFILE") != NULL)
		mv_atomic_force_named(true);
	ctx.config = "meshvm.yaml";
	ctx.color = mv_color_enabled(STDOUT_FILENO);
	/* '+': stop at the subcommand; its options are its own. */
	while ((opt = getopt_long(argc, argv, "+C:vh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'C':
			ctx.config = optarg;
			break;
		case 'h':
			usage(stdout);
			return MV_EXIT_OK;
		case 'V':
			printf("meshvm %s\n", MESHVM_VERSION);
			return MV_EXIT_OK;
		default:
			if (cli_common_opt(&ctx, opt))
				break;
			usage(stderr);
			return MV_EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return MV_EXIT_USAGE;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(argv[optind], commands[i].name) == 0) {
			int sub_argc = argc - optind;
			char **sub_argv = argv + optind;
			optind = 0; /* reinitialise getopt for the subcommand */
			return commands[i].run(&ctx, sub_argc, sub_argv);
		}
	}
	fprintf(stderr, "meshvm: unknown command '%s' (try `meshvm --help`)\n",
	        argv[optind]);
	return MV_EXIT_USAGE;
}
