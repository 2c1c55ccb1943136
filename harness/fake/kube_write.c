/* harness/fake/kube_write.c - the Kubernetes verbs that write: create,
 * replace, the four patch types, delete, deletecollection, and the status
 * and scale subresources. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/base64.h"
#include "core/yaml.h"
#include "harness/fake/kube_api.h"


void
ka_create(struct fake *f, struct freq *rq, const struct kreq *kr,
          struct fresp *rs)
{
	json_t *obj = ka_body_json(rq, rs), *m;
	const char *name, *ns = NULL, *why;
	char key[1024], manager[160], qn[600], gen_name[300];

	if (obj == NULL)
		return;
	if (ka_check_type_meta(kr, obj, rs) != 0)
		goto out;
	m = ka_meta_of(obj);
	name = fake_jstr(m, "name");
	if (*name == '\0' && *fake_jstr(m, "generateName")) {
		char rv[32];
		uint64_t h = fake_hash64("generate-name", rq->kc->key,
		                         fake_jstr(m, "generateName"),
		                         kstore_rv(f, rq->kc, rv, sizeof(rv)));
		static const char al[] = "bcdfghjklmnpqrstvwxz2456789";
		snprintf(gen_name, sizeof(gen_name), "%.250s%c%c%c%c%c",
		         fake_jstr(m, "generateName"), al[h % 27], al[h / 27 % 27],
		         al[h / 729 % 27], al[h / 19683 % 27], al[h / 531441 % 27]);
		json_object_set_new(m, "name", json_string(gen_name));
		name = fake_jstr(m, "name");
	}
	if (*name == '\0') {
		ka_invalid(rs, kr, "", "metadata.name", "", "name or generateName is "
		        "required");
		goto out;
	}
	why = ka_name_problem(&kr->k, name);
	if (why != NULL) {
		ka_invalid(rs, kr, name, "metadata.name", name, why);
		goto out;
	}
	if (kr->k.namespaced) {
		const char *bns = fake_jstr(m, "namespace");
		ns = kr->ns;
		if (*bns && strcmp(bns, ns) != 0) {
			kube_err(rs, 400, "BadRequest", NULL, "the namespace of the "
			         "provided object does not match the namespace sent on "
			         "the request");
			goto out;
		}
		json_object_set_new(m, "namespace", json_string(ns));
		if (ka_namespace_missing(f, rq, kr, rs, ns))
			goto out;
	} else {
		json_object_del(m, "namespace");
	}
	if (kstore_get(f, rq->kc, &kr->k, ns, name) != NULL) {
		ka_qualified(&kr->k, name, qn, sizeof(qn));
		kube_err(rs, 409, "AlreadyExists", kube_details(&kr->k, name),
		         "%s already exists", qn);
		goto out;
	}
	if (ka_validate(rq, kr, obj, rs, false) != 0)
		goto out;
	if (kr->k.flags & KK_STATUS)
		json_object_del(obj, "status");
	kobj_key(key, sizeof(key), &kr->k, ns, name);
	kobj_init_meta(f, rq->kc, key, obj);
	json_object_del(m, "managedFields");
	ka_manager_of(rq, "unknown", manager, sizeof(manager));
	kmanaged_update(NULL, obj, manager, kr->gv, kr->builtin);
	if (ka_dry_run(rq)) {
		kctl_after_write(f, rq->kc, &kr->k, obj, true, true);
		kube_json(rs, 201, obj);
		return;
	}
	ka_store(f, rq, kr, json_incref(obj), true);
	kube_json(rs, 201, ka_view(f, rq, kr, obj));
out:
	json_decref(obj);
}

static int
rv_precondition(const json_t *live, const json_t *obj, const struct kreq *kr,
                struct fresp *rs)
{
	const char *want = json_string_value(json_object_get(
	        json_object_get(obj, "metadata"), "resourceVersion"));
	const char *have = fake_jstr(json_object_get(live, "metadata"),
	                             "resourceVersion");
	char qn[600];

	if (want == NULL || *want == '\0' || strcmp(want, have) == 0)
		return 0;
	ka_qualified(&kr->k, kr->name, qn, sizeof(qn));
	kube_err(rs, 409, "Conflict", kube_details(&kr->k, kr->name),
	         "Operation cannot be fulfilled on %s: the object has been "
	         "modified; please apply your changes to the latest version and "
	         "try again", qn);
	return -1;
}

/* Write an updated object: checks, server fields, managed fields. */
static void
finish_update(struct fake *f, struct freq *rq, const struct kreq *kr,
              json_t *live, json_t *obj, struct fresp *rs, int status)
{
	char manager[160];
	json_t *m = ka_meta_of(obj);

	if (strcmp(fake_jstr(m, "name"), kr->name) != 0) {
		kube_err(rs, 400, "BadRequest", NULL, "the name of the object (%s) "
		         "does not match the name on the URL (%s)",
		         fake_jstr(m, "name"), kr->name);
		return;
	}
	if (kr->k.namespaced && *fake_jstr(m, "namespace") &&
	    strcmp(fake_jstr(m, "namespace"), kr->ns) != 0) {
		kube_err(rs, 400, "BadRequest", NULL, "the namespace of the "
		         "provided object does not match the namespace sent on the "
		         "request");
		return;
	}
	if (rv_precondition(live, obj, kr, rs) != 0 ||
	    ka_validate(rq, kr, obj, rs, false) != 0)
		return;
	ka_keep_server_fields(live, obj, kr);
	ka_manager_of(rq, "unknown", manager, sizeof(manager));
	kmanaged_update(live, obj, manager, kr->gv, kr->builtin);
	if (ka_dry_run(rq)) {
		kctl_after_write(f, rq->kc, &kr->k, obj, false, true);
		kube_json(rs, status, json_incref(obj));
		return;
	}
	ka_store(f, rq, kr, json_incref(obj), false);
	kube_json(rs, status, ka_view(f, rq, kr, obj));
}

void
ka_replace(struct fake *f, struct freq *rq, const struct kreq *kr,
           struct fresp *rs)
{
	json_t *live = kstore_get(f, rq->kc, &kr->k, kr->ns, kr->name);
	json_t *obj;

	if (live == NULL) {
		kube_not_found(rs, &kr->k, kr->name);
		return;
	}
	obj = ka_body_json(rq, rs);
	if (obj == NULL)
		return;
	if (ka_check_type_meta(kr, obj, rs) == 0)
		finish_update(f, rq, kr, live, obj, rs, 200);
	json_decref(obj);
}

static void
apply_patch(struct fake *f, struct freq *rq, const struct kreq *kr,
            json_t *live, struct fresp *rs)
{
	json_t *applied = ka_body_yaml(rq, rs), *out = NULL, *m;
	struct kapply_conflict conflicts[MAX_CONFLICTS];
	const char *manager = freq_arg(rq, "fieldManager");
	const char *force = freq_arg(rq, "force");
	char err[512], key[1024];
	size_t n = 0;
	int rc;

	if (applied == NULL)
		return;
	if (manager == NULL || *manager == '\0') {
		ka_invalid(rs, kr, kr->name, "fieldManager", "", "is required for apply "
		        "patch");
		goto out;
	}
	if (ka_check_type_meta(kr, applied, rs) != 0)
		goto out;
	m = ka_meta_of(applied);
	if (*fake_jstr(m, "name") && strcmp(fake_jstr(m, "name"), kr->name)) {
		kube_err(rs, 400, "BadRequest", NULL, "the name of the object (%s) "
		         "does not match the name on the URL (%s)",
		         fake_jstr(m, "name"), kr->name);
		goto out;
	}
	if (json_object_get(m, "managedFields") != NULL) {
		ka_invalid(rs, kr, kr->name, "metadata.managedFields", "",
		        "cannot be set on an apply request");
		goto out;
	}
	json_object_set_new(m, "name", json_string(kr->name));
	if (kr->k.namespaced)
		json_object_set_new(m, "namespace", json_string(kr->ns));
	if (kr->k.flags & KK_STATUS)
		json_object_del(applied, "status");
	if (ka_validate(rq, kr, applied, rs, true) != 0)
		goto out;
	if (live == NULL) {
		const char *why = ka_name_problem(&kr->k, kr->name);
		if (why != NULL) {
			ka_invalid(rs, kr, kr->name, "metadata.name", kr->name, why);
			goto out;
		}
		if (ka_namespace_missing(f, rq, kr, rs, kr->ns))
			goto out;
	}
	rc = kapply(live, applied, manager, kr->gv,
	            force != NULL && !strcmp(force, "true"), kr->builtin, &out,
	            conflicts, MAX_CONFLICTS, &n, err, sizeof(err));
	if (rc < 0) {
		kube_err(rs, 400, "BadRequest", NULL, "%s", err);
		goto out;
	}
	if (rc > 0) {
		char msg[4096];
		size_t o;
		json_t *causes = json_array(), *d = kube_details(&kr->k, kr->name);
		o = (size_t)snprintf(msg, sizeof(msg), "Apply failed with %zu "
		                     "conflict%s: conflict%s with \"%s\" using %s",
		                     n, n > 1 ? "s" : "", n > 1 ? "s" : "",
		                     conflicts[0].manager, conflicts[0].api_version);
		if (n == 1)
			o += (size_t)snprintf(msg + o, sizeof(msg) - o, ": %s",
			                      conflicts[0].field);
		for (size_t i = 0; i < n && i < MAX_CONFLICTS; i++) {
			char cm[300];
			if (n > 1 && o < sizeof(msg))
				o += (size_t)snprintf(msg + o, sizeof(msg) - o, "\n- %s",
				                      conflicts[i].field);
			snprintf(cm, sizeof(cm), "conflict with \"%s\" using %s",
			         conflicts[i].manager, conflicts[i].api_version);
			json_array_append_new(causes,
			                      json_pack("{s:s, s:s, s:s}", "reason",
			                                "FieldManagerConflict", "message",
			                                cm, "field",
			                                conflicts[i].field));
		}
		json_object_set_new(d, "causes", causes);
		kube_err(rs, 409, "Conflict", d, "%s", msg);
		goto out;
	}
	m = ka_meta_of(out);
	if (live == NULL) {
		kobj_key(key, sizeof(key), &kr->k, kr->ns, kr->name);
		kobj_init_meta(f, rq->kc, key, out);
		json_object_set_new(out, "apiVersion", json_string(kr->gv));
		json_object_set_new(out, "kind", json_string(kr->k.kind));
	} else {
		ka_keep_server_fields(live, out, kr);
	}
	if (ka_dry_run(rq)) {
		kctl_after_write(f, rq->kc, &kr->k, out, live == NULL, true);
		kube_json(rs, live ? 200 : 201, json_incref(out));
		goto out;
	}
	ka_store(f, rq, kr, json_incref(out), live == NULL);
	kube_json(rs, live ? 200 : 201, ka_view(f, rq, kr, out));
out:
	json_decref(out);
	json_decref(applied);
}

void
ka_patch(struct fake *f, struct freq *rq, const struct kreq *kr,
         struct fresp *rs)
{
	json_t *live = kstore_get(f, rq->kc, &kr->k, kr->ns, kr->name);
	json_t *patch, *obj = NULL;
	char mt[128], err[512];
	int rc = 0;

	ka_media_type(rq, mt, sizeof(mt));
	if (!strcmp(mt, "application/apply-patch+yaml")) {
		apply_patch(f, rq, kr, live, rs);
		return;
	}
	if (strcmp(mt, "application/merge-patch+json") &&
	    strcmp(mt, "application/json-patch+json") &&
	    (strcmp(mt, "application/strategic-merge-patch+json") ||
	     (kr->k.flags & KK_CR))) {
		kube_err(rs, 415, "UnsupportedMediaType", NULL, "the body of the "
		         "request was in an unknown format - accepted media types "
		         "include: application/json-patch+json, "
		         "application/merge-patch+json, application/apply-patch+yaml%s",
		         kr->k.flags & KK_CR ? ""
		                             : ", application/strategic-merge-patch+json");
		return;
	}
	if (live == NULL) {
		kube_not_found(rs, &kr->k, kr->name);
		return;
	}
	patch = ka_body_json(rq, rs);
	if (patch == NULL)
		return;
	if (!strcmp(mt, "application/merge-patch+json")) {
		obj = kmerge_json_merge(live, patch);
	} else if (!strcmp(mt, "application/json-patch+json")) {
		obj = json_deep_copy(live);
		rc = kmerge_json_patch(&obj, patch, err, sizeof(err));
	} else {
		obj = json_deep_copy(live);
		rc = kmerge_strategic(obj, patch, err, sizeof(err));
	}
	if (rc != 0 || !json_is_object(obj)) {
		kube_err(rs, rc != 0 ? 422 : 400, rc != 0 ? "Invalid" : "BadRequest",
		         NULL, "%s", rc != 0 ? err : "the patched object is not an "
		                                     "object");
	} else {
		finish_update(f, rq, kr, live, obj, rs, 200);
	}
	json_decref(obj);
	json_decref(patch);
}

/* Every object of a CRD goes with it (a namespace's contents go when
 * it has finished terminating: kctl_tick). */
static void
cascade(struct fake *f, struct freq *rq, const struct kreq *kr,
        const json_t *live)
{
	json_t *objs = json_object_get(kstore(f, rq->kc), "objects");
	json_t *keys = fake_sorted_keys(objs, ""), *k;
	char want[512] = "";
	size_t i;

	if (!strcmp(kr->k.plural, "customresourcedefinitions")) {
		json_t *spec = json_object_get(live, "spec");
		snprintf(want, sizeof(want), "%s/%s/", fake_jstr(spec, "group"),
		         fake_jstr(json_object_get(spec, "names"), "plural"));
		json_array_foreach(keys, i, k)
			if (!strncmp(json_string_value(k), want, strlen(want)))
				kstore_del_key(f, rq->kc, json_string_value(k));
	}
	json_decref(keys);
}

/* DeleteOptions' propagationPolicy (body or query), NULL for the
 * default (Background). */
static char *
propagation(struct freq *rq)
{
	json_t *opts = rq->body_len > 0 ? json_loadb(rq->body, rq->body_len, 0,
	                                             NULL)
	                                : NULL;
	const char *p = json_string_value(json_object_get(opts,
	                                                  "propagationPolicy"));
	char *out = NULL;

	if (p == NULL)
		p = freq_arg(rq, "propagationPolicy");
	if (p != NULL)
		out = strdup(p);
	json_decref(opts);
	return out;
}

static int
delete_preconditions(struct freq *rq, const struct kreq *kr, json_t *live,
                     struct fresp *rs)
{
	json_t *opts = rq->body_len > 0 ? json_loadb(rq->body, rq->body_len, 0,
	                                             NULL)
	                                : NULL;
	json_t *pre = json_object_get(opts, "preconditions");
	json_t *lm = json_object_get(live, "metadata");
	const char *uid = json_string_value(json_object_get(pre, "uid"));
	const char *rv = json_string_value(json_object_get(pre,
	                                                   "resourceVersion"));
	char qn[600];
	int rc = 0;

	ka_qualified(&kr->k, kr->name, qn, sizeof(qn));
	if (uid && strcmp(uid, fake_jstr(lm, "uid"))) {
		kube_err(rs, 409, "Conflict", kube_details(&kr->k, kr->name),
		         "Operation cannot be fulfilled on %s: Precondition failed: "
		         "UID in precondition: %s, UID in object meta: %s", qn, uid,
		         fake_jstr(lm, "uid"));
		rc = -1;
	} else if (rv && strcmp(rv, fake_jstr(lm, "resourceVersion"))) {
		kube_err(rs, 409, "Conflict", kube_details(&kr->k, kr->name),
		         "Operation cannot be fulfilled on %s: Precondition failed: "
		         "ResourceVersion in precondition: %s, ResourceVersion in "
		         "object meta: %s", qn, rv, fake_jstr(lm, "resourceVersion"));
		rc = -1;
	}
	json_decref(opts);
	return rc;
}

static json_t *
success(const struct kreq *kr, const char *name, const char *uid)
{
	json_t *d = kube_details(kr ? &kr->k : NULL, name);

	if (uid != NULL)
		json_object_set_new(d, "uid", json_string(uid));
	return json_pack("{s:s, s:s, s:{}, s:s, s:o}", "kind", "Status",
	                 "apiVersion", "v1", "metadata", "status", "Success",
	                 "details", d);
}

void
ka_delete(struct fake *f, struct freq *rq, const struct kreq *kr,
          struct fresp *rs)
{
	json_t *live = kstore_get(f, rq->kc, &kr->k, kr->ns, kr->name);
	char uid[64];

	if (live == NULL) {
		kube_not_found(rs, &kr->k, kr->name);
		return;
	}
	if (delete_preconditions(rq, kr, live, rs) != 0)
		return;
	snprintf(uid, sizeof(uid), "%s",
	         fake_jstr(json_object_get(live, "metadata"), "uid"));
	if (ka_dry_run(rq)) {
		/* nothing */
	} else if (!strcmp(kr->k.group, "") &&
	           !strcmp(kr->k.plural, "namespaces")) {
		kctl_terminate_namespace(f, rq->kc, kr->name);
	} else {
		char *pol = propagation(rq);
		cascade(f, rq, kr, live);
		kstore_del(f, rq->kc, &kr->k, kr->ns, kr->name);
		kgc_owner_deleted(f, rq->kc, uid, pol);
		free(pol);
	}
	kube_json(rs, 200, success(kr, kr->name, uid));
}

void
ka_delete_collection(struct fake *f, struct freq *rq, const struct kreq *kr,
                     struct fresp *rs)
{
	json_t *objs = json_object_get(kstore(f, rq->kc), "objects"), *keys, *k;
	struct ksel *sel = NULL;
	char prefix[512], err[512];
	size_t i;

	if (ksel_parse(freq_arg(rq, "labelSelector"),
	               freq_arg(rq, "fieldSelector"), &sel, err,
	               sizeof(err)) != 0) {
		kube_err(rs, 400, "BadRequest", NULL, "%s", err);
		return;
	}
	snprintf(prefix, sizeof(prefix), "%s/%s/%s%s", kkind_gkey(&kr->k),
	         kr->k.plural, kr->ns ? kr->ns : "", kr->ns ? "/" : "");
	keys = fake_sorted_keys(objs, prefix);
	json_array_foreach(keys, i, k) {
		json_t *obj = json_object_get(objs, json_string_value(k));
		struct kreq one = *kr;
		if (obj == NULL) /* collected with an owner deleted before it */
			continue;
		if (!ksel_match(sel, obj) || ka_dry_run(rq))
			continue;
		one.name = fake_jstr(json_object_get(obj, "metadata"), "name");
		if (!strcmp(kr->k.group, "") && !strcmp(kr->k.plural, "namespaces")) {
			kctl_terminate_namespace(f, rq->kc, one.name);
			continue;
		}
		char *pol = propagation(rq);
		char uid[64];
		snprintf(uid, sizeof(uid), "%s",
		         fake_jstr(json_object_get(obj, "metadata"), "uid"));
		cascade(f, rq, &one, obj);
		kstore_del_key(f, rq->kc, json_string_value(k));
		kgc_owner_deleted(f, rq->kc, uid, pol);
		free(pol);
	}
	json_decref(keys);
	ksel_free(sel);
	kube_json(rs, 200, success(kr, "", NULL));
}

/* ---- subresources ---- */

void
ka_status(struct fake *f, struct freq *rq, const struct kreq *kr,
          struct fresp *rs)
{
	json_t *live = kstore_get(f, rq->kc, &kr->k, kr->ns, kr->name), *body;
	json_t *obj = NULL;
	char mt[128], err[512];

	if (live == NULL) {
		kube_not_found(rs, &kr->k, kr->name);
		return;
	}
	if (!strcmp(rq->method, "GET")) {
		kube_json(rs, 200, ka_view(f, rq, kr, live));
		return;
	}
	body = ka_body_json(rq, rs);
	if (body == NULL)
		return;
	ka_media_type(rq, mt, sizeof(mt));
	if (!strcmp(rq->method, "PUT"))
		obj = json_incref(body);
	else if (!strcmp(mt, "application/merge-patch+json"))
		obj = kmerge_json_merge(live, body);
	else if (!strcmp(mt, "application/strategic-merge-patch+json") &&
	         !(kr->k.flags & KK_CR)) {
		obj = json_deep_copy(live);
		if (kmerge_strategic(obj, body, err, sizeof(err)) != 0) {
			json_decref(obj);
			obj = NULL;
		}
	} else if (!strcmp(mt, "application/json-patch+json")) {
		obj = json_deep_copy(live);
		if (kmerge_json_patch(&obj, body, err, sizeof(err)) != 0) {
			json_decref(obj);
			obj = NULL;
		}
	}
	if (obj == NULL) {
		kube_err(rs, 422, "Invalid", NULL, "the status patch could not be "
		         "applied");
	} else {
		/* only status changes through this subresource */
		json_t *next = json_deep_copy(live);
		json_object_set(next, "status", json_object_get(obj, "status"));
		if (ka_dry_run(rq))
			kctl_after_write(f, rq->kc, &kr->k, next, false, true);
		else
			ka_store(f, rq, kr, json_incref(next), false);
		kube_json(rs, 200, ka_view(f, rq, kr, next));
		json_decref(next);
		json_decref(obj);
	}
	json_decref(body);
}

void
ka_scale(struct fake *f, struct freq *rq, const struct kreq *kr,
         struct fresp *rs)
{
	json_t *live = kstore_get(f, rq->kc, &kr->k, kr->ns, kr->name);
	json_t *spec, *body, *scale, *sel, *dry = NULL;
	json_int_t replicas;

	if (live == NULL) {
		kube_not_found(rs, &kr->k, kr->name);
		return;
	}
	spec = json_object_get(live, "spec");
	if (strcmp(rq->method, "GET") != 0) {
		json_t *in, *next;
		body = ka_body_json(rq, rs);
		if (body == NULL)
			return;
		/* PUT sends a Scale; a patch of the Scale {spec: {replicas}} */
		in = json_incref(body);
		replicas = json_integer_value(json_object_get(
		        json_object_get(in, "spec"), "replicas"));
		json_decref(in);
		json_decref(body);
		if (replicas < 0) {
			kube_err(rs, 422, "Invalid", NULL, "spec.replicas: must be "
			         "greater than or equal to 0");
			return;
		}
		next = json_deep_copy(live);
		json_object_set_new(json_object_get(next, "spec"), "replicas",
		                    json_integer(replicas));
		ka_keep_server_fields(live, next, kr);
		kmanaged_update(live, next, "kubectl", kr->gv, kr->builtin);
		if (ka_dry_run(rq))
			dry = next; /* answered from, stored nowhere */
		else
			ka_store(f, rq, kr, next, false);
		live = next;
		spec = json_object_get(live, "spec");
	}
	replicas = json_is_integer(json_object_get(spec, "replicas"))
	                   ? json_integer_value(json_object_get(spec, "replicas"))
	                   : 1;
	sel = json_object_get(json_object_get(spec, "selector"), "matchLabels");
	scale = json_pack("{s:s, s:s, s:{s:s, s:s, s:O, s:O}, s:{s:I}, "
	                  "s:{s:I, s:s}}",
	                  "kind", "Scale", "apiVersion", "autoscaling/v1",
	                  "metadata", "name", kr->name, "namespace",
	                  kr->ns ? kr->ns : "", "uid",
	                  json_object_get(json_object_get(live, "metadata"), "uid"),
	                  "resourceVersion",
	                  json_object_get(json_object_get(live, "metadata"),
	                                  "resourceVersion"),
	                  "spec", "replicas", replicas, "status", "replicas",
	                  replicas, "selector", "");
	if (json_is_object(sel)) {
		char buf[1024] = "";
		const char *k;
		json_t *v;
		size_t o = 0;
		json_object_foreach(sel, k, v)
			o += (size_t)snprintf(buf + o, o < sizeof(buf) ? sizeof(buf) - o
			                                               : 0,
			                      "%s%s=%s", o ? "," : "", k,
			                      json_string_value(v));
		json_object_set_new(json_object_get(scale, "status"), "selector",
		                    json_string(buf));
	}
	kube_json(rs, 200, scale);
	json_decref(dry);
}

