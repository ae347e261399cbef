/*
 * kurir-send - the queue manager: delivers what kurir-queue accepted.
 *
 * usage: kurir-send [-d] [-f CONF] -c FD
 *   -c FD  kurird's control channel: the links to kurir-queue, kurir-auth,
 *          kurir-local and kurir-remote arrive on it (ctlproto.h), then
 *          CTL_GO; later
 *          new links (a peer restarted), CTL_CONFIG and CTL_FLUSH
 * Started by kurird.  Opens queue/{msg,state,bad}, then, as root,
 * chroots to <state_dir>/queue and becomes the queue user, and enters
 * the SEND seccomp profile.  At start (after CTL_GO) it scans msg/, so
 * entries left by a crash are delivered; new ones are announced by
 * kurir-queue.  SIGTERM/SIGINT: start no more rounds, wait up to
 * STOP_WAIT_SECS for the answers still out, commit, exit.  Exit status 0,
 * or 1 from fatal errors at start-up.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctlproto.h"
#include "fsutil.h"
#include "log.h"
#include "privsep.h"
#include "sandbox.h"
#include "send.h"
#include "service.h"
#include "setup.h"

struct send_ctx S;
static struct service sv;
static struct event *ev_ctl;
static int started;

static void
stop(void)
{
	struct timeval tv = { STOP_WAIT_SECS, 0 };

	if (S.stopping)
		return;
	S.stopping = 1;
	event_del(ev_ctl);
	if (S.nrounds == 0)
		event_base_loopexit(S.base, NULL);
	else
		evtimer_add(S.ev_stop, &tv);
}

static void
stop_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	log_warnx("%zu rounds unfinished at exit (they run again at start)",
	    S.nrounds);
	event_base_loopexit(S.base, NULL);
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	log_info("stopping on signal %d", (int)sig);
	stop();
}

static void
rescan_cb(evutil_socket_t fd, short what, void *arg)
{
	struct timeval tv = { RESCAN_SECS, 0 };

	sched_scan();
	evtimer_add(S.ev_rescan, &tv);
}

static void
link_down_cb(struct slink *l)
{
	round_link_down(l);
}

static int
ctl_frame(const struct frame *f)
{
	char path[4096];
	size_t n;

	switch (f->type) {
	case CTL_QUEUE:
	case CTL_AUTH:
	case CTL_LOCAL:
	case CTL_REMOTE:
		if (f->fd < 0)
			break;
		slink_attach(f->type == CTL_QUEUE ? &S.queue :
		    f->type == CTL_AUTH ? &S.auth : f->type == CTL_LOCAL ?
		    &S.local : &S.remote, S.base, f->fd);
		if (started)
			sched_agent_up();
		return 0;
	case CTL_CONFIG:
		if (f->fd < 0)
			break;
		n = f->len < sizeof(path) - 1 ? f->len : sizeof(path) - 1;
		memcpy(path, f->data, n);
		path[n] = '\0';
		service_conf_reload(f->fd, path, &S.conf);
		close(f->fd);
		return 0;
	case CTL_FLUSH:
		sched_flush();
		return 0;
	case CTL_GO:
		if (!started) {
			started = 1;
			sched_scan();
		}
		return 0;
	}
	log_warnx("unexpected control frame %u", f->type);
	if (f->fd >= 0)
		close(f->fd);
	return 0;
}

static void
ctl_cb(evutil_socket_t fd, short what, void *arg)
{
	if (service_ctl_read(fd, ctl_frame) == -1) {
		log_info("kurird is gone; stopping");
		stop();
	}
}

static int
open_dir(const char *sub)
{
	char path[4200];
	int fd;

	if (queue_path(&S.conf, sub, path, sizeof(path)) == -1)
		fatalx("state_dir too long");
	if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1)
		fatal("%s (kurirctl setup creates it)", path);
	return fd;
}

int
main(int argc, char *argv[])
{
	char err[1024], root[4200];
	struct event *ev;

	service_init(&sv, "kurir-send", argc, argv, &S.conf);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);	/* kurird sends the config (CTL_CONFIG) */
	tzset();			/* dates in bounces, before the chroot */
	umask(077);
	(void)arc4random();		/* seeded before the chroot and sandbox */

	S.msgfd = open_dir("msg");
	S.statefd = open_dir("state");
	S.badfd = open_dir("bad");
	if ((S.base = event_base_new()) == NULL ||
	    event_base_priority_init(S.base, 2) == -1)
		fatalx("event_base_new");
	slink_init(&S.queue, "kurir-queue", round_queue_frame, link_down_cb);
	slink_init(&S.auth, "kurir-auth", round_auth_frame, link_down_cb);
	slink_init(&S.local, "kurir-local", round_local_frame, link_down_cb);
	slink_init(&S.remote, "kurir-remote", remote_frame, link_down_cb);
	RB_INIT(&S.reqs);
	TAILQ_INIT(&S.commits);
	/* the commit round runs after all ready I/O of a loop turn */
	if ((S.ev_commit = event_new(S.base, -1, 0, commit_cb, NULL)) == NULL ||
	    event_priority_set(S.ev_commit, 1) == -1 ||
	    (S.ev_rescan = evtimer_new(S.base, rescan_cb, NULL)) == NULL ||
	    (S.ev_stop = evtimer_new(S.base, stop_timeout_cb, NULL)) == NULL ||
	    (ev_ctl = event_new(S.base, sv.ctl_fd, EV_READ | EV_PERSIST,
	    ctl_cb, NULL)) == NULL || event_add(ev_ctl, NULL) == -1)
		fatalx("events");
	if ((ev = evsignal_new(S.base, SIGTERM, on_signal, NULL)) == NULL ||
	    event_add(ev, NULL) == -1 ||
	    (ev = evsignal_new(S.base, SIGINT, on_signal, NULL)) == NULL ||
	    event_add(ev, NULL) == -1)
		fatalx("signal events");
	sched_init();

	if (queue_path(&S.conf, NULL, root, sizeof(root)) == -1)
		fatalx("state_dir too long");
	if (priv_drop(&S.conf, ROLE_QUEUE, root, err, sizeof(err)) == -1)
		fatalx("%s", err);
	service_sandbox(&sv, SANDBOX_SEND);

	log_info("ready");
	event_base_dispatch(S.base);
	/* answers that came in may have results to make durable */
	if (!TAILQ_EMPTY(&S.commits))
		commit_cb(-1, 0, NULL);
	slink_close(&S.queue);
	slink_close(&S.auth);
	slink_close(&S.local);
	slink_close(&S.remote);
	log_info("stopped");
	return 0;
}
