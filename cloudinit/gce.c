/* cloudinit/gce.c - GCE user-data and the instance metadata limits.
 *
 * GCE refuses an instances.insert whose metadata breaks its limits
 * (cloud.google.com/compute/docs/metadata/setting-custom-metadata): each
 * value at most 256 KiB, all keys and values together at most 512 KiB,
 * keys [a-zA-Z0-9-_]{1,127}.  We check before writing anything so the
 * failure is ours, named, and early.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cloudinit/cloudinit_private.h"
#include "core/atomic.h"

static int
key_ok(const char *k)
{
	size_t n = strlen(k);

	if (n == 0 || n > CLOUDINIT_GCE_KEY_MAX)
		return 0;
	for (const char *p = k; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '-' || *p == '_'))
			return 0;
	return 1;
}

int
cloudinit_gce_check_items(const json_t *items, struct mv_err *err)
{
	size_t total = 0, i;
	json_t *it;

	if (!json_is_array(items))
		return mv_err_set(err, MV_EXIT_FAIL,
		                  "GCE metadata: items must be a list");
	json_array_foreach(items, i, it) {
		const char *k = json_string_value(json_object_get(it, "key"));
		json_t *v = json_object_get(it, "value");
		size_t vlen;

		if (k == NULL || !json_is_string(v))
			return mv_err_set(err, MV_EXIT_FAIL,
			                  "GCE metadata: item %zu needs a string key "
			                  "and a string value", i);
		if (!key_ok(k))
			return mv_err_set(err, MV_EXIT_FAIL,
			                  "GCE metadata: key '%.200s' does not match "
			                  "[a-zA-Z0-9-_]{1,%u}", k,
			                  CLOUDINIT_GCE_KEY_MAX);
		for (size_t j = 0; j < i; j++)
			if (strcmp(k, json_string_value(json_object_get(
			                  json_array_get(items, j), "key"))) == 0)
				return mv_err_set(err, MV_EXIT_FAIL,
				                  "GCE metadata: key '%s' appears twice", k);
		vlen = json_string_length(v);
		if (vlen > CLOUDINIT_GCE_VALUE_MAX)
			return mv_err_set(err, MV_EXIT_FAIL,
			                  "GCE metadata: value of '%s' is %zu bytes, "
			                  "over the per-value limit of %u bytes "
			                  "(256 KiB)", k, vlen,
			                  CLOUDINIT_GCE_VALUE_MAX);
		total += strlen(k) + vlen;
	}
	if (total > CLOUDINIT_GCE_TOTAL_MAX)
		return mv_err_set(err, MV_EXIT_FAIL,
		                  "GCE metadata: keys and values total %zu bytes, "
		                  "over the limit of %u bytes (512 KiB) for all "
		                  "metadata", total, CLOUDINIT_GCE_TOTAL_MAX);
	return 0;
}

int
cloudinit_agent_check(const char *s, struct mv_err *err)
{
	if (s != NULL && (strcmp(s, "cloud-init") == 0 ||
	                  strcmp(s, "startup-script") == 0))
		return 0;
	return mv_err_set(err, MV_EXIT_USAGE,
	                  "--agent: '%s' is not one of cloud-init, "
	                  "startup-script", s ? s : "");
}

int
cloudinit_gce_userdata(const struct cloudinit_userdata_options *opt,
                       const char *out_path,
                       struct cloudinit_userdata_result *res,
                       struct mv_err *err)
{
	struct cloudinit_join join;
	char *ud = NULL;
	size_t ud_len = 0;
	json_t *items = NULL, *item;

	const char *key = "user-data";
	bool script = false;

	memset(res, 0, sizeof(*res));
	if (opt->bundle_url == NULL)
		return mv_err_set(err, MV_EXIT_USAGE, "--bundle-url is required");
	if (opt->agent != NULL) {
		if (cloudinit_agent_check(opt->agent, err) != 0)
			return -1;
		script = strcmp(opt->agent, "startup-script") == 0;
	}
	if (script) {
		key = "startup-script";
		if (opt->extra_path != NULL)
			return mv_err_set(err, MV_EXIT_USAGE,
			                  "--user-data-extra is for cloud-init; the "
			                  "guest agent runs one startup-script");
	}
	if (ci_join_init(&join, CLOUDINIT_SOURCE_URL, opt->runtime,
	                 opt->ready_timeout, err) != 0 ||
	    cloudinit_bundle_url_check(opt->bundle_url, err) != 0)
		return -1;
	join.bundle_url = opt->bundle_url;
	if (opt->storage_url != NULL &&
	    cloudinit_storage_url_check(opt->storage_url, err) != 0)
		return -1;
	join.storage_url = opt->storage_url;
	if (ci_bundle_pin(opt->bundle_path, join.bundle_sha256, NULL, 0, err) !=
	    0)
		return -1;
	if ((script ? cloudinit_startup_script(&join, &ud, &ud_len, err)
	            : cloudinit_user_data(&join, opt->extra_path, &ud, &ud_len,
	                                  err)) != 0)
		return -1;
	if (memchr(ud, '\0', ud_len) != NULL) {
		free(ud);
		return mv_err_set(err, MV_EXIT_FAIL,
		                  "%s holds a NUL byte; GCE metadata values are "
		                  "text", key);
	}
	items = json_array();
	item = json_object();
	json_object_set_new(item, "key", json_string(key));
	json_object_set_new(item, "value", json_stringn(ud, ud_len));
	json_array_append_new(items, item);
	if (json_object_get(item, "value") == NULL) {
		free(ud);
		json_decref(items);
		return mv_err_set(err, MV_EXIT_FAIL,
		                  "%s is not valid UTF-8; GCE metadata values "
		                  "are text", key);
	}
	/* The limits first (they name the sizes), then our own checks. */
	if (cloudinit_gce_check_items(items, err) != 0 ||
	    cloudinit_validate_buf(out_path, ud, ud_len, err) != 0) {
		free(ud);
		json_decref(items);
		return -1;
	}
	if (mv_output_write(out_path, ud, ud_len, 0644, err) != 0) {
		free(ud);
		json_decref(items);
		return -1;
	}
	memcpy(res->bundle_sha256, join.bundle_sha256, MV_SHA256_HEX);
	res->user_data_bytes = ud_len;
	res->metadata_bytes = strlen(key) + ud_len;
	res->key = key;
	res->items = items;
	free(ud);
	return 0;
}
