/* fuzz_wif.c - an external_account credential file (cluster/
 * gcp_auth_wif.c): what it may say is checked before anything is read or
 * sent. */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "cluster/gcp_auth_wif.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *doc = json_loadb((const char *)data, size, 0, NULL);
	struct wif_overrides ov = {"http://127.0.0.1:1/v1/token",
	                           "http://127.0.0.1:1/"};
	struct wif *w = NULL;
	struct mv_err err;

	mv_err_clear(&err);
	if (doc == NULL)
		return 0;
	if (wif_load(doc, "fuzz.json", (size & 1) ? &ov : NULL, &w, &err) == 0)
		(void)wif_label(w);
	wif_free(w);
	json_decref(doc);
	return 0;
}
