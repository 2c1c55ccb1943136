/* harness/fake/metadata.c - the GCE metadata server as each simulated VM
 * sees it, under /vm/INSTANCE/computeMetadata/v1/, and the route of the
 * OAuth token endpoint.
 *
 * Like the real server it insists on "Metadata-Flavor: Google" (403
 * otherwise), answers with that header, serves text (or JSON with
 * ?alt=json / ?recursive=true), and mints access tokens for the VM's
 * default service account that the fake's APIs accept.  Software on a VM
 * finds it through MESHVM_METADATA_URL (default
 * http://metadata.google.internal/computeMetadata/v1).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "harness/fake/svc.h"

#define MD_PREFIX 4 /* vm, NAME, computeMetadata, v1 */

static void
md_text(struct fresp *rs, const char *s)
{
	resp_bytes(rs, 200, "application/text", s, strlen(s));
}

static void
md_json(struct fresp *rs, json_t *v)
{
	resp_json(rs, 200, v);
	snprintf(rs->ctype, sizeof(rs->ctype), "application/json");
}

static void
md_not_found(struct fresp *rs)
{
	static const char body[] = "<!DOCTYPE html>\n<html lang=en>\n"
	                           "<title>Error 404 (Not Found)!!1</title>\n"
	                           "<p><b>404.</b> That's an error.\n";
	resp_bytes(rs, 404, "text/html; charset=UTF-8", body,
	           sizeof(body) - 1);
}

static json_t *
attributes_map(json_t *items)
{
	json_t *m = json_object(), *it;
	size_t i;

	json_array_foreach(items, i, it)
		json_object_set(m, fake_jstr(it, "key"), json_object_get(it,
		                                                         "value"));
	return m;
}

/* GET /vm/NAME/computeMetadata/v1/... */
static void
metadata_get(struct fake *f, struct freq *rq, struct fresp *rs)
{
	const char *flavor = freq_header(rq, "Metadata-Flavor");
	const char *name = rq->cap[0];
	char key[512], project[256], zone[128], buf[1024], num[24];
	json_t *inst, *items;
	const char *s1, *s2, *s3, *s4;
	bool want_json;
	size_t n;

	rq->mutating = false;
	resp_header(rs, "Metadata-Flavor", "Google");
	if (flavor == NULL || strcmp(flavor, "Google") != 0 ||
	    freq_header(rq, "X-Forwarded-For") != NULL) {
		static const char msg[] = "Your client does not have permission "
		                          "to get URL /computeMetadata/v1/ from "
		                          "this server. Missing Metadata-Flavor:"
		                          "Google header.\n";
		resp_bytes(rs, 403, "text/html; charset=UTF-8", msg,
		           sizeof(msg) - 1);
		return;
	}
	inst = compute_find_instance(f, name, key, sizeof(key));
	if (inst == NULL) {
		md_not_found(rs);
		return;
	}
	/* key is project/zone/name */
	snprintf(project, sizeof(project), "%.*s",
	         (int)(strchr(key, '/') - key), key);
	snprintf(zone, sizeof(zone), "%.*s",
	         (int)(strrchr(key, '/') - strchr(key, '/') - 1),
	         strchr(key, '/') + 1);
	fake_project_number(project, num, sizeof(num));
	want_json = (freq_arg(rq, "alt") && !strcmp(freq_arg(rq, "alt"),
	                                            "json")) ||
	            (freq_arg(rq, "recursive") &&
	             !strcmp(freq_arg(rq, "recursive"), "true"));
	n = rq->n_seg - MD_PREFIX;
	s1 = n > 0 ? rq->seg[MD_PREFIX] : "";
	s2 = n > 1 ? rq->seg[MD_PREFIX + 1] : "";
	s3 = n > 2 ? rq->seg[MD_PREFIX + 2] : "";
	s4 = n > 3 ? rq->seg[MD_PREFIX + 3] : "";
	items = json_object_get(json_object_get(inst, "metadata"), "items");
	if (!strcmp(s1, "project") && n == 2 && !strcmp(s2, "project-id")) {
		md_text(rs, project);
	} else if (!strcmp(s1, "project") && n == 2 &&
	           !strcmp(s2, "numeric-project-id")) {
		md_text(rs, num);
	} else if (strcmp(s1, "instance") != 0) {
		md_not_found(rs);
	} else if (n == 2 && !strcmp(s2, "attributes")) {
		json_t *m = attributes_map(items);
		if (want_json) {
			md_json(rs, m);
		} else {
			const char *k;
			json_t *v;
			size_t len = 0;
			buf[0] = '\0';
			json_object_foreach(m, k, v)
				len += (size_t)snprintf(buf + len, len < sizeof(buf) ?
				                        sizeof(buf) - len : 0, "%s\n", k);
			json_decref(m);
			md_text(rs, buf);
		}
	} else if (n == 3 && !strcmp(s2, "attributes")) {
		json_t *m = attributes_map(items), *v = json_object_get(m, s3);
		if (json_is_string(v))
			resp_bytes(rs, 200, "application/text", json_string_value(v),
			           json_string_length(v));
		else
			md_not_found(rs);
		json_decref(m);
	} else if (n == 2 && !strcmp(s2, "hostname")) {
		snprintf(buf, sizeof(buf), "%s.%s.c.%s.internal", name, zone,
		         project);
		md_text(rs, buf);
	} else if (n == 2 && !strcmp(s2, "id")) {
		md_text(rs, fake_jstr(inst, "id"));
	} else if (n == 2 && !strcmp(s2, "name")) {
		md_text(rs, name);
	} else if (n == 2 && !strcmp(s2, "zone")) {
		snprintf(buf, sizeof(buf), "projects/%s/zones/%s", num, zone);
		md_text(rs, buf);
	} else if (n == 2 && !strcmp(s2, "machine-type")) {
		snprintf(buf, sizeof(buf), "projects/%s/machineTypes/%s", num,
		         fake_basename(fake_jstr(inst, "machineType")));
		md_text(rs, buf);
	} else if (n == 2 && !strcmp(s2, "tags")) {
		json_t *t = json_object_get(json_object_get(inst, "tags"), "items");
		md_json(rs, json_is_array(t) ? json_incref(t) : json_array());
	} else if (n == 4 && !strcmp(s2, "network-interfaces") &&
	           (!strcmp(s4, "ip") || !strcmp(s4, "network"))) {
		json_t *nic = json_array_get(json_object_get(inst,
		                                             "networkInterfaces"),
		                             strtoul(s3, NULL, 10));
		if (nic == NULL || (s3[0] < '0' || s3[0] > '9'))
			md_not_found(rs);
		else if (!strcmp(s4, "ip"))
			md_text(rs, fake_jstr(nic, "networkIP"));
		else {
			snprintf(buf, sizeof(buf), "projects/%s/networks/default", num);
			md_text(rs, buf);
		}
	} else if (n == 4 && !strcmp(s2, "service-accounts") &&
	           !strcmp(s3, "default") &&
	           (!strcmp(s4, "token") || !strcmp(s4, "email"))) {
		char email[96];
		snprintf(email, sizeof(email), "%s-compute@developer."
		         "gserviceaccount.com", num);
		if (!strcmp(s4, "email")) {
			md_text(rs, email);
		} else {
			char *tok = auth_issue_token(f, email, 3600);
			md_json(rs, json_pack("{s:s, s:i, s:s}", "access_token",
			                      tok ? tok : "", "expires_in", 3599,
			                      "token_type", "Bearer"));
			free(tok);
		}
	} else {
		md_not_found(rs);
	}
}

const struct route metadata_routes[] = {
	{"GET", "/vm/{}/computeMetadata/v1/**", metadata_get, R_READONLY, NULL},
	{"POST", "/token", auth_token_endpoint, R_READONLY, NULL},
	{NULL, NULL, NULL, 0, NULL},
};
