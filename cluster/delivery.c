/* cluster/delivery.c - names and records shared by the bundle, deliver and
 * launch steps (see delivery.h). */
#include "cluster/delivery.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/compute.h"
#include "cluster/step.h"
#include "core/xalloc.h"

json_t *
delivery_bundle_record(const struct plan_ctx *ctx)
{
	return step_record_get(ctx, "bundle", NULL, "bundle");
}

int
delivery_bundle_ref(const struct plan_ctx *ctx, char **url, char **digest,
                    struct mv_err *err)
{
	json_t *b = delivery_bundle_record(ctx), *rec;
	const char *d = mv_state_str(b, "digest"), *key;

	*url = *digest = NULL;
	if (d == NULL)
		return mv_err_set(err, MV_EXIT_FAIL, "no bundle baked yet: run "
		                  "`meshvm up --until bundle` first");
	json_object_foreach(mv_state_resources(ctx->state), key, rec) {
		const char *u = mv_state_str(rec, "url");
		const char *p = mv_state_str(rec, "phase");
		if (step_record_is(key, rec, "object") && u != NULL &&
		    p != NULL && !strcmp(p, "created") &&
		    !strcmp(mv_state_str(rec, "digest") ? mv_state_str(rec, "digest")
		                                        : "", d)) {
			*url = mv_xstrdup(u);
			*digest = mv_xstrdup(d);
			return 0;
		}
	}
	return mv_err_set(err, MV_EXIT_FAIL, "bundle %s is not delivered yet: "
	                  "run `meshvm up --until deliver` first", d);
}

char *
delivery_bucket_name(const struct plan_ctx *ctx)
{
	const char *id = mv_state_id(ctx->state);
	char proj[40];
	size_t n;

	if (ctx->cfg->vm.bundle_bucket != NULL)
		return mv_xstrdup(ctx->cfg->vm.bundle_bucket);
	if (strncmp(id, "mv-", 3) == 0)
		id += 3;
	/* project ids are 6-30 of a-z0-9-: room for "-meshvm-" and 24 */
	snprintf(proj, sizeof(proj), "%.30s", ctx->cfg->project);
	n = strlen(proj);
	while (n > 0 && !isalnum((unsigned char)proj[n - 1]))
		proj[--n] = '\0';
	return mv_xstrfmt("%s-meshvm-%.24s", proj, id);
}

char *
delivery_object_name(const struct mv_config *cfg, const char *digest,
                     const char *compression)
{
	const char *hex = strncmp(digest, "sha256:", 7) == 0 ? digest + 7 : digest;
	const char *ext = !strcmp(compression, "zstd")   ? ".tar.zst"
	                  : !strcmp(compression, "gzip") ? ".tar.gz"
	                                                 : ".tar";

	return mv_xstrfmt("meshvm/%s/%s%s", cfg->service.name, hex, ext);
}

int
delivery_vm_service_account(struct plan_ctx *ctx, char **email,
                            struct mv_err *err)
{
	json_t *p = NULL;
	const char *sa;

	*email = NULL;
	if (compute_project_get(ctx->gcp, &p, err) != 0)
		return -1;
	sa = json_string_value(json_object_get(p, "defaultServiceAccount"));
	if (sa == NULL || strchr(sa, '@') == NULL) {
		json_decref(p);
		return mv_err_set(err, MV_EXIT_CLOUD, "project %s has no Compute "
		                  "Engine default service account (is the Compute "
		                  "Engine API enabled?)", ctx->gcp->project);
	}
	*email = mv_xstrdup(sa);
	json_decref(p);
	return 0;
}

char *
delivery_session_file(const struct plan_ctx *ctx)
{
	return mv_xstrfmt("%s/upload-session.json", mv_state_dir(ctx->state));
}
