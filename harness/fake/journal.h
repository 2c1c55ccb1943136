/* harness/fake/journal.h - one JSON line per request, in memory and
 * optionally in a file (journal.c; base layer). */
#ifndef MESHVM_FAKE_JOURNAL_H
#define MESHVM_FAKE_JOURNAL_H

#include <stdint.h>

#include "harness/fake/req.h"

struct journal;

/* max_bytes bounds the in-memory lines (the file has them all); bodies
 * adds each request's body, secrets redacted. */
int journal_open(const char *path, size_t max_bytes, bool bodies,
                 struct journal **out, struct mv_err *err);
void journal_close(struct journal *j);
/* Write the queued lines to the file and flush it; call it without the
 * fake's lock (the pipeline does, before answering). */
void journal_flush(struct journal *j);
void journal_record(struct journal *j, const struct freq *rq,
                    const struct fresp *rs, double ms);
/* JSON lines with seq > since (and listener when non-NULL). */
char *journal_dump(struct journal *j, uint64_t since, const char *listener,
                   size_t *len);
void journal_clear(struct journal *j);

#endif
