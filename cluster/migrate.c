/* cluster/migrate.c - the migration's plan, progress file and gate loop
 * (migrate.h). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cluster/kube.h"
#include "cluster/migrate_int.h"
#include "cluster/step.h"
#include "core/atomic.h"
#include "core/log.h"
#include "core/poll.h"
#include "core/signal.h"
#include "core/util.h"
#include "core/xalloc.h"

#define PROGRESS_FILE "migration.json"
#define PROGRESS_MAX (4u << 20)
#define HISTORY_MAX 1000

/* Phases.  Active: the run that was killed resumes there. */
static const char *const active[] = {"baseline", "applying", "waiting",
                                     "rolling-back", "aborting", "holding",
                                     "retiring", NULL};
static const char *const settled[] = {"done", "rolled-back", "aborted",
                                      "finished", NULL};

static bool
one_of(const char *s, const char *const *set)
{
	for (size_t i = 0; s && set[i]; i++)
		if (!strcmp(s, set[i]))
			return true;
	return false;
}

void
migrate_opts_from_config(const struct mv_config *cfg, struct migrate_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->mode = MIGRATE_START;
	for (size_t i = 0; i < cfg->migration_.n_steps && i < MIGRATE_MAX_STEPS;
	     i++)
		o->steps[o->n_steps++] = cfg->migration_.steps[i];
	o->interval_s = cfg->migration_.interval;
	o->min_success_rate = cfg->migration_.min_success_rate;
	o->max_p99_ms = cfg->migration_.max_p99_ms;
	o->traffic_speed = 1;
}

/* ---- the progress file ---- */

struct run {
	struct plan_ctx *ctx;
	char *path;
	json_t *doc;
	json_t *proms; /* "" or cluster -> Prometheus URL */
};

static json_t *
wjson(struct migrate_weights w)
{
	return json_pack("{s:i,s:i}", "vm", w.vm, "gke", w.gke);
}

static struct migrate_weights
wof(const json_t *doc, const char *field)
{
	json_t *o = json_object_get(doc, field);
	struct migrate_weights w = {
		(int)json_integer_value(json_object_get(o, "vm")),
		(int)json_integer_value(json_object_get(o, "gke"))};
	return w;
}

static const char *
phase(const json_t *doc)
{
	return json_string_value(json_object_get(doc, "phase"));
}

static long
step_of(const json_t *doc)
{
	return (long)json_integer_value(json_object_get(doc, "step"));
}

static size_t
n_steps(const json_t *doc)
{
	return json_array_size(json_object_get(doc, "steps"));
}

/* The weights of step k (-1: the baseline, all to the VM). */
static struct migrate_weights
step_weights(const json_t *doc, long k)
{
	struct migrate_weights w = {100, 0};
	json_t *s = json_array_get(json_object_get(doc, "steps"), (size_t)k);

	if (k >= 0 && json_is_integer(s)) {
		w.gke = (int)json_integer_value(s);
		w.vm = 100 - w.gke;
	}
	return w;
}

/* Is w the baseline or one of the plan's steps? */
static bool
in_plan(const json_t *doc, struct migrate_weights w)
{
	if (w.vm == 100 && w.gke == 0)
		return true;
	for (size_t k = 0; k < n_steps(doc); k++) {
		struct migrate_weights p = step_weights(doc, (long)k);
		if (p.vm == w.vm && p.gke == w.gke)
			return true;
	}
	return false;
}

/* A file that does not hold what this code writes is refused, never
 * guessed at: weights outside the plan are never sent. */
static int
doc_check(const json_t *doc, const char *path, struct mv_err *err)
{
	json_t *steps = json_object_get(doc, "steps"), *s;
	long k = step_of(doc);
	size_t i;

	if (!json_is_object(doc) || !json_is_array(steps) ||
	    json_array_size(steps) == 0 ||
	    json_array_size(steps) > MIGRATE_MAX_STEPS)
		return mv_err_set(err, MV_EXIT_FAIL, "%s: not a migration "
		                  "progress file (steps)", path);
	json_array_foreach(steps, i, s)
		if (!json_is_integer(s) || json_integer_value(s) < 1 ||
		    json_integer_value(s) > 100 ||
		    (i > 0 && json_integer_value(s) <=
		                  json_integer_value(json_array_get(steps, i - 1))))
			return mv_err_set(err, MV_EXIT_FAIL, "%s: steps[%zu] is not a "
			                  "percentage above the one before", path, i);
	if (json_integer_value(json_array_get(steps, i - 1)) != 100)
		return mv_err_set(err, MV_EXIT_FAIL, "%s: the last step is not "
		                  "100", path);
	if (!json_is_integer(json_object_get(doc, "step")) || k < -1 ||
	    k >= (long)json_array_size(steps))
		return mv_err_set(err, MV_EXIT_FAIL, "%s: step is not -1..%zu",
		                  path, json_array_size(steps) - 1);
	if (!one_of(phase(doc), active) && !one_of(phase(doc), settled))
		return mv_err_set(err, MV_EXIT_FAIL, "%s: unknown phase", path);
	if (!in_plan(doc, wof(doc, "target")) || !in_plan(doc, wof(doc, "good")))
		return mv_err_set(err, MV_EXIT_FAIL, "%s: target or good weights "
		                  "are not the plan's", path);
	if (json_integer_value(json_object_get(doc, "interval")) < 1 ||
	    json_integer_value(json_object_get(doc, "traffic_speed")) < 1 ||
	    !json_is_number(json_object_get(doc, "min_success_rate")) ||
	    !json_is_number(json_object_get(doc, "max_p99_ms")))
		return mv_err_set(err, MV_EXIT_FAIL, "%s: interval, traffic_speed "
		                  "or thresholds missing", path);
	return 0;
}

/* *doc NULL when there is no migration (no file, another deployment's,
 * or its VirtualServices are no longer recorded: `down` ran). */
static int
doc_load(struct plan_ctx *ctx, const char *path, json_t **doc,
         struct mv_err *err)
{
	json_error_t je;
	size_t len = 0;
	char *buf;
	const char *id;

	*doc = NULL;
	buf = mv_read_file(path, PROGRESS_MAX, &len, err);
	if (buf == NULL) {
		if (errno != ENOENT)
			return -1;
		mv_err_clear(err);
		return 0;
	}
	*doc = json_loadb(buf, len, 0, &je);
	free(buf);
	if (*doc == NULL)
		return mv_err_set(err, MV_EXIT_FAIL, "%s:%d: not JSON: %s", path,
		                  je.line, je.text);
	id = json_string_value(json_object_get(*doc, "id"));
	if (id == NULL || strcmp(id, mv_state_id(ctx->state)) != 0 ||
	    !migrate_recorded(ctx)) {
		json_decref(*doc);
		*doc = NULL;
		return 0;
	}
	if (doc_check(*doc, path, err) != 0) {
		json_decref(*doc);
		*doc = NULL;
		return -1;
	}
	return 0;
}

static int
save(struct run *r, struct mv_err *err)
{
	char *text = json_dumps(r->doc, JSON_INDENT(2) | JSON_SORT_KEYS);
	int rc;

	if (text == NULL)
		abort();
	if (r->ctx->dry_run) {
		free(text);
		return 0;
	}
	rc = mv_write_file_atomic(r->path, text, strlen(text), 0600, err);
	free(text);
	return rc;
}

static void
set_phase(struct run *r, const char *ph, long step, struct migrate_weights t)
{
	json_object_set_new(r->doc, "phase", json_string(ph));
	json_object_set_new(r->doc, "step", json_integer(step));
	json_object_set_new(r->doc, "target", wjson(t));
}

static json_t *
new_doc(const struct plan_ctx *ctx, const struct migrate_opts *o)
{
	json_t *steps = json_array();
	struct migrate_weights vm = {100, 0};

	for (size_t i = 0; i < o->n_steps; i++)
		json_array_append_new(steps, json_integer(o->steps[i]));
	return json_pack("{s:i,s:s,s:s,s:s,s:o,s:I,s:f,s:f,s:i,s:i,s:s,"
	                 "s:o,s:o,s:n,s:s}",
	                 "version", 1, "id", mv_state_id(ctx->state), "service",
	                 ctx->cfg->service.name, "namespace",
	                 ctx->cfg->service.namespace_, "steps", steps,
	                 "interval", (json_int_t)o->interval_s,
	                 "min_success_rate", o->min_success_rate, "max_p99_ms",
	                 o->max_p99_ms, "traffic_speed", o->traffic_speed, "step",
	                 -1, "phase", "baseline", "target", wjson(vm), "good",
	                 wjson(vm), "gate", "message", "");
}

/* ---- waiting and gating ---- */

struct wait_arg {
	long end;
};

static int
wait_probe(void *arg, char **state, struct mv_err *err)
{
	struct wait_arg *w = arg;
	long left = w->end - mv_now_ms();

	(void)err;
	if (left <= 0)
		return 1;
	*state = mv_xstrfmt("%ld.%lds to the gate", left / 1000,
	                    left % 1000 / 100);
	return 0;
}

/* The interval, on the traffic clock of a rehearsal (see migrate.h). */
static int
wait_interval(struct run *r, const char *label, struct mv_err *err)
{
	long speed = (long)json_integer_value(json_object_get(r->doc,
	                                                      "traffic_speed"));
	long ms = (long)json_integer_value(json_object_get(r->doc, "interval")) *
	          1000 / (speed > 0 ? speed : 1);
	struct wait_arg w = {mv_now_ms() + ms};
	long poll = ms < 250 ? (ms > 10 ? ms : 10) : 250;

	if (r->ctx->dry_run)
		return 0;
	return mv_poll_until(w.end + 60000, poll, wait_probe, &w,
	                     r->ctx->progress ? label : NULL, err) != 0 ? -1 : 0;
}

static json_t *
num_or_null(double v)
{
	return isfinite(v) ? json_real(v) : json_null();
}

/* Every gate of this migration, oldest first (for reports and graphs:
 * weights and success rate per destination over time), at most
 * HISTORY_MAX. */
static void
history_add(struct run *r, struct migrate_weights w)
{
	json_t *h = json_object_get(r->doc, "history");
	json_t *g = json_deep_copy(json_object_get(r->doc, "gate"));

	if (!json_is_array(h)) {
		h = json_array();
		json_object_set_new(r->doc, "history", h);
	}
	while (json_array_size(h) >= HISTORY_MAX)
		json_array_remove(h, 0);
	json_object_set_new(g, "step", json_integer(step_of(r->doc) + 1));
	json_object_set_new(g, "phase", json_string(phase(r->doc)));
	json_object_set_new(g, "weights", wjson(w));
	json_object_set_new(g, "time", json_integer((json_int_t)time(NULL)));
	json_array_append_new(h, g);
}

/* Gate the destinations that carry traffic under w, on every configured
 * Prometheus; records the result in the file (not yet saved).  *pass
 * false: *reason (malloc'd) says which, why. */
static int
gate(struct run *r, struct migrate_weights w, bool *pass, char **reason,
     struct mv_err *err)
{
	const json_t *proms = r->proms;
	const char *dests[2], *cl, *url;
	struct gate_limits lim = {
		json_number_value(json_object_get(r->doc, "min_success_rate")),
		json_number_value(json_object_get(r->doc, "max_p99_ms")),
		(long)json_integer_value(json_object_get(r->doc, "interval"))};
	json_t *rows = json_array(), *v;
	size_t n = 0;

	if (w.vm > 0)
		dests[n++] = MIGRATE_SUBSET_VM;
	if (w.gke > 0)
		dests[n++] = MIGRATE_SUBSET_GKE;
	*pass = true;
	*reason = NULL;
	json_object_foreach((json_t *)proms, cl, v) {
		struct gate_result g;

		url = json_string_value(v);
		if (gate_evaluate(r->ctx->gcp->http, url, r->ctx->cfg->service.name,
		                  dests, n, &lim, &g, err) != 0) {
			json_decref(rows);
			free(*reason);
			return -1;
		}
		for (size_t i = 0; i < g.n; i++) {
			json_t *d = json_pack("{s:s,s:o,s:o,s:o,s:b}", "destination",
			                      g.d[i].name, "rps", num_or_null(g.d[i].rps),
			                      "success_rate",
			                      num_or_null(g.d[i].success_rate),
			                      "p99_ms", num_or_null(g.d[i].p99_ms),
			                      "pass", g.d[i].pass);
			if (cl[0])
				json_object_set_new(d, "cluster", json_string(cl));
			json_array_append_new(rows, d);
		}
		if (!g.pass && *pass) {
			*pass = false;
			*reason = mv_xstrfmt("%s%s%s", cl[0] ? cl : "",
			                     cl[0] ? ": " : "", g.reason);
		} else if (*pass) { /* the values that passed, every Prometheus */
			char *more = mv_xstrfmt("%s%s%s%s%s", *reason ? *reason : "",
			                        *reason ? " " : "", cl[0] ? cl : "",
			                        cl[0] ? ": " : "", g.reason);
			free(*reason);
			*reason = more;
		}
	}
	json_object_set_new(r->doc, "gate", json_pack(
		"{s:b,s:s,s:o,s:f,s:f,s:I}", "pass", *pass, "reason",
		*reason ? *reason : "",
		"destinations", rows, "min_success_rate", lim.min_success_rate,
		"max_p99_ms", lim.max_p99_ms, "window_s", (json_int_t)lim.window_s));
	history_add(r, w);
	return 0;
}

/* ---- the loop ---- */

static char *
step_label(const json_t *doc, long k)
{
	struct migrate_weights w = step_weights(doc, k);

	return mv_xstrfmt("step %ld/%zu (%d/%d VM/GKE)", k + 1, n_steps(doc),
	                  w.vm, w.gke);
}

/* A failed gate at `what`: roll back to `to`, then fail (drive does). */
static void
fail_to(struct run *r, const char *what, const char *reason,
        struct migrate_weights to)
{
	char *msg = mv_xstrfmt("%s failed its gate: %s; rolled back to %d/%d "
	                       "(VM/GKE)", what, reason, to.vm, to.gke);

	json_object_set_new(r->doc, "message", json_string(msg));
	json_object_set_new(r->doc, "good", wjson(to));
	set_phase(r, "rolling-back", step_of(r->doc), to);
	free(msg);
}

static int
drive(struct run *r, json_t *retired, struct mv_err *err)
{
	for (;;) {
		const char *ph = phase(r->doc);
		long k = step_of(r->doc);
		struct migrate_weights t = wof(r->doc, "target");
		char *label, *reason = NULL;
		bool pass;
		int rc = 0;

		if (mv_interrupted())
			return mv_err_set(err, MV_EXIT_INTERRUPTED, "interrupted");
		if (!strcmp(ph, "baseline")) {
			mv_info("migrate: 100/0 (VM/GKE) in every cluster, then %s "
			        "in %s", r->ctx->cfg->service.name,
			        r->ctx->cfg->migration_.cluster);
			if (migrate_setup(r->ctx, err) != 0)
				return -1;
			set_phase(r, "applying", 0, step_weights(r->doc, 0));
		} else if (!strcmp(ph, "applying") || !strcmp(ph, "rolling-back") ||
		           !strcmp(ph, "aborting")) {
			if (migrate_set_weights(r->ctx, t, err) != 0)
				return -1;
			mv_info("migrate: %d/%d (VM/GKE) in every cluster", t.vm,
			        t.gke);
			if (!strcmp(ph, "applying")) {
				set_phase(r, "waiting", k, t);
			} else if (!strcmp(ph, "aborting")) {
				json_object_set_new(r->doc, "good", wjson(t));
				set_phase(r, "aborted", k, t);
			} else {
				set_phase(r, "rolled-back", k, t);
				if (save(r, err) != 0)
					return -1;
				return mv_err_set(err, MV_EXIT_CLOUD, "migrate: %s",
				                  json_string_value(json_object_get(
				                      r->doc, "message")));
			}
		} else if (!strcmp(ph, "waiting") || !strcmp(ph, "holding")) {
			bool hold = !strcmp(ph, "holding");

			label = hold ? mv_xstrdup("finish: holding 0/100")
			             : step_label(r->doc, k);
			mv_info("migrate: %s: waiting %llds%s, then the gate", label,
			        (long long)json_integer_value(json_object_get(
			            r->doc, "interval")),
			        json_integer_value(json_object_get(r->doc,
			                                           "traffic_speed")) > 1
			                ? " (traffic clock)" : "");
			rc = wait_interval(r, label, err);
			if (rc == 0)
				rc = gate(r, t, &pass, &reason, err);
			if (rc == 0 && pass) {
				mv_info("migrate: %s: gate passed: %s", label,
				        json_string_value(json_object_get(json_object_get(
				            r->doc, "gate"), "reason")));
				json_object_set_new(r->doc, "good", wjson(t));
				if (hold)
					set_phase(r, "retiring", k, t);
				else if (k + 1 == (long)n_steps(r->doc))
					set_phase(r, "done", k, t);
				else
					set_phase(r, "applying", k + 1,
					          step_weights(r->doc, k + 1));
			} else if (rc == 0) {
				/* back to the last good weights; after 0/100 held
				 * badly, to the step before it (the VM still serves) */
				fail_to(r, label, reason,
				        hold ? step_weights(r->doc, k - 1)
				             : wof(r->doc, "good"));
			}
			free(label);
			free(reason);
			if (rc != 0)
				return -1;
		} else if (!strcmp(ph, "retiring")) {
			if (migrate_retire(r->ctx, retired, err) != 0)
				return -1;
			set_phase(r, "finished", k, t);
		} else {
			return 0; /* settled */
		}
		if (save(r, err) != 0)
			return -1;
	}
}

static int
usage(struct mv_err *err, const json_t *doc, const char *what)
{
	char *at;
	int rc;

	if (doc == NULL)
		return mv_err_set(err, MV_EXIT_USAGE, "migrate: %s", what);
	at = step_label(doc, step_of(doc));
	rc = mv_err_set(err, MV_EXIT_USAGE, "migrate: %s (the migration is %s "
	                "at %s)", what, phase(doc), at);
	free(at);
	return rc;
}

/* Start, resume, abort or finish: the file's phase to begin from. */
static int
begin(struct run *r, const struct migrate_opts *o, struct mv_err *err)
{
	json_t *d = r->doc;
	const char *ph = d ? phase(d) : NULL;

	switch (o->mode) {
	case MIGRATE_START:
		if (d && one_of(ph, active))
			return usage(err, d, "a migration is underway: `meshvm "
			             "migrate --resume` continues it, `--abort` returns "
			             "all traffic to the VM");
		if (d && (!strcmp(ph, "done") || !strcmp(ph, "finished")))
			return usage(err, d, "the service is migrated already: "
			             "`--finish` retires the VM side, `--abort` returns "
			             "all traffic to the VM");
		json_decref(r->doc);
		r->doc = new_doc(r->ctx, o);
		return 0;
	case MIGRATE_RESUME:
		if (d == NULL || !one_of(ph, active))
			return usage(err, d, "nothing to resume: run `meshvm migrate`");
		if (o->steps_given) {
			for (size_t i = 0; i < o->n_steps; i++)
				if (step_weights(d, (long)i).gke != o->steps[i] ||
				    o->n_steps != n_steps(d))
					return usage(err, d, "--steps differs from the "
					             "recorded plan: resume without it");
		}
		/* re-send the step's weights (idempotent): whatever changed the
		 * VirtualService meanwhile, the gate judges the plan's */
		if (!strcmp(ph, "waiting"))
			set_phase(r, "applying", step_of(d), wof(d, "target"));
		return 0;
	case MIGRATE_ABORT:
		if (d == NULL || !strcmp(ph, "finished") || !strcmp(ph, "retiring"))
			return usage(err, d, d ? "the VM side is retired: no traffic "
			             "can return to it" : "no migration to abort");
		set_phase(r, "aborting", step_of(d), step_weights(d, -1));
		return 0;
	case MIGRATE_FINISH:
		if (d && (!strcmp(ph, "holding") || !strcmp(ph, "retiring") ||
		          !strcmp(ph, "finished")))
			return 0;
		if (d == NULL || strcmp(ph, "done") != 0)
			return usage(err, d, "--finish needs a migration at 0/100 "
			             "(its last step passed)");
		set_phase(r, "holding", step_of(d), wof(d, "target"));
		return 0;
	}
	return mv_err_set(err, MV_EXIT_USAGE, "migrate: unknown mode");
}

static json_t *
report_of(const json_t *doc)
{
	json_t *rep = json_deep_copy(doc);
	struct migrate_weights w = wof(doc, "target");

	json_object_del(rep, "target");
	json_object_del(rep, "version");
	json_object_set_new(rep, "weights", wjson(w));
	json_object_set_new(rep, "step", json_integer(step_of(doc) + 1));
	json_object_set_new(rep, "applying", json_boolean(
		!strcmp(phase(doc), "applying") ||
		!strcmp(phase(doc), "rolling-back") ||
		!strcmp(phase(doc), "aborting")));
	return rep;
}

int
migrate_run(struct plan_ctx *ctx, const struct migrate_opts *o,
            json_t **report, struct mv_err *err)
{
	struct run r = {ctx, NULL, NULL, NULL};
	json_t *retired = json_array();
	int rc;

	*report = NULL;
	if (o->prometheus_url != NULL)
		r.proms = json_pack("{s:s}", "", o->prometheus_url);
	else
		r.proms = json_incref(ctx->cfg->migration_.prometheus);
	if (o->mode != MIGRATE_ABORT && r.proms == NULL) {
		json_decref(retired);
		return mv_err_set(err, MV_EXIT_USAGE, "migrate: migration."
		                  "prometheus_url is not set: the gate reads the "
		                  "callers' metrics from a Prometheus (for `meshvm "
		                  "fake`: http://FAKE/prom/CLUSTER)");
	}
	if (!mv_state_persistent(ctx->state)) {
		json_decref(retired);
		json_decref(r.proms);
		return mv_err_set(err, MV_EXIT_USAGE, "migrate: no deployment "
		                  "here (no state): run `meshvm up` first");
	}
	if (o->n_steps == 0 || o->interval_s < 1 || o->traffic_speed < 1) {
		json_decref(retired);
		json_decref(r.proms);
		return mv_err_set(err, MV_EXIT_USAGE, "migrate: no steps, or an "
		                  "interval or traffic speed below 1");
	}
	r.path = mv_path_join(mv_state_dir(ctx->state), PROGRESS_FILE);
	rc = doc_load(ctx, r.path, &r.doc, err);
	if (rc == 0)
		rc = begin(&r, o, err);
	if (rc == 0)
		rc = save(&r, err);
	if (rc == 0)
		rc = drive(&r, retired, err);
	if (r.doc != NULL) {
		*report = report_of(r.doc);
		if (json_array_size(retired) > 0)
			json_object_set(*report, "retired", retired);
	}
	json_decref(retired);
	json_decref(r.doc);
	json_decref(r.proms);
	free(r.path);
	return rc ? -1 : 0;
}

int
migrate_status(struct plan_ctx *ctx, json_t **out, struct mv_err *err)
{
	char *path = mv_path_join(mv_state_dir(ctx->state), PROGRESS_FILE);
	json_t *doc = NULL, *live = json_object();
	int rc = doc_load(ctx, path, &doc, err);

	free(path);
	*out = NULL;
	if (rc != 0 || doc == NULL) {
		json_decref(live);
		return rc;
	}
	*out = report_of(doc);
	/* what each cluster's VirtualService says now (best effort) */
	for (size_t i = 0; i < ctx->cfg->n_clusters; i++) {
		const struct mv_cluster_config *c = &ctx->cfg->clusters[i];
		struct migrate_weights w;
		struct mv_err e2;
		json_t *vs = NULL;
		struct kube *k;
		char why[200];

		mv_err_clear(&e2);
		if (step_kube(ctx, c, &k, &e2) == 0 &&
		    kube_get(k, MIGRATE_ISTIO_API, "VirtualService",
		             ctx->cfg->service.namespace_, MIGRATE_VS_NAME, &vs,
		             &e2) == 0 &&
		    migrate_vs_weights(vs, &w, why, sizeof(why)) == 0)
			json_object_set_new(live, c->name, wjson(w));
		else
			json_object_set_new(live, c->name, json_null());
		json_decref(vs);
		mv_err_free(&e2);
	}
	json_object_set_new(*out, "live", live);
	json_decref(doc);
	return 0;
}
