/*
 * alink.c - the pre-auth kurir-pop3d's link to kurir-auth: AP_LOGIN out,
 * AP_OK / AP_FAIL in, routed by session id to authz.c.
 *
 * Runs as pop3_user, chrooted, sandboxed.  The link is a socketpair
 * kurird made; frames are length-checked by frame_peek.  When it drops
 * (kurir-auth restarted), every login in flight gets a temporary failure
 * and kurird sends a fresh link over the control channel.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "frame.h"
#include "log.h"
#include "pop3d.h"

static void alink_read_cb(evutil_socket_t, short, void *);
static void alink_write_cb(evutil_socket_t, short, void *);

static void
alink_down(void)
{
	struct pre_authlink *a = &P.auth;
	struct psession *s, *next;

	if (a->fd == -1)
		return;
	log_warnx("link to kurir-auth lost");
	event_free(a->ev_read);
	event_free(a->ev_write);
	close(a->fd);
	a->fd = -1;
	buf_reset(&a->in);
	explicit_bzero(a->out.data, a->out.cap);	/* unsent passwords */
	buf_reset(&a->out);
	for (s = TAILQ_FIRST(&P.sessions); s != NULL; s = next) {
		next = TAILQ_NEXT(s, entry);
		if (s->state == PS_AWAIT && !s->auth_ok)
			authz_answer(s, 0, NULL, 0);
	}
}

void
alink_attach(int fd)
{
	struct pre_authlink *a = &P.auth;

	alink_down();
	if (a->in.max == 0) {
		buf_init(&a->in, 4 * (FRAME_HDR + FRAME_MAX));
		buf_init(&a->out, 16 * (FRAME_HDR + FRAME_MAX));
	}
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) == -1 ||
	    (a->ev_read = event_new(P.base, fd, EV_READ | EV_PERSIST,
	    alink_read_cb, NULL)) == NULL ||
	    (a->ev_write = event_new(P.base, fd, EV_WRITE, alink_write_cb,
	    NULL)) == NULL)
		fatal("link to kurir-auth");
	a->fd = fd;
	event_add(a->ev_read, NULL);
	log_info("link to kurir-auth up");
}

static void
alink_flush(void)
{
	struct pre_authlink *a = &P.auth;
	size_t before = a->out.len;
	int r = buf_send(a->fd, &a->out);

	/* passwords leave the buffer: wipe what draining left behind */
	if (before > a->out.len)
		explicit_bzero(a->out.data + a->out.len, before - a->out.len);
	if (r == 1)
		event_add(a->ev_write, NULL);
	else if (r == -1)
		alink_down();
}

static void
alink_write_cb(evutil_socket_t fd, short what, void *arg)
{
	alink_flush();
}

/* Queue one frame; -1 if the link is down or its backlog is full. */
int
alink_send(uint16_t type, uint32_t id, const void *data, size_t len)
{
	struct pre_authlink *a = &P.auth;

	if (a->fd == -1)
		return -1;
	if (frame_pack(&a->out, type, id, data, len) == -1) {
		log_warn("link to kurir-auth backlog");
		return -1;
	}
	/* a flush that fails takes the link down from the event loop's
	 * view only: the caller's session learns it from alink_down */
	if (a->out.len == FRAME_HDR + len) {
		alink_flush();
		if (a->fd == -1)
			return -1;
	}
	return 0;
}

static void
alink_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pre_authlink *a = &P.auth;
	struct psession *s;
	struct frame f;
	ssize_t n;
	int r;

	n = frame_fill(a->fd, &a->in);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		alink_down();
		return;
	}
	while ((r = frame_peek(&a->in, &f)) == 1) {
		if ((s = conn_find(f.id)) != NULL)
			authz_answer(s, f.type, f.data, f.len);
		if (a->fd == -1)
			return;
		frame_consume(&a->in, &f);
	}
	if (r == -1) {
		log_warnx("bad frame from kurir-auth");
		alink_down();
	}
}
