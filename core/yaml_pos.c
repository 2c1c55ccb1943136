/* core/yaml_pos.c - a loaded YAML stream (core/yaml_private.h): its
 * documents, where each key, value and node came from (a hash table keyed
 * by parent, key or index, and kind), and errors that point there. */
#include "core/yaml_private.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t
pos_hash(const void *parent, const char *key, size_t index, int kind)
{
	uint64_t h = 1469598103934665603ull;

	h ^= (uint64_t)(uintptr_t)parent;
	h *= 1099511628211ull;
	h ^= (uint64_t)index + ((uint64_t)kind << 56);
	h *= 1099511628211ull;
	if (key != NULL)
		for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
			h ^= *p;
			h *= 1099511628211ull;
		}
	return h ^ (h >> 29);
}

static bool
pos_match(const struct pos_entry *e, const void *parent, const char *key,
          size_t index, int kind)
{
	if (e->parent != parent || e->kind != kind || e->index != index)
		return false;
	if ((e->key == NULL) != (key == NULL))
		return false;
	return key == NULL || strcmp(e->key, key) == 0;
}

static int
pos_rehash(struct mv_yaml *y, size_t n_slots)
{
	size_t *slots = calloc(n_slots, sizeof(*slots));

	if (slots == NULL)
		return -1;
	for (size_t i = 0; i < y->n_ents; i++) {
		const struct pos_entry *e = &y->ents[i];
		size_t s = pos_hash(e->parent, e->key, e->index, e->kind) &
		           (n_slots - 1);
		while (slots[s] != 0)
			s = (s + 1) & (n_slots - 1);
		slots[s] = i + 1;
	}
	free(y->slots);
	y->slots = slots;
	y->n_slots = n_slots;
	return 0;
}

int
yaml_pos_add(struct mv_yaml *y, const void *parent, const char *key,
             size_t index, int kind, struct mv_yaml_pos pos)
{
	struct pos_entry *e;

	if (y->n_ents == y->cap_ents) {
		size_t cap = y->cap_ents ? y->cap_ents * 2 : 64;
		struct pos_entry *n = realloc(y->ents, cap * sizeof(*n));
		if (n == NULL)
			return -1;
		y->ents = n;
		y->cap_ents = cap;
	}
	e = &y->ents[y->n_ents];
	e->parent = parent;
	e->key = key ? strdup(key) : NULL;
	if (key != NULL && e->key == NULL)
		return -1;
	e->index = index;
	e->kind = kind;
	e->pos = pos;
	y->n_ents++;
	if (y->n_ents * 2 > y->n_slots)
		return pos_rehash(y, y->n_slots ? y->n_slots * 2 : 128);
	{
		size_t s = pos_hash(parent, key, index, kind) & (y->n_slots - 1);
		while (y->slots[s] != 0)
			s = (s + 1) & (y->n_slots - 1);
		y->slots[s] = y->n_ents;
	}
	return 0;
}

static int
pos_find(const struct mv_yaml *y, const void *parent, const char *key,
         size_t index, int kind, struct mv_yaml_pos *pos)
{
	size_t s;

	if (y == NULL || y->n_slots == 0)
		return -1;
	s = pos_hash(parent, key, index, kind) & (y->n_slots - 1);
	while (y->slots[s] != 0) {
		const struct pos_entry *e = &y->ents[y->slots[s] - 1];
		if (pos_match(e, parent, key, index, kind)) {
			if (pos != NULL)
				*pos = e->pos;
			return 0;
		}
		s = (s + 1) & (y->n_slots - 1);
	}
	return -1;
}

void
mv_yaml_free(struct mv_yaml *y)
{
	if (y == NULL)
		return;
	for (size_t i = 0; i < y->n_ents; i++)
		free(y->ents[i].key);
	free(y->ents);
	free(y->slots);
	json_decref(y->docs);
	free(y->name);
	free(y);
}
size_t
mv_yaml_count(const struct mv_yaml *y)
{
	return y ? json_array_size(y->docs) : 0;
}

json_t *
mv_yaml_doc(const struct mv_yaml *y, size_t i)
{
	return y ? json_array_get(y->docs, i) : NULL;
}

const char *
mv_yaml_name(const struct mv_yaml *y)
{
	return y ? y->name : "";
}

int
mv_yaml_key_pos(const struct mv_yaml *y, const json_t *object,
                const char *key, struct mv_yaml_pos *pos)
{
	return pos_find(y, object, key, 0, POS_KEY, pos);
}

int
mv_yaml_value_pos(const struct mv_yaml *y, const json_t *object,
                  const char *key, struct mv_yaml_pos *pos)
{
	return pos_find(y, object, key, 0, POS_VALUE, pos);
}

int
mv_yaml_item_pos(const struct mv_yaml *y, const json_t *array, size_t index,
                 struct mv_yaml_pos *pos)
{
	return pos_find(y, array, NULL, index, POS_VALUE, pos);
}

int
mv_yaml_node_pos(const struct mv_yaml *y, const json_t *container,
                 struct mv_yaml_pos *pos)
{
	return pos_find(y, container, NULL, 0, POS_NODE, pos);
}

static int yaml_verr(struct mv_err *err, int exit_code,
                     const struct mv_yaml *y, const json_t *container,
                     const char *key, size_t index, int kind,
                     const char *fmt, va_list ap) MV_PRINTF(8, 0);

/* The message at the entry (container, key or index, kind) when there is
 * one (kind 0: none), else at the container, else without a position. */
static int
yaml_verr(struct mv_err *err, int exit_code, const struct mv_yaml *y,
          const json_t *container, const char *key, size_t index, int kind,
          const char *fmt, va_list ap)
{
	char msg[MV_ERR_MSG_MAX];
	struct mv_yaml_pos pos;
	bool at = (kind != 0 &&
	           pos_find(y, container, key, index, kind, &pos) == 0) ||
	          pos_find(y, container, NULL, 0, POS_NODE, &pos) == 0;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	return mv_err_at(err, exit_code, mv_yaml_name(y), at ? pos.line : 0,
	                 at ? pos.col : 0, "%s", msg);
}

int
mv_yaml_value_err(struct mv_err *err, int exit_code, const struct mv_yaml *y,
                  const json_t *object, const char *key, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = yaml_verr(err, exit_code, y, object, key, 0, key ? POS_VALUE : 0,
	               fmt, ap);
	va_end(ap);
	return rc;
}

int
mv_yaml_key_err(struct mv_err *err, int exit_code, const struct mv_yaml *y,
                const json_t *object, const char *key, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = yaml_verr(err, exit_code, y, object, key, 0, key ? POS_KEY : 0, fmt,
	               ap);
	va_end(ap);
	return rc;
}

int
mv_yaml_item_err(struct mv_err *err, int exit_code, const struct mv_yaml *y,
                 const json_t *array, size_t index, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = yaml_verr(err, exit_code, y, array, NULL, index, POS_VALUE, fmt, ap);
	va_end(ap);
	return rc;
}
