/* cluster/steps/bundle.c - step `bundle`: bake the VM bundle (bake/,
 * meshvm-bundle/1) from service.image, service.sidecar, service.units and
 * the identity files in .meshvm/identity, into .meshvm/bundle/.
 *
 * The compression comes from the image table for vm.image (zstd only
 * where the stock image has zstd); the runtime is systemd: the image is
 * flattened and runs with no container runtime, which no usable image in
 * the table has (cloudinit/images.h: only the refused COS does).  Entries
 * are dated SOURCE_DATE_EPOCH (else 0), so the same inputs give the same
 * bytes: the record keeps a digest of the inputs, and a rerun with the
 * same inputs and the same file on disk bakes nothing.  The identity
 * files carry no token (tokens are minted at launch) and the bundle spec
 * refuses any file beyond the four it names.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bake/bundle.h"
#include "cloudinit/images.h"
#include "cluster/delivery.h"
#include "cluster/step.h"
#include "core/log.h"
#include "core/sha256.h"
#include "core/xalloc.h"

static const char *const id_files[] = {"cluster.env", "hosts", "mesh.yaml",
                                       "root-cert.pem"};
#define N_ID (sizeof(id_files) / sizeof(id_files[0]))

struct baking {
	char *spec;   /* the bundle spec (JSON, a YAML document) */
	char *file;   /* .meshvm/bundle/bundle.tar.* */
	char *inputs; /* sha256 hex of everything that makes the bytes */
	enum bundle_compress compress;
	const char *compression; /* its name */
	int64_t epoch;
};

static void
baking_free(struct baking *b)
{
	free(b->spec);
	free(b->file);
	free(b->inputs);
}

static char *
bundle_dir(const struct plan_ctx *ctx)
{
	return mv_xstrfmt("%s/bundle", mv_state_dir(ctx->state));
}

static char *
identity_dir(const struct plan_ctx *ctx)
{
	return mv_xstrfmt("%s/identity", mv_state_dir(ctx->state));
}

/* Why the step cannot bake yet (a static string), or NULL. */
static const char *
missing_input(const struct plan_ctx *ctx)
{
	char *p;
	bool have;

	if (ctx->cfg->service.image == NULL || ctx->cfg->service.sidecar == NULL)
		return "service.image and service.sidecar in meshvm.yaml";
	p = mv_xstrfmt("%s/identity/cluster.env", mv_state_dir(ctx->state));
	have = access(p, R_OK) == 0;
	free(p);
	return have ? NULL : "the identity files (the identity step)";
}

static char *
abs_path(const struct plan_ctx *ctx, const char *p)
{
	return mv_path_join(ctx->cfg->dir, p);
}

/* Hash one input file into h as "LABEL PATH SHA256\n". */
static int
hash_input(struct mv_sha256 *h, const char *label, const char *path,
           struct mv_err *err)
{
	char hex[MV_SHA256_HEX], *line;

	if (mv_sha256_file_hex(path, hex, NULL, NULL, err) != 0)
		return -1;
	line = mv_xstrfmt("%s %s %s\n", label, path, hex);
	mv_sha256_update(h, line, strlen(line));
	free(line);
	return 0;
}

static int
baking_prepare(const struct plan_ctx *ctx, struct baking *b,
               struct mv_err *err)
{
	const struct mv_config *cfg = ctx->cfg;
	struct bake_options opt;
	json_t *spec, *units = json_array();
	char *idd = identity_dir(ctx), *dir = bundle_dir(ctx), *img, *side;
	struct mv_sha256 h;
	char hex[MV_SHA256_HEX], *line;
	int rc = -1;

	memset(b, 0, sizeof(*b));
	bake_options_init(&opt);
	b->epoch = opt.source_date_epoch;
	b->compress = images_compression(images_lookup(cfg->vm.image));
	b->compression = b->compress == BUNDLE_ZSTD   ? "zstd"
	                 : b->compress == BUNDLE_GZIP ? "gzip"
	                                              : "none";
	img = abs_path(ctx, cfg->service.image);
	side = abs_path(ctx, cfg->service.sidecar);
	for (size_t i = 0; i < cfg->service.n_units; i++)
		json_array_append_new(units, json_string_nocheck(
			cfg->service.units[i]));
	spec = json_pack("{s:{s:s, s:s, s:i, s:s}, s:s, s:s, s:s, s:o, s:s}",
	                 "service", "name", cfg->service.name, "namespace",
	                 cfg->service.namespace_, "port", cfg->service.port,
	                 "protocol", cfg->service.protocol, "sidecar", side,
	                 "image", img, "identity", idd, "units", units, "runtime",
	                 "systemd");
	b->spec = json_dumps(spec, JSON_SORT_KEYS | JSON_INDENT(1));
	json_decref(spec);
	b->file = mv_xstrfmt("%s/bundle%s", dir,
	                     b->compress == BUNDLE_ZSTD   ? ".tar.zst"
	                     : b->compress == BUNDLE_GZIP ? ".tar.gz"
	                                                  : ".tar");
	if (b->spec == NULL) {
		mv_err_set(err, MV_EXIT_FAIL, "service: a path is not valid UTF-8");
		goto out;
	}
	if (mv_sha256_init(&h) != 0) {
		mv_err_set(err, MV_EXIT_FAIL, "sha256: cannot start");
		goto out;
	}
	line = mv_xstrfmt("%s\n%s\ncompression %s\nepoch %lld\n", BUNDLE_FORMAT,
	                  b->spec, b->compression, (long long)b->epoch);
	mv_sha256_update(&h, line, strlen(line));
	free(line);
	if (hash_input(&h, "image", img, err) != 0 ||
	    hash_input(&h, "sidecar", side, err) != 0)
		goto fail;
	for (size_t i = 0; i < cfg->service.n_units; i++) {
		char *u = abs_path(ctx, cfg->service.units[i]);
		int r = hash_input(&h, "unit", u, err);
		free(u);
		if (r != 0)
			goto fail;
	}
	for (size_t i = 0; i < N_ID; i++) {
		char *p = mv_xstrfmt("%s/%s", idd, id_files[i]);
		int r = hash_input(&h, "identity", p, err);
		free(p);
		if (r != 0)
			goto fail;
	}
	mv_sha256_final_hex(&h, hex);
	b->inputs = mv_xstrdup(hex);
	rc = 0;
	goto out;
fail:
	mv_sha256_discard(&h);
	mv_err_prefix(err, "bundle inputs");
out:
	free(idd);
	free(dir);
	free(img);
	free(side);
	return rc;
}

/* Is the recorded bundle the one these inputs make, still on disk? */
static bool
up_to_date(const struct plan_ctx *ctx, const struct baking *b)
{
	json_t *rec = delivery_bundle_record(ctx);
	const char *d = mv_state_str(rec, "digest");
	const char *in = mv_state_str(rec, "inputs");
	const char *f = mv_state_str(rec, "file");
	char hex[MV_SHA256_HEX];
	struct mv_err e = {0};
	bool same;

	if (d == NULL || in == NULL || f == NULL || strcmp(in, b->inputs) != 0 ||
	    strcmp(f, b->file) != 0 || strncmp(d, "sha256:", 7) != 0)
		return false;
	same = mv_sha256_file_hex(f, hex, NULL, NULL, &e) == 0 && strcmp(hex, d + 7) == 0;
	mv_err_clear(&e);
	return same;
}

static int
bundle_check(struct plan_ctx *ctx, struct step_check *out, struct mv_err *err)
{
	const char *missing = missing_input(ctx);
	struct baking b;

	if (missing != NULL) {
		step_action(out, "bake the VM bundle into %s/bundle/ (needs %s)",
		            mv_state_dir(ctx->state), missing);
		return 0;
	}
	if (baking_prepare(ctx, &b, err) != 0)
		return -1;
	if (!up_to_date(ctx, &b))
		step_action(out, "bake the VM bundle into %s (%s)", b.file,
		            b.compression);
	baking_free(&b);
	return 0;
}

static int
bundle_apply(struct plan_ctx *ctx, struct mv_err *err)
{
	const char *missing = missing_input(ctx);
	struct bundle_spec *spec = NULL;
	struct bake_options opt;
	struct bake_result res;
	struct baking b;
	char *dir, digest[8 + MV_SHA256_HEX];
	json_t *rec;
	int rc = -1;

	if (missing != NULL)
		return mv_err_set(err, MV_EXIT_USAGE, "baking the VM bundle needs "
		                  "%s", missing);
	if (baking_prepare(ctx, &b, err) != 0)
		return -1;
	if (up_to_date(ctx, &b) || ctx->dry_run) {
		baking_free(&b);
		return 0;
	}
	if (bundle_spec_parse(ctx->cfg->path, b.spec, strlen(b.spec),
	                      ctx->cfg->dir, &spec, err) != 0) {
		mv_err_prefix(err, "service (the bundle's inputs)");
		goto out;
	}
	dir = bundle_dir(ctx);
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		mv_err_sys(err, errno, "%s", dir);
		free(dir);
		goto out;
	}
	free(dir);
	bake_options_init(&opt);
	opt.compress = b.compress;
	opt.source_date_epoch = b.epoch;
	opt.progress = ctx->progress;
	opt.runtime = "systemd";
	if (bundle_bake(spec, b.file, &opt, &res, err) != 0) {
		mv_err_prefix(err, "baking %s", b.file);
		goto out;
	}
	snprintf(digest, sizeof(digest), "sha256:%s", res.sha256);
	rec = step_record_put(ctx, "bundle", NULL, "bundle");
	mv_state_set_str(rec, "digest", digest);
	mv_state_set_str(rec, "file", b.file);
	json_object_set_new(rec, "size", json_integer((json_int_t)res.size));
	mv_state_set_str(rec, "inputs", b.inputs);
	mv_state_set_str(rec, "compression", b.compression);
	step_record_created(rec);
	if (mv_state_save(ctx->state, err) != 0)
		goto out;
	mv_info("bundle: %s (%s, %llu bytes)", b.file, digest,
	        (unsigned long long)res.size);
	rc = 0;
out:
	bundle_spec_free(spec);
	baking_free(&b);
	return rc;
}

static int
bundle_destroy(struct plan_ctx *ctx, struct mv_err *err)
{
	json_t *rec = delivery_bundle_record(ctx);
	const char *f = mv_state_str(rec, "file");
	char *dir = bundle_dir(ctx), *key;

	if (ctx->dry_run) {
		free(dir);
		return 0;
	}
	if (f != NULL && unlink(f) != 0 && errno != ENOENT) {
		mv_err_sys(err, errno, "%s", f);
		free(dir);
		return -1;
	}
	(void)rmdir(dir);
	free(dir);
	if (rec != NULL) {
		key = step_record_key("bundle", NULL, "bundle");
		mv_state_del(ctx->state, key);
		free(key);
		return mv_state_save(ctx->state, err);
	}
	return 0;
}

static int
bundle_status(struct plan_ctx *ctx, json_t *rows, struct mv_err *err)
{
	json_t *rec = delivery_bundle_record(ctx);
	const char *f = mv_state_str(rec, "file");
	const char *d = mv_state_str(rec, "digest");
	struct stat st;

	(void)err;
	if (rec == NULL || f == NULL)
		return 0;
	json_array_append_new(rows, json_pack(
		"{s:s, s:s, s:s, s:s?}", "kind", "bundle", "name", f, "status",
		stat(f, &st) == 0 ? "present" : "missing", "digest", d));
	return 0;
}

const struct plan_step step_bundle = {
	.name = "bundle",
	.summary = "bake the VM bundle (service image, sidecar, units, identity)",
	.after = (const char *const[]){"identity", NULL},
	.check = bundle_check,
	.apply = bundle_apply,
	.destroy = bundle_destroy,
	.status = bundle_status,
};
