/* core/config.c - meshvm.yaml (see config.h). */
#include "core/config.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/config_keys.h"
#include "core/http.h"
#include "core/util.h"
#include "core/yaml.h"
#include "core/xalloc.h"

#define PROJECT_PLACEHOLDER "my-gcp-project"
/* get_str's default for a key that must be there */
#define MV_CFG_REQUIRED ((const char *)-1)

struct cfg_ctx {
	const struct mv_yaml *y;
	struct mv_err *err;
	int failed;
};

/* First value problem wins (configs are short; fix, rerun); key problems
 * (unknown, not supported yet) are all reported, one item each. */
static int cfg_fail(struct cfg_ctx *c, const json_t *obj, const char *key,
                    const char *fmt, ...) MV_PRINTF(4, 5);

static int
cfg_fail(struct cfg_ctx *c, const json_t *obj, const char *key,
         const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (c->failed)
		return -1;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	c->failed = 1;
	return mv_yaml_value_err(c->err, MV_EXIT_FAIL, c->y, obj, key, "%s", msg);
}

static void key_fail(struct cfg_ctx *c, const json_t *obj, const char *key,
                     const char *fmt, ...) MV_PRINTF(4, 5);

static void
key_fail(struct cfg_ctx *c, const json_t *obj, const char *key,
         const char *fmt, ...)
{
	struct mv_err one;
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	mv_err_clear(&one);
	mv_yaml_key_err(&one, MV_EXIT_FAIL, c->y, obj, key, "%s", msg);
	if (c->failed++ == 0)
		*c->err = one;
	else
		mv_err_append(c->err, one.msg);
}

/* Every key of the mapping `obj` must be a row of the key table whose
 * feature has landed (core/config_keys.h): `prefix` is its path there
 * ("vm", "clusters[]", "" for the top level), `where` its name in messages
 * ("clusters[1]"). */
static int
check_keys(struct cfg_ctx *c, const json_t *obj, const char *where,
           const char *prefix)
{
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)obj, k, v) {
		const struct mv_config_key *row;
		char path[160];
		snprintf(path, sizeof(path), "%s%s%s", prefix, prefix[0] ? "." : "",
		         k);
		row = mv_config_key_find(path);
		if (row == NULL)
			key_fail(c, obj, k, "%s%s%s: unknown key", where,
			         where[0] ? "." : "", k);
		else if (row->issue != 0)
			key_fail(c, obj, k, "%s%s%s: not supported yet: %s (issue %d)",
			         where, where[0] ? "." : "", k, row->feature, row->issue);
	}
	return c->failed ? -1 : 0;
}

/* get_str's default for `path`: required while its feature has landed
 * (a key whose feature has not is never required, and never present:
 * check_keys refused it), else `dflt`. */
static char *
get_str(struct cfg_ctx *c, const json_t *obj, const char *key,
        const char *where, const char *dflt)
{
	json_t *v = json_object_get(obj, key);

	if (v == NULL) {
		if (dflt == MV_CFG_REQUIRED) {
			cfg_fail(c, obj, NULL, "%s.%s: required", where, key);
			return NULL;
		}
		return dflt ? mv_xstrdup(dflt) : NULL;
	}
	if (!json_is_string(v) || json_string_length(v) == 0) {
		cfg_fail(c, obj, key, "%s.%s: must be a non-empty string, got %s",
		         where, key, json_is_string(v) ? "\"\"" : mv_json_type_name(v));
		return NULL;
	}
	return mv_xstrdup(json_string_value(v));
}

static int
get_int(struct cfg_ctx *c, const json_t *obj, const char *key,
        const char *where, int dflt, int lo, int hi)
{
	json_t *v = json_object_get(obj, key);

	if (v == NULL)
		return dflt;
	if (!json_is_integer(v)) {
		cfg_fail(c, obj, key, "%s.%s: must be an integer %d..%d, got %s",
		         where, key, lo, hi, mv_json_type_name(v));
		return dflt;
	}
	if (json_integer_value(v) < lo || json_integer_value(v) > hi) {
		cfg_fail(c, obj, key,
		         "%s.%s: must be an integer %d..%d, got %" JSON_INTEGER_FORMAT,
		         where, key, lo, hi, json_integer_value(v));
		return dflt;
	}
	return (int)json_integer_value(v);
}

int
mv_config_duration(const char *s, long *secs)
{
	return mv_duration_parse(s, MV_CONFIG_TOKEN_MIN_S, MV_CONFIG_TOKEN_MAX_S,
	                         secs);
}

int
mv_duration_parse(const char *s, long lo, long hi, long *secs)
{
	long total = 0;
	bool any = false;

	if (s == NULL || *s == '\0')
		return -1;
	while (*s != '\0') {
		long n = 0, unit;
		const char *d = s;
		while (*s >= '0' && *s <= '9' && n <= hi)
			n = n * 10 + (*s++ - '0');
		if (s == d || n > hi)
			return -1;
		switch (*s) {
		case 'h': unit = 3600; s++; break;
		case 'm': unit = 60; s++; break;
		case 's': unit = 1; s++; break;
		case '\0': unit = any ? -1 : 1; break; /* plain seconds only alone */
		default: return -1;
		}
		if (unit < 0)
			return -1;
		total += n * unit;
		any = true;
		if (total > hi)
			return -1;
	}
	if (total < lo)
		return -1;
	*secs = total;
	return 0;
}

/* The index of a configured cluster, or -1. */
static long
cluster_index(const struct mv_config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->n_clusters; i++)
		if (!strcmp(cfg->clusters[i].name, name))
			return (long)i;
	return -1;
}

/* GCE/GKE resource names: RFC 1035 label, lower case. */
static bool
is_rfc1035(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n == 0 || n > max || !islower((unsigned char)s[0]) || s[n - 1] == '-')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!(islower((unsigned char)s[i]) || isdigit((unsigned char)s[i]) ||
		      s[i] == '-'))
			return false;
	return true;
}

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

static bool
is_zone(const char *s)
{
	/* region-location + digit, '-', zone letter: us-west1-b */
	size_t n = strlen(s);
	int dashes = 0;

	if (n < 5 || n > 63 || !islower((unsigned char)s[n - 1]) || s[n - 2] != '-')
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '-')
			dashes++;
		else if (!islower((unsigned char)s[i]) && !isdigit((unsigned char)s[i]))
			return false;
	}
	return dashes >= 2 && isdigit((unsigned char)s[n - 3]);
}

static bool
is_url(const char *s)
{
	return strncmp(s, "http://", 7) == 0 || strncmp(s, "https://", 8) == 0;
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

static void
endpoints_free(struct mv_endpoints *e)
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
	endpoints_free(e);
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

static void
parse_endpoints(struct cfg_ctx *c, const json_t *root, struct mv_config *cfg)
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
		if (check_keys(c, ep, "endpoints", "endpoints") != 0)
			return;
		json_object_foreach(ep, k, v) {
			if (!json_is_string(v) || !is_url(json_string_value(v))) {
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
		if (!is_url(env)) {
			c->failed = 1;
			mv_err_set(c->err, MV_EXIT_FAIL, "MESHVM_GOOGLE_ENDPOINT: \"%s\" "
			           "is not an http(s) URL", env);
			return;
		}
		endpoints_from_base(e, env);
	}
}

static void
parse_clusters(struct cfg_ctx *c, const json_t *root, struct mv_config *cfg)
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
		if (check_keys(c, v, where, "clusters[]") != 0)
			return;
		k->name = get_str(c, v, "name", where, MV_CFG_REQUIRED);
		k->zone = get_str(c, v, "zone", where, MV_CFG_REQUIRED);
		k->machine_type = get_str(c, v, "machineType", where, "n1-standard-4");
		k->network = get_str(c, v, "network", where, "default");
		k->nodes = get_int(c, v, "nodes", where, 4, 1, 1000);
		if (c->failed)
			return;
		if (!is_rfc1035(k->name, 40)) {
			cfg_fail(c, v, "name", "%s.name: \"%s\" is not a valid cluster "
			         "name (lower case, digits, '-', at most 40)", where,
			         k->name);
			return;
		}
		if (!is_zone(k->zone)) {
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

static void
parse_vm(struct cfg_ctx *c, const json_t *root, struct mv_config *cfg)
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
	if (check_keys(c, vm, "vm", "vm") != 0)
		return;
	cfg->vm.name = get_str(c, vm, "name", "vm", MV_CFG_REQUIRED);
	cfg->vm.zone = get_str(c, vm, "zone", "vm", MV_CONFIG_DEFAULT_VM_ZONE);
	cfg->vm.machine_type = get_str(c, vm, "machineType", "vm", "n1-standard-2");
	cfg->vm.image = get_str(c, vm, "image", "vm", MV_CONFIG_DEFAULT_IMAGE);
	cfg->vm.network = get_str(c, vm, "network", "vm", "default");
	cfg->vm.count = get_int(c, vm, "count", "vm", 1, 1, 1000);
	cfg->vm.boot_agent = get_str(c, vm, "boot_agent", "vm", "auto");
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
	cfg->vm.cluster = get_str(c, vm, "cluster", "vm",
	                          cfg->n_clusters ? cfg->clusters[0].name : NULL);
	if (c->failed)
		return;
	if (cluster_index(cfg, cfg->vm.cluster) < 0) {
		cfg_fail(c, vm, "cluster", "vm.cluster: \"%s\" is not one of the "
		         "clusters", cfg->vm.cluster);
		return;
	}
	cfg->vm.bundle_bucket = get_str(c, vm, "bundle_bucket", "vm", NULL);
	if (cfg->vm.bundle_bucket != NULL &&
	    !is_bucket_name(cfg->vm.bundle_bucket)) {
		cfg_fail(c, vm, "bundle_bucket", "vm.bundle_bucket: \"%s\" is not a "
		         "Cloud Storage bucket name (3-63 of a-z, 0-9, '-', '_', "
		         "'.', starting and ending with a letter or digit, no "
		         "\"google\")", cfg->vm.bundle_bucket);
		return;
	}
	cfg->vm.storage_endpoint = get_str(c, vm, "storage_endpoint", "vm",
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
	if (!is_rfc1035(cfg->vm.name, 63)) {
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
	if (cfg->vm.zone != NULL && !is_zone(cfg->vm.zone)) {
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
		if (!json_is_string(t) || !is_rfc1035(json_string_value(t), 63)) {
			mv_yaml_item_err(c->err, MV_EXIT_FAIL, c->y, tags, i,
			                 "vm.tags[%zu]: not a valid network tag", i);
			c->failed = 1;
			return;
		}
		cfg->vm.tags[cfg->vm.n_tags++] = mv_xstrdup(json_string_value(t));
	}
}

static void
parse_service(struct cfg_ctx *c, const json_t *root, struct mv_config *cfg)
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
	if (check_keys(c, s, "service", "service") != 0)
		return;
	cfg->service.name = get_str(c, s, "name", "service",
	                            "productcatalogservice");
	cfg->service.namespace_ = get_str(c, s, "namespace", "service", "default");
	cfg->service.protocol = get_str(c, s, "protocol", "service", "grpc");
	if (json_object_get(s, "image"))
		cfg->service.image = get_str(c, s, "image", "service",
		                             MV_CFG_REQUIRED);
	if (json_object_get(s, "sidecar"))
		cfg->service.sidecar = get_str(c, s, "sidecar", "service",
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
	cfg->service.port = get_int(c, s, "port", "service", 0, 1, 65535);
	if (c->failed)
		return;
	if (cfg->service.name != NULL && !is_rfc1035(cfg->service.name, 63))
		cfg_fail(c, s, "name", "service.name: \"%s\" is not a DNS-1035 label",
		         cfg->service.name);
	else if (strcmp(cfg->service.protocol, "grpc") &&
	         strcmp(cfg->service.protocol, "http") &&
	         strcmp(cfg->service.protocol, "http2") &&
	         strcmp(cfg->service.protocol, "tcp"))
		cfg_fail(c, s, "protocol", "service.protocol: \"%s\" is not one of "
		         "grpc, http, http2, tcp", cfg->service.protocol);
}

static void
parse_opaque(struct cfg_ctx *c, const json_t *root, const char *key,
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
	if (check_keys(c, v, key, key) != 0)
		return;
	*slot = json_incref(v);
}

/* mesh: and app: (issue 12), after parse_opaque checked their keys. */
static void
parse_mesh_app(struct cfg_ctx *c, struct mv_config *cfg)
{
	json_t *m = cfg->mesh, *a = cfg->app, *nets, *v;
	const char *k;

	cfg->mesh_.istio_version = get_str(c, m, "istio_version", "mesh", "1.26.2");
	cfg->mesh_.id = get_str(c, m, "id", "mesh", "mesh1");
	cfg->mesh_.trust_domain = get_str(c, m, "trust_domain", "mesh",
	                                  "cluster.local");
	cfg->mesh_.istio_manifests = get_str(c, m, "istio_manifests", "mesh", NULL);
	cfg->mesh_.ca_dir = get_str(c, m, "ca_dir", "mesh", NULL);
	cfg->mesh_.reader_token = get_str(c, m, "reader_token", "mesh", NULL);
	cfg->app_.manifests = get_str(c, a, "manifests", "app", NULL);
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
				key_fail(c, v, k, "app.placement.%s: not one of the clusters",
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
			key_fail(c, nets, k, "mesh.networks.%s: not a cluster (nor VM)", k);
			return;
		}
		if (!json_is_string(v) || !is_rfc1035(json_string_value(v), 63)) {
			key_fail(c, nets, k, "mesh.networks.%s: must be a network name "
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
static void
parse_migration(struct cfg_ctx *c, struct mv_config *cfg)
{
	json_t *m = cfg->migration, *v = json_object_get(m, "min_success_rate");
	json_t *p = json_object_get(m, "prometheus_url"), *u;
	const char *k;

	parse_steps(c, m, cfg);
	cfg->migration_.interval = get_int(c, m, "interval", "migration", 60, 1,
	                                   86400);
	cfg->migration_.max_p99_ms = get_int(c, m, "max_p99_ms", "migration",
	                                     1000, 1, 3600000);
	cfg->migration_.min_success_rate = 0.99;
	if (v != NULL && (!json_is_number(v) || json_number_value(v) < 0 ||
	                  json_number_value(v) > 1))
		cfg_fail(c, m, "min_success_rate", "migration.min_success_rate: "
		         "must be a number 0..1 like 0.99");
	else if (v != NULL)
		cfg->migration_.min_success_rate = json_number_value(v);
	cfg->migration_.cluster = get_str(c, m, "cluster", "migration",
	                                  cfg->clusters[cfg->n_clusters - 1].name);
	if (c->failed)
		return;
	if (cluster_index(cfg, cfg->migration_.cluster) < 0) {
		cfg_fail(c, m, "cluster", "migration.cluster: \"%s\" is not one of "
		         "the clusters", cfg->migration_.cluster);
		return;
	}
	if (p == NULL)
		return;
	if (json_is_string(p)) {
		if (!is_url(json_string_value(p))) {
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
		if (cluster_index(cfg, k) < 0) {
			key_fail(c, p, k, "migration.prometheus_url.%s: not one of the "
			         "clusters", k);
			return;
		}
		if (!json_is_string(u) || !is_url(json_string_value(u))) {
			cfg_fail(c, p, k, "migration.prometheus_url.%s: must be an "
			         "http(s) URL", k);
			return;
		}
	}
	cfg->migration_.prometheus = json_incref(p);
}

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
	endpoints_free(&cfg->endpoints);
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
	check_keys(&c, root, "", "");
	if (!c.failed) {
		cfg->project = get_str(&c, root, "project", "", MV_CFG_REQUIRED);
		if (cfg->project != NULL && !c.failed &&
		    !strcmp(cfg->project, PROJECT_PLACEHOLDER))
			cfg_fail(&c, root, "project", "project: still the placeholder "
			         "\"%s\"; set your GCP project id", PROJECT_PLACEHOLDER);
		else if (cfg->project != NULL && !c.failed &&
		         (strlen(cfg->project) < 6 || strlen(cfg->project) > 30 ||
		          !is_rfc1035(cfg->project, 30)))
			cfg_fail(&c, root, "project", "project: \"%s\" is not a GCP "
			         "project id (6-30 lower-case letters, digits, '-')",
			         cfg->project);
	}
	if (!c.failed)
		parse_endpoints(&c, root, cfg);
	if (!c.failed)
		parse_clusters(&c, root, cfg);
	if (!c.failed)
		parse_vm(&c, root, cfg);
	if (!c.failed)
		parse_service(&c, root, cfg);
	if (!c.failed)
		parse_opaque(&c, root, "mesh", &cfg->mesh);
	if (!c.failed)
		parse_opaque(&c, root, "app", &cfg->app);
	if (!c.failed)
		parse_mesh_app(&c, cfg);
	if (!c.failed && cfg->mesh_.istio_manifests != NULL)
		example_guard(&c, cfg, cfg->mesh, "istio_manifests",
		              cfg->mesh_.istio_manifests, "mesh.istio_manifests");
	if (!c.failed && cfg->app_.manifests != NULL)
		example_guard(&c, cfg, cfg->app, "manifests", cfg->app_.manifests,
		              "app.manifests");
	if (!c.failed)
		parse_opaque(&c, root, "migration", &cfg->migration);
	if (!c.failed)
		parse_migration(&c, cfg);
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
