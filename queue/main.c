/*
 * kurir-queue - the one program that creates queue entries.
 *
 * usage: kurir-queue [-d] [-f CONF] [-l FD] [-c FD]
 *   -l FD  the local submission socket, already listening (from kurird);
 *          without it kurir-queue binds <state_dir>/sock/queue itself
 *   -c FD  kurird's control channel (trusted links arrive on it)
 *   -d     log to stderr
 * As root it becomes the queue user before it reads any client input.
 * SIGTERM: stop taking submissions, finish the commits in progress, exit.
 * SIGHUP: reread the config (size limit, hostname).
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "fsutil.h"
#include "log.h"
#include "privsep.h"
#include "qclient.h"
#include "queue.h"

struct queue_ctx Q;

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: kurir-queue [-d] [-f CONF] [-l FD] [-c FD]\n");
	exit(EX_USAGE);
}

static int
bind_socket(const struct conf *c)
{
	struct sockaddr_un sun;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (qclient_socket_path(c, sun.sun_path, sizeof(sun.sun_path)) == -1)
		fatalx("queue socket path too long");
	unlink(sun.sun_path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    chmod(sun.sun_path, 0666) == -1 || listen(fd, 128) == -1)
		fatal("%s", sun.sun_path);
	return fd;
}

static int
parse_fd(const char *s)
{
	const char *err;
	int fd = (int)strtonum(s, 3, 1023, &err);

	if (err)
		usage();
	return fd;
}

static void
listen_again_cb(evutil_socket_t fd, short what, void *arg)
{
	event_add(Q.ev_listen, NULL);
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct conf nc;
	char err[512];

	if (sig == SIGHUP) {
		if (conf_load(&nc, Q.conf_path, err, sizeof(err)) == -1) {
			log_warnx("reload: %s (keeping the old config)", err);
			return;
		}
		conf_free(&Q.conf);
		Q.conf = nc;
		log_info("config reloaded");
		return;
	}
	log_info("stopping on signal %d", (int)sig);
	Q.stopping = 1;
	/* drop the listener; commits already started still finish */
	event_base_loopexit(Q.base, NULL);
	event_active(Q.ev_commit, 0, 0);
}

int
main(int argc, char *argv[])
{
	char err[512];
	int ch, debug = 0, lfd = -1, cfd = -1;
	struct event *ev_ctl = NULL, *ev_term, *ev_int, *ev_hup;

	while ((ch = getopt(argc, argv, "dc:f:l:")) != -1) {
		switch (ch) {
		case 'd': debug = 1; break;
		case 'c': cfd = parse_fd(optarg); break;
		case 'f': Q.conf_path = optarg; break;
		case 'l': lfd = parse_fd(optarg); break;
		default: usage();
		}
	}
	if (optind != argc)
		usage();
	log_init("kurir-queue", debug);
	Q.conf_path = conf_path(Q.conf_path);
	if (conf_load(&Q.conf, Q.conf_path, err, sizeof(err)) == -1)
		fatalx("%s", err);
	if (lfd == -1)
		lfd = bind_socket(&Q.conf);
	/* directory fds first: the path to state_dir may be closed to us */
	if (store_open() == -1)
		exit(EX_CANTCREAT);
	if (priv_drop(&Q.conf, ROLE_QUEUE, NULL, err, sizeof(err)) == -1)
		fatalx("%s", err);
	signal(SIGPIPE, SIG_IGN);
	store_clean_tmp();

	if ((Q.base = event_base_new()) == NULL ||
	    event_base_priority_init(Q.base, 2) == -1)
		fatalx("event_base_new");
	TAILQ_INIT(&Q.commits);
	LIST_INIT(&Q.links);
	/* the commit round runs at the lower priority: after all ready I/O */
	Q.ev_commit = event_new(Q.base, -1, 0, store_commit_cb, NULL);
	event_priority_set(Q.ev_commit, 1);
	evutil_make_socket_nonblocking(lfd);
	Q.ev_listen = event_new(Q.base, lfd, EV_READ | EV_PERSIST,
	    link_accept_cb, NULL);
	event_priority_set(Q.ev_listen, 0);
	event_add(Q.ev_listen, NULL);
	Q.ev_listen_again = evtimer_new(Q.base, listen_again_cb, NULL);
	if (cfd != -1) {
		ev_ctl = event_new(Q.base, cfd, EV_READ | EV_PERSIST,
		    link_control_cb, event_self_cbarg());
		event_add(ev_ctl, NULL);
	}
	ev_term = evsignal_new(Q.base, SIGTERM, on_signal, NULL);
	ev_int = evsignal_new(Q.base, SIGINT, on_signal, NULL);
	ev_hup = evsignal_new(Q.base, SIGHUP, on_signal, NULL);
	event_add(ev_term, NULL);
	event_add(ev_int, NULL);
	event_add(ev_hup, NULL);
	log_info("ready (message_size_limit %llu)",
	    (unsigned long long)Q.conf.message_size_limit);

	event_base_dispatch(Q.base);
	/* stopping: make pending commits durable and answered before exit */
	event_del(Q.ev_listen);
	close(lfd);
	if (!TAILQ_EMPTY(&Q.commits))
		store_commit_cb(-1, 0, NULL);
	log_info("stopped");
	return 0;
}
