/* test_config.c - meshvm.yaml (core/config.c) and `meshvm init`. */
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/config_keys.h"
#include "core/yaml.h"
#include "testutil.h"

static struct mv_config *
parse_ok(const char *text)
{
	struct mv_config *c = NULL;
	struct mv_err err;

	mv_err_clear(&err);
	if (mv_config_parse("meshvm.yaml", text, strlen(text), &c, &err) != 0)
		print_error("%s\n", err.msg);
	assert_non_null(c);
	return c;
}

static void
test_example_is_the_seed(void **state)
{
	char *text = mv_config_example("demo-project-1");
	struct mv_config *c = parse_ok(text);
	char *ctx;

	(void)state;
	assert_string_equal(c->project, "demo-project-1");
	assert_int_equal(c->n_clusters, 2);
	assert_string_equal(c->clusters[0].name, "cluster1");
	assert_string_equal(c->clusters[0].zone, "us-west1-b");
	assert_string_equal(c->clusters[1].name, "cluster2");
	assert_string_equal(c->clusters[1].zone, "us-east1-b");
	assert_string_equal(c->clusters[1].machine_type, "n1-standard-4");
	assert_int_equal(c->clusters[1].nodes, 4);
	assert_string_equal(c->vm.name, "istio-gce");
	assert_int_equal(c->vm.n_tags, 1);
	assert_string_equal(c->vm.tags[0], "istio-gce");
	assert_int_equal(c->service.port, 3550);
	assert_string_equal(c->endpoints.container, "https://container.googleapis.com/");
	assert_string_equal(c->endpoints.compute,
	                    "https://compute.googleapis.com/compute/v1/");
	ctx = mv_config_context_name(c, &c->clusters[0]);
	assert_string_equal(ctx, "gke_demo-project-1_us-west1-b_cluster1");
	free(ctx);
	mv_config_free(c);
	free(text);
}

static void
test_endpoints(void **state)
{
	const char *base = "project: demo-project-1\nclusters: [{name: c1, zone: "
	                   "us-west1-b}]\nvm: {name: vm}\n"
	                   "service: {port: 80}\n";
	char *text = tu_fmt("%sendpoints:\n  google: http://127.0.0.1:9/\n"
	                    "  compute: http://127.0.0.1:10/c/v1\n", base);
	struct mv_config *c = parse_ok(text);

	(void)state;
	assert_string_equal(c->endpoints.container, "http://127.0.0.1:9/");
	assert_string_equal(c->endpoints.compute, "http://127.0.0.1:10/c/v1/");
	assert_string_equal(c->endpoints.oauth2, "http://127.0.0.1:9/token");
	mv_config_free(c);
	/* the environment wins over the file */
	setenv("MESHVM_GOOGLE_ENDPOINT", "http://127.0.0.1:7", 1);
	c = parse_ok(text);
	assert_string_equal(c->endpoints.compute, "http://127.0.0.1:7/compute/v1/");
	assert_string_equal(c->endpoints.serviceusage, "http://127.0.0.1:7/");
	mv_config_free(c);
	/* set but empty is an error, never a quiet fall-back to Google */
	for (int i = 0; i < 3; i++) {
		struct mv_err err;
		const char *bad_env[] = {"", "  ", "127.0.0.1:7"};
		mv_err_clear(&err);
		setenv("MESHVM_GOOGLE_ENDPOINT", bad_env[i], 1);
		c = NULL;
		assert_int_equal(mv_config_parse("meshvm.yaml", text, strlen(text),
		                                 &c, &err), -1);
		assert_null(c);
		assert_contains(err.msg, "MESHVM_GOOGLE_ENDPOINT");
		mv_err_free(&err);
	}
	unsetenv("MESHVM_GOOGLE_ENDPOINT");
	free(text);
	/* defaults when absent */
	c = parse_ok(base);
	assert_int_equal(c->vm.count, 1);
	assert_string_equal(c->vm.zone, "us-central1-b");
	assert_string_equal(c->vm.machine_type, "n1-standard-2");
	assert_int_equal(c->vm.token_duration_s, 24 * 3600);
	assert_string_equal(c->vm.tags[0], "vm");
	assert_string_equal(c->service.namespace_, "default");
	assert_true(json_is_object(c->mesh));
	mv_config_free(c);
}

struct bad {
	const char *text;
	const char *expect;
};

#define OKC "clusters: [{name: c1, zone: us-west1-b}]\n"
#define OKV "vm: {name: vm}\n"
#define OKS "service: {port: 80}\n"
#define OKP "project: demo-project-1\n"

static const struct bad bad[] = {
	{OKP OKC OKV OKS "extra: 1\n", "meshvm.yaml:5:1: extra: unknown key"},
	{OKP "clusters:\n  - name: c1\n    zone: us-west1-b\n    nodez: 3\n" OKV OKS,
	 "meshvm.yaml:5:5: clusters[0].nodez: unknown key"},
	{OKP "clusters:\n  - name: c1\n    zone: us-west1-b\n    nodes: many\n" OKV OKS,
	 "meshvm.yaml:5:12: clusters[0].nodes: must be an integer 1..1000, got a "
	 "string"},
	{OKP "clusters:\n  - name: c1\n    zone: us-west1-b\n    nodes: 0\n" OKV OKS,
	 "clusters[0].nodes: must be an integer 1..1000, got 0"},
	{OKP "clusters:\n  - name: Cluster_1\n    zone: us-west1-b\n" OKV OKS,
	 "meshvm.yaml:3:11: clusters[0].name: \"Cluster_1\" is not a valid "
	 "cluster name"},
	{OKP "clusters:\n  - name: c1\n    zone: uswest\n" OKV OKS,
	 "meshvm.yaml:4:11: clusters[0].zone: \"uswest\" is not a zone"},
	{OKP "clusters:\n  - {name: c1, zone: us-west1-b}\n  - {name: c1, zone: "
	 "us-east1-b}\n" OKV OKS, "meshvm.yaml:4:12: clusters[1].name: duplicate"},
	{OKP "clusters: []\n" OKV OKS, "meshvm.yaml:2:11: clusters: must be a "
	 "non-empty list"},
	{OKP OKV OKS, "clusters: required"},
	{OKP OKC "vm: {name: vm, tags: [Bad Tag]}\n" OKS,
	 "meshvm.yaml:3:23: vm.tags[0]: not a valid network tag"},
	{OKP OKC "vm: {name: vm, count: 0}\n" OKS,
	 "vm.count: must be an integer 1..1000, got 0"},
	{OKP OKC OKV "service: {port: 70000}\n",
	 "meshvm.yaml:4:17: service.port: must be an integer 1..65535, got 70000"},
	{OKP OKC OKV "service: {}\n", "service.port: required"},
	/* known keys whose feature has not landed: refused, never ignored */
	{OKP OKC "vm: {name: vm, zone: us-central1}\n" OKS,
	 "meshvm.yaml:3:22: vm.zone: \"us-central1\" is not a zone"},
	{OKP OKC "vm: {name: vm, count: 1001}\n" OKS,
	 "vm.count: must be an integer 1..1000, got 1001"},
	{OKP OKC "vm: {name: vm, token_duration: 5m}\n" OKS,
	 "meshvm.yaml:3:32: vm.token_duration: must be a duration 10m..168h"},
	{OKP OKC "vm: {name: vm, token_duration: 1h30}\n" OKS,
	 "vm.token_duration: must be a duration"},
	{OKP OKC "vm: {name: vm, token_duration: 200h}\n" OKS,
	 "vm.token_duration: must be a duration"},
	{OKP OKC OKV "service: {port: 80, protocol: udp}\n",
	 "meshvm.yaml:4:31: service.protocol: \"udp\" is not one of grpc"},
	{OKP OKC OKV OKS "mesh: {networks: {c9: n9}}\n",
	 "mesh.networks.c9: not a cluster (nor VM)"},
	{OKP OKC OKV OKS "mesh: {networks: {c1: Net_1}}\n",
	 "mesh.networks.c1: must be a network name"},
	{OKP OKC OKV OKS "mesh: {istio_version: latest}\n",
	 "mesh.istio_version: \"latest\" is not a version"},
	{OKP OKC OKV OKS "app: {placement: {frontend: c2}}\n",
	 "app.placement.frontend: not one of the clusters"},
	{OKP OKC "vm: {name: vm, cluster: c2}\n" OKS,
	 "vm.cluster: \"c2\" is not one of the clusters"},
	{OKP OKC OKV OKS "migration:\n  prometheus_url: ftp://x\n",
	 "meshvm.yaml:6:19: migration.prometheus_url: must be an http(s) URL"},
	{OKP OKC OKV OKS "migration: {prometheus_url: {c9: http://x}}\n",
	 "migration.prometheus_url.c9: not one of the clusters"},
	{OKP OKC OKV OKS "migration: {steps: [10, 5, 100]}\n",
	 "migration.steps[1]: each step is a percentage 1..100 above the one "
	 "before"},
	{OKP OKC OKV OKS "migration: {steps: [10, 50]}\n",
	 "migration.steps: the last step must be 100"},
	{OKP OKC OKV OKS "migration: {min_success_rate: 1.5}\n",
	 "migration.min_success_rate: must be a number 0..1"},
	{OKP OKC OKV OKS "migration: {interval: 0}\n",
	 "migration.interval: must be an integer 1..86400, got 0"},
	{OKP OKC OKV OKS "migration: {cluster: c9}\n",
	 "migration.cluster: \"c9\" is not one of the clusters"},
	{OKP OKC OKV OKS "migration: {stepz: 1}\n",
	 "migration.stepz: unknown key"},
	{OKP OKC OKV OKS "app: {idd: 1}\n", "meshvm.yaml:5:7: app.idd: unknown key"},
	/* the bundle and deliver steps' keys */
	{OKP OKC "vm: {name: vm, bundle_bucket: My_Bucket}\n" OKS,
	 "meshvm.yaml:3:31: vm.bundle_bucket: \"My_Bucket\" is not a Cloud "
	 "Storage bucket name"},
	{OKP OKC "vm: {name: vm, bundle_bucket: my-google-bkt}\n" OKS,
	 "vm.bundle_bucket: \"my-google-bkt\" is not a Cloud Storage bucket"},
	{OKP OKC "vm: {name: vm, storage_endpoint: 'ftp://s/v1'}\n" OKS,
	 "meshvm.yaml:3:34: vm.storage_endpoint: \"ftp://s/v1\" is not an "
	 "http(s)://HOST[/PATH] base"},
	{OKP OKC "vm: {name: vm, storage_endpoint: 'http://s/$(id)'}\n" OKS,
	 "vm.storage_endpoint: \"http://s/$(id)\" is not"},
	{OKP OKC "vm: {name: vm, storage_endpoint: 'http://s/v1/'}\n" OKS,
	 "vm.storage_endpoint: \"http://s/v1/\" is not"},
	{OKP OKC OKV "service: {port: 80, units: a.service}\n",
	 "meshvm.yaml:4:28: service.units: must be a list of paths, got a string"},
	{OKP OKC OKV "service: {port: 80, units: [a.service, 7]}\n",
	 "service.units[1]: must be a non-empty path"},
	{OKP OKC OKV "service: {port: 80, image: \"\"}\n",
	 "service.image: must be a non-empty string"},
	{"project: my-gcp-project\n" OKC OKV OKS,
	 "meshvm.yaml:1:10: project: still the placeholder"},
	{"project: X\n" OKC OKV OKS, "project: \"X\" is not a GCP project id"},
	{OKP "endpoints: {google: ftp://x}\n" OKC OKV OKS,
	 "meshvm.yaml:2:21: endpoints.google: must be an http(s) URL"},
	{OKP "endpoints: {gogle: http://x}\n" OKC OKV OKS,
	 "meshvm.yaml:2:13: endpoints.gogle: unknown key"},
	{OKP OKC OKV OKS "mesh: [1]\n", "meshvm.yaml:5:7: mesh: must be a mapping"},
	{OKP "clusters: [\n" OKV OKS, "meshvm.yaml:4:1: YAML syntax error"},
	{"- a\n", "a meshvm config is one YAML mapping"},
};

static void
test_bad_configs(void **state)
{
	(void)state;
	assert_true(sizeof(bad) / sizeof(bad[0]) >= 10);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct mv_config *c = NULL;
		struct mv_err err;
		mv_err_clear(&err);
		print_message("case %zu\n", i);
		assert_int_equal(mv_config_parse("meshvm.yaml", bad[i].text,
		                                 strlen(bad[i].text), &c, &err), -1);
		assert_null(c);
		assert_contains(err.msg, bad[i].expect);
		mv_err_free(&err);
	}
}

/* service.image, service.sidecar, service.units and vm.bundle_bucket: as
 * written (the bundle step resolves paths against the config's
 * directory); no bucket means the deliver step's default name. */
static void
test_bundle_keys(void **state)
{
	struct mv_config *c = parse_ok(
		OKP OKC "vm: {name: vm, bundle_bucket: team.bundles-1}\n"
		"service: {port: 80, image: img/app.tar, sidecar: /s/istio.deb, "
		"units: [u/a.service, u/b.service]}\n");

	(void)state;
	assert_string_equal(c->vm.bundle_bucket, "team.bundles-1");
	assert_string_equal(c->service.image, "img/app.tar");
	assert_string_equal(c->service.sidecar, "/s/istio.deb");
	assert_int_equal(c->service.n_units, 2);
	assert_string_equal(c->service.units[1], "u/b.service");
	mv_config_free(c);
	c = parse_ok(OKP OKC OKV OKS);
	assert_null(c->vm.bundle_bucket);
	assert_null(c->vm.storage_endpoint); /* Google's */
	assert_null(c->service.image);
	assert_int_equal(c->service.n_units, 0);
	mv_config_free(c);
}

/* vm.storage_endpoint: a Storage JSON API base for the VM (private or
 * restricted Google API endpoints); absent, Google's. */
static void
test_storage_endpoint(void **state)
{
	struct mv_config *c = parse_ok(
		OKP OKC "vm: {name: vm, storage_endpoint: "
		"'http://metadata.google.internal/storage/v1'}\n" OKS);

	(void)state;
	assert_string_equal(c->vm.storage_endpoint,
	                    "http://metadata.google.internal/storage/v1");
	mv_config_free(c);
}

/* The mesh keys (issue 12): defaults, overrides, relative paths kept as
 * written (the steps resolve them against the config's directory). */
static void
test_mesh_keys(void **state)
{
	const char *plain = OKP "clusters: [{name: c1, zone: us-west1-b}, "
	                    "{name: c2, zone: us-east1-b}]\n" OKV OKS;
	const char *set = OKP "clusters: [{name: c1, zone: us-west1-b}, "
	                  "{name: c2, zone: us-east1-b}]\n"
	                  "vm: {name: vm, cluster: c2}\n"
	                  "service: {port: 80, name: svc, protocol: http}\n"
	                  "mesh: {id: m9, trust_domain: td.example, networks: "
	                  "{c2: west, VM: vms}, istio_manifests: im, ca_dir: /ca, "
	                  "reader_token: tok}\n"
	                  "app: {manifests: am, placement: {frontend: c2}}\n";
	struct mv_config *c = NULL;
	struct mv_err err;

	(void)state;
	mv_err_clear(&err);
	assert_int_equal(mv_config_parse("meshvm.yaml", plain, strlen(plain), &c,
	                                 &err), 0);
	assert_string_equal(c->mesh_.istio_version, "1.26.2");
	assert_string_equal(c->mesh_.id, "mesh1");
	assert_string_equal(c->mesh_.trust_domain, "cluster.local");
	assert_string_equal(mv_config_network(c, "c1"), "network1");
	assert_string_equal(mv_config_network(c, "c2"), "network2");
	assert_string_equal(mv_config_network(c, "VM"), "vm-network");
	assert_string_equal(c->vm.cluster, "c1");
	assert_string_equal(c->service.name, "productcatalogservice");
	assert_string_equal(c->service.namespace_, "default");
	assert_null(c->mesh_.istio_manifests);
	assert_null(c->mesh_.ca_dir);
	assert_null(c->mesh_.reader_token);
	assert_null(c->app_.manifests);
	assert_null(c->app_.placement);
	mv_config_free(c);
	assert_int_equal(mv_config_parse("meshvm.yaml", set, strlen(set), &c,
	                                 &err), 0);
	assert_string_equal(c->mesh_.id, "m9");
	assert_string_equal(c->mesh_.trust_domain, "td.example");
	assert_string_equal(mv_config_network(c, "c1"), "network1");
	assert_string_equal(mv_config_network(c, "c2"), "west");
	assert_string_equal(mv_config_network(c, "VM"), "vms");
	assert_string_equal(c->vm.cluster, "c2");
	assert_string_equal(c->service.name, "svc");
	assert_string_equal(c->service.protocol, "http");
	assert_string_equal(c->mesh_.istio_manifests, "im");
	assert_string_equal(c->mesh_.ca_dir, "/ca");
	assert_string_equal(c->mesh_.reader_token, "tok");
	assert_string_equal(c->app_.manifests, "am");
	assert_string_equal(json_string_value(json_object_get(c->app_.placement,
	                                                      "frontend")), "c2");
	mv_config_free(c);
}

/* Durations: units h/m/s combined, plain seconds alone, 10m..168h. */
static void
test_duration(void **state)
{
	static const struct {
		const char *s;
		long want; /* -1: refused */
	} cases[] = {{"24h", 86400}, {"90m", 5400}, {"1h30m", 5400},
	             {"3600s", 3600}, {"600", 600}, {"168h", 604800},
	             {"599s", -1}, {"169h", -1}, {"1h30", -1}, {"", -1},
	             {"h", -1}, {"-1h", -1}, {"1d", -1},
	             {"99999999999999999999h", -1}};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		long got = -1;
		int rc = mv_config_duration(cases[i].s, &got);
		if (cases[i].want < 0) {
			assert_int_equal(rc, -1);
		} else {
			assert_int_equal(rc, 0);
			assert_int_equal(got, cases[i].want);
		}
	}
}

/* Key problems in one mapping are all reported, one item each. */
static void
test_every_key_problem_reported(void **state)
{
	const char *text = OKP OKC "vm: {name: vm, zonez: z, machinetype: m, "
	                   "bogus: 1, cluster: c1}\n" OKS;
	struct mv_config *c = NULL;
	struct mv_err err;
	char *all;

	(void)state;
	mv_err_clear(&err);
	assert_int_equal(mv_config_parse("meshvm.yaml", text, strlen(text), &c,
	                                 &err), -1);
	assert_int_equal(mv_err_count(&err), 3);
	all = mv_err_join(&err);
	assert_contains(all, "vm.zonez: unknown key");
	assert_contains(all, "vm.machinetype: unknown key");
	assert_contains(all, "vm.bogus: unknown key");
	free(all);
	mv_err_free(&err);
}

/* Collect every key path of a parsed YAML mapping ("clusters[].zone"). */
static void
walk_paths(const json_t *v, const char *prefix, json_t *out)
{
	const char *k;
	json_t *x;
	size_t i;

	if (json_is_object(v)) {
		json_object_foreach((json_t *)v, k, x) {
			char *p = prefix[0] ? tu_fmt("%s.%s", prefix, k) : tu_fmt("%s", k);
			json_object_set_new(out, p, json_true());
			walk_paths(x, p, out);
			free(p);
		}
	} else if (json_is_array(v)) {
		char *p = tu_fmt("%s[]", prefix);
		json_array_foreach((json_t *)v, i, x)
			if (json_is_object(x))
				walk_paths(x, p, out);
		free(p);
	}
}

/* `meshvm init` writes only keys something reads today, and the table
 * lists every key the loader knows. */
static void
test_example_only_landed_keys(void **state)
{
	char *text = mv_config_example("demo-project-1");
	struct mv_yaml *y = NULL;
	struct mv_err err;
	json_t *paths = json_object(), *x;
	const char *p;
	size_t n;
	const struct mv_config_key *keys = mv_config_keys(&n);

	(void)state;
	mv_err_clear(&err);
	assert_int_equal(mv_yaml_load_buf("ex", text, strlen(text), &y, &err), 0);
	walk_paths(mv_yaml_doc(y, 0), "", paths);
	assert_true(json_object_size(paths) >= 10);
	json_object_foreach(paths, p, x) {
		const struct mv_config_key *row = mv_config_key_find(p);
		if (row == NULL || row->issue != 0) {
			print_error("init writes %s, which %s\n", p,
			            row ? "has not landed" : "is in no row");
			fail();
		}
	}
	/* rows are unique and each landed one without a default is written */
	for (size_t i = 0; i < n; i++) {
		assert_ptr_equal(mv_config_key_find(keys[i].path), &keys[i]);
		if (keys[i].issue == 0 && keys[i].dflt == NULL)
			assert_non_null(json_object_get(paths, keys[i].path));
	}
	json_decref(paths);
	mv_yaml_free(y);
	free(text);
}

/* README.md's key table is the code's table. */
static void
test_readme_key_table(void **state)
{
	char *path = tu_fmt("%s/README.md", tu_src());
	char *readme = tu_read(path, NULL), *table = mv_config_keys_markdown();

	(void)state;
	assert_non_null(readme);
	if (strstr(readme, table) == NULL) {
		print_error("README.md must hold this table verbatim (from "
		            "core/config_keys.c):\n%s\n", table);
		fail();
	}
	free(table);
	free(readme);
	free(path);
}

/* The migration keys (issue 16): defaults, a list of steps, one URL or
 * one per cluster. */
static void
test_migration_keys(void **state)
{
	const char *two = OKP "clusters: [{name: c1, zone: us-west1-b}, "
	                  "{name: c2, zone: us-east1-b}]\n" OKV OKS;
	char *set = tu_fmt("%smigration: {steps: [5, 100], interval: 30, "
	                   "min_success_rate: 0.95, max_p99_ms: 250, cluster: c1, "
	                   "prometheus_url: {c1: 'http://p1/', c2: "
	                   "'http://p2/'}}\n", two);
	char *one = tu_fmt("%smigration: {prometheus_url: http://p/}\n", two);
	struct mv_config *c = NULL;
	struct mv_err err;

	(void)state;
	mv_err_clear(&err);
	assert_int_equal(mv_config_parse("m.yaml", two, strlen(two), &c, &err), 0);
	assert_int_equal(c->migration_.n_steps, 3);
	assert_int_equal(c->migration_.steps[0], 10);
	assert_int_equal(c->migration_.steps[2], 100);
	assert_int_equal(c->migration_.interval, 60);
	assert_true(c->migration_.min_success_rate == 0.99);
	assert_int_equal(c->migration_.max_p99_ms, 1000);
	assert_string_equal(c->migration_.cluster, "c2");
	assert_null(c->migration_.prometheus);
	mv_config_free(c);
	assert_int_equal(mv_config_parse("m.yaml", set, strlen(set), &c, &err), 0);
	assert_int_equal(c->migration_.n_steps, 2);
	assert_int_equal(c->migration_.steps[0], 5);
	assert_int_equal(c->migration_.interval, 30);
	assert_true(c->migration_.min_success_rate == 0.95);
	assert_int_equal(c->migration_.max_p99_ms, 250);
	assert_string_equal(c->migration_.cluster, "c1");
	assert_string_equal(json_string_value(json_object_get(
		c->migration_.prometheus, "c2")), "http://p2/");
	mv_config_free(c);
	assert_int_equal(mv_config_parse("m.yaml", one, strlen(one), &c, &err), 0);
	assert_int_equal(json_object_size(c->migration_.prometheus), 1);
	assert_string_equal(json_string_value(json_object_get(
		c->migration_.prometheus, "")), "http://p/");
	mv_config_free(c);
	free(set);
	free(one);
}

static void
test_init_command(void **state)
{
	char *d = tu_tmpdir(), *out = NULL, *text;

	(void)state;
	assert_int_equal(tu_sh(&out, "cd '%s' && PROJECT_ID=seed-proj-42 '%s' init",
	                       d, tu_bin()), 0);
	free(out);
	text = tu_fmt("%s/meshvm.yaml", d);
	char *body = tu_read(text, NULL);
	assert_contains(body, "project: seed-proj-42\n");
	assert_contains(body, "zone: us-west1-b");
	free(body);
	/* no overwrite without --force */
	assert_int_equal(tu_sh(&out, "cd '%s' && '%s' init", d, tu_bin()), 1);
	assert_contains(out, "--force");
	free(out);
	assert_int_equal(tu_sh(&out, "cd '%s' && '%s' -C other.yaml init && "
	                       "grep -c my-gcp-project other.yaml", d, tu_bin()), 0);
	free(out);
	/* a hostile PROJECT_ID cannot inject YAML */
	assert_int_equal(tu_sh(&out, "cd '%s' && PROJECT_ID='x\nvm: 1' '%s' init "
	                       "-o evil.yaml", d, tu_bin()), 1);
	free(out);
	free(text);
	tu_rmrf(d);
	free(d);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_example_is_the_seed),
		cmocka_unit_test(test_endpoints),
		cmocka_unit_test(test_bad_configs),
		cmocka_unit_test(test_every_key_problem_reported),
		cmocka_unit_test(test_example_only_landed_keys),
		cmocka_unit_test(test_readme_key_table),
		cmocka_unit_test(test_storage_endpoint),
		cmocka_unit_test(test_bundle_keys),
		cmocka_unit_test(test_duration),
		cmocka_unit_test(test_mesh_keys),
		cmocka_unit_test(test_migration_keys),
		cmocka_unit_test(test_init_command),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
