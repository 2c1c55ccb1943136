/* test_fake_journal.c - the in-memory journal ring: at most 20000 lines
 * and --journal-bytes of them, the oldest going first, whatever the
 * lengths of the lines that reuse the oldest slots' memory. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/fake/journal.h"
#include "testutil.h"

#define RING 20000

static void
record(struct journal *j, const char *listener, const char *query)
{
	struct freq rq;
	struct fresp rs;

	memset(&rq, 0, sizeof(rq));
	memset(&rs, 0, sizeof(rs));
	rq.listener = listener;
	rq.method = "GET";
	rq.path = "/v1/projects/p/locations/l/clusters/c";
	rq.query = (char *)query;
	rs.status = 200;
	journal_record(j, &rq, &rs, 0.25);
}

static size_t
count_lines(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* the seq of the first line of a dump */
static unsigned long long
first_seq(const char *s)
{
	const char *p = strstr(s, "\"seq\":");

	return p ? strtoull(p + 6, NULL, 10) : 0;
}

static void
test_ring_wraps_with_mixed_lengths(void **state)
{
	struct journal *j = NULL;
	struct mv_err err = {0};
	char *dump, *long_q = malloc(3001), *line;
	size_t len;

	(void)state;
	assert_int_equal(journal_open(NULL, (size_t)256 << 20, false, &j, &err),
	                 0);
	memset(long_q, 'q', 3000);
	long_q[3000] = '\0';
	/* short, long and short again: slots are reused by lines of other
	 * lengths, both ways */
	for (int i = 0; i < 3 * RING + 5; i++)
		record(j, i % 2 ? "api" : "c1",
		       i / RING == 1 && i % 3 == 0 ? long_q : "a=1");
	dump = journal_dump(j, 0, NULL, &len);
	assert_non_null(dump);
	assert_int_equal(count_lines(dump), RING);
	assert_int_equal(first_seq(dump), 3 * RING + 5 - RING + 1);
	/* every line whole, in order, with its own listener */
	line = dump;
	for (unsigned long long seq = first_seq(dump); *line; seq++) {
		char want[64];
		char *nl = strchr(line, '\n');
		assert_non_null(nl);
		snprintf(want, sizeof(want), "{\"seq\":%llu,", seq);
		assert_memory_equal(line, want, strlen(want));
		assert_non_null(strstr(line, "\"query\":\"a=1\""));
		assert_true(nl[-1] == '}');
		line = nl + 1;
	}
	free(dump);
	dump = journal_dump(j, 0, "api", &len);
	assert_int_equal(count_lines(dump), RING / 2);
	assert_null(strstr(dump, "\"listener\":\"c1\""));
	free(dump);
	free(long_q);
	journal_close(j);
}

/* Long lines: the bytes bound, not the count, drops the oldest. */
static void
test_bytes_bound(void **state)
{
	struct journal *j = NULL;
	struct mv_err err = {0};
	char *dump, *q = malloc(24001);
	size_t len;

	(void)state;
	assert_int_equal(journal_open(NULL, 1 << 20, false, &j, &err), 0);
	memset(q, 'x', 24000);
	q[24000] = '\0';
	for (int i = 0; i < 500; i++)
		record(j, "api", i % 10 ? q : "short=1");
	dump = journal_dump(j, 0, NULL, &len);
	assert_true(len <= 1 << 20);
	assert_true(count_lines(dump) >= 40 && count_lines(dump) < 50);
	assert_int_equal(first_seq(dump), 500 - count_lines(dump) + 1);
	free(dump);
	/* a line larger than the whole ring is not kept; the rest stays */
	q = realloc(q, 2000001);
	memset(q, 'y', 2000000);
	q[2000000] = '\0';
	record(j, "api", q);
	record(j, "api", "after=1");
	dump = journal_dump(j, 500, NULL, &len);
	assert_int_equal(count_lines(dump), 1);
	assert_int_equal(first_seq(dump), 502);
	free(dump);
	journal_clear(j);
	dump = journal_dump(j, 0, NULL, &len);
	assert_int_equal(len, 0);
	free(dump);
	record(j, "api", "again=1");
	dump = journal_dump(j, 0, NULL, &len);
	assert_int_equal(count_lines(dump), 1);
	free(dump);
	free(q);
	journal_close(j);
}

/* ---- every field of a line, byte for byte ----
 * The expected lines below were written by the journal before its
 * formatting was made faster (journal.c at d8cfa55): what a client of
 * /_fake/journal or the --journal file reads must not change.  The
 * time varies and is masked. */

struct jcase {
	const char *listener, *method, *path, *query;
	const char *hdr[24]; /* "Name", "value" pairs, NULL-ended */
	const char *body;    /* NULL: none */
	size_t body_len;
	bool in_file, mutating, reset;
	const char *sha, *fault;
	int status;
	unsigned delay;
	double ms;
};

static const struct jcase jcases[] = {
	{"gcp", "GET", "/v1/projects/p/locations/l/clusters/c", "",
	 {"Host", "127.0.0.1:80", NULL}, NULL, 0, false, false, false, NULL,
	 NULL, 200, 0, 0.25},
	{"c1", "GET", "/api/v1/namespaces/x/pods", "labelSelector=a%3Db&limit=5",
	 {"Accept", "application/json", "User-Agent", "kubectl/v1.30",
	  "authorization", "Bearer abc.def.ghi", "Host", "h",
	  "X-Goog-Api-Client", "gl-python/3", "user-agent", "second",
	  "Content-Type", "text/plain", "Metadata-Flavor", "Google",
	  "X-Goog-User-Project", "proj", "X-Other", "no", NULL},
	 NULL, 0, false, false, false, NULL, NULL, 404, 0, 1234.5678},
	{"gcp", "POST", "/token", "",
	 {"Authorization", "Basic", "Accept", "", "ACCEPT", "last", NULL},
	 "grant_type=refresh&refresh_token=SECRET&client_id=x&flag", 0,
	 false, true, false, NULL, "throttle", 429, 0, 0.0004},
	{"gcp", "POST", "/p\"q\\r\x01\t\n\b\f\r/\xc3\xa9/\xf0\x9f\x98\x80",
	 "a=\xff\xfe&b=\xc0\x80&c=\xed\xa0\x80&d=\xf4\x90\x80\x80&e=\xe2\x82",
	 {"Authorization", "VeryLongSchemeNameBeyondSixteen token", NULL},
	 "{\"kind\":\"Secret\",\"data\":{\"k\":\"c2VjcmV0\"},\"stringData\":"
	 "{\"p\":\"x\"},\"metadata\":{\"name\":\"s\",\"token\":\"t\"},"
	 "\"items\":[{\"password\":\"pw\",\"n\":{\"client_secret\":1}}]}", 0,
	 false, true, true, "0123456789abcdef0123456789abcdef"
	 "0123456789abcdef0123456789abcdef", NULL, 500, 0, 2.5},
	{"gcp", "PUT", "/upload/storage/v1/b/x/o", "uploadType=media",
	 {NULL}, NULL, 0, true, true, false, NULL, "slow", 200, 1500, 3},
	{"vm/one", "PUT", "/b", "", {NULL}, "\x01\x02\xff\x00zz", 6, false,
	 true, false, NULL, NULL, 201, 0, 999999.9999},
	{"gcp", "PUT", "/t", "", {NULL}, "plain text \"quoted\"", 0, false,
	 true, false, NULL, NULL, 200, 0, -1},
	{"gcp", "DELETE", "/", "x", {NULL}, "[1,{\"assertion\":\"a\"},\"s\"]",
	 0, false, true, false, NULL, NULL, -5, 0, 1e13},
};

static const char *const jwant[] = {
	/* 0 */
	"{\"seq\":1,\"time\":\"T\",\"listener\":\"gcp\",\"method\":\"GET\",\"path\":\""
	"/v1/projects/p/locations/l/clusters/c\",\"query\":\"\",\"headers\":"
	"{},\"body_size\":0,\"body_sha256\":\"e3b0c44298fc1c149afbf4c8996f"
	"b92427ae41e4649b934ca495991b7852b855\",\"status\":200,\"mutating"
	"\":false,\"ms\":0.250}\n",
	/* 0 bodies */
	"{\"seq\":1,\"time\":\"T\",\"listener\":\"gcp\",\"method\":\"GET\",\"path\":\""
	"/v1/projects/p/locations/l/clusters/c\",\"query\":\"\",\"headers\":"
	"{},\"body_size\":0,\"body_sha256\":\"e3b0c44298fc1c149afbf4c8996f"
	"b92427ae41e4649b934ca495991b7852b855\",\"status\":200,\"mutating"
	"\":false,\"ms\":0.250}\n",
	/* 1 */
	"{\"seq\":1,\"time\":\"T\",\"listener\":\"c1\",\"method\":\"GET\",\"path\":\"/"
	"api/v1/namespaces/x/pods\",\"query\":\"labelSelector=a%3Db&limit"
	"=5\",\"headers\":{\"accept\":\"application/json\",\"user-agent\":\"sec"
	"ond\",\"authorization\":\"Bearer <redacted>\",\"x-goog-api-client\""
	":\"gl-python/3\",\"content-type\":\"text/plain\",\"metadata-flavor\""
	":\"Google\",\"x-goog-user-project\":\"proj\"},\"body_size\":0,\"body_"
	"sha256\":\"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca49"
	"5991b7852b855\",\"status\":404,\"mutating\":false,\"ms\":1234.568}\n",
	/* 1 bodies */
	"{\"seq\":1,\"time\":\"T\",\"listener\":\"c1\",\"method\":\"GET\",\"path\":\"/"
	"api/v1/namespaces/x/pods\",\"query\":\"labelSelector=a%3Db&limit"
	"=5\",\"headers\":{\"accept\":\"application/json\",\"user-agent\":\"sec"
	"ond\",\"authorization\":\"Bearer <redacted>\",\"x-goog-api-client\""
	":\"gl-python/3\",\"content-type\":\"text/plain\",\"metadata-flavor\""
	":\"Google\",\"x-goog-user-project\":\"proj\"},\"body_size\":0,\"body_"
	"sha256\":\"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca49"
	"5991b7852b855\",\"status\":404,\"mutating\":false,\"ms\":1234.568}\n",
	/* 2 */
	"{\"seq\":1,\"time\":\"T\",\"listener\":\"gcp\",\"method\":\"POST\",\"path\":"
	"\"/token\",\"query\":\"\",\"headers\":{\"authorization\":\"<redacted>\","
	"\"accept\":\"last\"},\"body_size\":56,\"body_sha256\":\"a7432ac34a683"
	"e2d406b83832244181906c61749e5fab09bd16349eb0b021984\",\"status"
	"\":429,\"mutating\":true,\"ms\":0.000,\"fault\":\"throttle\"}\n",
	/* 2 bodies */
	"{\"seq\":1,\"time\":\"T\",\"listener\":\"gcp\",\"method\":\"POST\",\"path\":"
	"\"/token\",\"query\":\"\",\"headers\":{\"authorization\":\"<redacted>\","
	"\"accept\":\"last\"},\"body_size\":56,\"body_sha256\":\"a7432ac34a683"
	"e2d406b83832244181906c61749e5fab09bd16349eb0b021984\",\"status"
	"\":429,\"mutating\":true,\"ms\":0.000,\"fault\":\"throttle\",\"body\":\""
	"grant_type=refresh&refresh_token=<redacted>&client_id=x&flag"
	"\"}\n",
	/* 3 */
	"{\"seq\":1,\"time\":\"T\",\"listener\":\"gcp\",\"method\":\"POST\",\"path\":"
	"\"/p\\\"q\\\\r\\u0001\\t\\n\\b\\f\\r/\xc3""\xa9""/\xf0""\x9f""\x98""\x80""\",\"query\":\"a=\\ufffd\\ufffd&b"
	"=\\ufffd\\ufffd&c=\\ufffd\\ufffd\\ufffd&d=\\ufffd\\ufffd\\ufffd\\ufff"
	"d&e=\\ufffd\\ufffd\",\"headers\":{\"authorization\":\"VeryLongScheme"
	"Na <redacted>\"},\"body_size\":152,\"body_sha256\":\"0123456789abc"
	"def0123456789abcdef0123456789abcdef0123456789abcdef\",\"status"
	"\":0,\"mutating\":true,\"ms\":2.500,\"reset\":true}\n",
	/* 3 bodies */
	"{\"seq\":1,\"time\":\"T\",\"listener\":\"gcp\",\"method\":\"POST\",\"path\":"
	"\"/p\\\"q\\\\r\\u0001\\t\\n\\b\\f\\r/\xc3""\xa9""/\xf0""\x9f""\x98""\x80""\",\"query\":\"a=\\ufffd\\ufffd&b"
	"=\\ufffd\\ufffd&c=\\ufffd\\ufffd\\ufffd&d=\\ufffd\\ufffd\\ufffd\\ufff"
	"d&e=\\ufffd\\ufffd\",\"headers\":{\"authorization\":\"VeryLongScheme"
	"Na <redacted>\"},\"body_size\":152,\"body_sha256\":\"0123456789abc"
	"def0123456789abcdef0123456789abcdef0123456789abcdef\",\"status"
	"\":0,\"mutating\":true,\"ms\":2.500,\"reset\":true,\"body\":{\"kind\":\""
	"Secret\",\"data\":{\"k\":\"<redacted>\"},\"stringData\":{\"p\":\"<redact"
	"ed>\"},\"metadata\":{\"name\":\"s\",\"token\":\"<redacted>\"},\"items\":["
	"{\"password\":\"<redacted>\",\"n\":{\"client_secret\":\"<redacted>\"}}"
	"]}}\n",
	/* 4 */
	"{\"seq\":1,\"time\":\"T\",\"listener\":\"gcp\",\"method\":\"PUT\",\"path\":\""
	"/upload/storage/v1/b/x/o\",\"query\":\"uploadType=media\",\"header"
	"s\":{},\"body_size\":77,\"body_sha256\":\"e3b0c44298fc1c149afbf4c8"
	"996fb92427ae41e4649b934ca495991b7852b855\",\"status\":200,\"muta"
	"ting\":true,\"ms\":3.000,\"fault\":\"slow\",\"delay_ms\":1500}\n",
	/* 4 bodies */
	"{\"seq\":1,\"time\":\"T\",\"listener\":\"gcp\",\"method\":\"PUT\",\"path\":\""
	"/upload/storage/v1/b/x/o\",\"query\":\"uploadType=media\",\"header"
	"s\":{},\"body_size\":77,\"body_sha256\":\"e3b0c44298fc1c149afbf4c8"
	"996fb92427ae41e4649b934ca495991b7852b855\",\"status\":200,\"muta"
	"ting\":true,\"ms\":3.000,\"fault\":\"slow\",\"delay_ms\":1500}\n",
	/* 5 */
	"{\"seq\":1,\"time\":\"T\",\"listener\":\"vm/one\",\"method\":\"PUT\",\"path"
	"\":\"/b\",\"query\":\"\",\"headers\":{},\"body_size\":6,\"body_sha256\":\""
	"780dfa05635e43b67c7ef677cabe813de463af7186eb3e409a3f55391e04"
	"d8f2\",\"status\":201,\"mutating\":true,\"ms\":1000000.000}\n",
	/* 5 bodies */
	"{\"seq\":1,\"time\":\"T\",\"listener\":\"vm/one\",\"method\":\"PUT\",\"path"
	"\":\"/b\",\"query\":\"\",\"headers\":{},\"body_size\":6,\"body_sha256\":\""
	"780dfa05635e43b67c7ef677cabe813de463af7186eb3e409a3f55391e04"
	"d8f2\",\"status\":201,\"mutating\":true,\"ms\":1000000.000,\"body_ba"
	"se64\":\"AQL/AHp6\"}\n",
	/* 6 */
	"{\"seq\":1,\"time\":\"T\",\"listener\":\"gcp\",\"method\":\"PUT\",\"path\":\""
	"/t\",\"query\":\"\",\"headers\":{},\"body_size\":19,\"body_sha256\":\"f1"
	"45f88c06b7a109f64f7a955d45d2c22eda9ab7d933c2c7d727683e002887"
	"04\",\"status\":200,\"mutating\":true,\"ms\":0.000}\n",
	/* 6 bodies */
	"{\"seq\":1,\"time\":\"T\",\"listener\":\"gcp\",\"method\":\"PUT\",\"path\":\""
	"/t\",\"query\":\"\",\"headers\":{},\"body_size\":19,\"body_sha256\":\"f1"
	"45f88c06b7a109f64f7a955d45d2c22eda9ab7d933c2c7d727683e002887"
	"04\",\"status\":200,\"mutating\":true,\"ms\":0.000,\"body\":\"plain te"
	"xt \\\"quoted\\\"\"}\n",
	/* 7 */
	"{\"seq\":1,\"time\":\"T\",\"listener\":\"gcp\",\"method\":\"DELETE\",\"path"
	"\":\"/\",\"query\":\"x\",\"headers\":{},\"body_size\":25,\"body_sha256\":"
	"\"047346e7e557f313d077b53e1e82165bccab77d79e9685b84cf289a324e"
	"0d6e8\",\"status\":0,\"mutating\":true,\"ms\":0.000}\n",
	/* 7 bodies */
	"{\"seq\":1,\"time\":\"T\",\"listener\":\"gcp\",\"method\":\"DELETE\",\"path"
	"\":\"/\",\"query\":\"x\",\"headers\":{},\"body_size\":25,\"body_sha256\":"
	"\"047346e7e557f313d077b53e1e82165bccab77d79e9685b84cf289a324e"
	"0d6e8\",\"status\":0,\"mutating\":true,\"ms\":0.000,\"body\":[1,{\"ass"
	"ertion\":\"<redacted>\"},\"s\"]}\n",
};

/* Record case c in j. */
static void
jcase_record(struct journal *j, const struct jcase *c)
{
	struct fake_kv kv[12];
	struct freq rq;
	struct fresp rs;
	size_t n = 0;

	memset(&rq, 0, sizeof(rq));
	memset(&rs, 0, sizeof(rs));
	for (; c->hdr[2 * n] != NULL; n++) {
		kv[n].k = (char *)c->hdr[2 * n];
		kv[n].v = (char *)c->hdr[2 * n + 1];
	}
	rq.listener = c->listener;
	rq.method = c->method;
	rq.path = (char *)c->path;
	rq.query = (char *)c->query;
	rq.hdr = kv;
	rq.n_hdr = n;
	rq.body = c->body;
	rq.body_len = c->body && !c->body_len ? strlen(c->body) : c->body_len;
	if (c->in_file) {
		rq.body_in_file = true;
		rq.body_file_len = 77;
	}
	rq.mutating = c->mutating;
	rq.fault = c->fault;
	if (c->sha != NULL)
		snprintf(rq.body_sha256, sizeof(rq.body_sha256), "%s", c->sha);
	rs.status = c->status;
	rs.reset = c->reset;
	rs.delay_ms = c->delay;
	journal_record(j, &rq, &rs, c->ms);
}

/* The line of one case (time masked); the caller frees it. */
static char *
jcase_line(const struct jcase *c, bool bodies)
{
	struct journal *j = NULL;
	struct mv_err err = {0};
	size_t len;
	char *dump, *t, *e;

	assert_int_equal(journal_open(NULL, 1 << 20, bodies, &j, &err), 0);
	jcase_record(j, c);
	dump = journal_dump(j, 0, NULL, &len);
	journal_close(j);
	assert_non_null(dump);
	assert_int_equal(len, strlen(dump));
	t = strstr(dump, "\"time\":\"");
	assert_non_null(t);
	e = strchr(t + 8, '"');
	assert_non_null(e);
	assert_int_equal(e - (t + 8), 29); /* YYYY-MM-DDTHH:MM:SS.mmm-00:00 */
	memmove(t + 9, e, strlen(e) + 1);
	t[8] = 'T';
	return dump;
}

static void
test_lines_exact(void **state)
{
	size_t n = sizeof(jcases) / sizeof(jcases[0]);

	(void)state;
	assert_int_equal(sizeof(jwant) / sizeof(jwant[0]), 2 * n);
	for (size_t i = 0; i < n; i++)
		for (int bodies = 0; bodies < 2; bodies++) {
			char *got = jcase_line(&jcases[i], bodies);
			if (strcmp(got, jwant[2 * i + (size_t)bodies]) != 0)
				fail_msg("case %zu%s:\n got %s\nwant %s", i,
				         bodies ? " (bodies)" : "", got,
				         jwant[2 * i + (size_t)bodies]);
			free(got);
		}
}

/* --journal-bytes counts each line's exact bytes (the line, the
 * listener's name and a NUL after each, as it always did): a bound of
 * exactly the lines' total keeps them all, a byte less drops the
 * oldest.  The ring keeps records and writes their lines when read, so
 * the count is made before the line exists. */
static void
test_bytes_exact(void **state)
{
	size_t n = sizeof(jcases) / sizeof(jcases[0]);

	(void)state;
	for (int bodies = 0; bodies < 2; bodies++) {
		size_t total = 0, lines = 0, len;
		struct mv_err err = {0};

		for (size_t i = 0; i < n; i++) {
			/* the golden line has "T" for the 29 bytes of the time */
			size_t line = strlen(jwant[2 * i + (size_t)bodies]) - 1 + 28;
			total += line + 1 + strlen(jcases[i].listener) + 1;
			lines += line + 1;
		}
		for (size_t slack = 0; slack < 2; slack++) {
			struct journal *j = NULL;
			char *dump;

			assert_int_equal(journal_open(NULL, total - slack, bodies, &j,
			                              &err), 0);
			for (size_t i = 0; i < n; i++)
				jcase_record(j, &jcases[i]);
			dump = journal_dump(j, 0, NULL, &len);
			assert_int_equal(count_lines(dump), n - slack);
			assert_int_equal(first_seq(dump), 1 + slack);
			if (slack == 0)
				assert_int_equal(len, lines);
			free(dump);
			journal_close(j);
		}
	}
}

/* The --journal file has the same lines as GET /_fake/journal, and a
 * line too large for the ring still reaches the file. */
static void
test_file_lines(void **state)
{
	size_t n = sizeof(jcases) / sizeof(jcases[0]), len, flen;
	struct journal *j = NULL;
	struct mv_err err = {0};
	char *dir = tu_tmpdir(), *path = tu_fmt("%s/journal", dir), *dump;
	char *file, *big = malloc(5001);

	(void)state;
	assert_int_equal(journal_open(path, 1 << 20, true, &j, &err), 0);
	for (size_t i = 0; i < n; i++)
		jcase_record(j, &jcases[i]);
	journal_flush(j);
	dump = journal_dump(j, 0, NULL, &len);
	file = tu_read(path, &flen);
	assert_int_equal(flen, len);
	assert_memory_equal(file, dump, len);
	free(file);
	free(dump);
	journal_close(j);
	/* a ring of 4096 bytes: a 5000-byte query is only in the file (it
	 * made room first, as it always did: small=1 went too) */
	memset(big, 'b', 5000);
	big[5000] = '\0';
	assert_int_equal(journal_open(path, 4096, false, &j, &err), 0);
	record(j, "api", "small=1");
	record(j, "api", big);
	record(j, "api", "small=2");
	journal_flush(j);
	dump = journal_dump(j, 0, NULL, &len);
	assert_int_equal(count_lines(dump), 1);
	assert_int_equal(first_seq(dump), 3);
	free(dump);
	file = tu_read(path, &flen);
	assert_int_equal(count_lines(file), n + 3);
	assert_non_null(strstr(file, big));
	assert_non_null(strstr(file, "\"seq\":3,"));
	free(file);
	journal_close(j);
	free(big);
	tu_rmrf(dir);
	free(path);
	free(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ring_wraps_with_mixed_lengths),
		cmocka_unit_test(test_bytes_bound),
		cmocka_unit_test(test_lines_exact),
		cmocka_unit_test(test_bytes_exact),
		cmocka_unit_test(test_file_lines),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
