/* bake/flatten_image.h - the outer archive of a container image (docker
 * save or OCI): its manifests and config (small JSON documents kept in
 * memory) and its layer list; path cleaning shared with flatten.c
 * (private to bake/). */
#ifndef MESHVM_BAKE_FLATTEN_IMAGE_H
#define MESHVM_BAKE_FLATTEN_IMAGE_H

#include <jansson.h>
#include <stddef.h>

#include "bake/flatten.h"

#define FLATTEN_PATH_LEN 4096u

struct archive;

struct small {
	char *name;
	char *data;
	size_t len;
};

struct flat_image {
	const char *path;
	struct small *files;
	size_t n, total;
	char **layers; /* entry names in the outer archive, bottom first */
	size_t n_layers;
	json_t *config;
};

/* A layer's entry name made relative and clean ("./a//b/" -> "a/b"); ""
 * is the root itself.  -1 for ".." components, control characters or a
 * name too long. */
int flatten_clean_path(const char *in, char *out, size_t out_len);
/* The image as a tar reader (any of tar's filters), at its first entry. */
struct archive *flatten_open_outer(const char *path, struct mv_err *err);
/* Read the image's manifests and config; its layers, bottom first.  On
 * failure *im still needs flatten_image_free. */
int flatten_image_load(struct flat_image *im, const char *path,
                       struct mv_err *err);
/* config.json's text (malloc'd): entrypoint, cmd, env, working_dir, user,
 * exposed_ports; res->user set.  Refused when nothing would run. */
int flatten_config_text(const struct flat_image *im, char **out,
                        struct flatten_result *res, struct mv_err *err);
void flatten_image_free(struct flat_image *im);

#endif
