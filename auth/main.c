/*
 * kurir-auth - checks passwords and knows which mailboxes exist.
 *
 * usage: kurir-auth [-d] [-f CONF] -c FD
 *   -c FD  kurird's control channel (a UNIX socketpair end): the users
 *          and aliases tables and the client links arrive on it as
 *          descriptors (authproto.h)
 *   -d     log to stderr
 * Started by kurird.  As root it reads the config, then chroots to
 * <state_dir>/empty and becomes the auth user (auth_user) before it reads
 * a single frame, forks its auth_workers crypt workers (pool.c: the
 * sandbox forbids fork, so this comes first; each enters the same sandbox
 * itself), then enters its seccomp sandbox: it never opens a file after
 * start-up.  A crypt worker that dies makes it exit EX_SOFTWARE, for
 * kurird to restart it whole.  It is the only process that holds the password hashes.
 * SIGTERM/SIGINT: exit at once (answers still delayed are dropped; the
 * clients treat a lost link as a temporary failure).  SIGHUP: ignored,
 * kurird sends the tables again itself.  EOF on the control channel:
 * kurird is gone, exit 0.
 * Exit codes: 0 normal, EX_USAGE, EX_PROTOCOL (garbage from kurird),
 * EX_SOFTWARE / EX_OSERR from fatalx / fatal at start-up.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "conf.h"
#include "fsutil.h"
#include "log.h"
#include "privsep.h"
#include "sandbox.h"
#include "service.h"

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	log_info("stopping on signal %d", (int)sig);
	auth_stop(0);
}

static struct service sv;

/* each crypt worker, right after fork */
static void
confine_worker(void)
{
	service_sandbox(&sv, SANDBOX_AUTH);
}

int
main(int argc, char *argv[])
{
	struct conf conf;
	struct event_base *base;
	struct event *ev;
	char err[1024], root[4200];
	int cfd;

	service_init(&sv, "kurir-auth", argc, argv, &conf);
	cfd = sv.ctl_fd;
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);	/* kurird re-sends the tables */
	tzset();			/* log time stamps, before the chroot */

	if (path_fmt(root, sizeof(root), "%s/empty", conf.state_dir) == -1)
		fatalx("state_dir too long");
	if (priv_drop(&conf, ROLE_AUTH, root, err, sizeof(err)) == -1)
		fatalx("%s", err);
	/* before the event loop exists, so no worker shares its epoll set,
	 * its signal pipe or any link */
	if (pool_start(conf.auth_workers, confine_worker) == -1)
		fatal("crypt workers");

	if ((base = event_base_new()) == NULL)
		fatalx("event_base_new");
	if (auth_setup(base, cfd) == -1)
		fatal("control channel");
	if (pool_watch(base) == -1)
		fatalx("crypt worker events");
	if ((ev = evsignal_new(base, SIGTERM, on_signal, NULL)) == NULL ||
	    event_add(ev, NULL) == -1 ||
	    (ev = evsignal_new(base, SIGINT, on_signal, NULL)) == NULL ||
	    event_add(ev, NULL) == -1)
		fatalx("signal events");

	A.conf = &conf;		/* local_domains, for AP_RESOLVE */
	auth_apply_conf(&conf);
	service_sandbox(&sv, SANDBOX_AUTH);

	log_info("ready");
	event_base_dispatch(base);
	auth_teardown();
	log_info("stopped");
	return A.exit_code;
}
