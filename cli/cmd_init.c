/* cli/cmd_init.c - `meshvm init`: write the seed's topology. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/example.h"
#include "core/util.h"
#include "core/xalloc.h"
#include "core/atomic.h"
#include "core/config.h"

enum { O_OUTPUT = 1, O_FORCE, O_EXAMPLE };

static const struct cli_option init_options[] = {
	{.id = O_OUTPUT, .lng = "output", .shrt = 'o', .arg = "FILE",
	 .help = "where to write (default: the -C file, ./meshvm.yaml)"},
	{.id = O_FORCE, .lng = "force", .help = "overwrite an existing file"},
	{.id = O_EXAMPLE, .lng = "example",
	 .help = "also write example/ (a rendered Istio control plane, the app, "
	         "stub bundle inputs) and point meshvm.yaml at it: an offline "
	         "run against `meshvm fake`"},
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
		"--force. With --example, also example/ next to it (the fixture Istio "
		"control plane per cluster, Online Boutique and its placement, a "
		"stub sidecar package and a tiny image) and mesh/app keys pointing "
		"at it, so `meshvm up --until identity` runs against `meshvm fake` "
		"with no other file; the mesh steps refuse that tree unless every "
		"endpoint is on loopback.",
	.options = init_options,
	.run = run_init,
};

#define EXAMPLE_MARKER ".meshvm-example"

/* Appended to mv_config_example's text, which ends inside `service:`:
 * the first lines continue that mapping. */
static const char example_keys[] =
	"  image: example/bundle/artifacts/productcatalogservice.tar\n"
	"  sidecar: example/bundle/artifacts/istio-sidecar.deb\n"
	"  units: [example/bundle/units/productcatalog.service]\n"
	"\n"
	"# The offline example (example/, from `meshvm init --example`): a\n"
	"# rendered Istio control plane per cluster and the app.  Its stub\n"
	"# artifacts are refused unless every endpoint is on loopback (a fake).\n"
	"mesh:\n"
	"  istio_manifests: example/istio\n"
	"app:\n"
	"  manifests: example/app/manifests\n";

/* mkdir -p of path's parent directories (0755). */
static int
make_parents(const char *path, struct mv_err *err)
{
	char *p = mv_xstrdup(path);

	for (char *s = strchr(p + 1, '/'); s != NULL; s = strchr(s + 1, '/')) {
		*s = '\0';
		if (mkdir(p, 0755) != 0 && errno != EEXIST) {
			mv_err_sys(err, errno, "%s", p);
			free(p);
			return -1;
		}
		*s = '/';
	}
	free(p);
	return 0;
}

/* example/ next to the config (every file, then the marker). */
static int
write_example(const char *config, bool force, struct mv_err *err)
{
	char *dir = mv_dirname(config), *base = mv_path_join(dir, "example");
	int rc = 0;

	free(dir);
	for (size_t i = 0; i <= example_n_files && rc == 0; i++) {
		static const char marker[] =
			"This tree is meshvm's offline example (meshvm init --example):\n"
			"stub artifacts for `meshvm fake` only; the mesh steps refuse it\n"
			"unless every endpoint is on loopback.\n";
		bool last = i == example_n_files;
		char *p = mv_xstrfmt("%s/%s", base, last ? EXAMPLE_MARKER
		                                          : example_files[i].path);
		const void *data = last ? (const void *)marker : example_files[i].data;
		size_t len = last ? strlen(marker) : example_files[i].len;

		if (make_parents(p, err) != 0)
			rc = -1;
		else
			rc = force ? mv_write_file_atomic(p, data, len, 0644, err)
			           : mv_write_file_new(p, data, len, 0644, err);
		if (rc > 0) {
			mv_err_set(err, MV_EXIT_FAIL, "%s exists; use --force to "
			           "overwrite the example", p);
			rc = -1;
		}
		free(p);
	}
	free(base);
	return rc;
}

static int
run_init(struct cli_ctx *ctx, const struct cli_command *cmd, int argc,
         char **argv)
{
	bool example = false;
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
		case O_EXAMPLE:
			example = true;
			break;
		}
	}
	if (id < 0)
		return p.exit_code;
	if (example && (project == NULL || project[0] == '\0'))
		project = "meshvm-example"; /* the fake takes any project */
	text = mv_config_example(project);
	if (example) {
		char *t = mv_xstrfmt("%s%s", text, example_keys);
		free(text);
		text = t;
	}
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
	if (example && write_example(out, force, &err) != 0)
		return cli_fail(&err);
	if (ctx->json) {
		json_t *o = json_pack("{s:s,s:s?,s:b}", "config", out, "project",
		                      project, "example", example);
		cli_print_json(o);
	} else {
		if (example)
			printf("wrote example/ (%zu files) next to it\n", example_n_files);
		printf("wrote %s%s\n", out,
		       project && project[0] ? ""
		                             : " (set `project:` to your GCP project "
		                               "id, or rerun with PROJECT_ID set)");
	}
	return MV_EXIT_OK;
}
