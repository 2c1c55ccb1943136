/* harness/fake/control.c - the control API under /_fake/ (state,
 * journal, faults, reset, token, clock, health): not journaled, no auth,
 * no faults.  A service like the others; the router sends it /_fake/. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/fake/svc.h"

/* ------------------------------------------------------------------ */
/* Control API (/_fake/...): not journaled, no faults, no auth         */
/* ------------------------------------------------------------------ */

static void
control_state(struct fake *f, struct fresp *rs)
{
	json_t *doc = json_object(), *blobs = json_object(), *v;
	const char *k;

	/* what the simulated controllers owe happens before anyone looks */
	for (size_t i = 0; i < fst(f)->n_kc; i++)
		kctl_tick(f, fst(f)->kc[i]);
	/* the tables by reference, no deep copy: serialized at once, under
	 * the lock that keeps them still */
	json_object_foreach(fst(f)->db, k, v)
		json_object_set(doc, k, v);
	for (size_t i = 0; i < fst(f)->n_blobs; i++)
		json_object_set_new(blobs, fst(f)->blobs[i].key,
		                    json_pack("{s:I}", "size",
		                              (json_int_t)fst(f)->blobs[i].len));
	json_object_set_new(doc, "blobs", blobs);
	json_object_set_new(doc, "url", json_string(fst(f)->url));
	resp_json(rs, 200, doc);
}

static void
control_reset(struct fake *f, struct fresp *rs)
{
	json_t *keys = fake_sorted_keys(fake_db(f, "clusters"), ""), *k;
	json_t *tokens = json_incref(json_object_get(fst(f)->db, "tokens"));
	size_t i;

	json_array_foreach(keys, i, k)
		kube_cluster_remove(f, json_string_value(k));
	json_decref(keys);
	json_object_clear(fst(f)->db);
	/* Issued tokens survive, but for the expired ones: clients holding
	 * one keep working. */
	if (tokens != NULL)
		json_object_set_new(fst(f)->db, "tokens", tokens);
	auth_prune_tokens(f);
	for (size_t b = 0; b < fst(f)->n_blobs; b++) {
		free(fst(f)->blobs[b].key);
		free(fst(f)->blobs[b].data);
	}
	free(fst(f)->blobs);
	fst(f)->blobs = NULL;
	fst(f)->n_blobs = 0;
	journal_clear(fst(f)->journal);
	if (fst(f)->faults != NULL)
		faults_reset_counters(fst(f)->faults);
	resp_json(rs, 200, json_pack("{s:b}", "reset", 1));
}

static void
control_faults(struct fake *f, struct freq *rq, struct fresp *rs)
{
	struct faults *nf = NULL;
	struct mv_err err;

	mv_err_clear(&err);
	if (strcmp(rq->method, "GET") == 0) {
		resp_json(rs, 200, faults_json(fst(f)->faults));
		return;
	}
	if (strcmp(rq->method, "DELETE") == 0) {
		faults_free(fst(f)->faults);
		fst(f)->faults = NULL;
		resp_json(rs, 200, faults_json(NULL));
		return;
	}
	if (strcmp(rq->method, "PUT") != 0) {
		resp_gerr(rs, 405, NULL, "Use GET, PUT or DELETE on /_fake/faults.");
		return;
	}
	if (faults_load(f, "faults", rq->body ? rq->body : "", rq->body_len,
	                &nf, &err) != 0) {
		resp_gerr(rs, 400, "invalid", "%s", err.msg);
		return;
	}
	faults_free(fst(f)->faults);
	fst(f)->faults = nf;
	resp_json(rs, 200, faults_json(fst(f)->faults));
}

static void
control_journal(struct fake *f, struct freq *rq, struct fresp *rs)
{
	const char *since = freq_arg(rq, "since");
	size_t len;
	char *s;

	if (strcmp(rq->method, "DELETE") == 0) {
		journal_clear(fst(f)->journal);
		resp_json(rs, 200, json_pack("{s:b}", "cleared", 1));
		return;
	}
	s = journal_dump(fst(f)->journal, since ? strtoull(since, NULL, 10) : 0,
	                 freq_arg(rq, "listener"), &len);
	resp_bytes(rs, 200, "application/x-ndjson", s ? s : "", s ? len : 0);
	free(s);
}

static void
control_token(struct fake *f, struct freq *rq, struct fresp *rs)
{
	const char *email = freq_arg(rq, "email");
	char *tok = auth_issue_token(f, email ? email : "tester@fake", 3600);

	resp_json(rs, 200, json_pack("{s:s, s:i, s:s}", "access_token",
	                             tok ? tok : "", "expires_in", 3600,
	                             "token_type", "Bearer"));
	free(tok);
}

/* POST /_fake/clock?advance_ms=N moves the fake's clock on (operations
 * finish, requestIds expire) without waiting; GET shows it. */
static void
control_clock(struct fake *f, struct freq *rq, struct fresp *rs)
{
	const char *adv = freq_arg(rq, "advance_ms");
	char *end = NULL;
	long long n = 0;

	if (strcmp(rq->method, "POST") == 0) {
		if (adv != NULL)
			n = strtoll(adv, &end, 10);
		if (adv == NULL || *adv == '\0' || *end != '\0' || n < 0 ||
		    n > 365LL * 24 * 3600 * 1000) {
			resp_gerr(rs, 400, "invalid", "advance_ms: expected 0 to "
			          "31536000000.");
			return;
		}
		fst(f)->clock_skew_ms += n;
	}
	resp_json(rs, 200, json_pack("{s:I, s:I}", "now_ms",
	                             (json_int_t)fake_clock_ms(f), "skew_ms",
	                             (json_int_t)fst(f)->clock_skew_ms));
}

/* POST /_fake/snapshot: the --state directory written now, not only at
 * a clean stop. */
static void
control_snapshot(struct fake *f, struct fresp *rs)
{
	struct mv_err err;

	mv_err_clear(&err);
	if (fst(f)->opt.state_dir == NULL || fst(f)->on_snapshot == NULL) {
		resp_gerr(rs, 400, "failedPrecondition", "No state directory: start "
		          "the fake with --state DIR.");
		return;
	}
	if (fst(f)->on_snapshot(f, &err) != 0) {
		resp_gerr(rs, 500, NULL, "%s", err.msg);
		return;
	}
	resp_json(rs, 200, json_pack("{s:s}", "saved", fst(f)->opt.state_dir));
}

void
control_dispatch(struct fake *f, struct freq *rq, struct fresp *rs)
{
	const char *what = rq->n_seg > 1 ? rq->seg[1] : "";
	bool get = strcmp(rq->method, "GET") == 0;

	if (vmnet_control(f, rq, rs)) {
		/* POST /_fake/vms/NAME/listener (compute_vmnet.c) */
	} else if (rq->n_seg != 2) {
		resp_gerr(rs, 404, NULL, "Unknown control endpoint.");
	} else if (strcmp(what, "state") == 0 && get) {
		control_state(f, rs);
	} else if (strcmp(what, "reset") == 0 &&
	           strcmp(rq->method, "POST") == 0) {
		control_reset(f, rs);
	} else if (strcmp(what, "faults") == 0) {
		control_faults(f, rq, rs);
	} else if (strcmp(what, "journal") == 0 &&
	           (get || strcmp(rq->method, "DELETE") == 0)) {
		control_journal(f, rq, rs);
	} else if (strcmp(what, "token") == 0 &&
	           strcmp(rq->method, "POST") == 0) {
		control_token(f, rq, rs);
	} else if (strcmp(what, "clock") == 0 &&
	           (get || strcmp(rq->method, "POST") == 0)) {
		control_clock(f, rq, rs);
	} else if (strcmp(what, "snapshot") == 0 &&
	           strcmp(rq->method, "POST") == 0) {
		control_snapshot(f, rs);
	} else if (fake_iam_control(f, what, rq, rs)) {
		/* /_fake/iam, /_fake/quotas (iam.c) */
	} else if (strcmp(what, "health") == 0 && get) {
		resp_json(rs, 200, json_pack("{s:s, s:b}", "url", fst(f)->url, "ok", 1));
	} else {
		resp_gerr(rs, 404, NULL, "Unknown control endpoint.");
	}
}

