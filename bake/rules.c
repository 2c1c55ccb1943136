/* bake/rules.c - what a bundle may hold, one definition for bake, verify,
 * inspect and unpack: safe paths, the layout of meshvm-bundle/1 (README
 * "Bundle format"), the service fields, and the secrets never baked. */
#include <ctype.h>
#include <string.h>

#include "bake/bundle_private.h"

bool
bundle_path_is_safe(const char *path)
{
	const char *p = path;
	size_t n = strlen(path);

	if (n == 0 || n > 255 || path[0] == '/')
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)path[i] < 0x20 || path[i] == 0x7f ||
		    path[i] == '\\')
			return false;
	while (*p) {
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);
		if (len == 0 || (len == 1 && p[0] == '.') ||
		    (len == 2 && p[0] == '.' && p[1] == '.'))
			return false;
		p += len;
		if (*p == '/')
			p++;
		if (slash != NULL && *p == '\0')
			return false; /* trailing slash */
	}
	return true;
}

/* The bundle layout: every path an archive entry or a manifest may name.
 * An entry ending in '/' admits one file name under that directory made
 * of [A-Za-z0-9:_.-] and ending in `suffix`; any other entry is an exact
 * path.  Extend here (and in README's "Bundle format") to add a file. */
static const struct {
	const char *path;
	const char *suffix;
} layout[] = {
	{BUNDLE_MANIFEST, NULL},
	{BUNDLE_SUMS, NULL},
	{"identity/cluster.env", NULL},
	{"identity/hosts", NULL},
	{"identity/mesh.yaml", NULL},
	{"identity/root-cert.pem", NULL},
	{"image/config.json", NULL}, /* runtime systemd */
	{"image/image.tar", NULL},    /* docker, podman, containerd */
	{"image/rootfs.tar", NULL},   /* runtime systemd */
	{"sidecar/istio-sidecar.deb", NULL},
	{"sidecar/istio-sidecar.rpm", NULL},
	{"units/", ".service"},
};

bool
bundle_path_in_layout(const char *path)
{
	for (size_t i = 0; i < sizeof(layout) / sizeof(layout[0]); i++) {
		const char *dir = layout[i].path;
		size_t dl = strlen(dir), sl, n;
		const char *base;

		if (dir[dl - 1] != '/') {
			if (!strcmp(path, dir))
				return true;
			continue;
		}
		if (strncmp(path, dir, dl) != 0)
			continue;
		base = path + dl;
		n = strlen(base);
		sl = strlen(layout[i].suffix);
		if (n <= sl || strcmp(base + n - sl, layout[i].suffix) != 0)
			continue;
		for (size_t k = 0; k < n; k++)
			if (!isalnum((unsigned char)base[k]) &&
			    strchr(":_.-", base[k]) == NULL)
				return false;
		return true;
	}
	return false;
}

bool
bundle_is_dns_label(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 63)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
		      ch == '-'))
			return false;
	}
	return s[0] != '-' && s[n - 1] != '-';
}

bool
bundle_protocol_ok(const char *s)
{
	return !strcmp(s, "grpc") || !strcmp(s, "http") ||
	       !strcmp(s, "http2") || !strcmp(s, "tcp");
}

bool
bundle_word_ok(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n == 0 || n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return false;
	return true;
}

/*--- secrets: never baked -----------------------------------------------*/

static bool
is_b64url(char ch)
{
	return isalnum((unsigned char)ch) || ch == '-' || ch == '_';
}

/* A JWT is three base64url segments separated by dots whose first two
 * segments are JSON objects ("eyJ" is base64 of '{"'). Returns the line of
 * the first one, or 0. */
int
bundle_find_jwt(const char *buf, size_t len)
{
	int line = 1;

	for (size_t i = 0; i + 3 < len; i++) {
		if (buf[i] == '\n')
			line++;
		if (strncmp(buf + i, "eyJ", 3) != 0 ||
		    (i > 0 && is_b64url(buf[i - 1])))
			continue;
		size_t j = i;
		while (j < len && is_b64url(buf[j]))
			j++;
		if (j - i < 8 || j >= len || buf[j] != '.')
			continue;
		if (j + 4 >= len || strncmp(buf + j + 1, "eyJ", 3) != 0)
			continue;
		size_t k = j + 1;
		while (k < len && is_b64url(buf[k]))
			k++;
		if (k < len && buf[k] == '.')
			return line;
	}
	return 0;
}

/* Line number (1-based) of byte `off`. */
int
bundle_line_at(const char *buf, size_t off)
{
	int line = 1;

	for (const char *p = buf; (p = memchr(p, '\n', off - (size_t)(p - buf)));
	     p++)
		line++;
	return line;
}

/* A PEM private-key block of any kind: "-----BEGIN X PRIVATE KEY-----"
 * covers PKCS#1 RSA, EC, DSA, PKCS#8 (plain and ENCRYPTED) and OpenSSH
 * keys; PGP secret keys say "PRIVATE KEY BLOCK".  Binary-safe: the whole
 * buffer is scanned, NUL bytes included.  Returns the line, or 0. */
int
bundle_find_private_key(const char *buf, size_t len)
{
	static const char begin[] = "-----BEGIN ";
	const char *p = buf, *end = buf + len;

	while ((p = memmem(p, (size_t)(end - p), begin, sizeof(begin) - 1))) {
		const char *h = p + sizeof(begin) - 1;
		size_t room = (size_t)(end - h) < 80 ? (size_t)(end - h) : 80;
		const char *eol = memchr(h, '\n', room);
		size_t n = eol ? (size_t)(eol - h) : room;
		if (memmem(h, n, "PRIVATE KEY", 11) != NULL)
			return bundle_line_at(buf, (size_t)(p - buf));
		p = h;
	}
	return 0;
}

/* A Google service-account key file (JSON with "type":
 * "service_account" or a "private_key" field). Returns the line, or 0. */
int
bundle_find_service_account(const char *buf, size_t len)
{
	const char *end = buf + len, *p;

	if ((p = memmem(buf, len, "\"private_key", 12)) != NULL)
		return bundle_line_at(buf, (size_t)(p - buf));
	for (p = buf; (p = memmem(p, (size_t)(end - p), "\"type\"", 6));) {
		const char *q = p + 6;
		while (q < end && (*q == ' ' || *q == '\t' || *q == '\n' ||
		                   *q == '\r' || *q == ':'))
			q++;
		if ((size_t)(end - q) >= 17 && !memcmp(q, "\"service_account\"", 17))
			return bundle_line_at(buf, (size_t)(p - buf));
		p += 6;
	}
	return 0;
}
