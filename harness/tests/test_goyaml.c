/* test_goyaml.c - cluster/goyaml: the bytes sigs.k8s.io/yaml writes
 * (yaml.v2 key order, quoting of strings that would read back as other
 * types, indentless sequences, {} for empty maps, literal blocks). */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/goyaml.h"
#include "testutil.h"

static void
check(const char *json, const char *want)
{
	json_error_t je;
	json_t *v = json_loads(json, JSON_DECODE_ANY, &je);
	struct mv_err err;
	char *got;

	assert_non_null(v);
	got = goyaml_dump(v, &err);
	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
	json_decref(v);
}

static void
test_key_order(void **state)
{
	(void)state;
	/* '_' is not a letter: it sorts before 'J' (bytewise it would not) */
	assert_true(goyaml_key_cmp("ISTIO_META_WORKLOAD_NAME",
	                           "ISTIO_METAJSON_LABELS") < 0);
	assert_true(goyaml_key_cmp("a2", "a10") < 0);
	assert_true(goyaml_key_cmp("a", "ab") < 0);
	assert_true(goyaml_key_cmp("B", "a") < 0);
	assert_int_equal(goyaml_key_cmp("x", "x"), 0);
	check("{\"b\":1,\"a10\":2,\"a2\":3}", "a2: 3\na10: 2\nb: 1\n");
}

static void
test_scalars(void **state)
{
	(void)state;
	check("{\"a\":\"\",\"b\":\"true\",\"c\":\"1.5\",\"d\":\"2024-01-02\","
	      "\"e\":\"yes\",\"f\":\"0x1F\",\"g\":\"1:30\",\"h\":\"plain text\","
	      "\"i\":\"{\\\"k\\\":\\\"v\\\"}\",\"j\":\"null\",\"k\":\"-\","
	      "\"l\":\"1_000\",\"m\":\".5\",\"o\":\"host:15012\"}",
	      "a: \"\"\nb: \"true\"\nc: \"1.5\"\nd: \"2024-01-02\"\n"
	      "e: \"yes\"\nf: \"0x1F\"\ng: \"1:30\"\nh: plain text\n"
	      "i: '{\"k\":\"v\"}'\nj: \"null\"\nk: '-'\nl: \"1_000\"\n"
	      "m: \".5\"\no: host:15012\n");
	/* floats as encoding/json + yaml.v2 write them */
	check("[1.5, 0.0001, 0.00001, 123456.7, 1234567.5, 1e20, 1e21, "
	      "2.5e19, -2.0, 1234567890123456768.0, 0.0, -0.25, 1e-7]",
	      "- 1.5\n- 0.0001\n- 1e-05\n- 123456.7\n- 1.2345675e+06\n"
	      "- 1e+20\n- 1e+21\n- 2.5e+19\n- -2\n- 1234567890123456800\n"
	      "- 0\n- -0.25\n- 1e-07\n");
	check("{\"i\":8080,\"r\":1.5,\"w\":2.0,\"t\":true,\"f\":false,"
	      "\"z\":null}",
	      "f: false\ni: 8080\nr: 1.5\nt: true\nw: 2\nz: null\n");
}

static void
test_containers(void **state)
{
	(void)state;
	check("{\"p\":{},\"l\":[],\"s\":[\"a\",{\"x\":1,\"y\":[1]}]}",
	      "l: []\np: {}\ns:\n- a\n- x: 1\n  \"y\":\n  - 1\n");
	check("{\"m\":\"line1\\nline2\\n\",\"q\":\"a\\nb\"}",
	      "m: |\n  line1\n  line2\nq: |-\n  a\n  b\n");
}

static void
test_kubeconfig_shape(void **state)
{
	(void)state;
	check("{\"apiVersion\":\"v1\",\"kind\":\"Config\",\"preferences\":{},"
	      "\"clusters\":[{\"name\":\"c\",\"cluster\":{\"server\":"
	      "\"https://192.0.2.1\",\"certificate-authority-data\":\"QUJD\"}}],"
	      "\"current-context\":\"c\"}",
	      "apiVersion: v1\nclusters:\n- cluster:\n"
	      "    certificate-authority-data: QUJD\n"
	      "    server: https://192.0.2.1\n  name: c\n"
	      "current-context: c\nkind: Config\npreferences: {}\n");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_order),
		cmocka_unit_test(test_scalars),
		cmocka_unit_test(test_containers),
		cmocka_unit_test(test_kubeconfig_shape),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
