/* core/sha256.c - SHA-256 via OpenSSL EVP (see sha256.h). */
#include "core/sha256.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/progress.h"

static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

/* Fetch the implementation once: EVP_sha256() per call re-resolves the
 * provider, which shows up when hashing many small entries. */
static void
sha256_fetch(void)
{
	sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

static const EVP_MD *
sha256_algo(void)
{
	pthread_once(&sha256_once, sha256_fetch);
	return sha256_md ? sha256_md : EVP_sha256();
}

int
mv_sha256_init(struct mv_sha256 *h)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	h->ctx = NULL;
	if (ctx == NULL)
		return -1;
	if (EVP_DigestInit_ex(ctx, sha256_algo(), NULL) != 1) {
		EVP_MD_CTX_free(ctx);
		return -1;
	}
	h->ctx = ctx;
	return 0;
}

void
mv_sha256_update(struct mv_sha256 *h, const void *data, size_t len)
{
	if (h->ctx != NULL && len > 0)
		EVP_DigestUpdate(h->ctx, data, len);
}

/* SHA-NI stalls on every line it has to fetch, and the hardware
 * prefetcher does not run far enough ahead of it: hashing 846 MB of page
 * cache cost 1.07 s per GB from memory against 0.60 hot.  Asking for the
 * lines 16 KiB ahead while hashing 4 KiB pieces gave 0.64-0.68 s per GB
 * there and cut verify's digest thread, which reads what the decoder's
 * core wrote, from 0.87 to 0.66-0.70 s of CPU per GiB (README, issue 18). */
#define FAR_PIECE (4u << 10)
#define FAR_AHEAD (16u << 10)

void
mv_sha256_update_far(struct mv_sha256 *h, const void *data, size_t len)
{
	const char *p = data;

	if (h->ctx == NULL)
		return;
	for (size_t o = 0; o < len; o += FAR_PIECE) {
		size_t n = len - o < FAR_PIECE ? len - o : FAR_PIECE;
		size_t to = o + FAR_AHEAD + FAR_PIECE;

		if (to > len)
			to = len;
		for (size_t a = o + FAR_AHEAD; a < to; a += 64)
			__builtin_prefetch(p + a, 0, 3);
		EVP_DigestUpdate(h->ctx, p + o, n);
	}
}

void
mv_sha256_final(struct mv_sha256 *h, uint8_t out[MV_SHA256_LEN])
{
	unsigned int n = 0;

	memset(out, 0, MV_SHA256_LEN);
	if (h->ctx == NULL)
		return;
	EVP_DigestFinal_ex(h->ctx, out, &n);
	EVP_MD_CTX_free(h->ctx);
	h->ctx = NULL;
}

void
mv_sha256_discard(struct mv_sha256 *h)
{
	EVP_MD_CTX_free(h->ctx);
	h->ctx = NULL;
}

void
mv_hex_encode(const uint8_t *in, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * len] = '\0';
}

void
mv_sha256_final_hex(struct mv_sha256 *h, char hex[MV_SHA256_HEX])
{
	uint8_t d[MV_SHA256_LEN];

	mv_sha256_final(h, d);
	mv_hex_encode(d, sizeof(d), hex);
}

void
mv_sha256_buf_hex(const void *data, size_t len, char hex[MV_SHA256_HEX])
{
	uint8_t d[MV_SHA256_LEN];
	unsigned int n = 0;

	EVP_Digest(data, len, d, &n, sha256_algo(), NULL);
	mv_hex_encode(d, sizeof(d), hex);
}

int
mv_is_sha256_hex(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return i == 64;
}

int
mv_sha256_file_hex(const char *path, char hex[MV_SHA256_HEX], uint64_t *size,
                   struct mv_progress *progress, struct mv_err *err)
{
	enum { BUF = 1 << 20 };
	struct mv_sha256 h;
	uint64_t total = 0;
	char *buf;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return mv_err_sys(err, errno, "%s", path);
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	buf = malloc(BUF);
	if (buf == NULL || mv_sha256_init(&h) != 0) {
		free(buf);
		close(fd);
		return mv_err_set(err, MV_EXIT_FAIL, "%s: out of memory", path);
	}
	for (;;) {
		ssize_t n = read(fd, buf, BUF);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;
			mv_sha256_discard(&h);
			free(buf);
			close(fd);
			return mv_err_sys(err, e, "%s: read", path);
		}
		if (n == 0)
			break;
		mv_sha256_update(&h, buf, (size_t)n);
		mv_progress_add(progress, (uint64_t)n);
		total += (uint64_t)n;
	}
	mv_sha256_final_hex(&h, hex);
	free(buf);
	close(fd);
	if (size != NULL)
		*size = total;
	return 0;
}
