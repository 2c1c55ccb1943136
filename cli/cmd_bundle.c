/* cli/cmd_bundle.c - `meshvm bundle verify|inspect|unpack`. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bake/bundle.h"
#include "cli/cli.h"
#include "core/escape.h"
#include "core/progress.h"

/* Manifest strings are validated, but a listing never prints bytes from
 * a bundle raw to a terminal. */
#define ESC(s, buf) mv_escape((s), MV_ESCAPE_SHOW, (buf), sizeof(buf))

/* "16G" -> bytes (K, M, G, T are powers of 1024); -1 when malformed. */
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

enum { O_SHA = 1, O_DEST, O_MAX_SIZE };

#define OPT_SHA                                                              \
	{.id = O_SHA, .lng = "sha256", .arg = "HEX",                         \
	 .help = "expected sha256 of the bundle file (64 hex digits)"}

static const struct cli_option verify_options[] = {
	OPT_SHA, CLI_OPT_JSON("print the result as JSON"), CLI_OPT_VERBOSE,
	CLI_OPT_HELP, {0}};
static const struct cli_option inspect_options[] = {
	CLI_OPT_JSON("print the manifest as JSON"), CLI_OPT_VERBOSE,
	CLI_OPT_HELP, {0}};
static const struct cli_option unpack_options[] = {
	{.id = O_DEST, .lng = "dest", .arg = "DIR", .flags = CLI_REQUIRED,
	 .help = "destination directory, absent or empty"},
	{.id = O_MAX_SIZE, .lng = "max-size", .arg = "SIZE",
	 .help = "refuse a bundle whose manifest lists more than SIZE bytes "
	         "(K, M, G, T: powers of 1024; default 16G); more than DIR's "
	         "free space is refused too"},
	OPT_SHA, CLI_OPT_JSON("print the result as JSON"), CLI_OPT_VERBOSE,
	CLI_OPT_HELP, {0}};
static const struct cli_option group_options[] = {CLI_OPT_HELP, {0}};

static const struct cli_operand bundle_operand[] = {
	{"BUNDLE", "a bundle written by `meshvm bake`"}, {NULL, NULL}};

#define EXIT_CODES                                                           \
	"Exit codes: 0 ok, 1 failure (I/O), 2 usage, 3 verification failed."

static int run_bundle(struct cli_ctx *ctx, const struct cli_command *cmd,
                      int argc, char **argv);

static const struct cli_command verify_cmd = {
	.name = "verify", .group = "bundle",
	.summary = "check digests, sizes and modes of every entry",
	.description =
		"Read the bundle once: the whole-file digest (with --sha256), the "
		"manifest (first entry), every entry's size, digest and mode; "
		"nothing listed missing, nothing unlisted present, no duplicates, "
		"SHA256SUMS consistent with the manifest. The first problem is "
		"reported naming the entry.",
	.options = verify_options, .operands = bundle_operand,
	.epilog = EXIT_CODES, .run = run_bundle};

static const struct cli_command inspect_cmd = {
	.name = "inspect", .group = "bundle",
	.summary = "show the manifest and the bundle's digest",
	.description = "Print the service, sidecar, image, files, sizes and the "
	               "bundle's digest without checking the entries.",
	.options = inspect_options, .operands = bundle_operand,
	.epilog = EXIT_CODES, .run = run_bundle};

static const struct cli_command unpack_cmd = {
	.name = "unpack", .group = "bundle",
	.summary = "verify while extracting into an empty directory",
	.description =
		"Verify while extracting into a staging directory inside DIR "
		"(absent or empty); the files appear only when everything checked "
		"out. Absolute paths, `..`, links, devices, setuid bits, "
		"duplicates and entries not in the manifest are refused.",
	.options = unpack_options, .operands = bundle_operand,
	.epilog = EXIT_CODES, .run = run_bundle};

static const struct cli_command *const bundle_subs[] = {
	&verify_cmd, &inspect_cmd, &unpack_cmd, NULL};

const struct cli_command cli_cmd_bundle = {
	.name = "bundle",
	.summary = "verify, inspect or unpack a bundle",
	.description = "Check a bundle, show what it holds, or unpack it "
	               "safely.",
	.options = group_options, .subcommands = bundle_subs,
	.epilog = EXIT_CODES};

static int
run_bundle(struct cli_ctx *ctx, const struct cli_command *cmd, int argc,
           char **argv)
{
	struct bundle_read_options ro = {NULL, true, 0};
	struct bundle_info *info = NULL;
	struct mv_err err;
	struct cli_parse p;
	const char *sub = cmd->name, *path, *dest = NULL;
	int id, rc;

	mv_err_clear(&err);
	cli_parse_begin(&p, cmd, ctx, argc, argv);
	while ((id = cli_parse_next(&p)) > 0) {
		switch (id) {
		case O_SHA:
			if (!mv_is_sha256_hex(p.arg))
				return cli_usage_error(p.path, "--sha256: expected 64 "
				                       "lower-case hex digits");
			ro.expect_sha256 = p.arg;
			break;
		case O_DEST:
			dest = p.arg;
			break;
		case O_MAX_SIZE:
			if (parse_size(p.arg, &ro.max_size) != 0)
				return cli_usage_error(p.path, "--max-size: '%s' is not a "
				                       "size like 512M or 16G", p.arg);
			break;
		}
	}
	if (id < 0)
		return p.exit_code;
	path = p.operands[0];
	ro.progress = !ctx->json;
	if (cmd == &verify_cmd)
		rc = bundle_verify(path, &ro, &info, &err);
	else if (cmd == &inspect_cmd)
		rc = bundle_inspect(path, &info, &err);
	else
		rc = bundle_unpack(path, dest, &ro, &info, &err);
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
