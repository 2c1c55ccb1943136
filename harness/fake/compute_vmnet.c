/* harness/fake/compute_vmnet.c - a VM's own listener, for booting a real
 * guest image against the fake (harness/e2e/gce-boot.sh, docs/fake.md).
 *
 * A real guest asks http://metadata.google.internal/computeMetadata/v1/
 * and cannot say which instance it is, so each booted VM gets its own
 * plain-HTTP listener on the fake's host:
 *
 *   POST /_fake/vms/NAME/listener  -> {"name", "url", "metadata_url",
 *                                      "storage_url"}  (the same one again
 *                                      on a repeat; 404 without instance)
 *
 * On it /computeMetadata/v1/... is NAME's metadata server (the transport
 * maps it to /vm/NAME/computeMetadata/v1/...), and Cloud Storage's JSON
 * API can be read (GET /storage/v1/..., /download/storage/v1/...) with
 * the VM's service-account token.  Nothing else answers there (404): the
 * guest must not reach the control API or another VM's metadata.  The
 * listeners live until the fake stops.
 */
#include <stdio.h>
#include <string.h>

#include "harness/fake/svc.h"

static void
vmnet_answer(struct fake *f, struct fresp *rs, const struct fake_vmnet *v)
{
	char url[128];

	snprintf(url, sizeof(url), "http://%s:%d", fst(f)->host,
	         fst(f)->net->port(v->l));
	resp_json(rs, 200, json_pack("{s:s, s:s, s:o, s:o}", "name", v->name,
	                             "url", url, "metadata_url",
	                             json_sprintf("%s/computeMetadata/v1", url),
	                             "storage_url",
	                             json_sprintf("%s/storage/v1", url)));
}

bool
vmnet_control(struct fake *f, struct freq *rq, struct fresp *rs)
{
	struct fake_vmnet *v;
	char key[512], lname[80];
	const char *name;
	struct mv_err err;

	if (rq->n_seg != 4 || strcmp(rq->seg[1], "vms") != 0 ||
	    strcmp(rq->seg[3], "listener") != 0)
		return false;
	name = rq->seg[2];
	if (strcmp(rq->method, "POST") != 0) {
		resp_header(rs, "Allow", "POST");
		resp_gerr(rs, 405, NULL, "Use POST.");
		return true;
	}
	if (!fake_name_ok(name, 63) ||
	    compute_find_instance(f, name, key, sizeof(key)) == NULL) {
		resp_gerr(rs, 404, "notFound", "No instance named '%s'.", name);
		return true;
	}
	for (size_t i = 0; i < fst(f)->n_vmnet; i++)
		if (!strcmp(fst(f)->vmnet[i].name, name)) {
			vmnet_answer(f, rs, &fst(f)->vmnet[i]);
			return true;
		}
	if (fst(f)->n_vmnet >= FAKE_MAX_VMNET || fst(f)->net == NULL ||
	    fst(f)->net->listen_plain == NULL) {
		resp_gerr(rs, 429, "rateLimitExceeded", "At most %d VM listeners.",
		          FAKE_MAX_VMNET);
		return true;
	}
	v = &fst(f)->vmnet[fst(f)->n_vmnet];
	snprintf(v->name, sizeof(v->name), "%s", name);
	snprintf(lname, sizeof(lname), FAKE_VM_LISTENER "%s", name);
	mv_err_clear(&err);
	if (fst(f)->net->listen_plain(f, lname, NULL, fst(f)->host, 0, &v->l,
	                              &err) != 0) {
		resp_gerr(rs, 500, NULL, "VM listener for %s: %s", name, err.msg);
		return true;
	}
	fst(f)->n_vmnet++;
	vmnet_answer(f, rs, v);
	return true;
}

bool
vmnet_path_ok(const struct freq *rq)
{
	const char *vm = rq->listener + strlen(FAKE_VM_LISTENER);

	if (rq->n_seg >= 3 && !strcmp(rq->seg[0], "vm") &&
	    !strcmp(rq->seg[1], vm) && !strcmp(rq->seg[2], "computeMetadata"))
		return true;
	if (strcmp(rq->method, "GET") != 0)
		return false;
	return (rq->n_seg >= 2 && !strcmp(rq->seg[0], "storage") &&
	        !strcmp(rq->seg[1], "v1")) ||
	       (rq->n_seg >= 3 && !strcmp(rq->seg[0], "download") &&
	        !strcmp(rq->seg[1], "storage") && !strcmp(rq->seg[2], "v1"));
}

void
vmnet_stop_all(struct fake *f)
{
	for (size_t i = 0; i < fst(f)->n_vmnet && fst(f)->net != NULL; i++)
		if (fst(f)->vmnet[i].l != NULL)
			fst(f)->net->stop(fst(f)->vmnet[i].l);
	fst(f)->n_vmnet = 0;
}
