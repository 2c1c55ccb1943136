/* core/yaml.c - libyaml events -> jansson values, each position recorded
 * in the stream's table (core/yaml_pos.c). */
#include "core/yaml.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "core/yaml_private.h"

#define YAML_MAX_DEPTH 512
#define YAML_MAX_NODES (4u << 20) /* after alias expansion */
#define YAML_MAX_INPUT (64u << 20)

/*--- scalar resolution (YAML 1.2 core schema) ----------------------------*/

static bool
all_digits(const char *s, const char *digits)
{
	if (*s == '\0')
		return false;
	for (; *s; s++)
		if (strchr(digits, *s) == NULL)
			return false;
	return true;
}

static json_t *
int_or_string(const char *s, const char *digits, int base, bool neg)
{
	errno = 0;
	char *end;
	unsigned long long v = strtoull(digits, &end, base);

	if (errno != 0 || *end != '\0' || v > (unsigned long long)INT64_MAX)
		return json_string(s); /* too big for an integer: keep text */
	return json_integer(neg ? -(json_int_t)v : (json_int_t)v);
}

static bool
is_float(const char *s)
{
	const char *p = s;
	bool digits = false;

	if (*p == '-' || *p == '+')
		p++;
	while (*p >= '0' && *p <= '9') {
		p++;
		digits = true;
	}
	if (*p == '.') {
		p++;
		while (*p >= '0' && *p <= '9') {
			p++;
			digits = true;
		}
	}
	if (!digits)
		return false;
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '-' || *p == '+')
			p++;
		if (!(*p >= '0' && *p <= '9'))
			return false;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	return *p == '\0';
}

static json_t *
resolve_plain(const char *s)
{
	if (*s == '\0' || !strcmp(s, "~") || !strcmp(s, "null") ||
	    !strcmp(s, "Null") || !strcmp(s, "NULL"))
		return json_null();
	if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE"))
		return json_true();
	if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE"))
		return json_false();
	{
		const char *p = s;
		bool neg = false;
		if (*p == '-' || *p == '+') {
			neg = *p == '-';
			p++;
		}
		if (all_digits(p, "0123456789"))
			return int_or_string(s, p, 10, neg);
		if (p == s && p[0] == '0' && p[1] == 'o' &&
		    all_digits(p + 2, "01234567"))
			return int_or_string(s, p + 2, 8, false);
		if (p == s && p[0] == '0' && p[1] == 'x' &&
		    all_digits(p + 2, "0123456789abcdefABCDEF"))
			return int_or_string(s, p + 2, 16, false);
	}
	if (is_float(s))
		return json_real(strtod(s, NULL));
	if (!strcmp(s, ".inf") || !strcmp(s, ".Inf") || !strcmp(s, ".INF") ||
	    !strcmp(s, "+.inf"))
		return json_string(s); /* JSON has no infinity */
	if (!strcmp(s, "-.inf") || !strcmp(s, ".nan") || !strcmp(s, ".NaN"))
		return json_string(s);
	return json_string(s);
}

static json_t *
resolve_scalar(const yaml_event_t *ev, struct mv_yaml_pos *pos)
{
	const char *v = (const char *)ev->data.scalar.value;
	const char *tag = (const char *)ev->data.scalar.tag;
	size_t len = ev->data.scalar.length;

	pos->tagged = tag != NULL;
	switch (ev->data.scalar.style) {
	case YAML_SINGLE_QUOTED_SCALAR_STYLE:
		pos->style = MV_YAML_SINGLE_QUOTED;
		break;
	case YAML_DOUBLE_QUOTED_SCALAR_STYLE:
		pos->style = MV_YAML_DOUBLE_QUOTED;
		break;
	case YAML_LITERAL_SCALAR_STYLE:
		pos->style = MV_YAML_LITERAL;
		break;
	case YAML_FOLDED_SCALAR_STYLE:
		pos->style = MV_YAML_FOLDED;
		break;
	default:
		pos->style = MV_YAML_PLAIN;
	}
	if (tag != NULL) {
		if (!strcmp(tag, YAML_STR_TAG) || !strcmp(tag, "!"))
			return json_stringn(v, len);
		if (!strcmp(tag, YAML_NULL_TAG))
			return json_null();
		if (!strcmp(tag, YAML_BOOL_TAG) || !strcmp(tag, YAML_INT_TAG) ||
		    !strcmp(tag, YAML_FLOAT_TAG))
			return resolve_plain(v);
		/* Unknown tags (e.g. !Ref): keep the text. */
		return json_stringn(v, len);
	}
	if (pos->style != MV_YAML_PLAIN)
		return json_stringn(v, len);
	if (strlen(v) != len) /* embedded NUL cannot be plain; keep bytes */
		return json_stringn(v, len);
	return resolve_plain(v);
}

/*--- tree building -------------------------------------------------------*/

struct frame {
	json_t *node;
	char *pending_key; /* mapping: key waiting for its value */
	struct mv_yaml_pos key_pos;
	const char *anchor;
};

struct anchor {
	char *name;
	json_t *node; /* NULL while its container is still open */
};

struct builder {
	struct mv_yaml *y;
	struct frame stack[YAML_MAX_DEPTH];
	int depth;
	struct anchor *anchors;
	size_t n_anchors, cap_anchors;
	size_t nodes;
	json_t *doc;
	struct mv_err *err;
	int failed;
};

static int
build_fail(struct builder *b, const yaml_mark_t *m, const char *fmt, ...)
	MV_PRINTF(3, 4);

static int
build_fail(struct builder *b, const yaml_mark_t *m, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	b->failed = 1;
	return mv_err_at(b->err, MV_EXIT_FAIL, b->y->name, (int)m->line + 1,
	                 (int)m->column + 1, "%s", msg);
}

static int
anchor_set(struct builder *b, const char *name, json_t *node)
{
	for (size_t i = 0; i < b->n_anchors; i++)
		if (!strcmp(b->anchors[i].name, name)) {
			json_decref(b->anchors[i].node);
			b->anchors[i].node = json_incref(node);
			return 0;
		}
	if (b->n_anchors == b->cap_anchors) {
		size_t cap = b->cap_anchors ? b->cap_anchors * 2 : 8;
		struct anchor *n = realloc(b->anchors, cap * sizeof(*n));
		if (n == NULL)
			return -1;
		b->anchors = n;
		b->cap_anchors = cap;
	}
	b->anchors[b->n_anchors].name = strdup(name);
	if (b->anchors[b->n_anchors].name == NULL)
		return -1;
	b->anchors[b->n_anchors].node = json_incref(node);
	b->n_anchors++;
	return 0;
}

static size_t
count_nodes(const json_t *j)
{
	size_t n = 1;
	const char *k;
	json_t *v;
	size_t i;

	if (json_is_object(j)) {
		json_object_foreach((json_t *)j, k, v) n += count_nodes(v);
	} else if (json_is_array(j)) {
		json_array_foreach(j, i, v) n += count_nodes(v);
	}
	return n;
}

static void
anchors_reset(struct builder *b)
{
	for (size_t i = 0; i < b->n_anchors; i++) {
		free(b->anchors[i].name);
		json_decref(b->anchors[i].node);
	}
	b->n_anchors = 0;
}

/* Merge `src` mapping into `dst` without overriding (YAML merge key). */
static void
merge_into(json_t *dst, json_t *src)
{
	const char *k;
	json_t *v;

	json_object_foreach(src, k, v) if (json_object_get(dst, k) == NULL)
		json_object_set(dst, k, v);
}

/* Attach a finished node to the container on top of the stack (or make it
 * the document). Steals the reference. */
static int
attach(struct builder *b, json_t *node, struct mv_yaml_pos pos,
       const yaml_mark_t *mark)
{
	struct frame *f;

	if (node == NULL)
		return build_fail(b, mark, "out of memory");
	if (++b->nodes > YAML_MAX_NODES) {
		json_decref(node);
		return build_fail(b, mark, "document too large");
	}
	if (b->depth == 0) {
		size_t idx = json_array_size(b->y->docs);
		if (yaml_pos_add(b->y, NULL, NULL, idx, POS_VALUE, pos) != 0) {
			json_decref(node);
			return build_fail(b, mark, "out of memory");
		}
		b->doc = node;
		return 0;
	}
	f = &b->stack[b->depth - 1];
	if (json_is_array(f->node)) {
		size_t idx = json_array_size(f->node);
		if (yaml_pos_add(b->y, f->node, NULL, idx, POS_VALUE, pos) != 0 ||
		    json_array_append_new(f->node, node) != 0)
			return build_fail(b, mark, "out of memory");
		return 0;
	}
	/* mapping */
	if (f->pending_key == NULL) {
		char buf[64];
		const char *key;
		if (json_is_string(node)) {
			key = json_string_value(node);
		} else if (json_is_integer(node)) {
			snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT,
			         json_integer_value(node));
			key = buf;
		} else if (json_is_true(node) || json_is_false(node)) {
			key = json_is_true(node) ? "true" : "false";
		} else if (json_is_null(node)) {
			key = "null";
		} else if (json_is_real(node)) {
			snprintf(buf, sizeof(buf), "%g", json_real_value(node));
			key = buf;
		} else {
			json_decref(node);
			return build_fail(b, mark, "mapping keys must be scalars");
		}
		/* Keys that look like numbers keep their source text. */
		f->pending_key = strdup(key);
		f->key_pos = pos;
		json_decref(node);
		if (f->pending_key == NULL)
			return build_fail(b, mark, "out of memory");
		return 0;
	}
	if (!strcmp(f->pending_key, "<<") && f->key_pos.style == MV_YAML_PLAIN) {
		size_t i;
		json_t *v;
		if (json_is_object(node)) {
			merge_into(f->node, node);
		} else if (json_is_array(node)) {
			json_array_foreach(node, i, v) if (json_is_object(v))
				merge_into(f->node, v);
		} else {
			json_decref(node);
			return build_fail(b, mark, "merge key needs a mapping");
		}
		json_decref(node);
	} else {
		if (json_object_get(f->node, f->pending_key) != NULL) {
			yaml_mark_t km = {0, (size_t)f->key_pos.line - 1,
			                  (size_t)f->key_pos.col - 1};
			json_decref(node);
			return build_fail(b, &km, "duplicate key \"%s\"",
			                  f->pending_key);
		}
		if (yaml_pos_add(b->y, f->node, f->pending_key, 0, POS_KEY,
		            f->key_pos) != 0 ||
		    yaml_pos_add(b->y, f->node, f->pending_key, 0, POS_VALUE, pos) !=
		            0 ||
		    json_object_set_new(f->node, f->pending_key, node) != 0)
			return build_fail(b, mark, "out of memory");
	}
	free(f->pending_key);
	f->pending_key = NULL;
	return 0;
}

/* The original scalar text of a key is lost by resolve_scalar when it is
 * e.g. "010" or "1e3"; keep keys verbatim instead. */
static json_t *
scalar_for(struct builder *b, const yaml_event_t *ev, struct mv_yaml_pos *pos)
{
	struct frame *f = b->depth ? &b->stack[b->depth - 1] : NULL;

	if (f != NULL && json_is_object(f->node) && f->pending_key == NULL) {
		json_decref(resolve_scalar(ev, pos)); /* fills pos->style */
		return json_stringn((const char *)ev->data.scalar.value,
		                    ev->data.scalar.length);
	}
	return resolve_scalar(ev, pos);
}

static int
handle_event(struct builder *b, yaml_event_t *ev)
{
	struct mv_yaml_pos pos = {(int)ev->start_mark.line + 1,
	                          (int)ev->start_mark.column + 1,
	                          MV_YAML_CONTAINER, false};
	json_t *node;

	switch (ev->type) {
	case YAML_DOCUMENT_START_EVENT:
		b->doc = NULL;
		anchors_reset(b);
		return 0;
	case YAML_DOCUMENT_END_EVENT:
		if (json_array_append_new(b->y->docs,
		                          b->doc ? b->doc : json_null()) != 0)
			return build_fail(b, &ev->start_mark, "out of memory");
		b->doc = NULL;
		return 0;
	case YAML_SCALAR_EVENT: {
		const char *anchor = (const char *)ev->data.scalar.anchor;
		node = scalar_for(b, ev, &pos);
		if (node == NULL)
			return build_fail(b, &ev->start_mark, "out of memory");
		if (anchor != NULL && anchor_set(b, anchor, node) != 0) {
			json_decref(node);
			return build_fail(b, &ev->start_mark, "out of memory");
		}
		return attach(b, node, pos, &ev->start_mark);
	}
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT: {
		const char *anchor = ev->type == YAML_SEQUENCE_START_EVENT
		                             ? (const char *)ev->data.sequence_start.anchor
		                             : (const char *)ev->data.mapping_start.anchor;
		struct frame *f;
		if (b->depth >= YAML_MAX_DEPTH)
			return build_fail(b, &ev->start_mark, "nesting too deep");
		node = ev->type == YAML_SEQUENCE_START_EVENT ? json_array()
		                                             : json_object();
		if (node == NULL)
			return build_fail(b, &ev->start_mark, "out of memory");
		/* Record where the container starts before attaching it. */
		if (yaml_pos_add(b->y, node, NULL, 0, POS_NODE, pos) != 0) {
			json_decref(node);
			return build_fail(b, &ev->start_mark, "out of memory");
		}
		/* Attach first (reference kept by the stack), so the parent
		 * records the key/index position. */
		if (attach(b, json_incref(node), pos, &ev->start_mark) != 0) {
			json_decref(node);
			return -1;
		}
		f = &b->stack[b->depth++];
		f->node = node;
		f->pending_key = NULL;
		f->anchor = NULL;
		if (anchor != NULL) {
			/* Registered with a NULL node until closed: an alias to
			 * an open container would make a cycle. */
			if (anchor_set(b, anchor, NULL) != 0)
				return build_fail(b, &ev->start_mark, "out of memory");
			for (size_t i = 0; i < b->n_anchors; i++)
				if (!strcmp(b->anchors[i].name, anchor))
					f->anchor = b->anchors[i].name;
		}
		return 0;
	}
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT: {
		struct frame *f = &b->stack[--b->depth];
		if (f->anchor != NULL)
			for (size_t i = 0; i < b->n_anchors; i++)
				if (b->anchors[i].name == f->anchor) {
					json_decref(b->anchors[i].node);
					b->anchors[i].node = json_incref(f->node);
				}
		free(f->pending_key);
		f->pending_key = NULL;
		json_decref(f->node); /* the parent (or doc) holds it */
		return 0;
	}
	case YAML_ALIAS_EVENT: {
		const char *name = (const char *)ev->data.alias.anchor;
		json_t *target = NULL;
		bool known = false;
		for (size_t i = 0; i < b->n_anchors; i++)
			if (!strcmp(b->anchors[i].name, name)) {
				target = b->anchors[i].node;
				known = true;
			}
		if (!known)
			return build_fail(b, &ev->start_mark,
			                  "unknown alias \"%s\"", name);
		if (target == NULL)
			return build_fail(b, &ev->start_mark,
			                  "alias \"%s\" refers to its own container",
			                  name);
		b->nodes += count_nodes(target);
		if (b->nodes > YAML_MAX_NODES)
			return build_fail(b, &ev->start_mark,
			                  "document too large after alias expansion");
		node = json_deep_copy(target);
		if (json_is_string(target) || json_is_number(target))
			pos.style = MV_YAML_PLAIN;
		return attach(b, node, pos, &ev->start_mark);
	}
	default:
		return 0;
	}
}

int
mv_yaml_load_buf(const char *name, const char *buf, size_t len,
                 struct mv_yaml **out, struct mv_err *err)
{
	yaml_parser_t parser;
	struct builder b;
	struct mv_yaml *y;
	int done = 0;

	*out = NULL;
	y = calloc(1, sizeof(*y));
	if (y == NULL)
		return mv_err_set(err, MV_EXIT_FAIL, "out of memory");
	y->name = strdup(name ? name : "<yaml>");
	y->docs = json_array();
	if (y->name == NULL || y->docs == NULL) {
		mv_yaml_free(y);
		return mv_err_set(err, MV_EXIT_FAIL, "out of memory");
	}
	memset(&b, 0, sizeof(b));
	b.y = y;
	b.err = err;
	if (!yaml_parser_initialize(&parser)) {
		mv_yaml_free(y);
		return mv_err_set(err, MV_EXIT_FAIL, "out of memory");
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	while (!done && !b.failed) {
		yaml_event_t ev;
		if (!yaml_parser_parse(&parser, &ev)) {
			const yaml_mark_t *m = &parser.problem_mark;
			if (parser.context != NULL)
				mv_err_at(err, MV_EXIT_FAIL, y->name, (int)m->line + 1,
				          (int)m->column + 1,
				          "YAML syntax error: %s %s",
				          parser.problem ? parser.problem : "?",
				          parser.context);
			else
				mv_err_at(err, MV_EXIT_FAIL, y->name, (int)m->line + 1,
				          (int)m->column + 1, "YAML syntax error: %s",
				          parser.problem ? parser.problem : "?");
			b.failed = 1;
			break;
		}
		done = ev.type == YAML_STREAM_END_EVENT;
		handle_event(&b, &ev);
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&parser);
	/* Unwind a partial tree after an error. */
	while (b.depth > 0) {
		struct frame *f = &b.stack[--b.depth];
		free(f->pending_key);
		json_decref(f->node);
	}
	json_decref(b.doc);
	anchors_reset(&b);
	free(b.anchors);
	if (b.failed) {
		mv_yaml_free(y);
		return -1;
	}
	*out = y;
	return 0;
}

int
mv_yaml_load_file(const char *path, struct mv_yaml **out, struct mv_err *err)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t len = 0, cap = 0;
	int rc;

	*out = NULL;
	if (f == NULL)
		return mv_err_sys(err, errno, "%s", path);
	for (;;) {
		size_t n;
		if (cap - len < 65536) {
			char *nb;
			cap = cap ? cap * 2 : 65536;
			if (cap > YAML_MAX_INPUT + 65536) {
				free(buf);
				fclose(f);
				return mv_err_at(err, MV_EXIT_FAIL, path, 0, 0,
				                 "file too large for YAML (over %u MiB)",
				                 YAML_MAX_INPUT >> 20);
			}
			nb = realloc(buf, cap);
			if (nb == NULL) {
				free(buf);
				fclose(f);
				return mv_err_set(err, MV_EXIT_FAIL, "out of memory");
			}
			buf = nb;
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (n == 0) {
			if (ferror(f)) {
				int e = errno;
				free(buf);
				fclose(f);
				return mv_err_sys(err, e, "%s: read", path);
			}
			break;
		}
	}
	fclose(f);
	rc = mv_yaml_load_buf(path, buf, len, out, err);
	free(buf);
	return rc;
}
