/* core/util.c - see util.h. */
#include "core/util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *
mv_strfmt(const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	return s;
}

char *
mv_dirname(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		return strdup(".");
	if (slash == path)
		return strdup("/");
	return strndup(path, (size_t)(slash - path));
}

char *
mv_path_join(const char *base, const char *rel)
{
	if (rel[0] == '/' || base == NULL || base[0] == '\0' ||
	    strcmp(base, ".") == 0)
		return strdup(rel);
	return mv_strfmt("%s/%s", base, rel);
}

char *
mv_read_file(const char *path, size_t max, size_t *len, struct mv_err *err)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	size_t n;

	if (f == NULL) {
		mv_err_sys(err, errno, "%s", path);
		return NULL;
	}
	buf = malloc(max + 2);
	if (buf == NULL) {
		fclose(f);
		mv_err_set(err, MV_EXIT_FAIL, "out of memory");
		return NULL;
	}
	n = fread(buf, 1, max + 1, f);
	if (ferror(f)) {
		mv_err_sys(err, errno, "%s: read", path);
		fclose(f);
		free(buf);
		return NULL;
	}
	fclose(f);
	if (n > max) {
		mv_err_at(err, MV_EXIT_FAIL, path, 0, 0,
		          "too large (over %zu bytes)", max);
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	if (len != NULL)
		*len = n;
	return buf;
}

const char *
mv_json_type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "a mapping";
	case JSON_ARRAY: return "a list";
	case JSON_STRING: return "a string";
	case JSON_INTEGER: return "an integer";
	case JSON_REAL: return "a number";
	case JSON_TRUE:
	case JSON_FALSE: return "a boolean";
	default: return "null";
	}
}
