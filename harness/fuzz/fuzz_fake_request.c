/* fuzz_fake_request.c - libFuzzer: any request through the fake's whole
 * pipeline (faults, routing, auth, JSON and schema checks, handlers,
 * journal, control API), on the Google listener or a cluster's
 * Kubernetes listener.
 *
 * Input: one selector byte (bit 0: Kubernetes listener of cluster "c1";
 * bit 1: auth on), then "METHOD TARGET\n", header lines "Name: value\n",
 * an empty line, and the body (may hold anything).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "harness/fake/fake.h"

static struct fake *open_fake, *auth_fake;
static unsigned long runs;

static struct fake *
make(bool no_auth)
{
	struct fake_options o;
	struct fake *f = NULL;
	static const char body[] =
		"{\"cluster\":{\"name\":\"c1\",\"initialNodeCount\":1}}";
	struct fake_response r;

	fake_options_init(&o);
	o.no_auth = no_auth;
	o.op_polls = 0;
	o.controller_delay_ms = 0;
	if (fake_new(&o, &f, NULL) != 0)
		abort();
	/* a cluster, so the Kubernetes side has a listener to fuzz */
	if (no_auth) {
		fake_handle(f, "gcp", "POST", "/v1/projects/p/locations/"
		            "us-west1-b/clusters", NULL, 0, body, sizeof(body) - 1,
		            &r);
		fake_response_free(&r);
	}
	return f;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text, *nl, *sp, *line, *body;
	const char *headers[32];
	size_t nh = 0, body_len;
	struct fake_response r;
	struct fake *f;
	uint8_t sel;

	if (size < 1)
		return 0;
	sel = data[0];
	if (open_fake == NULL) {
		open_fake = make(true);
		auth_fake = make(false);
	}
	/* Bound memory: start over now and then. */
	if (++runs % 5000 == 0) {
		fake_free(open_fake);
		fake_free(auth_fake);
		open_fake = make(true);
		auth_fake = make(false);
	}
	f = sel & 2 ? auth_fake : open_fake;
	text = malloc(size);
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	nl = memchr(text, '\n', size - 1);
	if (nl == NULL) {
		free(text);
		return 0;
	}
	*nl = '\0';
	sp = strchr(text, ' ');
	if (sp == NULL || strlen(sp + 1) == 0) {
		free(text);
		return 0;
	}
	*sp = '\0';
	line = nl + 1;
	body = NULL;
	while (line < text + size - 1) {
		char *end = memchr(line, '\n', (size_t)(text + size - 1 - line));
		if (end == NULL)
			break;
		*end = '\0';
		if (*line == '\0') {
			body = end + 1;
			break;
		}
		if (nh < 32)
			headers[nh++] = line;
		line = end + 1;
	}
	body_len = body ? (size_t)(text + size - 1 - body) : 0;
	if (fake_handle(f, (sel & 1) && !(sel & 2) ? "c1" : "gcp", text, sp + 1,
	                headers, nh, body, body_len, &r) == 0)
		fake_response_free(&r);
	free(text);
	return 0;
}
