/* cli/cmd_fake.c - `meshvm fake`: the fake Google Cloud + Kubernetes API
 * server, in the foreground until SIGINT or SIGTERM. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/atomic.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "harness/fake/fake.h"

enum { O_LISTEN = 1, O_READY, O_NOAUTH, O_SAKEY, O_STATE, O_FAULTS,
       O_JOURNAL, O_SEED, O_POLLS, O_THREADS, O_CTLDELAY };

static const struct cli_option fake_options[] = {
	{.id = O_LISTEN, .lng = "listen", .arg = "HOST:PORT",
	 .help = "loopback address (default 127.0.0.1:0, any free port)"},
	{.id = O_READY, .lng = "ready-file", .arg = "FILE",
	 .help = "write the base URL there (first line) when ready"},
	{.id = O_NOAUTH, .lng = "no-auth",
	 .help = "accept any Authorization header, or none"},
	{.id = O_SAKEY, .lng = "service-account-key", .arg = "F",
	 .flags = CLI_REPEAT,
	 .help = "service-account JSON key whose JWT assertions POST /token "
	         "accepts (repeatable)"},
	{.id = O_STATE, .lng = "state", .arg = "DIR",
	 .help = "load state from DIR at start, save it at exit"},
	{.id = O_FAULTS, .lng = "faults", .arg = "PROFILE.yaml",
	 .help = "fault profile (docs/fake.md)"},
	{.id = O_JOURNAL, .lng = "journal", .arg = "FILE.jsonl",
	 .help = "append one JSON line per request"},
	{.id = O_SEED, .lng = "seed", .arg = "N", .flags = CLI_INT, .min = 0,
	 .max = INT64_MAX, .help = "seed of the fault decisions (default 0)"},
	{.id = O_POLLS, .lng = "op-polls", .arg = "N", .flags = CLI_INT,
	 .min = 0, .max = 1000,
	 .help = "reads an operation stays RUNNING (default 1)"},
	{.id = O_THREADS, .lng = "threads", .arg = "N", .flags = CLI_INT,
	 .min = 1, .max = 256,
	 .help = "worker threads per listener (default: cores)"},
	{.id = O_CTLDELAY, .lng = "controller-delay-ms", .arg = "N",
	 .flags = CLI_INT, .min = 0, .max = 3600000,
	 .help = "simulated controllers' delay: Deployments become available, "
	         "namespaces finish terminating (default 1000)"},
	CLI_OPT_VERBOSE,
	CLI_OPT_HELP,
	{0}};

static int run_fake(struct cli_ctx *ctx, const struct cli_command *cmd,
                    int argc, char **argv);

const struct cli_command cli_cmd_fake = {
	.name = "fake",
	.summary = "serve a fake Google Cloud + Kubernetes API",
	.description =
		"Serve a fake Google Cloud (GKE, Compute, Storage, serviceusage, "
		"OAuth token, per-VM metadata) under one base URL on loopback, and "
		"an HTTPS Kubernetes API per created cluster. Runs until SIGINT or "
		"SIGTERM (exit 0). docs/fake.md is the guide.",
	.options = fake_options,
	.epilog = "Prints the base URL (http://127.0.0.1:PORT) on stdout when "
	          "ready.\n\nExit codes: 0 stopped by a signal, 1 failure, 2 "
	          "usage.",
	.run = run_fake,
};

static int
run_fake(struct cli_ctx *ctx, const struct cli_command *cmd, int argc,
         char **argv)
{
	struct fake_options o;
	const char **keys = NULL;
	const char *ready = NULL;
	struct fake *f = NULL;
	struct cli_parse p;
	struct mv_err err;
	sigset_t set;
	int id, sig, rc = MV_EXIT_OK;
	char line[96];

	mv_err_clear(&err);
	fake_options_init(&o);
	cli_parse_begin(&p, cmd, ctx, argc, argv);
	while ((id = cli_parse_next(&p)) > 0) {
		switch (id) {
		case O_LISTEN:
			o.listen = p.arg;
			break;
		case O_READY:
			ready = p.arg;
			break;
		case O_NOAUTH:
			o.no_auth = true;
			break;
		case O_SAKEY:
			keys = mv_xreallocarray(keys, o.n_sa_key_files + 1,
			                        sizeof(*keys));
			keys[o.n_sa_key_files++] = p.arg;
			o.sa_key_files = keys;
			break;
		case O_STATE:
			o.state_dir = p.arg;
			break;
		case O_FAULTS:
			o.faults_file = p.arg;
			break;
		case O_JOURNAL:
			o.journal_file = p.arg;
			break;
		case O_SEED:
			o.seed = (uint64_t)p.num;
			break;
		case O_POLLS:
			o.op_polls = (int)p.num;
			break;
		case O_THREADS:
			o.threads = (int)p.num;
			break;
		case O_CTLDELAY:
			o.controller_delay_ms = (int)p.num;
			break;
		}
	}
	if (id < 0) {
		free(keys);
		return p.exit_code;
	}
	/* Signals are taken synchronously below; block them before any
	 * thread starts so every thread inherits the mask. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	if (fake_new(&o, &f, &err) != 0 || fake_start(f, &err) != 0) {
		free(keys);
		fake_free(f);
		return cli_fail(&err);
	}
	free(keys);
	snprintf(line, sizeof(line), "%s\n", fake_url(f));
	if (ready != NULL &&
	    mv_write_file_atomic(ready, line, strlen(line), 0644, &err) != 0) {
		fake_stop(f, NULL);
		fake_free(f);
		return cli_fail(&err);
	}
	fputs(line, stdout);
	fflush(stdout);
	mv_info("fake: serving on %s (SIGINT or SIGTERM stops it)",
	        fake_url(f));
	while (sigwait(&set, &sig) != 0)
		;
	mv_info("fake: %s, stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
	if (fake_stop(f, &err) != 0)
		rc = cli_fail(&err);
	fake_free(f);
	return rc;
}
