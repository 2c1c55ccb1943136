/* test_cli_docs.c - packaging/gen_cli_docs.py: the manual pages and shell
 * completions the build generates from the CLI tables (`meshvm
 * --dump-cli`) name every option of every command, and so does `--help`:
 * help, man and completion agree. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "testutil.h"

static char *
build_dir(void)
{
	char *d = strdup(tu_bin());

	*strrchr(d, '/') = '\0';
	return d;
}

/* Generate into dir from json (a file). */
static void
generate(const char *json, const char *dir)
{
	char *out = NULL;

	if (tu_sh(&out, "SOURCE_DATE_EPOCH=86400 python3 "
	          "'%s/packaging/gen_cli_docs.py' --json '%s' --out '%s'",
	          tu_src(), json, dir) != 0)
		fail_msg("gen_cli_docs.py failed: %s", out);
	free(out);
}

static char *
read_in(const char *dir, const char *rel)
{
	char *p = tu_fmt("%s/%s", dir, rel), *s = tu_read(p, NULL);

	if (s == NULL)
		fail_msg("%s is missing", p);
	free(p);
	return s;
}

/* Every option of cmd appears in its page and in both completions. */
static void
check_options(const json_t *opts, const char *page, const char *bash,
              const char *zsh)
{
	size_t i;
	json_t *o;

	json_array_foreach(opts, i, o) {
		const char *lng = json_string_value(json_object_get(o, "long"));
		const char *sh = json_string_value(json_object_get(o, "short"));
		json_t *vals = json_object_get(o, "values"), *v;
		size_t j;

		if (lng && *lng) {
			/* "--dry-run" is "\-\-dry\-run" in roff */
			char *roff = calloc(1, 4 + 2 * strlen(lng) + 1), *q = roff;
			char *w = tu_fmt("--%s", lng);
			q += sprintf(q, "\\-\\-");
			for (const char *c = lng; *c; c++) {
				if (*c == '-')
					*q++ = '\\';
				*q++ = *c;
			}
			assert_contains(page, roff);
			assert_contains(bash, w);
			assert_contains(zsh, w);
			free(roff);
			free(w);
		}
		if (sh && *sh) {
			char *roff = tu_fmt("\\fB\\-%s\\fR", sh), *w = tu_fmt("-%s", sh);
			assert_contains(page, roff);
			assert_contains(bash, w);
			assert_contains(zsh, w);
			free(roff);
			free(w);
		}
		json_array_foreach(vals, j, v) {
			/* roff escapes a value's hyphens too ("mesh\-ca") */
			const char *val = json_string_value(v);
			char *rv = calloc(1, 2 * strlen(val) + 1), *q = rv;
			for (const char *c = val; *c; c++) {
				if (*c == '-')
					*q++ = '\\';
				*q++ = *c;
			}
			assert_contains(page, rv);
			free(rv);
			assert_contains(bash, json_string_value(v));
			assert_contains(zsh, json_string_value(v));
		}
	}
}

static void
check_generated(const char *dir, const json_t *cli)
{
	char *bash = read_in(dir, "completion/meshvm.bash");
	char *zsh = read_in(dir, "completion/_meshvm");
	char *mainp = read_in(dir, "man/meshvm.1");
	json_t *c;
	size_t i;

	check_options(json_object_get(cli, "global_options"), mainp, bash, zsh);
	json_array_foreach(json_object_get(cli, "commands"), i, c) {
		const char *name = json_string_value(json_object_get(c, "name"));
		char *rel = tu_fmt("man/meshvm-%s.1", name);
		char *page = read_in(dir, rel), *gz = tu_fmt("%s.gz", rel);
		json_t *s;
		size_t j;

		assert_contains(mainp, name);
		assert_contains(bash, name);
		assert_contains(zsh, name);
		check_options(json_object_get(c, "options"), page, bash, zsh);
		json_array_foreach(json_object_get(c, "subcommands"), j, s) {
			assert_contains(page, json_string_value(json_object_get(s, "name")));
			assert_contains(bash, json_string_value(json_object_get(s, "name")));
			check_options(json_object_get(s, "options"), page, bash, zsh);
		}
		/* the installed page is the same, gzip -9n */
		assert_int_equal(tu_sh(NULL, "cd '%s' && gzip -dc %s | cmp -s - %s",
		                       dir, gz, rel), 0);
		free(gz);
		free(rel);
		free(page);
	}
	free(bash);
	free(zsh);
	free(mainp);
}

/* The generator on the contract's sample: every option everywhere, pages
 * groff accepts without a warning, a bash completion that completes. */
static void
test_sample(void **state)
{
	char *dir = tu_tmpdir(), *json = tu_fmt("%s/harness/tests/cli-sample.json",
	                                          tu_src());
	char *out = NULL;
	json_error_t je;
	json_t *cli = json_load_file(json, 0, &je);

	(void)state;
	assert_non_null(cli);
	generate(json, dir);
	check_generated(dir, cli);
	/* groff warnings (what lintian's manpage check reports) */
	assert_int_equal(tu_sh(&out, "cd '%s/man' && for f in *.1; do "
	                       "MANROFFSEQ='' man --warnings -E UTF-8 -l \"$f\" "
	                       "2>&1 >/dev/null; done", dir), 0);
	assert_string_equal(out, "");
	free(out);
	/* bash: `meshvm up --un<TAB>`, `meshvm up --until <TAB>`,
	 * `meshvm bundle <TAB>`, `meshvm bundle unpack --d<TAB>` */
	assert_int_equal(tu_sh(&out, "bash -c '. %s/completion/meshvm.bash; "
	                       "c() { COMP_WORDS=(\"$@\"); COMP_CWORD=$(($# - 1)); "
	                       "_meshvm; echo \"${COMPREPLY[*]}\"; }; "
	                       "c meshvm up --un; c meshvm up --until \"\"; "
	                       "c meshvm -C x.yaml bundle \"\"; "
	                       "c meshvm bundle unpack --d; c meshvm \"\"'", dir),
	                 0);
	assert_string_equal(out, "--until\nclusters firewall\n"
	                    "verify inspect unpack --help -h\n--dest\n"
	                    "bake bundle cloudinit doctor fake init up\n");
	free(out);
	/* zsh, when present, parses its file */
	assert_int_equal(tu_sh(NULL, "! command -v zsh >/dev/null || zsh -n "
	                       "'%s/completion/_meshvm'", dir), 0);
	json_decref(cli);
	tu_rmrf(dir);
	free(dir);
	free(json);
}

/* What the build generated (build/cli-docs) covers what it was made from. */
static void
test_build_output(void **state)
{
	char *b = build_dir(), *dir = tu_fmt("%s/cli-docs", b);
	char *p = tu_fmt("%s/cli.json", dir);
	json_error_t je;
	json_t *cli = json_load_file(p, 0, &je);

	(void)state;
	if (cli == NULL)
		fail_msg("%s: %s", p, je.text);
	check_generated(dir, cli);
	json_decref(cli);
	free(p);
	free(dir);
	free(b);
}

/* Options listed in the "options:" part of one `--help` text: the first
 * "--name" of each line that starts with a dash (descriptions may name
 * other commands' options; those do not count). */
static json_t *
help_options(const char *help)
{
	json_t *set = json_object();
	const char *p = strstr(help, "\noptions:\n");

	for (p = p ? strchr(p + 1, '\n') : NULL; p != NULL && p[1] != '\0';
	     p = strchr(p + 1, '\n')) {
		const char *l = p + 1, *d, *e;
		while (*l == ' ')
			l++;
		if (*l != '-')
			continue;
		d = strstr(l, "--");
		if (d == NULL || (strchr(l, '\n') && d > strchr(l, '\n')))
			continue;
		for (e = d + 2; (*e >= 'a' && *e <= 'z') || (*e >= '0' && *e <= '9') ||
		                *e == '-'; e++)
			;
		if (e > d + 2) {
			char *w = strndup(d + 2, (size_t)(e - d - 2));
			json_object_set_new(set, w, json_true());
			free(w);
		}
	}
	return set;
}

static void
check_help(const char *args, const json_t *opts)
{
	char *out = NULL;
	json_t *seen, *o, *v;
	const char *k;
	size_t i;

	assert_int_equal(tu_sh(&out, "'%s' %s --help", tu_bin(), args), 0);
	seen = help_options(out);
	json_array_foreach(opts, i, o) {
		const char *lng = json_string_value(json_object_get(o, "long"));
		if (lng && *lng && json_object_get(seen, lng) == NULL)
			fail_msg("`meshvm %s --help` lacks --%s:\n%s", args, lng, out);
	}
	/* and the other way round: help names nothing the table lacks */
	json_object_foreach(seen, k, v) {
		bool found = false;
		json_array_foreach(opts, i, o)
			found |= !strcmp(k, json_string_value(json_object_get(o,
			                                                      "long")));
		(void)v;
		if (!found && strcmp(k, "help") != 0)
			fail_msg("`meshvm %s --help` names --%s, not in the table:\n%s",
			         args, k, out);
	}
	json_decref(seen);
	free(out);
}

/* The binary's --help and its table (--dump-cli) agree, and the build's
 * pages were made from that very table. */
static void
test_help_matches_tables(void **state)
{
	char *out = NULL, *b = build_dir(), *p = tu_fmt("%s/cli-docs/cli.json", b);
	json_t *cli, *built, *c, *s;
	json_error_t je;
	size_t i, j;

	(void)state;
	if (tu_sh(&out, "'%s' --dump-cli 2>/dev/null", tu_bin()) != 0) {
		free(out);
		free(p);
		free(b);
		skip(); /* a binary without the tables (before engine-cli) */
	}
	cli = json_loads(out, 0, &je);
	assert_non_null(cli);
	built = json_load_file(p, 0, &je);
	assert_non_null(built);
	assert_true(json_equal(cli, built));
	json_array_foreach(json_object_get(cli, "commands"), i, c) {
		const char *name = json_string_value(json_object_get(c, "name"));
		if (json_array_size(json_object_get(c, "subcommands")) == 0)
			check_help(name, json_object_get(c, "options"));
		json_array_foreach(json_object_get(c, "subcommands"), j, s) {
			char *args = tu_fmt("%s %s", name,
			                    json_string_value(json_object_get(s, "name")));
			check_help(args, json_object_get(s, "options"));
			free(args);
		}
	}
	json_decref(cli);
	json_decref(built);
	free(out);
	free(p);
	free(b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sample),
		cmocka_unit_test(test_build_output),
		cmocka_unit_test(test_help_matches_tables),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
