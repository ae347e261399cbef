/*
 * session.c - one delivery by kurir-remote: a message, one destination
 * domain, its recipients.
 *
 * Route (routes_file) or MX (dns.c) gives the addresses to try, in
 * order.  For each until one takes the transaction: connect (bounded),
 * greeting, EHLO (HELO if EHLO is refused), STARTTLS when offered and
 * not tls=none (tls=require and tls=verify insist; tls=may falls back
 * to plain text on the same host when the handshake fails), EHLO again,
 * then one transaction: MAIL FROM (SIZE, BODY=8BITMIME, SMTPUTF8 as
 * offered), every RCPT, DATA; pipelined when offered.  The message is
 * read from the queue entry in chunks, every CR in it made a line end and
 * its lines over 998 octets folded (fold.c: a bare CR could smuggle
 * commands past the next hop, RFC 5321 4.5.3.1.6 allows no longer line
 * on the wire, and kurir accepts longer ones), sent with CRLF line ends
 * and dot-stuffed; no
 * line is ever held whole.  Every reply is parsed with bounds (reply.c); a
 * malformed or oversized reply, a timeout, or plain text left over after
 * "220" to STARTTLS ends the attempt with that host.
 *
 * Results, per recipient: the server's reply to RCPT if it refused it
 * (4xx temporary, 5xx permanent), else the reply to the final "."; a
 * host that fails before MAIL passes the turn to the next address;
 * after MAIL the outcome with that host stands.  An attempt that ends
 * after the final "." without a reply is reported temporary: the message
 * may then arrive twice, which RFC 5321 accepts over losing it.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "remote.h"

static void sess_io_cb(evutil_socket_t, short, void *);
static void sess_next_target(struct session *);
static void sess_finish(struct session *);

/* ---- results ------------------------------------------------------------ */

static void
set_result(struct session *s, size_t i, int cls, const char *fmt, ...)
{
	char text[REMOTE_RESULT_MAX];
	va_list ap;

	if (s->result[i] != NULL)
		return;		/* the first word on a recipient stands */
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (asprintf(&s->result[i], "%d %s", cls, text) == -1)
		s->result[i] = NULL;
}

/* Every recipient without a result gets this one. */
static void
set_all(struct session *s, int cls, const char *text)
{
	size_t i;

	for (i = 0; i < s->req.nrcpts; i++)
		set_result(s, i, cls, "%s", text);
}

static void
sess_error(struct session *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->last_error, sizeof(s->last_error), fmt, ap);
	va_end(ap);
}

/* ---- the connection -------------------------------------------------------- */

static void
sess_close_conn(struct session *s)
{
	if (s->ev != NULL) {
		event_free(s->ev);
		s->ev = NULL;
	}
	if (s->ev_timeout != NULL)
		evtimer_del(s->ev_timeout);
	if (s->tls != NULL) {
		tls_close(s->tls);
		tls_free(s->tls);
		s->tls = NULL;
	}
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	buf_reset(&s->in);
	buf_reset(&s->out);
}

static void
sess_timer(struct session *s, long long secs)
{
	struct timeval tv = { (time_t)secs, 0 };

	evtimer_add(s->ev_timeout, &tv);
}

/* Wait for input, and for output room while there is something to send. */
static void
sess_arm(struct session *s, short extra)
{
	short what = EV_READ | extra;

	if (s->out.len > 0)
		what |= EV_WRITE;
	if (s->ev != NULL)
		event_free(s->ev);
	if ((s->ev = event_new(R.base, s->fd, what, sess_io_cb, s)) == NULL ||
	    event_add(s->ev, NULL) == -1) {
		sess_error(s, "4.3.0 out of memory");
		sess_close_conn(s);
		sess_next_target(s);
	}
}

static int
sess_printf(struct session *s, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = buf_vprintf(&s->out, fmt, ap);
	va_end(ap);
	return r;
}

/* ---- after the attempt ---------------------------------------------------- */

/* Done with this host: say goodbye (best effort, no waiting) and close. */
static void
sess_quit(struct session *s)
{
	if (s->fd >= 0 && s->state != SS_CONNECT && s->state != SS_HANDSHAKE &&
	    s->out.len == 0) {
		if (s->tls != NULL)
			(void)tls_write(s->tls, "QUIT\r\n", 6);
		else
			(void)send(s->fd, "QUIT\r\n", 6, MSG_DONTWAIT |
			    MSG_NOSIGNAL);
	}
	sess_close_conn(s);
}

/* Failed before the transaction: the next address may do better. */
static void
sess_host_failed(struct session *s)
{
	if (s->state >= SS_TRANSACTION && s->nsent > 0) {
		/* MAIL went out: what this host said stands; the rest waits */
		if (s->committed)
			set_all(s, 4, s->last_error[0] ? s->last_error :
			    "4.4.2 connection lost after the message was sent");
		else
			set_all(s, 4, s->last_error);
		sess_quit(s);
		sess_finish(s);
		return;
	}
	sess_quit(s);
	if (s->tls_failed != 1)		/* tls=may: this host again, plain */
		s->cur++;
	sess_next_target(s);
}

static void
sess_target_name(struct session *s)
{
	const struct dns_target *t = &s->targets[s->cur];
	char ip[INET6_ADDRSTRLEN];
	unsigned port = 0;

	ip[0] = '\0';
	if (t->ss.ss_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)&t->ss;
		inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
		port = ntohs(in->sin_port);
	} else if (t->ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)&t->ss;
		inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
		port = ntohs(in6->sin6_port);
	}
	snprintf(s->peer, sizeof(s->peer), "%s [%s]:%u", t->host, ip, port);
}

static void
sess_connect(struct session *s)
{
	const struct dns_target *t = &s->targets[s->cur];
	int fd;

	sess_target_name(s);
	strlcpy(s->mta, t->host, sizeof(s->mta));
	s->state = SS_CONNECT;
	s->nsent = s->sent_head = 0;
	s->rcpt_next = s->accepted = 0;
	memset(&s->ext, 0, sizeof(s->ext));
	reply_init(&s->rp);
	if ((fd = socket(t->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1) {
		sess_error(s, "4.4.1 cannot connect to %s: %s", s->peer,
		    strerror(errno));
		s->cur++;
		sess_next_target(s);
		return;
	}
	s->fd = fd;
	if (connect(fd, (const struct sockaddr *)&t->ss, t->sslen) == -1 &&
	    errno != EINPROGRESS) {
		sess_error(s, "4.4.1 connect to %s: %s", s->peer,
		    strerror(errno));
		sess_close_conn(s);
		s->cur++;
		sess_next_target(s);
		return;
	}
	sess_timer(s, R.conf.smtp_command_timeout < REMOTE_CONNECT_MAX ?
	    R.conf.smtp_command_timeout : REMOTE_CONNECT_MAX);
	if (s->ev != NULL)
		event_free(s->ev);
	if ((s->ev = event_new(R.base, fd, EV_WRITE, sess_io_cb, s)) == NULL ||
	    event_add(s->ev, NULL) == -1) {
		sess_error(s, "4.3.0 out of memory");
		sess_host_failed(s);
	}
}

static void
sess_next_target(struct session *s)
{
	if (s->tls_failed == 1) {
		/* tls=may and the handshake failed: same host, plain text */
		s->tls_failed = 2;
		sess_connect(s);
		return;
	}
	s->tls_failed = 0;
	if (s->cur >= s->ntargets) {
		set_all(s, 4, s->last_error[0] ? s->last_error :
		    "4.4.1 no mail server of the domain could be reached");
		sess_finish(s);
		return;
	}
	sess_connect(s);
}

/*
 * The destination is this host: a loop (SPEC 9).  Permanent, for every
 * recipient, and no other host is tried: the next would be as wrong.
 */
static void
sess_loop(struct session *s, const char *how)
{
	log_warnx("%s: %s %s: mail loops back to myself", s->req.domain,
	    s->peer[0] ? s->peer : "destination", how);
	sess_error(s, "5.4.6 mail for %s loops back to myself", s->req.domain);
	set_all(s, 5, s->last_error);
	sess_quit(s);
	sess_finish(s);
}

/* ---- the protocol -------------------------------------------------------- */

static int
has_8bit(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s >= 0x80)
			return 1;
	return 0;
}

/* MAIL, RCPT..., DATA: all at once when pipelining, else MAIL alone. */
static void
sess_transaction(struct session *s)
{
	size_t i;
	int utf8 = has_8bit(s->req.sender);

	s->state = SS_TRANSACTION;
	for (i = 0; i < s->req.nrcpts; i++)
		utf8 |= has_8bit(s->req.rcpts[i]);
	if (s->ext.size_given && s->ext.size > 0 &&
	    (unsigned long long)s->req.size > s->ext.size) {
		sess_error(s, "5.3.4 message of %lld bytes is over the limit "
		    "of %s (%llu)", s->req.size, s->peer, s->ext.size);
		set_all(s, 5, s->last_error);
		sess_quit(s);
		sess_finish(s);
		return;
	}
	if (utf8 && !s->ext.smtputf8) {
		sess_error(s, "5.6.7 %s does not support SMTPUTF8, which the "
		    "addresses need", s->peer);
		set_all(s, 5, s->last_error);
		sess_quit(s);
		sess_finish(s);
		return;
	}
	sess_printf(s, "MAIL FROM:<%s>", s->req.sender);
	if (s->ext.size_given)
		sess_printf(s, " SIZE=%lld", s->req.size);
	if (s->ext.eightbitmime)
		sess_printf(s, " BODY=8BITMIME");
	if (utf8)
		sess_printf(s, " SMTPUTF8");
	sess_printf(s, "\r\n");
	s->sent[s->nsent++] = SC_MAIL;
	if (s->ext.pipelining) {
		for (i = 0; i < s->req.nrcpts; i++) {
			sess_printf(s, "RCPT TO:<%s>\r\n", s->req.rcpts[i]);
			s->sent[s->nsent++] = SC_RCPT;
		}
		sess_printf(s, "DATA\r\n");
		s->sent[s->nsent++] = SC_DATA;
	}
	sess_timer(s, R.conf.smtp_command_timeout);
}

/*
 * Every reply sent so far is in.  Without pipelining: the next RCPT, or
 * DATA; with it, everything went at once.  -1: the session ended.
 */
static int
sess_send_next(struct session *s)
{
	size_t nrcpt = s->nsent - 1;	/* RCPTs sent: MAIL went first */

	if (s->mail_failed || (s->ext.pipelining == 0 &&
	    nrcpt == s->req.nrcpts && s->accepted == 0)) {
		sess_quit(s);
		sess_finish(s);
		return -1;
	}
	if (s->ext.pipelining)
		return 0;
	if (nrcpt < s->req.nrcpts) {
		sess_printf(s, "RCPT TO:<%s>\r\n", s->req.rcpts[nrcpt]);
		s->sent[s->nsent++] = SC_RCPT;
	} else {
		sess_printf(s, "DATA\r\n");
		s->sent[s->nsent++] = SC_DATA;
	}
	return 0;
}

/*
 * Fold, then encode: what fold.c makes of a chunk goes through a
 * scratch buffer into dotenc.  A chunk grows by at most two octets per
 * 998 and the bytes fold.c held back (under 998), so the cap is never
 * met; it is there so that a bug cannot grow the buffer.
 */
static int
sess_body_add(struct session *s, const char *p, size_t n, int end)
{
	/* one process, one loop: shared by all sessions, empty between */
	static struct buf folded = { .max = 2 * REMOTE_CHUNK +
	    FOLD_LINE_MAX };
	int r;

	buf_reset(&folded);
	r = fold_add(&s->fold, p, n, &folded);
	if (r == 0 && end)
		r = fold_end(&s->fold, &folded);
	if (r == 0)
		r = dotenc_add(&s->enc, folded.data, folded.len, &s->out);
	buf_reset(&folded);
	return r;
}

/* Fill the output with the next part of the message. */
static int
sess_body_fill(struct session *s)
{
	/* one process, one loop: the read buffer is shared by all sessions */
	static char chunk[REMOTE_CHUNK];
	size_t want;
	ssize_t n;

	while (s->out.len < REMOTE_OUT_HIGH && s->body_off < s->req.size) {
		want = s->req.size - s->body_off < REMOTE_CHUNK ?
		    (size_t)(s->req.size - s->body_off) : REMOTE_CHUNK;
		n = pread(s->qfd, chunk, want,
		    (off_t)(s->req.offset + s->body_off));
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;	/* the entry is shorter than promised */
		s->body_off += n;
		if (sess_body_add(s, chunk, (size_t)n,
		    s->body_off == s->req.size) == -1)
			return -1;
	}
	if (s->body_off == s->req.size && s->state == SS_BODY) {
		if (s->req.size == 0 && sess_body_add(s, NULL, 0, 1) == -1)
			return -1;
		if (s->fold.folds > 0)
			log_info("%s: %s: %llu line end%s inserted to keep "
			    "lines within 998 octets", s->req.domain, s->peer,
			    s->fold.folds, s->fold.folds == 1 ? "" : "s");
		if (s->fold.crs > 0)
			log_info("%s: %s: %llu CR%s sent as line ends",
			    s->req.domain, s->peer, s->fold.crs,
			    s->fold.crs == 1 ? "" : "s");
		if (dotenc_end(&s->enc, &s->out) == -1)
			return -1;
		s->state = SS_DOT;	/* the "." is queued: committed soon */
	}
	return 0;
}

static void
sess_start_tls(struct session *s)
{
	struct tls_config *cfg = s->tls_mode == ROUTE_TLS_VERIFY ?
	    R.tls_verify : R.tls_plain;
	const char *name = s->route != NULL ? s->route_host :
	    s->targets[s->cur].host;

	if (cfg == NULL || (s->tls = tls_client()) == NULL ||
	    tls_configure(s->tls, cfg) == -1 ||
	    tls_connect_socket(s->tls, s->fd, name) == -1) {
		sess_error(s, "4.7.5 TLS with %s: %s", s->peer,
		    cfg == NULL ? "no CA bundle for verification" :
		    s->tls ? tls_error(s->tls) : "tls_client");
		if (s->tls_mode == ROUTE_TLS_MAY)
			s->tls_failed = 1;
		sess_host_failed(s);
		return;
	}
	s->state = SS_HANDSHAKE;
	sess_arm(s, EV_WRITE);
}

static void
sess_handshake(struct session *s)
{
	int r = tls_handshake(s->tls);

	if (r == TLS_WANT_POLLIN || r == TLS_WANT_POLLOUT) {
		sess_arm(s, r == TLS_WANT_POLLOUT ? EV_WRITE : 0);
		return;
	}
	if (r == -1) {
		sess_error(s, "4.7.5 TLS handshake with %s failed: %s",
		    s->peer, tls_error(s->tls));
		if (s->tls_mode == ROUTE_TLS_MAY)
			s->tls_failed = 1;
		sess_host_failed(s);
		return;
	}
	log_debug("TLS with %s: %s %s", s->peer, tls_conn_version(s->tls),
	    tls_conn_cipher(s->tls));
	/* RFC 3207: forget what was learned before TLS, ask again */
	memset(&s->ext, 0, sizeof(s->ext));
	s->state = SS_EHLO;
	sess_printf(s, "EHLO %s\r\n", R.conf.hostname);
	sess_timer(s, R.conf.smtp_command_timeout);
	sess_arm(s, 0);
}

/* One complete reply, in the state it arrived in.  0, or -1: stop
 * reading (the session moved on or ended). */
static int
sess_reply(struct session *s, const struct reply *rep, int more_input)
{
	char diag[REMOTE_RESULT_MAX], code[16];
	int cls = rep->code / 100;
	enum sent_cmd cmd;

	/*
	 * Replies in the transaction are reported as the server gave them
	 * (the DSN's Diagnostic-Code); a host that fails before it carries
	 * our enhanced code in front, as our other diagnostics do.
	 */
	reply_diag(rep, diag, sizeof(diag));
	reply_status_code(rep, code, sizeof(code));
	if (s->state < SS_TRANSACTION)
		code[0] = '4';	/* another host, or later, may do better */
	switch (s->state) {
	case SS_GREETING:
		if (cls != 2) {
			sess_error(s, "%s %s greeted with: %s", code, s->peer, diag);
			sess_host_failed(s);
			return -1;
		}
		if (self_is_my_name(rep->text, strlen(rep->text),
		    R.conf.hostname)) {
			sess_loop(s, "greeted with our own hostname");
			return -1;
		}
		s->state = SS_EHLO;
		sess_printf(s, "EHLO %s\r\n", R.conf.hostname);
		break;
	case SS_EHLO:
		if (cls != 2) {
			if (s->tls != NULL || cls != 5) {
				sess_error(s, "%s %s refused EHLO: %s", code, s->peer,
				    diag);
				sess_host_failed(s);
				return -1;
			}
			s->state = SS_HELO;
			sess_printf(s, "HELO %s\r\n", R.conf.hostname);
			break;
		}
		if (self_is_my_name(rep->text, strlen(rep->text),
		    R.conf.hostname)) {
			sess_loop(s, "answered EHLO with our own hostname");
			return -1;
		}
		ehlo_parse(rep, &s->ext);
		if (s->tls == NULL && s->tls_failed == 0 &&
		    s->tls_mode != ROUTE_TLS_NONE && s->ext.starttls) {
			s->state = SS_STARTTLS;
			sess_printf(s, "STARTTLS\r\n");
			break;
		}
		/* FALLTHROUGH */
	case SS_HELO:
		if (cls != 2) {
			sess_error(s, "%s %s refused HELO: %s", code, s->peer, diag);
			sess_host_failed(s);
			return -1;
		}
		if (s->tls == NULL && (s->tls_mode == ROUTE_TLS_REQUIRE ||
		    s->tls_mode == ROUTE_TLS_VERIFY)) {
			sess_error(s, "4.7.4 TLS is required for %s, which "
			    "offers no STARTTLS", s->peer);
			sess_host_failed(s);
			return -1;
		}
		sess_transaction(s);
		return s->state == SS_TRANSACTION ? 0 : -1;
	case SS_STARTTLS:
		if (cls != 2) {
			if (s->tls_mode == ROUTE_TLS_MAY) {
				sess_transaction(s);
				return s->state == SS_TRANSACTION ? 0 : -1;
			}
			sess_error(s, "%s %s refused STARTTLS: %s", code, s->peer,
			    diag);
			sess_host_failed(s);
			return -1;
		}
		if (more_input) {
			/* plain text injected before the handshake (RFC 3207) */
			sess_error(s, "4.7.0 %s sent data after its reply to "
			    "STARTTLS", s->peer);
			sess_host_failed(s);
			return -1;
		}
		sess_start_tls(s);
		return -1;
	case SS_TRANSACTION:
		if (s->sent_head >= s->nsent) {
			sess_error(s, "4.5.0 %s replied to nothing: %s",
			    s->peer, diag);
			sess_host_failed(s);
			return -1;
		}
		cmd = s->sent[s->sent_head++];
		if (cmd == SC_MAIL) {
			if (cls != 2) {
				sess_error(s, "%s", diag);
				set_all(s, cls == 5 ? 5 : 4, s->last_error);
				s->mail_failed = 1;
			}
		} else if (cmd == SC_RCPT) {
			if (cls == 2)
				s->accepted++;
			else
				set_result(s, s->rcpt_next, cls == 5 ? 5 : 4,
				    "%s", diag);
			s->rcpt_next++;
		} else if (cmd == SC_DATA) {
			if (rep->code != 354 || s->accepted == 0 ||
			    s->mail_failed) {
				if (rep->code != 354)
					sess_error(s, "%s", diag);
				set_all(s, cls == 5 ? 5 : 4, s->last_error[0] ?
				    s->last_error : "4.5.0 DATA refused");
				/* a 354 with nobody to send to: hang up */
				sess_quit(s);
				sess_finish(s);
				return -1;
			}
			s->state = SS_BODY;
			fold_init(&s->fold);
			dotenc_init(&s->enc);
			s->body_off = 0;
			if (sess_body_fill(s) == -1) {
				sess_error(s, "4.3.0 the queue entry cannot "
				    "be read");
				sess_close_conn(s);	/* no "." */
				set_all(s, 4, s->last_error);
				sess_finish(s);
				return -1;
			}
			sess_timer(s, R.conf.smtp_data_timeout);
			return 0;
		}
		if (s->sent_head == s->nsent && sess_send_next(s) == -1)
			return -1;
		break;
	case SS_BODY:
	case SS_DOT:
		/* the reply to the final "." (or an early refusal) */
		if (cls == 2) {
			size_t i;
			for (i = 0; i < s->req.nrcpts; i++)
				set_result(s, i, 2, "%s", diag);
			log_info("%s: delivered to %zu recipient%s at %s (%s)",
			    s->req.domain, s->accepted, s->accepted == 1 ?
			    "" : "s", s->peer, diag);
		} else {
			sess_error(s, "%s", diag);
			set_all(s, cls == 5 ? 5 : 4, s->last_error);
		}
		sess_quit(s);
		sess_finish(s);
		return -1;
	default:
		sess_error(s, "4.5.0 unexpected reply from %s: %s", s->peer,
		    diag);
		sess_host_failed(s);
		return -1;
	}
	sess_timer(s, R.conf.smtp_command_timeout);
	return 0;
}

/* ---- I/O ------------------------------------------------------------------ */

/* Send what can go.  0, or -1 (connection gone: the session moved on). */
static int
sess_flush(struct session *s)
{
	ssize_t n;

	while (s->out.len > 0) {
		if (s->tls != NULL) {
			n = tls_write(s->tls, s->out.data, s->out.len);
			if (n == TLS_WANT_POLLIN || n == TLS_WANT_POLLOUT)
				return 0;
		} else {
			n = send(s->fd, s->out.data, s->out.len,
			    MSG_DONTWAIT | MSG_NOSIGNAL);
			if (n == -1 && (errno == EAGAIN || errno == EINTR))
				return 0;
		}
		if (n <= 0) {
			sess_error(s, "4.4.2 connection to %s lost while "
			    "sending: %s", s->peer, s->tls && n == -1 ?
			    tls_error(s->tls) : strerror(errno));
			sess_host_failed(s);
			return -1;
		}
		buf_drain(&s->out, (size_t)n);
		if (s->state == SS_BODY || s->state == SS_DOT) {
			if (s->state == SS_DOT && s->out.len == 0)
				s->committed = 1;
			sess_timer(s, R.conf.smtp_data_timeout);
			if (sess_body_fill(s) == -1) {
				sess_error(s, "4.3.0 the queue entry cannot "
				    "be read");
				sess_close_conn(s);
				set_all(s, 4, s->last_error);
				sess_finish(s);
				return -1;
			}
		}
	}
	return 0;
}

/* Read and handle replies until the socket (or TLS) has no more.  0,
 * or -1 (the session moved on). */
static int
sess_input(struct session *s)
{
	char tmp[4096];
	struct reply rep;
	const char *why;
	size_t used;
	ssize_t n;
	enum reply_status st;

	for (;;) {
		if (s->tls != NULL) {
			/* libtls may hold decrypted bytes the socket no
			 * longer shows: read until it wants more */
			n = tls_read(s->tls, tmp, sizeof(tmp));
			if (n == TLS_WANT_POLLIN || n == TLS_WANT_POLLOUT)
				return 0;
		} else {
			n = recv(s->fd, tmp, sizeof(tmp), MSG_DONTWAIT);
			if (n == -1 && errno == EINTR)
				continue;
			if (n == -1 && errno == EAGAIN)
				return 0;
		}
		if (n <= 0) {
			if (s->last_error[0] == '\0' ||
			    s->state < SS_TRANSACTION)
				sess_error(s, "4.4.2 %s closed the connection%s",
				    s->peer, s->committed ? " after the "
				    "message was sent" : "");
			sess_host_failed(s);
			return -1;
		}
		/* the parser keeps what it needs (bounded); in holds the
		 * bytes after a complete reply */
		if (buf_add(&s->in, tmp, (size_t)n) == -1) {
			sess_error(s, "4.5.0 %s sends too much", s->peer);
			sess_host_failed(s);
			return -1;
		}
		while (s->in.len > 0) {
			st = reply_feed(&s->rp, s->in.data, s->in.len, &used,
			    &rep, &why);
			if (st == REPLY_BAD) {
				sess_error(s, "4.5.0 bad reply from %s: %s",
				    s->peer, why);
				sess_host_failed(s);
				return -1;
			}
			buf_drain(&s->in, used);
			if (st == REPLY_MORE)
				break;
			if (sess_reply(s, &rep, s->in.len > 0) == -1)
				return -1;
		}
	}
}

static void
sess_connected(struct session *s)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		err = errno;
	if (err != 0) {
		sess_error(s, "4.4.1 connect to %s: %s", s->peer,
		    strerror(err));
		sess_close_conn(s);
		s->cur++;
		sess_next_target(s);
		return;
	}
	s->state = SS_GREETING;
	sess_timer(s, R.conf.smtp_command_timeout);
	sess_arm(s, 0);
}

static void
sess_io_cb(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;

	if (s->state == SS_CONNECT) {
		sess_connected(s);
		return;
	}
	if (s->state == SS_HANDSHAKE) {
		sess_handshake(s);
		return;
	}
	if ((what & EV_WRITE) && sess_flush(s) == -1)
		return;
	if ((what & EV_READ) && sess_input(s) == -1)
		return;
	/* a reply may have queued a command: send it now */
	if (s->out.len > 0 && sess_flush(s) == -1)
		return;
	sess_arm(s, 0);
}

static void
sess_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;

	sess_error(s, "4.4.2 timeout %s %s", s->state == SS_CONNECT ?
	    "connecting to" : s->committed ? "waiting for the reply to the "
	    "message from" : "waiting for", s->peer);
	sess_host_failed(s);
}

/* ---- requests ----------------------------------------------------------- */

static void
sess_dns_cb(void *arg, enum dns_status st, const char *why,
    const struct dns_target *t, size_t n)
{
	struct session *s = arg;

	if (s->abandoned) {
		session_free(s);
		return;
	}
	if (st != DNS_OK || n == 0) {
		set_all(s, st == DNS_PERM ? 5 : 4, why ? why :
		    "4.4.3 no address for the destination");
		sess_finish(s);
		return;
	}
	if ((s->targets = reallocarray(NULL, n, sizeof(*t))) == NULL) {
		set_all(s, 4, "4.3.0 out of memory");
		sess_finish(s);
		return;
	}
	memcpy(s->targets, t, n * sizeof(*t));
	s->ntargets = n;
	s->cur = 0;
	/*
	 * An MX (or the A/AAAA fallback) that is one of our own listeners:
	 * as Postfix does, that host and every one after it (worse
	 * preference) are dropped, and with none before it the mail loops.
	 * A routes_file host was named by the admin and is tried; a loop
	 * through it is still caught by its greeting (our hostname).
	 */
	if (s->route == NULL) {
		size_t i;
		for (i = 0; i < n; i++)
			if (self_is_me(&R.self, (const struct sockaddr *)
			    &s->targets[i].ss))
				break;
		if (i < n) {
			s->cur = i;
			sess_target_name(s);
			if (i == 0) {
				sess_loop(s, "is one of our SMTP listeners");
				return;
			}
			log_info("%s: %s is one of our SMTP listeners; only "
			    "the %zu better destination%s tried",
			    s->req.domain, s->peer, i, i == 1 ? "" : "s");
			s->peer[0] = '\0';
			s->ntargets = i;
			s->cur = 0;
		}
	}
	sess_next_target(s);
}

void
session_start(uint32_t id, const char *payload, size_t len, int qfd)
{
	struct session *s;
	const char *why;

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		close(qfd);
		log_warn("request %u dropped", id);
		return;	/* kurir-send sees no answer: the link resets */
	}
	s->id = id;
	s->qfd = qfd;
	s->fd = -1;
	s->link_gen = R.link_gen;
	buf_init(&s->in, 4 * 4096);
	buf_init(&s->out, 0);
	TAILQ_INSERT_TAIL(&R.sessions, s, entry);
	R.nsessions++;
	if ((s->ev_timeout = evtimer_new(R.base, sess_timeout_cb, s)) == NULL) {
		sess_finish(s);
		return;
	}
	if (len > sizeof(s->payload) || (memcpy(s->payload, payload, len),
	    remote_req_parse(s->payload, len, &s->req, &why)) == -1) {
		log_warnx("request %u refused: %s", id,
		    len > sizeof(s->payload) ? "too long" : why);
		sess_finish(s);
		return;
	}
	if (qfd < 0) {
		set_all(s, 4, "4.3.0 no queue entry came with the request");
		sess_finish(s);
		return;
	}
	s->state = SS_RESOLVE;
	s->tls_mode = ROUTE_TLS_MAY;
	if (R.routes != NULL &&
	    (s->route = routes_lookup(R.routes, s->req.domain)) != NULL) {
		strlcpy(s->route_host, s->route->host, sizeof(s->route_host));
		s->tls_mode = s->route->tls;
		dns_resolve_host(s->route_host, s->route->port, sess_dns_cb, s);
	} else
		dns_resolve_mx(s->req.domain, 25, sess_dns_cb, s);
}

/* Answer and forget the session. */
static void
sess_finish(struct session *s)
{
	s->state = SS_DONE;
	sess_close_conn(s);
	if (s->link_gen == R.link_gen)
		remote_answer(s);
	session_free(s);
}

void
session_free(struct session *s)
{
	size_t i;

	sess_close_conn(s);
	if (s->ev_timeout != NULL)
		event_free(s->ev_timeout);
	if (s->qfd >= 0)
		close(s->qfd);
	for (i = 0; i < RP_RCPTS_MAX; i++)
		free(s->result[i]);
	free(s->targets);
	buf_free(&s->in);
	buf_free(&s->out);
	TAILQ_REMOVE(&R.sessions, s, entry);
	R.nsessions--;
	free(s);
	remote_session_gone();
}

/*
 * kurir-send is gone: its results have nowhere to go, and the next one
 * sends the same requests again.  Sessions that have not sent the final
 * "." stop now (no copy is made); the others finish.
 */
void
sessions_abandon(void)
{
	struct session *s, *ns;

	for (s = TAILQ_FIRST(&R.sessions); s != NULL; s = ns) {
		ns = TAILQ_NEXT(s, entry);
		if (s->state == SS_RESOLVE) {
			s->abandoned = 1;	/* freed by its DNS callback */
			continue;
		}
		if (s->state != SS_DOT) {
			sess_quit(s);
			session_free(s);
		}
	}
}
