/* core/progress.c - terminal progress line (see progress.h). */
#include "core/progress.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static atomic_bool progress_allowed = true;

struct mv_progress {
	char label[64];
	char state[64];
	uint64_t total;
	_Atomic uint64_t done;
	double start;
	double last_draw;
	bool active; /* drawing on a terminal */
	bool drawn;
	pthread_mutex_t lock;
};

void
mv_progress_set_enabled(bool enabled)
{
	progress_allowed = enabled;
}

static double
now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

const char *
mv_human_bytes(uint64_t bytes, char *buf, unsigned len)
{
	static const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	double v = (double)bytes;
	int u = 0;

	while (v >= 1024.0 && u < 4) {
		v /= 1024.0;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%llu B", (unsigned long long)bytes);
	else
		snprintf(buf, len, "%.1f %s", v, units[u]);
	return buf;
}

struct mv_progress *
mv_progress_new(const char *label, uint64_t total)
{
	struct mv_progress *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return NULL;
	snprintf(p->label, sizeof(p->label), "%s", label ? label : "");
	p->total = total;
	p->start = now_seconds();
	p->active = progress_allowed && isatty(STDERR_FILENO) == 1;
	pthread_mutex_init(&p->lock, NULL);
	return p;
}

static void
progress_draw(struct mv_progress *p, double now)
{
	char done[32], total[32], rate[32], eta[32] = "";
	uint64_t d = atomic_load(&p->done);
	double el = now - p->start;
	double r = el > 0 ? (double)d / el : 0;
	int width = 24, fill;
	char bar[32];

	mv_human_bytes(d, done, sizeof(done));
	mv_human_bytes((uint64_t)r, rate, sizeof(rate));
	if (p->total > 0) {
		fill = (int)((double)width * (double)d / (double)p->total);
		if (fill > width)
			fill = width;
		memset(bar, '#', (size_t)fill);
		memset(bar + fill, '-', (size_t)(width - fill));
		bar[width] = '\0';
		mv_human_bytes(p->total, total, sizeof(total));
		if (r > 0 && d < p->total)
			snprintf(eta, sizeof(eta), " ETA %.0fs",
			         (double)(p->total - d) / r);
		fprintf(stderr, "\r\033[K%s [%s] %s / %s  %s/s%s", p->label, bar,
		        done, total, rate, eta);
	} else if (p->state[0] != '\0') {
		fprintf(stderr, "\r\033[K%s %s  %.0fs", p->label, p->state, el);
	} else {
		fprintf(stderr, "\r\033[K%s %s  %s/s  %.0fs", p->label, done, rate,
		        el);
	}
	fflush(stderr);
	p->drawn = true;
	p->last_draw = now;
}

void
mv_progress_add(struct mv_progress *p, uint64_t bytes)
{
	double now;

	if (p == NULL)
		return;
	atomic_fetch_add(&p->done, bytes);
	if (!p->active)
		return;
	now = now_seconds();
	if (now - p->last_draw < 0.1)
		return;
	if (pthread_mutex_trylock(&p->lock) != 0)
		return;
	progress_draw(p, now);
	pthread_mutex_unlock(&p->lock);
}

void
mv_progress_state(struct mv_progress *p, const char *state)
{
	if (p == NULL)
		return;
	pthread_mutex_lock(&p->lock);
	snprintf(p->state, sizeof(p->state), "%s", state ? state : "");
	if (p->active)
		progress_draw(p, now_seconds());
	pthread_mutex_unlock(&p->lock);
}

void
mv_progress_finish(struct mv_progress *p)
{
	if (p == NULL || !p->active)
		return;
	pthread_mutex_lock(&p->lock);
	if (p->drawn) {
		fputs("\r\033[K", stderr);
		fflush(stderr);
	}
	p->drawn = false;
	pthread_mutex_unlock(&p->lock);
}

void
mv_progress_free(struct mv_progress *p)
{
	if (p == NULL)
		return;
	mv_progress_finish(p);
	pthread_mutex_destroy(&p->lock);
	free(p);
}
