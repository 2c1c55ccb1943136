/* cli/cmd_cloudinit.c - `meshvm cloudinit seed|userdata|validate`. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cloudinit/cloudinit.h"
#include "core/progress.h"

enum {
	O_BUNDLE = 1, O_TOKEN, O_OUTPUT, O_IID, O_HOST, O_NETCFG, O_EXTRA,
	O_RUNTIME, O_TIMEOUT, O_URL, O_AGENT, O_STORAGE
};

static const char *const agent_values[] = {
	"cloud-init", "startup-script", NULL};

static const char *const runtime_values[] = {
	"auto", "docker", "podman", "containerd", "none", NULL};

#define OPT_BUNDLE                                                           \
	{.id = O_BUNDLE, .lng = "bundle", .arg = "BUNDLE", .flags = CLI_REQUIRED, \
	 .help = "bundle from `meshvm bake` (verified first)"}
#define OPT_OUTPUT(what)                                                     \
	{.id = O_OUTPUT, .lng = "output", .shrt = 'o', .arg = "FILE",        \
	 .flags = CLI_REQUIRED, .help = what " to write, atomically"}
#define OPT_EXTRA                                                            \
	{.id = O_EXTRA, .lng = "user-data-extra", .arg = "FILE",             \
	 .help = "a cloud-config or a script, added as a MIME part"}
#define OPT_RUNTIME                                                          \
	{.id = O_RUNTIME, .lng = "runtime", .arg = "R",                      \
	 .values = runtime_values,                                           \
	 .help = "how the VM loads the image (default auto)"}
#define OPT_TIMEOUT                                                          \
	{.id = O_TIMEOUT, .lng = "ready-timeout", .arg = "S", .flags = CLI_INT, \
	 .min = 1, .max = CLOUDINIT_READY_TIMEOUT_MAX,                       \
	 .help = "seconds to wait for :15021/healthz/ready (default 120)"}

static const struct cli_option seed_options[] = {
	OPT_BUNDLE,
	{.id = O_TOKEN, .lng = "token-file", .arg = "TOKEN",
	 .flags = CLI_REQUIRED,
	 .help = "the istio token (a JWT), read from this file only"},
	OPT_OUTPUT("ISO"),
	{.id = O_IID, .lng = "instance-id", .arg = "ID",
	 .help = "meta-data instance-id (default meshvm-<digest>)"},
	{.id = O_HOST, .lng = "hostname", .arg = "NAME",
	 .help = "meta-data local-hostname (default: the service)"},
	{.id = O_NETCFG, .lng = "network-config", .arg = "FILE",
	 .help = "NoCloud network-config (v1 or v2 YAML)"},
	OPT_EXTRA, OPT_RUNTIME, OPT_TIMEOUT,
	CLI_OPT_JSON("print the result as JSON"), CLI_OPT_VERBOSE, CLI_OPT_HELP,
	{0}};

static const struct cli_option userdata_options[] = {
	OPT_BUNDLE,
	{.id = O_URL, .lng = "bundle-url", .arg = "URL", .flags = CLI_REQUIRED,
	 .help = "where the VM fetches the bundle (https:// or "
	         "gs://BUCKET/OBJECT)"},
	OPT_OUTPUT("user-data"),
	{.id = O_AGENT, .lng = "agent", .arg = "A", .values = agent_values,
	 .help = "the image's boot agent: cloud-init reads the metadata key "
	         "user-data (default); Google's guest agent (Debian, RHEL, Rocky "
	         "images) runs startup-script, the same join as a #!/bin/sh "
	         "script"},
	{.id = O_STORAGE, .lng = "storage-url", .arg = "URL",
	 .help = "Cloud Storage JSON API base the VM fetches a gs:// bundle "
	         "from (a private or restricted endpoint; default "
	         "https://storage.googleapis.com/storage/v1)"},
	OPT_EXTRA, OPT_RUNTIME, OPT_TIMEOUT,
	CLI_OPT_JSON("also print metadata.items for instances.insert"),
	CLI_OPT_VERBOSE, CLI_OPT_HELP, {0}};

static const struct cli_option validate_options[] = {
	CLI_OPT_JSON("print {file, valid, errors}"), CLI_OPT_VERBOSE,
	CLI_OPT_HELP, {0}};
static const struct cli_option group_options[] = {CLI_OPT_HELP, {0}};

static const struct cli_operand validate_operand[] = {
	{"FILE", "user-data: a #cloud-config or a MIME multipart"},
	{NULL, NULL}};

static int run_seed(struct cli_ctx *ctx, const struct cli_command *cmd,
                    int argc, char **argv);
static int run_userdata(struct cli_ctx *ctx, const struct cli_command *cmd,
                        int argc, char **argv);
static int run_validate(struct cli_ctx *ctx, const struct cli_command *cmd,
                        int argc, char **argv);

static const struct cli_command seed_cmd = {
	.name = "seed", .group = "cloudinit",
	.summary = "NoCloud seed ISO: the VM needs no network",
	.description =
		"Write a NoCloud seed ISO (volume id cidata, Rock Ridge + Joliet) "
		"holding user-data, meta-data, optional network-config, "
		"meshvm/bundle and meshvm/istio-token: the VM joins the mesh with "
		"no network.",
	.options = seed_options,
	.epilog = "Exit codes: 0 ok, 1 failure, 2 usage, 3 the bundle failed "
	          "verification.",
	.run = run_seed};

static const struct cli_command userdata_cmd = {
	.name = "userdata", .group = "cloudinit",
	.summary = "GCE user-data; the bundle comes from a URL",
	.description =
		"Write GCE user-data that fetches the bundle from URL (https:// "
		"or gs://BUCKET/OBJECT) and pins its sha256; the token comes at "
		"boot from the metadata key meshvm-istio-token. GCE's metadata "
		"limits (256 KiB a value, 512 KiB in all) are checked before "
		"anything is written.",
	.options = userdata_options,
	.epilog = "Exit codes: 0 ok, 1 failure (incl. a metadata limit), 2 "
	          "usage, 3 the bundle failed verification.",
	.run = run_userdata};

static const struct cli_command validate_cmd = {
	.name = "validate", .group = "cloudinit",
	.summary = "offline checks of a user-data file",
	.description =
		"Check user-data offline: a #cloud-config or a MIME multipart "
		"whose cloud-config parts get the same checks. YAML parses; "
		"top-level keys known to cloud-init; write_files with absolute "
		"paths, quoted octal permissions and no owner but root; "
		"runcmd/bootcmd lists; power_state.mode; size within GCE's 256 KiB "
		"per value. Every problem is printed as FILE:LINE:COL: reason.",
	.options = validate_options, .operands = validate_operand,
	.epilog = "Exit codes: 0 valid, 1 unreadable, 2 usage, 3 invalid.",
	.run = run_validate};

static const struct cli_command *const cloudinit_subs[] = {
	&seed_cmd, &userdata_cmd, &validate_cmd, NULL};

const struct cli_command cli_cmd_cloudinit = {
	.name = "cloudinit",
	.summary = "NoCloud seed, GCE user-data, validate",
	.description = "Turn a bundle into cloud-init metadata that makes a "
	               "fresh VM join the mesh on its first boot and on every "
	               "boot after, or check user-data offline.",
	.options = group_options, .subcommands = cloudinit_subs};

static json_t *
seed_json(const struct cloudinit_seed_result *r, const char *path)
{
	json_t *o = json_object(), *files = json_array();
	char mode[8];

	json_object_set_new(o, "seed", json_string(path));
	json_object_set_new(o, "volume_id", json_string("cidata"));
	json_object_set_new(o, "size", json_integer((json_int_t)r->iso_size));
	snprintf(mode, sizeof(mode), "%04o", r->iso_mode);
	json_object_set_new(o, "mode", json_string(mode));
	json_object_set_new(o, "bundle_sha256", json_string(r->bundle_sha256));
	json_object_set_new(o, "instance_id", json_string(r->instance_id));
	json_object_set_new(o, "hostname", json_string(r->hostname));
	for (size_t i = 0; i < r->n_files; i++) {
		json_t *f = json_object();
		snprintf(mode, sizeof(mode), "%04o", r->files[i].mode);
		json_object_set_new(f, "path", json_string(r->files[i].path));
		json_object_set_new(f, "mode", json_string(mode));
		json_object_set_new(f, "size",
		                    json_integer((json_int_t)r->files[i].size));
		json_array_append_new(files, f);
	}
	json_object_set_new(o, "files", files);
	return o;
}

static json_t *
error_lines(const struct mv_err *err)
{
	json_t *a = json_array();

	for (const char *it = mv_err_next(err, NULL); it;
	     it = mv_err_next(err, it))
		json_array_append_new(a, json_string(it));
	return a;
}

/* The options seed and userdata share. */
struct ci_opts {
	const char *bundle, *token, *out, *iid, *host, *netcfg, *extra,
	           *runtime, *url, *agent, *storage;
	int timeout;
};

/* 0: parsed; -1: --help printed; else the usage exit code. */
static int
parse(struct cli_ctx *ctx, const struct cli_command *cmd, int argc,
      char **argv, struct ci_opts *o, struct cli_parse *p)
{
	struct mv_err err;
	int id;

	memset(o, 0, sizeof(*o));
	cli_parse_begin(p, cmd, ctx, argc, argv);
	while ((id = cli_parse_next(p)) > 0) {
		switch (id) {
		case O_BUNDLE: o->bundle = p->arg; break;
		case O_TOKEN: o->token = p->arg; break;
		case O_OUTPUT: o->out = p->arg; break;
		case O_IID: o->iid = p->arg; break;
		case O_HOST: o->host = p->arg; break;
		case O_NETCFG: o->netcfg = p->arg; break;
		case O_EXTRA: o->extra = p->arg; break;
		case O_RUNTIME:
			mv_err_clear(&err);
			if (cloudinit_runtime_check(p->arg, &err) != 0)
				return cli_usage_error(p->path, "%s", err.msg);
			o->runtime = p->arg;
			break;
		case O_TIMEOUT: o->timeout = (int)p->num; break;
		case O_URL: o->url = p->arg; break;
		case O_AGENT: o->agent = p->arg; break;
		case O_STORAGE:
			mv_err_clear(&err);
			if (cloudinit_storage_url_check(p->arg, &err) != 0)
				return cli_usage_error(p->path, "%s", err.msg);
			o->storage = p->arg;
			break;
		}
	}
	return id < 0 ? (p->exit_code == 0 ? -1 : p->exit_code) : 0;
}

static int
run_seed(struct cli_ctx *ctx, const struct cli_command *cmd, int argc,
         char **argv)
{
	struct cloudinit_seed_options so = {0};
	struct cloudinit_seed_result res;
	struct cli_parse p;
	struct ci_opts o;
	struct mv_err err;
	char h[32];
	int rc = parse(ctx, cmd, argc, argv, &o, &p);

	if (rc != 0)
		return rc < 0 ? MV_EXIT_OK : rc;
	mv_err_clear(&err);
	so.bundle_path = o.bundle;
	so.token_path = o.token;
	so.instance_id = o.iid;
	so.hostname = o.host;
	so.network_config = o.netcfg;
	so.extra_path = o.extra;
	so.runtime = o.runtime;
	so.ready_timeout = o.timeout;
	if (cloudinit_seed_write(&so, o.out, &res, &err) != 0)
		return cli_fail(&err);
	if (!strcmp(o.out, "-")) /* the data took stdout */
		dup2(STDERR_FILENO, STDOUT_FILENO);
	if (ctx->json) {
		cli_print_json(seed_json(&res, o.out));
		return MV_EXIT_OK;
	}
	printf("seed       %s (%s, volume cidata)\n", o.out,
	       mv_human_bytes(res.iso_size, h, sizeof(h)));
	printf("bundle     sha256 %s (pinned)\n", res.bundle_sha256);
	printf("instance   %s, hostname %s\n", res.instance_id, res.hostname);
	printf("files:\n");
	for (size_t i = 0; i < res.n_files; i++)
		printf("  %04o %12llu  %s\n", res.files[i].mode,
		       (unsigned long long)res.files[i].size, res.files[i].path);
	return MV_EXIT_OK;
}

static int
run_userdata(struct cli_ctx *ctx, const struct cli_command *cmd, int argc,
             char **argv)
{
	struct cloudinit_userdata_options uo = {0};
	struct cloudinit_userdata_result res;
	struct cli_parse p;
	struct ci_opts o;
	struct mv_err err;
	int rc = parse(ctx, cmd, argc, argv, &o, &p);

	if (rc != 0)
		return rc < 0 ? MV_EXIT_OK : rc;
	mv_err_clear(&err);
	uo.bundle_path = o.bundle;
	uo.bundle_url = o.url;
	uo.extra_path = o.extra;
	uo.runtime = o.runtime;
	uo.ready_timeout = o.timeout;
	uo.agent = o.agent;
	uo.storage_url = o.storage;
	if (cloudinit_gce_userdata(&uo, o.out, &res, &err) != 0)
		return cli_fail(&err);
	if (!strcmp(o.out, "-")) /* the data took stdout */
		dup2(STDERR_FILENO, STDOUT_FILENO);
	if (ctx->json) {
		json_t *j = json_object(), *md = json_object();
		json_object_set_new(j, "user_data", json_string(o.out));
		json_object_set_new(j, "agent",
		                    json_string(o.agent ? o.agent : "cloud-init"));
		json_object_set_new(j, "key", json_string(res.key));
		json_object_set_new(j, "bytes",
		                    json_integer((json_int_t)res.user_data_bytes));
		json_object_set_new(j, "bundle_sha256",
		                    json_string(res.bundle_sha256));
		json_object_set_new(j, "bundle_url", json_string(o.url));
		json_object_set_new(j, "metadata_bytes",
		                    json_integer((json_int_t)res.metadata_bytes));
		json_object_set_new(md, "items", res.items);
		json_object_set_new(j, "metadata", md);
		cli_print_json(j);
		return MV_EXIT_OK;
	}
	json_decref(res.items);
	printf("%-10s %s (%zu bytes)\n", res.key, o.out, res.user_data_bytes);
	printf("bundle     %s, sha256 %s (pinned)\n", o.url, res.bundle_sha256);
	printf("metadata   %zu of %u bytes; the token goes in key %s at "
	       "launch\n", res.metadata_bytes, CLOUDINIT_GCE_TOTAL_MAX,
	       CLOUDINIT_TOKEN_KEY);
	return MV_EXIT_OK;
}

static int
run_validate(struct cli_ctx *ctx, const struct cli_command *cmd, int argc,
             char **argv)
{
	struct cli_parse p;
	struct ci_opts o;
	struct mv_err err;
	const char *file;
	int rc = parse(ctx, cmd, argc, argv, &o, &p);

	if (rc != 0)
		return rc < 0 ? MV_EXIT_OK : rc;
	mv_err_clear(&err);
	file = p.operands[0];
	rc = cloudinit_validate_file(file, &err);
	if (rc != 0 && err.exit_code != MV_EXIT_VERIFY)
		return cli_fail(&err);
	if (ctx->json) {
		json_t *j = json_object();
		json_object_set_new(j, "file", json_string(file));
		json_object_set_new(j, "valid", json_boolean(rc == 0));
		json_object_set_new(j, "errors",
		                    rc == 0 ? json_array() : error_lines(&err));
		cli_print_json(j);
		mv_err_free(&err);
		return rc == 0 ? MV_EXIT_OK : MV_EXIT_VERIFY;
	}
	if (rc != 0)
		return cli_fail(&err);
	printf("%s: valid user-data\n", file);
	return MV_EXIT_OK;
}
