/* harness/vmsim/classify.c - is this boot metadata ours?  Only when the
 * cloudinit/ generator, given the join.conf and pin the metadata carries,
 * makes exactly the same bytes (see vmsim.h).  A multipart is ours when
 * one of its cloud-config parts is; its other parts are not run.
 * Everything here reads attacker-controlled text: sizes are bounded and
 * nothing is executed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cloudinit/cloudinit.h"
#include "core/base64.h"
#include "core/xalloc.h"
#include "core/yaml.h"
#include "harness/vmsim/vmsim.h"

#define EOF_MARK "MESHVM_STARTUP_EOF"

/* The join parameters a join.conf and a pin describe; 0 or -1. */
struct conf {
	struct cloudinit_join join;
	char url[2048];
	char runtime[16];
};

static int
conf_parse(const char *text, const char *pin, struct conf *c)
{
	const char *p = text;
	bool have_src = false;

	memset(c, 0, sizeof(*c));
	c->join.runtime = "auto";
	c->join.ready_timeout = CLOUDINIT_READY_TIMEOUT_DEFAULT;
	if (strlen(pin) != MV_SHA256_HEX || pin[MV_SHA256_HEX - 1] != '\n')
		return -1;
	memcpy(c->join.bundle_sha256, pin, MV_SHA256_HEX - 1);
	c->join.bundle_sha256[MV_SHA256_HEX - 1] = '\0';
	while (p && *p) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		char line[2100];
		if (n < sizeof(line)) {
			memcpy(line, p, n);
			line[n] = '\0';
			if (!strcmp(line, "MESHVM_BUNDLE_SOURCE=url")) {
				c->join.source = CLOUDINIT_SOURCE_URL;
				have_src = true;
			} else if (!strcmp(line, "MESHVM_BUNDLE_SOURCE=seed")) {
				c->join.source = CLOUDINIT_SOURCE_SEED;
				have_src = true;
			} else if (!strncmp(line, "MESHVM_BUNDLE_URL=", 18)) {
				snprintf(c->url, sizeof(c->url), "%s", line + 18);
				c->join.bundle_url = c->url;
			} else if (!strncmp(line, "MESHVM_RUNTIME=", 15)) {
				snprintf(c->runtime, sizeof(c->runtime), "%s", line + 15);
				c->join.runtime = c->runtime;
			} else if (!strncmp(line, "MESHVM_READY_TIMEOUT=", 21)) {
				c->join.ready_timeout = atoi(line + 21);
			}
		}
		p = nl ? nl + 1 : NULL;
	}
	return have_src ? 0 : -1;
}

/* A heredoc body the startup-script writes to `path`, or NULL (heap). */
static char *
heredoc(const char *s, const char *path)
{
	char head[256], *out;
	const char *b, *e;

	snprintf(head, sizeof(head), "\nput %s 0644 <<'" EOF_MARK "'\n", path);
	if ((b = strstr(s, head)) == NULL)
		return NULL;
	b += strlen(head);
	if ((e = strstr(b, "\n" EOF_MARK "\n")) == NULL)
		return NULL;
	out = mv_xstrndup(b, (size_t)(e - b) + 1);
	return out;
}

static struct vmsim_plan *
plan_new(const char *kind)
{
	struct vmsim_plan *p = mv_xcalloc(1, sizeof(*p));

	p->kind = kind;
	return p;
}

void
vmsim_plan_free(struct vmsim_plan *p)
{
	if (p == NULL)
		return;
	for (size_t i = 0; i < p->n_files; i++) {
		free(p->files[i].path);
		free(p->files[i].content);
	}
	free(p->script);
	free(p);
}

static int
startup_script(const char *data, size_t len, struct vmsim_plan **out,
               struct mv_err *err)
{
	char *conf = heredoc(data, CLOUDINIT_CONF_PATH);
	char *pin = heredoc(data, CLOUDINIT_PIN_PATH), *want = NULL;
	size_t want_len = 0;
	struct conf c;
	struct mv_err e2;
	int rc = -1;

	mv_err_clear(&e2);
	if (conf == NULL || pin == NULL || conf_parse(conf, pin, &c) != 0)
		mv_err_set(err, MV_EXIT_FAIL, "a startup-script that is not "
		           "meshvm's (no join.conf and pin of ours)");
	else if (cloudinit_startup_script(&c.join, &want, &want_len, &e2) != 0)
		mv_err_set(err, MV_EXIT_FAIL, "a startup-script whose join.conf "
		           "meshvm would not write: %s", e2.msg);
	else if (want_len != len || memcmp(want, data, len) != 0)
		mv_err_set(err, MV_EXIT_FAIL, "a startup-script that differs from "
		           "the one meshvm writes for its join.conf (a changed "
		           "join script or extra commands)");
	else {
		*out = plan_new("startup-script");
		(*out)->script = mv_xstrndup(data, len);
		rc = 0;
	}
	free(conf);
	free(pin);
	free(want);
	mv_err_free(&e2);
	return rc;
}

/* Single-quoted for sh. */
static void
sh_quote(char **s, size_t *n, const char *w)
{
	size_t need = *n + 4 * strlen(w) + 4;

	*s = mv_xrealloc(*s, need);
	(*s)[(*n)++] = '\'';
	for (; *w; w++) {
		if (*w == '\'') {
			memcpy(*s + *n, "'\\''", 4);
			*n += 4;
		} else {
			(*s)[(*n)++] = *w;
		}
	}
	(*s)[(*n)++] = '\'';
	(*s)[*n] = '\0';
}

/* runcmd as cloud-init runs it: one line per entry, a list quoted word
 * by word, a string as shell text; no `set -e` (every entry runs). */
static char *
runcmd_script(const json_t *runcmd)
{
	char *s = mv_xstrdup("#!/bin/sh\n");
	size_t n = strlen(s);
	const json_t *c, *w;
	size_t i, j;

	json_array_foreach(runcmd, i, c) {
		if (json_is_string(c)) {
			const char *t = json_string_value(c);
			s = mv_xrealloc(s, n + strlen(t) + 2);
			n += (size_t)sprintf(s + n, "%s\n", t);
			continue;
		}
		json_array_foreach(c, j, w) {
			if (j > 0) {
				s = mv_xrealloc(s, n + 2);
				s[n++] = ' ';
				s[n] = '\0';
			}
			sh_quote(&s, &n, json_is_string(w) ? json_string_value(w) : "");
		}
		s = mv_xrealloc(s, n + 2);
		s[n++] = '\n';
		s[n] = '\0';
	}
	return s;
}

/* 0 when the one cloud-config document `data` is ours, with *out. */
static int
cloud_config(const char *data, size_t len, struct vmsim_plan **out,
             struct mv_err *err)
{
	struct mv_yaml *y = NULL;
	struct mv_err e2;
	const char *conf = NULL, *pin = NULL;
	json_t *doc, *wf, *it, *rcmd;
	char *want = NULL;
	size_t want_len = 0, i;
	struct conf c;
	int rc = -1;

	mv_err_clear(&e2);
	if (mv_yaml_load_buf("user-data", data, len, &y, &e2) != 0 ||
	    mv_yaml_count(y) != 1) {
		mv_yaml_free(y);
		mv_err_free(&e2);
		return mv_err_set(err, MV_EXIT_FAIL, "a cloud-config that does "
		                  "not parse as one YAML document");
	}
	doc = mv_yaml_doc(y, 0);
	wf = json_object_get(doc, "write_files");
	rcmd = json_object_get(doc, "runcmd");
	json_array_foreach(wf, i, it) {
		const char *path = json_string_value(json_object_get(it, "path"));
		const char *content = json_string_value(json_object_get(it,
		                                                        "content"));
		if (path && content && !strcmp(path, CLOUDINIT_CONF_PATH))
			conf = content;
		if (path && content && !strcmp(path, CLOUDINIT_PIN_PATH))
			pin = content;
	}
	if (conf == NULL || pin == NULL || conf_parse(conf, pin, &c) != 0)
		mv_err_set(err, MV_EXIT_FAIL, "a cloud-config that is not "
		           "meshvm's (no join.conf and pin of ours)");
	else if (cloudinit_cloud_config(&c.join, &want, &want_len, &e2) != 0)
		mv_err_set(err, MV_EXIT_FAIL, "a cloud-config whose join.conf "
		           "meshvm would not write: %s", e2.msg);
	else if (want_len != len || memcmp(want, data, len) != 0)
		mv_err_set(err, MV_EXIT_FAIL, "a cloud-config that differs from "
		           "the one meshvm writes for its join.conf (a changed "
		           "join script or extra commands)");
	else if (json_array_size(wf) > VMSIM_FILES_MAX ||
	         !json_is_array(rcmd) || json_array_size(rcmd) > VMSIM_CMDS_MAX)
		mv_err_set(err, MV_EXIT_FAIL, "too many write_files or runcmd");
	else {
		struct vmsim_plan *p = plan_new("cloud-config");
		json_array_foreach(wf, i, it) {
			const char *perm = json_string_value(json_object_get(
			        it, "permissions"));
			const char *ct = json_string_value(json_object_get(it,
			                                                   "content"));
			struct vmsim_file *f = &p->files[p->n_files++];
			f->path = mv_xstrdup(json_string_value(json_object_get(it,
			                                                       "path")));
			f->mode = perm ? (unsigned)strtoul(perm, NULL, 8) & 07777u
			               : 0644u;
			f->content = mv_xstrdup(ct ? ct : "");
			f->len = strlen(f->content);
		}
		p->script = runcmd_script(rcmd);
		*out = p;
		rc = 0;
	}
	free(want);
	mv_yaml_free(y);
	mv_err_free(&e2);
	return rc;
}

/* Header `name` of a MIME part (headers end at the first empty line). */
static bool
mime_header(const char *h, size_t hlen, const char *name, char *out,
            size_t olen)
{
	size_t nl = strlen(name);

	for (const char *p = h; p < h + hlen;) {
		const char *e = memchr(p, '\n', (size_t)(h + hlen - p));
		size_t n = e ? (size_t)(e - p) : (size_t)(h + hlen - p);
		if (n > nl && !strncasecmp(p, name, nl) && p[nl] == ':') {
			const char *v = p + nl + 1;
			while (*v == ' ')
				v++;
			snprintf(out, olen, "%.*s", (int)(p + n - v), v);
			return true;
		}
		p += n + 1;
	}
	return false;
}

static int
multipart(const char *data, size_t len, struct vmsim_plan **out,
          struct mv_err *err)
{
	char ctype[256], boundary[128], delim[140];
	const char *b, *q, *p, *end = data + len;
	size_t parts = 0;
	struct vmsim_plan *ours = NULL;
	struct mv_err why;

	mv_err_clear(&why);
	if (!mime_header(data, len, "Content-Type", ctype, sizeof(ctype)) ||
	    strncmp(ctype, "multipart/mixed", 15) ||
	    (b = strstr(ctype, "boundary=\"")) == NULL ||
	    (q = strchr(b + 10, '"')) == NULL || q - (b + 10) >= 100)
		return mv_err_set(err, MV_EXIT_FAIL, "user-data that is neither "
		                  "a cloud-config nor a MIME multipart");
	snprintf(boundary, sizeof(boundary), "%.*s", (int)(q - (b + 10)), b + 10);
	snprintf(delim, sizeof(delim), "--%s\n", boundary);
	p = strstr(data, delim);
	while (p != NULL && p < end && parts < 16 &&
	       !strncmp(p, delim, strlen(delim))) {
		const char *h = p + strlen(delim), *hb, *next;
		char pt[128], enc[64];
		size_t blen;
		parts++;
		if ((hb = strstr(h, "\n\n")) == NULL)
			break;
		hb += 2;
		snprintf(delim, sizeof(delim), "\n--%s", boundary);
		next = strstr(hb, delim);
		snprintf(delim, sizeof(delim), "--%s\n", boundary);
		if (next == NULL)
			break;
		blen = (size_t)(next - hb);
		if (ours == NULL &&
		    mime_header(h, (size_t)(hb - h), "Content-Type", pt, sizeof(pt)) &&
		    !strncmp(pt, "text/cloud-config", 17)) {
			uint8_t *dec = NULL;
			size_t dlen = 0;
			struct vmsim_plan *pl = NULL;
			if (mime_header(h, (size_t)(hb - h), "Content-Transfer-Encoding",
			                enc, sizeof(enc)) && !strcmp(enc, "base64")) {
				/* MIME wraps base64 in lines */
				char *flat = mv_xmalloc(blen + 1);
				size_t fl = 0;
				for (size_t i = 0; i < blen; i++)
					if (hb[i] != '\n' && hb[i] != '\r')
						flat[fl++] = hb[i];
				if (mv_base64_decode(flat, fl, &dec, &dlen) == 0 &&
				    cloud_config((char *)dec, dlen, &pl, &why) == 0)
					ours = pl;
				free(flat);
				free(dec);
			} else if (cloud_config(hb, blen, &pl, &why) == 0) {
				ours = pl;
			}
		}
		p = next + 1;
	}
	if (ours == NULL) {
		mv_err_set(err, MV_EXIT_FAIL, "a multipart with no cloud-config "
		           "part of meshvm's%s%s", why.msg[0] ? ": " : "", why.msg);
		mv_err_free(&why);
		return -1;
	}
	mv_err_free(&why);
	ours->kind = "multipart";
	ours->n_skipped = parts - 1;
	*out = ours;
	return 0;
}

int
vmsim_classify(const char *key, const char *data, size_t len,
               struct vmsim_plan **out, struct mv_err *err)
{
	*out = NULL;
	if (data == NULL || len == 0)
		return mv_err_set(err, MV_EXIT_FAIL, "no boot metadata");
	if (len > VMSIM_META_MAX)
		return mv_err_set(err, MV_EXIT_FAIL, "boot metadata of %zu bytes "
		                  "(over %zu)", len, VMSIM_META_MAX);
	if (memchr(data, '\0', len) != NULL)
		return mv_err_set(err, MV_EXIT_FAIL, "boot metadata with a NUL "
		                  "byte");
	if (!strcmp(key, "startup-script"))
		return startup_script(data, len, out, err);
	if (strcmp(key, "user-data") != 0)
		return mv_err_set(err, MV_EXIT_FAIL, "metadata key %s is not "
		                  "boot metadata", key);
	if (len >= 14 && !memcmp(data, "#cloud-config\n", 14))
		return cloud_config(data, len, out, err);
	return multipart(data, len, out, err);
}
