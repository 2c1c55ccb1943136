/* cli/cli.h - shared by the subcommand front-ends. Only cli/ prints to
 * stdout and decides exit codes. */
#ifndef MESHVM_CLI_H
#define MESHVM_CLI_H

#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>

#include "core/err.h"

struct cli_ctx {
	const char *config; /* -C FILE (global) */
	int verbose;        /* -v count */
	bool json;          /* --json */
	bool color;         /* stdout is a terminal and NO_COLOR unset */
};

/* Long-option ids shared by every subcommand. */
enum { CLI_OPT_JSON = 1000, CLI_OPT_HELP_ALL };

#define CLI_COMMON_LONGOPTS                                                  \
	{"help", no_argument, NULL, 'h'},                                    \
	{"verbose", no_argument, NULL, 'v'},                                 \
	{"json", no_argument, NULL, CLI_OPT_JSON}

/* Handle -v/--json; returns true when the option was one of them. */
bool cli_common_opt(struct cli_ctx *ctx, int opt);

/* Print a usage error ("meshvm CMD: ...; try --help"); returns 2. */
int cli_usage_error(const char *cmd, const char *fmt, ...) MV_PRINTF(2, 3);
/* Print err (every line prefixed), return its exit code. */
int cli_fail(const struct mv_err *err);
/* Print a JSON document on stdout (steals the reference). */
void cli_print_json(json_t *doc);

int cmd_bake(struct cli_ctx *ctx, int argc, char **argv);
int cmd_bundle(struct cli_ctx *ctx, int argc, char **argv);
int cmd_init(struct cli_ctx *ctx, int argc, char **argv);
int cmd_plan(struct cli_ctx *ctx, int argc, char **argv);
int cmd_up(struct cli_ctx *ctx, int argc, char **argv);
int cmd_down(struct cli_ctx *ctx, int argc, char **argv);
int cmd_status(struct cli_ctx *ctx, int argc, char **argv);
int cmd_adopt(struct cli_ctx *ctx, int argc, char **argv);
int cmd_fake(struct cli_ctx *ctx, int argc, char **argv);
int cmd_cloudinit(struct cli_ctx *ctx, int argc, char **argv);

#endif
