/* bake/manifest.c - MANIFEST.json: parse and validate (bake writes it in
 * bake.c from the same field list). */
#include <stdlib.h>
#include <string.h>

#include "bake/bundle_private.h"
#include "core/escape.h"

/* Manifest strings are untrusted: messages show them escaped and cut. */
#define ESC(s, buf) mv_escape((s), MV_ESCAPE_SHOW, (buf), sizeof(buf))

static int
bad(struct mv_err *err, const char *msg)
{
	return mv_err_set(err, MV_EXIT_VERIFY, "MANIFEST.json: %s", msg);
}

static bool
only_keys(const json_t *obj, const char *const *keys, size_t n,
          const char **unknown)
{
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)obj, k, v) {
		bool ok = false;
		for (size_t i = 0; i < n; i++)
			if (!strcmp(k, keys[i]))
				ok = true;
		if (!ok) {
			*unknown = k;
			return false;
		}
	}
	return true;
}

static const char *
str_field(const json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	return json_is_string(v) && json_string_length(v) > 0
	               ? json_string_value(v) : NULL;
}

static int
parse_mode(const char *s, unsigned *mode)
{
	if (s == NULL)
		return -1;
	if (!strcmp(s, "0644"))
		*mode = 0644;
	else if (!strcmp(s, "0755"))
		*mode = 0755;
	else
		return -1;
	return 0;
}

static int
cmp_file(const void *a, const void *b)
{
	return strcmp(((const struct bundle_file *)a)->path,
	              ((const struct bundle_file *)b)->path);
}

const struct bundle_file *
bundle_info_find(const struct bundle_info *info, const char *path)
{
	struct bundle_file key = {.path = (char *)path};

	if (info->n_files == 0)
		return NULL;
	return bsearch(&key, info->files, info->n_files, sizeof(key), cmp_file);
}

/* sidecar/image: {path, format, [version], size, sha256} matching a file. */
static int
check_artifact(const struct bundle_info *info, const json_t *obj,
               const char *what, bool has_version, struct mv_err *err)
{
	static const char *const keys[] = {"path", "format", "size", "sha256",
	                                   "version"};
	static const char *const ikeys[] = {"path", "format", "size", "sha256",
	                                    "runtime", "config"};
	const struct bundle_file *f;
	const char *unknown, *path, *format;
	char esc[MV_ESCAPE_BUF];
	json_t *size;

	if (!json_is_object(obj))
		return mv_err_set(err, MV_EXIT_VERIFY,
		                  "MANIFEST.json: %s: missing or not an object",
		                  what);
	if (!only_keys(obj, has_version ? keys : ikeys, has_version ? 5 : 6,
	               &unknown))
		return mv_err_set(err, MV_EXIT_VERIFY,
		                  "MANIFEST.json: %s: unknown field \"%s\"", what,
		                  ESC(unknown, esc));
	path = str_field(obj, "path");
	size = json_object_get(obj, "size");
	if (path == NULL || str_field(obj, "format") == NULL ||
	    (has_version && str_field(obj, "version") == NULL) ||
	    !json_is_integer(size) || str_field(obj, "sha256") == NULL)
		return mv_err_set(err, MV_EXIT_VERIFY,
		                  "MANIFEST.json: %s: needs path, format, size, "
		                  "sha256", what);
	if (strncmp(path, what, strlen(what)) != 0 ||
	    path[strlen(what)] != '/')
		return mv_err_set(err, MV_EXIT_VERIFY,
		                  "MANIFEST.json: %s: path \"%s\" is not under %s/",
		                  what, ESC(path, esc), what);
	format = str_field(obj, "format");
	if (has_version ? strcmp(format, "deb") && strcmp(format, "rpm")
	                : strcmp(format, "docker-archive") &&
	                          strcmp(format, "oci-archive") &&
	                          strcmp(format, "rootfs"))
		return mv_err_set(err, MV_EXIT_VERIFY,
		                  "MANIFEST.json: %s: format \"%s\" is not %s", what,
		                  ESC(format, esc),
		                  has_version ? "deb or rpm"
		                              : "docker-archive, oci-archive or "
		                                "rootfs");
	if (has_version && !bundle_word_ok(str_field(obj, "version"), 128))
		return mv_err_set(err, MV_EXIT_VERIFY,
		                  "MANIFEST.json: %s: version \"%s\" is not 1..128 "
		                  "printable characters without spaces", what,
		                  ESC(str_field(obj, "version"), esc));
	f = bundle_info_find(info, path);
	if (f == NULL)
		return mv_err_set(err, MV_EXIT_VERIFY,
		                  "MANIFEST.json: %s: %s is not in files", what,
		                  ESC(path, esc));
	if ((uint64_t)json_integer_value(size) != f->size ||
	    strcmp(f->sha256, str_field(obj, "sha256")) != 0)
		return mv_err_set(err, MV_EXIT_VERIFY,
		                  "MANIFEST.json: %s: size/sha256 differ from the "
		                  "files entry for %s", what, ESC(path, esc));
	return 0;
}

/* image.runtime (optional: bundles before it have none) agrees with the
 * format: rootfs is runtime systemd with image/rootfs.tar and its
 * image/config.json; an image archive is for a container runtime. */
static int
check_image_runtime(const struct bundle_info *info, const json_t *im,
                    struct mv_err *err)
{
	const char *rt = str_field(im, "runtime");
	const char *cfg = str_field(im, "config");
	bool rootfs = !strcmp(str_field(im, "format"), "rootfs");
	char esc[MV_ESCAPE_BUF];

	if (json_object_get(im, "runtime") != NULL &&
	    (rt == NULL || bundle_runtime_check(rt, NULL) != 0))
		return mv_err_set(err, MV_EXIT_VERIFY, "MANIFEST.json: image: "
		                  "runtime is not one of systemd, docker, podman, "
		                  "containerd");
	if (json_object_get(im, "config") != NULL && cfg == NULL)
		return mv_err_set(err, MV_EXIT_VERIFY, "MANIFEST.json: image: "
		                  "config must be a path");
	if (rootfs) {
		if ((rt != NULL && strcmp(rt, "systemd") != 0) ||
		    strcmp(str_field(im, "path"), "image/rootfs.tar") != 0 ||
		    cfg == NULL || strcmp(cfg, "image/config.json") != 0 ||
		    bundle_info_find(info, cfg) == NULL)
			return mv_err_set(err, MV_EXIT_VERIFY, "MANIFEST.json: image: "
			                  "format rootfs is runtime systemd with "
			                  "image/rootfs.tar and image/config.json in "
			                  "files");
		return 0;
	}
	if ((rt != NULL && !strcmp(rt, "systemd")) || cfg != NULL)
		return mv_err_set(err, MV_EXIT_VERIFY, "MANIFEST.json: image: "
		                  "format %s is for a container runtime (no "
		                  "config, runtime not systemd)",
		                  ESC(str_field(im, "format"), esc));
	return 0;
}

int
bundle_manifest_parse(const char *buf, size_t len, struct bundle_info *info,
                      struct mv_err *err)
{
	static const char *const top[] = {"format", "service", "sidecar",
	                                  "image", "files", "source_date_epoch"};
	static const char *const svc_keys[] = {"name", "namespace", "port",
	                                       "protocol"};
	static const char *const file_keys[] = {"path", "size", "sha256",
	                                        "mode"};
	json_error_t jerr;
	json_t *m, *svc, *files, *v, *sde;
	const char *unknown;
	char esc[MV_ESCAPE_BUF];
	json_int_t port;
	size_t i;

	m = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (m == NULL)
		return mv_err_set(err, MV_EXIT_VERIFY,
		                  "MANIFEST.json:%d:%d: invalid JSON: %s", jerr.line,
		                  jerr.column, ESC(jerr.text, esc));
	info->manifest = m;
	if (!json_is_object(m))
		return bad(err, "not a JSON object");
	if (!only_keys(m, top, 6, &unknown))
		return mv_err_set(err, MV_EXIT_VERIFY,
		                  "MANIFEST.json: unknown field \"%s\"",
		                  ESC(unknown, esc));
	if (str_field(m, "format") == NULL ||
	    strcmp(str_field(m, "format"), BUNDLE_FORMAT) != 0)
		return bad(err, "format is not \"" BUNDLE_FORMAT "\"");
	svc = json_object_get(m, "service");
	if (!json_is_object(svc) || !only_keys(svc, svc_keys, 4, &unknown) ||
	    str_field(svc, "name") == NULL ||
	    str_field(svc, "namespace") == NULL ||
	    str_field(svc, "protocol") == NULL ||
	    !json_is_integer(json_object_get(svc, "port")))
		return bad(err, "service: needs exactly name, namespace, port, "
		           "protocol");
	/* The same rules as bake's spec check: these become host names,
	 * Kubernetes names and lines of generated files on the VM. */
	info->service_name = str_field(svc, "name");
	info->service_namespace = str_field(svc, "namespace");
	info->service_protocol = str_field(svc, "protocol");
	port = json_integer_value(json_object_get(svc, "port"));
	if (!bundle_is_dns_label(info->service_name))
		return mv_err_set(err, MV_EXIT_VERIFY,
		                  "MANIFEST.json: service.name \"%s\" is not a "
		                  "DNS-1123 label (a-z, 0-9, '-', at most 63)",
		                  ESC(info->service_name, esc));
	if (!bundle_is_dns_label(info->service_namespace))
		return mv_err_set(err, MV_EXIT_VERIFY,
		                  "MANIFEST.json: service.namespace \"%s\" is not a "
		                  "DNS-1123 label", ESC(info->service_namespace, esc));
	if (!BUNDLE_PORT_OK(port))
		return mv_err_set(err, MV_EXIT_VERIFY,
		                  "MANIFEST.json: service.port %" JSON_INTEGER_FORMAT
		                  " is not 1..65535", port);
	if (!bundle_protocol_ok(info->service_protocol))
		return mv_err_set(err, MV_EXIT_VERIFY,
		                  "MANIFEST.json: service.protocol \"%s\" is not one "
		                  "of grpc, http, http2, tcp",
		                  ESC(info->service_protocol, esc));
	info->service_port = (int)port;
	sde = json_object_get(m, "source_date_epoch");
	if (!json_is_integer(sde))
		return bad(err, "source_date_epoch: missing or not an integer");
	info->source_date_epoch = json_integer_value(sde);

	files = json_object_get(m, "files");
	if (!json_is_array(files) || json_array_size(files) == 0)
		return bad(err, "files: missing or empty");
	info->files = calloc(json_array_size(files), sizeof(*info->files));
	if (info->files == NULL)
		return mv_err_set(err, MV_EXIT_FAIL, "out of memory");
	json_array_foreach(files, i, v) {
		struct bundle_file *f = &info->files[i];
		const char *path = str_field(v, "path");
		const char *sha = str_field(v, "sha256");
		json_t *size = json_object_get(v, "size");

		if (!json_is_object(v) || !only_keys(v, file_keys, 4, &unknown) ||
		    path == NULL || sha == NULL || !json_is_integer(size) ||
		    json_integer_value(size) < 0 ||
		    parse_mode(str_field(v, "mode"), &f->mode) != 0)
			return mv_err_set(err, MV_EXIT_VERIFY,
			                  "MANIFEST.json: files[%zu]: needs path, size, "
			                  "sha256, mode (\"0644\" or \"0755\")", i);
		if (!bundle_path_is_safe(path))
			return mv_err_set(err, MV_EXIT_VERIFY,
			                  "MANIFEST.json: files[%zu]: unsafe path "
			                  "\"%s\"", i, ESC(path, esc));
		if (!strcmp(path, BUNDLE_MANIFEST) || !strcmp(path, BUNDLE_SUMS))
			return mv_err_set(err, MV_EXIT_VERIFY,
			                  "MANIFEST.json: files[%zu]: %s cannot list "
			                  "itself or %s", i, BUNDLE_MANIFEST,
			                  BUNDLE_SUMS);
		if (!bundle_path_in_layout(path))
			return mv_err_set(err, MV_EXIT_VERIFY,
			                  "MANIFEST.json: files[%zu]: \"%s\" is not a "
			                  "path of the bundle format (identity/, image/, "
			                  "sidecar/, units/NAME.service)", i,
			                  ESC(path, esc));
		if (!mv_is_sha256_hex(sha))
			return mv_err_set(err, MV_EXIT_VERIFY,
			                  "MANIFEST.json: files[%zu]: sha256 is not 64 "
			                  "lower-case hex digits", i);
		if (i > 0 && strcmp(info->files[i - 1].path, path) >= 0)
			return mv_err_set(err, MV_EXIT_VERIFY,
			                  "MANIFEST.json: files[%zu]: \"%s\" out of "
			                  "order or duplicate", i, ESC(path, esc));
		f->path = (char *)path; /* borrowed from the JSON */
		f->size = (uint64_t)json_integer_value(size);
		memcpy(f->sha256, sha, MV_SHA256_HEX);
		info->n_files = i + 1;
		if (info->content_size + f->size < info->content_size)
			return mv_err_set(err, MV_EXIT_VERIFY,
			                  "MANIFEST.json: files[%zu]: sizes add up to "
			                  "more than 2^64 bytes", i);
		info->content_size += f->size;
	}
	if (check_artifact(info, json_object_get(m, "sidecar"), "sidecar", true,
	                   err) != 0 ||
	    check_artifact(info, json_object_get(m, "image"), "image", false,
	                   err) != 0 ||
	    check_image_runtime(info, json_object_get(m, "image"), err) != 0)
		return -1;
	info->sidecar_path = str_field(json_object_get(m, "sidecar"), "path");
	info->sidecar_format = str_field(json_object_get(m, "sidecar"), "format");
	info->sidecar_version = str_field(json_object_get(m, "sidecar"),
	                                  "version");
	info->image_path = str_field(json_object_get(m, "image"), "path");
	info->image_format = str_field(json_object_get(m, "image"), "format");
	info->image_runtime = str_field(json_object_get(m, "image"), "runtime");
	info->image_config = str_field(json_object_get(m, "image"), "config");
	return 0;
}

void
bundle_info_free(struct bundle_info *info)
{
	if (info == NULL)
		return;
	free(info->files); /* paths are borrowed from the manifest */
	json_decref(info->manifest);
	free(info);
}

json_t *
bundle_info_to_json(const struct bundle_info *info)
{
	json_t *o = json_object();

	if (info->sha256[0] != '\0')
		json_object_set_new(o, "sha256", json_string(info->sha256));
	json_object_set_new(o, "size", json_integer((json_int_t)info->file_size));
	json_object_set_new(o, "compression", json_string(info->compression));
	json_object_set_new(o, "content_size",
	                    json_integer((json_int_t)info->content_size));
	json_object_set(o, "manifest", info->manifest);
	return o;
}
