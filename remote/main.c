/*
 * kurir-remote - delivers mail to other mail hosts over SMTP.
 *
 * usage: kurir-remote [-d] [-f CONF] -c FD
 *   -c FD  kurird's control channel: the routes table, the CA bundle and
 *          the link to kurir-send arrive on it (remoteproto.h), then
 *          CTL_GO; later new links, tables and the config (SIGHUP)
 * Started by kurird.  As root it chroots to <state_dir>/empty, becomes
 * the remote user and enters the REMOTE seccomp profile (sockets out,
 * no files, no exec) before it reads a request: DNS (c-ares, set up
 * before the chroot) and TLS need no file after start-up.
 * SIGTERM/SIGINT: stop; deliveries in flight are abandoned (kurir-send
 * tries them again), except one whose message was already sent.
 */
#include <sys/socket.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctlproto.h"
#include "frame.h"
#include "fsutil.h"
#include "log.h"
#include "privsep.h"
#include "remote.h"
#include "sandbox.h"
#include "service.h"

#define CA_FILE_MAX	(4 * 1024 * 1024)

struct remote_ctx R;
static struct service sv;
static struct event *ev_ctl;

static void link_read_cb(evutil_socket_t, short, void *);
static void link_write_cb(evutil_socket_t, short, void *);

/* ---- the link to kurir-send -------------------------------------------- */

static void
link_close(void)
{
	if (R.link_fd < 0)
		return;
	event_free(R.ev_link_read);
	event_free(R.ev_link_write);
	R.ev_link_read = R.ev_link_write = NULL;
	close(R.link_fd);
	R.link_fd = -1;
	R.link_paused = 0;
	if (R.link_in_fd >= 0)
		close(R.link_in_fd);
	R.link_in_fd = -1;
	buf_reset(&R.link_in);
	buf_reset(&R.link_out);
	/* answers for the old kurir-send have nowhere to go */
	R.link_gen++;
	sessions_abandon();
}

static void
link_attach(int fd)
{
	link_close();
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) == -1 ||
	    (R.ev_link_read = event_new(R.base, fd, EV_READ | EV_PERSIST,
	    link_read_cb, NULL)) == NULL ||
	    (R.ev_link_write = event_new(R.base, fd, EV_WRITE, link_write_cb,
	    NULL)) == NULL) {
		log_warn("link to kurir-send");
		if (R.ev_link_read != NULL)
			event_free(R.ev_link_read);
		R.ev_link_read = NULL;
		close(fd);
		return;
	}
	R.link_fd = fd;
	event_add(R.ev_link_read, NULL);
	log_info("linked to kurir-send");
}

static void
link_flush(void)
{
	int r;

	if (R.link_fd < 0)
		return;
	if ((r = buf_send(R.link_fd, &R.link_out)) == 1)
		event_add(R.ev_link_write, NULL);
	else if (r == -1) {
		log_warn("answers to kurir-send");
		link_close();
	}
}

static void
link_write_cb(evutil_socket_t fd, short what, void *arg)
{
	link_flush();
}

/* The result of one request: "mta HOST" and a line per recipient. */
void
remote_answer(struct session *s)
{
	struct buf b;
	size_t i;

	buf_init(&b, FRAME_MAX);
	buf_printf(&b, "mta %s\n", s->mta);
	for (i = 0; i < s->req.nrcpts; i++)
		buf_printf(&b, "%s\n", s->result[i] ? s->result[i] :
		    "4 4.3.0 no result");
	if (frame_pack(&R.link_out, RP_RESULT, s->id, b.data, b.len) == -1)
		log_warn("answer %u", s->id);
	for (i = 0; i < s->req.nrcpts; i++)
		log_info("%s: to=<%s>, relay=%s, %s", s->req.domain,
		    s->req.rcpts[i], s->peer[0] ? s->peer : "none",
		    s->result[i] ? s->result[i] : "4 4.3.0 no result");
	buf_free(&b);
	link_flush();
}

/*
 * One request: frames are taken one at a time with recvmsg, so the
 * queue entry's descriptor is always read with its own frame (as
 * kurir-local does).  -1: the link is finished.
 */
static int
link_take(void)
{
	struct frame f;
	int r;

	if ((r = frame_take(R.link_fd, &R.link_in, &R.link_in_fd, &f)) != 1)
		return r == 0 ? 0 : -1;
	if (f.type != RP_DELIVER) {
		log_warnx("kurir-send sent frame type %u; closing", f.type);
		return -1;
	}
	session_start(f.id, f.data, f.len, R.link_in_fd);
	R.link_in_fd = -1;
	buf_reset(&R.link_in);
	return 1;
}

static void
link_read_cb(evutil_socket_t fd, short what, void *arg)
{
	int r = 0;

	while (R.nsessions < REMOTE_SESSIONS_MAX && (r = link_take()) == 1)
		;
	if (r == -1) {
		log_info("kurir-send closed the link");
		link_close();
	} else if (R.nsessions >= REMOTE_SESSIONS_MAX && !R.link_paused) {
		/* busy: the rest waits in the socket (kurir-send backs off) */
		event_del(R.ev_link_read);
		R.link_paused = 1;
	}
}

void
remote_session_gone(void)
{
	if (R.link_paused && R.link_fd >= 0 &&
	    R.nsessions < REMOTE_SESSIONS_MAX) {
		R.link_paused = 0;
		event_add(R.ev_link_read, NULL);
		event_active(R.ev_link_read, EV_READ, 0);
	}
}

/* ---- control ------------------------------------------------------------- */

static void
load_routes(int fd, const char *path)
{
	struct routes *nr;
	struct buf b;
	char err[1024];

	buf_init(&b, TABLE_FILE_MAX + 1);
	if (read_fd_all(fd, TABLE_FILE_MAX, &b) == -1)
		log_warn("%s (keeping the old routes)", path);
	else if (routes_load_mem(&nr, path, buf_cstr(&b), b.len, err,
	    sizeof(err)) == -1)
		log_warnx("%s (keeping the old routes)", err);
	else {
		if (R.routes != NULL)
			routes_free(R.routes);
		R.routes = nr;
		log_info("loaded %zu routes from %s", routes_count(nr), path);
	}
	buf_free(&b);
}

static void
load_ca(int fd, const char *path)
{
	struct buf b;
	struct tls_config *cfg;

	buf_init(&b, CA_FILE_MAX + 1);
	if (read_fd_all(fd, CA_FILE_MAX, &b) == -1) {
		log_warn("%s", path);
		buf_free(&b);
		return;
	}
	if ((cfg = tls_config_new()) == NULL ||
	    tls_config_set_ca_mem(cfg, (const uint8_t *)b.data, b.len) == -1) {
		log_warnx("%s: %s", path, cfg ? tls_config_error(cfg) :
		    "tls_config_new");
		if (cfg != NULL)
			tls_config_free(cfg);
		buf_free(&b);
		return;
	}
	/* sessions in a handshake keep their own reference (tls_configure) */
	if (R.tls_verify != NULL)
		tls_config_free(R.tls_verify);
	R.tls_verify = cfg;
	buf_free(&b);
}

static void
reload_config(int fd, const char *path)
{
	char err[1024];

	if (service_conf_reload(fd, path, &R.conf) == 0) {
		self_set_listeners(&R.self, &R.conf);
		if (dns_set_server(R.conf.dns_server, err, sizeof(err)) == -1)
			log_warnx("dns_server: %s", err);
	}
}

/* one control frame; CTL_GO when the start-up batch is complete */
static int
ctl_frame(const struct frame *f)
{
	char path[4096];
	size_t n = f->len < sizeof(path) - 1 ? f->len : sizeof(path) - 1;

	memcpy(path, f->data, n);
	path[n] = '\0';
	switch (f->type) {
	case CTL_GO:
		return CTL_GO;
	case RP_CTL_LINK:
		if (f->fd >= 0) {
			link_attach(f->fd);
			return 0;
		}
		break;
	case RP_CTL_ROUTES:
		if (f->fd >= 0)
			load_routes(f->fd, path);
		break;
	case RP_CTL_CA:
		if (f->fd >= 0)
			load_ca(f->fd, path);
		break;
	case RP_CTL_CONFIG:
		if (f->fd >= 0)
			reload_config(f->fd, path);
		break;
	default:
		log_warnx("unexpected control frame %u", f->type);
	}
	if (f->fd >= 0)
		close(f->fd);
	return 0;
}

static void
stop(void)
{
	if (R.stopping)
		return;
	R.stopping = 1;
	event_del(ev_ctl);
	link_close();
	event_base_loopexit(R.base, NULL);
}

static void
ctl_cb(evutil_socket_t fd, short what, void *arg)
{
	if (service_ctl_read(fd, ctl_frame) == -1) {
		log_info("kurird is gone; stopping");
		stop();
	}
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	log_info("stopping on signal %d", (int)sig);
	stop();
}

int
main(int argc, char *argv[])
{
	struct event *ev;
	char err[1024], root[4200];

	service_init(&sv, "kurir-remote", argc, argv, &R.conf);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);	/* kurird sends the config */
	tzset();
	(void)arc4random();
	R.link_fd = R.link_in_fd = -1;
	buf_init(&R.link_in, FRAME_HDR + FRAME_MAX);
	buf_init(&R.link_out, 0);
	if (buf_reserve(&R.link_in, FRAME_HDR + FRAME_MAX) == -1)
		fatal("buffer");
	TAILQ_INIT(&R.sessions);
	if (tls_init() == -1 || (R.tls_plain = tls_config_new()) == NULL)
		fatalx("tls_init");
	/* tls=may and tls=require: encryption, not authentication */
	tls_config_insecure_noverifycert(R.tls_plain);
	tls_config_insecure_noverifyname(R.tls_plain);
	if ((R.base = event_base_new()) == NULL)
		fatalx("event_base_new");
	if (dns_init(R.base, R.conf.dns_server, err, sizeof(err)) == -1)
		fatalx("dns: %s", err);

	/* the routes, the CA bundle and the link, before the first request */
	service_ctl_until_go(sv.ctl_fd, ctl_frame);

	if ((ev_ctl = event_new(R.base, sv.ctl_fd, EV_READ | EV_PERSIST,
	    ctl_cb, NULL)) == NULL || event_add(ev_ctl, NULL) == -1 ||
	    (ev = evsignal_new(R.base, SIGTERM, on_signal, NULL)) == NULL ||
	    event_add(ev, NULL) == -1 ||
	    (ev = evsignal_new(R.base, SIGINT, on_signal, NULL)) == NULL ||
	    event_add(ev, NULL) == -1)
		fatalx("events");

	/* who we are, for loop detection: the netlink socket getifaddrs
	 * needs is not in the sandbox, so the interfaces are read now */
	self_set_listeners(&R.self, &R.conf);
	if (self_read_interfaces(&R.self) == -1)
		log_warn("getifaddrs (only loopback and the listeners' own "
		    "addresses are known to be ours)");
	if (path_fmt(root, sizeof(root), "%s/empty", R.conf.state_dir) == -1)
		fatalx("state_dir too long");
	if (priv_drop(&R.conf, ROLE_REMOTE, root, err, sizeof(err)) == -1)
		fatalx("%s", err);
	service_sandbox(&sv, SANDBOX_REMOTE);

	log_info("ready");
	event_base_dispatch(R.base);
	dns_shutdown();
	log_info("stopped");
	return 0;
}
