/* cloudinit/images.h - the public image families meshvm knows.
 *
 * One table says, for each family a user may pick for the VM, which boot
 * agent reads the instance metadata (cloud-init reads `user-data`;
 * Google's guest agent ignores it and runs `startup-script`), the package
 * format the sidecar must have, and which tools the join may rely on.
 * Everything that depends on the image (the agent, the bundle's
 * compression, refusing an image the sidecar cannot be installed on) asks
 * here.  README.md ("VM images") shows the same table; a test keeps the
 * two equal (images_table_markdown).
 */
#ifndef MESHVM_CLOUDINIT_IMAGES_H
#define MESHVM_CLOUDINIT_IMAGES_H

#include <stdbool.h>
#include <stddef.h>

#include "bake/bundle.h"
#include "core/err.h"

enum image_agent {
	IMAGE_AGENT_CLOUD_INIT = 0, /* metadata key user-data */
	IMAGE_AGENT_STARTUP_SCRIPT  /* metadata key startup-script */
};

enum image_pkg { IMAGE_PKG_DEB = 0, IMAGE_PKG_RPM, IMAGE_PKG_NONE };

/* Tools present in the stock image. */
enum {
	IMAGE_HAS_ZSTD = 1u << 0,
	IMAGE_HAS_CURL = 1u << 1,
	IMAGE_HAS_WGET = 1u << 2,
	IMAGE_HAS_PYTHON3 = 1u << 3,
	IMAGE_HAS_RUNTIME = 1u << 4 /* docker, podman or containerd */
};

struct image_family {
	const char *project; /* e.g. ubuntu-os-cloud */
	const char *family;  /* e.g. ubuntu-2204-lts; "*" = any other */
	const char *prefix;  /* image names of the family start with this */
	const char *title;   /* for people */
	enum image_agent agent;
	enum image_pkg pkg;
	unsigned tools;      /* IMAGE_HAS_* */
	const char *refused; /* why meshvm cannot use it, or NULL */
};

/* The table, in README order. */
const struct image_family *images_table(size_t *n);

/* The entry for an image reference: projects/P/global/images/family/F,
 * projects/P/global/images/NAME (either with an https://…/compute/v1/
 * prefix) or P/F.  NULL for an image meshvm does not know (a custom
 * image, another project). */
const struct image_family *images_lookup(const char *ref);

/* "auto", "cloud-init" or "startup-script"; 0 when `s` is one of them. */
int images_agent_check(const char *s, struct mv_err *err);

const char *images_agent_name(enum image_agent a);
/* The instance metadata key the agent reads. */
const char *images_agent_key(enum image_agent a);

/* Resolve the boot agent for `ref` with config vm.boot_agent `configured`
 * (NULL = auto).  A refused image is an error naming the reason
 * (MV_EXIT_USAGE).  An unknown image under auto gets cloud-init and a
 * warning in `warn` (empty when none). */
int images_choose_agent(const char *ref, const char *configured,
                        enum image_agent *agent, char *warn, size_t warn_len,
                        struct mv_err *err);

/* The bundle compression for an image: zstd only where the table says
 * the image has zstd; gzip otherwise (also for unknown images). */
enum bundle_compress images_compression(const struct image_family *f);

/* The README table (markdown, one row per entry; malloc'd). */
char *images_table_markdown(void);

#endif
