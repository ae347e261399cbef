/*
 * kurir-local - writes messages into local Maildirs.
 *
 * usage: kurir-local [-d] [-f CONF] -c FD
 *   -c FD  a UNIX stream socket on which kurir-send's LP_DELIVER
 *          requests arrive, each with the queue entry as a descriptor
 *          (localproto.h); the answers go back on it
 *   -d     log to stderr
 *   -f     the config (else KURIR_CONF, else the default path)
 * Started by kurird (which hands over the socket).  It opens mail_dir,
 * then, as root, chroots to it and becomes the mail user (mail_user)
 * before it reads a single frame; not root, it works in mail_dir as the
 * invoking user.  Either way every path it uses is relative to the
 * mail_dir descriptor.  Then it enters the POP3_USER seccomp profile
 * (file calls, no new sockets, no exec).  Writes <mail_dir>/<mailbox>/
 * {tmp,new,cur}, creating them (0700) when missing; nothing else.
 * SIGTERM/SIGINT: stop between batches (a request not yet answered is
 * retried by kurir-send).  SIGHUP: ignored (nothing to reload).  EOF on
 * the socket: answer what is complete, exit 0.
 * Exit codes: 0 normal, EX_USAGE, EX_PROTOCOL (a bad frame from
 * kurir-send), EX_SOFTWARE / EX_OSERR from fatalx / fatal at start-up.
 */
#include <sys/stat.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "local.h"
#include "log.h"
#include "privsep.h"
#include "sandbox.h"
#include "service.h"

static struct local_link L;

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	log_info("stopping on signal %d", (int)sig);
	link_finish(&L, 0);
}

static struct service sv;

int
main(int argc, char *argv[])
{
	struct conf conf;
	struct local_ctx ctx;
	struct event_base *base;
	struct event *ev;
	char err[1024], host[256];
	int cfd, root_fd;

	service_init(&sv, "kurir-local", argc, argv, &conf);
	cfd = sv.ctl_fd;
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	tzset();			/* log time stamps, before the chroot */
	umask(077);
	(void)arc4random();		/* seeded before the chroot and sandbox */
	if (gethostname(host, sizeof(host)) == -1)
		strlcpy(host, "localhost", sizeof(host));
	host[sizeof(host) - 1] = '\0';

	/* the one descriptor every Maildir path is relative to */
	if ((root_fd = open(conf.mail_dir, O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) == -1)
		fatal("mail_dir %s (kurirctl setup creates it)", conf.mail_dir);
	if (local_init(&ctx, root_fd, host) == -1)
		fatal("kurir-local");
	if ((base = event_base_new()) == NULL)
		fatalx("event_base_new");
	if (link_setup(&L, base, cfd, &ctx) == -1)
		fatal("request socket");
	ctx.peer_fd = cfd;
	if ((ev = evsignal_new(base, SIGTERM, on_signal, NULL)) == NULL ||
	    event_add(ev, NULL) == -1 ||
	    (ev = evsignal_new(base, SIGINT, on_signal, NULL)) == NULL ||
	    event_add(ev, NULL) == -1)
		fatalx("signal events");

	/* as root: chroot to exactly the directory opened above */
	if (fchdir(root_fd) == -1)
		fatal("mail_dir %s", conf.mail_dir);
	if (priv_drop(&conf, ROLE_MAIL, ".", err, sizeof(err)) == -1)
		fatalx("%s", err);
	conf_free(&conf);
	service_sandbox(&sv, SANDBOX_POP3_USER);

	log_info("ready");
	event_base_dispatch(base);
	link_teardown(&L);
	local_free(&ctx);
	close(root_fd);
	log_info("stopped");
	return L.exit_code;
}
