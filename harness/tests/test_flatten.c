/* test_flatten.c - bake/flatten on crafted docker-save and OCI images:
 * whiteouts, opaque directories, a file replaced by a directory (and the
 * reverse), symlinks out of the root, hard links, setuid bits, devices,
 * hostile names, the config, reproducibility. */
#include <archive.h>
#include <archive_entry.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bake/flatten.h"
#include "core/sha256.h"
#include "testutil.h"

static char *T;

/* A layer entry: type f(ile) d(ir) l(symlink) h(ardlink) c(har device)
 * p(fifo); `data` is the content or the link target. */
struct ent {
	char type;
	const char *path;
	const char *data;
	unsigned mode;
	int uid;
};

#define F(p, d) {'f', p, d, 0644, 0}
#define D(p) {'d', p, NULL, 0755, 0}
#define L(p, t) {'l', p, t, 0777, 0}
#define H(p, t) {'h', p, t, 0644, 0}

static void
add(struct archive *a, const char *path, const void *data, size_t len)
{
	struct archive_entry *e = archive_entry_new();

	archive_entry_set_pathname(e, path);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_size(e, (la_int64_t)len);
	assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
	if (len)
		assert_int_equal(archive_write_data(a, data, len), (la_ssize_t)len);
	archive_entry_free(e);
}

/* A layer tar in memory (gzip when asked). *len set; caller frees. */
static char *
layer(const struct ent *ents, size_t n, int gzip, size_t *len)
{
	size_t cap = 1 << 20, used = 0;
	char *buf = malloc(cap);
	struct archive *a = archive_write_new();

	assert_non_null(buf);
	archive_write_set_format_pax_restricted(a);
	if (gzip)
		archive_write_add_filter_gzip(a);
	archive_write_set_bytes_in_last_block(a, 1);
	assert_int_equal(archive_write_open_memory(a, buf, cap, &used),
	                 ARCHIVE_OK);
	for (size_t i = 0; i < n; i++) {
		struct archive_entry *e = archive_entry_new();
		const struct ent *x = &ents[i];
		size_t dl = 0;

		archive_entry_set_pathname(e, x->path);
		archive_entry_set_perm(e, x->mode);
		archive_entry_set_uid(e, x->uid);
		archive_entry_set_gid(e, x->uid);
		archive_entry_set_uname(e, "someone");
		archive_entry_set_mtime(e, 1700000000 + (time_t)i, 0);
		switch (x->type) {
		case 'f':
			dl = strlen(x->data);
			archive_entry_set_filetype(e, AE_IFREG);
			archive_entry_set_size(e, (la_int64_t)dl);
			break;
		case 'd': archive_entry_set_filetype(e, AE_IFDIR); break;
		case 'l':
			archive_entry_set_filetype(e, AE_IFLNK);
			archive_entry_set_symlink(e, x->data);
			break;
		case 'h':
			archive_entry_set_filetype(e, AE_IFREG);
			archive_entry_set_hardlink(e, x->data);
			archive_entry_set_size(e, 0);
			break;
		case 'c':
			archive_entry_set_filetype(e, AE_IFCHR);
			archive_entry_set_rdev(e, 0x0103);
			break;
		case 'p': archive_entry_set_filetype(e, AE_IFIFO); break;
		}
		assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
		if (dl)
			assert_int_equal(archive_write_data(a, x->data, dl),
			                 (la_ssize_t)dl);
		archive_entry_free(e);
	}
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
	*len = used;
	return buf;
}

static const char config_json[] =
	"{\"architecture\":\"amd64\",\"config\":{\"User\":\"1000:1000\","
	"\"Env\":[\"PATH=/usr/bin:/bin\",\"PORT=3550\"],\"Entrypoint\":"
	"[\"/bin/server\"],\"Cmd\":[\"--port\",\"3550\"],\"WorkingDir\":"
	"\"/app\",\"ExposedPorts\":{\"3550/tcp\":{}}},\"rootfs\":{\"type\":"
	"\"layers\",\"diff_ids\":[]}}";

struct lay {
	const struct ent *ents;
	size_t n;
};

/* A docker-save archive of `layers` (bottom first). */
static char *
docker_image(const char *name, const struct lay *layers, size_t n)
{
	char *path = tu_fmt("%s/%s.tar", T, name);
	struct archive *a = archive_write_new();
	json_t *m = json_array(), *img = json_object(), *ls = json_array();
	char *mj;

	archive_write_set_format_pax_restricted(a);
	assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
	add(a, "cfg.json", config_json, strlen(config_json));
	for (size_t i = 0; i < n; i++) {
		size_t len;
		char *buf = layer(layers[i].ents, layers[i].n, 0, &len);
		char *ln = tu_fmt("l%zu/layer.tar", i);
		add(a, ln, buf, len);
		json_array_append_new(ls, json_string(ln));
		free(ln);
		free(buf);
	}
	json_object_set_new(img, "Config", json_string("cfg.json"));
	json_object_set_new(img, "RepoTags", json_pack("[s]", "svc:1"));
	json_object_set_new(img, "Layers", ls);
	json_array_append_new(m, img);
	mj = json_dumps(m, 0);
	add(a, "manifest.json", mj, strlen(mj));
	free(mj);
	json_decref(m);
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
	return path;
}

/* Flatten and list rootfs.tar: one line per entry,
 * "TYPE PATH MODE UID:GID MTIME [-> TARGET | = CONTENT]". */
static char *
flat_list(const char *image, struct flatten_result *res, char **config)
{
	char *rootfs = tu_fmt("%s/rootfs.tar", T), *cfg = tu_fmt("%s/config.json",
	                                                        T);
	struct mv_err err;
	struct archive *a;
	struct archive_entry *e;
	char *out = strdup("");

	mv_err_clear(&err);
	if (flatten_image(image, rootfs, cfg, 42, res, &err) != 0) {
		print_error("flatten: %s\n", err.msg);
		fail();
	}
	a = archive_read_new();
	archive_read_support_format_tar(a);
	assert_int_equal(archive_read_open_filename(a, rootfs, 10240), ARCHIVE_OK);
	while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
		char data[256] = "", *line, *n;
		const char *hl = archive_entry_hardlink(e);
		mode_t t = archive_entry_filetype(e);
		char type = hl ? 'h' : t == AE_IFDIR ? 'd' : t == AE_IFLNK ? 'l' : 'f';

		if (type == 'f') {
			la_ssize_t k = archive_read_data(a, data, sizeof(data) - 1);
			data[k > 0 ? k : 0] = '\0';
		}
		line = tu_fmt("%c %s %04o %lld:%lld %lld%s%s\n", type,
		              archive_entry_pathname(e),
		              (unsigned)archive_entry_perm(e),
		              (long long)archive_entry_uid(e),
		              (long long)archive_entry_gid(e),
		              (long long)archive_entry_mtime(e),
		              type == 'l' ? " -> " : type == 'h' ? " => "
		              : type == 'f' ? " = " : "",
		              type == 'l' ? archive_entry_symlink(e)
		              : type == 'h' ? hl : type == 'f' ? data : "");
		n = tu_fmt("%s%s", out, line);
		free(out);
		free(line);
		out = n;
	}
	archive_read_free(a);
	if (config != NULL)
		*config = tu_read(cfg, NULL);
	free(rootfs);
	free(cfg);
	return out;
}

static void
assert_list(const char *got, const char *want)
{
	if (strcmp(got, want) != 0) {
		print_error("rootfs differs\n--- want\n%s--- got\n%s", want, got);
		fail();
	}
}

static int
setup(void **state)
{
	(void)state;
	T = tu_tmpdir();
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	tu_rmrf(T);
	free(T);
	return 0;
}

/* Whiteouts, opaque directories, replacement both ways. */
static void
test_layers_applied(void **state)
{
	static const struct ent l0[] = {
		D("etc"), F("etc/keep", "k0"), F("etc/gone", "g0"),
		D("opq"), F("opq/old", "o0"), D("opq/sub"), F("opq/sub/x", "x0"),
		F("becomes-dir", "file0"),
		D("becomes-file"), F("becomes-file/child", "c0"),
		D("wdir"), F("wdir/a", "a0"),
		F("over", "v0"),
	};
	static const struct ent l1[] = {
		F("etc/.wh.gone", ""),
		D("opq"), F("opq/.wh..wh..opq", ""), F("opq/new", "n1"),
		D("becomes-dir"), F("becomes-dir/inside", "i1"),
		F("becomes-file", "file1"),
		F(".wh.wdir", ""),
		F("over", "v1"),
	};
	static const struct ent l2[] = {
		F("etc/gone", "back2"), /* re-created above its whiteout */
		F("./over", "v2"),
	};
	struct lay ls[] = {{l0, sizeof(l0) / sizeof(l0[0])},
	                   {l1, sizeof(l1) / sizeof(l1[0])},
	                   {l2, sizeof(l2) / sizeof(l2[0])}};
	struct flatten_result res;
	char *img = docker_image("layers", ls, 3), *got, *cfg = NULL;

	(void)state;
	got = flat_list(img, &res, &cfg);
	assert_list(got,
	            /* top layer first */
	            "f etc/gone 0644 0:0 42 = back2\n"
	            "f over 0644 0:0 42 = v2\n"
	            "d opq/ 0755 0:0 42\n"
	            "f opq/new 0644 0:0 42 = n1\n"
	            "d becomes-dir/ 0755 0:0 42\n"
	            "f becomes-dir/inside 0644 0:0 42 = i1\n"
	            "f becomes-file 0644 0:0 42 = file1\n"
	            "d etc/ 0755 0:0 42\n"
	            "f etc/keep 0644 0:0 42 = k0\n");
	assert_int_equal(res.layers, 3);
	assert_int_equal(res.entries, 9);
	/* hidden: l1 over, l0 over, l0 etc/gone, opq (l0 dir), opq/old,
	 * opq/sub, opq/sub/x, becomes-dir (file), becomes-file (dir) and its
	 * child, wdir and wdir/a */
	assert_int_equal(res.hidden, 12);
	assert_int_equal(res.dropped, 0);
	/* config.json */
	assert_non_null(cfg);
	assert_string_equal(cfg, "{\n  \"cmd\": [\n    \"--port\",\n    \"3550\"\n"
	                         "  ],\n  \"entrypoint\": [\n    \"/bin/server\"\n"
	                         "  ],\n  \"env\": [\n    \"PATH=/usr/bin:/bin\",\n"
	                         "    \"PORT=3550\"\n  ],\n  \"exposed_ports\": [\n"
	                         "    \"3550/tcp\"\n  ],\n  \"user\": "
	                         "\"1000:1000\",\n  \"working_dir\": \"/app\"\n}\n");
	assert_string_equal(res.user, "1000:1000");
	free(cfg);
	free(got);
	free(img);
}

/* Hard links stay hard links; setuid/setgid go; devices and FIFOs go;
 * symlinks stay as written (even out of the root) and are never
 * followed: an entry below one is dropped. */
static void
test_links_and_modes(void **state)
{
	static const struct ent l0[] = {
		D("bin"),
		{'f', "bin/su", "suid", 04755, 0},
		{'f', "bin/sg", "sgid", 02711, 0},
		{'d', "tmp", NULL, 01777, 0},
		{'f', "bin/busybox", "bb", 0755, 0},
		{'h', "bin/sh", "bin/busybox", 0755, 0},
		{'h', "./bin/ls", "./bin/busybox", 0755, 0},
		{'c', "dev-null", NULL, 0666, 0},
		{'p', "fifo", NULL, 0644, 0},
		L("escape", "../../../../etc/shadow"),
		L("abs", "/etc"),
		{'f', "abs/passwd", "through-the-link", 0644, 0},
		{'f', "app/owned", "u", 0600, 1000},
	};
	struct lay ls[] = {{l0, sizeof(l0) / sizeof(l0[0])}};
	struct flatten_result res;
	char *img = docker_image("links", ls, 1), *got;

	(void)state;
	got = flat_list(img, &res, NULL);
	assert_list(got,
	            "d bin/ 0755 0:0 42\n"
	            "f bin/su 0755 0:0 42 = suid\n"
	            "f bin/sg 0711 0:0 42 = sgid\n"
	            "d tmp/ 1777 0:0 42\n"
	            "f bin/busybox 0755 0:0 42 = bb\n"
	            "h bin/sh 0755 0:0 42 => bin/busybox\n"
	            "h bin/ls 0755 0:0 42 => bin/busybox\n"
	            "l escape 0777 0:0 42 -> ../../../../etc/shadow\n"
	            "l abs 0777 0:0 42 -> /etc\n"
	            "f app/owned 0600 1000:1000 42 = u\n");
	assert_int_equal(res.dropped, 3); /* the device, the FIFO, abs/passwd */
	free(got);
	free(img);
}

static void
expect_refused(const char *name, const struct ent *ents, size_t n,
               const char *msg)
{
	struct lay ls[] = {{ents, n}};
	char *img = docker_image(name, ls, 1);
	char *r = tu_fmt("%s/r.tar", T), *c = tu_fmt("%s/c.json", T);
	struct flatten_result res;
	struct mv_err err;

	mv_err_clear(&err);
	assert_int_equal(flatten_image(img, r, c, 0, &res, &err), -1);
	assert_contains(err.msg, msg);
	assert_contains(err.msg, "layer 1 (l0/layer.tar)");
	assert_false(tu_exists(r));
	free(r);
	free(c);
	free(img);
}

static void
test_hostile(void **state)
{
	static const struct ent dots[] = {F("a/../../etc/passwd", "x")};
	static const struct ent hl_out[] = {H("a", "../etc/shadow")};
	static const struct ent hl_missing[] = {H("a", "not/here")};
	static const struct ent hl_dir[] = {D("d"), H("a", "d")};

	(void)state;
	expect_refused("dots", dots, 1, "a/../../etc/passwd: a '..' component");
	expect_refused("hlout", hl_out, 1, "a hard link to a '..' path");
	expect_refused("hlmissing", hl_missing, 1,
	               "a: a hard link whose target is not a file written from "
	               "the same layer");
	expect_refused("hldir", hl_dir, 2, "not a file written from the same "
	                                   "layer");
}

/* The same image gives the same bytes; an OCI layout with a gzip layer
 * flattens like the docker-save one. */
static void
test_reproducible_and_oci(void **state)
{
	static const struct ent l0[] = {D("bin"), F("bin/server", "#!/bin/sh\n")};
	struct lay ls[] = {{l0, 2}};
	char *img = docker_image("repro", ls, 1), *a, *b, *oci, *got;
	char *r = tu_fmt("%s/rootfs.tar", T);
	char ha[MV_SHA256_HEX], hb[MV_SHA256_HEX];
	struct flatten_result res;
	struct mv_err err;

	(void)state;
	mv_err_clear(&err);
	a = flat_list(img, &res, NULL);
	assert_int_equal(mv_sha256_file_hex(r, ha, NULL, NULL, &err), 0);
	b = flat_list(img, &res, NULL);
	assert_int_equal(mv_sha256_file_hex(r, hb, NULL, NULL, &err), 0);
	assert_string_equal(a, b);
	assert_string_equal(ha, hb);
	/* OCI: index.json -> manifest -> config + a gzip layer */
	{
		size_t len;
		char *lay = layer(l0, 2, 1, &len), *hl, *hc, *hm, *man, *idx, *p;
		struct archive *w = archive_write_new();
		char hex[MV_SHA256_HEX];

		oci = tu_fmt("%s/oci.tar", T);
		archive_write_set_format_pax_restricted(w);
		assert_int_equal(archive_write_open_filename(w, oci), ARCHIVE_OK);
		mv_sha256_buf_hex(lay, len, hex);
		hl = strdup(hex);
		mv_sha256_buf_hex(config_json, strlen(config_json), hex);
		hc = strdup(hex);
		man = tu_fmt("{\"schemaVersion\":2,\"mediaType\":\"application/vnd."
		             "oci.image.manifest.v1+json\",\"config\":{\"digest\":"
		             "\"sha256:%s\"},\"layers\":[{\"mediaType\":\"application"
		             "/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":"
		             "\"sha256:%s\"}]}", hc, hl);
		mv_sha256_buf_hex(man, strlen(man), hex);
		hm = strdup(hex);
		idx = tu_fmt("{\"schemaVersion\":2,\"manifests\":[{\"digest\":"
		             "\"sha256:%s\"}]}", hm);
		add(w, "oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}", 30);
		add(w, "index.json", idx, strlen(idx));
		p = tu_fmt("blobs/sha256/%s", hm);
		add(w, p, man, strlen(man));
		free(p);
		p = tu_fmt("blobs/sha256/%s", hc);
		add(w, p, config_json, strlen(config_json));
		free(p);
		p = tu_fmt("blobs/sha256/%s", hl);
		add(w, p, lay, len);
		free(p);
		assert_int_equal(archive_write_close(w), ARCHIVE_OK);
		archive_write_free(w);
		free(lay);
		free(hl);
		free(hc);
		free(hm);
		free(man);
		free(idx);
	}
	got = flat_list(oci, &res, NULL);
	assert_string_equal(got, a);
	free(got);
	free(oci);
	free(a);
	free(b);
	free(r);
	free(img);
}

struct hash_sink {
	struct mv_sha256 h;
	uint64_t n;
	uint64_t fail_at; /* 0: never */
	struct mv_err err;
};

static int
hash_sink(void *ud, const void *buf, size_t len)
{
	struct hash_sink *s = ud;

	if (s->fail_at != 0 && s->n + len >= s->fail_at)
		return mv_err_set(&s->err, MV_EXIT_FAIL, "sink full at %llu",
		                  (unsigned long long)s->fail_at);
	mv_sha256_update(&s->h, buf, len);
	s->n += len;
	return 0;
}

/* flatten_stream: the size pass (file data skipped), the digest pass and
 * flatten_image's file agree byte for byte, for a layer read as a range
 * of the image (larger than one read) and for a gzip layer; a failing
 * sink stops the stream with its own message; a truncated image fails. */
static void
test_stream_passes(void **state)
{
	size_t big_len = 700 * 1024;
	char *big = malloc(big_len + 1), *img, *r = tu_fmt("%s/rootfs.tar", T);
	char *cfg = NULL, want[MV_SHA256_HEX], got[MV_SHA256_HEX], *list;
	struct flatten_result res;
	struct hash_sink hs;
	struct mv_err err;
	struct stat st;
	uint64_t seed = 7;

	(void)state;
	mv_err_clear(&err);
	assert_non_null(big);
	for (size_t i = 0; i < big_len; i++) {
		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		big[i] = (char)('!' + (seed >> 33) % 90);
	}
	big[big_len] = '\0';
	{
		const struct ent l0[] = {D("opt"), F("opt/big", big),
		                         F("opt/small", "x\n")};
		const struct ent l1[] = {F("opt/.wh.small", ""), F("etc/a", "a\n")};
		struct lay ls[] = {{l0, 3}, {l1, 2}};
		img = docker_image("stream", ls, 2);
	}
	list = flat_list(img, &res, NULL);
	assert_non_null(strstr(list, "opt/big"));
	assert_null(strstr(list, "opt/small"));
	assert_int_equal(mv_sha256_file_hex(r, want, NULL, NULL, &err), 0);
	assert_int_equal(stat(r, &st), 0);

	memset(&hs, 0, sizeof(hs));
	assert_int_equal(mv_sha256_init(&hs.h), 0);
	assert_int_equal(flatten_stream(img, 42, true, hash_sink, &hs, &hs.err,
	                                &cfg, &res, &err), 0);
	assert_int_equal(hs.n, (uint64_t)st.st_size);
	assert_non_null(strstr(cfg, "/bin/server"));
	free(cfg);
	mv_sha256_discard(&hs.h);

	memset(&hs, 0, sizeof(hs));
	assert_int_equal(mv_sha256_init(&hs.h), 0);
	assert_int_equal(flatten_stream(img, 42, false, hash_sink, &hs, &hs.err,
	                                NULL, &res, &err), 0);
	assert_int_equal(hs.n, (uint64_t)st.st_size);
	mv_sha256_final_hex(&hs.h, got);
	assert_string_equal(got, want);
	assert_int_equal(res.bytes, big_len + 2);

	memset(&hs, 0, sizeof(hs));
	hs.fail_at = 300 * 1024;
	assert_int_equal(mv_sha256_init(&hs.h), 0);
	assert_int_equal(flatten_stream(img, 42, false, hash_sink, &hs, &hs.err,
	                                NULL, &res, &err), -1);
	assert_contains(err.msg, "sink full at 307200");
	mv_sha256_discard(&hs.h);

	/* the image cut in the middle of the big file */
	assert_int_equal(truncate(img, 400 * 1024), 0);
	memset(&hs, 0, sizeof(hs));
	assert_int_equal(mv_sha256_init(&hs.h), 0);
	assert_int_equal(flatten_stream(img, 42, false, hash_sink, &hs, &hs.err,
	                                NULL, &res, &err), -1);
	mv_sha256_discard(&hs.h);
	memset(&hs, 0, sizeof(hs));
	assert_int_equal(mv_sha256_init(&hs.h), 0);
	assert_int_equal(flatten_stream(img, 42, true, hash_sink, &hs, &hs.err,
	                                NULL, &res, &err), -1);
	mv_sha256_discard(&hs.h);
	free(list);
	free(img);
	free(r);
	free(big);
}

static void
test_bad_images(void **state)
{
	char *p = tu_fmt("%s/notimage.tar", T), *r = tu_fmt("%s/r.tar", T);
	char *c = tu_fmt("%s/c.json", T);
	struct flatten_result res;
	struct mv_err err;
	struct archive *a = archive_write_new();

	(void)state;
	mv_err_clear(&err);
	archive_write_set_format_pax_restricted(a);
	assert_int_equal(archive_write_open_filename(a, p), ARCHIVE_OK);
	add(a, "hello.txt", "hi", 2);
	archive_write_close(a);
	archive_write_free(a);
	assert_int_equal(flatten_image(p, r, c, 0, &res, &err), -1);
	assert_contains(err.msg, "neither manifest.json (docker save) nor "
	                         "index.json (OCI)");
	assert_int_equal(flatten_image("/nonexistent.tar", r, c, 0, &res, &err),
	                 -1);
	assert_contains(err.msg, "/nonexistent.tar");
	free(p);
	free(r);
	free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_layers_applied),
		cmocka_unit_test(test_links_and_modes),
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_reproducible_and_oci),
		cmocka_unit_test(test_stream_passes),
		cmocka_unit_test(test_bad_images),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
