/* cli/rh_work.h - the rehearsal's working directory: a temp directory
 * with the offline example's config (or the user's config beside links
 * to its files), so nothing of the user's state is touched. */
#ifndef MESHVM_CLI_RH_WORK_H
#define MESHVM_CLI_RH_WORK_H

#include "core/err.h"

/* mkdtemp under $TMPDIR, else /dev/shm when writable, else /tmp;
 * malloc'd path. */
char *rh_work_mkdtemp(struct mv_err *err);

/* dir/<name of config>: a copy of `config`, and a symbolic link in dir to
 * every other entry of its directory but .meshvm (relative paths in the
 * config keep working, the state starts empty).  *out malloc'd. */
int rh_work_link_config(const char *dir, const char *config, char **out,
                        struct mv_err *err);

/* Set `vm.count: N` in the config file (atomically rewritten). */
int rh_work_set_count(const char *config, long count, struct mv_err *err);

/* rm -r, never following symbolic links. */
void rh_work_remove(const char *dir);

#endif
