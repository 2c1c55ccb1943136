/* harness/fake/conns.c - the connections of one listener, for its limit.
 *
 * Every client of the fake is 127.0.0.1, so a per-address cap would lock
 * the real client out along with the idle ones: at the cap the
 * connection idle for longest (no request in progress, including one
 * that never sent a whole request) is shut down for the new one.  Only
 * when every connection is busy is the new one refused.  shutdown() runs
 * under the mutex that the close notification takes too, so the socket
 * is still the connection's own (MHD closes it after notifying).
 * busy and last are atomics, written without the mutex: they change
 * twice per request, and the mutex (shared by the listener's threads)
 * cost more than the rest of the bookkeeping; only the choice of a
 * victim reads them, and a choice a request later is as good.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "harness/fake/net.h"

struct conn_track {
	int fd;
	atomic_bool busy;  /* a request is in progress */
	bool evicted;      /* shut down, waiting for MHD to close it */
	/* when it last finished a request (or opened), monotonic ms */
	_Atomic long long last;
	struct conn_track *prev, *next;
};

struct conns {
	pthread_mutex_t mu;
	struct conn_track *head;
	size_t live, evicted, max;
};

struct conns *
conns_new(size_t max)
{
	struct conns *cs = calloc(1, sizeof(*cs));

	if (cs == NULL)
		return NULL;
	pthread_mutex_init(&cs->mu, NULL);
	cs->max = max;
	return cs;
}

void
conns_free(struct conns *cs)
{
	if (cs == NULL)
		return;
	while (cs->head != NULL) {
		struct conn_track *t = cs->head;
		cs->head = t->next;
		free(t);
	}
	pthread_mutex_destroy(&cs->mu);
	free(cs);
}

static void
evict(struct conns *cs, struct conn_track *t)
{
	t->evicted = true;
	cs->evicted++;
	shutdown(t->fd, SHUT_RDWR);
}

struct conn_track *
conns_opened(struct conns *cs, int fd)
{
	struct conn_track *t = calloc(1, sizeof(*t)), *victim = NULL;

	if (t == NULL) {
		shutdown(fd, SHUT_RDWR);
		return NULL;
	}
	t->fd = fd;
	atomic_init(&t->busy, false);
	atomic_init(&t->last, fake_ms(false));
	pthread_mutex_lock(&cs->mu);
	t->next = cs->head;
	if (cs->head != NULL)
		cs->head->prev = t;
	cs->head = t;
	cs->live++;
	if (cs->live - cs->evicted > cs->max) {
		long long vlast = 0;
		for (struct conn_track *o = t->next; o != NULL; o = o->next) {
			long long last = atomic_load_explicit(&o->last,
			                                      memory_order_relaxed);
			if (!atomic_load_explicit(&o->busy, memory_order_relaxed) &&
			    !o->evicted && (victim == NULL || last < vlast)) {
				victim = o;
				vlast = last;
			}
		}
		evict(cs, victim != NULL ? victim : t);
	}
	pthread_mutex_unlock(&cs->mu);
	return t;
}

void
conns_closed(struct conns *cs, struct conn_track *t)
{
	if (t == NULL)
		return;
	pthread_mutex_lock(&cs->mu);
	if (t->prev != NULL)
		t->prev->next = t->next;
	else
		cs->head = t->next;
	if (t->next != NULL)
		t->next->prev = t->prev;
	cs->live--;
	if (t->evicted)
		cs->evicted--;
	pthread_mutex_unlock(&cs->mu);
	free(t);
}

void
conns_busy(struct conns *cs, struct conn_track *t, bool busy)
{
	(void)cs;
	if (t == NULL)
		return;
	if (!busy)
		atomic_store_explicit(&t->last, fake_ms(false),
		                      memory_order_relaxed);
	atomic_store_explicit(&t->busy, busy, memory_order_relaxed);
}

size_t
conns_live(struct conns *cs)
{
	size_t n;

	pthread_mutex_lock(&cs->mu);
	n = cs->live - cs->evicted;
	pthread_mutex_unlock(&cs->mu);
	return n;
}
