/*
 * peer.c - kurir-smtpd's links to kurir-queue and kurir-auth.
 *
 * Both are UNIX socketpairs made by kurird.  Frames out are buffered and
 * written without blocking; frames in are length-checked by frame_peek
 * and routed to the session they answer.  When a link drops (its peer
 * restarted) every session waiting on it gets a temporary failure, and
 * kurird sends a fresh link over the control channel.
 */
#include <sys/socket.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "frame.h"
#include "log.h"
#include "smtpd.h"

static void peer_read_cb(evutil_socket_t, short, void *);
static void peer_write_cb(evutil_socket_t, short, void *);

int
peer_up(const struct peer *p)
{
	return p->fd != -1;
}

static void
peer_down(struct peer *p)
{
	struct session *s, *next;

	if (p->fd == -1)
		return;
	log_warnx("link to %s lost", p->name);
	event_free(p->ev_read);
	event_free(p->ev_write);
	close(p->fd);
	p->fd = -1;
	buf_reset(&p->in);
	buf_reset(&p->out);
	/* whoever was waiting on it gets a temporary failure */
	for (s = TAILQ_FIRST(&S.sessions); s != NULL; s = next) {
		next = TAILQ_NEXT(s, entry);
		if (p == &S.queue && s->qtxn != 0)
			peer_queue_reply(0, s->qtxn, NULL, 0);
		else if (p == &S.auth && s->awaiting)
			peer_auth_reply(0, s->id, NULL, 0);
	}
}

void
peer_attach(struct peer *p, int fd)
{
	if (p->fd != -1)
		peer_down(p);
	if (p->in.max == 0) {
		buf_init(&p->in, 4 * (FRAME_HDR + FRAME_MAX));
		buf_init(&p->out, SMTP_PEER_OUT_MAX);
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	p->fd = fd;
	p->ev_read = event_new(S.base, fd, EV_READ | EV_PERSIST, peer_read_cb, p);
	p->ev_write = event_new(S.base, fd, EV_WRITE, peer_write_cb, p);
	if (p->ev_read == NULL || p->ev_write == NULL)
		fatalx("event_new");
	event_add(p->ev_read, NULL);
	log_info("link to %s up", p->name);
}

static void
peer_flush(struct peer *p)
{
	int r = buf_send(p->fd, &p->out);

	if (r == 1)
		event_add(p->ev_write, NULL);
	else if (r == -1)
		peer_down(p);
}

static void
peer_write_cb(evutil_socket_t fd, short what, void *arg)
{
	peer_flush(arg);
}

int
peer_send(struct peer *p, uint16_t type, uint32_t id, const void *data,
    size_t len)
{
	if (p->fd == -1)
		return -1;
	if (frame_pack(&p->out, type, id, data, len) == -1) {
		log_warn("link to %s", p->name);
		peer_down(p);
		return -1;
	}
	/* write at once when nothing is queued: usually no extra wakeup */
	if (p->out.len == FRAME_HDR + len)
		peer_flush(p);
	return p->fd == -1 ? -1 : 0;
}

static void
peer_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct peer *p = arg;
	struct frame f;
	ssize_t n;
	int r;

	n = frame_fill(p->fd, &p->in);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		peer_down(p);
		return;
	}
	while ((r = frame_peek(&p->in, &f)) == 1) {
		if (p == &S.queue)
			peer_queue_reply(f.type, f.id, f.data, f.len);
		else
			peer_auth_reply(f.type, f.id, f.data, f.len);
		if (p->fd == -1)
			return;
		frame_consume(&p->in, &f);
	}
	if (r == -1) {
		log_warnx("bad frame from %s", p->name);
		peer_down(p);
	}
}
