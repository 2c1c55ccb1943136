/* cli/options.c - parsing, help and the dump, all from the tables (see
 * options.h). */
#include "cli/options.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/log.h"
#include "core/progress.h"

#define HELP_WIDTH 79
#define HELP_COLUMN 26

void
cli_command_path(const struct cli_command *cmd, char *buf, size_t len)
{
	if (cmd->group != NULL)
		snprintf(buf, len, "%s %s", cmd->group, cmd->name);
	else
		snprintf(buf, len, "%s", cmd->name ? cmd->name : "");
}

int
cli_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "meshvm%s%s: ", cmd[0] ? " " : "", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (try `meshvm%s%s --help`)\n", cmd[0] ? " " : "", cmd);
	return MV_EXIT_USAGE;
}

size_t
cli_option_values(const struct cli_option *o, const char **out, size_t cap)
{
	size_t n = 0;

	if (cap == 0)
		return 0;
	if (o->values_fn != NULL) {
		n = o->values_fn(out, cap - 1);
	} else if (o->values != NULL) {
		while (o->values[n] != NULL && n + 1 < cap) {
			out[n] = o->values[n];
			n++;
		}
	}
	out[n] = NULL;
	return n;
}

static size_t
count_options(const struct cli_option *opts)
{
	size_t n = 0;

	while (opts != NULL && opts[n].id != 0)
		n++;
	return n;
}

void
cli_parse_begin(struct cli_parse *p, const struct cli_command *cmd,
                struct cli_ctx *ctx, int argc, char **argv)
{
	char *s;

	memset(p, 0, sizeof(*p));
	p->cmd = cmd;
	p->ctx = ctx;
	p->argc = argc;
	p->argv = argv;
	cli_command_path(cmd, p->path, sizeof(p->path));
	p->n_opts = count_options(cmd->options);
	if (p->n_opts > CLI_MAX_OPTIONS)
		abort(); /* a table bigger than CLI_MAX_OPTIONS: raise it */
	s = p->shortopts;
	if (cmd->stop_at_operand)
		*s++ = '+';
	*s++ = ':'; /* a missing argument returns ':', not '?' */
	for (size_t i = 0; i < p->n_opts; i++) {
		const struct cli_option *o = &cmd->options[i];
		p->longopts[i] = (struct option){
			o->lng, o->arg ? required_argument : no_argument, NULL,
			256 + (int)i};
		if (o->shrt != 0) {
			*s++ = o->shrt;
			if (o->arg != NULL)
				*s++ = ':';
		}
	}
	*s = '\0';
	p->longopts[p->n_opts] = (struct option){NULL, 0, NULL, 0};
	optind = 0; /* glibc: full reinitialisation */
	opterr = 0; /* our messages, not getopt's */
}

static const struct cli_option *
option_by_val(const struct cli_parse *p, int val, size_t *idx)
{
	for (size_t i = 0; i < p->n_opts; i++) {
		const struct cli_option *o = &p->cmd->options[i];
		if ((val >= 256 && (size_t)(val - 256) == i) ||
		    (val < 256 && val > 0 && o->shrt == val)) {
			*idx = i;
			return o;
		}
	}
	return NULL;
}

static void
option_name(const struct cli_option *o, char *buf, size_t len)
{
	if (o->lng != NULL)
		snprintf(buf, len, "--%s", o->lng);
	else
		snprintf(buf, len, "-%c", o->shrt);
}

static int
stop(struct cli_parse *p, int exit_code)
{
	p->exit_code = exit_code;
	p->done = true;
	p->result = -1;
	return -1;
}

static int
check_value(struct cli_parse *p, const struct cli_option *o)
{
	const char *vals[CLI_MAX_VALUES];
	size_t n = cli_option_values(o, vals, CLI_MAX_VALUES);
	char name[64], list[512];
	size_t used = 0;

	option_name(o, name, sizeof(name));
	if (n > 0) {
		for (size_t i = 0; i < n; i++)
			if (strcmp(vals[i], p->arg) == 0)
				return 0;
		list[0] = '\0';
		for (size_t i = 0; i < n && used < sizeof(list); i++)
			used += (size_t)snprintf(list + used, sizeof(list) - used,
			                         "%s%s", i ? ", " : "", vals[i]);
		cli_usage_error(p->path, "%s: '%s' is not one of %s", name, p->arg,
		                list);
		return -1;
	}
	if (o->flags & CLI_INT) {
		char *end;
		errno = 0;
		p->num = strtoll(p->arg, &end, 10);
		if (errno != 0 || end == p->arg || *end != '\0' || p->num < o->min ||
		    p->num > o->max) {
			cli_usage_error(p->path, "%s: '%s' is not an integer in "
			                "%lld..%lld", name, p->arg, o->min, o->max);
			return -1;
		}
	}
	return 0;
}

static bool
operand_variadic(const char *name)
{
	size_t n = strlen(name);
	return n >= 3 && strcmp(name + n - 3, "...") == 0;
}

static int
finish(struct cli_parse *p)
{
	const struct cli_operand *ops = p->cmd->operands;
	size_t want = 0;
	bool variadic = false;
	char name[64];

	p->done = true;
	p->operands = p->argv + optind;
	p->n_operands = p->argc - optind;
	for (size_t i = 0; i < p->n_opts; i++) {
		const struct cli_option *o = &p->cmd->options[i];
		if ((o->flags & CLI_REQUIRED) && !p->seen[i]) {
			option_name(o, name, sizeof(name));
			return stop(p, cli_usage_error(p->path, "%s %s is required",
			                               name, o->arg ? o->arg : ""));
		}
	}
	while (ops != NULL && ops[want].name != NULL) {
		if (operand_variadic(ops[want].name))
			variadic = true;
		else if (p->n_operands <= (int)want)
			return stop(p, cli_usage_error(p->path, "missing %s",
			                               ops[want].name));
		want++;
	}
	if (variadic)
		return 0;
	if ((size_t)p->n_operands > want)
		return stop(p, cli_usage_error(p->path, "unexpected argument '%s'",
		                               p->operands[want]));
	return 0;
}

int
cli_parse_next(struct cli_parse *p)
{
	if (p->done)
		return p->result;
	for (;;) {
		const struct cli_option *o;
		size_t idx = 0;
		int c = getopt_long(p->argc, p->argv, p->shortopts, p->longopts,
		                    NULL);

		if (c == -1)
			return finish(p) == 0 ? 0 : -1;
		if (c == '?') {
			if (optopt > 0 && optopt < 256)
				return stop(p, cli_usage_error(p->path, "unknown option "
				                               "'-%c'", optopt));
			return stop(p, cli_usage_error(p->path, "unknown option '%s'",
			                               p->argv[optind - 1]));
		}
		if (c == ':') {
			char name[64];
			o = option_by_val(p, optopt, &idx);
			if (o == NULL)
				return stop(p, cli_usage_error(p->path, "an option needs "
				                               "an argument"));
			option_name(o, name, sizeof(name));
			return stop(p, cli_usage_error(p->path, "%s needs an argument "
			                               "(%s)", name, o->arg));
		}
		o = option_by_val(p, c, &idx);
		if (o == NULL)
			return stop(p, cli_usage_error(p->path, "unknown option"));
		p->seen[idx] = true;
		p->opt = o;
		p->arg = o->arg ? optarg : NULL;
		p->num = 0;
		switch (o->id) {
		case CLI_ID_HELP:
			cli_print_help(stdout, p->cmd);
			return stop(p, MV_EXIT_OK);
		case CLI_ID_VERBOSE:
			p->ctx->verbose++;
			mv_log_set_level(p->ctx->verbose >= 2 ? MV_LOG_TRACE
			                                      : MV_LOG_DEBUG);
			continue;
		case CLI_ID_JSON:
			p->ctx->json = true;
			mv_progress_set_enabled(false);
			continue;
		default:
			break;
		}
		if (p->arg != NULL && check_value(p, o) != 0)
			return stop(p, MV_EXIT_USAGE);
		return o->id;
	}
}

int
cli_dispatch(struct cli_ctx *ctx, const struct cli_command *group, int argc,
             char **argv)
{
	const char *sub = argc > 1 ? argv[1] : NULL;
	char path[64];

	cli_command_path(group, path, sizeof(path));
	if (sub == NULL) {
		cli_print_help(stderr, group);
		return MV_EXIT_USAGE;
	}
	if (sub[0] == '-') { /* the group's own options: --help */
		struct cli_parse p;
		int id;
		cli_parse_begin(&p, group, ctx, 2, argv);
		while ((id = cli_parse_next(&p)) > 0)
			;
		if (id < 0)
			return p.exit_code;
	}
	for (size_t i = 0; group->subcommands[i] != NULL; i++) {
		const struct cli_command *c = group->subcommands[i];
		if (strcmp(c->name, sub) == 0)
			return c->run(ctx, c, argc - 1, argv + 1);
	}
	if (sub[0] == '-')
		return cli_usage_error(path, "expected an action before '%s'", sub);
	return cli_usage_error(path, "unknown action '%s'", sub);
}

/* --- help ------------------------------------------------------------- */

/* Print `text` word-wrapped: the first line continues at column `col`,
 * later lines are indented to `indent`. */
static void
wrap(FILE *out, const char *text, size_t col, size_t indent)
{
	const char *p = text;

	while (*p) {
		const char *w = p;
		size_t n;

		while (*w == ' ')
			w++;
		n = strcspn(w, " \n");
		if (col > indent && col + 1 + n > HELP_WIDTH) {
			fprintf(out, "\n%*s", (int)indent, "");
			col = indent;
		} else if (col > indent) {
			fputc(' ', out);
			col++;
		}
		fwrite(w, 1, n, out);
		col += n;
		p = w + n;
		if (*p == '\n') {
			fputc('\n', out);
			p++;
			if (*p == '\n') { /* paragraph break */
				fputc('\n', out);
				p++;
			}
			fprintf(out, "%*s", (int)indent, "");
			col = indent;
		}
	}
	fputc('\n', out);
}

/* "  LEFT      text", the text wrapped at HELP_COLUMN (on its own line
 * when LEFT is too wide). */
static void
print_row(FILE *out, const char *left, const char *text)
{
	int len = fprintf(out, "  %s", left);

	if (len + 1 >= HELP_COLUMN)
		fprintf(out, "\n%*s", HELP_COLUMN, "");
	else
		fprintf(out, "%*s", HELP_COLUMN - len, "");
	wrap(out, text, HELP_COLUMN, HELP_COLUMN);
}

static void
print_option(FILE *out, const struct cli_option *o)
{
	const char *vals[CLI_MAX_VALUES];
	size_t n = cli_option_values(o, vals, CLI_MAX_VALUES);
	char left[96], help[1024];
	size_t used;

	snprintf(left, sizeof(left), "%s%s%s%s%s%s",
	               o->shrt ? (char[]){'-', o->shrt, '\0'} : "",
	               o->shrt && o->lng ? ", " : "", o->lng ? "--" : "",
	               o->lng ? o->lng : "", o->arg ? " " : "",
	               o->arg ? o->arg : "");
	used = (size_t)snprintf(help, sizeof(help), "%s", o->help);
	for (size_t i = 0; i < n && used < sizeof(help); i++)
		used += (size_t)snprintf(help + used, sizeof(help) - used, "%s%s%s",
		                         i ? "|" : " (", vals[i],
		                         i + 1 == n ? ")" : "");
	if ((o->flags & CLI_REQUIRED) && used < sizeof(help))
		used += (size_t)snprintf(help + used, sizeof(help) - used,
		                         " (required)");
	if (o->config_key != NULL && used < sizeof(help))
		snprintf(help + used, sizeof(help) - used, " (overrides %s)",
		         o->config_key);
	print_row(out, left, help);
}

static bool
in_synopsis(const struct cli_option *o)
{
	return !(o->flags & CLI_HIDDEN) && o->id != CLI_ID_HELP &&
	       o->id != CLI_ID_VERBOSE;
}

void
cli_synopsis(const struct cli_command *cmd, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
#define ADD(...)                                                             \
	do {                                                                 \
		if (used < len)                                              \
			used += (size_t)snprintf(buf + used, len - used,      \
			                         __VA_ARGS__);                 \
	} while (0)
	if (cmd->subcommands != NULL) {
		for (size_t i = 0; cmd->subcommands[i] != NULL; i++)
			ADD("%s%s", i ? "|" : "", cmd->subcommands[i]->name);
		ADD(" [options]");
		return;
	}
	for (size_t i = 0; cmd->options && cmd->options[i].id != 0; i++) {
		const struct cli_option *o = &cmd->options[i];
		bool req = o->flags & CLI_REQUIRED;
		if (!in_synopsis(o))
			continue;
		if (o->shrt != 0 && req)
			ADD("%s-%c%s%s", used ? " " : "", o->shrt, o->arg ? " " : "",
			    o->arg ? o->arg : "");
		else
			ADD("%s%s--%s%s%s%s", used ? " " : "", req ? "" : "[", o->lng,
			    o->arg ? " " : "", o->arg ? o->arg : "", req ? "" : "]");
	}
	for (size_t i = 0; cmd->operands && cmd->operands[i].name; i++)
		ADD("%s%s", used ? " " : "", cmd->operands[i].name);
#undef ADD
}

void
cli_print_help(FILE *out, const struct cli_command *cmd)
{
	char path[64], syn[1024];

	cli_command_path(cmd, path, sizeof(path));
	cli_synopsis(cmd, syn, sizeof(syn));
	fprintf(out, "usage: meshvm %s", path);
	wrap(out, syn, strlen("usage: meshvm ") + strlen(path), 9);
	if (cmd->description != NULL) {
		fputc('\n', out);
		wrap(out, cmd->description, 0, 0);
	}
	if (cmd->subcommands != NULL) {
		fprintf(out, "\nactions:\n");
		for (size_t i = 0; cmd->subcommands[i] != NULL; i++) {
			const struct cli_command *c = cmd->subcommands[i];
			fprintf(out, "  %-10s ", c->name);
			wrap(out, c->summary, 13, 13);
		}
		fprintf(out, "\n`meshvm %s ACTION --help` for one action.\n", path);
	}
	if (cmd->operands != NULL && cmd->operands[0].name != NULL) {
		fprintf(out, "\n");
		for (size_t i = 0; cmd->operands[i].name != NULL; i++)
			print_row(out, cmd->operands[i].name, cmd->operands[i].help);
	}
	if (count_options(cmd->options) > 0) {
		fprintf(out, "\noptions:\n");
		for (size_t i = 0; cmd->options[i].id != 0; i++)
			if (!(cmd->options[i].flags & CLI_HIDDEN))
				print_option(out, &cmd->options[i]);
	}
	if (cmd->epilog != NULL) {
		fputc('\n', out);
		wrap(out, cmd->epilog, 0, 0);
	}
}

void
cli_print_program_help(FILE *out, const struct cli_program *prog)
{
	fprintf(out, "usage: %s [-C FILE] [-v] <command> [options]\n\n%s\n\n"
	        "commands:\n", prog->name, prog->summary);
	for (size_t i = 0; prog->commands[i] != NULL; i++) {
		fprintf(out, "  %-10s ", prog->commands[i]->name);
		wrap(out, prog->commands[i]->summary, 13, 13);
	}
	fprintf(out, "\nglobal options:\n");
	for (size_t i = 0; prog->global_options[i].id != 0; i++)
		if (!(prog->global_options[i].flags & CLI_HIDDEN))
			print_option(out, &prog->global_options[i]);
	fprintf(out, "\n`%s <command> --help` for one command.\n\nenvironment:\n",
	        prog->name);
	for (size_t i = 0; prog->environment[i].name != NULL; i++)
		print_row(out, prog->environment[i].name,
		          prog->environment[i].meaning);
	fprintf(out, "\nexit codes:\n");
	for (size_t i = 0; prog->exit_codes[i].meaning != NULL; i++)
		fprintf(out, "  %-4d %s\n", prog->exit_codes[i].code,
		        prog->exit_codes[i].meaning);
}

/* --- the dump ---------------------------------------------------------- */

static json_t *
options_json(const struct cli_option *opts)
{
	json_t *a = json_array();

	for (size_t i = 0; opts != NULL && opts[i].id != 0; i++) {
		const struct cli_option *o = &opts[i];
		const char *vals[CLI_MAX_VALUES];
		size_t n = cli_option_values(o, vals, CLI_MAX_VALUES);
		json_t *v = json_array();
		char shrt[2] = {o->shrt, '\0'};

		if (o->flags & CLI_HIDDEN) {
			json_decref(v);
			continue;
		}
		for (size_t j = 0; j < n; j++)
			json_array_append_new(v, json_string(vals[j]));
		json_array_append_new(
			a, json_pack("{s:s,s:s,s:s,s:s,s:s,s:o}", "long",
			             o->lng ? o->lng : "", "short", shrt, "arg",
			             o->arg ? o->arg : "", "help", o->help,
			             "config_key", o->config_key ? o->config_key : "",
			             "values", v));
	}
	return a;
}

static json_t *
command_json(const struct cli_command *cmd)
{
	json_t *subs = json_array(), *ops = json_array();
	char syn[1024];

	cli_synopsis(cmd, syn, sizeof(syn));
	for (size_t i = 0; cmd->subcommands && cmd->subcommands[i]; i++)
		json_array_append_new(subs, command_json(cmd->subcommands[i]));
	for (size_t i = 0; cmd->operands && cmd->operands[i].name; i++)
		json_array_append_new(ops, json_pack("{s:s,s:s}", "name",
		                                     cmd->operands[i].name, "help",
		                                     cmd->operands[i].help));
	return json_pack("{s:s,s:s,s:s,s:s,s:o,s:o,s:o}", "name", cmd->name,
	                 "summary", cmd->summary, "synopsis", syn, "description",
	                 cmd->description ? cmd->description : "", "options",
	                 options_json(cmd->options), "subcommands", subs,
	                 "operands", ops);
}

json_t *
cli_dump_json(const struct cli_program *prog)
{
	json_t *cmds = json_array(), *codes = json_array(), *env = json_array();

	for (size_t i = 0; prog->commands[i] != NULL; i++)
		json_array_append_new(cmds, command_json(prog->commands[i]));
	for (size_t i = 0; prog->exit_codes[i].meaning != NULL; i++)
		json_array_append_new(codes, json_pack("{s:i,s:s}", "code",
		                                       prog->exit_codes[i].code,
		                                       "meaning",
		                                       prog->exit_codes[i].meaning));
	for (size_t i = 0; prog->environment[i].name != NULL; i++)
		json_array_append_new(env, json_pack("{s:s,s:s}", "name",
		                                     prog->environment[i].name,
		                                     "meaning",
		                                     prog->environment[i].meaning));
	return json_pack("{s:s,s:s,s:s,s:o,s:o,s:o,s:o}", "program", prog->name,
	                 "version", prog->version, "summary", prog->summary,
	                 "global_options", options_json(prog->global_options),
	                 "commands", cmds, "exit_codes", codes, "environment",
	                 env);
}
