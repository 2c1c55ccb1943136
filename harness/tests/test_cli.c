/* harness/tests/test_cli.c - cli/options: parsing, --help and --dump-cli
 * all come from the tables, and agree with each other. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cluster/kubeconfig.h"
#include "cluster/plan.h"
#include "cluster/state.h"
#include "testutil.h"

/* --- the parser, on a table made here ----------------------------------- */

enum { T_FILE = 1, T_MODE, T_N, T_STEP, T_FLAG, T_KEY };

static const char *const modes[] = {"fast", "slow", NULL};

static size_t
two_values(const char **out, size_t cap)
{
	static const char *v[] = {"alpha", "beta"};
	size_t n = cap < 2 ? cap : 2;

	for (size_t i = 0; i < n; i++)
		out[i] = v[i];
	return n;
}

static const struct cli_option t_opts[] = {
	{.id = T_FILE, .lng = "file", .shrt = 'f', .arg = "FILE",
	 .help = "the input", .flags = CLI_REQUIRED},
	{.id = T_MODE, .lng = "mode", .arg = "M", .values = modes,
	 .help = "how fast"},
	{.id = T_N, .lng = "count", .arg = "N", .flags = CLI_INT, .min = 1,
	 .max = 9, .help = "how many"},
	{.id = T_STEP, .lng = "step", .arg = "S", .values_fn = two_values,
	 .help = "which step"},
	{.id = T_FLAG, .lng = "flag", .help = "a switch"},
	{.id = T_KEY, .lng = "vm-count", .arg = "N", .config_key = "vm.count",
	 .help = "VMs to run"},
	CLI_OPT_JSON("as JSON"),
	CLI_OPT_VERBOSE,
	CLI_OPT_HELP,
	{0}};

static const struct cli_operand t_operands[] = {{"INPUT", "the thing"},
                                                {NULL, NULL}};

static const struct cli_command t_cmd = {
	.name = "thing", .summary = "test", .description = "A test command.",
	.options = t_opts, .operands = t_operands};

struct parsed {
	int ids[16];
	const char *args[16];
	long long nums[16];
	int n;
	int rc;
	int exit_code;
	const char *operand;
};

static struct parsed
parse(struct cli_ctx *ctx, int argc, const char **argv)
{
	struct parsed r = {0};
	struct cli_parse p;
	char *copy[16];
	int id;

	for (int i = 0; i < argc; i++)
		copy[i] = (char *)argv[i];
	copy[argc] = NULL;
	cli_parse_begin(&p, &t_cmd, ctx, argc, copy);
	while ((id = cli_parse_next(&p)) > 0 && r.n < 16) {
		r.ids[r.n] = id;
		r.args[r.n] = p.arg;
		r.nums[r.n] = p.num;
		r.n++;
	}
	r.rc = id;
	r.exit_code = p.exit_code;
	if (id == 0 && p.n_operands > 0)
		r.operand = p.operands[0];
	return r;
}

static void
test_parse_from_table(void **state)
{
	struct cli_ctx ctx = {0};
	struct parsed r;

	(void)state;
	r = parse(&ctx, 8, (const char *[]){"thing", "-f", "a", "--mode=slow",
	                                    "--count", "7", "IN", "--json"});
	assert_int_equal(r.rc, 0);
	assert_int_equal(r.n, 3);
	assert_int_equal(r.ids[0], T_FILE);
	assert_string_equal(r.args[0], "a");
	assert_int_equal(r.ids[1], T_MODE);
	assert_string_equal(r.args[1], "slow");
	assert_int_equal(r.ids[2], T_N);
	assert_int_equal(r.nums[2], 7);
	assert_true(ctx.json); /* handled by the parser, not returned */
	assert_string_equal(r.operand, "IN");

	/* the dynamic closed set */
	r = parse(&ctx, 5, (const char *[]){"thing", "-f", "a", "--step=beta",
	                                    "IN"});
	assert_int_equal(r.rc, 0);
	assert_int_equal(r.ids[1], T_STEP);
}

static void
test_parse_refusals(void **state)
{
	struct cli_ctx ctx = {0};
	struct {
		int argc;
		const char *argv[6];
	} bad[] = {
		{3, {"thing", "--bogus", "IN"}},              /* unknown */
		{3, {"thing", "-q", "IN"}},                   /* unknown short */
		{2, {"thing", "IN"}},                         /* -f missing */
		{3, {"thing", "-f", "a"}},                    /* INPUT missing */
		{5, {"thing", "-f", "a", "IN", "EXTRA"}},     /* one too many */
		{5, {"thing", "-f", "a", "--mode=warp", "IN"}},
		{5, {"thing", "-f", "a", "--count=10", "IN"}},
		{5, {"thing", "-f", "a", "--count=3x", "IN"}},
		{5, {"thing", "-f", "a", "--step=gamma", "IN"}},
		{3, {"thing", "IN", "-f"}},                   /* needs an arg */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct parsed r = parse(&ctx, bad[i].argc, bad[i].argv);
		assert_int_equal(r.rc, -1);
		assert_int_equal(r.exit_code, MV_EXIT_USAGE);
	}
	/* --help stops with 0 */
	{
		struct parsed r = parse(&ctx, 2, (const char *[]){"thing", "-h"});
		assert_int_equal(r.rc, -1);
		assert_int_equal(r.exit_code, MV_EXIT_OK);
	}
}

static char *
help_of(const struct cli_command *cmd)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	cli_print_help(f, cmd);
	fclose(f);
	return buf;
}

static void
test_help_from_table(void **state)
{
	char *h = help_of(&t_cmd), syn[256];

	(void)state;
	cli_synopsis(&t_cmd, syn, sizeof(syn));
	assert_string_equal(syn, "-f FILE [--mode M] [--count N] [--step S] "
	                         "[--flag] [--vm-count N] [--json] INPUT");
	assert_contains(h, "usage: meshvm thing -f FILE [--mode M]");
	assert_contains(h, "A test command.");
	assert_contains(h, "  -f, --file FILE         the input (required)\n");
	assert_contains(h, "  --mode M                how fast (fast|slow)\n");
	assert_contains(h, "  --step S                which step (alpha|beta)\n");
	assert_contains(h, "  --vm-count N            VMs to run (overrides "
	                   "vm.count)\n");
	assert_contains(h, "  INPUT                   the thing\n");
	assert_contains(h, "  -h, --help              this help\n");
	free(h);
}

/* --- the real tables, through the binary -------------------------------- */

/* Long option names in a --help text: lines "  -x, --name" or
 * "  --name". */
static json_t *
help_longs(const char *help)
{
	json_t *set = json_object();
	bool in_options = false;

	for (const char *l = help; l && *l;) {
		const char *nl = strchr(l, '\n');
		size_t n = nl ? (size_t)(nl - l) : strlen(l);
		if (n >= 8 && (!strncmp(l, "options:", 8) ||
		               !strncmp(l, "global options:", 15)))
			in_options = true;
		else if (n == 0)
			in_options = false;
		else if (in_options && n > 4 && l[0] == ' ' && l[1] == ' ' &&
		         l[2] == '-') {
			const char *p = l + 2;
			if (p[1] != '-') /* "-x, --name" */
				p += 4;
			if (p[0] == '-' && p[1] == '-') {
				size_t k = strcspn(p + 2, " \n");
				char name[64];
				snprintf(name, sizeof(name), "%.*s", (int)k, p + 2);
				json_object_set_new(set, name, json_true());
			}
		}
		l = nl ? nl + 1 : l + n;
	}
	return set;
}

static void
check_command(const char *path, json_t *cmd)
{
	json_t *opts = json_object_get(cmd, "options"), *o, *subs, *s;
	json_t *from_help;
	char *out = NULL;
	size_t i;

	assert_int_equal(tu_sh(&out, "'%s' %s --help", tu_bin(), path), 0);
	assert_contains(out, "usage: meshvm");
	from_help = help_longs(out);
	/* every option of the dump is in --help ... */
	json_array_foreach(opts, i, o) {
		const char *l = json_string_value(json_object_get(o, "long"));
		if (json_object_get(from_help, l) == NULL) {
			print_error("%s: --%s is in the dump, not in --help:\n%s\n",
			            path, l, out);
			fail();
		}
		json_object_del(from_help, l);
	}
	/* ... and nothing else is */
	if (json_object_size(from_help) != 0) {
		print_error("%s: --help lists options the dump does not: %s\n", path,
		            json_dumps(from_help, 0));
		fail();
	}
	json_decref(from_help);
	free(out);
	/* an unknown option: exit 2, named, pointing at --help */
	assert_int_equal(tu_sh(&out, "'%s' %s --no-such-option </dev/null",
	                       tu_bin(), path), 2);
	assert_contains(out, "unknown option '--no-such-option'");
	assert_contains(out, "--help`");
	free(out);
	subs = json_object_get(cmd, "subcommands");
	json_array_foreach(subs, i, s) {
		char *sub = tu_fmt("%s %s", path,
		                   json_string_value(json_object_get(s, "name")));
		check_command(sub, s);
		free(sub);
	}
}

static json_t *
dump(void)
{
	char *out = NULL;
	json_t *doc;
	json_error_t je;

	assert_int_equal(tu_sh(&out, "'%s' --dump-cli 2>/dev/null", tu_bin()), 0);
	doc = json_loads(out, 0, &je);
	if (doc == NULL) {
		print_error("--dump-cli: %s\n%s\n", je.text, out);
		fail();
	}
	free(out);
	return doc;
}

static void
test_dump_matches_help(void **state)
{
	json_t *doc = dump(), *cmds, *c, *fields, *o;
	char *out = NULL;
	size_t i, j;

	(void)state;
	/* the contract's fields (CLI_JSON.md) */
	assert_string_equal(json_string_value(json_object_get(doc, "program")),
	                    "meshvm");
	assert_true(json_is_string(json_object_get(doc, "version")));
	assert_true(json_is_array(json_object_get(doc, "exit_codes")));
	assert_true(json_is_array(json_object_get(doc, "environment")));
	cmds = json_object_get(doc, "commands");
	assert_true(json_array_size(cmds) >= 9);
	json_array_foreach(cmds, i, c) {
		const char *keys[] = {"name", "summary", "synopsis", "description",
		                      "options", "subcommands", "operands"};
		for (size_t k = 0; k < 7; k++)
			assert_non_null(json_object_get(c, keys[k]));
		fields = json_object_get(c, "options");
		json_array_foreach(fields, j, o) {
			assert_true(json_is_string(json_object_get(o, "long")));
			assert_true(json_is_string(json_object_get(o, "short")));
			assert_true(json_is_string(json_object_get(o, "arg")));
			assert_true(json_is_string(json_object_get(o, "help")));
			assert_true(json_is_string(json_object_get(o, "config_key")));
			assert_true(json_is_array(json_object_get(o, "values")));
		}
		check_command(json_string_value(json_object_get(c, "name")), c);
	}
	/* the global options against `meshvm --help`; --dump-cli is hidden */
	assert_int_equal(tu_sh(&out, "'%s' --help", tu_bin()), 0);
	{
		json_t *from_help = help_longs(out);
		json_array_foreach(json_object_get(doc, "global_options"), i, o) {
			const char *l = json_string_value(json_object_get(o, "long"));
			assert_non_null(json_object_get(from_help, l));
			json_object_del(from_help, l);
		}
		assert_int_equal(json_object_size(from_help), 0);
		json_decref(from_help);
	}
	assert_null(strstr(out, "dump-cli"));
	json_array_foreach(cmds, i, c)
		assert_contains(out, json_string_value(json_object_get(c, "name")));
	free(out);
	json_decref(doc);
}

/* --until's values in the dump, in --help and in argument checking are the
 * plan's steps. */
static void
test_until_from_steps(void **state)
{
	json_t *doc = dump(), *c, *o;
	size_t n, i, j;
	const struct plan_step *const *steps = plan_steps(&n);
	char *out = NULL;
	bool found = false;

	(void)state;
	json_array_foreach(json_object_get(doc, "commands"), i, c) {
		if (strcmp(json_string_value(json_object_get(c, "name")), "up"))
			continue;
		json_array_foreach(json_object_get(c, "options"), j, o) {
			json_t *vals = json_object_get(o, "values");
			if (strcmp(json_string_value(json_object_get(o, "long")),
			           "until"))
				continue;
			found = true;
			assert_int_equal(json_array_size(vals), n);
			for (size_t k = 0; k < n; k++)
				assert_string_equal(
					json_string_value(json_array_get(vals, k)),
					steps[k]->name);
		}
	}
	assert_true(found);
	assert_int_equal(tu_sh(&out, "'%s' up --help", tu_bin()), 0);
	for (size_t k = 0; k < n; k++)
		assert_contains(out, steps[k]->name);
	free(out);
	assert_int_equal(tu_sh(&out, "'%s' up --until nosuchstep", tu_bin()), 2);
	assert_contains(out, "'nosuchstep' is not one of");
	assert_contains(out, steps[0]->name);
	free(out);
	json_decref(doc);
}

/* cli_fail prints every item of a many-problem report: 10 000 unknown
 * keys in user-data give 10 000 lines (the old 4096-byte message kept
 * about 50 and dropped the rest silently). */
static void
test_every_problem_printed(void **state)
{
	char *dir = tu_tmpdir(), *ud = tu_fmt("%s/many.user-data", dir);
	char *out = NULL;
	FILE *f = fopen(ud, "w");
	size_t lines = 0;
	json_t *doc;

	(void)state;
	assert_non_null(f);
	fputs("#cloud-config\n", f);
	for (int i = 0; i < 10000; i++)
		fprintf(f, "k%05d: 1\n", i);
	fclose(f);
	assert_int_equal(tu_sh(&out, "'%s' cloudinit validate '%s' 2>&1 "
	                       ">/dev/null", tu_bin(), ud), 3);
	for (const char *p = out; (p = strstr(p, "unknown top-level key")); p++)
		lines++;
	assert_int_equal(lines, 10000);
	assert_contains(out, "many.user-data:10001:1: unknown top-level key "
	                     "'k09999'");
	free(out);
	assert_int_equal(tu_sh(&out, "'%s' cloudinit validate --json '%s' "
	                       "2>/dev/null", tu_bin(), ud), 3);
	doc = json_loads(out, 0, NULL);
	assert_non_null(doc);
	assert_int_equal(json_array_size(json_object_get(doc, "errors")), 10000);
	json_decref(doc);
	free(out);
	tu_rmrf(dir);
	free(dir);
	free(ud);
}

/* `meshvm init` never replaces what is there without --force: not a file,
 * not a dangling symlink (access() said "absent" for that one, and the
 * rename then replaced it). */
static void
test_init_never_replaces(void **state)
{
	char *dir = tu_tmpdir(), *out = NULL, *text;

	(void)state;
	assert_int_equal(tu_sh(&out, "cd '%s' && '%s' init", dir, tu_bin()), 0);
	free(out);
	assert_int_equal(tu_sh(&out, "cd '%s' && echo mine > meshvm.yaml && "
	                       "'%s' init", dir, tu_bin()), 1);
	assert_contains(out, "exists; use --force");
	free(out);
	text = tu_fmt("%s/meshvm.yaml", dir);
	free(out = tu_read(text, NULL));
	assert_int_equal(tu_sh(&out, "cd '%s' && ln -s nowhere dangling.yaml && "
	                       "'%s' init -o dangling.yaml; test -L "
	                       "dangling.yaml", dir, tu_bin()), 0);
	assert_contains(out, "exists; use --force");
	free(out);
	assert_int_equal(tu_sh(&out, "cd '%s' && '%s' init --force && grep -q "
	                       "clusters meshvm.yaml", dir, tu_bin()), 0);
	free(out);
	free(text);
	tu_rmrf(dir);
	free(dir);
}

/* `status` and `plan` take no lock: while a run holds it they say so and
 * go on (they failed with "another meshvm run holds the lock"). */
static void
test_readers_while_up_runs(void **state)
{
	char *dir = tu_tmpdir(), *out = NULL;
	const char *cmds[] = {"status", "plan"};
	int ready[2], go[2];
	pid_t pid;
	char c;

	(void)state;
	assert_int_equal(tu_sh(&out, "cd '%s' && PROJECT_ID=demo-project '%s' init", dir,
	                       tu_bin()), 0);
	free(out);
	assert_int_equal(pipe(ready), 0);
	assert_int_equal(pipe(go), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct mv_state *st = NULL;
		struct mv_err err;
		if (mv_state_open(dir, true, &st, &err) != 0)
			_exit(1);
		(void)!write(ready[1], "x", 1);
		(void)!read(go[0], &c, 1);
		mv_state_close(st);
		_exit(0);
	}
	assert_int_equal(read(ready[0], &c, 1), 1);
	for (int i = 0; i < 2; i++) {
		char *want = tu_fmt("up in progress (pid %d)", (int)pid);
		/* nothing answers at the endpoint: the cloud call fails after */
		tu_sh(&out, "cd '%s' && MESHVM_TIMING=fast GOOGLE_OAUTH_ACCESS_TOKEN=x "
		      "MESHVM_GOOGLE_ENDPOINT=http://127.0.0.1:1 '%s' %s", dir,
		      tu_bin(), cmds[i]);
		assert_contains(out, want);
		assert_null(strstr(out, "holds the lock"));
		free(out);
		free(want);
	}
	(void)!write(go[1], "x", 1);
	waitpid(pid, NULL, 0);
	close(ready[0]);
	close(ready[1]);
	close(go[0]);
	close(go[1]);
	tu_rmrf(dir);
	free(dir);
}

/* `status` says when the kubeconfig's token has expired (before any cloud
 * call, which here fails: nothing answers). */
static void
test_status_warns_expired_kubeconfig(void **state)
{
	char *dir = tu_tmpdir(), *out = NULL;
	char *mdir = tu_fmt("%s/.meshvm", dir), *kc = tu_fmt("%s/kubeconfig", mdir);
	json_t *doc = kubeconfig_new();
	struct mv_err err;

	(void)state;
	mv_err_clear(&err);
	assert_int_equal(tu_sh(&out, "cd '%s' && PROJECT_ID=demo-project '%s' "
	                       "init", dir, tu_bin()), 0);
	free(out);
	assert_int_equal(mkdir(mdir, 0700), 0);
	kubeconfig_add_cluster(doc, "gke_demo-project_us-west1-b_cluster1",
	                       "10.0.0.1", "Q0E=", "old-token");
	assert_int_equal(kubeconfig_write(kc, doc, &err), 0);
	json_decref(doc);
	/* as if written two hours ago */
	assert_int_equal(kubeconfig_refresh_token(kc, "older-token",
	                                          time(NULL) - 7200, &err), 1);
	tu_sh(&out, "cd '%s' && MESHVM_TIMING=fast GOOGLE_OAUTH_ACCESS_TOKEN=x "
	      "MESHVM_GOOGLE_ENDPOINT=http://127.0.0.1:1 '%s' status", dir,
	      tu_bin());
	assert_contains(out, "holds a Google access token that expired by");
	assert_contains(out, "rerun `meshvm up` with a fresh token");
	free(out);
	tu_rmrf(dir);
	free(dir);
	free(mdir);
	free(kc);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_from_table),
		cmocka_unit_test(test_parse_refusals),
		cmocka_unit_test(test_help_from_table),
		cmocka_unit_test(test_dump_matches_help),
		cmocka_unit_test(test_until_from_steps),
		cmocka_unit_test(test_every_problem_printed),
		cmocka_unit_test(test_init_never_replaces),
		cmocka_unit_test(test_readers_while_up_runs),
		cmocka_unit_test(test_status_warns_expired_kubeconfig),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
