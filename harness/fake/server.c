/* harness/fake/server.c - the fake's life cycle: options, state, PKI,
 * listeners, the state directory, and fake_handle() for socket-less use.
 *
 * State directory layout (--state DIR), written at stop, read at start:
 *   state.json     {"format": "meshvm-fake-state/1", "db": {...},
 *                   "blobs": {"bucket/object": "SHA256"}, "ports": {...}}
 *   blobs/SHA256   object contents
 *   ca.pem ca-key.pem tls.pem tls-key.pem token-key.pem   the fake's PKI
 * Everything is written 0600 (tokens and keys live there).
 */
#include <arpa/inet.h>
#include <errno.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/atomic.h"
#include "core/base64.h"
#include "core/log.h"
#include "core/pki.h"
#include "core/sha256.h"
#include "harness/fake/net.h"
#include "harness/fake/storage_int.h"

#define STATE_FORMAT "meshvm-fake-state/1"

/* Opaque to every other file: they see the shared part, st, through
 * fst(f) (state.h). */
struct fake {
	struct fstate st;         /* first: fst() relies on it */
	char *listen_host;
	int listen_port;
	struct listener *api;
	/* the trimmer (below) */
	pthread_t trim_thr;
	pthread_mutex_t trim_mu;
	pthread_cond_t trim_cv;
	bool trim_on, trim_stop;
};

/* ---- the trimmer ----
 * glibc gives each worker thread its own malloc arena, and memory a
 * thread frees stays in its arena's free lists (resident) unless it sits
 * at the arena's top.  The fake's long-lived data (the journal ring,
 * operations, cached answers, the watch history) is allocated by
 * whichever thread served the request and freed, when it ages out, by
 * another: under churn every arena ends up holding freed pages, and RSS
 * climbs by megabytes while the bytes in use stay flat (bench/fake.sh's
 * churn: docs/fake.md).  malloc_trim(0) gives the free pages of every
 * arena back, every FAKE_TRIM_SECS, from a thread of its own (it holds
 * each arena's lock while it walks it; workers reuse what it returned
 * at the cost of a page fault, about 30 a second under wrk). */
#define FAKE_TRIM_SECS 5

static void *
trim_main(void *arg)
{
	struct fake *f = arg;
	struct timespec due;

	pthread_mutex_lock(&f->trim_mu);
	while (!f->trim_stop) {
		clock_gettime(CLOCK_REALTIME, &due);
		due.tv_sec += FAKE_TRIM_SECS;
		if (pthread_cond_timedwait(&f->trim_cv, &f->trim_mu, &due) !=
		            ETIMEDOUT ||
		    f->trim_stop)
			continue;
		pthread_mutex_unlock(&f->trim_mu);
#ifdef __GLIBC__
		malloc_trim(0);
#endif
		pthread_mutex_lock(&f->trim_mu);
	}
	pthread_mutex_unlock(&f->trim_mu);
	return NULL;
}

static void
trim_start(struct fake *f)
{
	f->trim_stop = false;
	/* without it the fake still works; RSS just keeps freed pages */
	f->trim_on = pthread_create(&f->trim_thr, NULL, trim_main, f) == 0;
}

static void
trim_stop(struct fake *f)
{
	if (!f->trim_on)
		return;
	pthread_mutex_lock(&f->trim_mu);
	f->trim_stop = true;
	pthread_cond_signal(&f->trim_cv);
	pthread_mutex_unlock(&f->trim_mu);
	pthread_join(f->trim_thr, NULL);
	f->trim_on = false;
}

void
fake_options_init(struct fake_options *o)
{
	memset(o, 0, sizeof(*o));
	o->listen = "127.0.0.1:0";
	o->op_polls = 2;
	/* Handlers share one lock: more workers than cores only queue up
	 * on it (and stretch the latency tail). */
	o->threads = (int)sysconf(_SC_NPROCESSORS_ONLN);
	if (o->threads < 2)
		o->threads = 2;
	if (o->threads > 16)
		o->threads = 16;
	o->idle_timeout = 60;
	o->controller_delay_ms = 1000;
	o->istiod_grace_ms = 10000;
	o->lb_range = "203.0.113.0/24";
	o->watch_events = 4096;
	o->watch_bytes = (size_t)64 << 20;
	o->max_connections = 512;
	o->header_timeout = 10;
	o->max_inflight_bytes = (size_t)64 << 20;
	o->journal_bytes = (size_t)32 << 20;
	o->traffic_speed = 1;
	o->max_upload_bytes = (size_t)5 << 30;
	o->boot_vms_max = 4;
	o->boot_timeout_s = 600;
}

char *
fake_ca_pem(struct fake *f)
{
	char *pem = NULL;

	pthread_mutex_lock(&fst(f)->lock);
	if (fst(f)->pki.ca_pem != NULL)
		pem = strdup(fst(f)->pki.ca_pem);
	pthread_mutex_unlock(&fst(f)->lock);
	return pem;
}

const char *
fake_url(const struct fake *f)
{
	return f ? f->st.url : "";
}

/* ---- state directory ---- */

static char *
read_file(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "re");
	char *buf = NULL;
	long n;

	if (fp == NULL)
		return NULL;
	if (fseek(fp, 0, SEEK_END) == 0 && (n = ftell(fp)) >= 0 &&
	    fseek(fp, 0, SEEK_SET) == 0) {
		buf = malloc((size_t)n + 1);
		if (buf != NULL && fread(buf, 1, (size_t)n, fp) != (size_t)n) {
			free(buf);
			buf = NULL;
		}
		if (buf != NULL) {
			buf[n] = '\0';
			if (len)
				*len = (size_t)n;
		}
	}
	fclose(fp);
	return buf;
}

static int
state_load(struct fake *f, struct mv_err *err)
{
	const char *dir = fst(f)->opt.state_dir;
	char path[4096];
	json_error_t je;
	json_t *doc, *blobs, *v;
	const char *k;

	snprintf(path, sizeof(path), "%s/state.json", dir);
	if (access(path, F_OK) != 0)
		return fake_pki_load(&fst(f)->pki, dir, err);
	doc = json_load_file(path, 0, &je);
	if (doc == NULL)
		return mv_err_at(err, MV_EXIT_FAIL, path, je.line, je.column, "%s",
		                 je.text);
	if (strcmp(fake_jstr(doc, "format"), STATE_FORMAT) != 0 ||
	    !json_is_object(json_object_get(doc, "db"))) {
		json_decref(doc);
		return mv_err_set(err, MV_EXIT_FAIL, "%s: not a %s file", path,
		                  STATE_FORMAT);
	}
	json_decref(fst(f)->db);
	fst(f)->db = json_incref(json_object_get(doc, "db"));
	blobs = json_object_get(doc, "blobs");
	json_object_foreach(blobs, k, v) {
		char bpath[4096];
		size_t n = 0;
		char *data;
		struct blob *nb;

		snprintf(bpath, sizeof(bpath), "%s/blobs/%s", dir,
		         json_string_value(v));
		data = read_file(bpath, &n);
		if (data == NULL) {
			json_decref(doc);
			return mv_err_sys(err, errno, "%s", bpath);
		}
		nb = realloc(fst(f)->blobs, (fst(f)->n_blobs + 1) * sizeof(*nb));
		if (nb == NULL) {
			free(data);
			json_decref(doc);
			return mv_err_set(err, MV_EXIT_FAIL, "out of memory");
		}
		fst(f)->blobs = nb;
		nb[fst(f)->n_blobs].key = strdup(k);
		nb[fst(f)->n_blobs].data = (uint8_t *)data;
		nb[fst(f)->n_blobs].len = n;
		fst(f)->n_blobs++;
	}
	json_decref(doc);
	return fake_pki_load(&fst(f)->pki, dir, err);
}

static int
write_private(const char *dir, const char *name, const char *data,
              size_t len, struct mv_err *err)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return mv_write_file_atomic(path, data, len, 0600, err);
}

static int
state_save(struct fake *f, struct mv_err *err)
{
	const char *dir = fst(f)->opt.state_dir;
	json_t *doc, *blobs = json_object();
	char bdir[4096], *s;
	int rc = 0;

	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return mv_err_sys(err, errno, "%s", dir);
	snprintf(bdir, sizeof(bdir), "%s/blobs", dir);
	if (mkdir(bdir, 0700) != 0 && errno != EEXIST)
		return mv_err_sys(err, errno, "%s", bdir);
	for (size_t i = 0; i < fst(f)->n_blobs && rc == 0; i++) {
		char hex[MV_SHA256_HEX], name[128];
		mv_sha256_buf_hex(fst(f)->blobs[i].data, fst(f)->blobs[i].len, hex);
		snprintf(name, sizeof(name), "blobs/%s", hex);
		rc = write_private(dir, name, (const char *)fst(f)->blobs[i].data,
		                   fst(f)->blobs[i].len, err);
		json_object_set_new(blobs, fst(f)->blobs[i].key, json_string(hex));
	}
	doc = json_pack("{s:s, s:O, s:o}", "format", STATE_FORMAT, "db", fst(f)->db,
	                "blobs", blobs);
	s = json_dumps(doc, JSON_INDENT(1) | JSON_SORT_KEYS);
	json_decref(doc);
	if (rc == 0 && s == NULL)
		rc = mv_err_set(err, MV_EXIT_FAIL, "state: out of memory");
	if (rc == 0)
		rc = write_private(dir, "state.json", s, strlen(s), err);
	free(s);
	if (rc == 0)
		rc = fake_pki_save(&fst(f)->pki, dir, err);
	return rc;
}

/* ---- life cycle ---- */

static int
parse_listen(struct fake *f, struct mv_err *err)
{
	const char *l = fst(f)->opt.listen ? fst(f)->opt.listen : "127.0.0.1:0";
	const char *colon = strrchr(l, ':');
	char *end;
	long port;

	if (colon == NULL)
		return mv_err_set(err, MV_EXIT_USAGE, "--listen '%s': expected "
		                  "HOST:PORT", l);
	port = strtol(colon + 1, &end, 10);
	if (*end != '\0' || end == colon + 1 || port < 0 || port > 65535)
		return mv_err_set(err, MV_EXIT_USAGE, "--listen '%s': bad port", l);
	f->listen_host = strndup(l, (size_t)(colon - l));
	if (strcmp(f->listen_host, "localhost") == 0) {
		free(f->listen_host);
		f->listen_host = strdup("127.0.0.1");
	}
	/* One address, never every interface: the fake trusts whoever
	 * reaches it, so it is loopback or a namespace's own address (that
	 * a container or VM reaches through a forward). */
	{
		struct in_addr a;
		if (inet_pton(AF_INET, f->listen_host, &a) != 1)
			return mv_err_set(err, MV_EXIT_USAGE, "--listen '%s': expected "
			                  "an IPv4 address", l);
		if (a.s_addr == htonl(INADDR_ANY))
			return mv_err_set(err, MV_EXIT_USAGE, "--listen '%s': not the "
			                  "wildcard address; name the one address to "
			                  "serve on", l);
	}
	snprintf(fst(f)->host, sizeof(fst(f)->host), "%s", f->listen_host);
	f->listen_port = (int)port;
	return 0;
}

int
fake_new(const struct fake_options *o, struct fake **out,
         struct mv_err *err)
{
	struct fake *f = calloc(1, sizeof(*f));
	size_t len;
	char *buf;

	*out = NULL;
	if (f == NULL)
		return mv_err_set(err, MV_EXIT_FAIL, "out of memory");
	fst(f)->opt = *o;
	if (fst(f)->opt.threads < 1)
		fst(f)->opt.threads = 1;
	if (fst(f)->opt.op_polls < 1)
		fst(f)->opt.op_polls = 1;
	if (fst(f)->opt.op_time_ms < 0)
		fst(f)->opt.op_time_ms = 0;
	if (fst(f)->opt.idle_timeout < 1)
		fst(f)->opt.idle_timeout = 60;
	if (fst(f)->opt.watch_events < 1)
		fst(f)->opt.watch_events = 4096;
	if (fst(f)->opt.watch_bytes < 4096)
		fst(f)->opt.watch_bytes = 4096;
	if (fst(f)->opt.max_connections < 4)
		fst(f)->opt.max_connections = 4;
	if (fst(f)->opt.header_timeout < 1)
		fst(f)->opt.header_timeout = 10;
	if (fst(f)->opt.max_inflight_bytes < 65536)
		fst(f)->opt.max_inflight_bytes = 65536;
	if (fst(f)->opt.journal_bytes < 4096)
		fst(f)->opt.journal_bytes = 4096;
	if (fst(f)->opt.max_upload_bytes == 0)
		fst(f)->opt.max_upload_bytes = (size_t)5 << 30;
	fst(f)->seed = o->seed;
	fst(f)->on_cluster_delete = gke_remove_cluster_now;
	fst(f)->on_snapshot = state_save;
	fst(f)->opt.sa_key_files = NULL;
	fst(f)->opt.n_sa_key_files = 0;
	/* the caller's array need not outlive fake_new */
	fst(f)->opt.tls_san = NULL;
	fst(f)->opt.n_tls_san = 0;
	if (fake_cidr4(o->lb_range ? o->lb_range : "203.0.113.0/24",
	               &fst(f)->lb_net, &fst(f)->lb_bits) != 0) {
		mv_err_set(err, MV_EXIT_USAGE, "--lb-range %s: not an IPv4 CIDR "
		           "with its host bits zero (like 203.0.113.0/24)",
		           o->lb_range);
		free(f);
		return -1;
	}
	fst(f)->opt.lb_range = NULL;
	fst(f)->pki.san = json_array();
	for (size_t i = 0; i < o->n_tls_san; i++)
		json_array_append_new(fst(f)->pki.san,
		                      json_string(o->tls_san[i]));
	pthread_mutex_init(&fst(f)->lock, NULL);
	pthread_mutex_init(&f->trim_mu, NULL);
	pthread_cond_init(&f->trim_cv, NULL);
	fst(f)->db = json_object();
	if (parse_listen(f, err) != 0)
		goto fail;
	/* the certificate names the address the listeners serve */
	if (strcmp(fst(f)->host, "127.0.0.1") != 0)
		json_array_append_new(fst(f)->pki.san, json_string(fst(f)->host));
	fst(f)->opt.listen = NULL;
	for (size_t i = 0; i < o->n_sa_key_files; i++)
		if (auth_load_sa_key(f, o->sa_key_files[i], err) != 0)
			goto fail;
	if (journal_open(o->journal_file, fst(f)->opt.journal_bytes,
	                 fst(f)->opt.journal_bodies, &fst(f)->journal, err) != 0)
		goto fail;
	fst(f)->opt.journal_file = NULL;
	if (o->faults_file != NULL) {
		buf = read_file(o->faults_file, &len);
		if (buf == NULL) {
			mv_err_sys(err, errno, "%s", o->faults_file);
			goto fail;
		}
		if (faults_load(f, o->faults_file, buf, len, &fst(f)->faults, err)) {
			free(buf);
			goto fail;
		}
		free(buf);
	}
	fst(f)->opt.faults_file = NULL;
	if (o->state_dir != NULL) {
		fst(f)->opt.state_dir = strdup(o->state_dir);
		if (state_load(f, err) != 0)
			goto fail;
	}
	{
		json_t *cl;
		const char *key;
		json_object_foreach(fake_db(f, "clusters"), key, cl)
			if (kube_cluster_add(f, key, fake_jstr(cl, "name"), cl,
			                     err) == NULL)
				goto fail;
	}
	*out = f;
	return 0;
fail:
	fake_free(f);
	return -1;
}

int
fake_start(struct fake *f, struct mv_err *err)
{
	json_t *clusters, *cl;
	const char *key;
	struct sigaction sa;

	if (fst(f)->started)
		return 0;
	/* A client that hangs up must not kill the server with SIGPIPE. */
	if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL)
		signal(SIGPIPE, SIG_IGN);
	if (delayer_start(f, err) != 0)
		return -1;
	if (fst(f)->opt.tls && fake_pki_ensure(f, err) != 0) {
		delayer_stop(f);
		return -1;
	}
	if (listener_start(f, FAKE_API_LISTENER, NULL, f->listen_host,
	                   f->listen_port, fst(f)->opt.tls, &f->api, err) != 0) {
		delayer_stop(f);
		return -1;
	}
	snprintf(fst(f)->url, sizeof(fst(f)->url), "%s://%s:%d",
	         fst(f)->opt.tls ? "https" : "http", f->listen_host,
	         listener_port(f->api));
	pthread_mutex_lock(&fst(f)->lock);
	fst(f)->net = &fake_http_net;
	fst(f)->started = true;
	/* Clusters from the state directory get their API back, on the same
	 * port when it is free. */
	clusters = fake_db(f, "clusters");
	json_object_foreach(clusters, key, cl) {
		struct kcluster *kc = kube_cluster_add(f, key, fake_jstr(cl, "name"),
		                                       cl, err);
		char ep[64];
		if (kc == NULL) {
			pthread_mutex_unlock(&fst(f)->lock);
			return -1;
		}
		snprintf(ep, sizeof(ep), "%s:%d", fst(f)->host, kc->port);
		json_object_set_new(cl, "endpoint", json_string(ep));
	}
	pthread_mutex_unlock(&fst(f)->lock);
	if (vmboot_start(f, err) != 0) {
		fake_stop(f, NULL);
		return -1;
	}
	trim_start(f);
	return 0;
}

int
fake_stop(struct fake *f, struct mv_err *err)
{
	int rc = 0;

	if (f == NULL || fst(f)->stopped)
		return 0;
	/* VMs shut down while the fake still answers: their sidecars
	 * disconnect from istiod */
	vmboot_stop(f);
	trim_stop(f);
	/* open watches see it and end */
	pthread_mutex_lock(&fst(f)->lock);
	fst(f)->stopped = true;
	pthread_mutex_unlock(&fst(f)->lock);
	if (f->api != NULL) {
		listener_stop(f->api);
		f->api = NULL;
	}
	vmnet_stop_all(f);
	kube_free_all(f);
	delayer_stop(f);
	for (size_t i = 0; i < fst(f)->n_closing; i++)
		kube_cluster_free(f, fst(f)->closing[i]);
	free(fst(f)->closing);
	fst(f)->closing = NULL;
	fst(f)->n_closing = 0;
	journal_flush(fst(f)->journal);
	if (fst(f)->opt.state_dir != NULL)
		rc = state_save(f, err);
	fst(f)->started = false;
	return rc;
}

void
fake_free(struct fake *f)
{
	if (f == NULL)
		return;
	if (fst(f)->started)
		fake_stop(f, NULL);
	else
		kube_free_all(f);
	for (size_t i = 0; i < fst(f)->n_sa_keys; i++) {
		free(fst(f)->sa_keys[i].email);
		free(fst(f)->sa_keys[i].kid);
		free(fst(f)->sa_keys[i].token_uri);
		EVP_PKEY_free(fst(f)->sa_keys[i].key);
	}
	free(fst(f)->sa_keys);
	for (size_t i = 0; i < fst(f)->n_blobs; i++) {
		free(fst(f)->blobs[i].key);
		free(fst(f)->blobs[i].data);
	}
	free(fst(f)->blobs);
	storage_uploads_free(f);
	faults_free(fst(f)->faults);
	traffic_free(f);
	journal_close(fst(f)->journal);
	rcache_clear(f);
	json_decref(fst(f)->db);
	fake_pki_free(&fst(f)->pki);
	json_decref(fst(f)->blob_index);
	json_decref(fst(f)->inst_index);
	free(f->listen_host);
	free((char *)fst(f)->opt.state_dir);
	pthread_mutex_destroy(&fst(f)->lock);
	pthread_mutex_destroy(&f->trim_mu);
	pthread_cond_destroy(&f->trim_cv);
	free(f);
}

/* ---- socket-less requests ---- */

int
fake_handle(struct fake *f, const char *listener, const char *method,
            const char *target, const char *const *headers, size_t n_headers,
            const void *body, size_t body_len, struct fake_response *out)
{
	struct fake_kv *hv = calloc(n_headers + 1, sizeof(*hv));
	struct freq rq;
	struct fresp rs;
	const char *host;
	int rc = -1, port = 0;

	memset(out, 0, sizeof(*out));
	memset(&rq, 0, sizeof(rq));
	memset(&rs, 0, sizeof(rs));
	if (hv == NULL)
		return -1;
	for (size_t i = 0; i < n_headers; i++) {
		const char *colon = strchr(headers[i], ':');
		if (colon == NULL)
			continue;
		hv[rq.n_hdr].k = strndup(headers[i], (size_t)(colon - headers[i]));
		colon++;
		while (*colon == ' ')
			colon++;
		hv[rq.n_hdr].v = strdup(colon);
		rq.n_hdr++;
	}
	rq.hdr = hv;
	if (strcmp(listener, FAKE_API_LISTENER) != 0) {
		struct kcluster *kc;
		/* Only the port is taken here; the cluster itself is looked up
		 * again under the lock by the pipeline (rq.cluster_name), since
		 * another thread may delete it meanwhile. */
		pthread_mutex_lock(&fst(f)->lock);
		kc = kube_cluster_by_name(f, listener);
		port = kc ? kc->port : 0;
		pthread_mutex_unlock(&fst(f)->lock);
		if (kc == NULL)
			goto done;
		rq.cluster_name = true;
	}
	if (freq_parse_target(&rq, target) != 0)
		goto done;
	rq.listener = listener;
	rq.method = method;
	rq.body = body;
	rq.too_large = body_len > FAKE_MAX_BODY;
	rq.body_len = rq.too_large ? 0 : body_len;
	host = freq_header(&rq, "Host");
	if (host != NULL)
		snprintf(rq.base, sizeof(rq.base), "%s://%s",
		         rq.cluster_name ? "https" : "http", host);
	else if (rq.cluster_name)
		snprintf(rq.base, sizeof(rq.base), "https://%s:%d", fst(f)->host,
		         port);
	else
		snprintf(rq.base, sizeof(rq.base), "%s",
		         fst(f)->url[0] ? fst(f)->url : "http://127.0.0.1:0");
	fake_dispatch(f, &rq, &rs);
	out->status = rs.reset ? 0 : rs.status;
	out->content_type = strdup(rs.ctype);
	out->body_len = rs.body ? rs.len : 0;
	out->body = resp_body_take(&rs);
	if (out->body == NULL) {
		out->body = strdup("");
		out->body_len = 0;
	}
	out->headers = strdup(rs.hdrs);
	out->delay_ms = rs.delay_ms;
	rs.body = NULL;
	/* no socket to stream on: what was there at once is the answer */
	if (rs.stream != NULL && rs.stream_free != NULL)
		rs.stream_free(rs.stream);
	rc = 0;
done:
	rq.hdr = NULL;
	freq_clear(&rq);
	for (size_t i = 0; i < n_headers; i++) {
		free(hv[i].k);
		free(hv[i].v);
	}
	free(hv);
	return rc;
}

void
fake_response_free(struct fake_response *r)
{
	if (r == NULL)
		return;
	free(r->content_type);
	free(r->body);
	free(r->headers);
	memset(r, 0, sizeof(*r));
}
