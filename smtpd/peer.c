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
#include "qproto.h"
#include "smtpd.h"

/*
 * QP_ABORTs that found the queue link's backlog full.  Each open
 * transaction holds one of kurir-queue's QP_TRUSTED_TXN_MAX slots for
 * this link until its abort arrives, so an abort is never dropped: it
 * waits here and goes as soon as the backlog drains (there can be no
 * more of them than open transactions).
 */
static uint32_t abort_wait[QP_TRUSTED_TXN_MAX];
static size_t abort_nwait;

static void peer_read_cb(evutil_socket_t, short, void *);
static void peer_down(struct peer *);

static void
peer_down_cb(evutil_socket_t fd, short what, void *arg)
{
	peer_down(arg);
}

/*
 * A write failed: the link is dead, but its sessions are told from the
 * event loop, never from inside the caller (which may be closing one).
 */
static void
peer_fail(struct peer *p)
{
	if (p->dead)
		return;
	p->dead = 1;
	event_active(p->ev_down, EV_TIMEOUT, 0);
}
static void peer_write_cb(evutil_socket_t, short, void *);

int
peer_up(const struct peer *p)
{
	return p->fd != -1 && !p->dead;
}

static void
peer_down(struct peer *p)
{
	struct session *s, *next;

	if (p->fd == -1)
		return;
	p->dead = 0;
	log_warnx("link to %s lost", p->name);
	event_free(p->ev_read);
	event_free(p->ev_write);
	close(p->fd);
	p->fd = -1;
	buf_reset(&p->in);
	buf_reset(&p->out);
	if (p == &S.queue)
		abort_nwait = 0;	/* the queue forgets the link's all */
	/* whoever was waiting on it gets a temporary failure */
	for (s = TAILQ_FIRST(&S.sessions); s != NULL; s = next) {
		next = TAILQ_NEXT(s, entry);
		if (p == &S.queue && s->qtxn != 0)
			peer_queue_reply(0, s->qtxn, NULL, 0);
		else if (p == &S.auth && (s->awaiting == AWAIT_RCPT ||
		    s->awaiting == AWAIT_AUTH))
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
	p->dead = 0;
	if (p->ev_down == NULL &&
	    (p->ev_down = evtimer_new(S.base, peer_down_cb, p)) == NULL)
		fatalx("evtimer_new");
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
		peer_fail(p);
}

/* Queue the aborts that waited, as far as the backlog takes them. */
static void
peer_abort_retry(struct peer *p)
{
	while (abort_nwait > 0 && frame_pack(&p->out, QP_ABORT,
	    abort_wait[abort_nwait - 1], NULL, 0) == 0)
		abort_nwait--;
}

void
peer_queue_abort(uint32_t txn)
{
	struct peer *p = &S.queue;

	if (!peer_up(p))
		return;		/* the link's end aborts every transaction */
	if (frame_pack(&p->out, QP_ABORT, txn, NULL, 0) == -1) {
		if (abort_nwait == QP_TRUSTED_TXN_MAX) {
			/* cannot be (one per open transaction); if it is,
			 * a fresh link is the way to a clean slate */
			log_warnx("link to %s: aborts pile up; resetting it",
			    p->name);
			peer_fail(p);
			return;
		}
		abort_wait[abort_nwait++] = txn;
		return;
	}
	if (p->out.len == FRAME_HDR)
		peer_flush(p);
}

static void
peer_write_cb(evutil_socket_t fd, short what, void *arg)
{
	struct peer *p = arg;
	int was_high = p->out.len >= PEER_LOW;

	peer_flush(p);
	if (p == &S.queue && abort_nwait > 0 && peer_up(p)) {
		peer_abort_retry(p);
		if (p->out.len > 0)
			event_add(p->ev_write, NULL);
	}
	/* the queue caught up: sessions held back in DATA go on */
	if (p == &S.queue && was_high && p->out.len < PEER_LOW)
		sessions_kick();
}

int
peer_send(struct peer *p, uint16_t type, uint32_t id, const void *data,
    size_t len)
{
	if (!peer_up(p))
		return -1;
	/* over the backlog cap: this request fails, the link lives on */
	if (frame_pack(&p->out, type, id, data, len) == -1) {
		log_warn("link to %s backlog", p->name);
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
