/* cli/rh_report.h - what `meshvm rehearse` reads out of the fake and
 * writes to --report DIR. */
#ifndef MESHVM_CLI_RH_REPORT_H
#define MESHVM_CLI_RH_REPORT_H

#include <jansson.h>

#include "core/err.h"

struct fake;

/* "TABLE/KEY" of every resource the fake's state (GET /_fake/state)
 * still holds; bookkeeping (operations, tokens, counters) is not a
 * resource.  state NULL: ["(no state)"].  New reference. */
json_t *rh_report_leftovers(const json_t *state);

/* The deployment as the fake holds it (new reference):
 * {"clusters":[{"name","zone","gateways":[{"name","ip"}],"services":[..],
 *   "workload_entries":[{"name","address","healthy"}]}],
 *  "vms":[{"name","zone","ip","status"}],"firewalls":[..],
 *  "split":[{"destination","weight"}]} */
json_t *rh_report_topology(const json_t *state);

/* The migration over the traffic clock, from the fake's Prometheus of
 * each cluster, between from_ago_s and to_ago_s seconds before the
 * traffic clock's now (new reference): {"t":[seconds],"destinations":
 * {SUBSET:{"share":[0..1],"success":[0..1 or null]}}}; empty arrays when
 * no traffic flowed. */
json_t *rh_report_migration(struct fake *f, const json_t *topology,
                            long from_ago_s, long to_ago_s);

/* report.json, journal.jsonl, rehearse.log, topology.svg, topology.dot,
 * migration.svg into dir (made if missing), each atomically. */
int rh_report_write(const char *dir, const json_t *report,
                    const char *journal, const char *log, struct mv_err *err);

#endif
