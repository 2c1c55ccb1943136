/* cluster/instances.h - Compute Engine v1 for the VM fleet: instances,
 * instance templates, zonal managed instance groups and health checks,
 * over one small request shape (a path under projects/P/).
 *
 * Every create/change carries a requestId (a UUID the caller records with
 * its intent), so Compute acts on a resent request once and the call is
 * retried on resets and 5xx like an idempotent one.  Bodies that hold the
 * Istio token (metadata) go only in request bodies, never in a URL. */
#ifndef MESHVM_CLUSTER_INSTANCES_H
#define MESHVM_CLUSTER_INSTANCES_H

#include <jansson.h>

#include "cluster/gcp.h"

/* GET projects/P/PATH (e.g. "zones/Z/instances/N"): 0 found (*out),
 * 1 absent (404), -1 error. */
int inst_get(struct gcp *g, const char *path, json_t **out,
             struct mv_err *err);

/* METHOD projects/P/PATH[?QUERY][&requestId=ID] with body (may be NULL):
 * 0 accepted (*op the operation's name, malloc'd), 1 absent or already
 * there (404 or 409; *status says which), -1 error.  query (may be NULL)
 * is "size=3"-like, already escaped. */
int inst_send(struct gcp *g, const char *method, const char *path,
              const char *query, const json_t *body, const char *request_id,
              char **op, long *status, struct mv_err *err);

/* Every item of a list (all pages) at PATH: *out a new array. */
int inst_list(struct gcp *g, const char *path, const char *filter,
              json_t **out, struct mv_err *err);

/* Guest attributes under queryPath "meshvm/": *out {key: value} (new),
 * empty when the VM reported none (404 counts as none). */
int inst_guest_attributes(struct gcp *g, const char *zone, const char *name,
                          json_t **out, struct mv_err *err);
/* The last line of serial port 1 that says "meshvm-join:" (malloc'd), or
 * NULL when there is none. */
int inst_serial_phase(struct gcp *g, const char *zone, const char *name,
                      char **line, struct mv_err *err);

/* The metadata item KEY's value of an instance or template properties
 * (borrowed), or NULL. */
const char *inst_metadata_value(const json_t *holder, const char *key);
/* The first network interface's internal IP (borrowed), or NULL. */
const char *inst_network_ip(const json_t *inst);

#endif
