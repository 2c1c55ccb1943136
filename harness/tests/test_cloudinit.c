/* test_cloudinit.c - cloudinit/: user-data, MIME multipart, GCE limits,
 * the seed ISO and validate.
 *
 * Golden user-data lives in fixtures/cloudinit/NAME.golden.yaml and is
 * compared structurally (both sides parsed with libyaml), with the join
 * script's body stood in for by "@JOIN_SH@" so editing the script does not
 * churn the goldens.  MESHVM_UPDATE_GOLDEN=1 rewrites them.
 */
#include <archive.h>
#include <archive_entry.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cloudinit/cloudinit.h"
#include "cloudinit/cloudinit_private.h"
#include "core/yaml.h"
#include "testutil.h"

#define PIN "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static char *tmp;

static int
setup(void **state)
{
	(void)state;
	tmp = tu_tmpdir();
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	tu_rmrf(tmp);
	free(tmp);
	return 0;
}

static struct cloudinit_join
join_for(enum cloudinit_source src)
{
	struct cloudinit_join j;

	memset(&j, 0, sizeof(j));
	j.source = src;
	j.bundle_url = src == CLOUDINIT_SOURCE_URL
	                       ? "gs://meshvm-bundles/vm/productcatalogservice.bundle"
	                       : NULL;
	memcpy(j.bundle_sha256, PIN, sizeof(PIN));
	j.runtime = src == CLOUDINIT_SOURCE_URL ? "docker" : "none";
	j.ready_timeout = src == CLOUDINIT_SOURCE_URL ? 300 : 120;
	return j;
}

/* Parse user-data, check the join script's body and swap in @JOIN_SH@. */
static json_t *
normalised(const char *name, const char *text, size_t len,
           struct mv_yaml **yo)
{
	struct mv_yaml *y = NULL;
	struct mv_err err;
	json_t *doc, *wf, *first;

	mv_err_clear(&err);
	if (mv_yaml_load_buf(name, text, len, &y, &err) != 0)
		print_error("%s\n", err.msg);
	assert_non_null(y);
	assert_int_equal(mv_yaml_count(y), 1);
	doc = mv_yaml_doc(y, 0);
	wf = json_object_get(doc, "write_files");
	first = json_array_get(wf, 0);
	assert_non_null(first);
	assert_string_equal(json_string_value(json_object_get(first, "path")),
	                    CLOUDINIT_JOIN_PATH);
	if (strcmp(json_string_value(json_object_get(first, "content")),
	           "@JOIN_SH@") != 0) {
		assert_string_equal(json_string_value(json_object_get(first,
		                                                      "content")),
		                    cloudinit_join_script(NULL));
		json_object_set_new(first, "content", json_string("@JOIN_SH@"));
	}
	*yo = y;
	return doc;
}

static void
golden_compare(const char *golden, const char *text, size_t len)
{
	char *path = tu_fmt("%s/fixtures/cloudinit/%s", tu_src(), golden);
	struct mv_yaml *gy, *ty;
	json_t *g, *t;
	char *gtext;
	size_t glen;

	if (getenv("MESHVM_UPDATE_GOLDEN") != NULL) {
		/* The script is the first write_files entry, emitted verbatim
		 * as a literal block: swap the block for the placeholder. */
		const char *at = strstr(text, "content: |\n    #!/bin/sh\n");
		const char *end = at ? strstr(at, "\n- path:") : NULL;
		char *out;

		assert_non_null(end);
		out = tu_fmt("%.*scontent: '@JOIN_SH@'%s", (int)(at - text), text,
		             end);
		tu_write(path, out);
		free(out);
	}
	gtext = tu_read(path, &glen);
	if (gtext == NULL)
		print_error("missing golden %s (MESHVM_UPDATE_GOLDEN=1)\n", path);
	assert_non_null(gtext);
	g = normalised(path, gtext, glen, &gy);
	t = normalised("generated", text, len, &ty);
	if (!json_equal(g, t)) {
		char *a = json_dumps(g, JSON_INDENT(1) | JSON_SORT_KEYS);
		char *b = json_dumps(t, JSON_INDENT(1) | JSON_SORT_KEYS);
		print_error("golden %s differs:\n--- golden\n%s\n--- generated\n%s\n",
		            golden, a, b);
		free(a);
		free(b);
		fail();
	}
	mv_yaml_free(gy);
	mv_yaml_free(ty);
	free(gtext);
	free(path);
}

/*--- user-data -----------------------------------------------------------*/

static void
assert_modes_quoted(const char *text, size_t len)
{
	struct mv_yaml *y = NULL;
	struct mv_err err;
	json_t *wf, *item;
	size_t i;

	assert_int_equal(mv_yaml_load_buf("ud", text, len, &y, &err), 0);
	wf = json_object_get(mv_yaml_doc(y, 0), "write_files");
	assert_int_equal(json_array_size(wf), 4);
	json_array_foreach(wf, i, item) {
		struct mv_yaml_pos pos;
		assert_int_equal(mv_yaml_value_pos(y, item, "permissions", &pos), 0);
		assert_int_equal(pos.style, MV_YAML_SINGLE_QUOTED);
		assert_string_equal(json_string_value(json_object_get(item, "owner")),
		                    "root:root");
		assert_true(json_is_string(json_object_get(item, "content")));
	}
	mv_yaml_free(y);
}

static void
test_cloud_config_seed_golden(void **state)
{
	struct cloudinit_join j = join_for(CLOUDINIT_SOURCE_SEED);
	struct mv_err err;
	char *ud = NULL;
	size_t len = 0;

	(void)state;
	assert_int_equal(cloudinit_cloud_config(&j, &ud, &len, &err), 0);
	assert_int_equal(strncmp(ud, "#cloud-config\n", 14), 0);
	assert_int_equal(strlen(ud), len);
	golden_compare("user-data.seed.golden.yaml", ud, len);
	assert_modes_quoted(ud, len);
	/* never the token, never a non-root owner */
	assert_null(strstr(ud, "eyJ"));
	assert_null(strstr(ud, "owner: istio-proxy"));
	/* our own validator accepts it */
	assert_int_equal(cloudinit_validate_buf("ud", ud, len, &err), 0);
	free(ud);
}

static void
test_cloud_config_url_golden(void **state)
{
	struct cloudinit_join j = join_for(CLOUDINIT_SOURCE_URL);
	struct mv_err err;
	char *ud = NULL, *again = NULL;
	size_t len = 0, len2 = 0;

	(void)state;
	assert_int_equal(cloudinit_cloud_config(&j, &ud, &len, &err), 0);
	golden_compare("user-data.url.golden.yaml", ud, len);
	assert_modes_quoted(ud, len);
	assert_int_equal(cloudinit_validate_buf("ud", ud, len, &err), 0);
	/* same inputs, same bytes */
	assert_int_equal(cloudinit_cloud_config(&j, &again, &len2, &err), 0);
	assert_int_equal(len, len2);
	assert_memory_equal(ud, again, len);
	free(ud);
	free(again);
}

static void
test_join_script_embedded(void **state)
{
	char *path = tu_fmt("%s/cloudinit/join.sh", tu_src());
	size_t n = 0, m = 0;
	char *src = tu_read(path, &n);
	const char *emb = cloudinit_join_script(&m);

	(void)state;
	assert_non_null(src);
	assert_int_equal(n, m);
	assert_memory_equal(src, emb, n);
	/* literal-block friendly: ASCII, no tabs, no trailing spaces */
	for (size_t i = 0; i < m; i++)
		assert_true((unsigned char)emb[i] < 0x80);
	assert_null(strchr(emb, '\t'));
	assert_null(strstr(emb, " \n"));
	free(src);
	free(path);
}

static void
test_bad_join_inputs(void **state)
{
	struct cloudinit_join j = join_for(CLOUDINIT_SOURCE_URL);
	struct mv_err err;
	char *ud = NULL;
	size_t len;

	(void)state;
	j.runtime = "lxc";
	assert_int_equal(cloudinit_cloud_config(&j, &ud, &len, &err), -1);
	assert_contains(err.msg, "'lxc' is not one of auto, docker");
	j = join_for(CLOUDINIT_SOURCE_URL);
	j.bundle_url = "http://example.invalid/b";
	assert_int_equal(cloudinit_cloud_config(&j, &ud, &len, &err), -1);
	assert_contains(err.msg, "neither https:// nor gs://");
	j.bundle_url = "gs://bucket-only";
	assert_int_equal(cloudinit_cloud_config(&j, &ud, &len, &err), -1);
	assert_contains(err.msg, "expected gs://BUCKET/OBJECT");
	j.bundle_url = "https://h/x\nMESHVM_RUNTIME=docker";
	assert_int_equal(cloudinit_cloud_config(&j, &ud, &len, &err), -1);
	assert_contains(err.msg, "control characters");
	j = join_for(CLOUDINIT_SOURCE_SEED);
	j.bundle_sha256[0] = 'X';
	assert_int_equal(cloudinit_cloud_config(&j, &ud, &len, &err), -1);
	assert_null(ud);
}

/*--- MIME multipart ------------------------------------------------------*/

/* The payload of part `n` (1-based) of a multipart we wrote. */
static char *
mime_part(const char *mime, int n, char *type, size_t type_len)
{
	const char *b = strstr(mime, "boundary=\"");
	char boundary[100], delim[110];
	const char *p, *hdr_end, *next;
	size_t blen;

	assert_non_null(b);
	b += 10;
	blen = (size_t)(strchr(b, '"') - b);
	snprintf(boundary, sizeof(boundary), "%.*s", (int)blen, b);
	snprintf(delim, sizeof(delim), "\n--%s", boundary);
	p = mime;
	for (int i = 0; i < n; i++) {
		p = strstr(p, delim);
		assert_non_null(p);
		p += strlen(delim);
	}
	assert_int_equal(*p, '\n');
	const char *ct = strstr(p, "Content-Type: ");
	assert_non_null(ct);
	ct += 14;
	snprintf(type, type_len, "%.*s", (int)strcspn(ct, ";\n"), ct);
	hdr_end = strstr(p, "\n\n");
	assert_non_null(hdr_end);
	hdr_end += 2;
	next = strstr(hdr_end, delim);
	assert_non_null(next);
	return tu_fmt("%.*s", (int)(next - hdr_end), hdr_end);
}

static void
test_multipart(void **state)
{
	struct cloudinit_join j = join_for(CLOUDINIT_SOURCE_SEED);
	char *extra = tu_fmt("%s/extra.yaml", tmp);
	char *script = tu_fmt("%s/extra.sh", tmp);
	const char *extra_text = "#cloud-config\npower_state:\n  mode: poweroff\n";
	struct mv_err err;
	char *ud = NULL, *ud2 = NULL, *cc = NULL, *part;
	size_t len = 0, len2 = 0, cc_len = 0;
	char type[64];

	(void)state;
	tu_write(extra, extra_text);
	assert_int_equal(cloudinit_user_data(&j, extra, &ud, &len, &err), 0);
	assert_int_equal(cloudinit_cloud_config(&j, &cc, &cc_len, &err), 0);
	assert_int_equal(strncmp(ud, "Content-Type: multipart/mixed; boundary=\"",
	                         41), 0);
	assert_contains(ud, "\nMIME-Version: 1.0\n\n--");
	/* the extra part first, ours last (cloud-init merges in order) */
	part = mime_part(ud, 1, type, sizeof(type));
	assert_string_equal(type, "text/cloud-config");
	assert_string_equal(part, extra_text);
	free(part);
	part = mime_part(ud, 2, type, sizeof(type));
	assert_string_equal(type, "text/cloud-config");
	assert_string_equal(part, cc);
	free(part);
	assert_contains(ud, "Content-Disposition: attachment; filename=\"extra.yaml\"");
	assert_contains(ud, "Content-Transfer-Encoding: 7bit");
	assert_int_equal(cloudinit_validate_buf("ud", ud, len, &err), 0);
	/* deterministic */
	assert_int_equal(cloudinit_user_data(&j, extra, &ud2, &len2, &err), 0);
	assert_int_equal(len, len2);
	assert_memory_equal(ud, ud2, len);
	free(ud);
	free(ud2);

	/* a script part */
	tu_write(script, "#!/bin/sh\necho hello from the extra part\n");
	assert_int_equal(cloudinit_user_data(&j, script, &ud, &len, &err), 0);
	part = mime_part(ud, 1, type, sizeof(type));
	assert_string_equal(type, "text/x-shellscript");
	assert_string_equal(part, "#!/bin/sh\necho hello from the extra part\n");
	free(part);
	assert_int_equal(cloudinit_validate_buf("ud", ud, len, &err), 0);
	free(ud);

	/* neither: refused, naming the file */
	tu_write(script, "power_state: {mode: poweroff}\n");
	assert_int_equal(cloudinit_user_data(&j, script, &ud, &len, &err), -1);
	assert_contains(err.msg, "extra.sh:1: --user-data-extra must start");
	/* a broken extra cloud-config is reported against its own file */
	tu_write(extra, "#cloud-config\nruncmd:\n  - [ls\n");
	assert_int_equal(cloudinit_user_data(&j, extra, &ud, &len, &err), -1);
	assert_contains(err.msg, "extra.yaml:");
	tu_write(extra, "#cloud-config\npackges: [curl]\n");
	assert_int_equal(cloudinit_user_data(&j, extra, &ud, &len, &err), -1);
	assert_contains(err.msg, "extra.yaml:2:1: unknown top-level key 'packges'");
	free(cc);
	free(extra);
	free(script);
}

static void
test_multipart_utf8_base64(void **state)
{
	const char *text = "#cloud-config\nfinal_message: \"d\xc3\xa9j\xc3\xa0 vu\"\n";
	struct cloudinit_part parts[1] = {
		{"msg.yaml", "text/cloud-config", text, strlen(text)}};
	struct mv_err err;
	char *out = NULL;
	size_t len;

	(void)state;
	assert_int_equal(cloudinit_mime_multipart(parts, 1, &out, &len, &err), 0);
	assert_contains(out, "Content-Type: text/cloud-config; charset=\"utf-8\"");
	assert_contains(out, "Content-Transfer-Encoding: base64");
	assert_null(strstr(out, "final_message"));
	/* validate decodes the part and checks it */
	assert_int_equal(cloudinit_validate_buf("mp", out, len, &err), 0);
	free(out);
}

/*--- GCE limits ----------------------------------------------------------*/

static json_t *
item(const char *key, size_t value_len)
{
	char *v = malloc(value_len + 1);
	json_t *o = json_object();

	assert_non_null(v);
	memset(v, 'x', value_len);
	v[value_len] = '\0';
	json_object_set_new(o, "key", json_string(key));
	json_object_set_new(o, "value", json_stringn(v, value_len));
	free(v);
	return o;
}

static int
check_items(json_t *items, struct mv_err *err)
{
	int rc = cloudinit_gce_check_items(items, err);

	json_decref(items);
	return rc;
}

static void
test_gce_limits_boundaries(void **state)
{
	struct mv_err err;
	json_t *a;

	(void)state;
	/* per value: 262144 fits, 262145 does not */
	a = json_array();
	json_array_append_new(a, item("user-data", 262144));
	assert_int_equal(check_items(a, &err), 0);
	a = json_array();
	json_array_append_new(a, item("user-data", 262145));
	assert_int_equal(check_items(a, &err), -1);
	assert_contains(err.msg, "value of 'user-data' is 262145 bytes, over the "
	                         "per-value limit of 262144 bytes");
	/* in all: keys + values, 524288 fits, 524289 does not */
	a = json_array();
	json_array_append_new(a, item("k1", 262144));
	json_array_append_new(a, item("k2", 524288 - 262144 - 4));
	assert_int_equal(check_items(a, &err), 0);
	a = json_array();
	json_array_append_new(a, item("k1", 262144));
	json_array_append_new(a, item("k2", 524288 - 262144 - 4 + 1));
	assert_int_equal(check_items(a, &err), -1);
	assert_contains(err.msg, "total 524289 bytes, over the limit of 524288 "
	                         "bytes");
	/* keys: [a-zA-Z0-9-_]{1,127} */
	char key[130];
	memset(key, 'k', 127);
	key[127] = '\0';
	a = json_array();
	json_array_append_new(a, item(key, 1));
	assert_int_equal(check_items(a, &err), 0);
	key[127] = 'k';
	key[128] = '\0';
	a = json_array();
	json_array_append_new(a, item(key, 1));
	assert_int_equal(check_items(a, &err), -1);
	assert_contains(err.msg, "does not match [a-zA-Z0-9-_]{1,127}");
	a = json_array();
	json_array_append_new(a, item("user.data", 1));
	assert_int_equal(check_items(a, &err), -1);
	a = json_array();
	json_array_append_new(a, item("", 1));
	assert_int_equal(check_items(a, &err), -1);
	a = json_array();
	json_array_append_new(a, item("user-data", 1));
	json_array_append_new(a, item("user-data", 1));
	assert_int_equal(check_items(a, &err), -1);
	assert_contains(err.msg, "appears twice");
}

/*--- validate: linear in the parts, stops at the size limit -------------*/

/* A multipart of n cloud-config parts; the last one has an unknown key on
 * line *bad_line. */
static char *
many_parts(size_t n, int *bad_line)
{
	static const char head[] = "Content-Type: multipart/mixed; "
	                           "boundary=\"B\"\nMIME-Version: 1.0\n\n";
	static const char part[] = "--B\nContent-Type: text/cloud-config\n\n"
	                           "#cloud-config\nruncmd: [echo]\n";
	size_t cap = sizeof(head) + n * sizeof(part) + 64, off = 0;
	char *b = malloc(cap);
	int line = 3;

	assert_non_null(b);
	off += (size_t)snprintf(b + off, cap - off, "%s", head);
	for (size_t i = 0; i < n; i++) {
		off += (size_t)snprintf(b + off, cap - off, "%s", part);
		line += 5;
	}
	/* the last part's "runcmd" line becomes "bogus: 1" */
	memcpy(b + off - strlen("runcmd: [echo]\n"), "bogus: 1\n     \n", 15);
	*bad_line = line;
	off += (size_t)snprintf(b + off, cap - off, "--B--\n");
	return b;
}

static void
test_validate_linear_in_parts(void **state)
{
	struct mv_err err;
	size_t w10k = 0, w100k = 0;
	int bad1, bad2;
	char *b1 = many_parts(10000, &bad1), *b2 = many_parts(100000, &bad2);
	char want[160];

	(void)state;
	mv_err_clear(&err);
	assert_int_equal(ci_validate("ud", b1, strlen(b1), SIZE_MAX, &w10k, &err),
	                 -1);
	snprintf(want, sizeof(want), "ud:%d:1: unknown top-level key 'bogus' (cloud-init ignores it without a word)",
	         bad1);
	assert_string_equal(err.msg, want); /* the only error, at its line */
	assert_int_equal(ci_validate("ud", b2, strlen(b2), SIZE_MAX, &w100k,
	                             &err), -1);
	snprintf(want, sizeof(want), "ud:%d:1: unknown top-level key 'bogus' (cloud-init ignores it without a word)",
	         bad2);
	assert_string_equal(err.msg, want);
	/* Ten times the parts, ten times the bytes scanned (padding each part
	 * to its line made it ~n^2/2 lines). */
	assert_true(w10k >= strlen(b1));
	assert_true(w100k <= 10 * w10k + 10 * strlen(b2) / 100);
	assert_true(w100k <= 3 * strlen(b2));
	free(b1);
	free(b2);
}

static void
test_validate_stops_at_size_limit(void **state)
{
	struct mv_err err;
	size_t work = 1;
	int bad;
	char *b = many_parts(100000, &bad);

	(void)state;
	mv_err_clear(&err);
	assert_int_equal(ci_validate("ud", b, strlen(b),
	                             CLOUDINIT_GCE_VALUE_MAX, &work, &err), -1);
	assert_contains(err.msg, "over GCE's metadata value limit");
	assert_null(strchr(err.msg, '\n')); /* that error alone */
	assert_int_equal(work, 0);           /* nothing past it was parsed */
	assert_int_equal(err.exit_code, MV_EXIT_VERIFY);
	free(b);
}

/*--- the CLI: userdata and seed -----------------------------------------*/

static char *
bake_fixture(void)
{
	char *out = tu_fmt("%s/fixture.bundle", tmp);

	if (!tu_exists(out))
		assert_int_equal(tu_sh(NULL, "'%s' bake -f '%s/bundle/bundle.yaml' "
		                             "-o '%s'", tu_bin(), tu_fixtures(), out),
		                 0);
	return out;
}

static char *
token_file(void)
{
	char *p = tu_fmt("%s/token", tmp);

	/* {"alg":"RS256"} . {"exp":4102444800} . sig, plus kubectl's newline */
	tu_write(p, "eyJhbGciOiJSUzI1NiJ9.eyJleHAiOjQxMDI0NDQ4MDB9.c2ln\n");
	chmod(p, 0600);
	return p;
}

static void
test_cli_userdata(void **state)
{
	char *bundle = bake_fixture(), *out = tu_fmt("%s/ud", tmp);
	char *big = tu_fmt("%s/big.sh", tmp), *log = NULL, *ud;
	size_t len;
	json_t *doc, *items;
	json_error_t jerr;
	struct mv_err err;

	(void)state;
	assert_int_equal(tu_sh(&log, "'%s' cloudinit userdata --bundle '%s' "
	                             "--bundle-url gs://b/o/vm.bundle -o '%s' "
	                             "--runtime docker --json", tu_bin(), bundle,
	                       out), 0);
	doc = json_loads(log, 0, &jerr);
	assert_non_null(doc);
	items = json_object_get(json_object_get(doc, "metadata"), "items");
	assert_int_equal(json_array_size(items), 1);
	assert_string_equal(json_string_value(json_object_get(
	                        json_array_get(items, 0), "key")), "user-data");
	ud = tu_read(out, &len);
	assert_non_null(ud);
	assert_string_equal(json_string_value(json_object_get(
	                        json_array_get(items, 0), "value")), ud);
	assert_int_equal(json_integer_value(json_object_get(doc, "bytes")), len);
	assert_contains(ud, "MESHVM_BUNDLE_URL=gs://b/o/vm.bundle");
	assert_contains(ud, "MESHVM_TOKEN_SOURCE=metadata");
	assert_contains(ud, "MESHVM_RUNTIME=docker");
	assert_contains(ud, json_string_value(json_object_get(doc,
	                                                      "bundle_sha256")));
	assert_int_equal(cloudinit_validate_buf("ud", ud, len, &err), 0);
	assert_null(strstr(ud, "MESHVM_STORAGE_URL=http"));
	json_decref(doc);
	free(ud);
	free(log);

	/* --storage-url: join.conf points gs:// fetches at that endpoint */
	assert_int_equal(tu_sh(&log, "'%s' cloudinit userdata --bundle '%s' "
	                             "--bundle-url gs://b/o -o '%s' --storage-url "
	                             "http://metadata.google.internal/storage/v1",
	                       tu_bin(), bundle, out), 0);
	free(log);
	ud = tu_read(out, &len);
	assert_non_null(ud);
	assert_contains(ud, "MESHVM_STORAGE_URL=http://metadata.google.internal"
	                    "/storage/v1\n");
	free(ud);
	const char *bad_urls[] = {"ftp://h/x", "https://", "http://h/x/",
	                          "https://h/x?q=1", "https://h/$(id)",
	                          "https://h/'x"};
	for (size_t i = 0; i < sizeof(bad_urls) / sizeof(bad_urls[0]); i++) {
		assert_int_equal(tu_sh(&log, "'%s' cloudinit userdata --bundle '%s' "
		                             "--bundle-url gs://b/o -o '%s.bad' "
		                             "--storage-url \"%s\"", tu_bin(), bundle,
		                       out, bad_urls[i]), 2);
		assert_contains(log, "--storage-url");
		free(log);
	}

	/* over the per-value limit: named, sized, nothing written */
	unlink(out);
	char *filler = malloc(262144 + 1);
	assert_non_null(filler);
	memset(filler, '#', 262144);
	filler[0] = '#';
	filler[1] = '!';
	filler[2] = '\n';
	filler[262144] = '\0';
	tu_write(big, filler);
	free(filler);
	assert_int_equal(tu_sh(&log, "'%s' cloudinit userdata --bundle '%s' "
	                             "--bundle-url https://h/vm.bundle -o '%s' "
	                             "--user-data-extra '%s'", tu_bin(), bundle,
	                       out, big), 1);
	assert_contains(log, "over the per-value limit of 262144 bytes");
	assert_false(tu_exists(out));
	free(log);

	/* usage errors */
	assert_int_equal(tu_sh(NULL, "'%s' cloudinit userdata --bundle '%s' -o "
	                             "'%s'", tu_bin(), bundle, out), 2);
	assert_int_equal(tu_sh(&log, "'%s' cloudinit userdata --bundle '%s' "
	                             "--bundle-url ftp://x/y -o '%s'", tu_bin(),
	                       bundle, out), 2);
	assert_contains(log, "neither https:// nor gs://");
	free(log);
	assert_int_equal(tu_sh(NULL, "'%s' cloudinit userdata --bundle '%s' "
	                             "--bundle-url https://h/b -o '%s' "
	                             "--runtime lxc", tu_bin(), bundle, out), 2);
	assert_int_equal(tu_sh(NULL, "'%s' cloudinit userdata --bundle '%s' "
	                             "--bundle-url https://h/b -o '%s' "
	                             "--ready-timeout 0", tu_bin(), bundle, out),
	                 2);
	assert_false(tu_exists(out));
	for (int i = 0; i < 4; i++) {
		const char *sub[] = {"", "seed", "userdata", "validate"};
		assert_int_equal(tu_sh(&log, "'%s' cloudinit %s --help", tu_bin(),
		                       sub[i]), 0);
		assert_contains(log, "usage: meshvm cloudinit");
		free(log);
	}
	free(bundle);
	free(out);
	free(big);
}

/* Read an ISO back with libarchive: path → (mode, content). */
struct iso_entry {
	char path[64];
	unsigned mode;
	int is_dir;
	char *data;
	size_t len;
};

static size_t
read_iso(const char *path, struct iso_entry *ents, size_t max)
{
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	size_t n = 0;

	archive_read_support_format_iso9660(a);
	assert_int_equal(archive_read_open_filename(a, path, 10240), ARCHIVE_OK);
	while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
		if (!strcmp(archive_entry_pathname(e), ".") ||
		    !strcmp(archive_entry_pathname(e), "./"))
			continue; /* the root directory */
		assert_true(n < max);
		snprintf(ents[n].path, sizeof(ents[n].path), "%s",
		         archive_entry_pathname(e));
		ents[n].mode = archive_entry_perm(e);
		ents[n].is_dir = archive_entry_filetype(e) == AE_IFDIR;
		assert_int_equal(archive_entry_uid(e), 0);
		assert_int_equal(archive_entry_gid(e), 0);
		ents[n].len = ents[n].is_dir ? 0 : (size_t)archive_entry_size(e);
		ents[n].data = malloc(ents[n].len + 1);
		assert_non_null(ents[n].data);
		if (ents[n].len)
			assert_int_equal(archive_read_data(a, ents[n].data, ents[n].len),
			                 (la_ssize_t)ents[n].len);
		ents[n].data[ents[n].len] = '\0';
		n++;
	}
	archive_read_free(a);
	return n;
}

static struct iso_entry *
find_entry(struct iso_entry *ents, size_t n, const char *path)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(ents[i].path, path) == 0 ||
		    (ents[i].is_dir && !strncmp(ents[i].path, path, strlen(path)) &&
		     ents[i].path[strlen(path)] == '/' &&
		     ents[i].path[strlen(path) + 1] == '\0'))
			return &ents[i];
	return NULL;
}

static void
free_iso(struct iso_entry *ents, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(ents[i].data);
}

static void
test_cli_seed_read_back(void **state)
{
	char *bundle = bake_fixture(), *tok = token_file();
	char *iso = tu_fmt("%s/seed.iso", tmp), *iso2 = tu_fmt("%s/seed2.iso", tmp);
	char *netcfg = tu_fmt("%s/net.yaml", tmp), *log = NULL;
	struct iso_entry e1[16], e2[16], *e;
	size_t n1, n2, blen;
	char *bdata, *hdr;
	FILE *f;

	(void)state;
	tu_write(netcfg, "version: 2\nethernets:\n  eth0:\n    dhcp4: true\n");
	assert_int_equal(tu_sh(&log, "'%s' cloudinit seed --bundle '%s' "
	                             "--token-file '%s' -o '%s' --runtime none "
	                             "--instance-id iid-test --hostname vm-1 "
	                             "--network-config '%s'", tu_bin(), bundle,
	                       tok, iso, netcfg), 0);
	assert_null(strstr(log, "eyJ")); /* the token is never printed */
	free(log);
	n1 = read_iso(iso, e1, 16);
	assert_int_equal(n1, 7); /* 6 files + meshvm/ */
	e = find_entry(e1, n1, "user-data");
	assert_non_null(e);
	assert_int_equal(e->mode, 0644);
	assert_int_equal(strncmp(e->data, "#cloud-config\n", 14), 0);
	assert_contains(e->data, "MESHVM_BUNDLE_SOURCE=seed");
	assert_contains(e->data, "MESHVM_RUNTIME=none");
	assert_null(strstr(e->data, "eyJ"));
	e = find_entry(e1, n1, "meta-data");
	assert_non_null(e);
	assert_int_equal(e->mode, 0644);
	assert_string_equal(e->data, "instance-id: iid-test\nlocal-hostname: vm-1\n");
	e = find_entry(e1, n1, "network-config");
	assert_non_null(e);
	assert_string_equal(e->data, "version: 2\nethernets:\n  eth0:\n    dhcp4: true\n");
	e = find_entry(e1, n1, "meshvm");
	assert_non_null(e);
	assert_true(e->is_dir);
	assert_int_equal(e->mode, 0755);
	e = find_entry(e1, n1, "meshvm/istio-token");
	assert_non_null(e);
	assert_int_equal(e->mode, 0600);
	assert_string_equal(e->data,
	                    "eyJhbGciOiJSUzI1NiJ9.eyJleHAiOjQxMDI0NDQ4MDB9.c2ln");
	e = find_entry(e1, n1, "meshvm/bundle");
	assert_non_null(e);
	assert_int_equal(e->mode, 0644);
	bdata = tu_read(bundle, &blen);
	assert_int_equal(e->len, blen);
	assert_memory_equal(e->data, bdata, blen);
	free(bdata);
	/* the same join for an image whose guest agent runs a script */
	e = find_entry(e1, n1, "meshvm/startup-script");
	assert_non_null(e);
	assert_int_equal(e->mode, 0755);
	assert_int_equal(strncmp(e->data, "#!/bin/sh\n", 10), 0);
	assert_contains(e->data, "MESHVM_BUNDLE_SOURCE=seed\n");
	assert_contains(e->data, "MESHVM_RUNTIME=none\n");

	/* volume ids: primary CIDATA, Joliet (UCS-2) cidata */
	f = fopen(iso, "rb");
	assert_non_null(f);
	hdr = malloc(2048 * 4);
	assert_non_null(hdr);
	assert_int_equal(fseek(f, 16 * 2048, SEEK_SET), 0);
	assert_int_equal(fread(hdr, 1, 2048 * 4, f), 2048 * 4);
	fclose(f);
	assert_int_equal((unsigned char)hdr[0], 1);
	assert_memory_equal(hdr + 1, "CD001", 5);
	assert_memory_equal(hdr + 40, "CIDATA ", 7);
	{
		int joliet = 0;
		for (int d = 1; d < 4; d++) {
			const char *v = hdr + d * 2048;
			if ((unsigned char)v[0] == 2 &&
			    !memcmp(v + 40, "\0c\0i\0d\0a\0t\0a", 12))
				joliet = 1;
		}
		assert_true(joliet);
	}
	free(hdr);

	/* same inputs: same tree, contents and modes */
	assert_int_equal(tu_sh(NULL, "'%s' cloudinit seed --bundle '%s' "
	                             "--token-file '%s' -o '%s' --runtime none "
	                             "--instance-id iid-test --hostname vm-1 "
	                             "--network-config '%s'", tu_bin(), bundle,
	                       tok, iso2, netcfg), 0);
	n2 = read_iso(iso2, e2, 16);
	assert_int_equal(n1, n2);
	for (size_t i = 0; i < n1; i++) {
		e = find_entry(e2, n2, e1[i].path);
		assert_non_null(e);
		assert_int_equal(e->mode, e1[i].mode);
		assert_int_equal(e->len, e1[i].len);
		assert_memory_equal(e->data, e1[i].data, e1[i].len);
	}
	free_iso(e1, n1);
	free_iso(e2, n2);
	free(bundle);
	free(tok);
	free(iso);
	free(iso2);
	free(netcfg);
}

/* The ISO holds the token: 0600 with a permissive umask and a
 * world-readable token file, and --json says so. */
static void
test_cli_seed_mode_0600(void **state)
{
	char *bundle = bake_fixture(), *tok = token_file();
	char *iso = tu_fmt("%s/seed-mode.iso", tmp), *log = NULL;
	json_error_t jerr;
	json_t *o;
	struct stat st;

	(void)state;
	chmod(tok, 0644);
	assert_int_equal(tu_sh(&log, "umask 000; '%s' cloudinit seed --bundle "
	                             "'%s' --token-file '%s' -o '%s' --runtime "
	                             "none --json", tu_bin(), bundle, tok, iso),
	                 0);
	assert_int_equal(stat(iso, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	o = json_loads(log, 0, &jerr);
	assert_non_null(o);
	assert_string_equal(json_string_value(json_object_get(o, "mode")),
	                    "0600");
	json_decref(o);
	/* Replacing an old world-readable ISO narrows it too. */
	assert_int_equal(chmod(iso, 0644), 0);
	assert_int_equal(tu_sh(NULL, "umask 000; '%s' cloudinit seed --bundle "
	                             "'%s' --token-file '%s' -o '%s' --runtime "
	                             "none", tu_bin(), bundle, tok, iso), 0);
	assert_int_equal(stat(iso, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	free(log);
	free(bundle);
	free(tok);
	free(iso);
}

static void
test_cli_seed_refusals(void **state)
{
	char *bundle = bake_fixture(), *tok = token_file();
	char *iso = tu_fmt("%s/refused.iso", tmp), *bad = tu_fmt("%s/bad", tmp);
	char *log = NULL;
	size_t len;
	char *b;

	(void)state;
	/* not a JWT: refused without echoing it */
	tu_write(bad, "s3cr3t-not-a-jwt\n");
	assert_int_equal(tu_sh(&log, "'%s' cloudinit seed --bundle '%s' "
	                             "--token-file '%s' -o '%s'", tu_bin(), bundle,
	                       bad, iso), 1);
	assert_contains(log, "not a JWT");
	assert_null(strstr(log, "s3cr3t"));
	free(log);
	assert_false(tu_exists(iso));
	/* a tampered bundle: verification failed (3), nothing written */
	b = tu_read(bundle, &len);
	b[len / 2] ^= 1;
	tu_write_bytes(bad, b, len);
	free(b);
	assert_int_equal(tu_sh(NULL, "'%s' cloudinit seed --bundle '%s' "
	                             "--token-file '%s' -o '%s'", tu_bin(), bad,
	                       tok, iso), 3);
	assert_false(tu_exists(iso));
	/* bad hostname, bad network-config, missing options */
	assert_int_equal(tu_sh(&log, "'%s' cloudinit seed --bundle '%s' "
	                             "--token-file '%s' -o '%s' --hostname "
	                             "-bad-", tu_bin(), bundle, tok, iso), 2);
	assert_contains(log, "not a valid host name");
	free(log);
	tu_write(bad, "- just\n- a list\n");
	assert_int_equal(tu_sh(&log, "'%s' cloudinit seed --bundle '%s' "
	                             "--token-file '%s' -o '%s' "
	                             "--network-config '%s'", tu_bin(), bundle,
	                       tok, iso, bad), 1);
	assert_contains(log, "network-config must be one YAML mapping");
	free(log);
	assert_int_equal(tu_sh(NULL, "'%s' cloudinit seed --bundle '%s' -o '%s'",
	                       tu_bin(), bundle, iso), 2);
	assert_false(tu_exists(iso));
	free(bundle);
	free(tok);
	free(iso);
	free(bad);
}

/*--- validate: data-driven bad inputs -----------------------------------*/

/* fixtures/cloudinit/bad/NAME.user-data with NAME.expect: one expected
 * error per line, "LINE:COL: fragment" (the message must hold
 * "PATH:LINE:COL: fragment...").  Every listed error must appear, and no
 * other. */
static void
test_validate_bad_inputs(void **state)
{
	char *dir = tu_fmt("%s/fixtures/cloudinit/bad", tu_src());
	char *list = NULL;
	int cases = 0;

	(void)state;
	assert_int_equal(tu_sh(&list, "cd '%s' && ls *.user-data", dir), 0);
	for (char *name = strtok(list, "\n"); name; name = strtok(NULL, "\n")) {
		char *path = tu_fmt("%s/%s", dir, name);
		char *exp_path = tu_fmt("%.*s.expect", (int)(strlen(path) - 10), path);
		char *expect = tu_read(exp_path, NULL);
		struct mv_err err;
		char *all;
		int n_expect = 0, n_got = 1;

		if (expect == NULL)
			print_error("missing %s\n", exp_path);
		assert_non_null(expect);
		assert_int_equal(cloudinit_validate_file(path, &err), -1);
		assert_int_equal(err.exit_code, MV_EXIT_VERIFY);
		all = mv_err_join(&err); /* every item, one a line */
		for (const char *p = all; *p; p++)
			n_got += *p == '\n';
		for (char *save = NULL, *line = strtok_r(expect, "\n", &save); line;
		     line = strtok_r(NULL, "\n", &save)) {
			char *want = tu_fmt("%s:%s", path, line);
			if (strstr(all, want) == NULL) {
				print_error("%s: expected \"%s\" in:\n%s\n", name, want,
				            all);
				fail();
			}
			free(want);
			n_expect++;
		}
		if (n_expect != n_got) {
			print_error("%s: %d errors expected, got %d:\n%s\n", name,
			            n_expect, n_got, all);
			fail();
		}
		free(all);
		mv_err_free(&err);
		cases++;
		free(expect);
		free(exp_path);
		free(path);
	}
	assert_true(cases >= 10);
	free(list);
	free(dir);
}

static void
test_validate_cli(void **state)
{
	char *good = tu_fmt("%s/good.yaml", tmp), *bad = tu_fmt("%s/bad.yaml", tmp);
	char *log = NULL;
	json_t *doc;
	json_error_t jerr;

	(void)state;
	tu_write(good, "#cloud-config\nwrite_files:\n- path: /etc/x\n  "
	               "permissions: '0640'\n  owner: root:root\n  content: x\n");
	tu_write(bad, "#cloud-config\nwrite_files:\n- path: etc/x\n  "
	              "permissions: 0640\n");
	assert_int_equal(tu_sh(&log, "'%s' cloudinit validate '%s'", tu_bin(),
	                       good), 0);
	assert_contains(log, "valid user-data");
	free(log);
	assert_int_equal(tu_sh(&log, "'%s' cloudinit validate '%s'", tu_bin(),
	                       bad), 3);
	assert_contains(log, "bad.yaml:3:9: write_files[0].path: 'etc/x' is not "
	                     "absolute");
	assert_contains(log, "bad.yaml:4:16: write_files[0].permissions: "
	                     "unquoted");
	free(log);
	assert_int_equal(tu_sh(&log, "'%s' cloudinit validate --json '%s' "
	                             "2>/dev/null", tu_bin(), bad), 3);
	doc = json_loads(log, 0, &jerr);
	assert_non_null(doc);
	assert_true(json_is_false(json_object_get(doc, "valid")));
	assert_int_equal(json_array_size(json_object_get(doc, "errors")), 2);
	json_decref(doc);
	free(log);
	/* a path shorter than "/.." (once read out of bounds; found by
	 * fuzz_cloudinit_validate) */
	tu_write(good, "#cloud-config\nwrite_files:\n  - path: /'\n    defer: "
	               "true\n");
	assert_int_equal(tu_sh(NULL, "'%s' cloudinit validate '%s'", tu_bin(),
	                       good), 0);
	assert_int_equal(tu_sh(NULL, "'%s' cloudinit validate '%s/missing'",
	                       tu_bin(), tmp), 1);
	assert_int_equal(tu_sh(NULL, "'%s' cloudinit validate", tu_bin()), 2);
	free(good);
	free(bad);
}


/*--- startup-script -----------------------------------------------------*/

static void
test_startup_script(void **state)
{
	struct cloudinit_join j = join_for(CLOUDINIT_SOURCE_URL);
	const char *js = cloudinit_join_script(NULL);
	char *out = NULL, *want;
	size_t len = 0;
	struct mv_err err;

	(void)state;
	mv_err_clear(&err);
	assert_int_equal(cloudinit_startup_script(&j, &out, &len, &err), 0);
	assert_int_equal(strlen(out), len);
	assert_true(strncmp(out, "#!/bin/sh\n", 10) == 0);
	assert_true(len < CLOUDINIT_GCE_VALUE_MAX);
	/* the same join: the script byte for byte, the unit, conf, pin */
	want = tu_fmt("put /usr/local/sbin/meshvm-join 0700 "
	              "<<'MESHVM_STARTUP_EOF'\n%sMESHVM_STARTUP_EOF\n", js);
	assert_contains(out, want);
	free(want);
	assert_contains(out, "put /etc/systemd/system/meshvm-join.service 0644");
	assert_contains(out, "ExecStart=/usr/local/sbin/meshvm-join boot\n");
	assert_contains(out, "MESHVM_BUNDLE_URL=gs://meshvm-bundles/vm/"
	                     "productcatalogservice.bundle\n"
	                     "MESHVM_TOKEN_SOURCE=metadata\n"
	                     "MESHVM_RUNTIME=docker\nMESHVM_READY_TIMEOUT=300\n");
	assert_contains(out, "put /etc/meshvm/bundle.sha256 0644 "
	                     "<<'MESHVM_STARTUP_EOF'\n" PIN "\nMESHVM_STARTUP_EOF");
	/* first boot: enable and run; later boots: only the unit */
	assert_contains(out, "systemctl enable meshvm-join.service\n"
	                     "    exec \"$R/usr/local/sbin/meshvm-join\" run\n");
	assert_contains(out, "systemctl start meshvm-join.service");
	/* it passes validate (shebang, size) */
	assert_int_equal(cloudinit_validate_buf("s", out, len, &err), 0);
	free(out);
	/* no pin, a bad URL: refused like the cloud-config */
	j.bundle_sha256[0] = 'X';
	assert_int_equal(cloudinit_startup_script(&j, &out, &len, &err), -1);
	assert_null(out);
	j = join_for(CLOUDINIT_SOURCE_URL);
	j.bundle_url = "ftp://x/y";
	assert_int_equal(cloudinit_startup_script(&j, &out, &len, &err), -1);
	assert_contains(err.msg, "neither https:// nor gs://");
}

static void
test_validate_startup_script(void **state)
{
	struct mv_err err;
	char *big;

	(void)state;
	mv_err_clear(&err);
	assert_int_equal(cloudinit_validate_buf("s", "#!/bin/sh\necho\n", 15,
	                                        &err), 0);
	assert_int_equal(cloudinit_validate_buf("s", "#! /usr/bin/env bash\n",
	                                        21, &err), 0);
	assert_int_equal(cloudinit_validate_buf("s", "#!sh\necho\n", 10, &err),
	                 -1);
	assert_int_equal(err.exit_code, MV_EXIT_VERIFY);
	assert_contains(err.msg, "s:1:3: the first line must name an absolute "
	                         "interpreter");
	assert_int_equal(cloudinit_validate_buf("s", "#!\n", 3, &err), -1);
	assert_int_equal(cloudinit_validate_buf("s", "#!/bin/sh\r\necho\r\n",
	                                        17, &err), -1);
	assert_contains(err.msg, "CR line endings");
	/* GCE's per-value limit, one byte over */
	big = malloc(CLOUDINIT_GCE_VALUE_MAX + 2);
	assert_non_null(big);
	memset(big, '#', CLOUDINIT_GCE_VALUE_MAX + 1);
	memcpy(big, "#!/bin/sh\n", 10);
	big[CLOUDINIT_GCE_VALUE_MAX + 1] = '\0';
	assert_int_equal(cloudinit_validate_buf("s", big, CLOUDINIT_GCE_VALUE_MAX
	                                        + 1, &err), -1);
	assert_contains(err.msg, "over GCE's metadata value limit of 262144");
	assert_int_equal(cloudinit_validate_buf("s", big,
	                                        CLOUDINIT_GCE_VALUE_MAX, &err), 0);
	free(big);
}

/* --agent startup-script: the metadata holds exactly one of the keys. */
static void
test_cli_agent(void **state)
{
	char *bundle = bake_fixture(), *out = tu_fmt("%s/ss", tmp), *log = NULL;
	json_t *doc, *items;
	json_error_t jerr;

	(void)state;
	assert_int_equal(tu_sh(&log, "'%s' cloudinit userdata --bundle '%s' "
	                             "--bundle-url https://b.test/x --agent "
	                             "startup-script -o '%s' --json", tu_bin(),
	                       bundle, out), 0);
	doc = json_loads(log, 0, &jerr);
	assert_non_null(doc);
	assert_string_equal(json_string_value(json_object_get(doc, "key")),
	                    "startup-script");
	items = json_object_get(json_object_get(doc, "metadata"), "items");
	assert_int_equal(json_array_size(items), 1);
	assert_string_equal(json_string_value(json_object_get(
	                        json_array_get(items, 0), "key")),
	                    "startup-script");
	{
		char *file = tu_read(out, NULL);
		assert_string_equal(json_string_value(json_object_get(
		                        json_array_get(items, 0), "value")), file);
		free(file);
	}
	json_decref(doc);
	free(log);
	assert_int_equal(tu_sh(&log, "'%s' cloudinit userdata --bundle '%s' "
	                             "--bundle-url https://b.test/x -o '%s' "
	                             "--json", tu_bin(), bundle, out), 0);
	doc = json_loads(log, 0, &jerr);
	items = json_object_get(json_object_get(doc, "metadata"), "items");
	assert_int_equal(json_array_size(items), 1);
	assert_string_equal(json_string_value(json_object_get(
	                        json_array_get(items, 0), "key")), "user-data");
	json_decref(doc);
	free(log);
	/* refusals */
	assert_int_equal(tu_sh(&log, "'%s' cloudinit userdata --bundle '%s' "
	                             "--bundle-url https://b.test/x -o '%s' "
	                             "--agent guest", tu_bin(), bundle, out), 2);
	assert_contains(log, "--agent: 'guest' is not one of cloud-init, "
	                     "startup-script");
	free(log);
	assert_int_equal(tu_sh(&log, "printf '#!/bin/sh\\n' >'%s/x.sh'; '%s' "
	                             "cloudinit userdata --bundle '%s' "
	                             "--bundle-url https://b.test/x -o '%s' "
	                             "--agent startup-script --user-data-extra "
	                             "'%s/x.sh'", tmp, tu_bin(), bundle, out, tmp),
	                 2);
	assert_contains(log, "--user-data-extra is for cloud-init");
	free(log);
	free(out);
	free(bundle);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cloud_config_seed_golden),
		cmocka_unit_test(test_cloud_config_url_golden),
		cmocka_unit_test(test_join_script_embedded),
		cmocka_unit_test(test_bad_join_inputs),
		cmocka_unit_test(test_multipart),
		cmocka_unit_test(test_multipart_utf8_base64),
		cmocka_unit_test(test_gce_limits_boundaries),
		cmocka_unit_test(test_cli_userdata),
		cmocka_unit_test(test_validate_linear_in_parts),
		cmocka_unit_test(test_validate_stops_at_size_limit),
		cmocka_unit_test(test_cli_seed_read_back),
		cmocka_unit_test(test_cli_seed_mode_0600),
		cmocka_unit_test(test_cli_seed_refusals),
		cmocka_unit_test(test_validate_bad_inputs),
		cmocka_unit_test(test_validate_cli),
		cmocka_unit_test(test_startup_script),
		cmocka_unit_test(test_validate_startup_script),
		cmocka_unit_test(test_cli_agent),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
