/* cli/cmd_bake.c - `meshvm bake`. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bake/bundle.h"
#include "cli/cli.h"
#include "core/progress.h"

enum { O_FILE = 1, O_OUTPUT, O_COMPRESS, O_LEVEL, O_THREADS, O_RUNTIME };

static const char *const compress_values[] = {"zstd", "gzip", "none", NULL};
static const char *const runtime_values[] = {"systemd", "docker", "podman",
                                             "containerd", NULL};

static const struct cli_option bake_options[] = {
	{.id = O_FILE, .lng = "file", .shrt = 'f', .arg = "FILE",
	 .help = "bundle spec (bundle.yaml)", .flags = CLI_REQUIRED},
	{.id = O_OUTPUT, .lng = "output", .shrt = 'o', .arg = "OUT",
	 .help = "bundle to write, atomically", .flags = CLI_REQUIRED},
	{.id = O_COMPRESS, .lng = "compress", .arg = "ALGO",
	 .help = "compression (default zstd)", .values = compress_values},
	{.id = O_LEVEL, .lng = "level", .arg = "N", .flags = CLI_INT,
	 .min = 1, .max = 19,
	 .help = "compression level (zstd 1-19, default 3; gzip 1-9, default 6)"},
	{.id = O_THREADS, .lng = "threads", .arg = "N", .flags = CLI_INT,
	 .min = 1, .max = 256,
	 .help = "zstd worker threads (default: all cores; the output is "
	         "identical for any N)"},
	{.id = O_RUNTIME, .lng = "runtime", .arg = "R", .values = runtime_values,
	 .help = "how the VM runs the image: systemd (default unless the spec "
	         "says `runtime:`; flattened into image/rootfs.tar, no container "
	         "runtime needed), or docker, podman, containerd (image/image.tar "
	         "as given)"},
	CLI_OPT_JSON("print the result as JSON"),
	CLI_OPT_VERBOSE,
	CLI_OPT_HELP,
	{0}};

static int run_bake(struct cli_ctx *ctx, const struct cli_command *cmd,
                    int argc, char **argv);

const struct cli_command cli_cmd_bake = {
	.name = "bake",
	.summary = "build a VM bundle from a bundle.yaml",
	.description =
		"Build a reproducible VM bundle (meshvm-bundle/1): sidecar "
		"package, identity files, service image and units, with a "
		"manifest of digests. Everything is validated before anything is "
		"written; every problem is reported on its own line.",
	.options = bake_options,
	.epilog = "SOURCE_DATE_EPOCH sets every entry's mtime (default 0). "
	          "Prints the bundle's sha256 last.\n\nExit codes: 0 ok, 1 "
	          "failure (bad spec or I/O), 2 usage.",
	.run = run_bake,
};

static int
run_bake(struct cli_ctx *ctx, const struct cli_command *cmd, int argc,
         char **argv)
{
	struct bake_options opt;
	struct bundle_spec *spec = NULL;
	struct bake_result res;
	struct mv_err err;
	struct cli_parse p;
	const char *file = NULL, *out = NULL;
	char h1[32], h2[32];
	int id;

	mv_err_clear(&err);
	bake_options_init(&opt);
	cli_parse_begin(&p, cmd, ctx, argc, argv);
	while ((id = cli_parse_next(&p)) > 0) {
		switch (id) {
		case O_FILE:
			file = p.arg;
			break;
		case O_OUTPUT:
			out = p.arg;
			break;
		case O_COMPRESS:
			opt.compress = !strcmp(p.arg, "zstd")   ? BUNDLE_ZSTD
			               : !strcmp(p.arg, "gzip") ? BUNDLE_GZIP
			                                        : BUNDLE_NONE;
			break;
		case O_LEVEL:
			opt.level = (int)p.num;
			break;
		case O_THREADS:
			opt.threads = (int)p.num;
			break;
		case O_RUNTIME:
			opt.runtime = p.arg;
			break;
		}
	}
	if (id < 0)
		return p.exit_code;
	if (opt.compress == BUNDLE_GZIP && opt.level > 9)
		return cli_usage_error("bake", "--level: gzip takes 1..9");
	opt.progress = !ctx->json;
	if (bundle_spec_load(file, &spec, &err) != 0)
		return cli_fail(&err);
	if (bundle_bake(spec, out, &opt, &res, &err) != 0) {
		bundle_spec_free(spec);
		return cli_fail(&err);
	}
	if (!strcmp(out, "-")) /* the data took stdout */
		dup2(STDERR_FILENO, STDOUT_FILENO);
	if (ctx->json) {
		json_t *o = json_object();
		json_object_set_new(o, "bundle", json_string(out));
		json_object_set_new(o, "format", json_string(BUNDLE_FORMAT));
		json_object_set_new(o, "compression",
		                    json_string(opt.compress == BUNDLE_ZSTD ? "zstd"
		                                : opt.compress == BUNDLE_GZIP ? "gzip"
		                                                              : "none"));
		json_object_set_new(o, "service", json_string(spec->service.name));
		json_object_set_new(o, "entries", json_integer((json_int_t)res.n_entries));
		json_object_set_new(o, "content_size",
		                    json_integer((json_int_t)res.content_size));
		json_object_set_new(o, "size", json_integer((json_int_t)res.size));
		json_object_set_new(o, "source_date_epoch",
		                    json_integer(opt.source_date_epoch));
		json_object_set_new(o, "sha256", json_string(res.sha256));
		cli_print_json(o);
	} else {
		printf("bundle   %s\n", out);
		printf("service  %s.%s (%s/%d)\n", spec->service.name,
		       spec->service.namespace_, spec->service.protocol,
		       spec->service.port);
		printf("entries  %zu (%s content, %s written, %s)\n", res.n_entries,
		       mv_human_bytes(res.content_size, h1, sizeof(h1)),
		       mv_human_bytes(res.size, h2, sizeof(h2)),
		       opt.compress == BUNDLE_ZSTD ? "zstd"
		       : opt.compress == BUNDLE_GZIP ? "gzip" : "uncompressed");
		printf("sha256   %s\n", res.sha256);
	}
	bundle_spec_free(spec);
	return MV_EXIT_OK;
}
