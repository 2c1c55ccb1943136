/* cluster/manifests.h - Kubernetes objects read from YAML files (rendered
 * Istio control planes, the app), each remembering "file:line" so every
 * later refusal can point at it.
 *
 * A directory contributes its *.yaml, *.yml and *.json files in name
 * order (not recursing); every document of a stream counts; empty
 * documents are skipped and `kind: List` is expanded.  Each object needs
 * apiVersion, kind and metadata.name strings.
 */
#ifndef MESHVM_CLUSTER_MANIFESTS_H
#define MESHVM_CLUSTER_MANIFESTS_H

#include <jansson.h>
#include <stddef.h>

#include "core/err.h"

#define MANIFESTS_MAX_OBJECTS 20000

struct manifest_obj {
	json_t *obj;   /* owned */
	char *origin;  /* "FILE:LINE" */
};

struct manifests {
	struct manifest_obj *v;
	size_t n, cap;
};

/* Append every object of a file / of a directory's files.  On error the
 * set keeps what was appended before the failing file. */
int manifests_load_file(struct manifests *m, const char *path,
                        struct mv_err *err);
int manifests_load_dir(struct manifests *m, const char *dir,
                       struct mv_err *err);
void manifests_free(struct manifests *m);

/* The API group of an apiVersion ("" for "v1", "apps" for "apps/v1"),
 * written into buf. */
const char *manifests_group(const char *api_version, char *buf, size_t n);

/* Same object (group, kind, namespace, name)?  A namespaced object
 * without a namespace stands for default_ns. */
int manifests_same(const json_t *a, const json_t *b, const char *default_ns);

/* First object of that kind (any group), namespace (NULL: any) and name. */
const struct manifest_obj *manifests_find(const struct manifests *m,
                                          const char *kind, const char *ns,
                                          const char *name);

/* Install order: CustomResourceDefinitions first (the caller waits until
 * each is Established), then Helm's InstallOrder by kind (Namespace,
 * ..., ServiceAccount, Secret, ConfigMap, ..., ClusterRole(Binding),
 * Role(Binding), Service, ..., Deployment, ..., APIService), then every
 * other kind (custom resources, webhook configurations) in file order.
 * *order is a malloc'd array of m->n indices into m->v; *n_crds of them
 * (at the front) are CRDs.  Delete in the reverse order. */
void manifests_install_order(const struct manifests *m, size_t **order,
                             size_t *n_crds);

#endif
