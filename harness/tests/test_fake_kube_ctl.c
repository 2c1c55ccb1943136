/* test_fake_kube_ctl.c - the fake cluster's live side: LoadBalancer
 * addresses from --lb-range, the controllers (istio-ca-root-cert in
 * every namespace, service-account token Secrets, Deployments becoming
 * available) and watches. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/jwt.h"
#include "core/yaml.h"
#include "kubeutil.h"

static json_t *
lb_service(struct fake *f, const char *name, int *status)
{
	char *body = tu_fmt("{\"apiVersion\":\"v1\",\"kind\":\"Service\","
	                    "\"metadata\":{\"name\":\"%s\"},\"spec\":{\"type\":"
	                    "\"LoadBalancer\",\"ports\":[{\"port\":80}]}}", name);
	struct fu_resp r = k(f, "POST", "/api/v1/namespaces/default/services",
	                     body);
	json_t *ing = json_incref(json_object_get(json_object_get(
	        json_object_get(r.json, "status"), "loadBalancer"), "ingress"));

	*status = r.status;
	fu_free(&r);
	free(body);
	return ing;
}

/* --lb-range: addresses from the range, one per Service, reused only
 * once free; a bad range is refused. */
static void
test_lb_range(void **state)
{
	struct fake_options o;
	struct fake *f = NULL;
	struct mv_err err;
	json_t *a, *b, *c, *d;
	char ipa[32], ipb[32];
	int st;

	(void)state;
	fake_options_init(&o);
	o.lb_range = "10.1.2.3/24";
	mv_err_clear(&err);
	assert_int_equal(fake_new(&o, &f, &err), -1);
	assert_contains(err.msg, "--lb-range 10.1.2.3/24: not an IPv4 CIDR");
	o.lb_range = "198.51.100.8/30"; /* two usable: .9 and .10 */
	o.no_auth = true;
	o.op_polls = 0;
	o.controller_delay_ms = 0;
	assert_int_equal(fake_new(&o, &f, &err), 0);
	assert_int_equal(fu_do_on(f, "gcp", "POST", CLUSTERS,
	                          "{\"cluster\":{\"name\":\"c1\","
	                          "\"initialNodeCount\":1}}", NULL), 200);
	a = lb_service(f, "a", &st);
	assert_int_equal(st, 201);
	b = lb_service(f, "b", &st);
	assert_int_equal(st, 201);
	snprintf(ipa, sizeof(ipa), "%s",
	         json_string_value(json_object_get(json_array_get(a, 0), "ip")));
	snprintf(ipb, sizeof(ipb), "%s",
	         json_string_value(json_object_get(json_array_get(b, 0), "ip")));
	assert_true(!strcmp(ipa, "198.51.100.9") || !strcmp(ipa, "198.51.100.10"));
	assert_true(!strcmp(ipb, "198.51.100.9") || !strcmp(ipb, "198.51.100.10"));
	assert_string_not_equal(ipa, ipb);
	/* used up: the third stays pending */
	c = lb_service(f, "c", &st);
	assert_int_equal(st, 201);
	assert_int_equal(json_array_size(c), 0);
	/* a freed address goes to the next Service */
	assert_int_equal(kdo(f, "DELETE", "/api/v1/namespaces/default/services/a",
	                     NULL), 200);
	d = lb_service(f, "d", &st);
	assert_string_equal(json_string_value(json_object_get(json_array_get(d, 0),
	                                                      "ip")), ipa);
	json_decref(a);
	json_decref(b);
	json_decref(c);
	json_decref(d);
	fake_free(f);
}

static void
test_controllers(void **state)
{
	struct fake *f = kube_fake(true, 300);
	struct fu_resp r, r2;
	char ip[32];

	(void)state;
	/* LoadBalancer address: documentation range, from the name */
	r = k(f, "POST", "/api/v1/namespaces/default/services",
	      "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":"
	      "\"gw\"},\"spec\":{\"type\":\"LoadBalancer\",\"ports\":[{\"port\":"
	      "15443}]}}");
	assert_int_equal(r.status, 201);
	snprintf(ip, sizeof(ip), "%s",
	         fu_str(&r, "status.loadBalancer.ingress.0.ip"));
	assert_true(strncmp(ip, "203.0.113.", 10) == 0);
	assert_int_equal(fu_int(&r, "spec.ports.0.targetPort"), 15443);
	assert_string_equal(fu_str(&r, "spec.ports.0.protocol"), "TCP");
	fu_free(&r);
	assert_int_equal(kdo(f, "DELETE", "/api/v1/namespaces/default/services/gw",
	                     NULL), 200);
	r = k(f, "POST", "/api/v1/namespaces/default/services",
	      "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":"
	      "\"gw\"},\"spec\":{\"type\":\"LoadBalancer\",\"ports\":[{\"port\":"
	      "15443}]}}");
	assert_string_equal(fu_str(&r, "status.loadBalancer.ingress.0.ip"), ip);
	fu_free(&r);
	/* istio-ca-root-cert follows Secret istio-system/cacerts */
	assert_int_equal(kdo(f, "POST", "/api/v1/namespaces",
	                     "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\","
	                     "\"metadata\":{\"name\":\"istio-system\"}}"), 201);
	assert_int_equal(kdo(f, "GET", CM "/istio-ca-root-cert", NULL), 404);
	assert_int_equal(kdo(f, "POST", "/api/v1/namespaces/istio-system/secrets",
	                     "{\"apiVersion\":\"v1\",\"kind\":\"Secret\","
	                     "\"metadata\":{\"name\":\"cacerts\"},\"data\":{"
	                     "\"root-cert.pem\":\"Uk9PVAo=\"}}"), 201);
	r = k(f, "GET", CM "/istio-ca-root-cert", NULL);
	assert_string_equal(json_string_value(json_object_get(json_object_get(
	        r.json, "data"), "root-cert.pem")), "ROOT\n");
	fu_free(&r);
	assert_int_equal(kdo(f, "POST", "/api/v1/namespaces",
	                     "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\","
	                     "\"metadata\":{\"name\":\"late\"}}"), 201);
	r = k(f, "GET", "/api/v1/namespaces/late/configmaps/istio-ca-root-cert",
	      NULL);
	assert_string_equal(json_string_value(json_object_get(json_object_get(
	        r.json, "data"), "root-cert.pem")), "ROOT\n");
	fu_free(&r);
	/* service-account token Secrets are filled in */
	r = k(f, "POST", "/api/v1/namespaces/default/secrets",
	      "{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"type\":"
	      "\"kubernetes.io/service-account-token\",\"metadata\":{\"name\":"
	      "\"t\",\"annotations\":{\"kubernetes.io/service-account.name\":"
	      "\"default\"}}}");
	assert_true(strlen(fu_str(&r, "data.token")) > 100);
	assert_true(strlen(json_string_value(json_object_get(json_object_get(
	        r.json, "data"), "ca.crt"))) > 100);
	fu_free(&r);
	/* a Deployment is available after the controllers' delay */
	assert_int_equal(kdo(f, "POST", DEP, DEP_BODY("")), 201);
	r = k(f, "GET", DEP "/web", NULL);
	assert_int_equal(fu_int(&r, "status.availableReplicas"), -1);
	assert_int_equal(fu_int(&r, "status.unavailableReplicas"), 2);
	fu_free(&r);
	usleep(350 * 1000);
	r2 = k(f, "GET", DEP "/web", NULL);
	assert_int_equal(fu_int(&r2, "status.availableReplicas"), 2);
	assert_string_equal(fu_str(&r2, "status.conditions.0.status"), "True");
	fu_free(&r2);
	fake_free(f);
}

static void
test_watch(void **state)
{
	struct fake *f = kube_fake(true, 0);
	struct fu_resp r;
	char rv[32], target[256];

	(void)state;
	r = k(f, "GET", CM "?watch=true", NULL);
	assert_int_equal(r.status, 200);
	assert_contains(r.raw.body, "{\"type\":\"ADDED\",\"object\":");
	assert_contains(r.raw.body, "kube-root-ca.crt");
	fu_free(&r);
	r = k(f, "GET", CM, NULL);
	snprintf(rv, sizeof(rv), "%s", fu_str(&r, "metadata.resourceVersion"));
	fu_free(&r);
	make_cm(f, "w1", "{}");
	assert_int_equal(kdo(f, "DELETE", CM "/w1", NULL), 200);
	snprintf(target, sizeof(target), CM "?watch=1&resourceVersion=%s", rv);
	r = k(f, "GET", target, NULL);
	assert_contains(r.raw.body, "{\"type\":\"ADDED\"");
	assert_contains(r.raw.body, "{\"type\":\"DELETED\"");
	assert_null(strstr(r.raw.body, "kube-root-ca.crt"));
	fu_free(&r);
	r = k(f, "GET", CM "?watch=1&resourceVersion=1", NULL);
	assert_contains(r.raw.body, "\"type\":\"ERROR\"");
	assert_contains(r.raw.body, "\"code\":410");
	fu_free(&r);
	fake_free(f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lb_range),
		cmocka_unit_test(test_controllers),
		cmocka_unit_test(test_watch),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
