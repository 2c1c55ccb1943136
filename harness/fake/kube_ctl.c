/* harness/fake/kube_ctl.c - what the cluster's controllers would do,
 * done at once (or computed when read), deterministically:
 *   - every namespace has ServiceAccount "default" and ConfigMap
 *     "kube-root-ca.crt" (the cluster CA); once Secret istio-system/cacerts
 *     exists, every namespace also has ConfigMap "istio-ca-root-cert" with
 *     its root-cert.pem, as istiod publishes it;
 *   - Services get a clusterIP from the cluster's services range, by name,
 *     and LoadBalancer Services status.loadBalancer.ingress[0].ip from
 *     --lb-range (default 203.0.113.0/24), deterministic and never one in
 *     use by another Service of any cluster;
 *   - service-account token Secrets get their token, ca.crt, namespace;
 *   - a Deployment reports its replicas available --controller-delay-ms after
 *     it was created or its spec changed (computed on read);
 *   - a CustomResourceDefinition gets status.acceptedNames, storedVersions
 *     and conditions NamesAccepted and Established (True, stamped with the
 *     fake's clock), as the apiextensions controllers set them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/base64.h"
#include "harness/fake/kube_private.h"
#include "harness/fake/svc.h"

static const struct kkind k_ns = {"", "v1", "Namespace", "namespaces",
                                  "namespace", "ns", false, KK_STATUS, NULL};
static const struct kkind k_cm = {"", "v1", "ConfigMap", "configmaps",
                                  "configmap", "cm", true, 0, NULL};
static const struct kkind k_sa = {"", "v1", "ServiceAccount",
                                  "serviceaccounts", "serviceaccount", "sa",
                                  true, 0, NULL};
static const struct kkind k_secret = {"", "v1", "Secret", "secrets",
                                      "secret", NULL, true, 0, NULL};
static const struct kkind k_svc = {"", "v1", "Service", "services",
                                   "service", "svc", true, KK_STATUS, NULL};

/* Create or replace an object the controllers own. */
static void
ctl_put(struct fake *f, struct kcluster *kc, const struct kkind *k,
        const char *ns, const char *name, json_t *obj, const char *manager)
{
	json_t *old = kstore_get(f, kc, k, ns, name);
	char key[1024];

	json_object_set_new(obj, "apiVersion", json_string("v1"));
	json_object_set_new(obj, "kind", json_string(k->kind));
	if (old != NULL) {
		json_t *meta = json_deep_copy(json_object_get(old, "metadata"));
		json_object_set_new(obj, "metadata", meta);
		if (json_equal(json_object_get(old, "data"),
		               json_object_get(obj, "data"))) {
			json_decref(obj);
			return; /* nothing changed */
		}
	} else {
		kobj_key(key, sizeof(key), k, ns, name);
		kobj_init_meta(f, kc, key, obj);
		json_object_set_new(json_object_get(obj, "metadata"), "name",
		                    json_string(name));
		if (ns != NULL)
			json_object_set_new(json_object_get(obj, "metadata"),
			                    "namespace", json_string(ns));
	}
	kmanaged_update(old, obj, manager, "v1", true);
	kstore_put(f, kc, k, ns, name, obj);
}

static void service_controller(struct fake *f, struct kcluster *kc,
                               const char *ns, json_t *obj);

static void
ensure_ns(struct fake *f, struct kcluster *kc, const char *ns)
{
	char key[1024];
	json_t *obj;

	if (kstore_get(f, kc, &k_ns, NULL, ns) != NULL)
		return;
	obj = json_pack("{s:s, s:s, s:{s:s, s:{s:s}}, s:{s:[s]}, s:{s:s}}",
	                "apiVersion", "v1", "kind", "Namespace", "metadata",
	                "name", ns, "labels", "kubernetes.io/metadata.name", ns,
	                "spec", "finalizers", "kubernetes", "status", "phase",
	                "Active");
	kobj_key(key, sizeof(key), &k_ns, NULL, ns);
	kobj_init_meta(f, kc, key, obj);
	kmanaged_update(NULL, obj, "kube-apiserver", "v1", true);
	kstore_put(f, kc, &k_ns, NULL, ns, obj);
}

static void
root_cert_configmap(struct fake *f, struct kcluster *kc, const char *ns,
                    const char *pem)
{
	ctl_put(f, kc, &k_cm, ns, "istio-ca-root-cert",
	        json_pack("{s:{s:s}}", "data", "root-cert.pem", pem), "pilot-discovery");
}

/* The root certificate istiod would publish, from Secret cacerts. */
static char *
istio_root(struct fake *f, struct kcluster *kc)
{
	json_t *s = kstore_get(f, kc, &k_secret, "istio-system", "cacerts");
	const char *b64 = fake_jstr(json_object_get(s, "data"), "root-cert.pem");
	uint8_t *pem;
	size_t n;

	if (s == NULL || *b64 == '\0' ||
	    mv_base64_decode(b64, strlen(b64), &pem, &n) != 0)
		return NULL;
	return (char *)pem;
}

void
kctl_namespace_defaults(struct fake *f, struct kcluster *kc, const char *ns)
{
	static const char *const initial[] = {"default", "kube-system",
	                                      "kube-public", "kube-node-lease"};
	struct mv_err err;
	char *root;

	if (ns == NULL) {
		json_t *svc;
		for (size_t i = 0; i < 4; i++) {
			ensure_ns(f, kc, initial[i]);
			kctl_namespace_defaults(f, kc, initial[i]);
		}
		svc = json_pack("{s:{s:[{s:s, s:s, s:i, s:i}]}, s:{s:s, s:{s:s, "
		                "s:s}}}",
		                "spec", "ports", "name", "https", "protocol", "TCP",
		                "port", 443, "targetPort", 443, "metadata", "name",
		                "kubernetes", "labels", "component", "apiserver",
		                "provider", "kubernetes");
		service_controller(f, kc, "default", svc);
		ctl_put(f, kc, &k_svc, "default", "kubernetes", svc,
		        "kube-apiserver");
		return;
	}
	if (kstore_get(f, kc, &k_sa, ns, "default") == NULL)
		ctl_put(f, kc, &k_sa, ns, "default", json_object(),
		        "kube-controller-manager");
	if (fake_pki_ensure(f, &err) == 0)
		ctl_put(f, kc, &k_cm, ns, "kube-root-ca.crt",
		        json_pack("{s:{s:s}}", "data", "ca.crt", fst(f)->pki.ca_pem),
		        "kube-controller-manager");
	root = istio_root(f, kc);
	if (root != NULL)
		root_cert_configmap(f, kc, ns, root);
	free(root);
}

/* The cluster's services range, from its GKE record. */
static void
cluster_ip(struct fake *f, struct kcluster *kc, const char *ns,
           const char *name, char *out, size_t len)
{
	json_t *cl = json_object_get(fake_db(f, "clusters"), kc->key);
	unsigned a = 10, b = 96, c = 0, bits = 20;
	uint64_t h = fake_hash64("cluster-ip", kc->key, ns, name);
	unsigned host;

	if (cl != NULL)
		sscanf(fake_jstr(cl, "servicesIpv4Cidr"), "%u.%u.%u.%*u/%u", &a, &b,
		       &c, &bits);
	if (bits < 16 || bits > 28)
		bits = 20;
	/* .1 is the kubernetes Service's, as in a real cluster */
	host = strcmp(name, "kubernetes") == 0 && strcmp(ns, "default") == 0
	               ? 1
	               : 10 + (unsigned)(h % ((1u << (32 - bits)) - 20));
	snprintf(out, len, "%u.%u.%u.%u", a, b, (c + host / 256) % 256,
	         host % 256);
}

/* The LoadBalancer addresses of every Service in any cluster (but ns/name
 * of kc, which is being given one), as the keys of a new object. */
static json_t *
lb_used(struct fake *f, struct kcluster *kc, const char *ns,
        const char *name)
{
	const char *ck, *key;
	json_t *st, *obj, *in, *used = json_object();
	size_t i;

	json_object_foreach(fake_db(f, "kube"), ck, st) {
		json_object_foreach(json_object_get(st, "objects"), key, obj) {
			json_t *meta = json_object_get(obj, "metadata");
			if (strncmp(key, "core/services/", 14) != 0)
				continue;
			if (!strcmp(ck, kc->key) &&
			    !strcmp(fake_jstr(meta, "namespace"), ns) &&
			    !strcmp(fake_jstr(meta, "name"), name))
				continue;
			json_array_foreach(json_object_get(json_object_get(
			        json_object_get(obj, "status"), "loadBalancer"),
			                                   "ingress"), i, in)
				if (*fake_jstr(in, "ip"))
					json_object_set_new(used, fake_jstr(in, "ip"),
					                    json_true());
		}
	}
	return used;
}

/* A LoadBalancer address from --lb-range: the first free one from a
 * place picked by a hash of the Service's name (deterministic), never
 * one in use; false when the range is used up (the Service stays
 * pending, as on a real cluster). */
static bool
lb_address(struct fake *f, struct kcluster *kc, const char *ns,
           const char *name, char *out, size_t len)
{
	unsigned bits = fst(f)->lb_bits;
	uint64_t size = (uint64_t)1 << (32 - bits), first = 0, n = size, i;
	uint64_t h = fake_hash64("lb-ip", kc->key, ns, name);
	json_t *used = lb_used(f, kc, ns, name);
	bool found = false;

	if (bits <= 30) { /* not the network nor the broadcast address */
		first = 1;
		n = size - 2;
	}
	if (n > 65536) /* bounded work: the scan looks at this many at most */
		n = 65536;
	for (i = 0; i < n && !found; i++) {
		uint32_t a = fst(f)->lb_net + (uint32_t)(first + (h + i) % n);
		snprintf(out, len, "%u.%u.%u.%u", a >> 24, (a >> 16) & 255,
		         (a >> 8) & 255, a & 255);
		found = json_object_get(used, out) == NULL;
	}
	json_decref(used);
	return found;
}

static void
service_controller(struct fake *f, struct kcluster *kc, const char *ns,
                   json_t *obj)
{
	json_t *spec = json_object_get(obj, "spec"), *ports, *p;
	const char *name = fake_jstr(json_object_get(obj, "metadata"), "name");
	char ip[32];
	size_t i;

	if (!json_is_object(spec))
		return;
	if (json_object_get(spec, "type") == NULL)
		json_object_set_new(spec, "type", json_string("ClusterIP"));
	if (json_object_get(spec, "sessionAffinity") == NULL)
		json_object_set_new(spec, "sessionAffinity", json_string("None"));
	if (json_object_get(spec, "clusterIP") == NULL &&
	    strcmp(fake_jstr(spec, "type"), "ExternalName") != 0) {
		cluster_ip(f, kc, ns, name, ip, sizeof(ip));
		json_object_set_new(spec, "clusterIP", json_string(ip));
		json_object_set_new(spec, "clusterIPs", json_pack("[s]", ip));
	}
	ports = json_object_get(spec, "ports");
	json_array_foreach(ports, i, p) {
		if (json_object_get(p, "protocol") == NULL)
			json_object_set_new(p, "protocol", json_string("TCP"));
		if (json_object_get(p, "targetPort") == NULL &&
		    json_object_get(p, "port") != NULL)
			json_object_set(p, "targetPort", json_object_get(p, "port"));
	}
	if (strcmp(fake_jstr(spec, "type"), "LoadBalancer") == 0) {
		json_t *lb = json_object_get(json_object_get(obj, "status"),
		                             "loadBalancer");
		if (json_array_size(json_object_get(lb, "ingress")) == 0 &&
		    lb_address(f, kc, ns, name, ip, sizeof(ip)))
			json_object_set_new(obj, "status",
			                    json_pack("{s:{s:[{s:s, s:s}]}}",
			                              "loadBalancer", "ingress", "ip", ip,
			                              "ipMode", "VIP"));
	} else if (json_object_get(obj, "status") == NULL) {
		json_object_set_new(obj, "status",
		                    json_pack("{s:{}}", "loadBalancer"));
	}
}

static void
sa_token_secret(struct fake *f, struct kcluster *kc, const char *ns,
                json_t *obj)
{
	json_t *ann = json_object_get(json_object_get(obj, "metadata"),
	                              "annotations");
	const char *sa = fake_jstr(ann, "kubernetes.io/service-account.name");
	json_t *sa_obj, *data, *aud;
	char *tok, *ca, *nsb;

	if (strcmp(fake_jstr(obj, "type"),
	           "kubernetes.io/service-account-token") != 0 || *sa == '\0')
		return;
	sa_obj = kstore_get(f, kc, &k_sa, ns, sa);
	data = json_object_get(obj, "data");
	if (sa_obj == NULL || json_is_string(json_object_get(data, "token")))
		return;
	if (!json_is_object(data)) {
		data = json_object();
		json_object_set_new(obj, "data", data);
	}
	aud = json_pack("[s]", kc->issuer);
	tok = kube_sa_token(f, kc, ns, sa, fake_jstr(json_object_get(sa_obj,
	                                                              "metadata"),
	                                             "uid"),
	                    aud, 0, NULL);
	json_decref(aud);
	ca = fst(f)->pki.ca_pem ? mv_base64_encode(fst(f)->pki.ca_pem, strlen(fst(f)->pki.ca_pem)) : NULL;
	nsb = mv_base64_encode(ns, strlen(ns));
	if (tok != NULL) {
		char *tb = mv_base64_encode(tok, strlen(tok));
		json_object_set_new(data, "token", json_string(tb ? tb : ""));
		free(tb);
	}
	json_object_set_new(data, "ca.crt", json_string(ca ? ca : ""));
	json_object_set_new(data, "namespace", json_string(nsb ? nsb : ""));
	json_object_set_new(ann, "kubernetes.io/service-account.uid",
	                    json_string(fake_jstr(json_object_get(sa_obj,
	                                                          "metadata"),
	                                          "uid")));
	free(tok);
	free(ca);
	free(nsb);
}

/* A condition of a CRD's status: its lastTransitionTime stays while its
 * status does not change, as the real controllers keep it. */
static json_t *
crd_condition(const json_t *old, const char *type, const char *reason,
              const char *msg, const char *now)
{
	json_t *c;
	size_t i;
	const char *ts = now;

	json_array_foreach(json_object_get(old, "conditions"), i, c)
		if (!strcmp(fake_jstr(c, "type"), type) &&
		    !strcmp(fake_jstr(c, "status"), "True") &&
		    *fake_jstr(c, "lastTransitionTime"))
			ts = fake_jstr(c, "lastTransitionTime");
	return json_pack("{s:s, s:s, s:s, s:s, s:s}", "type", type, "status",
	                 "True", "lastTransitionTime", ts, "reason", reason,
	                 "message", msg);
}

/* What the apiextensions controllers write into a CRD's status. */
static void
crd_controller(json_t *obj)
{
	json_t *spec = json_object_get(obj, "spec"), *ver, *st, *stored;
	json_t *old = json_object_get(obj, "status");
	json_t *names = json_deep_copy(json_object_get(spec, "names"));
	char now[48], lk[300];
	size_t i;

	if (!json_is_object(names))
		return;
	fake_now_rfc3339(now, sizeof(now), false);
	if (!json_is_string(json_object_get(names, "listKind"))) {
		snprintf(lk, sizeof(lk), "%sList", fake_jstr(names, "kind"));
		json_object_set_new(names, "listKind", json_string(lk));
	}
	if (!json_is_string(json_object_get(names, "singular")))
		json_object_set_new(names, "singular",
		                    json_string(fake_jstr(names, "plural")));
	stored = json_is_array(json_object_get(old, "storedVersions"))
	                 ? json_deep_copy(json_object_get(old, "storedVersions"))
	                 : json_array();
	json_array_foreach(json_object_get(spec, "versions"), i, ver) {
		bool have = false;
		json_t *x;
		size_t j;
		if (!json_is_true(json_object_get(ver, "storage")))
			continue;
		json_array_foreach(stored, j, x)
			have = have || !strcmp(json_string_value(x) ? json_string_value(x)
			                                             : "",
			                       fake_jstr(ver, "name"));
		if (!have)
			json_array_append_new(stored,
			                      json_string(fake_jstr(ver, "name")));
	}
	st = json_pack("{s:o, s:[o, o], s:o}", "acceptedNames", names,
	               "conditions",
	               crd_condition(old, "NamesAccepted", "NoConflicts",
	                             "no conflicts found", now),
	               crd_condition(old, "Established", "InitialNamesAccepted",
	                             "the initial names have been accepted", now),
	               "storedVersions", stored);
	json_object_set_new(obj, "status", st);
}

void
kctl_after_write(struct fake *f, struct kcluster *kc, const struct kkind *k,
                 json_t *obj, bool created, bool dry_run)
{
	json_t *meta = json_object_get(obj, "metadata");
	const char *ns = fake_jstr(meta, "namespace");
	const char *name = fake_jstr(meta, "name");
	char key[1024];

	if (!strcmp(k->group, "") && !strcmp(k->plural, "namespaces")) {
		if (json_object_get(obj, "status") == NULL)
			json_object_set_new(obj, "status",
			                    json_pack("{s:s}", "phase", "Active"));
		if (created && !dry_run)
			kctl_namespace_defaults(f, kc, name);
	} else if (!strcmp(k->group, "") && !strcmp(k->plural, "services")) {
		service_controller(f, kc, ns, obj);
	} else if (!strcmp(k->group, "") && !strcmp(k->plural, "secrets") &&
	           !dry_run) {
		/* a dry run changes nothing: no token, no istio-ca-root-cert */
		sa_token_secret(f, kc, ns, obj);
		if (!strcmp(ns, "istio-system") && !strcmp(name, "cacerts")) {
			/* every namespace, this write included */
			json_t *data = json_object_get(obj, "data"), *keys, *x;
			const char *b64 = fake_jstr(data, "root-cert.pem");
			uint8_t *pem;
			size_t n, i;
			if (*b64 && mv_base64_decode(b64, strlen(b64), &pem, &n) == 0) {
				keys = fake_sorted_keys(json_object_get(kstore(f, kc),
				                                        "objects"),
				                        "core/namespaces//");
				json_array_foreach(keys, i, x)
					root_cert_configmap(f, kc,
					                    json_string_value(x) + 17,
					                    (char *)pem);
				json_decref(keys);
				free(pem);
			}
		}
	} else if (!strcmp(k->group, "apiextensions.k8s.io") &&
	           !strcmp(k->plural, "customresourcedefinitions")) {
		crd_controller(obj);
	} else if (!strcmp(k->group, "apps") &&
	           !strcmp(k->plural, "deployments") && !dry_run) {
		json_t *prog = json_object_get(kstore(f, kc), "progress"), *p;
		json_int_t gen = json_integer_value(json_object_get(meta,
		                                                    "generation"));
		kobj_key(key, sizeof(key), k, ns, name);
		p = json_object_get(prog, key);
		if (p == NULL || json_integer_value(json_object_get(p, "gen")) != gen)
			json_object_set_new(prog, key,
			                    json_pack("{s:I, s:I}", "at",
			                              (json_int_t)fake_ms(true), "gen", gen));
	}
}

static json_t *
terminating_table(struct fake *f, struct kcluster *kc)
{
	json_t *s = kstore(f, kc), *t = json_object_get(s, "terminating");

	if (t == NULL) {
		t = json_object();
		json_object_set_new(s, "terminating", t);
	}
	return t;
}

bool
kctl_terminating(struct fake *f, struct kcluster *kc, const char *ns)
{
	return json_object_get(terminating_table(f, kc), ns) != NULL;
}

void
kctl_terminate_namespace(struct fake *f, struct kcluster *kc, const char *ns)
{
	json_t *obj = kstore_get(f, kc, &k_ns, NULL, ns), *copy;
	char ts[48];

	if (obj == NULL || kctl_terminating(f, kc, ns))
		return;
	copy = json_deep_copy(obj);
	fake_now_rfc3339(ts, sizeof(ts), false);
	json_object_set_new(json_object_get(copy, "metadata"),
	                    "deletionTimestamp", json_string(ts));
	json_object_set_new(copy, "status", json_pack("{s:s}", "phase",
	                                              "Terminating"));
	kstore_put(f, kc, &k_ns, NULL, ns, copy);
	json_object_set_new(terminating_table(f, kc), ns,
	                    json_integer((json_int_t)(fake_ms(true) +
	                                              fst(f)->opt.controller_delay_ms)));
}

bool
kctl_tick(struct fake *f, struct kcluster *kc)
{
	json_t *t = terminating_table(f, kc), *due, *objs;
	const char *ns;
	void *tmp;
	bool changed = false;
	long long now = fake_ms(true);

	json_object_foreach_safe(t, tmp, ns, due) {
		json_t *keys, *k;
		size_t i;
		if (json_integer_value(due) > now)
			continue;
		/* everything whose key's namespace part is ns, then ns */
		objs = json_object_get(kstore(f, kc), "objects");
		keys = fake_sorted_keys(objs, "");
		json_array_foreach(keys, i, k) {
			const char *s = json_string_value(k), *p = s;
			int slashes = 0;
			while (*p && slashes < 2)
				if (*p++ == '/')
					slashes++;
			if (!strncmp(p, ns, strlen(ns)) && p[strlen(ns)] == '/')
				kstore_del_key(f, kc, s);
		}
		json_decref(keys);
		kstore_del(f, kc, &k_ns, NULL, ns);
		json_object_del(t, ns);
		changed = true;
	}
	return changed;
}

json_t *
kctl_view(struct fake *f, struct kcluster *kc, const struct kkind *k,
          json_t *obj)
{
	json_t *out, *meta, *p, *spec;
	json_int_t want, gen;
	char key[1024];
	bool ready;

	if (strcmp(k->group, "apps") != 0 || strcmp(k->plural, "deployments"))
		return json_incref(obj);
	out = json_deep_copy(obj);
	meta = json_object_get(out, "metadata");
	spec = json_object_get(out, "spec");
	kobj_key(key, sizeof(key), k, fake_jstr(meta, "namespace"),
	         fake_jstr(meta, "name"));
	p = json_object_get(json_object_get(kstore(f, kc), "progress"), key);
	want = json_is_integer(json_object_get(spec, "replicas"))
	               ? json_integer_value(json_object_get(spec, "replicas"))
	               : 1;
	gen = json_integer_value(json_object_get(meta, "generation"));
	ready = p == NULL || want == 0 ||
	        fake_ms(true) >= json_integer_value(json_object_get(p, "at")) +
	                            fst(f)->opt.controller_delay_ms;
	if (ready)
		json_object_set_new(
		        out, "status",
		        json_pack("{s:I, s:I, s:I, s:I, s:I, s:[{s:s, s:s, s:s, "
		                  "s:s}, {s:s, s:s, s:s, s:s}]}",
		                  "observedGeneration", gen, "replicas", want,
		                  "updatedReplicas", want, "readyReplicas", want,
		                  "availableReplicas", want, "conditions", "type",
		                  "Available", "status", "True", "reason",
		                  "MinimumReplicasAvailable", "message",
		                  "Deployment has minimum availability.", "type",
		                  "Progressing", "status", "True", "reason",
		                  "NewReplicaSetAvailable", "message",
		                  "ReplicaSet has successfully progressed."));
	else
		json_object_set_new(
		        out, "status",
		        json_pack("{s:I, s:I, s:I, s:I, s:[{s:s, s:s, s:s, s:s}, "
		                  "{s:s, s:s, s:s, s:s}]}",
		                  "observedGeneration", gen, "replicas", want,
		                  "updatedReplicas", want, "unavailableReplicas", want,
		                  "conditions", "type", "Available", "status", "False",
		                  "reason", "MinimumReplicasUnavailable", "message",
		                  "Deployment does not have minimum availability.",
		                  "type", "Progressing", "status", "True", "reason",
		                  "ReplicaSetUpdated", "message",
		                  "ReplicaSet is progressing."));
	return out;
}
