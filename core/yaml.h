/* core/yaml.h - YAML documents as jansson values, with positions.
 *
 * libyaml parses; every mapping, sequence and scalar becomes a json_t.
 * Scalars resolve by the YAML 1.2 core schema (null, bool, int, float,
 * otherwise string; quoted or !!str scalars are always strings).  The
 * loader remembers where each key and value came from so validators can
 * report "file:line:col: reason".  Duplicate keys are errors; aliases are
 * expanded by copy with a size budget (no billion laughs).
 */
#ifndef MESHVM_CORE_YAML_H
#define MESHVM_CORE_YAML_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"

enum mv_yaml_style {
	MV_YAML_PLAIN = 0,
	MV_YAML_SINGLE_QUOTED,
	MV_YAML_DOUBLE_QUOTED,
	MV_YAML_LITERAL,
	MV_YAML_FOLDED,
	MV_YAML_CONTAINER
};

struct mv_yaml_pos {
	int line, col; /* 1-based */
	enum mv_yaml_style style;
	bool tagged;   /* had an explicit tag (e.g. !!str) */
};

struct mv_yaml;

/* Load every document of a YAML stream. `name` is used in messages.
 * *out is owned by the caller (mv_yaml_free). */
int mv_yaml_load_buf(const char *name, const char *buf, size_t len,
                     struct mv_yaml **out, struct mv_err *err);
int mv_yaml_load_file(const char *path, struct mv_yaml **out,
                      struct mv_err *err);
void mv_yaml_free(struct mv_yaml *y);

size_t mv_yaml_count(const struct mv_yaml *y);
/* Borrowed reference to document i (json null for an empty document). */
json_t *mv_yaml_doc(const struct mv_yaml *y, size_t i);
const char *mv_yaml_name(const struct mv_yaml *y);

/* Where a node starts (containers and scalars reached through their parent
 * are looked up with the functions below). 0 when found, -1 otherwise. */
int mv_yaml_key_pos(const struct mv_yaml *y, const json_t *object,
                    const char *key, struct mv_yaml_pos *pos);
int mv_yaml_value_pos(const struct mv_yaml *y, const json_t *object,
                      const char *key, struct mv_yaml_pos *pos);
int mv_yaml_item_pos(const struct mv_yaml *y, const json_t *array,
                     size_t index, struct mv_yaml_pos *pos);
int mv_yaml_node_pos(const struct mv_yaml *y, const json_t *container,
                     struct mv_yaml_pos *pos);

/* Report an error at the value of object[key] (or at the key itself with
 * _key_err, or at the object when key is absent).  Return -1. */
int mv_yaml_value_err(struct mv_err *err, int exit_code,
                      const struct mv_yaml *y, const json_t *object,
                      const char *key, const char *fmt, ...) MV_PRINTF(6, 7);
int mv_yaml_key_err(struct mv_err *err, int exit_code, const struct mv_yaml *y,
                    const json_t *object, const char *key, const char *fmt,
                    ...) MV_PRINTF(6, 7);
int mv_yaml_item_err(struct mv_err *err, int exit_code,
                     const struct mv_yaml *y, const json_t *array,
                     size_t index, const char *fmt, ...) MV_PRINTF(6, 7);

#endif
