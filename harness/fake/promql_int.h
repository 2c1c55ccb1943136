/* harness/fake/promql_int.h - what the fake Prometheus's store
 * (promql.c), parser (promql_parse.c) and evaluator (promql_eval.c)
 * share; promql.h is the contract for everyone else.  Base layer. */
#ifndef MESHVM_FAKE_PROMQL_INT_H
#define MESHVM_FAKE_PROMQL_INT_H

#include <stdbool.h>

#include "harness/fake/promql.h"

struct pq_fam {
	char *name, *type;
};

struct pq_series {
	int fam;
	char *name;
	json_t *labels;
	double cur;
	double *hist;            /* PQ_HIST, indexed like db->t */
};

struct pq_db {
	struct pq_fam *fams;
	size_t n_fams;
	struct pq_series *s;
	size_t n;
	int64_t t[PQ_HIST];     /* ring of snapshot times */
	size_t head, count;     /* next slot, snapshots kept */
};

enum { M_EQ, M_NE };

struct matcher {
	char name[64];
	char value[256];
	int op;
};

#define PQ_MAX_MATCHERS 16
#define PQ_MAX_BY 16

struct pexpr {
	double quantile;         /* NaN: not histogram_quantile */
	bool increase;
	bool has_by;
	char by[PQ_MAX_BY][64];
	size_t n_by;
	char metric[128];
	struct matcher m[PQ_MAX_MATCHERS];
	size_t n_m;
	int64_t window_ms;
};

/* Parse a query (promql.h's grammar) into e: 0, or -1 with a one-line
 * reason in why. */
int pq_parse(const char *expr, struct pexpr *e, char *why, size_t whylen);

#endif
