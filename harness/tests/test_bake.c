/* test_bake.c - `meshvm bake`: reproducible, streaming-safe, atomic.
 *
 * Drives the real binary (build/meshvm) so options, exit codes and the
 * on-disk result are what a user gets.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

static char *spec_path;

static int
setup(void **state)
{
	(void)state;
	spec_path = tu_fmt("%s/bundle/bundle.yaml", tu_fixtures());
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	free(spec_path);
	return 0;
}

static int
bake(const char *spec, const char *out, const char *extra, const char *env)
{
	char *log = NULL;
	/* The engine's tests bake the image as given (a container runtime);
	 * runtime systemd has its own tests (test_runtime_systemd). */
	int rc = tu_sh(&log, "%s '%s' bake -f '%s' -o '%s' %s%s", env ? env : "",
	               tu_bin(), spec, out, extra ? extra : "",
	               extra && strstr(extra, "--runtime") ? ""
	                                                   : " --runtime docker");

	if (rc != 0)
		print_message("bake output: %s\n", log);
	free(log);
	return rc;
}

static bool
same_bytes(const char *a, const char *b)
{
	return tu_sh(NULL, "cmp -s '%s' '%s'", a, b) == 0;
}

static void
test_reproducible(void **state)
{
	char *d = tu_tmpdir();
	char *a = tu_fmt("%s/a", d), *b = tu_fmt("%s/b", d),
	     *c = tu_fmt("%s/c", d), *t1 = tu_fmt("%s/t1", d),
	     *t2 = tu_fmt("%s/t2", d);

	(void)state;
	assert_int_equal(bake(spec_path, a, NULL, "SOURCE_DATE_EPOCH=0"), 0);
	assert_int_equal(bake(spec_path, b, NULL, "SOURCE_DATE_EPOCH=0"), 0);
	assert_true(same_bytes(a, b));
	/* another epoch → other mtimes → other bytes */
	assert_int_equal(bake(spec_path, c, NULL, "SOURCE_DATE_EPOCH=1"), 0);
	assert_false(same_bytes(a, c));
	/* worker count never changes the output */
	assert_int_equal(bake(spec_path, t1, "--threads 1", "SOURCE_DATE_EPOCH=0"), 0);
	assert_int_equal(bake(spec_path, t2, "--threads 2", "SOURCE_DATE_EPOCH=0"), 0);
	assert_true(same_bytes(t1, t2));
	assert_true(same_bytes(a, t1));
	tu_rmrf(d);
	free(a); free(b); free(c); free(t1); free(t2); free(d);
}

static void
test_gzip_across_a_second(void **state)
{
	char *d = tu_tmpdir(), *a = tu_fmt("%s/a.gz", d), *b = tu_fmt("%s/b.gz", d);
	unsigned char magic[2];
	char *data;
	size_t len;

	(void)state;
	assert_int_equal(bake(spec_path, a, "--compress gzip", NULL), 0);
	sleep(1);
	usleep(100000);
	assert_int_equal(bake(spec_path, b, "--compress gzip", NULL), 0);
	assert_true(same_bytes(a, b));
	data = tu_read(a, &len);
	memcpy(magic, data, 2);
	assert_int_equal(magic[0], 0x1f);
	assert_int_equal(magic[1], 0x8b);
	free(data);
	tu_rmrf(d);
	free(a); free(b); free(d);
}

static void
test_layout_and_stock_tools(void **state)
{
	const char *comps[] = {"zstd", "gzip", "none"};
	const char *readers[] = {"tar -I zstd -xf", "tar -xzf", "tar -xf"};

	(void)state;
	for (int i = 0; i < 3; i++) {
		char *d = tu_tmpdir(), *out = tu_fmt("%s/b", d), *list = NULL;
		char *x = tu_fmt("%s/x", d), *opt = tu_fmt("--compress %s", comps[i]);
		char *sums = NULL;

		assert_int_equal(bake(spec_path, out, opt, NULL), 0);
		/* strcmp order, manifest first, sums second, no directories */
		assert_int_equal(tu_sh(&list, "bsdtar -tf '%s'", out), 0);
		assert_string_equal(list,
		                    "MANIFEST.json\nSHA256SUMS\nidentity/cluster.env\n"
		                    "identity/hosts\nidentity/mesh.yaml\n"
		                    "identity/root-cert.pem\nimage/image.tar\n"
		                    "sidecar/istio-sidecar.deb\n"
		                    "units/productcatalog.service\n");
		free(list);
		/* owner root, mtime 0, modes normalised */
		assert_int_equal(tu_sh(&list, "tar -tvf '%s' %s | sort -u -k1,3 | "
		                       "cut -c1-30 | sort -u", out,
		                       i == 0 ? "-I zstd" : ""), 0);
		assert_contains(list, "-rw-r--r-- root/root");
		assert_true(strstr(list, "rwx") == NULL);
		free(list);
		assert_int_equal(tu_sh(&list, "tar -tvf '%s' %s | grep -vc "
		                       "' 1970-01-01 00:00 '", out,
		                       i == 0 ? "-I zstd" : ""), 1); /* 0 lines */
		free(list);
		/* a plain tar -x, then sha256sum -c, as the VM does */
		assert_int_equal(tu_sh(&sums, "mkdir '%s' && cd '%s' && %s '%s' && "
		                       "sha256sum -c SHA256SUMS", x, x, readers[i],
		                       out), 0);
		assert_contains(sums, "MANIFEST.json: OK");
		assert_contains(sums, "image/image.tar: OK");
		free(sums);
		tu_rmrf(d);
		free(d); free(out); free(x); free(opt);
	}
}

static void
test_modes_normalised(void **state)
{
	char *d = tu_tmpdir(), *spec = tu_copy_fixture_bundle(d);
	char *out = tu_fmt("%s/b", d), *m = NULL;

	(void)state;
	/* systemd warns about executable unit files, and identity files are
	 * data: whatever the source modes, entries come out 0644. */
	assert_int_equal(tu_sh(NULL, "chmod 0700 '%s/bundle/units/"
	                       "productcatalog.service' '%s/bundle/identity/hosts'",
	                       d, d), 0);
	assert_int_equal(bake(spec, out, NULL, NULL), 0);
	assert_int_equal(tu_sh(&m, "tar -I zstd -xOf '%s' MANIFEST.json", out), 0);
	assert_true(strstr(m, "\"mode\": \"0755\"") == NULL);
	free(m);
	assert_int_equal(tu_sh(&m, "tar -I zstd -tvf '%s' units/ identity/hosts",
	                       out), 0);
	assert_contains(m, "-rw-r--r-- root/root");
	assert_true(strstr(m, "rwx") == NULL);
	free(m);
	tu_rmrf(d);
	free(d); free(spec); free(out);
}

static void
test_json_and_digest(void **state)
{
	char *d = tu_tmpdir(), *out = tu_fmt("%s/b", d), *j = NULL, *s = NULL;

	(void)state;
	assert_int_equal(tu_sh(&j, "'%s' bake -f '%s' -o '%s' --json "
	                       "--runtime docker", tu_bin(),
	                       spec_path, out), 0);
	assert_int_equal(tu_sh(&s, "sha256sum '%s' | cut -c1-64", out), 0);
	s[64] = '\0';
	assert_contains(j, s);
	assert_contains(j, "\"entries\": 9");
	assert_contains(j, "\"compression\": \"zstd\"");
	free(j);
	/* human output: the digest is the last line */
	assert_int_equal(tu_sh(&j, "'%s' bake -f '%s' -o '%s' --runtime docker "
	                       "| tail -n1",
	                       tu_bin(), spec_path, out), 0);
	assert_contains(j, s);
	free(j);
	free(s);
	tu_rmrf(d);
	free(d); free(out);
}

static void
test_usage_errors(void **state)
{
	char *o = NULL;

	(void)state;
	assert_int_equal(tu_sh(&o, "'%s' bake -f x", tu_bin()), 2);
	free(o);
	assert_int_equal(tu_sh(&o, "'%s' bake -f x -o y --compress lz4",
	                       tu_bin()), 2);
	assert_contains(o, "--compress");
	free(o);
	assert_int_equal(tu_sh(&o, "'%s' bake -f x -o y --threads 0", tu_bin()), 2);
	free(o);
	assert_int_equal(tu_sh(&o, "'%s' bake --help", tu_bin()), 0);
	assert_contains(o, "usage: meshvm bake");
	free(o);
	assert_int_equal(tu_sh(&o, "'%s' bake -f /nonexistent.yaml -o y",
	                       tu_bin()), 1);
	assert_contains(o, "/nonexistent.yaml");
	free(o);
}

static void
test_readonly_directory_leaves_nothing(void **state)
{
	char *d = tu_tmpdir(), *ro = tu_fmt("%s/ro", d), *o = NULL;
	int rc;

	(void)state;
	assert_int_equal(mkdir(ro, 0555), 0);
	if (geteuid() == 0)
		/* root writes through modes: use a read-only bind mount in a
		 * private mount namespace instead */
		rc = tu_sh(&o, "unshare -m sh -c \"mount --bind '%s' '%s' && "
		           "mount -o remount,bind,ro '%s' && '%s' bake -f '%s' -o "
		           "'%s/out.bundle'\"", ro, ro, ro, tu_bin(), spec_path, ro);
	else
		rc = tu_sh(&o, "'%s' bake -f '%s' -o '%s/out.bundle'", tu_bin(),
		           spec_path, ro);
	assert_int_equal(rc, 1);
	assert_contains(o, "out.bundle");
	assert_int_equal(tu_dir_count(ro), 0);
	free(o);
	tu_rmrf(d);
	free(d); free(ro);
}

/* Every -o refuses an existing output that is not a regular file (a
 * FIFO, a directory), naming it and leaving it as it was; "-o -" writes
 * to standard output. Only temp-dir nodes: never a real /dev node. */
static void
test_output_not_regular_refused(void **state)
{
	char *d = tu_tmpdir(), *fifo = tu_fmt("%s/fifo", d);
	char *sub = tu_fmt("%s/sub", d), *file = tu_fmt("%s/b.bundle", d);
	char *viastdout = tu_fmt("%s/stdout.bundle", d), *o = NULL;
	char *tok = tu_fmt("%s/token", d), *a, *b;
	struct stat st;
	size_t la, lb;

	(void)state;
	assert_int_equal(mkfifo(fifo, 0644), 0);
	assert_int_equal(mkdir(sub, 0755), 0);
	tu_write(tok, "eyJhbGciOiJSUzI1NiJ9.eyJleHAiOjQxMDI0NDQ4MDB9.c2ln\n");
	assert_int_equal(tu_sh(NULL, "'%s' bake -f '%s' -o '%s'", tu_bin(),
	                       spec_path, file), 0);
	for (int k = 0; k < 2; k++) {
		const char *t = k ? sub : fifo;
		const char *what = k ? "is a directory" : "is a FIFO";
		assert_int_equal(tu_sh(&o, "'%s' bake -f '%s' -o '%s'", tu_bin(),
		                       spec_path, t), 1);
		assert_contains(o, t);
		assert_contains(o, what);
		free(o);
		assert_int_equal(tu_sh(&o, "'%s' cloudinit userdata --bundle '%s' "
		                             "--bundle-url https://example.com/b "
		                             "-o '%s'", tu_bin(), file, t), 1);
		assert_contains(o, what);
		free(o);
		assert_int_equal(tu_sh(&o, "'%s' cloudinit seed --bundle '%s' "
		                             "--token-file '%s' -o '%s'", tu_bin(),
		                       file, tok, t), 1);
		assert_contains(o, what);
		free(o);
		assert_int_equal(tu_sh(&o, "cd '%s' && '%s' init --force -o '%s'",
		                       d, tu_bin(), t), 1);
		assert_contains(o, what);
		free(o);
	}
	assert_int_equal(lstat(fifo, &st), 0);
	assert_true(S_ISFIFO(st.st_mode));
	assert_int_equal(lstat(sub, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(tu_dir_count(sub), 0);
	/* -o -: the same bytes, on stdout; the summary goes to stderr */
	assert_int_equal(tu_sh(NULL, "'%s' bake -f '%s' -o - > '%s' 2>/dev/null",
	                       tu_bin(), spec_path, viastdout), 0);
	a = tu_read(file, &la);
	b = tu_read(viastdout, &lb);
	assert_int_equal(la, lb);
	assert_memory_equal(a, b, la);
	free(a);
	free(b);
	assert_int_equal(tu_sh(&o, "'%s' bake -f '%s' -o - --compress gzip | "
	                             "'%s' bundle verify /dev/stdin", tu_bin(),
	                       spec_path, tu_bin()), 0);
	free(o);
	tu_rmrf(d);
	free(d);
	free(fifo);
	free(sub);
	free(file);
	free(viastdout);
	free(tok);
}

/* A spec whose image is a 1 GiB sparse tar of zeros: slow enough to kill
 * mid-bake, cheap to create. */
static char *
big_spec(const char *d)
{
	char *spec = tu_copy_fixture_bundle(d);

	assert_int_equal(tu_sh(NULL,
		"cd '%s/bundle/artifacts' && mkdir img && echo '[]' > img/manifest.json && "
		"tar -C img -cf productcatalogservice.tar manifest.json && "
		"truncate -s 1024 zeros && "
		"python3 -c \"import tarfile,io;"
		"t=tarfile.TarInfo('layer.bin');t.size=1<<30;"
		"open('hdr','wb').write(t.tobuf(tarfile.USTAR_FORMAT))\" && "
		"head -c 1024 productcatalogservice.tar > p && cat hdr >> p && "
		"truncate -s $((1024 + 512 + (1<<30) + 1024)) p && "
		"mv p productcatalogservice.tar && rm -f hdr zeros", d), 0);
	return spec;
}

/* Has process pid an open file in dir (e.g. "dir/#1234 (deleted)")? */
static bool
writes_into(pid_t pid, const char *dir)
{
	char *o = NULL;
	bool yes;

	tu_sh(&o, "for f in /proc/%d/fd/*; do readlink \"$f\"; done", (int)pid);
	yes = strstr(o, dir) != NULL;
	free(o);
	return yes;
}

static void
kill_midway(const char *dir, const char *spec, bool named)
{
	char *out = tu_fmt("%s/out/b.bundle", dir), *outdir = tu_fmt("%s/out", dir);
	pid_t pid;
	int st;

	assert_int_equal(mkdir(outdir, 0755), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);
		dup2(null, 1);
		dup2(null, 2);
		if (named)
			setenv("MESHVM_TEST_NO_TMPFILE", "1", 1);
		execl(tu_bin(), "meshvm", "bake", "-f", spec, "-o", out, "--threads",
		      "1", "--runtime", "docker", (char *)NULL);
		_exit(127);
	}
	/* Wait until the bake is writing its output: a named temp shows in
	 * the directory, an O_TMPFILE only among the process's descriptors. */
	bool writing = false;
	for (int i = 0; i < 3000 && !writing; i++) {
		writing = named ? tu_dir_count(outdir) > 0
		                : writes_into(pid, outdir);
		if (!writing)
			usleep(10000);
	}
	assert_true(writing);
	kill(pid, SIGTERM);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFSIGNALED(st)); /* it was killed, not finished */
	assert_int_equal(WTERMSIG(st), SIGTERM);
	assert_int_equal(tu_dir_count(outdir), 0);
	tu_rmrf(outdir);
	free(out);
	free(outdir);
}

static void
test_sigterm_leaves_nothing(void **state)
{
	char *d = tu_tmpdir(), *spec = big_spec(d);

	(void)state;
	kill_midway(d, spec, false);
	kill_midway(d, spec, true);
	tu_rmrf(d);
	free(d);
	free(spec);
}

/* Inputs of several 4 MiB pieces: incompressible pieces are stored, the
 * rest compressed, each piece a zstd frame of its own, compressed by as
 * many workers as asked.  The worker count must not change a byte
 * (--threads 1, 2 and 4 give one file), the entries' digests are what
 * sha256sum says, the printed digest is the file's, stock zstd reads the
 * frames as one stream (zstd -t, tar -I zstd -x + sha256sum -c), and the
 * stored pieces keep the bundle about as small as the random data. */
static void
test_large_input_one_pass(void **state)
{
	char *d = tu_tmpdir(), *spec = tu_copy_fixture_bundle(d);
	char *a = tu_fmt("%s/a", d), *b = tu_fmt("%s/b", d),
	     *c = tu_fmt("%s/c", d), *x = tu_fmt("%s/x", d);
	char *out = NULL, *want = NULL, *got = NULL, *j = NULL;
	long size;

	(void)state;
	assert_int_equal(tu_sh(NULL,
		"cd '%s/bundle/artifacts' && mkdir img && echo '[]' > img/manifest.json && "
		"head -c 23000000 /dev/urandom > img/layer.tar && "
		"seq 1 2000000 >> img/layer.tar && "
		"tar -C img -cf productcatalogservice.tar manifest.json layer.tar", d), 0);
	assert_int_equal(bake(spec, a, "--threads 1", NULL), 0);
	assert_int_equal(bake(spec, b, "--threads 2", NULL), 0);
	assert_int_equal(tu_sh(&j, "'%s' bake -f '%s/bundle/bundle.yaml' -o '%s' "
	                       "--threads 4 --runtime docker --json", tu_bin(), d,
	                       c), 0);
	assert_true(same_bytes(a, b));
	assert_true(same_bytes(a, c));
	/* On one CPU the workers leave the digest thread its core: one
	 * compresses at a time while it hashes (zframes_reserve_core); the
	 * same bytes still. */
	if (tu_sh(NULL, "command -v taskset >/dev/null") == 0) {
		char *one = tu_fmt("%s/one", d);
		assert_int_equal(bake(spec, one, "--threads 4", "taskset -c 0"), 0);
		assert_true(same_bytes(a, one));
		free(one);
	}
	/* inputs on another filesystem (tmpfs): the same bytes */
	if (tu_sh(NULL, "test -d /dev/shm && test \"$(stat -f -c %%T /dev/shm)\" "
	          "!= \"$(stat -f -c %%T '%s')\"", d) == 0) {
		char *shm = tu_fmt("/dev/shm/meshvm-bake-%d", (int)getpid());
		char *e = tu_fmt("%s/e", d);
		assert_int_equal(tu_sh(NULL, "rm -rf '%s' && cp -R '%s/bundle' '%s'",
		                       shm, d, shm), 0);
		free(spec);
		spec = tu_fmt("%s/bundle.yaml", shm);
		assert_int_equal(bake(spec, e, "--threads 2", NULL), 0);
		assert_true(same_bytes(a, e));
		tu_rmrf(shm);
		free(shm);
		free(e);
	}
	assert_int_equal(tu_sh(&got, "sha256sum '%s' | cut -c1-64", c), 0);
	got[64] = '\0';
	assert_contains(j, got);
	free(got);
	free(j);
	assert_int_equal(tu_sh(&out, "'%s' bundle verify '%s'", tu_bin(), a), 0);
	free(out);
	assert_int_equal(tu_sh(&out, "zstd -q -t '%s'", a), 0);
	free(out);
	assert_int_equal(tu_sh(&want, "sha256sum < '%s/bundle/artifacts/"
	                       "productcatalogservice.tar' | cut -c1-64", d), 0);
	assert_int_equal(tu_sh(&got, "tar -I zstd -xOf '%s' MANIFEST.json | "
	                       "grep -A4 '\"path\": \"image/image.tar\"' | "
	                       "grep sha256 | head -n1 | cut -d'\"' -f4", a), 0);
	assert_string_equal(got, want);
	assert_int_equal(tu_sh(&out, "mkdir '%s' && cd '%s' && tar -I zstd -xf '%s' "
	                       "&& sha256sum -c --quiet SHA256SUMS", x, x, a), 0);
	free(out);
	/* 23 MB random + 14 MB of numbers: stored random, compressed text */
	assert_int_equal(tu_sh(&out, "stat -c %%s '%s'", a), 0);
	size = strtol(out, NULL, 10);
	assert_true(size > 23000000 && size < 23000000 + 6000000);
	free(out);
	free(want);
	free(got);
	tu_rmrf(d);
	free(d); free(spec); free(a); free(b); free(c); free(x);
}

static void
test_bad_spec_writes_nothing(void **state)
{
	char *d = tu_tmpdir(), *spec = tu_copy_fixture_bundle(d);
	char *out = tu_fmt("%s/b", d);

	(void)state;
	assert_int_equal(tu_sh(NULL, "echo junk > '%s/bundle/identity/hosts'", d),
	                 0);
	assert_int_equal(bake(spec, out, NULL, NULL), 1);
	assert_false(tu_exists(out));
	tu_rmrf(d);
	free(d); free(spec); free(out);
}

/* Runtime systemd (the default when the spec names none): the image is
 * flattened into image/rootfs.tar + image/config.json, reproducibly; the
 * manifest says format rootfs; units become optional, and one that runs
 * a container runtime is refused, as is a unit named like the generated
 * one; a container runtime still needs a unit. */
static void
test_runtime_systemd(void **state)
{
	char *d = tu_tmpdir(), *spec = tu_copy_fixture_bundle(d);
	char *a = tu_fmt("%s/a", d), *b = tu_fmt("%s/b", d), *list = NULL;
	char *o = NULL;

	(void)state;
	assert_int_equal(bake(spec, a, "--runtime systemd --compress gzip",
	                      NULL), 0);
	assert_int_equal(tu_sh(&o, "SOURCE_DATE_EPOCH=0 '%s' bake -f '%s' -o "
	                           "'%s' --compress gzip", tu_bin(), spec, b), 0);
	free(o);
	assert_true(same_bytes(a, b)); /* the default is systemd; reproducible */
	assert_int_equal(tu_sh(&list, "bsdtar -tf '%s'", a), 0);
	assert_string_equal(list, "MANIFEST.json\nSHA256SUMS\nidentity/cluster.env\n"
	                          "identity/hosts\nidentity/mesh.yaml\n"
	                          "identity/root-cert.pem\nimage/config.json\n"
	                          "image/rootfs.tar\nsidecar/istio-sidecar.deb\n"
	                          "units/productcatalog.service\n");
	free(list);
	assert_int_equal(tu_sh(&list, "tar -xzOf '%s' MANIFEST.json | sed -n "
	                              "'/\"image\"/,/}/p' | grep -v sha256 | grep "
	                              "-v size", a), 0);
	assert_string_equal(list, "  \"image\": {\n"
	                          "    \"path\": \"image/rootfs.tar\",\n"
	                          "    \"format\": \"rootfs\",\n"
	                          "    \"runtime\": \"systemd\",\n"
	                          "    \"config\": \"image/config.json\"\n"
	                          "  },\n");
	free(list);
	/* the whiteout applied, the busybox symlink kept, times normalised */
	assert_int_equal(tu_sh(&list, "tar -xzOf '%s' image/rootfs.tar | tar -tvf "
	                              "- | sort -k6", a), 0);
	assert_contains(list, "app/productcatalogservice\n");
	assert_contains(list, "bin/sh -> busybox\n");
	assert_null(strstr(list, "etc/motd"));
	assert_null(strstr(list, "2026-"));
	free(list);
	assert_int_equal(tu_sh(&o, "'%s' bundle verify '%s'", tu_bin(), a), 0);
	free(o);
	/* a docker bundle keeps image/image.tar and needs its unit */
	assert_int_equal(bake(spec, b, "--runtime docker", NULL), 0);
	assert_int_equal(tu_sh(&list, "tar -I zstd -tf '%s' image/", b), 0);
	assert_string_equal(list, "image/image.tar\n");
	free(list);
	/* units optional with systemd, required otherwise */
	assert_int_equal(tu_sh(NULL, "cd '%s/bundle' && sed -i '/^units:/d' "
	                             "bundle.yaml", d), 0);
	assert_int_equal(bake(spec, b, "--runtime systemd", NULL), 0);
	assert_int_equal(tu_sh(&o, "'%s' bake -f '%s' -o '%s' --runtime podman",
	                       tu_bin(), spec, b), 1);
	assert_contains(o, "units: required with runtime podman");
	free(o);
	/* a unit that runs docker would start the service twice */
	assert_int_equal(tu_sh(NULL, "cd '%s/bundle' && printf '[Service]\\n"
	                             "ExecStartPre=-/usr/bin/docker rm -f x\\n"
	                             "ExecStart=/usr/bin/env docker run x\\n' >"
	                             "units/run.service && echo 'units: "
	                             "[units/run.service]' >>bundle.yaml", d), 0);
	assert_int_equal(tu_sh(&o, "'%s' bake -f '%s' -o '%s'", tu_bin(), spec, b),
	                 1);
	assert_contains(o, "units/run.service runs docker, but the runtime is "
	                   "systemd");
	free(o);
	assert_int_equal(bake(spec, b, "--runtime docker", NULL), 0);
	/* runtime: in the spec; a unit named like the generated one */
	assert_int_equal(tu_sh(NULL, "cd '%s/bundle' && sed -i 's|^units:.*|"
	                             "units: [units/productcatalogservice.service]"
	                             "|' bundle.yaml && cp units/productcatalog."
	                             "service units/productcatalogservice.service "
	                             "&& echo 'runtime: systemd' >>bundle.yaml",
	                       d), 0);
	assert_int_equal(tu_sh(&o, "'%s' bake -f '%s' -o '%s'", tu_bin(), spec, b),
	                 1);
	assert_contains(o, "the VM generates productcatalogservice.service from "
	                   "the image");
	free(o);
	assert_int_equal(tu_sh(&o, "'%s' bake -f '%s' -o '%s' --runtime lxc",
	                       tu_bin(), spec, b), 2);
	assert_contains(o, "--runtime: 'lxc' is not one of systemd, docker");
	free(o);
	/* nothing left beside the output */
	assert_int_equal(tu_sh(&o, "ls -A '%s' | grep -c meshvm-rootfs", d), 1);
	free(o);
	tu_rmrf(d);
	free(d);
	free(spec);
	free(a);
	free(b);
}

/* Runtime systemd streams the flattened image into the bundle: no
 * rootfs.tar is staged on disk (a file-size limit far below rootfs.tar's
 * size, above the bundle's, does not stop the bake), the size pass, the
 * digest pass and the bundle agree (verify), and the worker count does not
 * change a byte. */
static void
test_systemd_streams_rootfs(void **state)
{
	char *d = tu_tmpdir(), *spec = tu_copy_fixture_bundle(d);
	char *a = tu_fmt("%s/a", d), *b = tu_fmt("%s/b", d), *o = NULL;

	(void)state;
	assert_int_equal(tu_sh(NULL,
		"cd '%s/bundle/artifacts' && mkdir -p img/l/app && "
		"yes 'meshvm streams the flattened rootfs' | head -c 12000000 "
		"> img/l/app/log.txt && head -c 300000 /dev/urandom > img/l/app/b && "
		"tar -C img/l -cf img/l.tar app && rm -rf img/l && "
		"echo '[{\"Config\":\"c.json\",\"Layers\":[\"l.tar\"]}]' "
		"> img/manifest.json && "
		"echo '{\"config\":{\"Cmd\":[\"/app/run\"]}}' > img/c.json && "
		"tar -C img -cf productcatalogservice.tar manifest.json c.json l.tar",
		d), 0);
	/* 4 MiB: the bundle fits, a staged 12 MB rootfs.tar would not */
	assert_int_equal(tu_sh(&o, "bash -c \"ulimit -f 4096 && exec '%s' bake "
	                       "-f '%s' -o '%s' --runtime systemd --threads 1\"",
	                       tu_bin(), spec, a), 0);
	free(o);
	assert_int_equal(bake(spec, b, "--runtime systemd --threads 2", NULL), 0);
	assert_true(same_bytes(a, b));
	assert_int_equal(tu_sh(&o, "'%s' bundle verify '%s'", tu_bin(), a), 0);
	free(o);
	assert_int_equal(tu_sh(&o, "tar -I zstd -xOf '%s' image/rootfs.tar | "
	                       "tar -tf -", a), 0);
	assert_string_equal(o, "app/\napp/b\napp/log.txt\n");
	free(o);
	assert_int_equal(tu_sh(&o, "ls -A '%s' | grep -c meshvm-rootfs", d), 1);
	free(o);
	tu_rmrf(d);
	free(d);
	free(spec);
	free(a);
	free(b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reproducible),
		cmocka_unit_test(test_gzip_across_a_second),
		cmocka_unit_test(test_layout_and_stock_tools),
		cmocka_unit_test(test_modes_normalised),
		cmocka_unit_test(test_json_and_digest),
		cmocka_unit_test(test_usage_errors),
		cmocka_unit_test(test_readonly_directory_leaves_nothing),
		cmocka_unit_test(test_sigterm_leaves_nothing),
		cmocka_unit_test(test_output_not_regular_refused),
		cmocka_unit_test(test_large_input_one_pass),
		cmocka_unit_test(test_systemd_streams_rootfs),
		cmocka_unit_test(test_bad_spec_writes_nothing),
		cmocka_unit_test(test_runtime_systemd),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
