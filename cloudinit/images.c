/* cloudinit/images.c - the image family table (see images.h).
 *
 * The tools columns describe Google's stock images (2024 builds): what a
 * fresh instance has before anything is installed.  Google's Debian, RHEL
 * and Rocky images run the guest agent and no cloud-init (DESIGN.md §6);
 * Ubuntu's run both (the join's lock keeps them from interleaving).  A
 * "*" row covers the project's other families, with a warning.
 */
#include "cloudinit/images.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>



#define UBUNTU (IMAGE_HAS_ZSTD | IMAGE_HAS_CURL | IMAGE_HAS_WGET | \
                IMAGE_HAS_PYTHON3)
#define DEBIAN (IMAGE_HAS_CURL | IMAGE_HAS_WGET | IMAGE_HAS_PYTHON3)
#define EL (IMAGE_HAS_CURL | IMAGE_HAS_PYTHON3)

static const char cos_refused[] =
	"Container-Optimized OS has a read-only /usr and neither dpkg nor rpm: "
	"the Istio sidecar package cannot be installed; pick an Ubuntu LTS, "
	"Debian 12 or RHEL/Rocky 9 image";

static const struct image_family table[] = {
	{"ubuntu-os-cloud", "ubuntu-2204-lts", "ubuntu-2204-jammy-v",
	 "Ubuntu 22.04 LTS", IMAGE_AGENT_CLOUD_INIT, IMAGE_PKG_DEB, UBUNTU, NULL},
	{"ubuntu-os-cloud", "ubuntu-2204-lts-arm64", "ubuntu-2204-jammy-arm64-v",
	 "Ubuntu 22.04 LTS (arm64)", IMAGE_AGENT_CLOUD_INIT, IMAGE_PKG_DEB, UBUNTU,
	 NULL},
	{"ubuntu-os-cloud", "ubuntu-2404-lts-amd64", "ubuntu-2404-noble-amd64-v",
	 "Ubuntu 24.04 LTS", IMAGE_AGENT_CLOUD_INIT, IMAGE_PKG_DEB, UBUNTU, NULL},
	{"ubuntu-os-cloud", "ubuntu-2404-lts-arm64", "ubuntu-2404-noble-arm64-v",
	 "Ubuntu 24.04 LTS (arm64)", IMAGE_AGENT_CLOUD_INIT, IMAGE_PKG_DEB, UBUNTU,
	 NULL},
	{"ubuntu-os-cloud", "*", "ubuntu-", "other Ubuntu",
	 IMAGE_AGENT_CLOUD_INIT, IMAGE_PKG_DEB, DEBIAN, NULL},
	{"debian-cloud", "debian-12", "debian-12-bookworm-v", "Debian 12",
	 IMAGE_AGENT_STARTUP_SCRIPT, IMAGE_PKG_DEB, DEBIAN, NULL},
	{"debian-cloud", "debian-12-arm64", "debian-12-bookworm-arm64-v",
	 "Debian 12 (arm64)", IMAGE_AGENT_STARTUP_SCRIPT, IMAGE_PKG_DEB, DEBIAN,
	 NULL},
	{"debian-cloud", "*", "debian-", "other Debian",
	 IMAGE_AGENT_STARTUP_SCRIPT, IMAGE_PKG_DEB, DEBIAN, NULL},
	{"rhel-cloud", "rhel-9", "rhel-9-v", "Red Hat Enterprise Linux 9",
	 IMAGE_AGENT_STARTUP_SCRIPT, IMAGE_PKG_RPM, EL, NULL},
	{"rhel-cloud", "*", "rhel-", "other RHEL", IMAGE_AGENT_STARTUP_SCRIPT,
	 IMAGE_PKG_RPM, EL, NULL},
	{"rocky-linux-cloud", "rocky-linux-9", "rocky-linux-9-v", "Rocky Linux 9",
	 IMAGE_AGENT_STARTUP_SCRIPT, IMAGE_PKG_RPM, EL, NULL},
	{"rocky-linux-cloud", "rocky-linux-9-optimized-gcp",
	 "rocky-linux-9-optimized-gcp-v", "Rocky Linux 9 (optimized for GCP)",
	 IMAGE_AGENT_STARTUP_SCRIPT, IMAGE_PKG_RPM, EL, NULL},
	{"rocky-linux-cloud", "*", "rocky-linux-", "other Rocky Linux",
	 IMAGE_AGENT_STARTUP_SCRIPT, IMAGE_PKG_RPM, EL, NULL},
	{"cos-cloud", "*", "cos-", "Container-Optimized OS",
	 IMAGE_AGENT_CLOUD_INIT, IMAGE_PKG_NONE,
	 IMAGE_HAS_CURL | IMAGE_HAS_RUNTIME, cos_refused},
};
#define N_TABLE (sizeof(table) / sizeof(table[0]))

const struct image_family *
images_table(size_t *n)
{
	*n = N_TABLE;
	return table;
}

/* Split a reference into project and the part after it: *family set for
 * .../images/family/F, *name for .../images/N.  Pointers into a copy. */
static int
split_ref(char *s, char **project, char **family, char **name)
{
	char *p = strstr(s, "projects/"), *rest;

	*project = *family = *name = NULL;
	if (p != NULL && (p == s || p[-1] == '/')) {
		*project = p + 9;
		rest = strchr(*project, '/');
		if (rest == NULL)
			return -1;
		*rest++ = '\0';
		if (strncmp(rest, "global/images/", 14) != 0)
			return -1;
		rest += 14;
		if (strncmp(rest, "family/", 7) == 0)
			*family = rest + 7;
		else
			*name = rest;
	} else {
		/* PROJECT/FAMILY, as gcloud's --image-project and
		 * --image-family say it */
		rest = strchr(s, '/');
		if (rest == NULL)
			return -1;
		*rest++ = '\0';
		*project = s;
		*family = rest;
	}
	if (**project == '\0' || (*family && (**family == '\0' ||
	                                      strchr(*family, '/'))) ||
	    (*name && (**name == '\0' || strchr(*name, '/'))))
		return -1;
	return 0;
}

const struct image_family *
images_lookup(const char *ref)
{
	char buf[512], *project, *family, *name;
	const struct image_family *any = NULL;

	if (ref == NULL || strlen(ref) >= sizeof(buf))
		return NULL;
	snprintf(buf, sizeof(buf), "%s", ref);
	if (split_ref(buf, &project, &family, &name) != 0)
		return NULL;
	for (size_t i = 0; i < N_TABLE; i++) {
		const struct image_family *f = &table[i];
		if (strcmp(f->project, project) != 0)
			continue;
		if (strcmp(f->family, "*") == 0) {
			any = f;
			continue;
		}
		if (family != NULL && strcmp(f->family, family) == 0)
			return f;
		if (name != NULL && strncmp(name, f->prefix, strlen(f->prefix)) == 0)
			return f;
	}
	return any;
}

int
images_agent_check(const char *s, struct mv_err *err)
{
	if (s != NULL && (strcmp(s, "auto") == 0 || strcmp(s, "cloud-init") == 0 ||
	                  strcmp(s, "startup-script") == 0))
		return 0;
	return mv_err_set(err, MV_EXIT_USAGE,
	                  "boot agent '%s' is not one of auto, cloud-init, "
	                  "startup-script", s ? s : "");
}

const char *
images_agent_name(enum image_agent a)
{
	return a == IMAGE_AGENT_STARTUP_SCRIPT ? "startup-script" : "cloud-init";
}

const char *
images_agent_key(enum image_agent a)
{
	return a == IMAGE_AGENT_STARTUP_SCRIPT ? "startup-script" : "user-data";
}

int
images_choose_agent(const char *ref, const char *configured,
                    enum image_agent *agent, char *warn, size_t warn_len,
                    struct mv_err *err)
{
	const struct image_family *f = images_lookup(ref);

	if (warn_len > 0)
		warn[0] = '\0';
	if (configured == NULL)
		configured = "auto";
	if (images_agent_check(configured, err) != 0)
		return mv_err_prefix(err, "vm.boot_agent");
	if (f != NULL && f->refused != NULL)
		return mv_err_set(err, MV_EXIT_FAIL, "vm.image %s: %s", ref,
		                  f->refused);
	if (strcmp(configured, "cloud-init") == 0) {
		*agent = IMAGE_AGENT_CLOUD_INIT;
		return 0;
	}
	if (strcmp(configured, "startup-script") == 0) {
		*agent = IMAGE_AGENT_STARTUP_SCRIPT;
		return 0;
	}
	if (f == NULL) {
		*agent = IMAGE_AGENT_CLOUD_INIT;
		snprintf(warn, warn_len,
		         "vm.image %s is not in meshvm's image table: assuming "
		         "cloud-init reads user-data; set vm.boot_agent: "
		         "startup-script if the image runs only Google's guest "
		         "agent", ref ? ref : "(none)");
		return 0;
	}
	*agent = f->agent;
	if (strcmp(f->family, "*") == 0)
		snprintf(warn, warn_len,
		         "vm.image %s: family not in meshvm's image table; assuming "
		         "%s like the project's other images (vm.boot_agent "
		         "overrides)", ref, images_agent_name(f->agent));
	return 0;
}

enum bundle_compress
images_compression(const struct image_family *f)
{
	return f != NULL && (f->tools & IMAGE_HAS_ZSTD) ? BUNDLE_ZSTD
	                                                : BUNDLE_GZIP;
}

static const char *
yes(unsigned tools, unsigned bit)
{
	return tools & bit ? "yes" : "no";
}

char *
images_table_markdown(void)
{
	static const char *const pkg[] = {"deb", "rpm", "none"};
	size_t cap = 256 + N_TABLE * 320, len = 0;
	char *out = malloc(cap);

	if (out == NULL)
		return NULL;
	len += (size_t)snprintf(out + len, cap - len,
	                        "| project | family | image | boot agent | "
	                        "packages | zstd | curl | wget | python3 | "
	                        "container runtime | meshvm |\n"
	                        "|---|---|---|---|---|---|---|---|---|---|---|\n");
	for (size_t i = 0; i < N_TABLE; i++) {
		const struct image_family *f = &table[i];
		bool alone = true;
		for (size_t j = 0; j < N_TABLE; j++)
			if (j != i && strcmp(table[j].project, f->project) == 0)
				alone = false;
		len += (size_t)snprintf(
			out + len, cap - len,
			"| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
			f->project,
			strcmp(f->family, "*") ? f->family : alone ? "(any)" : "(other)",
			f->title, images_agent_name(f->agent), pkg[f->pkg],
			yes(f->tools, IMAGE_HAS_ZSTD), yes(f->tools, IMAGE_HAS_CURL),
			yes(f->tools, IMAGE_HAS_WGET), yes(f->tools, IMAGE_HAS_PYTHON3),
			yes(f->tools, IMAGE_HAS_RUNTIME),
			f->refused ? "refused" : strcmp(f->family, "*") ? "supported"
			                                                 : "warning");
	}
	return out;
}
