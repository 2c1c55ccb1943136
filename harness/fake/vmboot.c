/* harness/fake/vmboot.c - `meshvm fake --boot-vms`: every RUNNING instance
 * whose boot metadata is ours boots as a simulated VM (harness/vmsim), and
 * shuts down when it stops being RUNNING (deleted, stopped) or the fake
 * stops.  A service of the fake: it reads the instances table under the
 * lock, then classifies and runs VMs off it, in its own thread, so a VM
 * calling back into the fake (metadata, storage, istiod) never waits for
 * a lock this thread holds.
 *
 * Journaled like requests, on listener "vmsim": method BOOT (status 200,
 * started), REFUSE (403, foreign boot metadata: not run, the reason in
 * the query), BOOTED (200 when the boot script exited 0, else 500), HALT
 * (200).  Bounded: at most boot_vms_max VMs at once (more wait), each
 * VM's boot script runs at most boot_timeout_s, its console is capped.
 *
 * A VM reaches the fake through forwards (vmsim.h): the API on 127.0.0.1
 * and the same port inside its network namespace, and the simulated
 * istiod on each cluster's loopback LoadBalancer addresses, port 15012.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/xalloc.h"
#include "harness/fake/svc.h"
#include "harness/vmsim/vmsim.h"

#define VMBOOT_LOG_CAP ((size_t)1 << 20)
#define VMBOOT_GRACE_MS 5000

struct vmrec {
	char *id, *name;
	struct vmsim_vm *vm;   /* NULL: refused */
	bool booted_said;
	bool seen;
};

struct vmboot {
	pthread_t thr;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool quit;
	char *dir;
	bool own_dir;
	unsigned seq;
	struct vmrec *v;
	size_t n;
};

/* One RUNNING instance as read under the lock. */
struct snap {
	char *id, *name, *key, *meta;
	size_t meta_len;
};

static void
say(struct fake *f, const char *method, const char *name, int status,
    const char *query)
{
	struct freq rq;
	struct fresp rs;
	char path[320];

	memset(&rq, 0, sizeof(rq));
	memset(&rs, 0, sizeof(rs));
	snprintf(path, sizeof(path), "/vm/%s", name);
	rq.listener = "vmsim";
	rq.method = method;
	rq.path = path;
	rq.query = (char *)query;
	rs.status = status;
	pthread_mutex_lock(&fst(f)->lock);
	journal_record(fst(f)->journal, &rq, &rs, 0);
	pthread_mutex_unlock(&fst(f)->lock);
	journal_flush(fst(f)->journal);
}

/* "reason=..." percent-encoded enough for a query. */
static char *
query_of(const char *k, const char *v)
{
	size_t n = strlen(v);
	char *q = mv_xmalloc(strlen(k) + 2 + 3 * n + 1), *p = q;

	p += sprintf(p, "%s=", k);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)v[i];
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
		    c == '~')
			*p++ = (char)c;
		else
			p += sprintf(p, "%%%02X", c);
	}
	*p = '\0';
	return q;
}

static void
snaps_free(struct snap *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(s[i].id);
		free(s[i].name);
		free(s[i].key);
		free(s[i].meta);
	}
	free(s);
}

static struct vmrec *
rec_find(struct vmboot *vb, const char *id)
{
	for (size_t i = 0; i < vb->n; i++)
		if (!strcmp(vb->v[i].id, id))
			return &vb->v[i];
	return NULL;
}

/* RUNNING instances and the forwards a VM needs, under the lock; the
 * boot metadata only of those not seen yet. */
static struct snap *
snapshot(struct fake *f, struct vmboot *vb, size_t *n, struct vmsim_boot *tmpl)
{
	json_t *insts, *inst;
	const char *key;
	struct snap *s = NULL;
	size_t k = 0;
	int port = 0;
	const char *colon;

	pthread_mutex_lock(&fst(f)->lock);
	insts = fake_db(f, "instances");
	s = mv_xcalloc(json_object_size(insts) + 1, sizeof(*s));
	json_object_foreach(insts, key, inst) {
		json_t *items = json_object_get(json_object_get(inst, "metadata"),
		                                "items"), *it;
		const char *which = NULL, *val = NULL;
		size_t i, len = 0;
		if (strcmp(fake_jstr(inst, "status"), "RUNNING") != 0)
			continue;
		if (rec_find(vb, fake_jstr(inst, "id")) != NULL)
			items = NULL;
		json_array_foreach(items, i, it) {
			const char *ik = fake_jstr(it, "key");
			json_t *v = json_object_get(it, "value");
			if (!json_is_string(v))
				continue;
			if (!strcmp(ik, "user-data") ||
			    (!strcmp(ik, "startup-script") && which == NULL)) {
				which = !strcmp(ik, "user-data") ? "user-data"
				                                 : "startup-script";
				val = json_string_value(v);
				len = json_string_length(v);
			}
		}
		s[k].id = mv_xstrdup(fake_jstr(inst, "id"));
		s[k].name = mv_xstrdup(fake_jstr(inst, "name"));
		s[k].key = which ? mv_xstrdup(which) : NULL;
		s[k].meta = val ? mv_xstrndup(val, len) : NULL;
		s[k].meta_len = val ? len : 0;
		k++;
	}
	colon = strrchr(fst(f)->url, ':');
	port = colon ? atoi(colon + 1) : 0;
	tmpl->n_fwd = 0;
	snprintf(tmpl->fwd[0].in_ip, sizeof(tmpl->fwd[0].in_ip), "127.0.0.1");
	tmpl->fwd[0].in_port = port;
	snprintf(tmpl->fwd[0].out_ip, sizeof(tmpl->fwd[0].out_ip), "%s",
	         fst(f)->host);
	tmpl->fwd[0].out_port = port;
	tmpl->n_fwd = 1;
	for (size_t c = 0; c < fst(f)->n_kc; c++) {
		struct kcluster *kc = fst(f)->kc[c];
		for (size_t j = 0; kc && !kc->removed && j < kc->n_lb &&
		                   tmpl->n_fwd < VMSIM_FWD_MAX; j++) {
			struct vmsim_fwd *w = &tmpl->fwd[tmpl->n_fwd++];
			snprintf(w->in_ip, sizeof(w->in_ip), "%s", kc->lb_ip[j]);
			snprintf(w->out_ip, sizeof(w->out_ip), "%s", kc->lb_ip[j]);
			w->in_port = w->out_port = FAKE_ISTIOD_PORT;
		}
	}
	pthread_mutex_unlock(&fst(f)->lock);
	*n = k;
	return s;
}

static size_t
running(const struct vmboot *vb)
{
	size_t n = 0;

	for (size_t i = 0; i < vb->n; i++)
		n += vb->v[i].vm != NULL;
	return n;
}

static void
rec_halt(struct fake *f, struct vmboot *vb, size_t i)
{
	struct vmrec *r = &vb->v[i];

	if (r->vm != NULL) {
		vmsim_stop(r->vm, VMBOOT_GRACE_MS);
		say(f, "HALT", r->name, 200, "");
	}
	free(r->id);
	free(r->name);
	vb->v[i] = vb->v[--vb->n];
}

static void
boot_one(struct fake *f, struct vmboot *vb, struct snap *s,
         const struct vmsim_boot *tmpl)
{
	struct vmsim_plan *plan = NULL;
	struct vmsim_boot b = *tmpl;
	struct vmrec *r;
	struct mv_err err;
	char *q, *dir, *md, *st;
	int port = tmpl->fwd[0].in_port;

	mv_err_clear(&err);
	if (s->meta == NULL)
		mv_err_set(&err, MV_EXIT_FAIL, "no user-data or startup-script");
	if (s->meta != NULL &&
	    vmsim_classify(s->key, s->meta, s->meta_len, &plan, &err) == 0 &&
	    running(vb) >= (size_t)fst(f)->opt.boot_vms_max) {
		vmsim_plan_free(plan); /* waits for a free slot */
		return;
	}
	vb->v = mv_xreallocarray(vb->v, vb->n + 1, sizeof(*vb->v));
	r = &vb->v[vb->n++];
	memset(r, 0, sizeof(*r));
	r->id = mv_xstrdup(s->id);
	r->name = mv_xstrdup(s->name);
	r->seen = true;
	if (plan == NULL) {
		q = query_of("reason", err.msg);
		mv_warn("fake: vm %s: not booted: %s", s->name, err.msg);
		say(f, "REFUSE", s->name, 403, q);
		free(q);
		return;
	}
	/* a fresh disk per boot: an instance started again after a stop
	 * boots anew (reboots with the same disk are not simulated) */
	dir = mv_xstrfmt("%s/%s-%s-%u", vb->dir, s->name, s->id, ++vb->seq);
	md = mv_xstrfmt("http://127.0.0.1:%d/vm/%s/computeMetadata/v1", port,
	                s->name);
	st = mv_xstrfmt("http://127.0.0.1:%d/storage/v1", port);
	b.name = s->name;
	b.dir = dir;
	b.metadata_url = md;
	b.storage_url = st;
	if (vmsim_start(&b, plan, &r->vm, &err) != 0) {
		r->vm = NULL;
		q = query_of("error", err.msg);
		mv_warn("fake: vm %s: %s", s->name, err.msg);
		say(f, "BOOT", s->name, 500, q);
	} else {
		q = query_of("kind", plan->kind);
		mv_debug("fake: vm %s boots (%s) in %s", s->name, plan->kind, dir);
		say(f, "BOOT", s->name, 200, q);
	}
	free(q);
	free(dir);
	free(md);
	free(st);
	vmsim_plan_free(plan);
}

static void
tick(struct fake *f, struct vmboot *vb)
{
	struct vmsim_boot tmpl;
	struct snap *s;
	size_t n, i;
	int rc;

	memset(&tmpl, 0, sizeof(tmpl));
	tmpl.boot_timeout_s = fst(f)->opt.boot_timeout_s;
	tmpl.log_cap = VMBOOT_LOG_CAP;
	s = snapshot(f, vb, &n, &tmpl);
	for (i = 0; i < vb->n; i++)
		vb->v[i].seen = false;
	for (i = 0; i < n; i++) {
		struct vmrec *r = rec_find(vb, s[i].id);
		if (r != NULL)
			r->seen = true;
		else
			boot_one(f, vb, &s[i], &tmpl);
	}
	for (i = vb->n; i-- > 0;) {
		struct vmrec *r = &vb->v[i];
		if (!r->seen) {
			rec_halt(f, vb, i);
			continue;
		}
		if (r->vm != NULL && !r->booted_said && vmsim_booted(r->vm, &rc)) {
			char q[32];
			snprintf(q, sizeof(q), "rc=%d", rc);
			r->booted_said = true;
			say(f, "BOOTED", r->name, rc == 0 ? 200 : 500, q);
		}
	}
	snaps_free(s, n);
}

static void *
vmboot_thread(void *arg)
{
	struct fake *f = arg;
	struct vmboot *vb = fst(f)->vmboot;

	pthread_mutex_lock(&vb->mu);
	while (!vb->quit) {
		struct timespec t;
		pthread_mutex_unlock(&vb->mu);
		tick(f, vb);
		pthread_mutex_lock(&vb->mu);
		clock_gettime(CLOCK_REALTIME, &t);
		t.tv_nsec += 200 * 1000 * 1000;
		if (t.tv_nsec >= 1000000000L) {
			t.tv_sec++;
			t.tv_nsec -= 1000000000L;
		}
		if (!vb->quit)
			pthread_cond_timedwait(&vb->cv, &vb->mu, &t);
	}
	pthread_mutex_unlock(&vb->mu);
	while (vb->n > 0)
		rec_halt(f, vb, vb->n - 1);
	return NULL;
}

int
vmboot_start(struct fake *f, struct mv_err *err)
{
	struct vmboot *vb;

	if (!fst(f)->opt.boot_vms || fst(f)->vmboot != NULL)
		return 0;
	if (fst(f)->opt.tls)
		return mv_err_set(err, MV_EXIT_USAGE, "--boot-vms needs the plain "
		                  "HTTP API (a VM's metadata server is http): "
		                  "drop --tls");
	vb = mv_xcalloc(1, sizeof(*vb));
	if (fst(f)->opt.boot_vms_dir != NULL) {
		vb->dir = mv_xstrdup(fst(f)->opt.boot_vms_dir);
		if (mkdir(vb->dir, geteuid() == 0 ? 0711 : 0700) != 0 &&
		    errno != EEXIST) {
			mv_err_set(err, MV_EXIT_FAIL, "--boot-vms-dir %s: %s", vb->dir,
			           strerror(errno));
			free(vb->dir);
			free(vb);
			return -1;
		}
	} else {
		const char *tmp = getenv("TMPDIR");
		vb->dir = mv_xstrfmt("%s/meshvm-vms.XXXXXX",
		                     tmp && *tmp ? tmp : "/tmp");
		if (mkdtemp(vb->dir) == NULL) {
			mv_err_set(err, MV_EXIT_FAIL, "--boot-vms: %s: %s", vb->dir,
			           strerror(errno));
			free(vb->dir);
			free(vb);
			return -1;
		}
		vb->own_dir = true;
	}
	/* run as root, VMs are nobody's (harness/vmsim): they pass through */
	if (vb->own_dir && geteuid() == 0)
		chmod(vb->dir, 0711);
	pthread_mutex_init(&vb->mu, NULL);
	pthread_cond_init(&vb->cv, NULL);
	fst(f)->vmboot = vb;
	if (pthread_create(&vb->thr, NULL, vmboot_thread, f) != 0) {
		fst(f)->vmboot = NULL;
		pthread_mutex_destroy(&vb->mu);
		pthread_cond_destroy(&vb->cv);
		free(vb->dir);
		free(vb);
		return mv_err_set(err, MV_EXIT_FAIL, "--boot-vms: no thread");
	}
	return 0;
}

void
vmboot_stop(struct fake *f)
{
	struct vmboot *vb = fst(f)->vmboot;

	if (vb == NULL)
		return;
	pthread_mutex_lock(&vb->mu);
	vb->quit = true;
	pthread_cond_signal(&vb->cv);
	pthread_mutex_unlock(&vb->mu);
	pthread_join(vb->thr, NULL);
	if (vb->own_dir)
		vmsim_rmtree(vb->dir);
	free(vb->v);
	free(vb->dir);
	pthread_mutex_destroy(&vb->mu);
	pthread_cond_destroy(&vb->cv);
	free(vb);
	fst(f)->vmboot = NULL;
}
