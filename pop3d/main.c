/*
 * kurir-pop3d - POP3 access to the Maildirs (RFC 1939, 2449, 2595, 5034).
 *
 * usage: kurir-pop3d [-d] [-f CONF] -c FD
 *          the pre-auth process: kurird's control channel on FD
 *        kurir-pop3d -s [-d] [-f CONF] -c FD -u USER -a IP
 *          a session process (user.c): the session socket on FD
 * Both are started by kurird as root.  The pre-auth process reads the
 * config, takes its descriptors, sets up TLS, then chroots to
 * <state_dir>/empty, becomes pop3_user and enters SANDBOX_POP3_PRE
 * before it accepts a single connection.  See pop3d.h for the split.
 * SIGTERM: close every session (nothing is committed that a QUIT did not
 * reach), exit.  SIGHUP is handled by kurird, which sends a new config.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fsutil.h"
#include "log.h"
#include "pop3d.h"
#include "privsep.h"
#include "sandbox.h"
#include "service.h"

struct pop3d P;

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	if (P.stopping)
		return;
	log_info("stopping on signal %d", (int)sig);
	pop3d_stop();
}

static struct service sv;

static void
listen_all(void)
{
	int i;

	for (i = 0; i < P.nlisteners; i++) {
		evutil_make_socket_nonblocking(P.listeners[i].fd);
		P.listeners[i].ev = event_new(P.base, P.listeners[i].fd,
		    EV_READ | EV_PERSIST, conn_accept_cb, &P.listeners[i]);
		if (P.listeners[i].ev == NULL ||
		    event_add(P.listeners[i].ev, NULL) == -1)
			fatalx("listener event");
	}
}

int
main(int argc, char *argv[])
{
	char err[1024], root[4200];
	struct event *ev;

	if (argc > 1 && strcmp(argv[1], "-s") == 0)
		return user_main(argc, argv);
	service_init(&sv, "kurir-pop3d", argc, argv, &P.conf);
	P.ctl_fd = sv.ctl_fd;
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);	/* kurird sends the new config itself */
	tzset();
	if (tls_init() == -1)
		fatalx("tls_init");
	P.auth.fd = -1;
	TAILQ_INIT(&P.sessions);
	/* session ids from a random start: a session socket meant for a
	 * predecessor's session never meets a login of ours by chance */
	P.next_id = arc4random();
	if ((P.base = event_base_new()) == NULL)
		fatalx("event_base_new");
	ctl_read_initial();

	if (path_fmt(root, sizeof(root), "%s/empty", P.conf.state_dir) == -1 ||
	    priv_drop(&P.conf, ROLE_POP3, root, err, sizeof(err)) == -1)
		fatalx("%s", err);
	listen_all();
	if ((P.ev_ctl = event_new(P.base, P.ctl_fd, EV_READ | EV_PERSIST,
	    ctl_cb, NULL)) == NULL || event_add(P.ev_ctl, NULL) == -1 ||
	    (ev = evsignal_new(P.base, SIGTERM, on_signal, NULL)) == NULL ||
	    event_add(ev, NULL) == -1 ||
	    (ev = evsignal_new(P.base, SIGINT, on_signal, NULL)) == NULL ||
	    event_add(ev, NULL) == -1)
		fatalx("events");
	service_sandbox(&sv, SANDBOX_POP3_PRE);
	log_info("ready: %d listeners, TLS %s", P.nlisteners,
	    P.tls_server != NULL ? "on" : "off");
	event_base_dispatch(P.base);
	log_info("stopped");
	return 0;
}
