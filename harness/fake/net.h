/* harness/fake/net.h - the listeners (http.c), for the server only:
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
int delayer_start(struct fake *f, struct mv_err *err);
void delayer_stop(struct fake *f);

#endif
