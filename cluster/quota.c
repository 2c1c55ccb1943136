/* cluster/quota.c - see quota.h. */
#include "cluster/quota.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Predefined machine types: family, kind, the sizes it comes in.  Shared
 * core e2 types count as 2 vCPUs against quota, as Compute counts them. */
static const struct family {
	const char *family, *kind;
	const char *metric;
	int sizes[12];
} families[] = {
	{"n1", "standard", "CPUS", {1, 2, 4, 8, 16, 32, 64, 96}},
	{"n1", "highmem", "CPUS", {2, 4, 8, 16, 32, 64, 96}},
	{"n1", "highcpu", "CPUS", {2, 4, 8, 16, 32, 64, 96}},
	{"e2", "standard", "CPUS", {2, 4, 8, 16, 32}},
	{"e2", "highmem", "CPUS", {2, 4, 8, 16}},
	{"e2", "highcpu", "CPUS", {2, 4, 8, 16, 32}},
	{"n2", "standard", "N2_CPUS", {2, 4, 8, 16, 32, 48, 64, 80, 96, 128}},
	{"n2", "highmem", "N2_CPUS", {2, 4, 8, 16, 32, 48, 64, 80, 96, 128}},
	{"n2", "highcpu", "N2_CPUS", {2, 4, 8, 16, 32, 48, 64, 80, 96}},
};

static const struct {
	const char *name;
	int vcpus;
} shared_core[] = {
	{"e2-micro", 2}, {"e2-small", 2}, {"e2-medium", 2},
};

static const struct family *
lookup(const char *mt, int *vcpus)
{
	for (size_t i = 0; i < sizeof(shared_core) / sizeof(shared_core[0]); i++)
		if (mt && !strcmp(mt, shared_core[i].name)) {
			*vcpus = shared_core[i].vcpus;
			return &families[3]; /* e2-standard: the CPUS metric */
		}
	for (size_t i = 0; mt && i < sizeof(families) / sizeof(families[0]); i++) {
		const struct family *f = &families[i];
		size_t fl = strlen(f->family), kl = strlen(f->kind);
		char *end;
		long n;

		if (strncmp(mt, f->family, fl) || mt[fl] != '-' ||
		    strncmp(mt + fl + 1, f->kind, kl) || mt[fl + 1 + kl] != '-')
			continue;
		n = strtol(mt + fl + kl + 2, &end, 10);
		if (*end != '\0' || end == mt + fl + kl + 2)
			return NULL;
		for (size_t j = 0; j < 12 && f->sizes[j]; j++)
			if (f->sizes[j] == n) {
				*vcpus = (int)n;
				return f;
			}
		return NULL;
	}
	return NULL;
}

int
quota_machine_vcpus(const char *machine_type)
{
	int v = -1;

	return lookup(machine_type, &v) ? v : -1;
}

const char *
quota_cpu_metric(const char *machine_type)
{
	int v;
	const struct family *f = lookup(machine_type, &v);

	return f ? f->metric : NULL;
}

const char *
quota_region_of(const char *zone, char *buf, size_t len)
{
	const char *dash = zone ? strrchr(zone, '-') : NULL;
	size_t n = dash ? (size_t)(dash - zone) : (zone ? strlen(zone) : 0);

	if (n >= len)
		n = len - 1;
	memcpy(buf, zone ? zone : "", n);
	buf[n] = '\0';
	return buf;
}

static void
add(struct quota_needs *q, const char *scope, const char *metric,
    double amount, const char *why)
{
	struct quota_need *n = NULL;

	for (size_t i = 0; i < q->n; i++)
		if (!strcmp(q->v[i].scope, scope) && !strcmp(q->v[i].metric, metric))
			n = &q->v[i];
	if (n == NULL) {
		struct quota_need *nv = realloc(q->v, (q->n + 1) * sizeof(*nv));
		if (nv == NULL)
			abort(); /* the tree's policy: abort on out-of-memory */
		q->v = nv;
		n = &q->v[q->n++];
		memset(n, 0, sizeof(*n));
		snprintf(n->scope, sizeof(n->scope), "%s", scope);
		snprintf(n->metric, sizeof(n->metric), "%s", metric);
	}
	n->need += amount;
	if (why != NULL) {
		size_t used = strlen(n->why);
		snprintf(n->why + used, sizeof(n->why) - used, "%s%s",
		         used ? ", " : "", why);
	}
}

/* One group of machines: count × type in zone. */
static int
add_machines(struct quota_needs *q, const char *name, const char *zone,
             const char *mt, int count, int templates, struct mv_err *err)
{
	char region[64], why[96];
	int vcpus = quota_machine_vcpus(mt);

	if (vcpus < 0)
		return mv_err_set(err, MV_EXIT_FAIL,
		                  "%s: machine type %s is not one meshvm knows the "
		                  "vCPUs of (n1-, e2- and n2-standard/highmem/"
		                  "highcpu-N, e2-micro/small/medium)", name,
		                  mt ? mt : "(none)");
	quota_region_of(zone, region, sizeof(region));
	snprintf(why, sizeof(why), "%s %d × %s", name, count, mt);
	add(q, region, quota_cpu_metric(mt), (double)count * vcpus, why);
	add(q, region, "IN_USE_ADDRESSES", count, why);
	add(q, "global", "CPUS_ALL_REGIONS", (double)count * vcpus, why);
	add(q, "global", "INSTANCE_TEMPLATES", templates, name);
	return 0;
}

int
quota_needs_of(const struct mv_config *cfg, quota_exists_fn exists,
               void *arg, struct quota_needs *out, struct mv_err *err)
{
	struct quota_needs q = {0};

	for (size_t i = 0; i < cfg->n_clusters; i++) {
		const struct mv_cluster_config *c = &cfg->clusters[i];
		if (exists && exists(arg, "cluster", c->name))
			continue;
		/* one node pool: one instance template in its zone */
		if (add_machines(&q, c->name, c->zone, c->machine_type, c->nodes, 1,
		                 err) != 0)
			goto fail;
	}
	/* The VM counts once its zone is known (the launch step's key). */
	if (cfg->vm.name != NULL && cfg->vm.count > 0 && cfg->vm.zone != NULL &&
	    cfg->vm.zone[0] != '\0' &&
	    !(exists && exists(arg, "vm", cfg->vm.name))) {
		if (add_machines(&q, cfg->vm.name, cfg->vm.zone,
		                 cfg->vm.machine_type, cfg->vm.count, 1, err) != 0)
			goto fail;
	}
	/* regions first (config order), then the project-wide lines */
	for (size_t i = 0, j = 0; i < q.n; i++)
		if (strcmp(q.v[i].scope, "global") != 0) {
			struct quota_need t = q.v[i];
			memmove(&q.v[j + 1], &q.v[j], (i - j) * sizeof(t));
			q.v[j++] = t;
		}
	*out = q;
	return 0;
fail:
	free(q.v);
	memset(out, 0, sizeof(*out));
	return -1;
}

void
quota_needs_free(struct quota_needs *n)
{
	if (n == NULL)
		return;
	free(n->v);
	n->v = NULL;
	n->n = 0;
}

bool
quota_fits(const struct quota_need *n, const json_t *quotas,
           double *limit_out, double *usage_out)
{
	size_t i;
	json_t *q;

	*limit_out = -1;
	*usage_out = 0;
	json_array_foreach(quotas, i, q) {
		const char *m = json_string_value(json_object_get(q, "metric"));
		if (m == NULL || strcmp(m, n->metric) != 0)
			continue;
		*limit_out = json_number_value(json_object_get(q, "limit"));
		*usage_out = json_number_value(json_object_get(q, "usage"));
		return n->need <= *limit_out - *usage_out;
	}
	return true;
}
