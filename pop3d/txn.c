/*
 * txn.c - the TRANSACTION and UPDATE states of one POP3 session
 * (RFC 1939 sections 5 and 6; RFC 2449 CAPA, PIPELINING, RESP-CODES;
 * RFC 3206 [SYS/TEMP]; API in txn.h).
 *
 * Run by the session process of kurir-pop3d (kurird forks and execs it
 * per login): the mail user, chrooted into that user's Maildir, in the
 * SANDBOX_POP3_USER seccomp profile (file calls, I/O on descriptors it
 * already holds, poll; no new sockets).
 *
 * Reads: command lines from fd, the stream socket the pre-auth process
 * proxies the client through; the Maildir through pop3d/maildrop.c.
 * Writes: replies and messages to fd; the Maildir only at QUIT
 * (maildrop_commit: DELE unlinks, RETR moves to cur/ with S); one log
 * line per session with counters, never message contents nor command
 * arguments (a PASS sent here may carry a password).
 *
 * Memory stays bounded whatever the client does: input sits in a fixed
 * IN_MAX buffer (a command line is at most POP3_LINE_MAX octets; a
 * longer one is answered once and skipped up to its LF), replies gather
 * in an output buffer written out whenever it passes OUT_HIGH, and a
 * message is streamed from its file through a fixed FILE_BUF buffer.
 * While a reply is being written, pipelined input is still read as far
 * as the input buffer allows, so a client that writes its commands
 * before reading the replies cannot deadlock with us (RFC 2449 6.6).
 */
#include <sys/socket.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "cmd.h"
#include "linecut.h"
#include "log.h"
#include "maildrop.h"
#include "txn.h"

#define IN_MAX		65536		/* pipelined input held at most */
#define OUT_HIGH	(256 * 1024)	/* write replies out past this */
#define FILE_BUF	65536		/* read size when streaming a message */
/*
 * The output buffer's cap: OUT_HIGH plus the largest single addition
 * made before the next check, a converted file chunk (each byte at most
 * doubles: LF -> CRLF, a leading '.' -> "..") or one reply line.
 */
#define OUT_MAX		(OUT_HIGH + 2 * FILE_BUF + 4096)
#define ERR_LEN		256

#define LINE_NONE	0		/* no complete line in the input yet */
#define LINE_OK		1		/* a command line was taken */
#define LINE_LONG	2		/* a line over POP3_LINE_MAX began */

struct txn {
	int			 fd;
	const char		*user;		/* for log lines */
	const struct txn_limits	*lim;
	struct maildrop		 md;
	struct buf		 out;		/* replies not yet written */
	size_t			 in_off;	/* unread input: in[in_off..+in_len) */
	size_t			 in_len;
	int			 eof;		/* the client shut its side */
	int			 discard;	/* skipping a long line up to LF */
	/* the next command must be complete by then (monotonic ms; -1:
	 * none): set when the last reply went out, never moved by a read,
	 * so a line trickled a byte at a time cannot hold the session */
	long long		 deadline;
	unsigned		 bad_run;	/* bad commands in a row */
	int			 done;		/* end and why are set */
	enum txn_end		 end;
	const char		*why;		/* end= in the log line */
	unsigned long		 n_retr, n_top, n_dele, n_deleted;
	unsigned long long	 retr_octets;
	char			 in[IN_MAX];
	char			 file[FILE_BUF];
};

/* Where one RETR or TOP stands in the message it streams. */
struct txn_xfer {
	int			 top;		/* TOP: stop after body lines */
	unsigned long		 lines;		/* TOP: body lines still to send */
	int			 in_body;	/* past the blank line */
	int			 bol;		/* at the beginning of a line */
	int			 cr;		/* the last byte was a CR (its line
						 * ended): an LF next is its own */
	int			 done;		/* TOP: enough lines sent */
	unsigned long long	 sent;		/* octets as maildrop counts them */
};

static int	txn_vreply(struct txn *, const char *, const char *, va_list)
		    __attribute__((format(printf, 3, 0)));
static int	txn_reply(struct txn *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
static int	txn_err(struct txn *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));

/* ---- session end, clock, socket I/O ------------------------------------ */

/*
 * Record how the session ends; the first reason stands, so a failed
 * write of the QUIT reply does not turn a committed UPDATE into a drop.
 * Returns -1 for the caller to pass up.
 */
static int
txn_finish(struct txn *t, enum txn_end end, const char *why)
{
	if (!t->done) {
		t->done = 1;
		t->end = end;
		t->why = why;
	}
	return -1;
}

static long long
txn_now(void)
{
	struct timespec ts;

	/* cannot fail for CLOCK_MONOTONIC on Linux */
	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1)
		return 0;
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* idle_timeout seconds from now, or -1 (no limit) when it is 0 or less */
static long long
txn_deadline(const struct txn *t)
{
	long long s = t->lim->idle_timeout;

	if (s <= 0)
		return -1;
	if (s > LLONG_MAX / 4000)	/* far enough; no overflow below */
		s = LLONG_MAX / 4000;
	return txn_now() + s * 1000;
}

/* Wait for events on fd until deadline: revents, 0 on timeout, -1 error. */
static int
txn_poll(struct txn *t, short events, long long deadline)
{
	struct pollfd pfd[2];
	long long left;
	int r, ms;

	for (;;) {
		ms = -1;
		if (deadline >= 0) {
			if ((left = deadline - txn_now()) <= 0)
				return 0;
			ms = left > INT_MAX ? INT_MAX : (int)left;
		}
		pfd[0].fd = t->fd;
		pfd[0].events = events;
		pfd[0].revents = 0;
		/* the pre-auth process going away ends us too */
		pfd[1].fd = t->lim->watch_fd > 0 ? t->lim->watch_fd : -1;
		pfd[1].events = POLLIN;
		pfd[1].revents = 0;
		if ((r = poll(pfd, 2, ms)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (pfd[1].revents != 0)
			return -1;
		if (r > 0)
			return pfd[0].revents;
		/* 0: a clamped wait ran out; the loop checks the deadline */
	}
}

/*
 * Read what the client sent into the free part of the input buffer.
 * 0 (bytes or none ready; at EOF t->eof is set), -1 on a read error.
 */
static int
txn_read(struct txn *t)
{
	ssize_t r;

	if (t->in_off > 0) {
		memmove(t->in, t->in + t->in_off, t->in_len);
		t->in_off = 0;
	}
	if (t->in_len == sizeof(t->in) || t->eof)
		return 0;
	for (;;) {
		r = read(t->fd, t->in + t->in_len, sizeof(t->in) - t->in_len);
		if (r > 0) {
			t->in_len += (size_t)r;
			return 0;
		}
		if (r == 0) {
			t->eof = 1;
			return 0;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return 0;
		return -1;
	}
}

/*
 * Write the whole output buffer, waiting for room as needed, and read
 * pipelined input meanwhile.  0, or -1 with the session ended (client
 * gone, or no progress for idle_timeout seconds).
 */
static int
txn_flush(struct txn *t)
{
	long long deadline = txn_deadline(t);
	size_t off = 0;
	ssize_t w;
	short ev;
	int rev;

	if (t->out.len == 0)
		return 0;
	while (off < t->out.len) {
		w = send(t->fd, t->out.data + off, t->out.len - off,
		    MSG_NOSIGNAL);
		if (w > 0) {
			off += (size_t)w;
			deadline = txn_deadline(t);
			continue;
		}
		if (w == -1 && errno == EINTR)
			continue;
		if (w == -1 && errno != EAGAIN && errno != EWOULDBLOCK)
			return txn_finish(t, TXN_DROPPED, "dropped");
		ev = POLLOUT;
		if (!t->eof && t->in_len < sizeof(t->in))
			ev |= POLLIN;
		if ((rev = txn_poll(t, ev, deadline)) == 0)
			return txn_finish(t, TXN_DROPPED, "timeout");
		if (rev == -1 || (rev & (POLLERR | POLLNVAL)) ||
		    ((rev & POLLHUP) && !(rev & POLLOUT)))
			return txn_finish(t, TXN_DROPPED, "dropped");
		if ((rev & POLLIN) && txn_read(t) == -1)
			return txn_finish(t, TXN_DROPPED, "dropped");
	}
	buf_reset(&t->out);
	/* the reply went out: the next command's clock starts from here */
	t->deadline = txn_deadline(t);
	return 0;
}

/* Write out the replies once they pass the high mark. */
static int
txn_out_check(struct txn *t)
{
	if (t->out.len >= OUT_HIGH)
		return txn_flush(t);
	return 0;
}

/* ---- replies ------------------------------------------------------------ */

static int
txn_vreply(struct txn *t, const char *prefix, const char *fmt, va_list ap)
{
	if (buf_addstr(&t->out, prefix) == -1 ||
	    buf_vprintf(&t->out, fmt, ap) == -1 ||
	    buf_add(&t->out, "\r\n", 2) == -1) {
		/* cannot happen within OUT_MAX: a sizing bug, not the client */
		log_warn("user=%s: reply", t->user);
		return txn_finish(t, TXN_DROPPED, "dropped");
	}
	return txn_out_check(t);
}

/* One reply line (fmt without CRLF): 0, or -1 when the session ended. */
static int
txn_reply(struct txn *t, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = txn_vreply(t, "", fmt, ap);
	va_end(ap);
	return r;
}

/*
 * "-ERR text": an ordinary answer in the TRANSACTION state (RFC 1939),
 * for a message that does not exist or was deleted, a bad number or
 * count.  Real clients send these and go on; so does the session.
 */
static int
txn_err(struct txn *t, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = txn_vreply(t, "-ERR ", fmt, ap);
	va_end(ap);
	return r;
}

/*
 * "-ERR text" for a line that is no command of this state at all (an
 * unknown word, USER after login, an overlong line): these are counted
 * while they come in a row, and max_errors of them end the session.
 */
static int
txn_bad(struct txn *t, const char *text)
{
	t->bad_run++;
	return txn_reply(t, "-ERR %s", text);
}

/* ---- message streaming -------------------------------------------------- */

/* A line ended (its LF was sent): track the header and TOP's count. */
static void
txn_xfer_eol(struct txn_xfer *x)
{
	if (!x->in_body) {
		/* the empty line ("\n", "\r\n" or "\r" in the file) */
		if (x->bol) {
			x->in_body = 1;
			if (x->top && x->lines == 0)
				x->done = 1;
		}
	} else if (x->top && --x->lines == 0)
		x->done = 1;
	x->bol = 1;
}

/*
 * Append file bytes p[0..n) to the output as they go on the wire: every
 * line end becomes CRLF, a line starting with '.' gets one more (RFC
 * 1939 3).  A line end in the file is LF, CR LF, or a CR alone: a bare
 * CR never goes out, since a lenient client that took it for a line end
 * could read "text<CR>.<CRLF>" as the end of the message and what
 * follows as our next replies (the smuggling kurir-remote prevents the
 * same way).  maildrop.c sizes messages by the same rule.  x->sent
 * counts the octets as maildrop sized them (without stuffing).  Stops
 * early once TOP has sent its lines.
 */
static int
txn_convert(struct txn *t, struct txn_xfer *x, const char *p, size_t n)
{
	char *o;
	size_t seg;

	if (buf_reserve(&t->out, 2 * n + 2) == -1) {
		log_warn("user=%s: message buffer", t->user);
		return txn_finish(t, TXN_DROPPED, "dropped");
	}
	o = t->out.data + t->out.len;
	while (n > 0 && !x->done) {
		if (x->cr) {
			x->cr = 0;
			if (p[0] == '\n') {	/* CR LF: the CR ended it */
				p++;
				n--;
				continue;
			}
		}
		for (seg = 0; seg < n && p[seg] != '\n' && p[seg] != '\r'; seg++)
			;
		if (seg > 0) {
			if (x->bol && p[0] == '.')
				*o++ = '.';
			memcpy(o, p, seg);
			o += seg;
			x->sent += seg;
			x->bol = 0;
			p += seg;
			n -= seg;
		}
		if (n > 0) {
			x->cr = p[0] == '\r';
			*o++ = '\r';
			*o++ = '\n';
			x->sent += 2;
			p++;
			n--;
			txn_xfer_eol(x);
		}
	}
	t->out.len = (size_t)(o - t->out.data);
	return 0;
}

/*
 * Stream an open message through the conversion, then the last line's
 * CRLF if the file has none and the terminating ".".  0, or -1 with the
 * session ended (a read error after "+OK" leaves no way to recover the
 * reply, so the connection is dropped).
 */
static int
txn_stream(struct txn *t, int fd, struct txn_xfer *x)
{
	ssize_t r;

	while (!x->done) {
		if ((r = read(fd, t->file, sizeof(t->file))) == -1) {
			if (errno == EINTR)
				continue;
			log_warn("user=%s: reading a message", t->user);
			return txn_finish(t, TXN_DROPPED, "dropped");
		}
		if (r == 0)
			break;
		if (txn_convert(t, x, t->file, (size_t)r) == -1 ||
		    txn_out_check(t) == -1)
			return -1;
	}
	if (!x->bol) {
		if (buf_add(&t->out, "\r\n", 2) == -1) {
			log_warn("user=%s: message buffer", t->user);
			return txn_finish(t, TXN_DROPPED, "dropped");
		}
		x->sent += 2;
	}
	return txn_reply(t, ".");
}

/* ---- commands ----------------------------------------------------------- */

/* Message num (1-based) if listed and not deleted, else NULL. */
static struct mdmsg *
txn_msg(struct txn *t, unsigned long num)
{
	if (num == 0 || num > t->md.n || t->md.msgs[num - 1].deleted)
		return NULL;
	return &t->md.msgs[num - 1];
}

/*
 * RETR or TOP of a message whose file did not open (errno says why):
 * -ERR, not counted as a client error, the server's state is to blame.
 */
static int
txn_open_failed(struct txn *t, unsigned long num)
{
	if (errno == ENOENT)	/* another client or a MUA took it meanwhile */
		return txn_reply(t, "-ERR [SYS/TEMP] message %lu vanished",
		    num);
	log_warn("user=%s: message %lu", t->user, num);
	return txn_reply(t, "-ERR [SYS/TEMP] cannot read message %lu", num);
}

/* RETR n and TOP n lines: the same stream, TOP cut and not marked seen. */
static int
txn_cmd_send(struct txn *t, const struct pop3_req *req, int top)
{
	struct txn_xfer x;
	struct mdmsg *m;
	int fd, r;

	if ((m = txn_msg(t, req->num[0])) == NULL)
		return txn_err(t, "no such message");
	if ((fd = maildrop_open_msg(&t->md, req->num[0] - 1)) == -1)
		return txn_open_failed(t, req->num[0]);
	memset(&x, 0, sizeof(x));
	x.bol = 1;
	x.top = top;
	x.lines = top ? req->num[1] : 0;
	if (top)
		r = txn_reply(t, "+OK top of message follows");
	else
		r = txn_reply(t, "+OK %llu octets", m->size);
	if (r == 0)
		r = txn_stream(t, fd, &x);
	close(fd);
	if (r == -1)
		return -1;
	if (top) {
		t->n_top++;
		return 0;
	}
	/* Maildir files do not change; if one did, say so, sizes lied */
	if (x.sent != m->size)
		log_warnx("user=%s: message %lu sent as %llu octets, listed "
		    "as %llu", t->user, req->num[0], x.sent, m->size);
	m->seen = 1;
	t->n_retr++;
	t->retr_octets += m->size;
	return 0;
}

/* LIST [n] and UIDL [n]: one line, or every undeleted message. */
static int
txn_cmd_list(struct txn *t, const struct pop3_req *req, int uidl)
{
	const struct mdmsg *m;
	size_t i;
	int r;

	if (req->nnums == 1) {
		if ((m = txn_msg(t, req->num[0])) == NULL)
			return txn_err(t, "no such message");
		if (uidl)
			return txn_reply(t, "+OK %lu %s", req->num[0], m->uid);
		return txn_reply(t, "+OK %lu %llu", req->num[0], m->size);
	}
	if (txn_reply(t, "+OK %s listing follows",
	    uidl ? "unique-id" : "scan") == -1)
		return -1;
	for (i = 0; i < t->md.n; i++) {
		m = &t->md.msgs[i];
		if (m->deleted)
			continue;
		if (uidl)
			r = txn_reply(t, "%zu %s", i + 1, m->uid);
		else
			r = txn_reply(t, "%zu %llu", i + 1, m->size);
		if (r == -1)
			return -1;
	}
	return txn_reply(t, ".");
}

static int
txn_cmd_dele(struct txn *t, unsigned long num)
{
	struct mdmsg *m;

	if (num == 0 || num > t->md.n)
		return txn_err(t, "no such message");
	m = &t->md.msgs[num - 1];
	if (m->deleted)
		return txn_err(t, "message %lu already deleted", num);
	m->deleted = 1;
	t->n_dele++;
	return txn_reply(t, "+OK message %lu deleted", num);
}

/* STAT, or (longer) the login answer and RSET: undeleted count, octets. */
static int
txn_cmd_stat(struct txn *t, int verbose)
{
	size_t n;
	unsigned long long octets;

	maildrop_stat(&t->md, &n, &octets);
	if (!verbose)
		return txn_reply(t, "+OK %zu %llu", n, octets);
	return txn_reply(t, "+OK maildrop has %zu messages (%llu octets)",
	    n, octets);
}

static int
txn_cmd_capa(struct txn *t)
{
	/*
	 * RFC 2449 5: what the AUTHORIZATION state offered is announced in
	 * both states.  The client logged in, so USER and SASL PLAIN were
	 * offered to it; STLS, if it was, is of no use any more.
	 */
	static const char *const capa[] = {
		"+OK Capability list follows", "TOP", "UIDL", "RESP-CODES",
		"AUTH-RESP-CODE", "PIPELINING", "USER", "SASL PLAIN",
		"IMPLEMENTATION kurir", ".",
	};
	size_t i;

	for (i = 0; i < sizeof(capa) / sizeof(capa[0]); i++)
		if (txn_reply(t, "%s", capa[i]) == -1)
			return -1;
	return 0;
}

/* QUIT: the UPDATE state.  Always ends the session (-1). */
static int
txn_cmd_quit(struct txn *t)
{
	char err[ERR_LEN];
	size_t n;
	unsigned long long octets;

	maildrop_stat(&t->md, &n, &octets);
	if (maildrop_commit(&t->md, err, sizeof(err)) == -1) {
		log_warnx("user=%s: update: %s", t->user, err);
		txn_finish(t, TXN_UPDATE_FAILED, "update-failed");
		(void)txn_reply(t, "-ERR [SYS/TEMP] Some deleted messages "
		    "not removed");
		return -1;
	}
	t->n_deleted = t->md.n - n;
	txn_finish(t, TXN_QUIT, "quit");
	(void)txn_reply(t, "+OK kurir POP3 server signing off (%zu messages "
	    "left)", n);
	return -1;
}

/* Parse and answer one command line: 0, or -1 when the session ended. */
static int
txn_command(struct txn *t, char *line, size_t len)
{
	struct pop3_req req;
	const char *err;

	if (pop3_parse(line, len, &req, &err) == -1)
		return pop3_err_is_bad_command(err) ? txn_bad(t, err) :
		    txn_err(t, "%s", err);
	if (!pop3_allowed(P3_TRANSACTION, req.cmd))
		return txn_bad(t, "Command not valid in this state");
	t->bad_run = 0;
	switch (req.cmd) {
	case P3_STAT:
		return txn_cmd_stat(t, 0);
	case P3_LIST:
		return txn_cmd_list(t, &req, 0);
	case P3_UIDL:
		return txn_cmd_list(t, &req, 1);
	case P3_RETR:
		return txn_cmd_send(t, &req, 0);
	case P3_TOP:
		return txn_cmd_send(t, &req, 1);
	case P3_DELE:
		return txn_cmd_dele(t, req.num[0]);
	case P3_NOOP:
		return txn_reply(t, "+OK");
	case P3_RSET:
		maildrop_reset(&t->md);
		return txn_cmd_stat(t, 1);
	case P3_CAPA:
		return txn_cmd_capa(t);
	case P3_QUIT:
		return txn_cmd_quit(t);
	default:	/* pop3_allowed let through no other */
		return txn_bad(t, "Command not valid in this state");
	}
}

/* ---- input lines -------------------------------------------------------- */

/* Drop n bytes from the front of the input, wiping them (PASS lines). */
static void
txn_consume(struct txn *t, size_t n)
{
	explicit_bzero(t->in + t->in_off, n);
	t->in_off += n;
	t->in_len -= n;
	if (t->in_len == 0)
		t->in_off = 0;
}

/*
 * Take the next complete command line out of the input into line (its
 * CRLF or LF stripped): LINE_OK, LINE_NONE when none is complete yet,
 * LINE_LONG when one runs past POP3_LINE_MAX (the rest of it, up to its
 * LF, is skipped as it comes in).
 */
static int
txn_next_line(struct txn *t, char *line, size_t *len)
{
	enum linecut r;
	size_t used;

	txn_consume(t, linecut_skip(t->in + t->in_off, t->in_len,
	    &t->discard));
	if (t->discard)
		return LINE_NONE;
	r = linecut_next(t->in + t->in_off, t->in_len, POP3_LINE_MAX,
	    &t->discard, len, &used);
	if (r == LINECUT_MORE)
		return LINE_NONE;
	if (r == LINECUT_LINE)
		memcpy(line, t->in + t->in_off, *len);	/* < POP3_LINE_MAX */
	txn_consume(t, used);
	return r == LINECUT_LINE ? LINE_OK : LINE_LONG;
}

/* Answer every complete line in the input: 0, or -1 when the session ended. */
static int
txn_lines(struct txn *t)
{
	char line[POP3_LINE_MAX];
	size_t len = 0;
	int r;

	while ((r = txn_next_line(t, line, &len)) != LINE_NONE) {
		if (r == LINE_LONG)
			r = txn_bad(t, "line too long");
		else
			r = txn_command(t, line, len);
		explicit_bzero(line, sizeof(line));
		if (r == -1)
			return -1;
		if (t->lim->max_errors > 0 && t->bad_run >= t->lim->max_errors) {
			txn_finish(t, TXN_ERRORS, "errors");
			(void)txn_reply(t, "-ERR Too many errors, closing");
			return -1;
		}
	}
	return 0;
}

/* ---- the session -------------------------------------------------------- */

/* Open the maildrop and queue the answer to the login: 0 or -1 (ended). */
static int
txn_start(struct txn *t, int maildir_fd)
{
	char err[ERR_LEN];
	int r;

	r = maildrop_open(&t->md, maildir_fd, err, sizeof(err));
	if (r == 1) {
		txn_finish(t, TXN_IN_USE, "in-use");
		(void)txn_reply(t, "-ERR [IN-USE] Maildrop is locked by "
		    "another session");
		return -1;
	}
	if (r == -1) {
		log_warnx("user=%s: maildrop: %s", t->user, err);
		txn_finish(t, TXN_OPEN_FAILED, "open-failed");
		(void)txn_reply(t, "-ERR [SYS/TEMP] Cannot open the maildrop");
		return -1;
	}
	return txn_cmd_stat(t, 1);
}

/* Commands until the session ends (t->done set on return). */
static void
txn_loop(struct txn *t)
{
	int rev;

	size_t held;

	t->deadline = txn_deadline(t);
	for (;;) {
		/* replies go out only when no complete command is left */
		if (txn_lines(t) == -1)
			return;
		held = t->in_len;
		if (txn_flush(t) == -1)
			return;
		/*
		 * Commands pipelined while the replies were going out were
		 * read by txn_flush: answer them before waiting for more,
		 * which may never come (the client waits for these answers).
		 */
		if (t->in_len != held)
			continue;
		if (t->eof) {
			txn_finish(t, TXN_DROPPED, "dropped");
			return;
		}
		/* partial input leaves t->deadline as it was */
		if ((rev = txn_poll(t, POLLIN, t->deadline)) == 0) {
			/* RFC 1939 3: close without a response */
			txn_finish(t, TXN_DROPPED, "timeout");
			return;
		}
		if (rev == -1 || (rev & (POLLERR | POLLNVAL)) ||
		    txn_read(t) == -1) {
			txn_finish(t, TXN_DROPPED, "dropped");
			return;
		}
	}
}

static int
txn_nonblock(int fd)
{
	int fl;

	if ((fl = fcntl(fd, F_GETFL)) == -1)
		return -1;
	return fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static void
txn_log(const struct txn *t)
{
	log_info("user=%s retr=%lu top=%lu dele=%lu deleted=%lu size=%llu "
	    "end=%s", t->user, t->n_retr, t->n_top, t->n_dele, t->n_deleted,
	    t->retr_octets, t->why);
}

enum txn_end
txn_serve(int fd, int maildir_fd, const char *user,
    const struct txn_limits *lim)
{
	static const char nomem[] = "-ERR [SYS/TEMP] Cannot open the maildrop\r\n";
	struct txn *t;
	enum txn_end end;

	if ((t = calloc(1, sizeof(*t))) == NULL) {
		log_warn("user=%s: session", user);
		/* best effort: the session fails either way */
		(void)send(fd, nomem, sizeof(nomem) - 1, MSG_NOSIGNAL);
		log_info("user=%s retr=0 top=0 dele=0 deleted=0 size=0 "
		    "end=open-failed", user);
		return TXN_OPEN_FAILED;
	}
	t->fd = fd;
	t->user = user;
	t->lim = lim;
	t->md.dirfd = t->md.lockfd = -1;	/* maildrop_close is safe */
	buf_init(&t->out, OUT_MAX);
	if (lim->prelen > 0) {
		/* what the client pipelined before the session existed */
		t->in_len = lim->prelen < sizeof(t->in) ? lim->prelen :
		    sizeof(t->in);
		memcpy(t->in, lim->pre, t->in_len);
	}
	if (txn_nonblock(fd) == -1) {
		log_warn("user=%s: O_NONBLOCK", user);
		txn_finish(t, TXN_DROPPED, "dropped");
	} else if (txn_start(t, maildir_fd) == 0)
		txn_loop(t);
	/* the last replies (QUIT, errors, in-use); a drop or timeout gets none */
	if (t->end != TXN_DROPPED)
		(void)txn_flush(t);
	txn_log(t);
	maildrop_close(&t->md);
	buf_free(&t->out);
	end = t->end;
	free(t);
	return end;
}
