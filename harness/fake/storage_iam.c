/* harness/fake/storage_iam.c - a bucket's IAM policy (the JSON API's
 * buckets.getIamPolicy and setIamPolicy): a new bucket starts with the
 * project roles the real service grants (legacyBucketOwner to the
 * project's owners and editors, legacyBucketReader to its viewers); a set
 * replaces the bindings, checks the etag it carries (412 when stale) and
 * answers the policy with a new etag.  Kept in the table "bucket_iam"
 * (storage.c drops a deleted bucket's). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base64.h"
#include "harness/fake/svc.h"

static void
set_etag(json_t *pol, long long version)
{
	unsigned char b[8];
	char *e;

	for (int i = 0; i < 8; i++)
		b[i] = (unsigned char)(version >> (8 * (7 - i)));
	e = mv_base64_encode(b, sizeof(b));
	json_object_set_new(pol, "etag", json_string(e ? e : "CAE="));
	free(e);
}

/* The bucket's policy (borrowed), made with the defaults on first use;
 * NULL (404 answered) when the bucket does not exist. */
static json_t *
policy_of(struct fake *f, struct fresp *rs, const char *bucket)
{
	json_t *b = json_object_get(fake_db(f, "buckets"), bucket);
	json_t *t = fake_db(f, "bucket_iam"), *pol;
	char num[24], owners[48], editors[48], viewers[48];

	if (b == NULL) {
		resp_gerr(rs, 404, "notFound", "The specified bucket does not "
		          "exist.");
		return NULL;
	}
	pol = json_object_get(t, bucket);
	if (pol != NULL)
		return pol;
	snprintf(num, sizeof(num), "%s", fake_jstr(b, "projectNumber"));
	snprintf(owners, sizeof(owners), "projectOwner:%s", num);
	snprintf(editors, sizeof(editors), "projectEditor:%s", num);
	snprintf(viewers, sizeof(viewers), "projectViewer:%s", num);
	pol = json_pack("{s:s, s:s, s:i, s:[{s:s, s:[s, s]}, {s:s, s:[s]}]}",
	                "kind", "storage#policy", "resourceId", "", "version", 1,
	                "bindings", "role", "roles/storage.legacyBucketOwner",
	                "members", editors, owners, "role",
	                "roles/storage.legacyBucketReader", "members", viewers);
	{
		char rid[320];
		snprintf(rid, sizeof(rid), "projects/_/buckets/%s", bucket);
		json_object_set_new(pol, "resourceId", json_string(rid));
	}
	json_object_set_new(pol, "meshvm_version", json_integer(1));
	set_etag(pol, 1);
	json_object_set_new(t, bucket, pol);
	return pol;
}

static json_t *
public_view(const json_t *pol)
{
	json_t *out = json_deep_copy(pol);

	json_object_del(out, "meshvm_version");
	return out;
}

static void
iam_get(struct fake *f, struct freq *rq, struct fresp *rs)
{
	json_t *pol = policy_of(f, rs, rq->cap[0]);

	if (pol != NULL)
		resp_json(rs, 200, public_view(pol));
}

static bool
member_ok(const char *m)
{
	static const char *const kinds[] = {
		"user:", "serviceAccount:", "group:", "domain:", "projectOwner:",
		"projectEditor:", "projectViewer:", "principal:", "principalSet:",
		NULL};

	if (!strcmp(m, "allUsers") || !strcmp(m, "allAuthenticatedUsers"))
		return true;
	for (size_t i = 0; kinds[i]; i++)
		if (!strncmp(m, kinds[i], strlen(kinds[i])) &&
		    m[strlen(kinds[i])] != '\0')
			return true;
	return false;
}

static void
iam_set(struct fake *f, struct freq *rq, struct fresp *rs)
{
	json_t *pol = policy_of(f, rs, rq->cap[0]), *bindings, *b, *m, *np;
	const char *etag = fake_jstr(rq->json, "etag");
	long long v;
	size_t i, j;

	if (pol == NULL)
		return;
	if (!json_is_object(rq->json)) {
		resp_gerr(rs, 400, "parseError", "The policy is not a JSON object.");
		return;
	}
	if (*etag != '\0' && strcmp(etag, fake_jstr(pol, "etag")) != 0) {
		resp_gerr(rs, 412, "conditionNotMet", "At least one of the "
		          "pre-conditions you specified did not hold.");
		return;
	}
	bindings = json_object_get(rq->json, "bindings");
	if (bindings != NULL && !json_is_array(bindings)) {
		resp_gerr(rs, 400, "invalid", "bindings must be a list.");
		return;
	}
	json_array_foreach(bindings, i, b) {
		const char *role = fake_jstr(b, "role");
		if (strncmp(role, "roles/", 6) != 0 ||
		    !json_is_array(json_object_get(b, "members"))) {
			resp_gerr(rs, 400, "invalid", "Binding %zu: a role "
			          "(roles/...) and a list of members are required.", i);
			return;
		}
		json_array_foreach(json_object_get(b, "members"), j, m) {
			if (!json_is_string(m) || !member_ok(json_string_value(m))) {
				resp_gerr(rs, 400, "invalid", "Invalid argument: member "
				          "'%.80s' of %s.", json_is_string(m)
				          ? json_string_value(m) : "?", role);
				return;
			}
		}
	}
	v = json_integer_value(json_object_get(pol, "meshvm_version")) + 1;
	np = json_pack("{s:s, s:O, s:i, s:o, s:I}", "kind", "storage#policy",
	               "resourceId", json_object_get(pol, "resourceId"),
	               "version", json_is_integer(json_object_get(rq->json,
	                                                          "version"))
	                       ? (int)json_integer_value(json_object_get(rq->json,
	                                                                 "version"))
	                       : 1,
	               "bindings", bindings ? json_deep_copy(bindings)
	                                    : json_array(),
	               "meshvm_version", (json_int_t)v);
	set_etag(np, v);
	json_object_set_new(fake_db(f, "bucket_iam"), rq->cap[0], np);
	resp_json(rs, 200, public_view(np));
}

const struct route storage_iam_routes[] = {
	{"GET", "/storage/v1/b/{}/iam", iam_get, R_AUTH, NULL},
	{"PUT", "/storage/v1/b/{}/iam", iam_set, R_AUTH | R_JSON, NULL},
	{NULL, NULL, NULL, 0, NULL},
};
