/* harness/vmsim/vmsim.c - lay out one simulated VM's directory from a plan
 * and start it (sandbox.c runs it):
 *
 *   DIR/root/          the VM's / (MESHVM_ROOT): write_files land here
 *   DIR/bin/           shims, first on PATH (shim.sh under each name)
 *   DIR/user-script    runcmd as a script, or the startup-script
 *   DIR/boot.sh        pid 1: runs user-script (bounded), records its
 *                      status in DIR/boot.rc, then stays up until SIGTERM
 *                      stops the sidecar
 *   DIR/console.log    everything the VM printed (capped)
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/xalloc.h"
#include "harness/vmsim/vmsim_private.h"

static const char *const shim_names[] = {
	"systemctl", "journalctl", "systemd-run", "dpkg", "rpm", "docker",
	"chown", NULL};

/* mkdir -p below `base` (which exists) for the directories of rel. */
static int
mkdirs(const char *base, const char *rel, bool last_too)
{
	char *p = mv_xstrfmt("%s/%s", base, rel);
	size_t bl = strlen(base) + 1;
	int rc = 0;

	for (char *s = p + bl; *s && rc == 0; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0755) != 0 && errno != EEXIST)
			rc = -1;
		*s = '/';
	}
	if (rc == 0 && last_too && mkdir(p, 0755) != 0 && errno != EEXIST)
		rc = -1;
	free(p);
	return rc;
}

/* Write a new file (never through a symlink); 0 or -1. */
static int
put(const char *path, const char *data, size_t len, unsigned mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW |
	                    O_CLOEXEC, 0600);
	size_t off = 0;

	if (fd < 0)
		return -1;
	while (off < len) {
		ssize_t w = write(fd, data + off, len - off);
		if (w <= 0) {
			close(fd);
			return -1;
		}
		off += (size_t)w;
	}
	if (fchmod(fd, mode) != 0) {
		close(fd);
		return -1;
	}
	return close(fd);
}

/* A VM path we write: absolute, no "." or ".." components, bounded. */
static bool
vm_path_ok(const char *p)
{
	if (p == NULL || p[0] != '/' || strlen(p) > 1024)
		return false;
	for (const char *s = p; *s; s++)
		if (*s == '/' && (s[1] == '/' ||
		                  (s[1] == '.' && (s[2] == '/' || s[2] == '\0' ||
		                                   (s[2] == '.' &&
		                                    (s[3] == '/' || s[3] == '\0'))))))
			return false;
	return p[strlen(p) - 1] != '/';
}

static const char boot_head[] =
	"#!/bin/sh\n"
	"# vmsim: pid 1 of a simulated VM.  Runs the boot metadata (bounded),\n"
	"# records its exit status, then stays up; SIGTERM stops the sidecar\n"
	"# (it disconnects from istiod) and ends the VM.\n"
	"D=$VMSIM_DIR\n"
	"trap 'systemctl stop istio.service; exit 0' TERM\n";

static int
write_boot(const struct vmsim_boot *b, const struct vmsim_plan *plan,
           struct mv_err *err)
{
	char *path = mv_xstrfmt("%s/boot.sh", b->dir);
	char *s = mv_xstrfmt(
		"%s"
		"echo \"vmsim: booting %s (%s)\"\n"
		"timeout -k 5 %d /bin/sh \"$D/user-script\" </dev/null &\n"
		"wait $!\n"
		"rc=$?\n"
		"echo \"vmsim: boot script exited $rc\"\n"
		"echo \"$rc\" >\"$D/boot.rc.tmp\" && mv \"$D/boot.rc.tmp\" "
		"\"$D/boot.rc\"\n"
		"while :; do sleep 3600 & wait $!; done\n",
		boot_head, b->name, plan->kind,
		b->boot_timeout_s > 0 ? b->boot_timeout_s : 600);
	int rc = put(path, s, strlen(s), 0700);

	free(s);
	free(path);
	if (rc != 0)
		return mv_err_set(err, MV_EXIT_FAIL, "vm %s: writing boot.sh: %s",
		                  b->name, strerror(errno));
	path = mv_xstrfmt("%s/user-script", b->dir);
	rc = put(path, plan->script, strlen(plan->script), 0700);
	free(path);
	if (rc != 0)
		return mv_err_set(err, MV_EXIT_FAIL, "vm %s: writing the user "
		                  "script: %s", b->name, strerror(errno));
	return 0;
}

static int
write_shims(const struct vmsim_boot *b, struct mv_err *err)
{
	size_t len;
	const char *shim = vmsim_shim_script(&len);
	char *path = mv_xstrfmt("%s/bin/vmsim-shim", b->dir);
	int rc = put(path, shim, len, 0755);

	for (size_t i = 0; rc == 0 && shim_names[i]; i++) {
		char *l = mv_xstrfmt("%s/bin/%s", b->dir, shim_names[i]);
		rc = symlink("vmsim-shim", l);
		free(l);
	}
	free(path);
	if (rc != 0)
		return mv_err_set(err, MV_EXIT_FAIL, "vm %s: writing the shims: %s",
		                  b->name, strerror(errno));
	return 0;
}

/* The VM's disk before its first boot: a few directories and files every
 * image has. */
static int
base_image(const struct vmsim_boot *b, char *root, struct mv_err *err)
{
	static const char *const dirs[] = {
		"usr/local/sbin", "usr/local/bin", "etc", "tmp", "root", "run",
		"var/log/vmsim", "var/lib", "dev", NULL};
	static const char hosts[] = "127.0.0.1 localhost\n"
	                            "::1 localhost ip6-localhost\n";
	static const char passwd[] = "root:x:0:0:root:/root:/bin/sh\n";
	char *p;
	int rc = 0;

	for (size_t i = 0; rc == 0 && dirs[i]; i++)
		rc = mkdirs(root, dirs[i], true);
	if (rc == 0) {
		p = mv_xstrfmt("%s/etc/hosts", root);
		rc = put(p, hosts, sizeof(hosts) - 1, 0644);
		free(p);
	}
	if (rc == 0) {
		p = mv_xstrfmt("%s/etc/passwd", root);
		rc = put(p, passwd, sizeof(passwd) - 1, 0644);
		free(p);
	}
	if (rc != 0)
		return mv_err_set(err, MV_EXIT_FAIL, "vm %s: the base image: %s",
		                  b->name, strerror(errno));
	return 0;
}

static int
chown_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	return lchown(path, VMSIM_UID, VMSIM_UID);
}

/* A fake running as root runs its VMs as nobody (sandbox.c): DIR becomes
 * theirs, and nobody must be able to reach it. */
static int
give_to_nobody(const struct vmsim_boot *b, struct mv_err *err)
{
	char *p = mv_xstrdup(b->dir), *s;
	struct stat st;

	if (geteuid() != 0) {
		free(p);
		return 0;
	}
	while ((s = strrchr(p, '/')) != NULL && s != p) {
		*s = '\0';
		if (stat(p, &st) != 0 || (st.st_mode & S_IXOTH) == 0) {
			mv_err_set(err, MV_EXIT_FAIL, "vm %s: %s is not reachable by "
			           "the sandbox's user nobody (chmod o+x it)", b->name,
			           p);
			free(p);
			return -1;
		}
	}
	free(p);
	if (nftw(b->dir, chown_one, 16, FTW_PHYS) != 0)
		return mv_err_set(err, MV_EXIT_FAIL, "vm %s: chown %s: %s", b->name,
		                  b->dir, strerror(errno));
	return 0;
}

int
vmsim_start(const struct vmsim_boot *b, const struct vmsim_plan *plan,
            struct vmsim_vm **out, struct mv_err *err)
{
	char *root = mv_xstrfmt("%s/root", b->dir);
	char *bin = mv_xstrfmt("%s/bin", b->dir);
	int rc = -1;

	*out = NULL;
	if (mkdir(b->dir, 0700) != 0 || mkdir(root, 0755) != 0 ||
	    mkdir(bin, 0755) != 0) {
		mv_err_set(err, MV_EXIT_FAIL, "vm %s: %s: %s", b->name, b->dir,
		           strerror(errno));
		goto out;
	}
	if (base_image(b, root, err) != 0)
		goto out;
	/* cloud-init's write_files */
	for (size_t i = 0; i < plan->n_files; i++) {
		const struct vmsim_file *f = &plan->files[i];
		char *p;
		if (!vm_path_ok(f->path)) {
			mv_err_set(err, MV_EXIT_FAIL, "vm %s: write_files path %.64s "
			           "refused", b->name, f->path ? f->path : "(none)");
			goto out;
		}
		p = mv_xstrfmt("%s%s", root, f->path);
		if (mkdirs(root, f->path + 1, false) != 0 ||
		    put(p, f->content, f->len, f->mode & 0777u) != 0) {
			mv_err_set(err, MV_EXIT_FAIL, "vm %s: writing %s: %s", b->name,
			           f->path, strerror(errno));
			free(p);
			goto out;
		}
		free(p);
	}
	if (write_shims(b, err) != 0 || write_boot(b, plan, err) != 0 ||
	    give_to_nobody(b, err) != 0)
		goto out;
	rc = vmsim_spawn(b, out, err);
out:
	free(root);
	free(bin);
	return rc;
}

static int
rm_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return (type == FTW_DP ? rmdir(path) : unlink(path)) != 0 &&
	       errno != ENOENT ? -1 : 0;
}

int
vmsim_rmtree(const char *path)
{
	struct stat st;

	if (lstat(path, &st) != 0)
		return errno == ENOENT ? 0 : -1;
	return nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}
