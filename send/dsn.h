/*
 * dsn.h - RFC 3464 delivery status notifications (bounces, delay
 * warnings, postmaster notices) composed in memory.
 *
 * Part of kurir-send (queue user, no network).  Pure: the caller hands
 * in everything (addresses, diagnostics, times, the original header)
 * and gets a complete message with LF line ends, ready to be queued
 * with a null envelope sender.  Nothing is read from disk or the clock;
 * only the MIME boundary and Message-ID take fresh randomness.
 *
 * The message is multipart/report (RFC 6522) with three parts: a short
 * us-ascii explanation, message/delivery-status, and text/rfc822-headers
 * holding the original header.  The third part is left out when there is
 * no original header (orig_hdr NULL or empty).
 */
#ifndef KURIR_DSN_H
#define KURIR_DSN_H

#include <stddef.h>

#include "buf.h"

#define DSN_HDR_MAX	(64 * 1024)	/* bytes of the original header returned */

enum dsn_kind {
	DSN_FAILED,	/* a bounce: these recipients failed for good */
	DSN_DELAYED,	/* a warning: still trying (Action: delayed) */
	DSN_NOTICE,	/* to postmaster: a bounce (null sender) could not be delivered */
};

struct dsn_rcpt {
	const char	*final;		/* Final-Recipient address (after aliases) */
	const char	*original;	/* the envelope recipient, or NULL if the same */
	const char	*status;	/* "5.1.1" (or 4.x.x for delayed); NULL: derive from diag, else 5.0.0/4.0.0 */
	const char	*diag;		/* diagnostic text, e.g. "5.1.1 no such user" or a remote reply "550 5.1.1 ..." */
	const char	*remote_mta;	/* host name of the remote server, or NULL (local delivery) */
	long long	 last_attempt;	/* unix seconds, 0: none */
};

/*
 * For DSN_NOTICE the report describes the bounce that failed: qid,
 * arrival and orig_hdr are the bounce's, rcpts its recipient (the sender
 * of the message it was about), and each block says "Action: failed".
 */
struct dsn {
	enum dsn_kind	 kind;
	const char	*hostname;	/* ours: Reporting-MTA, From MAILER-DAEMON@hostname, Message-ID domain */
	const char	*qid;		/* queue id of the original message */
	const char	*sender;	/* the original envelope sender (To: of the DSN); for DSN_NOTICE the postmaster address */
	long long	 arrival;	/* unix seconds, of the original (0: unknown, no Arrival-Date) */
	long long	 now;		/* unix seconds: Date and the report's times */
	long long	 retry_until;	/* DSN_DELAYED: Will-Retry-Until, 0 none */
	const struct dsn_rcpt *rcpts;
	size_t		 nrcpts;
	const char	*orig_hdr;	/* the original message's header (LF line ends, may be NULL) */
	size_t		 orig_hdr_len;
};

/* Append the complete DSN message (header + MIME body, LF line ends, no
 * envelope) to out.  0, or -1 (out of memory / nrcpts == 0).
 * On -1 (errno: ENOMEM, EMSGSIZE from out's cap, EINVAL for nrcpts == 0
 * or a NULL hostname, qid, sender, rcpts or final) out is left as it was. */
int	dsn_format(struct buf *out, const struct dsn *);
/* The enhanced status code at the start of text ("5.1.1 ..." or
 * "550 5.1.1 ..." or "550-5.1.1"), copied into code (size >= 12): 0, or -1
 * when there is none. Classes 2, 4, 5; subject and detail 1-3 digits. */
int	dsn_status(const char *text, char *code, size_t codelen);
/* Length of the header part of a message (up to and including the empty
 * line, or all of p if there is none), at most max bytes, cut at the end
 * of a whole line when it must be cut. */
size_t	dsn_header_len(const char *p, size_t len, size_t max);

#endif
