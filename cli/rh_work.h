/* cli/rh_work.h - the rehearsal's working directory: a temp directory
 * with the offline example's config (or the user's config beside links
 * to its files), so nothing of the user's state is touched. */
#ifndef MESHVM_CLI_RH_WORK_H
#define MESHVM_CLI_RH_WORK_H

#include <stddef.h>

#include "core/err.h"

/* mkdtemp under $TMPDIR, else /dev/shm when writable, else /tmp;
 * malloc'd path. */
char *rh_work_mkdtemp(struct mv_err *err);

/* dir/<name of config>: a copy of `config`, and a symbolic link in dir to
 * every other entry of its directory but .meshvm (relative paths in the
 * config keep working, the state starts empty).  *out malloc'd. */
int rh_work_link_config(const char *dir, const char *config, char **out,
                        struct mv_err *err);

/* Set SECTION.KEY to VALUE (a YAML scalar) in the config file: the line
 * goes right under the top-level `SECTION:` (block style), replacing
 * the key's line there; atomically rewritten. */
int rh_work_set(const char *config, const char *section, const char *key,
                const char *value, struct mv_err *err);

/* Point `migration:` at the fake's Prometheus of each cluster
 * (URL/prom/CLUSTER) with `interval` seconds on the traffic clock: a
 * migration mapping already there is replaced (its steps, thresholds and
 * cluster kept only through their defaults). */
int rh_work_set_migration(const char *config, const char *url,
                          const char *const *clusters, size_t n,
                          int interval, struct mv_err *err);

/* rm -r, never following symbolic links. */
void rh_work_remove(const char *dir);

#endif
