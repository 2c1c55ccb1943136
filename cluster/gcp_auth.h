/* cluster/gcp_auth.h - Google access tokens.
 *
 * An explicit token wins: --access-token-file FILE, then the environment
 * variable GOOGLE_OAUTH_ACCESS_TOKEN (the one Terraform's google provider
 * reads).  Otherwise the chain Google's client libraries use:
 * GOOGLE_APPLICATION_CREDENTIALS (a service-account key: an RS256 JWT
 * assertion exchanged at its token_uri; or authorized-user credentials: a
 * refresh-token grant; or external_account, workload identity federation:
 * a subject token exchanged at STS, then service-account impersonation,
 * see gcp_auth_wif.h), then gcloud's application-default credentials file,
 * then the metadata server (only on GCE).  Tokens are cached and refreshed
 * five minutes before they expire.  Tokens are never logged.
 */
#ifndef MESHVM_CLUSTER_GCP_AUTH_H
#define MESHVM_CLUSTER_GCP_AUTH_H

#include <stdbool.h>

#include "core/err.h"

struct mv_http;
struct gcp_auth;

struct gcp_auth_options {
	const char *access_token_file; /* --access-token-file, or NULL */
	/* Token endpoint to use instead of a credentials file's token_uri
	 * (endpoints overridden to a fake or proxy), or NULL. */
	const char *token_endpoint_override;
	/* Workload identity federation (external_account files): STS token
	 * URL and IAM Credentials base URL instead of the file's, or NULL. */
	const char *sts_endpoint_override;
	const char *iamcredentials_endpoint_override;
	const char *metadata_url; /* default: MESHVM_METADATA_URL or GCE's */
};

/* Resolve the credential source now (reading files), fetch lazily. */
int gcp_auth_new(const struct gcp_auth_options *opt, struct mv_http *http,
                 struct gcp_auth **out, struct mv_err *err);
void gcp_auth_free(struct gcp_auth *a);

/* A valid access token (borrowed until the next call). */
int gcp_auth_token(struct gcp_auth *a, const char **token, struct mv_err *err);

/* "access-token-file", "GOOGLE_OAUTH_ACCESS_TOKEN", "service-account
 * EMAIL", "authorized-user", "metadata". */
const char *gcp_auth_source(const struct gcp_auth *a);
/* true when the token was given explicitly (it may then go into a
 * kubeconfig user; otherwise gke-gcloud-auth-plugin is used). */
bool gcp_auth_is_explicit(const struct gcp_auth *a);

/* Build the signed JWT-bearer assertion for a service-account JSON key
 * (exposed for tests). *out malloc'd. */
int gcp_auth_sa_assertion(const char *sa_json, const char *audience,
                          long now, char **out, struct mv_err *err);

#endif
