/* bake/flatten.h - a container image as one root filesystem tar.
 *
 * For `runtime: systemd` the VM runs the service straight from a root
 * filesystem (systemd's RootDirectory=), so no container runtime is
 * needed.  flatten_image() reads a docker-save or OCI archive and writes
 *
 *   rootfs.tar   the layers applied in order, as the runtime's overlay
 *                would show them: whiteouts (.wh.NAME) remove what lower
 *                layers had at NAME, opaque markers (.wh..wh..opq) hide a
 *                directory's lower contents, a path a higher layer made a
 *                file (or a directory) hides the lower one and everything
 *                below it.  Hard links stay tar hard links (to a file of
 *                the same layer); device nodes, FIFOs and sockets are
 *                dropped, setuid/setgid bits cleared; symlinks are kept as
 *                they are and never followed (an entry below a symlink is
 *                dropped).  Owners stay the image's uid/gid (no names);
 *                mtimes are SOURCE_DATE_EPOCH.
 *   config.json  {entrypoint, cmd, env, working_dir, user, exposed_ports}
 *                from the image's config.
 *
 * Streaming with bounded memory: every layer is read once, top layer
 * first, and written out as it is read; what is kept is an index of
 * paths (never contents).  The output order is the top layer's entries,
 * then the next one's, each in its layer's order: the same image gives
 * the same bytes.
 */
#ifndef MESHVM_BAKE_FLATTEN_H
#define MESHVM_BAKE_FLATTEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define FLATTEN_MAX_PATHS 2000000u /* paths in the index */
#define FLATTEN_MAX_LAYERS 256u

struct flatten_result {
	size_t layers;
	size_t entries;  /* written to rootfs.tar */
	size_t dropped;  /* devices, FIFOs, entries below a symlink */
	size_t hidden;   /* hidden by a higher layer or a whiteout */
	uint64_t bytes;  /* regular file data written */
	char user[64];   /* the image's user ("" = root) */
};

/* Flatten `image` (docker-save or OCI archive) into rootfs_out and
 * config_out (both written with mode 0644; the caller renames them into
 * place).  A hostile image (absolute or ".." paths, a hard link out of
 * its layer, more than the limits) is refused naming the layer and
 * entry (MV_EXIT_FAIL). */
int flatten_image(const char *image, const char *rootfs_out,
                  const char *config_out, int64_t source_date_epoch,
                  struct flatten_result *res, struct mv_err *err);

/* Where flatten_stream puts rootfs.tar's bytes, in order: 0, or -1 with
 * the sink's error set to stop. */
typedef int (*flatten_sink_fn)(void *ud, const void *buf, size_t len);

/* rootfs.tar as a stream, with no file: the same bytes flatten_image
 * writes, given to `sink` (sink_err: where it reports its errors).  With
 * size_only, file data is not read (a layer stored as is in an
 * uncompressed image is skipped without reading) and zeros take its
 * place: the count is the stream's size.  *config (if not NULL):
 * config.json's text, malloc'd.  The same image gives the same bytes, so
 * a size pass, a digest pass and a writing pass agree. */
int flatten_stream(const char *image, int64_t source_date_epoch,
                   bool size_only, flatten_sink_fn sink, void *ud,
                   struct mv_err *sink_err, char **config,
                   struct flatten_result *res, struct mv_err *err);

#endif
