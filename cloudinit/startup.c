/* cloudinit/startup.c - the join as a GCE `startup-script`.
 *
 * Google's guest agent (Debian, RHEL, Rocky images) ignores user-data and
 * runs the metadata key `startup-script` as root on every boot.  The
 * script carries what cloud-init's write_files and runcmd do: the join
 * script, its unit, join.conf and the pinned digest, each written only
 * when its bytes or mode differ (atomically, by rename), then the unit
 * enabled and the first join run.  On later boots the unit (ordered
 * before istio.service) does the join; the script only makes sure the
 * unit ran with the files it just wrote.  It never runs `meshvm-join run`
 * while the unit may be queued: run starts istio.service and waits, and
 * istio waits for the unit, which waits for run's lock.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cloudinit/cloudinit_private.h"

/* Here-document delimiter; refused if a carried file has it as a line. */
#define EOF_MARK "MESHVM_STARTUP_EOF"

static const char head[] =
	"#!/bin/sh\n"
	"# meshvm startup-script (meshvm cloudinit userdata --agent "
	"startup-script).\n"
	"# Run by Google's guest agent as root on every boot; writes the join "
	"and\n"
	"# runs it once, then leaves later boots to meshvm-join.service.  "
	"Idempotent.\n"
	"# MESHVM_ROOT prefixes every path (tests).\n"
	"set -eu\n"
	"umask 022\n"
	"R=${MESHVM_ROOT:-}\n"
	"changed=0\n"
	"\n"
	"# put DEST MODE: stdin becomes DEST unless DEST has those bytes and "
	"mode.\n"
	"put() {\n"
	"    mkdir -p \"$(dirname \"$R$1\")\"\n"
	"    cat >\"$R$1.meshvm-new\"\n"
	"    chmod \"$2\" \"$R$1.meshvm-new\"\n"
	"    if [ -f \"$R$1\" ] && cmp -s \"$R$1.meshvm-new\" \"$R$1\" &&\n"
	"        [ \"$(stat -c %a \"$R$1\")\" = \"${2#0}\" ]; then\n"
	"        rm -f \"$R$1.meshvm-new\"\n"
	"    else\n"
	"        mv -f \"$R$1.meshvm-new\" \"$R$1\"\n"
	"        changed=1\n"
	"    fi\n"
	"}\n"
	"\n";

static const char tail[] =
	"\n"
	"if [ \"$changed\" = 1 ]; then systemctl daemon-reload; fi\n"
	"if systemctl is-enabled --quiet meshvm-join.service; then\n"
	"    # a later boot: the unit joins; make sure it ran with these files\n"
	"    if [ \"$changed\" = 1 ]; then\n"
	"        systemctl restart meshvm-join.service\n"
	"    else\n"
	"        systemctl start meshvm-join.service\n"
	"    fi\n"
	"else\n"
	"    systemctl enable meshvm-join.service\n"
	"    exec \"$R" CLOUDINIT_JOIN_PATH "\" run\n"
	"fi\n";

static int
has_line(const char *text, const char *line)
{
	size_t n = strlen(line);

	for (const char *p = text; p != NULL && *p; ) {
		if (strncmp(p, line, n) == 0 && (p[n] == '\n' || p[n] == '\0'))
			return 1;
		p = strchr(p, '\n');
		if (p != NULL)
			p++;
	}
	return 0;
}

static int
put_file(struct ci_buf *b, const char *path, const char *mode,
         const char *content, struct mv_err *err)
{
	size_t n = strlen(content);

	/* A here-document always ends in a newline; so must the file. */
	if (n == 0 || content[n - 1] != '\n')
		return mv_err_set(err, MV_EXIT_FAIL,
		                  "startup-script: %s does not end in a newline",
		                  path);
	if (has_line(content, EOF_MARK))
		return mv_err_set(err, MV_EXIT_FAIL,
		                  "startup-script: %s holds the line %s", path,
		                  EOF_MARK);
	ci_buf_printf(b, "put %s %s <<'" EOF_MARK "'\n", path, mode);
	ci_buf_add(b, content, n);
	ci_buf_puts(b, EOF_MARK "\n");
	return 0;
}

int
cloudinit_startup_script(const struct cloudinit_join *join, char **out,
                         size_t *len, struct mv_err *err)
{
	struct ci_buf b = {0};
	char pin[MV_SHA256_HEX + 1];
	char *conf;
	int rc;

	*out = NULL;
	if (ci_join_check(join, err) != 0)
		return -1;
	conf = ci_join_conf(join, "the startup-script");
	if (conf == NULL)
		return mv_err_set(err, MV_EXIT_FAIL, "out of memory");
	snprintf(pin, sizeof(pin), "%s\n", join->bundle_sha256);
	ci_buf_puts(&b, head);
	rc = put_file(&b, CLOUDINIT_JOIN_PATH, "0700",
	              cloudinit_join_script(NULL), err);
	if (rc == 0)
		rc = put_file(&b, CLOUDINIT_UNIT_PATH, "0644", ci_join_unit, err);
	if (rc == 0)
		rc = put_file(&b, CLOUDINIT_CONF_PATH, "0644", conf, err);
	if (rc == 0)
		rc = put_file(&b, CLOUDINIT_PIN_PATH, "0644", pin, err);
	free(conf);
	if (rc != 0) {
		ci_buf_free(&b);
		return -1;
	}
	ci_buf_puts(&b, tail);
	*out = ci_buf_take(&b, len);
	if (*out == NULL)
		return mv_err_set(err, MV_EXIT_FAIL, "out of memory");
	return 0;
}
