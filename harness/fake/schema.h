/* harness/fake/schema.h - request bodies checked against the real API
 * schemas (schema.c; base layer). */
#ifndef MESHVM_FAKE_SCHEMA_H
#define MESHVM_FAKE_SCHEMA_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* The compiled-in schema files (embed.cmake makes the tables). */
struct fake_schema_blob {
	const char *name;
	const char *data;
	size_t len;
};
extern const struct fake_schema_blob fake_schema_blobs[];
extern const struct fake_schema_blob fake_kube_schema_blobs[];

/* Validate a JSON body against the request message of `method_id`
 * (e.g. "compute.instances.insert"); violations appended to `out`
 * (array of {"field","description"}).  Returns the number added. */
size_t schema_validate(const char *method_id, json_t *body, json_t *out);
bool schema_has_method(const char *method_id);

#endif
