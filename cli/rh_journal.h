/* cli/rh_journal.h - what the fake's journal (one JSON line per request,
 * harness/fake/journal.c) says about a rehearsal: requests, mutating
 * requests, retries and injected faults for a span of the file, and
 * whether any resource was created twice. */
#ifndef MESHVM_CLI_RH_JOURNAL_H
#define MESHVM_CLI_RH_JOURNAL_H

#include <jansson.h>

#include "core/err.h"

/* requests .. faults: meshvm's own requests (User-Agent meshvm/...);
 * others: everything else, e.g. what the simulated VMs sent. */
struct rh_counts {
	long requests, mutating, retries, faults, others;
};

struct rh_journal;

/* Read the file (lines longer than 16 MiB or not JSON objects are an
 * error naming the line). */
int rh_journal_load(const char *path, struct rh_journal **out,
                    struct mv_err *err);
void rh_journal_free(struct rh_journal *j);

/* The lines starting at byte offsets in [from, to) (to < 0: the end).
 * A retry is a request repeating (listener, method, path, query, body
 * digest) of one that got no answer, 429 or 5xx. */
void rh_journal_count(const struct rh_journal *j, long from, long to,
                      struct rh_counts *out);

/* Successful creates: a POST answered 2xx whose body names the resource
 * (name, cluster.name, metadata.name, or ?name= for an upload), keyed
 * "LISTENER PATH/NAME"; a server-side apply PATCH answered 201, keyed
 * "LISTENER PATH". Returns {key: count} (new reference). */
json_t *rh_journal_creates(const struct rh_journal *j);

#endif
