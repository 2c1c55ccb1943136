/* fuzz_bundle_unpack.c - `bundle unpack` of arbitrary bytes into a temp
 * directory.  After every input: nothing exists beside the destination
 * (no escape through "..", absolute paths or links), the working
 * directory is unchanged, and whatever was unpacked has only the bundle
 * format's paths.  Anything else aborts, which libFuzzer reports. */
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bake/bundle.h"
#include "bake/bundle_private.h"
#include "core/atomic.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char root[PATH_MAX], dest[PATH_MAX], input[PATH_MAX];
static char cwd_before[PATH_MAX];
static size_t dest_len;

static void
fail(const char *what, const char *path)
{
	fprintf(stderr, "fuzz_bundle_unpack: %s: %s\n", what, path);
	abort();
}

static void
init(void)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(root, sizeof(root), "%s/meshvm-fuzz-unpack-XXXXXX",
	         tmp && *tmp ? tmp : "/tmp");
	if (mkdtemp(root) == NULL)
		abort();
	snprintf(dest, sizeof(dest), "%s/dest", root);
	snprintf(input, sizeof(input), "%s/in.bundle", root);
	dest_len = strlen(dest);
	if (getcwd(cwd_before, sizeof(cwd_before)) == NULL)
		abort();
}

/* Every file under dest is a path of the format; directories are its
 * directories. */
static int
check_tree(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	const char *rel = path + dest_len;

	(void)f;
	if (rel[0] == '\0')
		return 0;
	rel++; /* the '/' */
	if (flag == FTW_F && S_ISREG(st->st_mode)) {
		if (!bundle_path_in_layout(rel))
			fail("unpacked a path outside the format", path);
	} else if (flag == FTW_D || flag == FTW_DP) {
		if (strcmp(rel, "identity") && strcmp(rel, "image") &&
		    strcmp(rel, "sidecar") && strcmp(rel, "units"))
			fail("unpacked an unexpected directory", path);
	} else {
		fail("unpacked something not a file or directory", path);
	}
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bundle_read_options ro = {NULL, false, 64u << 20};
	struct bundle_info *info = NULL;
	struct mv_err err;
	char cwd[PATH_MAX];
	int fd;

	if (root[0] == '\0')
		init();
	fd = open(input, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, data, size) != (ssize_t)size)
		abort();
	close(fd);
	if (bundle_unpack(input, dest, &ro, &info, &err) == 0)
		bundle_info_free(info);
	else if (access(dest, F_OK) == 0)
		fail("a failed unpack left its destination", dest);

	if (getcwd(cwd, sizeof(cwd)) == NULL || strcmp(cwd, cwd_before) != 0)
		fail("working directory changed", cwd);
	if (access(dest, F_OK) == 0 &&
	    nftw(dest, check_tree, 16, FTW_PHYS | FTW_DEPTH) != 0)
		fail("cannot walk", dest);
	/* Nothing beside dest and the input in root. */
	{
		DIR *d = opendir(root);
		struct dirent *de;
		if (d == NULL)
			fail("the temp directory is gone", root);
		while ((de = readdir(d)) != NULL)
			if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") &&
			    strcmp(de->d_name, "dest") &&
			    strcmp(de->d_name, "in.bundle"))
				fail("something appeared outside the destination",
				     de->d_name);
		closedir(d);
	}
	mv_remove_tree(dest);
	return 0;
}
