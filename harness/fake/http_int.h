/* harness/fake/http_int.h - what http.c (the listeners' lifecycle),
 * http_req.c (the request path) and http_delay.c (the delayer) share:
 * transport only. */
#ifndef MESHVM_FAKE_HTTP_INT_H
#define MESHVM_FAKE_HTTP_INT_H

#include <microhttpd.h>

#include "harness/fake/net.h"

#define FAKE_MAX_WORKERS 16

struct listener {
	struct fake *f;
	char *name;
	struct kcluster *kc;
	/* One daemon (one epoll thread) per worker, all on the same port
	 * with SO_REUSEPORT, so the kernel spreads connections over them:
	 * MHD's own thread pool shares one listening socket, and one of its
	 * threads took every connection of a burst and served them alone. */
	struct MHD_Daemon *d[FAKE_MAX_WORKERS];
	size_t n_d;
	int port;
	bool tls;
	bool stopping;   /* set under the delayer's lock: park nothing more */
	struct conns *conns; /* for the connection limit */
};


/* ---- http_delay.c: connections parked until a time ---- */
/* Suspend c and resume it ms from now; -1 (nothing parked) when the
 * listener is stopping or memory is short. */
int delayer_add(struct delayer *d, struct MHD_Connection *c,
                struct listener *l, unsigned ms);
/* Resume now every connection of l, which is about to stop. */
void delayer_flush(struct delayer *d, struct listener *l);

/* ---- http_req.c: MHD's request callbacks (cls is the listener) ---- */
enum MHD_Result http_on_request(void *cls, struct MHD_Connection *c,
                                const char *url, const char *method,
                                const char *version, const char *upload,
                                size_t *upload_size, void **con_cls);
void http_on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                       enum MHD_RequestTerminationCode toe);

#endif
