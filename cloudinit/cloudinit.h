/* cloudinit/cloudinit.h - cloud-init delivery of a meshvm bundle.
 *
 * A bundle becomes cloud-init metadata that makes a fresh VM join the mesh
 * on its first boot and on every boot after, with no hands on the VM:
 *
 *   user-data   #cloud-config emitted with libyaml: write_files for the join
 *               script (cloudinit/join.sh, embedded at build time), its
 *               systemd unit, its configuration and the pinned bundle
 *               digest, all owned by root; runcmd starts the first join.
 *               With an extra part, a MIME multipart like
 *               `cloud-init devel make-mime`.  Never the token.
 *   seed        a NoCloud ISO (libarchive's iso9660 writer, volume id
 *               cidata, Rock Ridge + Joliet) with user-data, meta-data,
 *               optional network-config, meshvm/bundle,
 *               meshvm/istio-token and meshvm/startup-script (the same
 *               join for a guest-agent image): the VM needs no network.
 *   GCE         user-data that fetches the bundle from a URL (https:// or
 *               gs://) and pins its digest; the token comes from the
 *               metadata key meshvm-istio-token.  Metadata size limits are
 *               checked before anything is written.
 *   validate    offline checks of a user-data file or multipart, with
 *               file:line:col messages.
 */
#ifndef MESHVM_CLOUDINIT_H
#define MESHVM_CLOUDINIT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/sha256.h"

/*--- the join script and its configuration -------------------------------*/

/* Where cloud-init puts what it writes (absolute paths on the VM). */
#define CLOUDINIT_JOIN_PATH "/usr/local/sbin/meshvm-join"
#define CLOUDINIT_UNIT_PATH "/etc/systemd/system/meshvm-join.service"
#define CLOUDINIT_CONF_PATH "/etc/meshvm/join.conf"
#define CLOUDINIT_PIN_PATH "/etc/meshvm/bundle.sha256"

/* Seed layout (paths inside the ISO). */
#define CLOUDINIT_SEED_BUNDLE "meshvm/bundle"
#define CLOUDINIT_SEED_TOKEN "meshvm/istio-token"
#define CLOUDINIT_SEED_STARTUP "meshvm/startup-script" /* the same join */

/* The metadata key the token is delivered in on GCE. */
#define CLOUDINIT_TOKEN_KEY "meshvm-istio-token"

#define CLOUDINIT_READY_TIMEOUT_DEFAULT 120
#define CLOUDINIT_READY_TIMEOUT_MAX 86400

/* The join script (cloudinit/join.sh), embedded at build time.  Static
 * storage; NUL-terminated; *len (when non-NULL) excludes the NUL. */
const char *cloudinit_join_script(size_t *len);

enum cloudinit_source {
	CLOUDINIT_SOURCE_SEED = 0, /* bundle and token on the NoCloud seed */
	CLOUDINIT_SOURCE_URL       /* bundle from a URL, token from metadata */
};

struct cloudinit_join {
	enum cloudinit_source source;
	const char *bundle_url;              /* CLOUDINIT_SOURCE_URL only */
	char bundle_sha256[MV_SHA256_HEX];   /* the pinned whole-file digest */
	const char *runtime;                 /* auto|docker|podman|containerd|none */
	int ready_timeout;                   /* seconds, 1..86400 */
	const char *storage_url;             /* Storage JSON API base, or NULL
	                                      * for Google's (gs:// bundles) */
};

/* 0 when `s` is one of auto, docker, podman, containerd, none. */
int cloudinit_runtime_check(const char *s, struct mv_err *err);
/* 0 when `url` is https://HOST/... or gs://BUCKET/OBJECT. */
int cloudinit_bundle_url_check(const char *url, struct mv_err *err);
/* 0 when `url` is an http(s)://HOST[/PATH] base of Cloud Storage's JSON
 * API (a private or restricted endpoint, or a test's fake). */
int cloudinit_storage_url_check(const char *url, struct mv_err *err);

/*--- user-data -----------------------------------------------------------*/

/* The #cloud-config document for `join` (libyaml's emitter).  *out is a
 * NUL-terminated heap string owned by the caller. */
int cloudinit_cloud_config(const struct cloudinit_join *join, char **out,
                           size_t *len, struct mv_err *err);

struct cloudinit_part {
	const char *filename; /* Content-Disposition filename */
	const char *type;     /* text/cloud-config, text/x-shellscript, ... */
	const char *data;
	size_t len;
};

/* MIME multipart/mixed of `parts`, as `cloud-init devel make-mime` writes
 * it (7bit us-ascii parts, base64 for anything else).  The boundary is
 * derived from the parts' digest, so the same parts give the same bytes.
 * *out is owned by the caller. */
int cloudinit_mime_multipart(const struct cloudinit_part *parts, size_t n,
                             char **out, size_t *len, struct mv_err *err);

/* The MIME type of a --user-data-extra file: "text/cloud-config" when it
 * starts with "#cloud-config", "text/x-shellscript" with "#!"; anything
 * else is refused (name is used in the message). */
int cloudinit_extra_type(const char *name, const char *data, size_t len,
                         const char **type, struct mv_err *err);

/* The complete user-data: the cloud-config alone, or with `extra_path` a
 * multipart of the cloud-config and the extra part.  *out owned by the
 * caller. */
int cloudinit_user_data(const struct cloudinit_join *join,
                        const char *extra_path, char **out, size_t *len,
                        struct mv_err *err);

/*--- startup-script (Google's guest agent) ------------------------------*/

/* The same join as a `startup-script`: a #!/bin/sh script that writes the
 * join files only when they differ, enables the unit and runs the first
 * join; on later boots it leaves the join to the unit.  *out owned by
 * the caller. */
int cloudinit_startup_script(const struct cloudinit_join *join, char **out,
                             size_t *len, struct mv_err *err);

/* "cloud-init" (metadata key user-data) or "startup-script". */
int cloudinit_agent_check(const char *s, struct mv_err *err);

/*--- GCE metadata --------------------------------------------------------*/

#define CLOUDINIT_GCE_VALUE_MAX 262144u /* bytes per value */
#define CLOUDINIT_GCE_TOTAL_MAX 524288u /* bytes of all keys and values */
#define CLOUDINIT_GCE_KEY_MAX 127u      /* [a-zA-Z0-9-_]{1,127} */

/* Check a metadata.items array ([{key, value}]) against GCE's limits;
 * a breach names the limit, the key and the sizes (MV_EXIT_FAIL). */
int cloudinit_gce_check_items(const json_t *items, struct mv_err *err);

struct cloudinit_userdata_options {
	const char *bundle_path;
	const char *bundle_url;
	const char *extra_path;  /* or NULL */
	const char *runtime;     /* NULL = auto */
	int ready_timeout;       /* 0 = default */
	const char *agent;       /* cloud-init (NULL) or startup-script */
	const char *storage_url; /* NULL = https://storage.googleapis.com/storage/v1 */
};

struct cloudinit_userdata_result {
	char bundle_sha256[MV_SHA256_HEX];
	size_t user_data_bytes;
	size_t metadata_bytes;   /* keys + values, as GCE counts them */
	const char *key;         /* user-data or startup-script (static) */
	json_t *items;           /* metadata.items (caller decrefs): exactly
	                            one of user-data, startup-script */
};

/* `meshvm cloudinit userdata`: verify the bundle, build the user-data
 * (or the startup-script), check the metadata limits, then write out_path
 * atomically (0644). */
int cloudinit_gce_userdata(const struct cloudinit_userdata_options *opt,
                           const char *out_path,
                           struct cloudinit_userdata_result *res,
                           struct mv_err *err);

/*--- NoCloud seed --------------------------------------------------------*/

struct cloudinit_seed_options {
	const char *bundle_path;
	const char *token_path;       /* the token file (never argv) */
	const char *instance_id;      /* NULL = meshvm-<digest prefix> */
	const char *hostname;         /* NULL = the bundle's service name */
	const char *network_config;   /* path or NULL */
	const char *extra_path;       /* path or NULL */
	const char *runtime;          /* NULL = auto */
	int ready_timeout;            /* 0 = default */
};

struct cloudinit_seed_file {
	char path[64];
	unsigned mode;
	uint64_t size;
};

#define CLOUDINIT_SEED_FILES_MAX 8
/* The seed ISO holds the token, so it is a secret file. */
#define CLOUDINIT_SEED_MODE 0600

struct cloudinit_seed_result {
	char bundle_sha256[MV_SHA256_HEX];
	char instance_id[256];
	char hostname[256];
	uint64_t iso_size;
	unsigned iso_mode; /* CLOUDINIT_SEED_MODE */
	struct cloudinit_seed_file files[CLOUDINIT_SEED_FILES_MAX];
	size_t n_files;
};

/* `meshvm cloudinit seed`: verify the bundle, read the token, build
 * user-data and meta-data, and write the ISO atomically, mode 0600.  Files are owned
 * by root; the token is 0600, everything else 0644 (directories 0755). */
int cloudinit_seed_write(const struct cloudinit_seed_options *opt,
                         const char *out_path,
                         struct cloudinit_seed_result *res,
                         struct mv_err *err);

/* meta-data for NoCloud (instance-id, local-hostname; libyaml). */
int cloudinit_meta_data(const char *instance_id, const char *hostname,
                        char **out, size_t *len, struct mv_err *err);

/* 0 when `name` is a valid hostname (RFC 1123 labels, <= 253). */
int cloudinit_hostname_check(const char *name, struct mv_err *err);

/*--- validate ------------------------------------------------------------*/

/* Offline checks of user-data: a #cloud-config document or a MIME
 * multipart whose cloud-config parts are checked the same way:
 * A script ("#!") is a startup-script: an absolute interpreter on the
 * first line, no CR line endings.
 * YAML parses; top-level keys known to cloud-init; write_files entries
 * with an absolute path, a quoted octal permissions string, no owner but
 * root, a known encoding; runcmd/bootcmd lists; power_state.mode; size
 * within GCE's per-value limit.  Every problem is reported, one line each
 * as "name:line:col: reason"; the first one's position is in err.
 * Failure → MV_EXIT_VERIFY. */
int cloudinit_validate_buf(const char *name, const char *buf, size_t len,
                           struct mv_err *err);
int cloudinit_validate_file(const char *path, struct mv_err *err);

#endif
