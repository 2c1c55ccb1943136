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
void cli_session_close(struct cli_session *s);

/* The doctor's checks (cli/cmd_doctor.c) as the first phase of plan/up:
 * warnings on stderr; a failed check is an error (exit 4). */
int cli_preflight(struct cli_ctx *cli, struct cli_session *s,
                  struct mv_err *err);

/* Print a plan report (steps, states, actions, drift) for humans. */
void cli_print_plan(const struct cli_ctx *cli, const json_t *report);

#endif
