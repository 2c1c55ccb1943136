/* harness/fake/http.c - the listeners' lifecycle: libmicrohttpd daemons
 * started and stopped, and the interface services get them through.
 *
 * Every listener (the API one and one HTTPS listener per cluster) is a
 * set of MHD daemons, one epoll thread each (--threads of them), bound to
 * the same loopback address and port with SO_REUSEPORT, with an idle
 * timeout and suspend/resume (http_delay.c parks delayed answers and
 * streams).  The request path is http_req.c; the connection cap is
 * conns.c.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "core/log.h"
#include "harness/fake/http_int.h"

/* No unescaping: the dispatcher decodes segments itself. */
static size_t
keep_escaped(void *cls, struct MHD_Connection *c, char *s)
{
	(void)cls;
	(void)c;
	return strlen(s);
}

static void
on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
              enum MHD_ConnectionNotificationCode toe)
{
	struct listener *l = cls;
	const union MHD_ConnectionInfo *ci;

	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
		*socket_context = ci ? conns_opened(l->conns, ci->connect_fd)
		                     : NULL;
	} else {
		conns_closed(l->conns, *socket_context);
		*socket_context = NULL;
	}
}

static void mhd_log(void *cls, const char *fmt, va_list ap) MV_PRINTF(2, 0);

static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
	char buf[512];

	(void)cls;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	buf[strcspn(buf, "\n")] = '\0';
	mv_debug("fake: http: %s", buf);
}

static struct MHD_Daemon *
daemon_start(struct listener *l, unsigned flags, struct sockaddr_in *sa,
             unsigned header_timeout, unsigned mhd_limit)
{
	struct fake *f = l->f;

	if (l->tls)
		return MHD_start_daemon(
		        flags, 0, NULL, NULL, http_on_request, l,
		        MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
		        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)sa,
		        MHD_OPTION_CONNECTION_TIMEOUT, header_timeout,
		        MHD_OPTION_CONNECTION_LIMIT, mhd_limit,
		        MHD_OPTION_NOTIFY_CONNECTION, on_connection, l,
		        MHD_OPTION_NOTIFY_COMPLETED, http_on_completed, l,
		        MHD_OPTION_UNESCAPE_CALLBACK, keep_escaped, NULL,
		        MHD_OPTION_LISTENING_ADDRESS_REUSE, 1,
		        MHD_OPTION_HTTPS_MEM_KEY, fst(f)->pki.tls_key_pem,
		        MHD_OPTION_HTTPS_MEM_CERT, fst(f)->pki.tls_cert_pem,
		        MHD_OPTION_END);
	return MHD_start_daemon(
	        flags, 0, NULL, NULL, http_on_request, l,
	        MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
	        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)sa,
	        MHD_OPTION_CONNECTION_TIMEOUT, header_timeout,
	        MHD_OPTION_CONNECTION_LIMIT, mhd_limit,
	        MHD_OPTION_NOTIFY_CONNECTION, on_connection, l,
	        MHD_OPTION_NOTIFY_COMPLETED, http_on_completed, l,
	        MHD_OPTION_UNESCAPE_CALLBACK, keep_escaped, NULL,
	        MHD_OPTION_LISTENING_ADDRESS_REUSE, 1,
	        MHD_OPTION_END);
}

static void
daemons_stop(struct listener *l)
{
	for (size_t i = 0; i < l->n_d; i++)
		MHD_stop_daemon(l->d[i]);
	l->n_d = 0;
}

int
listener_start(struct fake *f, const char *name, struct kcluster *kc,
               const char *host, int port, bool tls, struct listener **out,
               struct mv_err *err)
{
	struct listener *l = calloc(1, sizeof(*l));
	struct sockaddr_in sa;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
	                 MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
	const union MHD_DaemonInfo *di;
	size_t workers = fst(f)->opt.threads < 1 ? 1
	                 : fst(f)->opt.threads > FAKE_MAX_WORKERS
	                         ? FAKE_MAX_WORKERS
	                         : (size_t)fst(f)->opt.threads;
	/* Until its headers are in, a connection gets the short timeout. */
	unsigned header_timeout = (unsigned)(fst(f)->opt.header_timeout <
	                                             fst(f)->opt.idle_timeout
	                                     ? fst(f)->opt.header_timeout
	                                     : fst(f)->opt.idle_timeout);
	/* The cap is ours (conns.c closes the longest idle connection at
	 * it, over all of the listener's daemons); MHD's own, set explicitly
	 * rather than its FD_SETSIZE - 4 default, is only a backstop. */
	unsigned mhd_limit = (unsigned)fst(f)->opt.max_connections * 2 + 4;

	*out = NULL;
	if (l == NULL)
		return mv_err_set(err, MV_EXIT_FAIL, "out of memory");
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
		free(l);
		return mv_err_set(err, MV_EXIT_USAGE, "listen address '%s' is not "
		                  "an IPv4 address", host);
	}
	if (tls) {
		if (!MHD_is_feature_supported(MHD_FEATURE_TLS)) {
			free(l);
			return mv_err_set(err, MV_EXIT_FAIL, "libmicrohttpd was built "
			                  "without TLS: no Kubernetes listeners");
		}
		flags |= MHD_USE_TLS;
	}
	l->f = f;
	l->kc = kc;
	l->tls = tls;
	l->name = strdup(name);
	l->conns = conns_new((size_t)fst(f)->opt.max_connections);
	if (l->conns == NULL) {
		free(l->name);
		free(l);
		return mv_err_set(err, MV_EXIT_FAIL, "out of memory");
	}
	/* the first daemon picks the port (when it is 0), the others join it */
	for (size_t i = 0; i < workers; i++) {
		l->d[i] = daemon_start(l, flags, &sa, header_timeout, mhd_limit);
		if (l->d[i] == NULL)
			break;
		l->n_d++;
		if (i == 0) {
			di = MHD_get_daemon_info(l->d[0], MHD_DAEMON_INFO_BIND_PORT);
			l->port = di ? di->port : port;
			sa.sin_port = htons((uint16_t)l->port);
		}
	}
	if (l->n_d < workers) {
		daemons_stop(l);
		conns_free(l->conns);
		free(l->name);
		free(l);
		return mv_err_set(err, MV_EXIT_FAIL, "cannot listen on %s:%d "
		                  "(in use?)", host, port);
	}
	*out = l;
	return 0;
}

int
listener_port(const struct listener *l)
{
	return l ? l->port : 0;
}

void
listener_stop(struct listener *l)
{
	if (l == NULL)
		return;
	delayer_flush(fst(l->f)->delayer, l);
	daemons_stop(l);
	conns_free(l->conns);
	free(l->name);
	free(l);
}

/* ---- the interface services get their listeners through ---- */

static int
net_listen(struct fake *f, const char *name, struct kcluster *kc, int port,
           struct listener **out, struct mv_err *err)
{
	return listener_start(f, name, kc, fst(f)->host, port, true, out, err);
}

static int
net_listen_plain(struct fake *f, const char *name, struct kcluster *kc,
                 const char *host, int port, struct listener **out,
                 struct mv_err *err)
{
	return listener_start(f, name, kc, host, port, false, out, err);
}

const struct fake_net fake_http_net = {
	.listen = net_listen,
	.listen_plain = net_listen_plain,
	.port = listener_port,
	.stop = listener_stop,
};
