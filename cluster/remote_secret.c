/* cluster/remote_secret.c - istioctl create-remote-secret's objects (see
 * remote_secret.h). */
#include "cluster/remote_secret.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/goyaml.h"
#include "core/base64.h"
#include "core/xalloc.h"

#define TOKEN_MAX (64 * 1024)
#define CA_MAX (256 * 1024)

json_t *
remote_secret_reader_sa(void)
{
	return json_pack("{s:s, s:s, s:{s:s, s:s}}", "apiVersion", "v1",
	                 "kind", "ServiceAccount", "metadata", "name",
	                 REMOTE_SECRET_READER_SA, "namespace",
	                 REMOTE_SECRET_NS);
}

json_t *
remote_secret_token_secret(void)
{
	return json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s}}, s:s}",
	                 "apiVersion", "v1", "kind", "Secret", "metadata",
	                 "name", REMOTE_SECRET_TOKEN_SECRET, "namespace",
	                 REMOTE_SECRET_NS, "annotations",
	                 "kubernetes.io/service-account.name",
	                 REMOTE_SECRET_READER_SA, "type",
	                 "kubernetes.io/service-account-token");
}

static char *
b64_field(const json_t *data, const char *key, size_t max, struct mv_err *err)
{
	const char *s = json_string_value(json_object_get(data, key));
	uint8_t *out = NULL;
	size_t n;

	if (s == NULL || *s == '\0')
		return NULL;
	if (strlen(s) > max * 4 / 3 + 4 ||
	    mv_base64_decode(s, strlen(s), &out, &n) != 0 ||
	    memchr(out, '\0', n) != NULL) {
		free(out);
		mv_err_set(err, MV_EXIT_CLOUD,
		           "Secret %s/%s: data.%s is not base64 text",
		           REMOTE_SECRET_NS, REMOTE_SECRET_TOKEN_SECRET, key);
		return NULL;
	}
	return (char *)out;
}

int
remote_secret_token_from(const json_t *secret, char **token, char **ca_pem,
                         struct mv_err *err)
{
	const json_t *data = json_object_get(secret, "data");
	struct mv_err e2;

	*token = *ca_pem = NULL;
	mv_err_clear(&e2);
	if (data != NULL && !json_is_object(data))
		return mv_err_set(err, MV_EXIT_CLOUD, "Secret %s/%s: data is "
		                  "not a mapping", REMOTE_SECRET_NS,
		                  REMOTE_SECRET_TOKEN_SECRET);
	*token = b64_field(data, "token", TOKEN_MAX, &e2);
	if (*token != NULL)
		*ca_pem = b64_field(data, "ca.crt", CA_MAX, &e2);
	if (e2.exit_code != 0) {
		free(*token);
		*token = NULL;
		*err = e2;
		return -1;
	}
	if (*token == NULL || *ca_pem == NULL) {
		free(*token);
		*token = NULL;
		return 1;
	}
	return 0;
}

static bool
dns_label(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return false;
	return true;
}

static int
check_inputs(const char *name, const char *server, const char *ca_pem,
             const char *token, struct mv_err *err)
{
	if (name == NULL || !dns_label(name))
		return mv_err_set(err, MV_EXIT_FAIL, "remote secret: cluster "
		                  "name \"%s\" is not a DNS-1123 label",
		                  name ? name : "");
	if (server == NULL || strncmp(server, "https://", 8) != 0 ||
	    server[8] == '\0')
		return mv_err_set(err, MV_EXIT_FAIL, "remote secret for %s: "
		                  "API server \"%s\" is not an https:// URL",
		                  name, server ? server : "");
	if (ca_pem == NULL || strstr(ca_pem, "-----BEGIN CERTIFICATE-----") ==
	                              NULL)
		return mv_err_set(err, MV_EXIT_FAIL, "remote secret for %s: no "
		                  "CA certificate for the API server", name);
	if (token == NULL || *token == '\0' || strpbrk(token, " \r\n\t"))
		return mv_err_set(err, MV_EXIT_FAIL, "remote secret for %s: the "
		                  "reader token is empty or holds white space",
		                  name);
	return 0;
}

char *
remote_secret_kubeconfig(const char *name, const char *server,
                         const char *ca_pem, const char *token,
                         struct mv_err *err)
{
	char *ca_b64, *out;
	json_t *kc;

	if (check_inputs(name, server, ca_pem, token, err) != 0)
		return NULL;
	ca_b64 = mv_base64_encode(ca_pem, strlen(ca_pem));
	if (ca_b64 == NULL)
		abort(); /* out of memory, as core/xalloc */
	/* clientcmd's v1 Config: cluster, context and user named alike. */
	kc = json_pack("{s:s, s:[{s:s, s:{s:s, s:s}}], s:[{s:s, s:{s:s, s:s}}],"
	               " s:s, s:s, s:{}, s:[{s:s, s:{s:s}}]}",
	               "apiVersion", "v1", "clusters", "name", name, "cluster",
	               "certificate-authority-data", ca_b64, "server", server,
	               "contexts", "name", name, "context", "cluster", name,
	               "user", name, "current-context", name, "kind", "Config",
	               "preferences", "users", "name", name, "user", "token",
	               token);
	free(ca_b64);
	out = goyaml_dump(kc, err);
	json_decref(kc);
	return out;
}

json_t *
remote_secret_build(const char *name, const char *server, const char *ca_pem,
                    const char *token, struct mv_err *err)
{
	char *kc = remote_secret_kubeconfig(name, server, ca_pem, token, err),
	     *b64, *secret_name;
	json_t *s;

	if (kc == NULL)
		return NULL;
	b64 = mv_base64_encode(kc, strlen(kc));
	if (b64 == NULL)
		abort();
	secret_name = mv_xstrfmt("istio-remote-secret-%s", name);
	s = json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s}, s:{s:s}}, s:{s:s}}",
	              "apiVersion", "v1", "kind", "Secret", "metadata", "name",
	              secret_name, "namespace", REMOTE_SECRET_NS, "labels",
	              "istio/multiCluster", "true", "annotations",
	              "networking.istio.io/cluster", name, "data", name, b64);
	free(secret_name);
	free(b64);
	free(kc);
	return s;
}
