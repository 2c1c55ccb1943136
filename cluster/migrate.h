/* cluster/migrate.h - `meshvm migrate`: move service.name from the VM to
 * GKE in gated steps, with rollback (issue 16).
 *
 * A new migration first applies the DestinationRule (subsets vm, gke) and
 * the VirtualService at 100/0 (VM/GKE) to EVERY cluster and reads them
 * back equal; only then does it label the VM side version=vm and deploy
 * the service's Deployment (from app.manifests, labelled version=gke) to
 * migration.cluster, waiting until it is available.  Then, per step of
 * the plan (the GKE share: 10, 50, 100): apply the weights to every
 * cluster and read them back, wait the interval, and gate on the
 * source-reported success rate and p99 of each destination that carries
 * traffic (cluster/migrate_gate.h), from every configured Prometheus.  A
 * failed gate (no data fails it) rolls back to the last good weights and
 * fails with MV_EXIT_CLOUD naming the step, the metric, the value and the
 * threshold.
 *
 * Progress is .meshvm/migration.json (atomic, 0600), written BEFORE each
 * change of weights: the only weights ever sent are 100/0 and the plan's,
 * so a run killed anywhere leaves every VirtualService at plan weights
 * and --resume redoes the recorded step (the apply is idempotent).  The
 * file counts only while the VirtualService records it made (kind k8s,
 * step "migrate") are in the state: after `down` a migration starts anew.
 * The objects it creates are state records of step "migrate" (the app
 * step's destroy deletes them).
 */
#ifndef MESHVM_CLUSTER_MIGRATE_H
#define MESHVM_CLUSTER_MIGRATE_H

#include <jansson.h>
#include <stdbool.h>

#include "cluster/migrate_gate.h"
#include "cluster/plan.h"

enum migrate_mode {
	MIGRATE_START = 0, /* a new migration (refused while one is underway) */
	MIGRATE_RESUME,    /* continue the recorded one from its step */
	MIGRATE_ABORT,     /* all traffic back to the VM (100/0) */
	MIGRATE_FINISH,    /* after 0/100: hold one interval, retire the VM */
};

struct migrate_opts {
	enum migrate_mode mode;
	int steps[MIGRATE_MAX_STEPS]; /* GKE share per step, ends at 100 */
	size_t n_steps;
	bool steps_given;   /* on the command line: must match on --resume */
	long interval_s;    /* wait per step, and the gate's rate window */
	double min_success_rate;
	double max_p99_ms;
	/* A rehearsal against `meshvm fake --traffic-speed N`: the interval
	 * is on its traffic clock, so a wait lasts interval / N real time. */
	int traffic_speed;
	/* One Prometheus for the gate instead of migration.prometheus_url
	 * (NULL: the config's). */
	const char *prometheus_url;
};

/* The options from the config's migration.* (mode START). */
void migrate_opts_from_config(const struct mv_config *cfg,
                              struct migrate_opts *o);

/* Run o->mode.  *report (new reference, also on a failed gate) is the
 * migration's record (see migrate_status).  Errors: MV_EXIT_USAGE for a
 * mode that does not fit the recorded migration, MV_EXIT_CLOUD for a
 * failed gate (rolled back) or a cloud call. */
int migrate_run(struct plan_ctx *ctx, const struct migrate_opts *o,
                json_t **report, struct mv_err *err);

/* The recorded migration for `status` (reads the file only): *out a new
 * object {phase, step, steps, weights{vm,gke}, gate{pass, reason,
 * destinations[{destination, cluster?, rps, success_rate, p99_ms,
 * pass}]}, history[gates, each also with step, phase, weights, time],
 * message, live{cluster: weights or null}}, or NULL when there is none. */
int migrate_status(struct plan_ctx *ctx, json_t **out, struct mv_err *err);

#endif
