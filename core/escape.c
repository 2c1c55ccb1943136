/* core/escape.c - see escape.h. */
#include "core/escape.h"

#include <stdio.h>
#include <string.h>

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
