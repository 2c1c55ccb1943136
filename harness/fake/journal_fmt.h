/* harness/fake/journal_fmt.h - the journal's JSON text
 * (journal_fmt.c), for journal.c only. */
#ifndef MESHVM_FAKE_JOURNAL_FMT_H
#define MESHVM_FAKE_JOURNAL_FMT_H

#include "harness/fake/req.h"

/* A growing text; oom sticks once memory ran out (what follows is
 * dropped). */
struct jbuf {
	char *p;
	size_t n, cap;
	bool oom;
};

void jb_reserve(struct jbuf *b, size_t more);
void jb_putn(struct jbuf *b, const char *s, size_t n);
void jb_puts(struct jbuf *b, const char *s);
/* A string literal: its length known when compiling. */
#define JB_LIT(b, lit) jb_putn((b), (lit), sizeof(lit) - 1)
/* An unsigned decimal, and the length jb_u64 writes for v. */
void jb_u64(struct jbuf *b, uint64_t v);
size_t jl_u64(uint64_t v);
/* A JSON string as jansson writes it (not UTF-8: U+FFFD), and the
 * length jb_str writes for s. */
void jb_str(struct jbuf *b, const char *s);
size_t jl_str(const char *s);
/* Drop a huge allocation (a body, a long query) kept between lines. */
void jb_trim(struct jbuf *b);
/* ,"body":... : the request's body, JSON (secrets redacted), a form
 * (secret fields redacted), text, or base64; nothing without one. */
void jb_body(struct jbuf *b, const struct freq *rq);

#endif
