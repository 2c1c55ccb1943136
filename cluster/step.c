/* cluster/step.c - see step.h. */
#include "cluster/step.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/kube.h"
#include "cluster/kubeconfig.h"
#include "core/http.h"
#include "core/log.h"
#include "core/xalloc.h"

struct plan_kubes {
	size_t n;
	char **context;
	struct kube **client;
};

long
step_deadline(const struct plan_ctx *ctx, long real_ms)
{
	return mv_now_ms() + (ctx->fast ? 60000 : real_ms);
}

int
step_poll(struct plan_ctx *ctx, long deadline, const char *label,
          mv_poll_fn fn, void *arg, struct mv_err *err)
{
	long interval = mv_http_get_timing(ctx->gcp->http)->poll_ms;
	int rc = mv_poll_until(deadline, interval, fn, arg,
	                       ctx->progress ? label : NULL, err);

	if (rc == MV_POLL_INTERRUPTED)
		mv_err_set(err, MV_EXIT_INTERRUPTED, "interrupted while waiting%s%s; "
		           "the state records what is in flight: run the command "
		           "again to resume", label ? " for " : "",
		           label ? label : "");
	return rc;
}

bool
step_ours(const struct plan_ctx *ctx, const char *id)
{
	return id != NULL && strcmp(id, mv_state_id(ctx->state)) == 0;
}

int
step_not_ours(const struct plan_ctx *ctx, const char *what, const char *name,
              const char *their_id, struct mv_err *err)
{
	return mv_err_set(err, MV_EXIT_CLOUD,
	                  "%s %s exists but is not this deployment's (its "
	                  "meshvm-id is %s, ours %s); refusing to adopt it: "
	                  "delete or rename it, or use its own state", what,
	                  name, their_id && their_id[0] ? their_id : "absent",
	                  mv_state_id(ctx->state));
}

char *
step_kubeconfig_path(const struct plan_ctx *ctx)
{
	return mv_xstrfmt("%s/kubeconfig", mv_state_dir(ctx->state));
}

int
step_kube(struct plan_ctx *ctx, const struct mv_cluster_config *c,
          struct kube **out, struct mv_err *err)
{
	struct plan_kubes *k = ctx->kubes;
	char *name = mv_config_context_name(ctx->cfg, c), *path;
	struct kube_target *t = NULL;
	struct kube *client = NULL;

	if (k == NULL)
		k = ctx->kubes = mv_xcalloc(1, sizeof(*k));
	for (size_t i = 0; i < k->n; i++)
		if (!strcmp(k->context[i], name)) {
			free(name);
			*out = k->client[i];
			return 0;
		}
	path = step_kubeconfig_path(ctx);
	if (kubeconfig_load(path, name, &t, err) != 0 ||
	    kube_new(t, ctx->gcp->http, &client, err) != 0) {
		free(path);
		free(name);
		return mv_err_prefix(err, "cluster %s", c->name);
	}
	free(path);
	k->context = mv_xreallocarray(k->context, k->n + 1, sizeof(char *));
	k->client = mv_xreallocarray(k->client, k->n + 1, sizeof(*k->client));
	k->context[k->n] = name;
	k->client[k->n++] = client;
	*out = client;
	return 0;
}

void
plan_ctx_release(struct plan_ctx *ctx)
{
	struct plan_kubes *k = ctx->kubes;

	if (k == NULL)
		return;
	for (size_t i = 0; i < k->n; i++) {
		free(k->context[i]);
		kube_free(k->client[i]);
	}
	free(k->context);
	free(k->client);
	free(k);
	ctx->kubes = NULL;
}

int
step_uuid(char out[37], struct mv_err *err)
{
	unsigned char b[16];

	if (RAND_bytes(b, sizeof(b)) != 1)
		return mv_err_set(err, MV_EXIT_FAIL, "no randomness for a request id");
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
	         "%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3], b[4], b[5],
	         b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
	return 0;
}

char *
step_record_key(const char *kind, const char *zone, const char *name)
{
	if (zone == NULL || zone[0] == '\0')
		return mv_xstrfmt("%s/%s", kind, name);
	return mv_xstrfmt("%s/%s/%s", kind, zone, name);
}

json_t *
step_record_get(const struct plan_ctx *ctx, const char *kind,
                const char *zone, const char *name)
{
	char *key = step_record_key(kind, zone, name);
	json_t *rec = mv_state_get(ctx->state, key);

	free(key);
	return rec;
}

json_t *
step_record_put(struct plan_ctx *ctx, const char *kind, const char *zone,
                const char *name)
{
	char *key = step_record_key(kind, zone, name);
	json_t *rec = mv_state_put(ctx->state, key, kind);

	free(key);
	mv_state_set_str(rec, "name", name);
	if (zone != NULL && zone[0] != '\0')
		mv_state_set_str(rec, "zone", zone);
	return rec;
}

bool
step_record_is(const char *key, const json_t *rec, const char *kind)
{
	const char *k = mv_state_str(rec, "kind");
	size_t n = strlen(kind);

	if (k != NULL)
		return strcmp(k, kind) == 0;
	return strncmp(key, kind, n) == 0 && key[n] == '/';
}

void
step_record_created(json_t *rec)
{
	mv_state_set_str(rec, "phase", "created");
	json_object_del(rec, "operation");
}

char *
step_progress_line(size_t n, const char *const *names,
                   const char *const *states)
{
	size_t len = 1, o = 0;
	char *line;

	for (size_t i = 0; i < n; i++)
		len += 2 + strlen(names[i]) + 1 + strlen(states[i] ? states[i] : "");
	line = mv_xmalloc(len);
	line[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		int w = snprintf(line + o, len - o, "%s%s %s", i ? ", " : "",
		                 names[i], states[i] ? states[i] : "");
		if (w < 0 || (size_t)w >= len - o)
			break; /* cannot happen: len counts every byte */
		o += (size_t)w;
	}
	return line;
}

struct deleting {
	struct plan_ctx *ctx;
	const struct step_deleter *d;
	size_t n;
	char **key;
	json_t **rec; /* own references: a dropped record stays readable */
	char **op;
};

static int
drop(struct deleting *w, size_t i, struct mv_err *err)
{
	mv_state_del(w->ctx->state, w->key[i]);
	free(w->op[i]);
	w->op[i] = NULL;
	return mv_state_save(w->ctx->state, err);
}

static int
delete_one(struct deleting *w, size_t i, struct mv_err *err)
{
	const struct step_deleter *d = w->d;
	const char *name = mv_state_str(w->rec[i], "name");
	char *id = NULL;
	int r;

	if (name == NULL) {
		mv_warn("%s record %s names nothing; dropping it", d->label,
		        w->key[i]);
		return drop(w, i, err);
	}
	r = d->owner(w->ctx, w->rec[i], &id, err);
	if (r < 0)
		return -1;
	if (r == 0 && !step_ours(w->ctx, id)) {
		mv_warn("%s %s belongs to another deployment (meshvm-id %s); "
		        "leaving it alone", d->label, name, id ? id : "absent");
		r = 1;
	}
	free(id);
	if (r == 0) {
		r = d->remove(w->ctx, w->rec[i], &w->op[i], err);
		if (r < 0)
			return -1;
		if (r == 0)
			mv_info("%s deleting %s", d->label, name);
	}
	return r == 1 || w->op[i] == NULL ? drop(w, i, err) : 0;
}

static int
probe_deletes(void *arg, char **state, struct mv_err *err)
{
	struct deleting *w = arg;
	size_t left = 0;

	for (size_t i = 0; i < w->n; i++) {
		int r;
		if (w->op[i] == NULL)
			continue;
		r = w->d->done(w->ctx, w->rec[i], w->op[i], err);
		if (r < 0)
			return -1;
		if (r == 0)
			left++;
		else if (drop(w, i, err) != 0)
			return -1;
	}
	*state = mv_xstrfmt("%zu deleting", left);
	return left == 0;
}

int
step_destroy_records(struct plan_ctx *ctx, const struct step_deleter *d,
                     struct mv_err *err)
{
	json_t *res = mv_state_resources(ctx->state), *rec;
	size_t cap = json_object_size(res) + 1;
	struct deleting w = {ctx, d, 0, mv_xcalloc(cap, sizeof(char *)),
	                     mv_xcalloc(cap, sizeof(json_t *)),
	                     mv_xcalloc(cap, sizeof(char *))};
	const char *key;
	int rc = -1;

	json_object_foreach(res, key, rec)
		if (step_record_is(key, rec, d->kind)) {
			w.key[w.n] = mv_xstrdup(key);
			w.rec[w.n++] = json_incref(rec);
		}
	for (size_t i = 0; i < w.n; i++)
		if (delete_one(&w, i, err) != 0)
			goto out;
	if (step_poll(ctx, step_deadline(ctx, d->deadline_ms), d->label,
	              probe_deletes, &w, err) != 0)
		goto out;
	rc = 0;
out:
	for (size_t i = 0; i < w.n; i++) {
		free(w.key[i]);
		json_decref(w.rec[i]);
		free(w.op[i]);
	}
	free(w.key);
	free(w.rec);
	free(w.op);
	return rc;
}
