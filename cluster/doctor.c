/* cluster/doctor.c - see doctor.h. */
#include "cluster/doctor.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cluster/gcp_auth.h"
#include "cluster/permissions.h"
#include "core/xalloc.h"

static const char *const apis[] = {"container.googleapis.com",
                                   "compute.googleapis.com",
                                   "storage.googleapis.com",
                                   "serviceusage.googleapis.com"};

const char *
doctor_level_name(enum doctor_level l)
{
	return l == DOCTOR_OK ? "ok" : l == DOCTOR_WARN ? "warn" : "fail";
}

/* Append printf output to a heap string (created on first use). */
static void
cat(char **s, const char *fmt, ...) MV_PRINTF(2, 3);
static void
cat(char **s, const char *fmt, ...)
{
	va_list ap;
	char *add, *joined;

	va_start(ap, fmt);
	if (vasprintf(&add, fmt, ap) < 0)
		add = NULL;
	va_end(ap);
	if (add == NULL)
		add = mv_xstrdup(""); /* aborts when memory is gone */
	if (*s == NULL) {
		*s = add;
		return;
	}
	joined = mv_xstrfmt("%s%s", *s, add);
	free(*s);
	free(add);
	*s = joined;
}

/* Add an item; detail and fix are taken (heap strings or NULL). */
static void
item(struct doctor_report *r, const char *check, enum doctor_level l,
     char *detail, char *fix)
{
	struct doctor_item *v = mv_xreallocarray(r->items, r->n + 1, sizeof(*v));

	r->items = v;
	v[r->n].check = mv_xstrdup(check);
	v[r->n].level = l;
	v[r->n].detail = detail ? detail : mv_xstrdup("");
	v[r->n].fix = fix;
	r->n++;
}

/* The first line of an error, without the "METHOD URL → " part when
 * the cause follows it. */
static char *
why(const struct mv_err *e)
{
	const char *m = e->msg, *arrow = strstr(m, "→ ");
	const char *nl;

	if (arrow != NULL)
		m = arrow + strlen("→ ");
	nl = strchr(m, '\n');
	return nl ? mv_xstrndup(m, (size_t)(nl - m)) : mv_xstrdup(m);
}

/*--- credentials, project --------------------------------------------*/

static bool
check_credentials(const struct doctor_options *o, struct doctor_report *r)
{
	struct mv_err e;
	const char *tok;

	mv_err_clear(&e);
	if (o->auth != NULL && gcp_auth_token(o->auth, &tok, &e) == 0) {
		item(r, "credentials", DOCTOR_OK,
		     mv_xstrfmt("a token from %s", gcp_auth_source(o->auth)), NULL);
		return true;
	}
	item(r, "credentials", DOCTOR_FAIL,
	     o->auth ? why(&e) : mv_xstrdup("no credential source"),
	     mv_xstrdup("run `gcloud auth application-default login`, or set "
	            "GOOGLE_APPLICATION_CREDENTIALS to a service-account key or "
	            "an external_account (workload identity) file, or "
	            "GOOGLE_OAUTH_ACCESS_TOKEN=$(gcloud auth print-access-token)"));
	return false;
}

/* Returns the project number (heap) or NULL when the check failed. */
static char *
check_project(const struct doctor_options *o, struct doctor_report *r)
{
	const char *p = o->cfg->project;
	char *url = mv_xstrfmt("%sv3/projects/%s", o->gcp->ep->cloudresourcemanager,
	                      p);
	struct gcp_result res;
	struct mv_err e;
	const char *name, *state;
	char *num = NULL;

	mv_err_clear(&e);
	if (gcp_call(o->gcp, "GET", url, NULL, true, &res, &e) != 0) {
		char *w = why(&e);
		free(url);
		item(r, "project", DOCTOR_FAIL, mv_xstrfmt("project %s: %s", p, w),
		     mv_xstrfmt("check `project:` in %s (or PROJECT_ID for `meshvm "
		               "init`); `gcloud projects describe %s` shows whether "
		               "this identity can see it; Resource Manager answers "
		               "403 for a project that does not exist",
		               o->cfg->path ? o->cfg->path : "meshvm.yaml", p));
		free(w);
		return NULL;
	}
	free(url);
	name = json_string_value(json_object_get(res.body, "name"));
	state = json_string_value(json_object_get(res.body, "state"));
	if (name != NULL && strncmp(name, "projects/", 9) == 0)
		num = mv_xstrdup(name + 9);
	if (state != NULL && strcmp(state, "ACTIVE") != 0) {
		item(r, "project", DOCTOR_FAIL,
		     mv_xstrfmt("project %s is %s", p, state),
		     mv_xstrfmt("a project pending deletion can be restored with "
		               "`gcloud projects undelete %s`", p));
		free(num);
		num = NULL;
	} else {
		item(r, "project", DOCTOR_OK,
		     mv_xstrfmt("%s (%s), ACTIVE", p, name ? name : "?"), NULL);
		if (num == NULL)
			num = mv_xstrdup("");
	}
	json_decref(res.body);
	return num;
}

/*--- APIs --------------------------------------------------------------*/

/* Returns true when compute is usable (the quota checks need it). */
static bool
check_apis(const struct doctor_options *o, struct doctor_report *r)
{
	char *off = NULL, *errs = NULL, *on = NULL;
	bool compute = true;

	for (size_t i = 0; i < sizeof(apis) / sizeof(apis[0]); i++) {
		struct mv_err e;
		bool enabled = false;

		mv_err_clear(&e);
		if (gcp_service_enabled(o->gcp, apis[i], &enabled, &e) != 0) {
			char *w = why(&e);
			cat(&errs, "%s%s: %s", errs ? "; " : "", apis[i], w);
			free(w);
			enabled = false;
		} else if (!enabled) {
			cat(&off, " %s", apis[i]);
		} else {
			cat(&on, "%s%s", on ? ", " : "", apis[i]);
		}
		if (!enabled && !strcmp(apis[i], "compute.googleapis.com"))
			compute = false;
	}
	if (off == NULL && errs == NULL) {
		item(r, "apis", DOCTOR_OK, mv_xstrfmt("enabled: %s", on), NULL);
	} else {
		char *d = NULL;
		if (off != NULL)
			cat(&d, "disabled:%s", off);
		if (errs != NULL)
			cat(&d, "%scannot tell: %s", d ? "; " : "", errs);
		item(r, "apis", DOCTOR_FAIL, d,
		     mv_xstrfmt("gcloud services enable%s --project %s%s",
		               off ? off : " serviceusage.googleapis.com",
		               o->cfg->project,
		               errs ? " (reading service states needs "
		                      "roles/serviceusage.serviceUsageConsumer)"
		                    : ""));
	}
	free(off);
	free(errs);
	free(on);
	return compute;
}

/*--- quota ---------------------------------------------------------------*/

static const char *
scope_label(const char *scope)
{
	return strcmp(scope, "global") ? scope : "all regions";
}

/* Compare every need of one scope with the quotas Compute reports. */
static void
quota_scope(const struct doctor_options *o, struct doctor_report *r,
            const struct quota_needs *q, const char *scope,
            const json_t *quotas)
{
	char *ok = NULL, *short_ = NULL, *check = mv_xstrfmt("quota %s", scope);

	for (size_t i = 0; i < q->n; i++) {
		const struct quota_need *n = &q->v[i];
		double lim, use;
		if (strcmp(n->scope, scope) != 0)
			continue;
		if (quota_fits(n, quotas, &lim, &use)) {
			if (lim < 0)
				cat(&ok, "%s%s %.0f (no limit reported)", ok ? ", " : "",
				    n->metric, n->need);
			else
				cat(&ok, "%s%s %.0f of %.0f free", ok ? ", " : "",
				    n->metric, n->need, lim - use);
		} else {
			cat(&short_, "%s%s needs %.0f in %s (%s), limit %.0f, in use "
			    "%.0f, free %.0f", short_ ? "; " : "", n->metric, n->need,
			    scope_label(scope), n->why, lim, use, lim - use);
		}
	}
	if (short_ == NULL) {
		item(r, check, DOCTOR_OK, ok, NULL);
	} else {
		item(r, check, DOCTOR_FAIL, short_,
		     mv_xstrfmt("request more at https://console.cloud.google.com/"
		               "iam-admin/quotas?project=%s (filter: %s%s), or "
		               "use fewer nodes or a smaller machineType in %s",
		               o->cfg->project,
		               strcmp(scope, "global") ? "region " : "",
		               strcmp(scope, "global") ? scope : "global quotas",
		               o->cfg->path ? o->cfg->path : "meshvm.yaml"));
		free(ok);
	}
	free(check);
}

static void
check_quota(const struct doctor_options *o, struct doctor_report *r)
{
	struct quota_needs q;
	struct mv_err e;
	json_t *seen = json_object();

	mv_err_clear(&e);
	if (quota_needs_of(o->cfg, o->exists, o->exists_arg, &q, &e) != 0) {
		item(r, "quota", DOCTOR_WARN, mv_xstrdup(e.msg),
		     mv_xstrdup("quota is not checked for this machine type; make sure "
		            "the regions have the vCPUs it needs"));
		json_decref(seen);
		return;
	}
	if (q.n == 0)
		item(r, "quota", DOCTOR_OK,
		     mv_xstrdup("nothing left to create (the state has it all)"), NULL);
	for (size_t i = 0; i < q.n; i++) {
		const char *scope = q.v[i].scope;
		bool global = !strcmp(scope, "global");
		struct gcp_result res;
		char *url;

		if (json_object_get(seen, scope) != NULL)
			continue;
		json_object_set_new(seen, scope, json_true());
		url = global ? mv_xstrfmt("%sprojects/%s", o->gcp->ep->compute,
		                         o->cfg->project)
		             : mv_xstrfmt("%sprojects/%s/regions/%s",
		                         o->gcp->ep->compute, o->cfg->project, scope);
		mv_err_clear(&e);
		if (gcp_call(o->gcp, "GET", url, NULL, true, &res, &e) != 0) {
			char *c = mv_xstrfmt("quota %s", scope);
			item(r, c, DOCTOR_WARN,
			     mv_xstrfmt("cannot read the quotas: %s", e.msg),
			     mv_xstrdup("reading quotas needs compute.regions.get and "
			            "compute.projects.get (roles/compute.viewer)"));
			free(c);
		} else {
			quota_scope(o, r, &q, scope, json_object_get(res.body, "quotas"));
			json_decref(res.body);
		}
		free(url);
	}
	json_decref(seen);
	quota_needs_free(&q);
}

/*--- permissions ------------------------------------------------------*/

/* The member a binding names, from the credential source. */
static char *
member_of(const struct doctor_options *o)
{
	const char *src = o->auth ? gcp_auth_source(o->auth) : "";

	if (strncmp(src, "service-account ", 16) == 0)
		return mv_xstrfmt("serviceAccount:%s", src + 16);
	return mv_xstrdup("user:YOU@example.com");
}

static void
check_permissions(const struct doctor_options *o, struct doctor_report *r)
{
	size_t N_PERMS;
	const struct gcp_permission *permissions = gcp_permissions(&N_PERMS);
	json_t *want = json_array(), *body, *granted;
	char *url = mv_xstrfmt("%sv3/projects/%s:testIamPermissions",
	                      o->gcp->ep->cloudresourcemanager, o->cfg->project);
	char *missing = NULL, *fix = NULL, *member;
	struct gcp_result res;
	struct mv_err e;
	size_t n_missing = 0;

	for (size_t i = 0; i < N_PERMS; i++)
		json_array_append_new(want, json_string(permissions[i].permission));
	body = json_pack("{s:o}", "permissions", want);
	mv_err_clear(&e);
	if (gcp_call(o->gcp, "POST", url, body, true, &res, &e) != 0) {
		item(r, "permissions", DOCTOR_WARN,
		     mv_xstrfmt("cannot test permissions: %s", e.msg),
		     mv_xstrdup("testIamPermissions needs only a valid token on the "
		            "project; check the credentials and the project above"));
		json_decref(body);
		free(url);
		return;
	}
	json_decref(body);
	free(url);
	granted = json_object_get(res.body, "permissions");
	member = member_of(o);
	for (size_t i = 0; i < N_PERMS; i++) {
		bool have = false, role_seen = false;
		size_t j;
		json_t *g;
		json_array_foreach(granted, j, g)
			have |= json_is_string(g) &&
			        !strcmp(json_string_value(g), permissions[i].permission);
		if (have)
			continue;
		n_missing++;
		cat(&missing, "%s%s (step %s; granted by %s)", missing ? ", " : "",
		    permissions[i].permission, permissions[i].step,
		    permissions[i].role);
		/* one binding per role, in table order */
		for (size_t k = 0; k < i; k++) {
			bool k_missing = true;
			json_array_foreach(granted, j, g)
				if (json_is_string(g) &&
				    !strcmp(json_string_value(g), permissions[k].permission))
					k_missing = false;
			if (k_missing && !strcmp(permissions[k].role, permissions[i].role))
				role_seen = true;
		}
		if (!role_seen)
			cat(&fix, "%sgcloud projects add-iam-policy-binding %s "
			    "--member=%s --role=%s", fix ? "; " : "", o->cfg->project,
			    member, permissions[i].role);
	}
	if (n_missing == 0)
		item(r, "permissions", DOCTOR_OK,
		     mv_xstrfmt("all %zu permissions the steps use are granted",
		               (size_t)N_PERMS), NULL);
	else
		item(r, "permissions", DOCTOR_FAIL,
		     mv_xstrfmt("missing %zu: %s", n_missing, missing), fix);
	free(missing);
	free(member);
	json_decref(res.body);
}

/*--- node service account, tools --------------------------------------*/

static void
check_service_account(const struct doctor_options *o, struct doctor_report *r,
                      const char *number)
{
	char *email, *url;
	struct gcp_result res;
	struct mv_err e;

	if (number == NULL || number[0] == '\0') {
		item(r, "service-account", DOCTOR_WARN,
		     mv_xstrdup("the project number is unknown, so the nodes' default "
		            "service account was not checked"), NULL);
		return;
	}
	/* GKE nodes run as the Compute Engine default service account
	 * unless a node pool names another (meshvm's do not). */
	email = mv_xstrfmt("%s-compute@developer.gserviceaccount.com", number);
	url = mv_xstrfmt("%sv1/projects/%s/serviceAccounts/%s", o->gcp->ep->iam,
	                o->cfg->project, email);
	mv_err_clear(&e);
	if (gcp_call(o->gcp, "GET", url, NULL, true, &res, &e) == 0) {
		item(r, "service-account", DOCTOR_OK,
		     mv_xstrfmt("nodes run as %s", email), NULL);
		json_decref(res.body);
	} else if (res.status == 404) {
		item(r, "service-account", DOCTOR_FAIL,
		     mv_xstrfmt("the nodes' service account %s does not exist", email),
		     mv_xstrfmt("restore it within 30 days of its deletion (`gcloud "
		               "iam service-accounts undelete ID`), or disable and "
		               "enable compute.googleapis.com to recreate it "
		               "(project %s)", o->cfg->project));
	} else {
		item(r, "service-account", DOCTOR_WARN,
		     mv_xstrfmt("cannot check %s: %s", email, e.msg),
		     mv_xstrdup("reading service accounts needs iam.serviceAccounts.get "
		            "(roles/iam.serviceAccountViewer)"));
	}
	free(url);
	free(email);
}

static bool
on_path(const char *path, const char *prog)
{
	char *copy = mv_xstrdup(path ? path : ""), *save = NULL;
	bool found = false;

	for (char *d = strtok_r(copy, ":", &save); d && !found;
	     d = strtok_r(NULL, ":", &save)) {
		char *p = mv_xstrfmt("%s/%s", *d ? d : ".", prog);
		found = p != NULL && access(p, X_OK) == 0;
		free(p);
	}
	free(copy);
	return found;
}

static void
check_tools(const struct doctor_options *o, struct doctor_report *r)
{
	static const struct {
		const char *prog, *fix;
	} tools[] = {
		{"kubectl", "apt-get install kubectl (Google's apt repository) or "
		            "`gcloud components install kubectl`"},
		{"gke-gcloud-auth-plugin",
		 "apt-get install google-cloud-cli-gke-gcloud-auth-plugin or "
		 "`gcloud components install gke-gcloud-auth-plugin`; "
		 ".meshvm/kubeconfig runs it for every kubectl call"},
	};
	const char *path = o->path ? o->path : getenv("PATH");

	for (size_t i = 0; i < sizeof(tools) / sizeof(tools[0]); i++) {
		char *c = mv_xstrfmt("tool %s", tools[i].prog);
		if (on_path(path, tools[i].prog))
			item(r, c, DOCTOR_OK, mv_xstrdup("on PATH"), NULL);
		else
			item(r, c, DOCTOR_WARN,
			     mv_xstrfmt("%s is not on PATH (only needed to use the "
			               "clusters by hand)", tools[i].prog),
			     mv_xstrdup(tools[i].fix));
		free(c);
	}
}

/*--- the report ---------------------------------------------------------*/

int
doctor_run(const struct doctor_options *o, struct doctor_report *out,
           struct mv_err *err)
{
	char *number;

	(void)err;
	memset(out, 0, sizeof(*out));
	if (check_credentials(o, out)) {
		number = check_project(o, out);
		if (number != NULL) {
			if (check_apis(o, out))
				check_quota(o, out);
			else
				item(out, "quota", DOCTOR_WARN,
				     mv_xstrdup("not checked: Compute quotas are read "
				                "through compute.googleapis.com"),
				     mv_xstrdup("enable it (see apis), then run `meshvm "
				                "doctor` again"));
			check_permissions(o, out);
			check_service_account(o, out, number);
			free(number);
		}
	}
	if (!o->skip_tools)
		check_tools(o, out);
	return 0;
}

bool
doctor_failed(const struct doctor_report *r)
{
	for (size_t i = 0; i < r->n; i++)
		if (r->items[i].level == DOCTOR_FAIL)
			return true;
	return false;
}

json_t *
doctor_report_json(const struct doctor_report *r)
{
	json_t *arr = json_array();

	for (size_t i = 0; i < r->n; i++)
		json_array_append_new(arr, json_pack(
			"{s:s, s:s, s:s, s:s?}", "check", r->items[i].check, "status",
			doctor_level_name(r->items[i].level), "detail", r->items[i].detail,
			"fix", r->items[i].fix));
	return json_pack("{s:b, s:o}", "ok", !doctor_failed(r), "checks", arr);
}

int
doctor_fail_err(const struct doctor_report *r, struct mv_err *err)
{
	char *m = NULL;

	for (size_t i = 0; i < r->n; i++)
		if (r->items[i].level == DOCTOR_FAIL)
			cat(&m, "%spreflight: %s: %s%s%s", m ? "\n" : "",
			    r->items[i].check, r->items[i].detail,
			    r->items[i].fix ? "\n  fix: " : "",
			    r->items[i].fix ? r->items[i].fix : "");
	mv_err_set(err, MV_EXIT_CLOUD, "%s\npreflight: nothing was created; "
	           "`meshvm doctor` repeats these checks (--no-preflight skips "
	           "them)", m ? m : "preflight failed");
	free(m);
	return -1;
}

void
doctor_report_free(struct doctor_report *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < r->n; i++) {
		free(r->items[i].check);
		free(r->items[i].detail);
		free(r->items[i].fix);
	}
	free(r->items);
	r->items = NULL;
	r->n = 0;
}
