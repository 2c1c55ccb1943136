/* cluster/manifests.c - objects from YAML files (see manifests.h). */
#include "cluster/manifests.h"

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "core/xalloc.h"
#include "core/yaml.h"

void
manifests_free(struct manifests *m)
{
	if (m == NULL)
		return;
	for (size_t i = 0; i < m->n; i++) {
		json_decref(m->v[i].obj);
		free(m->v[i].origin);
	}
	free(m->v);
	memset(m, 0, sizeof(*m));
}

static const char *
str_at(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static int
add(struct manifests *m, const struct mv_yaml *y, json_t *obj,
    const json_t *parent, size_t index, struct mv_err *err)
{
	struct mv_yaml_pos pos = {0};
	const char *name = mv_yaml_name(y);
	const json_t *meta;

	if (parent)
		mv_yaml_item_pos(y, parent, index, &pos);
	else
		mv_yaml_node_pos(y, obj, &pos);
	if (!json_is_object(obj))
		return mv_err_at(err, MV_EXIT_FAIL, name, pos.line, pos.col,
		                 "expected a Kubernetes object, got %s",
		                 mv_json_type_name(obj));
	meta = json_object_get(obj, "metadata");
	if (str_at(obj, "apiVersion") == NULL || str_at(obj, "kind") == NULL ||
	    !json_is_object(meta) || str_at(meta, "name") == NULL ||
	    *str_at(meta, "name") == '\0')
		return mv_err_at(err, MV_EXIT_FAIL, name, pos.line, pos.col,
		                 "an object needs apiVersion, kind and "
		                 "metadata.name");
	if (json_object_get(meta, "namespace") != NULL &&
	    str_at(meta, "namespace") == NULL)
		return mv_err_at(err, MV_EXIT_FAIL, name, pos.line, pos.col,
		                 "metadata.namespace must be a string");
	if (m->n >= MANIFESTS_MAX_OBJECTS)
		return mv_err_at(err, MV_EXIT_FAIL, name, pos.line, pos.col,
		                 "more than %d objects", MANIFESTS_MAX_OBJECTS);
	if (m->n == m->cap) {
		m->cap = m->cap ? m->cap * 2 : 64;
		m->v = mv_xreallocarray(m->v, m->cap, sizeof(*m->v));
	}
	m->v[m->n].obj = json_incref(obj);
	m->v[m->n].origin = mv_xstrfmt("%s:%d", name, pos.line);
	m->n++;
	return 0;
}

int
manifests_load_file(struct manifests *m, const char *path,
                    struct mv_err *err)
{
	struct mv_yaml *y = NULL;
	int rc = 0;

	if (mv_yaml_load_file(path, &y, err) != 0)
		return -1;
	for (size_t d = 0; rc == 0 && d < mv_yaml_count(y); d++) {
		json_t *doc = mv_yaml_doc(y, d), *items;
		const char *kind;

		if (json_is_null(doc))
			continue;
		kind = str_at(doc, "kind");
		items = json_object_get(doc, "items");
		if (kind && strcmp(kind, "List") == 0 && json_is_array(items)) {
			for (size_t i = 0; rc == 0 && i < json_array_size(items);
			     i++)
				rc = add(m, y, json_array_get(items, i), items,
				         i, err);
		} else {
			rc = add(m, y, doc, NULL, 0, err);
		}
	}
	mv_yaml_free(y);
	return rc;
}

static bool
wanted(const char *n)
{
	size_t l = strlen(n);

	if (n[0] == '.')
		return false;
	return (l > 5 && strcmp(n + l - 5, ".yaml") == 0) ||
	       (l > 4 && strcmp(n + l - 4, ".yml") == 0) ||
	       (l > 5 && strcmp(n + l - 5, ".json") == 0);
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int
manifests_load_dir(struct manifests *m, const char *dir, struct mv_err *err)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char **names = NULL;
	size_t n = 0, cap = 0;
	int rc = 0;

	if (d == NULL)
		return mv_err_sys(err, errno, "%s", dir);
	while ((e = readdir(d)) != NULL) {
		if (!wanted(e->d_name))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			names = mv_xreallocarray(names, cap, sizeof(*names));
		}
		names[n++] = mv_xstrdup(e->d_name);
	}
	closedir(d);
	if (n == 0) {
		free(names);
		return mv_err_set(err, MV_EXIT_FAIL,
		                  "%s: no .yaml, .yml or .json files", dir);
	}
	qsort(names, n, sizeof(*names), name_cmp);
	for (size_t i = 0; i < n; i++) {
		char *p = mv_path_join(dir, names[i]);
		if (rc == 0)
			rc = manifests_load_file(m, p, err);
		free(p);
		free(names[i]);
	}
	free(names);
	return rc;
}

const char *
manifests_group(const char *api_version, char *buf, size_t n)
{
	const char *slash = strchr(api_version, '/');
	size_t l = slash ? (size_t)(slash - api_version) : 0;

	if (l >= n)
		l = n - 1;
	memcpy(buf, api_version, l);
	buf[l] = '\0';
	return buf;
}

/* Kinds meshvm handles that have no namespace. */
static bool
cluster_scoped(const char *kind)
{
	static const char *const kinds[] = {
		"Namespace", "CustomResourceDefinition", "ClusterRole",
		"ClusterRoleBinding", "MutatingWebhookConfiguration",
		"ValidatingWebhookConfiguration", "PriorityClass",
		"StorageClass", "PersistentVolume", "APIService", NULL};

	for (size_t i = 0; kinds[i]; i++)
		if (strcmp(kind, kinds[i]) == 0)
			return true;
	return false;
}

static const char *
ns_of(const json_t *o, const char *default_ns)
{
	const char *ns = str_at(json_object_get(o, "metadata"), "namespace");

	if (cluster_scoped(str_at(o, "kind")))
		return "";
	return ns && *ns ? ns : default_ns ? default_ns : "";
}

int
manifests_same(const json_t *a, const json_t *b, const char *default_ns)
{
	char ga[256], gb[256];

	return strcmp(str_at(a, "kind"), str_at(b, "kind")) == 0 &&
	       strcmp(manifests_group(str_at(a, "apiVersion"), ga, sizeof(ga)),
	              manifests_group(str_at(b, "apiVersion"), gb,
	                              sizeof(gb))) == 0 &&
	       strcmp(str_at(json_object_get(a, "metadata"), "name"),
	              str_at(json_object_get(b, "metadata"), "name")) == 0 &&
	       strcmp(ns_of(a, default_ns), ns_of(b, default_ns)) == 0;
}

const struct manifest_obj *
manifests_find(const struct manifests *m, const char *kind, const char *ns,
               const char *name)
{
	for (size_t i = 0; i < m->n; i++) {
		const json_t *o = m->v[i].obj, *meta = json_object_get(o,
		                                                       "metadata");
		const char *ons = str_at(meta, "namespace");

		if (strcmp(str_at(o, "kind"), kind) == 0 &&
		    strcmp(str_at(meta, "name"), name) == 0 &&
		    (ns == NULL || (ons && strcmp(ons, ns) == 0)))
			return &m->v[i];
	}
	return NULL;
}

/* helm.sh/helm/v3/pkg/releaseutil InstallOrder (CRDs pulled ahead). */
static const char *const install_order[] = {
	"PriorityClass", "Namespace", "NetworkPolicy", "ResourceQuota",
	"LimitRange", "PodSecurityPolicy", "PodDisruptionBudget",
	"ServiceAccount", "Secret", "SecretList", "ConfigMap", "StorageClass",
	"PersistentVolume", "PersistentVolumeClaim", "ClusterRole",
	"ClusterRoleList", "ClusterRoleBinding", "ClusterRoleBindingList",
	"Role", "RoleList", "RoleBinding", "RoleBindingList", "Service",
	"DaemonSet", "Pod", "ReplicationController", "ReplicaSet",
	"Deployment", "HorizontalPodAutoscaler", "StatefulSet", "Job",
	"CronJob", "IngressClass", "Ingress", "APIService", NULL};

static size_t
kind_rank(const char *kind)
{
	size_t i;

	if (strcmp(kind, "CustomResourceDefinition") == 0)
		return 0;
	for (i = 0; install_order[i]; i++)
		if (strcmp(kind, install_order[i]) == 0)
			return i + 1;
	return i + 1;
}

void
manifests_install_order(const struct manifests *m, size_t **order,
                        size_t *n_crds)
{
	size_t *o = mv_xcalloc(m->n ? m->n : 1, sizeof(*o)), *rank;

	rank = mv_xcalloc(m->n ? m->n : 1, sizeof(*rank));
	*n_crds = 0;
	for (size_t i = 0; i < m->n; i++) {
		o[i] = i;
		rank[i] = kind_rank(str_at(m->v[i].obj, "kind"));
		*n_crds += rank[i] == 0;
	}
	/* insertion sort: stable, and n is small */
	for (size_t i = 1; i < m->n; i++)
		for (size_t j = i; j > 0 && rank[o[j - 1]] > rank[o[j]]; j--) {
			size_t t = o[j];
			o[j] = o[j - 1];
			o[j - 1] = t;
		}
	free(rank);
	*order = o;
}
