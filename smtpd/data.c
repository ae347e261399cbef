/*
 * data.c - message text: DATA and BDAT decoding, streaming to kurir-queue,
 * and the commit that must succeed before we say 250.
 *
 * Runs as the smtpd user, chrooted and sandboxed.  The decoding itself
 * (where SMTP smuggling lives) is textdec.c; here the decoded text is
 * counted against message_size_limit, batched into QP_DATA frames, and
 * committed.  A refused message is refused at its real end, after its
 * queue transaction was already abandoned.
 */
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "qproto.h"
#include "smtpd.h"

static uint32_t next_txn;

/* After the decoder or we found a reason to refuse: stop storing. */
static void
data_check(struct session *s)
{
	if (s->dec.error == ME_NONE || s->qtxn == 0)
		return;
	buf_reset(&s->chunk);
	/* nothing more will be stored: release the queue's temp file now */
	data_abort(s);
}

static void
data_ship(struct session *s)
{
	if (s->chunk.len == 0 || s->dec.error != ME_NONE)
		return;
	if (peer_send(&S.queue, QP_DATA, s->qtxn, s->chunk.data,
	    s->chunk.len) == -1)
		textdec_flag(&s->dec, ME_QUEUE);
	buf_reset(&s->chunk);
}

/* textdec's output: count against the size limit, batch into frames */
static void
data_emit(void *arg, const char *p, size_t n)
{
	struct session *s = arg;

	if (n > S.conf.message_size_limit ||
	    s->msg_bytes > S.conf.message_size_limit - n) {
		textdec_flag(&s->dec, ME_TOO_BIG);
		return;
	}
	s->msg_bytes += n;
	/*
	 * Hops are counted as the header passes (a field may be cut
	 * anywhere by the reads; hops.c keeps a few bytes of state), and a
	 * message over the limit stops here: nothing more of it is stored.
	 */
	if (!hops_header_done(&s->hops)) {
		hops_add(&s->hops, p, n);
		if (hops_count(&s->hops) > S.conf.max_hop_count) {
			textdec_flag(&s->dec, ME_HOPS);
			return;
		}
	}
	while (n > 0 && s->dec.error == ME_NONE) {
		size_t room = SMTP_CHUNK - s->chunk.len;
		size_t take = n < room ? n : room;

		buf_add(&s->chunk, p, take);
		p += take;
		n -= take;
		if (s->chunk.len == SMTP_CHUNK)
			data_ship(s);
	}
}

/* DATA: consume what can be decided now; returns the bytes used. */
size_t
data_consume(struct session *s, const char *p, size_t n)
{
	int done;
	size_t used = textdec_data(&s->dec, p, n, data_emit, s, &done);

	data_check(s);
	if (done)
		data_end(s);
	return used;
}


/* BDAT: the chunk's bytes, exactly bdat_left of them. */
size_t
bdat_consume(struct session *s, const char *p, size_t n)
{
	size_t take = n < s->bdat_left ? n : (size_t)s->bdat_left;

	textdec_bdat(&s->dec, p, take, data_emit, s);
	data_check(s);
	s->bdat_left -= take;
	if (s->bdat_left == 0) {
		if (s->bdat_last) {
			textdec_bdat_end(&s->dec);
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
	textdec_init(&s->dec, S.conf.smtp_line_length_limit);
	hops_init(&s->hops);
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
	/* once committed it is the queue's: never abort it, just forget it */
	if (s->awaiting != AWAIT_COMMIT)
		peer_queue_abort(s->qtxn);
	s->qtxn = 0;
}

/* The end of the message: refuse it, or commit and wait for the queue. */
void
data_end(struct session *s)
{
	enum msg_error e;

	data_ship(s);
	s->state = S_CMD;
	if ((e = s->dec.error) == ME_NONE &&
	    peer_send(&S.queue, QP_COMMIT, s->qtxn, NULL, 0) == 0) {
		session_await(s, AWAIT_COMMIT);
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
	case ME_HOPS:
		/* a loop, or a forged trace: the sender's server bounces it */
		log_warnx("[%s] from=<%s>: refused: more than %u hops "
		    "(max_hop_count)", s->ip, s->sender, S.conf.max_hop_count);
		session_error(s, "554 5.4.6 Too many hops");
		break;
	case ME_NUL:
		session_error(s, "550 5.6.0 Error: NUL byte in message text");
		break;
	case ME_LONG_LINE:
		session_error(s, "550 5.6.0 Error: text line longer than %zu "
		    "octets plus CRLF", s->dec.line_max);
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
	if (s->awaiting != AWAIT_COMMIT) {
		/* an answer before the commit: the rest can only fail */
		textdec_flag(&s->dec, ME_QUEUE);
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
		/* "insufficient system storage" is 452 (RFC 5321 4.2.3) */
		session_reply(s, "%s %.*s", n >= 5 && memcmp(data, "4.3.1",
		    5) == 0 ? "452" : "451", n, data);
	else
		session_reply(s, "451 4.3.0 Error: queue link lost, try later");
	session_reset_txn(s);
	session_resume(s);
}
