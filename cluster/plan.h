/* cluster/plan.h - the provisioning engine: steps with dependencies, each
 * with a read-only check, an apply and a destroy, over the state file.
 *
 * check  reports DONE (exists, ours, as configured), TODO (with the
 *        actions apply would take) or DRIFTED (exists and ours, but not as
 *        configured); it sends only reads.
 * apply  makes it so, recording intent before every create so a killed
 *        run resumes (waits for the in-flight operation) instead of
 *        creating twice.
 * destroy removes what the state says this deployment created (404 counts
 *        as gone), never anything else: it walks the state's records (name,
 *        zone, link), never the config, so a resource renamed, moved or
 *        dropped from the config is still deleted.
 * status (optional) appends one row per resource to `meshvm status`.
 * discover (optional) lists what the project holds with any deployment id,
 *        for `meshvm adopt`.
 *
 * A step is one file under cluster/steps/ and one row of the registry in
 * plan.c; cluster/step.h has the helpers step authors share.
 */
#ifndef MESHVM_CLUSTER_PLAN_H
#define MESHVM_CLUSTER_PLAN_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "cluster/gcp.h"
#include "cluster/state.h"
#include "core/config.h"
#include "core/err.h"

enum step_state { STEP_DONE = 0, STEP_TODO, STEP_DRIFTED };

struct plan_step;
struct plan_kubes;

struct plan_ctx {
	const struct mv_config *cfg;
	struct mv_state *state;
	struct gcp *gcp;
	bool dry_run;
	bool progress; /* draw waits on a TTY */
	bool fast;     /* MESHVM_TIMING=fast: deadlines of a fake, not of GKE */
	/* The steps to run (any order; sorted by `after`), or NULL for the
	 * registry. Tests give their own table. */
	const struct plan_step *const *steps;
	size_t n_steps;
	struct plan_kubes *kubes; /* Kubernetes clients, made on first use */
};

/* Free what the context made on its own (Kubernetes clients). */
void plan_ctx_release(struct plan_ctx *ctx);

struct step_check {
	enum step_state state;
	json_t *actions; /* array of strings: what apply would do */
	json_t *drift;   /* array of strings: how reality differs */
};

struct plan_step {
	const char *name;
	const char *summary;
	const char *const *after; /* names of steps this one needs, NULL-ended */
	int (*check)(struct plan_ctx *ctx, struct step_check *out,
	             struct mv_err *err);
	int (*apply)(struct plan_ctx *ctx, struct mv_err *err);
	int (*destroy)(struct plan_ctx *ctx, struct mv_err *err);
	/* Optional: append {"kind","name","status",...} objects to rows. */
	int (*status)(struct plan_ctx *ctx, json_t *rows, struct mv_err *err);
	/* Optional: append {"id","key","record"} for every resource of this
	 * step's kinds that carries a deployment id (any id). */
	int (*discover)(struct plan_ctx *ctx, json_t *found, struct mv_err *err);
};

/* The registered steps, in an order that honours every `after`. */
const struct plan_step *const *plan_steps(size_t *n);
/* A registered step by name, or NULL. */
const struct plan_step *plan_find(const char *name);

/* Order `in` so every step comes after the ones it names (stable: ties
 * keep input order). Unknown names and cycles are errors. out has n slots. */
int plan_sort(const struct plan_step *const *in, size_t n,
              const struct plan_step **out, struct mv_err *err);

/* The offline checks before any API call: the VM image (the image table:
 * COS refused, an unknown image warned about). plan and up always run it;
 * the doctor's checks (APIs, quota, permissions) follow unless
 * --no-preflight. */
int plan_preflight(struct plan_ctx *ctx, struct mv_err *err);

/* Check every step (up to `until`, NULL = all): a JSON report
 * {"steps":[{"name","state","actions","drift"}]} (new reference). */
int plan_check_all(struct plan_ctx *ctx, const char *until, json_t **report,
                   struct mv_err *err);

/* apply each step that is not DONE, in order, up to and including
 * `until`. Errors name the step. *report as plan_check_all (before). */
int plan_up(struct plan_ctx *ctx, const char *until, json_t **report,
            struct mv_err *err);

/* destroy every step, in reverse order.  Fails unless every resource the
 * state recorded is gone afterwards (the error names what is left). */
int plan_down(struct plan_ctx *ctx, struct mv_err *err);

/* Every step's status rows: {"steps":[{"name","resources":[...]}]}. */
int plan_status(struct plan_ctx *ctx, json_t **report, struct mv_err *err);

/* Rebuild the state from what the project holds with deployment id `id`
 * (NULL: the only one found).  *found (new reference) is
 * {"ids":{ID:[keys...]}, "id":CHOSEN or null}; with several ids and none
 * chosen it fails with MV_EXIT_USAGE and *found lists them.  The state
 * must be empty (nothing recorded). */
int plan_adopt(struct plan_ctx *ctx, const char *id, json_t **found,
               struct mv_err *err);

/* An observer of plan_up and plan_down (`meshvm rehearse` attributes the
 * requests between two calls to a step): called on the caller's thread
 * as each step begins (begin true) and ends (rc 0: done, else failed).
 * One per process; NULL removes it. */
struct plan_observer {
	void (*step)(void *arg, const char *verb /* "up" | "down" */,
	             const char *name, bool begin, int rc);
	void *arg;
};
void plan_set_observer(const struct plan_observer *obs);

void step_check_init(struct step_check *c);
void step_check_free(struct step_check *c);
void step_action(struct step_check *c, const char *fmt, ...) MV_PRINTF(2, 3);
void step_drift(struct step_check *c, const char *fmt, ...) MV_PRINTF(2, 3);

#endif
