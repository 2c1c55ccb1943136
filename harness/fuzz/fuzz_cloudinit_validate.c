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

	mv_err_clear(&err); /* mv_err_free below needs it */
	(void)cloudinit_validate_buf("fuzz", (const char *)data, size, &err);
	mv_err_free(&err); /* a many-problem report owns a list */
	return 0;
}
