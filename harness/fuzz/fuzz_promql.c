/* fuzz_promql.c - the fake's PromQL evaluator (harness/fake/promql.c)
 * reads a query string a client sends, and cluster/prom.c reads a
 * Prometheus answer: the input is tried as both. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/prom.h"
#include "harness/fake/promql.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct pq_db *
db_once(void)
{
	static struct pq_db *db;
	static const char *const les[] = {"1", "5", "50", "+Inf"};

	if (db != NULL)
		return db;
	db = pq_new();
	int fr = pq_family(db, "istio_requests_total", "counter");
	int fh = pq_family(db, "istio_request_duration_milliseconds",
	                   "histogram");
	for (int i = 0; i < 4; i++) {
		json_t *l = json_pack("{s:s,s:s}", "le", les[i],
		                      "destination_version", i % 2 ? "vm" : "gke");
		pq_add(db, pq_series(db, fh,
		                     "istio_request_duration_milliseconds_bucket",
		                     l), 10.0 * i);
		json_decref(l);
	}
	json_t *l = json_pack("{s:s,s:s}", "response_code", "200",
	                      "destination_version", "vm");
	int s = pq_series(db, fr, "istio_requests_total", l);
	json_decref(l);
	for (int t = 0; t < 20; t++) {
		pq_add(db, s, 3);
		pq_snapshot(db, (int64_t)t * 1000);
	}
	return db;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1), why[256];
	struct prom_vector v;
	struct mv_err err;
	json_t *r;

	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	r = pq_query(db_once(), text, 19000, why, sizeof(why));
	json_decref(r);
	r = pq_query_range(db_once(), text, 0, 19000, 3000, why, sizeof(why));
	json_decref(r);
	mv_err_clear(&err);
	if (prom_parse_vector(text, size, "GET fuzz", &v, &err) == 0)
		prom_vector_free(&v);
	free(text);
	return 0;
}
