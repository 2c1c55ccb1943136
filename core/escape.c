/* core/escape.c - see escape.h. */
#include "core/escape.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"

const char *
mv_escape_n(const char *s, size_t len, size_t max, char *out, size_t outlen)
{
	size_t o = 0;

	if (outlen == 0)
		return out;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		char piece[8];
		size_t k;
		if (i == max) {
			snprintf(piece, sizeof(piece), "...");
		} else if (c == '\\') {
			snprintf(piece, sizeof(piece), "\\\\");
		} else if (c >= 0x20 && c < 0x7f) {
			piece[0] = (char)c;
			piece[1] = '\0';
		} else {
			snprintf(piece, sizeof(piece), "\\x%02x", c);
		}
		k = strlen(piece);
		if (o + k >= outlen)
			break;
		memcpy(out + o, piece, k);
		o += k;
		if (i == max)
			break;
	}
	out[o] = '\0';
	return out;
}

const char *
mv_escape(const char *s, size_t max, char *out, size_t outlen)
{
	if (s == NULL)
		s = "(null)";
	return mv_escape_n(s, strlen(s), max, out, outlen);
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0. */
static size_t
utf8_len(const unsigned char *s)
{
	size_t n;
	unsigned cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2, cp = s[0] & 0x1fu;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3, cp = s[0] & 0x0fu;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4, cp = s[0] & 0x07u;
	else
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3fu);
	}
	/* overlong, surrogates, past U+10FFFF, U+FFFE/U+FFFF */
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff || cp == 0xfffe ||
	    cp == 0xffff)
		return 0;
	return n;
}

char *
mv_xml_escape(const char *s)
{
	size_t len = s ? strlen(s) : 0, o = 0;
	char *out = mv_xmalloc(len * 6 + 1); /* "&quot;" is the longest */

	for (size_t i = 0; i < len;) {
		unsigned char c = (unsigned char)s[i];
		const char *ent = c == '&' ? "&amp;" : c == '<' ? "&lt;"
		                : c == '>' ? "&gt;" : c == '"' ? "&quot;"
		                : c == '\'' ? "&apos;" : NULL;
		size_t n;
		if (ent != NULL) {
			memcpy(out + o, ent, strlen(ent));
			o += strlen(ent);
			i++;
		} else if (c < 0x20 && c != '\t' && c != '\n') {
			out[o++] = '?';
			i++;
		} else if ((n = utf8_len((const unsigned char *)s + i)) == 0) {
			out[o++] = '?';
			i++;
		} else {
			memcpy(out + o, s + i, n);
			o += n;
			i += n;
		}
	}
	out[o] = '\0';
	return out;
}
