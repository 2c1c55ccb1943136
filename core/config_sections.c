/* core/config_sections.c - one parser per top-level section of meshvm.yaml
 * (endpoints, clusters, vm, service, mesh/app, migration): core/config.c
 * calls them in order; core/config_check.c checks and reports values. */
#include "core/config_private.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "core/yaml.h"
#include "core/xalloc.h"

/* Cloud Storage's bucket naming rules (without dotted, domain-verified
 * names longer than 63). */
static bool
is_bucket_name(const char *s)
{
	size_t n = strlen(s);

	if (n < 3 || n > 63 || !isalnum((unsigned char)s[0]) ||
	    !isalnum((unsigned char)s[n - 1]) || strncmp(s, "goog", 4) == 0 ||
	    strstr(s, "google") != NULL)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!(islower((unsigned char)s[i]) || isdigit((unsigned char)s[i]) ||
		      s[i] == '-' || s[i] == '_' || s[i] == '.'))
			return false;
	return true;
}

/* The guest's shell config quotes nothing: the same rule as
 * cloudinit_storage_url_check (core cannot call cloudinit/). */
static bool
is_storage_endpoint(const char *s)
{
	size_t n = strlen(s);
	const char *host = strncmp(s, "https://", 8) == 0  ? s + 8
	                   : strncmp(s, "http://", 7) == 0 ? s + 7
	                                                   : NULL;

	if (host == NULL || *host == '\0' || *host == '/' || s[n - 1] == '/')
		return false;
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f || strchr("'\"\\$`?#", *p))
			return false;
	return true;
}

static char *
with_slash(const char *base, const char *suffix)
{
	size_t n = strlen(base);
	char *out = mv_xmalloc(n + strlen(suffix) + 2);

	sprintf(out, "%s%s%s", base, (n > 0 && base[n - 1] == '/') ? "" : "/",
	        suffix);
	return out;
}

void
cfg_endpoints_free(struct mv_endpoints *e)
{
	free(e->container);
	free(e->compute);
	free(e->storage);
	free(e->serviceusage);
	free(e->oauth2);
	free(e->cloudresourcemanager);
	free(e->iam);
	free(e->sts);
	free(e->iamcredentials);
	memset(e, 0, sizeof(*e));
}

/* One base for every API (the fake, or a proxy). */
static void
endpoints_from_base(struct mv_endpoints *e, const char *base)
{
	cfg_endpoints_free(e);
	e->container = with_slash(base, "");
	e->compute = with_slash(base, "compute/v1/");
	e->storage = with_slash(base, "");
	e->serviceusage = with_slash(base, "");
	e->oauth2 = with_slash(base, "token");
	e->cloudresourcemanager = with_slash(base, "");
	e->iam = with_slash(base, "");
	e->sts = with_slash(base, "v1/token");
	e->iamcredentials = with_slash(base, "");
}

void
cfg_parse_endpoints(struct cfg_ctx *c, const json_t *root,
                    struct mv_config *cfg)
{
	json_t *ep = json_object_get(root, "endpoints");
	const char *env = getenv("MESHVM_GOOGLE_ENDPOINT");
	struct mv_endpoints *e = &cfg->endpoints;

	e->container = mv_xstrdup("https://container.googleapis.com/");
	e->compute = mv_xstrdup("https://compute.googleapis.com/compute/v1/");
	e->storage = mv_xstrdup("https://storage.googleapis.com/");
	e->serviceusage = mv_xstrdup("https://serviceusage.googleapis.com/");
	e->oauth2 = mv_xstrdup("https://oauth2.googleapis.com/token");
	e->cloudresourcemanager =
		mv_xstrdup("https://cloudresourcemanager.googleapis.com/");
	e->iam = mv_xstrdup("https://iam.googleapis.com/");
	e->sts = mv_xstrdup("https://sts.googleapis.com/v1/token");
	e->iamcredentials = mv_xstrdup("https://iamcredentials.googleapis.com/");
	if (ep != NULL) {
		const char *k;
		json_t *v;
		if (!json_is_object(ep)) {
			cfg_fail(c, root, "endpoints", "endpoints: must be a mapping");
			return;
		}
		if (cfg_check_keys(c, ep, "endpoints", "endpoints") != 0)
			return;
		json_object_foreach(ep, k, v) {
			if (!json_is_string(v) || !cfg_is_url(json_string_value(v))) {
				cfg_fail(c, ep, k, "endpoints.%s: must be an http(s) URL", k);
				return;
			}
		}
		if ((v = json_object_get(ep, "google")) != NULL)
			endpoints_from_base(e, json_string_value(v));
		json_object_foreach(ep, k, v) {
			char **slot = !strcmp(k, "container") ? &e->container
			              : !strcmp(k, "compute") ? &e->compute
			              : !strcmp(k, "storage") ? &e->storage
			              : !strcmp(k, "serviceusage") ? &e->serviceusage
			              : !strcmp(k, "oauth2") ? &e->oauth2
			              : !strcmp(k, "cloudresourcemanager")
			                      ? &e->cloudresourcemanager
			              : !strcmp(k, "iam") ? &e->iam
			              : !strcmp(k, "sts") ? &e->sts
			              : !strcmp(k, "iamcredentials") ? &e->iamcredentials
			                                             : NULL;
			if (slot == NULL)
				continue;
			free(*slot);
			*slot = !strcmp(k, "oauth2") || !strcmp(k, "sts")
			                ? mv_xstrdup(json_string_value(v))
			                : with_slash(json_string_value(v), "");
		}
	}
	if (env != NULL) {
		/* Set but empty is a mistake (an unset variable in a script),
		 * never a quiet fall-back to the real Google APIs. */
		if (env[strspn(env, " \t")] == '\0') {
			c->failed = 1;
			mv_err_set(c->err, MV_EXIT_FAIL, "MESHVM_GOOGLE_ENDPOINT is set "
			           "but empty: unset it to use the real Google APIs, or "
			           "give the base URL (e.g. the one `meshvm fake` "
			           "prints)");
			return;
		}
		if (!cfg_is_url(env)) {
			c->failed = 1;
			mv_err_set(c->err, MV_EXIT_FAIL, "MESHVM_GOOGLE_ENDPOINT: \"%s\" "
			           "is not an http(s) URL", env);
			return;
		}
		endpoints_from_base(e, env);
	}
}

void
cfg_parse_clusters(struct cfg_ctx *c, const json_t *root,
                   struct mv_config *cfg)
{
	json_t *cl = json_object_get(root, "clusters"), *v;
	size_t i;

	if (cl == NULL) {
		cfg_fail(c, root, NULL, "clusters: required (a list of clusters)");
		return;
	}
	if (!json_is_array(cl) || json_array_size(cl) == 0) {
		cfg_fail(c, root, "clusters", "clusters: must be a non-empty list");
		return;
	}
	cfg->clusters = mv_xcalloc(json_array_size(cl), sizeof(*cfg->clusters));
	json_array_foreach(cl, i, v) {
		struct mv_cluster_config *k = &cfg->clusters[i];
		char where[32];
		snprintf(where, sizeof(where), "clusters[%zu]", i);
		if (!json_is_object(v)) {
			mv_yaml_item_err(c->err, MV_EXIT_FAIL, c->y, cl, i,
			                 "%s: must be a mapping", where);
			c->failed = 1;
			return;
		}
		cfg->n_clusters = i + 1;
		if (cfg_check_keys(c, v, where, "clusters[]") != 0)
			return;
		k->name = cfg_get_str(c, v, "name", where, MV_CFG_REQUIRED);
		k->zone = cfg_get_str(c, v, "zone", where, MV_CFG_REQUIRED);
		k->machine_type = cfg_get_str(c, v, "machineType", where,
		                               "n1-standard-4");
		k->network = cfg_get_str(c, v, "network", where, "default");
		k->nodes = cfg_get_int(c, v, "nodes", where, 4, 1, 1000);
		if (c->failed)
			return;
		if (!cfg_is_rfc1035(k->name, 40)) {
			cfg_fail(c, v, "name", "%s.name: \"%s\" is not a valid cluster "
			         "name (lower case, digits, '-', at most 40)", where,
			         k->name);
			return;
		}
		if (!cfg_is_zone(k->zone)) {
			cfg_fail(c, v, "zone", "%s.zone: \"%s\" is not a zone (like "
			         "us-west1-b)", where, k->zone);
			return;
		}
		for (size_t j = 0; j < i; j++)
			if (!strcmp(cfg->clusters[j].name, k->name)) {
				cfg_fail(c, v, "name", "%s.name: duplicate cluster \"%s\"",
				         where, k->name);
				return;
			}
	}
}

void
cfg_parse_vm(struct cfg_ctx *c, const json_t *root, struct mv_config *cfg)
{
	json_t *vm = json_object_get(root, "vm"), *tags, *t;
	size_t i;

	if (vm == NULL) {
		cfg_fail(c, root, NULL, "vm: required");
		return;
	}
	if (!json_is_object(vm)) {
		cfg_fail(c, root, "vm", "vm: must be a mapping, got %s",
		         mv_json_type_name(vm));
		return;
	}
	if (cfg_check_keys(c, vm, "vm", "vm") != 0)
		return;
	cfg->vm.name = cfg_get_str(c, vm, "name", "vm", MV_CFG_REQUIRED);
	cfg->vm.zone = cfg_get_str(c, vm, "zone", "vm", MV_CONFIG_DEFAULT_VM_ZONE);
	cfg->vm.machine_type = cfg_get_str(c, vm, "machineType", "vm",
	                                   "n1-standard-2");
	cfg->vm.image = cfg_get_str(c, vm, "image", "vm", MV_CONFIG_DEFAULT_IMAGE);
	cfg->vm.network = cfg_get_str(c, vm, "network", "vm", "default");
	cfg->vm.count = cfg_get_int(c, vm, "count", "vm", 1, 1, 1000);
	cfg->vm.boot_agent = cfg_get_str(c, vm, "boot_agent", "vm", "auto");
	if (c->failed)
		return;
	/* auto: from the image table (cloudinit/images.c) at plan time */
	if (strcmp(cfg->vm.boot_agent, "auto") != 0 &&
	    strcmp(cfg->vm.boot_agent, "cloud-init") != 0 &&
	    strcmp(cfg->vm.boot_agent, "startup-script") != 0) {
		cfg_fail(c, vm, "boot_agent", "vm.boot_agent: \"%s\" is not one of "
		         "auto, cloud-init, startup-script", cfg->vm.boot_agent);
		return;
	}
	cfg->vm.cluster = cfg_get_str(c, vm, "cluster", "vm",
	                          cfg->n_clusters ? cfg->clusters[0].name : NULL);
	if (c->failed)
		return;
	if (cfg_cluster_index(cfg, cfg->vm.cluster) < 0) {
		cfg_fail(c, vm, "cluster", "vm.cluster: \"%s\" is not one of the "
		         "clusters", cfg->vm.cluster);
		return;
	}
	cfg->vm.bundle_bucket = cfg_get_str(c, vm, "bundle_bucket", "vm", NULL);
	if (cfg->vm.bundle_bucket != NULL &&
	    !is_bucket_name(cfg->vm.bundle_bucket)) {
		cfg_fail(c, vm, "bundle_bucket", "vm.bundle_bucket: \"%s\" is not a "
		         "Cloud Storage bucket name (3-63 of a-z, 0-9, '-', '_', "
		         "'.', starting and ending with a letter or digit, no "
		         "\"google\")", cfg->vm.bundle_bucket);
		return;
	}
	cfg->vm.storage_endpoint = cfg_get_str(c, vm, "storage_endpoint", "vm",
	                                   NULL);
	if (cfg->vm.storage_endpoint != NULL &&
	    !is_storage_endpoint(cfg->vm.storage_endpoint)) {
		cfg_fail(c, vm, "storage_endpoint", "vm.storage_endpoint: \"%s\" is "
		         "not an http(s)://HOST[/PATH] base without spaces, quotes, "
		         "'$', '`', a query or a trailing '/' (e.g. "
		         "https://storage.googleapis.com/storage/v1)",
		         cfg->vm.storage_endpoint);
		return;
	}
	if (!cfg_is_rfc1035(cfg->vm.name, 63)) {
		cfg_fail(c, vm, "name", "vm.name: \"%s\" is not a valid instance name",
		         cfg->vm.name);
		return;
	}
	{
		json_t *d = json_object_get(vm, "token_duration");
		char num[32];
		const char *ds = json_string_value(d);
		if (json_is_integer(d)) { /* plain seconds */
			snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT,
			         json_integer_value(d));
			ds = num;
		}
		cfg->vm.token_duration_s = MV_CONFIG_DEFAULT_TOKEN_S;
		if (d != NULL &&
		    mv_config_duration(ds ? ds : "", &cfg->vm.token_duration_s) != 0) {
			cfg_fail(c, vm, "token_duration", "vm.token_duration: must be "
			         "a duration 10m..168h (like 24h, 90m or 3600s)");
			return;
		}
	}
	if (cfg->vm.zone != NULL && !cfg_is_zone(cfg->vm.zone)) {
		cfg_fail(c, vm, "zone", "vm.zone: \"%s\" is not a zone (like "
		         "us-central1-b)", cfg->vm.zone);
		return;
	}
	tags = json_object_get(vm, "tags");
	if (tags == NULL) {
		cfg->vm.tags = mv_xcalloc(1, sizeof(char *));
		cfg->vm.tags[0] = mv_xstrdup(cfg->vm.name);
		cfg->vm.n_tags = 1;
		return;
	}
	if (!json_is_array(tags) || json_array_size(tags) == 0) {
		cfg_fail(c, vm, "tags", "vm.tags: must be a non-empty list of "
		         "network tags");
		return;
	}
	cfg->vm.tags = mv_xcalloc(json_array_size(tags), sizeof(char *));
	json_array_foreach(tags, i, t) {
		if (!json_is_string(t) || !cfg_is_rfc1035(json_string_value(t), 63)) {
			mv_yaml_item_err(c->err, MV_EXIT_FAIL, c->y, tags, i,
			                 "vm.tags[%zu]: not a valid network tag", i);
			c->failed = 1;
			return;
		}
		cfg->vm.tags[cfg->vm.n_tags++] = mv_xstrdup(json_string_value(t));
	}
}

void
cfg_parse_service(struct cfg_ctx *c, const json_t *root,
                  struct mv_config *cfg)
{
	json_t *s = json_object_get(root, "service");

	if (s == NULL) {
		cfg_fail(c, root, NULL, "service: required");
		return;
	}
	if (!json_is_object(s)) {
		cfg_fail(c, root, "service", "service: must be a mapping, got %s",
		         mv_json_type_name(s));
		return;
	}
	if (cfg_check_keys(c, s, "service", "service") != 0)
		return;
	cfg->service.name = cfg_get_str(c, s, "name", "service",
	                            "productcatalogservice");
	cfg->service.namespace_ = cfg_get_str(c, s, "namespace", "service",
	                                      "default");
	cfg->service.protocol = cfg_get_str(c, s, "protocol", "service", "grpc");
	if (json_object_get(s, "image"))
		cfg->service.image = cfg_get_str(c, s, "image", "service",
		                             MV_CFG_REQUIRED);
	if (json_object_get(s, "sidecar"))
		cfg->service.sidecar = cfg_get_str(c, s, "sidecar", "service",
		                               MV_CFG_REQUIRED);
	if (json_object_get(s, "units") != NULL) {
		json_t *u = json_object_get(s, "units"), *x;
		size_t i;
		if (!json_is_array(u)) {
			cfg_fail(c, s, "units", "service.units: must be a list of paths, "
			         "got %s", mv_json_type_name(u));
			return;
		}
		cfg->service.units = mv_xcalloc(json_array_size(u) + 1,
		                                sizeof(char *));
		json_array_foreach(u, i, x) {
			if (!json_is_string(x) || json_string_length(x) == 0) {
				mv_yaml_item_err(c->err, MV_EXIT_FAIL, c->y, u, i,
				                 "service.units[%zu]: must be a non-empty "
				                 "path", i);
				c->failed = 1;
				return;
			}
			cfg->service.units[cfg->service.n_units++] =
				mv_xstrdup(json_string_value(x));
		}
	}
	if (json_object_get(s, "port") == NULL)
		cfg_fail(c, s, NULL, "service.port: required");
	cfg->service.port = cfg_get_int(c, s, "port", "service", 0, 1, 65535);
	if (c->failed)
		return;
	if (cfg->service.name != NULL && !cfg_is_rfc1035(cfg->service.name, 63))
		cfg_fail(c, s, "name", "service.name: \"%s\" is not a DNS-1035 label",
		         cfg->service.name);
	else if (strcmp(cfg->service.protocol, "grpc") &&
	         strcmp(cfg->service.protocol, "http") &&
	         strcmp(cfg->service.protocol, "http2") &&
	         strcmp(cfg->service.protocol, "tcp"))
		cfg_fail(c, s, "protocol", "service.protocol: \"%s\" is not one of "
		         "grpc, http, http2, tcp", cfg->service.protocol);
}

void
cfg_parse_opaque(struct cfg_ctx *c, const json_t *root, const char *key,
                 json_t **slot)
{
	json_t *v = json_object_get(root, key);

	if (v == NULL) {
		*slot = json_object();
		return;
	}
	if (!json_is_object(v)) {
		cfg_fail(c, root, key, "%s: must be a mapping, got %s", key,
		         mv_json_type_name(v));
		return;
	}
	if (cfg_check_keys(c, v, key, key) != 0)
		return;
	*slot = json_incref(v);
}

/* mesh: and app: (issue 12), after parse_opaque checked their keys. */
void
cfg_parse_mesh_app(struct cfg_ctx *c, struct mv_config *cfg)
{
	json_t *m = cfg->mesh, *a = cfg->app, *nets, *v;
	const char *k;

	cfg->mesh_.istio_version = cfg_get_str(c, m, "istio_version", "mesh",
	                                       "1.26.2");
	cfg->mesh_.id = cfg_get_str(c, m, "id", "mesh", "mesh1");
	cfg->mesh_.trust_domain = cfg_get_str(c, m, "trust_domain", "mesh",
	                                  "cluster.local");
	cfg->mesh_.istio_manifests = cfg_get_str(c, m, "istio_manifests", "mesh",
	                                         NULL);
	cfg->mesh_.ca_dir = cfg_get_str(c, m, "ca_dir", "mesh", NULL);
	cfg->mesh_.reader_token = cfg_get_str(c, m, "reader_token", "mesh", NULL);
	cfg->app_.manifests = cfg_get_str(c, a, "manifests", "app", NULL);
	if (c->failed)
		return;
	if (cfg->mesh_.istio_version[0] < '0' || cfg->mesh_.istio_version[0] > '9')
		cfg_fail(c, m, "istio_version", "mesh.istio_version: \"%s\" is not a "
		         "version like 1.26.2", cfg->mesh_.istio_version);
	v = json_object_get(a, "placement");
	if (v != NULL) {
		if (!json_is_object(v)) {
			cfg_fail(c, a, "placement", "app.placement: must be a mapping "
			         "service -> cluster, got %s", mv_json_type_name(v));
			return;
		}
		json_object_foreach(v, k, nets) {
			size_t i;
			for (i = 0; i < cfg->n_clusters && json_is_string(nets); i++)
				if (!strcmp(cfg->clusters[i].name, json_string_value(nets)))
					break;
			if (i == cfg->n_clusters || !json_is_string(nets)) {
				cfg_key_fail(c, v, k, "app.placement.%s: not one of the "
				             "clusters",
				         k);
				return;
			}
		}
		cfg->app_.placement = json_incref(v);
	}
	/* networks: defaults cluster1 -> network1, ..., VM -> vm-network;
	 * never the VPC's name (Istio networks are routing domains). */
	cfg->mesh_.networks = json_object();
	for (size_t i = 0; i < cfg->n_clusters; i++) {
		char *n = mv_xstrfmt("network%zu", i + 1);
		json_object_set_new(cfg->mesh_.networks, cfg->clusters[i].name,
		                    json_string(n));
		free(n);
	}
	json_object_set_new(cfg->mesh_.networks, "VM", json_string("vm-network"));
	nets = json_object_get(m, "networks");
	if (nets == NULL)
		return;
	if (!json_is_object(nets)) {
		cfg_fail(c, m, "networks", "mesh.networks: must be a mapping "
		         "(cluster or VM -> network), got %s", mv_json_type_name(nets));
		return;
	}
	json_object_foreach(nets, k, v) {
		if (json_object_get(cfg->mesh_.networks, k) == NULL) {
			cfg_key_fail(c, nets, k, "mesh.networks.%s: not a cluster (nor "
			             "VM)", k);
			return;
		}
		if (!json_is_string(v) || !cfg_is_rfc1035(json_string_value(v), 63)) {
			cfg_key_fail(c, nets, k, "mesh.networks.%s: must be a network name "
			         "(DNS label)", k);
			return;
		}
		json_object_set(cfg->mesh_.networks, k, v);
	}
}

/* migration.steps: percentages to GKE, 1..100, increasing, ending at
 * 100 (a YAML list, or the --steps text "10,50,100"). */
static void
parse_steps(struct cfg_ctx *c, const json_t *m, struct mv_config *cfg)
{
	json_t *v = json_object_get(m, "steps"), *e;
	size_t i;

	if (v == NULL) {
		static const int dflt[] = {10, 50, 100};
		memcpy(cfg->migration_.steps, dflt, sizeof(dflt));
		cfg->migration_.n_steps = 3;
		return;
	}
	if (!json_is_array(v) || json_array_size(v) == 0 ||
	    json_array_size(v) > MV_CONFIG_MAX_STEPS) {
		cfg_fail(c, m, "steps", "migration.steps: must be a list of 1 to %d "
		         "percentages like [10, 50, 100]", MV_CONFIG_MAX_STEPS);
		return;
	}
	json_array_foreach(v, i, e) {
		json_int_t x = json_integer_value(e);

		if (!json_is_integer(e) || x < 1 || x > 100 ||
		    (i > 0 && x <= cfg->migration_.steps[i - 1])) {
			cfg_fail(c, v, NULL, "migration.steps[%zu]: each step is a "
			         "percentage 1..100 above the one before", i);
			return;
		}
		cfg->migration_.steps[i] = (int)x;
	}
	cfg->migration_.n_steps = json_array_size(v);
	if (cfg->migration_.steps[cfg->migration_.n_steps - 1] != 100)
		cfg_fail(c, m, "steps", "migration.steps: the last step must be 100 "
		         "(all traffic to GKE)");
}

/* migration: (issue 16), after parse_opaque checked its keys. */
void
cfg_parse_migration(struct cfg_ctx *c, struct mv_config *cfg)
{
	json_t *m = cfg->migration, *v = json_object_get(m, "min_success_rate");
	json_t *p = json_object_get(m, "prometheus_url"), *u;
	const char *k;

	parse_steps(c, m, cfg);
	cfg->migration_.interval = cfg_get_int(c, m, "interval", "migration", 60, 1,
	                                   86400);
	cfg->migration_.max_p99_ms = cfg_get_int(c, m, "max_p99_ms", "migration",
	                                     1000, 1, 3600000);
	cfg->migration_.min_success_rate = 0.99;
	if (v != NULL && (!json_is_number(v) || json_number_value(v) < 0 ||
	                  json_number_value(v) > 1))
		cfg_fail(c, m, "min_success_rate", "migration.min_success_rate: "
		         "must be a number 0..1 like 0.99");
	else if (v != NULL)
		cfg->migration_.min_success_rate = json_number_value(v);
	cfg->migration_.cluster = cfg_get_str(c, m, "cluster", "migration",
	                                  cfg->clusters[cfg->n_clusters - 1].name);
	if (c->failed)
		return;
	if (cfg_cluster_index(cfg, cfg->migration_.cluster) < 0) {
		cfg_fail(c, m, "cluster", "migration.cluster: \"%s\" is not one of "
		         "the clusters", cfg->migration_.cluster);
		return;
	}
	if (p == NULL)
		return;
	if (json_is_string(p)) {
		if (!cfg_is_url(json_string_value(p))) {
			cfg_fail(c, m, "prometheus_url", "migration.prometheus_url: "
			         "must be an http(s) URL");
			return;
		}
		cfg->migration_.prometheus = json_pack("{s:O}", "", p);
		return;
	}
	if (!json_is_object(p) || json_object_size(p) == 0) {
		cfg_fail(c, m, "prometheus_url", "migration.prometheus_url: must be "
		         "a URL or a mapping cluster -> URL");
		return;
	}
	json_object_foreach(p, k, u) {
		if (cfg_cluster_index(cfg, k) < 0) {
			cfg_key_fail(c, p, k, "migration.prometheus_url.%s: not one of the "
			         "clusters", k);
			return;
		}
		if (!json_is_string(u) || !cfg_is_url(json_string_value(u))) {
			cfg_fail(c, p, k, "migration.prometheus_url.%s: must be an "
			         "http(s) URL", k);
			return;
		}
	}
	cfg->migration_.prometheus = json_incref(p);
}
