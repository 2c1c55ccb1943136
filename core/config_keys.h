/* core/config_keys.h - every key meshvm.yaml may hold, in one table.
 *
 * One row per key: its path, its type and default (for people), the
 * feature that reads it, and the issue that lands that feature (0: it has
 * landed, something reads the key today).  The loader (core/config.c)
 * refuses a key whose feature has not landed ("not supported yet") and a
 * key that is in no row ("unknown key"), so no key is ever silently
 * ignored; `meshvm init` writes only landed keys; README.md's key table is
 * this table (harness/tests/test_config.c holds them equal).
 *
 * A later issue that reads a key sets its row's issue to 0 (or adds the
 * row) and nothing else here.  Paths: "vm.count"; keys of list items as
 * "clusters[].zone". */
#ifndef MESHVM_CORE_CONFIG_KEYS_H
#define MESHVM_CORE_CONFIG_KEYS_H

#include <stddef.h>

struct mv_config_key {
	const char *path;    /* "vm.count" */
	const char *type;    /* "string", "integer 1..1000", "mapping", ... */
	const char *dflt;    /* NULL: required; "": no default (optional) */
	const char *feature; /* what reads it */
	int issue;           /* 0: landed; else the issue that lands it */
};

/* The table, in README order. */
const struct mv_config_key *mv_config_keys(size_t *n);
/* The row of a path, or NULL (an unknown key). */
const struct mv_config_key *mv_config_key_find(const char *path);
/* The README's table: a Markdown table, one line per row (malloc'd). */
char *mv_config_keys_markdown(void);

#endif
