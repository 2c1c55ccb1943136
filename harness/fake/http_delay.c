/* harness/fake/http_delay.c - the delayer: a request a fault delays is
 * answered by the dispatcher at once (so the journal and the state see
 * it in order), then its connection is suspended and this thread
 * resumes it when the delay is over, so a slow answer never holds a
 * worker thread.  Streams park here between polls too.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "harness/fake/http_int.h"

struct delayed {
	struct MHD_Connection *c;
	struct listener *l;
	struct timespec due;
};

struct delayer {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct delayed *v;
	size_t n, cap;
	bool stop;
};

static bool
ts_before(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec ||
	       (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

static void *
delayer_main(void *arg)
{
	struct delayer *d = arg;

	pthread_mutex_lock(&d->mu);
	while (!d->stop) {
		struct timespec now;
		size_t soonest = SIZE_MAX;

		clock_gettime(CLOCK_REALTIME, &now);
		for (size_t i = 0; i < d->n;) {
			if (!ts_before(&now, &d->v[i].due)) {
				MHD_resume_connection(d->v[i].c);
				d->v[i] = d->v[--d->n];
				continue;
			}
			if (soonest == SIZE_MAX || ts_before(&d->v[i].due,
			                                     &d->v[soonest].due))
				soonest = i;
			i++;
		}
		if (soonest == SIZE_MAX)
			pthread_cond_wait(&d->cv, &d->mu);
		else
			pthread_cond_timedwait(&d->cv, &d->mu, &d->v[soonest].due);
	}
	/* Resume whatever is left so the daemons can stop. */
	for (size_t i = 0; i < d->n; i++)
		MHD_resume_connection(d->v[i].c);
	d->n = 0;
	pthread_mutex_unlock(&d->mu);
	return NULL;
}

int
delayer_start(struct fake *f, struct mv_err *err)
{
	struct delayer *d = calloc(1, sizeof(*d));

	if (d == NULL)
		return mv_err_set(err, MV_EXIT_FAIL, "out of memory");
	pthread_mutex_init(&d->mu, NULL);
	pthread_cond_init(&d->cv, NULL);
	if (pthread_create(&d->thread, NULL, delayer_main, d) != 0) {
		free(d);
		return mv_err_set(err, MV_EXIT_FAIL, "cannot start a thread");
	}
	fst(f)->delayer = d;
	return 0;
}

void
delayer_stop(struct fake *f)
{
	struct delayer *d = fst(f)->delayer;

	if (d == NULL)
		return;
	pthread_mutex_lock(&d->mu);
	d->stop = true;
	pthread_cond_signal(&d->cv);
	pthread_mutex_unlock(&d->mu);
	pthread_join(d->thread, NULL);
	pthread_mutex_destroy(&d->mu);
	pthread_cond_destroy(&d->cv);
	free(d->v);
	free(d);
	fst(f)->delayer = NULL;
}

void
delayer_flush(struct delayer *d, struct listener *l)
{
	if (d == NULL) {
		l->stopping = true;
		return;
	}
	pthread_mutex_lock(&d->mu);
	l->stopping = true;
	for (size_t i = 0; i < d->n;) {
		if (d->v[i].l == l) {
			MHD_resume_connection(d->v[i].c);
			d->v[i] = d->v[--d->n];
		} else {
			i++;
		}
	}
	pthread_mutex_unlock(&d->mu);
}

int
delayer_add(struct delayer *d, struct MHD_Connection *c, struct listener *l,
            unsigned ms)
{
	struct delayed *nv;

	pthread_mutex_lock(&d->mu);
	/* A listener being stopped must not get a connection parked after
	 * its flush: MHD cannot stop with suspended connections. */
	if (l->stopping) {
		pthread_mutex_unlock(&d->mu);
		return -1;
	}
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 16;
		nv = realloc(d->v, cap * sizeof(*nv));
		if (nv == NULL) {
			pthread_mutex_unlock(&d->mu);
			return -1;
		}
		d->v = nv;
		d->cap = cap;
	}
	clock_gettime(CLOCK_REALTIME, &d->v[d->n].due);
	d->v[d->n].due.tv_sec += ms / 1000;
	d->v[d->n].due.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (d->v[d->n].due.tv_nsec >= 1000000000L) {
		d->v[d->n].due.tv_sec++;
		d->v[d->n].due.tv_nsec -= 1000000000L;
	}
	d->v[d->n].c = c;
	d->v[d->n].l = l;
	/* Suspend before the delayer can see it: resuming a connection that
	 * is not suspended is an error in MHD. */
	MHD_suspend_connection(c);
	d->n++;
	pthread_cond_signal(&d->cv);
	pthread_mutex_unlock(&d->mu);
	return 0;
}
