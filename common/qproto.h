/*
 * qproto.h - frame types of the queue submission protocol (kurir-queue).
 *
 * A client opens a transaction with QP_MAIL (its frame id is the
 * transaction number, chosen by the client), adds QP_RCPT frames, an
 * optional QP_CLIENT (honoured only on trusted links from kurird, i.e.
 * kurir-smtpd; on the local socket kurir-queue records the peer's uid
 * instead), the message as QP_DATA frames (LF line ends, <= FRAME_MAX
 * each), then QP_COMMIT or QP_ABORT.  kurir-queue answers the commit with
 * QP_OK (payload: queue id) only after the entry is durable, or with
 * QP_TEMPFAIL / QP_PERMFAIL (payload: "4.3.0 reason" / "5.3.4 reason",
 * an enhanced status code and text fit for an SMTP reply).
 *
 * The link kurird makes between kurir-queue and kurir-send (QP_SENDLINK
 * on kurir-queue's control channel) is trusted too, and carries two more
 * things: after every durable commit kurir-queue sends QP_NEWENTRY
 * (id 0, payload: the queue id), so new mail is delivered at once; and
 * kurir-send submits its bounces on it, with QP_CLIENT "origin=bounce"
 * or "origin=notice" (a postmaster notice about an undeliverable bounce),
 * recorded as the envelope's client "kurir-send bounce" / "kurir-send
 * notice" so that a failed notice is never answered by another.
 */
#ifndef KURIR_QPROTO_H
#define KURIR_QPROTO_H

enum qproto_type {
	QP_MAIL = 1,
	QP_RCPT,
	QP_CLIENT,
	QP_DATA,
	QP_COMMIT,
	QP_ABORT,
	QP_OK = 10,
	QP_TEMPFAIL,
	QP_PERMFAIL,
	QP_NEWENTRY,
	/* kurird -> kurir-queue control channel: a trusted link's fd */
	QP_NEWLINK = 20,
	QP_SENDLINK,		/* the link to kurir-send */
};

#define QP_CLIENT_BOUNCE	"kurir-send bounce"
#define QP_CLIENT_NOTICE	"kurir-send notice"

#define QP_SOCKET_NAME	"queue"		/* <state_dir>/sock/queue */

/*
 * Transactions kurir-queue keeps open on one trusted link (kurir-smtpd,
 * kurir-send) at once; one more is a protocol violation that closes the
 * link, and with it every session's transaction.  kurir-smtpd has at
 * most one open per session (a committed one no longer counts, an
 * aborted one is gone before a later session's QP_MAIL arrives), so
 * conf.c refuses an smtp_max_sessions above this: a fixed bound on what
 * a compromised kurir-smtpd can make the queue hold, which no config
 * and no reload order can push past.
 */
#define QP_TRUSTED_TXN_MAX	4096

#endif
