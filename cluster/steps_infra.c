/* cluster/steps_infra.c - steps `clusters` and `firewall` (seed scripts 1,
 * 2 and 12): both GKE clusters created in parallel, then the firewall
 * rules between the clusters' pods and the VM. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cluster/compute.h"
#include "cluster/gcp_auth.h"
#include "cluster/gke.h"
#include "cluster/kubeconfig.h"
#include "cluster/plan.h"
#include "core/http.h"
#include "core/log.h"
#include "core/progress.h"
#include "core/signal.h"

#define CLUSTER_DEADLINE_MS (45L * 60 * 1000)
#define FIREWALL_DEADLINE_MS (10L * 60 * 1000)

static long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static long
deadline(struct plan_ctx *ctx, long real_ms)
{
	/* Under MESHVM_TIMING=fast the fake finishes in a few polls. */
	return mv_http_get_timing(ctx->gcp->http)->poll_ms < 100 ? 60000 : real_ms;
}

/*--- clusters ------------------------------------------------------------*/

static char *
cluster_key(const char *name)
{
	return mv_strfmt("cluster/%s", name);
}

static char *
node_tag(const char *cluster)
{
	return mv_strfmt("%s-node", cluster);
}

static char *
kubeconfig_path(struct plan_ctx *ctx)
{
	return mv_strfmt("%s/kubeconfig", mv_state_dir(ctx->state));
}

static int
not_ours(struct plan_ctx *ctx, const char *what, const char *name,
         const char *their_id, struct mv_err *err)
{
	return mv_err_set(err, MV_EXIT_CLOUD,
	                  "%s %s exists but is not this deployment's (its "
	                  "meshvm-id is %s, ours %s); refusing to adopt it: "
	                  "delete or rename it, or use its own state", what,
	                  name, their_id && their_id[0] ? their_id : "absent",
	                  mv_state_id(ctx->state));
}

static const char *
cluster_machine_type(const json_t *cl)
{
	const char *m = json_string_value(json_object_get(
		json_object_get(json_array_get(json_object_get(cl, "nodePools"), 0),
		                "config"), "machineType"));

	return m ? m : json_string_value(json_object_get(
		json_object_get(cl, "nodeConfig"), "machineType"));
}

static json_int_t
cluster_nodes(const json_t *cl)
{
	json_t *pool = json_array_get(json_object_get(cl, "nodePools"), 0);
	json_t *n = json_object_get(pool, "initialNodeCount");

	if (!json_is_integer(n))
		n = json_object_get(cl, "currentNodeCount");
	return json_integer_value(n);
}

/* Copy what later steps need from a live cluster into its record. */
static void
record_cluster(json_t *rec, const json_t *cl)
{
	static const char *const fields[] = {"endpoint", "clusterIpv4Cidr",
	                                     "servicesIpv4Cidr", "status",
	                                     "currentMasterVersion", NULL};

	for (size_t i = 0; fields[i]; i++) {
		json_t *v = json_object_get(cl, fields[i]);
		if (json_is_string(v))
			json_object_set(rec, fields[i], v);
	}
	mv_state_set_str(rec, "caCertificate",
	                 json_string_value(json_object_get(
		                 json_object_get(cl, "masterAuth"),
		                 "clusterCaCertificate")));
	mv_state_set_str(rec, "phase", "created");
	json_object_del(rec, "operation");
}

static int
clusters_check(struct plan_ctx *ctx, struct step_check *out,
               struct mv_err *err)
{
	const struct mv_config *cfg = ctx->cfg;
	bool all_created = true;

	for (size_t i = 0; i < cfg->n_clusters; i++) {
		const struct mv_cluster_config *c = &cfg->clusters[i];
		char *key = cluster_key(c->name);
		json_t *rec = mv_state_get(ctx->state, key), *cl = NULL;
		int rc = gke_cluster_get(ctx->gcp, c->zone, c->name, &cl, err);

		free(key);
		if (rc < 0)
			return -1;
		if (rc == 1) {
			const char *op = mv_state_str(rec, "operation");
			all_created = false;
			if (op != NULL)
				step_action(out, "wait for operation %s (create cluster "
				            "%s, in flight)", op, c->name);
			else
				step_action(out, "create cluster %s (%s, %d × %s, nodes "
				            "tagged %s-node)", c->name, c->zone, c->nodes,
				            c->machine_type, c->name);
			continue;
		}
		const char *id = gke_cluster_meshvm_id(cl);
		if (id == NULL || strcmp(id, mv_state_id(ctx->state)) != 0) {
			int r = not_ours(ctx, "cluster", c->name, id, err);
			json_decref(cl);
			return r;
		}
		const char *status = json_string_value(json_object_get(cl, "status"));
		if (status == NULL || strcmp(status, "RUNNING") != 0) {
			all_created = false;
			if (status != NULL && (!strcmp(status, "ERROR") ||
			                       !strcmp(status, "DEGRADED")))
				step_drift(out, "cluster %s is %s", c->name, status);
			else
				step_action(out, "wait for cluster %s to be RUNNING (now "
				            "%s)", c->name, status ? status : "?");
		} else {
			const char *mt = cluster_machine_type(cl);
			json_int_t nodes = cluster_nodes(cl);
			if (mt != NULL && strcmp(mt, c->machine_type) != 0)
				step_drift(out, "cluster %s runs %s nodes, config says %s",
				           c->name, mt, c->machine_type);
			if (nodes > 0 && nodes != c->nodes)
				step_drift(out, "cluster %s has %lld nodes, config says %d",
				           c->name, (long long)nodes, c->nodes);
			if (rec == NULL ||
			    strcmp(mv_state_str(rec, "phase") ? mv_state_str(rec, "phase")
			                                      : "", "created") != 0) {
				all_created = false;
				step_action(out, "record cluster %s in the state",
				            c->name);
			}
		}
		json_decref(cl);
	}
	if (all_created) {
		char *kc = kubeconfig_path(ctx);
		if (access(kc, R_OK) != 0)
			step_action(out, "write %s", kc);
		free(kc);
	}
	return 0;
}

struct tracked {
	const struct mv_cluster_config *c;
	char *key;
	char *op;        /* operation to poll, or NULL: poll the cluster */
	bool waiting;
	bool failed;
	struct mv_err err;
};

static int
create_cluster(struct plan_ctx *ctx, struct tracked *t, struct mv_err *err)
{
	const struct mv_cluster_config *c = t->c;
	char *tag = node_tag(c->name);
	struct gke_cluster_spec spec = {c->name, c->zone, c->machine_type,
	                                c->nodes, c->network, tag,
	                                mv_state_id(ctx->state)};
	json_t *rec = mv_state_put(ctx->state, t->key, "cluster");
	int rc = -1;

	mv_state_set_str(rec, "name", c->name);
	mv_state_set_str(rec, "zone", c->zone);
	mv_state_set_str(rec, "phase", "intent");
	json_object_del(rec, "operation");
	if (mv_state_save(ctx->state, err) != 0)
		goto out;
	for (int attempt = 0; attempt < 3; attempt++) {
		bool unknown = false;
		char *op = NULL;
		json_t *cl = NULL;
		int r = gke_cluster_create(ctx->gcp, &spec, &op, &unknown, err);

		if (r == 0) {
			t->op = op;
			t->waiting = true;
			mv_state_set_str(rec, "operation", op);
			mv_state_set_str(rec, "phase", "pending");
			rc = mv_state_save(ctx->state, err);
			goto out;
		}
		if (r < 0 && !unknown)
			goto out; /* refused (quota, permission, bad request) */
		/* Exists already (409) or the outcome is unknown: read back. */
		r = gke_cluster_get(ctx->gcp, c->zone, c->name, &cl, err);
		if (r < 0)
			goto out;
		if (r == 0) {
			const char *id = gke_cluster_meshvm_id(cl);
			if (id == NULL || strcmp(id, mv_state_id(ctx->state)) != 0) {
				rc = not_ours(ctx, "cluster", c->name, id, err);
				json_decref(cl);
				goto out;
			}
			json_decref(cl);
			mv_info("clusters: %s: create went through; waiting for it",
			        c->name);
			t->waiting = true;
			mv_state_set_str(rec, "phase", "pending");
			rc = mv_state_save(ctx->state, err);
			goto out;
		}
		mv_warn("clusters: %s: create had no answer and the cluster is "
		        "absent; sending it again", c->name);
	}
out:
	free(tag);
	return rc;
}

static void
progress_line(struct mv_progress *p, struct tracked *t, size_t n,
              json_t **status)
{
	char line[512];
	size_t o = 0;

	line[0] = '\0';
	for (size_t i = 0; i < n; i++)
		o += (size_t)snprintf(line + o, sizeof(line) - o, "%s%s %s",
		                      i ? ", " : "", t[i].c->name,
		                      t[i].failed ? "FAILED"
		                      : !t[i].waiting ? "RUNNING"
		                      : status[i] ? json_string_value(status[i])
		                                  : "PROVISIONING");
	mv_progress_state(p, line);
}

static int
write_kubeconfig(struct plan_ctx *ctx, struct mv_err *err)
{
	const struct mv_config *cfg = ctx->cfg;
	const char *token = NULL;
	json_t *kc = kubeconfig_new();
	char *path = kubeconfig_path(ctx);
	int rc;

	if (ctx->gcp->auth != NULL && gcp_auth_is_explicit(ctx->gcp->auth) &&
	    gcp_auth_token(ctx->gcp->auth, &token, err) != 0) {
		json_decref(kc);
		free(path);
		return -1;
	}
	for (size_t i = 0; i < cfg->n_clusters; i++) {
		char *key = cluster_key(cfg->clusters[i].name);
		char *ctxname = mv_config_context_name(cfg, &cfg->clusters[i]);
		json_t *rec = mv_state_get(ctx->state, key);
		kubeconfig_add_cluster(kc, ctxname, mv_state_str(rec, "endpoint"),
		                       mv_state_str(rec, "caCertificate"), token);
		free(ctxname);
		free(key);
	}
	rc = kubeconfig_write(path, kc, err);
	if (rc == 0)
		mv_info("clusters: wrote %s (contexts gke_%s_ZONE_NAME)", path,
		        cfg->project);
	json_decref(kc);
	free(path);
	return rc;
}

static int
clusters_apply(struct plan_ctx *ctx, struct mv_err *err)
{
	const struct mv_config *cfg = ctx->cfg;
	size_t n = cfg->n_clusters;
	struct tracked *t = calloc(n, sizeof(*t));
	json_t **status = calloc(n, sizeof(json_t *));
	struct mv_progress *prog = NULL;
	long start = now_ms(), limit = deadline(ctx, CLUSTER_DEADLINE_MS);
	int rc = -1, failures = 0;

	if (t == NULL || status == NULL) {
		free(t);
		free(status);
		return mv_err_set(err, MV_EXIT_FAIL, "out of memory");
	}
	/* 1: get every cluster going (or find it going already). */
	for (size_t i = 0; i < n; i++) {
		json_t *rec, *cl = NULL;
		int r;

		t[i].c = &cfg->clusters[i];
		t[i].key = cluster_key(t[i].c->name);
		mv_err_clear(&t[i].err);
		rec = mv_state_get(ctx->state, t[i].key);
		r = gke_cluster_get(ctx->gcp, t[i].c->zone, t[i].c->name, &cl, err);
		if (r < 0)
			goto out;
		if (r == 0) {
			const char *id = gke_cluster_meshvm_id(cl);
			const char *st = json_string_value(json_object_get(cl, "status"));
			if (id == NULL || strcmp(id, mv_state_id(ctx->state)) != 0) {
				not_ours(ctx, "cluster", t[i].c->name, id, err);
				json_decref(cl);
				goto out;
			}
			rec = mv_state_put(ctx->state, t[i].key, "cluster");
			mv_state_set_str(rec, "name", t[i].c->name);
			mv_state_set_str(rec, "zone", t[i].c->zone);
			if (st != NULL && !strcmp(st, "RUNNING")) {
				record_cluster(rec, cl);
			} else {
				t[i].waiting = true;
				if (mv_state_str(rec, "operation") != NULL) {
					t[i].op = strdup(mv_state_str(rec, "operation"));
					mv_info("clusters: %s: resuming operation %s",
					        t[i].c->name, t[i].op);
				} else {
					mv_info("clusters: %s is %s; waiting for it",
					        t[i].c->name, st ? st : "?");
				}
				mv_state_set_str(rec, "phase", "pending");
			}
			json_decref(cl);
			if (mv_state_save(ctx->state, err) != 0)
				goto out;
			continue;
		}
		if (rec != NULL && mv_state_str(rec, "operation") != NULL) {
			/* Resume: the create was accepted before; wait for it. */
			t[i].op = strdup(mv_state_str(rec, "operation"));
			t[i].waiting = true;
			mv_info("clusters: %s: resuming operation %s", t[i].c->name,
			        t[i].op);
			continue;
		}
		if (create_cluster(ctx, &t[i], &t[i].err) != 0) {
			/* Keep going so the others finish and are recorded; report
			 * this one at the end. */
			t[i].failed = true;
			failures++;
			mv_error("clusters: %s: %s", t[i].c->name, t[i].err.msg);
		}
	}

	/* 2: wait for all of them together. */
	if (ctx->progress)
		prog = mv_progress_new("clusters:", 0);
	for (;;) {
		bool pending = false;
		for (size_t i = 0; i < n; i++) {
			json_t *op = NULL, *cl = NULL, *rec;
			int r;

			if (!t[i].waiting || t[i].failed)
				continue;
			if (t[i].op != NULL) {
				if (gke_operation_get(ctx->gcp, t[i].c->zone, t[i].op, &op,
				                      err) != 0)
					goto out;
				r = gke_operation_state(op, &t[i].err);
				json_decref(status[i]);
				status[i] = json_incref(json_object_get(op, "status"));
				json_decref(op);
				if (r == 0) {
					pending = true;
					continue;
				}
				if (r < 0) {
					t[i].failed = true;
					failures++;
					mv_error("clusters: %s: %s", t[i].c->name, t[i].err.msg);
					continue;
				}
			}
			r = gke_cluster_get(ctx->gcp, t[i].c->zone, t[i].c->name, &cl,
			                    err);
			if (r < 0)
				goto out;
			if (r == 1) {
				mv_err_set(&t[i].err, MV_EXIT_CLOUD,
				           "cluster %s vanished after its create finished",
				           t[i].c->name);
				t[i].failed = true;
				failures++;
				continue;
			}
			const char *st = json_string_value(json_object_get(cl, "status"));
			if (st == NULL || strcmp(st, "RUNNING") != 0) {
				if (st != NULL && !strcmp(st, "ERROR")) {
					mv_err_set(&t[i].err, MV_EXIT_CLOUD,
					           "cluster %s ended in ERROR: %s", t[i].c->name,
					           json_string_value(json_object_get(
						           cl, "statusMessage")));
					t[i].failed = true;
					failures++;
				} else {
					pending = true;
					free(t[i].op);
					t[i].op = NULL; /* op done; wait on the cluster */
				}
				json_decref(cl);
				continue;
			}
			rec = mv_state_put(ctx->state, t[i].key, "cluster");
			record_cluster(rec, cl);
			json_decref(cl);
			t[i].waiting = false;
			if (mv_state_save(ctx->state, err) != 0)
				goto out;
			mv_info("clusters: %s RUNNING at %s", t[i].c->name,
			        mv_state_str(rec, "endpoint"));
		}
		progress_line(prog, t, n, status);
		if (!pending)
			break;
		if (now_ms() - start > limit) {
			mv_err_set(err, MV_EXIT_CLOUD,
			           "clusters not RUNNING after %ld minutes; rerun `meshvm "
			           "up` to keep waiting", limit / 60000);
			goto out;
		}
		if (!mv_sleep_ms(mv_http_get_timing(ctx->gcp->http)->poll_ms)) {
			mv_err_set(err, MV_EXIT_INTERRUPTED,
			           "interrupted while waiting; the state records the "
			           "operations, rerun `meshvm up` to resume");
			goto out;
		}
	}
	mv_progress_free(prog);
	prog = NULL;
	if (failures > 0) {
		for (size_t i = 0; i < n; i++)
			if (t[i].failed) {
				*err = t[i].err;
				break;
			}
		goto out;
	}
	rc = write_kubeconfig(ctx, err);
out:
	mv_progress_free(prog);
	for (size_t i = 0; i < n; i++) {
		free(t[i].key);
		free(t[i].op);
		json_decref(status[i]);
	}
	free(status);
	free(t);
	return rc;
}

static int
clusters_destroy(struct plan_ctx *ctx, struct mv_err *err)
{
	const struct mv_config *cfg = ctx->cfg;
	char **ops = calloc(cfg->n_clusters, sizeof(char *));
	long start = now_ms(), limit = deadline(ctx, CLUSTER_DEADLINE_MS);
	int rc = -1;

	if (ops == NULL)
		return mv_err_set(err, MV_EXIT_FAIL, "out of memory");
	for (size_t i = cfg->n_clusters; i-- > 0;) {
		const struct mv_cluster_config *c = &cfg->clusters[i];
		char *key = cluster_key(c->name);
		json_t *rec = mv_state_get(ctx->state, key), *cl = NULL;
		int r;

		if (rec == NULL) {
			free(key);
			continue;
		}
		r = gke_cluster_get(ctx->gcp, c->zone, c->name, &cl, err);
		if (r < 0) {
			free(key);
			goto out;
		}
		if (r == 0) {
			const char *id = gke_cluster_meshvm_id(cl);
			if (id == NULL || strcmp(id, mv_state_id(ctx->state)) != 0) {
				mv_warn("clusters: %s belongs to another deployment (meshvm-id "
				        "%s); leaving it alone", c->name, id ? id : "absent");
				r = 1;
			}
			json_decref(cl);
		}
		if (r == 0) {
			r = gke_cluster_delete(ctx->gcp, c->zone, c->name, &ops[i], err);
			if (r < 0) {
				free(key);
				goto out;
			}
			mv_info("clusters: deleting %s", c->name);
		}
		if (r == 1) { /* gone already */
			mv_state_del(ctx->state, key);
			if (mv_state_save(ctx->state, err) != 0) {
				free(key);
				goto out;
			}
		}
		free(key);
	}
	for (;;) {
		bool pending = false;
		for (size_t i = 0; i < cfg->n_clusters; i++) {
			json_t *op = NULL;
			int r;
			if (ops[i] == NULL)
				continue;
			if (gke_operation_get(ctx->gcp, cfg->clusters[i].zone, ops[i], &op,
			                      err) != 0)
				goto out;
			r = gke_operation_state(op, err);
			json_decref(op);
			if (r < 0)
				goto out;
			if (r == 0) {
				pending = true;
				continue;
			}
			char *key = cluster_key(cfg->clusters[i].name);
			mv_state_del(ctx->state, key);
			free(key);
			free(ops[i]);
			ops[i] = NULL;
			if (mv_state_save(ctx->state, err) != 0)
				goto out;
		}
		if (!pending)
			break;
		if (now_ms() - start > limit) {
			mv_err_set(err, MV_EXIT_CLOUD, "cluster deletes not done after "
			           "%ld minutes", limit / 60000);
			goto out;
		}
		if (!mv_sleep_ms(mv_http_get_timing(ctx->gcp->http)->poll_ms)) {
			mv_err_set(err, MV_EXIT_INTERRUPTED, "interrupted");
			goto out;
		}
	}
	{
		char *kc = kubeconfig_path(ctx);
		unlink(kc);
		free(kc);
	}
	rc = 0;
out:
	for (size_t i = 0; i < cfg->n_clusters; i++)
		free(ops[i]);
	free(ops);
	return rc;
}

const struct plan_step step_clusters = {
	"clusters",
	"GKE clusters (created in parallel), and .meshvm/kubeconfig",
	(const char *const[]){NULL},
	clusters_check,
	clusters_apply,
	clusters_destroy,
};

/*--- firewall ------------------------------------------------------------*/

struct rule {
	char *name;
	json_t *body; /* the insert body */
};

static const char *const mesh_ports[] = {"15012", "15017", "15443", NULL};

/* The rules the config asks for. Pod ranges come from the live clusters;
 * a cluster that does not exist yet yields a NULL body. */
static int
desired_rules(struct plan_ctx *ctx, struct rule **out, size_t *n_out,
              struct mv_err *err)
{
	const struct mv_config *cfg = ctx->cfg;
	size_t n = cfg->n_clusters * 2, k = 0;
	struct rule *r = calloc(n, sizeof(*r));
	char port[16];

	if (r == NULL)
		return mv_err_set(err, MV_EXIT_FAIL, "out of memory");
	snprintf(port, sizeof(port), "%d", cfg->service.port);
	for (size_t i = 0; i < cfg->n_clusters; i++) {
		const struct mv_cluster_config *c = &cfg->clusters[i];
		json_t *cl = NULL, *tags = json_array(), *ports = json_array();
		char *net = mv_strfmt("global/networks/%s", cfg->vm.network);
		char *link = compute_link(ctx->gcp, net);
		int rc = gke_cluster_get(ctx->gcp, c->zone, c->name, &cl, err);
		const char *cidr;

		free(net);
		if (rc < 0) {
			json_decref(tags);
			json_decref(ports);
			free(link);
			for (size_t j = 0; j < k; j++) {
				free(r[j].name);
				json_decref(r[j].body);
			}
			free(r);
			return -1;
		}
		cidr = json_string_value(json_object_get(cl, "clusterIpv4Cidr"));
		for (size_t t = 0; t < cfg->vm.n_tags; t++)
			json_array_append_new(tags, json_string(cfg->vm.tags[t]));
		/* pods of the cluster → the VM's tag on the service port */
		r[k].name = mv_strfmt("%s-to-%s", c->name, cfg->vm.name);
		if (cidr != NULL)
			r[k].body = json_pack(
				"{s:s,s:s,s:s,s:s,s:[{s:s,s:[s]}],s:[s],s:O}", "name",
				r[k].name, "description",
				"", "network", link, "direction", "INGRESS",
				"allowed", "IPProtocol", "tcp", "ports", port, "sourceRanges",
				cidr, "targetTags", tags);
		k++;
		/* the VM → the cluster's nodes (east-west gateway, istiod) */
		r[k].name = mv_strfmt("%s-to-%s", cfg->vm.name, c->name);
		for (size_t p = 0; mesh_ports[p]; p++)
			json_array_append_new(ports, json_string(mesh_ports[p]));
		{
			char *ntag = node_tag(c->name);
			char *cnet = mv_strfmt("global/networks/%s", c->network);
			char *clink = compute_link(ctx->gcp, cnet);
			r[k].body = json_pack(
				"{s:s,s:s,s:s,s:s,s:[{s:s,s:O}],s:O,s:[s]}", "name",
				r[k].name, "description", "", "network", clink,
				"direction", "INGRESS", "allowed", "IPProtocol", "tcp",
				"ports", ports, "sourceTags", tags, "targetTags", ntag);
			free(ntag);
			free(cnet);
			free(clink);
		}
		k++;
		json_decref(tags);
		json_decref(ports);
		json_decref(cl);
		free(link);
	}
	for (size_t i = 0; i < k; i++)
		if (r[i].body != NULL) {
			char *d = mv_strfmt("meshvm-id=%s: %s", mv_state_id(ctx->state),
			                  i % 2 == 0 ? "cluster pods to the VM's service "
			                               "port"
			                             : "the VM to the cluster's east-west "
			                               "gateway and istiod");
			json_object_set_new(r[i].body, "description", json_string(d));
			free(d);
		}
	*out = r;
	*n_out = k;
	return 0;
}

static void
free_rules(struct rule *r, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(r[i].name);
		json_decref(r[i].body);
	}
	free(r);
}

static bool
rule_owned(struct plan_ctx *ctx, const json_t *fw, char *their, size_t len)
{
	const char *d = json_string_value(json_object_get(fw, "description"));
	const char *p = d ? strstr(d, "meshvm-id=") : NULL;
	size_t n = 0;

	their[0] = '\0';
	if (p == NULL)
		return false;
	p += 10;
	while (p[n] && p[n] != ':' && p[n] != ' ' && n < len - 1)
		n++;
	snprintf(their, len, "%.*s", (int)n, p);
	return strcmp(their, mv_state_id(ctx->state)) == 0;
}

/* Compare the fields we set; describe the first difference. */
static bool
rule_matches(const json_t *want, const json_t *have, char *why, size_t len)
{
	static const char *const fields[] = {"sourceRanges", "sourceTags",
	                                     "targetTags", "allowed", "direction",
	                                     NULL};

	for (size_t i = 0; fields[i]; i++) {
		json_t *w = json_object_get(want, fields[i]);
		json_t *h = json_object_get(have, fields[i]);
		if (w == NULL)
			continue;
		if (h == NULL || !json_equal(w, h)) {
			char *ws = json_dumps(w, JSON_COMPACT);
			char *hs = h ? json_dumps(h, JSON_COMPACT) : strdup("absent");
			snprintf(why, len, "%s is %s, config says %s", fields[i], hs, ws);
			free(ws);
			free(hs);
			return false;
		}
	}
	return true;
}

static int
firewall_check(struct plan_ctx *ctx, struct step_check *out,
               struct mv_err *err)
{
	struct rule *r;
	size_t n;

	if (desired_rules(ctx, &r, &n, err) != 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		json_t *fw = NULL;
		char their[64], why[512];
		int rc = compute_firewall_get(ctx->gcp, r[i].name, &fw, err);

		if (rc < 0) {
			free_rules(r, n);
			return -1;
		}
		if (rc == 1) {
			if (r[i].body == NULL)
				step_action(out, "create firewall rule %s (once its "
				            "cluster's pod range is known)", r[i].name);
			else
				step_action(out, "create firewall rule %s", r[i].name);
			continue;
		}
		if (!rule_owned(ctx, fw, their, sizeof(their))) {
			int e = not_ours(ctx, "firewall rule", r[i].name, their, err);
			json_decref(fw);
			free_rules(r, n);
			return e;
		}
		if (r[i].body != NULL && !rule_matches(r[i].body, fw, why, sizeof(why))) {
			step_drift(out, "firewall rule %s: %s", r[i].name, why);
		} else {
			char *key = mv_strfmt("firewall/%s", r[i].name);
			if (mv_state_get(ctx->state, key) == NULL)
				step_action(out, "record firewall rule %s in the state",
				            r[i].name);
			free(key);
		}
		json_decref(fw);
	}
	free_rules(r, n);
	return 0;
}

static int
firewall_apply(struct plan_ctx *ctx, struct mv_err *err)
{
	long limit = deadline(ctx, FIREWALL_DEADLINE_MS);
	struct rule *r;
	size_t n;
	int rc = -1;

	if (desired_rules(ctx, &r, &n, err) != 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		char *key = mv_strfmt("firewall/%s", r[i].name), their[64], why[512];
		json_t *rec = mv_state_get(ctx->state, key), *fw = NULL;
		int got;

		if (r[i].body == NULL) {
			mv_err_set(err, MV_EXIT_FAIL, "firewall rule %s needs its "
			           "cluster: run the clusters step first", r[i].name);
			free(key);
			goto out;
		}
		/* Resume an accepted insert. */
		if (rec != NULL && mv_state_str(rec, "operation") != NULL &&
		    strcmp(mv_state_str(rec, "phase"), "created") != 0) {
			if (compute_operation_wait(ctx->gcp, NULL,
			                           mv_state_str(rec, "operation"), limit,
			                           err) != 0) {
				free(key);
				goto out;
			}
		}
		got = compute_firewall_get(ctx->gcp, r[i].name, &fw, err);
		if (got < 0) {
			free(key);
			goto out;
		}
		if (got == 0) {
			if (!rule_owned(ctx, fw, their, sizeof(their))) {
				not_ours(ctx, "firewall rule", r[i].name, their, err);
				json_decref(fw);
				free(key);
				goto out;
			}
			bool same = rule_matches(r[i].body, fw, why, sizeof(why));
			json_decref(fw);
			if (same) {
				rec = mv_state_put(ctx->state, key, "firewall");
				mv_state_set_str(rec, "name", r[i].name);
				mv_state_set_str(rec, "phase", "created");
				json_object_del(rec, "operation");
				free(key);
				if (mv_state_save(ctx->state, err) != 0)
					goto out;
				continue;
			}
			/* Drifted: replace it (delete, then insert below). */
			char *op = NULL;
			mv_info("firewall: %s drifted (%s); replacing it", r[i].name, why);
			if (compute_firewall_delete(ctx->gcp, r[i].name, &op, err) < 0 ||
			    (op != NULL &&
			     compute_operation_wait(ctx->gcp, NULL, op, limit, err) != 0)) {
				free(op);
				free(key);
				goto out;
			}
			free(op);
		}
		rec = mv_state_put(ctx->state, key, "firewall");
		mv_state_set_str(rec, "name", r[i].name);
		mv_state_set_str(rec, "phase", "intent");
		json_object_del(rec, "operation");
		if (mv_state_save(ctx->state, err) != 0) {
			free(key);
			goto out;
		}
		for (int attempt = 0;; attempt++) {
			bool unknown = false;
			char *op = NULL;
			int ins = compute_firewall_insert(ctx->gcp, r[i].body, &op,
			                                  &unknown, err);
			if (ins == 0) {
				mv_state_set_str(rec, "operation", op);
				mv_state_set_str(rec, "phase", "pending");
				if (mv_state_save(ctx->state, err) != 0 ||
				    compute_operation_wait(ctx->gcp, NULL, op, limit, err) != 0) {
					free(op);
					free(key);
					goto out;
				}
				free(op);
				break;
			}
			if ((ins < 0 && !unknown) || attempt >= 2) {
				free(key);
				goto out;
			}
			/* 409 or unknown outcome: read it back. */
			got = compute_firewall_get(ctx->gcp, r[i].name, &fw, err);
			if (got < 0) {
				free(key);
				goto out;
			}
			if (got == 0) {
				bool mine = rule_owned(ctx, fw, their, sizeof(their));
				json_decref(fw);
				if (!mine) {
					not_ours(ctx, "firewall rule", r[i].name, their, err);
					free(key);
					goto out;
				}
				break;
			}
		}
		mv_state_set_str(rec, "phase", "created");
		json_object_del(rec, "operation");
		free(key);
		if (mv_state_save(ctx->state, err) != 0)
			goto out;
		mv_info("firewall: %s created", r[i].name);
	}
	rc = 0;
out:
	free_rules(r, n);
	return rc;
}

static int
firewall_destroy(struct plan_ctx *ctx, struct mv_err *err)
{
	json_t *res = mv_state_resources(ctx->state), *rec;
	long limit = deadline(ctx, FIREWALL_DEADLINE_MS);
	const char *key;
	void *tmp;

	json_object_foreach_safe(res, tmp, key, rec) {
		const char *name = mv_state_str(rec, "name");
		json_t *fw = NULL;
		char their[64], *op = NULL;
		int got;

		if (strncmp(key, "firewall/", 9) != 0 || name == NULL)
			continue;
		got = compute_firewall_get(ctx->gcp, name, &fw, err);
		if (got < 0)
			return -1;
		if (got == 0) {
			bool mine = rule_owned(ctx, fw, their, sizeof(their));
			json_decref(fw);
			if (!mine) {
				mv_warn("firewall: %s belongs to another deployment "
				        "(meshvm-id %s); leaving it alone", name,
				        their[0] ? their : "absent");
			} else {
				mv_info("firewall: deleting %s", name);
				got = compute_firewall_delete(ctx->gcp, name, &op, err);
				if (got < 0)
					return -1;
				if (op != NULL &&
				    compute_operation_wait(ctx->gcp, NULL, op, limit, err) != 0) {
					free(op);
					return -1;
				}
				free(op);
			}
		}
		json_object_del(res, key);
		if (mv_state_save(ctx->state, err) != 0)
			return -1;
	}
	return 0;
}

const struct plan_step step_firewall = {
	"firewall",
	"firewall rules: cluster pods → VM service port, VM → cluster nodes",
	(const char *const[]){"clusters", NULL},
	firewall_check,
	firewall_apply,
	firewall_destroy,
};
