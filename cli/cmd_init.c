/* cli/cmd_init.c - `meshvm init`: write the seed's topology. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/atomic.h"
#include "core/config.h"

static void
init_usage(FILE *out)
{
	fprintf(out,
	        "usage: meshvm init [-o FILE] [--force]\n"
	        "\n"
	        "Write an example meshvm.yaml with the seed's topology: cluster1 "
	        "(us-west1-b)\nand cluster2 (us-east1-b), n1-standard-4 × 4; VM "
	        "istio-gce in us-central1-b\n(n1-standard-2, tag istio-gce); "
	        "productcatalogservice on grpc 3550.\nThe project comes from "
	        "$PROJECT_ID when set.\n"
	        "\n"
	        "  -o, --output FILE  where to write (default: the -C file, "
	        "./meshvm.yaml)\n"
	        "  --force            overwrite an existing file\n"
	        "  -h, --help         this help\n");
}

int
cmd_init(struct cli_ctx *ctx, int argc, char **argv)
{
	enum { O_FORCE = 1 };
	static const struct option longopts[] = {
		{"output", required_argument, NULL, 'o'},
		{"force", no_argument, NULL, O_FORCE},
		CLI_COMMON_LONGOPTS,
		{NULL, 0, NULL, 0}};
	const char *out = ctx->config, *project = getenv("PROJECT_ID");
	bool force = false;
	struct mv_config *check = NULL;
	struct mv_err err;
	char *text;
	int c;

	mv_err_clear(&err);
	while ((c = getopt_long(argc, argv, "o:hv", longopts, NULL)) != -1) {
		switch (c) {
		case 'o':
			out = optarg;
			break;
		case O_FORCE:
			force = true;
			break;
		case 'h':
			init_usage(stdout);
			return MV_EXIT_OK;
		default:
			if (cli_common_opt(ctx, c))
				break;
			init_usage(stderr);
			return MV_EXIT_USAGE;
		}
	}
	if (optind < argc)
		return cli_usage_error("init", "unexpected argument '%s'",
		                       argv[optind]);
	if (!force && access(out, F_OK) == 0) {
		fprintf(stderr, "meshvm: error: %s exists; use --force to "
		        "overwrite it\n", out);
		return MV_EXIT_FAIL;
	}
	text = mv_config_example(project);
	/* What we write must load: catches a malformed $PROJECT_ID. */
	if (project != NULL && project[0] != '\0' &&
	    mv_config_parse(out, text, strlen(text), &check, &err) != 0) {
		free(text);
		return cli_fail(&err);
	}
	mv_config_free(check);
	if (mv_output_write(out, text, strlen(text), 0644, &err) != 0) {
		free(text);
		return cli_fail(&err);
	}
	if (!strcmp(out, "-")) /* the data took stdout */
		dup2(STDERR_FILENO, STDOUT_FILENO);
	free(text);
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
