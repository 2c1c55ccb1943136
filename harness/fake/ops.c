/* harness/fake/ops.c - long-running operations (GKE and Compute).
 *
 * An operation is kept in db.operations[key] as
 *   {"public": the Operation the client sees, "api": "gke"|"compute",
 *    "polls": reads left that still say RUNNING (-1 once DONE),
 *    "start_ms": when it started (wall clock, so it survives --state),
 *    "time_ms": how long it runs at least,
 *    "effects": what happens when it turns DONE,
 *    "error_effects": what happens instead when a fault made it fail,
 *    "error": the fault's {code, message} or absent}.
 * The response to the request that starts it says RUNNING.  It turns
 * DONE (effects run) at the first read (GET, or Compute's POST .../wait)
 * that is at least the --op-polls-th and comes at least --op-time ms
 * after it started, as a real operation finishes on its own clock: a
 * client that comes back later finds it DONE.  A list (op_peek) shows
 * the current state and finishes an operation that is due without
 * counting as a read.  Effects
 * are data so that they survive --state:
 *   {"set": {fields}, "table": T, "key": K}  merge fields into a resource
 *   {"delete": true, "table": T, "key": K}   remove it
 *   {"replace": {...}, "table": T, "key": K} put this version back
 *   {"cluster_delete": K}                    remove a GKE cluster + API
 *                                            (fst(f)->on_cluster_delete)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/fake/store.h"

static void
effects_run(struct fake *f, json_t *effects)
{
	size_t i;
	json_t *e;

	json_array_foreach(effects, i, e) {
		const char *table = json_string_value(json_object_get(e, "table"));
		const char *key = json_string_value(json_object_get(e, "key"));
		json_t *set = json_object_get(e, "set"), *res;

		if (json_is_string(json_object_get(e, "cluster_delete"))) {
			/* the cluster's API is the services' business: the
			 * server installs what to do */
			if (fst(f)->on_cluster_delete != NULL)
				fst(f)->on_cluster_delete(
				        f, json_string_value(json_object_get(
				                   e, "cluster_delete")));
			continue;
		}
		if (table == NULL || key == NULL)
			continue;
		if (json_is_object(json_object_get(e, "replace"))) {
			json_object_set_new(fake_db(f, table), key, json_deep_copy(
			                            json_object_get(e, "replace")));
			continue;
		}
		res = json_object_get(fake_db(f, table), key);
		if (res == NULL)
			continue;
		if (json_is_true(json_object_get(e, "delete")))
			json_object_del(fake_db(f, table), key);
		else if (json_is_object(set))
			json_object_update(res, set);
	}
}

/* google.rpc.Code -> HTTP status, for Compute's httpErrorStatusCode. */
static int
rpc_to_http(int code)
{
	static const int map[] = {200, 499, 500, 400, 504, 404, 409, 403,
	                          429, 400, 409, 400, 501, 500, 503, 500, 401};
	if (code >= 100)
		return code;
	return code >= 0 && code < (int)(sizeof(map) / sizeof(map[0]))
	               ? map[code]
	               : 500;
}

static void
op_finish(struct fake *f, json_t *op)
{
	json_t *pub = json_object_get(op, "public");
	json_t *error = json_object_get(op, "error");
	const char *api = json_string_value(json_object_get(op, "api"));
	bool compute = api && strcmp(api, "compute") == 0;
	char ts[48];

	fake_now_rfc3339(ts, sizeof(ts), compute);
	json_object_set_new(pub, "status", json_string("DONE"));
	json_object_set_new(pub, "endTime", json_string(ts));
	json_object_set_new(pub, "progress", json_integer(100));
	if (!compute)
		json_object_del(pub, "progress");
	if (error != NULL) {
		const char *msg = json_string_value(json_object_get(error,
		                                                    "message"));
		int code = (int)json_integer_value(json_object_get(error, "code"));
		const char *reason = json_string_value(json_object_get(error,
		                                                       "reason"));
		if (compute) {
			json_object_set_new(pub, "error",
			                    json_pack("{s:[{s:s, s:s}]}", "errors",
			                              "code",
			                              reason ? reason : "RESOURCE_ERROR",
			                              "message", msg ? msg : ""));
			json_object_set_new(pub, "httpErrorStatusCode",
			                    json_integer(rpc_to_http(code)));
			json_object_set_new(pub, "httpErrorMessage",
			                    json_string(google_status_name(
			                            rpc_to_http(code))));
		} else {
			json_object_set_new(pub, "error",
			                    json_pack("{s:i, s:s}", "code", code,
			                              "message", msg ? msg : ""));
			json_object_set_new(pub, "statusMessage",
			                    json_string(msg ? msg : ""));
		}
		effects_run(f, json_object_get(op, "error_effects"));
	} else {
		effects_run(f, json_object_get(op, "effects"));
	}
	json_object_set_new(op, "polls", json_integer(-1));
}

/* Finished operations kept: a fake that runs for days must not keep
 * every operation it ever ran.  Past the cap the oldest finished ones
 * go, down to three quarters of it (so trimming is rare); running ones
 * always stay. */
#define OPS_KEEP_DONE 1000

struct op_age {
	const char *key;
	json_int_t start;
};

static int
op_age_cmp(const void *a, const void *b)
{
	const struct op_age *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

static void
ops_trim(struct fake *f)
{
	json_t *ops = fake_db(f, "operations"), *op;
	struct op_age *done;
	size_t n = 0, drop;
	const char *k;

	if (json_object_size(ops) <= OPS_KEEP_DONE)
		return;
	done = calloc(json_object_size(ops), sizeof(*done));
	if (done == NULL)
		return;
	json_object_foreach(ops, k, op) {
		if (json_integer_value(json_object_get(op, "polls")) != -1)
			continue;
		done[n].key = k;
		done[n].start = json_integer_value(json_object_get(op,
		                                                   "start_ms"));
		n++;
	}
	if (n > OPS_KEEP_DONE) {
		qsort(done, n, sizeof(*done), op_age_cmp);
		drop = n - OPS_KEEP_DONE * 3 / 4;
		/* keys first: deleting frees the key strings */
		for (size_t i = 0; i < drop; i++)
			done[i].key = strdup(done[i].key);
		for (size_t i = 0; i < drop; i++) {
			if (done[i].key != NULL)
				json_object_del(ops, done[i].key);
			free((char *)done[i].key);
		}
	}
	free(done);
}

json_t *
op_new(struct fake *f, struct freq *rq, const char *key, json_t *public,
       json_t *effects)
{
	json_t *op, *error_effects = NULL;

	/* error_effects ride along inside `effects` as a second element
	 * when the caller gives {"ok": [...], "error": [...]}. */
	if (json_is_object(effects)) {
		error_effects = json_incref(json_object_get(effects, "error"));
		json_t *ok = json_incref(json_object_get(effects, "ok"));
		json_decref(effects);
		effects = ok;
	}
	op = json_pack("{s:o, s:s, s:i, s:I, s:i, s:o, s:o}", "public", public,
	               "api",
	               strncmp(key, "compute/", 8) == 0 ? "compute" : "gke",
	               "polls", fst(f)->opt.op_polls > 1 ? fst(f)->opt.op_polls - 1 : 0,
	               "start_ms", (json_int_t)fake_clock_ms(f), "time_ms",
	               fst(f)->opt.op_time_ms, "effects",
	               effects ? effects : json_array(), "error_effects",
	               error_effects ? error_effects : json_array());
	json_object_set_new(public, "status", json_string("RUNNING"));
	if (rq->op_error != NULL)
		json_object_set(op, "error", rq->op_error);
	ops_trim(f);
	json_object_set_new(fake_db(f, "operations"), key, op);
	return json_deep_copy(public);
}

/* Has the operation run for its --op-time? */
static bool
op_time_up(struct fake *f, const json_t *op)
{
	json_int_t start = json_integer_value(json_object_get(op, "start_ms"));
	json_int_t need = json_integer_value(json_object_get(op, "time_ms"));

	return need <= 0 ||
	       fake_clock_ms(f) - (long long)start >= (long long)need;
}

json_t *
op_poll(struct fake *f, const char *key)
{
	json_t *op = json_object_get(fake_db(f, "operations"), key);
	json_int_t polls;

	if (op == NULL)
		return NULL;
	polls = json_integer_value(json_object_get(op, "polls"));
	if (polls > 0)
		json_object_set_new(op, "polls", json_integer(polls - 1));
	else if (polls == 0 && op_time_up(f, op))
		op_finish(f, op);
	return json_deep_copy(json_object_get(op, "public"));
}

json_t *
op_peek(struct fake *f, const char *key)
{
	json_t *op = json_object_get(fake_db(f, "operations"), key);

	if (op == NULL)
		return NULL;
	if (json_integer_value(json_object_get(op, "polls")) == 0 &&
	    op_time_up(f, op))
		op_finish(f, op);
	return json_deep_copy(json_object_get(op, "public"));
}
