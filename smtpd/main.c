/*
 * kurir-smtpd - receive mail by SMTP (and submission).
 *
 * usage: kurir-smtpd [-d] [-f CONF] -c FD
 *   -c FD  kurird's control channel: listeners, links and files arrive on it
 * Started as root by kurird: it reads the config, takes its descriptors,
 * sets up TLS, then chroots to <state_dir>/empty, becomes the smtpd user
 * and enters its seccomp sandbox before it accepts a single connection.
 * SIGTERM: stop accepting, let commits in flight finish, close the rest
 * with 421.  SIGHUP is handled by kurird, which sends a new config.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "fsutil.h"
#include "log.h"
#include "privsep.h"
#include "sandbox.h"
#include "service.h"
#include "smtpd.h"

struct smtpd S;

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	if (S.stopping)
		return;
	log_info("stopping on signal %d", (int)sig);
	smtpd_stop();
}

static struct service sv;

int
main(int argc, char *argv[])
{
	char err[1024], root[4200];
	int i;
	struct event *ev;

	service_init(&sv, "kurir-smtpd", argc, argv, &S.conf);
	S.ctl_fd = sv.ctl_fd;
	signal(SIGPIPE, SIG_IGN);
	tzset();
	if (tls_init() == -1)
		fatalx("tls_init");
	S.queue.name = "kurir-queue";
	S.queue.fd = -1;
	S.auth.name = "kurir-auth";
	S.auth.fd = -1;
	TAILQ_INIT(&S.sessions);
	if ((S.base = event_base_new()) == NULL)
		fatalx("event_base_new");
	ctl_read_initial();

	if (path_fmt(root, sizeof(root), "%s/empty", S.conf.state_dir) == -1 ||
	    priv_drop(&S.conf, ROLE_SMTPD, root, err, sizeof(err)) == -1)
		fatalx("%s", err);

	for (i = 0; i < S.nlisteners; i++) {
		evutil_make_socket_nonblocking(S.listeners[i].fd);
		S.listeners[i].ev = event_new(S.base, S.listeners[i].fd,
		    EV_READ | EV_PERSIST, smtpd_accept_cb, &S.listeners[i]);
		if (S.listeners[i].ev == NULL ||
		    event_add(S.listeners[i].ev, NULL) == -1)
			fatalx("listener event");
	}
	S.ev_ctl = event_new(S.base, S.ctl_fd, EV_READ | EV_PERSIST, ctl_cb,
	    NULL);
	event_add(S.ev_ctl, NULL);
	if ((ev = evsignal_new(S.base, SIGTERM, on_signal, NULL)) == NULL ||
	    event_add(ev, NULL) == -1 ||
	    (ev = evsignal_new(S.base, SIGINT, on_signal, NULL)) == NULL ||
	    event_add(ev, NULL) == -1)
		fatalx("signal events");
	signal(SIGHUP, SIG_IGN);	/* kurird sends the new config itself */
	service_sandbox(&sv, SANDBOX_SMTPD);
	log_info("ready: %d listeners, TLS %s", S.nlisteners,
	    S.tls_server ? "on" : "off");
	event_base_dispatch(S.base);
	log_info("stopped");
	return 0;
}
