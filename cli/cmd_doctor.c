/* cli/cmd_doctor.c - `meshvm doctor`, and the same checks as the first
 * phase of `plan` and `up` (cluster/doctor). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/session.h"
#include "cluster/doctor.h"
#include "core/log.h"

enum { O_TOKEN = 1 };

static const struct cli_option doctor_options[] = {
	{.id = O_TOKEN, .lng = "access-token-file", .arg = "F",
	 .help = "Google access token to use (else GOOGLE_OAUTH_ACCESS_TOKEN, "
	         "GOOGLE_APPLICATION_CREDENTIALS, gcloud's ADC, GCE metadata)"},
	CLI_OPT_JSON("machine-readable output"),
	{.id = CLI_ID_VERBOSE, .lng = "verbose", .shrt = 'v',
	 .flags = CLI_REPEAT,
	 .help = "HTTP trace on stderr (tokens redacted); repeat for more"},
	CLI_OPT_HELP,
	{0}};

static int run_doctor(struct cli_ctx *ctx, const struct cli_command *cmd,
                      int argc, char **argv);

const struct cli_command cli_cmd_doctor = {
	.name = "doctor",
	.summary = "check credentials, APIs, quota and permissions",
	.description =
		"Check, in a second, what the first `meshvm up` needs from the "
		"project: credentials (and their source), the project, the APIs "
		"(container, compute, storage, serviceusage), quota per region "
		"(CPUS, IN_USE_ADDRESSES) and project-wide (CPUS_ALL_REGIONS, "
		"INSTANCE_TEMPLATES) against what the config creates, the "
		"permissions each step uses (with the role that grants each "
		"missing one), the nodes' service account, and kubectl and "
		"gke-gcloud-auth-plugin.\n\n"
		"Each check is ok, warn or fail, with the fix. Sends only reads. "
		"`plan` and `up` run the same checks first (--no-preflight skips "
		"them).",
	.options = doctor_options,
	.epilog = "The config is the global -C FILE (default ./meshvm.yaml).\n\n"
	          "Exit codes: 0 every check ok or warn, 1 failure, 2 usage, "
	          "4 a check failed.",
	.run = run_doctor,
};

/* Records are keyed KIND/ZONE/NAME (or KIND/NAME when global): match on
 * the record's own kind and name, wherever it lives. */
static bool
state_has(void *arg, const char *kind, const char *name)
{
	struct cli_session *s = arg;
	const char *key;
	json_t *rec;

	json_object_foreach(mv_state_resources(s->state), key, rec) {
		const char *k = mv_state_str(rec, "kind");
		const char *n = mv_state_str(rec, "name");
		const char *phase = mv_state_str(rec, "phase");
		if (k != NULL && n != NULL && phase != NULL && !strcmp(k, kind) &&
		    !strcmp(n, name) && !strcmp(phase, "created"))
			return true;
	}
	return false;
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

static int
run_doctor(struct cli_ctx *ctx, const struct cli_command *cmd, int argc,
           char **argv)
{
	const char *token_file = NULL;
	struct cli_session s;
	struct doctor_options o;
	struct doctor_report r;
	struct cli_parse p;
	struct mv_err err;
	bool failed;
	int id;

	cli_parse_begin(&p, cmd, ctx, argc, argv);
	while ((id = cli_parse_next(&p)) > 0)
		if (id == O_TOKEN)
			token_file = p.arg;
	if (id < 0)
		return p.exit_code;
	mv_err_clear(&err);
	if (cli_session_open_readonly(ctx, token_file, &s, &err) != 0) {
		cli_session_close(&s);
		return cli_fail(&err);
	}
	options_of(&s, &o);
	doctor_run(&o, &r, &err);
	failed = doctor_failed(&r);
	if (ctx->json) {
		cli_print_json(doctor_report_json(&r));
	} else {
		print_report(ctx, &r);
		printf("doctor: %s\n", failed ? "a check failed; nothing will be "
		       "created until it is fixed" : "ready for `meshvm up`");
	}
	doctor_report_free(&r);
	cli_session_close(&s);
	return failed ? MV_EXIT_CLOUD : MV_EXIT_OK;
}
