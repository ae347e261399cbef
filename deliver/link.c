/*
 * link.c - kurir-local's socket to kurir-send (mail user, chrooted).
 *
 * One non-blocking UNIX stream socket.  Requests arrive as LP_DELIVER
 * frames, each with the queue entry as a passed descriptor.  frame_fill
 * would read(2) and the kernel would drop the descriptors, so frames are
 * taken in here with recvmsg, and never more than the frame being
 * received needs: a descriptor then always arrives while its own frame
 * is read (the sender attaches it to the frame's first byte), whatever
 * way the kernel cut the stream.  frame_peek checks each frame's length
 * before it is read; any type but LP_DELIVER ends the link.
 *
 * Every frame complete when the socket runs dry (at most LOCAL_BATCH_MAX)
 * forms one batch (batch.c); its answers go out together, in order.
 * While LOCAL_OUT_HIGH bytes of answers are unsent, nothing is read.
 * EOF: answer what was complete, send the answers, stop with 0.  A bad
 * frame: stop with EX_PROTOCOL (kurir-send sees the link close, and
 * treats the requests it had outstanding as temporary failures).
 */
#include <sys/socket.h>
#include <sys/time.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "frame.h"
#include "local.h"
#include "localproto.h"
#include "log.h"

#define LINK_LINGER	5	/* seconds to send the last answers */

static void link_read_cb(evutil_socket_t, short, void *);
static void link_write_cb(evutil_socket_t, short, void *);

int
link_setup(struct local_link *l, struct event_base *base, int fd,
    struct local_ctx *ctx)
{
	int fl;

	memset(l, 0, sizeof(*l));
	l->fd = fd;
	l->base = base;
	l->ctx = ctx;
	l->in_fd = -1;
	buf_init(&l->in, FRAME_HDR + FRAME_MAX);
	buf_init(&l->out, 0);
	if ((fl = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) == -1 ||
	    buf_reserve(&l->in, FRAME_HDR + FRAME_MAX) == -1 ||
	    (l->batch = calloc(LOCAL_BATCH_MAX, sizeof(*l->batch))) == NULL ||
	    (l->ev_read = event_new(base, fd, EV_READ | EV_PERSIST,
	    link_read_cb, l)) == NULL ||
	    (l->ev_write = event_new(base, fd, EV_WRITE, link_write_cb,
	    l)) == NULL) {
		link_teardown(l);
		return -1;
	}
	l->reading = 1;
	event_add(l->ev_read, NULL);
	return 0;
}

void
link_teardown(struct local_link *l)
{
	if (l->ev_read != NULL)
		event_free(l->ev_read);
	if (l->ev_write != NULL)
		event_free(l->ev_write);
	l->ev_read = l->ev_write = NULL;
	if (l->in_fd >= 0)
		close(l->in_fd);
	l->in_fd = -1;
	free(l->batch);
	l->batch = NULL;
	buf_free(&l->in);
	buf_free(&l->out);
}

static int
link_can_read(const struct local_link *l)
{
	return !l->done && l->out.len < LOCAL_OUT_HIGH;
}

static void
link_update(struct local_link *l)
{
	if (link_can_read(l) && !l->reading) {
		l->reading = 1;
		event_add(l->ev_read, NULL);
	} else if (!link_can_read(l) && l->reading) {
		l->reading = 0;
		event_del(l->ev_read);
	}
}

static void
link_flush(struct local_link *l)
{
	int r = buf_send(l->fd, &l->out);

	if (r == 1)
		event_add(l->ev_write, NULL);
	else if (r == -1) {
		log_warn("answers to kurir-send");
		buf_reset(&l->out);
		/* kurir-send is gone: deliver nothing more for it */
		link_finish(l, 0);
	}
}

static void
link_write_cb(evutil_socket_t fd, short what, void *arg)
{
	struct local_link *l = arg;

	link_flush(l);
	link_update(l);
}

void
link_finish(struct local_link *l, int exit_code)
{
	struct timeval tv = { LINK_LINGER, 0 };
	int fl;

	if (l->done)
		return;
	l->done = 1;
	l->exit_code = exit_code;
	/* the last answers: wait a little for the socket rather than drop
	 * them, but not for ever on a kurir-send that reads no more */
	if (l->out.len > 0 && (fl = fcntl(l->fd, F_GETFL)) != -1 &&
	    fcntl(l->fd, F_SETFL, fl & ~O_NONBLOCK) != -1 &&
	    setsockopt(l->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) != -1 &&
	    buf_send(l->fd, &l->out) != 0)
		log_warnx("%zu bytes of answers not sent", l->out.len);
	event_del(l->ev_read);
	event_del(l->ev_write);
	l->reading = 0;
	event_base_loopbreak(l->base);
}

/*
 * Receive the rest of the current frame.  1: a request joined the batch;
 * 0: the socket is dry; -1: EOF or an error; -2: a protocol violation.
 */
static int
link_take(struct local_link *l)
{
	struct frame f;
	int r;

	if ((r = frame_take(l->fd, &l->in, &l->in_fd, &f)) == -1) {
		if (errno != 0)
			log_warn("reading from kurir-send");
		else if (l->in.len > 0 || l->in_fd >= 0)
			log_warnx("kurir-send closed the link in the middle "
			    "of a frame");
	}
	if (r != 1)
		return r;
	if (f.type != LP_DELIVER) {
		log_warnx("kurir-send sent frame type %u (%zu bytes); closing",
		    f.type, f.len);
		return -2;
	}
	delivery_init(&l->batch[l->n++], f.id, f.data, f.len, l->in_fd);
	l->in_fd = -1;
	buf_reset(&l->in);
	return 1;
}

/* Deliver the batch and queue its answers, in request order. */
static void
link_run_batch(struct local_link *l)
{
	struct delivery *d;
	size_t i;

	if (l->n == 0)
		return;
	if (local_peer_gone(l->ctx)) {
		/* requests of a dead kurir-send: the next one sends them again */
		log_info("kurir-send is gone; %zu requests not delivered", l->n);
		for (i = 0; i < l->n; i++)
			if (l->batch[i].qfd >= 0)
				close(l->batch[i].qfd);
		l->n = 0;
		link_finish(l, 0);
		return;
	}
	local_batch_run(l->ctx, l->batch, l->n);
	for (i = 0; i < l->n; i++) {
		d = &l->batch[i];
		if (frame_pack(&l->out, d->status, d->id, d->text,
		    strlen(d->text)) == -1)
			log_warn("answer %u dropped", d->id);
	}
	l->n = 0;
	link_flush(l);
}

static void
link_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct local_link *l = arg;
	int r = 0;

	while (l->n < LOCAL_BATCH_MAX && (r = link_take(l)) == 1)
		;
	link_run_batch(l);
	if (r == -1)
		link_finish(l, 0);
	else if (r == -2) {
		if (l->in_fd >= 0)
			close(l->in_fd);
		l->in_fd = -1;
		link_finish(l, EX_PROTOCOL);
	} else
		link_update(l);
}
