/* test_rehearse.c - the rehearsal's modules: journal accounting (retries,
 * faults, creates per resource), the fake's leftovers and topology, the
 * pictures (escaped, well-formed enough to hold every label), the config
 * edit for --count, the built-in fault profiles, and mv_xml_escape. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/rh_faults.h"
#include "cli/rh_journal.h"
#include "cli/rh_report.h"
#include "cli/rh_svg.h"
#include "cli/rh_work.h"
#include "core/escape.h"
#include "testutil.h"

#define LINE(fmt, ...) "{\"listener\":\"gcp\"," fmt "}\n"

static void
test_xml_escape(void **state)
{
	char *s;

	(void)state;
	s = mv_xml_escape("<a href=\"x\">&'</a>");
	assert_string_equal(s, "&lt;a href=&quot;x&quot;&gt;&amp;&apos;&lt;/a&gt;");
	free(s);
	/* controls, a lone continuation byte, an overlong '/', a surrogate */
	s = mv_xml_escape("a\x01" "b\x80" "c\xc0\xaf" "d\xed\xa0\x80" "e\tf\n");
	assert_string_equal(s, "a?b?c??d???e\tf\n");
	free(s);
	s = mv_xml_escape("caf\xc3\xa9 \xf0\x9f\x98\x80"); /* kept as is */
	assert_string_equal(s, "caf\xc3\xa9 \xf0\x9f\x98\x80");
	free(s);
	s = mv_xml_escape("\xe2\x82"); /* cut short at the end */
	assert_string_equal(s, "??");
	free(s);
	s = mv_xml_escape(NULL);
	assert_string_equal(s, "");
	free(s);
}

static void
test_journal_counts_and_creates(void **state)
{
	char *d = tu_tmpdir(), *p = tu_fmt("%s/j.jsonl", d);
	struct rh_journal *j = NULL;
	struct rh_counts c;
	struct mv_err err;
	json_t *cr;
	long mid;
	/* a create reset, its retry answered, a 503 read retried, a
	 * server-side apply creating (201) then updating (200), and a second
	 * create of the same firewall that succeeded (the defect to catch) */
	const char *l1 = "{\"headers\":{\"user-agent\":\"meshvm/0.1.0\"},\"listener\":\"gcp\",\"method\":\"POST\",\"path\":\"/compute/v1/projects/p/global/firewalls\",\"query\":\"\",\"body_sha256\":\"aa\",\"status\":0,\"mutating\":true,\"fault\":\"flaky-reset\",\"body\":{\"name\":\"fw1\"}}\n";
	const char *l2 = "{\"headers\":{\"user-agent\":\"meshvm/0.1.0\"},\"listener\":\"gcp\",\"method\":\"POST\",\"path\":\"/compute/v1/projects/p/global/firewalls\",\"query\":\"\",\"body_sha256\":\"aa\",\"status\":200,\"mutating\":true,\"body\":{\"name\":\"fw1\"}}\n";
	const char *l3 = "{\"headers\":{\"user-agent\":\"meshvm/0.1.0\"},\"listener\":\"cluster1\",\"method\":\"GET\",\"path\":\"/api/v1/namespaces/x\",\"query\":\"\",\"body_sha256\":\"e3\",\"status\":503,\"mutating\":false,\"fault\":\"flaky-503\"}\n";
	const char *l4 = "{\"headers\":{\"user-agent\":\"meshvm/0.1.0\"},\"listener\":\"cluster1\",\"method\":\"GET\",\"path\":\"/api/v1/namespaces/x\",\"query\":\"\",\"body_sha256\":\"e3\",\"status\":200,\"mutating\":false}\n";
	const char *l5 = "{\"headers\":{\"user-agent\":\"meshvm/0.1.0\"},\"listener\":\"cluster1\",\"method\":\"PATCH\",\"path\":\"/api/v1/namespaces/x\",\"query\":\"fieldManager=meshvm\",\"body_sha256\":\"bb\",\"status\":201,\"mutating\":true}\n";
	const char *l6 = "{\"headers\":{\"user-agent\":\"meshvm/0.1.0\"},\"listener\":\"cluster1\",\"method\":\"PATCH\",\"path\":\"/api/v1/namespaces/x\",\"query\":\"fieldManager=meshvm\",\"body_sha256\":\"bb\",\"status\":200,\"mutating\":true}\n";
	const char *l7 = "{\"headers\":{\"user-agent\":\"meshvm/0.1.0\"},\"listener\":\"gcp\",\"method\":\"POST\",\"path\":\"/upload/storage/v1/b/bk/o\",\"query\":\"uploadType=media&name=obj\",\"body_sha256\":\"cc\",\"status\":200,\"mutating\":true}\n";
	/* a simulated VM's request: not meshvm's (no meshvm/ agent) */
	const char *l8 = "{\"headers\":{\"user-agent\":\"curl/7.88.1\"},\"listener\":\"gcp\",\"method\":\"PUT\",\"path\":\"/vm/x/computeMetadata/v1/instance/guest-attributes/meshvm/phase\",\"query\":\"\",\"body_sha256\":\"dd\",\"status\":200,\"mutating\":true}\n";
	char *all = tu_fmt("%s%s%s%s%s%s%s%s%s", l1, l2, l3, l4, l5, l6, l7, l2,
	                   l8);

	(void)state;
	mv_err_clear(&err);
	tu_write(p, all);
	assert_int_equal(rh_journal_load(p, &j, &err), 0);
	rh_journal_count(j, 0, -1, &c);
	assert_int_equal(c.requests, 8);
	/* l1's fault answered before any handler ran: it changed nothing */
	assert_int_equal(c.mutating, 5);
	assert_int_equal(c.retries, 2); /* l2 after the reset, l4 after 503 */
	assert_int_equal(c.faults, 2);
	assert_int_equal(c.others, 1);
	/* a span: the lines starting in [from, to) */
	mid = (long)(strlen(l1) + strlen(l2));
	rh_journal_count(j, 0, mid, &c);
	assert_int_equal(c.requests, 2);
	assert_int_equal(c.retries, 1);
	rh_journal_count(j, mid, mid + (long)strlen(l3), &c);
	assert_int_equal(c.requests, 1);
	assert_int_equal(c.faults, 1);
	cr = rh_journal_creates(j);
	assert_int_equal(json_integer_value(json_object_get(cr,
		"gcp /compute/v1/projects/p/global/firewalls/fw1")), 2);
	assert_int_equal(json_integer_value(json_object_get(cr,
		"cluster1 /api/v1/namespaces/x")), 1);
	assert_int_equal(json_integer_value(json_object_get(cr,
		"gcp /upload/storage/v1/b/bk/o/obj")), 1);
	assert_int_equal(json_object_size(cr), 3);
	json_decref(cr);
	rh_journal_free(j);
	/* not a journal: the line is named */
	tu_write(p, "{\"a\":1}\nnot json\n");
	assert_int_equal(rh_journal_load(p, &j, &err), -1);
	assert_non_null(strstr(err.msg, ":2: not a journal line"));
	mv_err_free(&err);
	free(all);
	free(p);
	tu_rmrf(d);
	free(d);
}

/* A fake state as GET /_fake/state has it, with hostile names. */
static const char state_json[] =
	"{\"seq\":{\"n\":3},\"operations\":{\"op1\":{}},\"tokens\":{},"
	"\"url\":\"http://127.0.0.1:1\","
	"\"clusters\":{\"p/us-west1-b/c<1>\":{\"name\":\"c<1>\","
	"\"location\":\"us-west1-b\"}},"
	"\"instances\":{\"p/z/vm\":{\"name\":\"vm&1\",\"zone\":\"https://x/zones/"
	"us-central1-b\",\"status\":\"RUNNING\",\"networkInterfaces\":"
	"[{\"networkIP\":\"10.128.0.2\"}]}},"
	"\"firewalls\":{\"p/fw\":{\"name\":\"fw\\\"1\"}},"
	"\"kube\":{\"p/us-west1-b/c<1>\":{\"objects\":{"
	"\"core/services/istio-system/istio-eastwestgateway\":{\"metadata\":"
	"{\"name\":\"istio-eastwestgateway\",\"namespace\":\"istio-system\"},"
	"\"status\":{\"loadBalancer\":{\"ingress\":[{\"ip\":\"203.0.113.1\"}]}}},"
	"\"core/services/default/frontend\":{\"metadata\":{\"name\":\"frontend\","
	"\"namespace\":\"default\"}},"
	"\"networking.istio.io/workloadentries/default/we-1\":{\"metadata\":"
	"{\"name\":\"we-1\",\"namespace\":\"default\"},\"spec\":{\"address\":"
	"\"10.128.0.2\"},\"status\":{\"conditions\":[{\"type\":\"Healthy\","
	"\"status\":\"True\"}]}},"
	"\"networking.istio.io/virtualservices/default/productcatalog-migration\":"
	"{\"metadata\":{\"name\":\"productcatalog-migration\",\"namespace\":"
	"\"default\"},\"spec\":{\"http\":[{\"route\":[{\"destination\":{\"host\":"
	"\"productcatalogservice\",\"subset\":\"vm\"},\"weight\":80},"
	"{\"destination\":{\"host\":\"productcatalogservice\",\"subset\":\"gke\"},"
	"\"weight\":20}]}]}}}}}}";

static void
test_leftovers_and_topology(void **state)
{
	json_t *st = json_loads(state_json, 0, NULL), *left, *topo, *c;
	char *svg, *dot;

	(void)state;
	assert_non_null(st);
	left = rh_report_leftovers(st);
	/* resources only: clusters, instances, firewalls, the kube store */
	assert_int_equal(json_array_size(left), 4);
	json_decref(left);
	left = rh_report_leftovers(NULL);
	assert_int_equal(json_array_size(left), 1);
	json_decref(left);
	topo = rh_report_topology(st);
	c = json_array_get(json_object_get(topo, "clusters"), 0);
	assert_string_equal(json_string_value(json_object_get(c, "name")), "c<1>");
	assert_int_equal(json_array_size(json_object_get(c, "gateways")), 1);
	assert_int_equal(json_array_size(json_object_get(c, "services")), 1);
	assert_true(json_is_true(json_object_get(json_array_get(
		json_object_get(c, "workload_entries"), 0), "healthy")));
	assert_int_equal(json_array_size(json_object_get(topo, "split")), 2);
	svg = rh_svg_topology(topo);
	/* every label, escaped; nothing raw */
	assert_non_null(strstr(svg, "cluster c&lt;1&gt; (us-west1-b)"));
	assert_non_null(strstr(svg, "istio-eastwestgateway 203.0.113.1"));
	assert_non_null(strstr(svg, ">WorkloadEntry we-1<"));
	assert_non_null(strstr(svg, ">10.128.0.2 healthy<"));
	assert_non_null(strstr(svg, "VM vm&amp;1 (us-central1-b) 10.128.0.2"));
	assert_non_null(strstr(svg, "vm 80% / gke 20%"));
	assert_non_null(strstr(svg, ">frontend<"));
	assert_null(strstr(svg, "c<1>"));
	assert_null(strstr(svg, "vm&1"));
	assert_non_null(strstr(svg, "</svg>"));
	dot = rh_dot_topology(topo);
	assert_non_null(strstr(dot, "\"c<1>/we-1\""));
	assert_non_null(strstr(dot, "\"vm&1\" -> \"c<1>/we-1\""));
	assert_non_null(strstr(dot, "// traffic split: \"vm\" 80%"));
	free(svg);
	free(dot);
	json_decref(topo);
	json_decref(st);
}

static void
test_migration_chart(void **state)
{
	json_t *m = json_pack(
		"{s:[f,f,f],s:{s:{s:[f,f,f],s:[f,f,n]},s:{s:[f,f,f],s:[n,f,f]}}}",
		"t", 0.0, 10.0, 20.0, "destinations", "vm", "share", 1.0, 0.5, 0.0,
		"success", 1.0, 1.0, "gke", "share", 0.0, 0.5, 1.0, "success",
		0.7, 1.0);
	json_t *empty = json_pack("{s:[],s:{}}", "t", "destinations");
	char *svg = rh_svg_migration(m), *none = rh_svg_migration(empty);

	(void)state;
	assert_non_null(strstr(svg, "vm: weight (solid), success rate (dashed)"));
	assert_non_null(strstr(svg, "gke: weight (solid)"));
	/* the vm weight line runs from 100% (y=60) to 0% (y=300) */
	assert_non_null(strstr(svg, "M70.0 60.0 L370.0 180.0 L670.0 300.0"));
	/* a gap where no request reached a destination */
	assert_non_null(strstr(svg, "\"M370.0 132.0 L670.0 60.0 \""));
	assert_non_null(strstr(none, "no traffic flowed"));
	free(svg);
	free(none);
	json_decref(m);
	json_decref(empty);
}

static void
test_set_count_and_profiles(void **state)
{
	char *d = tu_tmpdir(), *p = tu_fmt("%s/m.yaml", d), *text;
	const char *names[8];
	struct mv_err err;

	(void)state;
	mv_err_clear(&err);
	tu_write(p, "project: x\nvm:\n  name: a\n  count: 1\nvm_x:\n  count: 2\n"
	            "service:\n  port: 1\n  sidecar: a.deb\n");
	assert_int_equal(rh_work_set(p, "vm", "count", "3", &err), 0);
	assert_int_equal(rh_work_set(p, "service", "sidecar", "/w/s.deb", &err), 0);
	text = tu_read(p, NULL);
	assert_string_equal(text, "project: x\nvm:\n  count: 3\n  name: a\n"
	                          "vm_x:\n  count: 2\nservice:\n"
	                          "  sidecar: /w/s.deb\n  port: 1\n");
	free(text);
	tu_write(p, "project: x\n");
	assert_int_equal(rh_work_set(p, "vm", "count", "3", &err), -1);
	assert_non_null(strstr(err.msg, "no `vm:` mapping"));
	mv_err_free(&err);
	/* migration: replaced, the rest kept */
	tu_write(p, "project: x\nmigration:\n  interval: 5\n  steps: [50, 100]\n"
	            "service:\n  port: 1\n");
	{
		const char *cl[] = {"c1", "c2"};
		assert_int_equal(rh_work_set_migration(p, "http://127.0.0.1:9", cl, 2,
		                                       30, &err), 0);
	}
	text = tu_read(p, NULL);
	assert_non_null(strstr(text, "project: x\nservice:\n  port: 1\n"));
	assert_non_null(strstr(text, "migration:\n  prometheus_url:\n"
	                             "    c1: http://127.0.0.1:9/prom/c1\n"
	                             "    c2: http://127.0.0.1:9/prom/c2\n"
	                             "  interval: 30\n"));
	assert_null(strstr(text, "steps"));
	free(text);
	mv_err_free(&err);
	assert_int_equal(rh_profile_names(names, 8), 3);
	assert_non_null(rh_profile_find("flaky"));
	{
		/* flaky: every listener meshvm talks to, not the sim's istiod */
		const char *cl[] = {"c1", "c2"};
		char *y = rh_profile_yaml(rh_profile_find("flaky"), cl, 2);
		assert_non_null(strstr(y, "listener: gcp\n    path: /compute/**\n"));
		assert_null(strstr(y, "/vm/")); /* the VMs' metadata server */
		assert_non_null(strstr(y, "name: flaky-reset-c2\n    listener: c2\n"));
		assert_non_null(strstr(y, "reset: true"));
		assert_null(strstr(y, "istiod"));
		free(y);
		y = rh_profile_yaml(rh_profile_find("quota"), cl, 2);
		assert_non_null(strstr(y, "RESOURCE_EXHAUSTED"));
		free(y);
	}
	assert_int_equal(rh_profile_find("slow-ops")->op_polls, 4);
	assert_null(rh_profile_find("flaky.yaml"));
	free(p);
	tu_rmrf(d);
	free(d);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_xml_escape),
		cmocka_unit_test(test_journal_counts_and_creates),
		cmocka_unit_test(test_leftovers_and_topology),
		cmocka_unit_test(test_migration_chart),
		cmocka_unit_test(test_set_count_and_profiles),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
