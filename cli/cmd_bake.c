/* cli/cmd_bake.c - `meshvm bake`. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bake/bundle.h"
#include "cli/cli.h"
#include "core/progress.h"

static void
bake_usage(FILE *out)
{
	fprintf(out,
	        "usage: meshvm bake -f bundle.yaml -o OUT [options]\n"
	        "\n"
	        "Build a reproducible VM bundle (meshvm-bundle/1): sidecar "
	        "package, identity\nfiles, service image and units, with a "
	        "manifest of digests.\n"
	        "\n"
	        "  -f, --file FILE       bundle spec (required)\n"
	        "  -o, --output OUT      bundle to write, atomically (required)\n"
	        "  --compress ALGO       zstd (default), gzip or none\n"
	        "  --level N             compression level (zstd 1-19, default "
	        "3; gzip 1-9, default 6)\n"
	        "  --threads N           zstd worker threads (default: all "
	        "cores; output is\n"
	        "                        identical for any N)\n"
	        "  --runtime R           how the VM runs the image: systemd "
	        "(default unless the\n"
	        "                        spec says `runtime:`; flattened into "
	        "image/rootfs.tar,\n"
	        "                        no container runtime needed), docker, "
	        "podman or\n"
	        "                        containerd (image/image.tar as "
	        "given)\n"
	        "  --json                print the result as JSON\n"
	        "  -v, --verbose         more detail on stderr\n"
	        "  -h, --help            this help\n"
	        "\n"
	        "SOURCE_DATE_EPOCH sets every entry's mtime (default 0).\n"
	        "Prints the bundle's sha256 last. Exit codes: 0 ok, 1 failure "
	        "(bad spec or I/O),\n2 usage.\n");
}

static int
parse_int(const char *s, int lo, int hi, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || end == s || v < lo || v > hi)
		return -1;
	*out = (int)v;
	return 0;
}

int
cmd_bake(struct cli_ctx *ctx, int argc, char **argv)
{
	enum { O_COMPRESS = 1, O_LEVEL, O_THREADS, O_RUNTIME };
	static const struct option longopts[] = {
		{"file", required_argument, NULL, 'f'},
		{"output", required_argument, NULL, 'o'},
		{"compress", required_argument, NULL, O_COMPRESS},
		{"level", required_argument, NULL, O_LEVEL},
		{"threads", required_argument, NULL, O_THREADS},
		{"runtime", required_argument, NULL, O_RUNTIME},
		CLI_COMMON_LONGOPTS,
		{NULL, 0, NULL, 0}};
	struct bake_options opt;
	struct bundle_spec *spec = NULL;
	struct bake_result res;
	struct mv_err err;
	const char *file = NULL, *out = NULL;
	char h1[32], h2[32];
	int c;

	mv_err_clear(&err);
	bake_options_init(&opt);
	while ((c = getopt_long(argc, argv, "f:o:hv", longopts, NULL)) != -1) {
		switch (c) {
		case 'f':
			file = optarg;
			break;
		case 'o':
			out = optarg;
			break;
		case O_COMPRESS:
			if (!strcmp(optarg, "zstd"))
				opt.compress = BUNDLE_ZSTD;
			else if (!strcmp(optarg, "gzip"))
				opt.compress = BUNDLE_GZIP;
			else if (!strcmp(optarg, "none"))
				opt.compress = BUNDLE_NONE;
			else
				return cli_usage_error("bake", "--compress: '%s' is not "
				                       "zstd, gzip or none", optarg);
			break;
		case O_LEVEL:
			if (parse_int(optarg, 1, 22, &opt.level) != 0)
				return cli_usage_error("bake", "--level: '%s' is not a "
				                       "level", optarg);
			break;
		case O_THREADS:
			if (parse_int(optarg, 1, 256, &opt.threads) != 0)
				return cli_usage_error("bake", "--threads: '%s' is not "
				                       "1..256", optarg);
			break;
		case O_RUNTIME:
			if (bundle_runtime_check(optarg, NULL) != 0)
				return cli_usage_error("bake", "--runtime: '%s' is not "
				                       "one of systemd, docker, podman, "
				                       "containerd", optarg);
			opt.runtime = optarg;
			break;
		case 'h':
			bake_usage(stdout);
			return MV_EXIT_OK;
		default:
			if (cli_common_opt(ctx, c))
				break;
			bake_usage(stderr);
			return MV_EXIT_USAGE;
		}
	}
	if (optind < argc)
		return cli_usage_error("bake", "unexpected argument '%s'",
		                       argv[optind]);
	if (file == NULL || out == NULL)
		return cli_usage_error("bake", "-f bundle.yaml and -o OUT are "
		                       "required");
	if (opt.compress == BUNDLE_GZIP && opt.level > 9)
		return cli_usage_error("bake", "--level: gzip takes 1..9");
	if (opt.compress == BUNDLE_ZSTD && opt.level > 19)
		return cli_usage_error("bake", "--level: zstd takes 1..19");
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
