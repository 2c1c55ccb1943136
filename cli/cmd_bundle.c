/* cli/cmd_bundle.c - `meshvm bundle verify|inspect|unpack`. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bake/bundle.h"
#include "cli/cli.h"
#include "core/escape.h"
#include "core/progress.h"

static void
bundle_usage(FILE *out)
{
	fprintf(out,
	        "usage: meshvm bundle verify BUNDLE [--sha256 HEX] [--json]\n"
	        "       meshvm bundle inspect BUNDLE [--json]\n"
	        "       meshvm bundle unpack BUNDLE --dest DIR [--sha256 HEX] "
	        "[--max-size SIZE]\n"
	        "                            [--json]\n"
	        "\n"
	        "verify   check the whole-file digest (with --sha256), the "
	        "manifest, and every\n"
	        "         entry's size, digest and mode; nothing missing, "
	        "nothing extra\n"
	        "inspect  show the manifest and the bundle's digest "
	        "(entries are not checked)\n"
	        "unpack   verify while extracting into DIR (absent or empty); "
	        "files appear\n"
	        "         only when everything checked out\n"
	        "\n"
	        "  --sha256 HEX   expected sha256 of the bundle file\n"
	        "  --dest DIR     (unpack) destination directory\n"
	        "  --max-size SIZE  (unpack) refuse a bundle whose manifest lists "
	        "more than SIZE\n"
	        "                 bytes (suffix K, M, G, T: powers of 1024; "
	        "default 16G); one\n"
	        "                 listing more than DEST's free space is refused "
	        "too\n"
	        "  --json         machine-readable output\n"
	        "  -h, --help     this help\n"
	        "\n"
	        "Exit codes: 0 ok, 1 failure (I/O), 2 usage, 3 verification "
	        "failed.\n");
}

/* Manifest strings are validated, but a listing never prints bytes from
 * a bundle raw to a terminal. */
#define ESC(s, buf) mv_escape((s), MV_ESCAPE_SHOW, (buf), sizeof(buf))

/* "16G" → bytes (K, M, G, T are powers of 1024); -1 when malformed. */
static int
parse_size(const char *s, uint64_t *out)
{
	static const char units[] = "KMGT";
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || end == s || s[0] == '-' || v == 0)
		return -1;
	if (*end != '\0') {
		const char *u = strchr(units, *end);
		if (u == NULL || end[1] != '\0')
			return -1;
		for (int i = 0; i <= u - units; i++) {
			if (v > (~0ull >> 10))
				return -1;
			v <<= 10;
		}
	}
	*out = v;
	return 0;
}

static void
print_info(const struct bundle_info *info, const char *path)
{
	char h1[32], h2[32], e1[MV_ESCAPE_BUF], e2[MV_ESCAPE_BUF],
		e3[MV_ESCAPE_BUF];

	printf("bundle     %s (%s, %s)\n", path, info->compression,
	       mv_human_bytes(info->file_size, h1, sizeof(h1)));
	printf("sha256     %s\n", info->sha256);
	printf("service    %s.%s (%s/%d)\n", ESC(info->service_name, e1),
	       ESC(info->service_namespace, e2),
	       ESC(info->service_protocol, e3), info->service_port);
	printf("sidecar    %s (%s ", ESC(info->sidecar_path, e1),
	       ESC(info->sidecar_format, e2));
	printf("%s)\n", ESC(info->sidecar_version, e3));
	printf("image      %s (%s)\n", ESC(info->image_path, e1),
	       ESC(info->image_format, e2));
	printf("content    %s in %zu files + MANIFEST.json, SHA256SUMS\n",
	       mv_human_bytes(info->content_size, h2, sizeof(h2)),
	       info->n_files);
	printf("files:\n");
	for (size_t i = 0; i < info->n_files; i++)
		printf("  %04o %12llu %.16s…  %s\n", info->files[i].mode,
		       (unsigned long long)info->files[i].size,
		       info->files[i].sha256, ESC(info->files[i].path, e1));
}

int
cmd_bundle(struct cli_ctx *ctx, int argc, char **argv)
{
	enum { O_SHA = 1, O_DEST, O_MAX_SIZE };
	static const struct option longopts[] = {
		{"sha256", required_argument, NULL, O_SHA},
		{"dest", required_argument, NULL, O_DEST},
		{"max-size", required_argument, NULL, O_MAX_SIZE},
		CLI_COMMON_LONGOPTS,
		{NULL, 0, NULL, 0}};
	struct bundle_read_options ro = {NULL, true, 0};
	struct bundle_info *info = NULL;
	struct mv_err err;
	const char *sub, *path, *dest = NULL;
	int c, rc;

	mv_err_clear(&err);
	while ((c = getopt_long(argc, argv, "hv", longopts, NULL)) != -1) {
		switch (c) {
		case O_SHA:
			if (!mv_is_sha256_hex(optarg))
				return cli_usage_error("bundle", "--sha256: expected 64 "
				                       "lower-case hex digits");
			ro.expect_sha256 = optarg;
			break;
		case O_DEST:
			dest = optarg;
			break;
		case O_MAX_SIZE:
			if (parse_size(optarg, &ro.max_size) != 0)
				return cli_usage_error("bundle", "--max-size: '%s' is "
				                       "not a size like 512M or 16G",
				                       optarg);
			break;
		case 'h':
			bundle_usage(stdout);
			return MV_EXIT_OK;
		default:
			if (cli_common_opt(ctx, c))
				break;
			bundle_usage(stderr);
			return MV_EXIT_USAGE;
		}
	}
	if (argc - optind < 1) {
		bundle_usage(stderr);
		return MV_EXIT_USAGE;
	}
	sub = argv[optind];
	if (argc - optind != 2)
		return cli_usage_error("bundle", "%s takes exactly one BUNDLE", sub);
	path = argv[optind + 1];
	ro.progress = !ctx->json;
	if (!strcmp(sub, "verify")) {
		if (dest != NULL || ro.max_size != 0)
			return cli_usage_error("bundle", "--dest and --max-size are "
			                       "for unpack");
		rc = bundle_verify(path, &ro, &info, &err);
	} else if (!strcmp(sub, "inspect")) {
		if (dest != NULL || ro.expect_sha256 != NULL || ro.max_size != 0)
			return cli_usage_error("bundle", "inspect takes no --dest, "
			                       "--sha256 or --max-size");
		rc = bundle_inspect(path, &info, &err);
	} else if (!strcmp(sub, "unpack")) {
		if (dest == NULL)
			return cli_usage_error("bundle", "unpack needs --dest DIR");
		rc = bundle_unpack(path, dest, &ro, &info, &err);
	} else {
		return cli_usage_error("bundle", "unknown action '%s' (verify, "
		                       "inspect, unpack)", sub);
	}
	if (rc != 0)
		return cli_fail(&err);
	if (ctx->json) {
		json_t *o = bundle_info_to_json(info);
		json_object_set_new(o, "bundle", json_string(path));
		if (strcmp(sub, "inspect") != 0)
			json_object_set_new(o, "verified", json_true());
		if (dest != NULL)
			json_object_set_new(o, "dest", json_string(dest));
		cli_print_json(o);
	} else if (!strcmp(sub, "inspect")) {
		print_info(info, path);
	} else {
		printf("%s: OK, %zu files verified%s%s\n", path, info->n_files + 2,
		       dest ? ", unpacked into " : "", dest ? dest : "");
		if (info->sha256[0] != '\0')
			printf("sha256 %s (as expected)\n", info->sha256);
	}
	bundle_info_free(info);
	return MV_EXIT_OK;
}
