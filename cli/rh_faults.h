/* cli/rh_faults.h - the fault profiles `meshvm rehearse --faults` knows
 * by name (anything else is a profile file, docs/fake.md "Faults"). */
#ifndef MESHVM_CLI_RH_FAULTS_H
#define MESHVM_CLI_RH_FAULTS_H

#include <stddef.h>

struct rh_profile {
	const char *name, *summary;
	const char *yaml;  /* the fake's profile format; NULL: per listener */
	int op_polls;      /* an operation is DONE at this read at the earliest */
	int op_time_ms;    /* ... and this long after it started */
};

/* The built-in profile called name, or NULL. */
const struct rh_profile *rh_profile_find(const char *name);
/* The profile's text (malloc'd) for a deployment with these clusters. */
char *rh_profile_yaml(const struct rh_profile *p, const char *const *clusters,
                      size_t n);
/* Their names (for help and messages). */
size_t rh_profile_names(const char **out, size_t cap);

#endif
