/* fuzz_bundle_spec.c - bundle.yaml parsing and validation.  Paths resolve
 * against a directory that does not exist, so the file checks fail fast
 * and the YAML, schema and error paths get the time. */
#include <stddef.h>
#include <stdint.h>

#include "bake/bundle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bundle_spec *s = NULL;
	struct mv_err err;

	mv_err_clear(&err); /* mv_err_free below needs it */
	if (bundle_spec_parse("fuzz.yaml", (const char *)data, size,
	                      "/nonexistent-fuzz", &s, &err) == 0)
		bundle_spec_free(s);
	mv_err_free(&err); /* a many-problem report owns a list */
	return 0;
}
