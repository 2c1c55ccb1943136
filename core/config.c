/* core/config.c - meshvm.yaml (see config.h): load, parse the sections in
 * order (core/config_sections.c), free, the example file. */
#include "core/config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/config_private.h"
#include "core/http.h"
#include "core/util.h"
#include "core/yaml.h"
#include "core/xalloc.h"

#define PROJECT_PLACEHOLDER "my-gcp-project"

/* Refuse a mesh.istio_manifests or app.manifests inside the tree of
 * `meshvm init --example` (a .meshvm-example file in it or up to three
 * levels above) while any endpoint is not on loopback: its stub artifacts
 * are for `meshvm fake` only.  At load time, before any step sends
 * anything. */
static void
example_guard(struct cfg_ctx *c, const struct mv_config *cfg,
              const json_t *obj, const char *field, const char *rel,
              const char *key)
{
	const struct mv_endpoints *e = &cfg->endpoints;
	const char *const urls[][2] = {
		{"container", e->container}, {"compute", e->compute},
		{"storage", e->storage}, {"serviceusage", e->serviceusage},
		{"oauth2", e->oauth2},
		{"cloudresourcemanager", e->cloudresourcemanager},
		{"iam", e->iam}, {"sts", e->sts},
		{"iamcredentials", e->iamcredentials},
	};
	char *dir = rel[0] == '/' ? mv_xstrdup(rel) : mv_path_join(cfg->dir, rel);
	char *d = mv_xstrdup(dir);
	bool example = false;

	for (int up = 0; up < 4 && !example; up++) {
		char *m = mv_xstrfmt("%s/.meshvm-example", d), *parent;
		example = access(m, F_OK) == 0;
		free(m);
		parent = mv_dirname(d);
		free(d);
		d = parent;
	}
	free(d);
	if (!example) {
		free(dir);
		return;
	}
	for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++)
		if (urls[i][1] != NULL && !mv_http_is_loopback_url(urls[i][1])) {
			cfg_fail(c, obj, field, "%s: %s is meshvm's offline example (stub "
			         "sidecar and image, a cut-down control plane): it runs "
			         "only against `meshvm fake` on loopback, and endpoints.%s "
			         "is %s", key, dir, urls[i][0], urls[i][1]);
			break;
		}
	free(dir);
}

const char *
mv_config_network(const struct mv_config *cfg, const char *who)
{
	return json_string_value(json_object_get(cfg->mesh_.networks, who));
}

void
mv_config_free(struct mv_config *cfg)
{
	if (cfg == NULL)
		return;
	free(cfg->path);
	free(cfg->dir);
	free(cfg->project);
	cfg_endpoints_free(&cfg->endpoints);
	for (size_t i = 0; i < cfg->n_clusters; i++) {
		free(cfg->clusters[i].name);
		free(cfg->clusters[i].zone);
		free(cfg->clusters[i].machine_type);
		free(cfg->clusters[i].network);
	}
	free(cfg->clusters);
	free(cfg->vm.name);
	free(cfg->vm.zone);
	free(cfg->vm.machine_type);
	free(cfg->vm.image);
	free(cfg->vm.network);
	free(cfg->vm.boot_agent);
	free(cfg->vm.storage_endpoint);
	for (size_t i = 0; i < cfg->vm.n_tags; i++)
		free(cfg->vm.tags[i]);
	free(cfg->vm.tags);
	free(cfg->service.name);
	free(cfg->service.namespace_);
	free(cfg->service.protocol);
	free(cfg->service.image);
	free(cfg->service.sidecar);
	for (size_t i = 0; i < cfg->service.n_units; i++)
		free(cfg->service.units[i]);
	free(cfg->service.units);
	free(cfg->vm.cluster);
	free(cfg->vm.bundle_bucket);
	free(cfg->mesh_.istio_version);
	free(cfg->mesh_.id);
	free(cfg->mesh_.trust_domain);
	json_decref(cfg->mesh_.networks);
	free(cfg->mesh_.istio_manifests);
	free(cfg->mesh_.ca_dir);
	free(cfg->mesh_.reader_token);
	free(cfg->app_.manifests);
	json_decref(cfg->app_.placement);
	json_decref(cfg->mesh);
	json_decref(cfg->app);
	json_decref(cfg->migration);
	json_decref(cfg->migration_.prometheus);
	free(cfg->migration_.cluster);
	free(cfg);
}

int
mv_config_parse(const char *name, const char *buf, size_t len,
                struct mv_config **out, struct mv_err *err)
{
	struct mv_yaml *y = NULL;
	struct mv_config *cfg;
	struct cfg_ctx c = {NULL, err, 0};
	json_t *root;
	const char *slash;

	*out = NULL;
	if (mv_yaml_load_buf(name, buf, len, &y, err) != 0)
		return -1;
	c.y = y;
	root = mv_yaml_doc(y, 0);
	if (mv_yaml_count(y) != 1 || !json_is_object(root)) {
		mv_yaml_free(y);
		return mv_err_at(err, MV_EXIT_FAIL, name, 0, 0,
		                 "a meshvm config is one YAML mapping (try `meshvm "
		                 "init`)");
	}
	cfg = mv_xcalloc(1, sizeof(*cfg));
	cfg->path = mv_xstrdup(name);
	slash = strrchr(name, '/');
	cfg->dir = slash ? mv_xstrndup(name, (size_t)(slash - name + (slash == name)))
	                 : mv_xstrdup(".");
	cfg_check_keys(&c, root, "", "");
	if (!c.failed) {
		cfg->project = cfg_get_str(&c, root, "project", "", MV_CFG_REQUIRED);
		if (cfg->project != NULL && !c.failed &&
		    !strcmp(cfg->project, PROJECT_PLACEHOLDER))
			cfg_fail(&c, root, "project", "project: still the placeholder "
			         "\"%s\"; set your GCP project id", PROJECT_PLACEHOLDER);
		else if (cfg->project != NULL && !c.failed &&
		         (strlen(cfg->project) < 6 || strlen(cfg->project) > 30 ||
		          !cfg_is_rfc1035(cfg->project, 30)))
			cfg_fail(&c, root, "project", "project: \"%s\" is not a GCP "
			         "project id (6-30 lower-case letters, digits, '-')",
			         cfg->project);
	}
	if (!c.failed)
		cfg_parse_endpoints(&c, root, cfg);
	if (!c.failed)
		cfg_parse_clusters(&c, root, cfg);
	if (!c.failed)
		cfg_parse_vm(&c, root, cfg);
	if (!c.failed)
		cfg_parse_service(&c, root, cfg);
	if (!c.failed)
		cfg_parse_opaque(&c, root, "mesh", &cfg->mesh);
	if (!c.failed)
		cfg_parse_opaque(&c, root, "app", &cfg->app);
	if (!c.failed)
		cfg_parse_mesh_app(&c, cfg);
	if (!c.failed && cfg->mesh_.istio_manifests != NULL)
		example_guard(&c, cfg, cfg->mesh, "istio_manifests",
		              cfg->mesh_.istio_manifests, "mesh.istio_manifests");
	if (!c.failed && cfg->app_.manifests != NULL)
		example_guard(&c, cfg, cfg->app, "manifests", cfg->app_.manifests,
		              "app.manifests");
	if (!c.failed)
		cfg_parse_opaque(&c, root, "migration", &cfg->migration);
	if (!c.failed)
		cfg_parse_migration(&c, cfg);
	mv_yaml_free(y);
	if (c.failed) {
		mv_config_free(cfg);
		return -1;
	}
	*out = cfg;
	return 0;
}

int
mv_config_load(const char *path, struct mv_config **out, struct mv_err *err)
{
	size_t n = 0;
	char *buf;
	int rc;

	*out = NULL;
	buf = mv_read_file(path, 1u << 20, &n, err);
	if (buf == NULL) {
		if (errno == ENOENT)
			mv_err_prefix(err, "%s: no config (create one with `meshvm "
			              "init`)", path);
		return -1;
	}
	rc = mv_config_parse(path, buf, n, out, err);
	free(buf);
	return rc;
}

char *
mv_config_context_name(const struct mv_config *cfg,
                       const struct mv_cluster_config *c)
{
	return mv_xstrfmt("gke_%s_%s_%s", cfg->project, c->zone, c->name);
}

char *
mv_config_example(const char *project)
{
	/* Only keys something reads today (core/config_keys.c): a later
	 * issue adds its keys here when it lands. */
	static const char tmpl[] =
		"# meshvm.yaml - the seed's topology: two GKE clusters and the\n"
		"# firewall between them and a GCE VM running productcatalogservice.\n"
		"# `meshvm plan` shows what `meshvm up` would do.  README.md lists\n"
		"# every key; the ones of features still to come are refused.\n"
		"project: %s\n"
		"\n"
		"# Where the Google APIs are.  Default: the real ones.  Point every API\n"
		"# at one base (e.g. `meshvm fake`) with `google:`, or one by one with\n"
		"# container/compute/storage/serviceusage/oauth2/cloudresourcemanager/\n"
		"# iam/sts/iamcredentials; the environment variable\n"
		"# MESHVM_GOOGLE_ENDPOINT overrides both.\n"
		"# endpoints:\n"
		"#   google: http://127.0.0.1:8080/\n"
		"\n"
		"clusters:\n"
		"  - name: cluster1\n"
		"    zone: us-west1-b\n"
		"    machineType: n1-standard-4\n"
		"    nodes: 4\n"
		"    network: default\n"
		"  - name: cluster2\n"
		"    zone: us-east1-b\n"
		"    machineType: n1-standard-4\n"
		"    nodes: 4\n"
		"    network: default\n"
		"\n"
		"# The VM that runs the legacy service: the firewall lets the clusters\n"
		"# reach it (by network tag) and it reach the clusters.\n"
		"vm:\n"
		"  name: istio-gce\n"
		"  # An image family from the README's table; its boot agent (cloud-init\n"
		"  # or the guest agent's startup-script) runs the join.\n"
		"  image: " MV_CONFIG_DEFAULT_IMAGE "\n"
		"  boot_agent: auto\n"
		"  tags: [istio-gce]\n"
		"  network: default\n"
		"\n"
		"# `meshvm migrate` moves the service from the VM to GKE in steps (the\n"
		"# GKE share), each held `interval` seconds and gated on the callers'\n"
		"# success rate and p99 in Prometheus (required by migrate; one URL,\n"
		"# or one per cluster: {cluster1: URL, cluster2: URL}).\n"
		"# migration:\n"
		"#   prometheus_url: http://prometheus.example:9090\n"
		"#   steps: [10, 50, 100]\n"
		"#   interval: 60\n"
		"#   min_success_rate: 0.99\n"
		"#   max_p99_ms: 1000\n"
		"\n"
		"service:\n"
		/* last: `init --example` continues this mapping */
		"  port: 3550    # productcatalogservice, grpc\n"
		"  # What the VM runs, baked with the identity files into the bundle\n"
		"  # the bundle step delivers (`meshvm init --example` fills these in):\n"
		"  # image: productcatalogservice.tar   # docker save or OCI archive\n"
		"  # sidecar: istio-sidecar.deb         # Istio's VM sidecar package\n"
		"  # units: [productcatalog.service]\n";
	size_t n = strlen(tmpl) + 64;
	char *out = mv_xmalloc(n);

	snprintf(out, n, tmpl, project && project[0] ? project
		                                             : PROJECT_PLACEHOLDER);
	return out;
}
