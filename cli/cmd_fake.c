/* cli/cmd_fake.c - `meshvm fake`: serve the fake Google Cloud +
 * Kubernetes API (harness/fake) until SIGINT/SIGTERM. */
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/atomic.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "harness/fake/fake.h"

enum { O_LISTEN = 1, O_READY, O_NOAUTH, O_SAKEY, O_STATE, O_FAULTS,
       O_JOURNAL, O_SEED, O_POLLS, O_OPTIME, O_THREADS, O_CTLDELAY, O_IGRACE,
       O_MAXCONN, O_HDRTIMEOUT, O_INFLIGHT, O_WHIST, O_WHISTB, O_JBYTES,
       O_MAXUPLOAD, O_JBODIES, O_LOADSTATE, O_TLS, O_TLSSAN, O_TSPEED,
       O_LBRANGE, O_BOOTVMS, O_BOOTDIR, O_BOOTMAX, O_BOOTTIME };

static const struct cli_option fake_options[] = {
	{.id = O_LISTEN, .lng = "listen", .arg = "HOST:PORT",
	 .help = "the IPv4 address to serve on, loopback or this namespace's "
	         "own (default 127.0.0.1:0, any free port)"},
	{.id = O_TLS, .lng = "tls",
	 .help = "HTTPS on the Google API listener too; the CA goes to "
	         "READY-FILE.ca.pem"},
	{.id = O_TLSSAN, .lng = "tls-san", .arg = "NAME", .flags = CLI_REPEAT,
	 .help = "another DNS name or IP for the certificates (repeatable)"},
	{.id = O_READY, .lng = "ready-file", .arg = "FILE",
	 .help = "write the base URL there (first line) when ready"},
	{.id = O_NOAUTH, .lng = "no-auth",
	 .help = "accept any Authorization header, or none"},
	{.id = O_SAKEY, .lng = "service-account-key", .arg = "F",
	 .flags = CLI_REPEAT,
	 .help = "service-account JSON key whose JWT assertions POST /token "
	         "accepts (repeatable)"},
	{.id = O_STATE, .lng = "state", .arg = "DIR",
	 .help = "load state from DIR at start, save it at exit and on POST "
	         "/_fake/snapshot"},
	{.id = O_LOADSTATE, .lng = "load-state", .arg = "FILE",
	 .help = "start from a JSON fixture (clusters, buckets, objects, "
	         "Kubernetes objects)"},
	{.id = O_FAULTS, .lng = "faults", .arg = "PROFILE.yaml",
	 .help = "fault profile (docs/fake.md)"},
	{.id = O_JOURNAL, .lng = "journal", .arg = "FILE.jsonl",
	 .help = "append one JSON line per request"},
	{.id = O_JBODIES, .lng = "journal-bodies",
	 .help = "journal request bodies too (tokens, keys and Secret data "
	         "redacted)"},
	{.id = O_SEED, .lng = "seed", .arg = "N", .flags = CLI_INT, .min = 0,
	 .max = INT64_MAX, .help = "seed of the fault decisions (default 0)"},
	{.id = O_POLLS, .lng = "op-polls", .arg = "N", .flags = CLI_INT,
	 .min = 0, .max = 1000,
	 .help = "an operation is DONE at its N-th read at the earliest "
	         "(default 2; 1 = the first read)"},
	{.id = O_OPTIME, .lng = "op-time", .arg = "MS", .flags = CLI_INT,
	 .min = 0, .max = 86400000,
	 .help = "... and MS milliseconds after it started at the earliest "
	         "(default 0)"},
	{.id = O_THREADS, .lng = "threads", .arg = "N", .flags = CLI_INT,
	 .min = 1, .max = 256,
	 .help = "worker threads per listener (default: cores)"},
	{.id = O_MAXCONN, .lng = "max-connections", .arg = "N",
	 .flags = CLI_INT, .min = 4, .max = 100000,
	 .help = "connections per listener; at the cap the longest idle one "
	         "is closed (default 512)"},
	{.id = O_HDRTIMEOUT, .lng = "header-timeout", .arg = "S",
	 .flags = CLI_INT, .min = 1, .max = 3600,
	 .help = "seconds to send a request's headers (default 10)"},
	{.id = O_INFLIGHT, .lng = "max-inflight-bytes", .arg = "N",
	 .flags = CLI_INT, .min = 65536, .max = 1LL << 40,
	 .help = "request bodies being received, all together; past it 429 "
	         "(default 67108864)"},
	{.id = O_MAXUPLOAD, .lng = "max-upload-bytes", .arg = "N",
	 .flags = CLI_INT, .min = 1, .max = 1LL << 50,
	 .help = "one Cloud Storage upload (streamed to a temp file); past "
	         "it 413 (default 5368709120)"},
	{.id = O_WHIST, .lng = "watch-history", .arg = "N", .flags = CLI_INT,
	 .min = 1, .max = 10000000,
	 .help = "changes kept per cluster for watches (default 4096)"},
	{.id = O_WHISTB, .lng = "watch-history-bytes", .arg = "N",
	 .flags = CLI_INT, .min = 4096, .max = 1LL << 40,
	 .help = "... and their bytes at most (default 67108864)"},
	{.id = O_JBYTES, .lng = "journal-bytes", .arg = "N", .flags = CLI_INT,
	 .min = 4096, .max = 1LL << 40,
	 .help = "in-memory journal size (default 33554432)"},
	{.id = O_CTLDELAY, .lng = "controller-delay-ms", .arg = "N",
	 .flags = CLI_INT, .min = 0, .max = 3600000,
	 .help = "simulated controllers' delay: Deployments become available, "
	         "namespaces finish terminating (default 1000)"},
	{.id = O_TSPEED, .lng = "traffic-speed", .arg = "N", .flags = CLI_INT,
	 .min = 1, .max = 10000,
	 .help = "the simulated traffic's clock runs N times as fast as real "
	         "time (default 1)"},
	{.id = O_IGRACE, .lng = "istiod-grace-ms", .arg = "N",
	 .flags = CLI_INT, .min = 0, .max = 86400000,
	 .help = "the simulated istiod deletes a disconnected VM's "
	         "WorkloadEntry after N ms on the fake's clock (default 10000)"},
	{.id = O_LBRANGE, .lng = "lb-range", .arg = "CIDR",
	 .help = "IPv4 range LoadBalancer Services' addresses come from, one "
	         "per Service, none shared (default 203.0.113.0/24)"},
	{.id = O_BOOTVMS, .lng = "boot-vms",
	 .help = "boot every RUNNING instance whose boot metadata is meshvm's "
	         "as a simulated VM running the real join script in an "
	         "unprivileged sandbox (docs/fake.md)"},
	{.id = O_BOOTDIR, .lng = "boot-vms-dir", .arg = "DIR",
	 .help = "keep the simulated VMs' directories in DIR (default: a "
	         "temporary directory removed at exit)"},
	{.id = O_BOOTMAX, .lng = "boot-vms-max", .arg = "N", .flags = CLI_INT,
	 .min = 1, .max = 64,
	 .help = "simulated VMs running at once; more wait (default 4)"},
	{.id = O_BOOTTIME, .lng = "boot-timeout", .arg = "S", .flags = CLI_INT,
	 .min = 1, .max = 86400,
	 .help = "a simulated VM's boot script is killed after S seconds "
	         "(default 600)"},
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

/* With --tls, clients need the CA: next to the ready file, first. */
static int
write_ca(struct fake *f, const char *ready, struct mv_err *err)
{
	char *ca = fake_ca_pem(f), *path = mv_xstrfmt("%s.ca.pem", ready);
	int rc = ca != NULL ? mv_write_file_atomic(path, ca, strlen(ca), 0644,
	                                           err)
	                    : mv_err_set(err, MV_EXIT_FAIL, "no CA to write");

	free(ca);
	free(path);
	return rc;
}

static int
run_fake(struct cli_ctx *ctx, const struct cli_command *cmd, int argc,
         char **argv)
{
	struct fake_options o;
	const char **keys = NULL, **sans = NULL;
	const char *ready = NULL, *fixture = NULL;
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
		case O_LISTEN: o.listen = p.arg; break;
		case O_READY: ready = p.arg; break;
		case O_NOAUTH: o.no_auth = true; break;
		case O_SAKEY:
			keys = mv_xreallocarray(keys, o.n_sa_key_files + 1,
			                        sizeof(*keys));
			keys[o.n_sa_key_files++] = p.arg;
			o.sa_key_files = keys;
			break;
		case O_TLS: o.tls = true; break;
		case O_TLSSAN:
			sans = mv_xreallocarray(sans, o.n_tls_san + 1, sizeof(*sans));
			sans[o.n_tls_san++] = p.arg;
			o.tls_san = sans;
			break;
		case O_STATE: o.state_dir = p.arg; break;
		case O_LOADSTATE: fixture = p.arg; break;
		case O_FAULTS: o.faults_file = p.arg; break;
		case O_JOURNAL: o.journal_file = p.arg; break;
		case O_JBODIES: o.journal_bodies = true; break;
		case O_SEED: o.seed = (uint64_t)p.num; break;
		case O_POLLS: o.op_polls = (int)p.num; break;
		case O_OPTIME: o.op_time_ms = (int)p.num; break;
		case O_THREADS: o.threads = (int)p.num; break;
		case O_CTLDELAY: o.controller_delay_ms = (int)p.num; break;
		case O_IGRACE: o.istiod_grace_ms = (int)p.num; break;
		case O_LBRANGE: o.lb_range = p.arg; break;
		case O_MAXCONN: o.max_connections = (int)p.num; break;
		case O_HDRTIMEOUT: o.header_timeout = (int)p.num; break;
		case O_INFLIGHT: o.max_inflight_bytes = (size_t)p.num; break;
		case O_MAXUPLOAD: o.max_upload_bytes = (size_t)p.num; break;
		case O_WHIST: o.watch_events = (int)p.num; break;
		case O_WHISTB: o.watch_bytes = (size_t)p.num; break;
		case O_JBYTES: o.journal_bytes = (size_t)p.num; break;
		case O_TSPEED: o.traffic_speed = (int)p.num; break;
		case O_BOOTVMS: o.boot_vms = true; break;
		case O_BOOTDIR: o.boot_vms_dir = p.arg; break;
		case O_BOOTMAX: o.boot_vms_max = (int)p.num; break;
		case O_BOOTTIME: o.boot_timeout_s = (int)p.num; break;
		}
	}
	if (id < 0) {
		free(keys);
		free(sans);
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
		free(sans);
		fake_free(f);
		return cli_fail(&err);
	}
	if ((fixture != NULL && fake_load_fixture(f, fixture, &err) != 0) ||
	    (ready != NULL && o.tls && write_ca(f, ready, &err) != 0)) {
		free(keys);
		free(sans);
		fake_stop(f, NULL);
		fake_free(f);
		return cli_fail(&err);
	}
	free(keys);
	free(sans);
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
