/* cloudinit/validate.c - offline checks of user-data.
 *
 * Catches, before a VM boots, what real cloud-init only logs once it is
 * too late: unknown top-level keys (cloud-init 22.4's `schema` does not
 * flag them), unquoted modes (YAML reads 0644 as a number), owners that do
 * not exist yet when write_files runs, relative paths, bad multipart
 * framing, and user-data too large for GCE metadata.  Every problem is
 * reported with file:line:col; parts of a multipart keep the line numbers
 * of the whole file.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <openssl/evp.h>

#include "core/util.h"
#include "cloudinit/cloudinit_private.h"
#include "core/yaml.h"

/* Top-level keys of cloud-init 22.4's cloud-config schema, plus the keys
 * it reads outside the schema (merging, datasource and output settings). */
static const char *const known_keys[] = {
	"allow_public_ssh_keys", "ansible", "apk_repos", "apt",
	"apt_pipelining", "apt_reboot_if_required", "apt_update", "apt_upgrade",
	"authkey_hash", "autoinstall", "bootcmd", "byobu_by_default",
	"ca-certs", "ca_certs", "chef", "chpasswd", "cloud_config_modules",
	"cloud_final_modules", "cloud_init_modules", "datasource", "debug",
	"device_aliases", "disable_ec2_metadata", "disable_root",
	"disable_root_opts", "disk_setup", "drivers", "fan", "final_message",
	"fqdn", "fs_setup", "groups", "growpart", "grub-dpkg", "grub_dpkg",
	"hostname", "keyboard", "landscape", "launch-index", "locale",
	"locale_configfile", "log_cfgs", "lxd", "manage_etc_hosts",
	"manage_resolv_conf", "mcollective", "merge_how", "merge_type",
	"migrate", "mount_default_fields", "mounts", "no_ssh_fingerprints",
	"ntp", "output", "package_reboot_if_required", "package_update",
	"package_upgrade", "packages", "password", "phone_home", "power_state",
	"prefer_fqdn_over_hostname", "preserve_hostname", "puppet",
	"random_seed", "reporting", "resize_rootfs", "resolv_conf",
	"rh_subscription", "rsyslog", "runcmd", "salt_minion", "snap",
	"spacewalk", "ssh", "ssh_authorized_keys", "ssh_deletekeys",
	"ssh_fp_console_blacklist", "ssh_genkeytypes", "ssh_import_id",
	"ssh_key_console_blacklist", "ssh_keys", "ssh_publish_hostkeys",
	"ssh_pwauth", "ssh_quiet_keygen", "swap", "syslog_fix_perms",
	"system_info", "timezone", "ubuntu_advantage", "updates", "user",
	"users", "vendor_data", "wireguard", "write_files", "yum_repo_dir",
	"yum_repos", "zypper"};

static const char *const wf_keys[] = {"path", "content", "owner",
                                      "permissions", "encoding", "append",
                                      "defer"};
static const char *const encodings[] = {
	"gz", "gzip", "gz+base64", "gzip+base64", "gz+b64", "gzip+b64", "b64",
	"base64", "text/plain"};

struct vctx {
	struct mv_err *err;
	int count;
	int line_offset; /* of the cloud-config part being checked */
	size_t work;     /* bytes scanned: what stays linear in the input */
};

static void
vadd(struct vctx *c, const struct mv_err *one)
{
	if (c->count == 0) {
		*c->err = *one;
	} else {
		mv_err_append(c->err, one->msg);
	}
	c->err->exit_code = MV_EXIT_VERIFY;
	c->count++;
}

static void vat(struct vctx *c, const char *name, int line, int col,
                const char *fmt, ...) MV_PRINTF(5, 6);

static void
vat(struct vctx *c, const char *name, int line, int col, const char *fmt,
    ...)
{
	struct mv_err one;
	char msg[1024];
	va_list ap;

	mv_err_clear(&one);
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	mv_err_at(&one, MV_EXIT_VERIFY, name, line, col, "%s", msg);
	vadd(c, &one);
}

/* Error at obj[key]'s value (key_pos: at the key). */
static void vval(struct vctx *c, const struct mv_yaml *y, const json_t *obj,
                 const char *key, int at_key, const char *fmt, ...)
	MV_PRINTF(6, 7);

static void
vval(struct vctx *c, const struct mv_yaml *y, const json_t *obj,
     const char *key, int at_key, const char *fmt, ...)
{
	struct mv_yaml_pos pos;
	char msg[1024];
	va_list ap;
	int found;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	found = key == NULL ? mv_yaml_node_pos(y, obj, &pos)
	        : at_key    ? mv_yaml_key_pos(y, obj, key, &pos)
	                    : mv_yaml_value_pos(y, obj, key, &pos);
	if (found != 0 && mv_yaml_node_pos(y, obj, &pos) != 0)
		pos.line = pos.col = 0;
	vat(c, mv_yaml_name(y), pos.line > 0 ? pos.line + c->line_offset : 0,
	    pos.col, "%s", msg);
}

static void vitem(struct vctx *c, const struct mv_yaml *y, const json_t *arr,
                  size_t i, const char *fmt, ...) MV_PRINTF(5, 6);

static void
vitem(struct vctx *c, const struct mv_yaml *y, const json_t *arr, size_t i,
      const char *fmt, ...)
{
	struct mv_yaml_pos pos;
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (mv_yaml_item_pos(y, arr, i, &pos) != 0 &&
	    mv_yaml_node_pos(y, arr, &pos) != 0)
		pos.line = pos.col = 0;
	vat(c, mv_yaml_name(y), pos.line > 0 ? pos.line + c->line_offset : 0,
	    pos.col, "%s", msg);
}

static int
in_list(const char *s, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(s, list[i]) == 0)
			return 1;
	return 0;
}

#define IN(s, arr) in_list((s), (arr), sizeof(arr) / sizeof((arr)[0]))

/*--- cloud-config --------------------------------------------------------*/

static int
octal_mode_ok(const char *s)
{
	size_t n;

	if (strncmp(s, "0o", 2) == 0)
		s += 2;
	n = strlen(s);
	if (n < 3 || n > 4)
		return 0;
	for (; *s; s++)
		if (*s < '0' || *s > '7')
			return 0;
	return 1;
}

static void
check_write_file(struct vctx *c, const struct mv_yaml *y, const json_t *wf,
                 size_t i)
{
	const json_t *item = json_array_get(wf, i);
	const char *key;
	json_t *v;

	if (!json_is_object(item)) {
		vitem(c, y, wf, i, "write_files[%zu]: expected a mapping with "
		      "path, content, permissions, got %s", i, mv_json_type_name(item));
		return;
	}
	json_object_foreach((json_t *)item, key, v) {
		if (!IN(key, wf_keys))
			vval(c, y, item, key, 1, "write_files[%zu]: unknown key "
			     "'%s' (path, content, owner, permissions, encoding, "
			     "append, defer)", i, key);
	}
	v = json_object_get(item, "path");
	if (v == NULL) {
		vitem(c, y, wf, i, "write_files[%zu]: 'path' is required", i);
	} else if (!json_is_string(v)) {
		vval(c, y, item, "path", 0, "write_files[%zu].path: expected a "
		     "string, got %s", i, mv_json_type_name(v));
	} else {
		const char *p = json_string_value(v);
		if (p[0] != '/')
			vval(c, y, item, "path", 0, "write_files[%zu].path: '%s' is "
			     "not absolute", i, p);
		else if (strstr(p, "/../") ||
		         (strlen(p) >= 3 && !strcmp(p + strlen(p) - 3, "/..")))
			vval(c, y, item, "path", 0, "write_files[%zu].path: '%s' "
			     "contains '..'", i, p);
	}
	v = json_object_get(item, "permissions");
	if (v != NULL) {
		struct mv_yaml_pos pos = {0};
		mv_yaml_value_pos(y, item, "permissions", &pos);
		if (!json_is_string(v))
			vval(c, y, item, "permissions", 0, "write_files[%zu]."
			     "permissions: unquoted %s; YAML readers disagree on "
			     "what it means (0644 is octal 420 to cloud-init, "
			     "decimal 644 to others): quote it, e.g. '0644'", i,
			     mv_json_type_name(v));
		else if (!octal_mode_ok(json_string_value(v)))
			vval(c, y, item, "permissions", 0, "write_files[%zu]."
			     "permissions: '%s' is not an octal mode like '0644'",
			     i, json_string_value(v));
		else if (pos.style == MV_YAML_PLAIN && !pos.tagged)
			vval(c, y, item, "permissions", 0, "write_files[%zu]."
			     "permissions: quote the mode ('%s')", i,
			     json_string_value(v));
	}
	v = json_object_get(item, "owner");
	if (v != NULL) {
		const char *o = json_string_value(v);
		if (o == NULL || (strcmp(o, "root") && strcmp(o, "root:root") &&
		                  strcmp(o, "0") && strcmp(o, "0:0")))
			vval(c, y, item, "owner", 0, "write_files[%zu].owner: '%s': "
			     "only root may own what write_files writes (users made "
			     "later, e.g. by a package installed from runcmd, do not "
			     "exist yet)", i, o ? o : mv_json_type_name(v));
	}
	v = json_object_get(item, "encoding");
	if (v != NULL && (!json_is_string(v) ||
	                  !IN(json_string_value(v), encodings)))
		vval(c, y, item, "encoding", 0, "write_files[%zu].encoding: not "
		     "one of gz, gzip, gz+base64, gzip+base64, gz+b64, gzip+b64, "
		     "b64, base64, text/plain", i);
	v = json_object_get(item, "content");
	if (v != NULL && !json_is_string(v))
		vval(c, y, item, "content", 0, "write_files[%zu].content: "
		     "expected a string, got %s", i, mv_json_type_name(v));
	for (int k = 0; k < 2; k++) {
		const char *b = k ? "defer" : "append";
		v = json_object_get(item, b);
		if (v != NULL && !json_is_boolean(v))
			vval(c, y, item, b, 0, "write_files[%zu].%s: expected true "
			     "or false, got %s", i, b, mv_json_type_name(v));
	}
}

/* runcmd / bootcmd: a list of strings or of lists of strings. */
static void
check_commands(struct vctx *c, const struct mv_yaml *y, const json_t *doc,
               const char *key)
{
	const json_t *cmds = json_object_get(doc, key), *cmd;
	size_t i;

	if (!json_is_array(cmds)) {
		vval(c, y, doc, key, 0, "%s: expected a list of commands, got %s",
		     key, mv_json_type_name(cmds));
		return;
	}
	json_array_foreach(cmds, i, cmd) {
		if (json_is_string(cmd))
			continue;
		if (json_is_array(cmd) && json_array_size(cmd) > 0) {
			size_t j;
			json_t *a;
			json_array_foreach(cmd, j, a) {
				if (!json_is_string(a)) {
					vitem(c, y, cmd, j, "%s[%zu][%zu]: expected a string, "
					      "got %s (quote it)", key, i, j, mv_json_type_name(a));
					break;
				}
			}
			continue;
		}
		vitem(c, y, cmds, i, "%s[%zu]: expected a string or a non-empty "
		      "list of strings, got %s", key, i, mv_json_type_name(cmd));
	}
}

static void
check_power_state(struct vctx *c, const struct mv_yaml *y, const json_t *doc)
{
	const json_t *ps = json_object_get(doc, "power_state"), *v;
	const char *mode;

	if (!json_is_object(ps)) {
		vval(c, y, doc, "power_state", 0, "power_state: expected a "
		     "mapping, got %s", mv_json_type_name(ps));
		return;
	}
	v = json_object_get(ps, "mode");
	mode = json_string_value(v);
	if (mode == NULL)
		vval(c, y, ps, v ? "mode" : NULL, 0,
		     "power_state.mode is required (poweroff, reboot, halt)");
	else if (strcmp(mode, "poweroff") && strcmp(mode, "reboot") &&
	         strcmp(mode, "halt"))
		vval(c, y, ps, "mode", 0, "power_state.mode: '%s' is not "
		     "poweroff, reboot or halt", mode);
	v = json_object_get(ps, "delay");
	if (v != NULL && !json_is_integer(v) &&
	    !(json_is_string(v) &&
	      (!strcmp(json_string_value(v), "now") ||
	       json_string_value(v)[0] == '+')))
		vval(c, y, ps, "delay", 0, "power_state.delay: expected now, +N "
		     "or a number of minutes");
	v = json_object_get(ps, "timeout");
	if (v != NULL && !json_is_integer(v))
		vval(c, y, ps, "timeout", 0, "power_state.timeout: expected "
		     "seconds");
}

static void
check_cloud_config(struct vctx *c, const char *name, const char *text,
                   size_t len, int line_offset)
{
	struct mv_yaml *y = NULL;
	struct mv_err one;
	const char *key;
	json_t *doc, *v;

	if (len < 13 || memcmp(text, "#cloud-config", 13) != 0) {
		vat(c, name, line_offset + 1, 1, "a cloud-config must start "
		    "with '#cloud-config'");
		return;
	}
	/* The part is parsed on its own and positions are shifted by its
	 * first line: padding it with newlines made a multipart quadratic. */
	c->work += len;
	mv_err_clear(&one);
	if (mv_yaml_load_buf(name, text, len, &y, &one) != 0) {
		char prefix[700];
		snprintf(prefix, sizeof(prefix), "%s:%d:%d: ", one.file, one.line,
		         one.col);
		if (one.line > 0 && one.col > 0 &&
		    !strncmp(one.msg, prefix, strlen(prefix)))
			vat(c, name, one.line + line_offset, one.col, "%s",
			    one.msg + strlen(prefix));
		else
			vadd(c, &one);
		return;
	}
	c->line_offset = line_offset;
	if (mv_yaml_count(y) != 1) {
		vat(c, name, line_offset + 1, 1, "expected one YAML document, "
		    "found %zu", mv_yaml_count(y));
		mv_yaml_free(y);
		return;
	}
	doc = mv_yaml_doc(y, 0);
	if (!json_is_object(doc)) {
		vat(c, name, line_offset + 1, 1, "a cloud-config must be a "
		    "mapping of module keys, got %s", mv_json_type_name(doc));
		mv_yaml_free(y);
		return;
	}
	json_object_foreach(doc, key, v) {
		if (!IN(key, known_keys))
			vval(c, y, doc, key, 1, "unknown top-level key '%s' "
			     "(cloud-init ignores it without a word)", key);
	}
	v = json_object_get(doc, "write_files");
	if (v != NULL) {
		if (!json_is_array(v)) {
			vval(c, y, doc, "write_files", 0, "write_files: expected a "
			     "list, got %s", mv_json_type_name(v));
		} else {
			for (size_t i = 0; i < json_array_size(v); i++)
				check_write_file(c, y, v, i);
		}
	}
	if (json_object_get(doc, "runcmd") != NULL)
		check_commands(c, y, doc, "runcmd");
	if (json_object_get(doc, "bootcmd") != NULL)
		check_commands(c, y, doc, "bootcmd");
	if (json_object_get(doc, "power_state") != NULL)
		check_power_state(c, y, doc);
	v = json_object_get(doc, "final_message");
	if (v != NULL && !json_is_string(v))
		vval(c, y, doc, "final_message", 0, "final_message: expected a "
		     "string, got %s", mv_json_type_name(v));
	v = json_object_get(doc, "packages");
	if (v != NULL && !json_is_array(v))
		vval(c, y, doc, "packages", 0, "packages: expected a list, got %s",
		     mv_json_type_name(v));
	mv_yaml_free(y);
}

/*--- MIME multipart ------------------------------------------------------*/

struct line {
	const char *p;
	size_t len; /* without the line end */
	int no;     /* 1-based */
};

/* Split into lines (LF or CRLF); returns the count, *out owned by caller. */
static size_t
split_lines(const char *buf, size_t len, struct line **out)
{
	size_t n = 0, cap = 64;
	struct line *l = malloc(cap * sizeof(*l));
	size_t i = 0;

	while (l != NULL && i < len) {
		const char *nl = memchr(buf + i, '\n', len - i);
		size_t end = nl ? (size_t)(nl - buf) : len;
		if (n == cap) {
			struct line *nlst = realloc(l, cap * 2 * sizeof(*l));
			if (nlst == NULL) {
				free(l);
				l = NULL;
				break;
			}
			l = nlst;
			cap *= 2;
		}
		l[n].p = buf + i;
		l[n].len = end - i;
		if (l[n].len > 0 && l[n].p[l[n].len - 1] == '\r')
			l[n].len--;
		l[n].no = (int)n + 1;
		n++;
		i = nl ? end + 1 : len;
	}
	*out = l;
	return l ? n : 0;
}

static int
line_is(const struct line *l, const char *s)
{
	size_t n = strlen(s), len = l->len;

	while (len > n && (l->p[len - 1] == ' ' || l->p[len - 1] == '\t'))
		len--;
	return len == n && memcmp(l->p, s, n) == 0;
}

/* Header value of `name` in lines [from, to) (unfolded, into out). */
static int
header_get(const struct line *l, size_t from, size_t to, const char *name,
           char *out, size_t out_len)
{
	size_t n = strlen(name);

	for (size_t i = from; i < to; i++) {
		if (l[i].len > n && strncasecmp(l[i].p, name, n) == 0 &&
		    l[i].p[n] == ':') {
			struct ci_buf b = {0};
			const char *v = l[i].p + n + 1;
			ci_buf_add(&b, v, l[i].len - n - 1);
			for (size_t j = i + 1; j < to && l[j].len > 0 &&
			                       (l[j].p[0] == ' ' || l[j].p[0] == '\t');
			     j++)
				ci_buf_add(&b, l[j].p, l[j].len);
			if (b.oom || b.p == NULL) {
				ci_buf_free(&b);
				out[0] = '\0';
				return 1;
			}
			v = b.p;
			while (*v == ' ' || *v == '\t')
				v++;
			snprintf(out, out_len, "%s", v);
			ci_buf_free(&b);
			return 1;
		}
	}
	return 0;
}

static void
mime_type_of(const char *ct, char *type, size_t len)
{
	size_t n = strcspn(ct, "; \t");

	if (n >= len)
		n = len - 1;
	for (size_t i = 0; i < n; i++)
		type[i] = (char)tolower((unsigned char)ct[i]);
	type[n] = '\0';
}

static int
boundary_of(const char *ct, char *out, size_t len)
{
	const char *p = ct;

	while ((p = strchr(p, ';')) != NULL) {
		p++;
		while (*p == ' ' || *p == '\t')
			p++;
		if (strncasecmp(p, "boundary=", 9) == 0) {
			size_t n;
			p += 9;
			if (*p == '"') {
				const char *q = strchr(++p, '"');
				if (q == NULL)
					return 0;
				n = (size_t)(q - p);
			} else {
				n = strcspn(p, "; \t");
			}
			if (n == 0 || n >= len || n > 70)
				return 0;
			memcpy(out, p, n);
			out[n] = '\0';
			return 1;
		}
	}
	return 0;
}

static char *
base64_decode(const char *p, size_t n, size_t *out_len)
{
	char *clean = malloc(n + 1), *out;
	size_t m = 0, pad = 0;
	int r;

	if (clean == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (!isspace((unsigned char)p[i]))
			clean[m++] = p[i];
	if (m % 4 != 0) {
		free(clean);
		return NULL;
	}
	out = malloc(m / 4 * 3 + 1);
	if (out == NULL) {
		free(clean);
		return NULL;
	}
	r = m ? EVP_DecodeBlock((unsigned char *)out, (unsigned char *)clean,
	                        (int)m)
	      : 0;
	if (m >= 1 && clean[m - 1] == '=')
		pad++;
	if (m >= 2 && clean[m - 2] == '=')
		pad++;
	free(clean);
	if (r < 0) {
		free(out);
		return NULL;
	}
	*out_len = (size_t)r - pad;
	out[*out_len] = '\0';
	return out;
}

static void
check_part(struct vctx *c, const char *name, const struct line *l,
           size_t from, size_t to, int part_no, const char *buf)
{
	char ct[512] = "text/plain", cte[64] = "7bit", type[128];
	size_t hdr_end = from, body_start;
	const char *body;
	size_t body_len;

	while (hdr_end < to && l[hdr_end].len > 0)
		hdr_end++;
	if (hdr_end == to) {
		vat(c, name, l[from].no, 1, "part %d: no blank line after its "
		    "headers", part_no);
		return;
	}
	header_get(l, from, hdr_end, "Content-Type", ct, sizeof(ct));
	header_get(l, from, hdr_end, "Content-Transfer-Encoding", cte,
	           sizeof(cte));
	mime_type_of(ct, type, sizeof(type));
	body_start = hdr_end + 1;
	if (body_start >= to) {
		body = "";
		body_len = 0;
	} else {
		/* The line end before the next delimiter belongs to it. */
		body = l[body_start].p;
		body_len = (size_t)(l[to - 1].p + l[to - 1].len - body);
	}
	(void)buf;
	if (!strcasecmp(cte, "base64")) {
		size_t dlen = 0;
		char *d = base64_decode(body, body_len, &dlen);
		c->work += body_len;
		char pname[600];
		if (d == NULL) {
			vat(c, name, body_start < to ? l[body_start].no : l[from].no,
			    1, "part %d: invalid base64", part_no);
			return;
		}
		snprintf(pname, sizeof(pname), "%s (part %d, base64)", name,
		         part_no);
		if (!strcmp(type, "text/cloud-config"))
			check_cloud_config(c, pname, d, dlen, 0);
		else if (!strncmp(type, "text/x-shellscript", 18) &&
		         (dlen < 2 || memcmp(d, "#!", 2) != 0))
			vat(c, pname, 1, 1, "a text/x-shellscript part must start "
			    "with '#!'");
		free(d);
		return;
	}
	if (strcasecmp(cte, "7bit") && strcasecmp(cte, "8bit") &&
	    strcasecmp(cte, "binary")) {
		vat(c, name, l[from].no, 1, "part %d: Content-Transfer-Encoding "
		    "'%s' is not checked here (use 7bit or base64)", part_no, cte);
		return;
	}
	if (!strcmp(type, "text/cloud-config")) {
		check_cloud_config(c, name, body, body_len,
		                   body_start < to ? l[body_start].no - 1 : 0);
	} else if (!strncmp(type, "text/x-shellscript", 18)) {
		if (body_len < 2 || memcmp(body, "#!", 2) != 0)
			vat(c, name, body_start < to ? l[body_start].no : l[from].no,
			    1, "part %d: a text/x-shellscript part must start with "
			    "'#!'", part_no);
	} else if (strcmp(type, "text/cloud-boothook") &&
	           strcmp(type, "text/x-include-url") &&
	           strcmp(type, "text/x-include-once-url") &&
	           strcmp(type, "text/part-handler") &&
	           strcmp(type, "text/cloud-config-archive") &&
	           strcmp(type, "text/jinja2") && strcmp(type, "text/plain")) {
		vat(c, name, l[from].no, 1, "part %d: unknown Content-Type '%s' "
		    "(cloud-init would skip it)", part_no, type);
	}
}

static void
check_multipart(struct vctx *c, const char *name, const char *buf,
                size_t len)
{
	struct line *l = NULL;
	size_t n = split_lines(buf, len, &l), hdr_end = 0, i;

	char ct[1024] = "", type[128], boundary[80], delim[96], close_[100];
	int parts = 0, closed = 0;
	size_t part_from = 0;

	if (l == NULL) {
		vat(c, name, 0, 0, "out of memory");
		return;
	}
	c->work += len;
	while (hdr_end < n && l[hdr_end].len > 0)
		hdr_end++;
	if (!header_get(l, 0, hdr_end, "Content-Type", ct, sizeof(ct))) {
		vat(c, name, 1, 1, "MIME user-data without a Content-Type header");
		goto out;
	}
	mime_type_of(ct, type, sizeof(type));
	if (strncmp(type, "multipart/", 10) != 0) {
		vat(c, name, 1, 1, "Content-Type '%s' is not multipart", type);
		goto out;
	}
	if (!boundary_of(ct, boundary, sizeof(boundary))) {
		vat(c, name, 1, 1, "multipart Content-Type without a valid "
		    "boundary parameter");
		goto out;
	}
	snprintf(delim, sizeof(delim), "--%s", boundary);
	snprintf(close_, sizeof(close_), "--%s--", boundary);
	for (i = hdr_end; i < n && !closed; i++) {
		int is_close = line_is(&l[i], close_);
		if (!is_close && !line_is(&l[i], delim))
			continue;
		if (parts > 0)
			check_part(c, name, l, part_from, i, parts, buf);
		if (is_close) {
			closed = 1;
		} else {
			parts++;
			part_from = i + 1;
		}
	}
	if (parts == 0)
		vat(c, name, hdr_end + 1 <= n ? (int)hdr_end + 1 : 1, 1,
		    "multipart without a part (no '%s' line)", delim);
	else if (!closed)
		vat(c, name, (int)n, 1, "multipart not closed (no '%s' line)",
		    close_);
out:
	free(l);
}

/*--- entry points --------------------------------------------------------*/

/* A script (a cloud-init part or a GCE startup-script) is executed by
 * the kernel: the first line must name an absolute interpreter, and a CR
 * would become part of its name or argument. */
static void
check_shebang(struct vctx *c, const char *name, const char *buf, size_t len)
{
	const char *nl = memchr(buf, '\n', len);
	size_t n = nl ? (size_t)(nl - buf) : len, i = 2;

	while (i < n && (buf[i] == ' ' || buf[i] == '\t'))
		i++;
	if (i >= n || buf[i] != '/')
		vat(c, name, 1, (int)i + 1, "the first line must name an absolute "
		    "interpreter, like #!/bin/sh");
	if (memchr(buf, '\r', len) != NULL)
		vat(c, name, 1, 1, "CR line endings: the kernel would look for an "
		    "interpreter whose name ends in a CR");
	if (n > 255)
		vat(c, name, 1, 1, "the #! line is %zu bytes; Linux reads at most "
		    "255", n);
}

int
ci_validate(const char *name, const char *buf, size_t len, size_t max,
            size_t *work, struct mv_err *err)
{
	struct vctx c = {err, 0, 0, 0};

	mv_err_clear(err);
	/* Over the limit, stop: checking megabytes that can never be
	 * delivered only burns time. */
	if (len > max) {
		vat(&c, name, 0, 0, "%zu bytes: over GCE's metadata value limit "
		    "of %zu bytes (256 KiB)", len, max);
	} else if (memchr(buf, '\0', len) != NULL) {
		vat(&c, name, 0, 0, "holds a NUL byte: not text user-data");
	} else if (len >= 13 && memcmp(buf, "#cloud-config", 13) == 0) {
		check_cloud_config(&c, name, buf, len, 0);
	} else if (len >= 2 && memcmp(buf, "#!", 2) == 0) {
		check_shebang(&c, name, buf, len);
	} else if ((len >= 13 && !strncasecmp(buf, "Content-Type:", 13)) ||
	           (len >= 13 && !strncasecmp(buf, "MIME-Version:", 13))) {
		check_multipart(&c, name, buf, len);
	} else {
		vat(&c, name, 1, 1, "user-data must start with '#cloud-config', "
		    "'#!' or MIME headers (Content-Type: multipart/mixed)");
	}
	if (work != NULL)
		*work = c.work;
	return c.count ? -1 : 0;
}

int
cloudinit_validate_buf(const char *name, const char *buf, size_t len,
                       struct mv_err *err)
{
	return ci_validate(name, buf, len, CLOUDINIT_GCE_VALUE_MAX, NULL, err);
}

int
cloudinit_validate_file(const char *path, struct mv_err *err)
{
	char *buf;
	size_t len;
	int rc;

	if (ci_read_file(path, "user-data", 64u << 20, &buf, &len, err) != 0)
		return -1;
	rc = cloudinit_validate_buf(path, buf, len, err);
	free(buf);
	return rc;
}
