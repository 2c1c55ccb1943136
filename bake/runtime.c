/* bake/runtime.c - how the VM runs the service, decided at bake time.
 *
 * systemd (the default): the image is flattened into image/rootfs.tar and
 * image/config.json; the VM runs it with RootDirectory= and needs no
 * container runtime.  docker, podman, containerd: image/image.tar as
 * given, loaded by that runtime and run by the bundle's units.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bake/bake_meta.h"
#include "bake/bundle_private.h"
#include "bake/flatten.h"
#include "core/atomic.h"
#include "core/util.h"

#define UNIT_MAX (1u << 20)

int
bundle_runtime_check(const char *s, struct mv_err *err)
{
	if (s != NULL && (!strcmp(s, "systemd") || !strcmp(s, "docker") ||
	                  !strcmp(s, "podman") || !strcmp(s, "containerd")))
		return 0;
	if (err != NULL)
		mv_err_set(err, MV_EXIT_USAGE, "runtime '%s' is not one of systemd, "
		           "docker, podman, containerd", s ? s : "");
	return -1;
}

/* The program an Exec*= value runs: prefixes (@-:+!|) and `env` skipped;
 * its base name into out. */
static void
exec_program(const char *v, char *out, size_t out_len)
{
	char tok[256];

	out[0] = '\0';
	for (int round = 0; round < 2; round++) {
		size_t n = 0;
		const char *base;
		while (*v == ' ' || *v == '\t')
			v++;
		while (*v && strchr("@-:+!|", *v))
			v++;
		while (*v && *v != ' ' && *v != '\t' && n + 1 < sizeof(tok))
			tok[n++] = *v++;
		tok[n] = '\0';
		base = strrchr(tok, '/') ? strrchr(tok, '/') + 1 : tok;
		snprintf(out, out_len, "%s", base);
		if (strcmp(base, "env") != 0)
			return;
	}
}

int
bundle_spec_check_runtime(const struct bundle_spec *spec, const char *runtime,
                          struct mv_err *err)
{
	static const char *const runners[] = {"docker", "podman", "ctr",
	                                      "nerdctl"};

	if (bundle_runtime_check(runtime, err) != 0)
		return -1;
	if (strcmp(runtime, "systemd") != 0) {
		if (spec->n_units == 0)
			return mv_err_set(err, MV_EXIT_FAIL, "%s: units: required with "
			                  "runtime %s (a unit runs the image)",
			                  spec->path, runtime);
		return 0;
	}
	for (size_t i = 0; i < spec->n_units; i++) {
		const char *base = strrchr(spec->units[i], '/');
		size_t sl = strlen(spec->service.name);
		base = base ? base + 1 : spec->units[i];
		/* the join generates <service>.service from image/config.json */
		if (!strncmp(base, spec->service.name, sl) &&
		    !strcmp(base + sl, ".service"))
			return mv_err_set(err, MV_EXIT_FAIL,
			                  "%s: units[%zu] %s: with runtime systemd the "
			                  "VM generates %s from the image; name the "
			                  "unit otherwise", spec->path, i,
			                  spec->units[i], base);
	}
	for (size_t i = 0; i < spec->n_units; i++) {
		size_t len;
		char *buf = mv_read_file(spec->units[i], UNIT_MAX, &len, err);
		char *line, *save = NULL;

		if (buf == NULL)
			return -1;
		for (line = strtok_r(buf, "\n", &save); line != NULL;
		     line = strtok_r(NULL, "\n", &save)) {
			char prog[256];
			const char *eq;
			while (*line == ' ' || *line == '\t')
				line++;
			eq = strchr(line, '=');
			if (strncmp(line, "Exec", 4) != 0 || eq == NULL)
				continue;
			exec_program(eq + 1, prog, sizeof(prog));
			for (size_t k = 0; k < sizeof(runners) / sizeof(runners[0]);
			     k++)
				if (!strcmp(prog, runners[k])) {
					mv_err_set(err, MV_EXIT_FAIL,
					           "%s: units[%zu] %s runs %s, but the runtime "
					           "is systemd: the service already runs from "
					           "image/rootfs.tar and would start twice "
					           "(drop the unit, or bake with --runtime "
					           "docker|podman|containerd)", spec->path, i,
					           spec->units[i], prog);
					free(buf);
					return -1;
				}
		}
		free(buf);
	}
	return 0;
}

struct counter {
	flatten_sink_fn sink; /* or NULL: count only */
	void *ud;
	uint64_t n;
};

static int
count_sink(void *ud, const void *buf, size_t len)
{
	struct counter *c = ud;

	c->n += len;
	return c->sink != NULL ? c->sink(c->ud, buf, len) : 0;
}

int
bake_flat_stream(const struct bake_entry *e, int64_t sde,
                 flatten_sink_fn sink, void *ud, struct mv_err *sink_err,
                 struct mv_err *err)
{
	struct counter c = {sink, ud, 0};
	struct flatten_result res;
	struct stat st;

	if (stat(e->src, &st) != 0 || !bake_same_file(&st, &e->st))
		return mv_err_set(err, MV_EXIT_FAIL, "%s: changed while baking "
		                  "(digest would be stale); bake again", e->src);
	if (flatten_stream(e->src, sde, false, count_sink, &c, sink_err, NULL,
	                   &res, err) != 0)
		return -1;
	if (c.n != e->size || stat(e->src, &st) != 0 ||
	    !bake_same_file(&st, &e->st))
		return mv_err_set(err, MV_EXIT_FAIL, "%s: changed while baking; "
		                  "bake again", e->src);
	return 0;
}

int
bake_stage_rootfs(const struct bundle_spec *spec, const char *out_path,
                  int64_t sde, char **dir, uint64_t *rootfs_size,
                  struct mv_err *err)
{
	struct flatten_result res;
	struct counter c = {NULL, NULL, 0};
	struct mv_err none;
	char *parent = mv_dirname(out_path), *tmpl, *config = NULL, *path;
	int rc;

	*dir = NULL;
	*rootfs_size = 0;
	mv_err_clear(&none);
	if (parent == NULL)
		return mv_err_set(err, MV_EXIT_FAIL, "out of memory");
	/* beside the output: the same filesystem, and cleaned up with it */
	tmpl = mv_strfmt("%s/.meshvm-rootfs.XXXXXX", parent);
	free(parent);
	if (tmpl == NULL)
		return mv_err_set(err, MV_EXIT_FAIL, "out of memory");
	if (mkdtemp(tmpl) == NULL) {
		rc = mv_err_sys(err, errno, "%s", tmpl);
		free(tmpl);
		return rc;
	}
	rc = flatten_stream(spec->image, sde, true, count_sink, &c, &none,
	                    &config, &res, err);
	if (rc == 0) {
		path = mv_strfmt("%s/config.json", tmpl);
		rc = path == NULL ? mv_err_set(err, MV_EXIT_FAIL, "out of memory")
		                  : mv_write_file_atomic(path, config,
		                                         strlen(config), 0644, err);
		free(path);
	}
	free(config);
	if (rc != 0) {
		bake_unstage_rootfs(tmpl);
		return -1;
	}
	*dir = tmpl;
	*rootfs_size = c.n;
	return 0;
}

void
bake_unstage_rootfs(char *dir)
{
	char *p;

	if (dir == NULL)
		return;
	if ((p = mv_strfmt("%s/rootfs.tar", dir)) != NULL) {
		unlink(p);
		free(p);
	}
	if ((p = mv_strfmt("%s/config.json", dir)) != NULL) {
		unlink(p);
		free(p);
	}
	rmdir(dir);
	free(dir);
}
