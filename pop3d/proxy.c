/*
 * proxy.c - after a login: a plain client's socket is handed to the
 * session process (the pre-auth kurir-pop3d is out of the path, and only
 * watches the session socket for the end); for TLS, which cannot move to
 * another process, it copies bytes both ways between the client and the
 * session process, and parses none of them.
 *
 * Runs as pop3_user, chrooted, sandboxed.  Flow control both ways: the
 * client is not read while PRE_IN_MAX of its bytes wait for the session
 * process, and the session process is not read while PRE_OUT_MAX bytes
 * wait for the client, so a slow reader cannot make us buffer a mailbox.
 * A client that half-closes still gets the replies to what it sent (the
 * session process sees EOF after them: a QUIT sent just before the FIN
 * still commits); the session ends when the session process closes.
 */
#include <sys/socket.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "frame.h"
#include "log.h"
#include "pop3d.h"

static void proxy_sread_cb(evutil_socket_t, short, void *);
static void proxy_swrite_cb(evutil_socket_t, short, void *);

/* Read from the session process only while the client keeps up. */
static void
proxy_want_sread(struct psession *s)
{
	int want = s->out.len < PRE_OUT_MAX;

	if (want == s->sreading)
		return;
	s->sreading = want;
	if (want)
		event_add(s->sev_read, NULL);
	else
		event_del(s->sev_read);
}

static void
proxy_handed_cb(evutil_socket_t fd, short what, void *arg)
{
	struct psession *s = arg;
	char junk[256];
	ssize_t n;

	/* nothing is meant to come: only the session's end */
	n = recv(s->sfd, junk, sizeof(junk), 0);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0)
		conn_close(s, NULL);
}

/*
 * A plain connection: the client's own socket goes to the session
 * process, with what the client sent ahead, and this process keeps only
 * the session socket, to see the session end (the limits count it until
 * then).  0, or -1 to proxy instead.
 */
static int
proxy_hand_over(struct psession *s)
{
	if (s->tls != NULL || s->in.len > FRAME_MAX ||
	    conn_write_some(s) == -1 || s->out.len > 0)
		return -1;	/* TLS, or replies of ours still to go first */
	if (frame_write_fd(s->sfd, SESS_HANDOFF, 0, s->in.len > 0 ?
	    s->in.data : "", s->in.len, s->fd) == -1) {
		log_warn("[%s] handing over the session", s->ip);
		return -1;
	}
	explicit_bzero(s->in.data, s->in.cap);
	buf_reset(&s->in);
	event_free(s->ev_read);
	event_free(s->ev_write);
	s->ev_read = s->ev_write = NULL;
	s->reading = 0;
	evtimer_del(s->ev_timer);	/* the session process keeps the clock */
	close(s->fd);
	s->fd = -1;
	s->state = PS_HANDED;
	return 0;
}

void
proxy_start(struct psession *s)
{
	int fl, handed;

	/* the session socket is still blocking: the first frame goes whole */
	handed = proxy_hand_over(s) == 0;
	if (!handed && frame_write(s->sfd, SESS_PROXY, 0, NULL, 0) == -1)
		goto fail;
	if ((fl = fcntl(s->sfd, F_GETFL)) == -1 ||
	    fcntl(s->sfd, F_SETFL, fl | O_NONBLOCK) == -1)
		goto fail;
	if (handed) {
		if ((s->sev_read = event_new(P.base, s->sfd, EV_READ |
		    EV_PERSIST, proxy_handed_cb, s)) == NULL ||
		    event_add(s->sev_read, NULL) == -1) {
			/* conn_resume ends it (the client has gone over) */
			log_warn("[%s] session socket", s->ip);
			proxy_close(s);
		}
		return;
	}
	if ((s->sev_read = event_new(P.base, s->sfd, EV_READ | EV_PERSIST,
	    proxy_sread_cb, s)) == NULL ||
	    (s->sev_write = event_new(P.base, s->sfd, EV_WRITE,
	    proxy_swrite_cb, s)) == NULL)
		goto fail;
	s->state = PS_PROXY;
	proxy_want_sread(s);
	return;
fail:
	log_warn("[%s] session socket", s->ip);
	conn_reply(s, "-ERR [SYS/TEMP] Cannot start the session");
	s->state = PS_CLOSING;
}

/* Push the client's bytes to the session process. */
static int
proxy_push(struct psession *s)
{
	ssize_t n;

	while (s->in.len > 0) {
		n = send(s->sfd, s->in.data, s->in.len, MSG_NOSIGNAL);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN) {
			event_add(s->sev_write, NULL);
			return 0;
		}
		if (n <= 0)
			return -1;
		buf_drain(&s->in, (size_t)n);
	}
	if (s->client_eof)
		shutdown(s->sfd, SHUT_WR);
	return 0;
}

void
proxy_client_input(struct psession *s)
{
	/* the session process gone mid-write: its EOF is on the way */
	if (proxy_push(s) == -1)
		buf_reset(&s->in);
	conn_want_read(s);
}

void
proxy_client_eof(struct psession *s)
{
	s->client_eof = 1;
	conn_want_read(s);
	if (proxy_push(s) == -1)
		buf_reset(&s->in);
}

/* The client took our bytes: read the session process again. */
void
proxy_client_drained(struct psession *s)
{
	conn_arm_timer(s);
	if (s->state == PS_CLOSING && s->out.len == 0) {
		conn_close(s, NULL);
		return;
	}
	if (s->state == PS_PROXY)
		proxy_want_sread(s);
}

static void
proxy_swrite_cb(evutil_socket_t fd, short what, void *arg)
{
	struct psession *s = arg;

	if (proxy_push(s) == -1)
		buf_reset(&s->in);
	conn_want_read(s);
}

static void
proxy_sread_cb(evutil_socket_t fd, short what, void *arg)
{
	struct psession *s = arg;
	ssize_t n;

	if (buf_reserve(&s->out, PRE_CHUNK) == -1)
		return;
	n = recv(s->sfd, s->out.data + s->out.len, PRE_CHUNK, 0);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		/* the session is over: the client gets the rest, then EOF */
		proxy_close(s);
		s->state = PS_CLOSING;
	} else {
		s->out.len += (size_t)n;
		conn_arm_timer(s);	/* traffic: the backstop waits */
	}
	if (conn_write_some(s) == -1) {
		conn_close(s, "write error");
		return;
	}
	if (s->state == PS_CLOSING && s->out.len == 0) {
		conn_close(s, NULL);
		return;
	}
	if (s->state == PS_PROXY)
		proxy_want_sread(s);
}

/* Let go of the session process (it sees EOF: nothing is committed
 * unless its QUIT already came). */
void
proxy_close(struct psession *s)
{
	if (s->sev_read != NULL)
		event_free(s->sev_read);
	if (s->sev_write != NULL)
		event_free(s->sev_write);
	s->sev_read = s->sev_write = NULL;
	s->sreading = 0;
	if (s->sfd != -1)
		close(s->sfd);
	s->sfd = -1;
}
