/* harness/fake/compute_int.h - what the Compute Engine files share
 * (compute.c holds these; compute_inst.c, compute_fw.c and
 * compute_group.c use them).  Not for other services. */
#ifndef MESHVM_FAKE_COMPUTE_INT_H
#define MESHVM_FAKE_COMPUTE_INT_H

#include "harness/fake/svc.h"

/* A deterministic numeric id of a resource, as a decimal string. */
const char *c_id_of(const char *kind, const char *p, const char *scope,
                    const char *name, char *buf, size_t len);
/* "{base}/compute/v1/" + path (heap; the request's own base). */
char *c_url(const struct freq *rq, const char *fmt, ...) MV_PRINTF(2, 3);
/* o[k] = v (stolen heap string; "" when NULL). */
void c_set_str(json_t *o, const char *k, char *v);
void c_not_found(struct fresp *rs, const char *path);
void c_invalid(struct fresp *rs, const char *field, const char *value,
               const char *rule);
/* The resource's name is an RFC 1035 label; 400 otherwise. */
bool c_name_check(struct fresp *rs, json_t *res);
void c_now(char *ts, size_t len);
bool c_zone_check(struct freq *rq, struct fresp *rs, const char *z);
/* Resolve res.network (absent = the default network) to its URL in
 * place; 400/404 otherwise. */
int c_network_ref(struct freq *rq, struct fresp *rs, const char *p,
                  json_t *res, const char *field);
/* A paged list of table entries whose keys start with prefix. */
void c_list_answer(struct freq *rq, struct fresp *rs, json_t *table,
                   const char *prefix, const char *kind, const char *self);
/* project/name in table, or 404 naming projects/P/global/COLL/NAME. */
json_t *c_global_lookup(struct fake *f, struct freq *rq, struct fresp *rs,
                        const char *table, const char *coll, char *key,
                        size_t klen);
void c_aggregated(struct fake *f, struct freq *rq, struct fresp *rs,
                  const char *table_name, const char *listkey,
                  const char *kind, bool zonal, bool strip);

/* A Compute operation on target_link (zonal when zone != NULL); effects
 * as op_new's.  It is remembered under the request's requestId. */
json_t *compute_op(struct fake *f, struct freq *rq, const char *p,
                   const char *zone, const char *type,
                   const char *target_link, const char *target_id,
                   json_t *effects);
/* A mutating request carrying a requestId Compute saw within the
 * retention window: answer with that first operation (true), change
 * nothing.  A malformed requestId is a 400 (true as well). */
bool c_request_replayed(struct fake *f, struct freq *rq, struct fresp *rs);

/* compute_hc.c: the health check a link names (autohealing), or NULL. */
json_t *c_health_check_find(struct fake *f, const char *p, const char *link);

/* compute_inst.c, for templates and group members */
int c_metadata_check(struct fresp *rs, json_t *md, const char *field);
void c_metadata_finish(json_t *parent);
int c_instance_build(struct fake *f, struct freq *rq, struct fresp *rs,
                     const char *p, const char *z, json_t *inst);

#endif
