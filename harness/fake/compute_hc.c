/* harness/fake/compute_hc.c - Compute Engine v1: global health checks
 * (insert, get, list, delete), as a managed instance group's autohealing
 * names them.  A check still named by a group's autoHealingPolicies is
 * not deleted (400 resourceInUseByAnotherResource, as Compute answers). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/fake/compute_int.h"

static const char *const hc_types[] = {"HTTP", "HTTPS", "HTTP2", "TCP",
                                       "SSL", "GRPC", NULL};

static bool
type_ok(const char *t)
{
	for (size_t i = 0; hc_types[i]; i++)
		if (!strcmp(hc_types[i], t))
			return true;
	return false;
}

/* The sub-object of the type ("httpHealthCheck" for HTTP). */
static const char *
type_field(const char *t)
{
	static const char *const f[] = {"httpHealthCheck", "httpsHealthCheck",
	                                "http2HealthCheck", "tcpHealthCheck",
	                                "sslHealthCheck", "grpcHealthCheck"};

	for (size_t i = 0; hc_types[i]; i++)
		if (!strcmp(hc_types[i], t))
			return f[i];
	return "httpHealthCheck";
}

static void
set_default(json_t *o, const char *k, json_int_t v)
{
	if (!json_is_integer(json_object_get(o, k)))
		json_object_set_new(o, k, json_integer(v));
}

static void
hc_insert(struct fake *f, struct freq *rq, struct fresp *rs)
{
	const char *p = rq->cap[0], *name, *type;
	json_t *hc = json_deep_copy(rq->json), *sub;
	json_t *table = fake_db(f, "health_checks");
	char key[512], path[512], ts[48], idb[24];
	json_int_t port;

	if (!c_name_check(rs, hc))
		goto fail;
	name = fake_jstr(hc, "name");
	type = fake_jstr(hc, "type");
	if (!type_ok(type)) {
		c_invalid(rs, "resource.type", type, "Must be one of HTTP, HTTPS, "
		          "HTTP2, TCP, SSL, GRPC.");
		goto fail;
	}
	sub = json_object_get(hc, type_field(type));
	if (!json_is_object(sub)) {
		sub = json_object();
		json_object_set_new(hc, type_field(type), sub);
	}
	port = json_is_integer(json_object_get(sub, "port"))
	               ? json_integer_value(json_object_get(sub, "port")) : 80;
	if (port < 1 || port > 65535) {
		c_invalid(rs, "resource.port", fake_jstr(sub, "port"),
		          "Must be between 1 and 65535.");
		goto fail;
	}
	json_object_set_new(sub, "port", json_integer(port));
	if (!strncmp(type, "HTTP", 4) &&
	    !json_is_string(json_object_get(sub, "requestPath")))
		json_object_set_new(sub, "requestPath", json_string("/"));
	if (!strncmp(type, "HTTP", 4) &&
	    fake_jstr(sub, "requestPath")[0] != '/') {
		c_invalid(rs, "resource.httpHealthCheck.requestPath",
		          fake_jstr(sub, "requestPath"), "Must start with '/'.");
		goto fail;
	}
	set_default(hc, "checkIntervalSec", 5);
	set_default(hc, "timeoutSec", 5);
	set_default(hc, "healthyThreshold", 2);
	set_default(hc, "unhealthyThreshold", 2);
	if (json_integer_value(json_object_get(hc, "timeoutSec")) >
	    json_integer_value(json_object_get(hc, "checkIntervalSec"))) {
		resp_gerr(rs, 400, "invalid", "Invalid value for field "
		          "'resource.timeoutSec': timeoutSec should be less than or "
		          "equal to checkIntervalSec.");
		goto fail;
	}
	snprintf(key, sizeof(key), "%s/%s", p, name);
	snprintf(path, sizeof(path), "projects/%s/global/healthChecks/%s", p,
	         name);
	if (json_object_get(table, key) != NULL) {
		resp_gerr(rs, 409, "alreadyExists", "The resource '%s' already "
		          "exists", path);
		goto fail;
	}
	c_now(ts, sizeof(ts));
	json_object_set_new(hc, "kind", json_string("compute#healthCheck"));
	json_object_set_new(hc, "id", json_string(c_id_of("healthcheck", p, NULL,
	                                                 name, idb, sizeof(idb))));
	json_object_set_new(hc, "creationTimestamp", json_string(ts));
	c_set_str(hc, "selfLink", c_url(rq, "%s", path));
	json_object_set_new(table, key, hc);
	resp_json(rs, 200,
	          compute_op(f, rq, p, NULL, "insert", fake_jstr(hc, "selfLink"),
	                     fake_jstr(hc, "id"),
	                     json_pack("{s:[], s:[{s:s, s:s, s:b}]}", "ok",
	                               "error", "table", "health_checks", "key",
	                               key, "delete", 1)));
	return;
fail:
	json_decref(hc);
}

static void
hc_get(struct fake *f, struct freq *rq, struct fresp *rs)
{
	char key[512];
	json_t *hc = c_global_lookup(f, rq, rs, "health_checks", "healthChecks",
	                             key, sizeof(key));

	if (hc != NULL)
		resp_json_cached(f, rs, hc);
}

static void
hc_delete(struct fake *f, struct freq *rq, struct fresp *rs)
{
	char key[512];
	json_t *hc = c_global_lookup(f, rq, rs, "health_checks", "healthChecks",
	                             key, sizeof(key)), *m, *pol;
	const char *mk, *self;
	size_t i;

	if (hc == NULL)
		return;
	self = fake_resource_path(fake_jstr(hc, "selfLink"));
	json_object_foreach(fake_db(f, "instance_group_managers"), mk, m) {
		json_array_foreach(json_object_get(m, "autoHealingPolicies"), i,
		                   pol) {
			if (strcmp(fake_resource_path(fake_jstr(pol, "healthCheck")),
			           self) != 0)
				continue;
			resp_gerr(rs, 400, "resourceInUseByAnotherResource", "The "
			          "health_check resource '%s' is already being used by "
			          "'%s'", self,
			          fake_resource_path(fake_jstr(m, "selfLink")));
			return;
		}
	}
	resp_json(rs, 200,
	          compute_op(f, rq, rq->cap[0], NULL, "delete",
	                     fake_jstr(hc, "selfLink"), fake_jstr(hc, "id"),
	                     json_pack("[{s:s, s:s, s:b}]", "table",
	                               "health_checks", "key", key, "delete", 1)));
}

static void
hc_list(struct fake *f, struct freq *rq, struct fresp *rs)
{
	char prefix[300], *self = c_url(rq, "projects/%s/global/healthChecks",
	                                rq->cap[0]);

	snprintf(prefix, sizeof(prefix), "%s/", rq->cap[0]);
	c_list_answer(rq, rs, fake_db(f, "health_checks"), prefix,
	              "compute#healthCheckList", self ? self : "");
	free(self);
}

/* For a group's autoHealingPolicies: the check a link names, or NULL. */
json_t *
c_health_check_find(struct fake *f, const char *p, const char *link)
{
	char key[512];

	snprintf(key, sizeof(key), "%s/%s", p, fake_basename(link));
	return json_object_get(fake_db(f, "health_checks"), key);
}

#define P "/compute/v1/projects/{}"

const struct route compute_hc_routes[] = {
	{"GET", P "/global/healthChecks", hc_list, R_AUTH | R_PURE, NULL},
	{"POST", P "/global/healthChecks", hc_insert, R_AUTH | R_REQID,
	 "compute.healthChecks.create"},
	{"GET", P "/global/healthChecks/{}", hc_get, R_AUTH | R_PURE, NULL},
	{"DELETE", P "/global/healthChecks/{}", hc_delete, R_AUTH | R_REQID,
	 NULL},
	{NULL, NULL, NULL, 0, NULL},
};
