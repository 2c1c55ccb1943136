/* harness/fake/kube_private.h - shared by the Kubernetes side of the fake
 * (kube*.c). */
#ifndef MESHVM_FAKE_KUBE_PRIVATE_H
#define MESHVM_FAKE_KUBE_PRIVATE_H

#include "harness/fake/fake_private.h"

/* A Status error answer ("kind": "Status"); details may be NULL. */
void kube_err(struct fresp *rs, int code, const char *reason,
              json_t *details, const char *fmt, ...) MV_PRINTF(5, 6);

/* kube_store.c: the cluster's objects, created with the defaults every
 * cluster has (namespaces, kube-root-ca.crt, default service accounts). */
void kstore_init(struct fake *f, struct kcluster *kc);

#endif
