/* cli/cmd_init.c - `meshvm init`: write the seed's topology. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/atomic.h"
#include "core/config.h"

enum { O_OUTPUT = 1, O_FORCE };

static const struct cli_option init_options[] = {
	{.id = O_OUTPUT, .lng = "output", .shrt = 'o', .arg = "FILE",
	 .help = "where to write (default: the -C file, ./meshvm.yaml)"},
	{.id = O_FORCE, .lng = "force", .help = "overwrite an existing file"},
	CLI_OPT_JSON("print the result as JSON"),
	CLI_OPT_VERBOSE,
	CLI_OPT_HELP,
	{0}};

static int run_init(struct cli_ctx *ctx, const struct cli_command *cmd,
                    int argc, char **argv);

const struct cli_command cli_cmd_init = {
	.name = "init",
	.summary = "write an example meshvm.yaml (the seed's topology)",
	.description =
		"Write an example meshvm.yaml with the seed's topology: cluster1 "
		"(us-west1-b) and cluster2 (us-east1-b), n1-standard-4 x 4; VM "
		"istio-gce in us-central1-b (n1-standard-2, tag istio-gce); "
		"productcatalogservice on grpc 3550. The project comes from "
		"$PROJECT_ID when set. An existing file is never replaced without "
		"--force.",
	.options = init_options,
	.run = run_init,
};

static int
run_init(struct cli_ctx *ctx, const struct cli_command *cmd, int argc,
         char **argv)
{
	const char *out = ctx->config, *project = getenv("PROJECT_ID");
	bool force = false;
	struct mv_config *check = NULL;
	struct cli_parse p;
	struct mv_err err;
	char *text;
	int id, rc;

	mv_err_clear(&err);
	cli_parse_begin(&p, cmd, ctx, argc, argv);
	while ((id = cli_parse_next(&p)) > 0) {
		switch (id) {
		case O_OUTPUT:
			out = p.arg;
			break;
		case O_FORCE:
			force = true;
			break;
		}
	}
	if (id < 0)
		return p.exit_code;
	text = mv_config_example(project);
	/* What we write must load: catches a malformed $PROJECT_ID. */
	if (project != NULL && project[0] != '\0' &&
	    mv_config_parse(out, text, strlen(text), &check, &err) != 0) {
		free(text);
		return cli_fail(&err);
	}
	mv_config_free(check);
	/* "-" is standard output.  Otherwise, without --force the kernel
	 * refuses an existing name (no check-then-write window in which a file
	 * could appear and be replaced); with it, only a regular file is
	 * replaced (mv_output refuses a device or FIFO). */
	if (force || !strcmp(out, "-"))
		rc = mv_output_write(out, text, strlen(text), 0644, &err);
	else
		rc = mv_write_file_new(out, text, strlen(text), 0644, &err);
	if (rc == 0 && !strcmp(out, "-")) /* the data took stdout */
		dup2(STDERR_FILENO, STDOUT_FILENO);
	free(text);
	if (rc < 0)
		return cli_fail(&err);
	if (rc > 0) {
		fprintf(stderr, "meshvm: error: %s exists; use --force to "
		        "overwrite it\n", out);
		return MV_EXIT_FAIL;
	}
	if (ctx->json) {
		json_t *o = json_pack("{s:s,s:s?}", "config", out, "project", project);
		cli_print_json(o);
	} else {
		printf("wrote %s%s\n", out,
		       project && project[0] ? ""
		                             : " (set `project:` to your GCP project "
		                               "id, or rerun with PROJECT_ID set)");
	}
	return MV_EXIT_OK;
}
