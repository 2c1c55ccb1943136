/* cli/rh_faults.c - see rh_faults.h. */
#include "cli/rh_faults.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"

/* flaky: for each API meshvm calls (the Google APIs by path, each
 * cluster's Kubernetes API), three independent coins of 3.5% each, so
 * about 10% of requests fail.  What the simulated VMs call (the metadata
 * server under /vm/, the simulated istiod's listener) is not meshvm's
 * and is left alone. */
static const char *const google_paths[] = {
	"/compute/**", "/v1/**", "/v3/**", "/storage/**", "/upload/**",
	"/prom/**", "/token", NULL};

static char *
append_rules(char *out, const char *name, const char *listener,
             const char *path)
{
	static const char rules[] =
		"  - name: flaky-429-%s\n    listener: %s\n    path: %s\n"
		"    probability: 0.035\n    status: 429\n"
		"    reason: rateLimitExceeded\n"
		"  - name: flaky-503-%s\n    listener: %s\n    path: %s\n"
		"    probability: 0.035\n    status: 503\n"
		"  - name: flaky-reset-%s\n    listener: %s\n    path: %s\n"
		"    probability: 0.035\n    reset: true\n";
	char *more = mv_xstrfmt(rules, name, listener, path, name, listener, path,
	                        name, listener, path);
	char *t = mv_xstrfmt("%s%s", out, more);

	free(out);
	free(more);
	return t;
}

static char *
flaky_yaml(const char *const *clusters, size_t n)
{
	char *out = mv_xstrfmt("# rehearse --faults flaky: about 10%% of "
	                       "requests on every API meshvm calls fail\n"
	                       "rules:\n");
	char name[32];

	for (size_t i = 0; google_paths[i] != NULL; i++) {
		snprintf(name, sizeof(name), "gcp%zu", i);
		out = append_rules(out, name, "gcp", google_paths[i]);
	}
	for (size_t i = 0; i < n; i++)
		out = append_rules(out, clusters[i], clusters[i], "/**");
	return out;
}

static const char slow_yaml[] =
	"# rehearse --faults slow-ops: operations take several polls; one\n"
	"# request in five answers 30 ms late\n"
	"rules:\n"
	"  - name: slow-answer\n"
	"    path: /**\n"
	"    probability: 0.2\n"
	"    delay_ms: 30\n";

/* Per-minute quotas as Google answers them (429 RESOURCE_EXHAUSTED), on
 * the first two creates of each kind. */
static const char quota_yaml[] =
	"# rehearse --faults quota: the first two creates of each kind hit a\n"
	"# per-minute quota (429 RESOURCE_EXHAUSTED)\n"
	"rules:\n"
	"  - name: quota-create\n"
	"    listener: gcp\n"
	"    method: POST\n"
	"    path: /**\n"
	"    nth: [1, 2]\n"
	"    status: 429\n"
	"    reason: rateLimitExceeded\n"
	"    error_status: RESOURCE_EXHAUSTED\n"
	"    message: \"Quota exceeded for quota metric 'Mutate requests' and "
	"limit 'Mutate requests per minute'\"\n";

static const struct rh_profile profiles[] = {
	{"flaky", "10% of requests on every API: 429, 503 or a connection "
	 "reset", NULL, 1, 0},
	{"slow-ops", "operations DONE at the 4th poll and 50 ms after they "
	 "start; 20% of answers 30 ms late", slow_yaml, 4, 50},
	{"quota", "the first two creates of each kind: 429 quota exceeded",
	 quota_yaml, 1, 0},
	{NULL, NULL, NULL, 0, 0}};

const struct rh_profile *
rh_profile_find(const char *name)
{
	for (const struct rh_profile *p = profiles; p->name != NULL; p++)
		if (strcmp(p->name, name) == 0)
			return p;
	return NULL;
}

char *
rh_profile_yaml(const struct rh_profile *p, const char *const *clusters,
                size_t n)
{
	if (p->yaml == NULL)
		return flaky_yaml(clusters, n);
	return mv_xstrdup(p->yaml);
}

size_t
rh_profile_names(const char **out, size_t cap)
{
	size_t n = 0;

	for (const struct rh_profile *p = profiles; p->name && n < cap; p++)
		out[n++] = p->name;
	return n;
}
