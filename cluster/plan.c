/* cluster/plan.c - the step engine (see plan.h). */
#include "cluster/plan.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cloudinit/images.h"
#include "core/log.h"
#include "core/signal.h"
#include "core/xalloc.h"

/* The registry: one row per step (its file is cluster/steps/NAME.c).
 * Registration order; plan_steps() returns them sorted by `after`. */
extern const struct plan_step step_clusters;
extern const struct plan_step step_firewall;
extern const struct plan_step step_mesh_ca;
extern const struct plan_step step_istio;
extern const struct plan_step step_app;
extern const struct plan_step step_vm_group;
extern const struct plan_step step_identity;
extern const struct plan_step step_bundle;
extern const struct plan_step step_deliver;
extern const struct plan_step step_launch;
extern const struct plan_step step_join;

static const struct plan_step *const registered[] = {
	&step_clusters,
	&step_firewall,
	&step_mesh_ca,
	&step_istio,
	&step_app,
	&step_vm_group,
	&step_identity,
	&step_bundle,
	&step_deliver,
	&step_launch,
	&step_join,
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

/* The context's steps in dependency order: the registry, or the table a
 * test gave (sorted here; *own says whether to free the array). */
static int
ordered(const struct plan_ctx *ctx, const struct plan_step ***out, size_t *n,
        struct mv_err *err)
{
	if (ctx->steps == NULL) {
		*out = (const struct plan_step **)plan_steps(n);
		return 0;
	}
	*n = ctx->n_steps;
	*out = mv_xcalloc(*n ? *n : 1, sizeof(**out));
	if (plan_sort(ctx->steps, *n, *out, err) != 0) {
		free(*out);
		*out = NULL;
		return -1;
	}
	return 0;
}

static void
ordered_free(const struct plan_ctx *ctx, const struct plan_step **steps)
{
	if (ctx->steps != NULL)
		free(steps);
}

static bool
has_step(const struct plan_step *const *steps, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(steps[i]->name, name))
			return true;
	return false;
}

int
plan_preflight(struct plan_ctx *ctx, struct mv_err *err)
{
	enum image_agent agent;
	char warn[512];

	/* Offline, and a refused image (COS) is no use whatever the project
	 * holds: before any API call (the doctor's checks come after). */
	if (images_choose_agent(ctx->cfg->vm.image, ctx->cfg->vm.boot_agent,
	                        &agent, warn, sizeof(warn), err) != 0)
		return mv_err_prefix(err, "preflight");
	if (warn[0] != '\0')
		mv_log(MV_LOG_WARN, "%s", warn);
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
	const struct plan_step **steps;
	json_t *arr = json_array();
	size_t n;
	int rc = 0;

	*report = json_pack("{s:o}", "steps", arr);
	if (ordered(ctx, &steps, &n, err) != 0)
		return -1;
	if (until != NULL && !has_step(steps, n, until)) {
		ordered_free(ctx, steps);
		return mv_err_set(err, MV_EXIT_USAGE, "--until: no step named %s",
		                  until);
	}
	for (size_t i = 0; i < n; i++) {
		enum step_state st;
		json_t *row;
		if ((rc = check_step(ctx, steps[i], &row, &st, err)) != 0)
			break;
		json_array_append_new(arr, row);
		if (until != NULL && !strcmp(steps[i]->name, until))
			break;
	}
	ordered_free(ctx, steps);
	return rc;
}

/* After an apply: drift the step could not fix is reported as such, not
 * as applied (e.g. a cluster's machine type: GKE cannot change it). */
static int
recheck_drift(struct plan_ctx *ctx, const struct plan_step *step, json_t *row,
              struct mv_err *err)
{
	struct step_check c;

	step_check_init(&c);
	if (step->check(ctx, &c, err) != 0) {
		step_check_free(&c);
		return mv_err_prefix(err, "%s", step->name);
	}
	if (c.state == STEP_DRIFTED) {
		json_object_set_new(row, "state", json_string("drifted"));
		json_object_set(row, "not_fixed", c.drift);
		json_object_del(row, "applied");
	}
	step_check_free(&c);
	return 0;
}

static struct plan_observer observer;

void
plan_set_observer(const struct plan_observer *obs)
{
	if (obs != NULL)
		observer = *obs;
	else
		memset(&observer, 0, sizeof(observer));
}

static void
observe(const char *verb, const char *name, bool begin, int rc)
{
	if (observer.step != NULL)
		observer.step(observer.arg, verb, name, begin, rc);
}

int
plan_up(struct plan_ctx *ctx, const char *until, json_t **report,
        struct mv_err *err)
{
	const struct plan_step **steps;
	json_t *arr;
	size_t n;
	int rc = 0;

	if (ctx->dry_run)
		return plan_check_all(ctx, until, report, err);
	arr = json_array();
	*report = json_pack("{s:o}", "steps", arr);
	if (ordered(ctx, &steps, &n, err) != 0)
		return -1;
	if (until != NULL && !has_step(steps, n, until)) {
		ordered_free(ctx, steps);
		return mv_err_set(err, MV_EXIT_USAGE, "--until: no step named %s",
		                  until);
	}
	/* Check each step just before applying it: a step's inputs (a pod
	 * range, an endpoint) come from the steps before it. */
	for (size_t i = 0; i < n && rc == 0; i++) {
		enum step_state st;
		json_t *row;

		if (mv_interrupted()) {
			rc = mv_err_set(err, MV_EXIT_INTERRUPTED, "interrupted");
			break;
		}
		observe("up", steps[i]->name, true, 0);
		if ((rc = check_step(ctx, steps[i], &row, &st, err)) != 0) {
			observe("up", steps[i]->name, false, rc);
			break;
		}
		json_array_append_new(arr, row);
		if (st != STEP_DONE) {
			mv_info("%s: %s", steps[i]->name, steps[i]->summary);
			if (steps[i]->apply(ctx, err) != 0) {
				rc = mv_err_prefix(err, "%s", steps[i]->name);
				observe("up", steps[i]->name, false, rc);
				break;
			}
			json_object_set_new(row, "applied", json_true());
			if (st == STEP_DRIFTED)
				rc = recheck_drift(ctx, steps[i], row, err);
		} else {
			mv_debug("%s: done", steps[i]->name);
		}
		observe("up", steps[i]->name, false, rc);
		if (rc != 0)
			break;
		if (until != NULL && !strcmp(steps[i]->name, until))
			break;
	}
	ordered_free(ctx, steps);
	return rc;
}

int
plan_down(struct plan_ctx *ctx, struct mv_err *err)
{
	const struct plan_step **steps;
	json_t *left;
	size_t n;
	int rc = 0;

	if (ordered(ctx, &steps, &n, err) != 0)
		return -1;
	for (size_t i = n; i-- > 0 && rc == 0;) {
		if (mv_interrupted()) {
			rc = mv_err_set(err, MV_EXIT_INTERRUPTED, "interrupted");
			break;
		}
		observe("down", steps[i]->name, true, 0);
		if (steps[i]->destroy(ctx, err) != 0)
			rc = mv_err_prefix(err, "%s", steps[i]->name);
		observe("down", steps[i]->name, false, rc);
	}
	ordered_free(ctx, steps);
	if (rc != 0)
		return rc;
	/* Done means every record is gone; one a step left is named. */
	left = mv_state_resources(ctx->state);
	if (json_object_size(left) > 0) {
		const char *key;
		json_t *rec;
		json_object_foreach(left, key, rec) break;
		return mv_err_set(err, MV_EXIT_FAIL, "down left %zu recorded "
		                  "resource%s (e.g. %s) that no step deletes; the "
		                  "state keeps them", json_object_size(left),
		                  json_object_size(left) == 1 ? "" : "s", key);
	}
	return 0;
}

int
plan_status(struct plan_ctx *ctx, json_t **report, struct mv_err *err)
{
	const struct plan_step **steps;
	json_t *arr = json_array();
	size_t n;
	int rc = 0;

	*report = json_pack("{s:o}", "steps", arr);
	if (ordered(ctx, &steps, &n, err) != 0)
		return -1;
	for (size_t i = 0; i < n && rc == 0; i++) {
		json_t *rows;
		if (steps[i]->status == NULL)
			continue;
		rows = json_array();
		json_array_append_new(arr, json_pack("{s:s,s:o}", "name",
		                                     steps[i]->name, "resources",
		                                     rows));
		if (steps[i]->status(ctx, rows, err) != 0)
			rc = mv_err_prefix(err, "%s", steps[i]->name);
	}
	ordered_free(ctx, steps);
	return rc;
}

int
plan_adopt(struct plan_ctx *ctx, const char *id, json_t **found,
           struct mv_err *err)
{
	const struct plan_step **steps;
	json_t *all = json_array(), *ids = json_object(), *item;
	size_t n, i;
	int rc = 0;

	*found = json_pack("{s:o,s:n}", "ids", ids, "id");
	if (json_object_size(mv_state_resources(ctx->state)) > 0) {
		json_decref(all);
		return mv_err_set(err, MV_EXIT_USAGE, "%s already records resources "
		                  "(deployment %s): adopt only rebuilds a lost state",
		                  mv_state_path(ctx->state), mv_state_id(ctx->state));
	}
	if (ordered(ctx, &steps, &n, err) != 0) {
		json_decref(all);
		return -1;
	}
	for (i = 0; i < n && rc == 0; i++)
		if (steps[i]->discover != NULL &&
		    steps[i]->discover(ctx, all, err) != 0)
			rc = mv_err_prefix(err, "%s", steps[i]->name);
	ordered_free(ctx, steps);
	json_array_foreach(all, i, item) {
		const char *d = json_string_value(json_object_get(item, "id"));
		json_t *keys = json_object_get(ids, d);
		if (keys == NULL)
			json_object_set_new(ids, d, keys = json_array());
		json_array_append(keys, json_object_get(item, "key"));
	}
	if (rc == 0 && id == NULL && json_object_size(ids) == 1) {
		void *it = json_object_iter(ids);
		id = json_object_iter_key(it);
	}
	if (rc == 0 && id == NULL)
		rc = mv_err_set(err, MV_EXIT_USAGE, json_object_size(ids) == 0
		                ? "no resource in project %s carries a meshvm-id"
		                : "several deployments in project %s: choose one "
		                  "with --id", ctx->cfg->project);
	else if (rc == 0 && json_object_get(ids, id) == NULL)
		rc = mv_err_set(err, MV_EXIT_USAGE, "no resource in project %s "
		                "carries meshvm-id %s", ctx->cfg->project, id);
	if (rc != 0) {
		json_decref(all);
		return rc;
	}
	json_object_set_new(*found, "id", json_string(id));
	if (mv_state_set_id(ctx->state, id, err) != 0) {
		json_decref(all);
		return -1;
	}
	json_array_foreach(all, i, item) {
		const char *key = json_string_value(json_object_get(item, "key"));
		json_t *rec = json_object_get(item, "record");
		if (strcmp(json_string_value(json_object_get(item, "id")), id) != 0)
			continue;
		json_object_set(mv_state_resources(ctx->state), key, rec);
	}
	json_decref(all);
	return mv_state_save(ctx->state, err);
}
