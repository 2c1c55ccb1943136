/* harness/fake/kube_api.c - routing of Kubernetes API requests. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/fake/kube_private.h"

#define KUBE_MINOR "32"
#define KUBE_GIT_VERSION "v1.32.4-gke.1106006"

static void
kube_version(struct fresp *rs)
{
	resp_json(rs, 200,
	          json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}",
	                    "major", "1", "minor", KUBE_MINOR, "gitVersion",
	                    KUBE_GIT_VERSION, "gitCommit",
	                    "0000000000000000000000000000000000000000",
	                    "gitTreeState", "clean", "buildDate",
	                    "2025-05-01T00:00:00Z", "goVersion", "go1.23.6",
	                    "compiler", "gc", "platform", "linux/amd64"));
	snprintf(rs->ctype, sizeof(rs->ctype), "application/json");
}

void
kube_dispatch(struct fake *f, struct freq *rq, struct fresp *rs)
{
	(void)f;
	if (rq->too_large) {
		kube_err(rs, 413, NULL, NULL, "the request body is larger than "
		         "%zu bytes", FAKE_MAX_BODY);
		return;
	}
	if (rq->kc->removed) {
		kube_err(rs, 503, NULL, NULL, "the cluster is being deleted");
		return;
	}
	if (rq->n_seg == 1 && strcmp(rq->seg[0], "version") == 0 &&
	    strcmp(rq->method, "GET") == 0) {
		kube_version(rs);
		return;
	}
	kube_err(rs, 503, NULL, NULL, "the Kubernetes API of this cluster is "
	         "not served yet");
}
