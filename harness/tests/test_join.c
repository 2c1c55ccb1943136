/* test_join.c - cloudinit/join.sh under the harness, without root.
 *
 * Each case builds a fake root (MESHVM_ROOT) and a NoCloud seed directory,
 * then runs the script with PATH = recording shims (join-shim.sh linked as
 * dpkg, systemctl, systemd-run, docker, podman, ctr, chown, curl, mount,
 * blkid) + the real system tools.  It asserts the files, modes, the exact
 * command sequence, the console lines and status.json; a second run must
 * change nothing.
 */
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

static char *T;          /* suite temp dir */
static char *bundle_zst; /* the fixture bundle, zstd */
static char *bundle_gz;  /* the same, gzip */
static char *bundle_dk;  /* the same with --runtime docker (image.tar) */
static char *sha_dk;
static char *sha_zst, *sha_gz;

static const char *const shimmed[] = {"dpkg", "rpm", "systemctl",
                                      "systemd-run", "docker", "podman",
                                      "ctr", "chown", "curl", "mount",
                                      "blkid"};

static char *
file_sha(const char *path)
{
	char *out = NULL;

	assert_int_equal(tu_sh(&out, "sha256sum '%s' | cut -c1-64", path), 0);
	out[64] = '\0';
	return out;
}

static int
setup(void **state)
{
	char *excl = NULL;

	(void)state;
	T = tu_tmpdir();
	bundle_zst = tu_fmt("%s/bundle.zst", T);
	bundle_gz = tu_fmt("%s/bundle.gz", T);
	assert_int_equal(tu_sh(NULL, "'%s' bake -f '%s/bundle/bundle.yaml' -o "
	                             "'%s'", tu_bin(), tu_fixtures(), bundle_zst),
	                 0);
	assert_int_equal(tu_sh(NULL, "'%s' bake -f '%s/bundle/bundle.yaml' -o "
	                             "'%s' --compress gzip", tu_bin(),
	                       tu_fixtures(), bundle_gz), 0);
	bundle_dk = tu_fmt("%s/bundle.docker", T);
	assert_int_equal(tu_sh(NULL, "'%s' bake -f '%s/bundle/bundle.yaml' -o "
	                             "'%s' --runtime docker", tu_bin(),
	                       tu_fixtures(), bundle_dk), 0);
	sha_dk = file_sha(bundle_dk);
	sha_zst = file_sha(bundle_zst);
	sha_gz = file_sha(bundle_gz);
	/* shims/ (all), shims-nort/ (no container runtime), sys/ (the real
	 * tools minus the shimmed ones, zstd and any runtime), zstd/ */
	excl = tu_fmt("zstd");
	for (size_t i = 0; i < sizeof(shimmed) / sizeof(shimmed[0]); i++) {
		char *n = tu_fmt("%s %s", excl, shimmed[i]);
		free(excl);
		excl = n;
	}
	assert_int_equal(
		tu_sh(NULL,
		      "set -e; cd '%s'; mkdir shims shims-nort sys zstd;"
		      "for c in %s; do [ $c = zstd ] && continue;"
		      "  ln -s '%s/harness/tests/join-shim.sh' shims/$c;"
		      "  case $c in docker|podman|ctr) ;; *)"
		      "  ln -s '%s/harness/tests/join-shim.sh' shims-nort/$c;; esac;"
		      "done;"
		      "for f in /usr/sbin/* /usr/bin/*; do b=${f##*/};"
		      "  case \" %s \" in *\" $b \"*) continue;; esac;"
		      "  [ -e sys/$b ] || ln -s \"$f\" sys/$b; done;"
		      "ln -s \"$(command -v zstd)\" zstd/zstd;"
		      /* shims-py: no curl; sys-py: no wget, busybox, flock,
		       * openssl (python3 and sha256sum remain); sys-noflock;
		       * sys-nolock: neither flock nor python3 (mkdir lock) */
		      "mkdir shims-py shims-df sys-py sys-noflock sys-nolock;"
		      "for f in shims/*; do [ \"${f##*/}\" = curl ] ||"
		      "  cp -P \"$f\" shims-py/; done;"
		      "ln -s '%s/harness/tests/join-shim.sh' shims-df/df;"
		      "for f in sys/*; do b=${f##*/};"
		      "  case $b in wget|busybox|flock|openssl) ;; *)"
		      "    cp -P \"$f\" sys-py/;; esac;"
		      "  [ $b = flock ] || cp -P \"$f\" sys-noflock/;"
		      "  case $b in flock|python3*) ;; *) cp -P \"$f\" sys-nolock/;;"
		      "  esac; done",
		      T, excl, tu_src(), tu_src(), excl, tu_src()),
		0);
	free(excl);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	tu_rmrf(T);
	free(T);
	free(bundle_zst);
	free(bundle_dk);
	free(sha_dk);
	free(bundle_gz);
	free(sha_zst);
	free(sha_gz);
	return 0;
}

/*--- a case: root, seed, configuration -----------------------------------*/

struct jcase {
	char *dir, *root, *seed, *calls;
	const char *path_dirs; /* e.g. "shims zstd sys" */
	const char *env;       /* extra environment */
	const char *script;    /* NULL: cloudinit/join.sh */
};

static char *
b64url(const char *s)
{
	size_t n = strlen(s);
	char *out = calloc(1, n * 2 + 8);
	int m;

	assert_non_null(out);
	m = EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)s,
	                    (int)n);
	for (int i = 0; i < m; i++) {
		if (out[i] == '+')
			out[i] = '-';
		else if (out[i] == '/')
			out[i] = '_';
		else if (out[i] == '=')
			out[i] = '\0';
	}
	return out;
}

/* A JWT-shaped token expiring at `exp` (the signature is junk). */
static char *
jwt(long long exp)
{
	char *payload = tu_fmt("{\"aud\":[\"istio-ca\"],\"exp\":%lld,\"sub\":"
	                       "\"system:serviceaccount:default:default\"}",
	                       exp);
	char *h = b64url("{\"alg\":\"RS256\",\"kid\":\"k\"}");
	char *p = b64url(payload);
	char *t = tu_fmt("%s.%s.c2lnbmF0dXJl", h, p);

	free(payload);
	free(h);
	free(p);
	return t;
}

static void
write_conf(struct jcase *c, const char *extra_conf, const char *pin)
{
	char *conf = tu_fmt("%s/etc/meshvm/join.conf", c->root);
	char *pinf = tu_fmt("%s/etc/meshvm/bundle.sha256", c->root);
	char *text = tu_fmt("# test\nMESHVM_READY_TIMEOUT=5\n%s", extra_conf);

	tu_write(conf, text);
	char *pin_text = tu_fmt("%s\n", pin);

	tu_write(pinf, pin_text);
	free(pin_text);
	free(conf);
	free(pinf);
	free(text);
}

/* New case: root with the files cloud-init would have written, a seed
 * holding `bundle` and a token expiring at `exp`. */
static struct jcase
new_case(const char *name, const char *bundle, const char *pin,
         long long exp, const char *extra_conf)
{
	struct jcase c;
	char *tok = jwt(exp);

	memset(&c, 0, sizeof(c));
	c.dir = tu_fmt("%s/%s", T, name);
	c.root = tu_fmt("%s/root", c.dir);
	c.seed = tu_fmt("%s/seed", c.dir);
	c.calls = tu_fmt("%s/calls", c.dir);
	c.path_dirs = "shims zstd sys";
	assert_int_equal(
		tu_sh(NULL,
		      "set -e; mkdir -p '%s'/etc/meshvm '%s'/proc/sys/kernel/random "
		      "'%s'/dev '%s'/meshvm; cd '%s';"
		      "printf 'root:x:0:0:root:/root:/bin/sh\\n' >etc/passwd;"
		      "printf '127.0.0.1 localhost\\n' >etc/hosts;"
		      "echo boot-1 >proc/sys/kernel/random/boot_id;"
		      ": >dev/console; : >dev/ttyS0;"
		      "cp '%s' '%s/meshvm/bundle';"
		      "printf 'instance-id: iid-test\\n' >'%s/meta-data';"
		      "printf '%%s' '%s' >'%s/meshvm/istio-token'",
		      c.root, c.root, c.root, c.seed, c.root, bundle, c.seed, c.seed,
		      tok, c.seed),
		0);
	write_conf(&c, extra_conf ? extra_conf
	                          : "MESHVM_BUNDLE_SOURCE=seed\n"
	                            "MESHVM_SEED_BUNDLE=meshvm/bundle\n"
	                            "MESHVM_TOKEN_SOURCE=seed\n"
	                            "MESHVM_RUNTIME=auto\n",
	           pin);
	free(tok);
	return c;
}

static void
free_case(struct jcase *c)
{
	free(c->dir);
	free(c->root);
	free(c->seed);
	free(c->calls);
}

/* The command line that runs the case's script in `mode`. */
static char *
run_cmd(struct jcase *c, const char *mode)
{
	char path[512] = "";
	char *copy = strdup(c->path_dirs), *save = NULL, *script, *cmd;

	assert_non_null(copy);
	for (char *d = strtok_r(copy, " ", &save); d; d = strtok_r(NULL, " ", &save)) {
		size_t n = strlen(path);
		snprintf(path + n, sizeof(path) - n, "%s%s/%s", n ? ":" : "", T, d);
	}
	free(copy);
	script = c->script ? tu_fmt("%s", c->script)
	                   : tu_fmt("%s/cloudinit/join.sh", tu_src());
	cmd = tu_fmt("env -i LC_ALL=C PATH='%s' MESHVM_ROOT='%s' SHIM_LOG='%s' "
	             "SHIM_SEED_DIR='%s' %s /bin/sh '%s' %s", path, c->root,
	             c->calls, c->seed, c->env ? c->env : "", script, mode);
	free(script);
	return cmd;
}

/* Run the script; returns its exit code; output (stderr) in *out. */
static int
run(struct jcase *c, const char *mode, char **out)
{
	char *cmd = run_cmd(c, mode);

	unlink(c->calls);
	tu_write(c->calls, "");
	char *log = NULL;
	int rc = tu_sh(&log, "cd '%s' && %s", c->dir, cmd);
	free(cmd);
	if (getenv("MESHVM_TEST_VERBOSE") != NULL)
		print_message("join.sh %s: exit %d\n%s", mode, rc, log);
	if (out != NULL)
		*out = log;
	else
		free(log);
	return rc;
}

static char *
rd(struct jcase *c, const char *rel)
{
	char *p = tu_fmt("%s%s", c->root, rel);
	char *s = tu_read(p, NULL);

	free(p);
	return s;
}

static bool
exists_in(struct jcase *c, const char *rel)
{
	char *p = tu_fmt("%s%s", c->root, rel);
	bool e = tu_exists(p);

	free(p);
	return e;
}

static char *
seed_token(struct jcase *c)
{
	char *p = tu_fmt("%s/meshvm/istio-token", c->seed);
	char *t = tu_read(p, NULL);

	free(p);
	assert_non_null(t);
	return t;
}

static unsigned
mode_of(struct jcase *c, const char *rel)
{
	char *p = tu_fmt("%s%s", c->root, rel);
	struct stat st;

	if (stat(p, &st) != 0) {
		print_error("missing %s\n", rel);
		fail();
	}
	free(p);
	return st.st_mode & 07777;
}

static void
assert_calls(struct jcase *c, const char *expected)
{
	char *got = tu_read(c->calls, NULL);

	assert_non_null(got);
	if (strcmp(got, expected) != 0) {
		print_error("command sequence differs\n--- expected\n%s--- got\n%s",
		            expected, got);
		fail();
	}
	free(got);
}

/* status.json field as text ("joined", "2", "true"). */
static char *
status(struct jcase *c, const char *field)
{
	char *out = NULL;

	assert_int_equal(tu_sh(&out, "python3 -c 'import json,sys; v=json.load("
	                             "open(sys.argv[1]))[sys.argv[2]]; print(v if "
	                             "isinstance(v,str) else json.dumps(v))' "
	                             "'%s/var/lib/meshvm/status.json' %s",
	                       c->root, field), 0);
	out[strcspn(out, "\n")] = '\0';
	return out;
}

static void
assert_status(struct jcase *c, const char *field, const char *want)
{
	char *got = status(c, field);

	if (strcmp(got, want) != 0) {
		print_error("status.json %s: expected %s, got %s\n", field, want, got);
		fail();
	}
	free(got);
}

/* Everything under the root but the run's own reports. */
static char *
snapshot(struct jcase *c)
{
	char *out = NULL;

	assert_int_equal(
		tu_sh(&out,
		      "cd '%s' && find . \\( -path ./.shim -o -path ./dev -o -path "
		      "./var/lib/meshvm/status.json -o -path ./var/log/meshvm-join.log "
		      "\\) -prune -o -printf '%%M %%s %%p\\n' | sort && find . -type f "
		      "! -path './.shim/*' ! -path ./var/lib/meshvm/status.json ! -path "
		      "./var/log/meshvm-join.log ! -path './dev/*' -exec sha256sum {} + "
		      "| sort && grep -v '_at\"' var/lib/meshvm/status.json",
		      c->root),
		0);
	return out;
}

static const char first_run_calls[] =
	"blkid -l -o device -t LABEL=cidata\n"
	"mount -o ro /dev/sr0 <ROOT>/run/meshvm/seed\n"
	"dpkg -i <ROOT>/var/lib/meshvm/current/sidecar/istio-sidecar.deb\n"
	"chown -R istio-proxy:istio-proxy <ROOT>/var/lib/istio <ROOT>/etc/certs "
	"<ROOT>/etc/istio/proxy <ROOT>/etc/istio/config\n"
	"chown root:root <ROOT>/etc/meshvm/istio-token\n"
	"chown -R istio-proxy:istio-proxy <ROOT>/var/run/secrets\n"
	"systemctl daemon-reload\n"
	"systemctl is-enabled --quiet productcatalogservice.service\n"
	"systemctl enable --quiet productcatalogservice.service\n"
	"systemctl is-enabled --quiet productcatalog.service\n"
	"systemctl enable --quiet productcatalog.service\n"
	"systemctl is-enabled --quiet istio.service\n"
	"systemctl enable --quiet istio.service\n"
	"systemctl start productcatalogservice.service\n"
	"systemctl start productcatalog.service\n"
	"systemctl start istio.service\n"
	"curl -fsS -o /dev/null --max-time 3 http://localhost:15021/healthz/ready\n"
	"systemctl is-failed --quiet productcatalogservice.service\n"
	"systemctl is-failed --quiet productcatalog.service\n";

static void
test_first_run(void **state)
{
	long long exp = (long long)time(NULL) + 86400;
	struct jcase c = new_case("first", bundle_zst, sha_zst, exp, NULL);
	char *out = NULL, *s, *want, *tok;

	(void)state;
	assert_int_equal(run(&c, "run", &out), 0);
	assert_calls(&c, first_run_calls);
	/* identity files: contents and modes (owners: the chown calls) */
	s = rd(&c, "/etc/certs/root-cert.pem");
	want = tu_fmt("%s/bundle/identity/root-cert.pem", tu_fixtures());
	{
		char *w = tu_read(want, NULL);
		free(want);
		want = w;
	}
	assert_string_equal(s, want);
	free(s);
	free(want);
	s = rd(&c, "/var/lib/istio/envoy/cluster.env");
	assert_contains(s, "ISTIO_SERVICE='productcatalogservice.default'");
	free(s);
	s = rd(&c, "/etc/istio/config/mesh");
	assert_contains(s, "defaultConfig:");
	free(s);
	assert_int_equal(mode_of(&c, "/etc/certs/root-cert.pem"), 0644);
	assert_int_equal(mode_of(&c, "/var/lib/istio/envoy/cluster.env"), 0644);
	assert_int_equal(mode_of(&c, "/etc/istio/config/mesh"), 0644);
	assert_int_equal(mode_of(&c, "/etc/istio/proxy"), 0755);
	s = rd(&c, "/etc/hosts");
	assert_string_equal(s, "127.0.0.1 localhost\n# BEGIN meshvm hosts\n"
	                       "203.0.113.10 istiod.istio-system.svc\n"
	                       "# END meshvm hosts\n");
	free(s);
	/* the token: stored 0600, installed 0600, same bytes as the seed's */
	tok = seed_token(&c);
	s = rd(&c, "/etc/meshvm/istio-token");
	assert_string_equal(s, tok);
	free(s);
	s = rd(&c, "/var/run/secrets/tokens/istio-token");
	assert_string_equal(s, tok);
	free(s);
	assert_int_equal(mode_of(&c, "/etc/meshvm/istio-token"), 0600);
	assert_int_equal(mode_of(&c, "/var/run/secrets/tokens/istio-token"), 0600);
	/* units */
	assert_int_equal(mode_of(&c, "/etc/systemd/system/productcatalog.service"),
	                 0644);
	/* runtime systemd: the flattened image under /var/lib/meshvm/rootfs
	 * (the app layer's whiteout applied) and its generated unit */
	assert_true(exists_in(&c, "/var/lib/meshvm/rootfs/productcatalogservice/"
	                          "app/productcatalogservice"));
	assert_true(exists_in(&c, "/var/lib/meshvm/rootfs/productcatalogservice/"
	                          "bin/busybox"));
	assert_false(exists_in(&c, "/var/lib/meshvm/rootfs/productcatalogservice/"
	                           "etc/motd"));
	assert_int_equal(mode_of(&c, "/var/lib/meshvm/rootfs/productcatalogservice/"
	                             "app/productcatalogservice"), 0755);
	s = rd(&c, "/etc/systemd/system/productcatalogservice.service");
	assert_string_equal(
		s,
		"# Generated by meshvm-join from image/config.json (runtime "
		"systemd).\n"
		"[Unit]\nDescription=productcatalogservice (meshvm, runtime "
		"systemd)\n"
		"Wants=network-online.target\nAfter=network-online.target\n\n"
		"[Service]\n"
		"RootDirectory=/var/lib/meshvm/rootfs/productcatalogservice\n"
		"MountAPIVFS=yes\n"
		"ExecStart=\"/app/productcatalogservice\" \"3550\"\n"
		"Environment=\"PATH=/bin\"\nEnvironment=\"PORT=3550\"\n"
		"WorkingDirectory=/app\nDynamicUser=yes\nProtectSystem=strict\n"
		"PrivateTmp=yes\nNoNewPrivileges=yes\nRestart=on-failure\n\n"
		"[Install]\nWantedBy=multi-user.target\n");
	free(s);
	assert_int_equal(mode_of(&c, "/etc/systemd/system/"
	                             "productcatalogservice.service"), 0644);
	/* status */
	assert_status(&c, "phase", "joined");
	assert_status(&c, "boot_count", "1");
	assert_status(&c, "bundle_sha256", sha_zst);
	want = tu_fmt("%lld", exp);
	assert_status(&c, "token_exp", want);
	free(want);
	assert_status(&c, "token_expired", "false");
	assert_status(&c, "error", "null");
	assert_int_equal(mode_of(&c, "/var/lib/meshvm/status.json"), 0644);
	/* console and serial: one line per phase */
	s = rd(&c, "/dev/console");
	want = tu_fmt("meshvm-join: fetching seed\n"
	              "meshvm-join: verifying sha256 %s\n"
	              "meshvm-join: installing istio-sidecar.deb\n"
	              "meshvm-join: starting productcatalogservice.service "
	              "productcatalog.service istio.service\n"
	              "meshvm-join: waiting http://localhost:15021/healthz/ready "
	              "(up to 5s)\n"
	              "meshvm-join: joined bundle %.12s boot 1\n",
	              sha_zst, sha_zst);
	assert_string_equal(s, want);
	free(s);
	s = rd(&c, "/dev/ttyS0");
	assert_string_equal(s, want);
	free(s);
	free(want);
	/* no secret in the log, on stderr, or in the calls */
	s = rd(&c, "/var/log/meshvm-join.log");
	assert_contains(s, "bundle unpacked and verified");
	assert_null(strstr(s, strchr(tok, '.') + 1));
	free(s);
	assert_null(strstr(out, strchr(tok, '.') + 1));
	s = tu_read(c.calls, NULL);
	assert_null(strstr(s, "eyJ"));
	free(s);
	free(tok);
	free(out);
	free_case(&c);
}

static void
test_second_run_changes_nothing(void **state)
{
	struct jcase c = new_case("second", bundle_zst, sha_zst,
	                          (long long)time(NULL) + 86400, NULL);
	char *before, *after;

	(void)state;
	assert_int_equal(run(&c, "run", NULL), 0);
	before = snapshot(&c);
	assert_int_equal(run(&c, "run", NULL), 0);
	after = snapshot(&c);
	assert_string_equal(before, after);
	assert_calls(&c,
	             "systemctl is-enabled --quiet productcatalogservice.service\n"
	             "systemctl is-enabled --quiet productcatalog.service\n"
	             "systemctl is-enabled --quiet istio.service\n"
	             "systemctl start productcatalogservice.service\n"
	             "systemctl start productcatalog.service\n"
	             "systemctl start istio.service\n"
	             "curl -fsS -o /dev/null --max-time 3 "
	             "http://localhost:15021/healthz/ready\n"
	             "systemctl is-failed --quiet productcatalogservice.service\n"
	             "systemctl is-failed --quiet productcatalog.service\n");
	assert_status(&c, "phase", "joined");
	assert_status(&c, "boot_count", "1");
	free(before);
	free(after);
	free_case(&c);
}

/* The next boot: /run is a fresh tmpfs; the unit runs `boot`, which
 * restores the token before queueing istio and hands the wait to a
 * transient unit that runs `wait`. */
static void
test_next_boot(void **state)
{
	struct jcase c = new_case("reboot", bundle_zst, sha_zst,
	                          (long long)time(NULL) + 86400, NULL);
	char *s, *tok;

	(void)state;
	assert_int_equal(run(&c, "run", NULL), 0);
	assert_int_equal(tu_sh(NULL, "cd '%s' && rm -rf run var/run && echo "
	                             "boot-2 >proc/sys/kernel/random/boot_id",
	                       c.root), 0);
	assert_int_equal(run(&c, "boot", NULL), 0);
	assert_calls(&c,
	             "blkid -l -o device -t LABEL=cidata\n"
	             "mount -o ro /dev/sr0 <ROOT>/run/meshvm/seed\n"
	             "chown -R istio-proxy:istio-proxy <ROOT>/var/run/secrets\n"
	             "systemctl is-enabled --quiet productcatalogservice.service\n"
	             "systemctl is-enabled --quiet productcatalog.service\n"
	             "systemctl is-enabled --quiet istio.service\n"
	             "systemctl start --no-block productcatalogservice.service\n"
	             "systemctl start --no-block productcatalog.service\n"
	             "systemctl start --no-block istio.service\n"
	             "systemd-run --no-block --collect --unit=meshvm-join-wait "
	             "--description=meshvm: wait for the sidecar to be ready "
	             "--property=After=istio.service /usr/local/sbin/meshvm-join "
	             "wait\n");
	tok = seed_token(&c);
	s = rd(&c, "/var/run/secrets/tokens/istio-token");
	assert_string_equal(s, tok);
	free(s);
	free(tok);
	assert_int_equal(mode_of(&c, "/var/run/secrets/tokens/istio-token"), 0600);
	assert_status(&c, "phase", "starting");
	assert_status(&c, "boot_count", "2");
	s = rd(&c, "/var/log/meshvm-join.log");
	assert_contains(s, "sidecar istio-sidecar.deb already installed");
	assert_contains(s, "identity files already in place");
	assert_contains(s, "bundle already here");
	free(s);
	/* the transient unit */
	assert_int_equal(run(&c, "wait", NULL), 0);
	assert_calls(&c, "curl -fsS -o /dev/null --max-time 3 "
	                 "http://localhost:15021/healthz/ready\n"
	                 "systemctl is-failed --quiet "
	                 "productcatalogservice.service\n"
	                 "systemctl is-failed --quiet productcatalog.service\n");
	assert_status(&c, "phase", "joined");
	assert_status(&c, "boot_count", "2");
	s = rd(&c, "/dev/console");
	{
		char *line = tu_fmt("meshvm-join: joined bundle %.12s boot 2\n",
		                    sha_zst);
		assert_contains(s, line);
		free(line);
	}
	free(s);
	free_case(&c);
}

static void
test_tampered_bundle(void **state)
{
	struct jcase c = new_case("tampered", bundle_zst, sha_zst,
	                          (long long)time(NULL) + 86400, NULL);
	char *out = NULL, *s, *bad = tu_fmt("%s/meshvm/bundle", c.seed);

	(void)state;
	/* one flipped byte in the seed's bundle */
	assert_int_equal(tu_sh(NULL, "printf 'X' | dd of='%s' bs=1 seek=200 "
	                             "conv=notrunc 2>/dev/null", bad), 0);
	assert_int_not_equal(run(&c, "run", &out), 0);
	assert_calls(&c, "blkid -l -o device -t LABEL=cidata\n"
	                 "mount -o ro /dev/sr0 <ROOT>/run/meshvm/seed\n");
	assert_status(&c, "phase", "failed");
	s = status(&c, "error");
	assert_contains(s, "bundle digest mismatch");
	assert_contains(s, sha_zst);
	free(s);
	assert_false(exists_in(&c, "/etc/certs"));
	assert_false(exists_in(&c, "/var/lib/meshvm/bundle"));
	assert_false(exists_in(&c, "/var/lib/meshvm/current"));
	s = rd(&c, "/dev/console");
	assert_contains(s, "meshvm-join: failed bundle digest mismatch");
	free(s);
	free(out);
	free(bad);
	free_case(&c);
}

/* A bundle whose whole-file digest is pinned but whose contents do not
 * match its SHA256SUMS (re-packed by hand, manifest first as the format
 * says): the SHA256SUMS check stops it. */
static void
test_tampered_contents(void **state)
{
	char *repack = tu_fmt("%s/repacked.tar.gz", T), *sha, *s;
	struct jcase c;

	(void)state;
	assert_int_equal(tu_sh(NULL, "set -e; d='%s/repack'; mkdir -p \"$d\"; "
	                             "tar -xzf '%s' -C \"$d\"; echo '198.51.100.9 "
	                             "evil' >>\"$d/identity/hosts\"; tar -czf '%s' "
	                             "-C \"$d\" MANIFEST.json SHA256SUMS "
	                             "identity image sidecar units", T, bundle_gz,
	                       repack), 0);
	sha = file_sha(repack);
	c = new_case("contents", repack, sha, (long long)time(NULL) + 86400, NULL);
	c.path_dirs = "shims sys"; /* gzip needs no zstd */
	assert_int_not_equal(run(&c, "run", NULL), 0);
	assert_status(&c, "phase", "failed");
	s = status(&c, "error");
	assert_contains(s, "bundle contents do not match SHA256SUMS");
	free(s);
	s = rd(&c, "/var/log/meshvm-join.log");
	assert_contains(s, "identity/hosts: FAILED");
	free(s);
	s = tu_read(c.calls, NULL);
	assert_null(strstr(s, "dpkg"));
	free(s);
	assert_false(exists_in(&c, "/var/lib/meshvm/current"));
	free(sha);
	free(repack);
	free_case(&c);
}

static void
test_zstd_missing(void **state)
{
	struct jcase c = new_case("nozstd", bundle_zst, sha_zst,
	                          (long long)time(NULL) + 86400, NULL);
	struct jcase g = new_case("gzip", bundle_gz, sha_gz,
	                          (long long)time(NULL) + 86400, NULL);
	char *s;

	(void)state;
	c.path_dirs = "shims sys";
	assert_int_not_equal(run(&c, "run", NULL), 0);
	s = status(&c, "error");
	assert_contains(s, "the bundle is zstd-compressed but this VM has no "
	                   "zstd");
	free(s);
	s = tu_read(c.calls, NULL);
	assert_null(strstr(s, "dpkg"));
	free(s);
	/* a gzip bundle needs no zstd */
	g.path_dirs = "shims sys";
	assert_int_equal(run(&g, "run", NULL), 0);
	assert_status(&g, "phase", "joined");
	free_case(&c);
	free_case(&g);
}

static void
test_expired_token(void **state)
{
	long long exp = (long long)time(NULL) - 3600;
	struct jcase c = new_case("expired", bundle_zst, sha_zst, exp, NULL);
	char *s, *want;

	(void)state;
	assert_int_equal(run(&c, "run", NULL), 0);
	assert_status(&c, "phase", "joined");
	assert_status(&c, "token_expired", "true");
	want = tu_fmt("%lld", exp);
	assert_status(&c, "token_exp", want);
	free(want);
	s = rd(&c, "/dev/console");
	assert_contains(s, "meshvm-join: warning istio-token expired at ");
	assert_contains(s, "set a fresh one (metadata key meshvm-istio-token or "
	                   "the seed)");
	free(s);
	free_case(&c);
}

/* GCE: the bundle from gs:// through the JSON API with the metadata
 * server's access token; the istio token from metadata; docker. */
static void
test_gcs_and_metadata(void **state)
{
	struct jcase c = new_case("gce", bundle_dk, sha_dk, 0,
	                          "MESHVM_BUNDLE_SOURCE=url\n"
	                          "MESHVM_BUNDLE_URL=gs://my-bucket/vm/b 1.bundle\n"
	                          "MESHVM_TOKEN_SOURCE=metadata\n"
	                          "MESHVM_RUNTIME=docker\n");
	char *md_tok = tu_fmt("%s/md-token", T), *t = jwt(4102444800LL);
	char *env, *s, *out = NULL;

	(void)state;
	tu_write(md_tok, t);
	env = tu_fmt("SHIM_BUNDLE='%s' SHIM_MD_TOKEN='%s' "
	             "MESHVM_METADATA_URL=http://md.test/computeMetadata/v1",
	             bundle_dk, md_tok);
	c.env = env;
	/* no seed on this VM */
	assert_int_equal(tu_sh(NULL, "rm -rf '%s'", c.seed), 0);
	assert_int_equal(run(&c, "run", &out), 0);
	assert_calls(
		&c,
		"curl -fsS --connect-timeout 2 --max-time 10 --retry 2 -H "
		"Metadata-Flavor: Google -o <ROOT>/run/meshvm/tmp.X/sa.json "
		"http://md.test/computeMetadata/v1/instance/service-accounts/default/"
		"token\n"
		"curl -fsSL --retry 5 --retry-connrefused --connect-timeout 10 -H "
		"@<ROOT>/run/meshvm/tmp.X/auth.hdr -o <ROOT>/var/lib/meshvm/bundle.part "
		"https://storage.googleapis.com/storage/v1/b/my-bucket/o/"
		"vm%2Fb%201.bundle?alt=media\n"
		"dpkg -i <ROOT>/var/lib/meshvm/current/sidecar/istio-sidecar.deb\n"
		"chown -R istio-proxy:istio-proxy <ROOT>/var/lib/istio <ROOT>/etc/certs "
		"<ROOT>/etc/istio/proxy <ROOT>/etc/istio/config\n"
		"curl -fsS --connect-timeout 2 --max-time 10 --retry 2 -H "
		"Metadata-Flavor: Google -o <ROOT>/run/meshvm/tmp.X/token "
		"http://md.test/computeMetadata/v1/instance/attributes/"
		"meshvm-istio-token\n"
		"chown root:root <ROOT>/etc/meshvm/istio-token\n"
		"chown -R istio-proxy:istio-proxy <ROOT>/var/run/secrets\n"
		"docker load -i <ROOT>/var/lib/meshvm/current/image/image.tar\n"
		"systemctl daemon-reload\n"
		"systemctl is-enabled --quiet productcatalog.service\n"
		"systemctl enable --quiet productcatalog.service\n"
		"systemctl is-enabled --quiet istio.service\n"
		"systemctl enable --quiet istio.service\n"
		"systemctl is-enabled --quiet meshvm-token.timer\n"
		"systemctl enable --quiet meshvm-token.timer\n"
		"systemctl start productcatalog.service\n"
		"systemctl start istio.service\n"
		"systemctl start meshvm-token.timer\n"
		"curl -fsS -o /dev/null --max-time 3 "
		"http://localhost:15021/healthz/ready\n"
		"systemctl is-failed --quiet productcatalog.service\n");
	/* the token is re-read hourly from metadata ... */
	s = rd(&c, "/etc/systemd/system/meshvm-token.timer");
	assert_contains(s, "OnUnitActiveSec=1h");
	free(s);
	s = rd(&c, "/etc/systemd/system/meshvm-token.service");
	assert_contains(s, "ExecStart=/usr/local/sbin/meshvm-join token");
	free(s);
	/* ... and the sidecar keeps its certificate on disk */
	s = rd(&c, "/var/lib/istio/envoy/sidecar.env");
	assert_contains(s, "PROV_CERT=/etc/certs\n");
	assert_contains(s, "OUTPUT_CERTS=/etc/certs\n");
	free(s);
	s = rd(&c, "/etc/meshvm/istio-token");
	assert_string_equal(s, t);
	free(s);
	assert_status(&c, "token_exp", "4102444800");
	assert_status(&c, "token_source", "metadata");
	/* every phase went to the guest attribute meshvm/phase */
	s = rd(&c, "/.shim/guest-attributes");
	assert_string_equal(s, "meshvm/phase=fetching\nmeshvm/phase=verifying\n"
	                       "meshvm/phase=installing\nmeshvm/phase=starting\n"
	                       "meshvm/phase=waiting\nmeshvm/phase=joined\n");
	free(s);
	/* the access token never reaches a log, stderr or argv; its header
	 * file is gone */
	s = rd(&c, "/var/log/meshvm-join.log");
	assert_null(strstr(s, "ya29"));
	free(s);
	assert_null(strstr(out, "ya29"));
	s = tu_read(c.calls, NULL);
	assert_null(strstr(s, "ya29"));
	free(s);
	assert_int_equal(tu_sh(NULL, "ls '%s'/run/meshvm | grep -q tmp", c.root),
	                 1);
	free(out);

	/* next boot, metadata unreachable: the stored token is kept */
	free(env);
	env = tu_fmt("SHIM_BUNDLE='%s' MESHVM_METADATA_URL=http://md.test/x",
	             bundle_dk);
	c.env = env;
	assert_int_equal(tu_sh(NULL, "cd '%s' && rm -rf run var/run && echo "
	                             "boot-2 >proc/sys/kernel/random/boot_id",
	                       c.root), 0);
	assert_int_equal(run(&c, "run", NULL), 0);
	s = rd(&c, "/var/run/secrets/tokens/istio-token");
	assert_string_equal(s, t);
	free(s);
	s = rd(&c, "/var/log/meshvm-join.log");
	assert_contains(s, "no token from metadata; keeping /etc/meshvm/istio-token");
	free(s);
	s = tu_read(c.calls, NULL);
	assert_null(strstr(s, "docker load")); /* already loaded */
	assert_null(strstr(s, "alt=media"));   /* bundle kept */
	free(s);
	assert_status(&c, "boot_count", "2");

	/* the timer's run: a token refreshed in metadata is installed, and
	 * nothing else happens (no boot counted, no bundle fetched) */
	free(env);
	free(t);
	t = jwt(4102444801LL);
	tu_write(md_tok, t);
	env = tu_fmt("SHIM_BUNDLE='%s' SHIM_MD_TOKEN='%s' "
	             "MESHVM_METADATA_URL=http://md.test/computeMetadata/v1",
	             bundle_dk, md_tok);
	c.env = env;
	assert_int_equal(tu_sh(NULL, ": >'%s'", c.calls), 0);
	assert_int_equal(run(&c, "token", NULL), 0);
	s = rd(&c, "/var/run/secrets/tokens/istio-token");
	assert_string_equal(s, t);
	free(s);
	s = tu_read(c.calls, NULL);
	assert_contains(s, "instance/attributes/meshvm-istio-token");
	assert_null(strstr(s, "alt=media"));
	assert_null(strstr(s, "systemctl start"));
	free(s);
	assert_status(&c, "boot_count", "2");
	free(env);
	free(t);
	free(md_tok);
	free_case(&c);
}

static void
test_failures(void **state)
{
	struct jcase c;
	char *s;

	(void)state;
	/* runtime auto with none installed */
	c = new_case("nort", bundle_dk, sha_dk, (long long)time(NULL) + 99,
	             "MESHVM_BUNDLE_SOURCE=seed\nMESHVM_TOKEN_SOURCE=seed\n"
	             "MESHVM_RUNTIME=auto\n");
	c.path_dirs = "shims-nort zstd sys";
	assert_int_not_equal(run(&c, "run", NULL), 0);
	s = status(&c, "error");
	assert_contains(s, "no container runtime on this VM (docker, podman or "
	                   "containerd's ctr)");
	free(s);
	free_case(&c);
	/* dpkg fails */
	c = new_case("dpkg", bundle_zst, sha_zst, (long long)time(NULL) + 99,
	             NULL);
	c.env = "SHIM_DPKG_FAIL=1";
	assert_int_not_equal(run(&c, "run", NULL), 0);
	s = status(&c, "error");
	assert_string_equal(s, "dpkg -i istio-sidecar.deb failed");
	free(s);
	assert_false(exists_in(&c, "/var/lib/meshvm/sidecar.sha256"));
	free_case(&c);
	/* a bundle unit failed */
	c = new_case("unitfailed", bundle_zst, sha_zst,
	             (long long)time(NULL) + 99, NULL);
	c.env = "SHIM_FAILED_UNIT=productcatalog.service";
	assert_int_not_equal(run(&c, "run", NULL), 0);
	s = status(&c, "error");
	assert_string_equal(s, "productcatalog.service failed (see systemctl "
	                       "status productcatalog.service)");
	free(s);
	free_case(&c);
	/* never ready */
	c = new_case("notready", bundle_zst, sha_zst, (long long)time(NULL) + 99,
	             "MESHVM_BUNDLE_SOURCE=seed\nMESHVM_TOKEN_SOURCE=seed\n"
	             "MESHVM_RUNTIME=none\nMESHVM_READY_TIMEOUT=2\n");
	c.env = "SHIM_READY_AFTER=1000";
	assert_int_not_equal(run(&c, "run", NULL), 0);
	s = status(&c, "error");
	assert_contains(s, "istio not ready after 2s");
	free(s);
	/* a seed VM has no metadata server: no guest attributes tried */
	assert_false(exists_in(&c, "/.shim/guest-attributes"));
	free_case(&c);
	/* guest attributes that cannot be written never fail the join */
	c = new_case("gafail", bundle_zst, sha_zst, (long long)time(NULL) + 99,
	             "MESHVM_BUNDLE_SOURCE=seed\nMESHVM_TOKEN_SOURCE=seed\n"
	             "MESHVM_RUNTIME=none\n");
	c.env = "SHIM_GA_FAIL=1 "
	        "MESHVM_METADATA_URL=http://md.test/computeMetadata/v1";
	assert_int_equal(run(&c, "run", NULL), 0);
	assert_status(&c, "phase", "joined");
	assert_false(exists_in(&c, "/.shim/guest-attributes"));
	free_case(&c);
	/* the sidecar exited for good: the join says so at once, and on GCE
	 * the reason is the guest attribute meshvm/error */
	c = new_case("istiofailed", bundle_zst, sha_zst,
	             (long long)time(NULL) + 99,
	             "MESHVM_BUNDLE_SOURCE=seed\nMESHVM_TOKEN_SOURCE=seed\n"
	             "MESHVM_RUNTIME=none\nMESHVM_READY_TIMEOUT=600\n");
	c.env = "SHIM_READY_AFTER=1000 SHIM_FAILED_UNIT=istio.service "
	        "MESHVM_METADATA_URL=http://md.test/computeMetadata/v1";
	assert_int_not_equal(run(&c, "run", NULL), 0);
	s = status(&c, "error");
	assert_string_equal(s, "istio.service failed");
	free(s);
	s = rd(&c, "/.shim/guest-attributes");
	assert_contains(s, "meshvm/phase=waiting\nmeshvm/error=istio.service "
	                   "failed\nmeshvm/phase=failed\n");
	free(s);
	free_case(&c);
	/* no seed and nothing stored */
	c = new_case("noseed", bundle_zst, sha_zst, (long long)time(NULL) + 99,
	             NULL);
	assert_int_equal(tu_sh(NULL, "rm -rf '%s'", c.seed), 0);
	assert_int_not_equal(run(&c, "run", NULL), 0);
	s = status(&c, "error");
	assert_contains(s, "no NoCloud seed (volume labelled cidata)");
	free(s);
	free_case(&c);
	/* a broken configuration */
	c = new_case("conf", bundle_zst, sha_zst, (long long)time(NULL) + 99,
	             "MESHVM_RUNTIME=lxc\n");
	assert_int_not_equal(run(&c, "run", NULL), 0);
	s = status(&c, "error");
	assert_contains(s, "MESHVM_RUNTIME must be auto, docker, podman");
	free(s);
	assert_int_equal(run(&c, "bogus", NULL), 2);
	free_case(&c);
}


/* Two runners at once (the unit and the guest agent's startup-script, or
 * cloud-init's runcmd and a hand): the second waits for the first's lock,
 * so the phases never interleave.  With flock(1), with python3's fcntl
 * when flock is absent, and with a mkdir lock when both are (a stale one,
 * left by a dead runner, is taken over). */
static void
test_lock_serialises(void **state)
{
	static const char *const sys_dirs[] = {"sys", "sys-noflock",
	                                       "sys-nolock"};

	(void)state;
	for (size_t i = 0; i < 3; i++) {
		char *name = tu_fmt("lock-%s", sys_dirs[i]);
		struct jcase c = new_case(name, bundle_zst, sha_zst,
		                          (long long)time(NULL) + 86400, NULL);
		char *a, *b, *out = NULL, *s, *one, *want;

		c.path_dirs = i == 0 ? "shims zstd sys"
		              : i == 1 ? "shims zstd sys-noflock"
		                       : "shims zstd sys-nolock";
		/* the first runner holds the lock through a second of waiting
		 * for readiness (one failed probe, then sleep 1) */
		c.env = "SHIM_READY_AFTER=1";
		if (i == 2)
			assert_int_equal(tu_sh(NULL, "mkdir -p '%s/run/meshvm/join.lock.d'"
			                             " && echo 2147483646 >'%s/run/meshvm/"
			                             "join.lock.d/pid'", c.root, c.root),
			                 0);
		tu_write(c.calls, "");
		a = run_cmd(&c, "run");
		b = run_cmd(&c, "run");
		assert_int_equal(tu_sh(&out, "cd '%s' && { %s >a.log 2>&1; echo $? "
		                             ">a.rc; } & cd '%s' && { %s >b.log 2>&1;"
		                             " echo $? >b.rc; } & wait; cat '%s/a.rc'"
		                             " '%s/b.rc'", c.dir, a, c.dir, b, c.dir,
		                       c.dir), 0);
		if (strcmp(out, "0\n0\n") != 0) {
			char *la = NULL;
			tu_sh(&la, "cat '%s/a.log' '%s/b.log'", c.dir, c.dir);
			print_error("%s: exit codes %s%s", sys_dirs[i], out, la);
			free(la);
			fail();
		}
		one = tu_fmt("meshvm-join: fetching seed\n"
		             "meshvm-join: verifying sha256 %s\n"
		             "meshvm-join: installing istio-sidecar.deb\n"
		             "meshvm-join: starting productcatalogservice.service "
		             "productcatalog.service istio.service\n"
		             "meshvm-join: waiting http://localhost:15021/healthz/"
		             "ready (up to 5s)\n"
		             "meshvm-join: joined bundle %.12s boot 1\n",
		             sha_zst, sha_zst);
		want = tu_fmt("%s%s", one, one);
		s = rd(&c, "/dev/console");
		if (strcmp(s, want) != 0) {
			print_error("%s: the runs interleaved:\n%s", sys_dirs[i], s);
			fail();
		}
		assert_status(&c, "phase", "joined");
		assert_false(exists_in(&c, "/run/meshvm/join.lock.d"));
		free(s);
		free(one);
		free(want);
		free(out);
		free(a);
		free(b);
		free(name);
		free_case(&c);
	}
}

/* The space the bundle needs (the manifest's sizes) must be free under
 * /var/lib/meshvm before anything is extracted. */
static void
test_no_space(void **state)
{
	struct jcase c = new_case("nospace", bundle_zst, sha_zst,
	                          (long long)time(NULL) + 86400, NULL);
	char *s;

	(void)state;
	c.path_dirs = "shims-df shims zstd sys";
	c.env = "SHIM_DF_AVAIL=10";
	assert_int_not_equal(run(&c, "run", NULL), 0);
	s = status(&c, "error");
	assert_contains(s, "not enough space under /var/lib/meshvm: the bundle "
	                   "needs ");
	assert_contains(s, " KiB, 10 KiB free");
	free(s);
	assert_false(exists_in(&c, "/var/lib/meshvm/current"));
	assert_false(exists_in(&c, "/var/lib/meshvm/.unpack/identity"));
	s = tu_read(c.calls, NULL);
	assert_contains(s, "df -P <ROOT>/var/lib/meshvm\n");
	assert_null(strstr(s, "dpkg"));
	free(s);
	/* enough room: joins */
	c.env = "SHIM_DF_AVAIL=50000000";
	assert_int_equal(run(&c, "run", NULL), 0);
	assert_status(&c, "phase", "joined");
	free_case(&c);
}

/* A stock image with neither curl nor wget (nor zstd, flock, openssl):
 * the guest agent runs the generated startup-script, which writes the
 * join and runs it; python3's urllib reads the metadata server, fetches
 * the bundle from gs:// with the access token and probes readiness
 * against a real HTTP server on loopback.  The next boot's run of the
 * script changes nothing and leaves the join to the unit. */
static void
test_startup_script_python_only(void **state)
{
	char *script = tu_fmt("%s/startup-script", T);
	char *tokf = tu_fmt("%s/py-token", T), *t = jwt(4102444800LL);
	char *port = NULL, *env, *s, *before, *after, *out = NULL;
	struct jcase c;

	(void)state;
	tu_write(tokf, t);
	assert_int_equal(tu_sh(NULL, "'%s' cloudinit userdata --agent "
	                             "startup-script --bundle '%s' --bundle-url "
	                             "'gs://bkt/vm/b.bundle' --runtime none "
	                             "--ready-timeout 120 -o '%s'", tu_bin(),
	                       bundle_gz, script), 0);
	assert_int_equal(tu_sh(NULL, "python3 '%s/harness/tests/join-http.py' "
	                             "'%s/http.port' '%s/http.log' '%s' '%s' "
	                             "</dev/null >'%s/http.out' 2>&1 & echo $! "
	                             ">'%s/http.pid'; i=0; while [ ! -s "
	                             "'%s/http.port' ] && [ $i -lt 200 ]; do "
	                             "sleep 0.05; i=$((i+1)); done; [ -s "
	                             "'%s/http.port' ]", tu_src(), T, T,
	                       bundle_gz, tokf, T, T, T, T), 0);
	s = tu_fmt("%s/http.port", T);
	port = tu_read(s, NULL);
	free(s);
	port[strcspn(port, "\n")] = '\0';
	c = new_case("pyonly", bundle_gz, sha_gz, 0, NULL);
	/* nothing but what the image has: the script writes the rest */
	assert_int_equal(tu_sh(NULL, "rm -rf '%s' '%s/etc/meshvm'", c.seed,
	                       c.root), 0);
	c.path_dirs = "shims-py sys-py";
	c.script = script;
	env = tu_fmt("MESHVM_METADATA_URL=http://127.0.0.1:%s/computeMetadata/v1"
	             " MESHVM_STORAGE_URL=http://127.0.0.1:%s/storage/v1 "
	             "MESHVM_READY_URL=http://127.0.0.1:%s/healthz/ready",
	             port, port, port);
	c.env = env;
	assert_int_equal(run(&c, "", &out), 0);
	assert_status(&c, "phase", "joined");
	assert_status(&c, "bundle_sha256", sha_gz);
	assert_status(&c, "token_source", "metadata");
	assert_int_equal(mode_of(&c, "/usr/local/sbin/meshvm-join"), 0700);
	assert_int_equal(mode_of(&c, "/etc/meshvm/join.conf"), 0644);
	s = rd(&c, "/usr/local/sbin/meshvm-join");
	{
		char *js = tu_fmt("%s/cloudinit/join.sh", tu_src());
		char *want = tu_read(js, NULL);
		assert_string_equal(s, want);
		free(want);
		free(js);
	}
	free(s);
	s = rd(&c, "/etc/meshvm/bundle.sha256");
	assert_int_equal(strncmp(s, sha_gz, 64), 0);
	free(s);
	s = rd(&c, "/etc/meshvm/join.conf");
	assert_contains(s, "MESHVM_BUNDLE_URL=gs://bkt/vm/b.bundle\n");
	free(s);
	s = rd(&c, "/etc/meshvm/istio-token");
	assert_string_equal(s, t);
	free(s);
	s = rd(&c, "/etc/systemd/system/meshvm-join.service");
	assert_contains(s, "ExecStart=/usr/local/sbin/meshvm-join boot\n");
	free(s);
	s = tu_read(c.calls, NULL);
	{
		static const char first[] =
			"systemctl daemon-reload\n"
			"systemctl is-enabled --quiet meshvm-join.service\n"
			"systemctl enable meshvm-join.service\n";
		if (strncmp(s, first, sizeof(first) - 1) != 0) {
			print_error("startup-script calls:\n%s", s);
			fail();
		}
	}
	assert_null(strstr(s, "curl"));
	free(s);
	{
		char *p = tu_fmt("%s/http.log", T);
		s = tu_read(p, NULL);
		free(p);
	}
	assert_contains(s, "GET /computeMetadata/v1/instance/service-accounts/"
	                   "default/token flavor=1");
	assert_contains(s, "GET /storage/v1/b/bkt/o/vm%2Fb.bundle?alt=media "
	                   "flavor=0 auth=1\n");
	assert_contains(s, "GET /computeMetadata/v1/instance/attributes/"
	                   "meshvm-istio-token flavor=1");
	assert_contains(s, "GET /healthz/ready ");
	free(s);
	/* the access token never reaches argv, the log or stderr */
	s = rd(&c, "/var/log/meshvm-join.log");
	assert_null(strstr(s, "ya29"));
	free(s);
	assert_null(strstr(out, "ya29"));
	free(out);
	/* the next boot: the agent runs the script again */
	before = snapshot(&c);
	assert_int_equal(run(&c, "", NULL), 0);
	after = snapshot(&c);
	assert_string_equal(before, after);
	assert_calls(&c, "systemctl is-enabled --quiet meshvm-join.service\n"
	                 "systemctl start meshvm-join.service\n");
	free(before);
	free(after);
	assert_int_equal(tu_sh(NULL, "kill $(cat '%s/http.pid')", T), 0);
	free(env);
	free(port);
	free(t);
	free(tokf);
	free(script);
	free_case(&c);
}

/* A bundle whose SHA256SUMS vouch for a hostile image/rootfs.tar (made
 * by hand, not by bake): the join lists it and refuses before writing
 * anything under /var/lib/meshvm/rootfs. */
static void
test_rootfs_checked(void **state)
{
	static const char *const cases[][2] = {
		{"t.add(sym('evil', '/etc')); t.add(reg('evil/passwd'))",
		 "image/rootfs.tar: unsafe entry evil/passwd (below the symlink "
		 "evil)"},
		{"t.add(reg('../../etc/cron.d/x'))",
		 "image/rootfs.tar: unsafe entry ../../etc/cron.d/x"},
		{"t.add(reg('/etc/passwd'))",
		 "image/rootfs.tar: unsafe entry /etc/passwd"},
		{"t.add(reg('a')); t.add(hard('b', '../../a'))",
		 "image/rootfs.tar: unsafe entry hard link to ../../a"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *dir = tu_fmt("%s/hostile%zu", T, i);
		char *b = tu_fmt("%s.bundle", dir), *sha, *s, *name;
		struct jcase c;

		assert_int_equal(
			tu_sh(NULL,
			      "set -e; mkdir -p '%s'; cd '%s'; tar -xzf '%s';"
			      "python3 -c \"import tarfile, io\n"
			      "def reg(n):\n i = tarfile.TarInfo(n); i.size = 1; return i\n"
			      "def sym(n, t):\n i = tarfile.TarInfo(n); i.type = tarfile."
			      "SYMTYPE; i.linkname = t; return i\n"
			      "def hard(n, t):\n i = tarfile.TarInfo(n); i.type = tarfile."
			      "LNKTYPE; i.linkname = t; return i\n"
			      "class T:\n"
			      " def __init__(s): s.t = tarfile.open('image/rootfs.tar', 'w',"
			      " format=tarfile.GNU_FORMAT)\n"
			      " def add(s, i): s.t.addfile(i, io.BytesIO(b'x') if i.isreg()"
			      " else None)\n"
			      "t = T(); %s; t.t.close()\";"
			      "grep -v ' image/rootfs.tar$' SHA256SUMS >S; sha256sum "
			      "image/rootfs.tar >>S; sort -k2 S >SHA256SUMS; rm S;"
			      "tar -czf '%s' MANIFEST.json SHA256SUMS identity image "
			      "sidecar units",
			      dir, dir, bundle_gz, cases[i][0], b),
			0);
		sha = file_sha(b);
		name = tu_fmt("rootfs%zu", i);
		c = new_case(name, b, sha, (long long)time(NULL) + 99, NULL);
		c.path_dirs = "shims sys";
		assert_int_not_equal(run(&c, "run", NULL), 0);
		s = status(&c, "error");
		assert_string_equal(s, cases[i][1]);
		free(s);
		assert_false(exists_in(&c, "/var/lib/meshvm/rootfs"));
		assert_false(exists_in(&c, "/etc/passwd/.."));
		free_case(&c);
		free(name);
		free(sha);
		free(b);
		free(dir);
	}
}

/* The generated unit from an image whose user is root and whose command
 * needs quoting: no DynamicUser (a warning in the log), every word
 * double-quoted, systemd's % and $ escaped. */
static void
test_rootfs_unit_root_user(void **state)
{
	char *d = tu_tmpdir(), *spec = tu_copy_fixture_bundle(d);
	char *b = tu_fmt("%s/root.bundle", d), *sha, *s;
	struct jcase c;

	(void)state;
	assert_int_equal(
		tu_sh(NULL,
		      "set -e; cd '%s/bundle/artifacts'; python3 -c \"import tarfile, "
		      "io, json\n"
		      "src = tarfile.open('productcatalogservice.tar')\n"
		      "dst = tarfile.open('new.tar', 'w', format=tarfile.PAX_FORMAT)\n"
		      "for m in src.getmembers():\n"
		      " f = src.extractfile(m) if m.isreg() else None\n"
		      " if m.isreg() and m.name.endswith('.json') and '/' not in "
		      "m.name.lstrip('./') and 'manifest' not in m.name:\n"
		      "  c = json.load(f); c['config']['User'] = 'root'\n"
		      "  c['config']['Cmd'] = ['a b', '50%%', '\\$HOME', 'q\\\"x']\n"
		      "  data = json.dumps(c).encode(); m.size = len(data); "
		      "f = io.BytesIO(data)\n"
		      " dst.addfile(m, f)\n"
		      "dst.close()\"; mv new.tar productcatalogservice.tar; '%s' bake "
		      "-f '%s' -o '%s' --compress gzip >/dev/null",
		      d, tu_bin(), spec, b),
		0);
	sha = file_sha(b);
	c = new_case("rootuser", b, sha, (long long)time(NULL) + 99, NULL);
	c.path_dirs = "shims sys";
	assert_int_equal(run(&c, "run", NULL), 0);
	s = rd(&c, "/etc/systemd/system/productcatalogservice.service");
	assert_contains(s, "ExecStart=\"/app/productcatalogservice\" \"a b\" "
	                   "\"50%%\" \"$$HOME\" \"q\\\"x\"\n");
	assert_null(strstr(s, "DynamicUser"));
	assert_contains(s, "ProtectSystem=strict\nPrivateTmp=yes\n"
	                   "NoNewPrivileges=yes\n");
	free(s);
	s = rd(&c, "/var/log/meshvm-join.log");
	assert_contains(s, "warning: the image runs as root (user 'root')");
	free(s);
	free_case(&c);
	free(sha);
	free(b);
	free(spec);
	tu_rmrf(d);
	free(d);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_first_run),
		cmocka_unit_test(test_second_run_changes_nothing),
		cmocka_unit_test(test_next_boot),
		cmocka_unit_test(test_tampered_bundle),
		cmocka_unit_test(test_tampered_contents),
		cmocka_unit_test(test_zstd_missing),
		cmocka_unit_test(test_expired_token),
		cmocka_unit_test(test_gcs_and_metadata),
		cmocka_unit_test(test_failures),
		cmocka_unit_test(test_lock_serialises),
		cmocka_unit_test(test_no_space),
		cmocka_unit_test(test_rootfs_checked),
		cmocka_unit_test(test_rootfs_unit_root_user),
		cmocka_unit_test(test_startup_script_python_only),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
