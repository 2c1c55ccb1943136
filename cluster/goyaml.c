/* cluster/goyaml.c - JSON to YAML as sigs.k8s.io/yaml writes it (see
 * goyaml.h). */
#include "cluster/goyaml.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "core/xalloc.h"

#define MAX_DEPTH 64

struct buf {
	char *p;
	size_t len, cap;
};

static int
out_write(void *data, unsigned char *s, size_t n)
{
	struct buf *b = data;

	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		b->p = mv_xrealloc(b->p, b->cap);
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 1;
}

/* ASCII letters, and (approximately) any non-ASCII rune, are letters to
 * unicode.IsLetter; map keys meshvm writes are ASCII. */
static bool
is_letter(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80;
}

static bool
is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

/* gopkg.in/yaml.v2 sorter.go keyList.Less for two strings. */
int
goyaml_key_cmp(const char *as, const char *bs)
{
	const unsigned char *a = (const unsigned char *)as,
	                    *b = (const unsigned char *)bs;
	size_t la = strlen(as), lb = strlen(bs);

	for (size_t i = 0; i < la && i < lb; i++) {
		bool al, bl;
		size_t ai, bi;
		/* Go's int64 wraps on overflow; so does this (unsigned), and
		 * the comparison is made on the int64 values, as there. */
		unsigned long long an = 0, bn = 0;

		if (a[i] == b[i])
			continue;
		al = is_letter(a[i]);
		bl = is_letter(b[i]);
		if (al && bl)
			return a[i] < b[i] ? -1 : 1;
		if (al || bl)
			return bl ? -1 : 1;
		if (a[i] == '0' || b[i] == '0') {
			for (size_t j = i; j-- > 0 && is_digit(a[j]);) {
				if (a[j] != '0') {
					an = 1;
					bn = 1;
					break;
				}
			}
		}
		for (ai = i; ai < la && is_digit(a[ai]); ai++)
			an = an * 10 + (unsigned)(a[ai] - '0');
		for (bi = i; bi < lb && is_digit(b[bi]); bi++)
			bn = bn * 10 + (unsigned)(b[bi] - '0');
		if (an != bn)
			return (long long)an < (long long)bn ? -1 : 1;
		if (ai != bi)
			return ai < bi ? -1 : 1;
		return a[i] < b[i] ? -1 : 1;
	}
	return la < lb ? -1 : la > lb ? 1 : 0;
}

static bool
in_list(const char *s, const char *const *list)
{
	for (; *list; list++)
		if (strcmp(s, *list) == 0)
			return true;
	return false;
}

static bool
all_in(const char *s, const char *set)
{
	if (*s == '\0')
		return false;
	for (; *s; s++)
		if (strchr(set, *s) == NULL)
			return false;
	return true;
}

/* ^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$ */
static bool
yaml_style_float(const char *s)
{
	size_t d = 0;

	if (*s == '-' || *s == '+')
		s++;
	if (*s == '.') {
		s++;
		while (is_digit((unsigned char)*s))
			s++, d++;
		if (d == 0)
			return false;
	} else {
		while (is_digit((unsigned char)*s))
			s++, d++;
		if (d == 0)
			return false;
		if (*s == '.')
			for (s++; is_digit((unsigned char)*s); s++)
				;
	}
	if (*s == 'e' || *s == 'E') {
		s++;
		if (*s == '-' || *s == '+')
			s++;
		if (!is_digit((unsigned char)*s))
			return false;
		while (is_digit((unsigned char)*s))
			s++;
	}
	return *s == '\0';
}

/* strconv.ParseInt(s, 0, 64) (or ParseUint) would accept it. */
static bool
go_int(const char *s)
{
	const char *digits = "0123456789";

	if (*s == '-' || *s == '+')
		s++;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		s += 2, digits = "0123456789abcdefABCDEF";
	else if (s[0] == '0' && (s[1] == 'o' || s[1] == 'O'))
		s += 2, digits = "01234567";
	else if (s[0] == '0' && (s[1] == 'b' || s[1] == 'B'))
		s += 2, digits = "01";
	else if (s[0] == '0' && s[1] != '\0')
		s += 1, digits = "01234567";
	return all_in(s, digits);
}

/* yaml.v2 parseTimestamp's shape: YYYY-M-D, optionally followed by a
 * time; close enough to quote what it would read as a time. */
static bool
timestamp_like(const char *s)
{
	size_t i = 0, n;

	while (is_digit((unsigned char)s[i]))
		i++;
	if (i != 4 || s[i] != '-')
		return false;
	for (int part = 0; part < 2; part++) {
		i++;
		for (n = 0; is_digit((unsigned char)s[i]); i++, n++)
			;
		if (n < 1 || n > 2)
			return false;
		if (part == 0 && s[i] != '-')
			return false;
	}
	return s[i] == '\0' || s[i] == 'T' || s[i] == 't' || s[i] == ' ';
}

/* ^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$ */
static bool
base60_float(const char *s)
{
	int groups = 0;

	if (*s == '-' || *s == '+')
		s++;
	if (!is_digit((unsigned char)*s))
		return false;
	while (is_digit((unsigned char)*s) || *s == '_')
		s++;
	while (*s == ':') {
		const char *g = ++s;
		while (is_digit((unsigned char)*s))
			s++;
		if (s - g == 0 || s - g > 2 || (s - g == 2 && g[0] > '5'))
			return false;
		groups++;
	}
	if (groups == 0)
		return false;
	if (*s == '.')
		for (s++; is_digit((unsigned char)*s) || *s == '_'; s++)
			;
	return *s == '\0';
}

/* Would yaml.v2's resolve() read the plain scalar as anything but a
 * string? */
static bool
resolves_non_string(const char *s)
{
	static const char *const special[] = {
		"", "~", "null", "Null", "NULL", "y", "Y", "yes", "Yes", "YES",
		"on", "On", "ON", "n", "N", "no", "No", "NO", "off", "Off",
		"OFF", "true", "True", "TRUE", "false", "False", "FALSE",
		".nan", ".NaN", ".NAN", ".inf", ".Inf", ".INF", "+.inf",
		"+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF", "<<", NULL};
	char *plain, *w;
	bool r;

	if (in_list(s, special))
		return true;
	if (s[0] == '.')
		return yaml_style_float(s);
	if (!(is_digit((unsigned char)s[0]) || s[0] == '-' || s[0] == '+'))
		return false;
	if (timestamp_like(s))
		return true;
	plain = mv_xstrdup(s);
	for (w = plain; *s; s++)
		if (*s != '_')
			*w++ = *s;
	*w = '\0';
	r = go_int(plain) || yaml_style_float(plain);
	free(plain);
	return r;
}

struct em {
	yaml_emitter_t e;
	struct mv_err *err;
};

static int
emit(struct em *em, yaml_event_t *ev)
{
	if (!yaml_emitter_emit(&em->e, ev))
		return mv_err_set(em->err, MV_EXIT_FAIL, "YAML emitter: %s",
		                  em->e.problem ? em->e.problem : "failed");
	return 0;
}

static int
scalar(struct em *em, const char *s, size_t len, yaml_scalar_style_t style)
{
	yaml_event_t ev;

	yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)s,
	                             (int)len, 1, 1, style);
	return emit(em, &ev);
}

static int
string_scalar(struct em *em, const char *s, size_t len)
{
	yaml_scalar_style_t style = YAML_PLAIN_SCALAR_STYLE;

	if (memchr(s, '\n', len))
		style = YAML_LITERAL_SCALAR_STYLE;
	else if (strlen(s) != len || resolves_non_string(s) ||
	         base60_float(s))
		style = YAML_DOUBLE_QUOTED_SCALAR_STYLE;
	return scalar(em, s, len, style);
}

/* A JSON real as it comes out of encoding/json + yaml.v2: json writes
 * the shortest digits ('f' form below 1e21), yaml.v2 reads a whole number
 * that fits int64/uint64 back as an integer and writes it so; anything
 * else stays a float and is written with strconv.FormatFloat(f, 'g', -1,
 * 64): shortest digits, exponent form when the exponent is < -4 or >= 6
 * (Go's 'g' with shortest precision), at least two exponent digits. */
static void
format_real(double d, char *out, size_t n)
{
	char e[48], digits[24], *p;
	int nd = 0, exp10, prec;
	bool neg;

	if (isnan(d)) {
		snprintf(out, n, ".nan");
		return;
	}
	if (isinf(d)) {
		snprintf(out, n, d > 0 ? ".inf" : "-.inf");
		return;
	}
	if (d == 0) {
		snprintf(out, n, "0");
		return;
	}
	for (prec = 0; prec < 17; prec++) {
		snprintf(e, sizeof(e), "%.*e", prec, d);
		if (strtod(e, NULL) == d)
			break;
	}
	/* e = [-]D[.DDD]e(+|-)XX */
	neg = e[0] == '-';
	for (p = e + neg; *p && *p != 'e'; p++)
		if (*p != '.' && nd < (int)sizeof(digits) - 1)
			digits[nd++] = *p;
	digits[nd] = '\0';
	exp10 = atoi(p + 1);
	if (d == floor(d) && fabs(d) < 1e21 &&
	    (neg ? fabs(d) <= 9223372036854775808.0
	         : d < 18446744073709551616.0)) {
		/* digits, then zeros up to the units */
		int len = snprintf(out, n, "%s%s", neg ? "-" : "", digits);
		for (int z = 0; z < exp10 - (nd - 1) && (size_t)len + 1 < n; z++)
			out[len++] = '0';
		out[len] = '\0';
		return;
	}
	if (exp10 < -4 || exp10 >= 6) {
		snprintf(out, n, "%s%c%s%se%c%02d", neg ? "-" : "", digits[0],
		         nd > 1 ? "." : "", digits + 1, exp10 < 0 ? '-' : '+',
		         exp10 < 0 ? -exp10 : exp10);
		return;
	}
	if (exp10 < 0) {
		/* 0.000ddd */
		int len = snprintf(out, n, "%s0.", neg ? "-" : "");
		for (int z = 0; z < -exp10 - 1 && (size_t)len + 1 < n; z++)
			out[len++] = '0';
		snprintf(out + len, n - (size_t)len, "%s", digits);
		return;
	}
	/* exp10 in [0, 6): the decimal point inside or after the digits */
	if (nd <= exp10 + 1) {
		int len = snprintf(out, n, "%s%s", neg ? "-" : "", digits);
		for (int z = 0; z < exp10 + 1 - nd && (size_t)len + 1 < n; z++)
			out[len++] = '0';
		out[len] = '\0';
	} else {
		snprintf(out, n, "%s%.*s.%s", neg ? "-" : "", exp10 + 1, digits,
		         digits + exp10 + 1);
	}
}

struct kv {
	const char *key;
	json_t *value;
};

static int
kv_cmp(const void *a, const void *b)
{
	return goyaml_key_cmp(((const struct kv *)a)->key,
	                      ((const struct kv *)b)->key);
}

static int
value(struct em *em, const json_t *v, int depth)
{
	yaml_event_t ev;
	char num[64];

	if (depth > MAX_DEPTH)
		return mv_err_set(em->err, MV_EXIT_FAIL,
		                  "YAML: nested deeper than %d", MAX_DEPTH);
	switch (json_typeof(v)) {
	case JSON_OBJECT: {
		size_t n = json_object_size(v), i = 0;
		struct kv *kv = mv_xcalloc(n ? n : 1, sizeof(*kv));
		const char *k;
		json_t *x;
		int rc = 0;

		json_object_foreach((json_t *)v, k, x) {
			kv[i].key = k;
			kv[i++].value = x;
		}
		qsort(kv, n, sizeof(*kv), kv_cmp);
		yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1,
		                                    YAML_BLOCK_MAPPING_STYLE);
		rc = emit(em, &ev);
		for (i = 0; rc == 0 && i < n; i++)
			rc = string_scalar(em, kv[i].key, strlen(kv[i].key)) ||
			     value(em, kv[i].value, depth + 1);
		free(kv);
		if (rc != 0)
			return -1;
		yaml_mapping_end_event_initialize(&ev);
		return emit(em, &ev);
	}
	case JSON_ARRAY: {
		size_t i;
		json_t *x;

		yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1,
		                                     YAML_BLOCK_SEQUENCE_STYLE);
		if (emit(em, &ev) != 0)
			return -1;
		json_array_foreach(v, i, x)
			if (value(em, x, depth + 1) != 0)
				return -1;
		yaml_sequence_end_event_initialize(&ev);
		return emit(em, &ev);
	}
	case JSON_STRING:
		return string_scalar(em, json_string_value(v),
		                     json_string_length(v));
	case JSON_INTEGER:
		snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT,
		         json_integer_value(v));
		return scalar(em, num, strlen(num), YAML_PLAIN_SCALAR_STYLE);
	case JSON_REAL:
		format_real(json_real_value(v), num, sizeof(num));
		return scalar(em, num, strlen(num), YAML_PLAIN_SCALAR_STYLE);
	case JSON_TRUE:
		return scalar(em, "true", 4, YAML_PLAIN_SCALAR_STYLE);
	case JSON_FALSE:
		return scalar(em, "false", 5, YAML_PLAIN_SCALAR_STYLE);
	case JSON_NULL:
		return scalar(em, "null", 4, YAML_PLAIN_SCALAR_STYLE);
	}
	return mv_err_set(em->err, MV_EXIT_FAIL, "YAML: unknown JSON type");
}

char *
goyaml_dump(const json_t *v, struct mv_err *err)
{
	struct em em = {.err = err};
	struct buf out = {0};
	yaml_event_t ev;
	int rc;

	if (!yaml_emitter_initialize(&em.e)) {
		mv_err_set(err, MV_EXIT_FAIL, "YAML emitter: out of memory");
		return NULL;
	}
	yaml_emitter_set_output(&em.e, out_write, &out);
	yaml_emitter_set_unicode(&em.e, 1);
	yaml_emitter_set_indent(&em.e, 2);
	yaml_emitter_set_width(&em.e, 80);
	yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING);
	rc = emit(&em, &ev);
	if (rc == 0) {
		yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1);
		rc = emit(&em, &ev);
	}
	if (rc == 0)
		rc = value(&em, v, 0);
	if (rc == 0) {
		yaml_document_end_event_initialize(&ev, 1);
		rc = emit(&em, &ev);
	}
	if (rc == 0) {
		yaml_stream_end_event_initialize(&ev);
		rc = emit(&em, &ev);
	}
	yaml_emitter_delete(&em.e);
	if (rc != 0) {
		free(out.p);
		return NULL;
	}
	return out.p ? out.p : mv_xstrdup("");
}
