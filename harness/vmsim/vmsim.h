/* harness/vmsim/vmsim.h - a VM that boots, simulated: OUR join script, run
 * for real from an instance's boot metadata, in a sandbox.
 *
 *   classify   boot metadata (user-data: #cloud-config or a MIME multipart
 *              with our cloud-config part; or a startup-script) is ours
 *              only when regenerating it from the join.conf and pin it
 *              carries (cloudinit_cloud_config / cloudinit_startup_script)
 *              gives the same bytes: so it carries exactly the embedded
 *              cloudinit/join.sh and nothing else of ours is altered.
 *              Anything else is refused with the reason (never run).
 *   boot       the plan is applied into a sandbox root (MESHVM_ROOT):
 *              write_files with their modes, then runcmd (or the
 *              startup-script) under /bin/sh inside new user, mount, net
 *              and pid namespaces (sandbox.c), with PATH shims for
 *              systemctl, journalctl, dpkg, rpm, docker and chown
 *              (shim.sh) that record what they are asked in
 *              ROOT/var/log/vmsim/calls.log.  The systemctl shim runs
 *              istio.service's ExecStart from the installed sidecar
 *              package.
 *
 * The sandbox's network namespace has only loopback; the addresses the VM
 * must reach (the fake's API for metadata and storage, the simulated
 * istiod on LoadBalancer addresses) are forwarded from listeners made
 * inside that namespace to the same addresses outside, and nothing else
 * is reachable.  Nothing here knows the fake: the caller passes URLs and
 * forwards (harness/fake/vmboot.c does, for --boot-vms).
 */
#ifndef MESHVM_VMSIM_H
#define MESHVM_VMSIM_H

#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"

/* Bounds on what an attacker-controlled metadata value may make us do. */
#define VMSIM_META_MAX ((size_t)512 << 10)  /* bytes of boot metadata */
#define VMSIM_FILES_MAX 32                  /* write_files entries */
#define VMSIM_CMDS_MAX 32                   /* runcmd entries */
#define VMSIM_FWD_MAX 16                    /* forwarded addresses */
#define VMSIM_CONNS_MAX 64                  /* forwarded connections */

struct vmsim_file {
	char *path;     /* absolute, no "..", on the VM */
	unsigned mode;  /* permissions */
	char *content;
	size_t len;
};

/* What a boot runs: files to write, then a script for /bin/sh. */
struct vmsim_plan {
	const char *kind;   /* "cloud-config", "multipart", "startup-script" */
	struct vmsim_file files[VMSIM_FILES_MAX];
	size_t n_files;
	char *script;       /* runcmd as a shell script, or the startup-script */
	size_t n_skipped;   /* other parts of a multipart (not ours, not run) */
};

/* key is the metadata key ("user-data" or "startup-script").  0 with
 * *out (free with vmsim_plan_free) when the metadata is ours; otherwise
 * -1 and err says why it is foreign (one line, no metadata bytes). */
int vmsim_classify(const char *key, const char *data, size_t len,
                   struct vmsim_plan **out, struct mv_err *err);
void vmsim_plan_free(struct vmsim_plan *p);

/* An address inside the sandbox forwarded to one outside. */
struct vmsim_fwd {
	char in_ip[16];
	int in_port;
	char out_ip[16];
	int out_port;
};

struct vmsim_vm;

struct vmsim_boot {
	const char *name;          /* the instance name (messages) */
	const char *dir;           /* made, must not exist: DIR/root is the
	                            * VM's / (MESHVM_ROOT), DIR/bin the shims,
	                            * DIR/console.log its output */
	const char *metadata_url;  /* as the VM reaches it (inside) */
	const char *storage_url;   /* likewise */
	struct vmsim_fwd fwd[VMSIM_FWD_MAX];
	size_t n_fwd;
	int boot_timeout_s;        /* runcmd / startup-script, then killed */
	size_t log_cap;            /* bytes of console output kept */
};

/* Apply `plan` into DIR/root and start the VM (a child process and a
 * forwarding thread).  Returns at once; the VM runs until vmsim_stop. */
int vmsim_start(const struct vmsim_boot *b, const struct vmsim_plan *plan,
                struct vmsim_vm **out, struct mv_err *err);
/* true once the boot script finished (exit status in *rc) or the VM
 * died. */
bool vmsim_booted(struct vmsim_vm *vm, int *rc);
/* Shut the VM down: SIGTERM (the sidecar disconnects), then SIGKILL
 * after grace_ms; waits for every process and the forwarder, and frees.
 * DIR stays (the caller removes it with vmsim_rmtree). */
void vmsim_stop(struct vmsim_vm *vm, int grace_ms);
/* rm -rf, not following symlinks; 0 or -1. */
int vmsim_rmtree(const char *path);

/* The multi-call shim (harness/vmsim/shim.sh), embedded. */
const char *vmsim_shim_script(size_t *len);

#endif
