/* harness/fake/faults.c - the fault profile: rules that match requests
 * and make them fail, wait, reset, or end their operation in error.
 *
 * A rule matches on listener, method, a path glob ("*" one segment, "**"
 * any), query arguments and body fields.  Each match bumps a counter per
 * (rule, path); whether the rule fires on the n-th match is either listed
 * (nth) or a coin: hash(seed, rule name, path, n) < probability.  So the
 * same seed gives the same decisions whatever other clients do in
 * between.  Format: docs/fake.md.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/yaml.h"
#include "harness/fake/svc.h"

struct fault_rule {
	char *name;
	char *listener, *method, *path; /* NULL = any */
	json_t *query;   /* {"arg": "value"} */
	json_t *body;    /* {"dotted.path": scalar} */
	bool has_prob;
	double probability;
	uint64_t *nth;
	size_t n_nth;
	/* actions */
	int status;
	char *message, *reason, *error_status;
	int retry_after; /* -1 = no header */
	unsigned delay_ms;
	bool reset;
	json_t *op_error;
	char *service_state;
};

struct faults {
	bool has_seed;
	uint64_t seed;
	struct fault_rule *rules;
	size_t n;
	json_t *counters; /* "index path" -> matches so far */
	json_t *source;   /* the profile as loaded, for GET /_fake/faults */
	struct traffic_profile traffic;
};

static void
rule_free(struct fault_rule *r)
{
	free(r->name);
	free(r->listener);
	free(r->method);
	free(r->path);
	json_decref(r->query);
	json_decref(r->body);
	free(r->nth);
	free(r->message);
	free(r->reason);
	free(r->error_status);
	json_decref(r->op_error);
	free(r->service_state);
}

void
faults_free(struct faults *fl)
{
	if (fl == NULL)
		return;
	for (size_t i = 0; i < fl->n; i++)
		rule_free(&fl->rules[i]);
	free(fl->rules);
	json_decref(fl->counters);
	json_decref(fl->source);
	for (size_t i = 0; i < fl->traffic.n; i++) {
		free(fl->traffic.rules[i].destination);
		free(fl->traffic.rules[i].cluster);
	}
	free(fl->traffic.rules);
	free(fl);
}

void
faults_reset_counters(struct faults *fl)
{
	json_object_clear(fl->counters);
}

json_t *
faults_json(const struct faults *fl)
{
	if (fl == NULL)
		return json_pack("{s:[]}", "rules");
	return json_deep_copy(fl->source);
}

const struct traffic_profile *
faults_traffic(const struct faults *fl)
{
	static const struct traffic_profile none = {.rps = 20};

	return fl ? &fl->traffic : &none;
}

/* ---- loading ---- */

struct loader {
	const struct mv_yaml *y;
	struct mv_err *err;
	json_t *doc;
};

static int
get_string(struct loader *ld, json_t *obj, const char *key, char **out)
{
	json_t *v = json_object_get(obj, key);

	if (v == NULL)
		return 0;
	if (!json_is_string(v))
		return mv_yaml_value_err(ld->err, MV_EXIT_FAIL, ld->y, obj, key,
		                         "%s must be a string", key);
	*out = strdup(json_string_value(v));
	return 0;
}

static int
get_int(struct loader *ld, json_t *obj, const char *key, long long lo,
        long long hi, long long *out)
{
	json_t *v = json_object_get(obj, key);

	if (v == NULL)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < lo ||
	    json_integer_value(v) > hi)
		return mv_yaml_value_err(ld->err, MV_EXIT_FAIL, ld->y, obj, key,
		                         "%s must be an integer from %lld to %lld",
		                         key, lo, hi);
	*out = json_integer_value(v);
	return 0;
}

static int
scalar_map(struct loader *ld, json_t *obj, const char *key, json_t **out)
{
	json_t *v = json_object_get(obj, key), *x;
	const char *k;

	if (v == NULL)
		return 0;
	if (!json_is_object(v))
		return mv_yaml_value_err(ld->err, MV_EXIT_FAIL, ld->y, obj, key,
		                         "%s must be a mapping of names to values",
		                         key);
	json_object_foreach(v, k, x) {
		if (json_is_object(x) || json_is_array(x))
			return mv_yaml_value_err(ld->err, MV_EXIT_FAIL, ld->y, v, k,
			                         "%s.%s must be a scalar", key, k);
	}
	*out = json_incref(v);
	return 0;
}

static const char *const rule_keys[] = {
	"name", "listener", "method", "path", "query", "body", "probability",
	"nth", "status", "message", "reason", "error_status", "retry_after",
	"delay_ms", "reset", "operation_error", "service_state", NULL};

static int
load_rule(struct loader *ld, json_t *rj, size_t index, struct fault_rule *r)
{
	json_t *v;
	const char *key;
	long long n;

	memset(r, 0, sizeof(*r));
	r->retry_after = -1;
	json_object_foreach(rj, key, v) {
		size_t i;
		for (i = 0; rule_keys[i] && strcmp(rule_keys[i], key); i++)
			;
		if (rule_keys[i] == NULL)
			return mv_yaml_key_err(ld->err, MV_EXIT_FAIL, ld->y, rj, key,
			                       "unknown rule key '%s'", key);
	}
	if (get_string(ld, rj, "name", &r->name) ||
	    get_string(ld, rj, "listener", &r->listener) ||
	    get_string(ld, rj, "method", &r->method) ||
	    get_string(ld, rj, "path", &r->path) ||
	    scalar_map(ld, rj, "query", &r->query) ||
	    scalar_map(ld, rj, "body", &r->body) ||
	    get_string(ld, rj, "message", &r->message) ||
	    get_string(ld, rj, "reason", &r->reason) ||
	    get_string(ld, rj, "error_status", &r->error_status) ||
	    get_string(ld, rj, "service_state", &r->service_state))
		return -1;
	if (r->name == NULL)
		r->name = mv_strfmt("rule-%zu", index + 1);
	if (r->path != NULL && r->path[0] != '/')
		return mv_yaml_value_err(ld->err, MV_EXIT_FAIL, ld->y, rj, "path",
		                         "path must start with '/'");
	if (r->method != NULL)
		for (char *p = r->method; *p; p++)
			*p = (char)toupper((unsigned char)*p);
	v = json_object_get(rj, "probability");
	if (v != NULL) {
		if (!json_is_number(v) || json_number_value(v) < 0 ||
		    json_number_value(v) > 1)
			return mv_yaml_value_err(ld->err, MV_EXIT_FAIL, ld->y, rj,
			                         "probability", "probability must be "
			                         "a number from 0 to 1");
		r->has_prob = true;
		r->probability = json_number_value(v);
	}
	v = json_object_get(rj, "nth");
	if (v != NULL) {
		json_t *list = json_is_array(v) ? v : NULL, *x;
		size_t i, cnt = list ? json_array_size(list) : 1;
		r->nth = calloc(cnt, sizeof(*r->nth));
		for (i = 0; i < cnt && r->nth; i++) {
			x = list ? json_array_get(list, i) : v;
			if (!json_is_integer(x) || json_integer_value(x) < 1)
				return mv_yaml_value_err(ld->err, MV_EXIT_FAIL, ld->y, rj,
				                         "nth", "nth must be a positive "
				                         "integer or a list of them");
			r->nth[r->n_nth++] = (uint64_t)json_integer_value(x);
		}
		if (r->has_prob)
			return mv_yaml_key_err(ld->err, MV_EXIT_FAIL, ld->y, rj,
			                       "nth", "a rule has either nth or "
			                       "probability, not both");
	}
	n = 0;
	if (get_int(ld, rj, "status", 400, 599, &n))
		return -1;
	r->status = (int)n;
	n = -1;
	if (get_int(ld, rj, "retry_after", 0, 86400, &n))
		return -1;
	r->retry_after = (int)n;
	n = 0;
	if (get_int(ld, rj, "delay_ms", 0, 600000, &n))
		return -1;
	r->delay_ms = (unsigned)n;
	v = json_object_get(rj, "reset");
	if (v != NULL) {
		if (!json_is_boolean(v))
			return mv_yaml_value_err(ld->err, MV_EXIT_FAIL, ld->y, rj,
			                         "reset", "reset must be true or false");
		r->reset = json_is_true(v);
	}
	v = json_object_get(rj, "operation_error");
	if (v != NULL) {
		json_t *code = json_object_get(v, "code");
		if (!json_is_object(v) || !json_is_integer(code) ||
		    !json_is_string(json_object_get(v, "message")))
			return mv_yaml_value_err(ld->err, MV_EXIT_FAIL, ld->y, rj,
			                         "operation_error", "operation_error "
			                         "needs code (an integer, a "
			                         "google.rpc.Code) and message");
		r->op_error = json_incref(v);
	}
	if (r->service_state != NULL && strcmp(r->service_state, "ENABLED") &&
	    strcmp(r->service_state, "DISABLED"))
		return mv_yaml_value_err(ld->err, MV_EXIT_FAIL, ld->y, rj,
		                         "service_state", "service_state is "
		                         "ENABLED or DISABLED");
	if (r->status == 0 && r->delay_ms == 0 && !r->reset &&
	    r->op_error == NULL && r->service_state == NULL)
		return mv_yaml_item_err(ld->err, MV_EXIT_FAIL, ld->y,
		                        json_object_get(mv_yaml_doc(ld->y, 0),
		                                        "rules"), index,
		                        "rule '%s' does nothing: give status, "
		                        "delay_ms, reset, operation_error or "
		                        "service_state", r->name);
	if (r->retry_after >= 0 && r->status == 0)
		return mv_yaml_key_err(ld->err, MV_EXIT_FAIL, ld->y, rj,
		                       "retry_after", "retry_after needs a status");
	return 0;
}

static int
get_real(struct loader *ld, json_t *obj, const char *key, double lo,
         double hi, double *out)
{
	json_t *v = json_object_get(obj, key);

	if (v == NULL)
		return 0;
	if (!json_is_number(v) || json_number_value(v) < lo ||
	    json_number_value(v) > hi)
		return mv_yaml_value_err(ld->err, MV_EXIT_FAIL, ld->y, obj, key,
		                         "%s must be a number from %g to %g", key,
		                         lo, hi);
	*out = json_number_value(v);
	return 0;
}

/* traffic: {rps: N, rules: [{destination, cluster, error_rate,
 * latency_ms, response_code, grpc_status}]} */
static int
load_traffic(struct loader *ld, json_t *t, struct traffic_profile *tp)
{
	static const char *const keys[] = {"destination", "cluster",
		"error_rate", "latency_ms", "response_code", "grpc_status", NULL};
	json_t *rules, *v, *x;
	const char *key;
	size_t i;

	tp->rps = 20;
	if (!json_is_object(t))
		return mv_yaml_value_err(ld->err, MV_EXIT_FAIL, ld->y,
		                         ld->doc, "traffic", "traffic must be a "
		                         "mapping with 'rps' and 'rules'");
	json_object_foreach(t, key, v) {
		if (strcmp(key, "rps") && strcmp(key, "rules"))
			return mv_yaml_key_err(ld->err, MV_EXIT_FAIL, ld->y, t, key,
			                       "unknown traffic key '%s' (rps, "
			                       "rules)", key);
	}
	if (get_real(ld, t, "rps", 0.001, 100000, &tp->rps) != 0)
		return -1;
	rules = json_object_get(t, "rules");
	if (rules != NULL && !json_is_array(rules))
		return mv_yaml_value_err(ld->err, MV_EXIT_FAIL, ld->y, t, "rules",
		                         "traffic rules must be a list");
	tp->rules = calloc(json_array_size(rules) + 1, sizeof(*tp->rules));
	if (tp->rules == NULL)
		abort();
	json_array_foreach(rules, i, v) {
		struct traffic_rule *r = &tp->rules[i];
		long long n;

		if (!json_is_object(v))
			return mv_yaml_item_err(ld->err, MV_EXIT_FAIL, ld->y, rules,
			                        i, "a traffic rule is a mapping");
		tp->n++;
		r->latency_ms = 5;
		r->response_code = 503;
		r->grpc_status = 14;
		json_object_foreach(v, key, x) {
			size_t k;

			for (k = 0; keys[k] && strcmp(keys[k], key); k++)
				;
			if (keys[k] == NULL)
				return mv_yaml_key_err(ld->err, MV_EXIT_FAIL, ld->y, v,
				                       key, "unknown traffic rule key "
				                       "'%s'", key);
		}
		if (get_string(ld, v, "destination", &r->destination) ||
		    get_string(ld, v, "cluster", &r->cluster) ||
		    get_real(ld, v, "error_rate", 0, 1, &r->error_rate))
			return -1;
		n = r->latency_ms;
		if (get_int(ld, v, "latency_ms", 0, 3600000, &n))
			return -1;
		r->latency_ms = (int)n;
		n = r->response_code;
		if (get_int(ld, v, "response_code", 200, 599, &n))
			return -1;
		r->response_code = (int)n;
		n = r->grpc_status;
		if (get_int(ld, v, "grpc_status", 0, 16, &n))
			return -1;
		r->grpc_status = (int)n;
		if (r->response_code < 500 && r->grpc_status == 0 &&
		    r->error_rate > 0)
			return mv_yaml_value_err(ld->err, MV_EXIT_FAIL, ld->y, v,
			                         "response_code", "a failing "
			                         "destination needs a 5xx "
			                         "response_code or a non-zero "
			                         "grpc_status");
	}
	return 0;
}

int
faults_load(struct fake *f, const char *name, const char *buf, size_t len,
            struct faults **out, struct mv_err *err)
{
	struct mv_yaml *y = NULL;
	struct faults *fl;
	struct loader ld;
	json_t *doc, *rules, *v;
	const char *key;
	size_t i;

	(void)f;
	*out = NULL;
	if (mv_yaml_load_buf(name, buf, len, &y, err) != 0)
		return -1;
	ld.y = y;
	ld.err = err;
	doc = mv_yaml_count(y) > 0 ? mv_yaml_doc(y, 0) : NULL;
	if (mv_yaml_count(y) > 1) {
		mv_yaml_free(y);
		return mv_err_set(err, MV_EXIT_FAIL, "%s: one YAML document "
		                  "expected", name);
	}
	if (doc == NULL || json_is_null(doc))
		doc = NULL;
	else if (!json_is_object(doc)) {
		mv_yaml_free(y);
		return mv_err_set(err, MV_EXIT_FAIL, "%s: the profile is a mapping "
		                  "with 'rules' (and optionally 'seed')", name);
	}
	fl = calloc(1, sizeof(*fl));
	fl->counters = json_object();
	fl->source = doc ? json_deep_copy(doc) : json_pack("{s:[]}", "rules");
	json_object_foreach(doc, key, v) {
		if (strcmp(key, "rules") && strcmp(key, "seed") &&
		    strcmp(key, "traffic")) {
			mv_yaml_key_err(err, MV_EXIT_FAIL, y, doc, key,
			                "unknown key '%s' (rules, seed, traffic)",
			                key);
			goto fail;
		}
	}
	v = json_object_get(doc, "seed");
	if (v != NULL) {
		if (!json_is_integer(v) || json_integer_value(v) < 0) {
			mv_yaml_value_err(err, MV_EXIT_FAIL, y, doc, "seed",
			                  "seed must be a non-negative integer");
			goto fail;
		}
		fl->has_seed = true;
		fl->seed = (uint64_t)json_integer_value(v);
	}
	fl->traffic.rps = 20;
	ld.doc = doc;
	v = json_object_get(doc, "traffic");
	if (v != NULL && load_traffic(&ld, v, &fl->traffic) != 0)
		goto fail;
	rules = json_object_get(doc, "rules");
	if (rules != NULL && !json_is_array(rules)) {
		mv_yaml_value_err(err, MV_EXIT_FAIL, y, doc, "rules",
		                  "rules must be a list");
		goto fail;
	}
	fl->rules = calloc(json_array_size(rules) + 1, sizeof(*fl->rules));
	json_array_foreach(rules, i, v) {
		if (!json_is_object(v)) {
			mv_yaml_item_err(err, MV_EXIT_FAIL, y, rules, i,
			                 "a rule is a mapping");
			goto fail;
		}
		fl->n++;
		if (load_rule(&ld, v, i, &fl->rules[i]) != 0)
			goto fail;
	}
	mv_yaml_free(y);
	*out = fl;
	return 0;
fail:
	mv_yaml_free(y);
	faults_free(fl);
	return -1;
}

/* ---- matching ---- */

static bool
scalar_equals(json_t *have, json_t *want)
{
	char *a, *b;
	bool eq;

	if (have == NULL)
		return false;
	if (json_is_string(have) && json_is_string(want))
		return strcmp(json_string_value(have), json_string_value(want)) == 0;
	a = json_dumps(have, JSON_ENCODE_ANY | JSON_COMPACT);
	b = json_is_string(want) ? strdup(json_string_value(want))
	                         : json_dumps(want, JSON_ENCODE_ANY | JSON_COMPACT);
	eq = a && b && strcmp(a, b) == 0;
	free(a);
	free(b);
	return eq;
}

static bool
rule_matches(const struct fault_rule *r, const struct freq *rq,
             json_t **body_json, bool *body_tried)
{
	const char *k;
	json_t *v;

	if (r->listener && strcmp(r->listener, rq->listener) != 0)
		return false;
	if (r->method && strcmp(r->method, "*") && strcmp(r->method, rq->method))
		return false;
	if (r->path && !fake_glob_path(r->path, rq->seg, rq->n_seg))
		return false;
	json_object_foreach(r->query, k, v) {
		const char *a = freq_arg(rq, k);
		json_t *have = a ? json_string(a) : NULL;
		bool ok = scalar_equals(have, v);
		json_decref(have);
		if (!ok)
			return false;
	}
	if (json_object_size(r->body) > 0) {
		if (!*body_tried) {
			*body_tried = true;
			if (rq->body_len > 0)
				*body_json = json_loadb(rq->body, rq->body_len, 0, NULL);
		}
		json_object_foreach(r->body, k, v) {
			if (!scalar_equals(fake_json_path(*body_json, k), v))
				return false;
		}
	}
	return true;
}

#define FAULT_COUNTERS_MAX 65536

static bool
rule_fires(struct faults *fl, uint64_t seed, size_t index,
           const struct fault_rule *r, const char *path)
{
	char key[64 + 1024];
	json_t *c;
	uint64_t n;

	snprintf(key, sizeof(key), "%zu %s", index, path);
	c = json_object_get(fl->counters, key);
	/* Bounded: a client walking endless paths must not grow the table
	 * for ever; past the cap every count starts again. */
	if (c == NULL && json_object_size(fl->counters) >= FAULT_COUNTERS_MAX)
		json_object_clear(fl->counters);
	n = c ? (uint64_t)json_integer_value(c) + 1 : 1;
	json_object_set_new(fl->counters, key, json_integer((json_int_t)n));
	if (r->n_nth > 0) {
		for (size_t i = 0; i < r->n_nth; i++)
			if (r->nth[i] == n)
				return true;
		return false;
	}
	if (r->has_prob)
		return fake_hash_unit(seed, r->name, path, n) < r->probability;
	return true;
}

static const char *
default_message(int code)
{
	switch (code) {
	case 403: return "The caller does not have permission.";
	case 404: return "Not found.";
	case 429: return "Resource has been exhausted (e.g. check quota).";
	case 500: return "Internal error encountered.";
	case 503: return "The service is currently unavailable.";
	case 504: return "Deadline exceeded.";
	default: return "Injected fault.";
	}
}

static void
answer(const struct fault_rule *r, struct freq *rq, struct fresp *rs)
{
	const char *msg = r->message ? r->message : default_message(r->status);

	if (r->retry_after >= 0)
		resp_header(rs, "Retry-After", "%d", r->retry_after);
	if (rq->kc != NULL) {
		resp_json(rs, r->status,
		          kube_status(r->status,
		                      r->reason ? r->reason
		                                : kube_reason_for(r->status),
		                      msg));
		return;
	}
	resp_gerr(rs, r->status, r->reason, "%s", msg);
	if (r->error_status != NULL && rs->body != NULL) {
		json_t *doc = json_loadb(rs->body, rs->len, 0, NULL);
		json_object_set_new(json_object_get(doc, "error"), "status",
		                    json_string(r->error_status));
		resp_json(rs, r->status, doc);
	}
}

bool
faults_apply(struct fake *f, struct freq *rq, struct fresp *rs)
{
	struct faults *fl = fst(f)->faults;
	uint64_t seed = fl->has_seed ? fl->seed : fst(f)->seed;
	json_t *body_json = NULL;
	bool body_tried = false, fired = false;

	for (size_t i = 0; i < fl->n && !fired; i++) {
		const struct fault_rule *r = &fl->rules[i];
		if (!rule_matches(r, rq, &body_json, &body_tried) ||
		    !rule_fires(fl, seed, i, r, rq->path))
			continue;
		fired = true;
		rq->fault = r->name;
		rs->delay_ms = r->delay_ms;
		if (r->reset) {
			rs->reset = true;
		} else if (r->status != 0) {
			answer(r, rq, rs);
		} else {
			if (r->op_error != NULL) {
				json_decref(rq->op_error);
				rq->op_error = json_incref(r->op_error);
			}
			rq->service_state = r->service_state;
		}
	}
	json_decref(body_json);
	return fired;
}
