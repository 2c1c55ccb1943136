/* harness/fake/net.h - the listeners (http*.c), for the server only:
 * services reach them through struct fake_net (state.h). */
#ifndef MESHVM_FAKE_NET_H
#define MESHVM_FAKE_NET_H

#include "harness/fake/router.h"
#include "harness/fake/svc.h"

/* The implementation the server installs as fst(f)->net. */
extern const struct fake_net fake_http_net;

int listener_start(struct fake *f, const char *name, struct kcluster *kc,
                   const char *host, int port, bool tls,
                   struct listener **out, struct mv_err *err);
int listener_port(const struct listener *l);
void listener_stop(struct listener *l);
/* ---- conns.c: a listener's connections and their limit ---- */
struct conns;
struct conn_track;
struct conns *conns_new(size_t max);
void conns_free(struct conns *cs);
/* A new connection; at the cap the longest idle one (or, when all are
 * busy, this one) is shut down. */
struct conn_track *conns_opened(struct conns *cs, int fd);
void conns_closed(struct conns *cs, struct conn_track *t);
/* A request started (true) or finished (false) on it. */
void conns_busy(struct conns *cs, struct conn_track *t, bool busy);
/* Connections open and not being shut down. */
size_t conns_live(struct conns *cs);

int delayer_start(struct fake *f, struct mv_err *err);
void delayer_stop(struct fake *f);

#endif
