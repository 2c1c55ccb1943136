/* test_vmsim.c - harness/vmsim alone: which boot metadata is ours
 * (classify: only what cloudinit/ generates, byte for byte) and the
 * sandbox (its own user, mount, net and pid namespaces; root inside and
 * nobody or the caller outside; only forwarded addresses reachable; the
 * boot script bounded).  test_vmsim_boot.c boots VMs through the fake. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cloudinit/cloudinit.h"
#include "harness/vmsim/vmsim.h"
#include "testutil.h"

/* ---- classify ---- */

static struct cloudinit_join
a_join(void)
{
	struct cloudinit_join j;

	memset(&j, 0, sizeof(j));
	j.source = CLOUDINIT_SOURCE_URL;
	j.bundle_url = "gs://bkt/vm/b.bundle";
	memset(j.bundle_sha256, 'a', 64);
	j.runtime = "auto";
	j.ready_timeout = 120;
	return j;
}

static void
assert_foreign(const char *key, const char *data, size_t len,
               const char *why)
{
	struct vmsim_plan *p = NULL;
	struct mv_err err;

	mv_err_clear(&err);
	assert_int_equal(vmsim_classify(key, data, len, &p, &err), -1);
	assert_null(p);
	assert_contains(err.msg, why);
}

static void
test_classify(void **state)
{
	struct cloudinit_join j = a_join();
	struct cloudinit_part parts[2];
	struct vmsim_plan *p = NULL;
	struct mv_err err;
	char *cc, *ss, *mp, *bad;
	size_t cc_len, ss_len, mp_len;
	const char *js = cloudinit_join_script(NULL);

	(void)state;
	mv_err_clear(&err);
	assert_int_equal(cloudinit_cloud_config(&j, &cc, &cc_len, &err), 0);
	assert_int_equal(cloudinit_startup_script(&j, &ss, &ss_len, &err), 0);
	/* ours: the cloud-config, with its files and runcmd */
	assert_int_equal(vmsim_classify("user-data", cc, cc_len, &p, &err), 0);
	assert_string_equal(p->kind, "cloud-config");
	assert_int_equal(p->n_files, 4);
	assert_string_equal(p->files[0].path, CLOUDINIT_JOIN_PATH);
	assert_int_equal(p->files[0].mode, 0700);
	assert_string_equal(p->files[0].content, js);
	assert_contains(p->script, "'systemctl' 'daemon-reload'\n");
	assert_contains(p->script, "'" CLOUDINIT_JOIN_PATH "' 'run'\n");
	vmsim_plan_free(p);
	/* ours: the startup-script, run as it is */
	assert_int_equal(vmsim_classify("startup-script", ss, ss_len, &p, &err),
	                 0);
	assert_string_equal(p->kind, "startup-script");
	assert_string_equal(p->script, ss);
	vmsim_plan_free(p);
	/* ours: a multipart with a user's script, which is not run */
	parts[0] = (struct cloudinit_part){"extra.sh", "text/x-shellscript",
	                                   "#!/bin/sh\ntouch /pwned\n", 24};
	parts[1] = (struct cloudinit_part){"meshvm-join.cfg", "text/cloud-config",
	                                   cc, cc_len};
	assert_int_equal(cloudinit_mime_multipart(parts, 2, &mp, &mp_len, &err),
	                 0);
	assert_int_equal(vmsim_classify("user-data", mp, mp_len, &p, &err), 0);
	assert_string_equal(p->kind, "multipart");
	assert_int_equal(p->n_skipped, 1);
	assert_null(strstr(p->script, "pwned"));
	vmsim_plan_free(p);
	free(mp);
	/* foreign: another cloud-config, a script, junk */
	assert_foreign("user-data", "#cloud-config\nruncmd: [[touch, /pwned]]\n",
	               39, "not meshvm's");
	assert_foreign("startup-script", "#!/bin/sh\ntouch /pwned\n", 23,
	               "not meshvm's");
	assert_foreign("user-data", "junk", 4, "neither a cloud-config");
	assert_foreign("user-data", "", 0, "no boot metadata");
	assert_foreign("user-data", "#cloud-config\n\0x", 16, "NUL");
	/* foreign: ours with one byte of the join script changed */
	bad = strdup(cc);
	*strstr(bad, "set -eu") = 'S';
	assert_foreign("user-data", bad, cc_len, "differs");
	free(bad);
	/* ... or a command added to the startup-script */
	bad = tu_fmt("%stouch /pwned\n", ss);
	assert_foreign("startup-script", bad, strlen(bad), "differs");
	free(bad);
	/* ... or to runcmd */
	bad = tu_fmt("%s", cc);
	{
		char *rc = strstr(bad, "runcmd:");
		assert_non_null(rc);
		rc[0] = 'R'; /* an unknown key now; our runcmd gone */
	}
	assert_foreign("user-data", bad, cc_len, "differs");
	free(bad);
	/* too large */
	{
		size_t n = VMSIM_META_MAX + 1;
		char *big = malloc(n);
		memset(big, 'x', n);
		assert_foreign("user-data", big, n, "over");
		free(big);
	}
	free(cc);
	free(ss);
}

/* ---- the sandbox alone ---- */

static int
listen_any(int *port)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	int s = socket(AF_INET, SOCK_STREAM, 0);

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(s, 8), 0);
	assert_int_equal(getsockname(s, (struct sockaddr *)&a, &len), 0);
	*port = ntohs(a.sin_port);
	return s;
}

static char *
rd_in(const char *dir, const char *rel)
{
	char *p = tu_fmt("%s/%s", dir, rel), *s = tu_read(p, NULL);

	free(p);
	assert_non_null(s);
	return s;
}

/* Its own namespaces: root inside (nobody or the caller outside), its own
 * pids, only loopback, and outside only what is forwarded; the boot
 * script is bounded. */
static void
test_sandbox(void **state)
{
	char *T = tu_tmpdir(), *dir = tu_fmt("%s/vm", T), *s;
	struct vmsim_plan plan;
	struct vmsim_boot b;
	struct vmsim_vm *vm = NULL;
	struct mv_err err;
	struct stat st;
	int host_port, in_port, ls = listen_any(&host_port), rc = -1;
	int spare = listen_any(&in_port);

	(void)state;
	close(spare); /* a port number nobody outside listens on */
	chmod(T, 0711);
	memset(&plan, 0, sizeof(plan));
	plan.kind = "test";
	plan.files[0] = (struct vmsim_file){"/etc/motd", 0600, "hi\n", 3};
	plan.n_files = 1;
	plan.script = tu_fmt(
		"#!/bin/sh\n"
		"R=$MESHVM_ROOT\n"
		"id -u >\"$R/uid\"\n"
		"echo $$ >\"$R/pid\"\n"
		"curl -s --max-time 2 http://127.0.0.1:%d/ >/dev/null; "
		"echo $? >\"$R/fwd\"\n"
		"curl -s --max-time 2 http://127.0.0.1:%d/ >/dev/null; "
		"echo $? >\"$R/direct\"\n"
		"ls /usr/local/sbin >\"$R/sbin\"\n"
		"sleep 100\n", in_port, host_port);
	memset(&b, 0, sizeof(b));
	b.name = "t";
	b.dir = dir;
	b.metadata_url = "http://127.0.0.1:1/md";
	b.storage_url = "http://127.0.0.1:1/st";
	snprintf(b.fwd[0].in_ip, 16, "127.0.0.1");
	b.fwd[0].in_port = in_port;
	snprintf(b.fwd[0].out_ip, 16, "127.0.0.1");
	b.fwd[0].out_port = host_port;
	b.n_fwd = 1;
	b.boot_timeout_s = 8;
	b.log_cap = 4096;
	mv_err_clear(&err);
	if (vmsim_start(&b, &plan, &vm, &err) != 0)
		print_error("vmsim_start: %s\n", err.msg);
	assert_non_null(vm);
	for (int i = 0; i < 300 && !vmsim_booted(vm, &rc); i++)
		usleep(100 * 1000);
	/* timeout(1) ended the script after 8 s */
	assert_int_equal(rc, 124);
	s = rd_in(dir, "root/uid");
	assert_string_equal(s, "0\n");
	free(s);
	s = rd_in(dir, "root/pid"); /* pid 1 is boot.sh */
	assert_true(atoi(s) > 1 && atoi(s) < 50);
	free(s);
	/* the forward reaches the host's listener (which never answers:
	 * curl times out, 28); the host's port itself is not there (7) */
	s = rd_in(dir, "root/fwd");
	assert_string_equal(s, "28\n");
	free(s);
	s = rd_in(dir, "root/direct");
	assert_string_equal(s, "7\n");
	free(s);
	/* /usr/local/sbin is the VM's */
	s = rd_in(dir, "root/sbin");
	assert_string_equal(s, "");
	free(s);
	s = tu_fmt("%s/root/etc/motd", dir);
	assert_int_equal(stat(s, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	free(s);
	s = tu_fmt("%s/root/uid", dir);
	assert_int_equal(stat(s, &st), 0);
	assert_int_equal(st.st_uid, geteuid() == 0 ? 65534u : geteuid());
	free(s);
	vmsim_stop(vm, 2000);
	close(ls);
	free(plan.script);
	tu_rmrf(T);
	free(T);
	free(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_classify),
		cmocka_unit_test(test_sandbox),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
