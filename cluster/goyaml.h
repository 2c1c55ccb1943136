/* cluster/goyaml.h - YAML text byte-for-byte as Go's sigs.k8s.io/yaml
 * (gopkg.in/yaml.v2 underneath) writes a JSON value.
 *
 * istioctl writes mesh.yaml and client-go writes kubeconfigs that way, and
 * meshvm's copies must match theirs: map keys in yaml.v2's order (letters
 * after other characters, digit runs compared as numbers), strings that
 * would read back as another type ("", "true", "1.5", "2006-01-02", "y")
 * double-quoted, multi-line strings as literal blocks, the rest left to
 * the emitter (libyaml, which yaml.v2 is a port of) with indent 2 and line
 * width 80; whole numbers without a fraction, as encoding/json does.
 */
#ifndef MESHVM_CLUSTER_GOYAML_H
#define MESHVM_CLUSTER_GOYAML_H

#include <jansson.h>

#include "core/err.h"

/* Heap string (caller frees), or NULL with err set. */
char *goyaml_dump(const json_t *v, struct mv_err *err);

/* yaml.v2's map key order (exposed for tests): <0, 0, >0. */
int goyaml_key_cmp(const char *a, const char *b);

#endif
