/* fuzz_cloudinit_validate.c - `cloudinit validate` on arbitrary bytes:
 * the cloud-config checks, the MIME multipart splitter, header unfolding
 * and base64 parts. */
#include <stddef.h>
#include <stdint.h>

#include "cloudinit/cloudinit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mv_err err;

	(void)cloudinit_validate_buf("fuzz", (const char *)data, size, &err);
	return 0;
}
