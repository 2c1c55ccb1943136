/* cluster/migrate_gate.c - the migration's gate and weights plan
 * (migrate_gate.h). */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/migrate_gate.h"

#define REQ_METRIC "istio_requests_total"
#define DUR_METRIC "istio_request_duration_milliseconds_bucket"

static bool
label_ok(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s; s++)
		if (!(isalnum((unsigned char)*s) || *s == '-' || *s == '.' ||
		      *s == '_'))
			return false;
	return true;
}

int
gate_query_requests(char *buf, size_t len, const char *service,
                    long window_s)
{
	int n;

	if (!label_ok(service) || window_s < 1)
		return -1;
	n = snprintf(buf, len, "sum by (destination_version, response_code, "
	             "grpc_response_status) (rate(" REQ_METRIC "{reporter="
	             "\"source\",destination_service_name=\"%s\"}[%lds]))",
	             service, window_s);
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

int
gate_query_p99(char *buf, size_t len, const char *service, long window_s)
{
	int n;

	if (!label_ok(service) || window_s < 1)
		return -1;
	n = snprintf(buf, len, "histogram_quantile(0.99, sum by (le, "
	             "destination_version) (rate(" DUR_METRIC "{reporter="
	             "\"source\",destination_service_name=\"%s\"}[%lds])))",
	             service, window_s);
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

static bool
failed(const struct prom_vector *v, size_t i)
{
	const char *code = prom_label(v, i, "response_code");
	const char *grpc = prom_label(v, i, "grpc_response_status");

	return code[0] == '5' || (grpc[0] != '\0' && strcmp(grpc, "0") != 0);
}

void
gate_decide(const struct prom_vector *requests,
            const struct prom_vector *p99, const char *service,
            const char *const *dests, size_t n_dests,
            const struct gate_limits *lim, struct gate_result *out)
{
	memset(out, 0, sizeof(*out));
	out->pass = true;
	for (size_t k = 0; k < n_dests && k < GATE_MAX_DEST; k++) {
		struct gate_dest *d = &out->d[out->n++];
		double all = 0, bad = 0;
		bool have_p99 = false;

		snprintf(d->name, sizeof(d->name), "%s", dests[k]);
		d->p99_ms = NAN;
		for (size_t i = 0; i < requests->n; i++) {
			double v = requests->s[i].value;

			if (strcmp(prom_label(requests, i, "destination_version"),
			           dests[k]) != 0 || !isfinite(v) || v < 0)
				continue;
			all += v;
			if (failed(requests, i))
				bad += v;
		}
		d->rps = all;
		d->success_rate = all > 0 ? 1.0 - bad / all : NAN;
		for (size_t i = 0; i < p99->n; i++)
			if (strcmp(prom_label(p99, i, "destination_version"),
			           dests[k]) == 0 && !isnan(p99->s[i].value)) {
				d->p99_ms = p99->s[i].value;
				have_p99 = true;
			}
		d->pass = all > 0 && d->success_rate >= lim->min_success_rate &&
		          have_p99 && d->p99_ms <= lim->max_p99_ms;
		if (d->pass || !out->pass)
			continue;
		out->pass = false;
		if (!(all > 0))
			snprintf(out->reason, sizeof(out->reason), "%s %s: no gate "
			         "data: no requests in the last %lds ("
			         REQ_METRIC "{reporter=\"source\"})", service,
			         d->name, lim->window_s);
		else if (d->success_rate < lim->min_success_rate)
			snprintf(out->reason, sizeof(out->reason), "%s %s: success "
			         "rate %.4f < %.4f (" REQ_METRIC "{reporter=\"source\"}"
			         ", %lds, failed = 5xx or grpc status != 0)", service,
			         d->name, d->success_rate, lim->min_success_rate,
			         lim->window_s);
		else if (!have_p99)
			snprintf(out->reason, sizeof(out->reason), "%s %s: no gate "
			         "data: no p99 in the last %lds (" DUR_METRIC ")",
			         service, d->name, lim->window_s);
		else
			snprintf(out->reason, sizeof(out->reason), "%s %s: p99 "
			         "%.1f ms > %.1f ms (" DUR_METRIC ", %lds)", service,
			         d->name, d->p99_ms, lim->max_p99_ms, lim->window_s);
	}
	if (n_dests == 0) {
		out->pass = false;
		snprintf(out->reason, sizeof(out->reason), "%s: no gate data: "
		         "no destination to gate", service);
	} else if (out->pass) {
		size_t o = 0;

		o += (size_t)snprintf(out->reason, sizeof(out->reason), "%s:",
		                      service);
		for (size_t k = 0; k < out->n && o < sizeof(out->reason); k++)
			o += (size_t)snprintf(out->reason + o,
			                      sizeof(out->reason) - o,
			                      " %s success rate %.4f >= %.4f, p99 "
			                      "%.1f ms <= %.1f ms;", out->d[k].name,
			                      out->d[k].success_rate,
			                      lim->min_success_rate, out->d[k].p99_ms,
			                      lim->max_p99_ms);
	}
}

int
gate_evaluate(struct mv_http *h, const char *prom_url, const char *service,
              const char *const *dests, size_t n_dests,
              const struct gate_limits *lim, struct gate_result *out,
              struct mv_err *err)
{
	char q_req[512], q_p99[512];
	struct prom_vector req = {0}, p99 = {0};
	struct mv_err qerr;

	memset(out, 0, sizeof(*out));
	if (gate_query_requests(q_req, sizeof(q_req), service, lim->window_s) ||
	    gate_query_p99(q_p99, sizeof(q_p99), service, lim->window_s))
		return mv_err_set(err, MV_EXIT_FAIL, "migration gate: service "
		                  "name '%.64s' or window %lds is not usable",
		                  service, lim->window_s);
	if (n_dests > GATE_MAX_DEST)
		return mv_err_set(err, MV_EXIT_FAIL, "migration gate: more than "
		                  "%d destinations", GATE_MAX_DEST);
	mv_err_clear(&qerr);
	if (prom_query(h, prom_url, q_req, 0, &req, &qerr) != 0 ||
	    prom_query(h, prom_url, q_p99, 0, &p99, &qerr) != 0) {
		prom_vector_free(&req);
		prom_vector_free(&p99);
		out->pass = false;
		snprintf(out->reason, sizeof(out->reason), "%s: no gate data: %s",
		         service, qerr.msg);
		return 0;
	}
	gate_decide(&req, &p99, service, dests, n_dests, lim, out);
	prom_vector_free(&req);
	prom_vector_free(&p99);
	return 0;
}

/* ---- the weights plan ---- */

int
migrate_steps_parse(const char *text, const char *what, int *steps,
                    size_t *n, struct mv_err *err)
{
	const char *p = text;

	*n = 0;
	for (;;) {
		char *end;
		long v;

		while (*p == ' ')
			p++;
		if (!isdigit((unsigned char)*p))
			return mv_err_set(err, MV_EXIT_USAGE, "%s: '%s': expected a "
			                  "comma-separated list of percentages like "
			                  "10,50,100", what, text);
		errno = 0;
		v = strtol(p, &end, 10);
		if (errno || v < 1 || v > 100)
			return mv_err_set(err, MV_EXIT_USAGE, "%s: '%s': each step is "
			                  "a percentage from 1 to 100", what, text);
		if (*n == MIGRATE_MAX_STEPS)
			return mv_err_set(err, MV_EXIT_USAGE, "%s: more than %d "
			                  "steps", what, MIGRATE_MAX_STEPS);
		if (*n > 0 && v <= steps[*n - 1])
			return mv_err_set(err, MV_EXIT_USAGE, "%s: '%s': steps must "
			                  "increase (%ld after %d)", what, text, v,
			                  steps[*n - 1]);
		steps[(*n)++] = (int)v;
		p = end;
		while (*p == ' ')
			p++;
		if (*p == '\0')
			break;
		if (*p != ',')
			return mv_err_set(err, MV_EXIT_USAGE, "%s: '%s': expected a "
			                  "comma at '%.10s'", what, text, p);
		p++;
	}
	if (steps[*n - 1] != 100)
		return mv_err_set(err, MV_EXIT_USAGE, "%s: '%s': the last step "
		                  "must be 100 (all traffic to GKE)", what, text);
	return 0;
}

int
migrate_weights_plan(const int *steps, size_t n, struct migrate_weights *out,
                     struct mv_err *err)
{
	if (n == 0 || n > MIGRATE_MAX_STEPS)
		return mv_err_set(err, MV_EXIT_USAGE, "migration steps: from 1 to "
		                  "%d steps", MIGRATE_MAX_STEPS);
	for (size_t i = 0; i < n; i++) {
		if (steps[i] < 1 || steps[i] > 100 ||
		    (i > 0 && steps[i] <= steps[i - 1]))
			return mv_err_set(err, MV_EXIT_USAGE, "migration steps: step "
			                  "%zu (%d) is not above the one before and "
			                  "from 1 to 100", i + 1, steps[i]);
		out[i].gke = steps[i];
		out[i].vm = 100 - steps[i];
	}
	return 0;
}
