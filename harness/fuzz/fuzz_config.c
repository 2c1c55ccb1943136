/* fuzz_config.c - meshvm.yaml parsing and validation (core/config.c). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mv_config *c = NULL;
	struct mv_err err;

	mv_err_clear(&err); /* mv_err_free below needs it */
	unsetenv("MESHVM_GOOGLE_ENDPOINT");
	if (mv_config_parse("fuzz.yaml", (const char *)data, size, &c, &err) == 0) {
		char *ctx = mv_config_context_name(c, &c->clusters[0]);
		free(ctx);
		mv_config_free(c);
	}
	mv_err_free(&err); /* a many-problem report owns a list */
	return 0;
}
