/* cli/cmd_fake.c - `meshvm fake`: the fake Google Cloud + Kubernetes API
 * server, in the foreground until SIGINT or SIGTERM. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/atomic.h"
#include "core/log.h"
#include "core/util.h"
#include "harness/fake/fake.h"

static void
fake_usage(FILE *out)
{
	fprintf(out,
	        "usage: meshvm fake [options]\n"
	        "\n"
	        "Serve a fake Google Cloud (GKE, Compute, Storage, serviceusage, "
	        "OAuth token,\nper-VM metadata) under one base URL on loopback, "
	        "and an HTTPS Kubernetes\nAPI per created cluster. Runs until "
	        "SIGINT or SIGTERM (exit 0). docs/fake.md\nis the guide.\n"
	        "\n"
	        "  --listen HOST:PORT        the IPv4 address to serve on, "
	        "loopback or this\n"
	        "                            namespace's own (default "
	        "127.0.0.1:0, any free port)\n"
	        "  --tls                     HTTPS on the Google API listener "
	        "too; the CA goes\n"
	        "                            to READY-FILE.ca.pem\n"
	        "  --tls-san NAME            another DNS name or IP for the "
	        "certificate\n"
	        "                            (repeatable)\n"
	        "  --ready-file FILE         write the base URL there (first "
	        "line) when ready\n"
	        "  --no-auth                 accept any Authorization header, or "
	        "none\n"
	        "  --service-account-key F   service-account JSON key whose JWT "
	        "assertions\n"
	        "                            POST /token accepts (repeatable)\n"
	        "  --state DIR               load state from DIR at start, save "
	        "it at exit\n"
	        "                            and on POST /_fake/snapshot\n"
	        "  --load-state FILE         start from a JSON fixture (clusters, "
	        "buckets,\n"
	        "                            objects, Kubernetes objects)\n"
	        "  --faults PROFILE.yaml     fault profile (docs/fake.md)\n"
	        "  --journal FILE.jsonl      append one JSON line per request\n"
	        "  --journal-bodies          journal request bodies too (tokens, "
	        "keys and Secret\n"
	        "                            data redacted)\n"
	        "  --seed N                  seed of the fault decisions "
	        "(default 0)\n"
	        "  --op-polls N              an operation is DONE at its N-th "
	        "read at the\n"
	        "                            earliest (default 2; 1 = the first "
	        "read)\n"
	        "  --op-time MS              ... and MS milliseconds after it "
	        "started at the\n"
	        "                            earliest (default 0)\n"
	        "  --threads N               worker threads per listener "
	        "(default: cores)\n"
	        "  --max-connections N       connections per listener; at the "
	        "cap the longest\n"
	        "                            idle one is closed (default 512)\n"
	        "  --header-timeout S        seconds to send a request's headers "
	        "(default 10)\n"
	        "  --max-inflight-bytes N    request bodies being received, all "
	        "together;\n"
	        "                            past it 429 (default 67108864)\n"
	        "  --watch-history N         changes kept per cluster for watches "
	        "(default 4096)\n"
	        "  --watch-history-bytes N   ... and their bytes at most "
	        "(default 67108864)\n"
	        "  --journal-bytes N         in-memory journal size (default "
	        "33554432)\n"
	        "  --controller-delay-ms N   simulated controllers' delay: "
	        "Deployments become\n"
	        "                            available, namespaces finish "
	        "terminating (default 1000)\n"
	        "  -v, --verbose             more detail on stderr\n"
	        "  -h, --help                this help\n"
	        "\n"
	        "Prints the base URL (http://127.0.0.1:PORT) on stdout when "
	        "ready.\n"
	        "Exit codes: 0 stopped by a signal, 1 failure, 2 usage.\n");
}

static int
parse_num(const char *s, long long lo, long long hi, long long *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || end == s || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

enum { O_LISTEN = 1, O_READY, O_NOAUTH, O_SAKEY, O_STATE, O_FAULTS,
       O_JOURNAL, O_SEED, O_POLLS, O_OPTIME, O_THREADS, O_CTLDELAY,
       O_MAXCONN, O_HDRTIMEOUT, O_INFLIGHT, O_WHIST, O_WHISTB, O_JBYTES,
       O_JBODIES, O_LOADSTATE, O_TLS, O_TLSSAN };
#define O_LIMIT_FIRST O_MAXCONN

/* The resource limits: one table, one message shape. */
static int
limit_opt(struct fake_options *o, int c, const char *arg)
{
	/* in the order of the O_ constants from O_LIMIT_FIRST */
	static const struct {
		const char *name;
		long long lo, hi;
	} lim[] = {
		{"--max-connections", 4, 100000},
		{"--header-timeout", 1, 3600},
		{"--max-inflight-bytes", 65536, 1LL << 40},
		{"--watch-history", 1, 10000000},
		{"--watch-history-bytes", 4096, 1LL << 40},
		{"--journal-bytes", 4096, 1LL << 40},
	};
	int i = c - O_LIMIT_FIRST;
	long long n;

	if (parse_num(arg, lim[i].lo, lim[i].hi, &n) != 0) {
		cli_usage_error("fake", "%s: expected %lld to %lld", lim[i].name,
		                lim[i].lo, lim[i].hi);
		return -1;
	}
	switch (i) {
	case 0: o->max_connections = (int)n; break;
	case 1: o->header_timeout = (int)n; break;
	case 2: o->max_inflight_bytes = (size_t)n; break;
	case 3: o->watch_events = (int)n; break;
	case 4: o->watch_bytes = (size_t)n; break;
	default: o->journal_bytes = (size_t)n; break;
	}
	return 0;
}

int
cmd_fake(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {
		{"listen", required_argument, NULL, O_LISTEN},
		{"ready-file", required_argument, NULL, O_READY},
		{"no-auth", no_argument, NULL, O_NOAUTH},
		{"service-account-key", required_argument, NULL, O_SAKEY},
		{"state", required_argument, NULL, O_STATE},
		{"faults", required_argument, NULL, O_FAULTS},
		{"journal", required_argument, NULL, O_JOURNAL},
		{"seed", required_argument, NULL, O_SEED},
		{"op-polls", required_argument, NULL, O_POLLS},
		{"op-time", required_argument, NULL, O_OPTIME},
		{"threads", required_argument, NULL, O_THREADS},
		{"controller-delay-ms", required_argument, NULL, O_CTLDELAY},
		{"max-connections", required_argument, NULL, O_MAXCONN},
		{"header-timeout", required_argument, NULL, O_HDRTIMEOUT},
		{"max-inflight-bytes", required_argument, NULL, O_INFLIGHT},
		{"watch-history", required_argument, NULL, O_WHIST},
		{"watch-history-bytes", required_argument, NULL, O_WHISTB},
		{"journal-bytes", required_argument, NULL, O_JBYTES},
		{"journal-bodies", no_argument, NULL, O_JBODIES},
		{"load-state", required_argument, NULL, O_LOADSTATE},
		{"tls", no_argument, NULL, O_TLS},
		{"tls-san", required_argument, NULL, O_TLSSAN},
		CLI_COMMON_LONGOPTS,
		{NULL, 0, NULL, 0}};
	struct fake_options o;
	const char **keys = NULL, **sans = NULL;
	const char *ready = NULL, *fixture = NULL;
	struct fake *f = NULL;
	struct mv_err err;
	sigset_t set;
	long long n;
	int c, sig, rc = MV_EXIT_OK;
	char line[96];

	mv_err_clear(&err);
	fake_options_init(&o);
	while ((c = getopt_long(argc, argv, "hv", longopts, NULL)) != -1) {
		switch (c) {
		case O_LISTEN:
			o.listen = optarg;
			break;
		case O_READY:
			ready = optarg;
			break;
		case O_NOAUTH:
			o.no_auth = true;
			break;
		case O_SAKEY: {
			const char **nk = realloc(keys, (o.n_sa_key_files + 1) *
			                                        sizeof(*nk));
			if (nk == NULL) {
				free(keys);
				return MV_EXIT_FAIL;
			}
			keys = nk;
			keys[o.n_sa_key_files++] = optarg;
			o.sa_key_files = keys;
			break;
		}
		case O_STATE:
			o.state_dir = optarg;
			break;
		case O_FAULTS:
			o.faults_file = optarg;
			break;
		case O_JOURNAL:
			o.journal_file = optarg;
			break;
		case O_JBODIES:
			o.journal_bodies = true;
			break;
		case O_LOADSTATE:
			fixture = optarg;
			break;
		case O_TLS:
			o.tls = true;
			break;
		case O_TLSSAN: {
			const char **ns = realloc(sans, (o.n_tls_san + 1) *
			                                        sizeof(*ns));
			if (ns == NULL) {
				free(keys);
				free(sans);
				return MV_EXIT_FAIL;
			}
			sans = ns;
			sans[o.n_tls_san++] = optarg;
			o.tls_san = sans;
			break;
		}
		case O_SEED:
			if (parse_num(optarg, 0, INT64_MAX, &n) != 0) {
				free(keys);
				return cli_usage_error("fake", "--seed: expected a "
				                       "non-negative integer");
			}
			o.seed = (uint64_t)n;
			break;
		case O_POLLS:
			if (parse_num(optarg, 0, 1000, &n) != 0) {
				free(keys);
				return cli_usage_error("fake", "--op-polls: expected 0 to "
				                       "1000");
			}
			o.op_polls = (int)n;
			break;
		case O_OPTIME:
			if (parse_num(optarg, 0, 86400000, &n) != 0) {
				free(keys);
				return cli_usage_error("fake", "--op-time: expected 0 to "
				                       "86400000 (ms)");
			}
			o.op_time_ms = (int)n;
			break;
		case O_THREADS:
			if (parse_num(optarg, 1, 256, &n) != 0) {
				free(keys);
				return cli_usage_error("fake", "--threads: expected 1 to "
				                       "256");
			}
			o.threads = (int)n;
			break;
		case O_CTLDELAY:
			if (parse_num(optarg, 0, 3600000, &n) != 0) {
				free(keys);
				return cli_usage_error("fake", "--controller-delay-ms: "
				                       "expected 0 to 3600000");
			}
			o.controller_delay_ms = (int)n;
			break;
		case O_MAXCONN:
		case O_HDRTIMEOUT:
		case O_INFLIGHT:
		case O_WHIST:
		case O_WHISTB:
		case O_JBYTES:
			if (limit_opt(&o, c, optarg) != 0) {
				free(keys);
				return MV_EXIT_USAGE;
			}
			break;
		case 'h':
			free(keys);
			fake_usage(stdout);
			return MV_EXIT_OK;
		default:
			if (cli_common_opt(ctx, c))
				break;
			free(keys);
			fake_usage(stderr);
			return MV_EXIT_USAGE;
		}
	}
	if (optind < argc) {
		free(keys);
		return cli_usage_error("fake", "unexpected argument '%s'",
		                       argv[optind]);
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
	free(keys);
	free(sans);
	if (fixture != NULL && fake_load_fixture(f, fixture, &err) != 0) {
		fake_stop(f, NULL);
		fake_free(f);
		return cli_fail(&err);
	}
	snprintf(line, sizeof(line), "%s\n", fake_url(f));
	/* with --tls, clients need the CA: next to the ready file, first */
	if (ready != NULL && o.tls) {
		char *ca = fake_ca_pem(f), *path = mv_strfmt("%s.ca.pem", ready);
		int wrc = ca && path ? mv_write_file_atomic(path, ca, strlen(ca),
		                                            0644, &err)
		                     : mv_err_set(&err, MV_EXIT_FAIL,
		                                  "out of memory");
		free(ca);
		free(path);
		if (wrc != 0) {
			fake_stop(f, NULL);
			fake_free(f);
			return cli_fail(&err);
		}
	}
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
