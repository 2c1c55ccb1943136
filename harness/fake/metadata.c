/* harness/fake/metadata.c - the GCE metadata server as each simulated VM
 * sees it, under /vm/INSTANCE/computeMetadata/v1/ (a VM's own listener,
 * POST /_fake/vms/NAME/listener, serves it at /computeMetadata/v1/ as
 * Google's does), and the route of the OAuth token endpoint.
 *
 * Like the real server it insists on "Metadata-Flavor: Google" (403
 * otherwise) and answers with that header.  The instance's metadata is
 * one tree walked by the path: a leaf answers text (a JSON value with
 * ?alt=json); a directory lists its entries one a line ("sub/" for a
 * subdirectory) or, with ?recursive=true (any case: cloud-init's GCE
 * datasource asks "recursive=True") or ?alt=json, answers the subtree as
 * JSON, built-in names in camelCase as Google's server writes them and
 * attribute keys as set.  Access tokens for the VM's service account are
 * minted per request (never part of a dump); the fake's APIs accept
 * them.  Software on a VM finds the server through MESHVM_METADATA_URL
 * (default http://metadata.google.internal/computeMetadata/v1).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/util.h"
#include "harness/fake/svc.h"

#define MD_PREFIX 4 /* vm, NAME, computeMetadata, v1 */

static void
md_text(struct fresp *rs, const char *s, size_t n)
{
	resp_bytes(rs, 200, "application/text", s, n);
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
		if (json_is_string(json_object_get(it, "value")))
			json_object_set(m, fake_jstr(it, "key"),
			                json_object_get(it, "value"));
	return m;
}

/* The VM's service account: the instance's, else the project's default. */
static void
sa_email(json_t *inst, const char *num, char *out, size_t len)
{
	json_t *sa = json_array_get(json_object_get(inst, "serviceAccounts"), 0);
	const char *e = fake_jstr(sa, "email");

	if (strchr(e, '@') != NULL)
		snprintf(out, len, "%s", e);
	else
		snprintf(out, len, "%s-compute@developer.gserviceaccount.com", num);
}

static json_t *
nics_tree(json_t *inst, const char *num)
{
	json_t *nics = json_array(), *nic, *ac;
	size_t i, j;

	json_array_foreach(json_object_get(inst, "networkInterfaces"), i, nic) {
		json_t *acs = json_array();
		json_array_foreach(json_object_get(nic, "accessConfigs"), j, ac)
			json_array_append_new(acs, json_pack("{s:s, s:s}",
			                                     "external-ip",
			                                     fake_jstr(ac, "natIP"),
			                                     "type", "ONE_TO_ONE_NAT"));
		json_array_append_new(nics, json_pack(
			"{s:s, s:o, s:o, s:s}", "ip", fake_jstr(nic, "networkIP"),
			"access-configs", acs, "network",
			json_sprintf("projects/%s/networks/default", num), "mac",
			"42:01:0a:80:00:02"));
	}
	return nics;
}

/* The instance's and its project's metadata as one tree, GCE's names. */
static json_t *
md_tree(json_t *inst, const char *name, const char *key)
{
	char project[256], zone[128], num[24], email[160];
	const char *z0 = strchr(key, '/'), *z1 = strrchr(key, '/');
	json_t *tags, *scopes, *sa;

	/* key is project/zone/name */
	snprintf(project, sizeof(project), "%.*s", (int)(z0 - key), key);
	snprintf(zone, sizeof(zone), "%.*s", (int)(z1 - z0 - 1), z0 + 1);
	fake_project_number(project, num, sizeof(num));
	sa_email(inst, num, email, sizeof(email));
	sa = json_array_get(json_object_get(inst, "serviceAccounts"), 0);
	scopes = json_object_get(sa, "scopes");
	scopes = json_is_array(scopes)
	                 ? json_deep_copy(scopes)
	                 : json_pack("[s]", "https://www.googleapis.com/auth/"
	                                    "cloud-platform");
	tags = json_object_get(json_object_get(inst, "tags"), "items");
	return json_pack(
		"{s:{s:o, s:o, s:s, s:s, s:o, s:o, s:o, s:o, s:o},"
		" s:{s:o, s:s, s:s}}",
		"instance", "attributes",
		attributes_map(json_object_get(json_object_get(inst, "metadata"),
		                               "items")),
		"hostname", json_sprintf("%s.%s.c.%s.internal", name, zone, project),
		"id", fake_jstr(inst, "id"), "name", name, "zone",
		json_sprintf("projects/%s/zones/%s", num, zone), "machine-type",
		json_sprintf("projects/%s/machineTypes/%s", num,
		             fake_basename(fake_jstr(inst, "machineType"))),
		"tags", json_is_array(tags) ? json_deep_copy(tags) : json_array(),
		"network-interfaces", nics_tree(inst, num), "service-accounts",
		json_pack("{s:{s:s, s:[s], s:O}, s:{s:s, s:[s], s:o}}", "default",
		          "email", email, "aliases", "default", "scopes", scopes,
		          email, "email", email, "aliases", "default", "scopes",
		          scopes),
		"project", "attributes", json_object(), "project-id", project,
		"numeric-project-id", num);
}

/* A directory is an object or an array of objects; anything else
 * (strings, lists of strings such as tags or scopes) is a leaf. */
static bool
is_dir(const json_t *v)
{
	return json_is_object(v) ||
	       (json_is_array(v) && (json_array_size(v) == 0 ||
	                             json_is_object(json_array_get(v, 0))));
}

/* Google's recursive answers spell the built-in names in camelCase;
 * attribute keys (and service-account emails) stay as they are. */
static json_t *
camel(const json_t *v, bool verbatim_keys)
{
	json_t *out;
	const char *k;
	json_t *x;
	size_t i;

	if (json_is_array(v)) {
		out = json_array();
		json_array_foreach(v, i, x)
			json_array_append_new(out, camel(x, false));
		return out;
	}
	if (!json_is_object(v))
		return json_deep_copy(v);
	out = json_object();
	json_object_foreach((json_t *)v, k, x) {
		char buf[256];
		size_t n = 0;
		bool up = false;
		for (const char *p = k; *p && n + 1 < sizeof(buf); p++) {
			if (*p == '-' && !verbatim_keys) {
				up = true;
				continue;
			}
			buf[n++] = up && *p >= 'a' && *p <= 'z' ? (char)(*p - 32) : *p;
			up = false;
		}
		buf[n] = '\0';
		json_object_set_new(out, verbatim_keys ? k : buf,
		                    camel(x, !strcmp(k, "attributes") ||
		                                     !strcmp(k, "service-accounts")));
	}
	return out;
}

/* A directory's entries, one a line, "/" after a subdirectory. */
static void
md_listing(struct fresp *rs, const json_t *dir)
{
	char *s = strdup(""), *t;
	const char *k;
	json_t *x;
	size_t i;

	if (json_is_object(dir)) {
		json_object_foreach((json_t *)dir, k, x) {
			t = s ? mv_strfmt("%s%s%s\n", s, k, is_dir(x) ? "/" : "") : NULL;
			free(s);
			s = t;
		}
	} else {
		json_array_foreach(dir, i, x) {
			t = s ? mv_strfmt("%s%zu/\n", s, i) : NULL;
			free(s);
			s = t;
		}
	}
	if (s == NULL) {
		resp_gerr(rs, 500, NULL, "Internal error: out of memory.");
		return;
	}
	md_text(rs, s, strlen(s));
	free(s);
}

static void
md_leaf(struct fresp *rs, const json_t *v, const char *last, bool as_json)
{
	char *s;

	if (as_json) {
		md_json(rs, json_deep_copy(v));
	} else if (json_is_string(v)) {
		md_text(rs, json_string_value(v), json_string_length(v));
	} else if (json_is_array(v) && strcmp(last, "tags") != 0) {
		const json_t *x;
		size_t i;
		char *t;
		s = strdup("");
		json_array_foreach(v, i, x) {
			t = s ? mv_strfmt("%s%s\n", s, json_string_value(x) ?
			                  json_string_value(x) : "") : NULL;
			free(s);
			s = t;
		}
		if (s != NULL)
			md_text(rs, s, strlen(s));
		else
			resp_gerr(rs, 500, NULL, "Internal error: out of memory.");
		free(s);
	} else {
		s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
		if (s != NULL)
			md_text(rs, s, strlen(s));
		else
			resp_gerr(rs, 500, NULL, "Internal error: out of memory.");
		free(s);
	}
}

static bool
arg_true(const struct freq *rq, const char *name, const char *want)
{
	const char *v = freq_arg(rq, name);

	return v != NULL && strcasecmp(v, want) == 0;
}

/* GET /vm/NAME/computeMetadata/v1/... */
static void
metadata_get(struct fake *f, struct freq *rq, struct fresp *rs)
{
	const char *flavor = freq_header(rq, "Metadata-Flavor");
	const char *name = rq->cap[0], *last = "";
	char key[512];
	json_t *inst, *tree, *node;
	bool recursive = arg_true(rq, "recursive", "true");
	bool as_json = arg_true(rq, "alt", "json");
	size_t n = rq->n_seg - MD_PREFIX;

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
	/* tokens are minted, not stored: instance/service-accounts/SA/token */
	if (n == 4 && !strcmp(rq->seg[MD_PREFIX], "instance") &&
	    !strcmp(rq->seg[MD_PREFIX + 1], "service-accounts") &&
	    !strcmp(rq->seg[MD_PREFIX + 3], "token")) {
		char project[256], num[24], email[160], *tok;
		const char *sa = rq->seg[MD_PREFIX + 2];
		snprintf(project, sizeof(project), "%.*s",
		         (int)(strchr(key, '/') - key), key);
		fake_project_number(project, num, sizeof(num));
		sa_email(inst, num, email, sizeof(email));
		if (strcmp(sa, "default") != 0 && strcmp(sa, email) != 0) {
			md_not_found(rs);
			return;
		}
		tok = auth_issue_token(f, email, 3600);
		md_json(rs, json_pack("{s:s, s:i, s:s}", "access_token",
		                      tok ? tok : "", "expires_in", 3599,
		                      "token_type", "Bearer"));
		free(tok);
		return;
	}
	tree = md_tree(inst, name, key);
	node = tree;
	for (size_t i = 0; i < n && node != NULL; i++) {
		const char *s = rq->seg[MD_PREFIX + i];
		last = s;
		if (json_is_object(node)) {
			node = json_object_get(node, s);
		} else if (is_dir(node) && s[0] >= '0' && s[0] <= '9' &&
		           strspn(s, "0123456789") == strlen(s) && strlen(s) < 6) {
			node = json_array_get(node, strtoul(s, NULL, 10));
		} else {
			node = NULL;
		}
	}
	if (node == NULL)
		md_not_found(rs);
	else if (!is_dir(node))
		md_leaf(rs, node, last, as_json);
	else if (recursive || as_json)
		md_json(rs, camel(node, !strcmp(last, "attributes") ||
		                                !strcmp(last, "service-accounts")));
	else
		md_listing(rs, node);
	json_decref(tree);
}

const struct route metadata_routes[] = {
	{"GET", "/vm/{}/computeMetadata/v1/**", metadata_get, R_READONLY, NULL},
	{"POST", "/token", auth_token_endpoint, R_READONLY, NULL},
	{NULL, NULL, NULL, 0, NULL},
};
