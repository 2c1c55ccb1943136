/* bake/reader_zstd.c - the zstd decoder thread of the bundle reader (see
 * reader.c): takes the raw slots the caller's thread read, in order, and
 * decompresses them into the ring of slots libarchive reads from.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zstd.h>

#include "bake/reader_private.h"
#include "core/timing.h"

/*--- zstd producer -------------------------------------------------------*/

static void
producer_fail(struct bundle_reader *r, const char *msg)
{
	pthread_mutex_lock(&r->lock);
	if (r->error[0] == '\0')
		snprintf(r->error, sizeof(r->error), "%s", msg);
	r->done = true;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
}

/* Wait for a free output buffer; NULL when cancelled. */
static struct rbuf *
producer_slot(struct bundle_reader *r)
{
	struct rbuf *b;

	pthread_mutex_lock(&r->lock);
	if (r->produced - r->released == NBUF && !r->cancel) {
		double t0 = mv_time_s();
		while (r->produced - r->released == NBUF && !r->cancel)
			pthread_cond_wait(&r->cond, &r->lock);
		r->full_s += mv_time_s() - t0;
	}
	b = r->cancel ? NULL : &r->bufs[r->produced % NBUF];
	pthread_mutex_unlock(&r->lock);
	return b;
}

static void
producer_push(struct bundle_reader *r)
{
	pthread_mutex_lock(&r->lock);
	r->produced++;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
}

/* The decoder's next raw slot: its length, 0 at the end of the file or
 * when cancelled, -1 after a read error. */
static ssize_t
raw_take(struct bundle_reader *r, const char **in)
{
	ssize_t n;

	pthread_mutex_lock(&r->lock);
	while (r->raw_used == r->raw_filled && !r->raw_eof && !r->cancel)
		pthread_cond_wait(&r->cond, &r->lock);
	if (r->cancel)
		n = 0;
	else if (r->raw_used < r->raw_filled) {
		*in = r->raws[r->raw_used % RAWN].data;
		n = (ssize_t)r->raws[r->raw_used % RAWN].len;
	} else
		n = r->raw_errno != 0 ? -1 : 0;
	pthread_mutex_unlock(&r->lock);
	return n;
}

static void
raw_done(struct bundle_reader *r)
{
	pthread_mutex_lock(&r->lock);
	r->raw_used++;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
}

void *
bundle_reader_decoder_main(void *arg)
{
	struct bundle_reader *r = arg;
	ZSTD_DCtx *dc = ZSTD_createDCtx();
	const char *in = NULL;
	size_t last = 0;
	bool any = false;
	struct rbuf *b = NULL;
	/* The first 4 bytes of each frame (magic): a skippable frame may sit
	 * between frames (bake pads with one) but not end the stream. */
	uint64_t chunk_start = 0, total = 0, frame_at = 0;
	unsigned char magic[4];
	size_t magic_n = 0;
	bool last_skippable = false;

	/* SIGINT/SIGTERM go to the thread that writes files, so its cleanup
	 * (core/signal, unpack's staging tree) never races a write. */
	sigset_t block;
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &block, NULL);
	if (dc == NULL) {
		producer_fail(r, "out of memory");
		goto out;
	}
	/* Bound decoder memory: our bundles use windows <= 8 MiB. */
	ZSTD_DCtx_setParameter(dc, ZSTD_d_windowLogMax, 27);
	for (;;) {
		ssize_t n = raw_take(r, &in);
		if (n < 0) {
			producer_fail(r, "read error");
			goto out;
		}
		if (n == 0) {
			bool cancelled;
			pthread_mutex_lock(&r->lock);
			cancelled = r->cancel;
			pthread_mutex_unlock(&r->lock);
			if (cancelled)
				goto out;
			break;
		}
		chunk_start = total;
		total += (uint64_t)n;
		ZSTD_inBuffer ib = {in, (size_t)n, 0};
		while (ib.pos < ib.size) {
			for (uint64_t a = frame_at + magic_n; magic_n < 4 && a < total;
			     a++)
				magic[magic_n++] = (unsigned char)in[a - chunk_start];
			if (magic_n == 4)
				last_skippable = magic[0] >= 0x50 && magic[0] <= 0x5f &&
				                 magic[1] == 0x2a && magic[2] == 0x4d &&
				                 magic[3] == 0x18;
			if (b == NULL) {
				b = producer_slot(r);
				if (b == NULL)
					goto out; /* cancelled */
				b->len = 0;
			}
			ZSTD_outBuffer ob = {b->data, OUT_CHUNK, b->len};
			last = ZSTD_decompressStream(dc, &ob, &ib);
			if (ZSTD_isError(last)) {
				char msg[256];
				snprintf(msg, sizeof(msg), "zstd: %s",
				         ZSTD_getErrorName(last));
				producer_fail(r, msg);
				goto out;
			}
			any = true;
			if (last == 0) { /* a frame ended: the next starts here */
				frame_at = chunk_start + ib.pos;
				magic_n = 0;
			}
			b->len = ob.pos;
			if (b->len == OUT_CHUNK) {
				producer_push(r);
				b = NULL;
			}
		}
		raw_done(r);
	}
	/* Flush what the decoder still holds. */
	while (any && last != 0) {
		ZSTD_inBuffer ib = {NULL, 0, 0};
		if (b == NULL) {
			b = producer_slot(r);
			if (b == NULL)
				goto out;
			b->len = 0;
		}
		ZSTD_outBuffer ob = {b->data, OUT_CHUNK, b->len};
		size_t before = ob.pos;
		last = ZSTD_decompressStream(dc, &ob, &ib);
		if (ZSTD_isError(last)) {
			producer_fail(r, "zstd: corrupt data");
			goto out;
		}
		b->len = ob.pos;
		if (b->len == OUT_CHUNK) {
			producer_push(r);
			b = NULL;
		} else if (ob.pos == before) {
			break; /* no progress: input ended inside a frame */
		}
	}
	if (b != NULL && b->len > 0)
		producer_push(r);
	if (last != 0) {
		producer_fail(r, "truncated stream (zstd frame incomplete)");
		goto out;
	}
	if (last_skippable) {
		producer_fail(r, "data after the end of the compressed stream (a "
		              "skippable frame)");
		goto out;
	}
	pthread_mutex_lock(&r->lock);
	r->done = true;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
out:
	ZSTD_freeDCtx(dc);
	{
		struct timespec ts;
		if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) == 0) {
			pthread_mutex_lock(&r->lock);
			r->prod_cpu_s = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
			pthread_mutex_unlock(&r->lock);
		}
	}
	return NULL;
}
