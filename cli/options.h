/* cli/options.h - every command and option of the CLI as data.
 *
 * One `struct cli_command` per command (and per subcommand, e.g. `bundle
 * verify`) lists its options, operands and help text.  Parsing (the
 * getopt_long arrays are built from the table), `--help`, the synopsis, the
 * errors for unknown options, missing arguments, values outside a closed set
 * or a numeric range, missing required options and wrong operand counts, and
 * `meshvm --dump-cli` (/work/wt/CLI_JSON.md) all come from these tables.
 * Adding an option is one row in the command's table and one `case` where the
 * command reads it.
 *
 *     static const struct cli_option bake_opts[] = {
 *             {.id = O_FILE, .lng = "file", .shrt = 'f', .arg = "FILE",
 *              .help = "bundle spec", .flags = CLI_REQUIRED},
 *             CLI_OPT_JSON("print the result as JSON"),
 *             CLI_OPT_VERBOSE, CLI_OPT_HELP, {0}};
 *     const struct cli_command cli_cmd_bake = {.name = "bake", ...,
 *             .options = bake_opts, .run = run_bake};
 *
 *     struct cli_parse p;
 *     int id;
 *     cli_parse_begin(&p, cmd, ctx, argc, argv);
 *     while ((id = cli_parse_next(&p)) > 0)
 *             switch (id) { case O_FILE: file = p.arg; break; ... }
 *     if (id < 0)
 *             return p.exit_code;   // help printed (0) or usage error (2)
 *     // operands: p.operands[0 .. p.n_operands-1]
 */
#ifndef MESHVM_CLI_OPTIONS_H
#define MESHVM_CLI_OPTIONS_H

#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "core/err.h"

struct cli_ctx;

enum cli_opt_flags {
	CLI_REQUIRED = 1 << 0, /* the command fails (exit 2) without it */
	CLI_REPEAT = 1 << 1,   /* may be given more than once */
	CLI_INT = 1 << 2,      /* the argument is an integer in [min, max] */
	CLI_HIDDEN = 1 << 3,   /* parsed, not in --help nor the dump */
};

/* Ids the parser handles itself (never returned by cli_parse_next).
 * Commands number their own options from 1. */
enum { CLI_ID_HELP = 10000, CLI_ID_VERBOSE, CLI_ID_JSON };

/* A closed set of values that is only known at run time (e.g. the steps of
 * the plan): fill out[0..cap-1], return the count. */
typedef size_t (*cli_values_fn)(const char **out, size_t cap);

struct cli_option {
	int id;               /* > 0, unique in the table; 0 ends the table */
	const char *lng;      /* long name without "--" */
	char shrt;            /* short letter, or 0 */
	const char *arg;      /* metavariable ("FILE"); NULL: takes no argument */
	const char *help;     /* one line, no closed set in it (it is added) */
	const char *config_key; /* the meshvm.yaml key it overrides, or NULL */
	const char *const *values; /* closed set, NULL-ended, or NULL */
	cli_values_fn values_fn;   /* closed set computed at run time */
	long long min, max;        /* CLI_INT range */
	unsigned flags;            /* enum cli_opt_flags */
};

struct cli_operand {
	const char *name; /* "BUNDLE"; NULL ends the list */
	const char *help;
};

struct cli_command {
	const char *name;        /* "verify" */
	const char *group;       /* "bundle" for a subcommand, else NULL */
	const char *summary;     /* one line */
	const char *description; /* paragraphs, "\n\n" between them */
	const struct cli_option *options;   /* ends with {0} */
	const struct cli_operand *operands; /* ends with {NULL}; NULL = none */
	const struct cli_command *const *subcommands; /* NULL-ended, or NULL */
	/* After the options in --help (exit codes, environment). */
	const char *epilog;
	int (*run)(struct cli_ctx *ctx, const struct cli_command *cmd, int argc,
	           char **argv);
	/* Options only before the first operand (the global options stop at
	 * the command's name). */
	bool stop_at_operand;
};

/* Rows every command shares (the parser handles them). */
#define CLI_OPT_HELP                                                         \
	{.id = CLI_ID_HELP, .lng = "help", .shrt = 'h', .help = "this help"}
#define CLI_OPT_VERBOSE                                                      \
	{.id = CLI_ID_VERBOSE, .lng = "verbose", .shrt = 'v',                \
	 .help = "more detail on stderr (repeat for traces)",                \
	 .flags = CLI_REPEAT}
#define CLI_OPT_JSON(helptext)                                               \
	{.id = CLI_ID_JSON, .lng = "json", .help = (helptext)}

#define CLI_MAX_OPTIONS 48
#define CLI_MAX_VALUES 64

struct cli_parse {
	/* set by cli_parse_next */
	const struct cli_option *opt; /* the option just parsed */
	const char *arg;              /* its argument, or NULL */
	long long num;                /* its value, for CLI_INT */
	int exit_code;                /* when cli_parse_next returned -1 */
	char **operands;              /* after the last option */
	int n_operands;
	/* private */
	const struct cli_command *cmd;
	struct cli_ctx *ctx;
	int argc;
	char **argv;
	bool seen[CLI_MAX_OPTIONS];
	bool done;
	int result; /* what cli_parse_next returns once done */
	size_t n_opts;
	struct option longopts[CLI_MAX_OPTIONS + 1];
	char shortopts[3 * CLI_MAX_OPTIONS + 3];
	char path[64];
};

/* "bundle verify" or "bake": how messages name the command. */
void cli_command_path(const struct cli_command *cmd, char *buf, size_t len);

void cli_parse_begin(struct cli_parse *p, const struct cli_command *cmd,
                     struct cli_ctx *ctx, int argc, char **argv);
/* > 0: an option id (p->opt, p->arg, p->num); 0: done, operands checked
 * against the table and required options present; -1: stop and return
 * p->exit_code (0 after --help, 2 after a usage error, already printed). */
int cli_parse_next(struct cli_parse *p);

/* A command with subcommands: pick one from argv[1] and run it (argv
 * shifted by one), or print the group's help. */
int cli_dispatch(struct cli_ctx *ctx, const struct cli_command *group,
                 int argc, char **argv);

/* The closed set of an option (static values or values_fn), NULL-ended
 * into out[cap]; returns the count (0 when the set is open). */
size_t cli_option_values(const struct cli_option *o, const char **out,
                         size_t cap);

/* --help text of one command, rendered from its table. */
void cli_print_help(FILE *out, const struct cli_command *cmd);
/* "[-o FILE] [--force] BUNDLE" from the table. */
void cli_synopsis(const struct cli_command *cmd, char *buf, size_t len);

/* Print "meshvm CMD: <message> (try `meshvm CMD --help`)" on stderr and
 * return 2. */
int cli_usage_error(const char *cmd, const char *fmt, ...) MV_PRINTF(2, 3);

/* The whole program, for `meshvm --help` and `meshvm --dump-cli`. */
struct cli_exit_code {
	int code;
	const char *meaning;
};
struct cli_env_var {
	const char *name;
	const char *meaning;
};
struct cli_program {
	const char *name;    /* "meshvm" */
	const char *version;
	const char *summary;
	const struct cli_option *global_options; /* ends with {0} */
	const struct cli_command *const *commands; /* NULL-ended */
	const struct cli_exit_code *exit_codes;  /* ends with {0, NULL} */
	const struct cli_env_var *environment;  /* ends with {NULL} */
};

void cli_print_program_help(FILE *out, const struct cli_program *prog);
/* The document CLI_JSON.md specifies (new reference). */
json_t *cli_dump_json(const struct cli_program *prog);

#endif
