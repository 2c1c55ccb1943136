/* cloudinit/cibuf.c - the growable buffer and the bounded file read
 * that userdata.c and validate.c both use (cloudinit_private.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cloudinit/cloudinit_private.h"

/*--- buffer --------------------------------------------------------------*/

void
ci_buf_add(struct ci_buf *b, const void *data, size_t len)
{
	if (b->oom)
		return;
	if (b->cap - b->len < len + 1) {
		size_t cap = b->cap ? b->cap : 256;
		char *p;
		while (cap - b->len < len + 1)
			cap *= 2;
		p = realloc(b->p, cap);
		if (p == NULL) {
			b->oom = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, len);
	b->len += len;
	b->p[b->len] = '\0';
}

void
ci_buf_puts(struct ci_buf *b, const char *s)
{
	ci_buf_add(b, s, strlen(s));
}

void
ci_buf_printf(struct ci_buf *b, const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->oom = true;
		return;
	}
	ci_buf_add(b, s, (size_t)n);
	free(s);
}

char *
ci_buf_take(struct ci_buf *b, size_t *len)
{
	char *p;

	if (b->oom) {
		ci_buf_free(b);
		return NULL;
	}
	if (b->p == NULL)
		ci_buf_add(b, "", 0);
	if (b->oom)
		return NULL;
	p = b->p;
	if (len)
		*len = b->len;
	memset(b, 0, sizeof(*b));
	return p;
}

void
ci_buf_free(struct ci_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

int
ci_read_file(const char *path, const char *what, size_t max, char **out,
             size_t *len, struct mv_err *err)
{
	struct stat st;
	char *buf;
	size_t n = 0;
	int fd;

	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return mv_err_sys(err, errno, "%s %s", what, path);
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return mv_err_set(err, MV_EXIT_FAIL, "%s %s: not a regular file",
		                  what, path);
	}
	if ((uint64_t)st.st_size > max) {
		close(fd);
		return mv_err_set(err, MV_EXIT_FAIL,
		                  "%s %s: %lld bytes, more than the %zu allowed",
		                  what, path, (long long)st.st_size, max);
	}
	buf = malloc((size_t)st.st_size + 1);
	if (buf == NULL) {
		close(fd);
		return mv_err_set(err, MV_EXIT_FAIL, "out of memory");
	}
	while (n < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + n, (size_t)st.st_size - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			int e = r < 0 ? errno : EIO;
			free(buf);
			close(fd);
			return mv_err_sys(err, e, "reading %s %s", what, path);
		}
		n += (size_t)r;
	}
	close(fd);
	buf[n] = '\0';
	*out = buf;
	if (len)
		*len = n;
	return 0;
}

