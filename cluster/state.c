/* cluster/state.c - the state file and its lock (see state.h). */
#include "cluster/state.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/rand.h>

#include "core/atomic.h"

struct mv_state {
	char *dir;
	char *path;
	char *lock_path;
	int lock_fd;
	bool persistent; /* a file exists (or will once saved) */
	json_t *root;
};

static char *
join(const char *a, const char *b)
{
	size_t n = strlen(a) + strlen(b) + 2;
	char *s = malloc(n);

	if (s != NULL)
		snprintf(s, n, "%s/%s", a, b);
	return s;
}

static int
take_lock(struct mv_state *st, struct mv_err *err)
{
	char pid[32];

	st->lock_fd = open(st->lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (st->lock_fd < 0)
		return mv_err_sys(err, errno, "%s", st->lock_path);
	if (flock(st->lock_fd, LOCK_EX | LOCK_NB) != 0) {
		char holder[32] = "";
		ssize_t n = pread(st->lock_fd, holder, sizeof(holder) - 1, 0);
		holder[n > 0 ? n : 0] = '\0';
		holder[strcspn(holder, "\n")] = '\0';
		close(st->lock_fd);
		st->lock_fd = -1;
		return mv_err_set(err, MV_EXIT_FAIL,
		                  "%s: another meshvm run holds the lock%s%s%s; wait "
		                  "for it to finish", st->lock_path,
		                  holder[0] ? " (pid " : "", holder,
		                  holder[0] ? ")" : "");
	}
	snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	if (ftruncate(st->lock_fd, 0) == 0)
		(void)!pwrite(st->lock_fd, pid, strlen(pid), 0);
	return 0;
}

static char *
new_id(void)
{
	unsigned char r[6];
	char *id = malloc(16);

	if (id == NULL)
		return NULL;
	if (RAND_bytes(r, sizeof(r)) != 1) {
		free(id);
		return NULL;
	}
	snprintf(id, 16, "mv-%02x%02x%02x%02x%02x%02x", r[0], r[1], r[2], r[3],
	         r[4], r[5]);
	return id;
}

int
mv_state_open(const char *config_dir, bool create, struct mv_state **out,
              struct mv_err *err)
{
	struct mv_state *st = calloc(1, sizeof(*st));
	struct stat sb;
	json_error_t je;

	*out = NULL;
	if (st == NULL)
		return mv_err_set(err, MV_EXIT_FAIL, "out of memory");
	st->lock_fd = -1;
	st->dir = join(config_dir, ".meshvm");
	st->path = st->dir ? join(st->dir, "state.json") : NULL;
	st->lock_path = st->dir ? join(st->dir, "lock") : NULL;
	if (st->lock_path == NULL) {
		mv_state_close(st);
		return mv_err_set(err, MV_EXIT_FAIL, "out of memory");
	}
	if (stat(st->dir, &sb) != 0) {
		if (!create) {
			/* Nothing was ever created: an empty, unsaved state. */
			st->root = json_pack("{s:i,s:s,s:{}}", "version", 1, "id", "",
			                     "resources");
			*out = st;
			return 0;
		}
		if (mkdir(st->dir, 0700) != 0) {
			int e = errno;
			mv_state_close(st);
			return mv_err_sys(err, e, "%s", st->dir);
		}
	}
	if (take_lock(st, err) != 0) {
		mv_state_close(st);
		return -1;
	}
	if (stat(st->path, &sb) == 0) {
		st->root = json_load_file(st->path, JSON_REJECT_DUPLICATES, &je);
		if (st->root == NULL || !json_is_object(st->root) ||
		    !json_is_string(json_object_get(st->root, "id")) ||
		    !json_is_object(json_object_get(st->root, "resources"))) {
			mv_err_at(err, MV_EXIT_FAIL, st->path, st->root ? 0 : je.line,
			          st->root ? 0 : je.column,
			          "unreadable state (%s); it records what meshvm "
			          "created: restore it rather than delete it",
			          st->root ? "missing id or resources" : je.text);
			mv_state_close(st);
			return -1;
		}
		st->persistent = true;
	} else {
		char *id = new_id();
		if (id == NULL) {
			mv_state_close(st);
			return mv_err_set(err, MV_EXIT_FAIL, "no randomness for an id");
		}
		st->root = json_pack("{s:i,s:s,s:{}}", "version", 1, "id", id,
		                     "resources");
		free(id);
		st->persistent = create;
	}
	*out = st;
	return 0;
}

void
mv_state_close(struct mv_state *st)
{
	if (st == NULL)
		return;
	if (st->lock_fd >= 0)
		close(st->lock_fd); /* releases the flock */
	json_decref(st->root);
	free(st->dir);
	free(st->path);
	free(st->lock_path);
	free(st);
}

const char *
mv_state_dir(const struct mv_state *st)
{
	return st->dir;
}

const char *
mv_state_path(const struct mv_state *st)
{
	return st->path;
}

const char *
mv_state_id(const struct mv_state *st)
{
	return json_string_value(json_object_get(st->root, "id"));
}

int
mv_state_set_id(struct mv_state *st, const char *id, struct mv_err *err)
{
	size_t n = id ? strlen(id) : 0;

	/* A GCE label value: lowercase letters, digits, '-' and '_'. */
	if (n == 0 || n > 63 || strspn(id, "abcdefghijklmnopqrstuvwxyz0123456789"
	                                   "-_") != n)
		return mv_err_set(err, MV_EXIT_USAGE, "deployment id '%s': want "
		                  "1 to 63 of a-z, 0-9, '-', '_'", id ? id : "");
	json_object_set_new(st->root, "id", json_string(id));
	return 0;
}

json_t *
mv_state_resources(const struct mv_state *st)
{
	return json_object_get(st->root, "resources");
}

json_t *
mv_state_get(const struct mv_state *st, const char *key)
{
	return json_object_get(mv_state_resources(st), key);
}

json_t *
mv_state_put(struct mv_state *st, const char *key, const char *kind)
{
	json_t *r = mv_state_get(st, key);

	if (r == NULL) {
		r = json_pack("{s:s}", "kind", kind);
		json_object_set_new(mv_state_resources(st), key, r);
	}
	return r;
}

void
mv_state_del(struct mv_state *st, const char *key)
{
	json_object_del(mv_state_resources(st), key);
}

const char *
mv_state_str(const json_t *rec, const char *field)
{
	return json_string_value(json_object_get(rec, field));
}

void
mv_state_set_str(json_t *rec, const char *field, const char *value)
{
	if (value == NULL)
		json_object_del(rec, field);
	else
		json_object_set_new(rec, field, json_string(value));
}

bool
mv_state_persistent(const struct mv_state *st)
{
	return st->persistent;
}

int
mv_state_save(struct mv_state *st, struct mv_err *err)
{
	char *text;
	int rc;

	if (!st->persistent)
		return 0;
	text = json_dumps(st->root, JSON_INDENT(2) | JSON_SORT_KEYS);
	if (text == NULL)
		return mv_err_set(err, MV_EXIT_FAIL, "out of memory");
	rc = mv_write_file_atomic(st->path, text, strlen(text), 0600, err);
	free(text);
	return rc;
}
