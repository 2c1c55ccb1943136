/* cluster/plan.c - the step engine (see plan.h). */
#include "cluster/plan.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cloudinit/images.h"
#include "core/log.h"
#include "core/signal.h"

extern const struct plan_step step_clusters;
extern const struct plan_step step_firewall;

/* Registration order; plan_steps() returns them sorted by `after`. */
static const struct plan_step *const registered[] = {
	&step_clusters,
	&step_firewall,
};
#define N_STEPS (sizeof(registered) / sizeof(registered[0]))

static const struct plan_step *sorted[N_STEPS];
static bool sorted_ok;

void
step_check_init(struct step_check *c)
{
	c->state = STEP_DONE;
	c->actions = json_array();
	c->drift = json_array();
}

void
step_check_free(struct step_check *c)
{
	json_decref(c->actions);
	json_decref(c->drift);
	c->actions = c->drift = NULL;
}

void
step_action(struct step_check *c, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	json_array_append_new(c->actions, json_string(buf));
	if (c->state == STEP_DONE)
		c->state = STEP_TODO;
}

void
step_drift(struct step_check *c, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	json_array_append_new(c->drift, json_string(buf));
	c->state = STEP_DRIFTED;
}

int
plan_sort(const struct plan_step *const *in, size_t n,
          const struct plan_step **out, struct mv_err *err)
{
	bool *placed = calloc(n ? n : 1, sizeof(bool));
	size_t done = 0;

	if (placed == NULL)
		return mv_err_set(err, MV_EXIT_FAIL, "out of memory");
	for (size_t i = 0; i < n; i++)
		for (const char *const *a = in[i]->after; a && *a; a++) {
			bool known = false;
			for (size_t j = 0; j < n; j++)
				known |= !strcmp(in[j]->name, *a);
			if (!known) {
				free(placed);
				return mv_err_set(err, MV_EXIT_FAIL,
				                  "step %s needs unknown step %s", in[i]->name,
				                  *a);
			}
		}
	/* Repeatedly place the first step whose needs are all placed. */
	while (done < n) {
		bool progress = false;
		for (size_t i = 0; i < n && !progress; i++) {
			bool ready = !placed[i];
			for (const char *const *a = in[i]->after; ready && a && *a; a++)
				for (size_t j = 0; j < n; j++)
					if (!strcmp(in[j]->name, *a) && !placed[j])
						ready = false;
			if (ready) {
				placed[i] = true;
				out[done++] = in[i];
				progress = true;
			}
		}
		if (!progress) {
			free(placed);
			return mv_err_set(err, MV_EXIT_FAIL,
			                  "step dependencies form a cycle");
		}
	}
	free(placed);
	return 0;
}

const struct plan_step *const *
plan_steps(size_t *n)
{
	if (!sorted_ok) {
		struct mv_err err;
		if (plan_sort(registered, N_STEPS, sorted, &err) != 0)
			abort(); /* a programming error, caught by every test */
		sorted_ok = true;
	}
	*n = N_STEPS;
	return sorted;
}

const struct plan_step *
plan_find(const char *name)
{
	size_t n;
	const struct plan_step *const *s = plan_steps(&n);

	for (size_t i = 0; i < n; i++)
		if (!strcmp(s[i]->name, name))
			return s[i];
	return NULL;
}

int
plan_preflight(struct plan_ctx *ctx, struct mv_err *err)
{
	static const char *const apis[] = {"container.googleapis.com",
	                                   "compute.googleapis.com"};
	enum image_agent agent;
	char warn[512];

	/* The image first: offline, and a refused image (COS) is no use
	 * whatever the APIs say. */
	if (images_choose_agent(ctx->cfg->vm.image, ctx->cfg->vm.boot_agent,
	                        &agent, warn, sizeof(warn), err) != 0)
		return mv_err_prefix(err, "preflight");
	if (warn[0] != '\0')
		mv_log(MV_LOG_WARN, "%s", warn);

	for (size_t i = 0; i < 2; i++) {
		bool on = false;
		if (gcp_service_enabled(ctx->gcp, apis[i], &on, err) != 0)
			return mv_err_prefix(err, "preflight");
		if (!on)
			return mv_err_set(err, MV_EXIT_CLOUD,
			                  "preflight: %s is not enabled in project %s; "
			                  "enable it with `gcloud services enable %s "
			                  "--project %s` (or in the Cloud Console under "
			                  "APIs & Services)", apis[i], ctx->cfg->project,
			                  apis[i], ctx->cfg->project);
	}
	return 0;
}

static const char *
state_name(enum step_state s)
{
	return s == STEP_DONE ? "done" : s == STEP_TODO ? "to do" : "drifted";
}

/* Check one step into a report row (new reference). */
static int
check_step(struct plan_ctx *ctx, const struct plan_step *step, json_t **row,
           enum step_state *state, struct mv_err *err)
{
	struct step_check c;

	step_check_init(&c);
	if (step->check(ctx, &c, err) != 0) {
		step_check_free(&c);
		return mv_err_prefix(err, "%s", step->name);
	}
	*state = c.state;
	*row = json_pack("{s:s,s:s,s:s,s:o,s:o}", "name", step->name, "summary",
	                 step->summary, "state", state_name(c.state), "actions",
	                 c.actions, "drift", c.drift);
	return 0;
}

int
plan_check_all(struct plan_ctx *ctx, const char *until, json_t **report,
               struct mv_err *err)
{
	size_t n;
	const struct plan_step *const *steps = plan_steps(&n);
	json_t *arr = json_array();

	*report = json_pack("{s:o}", "steps", arr);
	if (until != NULL && plan_find(until) == NULL)
		return mv_err_set(err, MV_EXIT_USAGE, "--until: no step named %s",
		                  until);
	for (size_t i = 0; i < n; i++) {
		enum step_state st;
		json_t *row;
		if (check_step(ctx, steps[i], &row, &st, err) != 0)
			return -1;
		json_array_append_new(arr, row);
		if (until != NULL && !strcmp(steps[i]->name, until))
			break;
	}
	return 0;
}

int
plan_up(struct plan_ctx *ctx, const char *until, json_t **report,
        struct mv_err *err)
{
	size_t n;
	const struct plan_step *const *steps = plan_steps(&n);
	json_t *arr;

	if (ctx->dry_run)
		return plan_check_all(ctx, until, report, err);
	arr = json_array();
	*report = json_pack("{s:o}", "steps", arr);
	if (until != NULL && plan_find(until) == NULL)
		return mv_err_set(err, MV_EXIT_USAGE, "--until: no step named %s",
		                  until);
	/* Check each step just before applying it: a step's inputs (a pod
	 * range, an endpoint) come from the steps before it. */
	for (size_t i = 0; i < n; i++) {
		enum step_state st;
		json_t *row;

		if (mv_interrupted())
			return mv_err_set(err, MV_EXIT_INTERRUPTED, "interrupted");
		if (check_step(ctx, steps[i], &row, &st, err) != 0)
			return -1;
		json_array_append_new(arr, row);
		if (st != STEP_DONE) {
			mv_info("%s: %s", steps[i]->name, steps[i]->summary);
			if (steps[i]->apply(ctx, err) != 0)
				return mv_err_prefix(err, "%s", steps[i]->name);
			json_object_set_new(row, "applied", json_true());
		} else {
			mv_debug("%s: done", steps[i]->name);
		}
		if (until != NULL && !strcmp(steps[i]->name, until))
			break;
	}
	return 0;
}

int
plan_down(struct plan_ctx *ctx, struct mv_err *err)
{
	size_t n;
	const struct plan_step *const *steps = plan_steps(&n);

	for (size_t i = n; i-- > 0;) {
		if (mv_interrupted())
			return mv_err_set(err, MV_EXIT_INTERRUPTED, "interrupted");
		if (steps[i]->destroy(ctx, err) != 0)
			return mv_err_prefix(err, "%s", steps[i]->name);
	}
	return 0;
}
