/* cli/cmd_doctor.c - `meshvm doctor`, and the same checks as the first
 * phase of `plan` and `up` (cluster/doctor). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/session.h"
#include "cluster/doctor.h"
#include "core/log.h"

enum { O_TOKEN = 1 };

static void
usage(FILE *out)
{
	fprintf(out,
	        "usage: meshvm [-C meshvm.yaml] doctor [--json] "
	        "[--access-token-file F]\n\n"
	        "Check, in a second, what the first `meshvm up` needs from the "
	        "project: credentials\n(and their source), the project, the APIs "
	        "(container, compute, storage,\nserviceusage), quota per region "
	        "(CPUS, IN_USE_ADDRESSES) and project-wide\n(CPUS_ALL_REGIONS, "
	        "INSTANCE_TEMPLATES) against what the config creates, the\n"
	        "permissions each step uses (with the role that grants each "
	        "missing one), the\nnodes' service account, and kubectl and "
	        "gke-gcloud-auth-plugin. Each check is ok,\nwarn or fail, with "
	        "the fix. Sends only reads. `plan` and `up` run the same checks\n"
	        "first (--no-preflight skips them).\n\n"
	        "  --access-token-file F  Google access token to use\n"
	        "  --json                 machine-readable output\n"
	        "  -v, --verbose          HTTP trace on stderr (tokens redacted)\n"
	        "  -h, --help             this help\n\n"
	        "Exit codes: 0 every check ok or warn, 1 failure, 2 usage, 4 a "
	        "check failed.\n");
}

static bool
state_has(void *arg, const char *kind, const char *name)
{
	struct cli_session *s = arg;
	char *key = mv_strfmt("%s/%s", kind, name);
	const char *phase = key ? mv_state_str(mv_state_get(s->state, key),
	                                       "phase") : NULL;

	free(key);
	return phase != NULL && strcmp(phase, "created") == 0;
}

static void
options_of(struct cli_session *s, struct doctor_options *o)
{
	memset(o, 0, sizeof(*o));
	o->cfg = s->cfg;
	o->gcp = &s->gcp;
	o->auth = s->auth;
	o->exists = state_has;
	o->exists_arg = s;
}

static void
print_report(const struct cli_ctx *ctx, const struct doctor_report *r)
{
	for (size_t i = 0; i < r->n; i++) {
		const struct doctor_item *it = &r->items[i];
		const char *col = !ctx->color ? ""
		                  : it->level == DOCTOR_OK ? "\033[32m"
		                  : it->level == DOCTOR_WARN ? "\033[33m"
		                                             : "\033[31m";
		printf("%s%-4s%s  %-28s %s\n", col,
		        doctor_level_name(it->level), ctx->color ? "\033[0m" : "",
		        it->check, it->detail);
		if (it->fix != NULL)
			printf("      %-28s fix: %s\n", "", it->fix);
	}
}

int
cli_preflight(struct cli_ctx *ctx, struct cli_session *s, struct mv_err *err)
{
	struct doctor_options o;
	struct doctor_report r;
	int rc = 0;

	options_of(s, &o);
	/* plan and up do not need the client tools themselves */
	o.skip_tools = true;
	doctor_run(&o, &r, err);
	if (doctor_failed(&r))
		rc = doctor_fail_err(&r, err);
	else
		for (size_t i = 0; i < r.n; i++)
			if (r.items[i].level == DOCTOR_WARN)
				mv_warn("preflight: %s: %s", r.items[i].check,
				        r.items[i].detail);
	(void)ctx;
	doctor_report_free(&r);
	return rc;
}

int
cmd_doctor(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {
		{"access-token-file", required_argument, NULL, O_TOKEN},
		CLI_COMMON_LONGOPTS,
		{NULL, 0, NULL, 0}};
	const char *token_file = NULL;
	struct cli_session s;
	struct doctor_options o;
	struct doctor_report r;
	struct mv_err err;
	bool failed;
	int c;

	while ((c = getopt_long(argc, argv, "hv", longopts, NULL)) != -1) {
		switch (c) {
		case O_TOKEN:
			token_file = optarg;
			break;
		case 'h':
			usage(stdout);
			return MV_EXIT_OK;
		default:
			if (cli_common_opt(ctx, c))
				break;
			usage(stderr);
			return MV_EXIT_USAGE;
		}
	}
	if (optind < argc)
		return cli_usage_error("doctor", "unexpected argument '%s'",
		                       argv[optind]);
	mv_err_clear(&err);
	if (cli_session_open(ctx, token_file, false, &s, &err) != 0) {
		cli_session_close(&s);
		return cli_fail(&err);
	}
	options_of(&s, &o);
	doctor_run(&o, &r, &err);
	failed = doctor_failed(&r);
	if (ctx->json)
		cli_print_json(doctor_report_json(&r));
	else {
		print_report(ctx, &r);
		printf("doctor: %s\n", failed ? "a check failed; nothing will be "
		       "created until it is fixed" : "ready for `meshvm up`");
	}
	doctor_report_free(&r);
	cli_session_close(&s);
	return failed ? MV_EXIT_CLOUD : MV_EXIT_OK;
}
