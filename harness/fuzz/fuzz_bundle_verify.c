/* fuzz_bundle_verify.c - `bundle verify` on arbitrary bytes: the reader
 * pipeline (zstd thread, gzip, plain tar), the manifest parser and every
 * entry check. The input is served from a memfd. */
#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bake/bundle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bundle_info *info = NULL;
	struct mv_err err;
	int fd = memfd_create("bundle", MFD_CLOEXEC);

	if (fd < 0)
		return 0;
	if (write(fd, data, size) == (ssize_t)size && lseek(fd, 0, SEEK_SET) == 0 &&
	    bundle_verify_fd(fd, "fuzz.bundle", NULL, &info, &err) == 0)
		bundle_info_free(info);
	close(fd);
	return 0;
}
