/* cluster/prom.c - Prometheus instant queries (prom.h). */
#include <curl/curl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/prom.h"
#include "core/http.h"

void
prom_vector_free(struct prom_vector *v)
{
	if (v == NULL)
		return;
	for (size_t i = 0; i < v->n; i++)
		json_decref(v->s[i].metric);
	free(v->s);
	v->s = NULL;
	v->n = 0;
}

const char *
prom_label(const struct prom_vector *v, size_t i, const char *name)
{
	const char *s;

	if (i >= v->n)
		return "";
	s = json_string_value(json_object_get(v->s[i].metric, name));
	return s ? s : "";
}

/* Prometheus's value text: a Go float ("1.5", "NaN", "+Inf"). */
static int
parse_value(const char *s, double *out)
{
	char *end;

	if (strcmp(s, "NaN") == 0) {
		*out = NAN;
		return 0;
	}
	if (strcmp(s, "+Inf") == 0 || strcmp(s, "-Inf") == 0) {
		*out = s[0] == '+' ? INFINITY : -INFINITY;
		return 0;
	}
	*out = strtod(s, &end);
	return end != s && *end == '\0' ? 0 : -1;
}

int
prom_parse_vector(const char *body, size_t len, const char *what,
                  struct prom_vector *out, struct mv_err *err)
{
	json_error_t je;
	json_t *doc = json_loadb(body, len, 0, &je), *data, *res, *e;
	const char *st;
	size_t i;

	memset(out, 0, sizeof(*out));
	if (doc == NULL)
		return mv_err_set(err, MV_EXIT_CLOUD, "%s: the answer is not "
		                  "JSON: %s", what, je.text);
	st = json_string_value(json_object_get(doc, "status"));
	if (st == NULL || strcmp(st, "success") != 0) {
		const char *msg = json_string_value(json_object_get(doc, "error"));

		mv_err_set(err, MV_EXIT_CLOUD, "%s: Prometheus answered %s: %.300s",
		           what, st ? st : "without a status",
		           msg ? msg : "(no error message)");
		json_decref(doc);
		return -1;
	}
	data = json_object_get(doc, "data");
	st = json_string_value(json_object_get(data, "resultType"));
	res = json_object_get(data, "result");
	if (st == NULL || strcmp(st, "vector") != 0 || !json_is_array(res)) {
		json_decref(doc);
		return mv_err_set(err, MV_EXIT_CLOUD, "%s: data.resultType is "
		                  "not a vector with a result list", what);
	}
	if (json_array_size(res) > PROM_MAX_ROWS) {
		mv_err_set(err, MV_EXIT_CLOUD, "%s: %zu rows, more than the %d "
		           "expected", what, json_array_size(res), PROM_MAX_ROWS);
		json_decref(doc);
		return -1;
	}
	out->s = calloc(json_array_size(res) + 1, sizeof(*out->s));
	if (out->s == NULL)
		abort();
	json_array_foreach(res, i, e) {
		json_t *m = json_object_get(e, "metric");
		json_t *v = json_object_get(e, "value");
		const char *vs = json_string_value(json_array_get(v, 1));
		double d;

		if (!json_is_object(m) || json_array_size(v) != 2 || vs == NULL ||
		    parse_value(vs, &d) != 0) {
			mv_err_set(err, MV_EXIT_CLOUD, "%s: data.result[%zu] is not "
			           "{metric, value: [time, \"number\"]}", what, i);
			prom_vector_free(out);
			json_decref(doc);
			return -1;
		}
		out->s[out->n].metric = json_incref(m);
		out->s[out->n++].value = d;
	}
	json_decref(doc);
	return 0;
}

int
prom_query(struct mv_http *h, const char *base_url, const char *query,
           double time, struct prom_vector *out, struct mv_err *err)
{
	char url[PROM_MAX_URL], what[PROM_MAX_URL + 8], tbuf[48] = "";
	char *q = curl_easy_escape(NULL, query, 0);
	size_t bl = strlen(base_url);
	struct mv_http_req rq = {.method = "GET", .url = url,
	                         .idempotent = true};
	struct mv_http_resp rs;
	int n, rc;

	memset(out, 0, sizeof(*out));
	if (q == NULL)
		abort();
	while (bl > 0 && base_url[bl - 1] == '/')
		bl--;
	if (time > 0)
		snprintf(tbuf, sizeof(tbuf), "&time=%.3f", time);
	n = snprintf(url, sizeof(url), "%.*s/api/v1/query?query=%s%s",
	             (int)bl, base_url, q, tbuf);
	curl_free(q);
	if (n < 0 || (size_t)n >= sizeof(url))
		return mv_err_set(err, MV_EXIT_FAIL, "Prometheus URL %s: the query "
		                  "URL is longer than %d bytes", base_url,
		                  PROM_MAX_URL);
	snprintf(what, sizeof(what), "GET %.*s/api/v1/query", (int)bl,
	         base_url);
	if (mv_http_do(h, &rq, &rs, err) != 0) {
		mv_http_resp_free(&rs);
		return -1;
	}
	/* Prometheus answers bad queries 400 with its own envelope */
	if (rs.status != 200 && (rs.status != 400 && rs.status != 422)) {
		rc = mv_http_fail(err, &rq, &rs);
		mv_http_resp_free(&rs);
		return rc;
	}
	rc = prom_parse_vector(rs.body ? rs.body : "", rs.len, what, out, err);
	if (rc == 0 && rs.status != 200) {
		prom_vector_free(out);
		rc = mv_err_set(err, MV_EXIT_CLOUD, "%s: status %ld", what,
		                rs.status);
	}
	mv_http_resp_free(&rs);
	return rc;
}
