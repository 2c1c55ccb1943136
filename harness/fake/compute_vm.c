/* harness/fake/compute_vm.c - what a simulated VM reports about itself
 * and Compute serves back: guest attributes (the VM PUTs
 * /vm/NAME/computeMetadata/v1/instance/guest-attributes/NS/KEY to the
 * metadata server; instances.getGuestAttributes answers them) and the
 * serial console (the VM POSTs text to /vm/NAME/serialPort/1;
 * instances.getSerialPortOutput pages through it by byte offset).
 * Both are keyed by the instance's id, so a new instance of the same
 * name starts empty.  Bounded: 256 attributes of at most 4 KiB each per
 * instance, and the last 1 MiB of console.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/fake/compute_int.h"

#define GA_MAX_ENTRIES 256
#define GA_MAX_VALUE 4096
#define SERIAL_KEEP ((size_t)1 << 20)

static bool
flavor_ok(struct freq *rq, struct fresp *rs)
{
	const char *fl = freq_header(rq, "Metadata-Flavor");

	resp_header(rs, "Metadata-Flavor", "Google");
	if (fl != NULL && strcmp(fl, "Google") == 0 &&
	    freq_header(rq, "X-Forwarded-For") == NULL)
		return true;
	resp_bytes(rs, 403, "text/html; charset=UTF-8", "Missing "
	           "Metadata-Flavor:Google header.\n", 31);
	return false;
}

/* a guest attribute's namespace or key: what the real server allows */
static bool
ga_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '_'))
			return false;
	return true;
}

static json_t *
vm_entry(struct fake *f, const char *table, const char *id)
{
	json_t *t = fake_db(f, table), *e = json_object_get(t, id);

	if (e == NULL) {
		e = json_object();
		json_object_set_new(t, id, e);
	}
	return e;
}

/* PUT /vm/NAME/computeMetadata/v1/instance/guest-attributes/NS/KEY */
static void
ga_put(struct fake *f, struct freq *rq, struct fresp *rs)
{
	char key[512];
	json_t *inst, *e, *ns;
	const char *id;
	size_t count = 0;
	const char *k;
	json_t *v;

	if (!flavor_ok(rq, rs))
		return;
	inst = compute_find_instance(f, rq->cap[0], key, sizeof(key));
	if (inst == NULL) {
		resp_bytes(rs, 404, "text/plain", "instance not found\n", 19);
		return;
	}
	if (!ga_name_ok(rq->cap[1]) || !ga_name_ok(rq->cap[2])) {
		resp_bytes(rs, 400, "text/plain", "invalid namespace or key\n", 25);
		return;
	}
	if (rq->body_len > GA_MAX_VALUE ||
	    memchr(rq->body ? rq->body : "", '\0', rq->body_len) != NULL) {
		resp_bytes(rs, 400, "text/plain", "invalid value\n", 14);
		return;
	}
	id = fake_jstr(inst, "id");
	e = vm_entry(f, "guest_attributes", id);
	json_object_foreach(e, k, v)
		count += json_object_size(v);
	ns = json_object_get(e, rq->cap[1]);
	if (count >= GA_MAX_ENTRIES &&
	    (ns == NULL || json_object_get(ns, rq->cap[2]) == NULL)) {
		resp_bytes(rs, 400, "text/plain", "too many guest attributes\n",
		           26);
		return;
	}
	if (ns == NULL) {
		ns = json_object();
		json_object_set_new(e, rq->cap[1], ns);
	}
	json_object_set_new(ns, rq->cap[2], json_stringn(rq->body ? rq->body : "",
	                                                 rq->body_len));
	resp_bytes(rs, 200, "text/plain", "", 0);
}

/* POST /vm/NAME/serialPort/1: console text, appended */
static void
serial_append(struct fake *f, struct freq *rq, struct fresp *rs)
{
	char key[512];
	json_t *inst = compute_find_instance(f, rq->cap[0], key, sizeof(key)), *e;
	const char *old;
	size_t olen, drop;
	json_int_t start;
	char *buf;

	if (inst == NULL) {
		resp_bytes(rs, 404, "text/plain", "instance not found\n", 19);
		return;
	}
	e = vm_entry(f, "serial", fake_jstr(inst, "id"));
	old = fake_jstr(e, "contents");
	olen = json_string_length(json_object_get(e, "contents"));
	start = json_integer_value(json_object_get(e, "start"));
	buf = malloc(olen + rq->body_len + 1);
	if (buf == NULL) {
		resp_gerr(rs, 500, NULL, "out of memory");
		return;
	}
	memcpy(buf, old, olen);
	if (rq->body_len > 0)
		memcpy(buf + olen, rq->body, rq->body_len);
	olen += rq->body_len;
	/* keep the last SERIAL_KEEP bytes; start is the first one's offset */
	drop = olen > SERIAL_KEEP ? olen - SERIAL_KEEP : 0;
	json_object_set_new(e, "contents", json_stringn_nocheck(buf + drop,
	                                                        olen - drop));
	json_object_set_new(e, "start", json_integer(start + (json_int_t)drop));
	free(buf);
	resp_bytes(rs, 200, "text/plain", "", 0);
}

static json_t *
inst_of(struct fake *f, struct freq *rq, struct fresp *rs)
{
	char key[512], path[512];
	json_t *inst;

	snprintf(key, sizeof(key), "%s/%s/%s", rq->cap[0], rq->cap[1],
	         rq->cap[2]);
	inst = json_object_get(fake_db(f, "instances"), key);
	if (inst == NULL) {
		snprintf(path, sizeof(path), "projects/%s/zones/%s/instances/%s",
		         rq->cap[0], rq->cap[1], rq->cap[2]);
		c_not_found(rs, path);
	}
	return inst;
}

/* GET .../instances/NAME/getGuestAttributes?queryPath=NS/ or
 * ?variableKey=NS/KEY */
static void
ga_get(struct fake *f, struct freq *rq, struct fresp *rs)
{
	json_t *inst = inst_of(f, rq, rs), *e, *items, *ns, *v, *out;
	const char *qp = freq_arg(rq, "queryPath");
	const char *vk = freq_arg(rq, "variableKey");
	const char *nsn, *k;
	char link[1024];

	if (inst == NULL)
		return;
	e = json_object_get(fake_db(f, "guest_attributes"),
	                    fake_jstr(inst, "id"));
	snprintf(link, sizeof(link), "%s/getGuestAttributes",
	         fake_jstr(inst, "selfLink"));
	if (vk != NULL) {
		const char *slash = strchr(vk, '/');
		char nsb[80];
		snprintf(nsb, sizeof(nsb), "%.*s",
		         slash ? (int)(slash - vk) : 0, vk);
		v = slash ? json_object_get(json_object_get(e, nsb), slash + 1)
		          : NULL;
		if (v == NULL) {
			resp_gerr(rs, 404, "notFound", "The resource 'projects/%s/"
			          "zones/%s/instances/%s/guestAttributes/%.80s' "
			          "was not found", rq->cap[0], rq->cap[1],
			          rq->cap[2], vk);
			return;
		}
		resp_json(rs, 200, json_pack("{s:s, s:s, s:s, s:O}", "kind",
		                             "compute#guestAttributes",
		                             "selfLink", link, "variableKey", vk,
		                             "variableValue", v));
		return;
	}
	items = json_array();
	json_object_foreach(e, nsn, ns) {
		size_t nl = strlen(nsn);
		/* queryPath "NS/" or "NS/KEY" or "" (everything) */
		if (qp != NULL && *qp != '\0' &&
		    (strncmp(qp, nsn, nl) != 0 || (qp[nl] != '/' && qp[nl] != '\0')))
			continue;
		json_object_foreach(ns, k, v) {
			if (qp != NULL && qp[nl] == '/' && qp[nl + 1] != '\0' &&
			    strcmp(qp + nl + 1, k) != 0)
				continue;
			json_array_append_new(items, json_pack(
			        "{s:s, s:s, s:O}", "namespace", nsn, "key", k,
			        "value", v));
		}
	}
	out = json_pack("{s:s, s:s, s:s, s:{s:o}}", "kind",
	                "compute#guestAttributes", "selfLink", link, "queryPath",
	                qp ? qp : "", "queryValue", "items", items);
	resp_json(rs, 200, out);
}

/* GET .../instances/NAME/serialPort?port=1&start=N: from byte N (or the
 * oldest kept), and where to go on from */
static void
serial_get(struct fake *f, struct freq *rq, struct fresp *rs)
{
	json_t *inst = inst_of(f, rq, rs), *e;
	const char *port = freq_arg(rq, "port"), *st = freq_arg(rq, "start");
	const char *text;
	long long start, from, len, want;
	char link[1024];

	if (inst == NULL)
		return;
	if (port != NULL && strcmp(port, "1") != 0 && strcmp(port, "2") != 0 &&
	    strcmp(port, "3") != 0 && strcmp(port, "4") != 0) {
		resp_gerr(rs, 400, "invalid", "Invalid value for field 'port': "
		          "'%.16s'. Must be between 1 and 4.", port);
		return;
	}
	e = json_object_get(fake_db(f, "serial"), fake_jstr(inst, "id"));
	if (port != NULL && strcmp(port, "1") != 0)
		e = NULL; /* the VM writes only its first port */
	text = e ? fake_jstr(e, "contents") : "";
	len = e ? (long long)json_string_length(json_object_get(e, "contents"))
	        : 0;
	start = e ? json_integer_value(json_object_get(e, "start")) : 0;
	want = st ? strtoll(st, NULL, 10) : 0;
	from = want < start ? start : want;
	if (from > start + len)
		from = start + len;
	snprintf(link, sizeof(link), "%s/serialPort", fake_jstr(inst, "selfLink"));
	resp_json(rs, 200, json_pack("{s:s, s:s%, s:s, s:s, s:s}", "kind",
	                             "compute#serialPortOutput", "contents",
	                             text + (from - start),
	                             (size_t)(len - (from - start)), "start",
	                             fake_u64((uint64_t)from, (char[24]){0}, 24),
	                             "next", fake_u64((uint64_t)(start + len),
	                                              (char[24]){0}, 24),
	                             "selfLink", link));
}

#define P "/compute/v1/projects/{}"
#define Z P "/zones/{}"

const struct route compute_vm_routes[] = {
	{"PUT", "/vm/{}/computeMetadata/v1/instance/guest-attributes/{}/{}",
	 ga_put, 0, NULL},
	{"POST", "/vm/{}/serialPort/1", serial_append, 0, NULL},
	{"GET", Z "/instances/{}/getGuestAttributes", ga_get,
	 R_AUTH | R_PURE, NULL},
	{"GET", Z "/instances/{}/serialPort", serial_get, R_AUTH | R_PURE, NULL},
	{NULL, NULL, NULL, 0, NULL},
};
