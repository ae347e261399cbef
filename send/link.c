/*
 * link.c - kurir-send's links to kurir-queue, kurir-auth and kurir-local.
 *
 * One non-blocking UNIX stream socket each, made by kurird.  Frames in
 * are length-checked by frame_peek before they are used; none of our
 * peers sends us descriptors, so a plain read is enough.  Frames out may
 * carry a descriptor (the queue entry, for kurir-local): it must travel
 * with the first byte of its own frame, so the output is sent in pieces
 * that end where the next descriptor's frame begins, each descriptor
 * with one sendmsg(2) of its frame's bytes.  A link that breaks, or a
 * peer that sends a bad frame, goes down: its on_down callback turns the
 * requests still out on it into "try again".
 */
#include <sys/socket.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "send.h"

static void slink_read_cb(evutil_socket_t, short, void *);
static void slink_write_cb(evutil_socket_t, short, void *);

void
slink_init(struct slink *l, const char *name, slink_frame_cb on_frame,
    slink_down_cb on_down)
{
	memset(l, 0, sizeof(*l));
	l->name = name;
	l->fd = -1;
	l->on_frame = on_frame;
	l->on_down = on_down;
	buf_init(&l->in, 4 * (FRAME_HDR + FRAME_MAX));
	buf_init(&l->out, 0);
}

int
slink_up(const struct slink *l)
{
	return l->fd >= 0;
}

static void
slink_reset(struct slink *l)
{
	size_t i;

	if (l->ev_read != NULL)
		event_free(l->ev_read);
	if (l->ev_write != NULL)
		event_free(l->ev_write);
	l->ev_read = l->ev_write = NULL;
	for (i = 0; i < l->nfds; i++)
		close(l->fds[i].fd);
	l->nfds = 0;
	if (l->fd >= 0)
		close(l->fd);
	l->fd = -1;
	buf_reset(&l->in);
	buf_reset(&l->out);
}

/* The link is gone: tell the owner (once), so requests can be retried. */
void
slink_down(struct slink *l)
{
	if (l->fd < 0)
		return;
	log_warnx("link to %s lost", l->name);
	slink_reset(l);
	if (l->on_down != NULL)
		l->on_down(l);
}

void
slink_close(struct slink *l)
{
	slink_reset(l);
	free(l->fds);
	l->fds = NULL;
	l->fdcap = 0;
	buf_free(&l->in);
	buf_free(&l->out);
}

int
slink_attach(struct slink *l, struct event_base *base, int fd)
{
	int fl;

	slink_down(l);
	if ((fl = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) == -1 ||
	    (l->ev_read = event_new(base, fd, EV_READ | EV_PERSIST,
	    slink_read_cb, l)) == NULL ||
	    (l->ev_write = event_new(base, fd, EV_WRITE, slink_write_cb,
	    l)) == NULL) {
		log_warn("link to %s", l->name);
		close(fd);
		slink_reset(l);
		return -1;
	}
	l->fd = fd;
	event_add(l->ev_read, NULL);
	log_info("linked to %s", l->name);
	return 0;
}

/* Send what the socket takes.  0: all sent or blocked; -1: gone. */
static int
slink_flush(struct slink *l)
{
	size_t len, i;
	ssize_t n;
	int withfd;

	while (l->out.len > 0) {
		/* this piece ends where the next descriptor's frame starts */
		withfd = l->nfds > 0 && l->fds[0].at == 0;
		len = l->out.len;
		if (l->nfds > (size_t)withfd)
			len = l->fds[withfd].at;
		n = frame_send(l->fd, l->out.data, len,
		    withfd ? l->fds[0].fd : -1, MSG_DONTWAIT);
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			event_add(l->ev_write, NULL);
			return 0;
		}
		if (n <= 0)
			return -1;
		if (withfd) {
			/* the descriptor went with the first byte: ours is done */
			close(l->fds[0].fd);
			memmove(l->fds, l->fds + 1, --l->nfds * sizeof(*l->fds));
		}
		buf_drain(&l->out, (size_t)n);
		for (i = 0; i < l->nfds; i++)
			l->fds[i].at -= (size_t)n;
	}
	return 0;
}

int
slink_send(struct slink *l, uint16_t type, uint32_t id, const void *data,
    size_t len, int passfd)
{
	struct slink_fd *nf;
	size_t at = l->out.len, cap;
	int dupfd = -1;

	if (l->fd < 0 || l->out.len > SLINK_OUT_HIGH)
		return -1;
	if (passfd >= 0) {
		if (l->nfds == l->fdcap) {
			cap = l->fdcap ? l->fdcap * 2 : 64;
			if ((nf = reallocarray(l->fds, cap, sizeof(*nf))) == NULL)
				return -1;
			l->fds = nf;
			l->fdcap = cap;
		}
		if ((dupfd = fcntl(passfd, F_DUPFD_CLOEXEC, 0)) == -1) {
			log_warn("dup for %s", l->name);
			return -1;
		}
	}
	if (frame_pack(&l->out, type, id, data, len) == -1) {
		if (dupfd >= 0)
			close(dupfd);
		return -1;
	}
	if (dupfd >= 0) {
		l->fds[l->nfds].at = at;
		l->fds[l->nfds].fd = dupfd;
		l->nfds++;
	}
	/* sent from the event loop, so callers never see on_down re-enter */
	event_add(l->ev_write, NULL);
	return 0;
}

static void
slink_write_cb(evutil_socket_t fd, short what, void *arg)
{
	struct slink *l = arg;

	if (slink_flush(l) == -1)
		slink_down(l);
}

static void
slink_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct slink *l = arg;
	struct frame f;
	ssize_t n;
	int r = 0;

	n = frame_fill(l->fd, &l->in);
	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK ||
	    errno == EINTR))
		return;
	while (l->fd >= 0 && (r = frame_peek(&l->in, &f)) == 1) {
		l->on_frame(l, &f);
		/* on_frame may have brought the link down */
		if (l->fd < 0)
			return;
		frame_consume(&l->in, &f);
	}
	if (l->fd >= 0 && (n <= 0 || r == -1)) {
		if (r == -1)
			log_warnx("bad frame from %s", l->name);
		slink_down(l);
	}
}
