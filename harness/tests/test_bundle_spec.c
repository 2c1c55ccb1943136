/* test_bundle_spec.c - bundle.yaml validation (bake/spec.c, bake/pkg.c).
 *
 * Each bad case copies the fixture bundle directory, breaks one thing
 * (the spec text and/or a shell mutation of the files), and asserts the
 * one-line message: file, line:col where there is one, reason.
 */
#include <stdlib.h>
#include <string.h>

#include "bake/bundle.h"
#include "testutil.h"

#define GOOD_SPEC                                                            \
	"service:\n"                                                         \
	"  name: productcatalogservice\n"                                    \
	"  namespace: default\n"                                             \
	"  port: 3550\n"                                                     \
	"  protocol: grpc\n"                                                 \
	"sidecar: artifacts/istio-sidecar.deb\n"                             \
	"image: artifacts/productcatalogservice.tar\n"                       \
	"identity: identity/\n"                                              \
	"units: [units/productcatalog.service]\n"

struct spec_case {
	const char *name;
	const char *spec;   /* NULL: the good spec */
	const char *mutate; /* shell run inside the bundle dir, or NULL */
	const char *expect; /* substring of the error */
};

static const struct spec_case bad_cases[] = {
	{"unknown top-level key", GOOD_SPEC "extra: 1\n", NULL,
	 "bundle.yaml:10:1: extra: unknown key"},
	{"unknown service key",
	 "service:\n  name: p\n  namespace: default\n  port: 1\n"
	 "  protocol: tcp\n  nmae: x\nsidecar: artifacts/istio-sidecar.deb\n"
	 "image: artifacts/productcatalogservice.tar\nidentity: identity\n"
	 "units: [units/productcatalog.service]\n",
	 NULL, "bundle.yaml:6:3: service.nmae: unknown key"},
	{"port of the wrong type",
	 "service:\n  name: p\n  namespace: default\n  port: abc\n"
	 "  protocol: tcp\nsidecar: artifacts/istio-sidecar.deb\n"
	 "image: artifacts/productcatalogservice.tar\nidentity: identity\n"
	 "units: [units/productcatalog.service]\n",
	 NULL, "bundle.yaml:4:9: service.port: must be an integer 1..65535, "
	 "got a string"},
	{"port out of range",
	 "service:\n  name: p\n  namespace: default\n  port: 70000\n"
	 "  protocol: tcp\nsidecar: artifacts/istio-sidecar.deb\n"
	 "image: artifacts/productcatalogservice.tar\nidentity: identity\n"
	 "units: [units/productcatalog.service]\n",
	 NULL, "bundle.yaml:4:9: service.port: must be an integer 1..65535, "
	 "got 70000"},
	{"quoted port is a string",
	 "service:\n  name: p\n  namespace: default\n  port: \"3550\"\n"
	 "  protocol: tcp\nsidecar: artifacts/istio-sidecar.deb\n"
	 "image: artifacts/productcatalogservice.tar\nidentity: identity\n"
	 "units: [units/productcatalog.service]\n",
	 NULL, "service.port: must be an integer 1..65535, got a string"},
	{"bad protocol",
	 "service:\n  name: p\n  namespace: default\n  port: 1\n"
	 "  protocol: udp\nsidecar: artifacts/istio-sidecar.deb\n"
	 "image: artifacts/productcatalogservice.tar\nidentity: identity\n"
	 "units: [units/productcatalog.service]\n",
	 NULL, "bundle.yaml:5:13: service.protocol: \"udp\" is not one of grpc, "
	 "http, http2, tcp"},
	{"bad service name",
	 "service:\n  name: Product_Catalog\n  namespace: default\n  port: 1\n"
	 "  protocol: tcp\nsidecar: artifacts/istio-sidecar.deb\n"
	 "image: artifacts/productcatalogservice.tar\nidentity: identity\n"
	 "units: [units/productcatalog.service]\n",
	 NULL, "bundle.yaml:2:9: service.name: \"Product_Catalog\" is not a "
	 "DNS-1123 label"},
	{"missing service", "sidecar: artifacts/istio-sidecar.deb\n"
	 "image: artifacts/productcatalogservice.tar\nidentity: identity\n"
	 "units: [units/productcatalog.service]\n",
	 NULL, "service: required"},
	{"sidecar of the wrong type",
	 "service:\n  name: p\n  namespace: default\n  port: 1\n"
	 "  protocol: tcp\nsidecar: [a, b]\n"
	 "image: artifacts/productcatalogservice.tar\nidentity: identity\n"
	 "units: [units/productcatalog.service]\n",
	 NULL, "bundle.yaml:6:10: sidecar: must be a non-empty string, got a "
	 "list"},
	{"missing sidecar file", NULL, "rm artifacts/istio-sidecar.deb",
	 "sidecar: ", /* + path + strerror, checked below */},
	{"sidecar not a package", NULL,
	 "cp units/productcatalog.service artifacts/istio-sidecar.deb",
	 "sidecar: neither a .deb nor an .rpm package"},
	{"image not an archive", NULL,
	 "echo hello > artifacts/productcatalogservice.tar",
	 "image: not a tar archive"},
	{"image tar without a manifest", NULL,
	 "mkdir x && echo hi > x/hello && tar -C x -cf "
	 "artifacts/productcatalogservice.tar hello",
	 "image: not a docker-save or OCI archive"},
	{"non-PEM root cert", NULL, "echo 'not a cert' > identity/root-cert.pem",
	 "identity/root-cert.pem: not a PEM X.509 certificate"},
	{"non-CA root cert", NULL,
	 "cp \"$MESHVM_FIXTURES/ca/leaf-cert.pem\" identity/root-cert.pem",
	 "identity/root-cert.pem: certificate 1 is not a CA certificate"},
	{"private key in identity", NULL,
	 "cp \"$MESHVM_FIXTURES/ca/root-key.pem\" identity/key.pem",
	 "identity/key.pem:1: contains a private key"},
	{"private key appended to the root cert", NULL,
	 "cat \"$MESHVM_FIXTURES/ca/root-key.pem\" >> identity/root-cert.pem",
	 "identity/root-cert.pem:"},
	/* Hidden behind a NUL byte: the scan covers the whole file. */
	{"RSA key behind a NUL in the root cert", NULL,
	 "printf '\\0\\n' >> identity/root-cert.pem && openssl genrsa "
	 "-traditional 1024 2>/dev/null >> identity/root-cert.pem",
	 "contains a private key"},
	{"EC key behind a NUL in hosts", NULL,
	 "printf '\\0' >> identity/hosts && openssl ecparam -genkey -noout "
	 "-name prime256v1 >> identity/hosts",
	 "identity/hosts:2: contains a private key"},
	{"PKCS#8 key behind a NUL in mesh.yaml", NULL,
	 "printf '\\0\\n' >> identity/mesh.yaml && openssl genpkey "
	 "-algorithm EC -pkeyopt ec_paramgen_curve:P-256 >> identity/mesh.yaml",
	 "contains a private key"},
	{"encrypted key behind a NUL", NULL,
	 "printf '\\0\\n' >> identity/root-cert.pem && openssl genpkey "
	 "-algorithm EC -pkeyopt ec_paramgen_curve:P-256 -aes256 -pass pass:x "
	 ">> identity/root-cert.pem",
	 "contains a private key"},
	{"OpenSSH key behind a NUL", NULL,
	 "printf '\\0\\n-----BEGIN OPENSSH PRIVATE KEY-----\\n"
	 "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ==\\n"
	 "-----END OPENSSH PRIVATE KEY-----\\n' >> identity/root-cert.pem",
	 "contains a private key"},
	{"JWT behind a NUL", NULL,
	 "printf '\\0eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2EifQ.c2ln\\n' "
	 ">> identity/root-cert.pem",
	 "contains a token (JWT)"},
	{"service-account JSON in the root cert", NULL,
	 "printf '{\\n  \"type\": \"service_account\",\\n  "
	 "\"project_id\": \"p\",\\n  \"client_email\": "
	 "\"a@p.iam.gserviceaccount.com\"\\n}\\n' >> identity/root-cert.pem",
	 "contains a service-account key"},
	{"service-account private_key field", NULL,
	 "printf '\\0{\"private_key_id\": \"0123\"}\\n' >> identity/cluster.env",
	 "contains a service-account key"},
	{"NUL byte in cluster.env", NULL, "printf '\\0' >> identity/cluster.env",
	 "identity/cluster.env:18: holds a NUL byte"},
	{"JWT in identity", NULL,
	 "printf 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2EifQ.c2ln\\n' > "
	 "identity/istio-token",
	 "identity/istio-token:1: contains a token (JWT): tokens are delivered "
	 "at launch, not baked"},
	{"cluster.env missing a key", NULL,
	 "grep -v TRUST_DOMAIN identity/cluster.env > e && "
	 "mv e identity/cluster.env",
	 "identity/cluster.env: missing required key TRUST_DOMAIN"},
	{"cluster.env malformed line", NULL,
	 "sed -i '3s/.*/ISTIO_INBOUND_PORTS=3550/' identity/cluster.env",
	 "identity/cluster.env:3: expected KEY='value'"},
	{"malformed hosts", NULL, "echo 'istiod.istio-system.svc' > identity/hosts",
	 "identity/hosts:1: expected 'IP name'"},
	{"bad IP in hosts", NULL,
	 "echo '300.1.2.3 istiod.istio-system.svc' > identity/hosts",
	 "identity/hosts:1: expected 'IP name'"},
	{"mesh.yaml without defaultConfig", NULL,
	 "echo 'meshId: x' > identity/mesh.yaml",
	 "identity/mesh.yaml: missing defaultConfig"},
	{"mesh.yaml syntax error", NULL,
	 "printf 'defaultConfig:\\n  a: [1\\n' > identity/mesh.yaml",
	 "identity/mesh.yaml:3:1: YAML syntax error"},
	{"identity file missing", NULL, "rm identity/hosts",
	 "identity/hosts: missing"},
	{"unexpected identity file", NULL, "echo hi > identity/notes.txt",
	 "identity/notes.txt: unexpected file"},
	{"no units", GOOD_SPEC "", "sed -i 's/^units:.*/units: []/' bundle.yaml",
	 "bundle.yaml:9:8: units: must be a non-empty list of .service files, "
	 "got an empty list"},
	{"unknown runtime", GOOD_SPEC "runtime: lxc\n", NULL,
	 "runtime: \"lxc\" is not one of systemd, docker, podman, "
	 "containerd"},
	{"unit that is not a .service", GOOD_SPEC,
	 "cp units/productcatalog.service units/x.timer && "
	 "sed -i 's/^units:.*/units: [units\\/x.timer]/' bundle.yaml",
	 "bundle.yaml:9:9: units[0]: \"x.timer\" is not a systemd .service unit "
	 "name"},
	{"reserved unit name", GOOD_SPEC,
	 "cp units/productcatalog.service units/istio.service && "
	 "sed -i 's/^units:.*/units: [units\\/istio.service]/' bundle.yaml",
	 "units[0]: istio.service is reserved"},
	{"YAML syntax error", "service:\n  name: p\n  port: [1\nsidecar: x\n",
	 NULL, "bundle.yaml:4:8: YAML syntax error"},
	{"tab indentation", "service:\n\tname: p\n", NULL,
	 "bundle.yaml:2:1: YAML syntax error"},
	{"not a mapping", "- a\n- b\n", NULL,
	 "a bundle spec is one YAML mapping"},
};

static char *
prepare(const struct spec_case *c, char **dir)
{
	char *spec;

	*dir = tu_tmpdir();
	spec = tu_copy_fixture_bundle(*dir);
	if (c->spec != NULL)
		tu_write(spec, c->spec);
	if (c->mutate != NULL) {
		char *out = NULL;
		int rc = tu_sh(&out, "cd '%s/bundle' && %s", *dir, c->mutate);
		if (rc != 0)
			print_error("mutation failed: %s\n", out);
		assert_int_equal(rc, 0);
		free(out);
	}
	return spec;
}

static void
test_good_fixture(void **state)
{
	char *dir, *path = tu_fmt("%s/bundle/bundle.yaml", tu_fixtures());
	struct bundle_spec *s = NULL;
	struct mv_err err;

	(void)state;
	(void)dir;
	mv_err_clear(&err);
	if (bundle_spec_load(path, &s, &err) != 0)
		print_error("%s\n", err.msg);
	assert_non_null(s);
	assert_string_equal(s->service.name, "productcatalogservice");
	assert_string_equal(s->service.namespace_, "default");
	assert_int_equal(s->service.port, 3550);
	assert_string_equal(s->service.protocol, "grpc");
	assert_int_equal(s->sidecar_format, BUNDLE_PKG_DEB);
	assert_string_equal(s->sidecar_version, "1.26.0-meshvm1");
	assert_string_equal(s->image_format, "docker-archive");
	assert_int_equal(s->n_units, 1);
	assert_contains(s->units[0], "units/productcatalog.service");
	assert_contains(s->identity_dir, "bundle/identity");
	bundle_spec_free(s);
	free(path);
}

static void
test_bad_specs(void **state)
{
	(void)state;
	assert_true(sizeof(bad_cases) / sizeof(bad_cases[0]) >= 15);
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct spec_case *c = &bad_cases[i];
		struct bundle_spec *s = NULL;
		struct mv_err err;
		char *all, *dir, *spec = prepare(c, &dir);

		mv_err_clear(&err);
		print_message("case: %s\n", c->name);
		assert_int_equal(bundle_spec_load(spec, &s, &err), -1);
		assert_null(s);
		assert_int_equal(err.exit_code, MV_EXIT_FAIL);
		all = mv_err_join(&err);
		assert_contains(all, c->expect);
		free(all);
		/* Every message names a file. */
		assert_true(strstr(err.msg, "bundle.yaml") != NULL ||
		            strstr(err.msg, "/bundle/") != NULL);
		mv_err_free(&err);
		tu_rmrf(dir);
		free(dir);
		free(spec);
	}
}

static void
test_missing_file_names_path(void **state)
{
	char *dir, *spec = prepare(&bad_cases[9], &dir);
	struct bundle_spec *s = NULL;
	struct mv_err err;

	(void)state;
	assert_int_equal(bundle_spec_load(spec, &s, &err), -1);
	assert_contains(err.msg, "bundle.yaml:10:10: sidecar: ");
	assert_contains(err.msg, "artifacts/istio-sidecar.deb: No such file");
	tu_rmrf(dir);
	free(dir);
	free(spec);
}

static void
test_all_errors_reported(void **state)
{
	struct spec_case c = {
		"several problems",
		"service:\n  name: P\n  namespace: default\n  port: 0\n"
		"  protocol: udp\nsidecar: artifacts/istio-sidecar.deb\n"
		"image: artifacts/productcatalogservice.tar\nidentity: identity\n"
		"units: [units/productcatalog.service]\n",
		"rm identity/hosts", NULL};
	char *dir, *spec = prepare(&c, &dir);
	struct bundle_spec *s = NULL;
	struct mv_err err;
	char *all;
	int lines = 1;

	(void)state;
	assert_int_equal(bundle_spec_load(spec, &s, &err), -1);
	all = mv_err_join(&err); /* every item, one a line */
	for (const char *p = all; *p; p++)
		lines += *p == '\n';
	assert_int_equal(lines, 4);
	assert_contains(all, "service.name");
	assert_contains(all, "service.port");
	assert_contains(all, "service.protocol");
	assert_contains(all, "identity/hosts: missing");
	/* the first problem keeps its position */
	assert_int_equal(err.line, 2);
	free(all);
	mv_err_free(&err);
	tu_rmrf(dir);
	free(dir);
	free(spec);
}

static void
test_oci_image_and_rpm_sidecar(void **state)
{
	/* An OCI layout tar, and an .rpm built by hand: lead, an empty
	 * signature header, a header with VERSION and RELEASE tags. */
	struct spec_case c = {
		"oci + rpm", NULL,
		"mkdir oci && echo '{\"imageLayoutVersion\":\"1.0.0\"}' > "
		"oci/oci-layout && echo '{\"schemaVersion\":2,\"manifests\":[]}' > "
		"oci/index.json && tar -C oci -cf "
		"artifacts/productcatalogservice.tar oci-layout index.json && "
		"python3 -c \"import struct,sys;"
		"lead=b'\\xed\\xab\\xee\\xdb'+bytes(92);"
		"sig=b'\\x8e\\xad\\xe8\\x01'+bytes(4)+struct.pack('>II',0,0);"
		"store=b'1.26.0\\x00' + b'1\\x00';"
		"idx=struct.pack('>IIII',1001,6,0,1)+struct.pack('>IIII',1002,6,7,1);"
		"hdr=b'\\x8e\\xad\\xe8\\x01'+bytes(4)+struct.pack('>II',2,len(store))"
		"+idx+store;"
		"sys.stdout.buffer.write(lead+sig+hdr)\" > artifacts/side.rpm && "
		"sed -i 's/istio-sidecar.deb/side.rpm/' bundle.yaml",
		NULL};
	char *dir, *spec = prepare(&c, &dir);
	struct bundle_spec *s = NULL;
	struct mv_err err;

	(void)state;
	mv_err_clear(&err);
	if (bundle_spec_load(spec, &s, &err) != 0)
		print_error("%s\n", err.msg);
	assert_non_null(s);
	assert_string_equal(s->image_format, "oci-archive");
	assert_int_equal(s->sidecar_format, BUNDLE_PKG_RPM);
	assert_string_equal(s->sidecar_version, "1.26.0-1");
	bundle_spec_free(s);
	tu_rmrf(dir);
	free(dir);
	free(spec);
}

static void
test_spec_from_buffer_resolves_base(void **state)
{
	char *base = tu_fmt("%s/bundle", tu_fixtures());
	struct bundle_spec *s = NULL;
	struct mv_err err;

	(void)state;
	assert_int_equal(bundle_spec_parse("mem.yaml", GOOD_SPEC,
	                                   strlen(GOOD_SPEC), base, &s, &err), 0);
	assert_contains(s->sidecar, base);
	bundle_spec_free(s);
	free(base);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_fixture),
		cmocka_unit_test(test_bad_specs),
		cmocka_unit_test(test_missing_file_names_path),
		cmocka_unit_test(test_all_errors_reported),
		cmocka_unit_test(test_oci_image_and_rpm_sidecar),
		cmocka_unit_test(test_spec_from_buffer_resolves_base),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
