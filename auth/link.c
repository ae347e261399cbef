/*
 * link.c - kurir-auth's client links (kurir-smtpd, kurir-pop3d).
 *
 * Runs as the auth user.  Each link is a UNIX socket that kurird handed
 * over the control channel; it is non-blocking, with its own input and
 * output buffers.  frame_peek checks every frame's length before req.c
 * looks at its type.  A link that breaks the protocol is closed; the
 * process and the other links go on.
 *
 * Flow control: while a link has AUTH_PENDING_MAX delayed answers or
 * AUTH_OUT_HIGH unsent bytes, its input is not read, so a peer cannot make
 * kurir-auth hold more than a bounded amount for it.
 *
 * Passwords: the input buffer is allocated once at its full size (no
 * realloc leaves copies behind), req.c wipes each password in place once
 * checked, and the bytes that draining frames leaves behind are wiped too.
 */
#include <sys/socket.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "authproto.h"
#include "log.h"

static void link_read_cb(evutil_socket_t, short, void *);
static void link_write_cb(evutil_socket_t, short, void *);

struct alink *
link_new(int fd, int pop3)
{
	struct alink *l;
	int fl;

	if (A.nlinks >= AUTH_LINK_MAX) {
		log_warnx("too many client links (%d); refusing one",
		    AUTH_LINK_MAX);
		close(fd);
		return NULL;
	}
	if ((l = calloc(1, sizeof(*l))) == NULL) {
		log_warn("client link");
		close(fd);
		return NULL;
	}
	l->fd = fd;
	l->serial = ++A.serial;
	l->pop3 = pop3;
	TAILQ_INIT(&l->pending);
	buf_init(&l->in, AUTH_IN_MAX);
	buf_init(&l->out, AUTH_OUT_MAX);
	if ((fl = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) == -1 ||
	    buf_reserve(&l->in, AUTH_IN_MAX) == -1 ||
	    (l->ev_read = event_new(A.base, fd, EV_READ | EV_PERSIST,
	    link_read_cb, l)) == NULL ||
	    (l->ev_write = event_new(A.base, fd, EV_WRITE, link_write_cb,
	    l)) == NULL) {
		log_warn("client link");
		if (l->ev_read)
			event_free(l->ev_read);
		buf_free(&l->in);
		close(fd);
		free(l);
		return NULL;
	}
	LIST_INSERT_HEAD(&A.links, l, entry);
	A.nlinks++;
	link_update(l);
	log_info("client link %u up%s", l->serial, pop3 ? " (pop3)" : "");
	return l;
}

void
link_close(struct alink *l)
{
	req_cancel(l);
	event_free(l->ev_read);
	event_free(l->ev_write);
	close(l->fd);
	buf_free(&l->in);
	buf_free(&l->out);
	LIST_REMOVE(l, entry);
	A.nlinks--;
	free(l);
}

/* May this link's input be taken in now? */
static int
link_can_take(const struct alink *l)
{
	return l->npending < A.pending_max && l->out.len < AUTH_OUT_HIGH;
}

/* Start or stop reading as link_can_take says. */
void
link_update(struct alink *l)
{
	if (link_can_take(l) && !l->reading) {
		l->reading = 1;
		event_add(l->ev_read, NULL);
		/* frames may be waiting in the buffer: run them soon */
		if (l->in.len > 0)
			event_active(l->ev_read, EV_READ, 0);
	} else if (!link_can_take(l) && l->reading) {
		l->reading = 0;
		event_del(l->ev_read);
	}
}

static void
link_flush(struct alink *l)
{
	int r = buf_send(l->fd, &l->out);

	if (r == 1)
		event_add(l->ev_write, NULL);
	else if (r == -1)
		buf_reset(&l->out);	/* gone: reading sees EOF */
}

void
link_reply(struct alink *l, uint16_t type, uint32_t id, const char *text)
{
	if (frame_pack(&l->out, type, id, text, strlen(text)) == -1) {
		log_warn("client link %u: answer dropped", l->serial);
		return;
	}
	link_flush(l);
}

static void
link_write_cb(evutil_socket_t fd, short what, void *arg)
{
	struct alink *l = arg;

	link_flush(l);
	link_update(l);
}

/*
 * Run the complete frames in the input buffer, as many as flow control
 * allows.  Returns -1 if the link was closed.
 */
static int
link_process(struct alink *l)
{
	struct frame f;
	size_t before = l->in.len;
	int r = 0;

	while (link_can_take(l) && (r = frame_peek(&l->in, &f)) == 1) {
		if (req_frame(l, &f) == -1) {
			log_warnx("client link %u broke the protocol (frame "
			    "type %u, %zu bytes); closing", l->serial, f.type,
			    f.len);
			link_close(l);
			return -1;
		}
		/* a password in a malformed request is still a password */
		if (f.type == AP_AUTH || f.type == AP_LOGIN)
			explicit_bzero(l->in.data, FRAME_HDR + f.len);
		frame_consume(&l->in, &f);
	}
	/* buf_drain moved the rest forward: wipe what it left behind */
	if (before > l->in.len)
		explicit_bzero(l->in.data + l->in.len, before - l->in.len);
	if (r == -1) {
		log_warnx("client link %u sent a bad frame header; closing",
		    l->serial);
		link_close(l);
		return -1;
	}
	return 0;
}

static void
link_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct alink *l = arg;
	ssize_t n;

	/* frames held back by flow control go first */
	if (link_process(l) == -1)
		return;
	if (link_can_take(l) &&
	    l->in.len <= AUTH_IN_MAX - (FRAME_HDR + FRAME_MAX)) {
		n = frame_fill(l->fd, &l->in);
		if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR)) {
			if (n == -1)
				log_warn("client link %u", l->serial);
			else
				log_info("client link %u closed", l->serial);
			link_close(l);
			return;
		}
		if (n > 0 && link_process(l) == -1)
			return;
	}
	link_update(l);
}
