/* cli/cmd_cloudinit.c - `meshvm cloudinit seed|userdata|validate`. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cloudinit/cloudinit.h"
#include "core/progress.h"

static void
seed_usage(FILE *out)
{
	fprintf(out,
	        "usage: meshvm cloudinit seed --bundle BUNDLE --token-file TOKEN "
	        "-o seed.iso\n"
	        "         [--instance-id ID] [--hostname NAME] "
	        "[--network-config FILE]\n"
	        "         [--user-data-extra FILE] [--runtime R] "
	        "[--ready-timeout S] [--json]\n"
	        "\n"
	        "Write a NoCloud seed ISO (volume id cidata, Rock Ridge + "
	        "Joliet) holding\nuser-data, meta-data, optional network-config, "
	        "meshvm/bundle and\nmeshvm/istio-token: the VM joins the mesh "
	        "with no network.\n"
	        "\n"
	        "  --bundle BUNDLE         bundle from `meshvm bake` (verified "
	        "first)\n"
	        "  --token-file TOKEN      the istio token (a JWT), read from "
	        "this file only\n"
	        "  -o, --output FILE       ISO to write, atomically\n"
	        "  --instance-id ID        meta-data instance-id (default "
	        "meshvm-<digest>)\n"
	        "  --hostname NAME         meta-data local-hostname (default: "
	        "the service)\n"
	        "  --network-config FILE   NoCloud network-config (v1 or v2 "
	        "YAML)\n");
	fprintf(out,
	        "  --user-data-extra FILE  a cloud-config or a script, added as "
	        "a MIME part\n"
	        "  --runtime R             auto|docker|podman|containerd|none "
	        "(default auto)\n"
	        "  --ready-timeout S       seconds to wait for "
	        ":15021/healthz/ready (default 120)\n"
	        "  --json                  print the result as JSON\n"
	        "  -h, --help              this help\n"
	        "\nExit codes: 0 ok, 1 failure, 2 usage, 3 the bundle failed "
	        "verification.\n");
}

static void
userdata_usage(FILE *out)
{
	fprintf(out,
	        "usage: meshvm cloudinit userdata --bundle BUNDLE --bundle-url "
	        "URL -o user-data\n"
	        "         [--agent cloud-init|startup-script] "
	        "[--user-data-extra FILE] [--runtime R]\n"
	        "         [--ready-timeout S] [--json]\n"
	        "\n"
	        "Write GCE user-data that fetches the bundle from URL (https:// "
	        "or\ngs://BUCKET/OBJECT) and pins its sha256; the token comes at "
	        "boot from the\nmetadata key meshvm-istio-token.  GCE's "
	        "metadata limits (256 KiB a value,\n512 KiB in all) are checked "
	        "before anything is written.\n"
	        "\n"
	        "  --bundle BUNDLE         bundle from `meshvm bake` (verified "
	        "first)\n"
	        "  --bundle-url URL        where the VM fetches it\n"
	        "  -o, --output FILE       user-data to write, atomically\n"
	        "  --agent A               cloud-init (metadata key user-data, "
	        "default) or\n"
	        "                          startup-script (Google's guest agent: "
	        "Debian, RHEL,\n"
	        "                          Rocky images): the same join as a "
	        "#!/bin/sh script\n"
	        "  --user-data-extra FILE  a cloud-config or a script, added as "
	        "a MIME part\n"
	        "  --runtime R             auto|docker|podman|containerd|none "
	        "(default auto)\n"
	        "  --ready-timeout S       seconds to wait for "
	        ":15021/healthz/ready (default 120)\n"
	        "  --json                  also print metadata.items for "
	        "instances.insert\n"
	        "                          (one of user-data, startup-script)\n"
	        "  -h, --help              this help\n"
	        "\nExit codes: 0 ok, 1 failure (incl. a metadata limit), 2 "
	        "usage, 3 the bundle\nfailed verification.\n");
}

static void
validate_usage(FILE *out)
{
	fprintf(out,
	        "usage: meshvm cloudinit validate FILE [--json]\n"
	        "\n"
	        "Check user-data offline: a #cloud-config or a MIME multipart "
	        "whose\ncloud-config parts get the same checks.  YAML parses; "
	        "top-level keys known\nto cloud-init; write_files with absolute "
	        "paths, quoted octal permissions and\nno owner but root; "
	        "runcmd/bootcmd lists; power_state.mode; size within\nGCE's "
	        "256 KiB per value.  Every problem is printed as FILE:LINE:COL: "
	        "reason.\n"
	        "\n"
	        "  --json       print {file, valid, errors}\n"
	        "  -h, --help   this help\n"
	        "\nExit codes: 0 valid, 1 unreadable, 2 usage, 3 invalid.\n");
}

static void
cloudinit_usage(FILE *out)
{
	fprintf(out,
	        "usage: meshvm cloudinit seed|userdata|validate [options]\n"
	        "\n"
	        "  seed       NoCloud seed ISO: the VM needs no network\n"
	        "  userdata   GCE user-data; the bundle comes from a URL\n"
	        "  validate   offline checks of a user-data file\n"
	        "\n`meshvm cloudinit ACTION --help` for one action.\n");
}

static int
parse_timeout(const char *s, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || end == s || v < 1 ||
	    v > CLOUDINIT_READY_TIMEOUT_MAX)
		return -1;
	*out = (int)v;
	return 0;
}

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
	const char *p = err->msg;

	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		json_array_append_new(a, json_stringn(p, n));
		p += n;
		if (*p == '\n')
			p++;
	}
	return a;
}

int
cmd_cloudinit(struct cli_ctx *ctx, int argc, char **argv)
{
	enum {
		O_BUNDLE = 1, O_TOKEN, O_IID, O_HOST, O_NETCFG, O_EXTRA, O_RUNTIME,
		O_TIMEOUT, O_URL, O_AGENT
	};
	static const struct option longopts[] = {
		{"bundle", required_argument, NULL, O_BUNDLE},
		{"token-file", required_argument, NULL, O_TOKEN},
		{"output", required_argument, NULL, 'o'},
		{"instance-id", required_argument, NULL, O_IID},
		{"hostname", required_argument, NULL, O_HOST},
		{"network-config", required_argument, NULL, O_NETCFG},
		{"user-data-extra", required_argument, NULL, O_EXTRA},
		{"runtime", required_argument, NULL, O_RUNTIME},
		{"ready-timeout", required_argument, NULL, O_TIMEOUT},
		{"bundle-url", required_argument, NULL, O_URL},
		{"agent", required_argument, NULL, O_AGENT},
		CLI_COMMON_LONGOPTS,
		{NULL, 0, NULL, 0}};
	const char *bundle = NULL, *token = NULL, *out = NULL, *iid = NULL,
	           *host = NULL, *netcfg = NULL, *extra = NULL, *runtime = NULL,
	           *url = NULL, *agent = NULL, *action;
	int timeout = 0, help = 0, c;
	struct mv_err err;

	mv_err_clear(&err);
	while ((c = getopt_long(argc, argv, "ho:v", longopts, NULL)) != -1) {
		switch (c) {
		case O_BUNDLE: bundle = optarg; break;
		case O_TOKEN: token = optarg; break;
		case 'o': out = optarg; break;
		case O_IID: iid = optarg; break;
		case O_HOST: host = optarg; break;
		case O_NETCFG: netcfg = optarg; break;
		case O_EXTRA: extra = optarg; break;
		case O_RUNTIME:
			if (cloudinit_runtime_check(optarg, &err) != 0)
				return cli_usage_error("cloudinit", "%s", err.msg);
			runtime = optarg;
			break;
		case O_TIMEOUT:
			if (parse_timeout(optarg, &timeout) != 0)
				return cli_usage_error("cloudinit", "--ready-timeout: "
				                       "expected 1..%d seconds",
				                       CLOUDINIT_READY_TIMEOUT_MAX);
			break;
		case O_URL: url = optarg; break;
		case O_AGENT:
			if (cloudinit_agent_check(optarg, &err) != 0)
				return cli_usage_error("cloudinit", "%s", err.msg);
			agent = optarg;
			break;
		case 'h': help = 1; break;
		default:
			if (cli_common_opt(ctx, c))
				break;
			cloudinit_usage(stderr);
			return MV_EXIT_USAGE;
		}
	}
	action = optind < argc ? argv[optind] : NULL;
	if (action == NULL) {
		cloudinit_usage(help ? stdout : stderr);
		return help ? MV_EXIT_OK : MV_EXIT_USAGE;
	}

	if (!strcmp(action, "seed")) {
		struct cloudinit_seed_options so = {0};
		struct cloudinit_seed_result res;
		char h[32];

		if (help) {
			seed_usage(stdout);
			return MV_EXIT_OK;
		}
		if (argc - optind != 1)
			return cli_usage_error("cloudinit seed", "unexpected argument "
			                       "'%s'", argv[optind + 1]);
		if (bundle == NULL || token == NULL || out == NULL)
			return cli_usage_error("cloudinit seed", "--bundle, "
			                       "--token-file and -o are required");
		if (url != NULL)
			return cli_usage_error("cloudinit seed", "--bundle-url is for "
			                       "userdata; the seed carries the bundle");
		if (agent != NULL)
			return cli_usage_error("cloudinit seed", "--agent is for "
			                       "userdata; a seed is read by cloud-init");
		so.bundle_path = bundle;
		so.token_path = token;
		so.instance_id = iid;
		so.hostname = host;
		so.network_config = netcfg;
		so.extra_path = extra;
		so.runtime = runtime;
		so.ready_timeout = timeout;
		if (cloudinit_seed_write(&so, out, &res, &err) != 0)
			return cli_fail(&err);
		if (!strcmp(out, "-")) /* the data took stdout */
			dup2(STDERR_FILENO, STDOUT_FILENO);
		if (ctx->json) {
			cli_print_json(seed_json(&res, out));
			return MV_EXIT_OK;
		}
		printf("seed       %s (%s, volume cidata)\n", out,
		       mv_human_bytes(res.iso_size, h, sizeof(h)));
		printf("bundle     sha256 %s (pinned)\n", res.bundle_sha256);
		printf("instance   %s, hostname %s\n", res.instance_id,
		       res.hostname);
		printf("files:\n");
		for (size_t i = 0; i < res.n_files; i++)
			printf("  %04o %12llu  %s\n", res.files[i].mode,
			       (unsigned long long)res.files[i].size,
			       res.files[i].path);
		return MV_EXIT_OK;
	}

	if (!strcmp(action, "userdata")) {
		struct cloudinit_userdata_options uo = {0};
		struct cloudinit_userdata_result res;

		if (help) {
			userdata_usage(stdout);
			return MV_EXIT_OK;
		}
		if (argc - optind != 1)
			return cli_usage_error("cloudinit userdata", "unexpected "
			                       "argument '%s'", argv[optind + 1]);
		if (bundle == NULL || url == NULL || out == NULL)
			return cli_usage_error("cloudinit userdata", "--bundle, "
			                       "--bundle-url and -o are required");
		if (token || iid || host || netcfg)
			return cli_usage_error("cloudinit userdata", "--token-file, "
			                       "--instance-id, --hostname and "
			                       "--network-config are for seed");
		uo.bundle_path = bundle;
		uo.bundle_url = url;
		uo.extra_path = extra;
		uo.runtime = runtime;
		uo.ready_timeout = timeout;
		uo.agent = agent;
		if (cloudinit_gce_userdata(&uo, out, &res, &err) != 0)
			return cli_fail(&err);
		if (!strcmp(out, "-")) /* the data took stdout */
			dup2(STDERR_FILENO, STDOUT_FILENO);
		if (ctx->json) {
			json_t *o = json_object(), *md = json_object();
			json_object_set_new(o, "user_data", json_string(out));
			json_object_set_new(o, "agent", json_string(
			                    agent ? agent : "cloud-init"));
			json_object_set_new(o, "key", json_string(res.key));
			json_object_set_new(o, "bytes",
			                    json_integer((json_int_t)res.user_data_bytes));
			json_object_set_new(o, "bundle_sha256",
			                    json_string(res.bundle_sha256));
			json_object_set_new(o, "bundle_url", json_string(url));
			json_object_set_new(o, "metadata_bytes",
			                    json_integer((json_int_t)res.metadata_bytes));
			json_object_set_new(md, "items", res.items);
			json_object_set_new(o, "metadata", md);
			cli_print_json(o);
			return MV_EXIT_OK;
		}
		json_decref(res.items);
		printf("%-10s %s (%zu bytes)\n", res.key, out,
		       res.user_data_bytes);
		printf("bundle     %s, sha256 %s (pinned)\n", url,
		       res.bundle_sha256);
		printf("metadata   %zu of %u bytes; the token goes in key %s at "
		       "launch\n", res.metadata_bytes, CLOUDINIT_GCE_TOTAL_MAX,
		       CLOUDINIT_TOKEN_KEY);
		return MV_EXIT_OK;
	}

	if (!strcmp(action, "validate")) {
		const char *file;
		int rc;

		if (help) {
			validate_usage(stdout);
			return MV_EXIT_OK;
		}
		if (argc - optind != 2)
			return cli_usage_error("cloudinit validate", "takes exactly one "
			                       "FILE");
		if (bundle || token || out || iid || host || netcfg || extra ||
		    runtime || url || timeout || agent)
			return cli_usage_error("cloudinit validate", "takes only FILE "
			                       "and --json");
		file = argv[optind + 1];
		rc = cloudinit_validate_file(file, &err);
		if (rc != 0 && err.exit_code != MV_EXIT_VERIFY)
			return cli_fail(&err);
		if (ctx->json) {
			json_t *o = json_object();
			json_object_set_new(o, "file", json_string(file));
			json_object_set_new(o, "valid", json_boolean(rc == 0));
			json_object_set_new(o, "errors",
			                    rc == 0 ? json_array() : error_lines(&err));
			cli_print_json(o);
			return rc == 0 ? MV_EXIT_OK : MV_EXIT_VERIFY;
		}
		if (rc != 0)
			return cli_fail(&err);
		printf("%s: valid user-data\n", file);
		return MV_EXIT_OK;
	}
	return cli_usage_error("cloudinit", "unknown action '%s' (seed, "
	                       "userdata, validate)", action);
}
