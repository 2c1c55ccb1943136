/* fuzz_gcp_errors.c - errors that teach (cluster/gcp_errors.c) read what
 * a server answers: the first line of the input is the call's URL, the
 * rest the response body; also the whole input as a bare message. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/gcp_errors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1), *nl, hint[1024];
	struct mv_err err;

	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	nl = memchr(text, '\n', size);
	if (nl != NULL)
		*nl = '\0';
	/* an almost full message: the hint must be cut, never overflow */
	mv_err_clear(&err);
	memset(err.msg, 'x', sizeof(err.msg) - 40);
	err.msg[sizeof(err.msg) - 40] = '\0';
	gcp_error_teach(&err, "p1", text, nl ? nl + 1 : "",
	                nl ? size - (size_t)(nl + 1 - text) : 0);
	gcp_error_teach_op(&err, text, (int)(size % 16), nl ? nl + 1 : NULL,
	                   nl ? nl + 1 : text);
	gcp_error_hint(NULL, NULL, text, text, text, hint, sizeof(hint));
	free(text);
	return 0;
}
