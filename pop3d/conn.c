/*
 * conn.c - the pre-auth kurir-pop3d's client connections: accept and
 * the session limits, reading and writing (plain or TLS), the idle
 * timer, STLS, and cutting input into command lines for authz.c.
 *
 * Runs as pop3_user, chrooted to <state_dir>/empty, sandboxed.  Input is
 * bounded: a command line by POP3_LINE_MAX (an AUTH continuation by
 * PRE_AUTH_LINE_MAX), the input buffer by PRE_IN_MAX; replies are
 * buffered and flushed once the input holds no complete line (RFC 2449
 * PIPELINING).  After a login the connection belongs to proxy.c.
 */
#include <sys/socket.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "linecut.h"
#include "log.h"
#include "net.h"
#include "pop3d.h"
#include "sockio.h"

static void conn_read_cb(evutil_socket_t, short, void *);
static void conn_write_cb(evutil_socket_t, short, void *);
static void conn_timer_cb(evutil_socket_t, short, void *);
static void conn_process(struct psession *);

struct psession *
conn_find(uint32_t id)
{
	struct psession *s;

	TAILQ_FOREACH(s, &P.sessions, entry)
		if (s->id == id)
			return s;
	return NULL;
}

static unsigned
conn_count_from(const char *net)
{
	struct psession *s;
	unsigned n = 0;

	TAILQ_FOREACH(s, &P.sessions, entry)
		if (strcmp(s->net, net) == 0)
			n++;
	return n;
}

static struct psession *
conn_new(int fd, const struct sockaddr_storage *ss, const char *ip,
    const char *net)
{
	struct psession *s;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	/* never 0: that id means "no session" on the links */
	s->id = ++P.next_id ? P.next_id : ++P.next_id;
	s->fd = fd;
	s->sfd = -1;
	strlcpy(s->ip, ip, sizeof(s->ip));
	strlcpy(s->net, net, sizeof(s->net));
	s->loopback = net_is_loopback((const struct sockaddr *)ss);
	buf_init(&s->in, PRE_IN_MAX + PRE_CHUNK);
	buf_init(&s->out, PRE_OUT_MAX + PRE_CHUNK);
	TAILQ_INSERT_TAIL(&P.sessions, s, entry);
	P.nsessions++;
	s->ev_read = event_new(P.base, fd, EV_READ | EV_PERSIST,
	    conn_read_cb, s);
	s->ev_write = event_new(P.base, fd, EV_WRITE, conn_write_cb, s);
	s->ev_timer = evtimer_new(P.base, conn_timer_cb, s);
	if (s->ev_read == NULL || s->ev_write == NULL || s->ev_timer == NULL) {
		conn_close(s, "out of memory");
		return NULL;
	}
	return s;
}

void
conn_accept_cb(evutil_socket_t lfd, short what, void *arg)
{
	struct sockio_limits lim = {
		"pop3_max_sessions",
		"-ERR [SYS/TEMP] Server shutting down\r\n",
		"-ERR [SYS/TEMP] Too many connections, try again later\r\n",
		"-ERR [SYS/TEMP] Too many connections from your address\r\n",
		0, 0
	};
	struct pre_listener *l = arg;
	struct sockaddr_storage ss;
	struct psession *s;
	char ip[64], net[64];
	int fd;

	if ((fd = sockio_accept(lfd, l->ev, P.base, &ss, &P.stopping)) == -1)
		return;
	net_addr_text((struct sockaddr *)&ss, ip, sizeof(ip));
	if (net_client_net((struct sockaddr *)&ss, P.conf.client_ipv6_prefix,
	    net, sizeof(net)) == -1)
		strlcpy(net, ip, sizeof(net));
	lim.max = P.conf.pop3_max_sessions;
	lim.max_ip = P.conf.pop3_max_sessions_per_ip;
	if (!sockio_admit(fd, ip, &lim, P.stopping, P.nsessions,
	    conn_count_from(net)))
		return;
	if ((s = conn_new(fd, &ss, ip, net)) == NULL) {
		sockio_refuse(fd, "-ERR [SYS/TEMP] Out of memory\r\n");
		return;
	}
	log_info("connect from [%s]", ip);
	authz_greet(s);
	conn_arm_timer(s);
	if (conn_write_some(s) == -1) {
		conn_close(s, "write error");
		return;
	}
	conn_want_read(s);
}

/*
 * The clock: in the AUTHORIZATION state, the deadline for the next
 * command (RFC 1939 section 3: at least 10 minutes by default), armed at
 * the greeting and when a command has been handled, never by a read: a
 * line must be complete by then however slowly it trickles in (issue
 * 12).  While a login is in flight, our own helpers' answer; once
 * proxied, a backstop behind the session process, which keeps the
 * command clock itself.
 */
void
conn_arm_timer(struct psession *s)
{
	struct timeval tv = { P.conf.pop3_idle_timeout, 0 };

	if (s->state == PS_AWAIT)
		tv.tv_sec = PRE_AWAIT_SECS;
	else if (s->state == PS_PROXY)
		tv.tv_sec += PRE_PROXY_SLACK;
	evtimer_add(s->ev_timer, &tv);
}

static void
conn_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct psession *s = arg;

	if (s->state == PS_AWAIT) {
		log_warnx("[%s] no answer to a login from kurir-auth or "
		    "kurird; giving up", s->ip);
		conn_reply(s, "-ERR [SYS/TEMP] Internal timeout");
		conn_write_some(s);
		conn_close(s, "internal timeout");
		return;
	}
	/* RFC 1939: on a timeout, close without a response */
	conn_close(s, "timeout");
}

/*
 * Read from the client only while there is room both ways: a client
 * that pipelines without reading replies is simply not read until it
 * catches up.  While a login is in flight, input waits in the socket.
 */
void
conn_want_read(struct psession *s)
{
	int want;

	if (s->state == PS_PROXY)
		want = !s->client_eof && s->in.len < PRE_IN_MAX;
	else
		want = s->state != PS_CLOSING && s->state != PS_TLS &&
		    s->state != PS_AWAIT && s->out.len < PRE_OUT_MAX &&
		    s->in.len < PRE_IN_MAX;
	if (want == s->reading)
		return;
	s->reading = want;
	if (want)
		event_add(s->ev_read, NULL);
	else
		event_del(s->ev_read);
}

void
conn_close(struct psession *s, const char *why)
{
	/* a login still with kurir-auth: have it drop the check, so a flood
	 * of logins that hang up costs no crypt(3) (authproto.h) */
	if (s->state == PS_AWAIT && !s->auth_ok &&
	    alink_send(AP_CANCEL, s->id, NULL, 0) == -1)
		log_warnx("[%s] cannot cancel the login in flight", s->ip);
	TAILQ_REMOVE(&P.sessions, s, entry);
	P.nsessions--;
	log_info("disconnect from [%s]%s%s%s%s", s->ip,
	    s->login[0] != '\0' ? " user=" : "", s->login,
	    why != NULL ? " " : "", why != NULL ? why : "");
	proxy_close(s);
	if (s->tls != NULL) {
		tls_close(s->tls);	/* best effort close_notify */
		tls_free(s->tls);
	}
	if (s->ev_read != NULL)
		event_free(s->ev_read);
	if (s->ev_write != NULL)
		event_free(s->ev_write);
	if (s->ev_timer != NULL)
		event_free(s->ev_timer);
	if (s->fd >= 0)
		close(s->fd);
	buf_free(&s->in);	/* wipes: it may have held a password */
	buf_free(&s->out);
	free(s);
	if (P.stopping && P.nsessions == 0)
		event_base_loopexit(P.base, NULL);
}

void
conn_reply(struct psession *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	sockio_vline(&s->out, s->ip, fmt, ap);
	va_end(ap);
}

/* A reply that counts as a client error (pop3_max_errors). */
void
conn_error(struct psession *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	sockio_vline(&s->out, s->ip, fmt, ap);
	va_end(ap);
	if (++s->errors >= P.conf.pop3_max_errors &&
	    s->state != PS_CLOSING) {
		conn_reply(s, "-ERR Too many errors, closing");
		s->state = PS_CLOSING;
	}
}

/* Write what the client takes; -1 if it is gone. */
int
conn_write_some(struct psession *s)
{
	return sockio_write(s->fd, s->tls, &s->out, s->ev_write);
}

/* After our replies went out or a peer answered: go on, or close. */
static void
conn_settle(struct psession *s)
{
	if (conn_write_some(s) == -1) {
		conn_close(s, "write error");
		return;
	}
	if (s->state == PS_CLOSING && s->out.len == 0) {
		conn_close(s, NULL);
		return;
	}
	conn_want_read(s);
}

static void
conn_write_cb(evutil_socket_t fd, short what, void *arg)
{
	struct psession *s = arg;

	if (s->state == PS_TLS) {
		conn_start_tls(s);
		return;
	}
	if (conn_write_some(s) == -1) {
		conn_close(s, "write error");
		return;
	}
	if (s->state == PS_PROXY) {
		proxy_client_drained(s);
		return;
	}
	/* room again: go on with input that waited for it */
	if (s->out.len < PRE_OUT_MAX && s->in.len > 0)
		conn_process(s);
	if (s->state == PS_TLS)
		conn_start_tls(s);
	else
		conn_settle(s);
}

/*
 * Take complete lines out of the input until it runs dry, a login has
 * to wait for kurir-auth, or the state stops reading.
 */
static void
conn_process(struct psession *s)
{
	size_t used, len, max;
	enum linecut r;

	while (s->in.len > 0 && (s->state == PS_AUTHZ ||
	    s->state == PS_AUTH_CONT) && s->out.len < PRE_OUT_MAX) {
		buf_drain(&s->in, linecut_skip(s->in.data, s->in.len,
		    &s->discarding));
		if (s->discarding || s->in.len == 0)
			break;
		max = s->state == PS_AUTH_CONT ? PRE_AUTH_LINE_MAX :
		    POP3_LINE_MAX;
		r = linecut_next(s->in.data, s->in.len, max, &s->discarding,
		    &len, &used);
		if (r == LINECUT_MORE)
			break;
		if (r == LINECUT_LONG) {
			buf_drain(&s->in, used);
			if (s->state == PS_AUTH_CONT)
				s->state = PS_AUTHZ;
			conn_error(s, "-ERR line too long");
			continue;
		}
		authz_line(s, s->in.data, len);
		/* handled: the next command (or the STLS handshake) has
		 * the whole timeout from now; a login armed its own wait */
		if (s->state == PS_AUTHZ || s->state == PS_AUTH_CONT ||
		    s->state == PS_TLS)
			conn_arm_timer(s);
		buf_drain(&s->in, used);
		/* the line may have held a password: wipe what drain left */
		explicit_bzero(s->in.data + s->in.len, used);
		/* after STLS the rest is dropped (conn_start_tls); after a
		 * login it waits for the outcome: more AUTHORIZATION
		 * commands, or the session process */
	}
}

/* A login ended (or a session came): go on where the input stopped. */
void
conn_resume(struct psession *s)
{
	if (s->state == PS_HANDED) {
		/* the session process has the client; nothing to watch? */
		if (s->sfd == -1)
			conn_close(s, "session socket");
		return;
	}
	conn_arm_timer(s);
	if (s->state == PS_PROXY) {
		proxy_client_input(s);
		return;
	}
	conn_process(s);
	if (s->state == PS_TLS)
		conn_start_tls(s);
	else
		conn_settle(s);
}

static void
conn_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct psession *s = arg;
	ssize_t n;

	if (s->state == PS_TLS) {
		conn_start_tls(s);
		return;
	}
	n = sockio_read(s->fd, s->tls, &s->in, PRE_CHUNK, s->ev_write);
	if (n == SOCKIO_AGAIN || n == SOCKIO_FULL)
		return;		/* full: conn_want_read stops reading */
	if (n <= 0 && s->state == PS_PROXY) {
		proxy_client_eof(s);
		return;
	}
	if (n <= 0) {
		conn_close(s, n == 0 ? "lost connection" : "read error");
		return;
	}
	if (s->state == PS_PROXY) {
		conn_arm_timer(s);	/* traffic: the backstop waits */
		proxy_client_input(s);
		return;
	}
	/* a read moves no deadline: only a whole command does */
	conn_process(s);
	if (s->state == PS_TLS)
		conn_start_tls(s);
	else
		conn_settle(s);
}

/*
 * STLS (RFC 2595 4): after our +OK the connection is TLS.  Input the
 * client pipelined after STLS came in the clear and is thrown away,
 * never executed inside the TLS session.  authz.c only sets PS_TLS; the
 * event callbacks call this (it may close the session) as their last
 * step, and then for every handshake step.
 */
void
conn_start_tls(struct psession *s)
{
	int r;

	if (s->tls == NULL) {
		if (conn_write_some(s) == -1 || s->out.len > 0) {
			/* the +OK must go in the clear, whole, first */
			conn_close(s, "write error before TLS");
			return;
		}
		explicit_bzero(s->in.data, s->in.cap);
		buf_reset(&s->in);
		s->discarding = 0;
		if (tls_accept_socket(P.tls_server, &s->tls, s->fd) == -1) {
			log_warnx("[%s] tls_accept_socket: %s", s->ip,
			    tls_error(P.tls_server));
			conn_close(s, "TLS failed");
			return;
		}
		if (!s->reading) {
			event_add(s->ev_read, NULL);	/* handshake input */
			s->reading = 1;
		}
	}
	r = tls_handshake(s->tls);
	if (r == TLS_WANT_POLLIN) {
		event_del(s->ev_write);
		return;
	}
	if (r == TLS_WANT_POLLOUT) {
		event_add(s->ev_write, NULL);
		return;
	}
	if (r == -1) {
		log_warnx("[%s] TLS handshake failed: %s", s->ip,
		    tls_error(s->tls));
		buf_reset(&s->out);
		conn_close(s, "TLS failed");
		return;
	}
	log_info("[%s] TLS established: %s %s", s->ip,
	    tls_conn_version(s->tls), tls_conn_cipher(s->tls));
	/* RFC 2595 4: forget the USER given before TLS */
	s->state = PS_AUTHZ;
	s->user[0] = '\0';
	event_del(s->ev_write);
	conn_arm_timer(s);
	conn_want_read(s);
}

void
pop3d_stop(void)
{
	struct psession *s, *next;
	int i;

	P.stopping = 1;
	for (i = 0; i < P.nlisteners; i++)
		if (P.listeners[i].ev != NULL)
			event_del(P.listeners[i].ev);
	/* a proxied session ends with nothing deleted: the session process
	 * sees EOF before any QUIT that did not reach it */
	for (s = TAILQ_FIRST(&P.sessions); s != NULL; s = next) {
		next = TAILQ_NEXT(s, entry);
		if (s->state != PS_PROXY && s->state != PS_TLS &&
		    s->state != PS_HANDED) {
			conn_reply(s, "-ERR [SYS/TEMP] Server shutting down");
			conn_write_some(s);
		}
		conn_close(s, "shutdown");
	}
	if (P.nsessions == 0)
		event_base_loopexit(P.base, NULL);
}
