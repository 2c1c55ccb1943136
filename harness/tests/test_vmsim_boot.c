/* test_vmsim_boot.c - `meshvm fake --boot-vms`: whole simulated boots
 * against a started fake: an instance inserted through the Compute API with the
 * user-data `meshvm cloudinit userdata` makes, the bundle in the fake's
 * Cloud Storage and an Istio token (TokenRequest, audience istio-ca) in
 * metadata key meshvm-istio-token runs OUR join script in the sandbox and
 * registers with the simulated istiod: a WorkloadEntry
 * <group>-<ip>-<network> with Healthy=True, phases as guest attributes.
 * A wrong or expired token is refused and meshvm/error names it; foreign
 * user-data is not run and the journal says so; the token is nowhere in
 * the sandbox but where the join puts it (0600) and in no log. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cloudinit/cloudinit.h"
#include "fakeutil.h"
#include "harness/vmsim/vmsim.h"

#define CLUSTERS "/v1/projects/p/locations/us-west1-b/clusters"
#define ZONE "/compute/v1/projects/p/zones/us-west1-b"
#define NSURL "/api/v1/namespaces"
#define WE "/apis/networking.istio.io/v1/namespaces/vm/workloadentries"

/* ---- whole boots against a started fake ---- */

struct world {
	struct fake *f;
	char *T;
	char ip[32];     /* the east-west gateway's address: istiod */
	char *bundle;
	char *tmp, *vms;  /* T/tmp; the VMs' directories */
};

static int
kdo(struct fake *f, const char *method, const char *target, const char *body)
{
	return fu_do_on(f, "c1", method, target, body, NULL);
}

static void
mesh(struct world *w)
{
	const char *hdr[] = {"Content-Type: application/merge-patch+json", NULL};
	char patch[256];

	assert_int_equal(fu_do(w->f, "POST", CLUSTERS, "{\"cluster\":{\"name\":"
	                       "\"c1\",\"initialNodeCount\":1}}"), 200);
	fu_istio_crds(w->f, "c1");
	assert_int_equal(kdo(w->f, "POST", NSURL, "{\"apiVersion\":\"v1\","
	                     "\"kind\":\"Namespace\",\"metadata\":{\"name\":"
	                     "\"vm\"}}"), 201);
	assert_int_equal(kdo(w->f, "POST", NSURL "/vm/serviceaccounts",
	                     "{\"apiVersion\":\"v1\",\"kind\":\"ServiceAccount\","
	                     "\"metadata\":{\"name\":\"vm-sa\"}}"), 201);
	assert_int_equal(kdo(w->f, "POST", NSURL "/vm/serviceaccounts",
	                     "{\"apiVersion\":\"v1\",\"kind\":\"ServiceAccount\","
	                     "\"metadata\":{\"name\":\"other\"}}"), 201);
	assert_int_equal(kdo(w->f, "POST", "/apis/networking.istio.io/v1/"
	                     "namespaces/vm/workloadgroups",
	                     "{\"apiVersion\":\"networking.istio.io/v1\",\"kind\":"
	                     "\"WorkloadGroup\",\"metadata\":{\"name\":\"web\"},"
	                     "\"spec\":{\"metadata\":{\"labels\":{\"app\":"
	                     "\"web\"}},\"template\":{\"serviceAccount\":"
	                     "\"vm-sa\"}}}"), 201);
	/* istiod on the east-west gateway's address: one of our own in
	 * 127/8, so parallel runs do not meet */
	assert_int_equal(kdo(w->f, "POST", NSURL "/default/services",
	                     "{\"apiVersion\":\"v1\",\"kind\":\"Service\","
	                     "\"metadata\":{\"name\":\"eastwest\"},\"spec\":{"
	                     "\"type\":\"LoadBalancer\",\"ports\":[{\"port\":"
	                     "15012}]}}"), 201);
	static int worlds;

	/* a world's own address: one a failed test left listening is not
	 * this one */
	snprintf(w->ip, sizeof(w->ip), "127.78.%d.%d",
	         (int)(getpid() >> 8 & 0xff),
	         (int)((getpid() & 0x1f) * 8 + worlds++ % 8) + 1);
	snprintf(patch, sizeof(patch), "{\"status\":{\"loadBalancer\":{"
	         "\"ingress\":[{\"ip\":\"%s\"}]}}}", w->ip);
	assert_int_equal(fu_do_on(w->f, "c1", "PATCH", NSURL "/default/services/"
	                          "eastwest/status", patch, hdr), 200);
}

/* The bundle a VM of group web in vm fetches: the fixture service with
 * the simulated VMs' sidecar and an identity pointing at istiod. */
static void
bake(struct world *w)
{
	char *spec = tu_copy_fixture_bundle(w->T), *p, *data;
	const char *ct[] = {"Content-Type: application/octet-stream", NULL};
	struct fake_response r;
	size_t len;

	free(spec);
	assert_int_equal(tu_sh(NULL, "cp '%s/vmsim/istio-sidecar.deb' "
	                       "'%s/bundle/artifacts/istio-sidecar.deb'",
	                       tu_fixtures(), w->T), 0);
	p = tu_fmt("%s/bundle/identity/cluster.env", w->T);
	tu_write(p, "CANONICAL_SERVICE='web'\nISTIO_META_AUTO_REGISTER_GROUP="
	            "'web'\nISTIO_META_CLUSTER_ID='c1'\nISTIO_META_MESH_ID="
	            "'mesh1'\nISTIO_META_NETWORK='vm-net'\nISTIO_NAMESPACE='vm'\n"
	            "ISTIO_SERVICE='web.vm'\nPOD_NAMESPACE='vm'\n"
	            "SERVICE_ACCOUNT='vm-sa'\nTRUST_DOMAIN='cluster.local'\n");
	free(p);
	p = tu_fmt("%s/bundle/identity/hosts", w->T);
	data = tu_fmt("%s istiod.istio-system.svc\n", w->ip);
	tu_write(p, data);
	free(data);
	free(p);
	w->bundle = tu_fmt("%s/b.bundle", w->T);
	if (tu_sh(&data, "'%s' bake -f '%s/bundle/bundle.yaml' -o '%s'",
	          tu_bin(), w->T, w->bundle) != 0) {
		print_error("bake: %s\n", data);
		fail();
	}
	free(data);
	assert_int_equal(fu_do(w->f, "POST", "/storage/v1/b?project=p",
	                       "{\"name\":\"bkt\"}"), 200);
	data = tu_read(w->bundle, &len);
	assert_int_equal(fake_handle(w->f, "gcp", "POST", "/upload/storage/v1/b/"
	                             "bkt/o?uploadType=media&name=vm/b.bundle", ct,
	                             1, data, len, &r), 0);
	assert_int_equal(r.status, 200);
	fake_response_free(&r);
	free(data);
}

/* max VMs at once; temp: the fake's own temporary directory (under
 * T/tmp) instead of --boot-vms-dir T/vms. */
static struct world
world_new_opt(int max, bool temp)
{
	struct world w;
	struct fake_options o;
	struct mv_err err;
	char *old = getenv("TMPDIR") ? strdup(getenv("TMPDIR")) : NULL;

	memset(&w, 0, sizeof(w));
	w.T = tu_tmpdir();
	/* run as root, the VMs are nobody's: they pass through T */
	chmod(w.T, 0711);
	w.tmp = tu_fmt("%s/tmp", w.T);
	assert_int_equal(mkdir(w.tmp, 0711), 0);
	w.vms = tu_fmt("%s/vms", w.T);
	mv_err_clear(&err);
	fake_options_init(&o);
	o.no_auth = true;
	o.op_polls = 0;
	o.controller_delay_ms = 0;
	o.boot_vms = true;
	o.boot_vms_dir = temp ? NULL : w.vms;
	o.boot_vms_max = max;
	o.boot_timeout_s = 240;
	assert_int_equal(fake_new(&o, &w.f, &err), 0);
	if (temp)
		setenv("TMPDIR", w.tmp, 1);
	if (fake_start(w.f, &err) != 0)
		print_error("fake_start: %s\n", err.msg);
	if (old != NULL)
		setenv("TMPDIR", old, 1);
	else
		unsetenv("TMPDIR");
	free(old);
	if (temp) {
		char *out = NULL;
		assert_int_equal(tu_sh(&out, "ls -d '%s'/meshvm-vms.*", w.tmp), 0);
		out[strcspn(out, "\n")] = '\0';
		free(w.vms);
		w.vms = out;
	}
	mesh(&w);
	bake(&w);
	return w;
}

static struct world
world_new(void)
{
	return world_new_opt(4, false);
}

static void
world_free(struct world *w)
{
	fake_stop(w->f, NULL);
	fake_free(w->f);
	tu_rmrf(w->T);
	free(w->T);
	free(w->tmp);
	free(w->vms);
	free(w->bundle);
}

/* User-data (or a startup-script) as `meshvm cloudinit userdata` writes
 * it (heap). */
static char *
user_data(struct world *w, const char *agent)
{
	char *out = tu_fmt("%s/ud-%s", w->T, agent), *ud;

	assert_int_equal(tu_sh(NULL, "'%s' cloudinit userdata --bundle '%s' "
	                       "--bundle-url gs://bkt/vm/b.bundle --agent %s "
	                       "-o '%s' >/dev/null", tu_bin(), w->bundle, agent,
	                       out), 0);
	ud = tu_read(out, NULL);
	assert_non_null(ud);
	free(out);
	return ud;
}

/* instances.insert with the token in metadata key tkey, then its
 * operation read once (it is DONE: RUNNING). */
static void
insert_kv(struct world *w, const char *name, const char *key,
          const char *value, const char *tkey, const char *token)
{
	json_t *items = json_pack("[{s:s, s:s}]", "key", key, "value", value);
	json_t *body;
	struct fu_resp r;
	char *s, *op;

	if (token != NULL)
		json_array_append_new(items, json_pack("{s:s, s:s}", "key", tkey,
		                                       "value", token));
	body = json_pack("{s:s, s:s, s:[{s:s}], s:{s:o}, s:{s:s}}", "name", name,
	                 "machineType", "zones/us-west1-b/machineTypes/e2-small",
	                 "networkInterfaces", "network", "global/networks/default",
	                 "metadata", "items", items, "labels", "meshvm-id", "t");
	s = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	r = fu_req(w->f, "POST", ZONE "/instances", s);
	free(s);
	if (r.status != 200)
		print_error("%s\n", r.raw.body);
	assert_int_equal(r.status, 200);
	op = tu_fmt(ZONE "/operations/%s", fu_str(&r, "name"));
	fu_free(&r);
	r = fu_req(w->f, "GET", op, NULL);
	assert_string_equal(fu_str(&r, "status"), "DONE");
	fu_free(&r);
	free(op);
}

static void
insert(struct world *w, const char *name, const char *key, const char *value,
       const char *token)
{
	insert_kv(w, name, key, value, CLOUDINIT_TOKEN_KEY, token);
}

/* instances.delete, its operation read (the instance is gone). */
static void
delete_vm(struct world *w, const char *name)
{
	char *url = tu_fmt(ZONE "/instances/%s", name), *op;
	struct fu_resp r = fu_req(w->f, "DELETE", url, NULL);

	assert_int_equal(r.status, 200);
	op = tu_fmt(ZONE "/operations/%s", fu_str(&r, "name"));
	fu_free(&r);
	assert_int_equal(fu_do(w->f, "GET", op, NULL), 200);
	free(op);
	free(url);
}

static char *
vm_dir(struct world *w, const char *name)
{
	char *p = NULL;
	DIR *d;
	struct dirent *e;
	char *vms = strdup(w->vms);

	d = opendir(vms);
	while (d != NULL && (e = readdir(d)) != NULL)
		if (!strncmp(e->d_name, name, strlen(name)) &&
		    e->d_name[strlen(name)] == '-')
			p = tu_fmt("%s/%s", vms, e->d_name);
	if (d != NULL)
		closedir(d);
	free(vms);
	return p;
}

static void
dump_vm(struct world *w, const char *name)
{
	char *d = vm_dir(w, name), *s;

	if (d == NULL) {
		print_error("vm %s: no directory\n", name);
		return;
	}
	s = tu_fmt("%s/console.log", d);
	{
		char *c = tu_read(s, NULL);
		print_error("--- %s console\n%s\n", name, c ? c : "(none)");
		free(c);
	}
	free(s);
	s = tu_fmt("%s/root/var/log/vmsim/istio.service.log", d);
	{
		char *c = tu_read(s, NULL);
		print_error("--- %s istio.service\n%s\n", name, c ? c : "(none)");
		free(c);
	}
	free(s);
	free(d);
	{
		struct fu_resp r = fu_req(w->f, "GET", "/_fake/journal", NULL);
		char *line = r.raw.body, *nl;
		for (; line && *line; line = nl ? nl + 1 : NULL) {
			nl = strchr(line, '\n');
			if (nl)
				*nl = '\0';
			if (strstr(line, "meshvm/v1") || strstr(line, "vmsim") ||
			    strstr(line, "workloadentries"))
				print_error("%s\n", line);
		}
		fu_free(&r);
	}
}

/* A guest attribute meshvm/KEY of instance name (heap, "" when none). */
static char *
guest_attr(struct world *w, const char *name, const char *key)
{
	char *url = tu_fmt(ZONE "/instances/%s/getGuestAttributes?variableKey="
	                   "meshvm/%s", name, key);
	struct fu_resp r = fu_req(w->f, "GET", url, NULL);
	char *v = strdup(fu_str(&r, "variableValue"));

	fu_free(&r);
	free(url);
	return v;
}

/* Wait (bounded) until meshvm/phase of name is `want`. */
static void
wait_phase(struct world *w, const char *name, const char *want)
{
	for (int i = 0; i < 1800; i++) {
		char *v = guest_attr(w, name, "phase");
		bool done = !strcmp(v, want) ||
		            (!strcmp(v, "failed") && strcmp(want, "failed"));
		free(v);
		if (done)
			break;
		usleep(100 * 1000);
	}
	{
		char *v = guest_attr(w, name, "phase");
		if (strcmp(v, want) != 0) {
			char *e = guest_attr(w, name, "error");
			print_error("vm %s: phase %s, error %s\n", name, v, e);
			free(e);
			dump_vm(w, name);
		}
		assert_string_equal(v, want);
		free(v);
	}
}

static char *
network_ip(struct world *w, const char *name)
{
	char *url = tu_fmt(ZONE "/instances/%s", name);
	struct fu_resp r = fu_req(w->f, "GET", url, NULL);
	char *ip = strdup(fu_str(&r, "networkInterfaces.0.networkIP"));

	fu_free(&r);
	free(url);
	assert_true(strlen(ip) >= 7);
	return ip;
}

static char *
journal(struct world *w)
{
	struct fu_resp r = fu_req(w->f, "GET", "/_fake/journal", NULL);
	char *s = strdup(r.raw.body ? r.raw.body : "");

	fu_free(&r);
	return s;
}

/* grep -r for the token: the files holding it, one per line (heap). */
static char *
files_with(const char *dir, const char *needle)
{
	char *pat = tu_fmt("%s/needle", dir), *out = NULL;

	tu_write(pat, needle);
	assert_int_not_equal(tu_sh(&out, "cd '%s' && grep -rlF -f needle . | "
	                           "grep -v '^./needle$' | sort", dir), 128);
	unlink(pat);
	free(pat);
	return out;
}

static unsigned
mode_of(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return st.st_mode & 07777;
}

static void
test_boot_registers(void **state)
{
	struct world w = world_new();
	char *ud = user_data(&w, "cloud-init"), *tok, *ip, *url, *d, *s, *j;
	struct fu_resp r;
	json_t *conds;

	(void)state;
	tok = fu_sa_token(w.f, "c1", "vm", "vm-sa", "istio-ca");
	insert(&w, "vm-1", "user-data", ud, tok);
	wait_phase(&w, "vm-1", "joined");
	/* the WorkloadEntry <group>-<ip>-<network>, Healthy=True */
	ip = network_ip(&w, "vm-1");
	url = tu_fmt(WE "/web-%s-vm-net", ip);
	r = fu_req_on(w.f, "c1", "GET", url, NULL, NULL);
	assert_int_equal(r.status, 200);
	assert_string_equal(fu_str(&r, "spec.address"), ip);
	assert_string_equal(fu_str(&r, "metadata.labels.app"), "web");
	assert_string_equal(json_string_value(json_object_get(json_object_get(
	        json_object_get(r.json, "metadata"), "annotations"),
	        "istio.io/autoRegistrationGroup")), "web");
	conds = json_object_get(json_object_get(r.json, "status"), "conditions");
	assert_string_equal(json_string_value(json_object_get(
	        json_array_get(conds, 0), "type")), "Healthy");
	assert_string_equal(json_string_value(json_object_get(
	        json_array_get(conds, 0), "status")), "True");
	fu_free(&r);
	s = guest_attr(&w, "vm-1", "error");
	assert_string_equal(s, "");
	free(s);
	/* the shims saw the package, the image and the units */
	d = vm_dir(&w, "vm-1");
	s = tu_fmt("%s/root/var/log/vmsim/calls.log", d);
	j = tu_read(s, NULL);
	assert_contains(j, "dpkg -i ");
	assert_contains(j, "systemctl enable --quiet istio.service");
	assert_contains(j, "systemctl start istio.service");
	free(j);
	free(s);
	/* the token: only where the join puts it, 0600; in no log */
	s = files_with(d, tok);
	assert_string_equal(s, "./root/etc/meshvm/istio-token\n"
	                       "./root/var/run/secrets/tokens/istio-token\n");
	free(s);
	s = tu_fmt("%s/root/etc/meshvm/istio-token", d);
	assert_int_equal(mode_of(s), 0600);
	free(s);
	s = tu_fmt("%s/root/var/run/secrets/tokens/istio-token", d);
	assert_int_equal(mode_of(s), 0600);
	free(s);
	j = journal(&w);
	assert_contains(j, "\"listener\":\"vmsim\",\"method\":\"BOOT\","
	                   "\"path\":\"/vm/vm-1\"");
	assert_null(strstr(j, tok));
	free(j);
	/* the instance goes: the VM halts, its sidecar disconnects */
	delete_vm(&w, "vm-1");
	for (int i = 0; i < 300; i++) {
		const char *a;
		r = fu_req_on(w.f, "c1", "GET", url, NULL, NULL);
		a = json_string_value(json_object_get(json_object_get(
		        json_object_get(r.json, "metadata"), "annotations"),
		        "istio.io/disconnectedAt"));
		fu_free(&r);
		if (a != NULL)
			break;
		usleep(100 * 1000);
	}
	r = fu_req_on(w.f, "c1", "GET", url, NULL, NULL);
	assert_contains(r.raw.body, "istio.io/disconnectedAt");
	fu_free(&r);
	/* HALT once the VM's processes are gone */
	for (int i = 0; i < 300; i++) {
		j = journal(&w);
		bool halted = strstr(j, "\"method\":\"HALT\",\"path\":\"/vm/vm-1\"");
		free(j);
		if (halted)
			break;
		usleep(100 * 1000);
	}
	j = journal(&w);
	assert_contains(j, "\"method\":\"HALT\",\"path\":\"/vm/vm-1\"");
	free(j);
	free(d);
	free(url);
	free(ip);
	free(tok);
	free(ud);
	world_free(&w);
}

/* Registration refused: meshvm/error names istiod's reason. */
static void
assert_refused(struct world *w, const char *name, const char *token,
               const char *why)
{
	char *ud = user_data(w, "cloud-init"), *e, *ip, *url;

	insert(w, name, "user-data", ud, token);
	wait_phase(w, name, "failed");
	e = guest_attr(w, name, "error");
	if (strstr(e, why) == NULL)
		dump_vm(w, name);
	assert_contains(e, "istio.service failed");
	assert_contains(e, why);
	/* istiod's message, never the token */
	assert_null(strstr(e, token));
	free(e);
	ip = network_ip(w, name);
	url = tu_fmt(WE "/web-%s-vm-net", ip);
	assert_int_equal(fu_do_on(w->f, "c1", "GET", url, NULL, NULL), 404);
	free(url);
	free(ip);
	free(ud);
}

static void
test_token_refused(void **state)
{
	struct world w = world_new();
	char *wrong_aud, *other_sa, *expired;

	(void)state;
	/* the join script reads the key it was given: a token for another
	 * audience or ServiceAccount is refused by istiod */
	wrong_aud = fu_sa_token(w.f, "c1", "vm", "vm-sa", "somewhere-else");
	assert_refused(&w, "vm-aud", wrong_aud, "authentication failure");
	other_sa = fu_sa_token(w.f, "c1", "vm", "other", "istio-ca");
	assert_refused(&w, "vm-sa", other_sa, "authorization failed");
	/* an hour and a bit later (the fake's clock) a token has expired */
	expired = fu_sa_token(w.f, "c1", "vm", "vm-sa", "istio-ca");
	assert_int_equal(fu_do(w.f, "POST", "/_fake/clock?advance_ms=3700000",
	                       NULL), 200);
	assert_refused(&w, "vm-exp", expired, "token review");
	/* the join script reads meshvm-istio-token and no other key */
	{
		char *ud = user_data(&w, "cloud-init"), *e;
		insert_kv(&w, "vm-key", "user-data", ud, "istio-token", other_sa);
		wait_phase(&w, "vm-key", "failed");
		e = guest_attr(&w, "vm-key", "error");
		assert_string_equal(e, "no istio token: none from metadata and none "
		                       "in /etc/meshvm/istio-token");
		free(e);
		free(ud);
	}
	free(wrong_aud);
	free(other_sa);
	free(expired);
	world_free(&w);
}

/* Foreign boot metadata is not run; the journal says why. */
static void
test_foreign_refused(void **state)
{
	struct world w = world_new();
	char *ud = user_data(&w, "cloud-init"), *bad, *j, *d, *tok;

	(void)state;
	tok = fu_sa_token(w.f, "c1", "vm", "vm-sa", "istio-ca");
	insert(&w, "vm-foreign", "user-data",
	       "#cloud-config\nruncmd: [[touch, /tmp/vmsim-pwned]]\n", tok);
	bad = tu_fmt("%s", ud);
	*strstr(bad, "set -eu") = 'S'; /* our join script, changed */
	insert(&w, "vm-changed", "user-data", bad, tok);
	for (int i = 0; i < 100; i++) {
		j = journal(&w);
		bool both = strstr(j, "/vm/vm-foreign") && strstr(j, "/vm/vm-changed");
		free(j);
		if (both)
			break;
		usleep(100 * 1000);
	}
	j = journal(&w);
	assert_contains(j, "\"listener\":\"vmsim\",\"method\":\"REFUSE\","
	                   "\"path\":\"/vm/vm-foreign\",\"query\":\"reason="
	                   "a%20cloud-config%20that%20is%20not%20meshvm");
	assert_contains(j, "\"method\":\"REFUSE\",\"path\":\"/vm/vm-changed\","
	                   "\"query\":\"reason=a%20cloud-config%20that%20differs");
	assert_null(strstr(j, "\"method\":\"BOOT\""));
	free(j);
	/* nothing ran: no directory, no guest attribute */
	d = vm_dir(&w, "vm-foreign");
	assert_null(d);
	assert_false(tu_exists("/tmp/vmsim-pwned"));
	j = guest_attr(&w, "vm-changed", "phase");
	assert_string_equal(j, "");
	free(j);
	free(tok);
	free(bad);
	free(ud);
	world_free(&w);
}

/* Google's guest agent: the startup-script joins the same way. */
static void
test_startup_script_boot(void **state)
{
	struct world w = world_new();
	char *ss = user_data(&w, "startup-script"), *tok, *ip, *url;
	struct fu_resp r;

	(void)state;
	tok = fu_sa_token(w.f, "c1", "vm", "vm-sa", "istio-ca");
	insert(&w, "vm-gs", "startup-script", ss, tok);
	wait_phase(&w, "vm-gs", "joined");
	ip = network_ip(&w, "vm-gs");
	url = tu_fmt(WE "/web-%s-vm-net", ip);
	r = fu_req_on(w.f, "c1", "GET", url, NULL, NULL);
	assert_int_equal(r.status, 200);
	assert_contains(r.raw.body, "\"type\":\"Healthy\",\"status\":\"True\"");
	fu_free(&r);
	free(url);
	free(ip);
	free(tok);
	free(ss);
	world_free(&w);
}

static bool
journal_has(struct world *w, const char *s)
{
	char *j = journal(w);
	bool has = strstr(j, s) != NULL;

	free(j);
	return has;
}

/* At most boot_vms_max VMs at once: the next boots when one goes.  The
 * fake's own temporary directory is gone after it stops. */
static void
test_bounded_and_cleaned(void **state)
{
	struct world w = world_new_opt(1, true);
	char *ud = user_data(&w, "cloud-init"), *tok, *d;

	(void)state;
	tok = fu_sa_token(w.f, "c1", "vm", "vm-sa", "istio-ca");
	insert(&w, "vm-a", "user-data", ud, tok);
	insert(&w, "vm-b", "user-data", ud, tok);
	wait_phase(&w, "vm-a", "joined");
	assert_true(journal_has(&w, "\"method\":\"BOOT\",\"path\":\"/vm/vm-a\""));
	assert_false(journal_has(&w, "\"method\":\"BOOT\",\"path\":\"/vm/vm-b\""));
	d = vm_dir(&w, "vm-b");
	assert_null(d);
	delete_vm(&w, "vm-a");
	wait_phase(&w, "vm-b", "joined");
	d = vm_dir(&w, "vm-b");
	assert_non_null(d);
	free(d);
	/* stopping halts vm-b and removes every VM's directory */
	assert_int_equal(fake_stop(w.f, NULL), 0);
	assert_int_equal(tu_dir_count(w.tmp), 0);
	free(tok);
	free(ud);
	world_free(&w);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_boot_registers),
		cmocka_unit_test(test_token_refused),
		cmocka_unit_test(test_foreign_refused),
		cmocka_unit_test(test_startup_script_boot),
		cmocka_unit_test(test_bounded_and_cleaned),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
