/*
 * kurird - start the mail host and keep it running.
 *
 * usage: kurird [-dn] [-f CONF]
 *   -d  stay in the foreground, log to stderr (children too)
 *   -n  hold the queue: accept mail but deliver none (kurir-send,
 *       kurir-local and kurir-remote are not started) until kurird runs
 *       without -n
 * Runs as root (or the development user).  Reads the config, creates the
 * state and mail trees, binds the sockets, starts the services and
 * restarts one that dies.  It parses no network input.
 * SIGTERM/SIGINT: stop the children (they finish committed work), exit.
 * SIGHUP: check the new config, then pass SIGHUP on to every child.
 * SIGUSR1 (kurirctl flush): kurir-send makes deferred mail due now.
 */
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "fsutil.h"
#include "kurird.h"
#include "log.h"
#include "qclient.h"
#include "setup.h"

struct kurird D;

/* A service with a control channel; its end is always fd 3 (-c 3),
 * made anew by child_start for every start. */
static void
child_init(struct child *c, const char *name, void (*started)(void))
{
	c->name = name;
	c->ctl = -1;
	c->fds[0] = -1;
	c->fdflags[0] = "-c";
	c->nfds = 1;
	c->started = started;
}

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: kurird [-dn] [-f CONF]\n");
	exit(EX_USAGE);
}

/* The local submission socket: any local user may connect (0666). */
static int
bind_queue_socket(void)
{
	struct sockaddr_un sun;
	mode_t old;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (qclient_socket_path(&D.conf, sun.sun_path, sizeof(sun.sun_path)) == -1)
		fatalx("queue socket path too long");
	if (unlink(sun.sun_path) == -1 && errno != ENOENT)
		fatal("unlink %s", sun.sun_path);
	/* the mode comes from the umask at bind: no chmod of a path after */
	old = umask(0111);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    listen(fd, 512) == -1)
		fatal("%s", sun.sun_path);
	umask(old);
	return fd;
}

/* Sessions, links and queue files each take a descriptor: allow many. */
static void
raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
			log_warn("setrlimit");
	}
}

/* <state_dir>/kurird.pid: how kurirctl finds us */
static void
write_pidfile(void)
{
	char path[4200];
	FILE *f;

	int fd;

	/* root writes here: never through a symlink someone planted */
	if (path_fmt(path, sizeof(path), "%s/kurird.pid", D.conf.state_dir) == -1 ||
	    (fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW |
	    O_CLOEXEC, 0644)) == -1 || (f = fdopen(fd, "w")) == NULL) {
		log_warn("pid file");
		return;
	}
	fprintf(f, "%ld\n", (long)getpid());
	if (fclose(f) == EOF)
		log_warn("pid file");
}

static void
stop_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	log_warnx("children did not stop in time; killing them");
	child_signal_all(SIGKILL);
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct conf nc;
	struct timeval tv = { 30, 0 };
	char err[1024];

	switch (sig) {
	case SIGCHLD:
		if (children_running() == 0 && D.stopping) {
			log_info("stopped");
			event_base_loopexit(D.base, NULL);
		}
		break;
	case SIGUSR1:
		log_info("flush requested");
		wire_flush();
		break;
	case SIGHUP:
		if (conf_load(&nc, D.conf_path, err, sizeof(err)) == -1) {
			log_warnx("reload refused: %s", err);
			break;
		}
		conf_free(&D.conf);
		D.conf = nc;
		log_info("reloading");
		wire_reload();
		break;
	default:
		if (D.stopping)
			break;
		log_info("stopping on signal %d", (int)sig);
		D.stopping = 1;
		child_signal_all(SIGTERM);
		D.ev_stop_timeout = evtimer_new(D.base, stop_timeout_cb, NULL);
		evtimer_add(D.ev_stop_timeout, &tv);
		if (children_running() == 0)
			event_base_loopexit(D.base, NULL);
	}
}

int
main(int argc, char *argv[])
{
	static const int sigs[] = { SIGCHLD, SIGHUP, SIGTERM, SIGINT, SIGUSR1 };
	char err[1024];
	int ch;
	size_t i;
	struct event *ev;

	while ((ch = getopt(argc, argv, "df:n")) != -1) {
		switch (ch) {
		case 'd': D.debug = 1; break;
		case 'n': D.hold = 1; break;
		case 'f': D.conf_path = optarg; break;
		default: usage();
		}
	}
	if (optind != argc)
		usage();
	log_init("kurird", D.debug);
	raise_fd_limit();
	D.conf_path = conf_path(D.conf_path);
	if (conf_load(&D.conf, D.conf_path, err, sizeof(err)) == -1)
		fatalx("%s", err);
	/*
	 * Children get the config's absolute path (they may chdir/chroot),
	 * made absolute without resolving symlinks: relative paths inside it
	 * are taken from the folder it was named in, by everyone alike.
	 */
	if (D.conf_path[0] != '/') {
		char cwd[4096], *abs;

		if (getcwd(cwd, sizeof(cwd)) == NULL ||
		    asprintf(&abs, "%s/%s", cwd, D.conf_path) == -1)
			fatal("config path");
		D.conf_path = abs;
	}
	if (self_dir(D.bindir, sizeof(D.bindir)) == -1)
		fatal("cannot find my own directory");
	if (setup_tree(&D.conf, 1, err, sizeof(err)) == -1)
		fatalx("setup: %s", err);
	signal(SIGPIPE, SIG_IGN);

	if ((D.base = event_base_new()) == NULL)
		fatalx("event_base_new");
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		if ((ev = evsignal_new(D.base, sigs[i], on_signal, NULL)) == NULL ||
		    event_add(ev, NULL) == -1)
			fatalx("signal setup");

	if (wire_listen() == -1)
		fatalx("cannot bind the listen addresses");
	child_init(&D.queue, "kurir-queue", wire_queue_started);
	D.queue.fds[1] = bind_queue_socket();
	D.queue.fdflags[1] = "-l";
	D.queue.nfds = 2;
	child_init(&D.auth, "kurir-auth", wire_auth_started);
	child_init(&D.local, "kurir-local", wire_local_started);
	child_init(&D.remote, "kurir-remote", wire_remote_started);
	child_init(&D.send, "kurir-send", wire_send_started);
	if (wire_has_listener(NULL))
		child_init(&D.smtpd, "kurir-smtpd", wire_smtpd_started);
	if (wire_has_listener("pop3"))
		child_init(&D.pop3d, "kurir-pop3d", wire_pop3d_started);
	/* without -d: into the background, logging to syslog */
	if (!D.debug && daemon(0, 0) == -1)
		fatal("daemon");
	write_pidfile();
	/* the queue first, so mail has somewhere to go */
	if (child_start(&D.queue) == -1 || child_start(&D.auth) == -1 ||
	    (!D.hold && (child_start(&D.local) == -1 ||
	    child_start(&D.remote) == -1 || child_start(&D.send) == -1)) ||
	    (D.smtpd.name != NULL && child_start(&D.smtpd) == -1) ||
	    (D.pop3d.name != NULL && child_start(&D.pop3d) == -1))
		fatalx("cannot start the services");

	log_info("kurir running (%s)", D.conf_path);
	event_base_dispatch(D.base);
	logpipe_drain();
	if (path_fmt(err, sizeof(err), "%s/kurird.pid", D.conf.state_dir) == 0)
		unlink(err);
	return 0;
}
