/* cloudinit/userdata.c - the #cloud-config document, MIME multipart and
 * the helpers the seed and GCE paths share.
 *
 * The YAML is emitted with libyaml's emitter, never by pasting strings:
 * the emitter quotes and escapes, and every scalar that YAML could read as
 * something other than a string (modes like 0700, "true", "1.5") is
 * emitted quoted so cloud-init reads exactly the string we meant.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/evp.h>
#include <yaml.h>

#include "bake/bundle.h"
#include "cloudinit/cloudinit_private.h"

int
ci_bundle_pin(const char *path, char sha[MV_SHA256_HEX], char *service,
              size_t service_len, struct mv_err *err)
{
	struct bundle_read_options ro = {NULL, false, 0};
	struct bundle_info *info = NULL;

	if (mv_sha256_file_hex(path, sha, NULL, NULL, err) != 0)
		return mv_err_prefix(err, "bundle");
	ro.expect_sha256 = sha;
	if (bundle_verify(path, &ro, &info, err) != 0)
		return -1;
	if (service != NULL)
		snprintf(service, service_len, "%s",
		         info->service_name ? info->service_name : "");
	bundle_info_free(info);
	return 0;
}

int
cloudinit_runtime_check(const char *s, struct mv_err *err)
{
	static const char *const ok[] = {"auto", "docker", "podman",
	                                 "containerd", "none"};

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (s != NULL && strcmp(s, ok[i]) == 0)
			return 0;
	return mv_err_set(err, MV_EXIT_USAGE,
	                  "--runtime: '%s' is not one of auto, docker, podman, "
	                  "containerd, none", s ? s : "");
}

int
cloudinit_bundle_url_check(const char *url, struct mv_err *err)
{
	const char *rest;

	for (const char *p = url; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			return mv_err_set(err, MV_EXIT_USAGE,
			                  "--bundle-url: spaces or control characters "
			                  "are not allowed");
	if (strncmp(url, "https://", 8) == 0) {
		rest = url + 8;
		if (*rest == '\0' || *rest == '/')
			return mv_err_set(err, MV_EXIT_USAGE,
			                  "--bundle-url: no host in '%s'", url);
		return 0;
	}
	if (strncmp(url, "gs://", 5) == 0) {
		const char *slash;
		rest = url + 5;
		slash = strchr(rest, '/');
		if (slash == NULL || slash == rest || slash[1] == '\0')
			return mv_err_set(err, MV_EXIT_USAGE,
			                  "--bundle-url: expected gs://BUCKET/OBJECT, "
			                  "got '%s'", url);
		return 0;
	}
	return mv_err_set(err, MV_EXIT_USAGE,
	                  "--bundle-url: '%s' is neither https:// nor gs://",
	                  url);
}

int
cloudinit_storage_url_check(const char *url, struct mv_err *err)
{
	const char *rest = NULL;

	for (const char *p = url; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f || *p == '\'' ||
		    *p == '"' || *p == '\\' || *p == '$' || *p == '`')
			return mv_err_set(err, MV_EXIT_USAGE,
			                  "--storage-url: spaces, quotes, '$', '`', "
			                  "'\\' or control characters are not "
			                  "allowed");
	if (strncmp(url, "https://", 8) == 0)
		rest = url + 8;
	else if (strncmp(url, "http://", 7) == 0)
		rest = url + 7;
	if (rest == NULL || *rest == '\0' || *rest == '/' ||
	    strchr(url, '?') != NULL || strchr(url, '#') != NULL ||
	    url[strlen(url) - 1] == '/')
		return mv_err_set(err, MV_EXIT_USAGE,
		                  "--storage-url: '%s' is not an http(s)://HOST"
		                  "[/PATH] base without a query or a trailing '/' "
		                  "(e.g. https://storage.googleapis.com/storage/v1)",
		                  url);
	return 0;
}

int
ci_join_init(struct cloudinit_join *join, enum cloudinit_source source,
             const char *runtime, int ready_timeout, struct mv_err *err)
{
	memset(join, 0, sizeof(*join));
	join->source = source;
	join->runtime = runtime ? runtime : "auto";
	join->ready_timeout =
		ready_timeout ? ready_timeout : CLOUDINIT_READY_TIMEOUT_DEFAULT;
	if (cloudinit_runtime_check(join->runtime, err) != 0)
		return -1;
	if (join->ready_timeout < 1 ||
	    join->ready_timeout > CLOUDINIT_READY_TIMEOUT_MAX)
		return mv_err_set(err, MV_EXIT_USAGE,
		                  "--ready-timeout: %d is not within 1..%d seconds",
		                  join->ready_timeout, CLOUDINIT_READY_TIMEOUT_MAX);
	return 0;
}

/*--- the emitter ---------------------------------------------------------*/

struct emit {
	yaml_emitter_t em;
	struct ci_buf out;
	int failed;
	const char *problem;
};

static int
emit_write(void *data, unsigned char *buffer, size_t size)
{
	struct ci_buf *b = data;

	ci_buf_add(b, buffer, size);
	return b->oom ? 0 : 1;
}

static void
emit_event(struct emit *e, yaml_event_t *ev, int init_ok)
{
	if (e->failed)
		return;
	if (!init_ok) {
		e->failed = 1;
		e->problem = "cannot build a YAML event";
		return;
	}
	if (!yaml_emitter_emit(&e->em, ev)) {
		e->failed = 1;
		e->problem = e->em.problem ? e->em.problem : "emitter failed";
	}
}

/* A plain scalar YAML (1.1 or 1.2) could read as a non-string. */
static int
needs_quotes(const char *s)
{
	static const char *const words[] = {
		"y", "n", "yes", "no", "on", "off", "true", "false", "null", "~"};
	char low[8];
	size_t n = strlen(s);

	if (n == 0)
		return 1;
	if (isdigit((unsigned char)s[0]) || strchr("+-.~", s[0]) != NULL)
		return 1;
	if (n < sizeof(low)) {
		for (size_t i = 0; i <= n; i++)
			low[i] = (char)tolower((unsigned char)s[i]);
		for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
			if (strcmp(low, words[i]) == 0)
				return 1;
	}
	return 0;
}

static void
emit_scalar(struct emit *e, const char *s, yaml_scalar_style_t style)
{
	yaml_event_t ev;
	int ok;

	if (style == YAML_ANY_SCALAR_STYLE) {
		if (strchr(s, '\n') != NULL)
			style = YAML_LITERAL_SCALAR_STYLE;
		else if (needs_quotes(s))
			style = YAML_SINGLE_QUOTED_SCALAR_STYLE;
		else
			style = YAML_PLAIN_SCALAR_STYLE;
	}
	ok = yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)s,
	                                  (int)strlen(s),
	                                  style == YAML_PLAIN_SCALAR_STYLE, 1,
	                                  style);
	emit_event(e, &ev, ok);
}

static void
emit_str(struct emit *e, const char *s)
{
	emit_scalar(e, s, YAML_ANY_SCALAR_STYLE);
}

static void
emit_map_start(struct emit *e)
{
	yaml_event_t ev;

	emit_event(e, &ev, yaml_mapping_start_event_initialize(
	                       &ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE));
}

static void
emit_map_end(struct emit *e)
{
	yaml_event_t ev;

	emit_event(e, &ev, yaml_mapping_end_event_initialize(&ev));
}

static void
emit_seq_start(struct emit *e, int flow)
{
	yaml_event_t ev;

	emit_event(e, &ev, yaml_sequence_start_event_initialize(
	                       &ev, NULL, NULL, 1,
	                       flow ? YAML_FLOW_SEQUENCE_STYLE
	                            : YAML_BLOCK_SEQUENCE_STYLE));
}

static void
emit_seq_end(struct emit *e)
{
	yaml_event_t ev;

	emit_event(e, &ev, yaml_sequence_end_event_initialize(&ev));
}

static void
emit_begin(struct emit *e)
{
	yaml_event_t ev;

	memset(e, 0, sizeof(*e));
	if (!yaml_emitter_initialize(&e->em)) {
		e->failed = 1;
		e->problem = "out of memory";
		return;
	}
	yaml_emitter_set_output(&e->em, emit_write, &e->out);
	yaml_emitter_set_unicode(&e->em, 1);
	yaml_emitter_set_width(&e->em, -1);
	yaml_emitter_set_indent(&e->em, 2);
	emit_event(e, &ev,
	           yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING));
	emit_event(e, &ev, yaml_document_start_event_initialize(&ev, NULL, NULL,
	                                                        NULL, 1));
}

/* Finish the document; the text goes to *out after `header` (may be
 * NULL). */
static int
emit_finish(struct emit *e, const char *header, char **out, size_t *len,
            struct mv_err *err)
{
	yaml_event_t ev;
	struct ci_buf all = {0};

	emit_event(e, &ev, yaml_document_end_event_initialize(&ev, 1));
	emit_event(e, &ev, yaml_stream_end_event_initialize(&ev));
	if (!e->failed && !yaml_emitter_flush(&e->em)) {
		e->failed = 1;
		e->problem = "flush failed";
	}
	yaml_emitter_delete(&e->em);
	if (e->failed || e->out.oom) {
		ci_buf_free(&e->out);
		return mv_err_set(err, MV_EXIT_FAIL, "YAML emitter: %s",
		                  e->problem ? e->problem : "out of memory");
	}
	if (header != NULL)
		ci_buf_puts(&all, header);
	ci_buf_add(&all, e->out.p, e->out.len);
	ci_buf_free(&e->out);
	*out = ci_buf_take(&all, len);
	if (*out == NULL)
		return mv_err_set(err, MV_EXIT_FAIL, "out of memory");
	return 0;
}

/*--- cloud-config --------------------------------------------------------*/

/* Ordered before istio.service so the token is back under /var/run (a
 * tmpfs) before the sidecar starts on every boot.  The first run comes
 * from runcmd, which waits for readiness itself. */
const char ci_join_unit[] =
	"[Unit]\n"
	"Description=meshvm: join this VM to the mesh (bundle, token, "
	"sidecar)\n"
	"Wants=network-online.target\n"
	"After=network-online.target\n"
	"Before=istio.service\n"
	"ConditionPathExists=" CLOUDINIT_CONF_PATH "\n"
	"\n"
	"[Service]\n"
	"Type=oneshot\n"
	"RemainAfterExit=yes\n"
	"ExecStart=" CLOUDINIT_JOIN_PATH " boot\n"
	"TimeoutStartSec=30min\n"
	"\n"
	"[Install]\n"
	"WantedBy=multi-user.target\n";

/* cloud-init merges the parts of a multipart in order and, by default,
 * keeps the first value of a key: our part comes last and appends its
 * lists (write_files, runcmd) to the user's instead of being dropped. */
#define CLOUDINIT_MERGE_HOW "list(append)+dict(no_replace,recurse_list)+str()"

static void
emit_write_file(struct emit *e, const char *path, const char *mode,
                const char *content)
{
	emit_map_start(e);
	emit_str(e, "path");
	emit_str(e, path);
	emit_str(e, "owner");
	emit_str(e, "root:root");
	emit_str(e, "permissions");
	emit_scalar(e, mode, YAML_SINGLE_QUOTED_SCALAR_STYLE);
	emit_str(e, "content");
	emit_str(e, content);
	emit_map_end(e);
}

static void
emit_cmd(struct emit *e, const char *const *argv)
{
	emit_seq_start(e, 1);
	for (; *argv; argv++)
		emit_str(e, *argv);
	emit_seq_end(e);
}

char *
ci_join_conf(const struct cloudinit_join *join, const char *writer)
{
	struct ci_buf conf = {0};

	ci_buf_printf(&conf, "# meshvm-join configuration, written by %s "
	                     "(meshvm cloudinit)\n", writer);
	if (join->source == CLOUDINIT_SOURCE_SEED) {
		ci_buf_puts(&conf, "MESHVM_BUNDLE_SOURCE=seed\n");
		ci_buf_puts(&conf, "MESHVM_SEED_BUNDLE=" CLOUDINIT_SEED_BUNDLE "\n");
		ci_buf_puts(&conf, "MESHVM_TOKEN_SOURCE=seed\n");
	} else {
		ci_buf_puts(&conf, "MESHVM_BUNDLE_SOURCE=url\n");
		ci_buf_printf(&conf, "MESHVM_BUNDLE_URL=%s\n", join->bundle_url);
		ci_buf_puts(&conf, "MESHVM_TOKEN_SOURCE=metadata\n");
		if (join->storage_url != NULL)
			ci_buf_printf(&conf, "MESHVM_STORAGE_URL=%s\n",
			              join->storage_url);
	}
	ci_buf_printf(&conf, "MESHVM_RUNTIME=%s\n", join->runtime);
	ci_buf_printf(&conf, "MESHVM_READY_TIMEOUT=%d\n", join->ready_timeout);
	return ci_buf_take(&conf, NULL);
}

int
ci_join_check(const struct cloudinit_join *join, struct mv_err *err)
{
	if (!mv_is_sha256_hex(join->bundle_sha256))
		return mv_err_set(err, MV_EXIT_FAIL, "no bundle digest to pin");
	if (cloudinit_runtime_check(join->runtime, err) != 0)
		return -1;
	if (join->source == CLOUDINIT_SOURCE_URL &&
	    (join->bundle_url == NULL ||
	     cloudinit_bundle_url_check(join->bundle_url, err) != 0))
		return join->bundle_url ? -1
		                        : mv_err_set(err, MV_EXIT_USAGE,
		                                     "no bundle URL");
	return 0;
}

int
cloudinit_cloud_config(const struct cloudinit_join *join, char **out,
                       size_t *len, struct mv_err *err)
{
	static const char *const reload[] = {"systemctl", "daemon-reload",
	                                     NULL};
	static const char *const enable[] = {"systemctl", "enable",
	                                     "meshvm-join.service", NULL};
	static const char *const run[] = {CLOUDINIT_JOIN_PATH, "run", NULL};
	struct emit e;
	char pin[MV_SHA256_HEX + 1];
	char *conf_text;
	int rc;

	*out = NULL;
	if (ci_join_check(join, err) != 0)
		return -1;
	conf_text = ci_join_conf(join, "cloud-init");
	if (conf_text == NULL)
		return mv_err_set(err, MV_EXIT_FAIL, "out of memory");
	snprintf(pin, sizeof(pin), "%s\n", join->bundle_sha256);

	emit_begin(&e);
	emit_map_start(&e);
	emit_str(&e, "merge_how");
	emit_str(&e, CLOUDINIT_MERGE_HOW);
	emit_str(&e, "write_files");
	emit_seq_start(&e, 0);
	emit_write_file(&e, CLOUDINIT_JOIN_PATH, "0700",
	                cloudinit_join_script(NULL));
	emit_write_file(&e, CLOUDINIT_UNIT_PATH, "0644", ci_join_unit);
	emit_write_file(&e, CLOUDINIT_CONF_PATH, "0644", conf_text);
	emit_write_file(&e, CLOUDINIT_PIN_PATH, "0644", pin);
	emit_seq_end(&e);
	emit_str(&e, "runcmd");
	emit_seq_start(&e, 0);
	emit_cmd(&e, reload);
	emit_cmd(&e, enable);
	emit_cmd(&e, run);
	emit_seq_end(&e);
	emit_str(&e, "final_message");
	emit_str(&e, "meshvm: cloud-init $VERSION finished at $TIMESTAMP after "
	             "$UPTIME seconds; join status in /var/lib/meshvm/status.json");
	emit_map_end(&e);
	rc = emit_finish(&e, "#cloud-config\n", out, len, err);
	free(conf_text);
	return rc;
}

int
cloudinit_meta_data(const char *instance_id, const char *hostname,
                    char **out, size_t *len, struct mv_err *err)
{
	struct emit e;

	emit_begin(&e);
	emit_map_start(&e);
	emit_str(&e, "instance-id");
	emit_str(&e, instance_id);
	emit_str(&e, "local-hostname");
	emit_str(&e, hostname);
	emit_map_end(&e);
	return emit_finish(&e, NULL, out, len, err);
}

/*--- MIME multipart ------------------------------------------------------*/

static int
is_ascii_text(const char *data, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)data[i];
		if (c >= 0x80 || (c < 0x20 && c != '\n' && c != '\t' && c != '\r'))
			return 0;
	}
	return 1;
}

static int
contains(const char *hay, size_t n, const char *needle)
{
	size_t m = strlen(needle);

	if (m > n)
		return 0;
	for (size_t i = 0; i + m <= n; i++)
		if (memcmp(hay + i, needle, m) == 0)
			return 1;
	return 0;
}

static void
add_base64(struct ci_buf *b, const char *data, size_t len)
{
	/* 57 input bytes per 76-character line, as Python's email does. */
	unsigned char line[80];

	for (size_t i = 0; i < len; i += 57) {
		size_t n = len - i < 57 ? len - i : 57;
		int m = EVP_EncodeBlock(line, (const unsigned char *)data + i,
		                        (int)n);
		ci_buf_add(b, line, (size_t)m);
		ci_buf_puts(b, "\n");
	}
}

int
cloudinit_mime_multipart(const struct cloudinit_part *parts, size_t n,
                         char **out, size_t *len, struct mv_err *err)
{
	struct mv_sha256 h;
	struct ci_buf b = {0};
	char hex[MV_SHA256_HEX], boundary[64];

	*out = NULL;
	if (n == 0)
		return mv_err_set(err, MV_EXIT_FAIL, "multipart: no parts");
	if (mv_sha256_init(&h) != 0)
		return mv_err_set(err, MV_EXIT_FAIL, "sha256: cannot initialise");
	for (size_t i = 0; i < n; i++) {
		mv_sha256_update(&h, parts[i].type, strlen(parts[i].type) + 1);
		mv_sha256_update(&h, parts[i].data, parts[i].len);
	}
	mv_sha256_final_hex(&h, hex);
	snprintf(boundary, sizeof(boundary), "===============%.19s==", hex);
	for (size_t i = 0; i < n; i++) {
		const char *fn = parts[i].filename;
		if (contains(parts[i].data, parts[i].len, boundary))
			return mv_err_set(err, MV_EXIT_FAIL,
			                  "multipart: part %zu contains the boundary",
			                  i + 1);
		for (const char *p = fn; *p; p++)
			if (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20)
				return mv_err_set(err, MV_EXIT_FAIL,
				                  "multipart: file name '%s' has quotes, "
				                  "backslashes or control characters", fn);
	}
	ci_buf_printf(&b, "Content-Type: multipart/mixed; boundary=\"%s\"\n",
	              boundary);
	ci_buf_puts(&b, "MIME-Version: 1.0\n\n");
	for (size_t i = 0; i < n; i++) {
		int ascii = is_ascii_text(parts[i].data, parts[i].len);
		ci_buf_printf(&b, "--%s\n", boundary);
		ci_buf_printf(&b, "Content-Type: %s; charset=\"%s\"\n",
		              parts[i].type, ascii ? "us-ascii" : "utf-8");
		ci_buf_puts(&b, "MIME-Version: 1.0\n");
		ci_buf_printf(&b, "Content-Transfer-Encoding: %s\n",
		              ascii ? "7bit" : "base64");
		ci_buf_printf(&b,
		              "Content-Disposition: attachment; filename=\"%s\"\n\n",
		              parts[i].filename);
		if (ascii) {
			ci_buf_add(&b, parts[i].data, parts[i].len);
			ci_buf_puts(&b, "\n");
		} else {
			add_base64(&b, parts[i].data, parts[i].len);
		}
	}
	ci_buf_printf(&b, "--%s--\n", boundary);
	*out = ci_buf_take(&b, len);
	if (*out == NULL)
		return mv_err_set(err, MV_EXIT_FAIL, "out of memory");
	return 0;
}

int
cloudinit_extra_type(const char *name, const char *data, size_t len,
                     const char **type, struct mv_err *err)
{
	if (len >= 13 && memcmp(data, "#cloud-config", 13) == 0 &&
	    (len == 13 || data[13] == '\n' || data[13] == '\r' ||
	     data[13] == ' ')) {
		*type = "text/cloud-config";
		return 0;
	}
	if (len >= 2 && data[0] == '#' && data[1] == '!') {
		*type = "text/x-shellscript";
		return 0;
	}
	return mv_err_set(err, MV_EXIT_FAIL,
	                  "%s:1: --user-data-extra must start with "
	                  "'#cloud-config' (a cloud-config) or '#!' (a script)",
	                  name);
}

int
cloudinit_user_data(const struct cloudinit_join *join,
                    const char *extra_path, char **out, size_t *len,
                    struct mv_err *err)
{
	struct cloudinit_part parts[2];
	const char *type, *base;
	char *cc = NULL, *extra = NULL;
	size_t cc_len = 0, extra_len = 0;
	int rc;

	*out = NULL;
	if (cloudinit_cloud_config(join, &cc, &cc_len, err) != 0)
		return -1;
	if (extra_path == NULL) {
		*out = cc;
		if (len)
			*len = cc_len;
		return 0;
	}
	if (ci_read_file(extra_path, "--user-data-extra", 16u << 20, &extra,
	                 &extra_len, err) != 0 ||
	    cloudinit_extra_type(extra_path, extra, extra_len, &type, err) != 0)
		goto fail;
	/* A broken extra cloud-config is reported against its own file. */
	if (strcmp(type, "text/cloud-config") == 0 &&
	    cloudinit_validate_buf(extra_path, extra, extra_len, err) != 0)
		goto fail;
	base = strrchr(extra_path, '/');
	base = base ? base + 1 : extra_path;
	parts[0] = (struct cloudinit_part){base, type, extra, extra_len};
	parts[1] = (struct cloudinit_part){"meshvm-join.cfg", "text/cloud-config",
	                                   cc, cc_len};
	rc = cloudinit_mime_multipart(parts, 2, out, len, err);
	free(cc);
	free(extra);
	return rc;
fail:
	free(cc);
	free(extra);
	return -1;
}
