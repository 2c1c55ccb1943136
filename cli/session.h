/* cli/session.h - what plan/up/down/status share: the config (-C), the
 * state (locked), one HTTP client, the Google token source. */
#ifndef MESHVM_CLI_SESSION_H
#define MESHVM_CLI_SESSION_H

#include "cli/cli.h"
#include "cluster/gcp.h"
#include "cluster/plan.h"

struct cli_session {
	struct mv_config *cfg;
	struct mv_state *state;
	struct mv_http *http;
	struct gcp_auth *auth;
	struct gcp gcp;
	struct plan_ctx plan;
};

int cli_session_open(struct cli_ctx *cli, const char *token_file,
                     bool create_state, struct cli_session *s,
                     struct mv_err *err);
/* What a command that changes things does first: clear err, install the
 * signal handlers (Ctrl-C finishes the state write in hand, then exit 130),
 * open the session.  MV_EXIT_OK, or the failure printed, s closed and the
 * exit code returned. */
int cli_session_start(struct cli_ctx *cli, const char *token_file,
                      bool create_state, struct cli_session *s,
                      struct mv_err *err);
/* plan, status: no lock (see mv_state_open_readonly). */
int cli_session_open_readonly(struct cli_ctx *cli, const char *token_file,
                              struct cli_session *s, struct mv_err *err);
void cli_session_close(struct cli_session *s);
/* "up in progress (pid N)" on stderr when a run holds the state's lock. */
void cli_note_busy(const struct cli_session *s);

/* .meshvm/kubeconfig (malloc'd). */
char *cli_kubeconfig_path(const struct cli_session *s);
/* With `warn`, say on stderr when the kubeconfig's token is (nearly)
 * expired; with `out`, record its expiry there. */
void cli_note_kubeconfig(const struct cli_session *s, bool warn, json_t *out);
/* After `up`: put a fresh explicit token into the kubeconfig's token
 * users (cluster/kubeconfig.h). */
int cli_refresh_kubeconfig(struct cli_session *s, struct mv_err *err);

/* The doctor's checks (cli/cmd_doctor.c) as the first phase of plan/up:
 * warnings on stderr; a failed check is an error (exit 4). */
int cli_preflight(struct cli_ctx *cli, struct cli_session *s,
                  struct mv_err *err);

/* --token-duration and --join-timeout (up, launch). */
#define CLI_OPT_TOKEN_DURATION(id_)                                          \
	{.id = (id_), .lng = "token-duration", .arg = "D",                   \
	 .help = "lifetime of the Istio token the VMs get (10m..168h, e.g. "  \
	         "24h; default vm.token_duration)"}
#define CLI_OPT_JOIN_TIMEOUT(id_)                                            \
	{.id = (id_), .lng = "join-timeout", .arg = "D",                     \
	 .help = "how long to wait for the VMs to join (1s..24h, e.g. 10m; "  \
	         "default 15m)"}
/* Parse them: 0, or the usage error printed and -1. */
int cli_parse_token_duration(const char *cmd, const char *arg, long *secs);
int cli_parse_join_timeout(const char *cmd, const char *arg, long *secs);
/* Apply them (0: keep the config's) to the session's config. */
void cli_session_launch_options(struct cli_session *s, long token_s,
                                long join_s);

/* Print a plan report (steps, states, actions, drift) for humans. */
void cli_print_plan(const struct cli_ctx *cli, const json_t *report);

#endif
