/* harness/fake/util.c - small helpers: deterministic hashes, percent
 * decoding, timestamps, names, path globs, resource URLs. */
#include <ctype.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <time.h>

#include <arpa/inet.h>

#include "core/sha256.h"
#include "harness/fake/req.h"

/* Ids, IPs and CIDRs come from a hash of what names the resource, never
 * from arrival order, so parallel clients and reruns agree. */
uint64_t
fake_hash64(const char *kind, const char *a, const char *b, const char *c)
{
	struct mv_sha256 h;
	uint8_t d[MV_SHA256_LEN];
	const char *parts[4] = {kind, a, b, c};
	uint64_t v = 0;

	if (mv_sha256_init(&h) != 0)
		return 0;
	for (int i = 0; i < 4; i++) {
		const char *p = parts[i] ? parts[i] : "";
		mv_sha256_update(&h, p, strlen(p) + 1); /* NUL separates */
	}
	mv_sha256_final(&h, d);
	for (int i = 0; i < 8; i++)
		v = v << 8 | d[i];
	return v;
}

/* A number in [0, 1) from (seed, rule, path, n): the fault engine's
 * coin, identical whatever the order of other requests. */
double
fake_hash_unit(uint64_t seed, const char *rule, const char *path, uint64_t n)
{
	char s[48], ns[24];

	snprintf(s, sizeof(s), "%llu", (unsigned long long)seed);
	snprintf(ns, sizeof(ns), "%llu", (unsigned long long)n);
	return (double)(fake_hash64(s, rule, path, ns) >> 11) /
	       (double)(1ULL << 53);
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decoding (and '+' as space in form/query data).  A malformed
 * escape is kept literally, as most servers do. */
char *
fake_pct_decode(const char *s, size_t len, bool plus_space)
{
	return fake_pct_decode_n(s, len, plus_space, NULL);
}

size_t
fake_pct_decode_into(const char *s, size_t len, bool plus_space, char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		if (s[i] == '%' && i + 2 < len &&
		    hexval((unsigned char)s[i + 1]) >= 0 &&
		    hexval((unsigned char)s[i + 2]) >= 0) {
			out[o++] = (char)(hexval((unsigned char)s[i + 1]) << 4 |
			                  hexval((unsigned char)s[i + 2]));
			i += 2;
		} else if (plus_space && s[i] == '+') {
			out[o++] = ' ';
		} else {
			out[o++] = s[i];
		}
	}
	out[o] = '\0';
	return o;
}

char *
fake_pct_decode_n(const char *s, size_t len, bool plus_space,
                  size_t *out_len)
{
	char *out = malloc(len + 1);
	size_t o;

	if (out == NULL)
		return NULL;
	o = fake_pct_decode_into(s, len, plus_space, out);
	if (out_len != NULL)
		*out_len = o;
	return out;
}

long long
fake_ms(bool wall)
{
	struct timespec ts;

	clock_gettime(wall ? CLOCK_REALTIME : CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

double
fake_ms_precise(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

void
fake_time_rfc3339(long long t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Compute writes "2025-01-02T03:04:05.678-08:00"; GKE and Kubernetes
 * "2025-01-02T03:04:05Z". */
void
fake_now_rfc3339(char *buf, size_t len, bool millis_tz)
{
	struct timespec ts;
	struct tm tm;
	char tmp[40];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	if (!millis_tz) {
		strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
		return;
	}
	strftime(tmp, sizeof(tmp), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%s.%03ld-00:00", tmp, ts.tv_nsec / 1000000);
}

/* RFC 1035 label as GCP uses it: [a-z]([-a-z0-9]*[a-z0-9])?, 1..max. */
bool
fake_name_ok(const char *name, size_t max)
{
	size_t n = name ? strlen(name) : 0;

	if (n == 0 || n > max || !islower((unsigned char)name[0]))
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];
		if (!(islower(c) || isdigit(c) || c == '-'))
			return false;
	}
	return name[n - 1] != '-';
}

/* Segment glob: "*" one segment (fnmatch inside a segment), "**" any
 * number of segments.  The wildcard walk that goes back only to the last
 * "**": O(pattern x path) however many "**" a profile has (a recursive
 * match is exponential in them). */
static bool
glob_segs(char **pat, size_t np, char *const *seg, size_t ns)
{
	size_t p = 0, s = 0, mark = 0;
	bool star = false;
	size_t star_p = 0;

	while (s < ns) {
		if (p < np && strcmp(pat[p], "**") == 0) {
			star = true;
			star_p = p++;
			mark = s;
		} else if (p < np && fnmatch(pat[p], seg[s], 0) == 0) {
			p++;
			s++;
		} else if (star) {
			p = star_p + 1;
			s = ++mark;
		} else {
			return false;
		}
	}
	while (p < np && strcmp(pat[p], "**") == 0)
		p++;
	return p == np;
}

bool
fake_glob_path(const char *pattern, char *const *seg, size_t n_seg)
{
	char *copy = strdup(pattern), *save = NULL, *tok;
	char *pat[FAKE_MAX_SEG * 2];
	size_t np = 0;
	bool ok;

	if (copy == NULL)
		return false;
	for (tok = strtok_r(copy, "/", &save); tok && np < FAKE_MAX_SEG * 2;
	     tok = strtok_r(NULL, "/", &save))
		pat[np++] = tok;
	ok = glob_segs(pat, np, seg, n_seg);
	free(copy);
	return ok;
}

/* "a.b.0.c": object keys and array indexes; borrowed reference. */
json_t *
fake_json_path(json_t *root, const char *dotted)
{
	char *copy = strdup(dotted), *save = NULL, *tok;
	json_t *v = root;

	if (copy == NULL)
		return NULL;
	for (tok = strtok_r(copy, ".", &save); tok && v;
	     tok = strtok_r(NULL, ".", &save)) {
		if (json_is_array(v)) {
			char *end;
			long i = strtol(tok, &end, 10);
			v = (*end == '\0' && i >= 0) ? json_array_get(v, (size_t)i)
			                             : NULL;
		} else {
			v = json_object_get(v, tok);
		}
	}
	free(copy);
	return v;
}

/* Clients put their endpoint override into resource URLs
 * ("http://127.0.0.1:PORT/compute/v1/projects/..."); only the path
 * after the API root names the resource. */
const char *
fake_resource_path(const char *s)
{
	const char *p;

	if (s == NULL)
		return NULL;
	p = strstr(s, "/compute/v1/");
	if (p != NULL)
		return p + strlen("/compute/v1/");
	p = strstr(s, "://");
	if (p != NULL) {
		p = strstr(p + 3, "/projects/");
		return p ? p + 1 : s;
	}
	while (*s == '/')
		s++;
	return s;
}

const char *
fake_basename(const char *s)
{
	const char *p = s ? strrchr(s, '/') : NULL;

	return p ? p + 1 : s;
}

/* "us-central1-b" -> "us-central1". */
const char *
fake_region_of(const char *zone, char *buf, size_t len)
{
	const char *dash = strrchr(zone, '-');
	size_t n = dash ? (size_t)(dash - zone) : strlen(zone);

	if (n >= len)
		n = len - 1;
	memcpy(buf, zone, n);
	buf[n] = '\0';
	return buf;
}

/* A zone name as GCP spells them: region "-" one letter, the region
 * being letters "-" letters digits. */
bool
fake_zone_ok(const char *zone)
{
	const char *p = zone;
	int dashes = 0;
	size_t n = strlen(zone);

	if (n < 5 || n > 40 || !islower((unsigned char)zone[n - 1]) ||
	    zone[n - 2] != '-')
		return false;
	for (; *p; p++) {
		if (*p == '-')
			dashes++;
		else if (!islower((unsigned char)*p) && !isdigit((unsigned char)*p))
			return false;
	}
	return dashes == 2 && isdigit((unsigned char)zone[n - 3]);
}

const char *
fake_u64(uint64_t v, char *buf, size_t len)
{
	snprintf(buf, len, "%llu", (unsigned long long)v);
	return buf;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

json_t *
fake_sorted_keys(json_t *obj, const char *prefix)
{
	size_t n = json_object_size(obj), k = 0, plen = strlen(prefix);
	const char **v = calloc(n ? n : 1, sizeof(*v));
	json_t *out = json_array(), *val;
	const char *key;

	if (v == NULL)
		return out;
	json_object_foreach(obj, key, val) {
		if (strncmp(key, prefix, plen) == 0)
			v[k++] = key;
	}
	qsort(v, k, sizeof(*v), cmp_str);
	for (size_t i = 0; i < k; i++)
		json_array_append_new(out, json_string(v[i]));
	free(v);
	return out;
}

/* db[table], created on first use; borrowed reference. */
json_t *
fake_db(struct fake *f, const char *table)
{
	json_t *t = json_object_get(fst(f)->db, table);

	if (t == NULL) {
		t = json_object();
		json_object_set_new(fst(f)->db, table, t);
	}
	return t;
}

long long
fake_clock_ms(struct fake *f)
{
	return fake_ms(true) + fst(f)->clock_skew_ms;
}

const char *
fake_project_number(const char *project, char *buf, size_t len)
{
	return fake_u64(100000000000ULL +
	                        fake_hash64("project", project, NULL, NULL) %
	                                900000000000ULL,
	                buf, len);
}

/* ---- CRC32C (Castagnoli, reflected 0x82F63B78) ---- */

static uint32_t crc32c_table[256];
static pthread_once_t crc32c_once = PTHREAD_ONCE_INIT;

static void
crc32c_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = c & 1 ? 0x82F63B78u ^ (c >> 1) : c >> 1;
		crc32c_table[i] = c;
	}
}

uint32_t
fake_crc32c(const void *data, size_t len)
{
	const uint8_t *p = data;
	uint32_t c = 0xffffffffu;

	pthread_once(&crc32c_once, crc32c_init);
	for (size_t i = 0; i < len; i++)
		c = crc32c_table[(c ^ p[i]) & 0xff] ^ (c >> 8);
	return c ^ 0xffffffffu;
}

int
fake_cidr4(const char *s, uint32_t *net, unsigned *bits)
{
	char ip[16], *end;
	const char *slash = strchr(s, '/');
	struct in_addr a;
	unsigned long n;
	uint32_t v;

	if (slash == NULL || (size_t)(slash - s) >= sizeof(ip) ||
	    !isdigit((unsigned char)slash[1]))
		return -1;
	memcpy(ip, s, (size_t)(slash - s));
	ip[slash - s] = '\0';
	n = strtoul(slash + 1, &end, 10);
	if (*end != '\0' || n > 32 || inet_pton(AF_INET, ip, &a) != 1)
		return -1;
	v = ntohl(a.s_addr);
	if (n < 32 && (v & (0xffffffffu >> n)) != 0)
		return -1;
	*net = v;
	*bits = (unsigned)n;
	return 0;
}
