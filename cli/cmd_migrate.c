/* cli/cmd_migrate.c - `meshvm migrate`: move the VM's service to GKE in
 * gated steps (cluster/migrate.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/session.h"
#include "cluster/migrate.h"
#include "core/log.h"
#include "core/signal.h"

enum {
	O_TOKEN = 1, O_STEPS, O_INTERVAL, O_MINSR, O_P99, O_SPEED, O_ABORT,
	O_RESUME, O_FINISH, O_PROM,
};

/* An option that overrides meshvm.yaml's migration.`key_`; CLI_INT ones
 * take a range. */
#define MIGRATE_OPT(id_, lng_, arg_, key_, help_)                            \
	{.id = (id_), .lng = (lng_), .arg = (arg_),                              \
	 .config_key = "migration." key_, .help = (help_)}
#define MIGRATE_INT_OPT(id_, lng_, arg_, lo_, hi_, key_, help_)              \
	{.id = (id_), .lng = (lng_), .arg = (arg_), .flags = CLI_INT,            \
	 .min = (lo_), .max = (hi_), .config_key = "migration." key_,            \
	 .help = (help_)}

static const struct cli_option migrate_options[] = {
	MIGRATE_OPT(O_STEPS, "steps", "LIST", "steps", "the GKE share per "
	            "step, comma-separated, ending at 100 (default 10,50,100)"),
	MIGRATE_INT_OPT(O_INTERVAL, "interval", "S", 1, 86400, "interval",
	                "seconds each step holds before its gate; also the "
	                "gate's rate window (default 60)"),
	MIGRATE_OPT(O_MINSR, "min-success-rate", "R", "min_success_rate",
	            "the lowest success rate a destination may show, 0..1 "
	            "(default 0.99)"),
	MIGRATE_INT_OPT(O_P99, "max-p99-ms", "N", 1, 3600000, "max_p99_ms",
	                "the highest p99 latency a destination may show "
	                "(default 1000)"),
	MIGRATE_OPT(O_PROM, "prometheus-url", "URL", "prometheus_url",
	            "the Prometheus HTTP API the gate queries (e.g. "
	            "http://FAKE/prom/cluster1)"),
	{.id = O_SPEED, .lng = "traffic-speed", .arg = "N", .flags = CLI_INT,
	 .min = 1, .max = 10000,
	 .help = "against `meshvm fake --traffic-speed N`: the interval is on "
	         "its traffic clock (a wait lasts interval/N)"},
	{.id = O_RESUME, .lng = "resume",
	 .help = "continue the recorded migration from its step"},
	{.id = O_ABORT, .lng = "abort",
	 .help = "return all traffic to the VM (100/0) and stop"},
	{.id = O_FINISH, .lng = "finish",
	 .help = "after 0/100: hold it one more interval, then retire the VM "
	         "side"},
	{.id = O_TOKEN, .lng = "access-token-file", .arg = "F",
	 .help = "Google access token to use (else GOOGLE_OAUTH_ACCESS_TOKEN, "
	         "GOOGLE_APPLICATION_CREDENTIALS, gcloud's ADC, GCE metadata)"},
	CLI_OPT_JSON("print the migration's record as JSON"),
	{.id = CLI_ID_VERBOSE, .lng = "verbose", .shrt = 'v',
	 .flags = CLI_REPEAT,
	 .help = "HTTP trace on stderr (tokens redacted); repeat for more"},
	CLI_OPT_HELP, {0}};

static int cmd_migrate(struct cli_ctx *ctx, const struct cli_command *cmd,
                       int argc, char **argv);

const struct cli_command cli_cmd_migrate = {
	.name = "migrate",
	.summary = "move the VM's service to GKE in gated steps",
	.description =
		"Move service.name from the VM to GKE. First the DestinationRule "
		"(subsets vm and gke) and the VirtualService productcatalog-"
		"migration at 100/0 (VM/GKE) go to every cluster and are read back "
		"equal; only then is the service's Deployment from app.manifests "
		"(labelled version=gke) deployed to migration.cluster and waited "
		"for. Then each step sets the weights in every cluster, waits the "
		"interval and gates on each destination's success rate (a 5xx or a "
		"non-zero grpc status fails a request) and p99, as the callers' "
		"sidecars report them (reporter=\"source\"), from the Prometheus at "
		"migration.prometheus_url (or one per cluster). No data fails the "
		"gate. A failed gate rolls back to the last good weights and exits "
		"4 naming the step, the metric, the value and the threshold.\n\n"
		"Progress is .meshvm/migration.json, written before every change of "
		"weights, so a killed run leaves only weights of the plan and "
		"--resume continues at the recorded step. `meshvm status` shows "
		"the weights, the step and the last gate. `up` never migrates.",
	.options = migrate_options,
	.epilog =
		"The config is the global -C FILE (default ./meshvm.yaml); options "
		"override its migration.* keys.\n\nExit codes: 0 ok (migrated, "
		"aborted, finished), 1 failure, 2 usage (also: a mode that does "
		"not fit the recorded migration), 4 a failed gate (rolled back) or "
		"a cloud error, 130 interrupted (--resume continues).",
	.run = cmd_migrate};

static int
parse_rate(const char *path, const char *s, double *out)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || *end != '\0' || !isfinite(v) || v < 0 || v > 1)
		return cli_usage_error(path, "--min-success-rate: '%s' is not a "
		                       "number from 0 to 1", s);
	*out = v;
	return 0;
}

/* 0 parsed; -1 --help printed; else the usage exit code. */
static int
parse(struct cli_ctx *ctx, const struct cli_command *cmd, int argc,
      char **argv, struct migrate_opts *o, const char **token,
      const char **steps, const char **rate)
{
	struct cli_parse p;
	int id, modes = 0;

	cli_parse_begin(&p, cmd, ctx, argc, argv);
	while ((id = cli_parse_next(&p)) > 0) {
		switch (id) {
		case O_TOKEN: *token = p.arg; break;
		case O_STEPS: *steps = p.arg; break;
		case O_INTERVAL: o->interval_s = (long)p.num; break;
		case O_MINSR: *rate = p.arg; break;
		case O_P99: o->max_p99_ms = (double)p.num; break;
		case O_SPEED: o->traffic_speed = (int)p.num; break;
		case O_PROM: o->prometheus_url = p.arg; break;
		case O_RESUME: o->mode = MIGRATE_RESUME; modes++; break;
		case O_ABORT: o->mode = MIGRATE_ABORT; modes++; break;
		case O_FINISH: o->mode = MIGRATE_FINISH; modes++; break;
		}
	}
	if (id < 0)
		return p.exit_code == 0 ? -1 : p.exit_code;
	if (modes > 1)
		return cli_usage_error(p.path, "--resume, --abort and --finish "
		                       "exclude each other");
	return 0;
}

static void
print_gate(const json_t *gate)
{
	json_t *d;
	size_t i;

	if (!json_is_object(gate))
		return;
	printf("last gate: %s\n", json_string_value(json_object_get(gate,
	                                                            "reason")));
	json_array_foreach(json_object_get(gate, "destinations"), i, d) {
		const char *cl = json_string_value(json_object_get(d, "cluster"));
		printf("  %-4s %s%s success rate %.4f  p99 %.1f ms  %.2f req/s  %s\n",
		       json_string_value(json_object_get(d, "destination")),
		       cl ? cl : "", cl ? ":" : "",
		       json_number_value(json_object_get(d, "success_rate")),
		       json_number_value(json_object_get(d, "p99_ms")),
		       json_number_value(json_object_get(d, "rps")),
		       json_is_true(json_object_get(d, "pass")) ? "ok" : "FAIL");
	}
}

static void
print_report(const json_t *rep)
{
	json_t *w = json_object_get(rep, "weights"), *v;
	size_t i;

	printf("migrate: %s at step %lld/%zu: %lld/%lld (VM/GKE)\n",
	       json_string_value(json_object_get(rep, "phase")),
	       json_integer_value(json_object_get(rep, "step")),
	       json_array_size(json_object_get(rep, "steps")),
	       json_integer_value(json_object_get(w, "vm")),
	       json_integer_value(json_object_get(w, "gke")));
	print_gate(json_object_get(rep, "gate"));
	json_array_foreach(json_object_get(rep, "retired"), i, v)
		printf("retired %s\n", json_string_value(v));
}

static int
cmd_migrate(struct cli_ctx *ctx, const struct cli_command *cmd, int argc,
            char **argv)
{
	struct migrate_opts o, given;
	const char *token = NULL, *steps = NULL, *rate = NULL;
	struct cli_session s;
	struct mv_err err;
	json_t *report = NULL;
	char path[64];
	int rc;

	memset(&given, 0, sizeof(given));
	rc = parse(ctx, cmd, argc, argv, &given, &token, &steps, &rate);
	if (rc != 0)
		return rc < 0 ? MV_EXIT_OK : rc;
	cli_command_path(cmd, path, sizeof(path));
	rc = cli_session_start(ctx, token, false, &s, &err);
	if (rc != MV_EXIT_OK)
		return rc;
	migrate_opts_from_config(s.cfg, &o);
	o.mode = given.mode;
	if (given.interval_s)
		o.interval_s = given.interval_s;
	if (given.max_p99_ms > 0)
		o.max_p99_ms = given.max_p99_ms;
	if (given.traffic_speed)
		o.traffic_speed = given.traffic_speed;
	o.prometheus_url = given.prometheus_url;
	if (o.prometheus_url && strncmp(o.prometheus_url, "http://", 7) &&
	    strncmp(o.prometheus_url, "https://", 8)) {
		cli_session_close(&s);
		return cli_usage_error(path, "--prometheus-url: '%s' is not an "
		                       "http(s) URL", o.prometheus_url);
	}
	rc = rate ? parse_rate(path, rate, &o.min_success_rate) : 0;
	if (rc == 0 && steps != NULL) {
		o.steps_given = true;
		if (migrate_steps_parse(steps, "--steps", o.steps, &o.n_steps,
		                        &err) != 0)
			rc = cli_fail(&err);
	}
	if (rc != 0) {
		cli_session_close(&s);
		return rc;
	}
	rc = migrate_run(&s.plan, &o, &report, &err);
	if (report != NULL) {
		if (ctx->json)
			cli_print_json(json_incref(report));
		else
			print_report(report);
	}
	json_decref(report);
	cli_session_close(&s);
	if (rc != 0) {
		if (err.exit_code == MV_EXIT_INTERRUPTED || mv_interrupted()) {
			mv_error("%s", err.msg);
			mv_error("interrupted: the weights are the plan's; `meshvm "
			         "migrate --resume` continues");
			return MV_EXIT_INTERRUPTED;
		}
		return cli_fail(&err);
	}
	return MV_EXIT_OK;
}
