/* core/base64.c - base64 and base64url (see base64.h). */
#include "core/base64.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static const char std_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char url_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static char *
encode(const void *data, size_t len, const char *alphabet, bool pad)
{
	const uint8_t *in = data;
	size_t n = (len + 2) / 3 * 4 + 1, o = 0, i;
	char *out;

	if (len > (SIZE_MAX - 1) / 4 * 3 - 3)
		return NULL;
	out = malloc(n);
	if (out == NULL)
		return NULL;
	for (i = 0; i + 2 < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 |
		             in[i + 2];
		out[o++] = alphabet[v >> 18 & 63];
		out[o++] = alphabet[v >> 12 & 63];
		out[o++] = alphabet[v >> 6 & 63];
		out[o++] = alphabet[v & 63];
	}
	if (i < len) {
		uint32_t v = (uint32_t)in[i] << 16;
		if (i + 1 < len)
			v |= (uint32_t)in[i + 1] << 8;
		out[o++] = alphabet[v >> 18 & 63];
		out[o++] = alphabet[v >> 12 & 63];
		if (i + 1 < len)
			out[o++] = alphabet[v >> 6 & 63];
		else if (pad)
			out[o++] = '=';
		if (pad)
			out[o++] = '=';
	}
	out[o] = '\0';
	return out;
}

char *
mv_base64_encode(const void *data, size_t len)
{
	return encode(data, len, std_alphabet, true);
}

char *
mv_base64url_encode(const void *data, size_t len)
{
	return encode(data, len, url_alphabet, false);
}

static int
sextet(char c, bool url)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == (url ? '-' : '+'))
		return 62;
	if (c == (url ? '_' : '/'))
		return 63;
	return -1;
}

static int
decode(const char *s, size_t len, bool url, uint8_t **out, size_t *out_len)
{
	uint8_t *buf;
	uint32_t acc = 0;
	size_t o = 0, pad = 0, bits = 0;

	*out = NULL;
	*out_len = 0;
	/* Padding only at the end, at most two, and only to a multiple of 4. */
	while (len > 0 && s[len - 1] == '=') {
		len--;
		pad++;
	}
	if (pad > 2 || (pad > 0 && (len + pad) % 4 != 0) || len % 4 == 1)
		return -1;
	buf = malloc(len / 4 * 3 + 3);
	if (buf == NULL)
		return -1;
	for (size_t i = 0; i < len; i++) {
		int v = sextet(s[i], url);
		if (v < 0) {
			free(buf);
			return -1;
		}
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			buf[o++] = (uint8_t)(acc >> bits);
		}
	}
	/* Leftover bits must be zero (canonical encoding). */
	if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) {
		free(buf);
		return -1;
	}
	buf[o] = '\0';
	*out = buf;
	*out_len = o;
	return 0;
}

int
mv_base64_decode(const char *s, size_t len, uint8_t **out, size_t *out_len)
{
	return decode(s, len, false, out, out_len);
}

int
mv_base64url_decode(const char *s, size_t len, uint8_t **out,
                    size_t *out_len)
{
	return decode(s, len, true, out, out_len);
}
