/* core/yaml_private.h - shared by core/yaml*.c only: core/yaml.c builds the
 * documents from libyaml events and records positions here; core/yaml_pos.c
 * owns the stream and answers where a node came from. */
#ifndef MESHVM_CORE_YAML_PRIVATE_H
#define MESHVM_CORE_YAML_PRIVATE_H

#include <jansson.h>
#include <stddef.h>

#include "core/yaml.h"

enum pos_kind { POS_KEY = 1, POS_VALUE = 2, POS_NODE = 3 };

struct pos_entry {
	const void *parent;
	char *key;      /* object member name, or NULL for array items/nodes */
	size_t index;   /* array index */
	int kind;
	struct mv_yaml_pos pos;
};

struct mv_yaml {
	char *name;
	json_t *docs; /* array of documents */
	struct pos_entry *ents;
	size_t n_ents, cap_ents;
	size_t *slots; /* open addressing over ents, value = index + 1 */
	size_t n_slots;
};

/* Record where (parent, key or index, kind) starts; -1 when out of
 * memory. */
int yaml_pos_add(struct mv_yaml *y, const void *parent, const char *key,
                 size_t index, int kind, struct mv_yaml_pos pos);

#endif
