/* fuzz_vmsim_classify.c - harness/vmsim's check of boot metadata on
 * arbitrary bytes (an instance's user-data or startup-script is
 * attacker-controlled): the cloud-config path, the MIME multipart
 * splitter with base64 parts, the startup-script here-documents.  The
 * first byte picks the metadata key. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "harness/vmsim/vmsim.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vmsim_plan *p = NULL;
	struct mv_err err;
	char *buf;

	if (size == 0)
		return 0;
	/* metadata values are strings: NUL-terminated, as the fake has them */
	buf = malloc(size);
	if (buf == NULL)
		return 0;
	memcpy(buf, data + 1, size - 1);
	buf[size - 1] = '\0';
	mv_err_clear(&err);
	if (vmsim_classify(data[0] & 1 ? "startup-script" : "user-data", buf,
	                   size - 1, &p, &err) == 0)
		vmsim_plan_free(p);
	mv_err_free(&err);
	free(buf);
	return 0;
}
