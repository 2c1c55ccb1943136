/* harness/fake/router.h - the request pipeline (dispatch.c): the lock,
 * the control API, faults, routing, auth, schema checks, the handler,
 * the journal.  For the transport (http.c, server.c). */
#ifndef MESHVM_FAKE_ROUTER_H
#define MESHVM_FAKE_ROUTER_H

#include "harness/fake/req.h"

void fake_dispatch(struct fake *f, struct freq *rq, struct fresp *rs);

#endif
