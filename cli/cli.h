/* cli/cli.h - shared by the subcommand front-ends. Only cli/ prints to
 * stdout and decides exit codes. */
#ifndef MESHVM_CLI_H
#define MESHVM_CLI_H

#include <jansson.h>
#include <stdbool.h>

#include "cli/options.h"
#include "core/err.h"

struct cli_ctx {
	const char *config; /* -C FILE (global) */
	bool config_given;  /* -C was on the command line */
	int verbose;        /* -v count */
	bool json;          /* --json */
	bool color;         /* stdout is a terminal and NO_COLOR unset */
};

/* Print every item of err (every line prefixed), free its list
 * (mv_err_free), return its exit code. */
int cli_fail(struct mv_err *err);
/* Print a JSON document on stdout (steals the reference). */
void cli_print_json(json_t *doc);

/* The command tables (cli/cmd_*.c), in the order `meshvm --help` lists
 * them. */
extern const struct cli_command cli_cmd_bake;
extern const struct cli_command cli_cmd_bundle;
extern const struct cli_command cli_cmd_cloudinit;
extern const struct cli_command cli_cmd_fake;
extern const struct cli_command cli_cmd_init;
extern const struct cli_command cli_cmd_plan;
extern const struct cli_command cli_cmd_up;
extern const struct cli_command cli_cmd_down;
extern const struct cli_command cli_cmd_status;
extern const struct cli_command cli_cmd_adopt;
extern const struct cli_command cli_cmd_doctor;
extern const struct cli_command cli_cmd_launch;
extern const struct cli_command cli_cmd_migrate;
extern const struct cli_command cli_cmd_rehearse;

#endif
