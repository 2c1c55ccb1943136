/* test_cases.c - data-driven protocol scenarios (harness/cases/NAME.case),
 * in the spirit of curl's test data files.
 *
 * Each case is YAML: how to start `meshvm fake`, an optional fault
 * profile, and steps.  A step runs a shell command (in the case's scratch
 * directory, with lib.sh sourced) and/or replaces the fault profile, then
 * checks the exit code, the output, and the requests the fake journaled
 * while the step ran.  A case ends with expectations on the fake's state.
 *
 *   setup: |                          # shell, in the case directory,
 *     openssl genrsa ...              # before the fake starts
 *   fake_args: [--op-polls, "3"]      # extra `meshvm fake` arguments
 *   no_auth: false                    # the fake checks tokens
 *   faults: |                         # initial profile (docs/fake.md)
 *     rules: [...]
 *   repeat: 20                        # run N times, seed = 1..N
 *   steps:
 *     - run: meshvm -C meshvm.yaml up --until firewall
 *       exit: 0
 *       output: ["up: done"]          # substrings of stdout+stderr
 *       journal:
 *         mutating: 0                 # exact number of mutating requests
 *         has: ["POST .+/clusters$"]  # each matches some "METHOD PATH"
 *         lacks: ["DELETE "]
 *         count: {"POST .+/clusters$": 2}
 *       put_faults: ""                # replace the profile first
 *   state:
 *     count: {clusters: 2, firewalls: 4}
 *     values: {"clusters.ANY.name": [...]} (ANY written as a star)
 *
 * The runner runs itself in a private network namespace (unshare -n) so
 * the real kubectl/gcloud a case may call cannot reach anything but lo.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <regex.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/http.h"
#include "core/yaml.h"
#include "testutil.h"

struct tcase {
	char *path;
	char *name;
};

/* The fake of the case running now: a failed assertion leaves run_once
 * early, and the teardown must not leave the server behind. */
static pid_t running_fake;
static char *running_dir;

static int
case_teardown(void **state)
{
	(void)state;
	if (running_fake > 0) {
		kill(running_fake, SIGKILL);
		waitpid(running_fake, NULL, 0);
		running_fake = 0;
	}
	if (running_dir != NULL && getenv("MESHVM_KEEP_CASE") == NULL) {
		tu_rmrf(running_dir);
		free(running_dir);
	}
	running_dir = NULL;
	return 0;
}

static const char *
str(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

/* Start `meshvm fake`; returns its pid, fills url. */
static pid_t
start_fake(const char *dir, const json_t *c, int seed, char *url, size_t len)
{
	char *ready = tu_fmt("%s/fake.ready", dir);
	char *journal = tu_fmt("%s/journal.jsonl", dir);
	char *faults = tu_fmt("%s/faults.yaml", dir), seedbuf[32];
	const char *argv[64];
	int n = 0;
	json_t *extra = json_object_get(c, "fake_args"), *v;
	size_t i;
	pid_t pid;

	argv[n++] = tu_bin();
	argv[n++] = "fake";
	if (!json_is_false(json_object_get(c, "no_auth")))
		argv[n++] = "--no-auth";
	argv[n++] = "--listen";
	argv[n++] = "127.0.0.1:0";
	argv[n++] = "--ready-file";
	argv[n++] = ready;
	argv[n++] = "--journal";
	argv[n++] = journal;
	if (str(c, "faults") != NULL) {
		tu_write(faults, str(c, "faults"));
		argv[n++] = "--faults";
		argv[n++] = faults;
	}
	snprintf(seedbuf, sizeof(seedbuf), "%d", seed);
	argv[n++] = "--seed";
	argv[n++] = seedbuf;
	json_array_foreach(extra, i, v) if (n < 60) argv[n++] = json_string_value(v);
	argv[n] = NULL;
	unlink(ready);
	if (str(c, "setup") != NULL) {
		/* e.g. keys the fake must be started with */
		char *out = NULL;
		char *script = tu_fmt("%s/setup.sh", dir);
		tu_write(script, str(c, "setup"));
		if (tu_sh(&out, "cd '%s' && sh setup.sh", dir) != 0) {
			print_error("setup failed:\n%s\n", out);
			fail();
		}
		free(out);
		free(script);
	}
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char *log = tu_fmt("%s/fake.log", dir);
		if (chdir(dir) != 0)
			_exit(126);
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		dup2(fd, 1);
		dup2(fd, 2);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	running_fake = pid;
	for (int t = 0; t < 400; t++) {
		char *u = tu_read(ready, NULL);
		if (u != NULL && strchr(u, '\n') != NULL) {
			u[strcspn(u, "\n")] = '\0';
			snprintf(url, len, "%s", u);
			free(u);
			break;
		}
		free(u);
		usleep(25000);
	}
	if (url[0] == '\0') {
		char *log = tu_fmt("%s/fake.log", dir);
		char *txt = tu_read(log, NULL);
		print_error("meshvm fake did not start:\n%s\n", txt ? txt : "");
		fail();
	}
	free(ready);
	free(journal);
	free(faults);
	return pid;
}

/* The fake writes its --journal file through a buffer; any control call
 * flushes it, so ask the time before reading the file. */
static void
flush_journal(const char *url)
{
	char *u = tu_fmt("%s/_fake/clock", url);
	struct mv_http *h = mv_http_new(NULL);
	struct mv_http_req req = {.method = "GET", .url = u, .idempotent = true};
	struct mv_http_resp resp;
	struct mv_err err;

	assert_int_equal(mv_http_do(h, &req, &resp, &err), 0);
	assert_int_equal(resp.status, 200);
	mv_http_resp_free(&resp);
	mv_http_free(h);
	free(u);
}

static char **
journal_lines(const char *dir, size_t *n)
{
	char *path = tu_fmt("%s/journal.jsonl", dir), *text = tu_read(path, NULL);
	char **lines = NULL;
	size_t k = 0;

	free(path);
	for (char *p = text, *nl; p && *p; p = nl + 1) {
		nl = strchr(p, '\n');
		if (nl == NULL)
			break;
		*nl = '\0';
		lines = realloc(lines, (k + 1) * sizeof(char *));
		lines[k++] = strdup(p);
	}
	free(text);
	*n = k;
	return lines;
}

static void
free_lines(char **l, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(l[i]);
	free(l);
}

/* A simulated VM's own request (its metadata server, guest attributes,
 * the simulated istiod, vmsim's boot lines): it comes when the VM gets
 * there, not from the meshvm command a case measures. */
static bool
from_vm(const json_t *j)
{
	const char *path = str(j, "path"), *l = str(j, "listener");

	if (path == NULL)
		path = "";
	if (l == NULL)
		l = "";
	return strncmp(path, "/vm/", 4) == 0 ||
	       strncmp(path, "/meshvm/v1/", 11) == 0 ||
	       strcmp(l, "vmsim") == 0 || strncmp(l, "vm:", 3) == 0;
}

/* "METHOD PATH" of journal lines [from, n); mutating count (meshvm's, not
 * a simulated VM's). */
static json_t *
requests_since(char **lines, size_t n, size_t from, int *mutating)
{
	json_t *out = json_array();

	*mutating = 0;
	for (size_t i = from; i < n; i++) {
		json_t *j = json_loads(lines[i], 0, NULL);
		char buf[2048];
		if (j == NULL)
			continue;
		snprintf(buf, sizeof(buf), "%s %s", str(j, "method"), str(j, "path"));
		json_array_append_new(out, json_string(buf));
		if (json_is_true(json_object_get(j, "mutating")) && !from_vm(j))
			(*mutating)++;
		json_decref(j);
	}
	return out;
}

static int
count_matches(const json_t *reqs, const char *re)
{
	regex_t rx;
	json_t *v;
	size_t i;
	int n = 0;

	assert_int_equal(regcomp(&rx, re, REG_EXTENDED | REG_NOSUB), 0);
	json_array_foreach(reqs, i, v) if (regexec(&rx, json_string_value(v), 0,
	                                           NULL, 0) == 0) n++;
	regfree(&rx);
	return n;
}

static void
dump_requests(const json_t *reqs)
{
	json_t *v;
	size_t i;

	json_array_foreach(reqs, i, v) print_message("  %s\n", json_string_value(v));
}

static void
check_journal(const json_t *exp, const json_t *reqs, int mutating)
{
	json_t *v, *list;
	const char *k;
	size_t i;

	if (exp == NULL)
		return;
	if ((v = json_object_get(exp, "mutating")) != NULL &&
	    json_integer_value(v) != mutating) {
		print_error("expected %lld mutating requests, saw %d:\n",
		            (long long)json_integer_value(v), mutating);
		dump_requests(reqs);
		fail();
	}
	list = json_object_get(exp, "has");
	json_array_foreach(list, i, v) if (count_matches(reqs, json_string_value(v)) == 0) {
		print_error("no request matches %s among:\n", json_string_value(v));
		dump_requests(reqs);
		fail();
	}
	list = json_object_get(exp, "lacks");
	json_array_foreach(list, i, v) if (count_matches(reqs, json_string_value(v)) != 0) {
		print_error("unexpected request matching %s among:\n",
		            json_string_value(v));
		dump_requests(reqs);
		fail();
	}
	list = json_object_get(exp, "count");
	json_object_foreach(list, k, v) {
		int got = count_matches(reqs, k);
		if (got != json_integer_value(v)) {
			print_error("%d requests match %s, expected %lld:\n", got, k,
			            (long long)json_integer_value(v));
			dump_requests(reqs);
			fail();
		}
	}
}

static json_t *
fake_state(const char *url)
{
	char *u = tu_fmt("%s/_fake/state", url);
	struct mv_http *h = mv_http_new(NULL);
	struct mv_http_req req = {.method = "GET", .url = u, .idempotent = true};
	struct mv_http_resp resp;
	struct mv_err err;
	json_t *j;

	assert_int_equal(mv_http_do(h, &req, &resp, &err), 0);
	assert_int_equal(resp.status, 200);
	j = json_loadb(resp.body, resp.len, 0, NULL);
	mv_http_resp_free(&resp);
	mv_http_free(h);
	free(u);
	assert_non_null(j);
	return j;
}

static void
put_faults(const char *url, const char *profile)
{
	char *u = tu_fmt("%s/_fake/faults", url);
	struct mv_http *h = mv_http_new(NULL);
	struct mv_http_req req = {.method = profile[0] ? "PUT" : "DELETE",
	                          .url = u, .body = profile,
	                          .body_len = strlen(profile),
	                          .content_type = "application/yaml",
	                          .idempotent = true};
	struct mv_http_resp resp;
	struct mv_err err;

	assert_int_equal(mv_http_do(h, &req, &resp, &err), 0);
	if (resp.status != 200)
		print_error("PUT /_fake/faults: %ld %s\n", resp.status, resp.body);
	assert_int_equal(resp.status, 200);
	mv_http_resp_free(&resp);
	mv_http_free(h);
	free(u);
}

/* Values at a dotted path where "*" walks every member/item. */
static void
collect(const json_t *node, const char *path, json_t *out)
{
	const char *dot = strchr(path, '.');
	char seg[256];
	const char *k;
	json_t *v;
	size_t i;

	if (*path == '\0') {
		json_array_append(out, (json_t *)node);
		return;
	}
	snprintf(seg, sizeof(seg), "%.*s", (int)(dot ? dot - path : (long)strlen(path)),
	         path);
	path = dot ? dot + 1 : "";
	if (!strcmp(seg, "*")) {
		if (json_is_object(node))
			json_object_foreach((json_t *)node, k, v) collect(v, path, out);
		else if (json_is_array(node))
			json_array_foreach(node, i, v) collect(v, path, out);
	} else if (json_is_array(node)) {
		v = json_array_get(node, (size_t)atoi(seg));
		if (v)
			collect(v, path, out);
	} else if ((v = json_object_get(node, seg)) != NULL) {
		collect(v, path, out);
	}
}

static int
cmp_json_str(const void *a, const void *b)
{
	char *x = json_dumps(*(json_t *const *)a, JSON_ENCODE_ANY);
	char *y = json_dumps(*(json_t *const *)b, JSON_ENCODE_ANY);
	int r = strcmp(x, y);

	free(x);
	free(y);
	return r;
}

static void
sort_array(json_t *a)
{
	size_t n = json_array_size(a);
	json_t **v = calloc(n ? n : 1, sizeof(json_t *));

	for (size_t i = 0; i < n; i++)
		v[i] = json_incref(json_array_get(a, i));
	qsort(v, n, sizeof(json_t *), cmp_json_str);
	json_array_clear(a);
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, v[i]);
	free(v);
}

static void
check_state(const json_t *exp, const char *url)
{
	json_t *st, *v;
	const char *k;

	if (exp == NULL)
		return;
	st = fake_state(url);
	json_object_foreach(json_object_get(exp, "count"), k, v) {
		json_t *x = json_object_get(st, k);
		size_t got = json_is_object(x) ? json_object_size(x)
		             : json_is_array(x) ? json_array_size(x) : 0;
		if ((json_int_t)got != json_integer_value(v)) {
			char *d = json_dumps(x, JSON_INDENT(1));
			print_error("state %s: %zu entries, expected %lld:\n%s\n", k, got,
			            (long long)json_integer_value(v), d ? d : "(absent)");
			free(d);
			fail();
		}
	}
	json_object_foreach(json_object_get(exp, "values"), k, v) {
		json_t *got = json_array(), *want = json_deep_copy(v);
		collect(st, k, got);
		sort_array(got);
		sort_array(want);
		if (!json_equal(got, want)) {
			char *g = json_dumps(got, 0), *w = json_dumps(want, 0);
			print_error("state %s: %s, expected %s\n", k, g, w);
			free(g);
			free(w);
			fail();
		}
		json_decref(got);
		json_decref(want);
	}
	json_decref(st);
}

static void
run_once(const json_t *c, const char *name, int seed)
{
	char *dir = tu_tmpdir(), url[256] = "";
	pid_t fake;

	running_dir = dir;
	fake = start_fake(dir, c, seed, url, sizeof(url));
	running_fake = fake;
	json_t *steps = json_object_get(c, "steps"), *s;
	char *bindir = strdup(tu_bin());
	size_t i;
	int st;

	*strrchr(bindir, '/') = '\0';
	setenv("MESHVM_GOOGLE_ENDPOINT", url, 1);
	setenv("FAKE_URL", url, 1);
	char *journal = tu_fmt("%s/journal.jsonl", dir);
	setenv("JOURNAL", journal, 1);
	setenv("CASE_DIR", dir, 1);
	setenv("MESHVM", tu_bin(), 1);
	setenv("PROJECT_ID", "meshvm-test", 1);
	setenv("MESHVM_TIMING", "fast", 1);
	setenv("GOOGLE_OAUTH_ACCESS_TOKEN", "test-token", 1);
	setenv("KUBECACHEDIR", dir, 1);
	char *path = tu_fmt("%s:%s", bindir, getenv("PATH"));
	setenv("PATH", path, 1);
	if (!json_is_false(json_object_get(c, "init")))
		assert_int_equal(tu_sh(NULL, "cd '%s' && meshvm init", dir), 0);
	json_array_foreach(steps, i, s) {
		size_t n0, n1;
		char **l0, **l1, *out = NULL;
		json_t *reqs, *v, *outs;
		const char *run = str(s, "run");
		int mutating, rc = 0;
		size_t j;

		flush_journal(url);
		l0 = journal_lines(dir, &n0);
		free_lines(l0, n0);
		if (json_is_string(json_object_get(s, "put_faults")))
			put_faults(url, str(s, "put_faults"));
		if (run != NULL) {
			char *script = tu_fmt("%s/step.sh", dir);
			char *body = tu_fmt(". '%s/harness/cases/lib.sh'\n%s\n", tu_src(),
			                    run);
			tu_write(script, body);
			rc = tu_sh(&out, "cd '%s' && timeout 300 sh step.sh", dir);
			free(script);
			free(body);
			json_int_t want = json_is_integer(json_object_get(s, "exit"))
			                          ? json_integer_value(json_object_get(s, "exit"))
			                          : 0;
			if (rc != want) {
				print_error("%s (seed %d) step %zu: `%s` exited %d, expected "
				            "%lld; output:\n%s\n", name, seed, i, run, rc,
				            (long long)want, out);
				fail();
			}
			outs = json_object_get(s, "output");
			json_array_foreach(outs, j, v) assert_contains(out, json_string_value(v));
			outs = json_object_get(s, "not_output");
			json_array_foreach(outs, j, v) if (strstr(out, json_string_value(v))) {
				print_error("step %zu output has \"%s\":\n%s\n", i,
				            json_string_value(v), out);
				fail();
			}
		}
		flush_journal(url);
		l1 = journal_lines(dir, &n1);
		reqs = requests_since(l1, n1, n0, &mutating);
		check_journal(json_object_get(s, "journal"), reqs, mutating);
		json_decref(reqs);
		free_lines(l1, n1);
		free(out);
	}
	check_state(json_object_get(c, "state"), url);
	kill(fake, SIGTERM);
	waitpid(fake, &st, 0);
	running_fake = 0;
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	tu_rmrf(dir);
	free(dir);
	running_dir = NULL;
	free(bindir);
	free(journal);
	free(path);
}

static void
run_case(void **state)
{
	struct tcase *tc = *state;
	struct mv_yaml *y = NULL;
	struct mv_err err;
	json_t *c;
	int repeat;

	if (mv_yaml_load_file(tc->path, &y, &err) != 0)
		fail_msg("%s", err.msg);
	c = mv_yaml_doc(y, 0);
	repeat = json_is_integer(json_object_get(c, "repeat"))
	                 ? (int)json_integer_value(json_object_get(c, "repeat"))
	                 : 1;
	for (int seed = 1; seed <= repeat; seed++)
		run_once(c, tc->name, seed);
	mv_yaml_free(y);
}

static int
cmp_name(const void *a, const void *b)
{
	return strcmp(((const struct tcase *)a)->name,
	              ((const struct tcase *)b)->name);
}

int
main(int argc, char **argv)
{
	char *dir = tu_fmt("%s/harness/cases", tu_src());
	const char *only = getenv("MESHVM_CASE");
	struct CMUnitTest *tests;
	struct tcase *cases = NULL;
	size_t n = 0;
	DIR *d;
	struct dirent *de;
	int rc;

	(void)argc;
	/* Private network namespace: only lo, so nothing a case runs (kubectl,
	 * gcloud) can reach beyond 127.0.0.1. */
	if (getenv("MESHVM_IN_NETNS") == NULL && access("/usr/bin/unshare", X_OK) == 0 &&
	    geteuid() == 0) {
		setenv("MESHVM_IN_NETNS", "1", 1);
		char *self = realpath("/proc/self/exe", NULL);
		char *cmd = tu_fmt("ip link set lo up && exec '%s'", self);
		execl("/usr/bin/unshare", "unshare", "-n", "sh", "-c", cmd, (char *)NULL);
		perror("unshare");
		return 1;
	}
	(void)argv;
	d = opendir(dir);
	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name);
		if (l < 6 || strcmp(de->d_name + l - 5, ".case") != 0)
			continue;
		if (only && strncmp(de->d_name, only, strlen(only)) != 0)
			continue;
		cases = realloc(cases, (n + 1) * sizeof(*cases));
		cases[n].name = strndup(de->d_name, l - 5);
		cases[n].path = tu_fmt("%s/%s", dir, de->d_name);
		n++;
	}
	closedir(d);
	qsort(cases, n, sizeof(*cases), cmp_name);
	tests = calloc(n ? n : 1, sizeof(*tests));
	for (size_t i = 0; i < n; i++) {
		tests[i].name = cases[i].name;
		tests[i].test_func = run_case;
		tests[i].initial_state = &cases[i];
		tests[i].teardown_func = case_teardown;
	}
	rc = _cmocka_run_group_tests("cases", tests, n, NULL, NULL);
	for (size_t i = 0; i < n; i++) {
		free(cases[i].name);
		free(cases[i].path);
	}
	free(cases);
	free(tests);
	free(dir);
	return rc;
}
