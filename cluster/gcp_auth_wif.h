/* cluster/gcp_auth_wif.h - Workload Identity Federation: the
 * `external_account` credential files CI systems issue (GitHub Actions,
 * GitLab, any OIDC or SAML provider), private to cluster/gcp_auth.c.
 *
 * A subject token is read from `credential_source` (a file, or a URL with
 * optional headers; text, or a field of a JSON answer), exchanged at
 * `token_url` (Security Token Service, RFC 8693 token exchange) for a
 * federated access token, which is then used, when
 * `service_account_impersonation_url` is set, to ask IAM Credentials'
 * generateAccessToken for the service account's token.  Only Google's
 * endpoints (https, a host under googleapis.com) are accepted from the file, so a
 * crafted file cannot send the subject token elsewhere; the endpoints of
 * the config (a fake, a proxy) replace them.  Tokens are never logged.
 */
#ifndef MESHVM_CLUSTER_GCP_AUTH_WIF_H
#define MESHVM_CLUSTER_GCP_AUTH_WIF_H

#include <jansson.h>
#include <stddef.h>
#include <time.h>

#include "core/err.h"

struct mv_http;
struct wif;

/* Endpoints replacing the file's (NULL: keep the file's). */
struct wif_overrides {
	const char *sts;            /* full token URL */
	const char *iamcredentials; /* base URL ending in '/' */
};

/* Parse an external_account document (path names it in errors). */
int wif_load(const json_t *doc, const char *path,
             const struct wif_overrides *ov, struct wif **out,
             struct mv_err *err);
void wif_free(struct wif *w);

/* "external-account AUDIENCE" or "external-account as EMAIL". */
const char *wif_label(const struct wif *w);

/* Fetch a fresh access token (*token heap, caller frees with
 * explicit_bzero) valid until *expires. */
int wif_token(struct wif *w, struct mv_http *http, char **token,
              time_t *expires, struct mv_err *err);

#endif
