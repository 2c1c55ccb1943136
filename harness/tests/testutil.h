/* harness/tests/testutil.h - helpers shared by the cmocka suites. */
#ifndef MESHVM_TESTUTIL_H
#define MESHVM_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

/* $MESHVM_FIXTURES (build/fixtures), $MESHVM_BIN, $MESHVM_SRC. */
const char *tu_fixtures(void);
const char *tu_bin(void);
const char *tu_src(void);

/* printf into a fresh heap string (caller frees). */
char *tu_fmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A fresh directory under $TMPDIR (caller removes with tu_rmrf + free). */
char *tu_tmpdir(void);
void tu_rmrf(const char *path);

void tu_write(const char *path, const char *content);
void tu_write_bytes(const char *path, const void *data, size_t len);
/* Whole file, NUL-terminated; NULL if absent. */
char *tu_read(const char *path, size_t *len);
bool tu_exists(const char *path);
/* Number of entries in a directory (-1 if absent). */
int tu_dir_count(const char *path);

/* Run a shell command; returns its exit status (or 128+signal). Output
 * (stdout+stderr) in *out when out is non-NULL (caller frees). */
int tu_sh(char **out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Copy the fixture bundle directory into dir/bundle; returns the path of
 * its bundle.yaml (caller frees). */
char *tu_copy_fixture_bundle(const char *dir);

/* assert that `hay` contains `needle`, printing both otherwise. */
#define assert_contains(hay, needle)                                         \
	do {                                                                 \
		const char *h_ = (hay), *n_ = (needle);                          \
		if (h_ == NULL || strstr(h_, n_) == NULL) {                      \
			print_error("expected \"%s\" in:\n%s\n", n_,                 \
			            h_ ? h_ : "(null)");                             \
			fail();                                                  \
		}                                                                \
	} while (0)

#endif
