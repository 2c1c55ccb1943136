/* cluster/steps/deliver.c - step `deliver`: the baked bundle into Cloud
 * Storage, where the VM fetches it (cluster/storage.h).
 *
 * The bucket (vm.bundle_bucket, else PROJECT-meshvm-HEX: delivery.h) is
 * created when missing, with uniform bucket-level access and the label
 * meshvm-id, and recorded ("bucket/B") only then: down deletes a bucket
 * meshvm created once it is empty, never one it found.  The VM's service
 * account gets roles/storage.objectViewer in the bucket's IAM policy (its
 * storage scope alone grants nothing).  The object is named after the
 * bundle's digest, carries metadata meshvm-id and meshvm-digest, and is
 * uploaded with ifGenerationMatch=0; its record ("object/B/O") is written
 * as intent before the upload, so a killed run resumes the same resumable
 * session (the session URI sits in .meshvm/upload-session.json, 0600).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cluster/delivery.h"
#include "cluster/step.h"
#include "cluster/storage.h"
#include "core/log.h"
#include "core/progress.h"
#include "core/xalloc.h"

#define VIEWER_ROLE "roles/storage.objectViewer"
#define DELIVER_DEADLINE_MS (5L * 60 * 1000)

struct target {
	const char *digest, *file, *compression; /* borrowed: bundle record */
	char *bucket, *object, *url, *member;
};

static void
target_free(struct target *t)
{
	free(t->bucket);
	free(t->object);
	free(t->url);
	free(t->member);
}

/* What to deliver; 1 when nothing is baked yet. */
static int
target_of(struct plan_ctx *ctx, struct target *t, struct mv_err *err)
{
	json_t *b = delivery_bundle_record(ctx);
	char *sa = NULL;

	memset(t, 0, sizeof(*t));
	t->digest = mv_state_str(b, "digest");
	t->file = mv_state_str(b, "file");
	t->compression = mv_state_str(b, "compression");
	if (t->digest == NULL || t->file == NULL)
		return 1;
	t->bucket = delivery_bucket_name(ctx);
	t->object = delivery_object_name(ctx->cfg, t->digest,
	                                 t->compression ? t->compression : "zstd");
	t->url = mv_xstrfmt("gs://%s/%s", t->bucket, t->object);
	if (delivery_vm_service_account(ctx, &sa, err) != 0) {
		target_free(t);
		return -1;
	}
	t->member = mv_xstrfmt("serviceAccount:%s", sa);
	free(sa);
	return 0;
}

static const char *
meta_str(const json_t *obj, const char *k)
{
	return json_string_value(json_object_get(json_object_get(obj, "metadata"),
	                                         k));
}

/* Is the object there the bundle file (same MD5 and CRC32C)? */
static int
same_bytes(const json_t *obj, const char *file, bool *same,
           struct mv_err *err)
{
	char md5[25], crc[9];
	const char *m = json_string_value(json_object_get(obj, "md5Hash"));
	const char *c = json_string_value(json_object_get(obj, "crc32c"));

	if (storage_file_hashes(file, md5, crc, NULL, err) != 0)
		return -1;
	*same = (m != NULL || c != NULL) && (m == NULL || !strcmp(m, md5)) &&
	        (c == NULL || !strcmp(c, crc));
	return 0;
}

static int
deliver_check(struct plan_ctx *ctx, struct step_check *out,
              struct mv_err *err)
{
	struct target t;
	json_t *bucket = NULL, *pol = NULL, *obj = NULL;
	int r = target_of(ctx, &t, err), rc = -1;

	if (r != 0) {
		if (r == 1)
			step_action(out, "upload the VM bundle to Cloud Storage once "
			            "it is baked");
		return r < 0 ? -1 : 0;
	}
	r = storage_bucket_get(ctx->gcp, t.bucket, &bucket, err);
	if (r < 0)
		goto out;
	if (r == 1) {
		step_action(out, "create bucket gs://%s (uniform bucket-level "
		            "access, label meshvm-id)", t.bucket);
		step_action(out, "grant %s %s on gs://%s", t.member, VIEWER_ROLE,
		            t.bucket);
		step_action(out, "upload %s as %s", t.file, t.url);
		rc = 0;
		goto out;
	}
	if (storage_iam_get(ctx->gcp, t.bucket, &pol, err) != 0)
		goto out;
	if (!storage_iam_has(pol, VIEWER_ROLE, t.member))
		step_action(out, "grant %s %s on gs://%s", t.member, VIEWER_ROLE,
		            t.bucket);
	r = storage_object_get(ctx->gcp, t.bucket, t.object, &obj, err);
	if (r < 0)
		goto out;
	if (r == 1) {
		step_action(out, "upload %s as %s", t.file, t.url);
	} else {
		bool same = false;
		if (same_bytes(obj, t.file, &same, err) != 0)
			goto out;
		if (!same)
			step_drift(out, "%s holds other bytes than %s", t.url, t.file);
		else {
			char *name = mv_xstrfmt("%s/%s", t.bucket, t.object);
			const char *ph = mv_state_str(
				step_record_get(ctx, "object", NULL, name), "phase");
			if (ph == NULL || strcmp(ph, "created") != 0)
				step_action(out, "record %s in the state", t.url);
			free(name);
		}
	}
	rc = 0;
out:
	json_decref(bucket);
	json_decref(pol);
	json_decref(obj);
	target_free(&t);
	return rc;
}

/* The bucket exists afterwards: made (and recorded) when absent. */
static int
ensure_bucket(struct plan_ctx *ctx, const struct target *t,
              struct mv_err *err)
{
	json_t *b = NULL, *rec;
	int r = storage_bucket_get(ctx->gcp, t->bucket, &b, err);

	if (r < 0)
		return -1;
	rec = step_record_get(ctx, "bucket", NULL, t->bucket);
	if (r == 0 && rec == NULL && ctx->cfg->vm.bundle_bucket == NULL &&
	    storage_bucket_id(b) != NULL && !step_ours(ctx, storage_bucket_id(b))) {
		/* the default name is this deployment's; a bucket by it with
		 * another id is not ours to fill (vm.bundle_bucket shares one) */
		int rc = step_not_ours(ctx, "bucket", t->bucket,
		                       storage_bucket_id(b), err);
		json_decref(b);
		return rc;
	}
	if (r == 0) {
		/* made by an earlier run that died before recording it */
		if (rec != NULL && step_ours(ctx, storage_bucket_id(b)))
			step_record_created(rec);
		else if (rec != NULL) {
			char *key = step_record_key("bucket", NULL, t->bucket);
			mv_state_del(ctx->state, key);
			free(key);
		}
		json_decref(b);
		return mv_state_save(ctx->state, err);
	}
	rec = step_record_put(ctx, "bucket", NULL, t->bucket);
	mv_state_set_str(rec, "phase", "intent");
	if (mv_state_save(ctx->state, err) != 0)
		return -1;
	r = storage_bucket_insert(ctx->gcp, t->bucket, NULL,
	                          mv_state_id(ctx->state), err);
	if (r < 0)
		return -1;
	if (r == 1) { /* 409: ours from a resent insert, or anyone's */
		if (storage_bucket_get(ctx->gcp, t->bucket, &b, err) != 0) {
			if (err->exit_code == 0)
				mv_err_set(err, MV_EXIT_CLOUD, "gs://%s: create answered "
				           "409 but the bucket is absent", t->bucket);
			return -1;
		}
		if (!step_ours(ctx, storage_bucket_id(b))) {
			char *key = step_record_key("bucket", NULL, t->bucket);
			json_decref(b);
			mv_state_del(ctx->state, key);
			free(key);
			if (mv_state_save(ctx->state, err) != 0)
				return -1;
			/* a bucket name is global: another project's is no use */
			return mv_err_set(err, MV_EXIT_CLOUD, "bucket gs://%s exists "
			                  "and is not this deployment's; if it is "
			                  "yours, name it in vm.bundle_bucket, else "
			                  "pick another name there", t->bucket);
		}
		json_decref(b);
	} else {
		mv_info("deliver: created bucket gs://%s", t->bucket);
	}
	step_record_created(rec);
	return mv_state_save(ctx->state, err);
}

static int
grant_viewer(struct plan_ctx *ctx, const struct target *t,
             struct mv_err *err)
{
	for (int attempt = 1;; attempt++) {
		json_t *pol = NULL;
		int rc;

		if (storage_iam_get(ctx->gcp, t->bucket, &pol, err) != 0)
			return -1;
		if (storage_iam_has(pol, VIEWER_ROLE, t->member)) {
			json_decref(pol);
			return 0;
		}
		storage_iam_add(pol, VIEWER_ROLE, t->member);
		rc = storage_iam_set(ctx->gcp, t->bucket, pol, err);
		json_decref(pol);
		if (rc == 0) {
			mv_info("deliver: granted %s %s on gs://%s", t->member,
			        VIEWER_ROLE, t->bucket);
			return 0;
		}
		/* 412: someone changed the policy in between; read it again */
		if (err->http_status != 412 || attempt >= 5)
			return -1;
		mv_err_clear(err);
	}
}

static int
upload(struct plan_ctx *ctx, const struct target *t, struct mv_err *err)
{
	char *name = mv_xstrfmt("%s/%s", t->bucket, t->object);
	char *session = delivery_session_file(ctx);
	json_t *rec = step_record_put(ctx, "object", NULL, name);
	json_t *meta = json_pack("{s:s, s:s}", "meshvm-id",
	                         mv_state_id(ctx->state), "meshvm-digest",
	                         t->digest);
	struct storage_upload u = {
		.bucket = t->bucket, .name = t->object, .path = t->file,
		.content_type = !strcmp(t->compression ? t->compression : "",
		                        "gzip") ? "application/gzip"
		                : !strcmp(t->compression ? t->compression : "",
		                          "none") ? "application/x-tar"
		                : "application/zstd",
		.metadata = meta, .session_file = session,
		.progress = ctx->progress};
	struct storage_upload_result res;
	const char *gen;
	int r, rc = -1;

	mv_state_set_str(rec, "url", t->url);
	mv_state_set_str(rec, "digest", t->digest);
	mv_state_set_str(rec, "bucket", t->bucket);
	mv_state_set_str(rec, "object", t->object);
	if (mv_state_str(rec, "phase") == NULL ||
	    strcmp(mv_state_str(rec, "phase"), "created") != 0)
		mv_state_set_str(rec, "phase", "intent");
	if (mv_state_save(ctx->state, err) != 0)
		goto out;
	r = storage_upload_file(ctx->gcp, &u, &res, err);
	if (r < 0)
		goto out;
	if (r == 1) {
		bool same = false;
		if (same_bytes(res.object, t->file, &same, err) != 0) {
			storage_upload_result_free(&res);
			goto out;
		}
		if (!same) {
			storage_upload_result_free(&res);
			mv_err_set(err, MV_EXIT_CLOUD, "%s exists with other bytes "
			           "than %s; delete it (an object named after a "
			           "digest must hold those bytes)", t->url, t->file);
			goto out;
		}
	} else {
		char sz[32];
		mv_info("deliver: uploaded %s (%s)%s", t->url,
		        mv_human_bytes(res.sent, sz, sizeof(sz)),
		        res.resumed ? ", resuming the earlier session" : "");
	}
	gen = json_string_value(json_object_get(res.object, "generation"));
	if (gen != NULL)
		mv_state_set_str(rec, "generation", gen);
	if (r == 1 && meta_str(res.object, "meshvm-id") != NULL &&
	    !step_ours(ctx, meta_str(res.object, "meshvm-id")))
		mv_state_set_str(rec, "owner", meta_str(res.object, "meshvm-id"));
	storage_upload_result_free(&res);
	step_record_created(rec);
	rc = mv_state_save(ctx->state, err);
out:
	json_decref(meta);
	free(session);
	free(name);
	return rc;
}

static int
deliver_apply(struct plan_ctx *ctx, struct mv_err *err)
{
	struct target t;
	int r = target_of(ctx, &t, err), rc = -1;

	if (r != 0)
		return r < 0 ? -1
		             : mv_err_set(err, MV_EXIT_FAIL, "no bundle baked: run "
		                          "the bundle step first");
	if (ctx->dry_run) {
		target_free(&t);
		return 0;
	}
	if (ensure_bucket(ctx, &t, err) == 0 && grant_viewer(ctx, &t, err) == 0 &&
	    upload(ctx, &t, err) == 0)
		rc = 0;
	target_free(&t);
	return rc;
}

/*--- teardown ---------------------------------------------------------------*/

static int
object_owner(struct plan_ctx *ctx, const json_t *rec, char **id,
             struct mv_err *err)
{
	json_t *o = NULL;
	int r = storage_object_get(ctx->gcp, mv_state_str(rec, "bucket"),
	                           mv_state_str(rec, "object"), &o, err);

	if (r == 0) {
		const char *m = meta_str(o, "meshvm-id");
		*id = m ? mv_xstrdup(m) : NULL;
	}
	json_decref(o);
	return r;
}

static int
object_remove(struct plan_ctx *ctx, const json_t *rec, char **op,
              struct mv_err *err)
{
	*op = NULL;
	return storage_object_delete(ctx->gcp, mv_state_str(rec, "bucket"),
	                             mv_state_str(rec, "object"),
	                             mv_state_str(rec, "generation"), err);
}

static int
bucket_owner(struct plan_ctx *ctx, const json_t *rec, char **id,
             struct mv_err *err)
{
	json_t *b = NULL;
	int r = storage_bucket_get(ctx->gcp, mv_state_str(rec, "name"), &b, err);

	if (r == 0)
		*id = storage_bucket_id(b) ? mv_xstrdup(storage_bucket_id(b)) : NULL;
	json_decref(b);
	return r;
}

static int
bucket_remove(struct plan_ctx *ctx, const json_t *rec, char **op,
              struct mv_err *err)
{
	const char *name = mv_state_str(rec, "name");
	int r = storage_bucket_delete(ctx->gcp, name, err);

	*op = NULL;
	if (r == 2) {
		mv_warn("deliver: bucket gs://%s holds objects meshvm did not put "
		        "there; leaving it", name);
		return 1;
	}
	return r;
}

static int
never_pending(struct plan_ctx *ctx, const json_t *rec, const char *op,
              struct mv_err *err)
{
	(void)ctx;
	(void)rec;
	(void)op;
	(void)err;
	return 1;
}

static int
deliver_destroy(struct plan_ctx *ctx, struct mv_err *err)
{
	static const struct step_deleter objects = {
		"object", "deliver:", DELIVER_DEADLINE_MS, object_owner,
		object_remove, never_pending};
	static const struct step_deleter buckets = {
		"bucket", "deliver:", DELIVER_DEADLINE_MS, bucket_owner,
		bucket_remove, never_pending};
	char *session = delivery_session_file(ctx);

	/* a session a killed run left: its bytes go too */
	if (!ctx->dry_run && storage_upload_cancel(ctx->gcp, session, err) != 0) {
		free(session);
		return -1;
	}
	free(session);
	if (step_destroy_records(ctx, &objects, err) != 0)
		return -1;
	return step_destroy_records(ctx, &buckets, err);
}

static int
deliver_status(struct plan_ctx *ctx, json_t *rows, struct mv_err *err)
{
	const char *key;
	json_t *rec;

	json_object_foreach(mv_state_resources(ctx->state), key, rec) {
		const char *name = mv_state_str(rec, "name");
		bool obj = step_record_is(key, rec, "object");
		int r;
		if (name == NULL || (!obj && !step_record_is(key, rec, "bucket")))
			continue;
		r = obj ? storage_object_get(ctx->gcp, mv_state_str(rec, "bucket"),
		                             mv_state_str(rec, "object"), NULL, err)
		        : storage_bucket_get(ctx->gcp, name, NULL, err);
		if (r < 0)
			return -1;
		json_array_append_new(rows, json_pack(
			"{s:s, s:s, s:s, s:s?}", "kind", obj ? "object" : "bucket",
			"name", obj ? mv_state_str(rec, "url") ? mv_state_str(rec, "url")
			                                       : name
			            : name,
			"status", r ? "ABSENT" : "PRESENT", "digest",
			obj ? mv_state_str(rec, "digest") : NULL));
	}
	return 0;
}

/* For adopt: buckets labelled with a meshvm-id (meshvm made them), and in
 * every bucket of the project the objects under meshvm/ that carry one. */
static int
deliver_discover(struct plan_ctx *ctx, json_t *found, struct mv_err *err)
{
	json_t *buckets = NULL, *b;
	size_t i;

	if (storage_bucket_list(ctx->gcp, &buckets, err) != 0)
		return -1;
	json_array_foreach(buckets, i, b) {
		const char *name = json_string_value(json_object_get(b, "name"));
		const char *id = storage_bucket_id(b);
		json_t *objs = NULL, *o;
		size_t k;
		if (name == NULL)
			continue;
		if (id != NULL) {
			char *key = step_record_key("bucket", NULL, name);
			json_array_append_new(found, json_pack(
				"{s:s, s:s, s:{s:s, s:s, s:s}}", "id", id, "key", key,
				"record", "kind", "bucket", "name", name, "phase",
				"created"));
			free(key);
		}
		if (storage_object_list(ctx->gcp, name, "meshvm/", &objs, err) != 0) {
			json_decref(buckets);
			return -1;
		}
		json_array_foreach(objs, k, o) {
			const char *on = json_string_value(json_object_get(o, "name"));
			const char *oid = meta_str(o, "meshvm-id");
			const char *dg = meta_str(o, "meshvm-digest");
			const char *gen = json_string_value(json_object_get(o,
			                                                    "generation"));
			char *rname, *key, *url;
			if (on == NULL || oid == NULL || dg == NULL)
				continue;
			rname = mv_xstrfmt("%s/%s", name, on);
			key = step_record_key("object", NULL, rname);
			url = mv_xstrfmt("gs://%s", rname);
			json_array_append_new(found, json_pack(
				"{s:s, s:s, s:{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s?}}",
				"id", oid, "key", key, "record", "kind", "object", "name",
				rname, "phase", "created", "url", url, "digest", dg,
				"bucket", name, "object", on, "generation", gen));
			free(rname);
			free(key);
			free(url);
		}
		json_decref(objs);
	}
	json_decref(buckets);
	return 0;
}

const struct plan_step step_deliver = {
	.name = "deliver",
	.summary = "upload the VM bundle to Cloud Storage (bucket, IAM, "
	           "resumable upload)",
	.after = (const char *const[]){"bundle", NULL},
	.check = deliver_check,
	.apply = deliver_apply,
	.destroy = deliver_destroy,
	.status = deliver_status,
	.discover = deliver_discover,
};
