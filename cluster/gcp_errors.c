/* cluster/gcp_errors.c - see gcp_errors.h. */
#include "cluster/gcp_errors.h"

#include <ctype.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "cluster/permissions.h"

static bool
has(const char *s, const char *needle)
{
	return s != NULL && strcasestr(s, needle) != NULL;
}

static bool
is(const char *s, const char *v)
{
	return s != NULL && strcasecmp(s, v) == 0;
}

/* Copy the token of letters, digits and `extra` at p into out. */
static const char *
token_at(const char *p, const char *extra, char *out, size_t len)
{
	size_t n = 0;

	while (p && p[n] != '\0' &&
	       (isalnum((unsigned char)p[n]) || strchr(extra, p[n])) &&
	       n + 1 < len)
		n++;
	memcpy(out, p ? p : "", n);
	out[n] = '\0';
	return out;
}

/* The text after the first occurrence of `after` up to the quote `q`. */
static bool
quoted_after(const char *msg, const char *after, char q, char *out,
             size_t len)
{
	const char *p = msg ? strcasestr(msg, after) : NULL, *e;

	if (p == NULL)
		return false;
	p += strlen(after);
	e = strchr(p, q);
	if (e == NULL || (size_t)(e - p) >= len || e == p)
		return false;
	memcpy(out, p, (size_t)(e - p));
	out[e - p] = '\0';
	return true;
}

/* The region a call is about: ".../locations/us-east1-b/..." or
 * ".../regions/us-east1/..." or "in region us-east1" in the message. */
static void
region_of(const char *url, const char *msg, char *out, size_t len)
{
	static const char *const keys[] = {"/locations/", "/zones/",
	                                   "/regions/", "region '",
	                                   "region ", NULL};
	out[0] = '\0';
	for (size_t i = 0; keys[i] && !out[0]; i++) {
		const char *src = i < 3 ? url : msg, *p;
		char tok[64];
		if (src == NULL || (p = strcasestr(src, keys[i])) == NULL)
			continue;
		token_at(p + strlen(keys[i]), "-", tok, sizeof(tok));
		/* a zone: drop "-b" */
		size_t n = strlen(tok), dashes = 0;
		for (size_t j = 0; j < n; j++)
			dashes += tok[j] == '-';
		if (dashes == 2 && n > 2 && tok[n - 2] == '-')
			tok[n - 2] = '\0';
		if (dashes >= 1 && isdigit((unsigned char)tok[strlen(tok) - 1]))
			snprintf(out, len, "%s", tok);
	}
}

static const char *
role_for(const char *permission)
{
	size_t n;
	const struct gcp_permission *p = gcp_permissions(&n);

	for (size_t i = 0; i < n; i++)
		if (!strcmp(p[i].permission, permission))
			return p[i].role;
	return NULL;
}

enum gcp_error_kind
gcp_error_hint(const char *project, const char *url, const char *status,
               const char *reason, const char *message, char *buf, size_t len)
{
	char what[160] = "", region[64] = "";
	const char *p;

	buf[0] = '\0';
	project = project ? project : "PROJECT";
	/* Quota first: GKE says 403 PERMISSION_DENIED for it. */
	if (is(reason, "QUOTA_EXCEEDED") || is(reason, "quotaExceeded") ||
	    (has(message, "quota") && (is(status, "RESOURCE_EXHAUSTED") ||
	                               is(status, "PERMISSION_DENIED") ||
	                               has(message, "insufficient") ||
	                               has(message, "exceeded")))) {
		if (!quoted_after(message, "resource \"", '"', what, sizeof(what)) &&
		    !quoted_after(message, "quota '", '\'', what, sizeof(what)) &&
		    !quoted_after(message, "metric '", '\'', what, sizeof(what)))
			snprintf(what, sizeof(what), "a Compute quota");
		region_of(url, message, region, sizeof(region));
		snprintf(buf, len,
		         "cause: project %s is out of quota (%s%s%s)\n"
		         "fix: `meshvm doctor` shows the need and the limit per "
		         "region; raise it at https://console.cloud.google.com/"
		         "iam-admin/quotas?project=%s or use fewer or smaller nodes "
		         "in meshvm.yaml, then rerun `meshvm up` (it resumes)",
		         project, what, region[0] ? " in " : "", region, project);
		return GCP_ERR_QUOTA;
	}
	if (is(reason, "SERVICE_DISABLED") || is(reason, "accessNotConfigured") ||
	    has(message, "has not been used in project") ||
	    (has(message, "API") && has(message, "is disabled"))) {
		if ((p = message ? strstr(message, "/apis/api/") : NULL) != NULL)
			token_at(p + strlen("/apis/api/"), ".-", what, sizeof(what));
		else if ((p = message ? strstr(message, ".googleapis.com") : NULL)) {
			const char *b = p;
			while (b > message && (isalnum((unsigned char)b[-1]) ||
			                       b[-1] == '-'))
				b--;
			token_at(b, ".-", what, sizeof(what));
		}
		if (what[0] == '\0')
			snprintf(what, sizeof(what), "the API this call needs");
		snprintf(buf, len,
		         "cause: %s is not enabled in project %s\n"
		         "fix: gcloud services enable %s --project %s "
		         "(a few minutes to propagate), then rerun",
		         what, project, strchr(what, ' ') ? "SERVICE" : what,
		         project);
		return GCP_ERR_API_DISABLED;
	}
	if ((p = message ? strstr(message, "constraints/") : NULL) != NULL) {
		token_at(p, "._/-", what, sizeof(what));
		while (what[0] && strchr(".-/", what[strlen(what) - 1]))
			what[strlen(what) - 1] = '\0';
		snprintf(buf, len,
		         "cause: the organization policy %s forbids this in project "
		         "%s%s\n"
		         "fix: `gcloud resource-manager org-policies describe %s "
		         "--project %s --effective` shows the policy; an "
		         "organization policy administrator can allow it for this "
		         "project (`gcloud resource-manager org-policies "
		         "disable-enforce %s --project %s` for a boolean constraint)",
		         what, project,
		         strstr(what, "vmExternalIpAccess")
		                 ? " (VMs and GKE nodes with external IP addresses)"
		                 : "",
		         what, project, what, project);
		return GCP_ERR_ORG_POLICY;
	}
	if ((has(message, "overlap") || has(message, "conflicts with")) &&
	    (has(message, "cidr") || has(message, "range") ||
	     has(message, "subnet"))) {
		snprintf(buf, len,
		         "cause: an IP range asked for overlaps one already in use "
		         "in the network (project %s)\n"
		         "fix: `gcloud compute networks subnets list --project %s` "
		         "and `gcloud container clusters list --project %s "
		         "--format='value(name,clusterIpv4Cidr,servicesIpv4Cidr)'` "
		         "list the ranges in use; delete the stale cluster or "
		         "subnet holding the range, or use another network",
		         project, project, project);
		return GCP_ERR_CIDR_OVERLAP;
	}
	if (is(status, "PERMISSION_DENIED") || is(reason, "forbidden") ||
	    is(reason, "IAM_PERMISSION_DENIED") ||
	    has(message, "permission")) {
		const char *role;
		if (!quoted_after(message, "Required '", '\'', what, sizeof(what)) &&
		    !quoted_after(message, "Permission '", '\'', what,
		                  sizeof(what)) &&
		    !quoted_after(message, "permission \"", '"', what,
		                  sizeof(what)))
			what[0] = '\0';
		role = what[0] ? role_for(what) : NULL;
		snprintf(buf, len,
		         "cause: the identity lacks %s%s in project %s\n"
		         "fix: gcloud projects add-iam-policy-binding %s "
		         "--member=MEMBER --role=%s (`meshvm doctor` lists every "
		         "missing permission)",
		         what[0] ? "the permission " : "a permission this call needs",
		         what, project, project,
		         role ? role : "ROLE (the one the message names)");
		return GCP_ERR_PERMISSION;
	}
	return GCP_ERR_OTHER;
}

static void
append_hint(struct mv_err *err, char *hint)
{
	size_t used = strlen(err->msg);
	char *nl = strchr(hint, '\n');

	if (nl != NULL)
		*nl = '\0';
	snprintf(err->msg + used, sizeof(err->msg) - used, "\n  %s%s%s", hint,
	         nl ? "\n  " : "", nl ? nl + 1 : "");
}

enum gcp_error_kind
gcp_error_teach_op(struct mv_err *err, const char *link, int code,
                   const char *reason, const char *message)
{
	static const char *const codes[] = {
		[3] = "INVALID_ARGUMENT", [7] = "PERMISSION_DENIED",
		[8] = "RESOURCE_EXHAUSTED", [9] = "FAILED_PRECONDITION"};
	const char *p = link ? strstr(link, "projects/") : NULL;
	char project[128] = "", hint[1024];
	enum gcp_error_kind k;

	if (p != NULL)
		token_at(p + strlen("projects/"), "-", project, sizeof(project));
	k = gcp_error_hint(project[0] ? project : NULL, link,
	                   code > 0 && code < 10 ? codes[code] : NULL, reason,
	                   message, hint, sizeof(hint));
	if (k != GCP_ERR_OTHER)
		append_hint(err, hint);
	return k;
}

enum gcp_error_kind
gcp_error_teach(struct mv_err *err, const char *project, const char *url,
                const char *body, size_t len)
{
	json_t *j = body && len ? json_loadb(body, len, 0, NULL) : NULL;
	json_t *e = json_object_get(j, "error"), *d;
	const char *reason, *status, *message, *svc = NULL;
	char hint[1024], text[2048];
	enum gcp_error_kind k;
	size_t i;

	if (!json_is_object(e)) {
		json_decref(j);
		return GCP_ERR_OTHER;
	}
	status = json_string_value(json_object_get(e, "status"));
	message = json_string_value(json_object_get(e, "message"));
	reason = json_string_value(json_object_get(
		json_array_get(json_object_get(e, "errors"), 0), "reason"));
	/* google.rpc.ErrorInfo's reason is the precise one when present */
	json_array_foreach(json_object_get(e, "details"), i, d)
		if (json_is_string(json_object_get(d, "reason"))) {
			reason = json_string_value(json_object_get(d, "reason"));
			/* ErrorInfo names the disabled service exactly */
			svc = json_string_value(json_object_get(
				json_object_get(d, "metadata"), "service"));
		}
	if (svc != NULL)
		snprintf(text, sizeof(text), "%s (%s)", message ? message : "", svc);
	k = gcp_error_hint(project, url, status, reason,
	                   svc != NULL ? text : message, hint, sizeof(hint));
	if (k != GCP_ERR_OTHER)
		append_hint(err, hint);
	json_decref(j);
	return k;
}
