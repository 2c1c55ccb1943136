/* harness/fake/kube_kinds.c - the kinds a cluster serves: the built-in
 * ones below, plus every served version of every CustomResourceDefinition
 * in the cluster's store (applying a CRD makes its kind servable at
 * once; deleting it takes the kind away).  Istio's kinds are not built
 * in: like on a real cluster they exist once their CRDs are applied. */
#include <stdlib.h>
#include <string.h>

#include "harness/fake/kube_private.h"

#define CORE ""
#define NS true
#define CLUSTER false

static const struct kkind builtin[] = {
	{CORE, "v1", "Namespace", "namespaces", "namespace", "ns", CLUSTER,
	 KK_STATUS, NULL},
	{CORE, "v1", "ConfigMap", "configmaps", "configmap", "cm", NS, 0, NULL},
	{CORE, "v1", "Secret", "secrets", "secret", NULL, NS, 0, NULL},
	{CORE, "v1", "Service", "services", "service", "svc", NS, KK_STATUS,
	 NULL},
	{CORE, "v1", "ServiceAccount", "serviceaccounts", "serviceaccount", "sa",
	 NS, 0, NULL},
	{CORE, "v1", "Pod", "pods", "pod", "po", NS, KK_STATUS, NULL},
	{"apps", "v1", "Deployment", "deployments", "deployment", "deploy", NS,
	 KK_STATUS | KK_SCALE, NULL},
	{"apps", "v1", "StatefulSet", "statefulsets", "statefulset", "sts", NS,
	 KK_STATUS | KK_SCALE, NULL},
	{"apps", "v1", "DaemonSet", "daemonsets", "daemonset", "ds", NS,
	 KK_STATUS, NULL},
	{"rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles",
	 "clusterrole", NULL, CLUSTER, 0, NULL},
	{"rbac.authorization.k8s.io", "v1", "ClusterRoleBinding",
	 "clusterrolebindings", "clusterrolebinding", NULL, CLUSTER, 0, NULL},
	{"rbac.authorization.k8s.io", "v1", "Role", "roles", "role", NULL, NS, 0,
	 NULL},
	{"rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings",
	 "rolebinding", NULL, NS, 0, NULL},
	{"admissionregistration.k8s.io", "v1", "MutatingWebhookConfiguration",
	 "mutatingwebhookconfigurations", "mutatingwebhookconfiguration", NULL,
	 CLUSTER, 0, NULL},
	{"admissionregistration.k8s.io", "v1", "ValidatingWebhookConfiguration",
	 "validatingwebhookconfigurations", "validatingwebhookconfiguration",
	 NULL, CLUSTER, 0, NULL},
	{"apiextensions.k8s.io", "v1", "CustomResourceDefinition",
	 "customresourcedefinitions", "customresourcedefinition", "crd,crds",
	 CLUSTER, KK_STATUS, NULL},
	{"policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets",
	 "poddisruptionbudget", "pdb", NS, KK_STATUS, NULL},
	{"autoscaling", "v2", "HorizontalPodAutoscaler",
	 "horizontalpodautoscalers", "horizontalpodautoscaler", "hpa", NS,
	 KK_STATUS, NULL},
	{"authentication.k8s.io", "v1", "TokenReview", "tokenreviews",
	 "tokenreview", NULL, CLUSTER, KK_CREATE_ONLY, NULL},
};

#define N_BUILTIN (sizeof(builtin) / sizeof(builtin[0]))


/* Fill `out` from one served version of a CRD object. */
static bool
from_crd(json_t *crd, json_t *ver, struct kkind *out)
{
	json_t *spec = json_object_get(crd, "spec");
	json_t *names = json_object_get(spec, "names");
	json_t *sn = json_object_get(names, "shortNames");

	if (!json_is_true(json_object_get(ver, "served")) ||
	    !json_is_string(json_object_get(spec, "group")) ||
	    !json_is_string(json_object_get(names, "plural")) ||
	    !json_is_string(json_object_get(names, "kind")) ||
	    !json_is_string(json_object_get(ver, "name")))
		return false;
	memset(out, 0, sizeof(*out));
	out->group = fake_jstr(spec, "group");
	out->version = fake_jstr(ver, "name");
	out->kind = fake_jstr(names, "kind");
	out->plural = fake_jstr(names, "plural");
	out->singular = fake_jstr(names, "singular");
	if (out->singular[0] == '\0')
		out->singular = out->plural;
	out->short_names = json_is_array(sn) && json_array_size(sn) > 0
	                           ? json_string_value(json_array_get(sn, 0))
	                           : NULL;
	out->namespaced = strcmp(fake_jstr(spec, "scope"), "Cluster") != 0;
	out->flags = KK_CR;
	if (json_object_get(json_object_get(ver, "subresources"), "status"))
		out->flags |= KK_STATUS;
	out->crd_schema = json_object_get(json_object_get(ver, "schema"),
	                                  "openAPIV3Schema");
	return true;
}

static json_t *
crd_objects(struct fake *f, struct kcluster *kc, json_t **keys)
{
	json_t *objs = json_object_get(kstore(f, kc), "objects");

	*keys = fake_sorted_keys(objs, "apiextensions.k8s.io/"
	                               "customresourcedefinitions/");
	return objs;
}

bool
kkind_find(struct fake *f, struct kcluster *kc, const char *group,
           const char *version, const char *plural, struct kkind *out)
{
	json_t *keys, *objs, *k, *ver;
	size_t i, j;
	bool found = false;

	for (i = 0; i < N_BUILTIN; i++) {
		if (!strcmp(builtin[i].group, group) &&
		    !strcmp(builtin[i].version, version) &&
		    !strcmp(builtin[i].plural, plural)) {
			*out = builtin[i];
			return true;
		}
	}
	objs = crd_objects(f, kc, &keys);
	json_array_foreach(keys, i, k) {
		json_t *crd = json_object_get(objs, json_string_value(k));
		json_array_foreach(json_object_get(json_object_get(crd, "spec"),
		                                   "versions"), j, ver) {
			if (found || !from_crd(crd, ver, out))
				continue;
			found = !strcmp(out->group, group) &&
			        !strcmp(out->version, version) &&
			        !strcmp(out->plural, plural);
		}
	}
	json_decref(keys);
	return found;
}

size_t
kkind_all(struct fake *f, struct kcluster *kc, struct kkind **out)
{
	json_t *keys, *objs, *k, *ver;
	size_t i, j, n = 0, cap = N_BUILTIN + 16;
	struct kkind *v = malloc(cap * sizeof(*v)), t, *nv;

	if (v == NULL) {
		*out = NULL;
		return 0;
	}
	for (i = 0; i < N_BUILTIN; i++)
		v[n++] = builtin[i];
	objs = crd_objects(f, kc, &keys);
	json_array_foreach(keys, i, k) {
		json_t *crd = json_object_get(objs, json_string_value(k));
		json_array_foreach(json_object_get(json_object_get(crd, "spec"),
		                                   "versions"), j, ver) {
			bool dup = false;
			if (!from_crd(crd, ver, &t))
				continue;
			for (size_t m = 0; m < n && !dup; m++)
				dup = !strcmp(v[m].group, t.group) &&
				      !strcmp(v[m].version, t.version) &&
				      !strcmp(v[m].plural, t.plural);
			if (dup)
				continue;
			if (n == cap) {
				cap *= 2;
				nv = realloc(v, cap * sizeof(*v));
				if (nv == NULL)
					break;
				v = nv;
			}
			v[n++] = t;
		}
	}
	json_decref(keys);
	*out = v;
	return n;
}
