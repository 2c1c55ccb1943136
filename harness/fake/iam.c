/* harness/fake/iam.c - who may do what, and how much: Cloud Resource
 * Manager v3 projects.get and projects.testIamPermissions, IAM
 * serviceAccounts.get, Compute regions.get and the project's quotas, and
 * the control endpoints that configure them (/_fake/iam, /_fake/quotas).
 *
 * Both settings live in the resource tree, so --state keeps them and
 * /_fake/reset restores the defaults:
 *   db["iam"]    = {"denied": [PERMISSION...], "missing_projects": [ID...],
 *                   "missing_service_accounts": [EMAIL...]}
 *   db["quotas"] = {"REGION" | "project": {METRIC: {"limit", "usage"}}}
 * By default every permission is granted, every project and the default
 * service accounts exist, and the quotas are large enough for the seed.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/fake/svc.h"

/* Defaults: a project that can hold the seed (34 vCPUs over three
 * regions) with room to spare. */
static const struct {
	const char *metric;
	double limit;
} region_defaults[] = {
	{"CPUS", 24}, {"N2_CPUS", 24}, {"E2_CPUS", 24},
	{"IN_USE_ADDRESSES", 16}, {"SSD_TOTAL_GB", 2048},
	{"DISKS_TOTAL_GB", 4096}, {"INSTANCES", 100},
}, project_defaults[] = {
	{"CPUS_ALL_REGIONS", 64}, {"INSTANCE_TEMPLATES", 100},
	{"FIREWALLS", 200}, {"NETWORKS", 15}, {"IMAGES", 100},
};

static bool
in_list(json_t *list, const char *s)
{
	size_t i;
	json_t *v;

	json_array_foreach(list, i, v)
		if (json_is_string(v) && strcmp(json_string_value(v), s) == 0)
			return true;
	return false;
}

static json_t *
iam_cfg(struct fake *f, const char *key)
{
	return json_object_get(json_object_get(fst(f)->db, "iam"), key);
}

/* ---- Resource Manager v3 ------------------------------------------ */

static bool
project_visible(struct fake *f, struct fresp *rs, const char *p)
{
	if (!in_list(iam_cfg(f, "missing_projects"), p))
		return true;
	/* What Resource Manager answers for a project that does not exist
	 * and for one the caller cannot see: the same 403. */
	resp_gerr(rs, 403, "forbidden", "The caller does not have permission");
	return false;
}

static void
crm_project_get(struct fake *f, struct freq *rq, struct fresp *rs)
{
	const char *p = rq->cap[0];
	char num[24];

	if (!project_visible(f, rs, p))
		return;
	fake_project_number(p, num, sizeof(num));
	resp_json(rs, 200, json_pack("{s:s+, s:s, s:s, s:s, s:s, s:s, s:s}",
	                             "name", "projects/", num, "parent",
	                             "organizations/123456789012", "projectId", p,
	                             "state", "ACTIVE", "displayName", p,
	                             "createTime", "2024-01-01T00:00:00.000Z",
	                             "etag", "W/\"fake\""));
}

/* POST /v3/projects/P:testIamPermissions {"permissions": [...]}: the
 * subset the caller holds (all but the denied ones). */
static void
crm_project_post(struct fake *f, struct freq *rq, struct fresp *rs)
{
	const char *seg = rq->cap[0], *colon = strrchr(seg, ':');
	json_t *want = json_object_get(rq->json, "permissions"), *have, *v;
	char p[128];
	size_t i;

	if (colon == NULL || strcmp(colon, ":testIamPermissions") != 0 ||
	    (size_t)(colon - seg) >= sizeof(p)) {
		resp_gerr(rs, 404, NULL, "The requested URL %s was not found on "
		          "this server.", rq->path);
		return;
	}
	memcpy(p, seg, (size_t)(colon - seg));
	p[colon - seg] = '\0';
	if (!project_visible(f, rs, p))
		return;
	if (json_array_size(want) > 100) {
		resp_gerr(rs, 400, "badRequest", "The number of permissions in "
		          "the request (%zu) exceeds the maximum of 100.",
		          json_array_size(want));
		return;
	}
	have = json_array();
	json_array_foreach(want, i, v) {
		const char *perm = json_string_value(v);
		if (perm != NULL && !in_list(iam_cfg(f, "denied"), perm) &&
		    !in_list(have, perm))
			json_array_append(have, v);
	}
	/* Google leaves the field out when nothing is granted. */
	resp_json(rs, 200, json_array_size(have)
	                           ? json_pack("{s:o}", "permissions", have)
	                           : (json_decref(have), json_object()));
}

/* ---- IAM serviceAccounts.get -------------------------------------- */

static void
sa_get(struct fake *f, struct freq *rq, struct fresp *rs)
{
	const char *p = rq->cap[0], *email = rq->cap[1];
	const char *at = strchr(email, '@');
	char num[24];

	fake_project_number(p, num, sizeof(num));
	if (at == NULL || in_list(iam_cfg(f, "missing_service_accounts"),
	                          email)) {
		resp_gerr(rs, 404, "notFound", "Unknown service account");
		return;
	}
	resp_json(rs, 200, json_pack("{s:s+++, s:s, s:s, s:s, s:s+, s:s#}",
	                             "name", "projects/", p, "/serviceAccounts/",
	                             email, "projectId", p, "email", email,
	                             "uniqueId", "1", num, "oauth2ClientId", num,
	                             "displayName", email, (int)(at - email)));
}

/* ---- quotas -------------------------------------------------------- */

static json_t *
quota_list(struct fake *f, const char *scope, bool project)
{
	json_t *cfg = json_object_get(json_object_get(fst(f)->db, "quotas"), scope);
	json_t *out = json_array(), *v;
	size_t n = project ? sizeof(project_defaults) / sizeof(project_defaults[0])
	                   : sizeof(region_defaults) / sizeof(region_defaults[0]);
	const char *k;

	for (size_t i = 0; i < n; i++) {
		const char *m = project ? project_defaults[i].metric
		                        : region_defaults[i].metric;
		double lim = project ? project_defaults[i].limit
		                     : region_defaults[i].limit;
		if (json_object_get(cfg, m) == NULL)
			json_array_append_new(out, json_pack("{s:s, s:f, s:f}", "metric",
			                                     m, "limit", lim, "usage",
			                                     0.0));
	}
	json_object_foreach(cfg, k, v)
		json_array_append_new(out, json_pack(
			"{s:s, s:f, s:f}", "metric", k, "limit",
			json_number_value(json_object_get(v, "limit")), "usage",
			json_number_value(json_object_get(v, "usage"))));
	return out;
}

void
fake_quota_project(struct fake *f, json_t *project)
{
	json_object_set_new(project, "quotas", quota_list(f, "project", true));
}

static bool
region_ok(const char *r)
{
	char zone[80];

	snprintf(zone, sizeof(zone), "%s-b", r);
	return strlen(r) < 60 && fake_zone_ok(zone);
}

static void
region_get(struct fake *f, struct freq *rq, struct fresp *rs)
{
	const char *p = rq->cap[0], *r = rq->cap[1];
	json_t *o, *zones;
	char *self;

	if (!region_ok(r)) {
		resp_gerr(rs, 404, "notFound", "The resource 'projects/%s/regions/%s' "
		          "was not found", p, r);
		return;
	}
	zones = json_array();
	for (const char *z = "abc"; *z; z++)
		json_array_append_new(zones, json_sprintf(
			"%s/compute/v1/projects/%s/zones/%s-%c", rq->base, p, r, *z));
	self = mv_strfmt("%s/compute/v1/projects/%s/regions/%s", rq->base, p, r);
	o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:s}", "kind",
	              "compute#region", "id", "1000", "name", r, "description", r,
	              "status", "UP", "zones", zones, "quotas",
	              quota_list(f, r, false), "selfLink", self);
	free(self);
	resp_json(rs, 200, o);
}

/* ---- control: /_fake/iam, /_fake/quotas ---------------------------- */

static int
check_string_lists(const json_t *doc, const char *const *keys, char *why,
                   size_t len)
{
	const char *k;
	json_t *v, *x;
	size_t i;

	if (!json_is_object(doc)) {
		snprintf(why, len, "the body must be a JSON object");
		return -1;
	}
	json_object_foreach((json_t *)doc, k, v) {
		bool known = false;
		for (size_t j = 0; keys[j]; j++)
			known |= !strcmp(keys[j], k);
		if (!known) {
			snprintf(why, len, "unknown key \"%s\"", k);
			return -1;
		}
		if (!json_is_array(v)) {
			snprintf(why, len, "%s: must be a list of strings", k);
			return -1;
		}
		json_array_foreach(v, i, x)
			if (!json_is_string(x)) {
				snprintf(why, len, "%s[%zu]: must be a string", k, i);
				return -1;
			}
	}
	return 0;
}

/* {"SCOPE": {"METRIC": LIMIT | {"limit": N, "usage": N}}} normalised to
 * the stored form; NULL (and why) when malformed. */
static json_t *
quotas_normalise(const json_t *doc, char *why, size_t len)
{
	json_t *out = json_object(), *metrics, *v;
	const char *scope, *m;

	if (!json_is_object(doc)) {
		snprintf(why, len, "the body must be a JSON object");
		goto bad;
	}
	json_object_foreach((json_t *)doc, scope, metrics) {
		json_t *o = json_object();
		json_object_set_new(out, scope, o);
		if (strcmp(scope, "project") != 0 && !region_ok(scope)) {
			snprintf(why, len, "\"%s\" is neither \"project\" nor a region",
			         scope);
			goto bad;
		}
		if (!json_is_object(metrics)) {
			snprintf(why, len, "%s: must map metrics to limits", scope);
			goto bad;
		}
		json_object_foreach(metrics, m, v) {
			json_t *lim = json_is_object(v) ? json_object_get(v, "limit") : v;
			json_t *use = json_is_object(v) ? json_object_get(v, "usage") : NULL;
			if (!json_is_number(lim) || json_number_value(lim) < 0 ||
			    (use != NULL && (!json_is_number(use) ||
			                     json_number_value(use) < 0))) {
				snprintf(why, len, "%s.%s: a limit >= 0, or {limit, usage}",
				         scope, m);
				goto bad;
			}
			json_object_set_new(o, m, json_pack(
				"{s:f, s:f}", "limit", json_number_value(lim), "usage",
				use ? json_number_value(use) : 0.0));
		}
	}
	return out;
bad:
	json_decref(out);
	return NULL;
}

bool
fake_iam_control(struct fake *f, const char *what, struct freq *rq,
                 struct fresp *rs)
{
	static const char *const iam_keys[] = {"denied", "missing_projects",
	                                       "missing_service_accounts", NULL};
	bool quotas = strcmp(what, "quotas") == 0;
	const char *table = quotas ? "quotas" : "iam";
	json_error_t je;
	json_t *doc, *val;
	char why[256];

	if (!quotas && strcmp(what, "iam") != 0)
		return false;
	if (strcmp(rq->method, "GET") == 0) {
		resp_json(rs, 200, json_deep_copy(fake_db(f, table)));
		return true;
	}
	if (strcmp(rq->method, "PUT") != 0) {
		resp_gerr(rs, 405, NULL, "Use GET or PUT on /_fake/%s.", table);
		return true;
	}
	doc = json_loadb(rq->body ? rq->body : "", rq->body_len, 0, &je);
	if (doc == NULL) {
		resp_gerr(rs, 400, "parseError", "/_fake/%s: %s", table, je.text);
		return true;
	}
	if (quotas)
		val = quotas_normalise(doc, why, sizeof(why));
	else
		val = check_string_lists(doc, iam_keys, why, sizeof(why)) == 0
		              ? json_incref(doc) : NULL;
	json_decref(doc);
	if (val == NULL) {
		resp_gerr(rs, 400, "invalid", "/_fake/%s: %s", table, why);
		return true;
	}
	json_object_set_new(fst(f)->db, table, val);
	resp_json(rs, 200, json_deep_copy(val));
	return true;
}

#define CP "/compute/v1/projects/{}"

const struct route iam_routes[] = {
	{"GET", "/v3/projects/{}", crm_project_get, R_AUTH | R_PURE, NULL},
	{"POST", "/v3/projects/{}", crm_project_post, R_AUTH | R_READONLY | R_PURE,
	 "cloudresourcemanager.projects.testIamPermissions"},
	{"GET", "/v1/projects/{}/serviceAccounts/{}", sa_get, R_AUTH | R_PURE,
	 NULL},
	{"GET", CP "/regions/{}", region_get, R_AUTH | R_PURE, NULL},
	{NULL, NULL, NULL, 0, NULL},
};
