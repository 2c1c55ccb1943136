/* harness/vmsim/sandbox.c - one simulated VM's processes: new user,
 * mount, network and pid namespaces (unshare(2), unprivileged), and the
 * thread that forwards the few addresses the VM may reach and keeps a
 * bounded copy of its console.
 *
 *   parent (a vmsim thread)
 *     └ A  unshare(USER|NS|NET|PID); uid/gid maps; / private; the VM's
 *          /usr/local/sbin bound over the host's (runcmd names
 *          /usr/local/sbin/meshvm-join); lo up; one listener per
 *          forward, passed to the parent (SCM_RIGHTS); forwards SIGTERM
 *        └ B  pid 1 of the new pid namespace: /bin/sh DIR/boot.sh
 *
 * A and B die with their parent (PR_SET_PDEATHSIG), and everything in the
 * pid namespace dies with B, so no VM process outlives the fake.
 *
 * Unprivileged: the VM's root is the fake's user, mapped.  A fake running
 * as root would make that the host's root (with its power over every
 * root-owned file), so A first becomes nobody (VMSIM_UID) and the VM's
 * root is nobody mapped; vmsim.c gave DIR to nobody.
 *
 * Network: the namespace has only loopback, so the VM reaches nothing but
 * what the forwarder connects on its behalf: each listener inside is
 * joined to one fixed address outside (the fake's API, istiod's
 * LoadBalancer addresses).  The sidecar's :15021 is the VM's own, so
 * VMs do not collide with each other or with the host.
 *
 * Between fork and exec only system calls run (the parent has threads):
 * every string is made before the fork.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <grp.h>
#include <time.h>
#include <unistd.h>

#include "core/xalloc.h"
#include "harness/vmsim/vmsim_private.h"

struct conn {
	int a, b; /* inside (accepted), outside (connected) */
};

struct vmsim_vm {
	char *name, *dir, *rc_path;
	pid_t pid;                  /* A */
	int out_fd;                 /* B's stdout and stderr */
	int log_fd;
	size_t log_left;
	int lfd[VMSIM_FWD_MAX];
	struct vmsim_fwd fwd[VMSIM_FWD_MAX];
	size_t n_fwd;
	struct conn conns[VMSIM_CONNS_MAX];
	size_t n_conns;
	int wake[2];
	pthread_t thr;
	bool thr_on;
	atomic_bool exited;
};

/* ---- the child side (system calls only) ---- */

static pid_t child_b = -1;

static void
forward_term(int sig)
{
	(void)sig;
	if (child_b > 0)
		kill(child_b, SIGTERM);
}

static void
write_str(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);

	if (fd >= 0) {
		if (write(fd, s, strlen(s)) < 0) {
			/* a failed map shows as a failed mount or bind below */
		}
		close(fd);
	}
}

struct child_args {
	char uid_map[32], gid_map[32];
	bool drop;                  /* root: become VMSIM_UID first */
	char *bind_src;
	char *const *argv, *const *envp;
	char *cwd;
	int sock, out_w;
	const struct vmsim_fwd *fwd;
	size_t n_fwd;
};

/* A's failure: a line on the console pipe and exit 127. */
static void __attribute__((noreturn))
child_die(int out_w, const char *what)
{
	static const char pre[] = "vmsim: sandbox: ";
	int e = errno;
	const char *es = strerror(e);

	if (write(out_w, pre, sizeof(pre) - 1) < 0 ||
	    write(out_w, what, strlen(what)) < 0 || write(out_w, ": ", 2) < 0 ||
	    write(out_w, es, strlen(es)) < 0 || write(out_w, "\n", 1) < 0) {
		/* nobody left to tell */
	}
	_exit(127);
}

static void
lo_up(int out_w)
{
	struct ifreq ifr;
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (s < 0)
		child_die(out_w, "socket");
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, "lo", 3);
	if (ioctl(s, SIOCGIFFLAGS, &ifr) != 0)
		child_die(out_w, "lo flags");
	ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
	if (ioctl(s, SIOCSIFFLAGS, &ifr) != 0)
		child_die(out_w, "lo up");
	close(s);
}

static void
send_listeners(const struct child_args *c)
{
	int fds[VMSIM_FWD_MAX];
	char ctl[CMSG_SPACE(sizeof(fds))];
	char one = 'L';
	struct iovec iov = {&one, 1};
	struct msghdr m;
	struct cmsghdr *cm;

	for (size_t i = 0; i < c->n_fwd; i++) {
		struct sockaddr_in a;
		int on = 1;
		fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fds[i] < 0)
			child_die(c->out_w, "socket");
		setsockopt(fds[i], SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
		memset(&a, 0, sizeof(a));
		a.sin_family = AF_INET;
		a.sin_port = htons((uint16_t)c->fwd[i].in_port);
		if (inet_pton(AF_INET, c->fwd[i].in_ip, &a.sin_addr) != 1 ||
		    bind(fds[i], (struct sockaddr *)&a, sizeof(a)) != 0 ||
		    listen(fds[i], 64) != 0)
			child_die(c->out_w, "forward listener");
	}
	memset(&m, 0, sizeof(m));
	memset(ctl, 0, sizeof(ctl));
	m.msg_iov = &iov;
	m.msg_iovlen = 1;
	if (c->n_fwd > 0) {
		m.msg_control = ctl;
		m.msg_controllen = CMSG_SPACE(c->n_fwd * sizeof(int));
		cm = CMSG_FIRSTHDR(&m);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(c->n_fwd * sizeof(int));
		memcpy(CMSG_DATA(cm), fds, c->n_fwd * sizeof(int));
	}
	if (sendmsg(c->sock, &m, 0) != 1)
		child_die(c->out_w, "passing the listeners");
	for (size_t i = 0; i < c->n_fwd; i++)
		close(fds[i]);
	close(c->sock);
}

/* close_range over [lo, hi] when it is not empty */
static void
close_span(unsigned lo, unsigned hi)
{
	if (lo <= hi && syscall(SYS_close_range, lo, hi, 0U) != 0)
		for (unsigned fd = lo; fd <= hi && fd < 4096; fd++)
			close((int)fd);
}

static void __attribute__((noreturn))
child_a(const struct child_args *c)
{
	struct sigaction sa;
	unsigned lo = (unsigned)(c->sock < c->out_w ? c->sock : c->out_w);
	unsigned hi = (unsigned)(c->sock < c->out_w ? c->out_w : c->sock);
	int st;

	/* A waits for B and never execs: it must not keep the fake's
	 * sockets (a connection it held open would never see its FIN) */
	close_span(3, lo - 1);
	close_span(lo + 1, hi - 1);
	close_span(hi + 1, ~0U);
	if (c->drop) {
		if (setgroups(0, NULL) != 0 ||
		    setresgid(VMSIM_UID, VMSIM_UID, VMSIM_UID) != 0 ||
		    setresuid(VMSIM_UID, VMSIM_UID, VMSIM_UID) != 0)
			child_die(c->out_w, "becoming nobody");
		/* a changed uid makes /proc/self root's: the maps need it ours */
		prctl(PR_SET_DUMPABLE, 1);
	}
	/* after the uid change, which clears it */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID)
	    != 0)
		child_die(c->out_w, "unshare(user, mount, net, pid)");
	write_str("/proc/self/setgroups", "deny");
	write_str("/proc/self/uid_map", c->uid_map);
	write_str("/proc/self/gid_map", c->gid_map);
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
		child_die(c->out_w, "making / private");
	if (mount(c->bind_src, "/usr/local/sbin", NULL, MS_BIND, NULL) != 0)
		child_die(c->out_w, "binding the VM's /usr/local/sbin");
	lo_up(c->out_w);
	send_listeners(c);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = forward_term;
	sigaction(SIGTERM, &sa, NULL);
	child_b = fork();
	if (child_b < 0)
		child_die(c->out_w, "fork");
	if (child_b == 0) {
		int nul = open("/dev/null", O_RDONLY);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		signal(SIGTERM, SIG_DFL);
		if (nul < 0 || dup2(nul, 0) < 0 || dup2(c->out_w, 1) < 0 ||
		    dup2(c->out_w, 2) < 0)
			child_die(c->out_w, "stdio");
		close_span(3, ~0U);
		if (chdir(c->cwd) != 0)
			child_die(2, "chdir");
		execve(c->argv[0], c->argv, c->envp);
		child_die(2, "execve /bin/sh");
	}
	close(c->out_w);
	for (;;) {
		pid_t w = waitpid(child_b, &st, 0);
		if (w == child_b)
			_exit(WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
		if (w < 0 && errno != EINTR)
			_exit(127);
	}
}

/* ---- the parent side ---- */

static int
recv_listeners(struct vmsim_vm *vm, int sock, struct mv_err *err)
{
	char ctl[CMSG_SPACE(sizeof(int) * VMSIM_FWD_MAX)];
	char one;
	struct iovec iov = {&one, 1};
	struct msghdr m;
	struct cmsghdr *cm;
	struct pollfd p = {sock, POLLIN, 0};
	size_t n = 0;

	memset(&m, 0, sizeof(m));
	m.msg_iov = &iov;
	m.msg_iovlen = 1;
	m.msg_control = ctl;
	m.msg_controllen = sizeof(ctl);
	/* A says at once, or has died (its reason is on the console) */
	if (poll(&p, 1, 10000) != 1 || recvmsg(sock, &m, MSG_CMSG_CLOEXEC) != 1)
		return mv_err_set(err, MV_EXIT_FAIL, "vm %s: the sandbox did not "
		                  "start (see %s/console.log)", vm->name, vm->dir);
	for (cm = CMSG_FIRSTHDR(&m); cm; cm = CMSG_NXTHDR(&m, cm))
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
			n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			if (n > VMSIM_FWD_MAX)
				n = VMSIM_FWD_MAX;
			memcpy(vm->lfd, CMSG_DATA(cm), n * sizeof(int));
		}
	if (n != vm->n_fwd) {
		for (size_t i = 0; i < n; i++)
			close(vm->lfd[i]);
		return mv_err_set(err, MV_EXIT_FAIL, "vm %s: %zu of %zu forwards "
		                  "came back", vm->name, n, vm->n_fwd);
	}
	return 0;
}

/* One thread serves every connection of a VM: nothing may block it for
 * long.  Writes give up after this (the pair is closed), and so does a
 * connect. */
#define IO_TIMEOUT_MS 5000

static void
io_timeout(int s)
{
	struct timeval tv = {IO_TIMEOUT_MS / 1000, 0};

	setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static int
connect_out(const struct vmsim_fwd *f)
{
	struct sockaddr_in a;
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	struct pollfd p;
	int e = 0;
	socklen_t el = sizeof(e);

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)f->out_port);
	if (s < 0 || inet_pton(AF_INET, f->out_ip, &a.sin_addr) != 1)
		goto fail;
	if (connect(s, (struct sockaddr *)&a, sizeof(a)) != 0) {
		if (errno != EINPROGRESS)
			goto fail;
		p = (struct pollfd){s, POLLOUT, 0};
		if (poll(&p, 1, IO_TIMEOUT_MS) != 1 ||
		    getsockopt(s, SOL_SOCKET, SO_ERROR, &e, &el) != 0 || e != 0)
			goto fail;
	}
	/* back to blocking, with a bound on writes */
	if (fcntl(s, F_SETFL, fcntl(s, F_GETFL) & ~O_NONBLOCK) != 0)
		goto fail;
	io_timeout(s);
	return s;
fail:
	if (s >= 0)
		close(s);
	return -1;
}

static void
conn_close(struct vmsim_vm *vm, size_t i)
{
	close(vm->conns[i].a);
	close(vm->conns[i].b);
	vm->conns[i] = vm->conns[--vm->n_conns];
}

/* Copy what is there from one side to the other: -1 when the pair is
 * done.  Loopback both ways: a blocking write drains quickly. */
static int
pump(int from, int to)
{
	char buf[16384];
	ssize_t n = read(from, buf, sizeof(buf));

	if (n <= 0)
		return -1;
	for (ssize_t off = 0; off < n;) {
		ssize_t w = write(to, buf + off, (size_t)(n - off));
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		off += w;
	}
	return 0;
}

static void
console_in(struct vmsim_vm *vm)
{
	char buf[8192];
	ssize_t n = read(vm->out_fd, buf, sizeof(buf));

	if (n <= 0) {
		close(vm->out_fd);
		vm->out_fd = -1;
		return;
	}
	if (vm->log_fd >= 0 && vm->log_left > 0) {
		size_t k = (size_t)n < vm->log_left ? (size_t)n : vm->log_left;
		if (write(vm->log_fd, buf, k) == (ssize_t)k)
			vm->log_left -= k;
		else
			vm->log_left = 0;
		if (vm->log_left == 0) {
			static const char cut[] = "\nvmsim: console cut here "
			                          "(log cap reached)\n";
			if (write(vm->log_fd, cut, sizeof(cut) - 1) < 0)
				vm->log_left = 0;
		}
	}
}

static void *
vm_thread(void *arg)
{
	struct vmsim_vm *vm = arg;
	struct pollfd p[2 + VMSIM_FWD_MAX + 2 * VMSIM_CONNS_MAX];

	for (;;) {
		size_t n = 0, base;
		p[n++] = (struct pollfd){vm->wake[0], POLLIN, 0};
		p[n++] = (struct pollfd){vm->out_fd, POLLIN, 0};
		for (size_t i = 0; i < vm->n_fwd; i++)
			p[n++] = (struct pollfd){vm->lfd[i], POLLIN, 0};
		base = n;
		for (size_t i = 0; i < vm->n_conns; i++) {
			p[n++] = (struct pollfd){vm->conns[i].a, POLLIN, 0};
			p[n++] = (struct pollfd){vm->conns[i].b, POLLIN, 0};
		}
		if (poll(p, (nfds_t)n, 1000) < 0 && errno != EINTR)
			break;
		if (p[0].revents)
			break;
		if (vm->out_fd >= 0 && p[1].revents)
			console_in(vm);
		for (size_t i = 0; i < vm->n_fwd; i++) {
			int c, o;
			if (!(p[2 + i].revents & POLLIN))
				continue;
			c = accept4(vm->lfd[i], NULL, NULL, SOCK_CLOEXEC);
			if (c < 0)
				continue;
			if (vm->n_conns >= VMSIM_CONNS_MAX ||
			    (o = connect_out(&vm->fwd[i])) < 0) {
				close(c);
				continue;
			}
			io_timeout(c);
			vm->conns[vm->n_conns++] = (struct conn){c, o};
		}
		/* back to front: conn_close moves the last pair into i */
		for (size_t i = (n - base) / 2; i-- > 0;) {
			short ra = p[base + 2 * i].revents;
			short rb = p[base + 2 * i + 1].revents;
			if (i >= vm->n_conns)
				continue;
			if ((ra && pump(vm->conns[i].a, vm->conns[i].b) != 0) ||
			    (rb && pump(vm->conns[i].b, vm->conns[i].a) != 0))
				conn_close(vm, i);
		}
	}
	return NULL;
}

/* Build A's arguments; 0 or -1. */
static int
args_make(struct child_args *c, const struct vmsim_boot *b, char ***argv,
          char ***envp)
{
	char **a = mv_xcalloc(3, sizeof(char *));
	char **e = mv_xcalloc(12, sizeof(char *));
	size_t k = 0;

	c->drop = geteuid() == 0;
	snprintf(c->uid_map, sizeof(c->uid_map), "0 %u 1",
	         c->drop ? VMSIM_UID : (unsigned)geteuid());
	snprintf(c->gid_map, sizeof(c->gid_map), "0 %u 1",
	         c->drop ? VMSIM_UID : (unsigned)getegid());
	c->bind_src = mv_xstrfmt("%s/root/usr/local/sbin", b->dir);
	c->cwd = mv_xstrfmt("%s/root", b->dir);
	a[0] = mv_xstrdup("/bin/sh");
	a[1] = mv_xstrfmt("%s/boot.sh", b->dir);
	e[k++] = mv_xstrfmt("PATH=%s/bin:/usr/local/sbin:/usr/local/bin:"
	                    "/usr/sbin:/usr/bin:/sbin:/bin", b->dir);
	e[k++] = mv_xstrfmt("MESHVM_ROOT=%s/root", b->dir);
	e[k++] = mv_xstrfmt("MESHVM_METADATA_URL=%s", b->metadata_url);
	e[k++] = mv_xstrfmt("MESHVM_STORAGE_URL=%s", b->storage_url);
	e[k++] = mv_xstrfmt("HOME=%s/root/root", b->dir);
	e[k++] = mv_xstrfmt("TMPDIR=%s/root/tmp", b->dir);
	e[k++] = mv_xstrfmt("VMSIM_DIR=%s", b->dir);
	e[k++] = mv_xstrdup("LANG=C");
	e[k++] = mv_xstrdup("TZ=UTC");
	*argv = a;
	*envp = e;
	c->argv = a;
	c->envp = e;
	c->fwd = b->fwd;
	c->n_fwd = b->n_fwd;
	return 0;
}

static void
strv_free(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

int
vmsim_spawn(const struct vmsim_boot *b, struct vmsim_vm **out,
            struct mv_err *err)
{
	struct vmsim_vm *vm = mv_xcalloc(1, sizeof(*vm));
	struct child_args c;
	char **argv = NULL, **envp = NULL, *log;
	int sv[2] = {-1, -1}, op[2] = {-1, -1};

	*out = NULL;
	memset(&c, 0, sizeof(c));
	vm->name = mv_xstrdup(b->name);
	vm->dir = mv_xstrdup(b->dir);
	vm->rc_path = mv_xstrfmt("%s/boot.rc", b->dir);
	vm->out_fd = vm->log_fd = vm->wake[0] = vm->wake[1] = -1;
	vm->pid = -1;
	vm->n_fwd = b->n_fwd < VMSIM_FWD_MAX ? b->n_fwd : VMSIM_FWD_MAX;
	memcpy(vm->fwd, b->fwd, vm->n_fwd * sizeof(vm->fwd[0]));
	log = mv_xstrfmt("%s/console.log", b->dir);
	vm->log_fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	free(log);
	vm->log_left = b->log_cap;
	args_make(&c, b, &argv, &envp);
	if (vm->log_fd < 0 ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0 ||
	    pipe2(op, O_CLOEXEC) != 0 || pipe2(vm->wake, O_CLOEXEC) != 0) {
		mv_err_set(err, MV_EXIT_FAIL, "vm %s: %s", b->name, strerror(errno));
		goto fail;
	}
	c.sock = sv[1];
	c.out_w = op[1];
	vm->pid = fork();
	if (vm->pid < 0) {
		mv_err_set(err, MV_EXIT_FAIL, "vm %s: fork: %s", b->name,
		           strerror(errno));
		goto fail;
	}
	if (vm->pid == 0)
		child_a(&c);
	close(sv[1]);
	sv[1] = -1;
	close(op[1]);
	op[1] = -1;
	vm->out_fd = op[0];
	op[0] = -1;
	if (recv_listeners(vm, sv[0], err) != 0) {
		/* keep what A said */
		struct pollfd p = {vm->out_fd, POLLIN, 0};
		while (poll(&p, 1, 500) == 1 && vm->out_fd >= 0)
			console_in(vm);
		goto fail;
	}
	close(sv[0]);
	sv[0] = -1;
	if (pthread_create(&vm->thr, NULL, vm_thread, vm) != 0) {
		mv_err_set(err, MV_EXIT_FAIL, "vm %s: no thread", b->name);
		for (size_t i = 0; i < vm->n_fwd; i++)
			close(vm->lfd[i]);
		goto fail;
	}
	vm->thr_on = true;
	free(c.bind_src);
	free(c.cwd);
	strv_free(argv);
	strv_free(envp);
	*out = vm;
	return 0;
fail:
	vm->n_fwd = 0;
	for (int i = 0; i < 2; i++) {
		if (sv[i] >= 0)
			close(sv[i]);
		if (op[i] >= 0)
			close(op[i]);
	}
	free(c.bind_src);
	free(c.cwd);
	strv_free(argv);
	strv_free(envp);
	vmsim_stop(vm, 0);
	return -1;
}

bool
vmsim_booted(struct vmsim_vm *vm, int *rc)
{
	char buf[16] = "";
	int fd, st;

	if (vm->pid > 0 && !atomic_load(&vm->exited) &&
	    waitpid(vm->pid, &st, WNOHANG) == vm->pid) {
		atomic_store(&vm->exited, true);
		*rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		return true;
	}
	if (atomic_load(&vm->exited)) {
		*rc = 128 + SIGKILL;
		return true;
	}
	fd = open(vm->rc_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	if (read(fd, buf, sizeof(buf) - 1) < 0)
		buf[0] = '\0';
	close(fd);
	*rc = atoi(buf);
	return true;
}

static bool
wait_ms(pid_t pid, int ms)
{
	struct timespec t = {0, 20 * 1000 * 1000};
	int st;

	for (int waited = 0;; waited += 20) {
		pid_t w = waitpid(pid, &st, WNOHANG);
		if (w == pid || (w < 0 && errno == ECHILD))
			return true;
		if (waited >= ms)
			return false;
		nanosleep(&t, NULL);
	}
}

void
vmsim_stop(struct vmsim_vm *vm, int grace_ms)
{
	if (vm == NULL)
		return;
	if (vm->pid > 0 && !atomic_load(&vm->exited)) {
		kill(vm->pid, SIGTERM);
		if (!wait_ms(vm->pid, grace_ms)) {
			kill(vm->pid, SIGKILL);
			wait_ms(vm->pid, 10000);
		}
	}
	if (vm->thr_on) {
		if (write(vm->wake[1], "x", 1) < 0) {
			/* the thread also ends when poll fails */
		}
		pthread_join(vm->thr, NULL);
	}
	/* what the VM said last */
	while (vm->out_fd >= 0) {
		struct pollfd p = {vm->out_fd, POLLIN, 0};
		if (poll(&p, 1, 0) != 1)
			break;
		console_in(vm);
	}
	while (vm->n_conns > 0)
		conn_close(vm, vm->n_conns - 1);
	for (size_t i = 0; i < vm->n_fwd; i++)
		close(vm->lfd[i]);
	for (int i = 0; i < 2; i++)
		if (vm->wake[i] >= 0)
			close(vm->wake[i]);
	if (vm->out_fd >= 0)
		close(vm->out_fd);
	if (vm->log_fd >= 0)
		close(vm->log_fd);
	free(vm->name);
	free(vm->dir);
	free(vm->rc_path);
	free(vm);
}
