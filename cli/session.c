/* cli/session.c - see session.h. */
#include "cli/session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cluster/gcp_auth.h"
#include "cluster/kubeconfig.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "core/http.h"
#include "core/signal.h"

static int
session_open(struct cli_ctx *cli, const char *token_file, bool create_state,
             bool readonly, struct cli_session *s, struct mv_err *err)
{
	struct gcp_auth_options ao = {0};

	memset(s, 0, sizeof(*s));
	if (mv_config_load(cli->config, &s->cfg, err) != 0)
		return -1;
	if ((readonly ? mv_state_open_readonly(s->cfg->dir, &s->state, err)
	              : mv_state_open(s->cfg->dir, create_state, &s->state,
	                              err)) != 0)
		return -1;
	s->http = mv_http_new(NULL);
	if (s->http == NULL)
		return mv_err_set(err, MV_EXIT_FAIL, "cannot start libcurl");
	ao.access_token_file = token_file;
	/* Endpoints moved (a fake, a proxy): credentials go there too, never
	 * to the real token endpoint named inside a key file. */
	if (strcmp(s->cfg->endpoints.oauth2, "https://oauth2.googleapis.com/token"))
		ao.token_endpoint_override = s->cfg->endpoints.oauth2;
	if (strcmp(s->cfg->endpoints.sts, "https://sts.googleapis.com/v1/token"))
		ao.sts_endpoint_override = s->cfg->endpoints.sts;
	if (strcmp(s->cfg->endpoints.iamcredentials,
	           "https://iamcredentials.googleapis.com/"))
		ao.iamcredentials_endpoint_override = s->cfg->endpoints.iamcredentials;
	if (gcp_auth_new(&ao, s->http, &s->auth, err) != 0)
		return -1;
	s->gcp.http = s->http;
	s->gcp.ep = &s->cfg->endpoints;
	s->gcp.auth = s->auth;
	s->gcp.project = s->cfg->project;
	s->plan.cfg = s->cfg;
	s->plan.state = s->state;
	s->plan.gcp = &s->gcp;
	s->plan.progress = !cli->json && isatty(STDERR_FILENO);
	s->plan.fast = getenv("MESHVM_TIMING") != NULL &&
	               strcmp(getenv("MESHVM_TIMING"), "fast") == 0;
	return 0;
}

int
cli_session_open(struct cli_ctx *cli, const char *token_file,
                 bool create_state, struct cli_session *s, struct mv_err *err)
{
	return session_open(cli, token_file, create_state, false, s, err);
}

int
cli_session_start(struct cli_ctx *cli, const char *token_file,
                  bool create_state, struct cli_session *s,
                  struct mv_err *err)
{
	mv_err_clear(err);
	mv_signals_install(true);
	if (cli_session_open(cli, token_file, create_state, s, err) != 0) {
		cli_session_close(s);
		return cli_fail(err);
	}
	return MV_EXIT_OK;
}

int
cli_session_open_readonly(struct cli_ctx *cli, const char *token_file,
                          struct cli_session *s, struct mv_err *err)
{
	return session_open(cli, token_file, false, true, s, err);
}

void
cli_session_close(struct cli_session *s)
{
	plan_ctx_release(&s->plan);
	gcp_auth_free(s->auth);
	mv_http_free(s->http);
	mv_state_close(s->state);
	mv_config_free(s->cfg);
	memset(s, 0, sizeof(*s));
}

void
cli_print_plan(const struct cli_ctx *cli, const json_t *report)
{
	json_t *steps = json_object_get(report, "steps"), *row;
	size_t i;

	json_array_foreach(steps, i, row) {
		const char *st = json_string_value(json_object_get(row, "state"));
		json_t *a, *list;
		size_t j;
		bool done;
		/* after `up`: what was to do has been applied */
		if (json_is_true(json_object_get(row, "applied")))
			st = "applied";
		/* drift `up` could not fix is said so, never "applied" */
		list = json_object_get(row, "not_fixed");
		if (json_array_size(list) > 0) {
			printf("%-10s %sdrifted (not fixed: ",
			       json_string_value(json_object_get(row, "name")),
			       cli->color ? "\033[33m" : "");
			json_array_foreach(list, j, a)
				printf("%s%s", j ? "; " : "", json_string_value(a));
			printf(")%s\n", cli->color ? "\033[0m" : "");
			continue;
		}
		done = st && (!strcmp(st, "done") || !strcmp(st, "applied"));
		const char *color = !cli->color ? "" : done ? "\033[32m"
		                    : !strcmp(st, "drifted") ? "\033[33m" : "\033[36m";
		printf("%-10s %s%-8s%s %s\n",
		       json_string_value(json_object_get(row, "name")), color, st,
		       cli->color ? "\033[0m" : "",
		       json_string_value(json_object_get(row, "summary")));
		list = json_object_get(row, "actions");
		json_array_foreach(list, j, a)
			printf("             + %s\n", json_string_value(a));
		list = json_object_get(row, "drift");
		json_array_foreach(list, j, a)
			printf("             ~ %s\n", json_string_value(a));
	}
}

void
cli_note_busy(const struct cli_session *s)
{
	int pid = s->state ? mv_state_busy_pid(s->state) : 0;

	if (pid > 0)
		fprintf(stderr, "meshvm: up in progress (pid %d); showing the state "
		        "as last saved\n", pid);
	else if (pid < 0)
		fprintf(stderr, "meshvm: up in progress; showing the state as last "
		        "saved\n");
}

char *
cli_kubeconfig_path(const struct cli_session *s)
{
	return mv_xstrfmt("%s/kubeconfig", mv_state_dir(s->state));
}

void
cli_note_kubeconfig(const struct cli_session *s, bool warn, json_t *out)
{
	char *path = cli_kubeconfig_path(s), when[32];
	struct mv_err err;
	time_t exp = 0, now = time(NULL);
	struct tm tm;

	mv_err_clear(&err);
	if (kubeconfig_token_expiry(path, &exp, &err) == 1) {
		gmtime_r(&exp, &tm);
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
		if (out != NULL)
			json_object_set_new(out, "kubeconfig_token_expires_by",
			                    json_string(when));
		if (warn && exp <= now + 300)
			fprintf(stderr, "meshvm: warning: %s holds a Google access "
			        "token that %s %s; rerun `meshvm up` with a fresh "
			        "token to rewrite it, or unset the explicit token so "
			        "it uses gke-gcloud-auth-plugin\n", path,
			        exp <= now ? "expired by" : "expires by", when);
	}
	mv_err_free(&err);
	free(path);
}

int
cli_refresh_kubeconfig(struct cli_session *s, struct mv_err *err)
{
	const char *token = NULL;
	char *path;
	int rc;

	if (s->auth == NULL || !gcp_auth_is_explicit(s->auth))
		return 0;
	if (gcp_auth_token(s->auth, &token, err) != 0)
		return -1;
	path = cli_kubeconfig_path(s);
	rc = kubeconfig_refresh_token(path, token, time(NULL), err);
	if (rc == 1)
		mv_info("rewrote %s with the current token", path);
	free(path);
	return rc < 0 ? -1 : 0;
}

int
cli_parse_token_duration(const char *cmd, const char *arg, long *secs)
{
	if (mv_config_duration(arg, secs) == 0)
		return 0;
	cli_usage_error(cmd, "--token-duration: \"%s\" is not a duration "
	                "10m..168h (like 24h, 90m or 3600s)", arg);
	return -1;
}

int
cli_parse_join_timeout(const char *cmd, const char *arg, long *secs)
{
	if (mv_duration_parse(arg, 1, 24L * 3600, secs) == 0)
		return 0;
	cli_usage_error(cmd, "--join-timeout: \"%s\" is not a duration "
	                "1s..24h (like 10m or 90s)", arg);
	return -1;
}

void
cli_session_launch_options(struct cli_session *s, long token_s, long join_s)
{
	if (token_s > 0)
		s->cfg->vm.token_duration_s = token_s;
	if (join_s > 0)
		s->cfg->vm.join_timeout_s = join_s;
}
