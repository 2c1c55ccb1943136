/* cli/example.h - the offline example `meshvm init --example` writes next
 * to meshvm.yaml (example/): the fixture Istio control plane per cluster,
 * the app and its placement, and the VM bundle inputs (a stub sidecar
 * package, a tiny image, the unit), embedded at build time from
 * fixtures/ (cli/embed_tree.cmake).  example/.meshvm-example marks the
 * tree: the mesh steps refuse it unless every endpoint is on loopback. */
#ifndef MESHVM_CLI_EXAMPLE_H
#define MESHVM_CLI_EXAMPLE_H

#include <stddef.h>

struct example_file {
	const char *path; /* relative to example/ */
	const unsigned char *data;
	size_t len;
};

extern const struct example_file example_files[];
extern const size_t example_n_files;

#endif
