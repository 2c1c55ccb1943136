/* cli/rh_journal.c - see rh_journal.h. */
#include "cli/rh_journal.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"

#define LINE_MAX_BYTES ((size_t)16 << 20)

struct rh_line {
	long off;
	bool ours, mutating, retry, fault;
};

struct rh_journal {
	struct rh_line *lines;
	size_t n, cap;
	json_t *creates; /* {key: count} */
};

static const char *
jstr(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "";
}

/* What identifies a request for retry detection. */
static char *
request_key(const json_t *e)
{
	return mv_xstrfmt("%s %s %s?%s %s", jstr(e, "listener"),
	                  jstr(e, "method"), jstr(e, "path"), jstr(e, "query"),
	                  jstr(e, "body_sha256"));
}

/* ?name=X of an upload (percent-encoded as sent; enough as a key). */
static char *
query_name(const char *q)
{
	for (const char *p = q; p && *p; p = strchr(p, '&') ? strchr(p, '&') + 1
	                                                    : NULL) {
		if (strncmp(p, "name=", 5) == 0) {
			size_t n = strcspn(p + 5, "&");
			return n ? mv_xstrndup(p + 5, n) : NULL;
		}
	}
	return NULL;
}

static void
note_create(struct rh_journal *j, const json_t *e)
{
	const char *m = jstr(e, "method"), *lis = jstr(e, "listener");
	long st = (long)json_integer_value(json_object_get(e, "status"));
	json_t *body = json_object_get(e, "body");
	const char *name = NULL;
	char *key = NULL, *qn = NULL;

	/* a fault that answers is not 2xx; a delay still did the create */
	if (st < 200 || st > 299)
		return;
	if (!strcmp(m, "PATCH") && st == 201) {
		key = mv_xstrfmt("%s %s", lis, jstr(e, "path"));
	} else if (!strcmp(m, "POST")) {
		name = json_string_value(json_object_get(body, "name"));
		if (name == NULL)
			name = json_string_value(json_object_get(
				json_object_get(body, "cluster"), "name"));
		if (name == NULL)
			name = json_string_value(json_object_get(
				json_object_get(body, "metadata"), "name"));
		if (name == NULL)
			name = qn = query_name(jstr(e, "query"));
		if (name != NULL)
			key = mv_xstrfmt("%s %s/%s", lis, jstr(e, "path"), name);
	}
	if (key != NULL) {
		json_t *c = json_object_get(j->creates, key);
		json_object_set_new(j->creates, key,
		                    json_integer(json_integer_value(c) + 1));
	}
	free(key);
	free(qn);
}

static bool
failed(const json_t *e)
{
	long st = (long)json_integer_value(json_object_get(e, "status"));
	return st == 0 || st == 429 || st >= 500;
}

int
rh_journal_load(const char *path, struct rh_journal **out,
                struct mv_err *err)
{
	FILE *fp = fopen(path, "r");
	struct rh_journal *j;
	json_t *pending; /* request keys whose last answer was a failure */
	char *line = NULL;
	size_t cap = 0, lineno = 0;
	ssize_t len;
	long off = 0;
	int rc = 0;

	*out = NULL;
	if (fp == NULL)
		return mv_err_sys(err, errno, "%s", path);
	j = mv_xcalloc(1, sizeof(*j));
	j->creates = json_object();
	pending = json_object();
	while ((len = getline(&line, &cap, fp)) > 0) {
		json_t *e;
		char *key;

		lineno++;
		if ((size_t)len > LINE_MAX_BYTES ||
		    (e = json_loadb(line, (size_t)len, 0, NULL)) == NULL ||
		    !json_is_object(e)) {
			rc = mv_err_set(err, MV_EXIT_FAIL, "%s:%zu: not a journal line "
			                "(a JSON object)", path, lineno);
			break;
		}
		if (j->n == j->cap) {
			j->cap = j->cap ? 2 * j->cap : 256;
			j->lines = mv_xreallocarray(j->lines, j->cap, sizeof(*j->lines));
		}
		key = request_key(e);
		j->lines[j->n] = (struct rh_line){
			.off = off,
			.ours = strncmp(jstr(json_object_get(e, "headers"), "user-agent"),
			                "meshvm/", 7) == 0,
			.mutating = json_is_true(json_object_get(e, "mutating")),
			.fault = json_object_get(e, "fault") != NULL,
			.retry = json_object_get(pending, key) != NULL};
		j->n++;
		if (failed(e))
			json_object_set_new(pending, key, json_true());
		else
			json_object_del(pending, key);
		note_create(j, e);
		free(key);
		json_decref(e);
		off += (long)len;
	}
	free(line);
	fclose(fp);
	json_decref(pending);
	if (rc != 0) {
		rh_journal_free(j);
		return -1;
	}
	*out = j;
	return 0;
}

void
rh_journal_free(struct rh_journal *j)
{
	if (j == NULL)
		return;
	free(j->lines);
	json_decref(j->creates);
	free(j);
}

void
rh_journal_count(const struct rh_journal *j, long from, long to,
                 struct rh_counts *out)
{
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < j->n; i++) {
		const struct rh_line *l = &j->lines[i];
		if (l->off < from || (to >= 0 && l->off >= to))
			continue;
		if (!l->ours) {
			out->others++;
			continue;
		}
		out->requests++;
		/* the fake injects a fault before the handler runs: a faulted
		 * request changed nothing, though its method mutates */
		out->mutating += l->mutating && !l->fault;
		out->retries += l->retry;
		out->faults += l->fault;
	}
}

json_t *
rh_journal_creates(const struct rh_journal *j)
{
	return json_deep_copy(j->creates);
}
