/* harness/vmsim/vmsim_private.h - between vmsim.c (the VM's files) and
 * sandbox.c (its processes). */
#ifndef MESHVM_VMSIM_PRIVATE_H
#define MESHVM_VMSIM_PRIVATE_H

#include "harness/vmsim/vmsim.h"

/* Whom a fake running as root runs its VMs as (nobody). */
#define VMSIM_UID 65534u

/* Start A (see sandbox.c) for a prepared DIR: DIR/boot.sh, DIR/bin,
 * DIR/root with usr/local/sbin. */
int vmsim_spawn(const struct vmsim_boot *b, struct vmsim_vm **out,
                struct mv_err *err);

#endif
