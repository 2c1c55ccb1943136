/* fuzz_flatten.c - bake/flatten on arbitrary bytes as the image archive:
 * the outer tar, the manifests and configs, every layer and its entries
 * (whiteouts, links, names).  Input from a memfd; outputs in a temp dir. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bake/flatten.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char dir[] = "/tmp/fuzz-flatten.XXXXXX";
	static int ready;
	char in[64], rootfs[64], config[64];
	struct flatten_result res;
	struct mv_err err;
	int fd;

	if (!ready) {
		if (mkdtemp(dir) == NULL)
			abort();
		ready = 1;
	}
	fd = memfd_create("image", MFD_CLOEXEC);
	if (fd < 0)
		return 0;
	snprintf(in, sizeof(in), "/proc/self/fd/%d", fd);
	snprintf(rootfs, sizeof(rootfs), "%s/rootfs.tar", dir);
	snprintf(config, sizeof(config), "%s/config.json", dir);
	if (write(fd, data, size) == (ssize_t)size)
		(void)flatten_image(in, rootfs, config, 0, &res, &err);
	close(fd);
	unlink(rootfs);
	unlink(config);
	return 0;
}
