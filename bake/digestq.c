/* bake/digestq.c - the digest thread of verify and unpack (see
 * digestq.h).
 *
 * Jobs sit in a fixed ring; the caller blocks when it is full, the thread
 * when it is empty.  The thread takes every job queued at once and runs
 * them outside the lock, so a 256 KiB buffer costs one lock round trip,
 * not one per job; each side wakes the other only when it waits.
 */
#include "bake/digestq.h"

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/sha256.h"
#include "core/timing.h"
#include "core/xalloc.h"

#define DEPTH 1024

enum job_kind { J_BEGIN, J_DATA, J_END, J_MARK };

struct job {
	enum job_kind kind;
	const void *buf;
	size_t len;
	void *owned;      /* J_DATA of a copy: freed once hashed */
	uint64_t token;   /* J_MARK */
	size_t id;        /* J_END */
	const char *want; /* J_END */
};

struct digestq {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct job jobs[DEPTH];
	uint64_t head, tail;  /* queued up to head, run up to tail */
	bool caller_waits, worker_waits, stop;
	digestq_release_fn release;
	void *ud;
	/* the thread's, read by the caller after a sync */
	struct mv_sha256 sha;
	bool in_file, bad, oom;
	size_t bad_id;
	double starved_s; /* waiting for work */
};

static void
run_job(struct digestq *q, struct job *j)
{
	char got[MV_SHA256_HEX];

	switch (j->kind) {
	case J_BEGIN:
		mv_sha256_discard(&q->sha);
		q->in_file = mv_sha256_init(&q->sha) == 0;
		if (!q->in_file)
			q->oom = true;
		break;
	case J_DATA:
		mv_sha256_update_far(&q->sha, j->buf, j->len);
		free(j->owned);
		j->owned = NULL;
		break;
	case J_END:
		if (!q->in_file)
			break;
		mv_sha256_final_hex(&q->sha, got);
		q->in_file = false;
		if (strcmp(got, j->want) != 0 && !q->bad) {
			q->bad = true;
			q->bad_id = j->id;
		}
		break;
	case J_MARK:
		if (q->release != NULL)
			q->release(q->ud, j->token);
		break;
	}
}

static void *
worker_main(void *arg)
{
	struct digestq *q = arg;
	sigset_t block;

	/* SIGINT/SIGTERM go to the thread that writes files (unpack's
	 * cleanup must not race a write). */
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &block, NULL);
	pthread_mutex_lock(&q->lock);
	for (;;) {
		uint64_t from = q->tail, to = q->head;
		if (q->stop)
			break;
		if (from == to) {
			double t0 = mv_time_s();
			q->worker_waits = true;
			pthread_cond_wait(&q->cond, &q->lock);
			q->worker_waits = false;
			q->starved_s += mv_time_s() - t0;
			continue;
		}
		pthread_mutex_unlock(&q->lock);
		for (uint64_t i = from; i < to; i++)
			run_job(q, &q->jobs[i % DEPTH]);
		pthread_mutex_lock(&q->lock);
		q->tail = to;
		if (q->caller_waits)
			pthread_cond_broadcast(&q->cond);
	}
	pthread_mutex_unlock(&q->lock);
	return NULL;
}

static void
push(struct digestq *q, const struct job *j)
{
	pthread_mutex_lock(&q->lock);
	while (q->head - q->tail == DEPTH) {
		q->caller_waits = true;
		pthread_cond_wait(&q->cond, &q->lock);
		q->caller_waits = false;
	}
	q->jobs[q->head % DEPTH] = *j;
	q->head++;
	if (q->worker_waits)
		pthread_cond_broadcast(&q->cond);
	pthread_mutex_unlock(&q->lock);
}

int
digestq_open(struct digestq **out, digestq_release_fn release, void *ud,
             struct mv_err *err)
{
	struct digestq *q = mv_xcalloc(1, sizeof(*q));

	*out = NULL;
	q->release = release;
	q->ud = ud;
	pthread_mutex_init(&q->lock, NULL);
	pthread_cond_init(&q->cond, NULL);
	if (pthread_create(&q->thread, NULL, worker_main, q) != 0) {
		pthread_mutex_destroy(&q->lock);
		pthread_cond_destroy(&q->cond);
		free(q);
		return mv_err_set(err, MV_EXIT_FAIL, "cannot start thread");
	}
	*out = q;
	return 0;
}

void
digestq_begin(struct digestq *q)
{
	struct job j = {.kind = J_BEGIN};

	push(q, &j);
}

void
digestq_data(struct digestq *q, const void *buf, size_t len)
{
	struct job j = {.kind = J_DATA, .buf = buf, .len = len};

	if (len > 0)
		push(q, &j);
}

void
digestq_data_copy(struct digestq *q, const void *buf, size_t len)
{
	struct job j = {.kind = J_DATA, .len = len};

	if (len == 0)
		return;
	j.owned = mv_xmalloc(len);
	memcpy(j.owned, buf, len);
	j.buf = j.owned;
	push(q, &j);
}

void
digestq_end(struct digestq *q, size_t id, const char *want)
{
	struct job j = {.kind = J_END, .id = id, .want = want};

	push(q, &j);
}

void
digestq_mark(struct digestq *q, uint64_t token)
{
	struct job j = {.kind = J_MARK, .token = token};

	push(q, &j);
}

int
digestq_sync(struct digestq *q, size_t *bad_id)
{
	int rc;

	pthread_mutex_lock(&q->lock);
	while (q->tail != q->head) {
		q->caller_waits = true;
		pthread_cond_wait(&q->cond, &q->lock);
		q->caller_waits = false;
	}
	/* The thread is idle until the next push; its fields are ours to
	 * read under the lock it took last. */
	rc = q->bad ? 1 : q->oom ? -1 : 0;
	if (q->bad && bad_id != NULL)
		*bad_id = q->bad_id;
	pthread_mutex_unlock(&q->lock);
	return rc;
}

void
digestq_stats(struct digestq *q, double *cpu_s, double *starved_s)
{
	clockid_t clk;
	struct timespec ts;

	*cpu_s = 0;
	if (pthread_getcpuclockid(q->thread, &clk) == 0 &&
	    clock_gettime(clk, &ts) == 0)
		*cpu_s = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
	pthread_mutex_lock(&q->lock);
	*starved_s = q->starved_s;
	pthread_mutex_unlock(&q->lock);
}

void
digestq_free(struct digestq *q)
{
	if (q == NULL)
		return;
	pthread_mutex_lock(&q->lock);
	q->stop = true;
	pthread_cond_broadcast(&q->cond);
	pthread_mutex_unlock(&q->lock);
	pthread_join(q->thread, NULL);
	for (uint64_t i = q->tail; i < q->head; i++)
		free(q->jobs[i % DEPTH].owned);
	mv_sha256_discard(&q->sha);
	pthread_mutex_destroy(&q->lock);
	pthread_cond_destroy(&q->cond);
	free(q);
}
