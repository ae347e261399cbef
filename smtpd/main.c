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
#include "smtpd.h"

struct smtpd S;

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: kurir-smtpd [-d] [-f CONF] -c FD\n");
	exit(EX_USAGE);
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	if (S.stopping)
		return;
	log_info("stopping on signal %d", (int)sig);
	smtpd_stop();
}

static int was_root;	/* started as root: separation in force */

int
main(int argc, char *argv[])
{
	const char *path = NULL, *errstr;
	char err[1024], root[4200];
	int ch, debug = 0, i;
	struct event *ev;

	S.ctl_fd = -1;
	was_root = geteuid() == 0;
	while ((ch = getopt(argc, argv, "dc:f:")) != -1) {
		switch (ch) {
		case 'd': debug = 1; break;
		case 'c':
			S.ctl_fd = (int)strtonum(optarg, 3, 1023, &errstr);
			if (errstr)
				usage();
			break;
		case 'f': path = optarg; break;
		default: usage();
		}
	}
	if (optind != argc || S.ctl_fd == -1)
		usage();
	log_init("kurir-smtpd", debug);
	path = conf_path(path);
	if (conf_load(&S.conf, path, err, sizeof(err)) == -1)
		fatalx("%s", err);
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
	/* as root the sandbox is part of the contract: no sandbox, no service */
	if (sandbox_enter(SANDBOX_SMTPD) == -1) {
		if (was_root)
			fatal("sandbox not entered");
		log_warn("sandbox not entered");
	}
	log_info("ready: %d listeners, TLS %s", S.nlisteners,
	    S.tls_server ? "on" : "off");
	event_base_dispatch(S.base);
	log_info("stopped");
	return 0;
}
