/* core/escape.h - untrusted bytes made safe to print.
 *
 * Anything read from a bundle, a manifest or the network may hold terminal
 * escape sequences, newlines that forge extra lines of output, or
 * megabytes of name.  Messages and listings pass such text through
 * mv_escape first.
 */
#ifndef MESHVM_CORE_ESCAPE_H
#define MESHVM_CORE_ESCAPE_H

#include <stddef.h>

/* How much of an untrusted name a message shows. */
#define MV_ESCAPE_SHOW 200
/* Room for MV_ESCAPE_SHOW bytes escaped, the "..." mark and the NUL. */
#define MV_ESCAPE_BUF (MV_ESCAPE_SHOW * 4 + 8)

/* Printable ASCII as is, '\' as "\\", every other byte as \xHH; after
 * `max` input bytes "..." and stop.  Always NUL-terminates `out` (cut
 * further if outlen is short); returns out.  s == NULL gives "(null)". */
const char *mv_escape(const char *s, size_t max, char *out, size_t outlen);

/* The same for a buffer that may hold NUL bytes. */
const char *mv_escape_n(const char *s, size_t len, size_t max, char *out,
                        size_t outlen);

/* Text for an XML attribute or element (SVG): & < > " ' as entities;
 * bytes XML 1.0 forbids (controls but tab and newline) and bytes that are
 * not valid UTF-8 as '?'.  Malloc'd; s == NULL gives "". */
char *mv_xml_escape(const char *s);

#endif
