/* core/config_private.h - shared by core/config*.c only.
 *
 * core/config.c drives the parse; core/config_sections.c holds one parser
 * per top-level section; core/config_check.c the error context, key table
 * check, typed getters and name rules they all use.
 */
#ifndef MESHVM_CORE_CONFIG_PRIVATE_H
#define MESHVM_CORE_CONFIG_PRIVATE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/config.h"
#include "core/err.h"

struct mv_yaml;

/* cfg_get_str's default for a key that must be there */
#define MV_CFG_REQUIRED ((const char *)-1)

struct cfg_ctx {
	const struct mv_yaml *y;
	struct mv_err *err;
	int failed;
};

/* First value problem wins (configs are short; fix, rerun); key problems
 * (unknown, not supported yet) are all reported, one item each. */
int cfg_fail(struct cfg_ctx *c, const json_t *obj, const char *key,
             const char *fmt, ...) MV_PRINTF(4, 5);
void cfg_key_fail(struct cfg_ctx *c, const json_t *obj, const char *key,
                  const char *fmt, ...) MV_PRINTF(4, 5);

/* Every key of the mapping `obj` must be a row of the key table whose
 * feature has landed (core/config_keys.h): `prefix` is its path there
 * ("vm", "clusters[]", "" for the top level), `where` its name in messages
 * ("clusters[1]"). */
int cfg_check_keys(struct cfg_ctx *c, const json_t *obj, const char *where,
                   const char *prefix);
/* obj[key] as an allocated string; `dflt` when absent (copied; NULL stays
 * NULL; MV_CFG_REQUIRED fails). */
char *cfg_get_str(struct cfg_ctx *c, const json_t *obj, const char *key,
                  const char *where, const char *dflt);
int cfg_get_int(struct cfg_ctx *c, const json_t *obj, const char *key,
                const char *where, int dflt, int lo, int hi);

/* The index of a configured cluster, or -1. */
long cfg_cluster_index(const struct mv_config *cfg, const char *name);
/* GCE/GKE resource names: RFC 1035 label, lower case, at most `max`. */
bool cfg_is_rfc1035(const char *s, size_t max);
/* region-location + digit, '-', zone letter: us-west1-b */
bool cfg_is_zone(const char *s);
bool cfg_is_url(const char *s);

/* The section parsers, in the order mv_config_parse calls them; each
 * returns at its first value problem with c->failed set. */
void cfg_parse_endpoints(struct cfg_ctx *c, const json_t *root,
                         struct mv_config *cfg);
void cfg_endpoints_free(struct mv_endpoints *e);
void cfg_parse_clusters(struct cfg_ctx *c, const json_t *root,
                        struct mv_config *cfg);
void cfg_parse_vm(struct cfg_ctx *c, const json_t *root,
                  struct mv_config *cfg);
void cfg_parse_service(struct cfg_ctx *c, const json_t *root,
                       struct mv_config *cfg);
/* mesh:, app:, migration: are kept whole (*slot) after their keys are
 * checked; an absent one is an empty mapping. */
void cfg_parse_opaque(struct cfg_ctx *c, const json_t *root, const char *key,
                      json_t **slot);
void cfg_parse_mesh_app(struct cfg_ctx *c, struct mv_config *cfg);
void cfg_parse_migration(struct cfg_ctx *c, struct mv_config *cfg);

#endif
