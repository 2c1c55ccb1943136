/* bake/spec.c - load and validate bundle.yaml and the files it names.
 *
 * Everything is checked before bake writes a byte; every problem is
 * reported (one line each), not only the first, so a user fixes a spec in
 * one round trip.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <arpa/inet.h>

#include "bake/bundle_private.h"
#include "core/util.h"
#include "core/yaml.h"

#define IDENTITY_FILE_MAX (1u << 20)

static const char *const identity_files[] = {"cluster.env", "hosts",
                                             "mesh.yaml", "root-cert.pem"};
static const char *const required_env[] = {
	"ISTIO_SERVICE",        "ISTIO_NAMESPACE",   "ISTIO_META_MESH_ID",
	"ISTIO_META_CLUSTER_ID", "ISTIO_META_NETWORK", "TRUST_DOMAIN",
	"SERVICE_ACCOUNT"};

/* Collects every problem; the first keeps its position in err. */
struct spec_ctx {
	struct mv_err *err;
	int count;
	const struct mv_yaml *y;
};

static void
ctx_add(struct spec_ctx *c, const struct mv_err *one)
{
	if (c->count == 0) {
		*c->err = *one;
		c->err->exit_code = MV_EXIT_FAIL;
	} else {
		mv_err_append(c->err, one->msg);
	}
	c->count++;
}

static void ctx_file_err(struct spec_ctx *c, const char *file, int line,
                         const char *fmt, ...) MV_PRINTF(4, 5);

static void
ctx_file_err(struct spec_ctx *c, const char *file, int line, const char *fmt,
             ...)
{
	struct mv_err one;
	char msg[1024];
	va_list ap;

	mv_err_clear(&one);
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	mv_err_at(&one, MV_EXIT_FAIL, file, line, 0, "%s", msg);
	ctx_add(c, &one);
}

/* Error at the value of obj[key] in the spec (or at obj). */
static void ctx_value_err(struct spec_ctx *c, const json_t *obj,
                          const char *key, const char *fmt, ...)
	MV_PRINTF(4, 5);

static void
ctx_value_err(struct spec_ctx *c, const json_t *obj, const char *key,
              const char *fmt, ...)
{
	struct mv_err one;
	char msg[1024];
	va_list ap;

	mv_err_clear(&one);
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	mv_yaml_value_err(&one, MV_EXIT_FAIL, c->y, obj, key, "%s", msg);
	ctx_add(c, &one);
}

static void
ctx_unknown_keys(struct spec_ctx *c, const json_t *obj, const char *where,
                 const char *const *known, size_t n_known)
{
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)obj, k, v) {
		bool ok = false;
		for (size_t i = 0; i < n_known; i++)
			if (!strcmp(k, known[i]))
				ok = true;
		if (!ok) {
			struct mv_err one;
			mv_err_clear(&one);
			mv_yaml_key_err(&one, MV_EXIT_FAIL, c->y, obj, k,
			                "%s%s%s: unknown key", where,
			                where[0] ? "." : "", k);
			ctx_add(c, &one);
		}
	}
}

/* Optional string field; reports wrong types. */
static const char *
get_string(struct spec_ctx *c, const json_t *obj, const char *key,
           const char *where, bool required)
{
	json_t *v = json_object_get(obj, key);

	if (v == NULL) {
		if (required)
			ctx_value_err(c, obj, NULL, "%s.%s: required", where, key);
		return NULL;
	}
	if (!json_is_string(v) || json_string_length(v) == 0) {
		ctx_value_err(c, obj, key, "%s%s%s: must be a non-empty string, "
		              "got %s", where, where[0] ? "." : "", key,
		              json_is_string(v) ? "an empty string" : mv_json_type_name(v));
		return NULL;
	}
	return json_string_value(v);
}

static int
check_regular_file(struct spec_ctx *c, const json_t *obj, const char *key,
                   const char *field, const char *path)
{
	struct stat st;

	if (stat(path, &st) != 0) {
		ctx_value_err(c, obj, key, "%s: %s: %s", field, path,
		              strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		ctx_value_err(c, obj, key, "%s: %s: not a regular file", field,
		              path);
		return -1;
	}
	return 0;
}

/*--- identity files ------------------------------------------------------*/

static void
check_cluster_env(struct spec_ctx *c, const char *path, const char *buf)
{
	bool seen[sizeof(required_env) / sizeof(required_env[0])] = {false};
	int line = 0;
	const char *p = buf;

	while (*p) {
		const char *eol = strchr(p, '\n');
		size_t n = eol ? (size_t)(eol - p) : strlen(p);
		char l[4096];
		line++;
		snprintf(l, sizeof(l), "%.*s", (int)(n < sizeof(l) ? n : sizeof(l) - 1), p);
		p = eol ? eol + 1 : p + n;
		if (l[0] == '\0' || l[0] == '#')
			continue;
		char *eq = strchr(l, '=');
		bool ok = eq != NULL && eq != l;
		for (char *k = l; ok && k < eq; k++)
			if (!(isupper((unsigned char)*k) || isdigit((unsigned char)*k) ||
			      *k == '_') || (k == l && isdigit((unsigned char)*k)))
				ok = false;
		if (ok) {
			size_t vl = strlen(eq + 1);
			ok = vl >= 2 && eq[1] == '\'' && eq[vl] == '\'' &&
			     memchr(eq + 2, '\'', vl - 2) == NULL;
		}
		if (!ok) {
			ctx_file_err(c, path, line,
			             "expected KEY='value' (upper-case key, value in "
			             "single quotes)");
			continue;
		}
		*eq = '\0';
		for (size_t i = 0; i < sizeof(seen); i++)
			if (!strcmp(l, required_env[i]))
				seen[i] = true;
	}
	for (size_t i = 0; i < sizeof(seen); i++)
		if (!seen[i])
			ctx_file_err(c, path, 0, "missing required key %s",
			             required_env[i]);
}

static void
check_hosts(struct spec_ctx *c, const char *path, const char *buf)
{
	int line = 0, entries = 0;
	const char *p = buf;

	while (*p) {
		const char *eol = strchr(p, '\n');
		size_t n = eol ? (size_t)(eol - p) : strlen(p);
		char l[1024], ip[64], name[512], extra[512];
		line++;
		snprintf(l, sizeof(l), "%.*s", (int)(n < sizeof(l) ? n : sizeof(l) - 1), p);
		p = eol ? eol + 1 : p + n;
		char *hash = strchr(l, '#');
		if (hash != NULL)
			*hash = '\0';
		int got = sscanf(l, "%63s %511s %511s", ip, name, extra);
		if (got <= 0)
			continue;
		unsigned char addr[16];
		if (got < 2 || (inet_pton(AF_INET, ip, addr) != 1 &&
		                inet_pton(AF_INET6, ip, addr) != 1)) {
			ctx_file_err(c, path, line, "expected 'IP name' (an IPv4 or "
			             "IPv6 address, then a host name)");
			continue;
		}
		for (const char *h = name; *h; h++)
			if (!(isalnum((unsigned char)*h) || *h == '-' || *h == '.')) {
				ctx_file_err(c, path, line, "invalid host name \"%s\"",
				             name);
				break;
			}
		entries++;
	}
	if (entries == 0 && c->count == 0)
		ctx_file_err(c, path, 0, "no 'IP name' entries");
}

static void
check_mesh_yaml(struct spec_ctx *c, const char *path, const char *buf,
                size_t len)
{
	struct mv_yaml *y = NULL;
	struct mv_err one;
	json_t *doc, *dc;

	mv_err_clear(&one);
	if (mv_yaml_load_buf(path, buf, len, &y, &one) != 0) {
		ctx_add(c, &one);
		return;
	}
	doc = mv_yaml_doc(y, 0);
	if (mv_yaml_count(y) != 1 || !json_is_object(doc)) {
		ctx_file_err(c, path, 0, "must be one YAML mapping");
	} else if ((dc = json_object_get(doc, "defaultConfig")) == NULL) {
		ctx_file_err(c, path, 0, "missing defaultConfig");
	} else if (!json_is_object(dc)) {
		mv_yaml_value_err(&one, MV_EXIT_FAIL, y, doc, "defaultConfig",
		                  "defaultConfig must be a mapping");
		ctx_add(c, &one);
	}
	mv_yaml_free(y);
}

static void
check_root_cert(struct spec_ctx *c, const char *path, const char *buf,
                size_t len)
{
	BIO *bio = BIO_new_mem_buf(buf, (int)len);
	int n = 0;

	if (bio == NULL) {
		ctx_file_err(c, path, 0, "out of memory");
		return;
	}
	for (;;) {
		X509 *x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
		if (x == NULL)
			break;
		n++;
		if (X509_check_ca(x) != 1)
			ctx_file_err(c, path, 0,
			             "certificate %d is not a CA certificate "
			             "(basicConstraints CA:TRUE missing)", n);
		X509_free(x);
	}
	BIO_free(bio);
	if (n == 0)
		ctx_file_err(c, path, 0, "not a PEM X.509 certificate");
}

static void
check_identity(struct spec_ctx *c, const json_t *root, const char *dir)
{
	struct stat st;
	DIR *d;
	struct dirent *de;

	if (stat(dir, &st) != 0) {
		ctx_value_err(c, root, "identity", "identity: %s: %s", dir,
		              strerror(errno));
		return;
	}
	if (!S_ISDIR(st.st_mode)) {
		ctx_value_err(c, root, "identity", "identity: %s: not a directory",
		              dir);
		return;
	}
	d = opendir(dir);
	if (d == NULL) {
		ctx_value_err(c, root, "identity", "identity: %s: %s", dir,
		              strerror(errno));
		return;
	}
	/* Sorted scan so messages come in a stable order. */
	char **names = NULL;
	size_t n_names = 0;
	while ((de = readdir(d)) != NULL) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		char **nn = realloc(names, (n_names + 1) * sizeof(*nn));
		if (nn == NULL)
			break;
		names = nn;
		names[n_names] = strdup(de->d_name);
		if (names[n_names] != NULL)
			n_names++;
	}
	closedir(d);
	qsort(names, n_names, sizeof(*names),
	      (int (*)(const void *, const void *))strcmp);
	for (size_t i = 0; i < n_names; i++) {
		char *path = mv_path_join(dir, names[i]);
		size_t len = 0;
		char *buf;
		struct mv_err one;
		bool known = false;
		int line;

		for (size_t k = 0; k < 4; k++)
			if (!strcmp(names[i], identity_files[k]))
				known = true;
		mv_err_clear(&one);
		if (path == NULL || lstat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
			ctx_file_err(c, path ? path : names[i], 0,
			             "not a regular file (identity holds only "
			             "cluster.env, hosts, mesh.yaml, root-cert.pem)");
			free(path);
			continue;
		}
		buf = mv_read_file(path, IDENTITY_FILE_MAX, &len, &one);
		if (buf == NULL) {
			ctx_add(c, &one);
			free(path);
			continue;
		}
		const char *nul = memchr(buf, '\0', len);
		bool secret = true;
		if ((line = bundle_find_private_key(buf, len)) != 0)
			ctx_file_err(c, path, line,
			             "contains a private key: keys are never baked "
			             "into a bundle");
		else if ((line = bundle_find_service_account(buf, len)) != 0)
			ctx_file_err(c, path, line,
			             "contains a service-account key: credentials "
			             "are never baked into a bundle");
		else if ((line = bundle_find_jwt(buf, len)) != 0)
			ctx_file_err(c, path, line,
			             "contains a token (JWT): tokens are delivered "
			             "at launch, not baked");
		else
			secret = false;
		/* Identity files are text; a NUL byte hides what follows from
		 * every string-based reader, so it is refused outright. */
		if (nul != NULL)
			ctx_file_err(c, path, bundle_line_at(buf, (size_t)(nul - buf)),
			             "holds a NUL byte (offset %zu): identity files "
			             "are text", (size_t)(nul - buf));
		if (secret || nul != NULL) {
			free(buf);
			free(path);
			continue;
		}
		if (!known)
			ctx_file_err(c, path, 0,
			             "unexpected file (identity holds only "
			             "cluster.env, hosts, mesh.yaml, root-cert.pem)");
		else if (!strcmp(names[i], "cluster.env"))
			check_cluster_env(c, path, buf);
		else if (!strcmp(names[i], "hosts"))
			check_hosts(c, path, buf);
		else if (!strcmp(names[i], "mesh.yaml"))
			check_mesh_yaml(c, path, buf, len);
		else
			check_root_cert(c, path, buf, len);
		free(buf);
		free(path);
	}
	for (size_t k = 0; k < 4; k++) {
		bool found = false;
		for (size_t i = 0; i < n_names; i++)
			if (!strcmp(names[i], identity_files[k]))
				found = true;
		if (!found) {
			char *path = mv_path_join(dir, identity_files[k]);
			ctx_file_err(c, path ? path : identity_files[k], 0,
			             "missing (identity must hold cluster.env, hosts, "
			             "mesh.yaml, root-cert.pem)");
			free(path);
		}
	}
	for (size_t i = 0; i < n_names; i++)
		free(names[i]);
	free(names);
}

/*--- units ---------------------------------------------------------------*/

static bool
is_unit_name(const char *base)
{
	size_t n = strlen(base);

	if (n <= 8 || n > 255 || strcmp(base + n - 8, ".service") != 0)
		return false;
	for (size_t i = 0; i < n - 8; i++)
		if (!(isalnum((unsigned char)base[i]) || strchr(":_.-", base[i])))
			return false;
	return true;
}

static void
check_units(struct spec_ctx *c, const json_t *root, struct bundle_spec *s,
            const char *base_dir)
{
	json_t *units = json_object_get(root, "units");
	size_t i;
	json_t *v;

	if (units == NULL)
		return; /* required unless the runtime is systemd: bake checks */
	if (!json_is_array(units) || json_array_size(units) == 0) {
		ctx_value_err(c, root, "units", "units: must be a non-empty list "
		              "of .service files, got %s",
		              json_is_array(units) ? "an empty list"
		                                   : mv_json_type_name(units));
		return;
	}
	s->units = calloc(json_array_size(units), sizeof(*s->units));
	if (s->units == NULL)
		return;
	json_array_foreach(units, i, v) {
		struct mv_err one;
		struct stat st;
		const char *rel, *base;
		char *path;

		mv_err_clear(&one);
		if (!json_is_string(v) || json_string_length(v) == 0) {
			mv_yaml_item_err(&one, MV_EXIT_FAIL, c->y, units, i,
			                 "units[%zu]: must be a path, got %s", i,
			                 mv_json_type_name(v));
			ctx_add(c, &one);
			continue;
		}
		rel = json_string_value(v);
		base = strrchr(rel, '/') ? strrchr(rel, '/') + 1 : rel;
		if (!is_unit_name(base)) {
			mv_yaml_item_err(&one, MV_EXIT_FAIL, c->y, units, i,
			                 "units[%zu]: \"%s\" is not a systemd .service "
			                 "unit name", i, base);
			ctx_add(c, &one);
			continue;
		}
		if (!strcmp(base, "istio.service") ||
		    !strcmp(base, "meshvm-join.service")) {
			mv_yaml_item_err(&one, MV_EXIT_FAIL, c->y, units, i,
			                 "units[%zu]: %s is reserved (the sidecar "
			                 "package or cloud-init provides it)", i, base);
			ctx_add(c, &one);
			continue;
		}
		for (size_t k = 0; k < s->n_units; k++) {
			const char *ob = strrchr(s->units[k], '/');
			ob = ob ? ob + 1 : s->units[k];
			if (!strcmp(ob, base)) {
				mv_yaml_item_err(&one, MV_EXIT_FAIL, c->y, units, i,
				                 "units[%zu]: duplicate unit %s", i, base);
				ctx_add(c, &one);
				base = NULL;
				break;
			}
		}
		if (base == NULL)
			continue;
		path = mv_path_join(base_dir, rel);
		if (path == NULL)
			continue;
		int st_rc = stat(path, &st), st_errno = errno;
		if (st_rc != 0 || !S_ISREG(st.st_mode)) {
			mv_yaml_item_err(&one, MV_EXIT_FAIL, c->y, units, i,
			                 "units[%zu]: %s: %s", i, path,
			                 st_rc != 0 ? strerror(st_errno)
			                            : "not a regular file");
			ctx_add(c, &one);
			free(path);
			continue;
		}
		size_t len;
		char *buf = mv_read_file(path, IDENTITY_FILE_MAX, &len, &one);
		if (buf == NULL) {
			ctx_add(c, &one);
			free(path);
			continue;
		}
		if (strstr(buf, "[Service]") == NULL)
			ctx_file_err(c, path, 0, "no [Service] section: not a "
			             "systemd service unit");
		free(buf);
		s->units[s->n_units++] = path;
	}
}

/*--- spec ----------------------------------------------------------------*/

void
bundle_spec_free(struct bundle_spec *s)
{
	if (s == NULL)
		return;
	free(s->path);
	free(s->service.name);
	free(s->service.namespace_);
	free(s->service.protocol);
	free(s->sidecar);
	free(s->sidecar_version);
	free(s->image);
	free(s->image_format);
	free(s->runtime);
	free(s->identity_dir);
	for (size_t i = 0; i < s->n_units; i++)
		free(s->units[i]);
	free(s->units);
	free(s);
}

static void
check_service(struct spec_ctx *c, const json_t *root, struct bundle_spec *s)
{
	static const char *const keys[] = {"name", "namespace", "port",
	                                   "protocol"};
	json_t *svc = json_object_get(root, "service");
	const char *v;
	json_t *port;

	if (svc == NULL) {
		ctx_value_err(c, root, NULL, "service: required");
		return;
	}
	if (!json_is_object(svc)) {
		ctx_value_err(c, root, "service", "service: must be a mapping, "
		              "got %s", mv_json_type_name(svc));
		return;
	}
	ctx_unknown_keys(c, svc, "service", keys, 4);
	if ((v = get_string(c, svc, "name", "service", true)) != NULL) {
		if (!bundle_is_dns_label(v))
			ctx_value_err(c, svc, "name", "service.name: \"%s\" is not a "
			              "DNS-1123 label (a-z, 0-9, '-', at most 63)", v);
		else
			s->service.name = strdup(v);
	}
	if ((v = get_string(c, svc, "namespace", "service", true)) != NULL) {
		if (!bundle_is_dns_label(v))
			ctx_value_err(c, svc, "namespace", "service.namespace: \"%s\" "
			              "is not a DNS-1123 label", v);
		else
			s->service.namespace_ = strdup(v);
	}
	port = json_object_get(svc, "port");
	if (port == NULL)
		ctx_value_err(c, svc, NULL, "service.port: required");
	else if (!json_is_integer(port))
		ctx_value_err(c, svc, "port", "service.port: must be an integer "
		              "1..65535, got %s", mv_json_type_name(port));
	else if (!BUNDLE_PORT_OK(json_integer_value(port)))
		ctx_value_err(c, svc, "port", "service.port: must be an integer "
		              "1..65535, got %" JSON_INTEGER_FORMAT,
		              json_integer_value(port));
	else
		s->service.port = (int)json_integer_value(port);
	if ((v = get_string(c, svc, "protocol", "service", true)) != NULL) {
		if (!bundle_protocol_ok(v))
			ctx_value_err(c, svc, "protocol", "service.protocol: \"%s\" "
			              "is not one of grpc, http, http2, tcp", v);
		else
			s->service.protocol = strdup(v);
	}
}

int
bundle_spec_parse(const char *name, const char *buf, size_t len,
                  const char *base_dir, struct bundle_spec **out,
                  struct mv_err *err)
{
	static const char *const keys[] = {"service", "sidecar", "image",
	                                   "identity", "units", "runtime"};
	struct spec_ctx c = {err, 0, NULL};
	struct mv_yaml *y = NULL;
	struct bundle_spec *s;
	const char *v;
	json_t *root;

	*out = NULL;
	if (mv_yaml_load_buf(name, buf, len, &y, err) != 0)
		return -1;
	c.y = y;
	root = mv_yaml_doc(y, 0);
	if (mv_yaml_count(y) != 1 || !json_is_object(root)) {
		mv_yaml_free(y);
		return mv_err_at(err, MV_EXIT_FAIL, name, 0, 0,
		                 "a bundle spec is one YAML mapping with service, "
		                 "sidecar, image, identity, units");
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL || (s->path = strdup(name)) == NULL) {
		free(s);
		mv_yaml_free(y);
		return mv_err_set(err, MV_EXIT_FAIL, "out of memory");
	}
	ctx_unknown_keys(&c, root, "", keys, 6);
	check_service(&c, root, s);

	if ((v = get_string(&c, root, "sidecar", "", false)) != NULL) {
		s->sidecar = mv_path_join(base_dir, v);
		if (check_regular_file(&c, root, "sidecar", "sidecar",
		                       s->sidecar) == 0) {
			struct mv_err one;
			mv_err_clear(&one);
			if (bundle_pkg_inspect(s->sidecar, &s->sidecar_format,
			                       &s->sidecar_version, &one) != 0)
				ctx_add(&c, &one);
		}
	} else if (json_object_get(root, "sidecar") == NULL) {
		ctx_value_err(&c, root, NULL, "sidecar: required (.deb or .rpm)");
	}
	if ((v = get_string(&c, root, "image", "", false)) != NULL) {
		s->image = mv_path_join(base_dir, v);
		if (check_regular_file(&c, root, "image", "image", s->image) == 0) {
			struct mv_err one;
			mv_err_clear(&one);
			const char *fmt = NULL;
			if (bundle_image_inspect(s->image, &fmt, &one) != 0)
				ctx_add(&c, &one);
			else
				s->image_format = strdup(fmt);
		}
	} else if (json_object_get(root, "image") == NULL) {
		ctx_value_err(&c, root, NULL, "image: required (docker-save or "
		              "OCI archive)");
	}
	if ((v = get_string(&c, root, "identity", "", false)) != NULL) {
		s->identity_dir = mv_path_join(base_dir, v);
		size_t n = strlen(s->identity_dir);
		while (n > 1 && s->identity_dir[n - 1] == '/')
			s->identity_dir[--n] = '\0';
		check_identity(&c, root, s->identity_dir);
	} else if (json_object_get(root, "identity") == NULL) {
		ctx_value_err(&c, root, NULL, "identity: required (directory with "
		              "cluster.env, hosts, mesh.yaml, root-cert.pem)");
	}
	if ((v = get_string(&c, root, "runtime", "", false)) != NULL) {
		if (bundle_runtime_check(v, NULL) != 0)
			ctx_value_err(&c, root, "runtime", "runtime: \"%s\" is not one "
			              "of systemd, docker, podman, containerd", v);
		else
			s->runtime = strdup(v);
	}
	check_units(&c, root, s, base_dir);
	mv_yaml_free(y);
	if (c.count > 0) {
		bundle_spec_free(s);
		return -1;
	}
	*out = s;
	return 0;
}

int
bundle_spec_load(const char *path, struct bundle_spec **out,
                 struct mv_err *err)
{
	size_t len = 0;
	char *buf, *dir;
	int rc;

	*out = NULL;
	buf = mv_read_file(path, 1u << 20, &len, err);
	if (buf == NULL)
		return -1;
	dir = mv_dirname(path);
	if (dir == NULL) {
		free(buf);
		return mv_err_set(err, MV_EXIT_FAIL, "out of memory");
	}
	rc = bundle_spec_parse(path, buf, len, dir, out, err);
	free(dir);
	free(buf);
	return rc;
}
