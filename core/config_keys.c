/* core/config_keys.c - the table of config keys (see config_keys.h). */
#include "core/config_keys.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"

/* Issues that land the features of keys known but not read yet. */
enum { ISSUE_LAUNCH = 14 };

static const struct mv_config_key keys[] = {
	{"project", "GCP project id", NULL, "every step", 0},
	{"endpoints", "mapping", "", "the Google API clients", 0},
	{"endpoints.google", "URL", "", "one base URL for every Google API "
	 "(`MESHVM_GOOGLE_ENDPOINT` overrides)", 0},
	{"endpoints.container", "URL", "https://container.googleapis.com/",
	 "the GKE client", 0},
	{"endpoints.compute", "URL", "https://compute.googleapis.com/compute/v1/",
	 "the Compute Engine client", 0},
	{"endpoints.storage", "URL", "https://storage.googleapis.com/",
	 "the Cloud Storage client", 0},
	{"endpoints.serviceusage", "URL", "https://serviceusage.googleapis.com/",
	 "the preflight (APIs enabled)", 0},
	{"endpoints.oauth2", "URL", "https://oauth2.googleapis.com/token",
	 "credentials (token endpoint)", 0},
	{"endpoints.cloudresourcemanager", "URL",
	 "https://cloudresourcemanager.googleapis.com/",
	 "the preflight (project, permissions)", 0},
	{"endpoints.iam", "URL", "https://iam.googleapis.com/",
	 "the preflight (the nodes' service account)", 0},
	{"endpoints.sts", "URL", "https://sts.googleapis.com/v1/token",
	 "credentials (workload identity token exchange)", 0},
	{"endpoints.iamcredentials", "URL",
	 "https://iamcredentials.googleapis.com/",
	 "credentials (service-account impersonation)", 0},
	{"clusters", "list of mappings", NULL, "the clusters step", 0},
	{"clusters[].name", "cluster name", NULL, "the clusters step", 0},
	{"clusters[].zone", "zone", NULL, "the clusters step", 0},
	{"clusters[].machineType", "machine type", "n1-standard-4",
	 "the clusters step", 0},
	{"clusters[].nodes", "integer 1..1000", "4", "the clusters step", 0},
	{"clusters[].network", "network", "default",
	 "the clusters and firewall steps", 0},
	{"vm", "mapping", NULL, "the firewall step", 0},
	{"vm.name", "instance name", NULL, "the firewall step (rule names)", 0},
	{"vm.tags", "list of network tags", "[vm.name]",
	 "the firewall step (rule targets)", 0},
	{"vm.network", "network", "default", "the firewall step", 0},
	{"vm.count", "integer 1..1000", "1",
	 "the launch step (one VM; a managed instance group when > 1)", 0},
	{"vm.zone", "zone", "us-central1-b (the seed's)", "the launch step", 0},
	{"vm.machineType", "machine type", "n1-standard-2", "the launch step",
	 0},
	{"vm.image", "image", "ubuntu-2204-lts",
	 "the image table: boot agent, tools; COS refused at plan", 0},
	{"vm.boot_agent", "auto, cloud-init or startup-script", "auto",
	 "the boot agent of the join (auto: from the image table)", 0},
	{"vm.bundle_bucket", "bucket name",
	 "PROJECT-meshvm-HEX (HEX: the deployment id's)",
	 "the deliver step (made with uniform access if missing)", 0},
	{"vm.storage_endpoint", "http(s) URL of the Storage JSON API",
	 "empty: Google's (https://storage.googleapis.com/storage/v1)",
	 "the launch step: the VM's bundle download (private or restricted "
	 "Google API endpoints)", 0},
	{"vm.token_duration", "duration 10m..168h (e.g. 24h, 90m, 3600s)", "24h",
	 "the launch step (the Istio token's lifetime; `--token-duration` "
	 "overrides)", 0},
	{"vm.cluster", "cluster name", "the first cluster",
	 "the VM identity (home cluster)", 0},
	{"service", "mapping", NULL, "the firewall step", 0},
	{"service.port", "integer 1..65535", NULL,
	 "the firewall step (the port the clusters reach)", 0},
	{"service.name", "DNS-1035 label", "productcatalogservice", "the VM identity and the app",
	 0},
	{"service.namespace", "namespace", "default", "the VM identity",
	 0},
	{"service.protocol", "grpc, http, http2 or tcp", "grpc",
	 "the VM identity (WorkloadGroup ports)", 0},
	{"service.image", "path (docker-save or OCI archive)", "",
	 "the bundle step (required by it)", 0},
	{"service.sidecar", "path (istio-sidecar .deb or .rpm)", "",
	 "the bundle step (required by it)", 0},
	{"service.units", "list of paths (systemd units)", "[]",
	 "the bundle step", 0},
	{"mesh", "mapping", "", "(the keys below)", 0},
	{"mesh.istio_version", "version", "1.26.2", "the istio step (proxy image tag)", 0},
	{"mesh.id", "string", "mesh1", "the istio and identity steps", 0},
	{"mesh.trust_domain", "string", "cluster.local",
	 "the istio and identity steps", 0},
	{"mesh.networks", "mapping: cluster or VM -> Istio network",
	 "cluster1: network1, cluster2: network2, VM: vm-network",
	 "the mesh-ca, istio, vm-group and identity steps", 0},
	{"mesh.istio_manifests", "directory (one subdirectory per cluster)", "",
	 "the istio step (required by it)", 0},
	{"mesh.ca_dir", "directory", ".meshvm/ca (made by meshvm)",
	 "the mesh-ca step (an existing CA: checked, never written)", 0},
	{"mesh.reader_token", "file (a reader token)",
	 "a long-lived reader token Secret",
	 "the istio step (remote secrets)", 0},
	{"app", "mapping", "", "(the keys below)", 0},
	{"app.manifests", "directory", "", "the app step (required by it)", 0},
	{"app.placement", "mapping: service -> cluster",
	 "placement.yaml next to app.manifests", "the app step", 0},
	{"migration", "mapping", "", "(the keys below)", 0},
	{"migration.steps", "list of percentages (to GKE), ending at 100",
	 "10, 50, 100", "meshvm migrate", 0},
	{"migration.interval", "seconds 1..86400", "60",
	 "meshvm migrate (wait per step; the gate's rate window)", 0},
	{"migration.min_success_rate", "number 0..1", "0.99",
	 "meshvm migrate (gate)", 0},
	{"migration.max_p99_ms", "integer 1..3600000", "1000",
	 "meshvm migrate (gate)", 0},
	{"migration.prometheus_url", "URL, or mapping: cluster -> URL", "",
	 "meshvm migrate (gate; required by it)", 0},
	{"migration.cluster", "cluster name", "the last cluster",
	 "meshvm migrate (where the service moves)", 0},
};

const struct mv_config_key *
mv_config_keys(size_t *n)
{
	*n = sizeof(keys) / sizeof(keys[0]);
	return keys;
}

const struct mv_config_key *
mv_config_key_find(const char *path)
{
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (strcmp(keys[i].path, path) == 0)
			return &keys[i];
	return NULL;
}

char *
mv_config_keys_markdown(void)
{
	size_t cap = 256, len = 0;
	char *out = mv_xmalloc(cap);

	out[0] = '\0';
	for (size_t i = 0; i <= sizeof(keys) / sizeof(keys[0]); i++) {
		char *line;
		size_t n;
		if (i == 0) {
			line = mv_xstrfmt("| key | type | default | read by | status "
			                  "|\n|---|---|---|---|---|\n");
		} else {
			const struct mv_config_key *k = &keys[i - 1];
			char status[32];
			if (k->issue == 0)
				snprintf(status, sizeof(status), "yes");
			else
				snprintf(status, sizeof(status), "issue %d", k->issue);
			line = mv_xstrfmt("| `%s` | %s | %s | %s | %s |\n", k->path,
			                  k->type,
			                  k->dflt == NULL ? "required"
			                  : k->dflt[0]    ? k->dflt
			                                  : "",
			                  k->feature, status);
		}
		n = strlen(line);
		if (len + n + 1 > cap) {
			while (len + n + 1 > cap)
				cap *= 2;
			out = mv_xrealloc(out, cap);
		}
		memcpy(out + len, line, n + 1);
		len += n;
		free(line);
	}
	return out;
}
