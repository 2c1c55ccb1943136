/* harness/fake/fixture.c - --load-state FILE: a JSON fixture of
 * clusters, buckets, objects and Kubernetes objects that another
 * project's tests start from (docs/fake.md, "Starting from a fixture").
 *
 * Every entry goes through fake_handle() as the request a client would
 * send, so a fixture gets exactly what the API gives (defaults, ids,
 * validation), and a mistake is named by its place in the file and the
 * fake's own answer.  Operations are read until DONE.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base64.h"
#include "core/util.h"
#include "harness/fake/net.h"

#define FIXTURE_MAX ((size_t)256 << 20)

struct fx {
	struct fake *f;
	const char *path;
	struct mv_err *err;
	char auth[160];           /* a token of the fake's own, for when auth
	                           * is on */
};

/* One request; its answer in *out (NULL to drop it); -1 with err set
 * unless the status is one of `ok`. */
static int
fx_req(struct fx *x, const char *where, const char *listener,
       const char *method, const char *target, const char *ctype,
       const void *body, size_t len, int ok, json_t **out)
{
	char hdr[160];
	const char *h[] = {x->auth, hdr};
	struct fake_response r;
	int rc = 0;

	snprintf(hdr, sizeof(hdr), "Content-Type: %s", ctype ? ctype : "");
	if (fake_handle(x->f, listener, method, target, h, ctype ? 2 : 1, body,
	                len, &r) != 0)
		return mv_err_set(x->err, MV_EXIT_FAIL, "%s: %s: no cluster "
		                  "'%s'", x->path, where, listener);
	if (r.status != ok && !(ok == 200 && r.status == 201))
		rc = mv_err_set(x->err, MV_EXIT_FAIL, "%s: %s: %s %s answered "
		                "%d: %.300s", x->path, where, method, target,
		                r.status, r.body);
	else if (out != NULL)
		*out = json_loadb(r.body, r.body_len, 0, NULL);
	fake_response_free(&r);
	return rc;
}

static int
fx_post_json(struct fx *x, const char *where, const char *listener,
             const char *target, json_t *body, json_t **out)
{
	char *s = json_dumps(body, JSON_COMPACT);
	int rc;

	if (s == NULL)
		return mv_err_set(x->err, MV_EXIT_FAIL, "out of memory");
	rc = fx_req(x, where, listener, "POST", target, "application/json", s,
	            strlen(s), 200, out);
	free(s);
	return rc;
}

static int
fx_clusters(struct fx *x, json_t *list)
{
	json_t *c;
	size_t i;

	json_array_foreach(list, i, c) {
		const char *p = json_string_value(json_object_get(c, "project"));
		const char *l = json_string_value(json_object_get(c, "location"));
		json_t *body, *op = NULL, *done = NULL;
		char where[64], target[512];
		int rc;

		snprintf(where, sizeof(where), "clusters[%zu]", i);
		if (p == NULL || l == NULL || !json_is_string(json_object_get(c,
		                                                        "name")))
			return mv_err_set(x->err, MV_EXIT_USAGE, "%s: %s: needs "
			                  "project, location and name", x->path, where);
		body = json_deep_copy(c);
		json_object_del(body, "project");
		json_object_del(body, "location");
		if (json_object_get(body, "initialNodeCount") == NULL &&
		    json_object_get(body, "nodePools") == NULL)
			json_object_set_new(body, "initialNodeCount", json_integer(1));
		snprintf(target, sizeof(target), "/v1/projects/%s/locations/%s/"
		         "clusters", p, l);
		body = json_pack("{s:o}", "cluster", body);
		rc = fx_post_json(x, where, "gcp", target, body, &op);
		json_decref(body);
		for (int n = 0; rc == 0 && n < 1000; n++) {
			snprintf(target, sizeof(target), "/v1/projects/%s/locations/%s/"
			         "operations/%s", p, l, fake_jstr(op, "name"));
			json_decref(done);
			done = NULL;
			rc = fx_req(x, where, "gcp", "GET", target, NULL, NULL, 0, 200,
			            &done);
			if (rc == 0 && !strcmp(fake_jstr(done, "status"), "DONE"))
				break;
		}
		json_decref(op);
		json_decref(done);
		if (rc != 0)
			return -1;
	}
	return 0;
}

static int
fx_buckets(struct fx *x, json_t *list)
{
	json_t *b;
	size_t i;

	json_array_foreach(list, i, b) {
		const char *p = json_string_value(json_object_get(b, "project"));
		char where[64], target[300];
		json_t *body = json_deep_copy(b);
		int rc;

		snprintf(where, sizeof(where), "buckets[%zu]", i);
		json_object_del(body, "project");
		snprintf(target, sizeof(target), "/storage/v1/b?project=%s",
		         p ? p : "fake-project");
		rc = fx_post_json(x, where, "gcp", target, body, NULL);
		json_decref(body);
		if (rc != 0)
			return -1;
	}
	return 0;
}

/* Query values: what is not unreserved is percent-encoded. */
static char *
pct(const char *s)
{
	char *out = malloc(strlen(s) * 3 + 1), *o = out;

	if (out == NULL)
		return NULL;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || strchr("-._~", c))
			*o++ = (char)c;
		else
			o += sprintf(o, "%%%02X", c);
	}
	*o = '\0';
	return out;
}

static int
fx_objects(struct fx *x, json_t *list)
{
	json_t *ob;
	size_t i;

	json_array_foreach(list, i, ob) {
		const char *bucket = fake_jstr(ob, "bucket");
		const char *name = fake_jstr(ob, "name");
		const char *text = json_string_value(json_object_get(ob, "content"));
		const char *b64 = json_string_value(json_object_get(ob,
		                                                    "content_base64"));
		const char *ctype = json_string_value(json_object_get(ob,
		                                                      "contentType"));
		uint8_t *raw = NULL;
		size_t len = 0;
		char where[64], *target, *en = pct(name), *eb = pct(bucket);
		int rc;

		snprintf(where, sizeof(where), "objects[%zu]", i);
		if (b64 != NULL &&
		    mv_base64_decode(b64, strlen(b64), &raw, &len) != 0) {
			free(en);
			free(eb);
			return mv_err_set(x->err, MV_EXIT_USAGE, "%s: %s: "
			                  "content_base64 is not base64", x->path,
			                  where);
		}
		target = mv_strfmt("/upload/storage/v1/b/%s/o?uploadType=media&"
		                   "name=%s", eb ? eb : "", en ? en : "");
		rc = fx_req(x, where, "gcp", "POST", target ? target : "/",
		            ctype ? ctype : "application/octet-stream",
		            raw ? (const void *)raw : text ? text : "",
		            raw ? len : text ? strlen(text) : 0, 200, NULL);
		free(target);
		free(raw);
		free(en);
		free(eb);
		if (rc != 0)
			return -1;
	}
	return 0;
}

/* The collection path of an object, from the cluster's discovery. */
static int
fx_kube_path(struct fx *x, const char *where, const char *cluster,
             json_t *obj, char **out)
{
	const char *gv = fake_jstr(obj, "apiVersion");
	const char *kind = fake_jstr(obj, "kind");
	const char *ns = fake_jstr(json_object_get(obj, "metadata"),
	                           "namespace");
	char *disc = mv_strfmt("%s%s", strchr(gv, '/') ? "/apis/" : "/api/",
	                       gv);
	json_t *doc = NULL, *r;
	size_t i;
	int rc;

	*out = NULL;
	rc = disc ? fx_req(x, where, cluster, "GET", disc, NULL, NULL, 0, 200,
	                   &doc)
	          : -1;
	json_array_foreach(json_object_get(doc, "resources"), i, r) {
		if (strcmp(fake_jstr(r, "kind"), kind) != 0 ||
		    strchr(fake_jstr(r, "name"), '/') != NULL)
			continue;
		if (json_is_true(json_object_get(r, "namespaced")))
			*out = mv_strfmt("%s/namespaces/%s/%s", disc,
			                 *ns ? ns : "default", fake_jstr(r, "name"));
		else
			*out = mv_strfmt("%s/%s", disc, fake_jstr(r, "name"));
		break;
	}
	json_decref(doc);
	free(disc);
	if (rc == 0 && *out == NULL)
		rc = mv_err_set(x->err, MV_EXIT_USAGE, "%s: %s: cluster %s serves "
		                "no kind %s in %s", x->path, where, cluster, kind,
		                gv);
	return rc;
}

static int
fx_kube(struct fx *x, json_t *by_cluster)
{
	const char *cluster;
	json_t *list, *obj;
	size_t i;

	json_object_foreach(by_cluster, cluster, list) {
		json_array_foreach(list, i, obj) {
			char where[200], *target = NULL;
			int rc;

			snprintf(where, sizeof(where), "kube.%s[%zu]", cluster, i);
			if (fx_kube_path(x, where, cluster, obj, &target) != 0)
				return -1;
			rc = fx_post_json(x, where, cluster, target, obj, NULL);
			free(target);
			if (rc != 0)
				return -1;
		}
	}
	return 0;
}

int
fake_load_fixture(struct fake *f, const char *path, struct mv_err *err)
{
	static const char *const known[] = {"format", "clusters", "buckets",
	                                    "objects", "kube", NULL};
	struct fx x = {f, path, err, ""};
	json_error_t je;
	char *buf;
	size_t len;
	json_t *doc;
	const char *k;
	json_t *v;
	int rc = 0;

	buf = mv_read_file(path, FIXTURE_MAX, &len, err);
	if (buf == NULL)
		return -1;
	doc = json_loadb(buf, len, 0, &je);
	free(buf);
	if (doc == NULL)
		return mv_err_at(err, MV_EXIT_USAGE, path, je.line, je.column, "%s",
		                 je.text);
	json_object_foreach(doc, k, v) {
		size_t i;
		for (i = 0; known[i] && strcmp(known[i], k); i++)
			;
		if (known[i] == NULL) {
			mv_err_set(err, MV_EXIT_USAGE, "%s: unknown field '%.64s' "
			           "(clusters, buckets, objects, kube)", path, k);
			json_decref(doc); /* k is doc's */
			return -1;
		}
	}
	{
		json_t *tok = NULL;
		snprintf(x.auth, sizeof(x.auth), "X-Fixture: 1");
		if (fx_req(&x, "token", "gcp", "POST", "/_fake/token", NULL, NULL,
		           0, 200, &tok) != 0) {
			json_decref(doc);
			return -1;
		}
		snprintf(x.auth, sizeof(x.auth), "Authorization: Bearer %s",
		         fake_jstr(tok, "access_token"));
		json_decref(tok);
	}
	if (fx_clusters(&x, json_object_get(doc, "clusters")) != 0 ||
	    fx_buckets(&x, json_object_get(doc, "buckets")) != 0 ||
	    fx_objects(&x, json_object_get(doc, "objects")) != 0 ||
	    fx_kube(&x, json_object_get(doc, "kube")) != 0)
		rc = -1;
	json_decref(doc);
	/* the journal is for what the tests' clients send */
	if (rc == 0)
		rc = fx_req(&x, "journal", "gcp", "DELETE", "/_fake/journal", NULL,
		            NULL, 0, 200, NULL);
	return rc;
}
