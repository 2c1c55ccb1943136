/* bake/flatten_image.c - a container image's outer archive: manifests,
 * config and layer list (see flatten_image.h). */
#include "bake/flatten_image.h"

#include <archive.h>
#include <archive_entry.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"

#define SMALL_MAX (1u << 20)      /* a JSON document of the image */
#define SMALL_TOTAL (16u << 20)   /* all of them */

/*--- paths ---------------------------------------------------------------*/

/* A layer's entry name made relative and clean ("./a//b/" -> "a/b"); ""
 * is the root itself.  -1 for ".." components, control characters or a
 * name too long. */
int
flatten_clean_path(const char *in, char *out, size_t out_len)
{
	size_t o = 0;
	const char *p = in;

	while (*p) {
		const char *e;
		size_t n;
		while (*p == '/')
			p++;
		if (*p == '\0')
			break;
		e = strchr(p, '/');
		n = e ? (size_t)(e - p) : strlen(p);
		if (n == 1 && p[0] == '.') {
			p += n;
			continue;
		}
		if (n == 2 && p[0] == '.' && p[1] == '.')
			return -1;
		for (size_t i = 0; i < n; i++)
			if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f)
				return -1;
		if (o + n + 2 > out_len || o + n + 1 > FLATTEN_PATH_LEN)
			return -1;
		if (o > 0)
			out[o++] = '/';
		memcpy(out + o, p, n);
		o += n;
		p += n;
	}
	out[o] = '\0';
	return 0;
}

/*--- the image's small files (manifests, configs) ------------------------*/


struct archive *
flatten_open_outer(const char *path, struct mv_err *err)
{
	struct archive *a = archive_read_new();

	if (a == NULL) {
		mv_err_set(err, MV_EXIT_FAIL, "out of memory");
		return NULL;
	}
	archive_read_support_format_tar(a);
	archive_read_support_filter_gzip(a);
	archive_read_support_filter_zstd(a);
	archive_read_support_filter_none(a);
	if (archive_read_open_filename(a, path, 64 * 1024) != ARCHIVE_OK) {
		mv_err_set(err, MV_EXIT_FAIL, "image %s: %s", path,
		           archive_error_string(a));
		archive_read_free(a);
		return NULL;
	}
	return a;
}

static int
load_small(struct flat_image *im, struct mv_err *err)
{
	struct archive *a = flatten_open_outer(im->path, err);
	struct archive_entry *e;
	int r;

	if (a == NULL)
		return -1;
	while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
		char name[FLATTEN_PATH_LEN + 2];
		int64_t size = archive_entry_size(e);
		struct small *s;
		size_t len;

		if (archive_entry_filetype(e) != AE_IFREG ||
		    flatten_clean_path(archive_entry_pathname(e), name, sizeof(name)) != 0)
			continue;
		len = strlen(name);
		if (!((len > 5 && strcmp(name + len - 5, ".json") == 0) ||
		      strncmp(name, "blobs/", 6) == 0))
			continue;
		if (size <= 0 || (uint64_t)size > SMALL_MAX)
			continue; /* a layer blob */
		s = realloc(im->files, (im->n + 1) * sizeof(*s));
		if (s == NULL)
			break;
		im->files = s;
		s = &im->files[im->n];
		s->name = strdup(name);
		s->data = malloc((size_t)size + 1);
		if (s->name == NULL || s->data == NULL) {
			free(s->name);
			free(s->data);
			break;
		}
		s->len = 0;
		while (s->len < (size_t)size) {
			la_ssize_t got = archive_read_data(a, s->data + s->len,
			                                   (size_t)size - s->len);
			if (got <= 0)
				break;
			s->len += (size_t)got;
		}
		s->data[s->len] = '\0';
		/* a small layer blob is no JSON document: not kept */
		if (s->len == 0 || (s->data[0] != '{' && s->data[0] != '[')) {
			free(s->name);
			free(s->data);
			continue;
		}
		if (im->total + s->len > SMALL_TOTAL) {
			free(s->name);
			free(s->data);
			archive_read_free(a);
			return mv_err_set(err, MV_EXIT_FAIL, "image %s: more than %u "
			                  "bytes of manifests and configs", im->path,
			                  SMALL_TOTAL);
		}
		im->n++;
		im->total += s->len;
	}
	if (r != ARCHIVE_EOF) {
		mv_err_set(err, MV_EXIT_FAIL, "image %s: %s", im->path,
		           r == ARCHIVE_OK ? "out of memory"
		                           : archive_error_string(a));
		archive_read_free(a);
		return -1;
	}
	archive_read_free(a);
	return 0;
}

static const struct small *
find_small(const struct flat_image *im, const char *name)
{
	for (size_t i = 0; i < im->n; i++)
		if (strcmp(im->files[i].name, name) == 0)
			return &im->files[i];
	return NULL;
}

static json_t *
small_json(const struct flat_image *im, const char *name, struct mv_err *err)
{
	const struct small *s = find_small(im, name);
	json_error_t je;
	json_t *j;

	if (s == NULL) {
		mv_err_set(err, MV_EXIT_FAIL, "image %s: no %s (or larger than "
		           "%u bytes)", im->path, name, SMALL_MAX);
		return NULL;
	}
	j = json_loadb(s->data, s->len, 0, &je);
	if (j == NULL)
		mv_err_set(err, MV_EXIT_FAIL, "image %s: %s:%d: %s", im->path, name,
		           je.line, je.text);
	return j;
}

/* "sha256:<64 hex>" -> "blobs/sha256/<hex>" */
static char *
blob_path(const json_t *desc)
{
	const char *d = json_string_value(json_object_get(desc, "digest"));

	if (d == NULL || strncmp(d, "sha256:", 7) != 0 || strlen(d) != 71)
		return NULL;
	for (const char *p = d + 7; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return NULL;
	return mv_strfmt("blobs/sha256/%s", d + 7);
}

static int
add_layer(struct flat_image *im, const char *name)
{
	char **l = realloc(im->layers, (im->n_layers + 1) * sizeof(*l));

	if (l == NULL)
		return -1;
	im->layers = l;
	if ((l[im->n_layers] = strdup(name)) == NULL)
		return -1;
	im->n_layers++;
	return 0;
}

static int
read_docker(struct flat_image *im, struct mv_err *err)
{
	json_t *m = small_json(im, "manifest.json", err), *img, *layers, *v;
	const char *cfg;
	char clean[FLATTEN_PATH_LEN + 2];
	size_t i;

	if (m == NULL)
		return -1;
	if (!json_is_array(m) || json_array_size(m) != 1) {
		json_decref(m);
		return mv_err_set(err, MV_EXIT_FAIL, "image %s: manifest.json must "
		                  "list exactly one image (docker save one tag)",
		                  im->path);
	}
	img = json_array_get(m, 0);
	cfg = json_string_value(json_object_get(img, "Config"));
	layers = json_object_get(img, "Layers");
	if (cfg == NULL || !json_is_array(layers) ||
	    flatten_clean_path(cfg, clean, sizeof(clean)) != 0) {
		json_decref(m);
		return mv_err_set(err, MV_EXIT_FAIL, "image %s: manifest.json needs "
		                  "Config and Layers", im->path);
	}
	im->config = small_json(im, clean, err);
	json_array_foreach(layers, i, v) {
		const char *l = json_string_value(v);
		if (l == NULL || flatten_clean_path(l, clean, sizeof(clean)) != 0 ||
		    add_layer(im, clean) != 0) {
			json_decref(m);
			return mv_err_set(err, MV_EXIT_FAIL, "image %s: Layers[%zu] is "
			                  "not a clean path", im->path, i);
		}
	}
	json_decref(m);
	return im->config ? 0 : -1;
}

static int
read_oci(struct flat_image *im, struct mv_err *err)
{
	json_t *idx = small_json(im, "index.json", err), *man = NULL, *v;
	char *p = NULL;
	size_t i;
	int rc = -1;

	if (idx == NULL)
		return -1;
	/* index -> manifest, through at most one nested index (docker 25's
	 * `docker save` writes one) */
	for (int depth = 0; depth < 3; depth++) {
		json_t *ms = json_object_get(idx, "manifests");
		const char *mt;
		if (!json_is_array(ms) || json_array_size(ms) != 1 ||
		    (p = blob_path(json_array_get(ms, 0))) == NULL) {
			mv_err_set(err, MV_EXIT_FAIL, "image %s: the index must name "
			           "exactly one manifest by sha256", im->path);
			goto out;
		}
		man = small_json(im, p, err);
		free(p);
		p = NULL;
		if (man == NULL)
			goto out;
		mt = json_string_value(json_object_get(man, "mediaType"));
		if (mt == NULL || strstr(mt, "index") == NULL)
			break;
		json_decref(idx);
		idx = man;
		man = NULL;
	}
	if (man == NULL || !json_is_array(json_object_get(man, "layers"))) {
		mv_err_set(err, MV_EXIT_FAIL, "image %s: no image manifest with "
		           "layers", im->path);
		goto out;
	}
	if ((p = blob_path(json_object_get(man, "config"))) == NULL) {
		mv_err_set(err, MV_EXIT_FAIL, "image %s: the manifest's config has "
		           "no sha256 digest", im->path);
		goto out;
	}
	if ((im->config = small_json(im, p, err)) == NULL)
		goto out;
	free(p);
	p = NULL;
	json_array_foreach(json_object_get(man, "layers"), i, v) {
		if ((p = blob_path(v)) == NULL || add_layer(im, p) != 0) {
			mv_err_set(err, MV_EXIT_FAIL, "image %s: layers[%zu] has no "
			           "sha256 digest", im->path, i);
			goto out;
		}
		free(p);
		p = NULL;
	}
	rc = 0;
out:
	free(p);
	json_decref(man);
	json_decref(idx);
	return rc;
}

void
flatten_image_free(struct flat_image *im)
{
	for (size_t i = 0; i < im->n; i++) {
		free(im->files[i].name);
		free(im->files[i].data);
	}
	free(im->files);
	for (size_t i = 0; i < im->n_layers; i++)
		free(im->layers[i]);
	free(im->layers);
	json_decref(im->config);
}

/*--- config.json ---------------------------------------------------------*/

static json_t *
str_array(const json_t *v)
{
	json_t *out = json_array(), *x;
	size_t i;

	json_array_foreach(v, i, x)
		if (json_is_string(x))
			json_array_append_new(out, json_string(json_string_value(x)));
	return out;
}

/* config.json's text (malloc'd) from the image's config. */
int
flatten_config_text(const struct flat_image *im, char **out, struct flatten_result *res,
            struct mv_err *err)
{
	const json_t *c = json_object_get(im->config, "config");
	json_t *o = json_object(), *ports = json_array(), *pv;
	const char *k, *user;
	char *text;

	*out = NULL;
	json_object_set_new(o, "entrypoint",
	                    str_array(json_object_get(c, "Entrypoint")));
	json_object_set_new(o, "cmd", str_array(json_object_get(c, "Cmd")));
	json_object_set_new(o, "env", str_array(json_object_get(c, "Env")));
	json_object_set_new(o, "working_dir", json_string(
	        json_string_value(json_object_get(c, "WorkingDir"))
	                ? json_string_value(json_object_get(c, "WorkingDir"))
	                : ""));
	user = json_string_value(json_object_get(c, "User"));
	json_object_set_new(o, "user", json_string(user ? user : ""));
	snprintf(res->user, sizeof(res->user), "%s", user ? user : "");
	json_object_foreach((json_t *)json_object_get(c, "ExposedPorts"), k, pv)
		json_array_append_new(ports, json_string(k));
	json_object_set_new(o, "exposed_ports", ports);
	if (json_array_size(json_object_get(o, "entrypoint")) +
	        json_array_size(json_object_get(o, "cmd")) == 0) {
		json_decref(o);
		return mv_err_set(err, MV_EXIT_FAIL, "image %s: the config has "
		                  "neither Entrypoint nor Cmd: nothing to run",
		                  im->path);
	}
	text = json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS);
	json_decref(o);
	if (text != NULL)
		*out = mv_strfmt("%s\n", text);
	free(text);
	if (*out == NULL)
		return mv_err_set(err, MV_EXIT_FAIL, "out of memory");
	return 0;
}

int
flatten_image_load(struct flat_image *im, const char *path,
                   struct mv_err *err)
{
	memset(im, 0, sizeof(*im));
	im->path = path;
	if (load_small(im, err) != 0)
		return -1;
	if (find_small(im, "manifest.json") != NULL) {
		if (read_docker(im, err) != 0)
			return -1;
	} else if (find_small(im, "index.json") != NULL) {
		if (read_oci(im, err) != 0)
			return -1;
	} else {
		return mv_err_set(err, MV_EXIT_FAIL, "image %s: neither "
		                  "manifest.json (docker save) nor index.json "
		                  "(OCI)", path);
	}
	if (im->n_layers == 0 || im->n_layers > FLATTEN_MAX_LAYERS)
		return mv_err_set(err, MV_EXIT_FAIL, "image %s: %zu layers (1..%u)",
		                  path, im->n_layers, FLATTEN_MAX_LAYERS);
	return 0;
}
