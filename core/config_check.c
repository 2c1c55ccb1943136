/* core/config_check.c - how meshvm.yaml values are checked and reported
 * (core/config_private.h): one error context, the key table, typed
 * getters, name rules. */
#include "core/config_private.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/config_keys.h"
#include "core/util.h"
#include "core/yaml.h"
#include "core/xalloc.h"

int
cfg_fail(struct cfg_ctx *c, const json_t *obj, const char *key,
         const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (c->failed)
		return -1;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	c->failed = 1;
	return mv_yaml_value_err(c->err, MV_EXIT_FAIL, c->y, obj, key, "%s", msg);
}

void
cfg_key_fail(struct cfg_ctx *c, const json_t *obj, const char *key,
             const char *fmt, ...)
{
	struct mv_err one;
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	mv_err_clear(&one);
	mv_yaml_key_err(&one, MV_EXIT_FAIL, c->y, obj, key, "%s", msg);
	if (c->failed++ == 0)
		*c->err = one;
	else
		mv_err_append(c->err, one.msg);
}

int
cfg_check_keys(struct cfg_ctx *c, const json_t *obj, const char *where,
               const char *prefix)
{
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)obj, k, v) {
		const struct mv_config_key *row;
		char path[160];
		snprintf(path, sizeof(path), "%s%s%s", prefix, prefix[0] ? "." : "",
		         k);
		row = mv_config_key_find(path);
		if (row == NULL)
			cfg_key_fail(c, obj, k, "%s%s%s: unknown key", where,
			         where[0] ? "." : "", k);
		else if (row->issue != 0)
			cfg_key_fail(c, obj, k, "%s%s%s: not supported yet: %s (issue %d)",
			         where, where[0] ? "." : "", k, row->feature, row->issue);
	}
	return c->failed ? -1 : 0;
}

/* get_str's default for `path`: required while its feature has landed
 * (a key whose feature has not is never required, and never present:
 * check_keys refused it), else `dflt`. */
char *
cfg_get_str(struct cfg_ctx *c, const json_t *obj, const char *key,
            const char *where, const char *dflt)
{
	json_t *v = json_object_get(obj, key);

	if (v == NULL) {
		if (dflt == MV_CFG_REQUIRED) {
			cfg_fail(c, obj, NULL, "%s.%s: required", where, key);
			return NULL;
		}
		return dflt ? mv_xstrdup(dflt) : NULL;
	}
	if (!json_is_string(v) || json_string_length(v) == 0) {
		cfg_fail(c, obj, key, "%s.%s: must be a non-empty string, got %s",
		         where, key, json_is_string(v) ? "\"\"" : mv_json_type_name(v));
		return NULL;
	}
	return mv_xstrdup(json_string_value(v));
}

int
cfg_get_int(struct cfg_ctx *c, const json_t *obj, const char *key,
            const char *where, int dflt, int lo, int hi)
{
	json_t *v = json_object_get(obj, key);

	if (v == NULL)
		return dflt;
	if (!json_is_integer(v)) {
		cfg_fail(c, obj, key, "%s.%s: must be an integer %d..%d, got %s",
		         where, key, lo, hi, mv_json_type_name(v));
		return dflt;
	}
	if (json_integer_value(v) < lo || json_integer_value(v) > hi) {
		cfg_fail(c, obj, key,
		         "%s.%s: must be an integer %d..%d, got %" JSON_INTEGER_FORMAT,
		         where, key, lo, hi, json_integer_value(v));
		return dflt;
	}
	return (int)json_integer_value(v);
}

int
mv_config_duration(const char *s, long *secs)
{
	return mv_duration_parse(s, MV_CONFIG_TOKEN_MIN_S, MV_CONFIG_TOKEN_MAX_S,
	                         secs);
}

int
mv_duration_parse(const char *s, long lo, long hi, long *secs)
{
	long total = 0;
	bool any = false;

	if (s == NULL || *s == '\0')
		return -1;
	while (*s != '\0') {
		long n = 0, unit;
		const char *d = s;
		while (*s >= '0' && *s <= '9' && n <= hi)
			n = n * 10 + (*s++ - '0');
		if (s == d || n > hi)
			return -1;
		switch (*s) {
		case 'h': unit = 3600; s++; break;
		case 'm': unit = 60; s++; break;
		case 's': unit = 1; s++; break;
		case '\0': unit = any ? -1 : 1; break; /* plain seconds only alone */
		default: return -1;
		}
		if (unit < 0)
			return -1;
		total += n * unit;
		any = true;
		if (total > hi)
			return -1;
	}
	if (total < lo)
		return -1;
	*secs = total;
	return 0;
}

long
cfg_cluster_index(const struct mv_config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->n_clusters; i++)
		if (!strcmp(cfg->clusters[i].name, name))
			return (long)i;
	return -1;
}

bool
cfg_is_rfc1035(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n == 0 || n > max || !islower((unsigned char)s[0]) || s[n - 1] == '-')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!(islower((unsigned char)s[i]) || isdigit((unsigned char)s[i]) ||
		      s[i] == '-'))
			return false;
	return true;
}

bool
cfg_is_zone(const char *s)
{
	/* region-location + digit, '-', zone letter: us-west1-b */
	size_t n = strlen(s);
	int dashes = 0;

	if (n < 5 || n > 63 || !islower((unsigned char)s[n - 1]) || s[n - 2] != '-')
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '-')
			dashes++;
		else if (!islower((unsigned char)s[i]) && !isdigit((unsigned char)s[i]))
			return false;
	}
	return dashes >= 2 && isdigit((unsigned char)s[n - 3]);
}

bool
cfg_is_url(const char *s)
{
	return strncmp(s, "http://", 7) == 0 || strncmp(s, "https://", 8) == 0;
}
