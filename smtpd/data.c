/*
 * data.c - message text: DATA and BDAT decoding, streaming to kurir-queue,
 * and the commit that must succeed before we say 250.
 *
 * Runs as the smtpd user, chrooted and sandboxed.  The DATA decoder is
 * strict where SMTP smuggling lives: only <CRLF>.<CRLF> ends a message;
 * a bare CR or a bare LF anywhere (so "<LF>.<LF>", "<CR>.<CR>" and
 * "<LF>.<CRLF>" too) never ends it and makes the whole message refused
 * at its real end, so no second message can be hidden inside one.
 * Dot-stuffing is undone exactly (RFC 5321 4.5.2).  Stored text uses LF
 * line ends.  Text lines over 1000 octets and NUL bytes are refused too;
 * the message size limit applies to the decoded bytes.
 */
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "qproto.h"
#include "smtpd.h"

static uint32_t next_txn;

static void
data_flag(struct session *s, enum msg_error e)
{
	if (s->msg_error != ME_NONE)
		return;
	s->msg_error = e;
	buf_reset(&s->chunk);
	/* nothing more will be stored: release the queue's temp file now */
	data_abort(s);
}

static void
data_ship(struct session *s)
{
	if (s->chunk.len == 0 || s->msg_error != ME_NONE)
		return;
	if (peer_send(&S.queue, QP_DATA, s->qtxn, s->chunk.data,
	    s->chunk.len) == -1)
		data_flag(s, ME_QUEUE);
	buf_reset(&s->chunk);
}

static void
data_emit(struct session *s, const char *p, size_t n)
{
	if (s->msg_error != ME_NONE || n == 0)
		return;
	if (n > S.conf.message_size_limit ||
	    s->msg_bytes > S.conf.message_size_limit - n) {
		data_flag(s, ME_TOO_BIG);
		return;
	}
	s->msg_bytes += n;
	while (n > 0) {
		size_t room = SMTP_CHUNK - s->chunk.len;
		size_t take = n < room ? n : room;

		buf_add(&s->chunk, p, take);
		p += take;
		n -= take;
		if (s->chunk.len == SMTP_CHUNK)
			data_ship(s);
	}
}

/* how many bytes from p are ordinary text (not CR, LF or NUL) */
static size_t
text_span(const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] == '\r' || p[i] == '\n' || p[i] == '\0')
			break;
	return i;
}

static void
line_grow(struct session *s, size_t k)
{
	s->line_len += k;
	/* 998 characters plus CRLF make the 1000-octet limit */
	if (s->line_len > SMTP_TEXT_LINE_MAX - 2)
		data_flag(s, ME_LONG_LINE);
}

/* DATA: consume what can be decided now; returns the bytes used. */
size_t
data_consume(struct session *s, const char *p, size_t n)
{
	size_t i = 0, k;

	while (i < n) {
		if (s->line_start) {
			if (p[i] == '.') {
				if (n - i < 2 || (p[i + 1] == '\r' && n - i < 3))
					break;	/* cannot tell yet */
				if (p[i + 1] == '\r' && p[i + 2] == '\n') {
					i += 3;
					data_end(s);
					return i;
				}
				i++;		/* a stuffed dot: drop it */
				line_grow(s, 1);
			}
			s->line_start = 0;
		}
		k = text_span(p + i, n - i);
		data_emit(s, p + i, k);
		line_grow(s, k);
		i += k;
		if (i == n)
			break;
		if (p[i] == '\r') {
			if (i + 1 == n)
				break;		/* CR LF split across reads */
			if (p[i + 1] == '\n') {
				data_emit(s, "\n", 1);
				i += 2;
				s->line_start = 1;
				s->line_len = 0;
				continue;
			}
			data_flag(s, ME_BARE_EOL);	/* bare CR */
		} else if (p[i] == '\n')
			data_flag(s, ME_BARE_EOL);	/* bare LF: never a line end */
		else
			data_flag(s, ME_NUL);
		i++;
		line_grow(s, 1);
	}
	return i;
}

/* BDAT: exactly bdat_left bytes, CRLF -> LF, no dot handling. */
size_t
bdat_consume(struct session *s, const char *p, size_t n)
{
	size_t take = n < s->bdat_left ? n : (size_t)s->bdat_left;
	size_t i = 0, k;

	while (i < take) {
		if (s->cr_pending) {
			s->cr_pending = 0;
			if (p[i] == '\n') {
				data_emit(s, "\n", 1);
				s->line_len = 0;
				i++;
				continue;
			}
			data_flag(s, ME_BARE_EOL);
		}
		k = text_span(p + i, take - i);
		data_emit(s, p + i, k);
		line_grow(s, k);
		i += k;
		if (i == take)
			break;
		if (p[i] == '\r')
			s->cr_pending = 1;	/* decided by the next byte */
		else
			data_flag(s, p[i] == '\n' ? ME_BARE_EOL : ME_NUL);
		i++;
	}
	s->bdat_left -= take;
	if (s->bdat_left == 0) {
		if (s->bdat_last) {
			if (s->cr_pending)
				data_flag(s, ME_BARE_EOL);
			data_end(s);
		} else {
			s->state = S_CMD;
			session_reply(s, "250 2.0.0 %llu octets received",
			    (unsigned long long)s->bdat_size);
		}
	}
	return take;
}

/* RFC 3848 / RFC 6531 protocol names for the Received field */
static const char *
proto_name(const struct session *s)
{
	static const char *names[] = { "ESMTP", "ESMTPA", "ESMTPS", "ESMTPSA",
	    "UTF8SMTP", "UTF8SMTPA", "UTF8SMTPS", "UTF8SMTPSA" };

	if (!s->esmtp)
		return "SMTP";
	return names[(s->auth_user[0] != '\0') + 2 * (s->tls != NULL) +
	    4 * s->smtputf8];
}

/* Open the transaction at kurir-queue: envelope and client info. */
int
data_begin(struct session *s)
{
	struct buf info;
	size_t i;
	int r;

	if (!peer_up(&S.queue))
		return -1;
	if (++next_txn == 0)
		next_txn = 1;
	s->qtxn = next_txn;
	s->msg_bytes = 0;
	s->msg_error = ME_NONE;
	r = peer_send(&S.queue, QP_MAIL, s->qtxn, s->sender, strlen(s->sender));
	for (i = 0; r == 0 && i < s->nrcpts; i++)
		r = peer_send(&S.queue, QP_RCPT, s->qtxn, s->rcpts[i],
		    strlen(s->rcpts[i]));
	/* what kurir-queue needs to write the Received field */
	buf_init(&info, 4096);
	buf_printf(&info, "helo=%s\naddr=%s\nproto=%s\n", s->helo, s->ip,
	    proto_name(s));
	if (s->tls)
		buf_printf(&info, "tls=%s %s\n", tls_conn_version(s->tls),
		    tls_conn_cipher(s->tls));
	if (s->auth_user[0] != '\0')
		buf_printf(&info, "auth=%s\n", s->auth_user);
	if (r == 0)
		r = peer_send(&S.queue, QP_CLIENT, s->qtxn, info.data, info.len);
	buf_free(&info);
	if (r == -1) {
		s->qtxn = 0;
		return -1;
	}
	return 0;
}

void
data_abort(struct session *s)
{
	if (s->qtxn == 0)
		return;
	peer_send(&S.queue, QP_ABORT, s->qtxn, NULL, 0);
	s->qtxn = 0;
}

/* The end of the message: refuse it, or commit and wait for the queue. */
void
data_end(struct session *s)
{
	enum msg_error e;

	data_ship(s);
	s->state = S_CMD;
	if ((e = s->msg_error) == ME_NONE &&
	    peer_send(&S.queue, QP_COMMIT, s->qtxn, NULL, 0) == 0) {
		s->awaiting = 1;
		return;
	}
	if (e == ME_NONE)
		e = ME_QUEUE;
	switch (e) {
	case ME_TOO_BIG:
		session_error(s, "552 5.3.4 Error: message too large "
		    "(limit %llu bytes)",
		    (unsigned long long)S.conf.message_size_limit);
		break;
	case ME_BARE_EOL:
		log_warnx("[%s] message with bare CR or LF refused", s->ip);
		session_error(s, "550 5.6.0 Error: bare CR or LF in message "
		    "text (lines must end in CRLF)");
		break;
	case ME_NUL:
		session_error(s, "550 5.6.0 Error: NUL byte in message text");
		break;
	case ME_LONG_LINE:
		session_error(s, "550 5.6.0 Error: text line longer than %d "
		    "octets", SMTP_TEXT_LINE_MAX);
		break;
	default:
		session_reply(s, "451 4.3.0 Error: queue unavailable, try later");
		break;
	}
	session_reset_txn(s);
}

static struct session *
session_by_txn(uint32_t txn)
{
	struct session *s;

	TAILQ_FOREACH(s, &S.sessions, entry)
		if (s->qtxn == txn)
			return s;
	return NULL;
}

/* kurir-queue answered a commit (type 0: the link went down). */
void
peer_queue_reply(uint16_t type, uint32_t id, const char *data, size_t len)
{
	struct session *s = session_by_txn(id);
	int n = len > 200 ? 200 : (int)len;

	if (s == NULL)
		return;
	s->qtxn = 0;		/* the transaction is over at the queue */
	if (!s->awaiting) {
		/* an answer before the commit: the rest can only fail */
		if (s->msg_error == ME_NONE)
			s->msg_error = ME_QUEUE;
		return;
	}
	if (type == QP_OK) {
		log_info("%.*s: client=[%s], from=<%s>, nrcpt=%zu, size=%llu",
		    n, data, s->ip, s->sender, s->nrcpts,
		    (unsigned long long)s->msg_bytes);
		session_reply(s, "250 2.0.0 Ok: queued as %.*s", n, data);
	} else if (type == QP_PERMFAIL)
		session_reply(s, "%s %.*s", len >= 5 &&
		    memcmp(data, "5.3.4", 5) == 0 ? "552" : "554", n, data);
	else if (type == QP_TEMPFAIL)
		session_reply(s, "451 %.*s", n, data);
	else
		session_reply(s, "451 4.3.0 Error: queue link lost, try later");
	session_reset_txn(s);
	session_resume(s);
}
