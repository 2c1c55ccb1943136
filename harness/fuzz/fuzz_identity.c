/* fuzz_identity.c - cluster/identity with a hostile mesh config and
 * proxy.istio.io/config annotation (both come from a cluster), and
 * cluster/goyaml: whatever it writes must read back (core/yaml) as the
 * same JSON. */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/goyaml.h"
#include "cluster/identity.h"
#include "core/yaml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* json_equal, but 2 and 2.0 are the same number (encoding/json writes
 * whole floats without a fraction, and so does goyaml), and a whole
 * number beyond int64 that goyaml writes as yaml.v2 does (a uint64)
 * reads back through core/yaml as a string of the same value. */
static int
same(const json_t *a, const json_t *b)
{
	const char *k;
	json_t *v;
	size_t i;

	if (json_is_number(a) && json_is_number(b))
		return json_number_value(a) == json_number_value(b);
	if (json_is_number(a) && json_is_string(b))
		return strtod(json_string_value(b), NULL) == json_number_value(a);
	if (json_is_string(a) && json_is_number(b))
		return same(b, a);
	if (json_typeof(a) != json_typeof(b))
		return 0;
	if (json_is_object(a)) {
		if (json_object_size(a) != json_object_size(b))
			return 0;
		json_object_foreach((json_t *)a, k, v)
			if (!same(v, json_object_get(b, k)))
				return 0;
		return 1;
	}
	if (json_is_array(a)) {
		if (json_array_size(a) != json_array_size(b))
			return 0;
		json_array_foreach(a, i, v)
			if (!same(v, json_array_get(b, i)))
				return 0;
		return 1;
	}
	return json_equal((json_t *)a, (json_t *)b);
}

static void
round_trip(const json_t *v)
{
	struct mv_yaml *y = NULL;
	struct mv_err err;
	char *text = goyaml_dump(v, &err);

	if (text == NULL)
		return;
	if (mv_yaml_load_buf("rt", text, strlen(text), &y, &err) != 0 ||
	    !same(mv_yaml_doc(y, 0), v))
		abort();
	mv_yaml_free(y);
	free(text);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1), *split;
	struct identity_files f;
	struct identity_in in = {0};
	struct mv_yaml *y = NULL;
	struct mv_err err;
	json_t *wg;

	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	/* "MESH\x01ANNOTATION" */
	split = memchr(text, '\x01', size);
	if (split)
		*split++ = '\0';
	wg = json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s}}, s:{s:{s:s, s:s, "
	               "s:{s:i}}}}",
	               "apiVersion", "networking.istio.io/v1", "kind",
	               "WorkloadGroup", "metadata", "name", "g", "namespace",
	               "ns", "annotations", "proxy.istio.io/config",
	               split ? split : "", "spec", "template", "serviceAccount",
	               "sa", "network", "n", "ports", "grpc", 3550);
	in.workload_group = wg;
	in.mesh_config = text;
	in.cluster_id = "c";
	in.ingress_ip = "192.0.2.1";
	in.root_cert_pem = "x";
	in.autoregister = true;
	if (wg && identity_render(&in, &f, &err) == 0)
		identity_files_free(&f);
	/* goyaml round trip over whatever JSON the input parses to */
	if (mv_yaml_load_buf("in", text, strlen(text), &y, &err) == 0) {
		for (size_t i = 0; i < mv_yaml_count(y); i++) {
			json_t *d = mv_yaml_doc(y, i);
			if (json_is_object(d) || json_is_array(d))
				round_trip(d);
		}
		mv_yaml_free(y);
	}
	json_decref(wg);
	free(text);
	return 0;
}
