/*
 * session.c - kurir-smtpd's sessions: accept, limits, I/O (plain or TLS),
 * timeouts, and splitting input into commands or message data.
 *
 * Runs as the smtpd user, chrooted and sandboxed.  All input is bounded:
 * command lines by SMTP_LINE_MAX, message text by the DATA decoder, and
 * the input buffer itself by a cap; output is buffered and flushed when
 * the input is exhausted (RFC 2920 pipelining) or a reply must wait.
 * Time is bounded too: clock.c says when each step must be done by, and
 * this file tells it each time a step is done.
 */
#include <sys/socket.h>
#include <sys/time.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "linecut.h"
#include "authproto.h"
#include "log.h"
#include "net.h"
#include "smtpd.h"
#include "sockio.h"

#define SESSION_IN_MAX	(256 * 1024)	/* read no further ahead than this */
#define SESSION_OUT_MAX	(64 * 1024)	/* replies a client has not read yet */

static void session_read_cb(evutil_socket_t, short, void *);
static void session_write_cb(evutil_socket_t, short, void *);
static void session_timer_cb(evutil_socket_t, short, void *);
static void session_process(struct session *);

/*
 * Read only while there is room: a client that pipelines without reading
 * our replies, or far ahead of an answer we wait for, is simply not read
 * until it catches up (level-triggered events would spin otherwise).
 */
static int
queue_backlogged(const struct session *s)
{
	return (s->state == S_DATA || s->state == S_BDAT) &&
	    S.queue.out.len >= PEER_HIGH;
}

static void
session_want_read(struct session *s)
{
	int want = s->out.len < SESSION_OUT_MAX && s->in.len < SESSION_IN_MAX &&
	    !queue_backlogged(s);

	if (want == s->reading)
		return;
	s->reading = want;
	if (want)
		event_add(s->ev_read, NULL);
	else
		event_del(s->ev_read);
}

struct session *
session_find(uint32_t id)
{
	struct session *s;

	TAILQ_FOREACH(s, &S.sessions, entry)
		if (s->id == id)
			return s;
	return NULL;
}

static unsigned
sessions_from(const char *net)
{
	struct session *s;
	unsigned n = 0;

	TAILQ_FOREACH(s, &S.sessions, entry)
		if (strcmp(s->net, net) == 0)
			n++;
	return n;
}

void
smtpd_accept_cb(evutil_socket_t lfd, short what, void *arg)
{
	struct sockio_limits lim = {
		"smtp_max_sessions",
		"421 4.3.2 Service shutting down\r\n",
		"421 4.7.0 Too many connections, try again later\r\n",
		"421 4.7.0 Too many connections from your address\r\n", 0, 0
	};
	struct smtpd_listener *l = arg;
	struct sockaddr_storage ss;
	struct session *s;
	char ip[64], net[64];
	int fd;

	if ((fd = sockio_accept(lfd, l->ev, S.base, &ss, &S.stopping)) == -1)
		return;
	net_addr_text((struct sockaddr *)&ss, ip, sizeof(ip));
	if (net_client_net((struct sockaddr *)&ss, S.conf.client_ipv6_prefix,
	    net, sizeof(net)) == -1)
		strlcpy(net, ip, sizeof(net));
	lim.max = S.conf.smtp_max_sessions;
	lim.max_ip = S.conf.smtp_max_sessions_per_ip;
	if (!sockio_admit(fd, ip, &lim, S.stopping, S.nsessions,
	    sessions_from(net)))
		return;
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		sockio_refuse(fd, "421 4.3.0 Out of memory\r\n");
		return;
	}
	s->id = ++S.next_id ? S.next_id : ++S.next_id;
	s->fd = fd;
	s->kind = l->kind;
	s->peer = ss;
	strlcpy(s->ip, ip, sizeof(s->ip));
	strlcpy(s->net, net, sizeof(s->net));
	s->loopback = net_is_loopback((struct sockaddr *)&ss);
	s->relay_client = net_cidr_match(S.conf.relay_clients,
	    S.conf.n_relay_clients, (struct sockaddr *)&ss);
	buf_init(&s->in, SESSION_IN_MAX + SMTP_CHUNK);
	buf_init(&s->out, 2 * SESSION_OUT_MAX);
	buf_init(&s->chunk, 2 * SMTP_CHUNK);
	s->ev_read = event_new(S.base, fd, EV_READ | EV_PERSIST,
	    session_read_cb, s);
	s->ev_write = event_new(S.base, fd, EV_WRITE, session_write_cb, s);
	s->ev_timer = evtimer_new(S.base, session_timer_cb, s);
	TAILQ_INSERT_TAIL(&S.sessions, s, entry);
	S.nsessions++;
	if (s->ev_read == NULL || s->ev_write == NULL || s->ev_timer == NULL) {
		session_close(s, "out of memory");
		return;
	}
	log_info("connect from [%s]%s", ip,
	    l->kind == LISTEN_SUBMISSION ? " (submission)" : "");
	event_add(s->ev_read, NULL);
	s->reading = 1;
	if (!s->relay_client && S.conf.smtp_greet_pause > 0) {
		/* talkers before the greeting are bots: see session_process */
		s->state = S_GREET_PAUSE;
		clock_greet_pause(s);
	} else
		cmd_greet(s);
}

static void
session_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;

	/* message text that kept coming earned more time: not yet */
	if (!clock_expired(s))
		return;
	if (s->state == S_GREET_PAUSE) {
		cmd_greet(s);
		return;
	}
	if (s->awaiting) {
		/* our own peer is slow; the client's clock was stopped, but a
		 * lost answer must not pin the session for ever */
		log_warnx("[%s] no answer from %s; giving up", s->ip,
		    s->awaiting == AWAIT_COMMIT ? "kurir-queue" : "kurir-auth");
		session_reply(s, "451 4.3.0 %s Error: internal timeout",
		    S.conf.hostname);
		session_close(s, "internal timeout");
		return;
	}
	session_reply(s, "421 4.4.2 %s Error: timeout exceeded",
	    S.conf.hostname);
	session_close(s, "timeout");
}

void
session_reset_txn(struct session *s)
{
	size_t i;

	for (i = 0; i < s->nrcpts; i++)
		free(s->rcpts[i]);
	free(s->rcpts);
	s->rcpts = NULL;
	s->nrcpts = 0;
	s->has_mail = 0;
	s->sender[0] = '\0';
	s->smtputf8 = s->body8 = 0;
	s->declared_size = 0;
	s->msg_bytes = 0;
	textdec_init(&s->dec, S.conf.smtp_line_length_limit);
	s->bdat_used = 0;
	s->bdat_left = 0;
	s->bdat_last = 0;
	buf_reset(&s->chunk);
	s->data_due = 0;
	/* a transaction open at the queue is abandoned: nothing was promised */
	data_abort(s);
}

void
session_await(struct session *s, enum await_kind kind)
{
	s->awaiting = kind;
	clock_await(s);
}

void
session_close(struct session *s, const char *why)
{
	/* an AUTH still with kurir-auth: have it drop the check, so a flood
	 * of AUTHs that hang up costs no crypt(3) (authproto.h); a link that
	 * is down has nothing in flight */
	if (s->awaiting == AWAIT_AUTH && peer_up(&S.auth) &&
	    peer_send(&S.auth, AP_CANCEL, s->id, NULL, 0) == -1)
		log_warnx("[%s] cannot cancel the AUTH in flight", s->ip);
	/* out of every list first: nothing reached from here finds it */
	TAILQ_REMOVE(&S.sessions, s, entry);
	S.nsessions--;
	session_flush(s);
	log_info("disconnect from [%s] ehlo=%d mail=%u rcpt=%u data=%u "
	    "quit=%u%s%s", s->ip, s->helo[0] != '\0', s->n_mail, s->n_rcpt,
	    s->n_data, s->n_quit, why ? " " : "", why ? why : "");
	session_reset_txn(s);
	if (s->tls) {
		tls_close(s->tls);	/* best effort close_notify; no waiting */
		tls_free(s->tls);
	}
	if (s->ev_read)
		event_free(s->ev_read);
	if (s->ev_write)
		event_free(s->ev_write);
	if (s->ev_timer)
		event_free(s->ev_timer);
	close(s->fd);
	buf_free(&s->in);	/* wipes: it may hold AUTH secrets */
	buf_free(&s->out);
	buf_free(&s->chunk);
	free(s);
	if (S.stopping && S.nsessions == 0)
		event_base_loopexit(S.base, NULL);
}

void
session_reply(struct session *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	sockio_vline(&s->out, s->ip, fmt, ap);
	va_end(ap);
}

/* A reply that counts as a client error (smtp_max_errors). */
void
session_error(struct session *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	sockio_vline(&s->out, s->ip, fmt, ap);
	va_end(ap);
	if (++s->errors >= S.conf.smtp_max_errors && s->state != S_CLOSING) {
		session_reply(s, "421 4.7.0 %s Error: too many errors",
		    S.conf.hostname);
		s->state = S_CLOSING;
	}
}

/* Write what we can; -1 if the client is gone. */
static int
session_write_some(struct session *s)
{
	return sockio_write(s->fd, s->tls, &s->out, s->ev_write);
}

void
session_flush(struct session *s)
{
	session_write_some(s);
}

static void
session_write_cb(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;

	if (s->state == S_TLS) {
		session_start_tls(s);
		if (s->state == S_CLOSING)
			session_close(s, "TLS failed");
		return;
	}
	if (session_write_some(s) == -1) {
		session_close(s, "write error");
		return;
	}
	if (s->out.len == 0 && s->state == S_CLOSING) {
		session_close(s, NULL);
		return;
	}
	/* room again: go on with input that waited for it */
	if (s->out.len < SESSION_OUT_MAX && s->in.len > 0 && !s->awaiting) {
		session_process(s);
		session_write_some(s);
		if (s->state == S_CLOSING && s->out.len == 0) {
			session_close(s, NULL);
			return;
		}
	}
	session_want_read(s);
}

/* One complete command line (CRLF or LF removed). */
static void
session_line(struct session *s, const char *line, size_t len)
{
	if (s->state == S_AUTH)
		cmd_auth_line(s, line, len);
	else
		cmd_line(s, line, len);
}

/*
 * Take complete lines (or message data) out of the input buffer until it
 * runs dry, a reply has to wait for a peer, or the state stops reading.
 */
static void
session_process(struct session *s)
{
	size_t used, len, max;
	enum linecut r;

	while (s->in.len > 0 && !s->awaiting && s->state != S_CLOSING &&
	    s->state != S_TLS && s->out.len < SESSION_OUT_MAX &&
	    !queue_backlogged(s)) {
		if (s->state == S_GREET_PAUSE) {
			log_warnx("[%s] talked before the greeting; refused", s->ip);
			session_reply(s, "554 5.5.0 %s Error: SMTP protocol "
			    "violation: command sent before greeting",
			    S.conf.hostname);
			s->state = S_CLOSING;
			break;
		}
		if (s->state == S_DATA) {
			used = data_consume(s, s->in.data, s->in.len);
			buf_drain(&s->in, used);
			if (s->state != S_DATA)
				clock_next(s);	/* the text is complete */
			if (used == 0)
				break;
			continue;
		}
		if (s->state == S_SKIP) {
			used = s->in.len < s->skip_left ? s->in.len :
			    (size_t)s->skip_left;
			buf_drain(&s->in, used);
			if ((s->skip_left -= used) == 0) {
				s->state = S_CMD;
				clock_next(s);
			}
			continue;
		}
		if (s->state == S_BDAT) {
			used = bdat_consume(s, s->in.data, s->in.len);
			buf_drain(&s->in, used);
			if (s->state != S_BDAT)
				clock_next(s);	/* the chunk is complete */
			if (used == 0)
				break;
			continue;
		}
		buf_drain(&s->in, linecut_skip(s->in.data, s->in.len,
		    &s->discarding));
		if (s->discarding || s->in.len == 0)
			break;
		max = SMTP_LINE_MAX;
		if (s->state == S_AUTH || (s->in.len >= 5 &&
		    strncasecmp(s->in.data, "AUTH ", 5) == 0))
			max = SMTP_AUTH_LINE_MAX;
		r = linecut_next(s->in.data, s->in.len, max, &s->discarding,
		    &len, &used);
		if (r == LINECUT_MORE)
			break;
		if (r == LINECUT_LONG) {
			buf_drain(&s->in, used);
			session_error(s, "500 5.5.2 Error: line too long");
			continue;
		}
		if (memchr(s->in.data, '\0', len) != NULL ||
		    memchr(s->in.data, '\r', len) != NULL) {
			buf_drain(&s->in, used);
			session_error(s, "500 5.5.2 Error: NUL or bare CR in "
			    "command");
			continue;
		}
		session_line(s, s->in.data, len);
		/* the command is handled: the next one's clock starts now
		 * (pipelined lines each start it as they are taken) */
		clock_next(s);
		/* the handler may have closed or switched to TLS */
		if (s->state == S_TLS)
			return;
		buf_drain(&s->in, used);
	}
}

/* Continue after an answer from a peer arrived. */
void
session_resume(struct session *s)
{
	s->awaiting = 0;
	/* the reply is queued: the client's clock runs again, afresh */
	clock_next(s);
	if (S.stopping) {
		/* the answer it waited for is out; now it goes too */
		session_reply(s, "421 4.3.2 %s Service shutting down",
		    S.conf.hostname);
		session_close(s, "shutdown");
		return;
	}
	session_process(s);
	session_flush(s);
	if (s->state == S_CLOSING && s->out.len == 0) {
		session_close(s, NULL);
		return;
	}
	session_want_read(s);
}

static void
session_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;
	ssize_t n;

	if (s->state == S_TLS) {
		session_start_tls(s);
		if (s->state == S_CLOSING)
			session_close(s, "TLS failed");
		return;
	}
	n = sockio_read(s->fd, s->tls, &s->in, SMTP_CHUNK, s->ev_write);
	if (n == SOCKIO_AGAIN)
		return;
	if (n == SOCKIO_FULL) {
		session_close(s, "input buffer full");
		return;
	}
	if (n <= 0) {
		session_close(s, n == 0 ? "lost connection" : "read error");
		return;
	}
	/* a read moves no command deadline; message text earns time */
	clock_input(s, (size_t)n);
	session_process(s);
	if (session_write_some(s) == -1) {
		session_close(s, "write error");
		return;
	}
	if (s->state == S_CLOSING && s->out.len == 0) {
		session_close(s, NULL);
		return;
	}
	session_want_read(s);
}

/*
 * STARTTLS (RFC 3207): after our 220 the connection is TLS.  Input the
 * client pipelined after STARTTLS was sent in the clear: it is thrown
 * away, never executed inside the TLS session.
 */
void
session_start_tls(struct session *s)
{
	int r;

	if (s->state != S_TLS) {
		session_flush(s);
		buf_reset(&s->in);
		if (tls_accept_socket(S.tls_server, &s->tls, s->fd) == -1) {
			log_warnx("[%s] tls_accept_socket: %s", s->ip,
			    tls_error(S.tls_server));
			s->state = S_CLOSING;	/* the caller closes it */
			return;
		}
		s->state = S_TLS;
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
		/* nothing more can be said to it; the caller closes it */
		s->state = S_CLOSING;
		buf_reset(&s->out);
		return;
	}
	log_info("[%s] TLS established: %s %s", s->ip,
	    tls_conn_version(s->tls), tls_conn_cipher(s->tls));
	/* RFC 3207 4.2: forget everything learned before TLS */
	s->state = S_CMD;
	s->helo[0] = '\0';
	s->esmtp = 0;
	s->auth_user[0] = '\0';
	session_reset_txn(s);
	event_del(s->ev_write);
	clock_next(s);
	/* OpenSSL reads record by record: any EHLO sent right after the
	 * handshake is still in the socket and wakes the read event */
}

/* The queue link drained: go on with sessions held back by it. */
void
sessions_kick(void)
{
	struct session *s, *next;

	for (s = TAILQ_FIRST(&S.sessions); s != NULL; s = next) {
		next = TAILQ_NEXT(s, entry);
		if (s->awaiting)
			continue;
		if (s->in.len > 0)
			session_process(s);
		session_flush(s);
		if (s->state == S_CLOSING && s->out.len == 0) {
			session_close(s, NULL);
			continue;
		}
		session_want_read(s);
	}
}

void
smtpd_stop(void)
{
	struct session *s, *next;
	int i;

	S.stopping = 1;
	for (i = 0; i < S.nlisteners; i++)
		if (S.listeners[i].ev)
			event_del(S.listeners[i].ev);
	/* sessions not waiting on a commit are told and closed now */
	for (s = TAILQ_FIRST(&S.sessions); s != NULL; s = next) {
		next = TAILQ_NEXT(s, entry);
		if (s->awaiting)
			continue;
		session_reply(s, "421 4.3.2 %s Service shutting down",
		    S.conf.hostname);
		session_close(s, "shutdown");
	}
	if (S.nsessions == 0)
		event_base_loopexit(S.base, NULL);
}
