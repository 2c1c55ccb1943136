/* harness/fake/journal_fmt.c - the journal's JSON text, written by
 * hand (journal.c; base layer): strings escaped as jansson escapes them,
 * numbers, the lengths of both without writing them (the ring counts a
 * line's bytes when it records it, and writes the line only when it is
 * read), and a request's body with its secrets redacted
 * (--journal-bodies). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/base64.h"
#include "harness/fake/journal_fmt.h"

/* ---- the writer: by hand, not a jansson object dumped, which was a
 * third of a GET's time when every line was written as it came ---- */

void
jb_reserve(struct jbuf *b, size_t more)
{
	size_t cap;
	char *np;

	if (b->oom || b->n + more + 1 <= b->cap)
		return;
	cap = b->cap ? b->cap : 512;
	while (cap < b->n + more + 1)
		cap *= 2;
	np = realloc(b->p, cap);
	if (np == NULL) {
		b->oom = true;
		return;
	}
	b->p = np;
	b->cap = cap;
}

void
jb_putn(struct jbuf *b, const char *s, size_t n)
{
	jb_reserve(b, n);
	if (b->oom)
		return;
	memcpy(b->p + b->n, s, n);
	b->n += n;
	b->p[b->n] = '\0';
}

void
jb_puts(struct jbuf *b, const char *s)
{
	jb_putn(b, s, strlen(s));
}

/* An unsigned decimal, without printf: this runs for every request. */
void
jb_u64(struct jbuf *b, uint64_t v)
{
	char d[24];
	size_t i = sizeof(d);

	do {
		d[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v > 0);
	jb_putn(b, d + i, sizeof(d) - i);
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), 0 if none. */
static size_t
utf8_len(const unsigned char *s, size_t n)
{
	size_t len;
	unsigned c = s[0];
	uint32_t cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4, cp = c & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	/* overlong, surrogates, past U+10FFFF */
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return len;
}

/* A JSON string as jansson writes it; bytes that are not UTF-8 (a
 * client's raw path) become U+FFFD rather than losing the line. */
void
jb_str(struct jbuf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	size_t n = strlen((const char *)p), run = 0, i = 0;

	/* Most strings (paths, names, digests) are printable ASCII with
	 * nothing to escape: those are one copy. */
	while (i < n && p[i] >= 0x20 && p[i] < 0x80 && p[i] != '"' &&
	       p[i] != '\\')
		i++;
	jb_reserve(b, n + 2);
	if (b->oom)
		return;
	b->p[b->n++] = '"';
	memcpy(b->p + b->n, p, i);
	b->n += i;
	if (i == n) {
		b->p[b->n++] = '"';
		b->p[b->n] = '\0';
		return;
	}
	while (i < n) {
		size_t u = utf8_len(p + i, n - i);
		char esc[8];

		if (u > 0 && p[i] >= 0x20 && p[i] != '"' && p[i] != '\\') {
			i += u;
			run += u;
			continue;
		}
		jb_putn(b, (const char *)p + i - run, run);
		run = 0;
		if (u == 0) {
			jb_puts(b, "\\ufffd");
			i++;
			continue;
		}
		switch (p[i]) {
		case '"': jb_puts(b, "\\\""); break;
		case '\\': jb_puts(b, "\\\\"); break;
		case '\b': jb_puts(b, "\\b"); break;
		case '\f': jb_puts(b, "\\f"); break;
		case '\n': jb_puts(b, "\\n"); break;
		case '\r': jb_puts(b, "\\r"); break;
		case '\t': jb_puts(b, "\\t"); break;
		default:
			snprintf(esc, sizeof(esc), "\\u%04x", p[i]);
			jb_puts(b, esc);
		}
		i++;
	}
	jb_putn(b, (const char *)p + n - run, run);
	jb_putn(b, "\"", 1);
}

/* ,"key": */
static void
jb_key(struct jbuf *b, const char *key)
{
	jb_putn(b, ",", 1);
	jb_str(b, key);
	jb_putn(b, ":", 1);
}

/* The length of jb_str(s)'s output. */
size_t
jl_str(const char *s)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	size_t n = strlen((const char *)p), len = 2;

	for (size_t i = 0; i < n;) {
		size_t u;

		if (p[i] >= 0x20 && p[i] < 0x80 && p[i] != '"' && p[i] != '\\') {
			i++;
			len++;
			continue;
		}
		u = utf8_len(p + i, n - i);
		if (u > 0 && p[i] >= 0x20 && p[i] != '"' && p[i] != '\\') {
			i += u;
			len += u;
			continue;
		}
		if (u == 0)
			len += 6; /* \ufffd */
		else if (strchr("\"\\\b\f\n\r\t", p[i]) != NULL)
			len += 2;
		else
			len += 6; /* \u00XX */
		i++;
	}
	return len;
}

/* The length of jb_u64(v)'s output. */
size_t
jl_u64(uint64_t v)
{
	size_t n = 1;

	while (v >= 10) {
		v /= 10;
		n++;
	}
	return n;
}

/* A buffer kept between requests drops a huge allocation (a body, a
 * long query). */
void
jb_trim(struct jbuf *b)
{
	if (b->cap > 65536) {
		free(b->p);
		b->p = NULL;
		b->cap = 0;
	}
}

/* ---- request bodies (--journal-bodies), secrets redacted ---- */

#define BODY_MAX (64 * 1024)

static bool
secret_key(const char *k)
{
	static const char *const keys[] = {
		"access_token", "refresh_token", "id_token", "token", "assertion",
		"client_secret", "private_key", "password", "client_assertion",
		NULL};

	for (size_t i = 0; keys[i]; i++)
		if (strcasecmp(k, keys[i]) == 0)
			return true;
	return false;
}

/* Tokens and keys anywhere, and the values of a Secret's data. */
static void
redact(json_t *v, bool secret_data)
{
	const char *k;
	json_t *x;
	size_t i;

	if (json_is_array(v)) {
		json_array_foreach(v, i, x)
			redact(x, false);
		return;
	}
	if (!json_is_object(v))
		return;
	secret_data = secret_data || !strcmp(fake_jstr(v, "kind"), "Secret");
	json_object_foreach(v, k, x) {
		if (secret_key(k) && !json_is_object(x) && !json_is_array(x)) {
			json_object_set_new(v, k, json_string("<redacted>"));
		} else if (secret_data && json_is_object(x) &&
		           (!strcmp(k, "data") || !strcmp(k, "stringData"))) {
			const char *dk;
			json_t *dv;
			json_object_foreach(x, dk, dv)
				json_object_set_new(x, dk, json_string("<redacted>"));
		} else {
			redact(x, false);
		}
	}
}

/* ,"body":... : JSON (redacted), a form (secret fields redacted), text,
 * or base64; at most BODY_MAX bytes of it. */
void
jb_body(struct jbuf *b, const struct freq *rq)
{
	json_t *doc;
	size_t n = rq->body_len;

	if (rq->body == NULL || n == 0)
		return;
	doc = json_loadb(rq->body, n, 0, NULL);
	if (doc != NULL) {
		char *s;
		redact(doc, false);
		s = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER |
		                            JSON_ENCODE_ANY);
		json_decref(doc);
		if (s != NULL) {
			jb_key(b, "body");
			jb_puts(b, s);
		}
		free(s);
		return;
	}
	if (n > BODY_MAX)
		n = BODY_MAX;
	doc = json_stringn(rq->body, n); /* NULL unless UTF-8 text */
	if (doc == NULL) {
		char *b64 = mv_base64_encode(rq->body, n);
		jb_key(b, "body_base64");
		jb_str(b, b64 ? b64 : "");
		free(b64);
		return;
	}
	json_decref(doc);
	{
		/* application/x-www-form-urlencoded: the /token exchange */
		char *copy = strndup(rq->body, n), *save = NULL, *tok, *acc;
		size_t len = 0, fields = 1;
		/* each field grows by "<redacted>" at most */
		for (size_t i = 0; i < n; i++)
			fields += rq->body[i] == '&';
		acc = calloc(1, n + 11 * fields + 1);
		for (tok = copy && acc ? strtok_r(copy, "&", &save) : NULL; tok;
		     tok = strtok_r(NULL, "&", &save)) {
			char *eq = strchr(tok, '=');
			if (eq != NULL) {
				*eq = '\0';
				len += (size_t)sprintf(acc + len, "%s%s=%s",
				                       len ? "&" : "", tok,
				                       secret_key(tok) ? "<redacted>"
				                                       : eq + 1);
			} else {
				len += (size_t)sprintf(acc + len, "%s%s", len ? "&" : "",
				                       tok);
			}
		}
		jb_key(b, "body");
		jb_str(b, acc ? acc : "");
		free(acc);
		free(copy);
	}
}

