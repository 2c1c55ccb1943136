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
#include "core/xalloc.h"

struct mv_state {
	char *dir;
	char *path;
	char *lock_path;
	int lock_fd;
	int busy_pid;    /* read-only open: pid of the run holding the lock */
	bool readonly;   /* no lock taken; never saved */
	bool persistent; /* a file exists (or will once saved) */
	json_t *root;
};

/* The holder's pid, written into the lock file by take_lock ("" if none). */
static void
read_holder(int fd, char *buf, size_t len)
{
	ssize_t n = pread(fd, buf, len - 1, 0);

	buf[n > 0 ? n : 0] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
}

static int
take_lock(struct mv_state *st, struct mv_err *err)
{
	char pid[32];
	int tries = 0;

	/* O_NOFOLLOW: a symlink planted at .meshvm/lock is not followed. */
	st->lock_fd = open(st->lock_path,
	                   O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (st->lock_fd < 0)
		return mv_err_sys(err, errno, "%s", st->lock_path);
	/* A reader's probe (status, plan) holds a shared lock for a moment:
	 * retry briefly before calling the lock taken. */
	while (flock(st->lock_fd, LOCK_EX | LOCK_NB) != 0) {
		char holder[32];
		if (errno == EWOULDBLOCK && ++tries < 50) {
			usleep(10 * 1000);
			continue;
		}
		read_holder(st->lock_fd, holder, sizeof(holder));
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

/* Readers take no lock (state.json is only ever replaced by an atomic
 * rename, so they see a whole file); a non-blocking shared probe tells
 * whether `up` (or `down`) is running, and its pid. */
static void
probe_lock(struct mv_state *st)
{
	int fd = open(st->lock_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	char holder[32];

	if (fd < 0)
		return;
	if (flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK) {
		read_holder(fd, holder, sizeof(holder));
		st->busy_pid = atoi(holder);
		if (st->busy_pid <= 0)
			st->busy_pid = -1; /* held, pid not written yet */
	}
	close(fd); /* releases the probe */
}

/* .meshvm must be a real directory of ours: made with mkdir (EEXIST is
 * fine), then checked with lstat, so a symlink or another user's directory
 * put there is refused rather than written through. */
static int
check_dir(const char *dir, bool create, bool *exists, struct mv_err *err)
{
	struct stat sb;

	*exists = true;
	if (create && mkdir(dir, 0700) != 0 && errno != EEXIST)
		return mv_err_sys(err, errno, "%s", dir);
	if (lstat(dir, &sb) != 0) {
		if (errno == ENOENT && !create) {
			*exists = false;
			return 0;
		}
		return mv_err_sys(err, errno, "%s", dir);
	}
	if (S_ISLNK(sb.st_mode))
		return mv_err_set(err, MV_EXIT_FAIL, "%s: is a symlink; the state "
		                  "directory must be a real directory", dir);
	if (!S_ISDIR(sb.st_mode))
		return mv_err_set(err, MV_EXIT_FAIL, "%s: not a directory", dir);
	if (sb.st_uid != geteuid())
		return mv_err_set(err, MV_EXIT_FAIL, "%s: owned by uid %u, not by "
		                  "this user (%u)", dir, (unsigned)sb.st_uid,
		                  (unsigned)geteuid());
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

static int
state_open(const char *config_dir, bool create, bool readonly,
           struct mv_state **out, struct mv_err *err)
{
	struct mv_state *st = mv_xcalloc(1, sizeof(*st));
	struct stat sb;
	json_error_t je;
	bool exists;

	*out = NULL;
	st->lock_fd = -1;
	st->readonly = readonly;
	st->dir = mv_xstrfmt("%s/.meshvm", config_dir);
	st->path = mv_xstrfmt("%s/state.json", st->dir);
	st->lock_path = mv_xstrfmt("%s/lock", st->dir);
	if (check_dir(st->dir, create && !readonly, &exists, err) != 0) {
		mv_state_close(st);
		return -1;
	}
	if (!exists) {
		/* Nothing was ever created: an empty, unsaved state. */
		st->root = json_pack("{s:i,s:s,s:{}}", "version", 1, "id", "",
		                     "resources");
		*out = st;
		return 0;
	}
	if (readonly)
		probe_lock(st);
	else if (take_lock(st, err) != 0) {
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
		st->persistent = create && !readonly;
	}
	*out = st;
	return 0;
}

int
mv_state_open(const char *config_dir, bool create, struct mv_state **out,
              struct mv_err *err)
{
	return state_open(config_dir, create, false, out, err);
}

int
mv_state_open_readonly(const char *config_dir, struct mv_state **out,
                       struct mv_err *err)
{
	return state_open(config_dir, false, true, out, err);
}

int
mv_state_busy_pid(const struct mv_state *st)
{
	return st->busy_pid;
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

	if (!st->persistent || st->readonly)
		return 0;
	text = json_dumps(st->root, JSON_INDENT(2) | JSON_SORT_KEYS);
	if (text == NULL)
		return mv_err_set(err, MV_EXIT_FAIL, "out of memory");
	rc = mv_write_file_atomic(st->path, text, strlen(text), 0600, err);
	free(text);
	return rc;
}
