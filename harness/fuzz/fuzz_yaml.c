/* fuzz_yaml.c - the YAML → JSON loader with positions (core/yaml.c). */
#include <stddef.h>
#include <stdint.h>

#include "core/yaml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mv_yaml *y = NULL;
	struct mv_err err;
	struct mv_yaml_pos pos;

	if (mv_yaml_load_buf("fuzz.yaml", (const char *)data, size, &y, &err) != 0)
		return 0;
	for (size_t i = 0; i < mv_yaml_count(y); i++) {
		json_t *d = mv_yaml_doc(y, i);
		const char *k;
		json_t *v;
		if (json_is_object(d))
			json_object_foreach(d, k, v) {
				mv_yaml_key_pos(y, d, k, &pos);
				mv_yaml_value_err(&err, 1, y, d, k, "x");
			}
	}
	mv_yaml_free(y);
	return 0;
}
