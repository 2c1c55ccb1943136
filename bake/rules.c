/* bake/rules.c - what a bundle may hold, one definition for bake, verify,
 * inspect and unpack: safe paths, the layout of meshvm-bundle/1 (README
 * "Bundle format") and the service fields. */
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
	{"image/image.tar", NULL},
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
